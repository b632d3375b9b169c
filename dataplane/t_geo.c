/* Geo commands (Redis's geo.c): GEOADD GEODIST GEOHASH GEOPOS GEOSEARCH GEOSEARCHSTORE GEORADIUS
 * GEORADIUSBYMEMBER and their _RO variants. Points live in sorted sets, scored by their 52-bit
 * geohash (geohash.h), so GEOADD is a ZADD and any sorted-set command works on them.
 *
 * A search scans the score ranges of the nine geohash boxes around the center, keeps the points
 * within the shape, then sorts them by distance. Everything follows Redis 7.0 step by step, the
 * sorts included (a stable sort for a full sort, Redis's partial quicksort when COUNT cuts the
 * result), so results, their order among equal distances, and every printed digit match. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "db.h"
#include "geohash.h"
#include "reply.h"
#include "t_zset.h"
#include "zset.h"

#define ERR_BAD_MEMBER "ERR could not decode requested zset member"
#define ERR_UNIT "ERR unsupported unit provided. please use M, KM, FT, MI"
#define ERR_NEG_RADIUS "ERR radius cannot be negative"
#define ERR_NEG_BOX "ERR height or width cannot be negative"
#define ERR_COUNT "ERR COUNT must be > 0"
#define ERR_ANY "ERR the ANY argument requires COUNT argument"

#define GEOHASH_STR_LEN 11 /* characters of a standard geohash string GEOHASH returns */
#define GEOHASH_CHAR_BITS 5
#define GEOHASH_LAT_LIMIT 90 /* the standard geohash's latitude range */
#define DISTANCE_STR_MAX 128
#define COORD_STR_MAX 5200 /* a long double printed with %.17Lf */
#define NEIGHBOR_BOXES 9
#define PQSORT_SMALL 7 /* Redis's pqsort: insertion sort below this many elements */
#define PQSORT_NINTHER 40

/* The search command variants (Redis's RADIUS_* and GEOSEARCH flags). */
enum {
    GEO_RADIUS_COORDS = 1 << 0, /* GEORADIUS: center given as longitude latitude */
    GEO_RADIUS_MEMBER = 1 << 1, /* GEORADIUSBYMEMBER: center given as a member */
    GEO_NOSTORE = 1 << 2,       /* the _RO variants */
    GEO_SEARCH = 1 << 3,        /* GEOSEARCH: FROMMEMBER/FROMLONLAT, BYRADIUS/BYBOX */
    GEO_SEARCHSTORE = 1 << 4,   /* GEOSEARCHSTORE */
};
enum { SORT_NONE = 0, SORT_ASC, SORT_DESC };

/* Units and their size in meters. */
static const struct {
    const char *name;
    double meters;
} units[] = {{"m", 1}, {"km", 1000}, {"ft", 0.3048}, {"mi", 1609.34}};

/* ---- argument helpers ----------------------------------------------------------------------- */

/* Redis's extractLongLatOrReply: argv[0] longitude, argv[1] latitude. */
static int lonlat_or_reply(cmd_ctx *c, const slice *argv, double *xy)
{
    for (int i = 0; i < 2; i++)
        if (zset_double_or_reply(c, &argv[i], &xy[i], NULL))
            return -1;
    if (xy[0] < GEO_LONG_MIN || xy[0] > GEO_LONG_MAX || xy[1] < GEO_LAT_MIN ||
        xy[1] > GEO_LAT_MAX) {
        reply_errorf(c, "ERR invalid longitude,latitude pair %f,%f", xy[0], xy[1]);
        return -1;
    }
    return 0;
}

/* Meters per unit, or -1 after replying. */
static double unit_or_reply(cmd_ctx *c, const slice *a)
{
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (arg_eq(a, units[i].name))
            return units[i].meters;
    reply_error(c, ERR_UNIT);
    return -1;
}

/* "<radius> <unit>" */
static int distance_or_reply(cmd_ctx *c, const slice *argv, geo_shape *shape)
{
    double d;
    if (zset_double_or_reply(c, &argv[0], &d, "ERR need numeric radius"))
        return -1;
    if (d < 0) {
        reply_error(c, ERR_NEG_RADIUS);
        return -1;
    }
    double to_meters = unit_or_reply(c, &argv[1]);
    if (to_meters < 0)
        return -1;
    shape->radius = d;
    shape->conversion = to_meters;
    return 0;
}

/* "<width> <height> <unit>" */
static int box_or_reply(cmd_ctx *c, const slice *argv, geo_shape *shape)
{
    double w, h;
    if (zset_double_or_reply(c, &argv[0], &w, "ERR need numeric width") ||
        zset_double_or_reply(c, &argv[1], &h, "ERR need numeric height"))
        return -1;
    if (h < 0 || w < 0) {
        reply_error(c, ERR_NEG_BOX);
        return -1;
    }
    double to_meters = unit_or_reply(c, &argv[2]);
    if (to_meters < 0)
        return -1;
    shape->width = w;
    shape->height = h;
    shape->conversion = to_meters;
    return 0;
}

/* Redis converts a score to the hash bits with a plain (uint64_t) cast; this is what that cast
 * gives on x86-64 for any double, without the undefined behaviour of doing it for values out
 * of range (ZADD may have stored anything). */
static uint64_t score_bits(double score)
{
    const double two63 = 9223372036854775808.0;
    if (score >= 0 && score < two63)
        return (uint64_t)score;
    if (score >= two63 && score < 2 * two63)
        return (uint64_t)(int64_t)(score - two63) ^ (1ULL << 63);
    if (score < 0 && score >= -two63)
        return (uint64_t)(int64_t)score;
    return score >= 2 * two63 ? 0 : 1ULL << 63; /* cvttsd2si's "indefinite" value */
}

static int decode_score(double score, double *xy)
{
    geohash_bits hash = {.bits = score_bits(score), .step = GEO_STEP_MAX};
    return geohash_decode_wgs84_xy(hash, xy);
}

/* The position of member in the sorted set e: 0, or -1 when absent or undecodable. */
static int member_xy(const entry *e, const slice *member, double *xy)
{
    double score;
    if (!zset_score(e, member->p, member->len, &score) || !decode_score(score, xy))
        return -1;
    return 0;
}

/* Distances with four decimals, as Redis's addReplyDoubleDistance (a bulk string in RESP3
 * too). */
static void reply_distance(cmd_ctx *c, double d)
{
    char tmp[DISTANCE_STR_MAX];
    int n = snprintf(tmp, sizeof(tmp), "%.4f", d);
    reply_bulk(c, tmp, (size_t)n);
}

/* Coordinates as Redis's addReplyHumanLongDouble: a bulk string in RESP2, a double in RESP3. */
static void reply_coord(cmd_ctx *c, double v)
{
    char tmp[COORD_STR_MAX];
    int n = fmt_long_double(tmp, sizeof(tmp), (long double)v);
    reply_double_text(c, tmp, (size_t)n);
}

/* ---- GEOADD, GEODIST, GEOHASH, GEOPOS ------------------------------------------------------- */

/* GEOADD key [NX|XX] [CH] longitude latitude member [...]: a ZADD of the geohash scores. */
static void geoadd_cmd(cmd_ctx *c)
{
    int longidx = 2, nx = 0, xx = 0;
    for (; longidx < c->argc; longidx++) {
        if (arg_eq(&c->argv[longidx], "nx"))
            nx = 1;
        else if (arg_eq(&c->argv[longidx], "xx"))
            xx = 1;
        else if (!arg_eq(&c->argv[longidx], "ch"))
            break;
    }
    if ((c->argc - longidx) % 3 || (xx && nx)) {
        reply_syntax_error(c);
        return;
    }
    int elements = (c->argc - longidx) / 3, argc = longidx + elements * 2;
    slice *argv = mem_malloc(sizeof(slice) * (size_t)argc);
    char(*scores)[OBJ_INT_STR_MAX] =
        mem_malloc(OBJ_INT_STR_MAX * (size_t)(elements ? elements : 1));
    memcpy(argv, c->argv, sizeof(slice) * (size_t)longidx);
    for (int i = 0; i < elements; i++) {
        double xy[2];
        if (lonlat_or_reply(c, &c->argv[longidx + i * 3], xy))
            goto out;
        geohash_bits hash;
        geohash_encode_wgs84(xy[0], xy[1], GEO_STEP_MAX, &hash);
        int n = ll_to_str(scores[i], (long long)geohash_align52(hash));
        argv[longidx + i * 2] = (slice){scores[i], (size_t)n};
        argv[longidx + i * 2 + 1] = c->argv[longidx + i * 3 + 2];
    }
    /* Run ZADD over the rewritten arguments (its replies, errors and events are GEOADD's). */
    slice *saved_argv = c->argv;
    int saved_argc = c->argc;
    c->argv = argv;
    c->argc = argc;
    zadd_cmd(c);
    c->argv = saved_argv;
    c->argc = saved_argc;
out:
    free(scores);
    free(argv);
}

/* GEODIST key member1 member2 [unit] */
static void geodist_cmd(cmd_ctx *c)
{
    double to_meters = 1;
    if (c->argc == 5) {
        to_meters = unit_or_reply(c, &c->argv[4]);
        if (to_meters < 0)
            return;
    } else if (c->argc > 5) {
        reply_syntax_error(c);
        return;
    }
    entry *e = db_lookup_read(c, c->argv[1].p, c->argv[1].len);
    if (db_wrong_type(c, e, OBJ_ZSET))
        return;
    double s1, s2, a[2], b[2];
    if (!e || !zset_score(e, c->argv[2].p, c->argv[2].len, &s1) ||
        !zset_score(e, c->argv[3].p, c->argv[3].len, &s2) || !decode_score(s1, a) ||
        !decode_score(s2, b)) {
        reply_null(c);
        return;
    }
    reply_distance(c, geohash_distance(a[0], a[1], b[0], b[1]) / to_meters);
}

/* GEOHASH key member [...]: standard 11-character geohashes. Points are stored with latitudes
 * in [-85.05, 85.05]; the standard hash uses [-90, 90], so each point is decoded and encoded
 * again. */
static void geohash_cmd(cmd_ctx *c)
{
    static const char alphabet[] = "0123456789bcdefghjkmnpqrstuvwxyz";
    entry *e = db_lookup_read(c, c->argv[1].p, c->argv[1].len);
    if (db_wrong_type(c, e, OBJ_ZSET))
        return;
    reply_array(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double xy[2];
        if (!e || member_xy(e, &c->argv[j], xy)) {
            reply_null(c);
            continue;
        }
        geohash_range lon = {GEO_LONG_MIN, GEO_LONG_MAX};
        geohash_range lat = {-GEOHASH_LAT_LIMIT, GEOHASH_LAT_LIMIT};
        geohash_bits hash;
        geohash_encode(&lon, &lat, xy[0], xy[1], GEO_STEP_MAX, &hash);
        char out[GEOHASH_STR_LEN];
        for (int i = 0; i < GEOHASH_STR_LEN; i++) {
            /* 52 bits make ten characters; the eleventh is always '0', as in Redis. */
            int idx =
                i == GEOHASH_STR_LEN - 1
                    ? 0
                    : (int)((hash.bits >> (GEO_STEP_MAX * 2 - (i + 1) * GEOHASH_CHAR_BITS)) & 0x1f);
            out[i] = alphabet[idx];
        }
        reply_bulk(c, out, GEOHASH_STR_LEN);
    }
}

/* GEOPOS key member [...] */
static void geopos_cmd(cmd_ctx *c)
{
    entry *e = db_lookup_read(c, c->argv[1].p, c->argv[1].len);
    if (db_wrong_type(c, e, OBJ_ZSET))
        return;
    reply_array(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double xy[2];
        if (!e || member_xy(e, &c->argv[j], xy)) {
            reply_null_array(c);
            continue;
        }
        reply_array(c, 2);
        reply_coord(c, xy[0]);
        reply_coord(c, xy[1]);
    }
}

/* ---- searching ------------------------------------------------------------------------------ */

typedef struct geo_point {
    double lon, lat, dist, score;
    size_t off, len; /* the member in the result's arena */
} geo_point;

typedef struct geo_result {
    geo_point *p;
    size_t used, cap;
    buf names; /* members' bytes: a listpack member may live in a temporary buffer */
} geo_result;

static void result_add(geo_result *r, const zset_elem *el, const double *xy, double dist)
{
    if (r->used == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->p = mem_realloc(r->p, sizeof(geo_point) * r->cap);
    }
    r->p[r->used++] = (geo_point){.lon = xy[0],
                                  .lat = xy[1],
                                  .dist = dist,
                                  .score = el->score,
                                  .off = r->names.len,
                                  .len = el->len};
    buf_append(&r->names, el->s, el->len);
}

/* Redis's geoWithinShape: decodes score and tests it against the shape. */
static int within_shape(const geo_shape *shape, double score, double *xy, double *dist)
{
    if (!decode_score(score, xy))
        return 0;
    if (shape->type == GEO_SHAPE_CIRCLE)
        return geohash_distance_if_in_radius(shape->xy[0], shape->xy[1], xy[0], xy[1],
                                             shape->radius * shape->conversion, dist);
    return geohash_distance_if_in_rectangle(shape->width * shape->conversion,
                                            shape->height * shape->conversion, shape->xy[0],
                                            shape->xy[1], xy[0], xy[1], dist);
}

/* Adds the points of scores [min, max) within the shape; stops at `limit` results (0: none). */
static void points_in_range(const entry *e, double min, double max, const geo_shape *shape,
                            geo_result *r, unsigned long limit)
{
    zrange_score range = {.min = min, .max = max, .minex = 0, .maxex = 1};
    zset_iter it;
    zset_elem el;
    zset_iter_at_score(&it, e, &range, 0);
    for (; zset_iter_get(&it, &el) && zrange_score_lte_max(el.score, &range); zset_iter_next(&it)) {
        double xy[2], dist = 0;
        if (within_shape(shape, el.score, xy, &dist))
            result_add(r, &el, xy, dist);
        if (r->used && limit && r->used >= limit)
            break;
    }
}

/* Redis's membersOfAllNeighbors: the center box, then N S E W NE NW SE SW. A box equal to the
 * one scanned just before is skipped (huge radii make neighbours coincide); as in Redis the
 * center box is never the "one before" (last_processed starts at 0 and means none). */
static void points_in_boxes(const entry *e, const geohash_radius *area, const geo_shape *shape,
                            geo_result *r, unsigned long limit)
{
    const geohash_neighbors *n = &area->neighbors;
    geohash_bits boxes[NEIGHBOR_BOXES] = {area->hash,    n->north,      n->south,
                                          n->east,       n->west,       n->north_east,
                                          n->north_west, n->south_east, n->south_west};
    int last = 0;
    for (int i = 0; i < NEIGHBOR_BOXES; i++) {
        if (geohash_is_zero(boxes[i]))
            continue;
        if (last && boxes[i].bits == boxes[last].bits && boxes[i].step == boxes[last].step)
            continue;
        if (r->used && limit && r->used >= limit)
            break;
        /* The box's scores: its bits aligned to 52, up to the next box's (excluded). */
        geohash_bits next = boxes[i];
        next.bits++;
        points_in_range(e, (double)geohash_align52(boxes[i]), (double)geohash_align52(next), shape,
                        r, limit);
        last = i;
    }
}

typedef int (*point_cmp)(const geo_point *a, const geo_point *b);

static int by_dist_asc(const geo_point *a, const geo_point *b)
{
    return a->dist > b->dist ? 1 : a->dist == b->dist ? 0 : -1;
}

static int by_dist_desc(const geo_point *a, const geo_point *b)
{
    return -by_dist_asc(a, b);
}

static void point_swap(geo_point *a, geo_point *b)
{
    geo_point t = *a;
    *a = *b;
    *b = t;
}

/* A stable merge sort: glibc's qsort, which Redis calls for a full sort, is one. */
static void sort_stable(geo_point *a, size_t n, point_cmp cmp, geo_point *tmp)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    sort_stable(a, h, cmp, tmp);
    sort_stable(a + h, n - h, cmp, tmp);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = cmp(&a[j], &a[i]) < 0 ? a[j++] : a[i++];
    while (i < h)
        tmp[k++] = a[i++];
    while (j < n)
        tmp[k++] = a[j++];
    memcpy(a, tmp, sizeof(geo_point) * n);
}

static geo_point *med3(geo_point *a, geo_point *b, geo_point *c, point_cmp cmp)
{
    return cmp(a, b) < 0 ? (cmp(b, c) < 0 ? b : (cmp(a, c) < 0 ? c : a))
                         : (cmp(b, c) > 0 ? b : (cmp(a, c) < 0 ? a : c));
}

static void vec_swap(geo_point *a, geo_point *b, long n)
{
    for (long i = 0; i < n; i++)
        point_swap(a + i, b + i);
}

/* Redis's pqsort (Bentley & McIlroy's quicksort that only sorts the part overlapping
 * [lo, hi]): with COUNT, Redis orders the first COUNT results this way, and equal distances
 * then come out in this algorithm's order, which this keeps. */
static void insertion_sort(geo_point *a, long n, point_cmp cmp)
{
    for (geo_point *pm = a + 1; pm < a + n; pm++)
        for (geo_point *pl = pm; pl > a && cmp(pl - 1, pl) > 0; pl--)
            point_swap(pl, pl - 1);
}

static void sort_partial(geo_point *a, long n, point_cmp cmp, const geo_point *lo,
                         const geo_point *hi)
{
    for (;;) {
        if (n < PQSORT_SMALL) {
            insertion_sort(a, n, cmp);
            return;
        }
        geo_point *pm = a + n / 2;
        if (n > PQSORT_SMALL) {
            geo_point *pl = a, *pn = a + n - 1;
            if (n > PQSORT_NINTHER) {
                long d = n / 8;
                pl = med3(pl, pl + d, pl + 2 * d, cmp);
                pm = med3(pm - d, pm, pm + d, cmp);
                pn = med3(pn - 2 * d, pn - d, pn, cmp);
            }
            pm = med3(pl, pm, pn, cmp);
        }
        point_swap(a, pm);
        geo_point *pa = a + 1, *pb = a + 1, *pc = a + n - 1, *pd = a + n - 1;
        for (;;) {
            int r;
            while (pb <= pc && (r = cmp(pb, a)) <= 0) {
                if (r == 0)
                    point_swap(pa++, pb);
                pb++;
            }
            while (pb <= pc && (r = cmp(pc, a)) >= 0) {
                if (r == 0)
                    point_swap(pc, pd--);
                pc--;
            }
            if (pb > pc)
                break;
            point_swap(pb++, pc--);
        }
        /* NetBSD's qsort switches to insertion sort when the partition swapped nothing; the
         * pqsort of Redis 7.0 does not, and neither does this (the order of ties differs). */
        geo_point *pn = a + n;
        long r = pa - a < pb - pa ? pa - a : pb - pa;
        vec_swap(a, pb - r, r);
        r = pd - pc < pn - pd - 1 ? pd - pc : pn - pd - 1;
        vec_swap(pb, pn - r, r);
        /* Recurse into (loop over) a part only if it overlaps [lo, hi]. */
        if ((r = pb - pa) > 1 && !(hi < a || lo > a + r - 1))
            sort_partial(a, r, cmp, lo, hi);
        if ((r = pd - pc) <= 1)
            return;
        a = pn - r;
        n = r;
        if (hi < a || lo > a + n - 1)
            return;
    }
}

static void sort_points(geo_result *r, int sort, size_t returned)
{
    point_cmp cmp = sort == SORT_ASC ? by_dist_asc : by_dist_desc;
    if (returned == r->used) {
        geo_point *tmp = mem_malloc(sizeof(geo_point) * (r->used ? r->used : 1));
        sort_stable(r->p, r->used, cmp, tmp);
        free(tmp);
    } else {
        sort_partial(r->p, (long)r->used, cmp, r->p, r->p + returned - 1);
    }
}

/* The options of a search (Redis's georadiusGeneric locals). */
typedef struct geo_query {
    int withdist, withhash, withcoord, any, sort, storedist;
    int frommember, fromloc, byradius, bybox;
    long long count;
    const slice *storekey;
    geo_shape shape;
} geo_query;

/* Parses the options from argv[base] on. -1 after an error reply. */
static int parse_query(cmd_ctx *c, int base, int flags, const entry *e, geo_query *q)
{
    for (int i = base; i < c->argc; i++) {
        const slice *a = &c->argv[i];
        int left = c->argc - 1 - i; /* arguments after this one */
        int search = (flags & GEO_SEARCH) != 0;
        int store_ok = !(flags & GEO_NOSTORE) && !search;
        if (arg_eq(a, "withdist")) {
            q->withdist = 1;
        } else if (arg_eq(a, "withhash")) {
            q->withhash = 1;
        } else if (arg_eq(a, "withcoord")) {
            q->withcoord = 1;
        } else if (arg_eq(a, "any")) {
            q->any = 1;
        } else if (arg_eq(a, "asc")) {
            q->sort = SORT_ASC;
        } else if (arg_eq(a, "desc")) {
            q->sort = SORT_DESC;
        } else if (arg_eq(a, "count") && left >= 1) {
            if (arg_ll_or_reply(c, &c->argv[++i], &q->count, NULL))
                return -1;
            if (q->count <= 0) {
                reply_error(c, ERR_COUNT);
                return -1;
            }
        } else if ((arg_eq(a, "store") || arg_eq(a, "storedist")) && left >= 1 && store_ok) {
            q->storedist = arg_eq(a, "storedist");
            q->storekey = &c->argv[++i];
        } else if (arg_eq(a, "storedist") && (flags & GEO_SEARCHSTORE)) {
            q->storedist = 1;
        } else if (arg_eq(a, "frommember") && left >= 1 && search && !q->fromloc) {
            /* Without a source key parsing goes on; the reply will be empty anyway. */
            if (e && member_xy(e, &c->argv[i + 1], q->shape.xy)) {
                reply_error(c, ERR_BAD_MEMBER);
                return -1;
            }
            q->frommember = 1;
            i++;
        } else if (arg_eq(a, "fromlonlat") && left >= 2 && search && !q->frommember) {
            if (lonlat_or_reply(c, &c->argv[i + 1], q->shape.xy))
                return -1;
            q->fromloc = 1;
            i += 2;
        } else if (arg_eq(a, "byradius") && left >= 2 && search && !q->bybox) {
            if (distance_or_reply(c, &c->argv[i + 1], &q->shape))
                return -1;
            q->shape.type = GEO_SHAPE_CIRCLE;
            q->byradius = 1;
            i += 2;
        } else if (arg_eq(a, "bybox") && left >= 3 && search && !q->byradius) {
            if (box_or_reply(c, &c->argv[i + 1], &q->shape))
                return -1;
            q->shape.type = GEO_SHAPE_BOX;
            q->bybox = 1;
            i += 3;
        } else {
            reply_syntax_error(c);
            return -1;
        }
    }
    return 0;
}

/* Checks the combinations Redis rejects. -1 after an error reply. */
static int check_query(cmd_ctx *c, int flags, const geo_query *q)
{
    const slice *name = &c->argv[0]; /* as the user typed it, as in Redis's messages */
    if (q->storekey && (q->withdist || q->withhash || q->withcoord)) {
        reply_errorf(c, "ERR %s is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
                     flags & GEO_SEARCHSTORE ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS");
        return -1;
    }
    if ((flags & GEO_SEARCH) && !(q->frommember || q->fromloc)) {
        reply_errorf(c, "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for %.*s",
                     (int)name->len, name->p);
        return -1;
    }
    if ((flags & GEO_SEARCH) && !(q->byradius || q->bybox)) {
        reply_errorf(c, "ERR exactly one of BYRADIUS and BYBOX can be specified for %.*s",
                     (int)name->len, name->p);
        return -1;
    }
    if (q->any && !q->count) {
        reply_error(c, ERR_ANY);
        return -1;
    }
    return 0;
}

static void reply_points(cmd_ctx *c, const geo_query *q, geo_result *r, size_t returned)
{
    int options = q->withdist + q->withcoord + q->withhash;
    reply_array(c, (long)returned);
    for (size_t i = 0; i < returned; i++) {
        const geo_point *gp = &r->p[i];
        if (options)
            reply_array(c, options + 1);
        reply_bulk(c, r->names.data + gp->off, gp->len);
        if (q->withdist)
            reply_distance(c, gp->dist / q->shape.conversion);
        if (q->withhash)
            reply_int(c, (long long)gp->score);
        if (q->withcoord) {
            reply_array(c, 2);
            reply_coord(c, gp->lon);
            reply_coord(c, gp->lat);
        }
    }
}

static void store_points(cmd_ctx *c, int flags, const geo_query *q, geo_result *r, size_t returned)
{
    entry *result = NULL;
    if (returned) {
        zskiplist *zsl = zsl_new(returned);
        size_t maxelelen = 0;
        for (size_t i = 0; i < returned; i++) {
            const geo_point *gp = &r->p[i];
            double score = q->storedist ? gp->dist / q->shape.conversion : gp->score;
            zsl_insert(zsl, score, r->names.data + gp->off, gp->len);
            if (gp->len > maxelelen)
                maxelelen = gp->len;
        }
        result = zset_entry_from_zsl(q->storekey->p, q->storekey->len, zsl, maxelelen);
    }
    zset_store_result(c, q->storekey, result,
                      flags & GEO_SEARCH ? "geosearchstore" : "georadiusstore");
}

/* Redis's georadiusGeneric: every search command; argv[src] is the source key. */
static void georadius_generic(cmd_ctx *c, int src, int flags)
{
    entry *e = db_lookup_read(c, c->argv[src].p, c->argv[src].len);
    if (db_wrong_type(c, e, OBJ_ZSET))
        return;
    geo_query q = {0};
    int base;
    if (flags & GEO_RADIUS_COORDS) {
        base = 6;
        q.shape.type = GEO_SHAPE_CIRCLE;
        if (lonlat_or_reply(c, &c->argv[2], q.shape.xy) ||
            distance_or_reply(c, &c->argv[base - 2], &q.shape))
            return;
    } else if (flags & GEO_RADIUS_MEMBER) {
        base = 5;
        /* Without a source key, the options are still parsed (for their errors). */
        if (e) {
            q.shape.type = GEO_SHAPE_CIRCLE;
            if (member_xy(e, &c->argv[2], q.shape.xy)) {
                reply_error(c, ERR_BAD_MEMBER);
                return;
            }
            if (distance_or_reply(c, &c->argv[base - 2], &q.shape))
                return;
        }
    } else {
        base = flags & GEO_SEARCHSTORE ? 3 : 2;
        if (flags & GEO_SEARCHSTORE)
            q.storekey = &c->argv[1];
    }
    if (parse_query(c, base, flags, e, &q) || check_query(c, flags, &q))
        return;
    if (!e) {
        if (q.storekey)
            zset_store_result(c, q.storekey, NULL, NULL);
        else
            reply_array(c, 0);
        return;
    }
    /* COUNT needs the nearest first, unless ANY asked for whatever comes first. */
    if (q.count && q.sort == SORT_NONE && !q.any)
        q.sort = SORT_ASC;
    geohash_radius area = geohash_areas_for_shape(&q.shape);
    geo_result r = {0};
    buf_init(&r.names);
    points_in_boxes(e, &area, &q.shape, &r, q.any ? (unsigned long)q.count : 0);
    size_t returned = q.count == 0 || r.used < (size_t)q.count ? r.used : (size_t)q.count;
    if (r.used == 0 && !q.storekey) {
        reply_array(c, 0);
    } else {
        if (q.sort != SORT_NONE)
            sort_points(&r, q.sort, returned);
        if (q.storekey)
            store_points(c, flags, &q, &r, returned);
        else
            reply_points(c, &q, &r, returned);
    }
    free(r.p);
    buf_free(&r.names);
}

static void georadius_cmd(cmd_ctx *c)
{
    georadius_generic(c, 1, GEO_RADIUS_COORDS);
}

static void georadius_ro_cmd(cmd_ctx *c)
{
    georadius_generic(c, 1, GEO_RADIUS_COORDS | GEO_NOSTORE);
}

static void georadiusbymember_cmd(cmd_ctx *c)
{
    georadius_generic(c, 1, GEO_RADIUS_MEMBER);
}

static void georadiusbymember_ro_cmd(cmd_ctx *c)
{
    georadius_generic(c, 1, GEO_RADIUS_MEMBER | GEO_NOSTORE);
}

static void geosearch_cmd(cmd_ctx *c)
{
    georadius_generic(c, 1, GEO_SEARCH);
}

static void geosearchstore_cmd(cmd_ctx *c)
{
    georadius_generic(c, 2, GEO_SEARCH | GEO_SEARCHSTORE);
}

/* Keys of GEORADIUS[BYMEMBER]: the source, then every STORE/STOREDIST key from argument 5 on
 * (the last one is where the result goes; Redis's key specs name them all, as COMMAND GETKEYS
 * shows). */
static int georadius_getkeys(int argc, const slice *argv, int *keys, int max)
{
    int n = 0;
    if (max < 1)
        return -1;
    keys[n++] = 1;
    for (int i = 5; i + 1 < argc; i++) {
        if (arg_eq(&argv[i], "store") || arg_eq(&argv[i], "storedist")) {
            if (n == max)
                return -1;
            keys[n++] = ++i;
        }
    }
    return n;
}

/* Geo values are sorted sets: their type registers in t_zset.c. */
void geo_type_init(void)
{
}

#define GEO_GROUP "geo"
#define ACL_GEO_READ (ACL_READ | ACL_GEO | ACL_SLOW)
#define ACL_GEO_WRITE (ACL_WRITE | ACL_GEO | ACL_SLOW)

command geo_commands[] = {
    {.name = "geoadd",
     .proc = geoadd_cmd,
     .arity = -5,
     .flags = CMD_WRITE | CMD_DENYOOM,
     .acl = ACL_GEO_WRITE,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = GEO_GROUP,
     .since = "3.2.0",
     .summary = "Add one or more geospatial items in the geospatial index represented using a "
                "sorted set"},
    {.name = "geodist",
     .proc = geodist_cmd,
     .arity = -4,
     .flags = CMD_READONLY,
     .acl = ACL_GEO_READ,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = GEO_GROUP,
     .since = "3.2.0",
     .summary = "Returns the distance between two members of a geospatial index"},
    {.name = "geohash",
     .proc = geohash_cmd,
     .arity = -2,
     .flags = CMD_READONLY,
     .acl = ACL_GEO_READ,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = GEO_GROUP,
     .since = "3.2.0",
     .summary = "Returns members of a geospatial index as standard geohash strings"},
    {.name = "geopos",
     .proc = geopos_cmd,
     .arity = -2,
     .flags = CMD_READONLY,
     .acl = ACL_GEO_READ,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = GEO_GROUP,
     .since = "3.2.0",
     .summary = "Returns longitude and latitude of members of a geospatial index"},
    {.name = "georadius",
     .proc = georadius_cmd,
     .arity = -6,
     .flags = CMD_WRITE | CMD_DENYOOM,
     .acl = ACL_GEO_WRITE,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .getkeys = georadius_getkeys,
     .group = GEO_GROUP,
     .since = "3.2.0",
     .summary = "Query a sorted set representing a geospatial index to fetch members matching a "
                "given maximum distance from a point"},
    {.name = "georadius_ro",
     .proc = georadius_ro_cmd,
     .arity = -6,
     .flags = CMD_READONLY,
     .acl = ACL_GEO_READ,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = GEO_GROUP,
     .since = "3.2.10",
     .summary = "A read-only variant for GEORADIUS"},
    {.name = "georadiusbymember",
     .proc = georadiusbymember_cmd,
     .arity = -5,
     .flags = CMD_WRITE | CMD_DENYOOM,
     .acl = ACL_GEO_WRITE,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .getkeys = georadius_getkeys,
     .group = GEO_GROUP,
     .since = "3.2.0",
     .summary = "Query a sorted set representing a geospatial index to fetch members matching a "
                "given maximum distance from a member"},
    {.name = "georadiusbymember_ro",
     .proc = georadiusbymember_ro_cmd,
     .arity = -5,
     .flags = CMD_READONLY,
     .acl = ACL_GEO_READ,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = GEO_GROUP,
     .since = "3.2.10",
     .summary = "A read-only variant for GEORADIUSBYMEMBER"},
    {.name = "geosearch",
     .proc = geosearch_cmd,
     .arity = -7,
     .flags = CMD_READONLY,
     .acl = ACL_GEO_READ,
     .first_key = 1,
     .last_key = 1,
     .key_step = 1,
     .group = GEO_GROUP,
     .since = "6.2.0",
     .summary = "Query a sorted set representing a geospatial index to fetch members inside an "
                "area of a box or a circle."},
    {.name = "geosearchstore",
     .proc = geosearchstore_cmd,
     .arity = -8,
     .flags = CMD_WRITE | CMD_DENYOOM,
     .acl = ACL_GEO_WRITE,
     .first_key = 1,
     .last_key = 2,
     .key_step = 1,
     .group = GEO_GROUP,
     .since = "6.2.0",
     .summary = "Query a sorted set representing a geospatial index to fetch members inside an "
                "area of a box or a circle, and store the result in another key."},
    {0},
};
