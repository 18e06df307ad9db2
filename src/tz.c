#include "tz.h"

#include <string.h>

#include <unicode/ucal.h>
#include <unicode/uloc.h>
#include <unicode/ustring.h>

bool tz_zone_exists(const char *name) {
	UChar id[TZ_NAME_MAX + 1];
	UChar canonical[128];
	UErrorCode status = U_ZERO_ERROR;
	UBool system = false;
	int32_t len = 0;
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > TZ_NAME_MAX) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		/* IANA names are ASCII letters, digits and "/_-+". */
		unsigned char c = (unsigned char)name[i];
		if (c <= 0x20 || c >= 0x7f) {
			return false;
		}
	}
	u_strFromUTF8(id, TZ_NAME_MAX + 1, &len, name, (int32_t)n, &status);
	if (U_FAILURE(status)) {
		return false;
	}
	ucal_getCanonicalTimeZoneID(id, len, canonical, 128, &system, &status);
	return U_SUCCESS(status) && system;
}

bool tz_locale_is_valid(const char *tag) {
	char out[ULOC_FULLNAME_CAPACITY];
	UErrorCode status = U_ZERO_ERROR;
	int32_t parsed = 0;
	size_t n = tag ? strlen(tag) : 0;

	if (n == 0 || n > TZ_LOCALE_MAX) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)tag[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
				    c == '-')) {
			return false;
		}
	}
	uloc_forLanguageTag(tag, out, (int32_t)sizeof(out), &parsed, &status);
	return U_SUCCESS(status) && status != U_STRING_NOT_TERMINATED_WARNING &&
	       parsed == (int32_t)n && out[0] != '\0';
}
