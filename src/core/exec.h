/* Runs a plan's steps through a table of host operations, journaling each, and undoes on failure. */
#pragma once

#include "shared/error.h"
#include "shared/time-util.h"
#include "giveback.h"
#include "plan.h"
#include "stuck.h"

/* The host as the executor sees it: real adapters in production, a fake in tests.
 * Every operation is idempotent where its name says "undo"-safe; each returns 0 or -errno. */
typedef struct gh_host_ops {
        int (*unit_stop)(void *ctx, const char *unit, usec_t deadline, gh_error *err);
        int (*unit_start)(void *ctx, const char *unit, usec_t deadline, gh_error *err);
        /* The same, through the manager of user uid (user@UID.service). */
        int (*user_unit_stop)(void *ctx, uint32_t uid, const char *unit, usec_t deadline, gh_error *err);
        int (*user_unit_start)(void *ctx, uint32_t uid, const char *unit, usec_t deadline, gh_error *err);
        int (*holders_end)(void *ctx, char *const *nodes, gh_holders_mode mode, usec_t grace, usec_t deadline,
                           gh_error *err);
        /* Waits until neither systemd-logind nor PID 1 holds any of nodes (host/logind-wait.h). */
        int (*logind_wait_released)(void *ctx, char *const *nodes, usec_t deadline, gh_error *err);
        /* Writes driver_override (driver NULL clears it); in a child with a deadline. */
        int (*override_set)(void *ctx, const char *addr, const char *driver, usec_t deadline, gh_error *err);
        int (*module_unload)(void *ctx, const char *module, usec_t deadline, gh_error *err);
        int (*module_load)(void *ctx, const char *module, usec_t deadline, gh_error *err);
        /* Unbinds addr if, and only if, it is bound to driver; in a child with a deadline. */
        int (*dev_unbind)(void *ctx, const char *addr, const char *driver, usec_t deadline, gh_error *err);
        /* RELEASE_AUDIO: unbinds s->addr from s->driver (only if bound to it) in a child; when that has not
         * finished after s->wait_sec, ends the holders of s->nodes as holders_end does (mode, grace), then
         * waits for the unbind until deadline and verifies the driver link gone. */
        int (*audio_release)(void *ctx, const gh_step *s, usec_t deadline, gh_error *err);
        /* Probes addr (override must say vfio-pci), verifies the driver link and /dev/vfio/group. */
        int (*dev_bind_vfio)(void *ctx, const char *addr, int group, usec_t deadline, gh_error *err);
        /* Sets the override back to old (NULL clears), unbinds vfio-pci if it holds the device (loading
         * vfio-pci binds every function whose override names it, not only the one a step is about),
         * reprobes, finds a driver by modalias if none bound, and verifies that driver (when not NULL). */
        int (*dev_give_back)(void *ctx, const char *addr, const char *old_override, const char *driver,
                             usec_t deadline, gh_error *err);
        /* Waits until addr's nodes exist again: each path as it is, except that one under /dev/dri/ means
         * a DRM card of addr's (its number may have changed). */
        int (*dev_verify_nodes)(void *ctx, const char *addr, char *const *nodes, usec_t deadline, gh_error *err);
        int (*journal_append)(void *ctx, const char *line, gh_error *err);
        /* 1 and the record when addr is on the stuck list, 0 when not. */
        int (*dev_stuck)(void *ctx, const char *addr, gh_stuck *ret);
} gh_host_ops;

/* Told of each step as it ends; the front logs from here (the core never logs). */
typedef struct gh_exec_observer {
        /* undo: NULL for a step done, the give-back action for an undo */
        void (*step_done)(void *ctx, size_t index, const gh_step *s, const gh_giveback_action *undo, int r,
                          usec_t duration, const gh_error *err);
        void *ctx;
} gh_exec_observer;

/* The rollback after a failed prepare has this much time of its own, past the prepare's budget: the
 * hook returns within timeout + GH_EXEC_ROLLBACK_GRACE_SEC. A healthy host undoes a hand-over in well
 * under a second (a unit's start job, a module load, sysfs writes); 15 s still covers one device's
 * give-back running into its 10 s bind deadline, and the reserve below, without the user waiting on a
 * rollback as long as the budget that already ran out. */
#define GH_EXEC_ROLLBACK_GRACE_SEC 15u
/* Each undo still to come keeps this much of a rollback's time from the undo before it, so one that
 * hangs (a start behind a stop job that never ends) cannot leave the others none. */
#define GH_EXEC_UNDO_RESERVE (1 * USEC_PER_SEC)

/* Journals then runs each step until deadline (the hook's start plus the plan's budget: whatever ran
 * before, the lock wait and the gathering, counts). On failure gives the steps begun back (in the
 * give-back order) within GH_EXEC_ROLLBACK_GRACE_SEC, and returns the step's error (err names the step
 * and the thing, then every undo that failed); *ret_undo gets the rollback's result as gh_exec_undo()
 * returns it (0 or 1: nothing is left to undo, the journal may go). */
int gh_exec_prepare(const gh_plan *plan, usec_t deadline, const gh_host_ops *ops, void *ctx,
                    const gh_exec_observer *obs, int *ret_undo, gh_error *err);

/* Gives steps[0..n) back in the give-back order (gh_giveback_order()) within timeout, going on past
 * failures (each action keeps GH_EXEC_UNDO_RESERVE for every one after it); returns the first failure's code,
 * and err names every undo that failed ("N undos failed: undo of ...; undo of ..."). */
/* 1 when every step was given back but a check of the outcome failed (a node did not come back): nothing
 * is left to undo, and err says what is missing. */
int gh_exec_undo(const gh_step *steps, size_t n, usec_t timeout, const gh_host_ops *ops, void *ctx,
                 const gh_exec_observer *obs, gh_error *err);
