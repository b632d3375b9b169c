/* Unit tests of cluster_config.c: DFLYCLUSTER CONFIG documents, accepted and refused. The
 * documents are written with ' for " to stay readable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "testing.h"

#define ERR_LEN 256
#define DOC_MAX 4096

/* Parses doc (with ' for ") for node me; err gets the reason of a refusal. */
static cluster_config *parse(const char *doc, const char *me, char *err)
{
    char json[DOC_MAX];
    snprintf(json, sizeof(json), "%s", doc);
    for (char *p = json; *p; p++)
        if (*p == '\'')
            *p = '"';
    err[0] = '\0';
    return cluster_config_parse(json, strlen(json), me, err, ERR_LEN);
}

/* Refused, with a reason that contains `why` (also with ' for "). */
static void check_refused(const char *doc, const char *why_quoted)
{
    char err[ERR_LEN], why[ERR_LEN];
    snprintf(why, sizeof(why), "%s", why_quoted);
    for (char *p = why; *p; p++)
        if (*p == '\'')
            *p = '"';
    cluster_config *cfg = parse(doc, "a", err);
    CHECK(cfg == NULL);
    if (!strstr(err, why))
        printf("  reason '%s' lacks '%s' for %s\n", err, why, doc);
    CHECK(strstr(err, why) != NULL);
    cluster_config_free(cfg);
}

/* A one-shard document whose only shard has these slot_ranges and this master. */
static void check_refused_shard(const char *ranges, const char *master, const char *why)
{
    char doc[DOC_MAX];
    snprintf(doc, sizeof(doc), "[{'slot_ranges':%s,'master':%s,'replicas':[]}]", ranges, master);
    check_refused(doc, why);
}

#define ALL "[{'start':0,'end':16383}]"
#define NODE_A "{'id':'a','ip':'127.0.0.1','port':7001}"

static const char two_shards[] =
    "[{'slot_ranges':[{'start':0,'end':8191}],"
    "  'master':{'id':'a','ip':'127.0.0.1','port':7001},"
    "  'replicas':[{'id':'a2','ip':'127.0.0.1','port':7011}]},"
    " {'slot_ranges':[{'start':8192,'end':12000},{'start':12001,'end':16383}],"
    "  'master':{'id':'b','ip':'127.0.0.1','port':7002},"
    "  'replicas':[]}]";

TEST(two_shards_as_master_replica_and_stranger)
{
    char err[ERR_LEN];
    cluster_config *cfg = parse(two_shards, "a", err);
    REQUIRE(cfg != NULL);
    CHECK_EQ_INT(cfg->nshards, 2);
    CHECK_EQ_INT(cfg->my_shard, 0);
    CHECK_EQ_INT(cfg->my_role, CLUSTER_ROLE_MASTER);
    CHECK(cluster_config_owns(cfg, 0) && cluster_config_owns(cfg, 8191));
    CHECK(!cluster_config_owns(cfg, 8192) && !cluster_config_holds(cfg, 16383));
    CHECK_EQ_INT(cfg->slot_shard[12001], 1);
    CHECK_EQ_STR(cfg->shards[1].master.id, "b");
    CHECK_EQ_INT(cfg->shards[1].master.port, 7002);
    CHECK_EQ_INT(cfg->shards[0].nreplicas, 1);
    CHECK_EQ_INT(cfg->shards[0].nmigrations, 0);
    cluster_config_free(cfg);

    cfg = parse(two_shards, "a2", err); /* a replica holds its shard's slots, owns none */
    REQUIRE(cfg != NULL);
    CHECK_EQ_INT(cfg->my_role, CLUSTER_ROLE_REPLICA);
    CHECK(cluster_config_holds(cfg, 100) && !cluster_config_owns(cfg, 100));
    cluster_config_free(cfg);

    cfg = parse(two_shards, "zz", err); /* not in the topology: nothing */
    REQUIRE(cfg != NULL);
    CHECK_EQ_INT(cfg->my_shard, -1);
    CHECK(!cluster_config_holds(cfg, 0));
    cluster_config_free(cfg);
}

TEST(migrations_and_unknown_members)
{
    const char *doc = "[{'slot_ranges':" ALL ",'master':" NODE_A ",'replicas':[],"
                      "  'future':{'x':[1,2]},"
                      "  'migrations':[{'node_id':'b','ip':'h','port':2,"
                      "                 'slot_ranges':[{'start':5,'end':9}]}]},"
                      " {'slot_ranges':[],'master':{'id':'b','ip':'h','port':2},'replicas':[],"
                      "  'migrations':null}]";
    char err[ERR_LEN];
    cluster_config *cfg = parse(doc, "b", err);
    REQUIRE(cfg != NULL);
    REQUIRE(cfg->shards[0].nmigrations == 1);
    CHECK_EQ_STR(cfg->shards[0].migrations[0].target.id, "b");
    CHECK_EQ_INT(cfg->shards[0].migrations[0].ranges[0].start, 5);
    CHECK_EQ_INT(cfg->shards[1].nranges, 0);
    CHECK_EQ_INT(cfg->my_shard, 1);
    cluster_config_free(cfg);
}

TEST(refused_documents)
{
    check_refused("", "not JSON");
    check_refused("[{]", "not JSON");
    check_refused("{}", "not an array");
    check_refused("[]", "slot 0 is not covered");
    check_refused("[1]", "shard 0 is not an object");
    check_refused("[{'slot_ranges':" ALL ",'slot_ranges':[],'master':" NODE_A ",'replicas':[]}]",
                  "not JSON"); /* a member twice */
    check_refused("[{'slot_ranges':" ALL ",'master':" NODE_A "}]",
                  "'replicas' is missing or not an array");
    check_refused("[{'slot_ranges':[{'start':0,'end':8191}],'master':" NODE_A ",'replicas':[]},"
                  " {'slot_ranges':[{'start':8192,'end':16383}],"
                  "  'master':{'id':'x','ip':'h','port':2},'replicas':[" NODE_A "]}]",
                  "node id a appears more than once");
}

TEST(refused_slots)
{
    check_refused_shard("[{'start':0,'end':100},{'start':102,'end':16383}]", NODE_A,
                        "slot 101 is not covered");
    check_refused_shard("[{'start':0,'end':100},{'start':100,'end':16383}]", NODE_A,
                        "slot 100 is in more than one range");
    check_refused_shard("[{'start':0,'end':16384}]", NODE_A, "invalid slot range 0-16384");
    check_refused_shard("[{'start':-1,'end':16383}]", NODE_A, "invalid slot range -1-16383");
    check_refused_shard("[{'start':9,'end':3}," ALL "]", NODE_A, "invalid slot range 9-3");
    check_refused_shard("[{'start':0.0,'end':16383}]", NODE_A, "is not {'start': int, 'end': int}");
    check_refused_shard("{'start':0,'end':16383}", NODE_A, "'slot_ranges' is not an array");
}

TEST(refused_nodes)
{
    check_refused_shard(ALL, "{'id':'a','ip':'h','port':'1'}", "'port' is missing or not in");
    check_refused_shard(ALL, "{'id':'a','ip':'h','port':0}", "'port' is missing or not in");
    check_refused_shard(ALL, "{'id':'a','ip':'h','port':65536}", "'port' is missing or not in");
    check_refused_shard(ALL, "{'id':'a b','ip':'h','port':1}", "not a valid node id");
    check_refused_shard(ALL, "{'id':7,'ip':'h','port':1}", "not a valid node id");
    check_refused_shard(ALL, "{'id':'a','ip':'','port':1}", "'ip' is missing");
    check_refused_shard(ALL, "{'id':'a','port':1}", "'ip' is missing");
    check_refused_shard(ALL, "'a'", "'master' is not an object");
}

/* A migration of shard 0 (master a, replica r, slots 0-8191) to b (slots 8192-16383). */
static void check_refused_migration(const char *migration, const char *why)
{
    char doc[DOC_MAX];
    snprintf(doc, sizeof(doc),
             "[{'slot_ranges':[{'start':0,'end':8191}],'master':" NODE_A ","
             "  'replicas':[{'id':'r','ip':'h','port':3}],'migrations':[%s]},"
             " {'slot_ranges':[{'start':8192,'end':16383}],"
             "  'master':{'id':'b','ip':'h','port':2},'replicas':[]}]",
             migration);
    check_refused(doc, why);
}

TEST(refused_migrations)
{
    check_refused_migration("{'node_id':'b','ip':'h','port':2,'slot_ranges':[{'start':8000,"
                            "'end':8200}]}",
                            "slot 8192 is outside the shard");
    check_refused_migration("{'node_id':'b','ip':'h','port':2,'slot_ranges':[{'start':1,'end':5},"
                            "{'start':5,'end':6}]}",
                            "slot 5 is outside the shard or already migrating");
    check_refused_migration("{'node_id':'r','ip':'h','port':2,'slot_ranges':[{'start':1,'end':5}]}",
                            "target r is not the master of another shard");
    check_refused_migration("{'node_id':'a','ip':'h','port':2,'slot_ranges':[{'start':1,'end':5}]}",
                            "target a is not the master of another shard");
    check_refused_migration("{'node_id':'b','ip':'h','port':2,'slot_ranges':[]}",
                            "no slots to migrate");
    check_refused_migration("{'node_id':'b','ip':'h','port':2}", "'slot_ranges' is not an array");
    check_refused_migration("{'id':'b','ip':'h','port':2,'slot_ranges':[{'start':1,'end':5}]}",
                            "'node_id' is missing");
}

TEST(valid_ids)
{
    CHECK(cluster_valid_id("0123456789abcdef0123456789abcdef01234567", 40));
    CHECK(cluster_valid_id("node-A_1.x", 10));
    CHECK(!cluster_valid_id("", 0));
    CHECK(!cluster_valid_id("a b", 3));
    CHECK(!cluster_valid_id("a\nb", 3));
    char big[CLUSTER_NODE_ID_MAX + 2];
    memset(big, 'x', sizeof(big));
    CHECK(cluster_valid_id(big, CLUSTER_NODE_ID_MAX));
    CHECK(!cluster_valid_id(big, CLUSTER_NODE_ID_MAX + 1));
}

TEST(many_single_slot_ranges)
{
    /* 16384 one-slot ranges over 4 shards, interleaved: accepted, each slot where it was put. */
    size_t cap = (size_t)CLUSTER_SLOTS * 40 + DOC_MAX;
    char *doc = malloc(cap);
    size_t len = (size_t)snprintf(doc, cap, "[");
    for (int sh = 0; sh < 4; sh++) {
        len += (size_t)snprintf(doc + len, cap - len, "%s{\"slot_ranges\":[", sh ? "," : "");
        for (int s = sh; s < CLUSTER_SLOTS; s += 4)
            len += (size_t)snprintf(doc + len, cap - len, "%s{\"start\":%d,\"end\":%d}",
                                    s == sh ? "" : ",", s, s);
        len += (size_t)snprintf(doc + len, cap - len,
                                "],\"master\":{\"id\":\"n%d\",\"ip\":\"h\",\"port\":%d},"
                                "\"replicas\":[]}",
                                sh, 7000 + sh);
    }
    len += (size_t)snprintf(doc + len, cap - len, "]");
    char err[ERR_LEN];
    cluster_config *cfg = cluster_config_parse(doc, len, "n2", err, sizeof(err));
    REQUIRE(cfg != NULL);
    CHECK_EQ_INT(cfg->slot_shard[10], 2);
    CHECK_EQ_INT(cfg->slot_shard[16383], 3);
    CHECK(cluster_config_owns(cfg, 6) && !cluster_config_owns(cfg, 7));
    cluster_config_free(cfg);
    free(doc);
}

int main(void)
{
    RUN_TEST(two_shards_as_master_replica_and_stranger);
    RUN_TEST(migrations_and_unknown_members);
    RUN_TEST(refused_documents);
    RUN_TEST(refused_slots);
    RUN_TEST(refused_nodes);
    RUN_TEST(refused_migrations);
    RUN_TEST(valid_ids);
    RUN_TEST(many_single_slot_ranges);
    TEST_MAIN_END();
}
