/* The session-keeping mode's decision (which GPUs the desktop leaves alone) and its files' text; the
 * header says why these mechanisms. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "desktop-rules.h"
#include "plan.h"
#include "shared/printable.h"
#include "shared/strv.h"

#define END_LABEL "gpu_handover_desktop_end"
#define AWAY_START "KERNELS==\""
#define AWAY_TAG "TAG+=\"mutter-device-ignore\""
#define DOMAIN_START "# domain '"
#define VFIO_DRIVER "vfio-pci"

/* What follows prefix at the start of s, or NULL. */
static const char *after(const char *s, const char *prefix)
{
        return startswith(s, prefix) ? s + strlen(prefix) : NULL;
}

static bool on_host_driver(const gh_pci_dev *d)
{
        return d->driver && !streq(d->driver, VFIO_DRIVER);
}

static bool is_away(const gh_desktop *d, const gh_pci_addr *a)
{
        for (size_t i = 0; i < d->n_away; i++)
                if (gh_pci_addr_eq(&d->away[i].addr, a))
                        return true;
        return false;
}

/* The display functions the planner takes (gh_plan_select()), none when it refuses the start: a GPU
 * kept away from the desktop for a domain that never gets it would only cost its monitors. Only a
 * display function has DRM nodes to keep the desktop off. */
static int domain_gpus(const char *domain, const gh_policy *p, const gh_domain *dom, const gh_facts *f,
                       const gh_pci_dev ***ret, size_t *ret_n)
{
        const gh_pci_dev **sel = NULL;
        gh_error err = {};
        size_t n_sel = 0, n = 0;
        int r = gh_plan_select(domain, p, dom, f, &sel, &n_sel, &err);

        if (r == -ENOMEM)
                return r;
        for (size_t i = 0; r >= 0 && i < n_sel; i++)
                if (gh_pci_dev_is_display(sel[i]))
                        sel[n++] = sel[i];
        *ret = sel;
        *ret_n = n;
        return 0;
}

static const gh_pci_dev *boot_vga_of(const gh_pci_dev *const *gpus, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (gpus[i]->boot_vga)
                        return gpus[i];
        return NULL;
}

_printf_(2, 3) static int say(char **ret, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(ret, fmt, ap);
        va_end(ap);
        if (r < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

/* Why auto leaves the domain's GPUs to the desktop, or NULL when it keeps them away. */
static const char *auto_refusal(const gh_facts *f, const gh_pci_dev *const *gpus, size_t n)
{
        if (boot_vga_of(gpus, n))
                return "its GPU is the boot VGA, which the desktop runs on";
        if (!gh_plan_kept_gpu(f, gpus, n))
                return "the host keeps no other GPU with a driver to run the desktop on";
        return NULL;
}

static int add_away(gh_desktop *d, const char *domain, const gh_pci_addr *a)
{
        gh_desktop_gpu *v;

        if (is_away(d, a))
                return 0;
        v = reallocarray(d->away, d->n_away + 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        d->away = v;
        v[d->n_away] = (gh_desktop_gpu){.addr = *a, .domain = strdup(domain)};
        if (!v[d->n_away].domain)
                return -ENOMEM;
        d->n_away++;
        return 0;
}

static int join_addrs(const gh_pci_dev *const *v, size_t n, char **ret)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%s%s", i ? ", " : "", GH_PCI_ADDR_STR(&v[i]->addr));
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}

int gh_desktop_add_domain(gh_desktop *d, const char *domain, const gh_policy *p, const gh_domain *dom,
                          const gh_facts *f, char **ret_why)
{
        _cleanup_free_ const gh_pci_dev **gpus = NULL;
        _cleanup_free_ char *list = NULL;
        const char *mode = gh_keep_session_to_string(p->keep_session);
        const char *refusal = NULL;
        size_t n = 0;
        int r;

        *ret_why = NULL;
        r = domain_gpus(domain, p, dom, f, &gpus, &n);
        if (r < 0 || n == 0)
                return r;
        if ((r = join_addrs(gpus, n, &list)) < 0)
                return r;
        if (p->keep_session == GH_KEEP_SESSION_NO)
                return say(ret_why, "%s: left to the desktop (keep_session = no)", list);
        if (p->keep_session == GH_KEEP_SESSION_AUTO && (refusal = auto_refusal(f, gpus, n)))
                return say(ret_why, "%s: left to the desktop (keep_session = auto): %s", list, refusal);
        for (size_t i = 0; i < n; i++)
                if ((r = add_away(d, domain, &gpus[i]->addr)) < 0)
                        return r;
        return say(ret_why, "%s: kept away from the desktop (keep_session = %s)", list, mode);
}

int gh_desktop_find_host(gh_desktop *d, const gh_pci_dev *devs, size_t n_devs)
{
        gh_pci_addr *v = calloc(n_devs + 1, sizeof(*v));
        size_t n = 0;

        if (!v)
                return -ENOMEM;
        /* The boot VGA first: KWin and wlroots take the first device listed as the primary one. */
        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < n_devs; i++) {
                        const gh_pci_dev *g = &devs[i];
                        bool card = false;

                        STRV_FOREACH(node, g->nodes)
                        card = card || startswith(*node, "/dev/dri/card");
                        if (g->boot_vga == (pass == 0) && gh_pci_dev_is_display(g) && on_host_driver(g) &&
                            card && !is_away(d, &g->addr))
                                v[n++] = g->addr;
                }
        free(d->host);
        d->host = v;
        d->n_host = n;
        return 0;
}

void gh_desktop_gpus_free(gh_desktop_gpu *v, size_t n)
{
        for (size_t i = 0; v && i < n; i++)
                free(v[i].domain);
        free(v);
}

void gh_desktop_done(gh_desktop *d)
{
        if (!d)
                return;
        gh_desktop_gpus_free(d->away, d->n_away);
        free(d->host);
        *d = (gh_desktop){};
}

/* "0000:00:05.0" as the name the rules give its card: "host-0000_00_05.0-card". */
static char *host_link(const gh_pci_addr *a, char buf[static 64])
{
        char addr[GH_PCI_ADDR_MAX];

        gh_pci_addr_format(a, addr);
        for (char *c = addr; *c; c++)
                if (*c == ':')
                        *c = '_';
        snprintf(buf, 64, GH_DESKTOP_HOST_LINK, addr);
        return buf;
}

/* buf is open_memstream()'s: it is set only once f is closed. */
static int close_text(FILE *f, char **buf, char **ret)
{
        if (fclose(f) != 0) {
                free(*buf);
                return -ENOMEM;
        }
        *ret = *buf;
        return 0;
}

int gh_desktop_format_rules(const gh_desktop *d, char **ret)
{
        char *buf = NULL, link[64];
        size_t len = 0;
        FILE *f;

        *ret = NULL;
        if (d->n_away == 0)
                return 0;
        f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        fputs("# Written by gpu-handover (install, desktop-rules --write) from the domains whose config "
              "says\n"
              "# keep_session = yes, or auto on a host that keeps another GPU; removed by uninstall.\n"
              "# GNOME (mutter) never opens a card tagged mutter-device-ignore; KWin and wlroots open only\n"
              "# the cards that " GH_DESKTOP_ENV_PATH " and " GH_DESKTOP_PROFILE_PATH " list, by the\n"
              "# names below (their lists are split at ':', so /dev/dri/by-path names cannot be used).\n"
              "SUBSYSTEM!=\"drm\", GOTO=\"" END_LABEL "\"\n",
              f);
        for (size_t i = 0; i < d->n_away; i++)
                fprintf(f,
                        DOMAIN_START "%s'\n" AWAY_START
                                     "%s\", KERNEL==\"card[0-9]*|renderD[0-9]*\", " AWAY_TAG "\n",
                        GH_PRINTABLE(d->away[i].domain), GH_PCI_ADDR_STR(&d->away[i].addr));
        for (size_t i = 0; i < d->n_host; i++)
                fprintf(f, "# the host's GPU\nKERNELS==\"%s\", KERNEL==\"card[0-9]*\", SYMLINK+=\"%s\"\n",
                        GH_PCI_ADDR_STR(&d->host[i]), host_link(&d->host[i], link));
        fputs("LABEL=\"" END_LABEL "\"\n", f);
        return close_text(f, &buf, ret);
}

/* "/dev/dri/host-0000_00_05.0-card:/dev/dri/host-..." */
static void print_device_list(FILE *f, const gh_desktop *d)
{
        char link[64];

        for (size_t i = 0; i < d->n_host; i++)
                fprintf(f, "%s/dev/%s", i ? ":" : "", host_link(&d->host[i], link));
}

static int format_env(const gh_desktop *d, bool shell, char **ret)
{
        static const char *const vars[] = {"KWIN_DRM_DEVICES", "WLR_DRM_DEVICES"};
        char *buf = NULL, link[64];
        size_t len = 0;
        FILE *f;

        *ret = NULL;
        if (d->n_away == 0 || d->n_host == 0)
                return 0;
        f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        fprintf(f,
                "# Written by gpu-handover (install, desktop-rules --write); removed by uninstall.\n"
                "# KWin and wlroots compositors open only these GPUs, never the ones lent to VMs\n"
                "# (names from " GH_DESKTOP_RULES_PATH ").%s\n",
                shell ? " For a compositor started from a\n# TTY login; sessions from a display manager "
                        "read " GH_DESKTOP_ENV_PATH "."
                      : "");
        /* Until udev has run the rules for the host's GPU (a trigger, or the next boot) its name does not
         * exist, and a compositor told to open only it would not start: a login shell can check. */
        if (shell)
                fprintf(f, "if [ -e /dev/%s ]; then\n", host_link(&d->host[0], link));
        for (size_t i = 0; i < ELEMENTSOF(vars); i++) {
                fprintf(f, "%s%s=", shell ? "\texport " : "", vars[i]);
                print_device_list(f, d);
                fputc('\n', f);
        }
        if (shell)
                fputs("fi\n", f);
        return close_text(f, &buf, ret);
}

int gh_desktop_format_env(const gh_desktop *d, char **ret)
{
        return format_env(d, false, ret);
}

int gh_desktop_format_profile(const gh_desktop *d, char **ret)
{
        return format_env(d, true, ret);
}

/* The address of an AWAY rule line, or -EINVAL for any other line. */
static int parse_away_line(const char *line, gh_pci_addr *ret)
{
        const char *a = after(line, AWAY_START), *end = a ? strchr(a, '"') : NULL;
        const char *eol = strchrnul(line, '\n');
        char buf[GH_PCI_ADDR_MAX] = {};
        const char *tag = strstr(line, AWAY_TAG);

        if (!end || (size_t)(end - a) >= sizeof(buf) || !tag || tag > eol)
                return -EINVAL;
        memcpy(buf, a, end - a);
        return gh_pci_addr_parse(buf, ret);
}

int gh_desktop_parse_rules(const char *text, gh_desktop_gpu **ret, size_t *ret_n)
{
        gh_desktop d = {};
        _cleanup_free_ char *domain = NULL;

        for (const char *line = text; line && *line;) {
                const char *eol = strchrnul(line, '\n'), *dom = after(line, DOMAIN_START);
                gh_pci_addr a;
                int r = 0;

                if (dom && eol > dom && eol[-1] == '\'') {
                        free(domain);
                        if (!(domain = strndup(dom, eol - 1 - dom)))
                                r = -ENOMEM;
                } else if (parse_away_line(line, &a) >= 0)
                        r = add_away(&d, domain ? domain : "", &a);
                if (r < 0) {
                        gh_desktop_done(&d);
                        return r;
                }
                line = *eol ? eol + 1 : NULL;
        }
        *ret = d.away;
        *ret_n = d.n_away;
        return 0;
}
