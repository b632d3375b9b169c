/* Unit tests of stream.c: ID parsing and formatting with Redis's rules, appends of every kind
 * of field and value (integers, negative and huge numbers, empty and long strings, repeated
 * and changing field names) read back both ways across many small nodes, deletions and range
 * scans checked against an array model, trimming by length and by ID (exact and "~"),
 * consumer groups' bookkeeping, deep copies, and exact memory accounting (everything the
 * stream allocates is counted, and freeing it returns used_memory to where it was). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "stream.h"
#include "testing.h"
#include "zmalloc.h"

#define MODEL_MAX 4000
#define MODEL_OPS 20000
#define SMALL_NODE_ENTRIES 5
#define VAL_MAX 300
#define RANGE_CHECKS 300

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* ---- IDs --------------------------------------------------------------------------------- */

static int parse(const char *s, stream_id *id, uint64_t missing, int strict, int *seq_given)
{
    return stream_id_parse(s, strlen(s), id, missing, strict, seq_given);
}

TEST(id_parse_and_format)
{
    stream_id id;
    int given;
    CHECK_EQ_INT(parse("12-34", &id, 0, 1, NULL), 0);
    CHECK(id.ms == 12 && id.seq == 34);
    CHECK_EQ_INT(parse("12", &id, 7, 1, NULL), 0);
    CHECK(id.ms == 12 && id.seq == 7);
    CHECK_EQ_INT(parse("-", &id, 0, 0, NULL), 0);
    CHECK(id.ms == 0 && id.seq == 0);
    CHECK_EQ_INT(parse("+", &id, 0, 0, NULL), 0);
    CHECK(id.ms == UINT64_MAX && id.seq == UINT64_MAX);
    CHECK_EQ_INT(parse("-", &id, 0, 1, NULL), -1);
    CHECK_EQ_INT(parse("+", &id, 0, 1, NULL), -1);
    CHECK_EQ_INT(parse("5-*", &id, 0, 1, &given), 0);
    CHECK(id.ms == 5 && given == 0);
    CHECK_EQ_INT(parse("5-*", &id, 0, 1, NULL), -1);
    CHECK_EQ_INT(parse("18446744073709551615-18446744073709551615", &id, 0, 1, NULL), 0);
    CHECK(id.ms == UINT64_MAX && id.seq == UINT64_MAX);
    CHECK_EQ_INT(parse("18446744073709551616", &id, 0, 1, NULL), -1);
    CHECK_EQ_INT(parse("1--1", &id, 0, 1, NULL), -1);
    CHECK_EQ_INT(parse("", &id, 0, 1, NULL), -1);
    CHECK_EQ_INT(parse("a", &id, 0, 1, NULL), -1);
    CHECK_EQ_INT(parse("007-1", &id, 0, 1, NULL), 0); /* strtoull's leniency, as Redis */
    CHECK(id.ms == 7);
    char buf[STREAM_ID_STR_MAX];
    stream_id max = {UINT64_MAX, UINT64_MAX};
    CHECK_EQ_INT(stream_id_format(buf, &max), 41);
    CHECK_EQ_STR(buf, "18446744073709551615-18446744073709551615");
    stream_id z = {0, 0};
    CHECK_EQ_INT(stream_id_decr(&z), -1);
    CHECK(z.ms == UINT64_MAX && z.seq == UINT64_MAX);
    CHECK_EQ_INT(stream_id_incr(&z), -1);
    CHECK(z.ms == 0 && z.seq == 0);
    stream_id carry = {3, UINT64_MAX};
    CHECK_EQ_INT(stream_id_incr(&carry), 0);
    CHECK(carry.ms == 4 && carry.seq == 0);
}

/* ---- a model of entries ---------------------------------------------------------------------- */

typedef struct mentry {
    stream_id id;
    int live;
    int nf;
    char f[3][16];
    char v[3][VAL_MAX + 1];
} mentry;

static mentry model[MODEL_MAX];
static int nmodel;

static void make_value(char *out, int kind)
{
    static const char *const fixed[] = {"0",
                                        "1",
                                        "-1",
                                        "127",
                                        "128",
                                        "-4097",
                                        "32768",
                                        "8388608",
                                        "-0",
                                        "007",
                                        "+5",
                                        " 1",
                                        "1.5",
                                        "9223372036854775807",
                                        "-9223372036854775808",
                                        "9223372036854775808",
                                        "4611686018427387904",
                                        ""};
    size_t nfixed = sizeof(fixed) / sizeof(fixed[0]);
    if (kind < (int)nfixed) {
        strcpy(out, fixed[kind]);
        return;
    }
    int len = (int)(rnd() % VAL_MAX);
    for (int i = 0; i < len; i++)
        out[i] = (char)('a' + rnd() % 26);
    out[len] = '\0';
}

static int model_add(stream *s, uint64_t ms, uint64_t seq)
{
    mentry *m = &model[nmodel];
    m->id.ms = ms;
    m->id.seq = seq;
    m->live = 1;
    m->nf = 1 + (int)(rnd() % 3);
    slice fv[6];
    for (int i = 0; i < m->nf; i++) {
        /* Mostly the same field names, so that most entries share their node's master. */
        snprintf(m->f[i], sizeof(m->f[i]), rnd() % 4 ? "f%d" : "g%d", i);
        make_value(m->v[i], (int)(rnd() % 40));
        fv[2 * i] = (slice){m->f[i], strlen(m->f[i])};
        fv[2 * i + 1] = (slice){m->v[i], strlen(m->v[i])};
    }
    stream_id added;
    int rc = stream_append(s, fv, m->nf, &m->id, 1, 0, &added);
    if (rc == STREAM_OK)
        nmodel++;
    return rc;
}

/* Compares the entries of s in [lo, hi] (both directions) with the model. */
static void check_range(stream *s, const stream_id *lo, const stream_id *hi)
{
    for (int rev = 0; rev < 2; rev++) {
        stream_iter si;
        stream_iter_start(&si, s, lo, hi, rev);
        int i = rev ? nmodel - 1 : 0;
        stream_id id;
        long nf;
        while (stream_iter_next(&si, &id, &nf)) {
            while (i >= 0 && i < nmodel &&
                   (!model[i].live || (lo && stream_id_cmp(&model[i].id, lo) < 0) ||
                    (hi && stream_id_cmp(&model[i].id, hi) > 0)))
                i += rev ? -1 : 1;
            REQUIRE(i >= 0 && i < nmodel);
            CHECK(stream_id_cmp(&id, &model[i].id) == 0);
            CHECK_EQ_INT(nf, model[i].nf);
            for (int k = 0; k < nf && k < model[i].nf; k++) {
                const char *f, *v;
                size_t fl, vl;
                stream_iter_field(&si, &f, &fl, &v, &vl);
                CHECK(fl == strlen(model[i].f[k]) && !memcmp(f, model[i].f[k], fl));
                CHECK(vl == strlen(model[i].v[k]) && !memcmp(v, model[i].v[k], vl));
            }
            i += rev ? -1 : 1;
        }
        while (i >= 0 && i < nmodel &&
               (!model[i].live || (lo && stream_id_cmp(&model[i].id, lo) < 0) ||
                (hi && stream_id_cmp(&model[i].id, hi) > 0)))
            i += rev ? -1 : 1;
        CHECK(i < 0 || i >= nmodel); /* nothing left unread */
    }
}

static uint64_t model_live(void)
{
    uint64_t n = 0;
    for (int i = 0; i < nmodel; i++)
        n += (uint64_t)model[i].live;
    return n;
}

TEST(append_iterate_delete_model)
{
    server.cfg.stream_node_max_entries = SMALL_NODE_ENTRIES;
    server.cfg.stream_node_max_bytes = 4096;
    int64_t before = zmalloc_used();
    stream *s = stream_new();
    nmodel = 0;
    uint64_t ms = 1;
    for (int op = 0; op < MODEL_OPS && nmodel < MODEL_MAX - 1; op++) {
        if (rnd() % 4) {
            uint64_t step = rnd() % 3;
            ms += step;
            uint64_t seq = step ? rnd() % 3 : (nmodel ? model[nmodel - 1].id.seq + 1 : 0);
            if (!nmodel || ms > model[nmodel - 1].id.ms || seq > model[nmodel - 1].id.seq)
                CHECK_EQ_INT(model_add(s, ms, seq), STREAM_OK);
        } else if (nmodel) {
            int i = (int)(rnd() % (uint64_t)nmodel);
            CHECK_EQ_INT(stream_delete(s, &model[i].id), model[i].live);
            model[i].live = 0;
        }
    }
    CHECK_EQ_INT(s->length, model_live());
    CHECK(s->nodes.size > 10); /* small nodes: many of them */
    check_range(s, NULL, NULL);
    for (int k = 0; k < RANGE_CHECKS; k++) {
        stream_id lo = {rnd() % (ms + 2), rnd() % 3}, hi = {rnd() % (ms + 2), rnd() % 3};
        check_range(s, &lo, &hi);
    }
    /* An ID not above the last one is refused; "<ms>-*" continues the last sequence. */
    stream_id last = model[nmodel - 1].id, got;
    slice fv[2] = {{"f", 1}, {"v", 1}};
    CHECK_EQ_INT(stream_append(s, fv, 1, &last, 1, 0, &got), STREAM_ERR_ID);
    CHECK_EQ_INT(stream_append(s, fv, 1, &last, 0, 0, &got), STREAM_OK);
    CHECK(got.ms == last.ms && got.seq == last.seq + 1);
    /* Every byte the stream holds is counted, and given back. */
    CHECK_EQ_INT(zmalloc_used() - before, (int64_t)stream_mem_usage(s));
    stream *copy = stream_dup(s);
    stream_free(s);
    s = copy;
    model[nmodel].id = got;
    model[nmodel].live = 1;
    model[nmodel].nf = 1;
    strcpy(model[nmodel].f[0], "f");
    strcpy(model[nmodel].v[0], "v");
    nmodel++;
    check_range(s, NULL, NULL);
    stream_free(s);
    CHECK_EQ_INT(zmalloc_used(), before);
}

TEST(trim_by_length_and_id)
{
    server.cfg.stream_node_max_entries = SMALL_NODE_ENTRIES;
    int64_t before = zmalloc_used();
    stream *s = stream_new();
    nmodel = 0;
    for (uint64_t i = 1; i <= 100; i++)
        model_add(s, i, 0);
    stream_trim_args a = {.strategy = TRIM_MAXLEN, .approx = 1, .maxlen = 93};
    CHECK_EQ_INT(stream_trim(s, &a), 5); /* one whole node of 5 */
    a.approx = 0;
    CHECK_EQ_INT(stream_trim(s, &a), 2); /* then exactly */
    CHECK_EQ_INT(s->length, 93);
    CHECK(s->first_id.ms == 8);
    a = (stream_trim_args){.strategy = TRIM_MINID, .minid = {50, 0}};
    CHECK_EQ_INT(stream_trim(s, &a), 42);
    CHECK(s->first_id.ms == 50);
    a = (stream_trim_args){.strategy = TRIM_MAXLEN, .approx = 1, .maxlen = 0, .limit = 10};
    CHECK_EQ_INT(stream_trim(s, &a), 6); /* 1 + 5: a third node would pass LIMIT */
    a.limit = 0;
    CHECK_EQ_INT(stream_trim(s, &a), 45);
    CHECK_EQ_INT(s->length, 0);
    CHECK(s->first_id.ms == 0 && s->nodes.size == 0);
    stream_free(s);
    CHECK_EQ_INT(zmalloc_used(), before);
}

TEST(node_boundaries_follow_redis_bytes)
{
    /* 4096-byte nodes and 100-byte values: Redis fits 36 such entries in its first listpack
     * (measured against Redis 7.0). */
    server.cfg.stream_node_max_entries = 100;
    server.cfg.stream_node_max_bytes = 4096;
    stream *s = stream_new();
    char v[101];
    memset(v, 'v', 100);
    v[100] = '\0';
    slice fv[2] = {{"f", 1}, {v, 100}};
    stream_id id = {0, 0}, got;
    int n = 0;
    while (s->nodes.size < 2) {
        id.ms++;
        stream_append(s, fv, 1, &id, 1, 0, &got);
        n++;
    }
    CHECK_EQ_INT(n - 1, 36);
    stream_free(s);
}

TEST(groups_and_consumers)
{
    int64_t before = zmalloc_used();
    stream *s = stream_new();
    stream_id zero = {0, 0};
    stream_cg *b = stream_cg_create(s, "b", 1, &zero, STREAM_ENTRIES_READ_INVALID);
    stream_cg *a = stream_cg_create(s, "a", 1, &zero, 0);
    CHECK(stream_cg_create(s, "a", 1, &zero, 0) == NULL);
    CHECK(stream_cg_create(s, "ab", 2, &zero, 0) != NULL);
    /* rax order: a, ab, b */
    REQUIRE(s->ngroups == 3);
    CHECK(s->groups[0] == a && s->groups[2] == b);
    CHECK(stream_cg_lookup(s, "b", 1) == b && stream_cg_lookup(s, "c", 1) == NULL);
    stream_consumer *c1 = stream_consumer_create(a, "c1", 2, 5);
    stream_consumer *c2 = stream_consumer_create(a, "c2", 2, 5);
    CHECK(stream_consumer_create(a, "c1", 2, 5) == NULL);
    for (uint64_t i = 1; i <= 50; i++) {
        stream_id id = {i, 0};
        stream_consumer *c = i % 2 ? c1 : c2;
        stream_nack *nack = stream_nack_new(c, 100);
        idtree_insert(&a->pel, &id, nack);
        idtree_insert(&c->pel, &id, nack);
    }
    CHECK_EQ_INT(stream_mem_usage(s), zmalloc_used() - before);
    stream *copy = stream_dup(s);
    stream_cg *ca = stream_cg_lookup(copy, "a", 1);
    REQUIRE(ca);
    CHECK_EQ_INT(ca->pel.size, 50);
    CHECK_EQ_INT(stream_consumer_lookup(ca, "c1", 2)->pel.size, 25);
    stream_free(copy);
    CHECK_EQ_INT(stream_consumer_delete(a, c1), 25);
    CHECK_EQ_INT(a->pel.size, 25);
    stream_id first = {2, 0};
    stream_nack_drop(a, &first, *idtree_find(&a->pel, &first));
    CHECK_EQ_INT(c2->pel.size, 24);
    stream_cg_destroy(s, a);
    CHECK_EQ_INT(s->ngroups, 2);
    stream_free(s);
    CHECK_EQ_INT(zmalloc_used(), before);
}

TEST(read_counters)
{
    stream *s = stream_new();
    stream_id id = {0, 0}, got;
    CHECK_EQ_INT(stream_estimate_distance(s, &id), 0);
    slice fv[2] = {{"f", 1}, {"v", 1}};
    for (int i = 1; i <= 10; i++) {
        id.ms = (uint64_t)i;
        stream_append(s, fv, 1, &id, 1, 0, &got);
    }
    stream_id five = {5, 0}, ten = {10, 0}, one = {1, 0}, zero = {0, 0};
    CHECK_EQ_INT(stream_estimate_distance(s, &ten), 10);
    CHECK_EQ_INT(stream_estimate_distance(s, &one), 1);
    CHECK_EQ_INT(stream_estimate_distance(s, &zero), 0);
    CHECK_EQ_INT(stream_estimate_distance(s, &five), STREAM_ENTRIES_READ_INVALID);
    stream_delete(s, &five);
    s->max_deleted = five;
    CHECK(stream_range_has_tombstones(s, &one, NULL));
    CHECK(!stream_range_has_tombstones(s, &ten, NULL));
    stream_free(s);
}

int main(void)
{
    RUN_TEST(id_parse_and_format);
    RUN_TEST(append_iterate_delete_model);
    RUN_TEST(trim_by_length_and_id);
    RUN_TEST(node_boundaries_follow_redis_bytes);
    RUN_TEST(groups_and_consumers);
    RUN_TEST(read_counters);
    TEST_MAIN_END();
}
