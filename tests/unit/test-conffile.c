/* Config files on disk: which files are trusted, opt-in by domain file, errors naming the file. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "host/conffile.h"
#include "shared/fileio.h"

#define DOMAIN_FILE "etc/gpu-handover/domains/win11.conf"
#define GLOBAL_FILE "etc/gpu-handover/gpu-handover.conf"
#define NOBODY 65534

typedef struct tree {
        char root[64];
} tree;

static char *at(const tree *t, const char *rel)
{
        char *p = path_join(t->root, rel);

        assert_non_null(p);
        return p;
}

static void put(const tree *t, const char *rel, const char *text, mode_t mode)
{
        _cleanup_free_ char *p = at(t, rel);
        _cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        assert_int_equal(fchmod(fd, mode), 0);
}

static void set_mode(const tree *t, const char *rel, mode_t mode)
{
        _cleanup_free_ char *p = at(t, rel);

        assert_int_equal(chmod(p, mode), 0);
}

static void set_owner(const tree *t, const char *rel, uid_t uid)
{
        _cleanup_free_ char *p = at(t, rel);

        assert_int_equal(lchown(p, uid, (gid_t)-1), 0);
}

static int setup(void **state)
{
        tree *t = calloc(1, sizeof(*t));
        _cleanup_free_ char *etc = NULL, *conf = NULL, *domains = NULL;

        assert_non_null(t);
        strcpy(t->root, "/tmp/test-conffile.XXXXXX");
        assert_non_null(mkdtemp(t->root));
        etc = at(t, "etc");
        conf = at(t, "etc/gpu-handover");
        domains = at(t, "etc/gpu-handover/domains");
        assert_int_equal(mkdir(etc, 0755), 0);
        assert_int_equal(mkdir(conf, 0755), 0);
        assert_int_equal(mkdir(domains, 0755), 0);
        /* Whatever the umask, start from the modes a packager would ship. */
        set_mode(t, "etc/gpu-handover", 0755);
        set_mode(t, "etc/gpu-handover/domains", 0755);
        *state = t;
        return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path);
}

static int teardown(void **state)
{
        tree *t = *state;

        assert_int_equal(nftw(t->root, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
        free(t);
        return 0;
}

static void skip_unless_root(void)
{
        if (geteuid() != 0)
                skip();
}

/* Loads win11 over defaults; expects r and, when r < 0, exactly msg and an untouched policy. */
static void load_expect(const tree *t, int r, const char *msg)
{
        _cleanup_(gh_policy_done) gh_policy p = {}, before = {};
        gh_error err = {};

        gh_policy_init(&p);
        gh_policy_init(&before);
        p.timeout_sec = before.timeout_sec = 77;
        assert_int_equal(gh_config_load(t->root, "win11", getuid(), &p, &err), r);
        assert_int_equal(err.code, r);
        assert_string_equal(err.msg, msg);
        assert_int_equal(p.timeout_sec, 77);
        assert_true(p.devices_auto);
}

static void test_domain_path(void **state)
{
        char name[202];
        char *p = NULL;

        assert_int_equal(gh_config_domain_path("/", "win11", &p), 0);
        assert_string_equal(p, "/etc/gpu-handover/domains/win11.conf");
        free(p);
        assert_int_equal(gh_config_domain_path("/tmp/r/", "my vm (2)", &p), 0);
        assert_string_equal(p, "/tmp/r/etc/gpu-handover/domains/my vm (2).conf");
        free(p);
        memset(name, 'a', 200);
        name[200] = 0;
        assert_int_equal(gh_config_domain_path("/", name, &p), 0);
        free(p);
        p = NULL;
        name[200] = 'a';
        name[201] = 0;
        assert_int_equal(gh_config_domain_path("/", name, &p), -EINVAL);
        assert_int_equal(gh_config_domain_path("/", "", &p), -EINVAL);
        assert_int_equal(gh_config_domain_path("/", ".hidden", &p), -EINVAL);
        assert_int_equal(gh_config_domain_path("/", "..", &p), -EINVAL);
        assert_int_equal(gh_config_domain_path("/", "a/b", &p), -EINVAL);
        assert_int_equal(gh_config_domain_path("/", "a\nb", &p), -EINVAL);
        assert_int_equal(gh_config_domain_path("/", "a\x7f", &p), -EINVAL);
        assert_int_equal(gh_config_domain_path("/", NULL, &p), -EINVAL);
        assert_null(p);
}

static void test_bad_domain_names(void **state)
{
        static const struct {
                const char *name, *msg;
        } cases[] = {
                {"", "domain name '' is empty"},
                {".win11", "domain name '.win11' starts with '.'"},
                {"../../etc/shadow", "domain name '../../etc/shadow' starts with '.'"},
                {"-win11", "domain name '-win11' starts with '-'"},
                {"a/../../x", "domain name 'a/../../x' contains '/'"},
                {"win\n11", "domain name contains a control character"},
                {"win\t11", "domain name contains a control character"},
        };
        char long_name[202];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(gh_policy_done) gh_policy p = {};
                gh_error err = {};

                gh_policy_init(&p);
                assert_int_equal(gh_config_load("/", cases[i].name, 0, &p, &err), -EINVAL);
                assert_string_equal(err.msg, cases[i].msg);
        }
        memset(long_name, 'w', 201);
        long_name[201] = 0;
        _cleanup_(gh_policy_done) gh_policy p = {};
        gh_error err = {};
        gh_policy_init(&p);
        assert_int_equal(gh_config_load("/", long_name, 0, &p, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "is longer than 200 characters"));
}

static void test_load(void **state)
{
        tree *t = *state;
        _cleanup_(gh_policy_done) gh_policy p = {};
        gh_error err = {};

        put(t, GLOBAL_FILE, "timeout = 90\nholders = fail\ndevices = 02:00.0\n", 0644);
        put(t, DOMAIN_FILE, "# win11\ndevices = 01:00.0 01:00.1\ntimeout = 30\n", 0600);
        gh_policy_init(&p);
        assert_int_equal(gh_config_load(t->root, "win11", getuid(), &p, &err), 0);
        assert_false(gh_error_isset(&err));
        assert_int_equal(p.timeout_sec, 30);
        assert_int_equal(p.holders, GH_HOLDERS_FAIL);
        assert_false(p.devices_auto);
        assert_int_equal(p.n_devices, 2);
        assert_string_equal(GH_PCI_ADDR_STR(&p.devices[0]), "0000:01:00.0");
        assert_string_equal(GH_PCI_ADDR_STR(&p.devices[1]), "0000:01:00.1");
}

static void test_global_optional(void **state)
{
        tree *t = *state;
        _cleanup_(gh_policy_done) gh_policy p = {};

        put(t, DOMAIN_FILE, "claim_at_boot = yes\n", 0644);
        gh_policy_init(&p);
        assert_int_equal(gh_config_load(t->root, "win11", getuid(), &p, NULL), 0);
        assert_true(p.claim_at_boot);
        assert_int_equal(p.timeout_sec, GH_POLICY_TIMEOUT_DEFAULT);
}

static void test_empty_domain_file(void **state)
{
        tree *t = *state;
        _cleanup_(gh_policy_done) gh_policy p = {}, d = {};

        put(t, DOMAIN_FILE, "", 0644);
        gh_policy_init(&p);
        gh_policy_init(&d);
        assert_int_equal(gh_config_load(t->root, "win11", getuid(), &p, NULL), 0);
        assert_int_equal(p.devices_auto, d.devices_auto);
        assert_int_equal(p.timeout_sec, d.timeout_sec);
        assert_int_equal(p.holders, d.holders);
        assert_int_equal(p.display_manager, d.display_manager);
}

static void test_not_opted_in(void **state)
{
        tree *t = *state;
        _cleanup_free_ char *domains = at(t, "etc/gpu-handover/domains"), *conf = at(t, "etc/gpu-handover");
        _cleanup_free_ char *other = at(t, "etc/gpu-handover/domains/win10.conf"),
                            *global = at(t, GLOBAL_FILE);
        static const char msg[] =
                "domain 'win11' has not opted in: '/etc/gpu-handover/domains/win11.conf' does not exist";

        put(t, GLOBAL_FILE, "timeout = 90\n", 0644);
        put(t, "etc/gpu-handover/domains/win10.conf", "", 0644);
        load_expect(t, -ENOENT, msg);
        /* Not even a broken global file gets in the way of that answer. */
        put(t, GLOBAL_FILE, "timeout = never\n", 0644);
        load_expect(t, -ENOENT, msg);
        assert_int_equal(unlink(other), 0);
        assert_int_equal(rmdir(domains), 0);
        load_expect(t, -ENOENT, msg);
        assert_int_equal(unlink(global), 0);
        assert_int_equal(rmdir(conf), 0);
        load_expect(t, -ENOENT, msg);
}

static void test_wrong_owner(void **state)
{
        tree *t = *state;
        char msg[256];

        skip_unless_root();
        put(t, DOMAIN_FILE, "timeout = 30\n", 0644);
        put(t, GLOBAL_FILE, "timeout = 30\n", 0644);
        set_owner(t, DOMAIN_FILE, NOBODY);
        snprintf(msg, sizeof(msg),
                 "'/etc/gpu-handover/domains/win11.conf' is owned by uid 65534, not uid %u",
                 (unsigned)getuid());
        load_expect(t, -EPERM, msg);
        set_owner(t, DOMAIN_FILE, getuid());
        set_owner(t, GLOBAL_FILE, NOBODY);
        snprintf(msg, sizeof(msg), "'/etc/gpu-handover/gpu-handover.conf' is owned by uid 65534, not uid %u",
                 (unsigned)getuid());
        load_expect(t, -EPERM, msg);
        set_owner(t, GLOBAL_FILE, getuid());
        set_owner(t, "etc/gpu-handover/domains", NOBODY);
        snprintf(msg, sizeof(msg), "'/etc/gpu-handover/domains' is owned by uid 65534, not uid %u",
                 (unsigned)getuid());
        load_expect(t, -EPERM, msg);
        set_owner(t, "etc/gpu-handover/domains", getuid());
        set_owner(t, "etc/gpu-handover", NOBODY);
        snprintf(msg, sizeof(msg), "'/etc/gpu-handover' is owned by uid 65534, not uid %u",
                 (unsigned)getuid());
        load_expect(t, -EPERM, msg);
}

/* The owner is a parameter: the same tree is refused for another expected owner. */
static void test_other_expected_owner(void **state)
{
        tree *t = *state;
        _cleanup_(gh_policy_done) gh_policy p = {};
        gh_error err = {};
        char msg[256];

        put(t, DOMAIN_FILE, "", 0644);
        gh_policy_init(&p);
        assert_int_equal(gh_config_load(t->root, "win11", getuid() + 1, &p, &err), -EPERM);
        snprintf(msg, sizeof(msg), "'/etc/gpu-handover' is owned by uid %u, not uid %u", (unsigned)getuid(),
                 (unsigned)getuid() + 1);
        assert_string_equal(err.msg, msg);
}

static void test_writable_files(void **state)
{
        tree *t = *state;

        put(t, DOMAIN_FILE, "", 0664);
        load_expect(t, -EPERM,
                    "'/etc/gpu-handover/domains/win11.conf' is writable by group or others (mode 0664)");
        set_mode(t, DOMAIN_FILE, 0646);
        load_expect(t, -EPERM,
                    "'/etc/gpu-handover/domains/win11.conf' is writable by group or others (mode 0646)");
        set_mode(t, DOMAIN_FILE, 0444);
        put(t, GLOBAL_FILE, "timeout = 30\n", 0620);
        load_expect(t, -EPERM,
                    "'/etc/gpu-handover/gpu-handover.conf' is writable by group or others (mode 0620)");
}

static void test_writable_dirs(void **state)
{
        tree *t = *state;

        put(t, DOMAIN_FILE, "", 0644);
        set_mode(t, "etc/gpu-handover/domains", 0777);
        load_expect(t, -EPERM, "'/etc/gpu-handover/domains' is writable by group or others (mode 0777)");
        set_mode(t, "etc/gpu-handover/domains", 01777);
        load_expect(t, -EPERM, "'/etc/gpu-handover/domains' is writable by group or others (mode 1777)");
        set_mode(t, "etc/gpu-handover/domains", 0755);
        set_mode(t, "etc/gpu-handover", 0775);
        load_expect(t, -EPERM, "'/etc/gpu-handover' is writable by group or others (mode 0775)");
}

static void test_symlinks(void **state)
{
        tree *t = *state;
        _cleanup_free_ char *link = at(t, DOMAIN_FILE), *glink = at(t, GLOBAL_FILE),
                            *real = at(t, "real.conf");
        _cleanup_free_ char *domains = at(t, "etc/gpu-handover/domains"), *moved = at(t, "domains.real");

        put(t, "real.conf", "timeout = 30\n", 0644);
        assert_int_equal(symlink(real, link), 0);
        load_expect(t, -EPERM, "'/etc/gpu-handover/domains/win11.conf' is a symbolic link; refused");
        assert_int_equal(unlink(link), 0);
        /* A dangling link is refused too, not taken for a missing file. */
        assert_int_equal(symlink("/nonexistent/win11.conf", link), 0);
        load_expect(t, -EPERM, "'/etc/gpu-handover/domains/win11.conf' is a symbolic link; refused");
        assert_int_equal(unlink(link), 0);
        put(t, DOMAIN_FILE, "", 0644);
        assert_int_equal(symlink(real, glink), 0);
        load_expect(t, -EPERM, "'/etc/gpu-handover/gpu-handover.conf' is a symbolic link; refused");
        assert_int_equal(unlink(glink), 0);
        assert_int_equal(rename(domains, moved), 0);
        assert_int_equal(symlink(moved, domains), 0);
        load_expect(t, -EPERM, "'/etc/gpu-handover/domains' is a symbolic link; refused");
}

static void test_not_regular(void **state)
{
        tree *t = *state;
        _cleanup_free_ char *p = at(t, DOMAIN_FILE), *g = at(t, GLOBAL_FILE), *domains = NULL;

        assert_int_equal(mkdir(p, 0755), 0);
        load_expect(t, -EPERM, "'/etc/gpu-handover/domains/win11.conf' is not a regular file");
        assert_int_equal(rmdir(p), 0);
        /* A FIFO must be refused, not waited on. */
        assert_int_equal(mkfifo(p, 0644), 0);
        load_expect(t, -EPERM, "'/etc/gpu-handover/domains/win11.conf' is not a regular file");
        assert_int_equal(unlink(p), 0);
        put(t, DOMAIN_FILE, "", 0644);
        assert_int_equal(mkfifo(g, 0644), 0);
        load_expect(t, -EPERM, "'/etc/gpu-handover/gpu-handover.conf' is not a regular file");
        assert_int_equal(unlink(g), 0);
        assert_int_equal(unlink(p), 0);
        domains = at(t, "etc/gpu-handover/domains");
        assert_int_equal(rmdir(domains), 0);
        put(t, "etc/gpu-handover/domains", "", 0644);
        load_expect(t, -EPERM, "'/etc/gpu-handover/domains' is not a directory");
}

static void test_parse_errors(void **state)
{
        tree *t = *state;

        put(t, DOMAIN_FILE, "timeout = 30\nfoo = bar\n", 0644);
        load_expect(t, -EINVAL, "/etc/gpu-handover/domains/win11.conf:2: unknown key 'foo'");
        /* The global file's error, with the global file's name; nothing is applied. */
        put(t, DOMAIN_FILE, "timeout = 30\n", 0644);
        put(t, GLOBAL_FILE, "\n\ndevices = 01:00.0 01:00.0\n", 0644);
        load_expect(t, -EINVAL,
                    "/etc/gpu-handover/gpu-handover.conf:3: duplicate PCI address '01:00.0' in 'devices'");
        /* A good global file is not applied either when the domain file is bad. */
        put(t, GLOBAL_FILE, "timeout = 90\ndevices = 01:00.0\n", 0644);
        put(t, DOMAIN_FILE, "timeout 30\n", 0644);
        load_expect(t, -EINVAL, "/etc/gpu-handover/domains/win11.conf:1: missing '=' in 'timeout 30'");
}

static void test_size_and_nul(void **state)
{
        tree *t = *state;
        _cleanup_free_ char *big = malloc(64 * 1024 + 2), *p = at(t, DOMAIN_FILE);
        _cleanup_(gh_policy_done) gh_policy q = {};

        /* Exactly 64 KiB of comment is fine, one byte more is not. */
        assert_non_null(big);
        memset(big, '#', 64 * 1024);
        big[64 * 1024] = 0;
        put(t, DOMAIN_FILE, big, 0644);
        gh_policy_init(&q);
        assert_int_equal(gh_config_load(t->root, "win11", getuid(), &q, NULL), 0);
        strcpy(big + 64 * 1024, "#");
        put(t, DOMAIN_FILE, big, 0644);
        load_expect(t, -EFBIG, "'/etc/gpu-handover/domains/win11.conf' is larger than 65536 bytes");

        _cleanup_close_ int fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "timeout = 3\0\n", 13), 13);
        load_expect(t, -EINVAL, "'/etc/gpu-handover/domains/win11.conf' contains a NUL byte");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_domain_path),
                cmocka_unit_test(test_bad_domain_names),
                cmocka_unit_test_setup_teardown(test_load, setup, teardown),
                cmocka_unit_test_setup_teardown(test_global_optional, setup, teardown),
                cmocka_unit_test_setup_teardown(test_empty_domain_file, setup, teardown),
                cmocka_unit_test_setup_teardown(test_not_opted_in, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wrong_owner, setup, teardown),
                cmocka_unit_test_setup_teardown(test_other_expected_owner, setup, teardown),
                cmocka_unit_test_setup_teardown(test_writable_files, setup, teardown),
                cmocka_unit_test_setup_teardown(test_writable_dirs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_symlinks, setup, teardown),
                cmocka_unit_test_setup_teardown(test_not_regular, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parse_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_size_and_nul, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
