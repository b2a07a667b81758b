/* The journal's text apart from its file: a header naming the domain, then one step line each. */
#pragma once

#include "shared/error.h"
#include "step.h"
#include "stuck.h"

#define GH_JOURNAL_MAGIC "gpu-handover-journal 1"
/* A line that is not a step: a function of this hand-over found stuck ("stuck " and the stuck list's
 * record of it). Nothing undoes it, and it decides nothing: the stuck list does. It says which hand-over
 * left the function stuck, and since when, for as long as the journal is there. */
#define GH_JOURNAL_STUCK_PREFIX "stuck "

/* The steps in len bytes of journal text for domain; path names the file in errors ("PATH:LINE: why").
 * Whatever follows the last newline is a torn write and is ignored. -EBADMSG for a NUL byte, a header
 * that is not this domain's, or a bad step line (a stuck record that does not parse is one). With
 * ret_stuck, the stuck records too, apart from the steps and in order (NULL and 0 when none), from the
 * same pass. With ret_skipped, a bad step line is skipped instead and named there (strv, NULL when none);
 * a NUL byte and the header are never skipped. */
int gh_journal_parse(const char *text, size_t len, const char *path, const char *domain, gh_step **ret,
                     size_t *ret_n, gh_stuck **ret_stuck, size_t *ret_n_stuck, char ***ret_skipped,
                     gh_error *err);
int gh_journal_stuck_line(const gh_stuck *s, char **ret);
