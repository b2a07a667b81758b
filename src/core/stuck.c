/* The stuck-function record: one line of the stuck file, written and read back exactly. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "stuck.h"

static const char *const op_names[_GH_STUCK_OP_MAX] = {
        [GH_STUCK_UNBIND] = "unbind",
        [GH_STUCK_OVERRIDE_READ] = "override-read",
        [GH_STUCK_OVERRIDE_WRITE] = "override-write",
        [GH_STUCK_PROBE] = "probe",
        [GH_STUCK_REMOVE] = "module-unload",
};

const char *gh_stuck_op_to_string(gh_stuck_op op)
{
        return op >= 0 && op < _GH_STUCK_OP_MAX ? op_names[op] : NULL;
}

gh_stuck_op gh_stuck_op_from_string(const char *s)
{
        for (int i = 0; i < _GH_STUCK_OP_MAX; i++)
                if (streq(s, op_names[i]))
                        return i;
        return _GH_STUCK_OP_INVALID;
}

static bool driver_ok(const char *d)
{
        return !*d || (strlen(d) < GH_STUCK_DRIVER_MAX && gh_driver_name_valid(d) && d[0] != ' ');
}

int gh_stuck_format(const gh_stuck *s, char **ret)
{
        const char *op = gh_stuck_op_to_string(s->op);
        gh_pci_addr a;

        if (!op || gh_pci_addr_parse(s->addr, &a) < 0 || !driver_ok(s->driver) || s->waiter < 0)
                return -EINVAL;
        return asprintf(ret, "%s %s %" PRIu64 " %d %" PRIu64 " %s", GH_PCI_ADDR_STR(&a), op, s->since,
                        (int)s->waiter, s->waiter_start, s->driver) < 0
                       ? -ENOMEM
                       : 0;
}

/* A decimal number as the writer prints it (no sign, no leading zero), at most max; end gets what
 * follows. */
static int parse_u64(const char *s, uint64_t max, uint64_t *ret, const char **end)
{
        char *e;

        if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' && s[1] <= '9'))
                return -EINVAL;
        errno = 0;
        *ret = strtoull(s, &e, 10);
        if (errno || *ret > max)
                return -EINVAL;
        *end = e;
        return 0;
}

/* The next space-ended word into buf (size n); s moves past the space. */
static int next_word(const char **s, char *buf, size_t n)
{
        size_t len = strcspn(*s, " ");

        if (len == 0 || len >= n || (*s)[len] != ' ')
                return -EINVAL;
        memcpy(buf, *s, len);
        buf[len] = 0;
        *s += len + 1;
        return 0;
}

static int parse_numbers(const char **s, gh_stuck *ret)
{
        uint64_t waiter;
        const char *e;

        if (parse_u64(*s, UINT64_MAX, &ret->since, &e) < 0 || *e != ' ' ||
            parse_u64(e + 1, INT32_MAX, &waiter, &e) < 0 || *e != ' ' ||
            parse_u64(e + 1, UINT64_MAX, &ret->waiter_start, &e) < 0 || *e != ' ')
                return -EINVAL;
        ret->waiter = (pid_t)waiter;
        *s = e + 1;
        return 0;
}

int gh_stuck_parse(const char *line, gh_stuck *ret)
{
        gh_stuck s = {};
        char op[32];
        gh_pci_addr a;

        if (next_word(&line, s.addr, sizeof(s.addr)) < 0 || gh_pci_addr_parse(s.addr, &a) < 0 ||
            !streq(s.addr, GH_PCI_ADDR_STR(&a)))
                return -EINVAL;
        if (next_word(&line, op, sizeof(op)) < 0 || (s.op = gh_stuck_op_from_string(op)) < 0)
                return -EINVAL;
        if (parse_numbers(&line, &s) < 0)
                return -EINVAL;
        if (strlen(line) >= sizeof(s.driver) || !driver_ok(line))
                return -EINVAL;
        strcpy(s.driver, line);
        *ret = s;
        return 0;
}

int gh_stuck_describe(const gh_stuck *s, char **ret)
{
        static const char *const what[_GH_STUCK_OP_MAX] = {
                [GH_STUCK_UNBIND] = "its unbind",
                [GH_STUCK_OVERRIDE_READ] = "a read of its driver_override",
                [GH_STUCK_OVERRIDE_WRITE] = "a write of its driver_override",
                [GH_STUCK_PROBE] = "a probe of it",
                [GH_STUCK_REMOVE] = "its remove by the unload of its driver's module",
        };
        const char *w = s->op >= 0 && s->op < _GH_STUCK_OP_MAX ? what[s->op] : "an access to it";

        if (!*s->driver)
                return asprintf(ret, "%s", w) < 0 ? -ENOMEM : 0;
        return asprintf(ret, "%s (driver '%s')", w, s->driver) < 0 ? -ENOMEM : 0;
}
