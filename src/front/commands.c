/* The command list, the top-level usage, each command's --help, and `gpu-handover help [COMMAND]`. */
#include "front.h"

static int cmd_help(gh_context *ctx, const gh_command *self, int argc, char *argv[]);

const gh_command gh_command_help = {
        .name = "help",
        .run = cmd_help,
        .args = "[COMMAND]",
        .summary = "this list, or one command's usage and options",
        .details = "Lists the commands, as 'gpu-handover --help' does; with COMMAND, prints its usage and\n"
                   "options, as 'gpu-handover COMMAND --help' does.\n",
};

const gh_command *const gh_commands[] = {
        &gh_command_plan,       &gh_command_check,
        &gh_command_status,     &gh_command_restore,
        &gh_command_install,    &gh_command_uninstall,
        &gh_command_claim_boot, &gh_command_desktop_rules,
        &gh_command_hook,       &gh_command_help,
        NULL,
};

const gh_command *gh_command_find(const char *name)
{
        for (const gh_command *const *c = gh_commands; *c; c++)
                if (streq((*c)->name, name))
                        return *c;
        return NULL;
}

void gh_usage_print(FILE *f)
{
        fprintf(f, "Usage: gpu-handover " GH_USAGE_ROOT "COMMAND [ARGS]\n"
                   "       gpu-handover --help | --version\n\n"
                   "Lends a GPU to a libvirt/QEMU domain while it runs (libvirt's qemu hook), and gives it\n"
                   "back when it stops.\n\nCommands:\n");
        for (const gh_command *const *c = gh_commands; *c; c++)
                fprintf(f, "  %-13s %s\n", (*c)->name, (*c)->summary);
        fprintf(f,
                "\nOptions:\n"
#ifdef GH_TEST_BUILD
                "  --root DIR  prefix every host path with DIR (this test build only)\n"
#endif
                "  --help      this list; 'gpu-handover COMMAND --help' for one command\n"
                "  --version   the version\n");
}

void gh_command_print_help(FILE *f, const gh_command *c)
{
        fprintf(f, "Usage: gpu-handover " GH_USAGE_ROOT "%s%s%s\n\n%s", c->name, c->args[0] ? " " : "", c->args,
                c->details);
}

static int cmd_help(gh_context *ctx, const gh_command *self, int argc, char *argv[])
{
        static const struct option opts[] = {GH_OPTION_HELP, {}};
        gh_opts o = {.cmd = self, .longopts = opts};
        const gh_command *c;
        int r;

        while ((r = gh_opts_next(&o, argc, argv)) != GH_ARGS_END)
                if (r < 0)
                        return gh_args_exit(r);
        r = gh_args_positional(self, argc, argv, 0, 1);
        if (r < 0)
                return gh_args_exit(r);
        if (r == 0) {
                gh_usage_print(stdout);
                return GH_EXIT_OK;
        }
        c = gh_command_find(argv[optind]);
        if (!c) {
                fprintf(stderr, "gpu-handover: help: unknown command '%s' (see 'gpu-handover --help')\n",
                        argv[optind]);
                return GH_EXIT_USAGE;
        }
        gh_command_print_help(stdout, c);
        return GH_EXIT_OK;
}
