/* Unit tests of keyspace entries (object.c): the one-allocation layout (key, optional expiry,
 * value) read back for every string encoding, integer detection with Redis's rules, moving an
 * entry to another expiry, copies under another key, and the raw-string helpers behind APPEND,
 * SETRANGE, SETBIT and INCR. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "object.h"
#include "testing.h"
#include "zmalloc.h"

#define EXPIRE_SAMPLE 1700000000123LL /* a plausible absolute expiry in ms */
#define LONG_KEY_LEN 300              /* needs a two-byte varint length */
#define BIG_VALUE_LEN 5000
#define APPEND_ROUNDS 2000
#define LARGE_GROWTH_STEPS 4

/* Reads e's string value into a NUL-terminated buffer (values in these tests are text). */
static const char *value_of(const entry *e, char *out, size_t outlen)
{
    char tmp[OBJ_INT_STR_MAX];
    size_t len;
    const char *s = entry_str(e, tmp, &len);
    if (len >= outlen)
        len = outlen - 1;
    memcpy(out, s, len);
    out[len] = '\0';
    return out;
}

static int key_is(const entry *e, const char *k, size_t klen)
{
    size_t len;
    const char *got = entry_key(e, &len);
    return len == klen && memcmp(got, k, klen) == 0;
}

TEST(int_values_are_int_encoded)
{
    entry *e = entry_new_string("counter", 7, "12345", 5, -1);
    REQUIRE(e);
    CHECK_EQ_INT(e->type, OBJ_STRING);
    CHECK_EQ_INT(e->enc, ENC_INT);
    CHECK_EQ_STR(obj_enc_name(e), "int");
    long long v = 0;
    CHECK(entry_get_ll(e, &v));
    CHECK_EQ_INT(v, 12345);
    char buf[64];
    CHECK_EQ_STR(value_of(e, buf, sizeof(buf)), "12345");
    CHECK(key_is(e, "counter", 7));
    CHECK_EQ_INT(entry_expire(e), -1);
    entry_free(e);
}

TEST(short_strings_are_embedded)
{
    char val[OBJ_EMBSTR_MAX + 1];
    memset(val, 'x', sizeof(val));
    entry *e = entry_new_string("k", 1, val, OBJ_EMBSTR_MAX, -1);
    CHECK_EQ_INT(e->enc, ENC_EMBSTR);
    CHECK_EQ_STR(obj_enc_name(e), "embstr");
    char tmp[OBJ_INT_STR_MAX];
    size_t len;
    const char *s = entry_str(e, tmp, &len);
    CHECK_EQ_MEM(s, len, val, OBJ_EMBSTR_MAX);
    entry_free(e);

    /* One byte more leaves the entry: a raw string. */
    e = entry_new_string("k", 1, val, OBJ_EMBSTR_MAX + 1, -1);
    CHECK_EQ_INT(e->enc, ENC_RAW);
    CHECK_EQ_STR(obj_enc_name(e), "raw");
    s = entry_str(e, tmp, &len);
    CHECK_EQ_MEM(s, len, val, OBJ_EMBSTR_MAX + 1);
    entry_free(e);
}

TEST(empty_and_binary_values)
{
    entry *e = entry_new_string("empty", 5, "", 0, -1);
    CHECK_EQ_INT(e->enc, ENC_EMBSTR);
    char tmp[OBJ_INT_STR_MAX];
    size_t len = 99;
    entry_str(e, tmp, &len);
    CHECK_EQ_INT(len, 0);
    long long v;
    CHECK(!entry_get_ll(e, &v));
    entry_free(e);

    const char bin[] = {'a', 0, 'b', '\r', '\n', (char)0xff};
    e = entry_new_string("b\0k", 3, bin, sizeof(bin), -1);
    const char *s = entry_str(e, tmp, &len);
    CHECK_EQ_MEM(s, len, bin, sizeof(bin));
    CHECK(key_is(e, "b\0k", 3));
    entry_free(e);
}

TEST(expiry_round_trips_for_every_encoding)
{
    static const char *const values[] = {"42", "short text",
                                         "a value long enough to need a separate raw block...."};
    static const int encs[] = {ENC_INT, ENC_EMBSTR, ENC_RAW};
    for (int i = 0; i < 3; i++) {
        entry *e = entry_new_string("key", 3, values[i], strlen(values[i]), EXPIRE_SAMPLE);
        CHECK_EQ_INT(e->enc, encs[i]);
        CHECK(e->has_expire);
        CHECK_EQ_INT(entry_expire(e), EXPIRE_SAMPLE);
        CHECK(key_is(e, "key", 3));
        char buf[128];
        CHECK_EQ_STR(value_of(e, buf, sizeof(buf)), values[i]);
        entry_free(e);
    }
}

TEST(long_keys)
{
    char key[LONG_KEY_LEN];
    for (int i = 0; i < LONG_KEY_LEN; i++)
        key[i] = (char)('a' + i % 26);
    entry *e = entry_new_string(key, sizeof(key), "v", 1, EXPIRE_SAMPLE);
    CHECK(key_is(e, key, sizeof(key)));
    char buf[8];
    CHECK_EQ_STR(value_of(e, buf, sizeof(buf)), "v");
    CHECK_EQ_INT(entry_expire(e), EXPIRE_SAMPLE);
    entry_free(e);
}

TEST(str_to_ll_accepts_canonical_integers)
{
    static const struct {
        const char *s;
        long long v;
    } ok[] = {
        {"0", 0},
        {"7", 7},
        {"-7", -7},
        {"9223372036854775807", LLONG_MAX},
        {"-9223372036854775808", LLONG_MIN},
        {"1000000", 1000000},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        long long v = 0;
        CHECK(str_to_ll(ok[i].s, strlen(ok[i].s), &v));
        CHECK_EQ_INT(v, ok[i].v);
    }
}

TEST(str_to_ll_rejects_what_redis_rejects)
{
    static const char *const bad[] = {
        "",
        "-",
        "+1",
        " 1",
        "1 ",
        "01",
        "-0",
        "00",
        "1a",
        "a1",
        "1.0",
        "1e3",
        "--1",
        "0x10",
        "9223372036854775808",
        "-9223372036854775809",
        "18446744073709551616",
        "99999999999999999999",
        "123456789012345678901",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long long v = 0;
        if (str_to_ll(bad[i], strlen(bad[i]), &v)) {
            testing_fail_at(__FILE__, __LINE__);
            fprintf(stderr, "str_to_ll accepted \"%s\"\n", bad[i]);
        }
    }
    long long v;
    CHECK(!str_to_ll("12\0"
                     "3",
                     4, &v));         /* a NUL byte inside is not a digit */
    CHECK(str_to_ll("12345", 2, &v)); /* only len bytes count */
    CHECK_EQ_INT(v, 12);
}

TEST(ll_to_str_round_trips)
{
    static const long long values[] = {0, 1, -1, 10, -10, 123456789, LLONG_MAX, LLONG_MIN};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char buf[OBJ_INT_STR_MAX];
        char want[32];
        snprintf(want, sizeof(want), "%lld", values[i]);
        int n = ll_to_str(buf, values[i]);
        CHECK_EQ_INT(n, (int)strlen(want));
        CHECK_EQ_STR(buf, want);
        long long back;
        CHECK(str_to_ll(buf, (size_t)n, &back));
        CHECK_EQ_INT(back, values[i]);
    }
}

TEST(non_canonical_numbers_stay_strings)
{
    /* Values that would not print back the same must keep their bytes. */
    static const char *const values[] = {"007", "-0", "+5", " 5", "5 ", "9223372036854775808"};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        entry *e = entry_new_string("k", 1, values[i], strlen(values[i]), -1);
        CHECK_EQ_INT(e->enc, ENC_EMBSTR);
        char buf[64];
        CHECK_EQ_STR(value_of(e, buf, sizeof(buf)), values[i]);
        entry_free(e);
    }
    entry *e = entry_new_int("k", 1, LLONG_MIN, -1);
    char buf[64];
    CHECK_EQ_STR(value_of(e, buf, sizeof(buf)), "-9223372036854775808");
    entry_free(e);
}

TEST(set_expire_adds_changes_and_removes)
{
    static const char *const values[] = {"99", "embedded",
                                         "raw raw raw raw raw raw raw raw raw raw"};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        entry *e = entry_new_string("key", 3, values[i], strlen(values[i]), -1);
        int enc = e->enc;
        e->lru = 1234;
        CHECK_EQ_INT(entry_expire(e), -1);

        e = entry_set_expire(e, EXPIRE_SAMPLE); /* grows the entry */
        CHECK(e->has_expire);
        CHECK_EQ_INT(entry_expire(e), EXPIRE_SAMPLE);
        CHECK_EQ_INT(e->enc, enc);
        CHECK_EQ_INT(e->lru, 1234);
        CHECK(key_is(e, "key", 3));
        char buf[64];
        CHECK_EQ_STR(value_of(e, buf, sizeof(buf)), values[i]);

        entry *same = entry_set_expire(e, EXPIRE_SAMPLE + 1); /* in place */
        CHECK(same == e);
        CHECK_EQ_INT(entry_expire(e), EXPIRE_SAMPLE + 1);

        e = entry_set_expire(e, -1); /* shrinks back */
        CHECK(!e->has_expire);
        CHECK_EQ_INT(entry_expire(e), -1);
        CHECK(key_is(e, "key", 3));
        CHECK_EQ_STR(value_of(e, buf, sizeof(buf)), values[i]);
        CHECK(entry_set_expire(e, -1) == e);
        entry_free(e);
    }
}

TEST(with_key_copies_strings)
{
    entry *e = entry_new_string("old", 3, "a raw value that is longer than forty-four bytes", 48,
                                EXPIRE_SAMPLE);
    entry *n = entry_with_key(e, "new-key", 7, NULL);
    CHECK(key_is(n, "new-key", 7));
    CHECK_EQ_INT(entry_expire(n), EXPIRE_SAMPLE);
    CHECK_EQ_INT(n->enc, ENC_RAW);
    CHECK(entry_ptr(n) != entry_ptr(e)); /* a deep copy: both can be freed */
    char a[64], b[64];
    CHECK_EQ_STR(value_of(n, a, sizeof(a)), value_of(e, b, sizeof(b)));
    entry_free(e);
    entry_free(n);

    e = entry_new_int("i", 1, -5, -1);
    n = entry_with_key(e, "j", 1, NULL);
    long long v;
    CHECK(entry_get_ll(n, &v));
    CHECK_EQ_INT(v, -5);
    entry_free(e);
    entry_free(n);
}

TEST(set_ll_updates_in_place)
{
    entry *e = entry_new_int("n", 1, 41, EXPIRE_SAMPLE);
    size_t before = zmalloc_size(e);
    entry_set_ll(e, 42);
    long long v;
    CHECK(entry_get_ll(e, &v));
    CHECK_EQ_INT(v, 42);
    entry_set_ll(e, LLONG_MIN);
    CHECK(entry_get_ll(e, &v));
    CHECK_EQ_INT(v, LLONG_MIN);
    CHECK_EQ_INT(entry_expire(e), EXPIRE_SAMPLE);
    CHECK(key_is(e, "n", 1));
    CHECK_EQ_INT(zmalloc_size(e), before);
    entry_free(e);
}

TEST(new_raw_is_raw_and_zero_filled)
{
    entry *e = entry_new_raw("r", 1, "12", 2, 2, -1);
    CHECK_EQ_INT(e->enc, ENC_RAW); /* even though "12" would be an int */
    CHECK_EQ_STR(obj_enc_name(e), "raw");
    long long v;
    CHECK(entry_get_ll(e, &v)); /* still reads as an integer for INCR */
    CHECK_EQ_INT(v, 12);
    entry_free(e);

    e = entry_new_raw("z", 1, NULL, 10, 32, EXPIRE_SAMPLE);
    rawstr *r = entry_ptr(e);
    CHECK_EQ_INT(r->len, 10);
    CHECK(r->cap >= 32);
    static const char zeros[10];
    CHECK_EQ_MEM(r->data, r->len, zeros, sizeof(zeros));
    CHECK_EQ_INT(r->data[r->len], 0);
    CHECK_EQ_INT(entry_expire(e), EXPIRE_SAMPLE);
    entry_free(e);
}

TEST(plain_strings_are_never_int)
{
    entry *e = entry_new_string_plain("f", 1, "3", 1, -1);
    CHECK_EQ_INT(e->enc, ENC_EMBSTR);
    entry_free(e);
    char big[BIG_VALUE_LEN];
    memset(big, '7', sizeof(big));
    e = entry_new_string_plain("f", 1, big, sizeof(big), -1);
    CHECK_EQ_INT(e->enc, ENC_RAW);
    char tmp[OBJ_INT_STR_MAX];
    size_t len;
    const char *s = entry_str(e, tmp, &len);
    CHECK_EQ_MEM(s, len, big, sizeof(big));
    entry_free(e);
}

TEST(string_to_raw_keeps_key_expiry_and_value)
{
    static const char *const values[] = {"-123", "embedded text"};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        entry *e = entry_new_string("key", 3, values[i], strlen(values[i]), EXPIRE_SAMPLE);
        e->lru = 77;
        entry *n = entry_string_to_raw(e, 100);
        CHECK_EQ_INT(n->enc, ENC_RAW);
        CHECK(key_is(n, "key", 3));
        CHECK_EQ_INT(entry_expire(n), EXPIRE_SAMPLE);
        CHECK_EQ_INT(n->lru, 77);
        rawstr *r = entry_ptr(n);
        CHECK(r->cap >= 100);
        char buf[64];
        CHECK_EQ_STR(value_of(n, buf, sizeof(buf)), values[i]);
        entry_free(e);
        entry_free(n);
    }
}

TEST(raw_resize_grows_zero_filled_and_amortized)
{
    entry *e = entry_new_raw("a", 1, "ab", 2, 2, -1);
    rawstr *r = entry_raw_resize(e, 6);
    CHECK_EQ_MEM(r->data, r->len, "ab\0\0\0\0", 6);
    CHECK(r == entry_ptr(e));
    CHECK_EQ_INT(r->data[6], 0);

    /* Many small appends: capacity grows geometrically, so reallocations are few. */
    int reallocs = 0;
    size_t len = r->len;
    for (int i = 0; i < APPEND_ROUNDS; i++) {
        rawstr *before = entry_ptr(e);
        size_t cap = before->cap;
        r = entry_raw_resize(e, len + 1);
        r->data[len++] = (char)('a' + i % 26);
        if (r->cap != cap)
            reallocs++;
    }
    CHECK_EQ_INT(r->len, len);
    CHECK(reallocs < 20);
    CHECK_EQ_INT(r->data[2], 0);
    CHECK_EQ_INT(r->data[6], 'a');
    CHECK_EQ_INT(r->data[len - 1], 'a' + (APPEND_ROUNDS - 1) % 26);

    /* Shrinking cuts without moving. */
    rawstr *same = entry_raw_resize(e, 3);
    CHECK(same == r);
    CHECK_EQ_INT(same->len, 3);
    CHECK_EQ_INT(same->data[3], 0);
    CHECK(entry_mem_usage(e) >= zmalloc_size(e) + same->cap);
    entry_free(e);
}

TEST(raw_resize_large_growth_is_bounded)
{
    /* Past the preallocation limit, room grows by a fixed step rather than doubling: a value of
     * LARGE_GROWTH_STEPS steps gets about one step more, not as much again. The allocator may
     * round a large block up by a fraction of its size. */
    size_t len = LARGE_GROWTH_STEPS * (size_t)RAWSTR_MAX_PREALLOC;
    entry *e = entry_new_raw("big", 3, NULL, 0, 0, -1);
    rawstr *r = entry_raw_resize(e, len);
    CHECK(r->cap >= len + RAWSTR_MAX_PREALLOC);
    CHECK(r->cap < len + 2 * (size_t)RAWSTR_MAX_PREALLOC);
    CHECK_EQ_INT(r->data[len - 1], 0);
    entry_free(e);
}

TEST(accounting_returns_to_zero)
{
    int64_t before = zmalloc_used();
    entry *e = entry_new_string("k", 1, "a value long enough to be a raw string, 48 bytes", 48, -1);
    e = entry_set_expire(e, EXPIRE_SAMPLE);
    entry *i = entry_new_int("i", 1, 5, -1);
    entry *n = entry_string_to_raw(i, 10);
    entry_raw_resize(n, BIG_VALUE_LEN);
    CHECK(zmalloc_used() > before);
    entry_free(e);
    entry_free(i); /* the caller frees the source of entry_string_to_raw */
    entry_free(n);
    CHECK_EQ_INT(zmalloc_used(), before);
}

int main(void)
{
    RUN_TEST(int_values_are_int_encoded);
    RUN_TEST(short_strings_are_embedded);
    RUN_TEST(empty_and_binary_values);
    RUN_TEST(expiry_round_trips_for_every_encoding);
    RUN_TEST(long_keys);
    RUN_TEST(str_to_ll_accepts_canonical_integers);
    RUN_TEST(str_to_ll_rejects_what_redis_rejects);
    RUN_TEST(ll_to_str_round_trips);
    RUN_TEST(non_canonical_numbers_stay_strings);
    RUN_TEST(set_expire_adds_changes_and_removes);
    RUN_TEST(with_key_copies_strings);
    RUN_TEST(set_ll_updates_in_place);
    RUN_TEST(new_raw_is_raw_and_zero_filled);
    RUN_TEST(plain_strings_are_never_int);
    RUN_TEST(string_to_raw_keeps_key_expiry_and_value);
    RUN_TEST(raw_resize_grows_zero_filled_and_amortized);
    RUN_TEST(raw_resize_large_growth_is_bounded);
    RUN_TEST(accounting_returns_to_zero);
    TEST_MAIN_END();
}
