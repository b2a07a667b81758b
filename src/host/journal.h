/* The hand-over journal, ROOT/run/gpu-handover/DOMAIN.journal: a header, then one line per step begun. */
#pragma once

#include "core/step.h"
#include "shared/error.h"

#define GH_RUN_DIR "/run/gpu-handover"

typedef struct gh_journal gh_journal;

/* Creates the journal (and the run dir); -EEXIST when one is there already. */
int gh_journal_create(const char *root, const char *domain, gh_journal **ret);
/* Writes the line and fsyncs before returning: the step runs only once it is on disk. */
int gh_journal_append(gh_journal *j, const char *line);
gh_journal *gh_journal_close(gh_journal *j);
/* The steps of a journal; a torn last line is ignored. -ENOENT when there is none. */
int gh_journal_read(const char *root, const char *domain, gh_step **ret, size_t *ret_n, gh_error *err);
int gh_journal_remove(const char *root, const char *domain);
/* Domains that have a journal (strv). */
int gh_journal_list(const char *root, char ***ret);
void gh_steps_free(gh_step *steps, size_t n);
