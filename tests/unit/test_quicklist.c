/* Unit tests for the quicklist (dataplane/quicklist.c): node limits, pushes at both ends,
 * indexing from either end, inserts that split full nodes, replacements that do not fit,
 * deletions that empty nodes, ranges, and a randomized comparison against a plain array with
 * tiny nodes so that every operation crosses node boundaries. */
#include <stdlib.h>

#include "quicklist.h"
#include "testing.h"
#include "zmalloc.h"

#define MODEL_MAX 600
#define MODEL_STEPS 20000
#define SMALL_FILL 3 /* elements per node: many nodes for few elements */
#define BIG_ELEM 10000

static const char *str_at(const ql_pos *pos, char *buf, size_t cap)
{
    char tmp[OBJ_INT_STR_MAX];
    lp_value v;
    lp_get(pos->p, &v, tmp);
    size_t n = v.len < cap - 1 ? v.len : cap - 1;
    memcpy(buf, v.s, n);
    buf[n] = '\0';
    return buf;
}

/* Every node non-empty and within its neighbours' links; counts add up. */
static int ql_sound(const quicklist *ql)
{
    unsigned long count = 0, len = 0;
    const ql_node *prev = NULL;
    for (const ql_node *n = ql->head; n; prev = n, n = n->next) {
        if (n->prev != prev || lp_count(n->lp) == 0 || !lp_validate(n->lp, lp_bytes(n->lp)))
            return 0;
        count += lp_count(n->lp);
        len++;
    }
    return prev == ql->tail && count == ql->count && len == ql->len;
}

TEST(limits_follow_fill)
{
    CHECK(!ql_exceeds_limit(-2, 8192, 100000));
    CHECK(ql_exceeds_limit(-2, 8193, 1));
    CHECK(ql_exceeds_limit(-1, 4097, 1));
    CHECK(!ql_exceeds_limit(-5, 65536, 1));
    CHECK(!ql_exceeds_limit(-100, 65536, 1)); /* below -5 counts as -5 */
    CHECK(!ql_exceeds_limit(4, 100, 4));
    CHECK(ql_exceeds_limit(4, 100, 5));
    CHECK(ql_exceeds_limit(4, 8193, 1)); /* a count fill still keeps nodes under 8 KiB */
    CHECK(ql_exceeds_limit(0, 10, 2));
}

TEST(push_both_ends_and_index)
{
    quicklist *ql = ql_new(SMALL_FILL);
    char buf[32];
    for (int i = 0; i < 10; i++) {
        int len = snprintf(buf, sizeof(buf), "t%d", i);
        ql_push(ql, QL_TAIL, buf, (size_t)len);
        len = snprintf(buf, sizeof(buf), "h%d", i);
        ql_push(ql, QL_HEAD, buf, (size_t)len);
    }
    CHECK_EQ_INT(ql->count, 20);
    CHECK(ql->len >= 20 / SMALL_FILL);
    CHECK(ql_sound(ql));
    ql_pos pos;
    REQUIRE(ql_index(ql, 0, &pos));
    CHECK_EQ_STR(str_at(&pos, buf, sizeof(buf)), "h9");
    REQUIRE(ql_index(ql, -1, &pos));
    CHECK_EQ_STR(str_at(&pos, buf, sizeof(buf)), "t9");
    REQUIRE(ql_index(ql, 10, &pos));
    CHECK_EQ_STR(str_at(&pos, buf, sizeof(buf)), "t0");
    REQUIRE(ql_index(ql, -11, &pos));
    CHECK_EQ_STR(str_at(&pos, buf, sizeof(buf)), "h0");
    CHECK(!ql_index(ql, 20, &pos));
    CHECK(!ql_index(ql, -21, &pos));
    /* Walking forwards and backwards crosses every node. */
    int n = 0;
    for (int ok = ql_index(ql, 0, &pos); ok; ok = ql_move(&pos, QL_TAIL))
        n++;
    CHECK_EQ_INT(n, 20);
    n = 0;
    for (int ok = ql_index(ql, -1, &pos); ok; ok = ql_move(&pos, QL_HEAD))
        n++;
    CHECK_EQ_INT(n, 20);
    ql_free(ql);
}

TEST(big_element_gets_its_own_node)
{
    quicklist *ql = ql_new(-2);
    char *big = malloc(BIG_ELEM);
    memset(big, 'x', BIG_ELEM);
    ql_push(ql, QL_TAIL, "a", 1);
    ql_push(ql, QL_TAIL, big, BIG_ELEM);
    ql_push(ql, QL_TAIL, "b", 1);
    CHECK_EQ_INT(ql->len, 3);
    CHECK(ql_sound(ql));
    free(big);
    ql_free(ql);
}

TEST(insert_into_full_node_splits_it)
{
    quicklist *ql = ql_new(SMALL_FILL);
    const char *items[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++)
        ql_push(ql, QL_TAIL, items[i], 1);
    CHECK_EQ_INT(ql->len, 1);
    ql_pos pos;
    ql_index(ql, 1, &pos);
    ql_insert(ql, &pos, 0, "X", 1); /* a X b c */
    CHECK(ql_sound(ql));
    CHECK_EQ_INT(ql->count, 4);
    ql_index(ql, -1, &pos);
    ql_insert(ql, &pos, 1, "Z", 1); /* at the very end */
    ql_index(ql, 0, &pos);
    ql_insert(ql, &pos, 0, "0", 1); /* at the very start */
    CHECK(ql_sound(ql));
    const char *want[] = {"0", "a", "X", "b", "c", "Z"};
    char buf[8];
    for (int i = 0; i < 6; i++) {
        ql_index(ql, i, &pos);
        CHECK_EQ_STR(str_at(&pos, buf, sizeof(buf)), want[i]);
    }
    ql_free(ql);
}

TEST(replace_that_does_not_fit)
{
    quicklist *ql = ql_new(-1); /* 4 KiB nodes */
    char val[1000];
    memset(val, 'v', sizeof(val));
    for (int i = 0; i < 4; i++)
        ql_push(ql, QL_TAIL, val, sizeof(val));
    CHECK_EQ_INT(ql->len, 1);
    char big[3000];
    memset(big, 'B', sizeof(big));
    ql_pos pos;
    ql_index(ql, 1, &pos);
    ql_replace(ql, &pos, big, sizeof(big));
    CHECK(ql_sound(ql));
    CHECK_EQ_INT(ql->count, 4);
    ql_index(ql, 1, &pos);
    char tmp[OBJ_INT_STR_MAX];
    lp_value v;
    lp_get(pos.p, &v, tmp);
    CHECK_EQ_MEM(v.s, v.len, big, sizeof(big));
    ql_index(ql, 2, &pos);
    lp_get(pos.p, &v, tmp);
    CHECK_EQ_MEM(v.s, v.len, val, sizeof(val));
    ql_free(ql);
}

TEST(delete_moves_and_frees_nodes)
{
    quicklist *ql = ql_new(2);
    for (int i = 0; i < 6; i++) {
        char c = (char)('0' + i);
        ql_push(ql, QL_TAIL, &c, 1);
    }
    CHECK_EQ_INT(ql->len, 3);
    ql_pos pos;
    ql_index(ql, 1, &pos);
    ql_delete(ql, &pos, QL_TAIL); /* 0 2 3 4 5: pos -> 2 in the next node */
    char buf[8];
    CHECK_EQ_STR(str_at(&pos, buf, sizeof(buf)), "2");
    ql_delete(ql, &pos, QL_HEAD); /* 0 3 4 5: node of "2" freed, pos -> 0 */
    CHECK_EQ_STR(str_at(&pos, buf, sizeof(buf)), "0");
    CHECK(ql_sound(ql));
    ql_delete(ql, &pos, QL_HEAD);
    CHECK(pos.node == NULL);
    ql_index(ql, -1, &pos);
    ql_delete(ql, &pos, QL_TAIL);
    CHECK(pos.node == NULL);
    CHECK_EQ_INT(ql->count, 2);
    CHECK(ql_sound(ql));
    ql_free(ql);
}

TEST(delete_range_and_dup)
{
    quicklist *ql = ql_new(SMALL_FILL);
    char buf[16];
    for (int i = 0; i < 30; i++) {
        int len = snprintf(buf, sizeof(buf), "%d", i);
        ql_push(ql, QL_TAIL, buf, (size_t)len);
    }
    ql_delete_range(ql, 2, 10);   /* 0 1 12..29 */
    ql_delete_range(ql, 15, 100); /* 0 1 12..24 */
    ql_delete_range(ql, 100, 1);
    ql_delete_range(ql, 0, 0);
    CHECK_EQ_INT(ql->count, 15);
    CHECK(ql_sound(ql));
    ql_pos pos;
    ql_index(ql, 2, &pos);
    CHECK_EQ_STR(str_at(&pos, buf, sizeof(buf)), "12");
    ql_index(ql, -1, &pos);
    CHECK_EQ_STR(str_at(&pos, buf, sizeof(buf)), "24");
    quicklist *copy = ql_dup(ql);
    ql_delete_range(ql, 0, ql->count);
    CHECK_EQ_INT(ql->count, 0);
    CHECK(ql->head == NULL && ql->tail == NULL && ql->len == 0);
    CHECK_EQ_INT(copy->count, 15);
    CHECK(ql_sound(copy));
    CHECK(ql_mem_usage(copy) > ql_mem_usage(ql));
    ql_free(copy);
    ql_free(ql);
}

TEST(from_listpack_and_memory_accounting)
{
    int64_t before = zmalloc_used();
    unsigned char *lp = lp_new();
    lp = lp_append(lp, "x", 1);
    quicklist *ql = ql_from_listpack(lp, -2);
    CHECK_EQ_INT(ql->count, 1);
    CHECK_EQ_INT(ql->len, 1);
    for (int i = 0; i < 5000; i++)
        ql_push(ql, i % 2 ? QL_HEAD : QL_TAIL, "element", 7);
    CHECK(ql_sound(ql));
    CHECK(zmalloc_used() - before == (int64_t)ql_mem_usage(ql));
    ql_free(ql);
    CHECK_EQ_INT(zmalloc_used(), before);
}

typedef struct item {
    char s[24];
    size_t len;
} item;

static int matches(const quicklist *ql, const item *m, int n)
{
    if (!ql_sound(ql) || (int)ql->count != n)
        return 0;
    ql_pos pos;
    int i = 0;
    for (int ok = ql_index(ql, 0, &pos); ok; ok = ql_move(&pos, QL_TAIL), i++)
        if (!lp_eq(pos.p, m[i].s, m[i].len))
            return 0;
    return i == n;
}

TEST(random_operations_match_array_model)
{
    srand(99);
    static item m[MODEL_MAX];
    int n = 0, ok = 1;
    quicklist *ql = ql_new(SMALL_FILL);
    for (int step = 0; step < MODEL_STEPS && ok; step++) {
        item it;
        it.len = (size_t)snprintf(it.s, sizeof(it.s), rand() % 2 ? "%d" : "s%d", rand() % 1000);
        int op = n == 0 ? 0 : rand() % 6;
        if (n >= MODEL_MAX - 1)
            op = 4;
        ql_pos pos;
        int at = n ? rand() % n : 0;
        switch (op) {
        case 0:
        case 1: {
            int where = rand() % 2 ? QL_HEAD : QL_TAIL;
            ql_push(ql, where, it.s, it.len);
            at = where == QL_HEAD ? 0 : n;
            memmove(m + at + 1, m + at, sizeof(item) * (size_t)(n - at));
            m[at] = it;
            n++;
            break;
        }
        case 2: {
            int after = rand() % 2;
            ql_index(ql, at, &pos);
            ql_insert(ql, &pos, after, it.s, it.len);
            at += after;
            memmove(m + at + 1, m + at, sizeof(item) * (size_t)(n - at));
            m[at] = it;
            n++;
            break;
        }
        case 3:
            ql_index(ql, at - n, &pos); /* negative index */
            ql_replace(ql, &pos, it.s, it.len);
            m[at] = it;
            break;
        case 4: {
            int dir = rand() % 2 ? QL_HEAD : QL_TAIL;
            ql_index(ql, at, &pos);
            ql_delete(ql, &pos, dir);
            int next = dir == QL_TAIL ? at : at - 1; /* model index pos should point at */
            memmove(m + at, m + at + 1, sizeof(item) * (size_t)(n - at - 1));
            n--;
            if (next >= 0 && next < n)
                ok = pos.node && lp_eq(pos.p, m[next].s, m[next].len);
            else
                ok = pos.node == NULL;
            break;
        }
        default: {
            int cnt = rand() % 5;
            ql_delete_range(ql, (unsigned long)at, (unsigned long)cnt);
            if (cnt > n - at)
                cnt = n - at;
            memmove(m + at, m + at + cnt, sizeof(item) * (size_t)(n - at - cnt));
            n -= cnt;
            break;
        }
        }
        ok = ok && matches(ql, m, n);
    }
    CHECK(ok);
    ql_free(ql);
}

int main(void)
{
    RUN_TEST(limits_follow_fill);
    RUN_TEST(push_both_ends_and_index);
    RUN_TEST(big_element_gets_its_own_node);
    RUN_TEST(insert_into_full_node_splits_it);
    RUN_TEST(replace_that_does_not_fit);
    RUN_TEST(delete_moves_and_frees_nodes);
    RUN_TEST(delete_range_and_dup);
    RUN_TEST(from_listpack_and_memory_accounting);
    RUN_TEST(random_operations_match_array_model);
    TEST_MAIN_END();
}
