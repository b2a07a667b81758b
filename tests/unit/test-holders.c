/* Holders: real child processes holding temporary files as "nodes" (open, or mapped and closed), found
 * and ended; and a fake ROOT/proc tree for the parsing of fd links and maps lines. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "host/holders.h"
#include "host/logind-wait.h"
#include "proc-fake.h"
#include "shared/fileio.h"
#include "shared/strv.h"

/* Larger than any pid the kernel hands out (PID_MAX_LIMIT is 4194304): a fake pid is never real. */
#define FAKE_PID(n) (5000000 + (n))

typedef struct nodes {
        char *dir;
        char *a, *b, *c;
        char *list[4];
} nodes;

static void nodes_init(nodes *n)
{
        _cleanup_free_ char *tmp = pf_root_new("holders");
        char page[4096] = {};
        int fd;

        /* Canonical, as the kernel shows fd links and maps. */
        n->dir = realpath(tmp, NULL);
        assert_non_null(n->dir);
        assert_true(asprintf(&n->a, "%s/node a", n->dir) > 0);
        assert_true(asprintf(&n->b, "%s/node-b", n->dir) > 0);
        assert_true(asprintf(&n->c, "%s/node-c", n->dir) > 0);
        for (char **p = (char *[]){n->a, n->b, n->c, NULL}; *p; p++) {
                fd = open(*p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
                assert_true(fd >= 0);
                assert_int_equal(write(fd, page, sizeof(page)), (ssize_t)sizeof(page));
                close(fd);
        }
        n->list[0] = n->a;
        n->list[1] = n->b;
        n->list[2] = n->c;
        n->list[3] = NULL;
}

static void nodes_done(nodes *n)
{
        free(n->a);
        free(n->b);
        free(n->c);
        pf_root_free(n->dir);
        *n = (nodes){};
}

typedef enum hold_how {
        HOLD_OPEN,
        HOLD_OPEN_IGNORE_TERM,
        HOLD_MAP, /* mmap, then close the fd: only maps shows it */
} hold_how;

/* A child that holds node and then waits for signals; returns once it holds. */
static pid_t child_hold(const char *node, hold_how how, const char *comm)
{
        int p[2];
        char c;
        pid_t pid;

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int fd;

                (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                (void)prctl(PR_SET_NAME, comm);
                if (how == HOLD_OPEN_IGNORE_TERM)
                        signal(SIGTERM, SIG_IGN);
                fd = open(node, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        _exit(1);
                if (how == HOLD_MAP) {
                        if (mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED)
                                _exit(1);
                        close(fd);
                }
                if (write(p[1], "R", 1) != 1)
                        _exit(1);
                for (;;)
                        pause();
        }
        close(p[1]);
        assert_int_equal(read(p[0], &c, 1), 1);
        close(p[0]);
        return pid;
}

static void child_kill(pid_t pid)
{
        (void)kill(pid, SIGKILL);
        (void)waitpid(pid, NULL, 0);
}

static bool child_alive(pid_t pid)
{
        int status;

        return waitpid(pid, &status, WNOHANG) == 0 && kill(pid, 0) == 0;
}

static int child_term_signal(pid_t pid)
{
        int status;

        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        return WTERMSIG(status);
}

/* How often (pid, node) is listed. */
static unsigned count_holder(const gh_holder *h, size_t n, pid_t pid, const char *node)
{
        unsigned k = 0;

        for (size_t i = 0; i < n; i++)
                if (h[i].pid == pid && streq(h[i].node, node))
                        k++;
        return k;
}

static const gh_holder *find_pid(const gh_holder *h, size_t n, pid_t pid)
{
        for (size_t i = 0; i < n; i++)
                if (h[i].pid == pid)
                        return &h[i];
        return NULL;
}

static const char *comm_of(const gh_holder *h, size_t n, pid_t pid)
{
        const gh_holder *x = find_pid(h, n, pid);

        return x ? x->comm : "(not found)";
}

static void test_scan_real(void **state)
{
        nodes n;
        gh_holder *h = NULL;
        size_t k = 0;
        pid_t opener, mapper;

        nodes_init(&n);
        opener = child_hold(n.a, HOLD_OPEN_IGNORE_TERM, "gh-opener");
        mapper = child_hold(n.b, HOLD_MAP, "gh-mapper");

        assert_int_equal(gh_holders_scan("/", n.list, &h, &k), 0);
        assert_int_equal(k, 2);
        assert_int_equal(count_holder(h, k, opener, n.a), 1);
        assert_int_equal(count_holder(h, k, mapper, n.b), 1);
        assert_string_equal(comm_of(h, k, opener), "gh-opener");
        assert_string_equal(comm_of(h, k, mapper), "gh-mapper");
        assert_null(find_pid(h, k, getpid()));
        gh_holders_free(h, k);

        child_kill(opener);
        child_kill(mapper);
        nodes_done(&n);
}

static void test_scan_self(void **state)
{
        nodes n;
        gh_holder *h = NULL;
        size_t k = 0;
        _cleanup_free_ char *comm = NULL;
        _cleanup_close_ int fd = -1, fd2 = -1;

        nodes_init(&n);
        assert_int_equal(read_one_line_file("/proc/self/comm", &comm), 0);
        /* Twice the same node: still one entry. */
        fd = open(n.c, O_RDONLY | O_CLOEXEC);
        fd2 = open(n.c, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0 && fd2 >= 0);
        assert_int_equal(gh_holders_scan("/", n.list, &h, &k), 0);
        assert_int_equal(k, 1);
        assert_int_equal(h[0].pid, getpid());
        assert_string_equal(h[0].node, n.c);
        assert_string_equal(h[0].comm, comm);
        gh_holders_free(h, k);
        nodes_done(&n);
}

static void test_end_none(void **state)
{
        nodes n;
        gh_error err = {};

        nodes_init(&n);
        assert_int_equal(gh_holders_end("/", n.list, GH_HOLDERS_TERMINATE, USEC_PER_SEC,
                                        deadline_after(30 * USEC_PER_SEC), &err),
                         0);
        assert_int_equal(gh_holders_end("/", n.list, GH_HOLDERS_FAIL, USEC_PER_SEC,
                                        deadline_after(30 * USEC_PER_SEC), &err),
                         0);
        assert_false(gh_error_isset(&err));
        nodes_done(&n);
}

static void test_end_terminate(void **state)
{
        usec_t grace = 500 * USEC_PER_MSEC, start;
        gh_error err = {};
        gh_holder *h = NULL;
        size_t k = 0;
        pid_t stubborn, mapper;
        nodes n;

        nodes_init(&n);
        stubborn = child_hold(n.a, HOLD_OPEN_IGNORE_TERM, "gh-stubborn");
        mapper = child_hold(n.b, HOLD_MAP, "gh-mapper");
        start = now_usec();
        assert_int_equal(gh_holders_end("/", n.list, GH_HOLDERS_TERMINATE, grace,
                                        deadline_after(60 * USEC_PER_SEC), &err),
                         0);
        assert_false(gh_error_isset(&err));
        /* SIGTERM ended the one; the other needed SIGKILL, which waited for the grace period. */
        assert_true(now_usec() - start >= grace);
        assert_int_equal(child_term_signal(mapper), SIGTERM);
        assert_int_equal(child_term_signal(stubborn), SIGKILL);
        assert_int_equal(gh_holders_scan("/", n.list, &h, &k), 0);
        assert_int_equal(k, 0);
        gh_holders_free(h, k);
        nodes_done(&n);
}

static void test_end_deadline_before_grace(void **state)
{
        _cleanup_free_ char *want = NULL;
        gh_error err = {};
        pid_t stubborn;
        nodes n;

        nodes_init(&n);
        stubborn = child_hold(n.a, HOLD_OPEN_IGNORE_TERM, "gh-stubborn");
        /* The whole budget ends inside the grace period: whoever is left is named, and got SIGKILL. */
        assert_int_equal(gh_holders_end("/", n.list, GH_HOLDERS_TERMINATE, 60 * USEC_PER_SEC,
                                        deadline_after(300 * USEC_PER_MSEC), &err),
                         -ETIMEDOUT);
        assert_true(asprintf(&want, "pid %d (gh-stubborn) holds %s", (int)stubborn, n.a) > 0);
        assert_non_null(strstr(err.msg, want));
        assert_int_equal(child_term_signal(stubborn), SIGKILL);
        nodes_done(&n);
}

static void test_end_fail(void **state)
{
        _cleanup_free_ char *want_a = NULL, *want_b = NULL;
        gh_error err = {};
        pid_t opener, mapper;
        nodes n;

        nodes_init(&n);
        opener = child_hold(n.a, HOLD_OPEN, "gh-opener");
        mapper = child_hold(n.b, HOLD_MAP, "gh-mapper");
        assert_int_equal(gh_holders_end("/", n.list, GH_HOLDERS_FAIL, USEC_PER_SEC,
                                        deadline_after(30 * USEC_PER_SEC), &err),
                         -EBUSY);
        assert_int_equal(err.code, -EBUSY);
        assert_true(asprintf(&want_a, "pid %d (gh-opener) holds %s", (int)opener, n.a) > 0);
        assert_true(asprintf(&want_b, "pid %d (gh-mapper) holds %s", (int)mapper, n.b) > 0);
        assert_non_null(strstr(err.msg, want_a));
        assert_non_null(strstr(err.msg, want_b));
        assert_true(child_alive(opener));
        assert_true(child_alive(mapper));
        child_kill(opener);
        child_kill(mapper);
        nodes_done(&n);
}

static void test_end_protected_holder(void **state)
{
        _cleanup_free_ char *want = NULL;
        _cleanup_close_ int fd = -1;
        gh_error err = {};
        pid_t opener;
        nodes n;

        nodes_init(&n);
        opener = child_hold(n.a, HOLD_OPEN, "gh-opener");
        fd = open(n.a, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        /* We hold it too, and we are protected: nobody gets a signal, not even the child. */
        assert_int_equal(gh_holders_end("/", n.list, GH_HOLDERS_TERMINATE, 0,
                                        deadline_after(30 * USEC_PER_SEC), &err),
                         -EBUSY);
        assert_true(asprintf(&want, "pid %d (", (int)getpid()) > 0);
        assert_non_null(strstr(err.msg, want));
        assert_non_null(strstr(err.msg, "protected"));
        usleep(100 * 1000);
        assert_true(child_alive(opener));
        child_kill(opener);
        nodes_done(&n);
}

#define SESSION_SCOPE "/user.slice/user-1000.slice/session-3.scope"
#define OTHER_VM_SCOPE "/machine.slice/machine-qemu\\x2d1\\x2dother.scope"

static bool is_protected(const char *comm, const char *cgroup, const char *exe)
{
        gh_holder h = {
                .pid = FAKE_PID(1), .comm = (char *)comm, .cgroup = (char *)cgroup, .exe = (char *)exe};

        return gh_holder_is_protected(&h);
}

/* Who is protected follows from pid, cgroup and exe; the comm, anyone's to set, decides nothing. */
static void test_protected(void **state)
{
        gh_holder h = {};

        h = (gh_holder){.pid = 1, .comm = (char *)"bash", .cgroup = (char *)SESSION_SCOPE};
        assert_true(gh_holder_is_protected(&h));
        h = (gh_holder){.pid = getpid(), .comm = (char *)"test-holders"};
        assert_true(gh_holder_is_protected(&h));
        h = (gh_holder){.pid = getppid(), .comm = (char *)"ctest"};
        assert_true(gh_holder_is_protected(&h));
        h = (gh_holder){.pid = 0, .comm = (char *)"gh"};
        assert_true(gh_holder_is_protected(&h));
        assert_false(is_protected("systemd-x", SESSION_SCOPE, "/home/u/bin/x"));
        assert_false(is_protected("systemd-logind", SESSION_SCOPE, "/usr/bin/sleep"));
        assert_false(is_protected("virtqemud", SESSION_SCOPE, "/home/u/virtqemud"));
        assert_false(is_protected("libvirtd", NULL, NULL));
        assert_true(is_protected("bash", OTHER_VM_SCOPE, "/usr/bin/bash"));
        assert_true(is_protected("qemu-system-x86", OTHER_VM_SCOPE "/libvirt/emulator", NULL));
        assert_true(is_protected("gh-worker", "/system.slice/libvirtd.service", "/usr/bin/python3"));
        assert_true(is_protected("gh-worker", "/system.slice/virtqemud.service", NULL));
        assert_true(is_protected("rpc-worker", SESSION_SCOPE, "/usr/sbin/virtqemud"));
        assert_true(is_protected("x", "/system.slice/systemd-logind.service", NULL));
        assert_true(is_protected("x", "/init.scope", NULL));
        assert_true(is_protected("systemd", "/user.slice/user-1000.slice/user@1000.service/init.scope",
                                 "/usr/lib/systemd/systemd"));
        assert_false(is_protected("gnome-shell",
                                  "/user.slice/user-1000.slice/user@1000.service/session.slice/"
                                  "org.gnome.Shell@wayland.service",
                                  "/usr/bin/gnome-shell"));
        assert_false(is_protected("Xorg", "/system.slice/gdm.service", "/usr/lib/xorg/Xorg"));
}

/* A fake ROOT/proc: fd links, maps lines with spaces and " (deleted)", a process gone mid-scan. */
static char *fake_proc(void)
{
        char *root = pf_root_new("holders-proc");
        char p[128];

#define FAKE(n, rel) (snprintf(p, sizeof(p), "/proc/%d/%s", FAKE_PID(n), rel), p)
        pf_symlink(root, FAKE(100, "fd/3"), "/dev/dri/card0");
        pf_symlink(root, FAKE(100, "fd/4"), "/dev/dri/card0");
        pf_symlink(root, FAKE(100, "fd/5"), "/dev/null");
        pf_write(root, FAKE(100, "comm"), "Xorg\n");
        pf_write(
                root, FAKE(100, "maps"),
                "7f0000000000-7f0000001000 rw-s 00000000 00:05 1234                       /dev/dri/card0\n");

        pf_mkdir(root, FAKE(200, "fd"));
        pf_write(root, FAKE(200, "comm"), "gnome-shell\n");
        pf_write(root, FAKE(200, "maps"),
                 "55d000000000-55d000001000 r--p 00000000 08:01 99                         "
                 "/usr/bin/gnome-shell\n"
                 "7f0000002000-7f0000003000 rw-p 00000000 00:00 0 \n"
                 "7f0000004000-7f0000005000 rw-s 00000000 00:05 1234                       /dev/my gpu/node "
                 "1 "
                 "(deleted)\n"
                 "7f0000006000-7f0000007000 rw-s 10000000 00:05 1235                       /dev/dri/card0x\n"
                 "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]\n");

        pf_symlink(root, FAKE(300, "fd/7"), "/dev/dri/renderD128 (deleted)");
        pf_write(root, FAKE(300, "comm"), "kwin_wayland\n");
        pf_write(root, FAKE(300, "maps"), "");

        /* Gone between reading its fds and its comm. */
        pf_symlink(root, FAKE(400, "fd/3"), "/dev/dri/card0");
        pf_write(root, FAKE(400, "maps"), "");

        pf_symlink(root, FAKE(500, "fd/3"), "/dev/dri/card");
        pf_write(root, FAKE(500, "comm"), "other\n");
        pf_write(root, FAKE(500, "maps"), "");

        pf_write(root, "/proc/cmdline", "quiet\n");
        pf_mkdir(root, "/proc/sys");
        pf_symlink(root, "/proc/self", "1");
#undef FAKE
        return root;
}

static char *const fake_nodes[] = {(char *)"/dev/dri/card0", (char *)"/dev/dri/renderD128",
                                   (char *)"/dev/my gpu/node 1", NULL};

static void test_scan_fake_proc(void **state)
{
        _cleanup_pf_root_ char *root = fake_proc();
        gh_holder *h = NULL;
        size_t k = 0;

        assert_int_equal(gh_holders_scan(root, fake_nodes, &h, &k), 0);
        assert_int_equal(k, 3);
        assert_int_equal(count_holder(h, k, FAKE_PID(100), "/dev/dri/card0"), 1);
        assert_int_equal(count_holder(h, k, FAKE_PID(200), "/dev/my gpu/node 1"), 1);
        assert_int_equal(count_holder(h, k, FAKE_PID(300), "/dev/dri/renderD128"), 1);
        assert_string_equal(comm_of(h, k, FAKE_PID(100)), "Xorg");
        assert_string_equal(comm_of(h, k, FAKE_PID(200)), "gnome-shell");
        assert_string_equal(comm_of(h, k, FAKE_PID(300)), "kwin_wayland");
        /* sd-login only describes this system's processes. */
        for (size_t i = 0; i < k; i++) {
                assert_null(h[i].unit);
                assert_null(h[i].session);
        }
        gh_holders_free(h, k);
}

static void test_end_fake_proc(void **state)
{
        _cleanup_pf_root_ char *root = fake_proc();
        _cleanup_free_ char *want = NULL;
        gh_error err = {}, err2 = {};

        assert_int_equal(
                gh_holders_end(root, fake_nodes, GH_HOLDERS_FAIL, 0, deadline_after(USEC_PER_SEC), &err),
                -EBUSY);
        assert_true(asprintf(&want, "pid %d (Xorg) holds /dev/dri/card0", FAKE_PID(100)) > 0);
        assert_non_null(strstr(err.msg, want));
        /* Its pids belong to no process here: ending them is refused rather than signalling strangers. */
        assert_int_equal(gh_holders_end(root, fake_nodes, GH_HOLDERS_TERMINATE, 0,
                                        deadline_after(USEC_PER_SEC), &err2),
                         -EOPNOTSUPP);
}

/* A fake ROOT/proc where each holder says who it is through its cgroup, exe and stat. */
static void fake_ident_holder(const char *root, int n, const char *comm, const char *cgroup, const char *exe,
                              const char *node)
{
        char p[128];

        pf_proc_pid(root, FAKE_PID(n), comm, cgroup, exe, 1000 + n);
        snprintf(p, sizeof(p), "/proc/%d/fd/3", FAKE_PID(n));
        pf_symlink(root, p, node);
        snprintf(p, sizeof(p), "/proc/%d/maps", FAKE_PID(n));
        pf_write(root, p, "");
}

static char *fake_ident_root(void)
{
        char *root = pf_root_new("holders-ident");

        pf_mkdir(root, "/proc/sys");
        pf_symlink(root, "/proc/self", "1");
        return root;
}

static const gh_holder *scan_one(const char *root, gh_holder **h, size_t *k, int n)
{
        assert_int_equal(gh_holders_scan(root, fake_nodes, h, k), 0);
        assert_int_equal(*k, 1);
        assert_int_equal((*h)[0].pid, FAKE_PID(n));
        return &(*h)[0];
}

static void test_scan_fake_ident(void **state)
{
        _cleanup_pf_root_ char *root = fake_ident_root();
        gh_holder *h = NULL;
        const gh_holder *x;
        size_t k = 0;

        fake_ident_holder(root, 600, "systemd-x", SESSION_SCOPE, "/home/u/bin/x", "/dev/dri/card0");
        x = scan_one(root, &h, &k, 600);
        assert_string_equal(x->comm, "systemd-x");
        assert_string_equal(x->cgroup, SESSION_SCOPE);
        assert_string_equal(x->exe, "/home/u/bin/x");
        assert_string_equal(x->unit, "session-3.scope");
        assert_int_equal(x->start_time, 1600);
        assert_false(gh_holder_is_protected(x));
        gh_holders_free(h, k);
        pf_remove(root, "/proc");
        pf_symlink(root, "/proc/self", "1");

        /* cgroup v1 (hybrid hosts): the name=systemd hierarchy; a comm with ") (" in it. */
        fake_ident_holder(
                root, 700, "a) (b",
                "12:pids:/system.slice/libvirtd.service\n1:name=systemd:/system.slice/libvirtd.service\n",
                "/usr/bin/python3", "/dev/dri/renderD128");
        x = scan_one(root, &h, &k, 700);
        assert_string_equal(x->cgroup, "/system.slice/libvirtd.service");
        assert_string_equal(x->unit, "libvirtd.service");
        assert_int_equal(x->start_time, 1700);
        assert_true(gh_holder_is_protected(x));
        gh_holders_free(h, k);
}

static int end_fake(const char *root, gh_error *err)
{
        return gh_holders_end(root, fake_nodes, GH_HOLDERS_TERMINATE, 0, deadline_after(USEC_PER_SEC), err);
}

/* Another VM's QEMU using the render node (virgl, SPICE GL) is never ended, whatever its comm. */
static void test_end_fake_other_vm(void **state)
{
        _cleanup_pf_root_ char *root = fake_ident_root();
        _cleanup_free_ char *want = NULL;
        gh_error err = {};

        fake_ident_holder(root, 600, "systemd-x", SESSION_SCOPE, "/home/u/bin/x", "/dev/dri/card0");
        fake_ident_holder(root, 700, "bash", OTHER_VM_SCOPE "/libvirt/emulator",
                          "/usr/bin/qemu-system-x86_64", "/dev/dri/renderD128");
        assert_int_equal(end_fake(root, &err), -EBUSY);
        assert_true(asprintf(&want,
                             "pid %d (bash) holds /dev/dri/renderD128 and is protected: VM 'other', unit "
                             "machine-qemu\\x2d1\\x2dother.scope; not ending any holder",
                             FAKE_PID(700)) > 0);
        assert_string_equal(err.msg, want);
        assert_null(strchr(err.msg, '\n'));
}

static void assert_end_fake_protected_on(int n, const char *comm, const char *cgroup, const char *exe,
                                         const char *node, const char *why)
{
        _cleanup_pf_root_ char *root = fake_ident_root();
        _cleanup_free_ char *want = NULL;
        gh_error err = {};

        fake_ident_holder(root, n, comm, cgroup, exe, node);
        assert_int_equal(end_fake(root, &err), -EBUSY);
        assert_true(asprintf(&want, "pid %d (%s) holds %s and is protected: %s;", FAKE_PID(n), comm, node,
                             why) > 0);
        assert_non_null(strstr(err.msg, want));
}

static void assert_end_fake_protected(int n, const char *comm, const char *cgroup, const char *exe,
                                      const char *why)
{
        _cleanup_pf_root_ char *root = fake_ident_root();
        _cleanup_free_ char *want = NULL;
        gh_error err = {};

        fake_ident_holder(root, n, comm, cgroup, exe, "/dev/dri/card0");
        assert_int_equal(end_fake(root, &err), -EBUSY);
        assert_true(asprintf(&want, "pid %d (%s) holds /dev/dri/card0 and is protected: %s;", FAKE_PID(n),
                             comm, why) > 0);
        assert_non_null(strstr(err.msg, want));
}

static void test_end_fake_protected(void **state)
{
        _cleanup_pf_root_ char *root = fake_ident_root();
        gh_error err = {};

        assert_end_fake_protected(800, "gh-worker", "/system.slice/libvirtd.service", "/usr/bin/python3",
                                  "libvirt's daemon, unit libvirtd.service");
        assert_end_fake_protected(801, "bash", "/system.slice/virtqemud.service", NULL,
                                  "libvirt's daemon, unit virtqemud.service");
        /* logind on a node it never hands out (a render node): systemd's, protected. On a card it is its
         * copy of a session's device (test_end_fake_logind_copies). */
        assert_end_fake_protected_on(802, "x", "/system.slice/systemd-logind.service",
                                     "/usr/lib/systemd/systemd-logind", "/dev/dri/renderD128",
                                     "systemd, unit systemd-logind.service");
        /* Not protected: it gets as far as signalling, which a fake root's pids never get. */
        fake_ident_holder(root, 600, "systemd-x", SESSION_SCOPE, "/home/u/bin/x", "/dev/dri/card0");
        assert_int_equal(end_fake(root, &err), -EOPNOTSUPP);
}

#define LOGIND_UNIT_CGROUP "/system.slice/systemd-logind.service"

/* GNOME took card0 through logind: PID 1 (its fd store) and systemd-logind hold it too. */
static void fake_logind_copies(const char *root)
{
        pf_proc_pid(root, 1, "systemd", "/init.scope", "/usr/lib/systemd/systemd", 1);
        pf_symlink(root, "/proc/1/fd/40", "/dev/dri/card0");
        pf_write(root, "/proc/1/maps", "");
        fake_ident_holder(root, 412, "systemd-logind", LOGIND_UNIT_CGROUP, "/usr/lib/systemd/systemd-logind",
                          "/dev/dri/card0");
}

/* logind's and PID 1's copies are neither refused nor signalled, in either mode; the session's process
 * is the holder, named alone. */
static void test_end_fake_logind_copies(void **state)
{
        _cleanup_pf_root_ char *root = fake_ident_root();
        _cleanup_free_ char *want = NULL;
        gh_error err = {};

        fake_logind_copies(root);
        assert_int_equal(
                gh_holders_end(root, fake_nodes, GH_HOLDERS_FAIL, 0, deadline_after(USEC_PER_SEC), &err), 0);
        assert_int_equal(end_fake(root, &err), 0);
        assert_false(gh_error_isset(&err));
        fake_ident_holder(root, 600, "gnome-shell", SESSION_SCOPE, "/usr/bin/gnome-shell", "/dev/dri/card0");
        assert_int_equal(
                gh_holders_end(root, fake_nodes, GH_HOLDERS_FAIL, 0, deadline_after(USEC_PER_SEC), &err),
                -EBUSY);
        assert_true(asprintf(&want, "device nodes in use: pid %d (gnome-shell) holds /dev/dri/card0",
                             FAKE_PID(600)) > 0);
        assert_string_equal(err.msg, want);
}

/* By its unit, not its comm: a process of a session calling itself systemd-logind is a holder. */
static void test_end_fake_logind_by_unit(void **state)
{
        _cleanup_pf_root_ char *root = fake_ident_root();
        _cleanup_free_ char *want = NULL;
        gh_error err = {};

        fake_ident_holder(root, 601, "systemd-logind", SESSION_SCOPE, "/home/u/systemd-logind",
                          "/dev/dri/card0");
        assert_int_equal(
                gh_holders_end(root, fake_nodes, GH_HOLDERS_FAIL, 0, deadline_after(USEC_PER_SEC), &err),
                -EBUSY);
        assert_true(asprintf(&want, "pid %d (systemd-logind) holds /dev/dri/card0", FAKE_PID(601)) > 0);
        assert_non_null(strstr(err.msg, want));
}

/* logind never lets go: the wait ends at its deadline naming the node, PID 1's fd store and logind. */
static void test_logind_wait_times_out(void **state)
{
        _cleanup_pf_root_ char *root = fake_ident_root();
        _cleanup_free_ char *want = NULL;
        usec_t start = now_usec();
        gh_error err = {};

        fake_logind_copies(root);
        assert_int_equal(
                gh_logind_wait_released(root, fake_nodes, deadline_after(200 * USEC_PER_MSEC), &err),
                -ETIMEDOUT);
        assert_true(now_usec() - start >= 200 * USEC_PER_MSEC);
        /* In the order the scan finds them: each named once, with its node. */
        assert_true(startswith(err.msg, "logind has not released its copies of the session's devices by the "
                                        "deadline: /dev/dri/card0: "));
        assert_non_null(strstr(err.msg, "/dev/dri/card0: pid 1 (systemd) keeps it in its fd store"));
        assert_true(asprintf(&want,
                             "/dev/dri/card0: pid %d (systemd-logind) of systemd-logind.service holds it",
                             FAKE_PID(412)) > 0);
        assert_non_null(strstr(err.msg, want));
        assert_true(endswith(err.msg, "; the session that took it may still be running"));
}

/* logind lets go a little later, as it does once the compositor's bus connection is gone: the wait sees
 * it, and an ordinary holder left is none of its business. */
static void test_logind_wait_released_later(void **state)
{
        _cleanup_pf_root_ char *root = fake_ident_root();
        _cleanup_free_ char *fd1 = NULL, *fdl = NULL;
        gh_error err = {};
        pid_t child;
        int status;

        fake_logind_copies(root);
        fake_ident_holder(root, 600, "bash", SESSION_SCOPE, "/usr/bin/bash", "/dev/dri/renderD128");
        fd1 = pf_path(root, "/proc/1/fd/40");
        assert_true(asprintf(&fdl, "%s/proc/%d/fd/3", root, FAKE_PID(412)) > 0);
        child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                usleep(100 * 1000);
                _exit(unlink(fdl) == 0 && unlink(fd1) == 0 ? 0 : 1);
        }
        assert_int_equal(gh_logind_wait_released(root, fake_nodes, deadline_after(10 * USEC_PER_SEC), &err),
                         0);
        assert_false(gh_error_isset(&err));
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static char *const dmabuf_targets[] = {(char *)"/dev/dri/card0", (char *)GH_DMABUF_PREFIX "nv_dmabuf",
                                       (char *)GH_DMABUF_PREFIX "drm", NULL};

/* dma-bufs by their exporter, as fdinfo shows it; never by the name a process gives its buffer. */
static void test_scan_fake_dmabuf(void **state)
{
        _cleanup_pf_root_ char *root = fake_ident_root();
        _cleanup_free_ char *want = NULL;
        gh_holder *h = NULL;
        gh_error err = {};
        size_t k = 0;

        pf_proc_pid(root, FAKE_PID(910), "obs", SESSION_SCOPE, "/usr/bin/obs", 1910);
        pf_proc_dmabuf(root, FAKE_PID(910), 5, "", "nv_dmabuf");
        pf_proc_dmabuf(root, FAKE_PID(910), 6, "", "system");
        pf_proc_pid(root, FAKE_PID(911), "compositor", SESSION_SCOPE, "/usr/bin/c", 1911);
        pf_proc_dmabuf(root, FAKE_PID(911), 5, "drm", "i915");
        pf_proc_pid(root, FAKE_PID(912), "ffmpeg", SESSION_SCOPE, "/usr/bin/ffmpeg", 1912);
        pf_proc_dmabuf(root, FAKE_PID(912), 7, "frame", "drm");

        assert_int_equal(gh_holders_scan(root, dmabuf_targets, &h, &k), 0);
        assert_int_equal(k, 2);
        assert_int_equal(count_holder(h, k, FAKE_PID(910), GH_DMABUF_PREFIX "nv_dmabuf"), 1);
        assert_int_equal(count_holder(h, k, FAKE_PID(912), GH_DMABUF_PREFIX "drm"), 1);
        assert_string_equal(gh_holder_what(find_pid(h, k, FAKE_PID(912))), "a dma-buf exported by drm");
        gh_holders_free(h, k);
        /* No dma-buf asked for: none found. */
        assert_int_equal(gh_holders_scan(root, fake_nodes, &h, &k), 0);
        assert_int_equal(k, 0);
        gh_holders_free(h, k);

        assert_int_equal(
                gh_holders_end(root, dmabuf_targets, GH_HOLDERS_FAIL, 0, deadline_after(USEC_PER_SEC), &err),
                -EBUSY);
        assert_true(asprintf(&want, "pid %d (obs) holds a dma-buf exported by nv_dmabuf", FAKE_PID(910)) >
                    0);
        assert_non_null(strstr(err.msg, want));
}

static char *const i2c_nodes[] = {(char *)"/dev/i2c-5", (char *)"/dev/i2c-7", (char *)"/dev/i2c-9", NULL};

/* /dev/i2c-N named with the function its adapter belongs to, wherever under it sysfs has the adapter. */
static void test_scan_fake_i2c(void **state)
{
        _cleanup_pf_root_ char *root = fake_ident_root();
        _cleanup_free_ char *want5 = NULL, *want7 = NULL, *want9 = NULL;
        gh_error err = {};

#define GPU_DIR "/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0"
        pf_mkdir(root, GPU_DIR "/i2c-5/i2c-dev/i2c-5");
        pf_symlink(root, "/sys/bus/i2c/devices/i2c-5",
                   "../../.."
                   "/devices/pci0000:00/0000:00:01.0/0000:01:00.0/i2c-5");
        pf_mkdir(root, GPU_DIR "/drm/card1/card1-DP-1/i2c-7/i2c-dev/i2c-7");
        pf_symlink(root, "/sys/bus/i2c/devices/i2c-7",
                   "../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/drm/card1/card1-DP-1/i2c-7");
#undef GPU_DIR
        fake_ident_holder(root, 920, "powerdevil", SESSION_SCOPE, "/usr/lib/powerdevil", "/dev/i2c-5");
        fake_ident_holder(root, 921, "ddcutil", SESSION_SCOPE, "/usr/bin/ddcutil", "/dev/i2c-7");
        fake_ident_holder(root, 922, "i2cdump", SESSION_SCOPE, "/usr/sbin/i2cdump", "/dev/i2c-9");
        assert_int_equal(
                gh_holders_end(root, i2c_nodes, GH_HOLDERS_FAIL, 0, deadline_after(USEC_PER_SEC), &err),
                -EBUSY);
        assert_true(asprintf(&want5, "pid %d (powerdevil) holds /dev/i2c-5 (DDC of 0000:01:00.0)",
                             FAKE_PID(920)) > 0);
        assert_true(asprintf(&want7, "pid %d (ddcutil) holds /dev/i2c-7 (DDC of 0000:01:00.0)",
                             FAKE_PID(921)) > 0);
        /* An adapter sysfs does not show: named by its node alone. */
        assert_true(asprintf(&want9, "pid %d (i2cdump) holds /dev/i2c-9;", FAKE_PID(922)) > 0);
        assert_non_null(strstr(err.msg, want5));
        assert_non_null(strstr(err.msg, want7));
        assert_true(strstr(err.msg, want9) || endswith(err.msg, "holds /dev/i2c-9"));
}

/* Named like one of systemd's daemons, in the test's own cgroup, with the test's exe: signalled. */
static void test_end_systemd_named(void **state)
{
        gh_error err = {};
        pid_t child;
        nodes n;

        nodes_init(&n);
        child = child_hold(n.a, HOLD_OPEN, "systemd-x");
        assert_int_equal(gh_holders_end("/", n.list, GH_HOLDERS_TERMINATE, 5 * USEC_PER_SEC,
                                        deadline_after(30 * USEC_PER_SEC), &err),
                         0);
        assert_false(gh_error_isset(&err));
        assert_int_equal(child_term_signal(child), SIGTERM);
        nodes_done(&n);
}

static void test_scan_real_ident(void **state)
{
        _cleanup_free_ char *cg = NULL, *stat = NULL, *path = NULL;
        char exe[PATH_MAX];
        ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        gh_holder *h = NULL;
        size_t k = 0;
        pid_t child;
        nodes n;

        assert_true(len > 0);
        exe[len] = 0;
        nodes_init(&n);
        child = child_hold(n.a, HOLD_OPEN, "gh-ident");
        assert_int_equal(gh_holders_scan("/", n.list, &h, &k), 0);
        assert_int_equal(k, 1);
        assert_string_equal(h[0].exe, exe);
        assert_non_null(h[0].cgroup);
        assert_int_equal(h[0].cgroup[0], '/');
        assert_true(h[0].start_time > 0);
        gh_holders_free(h, k);
        child_kill(child);
        nodes_done(&n);
}

/* The pid the scan saw names another process by the time it is signalled (recycled: another start
 * time). It is gone, and the process now behind the pid gets no signal. */
static void test_end_recycled_pid(void **state)
{
        gh_error err = {};
        gh_holder *h = NULL;
        size_t k = 0;
        pid_t child;
        nodes n;

        nodes_init(&n);
        child = child_hold(n.a, HOLD_OPEN, "gh-recycled");
        assert_int_equal(gh_holders_scan("/", n.list, &h, &k), 0);
        assert_int_equal(k, 1);
        h[0].start_time--;
        assert_int_equal(gh_holders_terminate("/", n.list, h, k, 0, deadline_after(30 * USEC_PER_SEC), &err),
                         0);
        usleep(100 * 1000);
        assert_true(child_alive(child));
        h[0].start_time = 0; /* unknown is not the same */
        assert_int_equal(gh_holders_terminate("/", n.list, h, k, 0, deadline_after(30 * USEC_PER_SEC), &err),
                         0);
        usleep(100 * 1000);
        assert_true(child_alive(child));
        gh_holders_free(h, k);

        /* The same process, as scanned: signalled. */
        assert_int_equal(gh_holders_scan("/", n.list, &h, &k), 0);
        assert_int_equal(gh_holders_terminate("/", n.list, h, k, 5 * USEC_PER_SEC,
                                              deadline_after(30 * USEC_PER_SEC), &err),
                         0);
        assert_false(gh_error_isset(&err));
        assert_int_equal(child_term_signal(child), SIGTERM);
        gh_holders_free(h, k);
        nodes_done(&n);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_scan_real),
                cmocka_unit_test(test_scan_self),
                cmocka_unit_test(test_end_none),
                cmocka_unit_test(test_end_terminate),
                cmocka_unit_test(test_end_deadline_before_grace),
                cmocka_unit_test(test_end_fail),
                cmocka_unit_test(test_end_protected_holder),
                cmocka_unit_test(test_protected),
                cmocka_unit_test(test_scan_fake_proc),
                cmocka_unit_test(test_end_fake_proc),
                cmocka_unit_test(test_scan_fake_ident),
                cmocka_unit_test(test_end_fake_other_vm),
                cmocka_unit_test(test_end_fake_protected),
                cmocka_unit_test(test_end_fake_logind_copies),
                cmocka_unit_test(test_end_fake_logind_by_unit),
                cmocka_unit_test(test_logind_wait_times_out),
                cmocka_unit_test(test_logind_wait_released_later),
                cmocka_unit_test(test_scan_fake_dmabuf),
                cmocka_unit_test(test_scan_fake_i2c),
                cmocka_unit_test(test_end_systemd_named),
                cmocka_unit_test(test_scan_real_ident),
                cmocka_unit_test(test_end_recycled_pid),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
