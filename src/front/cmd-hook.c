/* `gpu-handover hook qemu DOMAIN OP SUBOP EXTRA`, as libvirt runs it (through the hook entry).
 * stdout is libvirt's (it reads XML there for migrate and restore): nothing is printed to it.
 * stderr gets one line on failure, which libvirt shows to the user. */
#include <errno.h>

#include "core/domxml.h"
#include "front.h"
#include "handover.h"
#include "host/log.h"
#include "shared/fileio.h"

static int hook_fail(const gh_error *err, int r)
{
        gh_log_full(LOG_ERR, 0, NULL, "%s", err->msg[0] ? err->msg : strerror(-r));
        fprintf(stderr, "gpu-handover: %s\n", err->msg[0] ? err->msg : strerror(-r));
        return GH_EXIT_FAILURE;
}

static int hook_prepare(gh_context *ctx, const char *domain)
{
        _cleanup_free_ char *xml = NULL;
        gh_error err = {};
        size_t len = 0;
        int r;

        r = read_full_fd(STDIN_FILENO, GH_DOMXML_MAX, &xml, &len);
        if (r < 0) {
                gh_error_set(&err, r, "domain '%s': cannot read the domain XML on stdin: %s", domain,
                             gh_domxml_read_error(r));
                return hook_fail(&err, r);
        }
        r = gh_handover_prepare(ctx->root, domain, xml, len, &err);
        return r < 0 ? hook_fail(&err, r) : GH_EXIT_OK;
}

static int hook_release(gh_context *ctx, const char *domain)
{
        gh_error err = {};
        int r = gh_handover_release(ctx->root, domain, NULL, &err);

        return r < 0 ? hook_fail(&err, r) : GH_EXIT_OK;
}

static int cmd_hook(gh_context *ctx, const gh_command *self, int argc, char *argv[])
{
        /* In order: libvirt's arguments are data ("-" as EXTRA), only a leading --help is an option. */
        static const struct option opts[] = {GH_OPTION_HELP, {}};
        gh_opts o = {.cmd = self, .longopts = opts, .in_order = true};
        const char *domain, *op, *subop;
        int r;

        while ((r = gh_opts_next(&o, argc, argv)) != GH_ARGS_END)
                if (r < 0)
                        return gh_args_exit(r);
        /* stdout stays libvirt's: point it at nothing so no library can write there by mistake. */
        if (!freopen("/dev/null", "w", stdout))
                return GH_EXIT_FAILURE;
        gh_log_setup(GH_LOG_JOURNAL, LOG_INFO);
        if ((r = gh_args_positional(self, argc, argv, 4, 5)) < 0)
                return gh_args_exit(r);
        if (!streq(argv[optind], "qemu")) {
                fprintf(stderr, "gpu-handover: hook: '%s' is not a hook this program serves: only 'qemu'\n",
                        argv[optind]);
                return GH_EXIT_USAGE;
        }
        domain = argv[optind + 1];
        op = argv[optind + 2];
        subop = argv[optind + 3];
        if (streq(op, "prepare") && streq(subop, "begin"))
                return hook_prepare(ctx, domain);
        if (streq(op, "release") && streq(subop, "end"))
                return hook_release(ctx, domain);
        return GH_EXIT_OK;
}

const gh_command gh_command_hook = {
        .name = "hook",
        .run = cmd_hook,
        .args = "qemu DOMAIN OP SUBOP [EXTRA]",
        .summary = "what libvirt's qemu hook runs, the domain XML on stdin; not for use by hand",
        .details = "Run by the hook entry for 'prepare begin' (hands DOMAIN's devices over to vfio-pci) and\n"
                   "'release end' (gives them back from the journal) of a domain that opted in; every other\n"
                   "event does nothing. Never writes to stdout. By hand, use 'plan' to see what it would do\n"
                   "and 'restore' to undo a hand-over.\n",
};
