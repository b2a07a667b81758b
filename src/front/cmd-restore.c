/* `gpu-handover restore [--best-effort] DOMAIN`: undo an active hand-over from its journal, for recovery by
 * hand; with --best-effort, past the lines that do not parse. */
#include <errno.h>

#include "front.h"
#include "handover.h"
#include "host/journal.h"
#include "host/log.h"
#include "shared/strv.h"

/* 1 for --best-effort, 0 without, or a GH_ARGS_* code; argv[optind] is the domain. */
static int parse_args(const gh_command *self, int argc, char *argv[])
{
        static const struct option opts[] = {{"best-effort", no_argument, NULL, 'b'}, GH_OPTION_HELP, {}};
        gh_opts o = {.cmd = self, .longopts = opts};
        bool best_effort = false;
        int r;

        while ((r = gh_opts_next(&o, argc, argv)) != GH_ARGS_END) {
                if (r < 0)
                        return r;
                best_effort = true;
        }
        if ((r = gh_args_positional(self, argc, argv, 1, 1)) < 0 || (r = gh_args_domain(self, argv[optind])) < 0)
                return r;
        return best_effort;
}

static void report_skipped(const char *domain, char *const *skipped)
{
        STRV_FOREACH(s, skipped)
        gh_log_full(LOG_ERR, 0, &(gh_log_fields){.domain = domain}, "%s: skipped, undo it by hand", *s);
}

static int cmd_restore(gh_context *ctx, const gh_command *self, int argc, char *argv[])
{
        _cleanup_strv_free_ char **skipped = NULL;
        gh_release_result res = {};
        const char *domain;
        gh_error err = {};
        int r;

        r = parse_args(self, argc, argv);
        if (r < 0)
                return gh_args_exit(r);
        res.best_effort = r;
        domain = argv[optind];
        gh_log_setup(GH_LOG_JOURNAL | GH_LOG_STDERR, LOG_INFO);
        r = gh_handover_release(ctx->root, domain, &res, &err);
        skipped = TAKE_PTR(res.skipped);
        report_skipped(domain, skipped);
        if (r < 0) {
                gh_log_full(LOG_ERR, 0, NULL, "%s", err.msg[0] ? err.msg : strerror(-r));
                return GH_EXIT_FAILURE;
        }
        if (!res.found) {
                printf("No hand-over is recorded for domain '%s': nothing to restore.\n", domain);
                return GH_EXIT_OK;
        }
        if (skipped) {
                printf("Domain '%s': %zu step(s) undone; %zu line(s) of the journal skipped (named above): "
                       "undo "
                       "them by hand.\n",
                       domain, res.n_undone, strv_length(skipped));
                return GH_EXIT_FAILURE;
        }
        printf("Domain '%s': %zu step(s) undone, the devices are back on the host.\n", domain, res.n_undone);
        return GH_EXIT_OK;
}

const gh_command gh_command_restore = {
        .name = "restore",
        .run = cmd_restore,
        .args = "[--best-effort] DOMAIN",
        .summary = "undo a hand-over from its journal, as 'release end' would",
        .details =
                "Undoes the steps recorded in " GH_RUN_DIR "/DOMAIN.journal, in reverse, and removes the\n"
                "journal: for recovery by hand after a crash, a 'kill -9' of libvirt's daemon, or a failed\n"
                "give-back whose cause was fixed. Refused while a VM still uses the devices. Without a\n"
                "journal it says so and exits 0. A journal with a line that does not parse is refused,\n"
                "naming FILE:LINE; so is one that is not root's with mode 0600 in a directory that is\n"
                "root's with mode 0700.\n\n"
                "  --best-effort   undo the lines that parse, name each one that does not (FILE:LINE and\n"
                "                  why) and remove the journal; exits 1 when a line was skipped\n",
};
