/* Who holds a GPU's device nodes: /proc/PID/fd and /proc/PID/maps; ending them, gently then not. */
#pragma once

#include "core/config.h"
#include "core/facts.h"
#include "shared/error.h"
#include "shared/time-util.h"

/* Processes under ROOT/proc holding any of nodes (paths as the host sees them). Each is named with
 * comm, and with unit and session through sd-login when root is "/". */
int gh_holders_scan(const char *root, char *const *nodes, gh_holder **ret, size_t *ret_n);
void gh_holders_free(gh_holder *h, size_t n);
/* Never signalled: pid 1, ourselves, our parent, and libvirt's daemons. */
bool gh_holder_is_protected(const gh_holder *h);
/* Rescans; with FAIL, any holder is -EBUSY naming it. With TERMINATE: SIGTERM, wait up to grace,
 * SIGKILL, wait until gone or deadline (-ETIMEDOUT). A protected holder is -EBUSY. */
int gh_holders_end(const char *root, char *const *nodes, gh_holders_mode mode, usec_t grace, usec_t deadline,
                   gh_error *err);
