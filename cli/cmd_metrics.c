/* dfly metrics: an instance's series (GET /v1/instances/{id}/metrics) as a compact terminal
 * chart, one sparkline per series, drawn once or redrawn with --watch until Ctrl-C. -o json and
 * -o yaml print the API's answer unchanged. */
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"

#define ID_MAX_LEN 256
#define MS_PER_S 1000L
#define SINCE_DEFAULT_MS (3600L * MS_PER_S)
#define WATCH_MIN_MS MS_PER_S /* never poll the API faster than this */
#define SLEEP_SLICE_MS 100    /* how soon a Ctrl-C during --watch's pause is seen */
#define TERM_WIDTH_DEFAULT 80
#define SPARK_WIDTH_MIN 10
#define SPARK_WIDTH_MAX 240
#define VALUE_TEXT_MAX 32
#define LABEL_TEXT_MAX 160
#define VALUE_WIDTH 9
/* the text after a sparkline: " latest  max …" */
#define TAIL_WIDTH (1 + VALUE_WIDTH + 6 + VALUE_WIDTH)
#define SPARK_LEVELS 8
#define BYTES_PER_KIB 1024.0
#define THOUSAND 1000.0
#define PERCENT 100.0
#define TIME_TEXT_MAX 32
#define S_PER_MIN 60LL
#define S_PER_HOUR 3600LL

/* Eighth blocks from low to high, and their ASCII stand-ins. */
static const char *const spark_utf8[SPARK_LEVELS] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                                     "\u2585", "\u2586", "\u2587", "\u2588"};
static const char spark_ascii[SPARK_LEVELS + 1] = "_.,-=+*#";

static volatile sig_atomic_t stop_watching;

static void on_sigint(int sig)
{
    (void)sig;
    stop_watching = 1;
}

/* --- values as people read them --------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* 1536 -> "1.5KiB" */
static void bytes_text(char *out, size_t size, double v)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (u < 4 && fabs(v) >= BYTES_PER_KIB) {
        v /= BYTES_PER_KIB;
        u++;
    }
    snprintf(out, size, u ? "%.1f%s" : "%.0f%s", v, units[u]);
}

/* 12345 -> "12.3k"; small numbers keep two decimals unless whole */
static void number_text(char *out, size_t size, double v)
{
    static const char *const units[] = {"", "k", "M", "G", "T"};
    int u = 0;
    while (u < 4 && fabs(v) >= THOUSAND) {
        v /= THOUSAND;
        u++;
    }
    if (u)
        snprintf(out, size, "%.1f%s", v, units[u]);
    else if (v == floor(v))
        snprintf(out, size, "%.0f", v);
    else
        snprintf(out, size, "%.2f", v);
}

/* A value of series name, in the unit its name says. */
static void value_text(char *out, size_t size, const char *name, double v)
{
    int rate = ends_with(name, "_per_sec");
    if (ends_with(name, "_bytes_per_sec") || ends_with(name, "_bytes"))
        bytes_text(out, size, v);
    else if (ends_with(name, "_ratio") || ends_with(name, "_share"))
        snprintf(out, size, "%.1f%%", v * PERCENT);
    else
        number_text(out, size, v);
    size_t len = strlen(out);
    if (rate && len + sizeof("/s") <= size)
        memcpy(out + len, "/s", sizeof("/s"));
}

/* --- the chart -------------------------------------------------------------------------- */

typedef struct chart {
    int ascii;
    int width; /* columns of a sparkline */
    long long from, to, step;
} chart;

/* Averages a series' points into ncols columns of equal time; a column without points is NAN. */
static void bucket_points(const json_t *points, const chart *c, double *cols, int ncols)
{
    int *counts = calloc((size_t)ncols, sizeof(int));
    for (int i = 0; i < ncols; i++)
        cols[i] = 0;
    double span = (double)(c->to - c->from);
    size_t i;
    json_t *p;
    json_array_foreach(points, i, p)
    {
        double t = json_number_value(json_array_get(p, 0));
        int col = span > 0 ? (int)((t - (double)c->from) / span * ncols) : ncols - 1;
        if (col < 0 || col >= ncols)
            col = col < 0 ? 0 : ncols - 1;
        cols[col] += json_number_value(json_array_get(p, 1));
        counts[col]++;
    }
    for (int k = 0; k < ncols; k++)
        cols[k] = counts[k] ? cols[k] / counts[k] : NAN;
    free(counts);
}

/* The sparkline of cols into b: scaled from 0 (or a negative minimum) to the maximum, so that
 * a steady non-zero value shows as a full bar and a quiet one as the lowest. */
static void sparkline(buf *b, const double *cols, int ncols, int ascii)
{
    double lo = 0, hi = 0;
    for (int i = 0; i < ncols; i++)
        if (!isnan(cols[i])) {
            lo = cols[i] < lo ? cols[i] : lo;
            hi = cols[i] > hi ? cols[i] : hi;
        }
    for (int i = 0; i < ncols; i++) {
        if (isnan(cols[i])) {
            buf_append_str(b, " ");
            continue;
        }
        int level = hi > lo ? (int)lround((cols[i] - lo) / (hi - lo) * (SPARK_LEVELS - 1)) : 0;
        if (ascii)
            buf_printf(b, "%c", spark_ascii[level]);
        else
            buf_append_str(b, spark_utf8[level]);
    }
}

/* "ops_per_sec" or "replication_lag_bytes node_1": a series' name in the chart. */
static void series_label(char *out, size_t size, const json_t *s)
{
    const char *name = json_string_value(json_object_get(s, "name"));
    const char *node = json_string_value(json_object_get(s, "node_id"));
    snprintf(out, size, "%s%s%s", name ? name : "?", node ? " " : "", node ? node : "");
}

/* One line: label, sparkline, latest value and the range's maximum. */
static void print_series(FILE *f, const json_t *s, const chart *c, int label_width)
{
    char label[LABEL_TEXT_MAX];
    series_label(label, sizeof(label), s);
    const char *name = json_string_value(json_object_get(s, "name"));
    const json_t *points = json_object_get(s, "points");
    size_t n = json_array_size(points);
    if (n == 0) {
        fprintf(f, "%-*s (no data yet)\n", label_width, label);
        return;
    }
    long long span_steps = c->step > 0 ? (c->to - c->from + c->step - 1) / c->step : c->width;
    int ncols = span_steps < c->width ? (int)(span_steps > 0 ? span_steps : 1) : c->width;
    double *cols = malloc(sizeof(double) * (size_t)ncols);
    bucket_points(points, c, cols, ncols);
    double mx = -INFINITY;
    size_t i;
    json_t *p;
    json_array_foreach(points, i, p)
    {
        double v = json_number_value(json_array_get(p, 1));
        mx = v > mx ? v : mx;
    }
    double last = json_number_value(json_array_get(json_array_get(points, n - 1), 1));
    buf b;
    buf_init(&b);
    sparkline(&b, cols, ncols, c->ascii);
    char vl[VALUE_TEXT_MAX], vmax[VALUE_TEXT_MAX];
    value_text(vl, sizeof(vl), name ? name : "", last);
    value_text(vmax, sizeof(vmax), name ? name : "", mx);
    /* pad a short line (a young instance's few points) so that the figures line up */
    fprintf(f, "%-*s %s%*s %*s  max %s\n", label_width, label, b.data, c->width - ncols, "",
            VALUE_WIDTH, vl, vmax);
    buf_free(&b);
    free(cols);
}

static int term_width(const cli_ctx *x)
{
    struct winsize ws;
    if (x->out_tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *cols = getenv("COLUMNS");
    int n = cols ? atoi(cols) : 0;
    return n > 0 ? n : TERM_WIDTH_DEFAULT;
}

/* Unicode blocks only where they will show: a UTF-8 terminal, and no --ascii. */
static int use_ascii(const cli_ctx *x)
{
    if (x->opt[OPT_ASCII] || !x->out_tty)
        return 1;
    setlocale(LC_CTYPE, "");
    const char *cs = nl_langinfo(CODESET);
    return !cs || strcmp(cs, "UTF-8");
}

/* 3600 -> "1h", 90 -> "90s": a span as it would be typed. */
static void span_text(char *out, size_t size, long long secs)
{
    if (secs >= S_PER_HOUR && secs % S_PER_HOUR == 0)
        snprintf(out, size, "%lldh", secs / S_PER_HOUR);
    else if (secs >= S_PER_MIN && secs % S_PER_MIN == 0)
        snprintf(out, size, "%lldm", secs / S_PER_MIN);
    else
        snprintf(out, size, "%llds", secs);
}

/* The series of the answer, plus an empty one for each name of --names that has no points in
 * the range (the API leaves those out), so that every asked-for line shows. A new reference. */
static json_t *with_missing(const json_t *series, const char *names)
{
    json_t *all = json_copy((json_t *)series);
    for (const char *p = names; p && *p;) {
        size_t len = strcspn(p, ",");
        int found = 0;
        size_t i;
        json_t *s;
        json_array_foreach(series, i, s)
        {
            const char *n = json_string_value(json_object_get(s, "name"));
            found |= n && strlen(n) == len && !strncmp(n, p, len);
        }
        if (!found && len)
            json_array_append_new(
                all, json_pack("{s:s%, s:n, s:[]}", "name", p, len, "node_id", "points"));
        p += len + (p[len] == ',');
    }
    return all;
}

static void draw_chart(cli_ctx *x, const json_t *body, const char *ref, long since_ms)
{
    chart c = {.ascii = use_ascii(x),
               .from = json_integer_value(json_object_get(body, "from")),
               .to = json_integer_value(json_object_get(body, "to")),
               .step = json_integer_value(json_object_get(body, "step"))};
    json_t *series = with_missing(json_object_get(body, "series"), x->opt[OPT_NAMES]);
    int label_width = 0;
    size_t i;
    json_t *s;
    json_array_foreach(series, i, s)
    {
        char label[LABEL_TEXT_MAX];
        series_label(label, sizeof(label), s);
        int len = (int)strlen(label);
        label_width = len > label_width ? len : label_width;
    }
    c.width = term_width(x) - label_width - 1 - TAIL_WIDTH;
    c.width = c.width < SPARK_WIDTH_MIN ? SPARK_WIDTH_MIN
                                        : (c.width > SPARK_WIDTH_MAX ? SPARK_WIDTH_MAX : c.width);
    char at[TIME_TEXT_MAX];
    time_t to = (time_t)c.to;
    struct tm tm;
    strftime(at, sizeof(at), "%Y-%m-%d %H:%M:%SZ", gmtime_r(&to, &tm));
    const char *res = json_string_value(json_object_get(body, "resolution"));
    char since[TIME_TEXT_MAX], step[TIME_TEXT_MAX];
    span_text(since, sizeof(since), since_ms / MS_PER_S);
    span_text(step, sizeof(step), c.step);
    printf("%s  last %s  step %s (%s)  at %s\n", ref, since, step, res ? res : "?", at);
    json_array_foreach(series, i, s)
    {
        print_series(stdout, s, &c, label_width);
    }
    json_decref(series);
    fflush(stdout);
}

/* --- the command ------------------------------------------------------------------------ */

/* Sleeps ms, waking early when Ctrl-C was pressed. */
static void watch_pause(long ms)
{
    for (long slept = 0; slept < ms && !stop_watching; slept += SLEEP_SLICE_MS) {
        struct timespec ts = {0, (SLEEP_SLICE_MS % MS_PER_S) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Draws once (or prints the answer); returns the exit code and the poll interval in *next_ms. */
static int metrics_once(cli_ctx *x, const char *id, const dflyapi_metrics_query *q0, long since_ms,
                        long *next_ms)
{
    dflyapi_metrics_query q = *q0;
    q.from = (long long)time(NULL) - since_ms / MS_PER_S;
    dflyapi_result r = {0};
    dflyapi_err e = dflyapi_metrics_get(cli_api(x), id, &q, &r);
    if (e != DFLYAPI_OK)
        return cli_api_fail_clear(x, e, &r);
    *next_ms = (long)json_integer_value(json_object_get(r.body, "scrape_interval_ms"));
    if (x->out == OUT_JSON && x->opt[OPT_WATCH]) {
        /* a stream: one object per line, as events --follow prints */
        json_dumpf(r.body, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
        putchar('\n');
        fflush(stdout);
    } else if (x->out != OUT_TABLE) {
        if (x->opt[OPT_WATCH]) /* one YAML document per refresh */
            fputs("---\n", stdout);
        out_print(x, r.body, NULL);
        fflush(stdout);
    } else {
        if (x->opt[OPT_WATCH] && x->out_tty)
            fputs("\033[H\033[2J", stdout); /* redraw in place */
        else if (x->opt[OPT_WATCH])
            putchar('\n');
        draw_chart(x, r.body, x->args[0], since_ms);
    }
    dflyapi_result_clear(&r);
    return EXIT_OK;
}

/* A duration option of at least min_ms into *ms (untouched when not given); -1 after a usage
 * error. */
static int duration_option(cli_ctx *x, opt_id id, long min_ms, long *ms)
{
    const char *v = x->opt[id];
    if (!v)
        return 0;
    long got = cli_parse_duration(v);
    if (got < min_ms) {
        cli_fail(EXIT_USAGE, "--%s: '%s' is not a duration of %lds or more, like 30s, 15m or 1h",
                 cli_options[id].name, v, min_ms / MS_PER_S);
        return -1;
    }
    *ms = got;
    return 0;
}

int cmd_metrics(cli_ctx *x)
{
    long since_ms = SINCE_DEFAULT_MS, step_ms = 0, interval_ms = 0;
    if (duration_option(x, OPT_SINCE, MS_PER_S, &since_ms) < 0 ||
        duration_option(x, OPT_STEP, MS_PER_S, &step_ms) < 0 ||
        duration_option(x, OPT_INTERVAL, WATCH_MIN_MS, &interval_ms) < 0)
        return EXIT_USAGE;
    char id[ID_MAX_LEN];
    int rc = cli_instance_id(x, x->args[0], id, sizeof(id));
    if (rc != EXIT_OK)
        return rc;
    dflyapi_metrics_query q = {.names = x->opt[OPT_NAMES], .step = step_ms / MS_PER_S};
    struct sigaction sa = {.sa_handler = on_sigint}, old;
    sigemptyset(&sa.sa_mask);
    if (x->opt[OPT_WATCH])
        sigaction(SIGINT, &sa, &old);
    do {
        long scrape_ms = 0;
        rc = metrics_once(x, id, &q, since_ms, &scrape_ms);
        if (rc != EXIT_OK || !x->opt[OPT_WATCH])
            break;
        long pause = interval_ms ? interval_ms : scrape_ms;
        watch_pause(pause < WATCH_MIN_MS ? WATCH_MIN_MS : pause);
    } while (!stop_watching);
    if (x->opt[OPT_WATCH])
        sigaction(SIGINT, &old, NULL);
    /* Ctrl-C is how --watch is meant to end: a success, whatever the last request did */
    return stop_watching ? EXIT_OK : rc;
}
