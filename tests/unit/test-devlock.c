/* Device-lock accesses against the stuck list, under the fake kernel: a timeout lists the function; a
 * listed function whose waiter is still in the kernel is not touched; one whose waiter is gone gets a
 * short try, which takes it off the list when the device answers. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "fakesys.h"
#include "host/devlock.h"
#include "host/procstat.h"
#include "host/stucklist.h"

#define GPU "0000:01:00.0"
#define LONG_DEADLINE (deadline_after(10 * USEC_PER_SEC))
#define SHORT_DEADLINE (deadline_after(200 * USEC_PER_MSEC))

static int setup(void **state)
{
        fakesys *fs = fakesys_new();

        fakesys_add_driver(fs, "nvidia", "nvidia");
        fakesys_add_driver(fs, "vfio-pci", "vfio_pci");
        fakesys_add_dev(fs, GPU, 0x030000, 0x10de, 0x1b80, 1);
        fakesys_bind(fs, GPU, "nvidia");
        *state = fs;
        return 0;
}

static int teardown(void **state)
{
        fakesys_free(*state);
        return 0;
}

static const char *root_of(void **state)
{
        return fakesys_root(*state);
}

/* The entry for GPU; fails the test when there is none. */
static gh_stuck entry(void **state)
{
        gh_error err = {};
        gh_stuck s;

        if (gh_stucklist_find(root_of(state), 0, GPU, &s, &err) != 1)
                fail_msg("%s is not on the stuck list (%s)", GPU, err.msg);
        return s;
}

static bool listed(void **state)
{
        gh_error err = {};
        gh_stuck s;

        return gh_stucklist_find(root_of(state), 0, GPU, &s, &err) == 1;
}

/* Lists GPU with waiter as the process left in the kernel. */
static void list_with_waiter(void **state, pid_t waiter)
{
        gh_stuck s = {.addr = GPU, .op = GH_STUCK_UNBIND, .since = 1, .waiter = waiter, .driver = "nvidia"};
        gh_error err = {};

        if (waiter > 0)
                assert_int_equal(gh_proc_stat("/proc", waiter, NULL, &s.waiter_start), 0);
        assert_int_equal(gh_stucklist_put(root_of(state), 0, &s, &err), 0);
}

static void test_timeout_lists(void **state)
{
        gh_stuck s;

        fakesys_block_unbind(*state, GPU);
        assert_int_equal(gh_devlock_unbind(root_of(state), GPU, "nvidia", SHORT_DEADLINE), -ETIMEDOUT);
        s = entry(state);
        assert_int_equal(s.op, GH_STUCK_UNBIND);
        assert_string_equal(s.driver, "nvidia");
        assert_true(s.since > 0);
        /* A later access that times out keeps the first one's record. */
        assert_int_equal(gh_devlock_set_override(root_of(state), GPU, "vfio-pci", SHORT_DEADLINE), -ETIMEDOUT);
        assert_int_equal(entry(state).op, GH_STUCK_UNBIND);
        assert_int_equal(entry(state).since, s.since);
}

/* A waiter still in the kernel (here a process of ours that sleeps): the device is not touched at all, so
 * even a free device keeps its override. */
static void test_live_waiter_not_touched(void **state)
{
        _cleanup_free_ char *o = NULL;
        pid_t waiter = fork();
        int status;

        assert_true(waiter >= 0);
        if (waiter == 0) {
                pause();
                _exit(0);
        }
        list_with_waiter(state, waiter);
        assert_int_equal(gh_devlock_set_override(root_of(state), GPU, "vfio-pci", LONG_DEADLINE), -EDEADLK);
        assert_int_equal(gh_devlock_read_override(root_of(state), GPU, LONG_DEADLINE, &o), -EDEADLK);
        assert_int_equal(gh_devlock_probe(root_of(state), GPU, LONG_DEADLINE), -EDEADLK);
        assert_int_equal(gh_devlock_unbind(root_of(state), GPU, "nvidia", LONG_DEADLINE), -EDEADLK);
        assert_true(listed(state));
        kill(waiter, SIGKILL);
        assert_int_equal(waitpid(waiter, &status, 0), waiter);
        /* Gone: the device answers now, and leaves the list. */
        assert_int_equal(gh_devlock_read_override(root_of(state), GPU, LONG_DEADLINE, &o), 0);
        assert_null(o);
        assert_false(listed(state));
}

/* No waiter left, the device still locked: a short try, not the whole deadline, and still listed. */
static void test_dead_waiter_short_try(void **state)
{
        usec_t start;
        char *o = NULL;

        fakesys_lock_dev(*state, GPU);
        list_with_waiter(state, 0);
        start = now_usec();
        assert_int_equal(gh_devlock_read_override(root_of(state), GPU, LONG_DEADLINE, &o), -ETIMEDOUT);
        assert_true(now_usec() - start < 5 * USEC_PER_SEC);
        assert_true(listed(state));
}

/* An unbind that finds nothing to do has not shown the lock free: the entry stays. */
static void test_unbind_does_not_clear(void **state)
{
        list_with_waiter(state, 0);
        /* Not bound to vfio-pci: nothing to write. */
        assert_int_equal(gh_devlock_unbind(root_of(state), GPU, "vfio-pci", LONG_DEADLINE), 0);
        assert_true(listed(state));
        assert_int_equal(gh_devlock_probe(root_of(state), GPU, LONG_DEADLINE), 0);
        assert_false(listed(state));
}

static void test_error_line(void **state)
{
        gh_error err = {}, listed_err = {};

        assert_int_equal(gh_devlock_error(root_of(state), GPU, -ETIMEDOUT, &err), -ETIMEDOUT);
        assert_string_equal(err.msg, GPU " did not answer in time: the kernel keeps the device locked (is a "
                                     "driver stuck in unbind?)");
        list_with_waiter(state, getpid());
        assert_int_equal(gh_devlock_error(root_of(state), GPU, -EDEADLK, &listed_err), -EDEADLK);
        assert_true(startswith(listed_err.msg, GPU " is stuck: its unbind (driver 'nvidia') has not finished since "));
        assert_non_null(strstr(listed_err.msg, "; pid "));
        assert_true(endswith(listed_err.msg, " still waits in the kernel. It is left alone until that ends or the "
                                      "host reboots"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_timeout_lists, setup, teardown),
                cmocka_unit_test_setup_teardown(test_live_waiter_not_touched, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dead_waiter_short_try, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unbind_does_not_clear, setup, teardown),
                cmocka_unit_test_setup_teardown(test_error_line, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
