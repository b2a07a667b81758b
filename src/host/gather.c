/* Gathers host facts: every PCI function (with driver_override for those the domain involves), the module
 * stacks of the domain's devices, who holds their nodes or dma-bufs of their modules, which devices other
 * domains' journals hold, and the state of the units involved. */
#include <errno.h>
#include <sys/utsname.h>

#include "devlock.h"
#include "gather.h"
#include "holders.h"
#include "journal.h"
#include "modules.h"
#include "pci.h"
#include "shared/strv.h"

#define DM_UNIT "display-manager.service"
/* Reading driver_override takes the device's lock; one that does not answer in this time never will. */
#define OVERRIDE_TIMEOUT (2 * USEC_PER_SEC)

static bool is_hostdev(const gh_domain *dom, const gh_pci_addr *a)
{
        for (size_t i = 0; i < dom->n_hostdevs; i++)
                if (gh_pci_addr_eq(&dom->hostdevs[i].addr, a))
                        return true;
        return false;
}

/* A hostdev of the domain, or a function in the IOMMU group of one: what a hand-over may touch. */
static bool is_involved(const gh_domain *dom, const gh_facts *f, const gh_pci_dev *d)
{
        if (is_hostdev(dom, &d->addr))
                return true;
        for (size_t i = 0; d->iommu_group >= 0 && i < dom->n_hostdevs; i++) {
                const gh_pci_dev *h = gh_facts_find_dev(f, &dom->hostdevs[i].addr);

                if (h && h->iommu_group == d->iommu_group)
                        return true;
        }
        return false;
}

/* Each in a child (a driver stuck in unbind keeps its device locked for good), and only for the functions
 * involved: every other function could hang us all the same, for nothing. */
static int gather_overrides(const char *root, const gh_domain *dom, gh_facts *f, gh_error *err)
{
        for (size_t i = 0; i < f->n_devs; i++) {
                gh_pci_dev *d = &f->devs[i];
                char addr[GH_PCI_ADDR_MAX];
                int r;

                if (!is_involved(dom, f, d))
                        continue;
                gh_pci_addr_format(&d->addr, addr);
                r = gh_devlock_read_override(root, addr, deadline_after(OVERRIDE_TIMEOUT), &d->override);
                if (gh_devlock_stuck(r))
                        return gh_devlock_error(root, addr, r, err);
                /* Gone since the listing: hot-unplugged, with nothing to override. */
                if (r < 0 && r != -ENODEV)
                        return gh_error_set(err, r, "cannot read driver_override of %s: %s", addr,
                                            strerror(-r));
        }
        return 0;
}

static int add_module(const char *root, gh_facts *f, const char *name, unsigned depth)
{
        gh_module_state st = gh_module_get_state(root, name);
        gh_module *m;
        char **holders = NULL;
        int r;

        if (depth > 16)
                return -ELOOP;
        if (st == GH_MODULE_ABSENT || gh_facts_find_module(f, name))
                return 0;
        r = gh_module_read_holders(root, name, &holders);
        if (r < 0 && r != -ENOENT)
                return r;
        m = realloc(f->modules, sizeof(gh_module) * (f->n_modules + 1));
        if (!m) {
                strv_free(holders);
                return -ENOMEM;
        }
        f->modules = m;
        m = &f->modules[f->n_modules++];
        *m = (gh_module){.name = strdup(name), .holders = holders, .builtin = st == GH_MODULE_BUILTIN};
        if (!m->name)
                return -ENOMEM;
        r = gh_module_read_params(root, name, &m->params);
        if (r < 0)
                return r;
        STRV_FOREACH (h, holders)
                if ((r = add_module(root, f, *h, depth + 1)) < 0)
                        return r;
        return 0;
}

/* What loading m again would find: the file for the running kernel, and both srcversions. */
static int gather_module_file(gh_kmod *k, const char *root, gh_module *m, gh_error *err)
{
        int r;

        if (m->builtin)
                return 0;
        r = gh_module_read_srcversion(root, m->name, &m->loaded_srcversion);
        if (r < 0)
                return gh_error_set(err, r, "cannot read the srcversion of module '%s': %s", m->name,
                                    strerror(-r));
        /* No modules directory for the running kernel (a kernel upgrade removed it): no file. */
        if (!k)
                return 0;
        r = gh_kmod_module_file(k, m->name, &m->path, &m->file_srcversion);
        if (r < 0)
                return gh_error_set(err, r, "cannot read the file of module '%s': %s", m->name,
                                    strerror(-r));
        return 0;
}

/* For the first n modules: those a hand-over may unload. */
static int gather_module_files(const char *root, gh_facts *f, size_t n, gh_error *err)
{
        _cleanup_(gh_kmod_freep) gh_kmod *k = NULL;
        struct utsname u;
        int r;

        if (uname(&u) < 0)
                return gh_error_set(err, -errno, "cannot tell the running kernel: %s", strerror(errno));
        f->kernel_release = strdup(u.release);
        if (!f->kernel_release)
                return -ENOMEM;
        r = n > 0 ? gh_kmod_new(root, &k) : 0;
        if (r < 0 && r != -ENOENT)
                return gh_error_set(err, r, "cannot read the modules of kernel %s: %s", u.release,
                                    strerror(-r));
        for (size_t i = 0; i < n; i++)
                if ((r = gather_module_file(k, root, &f->modules[i], err)) < 0)
                        return r;
        return 0;
}

/* The stacks of the domain's drivers and unload_modules, which a hand-over may unload; then the other
 * devices' driver modules and what sits on them, which must stay. */
static int gather_modules(const char *root, const gh_policy *p, const gh_domain *dom, gh_facts *f,
                          gh_error *err)
{
        size_t n_candidates;
        int r;

        for (size_t i = 0; i < f->n_devs; i++) {
                const gh_pci_dev *d = &f->devs[i];

                if (d->module && is_hostdev(dom, &d->addr) && (r = add_module(root, f, d->module, 0)) < 0)
                        goto fail;
        }
        STRV_FOREACH (m, p->unload_modules)
                if ((r = add_module(root, f, *m, 0)) < 0)
                        goto fail;
        n_candidates = f->n_modules;
        for (size_t i = 0; i < f->n_devs; i++)
                if (f->devs[i].module && (r = add_module(root, f, f->devs[i].module, 0)) < 0)
                        goto fail;
        return gather_module_files(root, f, n_candidates, err);
fail:
        return gh_error_set(err, r, "cannot read kernel module state: %s", strerror(-r));
}

/* dma-bufs that would pin a module of the stacks, if the planner unloads it: it picks its own from these. */
static int add_dmabuf_targets(const gh_facts *f, char ***nodes)
{
        _cleanup_strv_free_ char **modules = NULL;
        int r;

        for (size_t i = 0; i < f->n_modules; i++)
                if ((r = strv_extend(&modules, f->modules[i].name)) < 0)
                        return r;
        r = gh_dmabuf_targets(f, modules, nodes);
        return r < 0 ? r : gh_dmabuf_maybe(f, modules, nodes);
}

static int gather_holders(const char *root, const gh_domain *dom, gh_facts *f)
{
        _cleanup_strv_free_ char **nodes = NULL;
        int r;

        for (size_t i = 0; i < f->n_devs; i++)
                if (is_hostdev(dom, &f->devs[i].addr))
                        STRV_FOREACH (n, f->devs[i].nodes)
                                if ((r = strv_extend_unique(&nodes, *n)) < 0)
                                        return r;
        if ((r = add_dmabuf_targets(f, &nodes)) < 0)
                return r;
        if (!nodes)
                return 0;
        return gh_holders_scan(root, nodes, &f->holders, &f->n_holders);
}

static int add_claims_of(const char *root, const char *other, gh_facts *f)
{
        _cleanup_strv_free_ char **skipped = NULL;
        gh_step *steps = NULL;
        size_t n = 0;
        int r = gh_journal_read_lenient(root, other, 0, &steps, &n, &skipped, NULL);

        /* An unreadable journal of another domain claims nothing we can name; the lock still serialises.
         * One bad line does not hide the devices its other lines claim. */
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        for (size_t i = 0; r >= 0 && i < n; i++) {
                gh_claim *c;

                if (steps[i].kind != GH_STEP_BIND_VFIO && steps[i].kind != GH_STEP_SET_OVERRIDE &&
                    steps[i].kind != GH_STEP_RELEASE_AUDIO)
                        continue;
                c = realloc(f->claims, sizeof(gh_claim) * (f->n_claims + 1));
                if (!c) {
                        r = -ENOMEM;
                        break;
                }
                f->claims = c;
                c = &f->claims[f->n_claims++];
                *c = (gh_claim){.domain = strdup(other)};
                gh_pci_addr_parse(steps[i].addr, &c->addr);
                if (!c->domain)
                        r = -ENOMEM;
        }
        gh_steps_free(steps, n);
        return r;
}

static int gather_claims(const char *root, const char *domain, gh_facts *f)
{
        _cleanup_strv_free_ char **domains = NULL;
        int r = gh_journal_list(root, &domains);

        STRV_FOREACH (d, domains)
                if (!streq(*d, domain) && (r = add_claims_of(root, *d, f)) < 0)
                        return r;
        return r < 0 ? r : 0;
}

static int gather_units(gh_units *u, const gh_policy *p, gh_facts *f)
{
        int r;

        if (!u)
                return 0;
        r = gh_units_resolve(u, DM_UNIT, &f->dm_unit);
        if (r < 0 && r != -ENOENT)
                return r;
        if (f->dm_unit && (r = gh_units_is_active(u, f->dm_unit, &f->dm_active)) < 0)
                return r;
        f->units = calloc(strv_length(p->stop_units) + 1, sizeof(gh_unit_state));
        if (!f->units)
                return -ENOMEM;
        STRV_FOREACH (name, p->stop_units) {
                gh_unit_state *s = &f->units[f->n_units++];

                s->name = strdup(*name);
                if (!s->name)
                        return -ENOMEM;
                r = gh_units_is_active(u, *name, &s->active);
                if (r < 0 && r != -ENOENT)
                        return r;
        }
        f->units_known = true;
        return 0;
}

int gh_facts_gather(const char *root, const char *domain, const gh_policy *p, const gh_domain *dom, gh_units *units,
                    gh_facts *ret, gh_error *err)
{
        _cleanup_(gh_facts_done) gh_facts f = {};
        int r;

        r = gh_pci_list(root, &f.devs, &f.n_devs);
        if (r < 0)
                return gh_error_set(err, r, "cannot list PCI devices under '%s': %s", root, strerror(-r));
        r = gather_overrides(root, dom, &f, err);
        if (r < 0)
                return r;
        r = gather_modules(root, p, dom, &f, err);
        if (r < 0)
                return r;
        r = gather_holders(root, dom, &f);
        if (r < 0)
                return gh_error_set(err, r, "cannot scan processes for device holders: %s", strerror(-r));
        r = gather_claims(root, domain, &f);
        if (r < 0)
                return gh_error_set(err, r, "cannot read the journals of other domains: %s", strerror(-r));
        r = gather_units(units, p, &f);
        if (r < 0)
                return gh_error_set(err, r, "cannot query systemd units: %s", strerror(-r));
        *ret = f;
        f = (gh_facts){};
        return 0;
}
