/* Reading and writing small files, the sysfs/procfs way. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "fileio.h"

int read_full_fd(int fd, size_t max, char **ret, size_t *ret_len)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;

        for (;;) {
                if (len + 1 >= cap) {
                        size_t ncap = cap ? cap * 2 : 4096;
                        char *n;

                        if (cap > max + 1)
                                return -EFBIG;
                        n = realloc(buf, ncap);
                        if (!n)
                                return -ENOMEM;
                        buf = n;
                        cap = ncap;
                }
                ssize_t k = read(fd, buf + len, cap - len - 1);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                len += (size_t)k;
                if (len > max)
                        return -EFBIG;
        }
        if (!buf && !(buf = malloc(1)))
                return -ENOMEM;
        buf[len] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

int read_full_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

        if (fd < 0)
                return -errno;
        return read_full_fd(fd, max, ret, ret_len);
}

int read_regular_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
        /* O_NONBLOCK: opening a FIFO must not wait for a writer; a regular file ignores it. */
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        struct stat st;

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return S_ISDIR(st.st_mode) ? -EISDIR : -EBADFD;
        return read_full_fd(fd, max, ret, ret_len);
}

int read_one_line_file(const char *path, char **ret)
{
        _cleanup_free_ char *buf = NULL;
        int r;

        r = read_full_file(path, 64 * 1024, &buf, NULL);
        if (r < 0)
                return r;
        buf[strcspn(buf, "\n")] = 0;
        *ret = TAKE_PTR(buf);
        return 0;
}

int write_string_file(const char *path, const char *s)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        size_t n = strlen(s);
        ssize_t k;

        if (fd < 0)
                return -errno;
        k = write(fd, s, n);
        if (k < 0)
                return -errno;
        if ((size_t)k != n)
                return -EIO;
        return 0;
}

char *path_join(const char *root, const char *path)
{
        char *p;
        size_t rl;

        if (!root || !*root || streq(root, "/"))
                return strdup(path);
        rl = strlen(root);
        while (rl > 1 && root[rl - 1] == '/')
                rl--;
        while (*path == '/')
                path++;
        if (asprintf(&p, "%.*s/%s", (int)rl, root, path) < 0)
                return NULL;
        return p;
}

int readlink_basename(const char *path, char **ret)
{
        char buf[PATH_MAX];
        ssize_t k;
        const char *b;

        k = readlink(path, buf, sizeof(buf) - 1);
        if (k < 0)
                return -errno;
        buf[k] = 0;
        b = strrchr(buf, '/');
        b = b ? b + 1 : buf;
        if (!*b)
                return -EINVAL;
        *ret = strdup(b);
        return *ret ? 0 : -ENOMEM;
}

int mkdir_p(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int write_all_string(int fd, const char *s)
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
        return 0;
}
