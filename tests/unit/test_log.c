/* common/log.c: levels filter records; text and JSON-lines formats; JSON escaping. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "testing.h"

static char path[64];

static size_t read_all(char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    fclose(f);
    return n;
}

TEST(levels_filter)
{
    CHECK_EQ_INT(log_open("t", path, LOG_WARNING, 0), 0);
    log_info("hidden %d", 1);
    log_warning("shown %d", 2);
    char text[4096];
    read_all(text, sizeof(text));
    CHECK(strstr(text, "hidden") == NULL);
    CHECK(strstr(text, "warning shown 2") != NULL);
    CHECK(strstr(text, " t[") != NULL);
}

TEST(json_lines_escape)
{
    truncate(path, 0);
    CHECK_EQ_INT(log_open("t", path, LOG_DEBUG, 1), 0);
    log_info("say \"hi\"\nback\\slash");
    char text[4096];
    read_all(text, sizeof(text));
    CHECK(strstr(text, "\"level\":\"info\"") != NULL);
    CHECK(strstr(text, "\"msg\":\"say \\\"hi\\\"\\nback\\\\slash\"") != NULL);
    CHECK_EQ_INT(text[strlen(text) - 1], '\n');
}

TEST(level_names)
{
    enum log_level l;
    CHECK_EQ_INT(log_level_parse("notice", &l), 0);
    CHECK_EQ_INT(l, LOG_INFO);
    CHECK_EQ_INT(log_level_parse("VERBOSE", &l), 0);
    CHECK_EQ_INT(l, LOG_DEBUG);
    CHECK_EQ_INT(log_level_parse("loud", &l), -1);
    CHECK(log_open("t", "/nonexistent/dir/x.log", LOG_INFO, 0) < 0);
}

int main(void)
{
    snprintf(path, sizeof(path), "/tmp/dfly-test-log-%d", (int)getpid());
    RUN_TEST(levels_filter);
    RUN_TEST(json_lines_escape);
    RUN_TEST(level_names);
    log_close();
    unlink(path);
    TEST_MAIN_END();
}
