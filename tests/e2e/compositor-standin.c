/* A compositor stand-in for the e2e guest: it takes a DRM card from logind the way GNOME Shell 46 and later
 * does when it runs as a service of the user's manager (org.gnome.Shell@wayland.service), which puts it in
 * no login session of its own (systemd issue 12399). What it mirrors:
 * - mutter's launcher (src/backends/native/meta-launcher.c) does not look for the session by its own pid
 *   (sd_pid_get_session(), logind's GetSessionByPID: a user unit's process has none) but takes the user's
 *   display session, the one logind elects among the user's sessions (graphical ones first, then a TTY
 *   one). This asks logind the same over D-Bus: Manager.GetUser(uid), then the User's Display; when the
 *   user has none, seat0's ActiveSession if it is the user's. The session must be on seat0.
 * - It becomes the session's controller, Session.TakeControl(false) (refused while another process has
 *   control), and asks for the card, Session.TakeDevice(major, minor). logind (systemd's
 *   src/login/logind-session-device.c) opens the node itself, makes it DRM master while the session is
 *   active, hands out an fd of that same open file and keeps its own, plus a copy in PID 1's fd store
 *   (FDSTORE=1, FDNAME=session-ID-device-MAJ-MIN).
 * - PauseDevice(major, minor, type) comes when the session goes inactive: "pause" waits for the
 *   controller's PauseDeviceComplete before logind drops master, "force" has already dropped it, "gone"
 *   means the device was removed (its fd is closed). ResumeDevice(major, minor, fd) gives it back.
 * - logind closes its copies when the controller calls ReleaseControl, or when the controller's bus
 *   connection goes away; so the stand-in keeps its connection open as long as it holds the card.
 * What it leaves out: it draws nothing, opens no input device and never sets a mode.
 *
 * Usage: gh-compositor-standin CARD (a /dev/dri/cardN). Prints a line once it holds CARD; stays until
 * SIGTERM or SIGINT, then releases control and exits 0. Any failure before that exits 1. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#define LOGIND "org.freedesktop.login1"
#define LOGIND_PATH "/org/freedesktop/login1"
#define LOGIND_MANAGER LOGIND ".Manager"
#define LOGIND_USER LOGIND ".User"
#define LOGIND_SEAT LOGIND ".Seat"
#define LOGIND_SESSION LOGIND ".Session"
#define SEAT "seat0"
#define SEAT_PATH LOGIND_PATH "/seat/" SEAT

#define _cleanup_(f) __attribute__((cleanup(f)))

typedef struct standin {
        sd_bus *bus;
        char *session; /* the session's object path */
        char *card;
        unsigned major, minor;
        int fd;
} standin;

static void freep(void *p)
{
        free(*(void **)p);
}

static int say_error(const char *what, int r, const sd_bus_error *e)
{
        fprintf(stderr, "gh-compositor-standin: %s: %s\n", what,
                e && sd_bus_error_is_set(e) ? e->message : strerror(-r));
        return r;
}

/* A property of type (so) (a session or seat and its object): the object's path, copied. */
static int get_object_path(sd_bus *bus, const char *path, const char *iface, const char *prop, char **ret)
{
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        const char *id, *obj;
        int r;

        r = sd_bus_get_property(bus, LOGIND, path, iface, prop, &e, &m, "(so)");
        if (r < 0)
                return say_error(prop, r, &e);
        r = sd_bus_message_read(m, "(so)", &id, &obj);
        if (r < 0)
                return say_error(prop, r, NULL);
        *ret = strdup(obj);
        return *ret ? 0 : -ENOMEM;
}

static int get_pair_first(sd_bus *bus, const char *path, const char *iface, const char *prop, char **ret_str,
                          uint32_t *ret_u)
{
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        const char *s, *o;
        int r;

        r = sd_bus_get_property(bus, LOGIND, path, iface, prop, &e, &m, ret_str ? "(so)" : "(uo)");
        if (r < 0)
                return say_error(prop, r, &e);
        if (!ret_str)
                return sd_bus_message_read(m, "(uo)", ret_u, &o);
        r = sd_bus_message_read(m, "(so)", &s, &o);
        if (r < 0)
                return r;
        *ret_str = strdup(s);
        return *ret_str ? 0 : -ENOMEM;
}

/* Whether the session at path is this user's and on seat0. */
static bool session_is_ours(sd_bus *bus, const char *path)
{
        _cleanup_(freep) char *seat = NULL;
        uint32_t uid;

        if (!path || strcmp(path, "/") == 0)
                return false;
        if (get_pair_first(bus, path, LOGIND_SESSION, "Seat", &seat, NULL) < 0 ||
            get_pair_first(bus, path, LOGIND_SESSION, "User", NULL, &uid) < 0)
                return false;
        return strcmp(seat, SEAT) == 0 && uid == getuid();
}

/* Manager.GetUser(uid): the user's object; its Display is the session logind elected for it. */
static int user_display(sd_bus *bus, char **ret)
{
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        const char *user;
        int r;

        r = sd_bus_call_method(bus, LOGIND, LOGIND_PATH, LOGIND_MANAGER, "GetUser", &e, &m, "u",
                               (uint32_t)getuid());
        if (r < 0)
                return say_error("GetUser", r, &e);
        r = sd_bus_message_read(m, "o", &user);
        if (r < 0)
                return r;
        return get_object_path(bus, user, LOGIND_USER, "Display", ret);
}

static int find_session(standin *s)
{
        char *path = NULL;

        if (user_display(s->bus, &path) >= 0 && session_is_ours(s->bus, path)) {
                s->session = path;
                return 0;
        }
        free(path);
        path = NULL;
        if (get_object_path(s->bus, SEAT_PATH, LOGIND_SEAT, "ActiveSession", &path) >= 0 &&
            session_is_ours(s->bus, path)) {
                s->session = path;
                return 0;
        }
        free(path);
        fprintf(stderr, "gh-compositor-standin: user %u has no session on %s\n", (unsigned)getuid(), SEAT);
        return -ENXIO;
}

static int session_call(standin *s, const char *method, sd_bus_message **reply, const char *sig, ...)
{
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(s->bus, &m, LOGIND, s->session, LOGIND_SESSION, method);
        if (r < 0)
                return say_error(method, r, NULL);
        va_start(ap, sig);
        r = sd_bus_message_appendv(m, sig, ap);
        va_end(ap);
        if (r < 0)
                return say_error(method, r, NULL);
        r = sd_bus_call(s->bus, m, 0, &e, reply);
        return r < 0 ? say_error(method, r, &e) : 0;
}

/* TakeDevice: logind's fd belongs to the reply; keep a copy of it. */
static int take_card(standin *s)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        struct stat st;
        int fd, inactive, r;

        if (stat(s->card, &st) < 0 || !S_ISCHR(st.st_mode))
                return say_error(s->card, errno ? -errno : -ENOTTY, NULL);
        s->major = major(st.st_rdev);
        s->minor = minor(st.st_rdev);
        r = session_call(s, "TakeDevice", &m, "uu", s->major, s->minor);
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "hb", &fd, &inactive);
        if (r < 0)
                return say_error("TakeDevice's reply", r, NULL);
        s->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (s->fd < 0)
                return say_error("dup", -errno, NULL);
        printf("gh-compositor-standin: controller of %s, took %s (%u:%u) as fd %d%s\n", s->session, s->card,
               s->major, s->minor, s->fd, inactive ? ", session inactive" : "");
        fflush(stdout);
        return 0;
}

static bool is_our_device(sd_bus_message *m, standin *s, unsigned *maj, unsigned *min)
{
        return sd_bus_message_read(m, "uu", maj, min) >= 0 && *maj == s->major && *min == s->minor;
}

static int on_pause(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
        standin *s = userdata;
        const char *type;
        unsigned maj, min;

        if (!is_our_device(m, s, &maj, &min) || sd_bus_message_read(m, "s", &type) < 0)
                return 0;
        printf("gh-compositor-standin: PauseDevice %u:%u %s\n", maj, min, type);
        fflush(stdout);
        if (strcmp(type, "pause") == 0)
                return sd_bus_call_method_async(s->bus, NULL, LOGIND, s->session, LOGIND_SESSION,
                                                "PauseDeviceComplete", NULL, NULL, "uu", maj, min);
        if (strcmp(type, "gone") == 0 && s->fd >= 0) {
                close(s->fd);
                s->fd = -1;
        }
        return 0;
}

static int on_resume(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
        standin *s = userdata;
        unsigned maj, min;
        int fd;

        if (!is_our_device(m, s, &maj, &min) || sd_bus_message_read(m, "h", &fd) < 0)
                return 0;
        fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return 0;
        if (s->fd >= 0)
                close(s->fd);
        s->fd = fd;
        printf("gh-compositor-standin: ResumeDevice %u:%u as fd %d\n", maj, min, fd);
        fflush(stdout);
        return 0;
}

/* ReleaseControl releases the devices too: logind closes its copies. Called before the loop ends: the loop's
 * end closes the bus connection attached to it. */
static int on_exit_signal(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata)
{
        standin *s = userdata;

        if (session_call(s, "ReleaseControl", NULL, "") >= 0)
                printf("gh-compositor-standin: released control of %s\n", s->session);
        fflush(stdout);
        return sd_event_exit(sd_event_source_get_event(src), 0);
}

static int watch(standin *s, sd_event *ev)
{
        static const int sigs[] = {SIGTERM, SIGINT};
        sigset_t set;
        int r;

        sigemptyset(&set);
        for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
                sigaddset(&set, sigs[i]);
        if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
                return -errno;
        for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
                if ((r = sd_event_add_signal(ev, NULL, sigs[i], on_exit_signal, s)) < 0)
                        return r;
        r = sd_bus_match_signal(s->bus, NULL, LOGIND, s->session, LOGIND_SESSION, "PauseDevice", on_pause,
                                s);
        if (r >= 0)
                r = sd_bus_match_signal(s->bus, NULL, LOGIND, s->session, LOGIND_SESSION, "ResumeDevice",
                                        on_resume, s);
        if (r >= 0)
                r = sd_bus_attach_event(s->bus, ev, SD_EVENT_PRIORITY_NORMAL);
        return r;
}

static int run(standin *s)
{
        _cleanup_(sd_event_unrefp) sd_event *ev = NULL;
        int r;

        if ((r = sd_bus_open_system(&s->bus)) < 0)
                return say_error("system bus", r, NULL);
        if ((r = sd_event_new(&ev)) < 0 || (r = find_session(s)) < 0)
                return r;
        /* Signals first: a SIGTERM right after TakeControl must still release it. */
        if ((r = watch(s, ev)) < 0)
                return say_error("event loop", r, NULL);
        if ((r = session_call(s, "TakeControl", NULL, "b", 0)) < 0)
                return r;
        r = take_card(s);
        if (r < 0) {
                session_call(s, "ReleaseControl", NULL, "");
                return r;
        }
        return sd_event_loop(ev);
}

int main(int argc, char **argv)
{
        standin s = {.fd = -1};
        int r;

        if (argc != 2 || strncmp(argv[1], "/dev/dri/card", strlen("/dev/dri/card")) != 0) {
                fprintf(stderr, "usage: %s /dev/dri/cardN\n", argv[0]);
                return 2;
        }
        s.card = argv[1];
        r = run(&s);
        if (s.fd >= 0)
                close(s.fd);
        sd_bus_flush_close_unref(s.bus);
        free(s.session);
        return r < 0 ? 1 : 0;
}
