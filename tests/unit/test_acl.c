/* Unit tests of the ACL rule parser and checks (acl_rules.c, acl_check): rules applied to users
 * built here, described back as ACL LIST shows them, and calls checked against them. The
 * expected texts are redis-server 7.0's. */
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "testing.h"

#define ERR_MAX 512
#define SHA256_OF_SECRET "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"

static slice *split(const char *rules, int *n)
{
    static slice v[64];
    static char copy[1024];
    strncpy(copy, rules, sizeof(copy) - 1);
    *n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, " ", &save); tok && *n < 64; tok = strtok_r(NULL, " ", &save))
        v[(*n)++] = (slice){tok, strlen(tok)};
    return v;
}

/* A user with rules applied; NULL with err filled when they fail. */
static acl_user *user_with(const char *rules, char *err)
{
    int n;
    slice *v = split(rules, &n);
    acl_user *u = acl_user_new("u", 1);
    if (acl_user_apply_args(u, n, v, err, ERR_MAX)) {
        acl_user_unref(u);
        return NULL;
    }
    return u;
}

static char described[4096];

static const char *describe(const acl_user *u)
{
    buf b;
    buf_init(&b);
    acl_user_describe(u, &b);
    strncpy(described, b.data, sizeof(described) - 1);
    buf_free(&b);
    return described;
}

static int check(const acl_user *u, const char *call)
{
    int n, pos;
    slice *v = split(call, &n);
    const command *container;
    const command *cmd = command_lookup(n, v, &container);
    if (!cmd)
        return -1;
    return acl_check(u, cmd, n, v, &pos);
}

TEST(new_user_is_off_and_empty)
{
    acl_user *u = acl_user_new("u", 1);
    CHECK_EQ_STR(describe(u), "off resetchannels -@all");
    acl_user_unref(u);
}

TEST(describe_like_redis)
{
    char err[ERR_MAX];
    acl_user *u = user_with("on >p1 +get +@string -set ~foo* %R~bar &ch (+set ~x)", err);
    REQUIRE(u);
    CHECK_EQ_STR(describe(u),
                 "on #f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a ~foo* "
                 "%R~bar resetchannels &ch -@all +@string -set (~x resetchannels -@all +set)");
    acl_user_unref(u);
    u = user_with("on nopass allkeys allchannels allcommands", err);
    CHECK_EQ_STR(describe(u), "on nopass ~* &* +@all");
    acl_user_unref(u);
    u = user_with("%R~a %W~a %RW~b ~c", err);
    CHECK_EQ_STR(describe(u), "off ~a ~b ~c resetchannels -@all");
    acl_user_unref(u);
    u = user_with("reset", err);
    CHECK_EQ_STR(describe(u), "off sanitize-payload resetchannels -@all");
    acl_user_unref(u);
}

TEST(passwords)
{
    char err[ERR_MAX];
    acl_user *u = user_with(">secret >other", err);
    REQUIRE(u);
    CHECK_EQ_INT(u->npass, 2);
    CHECK(acl_user_password_ok(u, "secret", 6));
    CHECK(acl_user_password_ok(u, "other", 5));
    CHECK(!acl_user_password_ok(u, "secre", 5));
    char hex[ACL_DIGEST_HEX_LEN + 1];
    acl_digest_hex(u->pass[0], hex);
    CHECK_EQ_STR(hex, SHA256_OF_SECRET);
    const char *e;
    CHECK_EQ_INT(acl_user_apply(u, "<secret", 7, &e), 0);
    CHECK(!acl_user_password_ok(u, "secret", 6));
    CHECK_EQ_INT(acl_user_apply(u, "!" SHA256_OF_SECRET, 65, &e), -1);
    CHECK_EQ_STR(e, "The password you are trying to remove from the user does not exist");
    CHECK_EQ_INT(acl_user_apply(u, "#" SHA256_OF_SECRET, 65, &e), 0);
    CHECK(acl_user_password_ok(u, "secret", 6));
    CHECK_EQ_INT(acl_user_apply(u, "nopass", 6, &e), 0);
    CHECK_EQ_INT(u->npass, 0);
    CHECK(acl_user_password_ok(u, "anything", 8));
    CHECK_EQ_INT(acl_user_apply(u, "resetpass", 9, &e), 0);
    CHECK(!acl_user_password_ok(u, "anything", 8));
    acl_user_unref(u);
}

TEST(errors)
{
    static const struct {
        const char *rules, *err;
    } cases[] = {
        {"+nosuch", "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category "
                    "name in ACL"},
        {"+@nosuch", "ERR Error in ACL SETUSER modifier '+@nosuch': Unknown command or category "
                     "name in ACL"},
        {"badrule", "ERR Error in ACL SETUSER modifier 'badrule': Syntax error"},
        {"(~x", "ERR Unmatched parenthesis in acl selector starting at '(~x'."},
        {"+config|get|x", "ERR Error in ACL SETUSER modifier '+config|get|x': Allowing first-arg "
                          "of a subcommand is not supported"},
        {"#abc", "ERR Error in ACL SETUSER modifier '#abc': The password hash must be exactly 64 "
                 "characters and contain only lowercase hexadecimal characters"},
        {"~* ~x", "ERR Error in ACL SETUSER modifier '~x': Adding a pattern after the * pattern "
                  "(or the 'allkeys' flag) is not valid and does not have any effect. Try "
                  "'resetkeys' to start with an empty list of patterns"},
        {"%X~a", "ERR Error in ACL SETUSER modifier '%X~a': Syntax error"},
        {"(+get ~a) (+nosuch)", "ERR Error in ACL SETUSER modifier '(+nosuch)': Unknown command "
                                "or category name in ACL"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[ERR_MAX] = "";
        acl_user *u = user_with(cases[i].rules, err);
        CHECK(u == NULL);
        CHECK_EQ_STR(err, cases[i].err);
    }
}

TEST(commands_and_categories)
{
    char err[ERR_MAX];
    acl_user *u = user_with("+@read ~*", err);
    REQUIRE(u);
    CHECK_EQ_INT(check(u, "GET k"), ACL_OK);
    CHECK_EQ_INT(check(u, "SET k v"), ACL_DENIED_CMD);
    acl_user_unref(u);
    u = user_with("+@all -@dangerous ~*", err);
    CHECK_EQ_INT(check(u, "SET k v"), ACL_OK);
    CHECK_EQ_INT(check(u, "FLUSHALL"), ACL_DENIED_CMD);
    acl_user_unref(u);
    u = user_with("+config|get +select|0", err);
    CHECK_EQ_INT(check(u, "CONFIG GET port"), ACL_OK);
    CHECK_EQ_INT(check(u, "CONFIG SET port 1"), ACL_DENIED_CMD);
    CHECK_EQ_INT(check(u, "SELECT 0"), ACL_OK);
    CHECK_EQ_INT(check(u, "SELECT 1"), ACL_DENIED_CMD);
    CHECK(strstr(describe(u), "+config|get") && strstr(described, "+select|0"));
    acl_user_unref(u);
}

TEST(keys_read_write)
{
    char err[ERR_MAX];
    acl_user *u = user_with("+@all %R~r* %W~w* ~rw*", err);
    REQUIRE(u);
    CHECK_EQ_INT(check(u, "GET r1"), ACL_OK);
    CHECK_EQ_INT(check(u, "SET r1 v"), ACL_DENIED_KEY);
    CHECK_EQ_INT(check(u, "SET w1 v"), ACL_OK);
    CHECK_EQ_INT(check(u, "GET w1"), ACL_DENIED_KEY);
    CHECK_EQ_INT(check(u, "INCR w1"), ACL_DENIED_KEY); /* INCR reads too */
    CHECK_EQ_INT(check(u, "INCR rw1"), ACL_OK);
    CHECK_EQ_INT(check(u, "EXISTS w1"), ACL_OK); /* no access to the value */
    CHECK_EQ_INT(check(u, "COPY r1 w2"), ACL_OK);
    CHECK_EQ_INT(check(u, "COPY w1 r2"), ACL_DENIED_KEY);
    CHECK_EQ_INT(check(u, "MGET r1 x"), ACL_DENIED_KEY);
    acl_user_unref(u);
}

TEST(channels)
{
    char err[ERR_MAX];
    acl_user *u = user_with("+@all ~* &news.* &exact", err);
    REQUIRE(u);
    CHECK_EQ_INT(check(u, "PUBLISH news.1 m"), ACL_OK);
    CHECK_EQ_INT(check(u, "PUBLISH other m"), ACL_DENIED_CHANNEL);
    CHECK_EQ_INT(check(u, "SUBSCRIBE exact news.x"), ACL_OK);
    CHECK_EQ_INT(check(u, "SUBSCRIBE exact other"), ACL_DENIED_CHANNEL);
    CHECK_EQ_INT(check(u, "PSUBSCRIBE news.*"), ACL_OK);
    CHECK_EQ_INT(check(u, "PSUBSCRIBE news.1*"), ACL_DENIED_CHANNEL); /* literal for patterns */
    CHECK_EQ_INT(check(u, "SPUBLISH news.2 m"), ACL_OK);
    acl_user_unref(u);
}

TEST(selectors)
{
    char err[ERR_MAX];
    acl_user *u = user_with("+get ~a* (+set ~b*)", err);
    REQUIRE(u);
    CHECK_EQ_INT(check(u, "GET a1"), ACL_OK);
    CHECK_EQ_INT(check(u, "SET b1 v"), ACL_OK);
    CHECK_EQ_INT(check(u, "SET a1 v"), ACL_DENIED_KEY); /* the most relevant reason */
    CHECK_EQ_INT(check(u, "DEL a1"), ACL_DENIED_CMD);
    const char *e;
    CHECK_EQ_INT(acl_user_apply(u, "clearselectors", 14, &e), 0);
    CHECK_EQ_INT(check(u, "SET b1 v"), ACL_DENIED_CMD);
    acl_user_unref(u);
}

TEST(copies_are_independent)
{
    char err[ERR_MAX];
    acl_user *u = user_with("on >pw +get ~a* &c (+set ~b*)", err);
    REQUIRE(u);
    acl_user *d = acl_user_dup(u);
    const char *e;
    CHECK_EQ_INT(acl_user_apply(d, "reset", 5, &e), 0);
    CHECK_EQ_STR(describe(u),
                 "on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 "
                 "~a* resetchannels &c -@all +get (~b* resetchannels -@all +set)");
    acl_user_unref(u);
    acl_user_unref(d);
}

static int redacted(const char *call, int i)
{
    int n;
    slice *v = split(call, &n);
    return acl_arg_redacted(n, v, i);
}

TEST(redaction)
{
    CHECK(!redacted("AUTH pw", 0));
    CHECK(redacted("AUTH pw", 1));
    CHECK(redacted("auth user pw", 1) && redacted("auth user pw", 2));
    CHECK(!redacted("HELLO 3 AUTH u p SETNAME n", 1));
    CHECK(redacted("HELLO 3 AUTH u p SETNAME n", 3) && redacted("HELLO 3 AUTH u p SETNAME n", 4));
    CHECK(!redacted("HELLO 3 AUTH u p SETNAME n", 6));
    CHECK(!redacted("ACL SETUSER u >pw", 1));
    CHECK(redacted("ACL SETUSER u >pw", 2) && redacted("ACL SETUSER u >pw", 3));
    CHECK(!redacted("ACL GETUSER u", 2));
    CHECK(redacted("CONFIG SET requirepass x maxmemory 0", 3));
    CHECK(!redacted("CONFIG SET requirepass x maxmemory 0", 5));
    CHECK(redacted("MIGRATE h 1 k 0 10 AUTH2 u p KEYS a", 8));
    CHECK(!redacted("MIGRATE h 1 k 0 10 AUTH2 u p KEYS a", 11));
    CHECK(!redacted("SET auth x", 2));
}

TEST(names)
{
    CHECK(acl_name_ok("alice", 5));
    CHECK(!acl_name_ok("a b", 3));
    CHECK(!acl_name_ok("a\0b", 3));
}

int main(void)
{
    command_table_init();
    RUN_TEST(new_user_is_off_and_empty);
    RUN_TEST(describe_like_redis);
    RUN_TEST(passwords);
    RUN_TEST(errors);
    RUN_TEST(commands_and_categories);
    RUN_TEST(keys_read_write);
    RUN_TEST(channels);
    RUN_TEST(selectors);
    RUN_TEST(copies_are_independent);
    RUN_TEST(redaction);
    RUN_TEST(names);
    TEST_MAIN_END();
}
