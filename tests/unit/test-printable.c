/* gh_printable: control characters and DEL shown as \xNN, long text cut with "...", never past the buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "shared/printable.h"

static void test_controls_escaped(void **state)
{
        assert_string_equal(GH_PRINTABLE("a\nb\tc\x7f\x1b[0m caf\xc3\xa9"),
                            "a\\x0ab\\x09c\\x7f\\x1b[0m caf\xc3\xa9");
        assert_string_equal(GH_PRINTABLE(""), "");
}

static void test_cut_short(void **state)
{
        char buf[8];

        assert_string_equal(gh_printable("1234567", buf, sizeof(buf)), "1234567");
        assert_string_equal(gh_printable("12345678", buf, sizeof(buf)), "1234...");
        assert_string_equal(gh_printable("1234\n", buf, sizeof(buf)), "1234...");
        assert_string_equal(gh_printable("123\n", buf, sizeof(buf)), "123\\x0a");
        assert_string_equal(gh_printable("\n\n\n", buf, sizeof(buf)), "\\x0a...");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_controls_escaped),
                cmocka_unit_test(test_cut_short),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
