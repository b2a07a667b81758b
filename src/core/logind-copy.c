/* logind's copies of session devices (systemd's logind-session-device.c): on TakeDevice() logind opens the
 * node itself, hands the session's controller an fd, and stores a copy in PID 1's fd store; it closes its
 * own and removes the stored one (FDSTOREREMOVE=1) when the device is released, the controller goes away
 * or the session is freed. So PID 1 and logind are never the holders to act on: the session is. */
#include "logind-copy.h"

#define LOGIND_UNIT "systemd-logind.service"

static bool node_has_prefix_number(const char *node, const char *prefix)
{
        const char *p = node + strlen(prefix);

        return startswith(node, prefix) && *p && strspn(p, "0123456789") == strlen(p);
}

/* The first component of the cgroup path that is not a slice is its system unit (as gh_cgroup_unit()
 * finds it), walked in place so that the decision cannot fail. */
static bool cgroup_unit_is(const char *cgroup, const char *unit)
{
        const char *p = cgroup;

        while (p && *p) {
                size_t n;

                p += strspn(p, "/");
                n = strcspn(p, "/");
                if (n == 0)
                        return false;
                if (n < strlen(".slice") ||
                    memcmp(p + n - strlen(".slice"), ".slice", strlen(".slice")) != 0)
                        return n == strlen(unit) && memcmp(p, unit, n) == 0;
                p += n;
        }
        return false;
}

bool gh_node_is_session_device(const char *node)
{
        return node && (node_has_prefix_number(node, "/dev/dri/card") ||
                        node_has_prefix_number(node, "/dev/input/event") ||
                        node_has_prefix_number(node, "/dev/hidraw"));
}

bool gh_holder_is_logind(const gh_holder *h)
{
        return cgroup_unit_is(h->cgroup, LOGIND_UNIT);
}

bool gh_holder_is_logind_copy(const gh_holder *h)
{
        return gh_node_is_session_device(h->node) && (h->pid == 1 || gh_holder_is_logind(h));
}

const gh_holder *gh_logind_copy_owner(const gh_facts *f, const char *node)
{
        const gh_holder *any = NULL;

        for (size_t i = 0; i < f->n_holders; i++) {
                const gh_holder *h = &f->holders[i];

                if (!streq_ptr(h->node, node) || gh_holder_is_logind_copy(h))
                        continue;
                if (h->session)
                        return h;
                if (!any)
                        any = h;
        }
        return any;
}
