/* Can a module that a hand-over unloads be loaded again when the VM stops? Pure: judges gathered facts. */
#pragma once

#include "facts.h"
#include "shared/error.h"

/* 0 when module name can be loaded again, or is not one a hand-over unloads (not loaded, built in).
 * Else, with err naming the domain, the module and why: -ENOENT when the running kernel's modules
 * directory has no file for it (a kernel upgrade removed it), -ESTALE when the file is another build
 * than the loaded module (their srcversions differ, or only one of them has one: DKMS rebuilt it). */
int gh_module_check_reload(const gh_facts *f, const char *domain, const char *name, gh_error *err);
