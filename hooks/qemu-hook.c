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

/* A domain name becomes a file name and the tool's argument: refuse what could leave the directory, hide,
 * or read as an option (the tool's config loader refuses the same names). */
static int domain_name_ok(const char *d)
{
        size_t n = strlen(d);

        return n > 0 && n < 200 && d[0] != '.' && d[0] != '-' && !strchr(d, '/');
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

/* Only two events act, and only for a domain that opted in; release also for a hand-over left to undo. */
static int wants_tool(const char *root, const char *domain, int prepare, int release)
{
        if (!prepare && !release)
                return 0;
        if (!domain_name_ok(domain))
                return 0;
        return exists_under(root, CONF_DOMAINS, domain, ".conf") ||
               (release && exists_under(root, RUN_DIR, domain, ".journal"));
}

/* Replaces this process: libvirt's stdin (the domain XML) and the exit status pass through untouched. */
static void exec_tool(const char *tool, const char *root, char *const hook_args[4])
{
        char *args[12];
        size_t n = 0;

        args[n++] = (char *)"gpu-handover";
        if (*root) {
                /* Test builds pass their root on to the tool. */
                args[n++] = (char *)"--root";
                args[n++] = (char *)root;
        }
        args[n++] = (char *)"hook";
        args[n++] = (char *)"qemu";
        for (size_t i = 0; i < 4; i++)
                args[n++] = hook_args[i];
        args[n] = NULL;
        execv(tool, args);
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
        if (!wants_tool(root, argv[1], prepare, release))
                return 0;

        char *hook_args[4] = {argv[1], argv[2], argv[3], argc > 4 ? argv[4] : (char *)"-"};
        exec_tool(tool, root, hook_args);
        /* stdout is libvirt's (XML for migrate/restore): errors go to stderr only. */
        fprintf(stderr, "gpu-handover: cannot run '%s': %s\n", tool, strerror(errno));
        /* Refusing the start is safer than a VM without its GPU; a failed release changes nothing. */
        return prepare ? 1 : 0;
}
