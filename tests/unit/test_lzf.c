/* Unit tests of LZF (lzf.c): round trips, incompressible data, liblzf's stream format, and
 * corrupt input that must be refused without reading or writing out of bounds. */
#include <stdlib.h>
#include <string.h>

#include "lzf.h"
#include "testing.h"

#define BIG 100000

static int round_trip(const unsigned char *in, size_t len)
{
    size_t room = len + len / 16 + 64;
    unsigned char *c = malloc(room), *d = malloc(len + 1);
    size_t clen = lzf_compress(in, len, c, room);
    int ok = clen > 0 && lzf_decompress(c, clen, d, len) == len && memcmp(in, d, len) == 0;
    free(c);
    free(d);
    return ok;
}

TEST(round_trip_compressible)
{
    unsigned char *buf = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        buf[i] = (unsigned char)"abcabcabd"[i % 9];
    CHECK(round_trip(buf, BIG));
    CHECK(round_trip(buf, 1));
    CHECK(round_trip(buf, 3));
    CHECK(round_trip(buf, 300)); /* matches longer than one reference can hold */
    /* Compressible data shrinks a lot. */
    unsigned char out[BIG];
    size_t clen = lzf_compress(buf, BIG, out, BIG);
    CHECK(clen > 0 && clen < BIG / 20);
    /* A run of one byte: references that overlap their own output. */
    memset(buf, 'x', BIG);
    CHECK(round_trip(buf, BIG));
    free(buf);
}

TEST(incompressible_data)
{
    unsigned char buf[4096];
    unsigned x = 12345;
    for (size_t i = 0; i < sizeof(buf); i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 16);
    }
    CHECK(round_trip(buf, sizeof(buf)));
    /* With no room to spare, random data does not fit: 0, and nothing written past out. */
    unsigned char out[sizeof(buf) - 4 + 1];
    out[sizeof(out) - 1] = 0xAA;
    CHECK_EQ_INT((long)lzf_compress(buf, sizeof(buf), out, sizeof(out) - 1), 0);
    CHECK_EQ_INT(out[sizeof(out) - 1], 0xAA);
}

TEST(reads_liblzf_streams)
{
    /* "aaaaaaaaaa" as liblzf writes it: literal 'a', then a reference of length 9 at offset 0
     * (ctrl 0xE0 | 0, extra length byte 0 -> 7+2, offset byte 0). */
    const unsigned char stream[] = {0x00, 'a', 0xE0, 0x00, 0x00};
    char out[16];
    CHECK_EQ_INT((long)lzf_decompress(stream, sizeof(stream), out, sizeof(out)), 10);
    CHECK_EQ_MEM(out, 10, "aaaaaaaaaa", 10);
}

TEST(corrupt_input_refused)
{
    char out[64];
    /* Literal run longer than the input. */
    const unsigned char a[] = {0x1f, 'a', 'b'};
    CHECK_EQ_INT((long)lzf_decompress(a, sizeof(a), out, sizeof(out)), 0);
    /* Reference before the start of the output. */
    const unsigned char b[] = {0x00, 'a', 0x20, 0x05};
    CHECK_EQ_INT((long)lzf_decompress(b, sizeof(b), out, sizeof(out)), 0);
    /* Reference cut off. */
    const unsigned char c[] = {0x00, 'a', 0xE0};
    CHECK_EQ_INT((long)lzf_decompress(c, sizeof(c), out, sizeof(out)), 0);
    /* Output larger than the room given. */
    const unsigned char d[] = {0x00, 'a', 0xE0, 0xff, 0x00};
    CHECK_EQ_INT((long)lzf_decompress(d, sizeof(d), out, sizeof(out)), 0);
    /* Every truncation and every single-byte change of a valid stream: no crash, and a
     * successful result never claims more than the room. */
    unsigned char src[2000], comp[2100], dec[2000];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (unsigned char)(i % 37 < 20 ? 'q' : i);
    size_t clen = lzf_compress(src, sizeof(src), comp, sizeof(comp));
    REQUIRE(clen > 0);
    for (size_t cut = 0; cut < clen; cut++)
        CHECK(lzf_decompress(comp, cut, dec, sizeof(dec)) <= sizeof(dec));
    for (size_t i = 0; i < clen; i++) {
        unsigned char saved = comp[i];
        comp[i] ^= 0x5a;
        CHECK(lzf_decompress(comp, clen, dec, sizeof(dec)) <= sizeof(dec));
        comp[i] = saved;
    }
    CHECK_EQ_INT((long)lzf_decompress(comp, clen, dec, sizeof(dec)), (long)sizeof(src));
}

int main(void)
{
    RUN_TEST(round_trip_compressible);
    RUN_TEST(incompressible_data);
    RUN_TEST(reads_liblzf_streams);
    RUN_TEST(corrupt_input_refused);
    TEST_MAIN_END();
}
