/* Who holds a GPU's device nodes: /proc/PID/fd and /proc/PID/maps; ending them, gently then not. */
#pragma once

#include "core/config.h"
#include "core/facts.h"
#include "shared/error.h"
#include "shared/time-util.h"

/* Processes under ROOT/proc holding any of nodes (paths as the host sees them). Each is named with comm,
 * and with unit and session through sd-login when root is "/"; its cgroup, exe and start time say who it
 * is (the unit, too, when sd-login cannot: under a fake root). */
int gh_holders_scan(const char *root, char *const *nodes, gh_holder **ret, size_t *ret_n);
void gh_holders_free(gh_holder *h, size_t n);
/* Never signalled, whatever its comm: pid 1, ourselves, our parent, other VMs (machine.slice), libvirt's
 * daemons and systemd, by cgroup and exe (core/identity.h). */
bool gh_holder_is_protected(const gh_holder *h);
/* Ends holders as gh_holders_scan() found them: -EBUSY naming the first protected one, before any
 * signal. Each is signalled through a pidfd, and only when that is the process the scan saw (its start
 * time) still holding a node: one whose pid was recycled meanwhile is gone, not signalled. SIGTERM, wait
 * up to grace, SIGKILL, wait until gone or deadline (-ETIMEDOUT). */
int gh_holders_terminate(const char *root, char *const *nodes, const gh_holder *h, size_t n, usec_t grace,
                         usec_t deadline, gh_error *err);
/* Scans; with FAIL, any holder is -EBUSY naming it. With TERMINATE, gh_holders_terminate(), then scans
 * again: a node held again is -EBUSY. */
int gh_holders_end(const char *root, char *const *nodes, gh_holders_mode mode, usec_t grace, usec_t deadline,
                   gh_error *err);
