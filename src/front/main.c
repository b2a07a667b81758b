/* gpu-handover: the command line. Parses global options and dispatches to a subcommand. The test build
 * (gpu-handover-test, never installed) also takes --root DIR, which prefixes every host path. */
#include <errno.h>
#include <getopt.h>

#include "front.h"

int main(int argc, char *argv[])
{
        static const struct option opts[] = {
#ifdef GH_TEST_BUILD
                /* Tests only: the installed tool acts on this host's paths and nothing else. */
                {"root", required_argument, NULL, 'r'},
#endif
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, 'V'},
                {},
        };
        gh_context ctx = {.root = "/"};
        const gh_command *cmd;
        int c;

        /* '+': options after the command belong to the command. */
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+:hV", opts, NULL)) >= 0) {
                switch (c) {
                case 'r':
                        ctx.root = optarg;
                        break;
                case 'h':
                        gh_usage_print(stdout);
                        return GH_EXIT_OK;
                case 'V':
                        printf("gpu-handover %s\n", GH_VERSION);
                        return GH_EXIT_OK;
                case ':':
                        fprintf(stderr,
                                "gpu-handover: option '%s' needs an argument (see 'gpu-handover --help')\n",
                                argv[optind - 1]);
                        return GH_EXIT_USAGE;
                default:
                        fprintf(stderr, "gpu-handover: unknown option '%s' (see 'gpu-handover --help')\n",
                                argv[optind - 1]);
                        return GH_EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                gh_usage_print(stderr);
                return GH_EXIT_USAGE;
        }
        cmd = gh_command_find(argv[optind]);
        if (!cmd) {
                fprintf(stderr, "gpu-handover: unknown command '%s' (see 'gpu-handover --help')\n",
                        argv[optind]);
                return GH_EXIT_USAGE;
        }
        return cmd->run(&ctx, cmd, argc - optind, argv + optind);
}
