/* The journal's text apart from its file: a header naming the domain, then one step line each. */
#pragma once

#include "shared/error.h"
#include "step.h"

#define GH_JOURNAL_MAGIC "gpu-handover-journal 1"

/* The steps in len bytes of journal text for domain; path names the file in errors ("PATH:LINE: why").
 * Whatever follows the last newline is a torn write and is ignored. -EBADMSG for a NUL byte, a header
 * that is not this domain's, or a bad step line. With ret_skipped, a bad step line is skipped instead and
 * named there (strv, NULL when none); a NUL byte and the header are never skipped. */
int gh_journal_parse(const char *text, size_t len, const char *path, const char *domain, gh_step **ret,
                     size_t *ret_n, char ***ret_skipped, gh_error *err);
