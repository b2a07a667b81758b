/* Runs a program for a test and keeps what it printed: memfds, so nothing is left on disk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "capture.h"
#include "shared/fileio.h"

static char *read_back(int fd)
{
        char *s = NULL;

        assert_true(lseek(fd, 0, SEEK_SET) == 0);
        assert_int_equal(read_full_fd(fd, 1 << 22, &s, NULL), 0);
        return s;
}

/* The input as a file at offset 0, or /dev/null. */
static int input_fd(const char *input)
{
        int fd;

        if (!input)
                return open("/dev/null", O_RDONLY | O_CLOEXEC);
        fd = memfd_create("gh-run-in", MFD_CLOEXEC);
        assert_true(fd >= 0);
        /* A memfd takes the whole buffer in one write. */
        assert_true(write(fd, input, strlen(input)) == (ssize_t)strlen(input));
        assert_true(lseek(fd, 0, SEEK_SET) == 0);
        return fd;
}

void gh_run_capture(const char *const *argv, const char *input, gh_run *ret)
{
        _cleanup_close_ int in = input_fd(input);
        _cleanup_close_ int out = memfd_create("gh-run-out", MFD_CLOEXEC);
        _cleanup_close_ int err = memfd_create("gh-run-err", MFD_CLOEXEC);
        int status;
        pid_t pid;

        assert_true(in >= 0 && out >= 0 && err >= 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
                        _exit(127);
                execv(argv[0], (char **)argv);
                _exit(127);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        ret->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        ret->out = read_back(out);
        ret->err = read_back(err);
}

void gh_run_done(gh_run *r)
{
        free(r->out);
        free(r->err);
        *r = (gh_run){};
}
