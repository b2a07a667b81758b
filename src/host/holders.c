/* Who holds a GPU's device nodes, from ROOT/proc/PID/fd and maps, and who they are, from their cgroup and
 * exe; and ending them, SIGTERM then SIGKILL, through pidfds so that a recycled pid is never signalled. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <systemd/sd-login.h>

#include "core/identity.h"
#include "core/logind-copy.h"
#include "holders.h"
#include "procstat.h"
#include "shared/fileio.h"
#include "shared/strv.h"

#define DELETED_SUFFIX " (deleted)"

/* What a process is, read once per pid: its comm for messages, the rest to decide and to re-check. */
typedef struct ident {
        char *comm;
        char *cgroup;
        char *exe;
        uint64_t start_time;
} ident;

typedef struct holder_list {
        gh_holder *h;
        size_t n;
} holder_list;

typedef struct victim {
        pid_t pid;
        int pidfd;
        const gh_holder *h; /* for messages */
        bool gone;
} victim;

typedef struct victim_list {
        victim *v;
        size_t n;
} victim_list;

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir)

static void holder_list_done(holder_list *l)
{
        gh_holders_free(l->h, l->n);
        *l = (holder_list){};
}

static void ident_done(ident *id)
{
        free(id->comm);
        free(id->cgroup);
        free(id->exe);
        *id = (ident){};
}

static void victim_list_done(victim_list *l)
{
        for (size_t i = 0; i < l->n; i++)
                if (l->v[i].pidfd >= 0)
                        close(l->v[i].pidfd);
        free(l->v);
        *l = (victim_list){};
}

static bool root_is_host(const char *root)
{
        return !root || !*root || streq(root, "/");
}

/* Processes that vanish or hide while we look are not holders we can do anything about. */
static bool skippable(int r)
{
        return r == -ENOENT || r == -ESRCH || r == -EACCES || r == -EPERM;
}

static bool pid_name(const char *s)
{
        if (*s < '1' || *s > '9')
                return false;
        return strspn(s, "0123456789") == strlen(s) && strlen(s) < 11;
}

static bool node_eq(const char *node, const char *path, size_t len)
{
        return strlen(node) == len && memcmp(node, path, len) == 0;
}

/* A node unlinked while open (udev recreated it) reads "PATH (deleted)": the device is still held. */
static const char *node_match(char *const *nodes, const char *path)
{
        size_t len = strlen(path), sl = strlen(DELETED_SUFFIX);

        for (char *const *n = nodes; n && *n; n++)
                if (node_eq(*n, path, len))
                        return *n;
        if (len <= sl || !streq(path + len - sl, DELETED_SUFFIX))
                return NULL;
        for (char *const *n = nodes; n && *n; n++)
                if (node_eq(*n, path, len - sl))
                        return *n;
        return NULL;
}

static bool wants_dmabufs(char *const *nodes)
{
        for (char *const *n = nodes; n && *n; n++)
                if (startswith(*n, GH_DMABUF_PREFIX))
                        return true;
        return false;
}

/* The fdinfo of a dma-buf names its exporter ("exp_name:\tnv_dmabuf", dma_buf_show_fdinfo()); the entry
 * of nodes for it, NULL when none. */
static int dmabuf_match(const char *pid_dir, const char *fd, char *const *nodes, const char **ret)
{
        _cleanup_free_ char *path = NULL, *text = NULL, *want = NULL;
        char *save = NULL;
        int r;

        *ret = NULL;
        if (asprintf(&path, "%s/fdinfo/%s", pid_dir, fd) < 0)
                return -ENOMEM;
        r = read_full_file(path, 64 * 1024, &text, NULL);
        /* Closed meanwhile: not held. */
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                const char *v = l + strlen("exp_name:");

                if (!startswith(l, "exp_name:"))
                        continue;
                v += strspn(v, " \t");
                if (asprintf(&want, "%s%s", GH_DMABUF_PREFIX, v) < 0)
                        return -ENOMEM;
                *ret = node_match(nodes, want);
                return 0;
        }
        return 0;
}

static int scan_fds(const char *pid_dir, char *const *nodes, char ***held)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        bool dmabufs = wants_dmabufs(nodes);
        struct dirent *de;
        int r;

        if (asprintf(&path, "%s/fd", pid_dir) < 0)
                return -ENOMEM;
        d = opendir(path);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                char buf[PATH_MAX];
                const char *n;
                ssize_t k;

                if (de->d_name[0] == '.')
                        continue;
                /* Failing here means the fd was closed meanwhile. */
                k = readlinkat(dirfd(d), de->d_name, buf, sizeof(buf) - 1);
                if (k < 0)
                        continue;
                buf[k] = 0;
                n = node_match(nodes, buf);
                /* "/dmabuf:NAME": NAME is the buffer's own name, anyone's to set; its exporter is not. */
                if (!n && dmabufs && startswith(buf, "/dmabuf:") &&
                    (r = dmabuf_match(pid_dir, de->d_name, nodes, &n)) < 0)
                        return r;
                if (n && (r = strv_extend_unique(held, n)) < 0)
                        return r;
        }
        return 0;
}

/* "address perms offset dev inode pathname": the path is all after the fifth field, spaces included. */
static const char *maps_line_path(char *line)
{
        char *p = line;

        line[strcspn(line, "\n")] = 0;
        for (int i = 0; i < 5; i++) {
                p += strspn(p, " \t");
                p += strcspn(p, " \t");
        }
        p += strspn(p, " \t");
        return *p ? p : NULL;
}

static int scan_maps(const char *pid_dir, char *const *nodes, char ***held)
{
        _cleanup_free_ char *path = NULL, *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0;
        int r;

        if (asprintf(&path, "%s/maps", pid_dir) < 0)
                return -ENOMEM;
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (getline(&line, &size, f) > 0) {
                const char *p = maps_line_path(line), *n;

                n = p ? node_match(nodes, p) : NULL;
                if (n && (r = strv_extend_unique(held, n)) < 0)
                        return r;
        }
        return 0;
}

/* The nodes PID holds; *ret is NULL when none. */
static int pid_held_nodes(const char *proc, pid_t pid, char *const *nodes, char ***ret)
{
        _cleanup_free_ char *dir = NULL;
        _cleanup_strv_free_ char **held = NULL;
        int r;

        if (asprintf(&dir, "%s/%d", proc, (int)pid) < 0)
                return -ENOMEM;
        r = scan_fds(dir, nodes, &held);
        if (r < 0 && r != -EACCES)
                return r;
        r = scan_maps(dir, nodes, &held);
        if (r < 0 && r != -EACCES)
                return r;
        *ret = TAKE_PTR(held);
        return 0;
}

static void holder_fill_login(gh_holder *h)
{
        char *unit = NULL, *session = NULL, *type = NULL, *class = NULL;
        uid_t uid;

        if (sd_pid_get_unit(h->pid, &unit) >= 0 || sd_pid_get_user_unit(h->pid, &unit) >= 0)
                h->unit = unit;
        /* The user of its session or of the user manager it runs under: whose manager stops its unit. */
        if (sd_pid_get_owner_uid(h->pid, &uid) >= 0) {
                h->has_uid = true;
                h->uid = (uint32_t)uid;
        }
        if (sd_pid_get_session(h->pid, &session) < 0)
                return;
        h->session = session;
        if (sd_session_get_type(session, &type) >= 0)
                h->session_type = type;
        if (sd_session_get_class(session, &class) >= 0)
                h->session_class = class;
}

/* The cgroup v2 path ("0::/…"), or v1's name=systemd hierarchy; NULL when there is neither. */
static int read_cgroup(const char *pid_dir, char **ret)
{
        _cleanup_free_ char *path = NULL, *text = NULL, *v1 = NULL;
        char *save = NULL;
        int r;

        if (asprintf(&path, "%s/cgroup", pid_dir) < 0)
                return -ENOMEM;
        r = read_full_file(path, 64 * 1024, &text, NULL);
        if (r < 0)
                return r;
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                if (startswith(l, "0::/"))
                        return (*ret = strdup(l + 3)) ? 0 : -ENOMEM;
                if (!v1 && strstr(l, ":name=systemd:/") && !(v1 = strdup(strstr(l, ":/") + 1)))
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(v1);
        return 0;
}

/* Kernel threads have no exe, and another user's is hidden unless we are root: NULL then. */
static int read_exe(const char *pid_dir, char **ret)
{
        _cleanup_free_ char *path = NULL;
        char buf[PATH_MAX];
        ssize_t k;

        if (asprintf(&path, "%s/exe", pid_dir) < 0)
                return -ENOMEM;
        k = readlink(path, buf, sizeof(buf) - 1);
        if (k < 0)
                return errno == ENOENT || errno == EACCES || errno == EPERM ? 0 : -errno;
        buf[k] = 0;
        return (*ret = strdup(buf)) ? 0 : -ENOMEM;
}

static int read_ident(const char *proc, pid_t pid, ident *ret)
{
        _cleanup_(ident_done) ident id = {};
        _cleanup_free_ char *dir = NULL, *path = NULL;
        int r;

        if (asprintf(&dir, "%s/%d", proc, (int)pid) < 0 || asprintf(&path, "%s/comm", dir) < 0)
                return -ENOMEM;
        r = read_one_line_file(path, &id.comm);
        if (r < 0)
                return r;
        /* Unknown parts stay NULL or 0: an unknown start time is never signalled, see victims_add(). */
        if ((r = read_cgroup(dir, &id.cgroup)) < 0 && r != -ENOENT)
                return r;
        if ((r = read_exe(dir, &id.exe)) < 0)
                return r;
        if ((r = gh_proc_stat(proc, pid, NULL, &id.start_time)) < 0 && r != -ENOENT)
                return r;
        *ret = id;
        id = (ident){};
        return 0;
}

static int strdup_or_null(const char *s, char **ret)
{
        *ret = s ? strdup(s) : NULL;
        return s && !*ret ? -ENOMEM : 0;
}

/* The PCI function an i2c adapter belongs to: the last address on its sysfs path (…/0000:01:00.0/i2c-5,
 * …/0000:01:00.0/drm/card1/card1-DP-1/i2c-7). -ENOENT when none. */
static int i2c_adapter_function(const char *root, const char *adapter, gh_pci_addr *ret)
{
        _cleanup_free_ char *dir = path_join(root, "/sys/bus/i2c/devices"), *link = NULL, *real = NULL;
        char *save = NULL;
        bool found = false;
        gh_pci_addr a;

        if (!dir || asprintf(&link, "%s/%s", dir, adapter) < 0)
                return -ENOMEM;
        real = realpath(link, NULL);
        if (!real)
                return errno == ENOMEM ? -ENOMEM : -ENOENT;
        for (char *c = strtok_r(real, "/", &save); c; c = strtok_r(NULL, "/", &save))
                if (gh_pci_addr_parse(c, &a) >= 0) {
                        *ret = a;
                        found = true;
                }
        return found ? 0 : -ENOENT;
}

/* How messages name what is held: "/dev/i2c-5 (DDC of 0000:01:00.0)", "a dma-buf exported by drm". NULL
 * when the node says it all. */
static int held_what(const char *root, const char *node, char **ret)
{
        gh_pci_addr a;
        int r;

        *ret = NULL;
        if (startswith(node, GH_DMABUF_PREFIX))
                return asprintf(ret, "a dma-buf exported by %s", node + strlen(GH_DMABUF_PREFIX)) < 0
                               ? -ENOMEM
                               : 0;
        if (!startswith(node, "/dev/i2c-"))
                return 0;
        r = i2c_adapter_function(root, node + strlen("/dev/"), &a);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        return asprintf(ret, "%s (DDC of %s)", node, GH_PCI_ADDR_STR(&a)) < 0 ? -ENOMEM : 0;
}

static int holder_init(gh_holder *h, pid_t pid, const ident *id, const char *node, const char *root)
{
        bool host = root_is_host(root);
        int r;

        *h = (gh_holder){.pid = pid, .start_time = id->start_time};
        if ((r = held_what(root, node, &h->what)) < 0)
                return r;
        if ((r = strdup_or_null(id->comm, &h->comm)) < 0 || (r = strdup_or_null(node, &h->node)) < 0 ||
            (r = strdup_or_null(id->cgroup, &h->cgroup)) < 0 || (r = strdup_or_null(id->exe, &h->exe)) < 0)
                return r;
        if (host)
                holder_fill_login(h);
        /* Under a fake root, or when sd-login does not know it: the unit its cgroup names. */
        if (!h->unit && (r = gh_cgroup_unit(h->cgroup, &h->unit)) < 0 && r != -ENXIO)
                return r;
        return 0;
}

static int holders_append(holder_list *l, pid_t pid, const ident *id, const char *node, const char *root)
{
        gh_holder *m = realloc(l->h, (l->n + 1) * sizeof(gh_holder));
        int r;

        if (!m)
                return -ENOMEM;
        l->h = m;
        r = holder_init(&m[l->n], pid, id, node, root);
        if (r < 0) {
                gh_holder_done(&m[l->n]);
                return r;
        }
        l->n++;
        return 0;
}

static int scan_pid(const char *root, const char *proc, pid_t pid, char *const *nodes, holder_list *l)
{
        _cleanup_strv_free_ char **held = NULL;
        _cleanup_(ident_done) ident id = {};
        int r;

        r = pid_held_nodes(proc, pid, nodes, &held);
        if (r < 0 || !held)
                return r;
        r = read_ident(proc, pid, &id);
        if (r < 0)
                return r;
        for (char **n = held; *n; n++) {
                r = holders_append(l, pid, &id, *n, root);
                if (r < 0)
                        return r;
        }
        return 0;
}

int gh_holders_scan(const char *root, char *const *nodes, gh_holder **ret, size_t *ret_n)
{
        _cleanup_(holder_list_done) holder_list l = {};
        _cleanup_free_ char *proc = path_join(root, "/proc");
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int r;

        if (!proc)
                return -ENOMEM;
        if (strv_length(nodes) == 0) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        d = opendir(proc);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                if (!pid_name(de->d_name))
                        continue;
                r = scan_pid(root, proc, (pid_t)atoi(de->d_name), nodes, &l);
                if (r < 0 && !skippable(r))
                        return r;
        }
        *ret = TAKE_PTR(l.h);
        *ret_n = l.n;
        l.n = 0;
        return 0;
}

void gh_holders_free(gh_holder *h, size_t n)
{
        for (size_t i = 0; h && i < n; i++)
                gh_holder_done(&h[i]);
        free(h);
}

bool gh_holder_is_protected(const gh_holder *h)
{
        return gh_holder_guard(h, getpid(), getppid()) != GH_GUARD_NONE;
}

/* "pid 4242 (bash) holds /dev/dri/renderD128 and is protected: VM 'other', unit machine-…scope; …" */
static int protected_error(gh_error *err, const gh_holder *h)
{
        _cleanup_free_ char *why = NULL;
        int r;

        r = gh_holder_guard_describe(h, gh_holder_guard(h, getpid(), getppid()), &why);
        if (r < 0)
                return gh_error_set(err, r, "pid %d (%s) holds %s and is protected: not ending any holder",
                                    (int)h->pid, strempty(h->comm), gh_holder_what(h));
        return gh_error_set(err, -EBUSY, "pid %d (%s) holds %s and is protected: %s; not ending any holder",
                            (int)h->pid, strempty(h->comm), gh_holder_what(h), strempty(why));
}

/* "pid 1234 (gnome-shell) holds /dev/dri/card0; ..." for holders, or for victims not gone. */
static int holders_error(gh_error *err, int r, const char *what, const holder_list *l, const victim_list *v)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0, k = 0;
        FILE *f = open_memstream(&text, &len);

        if (!f)
                return gh_error_set(err, r, "%s", what);
        fputs(what, f);
        for (size_t i = 0; l && i < l->n; i++, k++)
                fprintf(f, "%spid %d (%s) holds %s", k ? "; " : ": ", (int)l->h[i].pid, l->h[i].comm,
                        gh_holder_what(&l->h[i]));
        for (size_t i = 0; v && i < v->n; i++)
                if (!v->v[i].gone)
                        fprintf(f, "%spid %d (%s) holds %s", k++ ? "; " : ": ", (int)v->v[i].pid,
                                v->v[i].h->comm, gh_holder_what(v->v[i].h));
        if (fclose(f) != 0)
                return gh_error_set(err, r, "%s", what);
        return gh_error_set(err, r, "%s", text);
}

/* Signals may only go to processes of this system: a fake root's pids are someone else's. */
static bool proc_is_ours(const char *root)
{
        _cleanup_free_ char *self = path_join(root, "/proc/self"), *link = NULL;
        char buf[32];

        if (!self || readlink_basename(self, &link) < 0)
                return false;
        snprintf(buf, sizeof(buf), "%d", (int)getpid());
        return streq(link, buf);
}

/* Whether pidfd's process is the one the scan saw: the same start time, read while the pidfd still
 * names a live process (it turns readable at exit), so the read was of that process and no other. */
static bool pidfd_is_scanned(int pidfd, const gh_holder *h, const ident *now)
{
        struct pollfd p = {.fd = pidfd, .events = POLLIN};

        if (h->start_time == 0 || now->start_time != h->start_time)
                return false;
        return poll(&p, 1, 0) == 0;
}

/* The same process may have exec()ed or moved since the scan: judged again on what it is now. */
static int recheck_protected(const gh_holder *h, const ident *now, gh_error *err)
{
        gh_holder cur = {.pid = h->pid,
                         .comm = now->comm,
                         .node = h->node,
                         .what = h->what,
                         .cgroup = now->cgroup,
                         .exe = now->exe};

        return gh_holder_is_protected(&cur) ? protected_error(err, &cur) : 0;
}

static int victims_push(victim_list *vl, int *pidfd, const gh_holder *h)
{
        victim *m = realloc(vl->v, (vl->n + 1) * sizeof(victim));

        if (!m)
                return -ENOMEM;
        vl->v = m;
        m[vl->n++] = (victim){.pid = h->pid, .pidfd = TAKE_FD(*pidfd), .h = h};
        return 0;
}

/* Opens h's pidfd and keeps it when it is the scanned process, still holding a node; skips it when it is
 * gone (its pid may have been recycled since the scan: then it is another process and is left alone). */
static int victims_add(victim_list *vl, const char *proc, char *const *nodes, const gh_holder *h,
                       gh_error *err)
{
        _cleanup_strv_free_ char **held = NULL;
        _cleanup_(ident_done) ident now = {};
        _cleanup_close_ int fd = -1;
        int r;

        for (size_t i = 0; i < vl->n; i++)
                if (vl->v[i].pid == h->pid)
                        return 0;
        fd = pidfd_open(h->pid, 0);
        r = fd < 0 ? -errno : 0;
        if (r == -ESRCH)
                return 0;
        if (r < 0)
                return gh_error_set(err, r, "cannot open a pidfd for pid %d (%s): %s", (int)h->pid,
                                    strempty(h->comm), strerror(-r));
        r = read_ident(proc, h->pid, &now);
        if (r >= 0 && pidfd_is_scanned(fd, h, &now))
                r = pid_held_nodes(proc, h->pid, nodes, &held);
        if (r < 0 && !skippable(r))
                return gh_error_set(err, r, "cannot read what pid %d (%s) is now: %s", (int)h->pid,
                                    strempty(h->comm), strerror(-r));
        if (r < 0 || !held)
                return 0;
        r = recheck_protected(h, &now, err);
        if (r < 0)
                return r;
        r = victims_push(vl, &fd, h);
        return r < 0 ? gh_error_set(err, r, "cannot watch pid %d (%s): %s", (int)h->pid, strempty(h->comm),
                                    strerror(-r))
                     : 0;
}

static int signal_all(victim_list *vl, int sig)
{
        for (size_t i = 0; i < vl->n; i++) {
                victim *v = &vl->v[i];

                if (v->gone || pidfd_send_signal(v->pidfd, sig, NULL, 0) >= 0)
                        continue;
                if (errno != ESRCH)
                        return -errno;
                v->gone = true;
        }
        return 0;
}

static int poll_timeout(usec_t deadline)
{
        usec_t left = deadline_left(deadline), ms;

        if (left == USEC_INFINITY)
                return -1;
        ms = (left + USEC_PER_MSEC - 1) / USEC_PER_MSEC;
        return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* A pidfd turns readable when the process has exited, zombie or reaped: gone either way. */
static int wait_gone(victim_list *vl, usec_t deadline)
{
        _cleanup_free_ struct pollfd *p = calloc(vl->n ? vl->n : 1, sizeof(struct pollfd));
        _cleanup_free_ size_t *idx = calloc(vl->n ? vl->n : 1, sizeof(size_t));

        if (!p || !idx)
                return -ENOMEM;
        for (;;) {
                size_t k = 0;

                for (size_t i = 0; i < vl->n; i++)
                        if (!vl->v[i].gone) {
                                p[k] = (struct pollfd){.fd = vl->v[i].pidfd, .events = POLLIN};
                                idx[k++] = i;
                        }
                if (k == 0)
                        return 0;
                if (deadline_passed(deadline))
                        return -ETIMEDOUT;
                if (poll(p, k, poll_timeout(deadline)) < 0 && errno != EINTR)
                        return -errno;
                for (size_t j = 0; j < k; j++)
                        if (p[j].revents & (POLLIN | POLLHUP | POLLERR))
                                vl->v[idx[j]].gone = true;
        }
}

static int terminate(victim_list *vl, usec_t grace, usec_t deadline, gh_error *err)
{
        usec_t grace_end = deadline_after(grace);
        int r;

        r = signal_all(vl, SIGTERM);
        if (r < 0)
                return gh_error_set(err, r, "cannot send SIGTERM to the holders: %s", strerror(-r));
        r = wait_gone(vl, grace_end < deadline ? grace_end : deadline);
        if (r == 0)
                return 0;
        if (r != -ETIMEDOUT)
                return gh_error_set(err, r, "cannot wait for the holders to exit: %s", strerror(-r));
        r = signal_all(vl, SIGKILL);
        if (r < 0)
                return gh_error_set(err, r, "cannot send SIGKILL to the holders: %s", strerror(-r));
        r = wait_gone(vl, deadline);
        if (r == -ETIMEDOUT)
                return holders_error(err, r, "holders still running at the deadline after SIGKILL", NULL,
                                     vl);
        if (r < 0)
                return gh_error_set(err, r, "cannot wait for the holders to exit: %s", strerror(-r));
        return 0;
}

int gh_holders_terminate(const char *root, char *const *nodes, const gh_holder *h, size_t n, usec_t grace,
                         usec_t deadline, gh_error *err)
{
        _cleanup_(victim_list_done) victim_list vl = {};
        _cleanup_free_ char *proc = path_join(root, "/proc");
        int r;

        if (!proc)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (gh_holder_is_protected(&h[i]))
                        return protected_error(err, &h[i]);
        if (!proc_is_ours(root))
                return gh_error_set(err, -EOPNOTSUPP,
                                    "cannot signal holders found under '%s': not this system's /proc", proc);
        for (size_t i = 0; i < n; i++)
                if ((r = victims_add(&vl, proc, nodes, &h[i], err)) < 0)
                        return r;
        return terminate(&vl, grace, deadline, err);
}

/* logind's and PID 1's copies of a session's device are neither ended nor refused: they go when the
 * session does, and a WAIT_RELEASED step waits for that. */
static void drop_logind_copies(holder_list *l)
{
        size_t k = 0;

        for (size_t i = 0; i < l->n; i++) {
                if (gh_holder_is_logind_copy(&l->h[i]))
                        gh_holder_done(&l->h[i]);
                else
                        l->h[k++] = l->h[i];
        }
        l->n = k;
}

static int scan_or_error(const char *root, const char *proc, char *const *nodes, holder_list *l,
                         gh_error *err)
{
        int r;

        r = gh_holders_scan(root, nodes, &l->h, &l->n);
        if (r < 0)
                return gh_error_set(err, r, "cannot scan '%s' for holders of the device nodes: %s", proc,
                                    strerror(-r));
        drop_logind_copies(l);
        return 0;
}

int gh_holders_end(const char *root, char *const *nodes, gh_holders_mode mode, usec_t grace, usec_t deadline,
                   gh_error *err)
{
        _cleanup_(holder_list_done) holder_list l = {}, again = {};
        _cleanup_free_ char *proc = path_join(root, "/proc");
        int r;

        if (!proc)
                return -ENOMEM;
        if (mode != GH_HOLDERS_FAIL && mode != GH_HOLDERS_TERMINATE)
                return gh_error_set(err, -EINVAL, "unknown holders mode %d", (int)mode);
        r = scan_or_error(root, proc, nodes, &l, err);
        if (r < 0 || l.n == 0)
                return r;
        if (mode == GH_HOLDERS_FAIL)
                return holders_error(err, -EBUSY, "device nodes in use", &l, NULL);
        r = gh_holders_terminate(root, nodes, l.h, l.n, grace, deadline, err);
        if (r < 0)
                return r;
        /* Someone may have opened a node meanwhile (a restarted service): then it is still busy. */
        r = scan_or_error(root, proc, nodes, &again, err);
        if (r < 0 || again.n == 0)
                return r;
        return holders_error(err, -EBUSY, "device nodes in use again after ending their holders", &again,
                             NULL);
}
