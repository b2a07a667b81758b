/* `gpu-handover claim-boot` end to end against a fake sysfs that behaves like the kernel (the fake-kernel
 * preload): only autostarted domains that opted in with claim_at_boot = yes get their devices on
 * vfio-pci, a device whose driver will not let go or that a process holds stays on the host, and the
 * hook's prepare and release afterwards give a claimed device back to its host driver. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "capture.h"
#include "fake-modfile.h"
#include "fakesys.h"
#include "shared/fileio.h"
#include "shared/strv.h"
#include "shared/time-util.h"

/* The test build: it takes --root. */
#define TOOL GH_TOOL_TEST_BIN

typedef gh_run run;
#define run_done gh_run_done

static void assert_status(const run *r, int want)
{
        if (r->status != want)
                fail_msg("exit %d, not %d; stderr: %s; stdout: %s", r->status, want, r->err, r->out);
}

static void assert_out_has(const run *r, const char *want)
{
        if (!strstr(r->out, want))
                fail_msg("stdout lacks '%s'; stdout: %s; stderr: %s", want, r->out, r->err);
}

/* Runs the tool on the fake root with stdin from in; args end with NULL. */
static run tool_run(fakesys *fs, const char *in, const char *const *args)
{
        const char *argv[16] = {TOOL, "--root", fakesys_root(fs)};
        size_t n = 3;
        run r = {};

        for (; *args && n < 15; args++)
                argv[n++] = *args;
        gh_run_capture(argv, in ? in : "", &r);
        return r;
}

#define tool(fs, in, ...) tool_run((fs), (in), (const char *[]){__VA_ARGS__})

static void make_link(fakesys *fs, const char *rel, const char *target)
{
        _cleanup_free_ char *p = fakesys_path(fs, rel);
        _cleanup_free_ char *dir = strdup(p);

        *strrchr(dir, '/') = 0;
        assert_int_equal(mkdir_p(dir, 0755), 0);
        assert_int_equal(symlink(target, p), 0);
}

/* The domain's XML with a managed PCI hostdev for each address ("05.0"), NULL after the last. */
static char *domain_xml(const char *name, ...)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        va_list ap;

        assert_non_null(f);
        fprintf(f, "<domain type='kvm'>\n  <name>%s</name>\n  <devices>\n", name);
        va_start(ap, name);
        for (const char *a; (a = va_arg(ap, const char *));)
                fprintf(f,
                        "    <hostdev mode='subsystem' type='pci' managed='yes'>\n"
                        "      <source><address domain='0x0000' bus='0x00' slot='0x%.2s' "
                        "function='0x%s'/></source>\n"
                        "    </hostdev>\n",
                        a, a + 3);
        va_end(ap);
        fprintf(f, "  </devices>\n</domain>\n");
        fclose(f);
        return buf;
}

static void define(fakesys *fs, const char *name, const char *xml)
{
        _cleanup_free_ char *rel = NULL;

        assert_true(asprintf(&rel, "/etc/libvirt/qemu/%s.xml", name) > 0);
        fakesys_write(fs, rel, xml, 0644);
}

/* libvirt links autostart/NAME.xml to the definition; its links are absolute, which under a
 * --root point at the real host: claim-boot must read the definition under the root instead. */
static void autostart(fakesys *fs, const char *name, bool absolute)
{
        _cleanup_free_ char *rel = NULL, *target = NULL;

        assert_true(asprintf(&rel, "/etc/libvirt/qemu/autostart/%s.xml", name) > 0);
        assert_true(asprintf(&target, "%s/%s.xml", absolute ? "/etc/libvirt/qemu" : "..", name) > 0);
        make_link(fs, rel, target);
}

static void configure(fakesys *fs, const char *name, const char *conf)
{
        _cleanup_free_ char *rel = NULL;

        assert_true(asprintf(&rel, "/etc/gpu-handover/domains/%s.conf", name) > 0);
        fakesys_write(fs, rel, conf, 0644);
}

/* A GPU and, unless audio is NULL, its HDMI audio function, both on their host drivers. */
static void add_gpu(fakesys *fs, const char *gpu, const char *audio, int group)
{
        fakesys_add_dev(fs, gpu, 0x030000, 0x1234, 0x1111, group);
        fakesys_bind(fs, gpu, "bochs-drm");
        if (!audio)
                return;
        fakesys_add_dev(fs, audio, 0x040300, 0x8086, 0x293e, group);
        fakesys_bind(fs, audio, "snd_hda_intel");
}

/* Host drivers built in, so that no step asks the real kernel for a module; vfio-pci a loaded module. */
static fakesys *host_drivers_new(bool vfio_loaded)
{
        fakesys *fs = fakesys_new();

        fakesys_add_dev(fs, "0000:00:00.0", 0x060000, 0x8086, 0x29c0, 0);
        fakesys_add_driver(fs, "bochs-drm", NULL);
        fakesys_add_driver_id(fs, "bochs-drm", 0x1234, 0x1111);
        fakesys_add_driver(fs, "snd_hda_intel", NULL);
        fakesys_add_driver_id(fs, "snd_hda_intel", 0x8086, 0x293e);
        fakesys_add_driver(fs, "vfio-pci", vfio_loaded ? "vfio_pci" : NULL);
        return fs;
}

static fakesys *host_new(bool vfio_loaded)
{
        fakesys *fs = host_drivers_new(vfio_loaded);

        add_gpu(fs, "0000:00:05.0", "0000:00:05.1", 2);
        fakesys_set_boot_vga(fs, "0000:00:05.0", true);
        fakesys_add_drm(fs, "0000:00:05.0", "card0");
        fakesys_add_sound(fs, "0000:00:05.1", 0, "controlC0", "pcmC0D0p", NULL);
        return fs;
}

static int setup(void **state)
{
        fakesys *fs;

        if (geteuid() != 0) {
                print_message("skipped: config files must be root's, so this test runs as root\n");
                return -1;
        }
        fs = host_new(true);
        *state = fs;
        return 0;
}

static int teardown(void **state)
{
        fakesys_free(*state);
        return 0;
}

static void claimed_domain(fakesys *fs, const char *conf)
{
        _cleanup_free_ char *xml = domain_xml("win11", "05.0", "05.1", NULL);

        define(fs, "win11", xml);
        autostart(fs, "win11", true);
        configure(fs, "win11", conf);
}

static void assert_driver(fakesys *fs, const char *addr, const char *want)
{
        _cleanup_free_ char *d = fakesys_driver(fs, addr);

        if (!streq_ptr(d, want))
                fail_msg("%s is on '%s', not '%s'", addr, strempty(d), strempty(want));
}

static void assert_override(fakesys *fs, const char *addr, const char *want)
{
        _cleanup_free_ char *rel = NULL, *v = NULL;

        assert_true(asprintf(&rel, "/sys/bus/pci/devices/%s/driver_override", addr) > 0);
        v = fakesys_read(fs, rel);
        if (!streq_ptr(v, want))
                fail_msg("driver_override of %s is '%s', not '%s'", addr, strempty(v), want);
}

static void assert_on_vfio(fakesys *fs, const char *addr)
{
        assert_driver(fs, addr, "vfio-pci");
        assert_override(fs, addr, "vfio-pci");
}

static void assert_on_host(fakesys *fs, const char *addr, const char *driver)
{
        assert_driver(fs, addr, driver);
        assert_override(fs, addr, "(null)");
}

/* claim-boot writes no hand-over journal: only the lock (and the stuck list, when a function got stuck)
 * may be in the run directory. */
static void assert_no_journal(fakesys *fs)
{
        _cleanup_free_ char *dir = fakesys_path(fs, "/run/gpu-handover");
        DIR *d = opendir(dir);

        for (struct dirent *de; d && (de = readdir(d));)
                if (de->d_name[0] != '.' && !streq(de->d_name, "lock") && !streq(de->d_name, "stuck"))
                        fail_msg("'%s' is in /run/gpu-handover", de->d_name);
        if (d)
                closedir(d);
}

static void test_claims_only_opted_in_autostart(void **state)
{
        fakesys *fs = *state;
        _cleanup_free_ char *x6 = domain_xml("manual", "06.0", "06.1", NULL),
                            *x7 = domain_xml("noclaim", "07.0", NULL),
                            *x8 = domain_xml("noconf", "08.0", NULL),
                            *x9 = domain_xml("refused", "09.0", "09.1", NULL);
        run r;

        add_gpu(fs, "0000:00:06.0", "0000:00:06.1", 3);
        add_gpu(fs, "0000:00:07.0", NULL, 4);
        add_gpu(fs, "0000:00:08.0", NULL, 5);
        add_gpu(fs, "0000:00:09.0", "0000:00:09.1", 6);
        claimed_domain(fs, "claim_at_boot = yes\n");
        /* Opted in and claim_at_boot, but libvirt does not start it at boot. */
        define(fs, "manual", x6);
        configure(fs, "manual", "claim_at_boot = yes\n");
        define(fs, "noclaim", x7);
        autostart(fs, "noclaim", false);
        configure(fs, "noclaim", "# claim_at_boot left at its default\n");
        define(fs, "noconf", x8);
        autostart(fs, "noconf", false);
        /* Its XML passes 09.1 through, which its allowlist does not name: prepare would refuse it too. */
        define(fs, "refused", x9);
        autostart(fs, "refused", false);
        configure(fs, "refused", "claim_at_boot = yes\ndevices = 0000:00:09.0\n");
        /* Autostarted, opted in, but its definition is gone. */
        autostart(fs, "dangling", false);
        configure(fs, "dangling", "claim_at_boot = yes\n");

        r = tool(fs, NULL, "claim-boot", NULL);
        assert_status(&r, 0);
        assert_on_vfio(fs, "0000:00:05.0");
        assert_on_vfio(fs, "0000:00:05.1");
        assert_true(fakesys_exists(fs, "/dev/vfio/2"));
        assert_out_has(&r, "win11: 0000:00:05.0 claimed; 0000:00:05.1 claimed\n");

        assert_on_host(fs, "0000:00:06.0", "bochs-drm");
        assert_on_host(fs, "0000:00:06.1", "snd_hda_intel");
        assert_on_host(fs, "0000:00:07.0", "bochs-drm");
        assert_on_host(fs, "0000:00:08.0", "bochs-drm");
        assert_on_host(fs, "0000:00:09.0", "bochs-drm");
        assert_on_host(fs, "0000:00:09.1", "snd_hda_intel");
        for (int g = 3; g <= 6; g++) {
                char rel[32];

                snprintf(rel, sizeof(rel), "/dev/vfio/%d", g);
                assert_false(fakesys_exists(fs, rel));
        }
        assert_null(strstr(r.out, "manual"));
        assert_out_has(&r, "noclaim: not claimed: claim_at_boot is not set");
        assert_out_has(&r, "noconf: not claimed: domain 'noconf' has not opted in");
        assert_out_has(&r, "refused: not claimed: domain 'refused': hostdev 0000:00:09.1 is not allowed");
        assert_out_has(&r, "dangling: not claimed: cannot read '/etc/libvirt/qemu/dangling.xml'");
        assert_no_journal(fs);
        run_done(&r);

        /* Nothing is recorded as a hand-over. */
        r = tool(fs, NULL, "status", NULL);
        assert_status(&r, 0);
        assert_out_has(&r, "Hand-overs recorded in /run/gpu-handover:\n  (none)");
        run_done(&r);
}

static void test_stuck_unbind_left_alone(void **state)
{
        fakesys *fs = *state;
        _cleanup_free_ char *x6 = domain_xml("second", "06.0", "06.1", NULL);
        _cleanup_free_ char *list = NULL;
        usec_t start = now_usec();
        run r;

        add_gpu(fs, "0000:00:06.0", "0000:00:06.1", 3);
        claimed_domain(fs, "claim_at_boot = yes\ntimeout = 2\n");
        define(fs, "second", x6);
        autostart(fs, "second", false);
        configure(fs, "second", "claim_at_boot = yes\n");
        fakesys_block_unbind(fs, "0000:00:05.1");

        r = tool(fs, NULL, "claim-boot", NULL);
        assert_status(&r, 0);
        /* The domain's budget bounds the wait on the stuck driver. */
        assert_true(now_usec() - start < 40 * USEC_PER_SEC);
        /* Still on its host driver. Its override stays vfio-pci: while the unbind is stuck the kernel holds
         * the device's lock, and writing the override back would block the tool with it. */
        assert_driver(fs, "0000:00:05.1", "snd_hda_intel");
        assert_override(fs, "0000:00:05.1", "vfio-pci");
        /* The executor undid the domain's other steps: 05.0 is the host's again. Its rollback could not
         * finish, so the journal stays for 'restore', as after a hand-over. */
        assert_on_host(fs, "0000:00:05.0", "bochs-drm");
        assert_out_has(&r, "win11: not claimed: 0000:00:05.1 is stuck: its unbind (driver 'snd_hda_intel') "
                           "has not finished since ");
        assert_out_has(&r, "(the journal is kept: 'gpu-handover restore win11' undoes what is left)");
        assert_true(fakesys_exists(fs, "/run/gpu-handover/win11.journal"));
        /* The other domain is claimed all the same. */
        assert_on_vfio(fs, "0000:00:06.0");
        assert_on_vfio(fs, "0000:00:06.1");
        assert_out_has(&r, "second: 0000:00:06.0 claimed; 0000:00:06.1 claimed\n");
        /* Listed, so that the hand-over of this domain later leaves it alone too. */
        list = fakesys_read(fs, "/run/gpu-handover/stuck");
        assert_true(startswith(list, "0000:00:05.1 unbind ") && endswith(list, " snd_hda_intel"));
        run_done(&r);
}

/* The nvidia driver, with nvidia_drm (modeset=Y) on nvidia_modeset on nvidia, their module files there. */
static void nvidia_stack(fakesys *fs)
{
        fakesys_add_driver(fs, "nvidia", "nvidia");
        fakesys_add_module_holder(fs, "nvidia", "nvidia_modeset");
        fakesys_add_module_holder(fs, "nvidia_modeset", "nvidia_drm");
        fake_module_set_param(fs, "nvidia_drm", "modeset", "Y");
        fake_modfile_add(fs, "nvidia", NULL);
        fake_modfile_add(fs, "nvidia_modeset", NULL);
        fake_modfile_add(fs, "nvidia_drm", NULL);
}

/* nvidia drives only this GPU, which it took before the rule could reserve it (no rule yet, or nvidia
 * loaded before udev ran). A hand-over would unload its stack; claim-boot unloads nothing, and with
 * nvidia_drm (modeset=Y) loaded an unbind would never return: the device is left on the host. */
static void test_unbind_that_would_hang_left_alone(void **state)
{
        fakesys *fs = *state;
        _cleanup_free_ char *xml = domain_xml("win11", "01.0", NULL);
        run r;

        fakesys_add_dev(fs, "0000:00:01.0", 0x030000, 0x10de, 0x2684, 4);
        nvidia_stack(fs);
        fakesys_bind(fs, "0000:00:01.0", "nvidia");
        define(fs, "win11", xml);
        autostart(fs, "win11", true);
        configure(fs, "win11", "claim_at_boot = yes\n");

        r = tool(fs, NULL, "claim-boot", NULL);
        assert_status(&r, 0);
        assert_out_has(&r,
                       "0000:00:01.0 left alone (domain 'win11': unbinding 0000:00:01.0 alone from 'nvidia' "
                       "would never finish");
        /* At boot the rules should have kept nvidia off it: the advice is about them, not claim_at_boot. */
        assert_out_has(&r,
                       "the claim rules keep 'nvidia' off the GPU at boot: write them with 'gpu-handover "
                       "claim-boot --write-rules'");
        assert_on_host(fs, "0000:00:01.0", "nvidia");
        run_done(&r);
}

static void test_held_device_left_alone(void **state)
{
        fakesys *fs = *state;
        run r;

        claimed_domain(fs, "claim_at_boot = yes\n");
        make_link(fs, "/proc/4242/fd/7", "/dev/snd/controlC0");
        fakesys_write(fs, "/proc/4242/comm", "pipewire\n", 0644);
        fakesys_write(fs, "/proc/4242/maps", "", 0644);

        r = tool(fs, NULL, "claim-boot", NULL);
        assert_status(&r, 0);
        assert_on_host(fs, "0000:00:05.1", "snd_hda_intel");
        assert_out_has(&r, "0000:00:05.1 left alone (pid 4242 (pipewire) holds /dev/snd/controlC0");
        assert_on_vfio(fs, "0000:00:05.0");
        run_done(&r);
}

static void test_no_vfio_module_gives_back(void **state)
{
        fakesys *fs = *state;
        run r;

        /* A host where vfio-pci is not loaded and cannot be: the devices go back to their drivers. */
        teardown(state);
        fs = *state = host_new(false);
        claimed_domain(fs, "claim_at_boot = yes\n");

        r = tool(fs, NULL, "claim-boot", NULL);
        assert_status(&r, 0);
        assert_on_host(fs, "0000:00:05.0", "bochs-drm");
        assert_on_host(fs, "0000:00:05.1", "snd_hda_intel");
        assert_out_has(&r, "win11: not claimed: cannot set up libkmod");
        assert_false(fakesys_exists(fs, "/dev/vfio/2"));
        /* Rolled back in full: nothing is on record. */
        assert_no_journal(fs);
        run_done(&r);
}

static void test_nothing_autostarted(void **state)
{
        fakesys *fs = *state;
        run r;

        configure(fs, "win11", "claim_at_boot = yes\n");
        r = tool(fs, NULL, "claim-boot", NULL);
        assert_status(&r, 0);
        assert_out_has(&r, "nothing to claim");
        assert_on_host(fs, "0000:00:05.0", "bochs-drm");
        assert_false(fakesys_exists(fs, "/run/gpu-handover"));
        run_done(&r);

        r = tool(fs, NULL, "claim-boot", "extra", NULL);
        assert_status(&r, 2);
        run_done(&r);
}

static void assert_journal_line(fakesys *fs, const char *want)
{
        _cleanup_free_ char *p = fakesys_path(fs, "/run/gpu-handover/win11.journal"), *text = NULL;
        _cleanup_strv_free_ char **lines = NULL;

        assert_int_equal(read_full_file(p, 1 << 20, &text, NULL), 0);
        assert_int_equal(strv_split(text, "\n", &lines), 0);
        if (!strv_contains(lines, want))
                fail_msg("the journal has no line '%s':\n%s", want, text);
}

static void assert_rules(fakesys *fs, const char *const *addrs)
{
        _cleanup_free_ char *rules = fakesys_read_all(fs, "/etc/udev/rules.d/61-gpu-handover-claim.rules");
        size_t n = 0;

        assert_non_null(rules);
        for (const char *p = rules; (p = strstr(p, "\nKERNEL==\"")); p++)
                n++;
        for (size_t i = 0; addrs[i]; i++) {
                _cleanup_free_ char *want = NULL;

                assert_true(asprintf(&want, "\nKERNEL==\"%s\"", addrs[i]) > 0);
                if (!strstr(rules, want))
                        fail_msg("the rules reserve no %s:\n%s", addrs[i], rules);
                n--;
        }
        if (n != 0)
                fail_msg("the rules reserve %zu function(s) more:\n%s", n, rules);
}

/* Claimed at boot, then started and stopped by libvirt: the device ends on its host driver. */
static void test_hook_after_claim_gives_to_host(void **state)
{
        fakesys *fs = *state;
        _cleanup_free_ char *xml = domain_xml("win11", "05.0", "05.1", NULL);
        run r;

        claimed_domain(fs, "claim_at_boot = yes\n");
        r = tool(fs, NULL, "claim-boot", NULL);
        assert_status(&r, 0);
        assert_on_vfio(fs, "0000:00:05.0");
        assert_on_vfio(fs, "0000:00:05.1");
        run_done(&r);

        r = tool(fs, xml, "hook", "qemu", "win11", "prepare", "begin", "-", NULL);
        assert_status(&r, 0);
        assert_on_vfio(fs, "0000:00:05.0");
        assert_on_vfio(fs, "0000:00:05.1");
        /* No host driver on record and no override to put back: release lets the probe find the driver. */
        assert_journal_line(fs, "set-override addr=0000:00:05.0");
        assert_journal_line(fs, "set-override addr=0000:00:05.1");
        run_done(&r);

        /* While it runs, claim-boot leaves it to its hand-over, and still reserves it at the next boot. */
        r = tool(fs, NULL, "claim-boot", NULL);
        assert_status(&r, 0);
        assert_out_has(&r, "win11: not claimed: domain 'win11': a hand-over is recorded already");
        assert_rules(fs, (const char *[]){"0000:00:05.0", "0000:00:05.1", NULL});
        assert_on_vfio(fs, "0000:00:05.0");
        run_done(&r);
        r = tool(fs, NULL, "claim-boot", "--write-rules", NULL);
        assert_status(&r, 0);
        assert_rules(fs, (const char *[]){"0000:00:05.0", "0000:00:05.1", NULL});
        run_done(&r);

        r = tool(fs, xml, "hook", "qemu", "win11", "release", "end", "-", NULL);
        assert_status(&r, 0);
        assert_string_equal(r.err, "");
        assert_on_host(fs, "0000:00:05.0", "bochs-drm");
        assert_on_host(fs, "0000:00:05.1", "snd_hda_intel");
        assert_false(fakesys_exists(fs, "/dev/vfio/2"));
        assert_false(fakesys_exists(fs, "/run/gpu-handover/win11.journal"));
        run_done(&r);
}

/* As the claim rule leaves a function on its add event: driver_override vfio-pci, no driver bound. */
static void reserve(fakesys *fs, const char *addr)
{
        _cleanup_free_ char *rel = NULL;

        assert_true(asprintf(&rel, "/sys/bus/pci/devices/%s/driver_override", addr) > 0);
        fakesys_write(fs, rel, "vfio-pci\n", 0644);
}

/* nvidia drives two GPUs, with nvidia_drm modeset=Y: unbinding either would never finish. The rule
 * reserved 01.0 before nvidia loaded, so claim-boot binds it without unbinding anything. */
static void nvidia_host(fakesys *fs)
{
        fakesys_add_dev(fs, "0000:00:01.0", 0x030000, 0x10de, 0x2684, 4);
        fakesys_add_dev(fs, "0000:00:02.0", 0x030000, 0x10de, 0x2684, 5);
        nvidia_stack(fs);
        fakesys_add_driver_id(fs, "nvidia", 0x10de, 0x2684);
        fakesys_bind(fs, "0000:00:02.0", "nvidia");
}

static void test_reserved_gpu_bound_without_unbind(void **state)
{
        fakesys *fs = *state;
        _cleanup_free_ char *xml = domain_xml("win11", "01.0", NULL), *rules = NULL;
        run r;

        nvidia_host(fs);
        reserve(fs, "0000:00:01.0");
        /* Any unbind of either GPU would hang the tool here. */
        fakesys_block_unbind(fs, "0000:00:01.0");
        fakesys_block_unbind(fs, "0000:00:02.0");
        define(fs, "win11", xml);
        autostart(fs, "win11", true);
        configure(fs, "win11", "claim_at_boot = yes\n");

        r = tool(fs, NULL, "claim-boot", NULL);
        assert_status(&r, 0);
        assert_out_has(&r, "win11: 0000:00:01.0 claimed\n");
        assert_on_vfio(fs, "0000:00:01.0");
        assert_true(fakesys_exists(fs, "/dev/vfio/4"));
        assert_driver(fs, "0000:00:02.0", "nvidia");
        assert_false(fakesys_exists(fs, "/run/gpu-handover/stuck"));
        assert_no_journal(fs);
        /* Reserved again at the next boot: that GPU, by address and identity, and not the other. */
        rules = fakesys_read_all(fs, "/etc/udev/rules.d/61-gpu-handover-claim.rules");
        assert_non_null(strstr(rules, "\nKERNEL==\"0000:00:01.0\", ATTR{vendor}==\"0x10de\", "
                                      "ATTR{device}==\"0x2684\", ATTR{driver_override}=\"vfio-pci\"\n"));
        assert_null(strstr(rules, "0000:00:02.0"));
        assert_non_null(strstr(rules, "ACTION!=\"add\", GOTO=\"gpu_handover_claim_end\"\n"));
        run_done(&r);
}

/* --write-rules: the rules follow the configs at once, and nothing is claimed. */
static void test_write_rules_follows_configs(void **state)
{
        fakesys *fs = *state;
        _cleanup_free_ char *x7 = domain_xml("noclaim", "07.0", NULL);
        run r;

        add_gpu(fs, "0000:00:07.0", NULL, 4);
        claimed_domain(fs, "claim_at_boot = yes\n");
        define(fs, "noclaim", x7);
        autostart(fs, "noclaim", false);
        configure(fs, "noclaim", "claim_at_boot = no\n");

        r = tool(fs, NULL, "claim-boot", "--write-rules", NULL);
        assert_status(&r, 0);
        assert_out_has(&r, "win11: reserved at boot: 0000:00:05.0, 0000:00:05.1\n");
        assert_out_has(&r, "Wrote /etc/udev/rules.d/61-gpu-handover-claim.rules (2 function(s) reserved");
        assert_rules(fs, (const char *[]){"0000:00:05.0", "0000:00:05.1", NULL});
        assert_on_host(fs, "0000:00:05.0", "bochs-drm");
        assert_on_host(fs, "0000:00:05.1", "snd_hda_intel");
        assert_no_journal(fs);
        run_done(&r);

        /* The same again: the file is left as it is. */
        r = tool(fs, NULL, "claim-boot", "--write-rules", NULL);
        assert_status(&r, 0);
        assert_null(strstr(r.out, "Wrote"));
        run_done(&r);

        configure(fs, "win11", "claim_at_boot = no\n");
        r = tool(fs, NULL, "claim-boot", "--write-rules", NULL);
        assert_status(&r, 0);
        assert_out_has(&r, "Removed /etc/udev/rules.d/61-gpu-handover-claim.rules");
        assert_false(fakesys_exists(fs, "/etc/udev/rules.d/61-gpu-handover-claim.rules"));
        run_done(&r);
}

/* The rules of the last boot reserved 05.0 and 05.1, and the config no longer claims them: they go to
 * their host drivers, and the rules go. With the config claiming them, they are bound as they are. */
/* The host as the rules of the last boot left it, 05.0 and 05.1 reserved, with those rules in place. */
static fakesys *reserved_host_new(void)
{
        fakesys *fs = host_drivers_new(true);
        run r;

        fakesys_add_dev(fs, "0000:00:05.0", 0x030000, 0x1234, 0x1111, 2);
        fakesys_add_dev(fs, "0000:00:05.1", 0x040300, 0x8086, 0x293e, 2);
        reserve(fs, "0000:00:05.0");
        reserve(fs, "0000:00:05.1");
        claimed_domain(fs, "claim_at_boot = yes\n");
        r = tool(fs, NULL, "claim-boot", "--write-rules", NULL);
        assert_status(&r, 0);
        run_done(&r);
        return fs;
}

/* What reserved_host_new() reserved is on its host drivers again, through no journal, and the rules are
 * gone. */
static void assert_given_back(fakesys *fs, const run *r)
{
        assert_status(r, 0);
        assert_out_has(r, "0000:00:05.0: reserved at boot, taken by no domain: given back to the host\n");
        assert_out_has(r, "0000:00:05.1: reserved at boot, taken by no domain: given back to the host\n");
        assert_out_has(r, "Removed /etc/udev/rules.d/61-gpu-handover-claim.rules");
        assert_on_host(fs, "0000:00:05.0", "bochs-drm");
        assert_on_host(fs, "0000:00:05.1", "snd_hda_intel");
        assert_false(fakesys_exists(fs, "/etc/udev/rules.d/61-gpu-handover-claim.rules"));
        assert_no_journal(fs);
}

/* No domain is autostarted any more: the unit still runs (the rules file is there), and gives back. */
static void test_no_autostart_gives_back_reservation(void **state)
{
        fakesys *fs;
        _cleanup_free_ char *link = NULL;
        run r;

        teardown(state);
        fs = *state = reserved_host_new();
        link = fakesys_path(fs, "/etc/libvirt/qemu/autostart/win11.xml");
        assert_int_equal(unlink(link), 0);
        r = tool(fs, NULL, "claim-boot", NULL);
        assert_out_has(&r, "nothing to claim");
        assert_given_back(fs, &r);
        run_done(&r);
}

static void test_stale_reservation_given_back(void **state)
{
        fakesys *fs;
        run r;

        teardown(state);
        fs = *state = reserved_host_new();

        configure(fs, "win11", "claim_at_boot = no\n");
        r = tool(fs, NULL, "claim-boot", NULL);
        assert_given_back(fs, &r);
        run_done(&r);

        /* Reserved again, and claimed this time: bound from where the rule left them, unbinding nothing. */
        teardown(state);
        fs = *state = reserved_host_new();
        fakesys_block_unbind(fs, "0000:00:05.0");
        fakesys_block_unbind(fs, "0000:00:05.1");
        r = tool(fs, NULL, "claim-boot", NULL);
        assert_status(&r, 0);
        assert_out_has(&r, "win11: 0000:00:05.0 claimed; 0000:00:05.1 claimed\n");
        assert_on_vfio(fs, "0000:00:05.0");
        assert_on_vfio(fs, "0000:00:05.1");
        assert_rules(fs, (const char *[]){"0000:00:05.0", "0000:00:05.1", NULL});
        assert_no_journal(fs);
        run_done(&r);
}

static bool unit_has(char *const *lines, const char *want)
{
        if (strv_contains(lines, want))
                return true;
        print_error("the unit has no line '%s'\n", want);
        return false;
}

/* The installed unit runs the installed tool early, and systemd (when here to ask) accepts it. */
static void test_unit_file(void **state)
{
        _cleanup_free_ char *text = NULL, *copy = NULL, *cmd = NULL;
        _cleanup_strv_free_ char **lines = NULL;
        char dir[] = "/tmp/gh-claim-unit-XXXXXX", line[512];
        FILE *f, *p;

        assert_int_equal(read_full_file(GH_CLAIM_UNIT, 1 << 16, &text, NULL), 0);
        assert_null(strchr(text, '@'));
        assert_int_equal(strv_split(text, "\n", &lines), 0);
        assert_true(unit_has(lines, "ExecStart=" GH_TOOL_PATH " claim-boot") &&
                    unit_has(lines, "Type=oneshot") && unit_has(lines, "RemainAfterExit=yes") &&
                    unit_has(lines, "DefaultDependencies=no") &&
                    unit_has(lines, "Before=display-manager.service libvirtd.service virtqemud.service"));
        if (access("/usr/bin/systemd-analyze", X_OK) < 0)
                fail_msg("no /usr/bin/systemd-analyze (package systemd, which scripts/test installs): the "
                         "unit cannot be verified");
        /* verify wants ExecStart to exist: point it at the built tool. */
        assert_non_null(mkdtemp(dir));
        assert_true(asprintf(&copy, "%s/gpu-handover-claim.service", dir) > 0);
        f = fopen(copy, "we");
        assert_non_null(f);
        STRV_FOREACH(l, lines)
        fprintf(f, "%s\n", startswith(*l, "ExecStart=") ? "ExecStart=" TOOL " claim-boot" : *l);
        fclose(f);
        assert_true(asprintf(&cmd, "/usr/bin/systemd-analyze verify %s 2>&1", copy) > 0);
        p = popen(cmd, "re");
        assert_non_null(p);
        while (fgets(line, sizeof(line), p))
                /* It goes on past a bad setting ("ignoring"), but names the file and line. */
                if (strstr(line, "gpu-handover-claim.service"))
                        fail_msg("systemd-analyze verify: %s", line);
        assert_int_equal(pclose(p), 0);
        unlink(copy);
        rmdir(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_claims_only_opted_in_autostart, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stuck_unbind_left_alone, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unbind_that_would_hang_left_alone, setup, teardown),
                cmocka_unit_test_setup_teardown(test_held_device_left_alone, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_vfio_module_gives_back, setup, teardown),
                cmocka_unit_test_setup_teardown(test_nothing_autostarted, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hook_after_claim_gives_to_host, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reserved_gpu_bound_without_unbind, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_rules_follows_configs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stale_reservation_given_back, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_autostart_gives_back_reservation, setup, teardown),
                cmocka_unit_test(test_unit_file),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
