/* Unbinds that would never end: drivers whose PCI remove waits for the device's users, with a user loaded
 * that the hand-over cannot end. Pure: judges gathered facts. */
#pragma once

#include "facts.h"
#include "shared/error.h"

/* 0 when unbinding d alone from its driver can finish. Else -EDEADLK, with err naming the domain, the
 * function, the driver, the module that keeps using it, and what to do instead; other_addr (may be NULL)
 * is a function the driver also drives, that stays on the host. at_boot: the claim at boot asks, and is
 * told what keeps the driver off the GPU at boot. */
int gh_unbind_check_wait(const gh_facts *f, const char *domain, const gh_pci_dev *d, const char *other_addr,
                         bool at_boot, gh_error *err);
