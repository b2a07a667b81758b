/* The journal file: appended lines read back as steps, a torn last line ignored, bad lines named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>

#include "core/journal-text.h"
#include "host/journal.h"
#include "shared/fileio.h"
#include "shared/strv.h"

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(p);
}

static int setup(void **state)
{
        char tmpl[] = "/tmp/gh-journal-XXXXXX";

        assert_non_null(mkdtemp(tmpl));
        *state = strdup(tmpl);
        return 0;
}

static int teardown(void **state)
{
        nftw(*state, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(*state);
        return 0;
}

static void write_raw(const char *root, const char *domain, const char *text)
{
        _cleanup_free_ char *dir = path_join(root, GH_RUN_DIR), *path = NULL;
        FILE *f;

        assert_int_equal(mkdir_p(dir, 0700), 0);
        assert_true(asprintf(&path, "%s/%s.journal", dir, domain) > 0);
        f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        assert_int_equal(chmod(path, 0600), 0);
}

static void test_append_and_read(void **state)
{
        const char *root = *state;
        gh_journal *j = NULL;
        gh_step *steps = NULL;
        size_t n = 0;
        gh_error err = {};

        assert_int_equal(gh_journal_create(root, "win11", getuid(), &j, NULL), 0);
        assert_int_equal(gh_journal_append(j, "stop-unit name=gdm.service"), 0);
        assert_int_equal(gh_journal_append(j, "bind-vfio addr=0000:01:00.0 group=12"), 0);
        assert_int_equal(gh_journal_append(j, "two\nlines"), -EINVAL);
        gh_journal_close(j);
        assert_int_equal(gh_journal_read(root, "win11", getuid(), &steps, &n, &err), 0);
        assert_int_equal(n, 2);
        assert_int_equal(steps[0].kind, GH_STEP_STOP_UNIT);
        assert_string_equal(steps[1].addr, "0000:01:00.0");
        assert_int_equal(steps[1].group, 12);
        gh_steps_free(steps, n);
}

static void test_create_refuses_existing(void **state)
{
        const char *root = *state;
        gh_journal *j = NULL, *k = NULL;

        assert_int_equal(gh_journal_create(root, "win11", getuid(), &j, NULL), 0);
        assert_int_equal(gh_journal_create(root, "win11", getuid(), &k, NULL), -EEXIST);
        gh_journal_close(j);
}

static void test_torn_last_line_ignored(void **state)
{
        const char *root = *state;
        gh_step *steps = NULL;
        size_t n = 0;
        gh_error err = {};

        write_raw(root, "win11", "gpu-handover-journal 1 domain=win11\nstop-unit name=gdm.service\nunload-modu");
        assert_int_equal(gh_journal_read(root, "win11", getuid(), &steps, &n, &err), 0);
        assert_int_equal(n, 1);
        assert_string_equal(steps[0].name, "gdm.service");
        gh_steps_free(steps, n);
        /* A torn header: nothing began. */
        write_raw(root, "vm2", "gpu-handover-jour");
        assert_int_equal(gh_journal_read(root, "vm2", getuid(), &steps, &n, &err), 0);
        assert_int_equal(n, 0);
        gh_steps_free(steps, n);
}

static void test_bad_line_named(void **state)
{
        const char *root = *state;
        gh_step *steps = NULL;
        size_t n = 0;
        gh_error err = {};

        write_raw(root, "win11", "gpu-handover-journal 1 domain=win11\nstop-unit name=gdm.service\nbogus\n");
        assert_int_equal(gh_journal_read(root, "win11", getuid(), &steps, &n, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "win11.journal:3"));
        write_raw(root, "vm3", "something else\n");
        err = (gh_error){};
        assert_int_equal(gh_journal_read(root, "vm3", getuid(), &steps, &n, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "vm3.journal:1"));
}

static void test_list_and_remove(void **state)
{
        const char *root = *state;
        gh_journal *j = NULL;
        _cleanup_strv_free_ char **l = NULL;
        gh_step *steps = NULL;
        size_t n = 0;

        assert_int_equal(gh_journal_list(root, &l), 0);
        assert_int_equal(strv_length(l), 0);
        strv_free(TAKE_PTR(l));
        assert_int_equal(gh_journal_create(root, "a", getuid(), &j, NULL), 0);
        gh_journal_close(j);
        assert_int_equal(gh_journal_create(root, "b", getuid(), &j, NULL), 0);
        gh_journal_close(j);
        assert_int_equal(gh_journal_list(root, &l), 0);
        assert_int_equal(strv_length(l), 2);
        assert_true(strv_contains(l, "a") && strv_contains(l, "b"));
        assert_int_equal(gh_journal_remove(root, "a"), 0);
        assert_int_equal(gh_journal_remove(root, "a"), 0);
        assert_int_equal(gh_journal_read(root, "a", getuid(), &steps, &n, NULL), -ENOENT);
}

static void test_bad_domain_names(void **state)
{
        const char *root = *state;
        gh_journal *j = NULL;

        assert_int_equal(gh_journal_create(root, "../etc/passwd", getuid(), &j, NULL), -EINVAL);
        assert_int_equal(gh_journal_create(root, ".hidden", getuid(), &j, NULL), -EINVAL);
        assert_int_equal(gh_journal_create(root, "", getuid(), &j, NULL), -EINVAL);
}

static char *rel_path(const char *root, const char *rel)
{
        char *p = path_join(root, rel);

        assert_non_null(p);
        return p;
}

/* The read is refused with -EPERM, and the message names the path and the problem. */
static void assert_refused(const char *root, const char *domain, const char *path, const char *problem)
{
        gh_step *steps = NULL;
        size_t n = 0;
        gh_error err = {};

        assert_int_equal(gh_journal_read(root, domain, getuid(), &steps, &n, &err), -EPERM);
        if (!strstr(err.msg, path) || !strstr(err.msg, problem))
                fail_msg("'%s' names not '%s' and '%s'", err.msg, path, problem);
}

static void test_untrusted_journal_refused(void **state)
{
        const char *root = *state;
        _cleanup_free_ char *path = rel_path(root, GH_RUN_DIR "/win11.journal");
        _cleanup_free_ char *other = rel_path(root, "elsewhere");
        gh_journal *j = NULL;
        char msg[128];

        write_raw(root, "win11", "gpu-handover-journal 1 domain=win11\nstop-unit name=gdm.service\n");
        assert_int_equal(chmod(path, 0620), 0);
        assert_refused(root, "win11", path, "has mode 0620, not 0600");
        assert_int_equal(chmod(path, 0644), 0);
        assert_refused(root, "win11", path, "has mode 0644, not 0600");
        assert_int_equal(chmod(path, 0600), 0);
        assert_int_equal(chown(path, getuid() + 1234, (gid_t)-1), 0);
        snprintf(msg, sizeof(msg), "is owned by uid %u, not uid %u", (unsigned)getuid() + 1234,
                 (unsigned)getuid());
        assert_refused(root, "win11", path, msg);
        /* A symlink to a good journal is refused all the same. */
        assert_int_equal(rename(path, other), 0);
        assert_int_equal(chown(other, getuid(), (gid_t)-1), 0);
        assert_int_equal(symlink(other, path), 0);
        assert_refused(root, "win11", path, "is a symbolic link");
        assert_int_equal(unlink(path), 0);
        assert_int_equal(mkfifo(path, 0600), 0);
        assert_refused(root, "win11", path, "is not a regular file");
        assert_int_equal(unlink(path), 0);
        assert_int_equal(mkdir(path, 0600), 0);
        assert_refused(root, "win11", path, "is not a regular file");
        assert_int_equal(rmdir(path), 0);
        /* Appending to a journal is refused the same way: create never opens one that is there. */
        assert_int_equal(rename(other, path), 0);
        assert_int_equal(gh_journal_create(root, "win11", getuid(), &j, NULL), -EEXIST);
}

static void test_untrusted_run_dir_refused(void **state)
{
        const char *root = *state;
        _cleanup_free_ char *dir = rel_path(root, GH_RUN_DIR);
        _cleanup_free_ char *real = rel_path(root, "run/real");
        gh_journal *j = NULL;
        gh_error err = {};
        char msg[128];

        write_raw(root, "win11", "gpu-handover-journal 1 domain=win11\n");
        assert_int_equal(chmod(dir, 0770), 0);
        assert_refused(root, "win11", dir, "has mode 0770, not 0700");
        assert_int_equal(gh_journal_create(root, "vm2", getuid(), &j, &err), -EPERM);
        assert_non_null(strstr(err.msg, "has mode 0770, not 0700"));
        assert_int_equal(chmod(dir, 0755), 0);
        assert_refused(root, "win11", dir, "has mode 0755, not 0700");
        assert_int_equal(chmod(dir, 0700), 0);
        assert_int_equal(chown(dir, getuid() + 7, (gid_t)-1), 0);
        snprintf(msg, sizeof(msg), "is owned by uid %u, not uid %u", (unsigned)getuid() + 7,
                 (unsigned)getuid());
        assert_refused(root, "win11", dir, msg);
        assert_int_equal(chown(dir, getuid(), (gid_t)-1), 0);
        /* A symlink to a good directory is refused, for reading and for creating. */
        assert_int_equal(rename(dir, real), 0);
        assert_int_equal(symlink("real", dir), 0);
        assert_refused(root, "win11", dir, "is a symbolic link");
        err = (gh_error){};
        assert_int_equal(gh_journal_create(root, "vm2", getuid(), &j, &err), -EPERM);
        assert_non_null(strstr(err.msg, "is a symbolic link"));
        assert_int_equal(unlink(dir), 0);
        assert_int_equal(mkfifo(dir, 0700), 0);
        assert_refused(root, "win11", dir, "is not a directory");
}

/* Created with the modes the reader asks for, whatever the umask. */
static void test_created_modes(void **state)
{
        const char *root = *state;
        _cleanup_free_ char *dir = rel_path(root, GH_RUN_DIR);
        _cleanup_free_ char *path = rel_path(root, GH_RUN_DIR "/win11.journal");
        gh_journal *j = NULL;
        struct stat st;
        mode_t old = umask(0277);
        int r = gh_journal_create(root, "win11", getuid(), &j, NULL);

        umask(old);
        assert_int_equal(r, 0);
        gh_journal_close(j);
        assert_int_equal(lstat(dir, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0700);
        assert_int_equal(lstat(path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_header_names_another_domain(void **state)
{
        const char *root = *state;
        gh_step *steps = NULL;
        size_t n = 0;
        gh_error err = {};

        write_raw(root, "win11", "gpu-handover-journal 1 domain=linux\nstop-unit name=gdm.service\n");
        assert_int_equal(gh_journal_read(root, "win11", getuid(), &steps, &n, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "win11.journal:1: the journal is for domain 'linux', not 'win11'"));
        /* The lenient read never skips the header. */
        err = (gh_error){};
        write_raw(root, "vm2", "gpu-handover-journal 1 domain=vm22\n");
        char **skipped = NULL;
        assert_int_equal(gh_journal_read_lenient(root, "vm2", getuid(), &steps, &n, &skipped, &err),
                         -EBADMSG);
        assert_non_null(strstr(err.msg, "vm2.journal:1: the journal is for domain 'vm22', not 'vm2'"));
        assert_null(skipped);
}

static void assert_line_refused(const char *root, const char *line, const char *want)
{
        _cleanup_free_ char *text = NULL;
        gh_step *steps = NULL;
        size_t n = 0;
        gh_error err = {};

        assert_true(asprintf(&text, "gpu-handover-journal 1 domain=win11\nstop-unit name=gdm.service\n%s\n",
                             line) > 0);
        write_raw(root, "win11", text);
        assert_int_equal(gh_journal_read(root, "win11", getuid(), &steps, &n, &err), -EBADMSG);
        if (!strstr(err.msg, want))
                fail_msg("'%s' does not say '%s'", err.msg, want);
}

/* Names a step carries are held to the config's rules, and a bad one is named by file and line. */
static void test_bad_names_refused(void **state)
{
        const char *root = *state;

        assert_line_refused(root, "stop-unit name=gdm", "win11.journal:3: bad unit name 'gdm'");
        assert_line_refused(root, "start-unit name=..%2Fx.service",
                            "win11.journal:3: bad unit name '../x.service'");
        assert_line_refused(root, "unload-module name=nvidia.ko",
                            "win11.journal:3: bad module name 'nvidia.ko'");
        assert_line_refused(root, "load-module name=auto", "win11.journal:3: bad module name 'auto'");
        assert_line_refused(root, "unbind addr=0000:01:00.0 driver=..",
                            "win11.journal:3: bad driver name '..'");
        assert_line_refused(root, "set-override addr=0000:01:00.0 old=a%2Fb",
                            "win11.journal:3: bad old driver_override 'a/b'");
        assert_line_refused(root, "end-holders nodes=/dev/a,,/dev/b mode=fail grace=5",
                            "win11.journal:3: bad device node ''");
        assert_line_refused(root, "stop-unit name=a%0A.service",
                            "win11.journal:3: bad unit name 'a%0A.service'");
}

/* The lenient read skips a bad line, names it, and returns the others in order. */
static void test_lenient_read_skips_bad_lines(void **state)
{
        const char *root = *state;
        _cleanup_strv_free_ char **skipped = NULL;
        gh_step *steps = NULL;
        size_t n = 0;
        gh_error err = {};

        write_raw(root, "win11",
                  "gpu-handover-journal 1 domain=win11\n"
                  "stop-unit name=gdm.service\n"
                  "unload-module name=bad.name\n"
                  "bind-vfio addr=0000:01:00.0 group=12\n"
                  "frobnicate\n");
        assert_int_equal(gh_journal_read_lenient(root, "win11", getuid(), &steps, &n, &skipped, &err), 0);
        assert_int_equal(n, 2);
        assert_int_equal(steps[0].kind, GH_STEP_STOP_UNIT);
        assert_int_equal(steps[1].kind, GH_STEP_BIND_VFIO);
        gh_steps_free(steps, n);
        assert_int_equal(strv_length(skipped), 2);
        assert_non_null(strstr(skipped[0], "win11.journal:3: bad module name 'bad.name'"));
        assert_non_null(strstr(skipped[1], "win11.journal:5: bad step kind 'frobnicate'"));
}

/* A NUL byte would hide the lines after it as a torn write: refused. */
static void test_nul_byte_refused(void **state)
{
        const char *root = *state;
        _cleanup_free_ char *path = rel_path(root, GH_RUN_DIR "/win11.journal");
        static const char text[] = "gpu-handover-journal 1 domain=win11\nstop-unit name=gdm.service\n\0"
                                   "bind-vfio addr=0000:01:00.0 group=12\n";
        gh_step *steps = NULL;
        size_t n = 0;
        gh_error err = {};
        FILE *f;

        write_raw(root, "win11", "");
        f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fwrite(text, 1, sizeof(text) - 1, f), sizeof(text) - 1);
        fclose(f);
        assert_int_equal(gh_journal_read(root, "win11", getuid(), &steps, &n, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "contains a NUL byte"));
}

/* The text parser reads len bytes and no more: what lies past them is not the journal's. */
static void test_parse_stops_at_len(void **state)
{
        static const char text[] = "gpu-handover-journal 1 domain=win11\nstop-unit name=gdm.service\n"
                                   "load-module name=vfio-pci\n";
        _cleanup_strv_free_ char **skipped = NULL;
        gh_step *steps = NULL;
        size_t n = 0;
        gh_error err = {};

        assert_int_equal(
                gh_journal_parse(text, strlen(text) - 1, "j", "win11", &steps, &n, NULL, NULL, NULL, &err),
                0);
        assert_int_equal(n, 1);
        assert_string_equal(steps[0].name, "gdm.service");
        gh_steps_free(steps, n);
        assert_int_equal(
                gh_journal_parse(text, sizeof(text), "j", "win11", &steps, &n, NULL, NULL, &skipped, &err),
                -EBADMSG);
        assert_string_equal(err.msg, "'j' contains a NUL byte");
}

/* A stuck record is kept apart from the steps, read as strictly as they are, and added to an existing
 * journal by a later run (a release) that opens it to append. */
static void test_stuck_records(void **state)
{
        const char *root = *state;
        static const gh_stuck st = {.addr = "0000:01:00.0", .op = GH_STUCK_UNBIND, .since = 1700000000000000,
                                    .waiter = 4242, .waiter_start = 99, .driver = "nvidia"};
        _cleanup_free_ char *line = NULL;
        _cleanup_free_ gh_stuck *v = NULL;
        gh_journal *j = NULL;
        gh_step *steps = NULL;
        size_t n = 0, n_stuck = 0;
        gh_error err = {};

        assert_int_equal(gh_journal_stuck_line(&st, &line), 0);
        assert_string_equal(line, "stuck 0000:01:00.0 unbind 1700000000000000 4242 99 nvidia");
        write_raw(root, "win11", "gpu-handover-journal 1 domain=win11\nbind-vfio addr=0000:01:00.0 group=12\n");
        assert_int_equal(gh_journal_open_append(root, "win11", getuid(), &j, &err), 0);
        assert_int_equal(gh_journal_append(j, line), 0);
        j = gh_journal_close(j);

        assert_int_equal(gh_journal_read(root, "win11", getuid(), &steps, &n, &err), 0);
        assert_int_equal(n, 1);
        assert_int_equal(steps[0].kind, GH_STEP_BIND_VFIO);
        gh_steps_free(steps, n);
        assert_int_equal(gh_journal_read_all(root, "win11", getuid(), &steps, &n, &v, &n_stuck, &err), 0);
        assert_int_equal(n, 1);
        assert_int_equal(steps[0].kind, GH_STEP_BIND_VFIO);
        gh_steps_free(steps, n);
        assert_int_equal(n_stuck, 1);
        assert_memory_equal(&v[0], &st, sizeof(st));

        /* No journal, nothing to append to. */
        assert_int_equal(gh_journal_open_append(root, "vm2", getuid(), &j, &err), -ENOENT);

        /* A record that does not parse is a bad line like any other: named, or skipped when asked. */
        write_raw(root, "vm3", "gpu-handover-journal 1 domain=vm3\nstuck 0000:01:00.0 unbind 12 x 0 nvidia\n");
        assert_int_equal(gh_journal_read(root, "vm3", getuid(), &steps, &n, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "/run/gpu-handover/vm3.journal:2: bad stuck record"));
        assert_int_equal(gh_journal_read_all(root, "vm3", getuid(), &steps, &n, &v, &n_stuck, &err),
                         -EBADMSG);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_append_and_read, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_refuses_existing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_torn_last_line_ignored, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_line_named, setup, teardown),
                cmocka_unit_test_setup_teardown(test_list_and_remove, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_domain_names, setup, teardown),
                cmocka_unit_test_setup_teardown(test_untrusted_journal_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_untrusted_run_dir_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_created_modes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_header_names_another_domain, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_names_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_lenient_read_skips_bad_lines, setup, teardown),
                cmocka_unit_test_setup_teardown(test_nul_byte_refused, setup, teardown),
                cmocka_unit_test(test_parse_stops_at_len),
                cmocka_unit_test_setup_teardown(test_stuck_records, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
