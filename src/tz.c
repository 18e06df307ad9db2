#include "tz.h"

#include <errno.h>
#include <string.h>

#include <unicode/ucal.h>
#include <unicode/uloc.h>
#include <unicode/ustring.h>

/* IANA names are visible ASCII (letters, digits and "/_-+"). */
static bool zone_char(unsigned char c) {
	return c > 0x20 && c < 0x7f;
}

/* BCP 47 tags are ASCII letters, digits and '-'. */
static bool locale_char(unsigned char c) {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-';
}

/* s's length when it is 1 to max bytes, each one ok; else 0 (NULL too). */
static size_t ascii_length(const char *s, size_t max, bool (*ok)(unsigned char c)) {
	size_t n = 0;
	for (; s && s[n]; n++) {
		if (n == max || !ok((unsigned char)s[n])) {
			return 0;
		}
	}
	return n;
}

/* name as ICU's UTF-16 zone id in id (*ret_len units), if it is an IANA name ICU's
 * database knows; false for anything else, custom offsets ("GMT+5") included. */
static bool zone_id(const char *name, UChar id[TZ_NAME_MAX + 1], int32_t *ret_len) {
	UChar canonical[128];
	UErrorCode status = U_ZERO_ERROR;
	UBool system = false;
	int32_t len = 0;
	size_t n = ascii_length(name, TZ_NAME_MAX, zone_char);

	if (n == 0) {
		return false;
	}
	u_strFromUTF8(id, TZ_NAME_MAX + 1, &len, name, (int32_t)n, &status);
	if (U_FAILURE(status)) {
		return false;
	}
	ucal_getCanonicalTimeZoneID(id, len, canonical, 128, &system, &status);
	if (U_FAILURE(status) || !system) {
		return false;
	}
	*ret_len = len;
	return true;
}

bool tz_zone_exists(const char *name) {
	UChar id[TZ_NAME_MAX + 1];
	int32_t len;

	return zone_id(name, id, &len);
}

bool tz_locale_is_valid(const char *tag) {
	char out[ULOC_FULLNAME_CAPACITY];
	UErrorCode status = U_ZERO_ERROR;
	int32_t parsed = 0;
	size_t n = ascii_length(tag, TZ_LOCALE_MAX, locale_char);

	if (n == 0) {
		return false;
	}
	uloc_forLanguageTag(tag, out, (int32_t)sizeof(out), &parsed, &status);
	return U_SUCCESS(status) && status != U_STRING_NOT_TERMINATED_WARNING &&
	       parsed == (int32_t)n && out[0] != '\0';
}

#define MINUTES_PER_DAY (24 * 60)

/* "HH:MM" in the five bytes at p → minutes after midnight, or -1. */
static int clock_minutes(const char *p) {
	for (int i = 0; i < 5; i++) {
		bool ok = i == 2 ? p[i] == ':' : p[i] >= '0' && p[i] <= '9';
		if (!ok) {
			return -1;
		}
	}
	int h = (p[0] - '0') * 10 + (p[1] - '0');
	int m = (p[3] - '0') * 10 + (p[4] - '0');
	return h < 24 && m < 60 ? h * 60 + m : -1;
}

int tz_quiet_parse(const char *text, struct tz_quiet *ret) {
	if (!text) {
		return -EINVAL;
	}
	if (strcmp(text, "off") == 0) {
		*ret = (struct tz_quiet){.off = true};
		return 0;
	}
	/* Exactly "HH:MM-HH:MM": the length check comes first so clock_minutes stays inside. */
	if (strlen(text) != 11 || text[5] != '-') {
		return -EINVAL;
	}
	int start = clock_minutes(text);
	int end = clock_minutes(text + 6);
	if (start < 0 || end < 0 || start == end) {
		return -EINVAL;
	}
	*ret = (struct tz_quiet){.start_min = start, .end_min = end};
	return 0;
}

static bool quiet_is_valid(const struct tz_quiet *q) {
	return q->off || (q->start_min >= 0 && q->start_min < MINUTES_PER_DAY && q->end_min >= 0 &&
					 q->end_min < MINUTES_PER_DAY && q->start_min != q->end_min);
}

/* ICU's UDate is a double: beyond 2^53 ms (the year 285,000) it would round. */
#define TZ_MS_LIMIT ((int64_t)1 << 53)

int tz_not_before(const char *zone, const struct tz_quiet *q, int64_t t_ms, int64_t *ret_ms) {
	UChar id[TZ_NAME_MAX + 1];
	int32_t len = 0;
	UErrorCode status = U_ZERO_ERROR;
	UCalendar *cal = NULL;
	int64_t end_ms = t_ms;
	int r = 0;

	if (!q || !quiet_is_valid(q) || !zone_id(zone, id, &len) || t_ms > TZ_MS_LIMIT ||
			t_ms < -TZ_MS_LIMIT) {
		return -EINVAL;
	}
	if (q->off) {
		*ret_ms = t_ms;
		return 0;
	}
	/* A calendar of this call's own: ICU objects are not to be shared between threads
	 * without a lock, and opening one is cheap next to a send. */
	cal = ucal_open(id, len, "en_US_POSIX", UCAL_GREGORIAN, &status);
	if (U_FAILURE(status)) {
		r = -EIO;
		goto out;
	}
	/* An end the clock skips (02:30 on a spring-forward night, when 02:00 becomes 03:00):
	 * the first valid instant after the gap, 03:00, the earliest moment the quiet period
	 * is over. ICU's default would read 02:30 in the old offset, i.e. 03:30. */
	ucal_setAttribute(cal, UCAL_SKIPPED_WALL_TIME, UCAL_WALLTIME_NEXT_VALID);
	/* An end the clock shows twice (01:30 on a fall-back night, when 02:00 becomes 01:00
	 * again): the first. A night has one quiet period, from its start to the first moment
	 * the recipient's clock reads the end; the second 01:30 would hold messages an hour
	 * longer than the quiet hours say, and the recipient has had the quiet asked for.
	 * So an instant in the repeated hour after that first end is outside (below). */
	ucal_setAttribute(cal, UCAL_REPEATED_WALL_TIME, UCAL_WALLTIME_FIRST);
	ucal_setMillis(cal, (UDate)t_ms, &status);
	int32_t minute = ucal_get(cal, UCAL_HOUR_OF_DAY, &status) * 60 +
			 ucal_get(cal, UCAL_MINUTE, &status);
	int32_t day = ucal_get(cal, UCAL_DATE, &status);
	if (U_FAILURE(status)) {
		r = -EIO;
		goto out;
	}
	/* Inside [start, end) of the local clock, and whether the end is on the next day. */
	bool inside, next_day = false;
	if (q->start_min < q->end_min) {
		inside = minute >= q->start_min && minute < q->end_min;
	} else {
		next_day = minute >= q->start_min;
		inside = next_day || minute < q->end_min;
	}
	if (!inside) {
		goto out;
	}
	/* The end's wall-clock time on the right local day; the calendar is lenient, so the
	 * day after the 31st is the next month's 1st. */
	ucal_set(cal, UCAL_DATE, day + (next_day ? 1 : 0));
	ucal_set(cal, UCAL_HOUR_OF_DAY, q->end_min / 60);
	ucal_set(cal, UCAL_MINUTE, q->end_min % 60);
	ucal_set(cal, UCAL_SECOND, 0);
	ucal_set(cal, UCAL_MILLISECOND, 0);
	UDate end = ucal_getMillis(cal, &status);
	if (U_FAILURE(status)) {
		r = -EIO;
		goto out;
	}
	/* At or before t only when t is in a fall-back night's repeated hour after the first
	 * end: that night's quiet period is over. */
	if ((int64_t)end > t_ms) {
		end_ms = (int64_t)end;
	}
out:
	ucal_close(cal);
	if (r == 0) {
		*ret_ms = end_ms;
	}
	return r;
}
