/* `check` for one domain: its config, its XML, each hostdev (present, allowed, IOMMU group), what taking
 * its GPU leaves the host, and the planner's verdict with the units and modules it would stop. */
#include <inttypes.h>
#include <stdarg.h>

#include "check.h"
#include "identity.h"
#include "shared/strv.h"

#define VFIO_DRIVER "vfio-pci"

static int addf(gh_checks *c, gh_check_level level, const char *title, const char *hint, const char *fmt,
                ...) _printf_(5, 6);
static int addf(gh_checks *c, gh_check_level level, const char *title, const char *hint, const char *fmt,
                ...)
{
        _cleanup_free_ char *detail = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&detail, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        return gh_checks_add(c, level, title, detail, hint);
}

static const char *err_msg(int r, const gh_error *err)
{
        return gh_error_isset(err) ? err->msg : strerror(-r);
}

int gh_check_config(gh_checks *c, const char *domain, const char *path, int r, const gh_error *err)
{
        _cleanup_free_ char *hint = NULL;

        if (r >= 0)
                return addf(c, GH_CHECK_PASS, "config", NULL,
                            "'%s' loads: root's, not writable by others, every key valid", path);
        if (r == -ENOENT &&
            asprintf(&hint, "opt in: create '%s', root's, mode 0644 (it may be empty)", path) < 0)
                return -ENOMEM;
        if (r == -EPERM)
                hint = strdup(
                        "config files and their directories must be root's and not writable by group or "
                        "others: chown root:root, chmod go-w");
        else if (r == -EINVAL)
                hint = strdup("fix what it names (see the configuration reference in the README)");
        else if (r != -ENOENT)
                hint = strdup("check the file it names");
        if (!hint)
                return -ENOMEM;
        return addf(c, GH_CHECK_FAIL, "config", hint, "%s", err_msg(r, err));
}

static size_t count_kind(const gh_domain *dom, gh_hostdev_kind kind)
{
        size_t n = 0;

        for (size_t i = 0; i < dom->n_hostdevs; i++)
                n += dom->hostdevs[i].kind == kind;
        return n;
}

int gh_check_xml(gh_checks *c, const char *source, bool libvirt, int r, const gh_error *err,
                 const gh_domain *dom)
{
        if (r < 0 && libvirt)
                return addf(c, GH_CHECK_FAIL, "domain XML", GH_HINT_XML_DEFINITION, "%s", err_msg(r, err));
        if (r < 0)
                return addf(c, GH_CHECK_FAIL, "domain XML", GH_HINT_XML_GIVEN, "%s", err_msg(r, err));
        if (dom->n_hostdevs == 0)
                return addf(
                        c, GH_CHECK_WARN, "domain XML",
                        "add the GPU and its audio function as <hostdev mode='subsystem' type='pci'> "
                        "(virt-manager: Add Hardware, PCI Host Device)",
                        "from %s: the domain passes no PCI device through, so there is nothing to hand over",
                        source);
        return addf(c, GH_CHECK_PASS, "domain XML", NULL,
                    "from %s: %zu PCI hostdev(s), %zu hostdev interface(s)", source,
                    count_kind(dom, GH_HOSTDEV_PCI), count_kind(dom, GH_HOSTDEV_INTERFACE));
}

static bool wanted(const gh_check_domain *d, const gh_hostdev *h)
{
        return h->kind == GH_HOSTDEV_PCI || (d->policy && d->policy->interface_hostdevs);
}

static bool listed(const gh_policy *p, const gh_pci_addr *a)
{
        for (size_t i = 0; i < p->n_devices; i++)
                if (gh_pci_addr_eq(&p->devices[i], a))
                        return true;
        return false;
}

/* The display-class hostdev whose slot h shares (h itself when it is one), as devices = auto picks. */
static const gh_hostdev *auto_anchor(const gh_check_domain *d, const gh_hostdev *h)
{
        for (size_t i = 0; i < d->dom->n_hostdevs; i++) {
                const gh_hostdev *o = &d->dom->hostdevs[i];

                if (wanted(d, o) && gh_pci_addr_same_slot(&o->addr, &h->addr) &&
                    gh_pci_dev_is_display(gh_facts_find_dev(d->facts, &o->addr)))
                        return o;
        }
        return NULL;
}

/* What the planner takes; without a config (it did not load), what devices = auto would take. */
static bool taken(const gh_check_domain *d, const gh_hostdev *h)
{
        if (!wanted(d, h))
                return false;
        if (d->policy && !d->policy->devices_auto)
                return listed(d->policy, &h->addr);
        return auto_anchor(d, h) != NULL;
}

static const gh_hostdev *find_hostdev(const gh_check_domain *d, const gh_pci_addr *a)
{
        for (size_t i = 0; i < d->dom->n_hostdevs; i++)
                if (gh_pci_addr_eq(&d->dom->hostdevs[i].addr, a))
                        return &d->dom->hostdevs[i];
        return NULL;
}

static bool addr_taken(const gh_check_domain *d, const gh_pci_addr *a)
{
        const gh_hostdev *h = find_hostdev(d, a);

        return h && taken(d, h);
}

static char *describe_dev(const gh_pci_dev *dev)
{
        char *s = NULL;

        if (asprintf(&s, "%04x:%04x class %06x, driver %s%s%s%s%s", dev->vendor, dev->device, dev->class,
                     dev->driver ? dev->driver : "(none)", dev->module ? " (module " : "",
                     strempty(dev->module), dev->module ? ")" : "", dev->boot_vga ? ", boot VGA" : "") < 0)
                return NULL;
        return s;
}

/* devices = auto: taken, or left to libvirt. */
static int device_auto(gh_checks *c, const gh_check_domain *d, const gh_hostdev *h, const gh_pci_dev *dev,
                       const char *title, const char *what)
{
        const gh_hostdev *anchor = wanted(d, h) ? auto_anchor(d, h) : NULL;

        if (anchor == h)
                return addf(c, GH_CHECK_PASS, title, NULL, "%s: taken (a display device, devices = auto)",
                            what);
        if (anchor)
                return addf(c, GH_CHECK_PASS, title, NULL,
                            "%s: taken (another function of %s, devices = auto)", what,
                            GH_PCI_ADDR_STR(&anchor->addr));
        if (h->managed || streq_ptr(dev->driver, VFIO_DRIVER))
                return addf(c, GH_CHECK_PASS, title, NULL, "%s: not a GPU's: left to libvirt (%s)", what,
                            h->managed ? "managed='yes'" : "already on vfio-pci");
        return addf(
                c, GH_CHECK_WARN, title, "set managed='yes' on its <hostdev>, or list it in devices = ...",
                "%s: devices = auto does not take it, and libvirt does not bind it (managed='no')", what);
}

static int device_listed(gh_checks *c, const gh_check_domain *d, const gh_pci_addr *a, const char *title,
                         const char *what)
{
        _cleanup_free_ char *hint = NULL;

        if (listed(d->policy, a))
                return addf(c, GH_CHECK_PASS, title, NULL, "%s: on the config's devices list", what);
        if (asprintf(&hint, "add %s to devices = ... in the domain's config, or remove the <hostdev>",
                     GH_PCI_ADDR_STR(a)) < 0)
                return -ENOMEM;
        return addf(c, GH_CHECK_FAIL, title, hint,
                    "%s: not on the config's devices list: the hook would refuse to start the VM", what);
}

static int check_device(gh_checks *c, const gh_check_domain *d, const gh_hostdev *h)
{
        const gh_pci_dev *dev = gh_facts_find_dev(d->facts, &h->addr);
        _cleanup_free_ char *title = NULL, *what = NULL;

        if (asprintf(&title, "device %s", GH_PCI_ADDR_STR(&h->addr)) < 0)
                return -ENOMEM;
        if (!dev)
                return addf(c, GH_CHECK_FAIL, title,
                            "fix the <hostdev> source address (virsh edit DOMAIN); lspci -D lists the "
                            "host's devices",
                            "no such PCI device on this host");
        what = describe_dev(dev);
        if (!what)
                return -ENOMEM;
        if (!wanted(d, h))
                return addf(
                        c, GH_CHECK_PASS, title, NULL,
                        "%s: a hostdev <interface>, not taken (interface_hostdevs = no): libvirt binds it",
                        what);
        if (!d->policy)
                return addf(c, GH_CHECK_PASS, title, NULL, "%s: present", what);
        if (!d->policy->devices_auto)
                return device_listed(c, d, &h->addr, title, what);
        return device_auto(c, d, h, dev, title, what);
}

/* vfio takes whole groups: members stay only when they are bridges or have no host driver. When the
 * group holds nothing we take, libvirt detaches the domain's hostdevs itself. */
static bool member_ok(const gh_check_domain *d, const gh_pci_dev *m, bool group_taken)
{
        if (gh_pci_dev_may_stay_in_vfio_group(m))
                return true;
        if (group_taken)
                return addr_taken(d, &m->addr);
        return find_hostdev(d, &m->addr) != NULL;
}

static const char *member_role(const gh_check_domain *d, const gh_pci_dev *m, bool group_taken)
{
        if (addr_taken(d, &m->addr))
                return "taken";
        if (find_hostdev(d, &m->addr))
                return group_taken ? "in the domain, not taken" : "in the domain";
        if (gh_pci_dev_is_bridge(m))
                return "bridge, stays";
        return member_ok(d, m, group_taken) ? "stays" : "NOT in the domain";
}

static bool group_has_taken(const gh_check_domain *d, int group)
{
        for (size_t i = 0; i < d->facts->n_devs; i++)
                if (d->facts->devs[i].iommu_group == group && addr_taken(d, &d->facts->devs[i].addr))
                        return true;
        return false;
}

/* "0000:01:00.0 (nvidia, taken), 0000:00:01.0 (pcieport, bridge, stays)"; the first blocking member. */
static int group_members(const gh_check_domain *d, int group, char **ret, const gh_pci_dev **ret_bad)
{
        bool group_taken = group_has_taken(d, group);
        const gh_pci_dev *bad = NULL;
        char *buf = NULL;
        size_t len = 0, n = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < d->facts->n_devs; i++) {
                const gh_pci_dev *m = &d->facts->devs[i];

                if (m->iommu_group != group)
                        continue;
                fprintf(f, "%s%s (%s, %s)", n++ ? ", " : "", GH_PCI_ADDR_STR(&m->addr),
                        m->driver ? m->driver : "no driver", member_role(d, m, group_taken));
                if (!bad && !member_ok(d, m, group_taken))
                        bad = m;
        }
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        *ret_bad = bad;
        return 0;
}

static int check_group(gh_checks *c, const gh_check_domain *d, int group)
{
        _cleanup_free_ char *title = NULL, *members = NULL;
        const gh_pci_dev *bad = NULL;
        int r;

        if (asprintf(&title, "IOMMU group %d", group) < 0)
                return -ENOMEM;
        r = group_members(d, group, &members, &bad);
        if (r < 0)
                return r;
        if (!bad)
                return addf(c, GH_CHECK_PASS, title, NULL, "%s", members);
        return addf(
                c, GH_CHECK_FAIL, title,
                "vfio takes whole IOMMU groups: pass that device through too (a <hostdev>, and in devices = "
                "... when listed), or put the GPU in a slot with a group of its own",
                "%s (driver '%s') shares the group but the domain does not take it; members: %s",
                GH_PCI_ADDR_STR(&bad->addr), bad->driver, members);
}

static bool group_seen(const gh_check_domain *d, size_t upto, int group)
{
        for (size_t i = 0; i < upto; i++) {
                const gh_pci_dev *dev = gh_facts_find_dev(d->facts, &d->dom->hostdevs[i].addr);

                if (dev && dev->iommu_group == group)
                        return true;
        }
        return false;
}

/* One line per group of the domain's present devices; a device in no group cannot go to vfio at all. */
static int check_groups(gh_checks *c, const gh_check_domain *d)
{
        for (size_t i = 0; i < d->dom->n_hostdevs; i++) {
                const gh_pci_dev *dev = gh_facts_find_dev(d->facts, &d->dom->hostdevs[i].addr);
                int r = 0;

                if (!dev || (dev->iommu_group >= 0 && group_seen(d, i, dev->iommu_group)))
                        continue;
                if (dev->iommu_group < 0)
                        r = addf(c, GH_CHECK_FAIL, "IOMMU group",
                                 "enable the IOMMU (see the IOMMU line); vfio needs it",
                                 "%s is in no IOMMU group: vfio cannot take it",
                                 GH_PCI_ADDR_STR(&dev->addr));
                else
                        r = check_group(c, d, dev->iommu_group);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A display device the host keeps, with a driver, for its own screen. */
static const gh_pci_dev *kept_gpu(const gh_check_domain *d)
{
        for (size_t i = 0; i < d->facts->n_devs; i++) {
                const gh_pci_dev *g = &d->facts->devs[i];

                if (gh_pci_dev_is_display(g) && g->driver && !streq(g->driver, VFIO_DRIVER) && !addr_taken(d, &g->addr))
                        return g;
        }
        return NULL;
}

static const gh_pci_dev *taken_gpu(const gh_check_domain *d, bool boot_vga)
{
        for (size_t i = 0; i < d->dom->n_hostdevs; i++) {
                const gh_pci_dev *g = gh_facts_find_dev(d->facts, &d->dom->hostdevs[i].addr);

                if (gh_pci_dev_is_display(g) && taken(d, &d->dom->hostdevs[i]) && (!boot_vga || g->boot_vga))
                        return g;
        }
        return NULL;
}

/* When the display manager comes back, for a hand-over that takes the boot VGA or the only GPU: as the
 * planner decides it (plan_dm_restart()), right after the bind when the host keeps a GPU with a driver. */
static const char *dm_fate(const gh_check_domain *d, bool kept)
{
        const gh_policy *p = d->policy;
        gh_dm_restart restart = p ? p->restart_display_manager : GH_DM_RESTART_AUTO;

        if (p && p->display_manager == GH_DM_KEEP)
                return "display_manager = keep: the display manager is not stopped, but processes holding "
                       "the GPU "
                       "are ended";
        if (!kept && restart == GH_DM_RESTART_AFTER_BIND)
                return "the display manager is stopped, and restart_display_manager = after-bind starts it "
                       "again "
                       "right after the bind, with no GPU to run on";
        if (kept && restart != GH_DM_RESTART_AFTER_RELEASE)
                return "the display manager is stopped when it holds the GPU, and starts again right after "
                       "the bind";
        return "the display manager is stopped when it holds the GPU, and comes back only after the VM "
               "stops";
}

static int check_display(gh_checks *c, const gh_check_domain *d)
{
        const gh_pci_dev *gpu = taken_gpu(d, false), *boot = taken_gpu(d, true), *kept = kept_gpu(d);

        if (!gpu)
                return 0;
        if (!kept)
                return addf(
                        c, GH_CHECK_WARN, "host display",
                        "keep another way in (ssh, a serial console): the screen stays dark until the VM "
                        "stops",
                        "single-GPU mode: %s is the host's only GPU%s, so while the VM runs the host has no "
                        "display; %s",
                        GH_PCI_ADDR_STR(&gpu->addr), boot ? " and its boot VGA" : "", dm_fate(d, false));
        if (boot)
                return addf(
                        c, GH_CHECK_WARN, "host display",
                        "for a desktop while the VM runs, make the kept GPU the primary one in the firmware "
                        "setup",
                        "%s is the boot VGA: %s; the host keeps %s (%s)", GH_PCI_ADDR_STR(&boot->addr),
                        dm_fate(d, true), GH_PCI_ADDR_STR(&kept->addr), kept->driver);
        return addf(
                c, GH_CHECK_PASS, "host display", NULL,
                "the host keeps %s (%s) for its screen; a display manager stopped for the hand-over starts "
                "again right after the bind",
                GH_PCI_ADDR_STR(&kept->addr), kept->driver);
}

int gh_check_devices(gh_checks *c, const gh_check_domain *d)
{
        int r;

        if (!d->dom || !d->facts)
                return 0;
        for (size_t i = 0; i < d->dom->n_hostdevs; i++)
                if ((r = check_device(c, d, &d->dom->hostdevs[i])) < 0)
                        return r;
        r = check_groups(c, d);
        return r < 0 ? r : check_display(c, d);
}

/* The names of the plan's steps of one kind, space-separated; NULL when there is none. */
static int step_names(const gh_plan *plan, gh_step_kind kind, char **ret)
{
        _cleanup_strv_free_ char **names = NULL;
        char *buf = NULL;
        size_t len = 0;
        FILE *f;

        for (size_t i = 0; i < plan->n_steps; i++) {
                const gh_step *s = &plan->steps[i];
                _cleanup_free_ char *name = NULL;

                if (s->kind != kind)
                        continue;
                /* A user's unit is named with its user: the same name may run for several. */
                if ((kind == GH_STEP_STOP_USER_UNIT
                             ? asprintf(&name, "'%s' of user %" PRIu32, s->name, s->uid)
                             : asprintf(&name, "'%s'", s->name)) < 0)
                        return -ENOMEM;
                if (strv_extend(&names, name) < 0)
                        return -ENOMEM;
        }
        if (!names) {
                *ret = NULL;
                return 0;
        }
        f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        STRV_FOREACH(n, names)
        fprintf(f, "%s%s", n == names ? "" : " ", *n);
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}

static int check_user_units(gh_checks *c, const gh_check_domain *d)
{
        _cleanup_free_ char *units = NULL;
        int r = step_names(d->plan, GH_STEP_STOP_USER_UNIT, &units);

        if (r < 0 || !units)
                return r;
        return addf(c, GH_CHECK_PASS, "user units to stop", NULL,
                    "%s (through the user's systemd manager; started again when the VM stops)", units);
}

static int check_units(gh_checks *c, const gh_check_domain *d)
{
        _cleanup_free_ char *units = NULL, *early = NULL;
        int r;

        if ((r = step_names(d->plan, GH_STEP_STOP_UNIT, &units)) < 0 ||
            (r = step_names(d->plan, GH_STEP_START_UNIT, &early)) < 0 || (r = check_user_units(c, d)) < 0)
                return r;
        if (!d->facts->units_known)
                return addf(
                        c, GH_CHECK_WARN, "units to stop",
                        "run 'gpu-handover check' as root on the host: it asks systemd over the system bus",
                        "systemd could not be asked: the display manager's state is unknown; from the "
                        "config "
                        "alone: %s",
                        units ? units : "none");
        if (!units)
                return addf(c, GH_CHECK_PASS, "units to stop", NULL, "none");
        if (early)
                return addf(c, GH_CHECK_PASS, "units to stop", NULL,
                            "%s (%s starts again right after the bind, the others when the VM stops)", units,
                            early);
        return addf(c, GH_CHECK_PASS, "units to stop", NULL, "%s (started again when the VM stops)", units);
}

static bool plan_has(const gh_plan *plan, gh_step_kind kind)
{
        for (size_t i = 0; i < plan->n_steps; i++)
                if (plan->steps[i].kind == kind)
                        return true;
        return false;
}

static int check_modules(gh_checks *c, const gh_check_domain *d)
{
        _cleanup_free_ char *mods = NULL;
        int r = step_names(d->plan, GH_STEP_UNLOAD_MODULE, &mods);

        if (r < 0)
                return r;
        /* Claimed at boot, the functions are on vfio-pci already: nothing is unbound either. */
        if (!mods)
                return addf(c, GH_CHECK_PASS, "modules to unload", NULL, "none: %s",
                            plan_has(d->plan, GH_STEP_UNBIND) || plan_has(d->plan, GH_STEP_RELEASE_AUDIO)
                                    ? "the functions are unbound from their drivers alone"
                                    : "no function is on a host driver (on vfio-pci already, or on none)");
        return addf(c, GH_CHECK_PASS, "modules to unload", NULL,
                    "%s (never forced; loaded again when the VM stops)", mods);
}

/* What the planner decided for each holder, as `plan` says it: who is stopped, who signalled, and where
 * the display manager's setting decides. */
static int check_holders(gh_checks *c, const gh_check_domain *d)
{
        int r = 0;

        STRV_FOREACH(h, d->plan->holders)
        if ((r = addf(c, GH_CHECK_PASS, "holder", NULL, "%s", *h)) < 0)
                return r;
        return r;
}

/* The hook never signals another VM, libvirt or systemd: one of them holding the devices fails the start. */
static int check_protected_holder(gh_checks *c, const gh_check_domain *d, const gh_holder *h)
{
        _cleanup_free_ char *why = NULL;
        int r = gh_holder_guard_describe(h, gh_holder_guard(h, 0, 0), &why);

        if (r < 0)
                return r;
        return addf(c, GH_CHECK_FAIL, "hand-over",
                    "stop what it names, or keep it off this GPU (another VM's virgl or SPICE GL uses the "
                    "render node): gpu-handover never signals other VMs, libvirt or systemd",
                    "the hook would refuse to start the VM: pid %d (%s) holds %s and is protected: %s",
                    (int)h->pid, strempty(h->comm), gh_holder_what(h), strempty(why));
}

int gh_check_plan(gh_checks *c, const gh_check_domain *d, int r, const gh_error *err)
{
        _cleanup_free_ char *hint = NULL;

        if (!d->dom)
                return 0;
        if (!d->facts)
                return addf(c, GH_CHECK_FAIL, "host facts", "run 'gpu-handover check' as root on the host",
                            "%s", err_msg(r, err));
        if (!d->policy)
                return 0;
        if (asprintf(&hint, "fix what it names; 'gpu-handover plan %s' shows the same", d->name) < 0)
                return -ENOMEM;
        if (r < 0 || !d->plan)
                return addf(c, GH_CHECK_FAIL, "hand-over", hint, "the hook would refuse to start the VM: %s",
                            err_msg(r, err));
        if (d->plan->n_devices == 0)
                return addf(c, GH_CHECK_WARN, "hand-over",
                            "pass the GPU through as a <hostdev>, or name the devices in devices = ...",
                            "the domain asks for no device its config lets gpu-handover take: the hook does "
                            "nothing");
        if ((r = check_units(c, d)) < 0 || (r = check_modules(c, d)) < 0 || (r = check_holders(c, d)) < 0)
                return r;
        if (gh_plan_protected_holder(d->plan, d->facts))
                return check_protected_holder(c, d, gh_plan_protected_holder(d->plan, d->facts));
        return addf(c, GH_CHECK_PASS, "hand-over", NULL,
                    "%zu device(s) in %zu steps; 'gpu-handover plan %s' lists them", d->plan->n_devices,
                    d->plan->n_steps, d->name);
}
