/* core/desktop-rules: which GPUs keep_session keeps away from the desktop (auto, yes, no; the boot VGA and
 * the only GPU stay with it under auto), the exact text of the three files, and the rules read back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/desktop-rules.h"
#include "fixture.h"

#define IGPU "0000:00:02.0"
#define DGPU "0000:06:00.0"
#define DGPU_AUDIO "0000:06:00.1"
#define RULES_FIXTURE "desktop/61-gpu-handover-desktop.rules.in"
#define ENV_FIXTURE "desktop/90-gpu-handover.conf.in"
#define PROFILE_FIXTURE "desktop/gpu-handover.sh.in"

typedef struct host {
        gh_pci_dev devs[4];
        size_t n;
        char *card[4][2];
} host;

static void add_dev(host *h, const char *addr, unsigned class, const char *driver, bool boot_vga,
                    const char *card)
{
        gh_pci_dev *d = &h->devs[h->n];

        assert_int_equal(gh_pci_addr_parse(addr, &d->addr), 0);
        d->class = class;
        d->driver = (char *)driver;
        d->boot_vga = boot_vga;
        h->card[h->n][0] = (char *)card;
        d->nodes = card ? h->card[h->n] : NULL;
        h->n++;
}

/* The motivating desktop: the iGPU is the boot VGA on amdgpu, the NVIDIA card and its audio go to a VM. */
static void dual_host(host *h, const char *dgpu_driver)
{
        *h = (host){};
        add_dev(h, IGPU, 0x030000, "amdgpu", true, "/dev/dri/card0");
        add_dev(h, DGPU, 0x030000, dgpu_driver, false, "/dev/dri/card1");
        add_dev(h, DGPU_AUDIO, 0x040300, "snd_hda_intel", false, NULL);
}

static gh_domain domain_of(gh_hostdev *hd, const char *const *addrs, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                hd[i] = (gh_hostdev){.kind = GH_HOSTDEV_PCI, .managed = true};
                assert_int_equal(gh_pci_addr_parse(addrs[i], &hd[i].addr), 0);
        }
        return (gh_domain){.hostdevs = hd, .n_hostdevs = n};
}

/* Adds domain (its XML passing the GPU and its audio) with config text conf; returns why. */
static char *add(gh_desktop *d, host *h, const char *domain, const char *gpu, const char *conf)
{
        const char *addrs[] = {gpu, DGPU_AUDIO};
        gh_hostdev hd[2];
        gh_domain dom = domain_of(hd, addrs, 2);
        _cleanup_(gh_policy_done) gh_policy p = {};
        const gh_facts f = {.devs = h->devs, .n_devs = h->n};
        gh_error err = {};
        char *why = NULL;

        gh_policy_init(&p);
        assert_int_equal(gh_config_parse(&p, conf, "test.conf", &err), 0);
        assert_int_equal(gh_desktop_add_domain(d, domain, &p, &dom, &f, &why), 0);
        assert_int_equal(gh_desktop_find_host(d, h->devs, h->n), 0);
        return why;
}

/* The files' expected text (tests/fixtures/desktop) for dual_host with DGPU lent to win11. */
static char *want_text(const char *fixture)
{
        return fixture_text(fixture, "@AWAY@", DGPU, "@HOST@", IGPU, "@HOST_NAME@", "0000_00_02.0", NULL);
}

static void test_auto_keeps_second_gpu_away(void **state)
{
        _cleanup_(gh_desktop_done) gh_desktop d = {};
        _cleanup_free_ char *why = NULL, *rules = NULL, *env = NULL, *profile = NULL;
        _cleanup_free_ char *want_rules = want_text(RULES_FIXTURE), *want_env = want_text(ENV_FIXTURE),
                            *want_profile = want_text(PROFILE_FIXTURE);
        host h;

        dual_host(&h, "nvidia");
        why = add(&d, &h, "win11", DGPU, "");
        assert_string_equal(why, DGPU ": kept away from the desktop (keep_session = auto)");
        assert_int_equal(d.n_away, 1);
        assert_int_equal(d.n_host, 1);
        assert_int_equal(gh_desktop_format_rules(&d, &rules), 0);
        assert_string_equal(rules, want_rules);
        assert_int_equal(gh_desktop_format_env(&d, &env), 0);
        assert_string_equal(env, want_env);
        assert_int_equal(gh_desktop_format_profile(&d, &profile), 0);
        assert_string_equal(profile, want_profile);
}

/* Lent already (on vfio-pci) when install runs: kept away all the same, and never listed for the host. */
static void test_gpu_on_vfio_kept_away(void **state)
{
        _cleanup_(gh_desktop_done) gh_desktop d = {};
        _cleanup_free_ char *why = NULL;
        host h;

        dual_host(&h, "vfio-pci");
        why = add(&d, &h, "win11", DGPU, "keep_session = auto\n");
        assert_int_equal(d.n_away, 1);
        assert_int_equal(d.n_host, 1);
        assert_true(gh_pci_addr_eq(&d.host[0], &h.devs[0].addr));
}

static void test_auto_leaves_boot_vga(void **state)
{
        _cleanup_(gh_desktop_done) gh_desktop d = {};
        _cleanup_free_ char *why = NULL, *rules = NULL, *env = NULL;
        host h;

        dual_host(&h, "nvidia");
        h.devs[0].boot_vga = false;
        h.devs[1].boot_vga = true;
        why = add(&d, &h, "win11", DGPU, "");
        assert_string_equal(why,
                            DGPU ": left to the desktop (keep_session = auto): its GPU is the boot VGA, "
                                 "which the desktop runs on");
        assert_int_equal(d.n_away, 0);
        assert_int_equal(gh_desktop_format_rules(&d, &rules), 0);
        assert_null(rules);
        assert_int_equal(gh_desktop_format_env(&d, &env), 0);
        assert_null(env);
}

static void test_auto_leaves_only_gpu(void **state)
{
        _cleanup_(gh_desktop_done) gh_desktop d = {};
        _cleanup_free_ char *why = NULL;
        host h = {};

        add_dev(&h, DGPU, 0x030000, "nvidia", false, "/dev/dri/card0");
        add_dev(&h, DGPU_AUDIO, 0x040300, "snd_hda_intel", false, NULL);
        why = add(&d, &h, "win11", DGPU, "");
        assert_string_equal(why,
                            DGPU ": left to the desktop (keep_session = auto): the host keeps no other GPU "
                                 "with a driver to run the desktop on");
        assert_int_equal(d.n_away, 0);
}

static void test_yes_and_no(void **state)
{
        _cleanup_(gh_desktop_done) gh_desktop d = {};
        _cleanup_free_ char *why = NULL, *why2 = NULL;
        host h;

        dual_host(&h, "nvidia");
        why = add(&d, &h, "win11", DGPU, "keep_session = no\n");
        assert_string_equal(why, DGPU ": left to the desktop (keep_session = no)");
        assert_int_equal(d.n_away, 0);
        /* yes overrides the boot VGA rule: the user says the desktop runs elsewhere. */
        h.devs[0].boot_vga = false;
        h.devs[1].boot_vga = true;
        why2 = add(&d, &h, "win11", DGPU, "keep_session = yes\n");
        assert_string_equal(why2, DGPU ": kept away from the desktop (keep_session = yes)");
        assert_int_equal(d.n_away, 1);
}

/* devices = LIST: only the display functions it names. */
static void test_allowlist(void **state)
{
        _cleanup_(gh_desktop_done) gh_desktop d = {};
        _cleanup_free_ char *why = NULL;
        host h;

        dual_host(&h, "nvidia");
        why = add(&d, &h, "win11", DGPU, "devices = " DGPU_AUDIO "\n");
        assert_null(why);
        assert_int_equal(d.n_away, 0);
}

/* The planner's selection decides, not a copy of it: a list that leaves the GPU's audio function out
 * makes the start refused, so the GPU never goes to the VM and stays with the desktop; listing both
 * keeps it away. */
static void test_allowlist_refused_start(void **state)
{
        _cleanup_(gh_desktop_done) gh_desktop d = {};
        _cleanup_free_ char *why = NULL, *why2 = NULL;
        host h;

        dual_host(&h, "nvidia");
        why = add(&d, &h, "win11", DGPU, "devices = " DGPU "\n");
        assert_null(why);
        assert_int_equal(d.n_away, 0);
        why2 = add(&d, &h, "win11", DGPU, "devices = " DGPU " " DGPU_AUDIO "\n");
        assert_string_equal(why2, DGPU ": kept away from the desktop (keep_session = auto)");
        assert_int_equal(d.n_away, 1);
}

static void test_parse_back(void **state)
{
        _cleanup_free_ char *want_rules = want_text(RULES_FIXTURE);
        gh_desktop_gpu *v = NULL;
        size_t n = 0;

        assert_int_equal(gh_desktop_parse_rules(want_rules, &v, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(GH_PCI_ADDR_STR(&v[0].addr), DGPU);
        assert_string_equal(v[0].domain, "win11");
        gh_desktop_gpus_free(v, n);
        assert_int_equal(
                gh_desktop_parse_rules("# nothing of ours\nKERNELS==\"0000:01:00.0\", TAG+=\"x\"\n", &v, &n),
                0);
        assert_int_equal(n, 0);
        gh_desktop_gpus_free(v, n);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_auto_keeps_second_gpu_away),
                cmocka_unit_test(test_gpu_on_vfio_kept_away),
                cmocka_unit_test(test_auto_leaves_boot_vga),
                cmocka_unit_test(test_auto_leaves_only_gpu),
                cmocka_unit_test(test_yes_and_no),
                cmocka_unit_test(test_allowlist),
                cmocka_unit_test(test_allowlist_refused_start),
                cmocka_unit_test(test_parse_back),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
