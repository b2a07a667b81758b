/* The run dir, ROOT/run/gpu-handover, and the files in it (journals, the stuck list). They are read back
 * and acted on as root, so they are trusted only when they are what we made: the directory the owner's
 * with mode 0700, each file the owner's regular file with mode 0600, no symlink followed. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "shared/error.h"

#define GH_RUN_DIR "/run/gpu-handover"

/* Opens dir (ROOT/run/gpu-handover) and checks it; with create, makes it first (and its parents) when
 * missing. -ENOENT (err not set) when missing and not created; -EPERM with err when not trusted. */
int gh_rundir_open(const char *dir, uid_t owner, bool create, int *ret_fd, gh_error *err);
/* Opens name below dir_fd with flags (O_DIRECTORY for a directory; with O_CREAT, made says it was just
 * created, so its mode is set to ours) and checks it; shown names it in messages. -ENOENT and -EEXIST are
 * returned without setting err: whether that is an error is the caller's call. */
int gh_rundir_open_file(int dir_fd, const char *name, const char *shown, uid_t owner, int flags, bool made,
                        int *ret_fd, gh_error *err);
/* Replaces name below dir_fd with text, atomically (a temporary file, fsynced, then renamed), mode 0600. */
int gh_rundir_replace_file(int dir_fd, const char *name, const char *shown, const char *text, gh_error *err);
/* The same for any directory, with the given mode. */
int gh_replace_file_at(int dir_fd, const char *name, const char *shown, const char *text, mode_t mode,
                       gh_error *err);
