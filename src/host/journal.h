/* The hand-over journal, ROOT/run/gpu-handover/DOMAIN.journal: a header, then one line per step begun. */
#pragma once

#include <sys/types.h>

#include "core/step.h"
#include "core/stuck.h"
#include "rundir.h"
#include "shared/error.h"

typedef struct gh_journal gh_journal;

/* Journals are replayed as root: ROOT/run/gpu-handover must be owner's directory with mode 0700 and each
 * journal owner's regular file with mode 0600 (owner is 0 but in tests); no symlink is followed. Either
 * failing is -EPERM with err naming the path and what is wrong. */

/* Creates the journal (and the run dir, both with those modes); -EEXIST when one is there already. */
int gh_journal_create(const char *root, const char *domain, uid_t owner, gh_journal **ret, gh_error *err);
/* Opens the existing journal to add to it (a release records a function it found stuck); -ENOENT when
 * there is none. */
int gh_journal_open_append(const char *root, const char *domain, uid_t owner, gh_journal **ret, gh_error *err);
/* Writes the line and fsyncs before returning: the step runs only once it is on disk. */
int gh_journal_append(gh_journal *j, const char *line);
gh_journal *gh_journal_close(gh_journal *j);
/* The steps of a journal, as gh_journal_parse() reads them. -ENOENT when there is none (err not set).
 * -EBADMSG naming "FILE:LINE" and why for a header that is not this domain's, or a bad step line. */
int gh_journal_read(const char *root, const char *domain, uid_t owner, gh_step **ret, size_t *ret_n,
                    gh_error *err);
/* The same, except that a bad step line is skipped and named in *ret_skipped ("FILE:LINE: why", strv,
 * NULL when none). The file's trust and its header are never skipped. */
int gh_journal_read_lenient(const char *root, const char *domain, uid_t owner, gh_step **ret, size_t *ret_n,
                            char ***ret_skipped, gh_error *err);
/* As gh_journal_read(), with the journal's stuck records too, from the same read (gh_journal_parse()). */
int gh_journal_read_all(const char *root, const char *domain, uid_t owner, gh_step **ret, size_t *ret_n,
                        gh_stuck **ret_stuck, size_t *ret_n_stuck, gh_error *err);
int gh_journal_remove(const char *root, const char *domain);
/* Domains that have a journal (strv). */
int gh_journal_list(const char *root, char ***ret);
