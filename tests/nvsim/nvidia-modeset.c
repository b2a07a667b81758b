// SPDX-License-Identifier: GPL-2.0
/* The simulator's nvidia-modeset.ko: /dev/nvidia-modeset (195:254), and the hold on a GPU that the mode
 * setting core keeps for nvidia-drm while nvidia-drm runs with modeset=1 (see README.md). */
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/module.h>

#include "nvsim.h"
#include "nvidia-modeset.h"

static struct class *nvkms_class;

struct pci_dev *nvsim_kms_gpu_pci_dev(unsigned int index)
{
        return nvsim_gpu_pci_dev(index);
}
EXPORT_SYMBOL(nvsim_kms_gpu_pci_dev);

int nvsim_kms_register_gpu_listener(const struct nvsim_gpu_listener *l)
{
        return nvsim_register_gpu_listener(l);
}
EXPORT_SYMBOL(nvsim_kms_register_gpu_listener);

void nvsim_kms_unregister_gpu_listener(void)
{
        nvsim_unregister_gpu_listener();
}
EXPORT_SYMBOL(nvsim_kms_unregister_gpu_listener);

/* What nvidia-drm asks of the mode setting core for each GPU it drives with modeset=1. */
int nvsim_kms_grab_gpu(unsigned int index)
{
        return nvsim_gpu_get(index);
}
EXPORT_SYMBOL(nvsim_kms_grab_gpu);

void nvsim_kms_release_gpu(unsigned int index)
{
        nvsim_gpu_put(index);
}
EXPORT_SYMBOL(nvsim_kms_release_gpu);

static int nvkms_open(struct inode *inode, struct file *file)
{
        return 0;
}

static const struct file_operations nvkms_fops = {
        .owner = THIS_MODULE,
        .open = nvkms_open,
        .llseek = noop_llseek,
};

static char *nvkms_devnode(struct device *dev, umode_t *mode)
{
        if (mode)
                *mode = 0666;
        return NULL;
}

static int __init nvkms_init(void)
{
        struct device *node;
        int r;

        r = __register_chrdev(NVSIM_MAJOR, NVSIM_MODESET_MINOR, 1, "nvidia-modeset", &nvkms_fops);
        if (r < 0)
                return r;
        nvkms_class = class_create(THIS_MODULE, "nvidia-modeset");
        r = PTR_ERR_OR_ZERO(nvkms_class);
        if (r)
                goto fail_chrdev;
        nvkms_class->devnode = nvkms_devnode;
        node = device_create(nvkms_class, NULL, MKDEV(NVSIM_MAJOR, NVSIM_MODESET_MINOR), NULL,
                             "nvidia-modeset");
        r = PTR_ERR_OR_ZERO(node);
        if (r)
                goto fail_class;
        return 0;
fail_class:
        class_destroy(nvkms_class);
fail_chrdev:
        __unregister_chrdev(NVSIM_MAJOR, NVSIM_MODESET_MINOR, 1, "nvidia-modeset");
        return r;
}

static void __exit nvkms_exit(void)
{
        device_destroy(nvkms_class, MKDEV(NVSIM_MAJOR, NVSIM_MODESET_MINOR));
        class_destroy(nvkms_class);
        __unregister_chrdev(NVSIM_MAJOR, NVSIM_MODESET_MINOR, 1, "nvidia-modeset");
}

module_init(nvkms_init);
module_exit(nvkms_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gpu-handover test simulator of NVIDIA's nvidia-modeset.ko");
MODULE_VERSION(NVSIM_VERSION);
