/* Calls per command class of a node (INFO commandstats, classes from COMMAND INFO's ACL
 * categories). Scraper thread only. */
#ifndef DFLY_CONTROL_CMDCLASS_H
#define DFLY_CONTROL_CMDCLASS_H

#include <stddef.h>

enum cmd_class_kind { CMD_READ, CMD_WRITE, CMD_OTHER, CMD_CLASSES };

typedef struct node_target {
    const char *host;
    int port;
    const char *password;
    int timeout_ms;
} node_target;

/* Total calls since the node started, per class, into calls[CMD_CLASSES]. scratch holds the
 * reply. Returns 0, or -1 when the node did not answer. */
int cmdclass_counts(const node_target *t, char *scratch, size_t scratchlen, long long *calls);
/* Forgets the classes learnt (at stop). */
void cmdclass_free(void);

#endif
