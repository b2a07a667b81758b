/* `gpu-handover status`: each display-class PCI function with its driver, IOMMU group and holders,
 * then the hand-overs recorded in journals. Reads only. */
#include <errno.h>

#include "front.h"
#include "host/holders.h"
#include "host/journal.h"
#include "host/pci.h"
#include "shared/strv.h"

static void print_group(const gh_pci_dev *devs, size_t n, int group)
{
        printf("    IOMMU group: ");
        if (group < 0) {
                printf("none (is the IOMMU enabled?)\n");
                return;
        }
        printf("%d:", group);
        for (size_t i = 0; i < n; i++)
                if (devs[i].iommu_group == group)
                        printf(" %s (%s)", GH_PCI_ADDR_STR(&devs[i].addr), devs[i].driver ? devs[i].driver : "no driver");
        printf("\n");
}

static void print_holders(const char *root, const gh_pci_dev *d)
{
        gh_holder *h = NULL;
        size_t n = 0;

        if (!d->nodes || gh_holders_scan(root, d->nodes, &h, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++)
                printf("    held by pid %d (%s): %s%s%s%s%s\n", (int)h[i].pid, strempty(h[i].comm), h[i].node,
                       h[i].unit ? ", unit " : "", strempty(h[i].unit), h[i].session ? ", session " : "",
                       strempty(h[i].session));
        gh_holders_free(h, n);
}

static void print_gpus(const char *root, const gh_pci_dev *devs, size_t n)
{
        size_t shown = 0;

        printf("Display devices:\n");
        for (size_t i = 0; i < n; i++) {
                const gh_pci_dev *d = &devs[i];

                if ((d->class >> 16) != GH_PCI_CLASS_DISPLAY)
                        continue;
                shown++;
                printf("  %s  %04x:%04x  driver %s%s\n", GH_PCI_ADDR_STR(&d->addr), d->vendor, d->device,
                       d->driver ? d->driver : "(none)", d->boot_vga ? "  boot VGA" : "");
                print_group(devs, n, d->iommu_group);
                print_holders(root, d);
        }
        if (!shown)
                printf("  (none)\n");
}

static void print_handovers(const char *root)
{
        _cleanup_strv_free_ char **domains = NULL;

        printf("\nHand-overs recorded in " GH_RUN_DIR ":\n");
        if (gh_journal_list(root, &domains) < 0 || !domains || !domains[0]) {
                printf("  (none)\n");
                return;
        }
        STRV_FOREACH (dom, domains) {
                gh_step *steps = NULL;
                size_t n = 0, bound = 0;
                gh_error err = {};

                if (gh_journal_read(root, *dom, &steps, &n, &err) < 0) {
                        printf("  %s: unreadable journal: %s\n", *dom, err.msg);
                        continue;
                }
                printf("  %s: %zu step(s) done;", *dom, n);
                for (size_t i = 0; i < n; i++)
                        if (steps[i].kind == GH_STEP_BIND_VFIO) {
                                printf(" %s", steps[i].addr);
                                bound++;
                        }
                printf(" %s\n", bound ? "on vfio-pci" : "nothing bound to vfio-pci yet");
                gh_steps_free(steps, n);
        }
}

int gh_cmd_status(gh_context *ctx, int argc, char *argv[])
{
        gh_pci_dev *devs = NULL;
        size_t n = 0;
        int r;

        if (argc != 1) {
                fprintf(stderr, "gpu-handover: usage: status\n");
                return GH_EXIT_USAGE;
        }
        r = gh_pci_list(ctx->root, &devs, &n);
        if (r < 0) {
                fprintf(stderr, "gpu-handover: cannot list PCI devices: %s\n", strerror(-r));
                return GH_EXIT_FAILURE;
        }
        print_gpus(ctx->root, devs, n);
        gh_pci_devs_free(devs, n);
        print_handovers(ctx->root);
        return GH_EXIT_OK;
}
