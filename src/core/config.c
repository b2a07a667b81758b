/* Config text to policy and back: `key = value` lines with # comments. A file applies whole or not at
 * all, and every error names FILENAME:LINE and quotes the key or value. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>

#include "config.h"
#include "shared/strv.h"

#define LIST_SEPARATORS " \t,"
#define MODULE_NAME_MAX 55 /* the kernel's MODULE_NAME_LEN, less its NUL */
#define UNIT_NAME_MAX 255
#define UNIT_NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:-_.\\@"

typedef struct line_ctx {
        const char *filename;
        unsigned line;
        const char *key;
        gh_error *err;
} line_ctx;

typedef struct key_parser {
        const char *key;
        int (*parse)(gh_policy *p, const char *value, const line_ctx *lc);
} key_parser;

static const char *const dm_mode_table[_GH_DM_MODE_MAX] = {
        [GH_DM_AUTO] = "auto",
        [GH_DM_STOP] = "stop",
        [GH_DM_KEEP] = "keep",
};

static const char *const dm_restart_table[_GH_DM_RESTART_MAX] = {
        [GH_DM_RESTART_AUTO] = "auto",
        [GH_DM_RESTART_AFTER_BIND] = "after-bind",
        [GH_DM_RESTART_AFTER_RELEASE] = "after-release",
};

static const char *const holders_mode_table[_GH_HOLDERS_MODE_MAX] = {
        [GH_HOLDERS_TERMINATE] = "terminate",
        [GH_HOLDERS_FAIL] = "fail",
};

static const char *const keep_session_table[_GH_KEEP_SESSION_MAX] = {
        [GH_KEEP_SESSION_AUTO] = "auto",
        [GH_KEEP_SESSION_YES] = "yes",
        [GH_KEEP_SESSION_NO] = "no",
};

/* Kinds a user would want stopped around a hand-over; devices, slices and the like are not. */
static const char *const unit_suffixes[] = {".service", ".socket", ".target", ".scope", ".timer", ".path"};

static int table_lookup(const char *const *table, size_t n, const char *s)
{
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (table[i] && streq(table[i], s))
                        return (int)i;
        return -EINVAL;
}

const char *gh_dm_mode_to_string(gh_dm_mode m)
{
        return m >= 0 && m < _GH_DM_MODE_MAX ? dm_mode_table[m] : NULL;
}

gh_dm_mode gh_dm_mode_from_string(const char *s)
{
        return (gh_dm_mode)table_lookup(dm_mode_table, _GH_DM_MODE_MAX, s);
}

const char *gh_dm_restart_to_string(gh_dm_restart m)
{
        return m >= 0 && m < _GH_DM_RESTART_MAX ? dm_restart_table[m] : NULL;
}

gh_dm_restart gh_dm_restart_from_string(const char *s)
{
        return (gh_dm_restart)table_lookup(dm_restart_table, _GH_DM_RESTART_MAX, s);
}

const char *gh_holders_mode_to_string(gh_holders_mode m)
{
        return m >= 0 && m < _GH_HOLDERS_MODE_MAX ? holders_mode_table[m] : NULL;
}

gh_holders_mode gh_holders_mode_from_string(const char *s)
{
        return (gh_holders_mode)table_lookup(holders_mode_table, _GH_HOLDERS_MODE_MAX, s);
}

const char *gh_keep_session_to_string(gh_keep_session m)
{
        return m >= 0 && m < _GH_KEEP_SESSION_MAX ? keep_session_table[m] : NULL;
}

gh_keep_session gh_keep_session_from_string(const char *s)
{
        return (gh_keep_session)table_lookup(keep_session_table, _GH_KEEP_SESSION_MAX, s);
}

void gh_policy_init(gh_policy *p)
{
        *p = (gh_policy){
                .devices_auto = true,
                .display_manager = GH_DM_AUTO,
                .restart_display_manager = GH_DM_RESTART_AUTO,
                .unload_auto = true,
                .holders = GH_HOLDERS_TERMINATE,
                .holders_grace_sec = GH_POLICY_GRACE_DEFAULT,
                .timeout_sec = GH_POLICY_TIMEOUT_DEFAULT,
                .audio_release_sec = GH_POLICY_AUDIO_RELEASE_DEFAULT,
        };
}

void gh_policy_done(gh_policy *p)
{
        if (!p)
                return;
        free(p->devices);
        strv_free(p->unload_modules);
        strv_free(p->stop_units);
        *p = (gh_policy){};
}

static int policy_copy(const gh_policy *src, gh_policy *ret)
{
        _cleanup_(gh_policy_done) gh_policy c = *src;

        c.devices = NULL;
        c.unload_modules = c.stop_units = NULL;
        if (src->n_devices > 0) {
                c.devices = reallocarray(NULL, src->n_devices, sizeof(*c.devices));
                if (!c.devices)
                        return -ENOMEM;
                memcpy(c.devices, src->devices, src->n_devices * sizeof(*c.devices));
        }
        if (src->unload_modules && !(c.unload_modules = strv_copy(src->unload_modules)))
                return -ENOMEM;
        if (src->stop_units && !(c.stop_units = strv_copy(src->stop_units)))
                return -ENOMEM;
        *ret = c;
        c = (gh_policy){};
        return 0;
}

_printf_(2, 3) static int line_error(const line_ctx *lc, const char *fmt, ...)
{
        char msg[GH_ERROR_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return gh_error_set(lc->err, -EINVAL, "%s:%u: %s", lc->filename, lc->line, msg);
}

static int bad_value(const line_ctx *lc, const char *value, const char *expected)
{
        return line_error(lc, "bad value '%s' for '%s' (expected %s)", value, lc->key, expected);
}

/* Decimal digits only: no sign, no space, no unit. */
static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *ret)
{
        unsigned long v;
        char *end;

        if (!isdigit((unsigned char)s[0]))
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || *end || v < min || v > max)
                return -EINVAL;
        *ret = (unsigned)v;
        return 0;
}

static int parse_bool(const char *s, bool *ret)
{
        static const char *const yes[] = {"yes", "true", "1"}, *const no[] = {"no", "false", "0"};

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

static bool addr_listed(const gh_pci_addr *list, size_t n, const gh_pci_addr *a)
{
        for (size_t i = 0; i < n; i++)
                if (gh_pci_addr_eq(&list[i], a))
                        return true;
        return false;
}

static int parse_addr_list(const char *value, const line_ctx *lc, gh_pci_addr **ret, size_t *ret_n)
{
        _cleanup_strv_free_ char **words = NULL;
        _cleanup_free_ gh_pci_addr *list = NULL;
        size_t n = 0;
        int r;

        r = strv_split(value, LIST_SEPARATORS, &words);
        if (r < 0)
                return r;
        list = reallocarray(NULL, strv_length(words) + 1, sizeof(*list));
        if (!list)
                return -ENOMEM;
        STRV_FOREACH(w, words)
        {
                gh_pci_addr a;

                if (gh_pci_addr_parse(*w, &a) < 0)
                        return line_error(lc, "bad PCI address '%s' in '%s'", *w, lc->key);
                if (addr_listed(list, n, &a))
                        return line_error(lc, "duplicate PCI address '%s' in '%s'", *w, lc->key);
                list[n++] = a;
        }
        *ret = n > 0 ? TAKE_PTR(list) : NULL;
        *ret_n = n;
        return 0;
}

/* An empty list is an empty allowlist: nothing may be taken. */
static int parse_devices(gh_policy *p, const char *value, const line_ctx *lc)
{
        gh_pci_addr *list = NULL;
        size_t n = 0;
        int r;

        if (!streq(value, "auto")) {
                r = parse_addr_list(value, lc, &list, &n);
                if (r < 0)
                        return r;
        }
        free(p->devices);
        p->devices = list;
        p->n_devices = n;
        p->devices_auto = streq(value, "auto");
        return 0;
}

/* "auto" in a list is a mistake, not a module. */
bool gh_module_name_valid(const char *s)
{
        size_t n = strlen(s);

        return n > 0 && n <= MODULE_NAME_MAX && !streq(s, "auto") &&
               strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* A plain or instance unit ("getty@tty1.service"), never a bare template ("getty@.service"). */
bool gh_unit_name_valid(const char *s)
{
        size_t n = strlen(s);
        const char *dot = strrchr(s, '.'), *at = strchr(s, '@');

        if (n == 0 || n > UNIT_NAME_MAX || strspn(s, UNIT_NAME_CHARS) != n || !dot || dot == s)
                return false;
        if (strchr("-.@", s[0]) || (at && (at != strrchr(s, '@') || at > dot || at + 1 == dot)))
                return false;
        for (size_t i = 0; i < ELEMENTSOF(unit_suffixes); i++)
                if (streq(dot, unit_suffixes[i]))
                        return true;
        return false;
}

bool gh_driver_name_valid(const char *s)
{
        return s && *s && !strpbrk(s, "/\n") && !streq(s, ".") && !streq(s, "..");
}

static int parse_name_list(const char *value, bool (*valid)(const char *), const char *what,
                           const line_ctx *lc, char ***ret)
{
        _cleanup_strv_free_ char **words = NULL, **list = NULL;
        int r;

        r = strv_split(value, LIST_SEPARATORS, &words);
        if (r < 0)
                return r;
        STRV_FOREACH(w, words)
        {
                if (!valid(*w))
                        return line_error(lc, "bad %s '%s' in '%s'", what, *w, lc->key);
                if (strv_contains(list, *w))
                        return line_error(lc, "duplicate %s '%s' in '%s'", what, *w, lc->key);
                r = strv_extend(&list, *w);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(list);
        return 0;
}

/* An empty list unloads nothing: the driver stays loaded for other devices and is only unbound. */
static int parse_unload_modules(gh_policy *p, const char *value, const line_ctx *lc)
{
        char **list = NULL;
        int r;

        if (!streq(value, "auto")) {
                r = parse_name_list(value, gh_module_name_valid, "module name", lc, &list);
                if (r < 0)
                        return r;
        }
        strv_free(p->unload_modules);
        p->unload_modules = list;
        p->unload_auto = streq(value, "auto");
        return 0;
}

static int parse_stop_units(gh_policy *p, const char *value, const line_ctx *lc)
{
        char **list = NULL;
        int r;

        r = parse_name_list(value, gh_unit_name_valid, "unit name", lc, &list);
        if (r < 0)
                return r;
        strv_free(p->stop_units);
        p->stop_units = list;
        return 0;
}

static int parse_display_manager(gh_policy *p, const char *value, const line_ctx *lc)
{
        gh_dm_mode m = gh_dm_mode_from_string(value);

        if (m < 0)
                return bad_value(lc, value, "auto, stop or keep");
        p->display_manager = m;
        return 0;
}

static int parse_restart_display_manager(gh_policy *p, const char *value, const line_ctx *lc)
{
        gh_dm_restart m = gh_dm_restart_from_string(value);

        if (m < 0)
                return bad_value(lc, value, "auto, after-bind or after-release");
        p->restart_display_manager = m;
        return 0;
}

static int parse_holders(gh_policy *p, const char *value, const line_ctx *lc)
{
        gh_holders_mode m = gh_holders_mode_from_string(value);

        if (m < 0)
                return bad_value(lc, value, "terminate or fail");
        p->holders = m;
        return 0;
}

static int parse_holders_grace(gh_policy *p, const char *value, const line_ctx *lc)
{
        if (parse_uint(value, 0, GH_POLICY_GRACE_MAX, &p->holders_grace_sec) < 0)
                return bad_value(lc, value, "seconds, 0..600");
        return 0;
}

static int parse_timeout(gh_policy *p, const char *value, const line_ctx *lc)
{
        if (parse_uint(value, 1, GH_POLICY_TIMEOUT_MAX, &p->timeout_sec) < 0)
                return bad_value(lc, value, "seconds, 1..3600");
        return 0;
}

static int parse_audio_release_timeout(gh_policy *p, const char *value, const line_ctx *lc)
{
        if (parse_uint(value, 0, GH_POLICY_AUDIO_RELEASE_MAX, &p->audio_release_sec) < 0)
                return bad_value(lc, value, "seconds, 0..600");
        return 0;
}

static int parse_interface_hostdevs(gh_policy *p, const char *value, const line_ctx *lc)
{
        if (parse_bool(value, &p->interface_hostdevs) < 0)
                return bad_value(lc, value, "yes or no");
        return 0;
}

static int parse_claim_at_boot(gh_policy *p, const char *value, const line_ctx *lc)
{
        if (parse_bool(value, &p->claim_at_boot) < 0)
                return bad_value(lc, value, "yes or no");
        return 0;
}

static int parse_keep_session(gh_policy *p, const char *value, const line_ctx *lc)
{
        gh_keep_session m = gh_keep_session_from_string(value);

        if (m < 0)
                return bad_value(lc, value, "auto, yes or no");
        p->keep_session = m;
        return 0;
}

static const key_parser key_parsers[] = {
        {"devices", parse_devices},
        {"display_manager", parse_display_manager},
        {"restart_display_manager", parse_restart_display_manager},
        {"unload_modules", parse_unload_modules},
        {"stop_units", parse_stop_units},
        {"holders", parse_holders},
        {"holders_grace", parse_holders_grace},
        {"timeout", parse_timeout},
        {"audio_release_timeout", parse_audio_release_timeout},
        {"interface_hostdevs", parse_interface_hostdevs},
        {"claim_at_boot", parse_claim_at_boot},
        {"keep_session", parse_keep_session},
};

static char *strstrip(char *s)
{
        size_t n;

        while (isspace((unsigned char)*s))
                s++;
        n = strlen(s);
        while (n > 0 && isspace((unsigned char)s[n - 1]))
                s[--n] = 0;
        return s;
}

/* '#' opens a comment at the start of a line or after whitespace; inside a word it is just a character. */
static void strip_comment(char *line)
{
        for (char *c = line; *c; c++)
                if (*c == '#' && (c == line || isspace((unsigned char)c[-1]))) {
                        *c = 0;
                        return;
                }
}

static int parse_line(gh_policy *p, char *line, line_ctx *lc)
{
        char *eq, *key, *value;

        strip_comment(line);
        line = strstrip(line);
        if (!*line)
                return 0;
        eq = strchr(line, '=');
        if (!eq)
                return line_error(lc, "missing '=' in '%s'", line);
        *eq = 0;
        key = strstrip(line);
        value = strstrip(eq + 1);
        if (!*key)
                return line_error(lc, "empty key before '= %s'", value);
        for (size_t i = 0; i < ELEMENTSOF(key_parsers); i++)
                if (streq(key, key_parsers[i].key)) {
                        lc->key = key_parsers[i].key;
                        return key_parsers[i].parse(p, value, lc);
                }
        return line_error(lc, "unknown key '%s'", key);
}

int gh_config_parse(gh_policy *p, const char *text, const char *filename, gh_error *err)
{
        _cleanup_(gh_policy_done) gh_policy work = {};
        line_ctx lc = {.filename = filename, .err = err};
        int r;

        r = policy_copy(p, &work);
        if (r < 0)
                return r;
        for (const char *s = text; *s;) {
                size_t n = strcspn(s, "\n");
                _cleanup_free_ char *line = strndup(s, n);

                if (!line)
                        return -ENOMEM;
                lc.line++;
                r = parse_line(&work, line, &lc);
                if (r < 0)
                        return r;
                s += n + (s[n] == '\n');
        }
        gh_policy_done(p);
        *p = work;
        work = (gh_policy){};
        return 0;
}

static void format_list(FILE *f, const char *key, char *const *l)
{
        fprintf(f, "%s =", key);
        STRV_FOREACH(s, l)
        fprintf(f, " %s", *s);
        fputc('\n', f);
}

static void format_devices(FILE *f, const gh_policy *p)
{
        fputs("devices =", f);
        if (p->devices_auto)
                fputs(" auto", f);
        else
                for (size_t i = 0; i < p->n_devices; i++)
                        fprintf(f, " %s", GH_PCI_ADDR_STR(&p->devices[i]));
        fputc('\n', f);
}

static void format_policy(FILE *f, const gh_policy *p)
{
        format_devices(f, p);
        fprintf(f, "display_manager = %s\n", gh_dm_mode_to_string(p->display_manager));
        fprintf(f, "restart_display_manager = %s\n", gh_dm_restart_to_string(p->restart_display_manager));
        if (p->unload_auto)
                fputs("unload_modules = auto\n", f);
        else
                format_list(f, "unload_modules", p->unload_modules);
        format_list(f, "stop_units", p->stop_units);
        fprintf(f, "holders = %s\n", gh_holders_mode_to_string(p->holders));
        fprintf(f, "holders_grace = %u\n", p->holders_grace_sec);
        fprintf(f, "timeout = %u\n", p->timeout_sec);
        fprintf(f, "audio_release_timeout = %u\n", p->audio_release_sec);
        fprintf(f, "interface_hostdevs = %s\n", p->interface_hostdevs ? "yes" : "no");
        fprintf(f, "claim_at_boot = %s\n", p->claim_at_boot ? "yes" : "no");
        fprintf(f, "keep_session = %s\n", gh_keep_session_to_string(p->keep_session));
}

int gh_policy_format(const gh_policy *p, char **ret)
{
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;

        /* Whatever is written must parse back, so a value out of range is refused, not printed. */
        if (!gh_dm_mode_to_string(p->display_manager) ||
            !gh_dm_restart_to_string(p->restart_display_manager) || !gh_holders_mode_to_string(p->holders) ||
            !gh_keep_session_to_string(p->keep_session) || p->holders_grace_sec > GH_POLICY_GRACE_MAX ||
            p->timeout_sec < 1 || p->timeout_sec > GH_POLICY_TIMEOUT_MAX ||
            p->audio_release_sec > GH_POLICY_AUDIO_RELEASE_MAX)
                return -EINVAL;
        f = open_memstream(&buf, &size);
        if (!f)
                return -errno;
        format_policy(f, p);
        if (ferror(f)) {
                fclose(f);
                return -ENOMEM;
        }
        if (fclose(f) != 0)
                return -errno;
        *ret = TAKE_PTR(buf);
        return 0;
}
