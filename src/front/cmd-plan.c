/* `gpu-handover plan DOMAIN [--xml FILE|-]`: a dry run of prepare. It reads the host and prints the
 * devices it would take and every step in order; it changes nothing. */
#include <errno.h>
#include <getopt.h>

#include "core/check.h"
#include "core/giveback.h"
#include "core/plan.h"
#include "core/session.h"
#include "front.h"
#include "host/conffile.h"
#include "host/gather.h"
#include "shared/fileio.h"

/* From --xml FILE, stdin, or libvirt's persistent definition (a file read, not a call into libvirt). On
 * failure, says what could not be read and what to do, as check does. */
static int read_xml(gh_context *ctx, const char *domain, const char *xml_path, char **ret, size_t *ret_len)
{
        _cleanup_free_ char *def = NULL, *path = NULL;
        int r;

        if (xml_path && streq(xml_path, "-"))
                path = strdup("stdin");
        else if (xml_path)
                path = strdup(xml_path);
        else if (asprintf(&def, "/etc/libvirt/qemu/%s.xml", domain) >= 0)
                path = path_join(ctx->root, def);
        if (!path)
                return -ENOMEM;
        if (xml_path && streq(xml_path, "-"))
                r = read_full_fd(STDIN_FILENO, GH_DOMXML_MAX, ret, ret_len);
        else
                r = read_regular_file(path, GH_DOMXML_MAX, ret, ret_len);
        if (r < 0)
                fprintf(stderr, "gpu-handover: plan: domain '%s': cannot read its XML from '%s': %s\n      hint: %s\n",
                        domain, path, gh_domxml_read_error(r),
                        xml_path ? GH_HINT_XML_GIVEN : GH_HINT_XML_DEFINITION);
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

/* What release does, in its own order (giveback.h), with the step each action gives back. */
static void print_giveback(const gh_plan *plan)
{
        _cleanup_free_ gh_giveback_action *order = NULL;
        size_t n = 0;

        if (gh_giveback_order(plan->steps, plan->n_steps, &order, &n) < 0)
                return;
        printf("\nGive-back (release, or the rollback of a failed prepare; each undoes the step numbered):\n");
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *what = NULL;

                if (gh_giveback_describe(&order[i], &plan->steps[order[i].step], &what) >= 0)
                        printf("  %2zu. %s (step %zu)\n", i + 1, what, order[i].step + 1);
        }
        if (n == 0)
                printf("  (nothing to undo)\n");
}

/* What the plan does to the graphical session, in one line. */
static void print_session(const gh_plan *plan, const gh_facts *f)
{
        _cleanup_(gh_session_done) gh_session s = {};
        _cleanup_free_ char *line = NULL;

        if (gh_session_from_plan(plan, f, &s) >= 0 && gh_session_describe(&s, &line) >= 0)
                printf("\nThe graphical session: %s\n", line);
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
                       gh_holder_what(&f->holders[i]), f->holders[i].unit ? ", unit " : "",
                       strempty(f->holders[i].unit));
        if (f->n_holders == 0)
                printf("  (none)\n");
        print_session(plan, f);
        printf("\nWhy:\n");
        STRV_FOREACH (n, plan->notes)
                printf("  - %s\n", *n);
        if (!f->units_known)
                printf("  - systemd could not be asked: display manager and unit states are unknown\n");
        printf("\nSteps (prepare order), budget %us:\n", plan->timeout_sec);
        for (size_t i = 0; i < plan->n_steps; i++) {
                _cleanup_free_ char *what = NULL;

                if (gh_step_describe(&plan->steps[i], &what) >= 0)
                        printf("  %2zu. %s\n", i + 1, what);
        }
        print_giveback(plan);
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
                /* The planner's refusals name the domain themselves, as the hook prints them. */
                const char *msg = err.msg[0] ? err.msg : strerror(-r);

                if (startswith(msg, "domain '"))
                        fprintf(stderr, "gpu-handover: %s\n", msg);
                else
                        fprintf(stderr, "gpu-handover: domain '%s': %s\n", domain, msg);
                return GH_EXIT_FAILURE;
        }
        print_plan(domain, &plan, &f);
        return GH_EXIT_OK;
}

static int cmd_plan(gh_context *ctx, const gh_command *self, int argc, char *argv[])
{
        static const struct option opts[] = {{"xml", required_argument, NULL, 'x'}, GH_OPTION_HELP, {}};
        gh_opts o = {.cmd = self, .longopts = opts};
        _cleanup_free_ char *xml = NULL;
        const char *xml_path = NULL, *domain;
        size_t len = 0;
        int r;

        while ((r = gh_opts_next(&o, argc, argv)) != GH_ARGS_END) {
                if (r < 0)
                        return gh_args_exit(r);
                xml_path = optarg;
        }
        if ((r = gh_args_positional(self, argc, argv, 1, 1)) < 0 || (r = gh_args_domain(self, argv[optind])) < 0)
                return gh_args_exit(r);
        domain = argv[optind];
        if (read_xml(ctx, domain, xml_path, &xml, &len) < 0)
                return GH_EXIT_FAILURE;
        return plan_domain(ctx, domain, xml, len);
}

const gh_command gh_command_plan = {
        .name = "plan",
        .run = cmd_plan,
        .args = "DOMAIN [--xml FILE|-]",
        .summary = "dry run of prepare: the devices, why, and every step in order",
        .details = "Prints what 'prepare begin' would do for DOMAIN: the devices it would take, the processes\n"
                   "holding them, why each decision was made, and every step with its undo. Changes nothing.\n"
                   "Exits 1, with the hook's message, when the hand-over would be refused.\n\n"
                   "  --xml FILE|-   the domain's XML from FILE (- for stdin) instead of libvirt's definition\n"
                   "                 /etc/libvirt/qemu/DOMAIN.xml (read as a file; libvirt is not asked)\n",
};
