/* One hand-over at a time: an flock, polled so that the wait has a deadline. */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "lock.h"
#include "journal.h"
#include "shared/fileio.h"

int gh_lock_take(const char *root, usec_t deadline, int *ret_fd)
{
        _cleanup_free_ char *dir = path_join(root, GH_RUN_DIR);
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -1;
        int r;

        if (!dir || asprintf(&path, "%s/lock", dir) < 0)
                return -ENOMEM;
        r = mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno != EWOULDBLOCK && errno != EINTR)
                        return -errno;
                if (!deadline_sleep(deadline, 50 * USEC_PER_MSEC))
                        return -ETIMEDOUT;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}
