/* PCI address parsing and printing. */
#include <errno.h>
#include <ctype.h>

#include "pci-addr.h"

static int parse_hex(const char **p, size_t max_digits, unsigned max, unsigned *ret)
{
        unsigned v = 0;
        size_t n = 0;

        while (isxdigit((unsigned char)**p)) {
                if (++n > max_digits)
                        return -EINVAL;
                char c = (char)tolower((unsigned char)**p);
                v = v * 16 + (unsigned)(isdigit((unsigned char)c) ? c - '0' : c - 'a' + 10);
                (*p)++;
        }
        if (n == 0 || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int expect(const char **p, char c)
{
        if (**p != c)
                return -EINVAL;
        (*p)++;
        return 0;
}

int gh_pci_addr_parse(const char *s, gh_pci_addr *ret)
{
        gh_pci_addr a = {};
        const char *p = s;
        unsigned first;

        if (!s || parse_hex(&p, 4, 0xffff, &first) < 0 || expect(&p, ':') < 0)
                return -EINVAL;
        /* Two colons mean the domain was given. */
        if (strchr(p, ':')) {
                a.domain = first;
                if (parse_hex(&p, 2, 0xff, &a.bus) < 0 || expect(&p, ':') < 0)
                        return -EINVAL;
        } else {
                if (first > 0xff || p - s > 3)
                        return -EINVAL;
                a.bus = first;
        }
        if (parse_hex(&p, 2, 0x1f, &a.slot) < 0 || expect(&p, '.') < 0 || parse_hex(&p, 1, 7, &a.func) < 0)
                return -EINVAL;
        if (*p)
                return -EINVAL;
        *ret = a;
        return 0;
}

bool gh_pci_addr_valid(const gh_pci_addr *a)
{
        return a->domain <= 0xffff && a->bus <= 0xff && a->slot <= 0x1f && a->func <= 7;
}

char *gh_pci_addr_format(const gh_pci_addr *a, char *buf)
{
        snprintf(buf, GH_PCI_ADDR_MAX, "%04x:%02x:%02x.%x", a->domain & 0xffff, a->bus & 0xff, a->slot & 0x1f,
                 a->func & 7);
        return buf;
}

bool gh_pci_addr_eq(const gh_pci_addr *a, const gh_pci_addr *b)
{
        return gh_pci_addr_same_slot(a, b) && a->func == b->func;
}

bool gh_pci_addr_same_slot(const gh_pci_addr *a, const gh_pci_addr *b)
{
        return a->domain == b->domain && a->bus == b->bus && a->slot == b->slot;
}
