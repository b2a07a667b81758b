/* Trusting a program by its path: every component from the root down is the owner's and writable by
 * nobody else, symbolic links are resolved first, and the way out of the root is refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "host/safepath.h"
#include "proc-fake.h"

static void assert_refused(const char *root, const char *path, uid_t owner, int want, const char *msg)
{
        gh_error err = {};
        int r = gh_safe_path_check(root, path, owner, &err);

        if (r != want || !strstr(err.msg, msg))
                fail_msg("'%s' under '%s': %d '%s', wanted %d and '%s'", path, root, r, err.msg, want, msg);
}

static void assert_trusted_by(const char *root, const char *path, uid_t owner)
{
        gh_error err = {};
        int r = gh_safe_path_check(root, path, owner, &err);

        if (r != 0)
                fail_msg("'%s' under '%s' refused: %s", path, root, err.msg);
}

#define assert_trusted(root, path) assert_trusted_by(root, path, geteuid())

static void make_tool(const char *root, const char *path, mode_t mode)
{
        _cleanup_free_ char *p = pf_path(root, path);

        pf_write(root, path, "#!/bin/sh\n");
        assert_int_equal(chmod(p, mode), 0);
}

static void test_below_a_root(void **state)
{
        _cleanup_pf_root_ char *root = pf_root_new("safepath");
        _cleanup_free_ char *dir = pf_path(root, "/lib/x");

        make_tool(root, "/lib/x/hook", 0755);
        assert_trusted(root, "/lib/x/hook");
        /* Not the owner's: the file, then a directory on the way. */
        assert_refused(root, "/lib/x/hook", geteuid() + 1, -EPERM, "/lib' is owned by uid");
        assert_int_equal(chmod(dir, 0775), 0);
        assert_refused(root, "/lib/x/hook", geteuid(), -EPERM, "/lib/x' is writable by group or others (mode 0775)");
        assert_int_equal(chmod(dir, 0755), 0);
        /* Not a program, not there, not a file. */
        make_tool(root, "/lib/x/data", 0644);
        assert_refused(root, "/lib/x/data", geteuid(), -ENOEXEC, "is not an executable file");
        assert_refused(root, "/lib/x/none", geteuid(), -ENOENT, "No such file");
        assert_refused(root, "/lib/x", geteuid(), -ENOEXEC, "is not an executable file");
        /* A link is judged by where it leads: inside the root, that file; outside, refused. */
        pf_symlink(root, "/lib/x/rel", "hook");
        assert_trusted(root, "/lib/x/rel");
        pf_symlink(root, "/lib/x/out", "/bin/sh");
        assert_refused(root, "/lib/x/out", geteuid(), -EPERM, "outside");
        pf_symlink(root, "/lib/x/up", "../../../../../../../../bin/sh");
        assert_refused(root, "/lib/x/up", geteuid(), -EPERM, "outside");
}

/* On the host, "/" itself is on the way; a program of the system's passes. */
static void test_on_the_host(void **state)
{
        assert_refused("/", "/bin/sh", 1, -EPERM, "'/' is owned by uid 0, not uid 1");
        assert_trusted_by("/", "/bin/sh", 0);
        /* /tmp is writable by all: nothing below it can be trusted. */
        assert_refused("/", "/tmp", 0, -EPERM, "'/tmp' is");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_below_a_root),
                cmocka_unit_test(test_on_the_host),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
