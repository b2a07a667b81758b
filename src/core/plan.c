/* The planner: which devices to take, and the ordered steps (each with its undo) that hand them over.
 * Pure: it reads the policy, the domain and the host facts, and touches nothing. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>

#include "audio-release.h"
#include "identity.h"
#include "owner.h"
#include "logind-copy.h"
#include "plan.h"
#include "reload.h"
#include "unbind-wait.h"

#define VFIO_DRIVER "vfio-pci"
#define VFIO_MODULE "vfio-pci"

typedef struct planner {
        const char *domain;
        const gh_policy *p;
        const gh_domain *dom;
        const gh_facts *f;
        gh_plan *plan;
        gh_error *err;
        const gh_pci_dev **sel; /* selected devices, pointing into facts */
        size_t n_sel;
        char **unload; /* modules to unload, holders first (strv) */
        bool dm_stop;
} planner;

static bool is_selected(const planner *pl, const gh_pci_addr *a)
{
        for (size_t i = 0; i < pl->n_sel; i++)
                if (gh_pci_addr_eq(&pl->sel[i]->addr, a))
                        return true;
        return false;
}

static int add_note(planner *pl, const char *fmt, ...) _printf_(2, 3);
static int add_note(planner *pl, const char *fmt, ...)
{
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        return strv_push(&pl->plan->notes, s);
}

static gh_step *add_step(planner *pl, gh_step_kind kind)
{
        gh_step *steps = realloc(pl->plan->steps, sizeof(gh_step) * (pl->plan->n_steps + 1));

        if (!steps)
                return NULL;
        pl->plan->steps = steps;
        steps[pl->plan->n_steps] = (gh_step){.kind = kind, .group = -1};
        return &steps[pl->plan->n_steps++];
}

static int add_named_step(planner *pl, gh_step_kind kind, const char *name)
{
        gh_step *s = add_step(pl, kind);

        if (!s || !(s->name = strdup(name)))
                return -ENOMEM;
        return 0;
}

static int select_dev(planner *pl, const gh_hostdev *h)
{
        const gh_pci_dev *d = gh_facts_find_dev(pl->f, &h->addr);

        if (is_selected(pl, &h->addr))
                return 0;
        if (!d)
                return gh_error_set(pl->err, -ENODEV,
                                    "domain '%s': hostdev %s: no such PCI device on this host", pl->domain,
                                    GH_PCI_ADDR_STR(&h->addr));
        pl->sel[pl->n_sel++] = d;
        return 0;
}

static bool hostdev_wanted(const planner *pl, const gh_hostdev *h)
{
        return h->kind == GH_HOSTDEV_PCI || (h->kind == GH_HOSTDEV_INTERFACE && pl->p->interface_hostdevs);
}

static bool policy_allows(const gh_policy *p, const gh_pci_addr *a)
{
        for (size_t i = 0; i < p->n_devices; i++)
                if (gh_pci_addr_eq(&p->devices[i], a))
                        return true;
        return false;
}

/* devices = auto: the display-class hostdevs, then the hostdevs sharing a slot with one of them. */
static int select_auto(planner *pl)
{
        size_t n_display;
        int r;

        for (size_t i = 0; i < pl->dom->n_hostdevs; i++) {
                const gh_hostdev *h = &pl->dom->hostdevs[i];
                const gh_pci_dev *d = gh_facts_find_dev(pl->f, &h->addr);

                if (hostdev_wanted(pl, h) && d && gh_pci_dev_is_display(d) && (r = select_dev(pl, h)) < 0)
                        return r;
        }
        n_display = pl->n_sel;
        for (size_t i = 0; i < pl->dom->n_hostdevs; i++) {
                const gh_hostdev *h = &pl->dom->hostdevs[i];

                if (!hostdev_wanted(pl, h))
                        continue;
                for (size_t j = 0; j < n_display; j++)
                        if (gh_pci_addr_same_slot(&pl->sel[j]->addr, &h->addr) &&
                            (r = select_dev(pl, h)) < 0)
                                return r;
        }
        return 0;
}

/* devices = LIST: every hostdev we would take must be on the allowlist, or the start is refused. */
static int select_listed(planner *pl)
{
        for (size_t i = 0; i < pl->dom->n_hostdevs; i++) {
                const gh_hostdev *h = &pl->dom->hostdevs[i];
                int r;

                if (!hostdev_wanted(pl, h))
                        continue;
                if (!policy_allows(pl->p, &h->addr))
                        return gh_error_set(
                                pl->err, -EPERM,
                                "domain '%s': hostdev %s is not allowed by its config (devices = ...)",
                                pl->domain, GH_PCI_ADDR_STR(&h->addr));
                r = select_dev(pl, h);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int select_devices(planner *pl)
{
        int r;

        pl->sel = calloc(pl->dom->n_hostdevs + 1, sizeof(*pl->sel));
        if (!pl->sel)
                return -ENOMEM;
        r = pl->p->devices_auto ? select_auto(pl) : select_listed(pl);
        if (r < 0)
                return r;
        pl->plan->devices = calloc(pl->n_sel + 1, sizeof(gh_pci_addr));
        if (!pl->plan->devices)
                return -ENOMEM;
        for (size_t i = 0; i < pl->n_sel; i++)
                pl->plan->devices[i] = pl->sel[i]->addr;
        pl->plan->n_devices = pl->n_sel;
        return 0;
}

static int check_claims(planner *pl)
{
        for (size_t i = 0; i < pl->f->n_claims; i++) {
                const gh_claim *c = &pl->f->claims[i];

                if (is_selected(pl, &c->addr) && !streq(c->domain, pl->domain))
                        return gh_error_set(pl->err, -EBUSY,
                                            "domain '%s': %s is handed to domain '%s' already", pl->domain,
                                            GH_PCI_ADDR_STR(&c->addr), c->domain);
        }
        return 0;
}

/* vfio needs every endpoint of the group away from host drivers; bridges may stay. */
static bool group_member_ok(const planner *pl, const gh_pci_dev *m)
{
        return is_selected(pl, &m->addr) || gh_pci_dev_may_stay_in_vfio_group(m);
}

static int check_group(planner *pl, const gh_pci_dev *d)
{
        if (d->iommu_group < 0)
                return gh_error_set(pl->err, -ENODEV,
                                    "domain '%s': %s has no IOMMU group: enable the IOMMU (intel_iommu=on "
                                    "or amd_iommu=on)",
                                    pl->domain, GH_PCI_ADDR_STR(&d->addr));
        for (size_t i = 0; i < pl->f->n_devs; i++) {
                const gh_pci_dev *m = &pl->f->devs[i];

                if (m->iommu_group == d->iommu_group && !group_member_ok(pl, m))
                        return gh_error_set(pl->err, -EBUSY,
                                            "domain '%s': IOMMU group %d of %s also holds %s (driver '%s'), "
                                            "which the domain does not take",
                                            pl->domain, d->iommu_group, GH_PCI_ADDR_STR(&d->addr),
                                            GH_PCI_ADDR_STR(&m->addr), m->driver);
        }
        return 0;
}

/* nvidia's control and capability nodes serve every NVIDIA GPU: their holders hold this one only when
 * nvidia goes. */
static bool node_shared_by_driver(const char *node)
{
        static const char *const shared[] = {"/dev/nvidiactl", "/dev/nvidia-modeset", "/dev/nvidia-uvm",
                                             "/dev/nvidia-uvm-tools", NULL};

        return strv_contains((char **)shared, node) || startswith(node, "/dev/nvidia-caps/");
}

static bool unloads(const planner *pl, const char *module)
{
        STRV_FOREACH(m, pl->unload)
        if (gh_module_name_eq(*m, module))
                return true;
        return false;
}

static bool node_relevant(const planner *pl, const char *node)
{
        return !node_shared_by_driver(node) || unloads(pl, "nvidia");
}

/* A node of an audio function that RELEASE_AUDIO unbinds first: its holders close it on the card's
 * disconnect, and are no holders to stop or end before. */
static bool node_released_first(const planner *pl, const char *node)
{
        for (size_t i = 0; i < pl->n_sel; i++)
                if (gh_audio_releasable(pl->sel[i]) && strv_contains(pl->sel[i]->nodes, node))
                        return true;
        return false;
}

static bool node_selected(const planner *pl, const char *node)
{
        if (!node_relevant(pl, node) || node_released_first(pl, node))
                return false;
        for (size_t i = 0; i < pl->n_sel; i++)
                if (strv_contains(pl->sel[i]->nodes, node))
                        return true;
        return false;
}

/* GNOME Shell (46 and later) and Plasma with systemd startup run as services of the user's manager,
 * in no session (systemd issue 12399): a compositor is a user service with a known name, or any user
 * service holding a DRM card node, which only a display server opens (render nodes serve everyone). */
static bool holder_is_user_compositor(const gh_holder *h)
{
        static const char *const prefixes[] = {"org.gnome.Shell@", "plasma-kwin_", "gnome-shell-", NULL};
        _cleanup_(gh_owner_done) gh_owner o = {};

        if (gh_holder_owner(h, &o) < 0 || o.kind != GH_OWNER_USER_UNIT)
                return false;
        for (const char *const *p = prefixes; *p; p++)
                if (startswith(o.unit, *p))
                        return true;
        return startswith(h->node, "/dev/dri/card");
}

static bool holder_is_graphical(const planner *pl, const gh_holder *h)
{
        if (pl->f->dm_unit && streq_ptr(h->unit, pl->f->dm_unit))
                return true;
        if (holder_is_user_compositor(h))
                return true;
        if (streq_ptr(h->session_class, "greeter"))
                return true;
        return h->session_type && (streq(h->session_type, "x11") || streq(h->session_type, "wayland") ||
                                   streq(h->session_type, "mir"));
}

static const gh_holder *graphical_holder(const planner *pl)
{
        for (size_t i = 0; i < pl->f->n_holders; i++) {
                const gh_holder *h = &pl->f->holders[i];

                if (node_selected(pl, h->node) && holder_is_graphical(pl, h))
                        return h;
        }
        return NULL;
}

static int decide_dm(planner *pl)
{
        const gh_holder *h;

        if (!pl->f->dm_unit || !pl->f->dm_active || pl->p->display_manager == GH_DM_KEEP)
                return 0;
        if (pl->p->display_manager == GH_DM_STOP) {
                pl->dm_stop = true;
                return add_note(pl, "display_manager = stop: stopping '%s'", pl->f->dm_unit);
        }
        h = graphical_holder(pl);
        if (!h)
                return add_note(
                        pl, "no display manager or graphical session holds the devices: '%s' keeps running",
                        pl->f->dm_unit);
        pl->dm_stop = true;
        return add_note(pl, "pid %d (%s) of %s holds %s: stopping '%s'", (int)h->pid, strempty(h->comm),
                        h->session || holder_is_user_compositor(h) ? "a graphical session"
                                                                   : "the display manager",
                        gh_holder_what(h), pl->f->dm_unit);
}

static bool unit_should_stop(const planner *pl, const char *unit)
{
        const gh_unit_state *u = gh_facts_find_unit(pl->f, unit);

        if (pl->dm_stop && streq(unit, pl->f->dm_unit))
                return false;
        return !pl->f->units_known || (u && u->active);
}

static int plan_stop_units(planner *pl)
{
        int r;

        if (pl->dm_stop && (r = add_named_step(pl, GH_STEP_STOP_UNIT, pl->f->dm_unit)) < 0)
                return r;
        STRV_FOREACH(u, pl->p->stop_units)
        {
                if (!unit_should_stop(pl, *u)) {
                        r = add_note(pl, "unit '%s' is not active: nothing to stop or start again", *u);
                } else
                        r = add_named_step(pl, GH_STEP_STOP_UNIT, *u);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Said ahead, so that `plan` and `check` name what the hook will refuse to signal, and why. */
static int note_protected_holders(planner *pl, char *const *nodes)
{
        for (size_t i = 0; i < pl->f->n_holders; i++) {
                const gh_holder *h = &pl->f->holders[i];
                _cleanup_free_ char *why = NULL;
                int r;

                if (!strv_contains(nodes, h->node) || gh_holder_is_logind_copy(h))
                        continue;
                r = gh_holder_guard_describe(h, gh_holder_guard(h, 0, 0), &why);
                if (r < 0)
                        return r;
                if (why && (r = add_note(pl,
                                         "pid %d (%s) holds %s and is protected: %s; the hand-over will be "
                                         "refused while it does",
                                         (int)h->pid, strempty(h->comm), gh_holder_what(h), why)) < 0)
                        return r;
        }
        return 0;
}

/* What the hand-over ends the holders of: the relevant nodes of the selected devices, and dma-bufs. */
static int holder_targets(const planner *pl, char ***ret)
{
        _cleanup_strv_free_ char **nodes = NULL;
        int r;

        for (size_t i = 0; i < pl->n_sel; i++)
                STRV_FOREACH(n, pl->sel[i]->nodes)
        if (node_relevant(pl, *n) && !node_released_first(pl, *n) &&
            (r = strv_extend_unique(&nodes, *n)) < 0)
                return r;
        /* dma-bufs pin the module that exported them, not the device: they count when it is unloaded. */
        if ((r = gh_dmabuf_targets(pl->f, pl->unload, &nodes)) < 0)
                return r;
        *ret = TAKE_PTR(nodes);
        return 0;
}

static bool plan_stops_unit(const planner *pl, gh_step_kind kind, const char *unit, uint32_t uid)
{
        for (size_t i = 0; i < pl->plan->n_steps; i++) {
                const gh_step *s = &pl->plan->steps[i];

                if (s->kind == kind && streq(s->name, unit) &&
                    (kind != GH_STEP_STOP_USER_UNIT || s->uid == uid))
                        return true;
        }
        return false;
}

static int add_user_unit_step(planner *pl, const gh_owner *o)
{
        gh_step *s;

        if (plan_stops_unit(pl, GH_STEP_STOP_USER_UNIT, o->unit, o->uid))
                return 0;
        s = add_step(pl, GH_STEP_STOP_USER_UNIT);
        if (!s || !(s->name = strdup(o->unit)))
                return -ENOMEM;
        s->has_uid = true;
        s->uid = o->uid;
        return 0;
}

/* The graphical session's part: the display manager's setting decides, not this holder. */
static int holder_graphical_action(const planner *pl, char **ret)
{
        const char *mode = gh_dm_mode_to_string(pl->p->display_manager);
        int r;

        if (pl->dm_stop)
                r = asprintf(ret, "the graphical session: display_manager = %s decides: stopping '%s'", mode,
                             pl->f->dm_unit);
        else
                r = asprintf(ret,
                             "the graphical session: display_manager = %s decides: %s, so it will be "
                             "signalled",
                             mode,
                             pl->f->dm_unit ? "the display manager keeps running"
                                            : "there is no display manager");
        return r < 0 ? -ENOMEM : 0;
}

/* What the hand-over does about h, by its owner; adds the step that stops a unit. System services are
 * stopped as units (their Restart= would bring a signalled process back), and so are the services of a
 * user's manager, through that manager; the display manager is decide_dm()'s. */
static int holder_action(planner *pl, const gh_holder *h, const gh_owner *o, char **ret)
{
        int r;

        if (holder_is_graphical(pl, h) ||
            (o->kind == GH_OWNER_SYSTEM_UNIT && streq_ptr(o->unit, pl->f->dm_unit)))
                return holder_graphical_action(pl, ret);
        switch (o->kind) {
        case GH_OWNER_SYSTEM_UNIT:
                if (!pl->f->units_known) {
                        r = asprintf(ret, "signal pid %d: systemd could not be asked to stop its unit",
                                     (int)h->pid);
                        break;
                }
                if (!plan_stops_unit(pl, GH_STEP_STOP_UNIT, o->unit, 0) &&
                    (r = add_named_step(pl, GH_STEP_STOP_UNIT, o->unit)) < 0)
                        return r;
                r = asprintf(ret, "stop unit '%s', start it again after release", o->unit);
                break;
        case GH_OWNER_USER_UNIT:
                if ((r = add_user_unit_step(pl, o)) < 0)
                        return r;
                r = asprintf(ret, "stop user unit '%s' of user %" PRIu32 ", start it again after release",
                             o->unit, o->uid);
                break;
        default:
                r = asprintf(ret, "signal pid %d", (int)h->pid);
                break;
        }
        return r < 0 ? -ENOMEM : 0;
}

/* One holder, said in `plan` and `check`: its owner, and what the hand-over does about it. */
static int plan_holder_unit(planner *pl, const gh_holder *h)
{
        _cleanup_(gh_owner_done) gh_owner o = {};
        _cleanup_free_ char *owner = NULL, *action = NULL;
        int r;

        char *line;

        if ((r = gh_holder_owner(h, &o)) < 0 || (r = gh_owner_describe(&o, &owner)) < 0 ||
            (r = holder_action(pl, h, &o, &action)) < 0)
                return r;
        if ((r = add_note(pl, "pid %d (%s) holds %s, owned by %s: %s", (int)h->pid, strempty(h->comm),
                          gh_holder_what(h), owner, action)) < 0)
                return r;
        line = strdup(pl->plan->notes[strv_length(pl->plan->notes) - 1]);
        return line ? strv_push(&pl->plan->holders, line) : -ENOMEM;
}

/* Holders of dma-bufs that may pin a module unloaded, or may be the kept GPU's: named, so that a failed
 * unload is explained, and left alone. */
static int note_maybe_holders(planner *pl)
{
        _cleanup_strv_free_ char **maybe = NULL;
        int r = gh_dmabuf_maybe(pl->f, pl->unload, &maybe);

        for (size_t i = 0; r >= 0 && maybe && i < pl->f->n_holders; i++) {
                const gh_holder *h = &pl->f->holders[i];

                if (strv_contains(maybe, h->node))
                        r = add_note(pl,
                                     "pid %d (%s) holds %s: DRM names every GPU's PRIME exports 'drm', so it may "
                                     "be of a GPU handed over or of one the host keeps; it is left alone, and "
                                     "if a module will not unload, it may be why",
                                     (int)h->pid, strempty(h->comm), gh_holder_what(h));
        }
        return r;
}

/* With holders = terminate, a holder in a system service or a user's service is stopped as that unit,
 * before END_HOLDERS, and started again at release (the stop's undo); the others are signalled.
 * holders = fail stops nothing. */
static int plan_holder_units(planner *pl)
{
        _cleanup_strv_free_ char **targets = NULL;
        int r;

        if (pl->p->holders != GH_HOLDERS_TERMINATE)
                return 0;
        r = holder_targets(pl, &targets);
        for (size_t i = 0; r >= 0 && i < pl->f->n_holders; i++) {
                const gh_holder *h = &pl->f->holders[i];

                /* Protected: note_protected_holders() says the start is refused, and why. */
                if (!strv_contains(targets, h->node) || gh_holder_guard(h, 0, 0) != GH_GUARD_NONE)
                        continue;
                r = plan_holder_unit(pl, h);
        }
        return r;
}

static int plan_end_holders(planner *pl)
{
        _cleanup_strv_free_ char **nodes = NULL;
        gh_step *s;
        int r;

        r = holder_targets(pl, &nodes);
        if (r < 0)
                return r;
        if (!nodes)
                return 0;
        s = add_step(pl, GH_STEP_END_HOLDERS);
        if (!s)
                return -ENOMEM;
        s->nodes = TAKE_PTR(nodes);
        s->holders_mode = pl->p->holders;
        s->grace_sec = pl->p->holders_grace_sec;
        return note_protected_holders(pl, s->nodes);
}

/* "for session 3 (pid 1234 (gnome-shell) took it)", or who took it when it has no session (a compositor
 * running as a user unit). */
static int copy_owner_describe(const planner *pl, const char *node, char **ret)
{
        const gh_holder *o = gh_logind_copy_owner(pl->f, node);
        int r;

        if (!o)
                r = asprintf(ret, "for a session none of whose processes holds it any more");
        else if (o->session)
                r = asprintf(ret, "for session %s (pid %d (%s) took it)", o->session, (int)o->pid,
                             strempty(o->comm));
        else
                r = asprintf(ret, "for pid %d (%s), which took it", (int)o->pid, strempty(o->comm));
        return r < 0 ? -ENOMEM : 0;
}

/* logind's and PID 1's copies of a session's device (core/logind-copy.h) are no holders: they go once the
 * session has let the device go (the display manager or session stopped, its processes ended), which
 * logind and PID 1 see asynchronously. WAIT_RELEASED waits for that, after END_HOLDERS and before any
 * unload or unbind; its give-back is nothing. */
static int plan_wait_released(planner *pl)
{
        _cleanup_strv_free_ char **targets = NULL, **copies = NULL;
        gh_step *s;
        int r = holder_targets(pl, &targets);

        for (size_t i = 0; r >= 0 && i < pl->f->n_holders; i++) {
                const gh_holder *h = &pl->f->holders[i];
                _cleanup_free_ char *owner = NULL;

                if (!strv_contains(targets, h->node) || !gh_holder_is_logind_copy(h) ||
                    strv_contains(copies, h->node))
                        continue;
                if ((r = strv_extend(&copies, h->node)) < 0 ||
                    (r = copy_owner_describe(pl, h->node, &owner)) < 0)
                        break;
                r = add_note(
                        pl,
                        "logind keeps a copy of %s %s, as does PID 1's fd store: not holders of their own; "
                        "the hand-over waits for them to release it once the session lets it go",
                        h->node, owner);
        }
        if (r < 0 || !copies)
                return r;
        s = add_step(pl, GH_STEP_WAIT_RELEASED);
        if (!s)
                return -ENOMEM;
        s->nodes = TAKE_PTR(copies);
        return 0;
}

/* Each holder of an audio function's nodes, said in `plan` and `check`: left running. */
static int note_audio_holders(planner *pl, const gh_step *s)
{
        for (size_t i = 0; i < pl->f->n_holders; i++) {
                const gh_holder *h = &pl->f->holders[i];
                _cleanup_(gh_owner_done) gh_owner o = {};
                _cleanup_free_ char *owner = NULL, *action = NULL;
                char *line;
                int r;

                if (!strv_contains(s->nodes, h->node))
                        continue;
                if ((r = gh_holder_owner(h, &o)) < 0 || (r = gh_owner_describe(&o, &owner)) < 0 ||
                    (r = gh_audio_holder_action(s, h, &action)) < 0)
                        return r;
                if ((r = add_note(pl, "pid %d (%s) holds %s, owned by %s: %s", (int)h->pid,
                                  strempty(h->comm), gh_holder_what(h), owner, action)) < 0)
                        return r;
                line = strdup(pl->plan->notes[strv_length(pl->plan->notes) - 1]);
                if (!line || (r = strv_push(&pl->plan->holders, line)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* Before anything else: the unbind disconnects the card, and its clients let go of it while the rest of
 * the hand-over goes on; no unit is stopped and no process signalled for it up front. */
static int plan_release_audio(planner *pl)
{
        for (size_t i = 0; i < pl->n_sel; i++) {
                gh_step *s;
                int r;

                if (!gh_audio_releasable(pl->sel[i]))
                        continue;
                s = add_step(pl, GH_STEP_RELEASE_AUDIO);
                if (!s)
                        return -ENOMEM;
                if ((r = gh_audio_release_step(pl->sel[i], pl->p, s)) < 0 ||
                    (r = note_audio_holders(pl, s)) < 0)
                        return r;
        }
        return 0;
}

static bool plan_releases_audio(const planner *pl, const gh_pci_dev *d)
{
        for (size_t i = 0; i < pl->plan->n_steps; i++) {
                const gh_step *s = &pl->plan->steps[i];

                if (s->kind == GH_STEP_RELEASE_AUDIO && streq(s->addr, GH_PCI_ADDR_STR(&d->addr)))
                        return true;
        }
        return false;
}

static bool on_vfio(const gh_pci_dev *d)
{
        return streq_ptr(d->driver, VFIO_DRIVER);
}

/* The nodes a give-back must bring back: the GPU's DRM card (as any card of the device: its number may
 * change) and NVIDIA's character devices. Sound and fbdev nodes are left to the driver link's check. */
static bool node_expected_back(const char *node, bool *card_seen)
{
        if (startswith(node, "/dev/dri/card")) {
                bool first = !*card_seen;

                *card_seen = true;
                return first;
        }
        return startswith(node, "/dev/nvidia");
}

static int expect_nodes(const gh_pci_dev *d, gh_step *s)
{
        bool card_seen = false;
        int r;

        STRV_FOREACH(n, d->nodes)
        if (node_expected_back(*n, &card_seen) && (r = strv_extend(&s->nodes, *n)) < 0)
                return r;
        return 0;
}

static int plan_overrides(planner *pl)
{
        for (size_t i = 0; i < pl->n_sel; i++) {
                const gh_pci_dev *d = pl->sel[i];
                gh_step *s = add_step(pl, GH_STEP_SET_OVERRIDE);

                if (!s)
                        return -ENOMEM;
                gh_pci_addr_format(&d->addr, s->addr);
                /* A device already on vfio-pci (claimed at boot) goes back to whatever its modalias finds.
                 */
                if (d->driver && !on_vfio(d) && !(s->driver = strdup(d->driver)))
                        return -ENOMEM;
                if (d->override && !streq(d->override, VFIO_DRIVER) &&
                    !(s->old_override = strdup(d->override)))
                        return -ENOMEM;
                if (d->driver && !on_vfio(d) && expect_nodes(d, s) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static const gh_pci_dev *module_drives_other(const planner *pl, const char *module)
{
        for (size_t i = 0; i < pl->f->n_devs; i++) {
                const gh_pci_dev *d = &pl->f->devs[i];

                if (d->module && gh_module_name_eq(d->module, module) && !is_selected(pl, &d->addr))
                        return d;
        }
        return NULL;
}

/* Holders before the module they hold (nvidia_drm, nvidia_modeset, nvidia_uvm, nvidia). */
static int stack_collect(const planner *pl, const char *module, unsigned depth, char ***stack)
{
        const gh_module *m = gh_facts_find_module(pl->f, module);
        int r;

        if (depth > 16)
                return -ELOOP;
        if (m)
                STRV_FOREACH(h, m->holders)
        if ((r = stack_collect(pl, *h, depth + 1, stack)) < 0)
                return r;
        return strv_extend_unique(stack, module);
}

/* 0 when every module of the stack may go; 1 (with a note) when one must stay. */
static int stack_must_stay(planner *pl, char *const *stack, const gh_pci_dev *d)
{
        STRV_FOREACH(m, stack)
        {
                const gh_module *info = gh_facts_find_module(pl->f, *m);
                const gh_pci_dev *other = module_drives_other(pl, *m);

                if (other) {
                        add_note(pl,
                                 "module '%s' also drives %s, which stays on the host: unbinding %s alone",
                                 *m, GH_PCI_ADDR_STR(&other->addr), GH_PCI_ADDR_STR(&d->addr));
                        return 1;
                }
                if (info && info->builtin) {
                        add_note(pl, "module '%s' is built into the kernel: unbinding %s alone", *m,
                                 GH_PCI_ADDR_STR(&d->addr));
                        return 1;
                }
        }
        return 0;
}

static int plan_auto_unload(planner *pl, char ***unload)
{
        int r;

        for (size_t i = 0; i < pl->n_sel; i++) {
                const gh_pci_dev *d = pl->sel[i];
                _cleanup_strv_free_ char **stack = NULL;

                if (!d->driver || on_vfio(d) || !gh_pci_dev_is_display(d))
                        continue;
                if (!d->module) {
                        r = add_note(pl, "driver '%s' of %s is built into the kernel: unbinding it alone",
                                     d->driver, GH_PCI_ADDR_STR(&d->addr));
                        if (r < 0)
                                return r;
                        continue;
                }
                r = stack_collect(pl, d->module, 0, &stack);
                if (r < 0)
                        return r;
                if (stack_must_stay(pl, stack, d))
                        continue;
                STRV_FOREACH(m, stack)
                if ((r = strv_extend_unique(unload, *m)) < 0)
                        return r;
        }
        return 0;
}

/* A device that stays on the host, driven by a module that module uses: nvidia_drm sits on nvidia, whose
 * PCI driver links name no nvidia_drm. */
static const gh_pci_dev *module_sits_on_kept(const planner *pl, const char *module)
{
        for (size_t i = 0; i < pl->f->n_devs; i++) {
                const gh_pci_dev *d = &pl->f->devs[i];

                if (d->module && !is_selected(pl, &d->addr) &&
                    gh_facts_module_sits_on(pl->f, module, d->module))
                        return d;
        }
        return NULL;
}

static int plan_listed_unload(planner *pl, char ***unload)
{
        STRV_FOREACH(m, pl->p->unload_modules)
        {
                const gh_pci_dev *other = module_drives_other(pl, *m);
                const gh_pci_dev *under = module_sits_on_kept(pl, *m);
                const gh_module *info = gh_facts_find_module(pl->f, *m);
                int r;

                if (under)
                        return gh_error_set(
                                pl->err, -EBUSY,
                                "domain '%s': unload_modules lists '%s', which sits on '%s', still "
                                "driving %s that stays on the host",
                                pl->domain, *m, under->module, GH_PCI_ADDR_STR(&under->addr));
                if (other)
                        r = add_note(pl,
                                     "module '%s' also drives %s, which stays on the host: not unloading it",
                                     *m, GH_PCI_ADDR_STR(&other->addr));
                else if (info && info->builtin)
                        r = add_note(pl, "module '%s' is built into the kernel: not unloading it", *m);
                else
                        r = strv_extend_unique(unload, *m);
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool unload_frees(char *const *unload, const gh_pci_dev *d)
{
        STRV_FOREACH(m, unload)
        if (d->module && gh_module_name_eq(*m, d->module))
                return true;
        return false;
}

static int decide_modules(planner *pl)
{
        return pl->p->unload_auto ? plan_auto_unload(pl, &pl->unload) : plan_listed_unload(pl, &pl->unload);
}

/* Before anything changes: each module unloaded can come back, and no function is unbound alone from a
 * driver whose remove would wait for good. */
static int check_modules(planner *pl)
{
        int r;

        STRV_FOREACH(m, pl->unload)
        if ((r = gh_module_check_reload(pl->f, pl->domain, *m, pl->err)) < 0)
                return r;
        for (size_t i = 0; i < pl->n_sel; i++) {
                const gh_pci_dev *d = pl->sel[i];
                const gh_pci_dev *other = d->module ? module_drives_other(pl, d->module) : NULL;

                if (!d->driver || on_vfio(d) || unload_frees(pl->unload, d))
                        continue;
                r = gh_unbind_check_wait(pl->f, pl->domain, d, other ? GH_PCI_ADDR_STR(&other->addr) : NULL,
                                         false, pl->err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int plan_modules(planner *pl)
{
        char **unload = pl->unload;
        int r;

        STRV_FOREACH(m, unload)
        if ((r = add_named_step(pl, GH_STEP_UNLOAD_MODULE, *m)) < 0)
                return r;
        for (size_t i = 0; i < pl->n_sel; i++) {
                const gh_pci_dev *d = pl->sel[i];
                gh_step *s;

                if (!d->driver || on_vfio(d) || unload_frees(unload, d) || plan_releases_audio(pl, d))
                        continue;
                s = add_step(pl, GH_STEP_UNBIND);
                if (!s || !(s->driver = strdup(d->driver)))
                        return -ENOMEM;
                gh_pci_addr_format(&d->addr, s->addr);
        }
        return 0;
}

static int plan_binds(planner *pl)
{
        int r = add_named_step(pl, GH_STEP_LOAD_MODULE, VFIO_MODULE);

        for (size_t i = 0; r >= 0 && i < pl->n_sel; i++) {
                gh_step *s = add_step(pl, GH_STEP_BIND_VFIO);

                if (!s)
                        return -ENOMEM;
                gh_pci_addr_format(&pl->sel[i]->addr, s->addr);
                s->group = pl->sel[i]->iommu_group;
        }
        return r;
}

/* Does the host keep a GPU of its own with a driver, that a display manager could run on? */
static bool host_keeps_gpu(const planner *pl)
{
        for (size_t i = 0; i < pl->f->n_devs; i++) {
                const gh_pci_dev *d = &pl->f->devs[i];

                if (gh_pci_dev_is_display(d) && d->driver && !on_vfio(d) && !is_selected(pl, &d->addr))
                        return true;
        }
        return false;
}

/* restart_display_manager = auto: right after the bind when the host keeps a GPU with a driver to run it
 * on, boot VGA or not (a desktop runs on whichever GPU it finds); after release only when the host would
 * have none. */
static int plan_dm_restart(planner *pl)
{
        gh_dm_restart mode = pl->p->restart_display_manager;
        int r;

        if (!pl->dm_stop)
                return 0;
        if (mode == GH_DM_RESTART_AUTO) {
                bool late = !host_keeps_gpu(pl);

                mode = late ? GH_DM_RESTART_AFTER_RELEASE : GH_DM_RESTART_AFTER_BIND;
                r = add_note(pl, "'%s' starts again %s", pl->f->dm_unit,
                             late ? "after release: the host keeps no other GPU with a driver to run it on"
                                  : "right after the bind: the host keeps another GPU with a driver to run "
                                    "it on");
                if (r < 0)
                        return r;
        }
        if (mode == GH_DM_RESTART_AFTER_BIND)
                return add_named_step(pl, GH_STEP_START_UNIT, pl->f->dm_unit);
        return 0;
}

static int plan_checks(planner *pl)
{
        int r = check_claims(pl);

        for (size_t i = 0; r >= 0 && i < pl->n_sel; i++)
                r = check_group(pl, pl->sel[i]);
        return r;
}

static int plan_steps(planner *pl)
{
        int r;

        if ((r = decide_modules(pl)) < 0 || (r = check_modules(pl)) < 0 || (r = decide_dm(pl)) < 0 ||
            (r = plan_release_audio(pl)) < 0 || (r = plan_stop_units(pl)) < 0 ||
            (r = plan_holder_units(pl)) < 0 || (r = plan_end_holders(pl)) < 0 ||
            (r = plan_wait_released(pl)) < 0 || (r = note_maybe_holders(pl)) < 0 ||
            (r = plan_overrides(pl)) < 0 || (r = plan_modules(pl)) < 0 || (r = plan_binds(pl)) < 0)
                return r;
        return plan_dm_restart(pl);
}

/* The selection and its checks, then the steps plan_fn decides; what both kinds of plan share. */
static int plan_build(const char *domain, const gh_policy *p, const gh_domain *dom, const gh_facts *f,
                      int (*plan_fn)(planner *pl), gh_plan *ret, gh_error *err)
{
        _cleanup_(gh_plan_done) gh_plan plan = {.timeout_sec = p->timeout_sec};
        planner pl = {.domain = domain, .p = p, .dom = dom, .f = f, .plan = &plan, .err = err};
        int r;

        plan.domain = strdup(domain);
        if (!plan.domain)
                return -ENOMEM;
        r = select_devices(&pl);
        if (r >= 0 && pl.n_sel == 0)
                r = add_note(&pl, "domain '%s' asks for no device this config lets us take: nothing to do",
                             domain);
        else if (r >= 0 && (r = plan_checks(&pl)) >= 0)
                r = plan_fn(&pl);
        free(pl.sel);
        strv_free(pl.unload);
        if (r < 0)
                return r == -ENOMEM
                               ? gh_error_set(err, r, "domain '%s': out of memory while planning", domain)
                               : r;
        *ret = plan;
        plan = (gh_plan){};
        return 0;
}

int gh_plan_build(const char *domain, const gh_policy *p, const gh_domain *dom, const gh_facts *f,
                  gh_plan *ret, gh_error *err)
{
        return plan_build(domain, p, dom, f, plan_steps, ret, err);
}

/* A process holding one of d's nodes: claim-boot ends none. nvidia's shared control nodes do not count,
 * as nothing is unloaded (node_relevant()). */
static const gh_holder *claim_holder(const planner *pl, const gh_pci_dev *d)
{
        for (size_t i = 0; i < pl->f->n_holders; i++) {
                const gh_holder *h = &pl->f->holders[i];

                if (strv_contains(d->nodes, h->node) && node_relevant(pl, h->node))
                        return h;
        }
        return NULL;
}

static int claim_leave(gh_claim_dev *c, const char *fmt, ...) _printf_(2, 3);
static int claim_leave(gh_claim_dev *c, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&c->why, fmt, ap);
        va_end(ap);
        c->kind = GH_CLAIM_LEAVE;
        return r < 0 ? -ENOMEM : 0;
}

static int claim_decide(planner *pl, const gh_pci_dev *d, gh_claim_dev *c)
{
        const gh_pci_dev *other = d->module ? module_drives_other(pl, d->module) : NULL;
        const gh_holder *h = claim_holder(pl, d);
        gh_error e = {};

        c->vendor = d->vendor;
        c->device = d->device;
        if (on_vfio(d)) {
                c->kind = GH_CLAIM_ALREADY;
                return 0;
        }
        if (h)
                return claim_leave(c, "pid %d (%s) holds %s, and claim-boot ends no process", (int)h->pid,
                                   strempty(h->comm), gh_holder_what(h));
        if (d->driver && gh_unbind_check_wait(pl->f, pl->domain, d,
                                              other ? GH_PCI_ADDR_STR(&other->addr) : NULL, true, &e) < 0)
                return claim_leave(c, "%s", e.msg);
        c->kind = GH_CLAIM_TAKE;
        return 0;
}

/* Only the devices to take stay selected for the steps: the others are not touched at all. */
static int plan_claim_steps(planner *pl)
{
        size_t n_take = 0;
        int r;

        pl->plan->claim = calloc(pl->n_sel + 1, sizeof(gh_claim_dev));
        if (!pl->plan->claim)
                return -ENOMEM;
        for (size_t i = 0; i < pl->n_sel; i++)
                if ((r = claim_decide(pl, pl->sel[i], &pl->plan->claim[i])) < 0)
                        return r;
        for (size_t i = 0; i < pl->n_sel; i++)
                if (pl->plan->claim[i].kind == GH_CLAIM_TAKE)
                        pl->sel[n_take++] = pl->sel[i];
        pl->n_sel = n_take;
        if (n_take == 0)
                return 0;
        if ((r = plan_overrides(pl)) < 0 || (r = plan_modules(pl)) < 0)
                return r;
        return plan_binds(pl);
}

int gh_plan_build_claim(const char *domain, const gh_policy *p, const gh_domain *dom, const gh_facts *f,
                        gh_plan *ret, gh_error *err)
{
        return plan_build(domain, p, dom, f, plan_claim_steps, ret, err);
}

/* The first holder of a node the plan ends holders of whose guard is want (or any guard, for
 * _GH_GUARD_INVALID). */
static const gh_holder *plan_guarded_holder(const gh_plan *plan, const gh_facts *f, gh_guard want)
{
        for (size_t i = 0; i < plan->n_steps; i++) {
                /* An audio function's holders are ended, if at all, by its RELEASE_AUDIO. */
                if (plan->steps[i].kind != GH_STEP_END_HOLDERS &&
                    plan->steps[i].kind != GH_STEP_RELEASE_AUDIO)
                        continue;
                for (size_t j = 0; j < f->n_holders; j++) {
                        gh_guard g;

                        if (!strv_contains(plan->steps[i].nodes, f->holders[j].node) ||
                            gh_holder_is_logind_copy(&f->holders[j]))
                                continue;
                        g = gh_holder_guard(&f->holders[j], 0, 0);
                        if (g != GH_GUARD_NONE && (want == _GH_GUARD_INVALID || g == want))
                                return &f->holders[j];
                }
        }
        return NULL;
}

const gh_holder *gh_plan_protected_holder(const gh_plan *plan, const gh_facts *f)
{
        return plan_guarded_holder(plan, f, _GH_GUARD_INVALID);
}

const gh_holder *gh_plan_vm_holder(const gh_plan *plan, const gh_facts *f)
{
        return plan_guarded_holder(plan, f, GH_GUARD_VM);
}

void gh_plan_done(gh_plan *plan)
{
        if (!plan)
                return;
        free(plan->domain);
        for (size_t i = 0; plan->claim && i < plan->n_devices; i++)
                free(plan->claim[i].why);
        free(plan->claim);
        free(plan->devices);
        for (size_t i = 0; i < plan->n_steps; i++)
                gh_step_done(&plan->steps[i]);
        free(plan->steps);
        strv_free(plan->notes);
        strv_free(plan->holders);
        *plan = (gh_plan){};
}
