/* `gpu-handover hook qemu DOMAIN OP SUBOP EXTRA`, as libvirt runs it (through the hook entry).
 * stdout is libvirt's (it reads XML there for migrate and restore): nothing is printed to it.
 * stderr gets one line on failure, which libvirt shows to the user. */
#include <errno.h>

#include "core/domxml.h"
#include "front.h"
#include "handover.h"
#include "host/log.h"
#include "shared/fileio.h"

static int hook_fail(const gh_error *err, int r)
{
        gh_log_full(LOG_ERR, 0, NULL, "%s", err->msg[0] ? err->msg : strerror(-r));
        fprintf(stderr, "gpu-handover: %s\n", err->msg[0] ? err->msg : strerror(-r));
        return GH_EXIT_FAILURE;
}

static int hook_prepare(gh_context *ctx, const char *domain)
{
        _cleanup_free_ char *xml = NULL;
        gh_error err = {};
        size_t len = 0;
        int r;

        r = read_full_fd(STDIN_FILENO, GH_DOMXML_MAX, &xml, &len);
        if (r < 0) {
                gh_error_set(&err, r, "domain '%s': cannot read the domain XML on stdin: %s", domain,
                             r == -EFBIG ? "larger than 4 MiB" : strerror(-r));
                return hook_fail(&err, r);
        }
        r = gh_handover_prepare(ctx->root, domain, xml, len, &err);
        return r < 0 ? hook_fail(&err, r) : GH_EXIT_OK;
}

static int hook_release(gh_context *ctx, const char *domain)
{
        gh_error err = {};
        int r = gh_handover_release(ctx->root, domain, &err);

        return r < 0 ? hook_fail(&err, r) : GH_EXIT_OK;
}

int gh_cmd_hook(gh_context *ctx, int argc, char *argv[])
{
        const char *domain, *op, *subop;

        /* stdout stays libvirt's: point it at nothing so no library can write there by mistake. */
        if (!freopen("/dev/null", "w", stdout))
                return GH_EXIT_FAILURE;
        gh_log_setup(GH_LOG_JOURNAL, LOG_INFO);
        if (argc < 5 || !streq(argv[1], "qemu")) {
                fprintf(stderr, "gpu-handover: usage: hook qemu DOMAIN OP SUBOP [EXTRA]\n");
                return GH_EXIT_USAGE;
        }
        domain = argv[2];
        op = argv[3];
        subop = argv[4];
        if (streq(op, "prepare") && streq(subop, "begin"))
                return hook_prepare(ctx, domain);
        if (streq(op, "release") && streq(subop, "end"))
                return hook_release(ctx, domain);
        return GH_EXIT_OK;
}
