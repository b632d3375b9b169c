/* Keyspace notifications; see notify.h. */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "db.h"
#include "pubsub.h"
#include "server.h"

/* "__keyevent@" + a db number + "__:" fits here with any event name; longer keys take the heap. */
#define NOTIFY_CHANNEL_STACK 256
#define NOTIFY_PREFIX_MAX 32 /* "__keyspace@<db>__:" */

int notify_parse_classes(const char *letters)
{
    int flags = 0;
    for (const char *p = letters ? letters : ""; *p; p++) {
        switch (*p) {
        case 'A':
            flags |= NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH |
                     NOTIFY_ZSET | NOTIFY_EXPIRED | NOTIFY_EVICTED | NOTIFY_STREAM;
            break;
        case 'g': flags |= NOTIFY_GENERIC; break;
        case '$': flags |= NOTIFY_STRING; break;
        case 'l': flags |= NOTIFY_LIST; break;
        case 's': flags |= NOTIFY_SET; break;
        case 'h': flags |= NOTIFY_HASH; break;
        case 'z': flags |= NOTIFY_ZSET; break;
        case 'x': flags |= NOTIFY_EXPIRED; break;
        case 'e': flags |= NOTIFY_EVICTED; break;
        case 't': flags |= NOTIFY_STREAM; break;
        case 'm': flags |= NOTIFY_KEY_MISS; break;
        case 'n': flags |= NOTIFY_NEW; break;
        case 'K': flags |= NOTIFY_KEYSPACE; break;
        case 'E': flags |= NOTIFY_KEYEVENT; break;
        default: break; /* 'd' (module events): no modules here */
        }
    }
    return flags;
}

/* The setting as flags. CONFIG SET stores a new string (the old one is never freed), so the
 * string's address tells when to parse again; each thread keeps its own copy. */
static int notify_flags(void)
{
    static _Thread_local const char *seen;
    static _Thread_local int parsed, flags;
    const char *cur = server.cfg.notify_keyspace_events;
    if (cur != seen || !parsed) {
        flags = notify_parse_classes(cur);
        seen = cur;
        parsed = 1;
    }
    return flags;
}

/* Publishes msg on prefix + suffix. */
static void publish_on(cmd_ctx *c, const char *prefix, int plen, const char *suffix, size_t slen,
                       const char *msg, size_t mlen)
{
    char stack[NOTIFY_CHANNEL_STACK];
    size_t len = (size_t)plen + slen;
    char *ch = len <= sizeof(stack) ? stack : mem_malloc(len);
    memcpy(ch, prefix, (size_t)plen);
    memcpy(ch + plen, suffix, slen);
    pubsub_publish(c, PUBSUB_CHANNEL, ch, len, msg, mlen);
    if (ch != stack)
        free(ch);
}

void notify_keyspace_event(cmd_ctx *c, int type, const char *event, const char *key, size_t len)
{
    int flags = notify_flags();
    if (!(flags & type) || !(flags & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT)) || pubsub_idle())
        return;
    char prefix[NOTIFY_PREFIX_MAX];
    size_t elen = strlen(event);
    if (flags & NOTIFY_KEYSPACE) {
        int n = snprintf(prefix, sizeof(prefix), "__keyspace@%d__:", c->dbid);
        publish_on(c, prefix, n, key, len, event, elen);
    }
    if (flags & NOTIFY_KEYEVENT) {
        int n = snprintf(prefix, sizeof(prefix), "__keyevent@%d__:", c->dbid);
        publish_on(c, prefix, n, event, elen, key, len);
    }
}
