/* Cron expressions: parsing and the next firing time; see cron.h. */
#include "cron.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define CRON_FIELDS 5
#define CRON_TEXT_MAX 1024
#define CRON_NAME_LEN 3    /* JAN, MON */
#define CRON_NUMBER_MAX 9  /* digits: more cannot be in range and would overflow an int */
#define CRON_SHOW_MAX 32   /* characters of a bad token quoted in an error */
#define CRON_DOW_SUNDAY2 7 /* day-of-week 7: Sunday again */
/* cron_next answers for times from 1970 to the year 9999: its results never collide with the
 * negative error codes, and the arithmetic stays far from overflow. */
#define CRON_TIME_LIMIT INT64_C(253402300799)

#define SECS_PER_MIN 60
#define SECS_PER_HOUR 3600
#define SECS_PER_DAY 86400
#define MINUTES_PER_HOUR 60
#define HOURS_PER_DAY 24

enum { F_MINUTE, F_HOUR, F_DOM, F_MONTH, F_DOW };

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const day_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

typedef struct cron_field {
    const char *name;
    int min, max;
    int open_max; /* where `*` and "a/n" end: 6 for day-of-week, whose 7 is Sunday again */
    const char *const *names;
    int nnames;
    int names_base;   /* value of names[0] */
    const char *what; /* for "is not a ..." errors */
} cron_field;

static const cron_field fields[CRON_FIELDS] = {
    [F_MINUTE] = {"minute", 0, 59, 59, NULL, 0, 0, "number (0-59)"},
    [F_HOUR] = {"hour", 0, 23, 23, NULL, 0, 0, "number (0-23)"},
    [F_DOM] = {"day-of-month", 1, 31, 31, NULL, 0, 0, "number (1-31)"},
    [F_MONTH] = {"month", 1, 12, 12, month_names, 12, 1, "month (1-12 or JAN-DEC)"},
    [F_DOW] = {"day-of-week", 0, 7, 6, day_names, 7, 0, "day (0-7 or SUN-SAT)"},
};

static const struct cron_macro {
    const char *name;
    const char *expr;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* A token of the text: pointer and length, not NUL-terminated. */
typedef struct span {
    const char *p;
    size_t len;
} span;

/* ---------- parsing ---------- */

/* One value: a number or (month, day-of-week) a name. Returns 0, or -1 with err. */
static int value_parse(const cron_field *f, span s, int *out, char *err, size_t errlen)
{
    int show = (int)(s.len < CRON_SHOW_MAX ? s.len : CRON_SHOW_MAX);
    if (s.len == 0) {
        snprintf(err, errlen, "%s: a %s is missing", f->name, f->what);
        return -1;
    }
    size_t digits = 0;
    while (digits < s.len && isdigit((unsigned char)s.p[digits]))
        digits++;
    if (digits == s.len) {
        int v = 0;
        for (size_t i = 0; i < s.len && i < CRON_NUMBER_MAX; i++)
            v = v * 10 + (s.p[i] - '0');
        if (s.len > CRON_NUMBER_MAX || v < f->min || v > f->max) {
            snprintf(err, errlen, "%s: %.*s is out of range %d-%d", f->name, show, s.p, f->min,
                     f->max);
            return -1;
        }
        *out = v;
        return 0;
    }
    for (int i = 0; i < f->nnames && s.len == CRON_NAME_LEN; i++) {
        if (strncasecmp(s.p, f->names[i], CRON_NAME_LEN) == 0) {
            *out = f->names_base + i;
            return 0;
        }
    }
    snprintf(err, errlen, "%s: '%.*s' is not a %s", f->name, show, s.p, f->what);
    return -1;
}

/* The step after '/': 1 to the number of values the field has. */
static int step_parse(const cron_field *f, span s, int *out, char *err, size_t errlen)
{
    int show = (int)(s.len < CRON_SHOW_MAX ? s.len : CRON_SHOW_MAX);
    int limit = f->open_max - f->min + 1;
    int v = 0;
    if (s.len == 0) {
        snprintf(err, errlen, "%s: '/' needs a step after it", f->name);
        return -1;
    }
    for (size_t i = 0; i < s.len; i++) {
        if (!isdigit((unsigned char)s.p[i])) {
            snprintf(err, errlen, "%s: step '%.*s' is not a number", f->name, show, s.p);
            return -1;
        }
        if (i < CRON_NUMBER_MAX)
            v = v * 10 + (s.p[i] - '0');
    }
    if (s.len > CRON_NUMBER_MAX || v < 1 || v > limit) {
        snprintf(err, errlen, "%s: step '%.*s' is out of range 1-%d", f->name, show, s.p, limit);
        return -1;
    }
    *out = v;
    return 0;
}

/* One element of a list: `*`, a, a-b, each with an optional /step. Sets its bits. */
static int element_parse(const cron_field *f, span s, uint64_t *bits, char *err, size_t errlen)
{
    const char *slash = memchr(s.p, '/', s.len);
    span base = {s.p, slash ? (size_t)(slash - s.p) : s.len};
    int lo, hi, step = 1;
    if (base.len == 1 && base.p[0] == '*') {
        lo = f->min;
        hi = f->open_max;
    } else {
        const char *dash = memchr(base.p, '-', base.len);
        span a = {base.p, dash ? (size_t)(dash - base.p) : base.len};
        if (value_parse(f, a, &lo, err, errlen) != 0)
            return -1;
        hi = slash && lo < f->open_max ? f->open_max : lo; /* "a/n": a to the end */
        if (dash) {
            span b = {dash + 1, base.len - a.len - 1};
            if (value_parse(f, b, &hi, err, errlen) != 0)
                return -1;
            if (f == &fields[F_DOW] && hi == 0 && lo > 0)
                hi = CRON_DOW_SUNDAY2; /* SAT-SUN */
            if (lo > hi) {
                snprintf(err, errlen, "%s: range %.*s is reversed (%d > %d)", f->name,
                         (int)(base.len < CRON_SHOW_MAX ? base.len : CRON_SHOW_MAX), base.p, lo,
                         hi);
                return -1;
            }
        }
    }
    if (slash && step_parse(f, (span){slash + 1, s.len - base.len - 1}, &step, err, errlen) != 0)
        return -1;
    for (int v = lo; v <= hi; v += step)
        *bits |= UINT64_C(1) << v;
    return 0;
}

/* A field: a comma-separated list of elements. */
static int field_parse(const cron_field *f, span s, uint64_t *bits, char *err, size_t errlen)
{
    *bits = 0;
    const char *p = s.p, *end = s.p + s.len;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        span el = {p, (size_t)((comma ? comma : end) - p)};
        if (el.len == 0) {
            snprintf(err, errlen, "%s: empty element in list '%.*s'", f->name,
                     (int)(s.len < CRON_SHOW_MAX ? s.len : CRON_SHOW_MAX), s.p);
            return -1;
        }
        if (element_parse(f, el, bits, err, errlen) != 0)
            return -1;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

/* Splits text at blanks into at most max tokens; returns how many there are (even beyond max). */
static int split_fields(const char *text, span *out, int max)
{
    int n = 0;
    const char *p = text;
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            return n;
        const char *start = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        if (n < max)
            out[n] = (span){start, (size_t)(p - start)};
        n++;
    }
}

static int macro_expand(span tok, int ntok, const char **expr, char *err, size_t errlen)
{
    int show = (int)(tok.len < CRON_SHOW_MAX ? tok.len : CRON_SHOW_MAX);
    if (tok.len == strlen("@reboot") && strncasecmp(tok.p, "@reboot", tok.len) == 0) {
        snprintf(err, errlen, "@reboot is not supported: a schedule needs times");
        return -1;
    }
    for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++) {
        if (tok.len == strlen(macros[i].name) && strncasecmp(tok.p, macros[i].name, tok.len) == 0) {
            if (ntok != 1) {
                snprintf(err, errlen, "%s takes no fields", macros[i].name);
                return -1;
            }
            *expr = macros[i].expr;
            return 0;
        }
    }
    snprintf(err, errlen,
             "unknown macro '%.*s' (use @yearly, @annually, @monthly, @weekly, @daily, "
             "@midnight or @hourly)",
             show, tok.p);
    return -1;
}

int cron_parse(const char *text, cron_expr *out, char *err, size_t errlen)
{
    static const uint8_t star_flag[CRON_FIELDS] = {CRON_MIN_STAR, CRON_HOUR_STAR, CRON_DOM_STAR, 0,
                                                   CRON_DOW_STAR};
    memset(out, 0, sizeof(*out));
    if (!text || strnlen(text, CRON_TEXT_MAX + 1) > CRON_TEXT_MAX) {
        snprintf(err, errlen, "cron expression missing or longer than %d characters",
                 CRON_TEXT_MAX);
        return -1;
    }
    span tok[CRON_FIELDS];
    int n = split_fields(text, tok, CRON_FIELDS);
    if (n > 0 && tok[0].p[0] == '@') {
        if (macro_expand(tok[0], n, &text, err, errlen) != 0)
            return -1;
        n = split_fields(text, tok, CRON_FIELDS);
    }
    if (n != CRON_FIELDS) {
        snprintf(err, errlen,
                 "expected 5 fields (minute hour day-of-month month day-of-week), got %d", n);
        return -1;
    }
    uint64_t bits[CRON_FIELDS];
    for (int i = 0; i < CRON_FIELDS; i++) {
        if (field_parse(&fields[i], tok[i], &bits[i], err, errlen) != 0)
            return -1;
        if (tok[i].p[0] == '*')
            out->flags |= star_flag[i];
    }
    if (bits[F_DOW] >> CRON_DOW_SUNDAY2 & 1)
        bits[F_DOW] = (bits[F_DOW] | 1) & ~(UINT64_C(1) << CRON_DOW_SUNDAY2);
    out->minutes = bits[F_MINUTE];
    out->hours = (uint32_t)bits[F_HOUR];
    out->days = (uint32_t)bits[F_DOM];
    out->months = (uint16_t)bits[F_MONTH];
    out->weekdays = (uint8_t)bits[F_DOW];
    return 0;
}

/* ---------- next time ---------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Whether local calendar day `days` (since 1970-01-01) is one e fires on. */
static int day_matches(const cron_expr *e, int64_t days)
{
    int64_t y;
    int m, d;
    tz_civil_from_days(days, &y, &m, &d);
    if (!(e->months >> m & 1))
        return 0;
    int dom = e->days >> d & 1;
    int dow = e->weekdays >> tz_weekday(days) & 1;
    if (e->flags & (CRON_DOM_STAR | CRON_DOW_STAR))
        return dom && dow;
    return dom || dow;
}

/* The earliest firing time after `after` among the minutes of local day `day`, or -1. */
static int64_t day_first_after(const cron_expr *e, int64_t day, int64_t after, const tz_zone *z)
{
    int64_t base = day * SECS_PER_DAY;
    /* Usually the offset is the same all around the day: local order is UTC order and the first
     * matching minute after `after` is the answer. */
    int64_t lo = base - TZ_OFFSET_LIMIT, hi = base + SECS_PER_DAY + TZ_OFFSET_LIMIT, when;
    int steady = !tz_next_transition(z, lo, &when) || when > hi;
    int32_t off = tz_offset_at(z, lo);
    int every_occurrence = (e->flags & (CRON_MIN_STAR | CRON_HOUR_STAR)) != 0;
    int64_t best = -1;
    for (int h = 0; h < HOURS_PER_DAY; h++) {
        if (!(e->hours >> h & 1))
            continue;
        for (int m = 0; m < MINUTES_PER_HOUR; m++) {
            if (!(e->minutes >> m & 1))
                continue;
            int64_t local = base + h * SECS_PER_HOUR + m * SECS_PER_MIN;
            if (steady) {
                if (local - off > after)
                    return local - off;
                continue;
            }
            int64_t u[TZ_LOCAL_MAX];
            int n = tz_local_to_utc(z, local, u); /* 0: skipped by a clock change */
            if (n > 1 && !every_occurrence)
                n = 1; /* a repeated fixed time fires at its first occurrence only */
            for (int i = 0; i < n; i++) {
                if (u[i] > after && (best < 0 || u[i] < best))
                    best = u[i];
            }
        }
    }
    return best;
}

int64_t cron_next_zone(const cron_expr *e, int64_t after, const tz_zone *z)
{
    if (after < 0 || after > CRON_TIME_LIMIT)
        return CRON_NONE;
    /* Local days from the one before `after`'s: a clock change can put an earlier local day's
     * minutes after it. Around a change local order is not UTC order, so once a day has an
     * answer the next day is checked too. */
    int64_t first = floor_div(after + tz_offset_at(z, after), SECS_PER_DAY) - 1;
    int64_t limit = after + (int64_t)CRON_HORIZON_DAYS * SECS_PER_DAY;
    int64_t best = -1, best_day = 0;
    for (int64_t day = first; day <= first + CRON_HORIZON_DAYS + 2; day++) {
        if (best >= 0 && day > best_day + 1)
            break;
        if (!day_matches(e, day))
            continue;
        int64_t t = day_first_after(e, day, after, z);
        if (t >= 0 && (best < 0 || t < best)) {
            best = t;
            best_day = day;
        }
    }
    return best >= 0 && best <= limit ? best : CRON_NONE;
}

int64_t cron_next(const cron_expr *e, int64_t after, const char *tz)
{
    tz_zone *z;
    char err[TZ_ERR_MAX];
    if (tz_load(tz, &z, err, sizeof(err)) != 0)
        return CRON_ERR_ZONE;
    int64_t t = cron_next_zone(e, after, z);
    tz_free(z);
    return t;
}

int cron_matches(const cron_expr *e, int64_t t, const tz_zone *z)
{
    int64_t local = t + tz_offset_at(z, t);
    int64_t day = floor_div(local, SECS_PER_DAY);
    int64_t sec = local - day * SECS_PER_DAY;
    if (sec % SECS_PER_MIN != 0 || !day_matches(e, day))
        return 0;
    return (e->hours >> (sec / SECS_PER_HOUR) & 1) &&
           (e->minutes >> (sec % SECS_PER_HOUR / SECS_PER_MIN) & 1);
}
