/* Builds fake sysfs trees for tests (layout in fakesys.h); any failure fails the running test. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cmocka.h>

#include "fakesys.h"
#include "core/pci-addr.h"
#include "shared/fileio.h"

#define ROOT_PREFIX "fakesys."

struct fakesys {
        char *root;
};

/* The process running the cmocka test; a child forked by a test must not longjmp() into cmocka. */
static pid_t test_pid;

_printf_(1, 2) static void fs_fail(const char *fmt, ...)
{
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (getpid() != test_pid) {
                fprintf(stderr, "fakesys: %s\n", msg);
                _exit(EXIT_FAILURE);
        }
        fail_msg("fakesys: %s", msg);
}

static void check(int r, const char *what, const char *name)
{
        if (r < 0)
                fs_fail("%s '%s': %s", what, name, strerror(-r));
}

static char *xstrdup(const char *s)
{
        char *c = strdup(s);

        if (!c)
                fs_fail("out of memory");
        return c;
}

static char *vpathf(const fakesys *fs, const char *fmt, va_list ap)
{
        _cleanup_free_ char *rel = NULL;
        char *p;

        if (vasprintf(&rel, fmt, ap) < 0 || !(p = path_join(fs->root, rel)))
                fs_fail("out of memory");
        return p;
}

/* ROOT/formatted, newly allocated. */
_printf_(2, 3) static char *pathf(const fakesys *fs, const char *fmt, ...)
{
        va_list ap;
        char *p;

        va_start(ap, fmt);
        p = vpathf(fs, fmt, ap);
        va_end(ap);
        return p;
}

static void mkdir_all(const char *path)
{
        check(mkdir_p(path, 0755), "mkdir", path);
}

/* With O_CREAT: the fake kernel leaves opens that create files alone, so this is never a kernel write. */
_printf_(2, 3) static void write_filef(const char *path, const char *fmt, ...)
{
        _cleanup_free_ char *s = NULL;
        _cleanup_close_ int fd = -1;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                fs_fail("out of memory");
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                check(-errno, "create", path);
        if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
                check(-EIO, "write", path);
}

static void symlink_at(const char *target, const char *path)
{
        if (symlink(target, path) < 0 && errno != EEXIST)
                check(-errno, "symlink", path);
}

static char *canon(const char *addr)
{
        gh_pci_addr a;

        if (gh_pci_addr_parse(addr, &a) < 0)
                fs_fail("bad PCI address '%s'", addr);
        return xstrdup(GH_PCI_ADDR_STR(&a));
}

/* The device directory relative to ROOT/sys: devices/pciDDDD:BB/ADDR. */
static char *dev_rel(const char *addr)
{
        char *p;

        if (asprintf(&p, "devices/pci%.7s/%s", addr, addr) < 0)
                fs_fail("out of memory");
        return p;
}

static void require_dev(const fakesys *fs, const char *addr)
{
        _cleanup_free_ char *p = pathf(fs, "sys/bus/pci/devices/%s", addr);

        if (access(p, F_OK) < 0)
                fs_fail("no PCI function '%s' (add it first)", addr);
}

/* ROOT/rel with content. */
static void put(const fakesys *fs, const char *rel, const char *content)
{
        _cleanup_free_ char *p = pathf(fs, "%s", rel);

        write_filef(p, "%s", content);
}

static void mkdir_rel(const fakesys *fs, const char *rel)
{
        _cleanup_free_ char *p = pathf(fs, "%s", rel);

        mkdir_all(p);
}

fakesys *fakesys_new(void)
{
        static const char *const dirs[] = {"sys/devices",
                                           "sys/bus/pci/devices",
                                           "sys/bus/pci/drivers",
                                           "sys/kernel/iommu_groups",
                                           "sys/module",
                                           "proc",
                                           "dev",
                                           "fake-kernel/ids",
                                           "fake-kernel/block-unbind",
                                           "fake-kernel/locked"};
        const char *base = getenv("GH_FAKE_KERNEL_ROOT");
        fakesys *fs;
        char *root;

        test_pid = getpid();
        if (base && *base)
                mkdir_all(base);
        else
                base = getenv("TMPDIR") ?: "/tmp";
        if (asprintf(&root, "%s/" ROOT_PREFIX "XXXXXX", base) < 0 || !(fs = calloc(1, sizeof(*fs))))
                fs_fail("out of memory");
        if (!mkdtemp(root))
                check(-errno, "mkdtemp", root);
        fs->root = root;
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                mkdir_rel(fs, dirs[i]);
        put(fs, "sys/bus/pci/drivers_probe", "");
        put(fs, "sys/bus/pci/drivers_autoprobe", "1\n");
        put(fs, "sys/bus/pci/rescan", "");
        return fs;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
        return remove(path) < 0 ? -1 : 0;
}

fakesys *fakesys_free(fakesys *fs)
{
        const char *b;

        if (!fs)
                return NULL;
        /* Only ever a tree fakesys_new() made. */
        b = strrchr(fs->root, '/');
        if (b && startswith(b + 1, ROOT_PREFIX))
                (void)nftw(fs->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(fs->root);
        free(fs);
        return NULL;
}

const char *fakesys_root(const fakesys *fs)
{
        return fs->root;
}

char *fakesys_path(const fakesys *fs, const char *rel)
{
        return pathf(fs, "%s", rel);
}

static void write_attr(const fakesys *fs, const char *addr, const char *attr, const char *fmt, ...)
        _printf_(4, 5);

static void write_attr(const fakesys *fs, const char *addr, const char *attr, const char *fmt, ...)
{
        _cleanup_free_ char *p = pathf(fs, "sys/bus/pci/devices/%s/%s", addr, attr), *s = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                fs_fail("out of memory");
        write_filef(p, "%s", s);
}

static void add_to_group(const fakesys *fs, const char *addr, const char *rel, int group)
{
        _cleanup_free_ char *dir = pathf(fs, "sys/kernel/iommu_groups/%d/devices", group);
        _cleanup_free_ char *link = pathf(fs, "sys/kernel/iommu_groups/%d/devices/%s", group, addr);
        _cleanup_free_ char *back = pathf(fs, "sys/%s/iommu_group", rel);
        _cleanup_free_ char *target = NULL, *group_target = NULL;

        mkdir_all(dir);
        if (asprintf(&target, "../../../../%s", rel) < 0 ||
            asprintf(&group_target, "../../../kernel/iommu_groups/%d", group) < 0)
                fs_fail("out of memory");
        symlink_at(target, link);
        symlink_at(group_target, back);
}

void fakesys_add_dev(fakesys *fs, const char *addr, unsigned class, unsigned vendor, unsigned device,
                     int iommu_group)
{
        _cleanup_free_ char *a = canon(addr), *rel = dev_rel(a), *dir = pathf(fs, "sys/%s", rel);
        _cleanup_free_ char *link = pathf(fs, "sys/bus/pci/devices/%s", a), *target = NULL;

        mkdir_all(dir);
        if (asprintf(&target, "../../../%s", rel) < 0)
                fs_fail("out of memory");
        symlink_at(target, link);
        write_attr(fs, a, "class", "0x%06x\n", class);
        write_attr(fs, a, "vendor", "0x%04x\n", vendor);
        write_attr(fs, a, "device", "0x%04x\n", device);
        write_attr(fs, a, "subsystem_vendor", "0x%04x\n", vendor);
        write_attr(fs, a, "subsystem_device", "0x%04x\n", device);
        write_attr(fs, a, "modalias", "pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X\n", vendor, device,
                   vendor, device, (class >> 16) & 0xff, (class >> 8) & 0xff, class & 0xff);
        write_attr(fs, a, "driver_override", "(null)\n");
        /* The kernel gives boot_vga to VGA-compatible functions only. */
        if ((class >> 8) == 0x0300)
                write_attr(fs, a, "boot_vga", "0\n");
        if (iommu_group >= 0)
                add_to_group(fs, a, rel, iommu_group);
}

void fakesys_set_boot_vga(fakesys *fs, const char *addr, bool boot_vga)
{
        _cleanup_free_ char *a = canon(addr);

        require_dev(fs, a);
        write_attr(fs, a, "boot_vga", "%d\n", boot_vga);
}

void fakesys_add_module(fakesys *fs, const char *name)
{
        _cleanup_free_ char *holders = pathf(fs, "sys/module/%s/holders", name);
        _cleanup_free_ char *initstate = pathf(fs, "sys/module/%s/initstate", name);
        _cleanup_free_ char *refcnt = pathf(fs, "sys/module/%s/refcnt", name);

        if (access(initstate, F_OK) == 0)
                return;
        mkdir_all(holders);
        write_filef(initstate, "live\n");
        write_filef(refcnt, "0\n");
}

void fakesys_add_module_holder(fakesys *fs, const char *name, const char *holder)
{
        _cleanup_free_ char *link = pathf(fs, "sys/module/%s/holders/%s", name, holder), *target = NULL;

        fakesys_add_module(fs, name);
        fakesys_add_module(fs, holder);
        if (asprintf(&target, "../../%s", holder) < 0)
                fs_fail("out of memory");
        symlink_at(target, link);
}

void fakesys_add_driver(fakesys *fs, const char *name, const char *module)
{
        static const char *const attrs[] = {"bind", "unbind", "new_id", "remove_id", "uevent"};
        _cleanup_free_ char *dir = pathf(fs, "sys/bus/pci/drivers/%s", name);

        mkdir_all(dir);
        for (size_t i = 0; i < ELEMENTSOF(attrs); i++) {
                _cleanup_free_ char *p = pathf(fs, "sys/bus/pci/drivers/%s/%s", name, attrs[i]);

                write_filef(p, "%s", "");
        }
        if (module) {
                _cleanup_free_ char *link = pathf(fs, "sys/bus/pci/drivers/%s/module", name), *target = NULL;

                fakesys_add_module(fs, module);
                if (asprintf(&target, "../../../../module/%s", module) < 0)
                        fs_fail("out of memory");
                symlink_at(target, link);
        }
}

void fakesys_add_driver_id(fakesys *fs, const char *name, unsigned vendor, unsigned device)
{
        _cleanup_free_ char *p = pathf(fs, "fake-kernel/ids/%s", name);
        _cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

        if (fd < 0 || dprintf(fd, "%04x %04x\n", vendor, device) < 0)
                check(-errno, "add id to", p);
}

void fakesys_bind(fakesys *fs, const char *addr, const char *driver)
{
        _cleanup_free_ char *a = canon(addr), *rel = dev_rel(a);
        _cleanup_free_ char *drv = pathf(fs, "sys/bus/pci/drivers/%s", driver);
        _cleanup_free_ char *link = pathf(fs, "sys/%s/driver", rel), *target = NULL;
        _cleanup_free_ char *back = pathf(fs, "sys/bus/pci/drivers/%s/%s", driver, a), *back_target = NULL;

        require_dev(fs, a);
        if (access(drv, F_OK) < 0)
                fs_fail("no driver '%s' (add it first)", driver);
        if (asprintf(&target, "../../../bus/pci/drivers/%s", driver) < 0 ||
            asprintf(&back_target, "../../../../%s", rel) < 0)
                fs_fail("out of memory");
        if (symlink(target, link) < 0)
                check(-errno, "bind", a);
        symlink_at(back_target, back);
        if (streq(driver, "vfio-pci")) {
                _cleanup_free_ char *group = NULL;
                _cleanup_free_ char *p = pathf(fs, "sys/%s/iommu_group", rel);

                if (readlink_basename(p, &group) < 0)
                        fs_fail("'%s' has no IOMMU group: vfio-pci cannot have it", a);
                mkdir_rel(fs, "dev/vfio");
                free(p);
                p = pathf(fs, "dev/vfio/%s", group);
                write_filef(p, "%s", "");
        }
}

void fakesys_add_drm(fakesys *fs, const char *addr, const char *name)
{
        _cleanup_free_ char *a = canon(addr), *p = pathf(fs, "sys/bus/pci/devices/%s/drm/%s", a, name);

        require_dev(fs, a);
        mkdir_all(p);
}

void fakesys_add_fb(fakesys *fs, const char *addr, unsigned n)
{
        _cleanup_free_ char *a = canon(addr), *p = pathf(fs, "sys/bus/pci/devices/%s/graphics/fb%u", a, n);

        require_dev(fs, a);
        mkdir_all(p);
}

/* ADDR/sound/cardN/ENTRY */
static char *card_path(const fakesys *fs, const char *addr, unsigned card, const char *entry)
{
        return pathf(fs, "sys/bus/pci/devices/%s/sound/card%u/%s", addr, card, entry);
}

void fakesys_add_sound(fakesys *fs, const char *addr, unsigned card, ...)
{
        _cleanup_free_ char *a = canon(addr), *power = NULL, *id = NULL, *number = NULL;
        va_list ap;

        require_dev(fs, a);
        power = card_path(fs, a, card, "power");
        id = card_path(fs, a, card, "id");
        number = card_path(fs, a, card, "number");
        mkdir_all(power);
        write_filef(id, "HDMI\n");
        write_filef(number, "%u\n", card);
        va_start(ap, card);
        for (const char *e; (e = va_arg(ap, const char *));) {
                _cleanup_free_ char *p = card_path(fs, a, card, e);

                mkdir_all(p);
        }
        va_end(ap);
}

void fakesys_add_vfio_cdev(fakesys *fs, const char *addr, unsigned n)
{
        _cleanup_free_ char *a = canon(addr), *p = pathf(fs, "sys/bus/pci/devices/%s/vfio-dev/vfio%u", a, n);
        _cleanup_free_ char *node = pathf(fs, "dev/vfio/devices/vfio%u", n);

        require_dev(fs, a);
        mkdir_all(p);
        mkdir_rel(fs, "dev/vfio/devices");
        write_filef(node, "%s", "");
}

void fakesys_add_i2c(fakesys *fs, const char *addr, const char *under, unsigned n)
{
        _cleanup_free_ char *a = canon(addr), *rel = dev_rel(a), *adapter = NULL, *name = NULL, *dev = NULL;
        _cleanup_free_ char *link = pathf(fs, "sys/bus/i2c/devices/i2c-%u", n), *target = NULL;
        _cleanup_free_ char *links = pathf(fs, "sys/bus/i2c/devices");

        require_dev(fs, a);
        if (asprintf(&adapter, "%s%s%s/i2c-%u", rel, under ? "/" : "", strempty(under), n) < 0 ||
            asprintf(&target, "../../../%s", adapter) < 0)
                fs_fail("out of memory");
        name = pathf(fs, "sys/%s/name", adapter);
        dev = pathf(fs, "sys/%s/i2c-dev/i2c-%u", adapter, n);
        mkdir_all(dev);
        write_filef(name, "fake DDC %u\n", n);
        mkdir_all(links);
        symlink_at(target, link);
}

void fakesys_add_nvidia_cap(fakesys *fs, unsigned n)
{
        _cleanup_free_ char *dir = pathf(fs, "dev/nvidia-caps"),
                            *p = pathf(fs, "dev/nvidia-caps/nvidia-cap%u", n);

        mkdir_all(dir);
        write_filef(p, "%s", "");
}

void fakesys_set_nvidia_minor(fakesys *fs, const char *addr, unsigned minor)
{
        _cleanup_free_ char *a = canon(addr), *dir = pathf(fs, "proc/driver/nvidia/gpus/%s", a);
        _cleanup_free_ char *p = pathf(fs, "proc/driver/nvidia/gpus/%s/information", a);

        mkdir_all(dir);
        write_filef(p,
                    "Model: \t\t Fake GPU\nIRQ:   \t\t 42\nGPU UUID: \t "
                    "GPU-00000000-0000-0000-0000-000000000000\n"
                    "Video BIOS: \t 00.00.00.00.00\nBus Type: \t PCIe\nDMA Size: \t 47 bits\n"
                    "DMA Mask: \t 0x7fffffffffff\nBus Location: \t %s\nDevice Minor: \t %u\n"
                    "GPU Excluded:\t No\n",
                    a, minor);
}

void fakesys_add_node(fakesys *fs, const char *node)
{
        fakesys_write(fs, node, "", 0644);
}

void fakesys_write(fakesys *fs, const char *rel, const char *text, mode_t mode)
{
        _cleanup_free_ char *p = pathf(fs, "%s", rel + (rel[0] == '/')), *dir = xstrdup(p);

        *strrchr(dir, '/') = 0;
        mkdir_all(dir);
        write_filef(p, "%s", text);
        if (chmod(p, mode) < 0)
                check(-errno, "chmod", p);
}

void fakesys_block_unbind(fakesys *fs, const char *addr)
{
        _cleanup_free_ char *a = canon(addr), *p = pathf(fs, "fake-kernel/block-unbind/%s", a);

        require_dev(fs, a);
        write_filef(p, "%s", "");
}

void fakesys_lock_dev(fakesys *fs, const char *addr)
{
        _cleanup_free_ char *a = canon(addr), *p = pathf(fs, "fake-kernel/locked/%s", a);

        require_dev(fs, a);
        write_filef(p, "%s", "");
}

char *fakesys_driver(const fakesys *fs, const char *addr)
{
        _cleanup_free_ char *a = canon(addr), *p = pathf(fs, "sys/bus/pci/devices/%s/driver", a);
        char *name = NULL;
        int r;

        r = readlink_basename(p, &name);
        if (r < 0 && r != -ENOENT)
                check(r, "read driver of", a);
        return name;
}

static char *read_raw(const fakesys *fs, const char *rel)
{
        _cleanup_free_ char *p = pathf(fs, "%s", rel);
        _cleanup_close_ int fd = -1;
        char *s = NULL;
        int r;

        /* By the raw system call, which the fake kernel does not see: the test looks at the tree behind its
         * back, and a device locked by a stuck unbind must not block the test's own read. */
        fd = (int)syscall(SYS_openat, AT_FDCWD, p, O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
                return NULL;
        r = fd < 0 ? -errno : read_full_fd(fd, 1 << 16, &s, NULL);
        check(r, "read", p);
        return s;
}

char *fakesys_read(const fakesys *fs, const char *rel)
{
        char *s = read_raw(fs, rel);

        if (s)
                s[strcspn(s, "\n")] = 0;
        return s;
}

char *fakesys_read_all(const fakesys *fs, const char *rel)
{
        return read_raw(fs, rel);
}

bool fakesys_exists(const fakesys *fs, const char *rel)
{
        _cleanup_free_ char *p = pathf(fs, "%s", rel);

        return access(p, F_OK) == 0;
}
