/* Opening the run dir and its files, checked as rundir.h says. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rundir.h"
#include "shared/fileio.h"

static int check_trusted(int fd, const char *shown, uid_t owner, bool dir, gh_error *err)
{
        mode_t want = dir ? 0700 : 0600;
        struct stat st;

        if (fstat(fd, &st) < 0)
                return gh_error_set(err, -errno, "cannot stat '%s': %s", shown, strerror(errno));
        if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
                return gh_error_set(err, -EPERM, "'%s' is not a %s; refused", shown,
                                    dir ? "directory" : "regular file");
        if (st.st_uid != owner)
                return gh_error_set(err, -EPERM, "'%s' is owned by uid %u, not uid %u; refused", shown,
                                    (unsigned)st.st_uid, (unsigned)owner);
        if ((st.st_mode & 07777) != want)
                return gh_error_set(err, -EPERM, "'%s' has mode %04o, not %04o; refused", shown,
                                    (unsigned)(st.st_mode & 07777), (unsigned)want);
        return 0;
}

/* O_NOFOLLOW: no symlink is followed. O_NONBLOCK: a FIFO must not hang the open before fstat refuses it. */
int gh_rundir_open_file(int dir_fd, const char *name, const char *shown, uid_t owner, int flags, bool made,
                        int *ret_fd, gh_error *err)
{
        bool dir = flags & O_DIRECTORY;
        _cleanup_close_ int fd =
                openat(dir_fd, name, flags | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, 0600);
        struct stat st;
        int r;

        if (fd < 0) {
                r = -errno;
                /* With O_DIRECTORY a symlink gives ENOTDIR, not ELOOP. */
                if (r == -ELOOP || (r == -ENOTDIR && fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                                    S_ISLNK(st.st_mode)))
                        return gh_error_set(err, -EPERM, "'%s' is a symbolic link; refused", shown);
                if (r == -ENOTDIR)
                        return gh_error_set(err, -EPERM, "'%s' is not a %s; refused", shown,
                                            dir ? "directory" : "regular file");
                if (r == -ENOENT || r == -EEXIST)
                        return r;
                return gh_error_set(err, r, "cannot open '%s': %s", shown, strerror(-r));
        }
        /* Just made: its mode is ours, whatever the umask. */
        if (made && fchmod(fd, dir ? 0700 : 0600) < 0)
                return gh_error_set(err, -errno, "cannot set the mode of '%s': %s", shown, strerror(errno));
        r = check_trusted(fd, shown, owner, dir, err);
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int gh_rundir_open(const char *dir, uid_t owner, bool create, int *ret_fd, gh_error *err)
{
        _cleanup_close_ int fd = -1;
        bool made = false;
        int r;

        if (create) {
                _cleanup_free_ char *parent = strdup(dir);

                if (!parent)
                        return -ENOMEM;
                *strrchr(parent, '/') = 0;
                r = mkdir_p(parent, 0755);
                if (r < 0)
                        return gh_error_set(err, r, "cannot create '%s': %s", parent, strerror(-r));
                made = mkdir(dir, 0700) == 0;
                if (!made && errno != EEXIST)
                        return gh_error_set(err, -errno, "cannot create '%s': %s", dir, strerror(errno));
        }
        r = gh_rundir_open_file(AT_FDCWD, dir, dir, owner, O_RDONLY | O_DIRECTORY, made, &fd, err);
        if (r == -ENOENT && !create)
                return r;
        if (r == -ENOENT)
                return gh_error_set(err, r, "'%s' vanished as it was created", dir);
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int gh_rundir_replace_file(int dir_fd, const char *name, const char *shown, const char *text, gh_error *err)
{
        return gh_replace_file_at(dir_fd, name, shown, text, 0600, err);
}

int gh_replace_file_at(int dir_fd, const char *name, const char *shown, const char *text, mode_t mode,
                       gh_error *err)
{
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -1;
        int r;

        if (asprintf(&tmp, ".%s.new", name) < 0)
                return -ENOMEM;
        (void)unlinkat(dir_fd, tmp, 0);
        fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return gh_error_set(err, -errno, "cannot create a new '%s': %s", shown, strerror(errno));
        r = fchmod(fd, mode) < 0 ? -errno : write_all_string(fd, text);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && renameat(dir_fd, tmp, dir_fd, name) < 0)
                r = -errno;
        if (r < 0) {
                (void)unlinkat(dir_fd, tmp, 0);
                return gh_error_set(err, r, "cannot write '%s': %s", shown, strerror(-r));
        }
        return 0;
}
