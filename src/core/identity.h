/* Who a process is, from its cgroup path and executable rather than its comm, which anyone can set with
 * prctl(PR_SET_NAME): the slices and units systemd names in the path, and the VMs libvirt puts there. */
#pragma once

#include <errno.h>
#include <stdint.h>

#include "facts.h"

/* Why a process must never be signalled. */
typedef enum gh_guard {
        GH_GUARD_NONE,    /* an ordinary process: it may be */
        GH_GUARD_INIT,    /* pid 1; 0 and -1 as well, which kill() reads as whole groups */
        GH_GUARD_SELF,    /* the tool itself or its parent */
        GH_GUARD_VM,      /* a VM's or container's process: machine.slice, machine-qemu*.scope */
        GH_GUARD_LIBVIRT, /* libvirt's daemons, by unit or by executable */
        GH_GUARD_SYSTEMD, /* systemd, its own units and the user managers */
        _GH_GUARD_MAX,
        _GH_GUARD_INVALID = -EINVAL,
} gh_guard;

/* The unit a cgroup path belongs to, as sd_pid_get_unit() finds it: the first component that is not a
 * slice. -ENXIO when there is none ("/", a container's own tree). */
int gh_cgroup_unit(const char *cgroup, char **ret);
/* The unit inside a user manager (…/user@UID.service/…), as sd_pid_get_user_unit() finds it; -ENXIO. */
int gh_cgroup_user_unit(const char *cgroup, char **ret);
/* The uid of the user manager a cgroup path sits under (…/user@1000.service/… is 1000); -ENXIO when it
 * sits under none. Root's cgroup tree names it: the user cannot. */
int gh_cgroup_user_manager_uid(const char *cgroup, uint32_t *ret);
/* Whether a cgroup path is a VM's or a container's: in machine.slice, a machine-*.scope, or libvirt's
 * own layout without systemd (/machine/qemu-1-NAME.libvirt-qemu). */
bool gh_cgroup_is_machine(const char *cgroup);
/* The VM's name: machine-qemu\x2d3\x2dwin10.scope is 'win10'. -ENXIO when the path names none. */
int gh_cgroup_machine_name(const char *cgroup, char **ret);

/* Why h may not be signalled, from its pid, cgroup and exe, never its comm. self and parent are the
 * tool's own pids (0 when unknown). */
gh_guard gh_holder_guard(const gh_holder *h, pid_t self, pid_t parent);
/* "VM 'win10', unit machine-qemu\x2d3\x2dwin10.scope", "libvirt's daemon, unit virtqemud.service", …;
 * NULL in *ret for GH_GUARD_NONE. */
int gh_holder_guard_describe(const gh_holder *h, gh_guard g, char **ret);
const char *gh_guard_to_string(gh_guard g);
