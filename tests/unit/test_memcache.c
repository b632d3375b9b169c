/* Unit tests of the memcached parsers (memcache_text.c, memcache_bin.c) and their helpers:
 * memcached's number rules, base64, meta flags, request framing, memcached's error lines, and
 * the binary packet checks. The integration tests (test_memcached*.py) drive real clients. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "memcache_int.h"
#include "testing.h"

#define MAX_ITEM (1024 * 1024)

typedef struct text {
    int rc;
    mc_text_req r;
    slice *tok;
    int cap;
} text;

static void parse(text *t, const char *s, int authenticated)
{
    t->tok = NULL;
    t->cap = 0;
    t->rc = mc_text_parse(s, strlen(s), MAX_ITEM, authenticated, &t->r, &t->tok, &t->cap);
}

static slice sl(const char *s)
{
    return (slice){s, strlen(s)};
}

TEST(numbers_follow_memcached)
{
    uint32_t u;
    int32_t i;
    uint64_t ull;
    CHECK(mc_strtoul32(&(slice){"4294967296", 10}, &u) && u == 0); /* cut to 32 bits */
    CHECK(!mc_strtoul32(&(slice){"-1", 2}, &u));
    CHECK(!mc_strtoul32(&(slice){"12x", 3}, &u));
    CHECK(mc_strtol32(&(slice){"-5", 2}, &i) && i == -5);
    CHECK(!mc_strtol32(&(slice){"99999999999", 11}, &i));
    CHECK(mc_strtoull(&(slice){"18446744073709551615", 20}, &ull) && ull == UINT64_MAX);
    CHECK(!mc_strtoull(&(slice){"", 0}, &ull));
}

TEST(exptime_rules)
{
    int64_t now = 1700000000000LL;
    CHECK_EQ_INT(mc_exptime_ms(0, now), -1);
    CHECK_EQ_INT(mc_exptime_ms(-1, now), 0);
    CHECK_EQ_INT(mc_exptime_ms(10, now), now + 10000);
    CHECK_EQ_INT(mc_exptime_ms(MC_REALTIME_MAXDELTA, now), now + MC_REALTIME_MAXDELTA * 1000LL);
    CHECK_EQ_INT(mc_exptime_ms(1000000000, now), 0); /* a unix time in the past */
    CHECK_EQ_INT(mc_exptime_ms(1800000000, now), 1800000000000LL);
}

TEST(base64_round_trip)
{
    char enc[64], dec[64];
    size_t n = mc_base64_encode("\x00\x01"
                                "bin",
                                5, enc, sizeof(enc));
    CHECK_EQ_MEM(enc, n, "AAFiaW4=", 8);
    CHECK_EQ_INT(mc_base64_decode(enc, n, dec, sizeof(dec)), 5);
    CHECK(!mc_base64_decode("AAF", 3, dec, sizeof(dec)));
    CHECK(!mc_base64_decode("A=AA", 4, dec, sizeof(dec)));
}

TEST(storage_line_and_data)
{
    text t;
    parse(&t, "set k 5 100 3 noreply\r\nabc\r\nget k\r\n", 1);
    CHECK_EQ_INT(t.rc, MCT_PARSE_OK);
    CHECK_EQ_INT(t.r.op, MT_SET);
    CHECK(t.r.noreply);
    CHECK_EQ_MEM(t.r.data.p, t.r.data.len, "abc", 3);
    CHECK_EQ_INT(t.r.consumed, strlen("set k 5 100 3 noreply\r\nabc\r\n"));
    free(t.tok);
    parse(&t, "set k 0 0 10\r\nabc", 1);
    CHECK_EQ_INT(t.rc, MCT_PARSE_INCOMPLETE);
    free(t.tok);
    parse(&t, "set k 0 0 3\r\nabcde\r\n", 1);
    CHECK_EQ_STR(t.r.error, "CLIENT_ERROR bad data chunk");
    CHECK_EQ_INT(t.r.consumed, strlen("set k 0 0 3\r\nabcde"));
    free(t.tok);
    parse(&t, "set k 0 0 2000000\r\n", 1);
    CHECK(t.r.too_large && t.r.swallow == 2000002);
    free(t.tok);
}

TEST(error_lines)
{
    static const struct {
        const char *in, *err;
    } cases[] = {
        {"bogus\r\n", "ERROR"},
        {"\r\n", "ERROR"},
        {"get\r\n", "ERROR"},
        {"set k x 0 1\r\n", "CLIENT_ERROR bad command line format"},
        {"incr k x\r\n", "CLIENT_ERROR invalid numeric delta argument"},
        {"touch k x\r\n", "CLIENT_ERROR invalid exptime argument"},
        {"delete k 1\r\n", "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"},
        {"mg k v v\r\n", "CLIENT_ERROR duplicate flag"},
        {"mg k zz\r\n", "CLIENT_ERROR invalid flag"},
        {"ma k Mx\r\n", "CLIENT_ERROR invalid mode for ma M token"},
        {"md k zz\r\n", "CLIENT_ERROR invalid or duplicate flag"},
        {"mn x\r\n", "ERROR"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        text t;
        parse(&t, cases[i].in, 1);
        CHECK_EQ_INT(t.rc, MCT_PARSE_OK);
        CHECK_EQ_STR(t.r.error ? t.r.error : "(none)", cases[i].err);
        free(t.tok);
    }
}

TEST(keys_up_to_250)
{
    char line[600];
    char key[252];
    memset(key, 'k', 251);
    key[250] = '\0';
    snprintf(line, sizeof(line), "get a %s\r\n", key);
    text t;
    parse(&t, line, 1);
    CHECK(!t.r.error && t.r.op == MT_GET && t.r.ntok == 3);
    free(t.tok);
    key[250] = 'k';
    key[251] = '\0';
    snprintf(line, sizeof(line), "get a %s\r\n", key);
    parse(&t, line, 1);
    CHECK_EQ_STR(t.r.error, "CLIENT_ERROR bad command line format");
    free(t.tok);
}

TEST(long_lines)
{
    char *junk = malloc(MC_LINE_MAX + 10);
    memset(junk, 'x', MC_LINE_MAX + 9);
    junk[MC_LINE_MAX + 9] = '\0';
    text t;
    parse(&t, junk, 1);
    CHECK_EQ_INT(t.rc, MCT_PARSE_CLOSE);
    memcpy(junk, "get ", 4);
    parse(&t, junk, 1);
    CHECK_EQ_INT(t.rc, MCT_PARSE_INCOMPLETE); /* a long multiget may go on */
    free(t.tok);
    free(junk);
}

TEST(meta_flags)
{
    slice tok[] = {sl("ms"),  sl("k"),  sl("3"),    sl("T100"), sl("F7"),
                   sl("C42"), sl("MA"), sl("O123"), sl("q"),    sl("I")};
    mc_meta m;
    CHECK(mc_meta_parse(tok, 3, 10, &m) == NULL);
    CHECK(m.has_ttl && m.ttl == 100 && m.client_flags == 7 && m.has_cas && m.cas == 42);
    CHECK(m.mode == 'A' && m.quiet && m.invalidate && m.opaque.len == 4);
    slice bad[] = {sl("mg"), sl("k"), sl("Tx")};
    CHECK_EQ_STR(mc_meta_parse(bad, 2, 3, &m), "CLIENT_ERROR bad token in command line format");
}

TEST(authentication_line)
{
    text t;
    parse(&t, "get k\r\n", 0);
    CHECK_EQ_STR(t.r.error, "CLIENT_ERROR unauthenticated");
    free(t.tok);
    parse(&t, "set a 0 0 11\r\nuser secret\r\n", 0);
    CHECK_EQ_INT(t.r.op, MT_AUTH);
    CHECK_EQ_MEM(t.tok[1].p, t.tok[1].len, "secret", 6);
    free(t.tok);
}

static size_t packet(char *out, uint8_t op, const char *key, size_t extlen, size_t vlen,
                     uint32_t bodylen_delta)
{
    size_t kl = strlen(key);
    memset(out, 0, MC_BIN_HEADER + extlen + kl + vlen);
    out[0] = (char)MC_BIN_REQ_MAGIC;
    out[1] = (char)op;
    uint16_t k = htons((uint16_t)kl);
    memcpy(out + 2, &k, 2);
    out[4] = (char)extlen;
    uint32_t bl = htonl((uint32_t)(extlen + kl + vlen) + bodylen_delta);
    memcpy(out + 8, &bl, 4);
    memcpy(out + MC_BIN_HEADER + extlen, key, kl);
    return MC_BIN_HEADER + extlen + kl + vlen;
}

TEST(binary_packets)
{
    char p[256];
    mc_bin_req r;
    size_t n = packet(p, MCB_SET, "key", 8, 5, 0);
    CHECK_EQ_INT(mc_bin_parse(p, n, MAX_ITEM, &r), MCB_PARSE_OK);
    CHECK_EQ_MEM(r.key.p, r.key.len, "key", 3);
    CHECK(r.extras.len == 8 && r.value.len == 5 && r.consumed == n);
    CHECK_EQ_INT(mc_bin_parse(p, n - 1, MAX_ITEM, &r), MCB_PARSE_INCOMPLETE);
    n = packet(p, MCB_GET, "", 0, 0, 0); /* GET without a key */
    CHECK_EQ_INT(mc_bin_parse(p, n, MAX_ITEM, &r), MCB_PARSE_ERROR);
    CHECK(r.status == MCB_EINVAL && r.close);
    n = packet(p, 0x55, "", 0, 4, 0); /* unknown: answered, body skipped */
    CHECK_EQ_INT(mc_bin_parse(p, n, MAX_ITEM, &r), MCB_PARSE_ERROR);
    CHECK(r.status == MCB_UNKNOWN_COMMAND && !r.close && r.swallow == 4);
    n = packet(p, MCB_SET, "key", 8, 0, 0);
    uint32_t huge = htonl(1u << 30);
    memcpy(p + 8, &huge, 4);
    CHECK_EQ_INT(mc_bin_parse(p, n, MAX_ITEM, &r), MCB_PARSE_OK);
    CHECK(r.too_large && r.swallow == (1u << 30) - 11);
    p[0] = 0x42;
    CHECK_EQ_INT(mc_bin_parse(p, n, MAX_ITEM, &r), MCB_PARSE_CLOSE);
}

int main(void)
{
    RUN_TEST(numbers_follow_memcached);
    RUN_TEST(exptime_rules);
    RUN_TEST(base64_round_trip);
    RUN_TEST(storage_line_and_data);
    RUN_TEST(error_lines);
    RUN_TEST(keys_up_to_250);
    RUN_TEST(long_lines);
    RUN_TEST(meta_flags);
    RUN_TEST(authentication_line);
    RUN_TEST(binary_packets);
    TEST_MAIN_END();
}
