/* The stuck list, ROOT/run/gpu-handover/stuck: the PCI functions whose device lock the kernel holds (see
 * core/stuck.h), one line each, kept across processes so that every later run leaves them alone. It is
 * trusted as the journals are (rundir.h) and changed under an flock of the run dir. */
#pragma once

#include <sys/types.h>

#include "core/stuck.h"
#include "shared/error.h"

/* Every entry; none (0, *ret NULL) when there is no list. A line that does not parse is -EBADMSG with err
 * naming the file and line: the list is ours, so anything else in it was put there by someone else. */
int gh_stucklist_read(const char *root, uid_t owner, gh_stuck **ret, size_t *ret_n, gh_error *err);
/* addr's entry into *ret: 1 when listed, 0 when not (or the list cannot be read, err says why). */
int gh_stucklist_find(const char *root, uid_t owner, const char *addr, gh_stuck *ret, gh_error *err);
/* Adds s, replacing an entry for the same address. */
int gh_stucklist_put(const char *root, uid_t owner, const gh_stuck *s, gh_error *err);
/* Removes addr's entry, if any (and the file with its last entry). */
int gh_stucklist_drop(const char *root, uid_t owner, const char *addr, gh_error *err);
/* Whether the process that s says waits in the kernel is still there (the same process: its start time
 * matches, and it is not a zombie). When it is gone, its access finished: the lock may be free again. */
bool gh_stuck_waiter_alive(const gh_stuck *s);
