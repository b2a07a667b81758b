/* The stuck list file: read whole, changed by rewriting it whole under the run dir's flock. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "procstat.h"
#include "rundir.h"
#include "shared/fileio.h"
#include "shared/time-util.h"
#include "stucklist.h"

#define STUCK_NAME "stuck"
#define STUCK_MAX ((size_t)64 * 1024)
#define STUCK_LOCK_TIMEOUT (2 * USEC_PER_SEC)

typedef struct stuck_list {
        gh_stuck *v;
        size_t n;
} stuck_list;

static void stuck_list_done(stuck_list *l)
{
        free(l->v);
        *l = (stuck_list){};
}

static int list_push(stuck_list *l, const gh_stuck *s)
{
        gh_stuck *v = reallocarray(l->v, l->n + 1, sizeof(*v));

        if (!v)
                return -ENOMEM;
        l->v = v;
        l->v[l->n++] = *s;
        return 0;
}

static int parse_text(char *text, const char *shown, stuck_list *l, gh_error *err)
{
        char *save = NULL;
        unsigned lineno = 0;

        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                gh_stuck s;
                int r;

                lineno++;
                if (gh_stuck_parse(line, &s) < 0)
                        return gh_error_set(err, -EBADMSG, "%s:%u: not a stuck-function entry; refused", shown,
                                            lineno);
                r = list_push(l, &s);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Reads the list below dir_fd; none when there is no file. */
static int read_at(int dir_fd, const char *shown, uid_t owner, stuck_list *l, gh_error *err)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r;

        r = gh_rundir_open_file(dir_fd, STUCK_NAME, shown, owner, O_RDONLY, false, &fd, err);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        r = read_full_fd(fd, STUCK_MAX, &text, &len);
        if (r < 0)
                return gh_error_set(err, r, "cannot read '%s': %s", shown, strerror(-r));
        if (strlen(text) != len)
                return gh_error_set(err, -EBADMSG, "'%s' contains a NUL byte; refused", shown);
        return parse_text(text, shown, l, err);
}

static int paths(const char *root, char **ret_dir, char **ret_shown)
{
        *ret_dir = path_join(root, GH_RUN_DIR);
        if (!*ret_dir || asprintf(ret_shown, "%s/" STUCK_NAME, *ret_dir) < 0)
                return -ENOMEM;
        return 0;
}

int gh_stucklist_read(const char *root, uid_t owner, gh_stuck **ret, size_t *ret_n, gh_error *err)
{
        _cleanup_free_ char *dir = NULL, *shown = NULL;
        _cleanup_close_ int dir_fd = -1;
        _cleanup_(stuck_list_done) stuck_list l = {};
        int r;

        r = paths(root, &dir, &shown);
        if (r < 0)
                return r;
        r = gh_rundir_open(dir, owner, false, &dir_fd, err);
        if (r == -ENOENT)
                r = 0;
        else if (r >= 0)
                r = read_at(dir_fd, shown, owner, &l, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l.v);
        *ret_n = l.n;
        return 0;
}

int gh_stucklist_find(const char *root, uid_t owner, const char *addr, gh_stuck *ret, gh_error *err)
{
        _cleanup_free_ gh_stuck *v = NULL;
        size_t n = 0;
        int r = gh_stucklist_read(root, owner, &v, &n, err);

        if (r < 0)
                return 0;
        for (size_t i = 0; i < n; i++)
                if (streq(v[i].addr, addr)) {
                        *ret = v[i];
                        return 1;
                }
        return 0;
}

static int write_at(int dir_fd, const char *shown, const stuck_list *l, gh_error *err)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        FILE *f;

        if (l->n == 0)
                return unlinkat(dir_fd, STUCK_NAME, 0) < 0 && errno != ENOENT
                               ? gh_error_set(err, -errno, "cannot remove '%s': %s", shown, strerror(errno))
                               : 0;
        f = open_memstream(&text, &len);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < l->n; i++) {
                _cleanup_free_ char *line = NULL;
                int r = gh_stuck_format(&l->v[i], &line);

                if (r < 0) {
                        fclose(f);
                        return gh_error_set(err, r, "cannot record %s as stuck: %s", l->v[i].addr, strerror(-r));
                }
                fprintf(f, "%s\n", line);
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        return gh_rundir_replace_file(dir_fd, STUCK_NAME, shown, text, err);
}

/* Another of us holds it for a rewrite of a few lines; one stopped while holding it must not stop us. */
static int lock_dir(int dir_fd)
{
        usec_t deadline = deadline_after(STUCK_LOCK_TIMEOUT);

        while (flock(dir_fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno != EWOULDBLOCK && errno != EINTR)
                        return -errno;
                if (!deadline_sleep(deadline, 10 * USEC_PER_MSEC))
                        return -ETIMEDOUT;
        }
        return 0;
}

/* Read, change (put s, or drop addr when s is NULL), write back, all under the run dir's flock. */
static int update(const char *root, uid_t owner, const gh_stuck *s, const char *addr, gh_error *err)
{
        _cleanup_free_ char *dir = NULL, *shown = NULL;
        _cleanup_close_ int dir_fd = -1;
        _cleanup_(stuck_list_done) stuck_list l = {}, keep = {};
        int r;

        r = paths(root, &dir, &shown);
        if (r < 0)
                return r;
        r = gh_rundir_open(dir, owner, s != NULL, &dir_fd, err);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        r = lock_dir(dir_fd);
        if (r < 0)
                return gh_error_set(err, r, "cannot lock '%s': %s", dir, strerror(-r));
        r = read_at(dir_fd, shown, owner, &l, err);
        for (size_t i = 0; r >= 0 && i < l.n; i++)
                if (!streq(l.v[i].addr, s ? s->addr : addr))
                        r = list_push(&keep, &l.v[i]);
        if (r >= 0 && s)
                r = list_push(&keep, s);
        if (r < 0)
                return r;
        return write_at(dir_fd, shown, &keep, err);
}

int gh_stucklist_put(const char *root, uid_t owner, const gh_stuck *s, gh_error *err)
{
        return update(root, owner, s, NULL, err);
}

int gh_stucklist_drop(const char *root, uid_t owner, const char *addr, gh_error *err)
{
        return update(root, owner, NULL, addr, err);
}

/* The waiter is a child we forked: always in this host's /proc, whatever the root. */
bool gh_stuck_waiter_alive(const gh_stuck *s)
{
        uint64_t start;
        char state;

        if (s->waiter <= 0 || gh_proc_stat("/proc", s->waiter, &state, &start) < 0)
                return false;
        return start == s->waiter_start && state != 'Z' && state != 'X';
}
