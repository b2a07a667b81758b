/* gpu-handover: the command line. Parses global options and dispatches to a subcommand. */
#include <errno.h>
#include <getopt.h>

#include "front.h"

static const gh_command commands[] = {
        {"hook", gh_cmd_hook, "hook qemu DOMAIN OP SUBOP EXTRA   (run by libvirt, XML on stdin)"},
        {"plan", gh_cmd_plan, "plan DOMAIN [--xml FILE|-]        dry run of prepare: devices and steps"},
        {"status", gh_cmd_status, "status [--json]                   GPUs, drivers, holders, hand-overs"},
        {"restore", gh_cmd_restore, "restore DOMAIN                    undo a hand-over from its journal"},
        {"install", gh_cmd_install, "install [--qemu-d]                put the libvirt hook entry in place"},
        {"uninstall", gh_cmd_uninstall, "uninstall [--qemu-d]              remove the libvirt hook entry"},
        {"claim-boot", gh_cmd_claim_boot, "claim-boot                        bind autostart domains' GPUs to vfio-pci at boot"},
        {"check", gh_cmd_check, "check DOMAIN [--xml FILE|-]       is the host ready? PASS/WARN/FAIL lines"},
};

static void usage(FILE *f)
{
        fprintf(f, "Usage: gpu-handover [--root DIR] COMMAND [ARGS]\n\nCommands:\n");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                fprintf(f, "  %s\n", commands[i].help);
}

int main(int argc, char *argv[])
{
        static const struct option opts[] = {
                {"root", required_argument, NULL, 'r'},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, 'V'},
                {},
        };
        gh_context ctx = {.root = "/"};
        int c;

        /* '+': options after the command belong to the command. */
        while ((c = getopt_long(argc, argv, "+h", opts, NULL)) >= 0) {
                switch (c) {
                case 'r':
                        ctx.root = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                case 'V':
                        printf("gpu-handover %s\n", GH_VERSION);
                        return 0;
                default:
                        usage(stderr);
                        return GH_EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return GH_EXIT_USAGE;
        }
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (streq(argv[optind], commands[i].name))
                        return commands[i].run(&ctx, argc - optind, argv + optind);
        fprintf(stderr, "gpu-handover: unknown command '%s'\n", argv[optind]);
        usage(stderr);
        return GH_EXIT_USAGE;
}
