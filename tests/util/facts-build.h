/* Building host facts and domains in code, for planner and executor tests. */
#pragma once

#include "core/domxml.h"
#include "core/facts.h"

/* nodes: space-separated device nodes, or NULL. */
gh_pci_dev *tf_add_dev(gh_facts *f, const char *addr, unsigned class, const char *driver, const char *module,
                       int group, const char *nodes);
/* The running kernel of the facts built here. */
#define TF_KERNEL "6.1.0-test"

/* holders: space-separated module names, or NULL. A loadable one can be loaded again: it has a file for
 * the running kernel, with the loaded module's srcversion. */
gh_module *tf_add_module(gh_facts *f, const char *name, const char *holders, bool builtin);
/* Adds "PARAM=VALUE" to a module's readable parameters. */
void tf_module_param(gh_facts *f, const char *module, const char *param);
void tf_add_holder(gh_facts *f, pid_t pid, const char *comm, const char *node, const char *unit,
                   const char *session_type, const char *session_class);
/* Who the last holder added is: its cgroup path and exe (either may be NULL). */
void tf_holder_identity(gh_facts *f, const char *cgroup, const char *exe);
void tf_add_unit(gh_facts *f, const char *name, bool active);
void tf_add_claim(gh_facts *f, const char *addr, const char *domain);
/* A domain whose PCI hostdevs are the space-separated addresses. */
void tf_domain(gh_domain *d, const char *addrs);
void tf_domain_add(gh_domain *d, const char *addr, gh_hostdev_kind kind);
