/* Policy + domain + host facts to an ordered list of steps. Pure: touches nothing. */
#pragma once

#include "shared/error.h"
#include "shared/strv.h"
#include "config.h"
#include "domxml.h"
#include "facts.h"
#include "step.h"

/* What a claim plan (gh_plan_build_claim) does with one of its devices. */
typedef enum gh_claim_kind {
        GH_CLAIM_TAKE,    /* its steps bind it to vfio-pci */
        GH_CLAIM_ALREADY, /* on vfio-pci already: left as it is */
        GH_CLAIM_LEAVE,   /* stays on its host driver; why says so */
        _GH_CLAIM_KIND_MAX,
        _GH_CLAIM_KIND_INVALID = -EINVAL,
} gh_claim_kind;

typedef struct gh_claim_dev {
        gh_claim_kind kind;
        unsigned vendor, device; /* what the reservation at boot checks it is (core/claim-rules.h) */
        char *why;               /* LEAVE: why it stays on the host */
} gh_claim_dev;

typedef struct gh_plan {
        char *domain;
        gh_pci_addr *devices; /* what it takes, in XML order */
        size_t n_devices;
        gh_step *steps;
        size_t n_steps;
        gh_claim_dev *claim; /* claim plans only, one for each of devices; NULL otherwise */
        char **notes; /* why the plan looks as it does, one sentence each (strv) */
        char **holders; /* each holder of what is ended, its owner and what happens to it (strv); these
                         * are among the notes too */
        unsigned timeout_sec;
} gh_plan;

/* Refusals (-EINVAL, -ENODEV, -EBUSY, -EPERM) come with err naming domain and address. */
int gh_plan_build(const char *domain, const gh_policy *p, const gh_domain *dom, const gh_facts *f, gh_plan *ret,
                  gh_error *err);
/* claim-boot's plan: the devices exactly as gh_plan_build() selects and checks them, but nothing stopped,
 * ended or unloaded. A device with no driver (reserved by the udev rule) is bound to vfio-pci; one on a
 * host driver (the reservation came too late) is unbound first, unless a process holds it or the unbind
 * would never finish (core/unbind-wait.h): then it stays on the host (GH_CLAIM_LEAVE). */
int gh_plan_build_claim(const char *domain, const gh_policy *p, const gh_domain *dom, const gh_facts *f,
                        gh_plan *ret, gh_error *err);
void gh_plan_done(gh_plan *plan);
/* The first holder of the nodes the plan ends holders of that may never be signalled (an other VM,
 * libvirt, systemd: core/identity.h), or NULL. With one, the hand-over is refused when it gets there. */
const gh_holder *gh_plan_protected_holder(const gh_plan *plan, const gh_facts *f);
/* The first such holder that is another VM's or container's (GH_GUARD_VM), or NULL. */
const gh_holder *gh_plan_vm_holder(const gh_plan *plan, const gh_facts *f);
/* The functions gh_plan_build() takes of dom under p, in XML order: the same selection, so that `check`
 * and the desktop's rules never disagree with a start. *ret points into f (the array is the caller's to
 * free). Refusals (a hostdev the devices list leaves out, one not on this host) as gh_plan_build()'s. */
int gh_plan_select(const char *domain, const gh_policy *p, const gh_domain *dom, const gh_facts *f,
                   const gh_pci_dev ***ret, size_t *ret_n, gh_error *err);
/* A display function the host keeps with a driver of its own (not vfio-pci), none of sel: what a desktop
 * can run on while the domain has its GPU; NULL when there is none. */
const gh_pci_dev *gh_plan_kept_gpu(const gh_facts *f, const gh_pci_dev *const *sel, size_t n_sel);
/* Whether h belongs to the graphical session as the planner sees it (the display manager's unit, a
 * compositor running as a user unit, a greeter, a graphical session's process). */
bool gh_plan_holder_is_graphical(const gh_facts *f, const gh_holder *h);
