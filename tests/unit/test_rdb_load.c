/* Unit tests of the RDB file parser (rdb_load.c's rdb_parse): what a sink receives from a file
 * with every opcode, and that every truncation, every flipped byte, a wrong version and trailing
 * bytes are refused with a message that names the offset, never accepted and never a crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crc64.h"
#include "flags.h"
#include "rdb.h"
#include "rdb_load.h"
#include "server.h"
#include "testing.h"
#include "types.h"

#define MAX_KEYS 16
#define EXPIRE_MS 4102444800123LL /* 2100-01-01, in ms */
#define EXPIRE_SECS 2000000000LL  /* EXPIRETIME holds a signed 32-bit time */
#define IDLE_SECS 1000
#define FREQ 7
#define CHECKSUM_LEN 8

/* What a sink saw. */
typedef struct seen {
    int nkeys, naux, nfunc, nselect;
    char keys[MAX_KEYS][32];
    int dbids[MAX_KEYS];
    long long expires[MAX_KEYS], idles[MAX_KEYS];
    int freqs[MAX_KEYS];
    size_t last_progress;
    int fail_key; /* the sink refuses the key of this index (-1: none) */
} seen;

static int on_key(void *arg, rdb_key_rec *rec, char *err, size_t errlen)
{
    seen *s = arg;
    int i = s->nkeys++;
    entry_free(rec->e);
    if (i == s->fail_key) {
        snprintf(err, errlen, "refused by the sink");
        return -1;
    }
    if (i < MAX_KEYS) {
        snprintf(s->keys[i], sizeof(s->keys[i]), "%.*s", (int)rec->klen, rec->key);
        s->dbids[i] = rec->dbid;
        s->expires[i] = rec->expire_ms;
        s->idles[i] = rec->idle_secs;
        s->freqs[i] = rec->freq;
    }
    return 0;
}

static int on_aux(void *arg, const char *k, size_t kl, const char *v, size_t vl, char *err,
                  size_t errlen)
{
    (void)k, (void)kl, (void)v, (void)vl, (void)err, (void)errlen;
    ((seen *)arg)->naux++;
    return 0;
}

static int on_select(void *arg, uint64_t dbid, char *err, size_t errlen)
{
    (void)dbid, (void)err, (void)errlen;
    ((seen *)arg)->nselect++;
    return 0;
}

static int on_function(void *arg, const char *code, size_t len, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    if (len >= 2 && !memcmp(code, "#!", 2))
        ((seen *)arg)->nfunc++;
    return 0;
}

static void on_progress(void *arg, size_t off)
{
    ((seen *)arg)->last_progress = off;
}

static int parse(const buf *b, seen *s, char *err, size_t errlen)
{
    int fail = s->fail_key;
    memset(s, 0, sizeof(*s));
    s->fail_key = fail;
    rdb_sink sink = {.arg = s,
                     .aux = on_aux,
                     .select_db = on_select,
                     .key = on_key,
                     .function = on_function,
                     .progress = on_progress};
    err[0] = '\0';
    return rdb_parse((const unsigned char *)b->data, b->len, &sink, err, errlen);
}

/* ---- building files ------------------------------------------------------------------------ */

static void put_le(buf *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        buf_append_char(b, (char)(v >> (8 * i)));
}

static void put_str(buf *b, const char *s)
{
    rdb_save_len(b, strlen(s));
    buf_append(b, s, strlen(s));
}

static void put_kv(buf *b, const char *k, const char *v)
{
    buf_append_char(b, RDB_TYPE_STRING);
    put_str(b, k);
    rdb_save_string(b, v, strlen(v));
}

/* Ends b with EOF and a checksum (zero when !checksum). */
static void finish(buf *b, int checksum)
{
    buf_append_char(b, (char)0xff);
    put_le(b, checksum ? crc64(0, b->data, b->len) : 0, CHECKSUM_LEN);
}

/* A version-11 file with every opcode we read, four keys in two databases and a function. */
static void build_rich(buf *b)
{
    buf_init(b);
    buf_append(b, "REDIS0011", 9);
    buf_append_char(b, (char)0xfa); /* AUX */
    put_str(b, "redis-ver");
    put_str(b, "7.2.0");
    buf_append_char(b, (char)0xf5); /* FUNCTION2 */
    put_str(b, "#!lua name=lib\nredis.register_function('f', function() return 1 end)");
    buf_append_char(b, (char)0xfe); /* SELECTDB 0 */
    rdb_save_len(b, 0);
    buf_append_char(b, (char)0xfb); /* RESIZEDB */
    rdb_save_len(b, 4);
    rdb_save_len(b, 2);
    buf_append_char(b, (char)0xf4); /* SLOT_INFO */
    rdb_save_len(b, 100);
    rdb_save_len(b, 2);
    rdb_save_len(b, 1);
    buf_append_char(b, (char)0xfc); /* EXPIRETIME_MS */
    put_le(b, (uint64_t)EXPIRE_MS, 8);
    put_kv(b, "ms", "a value long enough to be compressed by lzf lzf lzf lzf lzf lzf");
    buf_append_char(b, (char)0xfd); /* EXPIRETIME (seconds) */
    put_le(b, (uint64_t)EXPIRE_SECS, 4);
    put_kv(b, "secs", "12345");
    buf_append_char(b, (char)0xf8); /* IDLE */
    rdb_save_len(b, IDLE_SECS);
    buf_append_char(b, (char)0xf9); /* FREQ */
    buf_append_char(b, FREQ);
    put_kv(b, "hints", "h");
    buf_append_char(b, (char)0xfe); /* SELECTDB 9 */
    rdb_save_len(b, 9);
    put_kv(b, "nine", "9");
    finish(b, 1);
}

/* ---- tests --------------------------------------------------------------------------------- */

TEST(rich_file_reaches_the_sink)
{
    buf b;
    build_rich(&b);
    seen s = {.fail_key = -1};
    char err[RDB_LOAD_ERR_MAX];
    CHECK_EQ_INT(parse(&b, &s, err, sizeof(err)), 0);
    CHECK_EQ_STR(err, "");
    CHECK_EQ_INT(s.nkeys, 4);
    CHECK_EQ_INT(s.naux, 1);
    CHECK_EQ_INT(s.nfunc, 1);
    CHECK_EQ_INT(s.nselect, 2);
    CHECK_EQ_STR(s.keys[0], "ms");
    CHECK_EQ_INT(s.expires[0], EXPIRE_MS);
    CHECK_EQ_STR(s.keys[1], "secs");
    CHECK_EQ_INT(s.expires[1], EXPIRE_SECS * 1000);
    CHECK_EQ_STR(s.keys[2], "hints");
    CHECK_EQ_INT(s.expires[2], -1);
    CHECK_EQ_INT(s.idles[2], IDLE_SECS);
    CHECK_EQ_INT(s.freqs[2], FREQ);
    CHECK_EQ_INT(s.idles[3], -1);
    CHECK_EQ_INT(s.freqs[3], -1);
    CHECK_EQ_STR(s.keys[3], "nine");
    CHECK_EQ_INT(s.dbids[3], 9);
    CHECK_EQ_INT(s.dbids[0], 0);
    CHECK_EQ_INT(s.last_progress, b.len);
    buf_free(&b);
}

TEST(every_truncation_is_refused)
{
    buf b;
    build_rich(&b);
    seen s = {.fail_key = -1};
    char err[RDB_LOAD_ERR_MAX];
    buf cut;
    buf_init(&cut);
    for (size_t len = 0; len < b.len; len++) {
        buf_clear(&cut);
        buf_append(&cut, b.data, len);
        if (parse(&cut, &s, err, sizeof(err)) == 0) {
            CHECK(!"a truncated file was accepted");
            break;
        }
        if (!strstr(err, " at offset ") || (len >= 9 && !strstr(err, "end of file") &&
                                            !strstr(err, "bad") && !strstr(err, "not an RDB"))) {
            CHECK_EQ_STR(err, "a message naming the offset");
            break;
        }
    }
    /* Cut right before EOF: the records all parse, the end is missing. */
    buf_clear(&cut);
    buf_append(&cut, b.data, b.len - CHECKSUM_LEN - 1);
    CHECK_EQ_INT(parse(&cut, &s, err, sizeof(err)), -1);
    char want[RDB_LOAD_ERR_MAX];
    snprintf(want, sizeof(want),
             "corrupt RDB at offset %zu: unexpected end of file reading the next record (no EOF "
             "marker)",
             b.len - CHECKSUM_LEN - 1);
    CHECK_EQ_STR(err, want);
    buf_free(&cut);
    buf_free(&b);
}

TEST(every_flipped_byte_is_refused)
{
    buf b;
    build_rich(&b);
    seen s = {.fail_key = -1};
    char err[RDB_LOAD_ERR_MAX];
    for (size_t i = 0; i < b.len; i++) {
        b.data[i] ^= 0x20;
        int rc = parse(&b, &s, err, sizeof(err));
        b.data[i] ^= 0x20;
        if (rc == 0 || !strstr(err, " at offset ")) {
            fprintf(stderr, "byte %zu: %s\n", i, err);
            CHECK(!"a flipped byte went unnoticed");
            break;
        }
    }
    buf_free(&b);
}

TEST(checksum_mismatch_names_the_checksum_offset)
{
    buf b;
    build_rich(&b);
    b.data[b.len - 1] ^= 1;
    seen s = {.fail_key = -1};
    char err[RDB_LOAD_ERR_MAX];
    CHECK_EQ_INT(parse(&b, &s, err, sizeof(err)), -1);
    char want[64];
    snprintf(want, sizeof(want), "corrupt RDB at offset %zu: checksum mismatch",
             b.len - CHECKSUM_LEN);
    CHECK(strncmp(err, want, strlen(want)) == 0);
    buf_free(&b);
}

TEST(zero_checksum_and_versions)
{
    buf b;
    buf_init(&b);
    buf_append(&b, "REDIS0010", 9);
    put_kv(&b, "k", "v");
    finish(&b, 0);
    seen s = {.fail_key = -1};
    char err[RDB_LOAD_ERR_MAX];
    CHECK_EQ_INT(parse(&b, &s, err, sizeof(err)), 0);
    CHECK_EQ_INT(s.nkeys, 1);
    memcpy(b.data, "REDIS0012", 9);
    CHECK_EQ_INT(parse(&b, &s, err, sizeof(err)), -1);
    CHECK_EQ_STR(err, "cannot load RDB at offset 5: unsupported RDB version 12 (this server reads "
                      "versions 1 to 11)");
    memcpy(b.data, "RADIS0010", 9);
    CHECK_EQ_INT(parse(&b, &s, err, sizeof(err)), -1);
    CHECK_EQ_STR(err,
                 "corrupt RDB at offset 0: not an RDB file (it does not start with \"REDIS\")");
    /* RDB 4 had no checksum: the EOF byte ends the file. */
    memcpy(b.data, "REDIS0004", 9);
    b.len -= CHECKSUM_LEN;
    CHECK_EQ_INT(parse(&b, &s, err, sizeof(err)), 0);
    buf_append(&b, "xy", 2);
    CHECK_EQ_INT(parse(&b, &s, err, sizeof(err)), -1);
    char want[RDB_LOAD_ERR_MAX];
    snprintf(want, sizeof(want),
             "corrupt RDB at offset %zu: 2 bytes of trailing data after the end", b.len - 2);
    CHECK_EQ_STR(err, want);
    buf_free(&b);
}

TEST(sink_errors_name_the_key_and_its_offset)
{
    buf b;
    buf_init(&b);
    buf_append(&b, "REDIS0010", 9);
    put_kv(&b, "first", "1");
    size_t at = b.len;
    put_kv(&b, "second", "2");
    finish(&b, 1);
    seen s = {.fail_key = 1};
    char err[RDB_LOAD_ERR_MAX];
    CHECK_EQ_INT(parse(&b, &s, err, sizeof(err)), -1);
    char want[RDB_LOAD_ERR_MAX];
    snprintf(want, sizeof(want), "cannot load RDB at offset %zu: key 'second': refused by the sink",
             at);
    CHECK_EQ_STR(err, want);
    buf_free(&b);
}

TEST(refused_records)
{
    static const struct {
        const char *bytes;
        size_t len;
        const char *needle;
        const char *at;
    } cases[] = {
        {"\xf7\x05\x01", 3, "module data is not supported", "at offset 9:"},
        {"\xf6\x01x", 3, "pre-GA", "at offset 9:"},
        {"\x06\x01k", 3, "module data is not supported", "at offset 9:"},
        {"\x0e\x01k", 3, "ziplist", "at offset 9:"},
        {"\x16\x01k", 3, "unknown record type 22", "at offset 9:"},
        {"\xfe\xc0", 2, "bad database number", "at offset 10:"}, /* the length itself */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        buf b;
        buf_init(&b);
        buf_append(&b, "REDIS0010", 9);
        buf_append(&b, cases[i].bytes, cases[i].len);
        finish(&b, 1);
        seen s = {.fail_key = -1};
        char err[RDB_LOAD_ERR_MAX];
        CHECK_EQ_INT(parse(&b, &s, err, sizeof(err)), -1);
        if (!strstr(err, cases[i].needle) || !strstr(err, cases[i].at))
            CHECK_EQ_STR(err, cases[i].needle);
        buf_free(&b);
    }
}

int main(void)
{
    char err[FLAGS_ERR_MAX];
    char *argv[] = {"test_rdb_load", NULL};
    if (flags_init(server_flags, 1, argv, NULL, err, sizeof(err)) ||
        server_config_apply(err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    types_init();
    RUN_TEST(rich_file_reaches_the_sink);
    RUN_TEST(every_truncation_is_refused);
    RUN_TEST(every_flipped_byte_is_refused);
    RUN_TEST(checksum_mismatch_names_the_checksum_offset);
    RUN_TEST(zero_checksum_and_versions);
    RUN_TEST(sink_errors_name_the_key_and_its_offset);
    RUN_TEST(refused_records);
    TEST_MAIN_END();
}
