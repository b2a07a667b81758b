/* `gpu-handover claim-boot`: at boot, before the display manager, binds to vfio-pci the devices of the
 * libvirt domains marked autostart whose config says claim_at_boot = yes, so that no host driver or
 * display server takes them first. It unbinds drivers but never unloads modules or ends processes:
 * a device that is held or will not let go stays on the host. It writes no journal: the hook's
 * prepare later finds the devices on vfio-pci, and its release gives them to the host. */
#include <dirent.h>
#include <errno.h>

#include "core/plan.h"
#include "core/unbind-wait.h"
#include "front.h"
#include "host/conffile.h"
#include "host/gather.h"
#include "host/hostops.h"
#include "host/lock.h"
#include "host/log.h"
#include "host/pci.h"
#include "shared/fileio.h"
#include "shared/strv.h"

#define LIBVIRT_QEMU_DIR "/etc/libvirt/qemu"
#define AUTOSTART_DIR LIBVIRT_QEMU_DIR "/autostart"
#define VFIO_DRIVER "vfio-pci"
#define VFIO_MODULE "vfio-pci"
/* At boot a step that takes longer than this is stuck: the device stays on the host, the boot goes on. */
#define STEP_TIMEOUT_MAX (10 * USEC_PER_SEC)
#define LOCK_TIMEOUT (30 * USEC_PER_SEC)

typedef enum claim_state {
        CLAIM_PENDING, /* still on its way to vfio-pci */
        CLAIM_DONE,
        CLAIM_ALREADY, /* on vfio-pci before we came: left as it is */
        CLAIM_LEFT,    /* left on the host; why says so */
} claim_state;

typedef struct claim_dev {
        char addr[GH_PCI_ADDR_MAX];
        int group;
        char *old_override; /* put back when the device stays on the host; never vfio-pci */
        char *driver;       /* the host driver we unbound, NULL when none */
        claim_state state;
        char *why;
} claim_dev;

typedef struct claim {
        const char *domain;
        gh_real_host *host;
        usec_t step_timeout;
        claim_dev *devs;
        size_t n;
} claim;

static void claim_done(claim *c)
{
        for (size_t i = 0; c->devs && i < c->n; i++) {
                free(c->devs[i].old_override);
                free(c->devs[i].driver);
                free(c->devs[i].why);
        }
        free(c->devs);
}

static gh_log_fields dev_fields(const claim *c, const claim_dev *d, const char *step)
{
        return (gh_log_fields){.domain = c->domain, .addr = d->addr, .step = step};
}

static void leave(const claim *c, claim_dev *d, const char *step, const gh_error *err, int r)
{
        gh_log_fields f = dev_fields(c, d, step);
        const char *why = gh_error_isset(err) ? err->msg : strerror(-r);

        d->state = CLAIM_LEFT;
        d->why = strdup(why);
        gh_log_full(LOG_WARNING, 0, &f, "claim at boot: %s stays on the host: %s", d->addr, why);
}

/* Puts back the override of a device whose host driver never let go: it is as we found it. */
static void restore_override(const claim *c, claim_dev *d)
{
        gh_log_fields f = dev_fields(c, d, "set-override");
        gh_error e = {};
        int r = gh_real_host_ops.override_set(c->host, d->addr, d->old_override,
                                              deadline_after(c->step_timeout), &e);

        if (r < 0)
                gh_log_full(LOG_ERR, 0, &f, "claim at boot: %s", e.msg);
}

/* Freed from its host driver but not taken by vfio-pci: back to the host driver it had. */
static void give_back(const claim *c, claim_dev *d, const char *step, const gh_error *why, int r)
{
        gh_log_fields f = dev_fields(c, d, step);
        gh_error e = {};
        int k = gh_real_host_ops.dev_give_back(c->host, d->addr, d->old_override, d->driver,
                                               deadline_after(c->step_timeout), &e);

        if (k < 0)
                gh_log_full(LOG_ERR, 0, &f, "claim at boot: cannot give %s back to the host: %s", d->addr,
                            e.msg);
        leave(c, d, step, why, r);
}

/* The plan's end-holders step names the nodes that count: nvidia's shared control nodes only when
 * nvidia itself would go, since other NVIDIA GPUs' users hold them too. */
static char *const *plan_holder_nodes(const gh_plan *plan)
{
        for (size_t i = 0; i < plan->n_steps; i++)
                if (plan->steps[i].kind == GH_STEP_END_HOLDERS)
                        return plan->steps[i].nodes;
        return NULL;
}

static const gh_holder *dev_holder(const gh_facts *f, const gh_pci_dev *d, char *const *nodes)
{
        for (size_t i = 0; i < f->n_holders; i++)
                if (strv_contains(d->nodes, f->holders[i].node) && strv_contains(nodes, f->holders[i].node))
                        return &f->holders[i];
        return NULL;
}

static int dev_init(claim *c, claim_dev *cd, const gh_pci_dev *d, const gh_facts *f, char *const *nodes)
{
        const gh_holder *h = dev_holder(f, d, nodes);
        gh_log_fields lf = dev_fields(c, cd, NULL);
        gh_error e = {};

        cd->group = d->iommu_group;
        if (d->override && !streq(d->override, VFIO_DRIVER) && !(cd->old_override = strdup(d->override)))
                return -ENOMEM;
        if (streq_ptr(d->driver, VFIO_DRIVER)) {
                cd->state = CLAIM_ALREADY;
                gh_log_full(LOG_INFO, 0, &lf, "claim at boot: %s is on vfio-pci already", cd->addr);
        } else if (h) {
                gh_error_set(&e, -EBUSY, "pid %d (%s) holds %s, and claim-boot ends no process", (int)h->pid,
                             strempty(h->comm), gh_holder_what(h));
                leave(c, cd, NULL, &e, -EBUSY);
        } else if (gh_unbind_check_wait(f, c->domain, d, NULL, &e) < 0) {
                /* claim-boot unbinds even where a hand-over would unload the driver's modules. */
                leave(c, cd, NULL, &e, e.code);
        }
        return 0;
}

static int claim_init(claim *c, const gh_plan *plan, const gh_facts *f)
{
        c->devs = calloc(plan->n_devices + 1, sizeof(claim_dev));
        if (!c->devs)
                return -ENOMEM;
        for (size_t i = 0; i < plan->n_devices; i++) {
                const gh_pci_dev *d = gh_facts_find_dev(f, &plan->devices[i]);
                int r = 0;

                c->n++;
                gh_pci_addr_format(&plan->devices[i], c->devs[i].addr);
                /* The planner selects only devices it found in the facts; this is for safety's sake. */
                if (!d)
                        leave(c, &c->devs[i], NULL, NULL, -ENODEV);
                else
                        r = dev_init(c, &c->devs[i], d, f, plan_holder_nodes(plan));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The override first, so that no host driver can take the device once it is free. */
static int point_at_vfio(const claim *c, claim_dev *d)
{
        gh_log_fields f = dev_fields(c, d, "set-override");
        gh_error e = {};
        int r = gh_real_host_ops.override_set(c->host, d->addr, VFIO_DRIVER, deadline_after(c->step_timeout),
                                              &e);

        if (r < 0) {
                leave(c, d, "set-override", &e, r);
                return r;
        }
        gh_log_full(LOG_INFO, 0, &f, "claim at boot: driver_override of %s set to vfio-pci", d->addr);
        /* The driver bound now, not the one gathered: udev may have loaded one meanwhile. */
        r = gh_pci_get_driver(c->host->root, d->addr, &d->driver);
        if (r < 0) {
                gh_error_set(&e, r, "cannot read the driver of %s: %s", d->addr, strerror(-r));
                restore_override(c, d);
                leave(c, d, "unbind", &e, r);
                return r;
        }
        if (streq_ptr(d->driver, VFIO_DRIVER)) {
                free(d->driver);
                d->driver = NULL;
        }
        return 0;
}

static void free_from_host(const claim *c, claim_dev *d)
{
        gh_log_fields f = dev_fields(c, d, "unbind");
        gh_error e = {};
        int r;

        if (d->state != CLAIM_PENDING || point_at_vfio(c, d) < 0 || !d->driver)
                return;
        r = gh_real_host_ops.dev_unbind(c->host, d->addr, d->driver, deadline_after(c->step_timeout), &e);
        if (r < 0) {
                restore_override(c, d);
                leave(c, d, "unbind", &e, r);
                return;
        }
        gh_log_full(LOG_INFO, 0, &f, "claim at boot: unbound %s from '%s'", d->addr, d->driver);
}

static bool any_pending(const claim *c)
{
        for (size_t i = 0; i < c->n; i++)
                if (c->devs[i].state == CLAIM_PENDING)
                        return true;
        return false;
}

static void load_vfio(const claim *c)
{
        gh_log_fields f = {.domain = c->domain, .step = "load-module"};
        gh_error e = {};
        int r = gh_real_host_ops.module_load(c->host, VFIO_MODULE, deadline_after(c->step_timeout), &e);

        if (r >= 0) {
                gh_log_full(LOG_INFO, 0, &f, "claim at boot: module '%s' is loaded", VFIO_MODULE);
                return;
        }
        for (size_t i = 0; i < c->n; i++)
                if (c->devs[i].state == CLAIM_PENDING)
                        give_back(c, &c->devs[i], "load-module", &e, r);
}

static void bind_vfio(const claim *c, claim_dev *d)
{
        gh_log_fields f = dev_fields(c, d, "bind-vfio");
        gh_error e = {};
        int r;

        if (d->state != CLAIM_PENDING)
                return;
        r = gh_real_host_ops.dev_bind_vfio(c->host, d->addr, d->group, deadline_after(c->step_timeout), &e);
        if (r < 0) {
                give_back(c, d, "bind-vfio", &e, r);
                return;
        }
        d->state = CLAIM_DONE;
        gh_log_full(LOG_INFO, 0, &f, "claim at boot: %s is on vfio-pci, /dev/vfio/%d is there", d->addr,
                    d->group);
}

static void print_summary(const claim *c)
{
        static const char *const words[] = {[CLAIM_PENDING] = "left alone",
                                            [CLAIM_DONE] = "claimed",
                                            [CLAIM_ALREADY] = "on vfio-pci already",
                                            [CLAIM_LEFT] = "left alone"};
        size_t on_vfio = 0;

        printf("%s:", c->domain);
        for (size_t i = 0; i < c->n; i++) {
                const claim_dev *d = &c->devs[i];

                on_vfio += d->state == CLAIM_DONE || d->state == CLAIM_ALREADY;
                printf("%s %s %s%s%s%s", i ? ";" : "", d->addr, words[d->state], d->why ? " (" : "",
                       strempty(d->why), d->why ? ")" : "");
        }
        printf("\n");
        gh_log_full(on_vfio == c->n ? LOG_INFO : LOG_WARNING, 0, &(gh_log_fields){.domain = c->domain},
                    "claim at boot: %zu of %zu device(s) of domain '%s' on vfio-pci", on_vfio, c->n,
                    c->domain);
}

static int claim_devices(gh_real_host *host, const char *domain, const gh_policy *p, const gh_plan *plan,
                         const gh_facts *f)
{
        usec_t budget = (usec_t)p->timeout_sec * USEC_PER_SEC;
        _cleanup_(claim_done) claim c = {.domain = domain, .host = host};
        int r;

        c.step_timeout = budget < STEP_TIMEOUT_MAX ? budget : STEP_TIMEOUT_MAX;
        r = claim_init(&c, plan, f);
        if (r < 0)
                return r;
        for (size_t i = 0; i < c.n; i++)
                free_from_host(&c, &c.devs[i]);
        if (any_pending(&c))
                load_vfio(&c);
        for (size_t i = 0; i < c.n; i++)
                bind_vfio(&c, &c.devs[i]);
        print_summary(&c);
        return 0;
}

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

/* The domain's definition, read and parsed before the lock is taken: it is the slow part, and bounded
 * only by the XML budget. */
static int parse_domain(const char *root, const char *domain, gh_domain *dom, gh_error *err)
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

/* The devices exactly as prepare would take them: allowlist, IOMMU group and claim checks included. */
static int select_devices(const char *root, const claim_input *in, gh_facts *f, gh_plan *plan,
                          gh_error *err)
{
        gh_error e = {};
        int r;

        /* No systemd: the claim stops no unit, and at boot the bus may not be up. */
        r = gh_facts_gather(root, in->domain, &in->p, &in->dom, NULL, f, &e);
        if (r < 0)
                return gh_error_set(err, r, "%s", e.msg);
        return gh_plan_build(in->domain, &in->p, &in->dom, f, plan, err);
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
        r = parse_domain(root, domain, &in->dom, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return not_claimed(domain, LOG_ERR, err.msg[0] ? err.msg : strerror(-r));
        in->ready = true;
        return 0;
}

/* Under the lock: 0 whatever happened to the domain (its summary line says); < 0 only when something is
 * badly wrong. */
static int claim_domain(gh_real_host *host, const claim_input *in)
{
        _cleanup_(gh_facts_done) gh_facts f = {};
        _cleanup_(gh_plan_done) gh_plan plan = {};
        gh_error err = {};
        int r;

        r = select_devices(host->root, in, &f, &plan, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return not_claimed(in->domain, LOG_ERR, err.msg[0] ? err.msg : strerror(-r));
        if (plan.n_devices == 0)
                return not_claimed(in->domain, LOG_INFO, "it asks for no device its config lets us take");
        return claim_devices(host, in->domain, &in->p, &plan, &f);
}

static bool is_autostart_link(const char *name)
{
        size_t n = strlen(name);

        return name[0] != '.' && n > strlen(".xml") && streq(name + n - strlen(".xml"), ".xml");
}

static int cmp_names(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The domains libvirt starts at boot: AUTOSTART_DIR/NAME.xml, whatever the link points to. Sorted. */
static int list_autostart(const char *root, char ***ret)
{
        _cleanup_free_ char *dir = path_join(root, AUTOSTART_DIR);
        _cleanup_strv_free_ char **names = NULL;
        DIR *d;
        int r = 0;

        if (!dir)
                return -ENOMEM;
        d = opendir(dir);
        if (!d && errno != ENOENT)
                return -errno;
        for (struct dirent *de; d && r >= 0 && (de = readdir(d));) {
                char *name;

                if (!is_autostart_link(de->d_name))
                        continue;
                name = strndup(de->d_name, strlen(de->d_name) - strlen(".xml"));
                r = name ? strv_push(&names, name) : -ENOMEM;
        }
        if (d)
                closedir(d);
        if (r < 0)
                return r;
        if (names)
                qsort(names, strv_length(names), sizeof(char *), cmp_names);
        *ret = TAKE_PTR(names);
        return 0;
}

static int claim_fail(const char *what, int r)
{
        gh_log_full(LOG_ERR, r, NULL, "claim at boot: %s", what);
        fprintf(stderr, "gpu-handover: %s: %s\n", what, strerror(-r));
        return GH_EXIT_FAILURE;
}

/* Every domain's files first, then the claims under the lock. */
static int claim_all(gh_real_host *host, char **domains)
{
        size_t n = strv_length(domains);
        claim_input *in = calloc(n, sizeof(*in));
        _cleanup_close_ int lock = -1;
        int r = in ? 0 : -ENOMEM;

        for (size_t i = 0; r >= 0 && i < n; i++)
                r = claim_read(host->root, domains[i], &in[i]);
        if (r >= 0 && (r = gh_lock_take(host->root, deadline_after(LOCK_TIMEOUT), &lock)) < 0) {
                claim_inputs_free(in, n);
                return claim_fail("cannot take the hand-over lock", r);
        }
        for (size_t i = 0; r >= 0 && i < n; i++)
                if (in[i].ready)
                        r = claim_domain(host, &in[i]);
        claim_inputs_free(in, n);
        return r < 0 ? claim_fail("out of memory", r) : GH_EXIT_OK;
}

static int cmd_claim_boot(gh_context *ctx, const gh_command *self, int argc, char *argv[])
{
        static const struct option opts[] = {GH_OPTION_HELP, {}};
        gh_opts o = {.cmd = self, .longopts = opts};
        _cleanup_(gh_real_host_done) gh_real_host host = {.root = ctx->root};
        _cleanup_strv_free_ char **domains = NULL;
        int r;

        while ((r = gh_opts_next(&o, argc, argv)) != GH_ARGS_END)
                if (r < 0)
                        return gh_args_exit(r);
        if ((r = gh_args_positional(self, argc, argv, 0, 0)) < 0)
                return gh_args_exit(r);
        gh_log_setup(GH_LOG_JOURNAL, LOG_INFO);
        r = list_autostart(ctx->root, &domains);
        if (r < 0)
                return claim_fail("cannot list " AUTOSTART_DIR, r);
        if (!domains) {
                printf("No domain is marked autostart: nothing to claim.\n");
                return GH_EXIT_OK;
        }
        return claim_all(&host, domains);
}

const gh_command gh_command_claim_boot = {
        .name = "claim-boot",
        .run = cmd_claim_boot,
        .args = "",
        .summary = "bind autostarted domains' GPUs to vfio-pci at boot, before the desktop takes them",
        .details = "Run at boot by gpu-handover-claim.service, before the display manager and libvirt: for\n"
                   "each domain in /etc/libvirt/qemu/autostart whose config says 'claim_at_boot = yes', binds\n"
                   "its devices to vfio-pci. Never unloads a module or ends a process: a device that is held\n"
                   "stays on the host. Exits 0 unless it could not run at all.\n",
};
