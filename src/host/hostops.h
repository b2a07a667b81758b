/* The real host behind the executor's operation table. */
#pragma once

#include "core/exec.h"
#include "journal.h"
#include "modules.h"
#include "units.h"

typedef struct gh_real_host {
        const char *root;
        gh_units *units;     /* NULL when there is no system bus */
        gh_units *user_units; /* the manager of user user_uid, opened on first use */
        uint32_t user_uid;
        gh_kmod *kmod;       /* opened on first use */
        gh_journal *journal; /* to append to; NULL when there is none (a release without its file) */
} gh_real_host;

extern const gh_host_ops gh_real_host_ops;

void gh_real_host_done(gh_real_host *h);
