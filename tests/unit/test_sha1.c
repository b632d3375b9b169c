/* Unit tests of SHA-1 (sha1.c): FIPS 180 test vectors, block boundaries, streaming. */
#include <string.h>

#include "sha1.h"
#include "testing.h"

static void hex_of(const char *s, char out[SHA1_HEX_LEN + 1])
{
    sha1_hex(out, s, strlen(s));
}

TEST(known_vectors)
{
    char h[SHA1_HEX_LEN + 1];
    hex_of("", h);
    CHECK_EQ_STR(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    hex_of("abc", h);
    CHECK_EQ_STR(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
    hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", h);
    CHECK_EQ_STR(h, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    /* EVAL names this script so (checked with redis-server's SCRIPT LOAD). */
    hex_of("return 1", h);
    CHECK_EQ_STR(h, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

TEST(block_boundaries)
{
    /* 55, 56 and 64 bytes: the length field fits, does not fit, and a whole block. */
    char buf[130];
    char h[SHA1_HEX_LEN + 1];
    memset(buf, 'a', sizeof(buf));
    sha1_hex(h, buf, 55);
    CHECK_EQ_STR(h, "c1c8bbdc22796e28c0e15163d20899b65621d65a");
    sha1_hex(h, buf, 56);
    CHECK_EQ_STR(h, "c2db330f6083854c99d4b5bfb6e8f29f201be699");
    sha1_hex(h, buf, 64);
    CHECK_EQ_STR(h, "0098ba824b5c16427bd7a1122a5a442a25ec644d");
}

TEST(streaming_equals_one_shot)
{
    static const char msg[] = "The quick brown fox jumps over the lazy dog, again and again.";
    unsigned char one[SHA1_DIGEST_LEN], parts[SHA1_DIGEST_LEN];
    sha1_ctx c;
    sha1_init(&c);
    sha1_update(&c, msg, sizeof(msg) - 1);
    sha1_final(&c, one);
    sha1_init(&c);
    for (size_t i = 0; i < sizeof(msg) - 1; i += 7)
        sha1_update(&c, msg + i, i + 7 < sizeof(msg) - 1 ? 7 : sizeof(msg) - 1 - i);
    sha1_final(&c, parts);
    CHECK(memcmp(one, parts, sizeof(one)) == 0);
}

int main(void)
{
    RUN_TEST(known_vectors);
    RUN_TEST(block_boundaries);
    RUN_TEST(streaming_equals_one_shot);
    TEST_MAIN_END();
}
