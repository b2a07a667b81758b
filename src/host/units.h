/* systemd units over sd-bus: resolve, query, stop and start, each waiting for its job. */
#pragma once

#include <stdint.h>

#include "shared/error.h"
#include "shared/time-util.h"

typedef struct gh_units gh_units;

/* How long a query (GetUnit, a property) may take: systemd answers at once unless it is stuck. */
#define GH_UNITS_QUERY_TIMEOUT (5 * USEC_PER_SEC)

/* The system bus; with a root other than "/", ROOT/run/dbus/system_bus_socket.
 * -ENOENT/-ECONNREFUSED etc. when there is no bus. */
int gh_units_open(const char *root, gh_units **ret);
/* The manager of user uid (user@UID.service), reached as root through its private socket
 * ROOT/run/user/UID/systemd/private, a direct connection with no bus daemon in between (see units.c for
 * why). -ENOENT when the user has no manager running (no such socket). */
int gh_units_open_user(const char *root, uint32_t uid, gh_units **ret);
gh_units *gh_units_free(gh_units *u);
/* The unit's Id ("display-manager.service" -> "gdm.service"); -ENOENT when not found. */
int gh_units_resolve(gh_units *u, const char *name, char **ret_id);
int gh_units_is_active(gh_units *u, const char *name, bool *ret);
/* StopUnit/StartUnit in "replace" mode, then wait for JobRemoved; result other than "done" fails.
 * A stop whose deadline passes leaves its job running and remembers it: a later start of the same
 * name (the rollback's undo) cancels that job first (Job.Cancel), since a start queued behind it would
 * wait for as long as the stop takes, and ends the command it ran (KillUnit "control", SIGKILL), which
 * the cancel leaves running and systemd waits for before it starts the unit. */
int gh_units_stop(gh_units *u, const char *name, usec_t deadline, gh_error *err);
int gh_units_start(gh_units *u, const char *name, usec_t deadline, gh_error *err);
