/* The give-back order, from the steps alone: the journal holds steps, and release derives the same order
 * from them that `plan` shows. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "giveback.h"

/* Whether the step has an action of kind k. */
static bool has_action(const gh_step *s, gh_giveback_kind k)
{
        switch (k) {
        case GH_GIVEBACK_UNBIND_VFIO:
                return s->kind == GH_STEP_BIND_VFIO;
        case GH_GIVEBACK_RESTORE_OVERRIDE:
                return s->kind == GH_STEP_SET_OVERRIDE;
        case GH_GIVEBACK_PROBE:
                /* An audio function released but never given an override goes back the same way; given
                 * one, its override's probe came first, and this one finds it on its driver. */
                return s->kind == GH_STEP_SET_OVERRIDE || s->kind == GH_STEP_RELEASE_AUDIO;
        case GH_GIVEBACK_VERIFY_NODES:
                return s->kind == GH_STEP_SET_OVERRIDE && s->nodes;
        case GH_GIVEBACK_LOAD_MODULE:
                return s->kind == GH_STEP_UNLOAD_MODULE;
        case GH_GIVEBACK_START_UNIT:
                return s->kind == GH_STEP_STOP_UNIT;
        case GH_GIVEBACK_START_USER_UNIT:
                return s->kind == GH_STEP_STOP_USER_UNIT;
        default:
                return false;
        }
}

int gh_giveback_order(const gh_step *steps, size_t n, gh_giveback_action **ret, size_t *ret_n)
{
        gh_giveback_action *a = NULL;
        size_t k = 0;

        /* At most three actions per step (an override's restore, probe and check). */
        if (n > 0 && !(a = calloc(n * 3, sizeof(*a))))
                return -ENOMEM;
        for (int kind = 0; kind < _GH_GIVEBACK_KIND_MAX; kind++)
                for (size_t i = n; i-- > 0;)
                        if (has_action(&steps[i], kind))
                                a[k++] = (gh_giveback_action){.kind = kind, .step = i};
        if (k == 0) {
                free(a);
                a = NULL;
        }
        *ret = a;
        *ret_n = k;
        return 0;
}

int gh_giveback_describe(const gh_giveback_action *a, const gh_step *s, char **ret)
{
        _cleanup_free_ char *nodes = NULL;
        int r;

        switch (a->kind) {
        case GH_GIVEBACK_UNBIND_VFIO:
                r = asprintf(ret, "unbind %s from vfio-pci", s->addr);
                break;
        case GH_GIVEBACK_RESTORE_OVERRIDE:
                r = asprintf(ret, "set driver_override of %s back to '%s'", s->addr, strempty(s->old_override));
                break;
        case GH_GIVEBACK_LOAD_MODULE:
                r = asprintf(ret, "load module '%s' again", s->name);
                break;
        case GH_GIVEBACK_PROBE:
                r = s->driver ? asprintf(ret, "probe %s and verify it is on '%s' again", s->addr, s->driver)
                              : asprintf(ret, "probe %s for a host driver", s->addr);
                break;
        case GH_GIVEBACK_VERIFY_NODES:
                if (gh_step_describe_nodes(s->nodes, &nodes) < 0)
                        return -ENOMEM;
                r = asprintf(ret, "verify that %s has its device nodes again: %s", s->addr, nodes);
                break;
        case GH_GIVEBACK_START_UNIT:
                r = asprintf(ret, "start unit '%s' again", s->name);
                break;
        case GH_GIVEBACK_START_USER_UNIT:
                r = asprintf(ret, "start user unit '%s' of user %" PRIu32 " again", s->name, s->uid);
                break;
        default:
                return -EINVAL;
        }
        return r < 0 ? -ENOMEM : 0;
}
