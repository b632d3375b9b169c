/* Calls by command class for "ops/s by class": INFO commandstats gives calls per command, and
 * each command's class comes from the node's own ACL categories (COMMAND INFO: @write, else
 * @read, else other), asked once per command name and kept for the daemon's life. Scraper
 * thread only. */
#include "cmdclass.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "node/resp.h"

#define CMDSTAT_PREFIX "cmdstat_"
#define CALLS_PREFIX "calls="
#define CMD_NAME_MAX 64
#define COMMAND_INFO_MAX (32 * 1024)

typedef struct cmd_class {
    char name[CMD_NAME_MAX];
    enum cmd_class_kind kind;
} cmd_class;

static cmd_class *known;
static int nknown;

/* The class of name from COMMAND INFO's flattened reply: its categories are lines "@...". */
static int ask_class(const node_target *t, const char *name, enum cmd_class_kind *kind)
{
    char *out = mem_realloc(NULL, COMMAND_INFO_MAX);
    const char *argv[] = {"COMMAND", "INFO", name};
    int rc =
        resp_call(t->host, t->port, t->password, t->timeout_ms, out, COMMAND_INFO_MAX, 3, argv);
    if (rc == RESP_OK) {
        /* The first category decides: a command's own categories come before its
         * subcommands'. */
        *kind = CMD_OTHER;
        for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
            if (!strcmp(l, "@write") || !strcmp(l, "@read")) {
                *kind = l[1] == 'w' ? CMD_WRITE : CMD_READ;
                break;
            }
    }
    free(out);
    return rc == RESP_OK ? 0 : -1;
}

static int class_of(const node_target *t, const char *name, enum cmd_class_kind *kind)
{
    for (int i = 0; i < nknown; i++)
        if (!strcmp(known[i].name, name)) {
            *kind = known[i].kind;
            return 0;
        }
    if (ask_class(t, name, kind) < 0)
        return -1;
    known = mem_realloc(known, sizeof(cmd_class) * (size_t)(nknown + 1));
    snprintf(known[nknown].name, CMD_NAME_MAX, "%s", name);
    known[nknown++].kind = *kind;
    return 0;
}

int cmdclass_counts(const node_target *t, char *scratch, size_t scratchlen, long long *calls)
{
    static const char *const argv[] = {"INFO", "commandstats"};
    for (int k = 0; k < CMD_CLASSES; k++)
        calls[k] = 0;
    if (resp_call(t->host, t->port, t->password, t->timeout_ms, scratch, scratchlen, 2, argv) !=
        RESP_OK)
        return -1;
    /* Lines "cmdstat_get:calls=3,usec=..." */
    for (char *save = NULL, *l = strtok_r(scratch, "\r\n", &save); l;
         l = strtok_r(NULL, "\r\n", &save)) {
        char *colon = strchr(l, ':');
        if (strncmp(l, CMDSTAT_PREFIX, strlen(CMDSTAT_PREFIX)) || !colon ||
            strncmp(colon + 1, CALLS_PREFIX, strlen(CALLS_PREFIX)))
            continue;
        *colon = '\0';
        enum cmd_class_kind kind;
        if (class_of(t, l + strlen(CMDSTAT_PREFIX), &kind) < 0)
            return -1;
        calls[kind] += strtoll(colon + 1 + strlen(CALLS_PREFIX), NULL, 10);
    }
    return 0;
}

void cmdclass_free(void)
{
    free(known);
    known = NULL;
    nknown = 0;
}
