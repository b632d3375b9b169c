/* Unit tests of dfly-control's ACL rule helpers (reconciler/acl_push.c): tokens split at spaces
 * with selectors kept whole, and ACL LIST lines normalised into rules that "reset <rules>"
 * makes again. ACL users end to end are in tests/control/test_users.py. */
#include <string.h>

#include "reconciler/acl_push.h"
#include "testing.h"

#define TOK_TEST_MAX 8
#define OUT_MAX 256

TEST(rules_split_keeps_selectors_whole)
{
    char text[] = "  +@read ~cache:*  (~tmp:* +set) &events:*";
    char *tok[TOK_TEST_MAX];
    CHECK_EQ_INT(acl_rules_split(text, tok, TOK_TEST_MAX), 4);
    CHECK_EQ_STR(tok[0], "+@read");
    CHECK_EQ_STR(tok[1], "~cache:*");
    CHECK_EQ_STR(tok[2], "(~tmp:* +set)");
    CHECK_EQ_STR(tok[3], "&events:*");
    char empty[] = "   ";
    CHECK_EQ_INT(acl_rules_split(empty, tok, TOK_TEST_MAX), 0);
}

TEST(rules_split_refuses_unbalanced_and_too_many)
{
    char *tok[TOK_TEST_MAX];
    char open[] = "+get (~a +set";
    CHECK_EQ_INT(acl_rules_split(open, tok, TOK_TEST_MAX), -1);
    char glued[] = "(~a +set)+get";
    CHECK_EQ_INT(acl_rules_split(glued, tok, TOK_TEST_MAX), -1);
    char many[] = "a b c d e f g h i";
    CHECK_EQ_INT(acl_rules_split(many, tok, TOK_TEST_MAX), -1);
}

TEST(list_line_loses_name_state_and_passwords)
{
    char out[OUT_MAX];
    CHECK_EQ_INT(acl_list_rules("user alice on sanitize-payload #5e88 #aa11 ~cache:* "
                                "resetchannels &events:* -@all +@read",
                                out, sizeof(out)),
                 0);
    CHECK_EQ_STR(out, "~cache:* resetchannels &events:* -@all +@read");
    CHECK_EQ_INT(acl_list_rules("user x off nopass %R~b resetchannels -@all (~a -@all +get)", out,
                                sizeof(out)),
                 0);
    CHECK_EQ_STR(out, "%R~b resetchannels -@all (~a -@all +get)");
    CHECK_EQ_INT(acl_list_rules("nonsense", out, sizeof(out)), -1);
    CHECK_EQ_INT(acl_list_rules("user y on ~a +get", out, 4), -1); /* does not fit */
}

int main(void)
{
    RUN_TEST(rules_split_keeps_selectors_whole);
    RUN_TEST(rules_split_refuses_unbalanced_and_too_many);
    RUN_TEST(list_line_loses_name_state_and_passwords);
    TEST_MAIN_END();
}
