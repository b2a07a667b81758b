/* The give-back order: what release (and a rollback) does with the steps begun, in an order of its own
 * rather than their reverse. Some host drivers will not load while none of their devices can probe
 * (nvidia.ko fails its init with -ENODEV), and some upper modules only see the GPUs bound when they load
 * (nvidia-drm before 580.105): so the overrides go back before any module is loaded again, the base
 * driver before the modules stacked on it, the outcome is checked, and only then are units started. */
#pragma once

#include <stddef.h>

#include "step.h"

typedef enum gh_giveback_kind {
        GH_GIVEBACK_UNBIND_VFIO,      /* BIND_VFIO: unbind from vfio-pci */
        GH_GIVEBACK_RESTORE_OVERRIDE, /* SET_OVERRIDE: write the old driver_override back, no probe yet */
        GH_GIVEBACK_LOAD_MODULE,      /* UNLOAD_MODULE: load it again; base first (reverse of unloading) */
        GH_GIVEBACK_PROBE,            /* SET_OVERRIDE, RELEASE_AUDIO: probe, verify the host driver's link */
        GH_GIVEBACK_VERIFY_NODES,     /* SET_OVERRIDE with nodes: the device's nodes are back */
        GH_GIVEBACK_START_UNIT,       /* STOP_UNIT: start it again */
        GH_GIVEBACK_START_USER_UNIT,  /* STOP_USER_UNIT: start it again through the user's manager, after
                                       * the system's units (the user's may need them) */
        _GH_GIVEBACK_KIND_MAX,
} gh_giveback_kind;

typedef struct gh_giveback_action {
        gh_giveback_kind kind;
        size_t step; /* index of the step it undoes */
} gh_giveback_action;

/* The actions that give back steps[0..n), in the order to run them; *ret_n is 0 (and *ret NULL) when
 * nothing has an undo. Kinds run in the order of gh_giveback_kind; within a kind, newest step first. */
int gh_giveback_order(const gh_step *steps, size_t n, gh_giveback_action **ret, size_t *ret_n);
/* Human form for `plan` and the log, s being the step a gives back: "load module 'nvidia' again". */
int gh_giveback_describe(const gh_giveback_action *a, const gh_step *s, char **ret);
