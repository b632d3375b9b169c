/* The shard scheduler (tx.c) with real worker threads: single-shard hops and multi-shard
 * transactions from every thread at once must run each body with exclusive use of its shards,
 * never deadlock, and complete every piece of work. */
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "db.h"
#include "server.h"
#include "testing.h"
#include "tx.h"
#include "worker.h"

#define TX_THREADS 4
#define TX_JOBS_PER_THREAD 8
#define TX_ROUNDS 2000
#define TX_WAIT_SECONDS 60

static _Atomic int in_use[TX_THREADS];   /* a body is running on this shard */
static _Atomic long applied[TX_THREADS]; /* increments made by bodies, per shard */
static _Atomic long expected[TX_THREADS];
static _Atomic int violations;
static _Atomic int jobs_done;

typedef struct job {
    unsigned seed;
    int round;
    shardset set;
} job;

static void body(void *arg)
{
    job *j = arg;
    for (int s = 0; s < TX_THREADS; s++)
        if (shardset_has(&j->set, s) && atomic_exchange(&in_use[s], 1))
            atomic_fetch_add(&violations, 1);
    for (int s = 0; s < TX_THREADS; s++)
        if (shardset_has(&j->set, s))
            atomic_fetch_add(&applied[s], 1);
    for (int s = 0; s < TX_THREADS; s++)
        if (shardset_has(&j->set, s))
            atomic_store(&in_use[s], 0);
}

static void next_round(void *arg);

static void done(void *arg)
{
    next_round(arg);
}

/* Starts the job's next piece of work: a random set of 1 to all shards. */
static void next_round(void *arg)
{
    job *j = arg;
    for (;;) {
        if (j->round++ == TX_ROUNDS) {
            atomic_fetch_add(&jobs_done, 1);
            return;
        }
        shardset_clear(&j->set);
        int n = 0;
        while (n == 0)
            for (int s = 0; s < TX_THREADS; s++)
                if (rand_r(&j->seed) % 3 == 0) {
                    shardset_add(&j->set, s);
                    n++;
                }
        for (int s = 0; s < TX_THREADS; s++)
            if (shardset_has(&j->set, s))
                atomic_fetch_add(&expected[s], 1);
        if (!tx_run(&j->set, body, done, j))
            return; /* done() continues */
    }
}

TEST(concurrent_transactions_are_exclusive_and_complete)
{
    static job jobs[TX_THREADS][TX_JOBS_PER_THREAD];
    for (int w = 0; w < TX_THREADS; w++)
        for (int k = 0; k < TX_JOBS_PER_THREAD; k++) {
            jobs[w][k].seed = (unsigned)(w * 100 + k + 1);
            worker_post(workers[w], next_round, &jobs[w][k]);
        }
    time_t deadline = time(NULL) + TX_WAIT_SECONDS;
    while (atomic_load(&jobs_done) < TX_THREADS * TX_JOBS_PER_THREAD && time(NULL) < deadline)
        usleep(10000);
    CHECK_EQ_INT(atomic_load(&jobs_done), TX_THREADS * TX_JOBS_PER_THREAD);
    CHECK_EQ_INT(atomic_load(&violations), 0);
    for (int s = 0; s < TX_THREADS; s++)
        CHECK_EQ_INT(atomic_load(&applied[s]), atomic_load(&expected[s]));
}

TEST(shardset_basics)
{
    shardset s;
    shardset_clear(&s);
    CHECK_EQ_INT(shardset_count(&s), 0);
    CHECK_EQ_INT(shardset_first(&s), -1);
    shardset_add(&s, 3);
    shardset_add(&s, 200);
    CHECK_EQ_INT(shardset_count(&s), 2);
    CHECK_EQ_INT(shardset_first(&s), 3);
    CHECK(shardset_has(&s, 200));
    CHECK(!shardset_has(&s, 4));
}

int main(void)
{
    char err[FLAGS_ERR_MAX];
    char *argv[] = {"test_tx", NULL};
    if (flags_init(server_flags, 1, argv, NULL, err, sizeof(err)) ||
        server_config_apply(err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    server.nshards = TX_THREADS;
    command_table_init();
    shards_init(TX_THREADS, 1);
    if (workers_init(TX_THREADS, "127.0.0.1", 0) < 0)
        return 1;
    workers_start();
    RUN_TEST(shardset_basics);
    RUN_TEST(concurrent_transactions_are_exclusive_and_complete);
    workers_stop();
    shards_free();
    flags_free(server_flags);
    TEST_MAIN_END();
}
