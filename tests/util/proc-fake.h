/* Fake host trees for tests: a temporary root with files, directories and links under it, as
 * /proc, /sys and /lib/modules would have them. Helpers fail the running test on any error. */
#pragma once

#include "shared/macro.h"

/* mkdtemp under $TMPDIR (or /tmp) named after tag; pf_root_free removes the whole tree. */
char *pf_root_new(const char *tag);
void pf_root_free(char *root);
DEFINE_TRIVIAL_CLEANUP_FUNC(char *, pf_root_free)
#define _cleanup_pf_root_ _cleanup_(pf_root_freep)

/* ROOT/path, newly allocated. */
char *pf_path(const char *root, const char *path);
/* mkdir -p ROOT/path. */
void pf_mkdir(const char *root, const char *path);
/* Writes content to ROOT/path, creating parent directories. */
void pf_write(const char *root, const char *path, const char *content);
/* ROOT/path -> target, creating parent directories. */
void pf_symlink(const char *root, const char *path, const char *target);
/* rm -rf ROOT/path. */
void pf_remove(const char *root, const char *path);
bool pf_exists(const char *root, const char *path);

/* ROOT/proc/PID as the kernel shows a process: comm, stat (its start time, field 22), cgroup ("0::PATH",
 * or written as given when it holds a ':'), exe -> exe. cgroup and exe may be NULL: then absent. */
void pf_proc_pid(const char *root, int pid, const char *comm, const char *cgroup, const char *exe,
                 unsigned long long start_time);
/* ROOT/proc/PID/fd/FD -> node (as the host names it), and an empty maps: PID holds node. */
void pf_proc_hold(const char *root, int pid, int fd, const char *node);
/* ROOT/proc/PID/fd/FD -> "/dmabuf:NAME" and its fdinfo as dma_buf_show_fdinfo() writes it, exp_name
 * the exporter: PID holds a dma-buf (NAME is the buffer's own, set by DMA_BUF_SET_NAME; often empty). */
void pf_proc_dmabuf(const char *root, int pid, int fd, const char *name, const char *exp_name);
