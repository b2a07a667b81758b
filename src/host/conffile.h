/* Loading config files: the global one, then the domain's; each must be root's and not writable by others. */
#pragma once

#include <sys/types.h>

#include "core/config.h"

#define GH_CONF_DIR "/etc/gpu-handover"
#define GH_CONF_GLOBAL GH_CONF_DIR "/gpu-handover.conf"
#define GH_CONF_DOMAINS GH_CONF_DIR "/domains"

/* 0 when domain is usable as a file name and an argument; -EINVAL naming the problem otherwise. */
int gh_config_domain_name_check(const char *domain, gh_error *err);
/* Path of a domain's config under root; -EINVAL for a domain name that is not a plain file name. */
int gh_config_domain_path(const char *root, const char *domain, char **ret);
/* Applies ROOT/etc/gpu-handover/gpu-handover.conf (optional) then domains/DOMAIN.conf (-ENOENT when
 * absent: the domain has not opted in). Files and their directories must be owned by owner and not
 * writable by group or other (-EPERM naming the file). */
int gh_config_load(const char *root, const char *domain, uid_t owner, gh_policy *p, gh_error *err);
