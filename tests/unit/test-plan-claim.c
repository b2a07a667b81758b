/* claim-boot's planner (gh_plan_build_claim) and the rules made from its plans: what a boot-time claim may
 * do to each device, and what it never does (stop, end, unload, or unbind a driver that would hang). */
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
        return gh_plan_build_claim("win11", &w->p, &w->dom, &w->f, &w->plan, &w->err);
}

/* "KIND[@ADDR] ..." of the plan's steps, for one exact comparison. */
static char *step_kinds(const gh_plan *plan)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        for (size_t i = 0; i < plan->n_steps; i++)
                fprintf(f, "%s%s%s%s", i ? " " : "", gh_step_kind_to_string(plan->steps[i].kind),
                        plan->steps[i].addr[0] ? "@" : "", plan->steps[i].addr);
        fclose(f);
        return buf;
}

static void assert_steps(const gh_plan *plan, const char *want)
{
        _cleanup_free_ char *got = step_kinds(plan);

        if (!streq(got, want))
                fail_msg("steps:\n  %s\nnot:\n  %s", got, want);
}

/* nvidia with nvidia_drm modeset=Y: an unbind from it would never finish. */
static void nvidia_modeset(world *w)
{
        tf_add_module(&w->f, "nvidia", "nvidia_modeset", false);
        tf_add_module(&w->f, "nvidia_modeset", "nvidia_drm", false);
        tf_add_module(&w->f, "nvidia_drm", NULL, false);
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

        assert_int_equal(build(w), 0);
        assert_steps(&w->plan, "set-override@0000:01:00.0 set-override@0000:01:00.1 load-module "
                               "bind-vfio@0000:01:00.0 bind-vfio@0000:01:00.1");
        assert_int_equal(w->plan.n_devices, 2);
        assert_int_equal(w->plan.claim[0].kind, GH_CLAIM_TAKE);
        assert_int_equal(w->plan.claim[1].kind, GH_CLAIM_TAKE);
        assert_int_equal(w->plan.claim[0].vendor, 0x10de);
        assert_int_equal(w->plan.claim[0].device, 0x2684);
        /* Given back, it goes to what its modalias finds: no driver, no override on record. */
        assert_null(w->plan.steps[0].driver);
        assert_null(w->plan.steps[0].old_override);
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

        assert_int_equal(build(w), 0);
        assert_int_equal(w->plan.claim[0].kind, GH_CLAIM_LEAVE);
        assert_non_null(strstr(w->plan.claim[0].why,
                               "unbinding 0000:01:00.0 alone from 'nvidia' would never finish"));
        assert_int_equal(w->plan.claim[1].kind, GH_CLAIM_TAKE);
        assert_steps(&w->plan,
                     "set-override@0000:01:00.1 unbind@0000:01:00.1 load-module bind-vfio@0000:01:00.1");
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

        assert_int_equal(build(w), 0);
        assert_int_equal(w->plan.claim[0].kind, GH_CLAIM_ALREADY);
        assert_int_equal(w->plan.claim[1].kind, GH_CLAIM_LEAVE);
        assert_string_equal(w->plan.claim[1].why,
                            "pid 4242 (pipewire) holds /dev/snd/controlC0, and claim-boot ends no process");
        assert_int_equal(w->plan.n_steps, 0);
}

/* The checks of a hand-over hold: a group it cannot take whole is refused, as prepare would. */
static void test_group_refused(void **state)
{
        world *w = *state;

        tf_add_dev(&w->f, "0000:01:00.0", 0x030000, NULL, NULL, 12, NULL);
        tf_add_dev(&w->f, "0000:01:00.2", 0x0c0330, "xhci_hcd", "xhci_pci", 12, NULL);
        tf_domain(&w->dom, "0000:01:00.0");

        assert_int_equal(build(w), -EBUSY);
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
        assert_int_equal(build(w), 0);
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

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_reserved_is_bound_only, setup, teardown),
                cmocka_unit_test_setup_teardown(test_late_nvidia_left_audio_taken, setup, teardown),
                cmocka_unit_test_setup_teardown(test_held_and_already, setup, teardown),
                cmocka_unit_test_setup_teardown(test_group_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rules_round_trip, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
