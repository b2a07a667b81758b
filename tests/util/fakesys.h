/* A fake sysfs (and a little procfs and /dev) laid out like the kernel's, under a fresh temporary root,
 * for tests of code that takes a ROOT argument.
 *
 * Every builder call fails the running cmocka test (fail_msg) when it cannot do its job, so callers need
 * not check results. Create the tree in a cmocka setup function and free it in the teardown: the tree
 * is then removed even when the test fails.
 *
 *   static int setup(void **state) { *state = fakesys_new(); return 0; }
 *   static int teardown(void **state) { fakesys_free(*state); return 0; }
 *   ...
 *   fakesys *fs = *state;
 *   fakesys_add_driver(fs, "nvidia", "nvidia");
 *   fakesys_add_dev(fs, "0000:01:00.0", 0x030000, 0x10de, 0x1b80, 1);
 *   fakesys_bind(fs, "0000:01:00.0", "nvidia");
 *   gh_pci_read_dev(fakesys_root(fs), ...);
 *
 * Layout (ROOT is fakesys_root(), ADDR a full address such as 0000:01:00.0):
 *   ROOT/sys/devices/pciDDDD:BB/ADDR/  class vendor device subsystem_vendor subsystem_device modalias
 *                                      driver_override boot_vga (VGA class only)
 *                                      driver -> ../../../bus/pci/drivers/NAME        (when bound)
 *                                      iommu_group -> ../../../kernel/iommu_groups/N  (when in a group)
 *                                      drm/cardN drm/renderDN graphics/fbN sound/cardN/...
 *                                      vfio-dev/vfioN                                 (its VFIO cdev)
 *   ROOT/sys/bus/pci/devices/ADDR -> ../../../devices/pciDDDD:BB/ADDR
 *   ROOT/sys/bus/pci/drivers/NAME/     bind unbind new_id remove_id, ADDR -> the device,
 *                                      module -> ../../../../module/MOD   (absent: built in)
 *   ROOT/sys/bus/pci/drivers_probe, drivers_autoprobe, rescan
 *   ROOT/sys/kernel/iommu_groups/N/devices/ADDR -> the device
 *   ROOT/sys/module/MOD/               initstate ("live"), refcnt, holders/HOLDER -> ../../HOLDER,
 *                                      srcversion, parameters/PARAM               (fake-modfile.h)
 *   ROOT/lib/modules/RELEASE/          module files and depmod's indexes of them  (fake-modfile.h)
 *   ROOT/proc/driver/nvidia/gpus/ADDR/information   (fakesys_set_nvidia_minor)
 *   ROOT/dev/vfio/N                    while a function of group N is bound to vfio-pci
 *   ROOT/dev/vfio/devices/vfioN        a function's VFIO cdev (fakesys_add_vfio_cdev)
 *   ROOT/fake-kernel/                  the fake kernel's own state, in no kernel's view:
 *       ids/NAME            the ids driver NAME matches, one "vvvv dddd" (hex) line each
 *       block-unbind/ADDR   present: writing ADDR to any driver's unbind blocks forever
 *       locked/ADDR         such an unbind holds ADDR's device lock: every later write about ADDR blocks
 *
 * The files are plain files: reading them works anywhere. Writing to bind, unbind, new_id, remove_id,
 * driver_override and drivers_probe acts like the kernel only when the test runs under the fake-kernel
 * preload (tests/preload/fake-kernel.c; see gh_test_use_fake_kernel() in tests/unit/test-pci.cmake),
 * which needs the tree under $GH_FAKE_KERNEL_ROOT: fakesys_new() creates it there when that is set. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "shared/macro.h"

typedef struct fakesys fakesys;

/* An empty tree with the bus, module and iommu_groups directories in place. */
fakesys *fakesys_new(void);
/* Removes the whole tree. NULL is fine. Returns NULL. */
fakesys *fakesys_free(fakesys *fs);
DEFINE_TRIVIAL_CLEANUP_FUNC(fakesys *, fakesys_free)

const char *fakesys_root(const fakesys *fs);
/* ROOT/rel, newly allocated. */
char *fakesys_path(const fakesys *fs, const char *rel);

/* A PCI function: class is 24 bits (0x030000 VGA, 0x040300 HDA), iommu_group -1 for none. ADDR may be
 * short (01:00.0); the tree always uses the full form. Not bound, no override, boot_vga 0. */
void fakesys_add_dev(fakesys *fs, const char *addr, unsigned class, unsigned vendor, unsigned device,
                     int iommu_group);
void fakesys_set_boot_vga(fakesys *fs, const char *addr, bool boot_vga);
/* A PCI driver; module NULL for a built-in one, else the module (see fakesys_add_module) providing it. */
void fakesys_add_driver(fakesys *fs, const char *name, const char *module);
/* Makes driver name match vendor:device, as its id table or a write to new_id would. */
void fakesys_add_driver_id(fakesys *fs, const char *name, unsigned vendor, unsigned device);
/* Binds as if at boot: no matching rules. Binding to vfio-pci creates ROOT/dev/vfio/GROUP. */
void fakesys_bind(fakesys *fs, const char *addr, const char *driver);
/* A loaded module (initstate live, refcnt 0); nothing happens when it exists already. */
void fakesys_add_module(fakesys *fs, const char *name);
/* Module holder uses module name (both are created as needed). */
void fakesys_add_module_holder(fakesys *fs, const char *name, const char *holder);

/* ADDR/drm/NAME: "card0", "renderD128" (any name: the reader must filter). */
void fakesys_add_drm(fakesys *fs, const char *addr, const char *name);
/* ADDR/graphics/fbN */
void fakesys_add_fb(fakesys *fs, const char *addr, unsigned n);
/* ADDR/sound/cardN with the given entries ("controlC1", "pcmC1D3p", "hwC1D0", ...) and NULL after the
 * last; the card also gets the id, number and power entries every card has. */
void fakesys_add_sound(fakesys *fs, const char *addr, unsigned card, ...) __attribute__((sentinel));
/* ADDR/vfio-dev/vfioN and ROOT/dev/vfio/devices/vfioN: the function's VFIO cdev, which vfio-pci adds
 * (on kernels with VFIO cdevs) next to the group's node; iommufd users such as QEMU open it. */
void fakesys_add_vfio_cdev(fakesys *fs, const char *addr, unsigned n);
/* i2c adapter i2c-N of ADDR (DDC, DP AUX), with its i2c-dev entry and ROOT/sys/bus/i2c/devices/i2c-N:
 * right under the function when under is NULL, else under ADDR/UNDER ("drm/card1/card1-DP-1", where
 * drm_dp_aux_register() puts AUX adapters). */
void fakesys_add_i2c(fakesys *fs, const char *addr, const char *under, unsigned n);
/* ROOT/dev/nvidia-caps/nvidia-capN, as nvidia-modprobe creates it for MIG and other capabilities. */
void fakesys_add_nvidia_cap(fakesys *fs, unsigned n);
/* ROOT/proc/driver/nvidia/gpus/ADDR/information, as the nvidia driver writes it. */
void fakesys_set_nvidia_minor(fakesys *fs, const char *addr, unsigned minor);
/* An (empty, regular) file at ROOT/NODE, for a device node that exists: "/dev/nvidiactl". */
void fakesys_add_node(fakesys *fs, const char *node);
/* ROOT/rel holding text, with mode (umask aside), its parent directories created: a config, a rule, a
 * /proc file. An existing file is overwritten. */
void fakesys_write(fakesys *fs, const char *rel, const char *text, mode_t mode);
/* Under the fake kernel, unbinding ADDR then blocks forever, as a busy driver does in the kernel, and so
 * does every later write about ADDR and every read of its driver_override (the kernel's device lock stays
 * taken). */
void fakesys_block_unbind(fakesys *fs, const char *addr);
/* Under the fake kernel, ADDR's device lock is taken for good, as an unbind stuck earlier (by another
 * process, say) leaves it. */
void fakesys_lock_dev(fakesys *fs, const char *addr);

/* Reading back, for assertions. The driver bound to addr, NULL when none (newly allocated). */
char *fakesys_driver(const fakesys *fs, const char *addr);
/* First line of ROOT/rel without its newline, NULL when the file is absent (newly allocated). Read behind
 * the fake kernel's back: a locked device's driver_override does not block it. */
char *fakesys_read(const fakesys *fs, const char *rel);
/* The whole of ROOT/rel, the same way. */
char *fakesys_read_all(const fakesys *fs, const char *rel);
bool fakesys_exists(const fakesys *fs, const char *rel);
