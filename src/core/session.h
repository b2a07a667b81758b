/* What a hand-over does to the graphical session, read off the plan the planner built (its steps, and
 * the holders of what it ends), so that `plan` and `check` say what `prepare` will do. Pure. */
#pragma once

#include <errno.h>
#include <stdbool.h>

#include "facts.h"
#include "plan.h"

typedef enum gh_session_fate {
        GH_SESSION_KEPT,    /* nothing graphical holds what is taken: the session keeps running */
        GH_SESSION_STOPPED, /* the display manager is stopped, and started again later */
        GH_SESSION_ENDED,   /* a process of the session holds the GPU and is signalled: the session dies */
        GH_SESSION_REFUSED, /* the start is refused (a protected holder, or holders = fail) */
        _GH_SESSION_FATE_MAX,
        _GH_SESSION_FATE_INVALID = -EINVAL,
} gh_session_fate;

typedef struct gh_session {
        gh_session_fate fate;
        bool logs_out; /* the user's session goes, even for a while: stopped, ended, or stopped before a
                        * refusal whose rollback starts the display manager again */
        char *why;     /* one sentence: what happens, to whom, and when it comes back */
} gh_session;

int gh_session_from_plan(const gh_plan *plan, const gh_facts *f, gh_session *ret);
/* "kept (nothing graphical holds 0000:06:00.0)", "stopped: the display manager 'gdm.service' ...". */
int gh_session_describe(const gh_session *s, char **ret);
const char *gh_session_fate_to_string(gh_session_fate f);
void gh_session_done(gh_session *s);
