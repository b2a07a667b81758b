/* The claim rules file on the host (core/claim-rules.h says what is in it): read, replaced, removed. */
#pragma once

#include "core/claim-rules.h"
#include "shared/error.h"

/* The addresses ROOT's rules file reserves; none (0) when there is no file. */
int gh_claim_file_read(const char *root, gh_pci_addr **ret, size_t *ret_n, gh_error *err);
/* Puts text in place, atomically (text NULL: removes the file). 1 when the file changed, 0 when it had
 * that text already. */
int gh_claim_file_write(const char *root, const char *text, gh_error *err);
