/* Configuration files the tool writes for other programs (udev rules, environment lists) under
 * ROOT/etc: read, replaced atomically, removed. */
#pragma once

#include <stddef.h>

#include "shared/error.h"

/* ROOT/dir/name's text; -ENOENT (err not set) when there is no such file. */
int gh_etc_file_read(const char *root, const char *dir, const char *name, size_t max, char **ret,
                     gh_error *err);
/* Puts text in place as ROOT/dir/name, mode 0644, atomically (text NULL: removes the file). 1 when the file
 * changed, 0 when it had that text already (or, for NULL, was not there). */
int gh_etc_file_write(const char *root, const char *dir, const char *name, const char *text, gh_error *err);
