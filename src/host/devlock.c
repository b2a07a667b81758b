/* Device-lock accesses against the stuck list. The list is root's (owner 0), as the journals are. */
#include <errno.h>
#include <time.h>

#include "child.h"
#include "devlock.h"
#include "pci.h"
#include "procstat.h"
#include "stucklist.h"

#define OWNER 0

/* Before an access: -EDEADLK when listed with its waiter in the kernel; 1 when listed without (the
 * deadline shortened for the try); 0 when not listed. */
static int gate(const char *root, const char *addr, usec_t *deadline)
{
        gh_error ignored = {};
        usec_t retry = deadline_after(GH_DEVLOCK_RETRY_TIMEOUT);
        gh_stuck s;

        if (gh_stucklist_find(root, OWNER, addr, &s, &ignored) <= 0)
                return 0;
        if (gh_stuck_waiter_alive(&s))
                return -EDEADLK;
        if (retry < *deadline)
                *deadline = retry;
        return 1;
}

/* A new entry: what did not answer, the driver it had, and now. */
static void entry_new(const char *root, const char *addr, gh_stuck_op op, const char *driver, gh_stuck *s)
{
        _cleanup_free_ char *cur = NULL;
        struct timespec ts;

        *s = (gh_stuck){.op = op};
        if (!driver && gh_pci_get_driver(root, addr, &cur) >= 0)
                driver = cur;
        if (snprintf(s->addr, sizeof(s->addr), "%s", addr) >= (int)sizeof(s->addr) ||
            snprintf(s->driver, sizeof(s->driver), "%s", strempty(driver)) >= (int)sizeof(s->driver))
                s->driver[0] = 0;
        if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
                s->since = (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

/* Lists addr, or keeps its entry (the first access that got stuck, and since when) with the process now
 * left waiting, if any. */
static void record(const char *root, const char *addr, gh_stuck_op op, const char *driver)
{
        gh_error ignored = {};
        pid_t waiter = gh_child_last_abandoned();
        uint64_t start = 0;
        gh_stuck s;

        if (gh_stucklist_find(root, OWNER, addr, &s, &ignored) <= 0)
                entry_new(root, addr, op, driver, &s);
        if (waiter > 0 && gh_proc_stat("/proc", waiter, NULL, &start) >= 0) {
                s.waiter = waiter;
                s.waiter_start = start;
        }
        /* Not recorded (not root, say): this run still fails the access; later ones find it out again. */
        (void)gh_stucklist_put(root, OWNER, &s, &ignored);
}

void gh_devlock_mark_stuck(const char *root, const char *addr, gh_stuck_op op, const char *driver)
{
        record(root, addr, op, driver);
}

/* After an access: a timeout lists it; an answer from one that takes the lock every time (not an unbind,
 * which may find nothing to do) shows the lock free, and takes it off the list. */
static int after(const char *root, const char *addr, gh_stuck_op op, const char *driver, int listed, int r)
{
        gh_error ignored = {};

        if (r == -ETIMEDOUT)
                record(root, addr, op, driver);
        else if (listed && op != GH_STUCK_UNBIND)
                (void)gh_stucklist_drop(root, OWNER, addr, &ignored);
        return r;
}

int gh_devlock_read_override(const char *root, const char *addr, usec_t deadline, char **ret)
{
        int listed = gate(root, addr, &deadline);

        if (listed < 0)
                return listed;
        return after(root, addr, GH_STUCK_OVERRIDE_READ, NULL, listed,
                     gh_pci_read_override(root, addr, deadline, ret));
}

int gh_devlock_set_override(const char *root, const char *addr, const char *driver, usec_t deadline)
{
        int listed = gate(root, addr, &deadline);

        if (listed < 0)
                return listed;
        return after(root, addr, GH_STUCK_OVERRIDE_WRITE, NULL, listed,
                     gh_pci_set_override(root, addr, driver, deadline));
}

int gh_devlock_unbind(const char *root, const char *addr, const char *driver, usec_t deadline)
{
        int listed = gate(root, addr, &deadline);

        if (listed < 0)
                return listed;
        return after(root, addr, GH_STUCK_UNBIND, driver, listed, gh_pci_unbind(root, addr, driver, deadline));
}

/* No short try for a listed function whose waiter is gone: this unbind may rightly wait for the card's
 * clients, and an unbind that ends takes nothing off the list (after()). */
int gh_devlock_unbind_begin(const char *root, const char *addr, const char *driver, usec_t deadline,
                            gh_pci_unbind_op *ret)
{
        usec_t ignored = deadline;

        if (gate(root, addr, &ignored) < 0) {
                *ret = (gh_pci_unbind_op){.child = {.pidfd = -1}};
                return -EDEADLK;
        }
        return gh_pci_unbind_begin(root, addr, driver, deadline, ret);
}

int gh_devlock_unbind_end(const char *root, gh_pci_unbind_op *op, const char *driver, usec_t deadline)
{
        return after(root, op->addr, GH_STUCK_UNBIND, driver, 0, gh_pci_unbind_end(root, op, deadline));
}

void gh_devlock_unbind_abort(const char *root, gh_pci_unbind_op *op, const char *driver)
{
        if (gh_child_stop(&op->child))
                record(root, op->addr, GH_STUCK_UNBIND, driver);
}

int gh_devlock_probe(const char *root, const char *addr, usec_t deadline)
{
        int listed = gate(root, addr, &deadline);

        if (listed < 0)
                return listed;
        return after(root, addr, GH_STUCK_PROBE, NULL, listed, gh_pci_probe(root, addr, deadline));
}

/* Without the entry there is nothing to say but what every locked device shows. */
static int unlisted_error(const char *addr, int r, gh_error *err)
{
        return gh_error_set(err, r,
                            "%s did not answer in time: the kernel keeps the device locked (is a driver stuck in unbind?)",
                            addr);
}

int gh_devlock_stuck_error(const gh_stuck *s, int r, gh_error *err)
{
        _cleanup_free_ char *what = NULL;
        char since[GH_LOCAL_TIME_MAX], waiter[64] = "";

        if (gh_stuck_describe(s, &what) < 0)
                return unlisted_error(s->addr, r, err);
        format_local_time(s->since, since);
        if (gh_stuck_waiter_alive(s))
                snprintf(waiter, sizeof(waiter), "; pid %d still waits in the kernel", (int)s->waiter);
        return gh_error_set(err, r,
                            "%s is stuck: %s has not finished since %s%s. It is left alone until that ends or the host reboots",
                            s->addr, what, since, waiter);
}

int gh_devlock_error(const char *root, const char *addr, int r, gh_error *err)
{
        gh_error ignored = {};
        gh_stuck s;

        if (gh_stucklist_find(root, OWNER, addr, &s, &ignored) <= 0)
                return unlisted_error(addr, r, err);
        return gh_devlock_stuck_error(&s, r, err);
}
