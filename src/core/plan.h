/* Policy + domain + host facts to an ordered list of steps. Pure: touches nothing. */
#pragma once

#include "shared/error.h"
#include "shared/strv.h"
#include "config.h"
#include "domxml.h"
#include "facts.h"
#include "step.h"

typedef struct gh_plan {
        char *domain;
        gh_pci_addr *devices; /* what it takes, in XML order */
        size_t n_devices;
        gh_step *steps;
        size_t n_steps;
        char **notes; /* why the plan looks as it does, one sentence each (strv) */
        unsigned timeout_sec;
} gh_plan;

/* Refusals (-EINVAL, -ENODEV, -EBUSY, -EPERM) come with err naming domain and address. */
int gh_plan_build(const char *domain, const gh_policy *p, const gh_domain *dom, const gh_facts *f, gh_plan *ret,
                  gh_error *err);
void gh_plan_done(gh_plan *plan);
/* The first holder of the nodes the plan ends holders of that may never be signalled (an other VM,
 * libvirt, systemd: core/identity.h), or NULL. With one, the hand-over is refused when it gets there. */
const gh_holder *gh_plan_protected_holder(const gh_plan *plan, const gh_facts *f);
/* The first such holder that is another VM's or container's (GH_GUARD_VM), or NULL. */
const gh_holder *gh_plan_vm_holder(const gh_plan *plan, const gh_facts *f);
