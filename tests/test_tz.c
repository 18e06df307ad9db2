/* Tests of tz: quiet hours parsed and applied in the recipient's local time (windows that
 * span midnight or not, half-open ends, half-hour and 45-minute offsets, the southern
 * hemisphere, daylight-saving nights in both directions, a 30-minute DST shift), the
 * refusals, and the zone and locale checks. Every instant is written in RFC 3339 (UTC) so
 * a reader can check it against the zone's rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tz.h"

/* "2026-03-08T12:00:00Z" or "…T07:59:59.999Z" → ms since the epoch. */
static int64_t ms(const char *rfc3339) {
	struct tm tm = {0};
	int frac = 0;
	char z = 0;
	int n = sscanf(rfc3339, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &tm.tm_year, &tm.tm_mon,
			&tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &frac, &z);
	if (n != 8) {
		frac = 0;
		n = sscanf(rfc3339, "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon,
				&tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &z);
		if (n != 7) {
			fail_msg("bad test instant %s", rfc3339);
		}
	}
	if (z != 'Z') {
		fail_msg("bad test instant %s", rfc3339);
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000 + frac;
}

static struct tz_quiet quiet(const char *text) {
	struct tz_quiet q;

	if (tz_quiet_parse(text, &q) != 0) {
		fail_msg("quiet hours %s refused", text);
	}
	return q;
}

struct case_ {
	const char *zone;
	const char *quiet;
	const char *due;
	const char *expect; /* == due: outside the quiet period, sent as it falls due */
	const char *why;
};

static void run_cases(const struct case_ *cases, size_t n) {
	for (size_t i = 0; i < n; i++) {
		const struct case_ *c = &cases[i];
		struct tz_quiet q = quiet(c->quiet);
		int64_t got = -1;
		int r = tz_not_before(c->zone, &q, ms(c->due), &got);
		if (r != 0 || got != ms(c->expect)) {
			fail_msg("%s %s due %s: r=%d, got %lld ms, expected %s (%lld ms): %s",
					c->zone, c->quiet, c->due, r, (long long)got, c->expect,
					(long long)ms(c->expect), c->why);
		}
	}
}

#define RUN(cases) run_cases(cases, sizeof(cases) / sizeof(cases[0]))

static void test_a_window_that_spans_midnight_ends_on_the_right_day(void **state) {
	(void)state;
	static const struct case_ cases[] = {
		{"UTC", "21:00-08:00", "2026-06-15T23:30:00Z", "2026-06-16T08:00:00Z",
			"evening part: the end is the next local day"},
		{"UTC", "21:00-08:00", "2026-06-16T03:00:00Z", "2026-06-16T08:00:00Z",
			"early-morning part: the end is the same day"},
		{"UTC", "21:00-08:00", "2026-12-31T22:00:00Z", "2027-01-01T08:00:00Z",
			"the next local day is in the next year"},
		{"UTC", "21:00-08:00", "2026-02-28T21:30:00Z", "2026-03-01T08:00:00Z",
			"the next local day is in the next month"},
		{"UTC", "21:00-08:00", "2026-06-15T12:00:00Z", "2026-06-15T12:00:00Z",
			"midday is outside"},
		{"America/Los_Angeles", "21:00-08:00", "2026-06-16T05:00:00Z",
			"2026-06-16T15:00:00Z",
			"22:00 PDT on the 15th (already the 16th in UTC) ends 08:00 PDT on the 16th"},
		{"America/Los_Angeles", "21:00-08:00", "2026-06-16T03:59:59.999Z",
			"2026-06-16T03:59:59.999Z", "20:59:59.999 PDT is before the start"},
	};
	RUN(cases);
}

static void test_a_window_within_one_day(void **state) {
	(void)state;
	static const struct case_ cases[] = {
		{"UTC", "12:00-13:00", "2026-06-15T12:30:00Z", "2026-06-15T13:00:00Z", "inside"},
		{"UTC", "12:00-13:00", "2026-06-15T11:59:59.999Z", "2026-06-15T11:59:59.999Z",
			"just before the start"},
		{"UTC", "12:00-13:00", "2026-06-15T23:00:00Z", "2026-06-15T23:00:00Z",
			"late evening is outside a midday window"},
		{"UTC", "12:00-13:00", "2026-06-15T00:30:00Z", "2026-06-15T00:30:00Z",
			"just after midnight is outside a midday window"},
		{"Europe/Paris", "12:00-13:00", "2026-06-15T10:30:00Z", "2026-06-15T11:00:00Z",
			"12:30 CEST (UTC+2) ends 13:00 CEST"},
	};
	RUN(cases);
}

static void test_the_start_is_inside_and_the_end_is_outside(void **state) {
	(void)state;
	static const struct case_ cases[] = {
		{"UTC", "21:00-08:00", "2026-06-15T21:00:00Z", "2026-06-16T08:00:00Z",
			"exactly the start"},
		{"UTC", "21:00-08:00", "2026-06-15T20:59:59.999Z", "2026-06-15T20:59:59.999Z",
			"a millisecond before the start"},
		{"UTC", "21:00-08:00", "2026-06-16T07:59:59.999Z", "2026-06-16T08:00:00Z",
			"a millisecond before the end"},
		{"UTC", "21:00-08:00", "2026-06-16T08:00:00Z", "2026-06-16T08:00:00Z",
			"exactly the end"},
		{"UTC", "12:00-13:00", "2026-06-15T12:00:00Z", "2026-06-15T13:00:00Z",
			"exactly the start"},
		{"UTC", "12:00-13:00", "2026-06-15T12:59:59.999Z", "2026-06-15T13:00:00Z",
			"a millisecond before the end"},
		{"UTC", "12:00-13:00", "2026-06-15T13:00:00Z", "2026-06-15T13:00:00Z",
			"exactly the end"},
	};
	RUN(cases);
}

static void test_half_hour_and_45_minute_offsets(void **state) {
	(void)state;
	static const struct case_ cases[] = {
		/* Asia/Kolkata: UTC+5:30 all year. */
		{"Asia/Kolkata", "21:00-08:00", "2026-06-15T15:30:00Z", "2026-06-16T02:30:00Z",
			"21:00 IST is the start; 08:00 IST next day"},
		{"Asia/Kolkata", "21:00-08:00", "2026-06-15T15:29:59.999Z",
			"2026-06-15T15:29:59.999Z", "20:59:59.999 IST"},
		{"Asia/Kolkata", "21:00-08:00", "2026-06-16T02:29:59.999Z", "2026-06-16T02:30:00Z",
			"07:59:59.999 IST"},
		{"Asia/Kolkata", "21:00-08:00", "2026-06-16T02:30:00Z", "2026-06-16T02:30:00Z",
			"08:00 IST is the end"},
		/* Asia/Kathmandu: UTC+5:45 all year. */
		{"Asia/Kathmandu", "21:00-08:00", "2026-06-15T15:15:00Z", "2026-06-16T02:15:00Z",
			"21:00 NPT is the start"},
		{"Asia/Kathmandu", "21:00-08:00", "2026-06-15T15:14:59.999Z",
			"2026-06-15T15:14:59.999Z", "20:59:59.999 NPT"},
		{"Asia/Kathmandu", "21:00-08:00", "2026-06-15T20:00:00Z", "2026-06-16T02:15:00Z",
			"01:45 NPT on the 16th ends 08:00 NPT that day"},
		{"Asia/Kathmandu", "21:00-08:00", "2026-06-16T02:15:00Z", "2026-06-16T02:15:00Z",
			"08:00 NPT is the end"},
	};
	RUN(cases);
}

/* America/New_York, Sunday 2026-03-08: 02:00 EST (UTC-5) becomes 03:00 EDT (UTC-4) at
 * 07:00Z; local 02:00-02:59 does not exist. */
static void test_a_spring_forward_night(void **state) {
	(void)state;
	static const struct case_ cases[] = {
		{"America/New_York", "21:00-08:00", "2026-03-08T04:00:00Z", "2026-03-08T12:00:00Z",
			"23:00 EST: the period spans the change and ends 08:00 EDT, not 13:00Z"},
		{"America/New_York", "21:00-08:00", "2026-03-08T07:30:00Z", "2026-03-08T12:00:00Z",
			"03:30 EDT, just after the change"},
		{"America/New_York", "21:00-08:00", "2026-03-07T04:00:00Z", "2026-03-07T13:00:00Z",
			"the night before, all EST: 08:00 EST is 13:00Z"},
		{"America/New_York", "21:00-02:30", "2026-03-08T03:00:00Z", "2026-03-08T07:00:00Z",
			"22:00 EST; 02:30 does not exist: the first valid instant after, 03:00 EDT"},
		{"America/New_York", "21:00-02:30", "2026-03-08T06:59:59.999Z",
			"2026-03-08T07:00:00Z", "01:59:59.999 EST, the last instant before the gap"},
		{"America/New_York", "21:00-02:30", "2026-03-08T07:00:00Z", "2026-03-08T07:00:00Z",
			"03:00 EDT is past the (skipped) end"},
		{"America/New_York", "02:30-06:00", "2026-03-08T07:00:00Z", "2026-03-08T10:00:00Z",
			"a start the clock skips: 03:00 EDT is inside, till 06:00 EDT"},
		{"America/New_York", "02:30-06:00", "2026-03-08T06:59:59.999Z",
			"2026-03-08T06:59:59.999Z", "01:59:59.999 EST is before that start"},
	};
	RUN(cases);
}

/* America/New_York, Sunday 2026-11-01: 02:00 EDT (UTC-4) becomes 01:00 EST (UTC-5) at
 * 06:00Z; local 01:00-01:59 happens twice (05:00-05:59Z, then 06:00-06:59Z). */
static void test_a_fall_back_night(void **state) {
	(void)state;
	static const struct case_ cases[] = {
		{"America/New_York", "21:00-08:00", "2026-11-01T02:00:00Z", "2026-11-01T13:00:00Z",
			"22:00 EDT: the period spans the change and ends 08:00 EST, not 12:00Z"},
		{"America/New_York", "21:00-01:30", "2026-11-01T02:00:00Z", "2026-11-01T05:30:00Z",
			"an end the clock shows twice: the first 01:30 (EDT), not 06:30Z"},
		{"America/New_York", "21:00-01:30", "2026-11-01T05:10:00Z", "2026-11-01T05:30:00Z",
			"01:10 EDT, the first time round"},
		{"America/New_York", "21:00-01:30", "2026-11-01T05:30:00Z", "2026-11-01T05:30:00Z",
			"the first 01:30 is the end"},
		{"America/New_York", "21:00-01:30", "2026-11-01T06:10:00Z", "2026-11-01T06:10:00Z",
			"01:10 EST, the second time round: that night's period is over"},
	};
	RUN(cases);
}

/* Australia/Sydney: AEDT (UTC+11) in the southern summer; on Sunday 2026-04-05 03:00 AEDT
 * becomes 02:00 AEST (UTC+10) at 2026-04-04T16:00Z, and on Sunday 2026-10-04 02:00 AEST
 * becomes 03:00 AEDT at 2026-10-03T16:00Z. */
static void test_the_southern_hemisphere(void **state) {
	(void)state;
	static const struct case_ cases[] = {
		{"Australia/Sydney", "21:00-08:00", "2026-01-15T12:00:00Z", "2026-01-15T21:00:00Z",
			"January is summer time: 08:00 AEDT"},
		{"Australia/Sydney", "21:00-08:00", "2026-07-15T12:00:00Z", "2026-07-15T22:00:00Z",
			"July is winter time: 08:00 AEST"},
		{"Australia/Sydney", "21:00-08:00", "2026-04-04T11:00:00Z", "2026-04-04T22:00:00Z",
			"22:00 AEDT on the night DST ends: 08:00 AEST"},
		{"Australia/Sydney", "21:00-08:00", "2026-10-03T12:00:00Z", "2026-10-03T21:00:00Z",
			"22:00 AEST on the night DST starts: 08:00 AEDT"},
		{"Australia/Sydney", "21:00-02:30", "2026-10-03T12:00:00Z", "2026-10-03T16:00:00Z",
			"02:30 does not exist that night: 03:00 AEDT"},
	};
	RUN(cases);
}

/* Australia/Lord_Howe: UTC+10:30, and a 30-minute DST shift to UTC+11. On Sunday
 * 2026-10-04 02:00 becomes 02:30 (at 2026-10-03T15:30Z); on Sunday 2026-04-05 02:00
 * becomes 01:30 (at 2026-04-04T15:00Z), so 01:30-01:59 happens twice. */
static void test_a_30_minute_dst_shift(void **state) {
	(void)state;
	static const struct case_ cases[] = {
		{"Australia/Lord_Howe", "21:00-08:00", "2026-10-03T11:00:00Z",
			"2026-10-03T21:00:00Z", "21:30 +10:30; ends 08:00 +11, not 21:30Z"},
		{"Australia/Lord_Howe", "21:00-02:15", "2026-10-03T11:00:00Z",
			"2026-10-03T15:30:00Z", "02:15 does not exist: 02:30 +11"},
		{"Australia/Lord_Howe", "21:00-08:00", "2026-04-04T11:00:00Z",
			"2026-04-04T21:30:00Z", "22:00 +11; ends 08:00 +10:30, not 21:00Z"},
		{"Australia/Lord_Howe", "21:00-01:45", "2026-04-04T11:00:00Z",
			"2026-04-04T14:45:00Z", "01:45 happens twice: the first (+11), not 15:15Z"},
		{"Australia/Lord_Howe", "21:00-01:45", "2026-04-04T15:05:00Z",
			"2026-04-04T15:05:00Z", "01:35 +10:30, the second time round: over"},
	};
	RUN(cases);
}

static void test_off_sends_at_once(void **state) {
	(void)state;
	struct tz_quiet q = quiet("off");
	int64_t got = 0;

	assert_int_equal(tz_not_before("Asia/Kolkata", &q, ms("2026-06-15T20:00:00Z"), &got), 0);
	assert_int_equal(got, ms("2026-06-15T20:00:00Z"));
}

static void test_quiet_hours_are_parsed(void **state) {
	(void)state;
	struct tz_quiet q;

	assert_int_equal(tz_quiet_parse("21:00-08:00", &q), 0);
	assert_false(q.off);
	assert_int_equal(q.start_min, 21 * 60);
	assert_int_equal(q.end_min, 8 * 60);
	assert_int_equal(tz_quiet_parse("00:00-23:59", &q), 0);
	assert_int_equal(q.start_min, 0);
	assert_int_equal(q.end_min, 23 * 60 + 59);
	assert_int_equal(tz_quiet_parse("12:30-13:45", &q), 0);
	assert_int_equal(q.start_min, 12 * 60 + 30);
	assert_int_equal(q.end_min, 13 * 60 + 45);
	assert_int_equal(tz_quiet_parse("off", &q), 0);
	assert_true(q.off);
}

static void test_bad_quiet_hours_are_refused_and_change_nothing(void **state) {
	(void)state;
	static const char *const bad[] = {
		"24:00-08:00",   /* no hour 24 */
		"21:00-24:00",
		"21:60-08:00",   /* no minute 60 */
		"9:00-08:00",    /* two digits each */
		"21:00-8:00",
		"21:00–08:00",   /* an en dash */
		"21:00 08:00",
		"21.00-08.00",
		"08:00-08:00",   /* start == end */
		"21:00-08:00 ",  /* nothing after */
		" 21:00-08:00",
		"21:00-08:00-09:00",
		"21:00",
		"OFF",
		"on",
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tz_quiet q = {.off = false, .start_min = 7, .end_min = 9};
		if (tz_quiet_parse(bad[i], &q) != -EINVAL || q.off || q.start_min != 7 ||
				q.end_min != 9) {
			fail_msg("\"%s\" was not refused cleanly", bad[i]);
		}
	}
	struct tz_quiet q;
	assert_int_equal(tz_quiet_parse(NULL, &q), -EINVAL);
}

static void test_an_unknown_zone_is_refused_and_changes_nothing(void **state) {
	(void)state;
	static const char *const bad[] = {"Mars/Olympus", "GMT+5", "Etc/Unknown", "", "UTC ",
		NULL};
	struct tz_quiet q = quiet("21:00-08:00");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t got = 42;
		int r = tz_not_before(bad[i], &q, ms("2026-06-15T23:00:00Z"), &got);
		if (r != -EINVAL || got != 42) {
			fail_msg("zone %s: r=%d, *ret=%lld", bad[i] ? bad[i] : "NULL", r,
					(long long)got);
		}
	}
}

static void test_quiet_hours_parse_would_refuse_are_refused(void **state) {
	(void)state;
	static const struct tz_quiet bad[] = {
		{.start_min = 480, .end_min = 480},
		{.start_min = -1, .end_min = 480},
		{.start_min = 1260, .end_min = 1440},
	};
	int64_t got = 42;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(tz_not_before("UTC", &bad[i], 0, &got), -EINVAL);
	}
	assert_int_equal(tz_not_before("UTC", NULL, 0, &got), -EINVAL);
	assert_int_equal(got, 42);
}

/* Many threads at once, each its own calendar: every answer right (ASan/TSan-clean). */
static void *spring_forward_many_times(void *arg) {
	const struct tz_quiet *q = arg;
	int64_t due = ms("2026-03-08T04:00:00Z");
	int64_t expect = ms("2026-03-08T12:00:00Z");

	for (int i = 0; i < 300; i++) {
		int64_t got = 0;
		if (tz_not_before("America/New_York", q, due, &got) != 0 || got != expect) {
			return (void *)1;
		}
	}
	return NULL;
}

static void test_many_threads_at_once_get_the_same_answers(void **state) {
	(void)state;
	struct tz_quiet q = quiet("21:00-08:00");
	pthread_t t[4];

	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_create(&t[i], NULL, spring_forward_many_times, &q), 0);
	}
	for (int i = 0; i < 4; i++) {
		void *failed = (void *)1;
		assert_int_equal(pthread_join(t[i], &failed), 0);
		assert_null(failed);
	}
}

static void test_zone_names(void **state) {
	(void)state;
	static const char *const good[] = {"UTC", "Europe/Paris", "America/New_York",
		"Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe",
		"America/Argentina/Buenos_Aires"};
	static const char *const bad[] = {"Mars/Olympus", "GMT+5", "GMT-03:00", "UTC+1",
		"Etc/Unknown", "Europe/Paris ", "Europe/Zürich", "Europe", "", NULL};
	char longname[TZ_NAME_MAX + 2];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (!tz_zone_exists(good[i])) {
			fail_msg("%s refused", good[i]);
		}
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (tz_zone_exists(bad[i])) {
			fail_msg("%s accepted", bad[i]);
		}
	}
	/* Over-long: "America/New_York" padded past TZ_NAME_MAX with more path. */
	memset(longname, 'a', sizeof(longname) - 1);
	memcpy(longname, "America/New_York/", 17);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(tz_zone_exists(longname));
}

static void test_locale_tags(void **state) {
	(void)state;
	static const char *const good[] = {"en", "en-US", "pt-BR", "zh-Hant-TW", "es-419",
		"sr-Latn-RS"};
	static const char *const bad[] = {"en_US", "en US", "en-", "en--US", "é", "en-US;",
		"", NULL};
	char longtag[TZ_LOCALE_MAX + 2];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (!tz_locale_is_valid(good[i])) {
			fail_msg("%s refused", good[i]);
		}
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (tz_locale_is_valid(bad[i])) {
			fail_msg("%s accepted", bad[i]);
		}
	}
	/* Well-formed tags (private-use subtags after "en-x-") of TZ_LOCALE_MAX bytes, and
	 * of one more: the length alone refuses the second. */
	snprintf(longtag, sizeof(longtag), "en-x-%s", "aaaaaaaa-bbbbbbbb-cccccccc-ddd");
	assert_int_equal(strlen(longtag), TZ_LOCALE_MAX);
	assert_true(tz_locale_is_valid(longtag));
	snprintf(longtag, sizeof(longtag), "en-x-%s", "aaaaaaaa-bbbbbbbb-cccccccc-dddd");
	assert_int_equal(strlen(longtag), TZ_LOCALE_MAX + 1);
	assert_false(tz_locale_is_valid(longtag));
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_window_that_spans_midnight_ends_on_the_right_day),
		cmocka_unit_test(test_a_window_within_one_day),
		cmocka_unit_test(test_the_start_is_inside_and_the_end_is_outside),
		cmocka_unit_test(test_half_hour_and_45_minute_offsets),
		cmocka_unit_test(test_a_spring_forward_night),
		cmocka_unit_test(test_a_fall_back_night),
		cmocka_unit_test(test_the_southern_hemisphere),
		cmocka_unit_test(test_a_30_minute_dst_shift),
		cmocka_unit_test(test_off_sends_at_once),
		cmocka_unit_test(test_quiet_hours_are_parsed),
		cmocka_unit_test(test_bad_quiet_hours_are_refused_and_change_nothing),
		cmocka_unit_test(test_an_unknown_zone_is_refused_and_changes_nothing),
		cmocka_unit_test(test_quiet_hours_parse_would_refuse_are_refused),
		cmocka_unit_test(test_many_threads_at_once_get_the_same_answers),
		cmocka_unit_test(test_zone_names),
		cmocka_unit_test(test_locale_tags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
