/* A small blocking RESP client for talking to nodes on this host: connect, AUTH, one command,
 * close, all within a deadline. The reconciler calls it on its loop thread; nodes are local
 * and every call is bounded by --node-call-timeout, so a hung node costs one timeout, not a
 * stuck daemon. */
#ifndef DFLY_CONTROL_RESP_H
#define DFLY_CONTROL_RESP_H

#include <stddef.h>

enum resp_result {
    RESP_OK = 0,    /* a non-error reply; its text (status, bulk, integer) in out */
    RESP_ERROR = 1, /* an error reply; its text in out */
    RESP_IO = -1,   /* no connection, timeout or a malformed reply; reason in out */
};

/* Runs argv on host:port, after AUTH password when password is not NULL or empty.
 * The elements of an array reply come in out one per line ("appendonly\nyes\n"). */
int resp_call(const char *host, int port, const char *password, int timeout_ms, char *out,
              size_t outlen, int argc, const char *const *argv);

/* The value of field `name` in an INFO reply ("name:value" lines) into out. Returns 0, or -1
 * when the field is not there. */
int resp_info_field(const char *info, const char *name, char *out, size_t outlen);
/* The same as a number, or def when it is missing or not a number. */
long long resp_info_ll(const char *info, const char *name, long long def);

#endif
