/* Kernel modules through libkmod: state and holders from sysfs, unload (never forced) and load. */
#pragma once

#include "shared/error.h"
#include "shared/time-util.h"

typedef enum gh_module_state {
        GH_MODULE_ABSENT,
        GH_MODULE_LOADED, /* live */
        GH_MODULE_BUILTIN,
        GH_MODULE_COMING, /* in the kernel, its init still running: not loaded yet */
        GH_MODULE_GOING,  /* in the kernel, its removal under way (an rmmod whose exit hangs): not loaded */
        _GH_MODULE_STATE_MAX,
        _GH_MODULE_STATE_INVALID = -22,
} gh_module_state;

/* From ROOT/sys/module/NAME and its initstate; names with '-' and '_' are the same module. */
gh_module_state gh_module_get_state(const char *root, const char *name);
/* Whether a load of NAME has anything to do: 0 when it is loaded or built in, 1 when it is absent or its
 * init still runs (the kernel's answer to a load waits for that init), -EBUSY with err naming it while its
 * removal is under way: it cannot be loaded again before that ends. */
int gh_module_load_needed(const char *root, const char *name, gh_error *err);
/* ROOT/sys/module/NAME/holders, as a strv (empty when none). */
int gh_module_read_holders(const char *root, const char *name, char ***ret);

/* The PCI functions bound to the module's PCI drivers (ROOT/sys/module/NAME/drivers/pci:DRIVER), with each
 * one's driver in the parallel strv *ret_drivers; empty when none. */
int gh_module_read_pci_devices(const char *root, const char *name, char ***ret_addrs, char ***ret_drivers);

/* ROOT/sys/module/NAME/srcversion into *ret; NULL when the module has none. */
int gh_module_read_srcversion(const char *root, const char *name, char **ret);
/* ROOT/sys/module/NAME/parameters as "PARAM=VALUE" (strv, empty when none); unreadable ones are left out. */
int gh_module_read_params(const char *root, const char *name, char ***ret);

typedef struct gh_kmod gh_kmod;

/* libkmod context for ROOT/lib/modules/$(uname -r), its log routed to ours. */
int gh_kmod_new(const char *root, gh_kmod **ret);
gh_kmod *gh_kmod_free(gh_kmod *k);
DEFINE_TRIVIAL_CLEANUP_FUNC(gh_kmod *, gh_kmod_free)
/* The file a load of NAME would use (libkmod's index of this kernel's modules), and the srcversion in its
 * modinfo. Both NULL when there is none, or the index lists one that is gone; ret_srcversion NULL when
 * the file has none. */
int gh_kmod_module_file(gh_kmod *k, const char *name, char **ret_path, char **ret_srcversion);
/* Not loaded is success. Builtin is -EOPNOTSUPP. Busy (EAGAIN/EBUSY) is retried until deadline. Each try
 * runs in a child: -ETIMEDOUT when one has not returned by the deadline. */
int gh_kmod_unload(gh_kmod *k, const char *name, usec_t deadline, gh_error *err);
/* With its configured options and dependencies. Loaded or builtin is success; being removed is -EBUSY
 * (gh_module_load_needed()). The load runs in a child:
 * -ETIMEDOUT when it has not finished by the deadline (it goes on in the kernel; the module may show up
 * later). */
int gh_kmod_load(gh_kmod *k, const char *name, usec_t deadline, gh_error *err);
/* Loads the modules that match a device's modalias, in a child as above; -ENOENT when none does. */
int gh_kmod_load_modalias(gh_kmod *k, const char *modalias, usec_t deadline, gh_error *err);
