/* Unit tests of the RESP request parser (resp.c): multibulk and inline requests, every protocol
 * error with Redis's exact text, input fed in every possible split down to one byte at a time,
 * pipelines, the limits (bulk length, argument count, inline line and count-line sizes), and
 * inline quoting with Redis's sdssplitargs rules. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "resp.h"
#include "testing.h"

#define LIM_BULK (512LL * 1024 * 1024) /* proto-max-bulk-len default */
#define LIM_MULTIBULK (1024LL * 1024)  /* max-multibulk-len default */
#define LIM_INLINE (64 * 1024)         /* PROTO_INLINE_MAX_SIZE */
#define MAX_ARGS 64                    /* arguments a test request may have */
#define MANY_INLINE_ARGS 3000          /* more than the parser's first inline reservation */
#define BIG_BULK_LEN 100000

static const resp_limits limits = {
    .max_bulk_len = LIM_BULK,
    .max_multibulk = LIM_MULTIBULK,
    .max_inline = LIM_INLINE,
};

/* One parsed request, with its arguments copied out. */
typedef struct parsed {
    int rc;
    const char *err;
    int argc;
    char *argv[MAX_ARGS];
    size_t len[MAX_ARGS];
} parsed;

typedef struct harness {
    resp_parser p;
    buf inline_args;
} harness;

static void h_init(harness *h)
{
    resp_parser_init(&h->p);
    buf_init(&h->inline_args);
}

static void h_free(harness *h)
{
    resp_parser_free(&h->p);
    buf_free(&h->inline_args);
}

static void parsed_free(parsed *r)
{
    for (int i = 0; i < r->argc && i < MAX_ARGS; i++)
        free(r->argv[i]);
    memset(r, 0, sizeof(*r));
}

/* Parses from data[0..len) with the harness's state; copies the arguments of a complete
 * request and moves the parser to the next one. */
static parsed h_parse(harness *h, const char *data, size_t len, const resp_limits *lim)
{
    parsed r;
    memset(&r, 0, sizeof(r));
    r.rc = resp_parse(&h->p, data, len, lim, &h->inline_args, &r.err);
    if (r.rc != RESP_OK)
        return r;
    r.argc = h->p.argc;
    const char *base = h->p.type == 1 ? data : h->inline_args.data;
    for (int i = 0; i < r.argc && i < MAX_ARGS; i++) {
        size_t off = h->p.arg_off[2 * i], n = h->p.arg_off[2 * i + 1];
        r.argv[i] = malloc(n + 1);
        memcpy(r.argv[i], base + off, n);
        r.argv[i][n] = '\0';
        r.len[i] = n;
    }
    resp_parser_next(&h->p);
    return r;
}

/* Parses a whole input that holds exactly one request. */
static parsed parse_one(const char *data, size_t len)
{
    harness h;
    h_init(&h);
    parsed r = h_parse(&h, data, len, &limits);
    h_free(&h);
    return r;
}

#define PARSE_STR(s) parse_one((s), strlen(s))

static void check_error(const char *input, size_t len, const char *want, int line)
{
    parsed r = parse_one(input, len);
    if (r.rc != RESP_ERROR || !r.err || strcmp(r.err, want) != 0) {
        testing_fail_at(__FILE__, line);
        fprintf(stderr, "input ");
        testing_print_mem(input, len);
        fprintf(stderr, ": rc %d, error \"%s\", want \"%s\"\n", r.rc, r.err ? r.err : "(none)",
                want);
    }
    parsed_free(&r);
}

#define CHECK_ERROR(s, want) check_error((s), strlen(s), (want), __LINE__)

#define ERR_MBULK "ERR Protocol error: invalid multibulk length"
#define ERR_BULK "ERR Protocol error: invalid bulk length"
#define ERR_INLINE_BIG "ERR Protocol error: too big inline request"
#define ERR_MBULK_BIG "ERR Protocol error: too big mbulk count string"
#define ERR_BULK_BIG "ERR Protocol error: too big bulk count string"
#define ERR_QUOTES "ERR Protocol error: unbalanced quotes in request"

/* ---- well-formed requests ---------------------------------------------------------------- */

TEST(multibulk_request)
{
    parsed r = PARSE_STR("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n");
    CHECK_EQ_INT(r.rc, RESP_OK);
    REQUIRE(r.argc == 3);
    CHECK_EQ_STR(r.argv[0], "SET");
    CHECK_EQ_STR(r.argv[1], "key");
    CHECK_EQ_STR(r.argv[2], "value");
    parsed_free(&r);
}

TEST(binary_bulk_keeps_crlf_and_nul)
{
    const char in[] = "*2\r\n$4\r\nECHO\r\n$6\r\na\r\n\0b\x01\r\n";
    parsed r = parse_one(in, sizeof(in) - 1);
    CHECK_EQ_INT(r.rc, RESP_OK);
    REQUIRE(r.argc == 2);
    CHECK_EQ_MEM(r.argv[1], r.len[1], "a\r\n\0b\x01", 6);
    parsed_free(&r);
}

TEST(empty_bulk_argument)
{
    parsed r = PARSE_STR("*2\r\n$4\r\nECHO\r\n$0\r\n\r\n");
    CHECK_EQ_INT(r.rc, RESP_OK);
    REQUIRE(r.argc == 2);
    CHECK_EQ_INT(r.len[1], 0);
    parsed_free(&r);
}

TEST(empty_requests_complete_with_no_arguments)
{
    const char *inputs[] = {"*0\r\n", "*-1\r\n", "*-5\r\n", "\r\n", "\n", "   \r\n"};
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        parsed r = PARSE_STR(inputs[i]);
        CHECK_EQ_INT(r.rc, RESP_OK);
        CHECK_EQ_INT(r.argc, 0);
        parsed_free(&r);
    }
}

TEST(bytes_after_a_bulk_are_skipped_unchecked)
{
    /* Redis skips the two bytes after a bulk without looking at them. */
    parsed r = PARSE_STR("*1\r\n$4\r\nPINGxx");
    CHECK_EQ_INT(r.rc, RESP_OK);
    REQUIRE(r.argc == 1);
    CHECK_EQ_STR(r.argv[0], "PING");
    parsed_free(&r);
}

TEST(inline_request)
{
    parsed r = PARSE_STR("SET key value\r\n");
    CHECK_EQ_INT(r.rc, RESP_OK);
    REQUIRE(r.argc == 3);
    CHECK_EQ_STR(r.argv[0], "SET");
    CHECK_EQ_STR(r.argv[2], "value");
    parsed_free(&r);

    r = PARSE_STR("PING\n"); /* a bare \n ends a line too */
    CHECK_EQ_INT(r.rc, RESP_OK);
    CHECK_EQ_INT(r.argc, 1);
    parsed_free(&r);

    r = PARSE_STR("  \t PING \t \r\n");
    CHECK_EQ_INT(r.rc, RESP_OK);
    REQUIRE(r.argc == 1);
    CHECK_EQ_STR(r.argv[0], "PING");
    parsed_free(&r);

    r = PARSE_STR("ECHO a\rb\r\n"); /* a lone \r separates arguments */
    CHECK_EQ_INT(r.rc, RESP_OK);
    CHECK_EQ_INT(r.argc, 3);
    parsed_free(&r);
}

TEST(limits_are_inclusive)
{
    resp_limits small = limits;
    small.max_bulk_len = 5;
    small.max_multibulk = 2;
    harness h;
    h_init(&h);
    const char ok[] = "*2\r\n$5\r\nhello\r\n$1\r\nx\r\n";
    parsed r = h_parse(&h, ok, sizeof(ok) - 1, &small);
    CHECK_EQ_INT(r.rc, RESP_OK);
    CHECK_EQ_INT(r.argc, 2);
    parsed_free(&r);
    h_free(&h);

    h_init(&h);
    const char big[] = "*1\r\n$6\r\nhello!\r\n";
    r = h_parse(&h, big, sizeof(big) - 1, &small);
    CHECK_EQ_INT(r.rc, RESP_ERROR);
    CHECK_EQ_STR(r.err, ERR_BULK);
    h_free(&h);

    h_init(&h);
    const char many[] = "*3\r\n";
    r = h_parse(&h, many, sizeof(many) - 1, &small);
    CHECK_EQ_INT(r.rc, RESP_ERROR);
    CHECK_EQ_STR(r.err, ERR_MBULK);
    h_free(&h);
}

/* ---- protocol errors --------------------------------------------------------------------- */

TEST(invalid_multibulk_length)
{
    CHECK_ERROR("*abc\r\n", ERR_MBULK);
    CHECK_ERROR("*\r\n", ERR_MBULK);
    CHECK_ERROR("*+1\r\n", ERR_MBULK);
    CHECK_ERROR("* 1\r\n", ERR_MBULK);
    CHECK_ERROR("*01\r\n", ERR_MBULK);
    CHECK_ERROR("*-0\r\n", ERR_MBULK);
    CHECK_ERROR("*1x\r\n", ERR_MBULK);
    CHECK_ERROR("*99999999\r\n", ERR_MBULK);            /* over max-multibulk-len */
    CHECK_ERROR("*9223372036854775808\r\n", ERR_MBULK); /* over LLONG_MAX */
    CHECK_ERROR("*99999999999999999999\r\n", ERR_MBULK);
    CHECK_ERROR("*1\n$4\r\nPING\r\n", ERR_MBULK); /* the line runs to the first \r */
}

TEST(invalid_bulk_length)
{
    CHECK_ERROR("*1\r\n$-1\r\n", ERR_BULK);
    CHECK_ERROR("*1\r\n$-2\r\n", ERR_BULK);
    CHECK_ERROR("*1\r\n$-0\r\n", ERR_BULK);
    CHECK_ERROR("*1\r\n$abc\r\n", ERR_BULK);
    CHECK_ERROR("*1\r\n$\r\n", ERR_BULK);
    CHECK_ERROR("*1\r\n$04\r\nPING\r\n", ERR_BULK);
    CHECK_ERROR("*1\r\n$+4\r\nPING\r\n", ERR_BULK);
    CHECK_ERROR("*1\r\n$ 4\r\nPING\r\n", ERR_BULK);
    CHECK_ERROR("*1\r\n$9999999999999\r\n", ERR_BULK); /* over proto-max-bulk-len */
    CHECK_ERROR("*1\r\n$9223372036854775807\r\n", ERR_BULK);
    CHECK_ERROR("*1\r\n$9223372036854775808\r\n", ERR_BULK);
    CHECK_ERROR("*1\r\n$1000000000000000000000\r\n", ERR_BULK);
    CHECK_ERROR("*1\r\n$4\nPING\r\n", ERR_BULK);
}

TEST(expected_dollar)
{
    CHECK_ERROR("*1\r\n+PING\r\n", "ERR Protocol error: expected '$', got '+'");
    CHECK_ERROR("*2\r\n$4\r\nECHO\r\n:1\r\n", "ERR Protocol error: expected '$', got ':'");
    CHECK_ERROR("*1\r\nPING\r\n", "ERR Protocol error: expected '$', got 'P'");
}

TEST(too_big_count_lines)
{
    size_t n = LIM_INLINE + 16;
    char *in = malloc(n + 16);
    in[0] = '*';
    memset(in + 1, '1', n);
    check_error(in, n + 1, ERR_MBULK_BIG, __LINE__);

    memcpy(in, "*1\r\n$", 5);
    memset(in + 5, '1', n);
    check_error(in, n + 5, ERR_BULK_BIG, __LINE__);
    free(in);
}

TEST(too_big_inline)
{
    size_t n = LIM_INLINE + 16;
    char *in = malloc(n + 2);
    memset(in, 'x', n);
    check_error(in, n, ERR_INLINE_BIG, __LINE__); /* no newline yet */
    in[n] = '\n';
    check_error(in, n + 1, ERR_INLINE_BIG, __LINE__); /* newline present */
    free(in);
}

TEST(unbalanced_quotes)
{
    CHECK_ERROR("ECHO \"abc\r\n", ERR_QUOTES);
    CHECK_ERROR("ECHO 'abc\r\n", ERR_QUOTES);
    CHECK_ERROR("ECHO \"abc\"d\r\n", ERR_QUOTES); /* closing quote must end the argument */
    CHECK_ERROR("ECHO 'abc'd\r\n", ERR_QUOTES);
    CHECK_ERROR("ECHO \"abc\\\r\n", ERR_QUOTES); /* a backslash at the end escapes nothing */
}

TEST(error_after_good_requests_in_a_pipeline)
{
    const char in[] = "*1\r\n$4\r\nPING\r\nECHO hi\r\n*1\r\n$-1\r\n";
    harness h;
    h_init(&h);
    parsed r = h_parse(&h, in, sizeof(in) - 1, &limits);
    CHECK_EQ_INT(r.rc, RESP_OK);
    CHECK_EQ_INT(r.argc, 1);
    parsed_free(&r);
    r = h_parse(&h, in, sizeof(in) - 1, &limits);
    CHECK_EQ_INT(r.rc, RESP_OK);
    CHECK_EQ_INT(r.argc, 2);
    parsed_free(&r);
    r = h_parse(&h, in, sizeof(in) - 1, &limits);
    CHECK_EQ_INT(r.rc, RESP_ERROR);
    CHECK_EQ_STR(r.err, ERR_BULK);
    h_free(&h);
}

/* ---- incremental input ------------------------------------------------------------------- */

/* Feeds `in` growing one byte at a time (the parser always sees everything not consumed yet)
 * and collects every complete request. Returns how many; stops at an error. */
static int feed_bytewise(const char *in, size_t len, parsed *out, int max, int *error)
{
    harness h;
    h_init(&h);
    int n = 0;
    *error = 0;
    for (size_t avail = 1; avail <= len && n < max; avail++) {
        for (;;) {
            parsed r = h_parse(&h, in, avail, &limits);
            if (r.rc == RESP_INCOMPLETE)
                break;
            if (r.rc == RESP_ERROR) {
                *error = 1;
                h_free(&h);
                return n;
            }
            out[n++] = r;
            if (n == max)
                break;
        }
    }
    h_free(&h);
    return n;
}

TEST(byte_by_byte_pipeline)
{
    const char in[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n0123456789\r\n"
                      "GET \"k\" 'x y'\r\n"
                      "*0\r\n"
                      "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"
                      "\r\n"
                      "PING\n";
    parsed got[8];
    int error;
    int n = feed_bytewise(in, sizeof(in) - 1, got, 8, &error);
    CHECK_EQ_INT(error, 0);
    REQUIRE(n == 6);
    CHECK_EQ_INT(got[0].argc, 3);
    CHECK_EQ_STR(got[0].argv[2], "0123456789");
    CHECK_EQ_INT(got[1].argc, 3);
    CHECK_EQ_STR(got[1].argv[2], "x y");
    CHECK_EQ_INT(got[2].argc, 0);
    CHECK_EQ_INT(got[3].argc, 2);
    CHECK_EQ_INT(got[3].len[1], 0);
    CHECK_EQ_INT(got[4].argc, 0);
    CHECK_EQ_INT(got[5].argc, 1);
    CHECK_EQ_STR(got[5].argv[0], "PING");
    for (int i = 0; i < n; i++)
        parsed_free(&got[i]);
}

TEST(byte_by_byte_errors_are_the_same)
{
    static const struct {
        const char *in;
        const char *err;
    } cases[] = {
        {"*1\r\n$-2\r\n", ERR_BULK},
        {"*abc\r\n", ERR_MBULK},
        {"*1\r\n+x\r\n", "ERR Protocol error: expected '$', got '+'"},
        {"ECHO \"abc\r\n", ERR_QUOTES},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        harness h;
        h_init(&h);
        size_t len = strlen(cases[i].in);
        parsed r = {0};
        for (size_t avail = 1; avail <= len; avail++) {
            r = h_parse(&h, cases[i].in, avail, &limits);
            if (r.rc != RESP_INCOMPLETE)
                break;
        }
        CHECK_EQ_INT(r.rc, RESP_ERROR);
        if (r.err)
            CHECK_EQ_STR(r.err, cases[i].err);
        h_free(&h);
    }
}

TEST(every_split_point)
{
    /* Two chunks, split anywhere: the same request comes out. */
    const char in[] = "*3\r\n$4\r\nHSET\r\n$2\r\nab\r\n$5\r\nv\r\nxy\r\n";
    size_t len = sizeof(in) - 1;
    for (size_t cut = 0; cut <= len; cut++) {
        harness h;
        h_init(&h);
        parsed r = h_parse(&h, in, cut, &limits);
        if (cut < len)
            CHECK_EQ_INT(r.rc, RESP_INCOMPLETE);
        else
            CHECK_EQ_INT(r.rc, RESP_OK);
        if (r.rc != RESP_OK)
            r = h_parse(&h, in, len, &limits);
        CHECK_EQ_INT(r.rc, RESP_OK);
        if (r.rc == RESP_OK && r.argc == 3)
            CHECK_EQ_MEM(r.argv[2], r.len[2], "v\r\nxy", 5);
        parsed_free(&r);
        h_free(&h);
    }
}

TEST(finished_arguments_are_not_reread)
{
    /* After the first argument is complete, its offset stays while the rest arrives. */
    const char in[] = "*2\r\n$3\r\nabc\r\n$3\r\ndef\r\n";
    harness h;
    h_init(&h);
    parsed r = h_parse(&h, in, 15, &limits);
    CHECK_EQ_INT(r.rc, RESP_INCOMPLETE);
    CHECK_EQ_INT(h.p.argc, 1);
    size_t off0 = h.p.arg_off[0];
    r = h_parse(&h, in, sizeof(in) - 1, &limits);
    CHECK_EQ_INT(r.rc, RESP_OK);
    CHECK_EQ_INT(off0, 8);
    parsed_free(&r);
    h_free(&h);
}

TEST(pending_bulk_size)
{
    char hdr[64];
    int n = snprintf(hdr, sizeof(hdr), "*2\r\n$3\r\nSET\r\n$%d\r\n", BIG_BULK_LEN);
    harness h;
    h_init(&h);
    parsed r = h_parse(&h, hdr, (size_t)n, &limits);
    CHECK_EQ_INT(r.rc, RESP_INCOMPLETE);
    /* The buffer should hold the header, the value and its \r\n. */
    CHECK_EQ_INT(resp_pending_bulk(&h.p, (size_t)n), (size_t)n + BIG_BULK_LEN + 2);
    h_free(&h);

    h_init(&h);
    CHECK_EQ_INT(resp_pending_bulk(&h.p, 0), 0);
    h_free(&h);
}

TEST(rewind_parses_again)
{
    const char in[] = "*1\r\n$4\r\nPING\r\n";
    harness h;
    h_init(&h);
    CHECK_EQ_INT(resp_parse(&h.p, in, sizeof(in) - 1, &limits, &h.inline_args, &(const char *){0}),
                 RESP_OK);
    resp_parser_rewind(&h.p);
    parsed r = h_parse(&h, in, sizeof(in) - 1, &limits);
    CHECK_EQ_INT(r.rc, RESP_OK);
    CHECK_EQ_INT(r.argc, 1);
    parsed_free(&r);
    h_free(&h);
}

/* ---- inline quoting ---------------------------------------------------------------------- */

typedef struct split {
    int argc;
    buf out;
    size_t offs[2 * MAX_ARGS];
} split;

static int split_str(split *s, const char *line)
{
    buf_init(&s->out);
    s->argc = resp_split_inline(line, strlen(line), &s->out, s->offs, MAX_ARGS);
    return s->argc;
}

static const char *split_arg(const split *s, int i, size_t *len)
{
    *len = s->offs[2 * i + 1];
    return s->out.data + s->offs[2 * i];
}

#define CHECK_ARG(s, i, lit)                                                                       \
    do {                                                                                           \
        size_t l_;                                                                                 \
        const char *a_ = split_arg((s), (i), &l_);                                                 \
        CHECK_EQ_MEM(a_, l_, (lit), sizeof(lit) - 1);                                              \
    } while (0)

TEST(inline_double_quotes_and_escapes)
{
    split s;
    REQUIRE(split_str(&s, "SET \"a b\" \"\\x41\\x4a\\n\\r\\t\\b\\a\\\\\\\"\\z\"") == 3);
    CHECK_ARG(&s, 1, "a b");
    CHECK_ARG(&s, 2, "AJ\n\r\t\b\a\\\"z");
    buf_free(&s.out);

    REQUIRE(split_str(&s, "ECHO \"\\xzz\" \"\"") == 3); /* not hex: the characters stay */
    CHECK_ARG(&s, 1, "xzz");
    CHECK_ARG(&s, 2, "");
    buf_free(&s.out);
}

TEST(inline_single_quotes)
{
    split s;
    REQUIRE(split_str(&s, "ECHO 'it\\'s' 'a\\nb' ''") == 4);
    CHECK_ARG(&s, 1, "it's");
    CHECK_ARG(&s, 2, "a\\nb"); /* no other escapes inside single quotes */
    CHECK_ARG(&s, 3, "");
    buf_free(&s.out);
}

TEST(inline_quotes_join_a_word)
{
    split s;
    REQUIRE(split_str(&s, "ECHO a\"b c\"") == 2); /* a quote inside a word opens a quote */
    CHECK_ARG(&s, 1, "ab c");
    buf_free(&s.out);
}

TEST(inline_separators)
{
    split s;
    REQUIRE(split_str(&s, "a\tb  c\r\nd") == 4);
    CHECK_ARG(&s, 3, "d");
    buf_free(&s.out);
    REQUIRE(split_str(&s, "") == 0);
    buf_free(&s.out);
    REQUIRE(split_str(&s, " \t ") == 0);
    buf_free(&s.out);
}

TEST(inline_unbalanced_returns_minus_one)
{
    split s;
    CHECK_EQ_INT(split_str(&s, "\"abc"), -1);
    buf_free(&s.out);
    CHECK_EQ_INT(split_str(&s, "'abc"), -1);
    buf_free(&s.out);
    CHECK_EQ_INT(split_str(&s, "\"a\"b"), -1);
    buf_free(&s.out);
}

TEST(inline_too_many_for_the_room_returns_minus_two)
{
    buf out;
    buf_init(&out);
    size_t offs[4];
    CHECK_EQ_INT(resp_split_inline("a b c", 5, &out, offs, 2), -2);
    buf_free(&out);
}

TEST(inline_with_many_arguments)
{
    /* More arguments than the parser reserves at first: it grows and keeps all of them. */
    buf line;
    buf_init(&line);
    buf_append_str(&line, "EXISTS");
    for (int i = 0; i < MANY_INLINE_ARGS; i++)
        buf_printf(&line, " k%d", i);
    buf_append_str(&line, "\r\n");
    harness h;
    h_init(&h);
    const char *err = NULL;
    int rc = resp_parse(&h.p, line.data, line.len, &limits, &h.inline_args, &err);
    CHECK_EQ_INT(rc, RESP_OK);
    CHECK_EQ_INT(h.p.argc, MANY_INLINE_ARGS + 1);
    size_t last_off = h.p.arg_off[2 * MANY_INLINE_ARGS];
    size_t last_len = h.p.arg_off[2 * MANY_INLINE_ARGS + 1];
    char want[16];
    int wl = snprintf(want, sizeof(want), "k%d", MANY_INLINE_ARGS - 1);
    CHECK_EQ_MEM(h.inline_args.data + last_off, last_len, want, (size_t)wl);
    h_free(&h);
    buf_free(&line);
}

int main(void)
{
    RUN_TEST(multibulk_request);
    RUN_TEST(binary_bulk_keeps_crlf_and_nul);
    RUN_TEST(empty_bulk_argument);
    RUN_TEST(empty_requests_complete_with_no_arguments);
    RUN_TEST(bytes_after_a_bulk_are_skipped_unchecked);
    RUN_TEST(inline_request);
    RUN_TEST(limits_are_inclusive);
    RUN_TEST(invalid_multibulk_length);
    RUN_TEST(invalid_bulk_length);
    RUN_TEST(expected_dollar);
    RUN_TEST(too_big_count_lines);
    RUN_TEST(too_big_inline);
    RUN_TEST(unbalanced_quotes);
    RUN_TEST(error_after_good_requests_in_a_pipeline);
    RUN_TEST(byte_by_byte_pipeline);
    RUN_TEST(byte_by_byte_errors_are_the_same);
    RUN_TEST(every_split_point);
    RUN_TEST(finished_arguments_are_not_reread);
    RUN_TEST(pending_bulk_size);
    RUN_TEST(rewind_parses_again);
    RUN_TEST(inline_double_quotes_and_escapes);
    RUN_TEST(inline_single_quotes);
    RUN_TEST(inline_quotes_join_a_word);
    RUN_TEST(inline_separators);
    RUN_TEST(inline_unbalanced_returns_minus_one);
    RUN_TEST(inline_too_many_for_the_room_returns_minus_two);
    RUN_TEST(inline_with_many_arguments);
    TEST_MAIN_END();
}
