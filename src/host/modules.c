/* Kernel modules: state and holders read from ROOT/sys/module, unload (never forced) and load through
 * libkmod with the configuration under ROOT. */
#include <dirent.h>
#include <errno.h>
#include <libkmod.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <syslog.h>

#include "child.h"
#include "core/config.h"
#include "core/pci-addr.h"
#include "modules.h"
#include "shared/fileio.h"
#include "shared/strv.h"

#define GH_MODULE_NAME_MAX 64

struct gh_kmod {
        struct kmod_ctx *ctx;
        char *root;
        char last_error[256]; /* libkmod's last complaint, for our error messages */
};

DEFINE_TRIVIAL_CLEANUP_FUNC(struct kmod_ctx *, kmod_unref)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct kmod_module *, kmod_module_unref)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct kmod_list *, kmod_module_unref_list)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct kmod_list *, kmod_module_info_free_list)
DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir)

/* The kernel names modules with '_'; users and modules.builtin may write '-'. */
static int module_name_normalize(const char *name, char buf[static GH_MODULE_NAME_MAX])
{
        size_t n = strlen(name);

        if (n == 0 || n >= GH_MODULE_NAME_MAX || strchr(name, '/') || streq(name, ".") || streq(name, ".."))
                return -EINVAL;
        for (size_t i = 0; i <= n; i++)
                buf[i] = name[i] == '-' ? '_' : name[i];
        return 0;
}

static int module_sysfs_path(const char *root, const char *name, const char *suffix, char **ret)
{
        char norm[GH_MODULE_NAME_MAX];
        _cleanup_free_ char *rel = NULL;
        int r;

        r = module_name_normalize(name, norm);
        if (r < 0)
                return r;
        if (asprintf(&rel, "/sys/module/%s%s", norm, suffix) < 0)
                return -ENOMEM;
        *ret = path_join(root, rel);
        return *ret ? 0 : -ENOMEM;
}

static int modules_dir(const char *root, char **ret)
{
        struct utsname u;
        _cleanup_free_ char *rel = NULL;

        if (uname(&u) < 0)
                return -errno;
        if (asprintf(&rel, "/lib/modules/%s", u.release) < 0)
                return -ENOMEM;
        *ret = path_join(root, rel);
        return *ret ? 0 : -ENOMEM;
}

/* "kernel/drivers/gpu/drm/drm.ko" names module "drm". */
static bool builtin_line_matches(const char *line, const char *norm)
{
        const char *b = strrchr(line, '/');
        size_t n;

        b = b ? b + 1 : line;
        n = strcspn(b, "\n");
        if (n < 3 || strncmp(b + n - 3, ".ko", 3) != 0)
                return false;
        n -= 3;
        if (n != strlen(norm))
                return false;
        for (size_t i = 0; i < n; i++)
                if ((b[i] == '-' ? '_' : b[i]) != norm[i])
                        return false;
        return true;
}

/* Built-in modules without parameters have no sysfs directory; modules.builtin still lists them. */
static bool module_listed_builtin(const char *root, const char *name)
{
        char norm[GH_MODULE_NAME_MAX];
        _cleanup_free_ char *dir = NULL, *path = NULL, *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0;

        if (module_name_normalize(name, norm) < 0 || modules_dir(root, &dir) < 0)
                return false;
        if (asprintf(&path, "%s/modules.builtin", dir) < 0)
                return false;
        f = fopen(path, "re");
        if (!f)
                return false;
        while (getline(&line, &size, f) > 0)
                if (builtin_line_matches(line, norm))
                        return true;
        return false;
}

gh_module_state gh_module_get_state(const char *root, const char *name)
{
        _cleanup_free_ char *dir = NULL, *path = NULL, *initstate = NULL;
        struct stat st;
        int r;

        r = module_sysfs_path(root, name, "", &dir);
        if (r < 0)
                return r;
        if (stat(dir, &st) < 0) {
                if (errno != ENOENT)
                        return -errno;
                return module_listed_builtin(root, name) ? GH_MODULE_BUILTIN : GH_MODULE_ABSENT;
        }
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        /* Only loadable modules have initstate; built-in ones get a directory for their parameters. */
        if (asprintf(&path, "%s/initstate", dir) < 0)
                return -ENOMEM;
        r = read_one_line_file(path, &initstate);
        if (r == -ENOENT)
                return GH_MODULE_BUILTIN;
        /* Unreadable, it still says that the module is in the kernel. */
        if (r < 0)
                return GH_MODULE_LOADED;
        if (streq(initstate, "coming"))
                return GH_MODULE_COMING;
        return streq(initstate, "going") ? GH_MODULE_GOING : GH_MODULE_LOADED;
}

int gh_module_load_needed(const char *root, const char *name, gh_error *err)
{
        gh_module_state state = gh_module_get_state(root, name);

        if (state == GH_MODULE_LOADED || state == GH_MODULE_BUILTIN)
                return 0;
        /* Asked anyway, the kernel refuses the load (-EBUSY), or, in older kernels, answers -EEXIST, which
         * reads as loaded. */
        if (state == GH_MODULE_GOING)
                return gh_error_set(err, -EBUSY,
                                    "module '%s' is being unloaded (its initstate is 'going'): it cannot be loaded before its removal ends",
                                    name);
        return 1;
}

static int strv_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of ROOT/sys/module/NAME/SUBDIR, sorted (an empty strv when it does not exist); ret_dir
 * gets the directory's path. */
static int module_dir_list(const char *root, const char *name, const char *subdir, char **ret_dir,
                           char ***ret)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int r;

        if (!l)
                return -ENOMEM;
        r = module_sysfs_path(root, name, subdir, &path);
        if (r < 0)
                return r;
        d = opendir(path);
        if (!d && errno != ENOENT)
                return -errno;
        while (d && (errno = 0, de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                r = strv_extend(&l, de->d_name);
                if (r < 0)
                        return r;
        }
        if (d && errno != 0)
                return -errno;
        qsort(l, strv_length(l), sizeof(char *), strv_cmp);
        if (ret_dir)
                *ret_dir = TAKE_PTR(path);
        *ret = TAKE_PTR(l);
        return 0;
}

int gh_module_read_holders(const char *root, const char *name, char ***ret)
{
        return module_dir_list(root, name, "/holders", NULL, ret);
}

/* The PCI functions bound to DRIVER (ROOT/sys/bus/pci/drivers/DRIVER/ADDR) onto addrs, and DRIVER onto
 * drivers for each. */
static int pci_driver_devices(const char *root, const char *driver, char ***addrs, char ***drivers)
{
        _cleanup_free_ char *rel = NULL, *path = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int r;

        if (asprintf(&rel, "/sys/bus/pci/drivers/%s", driver) < 0 || !(path = path_join(root, rel)))
                return -ENOMEM;
        d = opendir(path);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((errno = 0, de = readdir(d))) {
                gh_pci_addr a;

                if (gh_pci_addr_parse(de->d_name, &a) < 0)
                        continue;
                if ((r = strv_extend(addrs, GH_PCI_ADDR_STR(&a))) < 0 ||
                    (r = strv_extend(drivers, driver)) < 0)
                        return r;
        }
        return errno != 0 ? -errno : 0;
}

int gh_module_read_pci_devices(const char *root, const char *name, char ***ret_addrs, char ***ret_drivers)
{
        _cleanup_strv_free_ char **entries = NULL, **addrs = calloc(1, sizeof(char *)),
                                 **drivers = calloc(1, sizeof(char *));
        int r;

        if (!addrs || !drivers)
                return -ENOMEM;
        r = module_dir_list(root, name, "/drivers", NULL, &entries);
        if (r < 0)
                return r;
        STRV_FOREACH (e, entries) {
                const char *driver = startswith(*e, "pci:") ? *e + strlen("pci:") : NULL;

                if (driver && gh_driver_name_valid(driver) &&
                    (r = pci_driver_devices(root, driver, &addrs, &drivers)) < 0)
                        return r;
        }
        *ret_addrs = TAKE_PTR(addrs);
        *ret_drivers = TAKE_PTR(drivers);
        return 0;
}

int gh_module_read_srcversion(const char *root, const char *name, char **ret)
{
        _cleanup_free_ char *path = NULL;
        char *v = NULL;
        int r;

        r = module_sysfs_path(root, name, "/srcversion", &path);
        if (r < 0)
                return r;
        r = read_one_line_file(path, &v);
        if (r < 0 && r != -ENOENT)
                return r;
        *ret = v;
        return 0;
}

/* "PARAM=VALUE" onto l; nothing when it cannot be read: some are root's only (0400), and check runs as
 * anyone. */
static int param_add(const char *dir, const char *param, char ***l)
{
        _cleanup_free_ char *path = NULL, *value = NULL, *entry = NULL;

        if (asprintf(&path, "%s/%s", dir, param) < 0)
                return -ENOMEM;
        if (read_one_line_file(path, &value) < 0)
                return 0;
        if (asprintf(&entry, "%s=%s", param, value) < 0)
                return -ENOMEM;
        return strv_push(l, TAKE_PTR(entry));
}

int gh_module_read_params(const char *root, const char *name, char ***ret)
{
        _cleanup_free_ char *dir = NULL;
        _cleanup_strv_free_ char **names = NULL, **l = calloc(1, sizeof(char *));
        int r;

        if (!l)
                return -ENOMEM;
        r = module_dir_list(root, name, "/parameters", &dir, &names);
        if (r < 0)
                return r;
        STRV_FOREACH(p, names)
        if ((r = param_add(dir, *p, &l)) < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

_printf_(6, 0) static void kmod_log(void *data, int priority, const char *file, int line, const char *fn,
                                    const char *format, va_list args)
{
        gh_kmod *k = data;

        /* Kept, never printed: lower layers do not write to stderr. */
        if (priority > LOG_ERR)
                return;
        vsnprintf(k->last_error, sizeof(k->last_error), format, args);
        k->last_error[strcspn(k->last_error, "\n")] = 0;
}

/* Configuration comes from the same root as the modules, so a test root never reads the host's. */
static int kmod_ctx_new(const char *root, struct kmod_ctx **ret)
{
        static const char *const dirs[] = {"/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d",
                                           "/lib/modprobe.d"};
        _cleanup_strv_free_ char **config = calloc(1, sizeof(char *));
        _cleanup_free_ char *dir = NULL;
        struct stat st;
        int r;

        if (!config)
                return -ENOMEM;
        r = modules_dir(root, &dir);
        if (r < 0)
                return r;
        if (stat(dir, &st) < 0)
                return -errno;
        if (!root || !*root || streq(root, "/")) {
                *ret = kmod_new(NULL, NULL);
                return *ret ? 0 : -ENOMEM;
        }
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                char *p = path_join(root, dirs[i]);

                if (!p)
                        return -ENOMEM;
                r = strv_push(&config, p);
                if (r < 0)
                        return r;
        }
        *ret = kmod_new(dir, (const char *const *)config);
        return *ret ? 0 : -ENOMEM;
}

int gh_kmod_new(const char *root, gh_kmod **ret)
{
        _cleanup_(gh_kmod_freep) gh_kmod *k = calloc(1, sizeof(gh_kmod));
        int r;

        if (!k)
                return -ENOMEM;
        k->root = strdup(root && *root ? root : "/");
        if (!k->root)
                return -ENOMEM;
        r = kmod_ctx_new(k->root, &k->ctx);
        if (r < 0)
                return r;
        kmod_set_log_fn(k->ctx, kmod_log, k);
        kmod_set_log_priority(k->ctx, LOG_ERR);
        /* The indexes only speed up look-ups; libkmod opens them per look-up when this fails. */
        (void)kmod_load_resources(k->ctx);
        *ret = TAKE_PTR(k);
        return 0;
}

gh_kmod *gh_kmod_free(gh_kmod *k)
{
        if (!k)
                return NULL;
        kmod_unref(k->ctx);
        free(k->root);
        free(k);
        return NULL;
}

/* libkmod's own words when it said something, else the errno text. */
static const char *kmod_reason(gh_kmod *k, int r)
{
        return k->last_error[0] ? k->last_error : strerror(-r);
}

static int unload_busy_error(gh_kmod *k, const char *name, int r, gh_error *err)
{
        _cleanup_free_ char *path = NULL, *refcnt = NULL, *joined = NULL;
        _cleanup_strv_free_ char **holders = NULL;
        size_t len = 0;
        FILE *f;

        if (module_sysfs_path(k->root, name, "/refcnt", &path) < 0 || read_one_line_file(path, &refcnt) < 0)
                refcnt = NULL;
        (void)gh_module_read_holders(k->root, name, &holders);
        f = open_memstream(&joined, &len);
        if (!f)
                return gh_error_set(err, r, "module '%s' is still in use at the deadline", name);
        for (char **h = holders; h && *h; h++)
                fprintf(f, "%s%s", h == holders ? "" : ",", *h);
        fclose(f);
        return gh_error_set(err, r, "module '%s' is still in use at the deadline: refcount %s, holders: %s",
                            name, refcnt ? refcnt : "unknown", joined && *joined ? joined : "none");
}

/* Each try gets at least this long, even at the deadline: a removal that is only busy says so at once,
 * and one cut short would be taken for a hung exit function. */
#define REMOVE_TRY_MIN (250 * USEC_PER_MSEC)

/* In the child: one removal. flags 0: never KMOD_REMOVE_FORCE, and libkmod always adds O_NONBLOCK. */
static int remove_child(void *userdata)
{
        return kmod_module_remove_module(userdata, 0);
}

/* Tries the removal until the deadline: the count drops as users exit or close the device. Each try runs
 * in a child: O_NONBLOCK keeps the kernel from waiting for users, but not a module's exit function from
 * hanging. */
static int unload_retry(gh_kmod *k, struct kmod_module *mod, const char *name, usec_t deadline,
                        gh_error *err)
{
        int r;

        for (;;) {
                usec_t floor = deadline_after(REMOVE_TRY_MIN);

                k->last_error[0] = 0;
                r = gh_child_run(remove_child, mod, deadline > floor ? deadline : floor);
                if (r == 0 || r == -ENOENT)
                        return 0;
                if (r == -ETIMEDOUT)
                        return gh_error_set(err, r,
                                            "unloading module '%s' did not finish in time (its exit function "
                                            "hangs); it is left to finish in the kernel",
                                            name);
                if (r != -EAGAIN && r != -EBUSY)
                        return gh_error_set(err, r, "cannot unload module '%s': %s", name,
                                            kmod_reason(k, r));
                if (gh_module_get_state(k->root, name) == GH_MODULE_ABSENT)
                        return 0;
                if (!deadline_sleep(deadline, 100 * USEC_PER_MSEC))
                        return unload_busy_error(k, name, -EBUSY, err);
        }
}

int gh_kmod_unload(gh_kmod *k, const char *name, usec_t deadline, gh_error *err)
{
        _cleanup_(kmod_module_unrefp) struct kmod_module *mod = NULL;
        gh_module_state state;
        int r;

        state = gh_module_get_state(k->root, name);
        if ((int)state < 0)
                return gh_error_set(err, (int)state, "cannot read the state of module '%s': %s", name,
                                    strerror(-(int)state));
        if (state == GH_MODULE_ABSENT)
                return 0;
        if (state == GH_MODULE_BUILTIN)
                return gh_error_set(err, -EOPNOTSUPP,
                                    "module '%s' is built into the kernel and cannot be unloaded", name);
        k->last_error[0] = 0;
        r = kmod_module_new_from_name(k->ctx, name, &mod);
        if (r < 0)
                return gh_error_set(err, r, "cannot look up module '%s': %s", name, kmod_reason(k, r));
        return unload_retry(k, mod, name, deadline, err);
}

static int modinfo_srcversion(struct kmod_module *mod, char **ret)
{
        _cleanup_(kmod_module_info_free_listp) struct kmod_list *info = NULL;
        struct kmod_list *i;
        int r = kmod_module_get_info(mod, &info);

        if (r < 0)
                return r;
        *ret = NULL;
        kmod_list_foreach(i, info)
        {
                if (!streq(kmod_module_info_get_key(i), "srcversion"))
                        continue;
                *ret = strdup(kmod_module_info_get_value(i));
                return *ret ? 0 : -ENOMEM;
        }
        return 0;
}

int gh_kmod_module_file(gh_kmod *k, const char *name, char **ret_path, char **ret_srcversion)
{
        _cleanup_(kmod_module_unrefp) struct kmod_module *mod = NULL;
        _cleanup_free_ char *path = NULL, *srcversion = NULL;
        const char *p;
        int r;

        k->last_error[0] = 0;
        r = kmod_module_new_from_name(k->ctx, name, &mod);
        if (r < 0)
                return r;
        p = kmod_module_get_path(mod);
        if (p && access(p, F_OK) == 0) {
                path = strdup(p);
                if (!path)
                        return -ENOMEM;
                r = modinfo_srcversion(mod, &srcversion);
                if (r < 0)
                        return r;
        }
        *ret_path = TAKE_PTR(path);
        *ret_srcversion = TAKE_PTR(srcversion);
        return 0;
}

static int lookup(gh_kmod *k, const char *what, struct kmod_list **ret, gh_error *err)
{
        int r;

        k->last_error[0] = 0;
        r = kmod_module_new_from_lookup(k->ctx, what, ret);
        if (r < 0)
                return gh_error_set(err, r, "cannot look up module '%s': %s", what, kmod_reason(k, r));
        return 0;
}

/* Positive results say the blacklist stopped it; -EEXIST that someone else loaded it first. */
static int probe(gh_kmod *k, struct kmod_module *mod, unsigned flags, gh_error *err)
{
        int r;

        k->last_error[0] = 0;
        /* NULL extra options: the ones configured in modprobe.d apply, as with modprobe. */
        r = kmod_module_probe_insert_module(mod, flags, NULL, NULL, NULL, NULL);
        if (r == -EEXIST)
                return 0;
        if (r < 0)
                return gh_error_set(err, r, "cannot load module '%s': %s", kmod_module_get_name(mod),
                                    kmod_reason(k, r));
        return r;
}

static int load_name(gh_kmod *k, const char *name, gh_error *err)
{
        _cleanup_(kmod_module_unref_listp) struct kmod_list *list = NULL;
        struct kmod_list *i;
        int r;

        r = gh_module_load_needed(k->root, name, err);
        if (r <= 0)
                return r;
        r = lookup(k, name, &list, err);
        if (r < 0)
                return r;
        if (!list)
                return gh_error_set(err, -ENOENT, "module '%s' not found for this kernel", name);
        /* No blacklist: it is there to stop autoloading, not a module we unloaded and now put back. */
        for (i = list; i; i = kmod_list_next(list, i)) {
                _cleanup_(kmod_module_unrefp) struct kmod_module *mod = kmod_module_get_module(i);

                r = probe(k, mod, 0, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int load_modalias(gh_kmod *k, const char *modalias, gh_error *err)
{
        _cleanup_(kmod_module_unref_listp) struct kmod_list *list = NULL;
        struct kmod_list *i;
        unsigned loaded = 0;
        int r;

        r = lookup(k, modalias, &list, err);
        if (r < 0)
                return r;
        for (i = list; i; i = kmod_list_next(list, i)) {
                _cleanup_(kmod_module_unrefp) struct kmod_module *mod = kmod_module_get_module(i);

                r = probe(k, mod, KMOD_PROBE_APPLY_BLACKLIST, err);
                if (r < 0)
                        return r;
                if (r == 0)
                        loaded++;
        }
        if (loaded == 0)
                return gh_error_set(err, -ENOENT, "no module that is not blacklisted matches modalias '%s'",
                                    modalias);
        return 0;
}

typedef struct load_job {
        gh_kmod *k;
        const char *what;
        int (*load)(gh_kmod *k, const char *what, gh_error *err);
} load_job;

/* In the child: the load, then its result and message to stdout as "RESULT MESSAGE", in one write. */
static int load_child(void *userdata)
{
        const load_job *j = userdata;
        gh_error e = {};
        char buf[sizeof(e.msg) + 16];
        int r = j->load(j->k, j->what, &e);
        int n = snprintf(buf, sizeof(buf), "%d %s", r, e.msg);

        return write(STDOUT_FILENO, buf, (size_t)n) == n ? 0 : -EIO;
}

/* A module's init, or an install command of modprobe.d, may never return: the load runs in a child, and
 * past the deadline it is left to finish in the kernel on its own. */
static int load_in_child(gh_kmod *k, const char *what, int (*load)(gh_kmod *, const char *, gh_error *),
                         usec_t deadline, gh_error *err)
{
        _cleanup_free_ char *out = NULL;
        char *msg;
        int r;

        r = gh_child_read(load_child, &(load_job){.k = k, .what = what, .load = load}, deadline, 8192, &out);
        if (r == -ETIMEDOUT)
                return gh_error_set(err, r,
                                    "loading '%s' did not finish in time (a module's init or an install command "
                                    "hangs); it is left to finish in the kernel",
                                    what);
        if (r < 0)
                return gh_error_set(err, r, "cannot load '%s': %s", what, strerror(-r));
        r = (int)strtol(out, &msg, 10);
        if (msg == out || r > 0)
                return gh_error_set(err, -EIO, "cannot load '%s': no result from the loader", what);
        if (r < 0)
                return gh_error_set(err, r, "%s", *msg == ' ' && msg[1] ? msg + 1 : strerror(-r));
        return 0;
}

int gh_kmod_load(gh_kmod *k, const char *name, usec_t deadline, gh_error *err)
{
        int r = gh_module_load_needed(k->root, name, err);

        /* Nothing to wait for needs no child. */
        if (r <= 0)
                return r;
        return load_in_child(k, name, load_name, deadline, err);
}

int gh_kmod_load_modalias(gh_kmod *k, const char *modalias, usec_t deadline, gh_error *err)
{
        return load_in_child(k, modalias, load_modalias, deadline, err);
}
