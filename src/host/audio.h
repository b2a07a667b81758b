/* An audio function's release on the host: its unbind runs in a child while ALSA disconnects the card and
 * the card's clients close it; whoever still holds it after a while is ended as a holder, then the unbind
 * is waited for. */
#pragma once

#include "core/config.h"
#include "shared/error.h"
#include "shared/time-util.h"

typedef struct gh_audio_release {
        const char *addr;
        const char *driver; /* unbound only from this one: 0 when addr is not on it */
        char *const *nodes; /* the card's nodes (may be NULL): their holders are ended after wait */
        gh_holders_mode mode;
        usec_t grace; /* SIGTERM to SIGKILL */
        usec_t wait;  /* how long the unbind runs before the holders are dealt with */
} gh_audio_release;

/* Unbinds a->addr from a->driver, in a child. When the unbind has not ended within a->wait, the processes
 * still holding a->nodes are ended as gh_holders_end() does (with FAIL: -EBUSY naming them, the unbind
 * stopped), then the unbind is waited for until deadline and the driver link verified gone. Each failure
 * is in err, naming the function and the driver. */
int gh_audio_release_run(const char *root, const gh_audio_release *a, usec_t deadline, gh_error *err);
