/* The stuck-function record: written and read back exactly, and nothing else read as one. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/stuck.h"

static void assert_round_trip(const gh_stuck *s)
{
        _cleanup_free_ char *line = NULL, *again = NULL;
        gh_stuck back;

        assert_int_equal(gh_stuck_format(s, &line), 0);
        assert_null(strchr(line, '\n'));
        assert_int_equal(gh_stuck_parse(line, &back), 0);
        assert_int_equal(gh_stuck_format(&back, &again), 0);
        assert_string_equal(again, line);
        assert_string_equal(back.addr, s->addr);
        assert_int_equal(back.op, s->op);
        assert_true(back.since == s->since && back.waiter == s->waiter && back.waiter_start == s->waiter_start);
        assert_string_equal(back.driver, s->driver);
}

static void test_round_trip(void **state)
{
        for (gh_stuck_op op = 0; op < _GH_STUCK_OP_MAX; op++) {
                assert_round_trip(&(gh_stuck){.addr = "0000:01:00.0", .op = op, .since = 1764633600123456,
                                              .waiter = 4242, .waiter_start = 987654, .driver = "nvidia"});
                /* No driver, no waiter, the largest numbers, a driver name with a space. */
                assert_round_trip(&(gh_stuck){.addr = "ffff:ff:1f.7", .op = op});
                assert_round_trip(&(gh_stuck){.addr = "0000:00:05.1", .op = op, .since = UINT64_MAX,
                                              .waiter = INT32_MAX, .waiter_start = UINT64_MAX,
                                              .driver = "snd hda"});
        }
}

static void test_format_refuses(void **state)
{
        char *line = NULL;

        assert_int_equal(gh_stuck_format(&(gh_stuck){.addr = "nope", .op = GH_STUCK_UNBIND}, &line), -EINVAL);
        assert_int_equal(gh_stuck_format(&(gh_stuck){.addr = "0000:01:00.0", .op = _GH_STUCK_OP_MAX}, &line),
                         -EINVAL);
        assert_int_equal(gh_stuck_format(&(gh_stuck){.addr = "0000:01:00.0", .driver = "a/b"}, &line), -EINVAL);
        assert_int_equal(gh_stuck_format(&(gh_stuck){.addr = "0000:01:00.0", .driver = " x"}, &line), -EINVAL);
        assert_null(line);
}

static void test_parse_refuses(void **state)
{
        static const char *const bad[] = {
                "",
                "0000:01:00.0",
                "01:00.0 unbind 1 0 0 nvidia",                /* not canonical */
                "0000:01:00.0 unbind 1 0 0",                  /* no space before the (empty) driver */
                "0000:01:00.0 remove 1 0 0 nvidia",           /* not an access we make */
                "0000:01:00.0 unbind -1 0 0 nvidia",
                "0000:01:00.0 unbind 1 -5 0 nvidia",
                "0000:01:00.0 unbind 1 2147483648 0 nvidia",  /* not a pid */
                "0000:01:00.0 unbind 18446744073709551616 0 0 nvidia",
                "0000:01:00.0 unbind 1x 0 0 nvidia",
                "0000:01:00.0 unbind 01 0 0 nvidia",          /* found by fuzzing: read as 1, written as 1 */
                "0000:01:00.0 unbind 1 00 0 nvidia",
                "0000:01:00.0 unbind 1 0 +7 nvidia",
                "0000:01:00.0  unbind 1 0 0 nvidia",
                "0000:01:00.0 unbind 1 0 0 ../../x",
                "0000:01:00.0 unbind 1 0 0 a/b",
                "0000:01:00.0 unbind 1 0 0  lead",
                "0000:01:00.0 unbind 1 0 0 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                "0000:01:00.0 unbind 1 0 0 nvidia\nmore",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                gh_stuck s = {.waiter = 7};

                if (gh_stuck_parse(bad[i], &s) != -EINVAL)
                        fail_msg("'%s' was taken for an entry", bad[i]);
                assert_int_equal(s.waiter, 7);
        }
}

static void test_describe(void **state)
{
        _cleanup_free_ char *a = NULL, *b = NULL;

        assert_int_equal(gh_stuck_describe(&(gh_stuck){.op = GH_STUCK_UNBIND, .driver = "nvidia"}, &a), 0);
        assert_string_equal(a, "its unbind (driver 'nvidia')");
        assert_int_equal(gh_stuck_describe(&(gh_stuck){.op = GH_STUCK_OVERRIDE_READ}, &b), 0);
        assert_string_equal(b, "a read of its driver_override");
        free(a);
        assert_int_equal(gh_stuck_describe(&(gh_stuck){.op = GH_STUCK_REMOVE, .driver = "nvidia"}, &a), 0);
        assert_string_equal(a, "its remove by the unload of its driver's module (driver 'nvidia')");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_format_refuses),
                cmocka_unit_test(test_parse_refuses),
                cmocka_unit_test(test_describe),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
