/* The session-keeping mode's files end to end: `desktop-rules --write` and `install` write exactly these
 * files for these domains on a fake host, `--remove` and `uninstall` remove them, a domain whose GPU is the
 * boot VGA gets no entry under auto (the host's only GPU: test-desktop-rules), and `status` reads back what
 * they keep away. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>

#include "capture.h"
#include "fakesys.h"
#include "fixture.h"
#include "shared/fileio.h"

#define TOOL GH_TOOL_TEST_BIN /* takes the global --root */
#define INSTALLED GH_TOOL_BIN /* install and uninstall take a --root of their own */
#define HOOK "/usr/libexec/gpu-handover/qemu-hook"
#define RULES "/etc/udev/rules.d/61-gpu-handover-desktop.rules"
#define ENV "/etc/environment.d/90-gpu-handover.conf"
#define PROFILE "/etc/profile.d/gpu-handover.sh"

static gh_run tool_run(const char *bin, const char *const *argv_in)
{
        const char *argv[16] = {bin};
        size_t n = 1;
        gh_run r = {};

        for (; *argv_in && n < 15; argv_in++)
                argv[n++] = *argv_in;
        gh_run_capture(argv, NULL, &r);
        return r;
}

#define tool(fs, ...) tool_run(TOOL, (const char *[]){"--root", fakesys_root(fs), __VA_ARGS__, NULL})
#define installed(...) tool_run(INSTALLED, (const char *[]){__VA_ARGS__, NULL})

static void assert_ok(const gh_run *r)
{
        if (r->status != 0)
                fail_msg("exit %d; stderr: %s; stdout: %s", r->status, r->err, r->out);
}

static void assert_out_has(const gh_run *r, const char *want)
{
        if (!strstr(r->out, want))
                fail_msg("stdout lacks '%s'; stdout: %s; stderr: %s", want, r->out, r->err);
}

static void assert_file(fakesys *fs, const char *rel, const char *want)
{
        _cleanup_free_ char *text = fakesys_exists(fs, rel) ? fakesys_read_all(fs, rel) : NULL;

        if (!want && text)
                fail_msg("'%s' is there: %s", rel, text);
        if (want && !streq_ptr(text, want))
                fail_msg("'%s' is\n%s\nnot\n%s", rel, strempty(text), want);
}

/* The three files (their expected text in tests/fixtures/desktop) all there for win11 lending 00:06.0 while
 * the host keeps 00:05.0, or none of them. */
static void assert_files(fakesys *fs, bool there)
{
        static const char *const files[][2] = {
                {RULES, "desktop/61-gpu-handover-desktop.rules.in"},
                {ENV, "desktop/90-gpu-handover.conf.in"},
                {PROFILE, "desktop/gpu-handover.sh.in"},
        };

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *want =
                        there ? fixture_text(files[i][1], "@AWAY@", "0000:00:06.0", "@HOST@", "0000:00:05.0",
                                             "@HOST_NAME@", "0000_00_05.0", NULL)
                              : NULL;

                assert_file(fs, files[i][0], want);
        }
}

/* A domain passing through the GPU at slot ("06") and its audio, opted in with conf. */
static void domain(fakesys *fs, const char *name, const char *slot, const char *conf)
{
        _cleanup_free_ char *xml = NULL, *rel = NULL, *crel = NULL;

        assert_true(asprintf(&xml,
                             "<domain type='kvm'><name>%s</name><devices>\n"
                             "<hostdev mode='subsystem' type='pci' managed='yes'><source><address "
                             "domain='0x0000' "
                             "bus='0x00' slot='0x%s' function='0x0'/></source></hostdev>\n"
                             "<hostdev mode='subsystem' type='pci' managed='yes'><source><address "
                             "domain='0x0000' "
                             "bus='0x00' slot='0x%s' function='0x1'/></source></hostdev>\n"
                             "</devices></domain>\n",
                             name, slot, slot) > 0);
        assert_true(asprintf(&rel, "/etc/libvirt/qemu/%s.xml", name) > 0);
        assert_true(asprintf(&crel, "/etc/gpu-handover/domains/%s.conf", name) > 0);
        fakesys_write(fs, rel, xml, 0644);
        fakesys_write(fs, crel, conf, 0644);
}

static void add_gpu(fakesys *fs, const char *gpu, const char *audio, int group, const char *card)
{
        fakesys_add_dev(fs, gpu, 0x030000, 0x1234, 0x1111, group);
        fakesys_bind(fs, gpu, "bochs-drm");
        fakesys_add_drm(fs, gpu, card);
        fakesys_add_dev(fs, audio, 0x040300, 0x8086, 0x293e, group);
        fakesys_bind(fs, audio, "snd_hda_intel");
}

/* The boot VGA at 00:05.0 runs the desktop; the second GPU at 00:06.0 is lent to win11. */
static int setup(void **state)
{
        fakesys *fs;

        if (geteuid() != 0) {
                print_message("skipped: config files must be root's, so this test runs as root\n");
                return -1;
        }
        fs = fakesys_new();
        fakesys_add_driver(fs, "bochs-drm", NULL);
        fakesys_add_driver(fs, "snd_hda_intel", NULL);
        add_gpu(fs, "0000:00:05.0", "0000:00:05.1", 2, "card0");
        fakesys_set_boot_vga(fs, "0000:00:05.0", true);
        add_gpu(fs, "0000:00:06.0", "0000:00:06.1", 3, "card1");
        *state = fs;
        return 0;
}

static int teardown(void **state)
{
        fakesys_free(*state);
        return 0;
}

static void test_write_and_remove(void **state)
{
        fakesys *fs = *state;
        _cleanup_(gh_run_done) gh_run show = {}, w = {}, again = {}, rm = {};

        domain(fs, "win11", "06", "");
        show = tool(fs, "desktop-rules");
        assert_ok(&show);
        assert_out_has(&show, "win11: 0000:00:06.0: kept away from the desktop (keep_session = auto)");
        assert_files(fs, false);
        w = tool(fs, "desktop-rules", "--write");
        assert_ok(&w);
        assert_out_has(&w, "Wrote " RULES);
        /* Below a root, udev is never triggered: the user is told to. */
        assert_out_has(&w, "after running\n    udevadm trigger --action=change --subsystem-match=drm\n");
        assert_files(fs, true);
        again = tool(fs, "desktop-rules", "--write");
        assert_ok(&again);
        assert_out_has(&again, "nothing changed");
        rm = tool(fs, "desktop-rules", "--remove");
        assert_ok(&rm);
        assert_out_has(&rm, "Removed " PROFILE);
        assert_files(fs, false);
}

/* Under auto, the boot VGA stays the desktop's; keep_session = no takes an entry away. */
static void test_no_entry_for_boot_vga(void **state)
{
        fakesys *fs = *state;
        _cleanup_(gh_run_done) gh_run w = {}, no = {};

        domain(fs, "desk", "05", "");
        w = tool(fs, "desktop-rules", "--write");
        assert_ok(&w);
        assert_out_has(&w,
                       "desk: 0000:00:05.0: left to the desktop (keep_session = auto): its GPU is the boot "
                       "VGA");
        assert_files(fs, false);
        domain(fs, "win11", "06", "keep_session = no\n");
        no = tool(fs, "desktop-rules", "--write");
        assert_ok(&no);
        assert_out_has(&no, "win11: 0000:00:06.0: left to the desktop (keep_session = no)");
        assert_files(fs, false);
}

static void test_status_says_kept_away(void **state)
{
        fakesys *fs = *state;
        _cleanup_(gh_run_done) gh_run w = {}, st = {}, js = {};

        domain(fs, "win11", "06", "");
        w = tool(fs, "desktop-rules", "--write");
        assert_ok(&w);
        st = tool(fs, "status");
        assert_ok(&st);
        assert_out_has(&st, "Kept away from the desktop (" RULES "):\n  0000:00:06.0  domain 'win11'\n");
        js = tool(fs, "status", "--json");
        assert_ok(&js);
        assert_out_has(&js, "\"kept_from_desktop\":[{\"address\":\"0000:00:06.0\",\"domain\":\"win11\"}]");
}

/* install writes them with the hook entry; uninstall removes them with it. */
static void test_install_uninstall(void **state)
{
        fakesys *fs = *state;
        _cleanup_(gh_run_done) gh_run in = {}, un = {};

        domain(fs, "win11", "06", "");
        fakesys_write(fs, HOOK, "#!/bin/sh\nexit 0\n", 0755);
        in = installed("install", "--root", fakesys_root(fs), "--hook-binary", HOOK);
        assert_ok(&in);
        assert_files(fs, true);
        un = installed("uninstall", "--root", fakesys_root(fs));
        assert_ok(&un);
        assert_out_has(&un, "Removed " RULES);
        assert_files(fs, false);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_write_and_remove, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_entry_for_boot_vga, setup, teardown),
                cmocka_unit_test_setup_teardown(test_status_says_kept_away, setup, teardown),
                cmocka_unit_test_setup_teardown(test_install_uninstall, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
