/* Config text: any bytes give a policy or one error naming FILE:LINE. A file applies whole or not at all,
 * applying it twice changes nothing, and an accepted policy survives the round trip through
 * gh_policy_format(): parse(format(p)) == p, and formatting that again gives the same text. */
#include <errno.h>

#include "core/config.h"
#include "fuzz.h"

#define FILENAME "fuzz.conf"

static bool devices_equal(const gh_policy *a, const gh_policy *b)
{
        if (a->devices_auto != b->devices_auto || a->n_devices != b->n_devices)
                return false;
        for (size_t i = 0; i < a->n_devices; i++)
                if (!gh_pci_addr_eq(&a->devices[i], &b->devices[i]))
                        return false;
        return true;
}

static bool policy_equal(const gh_policy *a, const gh_policy *b)
{
        return devices_equal(a, b) && a->display_manager == b->display_manager &&
               a->restart_display_manager == b->restart_display_manager &&
               a->unload_auto == b->unload_auto && fuzz_strv_equal(a->unload_modules, b->unload_modules) &&
               fuzz_strv_equal(a->stop_units, b->stop_units) && a->holders == b->holders &&
               a->holders_grace_sec == b->holders_grace_sec && a->timeout_sec == b->timeout_sec &&
               a->interface_hostdevs == b->interface_hostdevs && a->claim_at_boot == b->claim_at_boot;
}

/* parse(format(p)) == p, and format() is stable. */
static void check_round_trip(const gh_policy *p)
{
        _cleanup_free_ char *text = NULL, *again = NULL;
        _cleanup_(gh_policy_done) gh_policy q;
        gh_error err = {};

        fuzz_check(gh_policy_format(p, &text) == 0);
        gh_policy_init(&q);
        if (gh_config_parse(&q, text, "formatted", &err) < 0) {
                fprintf(stderr, "%s\n%s", err.msg, text);
                fuzz_fail("the formatted policy parses", __FILE__, __LINE__);
        }
        fuzz_check(policy_equal(p, &q));
        fuzz_check(gh_policy_format(&q, &again) == 0);
        fuzz_check(streq(text, again));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *text = fuzz_strndup(data, size);
        _cleanup_(gh_policy_done) gh_policy p, defaults;
        gh_error err = {};
        int r;

        gh_policy_init(&p);
        gh_policy_init(&defaults);
        r = gh_config_parse(&p, text, FILENAME, &err);
        if (r < 0) {
                fuzz_check(r == -EINVAL || r == -ENOMEM);
                fuzz_check(r == -ENOMEM || startswith(err.msg, FILENAME ":"));
                fuzz_check(policy_equal(&p, &defaults));
                return 0;
        }
        fuzz_check(!gh_error_isset(&err));
        check_round_trip(&p);
        /* Later keys override earlier ones: the same file over its own result is that result. */
        fuzz_check(gh_config_parse(&defaults, text, FILENAME, NULL) == 0);
        fuzz_check(gh_config_parse(&defaults, text, FILENAME, NULL) == 0);
        fuzz_check(policy_equal(&p, &defaults));
        return 0;
}
