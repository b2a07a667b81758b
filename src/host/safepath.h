/* Whether a program may be trusted because of where it lives: a file only its owner can have written,
 * reached through directories only that owner can change. */
#pragma once

#include <sys/types.h>

#include "shared/error.h"

/* Checks path as seen inside root ("/" for the host): it resolves (symlinks followed) to an executable
 * regular file below root, and that file and every directory on the resolved way to it below root (with
 * root "/", "/" itself too) are owner's and not writable by group or others. 0, or -errno with err set
 * naming the first component that fails. */
int gh_safe_path_check(const char *root, const char *path, uid_t owner, gh_error *err);
