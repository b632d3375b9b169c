/* Unit tests of zskiplist.c: order, ranks and spans checked against a sorted-array model through
 * random inserts, score updates and deletions (single and by rank range); score and lex range
 * ends; the member index across incremental rehashes; the scan guarantee while the index grows;
 * dup; and exact memory accounting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"
#include "zmalloc.h"
#include "zskiplist.h"

#define MEMBER_MAX 32
#define MODEL_MEMBERS 3000
#define MODEL_OPS 60000
#define SCORE_SPREAD 50 /* few distinct scores: ties ordered by member matter */
#define MANY 50000

typedef struct model_elem {
    double score;
    char m[MEMBER_MAX];
    size_t len;
} model_elem;

static model_elem model[MODEL_MEMBERS];
static int model_n;

static int elem_cmp(const void *a, const void *b)
{
    const model_elem *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    return zlex_cmp(x->m, x->len, y->m, y->len);
}

static int model_find(const char *m, size_t len)
{
    for (int i = 0; i < model_n; i++)
        if (model[i].len == len && memcmp(model[i].m, m, len) == 0)
            return i;
    return -1;
}

static void model_remove(int i)
{
    memmove(&model[i], &model[i + 1], sizeof(model[0]) * (size_t)(model_n - i - 1));
    model_n--;
}

static size_t member_of(char *buf, int i)
{
    return (size_t)snprintf(buf, MEMBER_MAX, "m%d", i);
}

/* Every node in model order, with ranks, backward links, tail and index lookups. */
static void check_against_model(zskiplist *zsl)
{
    qsort(model, (size_t)model_n, sizeof(model[0]), elem_cmp);
    CHECK_EQ_INT((long long)zsl_length(zsl), model_n);
    zsl_node *n = zsl_first(zsl), *prev = NULL;
    for (int i = 0; i < model_n; i++) {
        REQUIRE(n != NULL);
        CHECK(n->score == model[i].score);
        CHECK(n->mlen == model[i].len && memcmp(zsl_node_member(n), model[i].m, n->mlen) == 0);
        CHECK(zsl_prev(n) == prev);
        CHECK_EQ_INT((long long)zsl_rank(zsl, n), i + 1);
        CHECK(zsl_by_rank(zsl, (unsigned long)i + 1) == n);
        CHECK(zsl_find(zsl, model[i].m, model[i].len) == n);
        prev = n;
        n = zsl_next(n);
    }
    CHECK(n == NULL);
    CHECK(zsl_last(zsl) == prev);
    CHECK(zsl_by_rank(zsl, (unsigned long)model_n + 1) == NULL);
}

TEST(random_against_model)
{
    int64_t before = zmalloc_used();
    zskiplist *zsl = zsl_new(0);
    srand(7);
    char m[MEMBER_MAX];
    for (int op = 0; op < MODEL_OPS; op++) {
        int id = rand() % MODEL_MEMBERS;
        size_t len = member_of(m, id);
        int at = model_find(m, len);
        double score = rand() % SCORE_SPREAD - SCORE_SPREAD / 2;
        int kind = rand() % 10;
        if (kind < 5) {
            if (at < 0) {
                zsl_insert(zsl, score, m, len);
                model[model_n] = (model_elem){.score = score, .len = len};
                memcpy(model[model_n++].m, m, len);
            } else {
                zsl_update_score(zsl, zsl_find(zsl, m, len), score);
                model[at].score = score;
            }
        } else if (kind < 9) {
            CHECK_EQ_INT(zsl_delete(zsl, m, len), at >= 0);
            if (at >= 0)
                model_remove(at);
        } else if (model_n > 0) {
            qsort(model, (size_t)model_n, sizeof(model[0]), elem_cmp);
            int start = rand() % model_n, cnt = rand() % 5;
            int end = start + cnt < model_n ? start + cnt : model_n - 1;
            CHECK_EQ_INT((long long)zsl_delete_rank_range(zsl, (unsigned long)start + 1,
                                                          (unsigned long)end + 1),
                         end - start + 1);
            memmove(&model[start], &model[end + 1], sizeof(model[0]) * (size_t)(model_n - end - 1));
            model_n -= end - start + 1;
        }
        if (op % 5000 == 0)
            check_against_model(zsl);
        CHECK_EQ_INT((int64_t)zsl_mem_usage(zsl), zmalloc_used() - before);
    }
    check_against_model(zsl);
    zskiplist *copy = zsl_dup(zsl);
    check_against_model(copy);
    zsl_free(copy);
    zsl_free(zsl);
    CHECK_EQ_INT(zmalloc_used(), before);
    model_n = 0;
}

TEST(score_ranges)
{
    zskiplist *zsl = zsl_new(0);
    char m[MEMBER_MAX];
    for (int i = 0; i < 100; i++)
        zsl_insert(zsl, i / 2, m, member_of(m, i)); /* scores 0,0,1,1,...,49,49 */
    zrange_score r = {.min = 10, .max = 20};
    CHECK(zsl_first_in_score(zsl, &r)->score == 10);
    CHECK_EQ_INT((long long)zsl_rank(zsl, zsl_first_in_score(zsl, &r)), 21);
    CHECK_EQ_INT((long long)zsl_rank(zsl, zsl_last_in_score(zsl, &r)), 42);
    r.minex = r.maxex = 1;
    CHECK_EQ_INT((long long)zsl_rank(zsl, zsl_first_in_score(zsl, &r)), 23);
    CHECK_EQ_INT((long long)zsl_rank(zsl, zsl_last_in_score(zsl, &r)), 40);
    r = (zrange_score){.min = 5, .max = 5, .minex = 1};
    CHECK(zsl_first_in_score(zsl, &r) == NULL);
    r = (zrange_score){.min = 60, .max = 70};
    CHECK(zsl_first_in_score(zsl, &r) == NULL && zsl_last_in_score(zsl, &r) == NULL);
    r = (zrange_score){.min = -10, .max = -1};
    CHECK(zsl_first_in_score(zsl, &r) == NULL && zsl_last_in_score(zsl, &r) == NULL);
    zsl_free(zsl);
}

TEST(lex_ranges)
{
    zskiplist *zsl = zsl_new(0);
    const char *words[] = {"a", "ab", "b", "ba", "c", "d"};
    for (int i = 0; i < 6; i++)
        zsl_insert(zsl, 0, words[i], strlen(words[i]));
    zrange_lex r = {.min = "ab", .minlen = 2, .max = "c", .maxlen = 1};
    zsl_node *first = zsl_first_in_lex(zsl, &r);
    REQUIRE(first != NULL);
    CHECK(first->mlen == 2 && memcmp(zsl_node_member(first), "ab", 2) == 0);
    r.minex = 1;
    CHECK(zsl_first_in_lex(zsl, &r)->mlen == 1);
    r.maxex = 1;
    CHECK(zsl_last_in_lex(zsl, &r)->mlen == 2); /* "ba" */
    r = (zrange_lex){.minkind = ZLEX_MINUS_INF, .maxkind = ZLEX_PLUS_INF, .minex = 1, .maxex = 1};
    CHECK_EQ_INT((long long)zsl_rank(zsl, zsl_first_in_lex(zsl, &r)), 1);
    CHECK_EQ_INT((long long)zsl_rank(zsl, zsl_last_in_lex(zsl, &r)), 6);
    r = (zrange_lex){.minkind = ZLEX_PLUS_INF, .maxkind = ZLEX_PLUS_INF, .minex = 1, .maxex = 1};
    CHECK(zrange_lex_empty(&r));
    CHECK(zsl_first_in_lex(zsl, &r) == NULL);
    zsl_free(zsl);
}

static void mark_seen(void *arg, const zsl_node *n)
{
    char *seen = arg, buf[MEMBER_MAX];
    memcpy(buf, zsl_node_member(n), n->mlen);
    buf[n->mlen] = '\0';
    seen[atoi(buf + 1)] = 1;
}

/* Members present for the whole scan are reported, while inserts make the index grow and
 * deletions make it shrink (each crossing a rehash). */
TEST(scan_across_rehash)
{
    zskiplist *zsl = zsl_new(0);
    char m[MEMBER_MAX];
    static char seen[MANY * 3];
    memset(seen, 0, sizeof(seen));
    for (int i = 0; i < MANY; i++)
        zsl_insert(zsl, i, m, member_of(m, i));
    uint64_t cursor = 0;
    int calls = 0, next = MANY;
    do {
        cursor = zsl_scan(zsl, cursor, mark_seen, seen);
        if (calls % 2 == 0 && next < 3 * MANY) { /* grow */
            for (int j = 0; j < 100; j++, next++)
                zsl_insert(zsl, next, m, member_of(m, next));
        }
        calls++;
    } while (cursor);
    for (int i = 0; i < MANY; i++)
        if (!seen[i]) {
            CHECK(seen[i]);
            break;
        }
    /* Now shrink: delete the added members during a second scan. */
    memset(seen, 0, sizeof(seen));
    cursor = 0;
    do {
        cursor = zsl_scan(zsl, cursor, mark_seen, seen);
        for (int j = 0; j < 200 && next > MANY; j++) {
            next--;
            zsl_delete(zsl, m, member_of(m, next));
        }
    } while (cursor);
    for (int i = 0; i < MANY; i++)
        if (!seen[i]) {
            CHECK(seen[i]);
            break;
        }
    zsl_delete_rank_range(zsl, 1, zsl_length(zsl));
    CHECK_EQ_INT((long long)zsl_length(zsl), 0);
    CHECK(zsl_first(zsl) == NULL && zsl_last(zsl) == NULL);
    CHECK_EQ_INT((long long)zsl_scan(zsl, 0, mark_seen, seen), 0);
    zsl_free(zsl);
}

TEST(update_keeps_node)
{
    zskiplist *zsl = zsl_new(4);
    zsl_node *a = zsl_insert(zsl, 1, "a", 1);
    zsl_insert(zsl, 2, "b", 1);
    zsl_insert(zsl, 3, "c", 1);
    CHECK(zsl_update_score(zsl, a, 1.5) == a); /* in place */
    CHECK(zsl_update_score(zsl, a, 10) == a);  /* moved */
    CHECK(zsl_last(zsl) == a);
    CHECK_EQ_INT((long long)zsl_rank(zsl, a), 3);
    CHECK(zsl_find(zsl, "a", 1) == a);
    zsl_free(zsl);
}

int main(void)
{
    RUN_TEST(random_against_model);
    RUN_TEST(score_ranges);
    RUN_TEST(lex_ranges);
    RUN_TEST(scan_across_rehash);
    RUN_TEST(update_keeps_node);
    TEST_MAIN_END();
}
