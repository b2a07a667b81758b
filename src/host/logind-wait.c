/* logind closes its fd of a session device, and tells PID 1 to drop the stored copy (FDSTOREREMOVE=1),
 * when the session's controller goes away: asynchronously, after the compositor's bus connection closes.
 * No event says when PID 1 has done so, so the holders are scanned again until both have let go. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "core/logind-copy.h"
#include "holders.h"
#include "logind-wait.h"

#define RESCAN_INTERVAL (20 * USEC_PER_MSEC)

/* "...: /dev/dri/card1: pid 1 (systemd) keeps it in its fd store; /dev/dri/card1: pid 412 (systemd-logind)
 * of systemd-logind.service holds it; ..." */
static int still_held_error(gh_error *err, const gh_holder *h, size_t n)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0, k = 0;
        FILE *f = open_memstream(&text, &len);

        if (!f)
                return gh_error_set(err, -ETIMEDOUT,
                                    "logind has not released its copies of the session's devices");
        fputs("logind has not released its copies of the session's devices by the deadline", f);
        for (size_t i = 0; i < n; i++)
                if (gh_holder_is_logind_copy(&h[i]))
                        fprintf(f, "%s%s: pid %d (%s) %s", k++ ? "; " : ": ", h[i].node, (int)h[i].pid,
                                strempty(h[i].comm),
                                h[i].pid == 1 ? "keeps it in its fd store"
                                              : "of systemd-logind.service holds it");
        fputs("; the session that took it may still be running", f);
        if (fclose(f) != 0)
                return gh_error_set(err, -ETIMEDOUT,
                                    "logind has not released its copies of the session's devices");
        return gh_error_set(err, -ETIMEDOUT, "%s", text);
}

static size_t count_copies(const gh_holder *h, size_t n)
{
        size_t k = 0;

        for (size_t i = 0; i < n; i++)
                k += gh_holder_is_logind_copy(&h[i]);
        return k;
}

int gh_logind_wait_released(const char *root, char *const *nodes, usec_t deadline, gh_error *err)
{
        for (;;) {
                gh_holder *h = NULL;
                size_t n = 0;
                usec_t left;
                int r = gh_holders_scan(root, nodes, &h, &n);

                if (r < 0)
                        return gh_error_set(err, r,
                                            "cannot scan for logind's copies of the session's devices: %s",
                                            strerror(-r));
                if (count_copies(h, n) == 0) {
                        gh_holders_free(h, n);
                        return 0;
                }
                if (deadline_passed(deadline)) {
                        r = still_held_error(err, h, n);
                        gh_holders_free(h, n);
                        return r;
                }
                gh_holders_free(h, n);
                left = deadline_left(deadline);
                (void)usleep((useconds_t)(left < RESCAN_INTERVAL ? left : RESCAN_INTERVAL));
        }
}
