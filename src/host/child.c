/* Runs an operation that may never return (a sysfs read or write that waits for a busy driver's lock) in a
 * child process, so that the caller keeps its deadline: the child is SIGKILLed when time is up and left to
 * the kernel. A read hands its result back through a pipe. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "shared/fileio.h"

/* A SIGKILLed child may still be inside the kernel; it is reaped whenever we pass by again. */
static pid_t abandoned[32];
static pid_t last_abandoned;

/* How long a SIGKILLed child gets to die before we leave it behind: one asleep in user space dies at
 * once and is reaped here instead of lingering as a zombie. */
#define KILL_GRACE_USEC (100 * USEC_PER_MSEC)

/* The exit status carries -r; a result outside that range is reported as this status, read as -EIO. */
#define EXIT_UNKNOWN_ERROR 255

static void reap_abandoned(void)
{
        for (size_t i = 0; i < ELEMENTSOF(abandoned); i++)
                /* Reaped (pid) or not ours any more (-1): either way it is gone. */
                if (abandoned[i] > 0 && waitpid(abandoned[i], NULL, WNOHANG) != 0)
                        abandoned[i] = 0;
}

static void abandon(pid_t pid)
{
        last_abandoned = pid;
        for (size_t i = 0; i < ELEMENTSOF(abandoned); i++)
                if (abandoned[i] <= 0) {
                        abandoned[i] = pid;
                        return;
                }
        /* All slots taken by children stuck in the kernel: this one stays a zombie until we exit. */
}

static int pidfd_open_compat(pid_t pid)
{
#ifdef SYS_pidfd_open
        int fd = (int)syscall(SYS_pidfd_open, pid, 0);

        return fd < 0 ? -errno : fd;
#else
        return -ENOSYS;
#endif
}

/* A child stuck in the kernel outlives us, with whatever it holds: the hand-over lock, or the pipes on
 * which libvirt reads a hook's output until their last writer is gone. It keeps nothing of ours but out
 * (-1: none), which becomes its stdout. */
static int drop_fds(int out)
{
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);

        if (null < 0)
                return -errno;
        /* Above the standard descriptors first, so that filling them cannot overwrite it. */
        if (out >= 0 && (out = fcntl(out, F_DUPFD_CLOEXEC, 3)) < 0)
                return -errno;
        for (int i = 0; i < 3; i++)
                if (null != i && dup2(i == STDOUT_FILENO && out >= 0 ? out : null, i) < 0)
                        return -errno;
        /* Skipped above when /dev/null came out as stdout. */
        if (out >= 0 && null == STDOUT_FILENO && dup2(out, STDOUT_FILENO) < 0)
                return -errno;
        if (close_range(3, ~0U, 0) < 0)
                return -errno;
        return 0;
}

static _noreturn_ void child_main(int (*fn)(void *userdata), void *userdata, int out)
{
        /* The parent's handlers (a test runner longjmp()ing out of SIGSEGV, say) must not run here: a
         * crash in the child ends the child. */
        static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT,
                                   SIGTERM, SIGINT, SIGHUP, SIGPIPE};
        sigset_t none;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
                (void)signal(sigs[i], SIG_DFL);
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);

        r = drop_fds(out);
        if (r >= 0)
                r = fn(userdata);
        if (r >= 0)
                _exit(0);
        _exit(-r < EXIT_UNKNOWN_ERROR ? -r : EXIT_UNKNOWN_ERROR);
}

static int decode_status(int status)
{
        if (WIFEXITED(status)) {
                int code = WEXITSTATUS(status);

                if (code == EXIT_UNKNOWN_ERROR)
                        return -EIO;
                return -code;
        }
        /* Killed by a signal (a crash): the operation did not complete, with no errno to tell. */
        return -ECANCELED;
}

/* For a child known to have exited: this does not block. */
static int reap(pid_t pid, int *ret_status)
{
        while (waitpid(pid, ret_status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return 0;
}

static int poll_timeout_ms(usec_t deadline)
{
        usec_t left = deadline_left(deadline);

        if (left == USEC_INFINITY)
                return -1;
        /* Rounded up, so that a poll that times out has really reached the deadline. */
        left = (left + USEC_PER_MSEC - 1) / USEC_PER_MSEC;
        return left > INT_MAX ? INT_MAX : (int)left;
}

static int wait_pidfd(pid_t pid, int pidfd, usec_t deadline, int *ret_status)
{
        for (;;) {
                struct pollfd p = {.fd = pidfd, .events = POLLIN};
                int k = poll(&p, 1, poll_timeout_ms(deadline));

                if (k < 0 && errno != EINTR)
                        return -errno;
                if (k > 0)
                        return reap(pid, ret_status);
                if (deadline_passed(deadline))
                        return -ETIMEDOUT;
        }
}

static int wait_polling(pid_t pid, usec_t deadline, int *ret_status)
{
        for (;;) {
                pid_t k = waitpid(pid, ret_status, WNOHANG);

                if (k < 0 && errno != EINTR)
                        return -errno;
                if (k == pid)
                        return 0;
                if (!deadline_sleep(deadline, 5 * USEC_PER_MSEC))
                        return -ETIMEDOUT;
        }
}

static int wait_child(pid_t pid, int pidfd, usec_t deadline, int *ret_status)
{
        if (pidfd >= 0)
                return wait_pidfd(pid, pidfd, deadline, ret_status);
        return wait_polling(pid, deadline, ret_status);
}

static void kill_child(pid_t pid, int pidfd)
{
        int status;

        (void)kill(pid, SIGKILL);
        if (wait_child(pid, pidfd, deadline_after(KILL_GRACE_USEC), &status) < 0)
                abandon(pid);
}

/* Forks the child running fn, with out (-1: none) as its stdout. */
static int child_fork(int (*fn)(void *userdata), void *userdata, int out, gh_child *ret)
{
        pid_t pid;

        reap_abandoned();
        last_abandoned = 0;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                child_main(fn, userdata, out);
        *ret = (gh_child){.pid = pid, .pidfd = pidfd_open_compat(pid)};
        return 0;
}

static void child_forget(gh_child *c)
{
        if (c->pidfd >= 0)
                close(c->pidfd);
        *c = (gh_child){.pidfd = -1};
}

int gh_child_start(int (*fn)(void *userdata), void *userdata, gh_child *ret)
{
        return child_fork(fn, userdata, -1, ret);
}

int gh_child_wait(gh_child *c, usec_t deadline)
{
        int status, r;

        if (c->pid <= 0)
                return -ECHILD;
        r = wait_child(c->pid, c->pidfd, deadline, &status);
        if (r == -ETIMEDOUT)
                return r;
        if (r < 0 && r != -ECHILD) /* SIGCHLD ignored: reaped behind our back, its result is lost. */
                kill_child(c->pid, c->pidfd);
        child_forget(c);
        return r < 0 ? r : decode_status(status);
}

bool gh_child_stop(gh_child *c)
{
        bool left;

        if (c->pid <= 0)
                return false;
        last_abandoned = 0;
        kill_child(c->pid, c->pidfd);
        left = last_abandoned == c->pid;
        child_forget(c);
        return left;
}

/* The child's result, or -ETIMEDOUT. out (-1: none) is the child's stdout. */
static int child_run(int (*fn)(void *userdata), void *userdata, int out, usec_t deadline)
{
        gh_child c;
        int r;

        /* Nobody would wait for the outcome, so the operation must not start. */
        if (deadline_passed(deadline))
                return -ETIMEDOUT;
        r = child_fork(fn, userdata, out, &c);
        if (r < 0)
                return r;
        r = gh_child_wait(&c, deadline);
        if (r == -ETIMEDOUT)
                (void)gh_child_stop(&c);
        return r;
}

pid_t gh_child_last_abandoned(void)
{
        return last_abandoned;
}

int gh_child_run(int (*fn)(void *userdata), void *userdata, usec_t deadline)
{
        return child_run(fn, userdata, -1, deadline);
}

int gh_child_read(int (*fn)(void *userdata), void *userdata, usec_t deadline, size_t max, char **ret)
{
        _cleanup_close_ int rd = -1, wr = -1;
        int fds[2], r;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        rd = fds[0];
        wr = fds[1];
        r = child_run(fn, userdata, wr, deadline);
        if (r < 0)
                return r;
        /* The child has exited: with our end closed too, the read ends at what it wrote. */
        close(wr);
        wr = -1;
        return read_full_fd(rd, max, ret, NULL);
}
