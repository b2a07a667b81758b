/* The real host behind the executor: each operation calls an adapter and words its failure. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "audio.h"
#include "devlock.h"
#include "holders.h"
#include "hostops.h"
#include "logind-wait.h"
#include "modules.h"
#include "pci.h"
#include "shared/fileio.h"
#include "shared/strv.h"
#include "stucklist.h"

#define VFIO_DRIVER "vfio-pci"
/* Probing and binding are quick; a driver that takes longer than this is stuck, whatever the budget. */
#define BIND_TIMEOUT (10 * USEC_PER_SEC)

static usec_t min_deadline(usec_t deadline, usec_t timeout)
{
        usec_t d = deadline_after(timeout);

        return d < deadline ? d : deadline;
}

static int need_units(gh_real_host *h, const char *unit, gh_error *err)
{
        if (h->units)
                return 0;
        return gh_error_set(err, -ENOTCONN, "cannot manage unit '%s': no connection to systemd", unit);
}

static int op_unit_stop(void *ctx, const char *unit, usec_t deadline, gh_error *err)
{
        gh_real_host *h = ctx;
        int r = need_units(h, unit, err);

        return r < 0 ? r : gh_units_stop(h->units, unit, deadline, err);
}

static int op_unit_start(void *ctx, const char *unit, usec_t deadline, gh_error *err)
{
        gh_real_host *h = ctx;
        int r = need_units(h, unit, err);

        return r < 0 ? r : gh_units_start(h->units, unit, deadline, err);
}

/* One user's manager at a time: a hand-over stops the units of one user, as a rule (the desktop's). The
 * same connection serves a stop and its undo, so that a start can cancel the stop job that timed out. */
static int need_user_units(gh_real_host *h, uint32_t uid, const char *unit, gh_error *err)
{
        int r;

        if (h->user_units && h->user_uid == uid)
                return 0;
        h->user_units = gh_units_free(h->user_units);
        r = gh_units_open_user(h->root, uid, &h->user_units);
        if (r == -ENOENT)
                return gh_error_set(err, r,
                                    "cannot manage user unit '%s' of user %" PRIu32
                                    ": the user has no systemd manager running",
                                    unit, uid);
        if (r < 0)
                return gh_error_set(err, r,
                                    "cannot manage user unit '%s' of user %" PRIu32
                                    ": cannot reach the user's systemd manager: %s",
                                    unit, uid, strerror(-r));
        h->user_uid = uid;
        return 0;
}

static int op_user_unit_stop(void *ctx, uint32_t uid, const char *unit, usec_t deadline, gh_error *err)
{
        gh_real_host *h = ctx;
        int r = need_user_units(h, uid, unit, err);

        return r < 0 ? r : gh_units_stop(h->user_units, unit, deadline, err);
}

/* A user who logged out since has no manager to start the unit in: -ENOENT, which the executor takes as
 * nothing left to give back (their next login starts what they want). */
static int op_user_unit_start(void *ctx, uint32_t uid, const char *unit, usec_t deadline, gh_error *err)
{
        gh_real_host *h = ctx;
        int r = need_user_units(h, uid, unit, err);

        return r < 0 ? r : gh_units_start(h->user_units, unit, deadline, err);
}

static int op_holders_end(void *ctx, char *const *nodes, gh_holders_mode mode, usec_t grace, usec_t deadline,
                          gh_error *err)
{
        gh_real_host *h = ctx;

        return gh_holders_end(h->root, nodes, mode, grace, deadline, err);
}

static int op_logind_wait_released(void *ctx, char *const *nodes, usec_t deadline, gh_error *err)
{
        gh_real_host *h = ctx;

        return gh_logind_wait_released(h->root, nodes, deadline, err);
}

static int op_override_set(void *ctx, const char *addr, const char *driver, usec_t deadline, gh_error *err)
{
        gh_real_host *h = ctx;
        int r = gh_devlock_set_override(h->root, addr, driver, min_deadline(deadline, BIND_TIMEOUT));

        if (gh_devlock_stuck(r))
                return gh_devlock_error(h->root, addr, r, err);
        if (r < 0)
                return gh_error_set(err, r, "cannot set driver_override of %s to '%s': %s", addr, strempty(driver),
                                    strerror(-r));
        return 0;
}

static int need_kmod(gh_real_host *h, gh_error *err)
{
        int r;

        if (h->kmod)
                return 0;
        r = gh_kmod_new(h->root, &h->kmod);
        return r < 0 ? gh_error_set(err, r, "cannot set up libkmod: %s", strerror(-r)) : 0;
}

/* A module's exit unregisters its PCI drivers, which removes their functions one by one, each under its
 * device lock: an exit that hangs hangs in one of those removes (nvidia's waits while its GPU is used), and
 * the rest wait for it. Those functions are as stuck as after an unbind that hangs, so they are listed the
 * same way, with the unload's child as the process left waiting. */
static void mark_removes_stuck(gh_real_host *h, char *const *addrs, char *const *drivers, gh_error *err)
{
        _cleanup_free_ char *list = NULL;
        size_t len = 0;
        FILE *f;

        if (!addrs || !*addrs)
                return;
        for (size_t i = 0; addrs[i]; i++)
                gh_devlock_mark_stuck(h->root, addrs[i], GH_STUCK_REMOVE, drivers[i]);
        f = open_memstream(&list, &len);
        if (!f)
                return;
        for (size_t i = 0; addrs[i]; i++)
                fprintf(f, "%s%s", i == 0 ? "" : ", ", addrs[i]);
        if (fclose(f) == 0)
                gh_error_append(err, err->code, "; ", "%s left stuck (its remove did not finish)", list);
}

static int op_module_unload(void *ctx, const char *module, usec_t deadline, gh_error *err)
{
        _cleanup_strv_free_ char **addrs = NULL, **drivers = NULL;
        gh_real_host *h = ctx;
        int r;

        /* Nothing to do needs no libkmod context (nor a modules directory, which a container may lack). */
        if (gh_module_get_state(h->root, module) == GH_MODULE_ABSENT)
                return 0;
        r = need_kmod(h, err);
        if (r < 0)
                return r;
        /* Before the unload: once a remove has begun, the kernel no longer lists that function. */
        (void)gh_module_read_pci_devices(h->root, module, &addrs, &drivers);
        r = gh_kmod_unload(h->kmod, module, deadline, err);
        if (r == -ETIMEDOUT)
                mark_removes_stuck(h, addrs, drivers, err);
        return r;
}

static int op_module_load(void *ctx, const char *module, usec_t deadline, gh_error *err)
{
        gh_real_host *h = ctx;
        int r = gh_module_load_needed(h->root, module, err);

        if (r <= 0)
                return r;
        r = need_kmod(h, err);

        return r < 0 ? r : gh_kmod_load(h->kmod, module, deadline, err);
}

static int op_dev_unbind(void *ctx, const char *addr, const char *driver, usec_t deadline, gh_error *err)
{
        gh_real_host *h = ctx;
        int r = gh_devlock_unbind(h->root, addr, driver, deadline);

        if (gh_devlock_stuck(r))
                return gh_devlock_error(h->root, addr, r, err);
        if (r < 0)
                return gh_error_set(err, r, "cannot unbind %s from '%s': %s", addr, driver, strerror(-r));
        return 0;
}

static int op_audio_release(void *ctx, const gh_step *s, usec_t deadline, gh_error *err)
{
        gh_real_host *h = ctx;
        gh_audio_release a = {.addr = s->addr,
                              .driver = s->driver,
                              .nodes = s->nodes,
                              .mode = s->holders_mode,
                              .grace = (usec_t)s->grace_sec * USEC_PER_SEC,
                              .wait = (usec_t)s->wait_sec * USEC_PER_SEC};

        return gh_audio_release_run(h->root, &a, deadline, err);
}

static int wait_vfio_node(const char *root, int group, usec_t deadline)
{
        _cleanup_free_ char *rel = NULL, *path = NULL;
        struct stat st;

        if (asprintf(&rel, "/dev/vfio/%d", group) < 0 || !(path = path_join(root, rel)))
                return -ENOMEM;
        while (stat(path, &st) < 0)
                if (!deadline_sleep(deadline, 10 * USEC_PER_MSEC))
                        return -ETIMEDOUT;
        return 0;
}

static int op_dev_bind_vfio(void *ctx, const char *addr, int group, usec_t deadline, gh_error *err)
{
        gh_real_host *h = ctx;
        _cleanup_free_ char *cur = NULL;
        usec_t d = min_deadline(deadline, BIND_TIMEOUT);
        int r;

        r = gh_pci_get_driver(h->root, addr, &cur);
        if (r < 0)
                return gh_error_set(err, r, "cannot read the driver of %s: %s", addr, strerror(-r));
        if (cur && !streq(cur, VFIO_DRIVER))
                return gh_error_set(err, -EBUSY, "%s is bound to '%s', not vfio-pci", addr, cur);
        /* Its result says nothing (verify below), but for a probe that never came back. */
        if (!cur && gh_devlock_stuck(r = gh_devlock_probe(h->root, addr, d)))
                return gh_devlock_error(h->root, addr, r, err);
        r = gh_pci_wait_driver(h->root, addr, VFIO_DRIVER, d);
        if (r < 0)
                return gh_error_set(err, r, "%s did not bind to vfio-pci", addr);
        r = wait_vfio_node(h->root, group, d);
        if (r < 0)
                return gh_error_set(err, r, "%s is on vfio-pci but /dev/vfio/%d did not appear", addr, group);
        return 0;
}

/* No driver after a probe: ask libkmod which module claims the device's modalias, load, probe again. */
static int load_by_modalias(gh_real_host *h, const char *addr, usec_t deadline, gh_error *err)
{
        _cleanup_free_ char *alias = NULL;
        int r;

        r = gh_pci_read_modalias(h->root, addr, &alias);
        if (r < 0)
                return gh_error_set(err, r, "cannot read the modalias of %s: %s", addr, strerror(-r));
        r = need_kmod(h, err);
        if (r >= 0)
                r = gh_kmod_load_modalias(h->kmod, alias, deadline, err);
        if (r < 0)
                return r;
        r = gh_devlock_probe(h->root, addr, deadline);
        return gh_devlock_stuck(r) ? gh_devlock_error(h->root, addr, r, err) : r;
}

static int op_dev_give_back(void *ctx, const char *addr, const char *old, const char *driver, usec_t deadline,
                            gh_error *err)
{
        gh_real_host *h = ctx;
        _cleanup_free_ char *cur = NULL;
        usec_t d = min_deadline(deadline, BIND_TIMEOUT);
        int r;

        r = op_override_set(ctx, addr, old, d, err);
        if (r < 0)
                return r;
        r = gh_pci_get_driver(h->root, addr, &cur);
        if (r < 0)
                return gh_error_set(err, r, "cannot read the driver of %s: %s", addr, strerror(-r));
        if (cur && !streq(cur, VFIO_DRIVER))
                return driver && !streq(cur, driver)
                               ? gh_error_set(err, -EBUSY, "%s is bound to '%s', not '%s'", addr, cur, driver)
                               : 0;
        if (cur && (r = op_dev_unbind(ctx, addr, VFIO_DRIVER, d, err)) < 0)
                return r;
        if (gh_devlock_stuck(r = gh_devlock_probe(h->root, addr, d)))
                return gh_devlock_error(h->root, addr, r, err);
        if (gh_pci_wait_driver(h->root, addr, driver, min_deadline(d, USEC_PER_SEC)) >= 0)
                return 0;
        r = load_by_modalias(h, addr, d, err);
        if (r < 0 && r != -ENOENT)
                return r;
        r = gh_pci_wait_driver(h->root, addr, driver, d);
        /* With no host driver on record (it had none, or was claimed at boot), none is required. */
        if (r < 0 && driver)
                return gh_error_set(err, r, "%s did not bind to '%s' again", addr, driver);
        return 0;
}

static int op_dev_verify_nodes(void *ctx, const char *addr, char *const *nodes, usec_t deadline, gh_error *err)
{
        gh_real_host *h = ctx;
        usec_t d = min_deadline(deadline, BIND_TIMEOUT);
        const char *missing;

        /* udev makes the nodes after the driver is bound: a moment, not a step's whole time. */
        while ((missing = gh_pci_missing_node(h->root, addr, nodes)) && deadline_sleep(d, 50 * USEC_PER_MSEC))
                ;
        if (!missing)
                return 0;
        if (startswith(missing, "/dev/dri/"))
                return gh_error_set(err, -ENODEV, "%s is back on its driver but has no DRM card again (it had %s)",
                                    addr, missing);
        return gh_error_set(err, -ENODEV, "%s is back on its driver but %s did not come back", addr, missing);
}

static int op_journal_append(void *ctx, const char *line, gh_error *err)
{
        gh_real_host *h = ctx;
        int r;

        if (!h->journal)
                return gh_error_set(err, -EBADF, "no journal is open");
        r = gh_journal_append(h->journal, line);
        return r < 0 ? gh_error_set(err, r, "cannot write the journal: %s", strerror(-r)) : 0;
}

static int op_dev_stuck(void *ctx, const char *addr, gh_stuck *ret)
{
        gh_real_host *h = ctx;
        gh_error ignored = {};

        return gh_stucklist_find(h->root, 0, addr, ret, &ignored);
}

const gh_host_ops gh_real_host_ops = {
        .unit_stop = op_unit_stop,
        .unit_start = op_unit_start,
        .user_unit_stop = op_user_unit_stop,
        .user_unit_start = op_user_unit_start,
        .holders_end = op_holders_end,
        .logind_wait_released = op_logind_wait_released,
        .override_set = op_override_set,
        .module_unload = op_module_unload,
        .module_load = op_module_load,
        .dev_unbind = op_dev_unbind,
        .audio_release = op_audio_release,
        .dev_bind_vfio = op_dev_bind_vfio,
        .dev_give_back = op_dev_give_back,
        .dev_verify_nodes = op_dev_verify_nodes,
        .journal_append = op_journal_append,
        .dev_stuck = op_dev_stuck,
};

void gh_real_host_done(gh_real_host *h)
{
        h->units = gh_units_free(h->units);
        h->user_units = gh_units_free(h->user_units);
        h->kmod = gh_kmod_free(h->kmod);
        h->journal = gh_journal_close(h->journal);
}
