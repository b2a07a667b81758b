/* Waiting for systemd-logind and PID 1 to close their copies of a session's devices (core/logind-copy.h)
 * once the session that took them has let go. */
#pragma once

#include "shared/error.h"
#include "shared/time-util.h"

/* Scans ROOT/proc until none of logind's copies of nodes is left. -ETIMEDOUT at deadline, with err naming
 * each node still held and by whom (logind, PID 1's fd store). */
int gh_logind_wait_released(const char *root, char *const *nodes, usec_t deadline, gh_error *err);
