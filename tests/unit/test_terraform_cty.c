/* Unit tests of terraform-provider-dfly's value layer (terraform/cty.c, schema.c, util.c): the
 * msgpack encoding of cty values as Terraform writes and reads them, JSON state, schema types as
 * JSON, value shapes, and the parsers of sizes and durations. */
#include "testing.h"

#include <stdlib.h>
#include <string.h>

#include "cty.h"
#include "provider.h"
#include "schema.h"

static cty_value *roundtrip(const cty_value *v, buf *b)
{
    buf_clear(b);
    cty_encode_msgpack(v, b);
    return cty_decode_msgpack((const uint8_t *)b->data, b->len);
}

TEST(unknown_is_extension_type_0)
{
    buf b;
    buf_init(&b);
    cty_value *u = cty_unknown();
    cty_encode_msgpack(u, &b);
    CHECK_EQ_MEM(b.data, b.len, "\xd4\x00\x00", 3);
    cty_value *back = cty_decode_msgpack((const uint8_t *)b.data, b.len);
    REQUIRE(back != NULL);
    CHECK_EQ_INT(back->kind, CTY_UNKNOWN);
    cty_free(back);
    cty_free(u);
    buf_free(&b);
}

TEST(refined_unknown_decodes_as_unknown)
{
    /* Terraform 1.6+ may send an unknown with refinements: extension type 12 */
    static const uint8_t refined[] = {0xc7, 0x03, 0x0c, 0x81, 0x01, 0xc2};
    cty_value *v = cty_decode_msgpack(refined, sizeof refined);
    REQUIRE(v != NULL);
    CHECK_EQ_INT(v->kind, CTY_UNKNOWN);
    cty_free(v);
}

TEST(null_and_scalars)
{
    buf b;
    buf_init(&b);
    cty_value *n = cty_null();
    cty_encode_msgpack(n, &b);
    CHECK_EQ_MEM(b.data, b.len, "\xc0", 1);
    cty_value *vals[] = {cty_bool(true), cty_int(67108864), cty_int(-3), cty_str("1gb")};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        cty_value *back = roundtrip(vals[i], &b);
        REQUIRE(back != NULL);
        CHECK(cty_equal(back, vals[i]));
        cty_free(back);
        cty_free(vals[i]);
    }
    cty_free(n);
    buf_free(&b);
}

TEST(whole_floats_are_integers)
{
    /* cty may send 3 as a float64; it is the number 3 */
    static const uint8_t f3[] = {0xcb, 0x40, 0x08, 0, 0, 0, 0, 0, 0};
    cty_value *v = cty_decode_msgpack(f3, sizeof f3);
    REQUIRE(v != NULL);
    CHECK_EQ_INT(v->kind, CTY_NUMBER);
    CHECK(v->is_int);
    CHECK_EQ_INT(v->i, 3);
    cty_free(v);
}

TEST(objects_lists_and_maps_roundtrip)
{
    cty_value *o = cty_map();
    cty_set(o, "name", cty_str("cache"));
    cty_set(o, "memory", cty_unknown());
    cty_set(o, "snapshot_cron", cty_null());
    cty_value *labels = cty_map();
    cty_set(labels, "a", cty_str("1"));
    cty_set(labels, "b", cty_str("2"));
    cty_set(o, "labels", labels);
    cty_value *l = cty_list();
    cty_push(l, cty_int(1));
    cty_push(l, cty_int(2));
    cty_set(o, "nodes", l);
    buf b;
    buf_init(&b);
    cty_value *back = roundtrip(o, &b);
    REQUIRE(back != NULL);
    CHECK(cty_equal(back, o));
    CHECK(!cty_is_known(back));
    CHECK(cty_get_unknown(back, "memory"));
    CHECK_EQ_STR(cty_get_str(back, "name"), "cache");
    CHECK(cty_is_null(cty_get(back, "snapshot_cron")));
    cty_free(back);
    cty_free(o);
    buf_free(&b);
}

TEST(map_equality_ignores_order)
{
    cty_value *a = cty_map(), *b = cty_map();
    cty_set(a, "x", cty_str("1"));
    cty_set(a, "y", cty_str("2"));
    cty_set(b, "y", cty_str("2"));
    cty_set(b, "x", cty_str("1"));
    CHECK(cty_equal(a, b));
    cty_set(b, "x", cty_str("3")); /* replaces */
    CHECK_EQ_INT(b->n, 2);
    CHECK(!cty_equal(a, b));
    cty_free(a);
    cty_free(b);
}

TEST(malformed_msgpack_is_refused)
{
    static const uint8_t truncated[] = {0x82, 0xa4, 'n', 'a'};
    CHECK(cty_decode_msgpack(truncated, sizeof truncated) == NULL);
    static const uint8_t int_key[] = {0x81, 0x01, 0x02}; /* object keys are strings */
    CHECK(cty_decode_msgpack(int_key, sizeof int_key) == NULL);
    cty_value *empty = cty_decode_msgpack(NULL, 0); /* an absent DynamicValue is null */
    REQUIRE(empty != NULL);
    CHECK(cty_is_null(empty));
    cty_free(empty);
}

TEST(deep_nesting_is_refused)
{
    enum { DEPTH = 1000 };
    uint8_t deep[DEPTH + 1];
    memset(deep, 0x91, DEPTH); /* arrays of one element, nested */
    deep[DEPTH] = 0xc0;
    CHECK(cty_decode_msgpack(deep, sizeof deep) == NULL);
}

TEST(json_state_to_values)
{
    json_error_t err;
    json_t *j = json_loads("{\"id\":\"ins_1\",\"memory_bytes\":1073741824,\"appendonly\":false,"
                           "\"labels\":{\"a\":\"1\"},\"snapshot_cron\":null}",
                           0, &err);
    REQUIRE(j != NULL);
    cty_value *v = cty_from_json(j);
    int64_t bytes = 0;
    bool aof = true;
    CHECK(cty_get_int(v, "memory_bytes", &bytes));
    CHECK_EQ_INT(bytes, 1073741824);
    CHECK(cty_get_bool(v, "appendonly", &aof));
    CHECK(!aof);
    CHECK_EQ_STR(cty_get_str(cty_get(v, "labels"), "a"), "1");
    CHECK(cty_is_null(cty_get(v, "snapshot_cron")));
    cty_free(v);
    json_decref(j);
}

static const tf_attr inner_attrs[] = {
    {"port", &TF_NUMBER, 0, NULL},
    {NULL, NULL, 0, NULL},
};
static const tf_type inner_type = {TY_OBJECT, NULL, inner_attrs};
static const tf_type inner_list = {TY_LIST, &inner_type, NULL};
static const tf_attr outer_attrs[] = {
    {"id", &TF_STRING, ATTR_COMPUTED, NULL},
    {"labels", &TF_STRING_MAP, ATTR_OPTIONAL, NULL},
    {"nodes", &inner_list, ATTR_COMPUTED, NULL},
    {NULL, NULL, 0, NULL},
};
static const tf_attr block_attrs[] = {
    {"create", &TF_STRING, ATTR_OPTIONAL, NULL},
    {NULL, NULL, 0, NULL},
};
static const tf_block outer_blocks[] = {
    {"timeouts", block_attrs, NULL},
    {NULL, NULL, NULL},
};
static const tf_schema outer = {0, NULL, outer_attrs, outer_blocks};

TEST(schema_types_are_json)
{
    Tfplugin6__Schema *p = schema_proto(&outer);
    REQUIRE(p != NULL && p->block != NULL);
    REQUIRE(p->block->n_attributes == 3);
    Tfplugin6__Schema__Attribute *a = p->block->attributes[1];
    CHECK_EQ_MEM(a->type.data, a->type.len, "[\"map\",\"string\"]", 16);
    a = p->block->attributes[2];
    const char *want = "[\"list\",[\"object\",{\"port\":\"number\"}]]";
    CHECK_EQ_MEM(a->type.data, a->type.len, want, strlen(want));
    CHECK(p->block->attributes[0]->computed && !p->block->attributes[0]->optional);
    REQUIRE(p->block->n_block_types == 1);
    CHECK_EQ_STR(p->block->block_types[0]->type_name, "timeouts");
    CHECK_EQ_INT(p->block->block_types[0]->nesting,
                 TFPLUGIN6__SCHEMA__NESTED_BLOCK__NESTING_MODE__SINGLE);
    schema_proto_free(p);
}

TEST(conform_gives_every_attribute)
{
    cty_value *v = cty_map();
    cty_set(v, "id", cty_str("x"));
    cty_set(v, "stale", cty_str("dropped"));
    cty_value *nodes = cty_list();
    cty_value *n = cty_map();
    cty_set(n, "port", cty_int(7000));
    cty_set(n, "pid", cty_int(42));
    cty_push(nodes, n);
    cty_set(v, "nodes", nodes);
    cty_value *c = schema_conform(&outer, v);
    CHECK_EQ_INT(c->n, 4); /* id, labels, nodes, timeouts */
    CHECK(cty_get(c, "stale") == NULL);
    CHECK(cty_get(c, "labels") != NULL && cty_is_null(cty_get(c, "labels")));
    CHECK(cty_is_null(cty_get(c, "timeouts")));
    const cty_value *node = cty_get(c, "nodes")->items[0];
    CHECK_EQ_INT(node->n, 1); /* pid is not in the node's type */
    cty_free(c);
    cty_free(v);
    cty_value *nullobj = schema_null_object(&outer);
    CHECK_EQ_INT(nullobj->n, 4);
    cty_free(nullobj);
}

TEST(sizes_as_the_service_reads_them)
{
    CHECK_EQ_INT(size_parse("1gb"), 1073741824LL);
    CHECK_EQ_INT(size_parse("1024mb"), 1073741824LL);
    CHECK_EQ_INT(size_parse("1g"), 1000000000LL);
    CHECK_EQ_INT(size_parse("64MB"), 67108864LL);
    CHECK_EQ_INT(size_parse("12345"), 12345);
    CHECK_EQ_INT(size_parse("lots"), -1);
    CHECK_EQ_INT(size_parse(""), -1);
    CHECK_EQ_INT(size_parse(NULL), -1);
}

TEST(durations)
{
    CHECK_EQ_INT(duration_parse_ms("90s"), 90000);
    CHECK_EQ_INT(duration_parse_ms("20m"), 1200000);
    CHECK_EQ_INT(duration_parse_ms("1h30m"), 5400000);
    CHECK_EQ_INT(duration_parse_ms("250ms"), 250);
    CHECK_EQ_INT(duration_parse_ms("10"), -1);
    CHECK_EQ_INT(duration_parse_ms("1d"), -1);
    CHECK_EQ_INT(duration_parse_ms(""), -1);
}

TEST(names)
{
    CHECK(name_valid("cache"));
    CHECK(name_valid("a-1"));
    CHECK(!name_valid("-a"));
    CHECK(!name_valid("Bad_Name"));
    CHECK(!name_valid(""));
}

int main(void)
{
    RUN_TEST(unknown_is_extension_type_0);
    RUN_TEST(refined_unknown_decodes_as_unknown);
    RUN_TEST(null_and_scalars);
    RUN_TEST(whole_floats_are_integers);
    RUN_TEST(objects_lists_and_maps_roundtrip);
    RUN_TEST(map_equality_ignores_order);
    RUN_TEST(malformed_msgpack_is_refused);
    RUN_TEST(deep_nesting_is_refused);
    RUN_TEST(json_state_to_values);
    RUN_TEST(schema_types_are_json);
    RUN_TEST(conform_gives_every_attribute);
    RUN_TEST(sizes_as_the_service_reads_them);
    RUN_TEST(durations);
    RUN_TEST(names);
    TEST_MAIN_END();
}
