/* SPDX-License-Identifier: GPL-2.0 */
/* What the simulator's nvidia-modeset.ko exports to nvidia-drm.ko. */
#ifndef NVSIM_MODESET_H
#define NVSIM_MODESET_H

/* Pins GPU INDEX (nvidia.ko's usage count) for as long as nvidia-drm drives it with modeset=1. */
int nvsim_kms_grab_gpu(unsigned int index);
void nvsim_kms_release_gpu(unsigned int index);

#endif
