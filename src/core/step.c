/* Steps: names, the journal's one-line form (parsed back strictly), and the human form for `plan`. */
#include <ctype.h>
#include <errno.h>

#include "shared/strv.h"
#include "step.h"

static const char *const step_kind_table[_GH_STEP_KIND_MAX] = {
        [GH_STEP_STOP_UNIT] = "stop-unit",         [GH_STEP_END_HOLDERS] = "end-holders",
        [GH_STEP_SET_OVERRIDE] = "set-override",   [GH_STEP_UNLOAD_MODULE] = "unload-module",
        [GH_STEP_UNBIND] = "unbind",               [GH_STEP_LOAD_MODULE] = "load-module",
        [GH_STEP_BIND_VFIO] = "bind-vfio",         [GH_STEP_START_UNIT] = "start-unit",
};

const char *gh_step_kind_to_string(gh_step_kind k)
{
        if (k < 0 || k >= _GH_STEP_KIND_MAX)
                return NULL;
        return step_kind_table[k];
}

gh_step_kind gh_step_kind_from_string(const char *s)
{
        for (int i = 0; i < _GH_STEP_KIND_MAX; i++)
                if (streq(step_kind_table[i], s))
                        return (gh_step_kind)i;
        return _GH_STEP_KIND_INVALID;
}

void gh_step_done(gh_step *s)
{
        if (!s)
                return;
        free(s->name);
        free(s->driver);
        free(s->old_override);
        strv_free(s->nodes);
        *s = (gh_step){.group = -1};
}

/* Values keep a small safe alphabet; everything else, including ',' and '=', is %XX. */
static bool value_char_plain(unsigned char c)
{
        return isalnum(c) || strchr("._:/@+-", c);
}

static int buf_append(char **buf, size_t *len, const char *s, size_t n)
{
        char *b = realloc(*buf, *len + n + 1);

        if (!b)
                return -ENOMEM;
        memcpy(b + *len, s, n);
        *len += n;
        b[*len] = 0;
        *buf = b;
        return 0;
}

static int append_escaped(char **buf, size_t *len, const char *v)
{
        for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
                char e[4];
                int r;

                if (value_char_plain(*p))
                        r = buf_append(buf, len, (const char *)p, 1);
                else {
                        snprintf(e, sizeof(e), "%%%02X", *p);
                        r = buf_append(buf, len, e, 3);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

static int append_field(char **buf, size_t *len, const char *key, const char *value)
{
        int r;

        if (!value)
                return 0;
        r = buf_append(buf, len, " ", 1);
        if (r >= 0)
                r = buf_append(buf, len, key, strlen(key));
        if (r >= 0)
                r = buf_append(buf, len, "=", 1);
        if (r >= 0)
                r = append_escaped(buf, len, value);
        return r;
}

static int append_nodes(char **buf, size_t *len, char *const *nodes)
{
        int r = 0;

        if (!nodes || !*nodes)
                return 0;
        r = buf_append(buf, len, " nodes=", 7);
        STRV_FOREACH (n, nodes) {
                if (r >= 0 && n != nodes)
                        r = buf_append(buf, len, ",", 1);
                if (r >= 0)
                        r = append_escaped(buf, len, *n);
        }
        return r;
}

int gh_step_to_line(const gh_step *s, char **ret)
{
        _cleanup_free_ char *buf = NULL;
        const char *kind = gh_step_kind_to_string(s->kind);
        char num[16], grace[16];
        size_t len = 0;
        int r;

        if (!kind)
                return -EINVAL;
        snprintf(num, sizeof(num), "%d", s->group);
        snprintf(grace, sizeof(grace), "%u", s->grace_sec);
        r = buf_append(&buf, &len, kind, strlen(kind));
        if (r >= 0)
                r = append_field(&buf, &len, "addr", s->addr[0] ? s->addr : NULL);
        if (r >= 0)
                r = append_field(&buf, &len, "name", s->name);
        if (r >= 0)
                r = append_field(&buf, &len, "driver", s->driver);
        if (r >= 0)
                r = append_field(&buf, &len, "old", s->old_override);
        if (r >= 0)
                r = append_field(&buf, &len, "group", s->group >= 0 ? num : NULL);
        if (r >= 0)
                r = append_nodes(&buf, &len, s->nodes);
        if (r >= 0 && s->kind == GH_STEP_END_HOLDERS) {
                r = append_field(&buf, &len, "mode", gh_holders_mode_to_string(s->holders_mode));
                if (r >= 0)
                        r = append_field(&buf, &len, "grace", grace);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(buf);
        return 0;
}

static int unescape(const char *s, size_t n, char **ret)
{
        _cleanup_free_ char *out = malloc(n + 1);
        size_t k = 0;

        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                unsigned v;

                if (s[i] != '%') {
                        if (!value_char_plain((unsigned char)s[i]))
                                return -EINVAL;
                        out[k++] = s[i];
                        continue;
                }
                if (i + 2 >= n)
                        return -EINVAL;
                if (!isxdigit((unsigned char)s[i + 1]) || !isxdigit((unsigned char)s[i + 2]) ||
                    sscanf(s + i + 1, "%2x", &v) != 1 || v == 0)
                        return -EINVAL;
                out[k++] = (char)v;
                i += 2;
        }
        out[k] = 0;
        *ret = TAKE_PTR(out);
        return 0;
}

static int parse_uint(const char *s, unsigned max, unsigned *ret)
{
        char *end;
        unsigned long v;

        if (!isdigit((unsigned char)*s))
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || *end || v > max)
                return -EINVAL;
        *ret = (unsigned)v;
        return 0;
}

static int parse_nodes(const char *v, size_t n, char ***ret)
{
        _cleanup_strv_free_ char **l = NULL;

        while (n > 0) {
                size_t k = strcspn(v, ",");
                char *node;
                int r;

                if (k > n)
                        k = n;
                r = unescape(v, k, &node);
                if (r < 0)
                        return r;
                r = strv_push(&l, node);
                if (r < 0)
                        return r;
                v += k;
                n -= k;
                if (n > 0) {
                        v++;
                        n--;
                }
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int step_set_string(char **field, const char *v, size_t n)
{
        if (*field)
                return -EINVAL; /* a key given twice */
        return unescape(v, n, field);
}

static int step_set_field(gh_step *s, const char *key, size_t klen, const char *v, size_t n)
{
        _cleanup_free_ char *val = NULL;
        unsigned u;
        gh_pci_addr a;
        int r;

        if (n == 0)
                return -EINVAL;
#define KEY_IS(k) (klen == strlen(k) && strncmp(key, k, klen) == 0)
        if (KEY_IS("name"))
                return step_set_string(&s->name, v, n);
        if (KEY_IS("driver"))
                return step_set_string(&s->driver, v, n);
        if (KEY_IS("old"))
                return step_set_string(&s->old_override, v, n);
        if (KEY_IS("nodes"))
                return s->nodes ? -EINVAL : parse_nodes(v, n, &s->nodes);
        r = unescape(v, n, &val);
        if (r < 0)
                return r;
        if (KEY_IS("addr")) {
                if (s->addr[0] || gh_pci_addr_parse(val, &a) < 0)
                        return -EINVAL;
                gh_pci_addr_format(&a, s->addr);
                return 0;
        }
        if (KEY_IS("group")) {
                r = parse_uint(val, 0x7fffffff, &u);
                s->group = (int)u;
                return r;
        }
        if (KEY_IS("grace"))
                return parse_uint(val, 3600, &s->grace_sec);
        if (KEY_IS("mode")) {
                gh_holders_mode m = gh_holders_mode_from_string(val);
                if (m < 0)
                        return -EINVAL;
                s->holders_mode = m;
                return 0;
        }
#undef KEY_IS
        return -EINVAL;
}

/* What each kind needs to be run and undone, and nothing it has no use for. */
static bool step_complete(const gh_step *s)
{
        bool dev = s->addr[0], named = s->name, nodes = s->nodes && s->nodes[0];
        bool group = s->group >= 0, driver = s->driver, old = s->old_override;

        switch (s->kind) {
        case GH_STEP_STOP_UNIT:
        case GH_STEP_START_UNIT:
        case GH_STEP_UNLOAD_MODULE:
        case GH_STEP_LOAD_MODULE:
                return named && !dev && !driver && !old && !group && !s->nodes;
        case GH_STEP_END_HOLDERS:
                return nodes && !dev && !named && !driver && !old && !group;
        case GH_STEP_SET_OVERRIDE:
                return dev && !named && !group && !s->nodes;
        case GH_STEP_UNBIND:
                return dev && driver && !named && !old && !group && !s->nodes;
        case GH_STEP_BIND_VFIO:
                return dev && group && !named && !driver && !old && !s->nodes;
        default:
                return false;
        }
}

int gh_step_from_line(const char *line, gh_step *ret)
{
        _cleanup_(gh_step_done) gh_step s = {.group = -1};
        char kind[32];
        size_t n = strcspn(line, " ");
        int r;

        if (n == 0 || n >= sizeof(kind))
                return -EINVAL;
        memcpy(kind, line, n);
        kind[n] = 0;
        s.kind = gh_step_kind_from_string(kind);
        if (s.kind < 0)
                return -EINVAL;
        for (const char *p = line + n; *p;) {
                size_t len, klen;
                const char *eq;

                if (*p++ != ' ')
                        return -EINVAL;
                len = strcspn(p, " ");
                eq = memchr(p, '=', len);
                if (!eq || eq == p)
                        return -EINVAL;
                klen = (size_t)(eq - p);
                r = step_set_field(&s, p, klen, eq + 1, len - klen - 1);
                if (r < 0)
                        return r;
                p += len;
        }
        if (!step_complete(&s))
                return -EINVAL;
        *ret = s;
        s = (gh_step){.group = -1};
        return 0;
}

static int describe_nodes(char *const *nodes, char **ret)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r = 0;

        STRV_FOREACH (n, nodes) {
                if (n != nodes)
                        r = buf_append(&buf, &len, ", ", 2);
                if (r >= 0)
                        r = buf_append(&buf, &len, *n, strlen(*n));
                if (r < 0)
                        return r;
        }
        *ret = buf ? TAKE_PTR(buf) : strdup("");
        return *ret ? 0 : -ENOMEM;
}

int gh_step_describe(const gh_step *s, char **ret)
{
        _cleanup_free_ char *nodes = NULL;
        /* No host driver on record (claimed at boot, or it had none): the undo probes for whatever driver
         * the device's modalias finds; there is no driver called "none" to rebind. */
        bool probe = !s->driver;
        int r = 0;

        switch (s->kind) {
        case GH_STEP_STOP_UNIT:
                r = asprintf(ret, "stop unit '%s' (undo: start it)", s->name);
                break;
        case GH_STEP_START_UNIT:
                r = asprintf(ret, "start unit '%s' again now: the host keeps another GPU", s->name);
                break;
        case GH_STEP_END_HOLDERS:
                if (describe_nodes(s->nodes, &nodes) < 0)
                        return -ENOMEM;
                if (s->holders_mode == GH_HOLDERS_FAIL)
                        r = asprintf(ret, "refuse if any process still holds %s", nodes);
                else
                        r = asprintf(ret, "end processes still holding %s (SIGTERM, %us grace, SIGKILL)", nodes,
                                     s->grace_sec);
                break;
        case GH_STEP_SET_OVERRIDE:
                r = asprintf(ret, "set driver_override of %s to vfio-pci (undo: restore '%s', %s%s%s)",
                             s->addr, strempty(s->old_override),
                             probe ? "probe for a host driver" : "rebind '", strempty(s->driver),
                             probe ? "" : "'");
                break;
        case GH_STEP_UNLOAD_MODULE:
                r = asprintf(ret, "unload module '%s' (undo: load it)", s->name);
                break;
        case GH_STEP_UNBIND:
                r = asprintf(ret, "unbind %s from '%s', in a child with a deadline", s->addr, s->driver);
                break;
        case GH_STEP_LOAD_MODULE:
                r = asprintf(ret, "load module '%s'", s->name);
                break;
        case GH_STEP_BIND_VFIO:
                r = asprintf(ret, "bind %s to vfio-pci, verify its driver and /dev/vfio/%d (undo: unbind)",
                             s->addr, s->group);
                break;
        default:
                return -EINVAL;
        }
        return r < 0 ? -ENOMEM : 0;
}
