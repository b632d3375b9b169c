/* libFuzzer target: the RESP request parser (dataplane/resp.c), fed the input in two pieces at
 * a point the input chooses, as a connection receives it. Every parsed argument must lie inside
 * the input (or the inline buffer); errors and incomplete input are fine, crashes are not. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

#define FUZZ_MAX_BULK (1 << 20)
#define FUZZ_MAX_ARGS 1024
#define FUZZ_INLINE_MAX (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t split = data[0] % (size);
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    resp_limits lim = {FUZZ_MAX_BULK, FUZZ_MAX_ARGS, FUZZ_INLINE_MAX};
    resp_parser p;
    resp_parser_init(&p);
    buf inl;
    buf_init(&inl);
    size_t avail = split < len ? split : len;
    for (int rounds = 0; rounds < 10000; rounds++) {
        const char *err = NULL;
        int r = resp_parse(&p, in, avail, &lim, &inl, &err);
        if (r == RESP_ERROR) {
            if (!err || strncmp(err, "ERR Protocol error", 18))
                abort();
            break;
        }
        if (r == RESP_INCOMPLETE) {
            if (avail == len)
                break;
            avail = len; /* the rest of the input arrives */
            continue;
        }
        for (int i = 0; i < p.argc; i++) {
            size_t off = p.arg_off[2 * i], alen = p.arg_off[2 * i + 1];
            size_t limit = p.type == 1 ? avail : inl.len;
            if (off > limit || alen > limit - off)
                abort();
        }
        resp_parser_next(&p);
    }
    resp_parser_free(&p);
    buf_free(&inl);
    return 0;
}
