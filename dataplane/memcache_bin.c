/* memcached's binary protocol: packet parsing and response encoding (memcache_int.h).
 *
 * A request is a 24-byte header (magic 0x80, opcode, key length, extras length, body length,
 * opaque, CAS) and a body of extras, key and value. The checks are memcached's (proto_bin.c's
 * dispatch_bin_command): a packet whose lengths do not fit its opcode is a protocol error that
 * ends the connection after an EINVAL answer; an unknown opcode is answered and its body
 * skipped; a wrong magic closes the connection at once. The parser is a pure function of its
 * input; the fuzzer drives it. */
#include <arpa/inet.h>
#include <string.h>

#include "memcache_int.h"

/* Largest body of a request that carries no item value (STAT's group, SASL's data). */
#define MCB_SMALL_BODY_MAX 4096
#define MCB_INCR_EXTLEN 20
#define MCB_STORE_EXTLEN 8
#define MCB_TOUCH_EXTLEN 4
#define MCB_FLUSH_EXTLEN 4

static uint64_t load_be64(const char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | (unsigned char)p[i];
    return v;
}

static void store_be64(char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (char)(v & 0xff);
        v >>= 8;
    }
}

void mc_bin_header_decode(const char *p, mc_bin_header *h)
{
    uint16_t u16;
    uint32_t u32;
    h->magic = (uint8_t)p[0];
    h->opcode = (uint8_t)p[1];
    memcpy(&u16, p + 2, 2);
    h->keylen = ntohs(u16);
    h->extlen = (uint8_t)p[4];
    h->datatype = (uint8_t)p[5];
    memcpy(&u16, p + 6, 2);
    h->vbucket = ntohs(u16);
    memcpy(&u32, p + 8, 4);
    h->bodylen = ntohl(u32);
    memcpy(&h->opaque, p + 12, 4); /* echoed as it came: no byte order */
    h->cas = load_be64(p + 16);
}

int mc_bin_quiet(uint8_t op)
{
    switch (op) {
    case MCB_GETQ:
    case MCB_GETKQ:
    case MCB_SETQ:
    case MCB_ADDQ:
    case MCB_REPLACEQ:
    case MCB_DELETEQ:
    case MCB_INCREMENTQ:
    case MCB_DECREMENTQ:
    case MCB_QUITQ:
    case MCB_FLUSHQ:
    case MCB_APPENDQ:
    case MCB_PREPENDQ:
    case MCB_GATQ:
    case MCB_GATKQ: return 1;
    default: return 0;
    }
}

void mc_bin_response(buf *out, const mc_bin_header *h, uint16_t status, uint8_t extlen,
                     uint16_t keylen, uint32_t bodylen, uint64_t cas)
{
    char b[MC_BIN_HEADER];
    b[0] = (char)MC_BIN_RES_MAGIC;
    b[1] = (char)h->opcode;
    uint16_t k = htons(keylen), st = htons(status);
    uint32_t bl = htonl(bodylen);
    memcpy(b + 2, &k, 2);
    b[4] = (char)extlen;
    b[5] = 0; /* raw bytes */
    memcpy(b + 6, &st, 2);
    memcpy(b + 8, &bl, 4);
    memcpy(b + 12, &h->opaque, 4);
    store_be64(b + 16, cas);
    buf_append(out, b, sizeof(b));
}

/* memcached's texts for the statuses it names (write_bin_error). */
static const char *status_text(uint16_t status)
{
    switch (status) {
    case MCB_ENOMEM: return "Out of memory";
    case MCB_UNKNOWN_COMMAND: return "Unknown command";
    case MCB_KEY_ENOENT: return "Not found";
    case MCB_EINVAL: return "Invalid arguments";
    case MCB_KEY_EEXISTS: return "Data exists for key.";
    case MCB_E2BIG: return "Too large.";
    case MCB_DELTA_BADVAL: return "Non-numeric server-side value for incr or decr";
    case MCB_NOT_STORED: return "Not stored.";
    case MCB_AUTH_ERROR: return "Auth failure.";
    default: return "Internal error";
    }
}

void mc_bin_error(buf *out, const mc_bin_header *h, uint16_t status, const char *msg)
{
    const char *text = msg ? msg : status_text(status);
    size_t len = strlen(text);
    mc_bin_response(out, h, status, 0, 0, (uint32_t)len, 0);
    buf_append(out, text, len);
}

static int parse_error(mc_bin_req *r, int status, int close)
{
    r->status = status;
    r->close = close;
    return MCB_PARSE_ERROR;
}

/* The opcode without its quiet variant (what memcached's dispatch switches on). */
static uint8_t loud(uint8_t op)
{
    switch (op) {
    case MCB_GETQ: return MCB_GET;
    case MCB_GETKQ: return MCB_GETK;
    case MCB_SETQ: return MCB_SET;
    case MCB_ADDQ: return MCB_ADD;
    case MCB_REPLACEQ: return MCB_REPLACE;
    case MCB_DELETEQ: return MCB_DELETE;
    case MCB_INCREMENTQ: return MCB_INCREMENT;
    case MCB_DECREMENTQ: return MCB_DECREMENT;
    case MCB_QUITQ: return MCB_QUIT;
    case MCB_FLUSHQ: return MCB_FLUSH;
    case MCB_APPENDQ: return MCB_APPEND;
    case MCB_PREPENDQ: return MCB_PREPEND;
    case MCB_GATQ: return MCB_GAT;
    case MCB_GATKQ: return MCB_GATK;
    default: return op;
    }
}

/* Whether the lengths fit the opcode: 1 yes, 0 a protocol error, -1 an unknown opcode. */
static int lengths_ok(const mc_bin_header *h)
{
    uint32_t kl = h->keylen, el = h->extlen, bl = h->bodylen;
    switch (loud(h->opcode)) {
    case MCB_VERSION:
    case MCB_NOOP:
    case MCB_QUIT:
    case MCB_SASL_LIST_MECHS: return el == 0 && kl == 0 && bl == 0;
    case MCB_FLUSH: return kl == 0 && bl == el && (el == 0 || el == MCB_FLUSH_EXTLEN);
    case MCB_SET:
    case MCB_ADD:
    case MCB_REPLACE: return el == MCB_STORE_EXTLEN && kl != 0 && bl >= kl + MCB_STORE_EXTLEN;
    case MCB_GET:
    case MCB_GETK: return el == 0 && bl == kl && kl > 0;
    case MCB_DELETE: return kl > 0 && el == 0 && bl == kl;
    case MCB_INCREMENT:
    case MCB_DECREMENT: return kl > 0 && el == MCB_INCR_EXTLEN && bl == kl + el;
    case MCB_APPEND:
    case MCB_PREPEND: return kl > 0 && el == 0;
    case MCB_STAT: return el == 0 && bl - kl <= MCB_SMALL_BODY_MAX;
    case MCB_SASL_AUTH:
    case MCB_SASL_STEP: return el == 0 && kl != 0 && bl - kl <= MCB_SMALL_BODY_MAX;
    case MCB_TOUCH:
    case MCB_GAT:
    case MCB_GATK: return el == MCB_TOUCH_EXTLEN && kl != 0 && bl - kl - el <= MCB_SMALL_BODY_MAX;
    default: return -1;
    }
}

static int is_store(uint8_t op)
{
    switch (loud(op)) {
    case MCB_SET:
    case MCB_ADD:
    case MCB_REPLACE:
    case MCB_APPEND:
    case MCB_PREPEND: return 1;
    default: return 0;
    }
}

int mc_bin_parse(const char *p, size_t n, long long max_item, mc_bin_req *r)
{
    memset(r, 0, sizeof(*r));
    if (n < MC_BIN_HEADER)
        return MCB_PARSE_INCOMPLETE;
    mc_bin_header *h = &r->hdr;
    mc_bin_header_decode(p, h);
    if (h->magic != MC_BIN_REQ_MAGIC)
        return MCB_PARSE_CLOSE;
    r->header = (slice){p, MC_BIN_HEADER};
    r->consumed = MC_BIN_HEADER;
    if ((uint32_t)h->keylen + h->extlen > h->bodylen)
        return parse_error(r, MCB_UNKNOWN_COMMAND, 1);
    int ok = lengths_ok(h);
    if (ok < 0) {
        r->swallow = h->bodylen; /* skip the unknown command's body */
        return parse_error(r, MCB_UNKNOWN_COMMAND, 0);
    }
    if (h->keylen > MC_KEY_MAX || !ok)
        return parse_error(r, MCB_EINVAL, 1);
    size_t head = MC_BIN_HEADER + h->extlen + h->keylen;
    size_t vlen = h->bodylen - h->extlen - h->keylen;
    if (is_store(h->opcode) && (long long)(h->keylen + vlen) + MC_ITEM_OVERHEAD > max_item) {
        /* Too large: answered (set also drops the old item) without reading the value. */
        if (n < head)
            return MCB_PARSE_INCOMPLETE;
        r->too_large = 1;
        r->swallow = vlen;
        vlen = 0;
    } else if (n < MC_BIN_HEADER + (size_t)h->bodylen) {
        return MCB_PARSE_INCOMPLETE;
    }
    r->extras = (slice){p + MC_BIN_HEADER, h->extlen};
    r->key = (slice){p + MC_BIN_HEADER + h->extlen, h->keylen};
    r->value = (slice){p + head, vlen};
    r->consumed = head + vlen;
    return MCB_PARSE_OK;
}
