/*
 * testing.h - the minimal assertion harness of dfly's C unit tests.
 *
 * A unit test file is one executable:
 *
 *     #include "testing.h"
 *
 *     TEST(parse_empty)
 *     {
 *         CHECK_EQ_INT(resp_parse("", 0, &msg), RESP_INCOMPLETE);
 *     }
 *
 *     int main(void)
 *     {
 *         RUN_TEST(parse_empty);
 *         TEST_MAIN_END();
 *     }
 *
 * A failed CHECK prints file:line with both values, marks the running test as
 * failed and lets it continue (like gtest's EXPECT_*), so one run shows every
 * failure. Use REQUIRE(cond) where going on would crash (e.g. a NULL pointer):
 * it fails the test and returns from it. TEST_MAIN_END() prints
 * "N passed, M failed" and returns 1 from main if any test failed.
 *
 * Single-threaded: the counters are plain globals, so call CHECK only from the
 * test's own thread.
 */
#ifndef DFLY_TESTING_H
#define DFLY_TESTING_H

#include <ctype.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int testing_passed;
static int testing_failed;
static int testing_current_failed; /* checks failed in the running test */
static const char *testing_current_name = "";

#define TEST(name) static void test_##name(void)

#define RUN_TEST(name)                                                                             \
    do {                                                                                           \
        testing_current_name = #name;                                                              \
        testing_current_failed = 0;                                                                \
        test_##name();                                                                             \
        if (testing_current_failed) {                                                              \
            testing_failed++;                                                                      \
            printf("FAIL %s\n", #name);                                                            \
        } else {                                                                                   \
            testing_passed++;                                                                      \
            printf("ok   %s\n", #name);                                                            \
        }                                                                                          \
        fflush(stdout);                                                                            \
    } while (0)

#define TEST_MAIN_END()                                                                            \
    do {                                                                                           \
        printf("%d passed, %d failed\n", testing_passed, testing_failed);                          \
        return testing_failed ? 1 : 0;                                                             \
    } while (0)

static inline void testing_fail_at(const char *file, int line)
{
    testing_current_failed++;
    fprintf(stderr, "%s:%d: in %s: ", file, line, testing_current_name);
}

/* Prints up to TESTING_MEM_SHOW bytes, escaping what is not printable. */
#define TESTING_MEM_SHOW 200

static inline void testing_print_mem(const void *p, size_t len)
{
    const unsigned char *s = p;
    size_t n = len < TESTING_MEM_SHOW ? len : TESTING_MEM_SHOW;

    if (p == NULL) {
        fputs("NULL", stderr);
        return;
    }
    fputc('"', stderr);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r')
            fputs("\\r", stderr);
        else if (s[i] == '\n')
            fputs("\\n", stderr);
        else if (s[i] == '"' || s[i] == '\\')
            fprintf(stderr, "\\%c", s[i]);
        else if (isprint(s[i]))
            fputc(s[i], stderr);
        else
            fprintf(stderr, "\\x%02x", s[i]);
    }
    fputc('"', stderr);
    if (n < len)
        fprintf(stderr, "... (%zu bytes)", len);
}

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            testing_fail_at(__FILE__, __LINE__);                                                   \
            fprintf(stderr, "CHECK(%s) failed\n", #cond);                                          \
        }                                                                                          \
    } while (0)

/* Like CHECK, but returns from the test function on failure. */
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            testing_fail_at(__FILE__, __LINE__);                                                   \
            fprintf(stderr, "REQUIRE(%s) failed\n", #cond);                                        \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        intmax_t testing_a_ = (intmax_t)(a);                                                       \
        intmax_t testing_b_ = (intmax_t)(b);                                                       \
        if (testing_a_ != testing_b_) {                                                            \
            testing_fail_at(__FILE__, __LINE__);                                                   \
            fprintf(stderr, "CHECK_EQ_INT(%s, %s) failed: %jd != %jd\n", #a, #b, testing_a_,       \
                    testing_b_);                                                                   \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *testing_a_ = (a);                                                              \
        const char *testing_b_ = (b);                                                              \
        if (testing_a_ == NULL || testing_b_ == NULL ? testing_a_ != testing_b_                    \
                                                     : strcmp(testing_a_, testing_b_) != 0) {      \
            testing_fail_at(__FILE__, __LINE__);                                                   \
            fprintf(stderr, "CHECK_EQ_STR(%s, %s) failed: ", #a, #b);                              \
            testing_print_mem(testing_a_, testing_a_ ? strlen(testing_a_) : 0);                    \
            fputs(" != ", stderr);                                                                 \
            testing_print_mem(testing_b_, testing_b_ ? strlen(testing_b_) : 0);                    \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_MEM(a, alen, b, blen)                                                             \
    do {                                                                                           \
        const void *testing_a_ = (a);                                                              \
        const void *testing_b_ = (b);                                                              \
        size_t testing_alen_ = (size_t)(alen);                                                     \
        size_t testing_blen_ = (size_t)(blen);                                                     \
        if (testing_alen_ != testing_blen_ ||                                                      \
            (testing_alen_ > 0 && memcmp(testing_a_, testing_b_, testing_alen_) != 0)) {           \
            testing_fail_at(__FILE__, __LINE__);                                                   \
            fprintf(stderr, "CHECK_EQ_MEM(%s, %s) failed: ", #a, #b);                              \
            testing_print_mem(testing_a_, testing_alen_);                                          \
            fputs(" != ", stderr);                                                                 \
            testing_print_mem(testing_b_, testing_blen_);                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

#endif /* DFLY_TESTING_H */
