/* The udev rules that reserve the claimed functions for vfio-pci at boot: made from claim plans, read back
 * for the addresses they reserved. Pure: text in, text out. */
#pragma once

#include <stddef.h>

#include "plan.h"

/* Rules in /etc/udev/rules.d reach an initramfs too: initramfs-tools' udev hook copies every one there
 * that has no namesake in /lib/udev/rules.d. */
#define GH_CLAIM_RULES_DIR "/etc/udev/rules.d"
#define GH_CLAIM_RULES_NAME "61-gpu-handover-claim.rules"
#define GH_CLAIM_RULES_PATH GH_CLAIM_RULES_DIR "/" GH_CLAIM_RULES_NAME

typedef struct gh_claim_rule {
        gh_pci_addr addr;
        unsigned vendor, device; /* the rule matches only this device at addr */
        char *domain;
} gh_claim_rule;

/* Adds a rule for each device of a claim plan (what it does with the device now does not matter: left on
 * the host this boot, it is reserved all the same the next); an address already there is not added twice. */
int gh_claim_rules_add(gh_claim_rule **rules, size_t *n, const gh_plan *plan);
void gh_claim_rules_free(gh_claim_rule *rules, size_t n);
/* The rules file's text; NULL when n is 0 (no file: nothing to reserve). */
int gh_claim_rules_format(const gh_claim_rule *rules, size_t n, char **ret);
/* The addresses a rules file of ours reserves, in its order; lines that are not our rules are skipped. */
int gh_claim_rules_parse(const char *text, gh_pci_addr **ret, size_t *ret_n);
