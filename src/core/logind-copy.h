/* logind's copies of a session's devices: the fds systemd-logind opens for TakeDevice() and the copy it
 * stores in PID 1's fd store. They are not holders of their own: they go when the session lets go. */
#pragma once

#include "facts.h"

/* A node logind hands out through TakeDevice(): a DRM card (/dev/dri/cardN), an evdev node
 * (/dev/input/eventN), a hidraw node. Render nodes, fbdev, sound and NVIDIA's nodes are opened by the
 * processes themselves. */
bool gh_node_is_session_device(const char *node);
/* Whether systemd-logind runs in h: by its system unit (systemd-logind.service, from the cgroup path,
 * which only root can place a process in), never its comm. */
bool gh_holder_is_logind(const gh_holder *h);
/* Whether h is one of logind's copies of a session device: pid 1 (the fd store, FDSTORE=1 with
 * FDNAME=session-ID-device-MAJ-MIN) or systemd-logind itself, holding a session device node. */
bool gh_holder_is_logind_copy(const gh_holder *h);
/* The session that took node through logind, as the facts show it: the session of a process, not one of
 * logind's copies, holding node; NULL when none is known. */
const gh_holder *gh_logind_copy_owner(const gh_facts *f, const char *node);
