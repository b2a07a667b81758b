/* Trusting a file by its path: resolve it once, then check each component of what it resolved to. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "safepath.h"
#include "shared/fileio.h"

static int check_component(const char *path, uid_t owner, bool last, gh_error *err)
{
        struct stat st;

        if (lstat(path, &st) < 0)
                return gh_error_set(err, -errno, "cannot stat '%s': %s", path, strerror(errno));
        if (st.st_uid != owner)
                return gh_error_set(err, -EPERM, "'%s' is owned by uid %u, not uid %u; refused", path,
                                    (unsigned)st.st_uid, (unsigned)owner);
        if (st.st_mode & (S_IWGRP | S_IWOTH))
                return gh_error_set(err, -EPERM, "'%s' is writable by group or others (mode %04o); refused",
                                    path, (unsigned)(st.st_mode & 07777));
        if (last && (!S_ISREG(st.st_mode) || !(st.st_mode & 0111)))
                return gh_error_set(err, -ENOEXEC, "'%s' is not an executable file", path);
        if (!last && !S_ISDIR(st.st_mode))
                return gh_error_set(err, -ENOTDIR, "'%s' is not a directory", path);
        return 0;
}

/* Checks each directory on the way to real, from the slash at or after skip on, then real itself. */
static int check_components(char *real, size_t skip, uid_t owner, gh_error *err)
{
        int r;

        for (size_t i = skip; real[i]; i++) {
                size_t end = i ? i : 1; /* the directory before this slash; "/" for the first */
                char c;

                if (real[i] != '/')
                        continue;
                c = real[end];
                real[end] = 0;
                r = check_component(real, owner, false, err);
                real[end] = c;
                if (r < 0)
                        return r;
        }
        return check_component(real, owner, true, err);
}

int gh_safe_path_check(const char *root, const char *path, uid_t owner, gh_error *err)
{
        _cleanup_free_ char *full = path_join(root, path), *real = NULL, *real_root = NULL;
        size_t n;

        if (!full)
                return -ENOMEM;
        real = realpath(full, NULL);
        if (!real)
                return gh_error_set(err, -errno, "'%s': %s", full, strerror(errno));
        real_root = realpath(root && *root ? root : "/", NULL);
        if (!real_root)
                return gh_error_set(err, -errno, "'%s': %s", root, strerror(errno));
        n = streq(real_root, "/") ? 0 : strlen(real_root);
        if (strncmp(real, real_root, n) != 0 || real[n] != '/')
                return gh_error_set(err, -EPERM, "'%s' resolves to '%s', outside '%s'; refused", full, real,
                                    real_root);
        /* Below another root, that root is the caller's choice: start at its first component. */
        return check_components(real, n ? n + 1 : 0, owner, err);
}
