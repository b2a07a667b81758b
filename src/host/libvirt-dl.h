/* libvirt, loaded at run time for `check` alone: the tool, which the hook execs, must not link it. */
#pragma once

#include "shared/error.h"

#define GH_LIBVIRT_URI "qemu:///system"

/* The domain's XML as virDomainGetXMLDesc (flags 0) gives it, over a read-only connection to uri.
 * -ENOPKG when libvirt.so.0 cannot be loaded, -ECONNREFUSED when the connection fails, -ENOENT when
 * the domain is unknown; err says which, with libvirt's own message. */
int gh_libvirt_domain_xml(const char *uri, const char *domain, char **ret, gh_error *err);
