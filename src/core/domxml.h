/* Domain XML (as libvirt passes it on the hook's stdin) to the host PCI devices it asks for. */
#pragma once

#include "shared/error.h"
#include "pci-addr.h"

/* Larger input is refused before libxml2 sees it. */
#define GH_DOMXML_MAX ((size_t)4 * 1024 * 1024)

typedef enum gh_hostdev_kind {
        GH_HOSTDEV_PCI,       /* <hostdev mode='subsystem' type='pci'> */
        GH_HOSTDEV_INTERFACE, /* <interface type='hostdev'> with a PCI source */
        _GH_HOSTDEV_KIND_MAX,
        _GH_HOSTDEV_KIND_INVALID = -22,
} gh_hostdev_kind;

typedef struct gh_hostdev {
        gh_pci_addr addr; /* from <source><address>, never the guest-side <address> */
        gh_hostdev_kind kind;
        bool managed; /* managed='yes' */
} gh_hostdev;

typedef struct gh_domain {
        char *name; /* <name>, NULL when absent */
        gh_hostdev *hostdevs;
        size_t n_hostdevs;
} gh_domain;

/* Parses with no network, no DTD and no entity expansion. USB, SCSI and mdev hostdevs are skipped.
 * Malformed XML, or a PCI hostdev whose source address is missing or bad, is -EINVAL with err
 * naming the problem (line, hostdev index, attribute). */
int gh_domxml_parse(const char *buf, size_t len, gh_domain *ret, gh_error *err);
/* Why the domain XML could not be read, for the -errno a read of it returned. */
const char *gh_domxml_read_error(int r);
void gh_domain_done(gh_domain *d);
