/* `gpu-handover restore DOMAIN`: undo an active hand-over from its journal, for recovery by hand. */
#include <errno.h>

#include "front.h"
#include "handover.h"
#include "host/journal.h"
#include "host/log.h"

static int cmd_restore(gh_context *ctx, const gh_command *self, int argc, char *argv[])
{
        static const struct option opts[] = {GH_OPTION_HELP, {}};
        gh_opts o = {.cmd = self, .longopts = opts};
        gh_step *steps = NULL;
        const char *domain;
        size_t n = 0;
        gh_error err = {};
        int r;

        while ((r = gh_opts_next(&o, argc, argv)) != GH_ARGS_END)
                if (r < 0)
                        return gh_args_exit(r);
        if ((r = gh_args_positional(self, argc, argv, 1, 1)) < 0 || (r = gh_args_domain(self, argv[optind])) < 0)
                return gh_args_exit(r);
        domain = argv[optind];
        gh_log_setup(GH_LOG_JOURNAL | GH_LOG_STDERR, LOG_INFO);
        r = gh_journal_read(ctx->root, domain, 0, &steps, &n, &err);
        gh_steps_free(steps, n);
        if (r == -ENOENT) {
                printf("No hand-over is recorded for domain '%s': nothing to restore.\n", domain);
                return GH_EXIT_OK;
        }
        r = gh_handover_release(ctx->root, domain, &err);
        if (r < 0) {
                gh_log_full(LOG_ERR, 0, NULL, "%s", err.msg[0] ? err.msg : strerror(-r));
                return GH_EXIT_FAILURE;
        }
        printf("Domain '%s': %zu step(s) undone, the devices are back on the host.\n", domain, n);
        return GH_EXIT_OK;
}

const gh_command gh_command_restore = {
        .name = "restore",
        .run = cmd_restore,
        .args = "DOMAIN",
        .summary = "undo a hand-over from its journal, as 'release end' would",
        .details = "Undoes the steps recorded in " GH_RUN_DIR "/DOMAIN.journal, in reverse, and removes the\n"
                   "journal: for recovery by hand after a crash, a 'kill -9' of libvirt's daemon, or a failed\n"
                   "give-back whose cause was fixed. Refused while a VM still uses the devices. Without a\n"
                   "journal it says so and exits 0.\n",
};
