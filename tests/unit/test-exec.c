/* The executor against a fake host: hand-over, release from the journal, and rollback at every step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/exec.h"
#include "fake-host.h"
#include "shared/strv.h"

/* The single-GPU hand-over of the VM test, with a restart right after the bind to cover START_UNIT. */
static const char *const plan_lines[] = {
        "stop-unit name=gdm.service",
        "stop-unit name=persistd.service",
        "end-holders nodes=/dev/dri/card0,/dev/snd/controlC0 mode=terminate grace=5",
        "set-override addr=0000:00:05.0 driver=bochs-drm",
        "set-override addr=0000:00:05.1 driver=snd_hda_intel",
        "unload-module name=bochs",
        "unbind addr=0000:00:05.1 driver=snd_hda_intel",
        "load-module name=vfio-pci",
        "bind-vfio addr=0000:00:05.0 group=2",
        "bind-vfio addr=0000:00:05.1 group=2",
        "start-unit name=gdm.service",
};

typedef struct fixture {
        fake_host host;
        gh_plan plan;
        gh_error err;
        unsigned done, undone;
} fixture;

/* A GPU and its HDMI audio, each bound to its host driver, and what the host has around them (space
 * separated; NULL for none). */
typedef struct host_spec {
        const char *gpu, *gpu_driver, *audio;
        const char *modules, *units, *held_nodes, *need_device;
} host_spec;

/* The desktop of the VM test. */
static const host_spec bochs_host = {
        .gpu = "0000:00:05.0",
        .gpu_driver = "bochs-drm",
        .audio = "0000:00:05.1",
        .modules = "bochs snd_hda_intel",
        .units = "gdm.service persistd.service",
        .held_nodes = "/dev/dri/card0",
};

static void strv_init(char ***l, const char *words)
{
        if (words)
                assert_int_equal(strv_split(words, " ", l), 0);
}

static void host_init(fake_host *h, const host_spec *spec)
{
        *h = (fake_host){};
        fake_host_add_dev(h, spec->gpu, spec->gpu_driver, spec->gpu_driver);
        fake_host_add_dev(h, spec->audio, "snd_hda_intel", "snd_hda_intel");
        strv_init(&h->modules, spec->modules);
        strv_init(&h->active_units, spec->units);
        strv_init(&h->held_nodes, spec->held_nodes);
        strv_init(&h->need_device, spec->need_device);
}

static void plan_from_lines(gh_plan *plan, const char *const *lines, size_t n)
{
        *plan = (gh_plan){.domain = strdup("win11"), .timeout_sec = 60};
        plan->steps = calloc(n, sizeof(gh_step));
        for (size_t i = 0; i < n; i++)
                assert_int_equal(gh_step_from_line(lines[i], &plan->steps[i], NULL), 0);
        plan->n_steps = n;
}

/* The prepare's deadline, as the hook sets it: the plan's budget from now. */
static usec_t budget(const gh_plan *plan)
{
        return deadline_after((usec_t)plan->timeout_sec * USEC_PER_SEC);
}

static int setup(void **state)
{
        fixture *fx = calloc(1, sizeof(fixture));

        host_init(&fx->host, &bochs_host);
        plan_from_lines(&fx->plan, plan_lines, ELEMENTSOF(plan_lines));
        *state = fx;
        return 0;
}

static int teardown(void **state)
{
        fixture *fx = *state;

        fake_host_done(&fx->host);
        gh_plan_done(&fx->plan);
        free(fx);
        return 0;
}

static void count_steps(void *ctx, size_t index, const gh_step *s, const gh_giveback_action *undo, int r,
                        usec_t duration, const gh_error *err)
{
        fixture *fx = ctx;

        if (undo)
                fx->undone++;
        else
                fx->done++;
}

static const char initial_state[] = "0000:00:05.0 driver=bochs-drm override=\n"
                                    "0000:00:05.1 driver=snd_hda_intel override=\n"
                                    "modules: bochs snd_hda_intel\n"
                                    "units: gdm.service persistd.service\n";

static void assert_state(const fake_host *h, const char *want)
{
        _cleanup_free_ char *s = fake_host_state(h);

        assert_string_equal(s, want);
}

static int undo_journal(fake_host *h, char **journal, gh_error *err)
{
        size_t n = strv_length(journal);
        gh_step *steps = calloc(n + 1, sizeof(gh_step));
        int r;

        for (size_t i = 0; i < n; i++)
                assert_int_equal(gh_step_from_line(journal[i], &steps[i], NULL), 0);
        r = gh_exec_undo(steps, n, 60 * USEC_PER_SEC, &fake_host_ops, h, NULL, err);
        for (size_t i = 0; i < n; i++)
                gh_step_done(&steps[i]);
        free(steps);
        return r;
}

static void test_prepare_then_release(void **state)
{
        fixture *fx = *state;
        gh_exec_observer obs = {.step_done = count_steps, .ctx = fx};
        int undo = -1;

        assert_state(&fx->host, initial_state);
        assert_int_equal(gh_exec_prepare(&fx->plan, budget(&fx->plan), &fake_host_ops, &fx->host, &obs,
                                         &undo, &fx->err),
                         0);
        assert_state(&fx->host, "0000:00:05.0 driver=vfio-pci override=vfio-pci\n"
                                "0000:00:05.1 driver=vfio-pci override=vfio-pci\n"
                                "modules: snd_hda_intel\n"
                                "units: gdm.service\n");
        assert_int_equal(fx->done, ELEMENTSOF(plan_lines));
        assert_int_equal(fx->undone, 0);
        /* The journal is the plan, line for line, written before each step. */
        assert_int_equal(strv_length(fx->host.journal), ELEMENTSOF(plan_lines));
        for (size_t i = 0; i < ELEMENTSOF(plan_lines); i++)
                assert_string_equal(fx->host.journal[i], plan_lines[i]);

        assert_int_equal(undo_journal(&fx->host, fx->host.journal, &fx->err), 0);
        assert_state(&fx->host, initial_state);
}

static void test_rollback_at_every_call(void **state)
{
        fixture *fx = *state;
        unsigned total;
        int undo;

        assert_int_equal(gh_exec_prepare(&fx->plan, budget(&fx->plan), &fake_host_ops, &fx->host, NULL,
                                         &undo, &fx->err),
                         0);
        total = fx->host.n_calls;
        assert_int_equal(total, 2 * ELEMENTSOF(plan_lines)); /* a journal line and an operation per step */
        for (unsigned k = 1; k <= total; k++) {
                fake_host h;
                gh_error err = {};

                host_init(&h, &bochs_host);
                h.fail_call = k;
                assert_int_equal(
                        gh_exec_prepare(&fx->plan, budget(&fx->plan), &fake_host_ops, &h, NULL, &undo, &err),
                        -EIO);
                assert_int_equal(undo, 0);
                assert_true(err.msg[0] != 0);
                /* Steps up to the failed one were journaled; none after it. */
                assert_int_equal(strv_length(h.journal), k / 2);
                _cleanup_free_ char *st = fake_host_state(&h);
                if (!streq(st, initial_state))
                        fail_msg("failing call %u (%s) left:\n%s", k, h.calls[k - 1], st);
                fake_host_done(&h);
        }
}

static void test_failed_step_is_named(void **state)
{
        fixture *fx = *state;
        int undo;

        fx->host.fail_call = 12; /* the unload of bochs */
        assert_int_equal(gh_exec_prepare(&fx->plan, budget(&fx->plan), &fake_host_ops, &fx->host, NULL,
                                         &undo, &fx->err),
                         -EIO);
        assert_string_equal(fx->host.calls[11], "module_unload bochs");
        assert_non_null(strstr(fx->err.msg, "unload-module bochs"));
}

/* An unload whose exit function hangs (in a driver's remove) leaves the functions of its drivers stuck:
 * the journal names each of the hand-over's that the stuck list has, once, as for an unbind that hangs. */
static void test_unload_timeout_journals_stuck(void **state)
{
        fixture *fx = *state;
        unsigned lines = 0;
        int undo;

        fx->host.fail_call = 12; /* the unload of bochs */
        fx->host.fail_error = -ETIMEDOUT;
        assert_int_equal(strv_extend(&fx->host.stuck, "0000:00:05.0"), 0);
        assert_int_equal(gh_exec_prepare(&fx->plan, budget(&fx->plan), &fake_host_ops, &fx->host, NULL,
                                         &undo, &fx->err),
                         -ETIMEDOUT);
        assert_string_equal(fx->host.calls[11], "module_unload bochs");
        STRV_FOREACH (l, fx->host.journal)
                if (startswith(*l, "stuck ")) {
                        lines++;
                        assert_non_null(strstr(*l, "0000:00:05.0 module-unload "));
                }
        assert_int_equal(lines, 1);
}

static void test_undo_goes_on_after_failure(void **state)
{
        fixture *fx = *state;
        unsigned before;
        int undo;

        assert_int_equal(gh_exec_prepare(&fx->plan, budget(&fx->plan), &fake_host_ops, &fx->host, NULL,
                                         &undo, &fx->err),
                         0);
        before = fx->host.n_calls;
        fx->host.fail_call = before + 1;
        assert_int_equal(undo_journal(&fx->host, fx->host.journal, &fx->err), -EIO);
        assert_non_null(strstr(fx->err.msg, "undo of"));
        /* Everything after the failed undo still ran: both units are back. */
        assert_true(strv_contains(fx->host.calls, "unit_start persistd.service"));
        assert_true(strv_contains(fx->host.active_units, "persistd.service"));
        assert_true(strv_contains(fx->host.active_units, "gdm.service"));
        assert_string_equal(fake_host_dev(&fx->host, "0000:00:05.0")->driver, "bochs-drm");
}

/* A unit stopped at prepare that no longer exists at release (a transient unit is gone once stopped):
 * nothing to start again, and no failure. */
static void test_undo_unit_gone(void **state)
{
        fixture *fx = *state;
        fake_host *h = &fx->host;
        int undo;

        assert_int_equal(
                gh_exec_prepare(&fx->plan, budget(&fx->plan), &fake_host_ops, h, NULL, &undo, &fx->err), 0);
        assert_int_equal(strv_split("unit_start persistd.service", ",", &h->fail_ops), 0);
        h->fail_ops_error = -ENOENT;
        assert_int_equal(undo_journal(h, h->journal, &fx->err), 0);
        assert_false(gh_error_isset(&fx->err));
        assert_true(strv_contains(h->active_units, "gdm.service"));
        assert_string_equal(fake_host_dev(h, "0000:00:05.0")->driver, "bochs-drm");
        /* Any other failure to start it is one. */
        h->fail_ops_error = -EIO;
        assert_int_equal(
                gh_exec_prepare(&fx->plan, budget(&fx->plan), &fake_host_ops, h, NULL, &undo, &fx->err), 0);
        assert_int_equal(undo_journal(h, h->journal, &fx->err), -EIO);
}

/* Two undos fail: every other undo still runs, and the one error names both failures. */
static void test_undo_names_every_failure(void **state)
{
        fixture *fx = *state;
        fake_host *h = &fx->host;
        static const char *const others[] = {
                "dev_unbind 0000:00:05.1",    "dev_unbind 0000:00:05.0", "module_load bochs",
                "dev_give_back 0000:00:05.1", "unit_start gdm.service",
        };
        unsigned before;
        int undo;

        assert_int_equal(
                gh_exec_prepare(&fx->plan, budget(&fx->plan), &fake_host_ops, h, NULL, &undo, &fx->err), 0);
        before = h->n_calls;
        assert_int_equal(
                strv_split("dev_give_back 0000:00:05.0,unit_start persistd.service", ",", &h->fail_ops), 0);
        assert_int_equal(undo_journal(h, h->journal, &fx->err), -EIO);
        for (size_t i = 0; i < ELEMENTSOF(others); i++)
                if (!strv_contains(h->calls + before, others[i]))
                        fail_msg("undo '%s' did not run after the failures", others[i]);
        assert_non_null(strstr(fx->err.msg, "2 undos failed"));
        assert_non_null(strstr(fx->err.msg, "0000:00:05.0"));
        assert_non_null(strstr(fx->err.msg, "persistd.service"));
        assert_true(strv_contains(h->active_units, "gdm.service"));
        assert_string_equal(fake_host_dev(h, "0000:00:05.1")->driver, "snd_hda_intel");
}

/* The same in a rollback: the step's failure comes first, then every undo that failed. */
static void test_rollback_names_every_failure(void **state)
{
        fixture *fx = *state;
        fake_host *h = &fx->host;
        int undo = 0;

        assert_int_equal(strv_split("dev_give_back 0000:00:05.1,unit_start gdm.service", ",", &h->fail_ops),
                         0);
        h->fail_call = 18; /* the bind of 05.0 (ninth step) */
        assert_int_equal(
                gh_exec_prepare(&fx->plan, budget(&fx->plan), &fake_host_ops, h, NULL, &undo, &fx->err),
                -EIO);
        assert_int_equal(undo, -EIO);
        assert_non_null(strstr(fx->err.msg, "bind-vfio 0000:00:05.0 failed"));
        assert_non_null(strstr(fx->err.msg, "rollback failed too: 2 undos failed"));
        assert_non_null(strstr(fx->err.msg, "0000:00:05.1"));
        assert_non_null(strstr(fx->err.msg, "gdm.service"));
        assert_true(strv_contains(h->active_units, "persistd.service"));
        assert_string_equal(fake_host_dev(h, "0000:00:05.0")->driver, "bochs-drm");
}

/* The report: a unit's start waits behind a stop job that never ends and takes the whole budget; the
 * display manager's start after it then has no time left and the desktop stays down. */
static void test_hung_undo_leaves_time_for_the_rest(void **state)
{
        fixture *fx = *state;
        fake_host *h = &fx->host;
        usec_t timeout = 600 * USEC_PER_MSEC, start;
        int undo;

        assert_int_equal(
                gh_exec_prepare(&fx->plan, budget(&fx->plan), &fake_host_ops, h, NULL, &undo, &fx->err), 0);
        assert_int_equal(strv_split("unit_start persistd.service", ",", &h->hang_ops), 0);
        start = now_usec();
        assert_int_equal(
                gh_exec_undo(fx->plan.steps, fx->plan.n_steps, timeout, &fake_host_ops, h, NULL, &fx->err),
                -ETIMEDOUT);
        assert_true(now_usec() - start < timeout + 200 * USEC_PER_MSEC);
        assert_non_null(strstr(fx->err.msg, "persistd.service"));
        assert_null(strstr(fx->err.msg, "gdm.service"));
        assert_true(strv_contains(h->active_units, "gdm.service"));
        assert_string_equal(fake_host_dev(h, "0000:00:05.0")->driver, "bochs-drm");
}

/* The rollback has the fixed grace, not a fresh full budget: a prepare that ran out of its budget
 * still undoes everything, and the whole returns within the budget plus the grace. */
static void test_rollback_has_the_grace(void **state)
{
        fixture *fx = *state;
        fake_host *h = &fx->host;
        usec_t grace = GH_EXEC_ROLLBACK_GRACE_SEC * USEC_PER_SEC, start = now_usec();
        int undo = -1;

        assert_int_equal(strv_split("unit_stop persistd.service", ",", &h->hang_ops), 0);
        assert_int_equal(gh_exec_prepare(&fx->plan, deadline_after(300 * USEC_PER_MSEC), &fake_host_ops, h,
                                         NULL, &undo, &fx->err),
                         -ETIMEDOUT);
        assert_non_null(strstr(fx->err.msg, "'persistd.service'"));
        assert_int_equal(undo, 0);
        assert_state(h, initial_state);
        /* gdm's start came last: it had what was left of the grace, and never a fresh 60 s budget. */
        assert_true(h->start_left > grace - USEC_PER_SEC);
        assert_true(h->start_left <= grace);
        assert_true(now_usec() - start < 300 * USEC_PER_MSEC + USEC_PER_SEC);
}

static void test_observer_sees_rollback(void **state)
{
        fixture *fx = *state;
        gh_exec_observer obs = {.step_done = count_steps, .ctx = fx};
        int undo;

        fx->host.fail_call = 18; /* the bind of 05.0 (ninth step) */
        assert_int_equal(gh_exec_prepare(&fx->plan, budget(&fx->plan), &fake_host_ops, &fx->host, &obs,
                                         &undo, &fx->err),
                         -EIO);
        assert_int_equal(fx->done, 9);
        /* Give-back actions of begun steps: two unit starts, two overrides restored and probed, the
         * module loaded, and the bind itself undone. */
        assert_int_equal(fx->undone, 8);
        assert_state(&fx->host, initial_state);
}

static void test_budget_exhausted(void **state)
{
        fixture *fx = *state;
        int undo;

        fx->plan.timeout_sec = 0;
        assert_int_equal(gh_exec_prepare(&fx->plan, budget(&fx->plan), &fake_host_ops, &fx->host, NULL,
                                         &undo, &fx->err),
                         -ETIMEDOUT);
        assert_non_null(strstr(fx->err.msg, "budget"));
        assert_int_equal(fx->host.n_calls, 0);
        assert_state(&fx->host, initial_state);
}

static void test_holders_fail_mode(void **state)
{
        fixture *fx = *state;
        int undo;

        fx->plan.steps[2].holders_mode = GH_HOLDERS_FAIL;
        assert_int_equal(gh_exec_prepare(&fx->plan, budget(&fx->plan), &fake_host_ops, &fx->host, NULL,
                                         &undo, &fx->err),
                         -EBUSY);
        assert_non_null(strstr(fx->err.msg, "/dev/dri/card0"));
        assert_int_equal(undo, 0);
        assert_state(&fx->host, initial_state);
}

/* A GNOME session took card0 through logind: logind and PID 1 keep copies until the session has gone. */
static const char *const logind_lines[] = {
        "stop-unit name=gdm.service",
        "end-holders nodes=/dev/dri/card0,/dev/snd/controlC0 mode=terminate grace=5",
        "wait-released nodes=/dev/dri/card0",
        "set-override addr=0000:00:05.0 driver=bochs-drm",
        "set-override addr=0000:00:05.1 driver=snd_hda_intel",
        "unload-module name=bochs",
        "unbind addr=0000:00:05.1 driver=snd_hda_intel",
        "load-module name=vfio-pci",
        "bind-vfio addr=0000:00:05.0 group=2",
        "bind-vfio addr=0000:00:05.1 group=2",
};

static size_t call_index(const fake_host *h, size_t from, const char *call);

/* The wait comes after the session's holders are ended and before the unload, which logind's copies would
 * keep busy; its give-back is nothing, and the release brings the host back whole. */
static void test_wait_released_before_unload(void **state)
{
        fixture *fx = *state;
        gh_plan plan;
        int undo;

        plan_from_lines(&plan, logind_lines, ELEMENTSOF(logind_lines));
        assert_int_equal(strv_split("/dev/dri/card0", " ", &fx->host.logind_nodes), 0);
        assert_int_equal(
                gh_exec_prepare(&plan, budget(&plan), &fake_host_ops, &fx->host, NULL, &undo, &fx->err), 0);
        assert_true(call_index(&fx->host, 0, "holders_end /dev/dri/card0") <
                    call_index(&fx->host, 0, "logind_wait_released /dev/dri/card0"));
        assert_true(call_index(&fx->host, 0, "logind_wait_released /dev/dri/card0") <
                    call_index(&fx->host, 0, "module_unload bochs"));
        assert_string_equal(fx->host.journal[2], "wait-released nodes=/dev/dri/card0");
        assert_int_equal(undo_journal(&fx->host, fx->host.journal, &fx->err), 0);
        assert_state(&fx->host, initial_state);
        gh_plan_done(&plan);
}

/* logind never lets go: the step fails at its deadline naming the node and logind, and the prepare rolls
 * back as any failed one does. */
static void test_wait_released_times_out(void **state)
{
        fixture *fx = *state;
        gh_plan plan;
        int undo = -1;

        plan_from_lines(&plan, logind_lines, ELEMENTSOF(logind_lines));
        assert_int_equal(strv_split("/dev/dri/card0", " ", &fx->host.logind_nodes), 0);
        fx->host.logind_keeps = true;
        assert_int_equal(
                gh_exec_prepare(&plan, budget(&plan), &fake_host_ops, &fx->host, NULL, &undo, &fx->err),
                -ETIMEDOUT);
        assert_int_equal(undo, 0);
        assert_non_null(strstr(fx->err.msg, "logind has not released"));
        assert_non_null(strstr(fx->err.msg, "/dev/dri/card0"));
        /* Nothing after it ran; the display manager is running again. */
        assert_int_equal(strv_length(fx->host.journal), 3);
        assert_state(&fx->host, initial_state);
        gh_plan_done(&plan);
}

/* An NVIDIA GPU's stack: nvidia.ko fails to load with -ENODEV while it can probe no GPU, and nvidia_drm
 * sees only the GPUs bound when it loads. */
static const char *const nvidia_lines[] = {
        "stop-unit name=gdm.service",
        "set-override addr=0000:01:00.0 driver=nvidia nodes=/dev/dri/card1,/dev/nvidia0,/dev/nvidiactl",
        "set-override addr=0000:01:00.1 driver=snd_hda_intel",
        "unload-module name=nvidia_drm",
        "unload-module name=nvidia",
        "unbind addr=0000:01:00.1 driver=snd_hda_intel",
        "load-module name=vfio-pci",
        "bind-vfio addr=0000:01:00.0 group=12",
        "bind-vfio addr=0000:01:00.1 group=12",
};

static const host_spec nvidia_host = {
        .gpu = "0000:01:00.0",
        .gpu_driver = "nvidia",
        .audio = "0000:01:00.1",
        .modules = "nvidia nvidia_drm snd_hda_intel",
        .units = "gdm.service",
        .need_device = "nvidia",
};

/* The first such call from index from on. */
static size_t call_index(const fake_host *h, size_t from, const char *call)
{
        for (size_t i = from; h->calls && h->calls[i]; i++)
                if (streq(h->calls[i], call))
                        return i;
        fail_msg("no call '%s'", call);
        return 0;
}

/* The give-back order: overrides back before any module loads (or nvidia would probe nothing and fail),
 * nvidia before nvidia_drm, the nodes checked, and the display manager started last. */
static void test_giveback_order_nvidia(void **state)
{
        static const char initial[] = "0000:01:00.0 driver=nvidia override=\n"
                                      "0000:01:00.1 driver=snd_hda_intel override=\n"
                                      "modules: nvidia nvidia_drm snd_hda_intel\n"
                                      "units: gdm.service\n";
        _cleanup_(gh_plan_done) gh_plan plan = {};
        fake_host h;
        gh_error err = {};
        size_t calls;
        int undo;

        host_init(&h, &nvidia_host);
        plan_from_lines(&plan, nvidia_lines, ELEMENTSOF(nvidia_lines));
        assert_int_equal(gh_exec_prepare(&plan, budget(&plan), &fake_host_ops, &h, NULL, &undo, &err), 0);
        calls = h.n_calls;
        assert_int_equal(undo_journal(&h, h.journal, &err), 0);
        assert_state(&h, initial);
        assert_true(call_index(&h, calls, "override_set 0000:01:00.0") < call_index(&h, calls, "module_load nvidia"));
        assert_true(call_index(&h, calls, "module_load nvidia") < call_index(&h, calls, "module_load nvidia_drm"));
        assert_true(call_index(&h, calls, "module_load nvidia_drm") <
                    call_index(&h, calls, "dev_verify_nodes 0000:01:00.0"));
        assert_true(call_index(&h, calls, "dev_verify_nodes 0000:01:00.0") <
                    call_index(&h, calls, "unit_start gdm.service"));
        fake_host_done(&h);

        /* Its rollback, failed at every call, gives back the same way. */
        for (unsigned k = 1; k <= calls; k++) {
                host_init(&h, &nvidia_host);
                h.fail_call = k;
                assert_int_equal(gh_exec_prepare(&plan, budget(&plan), &fake_host_ops, &h, NULL, &undo, &err),
                                 -EIO);
                assert_int_equal(undo, 0);
                _cleanup_free_ char *st = fake_host_state(&h);
                if (!streq(st, initial))
                        fail_msg("failing call %u (%s) left:\n%s", k, h.calls[k - 1], st);
                fake_host_done(&h);
        }
}

/* A node that does not come back fails the give-back, naming it, without leaving anything to undo; the
 * units are still started. */
static void test_giveback_verifies_nodes(void **state)
{
        _cleanup_(gh_plan_done) gh_plan plan = {};
        fake_host h;
        gh_error err = {};
        int undo;

        host_init(&h, &nvidia_host);
        plan_from_lines(&plan, nvidia_lines, ELEMENTSOF(nvidia_lines));
        assert_int_equal(gh_exec_prepare(&plan, budget(&plan), &fake_host_ops, &h, NULL, &undo, &err), 0);
        assert_int_equal(strv_split("/dev/nvidiactl", " ", &h.absent_nodes), 0);
        /* 1: everything was given back (nothing left for a journal), but the outcome is not whole. */
        assert_int_equal(undo_journal(&h, h.journal, &err), 1);
        assert_non_null(strstr(err.msg, "/dev/nvidiactl did not come back"));
        assert_true(strv_contains(h.active_units, "gdm.service"));
        fake_host_done(&h);
}

/* A user's unit holding the GPU is stopped through that user's manager, not the system's, and started
 * again at release, after the system's units; one whose user logged out meanwhile is nothing to give
 * back. */
static void test_user_unit_stopped_and_started_again(void **state)
{
        static const char *const lines[] = {
                "stop-unit name=persistd.service",
                "stop-user-unit uid=1000 name=ollama.service",
                "set-override addr=0000:00:05.0 driver=bochs-drm",
                "unload-module name=bochs",
                "load-module name=vfio-pci",
                "bind-vfio addr=0000:00:05.0 group=2",
        };
        _cleanup_(gh_plan_done) gh_plan plan = {};
        _cleanup_(fake_host_done) fake_host h;
        gh_error err = {};
        size_t calls;
        int undo;

        host_init(&h, &bochs_host);
        strv_free(h.held_nodes);
        h.held_nodes = NULL;
        assert_int_equal(strv_extend(&h.active_units, "1000/ollama.service"), 0);
        plan_from_lines(&plan, lines, ELEMENTSOF(lines));
        assert_int_equal(gh_exec_prepare(&plan, budget(&plan), &fake_host_ops, &h, NULL, &undo, &err), 0);
        assert_true(strv_contains(h.calls, "unit_stop 1000/ollama.service"));
        assert_false(strv_contains(h.calls, "unit_stop ollama.service"));
        assert_false(strv_contains(h.active_units, "1000/ollama.service"));
        assert_string_equal(h.journal[1], "stop-user-unit uid=1000 name=ollama.service");
        calls = h.n_calls;
        assert_int_equal(undo_journal(&h, h.journal, &err), 0);
        assert_true(strv_contains(h.active_units, "1000/ollama.service"));
        assert_true(call_index(&h, calls, "unit_start persistd.service") <
                    call_index(&h, calls, "unit_start 1000/ollama.service"));

        /* The user's manager is gone at release: nothing left to start it in, and no failure. */
        strv_free(h.journal);
        h.journal = NULL;
        assert_int_equal(gh_exec_prepare(&plan, budget(&plan), &fake_host_ops, &h, NULL, &undo, &err), 0);
        assert_int_equal(strv_split("unit_start 1000/ollama.service", ",", &h.fail_ops), 0);
        h.fail_ops_error = -ENOENT;
        assert_int_equal(undo_journal(&h, h.journal, &err), 0);
        assert_false(gh_error_isset(&err));
        assert_true(strv_contains(h.active_units, "persistd.service"));
}

/* The same hand-over as the planner now makes it: the audio function released first, its holders (PipeWire)
 * left to close it on the disconnect. */
static const char *const audio_plan_lines[] = {
        "release-audio addr=0000:00:05.1 driver=snd_hda_intel nodes=/dev/snd/controlC0 mode=terminate "
        "grace=5 "
        "wait=5",
        "stop-unit name=gdm.service",
        "end-holders nodes=/dev/dri/card0 mode=terminate grace=5",
        "set-override addr=0000:00:05.0 driver=bochs-drm",
        "set-override addr=0000:00:05.1 driver=snd_hda_intel",
        "unload-module name=bochs",
        "load-module name=vfio-pci",
        "bind-vfio addr=0000:00:05.0 group=2",
        "bind-vfio addr=0000:00:05.1 group=2",
};

static void audio_host_init(fake_host *h)
{
        host_init(h, &bochs_host);
        assert_int_equal(strv_extend(&h->audio_clients, "/dev/snd/controlC0"), 0);
}

/* PipeWire closes the card on the disconnect: nobody is ended for it, the hand-over succeeds, and the
 * release from the journal brings the card back. */
static void test_audio_released_then_given_back(void **state)
{
        fixture *fx = *state;
        fake_host *h = &fx->host;
        int undo = -1;

        gh_plan_done(&fx->plan);
        plan_from_lines(&fx->plan, audio_plan_lines, ELEMENTSOF(audio_plan_lines));
        fake_host_done(h);
        audio_host_init(h);
        assert_int_equal(
                gh_exec_prepare(&fx->plan, budget(&fx->plan), &fake_host_ops, h, NULL, &undo, &fx->err), 0);
        assert_string_equal(h->calls[1], "audio_release 0000:00:05.1");
        assert_false(strv_contains(h->calls, "audio_holders_end /dev/snd/controlC0"));
        assert_false(strv_contains(h->calls, "holders_end /dev/snd/controlC0"));
        assert_string_equal(h->journal[0], audio_plan_lines[0]);
        assert_int_equal(undo_journal(h, h->journal, &fx->err), 0);
        assert_true(strv_contains(h->calls, "dev_give_back 0000:00:05.1"));
        assert_state(h, initial_state);
}

/* A failure at any later call rolls everything back, the audio function onto snd_hda_intel again (the card
 * comes back to PipeWire), whether its override was begun or not. */
static void test_audio_rollback_at_every_call(void **state)
{
        fixture *fx = *state;
        unsigned total;
        int undo;

        gh_plan_done(&fx->plan);
        plan_from_lines(&fx->plan, audio_plan_lines, ELEMENTSOF(audio_plan_lines));
        total = 2 * ELEMENTSOF(audio_plan_lines);
        for (unsigned k = 1; k <= total; k++) {
                _cleanup_free_ char *st = NULL;
                fake_host h;
                gh_error err = {};

                audio_host_init(&h);
                h.fail_call = k;
                assert_int_equal(
                        gh_exec_prepare(&fx->plan, budget(&fx->plan), &fake_host_ops, &h, NULL, &undo, &err),
                        -EIO);
                assert_int_equal(undo, 0);
                st = fake_host_state(&h);
                if (!streq(st, initial_state))
                        fail_msg("failing call %u (%s) left:\n%s", k, h.calls[k - 1], st);
                fake_host_done(&h);
        }
}

/* holders = fail: a holder that does not let go of the card fails the start at once, naming it, and the
 * function is probed back to its driver. */
static void test_audio_holder_fails_start(void **state)
{
        fixture *fx = *state;
        fake_host *h = &fx->host;
        static const char *const lines[] = {
                "release-audio addr=0000:00:05.1 driver=snd_hda_intel nodes=/dev/snd/controlC0 mode=fail "
                "grace=5 wait=5",
                "stop-unit name=gdm.service",
        };
        int undo = -1;

        gh_plan_done(&fx->plan);
        plan_from_lines(&fx->plan, lines, ELEMENTSOF(lines));
        assert_int_equal(strv_extend(&h->held_nodes, "/dev/snd/controlC0"), 0);
        assert_int_equal(
                gh_exec_prepare(&fx->plan, budget(&fx->plan), &fake_host_ops, h, NULL, &undo, &fx->err),
                -EBUSY);
        assert_int_equal(undo, 0);
        assert_non_null(strstr(fx->err.msg, "/dev/snd/controlC0 is held"));
        assert_false(strv_contains(h->calls, "unit_stop gdm.service"));
        assert_true(strv_contains(h->calls, "dev_give_back 0000:00:05.1"));
        assert_state(h, initial_state);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_giveback_order_nvidia),
                cmocka_unit_test(test_user_unit_stopped_and_started_again),
                cmocka_unit_test(test_giveback_verifies_nodes),
                cmocka_unit_test_setup_teardown(test_prepare_then_release, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rollback_at_every_call, setup, teardown),
                cmocka_unit_test_setup_teardown(test_failed_step_is_named, setup, teardown),
                cmocka_unit_test_setup_teardown(test_undo_goes_on_after_failure, setup, teardown),
                cmocka_unit_test_setup_teardown(test_undo_unit_gone, setup, teardown),
                cmocka_unit_test_setup_teardown(test_undo_names_every_failure, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rollback_names_every_failure, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hung_undo_leaves_time_for_the_rest, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rollback_has_the_grace, setup, teardown),
                cmocka_unit_test_setup_teardown(test_observer_sees_rollback, setup, teardown),
                cmocka_unit_test_setup_teardown(test_budget_exhausted, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unload_timeout_journals_stuck, setup, teardown),
                cmocka_unit_test_setup_teardown(test_holders_fail_mode, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wait_released_before_unload, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wait_released_times_out, setup, teardown),
                cmocka_unit_test_setup_teardown(test_audio_released_then_given_back, setup, teardown),
                cmocka_unit_test_setup_teardown(test_audio_rollback_at_every_call, setup, teardown),
                cmocka_unit_test_setup_teardown(test_audio_holder_fails_start, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
