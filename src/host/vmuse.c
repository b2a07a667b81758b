/* Whether a VM still uses handed-over devices: who holds their VFIO nodes (the legacy group node, and
 * the per-function cdev that iommufd users open instead), and whether libvirt's pid file names a QEMU. */
#include <errno.h>
#include <limits.h>

#include "holders.h"
#include "pci.h"
#include "shared/fileio.h"
#include "shared/strv.h"
#include "vmuse.h"

#define IOMMU_NODE "/dev/iommu"
#define VFIO_CDEV_DIR "/dev/vfio/devices/"
#define LIBVIRT_QEMU_RUN "/run/libvirt/qemu"
#define DELETED_SUFFIX " (deleted)"

static int add_group_node(const gh_step *s, char ***nodes)
{
        _cleanup_free_ char *node = NULL;

        if (s->group < 0)
                return 0;
        if (asprintf(&node, "/dev/vfio/%d", s->group) < 0)
                return -ENOMEM;
        return strv_extend_unique(nodes, node);
}

static int add_cdev_node(const char *root, const gh_step *s, char ***nodes, gh_error *err)
{
        _cleanup_free_ char *name = NULL, *node = NULL;
        int r;

        r = gh_pci_vfio_cdev(root, s->addr, &name);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return gh_error_set(err, r, "cannot read the VFIO cdev of %s: %s", s->addr, strerror(-r));
        if (asprintf(&node, VFIO_CDEV_DIR "%s", name) < 0)
                return -ENOMEM;
        return strv_extend_unique(nodes, node);
}

static bool any_cdev(char *const *nodes)
{
        for (char *const *n = nodes; n && *n; n++)
                if (startswith(*n, VFIO_CDEV_DIR))
                        return true;
        return false;
}

/* The nodes through which a VM uses the devices; /dev/iommu too when any has a cdev. */
static int vfio_nodes(const char *root, const gh_step *steps, size_t n, char ***ret, gh_error *err)
{
        _cleanup_strv_free_ char **nodes = NULL;
        int r;

        for (size_t i = 0; i < n; i++) {
                if (steps[i].kind != GH_STEP_BIND_VFIO)
                        continue;
                if ((r = add_group_node(&steps[i], &nodes)) < 0 ||
                    (r = add_cdev_node(root, &steps[i], &nodes, err)) < 0)
                        return r;
        }
        if (any_cdev(nodes) && (r = strv_extend(&nodes, IOMMU_NODE)) < 0)
                return r;
        *ret = TAKE_PTR(nodes);
        return 0;
}

static bool has_vfio_bind(const gh_step *steps, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (steps[i].kind == GH_STEP_BIND_VFIO)
                        return true;
        return false;
}

static int use_set(gh_vm_use *u, pid_t pid, const char *comm, const char *what)
{
        u->pid = pid;
        u->comm = strdup(strempty(comm));
        u->what = strdup(what);
        return u->comm && u->what ? 0 : -ENOMEM;
}

/* A holder of /dev/iommu, pid's own first: QEMU opens it next to its cdevs, as every iommufd user does. */
static const gh_holder *iommu_holder(const gh_holder *h, size_t n, pid_t pid)
{
        const gh_holder *any = NULL;

        for (size_t i = 0; i < n; i++) {
                if (!streq(h[i].node, IOMMU_NODE))
                        continue;
                if (h[i].pid == pid)
                        return &h[i];
                if (!any)
                        any = &h[i];
        }
        return any;
}

/* The first holder of a VFIO node; /dev/iommu alone is not one. */
static int use_from_holders(const gh_holder *h, size_t n, gh_vm_use *u)
{
        const gh_holder *io;
        int r;

        for (size_t i = 0; i < n; i++) {
                if (streq(h[i].node, IOMMU_NODE))
                        continue;
                r = use_set(u, h[i].pid, h[i].comm, h[i].node);
                if (r < 0)
                        return r;
                io = startswith(h[i].node, VFIO_CDEV_DIR) ? iommu_holder(h, n, h[i].pid) : NULL;
                if (io) {
                        u->iommu_pid = io->pid;
                        u->iommu_comm = strdup(strempty(io->comm));
                }
                return io && !u->iommu_comm ? -ENOMEM : 1;
        }
        return 0;
}

static int holders_use(const char *root, const gh_step *steps, size_t n, gh_vm_use *u, gh_error *err)
{
        _cleanup_strv_free_ char **nodes = NULL;
        gh_holder *h = NULL;
        size_t n_h = 0;
        int r;

        r = vfio_nodes(root, steps, n, &nodes, err);
        if (r < 0 || !nodes)
                return r;
        r = gh_holders_scan(root, nodes, &h, &n_h);
        if (r < 0)
                return gh_error_set(err, r, "cannot scan /proc for holders of %s: %s", nodes[0],
                                    strerror(-r));
        r = use_from_holders(h, n_h, u);
        gh_holders_free(h, n_h);
        return r;
}

/* "1234", with or without a newline, as libvirt writes it. */
static int parse_pid(const char *s, pid_t *ret)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || end == s || (*end && !streq(end, "\n")) || v <= 0 || v > INT_MAX)
                return -EINVAL;
        *ret = (pid_t)v;
        return 0;
}

static bool is_qemu_name(const char *name)
{
        /* qemu-system-x86_64 (" (deleted)" after an upgrade), or RHEL's qemu-kvm; comm is cut at 15. */
        return startswith(name, "qemu-system") || startswith(name, "qemu-kvm");
}

static int proc_entry(const char *root, pid_t pid, const char *entry, char **ret)
{
        _cleanup_free_ char *proc = path_join(root, "/proc");

        if (!proc || asprintf(ret, "%s/%d/%s", proc, (int)pid, entry) < 0)
                return -ENOMEM;
        return 0;
}

/* 1 with its comm when ROOT/proc/PID is a running QEMU; 0 when it is gone, a zombie, or another program
 * (its exe says; its comm only when the exe link is hidden from us). */
static int pid_is_qemu(const char *root, pid_t pid, char **ret_comm)
{
        _cleanup_free_ char *comm_path = NULL, *exe_path = NULL, *comm = NULL, *exe = NULL;
        int r;

        if ((r = proc_entry(root, pid, "comm", &comm_path)) < 0 ||
            (r = proc_entry(root, pid, "exe", &exe_path)) < 0)
                return r;
        r = read_one_line_file(comm_path, &comm);
        if (r == -ENOENT || r == -ESRCH)
                return 0;
        if (r < 0)
                return r;
        r = readlink_basename(exe_path, &exe);
        /* No exe while its comm is there: a zombie (or a kernel thread), holding nothing any more. */
        if (r == -ENOENT)
                return 0;
        if (r < 0 && r != -EACCES && r != -EPERM)
                return r;
        if (!is_qemu_name(exe ? exe : comm))
                return 0;
        *ret_comm = TAKE_PTR(comm);
        return 1;
}

/* The value of QEMU's "-name": "guest=NAME,debug-threads=on" as libvirt writes it (or a bare "NAME"), a
 * comma inside NAME doubled. NAME into *ret; -ENOENT when the command line has no -name. */
static int cmdline_guest(const char *text, size_t len, char **ret)
{
        const char *end = text + len, *v = NULL;
        FILE *f;
        size_t n = 0;
        char *name = NULL;

        for (const char *a = text; a < end; a += strlen(a) + 1)
                if (streq(a, "-name") && a + strlen(a) + 1 < end) {
                        v = a + strlen(a) + 1;
                        break;
                }
        if (!v)
                return -ENOENT;
        if (startswith(v, "guest="))
                v += strlen("guest=");
        f = open_memstream(&name, &n);
        if (!f)
                return -ENOMEM;
        for (; *v && (*v != ',' || v[1] == ','); v += *v == ',' ? 2 : 1)
                fputc(*v, f);
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = name;
        return 0;
}

/* Whether the QEMU at pid runs another domain than domain, by its -name: a stale pid file may name a pid
 * that another domain's QEMU has now. Unknown (no cmdline, no -name) is not another. */
static bool runs_other_domain(const char *root, pid_t pid, const char *domain)
{
        _cleanup_free_ char *path = NULL, *text = NULL, *guest = NULL;
        size_t len;

        if (proc_entry(root, pid, "cmdline", &path) < 0 || read_full_file(path, 1 << 20, &text, &len) < 0)
                return false;
        if (cmdline_guest(text, len, &guest) < 0)
                return false;
        return !streq(guest, domain);
}

/* libvirt's QEMU driver has QEMU's pid written to /run/libvirt/qemu/DOMAIN.pid when it starts the
 * domain (before QEMU runs, so before it opens any node), and unlinks it when it stops the domain, after
 * QEMU is killed and before the release hook runs. A crashed libvirtd leaves it behind: the pid it names
 * may have exited, or be some other program's by now (another domain's QEMU too), so only a running
 * QEMU of this domain counts. */
static int pid_file_use(const char *root, const char *domain, gh_vm_use *u, gh_error *err)
{
        _cleanup_free_ char *rel = NULL, *path = NULL, *text = NULL, *comm = NULL;
        pid_t pid;
        int r;

        if (asprintf(&rel, LIBVIRT_QEMU_RUN "/%s.pid", domain) < 0 || !(path = path_join(root, rel)))
                return -ENOMEM;
        r = read_regular_file(path, 64, &text, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return gh_error_set(err, r, "cannot read '%s': %s", rel, strerror(-r));
        /* Not a pid: it names no process. */
        if (parse_pid(text, &pid) < 0)
                return 0;
        r = pid_is_qemu(root, pid, &comm);
        if (r < 0)
                return gh_error_set(err, r, "cannot tell what pid %d, named by '%s', is: %s", (int)pid, rel,
                                    strerror(-r));
        if (r == 0 || runs_other_domain(root, pid, domain))
                return 0;
        r = use_set(u, pid, comm, rel);
        u->pid_file = true;
        return r < 0 ? r : 1;
}

int gh_vm_use_find(const char *root, const char *domain, const gh_step *steps, size_t n, gh_vm_use *ret,
                   gh_error *err)
{
        _cleanup_(gh_vm_use_done) gh_vm_use u = {};
        int r;

        /* Without a device on vfio-pci, nothing would be unbound under the VM. */
        if (!has_vfio_bind(steps, n))
                return 0;
        r = holders_use(root, steps, n, &u, err);
        if (r == 0)
                r = pid_file_use(root, domain, &u, err);
        if (r <= 0)
                return r;
        *ret = u;
        u = (gh_vm_use){};
        return 1;
}

void gh_vm_use_done(gh_vm_use *u)
{
        if (!u)
                return;
        free(u->comm);
        free(u->what);
        free(u->iommu_comm);
        *u = (gh_vm_use){};
}
