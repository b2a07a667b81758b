/* PCI addresses: the parser agrees with a plain reading of the documented grammar, what it accepts
 * prints in canonical form and parses back equal, and any four numbers print as a parsable address. */
#include <ctype.h>
#include <errno.h>

#include "core/pci-addr.h"
#include "fuzz.h"

/* One hex field of 1 to max_digits digits at *p, ended by end ('\0' for the last). */
static bool oracle_field(const char **p, size_t max_digits, char end, unsigned max, unsigned *ret)
{
        size_t n = strspn(*p, "0123456789abcdefABCDEF");

        if (n == 0 || n > max_digits || (*p)[n] != end)
                return false;
        *ret = (unsigned)strtoul(*p, NULL, 16);
        *p += n + (end != '\0');
        return *ret <= max;
}

/* "[DDDD:]BB:SS.F", hex, ranges as in the PCI spec. */
static bool oracle_parse(const char *s, gh_pci_addr *ret)
{
        const char *colon = strchr(s, ':');
        gh_pci_addr a = {};

        if (colon && strchr(colon + 1, ':') && !oracle_field(&s, 4, ':', 0xffff, &a.domain))
                return false;
        if (!oracle_field(&s, 2, ':', 0xff, &a.bus) || !oracle_field(&s, 2, '.', 0x1f, &a.slot) ||
            !oracle_field(&s, 1, '\0', 7, &a.func))
                return false;
        *ret = a;
        return true;
}

static void check_parse(const char *s)
{
        char canon[GH_PCI_ADDR_MAX];
        gh_pci_addr a, b, want;
        bool ok = gh_pci_addr_parse(s, &a) == 0;

        fuzz_check(ok == oracle_parse(s, &want));
        if (!ok)
                return;
        fuzz_check(gh_pci_addr_valid(&a) && gh_pci_addr_eq(&a, &want));
        gh_pci_addr_format(&a, canon);
        fuzz_check(strlen(canon) == GH_PCI_ADDR_MAX - 1);
        fuzz_check(gh_pci_addr_parse(canon, &b) == 0 && gh_pci_addr_eq(&a, &b));
        /* A full, lower-case address is its own canonical form. */
        fuzz_check(strlen(s) != GH_PCI_ADDR_MAX - 1 || streq(canon, s) || strpbrk(s, "ABCDEF"));
}

/* Out-of-range parts are masked, never written past the buffer. */
static void check_format(const uint8_t *data, size_t size)
{
        gh_pci_addr a = {}, b;
        char buf[GH_PCI_ADDR_MAX + 8];

        memcpy(&a, data, size < sizeof(a) ? size : sizeof(a));
        memset(buf, 'x', sizeof(buf));
        gh_pci_addr_format(&a, buf);
        fuzz_check(strlen(buf) == GH_PCI_ADDR_MAX - 1 && buf[GH_PCI_ADDR_MAX] == 'x');
        fuzz_check(gh_pci_addr_parse(buf, &b) == 0 && gh_pci_addr_valid(&b));
        fuzz_check(gh_pci_addr_eq(&a, &b) == gh_pci_addr_valid(&a));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *s = fuzz_strndup(data, size);

        check_parse(s);
        check_format(data, size);
        return 0;
}
