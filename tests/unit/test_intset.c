/* intset: ordering, width upgrades, removal, validation, against a reference model. */
#include <stdlib.h>

#include "intset.h"
#include "testing.h"

#define MODEL_OPS 20000
#define MODEL_RANGE 3000

TEST(add_find_remove)
{
    intset *is = intset_new();
    int added, removed;
    is = intset_add(is, 5, &added);
    CHECK_EQ_INT(added, 1);
    is = intset_add(is, 5, &added);
    CHECK_EQ_INT(added, 0);
    is = intset_add(is, -3, &added);
    is = intset_add(is, 100, &added);
    CHECK_EQ_INT(intset_len(is), 3);
    CHECK_EQ_INT(intset_get(is, 0), -3);
    CHECK_EQ_INT(intset_get(is, 2), 100);
    CHECK(intset_find(is, 5));
    CHECK(!intset_find(is, 6));
    CHECK(!intset_find(is, INT64_MAX));
    is = intset_remove(is, 5, &removed);
    CHECK_EQ_INT(removed, 1);
    is = intset_remove(is, 5, &removed);
    CHECK_EQ_INT(removed, 0);
    is = intset_remove(is, INT64_MIN, &removed);
    CHECK_EQ_INT(removed, 0);
    CHECK_EQ_INT(intset_len(is), 2);
    CHECK(intset_validate(is, intset_bytes(is)));
    intset_free(is);
}

TEST(upgrades_keep_order)
{
    intset *is = intset_new();
    CHECK_EQ_INT(is->encoding, INTSET_ENC_INT16);
    is = intset_add(is, 10, NULL);
    is = intset_add(is, -10, NULL);
    is = intset_add(is, 70000, NULL);
    CHECK_EQ_INT(is->encoding, INTSET_ENC_INT32);
    is = intset_add(is, INT64_MIN, NULL);
    CHECK_EQ_INT(is->encoding, INTSET_ENC_INT64);
    is = intset_add(is, INT64_MAX, NULL);
    CHECK_EQ_INT(intset_len(is), 5);
    CHECK(intset_get(is, 0) == INT64_MIN);
    CHECK_EQ_INT(intset_get(is, 1), -10);
    CHECK_EQ_INT(intset_get(is, 2), 10);
    CHECK_EQ_INT(intset_get(is, 3), 70000);
    CHECK(intset_get(is, 4) == INT64_MAX);
    CHECK_EQ_INT(intset_bytes(is), sizeof(intset) + 5 * sizeof(int64_t));
    CHECK(intset_validate(is, intset_bytes(is)));
    /* Removing the wide values does not narrow the array. */
    is = intset_remove(is, INT64_MIN, NULL);
    is = intset_remove(is, INT64_MAX, NULL);
    CHECK_EQ_INT(is->encoding, INTSET_ENC_INT64);
    intset *copy = intset_dup(is);
    CHECK_EQ_INT(intset_len(copy), 3);
    CHECK_EQ_INT(intset_max(copy), 70000);
    CHECK_EQ_INT(intset_min(copy), -10);
    intset_free(copy);
    intset_free(is);
}

TEST(validate_rejects)
{
    intset *is = intset_new();
    is = intset_add(is, 1, NULL);
    is = intset_add(is, 2, NULL);
    CHECK(!intset_validate(is, intset_bytes(is) - 1));
    CHECK(!intset_validate(is, 3));
    int16_t v = 1;
    memcpy(is->contents + sizeof(int16_t), &v, sizeof(v)); /* a duplicate */
    CHECK(!intset_validate(is, intset_bytes(is)));
    is->encoding = 3;
    CHECK(!intset_validate(is, intset_bytes(is)));
    is->encoding = INTSET_ENC_INT16;
    intset_free(is);
}

/* Random adds and removes against a presence bitmap. */
TEST(model)
{
    static unsigned char present[2 * MODEL_RANGE + 1];
    memset(present, 0, sizeof(present));
    intset *is = intset_new();
    uint32_t n = 0;
    srand(42);
    for (int i = 0; i < MODEL_OPS; i++) {
        int64_t v = (rand() % (2 * MODEL_RANGE + 1)) - MODEL_RANGE;
        int changed;
        if (rand() % 3) {
            is = intset_add(is, v * 1000003, &changed);
            CHECK_EQ_INT(changed, !present[v + MODEL_RANGE]);
            present[v + MODEL_RANGE] = 1;
        } else {
            is = intset_remove(is, v * 1000003, &changed);
            CHECK_EQ_INT(changed, present[v + MODEL_RANGE]);
            present[v + MODEL_RANGE] = 0;
        }
    }
    for (int v = -MODEL_RANGE; v <= MODEL_RANGE; v++) {
        CHECK_EQ_INT(intset_find(is, (int64_t)v * 1000003), present[v + MODEL_RANGE]);
        n += present[v + MODEL_RANGE];
    }
    CHECK_EQ_INT(intset_len(is), n);
    CHECK(intset_validate(is, intset_bytes(is)));
    intset_free(is);
}

int main(void)
{
    RUN_TEST(add_find_remove);
    RUN_TEST(upgrades_keep_order);
    RUN_TEST(validate_rejects);
    RUN_TEST(model);
    TEST_MAIN_END();
}
