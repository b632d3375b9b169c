/* common/flags.c and common/buf.c: the precedence of defaults, config file, environment and
 * command line; value parsing with Redis's units; and the error messages a user sees. */
#include <stdlib.h>
#include <unistd.h>

#include "buf.h"
#include "flags.h"
#include "testing.h"

static long long port, mem;
static char *name;
static int verbose;

static const flag_def defs[] = {
    {"port", FLAG_INT, &port, "6379", "port", 0, 65535},
    {"maxmemory", FLAG_BYTES, &mem, "0", "limit"},
    {"log_name", FLAG_STR, &name, "dfly", "a name"},
    {"verbose", FLAG_BOOL, &verbose, "no", "chatty"},
    {NULL},
};

static int init(int argc, char **argv, char *err)
{
    return flags_init(defs, argc, argv, "TESTFLAGS_", err, FLAGS_ERR_MAX);
}

static char *write_conf(const char *text)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/dfly-test-flags-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    if (write(fd, text, strlen(text)) < 0)
        path[0] = '\0';
    close(fd);
    return path;
}

TEST(defaults_apply)
{
    char err[FLAGS_ERR_MAX];
    char *argv[] = {"prog"};
    CHECK_EQ_INT(init(1, argv, err), FLAGS_OK);
    CHECK_EQ_INT(port, 6379);
    CHECK_EQ_STR(name, "dfly");
    CHECK_EQ_INT(verbose, 0);
}

TEST(argv_forms)
{
    char err[FLAGS_ERR_MAX];
    char *argv[] = {"prog", "--port=7000", "--log-name", "x y", "--verbose", "--maxmemory", "4gb"};
    CHECK_EQ_INT(init(7, argv, err), FLAGS_OK);
    CHECK_EQ_INT(port, 7000);
    CHECK_EQ_STR(name, "x y");
    CHECK_EQ_INT(verbose, 1);
    CHECK_EQ_INT(mem, 4LL << 30);
}

TEST(precedence_file_env_argv)
{
    char err[FLAGS_ERR_MAX];
    char *path = write_conf("# comment\nport 7100\nlog-name \"from file\"\nmaxmemory 100mb\n");
    REQUIRE(path && path[0]);
    setenv("TESTFLAGS_PORT", "7200", 1);
    char *argv[] = {"prog", path, "--maxmemory=1k"};
    CHECK_EQ_INT(init(3, argv, err), FLAGS_OK);
    CHECK_EQ_INT(port, 7200);        /* env beats file */
    CHECK_EQ_STR(name, "from file"); /* file beats default */
    CHECK_EQ_INT(mem, 1000);         /* argv beats file */
    unsetenv("TESTFLAGS_PORT");
    unlink(path);
}

TEST(errors_name_the_flag)
{
    char err[FLAGS_ERR_MAX];
    char *a1[] = {"prog", "--port=70000"};
    CHECK_EQ_INT(init(2, a1, err), FLAGS_ERROR);
    CHECK(strstr(err, "--port must be between 0 and 65535") != NULL);
    char *a2[] = {"prog", "--nosuch=1"};
    CHECK_EQ_INT(init(2, a2, err), FLAGS_ERROR);
    CHECK(strstr(err, "unknown flag '--nosuch'") != NULL);
    char *a3[] = {"prog", "--maxmemory=lots"};
    CHECK_EQ_INT(init(2, a3, err), FLAGS_ERROR);
    CHECK(strstr(err, "invalid size 'lots'") != NULL);
    char *a4[] = {"prog", "--port"};
    CHECK_EQ_INT(init(2, a4, err), FLAGS_ERROR);
    CHECK(strstr(err, "needs a value") != NULL);
    char *a5[] = {"prog", "--verbose=maybe"};
    CHECK_EQ_INT(init(2, a5, err), FLAGS_ERROR);
    char *path = write_conf("port 1\nbogus 2\n");
    REQUIRE(path && path[0]);
    char *a6[] = {"prog", path};
    CHECK_EQ_INT(init(2, a6, err), FLAGS_ERROR);
    CHECK(strstr(err, ":2: unknown option 'bogus'") != NULL);
    unlink(path);
    char *a7[] = {"prog", "/nonexistent/dfly.conf"};
    CHECK_EQ_INT(init(2, a7, err), FLAGS_ERROR);
    CHECK(strstr(err, "cannot open config file") != NULL);
}

TEST(help_and_version)
{
    char err[FLAGS_ERR_MAX];
    char *a1[] = {"prog", "--help"};
    CHECK_EQ_INT(init(2, a1, err), FLAGS_HELP);
    char *a2[] = {"prog", "--version"};
    CHECK_EQ_INT(init(2, a2, err), FLAGS_VERSION);
}

TEST(value_parsers)
{
    long long v;
    CHECK_EQ_INT(flags_parse_bytes("1kb", &v), 0);
    CHECK_EQ_INT(v, 1024);
    CHECK_EQ_INT(flags_parse_bytes("1.5mb", &v), 0);
    CHECK_EQ_INT(v, 1572864);
    CHECK_EQ_INT(flags_parse_bytes("12", &v), 0);
    CHECK_EQ_INT(v, 12);
    CHECK_EQ_INT(flags_parse_bytes("-1", &v), -1);
    CHECK_EQ_INT(flags_parse_bytes("1.5", &v), -1);
    CHECK_EQ_INT(flags_parse_bytes("1zb", &v), -1);
    CHECK_EQ_INT(flags_parse_bytes("99999999tb", &v), -1);
    int b;
    CHECK_EQ_INT(flags_parse_bool("YES", &b), 0);
    CHECK_EQ_INT(b, 1);
    CHECK_EQ_INT(flags_parse_bool("off", &b), 0);
    CHECK_EQ_INT(b, 0);
    CHECK_EQ_INT(flags_parse_int("12x", &v), -1);
}

TEST(split_line_quotes)
{
    char line[] = "name \"a \\\"b\\\" c\" 'd e' f";
    char *w[8];
    CHECK_EQ_INT(flags_split_line(line, w, 8), 4);
    CHECK_EQ_STR(w[1], "a \"b\" c");
    CHECK_EQ_STR(w[2], "d e");
    char bad[] = "name \"unterminated";
    CHECK_EQ_INT(flags_split_line(bad, w, 8), -1);
}

TEST(buf_growth_and_consume)
{
    buf b;
    buf_init(&b);
    for (int i = 0; i < 10000; i++)
        buf_printf(&b, "%d,", i);
    CHECK(b.len > 40000);
    CHECK_EQ_MEM(b.data, 4, "0,1,", 4);
    buf_consume(&b, 2);
    CHECK_EQ_MEM(b.data, 2, "1,", 2);
    CHECK_EQ_INT(b.data[b.len], '\0');
    buf_clear(&b);
    buf_shrink(&b, 0);
    CHECK(b.data == NULL);
    buf_free(&b);
}

int main(void)
{
    RUN_TEST(defaults_apply);
    RUN_TEST(argv_forms);
    RUN_TEST(precedence_file_env_argv);
    RUN_TEST(errors_name_the_flag);
    RUN_TEST(help_and_version);
    RUN_TEST(value_parsers);
    RUN_TEST(split_line_quotes);
    RUN_TEST(buf_growth_and_consume);
    flags_free(defs);
    TEST_MAIN_END();
}
