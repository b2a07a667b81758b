/* `gpu-handover install` and `uninstall`, run as a program against a temporary root: where the link goes,
 * what it refuses, what uninstall removes and what it leaves, and that a re-run changes nothing. */
#include <dirent.h>
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

#include "shared/fileio.h"
#include "shared/macro.h"

/* The installed tool: install and uninstall take --root of their own, for dpkg. */
#define TOOL GH_TOOL_BIN
#define HOOK "/usr/libexec/gpu-handover/qemu-hook"
#define FOREIGN_TEXT "#!/bin/sh\n# somebody else's hook\nexit 0\n"

typedef struct fixture {
        char root[64];
        char *out;
        char *err;
        int status;
} fixture;

static char *rpath(const fixture *f, const char *path)
{
        char *p = path_join(f->root, path);

        assert_non_null(p);
        return p;
}

static void write_file(const fixture *f, const char *path, const char *text, mode_t mode)
{
        _cleanup_free_ char *p = rpath(f, path);
        _cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        assert_int_equal(fchmod(fd, mode), 0);
}

static void make_dirs(const fixture *f, const char *path)
{
        _cleanup_free_ char *p = rpath(f, path);

        for (char *s = p + strlen(f->root) + 1;; s++) {
                char c = *s;

                if (c && c != '/')
                        continue;
                *s = 0;
                assert_true(mkdir(p, 0755) == 0 || errno == EEXIST);
                *s = c;
                if (!c)
                        return;
        }
}

static void put_link(const fixture *f, const char *target, const char *path)
{
        _cleanup_free_ char *p = rpath(f, path);

        assert_int_equal(symlink(target, p), 0);
}

static char *slurp(const char *path)
{
        char *buf = NULL;

        assert_int_equal(read_full_file(path, 1 << 20, &buf, NULL), 0);
        return buf;
}

/* Runs `gpu-handover COMMAND --root ROOT ARGS...`, stdout and stderr captured. */
static void run_tool(fixture *f, const char *command, va_list ap)
{
        _cleanup_free_ char *outp = NULL, *errp = NULL;
        const char *argv[16] = {"gpu-handover", command, "--root", f->root};
        size_t n = 4;
        int status;
        pid_t pid;

        while ((argv[n] = va_arg(ap, const char *)))
                assert_true(++n < ELEMENTSOF(argv));
        /* Next to the root, not in it: the tool's view of the root stays exactly what the test built. */
        assert_true(asprintf(&outp, "%s.stdout", f->root) > 0);
        assert_true(asprintf(&errp, "%s.stderr", f->root) > 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                int in = open("/dev/null", O_RDONLY | O_CLOEXEC);

                if (o < 0 || e < 0 || in < 0 || dup2(in, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
                        _exit(127);
                execv(TOOL, (char **)argv);
                _exit(127);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        f->status = WEXITSTATUS(status);
        free(f->out);
        free(f->err);
        f->out = slurp(outp);
        f->err = slurp(errp);
        (void)unlink(outp);
        (void)unlink(errp);
}

static void run_install(fixture *f, ...)
{
        va_list ap;

        va_start(ap, f);
        run_tool(f, "install", ap);
        va_end(ap);
}

static void run_uninstall(fixture *f, ...)
{
        va_list ap;

        va_start(ap, f);
        run_tool(f, "uninstall", ap);
        va_end(ap);
}

static void assert_link(const fixture *f, const char *path, const char *target)
{
        _cleanup_free_ char *p = rpath(f, path);
        char buf[PATH_MAX];
        ssize_t n;

        n = readlink(p, buf, sizeof(buf) - 1);
        assert_true(n > 0);
        buf[n] = 0;
        assert_string_equal(buf, target);
}

static void assert_absent(const fixture *f, const char *path)
{
        _cleanup_free_ char *p = rpath(f, path);
        struct stat st;

        assert_int_equal(lstat(p, &st), -1);
        assert_int_equal(errno, ENOENT);
}

static void assert_file_text(const fixture *f, const char *path, const char *text)
{
        _cleanup_free_ char *p = rpath(f, path);
        _cleanup_free_ char *got = slurp(p);
        struct stat st;

        assert_int_equal(lstat(p, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_string_equal(got, text);
}

static void assert_dir_mode(const fixture *f, const char *path, mode_t mode)
{
        _cleanup_free_ char *p = rpath(f, path);
        struct stat st;

        assert_int_equal(lstat(p, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, mode);
        assert_int_equal(st.st_uid, geteuid());
}

/* The names in a directory, sorted and joined by spaces: no temporary link may be left behind. */
static char *dir_names(const fixture *f, const char *path)
{
        _cleanup_free_ char *p = rpath(f, path);
        struct dirent **list = NULL;
        char *joined = NULL;
        size_t size = 0;
        FILE *m = open_memstream(&joined, &size);
        int n = scandir(p, &list, NULL, alphasort);
        bool first = true;

        assert_non_null(m);
        assert_true(n >= 0);
        for (int i = 0; i < n; i++) {
                if (!streq(list[i]->d_name, ".") && !streq(list[i]->d_name, "..")) {
                        fprintf(m, "%s%s", first ? "" : " ", list[i]->d_name);
                        first = false;
                }
                free(list[i]);
        }
        free(list);
        fclose(m);
        return joined;
}

static void assert_one_error_line(const fixture *f)
{
        size_t n = strlen(f->err);

        assert_true(n > 1);
        /* The first newline is the last character. */
        assert_ptr_equal(strchr(f->err, '\n'), f->err + n - 1);
}

static int setup(void **state)
{
        fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        strcpy(f->root, "/tmp/gh-test-install.XXXXXX");
        assert_non_null(mkdtemp(f->root));
        make_dirs(f, "/usr/libexec/gpu-handover");
        write_file(f, HOOK, "#!/bin/sh\nexit 0\n", 0755);
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
        free(f->out);
        free(f->err);
        free(f);
        return 0;
}

static void test_fresh_install(void **state)
{
        fixture *f = *state;
        _cleanup_free_ char *names = NULL;

        run_install(f, "--hook-binary", HOOK, NULL);
        assert_int_equal(f->status, 0);
        assert_string_equal(f->err, "");
        assert_link(f, "/etc/libvirt/hooks/qemu", HOOK);
        assert_dir_mode(f, "/etc/libvirt/hooks", 0755);
        assert_dir_mode(f, "/etc/gpu-handover/domains", 0755);
        assert_absent(f, "/etc/libvirt/hooks/qemu.d");
        names = dir_names(f, "/etc/libvirt/hooks");
        assert_string_equal(names, "qemu");
        /* CLI mode: the user learns that nothing was restarted and what to restart. */
        assert_non_null(strstr(f->out, "libvirtd"));
        assert_non_null(strstr(f->out, "virtqemud"));
}

static void test_rerun_changes_nothing(void **state)
{
        fixture *f = *state;
        _cleanup_free_ char *link = rpath(f, "/etc/libvirt/hooks/qemu");
        _cleanup_free_ char *names = NULL;
        struct stat before, after;

        run_install(f, "--hook-binary", HOOK, NULL);
        assert_int_equal(f->status, 0);
        assert_int_equal(lstat(link, &before), 0);
        run_install(f, "--hook-binary", HOOK, NULL);
        assert_int_equal(f->status, 0);
        assert_string_equal(f->err, "");
        assert_int_equal(lstat(link, &after), 0);
        /* The same inode: the link was left alone, not replaced by an equal one. */
        assert_int_equal(before.st_ino, after.st_ino);
        assert_link(f, "/etc/libvirt/hooks/qemu", HOOK);
        names = dir_names(f, "/etc/libvirt/hooks");
        assert_string_equal(names, "qemu");
}

static void test_stale_link_refreshed(void **state)
{
        fixture *f = *state;

        make_dirs(f, "/etc/libvirt/hooks");
        put_link(f, "/opt/old/libexec/gpu-handover/qemu-hook", "/etc/libvirt/hooks/qemu");
        run_install(f, "--hook-binary", HOOK, NULL);
        assert_int_equal(f->status, 0);
        assert_link(f, "/etc/libvirt/hooks/qemu", HOOK);
}

static void test_foreign_hook_refused(void **state)
{
        fixture *f = *state;

        make_dirs(f, "/etc/libvirt/hooks");
        write_file(f, "/etc/libvirt/hooks/qemu", FOREIGN_TEXT, 0755);
        run_install(f, "--hook-binary", HOOK, NULL);
        assert_int_equal(f->status, 1);
        assert_string_equal(f->out, "");
        assert_one_error_line(f);
        assert_non_null(strstr(f->err, "--qemu-d"));
        assert_file_text(f, "/etc/libvirt/hooks/qemu", FOREIGN_TEXT);
        assert_absent(f, "/etc/libvirt/hooks/qemu.d");
}

static void test_foreign_link_refused(void **state)
{
        fixture *f = *state;

        make_dirs(f, "/etc/libvirt/hooks");
        put_link(f, "/usr/local/bin/other-dispatcher", "/etc/libvirt/hooks/qemu");
        run_install(f, "--hook-binary", HOOK, NULL);
        assert_int_equal(f->status, 1);
        assert_non_null(strstr(f->err, "--qemu-d"));
        assert_link(f, "/etc/libvirt/hooks/qemu", "/usr/local/bin/other-dispatcher");
}

static void test_qemu_d_next_to_foreign(void **state)
{
        fixture *f = *state;

        make_dirs(f, "/etc/libvirt/hooks");
        write_file(f, "/etc/libvirt/hooks/qemu", FOREIGN_TEXT, 0755);
        run_install(f, "--qemu-d", "--hook-binary", HOOK, NULL);
        assert_int_equal(f->status, 0);
        assert_link(f, "/etc/libvirt/hooks/qemu.d/gpu-handover", HOOK);
        assert_dir_mode(f, "/etc/libvirt/hooks/qemu.d", 0755);
        assert_file_text(f, "/etc/libvirt/hooks/qemu", FOREIGN_TEXT);

        /* A plain re-run (scripts/setup does one) keeps the drop-in rather than failing. */
        run_install(f, "--hook-binary", HOOK, NULL);
        assert_int_equal(f->status, 0);
        assert_link(f, "/etc/libvirt/hooks/qemu.d/gpu-handover", HOOK);
        assert_file_text(f, "/etc/libvirt/hooks/qemu", FOREIGN_TEXT);
}

static void test_qemu_d_moves_our_entry(void **state)
{
        fixture *f = *state;
        _cleanup_free_ char *names = NULL;

        run_install(f, "--hook-binary", HOOK, NULL);
        assert_int_equal(f->status, 0);
        run_install(f, "--qemu-d", "--hook-binary", HOOK, NULL);
        assert_int_equal(f->status, 0);
        /* Two entries would run the hook twice for every event. */
        assert_absent(f, "/etc/libvirt/hooks/qemu");
        assert_link(f, "/etc/libvirt/hooks/qemu.d/gpu-handover", HOOK);
        names = dir_names(f, "/etc/libvirt/hooks");
        assert_string_equal(names, "qemu.d");
}

static void test_qemu_d_foreign_dropin_refused(void **state)
{
        fixture *f = *state;

        make_dirs(f, "/etc/libvirt/hooks/qemu.d");
        write_file(f, "/etc/libvirt/hooks/qemu.d/gpu-handover", FOREIGN_TEXT, 0755);
        run_install(f, "--qemu-d", "--hook-binary", HOOK, NULL);
        assert_int_equal(f->status, 1);
        assert_one_error_line(f);
        assert_file_text(f, "/etc/libvirt/hooks/qemu.d/gpu-handover", FOREIGN_TEXT);
        assert_absent(f, "/etc/libvirt/hooks/qemu");
}

static void test_missing_hook_binary_refused(void **state)
{
        fixture *f = *state;

        run_install(f, "--hook-binary", "/usr/libexec/gpu-handover/not-there", NULL);
        assert_int_equal(f->status, 1);
        assert_string_equal(f->out, "");
        assert_one_error_line(f);
        assert_non_null(strstr(f->err, "not-there"));
        assert_absent(f, "/etc/libvirt/hooks/qemu");

        /* With a hooks directory in place, nothing (not even a temporary link) is left in it. */
        make_dirs(f, "/etc/libvirt/hooks");
        run_install(f, "--qemu-d", "--hook-binary", "/usr/libexec/gpu-handover/not-there", NULL);
        assert_int_equal(f->status, 1);
        _cleanup_free_ char *names = dir_names(f, "/etc/libvirt/hooks");
        assert_string_equal(names, "");
}

static void test_unexecutable_hook_binary_refused(void **state)
{
        fixture *f = *state;

        write_file(f, HOOK, "#!/bin/sh\nexit 0\n", 0644);
        run_install(f, "--hook-binary", HOOK, NULL);
        assert_int_equal(f->status, 1);
        assert_one_error_line(f);
        assert_absent(f, "/etc/libvirt/hooks/qemu");

        make_dirs(f, "/usr/libexec/gpu-handover/dir");
        run_install(f, "--hook-binary", "/usr/libexec/gpu-handover/dir", NULL);
        assert_int_equal(f->status, 1);
        assert_absent(f, "/etc/libvirt/hooks/qemu");
}

/* libvirt runs the hook as root: a binary that anyone but root could have changed is refused, and so is
 * one reached through such a directory or resolving outside the root. */
static void test_writable_hook_binary_refused(void **state)
{
        fixture *f = *state;
        _cleanup_free_ char *dir = rpath(f, "/usr/libexec/gpu-handover"), *hook = rpath(f, HOOK);

        assert_int_equal(chmod(hook, 0757), 0);
        run_install(f, "--hook-binary", HOOK, NULL);
        assert_int_equal(f->status, 1);
        assert_one_error_line(f);
        assert_non_null(strstr(f->err, "qemu-hook' is writable by group or others (mode 0757); refused"));
        assert_absent(f, "/etc/libvirt/hooks/qemu");

        assert_int_equal(chmod(hook, 0755), 0);
        assert_int_equal(chmod(dir, 02775), 0);
        run_install(f, "--hook-binary", HOOK, NULL);
        assert_int_equal(f->status, 1);
        assert_non_null(strstr(f->err, "/gpu-handover' is writable by group or others (mode 2775); refused"));
        assert_absent(f, "/etc/libvirt/hooks/qemu");

        assert_int_equal(chmod(dir, 0755), 0);
        put_link(f, "/bin/sh", "/usr/libexec/gpu-handover/out");
        run_install(f, "--hook-binary", "/usr/libexec/gpu-handover/out", NULL);
        assert_int_equal(f->status, 1);
        assert_non_null(strstr(f->err, "outside"));
        assert_absent(f, "/etc/libvirt/hooks/qemu");

        run_install(f, "--hook-binary", HOOK, NULL);
        assert_int_equal(f->status, 0);
        assert_link(f, "/etc/libvirt/hooks/qemu", HOOK);
}

static void test_bad_usage(void **state)
{
        fixture *f = *state;

        run_install(f, "--no-such-option", NULL);
        assert_int_equal(f->status, 2);
        assert_one_error_line(f);
        run_install(f, "--hook-binary", NULL);
        assert_int_equal(f->status, 2);
        run_install(f, "--hook-binary", HOOK, "extra", NULL);
        assert_int_equal(f->status, 2);
        /* Relative to what? Inside a root it cannot be resolved. */
        run_install(f, "--hook-binary", "usr/libexec/gpu-handover/qemu-hook", NULL);
        assert_int_equal(f->status, 2);
        assert_absent(f, "/etc/libvirt");
        assert_absent(f, "/etc/gpu-handover");
}

static void test_uninstall_removes_link(void **state)
{
        fixture *f = *state;
        _cleanup_free_ char *names = NULL;

        run_install(f, "--hook-binary", HOOK, NULL);
        assert_int_equal(f->status, 0);
        run_uninstall(f, NULL);
        assert_int_equal(f->status, 0);
        assert_string_equal(f->err, "");
        assert_absent(f, "/etc/libvirt/hooks/qemu");
        names = dir_names(f, "/etc/libvirt/hooks");
        assert_string_equal(names, "");
        /* libvirt still calls the hook it found at start: the user is told what to restart. */
        assert_non_null(strstr(f->out, "/etc/libvirt/hooks/qemu"));
        assert_non_null(strstr(f->out, "restart libvirtd"));
        /* The configuration is the user's. */
        assert_dir_mode(f, "/etc/gpu-handover/domains", 0755);
        /* The hook binary is the package's. */
        assert_file_text(f, HOOK, "#!/bin/sh\nexit 0\n");
}

static void test_uninstall_twice(void **state)
{
        fixture *f = *state;

        run_uninstall(f, NULL);
        assert_int_equal(f->status, 0);
        assert_string_equal(f->err, "");
        assert_non_null(strstr(f->out, "nothing changed"));
        assert_absent(f, "/etc/libvirt");

        run_install(f, "--hook-binary", HOOK, NULL);
        run_uninstall(f, NULL);
        assert_int_equal(f->status, 0);
        run_uninstall(f, NULL);
        assert_int_equal(f->status, 0);
        assert_string_equal(f->err, "");
        assert_non_null(strstr(f->out, "nothing changed"));
        assert_null(strstr(f->out, "restart"));
}

static void test_uninstall_leaves_foreign_hook(void **state)
{
        fixture *f = *state;

        make_dirs(f, "/etc/libvirt/hooks/qemu.d");
        write_file(f, "/etc/libvirt/hooks/qemu", FOREIGN_TEXT, 0755);
        write_file(f, "/etc/libvirt/hooks/qemu.d/gpu-handover", FOREIGN_TEXT, 0755);
        run_uninstall(f, NULL);
        assert_int_equal(f->status, 0);
        assert_string_equal(f->err, "");
        assert_file_text(f, "/etc/libvirt/hooks/qemu", FOREIGN_TEXT);
        assert_file_text(f, "/etc/libvirt/hooks/qemu.d/gpu-handover", FOREIGN_TEXT);
        assert_non_null(strstr(f->out, "another program's hook"));
        assert_non_null(strstr(f->out, "nothing changed"));
}

/* Links that look close to ours but are not to a gpu-handover hook binary. */
static void test_uninstall_leaves_foreign_links(void **state)
{
        fixture *f = *state;

        make_dirs(f, "/etc/libvirt/hooks/qemu.d");
        put_link(f, "/usr/sbin/gpu-handover", "/etc/libvirt/hooks/qemu");
        put_link(f, "/usr/libexec/other/qemu-hook", "/etc/libvirt/hooks/qemu.d/gpu-handover");
        run_uninstall(f, NULL);
        assert_int_equal(f->status, 0);
        assert_link(f, "/etc/libvirt/hooks/qemu", "/usr/sbin/gpu-handover");
        assert_link(f, "/etc/libvirt/hooks/qemu.d/gpu-handover", "/usr/libexec/other/qemu-hook");
}

static void test_uninstall_dropin_next_to_foreign(void **state)
{
        fixture *f = *state;
        _cleanup_free_ char *names = NULL;

        make_dirs(f, "/etc/libvirt/hooks");
        write_file(f, "/etc/libvirt/hooks/qemu", FOREIGN_TEXT, 0755);
        run_install(f, "--qemu-d", "--hook-binary", HOOK, NULL);
        assert_int_equal(f->status, 0);
        run_uninstall(f, NULL);
        assert_int_equal(f->status, 0);
        assert_absent(f, "/etc/libvirt/hooks/qemu.d/gpu-handover");
        assert_file_text(f, "/etc/libvirt/hooks/qemu", FOREIGN_TEXT);
        assert_non_null(strstr(f->out, "restart libvirtd"));
        names = dir_names(f, "/etc/libvirt/hooks/qemu.d");
        assert_string_equal(names, "");
}

/* A link left by another prefix's install, whose binary is gone: ours, and dangling, so it goes. */
static void test_uninstall_removes_dangling_link(void **state)
{
        fixture *f = *state;

        make_dirs(f, "/etc/libvirt/hooks/qemu.d");
        put_link(f, "/opt/old/libexec/gpu-handover/qemu-hook", "/etc/libvirt/hooks/qemu");
        put_link(f, "/opt/old/libexec/gpu-handover/qemu-hook", "/etc/libvirt/hooks/qemu.d/gpu-handover");
        run_uninstall(f, NULL);
        assert_int_equal(f->status, 0);
        assert_absent(f, "/etc/libvirt/hooks/qemu");
        assert_absent(f, "/etc/libvirt/hooks/qemu.d/gpu-handover");
}

static void test_uninstall_qemu_d_only(void **state)
{
        fixture *f = *state;

        make_dirs(f, "/etc/libvirt/hooks/qemu.d");
        put_link(f, HOOK, "/etc/libvirt/hooks/qemu");
        put_link(f, HOOK, "/etc/libvirt/hooks/qemu.d/gpu-handover");
        run_uninstall(f, "--qemu-d", NULL);
        assert_int_equal(f->status, 0);
        assert_absent(f, "/etc/libvirt/hooks/qemu.d/gpu-handover");
        assert_link(f, "/etc/libvirt/hooks/qemu", HOOK);
}

/* Without the hook, a running domain's GPU would never come back: refuse until it is handed back. */
static void test_uninstall_refused_during_handover(void **state)
{
        fixture *f = *state;

        run_install(f, "--hook-binary", HOOK, NULL);
        make_dirs(f, "/run/gpu-handover");
        write_file(f, "/run/gpu-handover/win11.journal", "gpu-handover-journal 1 domain=win11\n", 0600);
        run_uninstall(f, NULL);
        assert_int_equal(f->status, 1);
        assert_string_equal(f->out, "");
        assert_one_error_line(f);
        assert_non_null(strstr(f->err, "'win11'"));
        assert_non_null(strstr(f->err, "gpu-handover restore win11"));
        assert_link(f, "/etc/libvirt/hooks/qemu", HOOK);

        _cleanup_free_ char *journal = rpath(f, "/run/gpu-handover/win11.journal");
        assert_int_equal(unlink(journal), 0);
        run_uninstall(f, NULL);
        assert_int_equal(f->status, 0);
        assert_absent(f, "/etc/libvirt/hooks/qemu");
}

/* The claim rules go with the hook: nothing would bind, or give back, what they reserve at boot. */
static void test_uninstall_removes_claim_rules(void **state)
{
        fixture *f = *state;
        const char *rules = "/etc/udev/rules.d/61-gpu-handover-claim.rules";

        make_dirs(f, "/etc/udev/rules.d");
        write_file(f, rules, "ACTION!=\"add\", GOTO=\"gpu_handover_claim_end\"\n", 0644);
        write_file(f, "/etc/udev/rules.d/70-other.rules", "# not ours\n", 0644);
        run_uninstall(f, NULL);
        assert_int_equal(f->status, 0);
        assert_string_equal(f->err, "");
        assert_non_null(strstr(f->out, "Removed /etc/udev/rules.d/61-gpu-handover-claim.rules"));
        assert_null(strstr(f->out, "nothing changed"));
        assert_absent(f, rules);
        assert_file_text(f, "/etc/udev/rules.d/70-other.rules", "# not ours\n");

        /* Refused during a hand-over: the rules stay too. */
        run_install(f, "--hook-binary", HOOK, NULL);
        write_file(f, rules, "# ours\n", 0644);
        make_dirs(f, "/run/gpu-handover");
        write_file(f, "/run/gpu-handover/win11.journal", "gpu-handover-journal 1 domain=win11\n", 0600);
        run_uninstall(f, NULL);
        assert_int_equal(f->status, 1);
        assert_file_text(f, rules, "# ours\n");
}

static void test_uninstall_bad_usage(void **state)
{
        fixture *f = *state;

        run_install(f, "--hook-binary", HOOK, NULL);
        run_uninstall(f, "--hook-binary", HOOK, NULL);
        assert_int_equal(f->status, 2);
        assert_one_error_line(f);
        run_uninstall(f, "extra", NULL);
        assert_int_equal(f->status, 2);
        assert_one_error_line(f);
        assert_link(f, "/etc/libvirt/hooks/qemu", HOOK);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_fresh_install, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rerun_changes_nothing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stale_link_refreshed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_foreign_hook_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_foreign_link_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_qemu_d_next_to_foreign, setup, teardown),
                cmocka_unit_test_setup_teardown(test_qemu_d_moves_our_entry, setup, teardown),
                cmocka_unit_test_setup_teardown(test_qemu_d_foreign_dropin_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_hook_binary_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unexecutable_hook_binary_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_writable_hook_binary_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_usage, setup, teardown),
                cmocka_unit_test_setup_teardown(test_uninstall_removes_link, setup, teardown),
                cmocka_unit_test_setup_teardown(test_uninstall_twice, setup, teardown),
                cmocka_unit_test_setup_teardown(test_uninstall_leaves_foreign_hook, setup, teardown),
                cmocka_unit_test_setup_teardown(test_uninstall_leaves_foreign_links, setup, teardown),
                cmocka_unit_test_setup_teardown(test_uninstall_dropin_next_to_foreign, setup, teardown),
                cmocka_unit_test_setup_teardown(test_uninstall_removes_dangling_link, setup, teardown),
                cmocka_unit_test_setup_teardown(test_uninstall_qemu_d_only, setup, teardown),
                cmocka_unit_test_setup_teardown(test_uninstall_refused_during_handover, setup, teardown),
                cmocka_unit_test_setup_teardown(test_uninstall_removes_claim_rules, setup, teardown),
                cmocka_unit_test_setup_teardown(test_uninstall_bad_usage, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
