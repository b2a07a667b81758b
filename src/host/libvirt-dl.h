/* libvirt, loaded at run time for `check` alone: the tool, which the hook execs, must not link it. */
#pragma once

#include "shared/error.h"

#define GH_LIBVIRT_URI "qemu:///system"

/* Whether uri is one check may open: a local driver, qemu (or libvirt's test driver), with no transport
 * ("qemu+ssh", "qemu+ext" runs a command), no host and no parameters. check runs as root, often through
 * sudo for a user who may not run commands as root. */
bool gh_libvirt_uri_allowed(const char *uri);

/* The domain's XML as virDomainGetXMLDesc (flags 0) gives it, over a read-only connection to uri.
 * -ENOPKG when libvirt.so.0 cannot be loaded, -ECONNREFUSED when the connection fails, -ENOENT when
 * the domain is unknown, -EPERM for a uri gh_libvirt_uri_allowed() refuses; err says which. */
int gh_libvirt_domain_xml(const char *uri, const char *domain, char **ret, gh_error *err);
