/* Monotonic time and deadlines. */
#include <stdio.h>
#include <time.h>

#include "time-util.h"

usec_t now_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (usec_t)ts.tv_sec * USEC_PER_SEC + (usec_t)ts.tv_nsec / 1000;
}

usec_t deadline_after(usec_t timeout)
{
        usec_t n = now_usec();

        if (timeout == USEC_INFINITY || timeout > USEC_INFINITY - n)
                return USEC_INFINITY;
        return n + timeout;
}

usec_t deadline_left(usec_t deadline)
{
        usec_t n = now_usec();

        if (deadline == USEC_INFINITY)
                return USEC_INFINITY;
        return deadline > n ? deadline - n : 0;
}

bool deadline_sleep(usec_t deadline, usec_t step)
{
        usec_t left = deadline_left(deadline);
        struct timespec ts;

        if (left == 0)
                return false;
        if (step > left)
                step = left;
        ts.tv_sec = (time_t)(step / USEC_PER_SEC);
        ts.tv_nsec = (long)(step % USEC_PER_SEC) * 1000;
        nanosleep(&ts, NULL);
        return true;
}

void format_local_time(uint64_t realtime_usec, char buf[static GH_LOCAL_TIME_MAX])
{
        time_t t = (time_t)(realtime_usec / USEC_PER_SEC);
        struct tm tm;

        if (!localtime_r(&t, &tm) || strftime(buf, GH_LOCAL_TIME_MAX, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                snprintf(buf, GH_LOCAL_TIME_MAX, "an unknown time");
}
