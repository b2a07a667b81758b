/* Units: resolve, query, and stop/start waiting for the job, against a fake systemd Manager served on a
 * private dbus-daemon under a temporary root. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "host/units.h"
#include "proc-fake.h"
#include "units-fake.h"

typedef struct fixture {
        char *root;
        uf_bus bus;
        bool have_bus;
        gh_units *u;
} fixture;

static int group_setup(void **state)
{
        fixture *f = calloc(1, sizeof(fixture));

        assert_non_null(f);
        f->root = pf_root_new("units");
        f->have_bus = uf_bus_start(f->root, &f->bus) == 0;
        if (f->have_bus)
                assert_int_equal(gh_units_open(f->root, &f->u), 0);
        *state = f;
        return 0;
}

static int group_teardown(void **state)
{
        fixture *f = *state;

        gh_units_free(f->u);
        uf_bus_stop(&f->bus);
        pf_root_free(f->root);
        free(f);
        return 0;
}

static gh_units *units(void **state)
{
        fixture *f = *state;

        if (!f->have_bus)
                fail_msg("no dbus-daemon in PATH (package dbus, which scripts/test installs)");
        return f->u;
}

static bool active(gh_units *u, const char *name)
{
        bool a = false;

        assert_int_equal(gh_units_is_active(u, name, &a), 0);
        return a;
}

static void test_open_no_bus(void **state)
{
        _cleanup_pf_root_ char *empty = pf_root_new("units-nobus");
        gh_units *u = NULL;

        assert_true(gh_units_open(empty, &u) < 0);
        assert_null(u);
        assert_null(gh_units_free(NULL));
}

static void test_resolve(void **state)
{
        gh_units *u = units(state);
        _cleanup_free_ char *dm = NULL, *gdm = NULL, *lazy = NULL;
        char *none = NULL;

        assert_int_equal(gh_units_resolve(u, "display-manager.service", &dm), 0);
        assert_string_equal(dm, "gdm.service");
        assert_int_equal(gh_units_resolve(u, "gdm.service", &gdm), 0);
        assert_string_equal(gdm, "gdm.service");
        /* Unknown to GetUnit until loaded. */
        assert_int_equal(gh_units_resolve(u, "lazy.service", &lazy), 0);
        assert_string_equal(lazy, "lazy.service");
        assert_int_equal(gh_units_resolve(u, "nope.service", &none), -ENOENT);
        assert_null(none);
        assert_int_equal(gh_units_resolve(u, "unheard-of.service", &none), -ENOENT);
        assert_null(none);
}

static void test_is_active(void **state)
{
        gh_units *u = units(state);

        assert_true(active(u, "display-manager.service"));
        assert_true(active(u, "stuck.service"));
        assert_true(active(u, "lazy.service")); /* activating */
        assert_false(active(u, "broken.service"));
        assert_false(active(u, "nope.service"));
        assert_false(active(u, "unheard-of.service"));
}

/* A manager that does not answer a query: the query gives up after GH_UNITS_QUERY_TIMEOUT, not sd-bus's
 * 25 s, and the caller goes on with an error. */
static void test_query_has_a_timeout(void **state)
{
        gh_units *u = units(state);
        usec_t start = now_usec();
        bool on = true;

        assert_int_equal(gh_units_is_active(u, "mute.service", &on), -ETIMEDOUT);
        assert_true(now_usec() - start < GH_UNITS_QUERY_TIMEOUT + 10 * USEC_PER_SEC);
        /* The connection still serves the next query. */
        assert_true(active(u, "gdm.service"));
}

static void test_stop_start_wait_for_job(void **state)
{
        gh_units *u = units(state);
        gh_error err = {};

        /* The fake turns the unit inactive only when it sends JobRemoved, after the reply: returning
         * before that would still see it active. */
        assert_true(active(u, "gdm.service"));
        assert_int_equal(
                gh_units_stop(u, "display-manager.service", deadline_after(30 * USEC_PER_SEC), &err), 0);
        assert_false(gh_error_isset(&err));
        assert_false(active(u, "gdm.service"));

        assert_int_equal(gh_units_start(u, "gdm.service", deadline_after(30 * USEC_PER_SEC), &err), 0);
        assert_true(active(u, "gdm.service"));
        /* Starting what runs already is a job that is simply done. */
        assert_int_equal(gh_units_start(u, "gdm.service", deadline_after(30 * USEC_PER_SEC), &err), 0);
        assert_true(active(u, "gdm.service"));
        assert_false(gh_error_isset(&err));
}

/* The fake sends JobRemoved to subscribed clients only: a wait that did not Subscribe() first would run
 * into its deadline. Each job's subscription is undone once it has its answer. */
static void test_jobs_subscribe_and_unsubscribe(void **state)
{
        fixture *f = *state;
        gh_units *u = units(state);
        gh_error err = {};

        assert_int_equal(gh_units_stop(u, "gdm.service", deadline_after(5 * USEC_PER_SEC), &err), 0);
        assert_false(gh_error_isset(&err));
        assert_int_equal(uf_bus_subscribers(f->root), 0);
        assert_int_equal(gh_units_start(u, "gdm.service", deadline_after(5 * USEC_PER_SEC), &err), 0);
        assert_int_equal(uf_bus_subscribers(f->root), 0);
        /* A job that fails unsubscribes too. */
        assert_int_equal(gh_units_start(u, "broken.service", deadline_after(5 * USEC_PER_SEC), &err), -EIO);
        assert_int_equal(uf_bus_subscribers(f->root), 0);
        assert_true(active(u, "gdm.service"));
}

/* A user's manager, reached on its private socket under the root: a direct connection, whose signals
 * carry no sender. Stop and start wait for their jobs there too; a user without a manager is -ENOENT. */
static void test_user_manager_private_socket(void **state)
{
        fixture *f = *state;
        gh_units *u = NULL;
        gh_error err = {};

        (void)units(state);
        assert_int_equal(gh_units_open_user(f->root, 1001, &u), -ENOENT);
        assert_null(u);
        assert_int_equal(gh_units_open_user(f->root, 1000, &u), 0);
        assert_true(active(u, "gdm.service"));
        assert_int_equal(gh_units_stop(u, "gdm.service", deadline_after(5 * USEC_PER_SEC), &err), 0);
        assert_false(active(u, "gdm.service"));
        assert_int_equal(gh_units_start(u, "gdm.service", deadline_after(5 * USEC_PER_SEC), &err), 0);
        assert_true(active(u, "gdm.service"));
        assert_int_equal(gh_units_stop(u, "idle.service", deadline_after(5 * USEC_PER_SEC), &err), 0);
        assert_false(gh_error_isset(&err));
        gh_units_free(u);
}

static void test_job_removed_before_reply(void **state)
{
        gh_units *u = units(state);
        gh_error err = {};

        /* Missing the early JobRemoved would mean waiting until the deadline and -ETIMEDOUT. */
        assert_int_equal(gh_units_stop(u, "idle.service", deadline_after(20 * USEC_PER_SEC), &err), 0);
        assert_int_equal(gh_units_start(u, "idle.service", deadline_after(20 * USEC_PER_SEC), &err), 0);
        assert_false(gh_error_isset(&err));
        assert_true(active(u, "idle.service"));
}

static void test_job_failed(void **state)
{
        gh_units *u = units(state);
        gh_error err = {};
        int r;

        r = gh_units_start(u, "broken.service", deadline_after(30 * USEC_PER_SEC), &err);
        assert_true(r < 0);
        assert_int_equal(err.code, r);
        assert_non_null(strstr(err.msg, "'broken.service'"));
        assert_non_null(strstr(err.msg, "'failed'"));
        assert_false(active(u, "broken.service"));
}

static void test_job_never_finishes(void **state)
{
        gh_units *u = units(state);
        usec_t deadline = deadline_after(500 * USEC_PER_MSEC);
        gh_error err = {};

        /* Meanwhile the fake sends JobRemoved for some other job: that one must not count. */
        assert_int_equal(gh_units_stop(u, "stuck.service", deadline, &err), -ETIMEDOUT);
        assert_true(now_usec() >= deadline);
        assert_non_null(strstr(err.msg, "'stuck.service'"));
        assert_true(active(u, "stuck.service"));
}

/* The report: a stop that runs into its deadline leaves its job running; undoing the stop must cancel
 * that job, or the start waits behind it (here for ever) and the unit stays down. */
static void test_start_cancels_timed_out_stop(void **state)
{
        gh_units *u = units(state);
        gh_error err = {}, err2 = {};

        assert_int_equal(gh_units_stop(u, "hang.service", deadline_after(300 * USEC_PER_MSEC), &err),
                         -ETIMEDOUT);
        assert_non_null(strstr(err.msg, "'hang.service'"));
        assert_false(active(u, "hang.service")); /* deactivating, its stop job still running */
        assert_int_equal(gh_units_start(u, "hang.service", deadline_after(3 * USEC_PER_SEC), &err2), 0);
        assert_false(gh_error_isset(&err2));
        assert_true(active(u, "hang.service"));
}

/* The e2e test's unit: an ExecStop that never ends keeps the unit deactivating after its job is cancelled,
 * and a start behind it would wait for ever; undoing the stop ends that command (KillUnit "control"). */
static void test_start_ends_hanging_exec_stop(void **state)
{
        gh_units *u = units(state);
        gh_error err = {}, err2 = {};

        assert_int_equal(gh_units_stop(u, "forever.service", deadline_after(300 * USEC_PER_MSEC), &err),
                         -ETIMEDOUT);
        assert_false(active(u, "forever.service"));
        assert_int_equal(gh_units_start(u, "forever.service", deadline_after(3 * USEC_PER_SEC), &err2), 0);
        assert_false(gh_error_isset(&err2));
        assert_true(active(u, "forever.service"));
}

/* The stop job ended after its deadline but before the start: there is nothing to cancel. */
static void test_start_after_late_stop(void **state)
{
        gh_units *u = units(state);
        gh_error err = {}, err2 = {};

        assert_int_equal(gh_units_stop(u, "gdm.service", deadline_after(50 * USEC_PER_MSEC), &err),
                         -ETIMEDOUT);
        (void)deadline_sleep(deadline_after(3 * UF_JOB_DELAY_MSEC * USEC_PER_MSEC),
                             3 * UF_JOB_DELAY_MSEC * USEC_PER_MSEC);
        assert_int_equal(gh_units_start(u, "gdm.service", deadline_after(5 * USEC_PER_SEC), &err2), 0);
        assert_false(gh_error_isset(&err2));
        assert_true(active(u, "gdm.service"));
}

static void test_job_not_found(void **state)
{
        gh_units *u = units(state);
        gh_error err = {}, err2 = {};

        assert_int_equal(gh_units_start(u, "nope.service", deadline_after(30 * USEC_PER_SEC), &err),
                         -ENOENT);
        assert_non_null(strstr(err.msg, "'nope.service'"));
        assert_int_equal(gh_units_stop(u, "unheard-of.service", deadline_after(30 * USEC_PER_SEC), &err2),
                         -ENOENT);
        assert_non_null(strstr(err2.msg, "'unheard-of.service'"));
}

static void test_deadline_already_passed(void **state)
{
        gh_units *u = units(state);
        gh_error err = {};

        assert_int_equal(gh_units_stop(u, "gdm.service", now_usec(), &err), -ETIMEDOUT);
        assert_non_null(strstr(err.msg, "'gdm.service'"));
        assert_true(active(u, "gdm.service"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_open_no_bus),
                cmocka_unit_test(test_resolve),
                cmocka_unit_test(test_is_active),
                cmocka_unit_test(test_query_has_a_timeout),
                cmocka_unit_test(test_stop_start_wait_for_job),
                cmocka_unit_test(test_jobs_subscribe_and_unsubscribe),
                cmocka_unit_test(test_user_manager_private_socket),
                cmocka_unit_test(test_job_removed_before_reply),
                cmocka_unit_test(test_job_failed),
                cmocka_unit_test(test_job_never_finishes),
                cmocka_unit_test(test_start_cancels_timed_out_stop),
                cmocka_unit_test(test_start_ends_hanging_exec_stop),
                cmocka_unit_test(test_start_after_late_stop),
                cmocka_unit_test(test_job_not_found),
                cmocka_unit_test(test_deadline_already_passed),
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
