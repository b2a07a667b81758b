/* SPDX-License-Identifier: GPL-2.0 */
/* What the simulator's nvidia-modeset.ko exports to nvidia-drm.ko, which, like the real one, reaches the
 * GPUs only through it and uses no symbol of nvidia.ko. */
#ifndef NVSIM_MODESET_H
#define NVSIM_MODESET_H

#include "nvsim.h"

/* nvsim_gpu_pci_dev and the GPU listener of nvidia.ko, passed through. */
struct pci_dev *nvsim_kms_gpu_pci_dev(unsigned int index);
int nvsim_kms_register_gpu_listener(const struct nvsim_gpu_listener *l);
void nvsim_kms_unregister_gpu_listener(void);

/* Pins GPU INDEX (nvidia.ko's usage count) for as long as nvidia-drm drives it with modeset=1. */
int nvsim_kms_grab_gpu(unsigned int index);
void nvsim_kms_release_gpu(unsigned int index);

#endif
