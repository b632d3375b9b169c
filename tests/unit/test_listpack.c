/* Unit tests for the listpack (dataplane/listpack.c): every function, every element encoding at
 * its boundaries, a randomized comparison against a plain array, and lp_validate on corrupt
 * blocks. */
#include <stdlib.h>

#include "listpack.h"
#include "testing.h"
#include "zmalloc.h"

#define MODEL_MAX 512
#define MODEL_STEPS 20000
#define FUZZ_ROUNDS 3000
#define BIG_STR 70000

/* Reads the element at p as a NUL-terminated string into buf (callers size it). */
static const char *elem_str(const unsigned char *p, char *buf, size_t cap)
{
    char tmp[OBJ_INT_STR_MAX];
    lp_value v;
    lp_get(p, &v, tmp);
    size_t n = v.len < cap - 1 ? v.len : cap - 1;
    memcpy(buf, v.s, n);
    buf[n] = '\0';
    return buf;
}

static unsigned char *lp_from(const char **items, int n)
{
    unsigned char *lp = lp_new();
    for (int i = 0; i < n; i++)
        lp = lp_append(lp, items[i], strlen(items[i]));
    return lp;
}

TEST(new_is_empty)
{
    unsigned char *lp = lp_new();
    CHECK_EQ_INT(lp_count(lp), 0);
    CHECK(lp_first(lp) == NULL);
    CHECK(lp_last(lp) == NULL);
    CHECK(lp_seek(lp, 0) == NULL);
    CHECK(lp_seek(lp, -1) == NULL);
    CHECK(lp_validate(lp, lp_bytes(lp)));
    lp_free(lp);
}

TEST(append_prepend_iterate)
{
    unsigned char *lp = lp_new();
    lp = lp_append(lp, "b", 1);
    lp = lp_append(lp, "c", 1);
    lp = lp_prepend(lp, "a", 1);
    CHECK_EQ_INT(lp_count(lp), 3);
    char buf[64];
    const char *want[] = {"a", "b", "c"};
    int i = 0;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p))
        CHECK_EQ_STR(elem_str(p, buf, sizeof(buf)), want[i++]);
    CHECK_EQ_INT(i, 3);
    i = 2;
    for (unsigned char *p = lp_last(lp); p; p = lp_prev(lp, p))
        CHECK_EQ_STR(elem_str(p, buf, sizeof(buf)), want[i--]);
    CHECK_EQ_INT(i, -1);
    CHECK(lp_validate(lp, lp_bytes(lp)));
    lp_free(lp);
}

TEST(integer_encodings_round_trip)
{
    static const long long vals[] = {0,
                                     1,
                                     127,
                                     128,
                                     -1,
                                     -4096,
                                     4095,
                                     -4097,
                                     4096,
                                     32767,
                                     -32768,
                                     32768,
                                     -32769,
                                     8388607,
                                     -8388608,
                                     8388608,
                                     2147483647,
                                     -2147483648LL,
                                     2147483648LL,
                                     9223372036854775807LL,
                                     -9223372036854775807LL - 1};
    size_t n = sizeof(vals) / sizeof(vals[0]);
    unsigned char *lp = lp_new();
    for (size_t i = 0; i < n; i++) {
        char s[OBJ_INT_STR_MAX];
        int len = ll_to_str(s, vals[i]);
        lp = lp_append(lp, s, (size_t)len);
    }
    CHECK_EQ_INT(lp_count(lp), n);
    size_t i = 0;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p), i++) {
        char tmp[OBJ_INT_STR_MAX];
        lp_value v;
        lp_get(p, &v, tmp);
        CHECK_EQ_INT(v.is_int, 1);
        CHECK_EQ_INT(v.v, vals[i]);
        char s[OBJ_INT_STR_MAX];
        int len = ll_to_str(s, vals[i]);
        CHECK_EQ_MEM(v.s, v.len, s, len);
        CHECK(lp_eq(p, s, (size_t)len));
    }
    /* Walking backwards decodes every backlen. */
    i = n;
    for (unsigned char *p = lp_last(lp); p; p = lp_prev(lp, p))
        i--;
    CHECK_EQ_INT(i, 0);
    CHECK(lp_validate(lp, lp_bytes(lp)));
    lp_free(lp);
}

TEST(small_ints_are_compact)
{
    unsigned char *lp = lp_new();
    size_t empty = lp_bytes(lp);
    lp = lp_append(lp, "7", 1);
    CHECK_EQ_INT(lp_bytes(lp) - empty, 2); /* one byte of value, one of backlen */
    lp_free(lp);
}

TEST(non_canonical_numbers_stay_strings)
{
    const char *items[] = {"007", "-0", "+1", " 1", "1 ", "1.5", "", "99999999999999999999", "-"};
    int n = (int)(sizeof(items) / sizeof(items[0]));
    unsigned char *lp = lp_from(items, n);
    int i = 0;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p), i++) {
        char tmp[OBJ_INT_STR_MAX];
        lp_value v;
        lp_get(p, &v, tmp);
        CHECK_EQ_INT(v.is_int, 0);
        CHECK_EQ_MEM(v.s, v.len, items[i], strlen(items[i]));
    }
    CHECK_EQ_INT(i, n);
    lp_free(lp);
}

TEST(string_lengths_at_encoding_boundaries)
{
    static const size_t lens[] = {0, 1, 63, 64, 126, 127, 128, 4095, 4096, 16383, 16384, BIG_STR};
    size_t n = sizeof(lens) / sizeof(lens[0]);
    char *buf = malloc(BIG_STR);
    REQUIRE(buf != NULL);
    for (size_t i = 0; i < BIG_STR; i++)
        buf[i] = (char)('a' + i % 26);
    unsigned char *lp = lp_new();
    for (size_t i = 0; i < n; i++)
        lp = lp_append(lp, buf, lens[i]);
    CHECK(lp_validate(lp, lp_bytes(lp)));
    size_t i = 0;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p), i++) {
        char tmp[OBJ_INT_STR_MAX];
        lp_value v;
        lp_get(p, &v, tmp);
        CHECK_EQ_INT(v.is_int, 0);
        CHECK_EQ_MEM(v.s, v.len, buf, lens[i]);
        CHECK(lp_eq(p, buf, lens[i]));
    }
    CHECK_EQ_INT(i, n);
    for (unsigned char *p = lp_last(lp); p; p = lp_prev(lp, p)) {
        char tmp[OBJ_INT_STR_MAX];
        lp_value v;
        lp_get(p, &v, tmp);
        i--;
        CHECK_EQ_INT(v.len, lens[i]);
    }
    CHECK_EQ_INT(i, 0);
    lp_free(lp);
    free(buf);
}

TEST(seek_positive_negative_and_out_of_range)
{
    const char *items[] = {"a", "b", "c", "d", "e", "f", "g"};
    unsigned char *lp = lp_from(items, 7);
    char buf[16];
    for (long i = 0; i < 7; i++) {
        CHECK_EQ_STR(elem_str(lp_seek(lp, i), buf, sizeof(buf)), items[i]);
        CHECK_EQ_STR(elem_str(lp_seek(lp, i - 7), buf, sizeof(buf)), items[i]);
    }
    CHECK(lp_seek(lp, 7) == NULL);
    CHECK(lp_seek(lp, -8) == NULL);
    CHECK(lp_seek(lp, 1000000) == NULL);
    lp_free(lp);
}

TEST(eq_compares_by_decimal_form)
{
    const char *items[] = {"12", "hello", ""};
    unsigned char *lp = lp_from(items, 3);
    unsigned char *p = lp_first(lp);
    CHECK(lp_eq(p, "12", 2));
    CHECK(!lp_eq(p, "012", 3));
    CHECK(!lp_eq(p, "1", 1));
    CHECK(!lp_eq(p, "hello", 5));
    p = lp_next(lp, p);
    CHECK(lp_eq(p, "hello", 5));
    CHECK(!lp_eq(p, "hell", 4));
    CHECK(!lp_eq(p, "12", 2));
    p = lp_next(lp, p);
    CHECK(lp_eq(p, "", 0));
    CHECK(!lp_eq(p, "0", 1));
    lp_free(lp);
}

TEST(insert_before_and_after)
{
    const char *items[] = {"a", "c"};
    unsigned char *lp = lp_from(items, 2);
    unsigned char *newp = NULL;
    unsigned char *c = lp_seek(lp, 1);
    lp = lp_insert(lp, c, 0, "b", 1, &newp);
    char buf[16];
    CHECK_EQ_STR(elem_str(newp, buf, sizeof(buf)), "b");
    lp = lp_insert(lp, lp_seek(lp, -1), 1, "100", 3, &newp);
    CHECK_EQ_STR(elem_str(newp, buf, sizeof(buf)), "100");
    lp = lp_insert(lp, lp_first(lp), 0, "first", 5, NULL);
    const char *want[] = {"first", "a", "b", "c", "100"};
    CHECK_EQ_INT(lp_count(lp), 5);
    for (int i = 0; i < 5; i++)
        CHECK_EQ_STR(elem_str(lp_seek(lp, i), buf, sizeof(buf)), want[i]);
    CHECK(lp_validate(lp, lp_bytes(lp)));
    lp_free(lp);
}

TEST(replace_grow_shrink_and_self)
{
    const char *items[] = {"a", "b", "c"};
    unsigned char *lp = lp_from(items, 3);
    char big[300];
    memset(big, 'x', sizeof(big));
    unsigned char *newp;
    lp = lp_replace(lp, lp_seek(lp, 1), big, sizeof(big), &newp);
    char tmp[OBJ_INT_STR_MAX];
    lp_value v;
    lp_get(newp, &v, tmp);
    CHECK_EQ_MEM(v.s, v.len, big, sizeof(big));
    lp = lp_replace(lp, lp_seek(lp, 1), "5", 1, &newp);
    lp_get(newp, &v, tmp);
    CHECK_EQ_INT(v.is_int, 1);
    CHECK_EQ_INT(v.v, 5);
    /* Copy the last element over the first from inside the block itself. */
    lp = lp_replace(lp, lp_seek(lp, 2), big, 100, NULL);
    unsigned char *last = lp_seek(lp, 2);
    lp_get(last, &v, tmp);
    lp = lp_replace(lp, lp_first(lp), v.s, v.len, NULL);
    lp_get(lp_first(lp), &v, tmp);
    CHECK_EQ_MEM(v.s, v.len, big, 100);
    CHECK_EQ_INT(lp_count(lp), 3);
    CHECK(lp_validate(lp, lp_bytes(lp)));
    lp_free(lp);
}

TEST(delete_reports_next)
{
    const char *items[] = {"a", "b", "c"};
    unsigned char *lp = lp_from(items, 3);
    unsigned char *newp;
    char buf[16];
    lp = lp_delete(lp, lp_seek(lp, 1), &newp);
    CHECK_EQ_STR(elem_str(newp, buf, sizeof(buf)), "c");
    lp = lp_delete(lp, lp_seek(lp, -1), &newp);
    CHECK(newp == NULL);
    lp = lp_delete(lp, lp_first(lp), NULL);
    CHECK_EQ_INT(lp_count(lp), 0);
    CHECK(lp_first(lp) == NULL);
    CHECK(lp_validate(lp, lp_bytes(lp)));
    lp_free(lp);
}

TEST(delete_range)
{
    const char *items[] = {"0", "1", "2", "3", "4", "5", "6", "7"};
    unsigned char *lp = lp_from(items, 8);
    lp = lp_delete_range(lp, 2, 3); /* 0 1 5 6 7 */
    CHECK_EQ_INT(lp_count(lp), 5);
    char buf[16];
    CHECK_EQ_STR(elem_str(lp_seek(lp, 2), buf, sizeof(buf)), "5");
    lp = lp_delete_range(lp, -2, 100); /* 0 1 5 */
    CHECK_EQ_INT(lp_count(lp), 3);
    CHECK_EQ_STR(elem_str(lp_last(lp), buf, sizeof(buf)), "5");
    lp = lp_delete_range(lp, 10, 1); /* out of range: nothing */
    lp = lp_delete_range(lp, 0, 0);
    CHECK_EQ_INT(lp_count(lp), 3);
    lp = lp_delete_range(lp, 0, 3);
    CHECK_EQ_INT(lp_count(lp), 0);
    CHECK(lp_validate(lp, lp_bytes(lp)));
    lp_free(lp);
}

TEST(find_with_skip)
{
    /* field/value pairs where a value equals a later field */
    const char *items[] = {"f1", "f2", "f2", "v2", "10", "x"};
    unsigned char *lp = lp_from(items, 6);
    unsigned char *p = lp_find(lp, lp_first(lp), "f2", 2, 1);
    REQUIRE(p != NULL);
    CHECK(p == lp_seek(lp, 2));
    CHECK(lp_find(lp, lp_first(lp), "v2", 2, 1) == NULL); /* only at a value position */
    CHECK(lp_find(lp, lp_first(lp), "v2", 2, 0) == lp_seek(lp, 3));
    CHECK(lp_find(lp, lp_first(lp), "10", 2, 1) == lp_seek(lp, 4));
    CHECK(lp_find(lp, lp_first(lp), "010", 3, 0) == NULL);
    CHECK(lp_find(lp, lp_seek(lp, 3), "f2", 2, 0) == NULL);
    CHECK(lp_find(lp, NULL, "f1", 2, 0) == NULL);
    lp_free(lp);
}

TEST(split_moves_the_tail)
{
    const char *items[] = {"a", "1", "bb", "-70000", "c"};
    unsigned char *lp = lp_from(items, 5);
    unsigned char *tail;
    lp = lp_split(lp, lp_seek(lp, 2), &tail);
    CHECK_EQ_INT(lp_count(lp), 2);
    CHECK_EQ_INT(lp_count(tail), 3);
    CHECK(lp_validate(lp, lp_bytes(lp)));
    CHECK(lp_validate(tail, lp_bytes(tail)));
    char buf[16];
    CHECK_EQ_STR(elem_str(lp_last(lp), buf, sizeof(buf)), "1");
    CHECK_EQ_STR(elem_str(lp_first(tail), buf, sizeof(buf)), "bb");
    CHECK_EQ_STR(elem_str(lp_seek(tail, 1), buf, sizeof(buf)), "-70000");
    CHECK_EQ_STR(elem_str(lp_prev(tail, lp_last(tail)), buf, sizeof(buf)), "-70000");
    lp_free(tail);
    /* Splitting at the first element moves everything. */
    lp = lp_split(lp, lp_first(lp), &tail);
    CHECK_EQ_INT(lp_count(lp), 0);
    CHECK(lp_first(lp) == NULL);
    CHECK_EQ_INT(lp_count(tail), 2);
    CHECK(lp_validate(lp, lp_bytes(lp)));
    lp_free(tail);
    lp_free(lp);
}

TEST(dup_is_deep)
{
    const char *items[] = {"a", "1", "bb"};
    unsigned char *lp = lp_from(items, 3);
    unsigned char *copy = lp_dup(lp);
    CHECK_EQ_MEM(copy, lp_bytes(copy), lp, lp_bytes(lp));
    lp = lp_append(lp, "more", 4);
    CHECK_EQ_INT(lp_count(copy), 3);
    CHECK_EQ_INT(lp_count(lp), 4);
    lp_free(lp);
    lp_free(copy);
}

TEST(memory_is_accounted)
{
    int64_t before = zmalloc_used();
    unsigned char *lp = lp_new();
    for (int i = 0; i < 100; i++)
        lp = lp_append(lp, "element", 7);
    CHECK(zmalloc_used() - before >= (int64_t)lp_bytes(lp));
    lp_free(lp);
    CHECK_EQ_INT(zmalloc_used(), before);
}

/* Random element: an int of some width, or a string of some length. */
static size_t random_elem(char *buf, size_t cap)
{
    switch (rand() % 4) {
    case 0: return (size_t)ll_to_str(buf, rand() % 300 - 150);
    case 1: return (size_t)ll_to_str(buf, ((long long)rand() << 31 | rand()) - (1LL << 50));
    case 2: {
        size_t n = (size_t)(rand() % 20);
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)('a' + rand() % 26);
        return n;
    }
    default: {
        size_t n = (size_t)(rand() % (cap < 5000 ? cap : 5000));
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)('A' + rand() % 26);
        return n;
    }
    }
}

typedef struct model_item {
    char *s;
    size_t len;
} model_item;

static int model_matches(const unsigned char *lp, model_item *m, int n)
{
    if ((int)lp_count(lp) != n || !lp_validate(lp, lp_bytes(lp)))
        return 0;
    int i = 0;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p), i++)
        if (i >= n || !lp_eq(p, m[i].s, m[i].len))
            return 0;
    if (i != n)
        return 0;
    for (unsigned char *p = lp_last(lp); p; p = lp_prev(lp, p)) {
        i--;
        if (!lp_eq(p, m[i].s, m[i].len))
            return 0;
    }
    return i == 0;
}

TEST(random_operations_match_array_model)
{
    srand(12345);
    static model_item m[MODEL_MAX];
    int n = 0;
    static char buf[6000];
    unsigned char *lp = lp_new();
    int ok = 1;
    for (int step = 0; step < MODEL_STEPS && ok; step++) {
        int op = rand() % 6;
        if (n >= MODEL_MAX - 1)
            op = 4; /* delete */
        size_t len = random_elem(buf, sizeof(buf));
        int at = n ? rand() % n : 0;
        if (op == 0 || n == 0) {
            lp = lp_append(lp, buf, len);
            at = n;
        } else if (op == 1) {
            lp = lp_prepend(lp, buf, len);
            at = 0;
        } else if (op == 2) {
            int after = rand() % 2;
            lp = lp_insert(lp, lp_seek(lp, at), after, buf, len, NULL);
            at += after;
        } else if (op == 3) {
            lp = lp_replace(lp, lp_seek(lp, at), buf, len, NULL);
            free(m[at].s);
            m[at].s = malloc(len + 1);
            memcpy(m[at].s, buf, len);
            m[at].len = len;
            ok = model_matches(lp, m, n);
            continue;
        } else if (op == 4) {
            lp = lp_delete(lp, lp_seek(lp, at), NULL);
            free(m[at].s);
            memmove(m + at, m + at + 1, sizeof(m[0]) * (size_t)(n - at - 1));
            n--;
            ok = model_matches(lp, m, n);
            continue;
        } else {
            int cnt = rand() % 4;
            lp = lp_delete_range(lp, at, (unsigned long)cnt);
            if (cnt > n - at)
                cnt = n - at;
            for (int i = 0; i < cnt; i++)
                free(m[at + i].s);
            memmove(m + at, m + at + cnt, sizeof(m[0]) * (size_t)(n - at - cnt));
            n -= cnt;
            ok = model_matches(lp, m, n);
            continue;
        }
        memmove(m + at + 1, m + at, sizeof(m[0]) * (size_t)(n - at));
        m[at].s = malloc(len + 1);
        memcpy(m[at].s, buf, len);
        m[at].len = len;
        n++;
        ok = model_matches(lp, m, n);
    }
    CHECK(ok);
    for (int i = 0; i < n; i++)
        free(m[i].s);
    lp_free(lp);
}

/* ---- lp_validate on corrupt input --------------------------------------------------------- */

static unsigned char *sample_block(size_t *bytes)
{
    const char *items[] = {"a", "12", "-5000", "hello world", "9223372036854775807", "", "x"};
    unsigned char *lp = lp_from(items, 7);
    char big[200];
    memset(big, 'q', sizeof(big));
    lp = lp_append(lp, big, sizeof(big));
    *bytes = lp_bytes(lp);
    return lp;
}

TEST(validate_rejects_bad_header)
{
    size_t n;
    unsigned char *lp = sample_block(&n);
    CHECK(lp_validate(lp, n));
    CHECK(!lp_validate(NULL, n));
    CHECK(!lp_validate(lp, 0));
    CHECK(!lp_validate(lp, 4));
    CHECK(!lp_validate(lp, n - 1)); /* declared size disagrees */
    unsigned char *c = lp_dup(lp);
    c[4] ^= 1; /* count */
    CHECK(!lp_validate(c, n));
    lp_free(c);
    c = lp_dup(lp);
    c[n - 1] = 0; /* terminator */
    CHECK(!lp_validate(c, n));
    lp_free(c);
    lp_free(lp);
}

TEST(validate_rejects_bad_elements)
{
    size_t n;
    unsigned char *lp = sample_block(&n);
    unsigned char *c = lp_dup(lp);
    unsigned char *p = lp_seek(c, 3);  /* "hello world": string with 6-bit length */
    p[0] = (unsigned char)(0x80 | 60); /* length runs past the block's end region */
    CHECK(!lp_validate(c, n));
    lp_free(c);

    c = lp_dup(lp);
    p = lp_seek(c, 0);
    p[2] ^= 0x01; /* backlen of "a" (after its header and byte) */
    CHECK(!lp_validate(c, n));
    lp_free(c);

    c = lp_dup(lp);
    p = lp_seek(c, 1);
    p[0] = 0xF7; /* unknown encoding */
    CHECK(!lp_validate(c, n));
    lp_free(c);

    c = lp_dup(lp);
    p = lp_seek(c, 2);
    p[0] = 0xFF; /* terminator in the middle */
    CHECK(!lp_validate(c, n));
    lp_free(c);

    c = lp_dup(lp);
    p = lp_seek(c, -1); /* the 200-byte string: 32-bit length field claims 4 GiB */
    p[0] = 0xF0;
    p[1] = p[2] = p[3] = p[4] = 0xFF;
    CHECK(!lp_validate(c, n));
    lp_free(c);
    lp_free(lp);
}

TEST(validate_truncated_and_fuzzed_never_crashes)
{
    size_t n;
    unsigned char *lp = sample_block(&n);
    /* Every truncation, with the header and terminator patched to look plausible. */
    for (size_t cut = 9; cut < n; cut++) {
        unsigned char *c = malloc(cut);
        memcpy(c, lp, cut);
        c[0] = (unsigned char)cut;
        c[1] = (unsigned char)(cut >> 8);
        c[2] = c[3] = 0;
        c[cut - 1] = 0xFF;
        (void)lp_validate(c, cut); /* must not read out of bounds (ASan) */
        free(c);
    }
    /* Random byte flips: whatever validate accepts must be walkable end to end. */
    srand(777);
    int accepted = 0;
    for (int round = 0; round < FUZZ_ROUNDS; round++) {
        unsigned char *c = malloc(n);
        memcpy(c, lp, n);
        int flips = 1 + rand() % 3;
        for (int i = 0; i < flips; i++)
            c[8 + (size_t)rand() % (n - 8)] ^= (unsigned char)(1 + rand() % 255);
        if (lp_validate(c, n)) {
            accepted++;
            uint32_t cnt = 0;
            for (unsigned char *p = lp_first(c); p; p = lp_next(c, p))
                cnt++;
            CHECK_EQ_INT(cnt, lp_count(c));
            for (unsigned char *p = lp_last(c); p; p = lp_prev(c, p))
                cnt--;
            CHECK_EQ_INT(cnt, 0);
        }
        free(c);
    }
    CHECK(accepted < FUZZ_ROUNDS); /* corruption is mostly noticed */
    lp_free(lp);
}

int main(void)
{
    RUN_TEST(new_is_empty);
    RUN_TEST(append_prepend_iterate);
    RUN_TEST(integer_encodings_round_trip);
    RUN_TEST(small_ints_are_compact);
    RUN_TEST(non_canonical_numbers_stay_strings);
    RUN_TEST(string_lengths_at_encoding_boundaries);
    RUN_TEST(seek_positive_negative_and_out_of_range);
    RUN_TEST(eq_compares_by_decimal_form);
    RUN_TEST(insert_before_and_after);
    RUN_TEST(replace_grow_shrink_and_self);
    RUN_TEST(delete_reports_next);
    RUN_TEST(delete_range);
    RUN_TEST(find_with_skip);
    RUN_TEST(split_moves_the_tail);
    RUN_TEST(dup_is_deep);
    RUN_TEST(memory_is_accounted);
    RUN_TEST(random_operations_match_array_model);
    RUN_TEST(validate_rejects_bad_header);
    RUN_TEST(validate_rejects_bad_elements);
    RUN_TEST(validate_truncated_and_fuzzed_never_crashes);
    TEST_MAIN_END();
}
