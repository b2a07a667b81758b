/* Hand-over and give-back: the sequence around the core (config, lock, facts, plan, journal,
 * executor), with each step logged to the journal with its duration. */
#include <errno.h>
#include <signal.h>

#include "core/config.h"
#include "core/exec.h"
#include "core/identity.h"
#include "host/conffile.h"
#include "host/gather.h"
#include "host/hostops.h"
#include "host/lock.h"
#include "host/pci.h"
#include "host/log.h"
#include "host/vmuse.h"
#include "handover.h"

/* How long a release waits for the hand-over lock: longer than any prepare can hold it (the largest
 * timeout, plus the rollback's grace, plus a margin for the process to end), so that a release never
 * gives up while another domain's prepare runs (a release holds it no longer than a timeout). Giving up
 * would leave the devices with vfio-pci and the domain unable to start until 'restore'. */
#define RELEASE_LOCK_MARGIN_SEC 5u
#define RELEASE_LOCK_WAIT                                                                                   \
        ((usec_t)(GH_POLICY_TIMEOUT_MAX + GH_EXEC_ROLLBACK_GRACE_SEC + RELEASE_LOCK_MARGIN_SEC) *           \
         USEC_PER_SEC)

/* The display manager waits for claim-boot: a claim that takes longer is stuck, and is undone. */
#define CLAIM_BUDGET_MAX_SEC 30u
/* Reading a driver_override takes the device's lock: a device stuck elsewhere must not hold up the boot. */
#define GH_UNRESERVE_READ_TIMEOUT (2 * USEC_PER_SEC)

typedef struct step_log {
        const char *domain;
        long pause_after; /* test-only: stop after this step (1-based), for crash tests */
} step_log;

/* Crash tests stop the test build for good after a given step; the installed tool has no such switch. */
#ifdef GH_TEST_BUILD
static long test_pause_after(void)
{
        const char *v = getenv("GH_TEST_PAUSE_AFTER_STEP");

        return v ? strtol(v, NULL, 10) : 0;
}

static void test_pause(const step_log *l, size_t index, gh_log_fields *f)
{
        if (l->pause_after <= 0 || (long)index + 1 != l->pause_after)
                return;
        /* Not the end of a step: no duration, or whatever adds up the steps counts it twice. */
        f->has_duration = false;
        gh_log_full(LOG_WARNING, 0, f, "pausing after step %zu as GH_TEST_PAUSE_AFTER_STEP asks", index + 1);
        for (;;)
                pause();
}
#else
static long test_pause_after(void)
{
        return 0;
}

static void test_pause(const step_log *l, size_t index, gh_log_fields *f)
{
}
#endif

static void log_step(void *ctx, size_t index, const gh_step *s, const gh_giveback_action *undo, int r,
                     usec_t duration, const gh_error *err)
{
        step_log *l = ctx;
        _cleanup_free_ char *what = NULL;
        gh_log_fields f = {.domain = l->domain, .addr = s->addr[0] ? s->addr : NULL,
                           .step = gh_step_kind_to_string(s->kind), .duration = duration, .has_duration = true};

        if ((undo ? gh_giveback_describe(undo, s, &what) : gh_step_describe(s, &what)) < 0)
                return;
        if (r < 0)
                gh_log_full(LOG_ERR, 0, &f, "%s%s: failed after %.1f ms: %s", undo ? "undo: " : "", what,
                            (double)duration / 1000.0, err && err->msg[0] ? err->msg : strerror(-r));
        else
                gh_log_full(LOG_INFO, 0, &f, "%s%s: done in %.1f ms", undo ? "undo: " : "", what,
                            (double)duration / 1000.0);
        if (!undo && r >= 0)
                test_pause(l, index, &f);
}

static int open_units(const char *root, const char *domain, gh_units **ret)
{
        int r = gh_units_open(root, ret);

        if (r < 0) {
                gh_log_full(LOG_WARNING, r, &(gh_log_fields){.domain = domain},
                            "no connection to systemd: units will not be stopped or started");
                *ret = NULL;
        }
        return 0;
}

static int load_policy(const char *root, const char *domain, gh_policy *p, gh_error *err)
{
        gh_policy_init(p);
        return gh_config_load(root, domain, 0, p, err);
}

static int refuse_if_recorded(const char *root, const char *domain, gh_error *err)
{
        gh_step *steps = NULL;
        size_t n = 0;
        gh_error e = {};
        int r = gh_journal_read(root, domain, 0, &steps, &n, &e);

        gh_steps_free(steps, n);
        if (r == -ENOENT)
                return 0;
        if (r == -EPERM)
                return gh_error_set(err, r, "domain '%s': %s", domain, e.msg);
        return gh_error_set(err, -EEXIST,
                            "domain '%s': a hand-over is recorded already in " GH_RUN_DIR "/%s.journal: run 'gpu-handover restore %s' first",
                            domain, domain, domain);
}

static int parse_xml(const char *domain, const char *xml, size_t len, gh_domain *ret, gh_error *err)
{
        gh_error e = {};
        int r = gh_domxml_parse(xml, len, ret, &e);

        return r < 0 ? gh_error_set(err, r, "domain '%s': bad domain XML: %s", domain, e.msg) : 0;
}

/* Another VM's process holds a device node: stopping nothing on this host ends it (unlike pid 1's and
 * logind's copies of a session's device, which go with the display manager), and the holders step would
 * refuse it. Refuse before the first step: a display manager stopped first would end the user's session
 * for nothing. */
static int refuse_vm_holder(const char *domain, const gh_holder *h, gh_error *err)
{
        _cleanup_free_ char *why = NULL;

        if (gh_holder_guard_describe(h, GH_GUARD_VM, &why) < 0)
                return gh_error_set(err, -ENOMEM, "domain '%s': out of memory", domain);
        return gh_error_set(err, -EBUSY,
                            "domain '%s': pid %d (%s) holds %s and is protected: %s; nothing was changed",
                            domain, (int)h->pid, strempty(h->comm), gh_holder_what(h), strempty(why));
}

static int plan_for(const char *root, const char *domain, const gh_policy *p, const gh_domain *dom,
                    gh_units *units, gh_plan *ret, gh_error *err)
{
        _cleanup_(gh_facts_done) gh_facts f = {};
        const gh_holder *h;
        gh_error e = {};
        int r;

        r = gh_facts_gather(root, domain, p, dom, units, &f, &e);
        if (r < 0)
                return gh_error_set(err, r, "domain '%s': %s", domain, e.msg);
        r = gh_plan_build(domain, p, dom, &f, ret, err);
        if (r < 0)
                return r;
        h = gh_plan_vm_holder(ret, &f);
        if (!h)
                return 0;
        gh_plan_done(ret);
        *ret = (gh_plan){};
        return refuse_vm_holder(domain, h, err);
}

static int run_plan(const char *root, const gh_plan *plan, usec_t deadline, gh_real_host *host,
                    gh_error *err)
{
        step_log l = {.domain = plan->domain, .pause_after = test_pause_after()};
        gh_exec_observer obs = {.step_done = log_step, .ctx = &l};
        gh_error e = {};
        int undo = 0, r;

        r = gh_journal_create(root, plan->domain, 0, &host->journal, &e);
        if (r < 0)
                return gh_error_set(err, r, "domain '%s': cannot create its journal: %s", plan->domain,
                                    gh_error_isset(&e) ? e.msg : strerror(-r));
        r = gh_exec_prepare(plan, deadline, &gh_real_host_ops, host, &obs, &undo, err);
        if (r < 0 && undo >= 0)
                (void)gh_journal_remove(root, plan->domain);
        else if (r < 0)
                gh_error_replace(err, r,
                                 "%s (the journal is kept: 'gpu-handover restore %s' undoes what is left)",
                                 err->msg, plan->domain);
        return r;
}

int gh_handover_prepare(const char *root, const char *domain, const char *xml, size_t len, gh_error *err)
{
        _cleanup_(gh_policy_done) gh_policy p = {};
        _cleanup_(gh_plan_done) gh_plan plan = {};
        _cleanup_(gh_domain_done) gh_domain dom = {};
        _cleanup_(gh_real_host_done) gh_real_host host = {.root = root};
        _cleanup_close_ int lock = -1;
        usec_t start = now_usec(), deadline;
        int r;

        r = load_policy(root, domain, &p, err);
        if (r == -ENOENT)
                return 0;
        if (r < 0 || (r = parse_xml(domain, xml, len, &dom, err)) < 0)
                return r;
        /* One budget from the hook's start: the lock wait and the gathering take from the steps' time. */
        deadline = start + (usec_t)p.timeout_sec * USEC_PER_SEC;
        r = gh_lock_take(root, deadline, &lock);
        if (r < 0)
                return gh_error_set(err, r, "domain '%s': cannot take the hand-over lock: %s", domain, strerror(-r));
        if ((r = refuse_if_recorded(root, domain, err)) < 0 || (r = open_units(root, domain, &host.units)) < 0 ||
            (r = plan_for(root, domain, &p, &dom, host.units, &plan, err)) < 0)
                return r;
        if (plan.n_steps == 0) {
                gh_log_full(LOG_INFO, 0, &(gh_log_fields){.domain = domain}, "nothing to hand over");
                return 0;
        }
        r = run_plan(root, &plan, deadline, &host, err);
        if (r >= 0)
                gh_log_full(LOG_INFO, 0, &(gh_log_fields){.domain = domain, .duration = now_usec() - start, .has_duration = true},
                            "handed %zu device(s) to domain '%s' in %.1f ms", plan.n_devices, domain,
                            (double)(now_usec() - start) / 1000.0);
        return r;
}

static unsigned release_timeout(const char *root, const char *domain)
{
        _cleanup_(gh_policy_done) gh_policy p = {};

        /* The config may be gone by now; the journal alone drives the release. */
        if (load_policy(root, domain, &p, NULL) < 0)
                return GH_POLICY_TIMEOUT_DEFAULT;
        return p.timeout_sec;
}

/* "" or " (and /dev/iommu)", " (and pid 77 (qemu) has /dev/iommu open)": iommufd's context, which every
 * iommufd user holds, named beside a held cdev but never a reason alone. */
static int iommu_note(const gh_vm_use *u, char **ret)
{
        int k;

        if (u->iommu_pid == 0)
                k = asprintf(ret, "%s", "");
        else if (u->iommu_pid == u->pid)
                k = asprintf(ret, " (and /dev/iommu)");
        else
                k = asprintf(ret, " (and pid %d (%s) has /dev/iommu open)", (int)u->iommu_pid,
                             u->iommu_comm);
        return k < 0 ? -ENOMEM : 0;
}

static int refuse_in_use(const char *domain, const gh_vm_use *u, gh_error *err)
{
        _cleanup_free_ char *note = NULL;

        if (u->pid_file)
                return gh_error_set(err, -EBUSY,
                                    "domain '%s': pid %d (%s), which %s names, still runs: shut the VM down first; nothing was undone",
                                    domain, (int)u->pid, u->comm, u->what);
        if (iommu_note(u, &note) < 0)
                return gh_error_set(err, -ENOMEM, "domain '%s': out of memory", domain);
        return gh_error_set(
                err, -EBUSY,
                "domain '%s': pid %d (%s) still has %s open%s: shut the VM down first; nothing was undone",
                domain, (int)u->pid, u->comm, u->what, note);
}

/* While a VM still has a group or a device cdev open, unbinding vfio-pci from its devices blocks in the
 * kernel until the VM lets go, holding the devices' locks: refuse, and undo nothing. */
static int refuse_if_in_use(const char *root, const char *domain, const gh_step *steps, size_t n, gh_error *err)
{
        _cleanup_(gh_vm_use_done) gh_vm_use u = {};
        gh_error e = {};
        int r;

        r = gh_vm_use_find(root, domain, steps, n, &u, &e);
        if (r < 0)
                return gh_error_set(err, r,
                                    "domain '%s': cannot tell whether a VM still uses its devices: %s",
                                    domain, gh_error_isset(&e) ? e.msg : strerror(-r));
        if (r == 0)
                return 0;
        return refuse_in_use(domain, &u, err);
}

/* A bad line refuses the whole journal, unless asked to skip it: then it is named, and undone by hand. */
static int read_journal(const char *root, const char *domain, gh_release_result *res, gh_step **ret,
                        size_t *ret_n, gh_error *err)
{
        int r;

        if (res && res->best_effort)
                return gh_journal_read_lenient(root, domain, 0, ret, ret_n, &res->skipped, err);
        r = gh_journal_read(root, domain, 0, ret, ret_n, err);
        if (r == -EBADMSG)
                gh_error_replace(err, r,
                                 "%s (the journal is kept; 'gpu-handover restore --best-effort %s' undoes "
                                 "the lines it can read and names the others)",
                                 err->msg, domain);
        return r;
}

/* Everything was given back, but a check of the outcome failed: nothing is left for `restore` to undo,
 * so the journal goes, and the release fails saying what is missing. */
static int given_back_not_whole(const char *root, const char *domain, gh_error *err)
{
        int r = gh_journal_remove(root, domain);

        if (r < 0)
                return gh_error_set(err, r, "domain '%s': cannot remove its journal: %s", domain, strerror(-r));
        return gh_error_replace(err, -ENODEV,
                                "domain '%s': gave the devices back, but the host's driver stack is not whole: %s",
                                domain, err->msg);
}

int gh_handover_release(const char *root, const char *domain, gh_release_result *res, gh_error *err)
{
        _cleanup_(gh_real_host_done) gh_real_host host = {.root = root};
        step_log l = {.domain = domain};
        gh_exec_observer obs = {.step_done = log_step, .ctx = &l};
        usec_t timeout = (usec_t)release_timeout(root, domain) * USEC_PER_SEC, start = now_usec();
        _cleanup_close_ int lock = -1;
        gh_step *steps = NULL;
        size_t n = 0;
        int r;

        r = gh_lock_take(root, deadline_after(RELEASE_LOCK_WAIT), &lock);
        if (r < 0)
                return gh_error_set(
                        err, r,
                        "domain '%s': cannot take the hand-over lock: %s; nothing was undone: a hand-over "
                        "stays as it is, its journal too, until 'gpu-handover restore %s'",
                        domain, strerror(-r), domain);
        r = read_journal(root, domain, res, &steps, &n, err);
        if (r == -ENOENT)
                return 0;
        if (res)
                res->found = true;
        if (r >= 0)
                r = refuse_if_in_use(root, domain, steps, n, err);
        if (r < 0) {
                gh_steps_free(steps, n);
                return r;
        }
        open_units(root, domain, &host.units);
        /* Only for a function found stuck on the way; without it, that goes unrecorded here alone. */
        (void)gh_journal_open_append(root, domain, 0, &host.journal, NULL);
        r = gh_exec_undo(steps, n, timeout, &gh_real_host_ops, &host, &obs, err);
        gh_steps_free(steps, n);
        if (r > 0)
                return given_back_not_whole(root, domain, err);
        if (r < 0)
                return gh_error_replace(err, r,
                                        "domain '%s': %s (every other step was undone; the journal is kept: "
                                        "fix the cause, then 'gpu-handover restore %s' undoes what is left)",
                                        domain, err->msg, domain);
        /* Even with lines skipped: what could be undone was, and must not be undone again later. */
        r = gh_journal_remove(root, domain);
        if (r < 0)
                return gh_error_set(err, r, "domain '%s': cannot remove its journal: %s", domain, strerror(-r));
        if (res)
                res->n_undone = n;
        gh_log_full(LOG_INFO, 0, &(gh_log_fields){.domain = domain, .duration = now_usec() - start, .has_duration = true},
                    "gave the devices of domain '%s' back in %.1f ms", domain, (double)(now_usec() - start) / 1000.0);
        return 0;
}

/* One line for each device a claim leaves on the host: the summary says it too, the journal says why. */
static void log_left(const gh_plan *plan)
{
        for (size_t i = 0; i < plan->n_devices; i++) {
                const gh_claim_dev *c = &plan->claim[i];
                const char *addr = GH_PCI_ADDR_STR(&plan->devices[i]);

                if (c->kind == GH_CLAIM_LEAVE)
                        gh_log_full(LOG_WARNING, 0, &(gh_log_fields){.domain = plan->domain, .addr = addr},
                                    "claim at boot: %s stays on the host: %s", addr, c->why);
        }
}

static int claim_plan(const char *root, const char *domain, const gh_policy *p, const gh_domain *dom,
                      gh_plan *ret, gh_error *err)
{
        _cleanup_(gh_facts_done) gh_facts f = {};
        gh_error e = {};
        int r;

        /* No systemd: the claim stops no unit, and at boot the bus may not be up. */
        r = gh_facts_gather(root, domain, p, dom, NULL, &f, &e);
        if (r < 0)
                return gh_error_set(err, r, "domain '%s': %s", domain, e.msg);
        return gh_plan_build_claim(domain, p, dom, &f, ret, err);
}

int gh_handover_claim(const char *root, const char *domain, const gh_policy *p, const gh_domain *dom,
                      bool dry_run, gh_plan *ret_plan, gh_error *err)
{
        _cleanup_(gh_real_host_done) gh_real_host host = {.root = root};
        unsigned budget = p->timeout_sec < CLAIM_BUDGET_MAX_SEC ? p->timeout_sec : CLAIM_BUDGET_MAX_SEC;
        usec_t deadline = deadline_after((usec_t)budget * USEC_PER_SEC);
        int r;

        r = claim_plan(root, domain, p, dom, ret_plan, err);
        if (r < 0 || dry_run)
                return r;
        /* Planned all the same: a domain running now (or to be restored) is reserved at the next boot. */
        r = refuse_if_recorded(root, domain, err);
        if (r < 0)
                return r;
        log_left(ret_plan);
        if (ret_plan->n_steps == 0)
                return 0;
        r = run_plan(root, ret_plan, deadline, &host, err);
        if (r < 0)
                return r;
        /* Done, nothing to undo: the devices are as the reservation meant them, on vfio-pci with no
         * hand-over on record. prepare takes them from there, and its release gives them to the host. */
        host.journal = gh_journal_close(host.journal);
        r = gh_journal_remove(root, domain);
        return r < 0 ? gh_error_set(err, r, "domain '%s': cannot remove its journal: %s", domain,
                                    strerror(-r))
                     : 0;
}

int gh_handover_unreserve(const char *root, const gh_pci_addr *a, gh_error *err)
{
        _cleanup_(gh_real_host_done) gh_real_host host = {.root = root};
        _cleanup_free_ char *driver = NULL, *override = NULL;
        step_log l = {};
        gh_exec_observer obs = {.step_done = log_step, .ctx = &l};
        gh_step s = {.kind = GH_STEP_SET_OVERRIDE, .group = -1};
        int r;

        gh_pci_addr_format(a, s.addr);
        r = gh_pci_get_driver(root, s.addr, &driver);
        /* Gone, or a driver has it (vfio-pci for a VM, or a host driver): nothing was left reserved. */
        if (r < 0 || driver)
                return 0;
        r = gh_pci_read_override(root, s.addr, deadline_after(GH_UNRESERVE_READ_TIMEOUT), &override);
        if (r < 0 || !streq_ptr(override, "vfio-pci"))
                return 0;
        /* The give-back of an override that was vfio-pci and no driver: cleared, probed, verified. */
        r = gh_exec_undo(&s, 1, (usec_t)GH_POLICY_TIMEOUT_DEFAULT * USEC_PER_SEC, &gh_real_host_ops, &host,
                         &obs, err);
        return r < 0 ? r : 1;
}
