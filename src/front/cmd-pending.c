/* Placeholders while the subcommands are written; this file goes away before the issue is done. */
#include <errno.h>

#include "front.h"

static int pending(const char *what)
{
        fprintf(stderr, "gpu-handover: %s: not implemented yet\n", what);
        return GH_EXIT_FAILURE;
}

int gh_cmd_hook(gh_context *ctx, int argc, char *argv[])
{
        return pending("hook");
}
int gh_cmd_plan(gh_context *ctx, int argc, char *argv[])
{
        return pending("plan");
}
int gh_cmd_status(gh_context *ctx, int argc, char *argv[])
{
        return pending("status");
}
int gh_cmd_restore(gh_context *ctx, int argc, char *argv[])
{
        return pending("restore");
}
