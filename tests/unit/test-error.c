/* gh_error: the first error wins, and a replacement may wrap the message it replaces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>

#include "shared/error.h"

static void test_first_error_wins(void **state)
{
        gh_error err = {};

        assert_int_equal(gh_error_set(&err, -ENODEV, "no device '%s'", "0000:01:00.0"), -ENODEV);
        assert_int_equal(gh_error_set(&err, -EIO, "later"), -EIO);
        assert_int_equal(err.code, -ENODEV);
        assert_string_equal(err.msg, "no device '0000:01:00.0'");
        assert_int_equal(gh_error_set(NULL, -EIO, "nowhere"), -EIO);
}

static void test_replace_wraps_the_old_message(void **state)
{
        gh_error err = {};

        gh_error_set(&err, -ETIMEDOUT, "unbinding 0000:00:05.1 did not finish in time");
        assert_int_equal(
                gh_error_replace(&err, -EBUSY, "domain '%s': %s (the journal is kept)", "win11", err.msg),
                -EBUSY);
        assert_int_equal(err.code, -EBUSY);
        assert_string_equal(
                err.msg,
                "domain 'win11': unbinding 0000:00:05.1 did not finish in time (the journal is kept)");
        assert_int_equal(gh_error_replace(&err, -EIO, "%s, twice", err.msg), -EIO);
        assert_string_equal(err.msg, "domain 'win11': unbinding 0000:00:05.1 did not finish in time (the "
                                     "journal is kept), twice");
        assert_int_equal(gh_error_replace(NULL, -EIO, "nowhere"), -EIO);
}

static void test_append_keeps_every_item(void **state)
{
        gh_error err = {};
        char big[GH_ERROR_MAX];

        assert_int_equal(gh_error_append(NULL, -EIO, "; ", "x"), -EIO);
        assert_int_equal(gh_error_append(&err, -EIO, "; ", "a %d", 1), -EIO);
        assert_int_equal(gh_error_append(&err, -ENOENT, "; ", "b %d", 2), -ENOENT);
        assert_string_equal(err.msg, "a 1; b 2");
        assert_int_equal(err.code, -EIO); /* the first one's */
        /* Full: cut short, never past the end. */
        memset(big, 'z', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        gh_error_append(&err, -EIO, "; ", "%s", big);
        gh_error_append(&err, -EIO, "; ", "more");
        assert_int_equal(strlen(err.msg), GH_ERROR_MAX - 1);
        assert_int_equal(strncmp(err.msg, "a 1; b 2; zzz", 13), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_first_error_wins),
                cmocka_unit_test(test_replace_wraps_the_old_message),
                cmocka_unit_test(test_append_keeps_every_item),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
