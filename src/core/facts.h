/* What the host looks like, gathered by the host adapters and handed to the pure planner. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "pci-addr.h"

#define GH_PCI_CLASS_DISPLAY 0x03u /* base class, class >> 16 */
#define GH_PCI_CLASS_BRIDGE 0x0604u /* base+sub class, class >> 8 */

typedef struct gh_pci_dev {
        gh_pci_addr addr;
        unsigned class; /* 24 bits: 0x030000 VGA, 0x040300 HDA */
        unsigned vendor, device;
        char *driver;   /* bound driver, NULL when none */
        char *module;   /* module providing driver; NULL when none or built in */
        char *override; /* driver_override, NULL when "(null)" */
        int iommu_group; /* -1 when the device has none */
        bool boot_vga;
        char **nodes; /* device nodes (strv): /dev/dri/card0, /dev/dri/renderD128, /dev/fb0, /dev/snd/... */
} gh_pci_dev;

typedef struct gh_module {
        char *name;
        char **holders; /* modules using this one, from /sys/module/NAME/holders (strv) */
        bool builtin;
        char **params; /* its readable /sys/module/NAME/parameters, "NAME=VALUE" each (strv) */
        /* What loading it again would find, for the modules a hand-over may unload (the domain's drivers'
         * stacks and unload_modules): the file libkmod finds for the running kernel (NULL when none, or
         * listed but gone), that file's modinfo srcversion and the loaded module's (NULL when it has
         * none). */
        char *path;
        char *file_srcversion;
        char *loaded_srcversion;
} gh_module;

typedef struct gh_holder {
        pid_t pid;
        char *comm;
        char *node;          /* the device node it has open or mapped, or GH_DMABUF_PREFIX + exporter */
        char *what;          /* how messages name it ("/dev/i2c-5 (DDC of 0000:01:00.0)"); NULL: node */
        char *unit;          /* systemd unit, NULL when unknown */
        char *session;       /* logind session, NULL when none */
        char *session_type;  /* x11, wayland, tty, ... */
        char *session_class; /* user, greeter, ... */
        char *cgroup;        /* its cgroup path (v2, or v1's name=systemd), NULL when unknown */
        char *exe;           /* what /proc/PID/exe points to, NULL when unreadable */
        uint64_t start_time; /* /proc/PID/stat field 22, clock ticks after boot; 0 when unknown */
        bool has_uid;        /* uid: whose it is, from sd_pid_get_owner_uid() (owner.h) */
        uint32_t uid;
} gh_holder;

/* Not a device node but a dma-buf, named by the exp_name its fdinfo shows: it pins the exporter's module
 * as an open node does. Holder lists and END_HOLDERS steps carry it as "dma-buf:EXPORTER". */
#define GH_DMABUF_PREFIX "dma-buf:"

typedef struct gh_claim {
        gh_pci_addr addr;
        char *domain; /* another domain whose journal holds addr */
} gh_claim;

typedef struct gh_unit_state {
        char *name;
        bool active;
} gh_unit_state;

typedef struct gh_facts {
        gh_pci_dev *devs; /* every PCI function on the host */
        size_t n_devs;
        gh_module *modules; /* modules of the drivers involved, and their holders, recursively */
        size_t n_modules;
        gh_holder *holders; /* processes holding nodes of the devices involved */
        size_t n_holders;
        gh_claim *claims;
        size_t n_claims;
        gh_unit_state *units; /* the policy's stop_units */
        size_t n_units;
        char *kernel_release; /* uname -r: whose modules directory module files are looked up in */
        char *dm_unit; /* what display-manager.service resolves to; NULL when there is none */
        bool dm_active;
        bool units_known; /* false when no system bus could be reached */
} gh_facts;

bool gh_pci_dev_is_display(const gh_pci_dev *d);
bool gh_pci_dev_is_bridge(const gh_pci_dev *d);
/* May stay in an IOMMU group handed to vfio without being taken: a bridge, or no host driver on it. */
bool gh_pci_dev_may_stay_in_vfio_group(const gh_pci_dev *d);

/* Module names treat '-' and '_' alike, as the kernel does. */
bool gh_module_name_eq(const char *a, const char *b);
const gh_pci_dev *gh_facts_find_dev(const gh_facts *f, const gh_pci_addr *a);
const gh_module *gh_facts_find_module(const gh_facts *f, const char *name);
/* Whether module uses base, directly or through other modules (it is in base's holders, recursively). */
bool gh_facts_module_sits_on(const gh_facts *f, const char *module, const char *base);
/* The value of a module's parameter, NULL when it has none or it could not be read. */
const char *gh_module_param(const gh_module *m, const char *param);
const gh_unit_state *gh_facts_find_unit(const gh_facts *f, const char *name);
/* Adds to *nodes, as GH_DMABUF_PREFIX + exp_name, the dma-bufs that pin one of modules (all of them to
 * be unloaded): each module's own name (DEFINE_DMA_BUF_EXPORT_INFO's KBUILD_MODNAME, as i915 uses),
 * "nv_dmabuf" for nvidia (nv-dmabuf.c), and "drm" (drm_gem_prime_export()'s, which nvidia_drm, amdgpu,
 * nouveau and most DRM drivers use) when one of modules drives a DRM device and no other PCI function
 * with a DRM node stays on the host: "drm" does not say which device, so only then is such a buffer
 * surely one of ours. */
int gh_dmabuf_targets(const gh_facts *f, char *const *modules, char ***nodes);
/* Adds "dma-buf:drm" when one of modules drives a DRM device but another DRM device stays with the host:
 * DRM's PRIME exports (nvidia_drm's, amdgpu's, ...) are all named "drm", so such a buffer may pin one of
 * modules or be the kept GPU's. Its holders are named, never ended. */
int gh_dmabuf_maybe(const gh_facts *f, char *const *modules, char ***nodes);
/* How messages name what h holds: its what, or its node. */
const char *gh_holder_what(const gh_holder *h);
void gh_pci_dev_done(gh_pci_dev *d);
void gh_module_done(gh_module *m);
void gh_holder_done(gh_holder *h);
void gh_facts_done(gh_facts *f);
