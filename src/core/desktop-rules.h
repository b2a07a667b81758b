/* The session-keeping mode's files: which GPUs the desktop is kept off (keep_session), and the udev rules
 * and compositor device lists that do it. Pure: policy, domain and the host's PCI functions in, text out.
 *
 * Why these mechanisms (each compositor decides for itself which DRM devices to open):
 * - GNOME: mutter skips a card tagged `mutter-device-ignore` (meta_is_udev_device_ignore(), which reads
 *   the device's udev tags when it enumerates cards and on each hot-plug; mutter's own 61-mutter.rules
 *   sets it on vkms). A tag is read from the udev database, so the rule's number does not matter.
 * - KWin reads KWIN_DRM_DEVICES and wlroots WLR_DRM_DEVICES: with either set, only the devices listed
 *   are opened. Both split the list at ':', so a /dev/dri/by-path name (pci-0000:00:02.0-card) cannot be
 *   used: the rules give each kept host GPU a name without ':' (GH_DESKTOP_HOST_LINK).
 * - The `seat`, `master-of-seat` and `uaccess` tags (systemd's 71-seat.rules, 73-seat-late.rules) are
 *   left alone. Since systemd 247 tags are sticky (/run/udev/tags keeps a tag a later event drops, only
 *   CURRENT_TAGS loses it), so a TAG-= would not take a card present now off mutter's "seat" enumeration
 *   until it is removed and added again; it would take the user's ACL off the card (a program started on
 *   the GPU on purpose could no longer open it); and the three mechanisms above already keep every
 *   compositor we know off it. */
#pragma once

#include <stddef.h>

#include "config.h"
#include "domxml.h"
#include "facts.h"

#define GH_DESKTOP_RULES_DIR "/etc/udev/rules.d"
#define GH_DESKTOP_RULES_NAME "61-gpu-handover-desktop.rules"
#define GH_DESKTOP_RULES_PATH GH_DESKTOP_RULES_DIR "/" GH_DESKTOP_RULES_NAME
/* Read by the user manager (systemd's environment.d), whose environment GNOME and Plasma sessions
 * started by a display manager get. */
#define GH_DESKTOP_ENV_DIR "/etc/environment.d"
#define GH_DESKTOP_ENV_NAME "90-gpu-handover.conf"
#define GH_DESKTOP_ENV_PATH GH_DESKTOP_ENV_DIR "/" GH_DESKTOP_ENV_NAME
/* Read by login shells: a compositor started by hand from a TTY login (sway). */
#define GH_DESKTOP_PROFILE_DIR "/etc/profile.d"
#define GH_DESKTOP_PROFILE_NAME "gpu-handover.sh"
#define GH_DESKTOP_PROFILE_PATH GH_DESKTOP_PROFILE_DIR "/" GH_DESKTOP_PROFILE_NAME
/* The name the rules give a kept host GPU's card, under /dev: ':' in the address becomes '_'. */
#define GH_DESKTOP_HOST_LINK "dri/host-%s-card"

typedef struct gh_desktop_gpu {
        gh_pci_addr addr;
        char *domain;
} gh_desktop_gpu;

typedef struct gh_desktop {
        gh_desktop_gpu *away; /* GPUs the desktop never opens, in the order the domains were added */
        size_t n_away;
        gh_pci_addr *host; /* the GPUs the compositors are pointed at: the boot VGA first */
        size_t n_host;
} gh_desktop;

/* Adds the display functions of dom that the planner takes under p (gh_plan_select(): none when it
 * refuses the start), when p->keep_session says so (auto: none of them is the boot VGA, and another
 * display function with a host driver stays on the host). f needs only the host's PCI functions. *ret_why
 * (the caller's to free) says in a sentence what was decided and why; it is NULL when dom takes no GPU. */
int gh_desktop_add_domain(gh_desktop *d, const char *domain, const gh_policy *p, const gh_domain *dom,
                          const gh_facts *f, char **ret_why);
/* Fills d->host from devs: the display functions with a host driver and a DRM card that are not away. */
int gh_desktop_find_host(gh_desktop *d, const gh_pci_dev *devs, size_t n_devs);
void gh_desktop_done(gh_desktop *d);

/* The three files' text; each NULL when there is to be no such file: no rules without a GPU kept away,
 * no device lists without a host GPU to point them at. */
int gh_desktop_format_rules(const gh_desktop *d, char **ret);
int gh_desktop_format_env(const gh_desktop *d, char **ret);
int gh_desktop_format_profile(const gh_desktop *d, char **ret);
/* The GPUs a rules file of ours keeps away from the desktop, with their domains, in its order. */
int gh_desktop_parse_rules(const char *text, gh_desktop_gpu **ret, size_t *ret_n);
void gh_desktop_gpus_free(gh_desktop_gpu *v, size_t n);
