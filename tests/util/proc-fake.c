/* Fake host trees for tests, under a temporary root. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "proc-fake.h"
#include "shared/fileio.h"

char *pf_root_new(const char *tag)
{
        const char *tmp = getenv("TMPDIR");
        char *root = NULL;

        assert_true(asprintf(&root, "%s/gh-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag) > 0);
        assert_non_null(mkdtemp(root));
        return root;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path) < 0 ? -1 : 0;
}

void pf_root_free(char *root)
{
        if (!root)
                return;
        (void)nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
        free(root);
}

char *pf_path(const char *root, const char *path)
{
        char *p = path_join(root, path);

        assert_non_null(p);
        return p;
}

void pf_mkdir(const char *root, const char *path)
{
        _cleanup_free_ char *p = pf_path(root, path);

        assert_int_equal(mkdir_p(p, 0755), 0);
}

static void mkdir_parent(const char *p)
{
        _cleanup_free_ char *d = strdup(p);
        char *s;

        assert_non_null(d);
        s = strrchr(d, '/');
        if (!s || s == d)
                return;
        *s = 0;
        assert_int_equal(mkdir_p(d, 0755), 0);
}

void pf_write(const char *root, const char *path, const char *content)
{
        _cleanup_free_ char *p = pf_path(root, path);
        _cleanup_close_ int fd = -1;
        size_t n = strlen(content);

        mkdir_parent(p);
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, content, n), (ssize_t)n);
}

void pf_symlink(const char *root, const char *path, const char *target)
{
        _cleanup_free_ char *p = pf_path(root, path);

        mkdir_parent(p);
        assert_int_equal(symlink(target, p), 0);
}

void pf_remove(const char *root, const char *path)
{
        _cleanup_free_ char *p = pf_path(root, path);

        (void)nftw(p, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

bool pf_exists(const char *root, const char *path)
{
        _cleanup_free_ char *p = pf_path(root, path);

        return access(p, F_OK) == 0;
}

static void pf_proc_file(const char *root, int pid, const char *name, const char *content)
{
        _cleanup_free_ char *path = NULL;

        assert_true(asprintf(&path, "/proc/%d/%s", pid, name) > 0);
        pf_write(root, path, content);
}

void pf_proc_pid(const char *root, int pid, const char *comm, const char *cgroup, const char *exe,
                 unsigned long long start_time)
{
        _cleanup_free_ char *line = NULL, *stat = NULL, *cg = NULL, *exe_path = NULL;

        assert_true(asprintf(&line, "%s\n", comm) > 0);
        pf_proc_file(root, pid, "comm", line);
        assert_true(asprintf(&stat, "%d (%s) S 1 %d %d 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 %llu 0 0\n",
                             pid, comm, pid, pid, start_time) > 0);
        pf_proc_file(root, pid, "stat", stat);
        if (cgroup) {
                assert_true(asprintf(&cg, strchr(cgroup, ':') ? "%s" : "0::%s\n", cgroup) > 0);
                pf_proc_file(root, pid, "cgroup", cg);
        }
        if (exe) {
                assert_true(asprintf(&exe_path, "/proc/%d/exe", pid) > 0);
                pf_symlink(root, exe_path, exe);
        }
}

void pf_proc_hold(const char *root, int pid, int fd, const char *node)
{
        _cleanup_free_ char *link = NULL, *maps = NULL;

        assert_true(asprintf(&link, "/proc/%d/fd/%d", pid, fd) > 0);
        pf_symlink(root, link, node);
        assert_true(asprintf(&maps, "/proc/%d/maps", pid) > 0);
        if (!pf_exists(root, maps))
                pf_write(root, maps, "");
}

void pf_proc_dmabuf(const char *root, int pid, int fd, const char *name, const char *exp_name)
{
        _cleanup_free_ char *target = NULL, *info = NULL, *text = NULL;

        assert_true(asprintf(&target, "/dmabuf:%s", name) > 0);
        pf_proc_hold(root, pid, fd, target);
        assert_true(asprintf(&info, "/proc/%d/fdinfo/%d", pid, fd) > 0);
        assert_true(asprintf(&text,
                             "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t%d\nsize:\t8388608\ncount:\t1\n"
                             "exp_name:\t%s\n%s%s%s",
                             1000 + fd, exp_name, *name ? "name:\t" : "", name, *name ? "\n" : "") > 0);
        pf_write(root, info, text);
}
