/* Unit tests of CRC-64/Jones (crc64.c): Redis's test vector and incremental use. */
#include <string.h>

#include "crc64.h"
#include "testing.h"

TEST(redis_test_vector)
{
    /* Redis's crc64.c self-test: crc64(0, "123456789") == 0xe9c6d914c4b8d9ca. */
    CHECK(crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9caULL);
    CHECK(crc64(0, "", 0) == 0);
}

TEST(redis_dump_payload)
{
    /* redis-server 7.0's DUMP of the string "hello world": type, value and version, then the
     * CRC of those bytes, little-endian. */
    const unsigned char body[] = {0x00, 0x0b, 'h', 'e', 'l', 'l',  'o', ' ',
                                  'w',  'o',  'r', 'l', 'd', 0x0a, 0x00};
    CHECK(crc64(0, body, sizeof(body)) == 0x34a0c7a6b949fc0bULL);
}

TEST(incremental_equals_one_shot)
{
    const char *s = "The quick brown fox jumps over the lazy dog";
    size_t n = strlen(s);
    for (size_t cut = 0; cut <= n; cut++)
        CHECK(crc64(crc64(0, s, cut), s + cut, n - cut) == crc64(0, s, n));
}

int main(void)
{
    RUN_TEST(redis_test_vector);
    RUN_TEST(redis_dump_payload);
    RUN_TEST(incremental_equals_one_shot);
    TEST_MAIN_END();
}
