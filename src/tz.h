#pragma once
/* tz: time zones and local time, through ICU's C API (the system's time-zone data; never
 * by changing TZ in a threaded process). Knows nothing of the other modules. */
#include <stdbool.h>

#define TZ_NAME_MAX 64 /* the longest IANA name we accept, in bytes */

/* True if name is an IANA time-zone name ICU's database knows ("Europe/Paris", "UTC"),
 * not a custom offset such as "GMT+5" and not an empty or over-long string. */
bool tz_zone_exists(const char *name);

#define TZ_LOCALE_MAX 35 /* the longest BCP 47 tag we accept, in bytes */

/* True if tag is a well-formed BCP 47 language tag ("en-US", "pt-BR", "zh-Hant-TW") as
 * ICU reads it, whole; not an empty or over-long string. */
bool tz_locale_is_valid(const char *tag);
