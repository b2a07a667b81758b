/* A PCI driver's remove may wait for the device's users with no timeout, in D state: an unbind then never
 * returns, cannot be killed, and keeps the device locked until the next boot. The users that processes
 * are (their open device nodes) the hand-over ends first; the ones that are kernel modules it cannot end
 * without unloading them, which it does only when the driver drives no device that stays on the host. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "unbind-wait.h"

typedef struct waiting_driver {
        const char *driver; /* the PCI driver whose remove waits */
        const char *user;   /* a module that, loaded on top of the driver's module, uses each device */
        const char *param;  /* ...while this parameter of it is Y */
} waiting_driver;

/* nvidia: nv_pci_remove() sleeps in a loop while the GPU's usage count is not zero (kernel-open/nvidia/
 * nv-pci.c). nvidia-modeset's remove callback does not close its clients ("all NVKMS clients must be
 * closed before a device is removed"), and nvidia_drm with modeset=Y is one, on every GPU it drives, for
 * as long as it is loaded. nvidia_uvm uses a GPU only for a process that does, which holds the GPU's
 * /dev/nvidiaN too: such holders are ended before the unbind. bochs, snd_hda_intel and the other drivers
 * in the kernel tree never wait in remove. */
static const waiting_driver waiting_drivers[] = {
        {"nvidia", "nvidia_drm", "modeset"},
};

/* The parameter's value, or "unknown" when it could not be read (nvidia_drm's is root's only): taken as
 * Y, since an unbind that hangs is the worse mistake. */
static bool user_holds(const gh_module *user, const char *param, const char **ret_value)
{
        const char *v = gh_module_param(user, param);

        *ret_value = v ? v : "unknown";
        return !v || streq(v, "Y") || streq(v, "1");
}

static const waiting_driver *find_waiting(const gh_pci_dev *d)
{
        for (size_t i = 0; i < ELEMENTSOF(waiting_drivers); i++)
                if (streq_ptr(d->driver, waiting_drivers[i].driver))
                        return &waiting_drivers[i];
        return NULL;
}

/* What to do instead. At boot the claim rules should have reserved the GPU before the driver bound it:
 * this one was bound all the same, so they were missing (or the initramfs loaded the driver first). */
static int instead(const waiting_driver *w, const gh_pci_dev *d, const char *other_addr, bool at_boot,
                   char **ret)
{
        int r;

        if (at_boot)
                r = asprintf(ret,
                             "the claim rules keep '%s' off the GPU at boot: write them with 'gpu-handover "
                             "claim-boot --write-rules' (and rebuild the initramfs if it loads '%s')",
                             d->driver, d->driver);
        else
                r = asprintf(ret, "hand over every GPU '%s' drives%s%s%s, or claim this one at boot "
                                  "(claim_at_boot = yes) before '%s' loads",
                             d->driver, other_addr ? " (" : "", strempty(other_addr), other_addr ? " too)" : "",
                             w->user);
        return r < 0 ? -ENOMEM : 0;
}

static int refuse(const waiting_driver *w, const char *value, const char *domain, const gh_pci_dev *d,
                  const char *other_addr, bool at_boot, gh_error *err)
{
        _cleanup_free_ char *hint = NULL;

        if (instead(w, d, other_addr, at_boot, &hint) < 0)
                return -ENOMEM;
        return gh_error_set(err, -EDEADLK,
                            "domain '%s': unbinding %s alone from '%s' would never finish: its remove waits "
                            "until nothing uses the GPU, and '%s' (%s=%s) uses every GPU '%s' drives while it "
                            "is loaded; %s",
                            domain, GH_PCI_ADDR_STR(&d->addr), d->driver, w->user, w->param, value, d->driver,
                            hint);
}

int gh_unbind_check_wait(const gh_facts *f, const char *domain, const gh_pci_dev *d, const char *other_addr,
                         bool at_boot, gh_error *err)
{
        const waiting_driver *w = find_waiting(d);
        const gh_module *user = w ? gh_facts_find_module(f, w->user) : NULL;
        const char *value = NULL;

        if (!user || !d->module || !gh_facts_module_sits_on(f, w->user, d->module) ||
            !user_holds(user, w->param, &value))
                return 0;
        return refuse(w, value, domain, d, other_addr, at_boot, err);
}
