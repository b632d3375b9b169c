/* libFuzzer target: the memcached parsers (dataplane/memcache_text.c, memcache_bin.c). The first
 * byte picks the protocol (even: text and meta, odd: binary) and where the input is cut in two,
 * as a connection receives it. Requests are parsed one after the other as the listener does
 * (consumed bytes, then the bytes to swallow). Every token, key, value and data block must lie
 * inside the input (or the request's own key buffer), and what a parser accepts must be safe to
 * use: meta flags parse again, base64 keys encode back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memcache_int.h"

#define FUZZ_MAX_ITEM 4096
#define FUZZ_ROUNDS 10000
#define FUZZ_B64_MAX 1024

static void check_slice(const slice *s, const char *in, size_t avail, const char *own,
                        size_t ownlen)
{
    if (s->len == 0)
        return;
    int inside = s->p >= in && s->p + s->len <= in + avail;
    int own_buf = own && s->p >= own && s->p + s->len <= own + ownlen;
    if (!inside && !own_buf)
        abort();
}

/* Consumes one step of text requests; returns the bytes used, 0 when more input is needed. */
static size_t text_round(const char *in, size_t avail, int authenticated, slice **tok, int *cap)
{
    mc_text_req r;
    int rc = mc_text_parse(in, avail, FUZZ_MAX_ITEM, authenticated, &r, tok, cap);
    if (rc == MCT_PARSE_INCOMPLETE)
        return 0;
    if (rc == MCT_PARSE_CLOSE)
        return avail;
    if (r.consumed == 0 || r.consumed > avail)
        abort();
    for (int i = 0; i < r.ntok; i++)
        check_slice(&(*tok)[i], in, avail, r.key, sizeof(r.key));
    check_slice(&r.data, in, avail, NULL, 0);
    if (r.op == MT_MG || r.op == MT_MD || r.op == MT_MA) {
        mc_meta m;
        if (mc_meta_parse(*tok, 2, r.ntok, &m)) /* accepted once: parses again */
            abort();
        char b64[FUZZ_B64_MAX], back[MC_KEY_MAX];
        size_t n = mc_base64_encode((*tok)[1].p, (*tok)[1].len, b64, sizeof(b64));
        if (m.base64 && (mc_base64_decode(b64, n, back, sizeof(back)) != (*tok)[1].len ||
                         memcmp(back, (*tok)[1].p, (*tok)[1].len)))
            abort();
    }
    size_t used = r.consumed + r.swallow;
    return used < avail ? used : avail;
}

static size_t bin_round(const char *in, size_t avail)
{
    mc_bin_req r;
    int rc = mc_bin_parse(in, avail, FUZZ_MAX_ITEM, &r);
    if (rc == MCB_PARSE_INCOMPLETE)
        return 0;
    if (rc == MCB_PARSE_CLOSE)
        return avail;
    if (r.consumed > avail || r.consumed < MC_BIN_HEADER)
        abort();
    if (rc == MCB_PARSE_OK) {
        check_slice(&r.key, in, avail, NULL, 0);
        check_slice(&r.extras, in, avail, NULL, 0);
        check_slice(&r.value, in, avail, NULL, 0);
        if (r.key.len > MC_KEY_MAX)
            abort();
    }
    if (rc == MCB_PARSE_ERROR && r.close)
        return avail;
    size_t used = r.consumed + r.swallow;
    return used < avail ? used : avail;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int binary = data[0] & 1;
    int authenticated = !(data[0] & 2);
    const char *in = (const char *)data + 2;
    size_t len = size - 2;
    size_t avail = len ? data[1] % (len + 1) : 0;
    slice *tok = NULL;
    int cap = 0;
    size_t pos = 0;
    for (int round = 0; round < FUZZ_ROUNDS && pos < len; round++) {
        size_t have = avail > pos ? avail - pos : 0;
        size_t used = binary ? bin_round(in + pos, have)
                             : text_round(in + pos, have, authenticated, &tok, &cap);
        if (used == 0) {
            if (avail == len)
                break;
            avail = len; /* the rest of the input arrives */
            continue;
        }
        pos += used;
    }
    free(tok);
    return 0;
}
