/* gh_child_run(), gh_child_read() and gh_child_exec(): results (and a read's output) come back from the
 * child, a deadline ends a child that never returns, crashes are errors, and no child is left behind. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <cmocka.h>

#include "host/child.h"

static int parent_marker;

static int return_value(void *userdata)
{
        return *(int *)userdata;
}

static int sleep_forever(void *userdata)
{
        /* Should gh_child_run() fail to kill it, it must not outlive the test (and hang ctest). */
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (;;)
                pause();
        return 0;
}

static int crash(void *userdata)
{
        raise(*(int *)userdata);
        return 0;
}

static int touch_and_check_pid(void *userdata)
{
        parent_marker = 1;
        return getpid() == *(pid_t *)userdata ? -EPERM : -ENOTTY;
}

static int sleep_then_enoent(void *userdata)
{
        struct timespec ts = {.tv_nsec = 300 * 1000 * 1000};

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
        return -ENOENT;
}

/* 0 when the child holds none of the caller's descriptors: only 0, 1 and 2, each on /dev/null. */
static int check_fds(void *userdata)
{
        const int *theirs = userdata;
        struct stat null, st;

        if (stat("/dev/null", &null) < 0)
                return -errno;
        for (int fd = 0; fd < 3; fd++)
                if (fstat(fd, &st) < 0 || st.st_rdev != null.st_rdev || !S_ISCHR(st.st_mode))
                        return -EBADFD;
        for (int i = 0; theirs[i] >= 0; i++)
                if (fcntl(theirs[i], F_GETFD) >= 0)
                        return -EEXIST;
        return 0;
}

/* Writes userdata's string to stdout, as a sysfs read hands its value back. */
static int print_string(void *userdata)
{
        const char *s = userdata;
        size_t n = strlen(s);

        return write(STDOUT_FILENO, s, n) == (ssize_t)n ? 0 : -EIO;
}

static int print_then_fail(void *userdata)
{
        (void)print_string(userdata);
        return -ENOENT;
}

/* No child of ours exists any more, not even a zombie. */
static void assert_no_children(void)
{
        errno = 0;
        assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
        assert_int_equal(errno, ECHILD);
}

static void test_result_passthrough(void **state)
{
        static const int results[] = {0, -EIO, -ENOENT, -ENODEV, -EBUSY};

        for (size_t i = 0; i < ELEMENTSOF(results); i++) {
                int v = results[i];

                assert_int_equal(gh_child_run(return_value, &v, deadline_after(10 * USEC_PER_SEC)),
                                 results[i]);
        }
        assert_no_children();
}

static void test_positive_is_success(void **state)
{
        int v = 7;

        assert_int_equal(gh_child_run(return_value, &v, deadline_after(10 * USEC_PER_SEC)), 0);
        assert_no_children();
}

static void test_out_of_range_error(void **state)
{
        int v = -4000;

        assert_int_equal(gh_child_run(return_value, &v, deadline_after(10 * USEC_PER_SEC)), -EIO);
}

static void test_runs_in_child(void **state)
{
        pid_t self = getpid();

        parent_marker = 0;
        assert_int_equal(gh_child_run(touch_and_check_pid, &self, deadline_after(10 * USEC_PER_SEC)),
                         -ENOTTY);
        assert_int_equal(parent_marker, 0);
}

static void test_timeout(void **state)
{
        const usec_t timeout = 300 * USEC_PER_MSEC;
        usec_t start = now_usec(), elapsed;

        assert_int_equal(gh_child_run(sleep_forever, NULL, deadline_after(timeout)), -ETIMEDOUT);
        elapsed = now_usec() - start;
        assert_true(elapsed >= timeout);
        assert_true(elapsed < 5 * USEC_PER_SEC);
        /* Killed and, asleep in user space, reaped. */
        assert_no_children();
}

static void test_deadline_passed_runs_nothing(void **state)
{
        assert_int_equal(gh_child_run(return_value, &(int){0}, now_usec() - 1), -ETIMEDOUT);
        assert_no_children();
}

static void test_crash(void **state)
{
        static const int sigs[] = {SIGSEGV, SIGABRT, SIGKILL};

        for (size_t i = 0; i < ELEMENTSOF(sigs); i++) {
                int sig = sigs[i];
                int r = gh_child_run(crash, &sig, deadline_after(10 * USEC_PER_SEC));

                assert_true(r < 0);
                assert_int_not_equal(r, -ETIMEDOUT);
        }
        assert_no_children();
}

static void on_alarm(int sig)
{
}

static void test_interrupted_wait(void **state)
{
        struct sigaction sa = {.sa_handler = on_alarm}, old;
        struct itimerval it = {.it_interval = {.tv_usec = 20000}, .it_value = {.tv_usec = 20000}};
        struct itimerval off = {};
        int r;

        /* No SA_RESTART: every tick interrupts the parent's wait with EINTR. */
        assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
        assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
        r = gh_child_run(sleep_then_enoent, NULL, deadline_after(10 * USEC_PER_SEC));
        assert_int_equal(setitimer(ITIMER_REAL, &off, NULL), 0);
        assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
        assert_int_equal(r, -ENOENT);
        assert_no_children();
}

/* A child stuck in the kernel outlives the caller: it must not keep the caller's lock file, nor the pipes
 * libvirt reads a hook's output from (it waits for their last writer), nor its stdio. */
static void test_child_holds_no_descriptor(void **state)
{
        int p[2], lock, saved[3], theirs[4], r;

        assert_int_equal(pipe(p), 0);
        lock = open("/dev/null", O_RDONLY); /* without O_CLOEXEC, as a careless caller might have it */
        assert_true(lock >= 0);
        /* The pipe as stdout and stderr, as libvirt runs a hook. */
        for (int fd = 0; fd < 3; fd++)
                assert_true((saved[fd] = dup(fd)) >= 0);
        assert_int_equal(dup2(p[1], 1), 1);
        assert_int_equal(dup2(p[1], 2), 2);
        theirs[0] = p[0], theirs[1] = p[1], theirs[2] = lock, theirs[3] = -1;
        r = gh_child_run(check_fds, theirs, deadline_after(10 * USEC_PER_SEC));
        for (int fd = 0; fd < 3; fd++) {
                assert_int_equal(dup2(saved[fd], fd), fd);
                close(saved[fd]);
        }
        close(p[0]), close(p[1]), close(lock);
        assert_int_equal(r, 0);
        assert_no_children();
}

static void test_read_returns_output(void **state)
{
        _cleanup_free_ char *s = NULL, *empty = NULL;

        assert_int_equal(
                gh_child_read(print_string, (char *)"vfio-pci", deadline_after(10 * USEC_PER_SEC), 64, &s),
                0);
        assert_string_equal(s, "vfio-pci");
        assert_int_equal(
                gh_child_read(print_string, (char *)"", deadline_after(10 * USEC_PER_SEC), 64, &empty), 0);
        assert_string_equal(empty, "");
        assert_no_children();
}

static void test_read_failure_returns_nothing(void **state)
{
        char *s = NULL;

        assert_int_equal(
                gh_child_read(print_then_fail, (char *)"half", deadline_after(10 * USEC_PER_SEC), 64, &s),
                -ENOENT);
        assert_null(s);
        assert_int_equal(
                gh_child_read(print_string, (char *)"too long", deadline_after(10 * USEC_PER_SEC), 4, &s),
                -EFBIG);
        assert_null(s);
        assert_no_children();
}

static void test_read_timeout(void **state)
{
        const usec_t timeout = 300 * USEC_PER_MSEC;
        usec_t start = now_usec(), elapsed;
        char *s = NULL;

        assert_int_equal(gh_child_read(sleep_forever, NULL, deadline_after(timeout), 64, &s), -ETIMEDOUT);
        elapsed = now_usec() - start;
        assert_true(elapsed >= timeout);
        assert_true(elapsed < 5 * USEC_PER_SEC);
        assert_null(s);
        assert_no_children();
}

/* With stdin, stdout and stderr closed, the pipe takes their numbers: the child's stdout is still it. */
static void test_read_without_std_fds(void **state)
{
        _cleanup_free_ char *s = NULL;
        int saved[3], r;

        for (int fd = 0; fd < 3; fd++)
                assert_true((saved[fd] = fcntl(fd, F_DUPFD_CLOEXEC, 10)) >= 0);
        close(0), close(1), close(2);
        r = gh_child_read(print_string, (char *)"0000:01:00.0", deadline_after(10 * USEC_PER_SEC), 64, &s);
        for (int fd = 0; fd < 3; fd++) {
                (void)dup2(saved[fd], fd);
                close(saved[fd]);
        }
        assert_int_equal(r, 0);
        assert_string_equal(s, "0000:01:00.0");
        assert_no_children();
}

/* A program by its name in PATH (udevadm trigger, for desktop-rules --write): its exit status, and one
 * that does not end by the deadline is killed, not waited for. */
static void test_exec(void **state)
{
        static const char *const ok[] = {"true", NULL}, *const failed[] = {"false", NULL},
                                 *const missing[] = {"gh-no-such-program", NULL},
                                 *const hangs[] = {"sleep", "30", NULL};
        const usec_t timeout = 300 * USEC_PER_MSEC;
        usec_t start, elapsed;
        int r;

        assert_int_equal(gh_child_exec(ok, deadline_after(10 * USEC_PER_SEC)), 0);
        r = gh_child_exec(failed, deadline_after(10 * USEC_PER_SEC));
        assert_true(r < 0);
        assert_int_not_equal(r, -ETIMEDOUT);
        assert_int_equal(gh_child_exec(missing, deadline_after(10 * USEC_PER_SEC)), -ENOENT);
        start = now_usec();
        assert_int_equal(gh_child_exec(hangs, deadline_after(timeout)), -ETIMEDOUT);
        elapsed = now_usec() - start;
        assert_true(elapsed >= timeout);
        assert_true(elapsed < 5 * USEC_PER_SEC);
        assert_no_children();
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_result_passthrough),
                cmocka_unit_test(test_positive_is_success),
                cmocka_unit_test(test_out_of_range_error),
                cmocka_unit_test(test_runs_in_child),
                cmocka_unit_test(test_timeout),
                cmocka_unit_test(test_deadline_passed_runs_nothing),
                cmocka_unit_test(test_crash),
                cmocka_unit_test(test_interrupted_wait),
                cmocka_unit_test(test_child_holds_no_descriptor),
                cmocka_unit_test(test_read_returns_output),
                cmocka_unit_test(test_read_failure_returns_nothing),
                cmocka_unit_test(test_read_timeout),
                cmocka_unit_test(test_read_without_std_fds),
                cmocka_unit_test(test_exec),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
