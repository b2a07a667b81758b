/* hostcheck against fake trees: the CPU flag, IOMMU units and groups, vfio loaded, built in, loadable
 * (depmod's index of a fake module, looked up with libkmod) or missing, the hook entries with their
 * install time, and libvirt's daemons with their start time from /proc. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "fake-modfile.h"
#include "fakesys.h"
#include "host/hostcheck.h"
#include "proc-fake.h"
#include "shared/fileio.h"
#include "shared/strv.h"

#define HOOK_BIN "/usr/libexec/gpu-handover/qemu-hook"
#define BTIME 1700000000ULL

static int setup(void **state)
{
        *state = fakesys_new();
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

static void gather(const char *root, gh_host_check *h)
{
        gh_host_check_done(h);
        assert_int_equal(gh_hostcheck_gather(root, h), 0);
}

static void test_cpu_flag(void **state)
{
        const char *root = root_of(state);
        _cleanup_(gh_host_check_done) gh_host_check h = {};

        gather(root, &h);
        assert_int_equal(h.cpuinfo_error, -ENOENT);
        /* Whole words only, from the first processor's flags. */
        pf_write(root, "/proc/cpuinfo",
                 "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu vme svmx npt\n\n"
                 "processor\t: 1\nflags\t\t: fpu svm\n");
        gather(root, &h);
        assert_int_equal(h.cpuinfo_error, 0);
        assert_null(h.cpu_flag);
        pf_write(root, "/proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu vme de pse svm npt lbrv\n");
        gather(root, &h);
        assert_string_equal(h.cpu_flag, "svm");
        pf_write(root, "/proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu vmx ept\n");
        gather(root, &h);
        assert_string_equal(h.cpu_flag, "vmx");
}

static void test_iommu(void **state)
{
        const char *root = root_of(state);
        _cleanup_(gh_host_check_done) gh_host_check h = {};

        gather(root, &h);
        assert_null(h.iommu_units);
        assert_int_equal(h.n_iommu_groups, 0);
        pf_mkdir(root, "/sys/class/iommu/dmar1");
        pf_mkdir(root, "/sys/class/iommu/dmar0");
        fakesys_add_dev(*state, "0000:00:02.0", 0x030000, 0x8086, 0x3e92, 0);
        fakesys_add_dev(*state, "0000:01:00.0", 0x030000, 0x10de, 0x1b80, 12);
        pf_mkdir(root, "/sys/kernel/iommu_groups/.hidden");
        gather(root, &h);
        assert_int_equal(strv_length(h.iommu_units), 2);
        assert_string_equal(h.iommu_units[0], "dmar0");
        assert_string_equal(h.iommu_units[1], "dmar1");
        assert_int_equal(h.n_iommu_groups, 2);
}

static void copy_file(const char *from, const char *root, const char *to)
{
        _cleanup_free_ char *buf = NULL, *dest = NULL;
        size_t n;

        assert_int_equal(read_full_file(from, 1 << 20, &buf, &n), 0);
        pf_write(root, to, "");
        dest = pf_path(root, to);
        _cleanup_close_ int fd = open(dest, O_WRONLY | O_TRUNC | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, buf, n), (ssize_t)n);
}

static void test_modules(void **state)
{
        const char *root = root_of(state);
        _cleanup_free_ char *dir = NULL, *ko = NULL, *ko_path = NULL;
        struct utsname u;

        assert_int_equal(uname(&u), 0);
        assert_true(asprintf(&dir, "/lib/modules/%s", u.release) > 0);
        assert_true(asprintf(&ko, "%s/kernel/drivers/vfio/pci/vfio-pci.ko", dir) > 0);
        assert_int_equal(gh_hostcheck_module(root, "vfio-pci"), GH_MODULE_AVAIL_MISSING);
        fakesys_add_module(*state, "vfio");
        assert_int_equal(gh_hostcheck_module(root, "vfio"), GH_MODULE_AVAIL_LOADED);
        /* Built in with parameters: a directory without initstate. */
        pf_mkdir(root, "/sys/module/vfio_iommu_type1/parameters");
        assert_int_equal(gh_hostcheck_module(root, "vfio_iommu_type1"), GH_MODULE_AVAIL_BUILTIN);
        copy_file(GH_FAKE_MODULE, root, ko);
        fake_modfile_depmod(*state);
        assert_int_equal(gh_hostcheck_module(root, "vfio-pci"), GH_MODULE_AVAIL_LOADABLE);
        assert_int_equal(gh_hostcheck_module(root, "vfio_pci"), GH_MODULE_AVAIL_LOADABLE);
        /* Its init running, it counts as loaded; being removed, it does not: the hand-over loads it once the
         * removal ends. */
        pf_write(root, "/sys/module/vfio_pci/initstate", "coming\n");
        assert_int_equal(gh_hostcheck_module(root, "vfio-pci"), GH_MODULE_AVAIL_LOADED);
        pf_write(root, "/sys/module/vfio_pci/initstate", "going\n");
        assert_int_equal(gh_hostcheck_module(root, "vfio-pci"), GH_MODULE_AVAIL_LOADABLE);
        pf_remove(root, "/sys/module/vfio_pci");
        assert_int_equal(gh_hostcheck_module(root, "vfio-pci-core"), GH_MODULE_AVAIL_MISSING);
        /* Listed in the index, but the file is gone. */
        ko_path = pf_path(root, ko);
        assert_int_equal(unlink(ko_path), 0);
        assert_int_equal(gh_hostcheck_module(root, "vfio-pci"), GH_MODULE_AVAIL_MISSING);
}

static void set_link_mtime(const char *root, const char *path, time_t t)
{
        _cleanup_free_ char *p = pf_path(root, path);
        struct timespec ts[2] = {{.tv_sec = t}, {.tv_sec = t, .tv_nsec = 250000000}};

        assert_int_equal(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static void make_hook_binary(const char *root, mode_t mode)
{
        _cleanup_free_ char *p = pf_path(root, HOOK_BIN);

        pf_write(root, HOOK_BIN, "#!/bin/true\n");
        assert_int_equal(chmod(p, mode), 0);
}

static void test_hook_entries(void **state)
{
        const char *root = root_of(state);
        _cleanup_(gh_host_check_done) gh_host_check h = {};

        gather(root, &h);
        assert_string_equal(h.hook.path, "/etc/libvirt/hooks/qemu");
        assert_false(h.hook.present);
        assert_false(h.dropin.present);
        make_hook_binary(root, 0755);
        pf_symlink(root, "/etc/libvirt/hooks/qemu", HOOK_BIN);
        set_link_mtime(root, "/etc/libvirt/hooks/qemu", (time_t)BTIME + 100);
        /* Relative links resolve from the link's directory, inside the root. */
        pf_symlink(root, "/etc/libvirt/hooks/qemu.d/gpu-handover",
                   "../../../../usr/libexec/gpu-handover/qemu-hook");
        gather(root, &h);
        assert_true(h.hook.present);
        assert_string_equal(h.hook.target, HOOK_BIN);
        assert_true(h.hook.target_ok);
        assert_int_equal(h.hook.mtime, (BTIME + 100) * USEC_PER_SEC + 250000);
        assert_string_equal(h.dropin.path, "/etc/libvirt/hooks/qemu.d/gpu-handover");
        assert_true(h.dropin.target_ok);
        /* Not executable, or a file rather than a link. */
        make_hook_binary(root, 0644);
        pf_remove(root, "/etc/libvirt/hooks/qemu.d/gpu-handover");
        pf_write(root, "/etc/libvirt/hooks/qemu.d/gpu-handover", "#!/bin/sh\n");
        gather(root, &h);
        assert_false(h.hook.target_ok);
        assert_true(h.dropin.present);
        assert_null(h.dropin.target);
}

static void proc_stat(const char *root, const char *pid, const char *comm, unsigned long long start_ticks)
{
        _cleanup_free_ char *path = NULL, *text = NULL;

        assert_true(asprintf(&path, "/proc/%s/stat", pid) > 0);
        assert_true(
                asprintf(&text,
                         "%s (%s) S 1 %s %s 0 -1 4194560 5000 0 10 0 30 20 0 0 20 0 18 0 %llu 1500000000 "
                         "9000 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 3 0 0 0 0 0\n",
                         pid, comm, pid, pid, start_ticks) > 0);
        pf_write(root, path, text);
}

static void test_daemons(void **state)
{
        const char *root = root_of(state);
        _cleanup_(gh_host_check_done) gh_host_check h = {};
        unsigned long long tick = (unsigned long long)sysconf(_SC_CLK_TCK);

        gather(root, &h);
        assert_int_equal(h.proc_error, -ENOENT); /* no /proc/stat */
        pf_write(root, "/proc/stat", "cpu  1 2 3 4\nintr 0\nbtime 1700000000\nprocesses 99\n");
        proc_stat(root, "1", "systemd", 1);
        proc_stat(root, "812", "libvirtd", 500 * tick + tick / 2);
        /* A comm may hold spaces and ')': only the last ')' ends it. */
        proc_stat(root, "850", "virtqemud) S (x", 7 * tick);
        proc_stat(root, "901", "virtqemud", 7200 * tick);
        pf_mkdir(root, "/proc/902"); /* gone while we looked */
        gather(root, &h);
        assert_int_equal(h.proc_error, 0);
        assert_int_equal(h.n_daemons, 2);
        assert_string_equal(h.daemons[0].name, "libvirtd");
        assert_int_equal(h.daemons[0].pid, 812);
        assert_int_equal(h.daemons[0].start, (BTIME + 500) * USEC_PER_SEC + USEC_PER_SEC / 2);
        assert_string_equal(h.daemons[1].name, "virtqemud");
        assert_int_equal(h.daemons[1].pid, 901);
        assert_int_equal(h.daemons[1].start, (BTIME + 7200) * USEC_PER_SEC);
}

/* Gatherer and judge together: a daemon started before the hook was linked is told to restart. */
static void test_restart_warning_end_to_end(void **state)
{
        const char *root = root_of(state);
        _cleanup_(gh_host_check_done) gh_host_check h = {};
        _cleanup_(gh_checks_done) gh_checks c = {};
        unsigned long long tick = (unsigned long long)sysconf(_SC_CLK_TCK);

        make_hook_binary(root, 0755);
        pf_symlink(root, "/etc/libvirt/hooks/qemu", HOOK_BIN);
        set_link_mtime(root, "/etc/libvirt/hooks/qemu", (time_t)BTIME + 3600);
        pf_write(root, "/proc/stat", "btime 1700000000\n");
        proc_stat(root, "812", "libvirtd", 60 * tick);
        gather(root, &h);
        assert_int_equal(gh_check_hook(&c, &h), 0);
        assert_int_equal(c.n, 2);
        assert_int_equal(c.items[0].level, GH_CHECK_PASS);
        assert_int_equal(c.items[1].level, GH_CHECK_WARN);
        assert_non_null(strstr(c.items[1].detail, "libvirtd (pid 812) started 59 min before the hook"));
        assert_non_null(strstr(c.items[1].hint, "restart libvirtd"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_cpu_flag, setup, teardown),
                cmocka_unit_test_setup_teardown(test_iommu, setup, teardown),
                cmocka_unit_test_setup_teardown(test_modules, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hook_entries, setup, teardown),
                cmocka_unit_test_setup_teardown(test_daemons, setup, teardown),
                cmocka_unit_test_setup_teardown(test_restart_warning_end_to_end, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
