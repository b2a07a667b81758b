/* Module files under a fakesys tree, made from a module-shaped fixture object and indexed by depmod. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "fake-modfile.h"
#include "shared/fileio.h"

#define PLACEHOLDER "srcversion=@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@"

char *fake_modfile_path(const char *name)
{
        struct utsname u;
        char *p;

        assert_int_equal(uname(&u), 0);
        assert_true(asprintf(&p, "/lib/modules/%s/kernel/drivers/%s.ko", u.release, name) > 0);
        return p;
}

static const char *find_depmod(void)
{
        static const char *const paths[] = {"/usr/sbin/depmod", "/sbin/depmod", "/usr/bin/depmod"};

        for (size_t i = 0; i < ELEMENTSOF(paths); i++)
                if (access(paths[i], X_OK) == 0)
                        return paths[i];
        fail_msg("no depmod here (package kmod, which scripts/test installs): module files cannot be "
                 "indexed");
        return NULL;
}

void fake_modfile_depmod(fakesys *fs)
{
        const char *depmod = find_depmod();
        struct utsname u;
        int status;
        pid_t pid;

        assert_int_equal(uname(&u), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

                if (null < 0 || dup2(null, STDOUT_FILENO) < 0 || dup2(null, STDERR_FILENO) < 0)
                        _exit(126);
                execl(depmod, "depmod", "-b", fakesys_root(fs), u.release, (char *)NULL);
                _exit(127);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

/* The placeholder becomes "srcversion=V" padded with NULs, or all NULs: modinfo skips empty strings. */
static void patch_srcversion(char *buf, size_t n, const char *srcversion)
{
        size_t len = strlen(PLACEHOLDER);
        char *p = memmem(buf, n, PLACEHOLDER, len);

        assert_non_null(p);
        memset(p, 0, len);
        if (srcversion) {
                assert_true(strlen("srcversion=") + strlen(srcversion) <= len);
                memcpy(p, "srcversion=", strlen("srcversion="));
                memcpy(p + strlen("srcversion="), srcversion, strlen(srcversion));
        }
}

void fake_modfile_add(fakesys *fs, const char *name, const char *srcversion)
{
        _cleanup_free_ char *buf = NULL, *rel = fake_modfile_path(name), *path = fakesys_path(fs, rel);
        _cleanup_free_ char *dir = strdup(path);
        _cleanup_close_ int fd = -EBADF;
        size_t n;

        assert_int_equal(read_full_file(GH_GPU_MODULE, 1 << 20, &buf, &n), 0);
        patch_srcversion(buf, n, srcversion);
        *strrchr(dir, '/') = 0;
        assert_int_equal(mkdir_p(dir, 0755), 0);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, buf, n), (ssize_t)n);
        fake_modfile_depmod(fs);
}

void fake_modfile_remove(fakesys *fs, const char *name)
{
        _cleanup_free_ char *rel = fake_modfile_path(name), *path = fakesys_path(fs, rel);

        assert_int_equal(unlink(path), 0);
}

static void put_file(fakesys *fs, const char *rel, const char *value, mode_t mode)
{
        _cleanup_free_ char *path = fakesys_path(fs, rel), *dir = strdup(path);
        _cleanup_close_ int fd = -EBADF;

        *strrchr(dir, '/') = 0;
        assert_int_equal(mkdir_p(dir, 0755), 0);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        assert_true(fd >= 0);
        assert_int_equal(fchmod(fd, mode), 0);
        assert_int_equal(write(fd, value, strlen(value)), (ssize_t)strlen(value));
        assert_int_equal(write(fd, "\n", 1), 1);
}

void fake_module_set_srcversion(fakesys *fs, const char *name, const char *srcversion)
{
        _cleanup_free_ char *rel = NULL;

        assert_true(asprintf(&rel, "sys/module/%s/srcversion", name) > 0);
        put_file(fs, rel, srcversion, 0444);
}

void fake_module_set_param(fakesys *fs, const char *name, const char *param, const char *value)
{
        _cleanup_free_ char *rel = NULL;

        assert_true(asprintf(&rel, "sys/module/%s/parameters/%s", name, param) > 0);
        put_file(fs, rel, value, 0444);
}
