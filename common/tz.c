/* Time zones from TZif files (RFC 8536) and POSIX TZ rules; see tz.h. */
#include "tz.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"

#define TZ_DEFAULT_DIR "/usr/share/zoneinfo"
#define TZ_NAME_MAX 255
#define TZ_FILE_MAX (1 << 20) /* real zone files are a few KiB */
#define TZ_MAGIC "TZif"
#define TZ_MAGIC_LEN 4
#define TZ_HEADER_LEN 44
#define TZ_COUNTS_AT 20 /* six 32-bit counts after magic, version and 15 reserved bytes */
#define TZ_TTINFO_LEN 6 /* int32 utoff, uint8 isdst, uint8 desigidx */
#define TZ_FOOTER_MAX 128

#define SECS_PER_MIN 60
#define SECS_PER_HOUR 3600
#define SECS_PER_DAY 86400
#define DAYS_PER_WEEK 7
#define MONTHS_PER_YEAR 12
/* POSIX: a rule's transition happens at 02:00 local time unless it says otherwise. */
#define TZ_RULE_DEFAULT_TIME (2 * SECS_PER_HOUR)
/* Hours a POSIX offset or rule time may have (RFC 8536's extension allows up to 167). */
#define TZ_RULE_HOURS_MAX 167
#define TZ_ABBR_MIN 3
/* Week 5 of an Mm.w.d rule means the last such weekday of the month. */
#define TZ_LAST_WEEK 5
#define TZ_JULIAN_MAX 365
#define TZ_LEAP_DAY_OF_YEAR 60 /* J60 is March 1st: Jn never counts February 29 */
/* Transitions tz_local_to_utc looks at around one local time: real zones have a few at most. */
#define TZ_WINDOW_TRANSITIONS_MAX 256

/* The day a POSIX rule names: Jn (1-365, no Feb 29), n (0-365) or Mm.w.d. */
enum tz_rule_kind { RULE_JULIAN1, RULE_JULIAN0, RULE_MONTH };

typedef struct tz_rule {
    enum tz_rule_kind kind;
    int day;      /* Jn / n: the day; Mm.w.d: d, the weekday 0-6 */
    int week;     /* Mm.w.d: 1-5 */
    int month;    /* Mm.w.d: 1-12 */
    int32_t time; /* seconds after local midnight, in the time in effect before it */
} tz_rule;

/* The POSIX TZ string of a file's footer: what holds after the last transition. */
typedef struct tz_posix {
    int32_t std_off; /* seconds east of UTC */
    int32_t dst_off;
    int has_dst;
    tz_rule start, end; /* DST starts, ends */
} tz_posix;

struct tz_zone {
    char *name;
    size_t count;     /* transitions */
    int64_t *times;   /* ascending UTC times */
    int32_t *offsets; /* offsets[i] holds from times[i] on */
    int32_t initial;  /* offset before the first transition (time type 0) */
    int has_rule;
    tz_posix rule;
};

/* ---------- calendar ---------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Howard Hinnant's days_from_civil / civil_from_days: exact for the whole int64 range we use. */
int64_t tz_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void tz_civil_from_days(int64_t z, int64_t *year, int *month, int *day)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (m <= 2);
    *month = m;
    *day = d;
}

int tz_weekday(int64_t days)
{
    int64_t w = (days + 4) % DAYS_PER_WEEK; /* 1970-01-01 was a Thursday */
    return (int)(w < 0 ? w + DAYS_PER_WEEK : w);
}

int tz_is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int tz_days_in_month(int64_t y, int m)
{
    static const int days[MONTHS_PER_YEAR] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && tz_is_leap(y) ? 29 : days[m - 1];
}

/* ---------- POSIX TZ rules (the footer) ---------- */

/* Local time (seconds since the epoch of the local calendar) of a rule in year y. */
static int64_t rule_local_time(const tz_rule *r, int64_t y)
{
    int64_t jan1 = tz_days_from_civil(y, 1, 1);
    int64_t days;
    if (r->kind == RULE_JULIAN1) {
        days = jan1 + r->day - 1 + (tz_is_leap(y) && r->day >= TZ_LEAP_DAY_OF_YEAR);
    } else if (r->kind == RULE_JULIAN0) {
        days = jan1 + r->day;
    } else {
        int64_t first = tz_days_from_civil(y, r->month, 1);
        int mday = 1 + (r->day - tz_weekday(first) + DAYS_PER_WEEK) % DAYS_PER_WEEK +
                   (r->week - 1) * DAYS_PER_WEEK;
        while (mday > tz_days_in_month(y, r->month))
            mday -= DAYS_PER_WEEK;
        days = first + mday - 1;
    }
    return days * SECS_PER_DAY + r->time;
}

typedef struct tz_event {
    int64_t when;
    int32_t offset; /* from `when` on */
} tz_event;

#define RULE_YEARS 3 /* the year of t and one on either side */
#define RULE_EVENTS (2 * RULE_YEARS)

/* The rule's transitions in years y-1..y+1, ascending. Within a year start and end are sorted by
 * time; across years the generation order breaks ties, so an end at the very instant of the next
 * year's start (a zone on DST all year) leaves DST in effect. */
static void rule_events(const tz_posix *p, int64_t y, tz_event ev[RULE_EVENTS])
{
    int n = 0;
    for (int64_t yy = y - 1; yy <= y + 1; yy++) {
        tz_event s = {rule_local_time(&p->start, yy) - p->std_off, p->dst_off};
        tz_event e = {rule_local_time(&p->end, yy) - p->dst_off, p->std_off};
        if (e.when < s.when) {
            tz_event t = s;
            s = e;
            e = t;
        }
        ev[n++] = s;
        ev[n++] = e;
    }
    /* Insertion sort, stable. */
    for (int i = 1; i < n; i++) {
        tz_event v = ev[i];
        int j = i - 1;
        while (j >= 0 && ev[j].when > v.when) {
            ev[j + 1] = ev[j];
            j--;
        }
        ev[j + 1] = v;
    }
}

static int64_t year_of(int64_t t)
{
    int64_t y;
    int m, d;
    tz_civil_from_days(floor_div(t, SECS_PER_DAY), &y, &m, &d);
    return y;
}

static int32_t rule_offset_at(const tz_posix *p, int64_t t)
{
    if (!p->has_dst)
        return p->std_off;
    t = t < -TZ_TIME_LIMIT ? -TZ_TIME_LIMIT : t > TZ_TIME_LIMIT ? TZ_TIME_LIMIT : t;
    tz_event ev[RULE_EVENTS];
    rule_events(p, year_of(t), ev);
    /* Before the first event of the previous year: the opposite of that event's state. */
    int32_t off = ev[0].offset == p->dst_off ? p->std_off : p->dst_off;
    for (int i = 0; i < RULE_EVENTS && ev[i].when <= t; i++)
        off = ev[i].offset;
    return off;
}

static int rule_next_transition(const tz_posix *p, int64_t t, int64_t *when)
{
    if (!p->has_dst || t >= TZ_TIME_LIMIT)
        return 0;
    t = t < -TZ_TIME_LIMIT ? -TZ_TIME_LIMIT : t;
    /* Years y-1..y+1 around y+1 cover everything up to the end of the year after t's. */
    tz_event ev[RULE_EVENTS];
    rule_events(p, year_of(t) + 1, ev);
    for (int i = 0; i < RULE_EVENTS; i++) {
        if (ev[i].when > t) {
            *when = ev[i].when;
            return 1;
        }
    }
    return 0;
}

/* A cursor over a POSIX TZ string. */
typedef struct tz_scan {
    const char *s;
    int ok;
} tz_scan;

static int scan_digits(tz_scan *c, int max_digits, int *out)
{
    int v = 0, n = 0;
    while (n < max_digits && isdigit((unsigned char)*c->s)) {
        v = v * 10 + (*c->s++ - '0');
        n++;
    }
    if (n == 0)
        c->ok = 0;
    *out = v;
    return n;
}

/* [+-]hh[:mm[:ss]] in seconds, sign included. */
static int32_t scan_hms(tz_scan *c)
{
    int sign = 1, h = 0, m = 0, s = 0;
    if (*c->s == '+' || *c->s == '-')
        sign = *c->s++ == '-' ? -1 : 1;
    scan_digits(c, 3, &h);
    if (*c->s == ':') {
        c->s++;
        scan_digits(c, 2, &m);
        if (*c->s == ':') {
            c->s++;
            scan_digits(c, 2, &s);
        }
    }
    if (h > TZ_RULE_HOURS_MAX || m >= SECS_PER_MIN || s >= SECS_PER_MIN)
        c->ok = 0;
    return sign * (h * SECS_PER_HOUR + m * SECS_PER_MIN + s);
}

/* A zone abbreviation: letters, or anything but '>' inside <...>. */
static void scan_abbr(tz_scan *c)
{
    const char *start = c->s;
    if (*c->s == '<') {
        const char *end = strchr(c->s, '>');
        if (!end || end - start - 1 < TZ_ABBR_MIN) {
            c->ok = 0;
            return;
        }
        c->s = end + 1;
        return;
    }
    while (isalpha((unsigned char)*c->s))
        c->s++;
    if (c->s - start < TZ_ABBR_MIN)
        c->ok = 0;
}

static void scan_rule(tz_scan *c, tz_rule *r)
{
    if (*c->s == 'M') {
        c->s++;
        r->kind = RULE_MONTH;
        scan_digits(c, 2, &r->month);
        if (*c->s++ != '.')
            c->ok = 0;
        scan_digits(c, 1, &r->week);
        if (*c->s++ != '.')
            c->ok = 0;
        scan_digits(c, 1, &r->day);
        if (r->month < 1 || r->month > MONTHS_PER_YEAR || r->week < 1 || r->week > TZ_LAST_WEEK ||
            r->day >= DAYS_PER_WEEK)
            c->ok = 0;
    } else if (*c->s == 'J') {
        c->s++;
        r->kind = RULE_JULIAN1;
        scan_digits(c, 3, &r->day);
        if (r->day < 1 || r->day > TZ_JULIAN_MAX)
            c->ok = 0;
    } else {
        r->kind = RULE_JULIAN0;
        scan_digits(c, 3, &r->day);
        if (r->day > TZ_JULIAN_MAX)
            c->ok = 0;
    }
    r->time = TZ_RULE_DEFAULT_TIME;
    if (c->ok && *c->s == '/') {
        c->s++;
        r->time = scan_hms(c);
    }
}

/* Parses "CET-1CEST,M3.5.0,M10.5.0/3". Returns 0, or -1 when the string is not one. */
static int posix_parse(const char *s, tz_posix *p)
{
    tz_scan c = {s, 1};
    memset(p, 0, sizeof(*p));
    scan_abbr(&c);
    if (!c.ok)
        return -1;
    p->std_off = -scan_hms(&c); /* POSIX offsets count west of Greenwich */
    if (c.ok && *c.s) {
        scan_abbr(&c);
        p->has_dst = 1;
        p->dst_off = p->std_off + SECS_PER_HOUR;
        if (c.ok && *c.s && *c.s != ',')
            p->dst_off = -scan_hms(&c);
        if (c.ok && *c.s == ',') {
            c.s++;
            scan_rule(&c, &p->start);
            if (c.ok && *c.s++ != ',')
                c.ok = 0;
            if (c.ok)
                scan_rule(&c, &p->end);
        } else if (c.ok) {
            /* POSIX leaves the default rule to the implementation; zic always writes one. */
            tz_posix us;
            if (posix_parse("EST5EDT,M3.2.0,M11.1.0", &us) != 0)
                return -1;
            p->start = us.start;
            p->end = us.end;
        }
    }
    if (!c.ok || *c.s)
        return -1;
    if (p->std_off <= -TZ_OFFSET_LIMIT || p->std_off >= TZ_OFFSET_LIMIT ||
        p->dst_off <= -TZ_OFFSET_LIMIT || p->dst_off >= TZ_OFFSET_LIMIT)
        return -1;
    return 0;
}

/* ---------- TZif files ---------- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct tzif_counts {
    uint32_t isut, isstd, leap, time, type, chars;
} tzif_counts;

static size_t tzif_data_len(const tzif_counts *n, size_t time_size)
{
    return (size_t)n->time * time_size + n->time + (size_t)n->type * TZ_TTINFO_LEN + n->chars +
           (size_t)n->leap * (time_size + 4) + n->isstd + n->isut;
}

static int tzif_header(const unsigned char *p, size_t len, tzif_counts *n)
{
    if (len < TZ_HEADER_LEN || memcmp(p, TZ_MAGIC, TZ_MAGIC_LEN) != 0)
        return -1;
    const unsigned char *c = p + TZ_COUNTS_AT;
    *n = (tzif_counts){be32(c), be32(c + 4), be32(c + 8), be32(c + 12), be32(c + 16), be32(c + 20)};
    /* Bounds that keep tzif_data_len from overflowing; the file size limit is far below. */
    if (n->isut > TZ_FILE_MAX || n->isstd > TZ_FILE_MAX || n->leap > TZ_FILE_MAX ||
        n->time > TZ_FILE_MAX || n->type > TZ_FILE_MAX || n->chars > TZ_FILE_MAX)
        return -1;
    return 0;
}

/* Reads one data block (32- or 64-bit times) into z. */
static int tzif_block(tz_zone *z, const unsigned char *p, const tzif_counts *n, size_t time_size,
                      char *err, size_t errlen)
{
    if (n->type == 0 || (n->isut && n->isut != n->type) || (n->isstd && n->isstd != n->type)) {
        snprintf(err, errlen, "time zone '%s': malformed zone file", z->name);
        return -1;
    }
    if (n->leap) {
        snprintf(err, errlen, "time zone '%s' counts leap seconds: not supported", z->name);
        return -1;
    }
    const unsigned char *idx = p + (size_t)n->time * time_size;
    const unsigned char *info = idx + n->time;
    for (uint32_t i = 0; i < n->type; i++) {
        int32_t off = (int32_t)be32(info + (size_t)i * TZ_TTINFO_LEN);
        if (off <= -TZ_OFFSET_LIMIT || off >= TZ_OFFSET_LIMIT) {
            snprintf(err, errlen, "time zone '%s': offset %d out of range", z->name, (int)off);
            return -1;
        }
    }
    z->initial = (int32_t)be32(info);
    z->count = n->time;
    z->times = mem_calloc(n->time ? n->time : 1, sizeof(*z->times));
    z->offsets = mem_calloc(n->time ? n->time : 1, sizeof(*z->offsets));
    for (uint32_t i = 0; i < n->time; i++) {
        const unsigned char *t = p + (size_t)i * time_size;
        z->times[i] = time_size == 8 ? be64(t) : (int32_t)be32(t);
        if (idx[i] >= n->type || (i > 0 && z->times[i] <= z->times[i - 1])) {
            snprintf(err, errlen, "time zone '%s': malformed zone file", z->name);
            return -1;
        }
        z->offsets[i] = (int32_t)be32(info + (size_t)idx[i] * TZ_TTINFO_LEN);
    }
    return 0;
}

/* The footer "\n<POSIX TZ>\n" after the 64-bit block. An unreadable or missing one is left out:
 * the last transition's offset then holds forever, as in a version 1 file. */
static void tzif_footer(tz_zone *z, const unsigned char *p, size_t len)
{
    if (len < 2 || p[0] != '\n')
        return;
    const unsigned char *end = memchr(p + 1, '\n', len - 1);
    size_t n = end ? (size_t)(end - p - 1) : 0;
    if (!end || n == 0 || n >= TZ_FOOTER_MAX)
        return;
    char s[TZ_FOOTER_MAX];
    memcpy(s, p + 1, n);
    s[n] = '\0';
    if (memchr(s, '\0', n) == NULL && posix_parse(s, &z->rule) == 0)
        z->has_rule = 1;
}

static int tzif_parse(tz_zone *z, const unsigned char *p, size_t len, char *err, size_t errlen)
{
    tzif_counts n;
    if (tzif_header(p, len, &n) != 0) {
        snprintf(err, errlen, "time zone '%s': not a TZif zone file", z->name);
        return -1;
    }
    char version = (char)p[TZ_MAGIC_LEN];
    size_t v1 = TZ_HEADER_LEN + tzif_data_len(&n, 4);
    if (v1 > len) {
        snprintf(err, errlen, "time zone '%s': truncated zone file", z->name);
        return -1;
    }
    if (version == '\0')
        return tzif_block(z, p + TZ_HEADER_LEN, &n, 4, err, errlen);
    /* Version 2+: a second header and block with 64-bit times, then the footer. */
    const unsigned char *h2 = p + v1;
    if (tzif_header(h2, len - v1, &n) != 0 || v1 + TZ_HEADER_LEN + tzif_data_len(&n, 8) > len) {
        snprintf(err, errlen, "time zone '%s': truncated zone file", z->name);
        return -1;
    }
    if (tzif_block(z, h2 + TZ_HEADER_LEN, &n, 8, err, errlen) != 0)
        return -1;
    size_t foot = v1 + TZ_HEADER_LEN + tzif_data_len(&n, 8);
    tzif_footer(z, p + foot, len - foot);
    return 0;
}

/* IANA names: letters, digits and - _ + / . with no absolute path and no "..". */
static int zone_name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > TZ_NAME_MAX || name[0] == '/' || strstr(name, ".."))
        return 0;
    for (const char *s = name; *s; s++) {
        if (!isalnum((unsigned char)*s) && !strchr("-_+/.", *s))
            return 0;
    }
    return 1;
}

/* Reads the whole file into *out (malloc'd). Returns its length, or -1 with errno. */
static ssize_t read_small_file(const char *path, unsigned char **out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > TZ_FILE_MAX) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    unsigned char *p = mem_malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, p + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    *out = p;
    return (ssize_t)got;
}

int tz_load(const char *name, tz_zone **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!name || !name[0] || strcmp(name, "UTC") == 0)
        return 0;
    if (!zone_name_ok(name)) {
        snprintf(err, errlen, "unknown time zone '%.64s'", name);
        return -1;
    }
    const char *dir = getenv("TZDIR");
    char path[TZ_NAME_MAX + 256];
    snprintf(path, sizeof(path), "%s/%s", dir && dir[0] ? dir : TZ_DEFAULT_DIR, name);
    unsigned char *data = NULL;
    ssize_t len = read_small_file(path, &data);
    if (len < 0) {
        snprintf(err, errlen, "unknown time zone '%s' (%s: %s)", name, path, strerror(errno));
        return -1;
    }
    int rc = tz_parse(name, data, (size_t)len, out, err, errlen);
    free(data);
    return rc;
}

int tz_parse(const char *name, const void *data, size_t len, tz_zone **out, char *err,
             size_t errlen)
{
    *out = NULL;
    tz_zone *z = mem_calloc(1, sizeof(*z));
    z->name = mem_strdup(name ? name : "");
    if (tzif_parse(z, data, len, err, errlen) != 0) {
        tz_free(z);
        return -1;
    }
    *out = z;
    return 0;
}

void tz_free(tz_zone *z)
{
    if (!z)
        return;
    free(z->name);
    free(z->times);
    free(z->offsets);
    free(z);
}

const char *tz_name(const tz_zone *z)
{
    return z ? z->name : "UTC";
}

/* ---------- queries ---------- */

/* Index of the last transition at or before t, or -1. */
static ssize_t last_transition_at(const tz_zone *z, int64_t t)
{
    size_t lo = 0, hi = z->count; /* answer in [lo-1, hi-1] */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->times[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (ssize_t)lo - 1;
}

int32_t tz_offset_at(const tz_zone *z, int64_t t)
{
    if (!z)
        return 0;
    ssize_t i = last_transition_at(z, t);
    if (z->has_rule && (size_t)(i + 1) == z->count)
        return rule_offset_at(&z->rule, t); /* after the table (or no table at all) */
    return i < 0 ? z->initial : z->offsets[i];
}

int tz_next_transition(const tz_zone *z, int64_t t, int64_t *when)
{
    if (!z)
        return 0;
    ssize_t i = last_transition_at(z, t);
    if ((size_t)(i + 1) < z->count) {
        *when = z->times[i + 1];
        return 1;
    }
    return z->has_rule ? rule_next_transition(&z->rule, t, when) : 0;
}

/* Adds u = local - off to the ascending set out when off is really the offset at u; keeps the
 * TZ_LOCAL_MAX earliest. */
static void local_candidate(const tz_zone *z, int64_t local, int32_t off, int64_t *out, int *n)
{
    int64_t u = local - off;
    if (tz_offset_at(z, u) != off)
        return;
    int i = *n;
    for (int k = 0; k < *n; k++) {
        if (out[k] == u)
            return;
    }
    if (i == TZ_LOCAL_MAX) {
        if (u > out[i - 1])
            return;
        i--; /* drop the latest */
    } else {
        (*n)++;
    }
    while (i > 0 && out[i - 1] > u) {
        out[i] = out[i - 1];
        i--;
    }
    out[i] = u;
}

int tz_local_to_utc(const tz_zone *z, int64_t local, int64_t out[TZ_LOCAL_MAX])
{
    /* Every offset in effect somewhere in the UTC window a local time can map into is a
     * candidate; a candidate u = local - off is real when off is the offset in effect at u. */
    if (local < -TZ_TIME_LIMIT || local > TZ_TIME_LIMIT)
        return 0;
    int n = 0;
    int64_t t = local - TZ_OFFSET_LIMIT, hi = local + TZ_OFFSET_LIMIT, when;
    local_candidate(z, local, tz_offset_at(z, t), out, &n);
    for (int i = 0; i < TZ_WINDOW_TRANSITIONS_MAX && tz_next_transition(z, t, &when) && when <= hi;
         i++) {
        local_candidate(z, local, tz_offset_at(z, when), out, &n);
        t = when;
    }
    return n;
}
