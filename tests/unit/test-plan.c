/* The planner: device selection, refusals, display manager decisions, module stacks, step order; and
 * claim-boot's plan with the rules made from it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/claim-rules.h"
#include "core/plan.h"
#include "facts-build.h"
#include "shared/strv.h"

typedef struct world {
        gh_facts f;
        gh_policy p;
        gh_domain dom;
        gh_plan plan;
        gh_error err;
} world;

/* The single-GPU desktop of the VM test: bochs VGA + HDA in one slot and group, gdm on card0. */
static void single_gpu(world *w)
{
        tf_add_dev(&w->f, "0000:00:00.0", 0x060000, NULL, NULL, 0, NULL);
        tf_add_dev(&w->f, "0000:00:05.0", 0x030000, "bochs-drm", "bochs", 2, "/dev/dri/card0 /dev/fb0")
                ->boot_vga = true;
        tf_add_dev(&w->f, "0000:00:05.1", 0x040300, "snd_hda_intel", "snd_hda_intel", 2,
                   "/dev/snd/controlC0");
        tf_add_dev(&w->f, "0000:00:1f.2", 0x010601, "ahci", "ahci", 5, NULL);
        tf_add_module(&w->f, "bochs", NULL, false);
        tf_add_module(&w->f, "snd_hda_intel", NULL, false);
        w->f.dm_unit = strdup("gdm.service");
        w->f.dm_active = true;
        tf_add_holder(&w->f, 900, "gdm-stand-in", "/dev/dri/card0", "gdm.service", NULL, NULL);
        tf_domain(&w->dom, "0000:00:05.0 0000:00:05.1");
}

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
        free(w);
        return 0;
}

static int build(world *w)
{
        w->err = (gh_error){};
        return gh_plan_build("win11", &w->p, &w->dom, &w->f, &w->plan, &w->err);
}

/* The plan as journal lines, one per step: exact and readable in a failure message. */
static char *plan_text(const gh_plan *plan)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        for (size_t i = 0; i < plan->n_steps; i++) {
                _cleanup_free_ char *line = NULL;
                assert_int_equal(gh_step_to_line(&plan->steps[i], &line), 0);
                fprintf(f, "%s\n", line);
        }
        fclose(f);
        return buf;
}

/* How many of the plan's notes hold part. */
static size_t notes_count(const gh_plan *plan, const char *part)
{
        size_t n = 0;

        STRV_FOREACH(note, plan->notes)
        n += strstr(*note, part) != NULL;
        return n;
}

static bool has_note(const gh_plan *plan, const char *part)
{
        return notes_count(plan, part) > 0;
}

static void test_single_gpu_boot_vga(void **state)
{
        world *w = *state;
        _cleanup_free_ char *text = NULL;

        single_gpu(w);
        assert_int_equal(build(w), 0);
        text = plan_text(&w->plan);
        assert_string_equal(text, "stop-unit name=gdm.service\n"
                                  "end-holders nodes=/dev/dri/card0,/dev/fb0,dma-buf:bochs,dma-buf:drm "
                                  "mode=terminate grace=5\n"
                                  "release-audio addr=0000:00:05.1 driver=snd_hda_intel "
                                  "nodes=/dev/snd/controlC0 mode=terminate grace=5 wait=5\n"
                                  "set-override addr=0000:00:05.0 driver=bochs-drm nodes=/dev/dri/card0\n"
                                  "set-override addr=0000:00:05.1 driver=snd_hda_intel\n"
                                  "unload-module name=bochs\n"
                                  "load-module name=vfio-pci\n"
                                  "bind-vfio addr=0000:00:05.0 group=2\n"
                                  "bind-vfio addr=0000:00:05.1 group=2\n");
        assert_int_equal(w->plan.n_devices, 2);
        /* The boot VGA: the display manager waits for the release. */
        assert_true(has_note(&w->plan, "after release"));
}

static void test_dual_gpu_shared_module(void **state)
{
        world *w = *state;
        _cleanup_free_ char *text = NULL;

        single_gpu(w);
        tf_add_dev(&w->f, "0000:00:06.0", 0x038000, "bochs-drm", "bochs", 3, "/dev/dri/card1");
        tf_add_dev(&w->f, "0000:00:06.1", 0x040300, "snd_hda_intel", "snd_hda_intel", 3,
                   "/dev/snd/controlC1");
        tf_add_holder(&w->f, 900, "gdm-stand-in", "/dev/dri/card1", "gdm.service", NULL, NULL);
        gh_domain_done(&w->dom);
        tf_domain(&w->dom, "0000:00:06.0 0000:00:06.1");
        assert_int_equal(build(w), 0);
        text = plan_text(&w->plan);
        /* bochs also drives the boot GPU: it stays loaded and 06.0 is unbound alone. */
        assert_string_equal(text, "stop-unit name=gdm.service\n"
                                  "end-holders nodes=/dev/dri/card1 mode=terminate grace=5\n"
                                  "release-audio addr=0000:00:06.1 driver=snd_hda_intel "
                                  "nodes=/dev/snd/controlC1 mode=terminate grace=5 wait=5\n"
                                  "set-override addr=0000:00:06.0 driver=bochs-drm nodes=/dev/dri/card1\n"
                                  "set-override addr=0000:00:06.1 driver=snd_hda_intel\n"
                                  "unbind addr=0000:00:06.0 driver=bochs-drm\n"
                                  "load-module name=vfio-pci\n"
                                  "bind-vfio addr=0000:00:06.0 group=3\n"
                                  "bind-vfio addr=0000:00:06.1 group=3\n"
                                  "start-unit name=gdm.service\n");
        assert_true(has_note(&w->plan, "also drives 0000:00:05.0"));
}

static void test_dm_not_holding_keeps_running(void **state)
{
        world *w = *state;

        single_gpu(w);
        gh_holder_done(&w->f.holders[0]);
        w->f.n_holders = 0;
        assert_int_equal(build(w), 0);
        assert_int_equal(w->plan.steps[0].kind, GH_STEP_END_HOLDERS);
        for (size_t i = 0; i < w->plan.n_steps; i++)
                assert_int_not_equal(w->plan.steps[i].kind, GH_STEP_STOP_UNIT);
}

/* The session's holder makes the display manager stop, said once: in its owner line, or, with holders =
 * fail (which writes no owner lines), by the display manager's decision. */
static void test_graphical_session_holder_stops_dm(void **state)
{
        world *w = *state;

        single_gpu(w);
        gh_holder_done(&w->f.holders[0]);
        w->f.n_holders = 0;
        tf_add_holder(&w->f, 1200, "gnome-shell", "/dev/dri/card0", "session-2.scope", "wayland", "user");
        assert_int_equal(build(w), 0);
        assert_int_equal(w->plan.steps[0].kind, GH_STEP_STOP_UNIT);
        assert_string_equal(w->plan.steps[0].name, "gdm.service");
        assert_int_equal(notes_count(&w->plan, "pid 1200 (gnome-shell)"), 1);
        assert_true(has_note(&w->plan,
                             "pid 1200 (gnome-shell) holds /dev/dri/card0, owned by session '2': the "
                             "graphical session: display_manager = auto decides: stopping 'gdm.service'"));

        w->p.holders = GH_HOLDERS_FAIL;
        gh_plan_done(&w->plan);
        assert_int_equal(build(w), 0);
        assert_string_equal(w->plan.steps[0].name, "gdm.service");
        assert_int_equal(notes_count(&w->plan, "pid 1200 (gnome-shell)"), 1);
        assert_true(has_note(&w->plan,
                             "pid 1200 (gnome-shell) of a graphical session holds /dev/dri/card0: stopping "
                             "'gdm.service'"));
}

/* Another VM's QEMU on the render node (virgl): named ahead, by its cgroup, as what the hook will refuse. */
static void test_protected_holder_noted(void **state)
{
        world *w = *state;

        single_gpu(w);
        tf_add_holder(&w->f, 1300, "bash", "/dev/dri/card0", NULL, NULL, NULL);
        tf_holder_identity(&w->f, "/machine.slice/machine-qemu\\x2d1\\x2dother.scope/libvirt/emulator",
                           NULL);
        tf_add_holder(&w->f, 1400, "systemd-x", "/dev/dri/card0", "session-3.scope", NULL, NULL);
        tf_holder_identity(&w->f, "/user.slice/user-1000.slice/session-3.scope", "/home/u/x");
        assert_int_equal(build(w), 0);
        assert_ptr_equal(gh_plan_protected_holder(&w->plan, &w->f), &w->f.holders[1]);
        assert_true(has_note(&w->plan,
                             "pid 1300 (bash) holds /dev/dri/card0 and is protected: VM 'other', unit "
                             "machine-qemu\\x2d1\\x2dother.scope; the hand-over will be refused"));
        assert_false(has_note(&w->plan, "pid 1400 (systemd-x) holds /dev/dri/card0 and is protected"));
        /* Ordinary holders only: nothing protected. */
        gh_plan_done(&w->plan);
        gh_holder_done(&w->f.holders[1]);
        w->f.holders[1] = w->f.holders[2];
        w->f.n_holders = 2;
        assert_int_equal(build(w), 0);
        assert_null(gh_plan_protected_holder(&w->plan, &w->f));
        assert_false(has_note(&w->plan, "protected"));
}

/* PID 1 holding node: its fd store's copy of a session device, or systemd itself on any other node. */
static void pid1_holds(world *w, const char *node)
{
        tf_add_holder(&w->f, 1, "systemd", node, "init.scope", NULL, NULL);
        tf_holder_identity(&w->f, "/init.scope", "/usr/lib/systemd/systemd");
}

/* systemd-logind, known by its unit, holding node: its copy of a session device it handed out. */
static void logind_holds(world *w, const char *node)
{
        tf_add_holder(&w->f, 412, "systemd-logind", node, "systemd-logind.service", NULL, NULL);
        tf_holder_identity(&w->f, "/system.slice/systemd-logind.service", "/usr/lib/systemd/systemd-logind");
}

/* A process of another VM or container: stopping nothing on this host ends it. pid 1 on a node logind
 * never hands out (fbdev) is protected; on a DRM card it is logind's copy (test_logind_copies_wait). */
static void test_vm_holder_found(void **state)
{
        world *w = *state;

        single_gpu(w);
        pid1_holds(w, "/dev/fb0");
        assert_int_equal(build(w), 0);
        assert_ptr_equal(gh_plan_protected_holder(&w->plan, &w->f), &w->f.holders[1]);
        assert_null(gh_plan_vm_holder(&w->plan, &w->f));

        gh_plan_done(&w->plan);
        tf_add_holder(&w->f, 1300, "bash", "/dev/dri/card0", NULL, NULL, NULL);
        tf_holder_identity(&w->f, "/machine.slice/machine-qemu\\x2d1\\x2dother.scope", "/usr/bin/bash");
        assert_int_equal(build(w), 0);
        assert_ptr_equal(gh_plan_vm_holder(&w->plan, &w->f), &w->f.holders[2]);
        /* Of a node the plan does not end holders of: not in the way. */
        free(w->f.holders[2].node);
        w->f.holders[2].node = strdup("/dev/dri/card9");
        assert_null(gh_plan_vm_holder(&w->plan, &w->f));
}

/* GNOME on Wayland: gnome-shell took card0 through logind (TakeDevice), so systemd-logind and PID 1's fd
 * store hold it too; listed in pid order after the display manager's, as the /proc scan finds them. */
static void gnome_session(world *w)
{
        single_gpu(w);
        pid1_holds(w, "/dev/dri/card0");
        logind_holds(w, "/dev/dri/card0");
        tf_add_holder(&w->f, 1500, "gnome-shell", "/dev/dri/card0", "session-2.scope", "wayland", "user");
        tf_holder_identity(&w->f, "/user.slice/user-1000.slice/session-2.scope", "/usr/bin/gnome-shell");
}

/* logind's and PID 1's copies are no protected holders: the start goes on, and waits for them to be
 * released after the session stops and before any unload or unbind. */
static void test_logind_copies_wait(void **state)
{
        world *w = *state;
        _cleanup_free_ char *text = NULL;

        gnome_session(w);
        assert_int_equal(build(w), 0);
        assert_null(gh_plan_protected_holder(&w->plan, &w->f));
        assert_false(has_note(&w->plan, "protected"));
        text = plan_text(&w->plan);
        assert_string_equal(text, "stop-unit name=gdm.service\n"
                                  "end-holders nodes=/dev/dri/card0,/dev/fb0,dma-buf:bochs,dma-buf:drm "
                                  "mode=terminate grace=5\n"
                                  "wait-released nodes=/dev/dri/card0\n"
                                  "release-audio addr=0000:00:05.1 driver=snd_hda_intel "
                                  "nodes=/dev/snd/controlC0 mode=terminate grace=5 wait=5\n"
                                  "set-override addr=0000:00:05.0 driver=bochs-drm nodes=/dev/dri/card0\n"
                                  "set-override addr=0000:00:05.1 driver=snd_hda_intel\n"
                                  "unload-module name=bochs\n"
                                  "load-module name=vfio-pci\n"
                                  "bind-vfio addr=0000:00:05.0 group=2\n"
                                  "bind-vfio addr=0000:00:05.1 group=2\n");
        assert_true(has_note(&w->plan, "logind keeps a copy of /dev/dri/card0 for session 2 (pid 1500 "
                                       "(gnome-shell) took it), as does PID 1's fd store: not holders of "
                                       "their own; the hand-over waits for them to release it"));
        /* The session is what decides: the display manager stops for gnome-shell, never for PID 1. */
        assert_true(has_note(&w->plan, "stopping 'gdm.service'"));
        assert_false(has_note(&w->plan, "pid 1 (systemd)"));
        assert_false(has_note(&w->plan, "pid 412"));
}

/* logind by its unit, not its comm: a process calling itself systemd-logind elsewhere is an ordinary
 * holder. */
static void test_logind_by_unit(void **state)
{
        world *w = *state;

        single_gpu(w);
        tf_add_holder(&w->f, 1600, "systemd-logind", "/dev/dri/card0", NULL, NULL, NULL);
        tf_holder_identity(&w->f, "/user.slice/user-1000.slice/session-2.scope", "/home/u/systemd-logind");
        assert_int_equal(build(w), 0);
        assert_int_equal(w->plan.steps[3].kind, GH_STEP_SET_OVERRIDE); /* no wait-released */
        assert_true(has_note(&w->plan, "pid 1600 (systemd-logind) holds /dev/dri/card0, owned by a session: "
                                       "signal pid 1600"));
}

/* logind on a node it never hands out (fbdev) is protected as systemd, next to its copies of the session's
 * card, which are not. */
static void test_logind_off_session_device(void **state)
{
        world *w = *state;

        gnome_session(w);
        logind_holds(w, "/dev/fb0");
        assert_int_equal(build(w), 0);
        assert_ptr_equal(gh_plan_protected_holder(&w->plan, &w->f), &w->f.holders[4]);
}

/* A real protected holder next to logind's copies is still refused: another VM's QEMU. */
static void test_logind_copies_and_vm_holder(void **state)
{
        world *w = *state;

        gnome_session(w);
        tf_add_holder(&w->f, 1300, "qemu-system-x86", "/dev/dri/card0", NULL, NULL, NULL);
        tf_holder_identity(&w->f, "/machine.slice/machine-qemu\\x2d1\\x2dother.scope/libvirt/emulator",
                           "/usr/bin/qemu-system-x86_64");
        assert_int_equal(build(w), 0);
        assert_ptr_equal(gh_plan_protected_holder(&w->plan, &w->f), &w->f.holders[4]);
        assert_ptr_equal(gh_plan_vm_holder(&w->plan, &w->f), &w->f.holders[4]);
        assert_true(has_note(&w->plan,
                             "pid 1300 (qemu-system-x86) holds /dev/dri/card0 and is protected: VM "
                             "'other'"));
}

/* display_manager = keep: no session stop is planned, so the live session is the holder (signalled as
 * one), and logind's copies are still waited for after it. */
static void test_logind_copies_session_kept(void **state)
{
        world *w = *state;

        gnome_session(w);
        w->p.display_manager = GH_DM_KEEP;
        assert_int_equal(build(w), 0);
        assert_int_equal(w->plan.steps[0].kind, GH_STEP_END_HOLDERS);
        assert_int_equal(w->plan.steps[1].kind, GH_STEP_WAIT_RELEASED);
        assert_true(has_note(&w->plan, "pid 1500 (gnome-shell) holds /dev/dri/card0, owned by session "
                                       "'2': the graphical session: display_manager = keep decides"));
        assert_null(gh_plan_protected_holder(&w->plan, &w->f));
}

static void test_dm_keep_and_stop(void **state)
{
        world *w = *state;

        single_gpu(w);
        w->p.display_manager = GH_DM_KEEP;
        assert_int_equal(build(w), 0);
        assert_int_equal(w->plan.steps[0].kind, GH_STEP_END_HOLDERS);
        gh_plan_done(&w->plan);
        gh_holder_done(&w->f.holders[0]);
        w->f.n_holders = 0;
        w->p.display_manager = GH_DM_STOP;
        assert_int_equal(build(w), 0);
        assert_int_equal(w->plan.steps[0].kind, GH_STEP_STOP_UNIT);
}

static void test_restart_after_bind_forced(void **state)
{
        world *w = *state;

        single_gpu(w);
        w->p.restart_display_manager = GH_DM_RESTART_AFTER_BIND;
        assert_int_equal(build(w), 0);
        assert_int_equal(w->plan.steps[w->plan.n_steps - 1].kind, GH_STEP_START_UNIT);
        assert_string_equal(w->plan.steps[w->plan.n_steps - 1].name, "gdm.service");
}

/* restart_display_manager = auto: the boot VGA handed over while another GPU with a host driver stays:
 * the display manager starts again right after the bind, on the GPU the host keeps. */
static void test_restart_boot_vga_with_kept_gpu(void **state)
{
        world *w = *state;
        const gh_step *last;

        single_gpu(w);
        tf_add_dev(&w->f, "0000:00:06.0", 0x030000, "amdgpu", "amdgpu", 3, "/dev/dri/card1");
        tf_add_module(&w->f, "amdgpu", NULL, false);
        assert_int_equal(build(w), 0);
        last = &w->plan.steps[w->plan.n_steps - 1];
        assert_int_equal(last->kind, GH_STEP_START_UNIT);
        assert_string_equal(last->name, "gdm.service");
        assert_true(has_note(&w->plan, "'gdm.service' starts again right after the bind: the host keeps "
                                       "another GPU with a driver to run it on"));
        /* The explicit setting still overrides it. */
        gh_plan_done(&w->plan);
        w->p.restart_display_manager = GH_DM_RESTART_AFTER_RELEASE;
        assert_int_equal(build(w), 0);
        assert_int_equal(w->plan.steps[w->plan.n_steps - 1].kind, GH_STEP_BIND_VFIO);
        assert_false(has_note(&w->plan, "starts again"));
}

/* Another display device that stays, but with no host driver (or on vfio-pci already): nothing to run a
 * desktop on, so the display manager waits for the release. */
static void test_restart_after_release_without_kept_driver(void **state)
{
        world *w = *state;

        single_gpu(w);
        tf_add_dev(&w->f, "0000:00:06.0", 0x030000, NULL, NULL, 3, NULL);
        tf_add_dev(&w->f, "0000:00:07.0", 0x030000, "vfio-pci", "vfio_pci", 4, NULL);
        assert_int_equal(build(w), 0);
        assert_int_equal(w->plan.steps[w->plan.n_steps - 1].kind, GH_STEP_BIND_VFIO);
        assert_true(has_note(&w->plan, "'gdm.service' starts again after release: the host keeps no other "
                                       "GPU with a driver to run it on"));
}

static void test_stop_units_only_active(void **state)
{
        world *w = *state;

        single_gpu(w);
        assert_int_equal(strv_split("nvidia-persistenced.service idle.service", " ", &w->p.stop_units), 0);
        tf_add_unit(&w->f, "nvidia-persistenced.service", true);
        tf_add_unit(&w->f, "idle.service", false);
        assert_int_equal(build(w), 0);
        assert_int_equal(w->plan.steps[1].kind, GH_STEP_STOP_UNIT);
        assert_string_equal(w->plan.steps[1].name, "nvidia-persistenced.service");
        assert_int_equal(w->plan.steps[2].kind, GH_STEP_END_HOLDERS);
        assert_true(has_note(&w->plan, "'idle.service' is not active"));
}

/* nvidia, with nvidia_modeset and nvidia_uvm on it, and nvidia_drm on nvidia_modeset. */
static void nvidia_stack(world *w)
{
        tf_add_module(&w->f, "nvidia", "nvidia_modeset nvidia_uvm", false);
        tf_add_module(&w->f, "nvidia_modeset", "nvidia_drm", false);
        tf_add_module(&w->f, "nvidia_drm", NULL, false);
        tf_add_module(&w->f, "nvidia_uvm", NULL, false);
}

static void test_nvidia_stack_order(void **state)
{
        world *w = *state;
        size_t k = 0;
        const char *want[] = {"nvidia_drm", "nvidia_modeset", "nvidia_uvm", "nvidia"};

        tf_add_dev(&w->f, "0000:01:00.0", 0x030000, "nvidia", "nvidia", 12, "/dev/dri/card1 /dev/nvidia0");
        tf_add_dev(&w->f, "0000:01:00.1", 0x040300, "snd_hda_intel", "snd_hda_intel", 12, NULL);
        tf_add_dev(&w->f, "0000:00:1f.3", 0x040300, "snd_hda_intel", "snd_hda_intel", 9, NULL);
        tf_add_dev(&w->f, "0000:00:02.0", 0x030000, "i915", "i915", 1, "/dev/dri/card0");
        nvidia_stack(w);
        tf_domain(&w->dom, "0000:01:00.0 0000:01:00.1");
        assert_int_equal(build(w), 0);
        for (size_t i = 0; i < w->plan.n_steps; i++)
                if (w->plan.steps[i].kind == GH_STEP_UNLOAD_MODULE) {
                        assert_true(k < ELEMENTSOF(want));
                        assert_string_equal(w->plan.steps[i].name, want[k++]);
                }
        assert_int_equal(k, ELEMENTSOF(want));
}

static const gh_step *find_step(const gh_plan *plan, gh_step_kind kind)
{
        for (size_t i = 0; i < plan->n_steps; i++)
                if (plan->steps[i].kind == kind)
                        return &plan->steps[i];
        return NULL;
}

/* The nodes whose holders are ended; NULL (so every "contains" fails) when there is no such step. */
static char **holder_nodes(const gh_plan *plan)
{
        const gh_step *s = find_step(plan, GH_STEP_END_HOLDERS);

        return s ? s->nodes : NULL;
}

static void nvidia_gpu(world *w, const char *addr, int group, const char *minor_node)
{
        _cleanup_free_ char *nodes = NULL;

        assert_true(
                asprintf(
                        &nodes,
                        "%s /dev/nvidiactl /dev/nvidia-modeset /dev/nvidia-uvm /dev/nvidia-caps/nvidia-cap1",
                        minor_node) > 0);
        tf_add_dev(&w->f, addr, 0x030000, "nvidia", "nvidia", group, nodes);
}

static void test_nvidia_control_nodes_when_unloading(void **state)
{
        world *w = *state;

        nvidia_gpu(w, "0000:01:00.0", 12, "/dev/nvidia0");
        tf_add_module(&w->f, "nvidia", NULL, false);
        tf_domain(&w->dom, "0000:01:00.0");
        assert_int_equal(build(w), 0);
        assert_true(strv_contains(holder_nodes(&w->plan), "/dev/nvidia0"));
        assert_true(strv_contains(holder_nodes(&w->plan), "/dev/nvidiactl"));
        assert_true(strv_contains(holder_nodes(&w->plan), "/dev/nvidia-uvm"));
        assert_true(strv_contains(holder_nodes(&w->plan), "/dev/nvidia-caps/nvidia-cap1"));
}

/* A second NVIDIA GPU stays on the host: its users hold nvidiactl too, and must be left alone. */
static void test_nvidia_control_nodes_when_module_stays(void **state)
{
        world *w = *state;

        nvidia_gpu(w, "0000:01:00.0", 12, "/dev/nvidia0");
        nvidia_gpu(w, "0000:02:00.0", 13, "/dev/nvidia1");
        tf_add_module(&w->f, "nvidia", NULL, false);
        w->f.dm_unit = strdup("gdm.service");
        w->f.dm_active = true;
        tf_add_holder(&w->f, 1200, "gnome-shell", "/dev/nvidiactl", "session-2.scope", "wayland", "user");
        tf_add_holder(&w->f, 1300, "ollama", "/dev/nvidia-uvm", "ollama.service", NULL, NULL);
        tf_domain(&w->dom, "0000:01:00.0");
        assert_int_equal(build(w), 0);
        assert_null(find_step(&w->plan, GH_STEP_UNLOAD_MODULE));
        assert_null(find_step(&w->plan, GH_STEP_STOP_UNIT));
        assert_true(strv_contains(holder_nodes(&w->plan), "/dev/nvidia0"));
        assert_false(strv_contains(holder_nodes(&w->plan), "/dev/nvidiactl"));
        assert_false(strv_contains(holder_nodes(&w->plan), "/dev/nvidia-uvm"));
        assert_false(strv_contains(holder_nodes(&w->plan), "/dev/nvidia1"));
        assert_false(strv_contains(holder_nodes(&w->plan), "/dev/nvidia-caps/nvidia-cap1"));
        /* No module goes: no dma-buf pins anything. */
        STRV_FOREACH(n, holder_nodes(&w->plan))
        assert_false(startswith(*n, GH_DMABUF_PREFIX));
}

/* The NVIDIA stack goes: its i2c nodes, and the dma-bufs of each of its modules. "drm" (PRIME exports of
 * nvidia_drm, amdgpu, ...) only when no other GPU with a DRM node stays, as it does not say whose. */
static void test_pins_when_unloading(void **state)
{
        static const char *const want[] = {"/dev/i2c-5", GH_DMABUF_PREFIX "nvidia_drm",
                                           GH_DMABUF_PREFIX "nvidia_modeset", GH_DMABUF_PREFIX "nvidia",
                                           GH_DMABUF_PREFIX "nv_dmabuf"};
        world *w = *state;

        tf_add_dev(&w->f, "0000:01:00.0", 0x030000, "nvidia", "nvidia", 12,
                   "/dev/dri/card1 /dev/nvidia0 /dev/nvidiactl /dev/i2c-5");
        tf_add_dev(&w->f, "0000:00:02.0", 0x030000, "i915", "i915", 1, "/dev/dri/card0 /dev/i2c-3");
        tf_add_module(&w->f, "nvidia", "nvidia_modeset", false);
        tf_add_module(&w->f, "nvidia_modeset", "nvidia_drm", false);
        tf_add_module(&w->f, "nvidia_drm", NULL, false);
        tf_domain(&w->dom, "0000:01:00.0");
        assert_int_equal(build(w), 0);
        for (size_t i = 0; i < ELEMENTSOF(want); i++)
                if (!strv_contains(holder_nodes(&w->plan), want[i]))
                        fail_msg("'%s' is not ended", want[i]);
        assert_false(strv_contains(holder_nodes(&w->plan), GH_DMABUF_PREFIX "drm"));
        assert_false(strv_contains(holder_nodes(&w->plan), "/dev/i2c-3"));
        assert_false(strv_contains(holder_nodes(&w->plan), GH_DMABUF_PREFIX "i915"));
        /* A holder of a "drm" dma-buf may hold nvidia_drm's or i915's: named, not ended. */
        gh_plan_done(&w->plan);
        tf_add_holder(&w->f, 4242, "obs", GH_DMABUF_PREFIX "drm", NULL, NULL, NULL);
        assert_int_equal(build(w), 0);
        assert_false(strv_contains(holder_nodes(&w->plan), GH_DMABUF_PREFIX "drm"));
        assert_true(has_note(&w->plan, "pid 4242 (obs) holds "));
        assert_true(
                has_note(&w->plan, ": DRM names every GPU's PRIME exports 'drm', so it may be of a GPU"));
        assert_true(has_note(&w->plan, "it is left alone, and if a module will not unload, it may be why"));

        /* The iGPU is gone (disabled in the firmware): every DRM device is the one handed over. */
        gh_plan_done(&w->plan);
        gh_pci_dev_done(&w->f.devs[1]);
        w->f.n_devs = 1;
        assert_int_equal(build(w), 0);
        assert_true(strv_contains(holder_nodes(&w->plan), GH_DMABUF_PREFIX "drm"));
}

#define SESSION "/user.slice/user-1000.slice/session-3.scope"

static void rebuild(world *w)
{
        gh_plan_done(&w->plan);
        assert_int_equal(build(w), 0);
}

static void add_holder_in(world *w, pid_t pid, const char *comm, const char *node, const char *cgroup)
{
        tf_add_holder(&w->f, pid, comm, node, NULL, NULL, NULL);
        tf_holder_identity(&w->f, cgroup, NULL);
}

/* A holder in a system service is stopped as its unit (a signal would be undone by its Restart=), once
 * however many of its processes hold what, and so is one in a user's service, through that user's
 * manager; the others are signalled, and `plan` says each holder's owner and what happens to it. */
static void test_holder_services_stopped_as_units(void **state)
{
        world *w = *state;
        _cleanup_free_ char *text = NULL;

        single_gpu(w);
        w->f.units_known = true;
        add_holder_in(w, 1500, "ollama", "/dev/dri/card0", "/system.slice/ollama.service");
        add_holder_in(w, 1501, "ollama-runner", "/dev/fb0", "/system.slice/ollama.service");
        add_holder_in(w, 1502, "bash", "/dev/dri/card0", "/system.slice/run-u42.service");
        add_holder_in(w, 1600, "blender", "/dev/dri/card0", SESSION);
        add_holder_in(w, 1700, "foo", "/dev/fb0",
                      "/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service");
        add_holder_in(w, 1701, "foo-helper", "/dev/fb0",
                      "/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service");
        add_holder_in(w, 1750, "gjs", "/dev/fb0",
                      "/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-gjs-42.scope");
        add_holder_in(w, 1800, "runner", "/dev/dri/card0", "/system.slice/run-u7.scope");
        assert_int_equal(build(w), 0);
        text = plan_text(&w->plan);
        assert_non_null(strstr(text, "stop-unit name=gdm.service\n"
                                     "stop-unit name=ollama.service\n"
                                     "stop-unit name=run-u42.service\n"
                                     "stop-user-unit uid=1000 name=foo.service\n"
                                     "end-holders "));
        assert_true(has_note(&w->plan,
                             "pid 1500 (ollama) holds /dev/dri/card0, owned by system unit "
                             "'ollama.service': stop unit 'ollama.service', start it again after release"));
        assert_true(has_note(&w->plan, "pid 1501 (ollama-runner) holds /dev/fb0, owned by system unit "
                                       "'ollama.service': stop unit 'ollama.service'"));
        assert_true(has_note(
                &w->plan, "pid 1600 (blender) holds /dev/dri/card0, owned by a session: signal pid 1600"));
        assert_true(has_note(&w->plan,
                             "pid 1700 (foo) holds /dev/fb0, owned by user unit 'foo.service' of "
                             "user 1000: stop user unit 'foo.service' of user 1000, start it again after "
                             "release"));
        assert_true(has_note(&w->plan,
                             "pid 1701 (foo-helper) holds /dev/fb0, owned by user unit 'foo.service' of "
                             "user 1000: stop user unit 'foo.service' of user 1000"));
        assert_true(has_note(&w->plan,
                             "pid 1750 (gjs) holds /dev/fb0, owned by no unit of its own: signal pid 1750"));
        assert_true(has_note(
                &w->plan,
                "pid 1800 (runner) holds /dev/dri/card0, owned by no unit of its own: signal pid 1800"));
        /* The display manager's own holder: its setting decides. */
        assert_true(has_note(&w->plan,
                             "pid 900 (gdm-stand-in) holds /dev/dri/card0, owned by system unit "
                             "'gdm.service': the graphical session: display_manager = auto decides: "
                             "stopping 'gdm.service'"));
        assert_int_equal(notes_count(&w->plan, "pid 900 (gdm-stand-in)"), 1);
}

/* GNOME Shell 46 and Plasma with systemd startup run as user services, in no session: the graphical
 * session all the same. The display manager's setting decides; the compositor is not stopped as a user
 * unit of its own. */
static void test_user_unit_compositor_is_graphical(void **state)
{
        static const char *const compositors[][2] = {
                {"org.gnome.Shell@wayland.service", "/dev/fb0"},
                {"plasma-kwin_wayland.service", "/dev/fb0"},
                {"my-compositor.service", "/dev/dri/card0"},
        };
        world *w = *state;

        for (size_t i = 0; i < ELEMENTSOF(compositors); i++) {
                _cleanup_free_ char *cgroup = NULL, *note = NULL;

                if (i > 0) {
                        teardown(state);
                        setup(state);
                        w = *state;
                }
                single_gpu(w);
                /* The display manager holds nothing itself: only the compositor makes it stop. */
                gh_holder_done(&w->f.holders[0]);
                w->f.n_holders = 0;
                w->f.units_known = true;
                assert_true(asprintf(&cgroup,
                                     "/user.slice/user-1000.slice/user@1000.service/session.slice/%s",
                                     compositors[i][0]) > 0);
                add_holder_in(w, 2100, "compositor", compositors[i][1], cgroup);
                assert_int_equal(build(w), 0);
                assert_int_equal(w->plan.steps[0].kind, GH_STEP_STOP_UNIT);
                assert_string_equal(w->plan.steps[0].name, "gdm.service");
                assert_null(find_step(&w->plan, GH_STEP_STOP_USER_UNIT));
                assert_true(
                        asprintf(&note,
                                 "holds %s, owned by user unit '%s' of user 1000: the graphical session: "
                                 "display_manager = auto decides: stopping 'gdm.service'",
                                 compositors[i][1], compositors[i][0]) > 0);
                assert_true(has_note(&w->plan, note));
                assert_int_equal(notes_count(&w->plan, "pid 2100 (compositor)"), 1);
        }
        /* With display_manager = keep, it keeps running and is signalled, as a session's compositor is. */
        w->p.display_manager = GH_DM_KEEP;
        rebuild(w);
        assert_null(find_step(&w->plan, GH_STEP_STOP_UNIT));
        assert_null(find_step(&w->plan, GH_STEP_STOP_USER_UNIT));
        assert_true(has_note(&w->plan, "the graphical session: display_manager = keep decides: the display "
                                       "manager keeps running, so it will be signalled"));
}

/* No unit is stopped for a holder with holders = fail (which ends nothing), without systemd's bus, for a
 * protected one, or for the display manager that keeps running. */
static void test_holder_services_left_alone(void **state)
{
        world *w = *state;

        single_gpu(w);
        add_holder_in(w, 1500, "ollama", "/dev/dri/card0", "/system.slice/ollama.service");
        add_holder_in(w, 1510, "worker", "/dev/dri/card0", "/system.slice/virtqemud.service");
        add_holder_in(w, 1520, "x", "/dev/dri/card0", "/system.slice/systemd-logind.service");
        assert_int_equal(build(w), 0);
        assert_true(has_note(&w->plan,
                             "pid 1500 (ollama) holds /dev/dri/card0, owned by system unit "
                             "'ollama.service': signal pid 1500: systemd could not be asked to stop "
                             "its unit"));
        assert_false(has_note(&w->plan, "pid 1510 (worker) holds /dev/dri/card0, "));
        assert_false(has_note(&w->plan, "pid 1520 (x) holds /dev/dri/card0, "));

        w->f.units_known = true;
        w->p.holders = GH_HOLDERS_FAIL;
        rebuild(w);
        assert_int_equal(w->plan.steps[1].kind, GH_STEP_END_HOLDERS);
        assert_false(has_note(&w->plan, "pid 1500"));

        w->p.holders = GH_HOLDERS_TERMINATE;
        w->p.display_manager = GH_DM_KEEP;
        rebuild(w);
        assert_string_equal(w->plan.steps[0].name, "ollama.service");
        assert_int_equal(w->plan.steps[1].kind, GH_STEP_END_HOLDERS);
        assert_true(has_note(&w->plan,
                             "pid 900 (gdm-stand-in) holds /dev/dri/card0, owned by system unit "
                             "'gdm.service': the graphical session: display_manager = keep decides: "
                             "the display manager keeps running, so it will be signalled"));
}

static void test_listed_modules(void **state)
{
        world *w = *state;

        single_gpu(w);
        tf_add_dev(&w->f, "0000:00:1b.0", 0x040300, "snd_hda_intel", "snd_hda_intel", 7, NULL);
        w->p.unload_auto = false;
        assert_int_equal(strv_split("snd_hda_intel bochs", " ", &w->p.unload_modules), 0);
        assert_int_equal(build(w), 0);
        assert_true(has_note(&w->plan, "module 'snd_hda_intel' also drives 0000:00:1b.0"));
        for (size_t i = 0; i < w->plan.n_steps; i++)
                if (w->plan.steps[i].kind == GH_STEP_UNLOAD_MODULE)
                        assert_string_equal(w->plan.steps[i].name, "bochs");
}

/* Arch removes the running kernel's modules on an upgrade: bochs could go, but never come back. */
static void test_reload_file_missing(void **state)
{
        world *w = *state;
        gh_module *m;

        single_gpu(w);
        w->f.kernel_release = strdup(TF_KERNEL);
        m = (gh_module *)gh_facts_find_module(&w->f, "bochs");
        free(m->path);
        m->path = NULL;
        assert_int_equal(build(w), -ENOENT);
        assert_string_equal(w->err.msg, "domain 'win11': module 'bochs' cannot be loaded again after the "
                                        "hand-over: no file for the running kernel 6.1.0-test (removed by a "
                                        "kernel upgrade?)");
        assert_int_equal(w->plan.n_steps, 0);
}

static void set_str(char **p, const char *v)
{
        free(*p);
        *p = v ? strdup(v) : NULL;
}

/* DKMS rebuilt the module: what would load is not what was unloaded. */
static void test_reload_other_build(void **state)
{
        world *w = *state;
        gh_module *m;

        single_gpu(w);
        m = (gh_module *)gh_facts_find_module(&w->f, "bochs");
        set_str(&m->file_srcversion, "ABC");
        set_str(&m->loaded_srcversion, "DEF");
        assert_int_equal(build(w), -ESTALE);
        assert_string_equal(w->err.msg, "domain 'win11': module 'bochs' cannot be loaded again after the "
                                        "hand-over: /lib/modules/6.1.0-test/kernel/bochs.ko has srcversion "
                                        "ABC, the loaded module DEF (was it rebuilt by DKMS?)");
        /* Only one of them has one: another build too. */
        set_str(&m->loaded_srcversion, NULL);
        assert_int_equal(build(w), -ESTALE);
        assert_non_null(strstr(w->err.msg, "the loaded module none"));
        /* Neither: nothing to compare, the file is there. */
        set_str(&m->file_srcversion, NULL);
        assert_int_equal(build(w), 0);
}

/* Two NVIDIA GPUs, one handed over: nvidia's whole stack also serves the one that stays. */
static void two_nvidia_gpus(world *w)
{
        tf_add_dev(&w->f, "0000:01:00.0", 0x030000, "nvidia", "nvidia", 12, "/dev/dri/card1 /dev/nvidia0");
        tf_add_dev(&w->f, "0000:07:00.0", 0x030000, "nvidia", "nvidia", 13, "/dev/dri/card2 /dev/nvidia1");
        nvidia_stack(w);
        tf_domain(&w->dom, "0000:01:00.0");
}

/* The shipped example's list: nvidia has PCI driver links, the modules on it have none. */
static void test_listed_module_on_kept_driver(void **state)
{
        world *w = *state;

        two_nvidia_gpus(w);
        w->p.unload_auto = false;
        assert_int_equal(
                strv_split("nvidia_drm nvidia_modeset nvidia_uvm nvidia", " ", &w->p.unload_modules), 0);
        assert_int_equal(build(w), -EBUSY);
        assert_string_equal(w->err.msg, "domain 'win11': unload_modules lists 'nvidia_drm', which sits on "
                                        "'nvidia', still driving 0000:07:00.0 that stays on the host");
        assert_int_equal(w->plan.n_steps, 0);
        /* Directly on it too. */
        strv_free(w->p.unload_modules);
        assert_int_equal(strv_split("nvidia_uvm", " ", &w->p.unload_modules), 0);
        assert_int_equal(build(w), -EBUSY);
        assert_non_null(strstr(w->err.msg, "lists 'nvidia_uvm', which sits on 'nvidia'"));
        /* The whole stack goes when the other GPU is handed over too. */
        strv_free(w->p.unload_modules);
        assert_int_equal(
                strv_split("nvidia_drm nvidia_modeset nvidia_uvm nvidia", " ", &w->p.unload_modules), 0);
        tf_domain_add(&w->dom, "0000:07:00.0", GH_HOSTDEV_PCI);
        assert_int_equal(build(w), 0);
        assert_non_null(find_step(&w->plan, GH_STEP_UNLOAD_MODULE));
}

/* nvidia's remove waits while nvidia_drm (modeset=Y) uses the GPU: an unbind alone would never return. */
static void test_unbind_that_would_hang(void **state)
{
        world *w = *state;

        two_nvidia_gpus(w);
        tf_module_param(&w->f, "nvidia_drm", "modeset=Y");
        assert_int_equal(build(w), -EDEADLK);
        assert_string_equal(
                w->err.msg,
                "domain 'win11': unbinding 0000:01:00.0 alone from 'nvidia' would never finish: its "
                "remove waits until nothing uses the GPU, and 'nvidia_drm' (modeset=Y) uses every "
                "GPU 'nvidia' drives while it is loaded; hand over every GPU 'nvidia' drives "
                "(0000:07:00.0 too), or claim this one at boot (claim_at_boot = yes) before "
                "'nvidia_drm' loads");
        assert_int_equal(w->plan.n_steps, 0);
}

static void test_unbind_that_finishes(void **state)
{
        world *w = *state;
        gh_module *modeset;

        two_nvidia_gpus(w);
        /* Unreadable (it is root's only): taken as Y. */
        assert_int_equal(build(w), -EDEADLK);
        assert_non_null(strstr(w->err.msg, "(modeset=unknown)"));
        /* modeset=N: nvidia_drm holds no GPU, and the unbind waits only for processes, ended before. */
        tf_module_param(&w->f, "nvidia_drm", "modeset=N");
        assert_int_equal(build(w), 0);
        assert_non_null(find_step(&w->plan, GH_STEP_UNBIND));
        gh_plan_done(&w->plan);
        /* Not loaded at all: nothing sits on nvidia_modeset. */
        modeset = (gh_module *)gh_facts_find_module(&w->f, "nvidia_modeset");
        strv_free(modeset->holders);
        modeset->holders = NULL;
        assert_int_equal(build(w), 0);
        gh_plan_done(&w->plan);
        /* Every GPU nvidia drives handed over: the stack is unloaded, nothing is unbound alone. */
        tf_domain_add(&w->dom, "0000:07:00.0", GH_HOSTDEV_PCI);
        assert_int_equal(build(w), 0);
        assert_null(find_step(&w->plan, GH_STEP_UNBIND));
}

static void test_builtin_driver_unbinds(void **state)
{
        world *w = *state;

        tf_add_dev(&w->f, "0000:00:05.0", 0x030000, "bochs-drm", NULL, 2, "/dev/dri/card0");
        tf_domain(&w->dom, "0000:00:05.0");
        assert_int_equal(build(w), 0);
        assert_true(has_note(&w->plan, "built into the kernel"));
        for (size_t i = 0; i < w->plan.n_steps; i++)
                assert_int_not_equal(w->plan.steps[i].kind, GH_STEP_UNLOAD_MODULE);
        assert_int_equal(w->plan.steps[2].kind, GH_STEP_UNBIND);
}

static void test_allowlist_refuses_other_hostdev(void **state)
{
        world *w = *state;

        single_gpu(w);
        tf_add_dev(&w->f, "0000:00:06.0", 0x038000, "bochs-drm", "bochs", 3, NULL);
        tf_domain_add(&w->dom, "0000:00:06.0", GH_HOSTDEV_PCI);
        w->p.devices_auto = false;
        w->p.devices = calloc(2, sizeof(gh_pci_addr));
        w->p.n_devices = 2;
        gh_pci_addr_parse("0000:00:05.0", &w->p.devices[0]);
        gh_pci_addr_parse("0000:00:05.1", &w->p.devices[1]);
        assert_int_equal(build(w), -EPERM);
        assert_non_null(strstr(w->err.msg, "0000:00:06.0"));
        assert_non_null(strstr(w->err.msg, "win11"));
        assert_int_equal(w->plan.n_steps, 0);
}

static void test_auto_ignores_unrelated_hostdevs(void **state)
{
        world *w = *state;

        single_gpu(w);
        tf_add_dev(&w->f, "0000:03:00.0", 0x0c0330, "xhci_hcd", "xhci_pci", 8, NULL);
        tf_domain_add(&w->dom, "0000:03:00.0", GH_HOSTDEV_PCI);
        tf_domain_add(&w->dom, "0000:00:06.0", GH_HOSTDEV_INTERFACE);
        assert_int_equal(build(w), 0);
        assert_int_equal(w->plan.n_devices, 2);
}

static void test_interface_hostdev_when_allowed(void **state)
{
        world *w = *state;

        tf_add_dev(&w->f, "0000:00:07.0", 0x030000, NULL, NULL, 9, NULL);
        tf_domain_add(&w->dom, "0000:00:07.0", GH_HOSTDEV_INTERFACE);
        assert_int_equal(build(w), 0);
        assert_int_equal(w->plan.n_devices, 0);
        assert_int_equal(w->plan.n_steps, 0);
        gh_plan_done(&w->plan);
        w->p.interface_hostdevs = true;
        assert_int_equal(build(w), 0);
        assert_int_equal(w->plan.n_devices, 1);
        assert_int_equal(w->plan.n_steps, 3);
}

static void test_group_with_foreign_member(void **state)
{
        world *w = *state;

        single_gpu(w);
        tf_add_dev(&w->f, "0000:00:05.2", 0x0c0330, "xhci_hcd", "xhci_pci", 2, NULL);
        assert_int_equal(build(w), -EBUSY);
        assert_non_null(strstr(w->err.msg, "IOMMU group 2"));
        assert_non_null(strstr(w->err.msg, "0000:00:05.2"));
        assert_non_null(strstr(w->err.msg, "xhci_hcd"));
}

static void test_group_bridge_and_driverless_ok(void **state)
{
        world *w = *state;

        single_gpu(w);
        tf_add_dev(&w->f, "0000:00:04.0", 0x060400, "pcieport", NULL, 2, NULL);
        tf_add_dev(&w->f, "0000:00:05.3", 0x0c0330, NULL, NULL, 2, NULL);
        assert_int_equal(build(w), 0);
}

static void test_no_iommu_group(void **state)
{
        world *w = *state;

        single_gpu(w);
        w->f.devs[1].iommu_group = -1;
        assert_int_equal(build(w), -ENODEV);
        assert_non_null(strstr(w->err.msg, "0000:00:05.0 has no IOMMU group"));
}

static void test_missing_device(void **state)
{
        world *w = *state;

        single_gpu(w);
        w->p.devices_auto = false;
        w->p.devices = calloc(3, sizeof(gh_pci_addr));
        w->p.n_devices = 3;
        gh_pci_addr_parse("0000:00:05.0", &w->p.devices[0]);
        gh_pci_addr_parse("0000:00:05.1", &w->p.devices[1]);
        gh_pci_addr_parse("0000:09:00.0", &w->p.devices[2]);
        tf_domain_add(&w->dom, "0000:09:00.0", GH_HOSTDEV_PCI);
        assert_int_equal(build(w), -ENODEV);
        assert_non_null(strstr(w->err.msg, "0000:09:00.0: no such PCI device"));
}

static void test_claimed_by_other_domain(void **state)
{
        world *w = *state;

        single_gpu(w);
        tf_add_claim(&w->f, "0000:00:05.1", "other-vm");
        assert_int_equal(build(w), -EBUSY);
        assert_non_null(strstr(w->err.msg, "other-vm"));
        assert_non_null(strstr(w->err.msg, "0000:00:05.1"));
}

static void test_already_on_vfio(void **state)
{
        world *w = *state;
        _cleanup_free_ char *text = NULL;

        tf_add_dev(&w->f, "0000:00:05.0", 0x030000, "vfio-pci", "vfio_pci", 2, NULL)->override =
                strdup("vfio-pci");
        tf_domain(&w->dom, "0000:00:05.0");
        assert_int_equal(build(w), 0);
        text = plan_text(&w->plan);
        /* No host driver to give back by name, and the boot claim's override is not restored. */
        assert_string_equal(text, "set-override addr=0000:00:05.0\n"
                                  "load-module name=vfio-pci\n"
                                  "bind-vfio addr=0000:00:05.0 group=2\n");
}

static void test_no_display_hostdev_is_no_op(void **state)
{
        world *w = *state;

        tf_add_dev(&w->f, "0000:03:00.0", 0x0c0330, "xhci_hcd", "xhci_pci", 8, NULL);
        tf_domain(&w->dom, "0000:03:00.0");
        assert_int_equal(build(w), 0);
        assert_int_equal(w->plan.n_steps, 0);
        assert_true(has_note(&w->plan, "nothing to do"));
}

/* claim-boot's planner (gh_plan_build_claim) and the rules made from its plans: what a boot-time claim may
 * do to each device, and what it never does (stop, end, unload, or unbind a driver that would hang). */
static int build_claim(world *w)
{
        w->err = (gh_error){};
        return gh_plan_build_claim("win11", &w->p, &w->dom, &w->f, &w->plan, &w->err);
}

static void assert_plan_text(const gh_plan *plan, const char *want)
{
        _cleanup_free_ char *got = plan_text(plan);

        assert_string_equal(got, want);
}

/* nvidia with nvidia_drm modeset=Y: an unbind from it would never finish. */
static void nvidia_modeset(world *w)
{
        nvidia_stack(w);
        tf_module_param(&w->f, "nvidia_drm", "modeset=Y");
}

/* Reserved by the rule (no driver): bound, nothing unbound; the units, the display manager and the
 * modules the policy names are left alone. */
static void test_reserved_is_bound_only(void **state)
{
        world *w = *state;
        gh_pci_dev *d;

        d = tf_add_dev(&w->f, "0000:01:00.0", 0x030000, NULL, NULL, 12, NULL);
        d->override = strdup("vfio-pci");
        d->vendor = 0x10de;
        d->device = 0x2684;
        tf_add_dev(&w->f, "0000:01:00.1", 0x040300, NULL, NULL, 12, NULL);
        tf_add_dev(&w->f, "0000:02:00.0", 0x030000, "nvidia", "nvidia", 13, "/dev/dri/card0 /dev/nvidia0");
        nvidia_modeset(w);
        w->f.dm_unit = strdup("gdm.service");
        w->f.dm_active = true;
        tf_add_holder(&w->f, 900, "gnome-shell", "/dev/nvidiactl", "gdm.service", "wayland", "greeter");
        assert_int_equal(strv_extend(&w->p.stop_units, "nvidia-persistenced.service"), 0);
        w->p.display_manager = GH_DM_STOP;
        tf_domain(&w->dom, "0000:01:00.0 0000:01:00.1");

        assert_int_equal(build_claim(w), 0);
        assert_plan_text(&w->plan, "set-override addr=0000:01:00.0\n"
                                   "set-override addr=0000:01:00.1\n"
                                   "load-module name=vfio-pci\n"
                                   "bind-vfio addr=0000:01:00.0 group=12\n"
                                   "bind-vfio addr=0000:01:00.1 group=12\n");
        assert_int_equal(w->plan.n_devices, 2);
        assert_int_equal(w->plan.claim[0].kind, GH_CLAIM_TAKE);
        assert_int_equal(w->plan.claim[1].kind, GH_CLAIM_TAKE);
        assert_int_equal(w->plan.claim[0].vendor, 0x10de);
        assert_int_equal(w->plan.claim[0].device, 0x2684);
}

/* The reservation came too late: on nvidia with modeset, the GPU stays; its audio function, on a driver
 * that lets go, is unbound and bound. */
static void test_late_nvidia_left_audio_taken(void **state)
{
        world *w = *state;

        tf_add_dev(&w->f, "0000:01:00.0", 0x030000, "nvidia", "nvidia", 12, "/dev/dri/card1 /dev/nvidia0");
        tf_add_dev(&w->f, "0000:01:00.1", 0x040300, "snd_hda_intel", "snd_hda_intel", 12,
                   "/dev/snd/controlC1");
        tf_add_module(&w->f, "snd_hda_intel", NULL, false);
        nvidia_modeset(w);
        tf_domain(&w->dom, "0000:01:00.0 0000:01:00.1");

        assert_int_equal(build_claim(w), 0);
        assert_int_equal(w->plan.claim[0].kind, GH_CLAIM_LEAVE);
        assert_non_null(strstr(w->plan.claim[0].why,
                               "unbinding 0000:01:00.0 alone from 'nvidia' would never finish"));
        assert_int_equal(w->plan.claim[1].kind, GH_CLAIM_TAKE);
        assert_plan_text(&w->plan, "set-override addr=0000:01:00.1 driver=snd_hda_intel\n"
                                   "unbind addr=0000:01:00.1 driver=snd_hda_intel\n"
                                   "load-module name=vfio-pci\n"
                                   "bind-vfio addr=0000:01:00.1 group=12\n");
}

/* A holder keeps its device on the host (claim-boot ends no process); a device on vfio-pci is left as it
 * is; with nothing left to take, there are no steps at all. */
static void test_held_and_already(void **state)
{
        world *w = *state;

        tf_add_dev(&w->f, "0000:00:05.0", 0x030000, "vfio-pci", "vfio_pci", 2, NULL);
        tf_add_dev(&w->f, "0000:00:05.1", 0x040300, "snd_hda_intel", "snd_hda_intel", 2,
                   "/dev/snd/controlC0");
        tf_add_module(&w->f, "snd_hda_intel", NULL, false);
        tf_add_holder(&w->f, 4242, "pipewire", "/dev/snd/controlC0", "pipewire.service", NULL, NULL);
        tf_domain(&w->dom, "0000:00:05.0 0000:00:05.1");

        assert_int_equal(build_claim(w), 0);
        assert_int_equal(w->plan.claim[0].kind, GH_CLAIM_ALREADY);
        assert_int_equal(w->plan.claim[1].kind, GH_CLAIM_LEAVE);
        assert_string_equal(w->plan.claim[1].why,
                            "pid 4242 (pipewire) holds /dev/snd/controlC0, and claim-boot ends no process");
        assert_int_equal(w->plan.n_steps, 0);
}

/* Holder i leaves the facts; the others keep their order. */
static void drop_holder(world *w, size_t i)
{
        gh_holder_done(&w->f.holders[i]);
        w->f.n_holders--;
        memmove(&w->f.holders[i], &w->f.holders[i + 1], (w->f.n_holders - i) * sizeof(gh_holder));
}

/* logind's and PID 1's copies are no holders for claim-boot either, as for a hand-over: the session that
 * took the card keeps the GPU on the host, and is the one named; once it has let go, the copies that
 * logind and PID 1 have yet to close keep nothing. */
static void test_claim_logind_copies(void **state)
{
        world *w = *state;

        gnome_session(w);
        drop_holder(w, 0); /* no display manager: pid 1, logind, gnome-shell */
        assert_int_equal(build_claim(w), 0);
        assert_int_equal(w->plan.claim[0].kind, GH_CLAIM_LEAVE);
        assert_string_equal(w->plan.claim[0].why,
                            "pid 1500 (gnome-shell) holds /dev/dri/card0, and claim-boot ends no process");

        gh_plan_done(&w->plan);
        drop_holder(w, 2);
        assert_int_equal(build_claim(w), 0);
        assert_int_equal(w->plan.claim[0].kind, GH_CLAIM_TAKE);
        assert_int_equal(w->plan.claim[1].kind, GH_CLAIM_TAKE);
}

/* The checks of a hand-over hold: a group it cannot take whole is refused, as prepare would. */
static void test_group_refused(void **state)
{
        world *w = *state;

        tf_add_dev(&w->f, "0000:01:00.0", 0x030000, NULL, NULL, 12, NULL);
        tf_add_dev(&w->f, "0000:01:00.2", 0x0c0330, "xhci_hcd", "xhci_pci", 12, NULL);
        tf_domain(&w->dom, "0000:01:00.0");

        assert_int_equal(build_claim(w), -EBUSY);
        assert_non_null(strstr(w->err.msg, "IOMMU group 12 of 0000:01:00.0 also holds 0000:01:00.2"));
}

/* The rules: each device of each plan once, by address and identity, read back to the same addresses. */
static void test_rules_round_trip(void **state)
{
        world *w = *state;
        gh_claim_rule *rules = NULL;
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ gh_pci_addr *back = NULL;
        size_t n = 0, n_back = 0;

        tf_add_dev(&w->f, "0000:01:00.0", 0x030000, NULL, NULL, 12, NULL)->vendor = 0x1002;
        tf_add_dev(&w->f, "0000:01:00.1", 0x040300, NULL, NULL, 12, NULL)->vendor = 0x1002;
        tf_domain(&w->dom, "0000:01:00.0 0000:01:00.1");
        assert_int_equal(build_claim(w), 0);
        assert_int_equal(gh_claim_rules_add(&rules, &n, &w->plan), 0);
        assert_int_equal(gh_claim_rules_add(&rules, &n, &w->plan), 0);
        assert_int_equal(n, 2);
        assert_int_equal(gh_claim_rules_format(rules, n, &text), 0);
        assert_non_null(strstr(text, "# domain 'win11'\nKERNEL==\"0000:01:00.1\", ATTR{vendor}==\"0x1002\", "
                                     "ATTR{device}==\"0x0000\", ATTR{driver_override}=\"vfio-pci\"\n"));
        assert_true(startswith(strstr(text, "ACTION!="),
                               "ACTION!=\"add\", GOTO=\"gpu_handover_claim_end\"\n"
                               "SUBSYSTEM!=\"pci\", GOTO=\"gpu_handover_claim_end\"\n"));
        assert_true(endswith(text, "LABEL=\"gpu_handover_claim_end\"\n"));
        assert_int_equal(gh_claim_rules_parse(text, &back, &n_back), 0);
        assert_int_equal(n_back, 2);
        assert_string_equal(GH_PCI_ADDR_STR(&back[0]), "0000:01:00.0");
        assert_string_equal(GH_PCI_ADDR_STR(&back[1]), "0000:01:00.1");
        gh_claim_rules_free(rules, n);

        /* None: no file. */
        free(text);
        assert_int_equal(gh_claim_rules_format(NULL, 0, &text), 0);
        assert_null(text);
}

#define USER_APPS "/user.slice/user-1000.slice/user@1000.service/session.slice/"

/* PipeWire and WirePlumber hold the HDMI card: the audio function is released first, and they are left to
 * close it on the disconnect; no user unit is stopped for them. A holder of the GPU's own nodes is stopped
 * as before. `plan` says both. */
static void test_audio_holders_left_to_release(void **state)
{
        world *w = *state;
        const gh_step *release, *end;
        _cleanup_free_ char *text = NULL;

        single_gpu(w);
        w->f.units_known = true;
        w->p.audio_release_sec = 2;
        add_holder_in(w, 2000, "wireplumber", "/dev/snd/controlC0", USER_APPS "wireplumber.service");
        add_holder_in(w, 2001, "pipewire", "/dev/snd/controlC0", USER_APPS "pipewire.service");
        add_holder_in(w, 1700, "foo", "/dev/fb0", USER_APPS "foo.service");
        assert_int_equal(build(w), 0);
        text = plan_text(&w->plan);
        assert_string_equal(
                text, "stop-unit name=gdm.service\n"
                      "stop-user-unit uid=1000 name=foo.service\n"
                      "end-holders nodes=/dev/dri/card0,/dev/fb0,dma-buf:bochs,dma-buf:drm mode=terminate "
                      "grace=5\n"
                      "release-audio addr=0000:00:05.1 driver=snd_hda_intel nodes=/dev/snd/controlC0 "
                      "mode=terminate grace=5 wait=2\n"
                      "set-override addr=0000:00:05.0 driver=bochs-drm nodes=/dev/dri/card0\n"
                      "set-override addr=0000:00:05.1 driver=snd_hda_intel\n"
                      "unload-module name=bochs\n"
                      "load-module name=vfio-pci\n"
                      "bind-vfio addr=0000:00:05.0 group=2\n"
                      "bind-vfio addr=0000:00:05.1 group=2\n");
        assert_true(has_note(&w->plan,
                             "pid 2000 (wireplumber) holds /dev/snd/controlC0, owned by user unit "
                             "'wireplumber.service' of user 1000: left running: it should close the "
                             "card when 0000:00:05.1 is unbound from 'snd_hda_intel'; signal pid 2000 "
                             "only if it still holds it after 2 s"));
        assert_true(
                strv_contains(w->plan.holders,
                              "pid 2001 (pipewire) holds /dev/snd/controlC0, owned by user unit "
                              "'pipewire.service' of user 1000: left running: it should close the card "
                              "when 0000:00:05.1 is unbound from 'snd_hda_intel'; signal pid 2001 only if "
                              "it still holds it after 2 s"));
        assert_true(has_note(&w->plan,
                             "pid 1700 (foo) holds /dev/fb0, owned by user unit 'foo.service' of user "
                             "1000: stop user unit 'foo.service'"));
        /* holders = fail: the release refuses if they have not let go by then; nothing is stopped for them.
         * It comes after the GPU's own holders' step, so that a start they refuse has not touched the card.
         */
        w->p.holders = GH_HOLDERS_FAIL;
        rebuild(w);
        release = find_step(&w->plan, GH_STEP_RELEASE_AUDIO);
        end = find_step(&w->plan, GH_STEP_END_HOLDERS);
        if (!release || !end) {
                fail_msg("no release-audio or end-holders step");
                return;
        }
        assert_int_equal(release->holders_mode, GH_HOLDERS_FAIL);
        assert_true(end < release);
        assert_true(has_note(&w->plan,
                             "pid 2000 (wireplumber) holds /dev/snd/controlC0, owned by user unit "
                             "'wireplumber.service' of user 1000: left running: it should close the "
                             "card when 0000:00:05.1 is unbound from 'snd_hda_intel'; if it still "
                             "holds it after 2 s, the hand-over fails"));
}

/* A browser of the graphical session playing sound holds only the card: the session is not stopped for it,
 * while another VM holding the card is still refused before anything changes. */
static void test_audio_holder_no_session_stop(void **state)
{
        world *w = *state;

        single_gpu(w);
        gh_holder_done(&w->f.holders[0]);
        w->f.n_holders = 0;
        tf_add_holder(&w->f, 1200, "firefox", "/dev/snd/controlC0", "session-2.scope", "wayland", "user");
        assert_int_equal(build(w), 0);
        assert_null(find_step(&w->plan, GH_STEP_STOP_UNIT));
        assert_null(gh_plan_protected_holder(&w->plan, &w->f));
        tf_add_holder(&w->f, 1300, "qemu-system-x86", "/dev/snd/controlC0", NULL, NULL, NULL);
        tf_holder_identity(&w->f, "/machine.slice/machine-qemu\\x2d1\\x2dother.scope/libvirt/emulator",
                           "/usr/bin/qemu-system-x86_64");
        rebuild(w);
        assert_ptr_equal(gh_plan_vm_holder(&w->plan, &w->f), &w->f.holders[1]);
        assert_true(has_note(&w->plan,
                             "pid 1300 (qemu-system-x86) holds /dev/snd/controlC0 and is protected: "
                             "VM 'other'"));
        assert_false(has_note(&w->plan, "pid 1300 (qemu-system-x86) holds /dev/snd/controlC0, owned by"));
}

/* snd_hda_intel listed to unload (no other card uses it): the function is released first, then the module
 * goes; it is not unbound a second time. */
static void test_audio_release_then_unload(void **state)
{
        world *w = *state;
        _cleanup_free_ char *text = NULL;

        single_gpu(w);
        w->p.unload_auto = false;
        assert_int_equal(strv_split("bochs snd_hda_intel", " ", &w->p.unload_modules), 0);
        assert_int_equal(build(w), 0);
        text = plan_text(&w->plan);
        /* After the GPU's holders, before any override. */
        assert_non_null(strstr(text, "release-audio addr=0000:00:05.1 "));
        assert_true(strstr(text, "release-audio addr=0000:00:05.1 ") < strstr(text, "set-override "));
        assert_non_null(
                strstr(text, "unload-module name=bochs\nunload-module name=snd_hda_intel\nload-module "));
        assert_null(find_step(&w->plan, GH_STEP_UNBIND));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_single_gpu_boot_vga, setup, teardown),
                cmocka_unit_test_setup_teardown(test_audio_holders_left_to_release, setup, teardown),
                cmocka_unit_test_setup_teardown(test_audio_holder_no_session_stop, setup, teardown),
                cmocka_unit_test_setup_teardown(test_audio_release_then_unload, setup, teardown),
                cmocka_unit_test_setup_teardown(test_logind_copies_wait, setup, teardown),
                cmocka_unit_test_setup_teardown(test_logind_by_unit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_logind_off_session_device, setup, teardown),
                cmocka_unit_test_setup_teardown(test_logind_copies_and_vm_holder, setup, teardown),
                cmocka_unit_test_setup_teardown(test_logind_copies_session_kept, setup, teardown),
                cmocka_unit_test_setup_teardown(test_restart_boot_vga_with_kept_gpu, setup, teardown),
                cmocka_unit_test_setup_teardown(test_restart_after_release_without_kept_driver, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_dual_gpu_shared_module, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dm_not_holding_keeps_running, setup, teardown),
                cmocka_unit_test_setup_teardown(test_graphical_session_holder_stops_dm, setup, teardown),
                cmocka_unit_test_setup_teardown(test_protected_holder_noted, setup, teardown),
                cmocka_unit_test_setup_teardown(test_vm_holder_found, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dm_keep_and_stop, setup, teardown),
                cmocka_unit_test_setup_teardown(test_restart_after_bind_forced, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stop_units_only_active, setup, teardown),
                cmocka_unit_test_setup_teardown(test_nvidia_stack_order, setup, teardown),
                cmocka_unit_test_setup_teardown(test_nvidia_control_nodes_when_unloading, setup, teardown),
                cmocka_unit_test_setup_teardown(test_nvidia_control_nodes_when_module_stays, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_pins_when_unloading, setup, teardown),
                cmocka_unit_test_setup_teardown(test_holder_services_stopped_as_units, setup, teardown),
                cmocka_unit_test_setup_teardown(test_user_unit_compositor_is_graphical, setup, teardown),
                cmocka_unit_test_setup_teardown(test_holder_services_left_alone, setup, teardown),
                cmocka_unit_test_setup_teardown(test_listed_modules, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reload_file_missing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reload_other_build, setup, teardown),
                cmocka_unit_test_setup_teardown(test_listed_module_on_kept_driver, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unbind_that_would_hang, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unbind_that_finishes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_builtin_driver_unbinds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_allowlist_refuses_other_hostdev, setup, teardown),
                cmocka_unit_test_setup_teardown(test_auto_ignores_unrelated_hostdevs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_interface_hostdev_when_allowed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_group_with_foreign_member, setup, teardown),
                cmocka_unit_test_setup_teardown(test_group_bridge_and_driverless_ok, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_iommu_group, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_device, setup, teardown),
                cmocka_unit_test_setup_teardown(test_claimed_by_other_domain, setup, teardown),
                cmocka_unit_test_setup_teardown(test_already_on_vfio, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_display_hostdev_is_no_op, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reserved_is_bound_only, setup, teardown),
                cmocka_unit_test_setup_teardown(test_late_nvidia_left_audio_taken, setup, teardown),
                cmocka_unit_test_setup_teardown(test_held_and_already, setup, teardown),
                cmocka_unit_test_setup_teardown(test_claim_logind_copies, setup, teardown),
                cmocka_unit_test_setup_teardown(test_group_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rules_round_trip, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
