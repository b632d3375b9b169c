/* Unit tests of the journal's manifest (journal_files.c): what journal_manifest_write writes is
 * Redis 7's format and reads back the same, names that need quoting survive, and every way
 * Redis refuses a manifest is refused here too, with Redis's reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flags.h"
#include "journal.h"
#include "journal_int.h"
#include "server.h"
#include "testing.h"

#define DIR_TEMPLATE "/tmp/dfly-test-journal-XXXXXX"

static char dir[sizeof(DIR_TEMPLATE)];

static void write_manifest(const char *text)
{
    char path[JOURNAL_PATH_MAX];
    journal_path(path, sizeof(path), "appendonly.aof.manifest");
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static char *read_manifest(void)
{
    char path[JOURNAL_PATH_MAX];
    journal_path(path, sizeof(path), "appendonly.aof.manifest");
    FILE *f = fopen(path, "r");
    static char text[4096];
    size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
    text[n] = '\0';
    if (f)
        fclose(f);
    return text;
}

static void remove_manifest(void)
{
    char path[JOURNAL_PATH_MAX];
    journal_path(path, sizeof(path), "appendonly.aof.manifest");
    unlink(path);
}

TEST(write_then_read)
{
    jmanifest m = {0};
    m.base.name = strdup("appendonly.aof.3.base.rdb");
    m.base.seq = 3;
    m.base_seq = 3;
    m.incr = calloc(2, sizeof(jfile));
    m.incr[0] = (jfile){strdup("appendonly.aof.4.incr.aof"), 4};
    m.incr[1] = (jfile){strdup("appendonly.aof.5.incr.aof"), 5};
    m.nincr = 2;
    m.incr_seq = 5;
    char err[JOURNAL_ERR_MAX];
    CHECK_EQ_INT(journal_manifest_write(&m, err, sizeof(err)), 0);
    CHECK_EQ_STR(read_manifest(), "file appendonly.aof.3.base.rdb seq 3 type b\n"
                                  "file appendonly.aof.4.incr.aof seq 4 type i\n"
                                  "file appendonly.aof.5.incr.aof seq 5 type i\n");
    jmanifest r;
    CHECK_EQ_INT(journal_manifest_read(&r, err, sizeof(err)), 0);
    CHECK_EQ_STR(r.base.name, "appendonly.aof.3.base.rdb");
    CHECK_EQ_INT(r.base.seq, 3);
    REQUIRE(r.nincr == 2);
    CHECK_EQ_STR(r.incr[1].name, "appendonly.aof.5.incr.aof");
    CHECK_EQ_INT(r.incr_seq, 5);
    CHECK_EQ_INT(r.base_seq, 3);
    journal_manifest_free(&m);
    journal_manifest_free(&r);
}

TEST(quoted_names_round_trip)
{
    jmanifest m = {0};
    m.incr = calloc(1, sizeof(jfile));
    m.incr[0] = (jfile){strdup("odd name \"q\"\t.1.incr.aof"), 1};
    m.nincr = 1;
    char err[JOURNAL_ERR_MAX];
    CHECK_EQ_INT(journal_manifest_write(&m, err, sizeof(err)), 0);
    CHECK_EQ_STR(read_manifest(), "file \"odd name \\\"q\\\"\\t.1.incr.aof\" seq 1 type i\n");
    jmanifest r;
    CHECK_EQ_INT(journal_manifest_read(&r, err, sizeof(err)), 0);
    REQUIRE(r.nincr == 1);
    CHECK_EQ_STR(r.incr[0].name, "odd name \"q\"\t.1.incr.aof");
    CHECK(r.base.name == NULL);
    journal_manifest_free(&m);
    journal_manifest_free(&r);
}

TEST(comments_and_extra_fields)
{
    write_manifest("# a comment\n"
                   "file a.1.base.rdb seq 1 type b future value\n"
                   "file a.2.incr.aof type i seq 2\n");
    jmanifest r;
    char err[JOURNAL_ERR_MAX];
    CHECK_EQ_INT(journal_manifest_read(&r, err, sizeof(err)), 0);
    CHECK_EQ_STR(r.base.name, "a.1.base.rdb");
    REQUIRE(r.nincr == 1);
    CHECK_EQ_INT(r.incr[0].seq, 2);
    journal_manifest_free(&r);
}

TEST(missing_manifest)
{
    remove_manifest();
    jmanifest r;
    char err[JOURNAL_ERR_MAX];
    CHECK_EQ_INT(journal_manifest_read(&r, err, sizeof(err)), 1);
}

/* Each is refused with Redis's reason. */
TEST(bad_manifests)
{
    static const struct {
        const char *text, *why;
    } cases[] = {
        {"", "Found an empty AOF manifest"},
        {"\n", "Invalid AOF manifest file format"},
        {"file a seq 1\n", "Invalid AOF manifest file format"},
        {"file a seq 1 type\n", "Invalid AOF manifest file format"},
        {"file a seq 0 type i\n", "Invalid AOF manifest file format"},
        {"file dir/a seq 1 type i\n", "File can't be a path, just a filename"},
        {"file a seq 1 type b\nfile b seq 2 type b\n", "Found duplicate base file information"},
        {"file a seq 2 type i\nfile b seq 2 type i\n", "Found a non-monotonic sequence number"},
        {"file a seq 1 type x\n", "Unknown AOF file type"},
        {"file \"a seq 1 type i\n", "Invalid AOF manifest file format"},
        {"file a seq 1 type i", "The AOF manifest file contains too long line"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_manifest(cases[i].text);
        jmanifest r;
        char err[JOURNAL_ERR_MAX] = "";
        CHECK_EQ_INT(journal_manifest_read(&r, err, sizeof(err)), -1);
        if (!strstr(err, cases[i].why))
            printf("  case %zu: '%s' does not say '%s'\n", i, err, cases[i].why);
        CHECK(strstr(err, cases[i].why) != NULL);
    }
}

/* ---- the tap: what replicas receive ------------------------------------------------------- */

static buf tapped;
static int tap_calls;

static void tap_collect(const char *resp, size_t len)
{
    buf_append(&tapped, resp, len);
    tap_calls++;
}

#define S(lit) ((slice){lit, sizeof(lit) - 1})

TEST(tap_gets_deletions_and_keyless_commands)
{
    buf_init(&tapped);
    tap_calls = 0;
    CHECK_EQ_INT(atomic_load(&journal_tap_on), 0);
    journal_tap_deleted(3, "gone", 4); /* no tap: nothing, and cheap */
    CHECK_EQ_INT(tap_calls, 0);
    journal_tap_set(tap_collect);
    CHECK_EQ_INT(atomic_load(&journal_tap_on), 1);
    CHECK_EQ_INT(atomic_load(&journal_active), 1); /* records are built for the tap */
    journal_tap_deleted(3, "gone", 4);             /* the database is named first */
    journal_tap_deleted(3, "also", 4);             /* ... once */
    slice ping[] = {S("PING")};
    journal_tap_command(1, ping); /* keyless: no SELECT */
    const char *want = "*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n"
                       "*2\r\n$3\r\nDEL\r\n$4\r\ngone\r\n"
                       "*2\r\n$3\r\nDEL\r\n$4\r\nalso\r\n"
                       "*1\r\n$4\r\nPING\r\n";
    CHECK_EQ_MEM(tapped.data, tapped.len, want, strlen(want));
    CHECK_EQ_INT(tap_calls, 3); /* one call per record: no "#MS:" line ever */
    buf_free(&tapped);
    journal_tap_set(NULL);
    CHECK_EQ_INT(atomic_load(&journal_active), 0);
}

static void mark_point(void *arg)
{
    (*(int *)arg)++;
}

TEST(tap_sync_makes_the_next_record_select_again)
{
    buf_init(&tapped);
    journal_tap_set(tap_collect);
    journal_tap_deleted(0, "a", 1);
    int calls = 0;
    journal_tap_sync(mark_point, &calls); /* a replica starts here: it knows no database */
    CHECK_EQ_INT(calls, 1);
    size_t before = tapped.len;
    journal_tap_deleted(0, "b", 1);
    const char *want = "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*2\r\n$3\r\nDEL\r\n$1\r\nb\r\n";
    CHECK_EQ_MEM(tapped.data + before, tapped.len - before, want, strlen(want));
    journal_tap_set(NULL);
    buf_free(&tapped);
}

int main(void)
{
    char err[FLAGS_ERR_MAX];
    char *argv[] = {"test_journal", NULL};
    if (flags_init(server_flags, 1, argv, NULL, err, sizeof(err)) ||
        server_config_apply(err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    memcpy(dir, DIR_TEMPLATE, sizeof(dir));
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char *configured = server.cfg.appenddirname;
    server.cfg.appenddirname = dir;
    RUN_TEST(write_then_read);
    RUN_TEST(quoted_names_round_trip);
    RUN_TEST(comments_and_extra_fields);
    RUN_TEST(missing_manifest);
    RUN_TEST(bad_manifests);
    RUN_TEST(tap_gets_deletions_and_keyless_commands);
    RUN_TEST(tap_sync_makes_the_next_record_select_again);
    remove_manifest();
    rmdir(dir);
    server.cfg.appenddirname = configured;
    TEST_MAIN_END();
}
