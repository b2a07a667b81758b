/* `gpu-handover status [--json]`: each display-class PCI function with its driver, IOMMU group and
 * holders, then the hand-overs recorded in journals and the stuck functions; as text, or as one JSON
 * object. Reads only. */
#include <errno.h>
#include <getopt.h>

#include "front.h"
#include "host/devlock.h"
#include "host/holders.h"
#include "host/journal.h"
#include "host/stucklist.h"
#include "host/pci.h"
#include "shared/json.h"
#include "shared/strv.h"

/* Reading driver_override takes the device's lock, which a driver stuck in unbind keeps for good: each read
 * runs in a child, and one that does not answer in this time is shown as unknown. */
#define OVERRIDE_TIMEOUT (1 * USEC_PER_SEC)

static void print_group(const gh_pci_dev *devs, size_t n, int group)
{
        printf("    IOMMU group: ");
        if (group < 0) {
                printf("none (is the IOMMU enabled?)\n");
                return;
        }
        printf("%d:", group);
        for (size_t i = 0; i < n; i++)
                if (devs[i].iommu_group == group)
                        printf(" %s (%s)", GH_PCI_ADDR_STR(&devs[i].addr),
                               devs[i].driver ? devs[i].driver : "no driver");
        printf("\n");
}

/* A function on the stuck list is not read at all (-EDEADLK). status changes nothing, so a read that
 * times out here does not put the function on the list: the next hand-over finds out on its own. */
static int read_override(const char *root, const gh_pci_dev *d, char **ret)
{
        gh_error ignored = {};
        gh_stuck s;

        if (gh_stucklist_find(root, 0, GH_PCI_ADDR_STR(&d->addr), &s, &ignored) > 0)
                return -EDEADLK;
        return gh_pci_read_override(root, GH_PCI_ADDR_STR(&d->addr), deadline_after(OVERRIDE_TIMEOUT), ret);
}

static const char *override_error(int r)
{
        if (r == -EDEADLK)
                return "the function is stuck, see below";
        return r == -ETIMEDOUT ? "driver_override did not answer in time" : strerror(-r);
}

/* Only when there is one, or it cannot be told: an override keeps every other driver away. */
static void print_override(const char *root, const gh_pci_dev *d)
{
        _cleanup_free_ char *o = NULL;
        int r = read_override(root, d, &o);

        if (r < 0)
                printf("    driver_override: (unknown: %s)\n", override_error(r));
        else if (o)
                printf("    driver_override: %s\n", o);
}

static void print_holders(const char *root, const gh_pci_dev *d)
{
        gh_holder *h = NULL;
        size_t n = 0;

        if (!d->nodes || gh_holders_scan(root, d->nodes, &h, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++)
                printf("    held by pid %d (%s): %s%s%s%s%s\n", (int)h[i].pid, strempty(h[i].comm),
                       gh_holder_what(&h[i]), h[i].unit ? ", unit " : "", strempty(h[i].unit),
                       h[i].session ? ", session " : "", strempty(h[i].session));
        gh_holders_free(h, n);
}

static void print_gpus(const char *root, const gh_pci_dev *devs, size_t n)
{
        size_t shown = 0;

        printf("Display devices:\n");
        for (size_t i = 0; i < n; i++) {
                const gh_pci_dev *d = &devs[i];

                if (!gh_pci_dev_is_display(d))
                        continue;
                shown++;
                printf("  %s  %04x:%04x  driver %s%s\n", GH_PCI_ADDR_STR(&d->addr), d->vendor, d->device,
                       d->driver ? d->driver : "(none)", d->boot_vga ? "  boot VGA" : "");
                print_override(root, d);
                print_group(devs, n, d->iommu_group);
                print_holders(root, d);
        }
        if (!shown)
                printf("  (none)\n");
}

static int cmp_strings(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The domains with a journal, sorted: the output does not depend on the directory's order. */
static int list_journals(const char *root, char ***ret)
{
        char **l = NULL;
        int r;

        r = gh_journal_list(root, &l);
        if (r < 0)
                return r;
        qsort(l, strv_length(l), sizeof(char *), cmp_strings);
        *ret = l;
        return 0;
}

/* One line a stuck function, in the words of where it is listed: the stuck list's are those a hand-over
 * would use; a journal's say which hand-over left it stuck. */
static void print_stuck_lines(const gh_stuck *v, size_t n, bool journal)
{
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *what = NULL;
                char since[GH_LOCAL_TIME_MAX];
                gh_error line = {};

                if (!journal) {
                        (void)gh_devlock_stuck_error(&v[i], -EDEADLK, &line);
                        printf("  %s\n", line.msg);
                        continue;
                }
                format_local_time(v[i].since, since);
                if (gh_stuck_describe(&v[i], &what) >= 0)
                        printf("    %s got stuck during this hand-over: %s did not finish (since %s)\n",
                               v[i].addr, what, since);
        }
}

/* The stuck list: functions every hand-over leaves alone. */
static void print_stuck(const char *root)
{
        _cleanup_free_ gh_stuck *v = NULL;
        gh_error err = {};
        size_t n = 0;

        printf("\nStuck functions (" GH_RUN_DIR "/stuck):\n");
        if (gh_stucklist_read(root, 0, &v, &n, &err) < 0) {
                printf("  (cannot read them: %s)\n", gh_error_isset(&err) ? err.msg : "unknown error");
                return;
        }
        if (n == 0)
                printf("  (none)\n");
        print_stuck_lines(v, n, false);
}

static void print_handovers(const char *root)
{
        _cleanup_strv_free_ char **domains = NULL;
        int r;

        printf("\nHand-overs recorded in " GH_RUN_DIR ":\n");
        r = list_journals(root, &domains);
        if (r < 0) {
                printf("  (cannot read them: %s)\n", strerror(-r));
                return;
        }
        if (!domains || !domains[0]) {
                printf("  (none)\n");
                return;
        }
        STRV_FOREACH(dom, domains)
        {
                _cleanup_free_ gh_stuck *stuck = NULL;
                gh_step *steps = NULL;
                size_t n = 0, n_stuck = 0, bound = 0;
                gh_error err = {};

                if (gh_journal_read_all(root, *dom, 0, &steps, &n, &stuck, &n_stuck, &err) < 0) {
                        printf("  %s: unreadable journal: %s\n", *dom, err.msg);
                        continue;
                }
                printf("  %s: %zu step(s) done;", *dom, n);
                for (size_t i = 0; i < n; i++)
                        if (steps[i].kind == GH_STEP_BIND_VFIO) {
                                printf(" %s", steps[i].addr);
                                bound++;
                        }
                printf(" %s\n", bound ? "on vfio-pci" : "nothing bound to vfio-pci yet");
                gh_steps_free(steps, n);
                /* The functions this hand-over found stuck, as its journal recorded them. */
                print_stuck_lines(stuck, n_stuck, true);
        }
}

/* The other functions a hand-over would take with a display function: those of its slot, and those sharing
 * its IOMMU group, bridges aside (they stay with the host and do not block vfio). */
static bool goes_with(const gh_pci_dev *d, const gh_pci_dev *gpu)
{
        if (gh_pci_dev_is_bridge(d))
                return false;
        return gh_pci_addr_same_slot(&d->addr, &gpu->addr) ||
               (d->iommu_group >= 0 && d->iommu_group == gpu->iommu_group);
}

static bool json_lists(const gh_pci_dev *devs, size_t n, const gh_pci_dev *d)
{
        if (gh_pci_dev_is_display(d))
                return true;
        for (size_t i = 0; i < n; i++)
                if (gh_pci_dev_is_display(&devs[i]) && goes_with(d, &devs[i]))
                        return true;
        return false;
}

static void json_kv_string(gh_json *j, const char *key, const char *value)
{
        gh_json_key(j, key);
        gh_json_string(j, value);
}

/* PCI ids as lspci writes them: lower-case hex, zero-padded, no 0x. */
static void json_kv_hex(gh_json *j, const char *key, int width, unsigned value)
{
        char buf[16];

        snprintf(buf, sizeof(buf), "%0*x", width, value);
        json_kv_string(j, key, buf);
}

/* null without an IOMMU group: there are no members to speak of. */
static void json_group(gh_json *j, const gh_pci_dev *devs, size_t n, int group)
{
        gh_json_key(j, "iommu_group_members");
        if (group < 0) {
                gh_json_null(j);
                return;
        }
        gh_json_array_begin(j);
        for (size_t i = 0; i < n; i++) {
                if (devs[i].iommu_group != group)
                        continue;
                gh_json_object_begin(j);
                json_kv_string(j, "address", GH_PCI_ADDR_STR(&devs[i].addr));
                json_kv_string(j, "driver", devs[i].driver);
                gh_json_object_end(j);
        }
        gh_json_array_end(j);
}

/* null when /proc could not be scanned: unknown is not the same as nobody. */
static void json_holders(gh_json *j, const char *root, const gh_pci_dev *d)
{
        gh_holder *h = NULL;
        size_t n = 0;

        gh_json_key(j, "holders");
        if (d->nodes && gh_holders_scan(root, d->nodes, &h, &n) < 0) {
                gh_json_null(j);
                return;
        }
        gh_json_array_begin(j);
        for (size_t i = 0; i < n; i++) {
                gh_json_object_begin(j);
                gh_json_key(j, "pid");
                gh_json_int(j, h[i].pid);
                json_kv_string(j, "comm", h[i].comm);
                json_kv_string(j, "node", h[i].node);
                json_kv_string(j, "unit", h[i].unit);
                json_kv_string(j, "session", h[i].session);
                gh_json_object_end(j);
        }
        gh_json_array_end(j);
        gh_holders_free(h, n);
}

/* null when none; with driver_override_error saying why when it could not be read. */
static void json_override(gh_json *j, const char *root, const gh_pci_dev *d)
{
        _cleanup_free_ char *o = NULL;
        int r = read_override(root, d, &o);

        json_kv_string(j, "driver_override", o);
        json_kv_string(j, "driver_override_error", r < 0 ? override_error(r) : NULL);
}

static void json_device(gh_json *j, const char *root, const gh_pci_dev *devs, size_t n, const gh_pci_dev *d)
{
        gh_json_object_begin(j);
        json_kv_string(j, "address", GH_PCI_ADDR_STR(&d->addr));
        json_kv_hex(j, "vendor", 4, d->vendor);
        json_kv_hex(j, "device", 4, d->device);
        json_kv_hex(j, "class", 6, d->class);
        json_kv_string(j, "driver", d->driver);
        json_kv_string(j, "module", d->module);
        json_override(j, root, d);
        gh_json_key(j, "iommu_group");
        if (d->iommu_group >= 0)
                gh_json_int(j, d->iommu_group);
        else
                gh_json_null(j);
        json_group(j, devs, n, d->iommu_group);
        gh_json_key(j, "boot_vga");
        gh_json_bool(j, d->boot_vga);
        json_holders(j, root, d);
        gh_json_object_end(j);
}

static void json_stuck_one(gh_json *j, const gh_stuck *s)
{
        gh_json_object_begin(j);
        json_kv_string(j, "address", s->addr);
        json_kv_string(j, "access", gh_stuck_op_to_string(s->op));
        json_kv_string(j, "driver", s->driver[0] ? s->driver : NULL);
        gh_json_key(j, "since_usec");
        gh_json_uint(j, s->since);
        gh_json_key(j, "waiter_pid");
        if (gh_stuck_waiter_alive(s))
                gh_json_int(j, s->waiter);
        else
                gh_json_null(j);
        gh_json_object_end(j);
}

/* "stuck": [] when none; null when unread (ok false): unknown, not none. */
static void json_stuck_array(gh_json *j, const gh_stuck *v, size_t n, bool ok)
{
        gh_json_key(j, "stuck");
        if (!ok) {
                gh_json_null(j);
                return;
        }
        gh_json_array_begin(j);
        for (size_t i = 0; i < n; i++)
                json_stuck_one(j, &v[i]);
        gh_json_array_end(j);
}

static void json_handover(gh_json *j, const char *root, const char *domain)
{
        _cleanup_free_ gh_stuck *stuck = NULL;
        gh_step *steps = NULL;
        size_t n = 0, n_stuck = 0;
        gh_error err = {};
        int r = gh_journal_read_all(root, domain, 0, &steps, &n, &stuck, &n_stuck, &err);

        gh_json_object_begin(j);
        json_kv_string(j, "domain", domain);
        gh_json_key(j, "steps");
        if (r >= 0)
                gh_json_uint(j, n);
        else
                gh_json_null(j);
        gh_json_key(j, "devices");
        gh_json_array_begin(j);
        for (size_t i = 0; i < n; i++)
                if (steps[i].kind == GH_STEP_BIND_VFIO)
                        gh_json_string(j, steps[i].addr);
        gh_json_array_end(j);
        /* The functions the journal says this hand-over found stuck. */
        json_stuck_array(j, stuck, n_stuck, r >= 0);
        json_kv_string(j, "error", r >= 0 ? NULL : gh_error_isset(&err) ? err.msg : strerror(-r));
        gh_json_object_end(j);
        gh_steps_free(steps, n);
}

/* The stuck list, which only root can read. */
static void json_stuck(gh_json *j, const char *root)
{
        _cleanup_free_ gh_stuck *v = NULL;
        gh_error err = {};
        size_t n = 0;
        int r = gh_stucklist_read(root, 0, &v, &n, &err);

        json_stuck_array(j, v, n, r >= 0);
}

/* null when the journal directory cannot be read (not root): unknown, not none. */
static void json_handovers(gh_json *j, const char *root)
{
        _cleanup_strv_free_ char **domains = NULL;

        gh_json_key(j, "handovers");
        if (list_journals(root, &domains) < 0) {
                gh_json_null(j);
                return;
        }
        gh_json_array_begin(j);
        STRV_FOREACH(dom, domains)
        json_handover(j, root, *dom);
        gh_json_array_end(j);
}

/* The GPUs the session-keeping mode's rules keep away from the desktop (cmd-desktop.c), as text. */
static void print_kept_away(const char *root)
{
        gh_desktop_gpu *v = NULL;
        gh_error err = {};
        size_t n = 0;

        if (gh_desktop_rules_read(root, &v, &n, &err) < 0) {
                printf("Kept away from the desktop: unknown: %s\n", err.msg);
                return;
        }
        if (n > 0)
                printf("Kept away from the desktop (" GH_DESKTOP_RULES_PATH "):\n");
        for (size_t i = 0; i < n; i++)
                printf("  %s  domain '%s'\n", GH_PCI_ADDR_STR(&v[i].addr), v[i].domain);
        gh_desktop_gpus_free(v, n);
}

/* null when the rules cannot be read: unknown, not none. */
static void json_kept_away(gh_json *j, const char *root)
{
        gh_desktop_gpu *v = NULL;
        gh_error err = {};
        size_t n = 0;

        gh_json_key(j, "kept_from_desktop");
        if (gh_desktop_rules_read(root, &v, &n, &err) < 0) {
                gh_json_null(j);
                return;
        }
        gh_json_array_begin(j);
        for (size_t i = 0; i < n; i++) {
                gh_json_object_begin(j);
                json_kv_string(j, "address", GH_PCI_ADDR_STR(&v[i].addr));
                json_kv_string(j, "domain", v[i].domain);
                gh_json_object_end(j);
        }
        gh_json_array_end(j);
        gh_desktop_gpus_free(v, n);
}

static int status_json(const char *root, const gh_pci_dev *devs, size_t n)
{
        gh_json j;

        gh_json_init(&j, stdout);
        gh_json_object_begin(&j);
        gh_json_key(&j, "devices");
        gh_json_array_begin(&j);
        for (size_t i = 0; i < n; i++)
                if (json_lists(devs, n, &devs[i]))
                        json_device(&j, root, devs, n, &devs[i]);
        gh_json_array_end(&j);
        json_handovers(&j, root);
        json_stuck(&j, root);
        json_kept_away(&j, root);
        gh_json_object_end(&j);
        fputc('\n', stdout);
        return gh_json_finish(&j);
}

/* 1 for --json, 0 without, or GH_ARGS_HELP / GH_ARGS_BAD. */
static int parse_args(const gh_command *self, int argc, char *argv[])
{
        static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, GH_OPTION_HELP, {}};
        gh_opts o = {.cmd = self, .longopts = opts};
        bool json = false;
        int r;

        while ((r = gh_opts_next(&o, argc, argv)) != GH_ARGS_END) {
                if (r < 0)
                        return r;
                json = true;
        }
        r = gh_args_positional(self, argc, argv, 0, 0);
        return r < 0 ? r : json;
}

static int cmd_status(gh_context *ctx, const gh_command *self, int argc, char *argv[])
{
        gh_pci_dev *devs = NULL;
        size_t n = 0;
        bool json;
        int r;

        r = parse_args(self, argc, argv);
        if (r < 0)
                return gh_args_exit(r);
        json = r;
        r = gh_pci_list(ctx->root, &devs, &n);
        if (r < 0) {
                fprintf(stderr, "gpu-handover: cannot list PCI devices: %s\n", strerror(-r));
                return GH_EXIT_FAILURE;
        }
        if (json) {
                r = status_json(ctx->root, devs, n);
                if (r < 0)
                        fprintf(stderr, "gpu-handover: status: cannot write JSON: %s\n", strerror(-r));
        } else {
                print_gpus(ctx->root, devs, n);
                print_handovers(ctx->root);
                print_stuck(ctx->root);
                print_kept_away(ctx->root);
        }
        gh_pci_devs_free(devs, n);
        return r < 0 ? GH_EXIT_FAILURE : GH_EXIT_OK;
}

const gh_command gh_command_status = {
        .name = "status",
        .run = cmd_status,
        .args = "[--json]",
        .summary = "GPUs, their drivers, IOMMU groups and holders; hand-overs in progress",
        .details = "Shows the display devices, their drivers, IOMMU groups and holders, the hand-overs\n"
                   "recorded in " GH_RUN_DIR ", and the functions stuck in the kernel, which every\n"
                   "hand-over leaves alone, and the GPUs kept away from the desktop (desktop-rules).\n"
                   "Changes nothing.\n\n"
                   "  --json   one JSON object: {\"devices\": [...], \"handovers\": [...], \"stuck\": [...],\n"
                   "           \"kept_from_desktop\": [...]}\n",
};
