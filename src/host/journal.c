/* The hand-over journal: a header line, then one line per step, each fsynced before the step runs.
 * A crash mid-write leaves a torn last line: that step never began, so reading skips it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "conffile.h"
#include "journal.h"
#include "rundir.h"
#include "shared/fileio.h"
#include "shared/strv.h"

#define JOURNAL_MAGIC "gpu-handover-journal 1"
#define JOURNAL_SUFFIX ".journal"
#define JOURNAL_MAX ((size_t)1024 * 1024)

struct gh_journal {
        int fd;
};

static int journal_name(const char *root, const char *domain, char **ret_dir, char **ret_name)
{
        _cleanup_free_ char *dir = path_join(root, GH_RUN_DIR);
        _cleanup_free_ char *conf = NULL;
        int r;

        /* The same rules as for config file names keep the domain inside the directory. */
        r = gh_config_domain_path(root, domain, &conf);
        if (r < 0)
                return r;
        if (!dir || asprintf(ret_name, "%s" JOURNAL_SUFFIX, domain) < 0)
                return -ENOMEM;
        *ret_dir = TAKE_PTR(dir);
        return 0;
}

static int journal_path(const char *root, const char *domain, char **ret)
{
        _cleanup_free_ char *dir = NULL, *name = NULL;
        int r = journal_name(root, domain, &dir, &name);

        if (r < 0)
                return r;
        return asprintf(ret, "%s/%s", dir, name) < 0 ? -ENOMEM : 0;
}

static int write_all_sync(int fd, const char *s)
{
        int r = write_all_string(fd, s);

        return r < 0 ? r : fsync(fd) < 0 ? -errno : 0;
}

static int journal_open_new(const char *root, const char *domain, uid_t owner, int *ret_fd, gh_error *err)
{
        _cleanup_free_ char *dir = NULL, *name = NULL, *shown = NULL;
        _cleanup_close_ int dir_fd = -1;
        int r;

        r = journal_name(root, domain, &dir, &name);
        if (r < 0)
                return gh_error_set(err, r, "bad domain name '%s'", domain);
        if (asprintf(&shown, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        r = gh_rundir_open(dir, owner, true, &dir_fd, err);
        if (r >= 0)
                r = gh_rundir_open_file(dir_fd, name, shown, owner, O_WRONLY | O_CREAT | O_EXCL | O_APPEND, true,
                                 ret_fd, err);
        if (r == -EEXIST)
                return gh_error_set(err, r, "'%s' exists already", shown);
        return r;
}

int gh_journal_create(const char *root, const char *domain, uid_t owner, gh_journal **ret, gh_error *err)
{
        _cleanup_free_ char *header = NULL;
        _cleanup_close_ int fd = -1;
        gh_journal *j;
        int r;

        r = journal_open_new(root, domain, owner, &fd, err);
        if (r < 0)
                return r;
        if (asprintf(&header, JOURNAL_MAGIC " domain=%s\n", domain) < 0)
                return -ENOMEM;
        r = write_all_sync(fd, header);
        if (r < 0) {
                (void)gh_journal_remove(root, domain);
                return gh_error_set(err, r, "cannot write the journal of domain '%s': %s", domain,
                                    strerror(-r));
        }
        j = malloc(sizeof(*j));
        if (!j)
                return -ENOMEM;
        j->fd = TAKE_FD(fd);
        *ret = j;
        return 0;
}

int gh_journal_append(gh_journal *j, const char *line)
{
        _cleanup_free_ char *l = NULL;

        if (strchr(line, '\n'))
                return -EINVAL;
        if (asprintf(&l, "%s\n", line) < 0)
                return -ENOMEM;
        /* O_APPEND and a single write keep a line whole unless the machine dies mid-write. */
        return write_all_sync(j->fd, l);
}

gh_journal *gh_journal_close(gh_journal *j)
{
        if (j) {
                closep(&j->fd);
                free(j);
        }
        return NULL;
}

void gh_steps_free(gh_step *steps, size_t n)
{
        for (size_t i = 0; i < n; i++)
                gh_step_done(&steps[i]);
        free(steps);
}

typedef struct journal_text {
        const char *path;
        char **skipped; /* strv of "PATH:LINE: why"; NULL when reading strictly */
        bool lenient;
        gh_step *steps;
        size_t n;
} journal_text;

static bool has_control(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return true;
        return false;
}

/* A journal renamed or copied to another domain's name would undo that domain's hand-over. */
static int check_header(const char *line, const char *path, const char *domain, gh_error *err)
{
        static const char prefix[] = JOURNAL_MAGIC " domain=";
        const char *d = line + strlen(prefix);

        if (!startswith(line, prefix))
                return gh_error_set(err, -EBADMSG, "%s:1: not a gpu-handover journal", path);
        if (streq(d, domain))
                return 0;
        if (has_control(d))
                return gh_error_set(err, -EBADMSG, "%s:1: the journal is for another domain, not '%s'", path,
                                    domain);
        return gh_error_set(err, -EBADMSG, "%s:1: the journal is for domain '%s', not '%s'", path, d,
                            domain);
}

static int add_step(journal_text *t, const char *line, unsigned lineno, gh_error *err)
{
        gh_step s, *m;
        gh_error why = {};
        char *skip;
        int r = gh_step_from_line(line, &s, &why);

        if (r == -ENOMEM)
                return r;
        if (r < 0 && !t->lenient)
                return gh_error_set(err, -EBADMSG, "%s:%u: %s", t->path, lineno, why.msg);
        if (r < 0)
                return asprintf(&skip, "%s:%u: %s", t->path, lineno, why.msg) < 0
                               ? -ENOMEM
                               : strv_push(&t->skipped, skip);
        m = realloc(t->steps, sizeof(gh_step) * (t->n + 1));
        if (!m) {
                gh_step_done(&s);
                return -ENOMEM;
        }
        t->steps = m;
        t->steps[t->n++] = s;
        return 0;
}

static int parse_lines(journal_text *t, char *text, const char *domain, gh_error *err)
{
        unsigned lineno = 0;
        char *p = text;
        int r = 0;

        for (char *nl; r >= 0 && (nl = strchr(p, '\n')); p = nl + 1) {
                *nl = 0;
                if (++lineno == 1)
                        r = check_header(p, t->path, domain, err);
                else
                        r = add_step(t, p, lineno, err);
        }
        /* Whatever follows the last newline is a torn write: that step never began. */
        return r;
}

static int read_text(const char *root, const char *domain, uid_t owner, char **ret_path, char **ret_text,
                     gh_error *err)
{
        _cleanup_free_ char *dir = NULL, *name = NULL, *path = NULL, *text = NULL;
        _cleanup_close_ int dir_fd = -1, fd = -1;
        size_t len;
        int r;

        r = journal_name(root, domain, &dir, &name);
        if (r < 0)
                return gh_error_set(err, r, "bad domain name '%s'", domain);
        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        r = gh_rundir_open(dir, owner, false, &dir_fd, err);
        if (r >= 0)
                r = gh_rundir_open_file(dir_fd, name, path, owner, O_RDONLY, false, &fd, err);
        if (r < 0)
                return r;
        r = read_full_fd(fd, JOURNAL_MAX, &text, &len);
        if (r < 0)
                return gh_error_set(err, r, "cannot read '%s': %s", path, strerror(-r));
        /* A NUL would end the text early, and hide the steps after it as if they were a torn line. */
        if (strlen(text) != len)
                return gh_error_set(err, -EBADMSG, "'%s' contains a NUL byte", path);
        *ret_path = TAKE_PTR(path);
        *ret_text = TAKE_PTR(text);
        return 0;
}

static int journal_read(const char *root, const char *domain, uid_t owner, journal_text *t, gh_error *err)
{
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r;

        r = read_text(root, domain, owner, &path, &text, err);
        if (r < 0)
                return r;
        t->path = path;
        r = parse_lines(t, text, domain, err);
        t->path = NULL;
        if (r < 0) {
                gh_steps_free(t->steps, t->n);
                strv_free(t->skipped);
                *t = (journal_text){};
        }
        return r;
}

int gh_journal_read(const char *root, const char *domain, uid_t owner, gh_step **ret, size_t *ret_n,
                    gh_error *err)
{
        journal_text t = {};
        int r = journal_read(root, domain, owner, &t, err);

        if (r < 0)
                return r;
        *ret = t.steps;
        *ret_n = t.n;
        return 0;
}

int gh_journal_read_lenient(const char *root, const char *domain, uid_t owner, gh_step **ret, size_t *ret_n,
                            char ***ret_skipped, gh_error *err)
{
        journal_text t = {.lenient = true};
        int r = journal_read(root, domain, owner, &t, err);

        if (r < 0)
                return r;
        *ret = t.steps;
        *ret_n = t.n;
        *ret_skipped = t.skipped;
        return 0;
}

int gh_journal_remove(const char *root, const char *domain)
{
        _cleanup_free_ char *path = NULL;
        int r = journal_path(root, domain, &path);

        if (r < 0)
                return r;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

int gh_journal_list(const char *root, char ***ret)
{
        _cleanup_free_ char *dir = path_join(root, GH_RUN_DIR);
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
        DIR *d;
        struct dirent *de;
        int r = 0;

        if (!dir || !l)
                return -ENOMEM;
        d = opendir(dir);
        if (!d && errno != ENOENT)
                return -errno;
        while (d && r >= 0 && (de = readdir(d))) {
                size_t n = strlen(de->d_name), s = strlen(JOURNAL_SUFFIX);

                if (de->d_name[0] == '.' || n <= s || !streq(de->d_name + n - s, JOURNAL_SUFFIX))
                        continue;
                char *name = strndup(de->d_name, n - s);
                r = name ? strv_push(&l, name) : -ENOMEM;
        }
        if (d)
                closedir(d);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}
