// SPDX-License-Identifier: GPL-2.0
/* The simulator's nvidia-uvm.ko: /dev/nvidia-uvm on a major of its own; an open of it pins this module
 * (the file's owner) and nvidia.ko, as a CUDA process's does (see README.md). */
#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/module.h>

#include "nvsim.h"

static dev_t uvm_devt;
static struct cdev uvm_cdev;
static struct class *uvm_class;

static int uvm_open(struct inode *inode, struct file *file)
{
        return nvsim_module_get();
}

static int uvm_release(struct inode *inode, struct file *file)
{
        nvsim_module_put();
        return 0;
}

static const struct file_operations uvm_fops = {
        .owner = THIS_MODULE,
        .open = uvm_open,
        .release = uvm_release,
        .llseek = noop_llseek,
};

static char *uvm_devnode(struct device *dev, umode_t *mode)
{
        if (mode)
                *mode = 0666;
        return NULL;
}

static int __init uvm_init(void)
{
        struct device *node;
        int r;

        /* Minor 0 is /dev/nvidia-uvm; the real module keeps minor 1 for /dev/nvidia-uvm-tools. */
        r = alloc_chrdev_region(&uvm_devt, 0, 2, "nvidia-uvm");
        if (r)
                return r;
        cdev_init(&uvm_cdev, &uvm_fops);
        uvm_cdev.owner = THIS_MODULE;
        r = cdev_add(&uvm_cdev, uvm_devt, 1);
        if (r)
                goto fail_region;
        uvm_class = class_create(THIS_MODULE, "nvidia-uvm");
        r = PTR_ERR_OR_ZERO(uvm_class);
        if (r)
                goto fail_cdev;
        uvm_class->devnode = uvm_devnode;
        node = device_create(uvm_class, NULL, uvm_devt, NULL, "nvidia-uvm");
        r = PTR_ERR_OR_ZERO(node);
        if (r)
                goto fail_class;
        return 0;
fail_class:
        class_destroy(uvm_class);
fail_cdev:
        cdev_del(&uvm_cdev);
fail_region:
        unregister_chrdev_region(uvm_devt, 2);
        return r;
}

static void __exit uvm_exit(void)
{
        device_destroy(uvm_class, uvm_devt);
        class_destroy(uvm_class);
        cdev_del(&uvm_cdev);
        unregister_chrdev_region(uvm_devt, 2);
}

module_init(uvm_init);
module_exit(uvm_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gpu-handover test simulator of NVIDIA's nvidia-uvm.ko");
MODULE_VERSION(NVSIM_VERSION);
