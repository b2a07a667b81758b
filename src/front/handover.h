/* Hand-over and give-back as the hook and `restore` run them: config, lock, facts, plan, journal. */
#pragma once

#include "shared/error.h"

/* 0 when done, and when the domain has not opted in or asks for nothing. */
int gh_handover_prepare(const char *root, const char *domain, const char *xml, size_t len, gh_error *err);
/* Undoes the journal's steps; 0 when there is no journal. The journal stays when an undo fails. */
int gh_handover_release(const char *root, const char *domain, gh_error *err);
