/* systemd units over sd-bus: resolve names and states, and stop or start a unit waiting for its job
 * to finish (JobRemoved), each under a deadline. */
#include <errno.h>
#include <inttypes.h>
#include <unistd.h>
#include <signal.h>
#include <stdarg.h>
#include <systemd/sd-bus.h>

#include "units.h"
#include "shared/fileio.h"

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"
#define SD_UNIT "org.freedesktop.systemd1.Unit"
#define SD_JOB "org.freedesktop.systemd1.Job"
#define SD_NO_SUCH_UNIT "org.freedesktop.systemd1.NoSuchUnit"
#define SD_NO_SUCH_JOB "org.freedesktop.systemd1.NoSuchJob"
#define SD_NO_SUCH_PROCESS "org.freedesktop.systemd1.NoSuchProcess"
#define SD_ALREADY_SUBSCRIBED "org.freedesktop.systemd1.AlreadySubscribed"

/* A stop job still queued or running when its deadline passed: undoing the stop cancels it first. */
typedef struct pending_stop {
        char *unit, *job;
} pending_stop;

struct gh_units {
        sd_bus *bus;
        bool direct; /* a user manager's private socket: no bus daemon, no sender names */
        pending_stop *stops;
        size_t n_stops;
};

DEFINE_TRIVIAL_CLEANUP_FUNC(gh_units *, gh_units_free)

/* D-Bus addresses escape every byte outside [-0-9A-Za-z_/.\*] as %XX. */
static char *bus_address_escape(const char *s)
{
        static const char hex[] = "0123456789abcdef";
        char *e = malloc(strlen(s) * 3 + 1), *p = e;

        if (!e)
                return NULL;
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;

                if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    strchr("-_/.\\*", c)) {
                        *p++ = (char)c;
                        continue;
                }
                *p++ = '%';
                *p++ = hex[c >> 4];
                *p++ = hex[c & 15];
        }
        *p = 0;
        return e;
}

static int bus_open_socket(const char *socket, bool bus_client, sd_bus **ret)
{
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *escaped = NULL, *address = NULL;
        int r;

        if (!(escaped = bus_address_escape(socket)) || asprintf(&address, "unix:path=%s", escaped) < 0)
                return -ENOMEM;
        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, address);
        if (r < 0)
                return r;
        r = sd_bus_set_bus_client(bus, bus_client);
        if (r < 0)
                return r;
        r = sd_bus_start(bus);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(bus);
        return 0;
}

static int bus_open_root(const char *root, sd_bus **ret)
{
        _cleanup_free_ char *socket = path_join(root, "/run/dbus/system_bus_socket");

        return socket ? bus_open_socket(socket, true, ret) : -ENOMEM;
}

static int units_set_timeout(gh_units *u)
{
        /* Every call without a deadline of its own (the queries that gather facts) gets this one, not
         * sd-bus's 25 s: the manager answers them at once, or is stuck. */
        return sd_bus_set_method_call_timeout(u->bus, GH_UNITS_QUERY_TIMEOUT);
}

/* Why the private socket, and not the user's bus: the user's manager listens on
 * /run/user/UID/systemd/private whatever else runs (systemctl --user itself connects there first, and the
 * manager lets root in as it lets the user), while the user's session bus (/run/user/UID/bus) exists only
 * with dbus-user-session installed and its daemon running, and would have us pass its policy as another
 * user. sd_bus_open_user_machine("UID@.host") needs systemd 248 and works by starting systemd-run and
 * systemd-stdio-bridge inside the user's session bus: the same dependency, and a process more. The
 * socket belongs to the user: opening it as root is all it takes, and a socket under a test root works
 * the same. */
int gh_units_open_user(const char *root, uint32_t uid, gh_units **ret)
{
        _cleanup_(gh_units_freep) gh_units *u = calloc(1, sizeof(gh_units));
        _cleanup_free_ char *rel = NULL, *socket = NULL;
        int r;

        if (!u || asprintf(&rel, "/run/user/%" PRIu32 "/systemd/private", uid) < 0 ||
            !(socket = path_join(root && *root ? root : "/", rel)))
                return -ENOMEM;
        if (access(socket, F_OK) < 0)
                return -errno;
        u->direct = true;
        r = bus_open_socket(socket, false, &u->bus);
        if (r >= 0)
                r = units_set_timeout(u);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(u);
        return 0;
}

int gh_units_open(const char *root, gh_units **ret)
{
        _cleanup_(gh_units_freep) gh_units *u = calloc(1, sizeof(gh_units));
        int r;

        if (!u)
                return -ENOMEM;
        if (!root || !*root || streq(root, "/"))
                r = sd_bus_open_system(&u->bus);
        else
                r = bus_open_root(root, &u->bus);
        if (r < 0)
                return r;
        r = units_set_timeout(u);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(u);
        return 0;
}

gh_units *gh_units_free(gh_units *u)
{
        if (!u)
                return NULL;
        sd_bus_flush_close_unref(u->bus);
        for (size_t i = 0; i < u->n_stops; i++) {
                free(u->stops[i].unit);
                free(u->stops[i].job);
        }
        free(u->stops);
        free(u);
        return NULL;
}

/* sd-bus takes 0 as "its default" (25 s); our deadline is the limit, also for the call. */
static usec_t call_timeout(usec_t deadline)
{
        usec_t left = deadline_left(deadline);

        return left == USEC_INFINITY ? 0 : left;
}

/* One method of the Manager, its arguments as types says (NULL: none), answered within the deadline
 * (USEC_INFINITY: the connection's query timeout). error and ret_reply may be NULL. */
static int manager_call(gh_units *u, const char *method, usec_t deadline, sd_bus_error *error,
                        sd_bus_message **ret_reply, const char *types, ...)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(u->bus, &m, SD_DEST, SD_PATH, SD_MANAGER, method);
        if (r < 0)
                return r;
        if (types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
                if (r < 0)
                        return r;
        }
        return sd_bus_call(u->bus, m, call_timeout(deadline), error, ret_reply);
}

static int manager_unit_call(gh_units *u, const char *method, const char *name, char **ret_path)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path;
        int r;

        r = manager_call(u, method, USEC_INFINITY, &error, &reply, "s", name);
        if (r < 0)
                return sd_bus_error_has_name(&error, SD_NO_SUCH_UNIT) ? -ENOENT : r;
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return r;
        *ret_path = strdup(path);
        return *ret_path ? 0 : -ENOMEM;
}

/* GetUnit first: it has no side effect. LoadUnit for a unit systemd has not loaded yet. */
static int unit_object(gh_units *u, const char *name, char **ret_path)
{
        int r;

        r = manager_unit_call(u, "GetUnit", name, ret_path);
        if (r != -ENOENT)
                return r;
        return manager_unit_call(u, "LoadUnit", name, ret_path);
}

static int unit_property(gh_units *u, const char *path, const char *property, char **ret)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

        return sd_bus_get_property_string(u->bus, SD_DEST, path, SD_UNIT, property, &error, ret);
}

int gh_units_resolve(gh_units *u, const char *name, char **ret_id)
{
        _cleanup_free_ char *path = NULL, *load = NULL, *id = NULL;
        int r;

        r = unit_object(u, name, &path);
        if (r < 0)
                return r;
        r = unit_property(u, path, "LoadState", &load);
        if (r < 0)
                return r;
        if (streq(load, "not-found"))
                return -ENOENT;
        r = unit_property(u, path, "Id", &id);
        if (r < 0)
                return r;
        *ret_id = TAKE_PTR(id);
        return 0;
}

int gh_units_is_active(gh_units *u, const char *name, bool *ret)
{
        _cleanup_free_ char *path = NULL, *state = NULL;
        int r;

        r = unit_object(u, name, &path);
        if (r == -ENOENT) {
                /* As systemctl is-active says: a unit that does not exist is not running. */
                *ret = false;
                return 0;
        }
        if (r < 0)
                return r;
        r = unit_property(u, path, "ActiveState", &state);
        if (r < 0)
                return r;
        *ret = streq(state, "active") || streq(state, "reloading") || streq(state, "activating");
        return 0;
}

typedef struct job_wait {
        const char *path; /* the job we wait for, NULL until StopUnit/StartUnit answered */
        char *result;
} job_wait;

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        job_wait *w = userdata;
        const char *path, *unit, *result;
        uint32_t id;

        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
                return 0;
        if (w->path && !w->result && streq(path, w->path))
                w->result = strdup(result);
        return 0;
}

static int job_start(gh_units *u, const char *method, const char *verb, const char *name, usec_t deadline,
                     char **ret_job, gh_error *err)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *job;
        int r;

        if (deadline_passed(deadline))
                return gh_error_set(err, -ETIMEDOUT, "no time left to %s unit '%s'", verb, name);
        r = manager_call(u, method, deadline, &error, &reply, "ss", name, "replace");
        if (r < 0 && sd_bus_error_has_name(&error, SD_NO_SUCH_UNIT))
                r = -ENOENT;
        if (r < 0)
                return gh_error_set(err, r, "cannot %s unit '%s': %s", verb, name,
                                    error.message ? error.message : strerror(-r));
        r = sd_bus_message_read(reply, "o", &job);
        if (r < 0)
                return gh_error_set(err, r, "bad reply to %s for unit '%s': %s", method, name, strerror(-r));
        *ret_job = strdup(job);
        return *ret_job ? 0 : -ENOMEM;
}

static int job_result_to_errno(const char *result)
{
        if (streq(result, "timeout"))
                return -ETIMEDOUT;
        if (streq(result, "canceled"))
                return -ECANCELED;
        return -EIO;
}

static int job_wait_for(gh_units *u, job_wait *w, const char *verb, const char *name, usec_t deadline,
                        gh_error *err)
{
        int r;

        while (!w->result) {
                r = sd_bus_process(u->bus, NULL);
                if (r < 0)
                        return gh_error_set(err, r, "lost the bus waiting to %s unit '%s': %s", verb, name,
                                            strerror(-r));
                if (r > 0)
                        continue;
                if (deadline_passed(deadline))
                        return gh_error_set(err, -ETIMEDOUT, "unit '%s' did not %s before the deadline",
                                            name, verb);
                r = sd_bus_wait(u->bus, deadline_left(deadline));
                if (r < 0 && r != -EINTR)
                        return gh_error_set(err, r, "lost the bus waiting to %s unit '%s': %s", verb, name,
                                            strerror(-r));
        }
        if (!streq(w->result, "done"))
                return gh_error_set(err, job_result_to_errno(w->result),
                                    "cannot %s unit '%s': job result '%s'", verb, name, w->result);
        return 0;
}

static int pending_stop_add(gh_units *u, const char *name, const char *job)
{
        pending_stop *p = reallocarray(u->stops, u->n_stops + 1, sizeof(pending_stop));

        if (!p)
                return -ENOMEM;
        u->stops = p;
        p = &u->stops[u->n_stops];
        p->unit = strdup(name);
        p->job = strdup(job);
        if (!p->unit || !p->job) {
                free(p->unit);
                free(p->job);
                return -ENOMEM;
        }
        u->n_stops++;
        return 0;
}

/* The job of the latest stop of name that timed out, taken out of the list (the caller frees it). */
static char *pending_stop_take(gh_units *u, const char *name)
{
        for (size_t i = u->n_stops; i-- > 0;) {
                char *job = u->stops[i].job;

                if (!streq(u->stops[i].unit, name))
                        continue;
                free(u->stops[i].unit);
                u->stops[i] = u->stops[--u->n_stops];
                return job;
        }
        return NULL;
}

/* Manager.Subscribe(): systemd sends job signals on a bus to its subscribers (and, in the versions we
 * know, to the client that queued the job, which no documentation promises). Subscribed, the JobRemoved
 * of our job reaches us whatever the version's routing. A subscription left from before (an Unsubscribe
 * lost with a deadline) serves as well. On a user manager's private socket every client gets the signals
 * and the call simply succeeds: the same code serves both. */
static int manager_subscribe(gh_units *u, const char *name, usec_t deadline, gh_error *err)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = manager_call(u, "Subscribe", deadline, &error, NULL, NULL);
        if (r >= 0 || sd_bus_error_has_name(&error, SD_ALREADY_SUBSCRIBED))
                return 0;
        return gh_error_set(err, r, "cannot subscribe to the jobs of unit '%s': %s", name,
                            error.message ? error.message : strerror(-r));
}

/* Best effort, and within the deadline only: a subscription left behind costs systemd a few signals to
 * us, ends with our connection, and the next Subscribe() takes it as it is. */
static void manager_unsubscribe(gh_units *u, usec_t deadline)
{
        if (!deadline_passed(deadline))
                (void)manager_call(u, "Unsubscribe", deadline, NULL, NULL, NULL);
}

static int unit_job(gh_units *u, const char *method, const char *verb, const char *name, usec_t deadline,
                    gh_error *err)
{
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_free_ char *job = NULL;
        job_wait w = {};
        int r;

        /* Watched and subscribed before the job exists: its JobRemoved may come right behind the reply.
         * On a direct connection messages carry no sender: match on the path and interface alone. */
        r = sd_bus_match_signal(u->bus, &slot, u->direct ? NULL : SD_DEST, SD_PATH, SD_MANAGER, "JobRemoved",
                                on_job_removed, &w);
        if (r < 0)
                return gh_error_set(err, r, "cannot watch the jobs of unit '%s': %s", name, strerror(-r));
        r = manager_subscribe(u, name, deadline, err);
        if (r < 0)
                return r;
        r = job_start(u, method, verb, name, deadline, &job, err);
        if (r >= 0) {
                w.path = job;
                r = job_wait_for(u, &w, verb, name, deadline, err);
        }
        manager_unsubscribe(u, deadline);
        free(w.result);
        if (!job)
                return r;
        /* Still queued or running: systemd goes on with it after we stop waiting. */
        if (r == -ETIMEDOUT && streq(method, "StopUnit") && pending_stop_add(u, name, job) < 0)
                return -ENOMEM;
        return r;
}

int gh_units_stop(gh_units *u, const char *name, usec_t deadline, gh_error *err)
{
        return unit_job(u, "StopUnit", "stop", name, deadline, err);
}

/* A job that ended meanwhile is gone from the bus: nothing left to cancel. */
static bool job_gone(const sd_bus_error *error)
{
        return sd_bus_error_has_name(error, SD_NO_SUCH_JOB) ||
               sd_bus_error_has_name(error, SD_BUS_ERROR_UNKNOWN_OBJECT) ||
               sd_bus_error_has_name(error, SD_BUS_ERROR_UNKNOWN_METHOD);
}

/* Cancelling a stop job does not end the ExecStop it runs: the unit stays deactivating, and systemd holds
 * a start back until it is inactive, which for an ExecStop that hangs is never (or TimeoutStopSec, 90 s by
 * default, later). So end that command, as the stop's own timeout would: SIGKILL to the unit's control
 * process. systemd then stops the rest of the unit its usual way (KillSignal, ExecStopPost) and runs the
 * start. A command that ended meanwhile leaves nothing to kill. */
static int stop_command_kill(gh_units *u, const char *name, usec_t deadline, gh_error *err)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = manager_call(u, "KillUnit", deadline, &error, NULL, "ssi", name, "control", (int32_t)SIGKILL);
        if (r >= 0 || sd_bus_error_has_name(&error, SD_NO_SUCH_PROCESS))
                return 0;
        return gh_error_set(err, r, "cannot end the stop command of unit '%s': %s", name,
                            error.message ? error.message : strerror(-r));
}

/* A start queued behind a stop job that still runs waits for that job to end, which may be never:
 * cancel the stop job first (as 'systemctl cancel' does), end the command it ran, then start. */
static int stop_job_cancel(gh_units *u, const char *name, usec_t deadline, gh_error *err)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_free_ char *job = pending_stop_take(u, name);
        int r;

        if (!job)
                return 0;
        if (deadline_passed(deadline))
                return gh_error_set(err, -ETIMEDOUT, "no time left to cancel the stop job %s of unit '%s'",
                                    job, name);
        r = sd_bus_message_new_method_call(u->bus, &m, SD_DEST, job, SD_JOB, "Cancel");
        if (r >= 0)
                r = sd_bus_call(u->bus, m, call_timeout(deadline), &error, &reply);
        if (r >= 0)
                return stop_command_kill(u, name, deadline, err);
        if (job_gone(&error))
                return 0;
        return gh_error_set(err, r, "cannot cancel the stop job %s of unit '%s': %s", job, name,
                            error.message ? error.message : strerror(-r));
}

int gh_units_start(gh_units *u, const char *name, usec_t deadline, gh_error *err)
{
        int r = stop_job_cancel(u, name, deadline, err);

        return r < 0 ? r : unit_job(u, "StartUnit", "start", name, deadline, err);
}
