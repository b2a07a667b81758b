/* A main for the fuzz targets built without libFuzzer (gcc, the ASan build): runs
 * LLVMFuzzerTestOneInput once on every file named, or found in a directory named, so that ctest replays
 * the committed corpus. No input at all is a failure: an empty or missing corpus must not pass. */
#include <dirent.h>
#include <errno.h>

#include "fuzz.h"
#include "shared/fileio.h"

#define REPLAY_MAX ((size_t)16 * 1024 * 1024)

static int replay_file(const char *path)
{
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = read_regular_file(path, REPLAY_MAX, &buf, &len);

        if (r < 0) {
                fprintf(stderr, "replay: cannot read '%s': %s\n", path, strerror(-r));
                return r;
        }
        /* Printed first: when the target aborts, the last line names the input. */
        fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
        (void)LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
        return 0;
}

static int skip_dots(const struct dirent *de)
{
        return de->d_name[0] != '.';
}

/* Returns how many files were replayed, or -errno. */
static int replay_dir(const char *dir)
{
        struct dirent **list;
        int n = scandir(dir, &list, skip_dots, alphasort), done = 0, r = 0;

        if (n < 0)
                return -errno;
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;

                if (r >= 0 && asprintf(&path, "%s/%s", dir, list[i]->d_name) < 0)
                        r = -ENOMEM;
                if (r >= 0)
                        r = replay_file(path);
                done += r >= 0;
                free(list[i]);
        }
        free(list);
        return r < 0 ? r : done;
}

static int replay_path(const char *path)
{
        int r = replay_dir(path);

        if (r != -ENOTDIR)
                return r;
        r = replay_file(path);
        return r < 0 ? r : 1;
}

int main(int argc, char **argv)
{
        int total = 0;

        for (int i = 1; i < argc; i++) {
                int r = replay_path(argv[i]);

                if (r < 0) {
                        fprintf(stderr, "replay: '%s': %s\n", argv[i], strerror(-r));
                        return 1;
                }
                total += r;
        }
        if (total == 0) {
                fprintf(stderr, "replay: no input found: give corpus files or directories\n");
                return 1;
        }
        printf("replay: %d inputs, no property broken\n", total);
        return 0;
}
