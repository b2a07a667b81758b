/* Reading /proc/PID/stat. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procstat.h"
#include "shared/fileio.h"

/* Fields are counted after the last ')': "PID (COMM) S PPID ...". */
int gh_proc_stat(const char *proc, pid_t pid, char *ret_state, uint64_t *ret_start)
{
        _cleanup_free_ char *path = NULL, *text = NULL;
        char *p, *end, *state, *save = NULL;
        int field = 3, r;
        uint64_t start;

        if (asprintf(&path, "%s/%d/stat", proc, (int)pid) < 0)
                return -ENOMEM;
        r = read_one_line_file(path, &text);
        if (r < 0)
                return r;
        p = strrchr(text, ')');
        if (!p)
                return -EINVAL;
        state = p = strtok_r(p + 1, " ", &save);
        for (; p && field < 22; field++)
                p = strtok_r(NULL, " ", &save);
        if (!state || !p)
                return -EINVAL;
        errno = 0;
        start = strtoull(p, &end, 10);
        if (errno || end == p)
                return -EINVAL;
        if (ret_state)
                *ret_state = state[0];
        if (ret_start)
                *ret_start = start;
        return 0;
}
