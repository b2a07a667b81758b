/* Loads the global config, then the domain's. A file is trusted only when it and its directories
 * belong to the owner and nobody else may write them; checks run on open fds, so nothing can swap a
 * file between check and read. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "conffile.h"
#include "shared/fileio.h"

#define CONF_SIZE_MAX ((size_t)64 * 1024)
#define DOMAIN_NAME_MAX 200

static bool has_control(const char *s)
{
        for (; s && *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return true;
        return false;
}

/* A domain name becomes a file name and a command-line argument: refuse what could leave the directory,
 * hide, pass for an option, or garble a log line. */
static const char *domain_name_problem(const char *d)
{
        size_t n = d ? strlen(d) : 0;

        if (n == 0)
                return "is empty";
        if (n > DOMAIN_NAME_MAX)
                return "is longer than 200 characters";
        if (d[0] == '.')
                return "starts with '.'";
        if (d[0] == '-')
                return "starts with '-'";
        if (strchr(d, '/'))
                return "contains '/'";
        if (has_control(d))
                return "contains a control character";
        return NULL;
}

int gh_config_domain_path(const char *root, const char *domain, char **ret)
{
        _cleanup_free_ char *rel = NULL;
        char *path;

        if (domain_name_problem(domain))
                return -EINVAL;
        if (asprintf(&rel, GH_CONF_DOMAINS "/%s.conf", domain) < 0)
                return -ENOMEM;
        path = path_join(root, rel);
        if (!path)
                return -ENOMEM;
        *ret = path;
        return 0;
}

static int check_trusted(int fd, const char *shown, uid_t owner, bool dir, gh_error *err)
{
        struct stat st;

        if (fstat(fd, &st) < 0)
                return gh_error_set(err, -errno, "cannot stat '%s': %s", shown, strerror(errno));
        if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
                return gh_error_set(err, -EPERM, "'%s' is not a %s", shown,
                                    dir ? "directory" : "regular file");
        if (st.st_uid != owner)
                return gh_error_set(err, -EPERM, "'%s' is owned by uid %u, not uid %u", shown,
                                    (unsigned)st.st_uid, (unsigned)owner);
        if (st.st_mode & (S_IWGRP | S_IWOTH))
                return gh_error_set(err, -EPERM, "'%s' is writable by group or others (mode %04o)", shown,
                                    (unsigned)(st.st_mode & 07777));
        if (!dir && (size_t)st.st_size > CONF_SIZE_MAX)
                return gh_error_set(err, -EFBIG, "'%s' is larger than %zu bytes", shown, CONF_SIZE_MAX);
        return 0;
}

static bool is_symlink(int dir_fd, const char *name)
{
        struct stat st;

        return fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

/* O_NOFOLLOW: a symlink could point anywhere. O_NONBLOCK: opening a FIFO must not hang before fstat
 * refuses it. Returns -ENOENT without setting err: whether that is an error is the caller's call. */
static int open_trusted(int dir_fd, const char *name, const char *shown, uid_t owner, bool dir, int *ret_fd,
                        gh_error *err)
{
        int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | (dir ? O_DIRECTORY : 0);
        _cleanup_close_ int fd = openat(dir_fd, name, flags);
        int r;

        if (fd < 0) {
                r = -errno;
                /* With O_DIRECTORY a symlink gives ENOTDIR, not ELOOP. */
                if (r == -ELOOP || (r == -ENOTDIR && dir && is_symlink(dir_fd, name)))
                        return gh_error_set(err, -EPERM, "'%s' is a symbolic link; refused", shown);
                if (r == -ENOTDIR && dir)
                        return gh_error_set(err, -EPERM, "'%s' is not a directory", shown);
                if (r == -ENOENT)
                        return r;
                return gh_error_set(err, r, "cannot open '%s': %s", shown, strerror(-r));
        }
        r = check_trusted(fd, shown, owner, dir, err);
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int read_trusted(int dir_fd, const char *name, const char *shown, uid_t owner, char **ret,
                        gh_error *err)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r;

        r = open_trusted(dir_fd, name, shown, owner, false, &fd, err);
        if (r < 0)
                return r;
        r = read_full_fd(fd, CONF_SIZE_MAX, &buf, &len);
        if (r == -EFBIG)
                return gh_error_set(err, r, "'%s' is larger than %zu bytes", shown, CONF_SIZE_MAX);
        if (r < 0)
                return gh_error_set(err, r, "cannot read '%s': %s", shown, strerror(-r));
        if (strlen(buf) != len)
                return gh_error_set(err, -EINVAL, "'%s' contains a NUL byte", shown);
        *ret = TAKE_PTR(buf);
        return 0;
}

static int not_opted_in(const char *domain, const char *shown, gh_error *err)
{
        return gh_error_set(err, -ENOENT, "domain '%s' has not opted in: '%s' does not exist", domain,
                            shown);
}

/* Opens ROOT/etc/gpu-handover and its domains/ directory, both checked. */
static int open_dirs(const char *root, const char *domain, const char *shown, uid_t owner, int *ret_conf,
                     int *ret_domains, gh_error *err)
{
        _cleanup_free_ char *conf_dir = path_join(root, GH_CONF_DIR);
        _cleanup_close_ int conf_fd = -1, domains_fd = -1;
        int r;

        if (!conf_dir)
                return -ENOMEM;
        r = open_trusted(AT_FDCWD, conf_dir, GH_CONF_DIR, owner, true, &conf_fd, err);
        if (r >= 0)
                r = open_trusted(conf_fd, "domains", GH_CONF_DOMAINS, owner, true, &domains_fd, err);
        if (r == -ENOENT)
                return not_opted_in(domain, shown, err);
        if (r < 0)
                return r;
        *ret_conf = TAKE_FD(conf_fd);
        *ret_domains = TAKE_FD(domains_fd);
        return 0;
}

/* Checks both texts on a throwaway policy first, so that p changes only when both apply. */
static int apply_texts(gh_policy *p, const char *global, const char *text, const char *shown, gh_error *err)
{
        _cleanup_(gh_policy_done) gh_policy scratch = {};
        int r;

        gh_policy_init(&scratch);
        if (global && (r = gh_config_parse(&scratch, global, GH_CONF_GLOBAL, err)) < 0)
                return r;
        r = gh_config_parse(&scratch, text, shown, err);
        if (r < 0)
                return r;
        if (global && (r = gh_config_parse(p, global, GH_CONF_GLOBAL, err)) < 0)
                return r;
        return gh_config_parse(p, text, shown, err);
}

static int domain_name_error(const char *domain, const char *problem, gh_error *err)
{
        /* A control character would break the one-line message: the name stays out then. */
        if (has_control(domain))
                return gh_error_set(err, -EINVAL, "domain name %s", problem);
        return gh_error_set(err, -EINVAL, "domain name '%s' %s", strempty(domain), problem);
}

int gh_config_domain_name_check(const char *domain, gh_error *err)
{
        const char *problem = domain_name_problem(domain);

        return problem ? domain_name_error(domain, problem, err) : 0;
}

/* Both files are read before either is applied: a missing domain file wins over a broken global one. */
int gh_config_load(const char *root, const char *domain, uid_t owner, gh_policy *p, gh_error *err)
{
        _cleanup_free_ char *name = NULL, *shown = NULL, *global = NULL, *text = NULL;
        _cleanup_close_ int conf_fd = -1, domains_fd = -1;
        int r;

        r = gh_config_domain_name_check(domain, err);
        if (r < 0)
                return r;
        if (asprintf(&name, "%s.conf", domain) < 0 || asprintf(&shown, GH_CONF_DOMAINS "/%s", name) < 0)
                return -ENOMEM;
        r = open_dirs(root, domain, shown, owner, &conf_fd, &domains_fd, err);
        if (r < 0)
                return r;
        r = read_trusted(domains_fd, name, shown, owner, &text, err);
        if (r == -ENOENT)
                return not_opted_in(domain, shown, err);
        if (r < 0)
                return r;
        r = read_trusted(conf_fd, "gpu-handover.conf", GH_CONF_GLOBAL, owner, &global, err);
        if (r < 0 && r != -ENOENT)
                return r;
        return apply_texts(p, global, text, shown, err);
}
