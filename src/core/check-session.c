/* `check` on the graphical session: what a start does to it (core/session.h, read off the plan), and
 * whether the session-keeping mode is on and installed where the host keeps another GPU. */
#include <stdarg.h>

#include "check.h"
#include "desktop-rules.h"
#include "session.h"

#define SESSION_TITLE "graphical session"
#define MODE_TITLE "session-keeping mode"
#define HINT_REFUSE "display_manager = keep with holders = fail refuses the start instead of logging you out"

static int addf(gh_checks *c, gh_check_level level, const char *title, const char *hint, const char *fmt,
                ...) _printf_(5, 6);
static int addf(gh_checks *c, gh_check_level level, const char *title, const char *hint, const char *fmt,
                ...)
{
        _cleanup_free_ char *detail = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&detail, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        return gh_checks_add(c, level, title, detail, hint);
}

/* The plan's devices as the facts have them; the array is the caller's. */
static int plan_devs(const gh_check_domain *d, const gh_pci_dev ***ret, size_t *ret_n)
{
        const gh_pci_dev **v = calloc(d->plan->n_devices + 1, sizeof(*v));
        size_t n = 0;

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < d->plan->n_devices; i++)
                if ((v[n] = gh_facts_find_dev(d->facts, &d->plan->devices[i])))
                        n++;
        *ret = v;
        *ret_n = n;
        return 0;
}

/* With another GPU the desktop can stay where it is; with none, refusing is all there is. */
static const char *logout_hint(const gh_check_domain *d, const gh_pci_dev *kept)
{
        if (d->policy->display_manager == GH_DM_STOP)
                return "display_manager = stop stops it whatever holds the GPU: display_manager = auto "
                       "stops "
                       "it only when the session holds the GPU (which keep_session avoids, on a host with "
                       "another GPU), and " HINT_REFUSE;
        if (kept)
                return "keep_session = yes in the domain's config (auto does it when the GPU is not the "
                       "boot "
                       "VGA), then 'gpu-handover desktop-rules --write': the desktop never opens the GPU, "
                       "so "
                       "nothing graphical holds it; or " HINT_REFUSE;
        return "the host keeps no other GPU for the desktop to stay on: " HINT_REFUSE
               ", or log out before starting the VM";
}

static int check_fate(gh_checks *c, const gh_check_domain *d, const gh_pci_dev *kept)
{
        _cleanup_(gh_session_done) gh_session s = {};
        _cleanup_free_ char *line = NULL;
        int r;

        if ((r = gh_session_from_plan(d->plan, d->facts, &s)) < 0 ||
            (r = gh_session_describe(&s, &line)) < 0)
                return r;
        if (s.logs_out)
                return addf(c, GH_CHECK_WARN, SESSION_TITLE, logout_hint(d, kept),
                            "a start would log the user out: %s", line);
        /* A protected holder fails the hand-over line already. */
        if (s.fate == GH_SESSION_REFUSED && gh_plan_protected_holder(d->plan, d->facts))
                return 0;
        if (s.fate == GH_SESSION_REFUSED)
                return addf(c, GH_CHECK_WARN, SESSION_TITLE,
                            "end what it names before starting the VM, or keep the desktop off the GPU "
                            "(keep_session, on a host with another GPU)",
                            "%s", line);
        return addf(c, GH_CHECK_PASS, SESSION_TITLE, NULL, "%s", line);
}

static bool installed(const gh_check_domain *d, const gh_pci_addr *a)
{
        for (size_t i = 0; i < d->n_desktop_away; i++)
                if (gh_pci_addr_eq(&d->desktop_away[i].addr, a))
                        return true;
        return false;
}

/* On a host that keeps another GPU: does the desktop keep off the domain's, as its config says, and
 * are the rules that do it in place? */
static int check_mode(gh_checks *c, const gh_check_domain *d, const gh_pci_dev *kept)
{
        _cleanup_(gh_desktop_done) gh_desktop want = {};
        _cleanup_free_ char *why = NULL, *hint = NULL;
        int r = gh_desktop_add_domain(&want, d->name, d->policy, d->dom, d->facts, &why);

        if (r < 0 || !why)
                return r;
        if (want.n_away == 0) {
                if (asprintf(&hint,
                             "where the desktop runs on %s, keep_session = yes in the domain's config, then "
                             "'gpu-handover desktop-rules --write'",
                             GH_PCI_ADDR_STR(&kept->addr)) < 0)
                        return -ENOMEM;
                return addf(c, GH_CHECK_WARN, MODE_TITLE, hint, "off: %s", why);
        }
        if (d->desktop_error < 0)
                return addf(c, GH_CHECK_WARN, MODE_TITLE, "check the file it names",
                            "cannot read " GH_DESKTOP_RULES_PATH ": %s", strerror(-d->desktop_error));
        for (size_t i = 0; i < want.n_away; i++)
                if (!installed(d, &want.away[i].addr))
                        return addf(c, GH_CHECK_WARN, MODE_TITLE,
                                    "run 'gpu-handover desktop-rules --write' ('install' does it too); a "
                                    "compositor running now reads it at its next start",
                                    "not installed: %s, but " GH_DESKTOP_RULES_PATH " does not list %s", why,
                                    GH_PCI_ADDR_STR(&want.away[i].addr));
        return addf(c, GH_CHECK_PASS, MODE_TITLE, NULL, "on: %s", why);
}

int gh_check_session(gh_checks *c, const gh_check_domain *d)
{
        _cleanup_free_ const gh_pci_dev **taken = NULL;
        const gh_pci_dev *kept;
        size_t n = 0;
        int r;

        if (!d->plan || !d->facts || !d->policy || !d->dom)
                return 0;
        if ((r = plan_devs(d, &taken, &n)) < 0)
                return r;
        kept = gh_plan_kept_gpu(d->facts, taken, n);
        if ((r = check_fate(c, d, kept)) < 0)
                return r;
        return kept ? check_mode(c, d, kept) : 0;
}
