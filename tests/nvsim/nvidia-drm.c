// SPDX-License-Identifier: GPL-2.0
/* The simulator's nvidia-drm.ko: a DRM device (card and render node under the PCI device) for each GPU
 * nvidia.ko drives when this module loads, or as they come and go with nvsim_hotplug; with modeset=1 each
 * keeps its GPU pinned through nvidia-modeset; GEM dumb buffers exported as dma-bufs (see README.md). */
#include <linux/module.h>
#include <linux/mutex.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_gem_shmem_helper.h>
#include <drm/drm_ioctl.h>
#include <drm/drm_mode_config.h>

#include "nvidia-modeset.h"

static bool modeset;
module_param(modeset, bool, 0400);
MODULE_PARM_DESC(modeset, "Enable atomic kernel modesetting (1 = enable, 0 = disable (default))");

static bool nvsim_hotplug;
module_param(nvsim_hotplug, bool, 0400);
MODULE_PARM_DESC(nvsim_hotplug,
                 "Simulator: follow GPUs probed and removed after load, as nvidia-drm 580.105 and later do");

struct nvdrm_gpu {
        struct drm_device *drm;
        bool grabbed;
};

static DEFINE_MUTEX(nvdrm_lock);
static struct nvdrm_gpu nvdrm_gpus[NVSIM_MAX_GPUS];

DEFINE_DRM_GEM_FOPS(nvdrm_fops);

static struct drm_driver nvdrm_driver = {
        .driver_features = DRIVER_GEM | DRIVER_RENDER,
        .fops = &nvdrm_fops,
        DRM_GEM_SHMEM_DRIVER_OPS,
        .name = "nvidia-drm",
        .desc = "NVIDIA DRM driver",
        .date = "20160202",
};

static void nvdrm_remove(unsigned int index)
{
        struct nvdrm_gpu *g = &nvdrm_gpus[index];

        if (!g->drm)
                return;
        drm_dev_unplug(g->drm);
        drm_dev_put(g->drm);
        g->drm = NULL;
        if (g->grabbed)
                nvsim_kms_release_gpu(index);
        g->grabbed = false;
}

static void nvdrm_add(struct pci_dev *pdev, unsigned int index)
{
        struct nvdrm_gpu *g = &nvdrm_gpus[index];
        struct drm_device *drm;
        int r;

        if (g->drm)
                return;
        if (modeset) {
                r = nvsim_kms_grab_gpu(index);
                if (r)
                        goto fail;
                g->grabbed = true;
        }
        drm = drm_dev_alloc(&nvdrm_driver, &pdev->dev);
        r = PTR_ERR_OR_ZERO(drm);
        if (r)
                goto fail;
        if (modeset) {
                r = drmm_mode_config_init(drm);
                if (r)
                        goto fail_put;
                drm->mode_config.max_width = 4096;
                drm->mode_config.max_height = 4096;
        }
        r = drm_dev_register(drm, 0);
        if (r)
                goto fail_put;
        g->drm = drm;
        return;
fail_put:
        drm_dev_put(drm);
fail:
        if (g->grabbed)
                nvsim_kms_release_gpu(index);
        g->grabbed = false;
        dev_err(&pdev->dev, "[nvidia-drm] failed to register the DRM device: %d\n", r);
}

static void nvdrm_gpu_added(struct pci_dev *pdev, unsigned int index)
{
        mutex_lock(&nvdrm_lock);
        nvdrm_add(pdev, index);
        mutex_unlock(&nvdrm_lock);
}

static void nvdrm_gpu_removing(struct pci_dev *pdev, unsigned int index)
{
        mutex_lock(&nvdrm_lock);
        nvdrm_remove(index);
        mutex_unlock(&nvdrm_lock);
}

static const struct nvsim_gpu_listener nvdrm_listener = {
        .added = nvdrm_gpu_added,
        .removing = nvdrm_gpu_removing,
};

static int __init nvdrm_init(void)
{
        struct pci_dev *pdev;
        unsigned int i;

        if (modeset)
                nvdrm_driver.driver_features |= DRIVER_MODESET | DRIVER_ATOMIC;
        if (nvsim_hotplug)
                return nvsim_kms_register_gpu_listener(&nvdrm_listener);
        /* Before 580.105, the GPUs nvidia.ko drives at this moment are all nvidia-drm ever sees. */
        for (i = 0; i < NVSIM_MAX_GPUS; i++) {
                pdev = nvsim_kms_gpu_pci_dev(i);
                if (pdev)
                        nvdrm_gpu_added(pdev, i);
        }
        return 0;
}

static void __exit nvdrm_exit(void)
{
        unsigned int i;

        if (nvsim_hotplug)
                nvsim_kms_unregister_gpu_listener();
        mutex_lock(&nvdrm_lock);
        for (i = 0; i < NVSIM_MAX_GPUS; i++)
                nvdrm_remove(i);
        mutex_unlock(&nvdrm_lock);
}

module_init(nvdrm_init);
module_exit(nvdrm_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gpu-handover test simulator of NVIDIA's nvidia-drm.ko");
MODULE_VERSION(NVSIM_VERSION);
MODULE_SOFTDEP("pre: drm_shmem_helper");
