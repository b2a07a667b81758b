/* PCI addresses: parsed from config and domain XML, printed in full as 0000:01:00.0. */
#pragma once

#include "shared/macro.h"

#define GH_PCI_ADDR_MAX sizeof("ffff:ff:1f.7")

typedef struct gh_pci_addr {
        unsigned domain; /* 0..0xffff */
        unsigned bus;    /* 0..0xff */
        unsigned slot;   /* 0..0x1f */
        unsigned func;   /* 0..7 */
} gh_pci_addr;

/* Accepts "DDDD:BB:SS.F" and "BB:SS.F" (domain 0), hex, case-insensitive. -EINVAL otherwise. */
int gh_pci_addr_parse(const char *s, gh_pci_addr *ret);
/* Checks ranges (as libvirt's XML gives the parts one by one). */
bool gh_pci_addr_valid(const gh_pci_addr *a);
/* Writes "dddd:bb:ss.f" into buf, which holds GH_PCI_ADDR_MAX bytes. Returns buf. */
char *gh_pci_addr_format(const gh_pci_addr *a, char *buf);
bool gh_pci_addr_eq(const gh_pci_addr *a, const gh_pci_addr *b);
bool gh_pci_addr_same_slot(const gh_pci_addr *a, const gh_pci_addr *b);

/* A compound literal buffer, for use in printf arguments. */
#define GH_PCI_ADDR_STR(a) gh_pci_addr_format((a), (char[GH_PCI_ADDR_MAX]){})
