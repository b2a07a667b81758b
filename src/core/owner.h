/* Who acts for a process holding the GPU: the unit or session it belongs to, which is what a hand-over
 * stops, rather than the process, which a Restart= or a session would bring back. */
#pragma once

#include <errno.h>
#include <stdint.h>

#include "facts.h"

typedef enum gh_owner_kind {
        GH_OWNER_NONE,        /* no unit of its own (a scope, systemd-run --scope, unknown): signalled */
        GH_OWNER_SYSTEM_UNIT, /* a system service: stopped as a unit */
        GH_OWNER_USER_UNIT,   /* a service of a user's manager (user@UID.service): stopped through it */
        GH_OWNER_SESSION,     /* a login session's process: the session's own scope */
        _GH_OWNER_KIND_MAX,
        _GH_OWNER_KIND_INVALID = -EINVAL,
} gh_owner_kind;

typedef struct gh_owner {
        gh_owner_kind kind;
        char *unit;          /* SYSTEM_UNIT, USER_UNIT: the service; NULL otherwise */
        uint32_t uid;        /* USER_UNIT: whose manager runs it */
        const char *session; /* SESSION: borrowed from the holder (NULL under a fake root: its scope says) */
} gh_owner;

/* From the holder's cgroup, which sd-login reads too, and its uid (sd_pid_get_owner_uid(), or the
 * user@UID.service its cgroup sits in). The user unit's name comes from below user@UID.service, which
 * the user may name as they like: it is only ever stopped through that user's own manager. Protected
 * holders (identity.h) are the caller's to refuse first. */
int gh_holder_owner(const gh_holder *h, gh_owner *ret);
/* "system unit 'ollama.service'", "user unit 'ollama.service' of user 1000", "session '3'", "no unit of
 * its own". */
int gh_owner_describe(const gh_owner *o, char **ret);
void gh_owner_done(gh_owner *o);
