/* Steps: names, the journal's one-line form (parsed back strictly), and the human form for `plan`. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>

#include "facts.h"
#include "shared/strv.h"
#include "step.h"

static const char *const step_kind_table[_GH_STEP_KIND_MAX] = {
        [GH_STEP_STOP_UNIT] = "stop-unit",
        [GH_STEP_END_HOLDERS] = "end-holders",
        [GH_STEP_SET_OVERRIDE] = "set-override",
        [GH_STEP_UNLOAD_MODULE] = "unload-module",
        [GH_STEP_UNBIND] = "unbind",
        [GH_STEP_LOAD_MODULE] = "load-module",
        [GH_STEP_BIND_VFIO] = "bind-vfio",
        [GH_STEP_START_UNIT] = "start-unit",
        [GH_STEP_STOP_USER_UNIT] = "stop-user-unit",
        [GH_STEP_WAIT_RELEASED] = "wait-released",
        [GH_STEP_RELEASE_AUDIO] = "release-audio",
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

void gh_steps_free(gh_step *steps, size_t n)
{
        for (size_t i = 0; i < n; i++)
                gh_step_done(&steps[i]);
        free(steps);
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

/* The fields each kind carries; any other is a mistake. */
enum {
        F_ADDR = 1 << 0,
        F_NAME = 1 << 1,
        F_DRIVER = 1 << 2,
        F_OLD = 1 << 3,
        F_GROUP = 1 << 4,
        F_NODES = 1 << 5,
        F_HOLDERS = 1 << 6, /* mode and grace */
        F_UID = 1 << 7,
        F_WAIT = 1 << 8,
};

static const unsigned step_fields[_GH_STEP_KIND_MAX] = {
        [GH_STEP_STOP_UNIT] = F_NAME,
        [GH_STEP_END_HOLDERS] = F_NODES | F_HOLDERS,
        [GH_STEP_SET_OVERRIDE] = F_ADDR | F_DRIVER | F_OLD | F_NODES,
        [GH_STEP_UNLOAD_MODULE] = F_NAME,
        [GH_STEP_UNBIND] = F_ADDR | F_DRIVER,
        [GH_STEP_LOAD_MODULE] = F_NAME,
        [GH_STEP_BIND_VFIO] = F_ADDR | F_GROUP,
        [GH_STEP_START_UNIT] = F_NAME,
        [GH_STEP_STOP_USER_UNIT] = F_UID | F_NAME,
        [GH_STEP_WAIT_RELEASED] = F_NODES,
        [GH_STEP_RELEASE_AUDIO] = F_ADDR | F_DRIVER | F_OLD | F_NODES | F_HOLDERS | F_WAIT,
};

/* Optional: holders mode, grace and wait have defaults; an override may have no host driver, old value
 * or nodes to see again on record; an audio function, no old value, nor nodes its driver made. */
static unsigned step_fields_optional(gh_step_kind k)
{
        unsigned f = F_HOLDERS | F_WAIT;

        if (k == GH_STEP_SET_OVERRIDE)
                f |= F_DRIVER | F_OLD | F_NODES;
        if (k == GH_STEP_RELEASE_AUDIO)
                f |= F_OLD | F_NODES;
        return f;
}

static const char *field_name(unsigned f)
{
        switch (f) {
        case F_ADDR:
                return "addr";
        case F_NAME:
                return "name";
        case F_DRIVER:
                return "driver";
        case F_OLD:
                return "old";
        case F_GROUP:
                return "group";
        case F_NODES:
                return "nodes";
        case F_UID:
                return "uid";
        case F_WAIT:
                return "wait";
        default:
                return "mode/grace";
        }
}

static unsigned step_fields_set(const gh_step *s)
{
        return (s->addr[0] ? F_ADDR : 0) | (s->name ? F_NAME : 0) | (s->driver ? F_DRIVER : 0) |
               (s->old_override ? F_OLD : 0) | (s->group >= 0 ? F_GROUP : 0) | (s->nodes ? F_NODES : 0) |
               (s->holders_mode != 0 || s->grace_sec != 0 ? F_HOLDERS : 0) | (s->has_uid ? F_UID : 0) |
               (s->wait_sec != 0 ? F_WAIT : 0);
}

/* A value in an error message keeps the journal's escaping: the message stays one line. */
static int bad_value(gh_error *err, const char *what, const char *v)
{
        _cleanup_free_ char *shown = NULL;
        size_t len = 0;

        if (append_escaped(&shown, &len, v) < 0)
                return -ENOMEM;
        return gh_error_set(err, -EINVAL, "bad %s '%s'", what, strempty(shown));
}

static int check_fields(const gh_step *s, const char *kind, gh_error *err)
{
        unsigned allowed = step_fields[s->kind], set = step_fields_set(s);
        unsigned required = allowed & ~step_fields_optional(s->kind);

        for (unsigned f = 1; f <= F_WAIT; f <<= 1) {
                if ((set & f) && !(allowed & f))
                        return gh_error_set(err, -EINVAL, "'%s' has no place in a %s step", field_name(f),
                                            kind);
                if (!(set & f) && (required & f))
                        return gh_error_set(err, -EINVAL, "a %s step needs '%s'", kind, field_name(f));
        }
        return 0;
}

static bool addr_canonical(const char *addr)
{
        char canon[GH_PCI_ADDR_MAX];
        gh_pci_addr a;

        return gh_pci_addr_parse(addr, &a) >= 0 && streq(gh_pci_addr_format(&a, canon), addr);
}

static int check_name(const gh_step *s, gh_error *err)
{
        bool unit = s->kind == GH_STEP_STOP_UNIT || s->kind == GH_STEP_START_UNIT ||
                    s->kind == GH_STEP_STOP_USER_UNIT;

        if (unit ? gh_unit_name_valid(s->name) : gh_module_name_valid(s->name))
                return 0;
        return bad_value(err, unit ? "unit name" : "module name", s->name);
}

/* An absolute path, or a dma-buf's exporter: "dma-buf:NAME", named as kernel modules are. */
static bool node_valid(const char *n)
{
        if (startswith(n, GH_DMABUF_PREFIX))
                return gh_module_name_valid(n + strlen(GH_DMABUF_PREFIX));
        return n[0] == '/';
}

/* Device nodes (or dma-buf exporters), at least one. */
static int check_nodes(char *const *nodes, gh_error *err)
{
        if (!nodes[0])
                return gh_error_set(err, -EINVAL, "an empty list of device nodes");
        STRV_FOREACH(n, nodes)
        if (!node_valid(*n))
                return bad_value(err, "device node", *n);
        return 0;
}

static int check_holders(const gh_step *s, gh_error *err)
{
        if (!gh_holders_mode_to_string(s->holders_mode))
                return gh_error_set(err, -EINVAL, "bad holders mode %d", (int)s->holders_mode);
        if (s->grace_sec > GH_POLICY_GRACE_MAX)
                return gh_error_set(err, -EINVAL, "grace %u is above %u", s->grace_sec, GH_POLICY_GRACE_MAX);
        if (s->wait_sec > GH_POLICY_AUDIO_RELEASE_MAX)
                return gh_error_set(err, -EINVAL, "wait %u is above %u", s->wait_sec,
                                    GH_POLICY_AUDIO_RELEASE_MAX);
        return 0;
}

static int check_values(const gh_step *s, gh_error *err)
{
        if (s->addr[0] && !addr_canonical(s->addr))
                return bad_value(err, "PCI address", s->addr);
        if (s->name && check_name(s, err) < 0)
                return -EINVAL;
        if (s->driver && !gh_driver_name_valid(s->driver))
                return bad_value(err, "driver name", s->driver);
        if (s->old_override && !gh_driver_name_valid(s->old_override))
                return bad_value(err, "old driver_override", s->old_override);
        if (s->nodes && check_nodes(s->nodes, err) < 0)
                return -EINVAL;
        if (s->has_uid && s->uid > GH_STEP_UID_MAX)
                return gh_error_set(err, -EINVAL, "bad uid %" PRIu32, s->uid);
        return check_holders(s, err);
}

int gh_step_check(const gh_step *s, gh_error *err)
{
        const char *kind = gh_step_kind_to_string(s->kind);
        int r;

        if (!kind)
                return gh_error_set(err, -EINVAL, "unknown step kind %d", (int)s->kind);
        r = check_fields(s, kind, err);
        return r < 0 ? r : check_values(s, err);
}

int gh_step_to_line(const gh_step *s, char **ret)
{
        _cleanup_free_ char *buf = NULL;
        const char *kind = gh_step_kind_to_string(s->kind);
        char num[16], grace[16], uid[16], wait[16];
        size_t len = 0;
        int r;

        /* Never write what the reader would refuse: a journal must always be replayable. */
        r = gh_step_check(s, NULL);
        if (r < 0)
                return r;
        snprintf(num, sizeof(num), "%d", s->group);
        snprintf(grace, sizeof(grace), "%u", s->grace_sec);
        snprintf(uid, sizeof(uid), "%" PRIu32, s->uid);
        snprintf(wait, sizeof(wait), "%u", s->wait_sec);
        r = buf_append(&buf, &len, kind, strlen(kind));
        if (r >= 0)
                r = append_field(&buf, &len, "uid", s->has_uid ? uid : NULL);
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
        if (r >= 0 && (s->kind == GH_STEP_END_HOLDERS || s->kind == GH_STEP_RELEASE_AUDIO)) {
                r = append_field(&buf, &len, "mode", gh_holders_mode_to_string(s->holders_mode));
                if (r >= 0)
                        r = append_field(&buf, &len, "grace", grace);
        }
        if (r >= 0 && s->kind == GH_STEP_RELEASE_AUDIO)
                r = append_field(&buf, &len, "wait", wait);
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

/* Every comma separates two entries, so "a," and "a,,b" hold an empty one, which the check refuses. */
static int parse_nodes(const char *v, size_t n, char ***ret)
{
        _cleanup_strv_free_ char **l = NULL;

        for (const char *end = v + n;;) {
                const char *comma = memchr(v, ',', (size_t)(end - v));
                size_t k = comma ? (size_t)(comma - v) : (size_t)(end - v);
                char *node;
                int r;

                r = unescape(v, k, &node);
                if (r >= 0)
                        r = strv_push(&l, node);
                if (r < 0)
                        return r;
                if (!comma)
                        break;
                v = comma + 1;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int step_set_string(char **field, const char *v, size_t n)
{
        if (*field)
                return -EEXIST;
        return unescape(v, n, field);
}

static int step_set_addr(gh_step *s, const char *val)
{
        gh_pci_addr a;

        if (s->addr[0])
                return -EEXIST;
        if (gh_pci_addr_parse(val, &a) < 0)
                return -EINVAL;
        gh_pci_addr_format(&a, s->addr);
        return 0;
}

static int step_set_mode(gh_step *s, const char *val)
{
        gh_holders_mode m = gh_holders_mode_from_string(val);

        if (m < 0)
                return -EINVAL;
        s->holders_mode = m;
        return 0;
}

/* -EEXIST for a key given twice, -ENOKEY for an unknown one, -EINVAL for a bad value. */
static int step_set_field(gh_step *s, const char *key, size_t klen, const char *v, size_t n)
{
        _cleanup_free_ char *val = NULL;
        unsigned u;
        int r;

#define KEY_IS(k) (klen == strlen(k) && strncmp(key, k, klen) == 0)
        if (KEY_IS("name"))
                return step_set_string(&s->name, v, n);
        if (KEY_IS("driver"))
                return step_set_string(&s->driver, v, n);
        if (KEY_IS("old"))
                return step_set_string(&s->old_override, v, n);
        if (KEY_IS("nodes"))
                return s->nodes ? -EEXIST : parse_nodes(v, n, &s->nodes);
        r = unescape(v, n, &val);
        if (r < 0)
                return r;
        if (KEY_IS("addr"))
                return step_set_addr(s, val);
        if (KEY_IS("group")) {
                if (s->group >= 0)
                        return -EEXIST;
                r = parse_uint(val, 0x7fffffff, &u);
                s->group = r < 0 ? -1 : (int)u;
                return r;
        }
        if (KEY_IS("grace"))
                return parse_uint(val, GH_POLICY_GRACE_MAX, &s->grace_sec);
        if (KEY_IS("wait"))
                return parse_uint(val, GH_POLICY_AUDIO_RELEASE_MAX, &s->wait_sec);
        if (KEY_IS("uid")) {
                if (s->has_uid)
                        return -EEXIST;
                r = parse_uint(val, GH_STEP_UID_MAX, &u);
                s->uid = u;
                s->has_uid = r >= 0;
                return r;
        }
        if (KEY_IS("mode"))
                return step_set_mode(s, val);
#undef KEY_IS
        return -ENOKEY;
}

static int field_error(int r, const char *key, size_t klen, gh_error *err)
{
        const char *what = r == -EEXIST ? "given twice" : r == -ENOKEY ? "unknown" : "malformed";

        if (r == -ENOMEM)
                return r;
        /* key holds plain characters only: value_char_plain() let it through. */
        return gh_error_set(err, -EINVAL, "field '%.*s' %s", (int)klen, key, what);
}

static int parse_kind(const char *line, size_t n, gh_step *s, gh_error *err)
{
        char kind[32];

        if (n == 0 || n >= sizeof(kind))
                return gh_error_set(err, -EINVAL, "no step kind");
        memcpy(kind, line, n);
        kind[n] = 0;
        s->kind = gh_step_kind_from_string(kind);
        if (s->kind < 0)
                return bad_value(err, "step kind", kind);
        return 0;
}

/* One " key=value" after another; the key is checked before it is shown. */
static int parse_fields(const char *p, gh_step *s, gh_error *err)
{
        while (*p) {
                size_t len, klen;
                const char *eq;
                int r;

                if (*p++ != ' ')
                        return gh_error_set(err, -EINVAL, "fields must be separated by one space");
                len = strcspn(p, " ");
                eq = memchr(p, '=', len);
                if (!eq || eq == p)
                        return gh_error_set(err, -EINVAL, "a field that is not key=value");
                klen = (size_t)(eq - p);
                if (strspn(p, "abcdefghijklmnopqrstuvwxyz") < klen)
                        return gh_error_set(err, -EINVAL, "a field with a bad key");
                r = step_set_field(s, p, klen, eq + 1, len - klen - 1);
                if (r < 0)
                        return field_error(r, p, klen, err);
                p += len;
        }
        return 0;
}

int gh_step_from_line(const char *line, gh_step *ret, gh_error *err)
{
        _cleanup_(gh_step_done) gh_step s = {.group = -1};
        size_t n = strcspn(line, " ");
        int r;

        r = parse_kind(line, n, &s, err);
        if (r >= 0)
                r = parse_fields(line + n, &s, err);
        if (r >= 0)
                r = gh_step_check(&s, err);
        if (r < 0)
                return r;
        *ret = s;
        s = (gh_step){.group = -1};
        return 0;
}

int gh_step_describe_nodes(char *const *nodes, char **ret)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r = 0;

        STRV_FOREACH (n, nodes) {
                bool dmabuf = startswith(*n, GH_DMABUF_PREFIX);
                const char *v = dmabuf ? *n + strlen(GH_DMABUF_PREFIX) : *n;

                if (n != nodes)
                        r = buf_append(&buf, &len, ", ", 2);
                if (r >= 0 && dmabuf)
                        r = buf_append(&buf, &len, "dma-bufs exported by ", strlen("dma-bufs exported by "));
                if (r >= 0)
                        r = buf_append(&buf, &len, v, strlen(v));
                if (r < 0)
                        return r;
        }
        *ret = buf ? TAKE_PTR(buf) : strdup("");
        return *ret ? 0 : -ENOMEM;
}

/* What happens after the wait to whoever still holds the card's nodes: holders = fail refuses. */
static int describe_audio_holders(const gh_step *s, char **ret)
{
        _cleanup_free_ char *nodes = NULL;
        int r;

        if (!s->nodes)
                r = asprintf(ret, "no node of it is on record to end holders of");
        else if (gh_step_describe_nodes(s->nodes, &nodes) < 0)
                return -ENOMEM;
        else if (s->holders_mode == GH_HOLDERS_FAIL)
                r = asprintf(ret, "refuse if any process still holds %s", nodes);
        else
                r = asprintf(ret, "end who still holds %s (SIGTERM, %us grace, SIGKILL)", nodes,
                             s->grace_sec);
        return r < 0 ? -ENOMEM : 0;
}

static int describe_release_audio(const gh_step *s, char **ret)
{
        _cleanup_free_ char *then = NULL;
        int r = describe_audio_holders(s, &then);

        if (r < 0)
                return r;
        r = asprintf(
                ret,
                "release audio %s from '%s': unbind first, its clients close on disconnect; after %u s, "
                "%s; the unbind then completes (undo: probe it back to '%s')",
                s->addr, s->driver, s->wait_sec, then, s->driver);
        return r < 0 ? -ENOMEM : 0;
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
        case GH_STEP_STOP_USER_UNIT:
                r = asprintf(ret,
                             "stop user unit '%s' of user %" PRIu32 " through its manager (undo: start it)",
                             s->name, s->uid);
                break;
        case GH_STEP_END_HOLDERS:
                if (gh_step_describe_nodes(s->nodes, &nodes) < 0)
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
        case GH_STEP_WAIT_RELEASED:
                if (gh_step_describe_nodes(s->nodes, &nodes) < 0)
                        return -ENOMEM;
                r = asprintf(ret, "wait until logind and PID 1's fd store let go of %s, which a session took "
                             "through logind", nodes);
                break;
        case GH_STEP_RELEASE_AUDIO:
                return describe_release_audio(s, ret);
        default:
                return -EINVAL;
        }
        return r < 0 ? -ENOMEM : 0;
}
