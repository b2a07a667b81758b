/* The libvirt qemu hook entry: libc only, so the common case (not our op, not our domain) costs one
 * process start and a stat. It execs the full tool only for prepare/begin and release/end of a
 * domain that opted in (or, for release, still has a journal). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONF_DOMAINS "/etc/gpu-handover/domains"
#define RUN_DIR "/run/gpu-handover"

/* A domain name becomes a file name: refuse what could leave the directory or hide. */
static int domain_name_ok(const char *d)
{
        size_t n = strlen(d);

        return n > 0 && n < 200 && d[0] != '.' && !strchr(d, '/');
}

static int exists_under(const char *root, const char *dir, const char *domain, const char *suffix)
{
        char path[PATH_MAX];
        struct stat st;
        int n;

        n = snprintf(path, sizeof(path), "%s%s/%s%s", root, dir, domain, suffix);
        if (n < 0 || (size_t)n >= sizeof(path))
                return 0;
        return stat(path, &st) == 0;
}

static const char *env_or(const char *name, const char *fallback)
{
#ifdef GH_HOOK_TEST_ENV
        const char *v = getenv(name);
        if (v)
                return v;
#else
        (void)name;
#endif
        return fallback;
}

int main(int argc, char *argv[])
{
        const char *root = env_or("GH_TEST_ROOT", "");
        const char *tool = env_or("GH_TEST_TOOL", GH_TOOL_PATH);
        int prepare, release;

        if (argc < 4)
                return 0;
        prepare = strcmp(argv[2], "prepare") == 0 && strcmp(argv[3], "begin") == 0;
        release = strcmp(argv[2], "release") == 0 && strcmp(argv[3], "end") == 0;
        if (!prepare && !release)
                return 0;
        if (!domain_name_ok(argv[1]))
                return 0;
        if (!exists_under(root, CONF_DOMAINS, argv[1], ".conf") &&
            !(release && exists_under(root, RUN_DIR, argv[1], ".journal")))
                return 0;

        char *args[] = {(char *)"gpu-handover", (char *)"hook", (char *)"qemu",
                        argv[1], argv[2], argv[3], argc > 4 ? argv[4] : (char *)"-", NULL};
        char *targs[12];
        char **exec_args = args;
        if (*root) {
                /* Test builds pass their root on to the tool. */
                targs[0] = args[0];
                targs[1] = (char *)"--root";
                targs[2] = (char *)root;
                memcpy(targs + 3, args + 1, sizeof(char *) * 7);
                exec_args = targs;
        }
        execv(tool, exec_args);
        /* stdout is libvirt's (XML for migrate/restore): errors go to stderr only. */
        fprintf(stderr, "gpu-handover: cannot run '%s': %s\n", tool, strerror(errno));
        /* Refusing the start is safer than a VM without its GPU; a failed release changes nothing. */
        return prepare ? 1 : 0;
}
