/* A stuck PCI function: a sysfs access to it (an unbind, a driver_override read or write, a probe) or the
 * unload of its driver's module (which removes it from the driver first) did not finish, so the kernel holds
 * the device's lock, and every later access would wait for it too. Recorded in ROOT/run/gpu-handover/stuck,
 * one line each, so that every later run leaves the function alone. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "pci-addr.h"

#define GH_STUCK_DRIVER_MAX 64

typedef enum gh_stuck_op {
        GH_STUCK_UNBIND,
        GH_STUCK_OVERRIDE_READ,
        GH_STUCK_OVERRIDE_WRITE,
        GH_STUCK_PROBE,
        GH_STUCK_REMOVE, /* its driver's remove, run by the unload of the driver's module */
        _GH_STUCK_OP_MAX,
        _GH_STUCK_OP_INVALID = -22,
} gh_stuck_op;

typedef struct gh_stuck {
        char addr[GH_PCI_ADDR_MAX];       /* canonical */
        gh_stuck_op op;                   /* the access that did not finish */
        uint64_t since;                   /* CLOCK_REALTIME, usec */
        pid_t waiter;                     /* our process left waiting in the kernel for the lock; 0: none */
        uint64_t waiter_start;            /* its /proc/PID/stat start time, against pid reuse */
        char driver[GH_STUCK_DRIVER_MAX]; /* bound when it happened; "" for none */
} gh_stuck;

/* "ADDR OP SINCE WAITER WAITER_START DRIVER", the driver last (it may hold spaces), no newline. */
int gh_stuck_format(const gh_stuck *s, char **ret);
/* The reverse; every field checked (a canonical address, a known op, numbers, a valid driver name).
 * -EINVAL otherwise. */
int gh_stuck_parse(const char *line, gh_stuck *ret);

const char *gh_stuck_op_to_string(gh_stuck_op op);
gh_stuck_op gh_stuck_op_from_string(const char *s);
/* What the access was, in words: "its unbind from 'nvidia'", "a read of its driver_override". */
int gh_stuck_describe(const gh_stuck *s, char **ret);
