/* `check` lines, and the judgement of the host itself: CPU, IOMMU, vfio modules, libvirt's hook entry and
 * whether libvirt's daemon has started since the hook was put in place. */
#include <stdarg.h>

#include "check.h"
#include "shared/strv.h"

#define CPU_TITLE "CPU virtualisation"
#define IOMMU_TITLE "IOMMU"
#define HOOK_TITLE "libvirt hook"
#define DAEMON_TITLE "libvirt daemon"
/* Any install prefix: the entry is ours when it links to some .../gpu-handover/qemu-hook. */
#define HOOK_SUFFIX "/gpu-handover/qemu-hook"
/* /proc/stat's btime has whole seconds: a start computed from it may read up to 1 s early. */
#define START_SLACK USEC_PER_SEC

static const char *const level_table[_GH_CHECK_LEVEL_MAX] = {
        [GH_CHECK_PASS] = "PASS",
        [GH_CHECK_WARN] = "WARN",
        [GH_CHECK_FAIL] = "FAIL",
};

const char *gh_check_level_to_string(gh_check_level l)
{
        return l >= 0 && l < _GH_CHECK_LEVEL_MAX ? level_table[l] : NULL;
}

static void check_done(gh_check *c)
{
        free(c->title);
        free(c->detail);
        free(c->hint);
}

int gh_checks_add(gh_checks *c, gh_check_level level, const char *title, const char *detail,
                  const char *hint)
{
        gh_check *items = realloc(c->items, sizeof(gh_check) * (c->n + 1));
        gh_check *e;

        if (!items)
                return -ENOMEM;
        c->items = items;
        e = &items[c->n];
        *e = (gh_check){.level = level, .title = strdup(title), .detail = strdup(detail)};
        if (hint)
                e->hint = strdup(hint);
        if (!e->title || !e->detail || (hint && !e->hint)) {
                check_done(e);
                return -ENOMEM;
        }
        c->n++;
        return 0;
}

void gh_checks_done(gh_checks *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < c->n; i++)
                check_done(&c->items[i]);
        free(c->items);
        *c = (gh_checks){};
}

gh_check_level gh_checks_worst(const gh_checks *c)
{
        gh_check_level worst = GH_CHECK_PASS;

        for (size_t i = 0; i < c->n; i++)
                if (c->items[i].level > worst)
                        worst = c->items[i].level;
        return worst;
}

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

static int check_cpu(gh_checks *c, const gh_host_check *h)
{
        if (h->cpuinfo_error < 0)
                return addf(c, GH_CHECK_FAIL, CPU_TITLE, "run 'gpu-handover check' on the host itself",
                            "cannot read /proc/cpuinfo: %s", strerror(-h->cpuinfo_error));
        if (!h->cpu_flag)
                return addf(
                        c, GH_CHECK_FAIL, CPU_TITLE,
                        "enable Intel VT-x or AMD SVM (AMD-V) in the firmware setup; inside a VM, enable "
                        "nested virtualisation",
                        "no vmx or svm flag in /proc/cpuinfo: hardware virtualisation is off or missing");
        return addf(c, GH_CHECK_PASS, CPU_TITLE, NULL, "%s ('%s' flag in /proc/cpuinfo)",
                    streq(h->cpu_flag, "vmx") ? "Intel VT-x" : "AMD-V", h->cpu_flag);
}

/* The kernel parameter that turns the IOMMU on for this CPU's vendor. */
static const char *iommu_param(const gh_host_check *h)
{
        if (streq_ptr(h->cpu_flag, "svm"))
                return "amd_iommu=on";
        if (streq_ptr(h->cpu_flag, "vmx"))
                return "intel_iommu=on";
        return "intel_iommu=on (Intel) or amd_iommu=on (AMD)";
}

static const char *iommu_kind(const char *unit)
{
        if (startswith(unit, "dmar"))
                return "Intel VT-d (DMAR)";
        if (startswith(unit, "ivhd"))
                return "AMD-Vi";
        return "IOMMU";
}

static char *join(char *const *l, const char *sep)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                return NULL;
        STRV_FOREACH(s, l)
        fprintf(f, "%s%s", s == l ? "" : sep, *s);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

static int check_iommu(gh_checks *c, const gh_host_check *h)
{
        _cleanup_free_ char *units = join(h->iommu_units, ", "), *hint = NULL;
        bool has_units = h->iommu_units && h->iommu_units[0];

        if (!units || asprintf(&hint, "enable VT-d / AMD-Vi (IOMMU) in the firmware setup and boot with %s",
                               iommu_param(h)) < 0)
                return -ENOMEM;
        if (!has_units && h->n_iommu_groups == 0)
                return addf(
                        c, GH_CHECK_FAIL, IOMMU_TITLE, hint,
                        "no IOMMU: /sys/class/iommu is empty and /sys/kernel/iommu_groups holds no group");
        if (h->n_iommu_groups == 0)
                return addf(c, GH_CHECK_FAIL, IOMMU_TITLE, hint,
                            "%s units %s, but no IOMMU group: the IOMMU does not translate DMA",
                            iommu_kind(h->iommu_units[0]), units);
        if (!has_units)
                return addf(c, GH_CHECK_WARN, IOMMU_TITLE,
                            "see whether vfio supports it: dmesg | grep -i -e DMAR -e IOMMU",
                            "%u IOMMU groups but no entry in /sys/class/iommu: an unusual IOMMU",
                            h->n_iommu_groups);
        return addf(c, GH_CHECK_PASS, IOMMU_TITLE, NULL, "%s units %s; %u IOMMU groups",
                    iommu_kind(h->iommu_units[0]), units, h->n_iommu_groups);
}

static int check_module(gh_checks *c, const char *name, gh_module_avail a, const char *modules_dir)
{
        _cleanup_free_ char *title = NULL;

        if (asprintf(&title, "module %s", name) < 0)
                return -ENOMEM;
        switch (a) {
        case GH_MODULE_AVAIL_LOADED:
                return addf(c, GH_CHECK_PASS, title, NULL, "loaded");
        case GH_MODULE_AVAIL_BUILTIN:
                return addf(c, GH_CHECK_PASS, title, NULL, "built into the kernel");
        case GH_MODULE_AVAIL_LOADABLE:
                return addf(c, GH_CHECK_PASS, title, NULL,
                            "not loaded yet, found among this kernel's modules: the hand-over loads it");
        default:
                return addf(
                        c, GH_CHECK_FAIL, title,
                        "install this kernel's modules package; a kernel of your own needs CONFIG_VFIO and "
                        "CONFIG_VFIO_PCI",
                        "not loaded, not built in, and not found among this kernel's modules (%s)",
                        modules_dir ? modules_dir : "/lib/modules/RELEASE");
        }
}

int gh_check_host(gh_checks *c, const gh_host_check *h)
{
        int r;

        if ((r = check_cpu(c, h)) < 0 || (r = check_iommu(c, h)) < 0 ||
            (r = check_module(c, "vfio", h->vfio, h->modules_dir)) < 0)
                return r;
        return check_module(c, "vfio-pci", h->vfio_pci, h->modules_dir);
}

static bool entry_ours(const gh_hook_entry *e)
{
        size_t n = e->target ? strlen(e->target) : 0;

        return e->present && n > strlen(HOOK_SUFFIX) &&
               streq(e->target + n - strlen(HOOK_SUFFIX), HOOK_SUFFIX);
}

static int hook_missing(gh_checks *c, const gh_host_check *h)
{
        if (h->hook.present && !h->dropin.present)
                return addf(c, GH_CHECK_FAIL, HOOK_TITLE,
                            "sudo gpu-handover install --qemu-d: it puts the hook in qemu.d, next to the "
                            "other one",
                            "'%s' is another program's hook (%s%s), and '%s' does not exist", h->hook.path,
                            h->hook.target ? "a link to " : "not a link", strempty(h->hook.target),
                            h->dropin.path);
        if (h->dropin.present)
                return addf(c, GH_CHECK_FAIL, HOOK_TITLE,
                            "move it away, then: sudo gpu-handover install --qemu-d",
                            "'%s' is not a link to gpu-handover's hook entry", h->dropin.path);
        return addf(c, GH_CHECK_FAIL, HOOK_TITLE, "sudo gpu-handover install (scripts/setup runs it)",
                    "not installed: neither '%s' nor '%s' exists", h->hook.path, h->dropin.path);
}

static int check_entry(gh_checks *c, const gh_hook_entry *e)
{
        if (!e->target_ok)
                return addf(
                        c, GH_CHECK_FAIL, HOOK_TITLE,
                        "install gpu-handover again (sudo scripts/setup), then sudo gpu-handover install",
                        "'%s' links to '%s', which is missing or not executable: libvirt will not run it",
                        e->path, e->target);
        return addf(c, GH_CHECK_PASS, HOOK_TITLE, NULL, "'%s' -> '%s'", e->path, e->target);
}

/* The install time of our entry, or 0 when none of ours is in place. */
static usec_t hook_installed(const gh_host_check *h)
{
        usec_t t = 0;

        if (entry_ours(&h->hook))
                t = h->hook.mtime;
        if (entry_ours(&h->dropin) && (t == 0 || h->dropin.mtime < t))
                t = h->dropin.mtime;
        return t;
}

static int check_entries(gh_checks *c, const gh_host_check *h)
{
        bool ours_hook = entry_ours(&h->hook), ours_dropin = entry_ours(&h->dropin);
        int r;

        if (!ours_hook && !ours_dropin)
                return hook_missing(c, h);
        if (ours_hook && ours_dropin &&
            (r = addf(c, GH_CHECK_WARN, HOOK_TITLE, "sudo gpu-handover install: it keeps one of them",
                      "both '%s' and '%s' link to the hook entry: libvirt runs it twice", h->hook.path,
                      h->dropin.path)) < 0)
                return r;
        if (ours_hook && (r = check_entry(c, &h->hook)) < 0)
                return r;
        return ours_dropin ? check_entry(c, &h->dropin) : 0;
}

/* "45 s", "12 min", "3 h 20 min", "6 days". */
static void format_span(usec_t u, char buf[static 32])
{
        unsigned long long s = u / USEC_PER_SEC;

        if (s < 60)
                snprintf(buf, 32, "%llu s", s);
        else if (s < 3600)
                snprintf(buf, 32, "%llu min", s / 60);
        else if (s < 2 * 86400)
                snprintf(buf, 32, "%llu h %llu min", s / 3600, s % 3600 / 60);
        else
                snprintf(buf, 32, "%llu days", s / 86400);
}

static int check_daemon(gh_checks *c, const gh_daemon *d, usec_t installed)
{
        _cleanup_free_ char *hint = NULL;
        char span[32];

        if (installed == 0)
                return addf(c, GH_CHECK_PASS, DAEMON_TITLE, NULL, "%s is running (pid %d)", d->name,
                            (int)d->pid);
        if (d->start + START_SLACK >= installed)
                return addf(c, GH_CHECK_PASS, DAEMON_TITLE, NULL,
                            "%s (pid %d) started after the hook was installed: it runs the hook", d->name,
                            (int)d->pid);
        format_span(installed - d->start, span);
        if (asprintf(&hint, "restart libvirtd: systemctl restart %s", d->name) < 0)
                return -ENOMEM;
        return addf(c, GH_CHECK_WARN, DAEMON_TITLE, hint,
                    "%s (pid %d) started %s before the hook was installed: it does not know the hook yet",
                    d->name, (int)d->pid, span);
}

static int check_daemons(gh_checks *c, const gh_host_check *h)
{
        usec_t installed = hook_installed(h);
        int r;

        if (h->proc_error < 0)
                return addf(c, GH_CHECK_WARN, DAEMON_TITLE, "run 'gpu-handover check' as root on the host",
                            "cannot look for libvirtd or virtqemud in /proc: %s", strerror(-h->proc_error));
        if (h->n_daemons == 0)
                return addf(c, GH_CHECK_WARN, DAEMON_TITLE,
                            "start it: systemctl start libvirtd (or virtqemud, with the modular daemons)",
                            "neither libvirtd nor virtqemud is running: no VM starts, and no hook runs");
        for (size_t i = 0; i < h->n_daemons; i++)
                if ((r = check_daemon(c, &h->daemons[i], installed)) < 0)
                        return r;
        return 0;
}

int gh_check_hook(gh_checks *c, const gh_host_check *h)
{
        int r = check_entries(c, h);

        return r < 0 ? r : check_daemons(c, h);
}

void gh_hook_entry_done(gh_hook_entry *e)
{
        if (!e)
                return;
        free(e->path);
        free(e->target);
        *e = (gh_hook_entry){};
}

void gh_host_check_done(gh_host_check *h)
{
        if (!h)
                return;
        free(h->cpu_flag);
        free(h->modules_dir);
        strv_free(h->iommu_units);
        gh_hook_entry_done(&h->hook);
        gh_hook_entry_done(&h->dropin);
        for (size_t i = 0; i < h->n_daemons; i++)
                free(h->daemons[i].name);
        free(h->daemons);
        *h = (gh_host_check){};
}
