/* The claim rules file. Why a udev rule: udev writes an ATTR{} assignment while it processes the rules of
 * an event, and runs RUN (80-drivers.rules' `kmod load` of the device's modalias among them) only after
 * all rules are processed; coldplug (systemd-udev-trigger: udevadm trigger --action=add) replays an add
 * event for every device the kernel found before udev ran. So driver_override says vfio-pci before the
 * device's own event loads a host driver, and no driver but vfio-pci binds it from then on. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "claim-rules.h"
#include "shared/printable.h"

#define END_LABEL "gpu_handover_claim_end"
#define RULE_START "KERNEL==\""

static bool has_rule(const gh_claim_rule *rules, size_t n, const gh_pci_addr *a)
{
        for (size_t i = 0; i < n; i++)
                if (gh_pci_addr_eq(&rules[i].addr, a))
                        return true;
        return false;
}

int gh_claim_rules_add(gh_claim_rule **rules, size_t *n, const gh_plan *plan)
{
        for (size_t i = 0; plan->claim && i < plan->n_devices; i++) {
                gh_claim_rule *v;

                if (has_rule(*rules, *n, &plan->devices[i]))
                        continue;
                v = realloc(*rules, sizeof(gh_claim_rule) * (*n + 1));
                if (!v)
                        return -ENOMEM;
                *rules = v;
                v[*n] = (gh_claim_rule){.addr = plan->devices[i],
                                        .vendor = plan->claim[i].vendor,
                                        .device = plan->claim[i].device,
                                        .domain = strdup(plan->domain)};
                if (!v[*n].domain)
                        return -ENOMEM;
                (*n)++;
        }
        return 0;
}

void gh_claim_rules_free(gh_claim_rule *rules, size_t n)
{
        for (size_t i = 0; rules && i < n; i++)
                free(rules[i].domain);
        free(rules);
}

int gh_claim_rules_format(const gh_claim_rule *rules, size_t n, char **ret)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f;

        if (n == 0) {
                *ret = NULL;
                return 0;
        }
        f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        fputs("# Written by gpu-handover claim-boot from the domains libvirt starts at boot whose config "
              "says\n"
              "# claim_at_boot = yes; it writes this file anew at each boot and with --write-rules.\n"
              "# Each function's own add event (coldplug replays one) sets its driver_override to vfio-pci\n"
              "# before 80-drivers.rules' RUN loads a driver for it: no host driver binds it.\n"
              "ACTION!=\"add\", GOTO=\"" END_LABEL "\"\n"
              "SUBSYSTEM!=\"pci\", GOTO=\"" END_LABEL "\"\n",
              f);
        for (size_t i = 0; i < n; i++)
                fprintf(f,
                        "# domain '%s'\n" RULE_START
                        "%s\", ATTR{vendor}==\"0x%04x\", ATTR{device}==\"0x%04x\", "
                        "ATTR{driver_override}=\"vfio-pci\"\n",
                        GH_PRINTABLE(rules[i].domain), GH_PCI_ADDR_STR(&rules[i].addr), rules[i].vendor,
                        rules[i].device);
        fputs("LABEL=\"" END_LABEL "\"\n", f);
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}

int gh_claim_rules_parse(const char *text, gh_pci_addr **ret, size_t *ret_n)
{
        size_t lines = 1, n = 0;
        gh_pci_addr *v;

        for (const char *p = strchr(text, '\n'); p; p = strchr(p + 1, '\n'))
                lines++;
        /* At most one rule a line. */
        v = calloc(lines, sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (const char *line = text; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
                char buf[GH_PCI_ADDR_MAX] = {};
                const char *a = startswith(line, RULE_START) ? line + strlen(RULE_START) : NULL;
                const char *end = a ? strchr(a, '"') : NULL;

                if (end && (size_t)(end - a) < sizeof(buf)) {
                        memcpy(buf, a, end - a);
                        n += gh_pci_addr_parse(buf, &v[n]) >= 0;
                }
        }
        *ret = v;
        *ret_n = n;
        return 0;
}
