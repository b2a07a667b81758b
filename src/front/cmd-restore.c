/* `gpu-handover restore DOMAIN`: undo an active hand-over from its journal, for recovery by hand. */
#include <errno.h>

#include "front.h"
#include "handover.h"
#include "host/journal.h"
#include "host/log.h"

int gh_cmd_restore(gh_context *ctx, int argc, char *argv[])
{
        gh_step *steps = NULL;
        size_t n = 0;
        gh_error err = {};
        int r;

        if (argc != 2) {
                fprintf(stderr, "gpu-handover: usage: restore DOMAIN\n");
                return GH_EXIT_USAGE;
        }
        gh_log_setup(GH_LOG_JOURNAL | GH_LOG_STDERR, LOG_INFO);
        r = gh_journal_read(ctx->root, argv[1], &steps, &n, &err);
        gh_steps_free(steps, n);
        if (r == -ENOENT) {
                printf("No hand-over is recorded for domain '%s': nothing to restore.\n", argv[1]);
                return GH_EXIT_OK;
        }
        r = gh_handover_release(ctx->root, argv[1], &err);
        if (r < 0) {
                gh_log_full(LOG_ERR, 0, NULL, "%s", err.msg[0] ? err.msg : strerror(-r));
                return GH_EXIT_FAILURE;
        }
        printf("Domain '%s': %zu step(s) undone, the devices are back on the host.\n", argv[1], n);
        return GH_EXIT_OK;
}
