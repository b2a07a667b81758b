/* /proc/PID/stat: the fields we need, read past COMM (which may hold anything, ')' included). */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* State (field 3: 'R', 'S', 'D', 'Z'...) and start time (field 22, clock ticks after boot) of pid, from
 * PROC/PID/stat (PROC: "/proc", or one under a test root). Either pointer may be NULL. -ENOENT when the
 * process is gone. */
int gh_proc_stat(const char *proc, pid_t pid, char *ret_state, uint64_t *ret_start);
