/* The hand-over journal's file: created, appended to with a fsync per line, checked before it is read
 * (gh_journal_parse() reads its text), listed and removed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "conffile.h"
#include "core/journal-text.h"
#include "journal.h"
#include "rundir.h"
#include "shared/fileio.h"
#include "shared/strv.h"

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

/* Opens the journal's file with flags, after checking the run dir (created with O_CREAT) and the file. */
static int journal_open(const char *root, const char *domain, uid_t owner, int flags, int *ret_fd, gh_error *err)
{
        _cleanup_free_ char *dir = NULL, *name = NULL, *shown = NULL;
        _cleanup_close_ int dir_fd = -1;
        bool create = flags & O_CREAT;
        int r;

        r = journal_name(root, domain, &dir, &name);
        if (r < 0)
                return gh_error_set(err, r, "bad domain name '%s'", domain);
        if (asprintf(&shown, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        r = gh_rundir_open(dir, owner, create, &dir_fd, err);
        if (r >= 0)
                r = gh_rundir_open_file(dir_fd, name, shown, owner, flags, create, ret_fd, err);
        if (r == -EEXIST)
                return gh_error_set(err, r, "'%s' exists already", shown);
        return r;
}

static gh_journal *journal_new(int fd)
{
        gh_journal *j = malloc(sizeof(*j));

        if (j)
                j->fd = fd;
        return j;
}

int gh_journal_create(const char *root, const char *domain, uid_t owner, gh_journal **ret, gh_error *err)
{
        _cleanup_free_ char *header = NULL;
        _cleanup_close_ int fd = -1;
        gh_journal *j;
        int r;

        r = journal_open(root, domain, owner, O_WRONLY | O_CREAT | O_EXCL | O_APPEND, &fd, err);
        if (r < 0)
                return r;
        if (asprintf(&header, GH_JOURNAL_MAGIC " domain=%s\n", domain) < 0)
                return -ENOMEM;
        r = write_all_sync(fd, header);
        if (r < 0) {
                (void)gh_journal_remove(root, domain);
                return gh_error_set(err, r, "cannot write the journal of domain '%s': %s", domain,
                                    strerror(-r));
        }
        j = journal_new(fd);
        if (!j)
                return -ENOMEM;
        TAKE_FD(fd);
        *ret = j;
        return 0;
}

int gh_journal_open_append(const char *root, const char *domain, uid_t owner, gh_journal **ret, gh_error *err)
{
        _cleanup_close_ int fd = -1;
        gh_journal *j;
        int r = journal_open(root, domain, owner, O_WRONLY | O_APPEND, &fd, err);

        if (r < 0)
                return r;
        j = journal_new(fd);
        if (!j)
                return -ENOMEM;
        TAKE_FD(fd);
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

static int read_text(const char *root, const char *domain, uid_t owner, char **ret_path, char **ret_text,
                     size_t *ret_len, gh_error *err)
{
        _cleanup_free_ char *dir = NULL, *name = NULL, *path = NULL, *text = NULL;
        _cleanup_close_ int dir_fd = -1, fd = -1;
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
        r = read_full_fd(fd, JOURNAL_MAX, &text, ret_len);
        if (r < 0)
                return gh_error_set(err, r, "cannot read '%s': %s", path, strerror(-r));
        *ret_path = TAKE_PTR(path);
        *ret_text = TAKE_PTR(text);
        return 0;
}

static int journal_read(const char *root, const char *domain, uid_t owner, gh_step **ret, size_t *ret_n,
                        gh_stuck **ret_stuck, size_t *ret_n_stuck, char ***ret_skipped, gh_error *err)
{
        _cleanup_free_ char *path = NULL, *text = NULL;
        size_t len;
        int r;

        r = read_text(root, domain, owner, &path, &text, &len, err);
        if (r < 0)
                return r;
        return gh_journal_parse(text, len, path, domain, ret, ret_n, ret_stuck, ret_n_stuck, ret_skipped,
                                err);
}

int gh_journal_read(const char *root, const char *domain, uid_t owner, gh_step **ret, size_t *ret_n,
                    gh_error *err)
{
        return journal_read(root, domain, owner, ret, ret_n, NULL, NULL, NULL, err);
}

int gh_journal_read_lenient(const char *root, const char *domain, uid_t owner, gh_step **ret, size_t *ret_n,
                            char ***ret_skipped, gh_error *err)
{
        return journal_read(root, domain, owner, ret, ret_n, NULL, NULL, ret_skipped, err);
}

int gh_journal_read_all(const char *root, const char *domain, uid_t owner, gh_step **ret, size_t *ret_n,
                        gh_stuck **ret_stuck, size_t *ret_n_stuck, gh_error *err)
{
        return journal_read(root, domain, owner, ret, ret_n, ret_stuck, ret_n_stuck, NULL, err);
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
