/* The front: the hook entry and the CLI subcommands. The only layer that logs or prints. */
#pragma once

#include <getopt.h>
#include <stdio.h>

#include "core/desktop-rules.h"
#include "shared/error.h"
#include "shared/macro.h"

enum {
        GH_EXIT_OK = 0,
        GH_EXIT_FAILURE = 1, /* the operation failed; the host was rolled back */
        GH_EXIT_USAGE = 2,
};

typedef struct gh_context {
        const char *root; /* prefix for every host path: "/", or --root's in the test build */
} gh_context;

/* What usage lines show before the command: the global --root exists in the test build only. */
#ifdef GH_TEST_BUILD
#define GH_USAGE_ROOT "[--root DIR] "
#else
#define GH_USAGE_ROOT ""
#endif

/* A subcommand: its code and what `--help` says of it. Each lives in the file that implements it. */
typedef struct gh_command {
        const char *name;
        int (*run)(gh_context *ctx, const struct gh_command *self, int argc, char *argv[]);
        const char *args;    /* the synopsis after the name, "" when it takes none */
        const char *summary; /* one line for the command list */
        const char *details; /* the rest of its --help: what it does, its options; ends with a newline */
} gh_command;

extern const gh_command gh_command_hook, gh_command_plan, gh_command_status, gh_command_restore,
        gh_command_install, gh_command_uninstall, gh_command_claim_boot, gh_command_check, gh_command_help,
        gh_command_desktop_rules;

/* The command list in the order --help shows it; NULL-terminated. */
extern const gh_command *const gh_commands[];
const gh_command *gh_command_find(const char *name);
/* `gpu-handover --help`: the synopsis, the global options and one line per command. */
void gh_usage_print(FILE *f);
/* `gpu-handover COMMAND --help`. */
void gh_command_print_help(FILE *f, const gh_command *c);

/* Parsing a subcommand's arguments. gh_opts_next() is getopt_long() that also answers -h/--help (printing
 * the command's help, returning GH_ARGS_HELP) and reports an unknown option or a missing argument in one
 * line on stderr (GH_ARGS_BAD). Options may come before or after the positional arguments; "--" ends them.
 * longopts must hold GH_OPTION_HELP. */
enum {
        GH_ARGS_END = -1,
        /* Below every -errno (the kernel's are above -4096): a parser may return either. */
        GH_ARGS_HELP = -4097, /* help was printed: exit 0 */
        GH_ARGS_BAD = -4098,  /* an error was printed: exit 2 */
};
#define GH_OPTION_HELP                                                                                      \
        {                                                                                                   \
                "help", no_argument, NULL, 'h'                                                              \
        }

typedef struct gh_opts {
        const gh_command *cmd;
        const struct option *longopts;
        const char *shortopts; /* as getopt_long takes it; 'h' is added */
        bool in_order;         /* stop at the first positional argument (hook: libvirt's args are data) */
        bool started;
        char spec[32]; /* the getopt string actually used */
} gh_opts;

int gh_opts_next(gh_opts *o, int argc, char *argv[]);
/* After the options: checks there are between min and max positional arguments, then returns their
 * count (argv + optind holds them), or GH_ARGS_BAD after saying what is wrong. */
int gh_args_positional(const gh_command *c, int argc, char *argv[], int min, int max);
/* A domain named on the command line: a name that starts with '-' is an option typed wrong, never a
 * domain; and it must be usable as a file name. 0, or GH_ARGS_BAD after saying why. */
int gh_args_domain(const gh_command *c, const char *arg);
/* GH_ARGS_HELP -> GH_EXIT_OK, GH_ARGS_BAD -> GH_EXIT_USAGE. */
int gh_args_exit(int r);

/* libvirt's persistent definition of domain, ROOT/etc/libvirt/qemu/DOMAIN.xml, read as a file (libvirt
 * need not run) and parsed; err names the file (cmd-claim.c). */
int gh_domain_file_parse(const char *root, const char *domain, gh_domain *dom, gh_error *err);
/* install's (remove false) and uninstall's (remove true) part of the session-keeping mode: writes or
 * removes the files of core/desktop-rules.h, printing a line for each domain and for each file changed.
 * 1 when a file changed, 0 when none did (cmd-desktop.c). */
int gh_desktop_files_update(const char *root, bool remove, gh_error *err);
/* The GPUs ROOT's desktop rules keep away from the desktop; none when there is no such file. */
int gh_desktop_rules_read(const char *root, gh_desktop_gpu **ret, size_t *ret_n, gh_error *err);
