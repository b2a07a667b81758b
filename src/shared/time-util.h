/* Monotonic time in microseconds, and deadlines: every wait in this tool has one. */
#pragma once

#include <stdint.h>

#include "macro.h"

typedef uint64_t usec_t;
#define USEC_INFINITY ((usec_t)UINT64_MAX)
#define USEC_PER_MSEC ((usec_t)1000ULL)
#define USEC_PER_SEC ((usec_t)1000000ULL)

usec_t now_usec(void);
/* Absolute deadline timeout from now; USEC_INFINITY stays infinite. */
usec_t deadline_after(usec_t timeout);
/* Microseconds left until deadline, 0 if passed. */
usec_t deadline_left(usec_t deadline);
static inline bool deadline_passed(usec_t deadline)
{
        return deadline_left(deadline) == 0;
}
/* Sleeps min(step, time left); returns false once the deadline has passed. */
bool deadline_sleep(usec_t deadline, usec_t step);

#define GH_LOCAL_TIME_MAX 32
/* A CLOCK_REALTIME time in usec as local "YYYY-MM-DD HH:MM:SS" ("an unknown time" if it cannot be). */
void format_local_time(uint64_t realtime_usec, char buf[static GH_LOCAL_TIME_MAX]);
