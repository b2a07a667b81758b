/* Names with a suffix in a directory under ROOT, sorted, for the commands that go over every domain. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>

#include "dirnames.h"
#include "shared/fileio.h"
#include "shared/strv.h"

static bool has_suffix(const char *name, const char *suffix)
{
        size_t n = strlen(name), s = strlen(suffix);

        return name[0] != '.' && n > s && streq(name + n - s, suffix);
}

static int cmp_names(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int gh_dir_names(const char *root, const char *dir, const char *suffix, char ***ret)
{
        _cleanup_free_ char *path = path_join(root, dir);
        _cleanup_strv_free_ char **names = NULL;
        DIR *d;
        int r = 0;

        if (!path)
                return -ENOMEM;
        d = opendir(path);
        if (!d && errno != ENOENT)
                return -errno;
        for (struct dirent *de; d && r >= 0 && (de = readdir(d));) {
                char *name;

                if (!has_suffix(de->d_name, suffix))
                        continue;
                name = strndup(de->d_name, strlen(de->d_name) - strlen(suffix));
                r = name ? strv_push(&names, name) : -ENOMEM;
        }
        if (d)
                closedir(d);
        if (r < 0)
                return r;
        if (names)
                qsort(names, strv_length(names), sizeof(char *), cmp_names);
        *ret = TAKE_PTR(names);
        return 0;
}
