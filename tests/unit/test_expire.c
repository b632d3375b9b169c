/* Unit tests of expiry in db.c: lazy expiry on lookup, the per-db count of keys with a TTL,
 * the active expiry cycle (which must find expired keys across many calls and leave live ones),
 * and db_swap. Runs single-threaded on shards made here, the way a shard's own thread would. */
#include <stdio.h>

#include "db.h"
#include "server.h"
#include "testing.h"

#define NSHARDS 1
#define NDBS 4
#define NOW_MS 1000000000000LL /* a fixed "wall clock" for the tests */
#define KEY_MAX 32
#define MANY 5000
#define BUDGET_US 1000
#define ACTIVE_CALLS_MAX 10000 /* the cycle must finish the job within this many ticks */

static cmd_ctx ctx(int dbid)
{
    cmd_ctx c = {.dbid = dbid, .now_ms = NOW_MS};
    return c;
}

static int key(char *buf, const char *prefix, int i)
{
    return snprintf(buf, KEY_MAX, "%s:%d", prefix, i);
}

static void add(cmd_ctx *c, const char *prefix, int i, int64_t expire_ms)
{
    char k[KEY_MAX];
    int n = key(k, prefix, i);
    db_add(c, entry_new_int(k, (size_t)n, i, expire_ms));
}

static entry *peek(cmd_ctx *c, const char *prefix, int i)
{
    char k[KEY_MAX];
    int n = key(k, prefix, i);
    return db_peek(c, k, (size_t)n);
}

static void reset(void)
{
    for (int d = 0; d < NDBS; d++)
        db_flush(shards[0], d);
}

TEST(lazy_expiry_on_lookup)
{
    reset();
    cmd_ctx c = ctx(0);
    add(&c, "k", 1, NOW_MS - 1);
    add(&c, "k", 2, NOW_MS); /* expiring exactly now counts as expired, as in Redis */
    add(&c, "k", 3, NOW_MS + 1);
    add(&c, "k", 4, -1);
    CHECK_EQ_INT(db_size(shards[0], 0), 4);
    CHECK_EQ_INT(shards[0]->dbs[0].expires, 3);
    CHECK(peek(&c, "k", 1) == NULL);
    CHECK(peek(&c, "k", 2) == NULL);
    CHECK(peek(&c, "k", 3) != NULL);
    CHECK(peek(&c, "k", 4) != NULL);
    CHECK_EQ_INT(db_size(shards[0], 0), 2);
    CHECK_EQ_INT(shards[0]->dbs[0].expires, 1);
}

TEST(set_and_remove_expire_keeps_count)
{
    reset();
    cmd_ctx c = ctx(1);
    add(&c, "e", 1, -1);
    entry *e = peek(&c, "e", 1);
    REQUIRE(e != NULL);
    e = db_set_expire(&c, e, NOW_MS + 5000);
    CHECK_EQ_INT(entry_expire(e), NOW_MS + 5000);
    CHECK_EQ_INT(shards[0]->dbs[1].expires, 1);
    e = db_set_expire(&c, e, NOW_MS + 9000); /* rewrite in place */
    CHECK_EQ_INT(entry_expire(peek(&c, "e", 1)), NOW_MS + 9000);
    CHECK_EQ_INT(shards[0]->dbs[1].expires, 1);
    e = db_set_expire(&c, e, -1);
    CHECK_EQ_INT(entry_expire(peek(&c, "e", 1)), -1);
    CHECK_EQ_INT(shards[0]->dbs[1].expires, 0);
    long long v = 0;
    CHECK(entry_get_ll(peek(&c, "e", 1), &v));
    CHECK_EQ_INT(v, 1);
}

/* Runs the active cycle until the db holds `want` keys or the bound is hit. Returns calls. */
static int expire_until(int dbid, size_t want)
{
    int calls = 0;
    while (db_size(shards[0], dbid) != want && calls < ACTIVE_CALLS_MAX) {
        db_active_expire(shards[0], BUDGET_US);
        calls++;
    }
    return calls;
}

TEST(active_expiry_removes_only_expired)
{
    reset();
    server.cfg.active_expire_enabled = 1;
    cmd_ctx c = ctx(0);
    /* db_active_expire uses the real clock: expire in the far past, live in the far future. */
    for (int i = 0; i < MANY; i++) {
        add(&c, "dead", i, 1);
        if (i % 5 == 0)
            add(&c, "live", i, INT64_MAX / 2);
        if (i % 7 == 0)
            add(&c, "forever", i, -1);
    }
    size_t live = (MANY + 4) / 5 + (MANY + 6) / 7;
    uint64_t before = shards[0]->stats.expired_keys;
    int calls = expire_until(0, live);
    CHECK(calls < ACTIVE_CALLS_MAX);
    CHECK_EQ_INT(db_size(shards[0], 0), live);
    CHECK_EQ_INT(shards[0]->dbs[0].expires, (MANY + 4) / 5);
    CHECK_EQ_INT(shards[0]->stats.expired_keys - before, MANY);
    for (int i = 0; i < MANY; i += 5)
        CHECK(peek(&c, "live", i) != NULL);
}

TEST(active_expiry_reaches_every_db)
{
    reset();
    server.cfg.active_expire_enabled = 1;
    for (int d = 0; d < NDBS; d++) {
        cmd_ctx c = ctx(d);
        for (int i = 0; i < 100; i++)
            add(&c, "x", i, 1);
    }
    int calls = 0;
    size_t total;
    do {
        db_active_expire(shards[0], BUDGET_US);
        total = 0;
        for (int d = 0; d < NDBS; d++)
            total += db_size(shards[0], d);
    } while (total && ++calls < ACTIVE_CALLS_MAX);
    CHECK_EQ_INT(total, 0);
}

TEST(active_expiry_can_be_disabled)
{
    reset();
    cmd_ctx c = ctx(0);
    add(&c, "off", 1, 1);
    server.cfg.active_expire_enabled = 0;
    for (int i = 0; i < 10; i++)
        db_active_expire(shards[0], BUDGET_US);
    CHECK_EQ_INT(db_size(shards[0], 0), 1);
    server.cfg.active_expire_enabled = 1;
    CHECK(expire_until(0, 0) < ACTIVE_CALLS_MAX);
}

TEST(swap_exchanges_dbs_with_counts)
{
    reset();
    cmd_ctx c0 = ctx(0), c2 = ctx(2);
    add(&c0, "a", 1, NOW_MS + 100000);
    add(&c0, "a", 2, -1);
    add(&c2, "b", 1, -1);
    db_swap(shards[0], 0, 2);
    CHECK_EQ_INT(db_size(shards[0], 0), 1);
    CHECK_EQ_INT(db_size(shards[0], 2), 2);
    CHECK_EQ_INT(shards[0]->dbs[2].expires, 1);
    CHECK_EQ_INT(shards[0]->dbs[0].expires, 0);
    CHECK(peek(&c0, "b", 1) != NULL);
    CHECK(peek(&c2, "a", 1) != NULL);
    db_swap(shards[0], 2, 2); /* a no-op */
    CHECK_EQ_INT(db_size(shards[0], 2), 2);
}

int main(void)
{
    shards_init(NSHARDS, NDBS);
    RUN_TEST(lazy_expiry_on_lookup);
    RUN_TEST(set_and_remove_expire_keeps_count);
    RUN_TEST(active_expiry_removes_only_expired);
    RUN_TEST(active_expiry_reaches_every_db);
    RUN_TEST(active_expiry_can_be_disabled);
    RUN_TEST(swap_exchanges_dbs_with_counts);
    shards_free();
    TEST_MAIN_END();
}
