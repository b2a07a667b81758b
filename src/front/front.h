/* The front: the hook entry and the CLI subcommands. The only layer that logs or prints. */
#pragma once

#include "shared/macro.h"

enum {
        GH_EXIT_OK = 0,
        GH_EXIT_FAILURE = 1, /* the operation failed; the host was rolled back */
        GH_EXIT_USAGE = 2,
};

typedef struct gh_context {
        const char *root; /* prefix for every host path, "/" normally */
} gh_context;

typedef struct gh_command {
        const char *name;
        int (*run)(gh_context *ctx, int argc, char *argv[]);
        const char *help;
} gh_command;

int gh_cmd_hook(gh_context *ctx, int argc, char *argv[]);
int gh_cmd_plan(gh_context *ctx, int argc, char *argv[]);
int gh_cmd_status(gh_context *ctx, int argc, char *argv[]);
int gh_cmd_restore(gh_context *ctx, int argc, char *argv[]);
int gh_cmd_install(gh_context *ctx, int argc, char *argv[]);
int gh_cmd_uninstall(gh_context *ctx, int argc, char *argv[]);
int gh_cmd_claim_boot(gh_context *ctx, int argc, char *argv[]);
int gh_cmd_check(gh_context *ctx, int argc, char *argv[]);
