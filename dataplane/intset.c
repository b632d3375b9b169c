/* intset: sorted integer arrays with Redis's layout; see intset.h. */
#include "intset.h"

#include <string.h>

#include "zmalloc.h"

/* The layout is little-endian; every host dfly builds for is. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "intset assumes a little-endian host");

static uint32_t width_of(int64_t v)
{
    if (v < INT32_MIN || v > INT32_MAX)
        return INTSET_ENC_INT64;
    if (v < INT16_MIN || v > INT16_MAX)
        return INTSET_ENC_INT32;
    return INTSET_ENC_INT16;
}

/* The element at pos read at width enc (which may differ from is->encoding during an
 * upgrade). */
static int64_t get_raw(const int8_t *contents, uint32_t pos, uint32_t enc)
{
    const int8_t *p = contents + (size_t)pos * enc;
    if (enc == INTSET_ENC_INT64) {
        int64_t v;
        memcpy(&v, p, sizeof(v));
        return v;
    }
    if (enc == INTSET_ENC_INT32) {
        int32_t v;
        memcpy(&v, p, sizeof(v));
        return v;
    }
    int16_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static int64_t get_at(const intset *is, uint32_t pos, uint32_t enc)
{
    return get_raw(is->contents, pos, enc);
}

static void set_at(intset *is, uint32_t pos, int64_t v)
{
    int8_t *p = is->contents + (size_t)pos * is->encoding;
    if (is->encoding == INTSET_ENC_INT64) {
        memcpy(p, &v, sizeof(v));
    } else if (is->encoding == INTSET_ENC_INT32) {
        int32_t w = (int32_t)v;
        memcpy(p, &w, sizeof(w));
    } else {
        int16_t w = (int16_t)v;
        memcpy(p, &w, sizeof(w));
    }
}

int64_t intset_get(const intset *is, uint32_t pos)
{
    return get_at(is, pos, is->encoding);
}

int64_t intset_min(const intset *is)
{
    return intset_get(is, 0);
}

int64_t intset_max(const intset *is)
{
    return intset_get(is, is->length - 1);
}

size_t intset_bytes(const intset *is)
{
    return sizeof(intset) + (size_t)is->length * is->encoding;
}

intset *intset_new(void)
{
    intset *is = zmalloc(sizeof(intset));
    is->encoding = INTSET_ENC_INT16;
    is->length = 0;
    return is;
}

void intset_free(intset *is)
{
    zfree(is);
}

intset *intset_dup(const intset *is)
{
    size_t n = intset_bytes(is);
    intset *copy = zmalloc(n);
    memcpy(copy, is, n);
    return copy;
}

static intset *resize(intset *is, uint32_t len)
{
    return zrealloc(is, sizeof(intset) + (size_t)len * is->encoding);
}

/* Binary search: 1 and the position of v, or 0 and the position where v would go. */
static int search(const intset *is, int64_t v, uint32_t *pos)
{
    uint32_t lo = 0, hi = is->length;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int64_t cur = intset_get(is, mid);
        if (cur == v) {
            *pos = mid;
            return 1;
        }
        if (cur < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return 0;
}

/* Widens every element to fit v and adds v, which is out of the old width's range and so goes
 * to one end. Elements move from the back so that nothing is overwritten before it is read. */
static intset *upgrade_and_add(intset *is, int64_t v)
{
    uint32_t old_enc = is->encoding;
    uint32_t len = is->length;
    int at_front = v < 0;
    is->encoding = width_of(v);
    is = resize(is, len + 1);
    for (uint32_t i = len; i-- > 0;)
        set_at(is, i + (uint32_t)at_front, get_at(is, i, old_enc));
    set_at(is, at_front ? 0 : len, v);
    is->length = len + 1;
    return is;
}

intset *intset_add(intset *is, int64_t v, int *added)
{
    if (added)
        *added = 1;
    if (width_of(v) > is->encoding)
        return upgrade_and_add(is, v);
    uint32_t pos;
    if (search(is, v, &pos)) {
        if (added)
            *added = 0;
        return is;
    }
    is = resize(is, is->length + 1);
    int8_t *at = is->contents + (size_t)pos * is->encoding;
    memmove(at + is->encoding, at, (size_t)(is->length - pos) * is->encoding);
    set_at(is, pos, v);
    is->length++;
    return is;
}

intset *intset_remove(intset *is, int64_t v, int *removed)
{
    uint32_t pos;
    if (removed)
        *removed = 0;
    if (width_of(v) > is->encoding || !search(is, v, &pos))
        return is;
    int8_t *at = is->contents + (size_t)pos * is->encoding;
    memmove(at, at + is->encoding, (size_t)(is->length - pos - 1) * is->encoding);
    is->length--;
    if (removed)
        *removed = 1;
    return resize(is, is->length);
}

int intset_find(const intset *is, int64_t v)
{
    uint32_t pos;
    return width_of(v) <= is->encoding && search(is, v, &pos);
}

int intset_validate(const void *p, size_t bytes)
{
    if (bytes < sizeof(intset))
        return 0;
    intset hdr;
    memcpy(&hdr, p, sizeof(hdr));
    if (hdr.encoding != INTSET_ENC_INT16 && hdr.encoding != INTSET_ENC_INT32 &&
        hdr.encoding != INTSET_ENC_INT64)
        return 0;
    if ((bytes - sizeof(intset)) / hdr.encoding != hdr.length ||
        (bytes - sizeof(intset)) % hdr.encoding != 0)
        return 0;
    /* The blob may be unaligned (inside a payload): read it as bytes, not as an intset. */
    const int8_t *contents = (const int8_t *)p + sizeof(intset);
    for (uint32_t i = 1; i < hdr.length; i++)
        if (get_raw(contents, i - 1, hdr.encoding) >= get_raw(contents, i, hdr.encoding))
            return 0;
    return 1;
}
