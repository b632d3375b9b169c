/* Unit tests of common/cron.c and common/tz.c: parsing (and its error messages), next firing
 * times in UTC and across DST changes, and the zone reader checked against glibc. */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "cron.h"
#include "testing.h"
#include "tz.h"

#define ZONEINFO "/usr/share/zoneinfo"
#define SECS_PER_DAY 86400

/* "YYYY-MM-DD HH:MM[:SS]" in UTC to Unix seconds. */
static int64_t ts(const char *s)
{
    int y, mo, d, h, mi, sec = 0;
    if (sscanf(s, "%d-%d-%d %d:%d:%d", &y, &mo, &d, &h, &mi, &sec) < 5)
        abort();
    return tz_days_from_civil(y, mo, d) * SECS_PER_DAY + h * 3600 + mi * 60 + sec;
}

static void show(int64_t t, char *out, size_t len)
{
    if (t < 0) {
        snprintf(out, len, "%lld", (long long)t);
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, len, "%Y-%m-%d %H:%M:%S", &tm);
}

typedef struct next_case {
    const char *expr;
    const char *after; /* UTC */
    const char *tz;
    const char *want; /* UTC, or NULL for CRON_NONE */
} next_case;

/* Expected times computed independently (a minute-by-minute scan with Python's zoneinfo); the
 * comment gives the local time. */
static const next_case next_cases[] = {
    {"*/5 * * * *", "2024-01-01 00:00", NULL, "2024-01-01 00:05"},    /* Mon 2024-01-01 00:05 UTC */
    {"*/5 * * * *", "2024-01-01 00:04:59", NULL, "2024-01-01 00:05"}, /* Mon 2024-01-01 00:05 UTC */
    {"* * * * *", "2024-01-01 00:00:30", NULL, "2024-01-01 00:01"},   /* Mon 2024-01-01 00:01 UTC */
    {"0 0 1 1 *", "2024-06-15 08:00", NULL, "2025-01-01 00:00"},      /* Wed 2025-01-01 00:00 UTC */
    {"@yearly", "2024-12-31 23:59:59", NULL, "2025-01-01 00:00"},     /* Wed 2025-01-01 00:00 UTC */
    {"@annually", "2025-01-01 00:00", NULL, "2026-01-01 00:00"},      /* Thu 2026-01-01 00:00 UTC */
    {"@monthly", "2024-01-31 12:00", NULL, "2024-02-01 00:00"},       /* Thu 2024-02-01 00:00 UTC */
    {"@weekly", "2024-01-01 00:00", NULL, "2024-01-07 00:00"},        /* Sun 2024-01-07 00:00 UTC */
    {"@daily", "2024-02-28 00:00", NULL, "2024-02-29 00:00"},         /* Thu 2024-02-29 00:00 UTC */
    {"@midnight", "2024-02-28 23:59", NULL, "2024-02-29 00:00"},      /* Thu 2024-02-29 00:00 UTC */
    {"@hourly", "2024-01-01 10:30", NULL, "2024-01-01 11:00"},        /* Mon 2024-01-01 11:00 UTC */
    {"0 0 29 2 *", "2023-01-01 00:00", NULL, "2024-02-29 00:00"},     /* Thu 2024-02-29 00:00 UTC */
    {"0 0 29 2 *", "2024-03-01 00:00", NULL, "2028-02-29 00:00"},     /* Tue 2028-02-29 00:00 UTC */
    {"0 0 29 2 *", "2096-03-01 00:00", NULL, NULL},                   /*  */
    {"0 0 30 2 *", "2024-01-01 00:00", NULL, NULL},                   /*  */
    {"0 0 31 * *", "2024-01-31 00:00", NULL, "2024-03-31 00:00"},     /* Sun 2024-03-31 00:00 UTC */
    {"0 0 31 * *", "2024-04-01 00:00", NULL, "2024-05-31 00:00"},     /* Fri 2024-05-31 00:00 UTC */
    {"59 23 31 12 *", "2024-12-31 23:59", NULL, "2025-12-31 23:59"},  /* Wed 2025-12-31 23:59 UTC */
    {"0 0 28-31 2 *", "2023-02-28 00:00", NULL, "2024-02-28 00:00"},  /* Wed 2024-02-28 00:00 UTC */
    {"0 0 28-31 2 *", "2024-02-28 00:00", NULL, "2024-02-29 00:00"},  /* Thu 2024-02-29 00:00 UTC */
    {"0 12 * * MON", "2024-01-01 12:00", NULL, "2024-01-08 12:00"},   /* Mon 2024-01-08 12:00 UTC */
    {"0 0 13 * FRI", "2024-01-01 00:00", NULL, "2024-01-05 00:00"},   /* Fri 2024-01-05 00:00 UTC */
    {"0 0 13 * FRI", "2024-01-12 00:00", NULL, "2024-01-13 00:00"},   /* Sat 2024-01-13 00:00 UTC */
    {"0 0 */2 * FRI", "2024-01-01 00:00", NULL, "2024-01-05 00:00"},  /* Fri 2024-01-05 00:00 UTC */
    {"0 0 */2 * FRI", "2024-01-05 00:00", NULL, "2024-01-19 00:00"},  /* Fri 2024-01-19 00:00 UTC */
    {"0 0 1 * 1-5", "2024-06-01 00:00", NULL, "2024-06-03 00:00"},    /* Mon 2024-06-03 00:00 UTC */
    {"0 0 * * 7", "2024-01-01 00:00", NULL, "2024-01-07 00:00"},      /* Sun 2024-01-07 00:00 UTC */
    {"0 0 * * sat-sun", "2024-01-01 00:00", NULL,
     "2024-01-06 00:00"},                                          /* Sat 2024-01-06 00:00 UTC */
    {"0 0 * * 5-0", "2024-01-07 00:00", NULL, "2024-01-12 00:00"}, /* Fri 2024-01-12 00:00 UTC */
    {"0 9-17/2 * * 1-5", "2024-01-05 17:00", NULL,
     "2024-01-08 09:00"},                                           /* Mon 2024-01-08 09:00 UTC */
    {"5/20 * * * *", "2024-01-01 00:45", NULL, "2024-01-01 01:05"}, /* Mon 2024-01-01 01:05 UTC */
    {"0 0 1 jan,Jul *", "2024-01-02 00:00", NULL,
     "2024-07-01 00:00"},                                           /* Mon 2024-07-01 00:00 UTC */
    {"15 14 1 * *", "2024-01-01 14:15", NULL, "2024-02-01 14:15"},  /* Thu 2024-02-01 14:15 UTC */
    {"0 22 * * 1-5", "2024-01-05 22:00", NULL, "2024-01-08 22:00"}, /* Mon 2024-01-08 22:00 UTC */
    {"30 2 * * *", "2024-03-30 12:00", "Europe/Berlin",
     "2024-04-01 00:30"}, /* Mon 2024-04-01 02:30 CEST */
    {"*/30 * * * *", "2024-03-31 00:45", "Europe/Berlin",
     "2024-03-31 01:00"}, /* Sun 2024-03-31 03:00 CEST */
    {"30 2 * * *", "2024-10-26 12:00", "Europe/Berlin",
     "2024-10-27 00:30"}, /* Sun 2024-10-27 02:30 CEST */
    {"30 2 * * *", "2024-10-27 00:30", "Europe/Berlin",
     "2024-10-28 01:30"}, /* Mon 2024-10-28 02:30 CET */
    {"*/30 * * * *", "2024-10-27 00:30", "Europe/Berlin",
     "2024-10-27 01:00"}, /* Sun 2024-10-27 02:00 CET */
    {"0 * * * *", "2024-10-27 00:00", "Europe/Berlin",
     "2024-10-27 01:00"}, /* Sun 2024-10-27 02:00 CET */
    {"0 * * * *", "2024-10-27 01:00", "Europe/Berlin",
     "2024-10-27 02:00"}, /* Sun 2024-10-27 03:00 CET */
    {"0 2 * * *", "2024-10-27 00:00", "Europe/Berlin",
     "2024-10-28 01:00"}, /* Mon 2024-10-28 02:00 CET */
    {"0 3 * * *", "2024-10-27 00:30", "Europe/Berlin",
     "2024-10-27 02:00"}, /* Sun 2024-10-27 03:00 CET */
    {"0 0 * * *", "2024-06-30 23:00", "Europe/Berlin",
     "2024-07-01 22:00"}, /* Tue 2024-07-02 00:00 CEST */
    {"0 12 1 7 *", "2040-01-01 00:00", "Europe/Berlin",
     "2040-07-01 10:00"}, /* Sun 2040-07-01 12:00 CEST */
    {"0 12 1 1 *", "2300-01-01 00:00", "Europe/Berlin",
     "2300-01-01 11:00"}, /* Mon 2300-01-01 12:00 CET */
    {"30 2 * * SUN", "2300-03-20 00:00", "Europe/Berlin",
     "2300-04-01 00:30"}, /* Sun 2300-04-01 02:30 CEST */
    {"30 2 * * *", "2024-03-09 12:00", "America/New_York",
     "2024-03-11 06:30"}, /* Mon 2024-03-11 02:30 EDT */
    {"30 1 * * *", "2024-11-02 12:00", "America/New_York",
     "2024-11-03 05:30"}, /* Sun 2024-11-03 01:30 EDT */
    {"30 1 * * *", "2024-11-03 05:30", "America/New_York",
     "2024-11-04 06:30"}, /* Mon 2024-11-04 01:30 EST */
    {"*/15 * * * *", "2024-11-03 05:50", "America/New_York",
     "2024-11-03 06:00"}, /* Sun 2024-11-03 01:00 EST */
    {"0 0 * * *", "2024-01-01 00:00", "America/New_York",
     "2024-01-01 05:00"}, /* Mon 2024-01-01 00:00 EST */
    {"0 1 3 11 *", "2024-11-03 05:00", "America/New_York",
     "2025-11-03 06:00"}, /* Mon 2025-11-03 01:00 EST */
    {"30 2 * * *", "2024-10-05 12:00", "Australia/Sydney",
     "2024-10-06 15:30"}, /* Mon 2024-10-07 02:30 AEDT */
    {"30 2 * * *", "2024-04-06 12:00", "Australia/Sydney",
     "2024-04-06 15:30"}, /* Sun 2024-04-07 02:30 AEDT */
    {"15 2 * * *", "2024-10-05 12:00", "Australia/Lord_Howe",
     "2024-10-06 15:15"}, /* Mon 2024-10-07 02:15 +11 */
    {"45 1 * * *", "2024-04-06 12:00", "Australia/Lord_Howe",
     "2024-04-06 14:45"}, /* Sun 2024-04-07 01:45 +11 */
    {"0 0 * * *", "2024-01-01 00:00", "Asia/Kathmandu",
     "2024-01-01 18:15"}, /* Tue 2024-01-02 00:00 +0545 */
    {"0 0 30 12 *", "2011-12-28 00:00", "Pacific/Apia",
     "2012-12-29 10:00"}, /* Sun 2012-12-30 00:00 +14 */
};

TEST(next_known_times)
{
    for (size_t i = 0; i < sizeof(next_cases) / sizeof(next_cases[0]); i++) {
        const next_case *c = &next_cases[i];
        cron_expr e;
        char err[CRON_ERR_MAX];
        REQUIRE(cron_parse(c->expr, &e, err, sizeof(err)) == 0);
        int64_t got = cron_next(&e, ts(c->after), c->tz);
        int64_t want = c->want ? ts(c->want) : CRON_NONE;
        if (got != want) {
            char g[32], w[32];
            show(got, g, sizeof(g));
            show(want, w, sizeof(w));
            fprintf(stderr, "'%s' after %s in %s: got %s, want %s\n", c->expr, c->after,
                    c->tz ? c->tz : "UTC", g, w);
        }
        CHECK_EQ_INT(got, want);
    }
}

typedef struct error_case {
    const char *expr;
    const char *err;
} error_case;

static const error_case error_cases[] = {
    {"", "expected 5 fields (minute hour day-of-month month day-of-week), got 0"},
    {"   \t ", "expected 5 fields (minute hour day-of-month month day-of-week), got 0"},
    {"* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"},
    {"0 * * * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 6"},
    {"61 * * * *", "minute: 61 is out of range 0-59"},
    {"* 24 * * *", "hour: 24 is out of range 0-23"},
    {"* * 0 * *", "day-of-month: 0 is out of range 1-31"},
    {"* * 32 * *", "day-of-month: 32 is out of range 1-31"},
    {"* * * 0 *", "month: 0 is out of range 1-12"},
    {"* * * 13 *", "month: 13 is out of range 1-12"},
    {"* * * * 8", "day-of-week: 8 is out of range 0-7"},
    {"99999999999 * * * *", "minute: 99999999999 is out of range 0-59"},
    {"abc * * * *", "minute: 'abc' is not a number (0-59)"},
    {"* * * FOO *", "month: 'FOO' is not a month (1-12 or JAN-DEC)"},
    {"* * * MON *", "month: 'MON' is not a month (1-12 or JAN-DEC)"},
    {"* * * JANUARY *", "month: 'JANUARY' is not a month (1-12 or JAN-DEC)"},
    {"* * * * MONDAY", "day-of-week: 'MONDAY' is not a day (0-7 or SUN-SAT)"},
    {"* * JAN * *", "day-of-month: 'JAN' is not a number (1-31)"},
    {"*/0 * * * *", "minute: step '0' is out of range 1-60"},
    {"* */25 * * *", "hour: step '25' is out of range 1-24"},
    {"*/x * * * *", "minute: step 'x' is not a number"},
    {"*/ * * * *", "minute: '/' needs a step after it"},
    {"*/5/2 * * * *", "minute: step '5/2' is not a number"},
    {"5-2 * * * *", "minute: range 5-2 is reversed (5 > 2)"},
    {"* * * DEC-JAN *", "month: range DEC-JAN is reversed (12 > 1)"},
    {"1,,2 * * * *", "minute: empty element in list '1,,2'"},
    {"1, * * * *", "minute: empty element in list '1,'"},
    {"1- * * * *", "minute: a number (0-59) is missing"},
    {"-1 * * * *", "minute: a number (0-59) is missing"},
    {"1-2-3 * * * *", "minute: '2-3' is not a number (0-59)"},
    {"@reboot", "@reboot is not supported: a schedule needs times"},
    {"@daily 5", "@daily takes no fields"},
    {"@often", "unknown macro '@often' (use @yearly, @annually, @monthly, @weekly, @daily, "
               "@midnight or @hourly)"},
};

TEST(parse_errors)
{
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        cron_expr e;
        char err[CRON_ERR_MAX] = "";
        CHECK_EQ_INT(cron_parse(error_cases[i].expr, &e, err, sizeof(err)), -1);
        CHECK_EQ_STR(err, error_cases[i].err);
    }
    cron_expr e;
    char err[CRON_ERR_MAX] = "";
    CHECK_EQ_INT(cron_parse(NULL, &e, err, sizeof(err)), -1);
    CHECK(err[0] != '\0');
    char long_text[2048];
    memset(long_text, '1', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    CHECK_EQ_INT(cron_parse(long_text, &e, err, sizeof(err)), -1);
    CHECK_EQ_STR(err, "cron expression missing or longer than 1024 characters");
    /* A short buffer gets a truncated message, never an overflow. */
    char small[8];
    CHECK_EQ_INT(cron_parse("61 * * * *", &e, small, sizeof(small)), -1);
    CHECK_EQ_STR(small, "minute:");
}

#define BIT(n) (UINT64_C(1) << (n))

TEST(parse_fields)
{
    cron_expr e;
    char err[CRON_ERR_MAX];
    REQUIRE(cron_parse("*/15 0-23/6 1,15,31 */4 *", &e, err, sizeof(err)) == 0);
    CHECK_EQ_INT(e.minutes, BIT(0) | BIT(15) | BIT(30) | BIT(45));
    CHECK_EQ_INT(e.hours, BIT(0) | BIT(6) | BIT(12) | BIT(18));
    CHECK_EQ_INT(e.days, BIT(1) | BIT(15) | BIT(31));
    CHECK_EQ_INT(e.months, BIT(1) | BIT(5) | BIT(9));
    CHECK_EQ_INT(e.weekdays, 0x7f);
    CHECK_EQ_INT(e.flags, CRON_MIN_STAR | CRON_DOW_STAR);

    /* 7 is Sunday; ranges ending on Sunday wrap to 7; names in any case. */
    REQUIRE(cron_parse("0 0 * * 7", &e, err, sizeof(err)) == 0);
    CHECK_EQ_INT(e.weekdays, BIT(0));
    REQUIRE(cron_parse("0 0 * * Sat-sUN", &e, err, sizeof(err)) == 0);
    CHECK_EQ_INT(e.weekdays, BIT(0) | BIT(6));
    REQUIRE(cron_parse("0 0 * * 5-7", &e, err, sizeof(err)) == 0);
    CHECK_EQ_INT(e.weekdays, BIT(0) | BIT(5) | BIT(6));
    REQUIRE(cron_parse("0 0 * * 1-7/2", &e, err, sizeof(err)) == 0);
    CHECK_EQ_INT(e.weekdays, BIT(0) | BIT(1) | BIT(3) | BIT(5));
    REQUIRE(cron_parse("0 0 * * */2", &e, err, sizeof(err)) == 0);
    CHECK_EQ_INT(e.weekdays, BIT(0) | BIT(2) | BIT(4) | BIT(6));
    REQUIRE(cron_parse("0 0 * feb-apr,oct MON,wed-fri", &e, err, sizeof(err)) == 0);
    CHECK_EQ_INT(e.months, BIT(2) | BIT(3) | BIT(4) | BIT(10));
    CHECK_EQ_INT(e.weekdays, BIT(1) | BIT(3) | BIT(4) | BIT(5));
    CHECK_EQ_INT(e.flags, CRON_DOM_STAR);
    REQUIRE(cron_parse("1 2 3 4 5", &e, err, sizeof(err)) == 0);
    CHECK_EQ_INT(e.flags, 0);

    /* "a/n": from a to the end of the field. */
    REQUIRE(cron_parse("50/3 22/1 * * 7/3", &e, err, sizeof(err)) == 0);
    CHECK_EQ_INT(e.minutes, BIT(50) | BIT(53) | BIT(56) | BIT(59));
    CHECK_EQ_INT(e.hours, BIT(22) | BIT(23));
    CHECK_EQ_INT(e.weekdays, BIT(0));

    /* Blanks of any kind around and between fields. */
    REQUIRE(cron_parse("\t 5  4\t* *   *\n", &e, err, sizeof(err)) == 0);
    CHECK_EQ_INT(e.minutes, BIT(5));
    CHECK_EQ_INT(e.hours, BIT(4));

    /* Macros are exactly their five-field forms. */
    static const char *const macro_pairs[][2] = {
        {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
        {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"}, {" @HOURLY ", "0 * * * *"},
    };
    for (size_t i = 0; i < sizeof(macro_pairs) / sizeof(macro_pairs[0]); i++) {
        cron_expr a, b;
        REQUIRE(cron_parse(macro_pairs[i][0], &a, err, sizeof(err)) == 0);
        REQUIRE(cron_parse(macro_pairs[i][1], &b, err, sizeof(err)) == 0);
        CHECK(memcmp(&a, &b, sizeof(a)) == 0);
    }
}

TEST(next_strictly_after_and_sequence)
{
    cron_expr e;
    char err[CRON_ERR_MAX];
    REQUIRE(cron_parse("*/7 * * * *", &e, err, sizeof(err)) == 0);
    /* Exactly on a firing time: the next one, not the same. */
    CHECK_EQ_INT(cron_next(&e, ts("2024-01-01 00:07"), NULL), ts("2024-01-01 00:14"));
    /* 56 is the last of an hour; then minute 0 of the next. */
    CHECK_EQ_INT(cron_next(&e, ts("2024-01-01 00:56"), "UTC"), ts("2024-01-01 01:00"));
    /* Chaining walks every firing time of a day in order. */
    int64_t t = ts("2023-12-31 23:59:59");
    int fired = 0;
    while ((t = cron_next(&e, t, NULL)) < ts("2024-01-02 00:00"))
        fired++;
    CHECK_EQ_INT(fired, 24 * 9); /* 0,7,...,56 */
    /* From the epoch on. */
    REQUIRE(cron_parse("0 0 1 1 *", &e, err, sizeof(err)) == 0);
    CHECK_EQ_INT(cron_next(&e, 0, NULL), ts("1971-01-01 00:00"));
    CHECK_EQ_INT(cron_next(&e, -1, NULL), CRON_NONE);
}

TEST(next_horizon_and_zone_errors)
{
    cron_expr e;
    char err[CRON_ERR_MAX];
    /* The 31st of a 30-day month never comes. */
    REQUIRE(cron_parse("0 0 31 4,6,9,11 *", &e, err, sizeof(err)) == 0);
    CHECK_EQ_INT(cron_next(&e, ts("2024-01-01 00:00"), NULL), CRON_NONE);
    /* Restricted day-of-week keeps it alive (either field matches). */
    REQUIRE(cron_parse("0 0 31 4 MON", &e, err, sizeof(err)) == 0);
    CHECK_EQ_INT(cron_next(&e, ts("2024-04-01 00:00"), NULL), ts("2024-04-08 00:00"));
    /* Feb 29 is searched for five years: 2100 is no leap year. */
    REQUIRE(cron_parse("0 0 29 2 *", &e, err, sizeof(err)) == 0);
    CHECK_EQ_INT(cron_next(&e, ts("2096-02-29 00:00"), NULL), CRON_NONE);
    CHECK_EQ_INT(cron_next(&e, ts("2099-03-01 00:00"), NULL), ts("2104-02-29 00:00"));
    /* Times beyond the year 9999 are refused, not overflowed. */
    REQUIRE(cron_parse("* * * * *", &e, err, sizeof(err)) == 0);
    CHECK_EQ_INT(cron_next(&e, INT64_MAX, NULL), CRON_NONE);
    CHECK_EQ_INT(cron_next(&e, INT64_MIN, NULL), CRON_NONE);
    /* Unknown zones, and names that try to leave the zone directory. */
    CHECK_EQ_INT(cron_next(&e, 0, "Mars/Olympus_Mons"), CRON_ERR_ZONE);
    CHECK_EQ_INT(cron_next(&e, 0, "../../etc/passwd"), CRON_ERR_ZONE);
    CHECK_EQ_INT(cron_next(&e, 0, "/etc/localtime"), CRON_ERR_ZONE);
    CHECK_EQ_INT(cron_next(&e, 0, "zone.tab"), CRON_ERR_ZONE);
    CHECK_EQ_INT(cron_next(&e, 0, "Europe"), CRON_ERR_ZONE);
    CHECK_EQ_INT(cron_next(&e, 0, ""), 60);
}

TEST(tz_load_errors)
{
    tz_zone *z = (tz_zone *)1;
    char err[TZ_ERR_MAX];
    CHECK_EQ_INT(tz_load("UTC", &z, err, sizeof(err)), 0);
    CHECK(z == NULL);
    CHECK_EQ_STR(tz_name(z), "UTC");
    CHECK_EQ_INT(tz_load("No/Such_Zone", &z, err, sizeof(err)), -1);
    CHECK(strncmp(err, "unknown time zone 'No/Such_Zone'", 32) == 0);
    CHECK_EQ_INT(tz_load("a/../b", &z, err, sizeof(err)), -1);
    CHECK_EQ_STR(err, "unknown time zone 'a/../b'");
    CHECK_EQ_INT(tz_load("iso3166.tab", &z, err, sizeof(err)), -1);
    CHECK_EQ_STR(err, "time zone 'iso3166.tab': not a TZif zone file");
    struct stat st;
    if (stat(ZONEINFO "/right/UTC", &st) == 0) {
        CHECK_EQ_INT(tz_load("right/UTC", &z, err, sizeof(err)), -1);
        CHECK_EQ_STR(err, "time zone 'right/UTC' counts leap seconds: not supported");
    }
    REQUIRE(tz_load("Europe/Berlin", &z, err, sizeof(err)) == 0);
    CHECK_EQ_STR(tz_name(z), "Europe/Berlin");
    CHECK_EQ_INT(tz_offset_at(z, ts("2024-01-15 12:00")), 3600);
    CHECK_EQ_INT(tz_offset_at(z, ts("2024-07-15 12:00")), 7200);
    /* The change is at 01:00 UTC on the last Sunday of March. */
    CHECK_EQ_INT(tz_offset_at(z, ts("2024-03-31 00:59:59")), 3600);
    CHECK_EQ_INT(tz_offset_at(z, ts("2024-03-31 01:00")), 7200);
    int64_t when;
    REQUIRE(tz_next_transition(z, ts("2024-01-01 00:00"), &when) == 1);
    CHECK_EQ_INT(when, ts("2024-03-31 01:00"));
    REQUIRE(tz_next_transition(z, ts("2350-04-01 00:00"), &when) == 1);
    CHECK_EQ_INT(when, ts("2350-10-29 01:00"));
    /* 02:30 on that day does not exist; 02:30 on the last Sunday of October exists twice. */
    int64_t u[TZ_LOCAL_MAX];
    CHECK_EQ_INT(tz_local_to_utc(z, ts("2024-03-31 02:30"), u), 0);
    REQUIRE(tz_local_to_utc(z, ts("2024-10-27 02:30"), u) == 2);
    CHECK_EQ_INT(u[0], ts("2024-10-27 00:30"));
    CHECK_EQ_INT(u[1], ts("2024-10-27 01:30"));
    REQUIRE(tz_local_to_utc(z, ts("2024-10-27 03:00"), u) == 1);
    CHECK_EQ_INT(u[0], ts("2024-10-27 02:00"));
    tz_free(z);
}

TEST(cron_matches_local_fields)
{
    cron_expr e;
    char err[CRON_ERR_MAX];
    tz_zone *z;
    REQUIRE(cron_parse("30 2 * * *", &e, err, sizeof(err)) == 0);
    REQUIRE(tz_load("Europe/Berlin", &z, err, sizeof(err)) == 0);
    CHECK(cron_matches(&e, ts("2024-06-01 00:30"), z));
    CHECK(!cron_matches(&e, ts("2024-06-01 00:30:01"), z));
    CHECK(!cron_matches(&e, ts("2024-06-01 02:30"), z));
    CHECK(cron_matches(&e, ts("2024-06-01 02:30"), NULL));
    tz_free(z);
}

/* ---- the zone reader against glibc, over every installed zone ---- */

/* glibc's offset for zone `name` at t (the test is single-threaded: setenv is fine here). */
static long glibc_offset(const char *name, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    (void)name;
    return tm.tm_gmtoff;
}

/* Compares one zone with glibc at every transition from 1970 to 2200 and at noon of every
 * 30th day; checks that local_to_utc inverts the offsets. Returns the mismatches. */
static int zone_check(const char *name)
{
    tz_zone *z;
    char err[TZ_ERR_MAX];
    if (tz_load(name, &z, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    char env[512];
    snprintf(env, sizeof(env), ":%s", name);
    setenv("TZ", env, 1);
    tzset();
    int bad = 0;
    int64_t t = ts("1970-01-01 00:00"), end = ts("2200-01-01 00:00"), when;
    while (bad < 3 && tz_next_transition(z, t, &when) && when < end) {
        for (int64_t probe = when - 1; probe <= when; probe++) {
            if (tz_offset_at(z, probe) != glibc_offset(name, probe)) {
                fprintf(stderr, "%s at %lld: ours %d, glibc %ld\n", name, (long long)probe,
                        (int)tz_offset_at(z, probe), glibc_offset(name, probe));
                bad++;
            }
        }
        CHECK(when > t);
        t = when;
    }
    for (int64_t s = ts("1970-01-01 12:00"); bad < 3 && s < end; s += 30 * SECS_PER_DAY) {
        int32_t off = tz_offset_at(z, s);
        if (off != glibc_offset(name, s)) {
            fprintf(stderr, "%s at %lld: ours %d, glibc %ld\n", name, (long long)s, (int)off,
                    glibc_offset(name, s));
            bad++;
        }
        int64_t u[TZ_LOCAL_MAX];
        int n = tz_local_to_utc(z, s + off, u);
        int found = 0;
        for (int i = 0; i < n; i++) {
            CHECK_EQ_INT(u[i] + tz_offset_at(z, u[i]), s + off);
            found |= u[i] == s;
        }
        if (!found) {
            fprintf(stderr, "%s: local_to_utc(%lld) misses %lld\n", name, (long long)(s + off),
                    (long long)s);
            bad++;
        }
    }
    tz_free(z);
    return bad;
}

static int is_tzif(const char *path)
{
    char magic[4];
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(magic, 1, sizeof(magic), f);
    fclose(f);
    return n == sizeof(magic) && memcmp(magic, "TZif", sizeof(magic)) == 0;
}

/* Walks dir (relative to ZONEINFO), checking every zone; skips posix/ and right/ (copies, and
 * leap-second zones). */
static void walk_zones(const char *rel, int *zones, int *bad)
{
    char path[600];
    snprintf(path, sizeof(path), "%s%s%s", ZONEINFO, rel[0] ? "/" : "", rel);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *de;
    /* readdir_r is deprecated; this test is single-threaded. */
    /* cppcheck-suppress readdirCalled */
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' ||
            (!rel[0] && (!strcmp(de->d_name, "posix") || !strcmp(de->d_name, "right") ||
                         !strcmp(de->d_name, "localtime"))))
            continue;
        char name[300], full[600];
        snprintf(name, sizeof(name), "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
        snprintf(full, sizeof(full), "%s/%s", ZONEINFO, name);
        struct stat st;
        if (stat(full, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            walk_zones(name, zones, bad);
        } else if (S_ISREG(st.st_mode) && is_tzif(full)) {
            (*zones)++;
            *bad += zone_check(name);
        }
    }
    closedir(d);
}

TEST(zones_agree_with_glibc)
{
    struct stat st;
    if (stat(ZONEINFO "/Europe/Berlin", &st) != 0) {
        printf("skip: no %s (apt-get install tzdata)\n", ZONEINFO);
        return;
    }
    int zones = 0, bad = 0;
    walk_zones("", &zones, &bad);
    unsetenv("TZ");
    tzset();
    CHECK(zones > 300);
    CHECK_EQ_INT(bad, 0);
}

int main(void)
{
    RUN_TEST(next_known_times);
    RUN_TEST(parse_errors);
    RUN_TEST(parse_fields);
    RUN_TEST(next_strictly_after_and_sequence);
    RUN_TEST(next_horizon_and_zone_errors);
    RUN_TEST(tz_load_errors);
    RUN_TEST(cron_matches_local_fields);
    RUN_TEST(zones_agree_with_glibc);
    TEST_MAIN_END();
}
