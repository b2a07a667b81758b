/* `gpu-handover plan DOMAIN [--xml FILE|-]`: a dry run of prepare. It reads the host and prints the
 * devices it would take and every step in order; it changes nothing. */
#include <errno.h>
#include <getopt.h>

#include "core/plan.h"
#include "front.h"
#include "host/conffile.h"
#include "host/gather.h"
#include "shared/fileio.h"

static int read_xml(gh_context *ctx, const char *domain, const char *xml_path, char **ret, size_t *ret_len)
{
        _cleanup_free_ char *def = NULL, *path = NULL;
        int r;

        if (xml_path && streq(xml_path, "-"))
                return read_full_fd(STDIN_FILENO, GH_DOMXML_MAX, ret, ret_len);
        if (!xml_path) {
                /* libvirt's persistent definition: a file read, not a call into libvirt. */
                if (asprintf(&def, "/etc/libvirt/qemu/%s.xml", domain) < 0)
                        return -ENOMEM;
                path = path_join(ctx->root, def);
        } else
                path = strdup(xml_path);
        if (!path)
                return -ENOMEM;
        r = read_full_file(path, GH_DOMXML_MAX, ret, ret_len);
        if (r < 0)
                fprintf(stderr, "gpu-handover: cannot read domain XML '%s': %s\n", path, strerror(-r));
        return r;
}

static void print_dev(const gh_facts *f, const gh_pci_addr *a)
{
        const gh_pci_dev *d = gh_facts_find_dev(f, a);

        if (!d)
                return;
        printf("  %s  %04x:%04x  class %06x  driver %s", GH_PCI_ADDR_STR(a), d->vendor, d->device, d->class,
               d->driver ? d->driver : "(none)");
        if (d->module)
                printf(" (module %s)", d->module);
        printf("  IOMMU group %d%s\n", d->iommu_group, d->boot_vga ? "  boot VGA" : "");
}

static void print_plan(const char *domain, const gh_plan *plan, const gh_facts *f)
{
        printf("Domain '%s'\n\nDevices to hand over:\n", domain);
        for (size_t i = 0; i < plan->n_devices; i++)
                print_dev(f, &plan->devices[i]);
        if (plan->n_devices == 0)
                printf("  (none)\n");
        printf("\nProcesses holding the domain's devices now:\n");
        for (size_t i = 0; i < f->n_holders; i++)
                printf("  pid %d (%s) holds %s%s%s\n", (int)f->holders[i].pid, strempty(f->holders[i].comm),
                       f->holders[i].node, f->holders[i].unit ? ", unit " : "", strempty(f->holders[i].unit));
        if (f->n_holders == 0)
                printf("  (none)\n");
        printf("\nWhy:\n");
        STRV_FOREACH (n, plan->notes)
                printf("  - %s\n", *n);
        if (!f->units_known)
                printf("  - systemd could not be asked: display manager and unit states are unknown\n");
        printf("\nSteps (prepare order; release undoes them in reverse), budget %us:\n", plan->timeout_sec);
        for (size_t i = 0; i < plan->n_steps; i++) {
                _cleanup_free_ char *what = NULL;

                if (gh_step_describe(&plan->steps[i], &what) >= 0)
                        printf("  %2zu. %s\n", i + 1, what);
        }
        printf("\nThis was a dry run: nothing was changed.\n");
}

static int plan_domain(gh_context *ctx, const char *domain, const char *xml, size_t len)
{
        _cleanup_(gh_policy_done) gh_policy p = {};
        _cleanup_(gh_domain_done) gh_domain dom = {};
        _cleanup_(gh_facts_done) gh_facts f = {};
        _cleanup_(gh_plan_done) gh_plan plan = {};
        gh_units *units = NULL;
        gh_error err = {};
        int r;

        gh_policy_init(&p);
        r = gh_config_load(ctx->root, domain, 0, &p, &err);
        if (r >= 0)
                r = gh_domxml_parse(xml, len, &dom, &err);
        if (r >= 0) {
                if (gh_units_open(ctx->root, &units) < 0)
                        units = NULL;
                r = gh_facts_gather(ctx->root, domain, &p, &dom, units, &f, &err);
                gh_units_free(units);
        }
        if (r >= 0)
                r = gh_plan_build(domain, &p, &dom, &f, &plan, &err);
        if (r < 0) {
                fprintf(stderr, "gpu-handover: domain '%s': %s\n", domain, err.msg[0] ? err.msg : strerror(-r));
                return GH_EXIT_FAILURE;
        }
        print_plan(domain, &plan, &f);
        return GH_EXIT_OK;
}

int gh_cmd_plan(gh_context *ctx, int argc, char *argv[])
{
        static const struct option opts[] = {{"xml", required_argument, NULL, 'x'}, {}};
        _cleanup_free_ char *xml = NULL;
        const char *xml_path = NULL;
        size_t len = 0;
        int c;

        optind = 0; /* glibc: 0 re-initialises getopt fully after main's '+' scan */
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                if (c != 'x') {
                        fprintf(stderr, "gpu-handover: usage: plan DOMAIN [--xml FILE|-]\n");
                        return GH_EXIT_USAGE;
                }
                xml_path = optarg;
        }
        if (optind != argc - 1) {
                fprintf(stderr, "gpu-handover: usage: plan DOMAIN [--xml FILE|-]\n");
                return GH_EXIT_USAGE;
        }
        if (read_xml(ctx, argv[optind], xml_path, &xml, &len) < 0)
                return GH_EXIT_FAILURE;
        return plan_domain(ctx, argv[optind], xml, len);
}
