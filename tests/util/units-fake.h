/* A private dbus-daemon on ROOT/run/dbus/system_bus_socket with a fake systemd Manager on it, served
 * by a child process, for testing unit jobs without systemd. */
#pragma once

#include <sys/types.h>

#include "shared/macro.h"

/* The fake knows these units; each job's JobRemoved comes UF_JOB_DELAY_MSEC after the reply:
 *   gdm.service     alias display-manager.service, active; stop and start finish "done"
 *   broken.service  inactive; start finishes "failed", stop "done"
 *   stuck.service   active; its jobs never finish (and an unrelated job's JobRemoved is sent instead)
 *   idle.service    inactive; its jobs finish "done" with JobRemoved sent before the method reply
 *   lazy.service    activating; GetUnit does not know it until LoadUnit loaded it
 *   nope.service    LoadState "not-found"; StartUnit/StopUnit fail with NoSuchUnit
 *   hang.service    active; a stop job runs (unit "deactivating") until cancelled, and a start while it
 *                   runs waits behind it for ever (what the report saw: ExecStop sleeping ten minutes).
 *                   As in systemd, cancelling the job does not end ExecStop: the unit stays
 *                   "deactivating" for UF_EXEC_STOP_TAIL_MSEC more, and a start waits until it is
 *                   inactive (an ExecStop that ends soon after; one that never ends keeps the start waiting)
 *   forever.service as hang.service, but its ExecStop never ends after the cancel: only KillUnit(name,
 *                   "control", SIGKILL) ends it (the unit is inactive UF_JOB_DELAY_MSEC later)
 *   mute.service    GetUnit about it is never answered, as from a manager that hangs
 * A "done" stop makes a unit inactive, a "done" start active. Modes other than "replace" are refused.
 * A running job is cancelled as systemd does it, by Job.Cancel on its object: JobRemoved with result
 * "canceled" goes out before the reply; a job that is gone has no object (UnknownObject). KillUnit takes
 * "control" and SIGKILL only, and answers NoSuchProcess for a unit that is not deactivating. */
/* JobRemoved goes only to clients that called Manager.Subscribe() (and not Unsubscribe() since); a
 * second Subscribe() is refused with UF_ALREADY_SUBSCRIBED, an Unsubscribe() without one with
 * UF_NOT_SUBSCRIBED, as systemd does. FakeSubscribers() (not systemd's) answers how many are. */
#define UF_ALREADY_SUBSCRIBED "org.freedesktop.systemd1.AlreadySubscribed"
#define UF_NOT_SUBSCRIBED "org.freedesktop.systemd1.NotSubscribed"
#define UF_JOB_DELAY_MSEC 200
/* The same manager also serves ROOT/run/user/UF_USER_UID/systemd/private, as a user's manager does: each
 * client a direct connection that gets every JobRemoved, Subscribe() or not. */
#define UF_USER_UID "1000"
#define UF_EXEC_STOP_TAIL_MSEC 1000

typedef struct uf_bus {
        pid_t daemon;
        pid_t manager;
} uf_bus;

/* 0, or -ENOENT when dbus-daemon is not installed. Fails the test on anything else. */
int uf_bus_start(const char *root, uf_bus *ret);
void uf_bus_stop(uf_bus *b);
/* How many clients the fake manager counts as subscribed; fails the test when it cannot ask. */
unsigned uf_bus_subscribers(const char *root);
