/* Command-line parsing shared by the subcommands: --help everywhere, one-line errors that name the
 * command, and domain arguments that cannot be options in disguise. */
#include <errno.h>

#include "front.h"
#include "host/conffile.h"

/* "gpu-handover CMD: WHAT 'ARG' (see ...)": one line, the offending word quoted. */
static int bad(const gh_command *c, const char *what, const char *arg)
{
        fprintf(stderr, "gpu-handover: %s: %s '%s' (see 'gpu-handover %s --help')\n", c->name, what, arg,
                c->name);
        return GH_ARGS_BAD;
}

static void opts_start(gh_opts *o)
{
        snprintf(o->spec, sizeof(o->spec), "%s:h%s", o->in_order ? "+" : "", strempty(o->shortopts));
        optind = 0; /* glibc: 0 re-initialises getopt fully after main's '+' scan */
        opterr = 0;
        o->started = true;
}

int gh_opts_next(gh_opts *o, int argc, char *argv[])
{
        int c;

        if (!o->started)
                opts_start(o);
        c = getopt_long(argc, argv, o->spec, o->longopts, NULL);
        switch (c) {
        case -1:
                return GH_ARGS_END;
        case 'h':
                gh_command_print_help(stdout, o->cmd);
                return GH_ARGS_HELP;
        case ':':
                return bad(o->cmd, "missing argument for option", argv[optind - 1]);
        case '?':
                /* A long option is reported as typed; a short one (perhaps inside a group) by its letter. */
                if (optopt)
                        return bad(o->cmd, "unknown option", (char[]){'-', (char)optopt, 0});
                return bad(o->cmd, "unknown option", argv[optind - 1]);
        default:
                return c;
        }
}

int gh_args_positional(const gh_command *c, int argc, char *argv[], int min, int max)
{
        int n = argc - optind;

        if (n > max)
                return bad(c, "unexpected argument", argv[optind + max]);
        if (n < min) {
                fprintf(stderr, "gpu-handover: %s: missing argument\nUsage: gpu-handover %s %s\n", c->name,
                        c->name, c->args);
                return GH_ARGS_BAD;
        }
        return n;
}

int gh_args_domain(const gh_command *c, const char *arg)
{
        gh_error err = {};

        if (arg[0] == '-')
                return bad(c, "a domain name cannot start with '-':", arg);
        if (gh_config_domain_name_check(arg, &err) < 0) {
                fprintf(stderr, "gpu-handover: %s: %s\n", c->name, err.msg);
                return GH_ARGS_BAD;
        }
        return 0;
}

int gh_args_exit(int r)
{
        return r == GH_ARGS_HELP ? GH_EXIT_OK : GH_EXIT_USAGE;
}
