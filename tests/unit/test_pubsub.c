/* Unit tests of the Pub/Sub registry's bookkeeping (pubsub.c), of client-output-buffer-limit's
 * parsing (CONFIG SET's check, with Redis 7.0's texts) and of notify-keyspace-events' letters
 * (notify.c). Delivery needs running workers and is covered by the integration suites. */
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "notify.h"
#include "pubsub.h"
#include "server.h"
#include "testing.h"
#include "worker.h"

#define OBUF_OUT_MAX 256

static worker fake_worker;

static client *new_client(void)
{
    client *cl = calloc(1, sizeof(client));
    cl->owner = &fake_worker;
    cl->resp = 2;
    return cl;
}

static void free_client(client *cl)
{
    pubsub_unsubscribe_all(cl);
    free(cl);
}

static slice S(const char *s)
{
    return (slice){s, strlen(s)};
}

/* Records what the subscribe/unsubscribe callbacks were told. */
typedef struct seen {
    int n;
    int changed[8];
    char names[8][32];
} seen;

static void record(void *arg, const char *name, size_t len, int changed)
{
    seen *s = arg;
    if (s->n < 8) {
        snprintf(s->names[s->n], sizeof(s->names[0]), "%.*s", (int)len, name);
        s->changed[s->n] = changed;
    }
    s->n++;
}

static void collect_name(void *arg, const char *name, size_t len)
{
    seen *s = arg;
    record(s, name, len, 1);
}

TEST(subscribe_counts_and_repeats)
{
    client *a = new_client(), *b = new_client();
    slice names[] = {S("x"), S("y"), S("x")};
    seen s = {0};
    pubsub_subscribe(a, PUBSUB_CHANNEL, 3, names, record, &s);
    CHECK_EQ_INT(s.n, 3);
    CHECK_EQ_INT(s.changed[0], 1);
    CHECK_EQ_INT(s.changed[1], 1);
    CHECK_EQ_INT(s.changed[2], 0); /* a repeat is confirmed, not added */
    CHECK(a->flags & CLIENT_PUBSUB);
    CHECK_EQ_INT(pubsub_count(a, PUBSUB_CHANNEL), 2);
    slice bx = S("x");
    pubsub_subscribe(b, PUBSUB_CHANNEL, 1, &bx, record, &s);
    CHECK_EQ_INT(pubsub_numsub(PUBSUB_CHANNEL, "x", 1), 2);
    CHECK_EQ_INT(pubsub_numsub(PUBSUB_CHANNEL, "y", 1), 1);
    CHECK_EQ_INT(pubsub_numsub(PUBSUB_SHARD, "x", 1), 0);
    CHECK_EQ_INT(pubsub_topics(PUBSUB_CHANNEL), 2);
    free_client(a);
    CHECK_EQ_INT(pubsub_numsub(PUBSUB_CHANNEL, "x", 1), 1);
    CHECK_EQ_INT(pubsub_topics(PUBSUB_CHANNEL), 1);
    free_client(b);
    CHECK_EQ_INT(pubsub_topics(PUBSUB_CHANNEL), 0);
    CHECK(pubsub_idle());
}

TEST(unsubscribe_named_and_all)
{
    client *a = new_client();
    slice names[] = {S("c1"), S("c2"), S("c3")};
    seen s = {0};
    pubsub_subscribe(a, PUBSUB_CHANNEL, 3, names, record, &s);
    slice pat = S("c*");
    pubsub_subscribe(a, PUBSUB_PATTERN, 1, &pat, record, &s);
    CHECK_EQ_INT(pubsub_total(a), 4);
    CHECK_EQ_INT(pubsub_topics(PUBSUB_PATTERN), 1);
    seen u = {0};
    slice gone[] = {S("c2"), S("nope")};
    pubsub_unsubscribe(a, PUBSUB_CHANNEL, 2, gone, record, &u);
    CHECK_EQ_INT(u.n, 2);
    CHECK_EQ_INT(u.changed[0], 1);
    CHECK_EQ_INT(u.changed[1], 0);
    CHECK_EQ_INT(pubsub_count(a, PUBSUB_CHANNEL), 2);
    seen all = {0};
    pubsub_unsubscribe(a, PUBSUB_CHANNEL, 0, NULL, record, &all);
    CHECK_EQ_INT(all.n, 2);
    CHECK_EQ_INT(pubsub_count(a, PUBSUB_CHANNEL), 0);
    CHECK_EQ_INT(pubsub_topics(PUBSUB_CHANNEL), 0);
    /* Still subscribed to a pattern: the flag stays. */
    pubsub_settle(a);
    CHECK(a->flags & CLIENT_PUBSUB);
    pubsub_unsubscribe(a, PUBSUB_PATTERN, 0, NULL, record, &all);
    pubsub_settle(a);
    CHECK(!(a->flags & CLIENT_PUBSUB));
    CHECK_EQ_INT(pubsub_topics(PUBSUB_PATTERN), 0);
    free_client(a);
}

TEST(list_channels_by_pattern)
{
    client *a = new_client();
    slice names[] = {S("news.eu"), S("news.us"), S("sport")};
    seen s = {0};
    pubsub_subscribe(a, PUBSUB_CHANNEL, 3, names, record, &s);
    slice shard = S("news.shard");
    pubsub_subscribe(a, PUBSUB_SHARD, 1, &shard, record, &s);
    seen l = {0};
    pubsub_list(PUBSUB_CHANNEL, "news.*", 6, collect_name, &l);
    CHECK_EQ_INT(l.n, 2);
    seen all = {0};
    pubsub_list(PUBSUB_CHANNEL, NULL, 0, collect_name, &all);
    CHECK_EQ_INT(all.n, 3);
    seen sh = {0};
    pubsub_list(PUBSUB_SHARD, NULL, 0, collect_name, &sh);
    REQUIRE(sh.n == 1);
    CHECK_EQ_STR(sh.names[0], "news.shard");
    free_client(a);
    CHECK_EQ_INT(pubsub_topics(PUBSUB_SHARD), 0);
}

TEST(publish_without_subscribers)
{
    CHECK_EQ_INT(pubsub_publish(NULL, PUBSUB_CHANNEL, "c", 1, "m", 1), 0);
    CHECK_EQ_INT(pubsub_publish(NULL, PUBSUB_SHARD, "c", 1, "m", 1), 0);
}

static int obuf(const char *value, char *out)
{
    char err[256];
    int rc = pubsub_obuf_limit_check(value, out, OBUF_OUT_MAX, err, sizeof(err));
    if (rc)
        snprintf(out, OBUF_OUT_MAX, "%s", err);
    return rc;
}

TEST(obuf_limit_merges_classes)
{
    char out[OBUF_OUT_MAX];
    server.cfg.client_output_buffer_limit = NULL; /* the defaults */
    CHECK_EQ_INT(obuf("pubsub 1mb 2mb 1", out), 0);
    CHECK_EQ_STR(out, "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 2097152 1");
    CHECK_EQ_INT(obuf("", out), 0);
    CHECK_EQ_STR(out, OBUF_LIMIT_DEFAULT);
    CHECK_EQ_INT(obuf("PUBSUB 1kb 1k 0 normal 1 2 3 replica 5 6 7", out), 0);
    CHECK_EQ_STR(out, "normal 1 2 3 slave 5 6 7 pubsub 1024 1000 0");
    char current[] = "normal 9 9 9 slave 1 1 1 pubsub 2 2 2";
    server.cfg.client_output_buffer_limit = current;
    CHECK_EQ_INT(obuf("normal 0 0 0", out), 0);
    CHECK_EQ_STR(out, "normal 0 0 0 slave 1 1 1 pubsub 2 2 2");
    server.cfg.client_output_buffer_limit = NULL;
}

TEST(obuf_limit_errors)
{
    char out[OBUF_OUT_MAX];
    CHECK_EQ_INT(obuf("pubsub 1mb", out), -1);
    CHECK_EQ_STR(out, "Wrong number of arguments in buffer limit configuration.");
    CHECK_EQ_INT(obuf("master 1 0 1", out), -1);
    CHECK_EQ_STR(out, "Invalid client class specified in buffer limit configuration.");
    CHECK_EQ_INT(obuf("pubsub -1 0 0", out), -1);
    CHECK_EQ_STR(out, "Error in hard, soft or soft_seconds setting in buffer limit configuration.");
    CHECK_EQ_INT(obuf("pubsub 1 x 0", out), -1);
    CHECK_EQ_INT(obuf("pubsub 1 0 -5", out), -1);
    /* A bad class further on leaves everything as it was. */
    CHECK_EQ_INT(obuf("pubsub 1 1 1 nope 1 1 1", out), -1);
}

TEST(notify_letters)
{
    CHECK_EQ_INT(notify_parse_classes(""), 0);
    CHECK_EQ_INT(notify_parse_classes(NULL), 0);
    CHECK_EQ_INT(notify_parse_classes("K$"), NOTIFY_KEYSPACE | NOTIFY_STRING);
    int all = notify_parse_classes("A");
    CHECK(all & NOTIFY_GENERIC && all & NOTIFY_STRING && all & NOTIFY_LIST && all & NOTIFY_SET);
    CHECK(all & NOTIFY_HASH && all & NOTIFY_ZSET && all & NOTIFY_EXPIRED);
    CHECK(all & NOTIFY_EVICTED && all & NOTIFY_STREAM);
    /* 'A' leaves out key-miss and new-key events, as in Redis. */
    CHECK(!(all & (NOTIFY_KEY_MISS | NOTIFY_NEW | NOTIFY_KEYSPACE | NOTIFY_KEYEVENT)));
    CHECK_EQ_INT(notify_parse_classes("Emn"), NOTIFY_KEYEVENT | NOTIFY_KEY_MISS | NOTIFY_NEW);
    CHECK_EQ_INT(notify_parse_classes("glshzxetd"), NOTIFY_GENERIC | NOTIFY_LIST | NOTIFY_SET |
                                                        NOTIFY_HASH | NOTIFY_ZSET | NOTIFY_EXPIRED |
                                                        NOTIFY_EVICTED | NOTIFY_STREAM);
}

int main(void)
{
    RUN_TEST(subscribe_counts_and_repeats);
    RUN_TEST(unsubscribe_named_and_all);
    RUN_TEST(list_channels_by_pattern);
    RUN_TEST(publish_without_subscribers);
    RUN_TEST(obuf_limit_merges_classes);
    RUN_TEST(obuf_limit_errors);
    RUN_TEST(notify_letters);
    TEST_MAIN_END();
}
