/* Unit tests of migration.c's pure parts: counting the target's replies on a flow (complete,
 * partial, nested, errors, garbage) and the RESTORE commands a source sends. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crc64.h"
#include "migration.h"
#include "rdb.h"
#include "testing.h"

#define ERR_LEN 64
#define FOOTER 10 /* DUMP footer: 2 bytes of RDB version, 8 of CRC64 */

static long count(const char *s, size_t *used, long *errors, char *err)
{
    *used = 0;
    *errors = 0;
    if (err)
        err[0] = '\0';
    return migration_count_replies(s, strlen(s), used, errors, err, ERR_LEN);
}

TEST(simple_replies)
{
    size_t used;
    long errors;
    const char *s = "+OK\r\n:12\r\n$3\r\nabc\r\n$-1\r\n*-1\r\n";
    CHECK_EQ_INT(count(s, &used, &errors, NULL), 5);
    CHECK_EQ_INT(used, strlen(s));
    CHECK_EQ_INT(errors, 0);
    CHECK_EQ_INT(count("", &used, &errors, NULL), 0);
    CHECK_EQ_INT(used, 0);
}

TEST(partial_replies_wait)
{
    size_t used;
    long errors;
    /* A bulk string, an array and a line cut anywhere: only the complete ones count. */
    const char *full = "+OK\r\n$5\r\nhello\r\n*2\r\n:1\r\n$1\r\nx\r\n";
    size_t n = strlen(full);
    for (size_t cut = 0; cut <= n; cut++) {
        char part[64];
        memcpy(part, full, cut);
        part[cut] = '\0';
        long got = count(part, &used, &errors, NULL);
        long want = cut >= n ? 3 : cut >= strlen("+OK\r\n$5\r\nhello\r\n") ? 2 : cut >= 5 ? 1 : 0;
        CHECK_EQ_INT(got, want);
    }
}

TEST(nested_arrays)
{
    size_t used;
    long errors;
    const char *s = "*2\r\n*2\r\n+a\r\n-ERR inner\r\n*0\r\n:5\r\n";
    CHECK_EQ_INT(count(s, &used, &errors, NULL), 2);
    CHECK_EQ_INT(errors, 0); /* an error inside EXEC's reply is not the command's */
    CHECK_EQ_INT(used, strlen(s));
}

TEST(errors_are_counted_and_kept)
{
    size_t used;
    long errors;
    char err[ERR_LEN];
    const char *s = "+OK\r\n-WRONGTYPE Operation against a key\r\n-ERR second\r\n";
    CHECK_EQ_INT(count(s, &used, &errors, err), 3);
    CHECK_EQ_INT(errors, 2);
    CHECK_EQ_STR(err, "WRONGTYPE Operation against a key");
}

TEST(garbage_is_refused)
{
    size_t used;
    long errors;
    CHECK_EQ_INT(count("hello\r\n", &used, &errors, NULL), -1);
    CHECK_EQ_INT(count("$x\r\n", &used, &errors, NULL), -1);
    CHECK_EQ_INT(count("+OK\r\n*abc\r\n", &used, &errors, NULL), -1);
}

/* The n-th bulk string of a RESP command in b (0: the name). */
static const char *bulk_at(const buf *b, int n, size_t *len)
{
    const char *p = strchr(b->data, '\n') + 1; /* after *<argc> */
    for (int i = 0;; i++) {
        long l = strtol(p + 1, NULL, 10);
        const char *data = strchr(p, '\n') + 1;
        if (i == n) {
            *len = (size_t)l;
            return data;
        }
        p = data + l + 2;
    }
}

TEST(restore_command)
{
    const char value[] = "\x00\x03"
                         "abc"; /* RDB_TYPE_STRING, then "abc" */
    size_t vlen = sizeof(value) - 1;
    buf b;
    buf_init(&b);
    migration_put_restore(&b, "key", 3, 1234567, value, vlen);
    CHECK(strncmp(b.data, "*6\r\n$7\r\nRESTORE\r\n$3\r\nkey\r\n$7\r\n1234567\r\n", 37) == 0);
    size_t len;
    const char *payload = bulk_at(&b, 3, &len);
    REQUIRE(len == vlen + FOOTER);
    CHECK(memcmp(payload, value, vlen) == 0);
    CHECK_EQ_INT((unsigned char)payload[vlen], RDB_VERSION);
    CHECK_EQ_INT((unsigned char)payload[vlen + 1], 0);
    uint64_t crc = crc64(0, payload, vlen + 2), got = 0;
    for (int i = 0; i < 8; i++)
        got |= (uint64_t)(unsigned char)payload[vlen + 2 + i] << (8 * i);
    CHECK(crc == got);
    const char *opt = bulk_at(&b, 4, &len);
    CHECK(len == 7 && memcmp(opt, "REPLACE", 7) == 0);
    opt = bulk_at(&b, 5, &len);
    CHECK(len == 6 && memcmp(opt, "ABSTTL", 6) == 0);
    /* Counting the replies of what we send: one command, one reply. */
    buf_clear(&b);
    migration_put_restore(&b, "k", 1, 0, value, vlen);
    const char *ttl = bulk_at(&b, 2, &len);
    CHECK(len == 1 && ttl[0] == '0');
    buf_free(&b);
}

TEST(state_names)
{
    CHECK_EQ_STR(migration_state_name(MIGRATION_CONNECTING), "CONNECTING");
    CHECK_EQ_STR(migration_state_name(MIGRATION_SYNC), "SYNC");
    CHECK_EQ_STR(migration_state_name(MIGRATION_FINISHED), "FINISHED");
    CHECK_EQ_STR(migration_state_name(MIGRATION_ERROR), "ERROR");
}

int main(void)
{
    RUN_TEST(simple_replies);
    RUN_TEST(partial_replies_wait);
    RUN_TEST(nested_arrays);
    RUN_TEST(errors_are_counted_and_kept);
    RUN_TEST(garbage_is_refused);
    RUN_TEST(restore_command);
    RUN_TEST(state_names);
    TEST_MAIN_END();
}
