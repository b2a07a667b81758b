/* Who a process is, from its cgroup path and executable: the holder scan refuses by it, and the planner
 * and `check` say ahead what the hand-over will refuse. Cgroup paths are walked in place, unallocated,
 * so that the decision itself cannot fail. */
#include <stdlib.h>
#include <string.h>

#include "identity.h"

#define DELETED_SUFFIX " (deleted)"

static const char *const guard_names[_GH_GUARD_MAX] = {
        [GH_GUARD_NONE] = "none", [GH_GUARD_INIT] = "init",       [GH_GUARD_SELF] = "self",
        [GH_GUARD_VM] = "vm",     [GH_GUARD_LIBVIRT] = "libvirt", [GH_GUARD_SYSTEMD] = "systemd",
};

static const char *const libvirt_daemons[] = {
        "libvirtd",      "virtqemud",    "virtlogd",     "virtlockd",   "virtproxyd",
        "virtnodedevd",  "virtnetworkd", "virtstoraged", "virtsecretd", "virtinterfaced",
        "virtnwfilterd", "virtchd",      "virtlxcd",     "virtxend",
};

/* Root's directories: a daemon's copy anywhere else is anyone's program. */
static const char *const system_bin_dirs[] = {
        "/usr/sbin/", "/usr/bin/", "/sbin/", "/bin/", "/usr/libexec/", "/usr/local/sbin/",
};
static const char *const systemd_dirs[] = {"/usr/lib/systemd/", "/lib/systemd/"};

typedef struct comp {
        const char *s;
        size_t n;
} comp;

/* The next non-empty component of the path at *p, advancing *p; false at its end. */
static bool comp_next(const char **p, comp *ret)
{
        const char *s = *p + strspn(*p, "/");
        size_t n = strcspn(s, "/");

        if (n == 0)
                return false;
        *ret = (comp){s, n};
        *p = s + n;
        return true;
}

static bool comp_is(comp c, const char *w)
{
        return c.n == strlen(w) && memcmp(c.s, w, c.n) == 0;
}

static bool comp_starts(comp c, const char *w)
{
        size_t k = strlen(w);

        return c.n >= k && memcmp(c.s, w, k) == 0;
}

static bool comp_ends(comp c, const char *w)
{
        size_t k = strlen(w);

        return c.n >= k && memcmp(c.s + c.n - k, w, k) == 0;
}

/* Processes live in services and scopes; anything else (a container's own tree) is no unit. */
static bool comp_is_unit(comp c)
{
        return comp_ends(c, ".service") || comp_ends(c, ".scope");
}

static bool comp_is_user_manager(comp c)
{
        return comp_starts(c, "user@") && comp_ends(c, ".service");
}

/* The first component from *p on that is not a slice, when it is a unit: where sd-login finds one. */
static bool unit_next(const char **p, comp *ret)
{
        comp c;

        while (comp_next(p, &c))
                if (!comp_ends(c, ".slice")) {
                        if (!comp_is_unit(c))
                                return false;
                        *ret = c;
                        return true;
                }
        return false;
}

static bool system_unit(const char *cgroup, comp *ret)
{
        const char *p = cgroup;

        return cgroup && unit_next(&p, ret);
}

/* Below user@UID.service the user creates cgroups as they like: its names prove nothing, but its own
 * init.scope, where the user manager runs. */
static bool user_unit(const char *cgroup, comp *ret)
{
        const char *p = cgroup;
        comp u;

        return cgroup && unit_next(&p, &u) && comp_is_user_manager(u) && unit_next(&p, ret);
}

static bool user_manager_scope(const char *cgroup)
{
        const char *p = cgroup;
        comp u, c;

        return cgroup && unit_next(&p, &u) && comp_is_user_manager(u) && comp_next(&p, &c) &&
               comp_is(c, "init.scope");
}

static bool first_comp_is(const char *cgroup, const char *w)
{
        const char *p = cgroup;
        comp c;

        return cgroup && comp_next(&p, &c) && comp_is(c, w);
}

static int comp_dup(comp c, char **ret)
{
        char *s = strndup(c.s, c.n);

        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int gh_cgroup_unit(const char *cgroup, char **ret)
{
        comp c;

        return system_unit(cgroup, &c) ? comp_dup(c, ret) : -ENXIO;
}

int gh_cgroup_user_unit(const char *cgroup, char **ret)
{
        comp c;

        return user_unit(cgroup, &c) ? comp_dup(c, ret) : -ENXIO;
}

int gh_cgroup_user_manager_uid(const char *cgroup, uint32_t *ret)
{
        const char *p = cgroup;
        char digits[16];
        unsigned long v;
        char *end;
        comp u;

        if (!cgroup || !unit_next(&p, &u) || !comp_is_user_manager(u))
                return -ENXIO;
        /* "user@" DIGITS ".service" */
        if (u.n - strlen("user@.service") == 0 || u.n - strlen("user@.service") >= sizeof(digits))
                return -ENXIO;
        memcpy(digits, u.s + strlen("user@"), u.n - strlen("user@.service"));
        digits[u.n - strlen("user@.service")] = 0;
        if (digits[0] < '0' || digits[0] > '9')
                return -ENXIO;
        errno = 0;
        v = strtoul(digits, &end, 10);
        if (errno || *end || v > 0xfffffffeul)
                return -ENXIO;
        *ret = (uint32_t)v;
        return 0;
}

/* Only root creates cgroups at the top: machine.slice is machined's and libvirt's, /machine is libvirt's
 * own partition on hosts without systemd. */
bool gh_cgroup_is_machine(const char *cgroup)
{
        comp u;

        if (first_comp_is(cgroup, "machine.slice") || first_comp_is(cgroup, "machine"))
                return true;
        return system_unit(cgroup, &u) && comp_starts(u, "machine-") && comp_ends(u, ".scope");
}

static int hex_digit(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* systemd's unit name escaping: \x2d is '-'. */
static int unescape(const char *s, size_t n, char **ret)
{
        char *out = malloc(n + 1), *o = out;

        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                bool esc = i + 3 < n && s[i] == '\\' && s[i + 1] == 'x';
                int hi = esc ? hex_digit(s[i + 2]) : -1, lo = esc ? hex_digit(s[i + 3]) : -1;

                if (hi >= 0 && lo >= 0) {
                        *o++ = (char)(hi * 16 + lo);
                        i += 3;
                } else
                        *o++ = s[i];
        }
        *o = 0;
        *ret = out;
        return 0;
}

/* libvirt names a machine DRIVER-ID-NAME (qemu-3-win10), older ones DRIVER-NAME. */
static const char *machine_strip_driver(const char *s)
{
        const char *p;

        if (startswith(s, "qemu-"))
                p = s + strlen("qemu-");
        else if (startswith(s, "lxc-"))
                p = s + strlen("lxc-");
        else
                return s;
        if (*p >= '0' && *p <= '9' && p[strspn(p, "0123456789")] == '-')
                p += strspn(p, "0123456789") + 1;
        return *p ? p : s;
}

/* machine-ESCAPED.scope with systemd, ESCAPED.libvirt-qemu without. */
static bool machine_comp(const char *cgroup, comp *ret)
{
        const char *p = cgroup;
        comp c;

        while (comp_next(&p, &c)) {
                if (comp_starts(c, "machine-") && comp_ends(c, ".scope")) {
                        *ret = (comp){c.s + strlen("machine-"), c.n - strlen("machine-") - strlen(".scope")};
                        return true;
                }
                if (comp_ends(c, ".libvirt-qemu") || comp_ends(c, ".libvirt-lxc")) {
                        *ret = (comp){c.s, c.n - strlen(comp_ends(c, ".libvirt-qemu") ? ".libvirt-qemu"
                                                                                      : ".libvirt-lxc")};
                        return true;
                }
        }
        return false;
}

int gh_cgroup_machine_name(const char *cgroup, char **ret)
{
        _cleanup_free_ char *raw = NULL;
        char *name;
        comp c;
        int r;

        if (!gh_cgroup_is_machine(cgroup) || !machine_comp(cgroup, &c) || c.n == 0)
                return -ENXIO;
        r = unescape(c.s, c.n, &raw);
        if (r < 0)
                return r;
        name = strdup(machine_strip_driver(raw));
        if (!name)
                return -ENOMEM;
        *ret = name;
        return 0;
}

/* exe split into its directory (with the '/') and its name, a " (deleted)" suffix dropped: a daemon
 * upgraded while it runs is still that daemon. */
static bool exe_split(const char *exe, comp *ret_dir, comp *ret_name)
{
        const char *slash = exe ? strrchr(exe, '/') : NULL;
        size_t n;

        if (!slash || exe[0] != '/')
                return false;
        n = strlen(slash + 1);
        if (endswith(exe, DELETED_SUFFIX))
                n -= strlen(DELETED_SUFFIX);
        *ret_dir = (comp){exe, (size_t)(slash - exe) + 1};
        *ret_name = (comp){slash + 1, n};
        return n > 0;
}

static bool comp_in(comp c, const char *const *list, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (comp_is(c, list[i]))
                        return true;
        return false;
}

static bool exe_is_libvirt(const char *exe)
{
        comp dir, name;

        return exe_split(exe, &dir, &name) && comp_in(dir, system_bin_dirs, ELEMENTSOF(system_bin_dirs)) &&
               comp_in(name, libvirt_daemons, ELEMENTSOF(libvirt_daemons));
}

static bool exe_is_systemd(const char *exe)
{
        comp dir, name;

        return exe_split(exe, &dir, &name) && comp_in(dir, systemd_dirs, ELEMENTSOF(systemd_dirs)) &&
               (comp_is(name, "systemd") || comp_starts(name, "systemd-"));
}

/* System units are root's to name; a user's units and session scopes are not asked. */
static bool unit_is_libvirt(const char *cgroup)
{
        comp u;

        if (!system_unit(cgroup, &u) || !comp_ends(u, ".service"))
                return false;
        u.n -= strlen(".service");
        return comp_in(u, libvirt_daemons, ELEMENTSOF(libvirt_daemons));
}

/* PID 1's init.scope, systemd-*.service in system.slice, and a user manager (checked by exe too: the
 * user may move processes of their own into it). */
static bool unit_is_systemd(const gh_holder *h)
{
        comp u;

        if (user_manager_scope(h->cgroup))
                return !h->exe || exe_is_systemd(h->exe);
        if (!system_unit(h->cgroup, &u))
                return false;
        if (comp_is(u, "init.scope"))
                return true;
        return first_comp_is(h->cgroup, "system.slice") && comp_starts(u, "systemd-") &&
               comp_ends(u, ".service");
}

gh_guard gh_holder_guard(const gh_holder *h, pid_t self, pid_t parent)
{
        if (h->pid <= 1)
                return GH_GUARD_INIT;
        if (h->pid == self || h->pid == parent)
                return GH_GUARD_SELF;
        if (gh_cgroup_is_machine(h->cgroup))
                return GH_GUARD_VM;
        if (unit_is_libvirt(h->cgroup) || exe_is_libvirt(h->exe))
                return GH_GUARD_LIBVIRT;
        if (unit_is_systemd(h) || exe_is_systemd(h->exe))
                return GH_GUARD_SYSTEMD;
        return GH_GUARD_NONE;
}

static const char *guard_what(const gh_holder *h, gh_guard g)
{
        switch (g) {
        case GH_GUARD_INIT:
                return h->pid == 1 ? "pid 1" : "not a single process";
        case GH_GUARD_SELF:
                return "gpu-handover itself or its parent";
        case GH_GUARD_VM:
                return "another VM or container";
        case GH_GUARD_LIBVIRT:
                return "libvirt's daemon";
        case GH_GUARD_SYSTEMD:
                return "systemd";
        default:
                return "not protected";
        }
}

/* ", unit U", ", unit user@1000.service/init.scope", or ", exe E" when the cgroup names no unit. */
static int guard_where(const gh_holder *h, char **ret)
{
        _cleanup_free_ char *unit = NULL, *uunit = NULL;
        int r;

        if (((r = gh_cgroup_unit(h->cgroup, &unit)) < 0 && r != -ENXIO) ||
            ((r = gh_cgroup_user_unit(h->cgroup, &uunit)) < 0 && r != -ENXIO))
                return r;
        if (unit)
                r = asprintf(ret, ", unit %s%s%s", unit, uunit ? "/" : "", strempty(uunit));
        else
                r = asprintf(ret, "%s%s", h->exe ? ", exe " : "", strempty(h->exe));
        return r < 0 ? -ENOMEM : 0;
}

int gh_holder_guard_describe(const gh_holder *h, gh_guard g, char **ret)
{
        _cleanup_free_ char *where = NULL, *vm = NULL;
        int r;

        if (g == GH_GUARD_NONE) {
                *ret = NULL;
                return 0;
        }
        if (g == GH_GUARD_VM && (r = gh_cgroup_machine_name(h->cgroup, &vm)) < 0 && r != -ENXIO)
                return r;
        if ((r = guard_where(h, &where)) < 0)
                return r;
        if (vm)
                r = asprintf(ret, "VM '%s'%s", vm, where);
        else
                r = asprintf(ret, "%s%s", guard_what(h, g), where);
        return r < 0 ? -ENOMEM : 0;
}

const char *gh_guard_to_string(gh_guard g)
{
        return g >= 0 && g < _GH_GUARD_MAX ? guard_names[g] : NULL;
}
