#pragma once
/* tz: time zones and local time, through ICU's C API (the system's time-zone data; never
 * by changing TZ in a threaded process). Knows nothing of the other modules. */
#include <stdbool.h>
#include <stdint.h>

#define TZ_NAME_MAX 64 /* the longest IANA name we accept, in bytes */

/* True if name is an IANA time-zone name ICU's database knows ("Europe/Paris", "UTC"),
 * not a custom offset such as "GMT+5" and not an empty or over-long string. */
bool tz_zone_exists(const char *name);

#define TZ_LOCALE_MAX 35 /* the longest BCP 47 tag we accept, in bytes */

/* True if tag is a well-formed BCP 47 language tag ("en-US", "pt-BR", "zh-Hant-TW") as
 * ICU reads it, whole; not an empty or over-long string. */
bool tz_locale_is_valid(const char *tag);

/* Quiet hours: a daily period of local wall-clock time, [start, end), in minutes after
 * local midnight (0..1439). start > end spans midnight (21:00-08:00 ends the next day);
 * start == end is refused. off: no quiet hours at all. */
struct tz_quiet {
	bool off;
	int start_min;
	int end_min;
};

/* Reads "HH:MM-HH:MM" (24-hour, two digits each, hours 00..23, start differing from end)
 * or "off" into *ret. 0, or -EINVAL (NULL, anything else). */
int tz_quiet_parse(const char *text, struct tz_quiet *ret);

/* When a message due at t_ms (UTC, ms since the epoch) to someone in zone (an IANA name)
 * may go: t_ms when that instant is outside the quiet period in zone's local wall-clock
 * time (or q is off), else the instant the quiet period containing t_ms ends, in UTC ms.
 * Daylight-saving changes: an end that the clock skips (02:30 on a spring-forward night)
 * is the first valid instant after it (03:00); an end the clock shows twice (a fall-back
 * night) is the first of the two, and an instant in the repeated hour after that first end
 * is outside. 0; -EINVAL: unknown zone, a q tz_quiet_parse would not give, or t_ms beyond
 * ±2^53 (where ICU's double would round); -EIO: ICU failed. *ret_ms is written only on
 * success. Safe to call from many threads at once: each call opens its own calendar and
 * closes it, and changes no process-wide state (TZ, ICU's default zone). */
int tz_not_before(const char *zone, const struct tz_quiet *q, int64_t t_ms, int64_t *ret_ms);
