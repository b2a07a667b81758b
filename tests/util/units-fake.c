/* A private bus and a fake systemd Manager on it, each in a child process of the test. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <systemd/sd-id128.h>

#include <cmocka.h>

#include "proc-fake.h"
#include "units-fake.h"

#define SD_PATH "/org/freedesktop/systemd1"
#define SD_UNIT_PREFIX "/org/freedesktop/systemd1/unit"
#define SD_JOB_PREFIX SD_PATH "/job/"
#define SD_NO_SUCH_UNIT "org.freedesktop.systemd1.NoSuchUnit"
#define SD_NO_SUCH_PROCESS "org.freedesktop.systemd1.NoSuchProcess"

typedef struct fake_unit {
        const char *id, *alias;
        const char *active, *load;
        bool in_memory;                         /* GetUnit finds it */
        const char *stop_result, *start_result; /* NULL: the job never finishes */
        bool instant;                           /* JobRemoved goes out before the method reply */
        bool stop_hangs; /* the stop job runs until cancelled, and a start waits behind it */
        bool exec_stop_forever; /* after the cancel, ExecStop runs on until KillUnit ends it */
        bool mute;              /* GetUnit and LoadUnit are never answered: a manager that hangs */
} fake_unit;

static fake_unit fake_units[] = {
        {"gdm.service", "display-manager.service", "active", "loaded", true, "done", "done", false, false,
         false, false},
        {"broken.service", NULL, "inactive", "loaded", true, "done", "failed", false, false, false, false},
        {"stuck.service", NULL, "active", "loaded", true, NULL, NULL, false, false, false, false},
        {"idle.service", NULL, "inactive", "loaded", true, "done", "done", true, false, false, false},
        {"lazy.service", NULL, "activating", "loaded", false, "done", "done", false, false, false, false},
        {"nope.service", NULL, "inactive", "not-found", false, NULL, NULL, false, false, false, false},
        {"hang.service", NULL, "active", "loaded", true, NULL, "done", false, true, false, false},
        {"forever.service", NULL, "active", "loaded", true, NULL, "done", false, true, true, false},
        {"mute.service", NULL, "active", "loaded", true, "done", "done", false, false, false, true},
};

typedef struct fake_job {
        uint32_t id;
        char *path;
        fake_unit *unit;
        const char *result;
        bool start;
} fake_job;

static sd_event *fake_event;
static sd_bus *fake_bus;
static uint32_t fake_job_id;
/* Jobs that run until cancelled (stop_hangs), as systemd keeps a stop job while ExecStop runs. */
static fake_job *fake_running[16];

static fake_unit *unit_find(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(fake_units); i++)
                if (streq(fake_units[i].id, name) || streq_ptr(fake_units[i].alias, name))
                        return &fake_units[i];
        return NULL;
}

static int reply_unit_path(sd_bus_message *m, fake_unit *u)
{
        _cleanup_free_ char *path = NULL;

        if (sd_bus_path_encode(SD_UNIT_PREFIX, u->id, &path) < 0)
                return -ENOMEM;
        return sd_bus_reply_method_return(m, "o", path);
}

static int method_get_unit(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        const char *name;
        fake_unit *u;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        u = unit_find(name);
        /* Handled, never answered: the caller waits until its own timeout. */
        if (u && u->mute)
                return 1;
        if (!u || !u->in_memory)
                return sd_bus_error_setf(error, SD_NO_SUCH_UNIT, "Unit %s not loaded.", name);
        return reply_unit_path(m, u);
}

static int method_load_unit(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        const char *name;
        fake_unit *u;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        u = unit_find(name);
        if (!u)
                return sd_bus_error_setf(error, SD_NO_SUCH_UNIT, "Unit %s not known to the fake.", name);
        u->in_memory = true;
        return reply_unit_path(m, u);
}

/* Clients of the user manager's private socket: direct connections, which systemd sends every signal to
 * (subscribed or not) and whose Subscribe() it answers at once. */
static sd_bus *fake_direct[8];

static bool bus_is_direct(sd_bus *bus)
{
        return bus != fake_bus;
}

/* Subscribe()d clients, by unique name. JobRemoved goes to them only, each its own copy: the routing
 * that a client must not count on being wider (systemd also sends it to the client that queued the job,
 * and broadcasts while anyone at all is subscribed). */
static char *fake_subscribers[16];

static char **subscriber_slot(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(fake_subscribers); i++)
                if (streq_ptr(fake_subscribers[i], name))
                        return &fake_subscribers[i];
        return NULL;
}

static unsigned subscriber_count(void)
{
        unsigned n = 0;

        for (size_t i = 0; i < ELEMENTSOF(fake_subscribers); i++)
                n += !!fake_subscribers[i];
        return n;
}

/* As systemd's method_subscribe(): a second Subscribe from the same client is an error. */
static int method_subscribe(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        const char *sender = sd_bus_message_get_sender(m);
        char **slot;

        if (bus_is_direct(sd_bus_message_get_bus(m)))
                return sd_bus_reply_method_return(m, "");
        if (!sender)
                return -EINVAL;
        if (subscriber_slot(sender))
                return sd_bus_error_setf(error, UF_ALREADY_SUBSCRIBED, "Client is already subscribed.");
        slot = subscriber_slot(NULL);
        if (!slot)
                return -ENOSPC;
        *slot = strdup(sender);
        return *slot ? sd_bus_reply_method_return(m, "") : -ENOMEM;
}

static int method_unsubscribe(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        const char *sender = sd_bus_message_get_sender(m);
        char **slot = sender ? subscriber_slot(sender) : NULL;

        if (bus_is_direct(sd_bus_message_get_bus(m)))
                return sd_bus_reply_method_return(m, "");
        if (!slot)
                return sd_bus_error_setf(error, UF_NOT_SUBSCRIBED, "Client is not subscribed.");
        free(*slot);
        *slot = NULL;
        return sd_bus_reply_method_return(m, "");
}

/* Not systemd's: how many clients are subscribed, for the tests to see that each Subscribe is undone. */
static int method_subscribers(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        return sd_bus_reply_method_return(m, "u", subscriber_count());
}

static int emit_job_removed(sd_bus *bus, uint32_t id, const char *path, const char *unit, const char *result)
{
        for (size_t i = 0; i < ELEMENTSOF(fake_direct); i++)
                if (fake_direct[i])
                        (void)sd_bus_emit_signal(fake_direct[i], SD_PATH, "org.freedesktop.systemd1.Manager",
                                                 "JobRemoved", "uoss", id, path, unit, result);
        bus = fake_bus;
        for (size_t i = 0; i < ELEMENTSOF(fake_subscribers); i++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *s = NULL;
                int r;

                if (!fake_subscribers[i])
                        continue;
                r = sd_bus_message_new_signal(bus, &s, SD_PATH, "org.freedesktop.systemd1.Manager",
                                              "JobRemoved");
                if (r >= 0)
                        r = sd_bus_message_set_destination(s, fake_subscribers[i]);
                if (r >= 0)
                        r = sd_bus_message_append(s, "uoss", id, path, unit, result);
                if (r >= 0)
                        r = sd_bus_send(bus, s, NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int job_emit_removed(sd_bus *bus, fake_job *j)
{
        if (j->result && streq(j->result, "done"))
                j->unit->active = j->start ? "active" : "inactive";
        return emit_job_removed(bus, j->id, j->path, j->unit->id, j->result);
}

static void job_free(fake_job *j)
{
        if (!j)
                return;
        free(j->path);
        free(j);
}

static int on_job_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        fake_job *j = userdata;

        /* systemd runs a start job only once the unit has left "deactivating" (service_start() answers
         * -EAGAIN while ExecStop runs, and the job waits): look again later. */
        if (j->start && streq(j->unit->active, "deactivating") &&
            sd_event_add_time_relative(fake_event, NULL, CLOCK_MONOTONIC, UF_JOB_DELAY_MSEC * 1000ULL, 0,
                                       on_job_timer, j) >= 0)
                return 0;
        (void)job_emit_removed(fake_bus, j);
        job_free(j);
        return 0;
}

/* Cancelling a stop job does not end its ExecStop: the unit becomes inactive only when that ends. */
static int on_exec_stop_done(sd_event_source *s, uint64_t usec, void *userdata)
{
        fake_unit *u = userdata;

        if (streq(u->active, "deactivating"))
                u->active = "inactive";
        return 0;
}

static fake_job *job_new(fake_unit *u, bool start)
{
        fake_job *j = calloc(1, sizeof(fake_job));

        if (!j)
                return NULL;
        j->id = ++fake_job_id;
        j->unit = u;
        j->start = start;
        j->result = start ? u->start_result : u->stop_result;
        if (asprintf(&j->path, SD_PATH "/job/%u", j->id) < 0) {
                free(j);
                return NULL;
        }
        return j;
}

/* A JobRemoved for a job the client did not ask for: it must not end the client's wait. */
static int emit_decoy(sd_bus *bus)
{
        return emit_job_removed(bus, 9999, SD_PATH "/job/9999", "other.service", "done");
}

static fake_job **running_slot(const fake_unit *u, uint32_t id)
{
        for (size_t i = 0; i < ELEMENTSOF(fake_running); i++)
                if (fake_running[i] && (u ? fake_running[i]->unit == u : fake_running[i]->id == id))
                        return &fake_running[i];
        return NULL;
}

static int running_add(fake_job *j)
{
        for (size_t i = 0; i < ELEMENTSOF(fake_running); i++)
                if (!fake_running[i]) {
                        fake_running[i] = j;
                        return 0;
                }
        return -ENOSPC;
}

/* As systemd's job_finish_and_invalidate(JOB_CANCELED): JobRemoved with "canceled", sent before the
 * method's reply; the unit stays where the job left it ("deactivating") until its ExecStop ends. */
static int job_cancel(sd_bus_message *m, fake_job **slot)
{
        fake_job *j = *slot;

        *slot = NULL;
        j->result = "canceled";
        (void)job_emit_removed(sd_bus_message_get_bus(m), j);
        if (!j->unit->exec_stop_forever)
                (void)sd_event_add_time_relative(fake_event, NULL, CLOCK_MONOTONIC,
                                                 UF_EXEC_STOP_TAIL_MSEC * 1000ULL, 0, on_exec_stop_done,
                                                 j->unit);
        job_free(j);
        return sd_bus_reply_method_return(m, "");
}

/* org.freedesktop.systemd1.Job.Cancel on a job's object; a job that is gone has no object. */
static int method_job_cancel(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        fake_job **slot = running_slot(NULL, ((fake_job *)userdata)->id);

        return slot ? job_cancel(m, slot) : sd_bus_error_setf(error, SD_BUS_ERROR_UNKNOWN_OBJECT, "No job.");
}

static int job_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                           void **found, sd_bus_error *error)
{
        fake_job **slot;

        if (!startswith(path, SD_JOB_PREFIX))
                return 0;
        slot = running_slot(NULL, (uint32_t)strtoul(path + strlen(SD_JOB_PREFIX), NULL, 10));
        if (!slot)
                return 0;
        *found = *slot;
        return 1;
}

/* A stop that hangs: its job stays running (and known to Cancel); a start behind it never runs. */
static int job_hang(sd_bus_message *m, fake_job *j)
{
        int r = 0;

        if (!j->start) {
                j->unit->active = "deactivating";
                r = running_add(j);
        }
        if (r >= 0)
                r = sd_bus_reply_method_return(m, "o", j->path);
        if (j->start || r < 0)
                job_free(j);
        return r < 0 ? r : 1;
}

static int method_job(sd_bus_message *m, sd_bus_error *error, bool start)
{
        sd_bus *bus = sd_bus_message_get_bus(m);
        const char *name, *mode;
        fake_unit *u;
        fake_job *j;
        int r;

        r = sd_bus_message_read(m, "ss", &name, &mode);
        if (r < 0)
                return r;
        if (!streq(mode, "replace"))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "The fake wants mode replace.");
        u = unit_find(name);
        if (!u || streq(u->load, "not-found"))
                return sd_bus_error_setf(error, SD_NO_SUCH_UNIT, "Unit %s not found.", name);
        j = job_new(u, start);
        if (!j)
                return -ENOMEM;
        if (u->stop_hangs && (!start || running_slot(u, 0)))
                return job_hang(m, j);
        if (u->instant)
                (void)job_emit_removed(bus, j);
        r = sd_bus_reply_method_return(m, "o", j->path);
        if (u->instant || r < 0 || !j->result) {
                if (!j->result)
                        (void)emit_decoy(bus);
                job_free(j);
                return r;
        }
        r = sd_event_add_time_relative(fake_event, NULL, CLOCK_MONOTONIC, UF_JOB_DELAY_MSEC * 1000ULL, 0,
                                       on_job_timer, j);
        if (r < 0) {
                job_free(j);
                return r;
        }
        return 1; /* handled: sd-bus answers UnknownMethod to a handler that returns 0 */
}

static int method_start_unit(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        return method_job(m, error, true);
}

static int method_stop_unit(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        return method_job(m, error, false);
}

/* KillUnit(name, "control", SIGKILL), all the fake knows: a unit deactivating runs its ExecStop, which
 * ends, and systemd stops the rest of the unit (UF_JOB_DELAY_MSEC); any other unit has no control
 * process. */
static int method_kill_unit(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        const char *name, *whom;
        int32_t sig;
        fake_unit *u;
        int r;

        r = sd_bus_message_read(m, "ssi", &name, &whom, &sig);
        if (r < 0)
                return r;
        if (!streq(whom, "control") || sig != SIGKILL)
                return sd_bus_error_setf(
                        error, SD_BUS_ERROR_INVALID_ARGS,
                        "The fake kills control processes with SIGKILL only, not '%s' with %d.", whom,
                        (int)sig);
        u = unit_find(name);
        if (!u || streq(u->load, "not-found"))
                return sd_bus_error_setf(error, SD_NO_SUCH_UNIT, "Unit %s not found.", name);
        if (!streq(u->active, "deactivating"))
                return sd_bus_error_setf(error, SD_NO_SUCH_PROCESS, "No control process to kill");
        r = sd_event_add_time_relative(fake_event, NULL, CLOCK_MONOTONIC, UF_JOB_DELAY_MSEC * 1000ULL, 0,
                                       on_exec_stop_done, u);
        return r < 0 ? r : sd_bus_reply_method_return(m, "");
}

static int property_get(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        fake_unit *u = userdata;

        if (streq(property, "Id"))
                return sd_bus_message_append(reply, "s", u->id);
        if (streq(property, "ActiveState"))
                return sd_bus_message_append(reply, "s", u->active);
        return sd_bus_message_append(reply, "s", u->load);
}

static int unit_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                            void **found, sd_bus_error *error)
{
        _cleanup_free_ char *id = NULL;
        fake_unit *u;

        if (sd_bus_path_decode(path, SD_UNIT_PREFIX, &id) <= 0)
                return 0;
        u = unit_find(id);
        if (!u)
                return 0;
        *found = u;
        return 1;
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("GetUnit", "s", "o", method_get_unit, 0),
        SD_BUS_METHOD("LoadUnit", "s", "o", method_load_unit, 0),
        SD_BUS_METHOD("StartUnit", "ss", "o", method_start_unit, 0),
        SD_BUS_METHOD("StopUnit", "ss", "o", method_stop_unit, 0),
        SD_BUS_METHOD("KillUnit", "ssi", "", method_kill_unit, 0),
        SD_BUS_METHOD("Subscribe", "", "", method_subscribe, 0),
        SD_BUS_METHOD("Unsubscribe", "", "", method_unsubscribe, 0),
        SD_BUS_METHOD("FakeSubscribers", "", "u", method_subscribers, 0),
        SD_BUS_SIGNAL("JobRemoved", "uoss", 0),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable unit_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "s", property_get, 0, 0),
        SD_BUS_PROPERTY("ActiveState", "s", property_get, 0, 0),
        SD_BUS_PROPERTY("LoadState", "s", property_get, 0, 0),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable job_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Cancel", "", "", method_job_cancel, 0),
        SD_BUS_VTABLE_END,
};

static int objects_add(sd_bus *bus)
{
        int r = sd_bus_add_object_vtable(bus, NULL, SD_PATH, "org.freedesktop.systemd1.Manager",
                                         manager_vtable, NULL);

        if (r >= 0)
                r = sd_bus_add_fallback_vtable(bus, NULL, SD_UNIT_PREFIX, "org.freedesktop.systemd1.Unit",
                                               unit_vtable, unit_object_find, NULL);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(bus, NULL, SD_PATH "/job", "org.freedesktop.systemd1.Job",
                                               job_vtable, job_object_find, NULL);
        return r;
}

/* A client of the user manager's private socket: a bus of its own, we the server, as in systemd's
 * bus_on_connection(). */
static int on_direct_connection(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        sd_bus *bus = NULL;
        sd_id128_t id;
        int nfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), r;
        size_t i;

        if (nfd < 0)
                return 0;
        for (i = 0; i < ELEMENTSOF(fake_direct) && fake_direct[i]; i++)
                ;
        r = i < ELEMENTSOF(fake_direct) ? sd_bus_new(&bus) : -ENOSPC;
        if (r >= 0)
                r = sd_bus_set_fd(bus, nfd, nfd);
        if (r >= 0)
                r = sd_id128_randomize(&id);
        if (r >= 0)
                r = sd_bus_set_server(bus, 1, id);
        if (r >= 0)
                r = objects_add(bus);
        if (r >= 0)
                r = sd_bus_attach_event(bus, fake_event, 0);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0) {
                if (!bus)
                        close(nfd);
                sd_bus_flush_close_unref(bus);
                return 0;
        }
        fake_direct[i] = bus;
        return 0;
}

static int direct_listen(const char *path)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
                close(fd);
                return -errno;
        }
        return sd_event_add_io(fake_event, NULL, fd, EPOLLIN, on_direct_connection, NULL);
}

static int manager_serve(const char *address, const char *user_socket, int ready_fd)
{
        sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, address);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, 1);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r >= 0)
                r = objects_add(bus);
        if (r >= 0)
                r = sd_bus_request_name(bus, "org.freedesktop.systemd1", 0);
        if (r >= 0)
                r = sd_event_default(&fake_event);
        if (r >= 0)
                r = sd_bus_attach_event(bus, fake_event, 0);
        if (r >= 0)
                r = direct_listen(user_socket);
        if (r >= 0)
                r = sd_bus_set_exit_on_disconnect(bus, 1);
        if (r < 0)
                return r;
        fake_bus = bus;
        if (write(ready_fd, "R", 1) != 1)
                return -errno;
        close(ready_fd);
        return sd_event_loop(fake_event);
}

static bool have_dbus_daemon(void)
{
        const char *path = getenv("PATH");
        _cleanup_free_ char *copy = strdup(path && *path ? path : "/usr/bin:/bin");

        assert_non_null(copy);
        for (char *save = NULL, *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                _cleanup_free_ char *p = NULL;

                assert_true(asprintf(&p, "%s/dbus-daemon", d) > 0);
                if (access(p, X_OK) == 0)
                        return true;
        }
        return false;
}

static void write_config(const char *root, const char *socket)
{
        _cleanup_free_ char *conf = NULL;

        assert_true(asprintf(&conf,
                             "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration "
                             "1.0//EN\"\n"
                             " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                             "<busconfig>\n"
                             "  <listen>unix:path=%s</listen>\n"
                             "  <auth>EXTERNAL</auth>\n"
                             "  <policy context=\"default\">\n"
                             "    <allow user=\"*\"/>\n"
                             "    <allow own=\"*\"/>\n"
                             "    <allow send_destination=\"*\"/>\n"
                             "    <allow receive_sender=\"*\"/>\n"
                             "  </policy>\n"
                             "</busconfig>\n",
                             socket) > 0);
        pf_write(root, "/etc/gh-test-bus.conf", conf);
}

/* Reads what a child sends when ready, up to a generous limit. */
static void read_ready(int fd, char *buf, size_t size)
{
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t n;

        assert_int_equal(poll(&p, 1, 30 * 1000), 1);
        n = read(fd, buf, size - 1);
        assert_true(n > 0);
        buf[n] = 0;
}

static pid_t daemon_start(const char *root)
{
        _cleanup_free_ char *conf = pf_path(root, "/etc/gh-test-bus.conf"), *arg_conf = NULL, *arg_fd = NULL;
        char address[512];
        int p[2];
        pid_t pid;

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        assert_true(asprintf(&arg_conf, "--config-file=%s", conf) > 0);
        assert_true(asprintf(&arg_fd, "--print-address=%d", p[1]) > 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                /* Nothing outlives a test that crashed. */
                (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                (void)fcntl(p[1], F_SETFD, 0);
                execlp("dbus-daemon", "dbus-daemon", "--nofork", "--nopidfile", "--nosyslog", arg_conf,
                       arg_fd, (char *)NULL);
                _exit(127);
        }
        close(p[1]);
        read_ready(p[0], address, sizeof(address));
        close(p[0]);
        return pid;
}

static pid_t manager_start(const char *socket, const char *user_socket)
{
        _cleanup_free_ char *address = NULL;
        char buf[8];
        int p[2];
        pid_t pid;

        assert_true(asprintf(&address, "unix:path=%s", socket) > 0);
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                close(p[0]);
                _exit(manager_serve(address, user_socket, p[1]) < 0 ? 1 : 0);
        }
        close(p[1]);
        read_ready(p[0], buf, sizeof(buf));
        close(p[0]);
        assert_string_equal(buf, "R");
        return pid;
}

int uf_bus_start(const char *root, uf_bus *ret)
{
        _cleanup_free_ char *socket = pf_path(root, "/run/dbus/system_bus_socket");
        _cleanup_free_ char *user_socket = pf_path(root, "/run/user/" UF_USER_UID "/systemd/private");

        if (!have_dbus_daemon())
                return -ENOENT;
        pf_mkdir(root, "/run/dbus");
        write_config(root, socket);
        ret->daemon = daemon_start(root);
        pf_mkdir(root, "/run/user/" UF_USER_UID "/systemd");
        ret->manager = manager_start(socket, user_socket);
        return 0;
}

static void child_end(pid_t *pid)
{
        if (*pid <= 0)
                return;
        (void)kill(*pid, SIGTERM);
        (void)waitpid(*pid, NULL, 0);
        *pid = 0;
}

void uf_bus_stop(uf_bus *b)
{
        child_end(&b->manager);
        child_end(&b->daemon);
}

unsigned uf_bus_subscribers(const char *root)
{
        _cleanup_free_ char *socket = pf_path(root, "/run/dbus/system_bus_socket"), *address = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        uint32_t n = 0;

        assert_true(asprintf(&address, "unix:path=%s", socket) > 0);
        assert_true(sd_bus_new(&bus) >= 0);
        assert_true(sd_bus_set_address(bus, address) >= 0);
        assert_true(sd_bus_set_bus_client(bus, 1) >= 0);
        assert_true(sd_bus_start(bus) >= 0);
        assert_true(sd_bus_call_method(bus, "org.freedesktop.systemd1", SD_PATH,
                                       "org.freedesktop.systemd1.Manager", "FakeSubscribers", &error, &reply,
                                       "") >= 0);
        assert_true(sd_bus_message_read(reply, "u", &n) > 0);
        return n;
}
