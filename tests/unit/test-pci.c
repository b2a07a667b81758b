/* The sysfs PCI adapter against a fake sysfs, with the fake kernel preloaded so that writes bind, unbind
 * and probe as the kernel would. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "fakesys.h"
#include "host/pci.h"
#include "shared/fileio.h"
#include "shared/strv.h"

#define IGPU "0000:00:02.0"
#define BRIDGE "0000:00:01.0"
#define GPU "0000:01:00.0"
#define GPU_AUDIO "0000:01:00.1"
#define NVME "0000:02:00.0"
#define NIC "0001:00:00.0"
#define ABSENT "0000:05:00.0"

#define LONG_DEADLINE (deadline_after(10 * USEC_PER_SEC))
#define SHORT_TIMEOUT (150 * USEC_PER_MSEC)

/* A desktop: iGPU, an NVIDIA card with its HDMI audio, an NVMe disk, a NIC nobody drives. */
static int setup(void **state)
{
        fakesys *fs = fakesys_new();

        fakesys_add_driver(fs, "i915", "i915");
        fakesys_add_driver(fs, "nvidia", "nvidia");
        fakesys_add_driver(fs, "snd_hda_intel", "snd_hda_intel");
        fakesys_add_driver(fs, "pcieport", NULL);
        fakesys_add_driver(fs, "nvme", "nvme");
        fakesys_add_driver(fs, "vfio-pci", "vfio_pci");
        fakesys_add_driver_id(fs, "nvme", 0x144d, 0xa808);

        /* Out of address order on purpose: the list must come sorted. */
        fakesys_add_dev(fs, NIC, 0x020000, 0x8086, 0x1533, 9);
        fakesys_add_dev(fs, GPU_AUDIO, 0x040300, 0x10de, 0x10f0, 1);
        fakesys_add_dev(fs, GPU, 0x030000, 0x10de, 0x1b80, 1);
        fakesys_add_dev(fs, NVME, 0x010802, 0x144d, 0xa808, 2);
        fakesys_add_dev(fs, IGPU, 0x030000, 0x8086, 0x3e92, 0);
        fakesys_add_dev(fs, BRIDGE, 0x060400, 0x8086, 0x1901, -1);

        fakesys_set_boot_vga(fs, IGPU, true);
        fakesys_bind(fs, IGPU, "i915");
        fakesys_add_drm(fs, IGPU, "card0");
        fakesys_add_drm(fs, IGPU, "renderD128");
        fakesys_add_drm(fs, IGPU, "controlD64"); /* not a node a holder could have open today */
        fakesys_add_fb(fs, IGPU, 0);

        fakesys_bind(fs, GPU, "nvidia");
        fakesys_add_drm(fs, GPU, "card1");
        fakesys_add_drm(fs, GPU, "renderD129");
        fakesys_set_nvidia_minor(fs, GPU, 0);
        /* As nvidia-modprobe makes them, without nvidia-uvm-tools: a node that is not there is not listed. */
        fakesys_add_node(fs, "/dev/nvidiactl");
        fakesys_add_node(fs, "/dev/nvidia-modeset");
        fakesys_add_node(fs, "/dev/nvidia-uvm");
        fakesys_add_node(fs, "/dev/nvidia0");

        fakesys_bind(fs, GPU_AUDIO, "snd_hda_intel");
        fakesys_add_sound(fs, GPU_AUDIO, 1, "controlC1", "pcmC1D3p", "pcmC1D7p", "hwC1D0", "input12", NULL);

        fakesys_bind(fs, BRIDGE, "pcieport");
        *state = fs;
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

static void read_dev(void **state, const char *addr, gh_pci_dev *ret)
{
        gh_pci_addr a;

        assert_int_equal(gh_pci_addr_parse(addr, &a), 0);
        assert_int_equal(gh_pci_read_dev(root_of(state), &a, ret), 0);
        assert_true(gh_pci_addr_eq(&ret->addr, &a));
}

static void assert_nodes(char **nodes, const char *const *expected, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!strv_contains(nodes, expected[i]))
                        fail_msg("node '%s' missing", expected[i]);
        assert_int_equal(strv_length(nodes), n);
}

static void test_read_nvidia_gpu(void **state)
{
        static const char *const nodes[] = {
                "/dev/dri/card1", "/dev/dri/renderD129", "/dev/nvidiactl", "/dev/nvidia-modeset",
                "/dev/nvidia-uvm", "/dev/nvidia0"};
        _cleanup_(gh_pci_dev_done) gh_pci_dev d = {};

        read_dev(state, GPU, &d);
        assert_int_equal(d.class, 0x030000);
        assert_int_equal(d.vendor, 0x10de);
        assert_int_equal(d.device, 0x1b80);
        assert_string_equal(d.driver, "nvidia");
        assert_string_equal(d.module, "nvidia");
        assert_null(d.override);
        assert_int_equal(d.iommu_group, 1);
        assert_false(d.boot_vga);
        assert_nodes(d.nodes, nodes, ELEMENTSOF(nodes));
}

static void test_read_nvidia_without_minor(void **state)
{
        static const char *const nodes[] = {"/dev/nvidiactl", "/dev/nvidia-modeset", "/dev/nvidia-uvm"};
        _cleanup_(gh_pci_dev_done) gh_pci_dev d = {};
        fakesys *fs = *state;

        /* A second card the driver has not reported on (yet): its own node is unknown. */
        fakesys_add_dev(fs, "0000:03:00.0", 0x030200, 0x10de, 0x20b0, 4);
        fakesys_bind(fs, "0000:03:00.0", "nvidia");
        read_dev(state, "0000:03:00.0", &d);
        assert_int_equal(d.class, 0x030200);
        assert_nodes(d.nodes, nodes, ELEMENTSOF(nodes));
}

static void test_read_igpu(void **state)
{
        static const char *const nodes[] = {"/dev/dri/card0", "/dev/dri/renderD128", "/dev/fb0"};
        _cleanup_(gh_pci_dev_done) gh_pci_dev d = {};

        read_dev(state, IGPU, &d);
        assert_int_equal(d.vendor, 0x8086);
        assert_string_equal(d.driver, "i915");
        assert_string_equal(d.module, "i915");
        assert_int_equal(d.iommu_group, 0);
        assert_true(d.boot_vga);
        assert_nodes(d.nodes, nodes, ELEMENTSOF(nodes));
}

static void test_read_audio(void **state)
{
        static const char *const nodes[] = {"/dev/snd/controlC1", "/dev/snd/pcmC1D3p", "/dev/snd/pcmC1D7p",
                                            "/dev/snd/hwC1D0"};
        _cleanup_(gh_pci_dev_done) gh_pci_dev d = {};

        read_dev(state, GPU_AUDIO, &d);
        assert_int_equal(d.class, 0x040300);
        assert_int_equal(d.device, 0x10f0);
        assert_string_equal(d.driver, "snd_hda_intel");
        assert_string_equal(d.module, "snd_hda_intel");
        assert_int_equal(d.iommu_group, 1);
        assert_nodes(d.nodes, nodes, ELEMENTSOF(nodes));
}

static void test_read_builtin_driver_no_group(void **state)
{
        _cleanup_(gh_pci_dev_done) gh_pci_dev d = {};

        read_dev(state, BRIDGE, &d);
        assert_int_equal(d.class, 0x060400);
        assert_string_equal(d.driver, "pcieport");
        assert_null(d.module);
        assert_int_equal(d.iommu_group, -1);
        assert_int_equal(strv_length(d.nodes), 0);
}

static void test_read_unbound(void **state)
{
        _cleanup_(gh_pci_dev_done) gh_pci_dev d = {};

        read_dev(state, NVME, &d);
        assert_null(d.driver);
        assert_null(d.module);
        assert_null(d.override);
        assert_int_equal(d.iommu_group, 2);
        assert_int_equal(strv_length(d.nodes), 0);
}

static void test_missing_device(void **state)
{
        const char *root = root_of(state);
        gh_pci_dev d = {};
        gh_pci_addr a;
        char *s = NULL;

        assert_int_equal(gh_pci_addr_parse(ABSENT, &a), 0);
        assert_int_equal(gh_pci_read_dev(root, &a, &d), -ENODEV);
        assert_int_equal(gh_pci_get_driver(root, ABSENT, &s), -ENODEV);
        assert_int_equal(gh_pci_read_modalias(root, ABSENT, &s), -ENODEV);
        assert_int_equal(gh_pci_set_override(root, ABSENT, "vfio-pci", LONG_DEADLINE), -ENODEV);
        assert_int_equal(gh_pci_unbind(root, ABSENT, "nvidia", LONG_DEADLINE), -ENODEV);
        assert_int_equal(gh_pci_wait_driver(root, ABSENT, NULL, LONG_DEADLINE), -ENODEV);
        assert_null(s);
}

static void test_addresses(void **state)
{
        _cleanup_free_ char *drv = NULL;
        char *s = NULL;

        /* The short form names the same function; anything else never becomes a path. */
        assert_int_equal(gh_pci_get_driver(root_of(state), "01:00.0", &drv), 0);
        assert_string_equal(drv, "nvidia");
        assert_int_equal(gh_pci_get_driver(root_of(state), "../../../etc", &s), -EINVAL);
        assert_int_equal(gh_pci_set_override(root_of(state), "0000:01:00.0/..", NULL, LONG_DEADLINE),
                         -EINVAL);
        assert_int_equal(gh_pci_unbind(root_of(state), GPU, "../nvidia", LONG_DEADLINE), -EINVAL);
        assert_int_equal(gh_pci_set_override(root_of(state), GPU, "a/b", LONG_DEADLINE), -EINVAL);
        assert_null(s);
}

static void test_list_sorted(void **state)
{
        static const char *const order[] = {BRIDGE, IGPU, GPU, GPU_AUDIO, NVME, NIC};
        gh_pci_dev *devs = NULL;
        size_t n = 0;

        assert_int_equal(gh_pci_list(root_of(state), &devs, &n), 0);
        assert_int_equal(n, ELEMENTSOF(order));
        for (size_t i = 0; i < n; i++)
                assert_string_equal(GH_PCI_ADDR_STR(&devs[i].addr), order[i]);
        assert_string_equal(devs[2].driver, "nvidia");
        assert_int_equal(devs[3].class, 0x040300);
        gh_pci_devs_free(devs, n);
}

static void test_modalias(void **state)
{
        _cleanup_free_ char *m = NULL;

        assert_int_equal(gh_pci_read_modalias(root_of(state), GPU, &m), 0);
        assert_string_equal(m, "pci:v000010DEd00001B80sv000010DEsd00001B80bc03sc00i00");
}

/* One vfioN entry under vfio-dev/ names the cdev; none (not on vfio-pci, or no cdevs) is -ENOENT. */
static void test_vfio_cdev(void **state)
{
        _cleanup_free_ char *name = NULL;
        fakesys *fs = *state;
        char *none = NULL;

        assert_int_equal(gh_pci_vfio_cdev(root_of(state), GPU, &none), -ENOENT);
        assert_int_equal(gh_pci_vfio_cdev(root_of(state), ABSENT, &none), -ENOENT);
        assert_int_equal(gh_pci_vfio_cdev(root_of(state), "../../../etc", &none), -EINVAL);
        assert_null(none);
        fakesys_add_vfio_cdev(fs, GPU, 3);
        assert_int_equal(gh_pci_vfio_cdev(root_of(state), "01:00.0", &name), 0);
        assert_string_equal(name, "vfio3");
        assert_true(fakesys_exists(fs, "dev/vfio/devices/vfio3"));
}

static void assert_override(void **state, const char *addr, const char *expected)
{
        _cleanup_free_ char *o = NULL;

        assert_int_equal(gh_pci_read_override(root_of(state), addr, LONG_DEADLINE, &o), 0);
        if (expected)
                assert_string_equal(o, expected);
        else
                assert_null(o);
}

static void test_override_set_clear(void **state)
{
        _cleanup_free_ char *raw = NULL, *raw2 = NULL, *drv = NULL;
        fakesys *fs = *state;

        assert_int_equal(gh_pci_set_override(root_of(state), GPU, "vfio-pci", LONG_DEADLINE), 0);
        raw = fakesys_read(fs, "sys/bus/pci/devices/" GPU "/driver_override");
        assert_string_equal(raw, "vfio-pci");
        /* Read back through the child and its pipe. */
        assert_override(state, GPU, "vfio-pci");
        assert_int_equal(gh_pci_get_driver(root_of(state), GPU, &drv), 0);
        assert_string_equal(drv, "nvidia"); /* an override alone binds nothing */
        assert_int_equal(gh_pci_set_override(root_of(state), GPU, NULL, LONG_DEADLINE), 0);
        raw2 = fakesys_read(fs, "sys/bus/pci/devices/" GPU "/driver_override");
        assert_string_equal(raw2, "(null)");
        assert_override(state, GPU, NULL);
}

static void test_override_read(void **state)
{
        _cleanup_free_ char *path = NULL;
        fakesys *fs = *state;
        char *s = NULL;
        int fd;

        /* Not part of the facts read in-process: reading it takes the device's lock. */
        {
                _cleanup_(gh_pci_dev_done) gh_pci_dev d = {};

                assert_int_equal(gh_pci_set_override(root_of(state), NVME, "vfio-pci", LONG_DEADLINE), 0);
                read_dev(state, NVME, &d);
                assert_null(d.override);
        }
        assert_override(state, NVME, "vfio-pci");
        assert_override(state, "02:00.0", "vfio-pci");
        assert_override(state, IGPU, NULL);
        /* An empty file (older kernels) and no file at all (before 3.16): no override. */
        path = fakesys_path(fs, "sys/bus/pci/devices/" NIC "/driver_override");
        /* With O_CREAT, which the fake kernel lets be. */
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        close(fd);
        assert_override(state, NIC, NULL);
        assert_int_equal(unlink(path), 0);
        assert_override(state, NIC, NULL);
        assert_int_equal(gh_pci_read_override(root_of(state), ABSENT, LONG_DEADLINE, &s), -ENODEV);
        assert_int_equal(gh_pci_read_override(root_of(state), "../../x", LONG_DEADLINE, &s), -EINVAL);
        assert_null(s);
}

/* No child left once it answered, nor once it was killed at the deadline. */
static void assert_no_child(void)
{
        errno = 0;
        assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
        assert_int_equal(errno, ECHILD);
}

/* A driver stuck in unbind holds the device's lock: reading or writing its driver_override waits for it,
 * in the child, which the deadline leaves behind. */
static void test_override_locked_times_out(void **state)
{
        usec_t start = now_usec(), elapsed;
        char *s = NULL;

        fakesys_block_unbind(*state, GPU);
        assert_int_equal(gh_pci_unbind(root_of(state), GPU, "nvidia", deadline_after(SHORT_TIMEOUT)),
                         -ETIMEDOUT);
        start = now_usec();
        assert_int_equal(gh_pci_read_override(root_of(state), GPU, deadline_after(SHORT_TIMEOUT), &s),
                         -ETIMEDOUT);
        assert_null(s);
        assert_int_equal(gh_pci_set_override(root_of(state), GPU, "vfio-pci", deadline_after(SHORT_TIMEOUT)),
                         -ETIMEDOUT);
        assert_int_equal(gh_pci_probe(root_of(state), GPU, deadline_after(SHORT_TIMEOUT)), -ETIMEDOUT);
        elapsed = now_usec() - start;
        assert_true(elapsed >= 3 * SHORT_TIMEOUT);
        assert_true(elapsed < 10 * USEC_PER_SEC);
        assert_no_child();
        /* The other functions answer as before. */
        assert_override(state, GPU_AUDIO, NULL);
}

static void assert_driver(void **state, const char *addr, const char *expected)
{
        _cleanup_free_ char *drv = NULL;

        assert_int_equal(gh_pci_get_driver(root_of(state), addr, &drv), 0);
        if (expected)
                assert_string_equal(drv, expected);
        else
                assert_null(drv);
}

static void test_unbind_only_named_driver(void **state)
{
        assert_int_equal(gh_pci_unbind(root_of(state), GPU, "vfio-pci", LONG_DEADLINE), 0);
        assert_driver(state, GPU, "nvidia");
        assert_int_equal(gh_pci_unbind(root_of(state), NVME, "nvme", LONG_DEADLINE), 0);
        assert_driver(state, NVME, NULL);
}

static void test_unbind(void **state)
{
        fakesys *fs = *state;

        assert_true(fakesys_exists(fs, "sys/bus/pci/drivers/snd_hda_intel/" GPU_AUDIO));
        assert_int_equal(gh_pci_unbind(root_of(state), GPU_AUDIO, "snd_hda_intel", LONG_DEADLINE), 0);
        assert_driver(state, GPU_AUDIO, NULL);
        assert_false(fakesys_exists(fs, "sys/bus/pci/drivers/snd_hda_intel/" GPU_AUDIO));
        assert_driver(state, GPU, "nvidia");
}

static void test_unbind_blocking_times_out(void **state)
{
        usec_t start = now_usec(), elapsed;

        fakesys_block_unbind(*state, GPU);
        assert_int_equal(gh_pci_unbind(root_of(state), GPU, "nvidia", deadline_after(SHORT_TIMEOUT)),
                         -ETIMEDOUT);
        elapsed = now_usec() - start;
        assert_true(elapsed >= SHORT_TIMEOUT);
        assert_true(elapsed < 5 * USEC_PER_SEC);
        assert_driver(state, GPU, "nvidia");
        /* The stuck writer was killed and reaped. */
        assert_no_child();
}

static void test_probe_binds_override(void **state)
{
        fakesys *fs = *state;
        const char *root = root_of(state);

        assert_int_equal(gh_pci_set_override(root, GPU, "vfio-pci", LONG_DEADLINE), 0);
        assert_int_equal(gh_pci_unbind(root, GPU, "nvidia", LONG_DEADLINE), 0);
        assert_driver(state, GPU, NULL);
        assert_int_equal(gh_pci_probe(root, GPU, LONG_DEADLINE), 0);
        assert_int_equal(gh_pci_wait_driver(root, GPU, "vfio-pci", LONG_DEADLINE), 0);
        assert_true(fakesys_exists(fs, "dev/vfio/1"));
        {
                _cleanup_(gh_pci_dev_done) gh_pci_dev d = {};

                read_dev(state, GPU, &d);
                assert_string_equal(d.driver, "vfio-pci");
                assert_string_equal(d.module, "vfio_pci");
                assert_false(strv_contains(d.nodes, "/dev/nvidiactl"));
        }
        /* And back: the group's node goes with its last vfio-pci function. */
        assert_int_equal(gh_pci_unbind(root, GPU, "vfio-pci", LONG_DEADLINE), 0);
        assert_false(fakesys_exists(fs, "dev/vfio/1"));
        assert_int_equal(gh_pci_set_override(root, GPU, NULL, LONG_DEADLINE), 0);
        assert_int_equal(gh_pci_probe(root, GPU, LONG_DEADLINE), 0);
        assert_int_equal(gh_pci_wait_driver(root, GPU, NULL, SHORT_TIMEOUT), -ETIMEDOUT);
}

static void test_probe_by_id(void **state)
{
        assert_int_equal(gh_pci_probe(root_of(state), NVME, LONG_DEADLINE), 0);
        assert_int_equal(gh_pci_wait_driver(root_of(state), NVME, NULL, LONG_DEADLINE), 0);
        assert_driver(state, NVME, "nvme");
}

static void test_probe_no_match(void **state)
{
        const char *root = root_of(state);

        /* Nothing matches the NIC; no driver matching is not an error to the kernel either. */
        assert_int_equal(gh_pci_probe(root, NIC, LONG_DEADLINE), 0);
        assert_int_equal(gh_pci_wait_driver(root, NIC, NULL, deadline_after(SHORT_TIMEOUT)), -ETIMEDOUT);
        assert_driver(state, NIC, NULL);
        /* An override naming no loaded driver keeps even the matching one away. */
        assert_int_equal(gh_pci_set_override(root, NVME, "absent", LONG_DEADLINE), 0);
        assert_int_equal(gh_pci_probe(root, NVME, LONG_DEADLINE), 0);
        assert_int_equal(gh_pci_wait_driver(root, NVME, NULL, deadline_after(SHORT_TIMEOUT)), -ETIMEDOUT);
        assert_driver(state, NVME, NULL);
}

static void test_probe_failure_reported(void **state)
{
        const char *root = root_of(state);

        /* vfio-pci cannot take a function without an IOMMU group: the write reports it. */
        fakesys_add_dev(*state, "0000:04:00.0", 0x030000, 0x1002, 0x73bf, -1);
        assert_int_equal(gh_pci_set_override(root, "0000:04:00.0", "vfio-pci", LONG_DEADLINE), 0);
        assert_int_equal(gh_pci_probe(root, "0000:04:00.0", LONG_DEADLINE), -EINVAL);
        assert_driver(state, "0000:04:00.0", NULL);
        assert_int_equal(gh_pci_probe(root, ABSENT, LONG_DEADLINE), -ENODEV);
}

static void test_wait_driver(void **state)
{
        const char *root = root_of(state);
        usec_t start = now_usec();

        assert_int_equal(gh_pci_wait_driver(root, GPU, "nvidia", LONG_DEADLINE), 0);
        assert_int_equal(gh_pci_wait_driver(root, GPU, NULL, LONG_DEADLINE), 0);
        assert_true(now_usec() - start < 5 * USEC_PER_SEC);
        /* Bound, but not to the one asked for. */
        start = now_usec();
        assert_int_equal(gh_pci_wait_driver(root, GPU, "vfio-pci", deadline_after(SHORT_TIMEOUT)),
                         -ETIMEDOUT);
        assert_true(now_usec() - start >= SHORT_TIMEOUT);
        assert_int_equal(gh_pci_wait_driver(root, NIC, NULL, deadline_after(SHORT_TIMEOUT)), -ETIMEDOUT);
}

static void test_wait_driver_late_bind(void **state)
{
        fakesys *fs = *state;
        _cleanup_free_ char *link = fakesys_path(fs, "sys/bus/pci/devices/" NIC "/driver");
        int status;
        pid_t pid;

        /* A driver probing asynchronously: the link appears a while after the write. */
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                usleep(200 * 1000);
                _exit(symlink("../../../bus/pci/drivers/nvme", link) < 0 ? EXIT_FAILURE : 0);
        }
        assert_int_equal(gh_pci_wait_driver(root_of(state), NIC, "nvme", LONG_DEADLINE), 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* The fake kernel itself, which other tests rely on. */
static int kwrite(void **state, const char *rel, const char *value)
{
        _cleanup_free_ char *p = fakesys_path(*state, rel);

        return write_string_file(p, value);
}

static void test_fake_kernel_bind_rules(void **state)
{
        fakesys *fs = *state;

        assert_int_equal(kwrite(state, "sys/bus/pci/drivers/nvme/bind", ABSENT), -ENODEV);
        assert_int_equal(kwrite(state, "sys/bus/pci/drivers/nvme/bind", GPU), -ENODEV);
        assert_int_equal(kwrite(state, "sys/bus/pci/drivers/nvme/bind", NVME "\n"), 0);
        assert_int_equal(kwrite(state, "sys/bus/pci/drivers/nvme/bind", NVME), -EBUSY);
        assert_int_equal(kwrite(state, "sys/bus/pci/drivers/nvme/unbind", NVME), 0);
        assert_driver(state, NVME, NULL);
        /* No id match and no override: refused. */
        assert_int_equal(kwrite(state, "sys/bus/pci/drivers/vfio-pci/bind", NIC), -ENODEV);
        /* An override for another driver refuses even the matching one. */
        assert_int_equal(kwrite(state, "sys/bus/pci/devices/" NVME "/driver_override", "vfio-pci\n"), 0);
        assert_int_equal(kwrite(state, "sys/bus/pci/drivers/nvme/bind", NVME), -ENODEV);
        assert_int_equal(kwrite(state, "sys/bus/pci/drivers/vfio-pci/bind", NVME), 0);
        assert_driver(state, NVME, "vfio-pci");
        assert_true(fakesys_exists(fs, "dev/vfio/2"));
        assert_int_equal(kwrite(state, "sys/bus/pci/drivers/nvme/unbind", NVME), -ENODEV);
        assert_int_equal(kwrite(state, "sys/bus/pci/drivers/vfio-pci/unbind", NVME), 0);
        assert_driver(state, NVME, NULL);
        assert_false(fakesys_exists(fs, "dev/vfio/2"));
}

static void test_fake_kernel_new_id(void **state)
{
        assert_int_equal(kwrite(state, "sys/bus/pci/drivers/vfio-pci/new_id", "nonsense"), -EINVAL);
        assert_int_equal(kwrite(state, "sys/bus/pci/drivers/vfio-pci/new_id", "144d a808"), 0);
        /* The unbound NVMe disk is taken at once. */
        assert_driver(state, NVME, "vfio-pci");
        assert_int_equal(kwrite(state, "sys/bus/pci/drivers/vfio-pci/new_id", "144d a808"), -EEXIST);
        assert_int_equal(kwrite(state, "sys/bus/pci/drivers/vfio-pci/remove_id", "144d a808"), 0);
        assert_int_equal(kwrite(state, "sys/bus/pci/drivers/vfio-pci/remove_id", "144d a808"), -ENODEV);
        assert_int_equal(kwrite(state, "sys/bus/pci/drivers/vfio-pci/unbind", NVME), 0);
        assert_int_equal(kwrite(state, "sys/bus/pci/drivers/vfio-pci/bind", NVME), -ENODEV);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(test_read_nvidia_gpu),
                T(test_read_nvidia_without_minor),
                T(test_read_igpu),
                T(test_read_audio),
                T(test_read_builtin_driver_no_group),
                T(test_read_unbound),
                T(test_missing_device),
                T(test_addresses),
                T(test_list_sorted),
                T(test_modalias),
                T(test_vfio_cdev),
                T(test_override_set_clear),
                T(test_override_read),
                T(test_override_locked_times_out),
                T(test_unbind_only_named_driver),
                T(test_unbind),
                T(test_unbind_blocking_times_out),
                T(test_probe_binds_override),
                T(test_probe_by_id),
                T(test_probe_no_match),
                T(test_probe_failure_reported),
                T(test_wait_driver),
                T(test_wait_driver_late_bind),
                T(test_fake_kernel_bind_rules),
                T(test_fake_kernel_new_id),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
