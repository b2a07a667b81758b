/* The journal file: appended lines read back as steps, a torn last line ignored, bad lines named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>

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
}

static void test_append_and_read(void **state)
{
        const char *root = *state;
        gh_journal *j = NULL;
        gh_step *steps = NULL;
        size_t n = 0;
        gh_error err = {};

        assert_int_equal(gh_journal_create(root, "win11", &j), 0);
        assert_int_equal(gh_journal_append(j, "stop-unit name=gdm.service"), 0);
        assert_int_equal(gh_journal_append(j, "bind-vfio addr=0000:01:00.0 group=12"), 0);
        assert_int_equal(gh_journal_append(j, "two\nlines"), -EINVAL);
        gh_journal_close(j);
        assert_int_equal(gh_journal_read(root, "win11", &steps, &n, &err), 0);
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

        assert_int_equal(gh_journal_create(root, "win11", &j), 0);
        assert_int_equal(gh_journal_create(root, "win11", &k), -EEXIST);
        gh_journal_close(j);
}

static void test_torn_last_line_ignored(void **state)
{
        const char *root = *state;
        gh_step *steps = NULL;
        size_t n = 0;
        gh_error err = {};

        write_raw(root, "win11", "gpu-handover-journal 1 domain=win11\nstop-unit name=gdm.service\nunload-modu");
        assert_int_equal(gh_journal_read(root, "win11", &steps, &n, &err), 0);
        assert_int_equal(n, 1);
        assert_string_equal(steps[0].name, "gdm.service");
        gh_steps_free(steps, n);
        /* A torn header: nothing began. */
        write_raw(root, "vm2", "gpu-handover-jour");
        assert_int_equal(gh_journal_read(root, "vm2", &steps, &n, &err), 0);
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
        assert_int_equal(gh_journal_read(root, "win11", &steps, &n, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "win11.journal:3"));
        write_raw(root, "vm3", "something else\n");
        err = (gh_error){};
        assert_int_equal(gh_journal_read(root, "vm3", &steps, &n, &err), -EBADMSG);
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
        assert_int_equal(gh_journal_create(root, "a", &j), 0);
        gh_journal_close(j);
        assert_int_equal(gh_journal_create(root, "b", &j), 0);
        gh_journal_close(j);
        assert_int_equal(gh_journal_list(root, &l), 0);
        assert_int_equal(strv_length(l), 2);
        assert_true(strv_contains(l, "a") && strv_contains(l, "b"));
        assert_int_equal(gh_journal_remove(root, "a"), 0);
        assert_int_equal(gh_journal_remove(root, "a"), 0);
        assert_int_equal(gh_journal_read(root, "a", &steps, &n, NULL), -ENOENT);
}

static void test_bad_domain_names(void **state)
{
        const char *root = *state;
        gh_journal *j = NULL;

        assert_int_equal(gh_journal_create(root, "../etc/passwd", &j), -EINVAL);
        assert_int_equal(gh_journal_create(root, ".hidden", &j), -EINVAL);
        assert_int_equal(gh_journal_create(root, "", &j), -EINVAL);
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
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
