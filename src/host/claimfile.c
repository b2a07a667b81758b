/* The claim rules file under ROOT/etc/udev/rules.d: written whole or not at all, since udevd reads it as
 * it is when it starts (and when its rules change). */
#include <errno.h>

#include "claimfile.h"
#include "etcfile.h"

#define RULES_MAX (1 << 20)

int gh_claim_file_read(const char *root, gh_pci_addr **ret, size_t *ret_n, gh_error *err)
{
        _cleanup_free_ char *text = NULL;
        int r = gh_etc_file_read(root, GH_CLAIM_RULES_DIR, GH_CLAIM_RULES_NAME, RULES_MAX, &text, err);

        if (r == -ENOENT) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        return r < 0 ? r : gh_claim_rules_parse(text, ret, ret_n);
}

int gh_claim_file_write(const char *root, const char *text, gh_error *err)
{
        return gh_etc_file_write(root, GH_CLAIM_RULES_DIR, GH_CLAIM_RULES_NAME, text, err);
}
