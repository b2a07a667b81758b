/* Gathers what `check` judges about the host itself: CPU flags and IOMMU from ROOT/proc and ROOT/sys, the
 * vfio modules through sysfs and libkmod, libvirt's hook entries, and when libvirt's daemons started. */
#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <errno.h>
#include <libkmod.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "hostcheck.h"
#include "modules.h"
#include "shared/fileio.h"
#include "shared/strv.h"

#define STAT_MAX 4096
#define STARTTIME_FIELD 20 /* /proc/PID/stat field 22, counted from the first one after ")" */

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct kmod_ctx *, kmod_unref)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct kmod_list *, kmod_module_unref_list)

static char *root_path(const char *root, const char *path)
{
        return path_join(root, path);
}

/* Whether the first "flags" line names vmx or svm; -errno when cpuinfo cannot be read. */
static int read_cpu_flag(const char *root, char **ret)
{
        _cleanup_free_ char *path = root_path(root, "/proc/cpuinfo"), *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0;

        if (!path)
                return -ENOMEM;
        f = fopen(path, "re");
        if (!f)
                return -errno;
        *ret = NULL;
        while (getline(&line, &size, f) > 0) {
                char *save = NULL;

                if (!startswith(line, "flags"))
                        continue;
                for (char *w = strtok_r(line, " \t\n:", &save); w; w = strtok_r(NULL, " \t\n", &save))
                        if (streq(w, "vmx") || streq(w, "svm"))
                                return (*ret = strdup(w)) ? 0 : -ENOMEM;
                return 0;
        }
        return 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in ROOT/dir not starting with '.', sorted; all of them, or only the numeric ones. */
static int list_dir(const char *root, const char *dir, bool numeric, char ***ret)
{
        _cleanup_free_ char *path = root_path(root, dir);
        _cleanup_(closedirp) DIR *d = NULL;
        _cleanup_strv_free_ char **l = NULL;
        struct dirent *de;
        int r;

        if (!path)
                return -ENOMEM;
        d = opendir(path);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.' ||
                    (numeric && strspn(de->d_name, "0123456789") != strlen(de->d_name)))
                        continue;
                if ((r = strv_extend(&l, de->d_name)) < 0)
                        return r;
        }
        if (l)
                qsort(l, strv_length(l), sizeof(char *), cmp_str);
        *ret = TAKE_PTR(l);
        return 0;
}

static int gather_iommu(const char *root, gh_host_check *h)
{
        _cleanup_strv_free_ char **groups = NULL;
        int r;

        r = list_dir(root, "/sys/class/iommu", false, &h->iommu_units);
        if (r == -ENOMEM)
                return r;
        r = list_dir(root, "/sys/kernel/iommu_groups", true, &groups);
        if (r == -ENOMEM)
                return r;
        h->n_iommu_groups = (unsigned)strv_length(groups);
        return 0;
}

static void kmod_quiet(void *data, int priority, const char *file, int line, const char *fn,
                       const char *format, va_list args)
{
}

static int modules_dir(char **ret)
{
        struct utsname u;

        if (uname(&u) < 0)
                return -errno;
        return asprintf(ret, "/lib/modules/%s", u.release) < 0 ? -ENOMEM : 0;
}

/* libkmod's look-up resolves the name through this kernel's indexes; the module's file must exist too.
 * No modprobe.d configuration is read: it cannot make a missing file appear. */
static bool module_loadable(const char *root, const char *name)
{
        static const char *const no_config[] = {NULL};
        _cleanup_free_ char *rel = NULL, *dir = NULL;
        _cleanup_(kmod_unrefp) struct kmod_ctx *ctx = NULL;
        _cleanup_(kmod_module_unref_listp) struct kmod_list *list = NULL;
        struct kmod_list *it;
        bool found = false;

        if (modules_dir(&rel) < 0 || !(dir = root_path(root, rel)))
                return false;
        ctx = kmod_new(dir, no_config);
        if (!ctx)
                return false;
        kmod_set_log_fn(ctx, kmod_quiet, NULL);
        if (kmod_module_new_from_lookup(ctx, name, &list) < 0)
                return false;
        kmod_list_foreach(it, list)
        {
                struct kmod_module *m = kmod_module_get_module(it);
                const char *path = kmod_module_get_path(m);

                found = found || (path && access(path, F_OK) == 0);
                kmod_module_unref(m);
        }
        return found;
}

gh_module_avail gh_hostcheck_module(const char *root, const char *name)
{
        switch (gh_module_get_state(root, name)) {
        case GH_MODULE_LOADED:
        case GH_MODULE_COMING: /* its init runs now */
                return GH_MODULE_AVAIL_LOADED;
        case GH_MODULE_BUILTIN:
                return GH_MODULE_AVAIL_BUILTIN;
        default:
                return module_loadable(root, name) ? GH_MODULE_AVAIL_LOADABLE : GH_MODULE_AVAIL_MISSING;
        }
}

static usec_t timespec_usec(const struct timespec *ts)
{
        return (usec_t)ts->tv_sec * USEC_PER_SEC + (usec_t)ts->tv_nsec / 1000;
}

/* A relative link target is relative to the link's directory, inside the root like everything else. */
static int target_ok(const char *root, const char *entry_full, const char *target, bool *ret)
{
        _cleanup_free_ char *path = NULL, *dir = strdup(entry_full);
        struct stat st;

        if (!dir)
                return -ENOMEM;
        *strrchr(dir, '/') = 0;
        path = target[0] == '/' ? root_path(root, target) : path_join(dir, target);
        if (!path)
                return -ENOMEM;
        *ret = stat(path, &st) >= 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
        return 0;
}

static int read_entry(const char *root, const char *rel, gh_hook_entry *e)
{
        _cleanup_free_ char *full = root_path(root, rel);
        char target[PATH_MAX];
        struct stat st;
        ssize_t n;

        if (!full || !(e->path = strdup(rel)))
                return -ENOMEM;
        if (lstat(full, &st) < 0)
                return 0;
        e->present = true;
        e->mtime = timespec_usec(&st.st_mtim);
        if (!S_ISLNK(st.st_mode))
                return 0;
        n = readlink(full, target, sizeof(target) - 1);
        if (n < 0)
                return 0;
        target[n] = 0;
        if (!(e->target = strdup(target)))
                return -ENOMEM;
        return target_ok(root, full, target, &e->target_ok);
}

static int read_btime(const char *root, usec_t *ret)
{
        _cleanup_free_ char *path = root_path(root, "/proc/stat"), *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0;
        unsigned long long b;

        if (!path)
                return -ENOMEM;
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (getline(&line, &size, f) > 0)
                if (sscanf(line, "btime %llu", &b) == 1) {
                        *ret = (usec_t)b * USEC_PER_SEC;
                        return 0;
                }
        return -ENODATA;
}

/* comm and starttime (clock ticks since boot) of ROOT/proc/PID/stat; comm may hold spaces and ')'. */
static int read_pid_stat(const char *root, const char *pid, char **ret_comm, unsigned long long *ret_start)
{
        _cleanup_free_ char *rel = NULL, *path = NULL, *buf = NULL;
        char *open_paren, *close_paren, *save = NULL, *w = NULL;

        if (asprintf(&rel, "/proc/%s/stat", pid) < 0 || !(path = root_path(root, rel)))
                return -ENOMEM;
        if (read_full_file(path, STAT_MAX, &buf, NULL) < 0)
                return -ENOENT; /* gone meanwhile, or not a process */
        open_paren = strchr(buf, '(');
        close_paren = strrchr(buf, ')');
        if (!open_paren || !close_paren || close_paren < open_paren)
                return -EBADMSG;
        *close_paren = 0;
        w = strtok_r(close_paren + 1, " \n", &save);
        for (unsigned i = 1; w && i < STARTTIME_FIELD; i++)
                w = strtok_r(NULL, " \n", &save);
        if (!w || sscanf(w, "%llu", ret_start) != 1)
                return -EBADMSG;
        *ret_comm = strdup(open_paren + 1);
        return *ret_comm ? 0 : -ENOMEM;
}

static int add_daemon(gh_host_check *h, char *comm, pid_t pid, usec_t start)
{
        gh_daemon *d = realloc(h->daemons, sizeof(gh_daemon) * (h->n_daemons + 1));

        if (!d) {
                free(comm);
                return -ENOMEM;
        }
        h->daemons = d;
        h->daemons[h->n_daemons++] = (gh_daemon){.name = comm, .pid = pid, .start = start};
        return 0;
}

/* libvirtd (monolithic) or virtqemud (modular): whichever runs QEMU's domains, and their hooks. */
static int gather_daemons(const char *root, gh_host_check *h)
{
        _cleanup_strv_free_ char **pids = NULL;
        long tick = sysconf(_SC_CLK_TCK);
        usec_t btime = 0;
        int r;

        r = read_btime(root, &btime);
        if (r >= 0)
                r = list_dir(root, "/proc", true, &pids);
        if (r < 0) {
                h->proc_error = r;
                return r == -ENOMEM ? r : 0;
        }
        STRV_FOREACH(pid, pids)
        {
                char *comm = NULL;
                unsigned long long start;

                r = read_pid_stat(root, *pid, &comm, &start);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        continue;
                if (!streq(comm, "libvirtd") && !streq(comm, "virtqemud")) {
                        free(comm);
                        continue;
                }
                r = add_daemon(h, comm, (pid_t)atol(*pid), btime + start * USEC_PER_SEC / (usec_t)tick);
                if (r < 0)
                        return r;
        }
        return 0;
}

int gh_hostcheck_gather(const char *root, gh_host_check *ret)
{
        _cleanup_(gh_host_check_done) gh_host_check h = {};
        int r;

        h.cpuinfo_error = read_cpu_flag(root, &h.cpu_flag);
        if (h.cpuinfo_error == -ENOMEM)
                return -ENOMEM;
        if ((r = modules_dir(&h.modules_dir)) == -ENOMEM)
                return r;
        h.vfio = gh_hostcheck_module(root, "vfio");
        h.vfio_pci = gh_hostcheck_module(root, "vfio-pci");
        if ((r = gather_iommu(root, &h)) < 0 || (r = read_entry(root, GH_HOOK_ENTRY, &h.hook)) < 0 ||
            (r = read_entry(root, GH_HOOK_DROPIN, &h.dropin)) < 0 || (r = gather_daemons(root, &h)) < 0)
                return r;
        *ret = h;
        h = (gh_host_check){};
        return 0;
}
