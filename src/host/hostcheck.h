/* Host facts for `check`: the CPU's flags, the IOMMU, the vfio modules, libvirt's hook entries and the
 * start times of libvirt's daemons. Reads only. */
#pragma once

#include "core/check.h"

#define GH_HOOK_ENTRY "/etc/libvirt/hooks/qemu"
#define GH_HOOK_DROPIN "/etc/libvirt/hooks/qemu.d/gpu-handover"

/* Reads ROOT/proc/cpuinfo, ROOT/sys/class/iommu, ROOT/sys/kernel/iommu_groups, the modules' state, the two
 * hook entries and ROOT/proc/PID/stat. What cannot be read is recorded in ret (cpuinfo_error, proc_error,
 * a missing module); only -ENOMEM fails. */
int gh_hostcheck_gather(const char *root, gh_host_check *ret);
/* Loaded or built in (ROOT/sys/module, modules.builtin); else loadable when a libkmod look-up in
 * ROOT/lib/modules/$(uname -r) finds the module's file. */
gh_module_avail gh_hostcheck_module(const char *root, const char *name);
