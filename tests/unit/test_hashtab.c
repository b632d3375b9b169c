/* Unit tests of hashtab.c: adds, overwrites and deletes during incremental rehashes, values that
 * grow and shrink in place, the scan guarantee across resizes, iteration, random picks, exact
 * memory accounting, and a randomized comparison against a plain array model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashtab.h"
#include "testing.h"
#include "zmalloc.h"

#define KEY_MAX 32
#define VAL_MAX 300
#define MANY 20000
#define MODEL_KEYS 2048
#define MODEL_OPS 200000
#define RANDOM_PICKS 20000

static int make_key(char *buf, int i)
{
    return snprintf(buf, KEY_MAX, "field:%d", i);
}

/* A value whose length depends on i and gen, so that overwrites change sizes (varint lengths
 * included: up to VAL_MAX bytes crosses 127). */
static size_t make_val(char *buf, int i, int gen)
{
    size_t n = (size_t)((i * 7 + gen * 13) % VAL_MAX);
    for (size_t j = 0; j < n; j++)
        buf[j] = (char)('a' + (i + gen + (int)j) % 26);
    return n;
}

static int has_val(hashtab *h, int i, int gen)
{
    char k[KEY_MAX], v[VAL_MAX];
    int kl = make_key(k, i);
    size_t vl = make_val(v, i, gen);
    ht_elem *e = ht_find(h, k, (size_t)kl);
    if (!e)
        return 0;
    size_t len;
    const char *got = ht_elem_val(e, &len);
    return len == vl && memcmp(got, v, vl) == 0;
}

static int set_val(hashtab *h, int i, int gen)
{
    char k[KEY_MAX], v[VAL_MAX];
    int kl = make_key(k, i);
    size_t vl = make_val(v, i, gen);
    return ht_set(h, k, (size_t)kl, v, vl);
}

static int del(hashtab *h, int i)
{
    char k[KEY_MAX];
    int kl = make_key(k, i);
    return ht_delete(h, k, (size_t)kl);
}

TEST(add_find_delete_many)
{
    hashtab *h = ht_new(HT_VALUES, 0);
    for (int i = 0; i < MANY; i++)
        CHECK_EQ_INT(set_val(h, i, 0), 1);
    CHECK_EQ_INT(ht_count(h), MANY);
    for (int i = 0; i < MANY; i++)
        CHECK(has_val(h, i, 0));
    /* Overwrite every other value with a different length. */
    for (int i = 0; i < MANY; i += 2)
        CHECK_EQ_INT(set_val(h, i, 1), 0);
    for (int i = 0; i < MANY; i++)
        CHECK(has_val(h, i, i % 2 ? 0 : 1));
    /* ht_add never overwrites. */
    char k[KEY_MAX];
    int kl = make_key(k, 1);
    CHECK_EQ_INT(ht_add(h, k, (size_t)kl, "x", 1), 0);
    CHECK(has_val(h, 1, 0));
    for (int i = 0; i < MANY; i++)
        CHECK_EQ_INT(del(h, i), 1);
    CHECK_EQ_INT(ht_count(h), 0);
    CHECK_EQ_INT(del(h, 0), 0);
    CHECK(ht_find(h, k, (size_t)kl) == NULL);
    ht_free(h);
}

TEST(keys_only)
{
    hashtab *h = ht_new(HT_KEYS_ONLY, 10);
    CHECK_EQ_INT(ht_add(h, "a", 1, "ignored", 7), 1);
    CHECK_EQ_INT(ht_add(h, "a", 1, NULL, 0), 0);
    CHECK_EQ_INT(ht_add(h, "", 0, NULL, 0), 1); /* the empty string is a member like others */
    ht_elem *e = ht_find(h, "a", 1);
    REQUIRE(e);
    size_t len;
    ht_elem_val(e, &len);
    CHECK_EQ_INT(len, 0);
    CHECK(ht_find(h, "", 0) != NULL);
    CHECK(ht_find(h, "b", 1) == NULL);
    ht_free(h);
}

/* Deleting through the key of an element itself, as SPOP does with ht_random. */
TEST(delete_by_own_key)
{
    hashtab *h = ht_new(HT_KEYS_ONLY, 0);
    for (int i = 0; i < 1000; i++) {
        char k[KEY_MAX];
        int kl = make_key(k, i);
        ht_add(h, k, (size_t)kl, NULL, 0);
    }
    uint64_t rnd = 1;
    while (ht_count(h)) {
        rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
        const ht_elem *e = ht_random(h, rnd);
        REQUIRE(e);
        size_t kl;
        const char *k = ht_elem_key(e, &kl);
        CHECK_EQ_INT(ht_delete(h, k, kl), 1);
    }
    CHECK(ht_random(h, rnd) == NULL);
    ht_free(h);
}

/* The number i of an element's key "field:<i>" (keys are not NUL-terminated). */
static int key_index(const ht_elem *e)
{
    size_t kl;
    const char *k = ht_elem_key(e, &kl);
    char buf[KEY_MAX];
    memcpy(buf, k, kl);
    buf[kl] = 0;
    return atoi(buf + strlen("field:"));
}

struct seen {
    unsigned char *hits;
};

static void mark_seen(void *arg, const ht_elem *e)
{
    struct seen *s = arg;
    s->hits[key_index(e)] = 1;
}

/* Every element present for the whole scan is reported, while the table grows and shrinks
 * between scan calls. */
TEST(scan_across_resizes)
{
    hashtab *h = ht_new(HT_VALUES, 0);
    for (int i = 0; i < MANY; i++)
        set_val(h, i, 0);
    struct seen s = {calloc(MANY * 3, 1)};
    uint64_t cursor = 0;
    int step = 0;
    do {
        cursor = ht_scan(h, cursor, mark_seen, &s);
        /* Grow with keys >= MANY, then delete them again: resizes both ways mid-scan. */
        if (step < MANY)
            set_val(h, MANY + step, 0);
        else if (step < 2 * MANY)
            del(h, step);
        step++;
    } while (cursor);
    for (int i = 0; i < MANY; i++)
        if (!s.hits[i]) {
            CHECK(s.hits[i]);
            break;
        }
    free(s.hits);
    ht_free(h);
}

TEST(iterate_and_dup)
{
    hashtab *h = ht_new(HT_VALUES, 0);
    for (int i = 0; i < MANY; i++)
        set_val(h, i, 0);
    for (int i = 0; i < MANY / 2; i++) /* leave a shrink in progress, maybe */
        del(h, i);
    unsigned char *hits = calloc(MANY, 1);
    ht_iter it;
    ht_iter_init(&it, h);
    const ht_elem *e;
    size_t n = 0;
    while ((e = ht_iter_next(&it))) {
        int i = key_index(e);
        CHECK(!hits[i]);
        hits[i] = 1;
        n++;
    }
    CHECK_EQ_INT(n, MANY / 2);
    hashtab *d = ht_dup(h);
    CHECK_EQ_INT(ht_count(d), MANY / 2);
    for (int i = MANY / 2; i < MANY; i++)
        CHECK(has_val(d, i, 0));
    ht_free(d);
    free(hits);
    ht_free(h);
}

/* Random picks reach every element of a small table, roughly evenly. */
TEST(random_covers)
{
    enum { N = 100 };
    hashtab *h = ht_new(HT_VALUES, 0);
    for (int i = 0; i < N; i++)
        set_val(h, i, 0);
    int counts[N] = {0};
    uint64_t rnd = 7;
    for (int j = 0; j < RANDOM_PICKS; j++) {
        rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
        counts[key_index(ht_random(h, rnd))]++;
    }
    /* Mean 200, standard deviation about 14: a band of +-50% is 7 deviations wide. */
    for (int i = 0; i < N; i++) {
        CHECK(counts[i] > RANDOM_PICKS / N / 2);
        CHECK(counts[i] < RANDOM_PICKS / N * 3 / 2);
    }
    ht_free(h);
}

/* Every element equally likely, chains of any length included: a full table (1024 elements in
 * 1024 buckets has chains of 5 and more) and one halfway through a rehash (1100 elements). */
static void check_uniform(int n)
{
    enum { PER_MEMBER = 1000 };
    hashtab *h = ht_new(HT_VALUES, 0);
    for (int i = 0; i < n; i++)
        set_val(h, i, 0);
    int *counts = calloc((size_t)n, sizeof(*counts));
    uint64_t rnd = 11;
    for (int j = 0; j < n * PER_MEMBER; j++) {
        rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
        counts[key_index(ht_random(h, rnd))]++;
    }
    /* Standard deviation about 3.2%: a band of +-20% is 6 deviations wide. */
    for (int i = 0; i < n; i++) {
        CHECK(counts[i] > PER_MEMBER * 8 / 10);
        CHECK(counts[i] < PER_MEMBER * 12 / 10);
    }
    free(counts);
    ht_free(h);
}

TEST(random_uniform)
{
    check_uniform(1024);
    check_uniform(1100);
}

/* ht_mem_usage equals what zmalloc counted for the table. */
TEST(memory_exact)
{
    int64_t before = zmalloc_used();
    hashtab *h = ht_new(HT_VALUES, 0);
    for (int i = 0; i < MANY; i++)
        set_val(h, i, 0);
    for (int i = 0; i < MANY; i += 3)
        set_val(h, i, 5);
    for (int i = 0; i < MANY; i += 2)
        del(h, i);
    CHECK_EQ_INT((int64_t)ht_mem_usage(h), zmalloc_used() - before);
    ht_free(h);
    CHECK_EQ_INT(zmalloc_used(), before);
}

/* Random operations against an array model. */
TEST(model)
{
    int *gen = malloc(sizeof(int) * MODEL_KEYS); /* -1: absent */
    for (int i = 0; i < MODEL_KEYS; i++)
        gen[i] = -1;
    hashtab *h = ht_new(HT_VALUES, 0);
    size_t count = 0;
    uint64_t r = 12345;
    for (int op = 0; op < MODEL_OPS; op++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        int i = (int)((r >> 33) % MODEL_KEYS);
        int what = (int)((r >> 20) % 4);
        if (what <= 1) {
            int g = (int)((r >> 40) % 5);
            CHECK_EQ_INT(set_val(h, i, g), gen[i] < 0);
            count += gen[i] < 0;
            gen[i] = g;
        } else if (what == 2) {
            CHECK_EQ_INT(del(h, i), gen[i] >= 0);
            count -= gen[i] >= 0;
            gen[i] = -1;
        } else {
            CHECK_EQ_INT(gen[i] >= 0 ? has_val(h, i, gen[i]) : 0, gen[i] >= 0);
        }
        if (ht_count(h) != count) {
            CHECK_EQ_INT(ht_count(h), count);
            break;
        }
    }
    for (int i = 0; i < MODEL_KEYS; i++)
        if (gen[i] >= 0)
            CHECK(has_val(h, i, gen[i]));
    ht_free(h);
    free(gen);
}

int main(void)
{
    RUN_TEST(add_find_delete_many);
    RUN_TEST(keys_only);
    RUN_TEST(delete_by_own_key);
    RUN_TEST(scan_across_resizes);
    RUN_TEST(iterate_and_dup);
    RUN_TEST(random_covers);
    RUN_TEST(random_uniform);
    RUN_TEST(memory_exact);
    RUN_TEST(model);
    TEST_MAIN_END();
}
