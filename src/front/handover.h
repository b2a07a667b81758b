/* Hand-over and give-back as the hook and `restore` run them: config, lock, facts, plan, journal. */
#pragma once

#include "core/config.h"
#include "core/domxml.h"
#include "core/plan.h"
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

/* claim-boot's claim of one domain, under the lock the caller holds: the claim plan (*ret_plan, the
 * caller's to free, set whenever planning succeeded), then with dry_run false its steps through the
 * journal and the executor; a failed step has every step undone. No journal is left after a claim that
 * worked: prepare finds the devices on vfio-pci, and release gives them to the host. */
int gh_handover_claim(const char *root, const char *domain, const gh_policy *p, const gh_domain *dom,
                      bool dry_run, gh_plan *ret_plan, gh_error *err);
/* A function the claim rules reserved at boot (driver_override vfio-pci, no driver) that no domain took:
 * to the host driver its modalias finds, through the executor's give-back. 1 when given back, 0 when there
 * was nothing to do. */
int gh_handover_unreserve(const char *root, const gh_pci_addr *a, gh_error *err);
