/* Glob matching; see glob.h. A port of Redis's stringmatchlen_impl (util.c) that never reads
 * past the pattern's length, since our arguments are not NUL-terminated. Ranges compare bytes
 * as unsigned (Redis compares signed chars, which only differs for bytes >= 0x80). */
#include "glob.h"

#include <ctype.h>

static int fold(int c, int nocase)
{
    return nocase ? tolower(c) : c;
}

/* One byte of the subject against a [...] set. pp and plen point just past the '['; on return
 * they point at the closing ']' (or the last byte of an unterminated set). */
static int match_set(const unsigned char **pp, size_t *plen, int c, int nocase)
{
    const unsigned char *p = *pp;
    size_t n = *plen;
    int negate = n > 0 && p[0] == '^';
    if (negate) {
        p++;
        n--;
    }
    int match = 0;
    c = fold(c, nocase);
    for (;;) {
        if (n == 0) {
            /* Unterminated: step back so that the caller's advance lands on the end. */
            p--;
            n++;
            break;
        }
        if (p[0] == '\\' && n >= 2) {
            p++;
            n--;
            if (fold(p[0], nocase) == c)
                match = 1;
        } else if (p[0] == ']') {
            break;
        } else if (n >= 3 && p[1] == '-') {
            int start = fold(p[0], nocase), end = fold(p[2], nocase);
            if (start > end) {
                int t = start;
                start = end;
                end = t;
            }
            p += 2;
            n -= 2;
            if (c >= start && c <= end)
                match = 1;
        } else if (fold(p[0], nocase) == c) {
            match = 1;
        }
        p++;
        n--;
    }
    *pp = p;
    *plen = n;
    return negate ? !match : match;
}

/* *skip_longer is set when the rest of the pattern after a star matched nowhere in the rest of
 * the subject: then no earlier star can help either, which keeps "a*a*a*a*b" linear-ish. */
static int match_impl(const unsigned char *p, size_t plen, const unsigned char *s, size_t slen,
                      int nocase, int *skip_longer, int nesting)
{
    if (nesting > GLOB_MAX_NESTING)
        return 0;
    while (plen && slen) {
        switch (p[0]) {
        case '*':
            while (plen >= 2 && p[1] == '*') {
                p++;
                plen--;
            }
            if (plen == 1)
                return 1;
            while (slen) {
                if (match_impl(p + 1, plen - 1, s, slen, nocase, skip_longer, nesting + 1))
                    return 1;
                if (*skip_longer)
                    return 0;
                s++;
                slen--;
            }
            *skip_longer = 1;
            return 0;
        case '?':
            s++;
            slen--;
            break;
        case '[':
            p++;
            plen--;
            if (!match_set(&p, &plen, s[0], nocase))
                return 0;
            s++;
            slen--;
            break;
        case '\\':
            if (plen >= 2) {
                p++;
                plen--;
            }
            /* fall through */
        default:
            if (fold(p[0], nocase) != fold(s[0], nocase))
                return 0;
            s++;
            slen--;
            break;
        }
        p++;
        plen--;
        if (slen == 0) {
            while (plen && p[0] == '*') {
                p++;
                plen--;
            }
            break;
        }
    }
    return plen == 0 && slen == 0;
}

int glob_match(const char *pat, size_t plen, const char *s, size_t slen, int nocase)
{
    int skip_longer = 0;
    return match_impl((const unsigned char *)pat, plen, (const unsigned char *)s, slen, nocase,
                      &skip_longer, 0);
}

int glob_is_match_all(const char *pat, size_t plen)
{
    return plen == 1 && pat[0] == '*';
}
