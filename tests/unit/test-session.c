/* core/session: what a start does to the graphical session, read off plans the real planner builds from
 * fake host facts: kept, stopped (and when it comes back), ended, or refused, and whether it logs out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/session.h"
#include "facts-build.h"

typedef struct world {
        gh_facts f;
        gh_policy p;
        gh_domain dom;
        gh_plan plan;
        gh_session s;
        char *line;
} world;

static int setup(void **state)
{
        world *w = calloc(1, sizeof(world));

        gh_policy_init(&w->p);
        *state = w;
        return 0;
}

static int teardown(void **state)
{
        world *w = *state;

        gh_facts_done(&w->f);
        gh_policy_done(&w->p);
        gh_domain_done(&w->dom);
        gh_plan_done(&w->plan);
        gh_session_done(&w->s);
        free(w->line);
        free(w);
        return 0;
}

/* The motivating desktop: the NVIDIA card (and its audio) to lend, the AMD iGPU the host keeps as boot
 * VGA, gdm running; who holds what is each test's. */
static void dual(world *w)
{
        tf_add_dev(&w->f, "0000:06:00.0", 0x030000, "nvidia", "nvidia", 6, "/dev/dri/card1");
        tf_add_dev(&w->f, "0000:06:00.1", 0x040300, "snd_hda_intel", "snd_hda_intel", 6,
                   "/dev/snd/controlC1");
        tf_add_dev(&w->f, "0000:0c:00.0", 0x030000, "amdgpu", "amdgpu", 7, "/dev/dri/card0")->boot_vga =
                true;
        tf_add_module(&w->f, "nvidia", NULL, false);
        tf_add_module(&w->f, "snd_hda_intel", NULL, false);
        tf_add_module(&w->f, "amdgpu", NULL, false);
        w->f.dm_unit = strdup("gdm.service");
        w->f.dm_active = true;
        w->f.units_known = true;
        tf_domain(&w->dom, "0000:06:00.0 0000:06:00.1");
}

static void holder_in(world *w, pid_t pid, const char *comm, const char *node, const char *cgroup)
{
        tf_add_holder(&w->f, pid, comm, node, NULL, NULL, NULL);
        tf_holder_identity(&w->f, cgroup, NULL);
}

/* Plans, reads the session's fate, and returns its line. */
static const char *fate(world *w, const char *config)
{
        gh_error err = {};

        if (config)
                assert_int_equal(gh_config_parse(&w->p, config, "win11.conf", &err), 0);
        gh_plan_done(&w->plan);
        gh_session_done(&w->s);
        free(w->line);
        w->line = NULL;
        assert_int_equal(gh_plan_build("win11", &w->p, &w->dom, &w->f, &w->plan, &err), 0);
        assert_int_equal(gh_session_from_plan(&w->plan, &w->f, &w->s), 0);
        assert_int_equal(gh_session_describe(&w->s, &w->line), 0);
        return w->line;
}

static void test_kept_when_nothing_graphical_holds(void **state)
{
        world *w = *state;

        dual(w);
        /* A service holding the GPU is stopped as its unit: the session is not its business. */
        holder_in(w, 1500, "ollama", "/dev/dri/card1", "/system.slice/ollama.service");
        assert_string_equal(fate(w, NULL), "kept (nothing graphical holds 0000:06:00.0, 0000:06:00.1)");
        assert_int_equal(w->s.fate, GH_SESSION_KEPT);
        assert_false(w->s.logs_out);
}

/* gdm's session holds the lent GPU: the display manager stops, and comes back right after the bind as
 * the host keeps the iGPU; restart_display_manager = after-release keeps it down until the VM stops. */
static void test_stopped_and_when_back(void **state)
{
        world *w = *state;

        dual(w);
        tf_add_holder(&w->f, 900, "gnome-shell", "/dev/dri/card1", "session-2.scope", "wayland", "user");
        assert_string_equal(fate(w, NULL), "stopped: the display manager 'gdm.service' stops, and starts "
                                           "again right after the bind");
        assert_int_equal(w->s.fate, GH_SESSION_STOPPED);
        assert_true(w->s.logs_out);
        assert_string_equal(fate(w, "restart_display_manager = after-release\n"),
                            "stopped: the display manager 'gdm.service' stops, and starts again only after "
                            "release, when the VM stops");
}

/* display_manager = keep: the compositor (a user unit, GNOME 46) is signalled, and the session dies with
 * it; holders = fail refuses the start instead, which touches nothing. */
static void test_ended_or_refused(void **state)
{
        world *w = *state;

        dual(w);
        holder_in(w, 2100, "gnome-shell", "/dev/dri/card1",
                  "/user.slice/user-1000.slice/user@1000.service/session.slice/"
                  "org.gnome.Shell@wayland.service");
        assert_string_equal(fate(w, "display_manager = keep\n"),
                            "ended: pid 2100 (gnome-shell) holds /dev/dri/card1, owned by user unit "
                            "'org.gnome.Shell@wayland.service' of user 1000: it is signalled, and the "
                            "graphical session ends with it");
        assert_int_equal(w->s.fate, GH_SESSION_ENDED);
        assert_true(w->s.logs_out);
        assert_string_equal(fate(w, "holders = fail\n"),
                            "refused: pid 2100 (gnome-shell) holds /dev/dri/card1, and holders = fail: the "
                            "start is refused, nothing is stopped");
        assert_int_equal(w->s.fate, GH_SESSION_REFUSED);
        assert_false(w->s.logs_out);
}

/* A compositor started from a TTY login (weston, sway) is in a session logind calls "tty": the planner
 * signals it as any session's process, and the line says that this ends the session, as it does (seen
 * with weston on the e2e desktop machine). */
static void test_tty_session_compositor_ended(void **state)
{
        world *w = *state;

        dual(w);
        free(w->f.dm_unit);
        w->f.dm_unit = NULL;
        tf_add_holder(&w->f, 340, "weston", "/dev/dri/card1", "session-2.scope", "tty", "user");
        tf_holder_identity(&w->f, "/user.slice/user-1001.slice/session-2.scope", "/usr/bin/weston");
        assert_string_equal(fate(w, NULL), "ended: pid 340 (weston) holds /dev/dri/card1, owned by session "
                                           "'2': it is signalled, and the graphical session ends with it");
        assert_true(w->s.logs_out);
}

/* A protected holder refuses the start when the holders are ended, after the display manager stopped:
 * the user is logged out all the same, until the rollback starts it again. */
static void test_refused_after_stop_logs_out(void **state)
{
        world *w = *state;

        dual(w);
        tf_add_holder(&w->f, 900, "Xorg", "/dev/dri/card1", "gdm.service", NULL, NULL);
        tf_add_holder(&w->f, 1300, "qemu", "/dev/dri/card1", NULL, NULL, NULL);
        tf_holder_identity(&w->f, "/machine.slice/machine-qemu\\x2d1\\x2dother.scope", NULL);
        assert_string_equal(
                fate(w, NULL),
                "refused: pid 1300 (qemu) holds /dev/dri/card1 and is protected (VM 'other', "
                "unit machine-qemu\\x2d1\\x2dother.scope): the start is refused after the display "
                "manager 'gdm.service' was stopped (the rollback starts it again)");
        assert_int_equal(w->s.fate, GH_SESSION_REFUSED);
        assert_true(w->s.logs_out);
}

/* display_manager = stop stops it even when nothing graphical holds the GPU. */
static void test_stop_forced(void **state)
{
        world *w = *state;

        dual(w);
        assert_string_equal(fate(w, "display_manager = stop\n"),
                            "stopped: the display manager 'gdm.service' stops, and starts again right after "
                            "the bind");
        assert_true(w->s.logs_out);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_kept_when_nothing_graphical_holds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stopped_and_when_back, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ended_or_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_tty_session_compositor_ended, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refused_after_stop_logs_out, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stop_forced, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
