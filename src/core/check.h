/* `check`: what the host, the config, the domain and its plan look like, turned into PASS/WARN/FAIL
 * lines, each WARN and FAIL with a hint. Pure: the host side gathers, this only judges. */
#pragma once

#include <errno.h>
#include <sys/types.h>

#include "config.h"
#include "desktop-rules.h"
#include "domxml.h"
#include "facts.h"
#include "plan.h"
#include "shared/error.h"
#include "shared/time-util.h"

/* What to do when a domain's XML cannot be had; check and plan give the same hints. */
#define GH_HINT_XML_DEFINITION                                                                               \
        "is libvirt's daemon running and the domain defined (virsh -r list --all)? Or give the XML yourself: " \
        "--xml /etc/libvirt/qemu/DOMAIN.xml, or --xml - with 'virsh dumpxml DOMAIN' on stdin"
#define GH_HINT_XML_GIVEN "give the domain's XML as 'virsh dumpxml DOMAIN' prints it"

typedef enum gh_check_level {
        GH_CHECK_PASS,
        GH_CHECK_WARN,
        GH_CHECK_FAIL,
        _GH_CHECK_LEVEL_MAX,
        _GH_CHECK_LEVEL_INVALID = -EINVAL,
} gh_check_level;

typedef struct gh_check {
        gh_check_level level;
        char *title;  /* what was checked: "IOMMU", "device 0000:01:00.0", "libvirt hook" */
        char *detail; /* what was found, one line */
        char *hint;   /* how to fix it, for WARN and FAIL; NULL for PASS */
} gh_check;

typedef struct gh_checks {
        gh_check *items;
        size_t n;
} gh_checks;

typedef enum gh_module_avail {
        GH_MODULE_AVAIL_MISSING, /* not loaded, not built in, not among this kernel's modules */
        GH_MODULE_AVAIL_LOADED,
        GH_MODULE_AVAIL_BUILTIN,
        GH_MODULE_AVAIL_LOADABLE, /* found by a libkmod look-up in /lib/modules/RELEASE */
        _GH_MODULE_AVAIL_MAX,
        _GH_MODULE_AVAIL_INVALID = -EINVAL,
} gh_module_avail;

/* One place libvirt looks for the qemu hook. */
typedef struct gh_hook_entry {
        char *path; /* as the host sees it: /etc/libvirt/hooks/qemu */
        bool present;
        char *target;   /* the symbolic link's target; NULL when not a link */
        bool target_ok; /* the target is an executable regular file */
        usec_t mtime;   /* lstat mtime of the entry itself (when it was linked), CLOCK_REALTIME */
} gh_hook_entry;

typedef struct gh_daemon {
        char *name; /* libvirtd or virtqemud */
        pid_t pid;
        usec_t start; /* CLOCK_REALTIME, from /proc/stat btime and /proc/PID/stat starttime */
} gh_daemon;

/* What hostcheck gathers from ROOT/proc and ROOT/sys, and where libvirt's hook is. */
typedef struct gh_host_check {
        int cpuinfo_error;  /* -errno reading /proc/cpuinfo, 0 when read */
        char *cpu_flag;     /* "vmx" or "svm"; NULL when neither */
        char **iommu_units; /* entries of /sys/class/iommu (strv), NULL when none */
        unsigned n_iommu_groups;
        gh_module_avail vfio, vfio_pci;
        char *modules_dir;    /* /lib/modules/RELEASE, where a loadable module would be */
        gh_hook_entry hook;   /* /etc/libvirt/hooks/qemu */
        gh_hook_entry dropin; /* /etc/libvirt/hooks/qemu.d/gpu-handover */
        gh_daemon *daemons;
        size_t n_daemons;
        int proc_error; /* -errno scanning /proc for libvirt's daemons, 0 when scanned */
} gh_host_check;

/* The domain side: each is NULL when it could not be had (a FAIL line says why already). */
typedef struct gh_check_domain {
        const char *name;
        const gh_policy *policy; /* the loaded config */
        const gh_domain *dom;
        const gh_facts *facts;
        const gh_plan *plan;
        /* gh_check_devices()'s own, from gh_plan_select() (the default config when none loaded): what
         * the planner takes, pointing into facts; none when it refuses. Callers leave them unset. */
        const gh_pci_dev **taken;
        size_t n_taken;
        /* The GPUs the installed rules keep away from the desktop (gh_desktop_parse_rules()), and
         * desktop_error: 0 when they were read (none without the file), or -errno why not. */
        const gh_desktop_gpu *desktop_away;
        size_t n_desktop_away;
        int desktop_error;
} gh_check_domain;

/* Every add returns 0 or -ENOMEM. title, detail and hint are copied; hint may be NULL. */
int gh_checks_add(gh_checks *c, gh_check_level level, const char *title, const char *detail,
                  const char *hint);
void gh_checks_done(gh_checks *c);
/* The worst level among the lines; PASS when there are none. */
gh_check_level gh_checks_worst(const gh_checks *c);
const char *gh_check_level_to_string(gh_check_level l);

/* The CPU's vmx/svm flag, the IOMMU, vfio and vfio-pci. */
int gh_check_host(gh_checks *c, const gh_host_check *h);
/* The hook entry, and whether libvirt's running daemons started after it was installed. */
int gh_check_hook(gh_checks *c, const gh_host_check *h);
/* gh_config_load's result: r and err as it returned them; path is the domain's config file. */
int gh_check_config(gh_checks *c, const char *domain, const char *path, int r, const gh_error *err);
/* Getting and parsing the XML (r, err); source says where it came from ("libvirt at 'qemu:///system'"),
 * libvirt whether that was libvirt (its failure hints at --xml). */
int gh_check_xml(gh_checks *c, const char *source, bool libvirt, int r, const gh_error *err,
                 const gh_domain *dom);
/* Each hostdev: present, allowed by the config, its IOMMU group; and what taking the GPU leaves the host.
 * Needs d->dom and d->facts. */
int gh_check_devices(gh_checks *c, const gh_check_domain *d);
/* The plan's units and modules, or the planner's refusal (r < 0, with err); without d->facts, gathering's
 * failure. Nothing without d->dom, and no plan without d->policy: their lines said why already. */
int gh_check_plan(gh_checks *c, const gh_check_domain *d, int r, const gh_error *err);

/* What a start does to the graphical session (WARN when it logs the user out, naming the setting that
 * avoids it), and on a host keeping another GPU whether the session-keeping mode is on and installed.
 * Needs d->plan; gh_check_plan() asks it. */
int gh_check_session(gh_checks *c, const gh_check_domain *d);

void gh_hook_entry_done(gh_hook_entry *e);
void gh_host_check_done(gh_host_check *h);
