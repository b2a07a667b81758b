/* Whether a VM still uses the devices a journal handed to vfio-pci: holders of their VFIO nodes, and
 * libvirt's pid file for the domain. */
#pragma once

#include <sys/types.h>

#include "core/step.h"
#include "shared/error.h"

typedef struct gh_vm_use {
        pid_t pid;
        char *comm;
        char *what;      /* the node it holds, or the pid file naming it (as the host names them) */
        bool pid_file;   /* what is libvirt's pid file for the domain, not a node */
        pid_t iommu_pid; /* with a VFIO cdev held: a holder of /dev/iommu (the same pid first); 0: none */
        char *iommu_comm;
} gh_vm_use;

/* 1 with *ret filled when a process holds a node of the BIND_VFIO steps' devices (the group's
 * /dev/vfio/N, each function's cdev /dev/vfio/devices/vfioX), or when ROOT/run/libvirt/qemu/DOMAIN.pid
 * names a live QEMU; 0 when neither. /dev/iommu alone is no use of these devices: every iommufd user
 * holds it. err says what could not be read. */
int gh_vm_use_find(const char *root, const char *domain, const gh_step *steps, size_t n, gh_vm_use *ret,
                   gh_error *err);
void gh_vm_use_done(gh_vm_use *u);
