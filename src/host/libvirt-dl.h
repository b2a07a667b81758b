/* libvirt, loaded at run time for `check` alone: the tool, which the hook execs, must not link it. */
#pragma once

#include "shared/error.h"

#define GH_LIBVIRT_URI "qemu:///system"

typedef enum gh_libvirt_uris {
        GH_LIBVIRT_QEMU_ONLY = 0,
        GH_LIBVIRT_TEST_DRIVER = 1 << 0, /* also test:///: for the test build alone (it reads any file) */
} gh_libvirt_uris;

/* Whether uri is one check may open: the local qemu driver (with GH_LIBVIRT_TEST_DRIVER, libvirt's test
 * driver too), with no transport ("qemu+ssh", "qemu+ext" runs a command), no host and no parameters.
 * check runs as root, often through sudo for a user who may not run commands as root. */
bool gh_libvirt_uri_allowed(const char *uri, gh_libvirt_uris allow);

/* The domain's XML as virDomainGetXMLDesc (flags 0) gives it, over a read-only connection to uri.
 * -ENOPKG when libvirt.so.0 cannot be loaded, -ECONNREFUSED when the connection fails, -ENOENT when
 * the domain is unknown, -EPERM for a uri gh_libvirt_uri_allowed() refuses; err says which. */
int gh_libvirt_domain_xml(const char *uri, gh_libvirt_uris allow, const char *domain, char **ret,
                          gh_error *err);
