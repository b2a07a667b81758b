/* The executor: write-ahead journal line, then the step; on failure, the give-back of every step begun
 * (its actions are idempotent, so the one that failed half-way is undone too), in the give-back order. */
#include <errno.h>

#include "exec.h"
#include "journal-text.h"

#define VFIO_DRIVER "vfio-pci"

typedef struct exec_env {
        const gh_host_ops *ops;
        void *ctx;
        const gh_exec_observer *obs;
} exec_env;

static int step_do(const exec_env *e, const gh_step *s, usec_t deadline, gh_error *err)
{
        const gh_host_ops *o = e->ops;

        switch (s->kind) {
        case GH_STEP_STOP_UNIT:
                return o->unit_stop(e->ctx, s->name, deadline, err);
        case GH_STEP_START_UNIT:
                return o->unit_start(e->ctx, s->name, deadline, err);
        case GH_STEP_STOP_USER_UNIT:
                return o->user_unit_stop(e->ctx, s->uid, s->name, deadline, err);
        case GH_STEP_END_HOLDERS:
                return o->holders_end(e->ctx, s->nodes, s->holders_mode, (usec_t)s->grace_sec * USEC_PER_SEC,
                                      deadline, err);
        case GH_STEP_SET_OVERRIDE:
                return o->override_set(e->ctx, s->addr, VFIO_DRIVER, deadline, err);
        case GH_STEP_UNLOAD_MODULE:
                return o->module_unload(e->ctx, s->name, deadline, err);
        case GH_STEP_UNBIND:
                return o->dev_unbind(e->ctx, s->addr, s->driver, deadline, err);
        case GH_STEP_LOAD_MODULE:
                return o->module_load(e->ctx, s->name, deadline, err);
        case GH_STEP_BIND_VFIO:
                return o->dev_bind_vfio(e->ctx, s->addr, s->group, deadline, err);
        case GH_STEP_WAIT_RELEASED:
                return o->logind_wait_released(e->ctx, s->nodes, deadline, err);
        case GH_STEP_RELEASE_AUDIO:
                return o->audio_release(e->ctx, s, deadline, err);
        default:
                return -EINVAL;
        }
}

static int start_unit_again(const exec_env *e, const gh_step *s, usec_t deadline, gh_error *err)
{
        int r = s->kind == GH_STEP_STOP_USER_UNIT
                        ? e->ops->user_unit_start(e->ctx, s->uid, s->name, deadline, err)
                        : e->ops->unit_start(e->ctx, s->name, deadline, err);

        /* No such unit any more: a transient one (systemd-run, stopped as a holder's unit) is gone once
         * stopped, and an uninstalled one cannot start. There is nothing to give back. */
        if (r == -ENOENT && err)
                *err = (gh_error){};
        return r == -ENOENT ? 0 : r;
}

static int giveback_do(const exec_env *e, const gh_giveback_action *a, const gh_step *s, usec_t deadline,
                       gh_error *err)
{
        const gh_host_ops *o = e->ops;

        switch (a->kind) {
        case GH_GIVEBACK_UNBIND_VFIO:
                return o->dev_unbind(e->ctx, s->addr, VFIO_DRIVER, deadline, err);
        case GH_GIVEBACK_RESTORE_OVERRIDE: {
                /* Loading vfio-pci binds every function whose override names it, begun BIND_VFIO or not:
                 * a driver loaded again next must find the function free. */
                int r = o->override_set(e->ctx, s->addr, s->old_override, deadline, err);

                return r < 0 ? r : o->dev_unbind(e->ctx, s->addr, VFIO_DRIVER, deadline, err);
        }
        case GH_GIVEBACK_LOAD_MODULE:
                return o->module_load(e->ctx, s->name, deadline, err);
        case GH_GIVEBACK_PROBE:
                return o->dev_give_back(e->ctx, s->addr, s->old_override, s->driver, deadline, err);
        case GH_GIVEBACK_VERIFY_NODES:
                return o->dev_verify_nodes(e->ctx, s->addr, s->nodes, deadline, err);
        case GH_GIVEBACK_START_UNIT:
        case GH_GIVEBACK_START_USER_UNIT:
                return start_unit_again(e, s, deadline, err);
        default:
                return -EINVAL;
        }
}

static void notify(const exec_env *e, size_t i, const gh_step *s, const gh_giveback_action *undo, int r,
                   usec_t start, const gh_error *err)
{
        if (e->obs && e->obs->step_done)
                e->obs->step_done(e->obs->ctx, i, s, undo, r, now_usec() - start, err);
}

/* Names the step when the operation did not say more itself. */
static int step_error(gh_error *err, const gh_step *s, int r)
{
        const char *what = s->addr[0] ? s->addr : strempty(s->name);

        return gh_error_set(err, r, "%s %s failed: %s", gh_step_kind_to_string(s->kind), what, strerror(-r));
}

static void journal_stuck_addr(const exec_env *e, const char *addr)
{
        _cleanup_free_ char *line = NULL;
        gh_error ignored = {};
        gh_stuck st;

        if (e->ops->dev_stuck(e->ctx, addr, &st) <= 0)
                return;
        if (gh_journal_stuck_line(&st, &line) >= 0)
                (void)e->ops->journal_append(e->ctx, line, &ignored);
}

/* A device access that timed out has put the function on the stuck list: the journal says so too, for as
 * long as this hand-over is on record. Best effort: the list is what later runs go by. A module unload
 * that timed out may have left any function of its drivers stuck in its remove: the journal names those
 * of this hand-over (steps[0..n)) that the list has. */
static void journal_stuck(const exec_env *e, const gh_step *steps, size_t n, const gh_step *s, int r)
{
        if (r != -ETIMEDOUT || !e->ops->dev_stuck)
                return;
        if (s->addr[0]) {
                journal_stuck_addr(e, s->addr);
                return;
        }
        if (s->kind != GH_STEP_UNLOAD_MODULE)
                return;
        for (size_t i = 0; i < n; i++) {
                bool seen = false;

                if (!steps[i].addr[0])
                        continue;
                for (size_t j = 0; j < i && !seen; j++)
                        seen = streq(steps[j].addr, steps[i].addr);
                if (!seen)
                        journal_stuck_addr(e, steps[i].addr);
        }
}

/* Every undo that failed, newest step first: the caller reports them all, not only the first. */
typedef struct undo_failures {
        unsigned n;
        unsigned n_left; /* those that left something undone: all but checks of the outcome */
        gh_error list;
} undo_failures;

static void undo_failure_add(undo_failures *f, const gh_giveback_action *a, int r, const char *msg)
{
        f->n++;
        f->n_left += a->kind != GH_GIVEBACK_VERIFY_NODES;
        /* Cut short when full: the log has each failure whole, and the count says how many. */
        gh_error_append(&f->list, r, "; ", "undo of %s", msg);
}

/* The count comes first, so that it survives a list too long for one message. */
static int undo_failures_report(const undo_failures *f, gh_error *err)
{
        if (f->n == 0)
                return 0;
        if (f->n == 1)
                gh_error_set(err, f->list.code, "%s", f->list.msg);
        else
                gh_error_set(err, f->list.code, "%u undos failed: %s", f->n, f->list.msg);
        return f->n_left ? f->list.code : 1;
}

/* The deadline of one undo with later undos still to run: it leaves them GH_EXEC_UNDO_RESERVE each,
 * or, with less time left than that, a share as large as its own. */
static usec_t undo_deadline(usec_t deadline, size_t later)
{
        usec_t left = deadline_left(deadline), keep;

        if (left == USEC_INFINITY || later == 0)
                return deadline;
        keep = later * GH_EXEC_UNDO_RESERVE;
        if (keep >= left)
                keep = left / (later + 1) * later;
        return deadline - keep;
}

/* Names the action when the operation did not say more itself. */
static int giveback_error(gh_error *err, const gh_giveback_action *a, const gh_step *s, int r)
{
        _cleanup_free_ char *what = NULL;

        if (gh_giveback_describe(a, s, &what) < 0)
                return gh_error_set(err, r, "%s", strerror(-r));
        return gh_error_set(err, r, "%s failed: %s", what, strerror(-r));
}

static int undo_range(const exec_env *e, const gh_step *steps, size_t n, usec_t timeout, gh_error *err)
{
        usec_t deadline = deadline_after(timeout);
        _cleanup_free_ gh_giveback_action *order = NULL;
        _cleanup_free_ bool *failed_step = calloc(n + 1, sizeof(bool));
        undo_failures failed = {};
        size_t k = 0;
        int r = failed_step ? gh_giveback_order(steps, n, &order, &k) : -ENOMEM;

        if (r < 0)
                return gh_error_set(err, r, "cannot order the give-back: %s", strerror(-r));
        for (size_t i = 0; i < k; i++) {
                const gh_giveback_action *a = &order[i];
                const gh_step *s = &steps[a->step];
                gh_error step_err = {};
                usec_t start = now_usec();

                /* A device whose override could not go back would fail its probe and check the same way. */
                if (failed_step[a->step])
                        continue;
                r = giveback_do(e, a, s, undo_deadline(deadline, k - i - 1), &step_err);
                failed_step[a->step] = r < 0;
                if (r < 0 && !gh_error_isset(&step_err))
                        giveback_error(&step_err, a, s, r);
                journal_stuck(e, steps, n, s, r);
                notify(e, a->step, s, a, r, start, &step_err);
                if (r < 0)
                        undo_failure_add(&failed, a, r, step_err.msg);
        }
        return undo_failures_report(&failed, err);
}

int gh_exec_undo(const gh_step *steps, size_t n, usec_t timeout, const gh_host_ops *ops, void *ctx,
                 const gh_exec_observer *obs, gh_error *err)
{
        exec_env e = {.ops = ops, .ctx = ctx, .obs = obs};

        return undo_range(&e, steps, n, timeout, err);
}

static int journal_step(const exec_env *e, const gh_step *s, gh_error *err)
{
        _cleanup_free_ char *line = NULL;
        gh_error why = {};
        int r = gh_step_check(s, &why);

        /* Refused before it runs: a line the reader would refuse would leave nothing to undo it by. */
        if (r < 0)
                return gh_error_set(err, r, "cannot journal step %s: %s",
                                    strempty(gh_step_kind_to_string(s->kind)), why.msg);
        r = gh_step_to_line(s, &line);
        if (r < 0)
                return gh_error_set(err, r, "cannot write journal line for %s", gh_step_kind_to_string(s->kind));
        r = e->ops->journal_append(e->ctx, line, err);
        if (r < 0)
                return gh_error_set(err, r, "cannot write the journal before %s: %s", gh_step_kind_to_string(s->kind),
                                    strerror(-r));
        return 0;
}

int gh_exec_prepare(const gh_plan *plan, usec_t deadline, const gh_host_ops *ops, void *ctx,
                    const gh_exec_observer *obs, int *ret_undo, gh_error *err)
{
        exec_env e = {.ops = ops, .ctx = ctx, .obs = obs};
        gh_error undo_err = {};
        size_t begun = 0;
        int r = 0;

        *ret_undo = 0;
        for (size_t i = 0; i < plan->n_steps; i++) {
                const gh_step *s = &plan->steps[i];
                usec_t start;

                if (deadline_passed(deadline)) {
                        r = gh_error_set(err, -ETIMEDOUT, "domain '%s': the hand-over ran out of its %us budget before %s",
                                         plan->domain, plan->timeout_sec, gh_step_kind_to_string(s->kind));
                        break;
                }
                r = journal_step(&e, s, err);
                if (r < 0)
                        break;
                begun = i + 1;
                start = now_usec();
                r = step_do(&e, s, deadline, err);
                if (r < 0)
                        step_error(err, s, r);
                journal_stuck(&e, plan->steps, plan->n_steps, s, r);
                notify(&e, i, s, NULL, r, start, err);
                if (r < 0)
                        break;
        }
        if (r >= 0)
                return 0;
        /* Not a fresh budget: the hook as a whole must end within timeout plus the grace. */
        *ret_undo = undo_range(&e, plan->steps, begun, GH_EXEC_ROLLBACK_GRACE_SEC * USEC_PER_SEC, &undo_err);
        if (*ret_undo < 0)
                gh_error_replace(err, r, "%s; the rollback failed too: %s", err->msg, undo_err.msg);
        else if (*ret_undo > 0)
                gh_error_replace(err, r, "%s; rolled back, but the host is not whole: %s", err->msg, undo_err.msg);
        return r;
}
