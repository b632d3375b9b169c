/* Unit tests of the per-shard key table (table.c): lookups, inserts and deletes while an
 * incremental rehash grows or shrinks the table, SCAN's guarantee across resizes, random picks,
 * and a randomized comparison against a plain array model. */
#include <stdio.h>
#include <stdlib.h>

#include "object.h"
#include "table.h"
#include "testing.h"

#define KEY_MAX 32
#define MANY 20000
#define MODEL_KEYS 4096
#define MODEL_OPS 200000
#define SCAN_ROUNDS 20

static int make_key(char *buf, int i)
{
    return snprintf(buf, KEY_MAX, "key:%d", i);
}

static entry *new_entry(int i, long long v)
{
    char k[KEY_MAX];
    int n = make_key(k, i);
    return entry_new_int(k, (size_t)n, v, -1);
}

static entry *find(table *t, int i)
{
    char k[KEY_MAX];
    int n = make_key(k, i);
    return table_find(t, k, (size_t)n);
}

/* Both prefetch stages for key i, as a batch issues them before its lookups: hints only, so
 * under ASan this checks they read nothing the table does not hold. */
static void prefetch(const table *t, int i)
{
    char k[KEY_MAX];
    int n = make_key(k, i);
    uint64_t h = table_hash(k, (size_t)n);
    table_prefetch(t, h, 0);
    table_prefetch(t, h, 1);
}

static long long value_of(const entry *e)
{
    long long v = 0;
    entry_get_ll(e, &v);
    return v;
}

static int del(table *t, int i)
{
    char k[KEY_MAX];
    int n = make_key(k, i);
    entry **ref = table_find_ref(t, k, (size_t)n);
    if (!ref)
        return 0;
    entry_free(table_unlink(t, ref));
    return 1;
}

static int rehashing(const table *t)
{
    return t->rehash_idx >= 0;
}

/* Parses the number back out of "key:N". */
static int key_index(const entry *e)
{
    size_t len;
    const char *k = entry_key(e, &len);
    char tmp[KEY_MAX];
    if (len >= sizeof(tmp))
        return -1;
    memcpy(tmp, k, len);
    tmp[len] = '\0';
    return atoi(tmp + 4);
}

TEST(empty_table)
{
    table t;
    table_init(&t);
    CHECK_EQ_INT(table_count(&t), 0);
    prefetch(&t, 1);
    CHECK(find(&t, 1) == NULL);
    CHECK(table_random(&t, 42) == NULL);
    CHECK_EQ_INT(table_scan(&t, 0, NULL, NULL), 0);
    CHECK_EQ_INT(del(&t, 1), 0);
    table_clear(&t);
}

/* Every key stays findable at every step of growth, including mid-rehash. */
TEST(grow_keeps_every_key)
{
    table t;
    table_init(&t);
    int saw_rehash = 0;
    for (int i = 0; i < MANY; i++) {
        table_insert(&t, new_entry(i, i));
        saw_rehash |= rehashing(&t);
        prefetch(&t, i);     /* present, maybe in the new array mid-rehash */
        prefetch(&t, i + 1); /* absent */
        if (i % 997 == 0)
            for (int j = 0; j <= i; j++)
                if (!find(&t, j)) {
                    CHECK(find(&t, j) != NULL);
                    break;
                }
    }
    CHECK(saw_rehash);
    CHECK_EQ_INT(table_count(&t), MANY);
    for (int i = 0; i < MANY; i++) {
        entry *e = find(&t, i);
        REQUIRE(e != NULL);
        CHECK_EQ_INT(value_of(e), i);
    }
    CHECK(find(&t, MANY) == NULL);
    while (table_rehash_step(&t, 100))
        ;
    CHECK(table_buckets(&t) >= MANY);
    table_clear(&t);
    CHECK_EQ_INT(table_count(&t), 0);
}

/* Deleting down shrinks the array, and keys survive every shrink step. */
TEST(shrink_keeps_every_key)
{
    table t;
    table_init(&t);
    for (int i = 0; i < MANY; i++)
        table_insert(&t, new_entry(i, i));
    while (table_rehash_step(&t, 100))
        ;
    size_t big = table_buckets(&t);
    int saw_rehash = 0;
    for (int i = 0; i < MANY - 10; i++) {
        CHECK_EQ_INT(del(&t, i), 1);
        saw_rehash |= rehashing(&t);
        if (i % 1999 == 0)
            for (int j = i + 1; j < MANY; j++)
                if (!find(&t, j)) {
                    CHECK(find(&t, j) != NULL);
                    break;
                }
    }
    CHECK(saw_rehash);
    CHECK_EQ_INT(table_count(&t), 10);
    for (int i = MANY - 10; i < MANY; i++)
        CHECK(find(&t, i) != NULL);
    for (int i = 0; i < MANY - 10; i++)
        CHECK(find(&t, i) == NULL);
    while (table_rehash_step(&t, 100))
        ;
    CHECK(table_buckets(&t) < big / 100);
    for (int i = MANY - 10; i < MANY; i++)
        CHECK_EQ_INT(del(&t, i), 1);
    CHECK_EQ_INT(table_count(&t), 0);
    table_clear(&t);
}

/* Replacing an entry in the middle of a rehash keeps the chain and the count. */
TEST(replace_during_rehash)
{
    table t;
    table_init(&t);
    int n = 0;
    while (!rehashing(&t) || n < 1000) {
        table_insert(&t, new_entry(n, n));
        n++;
    }
    REQUIRE(rehashing(&t));
    for (int i = 0; i < n; i++) {
        char k[KEY_MAX];
        int kl = make_key(k, i);
        entry **ref = table_find_ref(&t, k, (size_t)kl);
        REQUIRE(ref != NULL);
        entry *old = table_replace(&t, ref, entry_new_int(k, (size_t)kl, i * 2LL, -1));
        entry_free(old);
    }
    CHECK_EQ_INT(table_count(&t), n);
    for (int i = 0; i < n; i++) {
        entry *e = find(&t, i);
        REQUIRE(e != NULL);
        CHECK_EQ_INT(value_of(e), i * 2LL);
    }
    table_clear(&t);
}

struct seen {
    int *count;
    int max;
};

static void count_cb(void *arg, entry *e)
{
    struct seen *s = arg;
    int i = key_index(e);
    if (i >= 0 && i < s->max)
        s->count[i]++;
}

/* With no writes during the scan, every key is reported exactly once, also when the table is
 * caught in the middle of a rehash. */
TEST(scan_exactly_once_when_stable)
{
    for (int mid_rehash = 0; mid_rehash < 2; mid_rehash++) {
        table t;
        table_init(&t);
        int n = 0;
        while (n < 3000 || (mid_rehash && !rehashing(&t)) || (!mid_rehash && rehashing(&t))) {
            if (!mid_rehash && n >= 3000) {
                table_rehash_step(&t, 100);
                continue;
            }
            table_insert(&t, new_entry(n, n));
            n++;
        }
        CHECK_EQ_INT(rehashing(&t), mid_rehash);
        struct seen s = {calloc((size_t)n, sizeof(int)), n};
        uint64_t cur = 0;
        do
            cur = table_scan(&t, cur, count_cb, &s);
        while (cur);
        for (int i = 0; i < n; i++)
            if (s.count[i] != 1) {
                CHECK_EQ_INT(s.count[i], 1);
                break;
            }
        free(s.count);
        table_clear(&t);
    }
}

/* Keys present for the whole scan are reported at least once even while other keys come and go
 * and the table grows and shrinks between the steps. */
TEST(scan_across_resizes)
{
    srand(1234);
    for (int round = 0; round < SCAN_ROUNDS; round++) {
        table t;
        table_init(&t);
        const int stable = 500 + rand() % 2000;
        const int churn_base = 1000000;
        for (int i = 0; i < stable; i++)
            table_insert(&t, new_entry(i, i));
        struct seen s = {calloc((size_t)stable, sizeof(int)), stable};
        int churn_lo = churn_base, churn_hi = churn_base; /* live churn keys: [lo, hi) */
        int grow = round % 2;
        uint64_t cur = 0;
        int steps = 0;
        do {
            cur = table_scan(&t, cur, count_cb, &s);
            /* Alternate phases of growth and shrinkage so that the scan sees both. */
            if (++steps % 40 == 0)
                grow = !grow;
            int ops = 1 + rand() % 60;
            for (int k = 0; k < ops; k++) {
                if (grow || churn_lo == churn_hi) {
                    table_insert(&t, new_entry(churn_hi, churn_hi));
                    churn_hi++;
                } else {
                    CHECK_EQ_INT(del(&t, churn_lo), 1);
                    churn_lo++;
                }
            }
            if (rand() % 3 == 0)
                table_rehash_step(&t, rand() % 8);
        } while (cur);
        for (int i = 0; i < stable; i++)
            if (s.count[i] < 1) {
                CHECK(s.count[i] >= 1);
                break;
            }
        free(s.count);
        table_clear(&t);
    }
}

/* Mass deletion shrinks the table under the scan; the survivors must still all be seen. */
TEST(scan_while_mass_delete)
{
    table t;
    table_init(&t);
    const int n = 16384, keep = 64;
    for (int i = 0; i < n; i++)
        table_insert(&t, new_entry(i, i));
    while (table_rehash_step(&t, 100))
        ;
    struct seen s = {calloc((size_t)keep, sizeof(int)), keep};
    int next_del = keep;
    uint64_t cur = 0;
    do {
        cur = table_scan(&t, cur, count_cb, &s);
        for (int k = 0; k < 500 && next_del < n; k++)
            CHECK_EQ_INT(del(&t, next_del++), 1);
    } while (cur);
    for (int i = 0; i < keep; i++)
        CHECK(s.count[i] >= 1);
    free(s.count);
    table_clear(&t);
}

TEST(random_covers_keys)
{
    table t;
    table_init(&t);
    const int n = 200;
    for (int i = 0; i < n; i++)
        table_insert(&t, new_entry(i, i));
    int *hit = calloc((size_t)n, sizeof(int));
    uint64_t x = 88172645463325252ull;
    for (int k = 0; k < n * 200; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        entry *e = table_random(&t, x);
        REQUIRE(e != NULL);
        int i = key_index(e);
        REQUIRE(i >= 0 && i < n);
        hit[i]++;
    }
    for (int i = 0; i < n; i++)
        if (!hit[i]) {
            CHECK(hit[i] > 0);
            break;
        }
    free(hit);
    table_clear(&t);
}

/* A table left sparse in the middle of a growth still answers a random pick quickly. */
TEST(random_on_sparse_rehashing_table)
{
    table t;
    table_init(&t);
    int n = 0;
    while (n < 100000 || !rehashing(&t)) {
        table_insert(&t, new_entry(n, n));
        n++;
    }
    /* Delete through the bucket arrays directly: lookups would advance the rehash. */
    for (int a = 0; a < 2; a++)
        for (size_t b = 0; b < t.size[a]; b++) {
            entry **ref = &t.buckets[a][b];
            while (*ref) {
                if (key_index(table_ref_entry(ref)) == 0)
                    ref = &table_ref_entry(ref)->next;
                else
                    entry_free(table_unlink(&t, ref));
            }
        }
    REQUIRE(rehashing(&t));
    CHECK_EQ_INT(table_count(&t), 1);
    for (int k = 0; k < 100; k++) {
        entry *e = table_random(&t, (uint64_t)k * 7919);
        REQUIRE(e != NULL);
        CHECK_EQ_INT(key_index(e), 0);
    }
    table_clear(&t);
}

/* Random operations against a model: present[i] says whether key i is in the table. */
TEST(random_against_model)
{
    table t;
    table_init(&t);
    static unsigned char present[MODEL_KEYS];
    static long long value[MODEL_KEYS];
    memset(present, 0, sizeof(present));
    size_t count = 0;
    srand(99);
    for (int op = 0; op < MODEL_OPS; op++) {
        int i = rand() % MODEL_KEYS;
        /* Bias towards inserts, then towards deletes, so the table grows and shrinks. */
        int phase = (op / 20000) % 2;
        int r = rand() % 10;
        if (r < (phase ? 3 : 6)) {
            if (!present[i]) {
                value[i] = rand();
                table_insert(&t, new_entry(i, value[i]));
                present[i] = 1;
                count++;
            }
        } else if (r < 9) {
            int got = del(&t, i);
            CHECK_EQ_INT(got, present[i]);
            if (got) {
                present[i] = 0;
                count--;
            }
        } else {
            entry *e = find(&t, i);
            CHECK_EQ_INT(e != NULL, present[i]);
            if (e && present[i])
                CHECK_EQ_INT(value_of(e), value[i]);
        }
        if (table_count(&t) != count) {
            CHECK_EQ_INT(table_count(&t), count);
            break;
        }
    }
    for (int i = 0; i < MODEL_KEYS; i++) {
        entry *e = find(&t, i);
        CHECK_EQ_INT(e != NULL, present[i]);
    }
    table_clear(&t);
}

int main(void)
{
    RUN_TEST(empty_table);
    RUN_TEST(grow_keeps_every_key);
    RUN_TEST(shrink_keeps_every_key);
    RUN_TEST(replace_during_rehash);
    RUN_TEST(scan_exactly_once_when_stable);
    RUN_TEST(scan_across_resizes);
    RUN_TEST(scan_while_mass_delete);
    RUN_TEST(random_covers_keys);
    RUN_TEST(random_on_sparse_rehashing_table);
    RUN_TEST(random_against_model);
    TEST_MAIN_END();
}
