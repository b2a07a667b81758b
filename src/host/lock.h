/* One hand-over at a time: flock on ROOT/run/gpu-handover/lock, waited for under a deadline. */
#pragma once

#include "shared/time-util.h"

int gh_lock_take(const char *root, usec_t deadline, int *ret_fd);
