/* Look-ups in, and release of, the host facts. */
#include <errno.h>

#include "facts.h"
#include "shared/strv.h"

const gh_pci_dev *gh_facts_find_dev(const gh_facts *f, const gh_pci_addr *a)
{
        for (size_t i = 0; i < f->n_devs; i++)
                if (gh_pci_addr_eq(&f->devs[i].addr, a))
                        return &f->devs[i];
        return NULL;
}

bool gh_pci_dev_is_display(const gh_pci_dev *d)
{
        return d && (d->class >> 16) == GH_PCI_CLASS_DISPLAY;
}

bool gh_pci_dev_is_bridge(const gh_pci_dev *d)
{
        return d && (d->class >> 8) == GH_PCI_CLASS_BRIDGE;
}

bool gh_pci_dev_may_stay_in_vfio_group(const gh_pci_dev *d)
{
        return gh_pci_dev_is_bridge(d) || !d->driver || streq(d->driver, "vfio-pci") ||
               streq(d->driver, "pci-stub");
}

bool gh_module_name_eq(const char *a, const char *b)
{
        for (; *a && *b; a++, b++) {
                char x = *a == '-' ? '_' : *a, y = *b == '-' ? '_' : *b;
                if (x != y)
                        return false;
        }
        return *a == *b;
}

const gh_module *gh_facts_find_module(const gh_facts *f, const char *name)
{
        for (size_t i = 0; i < f->n_modules; i++)
                if (gh_module_name_eq(f->modules[i].name, name))
                        return &f->modules[i];
        return NULL;
}

static bool sits_on(const gh_facts *f, const char *module, const char *base, unsigned depth)
{
        const gh_module *b = gh_facts_find_module(f, base);

        if (!b || depth > 16)
                return false;
        STRV_FOREACH(h, b->holders)
        if (gh_module_name_eq(*h, module) || sits_on(f, module, *h, depth + 1))
                return true;
        return false;
}

bool gh_facts_module_sits_on(const gh_facts *f, const char *module, const char *base)
{
        return sits_on(f, module, base, 0);
}

const char *gh_module_param(const gh_module *m, const char *param)
{
        size_t n = strlen(param);

        STRV_FOREACH(p, m->params)
        if (strncmp(*p, param, n) == 0 && (*p)[n] == '=')
                return *p + n + 1;
        return NULL;
}

const gh_unit_state *gh_facts_find_unit(const gh_facts *f, const char *name)
{
        for (size_t i = 0; i < f->n_units; i++)
                if (streq(f->units[i].name, name))
                        return &f->units[i];
        return NULL;
}

static bool module_listed(char *const *modules, const char *name)
{
        STRV_FOREACH (m, modules)
                if (name && gh_module_name_eq(*m, name))
                        return true;
        return false;
}

static bool dev_has_drm_node(const gh_pci_dev *d)
{
        STRV_FOREACH (n, d->nodes)
                if (startswith(*n, "/dev/dri/"))
                        return true;
        return false;
}

/* Some module of the list drives a DRM device, and every DRM device is driven by one of them. */
static bool drm_exports_ours(const gh_facts *f, char *const *modules)
{
        bool ours = false;

        for (size_t i = 0; i < f->n_devs; i++) {
                const gh_pci_dev *d = &f->devs[i];

                if (!dev_has_drm_node(d))
                        continue;
                if (!module_listed(modules, d->module))
                        return false;
                ours = true;
        }
        return ours;
}

/* "dma-buf:NAME", NAME with '_' as KBUILD_MODNAME spells module names. */
static int target_add(char ***nodes, const char *name)
{
        _cleanup_free_ char *s = NULL;

        if (asprintf(&s, "%s%s", GH_DMABUF_PREFIX, name) < 0)
                return -ENOMEM;
        for (char *p = s + strlen(GH_DMABUF_PREFIX); *p; p++)
                if (*p == '-')
                        *p = '_';
        return strv_extend_unique(nodes, s);
}

/* Some module of the list drives a DRM device, and another DRM device stays with the host. */
static bool drm_exports_maybe_ours(const gh_facts *f, char *const *modules)
{
        for (size_t i = 0; i < f->n_devs; i++)
                if (dev_has_drm_node(&f->devs[i]) && module_listed(modules, f->devs[i].module))
                        return !drm_exports_ours(f, modules);
        return false;
}

int gh_dmabuf_maybe(const gh_facts *f, char *const *modules, char ***nodes)
{
        return drm_exports_maybe_ours(f, modules) ? target_add(nodes, "drm") : 0;
}

int gh_dmabuf_targets(const gh_facts *f, char *const *modules, char ***nodes)
{
        int r;

        STRV_FOREACH (m, modules) {
                if ((r = target_add(nodes, *m)) < 0)
                        return r;
                if (gh_module_name_eq(*m, "nvidia") && (r = target_add(nodes, "nv_dmabuf")) < 0)
                        return r;
        }
        if (drm_exports_ours(f, modules) && (r = target_add(nodes, "drm")) < 0)
                return r;
        return 0;
}

const char *gh_holder_what(const gh_holder *h)
{
        return h->what ? h->what : h->node;
}

void gh_pci_dev_done(gh_pci_dev *d)
{
        free(d->driver);
        free(d->module);
        free(d->override);
        strv_free(d->nodes);
        *d = (gh_pci_dev){.iommu_group = -1};
}

void gh_module_done(gh_module *m)
{
        free(m->name);
        strv_free(m->holders);
        strv_free(m->params);
        free(m->path);
        free(m->file_srcversion);
        free(m->loaded_srcversion);
        *m = (gh_module){};
}

void gh_holder_done(gh_holder *h)
{
        free(h->comm);
        free(h->node);
        free(h->what);
        free(h->unit);
        free(h->session);
        free(h->session_type);
        free(h->session_class);
        free(h->cgroup);
        free(h->exe);
        *h = (gh_holder){};
}

void gh_facts_done(gh_facts *f)
{
        for (size_t i = 0; i < f->n_devs; i++)
                gh_pci_dev_done(&f->devs[i]);
        free(f->devs);
        for (size_t i = 0; i < f->n_modules; i++)
                gh_module_done(&f->modules[i]);
        free(f->modules);
        for (size_t i = 0; i < f->n_holders; i++)
                gh_holder_done(&f->holders[i]);
        free(f->holders);
        for (size_t i = 0; i < f->n_claims; i++)
                free(f->claims[i].domain);
        free(f->claims);
        for (size_t i = 0; i < f->n_units; i++)
                free(f->units[i].name);
        free(f->units);
        free(f->kernel_release);
        free(f->dm_unit);
        *f = (gh_facts){};
}
