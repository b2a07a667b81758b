/* `gpu-handover claim-boot`: at boot, before the display manager, binds to vfio-pci the devices of the
 * libvirt domains marked autostart whose config says claim_at_boot = yes. The udev rules it writes
 * (core/claim-rules.h) have reserved them for vfio-pci before any host driver could bind them; what is
 * left to do is planned (gh_plan_build_claim) and run by the executor like any hand-over, which never
 * stops a unit, ends a process or unloads a module here. No journal is left once a claim worked: the
 * hook's prepare later finds the devices on vfio-pci, and its release gives them to the host. */
#include <errno.h>

#include "core/claim-rules.h"
#include "front.h"
#include "handover.h"
#include "host/claimfile.h"
#include "host/conffile.h"
#include "host/dirnames.h"
#include "host/lock.h"
#include "host/log.h"
#include "shared/fileio.h"
#include "shared/strv.h"

#define LIBVIRT_QEMU_DIR "/etc/libvirt/qemu"
#define AUTOSTART_DIR LIBVIRT_QEMU_DIR "/autostart"
#define LOCK_TIMEOUT (30 * USEC_PER_SEC)

typedef struct claim_input {
        const char *domain;
        gh_policy p;
        gh_domain dom;
        bool ready; /* opted in, its definition parsed: claim it under the lock */
} claim_input;

static void claim_inputs_free(claim_input *v, size_t n)
{
        for (size_t i = 0; v && i < n; i++) {
                gh_policy_done(&v[i].p);
                gh_domain_done(&v[i].dom);
        }
        free(v);
}

/* libvirt's persistent definition, read as a file: libvirt itself is not running yet. */
static int read_domain_xml(const char *root, const char *domain, char **ret, size_t *ret_len, gh_error *err)
{
        _cleanup_free_ char *rel = NULL, *path = NULL;
        int r;

        if (asprintf(&rel, LIBVIRT_QEMU_DIR "/%s.xml", domain) < 0 || !(path = path_join(root, rel)))
                return -ENOMEM;
        r = read_regular_file(path, GH_DOMXML_MAX, ret, ret_len);
        if (r < 0)
                return gh_error_set(err, r, "cannot read '%s': %s", rel,
                                    gh_domxml_read_error(r));
        return 0;
}

/* Before the lock is taken: it is the slow part, and bounded only by the XML budget. */
int gh_domain_file_parse(const char *root, const char *domain, gh_domain *dom, gh_error *err)
{
        _cleanup_free_ char *xml = NULL;
        gh_error e = {};
        size_t len = 0;
        int r;

        r = read_domain_xml(root, domain, &xml, &len, err);
        if (r < 0)
                return r;
        r = gh_domxml_parse(xml, len, dom, &e);
        if (r < 0)
                return gh_error_set(err, r, "bad domain XML in '" LIBVIRT_QEMU_DIR "/%s.xml': %s", domain,
                                    e.msg);
        if (dom->name && !streq(dom->name, domain))
                return gh_error_set(err, -EINVAL, "'" LIBVIRT_QEMU_DIR "/%s.xml' defines domain '%s'",
                                    domain, dom->name);
        return 0;
}

static int not_claimed(const char *domain, int level, const char *why)
{
        gh_log_full(level, 0, &(gh_log_fields){.domain = domain},
                    "claim at boot: domain '%s' not claimed: %s", domain, why);
        printf("%s: not claimed: %s\n", domain, why);
        return 0;
}

/* Before the lock: the config and the definition. in->ready says whether to go on; a domain that is not
 * (not opted in, a bad file) has had its line printed. < 0 only when something is badly wrong. */
static int claim_read(const char *root, const char *domain, claim_input *in)
{
        gh_error err = {};
        int r;

        in->domain = domain;
        gh_policy_init(&in->p);
        r = gh_config_load(root, domain, 0, &in->p, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return not_claimed(domain, r == -ENOENT ? LOG_INFO : LOG_ERR, err.msg);
        if (!in->p.claim_at_boot)
                return not_claimed(domain, LOG_INFO,
                                   "claim_at_boot is not set: its devices are taken when it starts");
        r = gh_domain_file_parse(root, domain, &in->dom, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return not_claimed(domain, LOG_ERR, err.msg[0] ? err.msg : strerror(-r));
        in->ready = true;
        return 0;
}

static int claim_fail(const char *what, int r)
{
        gh_log_full(LOG_ERR, r, NULL, "claim at boot: %s", what);
        fprintf(stderr, "gpu-handover: %s: %s\n", what, strerror(-r));
        return GH_EXIT_FAILURE;
}

static void print_summary(const gh_plan *plan)
{
        static const char *const words[_GH_CLAIM_KIND_MAX] = {[GH_CLAIM_TAKE] = "claimed",
                                                              [GH_CLAIM_ALREADY] = "on vfio-pci already",
                                                              [GH_CLAIM_LEAVE] = "left alone"};
        size_t on_vfio = 0;

        printf("%s:", plan->domain);
        for (size_t i = 0; i < plan->n_devices; i++) {
                const gh_claim_dev *c = &plan->claim[i];

                on_vfio += c->kind != GH_CLAIM_LEAVE;
                printf("%s %s %s%s%s%s", i ? ";" : "", GH_PCI_ADDR_STR(&plan->devices[i]), words[c->kind],
                       c->why ? " (" : "", strempty(c->why), c->why ? ")" : "");
        }
        printf("\n");
        gh_log_full(on_vfio == plan->n_devices ? LOG_INFO : LOG_WARNING, 0,
                    &(gh_log_fields){.domain = plan->domain},
                    "claim at boot: %zu of %zu device(s) of domain '%s' on vfio-pci", on_vfio,
                    plan->n_devices, plan->domain);
}

static void print_reserved(const gh_plan *plan)
{
        printf("%s: reserved at boot:", plan->domain);
        for (size_t i = 0; i < plan->n_devices; i++)
                printf("%s %s", i ? "," : "", GH_PCI_ADDR_STR(&plan->devices[i]));
        printf("\n");
}

typedef struct claim_run {
        const char *root;
        bool rules_only; /* --write-rules: plan and write the rules, claim nothing */
        gh_claim_rule *rules;
        size_t n_rules;
} claim_run;

/* Under the lock: 0 whatever happened to the domain (its line says); < 0 only when something is badly
 * wrong. A domain that could be planned is reserved at the next boot, even when its claim failed now. */
static int claim_domain(claim_run *run, const claim_input *in)
{
        _cleanup_(gh_plan_done) gh_plan plan = {};
        gh_error err = {};
        int r, k;

        r = gh_handover_claim(run->root, in->domain, &in->p, &in->dom, run->rules_only, &plan, &err);
        if (plan.domain && (k = gh_claim_rules_add(&run->rules, &run->n_rules, &plan)) < 0)
                return k;
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return not_claimed(in->domain, LOG_ERR, err.msg[0] ? err.msg : strerror(-r));
        if (plan.n_devices == 0)
                return not_claimed(in->domain, LOG_INFO, "it asks for no device its config lets us take");
        if (run->rules_only)
                print_reserved(&plan);
        else
                print_summary(&plan);
        return 0;
}

/* What the rules reserved at this boot and no domain took is the host's again. */
static void unreserve(const claim_run *run, const gh_pci_addr *reserved, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                const char *addr = GH_PCI_ADDR_STR(&reserved[i]);
                gh_error err = {};
                int r = gh_handover_unreserve(run->root, &reserved[i], &err);

                if (r < 0)
                        gh_log_full(LOG_ERR, 0, &(gh_log_fields){.addr = addr},
                                    "claim at boot: %s was reserved for vfio-pci and no domain took it, but "
                                    "cannot go back to the host: %s",
                                    addr, err.msg[0] ? err.msg : strerror(-r));
                if (r != 0)
                        printf("%s: reserved at boot, taken by no domain: %s%s\n", addr,
                               r > 0 ? "given back to the host" : "cannot go back to the host: ",
                               r > 0 ? "" : (err.msg[0] ? err.msg : strerror(-r)));
        }
}

static int write_rules(const claim_run *run)
{
        _cleanup_free_ char *text = NULL;
        gh_error err = {};
        int r = gh_claim_rules_format(run->rules, run->n_rules, &text);

        if (r >= 0)
                r = gh_claim_file_write(run->root, text, &err);
        if (r < 0) {
                gh_log_full(LOG_ERR, r, NULL, "claim at boot: %s", err.msg[0] ? err.msg : strerror(-r));
                fprintf(stderr, "gpu-handover: %s\n", err.msg[0] ? err.msg : strerror(-r));
                return r;
        }
        if (r > 0) {
                gh_log_full(LOG_INFO, 0, NULL, "claim at boot: %s %s: it reserves %zu function(s) at boot",
                            text ? "wrote" : "removed", GH_CLAIM_RULES_PATH, run->n_rules);
                printf("%s %s (%zu function(s) reserved at boot)\n", text ? "Wrote" : "Removed",
                       GH_CLAIM_RULES_PATH, run->n_rules);
        }
        return 0;
}

/* Under the lock: each domain's claim, then what the old rules reserved and no domain took goes back. */
static int claim_locked(claim_run *run, const claim_input *in, size_t n, const gh_pci_addr *reserved,
                        size_t n_reserved)
{
        _cleanup_close_ int lock = -1;
        int r = gh_lock_take(run->root, deadline_after(LOCK_TIMEOUT), &lock);

        if (r < 0)
                return claim_fail("cannot take the hand-over lock", r);
        for (size_t i = 0; r >= 0 && i < n; i++)
                if (in[i].ready)
                        r = claim_domain(run, &in[i]);
        if (r < 0)
                return claim_fail("out of memory", r);
        if (!run->rules_only)
                unreserve(run, reserved, n_reserved);
        return GH_EXIT_OK;
}

/* Every domain's files first, then the claims under the lock, then the rules for the next boot. */
static int claim_all(claim_run *run, char **domains)
{
        size_t n = strv_length(domains), n_reserved = 0;
        claim_input *in = calloc(n + 1, sizeof(*in));
        _cleanup_free_ gh_pci_addr *reserved = NULL;
        gh_error err = {};
        int r = in ? 0 : -ENOMEM;

        for (size_t i = 0; r >= 0 && i < n; i++)
                r = claim_read(run->root, domains[i], &in[i]);
        if (r >= 0 && (r = gh_claim_file_read(run->root, &reserved, &n_reserved, &err)) < 0 &&
            r != -ENOMEM) {
                gh_log_full(LOG_WARNING, r, NULL, "claim at boot: %s", err.msg);
                r = 0;
        }
        if (r < 0) {
                claim_inputs_free(in, n);
                return claim_fail("out of memory", r);
        }
        /* Nothing to claim and nothing to give back: no lock, and no run directory made for it. */
        if (n > 0 || n_reserved > 0)
                r = claim_locked(run, in, n, reserved, n_reserved);
        claim_inputs_free(in, n);
        if (r != GH_EXIT_OK)
                return r;
        return write_rules(run) < 0 ? GH_EXIT_FAILURE : GH_EXIT_OK;
}

static int cmd_claim_boot(gh_context *ctx, const gh_command *self, int argc, char *argv[])
{
        static const struct option opts[] = {GH_OPTION_HELP, {"write-rules", no_argument, NULL, 'w'}, {}};
        gh_opts o = {.cmd = self, .longopts = opts};
        _cleanup_strv_free_ char **domains = NULL;
        claim_run run = {.root = ctx->root};
        int r;

        while ((r = gh_opts_next(&o, argc, argv)) != GH_ARGS_END) {
                if (r < 0)
                        return gh_args_exit(r);
                if (r == 'w')
                        run.rules_only = true;
        }
        if ((r = gh_args_positional(self, argc, argv, 0, 0)) < 0)
                return gh_args_exit(r);
        gh_log_setup(GH_LOG_JOURNAL, LOG_INFO);
        /* The domains libvirt starts at boot: AUTOSTART_DIR/NAME.xml, whatever the link points to. */
        r = gh_dir_names(ctx->root, AUTOSTART_DIR, ".xml", &domains);
        if (r < 0)
                return claim_fail("cannot list " AUTOSTART_DIR, r);
        if (!domains)
                printf("No domain is marked autostart: nothing to claim.\n");
        r = claim_all(&run, domains);
        gh_claim_rules_free(run.rules, run.n_rules);
        return r;
}

const gh_command gh_command_claim_boot = {
        .name = "claim-boot",
        .run = cmd_claim_boot,
        .args = "[--write-rules]",
        .summary = "bind autostarted domains' GPUs to vfio-pci at boot, before the desktop takes them",
        .details =
                "Run at boot by gpu-handover-claim.service, before the display manager and libvirt: for\n"
                "each domain in /etc/libvirt/qemu/autostart whose config says 'claim_at_boot = yes', binds\n"
                "its devices to vfio-pci. Never unloads a module or ends a process: a device that is held\n"
                "stays on the host. Then writes " GH_CLAIM_RULES_PATH ",\n"
                "whose udev rules reserve those devices for vfio-pci at the next boot, before any host\n"
                "driver can take them. Exits 0 unless it could not run at all.\n"
                "\n"
                "  --write-rules   only write the rules (after changing a config): claims nothing\n",
};
