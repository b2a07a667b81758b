/* Building host facts and domains in code, for planner and executor tests. */

#include "facts-build.h"
#include "shared/strv.h"

/* Always evaluated, unlike MUST() under NDEBUG. */
#define MUST(x) ((x) ? (void)0 : abort())
#define GROW(arr, n) ((arr) = realloc((arr), sizeof(*(arr)) * ((n) + 1)), MUST(arr), &(arr)[(n)++])

static char *dup_or_null(const char *s)
{
        return s ? strdup(s) : NULL;
}

gh_pci_dev *tf_add_dev(gh_facts *f, const char *addr, unsigned class, const char *driver, const char *module,
                       int group, const char *nodes)
{
        gh_pci_dev *d = GROW(f->devs, f->n_devs);

        *d = (gh_pci_dev){.class = class, .iommu_group = group};
        MUST(gh_pci_addr_parse(addr, &d->addr) == 0);
        d->driver = dup_or_null(driver);
        d->module = dup_or_null(module);
        if (nodes)
                MUST(strv_split(nodes, " ", &d->nodes) == 0);
        return d;
}

gh_module *tf_add_module(gh_facts *f, const char *name, const char *holders, bool builtin)
{
        gh_module *m = GROW(f->modules, f->n_modules);

        *m = (gh_module){.name = strdup(name), .builtin = builtin};
        if (holders)
                MUST(strv_split(holders, " ", &m->holders) == 0);
        if (!builtin) {
                MUST(asprintf(&m->path, "/lib/modules/" TF_KERNEL "/kernel/%s.ko", name) > 0);
                MUST(asprintf(&m->file_srcversion, "SRC%s", name) > 0);
                m->loaded_srcversion = strdup(m->file_srcversion);
        }
        return m;
}

void tf_module_param(gh_facts *f, const char *module, const char *param)
{
        gh_module *m = (gh_module *)gh_facts_find_module(f, module);

        MUST(m && strv_extend(&m->params, param) == 0);
}

void tf_add_holder(gh_facts *f, pid_t pid, const char *comm, const char *node, const char *unit,
                   const char *session_type, const char *session_class)
{
        gh_holder *h = GROW(f->holders, f->n_holders);

        *h = (gh_holder){.pid = pid, .comm = strdup(comm), .node = strdup(node), .unit = dup_or_null(unit)};
        h->session_type = dup_or_null(session_type);
        h->session_class = dup_or_null(session_class);
        if (session_type)
                h->session = strdup("2");
}

void tf_holder_identity(gh_facts *f, const char *cgroup, const char *exe)
{
        gh_holder *h = &f->holders[f->n_holders - 1];

        free(h->cgroup);
        free(h->exe);
        h->cgroup = dup_or_null(cgroup);
        h->exe = dup_or_null(exe);
}

void tf_add_unit(gh_facts *f, const char *name, bool active)
{
        gh_unit_state *u = GROW(f->units, f->n_units);

        *u = (gh_unit_state){.name = strdup(name), .active = active};
        f->units_known = true;
}

void tf_add_claim(gh_facts *f, const char *addr, const char *domain)
{
        gh_claim *c = GROW(f->claims, f->n_claims);

        c->domain = strdup(domain);
        MUST(gh_pci_addr_parse(addr, &c->addr) == 0);
}

void tf_domain_add(gh_domain *d, const char *addr, gh_hostdev_kind kind)
{
        gh_hostdev *h = GROW(d->hostdevs, d->n_hostdevs);

        *h = (gh_hostdev){.kind = kind, .managed = true};
        MUST(gh_pci_addr_parse(addr, &h->addr) == 0);
}

void tf_domain(gh_domain *d, const char *addrs)
{
        _cleanup_strv_free_ char **l = NULL;

        *d = (gh_domain){.name = strdup("win11")};
        MUST(strv_split(addrs, " ", &l) == 0);
        STRV_FOREACH (a, l)
                tf_domain_add(d, *a, GH_HOSTDEV_PCI);
}
