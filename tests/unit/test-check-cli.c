/* `gpu-handover check` end to end against a fake root under the fake kernel: a good domain read from libvirt
 * (its in-process test driver) passes, a broken one and a host without IOMMU fail naming the thing, the
 * command changes nothing; and the tool itself never links libvirt. */
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "elf-needed.h"
#include "capture.h"
#include "fakesys.h"
#include "proc-fake.h"
#include "shared/fileio.h"
#include "shared/strv.h"

/* The test build: it takes --root. */
#define TOOL GH_TOOL_TEST_BIN
#define HOOK_BIN "/usr/libexec/gpu-handover/qemu-hook"
#define CONF "/etc/gpu-handover/domains/win11.conf"
#define HOSTDEVS                                                                                            \
        "<hostdev mode='subsystem' type='pci' managed='no'><source>"                                        \
        "<address domain='0x0000' bus='0x00' slot='0x05' function='0x0'/></source></hostdev>"               \
        "<hostdev mode='subsystem' type='pci' managed='no'><source>"                                        \
        "<address domain='0x0000' bus='0x00' slot='0x05' function='0x1'/></source></hostdev>"

static const char domain_xml[] =
        "<domain type='kvm'><name>win11</name><devices>" HOSTDEVS "</devices></domain>\n";
/* libvirt's test driver reads its domains from such a file: test://PATH. */
static const char node_xml[] = "<node><domain type='test'><name>win11</name><memory>1048576</memory>"
                               "<os><type>hvm</type></os><devices>" HOSTDEVS "</devices></domain></node>\n";

typedef gh_run run;
#define run_done gh_run_done

/* The tool with --root and args (NULL-terminated), stdin from /dev/null. */
static run tool_run(fakesys *fs, const char *const *args)
{
        const char *argv[16] = {TOOL, "--root", fakesys_root(fs)};
        size_t n = 3;
        run r = {};

        for (; *args && n < 15; args++)
                argv[n++] = *args;
        gh_run_capture(argv, NULL, &r);
        return r;
}

#define tool(fs, ...) tool_run((fs), (const char *[]){__VA_ARGS__, NULL})

static void assert_status(const run *r, int want)
{
        if (r->status != want)
                fail_msg("exit %d, not %d; stdout:\n%s\nstderr: %s", r->status, want, r->out, r->err);
}

static void assert_no_out(const run *r, const char *needle)
{
        if (strstr(r->out, needle)) {
                fputs(r->out, stdout);
                fail_msg("'%s' in the output above", needle);
        }
}

static void assert_out(const run *r, const char *needle)
{
        if (!strstr(r->out, needle)) {
                fputs(r->out, stdout);
                fail_msg("no '%s' in the output above", needle);
        }
}

/* ---- the fake host ---- */

static void set_link_mtime(fakesys *fs, const char *rel, time_t t)
{
        _cleanup_free_ char *p = fakesys_path(fs, rel);
        struct timespec ts[2] = {{.tv_sec = t}, {.tv_sec = t}};

        assert_int_equal(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
}

/* libvirtd as pid 4242, started at boot + after_boot seconds; boot was two hours ago. */
static void libvirtd_started(fakesys *fs, time_t boot, unsigned long long after_boot)
{
        _cleanup_free_ char *stat = NULL, *pstat = NULL;
        unsigned long long tick = (unsigned long long)sysconf(_SC_CLK_TCK);

        assert_true(asprintf(&stat, "cpu  1 2 3 4\nbtime %lld\n", (long long)boot) > 0);
        pf_write(fakesys_root(fs), "/proc/stat", stat);
        assert_true(
                asprintf(&pstat,
                         "4242 (libvirtd) S 1 4242 4242 0 -1 4194560 1 0 0 0 1 1 0 0 20 0 17 0 %llu 1 1\n",
                         after_boot * tick) > 0);
        pf_write(fakesys_root(fs), "/proc/4242/stat", pstat);
}

static time_t hook_linked_at(fakesys *fs)
{
        _cleanup_free_ char *p = fakesys_path(fs, "/etc/libvirt/hooks/qemu");
        struct stat st;

        assert_int_equal(lstat(p, &st), 0);
        return st.st_mtime;
}

/* The single-GPU desktop of test-cli, on an Intel host with VT-d and vfio loaded, the hook linked an hour
 * after boot and libvirtd started after that; iommu false takes the IOMMU away. */
static fakesys *desktop(bool iommu)
{
        fakesys *fs = fakesys_new();
        const char *root = fakesys_root(fs);
        time_t boot = time(NULL) - 7200;

        fakesys_add_dev(fs, "0000:00:00.0", 0x060000, 0x8086, 0x29c0, iommu ? 0 : -1);
        fakesys_add_dev(fs, "0000:00:05.0", 0x030000, 0x1234, 0x1111, iommu ? 2 : -1);
        fakesys_set_boot_vga(fs, "0000:00:05.0", true);
        fakesys_add_dev(fs, "0000:00:05.1", 0x040300, 0x8086, 0x293e, iommu ? 2 : -1);
        fakesys_add_driver(fs, "bochs-drm", NULL);
        fakesys_add_driver(fs, "snd_hda_intel", NULL);
        fakesys_add_driver(fs, "vfio-pci", "vfio_pci");
        fakesys_add_module_holder(fs, "vfio", "vfio_pci");
        fakesys_bind(fs, "0000:00:05.0", "bochs-drm");
        fakesys_bind(fs, "0000:00:05.1", "snd_hda_intel");
        fakesys_add_drm(fs, "0000:00:05.0", "card0");
        if (iommu)
                pf_mkdir(root, "/sys/class/iommu/dmar0");
        pf_write(root, "/proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr vmx ept\n");
        fakesys_write(fs, HOOK_BIN, "#!/bin/true\n", 0755);
        pf_symlink(root, "/etc/libvirt/hooks/qemu", HOOK_BIN);
        set_link_mtime(fs, "/etc/libvirt/hooks/qemu", boot + 3600);
        libvirtd_started(fs, boot, 5000);
        fakesys_write(fs, CONF, "# all defaults\n", 0644);
        pf_write(root, "/win11.xml", domain_xml);
        pf_write(root, "/node.xml", node_xml);
        return fs;
}

static int setup_root(void **state, bool iommu)
{
        if (geteuid() != 0) {
                print_message("skipped: config files must be root's, so this test runs as root\n");
                return -1;
        }
        *state = desktop(iommu);
        return 0;
}

static int setup(void **state)
{
        return setup_root(state, true);
}

static int setup_no_iommu(void **state)
{
        return setup_root(state, false);
}

static int teardown(void **state)
{
        fakesys_free(*state);
        return 0;
}

/* Every path under the root with its type, mode, link target or content: equal snapshots, an unchanged tree.
 */
static FILE *snap_out;
static size_t snap_skip;

static int snap_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
        char target[512] = "";
        _cleanup_free_ char *content = NULL;

        if (strstr(p + snap_skip, "/fake-kernel"))
                return 0;
        if (S_ISLNK(st->st_mode)) {
                ssize_t k = readlink(p, target, sizeof(target) - 1);
                target[k > 0 ? k : 0] = 0;
        } else if (S_ISREG(st->st_mode))
                (void)read_full_file(p, 1 << 16, &content, NULL);
        fprintf(snap_out, "%s %o %lld %s %s\n", p + snap_skip, st->st_mode, (long long)st->st_mtime, target,
                strempty(content));
        return 0;
}

static char *snapshot(fakesys *fs)
{
        char *buf = NULL;
        size_t len = 0;

        snap_out = open_memstream(&buf, &len);
        snap_skip = strlen(fakesys_root(fs));
        assert_int_equal(nftw(fakesys_root(fs), snap_entry, 32, FTW_PHYS), 0);
        fclose(snap_out);
        return buf;
}

/* ---- the tests ---- */

static void test_good_domain_from_libvirt(void **state)
{
        fakesys *fs = *state;
        _cleanup_free_ char *uri = NULL, *before = snapshot(fs), *after = NULL;
        _cleanup_(run_done) run r = {};

        assert_true(asprintf(&uri, "test://%s/node.xml", fakesys_root(fs)) > 0);
        r = tool(fs, "check", "win11", "--connect", uri);
        assert_status(&r, 0);
        assert_out(&r, "Checking the host for domain 'win11':\n");
        assert_out(&r, "PASS  CPU virtualisation: Intel VT-x");
        assert_out(&r, "PASS  IOMMU: Intel VT-d (DMAR) units dmar0; 2 IOMMU groups");
        assert_out(&r, "PASS  module vfio: loaded");
        assert_out(&r, "PASS  module vfio-pci: loaded");
        assert_out(&r, "PASS  config: '" CONF "' loads");
        assert_out(&r, "PASS  domain XML: from libvirt at 'test://");
        assert_out(&r,
                   "PASS  device 0000:00:05.0: 1234:1111 class 030000, driver bochs-drm, boot VGA: taken");
        assert_out(&r, "PASS  device 0000:00:05.1");
        assert_out(
                &r,
                "PASS  IOMMU group 2: 0000:00:05.0 (bochs-drm, taken), 0000:00:05.1 (snd_hda_intel, taken)");
        assert_out(
                &r,
                "WARN  host display: single-GPU mode: 0000:00:05.0 is the host's only GPU and its boot VGA");
        assert_out(&r, "comes back only after the VM stops\n      hint: ");
        assert_out(&r, "PASS  modules to unload: none");
        assert_out(&r, "PASS  hand-over: 2 device(s)");
        /* No process holds the functions, and no display manager under a fake root. */
        assert_out(&r,
                   "PASS  graphical session: kept (nothing graphical holds 0000:00:05.0, 0000:00:05.1)\n");
        assert_out(&r, "PASS  libvirt hook: '/etc/libvirt/hooks/qemu' -> '" HOOK_BIN "'");
        assert_out(&r, "PASS  libvirt daemon: libvirtd (pid 4242) started after the hook was installed");
        assert_no_out(&r, "\nFAIL  ");
        assert_out(&r, "14 PASS, 2 WARN, 0 FAIL\n");
        after = snapshot(fs);
        assert_string_equal(before, after);
}

static void test_broken_domain(void **state)
{
        fakesys *fs = *state;
        _cleanup_free_ char *xml = fakesys_path(fs, "/win11.xml"), *conf = fakesys_path(fs, CONF);
        _cleanup_(run_done) run r = {};

        /* A USB controller in the GPU's group, on its host driver; a config its group may write; libvirtd
         * started before the hook was linked. */
        fakesys_add_dev(fs, "0000:00:05.2", 0x0c0330, 0x8086, 0x2934, 2);
        fakesys_add_driver(fs, "xhci_hcd", NULL);
        fakesys_bind(fs, "0000:00:05.2", "xhci_hcd");
        assert_int_equal(chmod(conf, 0664), 0);
        /* The boot desktop() set, read back from the hook's link: time(NULL) may have moved a second on. */
        libvirtd_started(fs, hook_linked_at(fs) - 3600, 60);
        r = tool(fs, "check", "win11", "--xml", xml);
        assert_status(&r, 1);
        assert_out(
                &r,
                "FAIL  IOMMU group 2: 0000:00:05.2 (driver 'xhci_hcd') shares the group but the domain does "
                "not take it");
        assert_out(&r, "0000:00:05.2 (xhci_hcd, NOT in the domain)");
        assert_out(&r, "FAIL  config: '" CONF "' is writable by group or others (mode 0664)\n      hint: ");
        assert_out(&r,
                   "WARN  libvirt daemon: libvirtd (pid 4242) started 59 min before the hook was installed");
        assert_out(&r, "hint: restart libvirtd: systemctl restart libvirtd");
        assert_out(&r, "PASS  domain XML: from '");
        /* The config did not load: no verdict on what it allows, and no plan. */
        assert_out(&r, "boot VGA: present\n");
        assert_no_out(&r, "hand-over:");
}

/* bochs is a module here, loaded, with no file for the running kernel: it could be unloaded, never loaded
 * again. */
static void test_module_not_reloadable(void **state)
{
        fakesys *fs = *state;
        _cleanup_free_ char *xml = fakesys_path(fs, "/win11.xml");
        _cleanup_(run_done) run r = {};

        fakesys_add_driver(fs, "bochs-drm", "bochs");
        r = tool(fs, "check", "win11", "--xml", xml);
        assert_status(&r, 1);
        assert_out(&r,
                   "FAIL  hand-over: the hook would refuse to start the VM: domain 'win11': module 'bochs' "
                   "cannot be loaded again after the hand-over: no file for the running kernel ");
}

static void test_no_iommu(void **state)
{
        fakesys *fs = *state;
        _cleanup_free_ char *xml = fakesys_path(fs, "/win11.xml");
        _cleanup_(run_done) run r = {};

        r = tool(fs, "check", "win11", "--xml", xml);
        assert_status(&r, 1);
        assert_out(&r, "FAIL  IOMMU: no IOMMU: /sys/class/iommu is empty and /sys/kernel/iommu_groups holds "
                       "no group\n"
                       "      hint: enable VT-d / AMD-Vi (IOMMU) in the firmware setup and boot with "
                       "intel_iommu=on");
        assert_out(&r, "FAIL  IOMMU group: 0000:00:05.0 is in no IOMMU group");
        assert_out(&r, "FAIL  hand-over: the hook would refuse to start the VM: domain 'win11': "
                       "0000:00:05.0 has no "
                       "IOMMU group");
        assert_out(&r, "PASS  CPU virtualisation");
}

static void test_libvirt_unreachable(void **state)
{
        fakesys *fs = *state;
        _cleanup_(run_done) run r =
                tool(fs, "check", "win11", "--connect", "test:///nonexistent/gh-check.xml");

        assert_status(&r, 1);
        assert_out(&r, "FAIL  domain XML: cannot connect to libvirt at 'test:///nonexistent/gh-check.xml'");
        assert_out(&r, "--xml /etc/libvirt/qemu/DOMAIN.xml");
        /* The other checks still run. */
        assert_out(&r, "PASS  IOMMU");
        assert_out(&r, "PASS  libvirt hook");
}

static void test_xml_on_stdin_and_usage(void **state)
{
        fakesys *fs = *state;
        run r = tool(fs, "check");

        assert_status(&r, 2);
        assert_string_equal(r.out, "");
        run_done(&r);
        r = tool(fs, "check", "win11", "--xml", "-");
        /* stdin is /dev/null here: an empty document. */
        assert_status(&r, 1);
        assert_out(&r, "FAIL  domain XML: bad domain XML from stdin");
        run_done(&r);
}

static void test_tool_does_not_link_libvirt(void **state)
{
        _cleanup_strv_free_ char **needed = elf_needed(TOOL);

        /* The reader sees the libraries the tool does link. */
        assert_true(strv_contains(needed, "libkmod.so.2"));
        STRV_FOREACH(lib, needed)
        if (startswith(*lib, "libvirt"))
                fail_msg("the tool needs '%s': the hook execs it, so libvirt must stay a dlopen()", *lib);
}

/* A remote or command-running URI is bad usage, refused before libvirt is loaded. */
static void test_connect_local_only(void **state)
{
        fakesys *fs = *state;
        _cleanup_(run_done) run r =
                tool(fs, "check", "win11", "--connect", "qemu+ext:///system?command=/bin/true");

        assert_status(&r, 2);
        assert_string_equal(r.out, "");
        assert_string_equal(r.err,
                            "gpu-handover: check: --connect 'qemu+ext:///system?command=/bin/true': only "
                            "a local qemu:/// URI without parameters, such as qemu:///system\n");
}

/* libvirt's test driver reads the node from any file its URI names: only the test build opens it. */
static void test_connect_no_test_driver_when_installed(void **state)
{
        const char *argv[] = {GH_TOOL_BIN, "check", "win11", "--connect", "test:///default", NULL};
        _cleanup_(run_done) run r = {};

        gh_run_capture(argv, NULL, &r);
        assert_status(&r, 2);
        assert_string_equal(r.out, "");
        assert_non_null(strstr(r.err, "--connect 'test:///default': only a local qemu:/// URI"));
}

/* --xml names a regular file: a FIFO would block the open for good, a device the read. */
static void test_xml_regular_files_only(void **state)
{
        fakesys *fs = *state;
        _cleanup_free_ char *fifo = fakesys_path(fs, "/tmp-domain.fifo");
        static const char *const cmds[] = {"check", "plan"};

        assert_int_equal(mkfifo(fifo, 0600), 0);
        for (size_t i = 0; i < ELEMENTSOF(cmds); i++) {
                const char *paths[] = {fifo, "/dev/zero"};

                for (size_t k = 0; k < ELEMENTSOF(paths); k++) {
                        _cleanup_(run_done) run r = tool(fs, cmds[i], "win11", "--xml", paths[k]);

                        assert_status(&r, 1);
                        if (!strstr(r.out, ": not a regular file") && !strstr(r.err, ": not a regular file"))
                                fail_msg("%s --xml %s: no 'not a regular file'; stdout: %s; stderr: %s",
                                         cmds[i], paths[k], r.out, r.err);
                }
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_good_domain_from_libvirt, setup, teardown),
                cmocka_unit_test_setup_teardown(test_broken_domain, setup, teardown),
                cmocka_unit_test_setup_teardown(test_module_not_reloadable, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_iommu, setup_no_iommu, teardown),
                cmocka_unit_test_setup_teardown(test_libvirt_unreachable, setup, teardown),
                cmocka_unit_test_setup_teardown(test_xml_on_stdin_and_usage, setup, teardown),
                cmocka_unit_test(test_tool_does_not_link_libvirt),
                cmocka_unit_test_setup_teardown(test_connect_local_only, setup, teardown),
                cmocka_unit_test(test_connect_no_test_driver_when_installed),
                cmocka_unit_test_setup_teardown(test_xml_regular_files_only, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
