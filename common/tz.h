/* Time zones read from the system's TZif files (/usr/share/zoneinfo, or $TZDIR), without touching
 * the process's TZ environment: localtime_r under a changed TZ is not thread-safe, and a
 * scheduler wants several zones at once.
 *
 * A zone is loaded once and is read-only afterwards, so any thread may use it. The table of
 * transitions comes from the file's 64-bit data (its 32-bit data for version 1 files); times after
 * the last transition follow the POSIX TZ rule of the file's footer, so dates far in the future
 * keep their daylight saving time. Zones that count leap seconds ("right/...") are refused.
 *
 * The NULL zone is UTC: every function here accepts it. */
#ifndef DFLY_TZ_H
#define DFLY_TZ_H

#include <stddef.h>
#include <stdint.h>

#define TZ_ERR_MAX 192
/* Most UTC instants one local time can name (two around a clock change; more only in
 * pathological zones). */
#define TZ_LOCAL_MAX 4
/* Largest distance from UTC a zone may declare, in seconds (real ones stay within 15 hours). */
#define TZ_OFFSET_LIMIT (26 * 3600)
/* Times the queries take seriously (about a million years either side of 1970): beyond them a
 * zone's rule is evaluated at the limit, and tz_local_to_utc finds nothing. */
#define TZ_TIME_LIMIT (INT64_C(1) << 45)

typedef struct tz_zone tz_zone;

/* Loads the IANA zone `name` ("Europe/Berlin"). NULL, "" and "UTC" give NULL with a return of 0
 * (the UTC zone); otherwise returns 0 and sets *out (free it with tz_free), or -1 with err saying
 * why (unknown zone, unreadable or malformed file). */
int tz_load(const char *name, tz_zone **out, char *err, size_t errlen);
/* The same from the bytes of a TZif file in memory; name is only kept for tz_name and errors. */
int tz_parse(const char *name, const void *data, size_t len, tz_zone **out, char *err,
             size_t errlen);
void tz_free(tz_zone *z);
/* The name given to tz_load, or "UTC". */
const char *tz_name(const tz_zone *z);

/* Offset from UTC (seconds east, so Berlin in winter is +3600) in effect at UTC time t. */
int32_t tz_offset_at(const tz_zone *z, int64_t t);

/* The first transition strictly after t: returns 1 and sets *when, or 0 when the offset never
 * changes after t. A transition may keep the offset (a change of name or of DST flag only). */
int tz_next_transition(const tz_zone *z, int64_t t, int64_t *when);

/* The UTC instants whose local wall-clock time is `local` (seconds since 1970-01-01 00:00 on the
 * local calendar), ascending, in out. Returns how many: 0 for a local time skipped by a clock
 * change, 2 for one that is repeated, else 1. */
int tz_local_to_utc(const tz_zone *z, int64_t local, int64_t out[TZ_LOCAL_MAX]);

/* Calendar arithmetic (proleptic Gregorian), shared with cron.c. Days are counted from
 * 1970-01-01; month 1-12; weekday 0-6 with 0 Sunday. */
int64_t tz_days_from_civil(int64_t year, int month, int day);
void tz_civil_from_days(int64_t days, int64_t *year, int *month, int *day);
int tz_weekday(int64_t days);
int tz_is_leap(int64_t year);
int tz_days_in_month(int64_t year, int month);

#endif
