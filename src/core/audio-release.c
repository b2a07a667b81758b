/* The audio function's release: unbind first, so that ALSA's disconnect (snd_card_free) makes the card's
 * clients close it, and end only who still holds it after the policy's audio_release_timeout. */
#include <errno.h>

#include "audio-release.h"
#include "shared/strv.h"

#define GH_PCI_CLASS_AUDIO 0x0403u /* base+sub class, class >> 8: HD Audio */
#define VFIO_DRIVER "vfio-pci"

bool gh_audio_releasable(const gh_pci_dev *d)
{
        return d && (d->class >> 8) == GH_PCI_CLASS_AUDIO && d->driver && !streq(d->driver, VFIO_DRIVER);
}

int gh_audio_release_step(const gh_pci_dev *d, const gh_policy *p, gh_step *s)
{
        s->kind = GH_STEP_RELEASE_AUDIO;
        gh_pci_addr_format(&d->addr, s->addr);
        s->holders_mode = p->holders;
        s->grace_sec = p->holders_grace_sec;
        s->wait_sec = p->audio_release_sec;
        if (!(s->driver = strdup(d->driver)))
                return -ENOMEM;
        if (d->override && !streq(d->override, VFIO_DRIVER) && !(s->old_override = strdup(d->override)))
                return -ENOMEM;
        STRV_FOREACH(n, d->nodes)
        if (strv_extend(&s->nodes, *n) < 0)
                return -ENOMEM;
        return 0;
}

int gh_audio_holder_action(const gh_step *s, const gh_holder *h, char **ret)
{
        int r;

        if (s->holders_mode == GH_HOLDERS_FAIL)
                r = asprintf(ret,
                             "left running: it should close the card when %s is unbound from '%s'; if it "
                             "still holds it after %u s, the hand-over fails",
                             s->addr, s->driver, s->wait_sec);
        else
                r = asprintf(
                        ret,
                        "left running: it should close the card when %s is unbound from '%s'; signal pid "
                        "%d only if it still holds it after %u s",
                        s->addr, s->driver, (int)h->pid, s->wait_sec);
        return r < 0 ? -ENOMEM : 0;
}
