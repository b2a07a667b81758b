/* An in-memory host behind gh_host_ops, that acts the way the kernel and systemd would, for
 * executor tests; any operation can be made to fail by its sequence number. */
#pragma once

#include "core/exec.h"

#define FAKE_MAX 8

typedef struct fake_dev {
        char addr[GH_PCI_ADDR_MAX];
        char *driver;   /* bound driver, NULL when none */
        char *override; /* NULL when none */
        const char *native; /* the host driver that probing finds */
} fake_dev;

typedef struct fake_host {
        fake_dev devs[FAKE_MAX];
        size_t n_devs;
        char **modules;      /* loaded modules (strv) */
        char **active_units; /* strv; a user's unit is "UID/UNIT" */
        char **held_nodes;   /* nodes some process holds (strv) */
        char **audio_clients; /* sound nodes held by clients that close them when the card disconnects */
        char **logind_nodes; /* nodes logind and PID 1 keep copies of (strv): an unload waits for them */
        bool logind_keeps;   /* logind never lets go: logind_wait_released times out */
        char **journal;      /* lines appended (strv) */
        char **calls;        /* "op arg" for each call, in order (strv) */
        unsigned n_calls;
        unsigned fail_call; /* 1-based call number to fail with fail_error; 0: none */
        int fail_error;
        char **fail_ops; /* "op arg" of calls that fail with fail_ops_error (-EIO if 0), every time (strv) */
        int fail_ops_error;
        char **hang_ops; /* "unit_stop UNIT", "unit_start UNIT": a job that never ends, waited out */
        usec_t start_left; /* time its deadline left the latest unit_start */
        char **need_device;  /* modules whose load fails with -ENODEV when it probes no device, as nvidia's */
        char **absent_nodes; /* nodes dev_verify_nodes finds missing (strv) */
        char **stuck;        /* functions dev_stuck finds on the stuck list, stuck in their remove (strv) */
} fake_host;

extern const gh_host_ops fake_host_ops;

/* driver name -> the module that provides it, for the kernel-like rules. */
const char *fake_driver_module(const char *driver);
void fake_host_add_dev(fake_host *h, const char *addr, const char *driver, const char *native);
fake_dev *fake_host_dev(fake_host *h, const char *addr);
/* A printable summary of the state that a hand-over and its undo must restore. */
char *fake_host_state(const fake_host *h);
void fake_host_done(fake_host *h);
