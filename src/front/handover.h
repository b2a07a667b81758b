/* Hand-over and give-back as the hook and `restore` run them: config, lock, facts, plan, journal. */
#pragma once

#include "shared/error.h"

/* 0 when done, and when the domain has not opted in or asks for nothing. */
int gh_handover_prepare(const char *root, const char *domain, const char *xml, size_t len, gh_error *err);
typedef struct gh_release_result {
        bool best_effort; /* in: skip the journal lines that do not parse, instead of refusing them all */
        bool found;       /* out: there was a journal */
        size_t n_undone;  /* out: steps undone */
        char **skipped;   /* out: "FILE:LINE: why" of each line skipped (strv; the caller frees it) */
} gh_release_result;

/* Undoes the journal's steps; 0 when there is no journal. The journal stays when an undo fails, or (without
 * best_effort) when a line does not parse. res may be NULL. */
int gh_handover_release(const char *root, const char *domain, gh_release_result *res, gh_error *err);
