/* Gathers the host facts the planner needs, through the adapters. */
#pragma once

#include "core/domxml.h"
#include "core/facts.h"
#include "core/config.h"
#include "shared/error.h"
#include "units.h"

/* units may be NULL (no system bus): units_known is then false. */
int gh_facts_gather(const char *root, const char *domain, const gh_policy *p, const gh_domain *dom, gh_units *units,
                    gh_facts *ret, gh_error *err);
