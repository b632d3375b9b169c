/* libFuzzer target: ACL SETUSER rules (acl_rules.c). The input is split at spaces into
 * arguments and applied to a new user. Rules either apply or give Redis's error text; what
 * applies must describe itself (ACL LIST's form) in a way that, parsed again, gives the same
 * user and the same description; and checking calls against it must be safe. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"

#define FUZZ_MAX_ARGS 256
#define FUZZ_ERR_MAX 512

static int split(char *s, size_t len, slice *v, int max)
{
    int n = 0;
    size_t i = 0;
    while (i < len && n < max) {
        while (i < len && s[i] == ' ')
            i++;
        size_t start = i;
        while (i < len && s[i] != ' ')
            i++;
        if (i > start)
            v[n++] = (slice){s + start, i - start};
    }
    return n;
}

static acl_user *parse(char *s, size_t len, char *err)
{
    slice v[FUZZ_MAX_ARGS];
    int n = split(s, len, v, FUZZ_MAX_ARGS);
    acl_user *u = acl_user_new("fuzz", 4);
    if (acl_user_apply_args(u, n, v, err, FUZZ_ERR_MAX)) {
        acl_user_unref(u);
        return NULL;
    }
    return u;
}

static void check_calls(const acl_user *u)
{
    static const char *const calls[][4] = {
        {"get", "k"},         {"set", "k", "v"},         {"publish", "ch", "m"},
        {"psubscribe", "p*"}, {"config", "get", "port"}, {"select", "0"},
        {"copy", "a", "b"},
    };
    for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
        slice v[4];
        int n = 0;
        while (n < 4 && calls[i][n]) {
            v[n] = (slice){calls[i][n], strlen(calls[i][n])};
            n++;
        }
        const command *container;
        const command *cmd = command_lookup(n, v, &container);
        int pos;
        if (cmd)
            acl_check(u, cmd, n, v, &pos);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    if (!inited) {
        command_table_init();
        inited = 1;
    }
    char *in = malloc(size + 1);
    memcpy(in, data, size);
    in[size] = '\0';
    char err[FUZZ_ERR_MAX] = "";
    acl_user *u = parse(in, size, err);
    if (!u) {
        if (strncmp(err, "ERR ", 4))
            abort(); /* a failure always says why, as Redis says it */
        free(in);
        return 0;
    }
    check_calls(u);
    buf d1;
    buf_init(&d1);
    acl_user_describe(u, &d1);
    /* Patterns may hold parentheses, which the description cannot quote (nor can Redis's):
     * the round trip is required only without them. */
    if (!memchr(data, '(', size) && !memchr(data, ')', size)) {
        acl_user *again = parse(d1.data, d1.len, err);
        if (!again)
            abort();
        buf d2;
        buf_init(&d2);
        acl_user_describe(again, &d2);
        if (d1.len != d2.len || memcmp(d1.data, d2.data, d1.len) ||
            memcmp(u->root.cmds, again->root.cmds, sizeof(u->root.cmds)))
            abort();
        buf_free(&d2);
        acl_user_unref(again);
    }
    buf_free(&d1);
    acl_user_unref(u);
    free(in);
    return 0;
}
