/* sysfs PCI under ROOT/sys/bus/pci: a function's facts and device nodes; driver_override reads and writes,
 * and unbind and probe writes, which run in a child under a deadline: the kernel takes the device's lock
 * for each, and a driver stuck in unbind holds it forever. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pci.h"
#include "child.h"
#include "core/config.h"
#include "shared/fileio.h"
#include "shared/strv.h"

#define PCI_DEVICES "/sys/bus/pci/devices"
#define PCI_DRIVERS "/sys/bus/pci/drivers"
#define PCI_PROBE "/sys/bus/pci/drivers_probe"
#define NVIDIA_GPUS "/proc/driver/nvidia/gpus"
#define NVIDIA_CAPS "/dev/nvidia-caps"
#define WAIT_STEP_USEC (10 * USEC_PER_MSEC)
/* More than any driver name: a longer value is not an override we could have set. */
#define OVERRIDE_MAX 4096

/* The name sysfs gives the function. Anything that does not parse is refused: it becomes a path. */
static int canon_addr(const char *addr, char buf[static GH_PCI_ADDR_MAX])
{
        gh_pci_addr a;

        if (gh_pci_addr_parse(addr, &a) < 0)
                return -EINVAL;
        gh_pci_addr_format(&a, buf);
        return 0;
}

/* ROOT/TOP/NAME[/ATTR] */
static char *sys_path(const char *root, const char *top, const char *name, const char *attr)
{
        _cleanup_free_ char *base = path_join(root, top);
        char *p;

        if (!base || asprintf(&p, "%s/%s%s%s", base, name, attr ? "/" : "", strempty(attr)) < 0)
                return NULL;
        return p;
}

static char *dev_path(const char *root, const char *addr, const char *attr)
{
        return sys_path(root, PCI_DEVICES, addr, attr);
}

static int device_check(const char *root, const char *addr)
{
        _cleanup_free_ char *p = dev_path(root, addr, NULL);
        struct stat st;

        if (!p)
                return -ENOMEM;
        if (stat(p, &st) < 0)
                return errno == ENOENT ? -ENODEV : -errno;
        return S_ISDIR(st.st_mode) ? 0 : -ENODEV;
}

/* ROOT/sys/bus/pci/devices/ADDR/attr for an address in any form canon_addr() takes; canon gets the
 * canonical form. */
static int dev_attr_path(const char *root, const char *addr, const char *attr, char canon[GH_PCI_ADDR_MAX],
                         char **ret)
{
        int r = canon_addr(addr, canon);

        if (r < 0)
                return r;
        *ret = dev_path(root, canon, attr);
        return *ret ? 0 : -ENOMEM;
}

/* An attribute that every function has; its absence means the function went away. */
static int read_hex_attr(const char *root, const char *addr, const char *attr, unsigned *ret)
{
        _cleanup_free_ char *p = dev_path(root, addr, attr), *s = NULL;
        unsigned long v;
        char *end;
        int r;

        if (!p)
                return -ENOMEM;
        r = read_one_line_file(p, &s);
        if (r < 0)
                return r == -ENOENT ? -ENODEV : r;
        errno = 0;
        v = strtoul(s, &end, 16);
        if (errno != 0 || end == s || *end || v > 0xffffff)
                return -EINVAL;
        *ret = (unsigned)v;
        return 0;
}

/* An attribute that not every function (or kernel) has: NULL when absent. */
static int read_optional_attr(const char *root, const char *addr, const char *attr, char **ret)
{
        _cleanup_free_ char *p = dev_path(root, addr, attr);
        int r;

        if (!p)
                return -ENOMEM;
        r = read_one_line_file(p, ret);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        return r;
}

/* Basename of a symlink; NULL when the link is absent. */
static int read_optional_link(const char *path, char **ret)
{
        int r;

        if (!path)
                return -ENOMEM;
        r = readlink_basename(path, ret);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        return r;
}

static int read_ids(const char *root, const char *addr, gh_pci_dev *d)
{
        _cleanup_free_ char *boot_vga = NULL;
        int r;

        r = read_hex_attr(root, addr, "class", &d->class);
        if (r >= 0)
                r = read_hex_attr(root, addr, "vendor", &d->vendor);
        if (r >= 0)
                r = read_hex_attr(root, addr, "device", &d->device);
        if (r >= 0)
                r = read_optional_attr(root, addr, "boot_vga", &boot_vga);
        if (r < 0)
                return r;
        d->boot_vga = streq_ptr(boot_vga, "1");
        return 0;
}

static int read_module(const char *root, const char *driver, char **ret)
{
        _cleanup_free_ char *p = sys_path(root, PCI_DRIVERS, driver, "module");

        /* No module link: the driver is built into the kernel. */
        return read_optional_link(p, ret);
}

static int read_binding(const char *root, const char *addr, gh_pci_dev *d)
{
        int r;

        r = gh_pci_get_driver(root, addr, &d->driver);
        if (r >= 0 && d->driver)
                r = read_module(root, d->driver, &d->module);
        return r;
}

static int read_iommu_group(const char *root, const char *addr, int *ret)
{
        _cleanup_free_ char *p = dev_path(root, addr, "iommu_group"), *name = NULL;
        long v;
        char *end;
        int r;

        r = read_optional_link(p, &name);
        if (r < 0)
                return r;
        if (!name) {
                *ret = -1;
                return 0;
        }
        errno = 0;
        v = strtol(name, &end, 10);
        if (errno != 0 || end == name || *end || v < 0 || v > INT_MAX)
                return -EINVAL;
        *ret = (int)v;
        return 0;
}

/* PREFIX followed by a number and nothing else: card0 but not card0-HDMI-A-1. */
static bool name_is_numbered(const char *name, const char *prefix)
{
        const char *n = name + strlen(prefix);

        return startswith(name, prefix) && *n && strspn(n, "0123456789") == strlen(n);
}

static bool is_drm_node(const char *name)
{
        return name_is_numbered(name, "card") || name_is_numbered(name, "renderD");
}

static bool is_card_node(const char *name)
{
        return name_is_numbered(name, "card");
}

static bool is_fb_node(const char *name)
{
        return name_is_numbered(name, "fb");
}

/* card0-HDMI-A-1, card0-DP-2: a connector of card0. */
static bool is_drm_connector(const char *name)
{
        return startswith(name, "card") && strchr(name, '-');
}

static bool is_i2c_adapter(const char *name)
{
        return name_is_numbered(name, "i2c-");
}

static bool is_nvidia_cap(const char *name)
{
        return name_is_numbered(name, "nvidia-cap");
}

/* drm/card0, sound/card1 */
static bool is_card(const char *name)
{
        return name_is_numbered(name, "card");
}

static bool is_sound_node(const char *name)
{
        return startswith(name, "controlC") || startswith(name, "pcmC") || startswith(name, "hwC") ||
               startswith(name, "midiC");
}

static int cmp_names(const void *a, const void *b)
{
        return strverscmp(*(char *const *)a, *(char *const *)b);
}

/* Entries of dir that filter accepts, in natural order; none when dir is absent. */
static int list_dir(const char *dir, bool (*filter)(const char *name), char ***ret)
{
        _cleanup_strv_free_ char **l = NULL;
        DIR *d;
        int r = 0;

        if (!dir)
                return -ENOMEM;
        d = opendir(dir);
        if (!d && errno != ENOENT)
                return -errno;
        for (struct dirent *de; d && (de = readdir(d));)
                if (filter(de->d_name) && (r = strv_extend(&l, de->d_name)) < 0)
                        break;
        if (d)
                closedir(d);
        if (r < 0)
                return r;
        if (l)
                qsort(l, strv_length(l), sizeof(char *), cmp_names);
        *ret = TAKE_PTR(l);
        return 0;
}

/* For each accepted entry of ROOT/.../ADDR/SUB, the node DEVDIR/NAME. */
static int add_nodes(const char *root, const char *addr, const char *sub, bool (*filter)(const char *name),
                     const char *devdir, char ***nodes)
{
        _cleanup_free_ char *dir = dev_path(root, addr, sub);
        _cleanup_strv_free_ char **names = NULL;
        int r;

        r = list_dir(dir, filter, &names);
        if (r < 0)
                return r;
        STRV_FOREACH (n, names) {
                char *node;

                if (asprintf(&node, "%s/%s", devdir, *n) < 0)
                        return -ENOMEM;
                r = strv_push(nodes, node);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int add_sound_nodes(const char *root, const char *addr, char ***nodes)
{
        _cleanup_free_ char *dir = dev_path(root, addr, "sound");
        _cleanup_strv_free_ char **cards = NULL;
        int r;

        r = list_dir(dir, is_card, &cards);
        if (r < 0)
                return r;
        STRV_FOREACH (c, cards) {
                _cleanup_free_ char *sub = NULL;

                if (asprintf(&sub, "sound/%s", *c) < 0)
                        return -ENOMEM;
                r = add_nodes(root, addr, sub, is_sound_node, "/dev/snd", nodes);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The i2c adapters of a GPU's connectors: drm_dp_aux_register() puts DP AUX adapters there, some drivers
 * their DDC buses too. */
static int add_connector_i2c_nodes(const char *root, const char *addr, char ***nodes)
{
        _cleanup_free_ char *drm = dev_path(root, addr, "drm");
        _cleanup_strv_free_ char **cards = NULL;
        int r;

        r = list_dir(drm, is_card, &cards);
        STRV_FOREACH (c, cards) {
                _cleanup_free_ char *dir = NULL;
                _cleanup_strv_free_ char **conns = NULL;

                if (asprintf(&dir, "%s/%s", drm, *c) < 0)
                        return -ENOMEM;
                r = list_dir(dir, is_drm_connector, &conns);
                STRV_FOREACH (k, conns) {
                        _cleanup_free_ char *sub = NULL;

                        if (asprintf(&sub, "drm/%s/%s", *c, *k) < 0)
                                return -ENOMEM;
                        if ((r = add_nodes(root, addr, sub, is_i2c_adapter, "/dev", nodes)) < 0)
                                return r;
                }
                if (r < 0)
                        return r;
        }
        return r;
}

/* /dev/i2c-N of each i2c adapter the GPU's driver registers (i2c-dev's nodes: ddcutil, powerdevil): an
 * open one pins the driver's module. Under the function itself (DDC buses of amdgpu, i915, nvidia), or
 * under a connector. */
static int add_i2c_nodes(const char *root, const char *addr, char ***nodes)
{
        int r = add_nodes(root, addr, NULL, is_i2c_adapter, "/dev", nodes);

        return r < 0 ? r : add_connector_i2c_nodes(root, addr, nodes);
}

/* /dev/nvidia-caps/nvidia-capN (MIG and other capabilities, made by nvidia-modprobe): like nvidiactl,
 * they serve every NVIDIA GPU and pin nvidia. */
static int add_nvidia_cap_nodes(const char *root, char ***nodes)
{
        _cleanup_free_ char *dir = path_join(root, NVIDIA_CAPS);
        _cleanup_strv_free_ char **caps = NULL;
        int r;

        r = list_dir(dir, is_nvidia_cap, &caps);
        STRV_FOREACH (c, caps) {
                char *node;

                if (asprintf(&node, "%s/%s", NVIDIA_CAPS, *c) < 0)
                        return -ENOMEM;
                if ((r = strv_push(nodes, node)) < 0)
                        return r;
        }
        return r;
}

/* The GPU's own /dev/nvidiaN, from the "Device Minor:" the driver reports; -ENOENT when it does not. */
static int read_nvidia_minor(const char *root, const char *addr, unsigned *ret)
{
        _cleanup_free_ char *p = sys_path(root, NVIDIA_GPUS, addr, "information"), *s = NULL;
        _cleanup_strv_free_ char **lines = NULL;
        int r;

        if (!p)
                return -ENOMEM;
        r = read_full_file(p, 64 * 1024, &s, NULL);
        if (r >= 0)
                r = strv_split(s, "\n", &lines);
        if (r < 0)
                return r;
        STRV_FOREACH (l, lines) {
                char *v = *l + strlen("Device Minor:"), *end;
                unsigned long m;

                if (!startswith(*l, "Device Minor:"))
                        continue;
                errno = 0;
                m = strtoul(v, &end, 10);
                if (errno != 0 || end == v || m > 255)
                        return -EINVAL;
                *ret = (unsigned)m;
                return 0;
        }
        return -ENOENT;
}

/* Whether ROOT/node exists. */
static bool node_exists(const char *root, const char *node)
{
        _cleanup_free_ char *p = path_join(root, node);

        return p && access(p, F_OK) == 0;
}

static int add_nvidia_nodes(const char *root, const char *addr, char ***nodes)
{
        static const char *const shared[] = {"/dev/nvidiactl", "/dev/nvidia-modeset", "/dev/nvidia-uvm",
                                             "/dev/nvidia-uvm-tools"};
        char *node;
        unsigned minor = 0;
        int r;

        /* Only the nodes there are: nvidia makes none itself (nvidia-modprobe or a udev rule does, and not
         * always all: nvidia-uvm-tools is often missing), and a node listed here must come back after the
         * hand-over. One that is not there has no holder either. */
        for (size_t i = 0; i < ELEMENTSOF(shared); i++) {
                if (!node_exists(root, shared[i]))
                        continue;
                r = strv_extend(nodes, shared[i]);
                if (r < 0)
                        return r;
        }
        r = add_nvidia_cap_nodes(root, nodes);
        if (r < 0)
                return r;
        /* Unreadable when the driver is not fully up: the shared nodes are what holders use anyway. */
        if (read_nvidia_minor(root, addr, &minor) < 0)
                return 0;
        if (asprintf(&node, "/dev/nvidia%u", minor) < 0)
                return -ENOMEM;
        if (!node_exists(root, node)) {
                free(node);
                return 0;
        }
        return strv_push(nodes, node);
}

/* A DRM card registered for addr (its sysfs entry; devtmpfs makes the node with it). Its number may
 * change when its driver comes back. */
static bool has_drm_card(const char *root, const char *addr)
{
        _cleanup_strv_free_ char **cards = NULL;

        return add_nodes(root, addr, "drm", is_card_node, "/dev/dri", &cards) >= 0 && cards;
}

const char *gh_pci_missing_node(const char *root, const char *addr, char *const *nodes)
{
        STRV_FOREACH (n, nodes)
                if (startswith(*n, "/dev/dri/") ? !has_drm_card(root, addr) : !node_exists(root, *n))
                        return *n;
        return NULL;
}

/* Device nodes as the host names them (never ROOT-prefixed): what a holder of this function has open. */
static int read_nodes(const char *root, const char *addr, const char *driver, char ***ret)
{
        _cleanup_strv_free_ char **nodes = NULL;
        int r;

        r = add_nodes(root, addr, "drm", is_drm_node, "/dev/dri", &nodes);
        if (r >= 0)
                r = add_nodes(root, addr, "graphics", is_fb_node, "/dev", &nodes);
        if (r >= 0)
                r = add_sound_nodes(root, addr, &nodes);
        if (r >= 0)
                r = add_i2c_nodes(root, addr, &nodes);
        if (r >= 0 && streq_ptr(driver, "nvidia"))
                r = add_nvidia_nodes(root, addr, &nodes);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(nodes);
        return 0;
}

int gh_pci_read_dev(const char *root, const gh_pci_addr *a, gh_pci_dev *ret)
{
        _cleanup_(gh_pci_dev_done) gh_pci_dev d = {.addr = *a, .iommu_group = -1};
        char addr[GH_PCI_ADDR_MAX];
        int r;

        if (!gh_pci_addr_valid(a))
                return -EINVAL;
        gh_pci_addr_format(a, addr);
        r = device_check(root, addr);
        if (r >= 0)
                r = read_ids(root, addr, &d);
        if (r >= 0)
                r = read_binding(root, addr, &d);
        if (r >= 0)
                r = read_iommu_group(root, addr, &d.iommu_group);
        if (r >= 0)
                r = read_nodes(root, addr, d.driver, &d.nodes);
        if (r < 0)
                return r;
        *ret = d;
        d = (gh_pci_dev){.iommu_group = -1};
        return 0;
}

typedef struct dev_array {
        gh_pci_dev *devs;
        size_t n;
} dev_array;

static void dev_array_done(dev_array *a)
{
        gh_pci_devs_free(a->devs, a->n);
}

static int dev_array_add(dev_array *a, const char *root, const gh_pci_addr *addr)
{
        gh_pci_dev *n;
        int r;

        n = reallocarray(a->devs, a->n + 1, sizeof(gh_pci_dev));
        if (!n)
                return -ENOMEM;
        a->devs = n;
        r = gh_pci_read_dev(root, addr, &a->devs[a->n]);
        /* Gone between readdir() and now: hot-unplugged, so not on the list. */
        if (r == -ENODEV)
                return 0;
        if (r < 0)
                return r;
        a->n++;
        return 0;
}

static int cmp_devs(const void *x, const void *y)
{
        const gh_pci_addr *a = &((const gh_pci_dev *)x)->addr, *b = &((const gh_pci_dev *)y)->addr;

        if (a->domain != b->domain)
                return a->domain < b->domain ? -1 : 1;
        if (a->bus != b->bus)
                return a->bus < b->bus ? -1 : 1;
        if (a->slot != b->slot)
                return a->slot < b->slot ? -1 : 1;
        return a->func < b->func ? -1 : a->func > b->func;
}

int gh_pci_list(const char *root, gh_pci_dev **ret, size_t *ret_n)
{
        _cleanup_(dev_array_done) dev_array a = {};
        _cleanup_free_ char *dir = path_join(root, PCI_DEVICES);
        DIR *d;
        int r = 0;

        if (!dir)
                return -ENOMEM;
        d = opendir(dir);
        if (!d)
                return -errno;
        for (struct dirent *de; r >= 0 && (de = readdir(d));) {
                gh_pci_addr addr;

                if (gh_pci_addr_parse(de->d_name, &addr) >= 0)
                        r = dev_array_add(&a, root, &addr);
        }
        closedir(d);
        if (r < 0)
                return r;
        if (a.n > 0)
                qsort(a.devs, a.n, sizeof(gh_pci_dev), cmp_devs);
        *ret = TAKE_PTR(a.devs);
        *ret_n = a.n;
        a.n = 0;
        return 0;
}

void gh_pci_devs_free(gh_pci_dev *devs, size_t n)
{
        for (size_t i = 0; devs && i < n; i++)
                gh_pci_dev_done(&devs[i]);
        free(devs);
}

int gh_pci_get_driver(const char *root, const char *addr, char **ret)
{
        char canon[GH_PCI_ADDR_MAX];
        _cleanup_free_ char *p = NULL;
        int r;

        r = dev_attr_path(root, addr, "driver", canon, &p);
        if (r < 0)
                return r;
        r = readlink_basename(p, ret);
        if (r != -ENOENT)
                return r;
        /* No link: unbound, or no such function at all. */
        r = device_check(root, canon);
        if (r < 0)
                return r;
        *ret = NULL;
        return 0;
}

typedef struct sysfs_write {
        const char *path;
        const char *value;
} sysfs_write;

static int sysfs_write_run(void *userdata)
{
        const sysfs_write *w = userdata;

        return write_string_file(w->path, w->value);
}

/* In the child: the attribute's first line, to stdout. */
static int sysfs_read_run(void *userdata)
{
        const char *path = userdata;
        _cleanup_free_ char *s = NULL;
        size_t n;
        ssize_t k;
        int r;

        r = read_one_line_file(path, &s);
        if (r < 0)
                return r;
        /* One write into an empty pipe: far less than its capacity, so whole or not at all. */
        n = strlen(s);
        k = write(STDOUT_FILENO, s, n);
        if (k < 0)
                return -errno;
        return (size_t)k == n ? 0 : -EIO;
}

/* "(null)" and "" (older kernels) both mean none. */
static char *override_value(char *s)
{
        if (s && (streq(s, "(null)") || !*s)) {
                free(s);
                return NULL;
        }
        return s;
}

int gh_pci_read_override(const char *root, const char *addr, usec_t deadline, char **ret)
{
        char canon[GH_PCI_ADDR_MAX];
        _cleanup_free_ char *p = NULL;
        char *s = NULL;
        int r;

        r = dev_attr_path(root, addr, "driver_override", canon, &p);
        if (r < 0)
                return r;
        r = gh_child_read(sysfs_read_run, p, deadline, OVERRIDE_MAX, &s);
        /* No such attribute: a kernel without driver_override (before 3.16), so no override. */
        if (r == -ENOENT && (r = device_check(root, canon)) >= 0)
                s = NULL;
        if (r < 0)
                return r;
        *ret = override_value(s);
        return 0;
}

int gh_pci_set_override(const char *root, const char *addr, const char *driver, usec_t deadline)
{
        char canon[GH_PCI_ADDR_MAX];
        _cleanup_free_ char *p = NULL;
        int r;

        if (driver && !gh_driver_name_valid(driver))
                return -EINVAL;
        r = dev_attr_path(root, addr, "driver_override", canon, &p);
        if (r < 0)
                return r;
        /* The kernel reads a lone newline as "no override". */
        r = gh_child_run(sysfs_write_run, &(sysfs_write){.path = p, .value = driver ? driver : "\n"},
                         deadline);
        if (r == -ENOENT)
                return device_check(root, canon) < 0 ? -ENODEV : -EOPNOTSUPP;
        return r;
}

int gh_pci_unbind_begin(const char *root, const char *addr, const char *driver, usec_t deadline,
                        gh_pci_unbind_op *ret)
{
        _cleanup_free_ char *cur = NULL, *p = NULL;
        int r;

        *ret = (gh_pci_unbind_op){.child = {.pidfd = -1}};
        r = canon_addr(addr, ret->addr);
        if (r < 0)
                return r;
        if (!gh_driver_name_valid(driver))
                return -EINVAL;
        r = gh_pci_get_driver(root, ret->addr, &cur);
        if (r < 0 || !streq_ptr(cur, driver))
                return r;
        /* Nobody would wait for the outcome, so the operation must not start. */
        if (deadline_passed(deadline))
                return -ETIMEDOUT;
        p = sys_path(root, PCI_DRIVERS, driver, "unbind");
        if (!p)
                return -ENOMEM;
        /* The child has its own copy of the value and the path from here on. */
        r = gh_child_start(sysfs_write_run, &(sysfs_write){.path = p, .value = ret->addr}, &ret->child);
        ret->started = r >= 0;
        return r;
}

int gh_pci_unbind_wait(gh_pci_unbind_op *op, usec_t deadline)
{
        int r;

        if (!op->started || op->ended)
                return 0;
        r = gh_child_wait(&op->child, deadline);
        if (r == -ETIMEDOUT)
                return r;
        op->ended = true;
        op->result = r;
        return 0;
}

int gh_pci_unbind_end(const char *root, gh_pci_unbind_op *op, usec_t deadline)
{
        _cleanup_free_ char *after = NULL;
        int r = gh_pci_unbind_wait(op, deadline), k;

        if (r < 0) {
                (void)gh_child_stop(&op->child);
                return r;
        }
        if (!op->started)
                return 0;
        r = op->result;
        /* -ENODEV: no longer bound to it when the kernel looked; the link below says what is true. */
        if (r < 0 && r != -ENODEV)
                return r;
        k = gh_pci_get_driver(root, op->addr, &after);
        if (k < 0)
                return k;
        if (after)
                return r < 0 ? r : -EBUSY;
        return 0;
}

int gh_pci_unbind(const char *root, const char *addr, const char *driver, usec_t deadline)
{
        gh_pci_unbind_op op;
        int r = gh_pci_unbind_begin(root, addr, driver, deadline, &op);

        return r < 0 ? r : gh_pci_unbind_end(root, &op, deadline);
}

int gh_pci_probe(const char *root, const char *addr, usec_t deadline)
{
        char canon[GH_PCI_ADDR_MAX];
        _cleanup_free_ char *p = NULL;
        int r;

        r = canon_addr(addr, canon);
        if (r < 0)
                return r;
        p = path_join(root, PCI_PROBE);
        if (!p)
                return -ENOMEM;
        return gh_child_run(sysfs_write_run, &(sysfs_write){.path = p, .value = canon}, deadline);
}

int gh_pci_wait_driver(const char *root, const char *addr, const char *driver, usec_t deadline)
{
        int r;

        for (;;) {
                _cleanup_free_ char *cur = NULL;

                r = gh_pci_get_driver(root, addr, &cur);
                if (r < 0)
                        return r;
                if (cur && (!driver || streq(cur, driver)))
                        return 0;
                /* Drivers may probe asynchronously: the link shows up some time after the write. */
                if (!deadline_sleep(deadline, WAIT_STEP_USEC))
                        return -ETIMEDOUT;
        }
}

int gh_pci_read_modalias(const char *root, const char *addr, char **ret)
{
        char canon[GH_PCI_ADDR_MAX];
        _cleanup_free_ char *p = NULL;
        int r;

        r = dev_attr_path(root, addr, "modalias", canon, &p);
        if (r < 0)
                return r;
        r = read_one_line_file(p, ret);
        if (r == -ENOENT)
                return device_check(root, canon) < 0 ? -ENODEV : r;
        return r;
}

static bool is_vfio_cdev(const char *name)
{
        return name_is_numbered(name, "vfio");
}

int gh_pci_vfio_cdev(const char *root, const char *addr, char **ret_name)
{
        char canon[GH_PCI_ADDR_MAX];
        _cleanup_free_ char *dir = NULL;
        _cleanup_strv_free_ char **names = NULL;
        int r;

        r = dev_attr_path(root, addr, "vfio-dev", canon, &dir);
        if (r < 0)
                return r;
        r = list_dir(dir, is_vfio_cdev, &names);
        if (r < 0)
                return r;
        /* vfio-pci registers one VFIO device per function: one entry, or none. */
        if (strv_length(names) == 0)
                return -ENOENT;
        *ret_name = strdup(names[0]);
        return *ret_name ? 0 : -ENOMEM;
}
