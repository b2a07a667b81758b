/* The audio function's release: ALSA's unbind (snd_card_free) disconnects the card, so that its clients get
 * errors and close their files, then waits until every file is closed. Run in a child, it lets PipeWire let
 * go on its own; only who has not let go after the wait is dealt with, as any holder is. */
#include <errno.h>

#include "audio.h"
#include "devlock.h"
#include "holders.h"

static usec_t min_deadline(usec_t deadline, usec_t timeout)
{
        usec_t d = deadline_after(timeout);

        return d < deadline ? d : deadline;
}

static int unbind_error(const char *root, const gh_audio_release *a, int r, gh_error *err)
{
        if (gh_devlock_stuck(r))
                return gh_devlock_error(root, a->addr, r, err);
        return gh_error_set(err, r, "cannot unbind audio %s from '%s': %s", a->addr, a->driver,
                            strerror(-r));
}

/* The holders left after the wait; the unbind goes on meanwhile. On failure it is given up on. */
static int end_late_holders(const char *root, const gh_audio_release *a, gh_pci_unbind_op *op,
                            usec_t deadline, gh_error *err)
{
        gh_error why = {};
        int r;

        if (!a->nodes || !a->nodes[0])
                return 0;
        r = gh_holders_end(root, a->nodes, a->mode, a->grace, deadline, &why);
        if (r >= 0)
                return 0;
        gh_devlock_unbind_abort(root, op, a->driver);
        return gh_error_set(err, r, "audio %s was not released from '%s' within %llu s: %s", a->addr,
                            a->driver, (unsigned long long)(a->wait / USEC_PER_SEC), why.msg);
}

int gh_audio_release_run(const char *root, const gh_audio_release *a, usec_t deadline, gh_error *err)
{
        gh_pci_unbind_op op;
        int r = gh_devlock_unbind_begin(root, a->addr, a->driver, deadline, &op);

        if (r < 0)
                return unbind_error(root, a, r, err);
        r = gh_pci_unbind_wait(&op, min_deadline(deadline, a->wait));
        if (r == -ETIMEDOUT && (r = end_late_holders(root, a, &op, deadline, err)) < 0)
                return r;
        r = gh_devlock_unbind_end(root, &op, a->driver, deadline);
        return r < 0 ? unbind_error(root, a, r, err) : 0;
}
