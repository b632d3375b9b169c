/* Per-node supervision state and restart back-off. */
#include "supervisor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "mem.h"

#define BACKOFF_SHIFT_MAX 30

static node_rt **table;
static int count, cap;

node_rt *supervisor_rt(const char *node_id)
{
    for (int i = 0; i < count; i++)
        if (!strcmp(table[i]->node_id, node_id)) {
            table[i]->seen = 1;
            return table[i];
        }
    if (count == cap) {
        cap = cap ? cap * 2 : 64;
        table = mem_realloc(table, sizeof(node_rt *) * (size_t)cap);
    }
    node_rt *rt = calloc(1, sizeof(*rt));
    snprintf(rt->node_id, sizeof(rt->node_id), "%s", node_id);
    rt->seen = 1;
    rt->last_offset = -1;
    table[count++] = rt;
    return rt;
}

static void remove_at(int i)
{
    free(table[i]);
    table[i] = table[--count];
}

void supervisor_forget(const char *node_id)
{
    for (int i = 0; i < count; i++)
        if (!strcmp(table[i]->node_id, node_id)) {
            remove_at(i);
            return;
        }
}

void supervisor_unmark_all(void)
{
    for (int i = 0; i < count; i++)
        table[i]->seen = 0;
}

void supervisor_sweep(void)
{
    for (int i = 0; i < count;)
        if (!table[i]->seen)
            remove_at(i);
        else
            i++;
}

int64_t supervisor_backoff_ms(int failures)
{
    int shift = failures <= 1 ? 0 : failures - 1;
    if (shift > BACKOFF_SHIFT_MAX)
        shift = BACKOFF_SHIFT_MAX;
    int64_t ms = ctl_cfg.restart_backoff_min_ms << shift;
    return ms > ctl_cfg.restart_backoff_max_ms ? ctl_cfg.restart_backoff_max_ms : ms;
}

void supervisor_note_exit(const char *node_id, int64_t exit_status, int term_signal)
{
    node_rt *rt = supervisor_rt(node_id);
    if (term_signal)
        snprintf(rt->last_exit, sizeof(rt->last_exit), "killed by signal %d", term_signal);
    else
        snprintf(rt->last_exit, sizeof(rt->last_exit), "exit status %lld", (long long)exit_status);
}

void supervisor_free(void)
{
    for (int i = 0; i < count; i++)
        free(table[i]);
    free(table);
    table = NULL;
    count = cap = 0;
}
