/* Reading and writing small files, the sysfs/procfs way: one read, one write, -errno on failure. */
#pragma once

#include <sys/types.h>

#include "macro.h"

/* Reads at most max bytes; -EFBIG if the file is larger. The buffer is NUL-terminated. */
int read_full_file(const char *path, size_t max, char **ret, size_t *ret_len);
int read_full_fd(int fd, size_t max, char **ret, size_t *ret_len);
/* read_full_file() of a regular file alone, opened without blocking: a FIFO, a tty or a device gives
 * -EBADFD (a directory -EISDIR) instead of a read that may never end. */
int read_regular_file(const char *path, size_t max, char **ret, size_t *ret_len);
/* First line, without its newline. */
int read_one_line_file(const char *path, char **ret);
/* All of s to fd, however many write(2)s it takes (EINTR retried). */
int write_all_string(int fd, const char *s);
/* One write(2) of s; sysfs acts on it and reports its error there. No O_CREAT. */
int write_string_file(const char *path, const char *s);
/* root + path, with exactly one slash between; root "/" or "" gives path itself. */
char *path_join(const char *root, const char *path);
/* Last component of a symlink's target ("../../bus/pci/drivers/nvidia" -> "nvidia"). */
int readlink_basename(const char *path, char **ret);
/* mkdir -p: creates path and any missing parents with mode; an existing directory is fine. */
int mkdir_p(const char *path, mode_t mode);
