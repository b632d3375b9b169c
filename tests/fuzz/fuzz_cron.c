/* libFuzzer target: cron expressions (common/cron.c) and TZif zone files (common/tz.c).
 *
 * An input that starts with "TZif" is a zone file: what tz_parse accepts must answer every
 * query consistently (transitions ascend, local_to_utc inverts the offsets). Any other input is
 * a cron expression: it parses or says why, and when it parses, cron_next from a few starting
 * times in a few zones gives a time after the start that the expression matches, with no
 * firing time in between. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "tz.h"

#define FUZZ_TEXT_MAX 2048
#define FUZZ_TRANSITIONS 64
/* Gaps up to this many minutes are checked minute by minute for an earlier firing time. */
#define FUZZ_SCAN_MINUTES (3 * 24 * 60)
#define SECS_PER_MIN 60
#define FUZZ_WINDOW_TRANSITIONS 200

static const char *const zone_names[] = {NULL, "Europe/Berlin", "America/New_York",
                                         "Australia/Lord_Howe", "Asia/Kathmandu"};
#define NZONES (sizeof(zone_names) / sizeof(zone_names[0]))
static tz_zone *zones[NZONES];

/* Starting times: around DST changes, month and year ends, a leap day and the far future. */
static const int64_t starts[] = {
    1711846800, /* 2024-03-31 01:00 UTC: Berlin springs forward */
    1729990800, /* 2024-10-27 01:00 UTC: Berlin falls back */
    1730613600, /* 2024-11-03 06:00 UTC: New York falls back */
    1709164800, /* 2024-02-29 00:00 UTC */
    1735689599, /* 2024-12-31 23:59:59 UTC */
    4102444800, /* 2100-01-01 00:00 UTC */
};
#define NSTARTS (sizeof(starts) / sizeof(starts[0]))

static void zones_load(void)
{
    static int loaded;
    char err[TZ_ERR_MAX];
    if (loaded)
        return;
    loaded = 1;
    for (size_t i = 1; i < NZONES; i++) {
        if (tz_load(zone_names[i], &zones[i], err, sizeof(err)) != 0)
            zones[i] = NULL; /* no tzdata: UTC again */
    }
}

/* Whether t is a time cron_next may return: its local minute matches and, for a local time that
 * occurs twice, it is the occurrence the DST rule keeps. */
static int fires_at(const cron_expr *e, int64_t t, const tz_zone *z)
{
    if (!cron_matches(e, t, z))
        return 0;
    int64_t u[TZ_LOCAL_MAX];
    int n = tz_local_to_utc(z, t + tz_offset_at(z, t), u);
    if (n < 1)
        abort(); /* t itself has that local time */
    return (e->flags & (CRON_MIN_STAR | CRON_HOUR_STAR)) || u[0] == t;
}

static void check_next(const cron_expr *e, int64_t after, const tz_zone *z)
{
    int64_t t = cron_next_zone(e, after, z);
    if (t == CRON_NONE)
        return;
    if (t <= after || t - after > (int64_t)(CRON_HORIZON_DAYS + 1) * 86400 || !fires_at(e, t, z))
        abort();
    /* Nothing fires in between (zones here have whole-minute offsets since 1970). */
    if (t - after <= (int64_t)FUZZ_SCAN_MINUTES * SECS_PER_MIN) {
        for (int64_t m = (after / SECS_PER_MIN + 1) * SECS_PER_MIN; m < t; m += SECS_PER_MIN) {
            if (fires_at(e, m, z))
                abort();
        }
    }
    /* And the next one after it is later still. */
    int64_t t2 = cron_next_zone(e, t, z);
    if (t2 != CRON_NONE && t2 <= t)
        abort();
}

static void fuzz_expr(const uint8_t *data, size_t size)
{
    char text[FUZZ_TEXT_MAX + 1];
    size_t n = size < FUZZ_TEXT_MAX ? size : FUZZ_TEXT_MAX;
    memcpy(text, data, n);
    text[n] = '\0';
    cron_expr e;
    char err[CRON_ERR_MAX];
    err[0] = '\0';
    if (cron_parse(text, &e, err, sizeof(err)) != 0) {
        if (!err[0])
            abort(); /* a failure always says why */
        return;
    }
    if (!e.minutes || !e.hours || !e.days || !e.months || !e.weekdays)
        abort(); /* every field allows something */
    zones_load();
    /* The input picks two starts per zone, so runs cover every combination over time. */
    unsigned h = 0;
    for (size_t i = 0; i < n; i++)
        h = h * 31 + (unsigned char)text[i];
    for (size_t zi = 0; zi < NZONES; zi++) {
        check_next(&e, starts[(h + zi) % NSTARTS], zones[zi]);
        check_next(&e, starts[(h / NSTARTS + zi) % NSTARTS] + (int64_t)(h % 100000), zones[zi]);
    }
}

static int transitions_between(const tz_zone *z, int64_t from, int64_t to)
{
    int64_t t = from, when;
    int n = 0;
    while (n <= FUZZ_WINDOW_TRANSITIONS && tz_next_transition(z, t, &when) && when <= to) {
        n++;
        t = when;
    }
    return n;
}

static void fuzz_zone(const uint8_t *data, size_t size)
{
    tz_zone *z;
    char err[TZ_ERR_MAX];
    err[0] = '\0';
    if (tz_parse("fuzz", data, size, &z, err, sizeof(err)) != 0) {
        if (!err[0])
            abort();
        return;
    }
    int64_t t = -TZ_TIME_LIMIT - 1, when;
    for (int i = 0; i < FUZZ_TRANSITIONS && tz_next_transition(z, t, &when); i++) {
        if (when <= t)
            abort();
        t = when;
    }
    for (size_t i = 0; i < NSTARTS; i++) {
        int64_t local = starts[i] + tz_offset_at(z, starts[i]);
        if (transitions_between(z, local - TZ_OFFSET_LIMIT, local + TZ_OFFSET_LIMIT) >
            FUZZ_WINDOW_TRANSITIONS)
            continue; /* a pathological file: tz_local_to_utc looks at a bounded number */
        int64_t u[TZ_LOCAL_MAX];
        int n = tz_local_to_utc(z, local, u);
        int found = 0;
        for (int k = 0; k < n; k++) {
            if ((k > 0 && u[k] <= u[k - 1]) || u[k] + tz_offset_at(z, u[k]) != local)
                abort();
            found |= u[k] == starts[i];
        }
        if (!found && n < TZ_LOCAL_MAX)
            abort();
    }
    tz_free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 4 && memcmp(data, "TZif", 4) == 0)
        fuzz_zone(data, size);
    else
        fuzz_expr(data, size);
    return 0;
}
