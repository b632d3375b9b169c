/* Flags and configuration: defaults, config file, environment, command line. */
#include "flags.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

#define CONFIG_LINE_MAX 65536
#define CONFIG_WORDS_MAX 64

static int name_eq(const char *a, const char *b, size_t blen)
{
    size_t i = 0;
    for (; i < blen && a[i]; i++) {
        char x = a[i] == '-' ? '_' : (char)tolower((unsigned char)a[i]);
        char y = b[i] == '-' ? '_' : (char)tolower((unsigned char)b[i]);
        if (x != y)
            return 0;
    }
    return a[i] == '\0' && i == blen;
}

static const flag_def *find_n(const flag_def *defs, const char *name, size_t len)
{
    for (const flag_def *d = defs; d->name; d++)
        if (name_eq(d->name, name, len))
            return d;
    return NULL;
}

const flag_def *flags_find(const flag_def *defs, const char *name)
{
    return find_n(defs, name, strlen(name));
}

int flags_parse_int(const char *s, long long *out)
{
    if (!*s)
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int flags_parse_bytes(const char *s, long long *out)
{
    if (!*s)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return -1;
    long long mul = 1;
    if (*end) {
        static const struct {
            const char *unit;
            long long mul;
        } units[] = {{"b", 1},
                     {"k", 1000},
                     {"kb", 1024},
                     {"m", 1000000},
                     {"mb", 1024 * 1024},
                     {"g", 1000000000LL},
                     {"gb", 1LL << 30},
                     {"t", 1000000000000LL},
                     {"tb", 1LL << 40}};
        size_t i;
        for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
            if (!strcasecmp(end, units[i].unit))
                break;
        if (i == sizeof(units) / sizeof(units[0]))
            return -1;
        mul = units[i].mul;
    } else if (strchr(s, '.') || strchr(s, 'e') || strchr(s, 'E')) {
        return -1; /* a plain number of bytes is an integer */
    }
    double total = v * (double)mul;
    if (total > (double)LLONG_MAX)
        return -1;
    *out = (long long)total;
    return 0;
}

int flags_parse_bool(const char *s, int *out)
{
    if (!strcasecmp(s, "yes") || !strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "on"))
        *out = 1;
    else if (!strcasecmp(s, "no") || !strcasecmp(s, "false") || !strcmp(s, "0") ||
             !strcasecmp(s, "off"))
        *out = 0;
    else
        return -1;
    return 0;
}

/* A replaced string value may still be read by another thread (CONFIG SET while a client
 * authenticates): old values are kept until flags_free instead of being freed at once. */
static struct retired {
    struct retired *next;
    char *s;
} * retired_list;
static pthread_mutex_t retired_lock = PTHREAD_MUTEX_INITIALIZER;

static void retire(char *s)
{
    if (!s)
        return;
    struct retired *r = mem_malloc(sizeof(*r));
    r->s = s;
    pthread_mutex_lock(&retired_lock);
    r->next = retired_list;
    retired_list = r;
    pthread_mutex_unlock(&retired_lock);
}

int flags_set(const flag_def *d, const char *value, char *err, size_t errlen)
{
    long long v;
    int b;
    switch (d->type) {
    case FLAG_STR: {
        char **t = d->target;
        char *copy = mem_strdup(value);
        retire(*t);
        *t = copy;
        return 0;
    }
    case FLAG_BOOL:
        if (flags_parse_bool(value, &b)) {
            snprintf(err, errlen, "invalid boolean '%s' for --%s (use yes or no)", value, d->name);
            return -1;
        }
        *(int *)d->target = b;
        return 0;
    case FLAG_INT:
    case FLAG_BYTES:
        if ((d->type == FLAG_INT ? flags_parse_int(value, &v) : flags_parse_bytes(value, &v))) {
            snprintf(err, errlen, "invalid %s '%s' for --%s",
                     d->type == FLAG_INT ? "integer" : "size", value, d->name);
            return -1;
        }
        if ((d->min || d->max) && (v < d->min || v > d->max)) {
            snprintf(err, errlen, "--%s must be between %lld and %lld, got %lld", d->name, d->min,
                     d->max, v);
            return -1;
        }
        *(long long *)d->target = v;
        return 0;
    }
    snprintf(err, errlen, "bad flag type");
    return -1;
}

void flags_format(const flag_def *d, buf *out)
{
    switch (d->type) {
    case FLAG_STR: {
        const char *s = *(char **)d->target;
        buf_append_str(out, s ? s : "");
        break;
    }
    case FLAG_BOOL: buf_append_str(out, *(int *)d->target ? "yes" : "no"); break;
    case FLAG_INT:
    case FLAG_BYTES: buf_printf(out, "%lld", *(long long *)d->target); break;
    }
}

int flags_split_line(char *line, char **words, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p)
            return n;
        if (n == max)
            return -1;
        if (*p == '"' || *p == '\'') {
            char q = *p++;
            char *w = p, *o = p;
            while (*p && *p != q) {
                if (q == '"' && *p == '\\' && p[1]) {
                    p++;
                    switch (*p) {
                    case 'n': *o++ = '\n'; break;
                    case 't': *o++ = '\t'; break;
                    case 'r': *o++ = '\r'; break;
                    default: *o++ = *p; break;
                    }
                    p++;
                } else {
                    *o++ = *p++;
                }
            }
            if (*p != q)
                return -1;
            p++;
            if (*p && !isspace((unsigned char)*p))
                return -1;
            *o = '\0';
            words[n++] = w;
        } else {
            words[n++] = p;
            while (*p && !isspace((unsigned char)*p))
                p++;
            if (*p)
                *p++ = '\0';
        }
    }
}

int flags_load_file(const flag_def *defs, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open config file '%s': %s", path, strerror(errno));
        return -1;
    }
    char *line = mem_malloc(CONFIG_LINE_MAX);
    int lineno = 0, rc = 0;
    while (fgets(line, CONFIG_LINE_MAX, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == CONFIG_LINE_MAX - 1 && line[len - 1] != '\n') {
            snprintf(err, errlen, "%s:%d: line too long", path, lineno);
            rc = -1;
            break;
        }
        char *words[CONFIG_WORDS_MAX];
        int n = flags_split_line(line, words, CONFIG_WORDS_MAX);
        if (n < 0) {
            snprintf(err, errlen, "%s:%d: unbalanced quotes or too many words", path, lineno);
            rc = -1;
            break;
        }
        if (n == 0 || words[0][0] == '#')
            continue;
        const char *name = words[0];
        if (name[0] == '-' && name[1] == '-')
            name += 2;
        char *eq = strchr(words[0], '=');
        const flag_def *d;
        const char *value;
        if (n == 1 && eq) { /* also accept --name=value lines (Dragonfly flagfile style) */
            d = find_n(defs, name, (size_t)(eq - name));
            value = eq + 1;
        } else {
            d = flags_find(defs, name);
            value = n >= 2 ? words[1] : "";
            if (n > 2) {
                snprintf(err, errlen, "%s:%d: '%s' takes one value", path, lineno, name);
                rc = -1;
                break;
            }
        }
        if (!d) {
            snprintf(err, errlen, "%s:%d: unknown option '%s'", path, lineno, name);
            rc = -1;
            break;
        }
        char e2[FLAGS_ERR_MAX];
        if (flags_set(d, value, e2, sizeof(e2))) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, e2);
            rc = -1;
            break;
        }
    }
    free(line);
    fclose(f);
    return rc;
}

static int load_env(const flag_def *defs, const char *prefix, char *err, size_t errlen)
{
    for (const flag_def *d = defs; d->name; d++) {
        char var[128];
        size_t n = (size_t)snprintf(var, sizeof(var), "%s", prefix);
        for (const char *p = d->name; *p && n + 1 < sizeof(var); p++)
            var[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
        var[n] = '\0';
        const char *v = getenv(var);
        if (v && flags_set(d, v, err, errlen))
            return -1;
    }
    return 0;
}

int flags_init(const flag_def *defs, int argc, char **argv, const char *env_prefix, char *err,
               size_t errlen)
{
    for (const flag_def *d = defs; d->name; d++)
        if (flags_set(d, d->defval ? d->defval : "", err, errlen))
            return FLAGS_ERROR;

    /* First pass: --help, --version and the config file. */
    const char *config = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return FLAGS_HELP;
        if (!strcmp(a, "--version") || !strcmp(a, "-v"))
            return FLAGS_VERSION;
        if (!strncmp(a, "--config=", 9)) {
            config = a + 9;
        } else if (!strcmp(a, "--config")) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "--config needs a value");
                return FLAGS_ERROR;
            }
            config = argv[++i];
        } else if (a[0] != '-') {
            if (i > 1 && argv[i - 1][0] == '-' && !strchr(argv[i - 1], '='))
                continue; /* the value of the previous flag */
            if (config) {
                snprintf(err, errlen, "unexpected argument '%s'", a);
                return FLAGS_ERROR;
            }
            config = a;
        }
    }
    if (config && flags_load_file(defs, config, err, errlen))
        return FLAGS_ERROR;
    if (env_prefix && load_env(defs, env_prefix, err, errlen))
        return FLAGS_ERROR;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-')
            continue; /* the config file, handled above */
        if (a[1] != '-') {
            snprintf(err, errlen, "unknown flag '%s' (flags look like --name=value)", a);
            return FLAGS_ERROR;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        if (name_eq("config", name, nlen)) {
            if (!eq)
                i++;
            continue;
        }
        const flag_def *d = find_n(defs, name, nlen);
        if (!d) {
            snprintf(err, errlen, "unknown flag '--%.*s' (see --help)", (int)nlen, name);
            return FLAGS_ERROR;
        }
        const char *value;
        if (eq) {
            value = eq + 1;
        } else if (d->type == FLAG_BOOL && (i + 1 >= argc || argv[i + 1][0] == '-' ||
                                            flags_parse_bool(argv[i + 1], &(int){0}))) {
            value = "yes";
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            snprintf(err, errlen, "--%s needs a value", d->name);
            return FLAGS_ERROR;
        }
        if (flags_set(d, value, err, errlen))
            return FLAGS_ERROR;
    }
    return FLAGS_OK;
}

void flags_print_help(const flag_def *defs, FILE *out, const char *usage)
{
    fprintf(out,
            "%s\n\nFlags (also settable in the config file as 'name value' and in the "
            "environment):\n",
            usage);
    for (const flag_def *d = defs; d->name; d++) {
        const char *kind = d->type == FLAG_STR    ? "string"
                           : d->type == FLAG_BOOL ? "bool"
                           : d->type == FLAG_INT  ? "int"
                                                  : "bytes";
        fprintf(out, "  --%-28s %s (%s, default: \"%s\")\n", d->name, d->help, kind,
                d->defval ? d->defval : "");
    }
}

void flags_free(const flag_def *defs)
{
    pthread_mutex_lock(&retired_lock);
    while (retired_list) {
        struct retired *r = retired_list;
        retired_list = r->next;
        free(r->s);
        free(r);
    }
    pthread_mutex_unlock(&retired_lock);
    for (const flag_def *d = defs; d->name; d++)
        if (d->type == FLAG_STR) {
            free(*(char **)d->target);
            *(char **)d->target = NULL;
        }
}
