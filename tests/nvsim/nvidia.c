// SPDX-License-Identifier: GPL-2.0
/* The simulator's nvidia.ko: a PCI driver named "nvidia" for QEMU's qxl device that behaves, towards the
 * host, the way NVIDIA's base driver does (see README.md): no GPU, no module; /dev/nvidiaN and
 * /dev/nvidiactl on major 195; a DDC i2c adapter per GPU; a PCI remove that waits while the GPU is used. */
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/i2c.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "nvsim.h"

/* Writable at run time, so that a test can end a remove it left hanging. */
static bool nvsim_remove_hangs;
module_param(nvsim_remove_hangs, bool, 0644);
MODULE_PARM_DESC(nvsim_remove_hangs,
                 "Simulator: PCI remove waits while this is set, even when the GPU is unused");

struct nvsim_gpu {
        struct pci_dev *pdev;
        unsigned int index;
        atomic_t usage;
        bool removing;
        struct device *node;
        struct i2c_adapter ddc;
};

/* The mutex orders probe, remove and the listener; the spinlock guards the table, so that a listener's
 * callback may pin a GPU. */
static DEFINE_MUTEX(nvsim_lock);
static DEFINE_SPINLOCK(nvsim_gpus_lock);
static struct nvsim_gpu *nvsim_gpus[NVSIM_MAX_GPUS];
static const struct nvsim_gpu_listener *nvsim_listener;
static unsigned int nvsim_probed;
static struct class *nvsim_class;
static struct device *nvsim_ctl_node;

struct pci_dev *nvsim_gpu_pci_dev(unsigned int index)
{
        struct nvsim_gpu *gpu = index < NVSIM_MAX_GPUS ? nvsim_gpus[index] : NULL;

        return gpu ? gpu->pdev : NULL;
}
EXPORT_SYMBOL(nvsim_gpu_pci_dev);

int nvsim_gpu_get(unsigned int index)
{
        int r = -ENODEV;

        spin_lock(&nvsim_gpus_lock);
        if (index < NVSIM_MAX_GPUS && nvsim_gpus[index] && !nvsim_gpus[index]->removing) {
                atomic_inc(&nvsim_gpus[index]->usage);
                r = 0;
        }
        spin_unlock(&nvsim_gpus_lock);
        return r;
}
EXPORT_SYMBOL(nvsim_gpu_get);

void nvsim_gpu_put(unsigned int index)
{
        /* A remove in progress keeps the entry until the count is zero, so no lock is needed. */
        if (index < NVSIM_MAX_GPUS && nvsim_gpus[index])
                atomic_dec(&nvsim_gpus[index]->usage);
}
EXPORT_SYMBOL(nvsim_gpu_put);

int nvsim_module_get(void)
{
        return try_module_get(THIS_MODULE) ? 0 : -ENODEV;
}
EXPORT_SYMBOL(nvsim_module_get);

void nvsim_module_put(void)
{
        module_put(THIS_MODULE);
}
EXPORT_SYMBOL(nvsim_module_put);

int nvsim_register_gpu_listener(const struct nvsim_gpu_listener *l)
{
        unsigned int i;
        int r = 0;

        mutex_lock(&nvsim_lock);
        if (nvsim_listener) {
                r = -EBUSY;
                goto out;
        }
        nvsim_listener = l;
        for (i = 0; i < NVSIM_MAX_GPUS; i++)
                if (nvsim_gpus[i] && !nvsim_gpus[i]->removing && l->added)
                        l->added(nvsim_gpus[i]->pdev, i);
out:
        mutex_unlock(&nvsim_lock);
        return r;
}
EXPORT_SYMBOL(nvsim_register_gpu_listener);

void nvsim_unregister_gpu_listener(void)
{
        mutex_lock(&nvsim_lock);
        nvsim_listener = NULL;
        mutex_unlock(&nvsim_lock);
}
EXPORT_SYMBOL(nvsim_unregister_gpu_listener);

/* /dev/nvidiaN pins GPU N; /dev/nvidiactl pins no GPU, only the module (the file's owner). */
static int nvsim_open(struct inode *inode, struct file *file)
{
        unsigned int minor = iminor(inode);

        if (minor == NVSIM_CTL_MINOR)
                return 0;
        return nvsim_gpu_get(minor);
}

static int nvsim_release(struct inode *inode, struct file *file)
{
        unsigned int minor = iminor(inode);

        if (minor != NVSIM_CTL_MINOR)
                nvsim_gpu_put(minor);
        return 0;
}

static const struct file_operations nvsim_fops = {
        .owner = THIS_MODULE,
        .open = nvsim_open,
        .release = nvsim_release,
        .llseek = noop_llseek,
};

/* The nodes are world-usable, as nvidia-modprobe makes them. */
static char *nvsim_devnode(struct device *dev, umode_t *mode)
{
        if (mode)
                *mode = 0666;
        return NULL;
}

/* Nothing answers on the bus: no monitor is attached to a simulated GPU. */
static int nvsim_ddc_xfer(struct i2c_adapter *adap, struct i2c_msg *msgs, int num)
{
        return -EIO;
}

static u32 nvsim_ddc_functionality(struct i2c_adapter *adap)
{
        return I2C_FUNC_I2C;
}

static const struct i2c_algorithm nvsim_ddc_algo = {
        .master_xfer = nvsim_ddc_xfer,
        .functionality = nvsim_ddc_functionality,
};

static int nvsim_ddc_add(struct nvsim_gpu *gpu)
{
        struct pci_dev *pdev = gpu->pdev;

        gpu->ddc.owner = THIS_MODULE;
        gpu->ddc.algo = &nvsim_ddc_algo;
        gpu->ddc.dev.parent = &pdev->dev;
        snprintf(gpu->ddc.name, sizeof(gpu->ddc.name), "NVIDIA i2c adapter 1 at %x:%02x.%u",
                 pdev->bus->number, PCI_SLOT(pdev->devfn), PCI_FUNC(pdev->devfn));
        return i2c_add_adapter(&gpu->ddc);
}

static int nvsim_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
        struct nvsim_gpu *gpu;
        unsigned int i;
        int r;

        gpu = kzalloc(sizeof(*gpu), GFP_KERNEL);
        if (!gpu)
                return -ENOMEM;
        gpu->pdev = pdev;
        mutex_lock(&nvsim_lock);
        for (i = 0; i < NVSIM_MAX_GPUS && nvsim_gpus[i]; i++)
                ;
        r = -ENOSPC;
        if (i == NVSIM_MAX_GPUS)
                goto fail;
        gpu->index = i;
        gpu->node = device_create(nvsim_class, NULL, MKDEV(NVSIM_MAJOR, i), NULL, "nvidia%u", i);
        r = PTR_ERR_OR_ZERO(gpu->node);
        if (r)
                goto fail;
        r = nvsim_ddc_add(gpu);
        if (r) {
                device_destroy(nvsim_class, MKDEV(NVSIM_MAJOR, i));
                goto fail;
        }
        spin_lock(&nvsim_gpus_lock);
        nvsim_gpus[i] = gpu;
        spin_unlock(&nvsim_gpus_lock);
        nvsim_probed++;
        pci_set_drvdata(pdev, gpu);
        if (nvsim_listener && nvsim_listener->added)
                nvsim_listener->added(pdev, i);
        mutex_unlock(&nvsim_lock);
        dev_info(&pdev->dev, "NVRM: simulated GPU %u, /dev/nvidia%u\n", i, i);
        return 0;
fail:
        mutex_unlock(&nvsim_lock);
        kfree(gpu);
        return r;
}

/* Like the real remove: it cannot fail, so while the GPU is in use it sleeps, uninterruptibly, holding
 * the device lock, until the count is zero. */
static void nvsim_remove(struct pci_dev *pdev)
{
        struct nvsim_gpu *gpu = pci_get_drvdata(pdev);

        mutex_lock(&nvsim_lock);
        spin_lock(&nvsim_gpus_lock);
        gpu->removing = true;
        spin_unlock(&nvsim_gpus_lock);
        if (nvsim_listener && nvsim_listener->removing)
                nvsim_listener->removing(pdev, gpu->index);
        mutex_unlock(&nvsim_lock);

        if (atomic_read(&gpu->usage) != 0)
                dev_err(&pdev->dev, "NVRM: Attempting to remove device %s with non-zero usage count!\n",
                        pci_name(pdev));
        while (atomic_read(&gpu->usage) != 0 || READ_ONCE(nvsim_remove_hangs))
                msleep(500);

        mutex_lock(&nvsim_lock);
        i2c_del_adapter(&gpu->ddc);
        device_destroy(nvsim_class, MKDEV(NVSIM_MAJOR, gpu->index));
        spin_lock(&nvsim_gpus_lock);
        nvsim_gpus[gpu->index] = NULL;
        spin_unlock(&nvsim_gpus_lock);
        mutex_unlock(&nvsim_lock);
        pci_set_drvdata(pdev, NULL);
        kfree(gpu);
}

/* QEMU's qxl (1b36:0100, class 0x038000 when not the primary display): see README.md for why not 10de. */
static const struct pci_device_id nvsim_pci_ids[] = {
        {PCI_DEVICE(0x1b36, 0x0100)},
        {},
};
MODULE_DEVICE_TABLE(pci, nvsim_pci_ids);

static struct pci_driver nvsim_pci_driver = {
        .name = "nvidia",
        .id_table = nvsim_pci_ids,
        .probe = nvsim_probe,
        .remove = nvsim_remove,
};

/* With no GPU probed, the real module names the matching devices it was not called for, and those that
 * vfio-pci has, before it gives up. */
static void nvsim_report_unprobed(void)
{
        struct pci_dev *pdev = NULL;
        unsigned int n = 0;

        while ((pdev = pci_get_device(0x1b36, 0x0100, pdev))) {
                n++;
                if (pdev->dev.driver && !strcmp(pdev->dev.driver->name, "vfio-pci"))
                        pr_info("NVRM: GPU %s is already bound to vfio-pci.\n", pci_name(pdev));
        }
        if (n)
                pr_info("NVRM: The NVIDIA probe routine was not called for %u device(s).\n", n);
        pr_info("NVRM: No NVIDIA devices probed.\n");
}

static void nvsim_chrdev_unregister(void)
{
        __unregister_chrdev(NVSIM_MAJOR, NVSIM_CTL_MINOR, 1, "nvidiactl");
        __unregister_chrdev(NVSIM_MAJOR, 0, NVSIM_MAX_GPUS, "nvidia");
}

static int __init nvsim_init(void)
{
        int r;

        r = __register_chrdev(NVSIM_MAJOR, 0, NVSIM_MAX_GPUS, "nvidia", &nvsim_fops);
        if (r < 0)
                return r;
        r = __register_chrdev(NVSIM_MAJOR, NVSIM_CTL_MINOR, 1, "nvidiactl", &nvsim_fops);
        if (r < 0)
                goto fail_gpus;
        nvsim_class = class_create(THIS_MODULE, "nvidia");
        r = PTR_ERR_OR_ZERO(nvsim_class);
        if (r)
                goto fail_ctl;
        nvsim_class->devnode = nvsim_devnode;
        nvsim_ctl_node =
                device_create(nvsim_class, NULL, MKDEV(NVSIM_MAJOR, NVSIM_CTL_MINOR), NULL, "nvidiactl");
        r = PTR_ERR_OR_ZERO(nvsim_ctl_node);
        if (r)
                goto fail_class;
        r = pci_register_driver(&nvsim_pci_driver);
        if (r)
                goto fail_node;
        /* The probes ran synchronously in pci_register_driver. */
        if (nvsim_probed == 0) {
                nvsim_report_unprobed();
                pci_unregister_driver(&nvsim_pci_driver);
                r = -ENODEV;
                goto fail_node;
        }
        return 0;
fail_node:
        device_destroy(nvsim_class, MKDEV(NVSIM_MAJOR, NVSIM_CTL_MINOR));
fail_class:
        class_destroy(nvsim_class);
fail_ctl:
        __unregister_chrdev(NVSIM_MAJOR, NVSIM_CTL_MINOR, 1, "nvidiactl");
fail_gpus:
        __unregister_chrdev(NVSIM_MAJOR, 0, NVSIM_MAX_GPUS, "nvidia");
        return r;
}

static void __exit nvsim_exit(void)
{
        pci_unregister_driver(&nvsim_pci_driver);
        device_destroy(nvsim_class, MKDEV(NVSIM_MAJOR, NVSIM_CTL_MINOR));
        class_destroy(nvsim_class);
        nvsim_chrdev_unregister();
}

module_init(nvsim_init);
module_exit(nvsim_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gpu-handover test simulator of NVIDIA's nvidia.ko");
MODULE_VERSION(NVSIM_VERSION);
