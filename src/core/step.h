/* One step of a hand-over, with what its undo needs; printed for `plan`, one line in the journal. */
#pragma once

#include <errno.h>
#include <stdint.h>

#include "config.h"
#include "pci-addr.h"

/* (uid_t)-1 means no user (chown()'s "leave it"): never one to stop units of. */
#define GH_STEP_UID_MAX 0xfffffffeu

typedef enum gh_step_kind {
        GH_STEP_STOP_UNIT,    /* name=unit;            undo: start it */
        GH_STEP_END_HOLDERS,  /* nodes, mode, grace;   undo: none */
        GH_STEP_SET_OVERRIDE, /* addr, old, driver, nodes; undo: restore old override, reprobe, verify driver
                               * and the nodes (see giveback.h) */
        GH_STEP_UNLOAD_MODULE,  /* name=module;          undo: load it */
        GH_STEP_UNBIND,         /* addr, driver;         undo: none (SET_OVERRIDE's undo reprobes) */
        GH_STEP_LOAD_MODULE,    /* name=module;          undo: none (vfio-pci stays, harmless) */
        GH_STEP_BIND_VFIO,      /* addr, group;          undo: unbind from vfio-pci */
        GH_STEP_START_UNIT,     /* name=unit;            undo: none (STOP_UNIT's undo covers it) */
        GH_STEP_STOP_USER_UNIT, /* uid, name=unit of that user's manager; undo: start it (start-user-unit) */
        GH_STEP_WAIT_RELEASED,  /* nodes: logind's copies of a session's devices (core/logind-copy.h), waited
                                 * for until logind and PID 1 close them; undo: none */
        GH_STEP_RELEASE_AUDIO,  /* addr, driver, old, nodes, mode, grace, wait: unbind an audio function from
                                 * its host driver, which disconnects the card so its clients close it; the
                                 * holders of nodes still there after wait seconds are ended as END_HOLDERS
                                 * ends them. undo: probe it back to driver, as SET_OVERRIDE's undo does */
        _GH_STEP_KIND_MAX,
        _GH_STEP_KIND_INVALID = -EINVAL,
} gh_step_kind;

typedef struct gh_step {
        gh_step_kind kind;
        char addr[GH_PCI_ADDR_MAX]; /* "" when not about a device */
        char *name;                 /* unit or module */
        char *driver;       /* UNBIND: driver left; SET_OVERRIDE: host driver to give back (NULL: none);
                             * RELEASE_AUDIO: both */
        char *old_override; /* SET_OVERRIDE, RELEASE_AUDIO: value before, NULL for none */
        int group;                  /* BIND_VFIO: IOMMU group, for /dev/vfio/N; -1 otherwise */
        char **nodes;               /* END_HOLDERS, RELEASE_AUDIO: to free (strv); SET_OVERRIDE: to see again
                                     * after the give-back (a DRM node under /dev/dri/ as any card of the
                                     * device) */
        gh_holders_mode holders_mode;
        unsigned grace_sec;
        unsigned wait_sec; /* RELEASE_AUDIO: how long the unbind runs before the holders are ended */
        bool has_uid; /* STOP_USER_UNIT: uid is the user whose manager runs name */
        uint32_t uid;
} gh_step;

const char *gh_step_kind_to_string(gh_step_kind k);
gh_step_kind gh_step_kind_from_string(const char *s);

/* 0 when the step can be written, read back and undone: its kind's fields and no others, names valid
 * by the config's own rules (units, modules, drivers), a canonical address, absolute device nodes.
 * -EINVAL saying why otherwise. The writer and the reader both ask it. */
int gh_step_check(const gh_step *s, gh_error *err);
/* Journal form: "KIND key=value ...", values %-escaped, no newline. -EINVAL for a step that fails
 * gh_step_check(): what cannot be read back is never written. */
int gh_step_to_line(const gh_step *s, char **ret);
/* -EINVAL on anything malformed, unknown or failing gh_step_check(), saying why in err (may be NULL). */
int gh_step_from_line(const char *line, gh_step *ret, gh_error *err);
/* "a, b, c" ("" for none). */
int gh_step_describe_nodes(char *const *nodes, char **ret);
/* Human form for `plan`, e.g. "stop unit gdm.service (undo: start it)". */
int gh_step_describe(const gh_step *s, char **ret);
void gh_step_done(gh_step *s);
/* Frees n steps and the array that holds them. */
void gh_steps_free(gh_step *steps, size_t n);
