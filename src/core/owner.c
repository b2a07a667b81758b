/* Holders resolved to owners: system service, user service, session, or none. */
#include <inttypes.h>
#include <stdio.h>

#include "config.h"
#include "identity.h"
#include "owner.h"

/* A service of its own: not a scope (a session, systemd-run --scope, an app launched by the desktop),
 * not a user's manager (its children belong to the user). */
static bool unit_is_service(const char *unit)
{
        return endswith(unit, ".service") && !startswith(unit, "user@") && gh_unit_name_valid(unit);
}

static int holder_uid(const gh_holder *h, uint32_t *ret)
{
        if (h->has_uid) {
                *ret = h->uid;
                return 0;
        }
        return gh_cgroup_user_manager_uid(h->cgroup, ret);
}

static int owner_user_unit(const gh_holder *h, gh_owner *o)
{
        _cleanup_free_ char *unit = NULL;
        uint32_t uid;
        int r = gh_cgroup_user_unit(h->cgroup, &unit);

        if (r == -ENXIO || (r >= 0 && !unit_is_service(unit)))
                return 0;
        if (r < 0)
                return r;
        r = holder_uid(h, &uid);
        if (r == -ENXIO)
                return 0;
        if (r < 0)
                return r;
        *o = (gh_owner){.kind = GH_OWNER_USER_UNIT, .unit = TAKE_PTR(unit), .uid = uid};
        return 1;
}

int gh_holder_owner(const gh_holder *h, gh_owner *ret)
{
        _cleanup_free_ char *unit = NULL;
        gh_owner o = {.kind = GH_OWNER_NONE};
        int r = gh_cgroup_unit(h->cgroup, &unit);

        /* No cgroup read: the unit sd-login named, if any. */
        if (r == -ENXIO && !h->cgroup && h->unit && !(unit = strdup(h->unit)))
                return -ENOMEM;
        if (r < 0 && r != -ENXIO)
                return r;
        if (unit && unit_is_service(unit))
                o = (gh_owner){.kind = GH_OWNER_SYSTEM_UNIT, .unit = TAKE_PTR(unit)};
        else if (unit && startswith(unit, "user@") && (r = owner_user_unit(h, &o)) < 0)
                return r;
        else if (o.kind == GH_OWNER_NONE && (h->session || (unit && startswith(unit, "session-"))))
                o = (gh_owner){.kind = GH_OWNER_SESSION, .session = h->session};
        *ret = o;
        return 0;
}

int gh_owner_describe(const gh_owner *o, char **ret)
{
        int r;

        switch (o->kind) {
        case GH_OWNER_SYSTEM_UNIT:
                r = asprintf(ret, "system unit '%s'", o->unit);
                break;
        case GH_OWNER_USER_UNIT:
                r = asprintf(ret, "user unit '%s' of user %" PRIu32, o->unit, o->uid);
                break;
        case GH_OWNER_SESSION:
                r = o->session ? asprintf(ret, "session '%s'", o->session) : asprintf(ret, "a session");
                break;
        default:
                r = asprintf(ret, "no unit of its own");
                break;
        }
        return r < 0 ? -ENOMEM : 0;
}

void gh_owner_done(gh_owner *o)
{
        if (!o)
                return;
        free(o->unit);
        *o = (gh_owner){};
}
