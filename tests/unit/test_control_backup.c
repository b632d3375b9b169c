/* Unit tests of dfly-control's backup modules: the RDB merge (header fields once, bodies of
 * every shard, a valid CRC-64; malformed inputs refused), schedule and retention checks, and
 * INFO field parsing. Backups end to end are in tests/control/test_backups.py. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backup/backup.h"
#include "backup/rdb_merge.h"
#include "config.h"
#include "node/resp.h"
#include "testing.h"

/* dataplane/crc64.c, linked into dfly_control */
uint64_t crc64(uint64_t crc, const void *p, size_t len);

#define RDB_MAX 512

typedef struct rdb {
    unsigned char b[RDB_MAX];
    size_t n;
} rdb;

static void put(rdb *r, const void *p, size_t n)
{
    memcpy(r->b + r->n, p, n);
    r->n += n;
}

static void put_byte(rdb *r, unsigned char c)
{
    put(r, &c, 1);
}

static void put_str(rdb *r, const char *s)
{
    put_byte(r, (unsigned char)strlen(s)); /* 6-bit length */
    put(r, s, strlen(s));
}

/* A small RDB: header, AUX fields (one with an int8-encoded value), a function library,
 * database 0 with one string key, EOF and the CRC. */
static void rdb_make(rdb *r, const char *key, const char *value, int version)
{
    r->n = 0;
    char header[16];
    snprintf(header, sizeof(header), "REDIS%04d", version);
    put(r, header, 9);
    put_byte(r, 0xFA);
    put_str(r, "redis-ver");
    put_str(r, "7.0.0");
    put_byte(r, 0xFA);
    put_str(r, "redis-bits");
    put_byte(r, 0xC0); /* int8 */
    put_byte(r, 64);
    put_byte(r, 0xF5);
    put_str(r, "#!lua name=lib");
    put_byte(r, 0xFE); /* SELECTDB 0 */
    put_byte(r, 0);
    put_byte(r, 0xFB); /* RESIZEDB 1 0 */
    put_byte(r, 1);
    put_byte(r, 0);
    put_byte(r, 0); /* string */
    put_str(r, key);
    put_str(r, value);
    put_byte(r, 0xFF);
    uint64_t crc = crc64(0, r->b, r->n);
    for (int i = 0; i < 8; i++)
        put_byte(r, (unsigned char)(crc >> (8 * i)));
}

static int count(const unsigned char *hay, size_t n, const char *needle)
{
    int k = 0;
    size_t len = strlen(needle);
    for (size_t i = 0; i + len <= n; i++)
        k += !memcmp(hay + i, needle, len);
    return k;
}

/* Merges the given RDBs; returns rdb_merge's result with the output in *out (malloc'd). */
static int merge(rdb *in, int n, char **out, size_t *len, char *err)
{
    FILE *f[4];
    for (int i = 0; i < n; i++)
        f[i] = fmemopen(in[i].b, in[i].n, "rb");
    FILE *o = open_memstream(out, len);
    int rc = rdb_merge(f, n, o, err, RDB_MERGE_ERR_MAX);
    fclose(o);
    for (int i = 0; i < n; i++)
        fclose(f[i]);
    return rc;
}

TEST(merge_keeps_header_once_and_every_body)
{
    rdb in[3];
    rdb_make(&in[0], "alpha", "1", 10);
    rdb_make(&in[1], "beta", "2", 10);
    rdb_make(&in[2], "gamma", "3", 10);
    char *out = NULL, err[RDB_MERGE_ERR_MAX];
    size_t len = 0;
    CHECK_EQ_INT(merge(in, 3, &out, &len, err), 0);
    const unsigned char *u = (const unsigned char *)out;
    CHECK(len > 9 && !memcmp(out, "REDIS0010", 9));
    CHECK_EQ_INT(count(u, len, "redis-ver"), 1);
    CHECK_EQ_INT(count(u, len, "#!lua name=lib"), 1);
    CHECK_EQ_INT(count(u, len, "alpha"), 1);
    CHECK_EQ_INT(count(u, len, "beta"), 1);
    CHECK_EQ_INT(count(u, len, "gamma"), 1);
    /* EOF, then the CRC-64 of everything before it, little-endian */
    CHECK_EQ_INT(u[len - 9], 0xFF);
    uint64_t crc = crc64(0, u, len - 8), have = 0;
    for (int i = 0; i < 8; i++)
        have |= (uint64_t)u[len - 8 + i] << (8 * i);
    CHECK(crc == have);
    free(out);
}

TEST(merge_of_one_file_is_that_file)
{
    rdb in[1];
    rdb_make(&in[0], "solo", "x", 10);
    char *out = NULL, err[RDB_MERGE_ERR_MAX];
    size_t len = 0;
    CHECK_EQ_INT(merge(in, 1, &out, &len, err), 0);
    CHECK_EQ_INT((int)len, (int)in[0].n);
    CHECK(!memcmp(out, in[0].b, len));
    free(out);
}

TEST(merge_refuses_malformed_inputs)
{
    rdb in[2];
    char *out = NULL, err[RDB_MERGE_ERR_MAX];
    size_t len = 0;
    rdb_make(&in[0], "a", "1", 10);
    rdb_make(&in[1], "b", "2", 11);
    CHECK_EQ_INT(merge(in, 2, &out, &len, err), -1);
    CHECK(strstr(err, "version") != NULL);
    free(out);
    rdb_make(&in[1], "b", "2", 10);
    in[1].b[0] = 'X';
    CHECK_EQ_INT(merge(in, 2, &out, &len, err), -1);
    CHECK(strstr(err, "shard file 1") != NULL);
    free(out);
    rdb_make(&in[1], "b", "2", 10);
    in[1].n -= 5; /* torn: no EOF where it must be */
    CHECK_EQ_INT(merge(in, 2, &out, &len, err), -1);
    CHECK(strstr(err, "EOF") != NULL);
    free(out);
    rdb_make(&in[1], "b", "2", 10);
    in[1].b[10] = 0x3F; /* the AUX key's length now runs past the end */
    CHECK_EQ_INT(merge(in, 2, &out, &len, err), -1);
    free(out);
}

static int schedule_ok(const char *text)
{
    char err[BACKUP_ERR_MAX];
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    int rc = backup_schedule_check(v, err, sizeof(err));
    json_decref(v);
    return rc == 0;
}

static int retention_ok(const char *text)
{
    char err[BACKUP_ERR_MAX];
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    int rc = backup_retention_check(v, err, sizeof(err));
    json_decref(v);
    return rc == 0;
}

TEST(schedules_and_retention_are_checked)
{
    CHECK(schedule_ok("{\"cron\": \"0 3 * * *\"}"));
    CHECK(schedule_ok("{\"cron\": \"@daily\", \"timezone\": \"Europe/Berlin\"}"));
    CHECK(schedule_ok("{\"every_hours\": 6}"));
    CHECK(!schedule_ok("{\"cron\": \"0 25 * * *\"}"));
    CHECK(!schedule_ok("{\"cron\": \"0 3 * * *\", \"timezone\": \"Nowhere/City\"}"));
    CHECK(!schedule_ok("{\"every_hours\": 0}"));
    CHECK(!schedule_ok("{\"every_hours\": 6, \"timezone\": \"UTC\"}"));
    CHECK(!schedule_ok("{\"every_hours\": 6, \"cron\": \"@daily\"}"));
    CHECK(!schedule_ok("{}"));
    CHECK(!schedule_ok("{\"hourly\": true}"));
    CHECK(!schedule_ok("\"@daily\""));
    CHECK(retention_ok("{\"count\": 7}"));
    CHECK(retention_ok("{\"count\": 7, \"max_age_hours\": 48}"));
    CHECK(!retention_ok("{}"));
    CHECK(!retention_ok("{\"count\": 0}"));
    CHECK(!retention_ok("{\"days\": 3}"));
}

TEST(schedule_next_fires_after_now)
{
    ctl_cfg.schedule_hour_ms = 3600000;
    int64_t now = 1700000000000LL; /* 2023-11-14 22:13:20 UTC */
    CHECK(backup_schedule_next("{\"every_hours\": 2}", now) == now + 2 * 3600000LL);
    /* the next 03:00 in UTC is 2023-11-15 03:00:00 */
    CHECK(backup_schedule_next("{\"cron\": \"0 3 * * *\"}", now) == 1700017200000LL);
    /* 03:00 in Berlin (UTC+1 in November) is 02:00 UTC */
    CHECK(backup_schedule_next("{\"cron\": \"0 3 * * *\", \"timezone\": \"Europe/Berlin\"}", now) ==
          1700013600000LL);
    CHECK(backup_schedule_next("", now) == 0);
}

TEST(info_fields_are_found_by_exact_name)
{
    const char *info = "# Replication\r\nrole:master\r\nmaster_repl_offset:1234\r\n"
                       "master_repl_offset_x:9\r\nslave_repl_offset:77\r\n";
    char v[32];
    CHECK_EQ_INT(resp_info_field(info, "role", v, sizeof(v)), 0);
    CHECK_EQ_STR(v, "master");
    CHECK(resp_info_ll(info, "master_repl_offset", -1) == 1234);
    CHECK(resp_info_ll(info, "slave_repl_offset", -1) == 77);
    CHECK(resp_info_ll(info, "repl_offset", -1) == -1);
    CHECK(resp_info_ll(info, "role", -1) == -1);
}

int main(void)
{
    RUN_TEST(merge_keeps_header_once_and_every_body);
    RUN_TEST(merge_of_one_file_is_that_file);
    RUN_TEST(merge_refuses_malformed_inputs);
    RUN_TEST(schedules_and_retention_are_checked);
    RUN_TEST(schedule_next_fires_after_now);
    RUN_TEST(info_fields_are_found_by_exact_name);
    TEST_MAIN_END();
}
