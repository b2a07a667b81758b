/* LD_PRELOAD shim: writes into a fake sysfs (tests/util/fakesys.h) below $GH_FAKE_KERNEL_ROOT act as the
 * kernel's would. Every other open and write, and everything outside that directory, passes through.
 *
 * What is modelled (VALUE is what is written, one trailing newline ignored, as sysfs does):
 *   drivers/NAME/bind      VALUE=ADDR. -ENODEV: no such function, or NAME does not match it; -EBUSY:
 *                          it matches but is bound already; -EINVAL: NAME is vfio-pci and the function
 *                          has no IOMMU group (the probe fails). Otherwise bound; vfio-pci also creates
 *                          ROOT/dev/vfio/GROUP.
 *   drivers/NAME/unbind    VALUE=ADDR. -ENODEV unless bound to NAME. Blocks forever when ADDR is flagged
 *                          in fake-kernel/block-unbind (a busy driver), holding ADDR's device lock: from
 *                          then on every write about ADDR (bind, unbind, driver_override, drivers_probe)
 *                          and every read of its driver_override blocks forever too, as it waits for
 *                          that lock in the kernel (a read blocks in open(): the shim sees no read()
 *                          from stdio or libc's own calls, and a reader opens to read). Removes
 *                          dev/vfio/GROUP with the group's last vfio-pci function.
 *                          An ALSA card's unbind (ADDR has fake-kernel/alsa/ADDR/, whose links name its
 *                          nodes): snd_card_free disconnects the card first, which its clients see as
 *                          fake-kernel/disconnected/ADDR, then waits while any process of this system
 *                          (/proc/PID/fd) still has one of the nodes open; then the nodes go, and the
 *                          function is unbound. SIGKILLed meanwhile (a user-space wait, unlike the
 *                          kernel's), it leaves the function bound.
 *   drivers/NAME/new_id    VALUE="vvvv dddd" (hex): NAME matches that id from now on (-EEXIST if it did
 *                          already, -EINVAL if unparsable), and takes every unbound function it matches.
 *   drivers/NAME/remove_id the reverse; -ENODEV when NAME had no such id.
 *   ADDR/driver_override   stores VALUE; an empty VALUE (a lone "\n") clears it, read back as "(null)".
 *   drivers_probe          VALUE=ADDR. -ENODEV: no such function. Bound already: nothing happens. With an
 *                          override, binds to that driver if it exists; else to the first driver, in name
 *                          order, whose ids match vendor:device. A probe that fails is -EINVAL. No driver
 *                          matching is success with the function left unbound, as in drivers/base/bus.c.
 * Matching: with driver_override set, a driver matches only if it is named so (and then always, like
 * vfio-pci); without, when fake-kernel/ids/NAME lists the function's "vvvv dddd".
 *
 * Writes are recognised by tracking the descriptors that open()/openat() return for those files: opens
 * with O_CREAT (which sysfs never sees: that is how fakesys builds the tree) and read-only opens are not
 * tracked; a tracked descriptor is forgotten on close(), or when it no longer names the same file. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
/* A sysfs store gets at most a page. */
#define VALUE_MAX 4096
#define NEEDS_MODE(flags) (((flags)&O_CREAT) || ((flags)&O_TMPFILE) == O_TMPFILE)

int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

typedef enum attr_kind {
        ATTR_BIND,
        ATTR_UNBIND,
        ATTR_NEW_ID,
        ATTR_REMOVE_ID,
        ATTR_OVERRIDE,
        ATTR_PROBE,
} attr_kind;

typedef struct kattr {
        bool used;
        int fd;
        dev_t dev;
        ino_t ino;
        attr_kind kind;
        char root[PATH_MAX];     /* the fakesys tree: $GH_FAKE_KERNEL_ROOT/fakesys.XXXXXX */
        char name[NAME_MAX + 1]; /* the driver (bind .. remove_id) or the function (driver_override) */
} kattr;

static kattr table[64];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

static struct {
        int (*open)(const char *, int, ...);
        int (*open64)(const char *, int, ...);
        int (*openat)(int, const char *, int, ...);
        int (*openat64)(int, const char *, int, ...);
        int (*open_2)(const char *, int);
        int (*open64_2)(const char *, int);
        int (*openat_2)(int, const char *, int);
        int (*openat64_2)(int, const char *, int);
        ssize_t (*write)(int, const void *, size_t);
        int (*close)(int);
} real;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;

static void *sym(const char *name, bool required)
{
        void *p = dlsym(RTLD_NEXT, name);

        if (!p && required) {
                fprintf(stderr, "fake-kernel: no '%s' to wrap\n", name);
                abort();
        }
        return p;
}

static void real_init(void)
{
        real.open = sym("open", true);
        real.open64 = sym("open64", true);
        real.openat = sym("openat", true);
        real.openat64 = sym("openat64", true);
        real.open_2 = sym("__open_2", false);
        real.open64_2 = sym("__open64_2", false);
        real.openat_2 = sym("__openat_2", false);
        real.openat64_2 = sym("__openat64_2", false);
        real.write = sym("write", true);
        real.close = sym("close", true);
}

static void ensure_real(void)
{
        (void)pthread_once(&real_once, real_init);
}

static bool streq(const char *a, const char *b)
{
        return strcmp(a, b) == 0;
}

static bool startswith(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

__attribute__((format(printf, 2, 3))) static int pathf(char buf[static PATH_MAX], const char *fmt, ...)
{
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(buf, PATH_MAX, fmt, ap);
        va_end(ap);
        return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/* ---- The tree, read and changed with the real calls ---- */

static int read_line(const char *path, char *buf, size_t size)
{
        int fd = real.open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return -errno;
        n = read(fd, buf, size - 1);
        real.close(fd);
        if (n < 0)
                return -EIO;
        buf[n] = 0;
        buf[strcspn(buf, "\n")] = 0;
        return 0;
}

static int write_file(const char *path, const char *s)
{
        int fd = real.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        size_t n = strlen(s);
        ssize_t k;

        if (fd < 0)
                return -errno;
        k = real.write(fd, s, n);
        real.close(fd);
        return k == (ssize_t)n ? 0 : -EIO;
}

/* Basename of a symlink's target into buf (NAME_MAX + 1 bytes); -ENOENT when there is no link. */
static int link_name(const char *path, char *buf)
{
        char target[PATH_MAX];
        const char *b;
        ssize_t n = readlink(path, target, sizeof(target) - 1);

        if (n < 0)
                return -errno;
        target[n] = 0;
        b = strrchr(target, '/');
        b = b ? b + 1 : target;
        if (strlen(b) > NAME_MAX)
                return -ENAMETOOLONG;
        strcpy(buf, b);
        return 0;
}

static bool is_dir(const char *path)
{
        struct stat st;

        return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool dev_exists(const char *root, const char *addr)
{
        char p[PATH_MAX];

        return !strchr(addr, '/') && *addr && pathf(p, "%s/sys/bus/pci/devices/%s", root, addr) == 0 &&
               is_dir(p);
}

static bool driver_exists(const char *root, const char *drv)
{
        char p[PATH_MAX];

        return !strchr(drv, '/') && *drv && pathf(p, "%s/sys/bus/pci/drivers/%s", root, drv) == 0 &&
               is_dir(p);
}

/* The bound driver into drv ("" when none); -ENODEV when there is no such function. */
static int dev_driver(const char *root, const char *addr, char *drv)
{
        char p[PATH_MAX];
        int r;

        if (!dev_exists(root, addr))
                return -ENODEV;
        r = pathf(p, "%s/sys/bus/pci/devices/%s/driver", root, addr);
        if (r < 0)
                return r;
        r = link_name(p, drv);
        if (r == -ENOENT) {
                drv[0] = 0;
                return 0;
        }
        return r;
}

/* The override into buf (NAME_MAX + 1 bytes), "" when none. */
static void dev_override(const char *root, const char *addr, char *buf)
{
        char p[PATH_MAX];

        if (pathf(p, "%s/sys/bus/pci/devices/%s/driver_override", root, addr) < 0 ||
            read_line(p, buf, NAME_MAX + 1) < 0 || streq(buf, "(null)"))
                buf[0] = 0;
}

static int dev_hex(const char *root, const char *addr, const char *attr, unsigned *ret)
{
        char p[PATH_MAX], s[64];
        int r;

        r = pathf(p, "%s/sys/bus/pci/devices/%s/%s", root, addr, attr);
        if (r >= 0)
                r = read_line(p, s, sizeof(s));
        if (r < 0)
                return r;
        *ret = (unsigned)strtoul(s, NULL, 16);
        return 0;
}

static int dev_group(const char *root, const char *addr, char *group)
{
        char p[PATH_MAX];
        int r = pathf(p, "%s/sys/bus/pci/devices/%s/iommu_group", root, addr);

        return r < 0 ? r : link_name(p, group);
}

static bool parse_id(const char *s, unsigned *vendor, unsigned *device)
{
        char extra;

        return sscanf(s, "%x %x %c", vendor, device, &extra) == 2 && *vendor <= 0xffff && *device <= 0xffff;
}

static bool id_listed(const char *root, const char *drv, unsigned vendor, unsigned device)
{
        char p[PATH_MAX], line[128];
        bool found = false;
        FILE *f;

        if (pathf(p, "%s/fake-kernel/ids/%s", root, drv) < 0 || !(f = fopen(p, "re")))
                return false;
        while (!found && fgets(line, sizeof(line), f)) {
                unsigned v, d;

                found = parse_id(line, &v, &d) && v == vendor && d == device;
        }
        fclose(f);
        return found;
}

static bool matches(const char *root, const char *drv, const char *addr)
{
        char override[NAME_MAX + 1];
        unsigned vendor, device;

        dev_override(root, addr, override);
        if (override[0])
                return streq(override, drv);
        if (dev_hex(root, addr, "vendor", &vendor) < 0 || dev_hex(root, addr, "device", &device) < 0)
                return false;
        return id_listed(root, drv, vendor, device);
}

/* ---- Binding ---- */

static int vfio_node(const char *root, const char *group, bool present)
{
        char p[PATH_MAX];
        int r;

        r = pathf(p, "%s/dev/vfio", root);
        if (r < 0)
                return r;
        if (present && mkdir(p, 0755) < 0 && errno != EEXIST)
                return -errno;
        r = pathf(p, "%s/dev/vfio/%s", root, group);
        if (r < 0)
                return r;
        if (present)
                return write_file(p, "");
        return unlink(p) < 0 && errno != ENOENT ? -errno : 0;
}

static int make_links(const char *root, const char *drv, const char *addr)
{
        char p[PATH_MAX], target[PATH_MAX], rel[PATH_MAX];
        ssize_t n;
        int r;

        /* devices/ADDR -> ../../../devices/pciDDDD:BB/ADDR; the driver's link is one level deeper. */
        r = pathf(p, "%s/sys/bus/pci/devices/%s", root, addr);
        if (r < 0)
                return r;
        n = readlink(p, rel, sizeof(rel) - 1);
        if (n < 0)
                return -errno;
        rel[n] = 0;
        r = pathf(p, "%s/sys/bus/pci/devices/%s/driver", root, addr);
        if (r >= 0)
                r = pathf(target, "../../../bus/pci/drivers/%s", drv);
        if (r < 0)
                return r;
        if (symlink(target, p) < 0)
                return -errno;
        r = pathf(p, "%s/sys/bus/pci/drivers/%s/%s", root, drv, addr);
        if (r >= 0)
                r = pathf(target, "../%s", rel);
        if (r < 0)
                return r;
        return symlink(target, p) < 0 && errno != EEXIST ? -errno : 0;
}

static int do_bind(const char *root, const char *drv, const char *addr)
{
        char cur[NAME_MAX + 1], group[NAME_MAX + 1];
        bool vfio = streq(drv, "vfio-pci");
        int r;

        /* Matching comes first, as in the kernel: a bound function the driver does not match is -ENODEV. */
        r = dev_driver(root, addr, cur);
        if (r < 0)
                return r;
        if (!driver_exists(root, drv) || !matches(root, drv, addr))
                return -ENODEV;
        if (cur[0])
                return -EBUSY;
        /* vfio-pci's probe needs an IOMMU group. */
        if (vfio && dev_group(root, addr, group) < 0)
                return -EINVAL;
        r = make_links(root, drv, addr);
        if (r >= 0 && vfio)
                r = vfio_node(root, group, true);
        return r;
}

static _Noreturn void block_forever(void)
{
        /* Unlike a real D-state writer, this one goes with its parent: a caller that fails to kill it
         * must not leave it behind, holding the test's output open. */
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (;;)
                pause();
}

static bool unbind_blocked(const char *root, const char *addr)
{
        char p[PATH_MAX];

        return pathf(p, "%s/fake-kernel/block-unbind/%s", root, addr) == 0 && access(p, F_OK) == 0;
}

/* The device lock of ADDR, held for good by an unbind that blocks: fake-kernel/locked/ADDR. */
static int lock_path(const char *root, const char *addr, char p[static PATH_MAX])
{
        return pathf(p, "%s/fake-kernel/locked/%s", root, addr);
}

static _Noreturn void block_holding_lock(const char *root, const char *addr)
{
        char p[PATH_MAX];

        if (lock_path(root, addr, p) == 0)
                (void)write_file(p, "");
        block_forever();
}

static bool device_locked(const char *root, const char *addr)
{
        char p[PATH_MAX];

        return lock_path(root, addr, p) == 0 && access(p, F_OK) == 0;
}

/* Whether another function of the group is still bound to vfio-pci (the group's node stays then). */
static bool group_in_vfio(const char *root, const char *group, const char *except)
{
        char p[PATH_MAX], drv[NAME_MAX + 1];
        struct dirent *de;
        bool found = false;
        DIR *d;

        if (pathf(p, "%s/sys/kernel/iommu_groups/%s/devices", root, group) < 0 || !(d = opendir(p)))
                return false;
        while (!found && (de = readdir(d)))
                found = de->d_name[0] != '.' && !streq(de->d_name, except) &&
                        dev_driver(root, de->d_name, drv) == 0 && streq(drv, "vfio-pci");
        closedir(d);
        return found;
}

/* Whether pid has target open: one of its /proc/PID/fd links names it. */
static bool pid_holds(const char *pid, const char *target)
{
        char p[PATH_MAX], l[PATH_MAX];
        struct dirent *de;
        bool found = false;
        DIR *d;

        if (pathf(p, "/proc/%s/fd", pid) < 0 || !(d = opendir(p)))
                return false;
        while (!found && (de = readdir(d))) {
                ssize_t n;

                if (de->d_name[0] == '.' || pathf(p, "/proc/%s/fd/%s", pid, de->d_name) < 0)
                        continue;
                n = readlink(p, l, sizeof(l) - 1);
                if (n < 0)
                        continue;
                l[n] = 0;
                found = streq(l, target);
        }
        closedir(d);
        return found;
}

static bool anyone_holds(const char *target)
{
        struct dirent *de;
        bool found = false;
        DIR *d = opendir("/proc");

        if (!d)
                return false;
        while (!found && (de = readdir(d)))
                found = de->d_name[0] >= '1' && de->d_name[0] <= '9' && pid_holds(de->d_name, target);
        closedir(d);
        return found;
}

/* Calls fn with each node the links under fake-kernel/alsa/ADDR name; stops at the first true. */
static bool alsa_any_node(const char *dir, bool (*fn)(const char *node))
{
        char p[PATH_MAX], node[PATH_MAX];
        struct dirent *de;
        bool hit = false;
        DIR *d = opendir(dir);

        if (!d)
                return false;
        while (!hit && (de = readdir(d))) {
                ssize_t n;

                if (de->d_name[0] == '.' || pathf(p, "%s/%s", dir, de->d_name) < 0 ||
                    (n = readlink(p, node, sizeof(node) - 1)) < 0)
                        continue;
                node[n] = 0;
                hit = fn(node);
        }
        closedir(d);
        return hit;
}

static bool node_remove(const char *node)
{
        (void)unlink(node);
        return false;
}

/* snd_card_free(): disconnect, wait for the files to close, and the nodes go. */
static void alsa_card_free(const char *root, const char *addr)
{
        char dir[PATH_MAX], p[PATH_MAX];

        if (pathf(dir, "%s/fake-kernel/alsa/%s", root, addr) < 0 || !is_dir(dir))
                return;
        if (pathf(p, "%s/fake-kernel/disconnected", root) == 0)
                (void)mkdir(p, 0755);
        if (pathf(p, "%s/fake-kernel/disconnected/%s", root, addr) == 0)
                (void)write_file(p, "");
        /* As block_forever(): goes with its parent rather than outlive the test. */
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        while (alsa_any_node(dir, anyone_holds))
                usleep(10 * 1000);
        (void)alsa_any_node(dir, node_remove);
}

static int do_unbind(const char *root, const char *drv, const char *addr)
{
        char cur[NAME_MAX + 1], group[NAME_MAX + 1], p[PATH_MAX];
        int r;

        r = dev_driver(root, addr, cur);
        if (r < 0 || !streq(cur, drv))
                return -ENODEV;
        if (unbind_blocked(root, addr))
                block_holding_lock(root, addr);
        alsa_card_free(root, addr);
        r = pathf(p, "%s/sys/bus/pci/devices/%s/driver", root, addr);
        if (r < 0 || unlink(p) < 0)
                return r < 0 ? r : -errno;
        if (pathf(p, "%s/sys/bus/pci/drivers/%s/%s", root, drv, addr) == 0)
                (void)unlink(p);
        if (streq(drv, "vfio-pci") && dev_group(root, addr, group) == 0 && !group_in_vfio(root, group, addr))
                return vfio_node(root, group, false);
        return 0;
}

/* By name, bytewise: the order must not depend on the locale. */
static int cmp_dirents(const struct dirent **a, const struct dirent **b)
{
        return strcmp((*a)->d_name, (*b)->d_name);
}

/* Entries of ROOT/sys/bus/pci/SUB, sorted; calls fn on each until it returns non-zero. */
static int for_each_sorted(const char *root, const char *sub,
                           int (*fn)(const char *root, const char *name, const char *arg), const char *arg)
{
        struct dirent **names = NULL;
        char p[PATH_MAX];
        int n, r = 0;

        if (pathf(p, "%s/sys/bus/pci/%s", root, sub) < 0)
                return -ENAMETOOLONG;
        n = scandir(p, &names, NULL, cmp_dirents);
        if (n < 0)
                return -errno;
        for (int i = 0; i < n; i++) {
                if (r == 0 && names[i]->d_name[0] != '.')
                        r = fn(root, names[i]->d_name, arg);
                free(names[i]);
        }
        free(names);
        return r;
}

/* Probes addr with drv when drv matches it: 1 when bound, -EINVAL when its probe failed. */
static int probe_with(const char *root, const char *drv, const char *addr)
{
        if (!matches(root, drv, addr))
                return 0;
        return do_bind(root, drv, addr) < 0 ? -EINVAL : 1;
}

static int do_probe(const char *root, const char *addr)
{
        char cur[NAME_MAX + 1], override[NAME_MAX + 1];
        int r;

        r = dev_driver(root, addr, cur);
        if (r < 0 || cur[0])
                return r;
        dev_override(root, addr, override);
        if (override[0]) {
                if (!driver_exists(root, override))
                        return 0;
                r = probe_with(root, override, addr);
        } else
                r = for_each_sorted(root, "drivers", probe_with, addr);
        return r < 0 ? r : 0;
}

/* new_id: the driver takes every unbound function it now matches. */
static int attach_one(const char *root, const char *addr, const char *drv)
{
        char cur[NAME_MAX + 1];

        if (dev_driver(root, addr, cur) == 0 && !cur[0] && matches(root, drv, addr))
                (void)do_bind(root, drv, addr);
        return 0;
}

static int do_new_id(const char *root, const char *drv, const char *value)
{
        char p[PATH_MAX], line[32];
        unsigned vendor, device;
        FILE *f;
        int r;

        if (!parse_id(value, &vendor, &device))
                return -EINVAL;
        if (id_listed(root, drv, vendor, device))
                return -EEXIST;
        r = pathf(p, "%s/fake-kernel/ids/%s", root, drv);
        if (r < 0)
                return r;
        f = fopen(p, "ae");
        if (!f)
                return -errno;
        snprintf(line, sizeof(line), "%04x %04x\n", vendor, device);
        r = fputs(line, f) < 0 ? -EIO : 0;
        if (fclose(f) != 0 && r == 0)
                r = -EIO;
        if (r < 0)
                return r;
        return for_each_sorted(root, "devices", attach_one, drv);
}

static int do_remove_id(const char *root, const char *drv, const char *value)
{
        char p[PATH_MAX], line[128], kept[VALUE_MAX] = "";
        unsigned vendor, device, v, d;
        bool found = false;
        FILE *f;
        int r;

        if (!parse_id(value, &vendor, &device))
                return -EINVAL;
        r = pathf(p, "%s/fake-kernel/ids/%s", root, drv);
        if (r < 0)
                return r;
        f = fopen(p, "re");
        if (!f)
                return -ENODEV;
        while (fgets(line, sizeof(line), f)) {
                if (!found && parse_id(line, &v, &d) && v == vendor && d == device)
                        found = true;
                else if (strlen(kept) + strlen(line) < sizeof(kept))
                        strcat(kept, line);
        }
        fclose(f);
        return found ? write_file(p, kept) : -ENODEV;
}

static int do_override(const char *root, const char *addr, const char *value)
{
        char p[PATH_MAX], s[VALUE_MAX + 1];
        int r;

        r = pathf(p, "%s/sys/bus/pci/devices/%s/driver_override", root, addr);
        if (r < 0)
                return r;
        snprintf(s, sizeof(s), "%s\n", value[0] ? value : "(null)");
        return write_file(p, s);
}

static int store(const kattr *k, const void *buf, size_t n)
{
        char v[VALUE_MAX];

        if (n >= VALUE_MAX)
                return -EINVAL;
        memcpy(v, buf, n);
        v[n] = 0;
        if (n > 0 && v[n - 1] == '\n')
                v[n - 1] = 0;
        /* Every store about a function takes its device lock first (new_id, remove_id: the driver's). */
        if (device_locked(k->root, k->kind == ATTR_OVERRIDE ? k->name : v) && k->kind != ATTR_NEW_ID &&
            k->kind != ATTR_REMOVE_ID)
                block_forever();
        switch (k->kind) {
        case ATTR_BIND:
                return do_bind(k->root, k->name, v);
        case ATTR_UNBIND:
                return do_unbind(k->root, k->name, v);
        case ATTR_NEW_ID:
                return do_new_id(k->root, k->name, v);
        case ATTR_REMOVE_ID:
                return do_remove_id(k->root, k->name, v);
        case ATTR_OVERRIDE:
                return do_override(k->root, k->name, v);
        case ATTR_PROBE:
                return do_probe(k->root, v);
        }
        return -EINVAL;
}

/* ---- Which descriptors are kernel attributes ---- */

static bool absolute_path(int dirfd, const char *path, char buf[static PATH_MAX])
{
        char dir[PATH_MAX], link[64];
        ssize_t n;

        if (path[0] == '/')
                return pathf(buf, "%s", path) == 0;
        if (dirfd == AT_FDCWD) {
                if (!getcwd(dir, sizeof(dir)))
                        return false;
        } else {
                snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
                n = readlink(link, dir, sizeof(dir) - 1);
                if (n < 0)
                        return false;
                dir[n] = 0;
        }
        return pathf(buf, "%s/%s", dir, path) == 0;
}

/* Splits a path below $GH_FAKE_KERNEL_ROOT into its tree (the first component below) and the rest. */
static bool split_fake(const char *path, char root[static PATH_MAX], const char **ret_rel)
{
        const char *base = getenv("GH_FAKE_KERNEL_ROOT"), *tree, *slash;
        size_t bl;

        if (!base || !*base)
                return false;
        bl = strlen(base);
        while (bl > 1 && base[bl - 1] == '/')
                bl--;
        if (strncmp(path, base, bl) != 0 || path[bl] != '/')
                return false;
        tree = path + bl + 1;
        slash = strchr(tree, '/');
        if (!slash)
                return false;
        memcpy(root, path, (size_t)(slash - path));
        root[slash - path] = 0;
        *ret_rel = slash + 1;
        return true;
}

static bool set_name(kattr *k, const char *s, size_t n)
{
        if (n == 0 || n > NAME_MAX)
                return false;
        memcpy(k->name, s, n);
        k->name[n] = 0;
        return true;
}

static bool classify(const char *rel, kattr *k)
{
        static const struct {
                const char *file;
                attr_kind kind;
        } driver_attrs[] = {
                {"bind", ATTR_BIND},
                {"unbind", ATTR_UNBIND},
                {"new_id", ATTR_NEW_ID},
                {"remove_id", ATTR_REMOVE_ID},
        };
        const char *s, *slash, *last, *start;

        if (streq(rel, "sys/bus/pci/drivers_probe")) {
                k->kind = ATTR_PROBE;
                return true;
        }
        if (startswith(rel, "sys/bus/pci/drivers/")) {
                s = rel + strlen("sys/bus/pci/drivers/");
                slash = strchr(s, '/');
                if (!slash || strchr(slash + 1, '/'))
                        return false;
                for (size_t i = 0; i < sizeof(driver_attrs) / sizeof(driver_attrs[0]); i++)
                        if (streq(slash + 1, driver_attrs[i].file)) {
                                k->kind = driver_attrs[i].kind;
                                return set_name(k, s, (size_t)(slash - s));
                        }
                return false;
        }
        /* ADDR/driver_override, by sys/bus/pci/devices or by sys/devices. */
        last = strrchr(rel, '/');
        if (!startswith(rel, "sys/") || !last || !streq(last + 1, "driver_override"))
                return false;
        for (start = last; start > rel && start[-1] != '/'; start--)
                ;
        k->kind = ATTR_OVERRIDE;
        return set_name(k, start, (size_t)(last - start));
}

static void untrack(int fd)
{
        pthread_mutex_lock(&table_lock);
        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
                if (table[i].used && table[i].fd == fd)
                        table[i].used = false;
        pthread_mutex_unlock(&table_lock);
}

/* The kernel shows driver_override under the device's lock: a read waits for it as a store does. */
static void read_wait_lock(int dirfd, const char *path)
{
        char full[PATH_MAX];
        const char *rel;
        kattr k = {};

        if (absolute_path(dirfd, path, full) && split_fake(full, k.root, &rel) && classify(rel, &k) &&
            k.kind == ATTR_OVERRIDE && device_locked(k.root, k.name))
                block_forever();
}

static void track(int fd, int dirfd, const char *path, int flags)
{
        char full[PATH_MAX];
        const char *rel;
        kattr k = {.used = true, .fd = fd};
        struct stat st;
        size_t i;

        if (fd < 0)
                return;
        /* The descriptor number may have been tracked under a file closed behind our back (dup2). */
        untrack(fd);
        if (!NEEDS_MODE(flags) && (flags & O_ACCMODE) == O_RDONLY) {
                read_wait_lock(dirfd, path);
                return;
        }
        if (NEEDS_MODE(flags) || !absolute_path(dirfd, path, full) || !split_fake(full, k.root, &rel) ||
            !classify(rel, &k) || fstat(fd, &st) < 0)
                return;
        k.dev = st.st_dev;
        k.ino = st.st_ino;
        pthread_mutex_lock(&table_lock);
        for (i = 0; i < sizeof(table) / sizeof(table[0]) && table[i].used; i++)
                ;
        if (i < sizeof(table) / sizeof(table[0]))
                table[i] = k;
        pthread_mutex_unlock(&table_lock);
        if (i == sizeof(table) / sizeof(table[0])) {
                fprintf(stderr, "fake-kernel: too many kernel attributes open at once\n");
                abort();
        }
}

static bool lookup(int fd, kattr *ret)
{
        struct stat st;
        bool found = false;

        pthread_mutex_lock(&table_lock);
        for (size_t i = 0; !found && i < sizeof(table) / sizeof(table[0]); i++)
                if (table[i].used && table[i].fd == fd) {
                        *ret = table[i];
                        found = true;
                }
        pthread_mutex_unlock(&table_lock);
        if (!found)
                return false;
        if (fstat(fd, &st) < 0 || st.st_dev != ret->dev || st.st_ino != ret->ino) {
                untrack(fd);
                return false;
        }
        return true;
}

/* ---- The wrapped calls ---- */

#define OPEN_WRAPPER(fn, real_fn)                                                                           \
        EXPORT int fn(const char *path, int flags, ...)                                                     \
        {                                                                                                   \
                mode_t mode = 0;                                                                            \
                int fd;                                                                                     \
                if (NEEDS_MODE(flags)) {                                                                    \
                        va_list ap;                                                                         \
                        va_start(ap, flags);                                                                \
                        mode = va_arg(ap, mode_t);                                                          \
                        va_end(ap);                                                                         \
                }                                                                                           \
                ensure_real();                                                                              \
                fd = real.real_fn(path, flags, mode);                                                       \
                track(fd, AT_FDCWD, path, flags);                                                           \
                return fd;                                                                                  \
        }

#define OPENAT_WRAPPER(fn, real_fn)                                                                         \
        EXPORT int fn(int dirfd, const char *path, int flags, ...)                                          \
        {                                                                                                   \
                mode_t mode = 0;                                                                            \
                int fd;                                                                                     \
                if (NEEDS_MODE(flags)) {                                                                    \
                        va_list ap;                                                                         \
                        va_start(ap, flags);                                                                \
                        mode = va_arg(ap, mode_t);                                                          \
                        va_end(ap);                                                                         \
                }                                                                                           \
                ensure_real();                                                                              \
                fd = real.real_fn(dirfd, path, flags, mode);                                                \
                track(fd, dirfd, path, flags);                                                              \
                return fd;                                                                                  \
        }

/* The fortified entry points: no mode, as they are used without O_CREAT. */
#define OPEN2_WRAPPER(fn, real_fn, fallback)                                                                \
        EXPORT int fn(const char *path, int flags)                                                          \
        {                                                                                                   \
                int fd;                                                                                     \
                ensure_real();                                                                              \
                fd = real.real_fn ? real.real_fn(path, flags) : real.fallback(path, flags);                 \
                track(fd, AT_FDCWD, path, flags);                                                           \
                return fd;                                                                                  \
        }

#define OPENAT2_WRAPPER(fn, real_fn, fallback)                                                              \
        EXPORT int fn(int dirfd, const char *path, int flags)                                               \
        {                                                                                                   \
                int fd;                                                                                     \
                ensure_real();                                                                              \
                fd = real.real_fn ? real.real_fn(dirfd, path, flags) : real.fallback(dirfd, path, flags);   \
                track(fd, dirfd, path, flags);                                                              \
                return fd;                                                                                  \
        }

OPEN_WRAPPER(open, open)
OPEN_WRAPPER(open64, open64)
OPENAT_WRAPPER(openat, openat)
OPENAT_WRAPPER(openat64, openat64)
OPEN2_WRAPPER(__open_2, open_2, open)
OPEN2_WRAPPER(__open64_2, open64_2, open64)
OPENAT2_WRAPPER(__openat_2, openat_2, openat)
OPENAT2_WRAPPER(__openat64_2, openat64_2, openat64)

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
        kattr k;
        int r;

        ensure_real();
        if (!lookup(fd, &k))
                return real.write(fd, buf, n);
        r = store(&k, buf, n);
        if (r < 0) {
                errno = -r;
                return -1;
        }
        return (ssize_t)n;
}

EXPORT int close(int fd)
{
        ensure_real();
        untrack(fd);
        return real.close(fd);
}
