/* The graphical session's fate, from a built plan: the display manager's STOP_UNIT and START_UNIT steps,
 * the END_HOLDERS steps with their mode, and who holds what those end (owners from core/owner.h). */
#include <stdarg.h>
#include <stdio.h>

#include "identity.h"
#include "logind-copy.h"
#include "owner.h"
#include "session.h"
#include "shared/strv.h"

static const char *const fate_names[_GH_SESSION_FATE_MAX] = {
        [GH_SESSION_KEPT] = "kept",
        [GH_SESSION_STOPPED] = "stopped",
        [GH_SESSION_ENDED] = "ended",
        [GH_SESSION_REFUSED] = "refused",
};

const char *gh_session_fate_to_string(gh_session_fate f)
{
        return f >= 0 && f < _GH_SESSION_FATE_MAX ? fate_names[f] : NULL;
}

static const gh_step *find_step(const gh_plan *plan, gh_step_kind kind, const char *name)
{
        for (size_t i = 0; i < plan->n_steps; i++)
                if (plan->steps[i].kind == kind && (!name || streq_ptr(plan->steps[i].name, name)))
                        return &plan->steps[i];
        return NULL;
}

static bool node_ended(const gh_plan *plan, const char *node)
{
        for (size_t i = 0; i < plan->n_steps; i++)
                if (plan->steps[i].kind == GH_STEP_END_HOLDERS && strv_contains(plan->steps[i].nodes, node))
                        return true;
        return false;
}

/* Signalling h ends what the user sees: the planner counts it as graphical, or it is a login session's
 * process holding a DRM card, which only a display server opens: a compositor started from a TTY login
 * (weston, sway) is in a session logind calls "tty", which the planner signals like any other. */
static bool ends_session(const gh_facts *f, const gh_holder *h)
{
        _cleanup_(gh_owner_done) gh_owner o = {};

        if (gh_plan_holder_is_graphical(f, h))
                return true;
        return startswith(h->node, "/dev/dri/card") && gh_holder_owner(h, &o) >= 0 &&
               o.kind == GH_OWNER_SESSION;
}

/* The first holder of what the plan ends, graphical or not as asked; logind's copies are none. */
static const gh_holder *ended_holder(const gh_plan *plan, const gh_facts *f, bool graphical)
{
        for (size_t i = 0; i < f->n_holders; i++) {
                const gh_holder *h = &f->holders[i];

                if (node_ended(plan, h->node) && !gh_holder_is_logind_copy(h) &&
                    ends_session(f, h) == graphical)
                        return h;
        }
        return NULL;
}

static int set(gh_session *s, gh_session_fate fate, bool logs_out, const char *fmt, ...) _printf_(4, 5);
static int set(gh_session *s, gh_session_fate fate, bool logs_out, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s->why, fmt, ap);
        va_end(ap);
        if (r < 0) {
                s->why = NULL;
                return -ENOMEM;
        }
        s->fate = fate;
        s->logs_out = logs_out;
        return 0;
}

/* "the display manager 'gdm.service' stops, and starts again right after the bind" */
static int dm_story(const gh_plan *plan, const gh_facts *f, char **ret)
{
        bool early = find_step(plan, GH_STEP_START_UNIT, f->dm_unit);

        return asprintf(ret, "the display manager '%s' stops, and starts again %s", f->dm_unit,
                        early ? "right after the bind" : "only after release, when the VM stops") < 0
                       ? -ENOMEM
                       : 0;
}

static int refused(const gh_facts *f, const gh_holder *h, const char *why, bool dm_stop, gh_session *s)
{
        return set(s, GH_SESSION_REFUSED, dm_stop, "pid %d (%s) holds %s%s: the start is refused%s%s%s",
                   (int)h->pid, strempty(h->comm), gh_holder_what(h), why,
                   dm_stop ? " after the display manager '" : "", dm_stop ? f->dm_unit : "",
                   dm_stop ? "' was stopped (the rollback starts it again)" : ", nothing is stopped");
}

/* Signalled: its session goes with it. */
static int ended(const gh_holder *h, gh_session *s)
{
        _cleanup_(gh_owner_done) gh_owner o = {};
        _cleanup_free_ char *owner = NULL;
        int r;

        if ((r = gh_holder_owner(h, &o)) < 0 || (r = gh_owner_describe(&o, &owner)) < 0)
                return r;
        return set(s, GH_SESSION_ENDED, true,
                   "pid %d (%s) holds %s, owned by %s: it is signalled, and the graphical session ends "
                   "with it",
                   (int)h->pid, strempty(h->comm), gh_holder_what(h), owner);
}

static int kept(const gh_plan *plan, gh_session *s)
{
        _cleanup_free_ char *list = NULL;
        size_t len = 0;
        FILE *f;

        if (plan->n_devices == 0)
                return set(s, GH_SESSION_KEPT, false, "nothing is taken");
        f = open_memstream(&list, &len);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < plan->n_devices; i++)
                fprintf(f, "%s%s", i ? ", " : "", GH_PCI_ADDR_STR(&plan->devices[i]));
        if (fclose(f) != 0)
                return -ENOMEM;
        return set(s, GH_SESSION_KEPT, false, "nothing graphical holds %s", list);
}

/* In the order prepare meets them: the display manager stops first, then END_HOLDERS refuses a protected
 * holder, or with holders = fail any holder left; else it signals the session's processes. */
int gh_session_from_plan(const gh_plan *plan, const gh_facts *f, gh_session *ret)
{
        gh_session s = {};
        const gh_step *end = find_step(plan, GH_STEP_END_HOLDERS, NULL);
        bool dm_stop = f->dm_unit && find_step(plan, GH_STEP_STOP_UNIT, f->dm_unit);
        const gh_holder *prot = gh_plan_protected_holder(plan, f), *h;
        _cleanup_free_ char *why = NULL, *dm = NULL;
        int r;

        if (prot) {
                if ((r = gh_holder_guard_describe(prot, gh_holder_guard(prot, 0, 0), &why)) < 0)
                        return r;
                if (asprintf(&dm, " and is protected (%s)", strempty(why)) < 0)
                        return -ENOMEM;
                r = refused(f, prot, dm, dm_stop, &s);
        } else if (end && end->holders_mode == GH_HOLDERS_FAIL &&
                   ((h = ended_holder(plan, f, false)) || (!dm_stop && (h = ended_holder(plan, f, true)))))
                r = refused(f, h, ", and holders = fail", dm_stop, &s);
        else if (dm_stop) {
                if ((r = dm_story(plan, f, &dm)) >= 0)
                        r = set(&s, GH_SESSION_STOPPED, true, "%s", dm);
        } else if ((h = ended_holder(plan, f, true)))
                r = ended(h, &s);
        else
                r = kept(plan, &s);
        if (r < 0) {
                gh_session_done(&s);
                return r;
        }
        *ret = s;
        return 0;
}

int gh_session_describe(const gh_session *s, char **ret)
{
        int r = s->fate == GH_SESSION_KEPT
                        ? asprintf(ret, "kept (%s)", s->why)
                        : asprintf(ret, "%s: %s", gh_session_fate_to_string(s->fate), s->why);

        return r < 0 ? -ENOMEM : 0;
}

void gh_session_done(gh_session *s)
{
        if (!s)
                return;
        free(s->why);
        *s = (gh_session){};
}
