/* Unit tests of dfly-control's modules: slot split and cluster configuration, restart
 * back-off, the database (migrations, nested transactions), secrets at rest, the RESP client,
 * flag helpers. The API and the reconciler as a whole are tested end to end in tests/control/. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "ids.h"
#include "node/resp.h"
#include "secret.h"
#include "store.h"
#include "supervisor.h"
#include "testing.h"
#include "topology.h"

TEST(slots_split_evenly_and_cover_everything)
{
    for (int n = 1; n <= 64; n++) {
        int next = 0, smallest = CLUSTER_SLOTS, largest = 0;
        for (int s = 0; s < n; s++) {
            int start, end;
            topology_slots(s, n, &start, &end);
            CHECK_EQ_INT(start, next);
            int size = end - start + 1;
            smallest = size < smallest ? size : smallest;
            largest = size > largest ? size : largest;
            next = end + 1;
        }
        CHECK_EQ_INT(next, CLUSTER_SLOTS);
        CHECK(largest - smallest <= 1);
    }
}

static node_row node(int shard, const char *role, const char *id, int port)
{
    node_row n;
    memset(&n, 0, sizeof(n));
    n.shard = shard;
    snprintf(n.role, sizeof(n.role), "%s", role);
    snprintf(n.cluster_id, sizeof(n.cluster_id), "%s", id);
    snprintf(n.host, sizeof(n.host), "127.0.0.1");
    n.port = port;
    return n;
}

TEST(cluster_config_lists_masters_and_replicas_per_shard)
{
    node_row nodes[] = {node(0, ROLE_MASTER, "m0", 7000), node(0, ROLE_REPLICA, "r0", 7002),
                        node(1, ROLE_MASTER, "m1", 7004)};
    char *text = topology_cluster_config(nodes, 3, 2);
    REQUIRE(text);
    json_error_t e;
    json_t *doc = json_loads(text, 0, &e);
    free(text);
    REQUIRE(json_is_array(doc));
    CHECK_EQ_INT(json_array_size(doc), 2);
    json_t *s0 = json_array_get(doc, 0), *s1 = json_array_get(doc, 1);
    json_t *r0 = json_array_get(json_object_get(s0, "slot_ranges"), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(r0, "start")), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(r0, "end")), 8191);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(s0, "master"), "id")), "m0");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(s1, "master"), "port")), 7004);
    json_t *reps = json_object_get(s0, "replicas");
    CHECK_EQ_INT(json_array_size(reps), 1);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(reps, 0), "id")), "r0");
    CHECK_EQ_INT(json_array_size(json_object_get(s1, "replicas")), 0);
    json_decref(doc);
}

TEST(backoff_doubles_up_to_the_maximum)
{
    ctl_cfg.restart_backoff_min_ms = 500;
    ctl_cfg.restart_backoff_max_ms = 30000;
    CHECK_EQ_INT(supervisor_backoff_ms(1), 500);
    CHECK_EQ_INT(supervisor_backoff_ms(2), 1000);
    CHECK_EQ_INT(supervisor_backoff_ms(4), 4000);
    CHECK_EQ_INT(supervisor_backoff_ms(7), 30000);
    CHECK_EQ_INT(supervisor_backoff_ms(1000), 30000);
    node_rt *a = supervisor_rt("nod_a");
    CHECK(a == supervisor_rt("nod_a"));
    supervisor_unmark_all();
    supervisor_rt("nod_b");
    supervisor_sweep(); /* a was not seen since the marks were cleared: forgotten */
    CHECK(supervisor_rt("nod_a")->failures == 0);
    supervisor_free();
}

static char tmpdir[] = "/tmp/dfly-control-test-XXXXXX";

static long long count_rows(const char *table)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    sqlite3_stmt *st = db_prepare(sql);
    long long n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    db_done(st);
    return n;
}

TEST(database_migrates_and_nests_transactions)
{
    REQUIRE(mkdtemp(tmpdir));
    char path[256], err[256];
    snprintf(path, sizeof(path), "%s/control.db", tmpdir);
    REQUIRE(db_open(path, err, sizeof(err)) == 0);
    int latest = 0;
    for (const db_migration *m = db_migrations; m->version; m++)
        latest = m->version;
    CHECK(latest >= 2); /* 2: backups, restores, planned failovers */
    CHECK_EQ_INT(db_schema_version(), latest);
    CHECK_EQ_INT(db_begin(), SQLITE_OK);
    CHECK_EQ_INT(db_exec("INSERT INTO tenants VALUES ('t1', 'one', 1, 1, 0, 0)"), SQLITE_OK);
    CHECK_EQ_INT(db_begin(), SQLITE_OK); /* a savepoint */
    CHECK_EQ_INT(db_exec("INSERT INTO tenants VALUES ('t2', 'two', 1, 1, 0, 0)"), SQLITE_OK);
    db_rollback(); /* undoes t2 only */
    CHECK(db_in_transaction());
    CHECK_EQ_INT(db_commit(), SQLITE_OK);
    CHECK(!db_in_transaction());
    CHECK_EQ_INT(count_rows("tenants"), 1);
    /* Foreign keys are on: a token of a tenant that does not exist is refused. */
    CHECK(db_exec("INSERT INTO tokens(id, tenant_id, name, hash, prefix, created_at) "
                  "VALUES ('k', 'nope', 'n', 'h', 'p', 0)") != SQLITE_OK);
    db_close_all();
    /* Opening again applies nothing twice. */
    REQUIRE(db_open(path, err, sizeof(err)) == 0);
    CHECK_EQ_INT(count_rows("schema_migrations"), latest);
    CHECK_EQ_INT(count_rows("tenants"), 1);
    db_close_all();
}

TEST(secrets_round_trip_and_detect_tampering)
{
    char err[256];
    REQUIRE(secret_init(tmpdir, err, sizeof(err)) == 0);
    unsigned char *sealed;
    size_t n;
    secret_seal("hunter2", 7, &sealed, &n);
    char *plain = NULL;
    size_t plen = 0;
    CHECK_EQ_INT(secret_open(sealed, n, &plain, &plen), 0);
    CHECK_EQ_STR(plain, "hunter2");
    CHECK_EQ_INT(plen, 7);
    free(plain);
    sealed[n / 2] ^= 1;
    CHECK_EQ_INT(secret_open(sealed, n, &plain, &plen), -1);
    CHECK_EQ_INT(secret_open(sealed, 4, &plain, &plen), -1);
    free(sealed);
}

TEST(ids_and_times)
{
    char id[ID_MAX], secret[SECRET_MAX], t[TIME_TEXT_MAX], hash[65];
    ids_new("ins", id);
    CHECK_EQ_INT(strlen(id), 4 + 2 * ID_RANDOM_BYTES);
    CHECK(!strncmp(id, "ins_", 4));
    ids_secret("dfly_", secret);
    CHECK_EQ_INT(strlen(secret), 5 + 2 * SECRET_RANDOM_BYTES);
    ids_time_format(1700000000123LL, t);
    CHECK_EQ_STR(t, "2023-11-14T22:13:20.123Z");
    ids_sha256_hex("abc", 3, hash);
    CHECK_EQ_STR(hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(hostport)
{
    char host[64];
    int port;
    CHECK_EQ_INT(config_parse_hostport("127.0.0.1:8080", host, sizeof(host), &port), 0);
    CHECK_EQ_STR(host, "127.0.0.1");
    CHECK_EQ_INT(port, 8080);
    CHECK_EQ_INT(config_parse_hostport("[::1]:9", host, sizeof(host), &port), 0);
    CHECK_EQ_STR(host, "::1");
    CHECK_EQ_INT(config_parse_hostport("nohost", host, sizeof(host), &port), -1);
    CHECK_EQ_INT(config_parse_hostport(":80", host, sizeof(host), &port), -1);
    CHECK_EQ_INT(config_parse_hostport("h:70000", host, sizeof(host), &port), -1);
}

/* A one-connection RESP server that reads a request and answers with canned bytes. */
typedef struct fake {
    int fd;
    const char *reply;
} fake;

static void *fake_serve(void *arg)
{
    fake *f = arg;
    int c = accept(f->fd, NULL, NULL);
    if (c >= 0) {
        char in[1024];
        ssize_t n = read(c, in, sizeof(in));
        (void)n;
        ssize_t w = write(c, f->reply, strlen(f->reply));
        (void)w;
        close(c);
    }
    return NULL;
}

static int fake_listen(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0) {
        close(fd);
        return -1;
    }
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

static int fake_call(const char *reply, char *out, size_t outlen)
{
    int port;
    fake f = {fake_listen(&port), reply};
    pthread_t t;
    pthread_create(&t, NULL, fake_serve, &f);
    const char *argv[] = {"CONFIG", "GET", "appendonly"};
    int rc = resp_call("127.0.0.1", port, NULL, 2000, out, outlen, 3, argv);
    pthread_join(t, NULL);
    close(f.fd);
    return rc;
}

TEST(resp_client_reads_each_kind_of_reply)
{
    char out[256];
    CHECK_EQ_INT(fake_call("+OK\r\n", out, sizeof(out)), RESP_OK);
    CHECK_EQ_STR(out, "OK");
    CHECK_EQ_INT(fake_call("-ERR nope\r\n", out, sizeof(out)), RESP_ERROR);
    CHECK_EQ_STR(out, "ERR nope");
    CHECK_EQ_INT(fake_call("$5\r\nhello\r\n", out, sizeof(out)), RESP_OK);
    CHECK_EQ_STR(out, "hello");
    CHECK_EQ_INT(fake_call("*2\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n", out, sizeof(out)), RESP_OK);
    CHECK_EQ_STR(out, "appendonly\nyes\n");
    CHECK_EQ_INT(fake_call(":42\r\n", out, sizeof(out)), RESP_OK);
    CHECK_EQ_STR(out, "42");
    CHECK_EQ_INT(fake_call("$10\r\nshort", out, sizeof(out)), RESP_IO); /* closed early */
    CHECK_EQ_INT(fake_call("?what\r\n", out, sizeof(out)), RESP_IO);
    int port;
    int fd = fake_listen(&port);
    close(fd); /* nobody listens there now */
    const char *ping[] = {"PING"};
    CHECK_EQ_INT(resp_call("127.0.0.1", port, NULL, 500, out, sizeof(out), 1, ping), RESP_IO);
}

int main(void)
{
    RUN_TEST(slots_split_evenly_and_cover_everything);
    RUN_TEST(cluster_config_lists_masters_and_replicas_per_shard);
    RUN_TEST(backoff_doubles_up_to_the_maximum);
    RUN_TEST(database_migrates_and_nests_transactions);
    RUN_TEST(secrets_round_trip_and_detect_tampering);
    RUN_TEST(ids_and_times);
    RUN_TEST(hostport);
    RUN_TEST(resp_client_reads_each_kind_of_reply);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", tmpdir);
    TEST_MAIN_END();
}
