/* Modules: state and holders from fake sysfs trees; unload and load through libkmod against a fake
 * root, with a seccomp guard so that nothing here can load or unload a module of this machine. */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "host/modules.h"
#include "proc-fake.h"
#include "shared/fileio.h"
#include "shared/strv.h"

/* What the guard answers for the module syscalls: a value no kernel gives for them. */
/* Loads that finish: far more than they need. */
#define LOAD_DEADLINE (deadline_after(20 * USEC_PER_SEC))

#define GUARD_ERRNO EHWPOISON
#define GUARD_FORCE_ERRNO ENOTRECOVERABLE

#if defined(__x86_64__)
#define GUARD_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define GUARD_ARCH AUDIT_ARCH_AARCH64
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG1_LOW offsetof(struct seccomp_data, args[1])
#else
#define ARG1_LOW (offsetof(struct seccomp_data, args[1]) + 4)
#endif

static bool guard_installed;

/* delete_module answers delete_errno (GUARD_FORCE_ERRNO when asked to force); init_module and
 * finit_module answer GUARD_ERRNO. Filters stack: a later one overrides the errno of an earlier one. */
static int guard_install(int delete_errno)
{
#ifdef GUARD_ARCH
        struct sock_filter f[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, GUARD_ARCH, 1, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_delete_module, 0, 4),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG1_LOW),
                BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, O_TRUNC, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | GUARD_FORCE_ERRNO),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)delete_errno),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_init_module, 2, 0),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_finit_module, 1, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | GUARD_ERRNO),
        };
        struct sock_fprog prog = {.len = ELEMENTSOF(f), .filter = f};

        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
                return -errno;
        return 0;
#else
        return -EOPNOTSUPP;
#endif
}

#define REQUIRE_GUARD()                                                                                     \
        do {                                                                                                \
                if (!guard_installed) {                                                                     \
                        print_message("seccomp guard unavailable; not calling libkmod's load/unload\n");    \
                        skip();                                                                             \
                }                                                                                           \
        } while (0)

static char *modules_rel(const char *file)
{
        struct utsname u;
        char *p;

        assert_int_equal(uname(&u), 0);
        assert_true(asprintf(&p, "/lib/modules/%s%s%s", u.release, file ? "/" : "", file ? file : "") > 0);
        return p;
}

/* A fake root whose sysfs has: nvidia and snd_hda_intel loaded, drm built in with parameters. */
static char *fake_root(void)
{
        char *root = pf_root_new("modules");
        _cleanup_free_ char *builtin = modules_rel("modules.builtin");

        pf_write(root, "/sys/module/nvidia/initstate", "live\n");
        pf_write(root, "/sys/module/nvidia/refcnt", "3\n");
        pf_mkdir(root, "/sys/module/nvidia/holders/nvidia_modeset");
        pf_mkdir(root, "/sys/module/nvidia/holders/nvidia_drm");
        pf_write(root, "/sys/module/snd_hda_intel/initstate", "live\n");
        pf_write(root, "/sys/module/drm/parameters/debug", "0\n");
        pf_write(root, builtin,
                 "kernel/drivers/gpu/drm/drm.ko\nkernel/drivers/video/fbdev/core/fb-helper-x.ko\n");
        return root;
}

static void test_state(void **state)
{
        _cleanup_pf_root_ char *root = fake_root();

        assert_int_equal(gh_module_get_state(root, "nvidia"), GH_MODULE_LOADED);
        assert_int_equal(gh_module_get_state(root, "snd-hda-intel"), GH_MODULE_LOADED);
        assert_int_equal(gh_module_get_state(root, "snd_hda_intel"), GH_MODULE_LOADED);
        assert_int_equal(gh_module_get_state(root, "drm"), GH_MODULE_BUILTIN);
        assert_int_equal(gh_module_get_state(root, "amdgpu"), GH_MODULE_ABSENT);
        assert_int_equal(gh_module_get_state(root, "../nvidia"), -EINVAL);
        assert_int_equal(gh_module_get_state(root, ""), -EINVAL);
}

static void test_state_builtin_list(void **state)
{
        _cleanup_pf_root_ char *root = fake_root();

        /* No sysfs directory: only modules.builtin knows, in either spelling. */
        assert_int_equal(gh_module_get_state(root, "fb_helper_x"), GH_MODULE_BUILTIN);
        assert_int_equal(gh_module_get_state(root, "fb-helper-x"), GH_MODULE_BUILTIN);
        assert_int_equal(gh_module_get_state(root, "fb_helper"), GH_MODULE_ABSENT);
        assert_int_equal(gh_module_get_state(root, "helper_x"), GH_MODULE_ABSENT);
}

static void test_holders(void **state)
{
        _cleanup_pf_root_ char *root = fake_root();
        _cleanup_strv_free_ char **h = NULL, **none = NULL, **absent = NULL;

        assert_int_equal(gh_module_read_holders(root, "nvidia", &h), 0);
        assert_int_equal(strv_length(h), 2);
        assert_string_equal(h[0], "nvidia_drm");
        assert_string_equal(h[1], "nvidia_modeset");

        /* Loaded without holders, and absent altogether: both an empty list, not NULL. */
        assert_int_equal(gh_module_read_holders(root, "snd-hda-intel", &none), 0);
        assert_non_null(none);
        assert_int_equal(strv_length(none), 0);
        assert_int_equal(gh_module_read_holders(root, "amdgpu", &absent), 0);
        assert_non_null(absent);
        assert_int_equal(strv_length(absent), 0);
}

/* The functions bound to a module's PCI drivers, through sysfs' drivers/pci:NAME links; a driver's other
 * entries (bind, module, new_id) are not functions. */
static void test_pci_devices(void **state)
{
        _cleanup_pf_root_ char *root = fake_root();
        _cleanup_strv_free_ char **a = NULL, **d = NULL, **none = NULL, **none_d = NULL;

        pf_symlink(root, "/sys/module/nvidia/drivers/pci:nvidia", "../../../bus/pci/drivers/nvidia");
        pf_symlink(root, "/sys/module/nvidia/drivers/i2c:not-pci", "../../../bus/i2c/drivers/not-pci");
        pf_mkdir(root, "/sys/bus/pci/drivers/nvidia/0000:01:00.0");
        pf_mkdir(root, "/sys/bus/pci/drivers/nvidia/0000:02:00.0");
        pf_write(root, "/sys/bus/pci/drivers/nvidia/bind", "");
        pf_mkdir(root, "/sys/bus/pci/drivers/nvidia/module");
        pf_mkdir(root, "/sys/bus/i2c/drivers/not-pci/0-0050");

        assert_int_equal(gh_module_read_pci_devices(root, "nvidia", &a, &d), 0);
        assert_int_equal(strv_length(a), 2);
        assert_int_equal(strv_length(d), 2);
        assert_true(strv_contains(a, "0000:01:00.0"));
        assert_true(strv_contains(a, "0000:02:00.0"));
        assert_string_equal(d[0], "nvidia");
        assert_string_equal(d[1], "nvidia");

        /* No drivers at all: empty lists, not NULL. */
        assert_int_equal(gh_module_read_pci_devices(root, "snd_hda_intel", &none, &none_d), 0);
        assert_non_null(none);
        assert_int_equal(strv_length(none), 0);
}

static void test_kmod_new(void **state)
{
        _cleanup_pf_root_ char *root = fake_root();
        _cleanup_pf_root_ char *empty = pf_root_new("modules-empty");
        _cleanup_free_ char *dir = modules_rel(NULL);
        gh_kmod *k = NULL;

        pf_mkdir(root, dir);
        assert_int_equal(gh_kmod_new(root, &k), 0);
        assert_non_null(k);
        k = gh_kmod_free(k);
        assert_null(k);

        assert_int_equal(gh_kmod_new(empty, &k), -ENOENT);
        assert_null(k);
        assert_null(gh_kmod_free(NULL));
}

static gh_kmod *kmod_for(const char *root)
{
        _cleanup_free_ char *dir = modules_rel(NULL);
        gh_kmod *k = NULL;

        pf_mkdir(root, dir);
        assert_int_equal(gh_kmod_new(root, &k), 0);
        return k;
}

static void test_unload_absent(void **state)
{
        _cleanup_pf_root_ char *root = fake_root();
        gh_kmod *k;
        gh_error err = {};

        REQUIRE_GUARD();
        k = kmod_for(root);
        /* A call into the kernel would come back as -GUARD_ERRNO (see test_unload_reaches_kernel). */
        assert_int_equal(gh_kmod_unload(k, "amdgpu", deadline_after(USEC_PER_SEC), &err), 0);
        assert_false(gh_error_isset(&err));
        gh_kmod_free(k);
}

static void test_unload_builtin(void **state)
{
        _cleanup_pf_root_ char *root = fake_root();
        gh_kmod *k;
        gh_error err = {};

        REQUIRE_GUARD();
        k = kmod_for(root);
        assert_int_equal(gh_kmod_unload(k, "drm", deadline_after(USEC_PER_SEC), &err), -EOPNOTSUPP);
        assert_int_equal(err.code, -EOPNOTSUPP);
        assert_non_null(strstr(err.msg, "'drm'"));
        gh_kmod_free(k);
}

static void test_unload_reaches_kernel(void **state)
{
        _cleanup_pf_root_ char *root = fake_root();
        gh_kmod *k;
        gh_error err = {};

        REQUIRE_GUARD();
        /* A name no kernel has, in case the guard were gone: then the kernel says -ENOENT. */
        pf_write(root, "/sys/module/gh_test_nosuch/initstate", "live\n");
        k = kmod_for(root);
        /* The guard saw delete_module, and without KMOD_REMOVE_FORCE (else GUARD_FORCE_ERRNO). */
        assert_int_equal(gh_kmod_unload(k, "gh-test-nosuch", deadline_after(USEC_PER_SEC), &err),
                         -GUARD_ERRNO);
        assert_non_null(strstr(err.msg, "gh-test-nosuch"));
        gh_kmod_free(k);
}

typedef struct child_result {
        int r;
        char msg[GH_ERROR_MAX];
} child_result;

/* Unloads in a child whose delete_module always says EAGAIN, as for a module in use. */
static pid_t unload_busy_child(const char *root, const char *name, usec_t timeout, int *ret_fd)
{
        int p[2];
        pid_t pid;

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                child_result res = {};
                gh_error err = {};
                gh_kmod *k = NULL;

                if (guard_install(EAGAIN) < 0 || gh_kmod_new(root, &k) < 0)
                        _exit(2);
                res.r = gh_kmod_unload(k, name, deadline_after(timeout), &err);
                memcpy(res.msg, err.msg, sizeof(res.msg));
                _exit(write(p[1], &res, sizeof(res)) == sizeof(res) ? 0 : 3);
        }
        close(p[1]);
        *ret_fd = p[0];
        return pid;
}

static void child_wait(pid_t pid, int fd, child_result *res)
{
        int status;

        assert_int_equal(read(fd, res, sizeof(*res)), (ssize_t)sizeof(*res));
        close(fd);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_unload_busy_until_deadline(void **state)
{
        _cleanup_pf_root_ char *root = fake_root();
        _cleanup_free_ char *dir = modules_rel(NULL);
        child_result res;
        pid_t pid;
        int fd;

        REQUIRE_GUARD();
        pf_mkdir(root, dir);
        pid = unload_busy_child(root, "nvidia", 300 * USEC_PER_MSEC, &fd);
        child_wait(pid, fd, &res);
        assert_int_equal(res.r, -EBUSY);
        assert_non_null(strstr(res.msg, "'nvidia'"));
        assert_non_null(strstr(res.msg, "refcount 3"));
        assert_non_null(strstr(res.msg, "nvidia_drm,nvidia_modeset"));
}

static void test_unload_busy_then_gone(void **state)
{
        _cleanup_pf_root_ char *root = fake_root();
        _cleanup_free_ char *dir = modules_rel(NULL);
        child_result res;
        pid_t pid;
        int fd;

        REQUIRE_GUARD();
        pf_mkdir(root, dir);
        pid = unload_busy_child(root, "nvidia", 60 * USEC_PER_SEC, &fd);
        /* The last user goes away while the child retries: it must notice, well before its deadline. */
        usleep(200 * 1000);
        pf_remove(root, "/sys/module/nvidia");
        child_wait(pid, fd, &res);
        assert_int_equal(res.r, 0);
}

/* Install commands stand in for insertion: they show what libkmod would load, with which options. */
static char *load_root(void)
{
        char *root = fake_root();
        _cleanup_free_ char *dir = modules_rel(NULL), *conf = NULL;

        pf_mkdir(root, dir);
        assert_true(asprintf(&conf,
                             "blacklist gh_fake_gpu\n"
                             "options gh_fake_gpu gh_opt=7\n"
                             "install gh_fake_gpu echo $CMDLINE_OPTS > %s/loaded-gh_fake_gpu\n"
                             "alias pci:v0000ABCDd* gh_fake_gpu\n"
                             "alias pci:v00001234d* gh_other_gpu\n"
                             "install gh_other_gpu echo other > %s/loaded-gh_other_gpu\n"
                             "install gh_bad_gpu false\n"
                             "install gh_hang_gpu sleep 30\n",
                             root, root) > 0);
        pf_write(root, "/etc/modprobe.d/gh-test.conf", conf);
        return root;
}

static void assert_file_content(const char *root, const char *path, const char *content)
{
        _cleanup_free_ char *p = pf_path(root, path), *text = NULL;

        assert_int_equal(read_one_line_file(p, &text), 0);
        assert_string_equal(text, content);
}

static void test_load_explicit(void **state)
{
        _cleanup_pf_root_ char *root = load_root();
        gh_kmod *k;
        gh_error err = {};

        REQUIRE_GUARD();
        k = kmod_for(root);
        /* Blacklisted, yet loaded: the user asked for it back. With its configured options. */
        assert_int_equal(gh_kmod_load(k, "gh_fake_gpu", LOAD_DEADLINE, &err), 0);
        assert_false(gh_error_isset(&err));
        assert_file_content(root, "/loaded-gh_fake_gpu", "gh_opt=7");
        gh_kmod_free(k);
}

static void test_load_loaded_or_builtin(void **state)
{
        _cleanup_pf_root_ char *root = load_root();
        gh_kmod *k;
        gh_error err = {};

        REQUIRE_GUARD();
        pf_write(root, "/sys/module/gh_fake_gpu/initstate", "live\n");
        k = kmod_for(root);
        assert_int_equal(gh_kmod_load(k, "gh-fake-gpu", LOAD_DEADLINE, &err), 0);
        assert_int_equal(gh_kmod_load(k, "drm", LOAD_DEADLINE, &err), 0);
        assert_false(gh_error_isset(&err));
        assert_false(pf_exists(root, "/loaded-gh_fake_gpu"));
        gh_kmod_free(k);
}

/* A module whose initstate is 'going' is being removed (nvidia after an rmmod that hangs in its exit): it
 * is not loaded, and cannot be until the removal ends, so its load fails, naming it, without asking the
 * kernel. One whose init still runs ('coming') is not loaded yet either: its load goes to libkmod (here its
 * install command), as the kernel's own answer waits for that init. */
static void test_load_going_or_coming(void **state)
{
        _cleanup_pf_root_ char *root = load_root();
        gh_kmod *k;
        gh_error err = {}, err2 = {};

        REQUIRE_GUARD();
        pf_write(root, "/sys/module/gh_fake_gpu/initstate", "going\n");
        pf_write(root, "/sys/module/gh_other_gpu/initstate", "coming\n");
        k = kmod_for(root);
        assert_int_equal(gh_module_get_state(root, "gh-fake-gpu"), GH_MODULE_GOING);
        assert_int_equal(gh_module_get_state(root, "gh_other_gpu"), GH_MODULE_COMING);
        assert_int_equal(gh_kmod_load(k, "gh-fake-gpu", LOAD_DEADLINE, &err), -EBUSY);
        assert_int_equal(err.code, -EBUSY);
        assert_non_null(strstr(err.msg, "module 'gh-fake-gpu' is being unloaded"));
        assert_false(pf_exists(root, "/loaded-gh_fake_gpu"));
        assert_int_equal(gh_kmod_load(k, "gh_other_gpu", LOAD_DEADLINE, &err2), 0);
        assert_file_content(root, "/loaded-gh_other_gpu", "other");
        gh_kmod_free(k);
}

static void test_load_failures(void **state)
{
        _cleanup_pf_root_ char *root = load_root();
        gh_kmod *k;
        gh_error err = {}, err2 = {};

        REQUIRE_GUARD();
        k = kmod_for(root);
        assert_int_equal(gh_kmod_load(k, "gh_test_nosuch", LOAD_DEADLINE, &err), -ENOENT);
        assert_non_null(strstr(err.msg, "'gh_test_nosuch'"));
        assert_true(gh_kmod_load(k, "gh_bad_gpu", LOAD_DEADLINE, &err2) < 0);
        assert_non_null(strstr(err2.msg, "'gh_bad_gpu'"));
        gh_kmod_free(k);
}

/* A module whose init never returns (here its install command): the load gives up at the deadline and
 * says so; it is left to finish in the kernel, and the caller goes on. */
static void test_load_hangs_until_deadline(void **state)
{
        _cleanup_pf_root_ char *root = load_root();
        usec_t start;
        gh_kmod *k;
        gh_error err = {};

        REQUIRE_GUARD();
        k = kmod_for(root);
        start = now_usec();
        assert_int_equal(gh_kmod_load(k, "gh_hang_gpu", deadline_after(300 * USEC_PER_MSEC), &err), -ETIMEDOUT);
        assert_true(now_usec() - start < 10 * USEC_PER_SEC);
        assert_non_null(strstr(err.msg, "loading 'gh_hang_gpu' did not finish in time"));
        gh_kmod_free(k);
}

static void test_load_modalias(void **state)
{
        _cleanup_pf_root_ char *root = load_root();
        gh_kmod *k;
        gh_error err = {}, err2 = {}, err3 = {};

        REQUIRE_GUARD();
        k = kmod_for(root);
        /* Alias loading honours the blacklist: the only match is blacklisted. */
        assert_int_equal(gh_kmod_load_modalias(k, "pci:v0000ABCDd00005678sv0sd0bc03sc00i00", LOAD_DEADLINE, &err), -ENOENT);
        assert_non_null(strstr(err.msg, "pci:v0000ABCDd00005678sv0sd0bc03sc00i00"));
        assert_false(pf_exists(root, "/loaded-gh_fake_gpu"));

        assert_int_equal(gh_kmod_load_modalias(k, "pci:v00001234d00001111sv0sd0bc03sc00i00", LOAD_DEADLINE, &err2), 0);
        assert_file_content(root, "/loaded-gh_other_gpu", "other");

        assert_int_equal(gh_kmod_load_modalias(k, "pci:v0000FFFFd00000000sv0sd0bc03sc00i00", LOAD_DEADLINE, &err3),
                         -ENOENT);
        gh_kmod_free(k);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_state),
                cmocka_unit_test(test_state_builtin_list),
                cmocka_unit_test(test_holders),
                cmocka_unit_test(test_pci_devices),
                cmocka_unit_test(test_kmod_new),
                cmocka_unit_test(test_unload_absent),
                cmocka_unit_test(test_unload_builtin),
                cmocka_unit_test(test_unload_reaches_kernel),
                cmocka_unit_test(test_unload_busy_until_deadline),
                cmocka_unit_test(test_unload_busy_then_gone),
                cmocka_unit_test(test_load_explicit),
                cmocka_unit_test(test_load_loaded_or_builtin),
                cmocka_unit_test(test_load_going_or_coming),
                cmocka_unit_test(test_load_failures),
                cmocka_unit_test(test_load_hangs_until_deadline),
                cmocka_unit_test(test_load_modalias),
        };

        /* For the whole process, before any test: no module of this machine is loaded or unloaded. */
        guard_installed = guard_install(GUARD_ERRNO) == 0;
        return cmocka_run_group_tests(tests, NULL, NULL);
}
