/* An audio function handed over (HDMI audio, PCI class 0x0403) is released by unbinding it first: ALSA
 * disconnects the card, its clients (PipeWire, WirePlumber) close it on their own, and only those that
 * still hold it after a while are ended. Pure: decides from the facts and the policy. */
#pragma once

#include "config.h"
#include "facts.h"
#include "step.h"

/* An audio function on a host driver other than vfio-pci: the plan releases it first (RELEASE_AUDIO), and
 * the holders of its nodes are no holders to stop or end up front. */
bool gh_audio_releasable(const gh_pci_dev *d);
/* Fills s, a step of no kind yet (zeroed, group -1), as d's RELEASE_AUDIO under p. -ENOMEM. */
int gh_audio_release_step(const gh_pci_dev *d, const gh_policy *p, gh_step *s);
/* What the release does about h, a holder of one of s's nodes, for `plan` and `check`. */
int gh_audio_holder_action(const gh_step *s, const gh_holder *h, char **ret);
