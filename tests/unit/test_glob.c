/* Unit tests of glob matching (glob.c): Redis's stringmatchlen rules, byte-exact. The expected
 * answers were checked against redis-server 7.0's KEYS. */
#include <string.h>

#include "glob.h"
#include "testing.h"

static int m(const char *pat, const char *s)
{
    return glob_match(pat, strlen(pat), s, strlen(s), 0);
}

static int mi(const char *pat, const char *s)
{
    return glob_match(pat, strlen(pat), s, strlen(s), 1);
}

TEST(literals)
{
    CHECK(m("hello", "hello"));
    CHECK(!m("hello", "hell"));
    CHECK(!m("hell", "hello"));
    CHECK(!m("hello", "Hello"));
    CHECK(m("", ""));
    CHECK(!m("", "a"));
    CHECK(!m("a", ""));
}

TEST(star)
{
    CHECK(m("*", "anything"));
    CHECK(m("h*o", "hello"));
    CHECK(m("h*o", "ho"));
    CHECK(!m("h*o", "hellx"));
    CHECK(m("*llo", "hello"));
    CHECK(m("he*", "he"));
    CHECK(m("a**b", "axxb"));
    CHECK(m("*a*b*c*", "xaybzc"));
    CHECK(!m("*a*b*c*", "xaybz"));
    /* Redis's quirk: a star-only pattern does not match the empty string. */
    CHECK(!m("*", ""));
    CHECK(!m("**", ""));
}

TEST(question)
{
    CHECK(m("h?llo", "hello"));
    CHECK(m("h?llo", "hallo"));
    CHECK(!m("h?llo", "hllo"));
    CHECK(m("???", "abc"));
    CHECK(!m("???", "ab"));
    CHECK(m("?*", "a"));
}

TEST(sets)
{
    CHECK(m("h[ae]llo", "hello"));
    CHECK(m("h[ae]llo", "hallo"));
    CHECK(!m("h[ae]llo", "hillo"));
    CHECK(m("h[^e]llo", "hallo"));
    CHECK(!m("h[^e]llo", "hello"));
    CHECK(m("h[a-b]llo", "hbllo"));
    CHECK(!m("h[a-b]llo", "hcllo"));
    CHECK(m("h[b-a]llo", "hallo")); /* reversed ranges are swapped */
    /* After a range, "-e" is two plain members. */
    CHECK(m("[a-c-e]", "-"));
    CHECK(m("[a-c-e]", "b"));
    CHECK(!m("[a-c-e]", "d"));
    CHECK(m("[]]", "]") == 0); /* a set ends at the first ] */
    CHECK(m("[\\]]", "]"));
    CHECK(m("[\\-]", "-"));
    CHECK(m("x[*]", "x*"));
    CHECK(!m("x[*]", "xa"));
}

TEST(unterminated_set)
{
    /* An unterminated set runs to the end of the pattern. */
    CHECK(m("[a", "a"));
    CHECK(!m("[a", "b"));
    CHECK(m("x[ab", "xb"));
    CHECK(!m("[", "a"));
    CHECK(m("[^", "a")); /* an empty negated set matches any byte */
    CHECK(m("[^a", "b"));
    CHECK(!m("[^a", "a"));
}

TEST(escapes)
{
    CHECK(m("h\\*llo", "h*llo"));
    CHECK(!m("h\\*llo", "hello"));
    CHECK(m("\\?", "?"));
    CHECK(!m("\\?", "a"));
    CHECK(m("a\\", "a\\")); /* a trailing backslash is literal */
    CHECK(m("\\[a]", "[a]"));
}

TEST(nocase)
{
    CHECK(mi("HeLLo", "hello"));
    CHECK(mi("h[A-Z]llo", "hello"));
    CHECK(mi("H*", "hello"));
    CHECK(!m("H*", "hello"));
}

TEST(binary_and_lengths)
{
    /* Lengths are explicit: bytes past them are never read and NULs are ordinary bytes. */
    const char pat[] = {'a', '\0', '*'};
    const char s1[] = {'a', '\0', 'x', 'y'};
    const char s2[] = {'a', 'b'};
    CHECK(glob_match(pat, sizeof(pat), s1, sizeof(s1), 0));
    CHECK(!glob_match(pat, sizeof(pat), s2, sizeof(s2), 0));
    CHECK(glob_match("ab*zzz", 2, "ab", 2, 0));
    CHECK(glob_match("\xff*", 2, "\xff\x01", 2, 0));
}

TEST(match_all)
{
    CHECK(glob_is_match_all("*", 1));
    CHECK(!glob_is_match_all("**", 2));
    CHECK(!glob_is_match_all("a", 1));
}

/* Pathological patterns finish quickly (Redis's skip-longer-matches and nesting bound). */
TEST(pathological)
{
    char pat[4001], s[4001];
    for (int i = 0; i < 4000; i += 2) {
        pat[i] = 'a';
        pat[i + 1] = '*';
    }
    memset(s, 'a', 4000);
    /* Past GLOB_MAX_NESTING stars the match gives up (as Redis does) instead of recursing. */
    CHECK(!glob_match(pat, 4000, s, 4000, 0));
    CHECK(glob_match(pat, 200, s, 200, 0));
    const char *p2 = "a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
    memset(s, 'a', 100);
    CHECK(!glob_match(p2, strlen(p2), s, 100, 0));
}

int main(void)
{
    RUN_TEST(literals);
    RUN_TEST(star);
    RUN_TEST(question);
    RUN_TEST(sets);
    RUN_TEST(unterminated_set);
    RUN_TEST(escapes);
    RUN_TEST(nocase);
    RUN_TEST(binary_and_lengths);
    RUN_TEST(match_all);
    RUN_TEST(pathological);
    TEST_MAIN_END();
}
