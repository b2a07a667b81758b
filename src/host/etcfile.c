/* Files under ROOT/etc that other programs read as they are when they read them (udevd when its rules
 * change, the user manager when it starts): each is written whole or not at all. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>

#include "etcfile.h"
#include "rundir.h"
#include "shared/fileio.h"

#define ETC_FILE_MAX (1 << 20)

static int etc_path(const char *root, const char *dir, const char *name, char **ret_shown, char **ret_full)
{
        if (asprintf(ret_shown, "%s/%s", dir, name) < 0) {
                *ret_shown = NULL;
                return -ENOMEM;
        }
        *ret_full = path_join(root, *ret_shown);
        return *ret_full ? 0 : -ENOMEM;
}

int gh_etc_file_read(const char *root, const char *dir, const char *name, size_t max, char **ret,
                     gh_error *err)
{
        _cleanup_free_ char *shown = NULL, *path = NULL;
        int r = etc_path(root, dir, name, &shown, &path);

        if (r < 0)
                return r;
        r = read_regular_file(path, max, ret, NULL);
        if (r < 0 && r != -ENOENT)
                return gh_error_set(err, r, "cannot read '%s': %s", shown, strerror(-r));
        return r;
}

static int remove_file(const char *shown, const char *path, gh_error *err)
{
        if (unlink(path) < 0)
                return errno == ENOENT
                               ? 0
                               : gh_error_set(err, -errno, "cannot remove '%s': %s", shown, strerror(errno));
        return 1;
}

int gh_etc_file_write(const char *root, const char *dir, const char *name, const char *text, gh_error *err)
{
        _cleanup_free_ char *shown = NULL, *path = NULL, *old = NULL, *full_dir = path_join(root, dir);
        _cleanup_close_ int fd = -1;
        int r;

        if (!full_dir || (r = etc_path(root, dir, name, &shown, &path)) < 0)
                return -ENOMEM;
        if (!text)
                return remove_file(shown, path, err);
        r = gh_etc_file_read(root, dir, name, ETC_FILE_MAX, &old, err);
        if (r < 0 && r != -ENOENT)
                return r;
        if (old && streq(old, text))
                return 0;
        r = mkdir_p(full_dir, 0755);
        if (r < 0)
                return gh_error_set(err, r, "cannot create '%s': %s", dir, strerror(-r));
        fd = open(full_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return gh_error_set(err, -errno, "cannot open '%s': %s", dir, strerror(errno));
        r = gh_replace_file_at(fd, name, shown, text, 0644, err);
        return r < 0 ? r : 1;
}
