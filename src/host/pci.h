/* sysfs PCI under ROOT/sys/bus/pci: read a function's facts; override, unbind, probe, verify. */
#pragma once

#include "child.h"
#include "core/facts.h"
#include "shared/time-util.h"

/* Fills class, vendor, device, driver, module, iommu_group, boot_vga and nodes; not the override, which
 * takes the device's lock to read: gh_pci_read_override(). -ENODEV when the function does not exist. */
int gh_pci_read_dev(const char *root, const gh_pci_addr *a, gh_pci_dev *ret);
/* Every function under ROOT/sys/bus/pci/devices, sorted by address. */
int gh_pci_list(const char *root, gh_pci_dev **ret, size_t *ret_n);
void gh_pci_devs_free(gh_pci_dev *devs, size_t n);
/* *ret is NULL (and 0 returned) when no driver is bound. */
int gh_pci_get_driver(const char *root, const char *addr, char **ret);
/* driver_override, read in a child: the kernel takes the device's lock to show it, and a driver stuck in
 * unbind holds that lock forever. *ret is NULL when none. -ETIMEDOUT when the child did not answer by the
 * deadline: it is left behind, asleep in the kernel. */
int gh_pci_read_override(const char *root, const char *addr, usec_t deadline, char **ret);
/* Written in a child, as above; driver NULL clears the override. */
int gh_pci_set_override(const char *root, const char *addr, const char *driver, usec_t deadline);
/* Unbinds only if bound to driver (else 0). The write runs in a child: a busy driver may block
 * forever in the kernel. -ETIMEDOUT when the deadline passes first. */
int gh_pci_unbind(const char *root, const char *addr, const char *driver, usec_t deadline);
/* The same in halves, for a driver whose unbind waits for its users (ALSA's waits until every file of the
 * card is closed) while the caller deals with them. begin starts the write in a child, when addr is bound
 * to driver (else nothing is started, and end says 0). wait waits for it until deadline: 0 once it has
 * ended, -ETIMEDOUT while it still runs. end waits too, then stops a child still running (-ETIMEDOUT:
 * gh_child_last_abandoned() names it if it stays in the kernel), or verifies that the driver link is gone.
 */
typedef struct gh_pci_unbind_op {
        char addr[GH_PCI_ADDR_MAX]; /* canonical */
        gh_child child;
        bool started, ended;
        int result; /* the write's, once ended */
} gh_pci_unbind_op;

int gh_pci_unbind_begin(const char *root, const char *addr, const char *driver, usec_t deadline,
                        gh_pci_unbind_op *ret);
int gh_pci_unbind_wait(gh_pci_unbind_op *op, usec_t deadline);
int gh_pci_unbind_end(const char *root, gh_pci_unbind_op *op, usec_t deadline);
/* Writes addr to drivers_probe. Success there says nothing: verify with gh_pci_wait_driver(). */
int gh_pci_probe(const char *root, const char *addr, usec_t deadline);
/* Polls until driver is bound (driver NULL: any driver). -ETIMEDOUT when not by deadline. */
int gh_pci_wait_driver(const char *root, const char *addr, const char *driver, usec_t deadline);
/* The first of nodes that is missing, NULL when none: each as it is, except that a node under /dev/dri/
 * stands for any DRM card registered for addr. */
const char *gh_pci_missing_node(const char *root, const char *addr, char *const *nodes);
int gh_pci_read_modalias(const char *root, const char *addr, char **ret);
/* The function's VFIO cdev ("vfio0": /dev/vfio/devices/vfio0, for iommufd users), from its sysfs
 * vfio-dev/ directory. -ENOENT when it has none: not on vfio-pci, or a kernel without VFIO cdevs. */
int gh_pci_vfio_cdev(const char *root, const char *addr, char **ret_name);
