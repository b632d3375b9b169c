/* Keyspace notifications (Redis's notify.c): commands report what they did to a key
 * (db_notify), and when notify-keyspace-events enables the event's class the event is published
 * on "__keyspace@<db>__:<key>" (message: the event) and "__keyevent@<db>__:<event>" (message:
 * the key). */
#ifndef DFLY_NOTIFY_H
#define DFLY_NOTIFY_H

#include <stddef.h>

#include "command.h"

/* Publishes the event when enabled. type is a NOTIFY_* class (db.h). Runs on whichever thread
 * runs for the key's shard; costs a load and a test when notifications are off. */
void notify_keyspace_event(cmd_ctx *c, int type, const char *event, const char *key, size_t len);

/* The NOTIFY_* bits (with NOTIFY_KEYSPACE and NOTIFY_KEYEVENT) of Redis's letters; letters that
 * are not classes are ignored. */
int notify_parse_classes(const char *letters);

#endif
