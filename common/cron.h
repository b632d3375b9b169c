/* Cron expressions: the five fields of crontab(5) and when they fire next, in any time zone.
 * Used by dfly-server's --snapshot_cron and the control plane's backup schedules.
 *
 * Syntax: "minute hour day-of-month month day-of-week", fields separated by blanks. A field is a
 * list "a,b,c" of elements; an element is `*`, a number or a range "a-b", each optionally
 * followed by a step "/n" (every 15 minutes: star, slash, 15; "1-30/5"); "a/n" means from a to
 * the field's end every n. Months take JAN-DEC and days SUN-SAT (any case); day-of-week is 0-7
 * with 0 and 7 both Sunday, and a range that ends on Sunday after a later day ("SAT-SUN", "5-0")
 * reads that Sunday as 7. Macros: @yearly @annually @monthly @weekly @daily @midnight @hourly.
 * (In comments here a star-slash step is written with a space, "* /5", to keep C happy.)
 *
 * Day-of-month and day-of-week combine as in Vixie cron: when both fields are restricted a day
 * matches if either one does ("0 0 13 * FRI" fires on every 13th and on every Friday); when one
 * of them begins with `*` only the other one counts, so "0 0 * /2 * FRI" fires on Fridays that
 * fall on odd days (Vixie cron and cronie agree).
 *
 * Times are local wall-clock times of the zone given to cron_next. Clock changes follow cron's
 * usual rule: a local time that does not exist (the hour skipped when DST starts) is skipped; a
 * local time that occurs twice (the hour repeated when DST ends) fires once, at its first
 * occurrence, for an entry with fixed minute and hour ("30 2 * * *"); an entry whose minute or
 * hour field begins with `*` ("* /5 * * * *", "0 * * * *") fires in both occurrences and so keeps
 * its spacing through that night, as Vixie cron and cronie do. */
#ifndef DFLY_CRON_H
#define DFLY_CRON_H

#include <stddef.h>
#include <stdint.h>

#include "tz.h"

#define CRON_ERR_MAX 160
/* cron_next: no matching time within CRON_HORIZON_DAYS (e.g. "0 0 30 2 *"). */
#define CRON_NONE (-1)
/* cron_next: the time zone cannot be loaded (check it with tz_load first). */
#define CRON_ERR_ZONE (-2)
/* How far cron_next looks: five years. */
#define CRON_HORIZON_DAYS 1827

/* Which field began with `*` (Vixie cron's DOM_STAR, DOW_STAR, MIN_STAR, HR_STAR). */
#define CRON_MIN_STAR 0x01
#define CRON_HOUR_STAR 0x02
#define CRON_DOM_STAR 0x04
#define CRON_DOW_STAR 0x08

/* A parsed expression: one bit per allowed value. Plain data: copy it freely. */
typedef struct cron_expr {
    uint64_t minutes; /* bit m: minute m, 0-59 */
    uint32_t hours;   /* bit h: 0-23 */
    uint32_t days;    /* bit d: day of month 1-31 */
    uint16_t months;  /* bit m: 1-12 */
    uint8_t weekdays; /* bit d: 0-6, 0 Sunday */
    uint8_t flags;    /* CRON_*_STAR */
} cron_expr;

/* Parses text into *out. Returns 0, or -1 with err naming the field and the reason
 * ("minute: 61 is out of range 0-59"). */
int cron_parse(const char *text, cron_expr *out, char *err, size_t errlen);

/* The first time strictly after `after` (Unix seconds) at which e fires in zone tz (an IANA
 * name like "Europe/Berlin"; NULL, "" or "UTC" for UTC): second 0 of a local minute. Returns
 * CRON_NONE when there is none within CRON_HORIZON_DAYS (or `after` is before 1970 or after the
 * year 9999), CRON_ERR_ZONE when tz is unknown.
 * Reads the zone file on every call: a caller that asks often should load the zone once and
 * use cron_next_zone. Thread-safe. */
int64_t cron_next(const cron_expr *e, int64_t after, const char *tz);
/* Same with a loaded zone (NULL for UTC). */
int64_t cron_next_zone(const cron_expr *e, int64_t after, const tz_zone *zone);

/* 1 when the local time of t in zone is second 0 of a minute that e's fields allow (the
 * clock-change rule of cron_next aside). */
int cron_matches(const cron_expr *e, int64_t t, const tz_zone *zone);

#endif
