/* The PCI accesses that take a device's lock (pci.h: driver_override read and write, unbind, probe), kept
 * in step with the stuck list (stucklist.h). A function on the list whose waiter is still in the kernel
 * is not touched at all; one whose waiter is gone gets a short try, which takes it off the list when it
 * answers; an access that does not answer by its deadline puts the function on the list. */
#pragma once

#include "core/stuck.h"
#include "pci.h"
#include "shared/error.h"
#include "shared/time-util.h"

/* How long a listed function whose waiter is gone gets to show that its lock is free again. */
#define GH_DEVLOCK_RETRY_TIMEOUT (500 * USEC_PER_MSEC)

/* As gh_pci_read_override() and the others, plus -EDEADLK: listed as stuck, not tried. -ETIMEDOUT: did
 * not answer now, listed from now on. */
int gh_devlock_read_override(const char *root, const char *addr, usec_t deadline, char **ret);
int gh_devlock_set_override(const char *root, const char *addr, const char *driver, usec_t deadline);
int gh_devlock_unbind(const char *root, const char *addr, const char *driver, usec_t deadline);
int gh_devlock_probe(const char *root, const char *addr, usec_t deadline);
/* gh_devlock_unbind() in the halves of pci.h's gh_pci_unbind_begin() and _end(): begin is -EDEADLK for a
 * function listed with its waiter in the kernel; end lists it when the unbind has not ended by deadline.
 * abort stops an unbind given up on, and lists the function when its child stays in the kernel. */
int gh_devlock_unbind_begin(const char *root, const char *addr, const char *driver, usec_t deadline,
                            gh_pci_unbind_op *ret);
int gh_devlock_unbind_end(const char *root, gh_pci_unbind_op *op, const char *driver, usec_t deadline);
void gh_devlock_unbind_abort(const char *root, gh_pci_unbind_op *op, const char *driver);

static inline bool gh_devlock_stuck(int r)
{
        return r == -EDEADLK || r == -ETIMEDOUT;
}

/* Lists addr as stuck by op with the child process last left waiting in the kernel (gh_child_run), as an
 * access that timed out does: for a lock held by something other than one of these accesses (a module
 * unload whose exit function hangs in the driver's remove). Best effort, as for those. */
void gh_devlock_mark_stuck(const char *root, const char *addr, gh_stuck_op op, const char *driver);

/* The one line for a stuck function, from its entry on the list: the address, the access and the driver,
 * since when, and the process still waiting. Sets err and returns r. */
int gh_devlock_error(const char *root, const char *addr, int r, gh_error *err);
/* The same line from an entry already read (status lists them all). */
int gh_devlock_stuck_error(const gh_stuck *s, int r, gh_error *err);
