/* Config text (key = value, # comments) to policy: what the tool may touch, and how. */
#pragma once

#include <errno.h>

#include "shared/error.h"
#include "pci-addr.h"

typedef enum gh_dm_mode {
        GH_DM_AUTO, /* stop display-manager.service only when it or a graphical session holds the GPU */
        GH_DM_STOP,
        GH_DM_KEEP,
        _GH_DM_MODE_MAX,
        _GH_DM_MODE_INVALID = -EINVAL,
} gh_dm_mode;

typedef enum gh_dm_restart {
        GH_DM_RESTART_AUTO, /* after-bind while the host keeps another GPU with a driver, else after-release
                             */
        GH_DM_RESTART_AFTER_BIND,
        GH_DM_RESTART_AFTER_RELEASE,
        _GH_DM_RESTART_MAX,
        _GH_DM_RESTART_INVALID = -EINVAL,
} gh_dm_restart;

typedef enum gh_holders_mode {
        GH_HOLDERS_TERMINATE, /* SIGTERM, grace period, SIGKILL */
        GH_HOLDERS_FAIL,      /* refuse the hand-over */
        _GH_HOLDERS_MODE_MAX,
        _GH_HOLDERS_MODE_INVALID = -EINVAL,
} gh_holders_mode;

/* Whether the desktop is kept off the domain's GPU for good (core/desktop-rules.h), so that a hand-over
 * never has to stop the graphical session. */
typedef enum gh_keep_session {
        GH_KEEP_SESSION_AUTO, /* yes where the GPU is not the boot VGA and the host keeps another GPU */
        GH_KEEP_SESSION_YES,
        GH_KEEP_SESSION_NO,
        _GH_KEEP_SESSION_MAX,
        _GH_KEEP_SESSION_INVALID = -EINVAL,
} gh_keep_session;

typedef struct gh_policy {
        bool devices_auto;    /* devices = auto */
        gh_pci_addr *devices; /* devices = LIST: the allowlist */
        size_t n_devices;
        gh_dm_mode display_manager;
        gh_dm_restart restart_display_manager;
        bool unload_auto;      /* unload_modules = auto */
        char **unload_modules; /* unload_modules = LIST, in order (strv) */
        char **stop_units;     /* strv, may be NULL */
        gh_holders_mode holders;
        unsigned holders_grace_sec; /* SIGTERM to SIGKILL, default 5 */
        unsigned timeout_sec;       /* budget for the whole prepare, default 60 */
        unsigned audio_release_sec; /* an audio function's unbind, before its holders are ended; default 5 */
        bool interface_hostdevs;    /* take <interface type='hostdev'> too, default no */
        bool claim_at_boot;         /* for the boot-time claim unit, default no */
        gh_keep_session keep_session; /* read by `install` and `desktop-rules`, default auto */
} gh_policy;

#define GH_POLICY_TIMEOUT_DEFAULT 60u
#define GH_POLICY_TIMEOUT_MAX 3600u
#define GH_POLICY_GRACE_DEFAULT 5u
#define GH_POLICY_GRACE_MAX 600u
#define GH_POLICY_AUDIO_RELEASE_DEFAULT 5u
#define GH_POLICY_AUDIO_RELEASE_MAX 600u

/* Defaults: devices auto, display_manager auto, restart auto, unload auto, holders terminate. */
void gh_policy_init(gh_policy *p);
void gh_policy_done(gh_policy *p);

/* Applies every key in text over p; later files override earlier ones key by key.
 * An unknown key, a bad value or a malformed line is -EINVAL with err "FILENAME:LINE: ...". */
int gh_config_parse(gh_policy *p, const char *text, const char *filename, gh_error *err);

/* Writes the effective policy as config text (every key), for `plan`. */
int gh_policy_format(const gh_policy *p, char **ret);

/* The names a config may give, and a journal may carry: the same rules for both. */
bool gh_module_name_valid(const char *s);
bool gh_unit_name_valid(const char *s);
/* A driver name goes into sysfs paths and into driver_override: a plain file name, nothing else. */
bool gh_driver_name_valid(const char *s);

const char *gh_dm_mode_to_string(gh_dm_mode m);
gh_dm_mode gh_dm_mode_from_string(const char *s);
const char *gh_dm_restart_to_string(gh_dm_restart m);
gh_dm_restart gh_dm_restart_from_string(const char *s);
const char *gh_holders_mode_to_string(gh_holders_mode m);
gh_holders_mode gh_holders_mode_from_string(const char *s);
const char *gh_keep_session_to_string(gh_keep_session m);
gh_keep_session gh_keep_session_from_string(const char *s);
