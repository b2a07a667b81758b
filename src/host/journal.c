/* The hand-over journal: a header line, then one line per step, each fsynced before the step runs.
 * A crash mid-write leaves a torn last line: that step never began, so reading skips it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "conffile.h"
#include "journal.h"
#include "shared/fileio.h"
#include "shared/strv.h"

#define JOURNAL_MAGIC "gpu-handover-journal 1"
#define JOURNAL_SUFFIX ".journal"
#define JOURNAL_MAX ((size_t)1024 * 1024)

struct gh_journal {
        int fd;
};

static int journal_path(const char *root, const char *domain, char **ret)
{
        _cleanup_free_ char *dir = path_join(root, GH_RUN_DIR);
        _cleanup_free_ char *conf = NULL;
        int r;

        /* The same rules as for config file names keep the domain inside the directory. */
        r = gh_config_domain_path(root, domain, &conf);
        if (r < 0)
                return r;
        if (!dir || asprintf(ret, "%s/%s" JOURNAL_SUFFIX, dir, domain) < 0)
                return -ENOMEM;
        return 0;
}

static int write_all_sync(int fd, const char *s)
{
        size_t n = strlen(s);

        while (n > 0) {
                ssize_t k = write(fd, s, n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                s += k;
                n -= (size_t)k;
        }
        return fsync(fd) < 0 ? -errno : 0;
}

int gh_journal_create(const char *root, const char *domain, gh_journal **ret)
{
        _cleanup_free_ char *dir = path_join(root, GH_RUN_DIR);
        _cleanup_free_ char *path = NULL, *header = NULL;
        _cleanup_close_ int fd = -1;
        gh_journal *j;
        int r;

        if (!dir)
                return -ENOMEM;
        r = journal_path(root, domain, &path);
        if (r < 0)
                return r;
        r = mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        if (asprintf(&header, JOURNAL_MAGIC " domain=%s\n", domain) < 0)
                return -ENOMEM;
        r = write_all_sync(fd, header);
        if (r < 0) {
                (void)unlink(path);
                return r;
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

static int parse_lines(char *text, const char *path, gh_step **ret, size_t *ret_n, gh_error *err)
{
        gh_step *steps = NULL;
        size_t n = 0;
        unsigned lineno = 0;
        char *p = text;

        for (char *nl; (nl = strchr(p, '\n')); p = nl + 1) {
                gh_step *m;
                int r;

                *nl = 0;
                if (++lineno == 1) {
                        if (!startswith(p, JOURNAL_MAGIC " ")) {
                                gh_steps_free(steps, n);
                                return gh_error_set(err, -EBADMSG, "%s:1: not a gpu-handover journal", path);
                        }
                        continue;
                }
                m = realloc(steps, sizeof(gh_step) * (n + 1));
                if (!m) {
                        gh_steps_free(steps, n);
                        return -ENOMEM;
                }
                steps = m;
                r = gh_step_from_line(p, &steps[n], NULL);
                if (r < 0) {
                        gh_steps_free(steps, n);
                        return gh_error_set(err, -EBADMSG, "%s:%u: malformed journal line", path, lineno);
                }
                n++;
        }
        /* Whatever follows the last newline is a torn write: that step never began. */
        *ret = steps;
        *ret_n = n;
        return 0;
}

int gh_journal_read(const char *root, const char *domain, gh_step **ret, size_t *ret_n, gh_error *err)
{
        _cleanup_free_ char *path = NULL, *text = NULL;
        _cleanup_close_ int fd = -1;
        int r;

        r = journal_path(root, domain, &path);
        if (r < 0)
                return gh_error_set(err, r, "bad domain name '%s'", domain);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno == -ENOENT ? -ENOENT
                                         : gh_error_set(err, -errno, "cannot open '%s': %s", path, strerror(errno));
        r = read_full_fd(fd, JOURNAL_MAX, &text, NULL);
        if (r < 0)
                return gh_error_set(err, r, "cannot read '%s': %s", path, strerror(-r));
        return parse_lines(text, path, ret, ret_n, err);
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
