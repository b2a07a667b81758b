/* SPDX-License-Identifier: GPL-2.0 */
/* What nvidia.ko of the simulator exports to the modules above it: the GPUs it drives, a usage count on
 * each (what makes its PCI remove wait), and a notifier for the GPUs that come and go. */
#ifndef NVSIM_H
#define NVSIM_H

#include <linux/pci.h>

#define NVSIM_MAJOR 195
#define NVSIM_MAX_GPUS 8
#define NVSIM_CTL_MINOR 255
#define NVSIM_MODESET_MINOR 254

struct nvsim_gpu;

/* Called under nvidia's GPU list lock when a GPU is probed (added) or about to be removed. */
struct nvsim_gpu_listener {
        void (*added)(struct pci_dev *pdev, unsigned int index);
        void (*removing)(struct pci_dev *pdev, unsigned int index);
};

/* The PCI device of GPU INDEX (its minor), NULL when there is none. No reference is taken. */
struct pci_dev *nvsim_gpu_pci_dev(unsigned int index);
/* Pins GPU INDEX the way an open of /dev/nvidiaN does: its PCI remove waits until it is let go. */
int nvsim_gpu_get(unsigned int index);
void nvsim_gpu_put(unsigned int index);
/* Pins nvidia.ko itself (an open of /dev/nvidia-uvm does, through the UVM module). */
int nvsim_module_get(void);
void nvsim_module_put(void);
/* One listener at most; registering replays the GPUs there are. */
int nvsim_register_gpu_listener(const struct nvsim_gpu_listener *l);
void nvsim_unregister_gpu_listener(void);

#endif
