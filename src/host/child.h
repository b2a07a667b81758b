/* Run something that may block forever (a sysfs read or write) in a child process, under a deadline. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "shared/time-util.h"

/* Forks; the child runs fn(userdata) and exits with its result. Returns fn's result (0 or -errno),
 * or -ETIMEDOUT when the deadline passes first; the child is then SIGKILLed and left behind
 * (it may be stuck in the kernel, where no signal reaches). */
int gh_child_run(int (*fn)(void *userdata), void *userdata, usec_t deadline);
/* The child the latest gh_child_run() or gh_child_read() left behind, still in the kernel after its
 * SIGKILL; 0 when that call left none (it finished, or died when killed). */
pid_t gh_child_last_abandoned(void);
/* The same for a read: fn writes its result to stdout, and *ret gets it (at most max bytes, else
 * -EFBIG) when fn returns 0. */
int gh_child_read(int (*fn)(void *userdata), void *userdata, usec_t deadline, size_t max, char **ret);

/* A child waited for in parts, for an operation whose end the caller awaits while it does something else
 * (an ALSA card's unbind, which waits until the card's clients have closed it). */
typedef struct gh_child {
        pid_t pid; /* 0: none */
        int pidfd; /* -1: none (a kernel without pidfd_open: waited for by polling) */
} gh_child;

/* Forks the child running fn(userdata) (0 or -errno). */
int gh_child_start(int (*fn)(void *userdata), void *userdata, gh_child *ret);
/* fn's result once the child has exited (c is then done with); -ETIMEDOUT when deadline passes first,
 * the child still running. */
int gh_child_wait(gh_child *c, usec_t deadline);
/* SIGKILLs a child still running; true when it did not die and was left behind, still in the kernel
 * (gh_child_last_abandoned() names it). Nothing for none. */
bool gh_child_stop(gh_child *c);
