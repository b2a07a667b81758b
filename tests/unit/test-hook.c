/* The libc-only hook entry: which libvirt events exec the tool, with exactly which arguments and stdin, and
 * that the installed binary links libc alone (static-pie: no loader and no library; or libc.so.6 alone,
 * as hooks/CMakeLists.txt chose). This program is also the recorder the hook execs:
 * run with GH_RECORD_DIR set, it writes down its argv, stdin and pid there. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "elf-needed.h"
#include "shared/fileio.h"
#include "shared/macro.h"
#include "shared/strv.h"

#define HOOK_TEST GH_BUILD_DIR "/hooks/gpu-handover-hook-test"
#define HOOK_INSTALLED GH_BUILD_DIR "/hooks/qemu-hook"
#define STDIN_SIZE (96 * 1024)

typedef struct fixture {
        char root[64];
        char *recdir;
        char *input; /* the stdin file every run gets */
        char *tool;  /* this program, as the recorder */
} fixture;

typedef struct hook_run {
        int status; /* exit status; 128 + signal when killed */
        pid_t pid;
        char *out;
        char *err;
        bool execed; /* the recorder ran */
        char **argv; /* what it was given, argv[0] included */
        char *input;
        size_t input_len;
        pid_t rec_pid;
} hook_run;

/* ---- the recorder ---- */

static int write_all(int fd, const void *p, size_t n)
{
        while (n > 0) {
                ssize_t k = write(fd, p, n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return -1;
                p = (const char *)p + k;
                n -= (size_t)k;
        }
        return 0;
}

static int record_file(const char *dir, const char *name, const void *data, size_t n)
{
        char path[PATH_MAX];
        int fd, r;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return -1;
        r = write_all(fd, data, n);
        return close(fd) < 0 ? -1 : r;
}

static int record(const char *dir, int argc, char *argv[])
{
        _cleanup_free_ char *args = NULL, *in = NULL;
        size_t args_len = 0, in_len = 0;
        FILE *m = open_memstream(&args, &args_len);
        char pid[32];
        const char *code = getenv("GH_RECORD_EXIT");

        if (!m)
                return 99;
        for (int i = 0; i < argc; i++)
                fwrite(argv[i], 1, strlen(argv[i]) + 1, m);
        if (fclose(m) != 0 || read_full_fd(STDIN_FILENO, 16 << 20, &in, &in_len) < 0)
                return 99;
        snprintf(pid, sizeof(pid), "%ld", (long)getpid());
        if (record_file(dir, "stdin", in, in_len) < 0 || record_file(dir, "pid", pid, strlen(pid)) < 0)
                return 99;
        /* Written last: its presence means the whole record is there. */
        if (record_file(dir, "argv", args, args_len) < 0)
                return 99;
        return code ? atoi(code) : 0;
}

/* ---- running the hook ---- */

static char *rpath(const fixture *f, const char *path)
{
        char *p = path_join(f->root, path);

        assert_non_null(p);
        return p;
}

static char *slurp(const char *path, size_t *ret_len)
{
        char *buf = NULL;

        assert_int_equal(read_full_file(path, 16 << 20, &buf, ret_len), 0);
        return buf;
}

static void touch(const fixture *f, const char *path)
{
        _cleanup_free_ char *p = rpath(f, path);
        char *s = p + strlen(f->root) + 1;

        for (; (s = strchr(s, '/')); s++) {
                *s = 0;
                assert_true(mkdir(p, 0755) == 0 || errno == EEXIST);
                *s = '/';
        }
        _cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
}

static char **split_nul(const char *buf, size_t n)
{
        _cleanup_strv_free_ char **l = NULL;

        for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
                assert_int_equal(strv_extend(&l, buf + i), 0);
        if (!l)
                l = calloc(1, sizeof(char *));
        return TAKE_PTR(l);
}

static void read_record(const fixture *f, hook_run *run)
{
        _cleanup_free_ char *argvp = NULL, *stdinp = NULL, *pidp = NULL, *args = NULL, *pid = NULL;
        size_t n;

        assert_true(asprintf(&argvp, "%s/argv", f->recdir) > 0);
        assert_true(asprintf(&stdinp, "%s/stdin", f->recdir) > 0);
        assert_true(asprintf(&pidp, "%s/pid", f->recdir) > 0);
        run->execed = access(argvp, F_OK) == 0;
        if (!run->execed)
                return;
        args = slurp(argvp, &n);
        run->argv = split_nul(args, n);
        run->input = slurp(stdinp, &run->input_len);
        pid = slurp(pidp, NULL);
        run->rec_pid = (pid_t)atol(pid);
        (void)unlink(argvp);
        (void)unlink(stdinp);
        (void)unlink(pidp);
}

static _noreturn_ void exec_child(const fixture *f, const char *bin, const char *tool, const char *code,
                                  char *const argv[], const char *outp, const char *errp)
{
        int in = open(f->input, O_RDONLY | O_CLOEXEC);
        int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        if (in < 0 || o < 0 || e < 0 || dup2(in, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
                _exit(126);
        if (setenv("GH_TEST_ROOT", f->root, 1) < 0 || setenv("GH_TEST_TOOL", tool, 1) < 0 ||
            setenv("GH_RECORD_DIR", f->recdir, 1) < 0)
                _exit(126);
        if (code && setenv("GH_RECORD_EXIT", code, 1) < 0)
                _exit(126);
        execv(bin, argv);
        _exit(127);
}

/* Runs bin as libvirt would: "qemu DOMAIN OP SUBOP EXTRA", the XML on stdin. */
static void run_bin(const fixture *f, const char *bin, const char *tool, const char *code,
                    char *const argv[], hook_run *ret)
{
        _cleanup_free_ char *outp = NULL, *errp = NULL;
        int status;

        assert_true(asprintf(&outp, "%s.stdout", f->root) > 0);
        assert_true(asprintf(&errp, "%s.stderr", f->root) > 0);
        *ret = (hook_run){};
        ret->pid = fork();
        assert_true(ret->pid >= 0);
        if (ret->pid == 0)
                exec_child(f, bin, tool, code, argv, outp, errp);
        assert_int_equal(waitpid(ret->pid, &status, 0), ret->pid);
        ret->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        ret->out = slurp(outp, NULL);
        ret->err = slurp(errp, NULL);
        (void)unlink(outp);
        (void)unlink(errp);
        read_record(f, ret);
}

static void hook_run_done(hook_run *run)
{
        free(run->out);
        free(run->err);
        strv_free(run->argv);
        free(run->input);
}

static void run_hook(const fixture *f, const char *dom, const char *op, const char *sub, hook_run *ret)
{
        char *argv[] = {(char *)"qemu", (char *)dom, (char *)op, (char *)sub, (char *)"-", NULL};

        run_bin(f, HOOK_TEST, f->tool, NULL, argv, ret);
}

/* The tool was exec'd in the hook's own process, with exactly these arguments and the whole stdin. */
static void assert_execed(const fixture *f, const hook_run *run, const char *dom, const char *op,
                          const char *sub, const char *extra)
{
        _cleanup_free_ char *input = NULL;
        size_t n;

        assert_true(run->execed);
        assert_int_equal(strv_length(run->argv), 9);
        assert_string_equal(run->argv[0], "gpu-handover");
        assert_string_equal(run->argv[1], "--root");
        assert_string_equal(run->argv[2], f->root);
        assert_string_equal(run->argv[3], "hook");
        assert_string_equal(run->argv[4], "qemu");
        assert_string_equal(run->argv[5], dom);
        assert_string_equal(run->argv[6], op);
        assert_string_equal(run->argv[7], sub);
        assert_string_equal(run->argv[8], extra);
        input = slurp(f->input, &n);
        assert_int_equal(run->input_len, n);
        assert_memory_equal(run->input, input, n);
        assert_int_equal(run->rec_pid, run->pid);
        /* stdout belongs to libvirt: nothing of ours may appear there. */
        assert_string_equal(run->out, "");
}

static void assert_quiet_exit(const hook_run *run)
{
        assert_false(run->execed);
        assert_int_equal(run->status, 0);
        assert_string_equal(run->out, "");
        assert_string_equal(run->err, "");
}

/* ---- fixtures ---- */

static void write_input(const char *path)
{
        _cleanup_free_ char *buf = malloc(STDIN_SIZE);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        const char *head = "<domain type='kvm'>\n  <name>win10</name>\n";
        uint32_t x = 2463534242u;

        assert_non_null(buf);
        assert_true(fd >= 0);
        /* XML-looking start, then every byte value, NULs and newlines included. */
        for (size_t i = 0; i < STDIN_SIZE; i++) {
                x ^= x << 13, x ^= x >> 17, x ^= x << 5;
                buf[i] = (char)(x & 0xff);
        }
        memcpy(buf, head, strlen(head));
        assert_int_equal(write_all(fd, buf, STDIN_SIZE), 0);
}

static int setup(void **state)
{
        fixture *f = calloc(1, sizeof(*f));
        char self[PATH_MAX];
        ssize_t n;

        assert_non_null(f);
        strcpy(f->root, "/tmp/gh-test-hook.XXXXXX");
        assert_non_null(mkdtemp(f->root));
        f->recdir = rpath(f, "/record");
        f->input = rpath(f, "/input.xml");
        assert_int_equal(mkdir(f->recdir, 0700), 0);
        write_input(f->input);
        n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        assert_true(n > 0);
        self[n] = 0;
        f->tool = strdup(self);
        assert_non_null(f->tool);
        *state = f;
        return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
        fixture *f = *state;

        assert_int_equal(nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
        free(f->recdir);
        free(f->input);
        free(f->tool);
        free(f);
        return 0;
}

/* ---- the decisions ---- */

static void test_prepare_begin_execs(void **state)
{
        fixture *f = *state;
        _cleanup_(hook_run_done) hook_run run = {};

        touch(f, "/etc/gpu-handover/domains/win10.conf");
        run_hook(f, "win10", "prepare", "begin", &run);
        assert_execed(f, &run, "win10", "prepare", "begin", "-");
        assert_int_equal(run.status, 0);
}

static void test_release_end_execs(void **state)
{
        fixture *f = *state;
        _cleanup_(hook_run_done) hook_run run = {};

        touch(f, "/etc/gpu-handover/domains/win10.conf");
        run_hook(f, "win10", "release", "end", &run);
        assert_execed(f, &run, "win10", "release", "end", "-");
}

static void test_exit_status_is_the_tools(void **state)
{
        fixture *f = *state;
        _cleanup_(hook_run_done) hook_run run = {};
        char *argv[] = {(char *)"qemu",  (char *)"win10", (char *)"prepare",
                        (char *)"begin", (char *)"x y",   NULL};

        /* libvirt refuses the start on a non-zero status: the tool's verdict must reach it unchanged. */
        touch(f, "/etc/gpu-handover/domains/win10.conf");
        run_bin(f, HOOK_TEST, f->tool, "3", argv, &run);
        assert_execed(f, &run, "win10", "prepare", "begin", "x y");
        assert_int_equal(run.status, 3);
}

static void test_missing_extra_becomes_dash(void **state)
{
        fixture *f = *state;
        _cleanup_(hook_run_done) hook_run run = {}, shorter = {};
        char *argv[] = {(char *)"qemu", (char *)"win10", (char *)"release", (char *)"end", NULL};
        char *argv3[] = {(char *)"qemu", (char *)"win10", (char *)"release", NULL};

        touch(f, "/etc/gpu-handover/domains/win10.conf");
        run_bin(f, HOOK_TEST, f->tool, NULL, argv, &run);
        assert_execed(f, &run, "win10", "release", "end", "-");
        run_bin(f, HOOK_TEST, f->tool, NULL, argv3, &shorter);
        assert_quiet_exit(&shorter);
}

static void test_release_with_journal_only_execs(void **state)
{
        fixture *f = *state;
        _cleanup_(hook_run_done) hook_run run = {}, prep = {};

        /* The config may be gone since the start; the journal alone says there is something to undo. */
        touch(f, "/run/gpu-handover/win10.journal");
        run_hook(f, "win10", "release", "end", &run);
        assert_execed(f, &run, "win10", "release", "end", "-");
        run_hook(f, "win10", "prepare", "begin", &prep);
        assert_quiet_exit(&prep);
}

static void test_other_events_do_not_exec(void **state)
{
        static const char *const events[][2] = {
                {"start", "begin"},    {"started", "begin"},
                {"stopped", "end"},    {"reconnect", "begin"},
                {"migrate", "begin"},  {"restore", "begin"},
                {"attach", "begin"},   {"prepare", "end"},
                {"release", "begin"},  {"prepare", "-"},
                {"PREPARE", "begin"},  {"release", "end "},
                {"prepare", "begin2"}, {"", ""},
        };
        fixture *f = *state;

        /* Opted in and mid-hand-over: only the two events may act, whatever else is there. */
        touch(f, "/etc/gpu-handover/domains/win10.conf");
        touch(f, "/run/gpu-handover/win10.journal");
        for (size_t i = 0; i < ELEMENTSOF(events); i++) {
                _cleanup_(hook_run_done) hook_run run = {};

                run_hook(f, "win10", events[i][0], events[i][1], &run);
                assert_quiet_exit(&run);
        }
}

static void test_domain_without_config_does_not_exec(void **state)
{
        fixture *f = *state;
        _cleanup_(hook_run_done) hook_run prep = {}, rel = {};

        touch(f, "/etc/gpu-handover/domains/win10.conf");
        touch(f, "/run/gpu-handover/win10.journal");
        run_hook(f, "linux", "prepare", "begin", &prep);
        assert_quiet_exit(&prep);
        run_hook(f, "linux", "release", "end", &rel);
        assert_quiet_exit(&rel);
}

static void test_bad_names_never_exec(void **state)
{
        /* Each would find a file if the name were used as given: only the name check stops them. */
        static const char *const cases[][3] = {
                {".hidden", "/etc/gpu-handover/domains/.hidden.conf", "/run/gpu-handover/.hidden.journal"},
                {"../escape", "/etc/gpu-handover/escape.conf", "/run/escape.journal"},
                {"sub/dom", "/etc/gpu-handover/domains/sub/dom.conf", "/run/gpu-handover/sub/dom.journal"},
                {"", "/etc/gpu-handover/domains/.conf", "/run/gpu-handover/.journal"},
                {"..", "/etc/gpu-handover/domains/...conf", "/run/gpu-handover/...journal"},
                /* The tool would read it as an option: such a name cannot opt in. */
                {"-x", "/etc/gpu-handover/domains/-x.conf", "/run/gpu-handover/-x.journal"},
        };
        fixture *f = *state;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(hook_run_done) hook_run prep = {}, rel = {};

                touch(f, cases[i][1]);
                touch(f, cases[i][2]);
                run_hook(f, cases[i][0], "prepare", "begin", &prep);
                assert_quiet_exit(&prep);
                run_hook(f, cases[i][0], "release", "end", &rel);
                assert_quiet_exit(&rel);
        }
}

static void assert_one_line(const char *s)
{
        size_t n = strlen(s);

        assert_true(n > 1);
        assert_ptr_equal(strchr(s, '\n'), s + n - 1);
}

static void test_missing_tool(void **state)
{
        fixture *f = *state;
        _cleanup_(hook_run_done) hook_run prep = {}, rel = {};
        _cleanup_free_ char *tool = rpath(f, "/usr/sbin/gpu-handover");
        char *prep_argv[] = {(char *)"qemu",  (char *)"win10", (char *)"prepare",
                             (char *)"begin", (char *)"-",     NULL};
        char *rel_argv[] = {(char *)"qemu", (char *)"win10", (char *)"release",
                            (char *)"end",  (char *)"-",     NULL};

        touch(f, "/etc/gpu-handover/domains/win10.conf");
        /* Better no VM than a VM started while the GPU still drives the desktop. */
        run_bin(f, HOOK_TEST, tool, NULL, prep_argv, &prep);
        assert_false(prep.execed);
        assert_int_equal(prep.status, 1);
        assert_string_equal(prep.out, "");
        assert_one_line(prep.err);
        assert_non_null(strstr(prep.err, tool));
        /* A release that cannot run changes nothing: the VM's stop must not fail for it. */
        run_bin(f, HOOK_TEST, tool, NULL, rel_argv, &rel);
        assert_false(rel.execed);
        assert_int_equal(rel.status, 0);
        assert_string_equal(rel.out, "");
        assert_one_line(rel.err);
}

static void test_installed_hook_ignores_test_environment(void **state)
{
        fixture *f = *state;
        _cleanup_(hook_run_done) hook_run run = {};
        _cleanup_free_ char *dom = NULL, *conf = NULL;
        char *argv[] = {(char *)"qemu", NULL, (char *)"prepare", (char *)"begin", (char *)"-", NULL};

        assert_true(asprintf(&dom, "gh-test-%ld", (long)getpid()) > 0);
        assert_true(asprintf(&conf, "/etc/gpu-handover/domains/%s.conf", dom) > 0);
        /* The host's own config for this made-up name would decide instead of the environment. */
        if (access(conf, F_OK) == 0)
                skip();
        /* Honouring GH_TEST_ROOT and GH_TEST_TOOL would make it exec the recorder: libvirt's hook must not
         * let its environment choose what runs as root. */
        touch(f, conf);
        argv[1] = dom;
        run_bin(f, HOOK_INSTALLED, f->tool, NULL, argv, &run);
        assert_quiet_exit(&run);
}

/* ---- the fast path links libc alone ---- */

#ifndef GH_HOOK_STATIC
#error "test-hook.cmake passes GH_HOOK_STATIC: 1 when the hook entry is linked static-pie, 0 when dynamic"
#endif

/* Sanitizer builds instrument every target, the hook entry included (so it is dynamic, as ASan must be);
 * the installed hook is never built so. */
static bool sanitizer_lib(const char *lib)
{
#ifdef GH_SANITIZED
        return startswith(lib, "libasan.so.") || startswith(lib, "libubsan.so.");
#else
        (void)lib;
        return false;
#endif
}

/* Exactly what the build chose (hooks/CMakeLists.txt): static-pie, or dynamic with libc.so.6 alone. */
static void assert_links_libc_alone(const char *path)
{
        _cleanup_(elf_deps_done) elf_deps d = {};
        size_t libc = 0;

        elf_deps_read(path, &d);
        if (GH_HOOK_STATIC) {
                /* No loader runs before it, and it asks for no library: libc is inside. */
                if (d.interp)
                        fail_msg("'%s' has a PT_INTERP: linked static-pie, it needs no loader", path);
                if (d.needed[0])
                        fail_msg("'%s' needs '%s': linked static-pie, it needs no library", path,
                                 d.needed[0]);
                /* static-pie, not -static: loaded at a random address like any PIE. */
                if (!d.pie)
                        fail_msg("'%s' is not a PIE: static-pie keeps ASLR, -static loses it", path);
                return;
        }
        if (!d.interp)
                fail_msg("'%s' has no PT_INTERP: the build chose a dynamic hook entry", path);
        STRV_FOREACH(lib, d.needed)
        {
                if (streq(*lib, "libc.so.6"))
                        libc++;
                else if (!sanitizer_lib(*lib))
                        fail_msg("the hook entry '%s' needs '%s': it must link libc alone", path, *lib);
        }
        assert_int_equal(libc, 1);
}

static void test_installed_hook_links_libc_only(void **state)
{
        _cleanup_strv_free_ char **self = elf_needed("/proc/self/exe");

        /* The reader must see libraries where they are: this very program calls into cmocka. */
        assert_true(strv_contains(self, "libcmocka.so.0"));
        assert_links_libc_alone(HOOK_INSTALLED);
        /* The twin the other tests run is linked the same way. */
        assert_links_libc_alone(HOOK_TEST);
}

int main(int argc, char *argv[])
{
        const char *rec = getenv("GH_RECORD_DIR");
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_prepare_begin_execs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_release_end_execs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exit_status_is_the_tools, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_extra_becomes_dash, setup, teardown),
                cmocka_unit_test_setup_teardown(test_release_with_journal_only_execs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_other_events_do_not_exec, setup, teardown),
                cmocka_unit_test_setup_teardown(test_domain_without_config_does_not_exec, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_names_never_exec, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_tool, setup, teardown),
                cmocka_unit_test_setup_teardown(test_installed_hook_ignores_test_environment, setup,
                                                teardown),
                cmocka_unit_test(test_installed_hook_links_libc_only),
        };

        if (rec)
                return record(rec, argc, argv);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
