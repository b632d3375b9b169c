/* Unit tests of idtree.c: appends (the common case, which must fill leaves), inserts and
 * removals in random order checked against a sorted array model, seeks in both directions at
 * and between keys, iteration across leaves, the small root leaf growing and shrinking, exact
 * memory accounting, and the invariants (idtree_check) after every phase. */
#include <stdlib.h>
#include <string.h>

#include "idtree.h"
#include "testing.h"
#include "zmalloc.h"

#define APPENDS 100000
#define MODEL_KEYS 3000
#define MODEL_OPS 200000
#define CHECK_EVERY 5000
#define SEEKS 20000
#define SMALL_TREE 5

static stream_id sid(uint64_t ms, uint64_t seq)
{
    stream_id id = {ms, seq};
    return id;
}

/* Model: present[i] says whether key i (ms = i / 4, seq = i % 4 * 3) is in the tree. */
static stream_id model_key(int i)
{
    return sid((uint64_t)(i / 4), (uint64_t)(i % 4) * 3);
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

TEST(empty_tree)
{
    idtree t = {0};
    idtree_iter it;
    stream_id k = sid(1, 1);
    CHECK(!idtree_first(&t, &it));
    CHECK(!idtree_last(&t, &it));
    CHECK(!idtree_seek_ge(&t, &k, &it));
    CHECK(!idtree_seek_le(&t, &k, &it));
    CHECK(idtree_find(&t, &k) == NULL);
    CHECK(!idtree_remove(&t, &k, NULL));
    CHECK(idtree_check(&t));
    CHECK_EQ_INT(t.bytes, 0);
}

TEST(appends_fill_leaves)
{
    idtree t = {0};
    int64_t before = zmalloc_used();
    for (uint64_t i = 0; i < APPENDS; i++) {
        stream_id k = sid(1000 + i, i & 1);
        REQUIRE(idtree_insert(&t, &k, (void *)(uintptr_t)(i + 1)));
    }
    CHECK(idtree_check(&t));
    CHECK_EQ_INT(t.size, APPENDS);
    CHECK_EQ_INT(zmalloc_used() - before, (int64_t)t.bytes);
    /* Full leaves: about 24 bytes of key and value per item, plus a little for inner nodes. */
    CHECK(t.bytes / APPENDS < 32);
    stream_id dup = sid(1000, 0);
    CHECK(!idtree_insert(&t, &dup, NULL));
    for (uint64_t i = 0; i < APPENDS; i += 997) {
        stream_id k = sid(1000 + i, i & 1);
        void **v = idtree_find(&t, &k);
        REQUIRE(v);
        CHECK_EQ_INT((uintptr_t)*v, i + 1);
    }
    /* Walk both ways. */
    idtree_iter it;
    uint64_t n = 0;
    for (int ok = idtree_first(&t, &it); ok; ok = idtree_next(&it))
        CHECK_EQ_INT((uintptr_t)idtree_val(&it), ++n);
    CHECK_EQ_INT(n, APPENDS);
    for (int ok = idtree_last(&t, &it); ok; ok = idtree_prev(&it))
        CHECK_EQ_INT((uintptr_t)idtree_val(&it), n--);
    CHECK_EQ_INT(n, 0);
    /* Removing from the head, as XTRIM and XACK in order do. */
    for (uint64_t i = 0; i < APPENDS; i++) {
        stream_id k = sid(1000 + i, i & 1);
        void *old = NULL;
        REQUIRE(idtree_remove(&t, &k, &old));
        CHECK_EQ_INT((uintptr_t)old, i + 1);
        if (i % CHECK_EVERY == 0)
            REQUIRE(idtree_check(&t));
    }
    CHECK(idtree_check(&t));
    CHECK_EQ_INT(t.size, 0);
    CHECK_EQ_INT(zmalloc_used(), before);
}

TEST(small_root_leaf)
{
    idtree t = {0};
    int64_t before = zmalloc_used();
    for (int i = 0; i < SMALL_TREE; i++) {
        stream_id k = sid((uint64_t)i, 0);
        idtree_insert(&t, &k, NULL);
    }
    size_t small = t.bytes;
    CHECK(small < 256); /* a tiny PEL stays tiny */
    CHECK_EQ_INT(t.height, 1);
    for (int i = 0; i < SMALL_TREE; i++) {
        stream_id k = sid((uint64_t)i, 0);
        CHECK(idtree_remove(&t, &k, NULL));
        CHECK(idtree_check(&t));
    }
    CHECK(t.root == NULL);
    CHECK_EQ_INT(zmalloc_used(), before);
}

/* Compares every key's presence and a few seeks with the model. */
static void check_model(idtree *t, const char *present)
{
    uint64_t n = 0;
    idtree_iter it;
    int i = 0;
    for (int ok = idtree_first(t, &it); ok; ok = idtree_next(&it), n++) {
        while (i < MODEL_KEYS && !present[i])
            i++;
        REQUIRE(i < MODEL_KEYS);
        stream_id k = idtree_key(&it), want = model_key(i);
        CHECK(stream_id_cmp(&k, &want) == 0);
        CHECK_EQ_INT((uintptr_t)idtree_val(&it), i);
        i++;
    }
    CHECK_EQ_INT(n, t->size);
}

TEST(random_model)
{
    idtree t = {0};
    char *present = calloc(MODEL_KEYS, 1);
    uint64_t count = 0;
    int64_t before = zmalloc_used();
    for (int op = 0; op < MODEL_OPS; op++) {
        int i = (int)(rnd() % MODEL_KEYS);
        stream_id k = model_key(i);
        /* Phases that mostly grow, then mostly shrink, so the tree changes height. */
        int grow = (op / (MODEL_OPS / 8)) % 2 == 0;
        if ((int)(rnd() % 10) < (grow ? 7 : 3)) {
            int added = idtree_insert(&t, &k, (void *)(uintptr_t)i);
            CHECK_EQ_INT(added, !present[i]);
            count += (uint64_t)added;
            present[i] = 1;
        } else {
            void *old = NULL;
            int removed = idtree_remove(&t, &k, &old);
            CHECK_EQ_INT(removed, present[i]);
            if (removed)
                CHECK_EQ_INT((uintptr_t)old, i);
            count -= (uint64_t)removed;
            present[i] = 0;
        }
        if (op % CHECK_EVERY == 0) {
            REQUIRE(idtree_check(&t));
            CHECK_EQ_INT(t.size, count);
            check_model(&t, present);
            CHECK_EQ_INT(zmalloc_used() - before, (int64_t)t.bytes);
        }
    }
    CHECK(idtree_check(&t));
    check_model(&t, present);

    /* Seeks at every key and between keys. */
    for (int s = 0; s < SEEKS; s++) {
        uint64_t ms = rnd() % (MODEL_KEYS / 4 + 2), seq = rnd() % 12;
        stream_id q = sid(ms, seq);
        idtree_iter it;
        int ge = -1, le = -1;
        for (int i = 0; i < MODEL_KEYS; i++) {
            stream_id k = model_key(i);
            if (!present[i])
                continue;
            if (stream_id_cmp(&k, &q) <= 0)
                le = i;
            if (ge < 0 && stream_id_cmp(&k, &q) >= 0)
                ge = i;
        }
        int ok = idtree_seek_ge(&t, &q, &it);
        CHECK_EQ_INT(ok, ge >= 0);
        if (ok && ge >= 0)
            CHECK_EQ_INT((uintptr_t)idtree_val(&it), ge);
        ok = idtree_seek_le(&t, &q, &it);
        CHECK_EQ_INT(ok, le >= 0);
        if (ok && le >= 0)
            CHECK_EQ_INT((uintptr_t)idtree_val(&it), le);
    }

    idtree_clear(&t, NULL);
    CHECK(idtree_check(&t));
    CHECK_EQ_INT(zmalloc_used(), before);
    free(present);
}

static int freed_vals;
static void count_free(void *v)
{
    (void)v;
    freed_vals++;
}

TEST(clear_calls_free)
{
    idtree t = {0};
    for (int i = 0; i < 1000; i++) {
        stream_id k = sid((uint64_t)(rnd() % 100000), 0);
        idtree_insert(&t, &k, NULL);
    }
    uint64_t n = t.size;
    freed_vals = 0;
    idtree_clear(&t, count_free);
    CHECK_EQ_INT(freed_vals, n);
    CHECK_EQ_INT(t.size, 0);
}

int main(void)
{
    RUN_TEST(empty_tree);
    RUN_TEST(appends_fill_leaves);
    RUN_TEST(small_root_leaf);
    RUN_TEST(random_model);
    RUN_TEST(clear_calls_free);
    TEST_MAIN_END();
}
