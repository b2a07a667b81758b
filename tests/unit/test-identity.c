/* Identity from cgroup paths: the unit and user unit as sd-login finds them, whether a path is a VM's, and
 * the VM's name decoded from libvirt's scope; and who is protected, whatever their comm. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/identity.h"

#define VM_SCOPE "/machine.slice/machine-qemu\\x2d1\\x2dother.scope"
#define SESSION "/user.slice/user-1000.slice/session-3.scope"
#define USER_MGR "/user.slice/user-1000.slice/user@1000.service"

static void assert_unit(const char *cgroup, const char *want)
{
        _cleanup_free_ char *u = NULL;
        int r = gh_cgroup_unit(cgroup, &u);

        if (!want) {
                assert_int_equal(r, -ENXIO);
                return;
        }
        assert_int_equal(r, 0);
        assert_string_equal(u, want);
}

static void assert_user_unit(const char *cgroup, const char *want)
{
        _cleanup_free_ char *u = NULL;
        int r = gh_cgroup_user_unit(cgroup, &u);

        if (!want) {
                assert_int_equal(r, -ENXIO);
                return;
        }
        assert_int_equal(r, 0);
        assert_string_equal(u, want);
}

/* The uid in root's part of the path only: what the user names below user@UID.service proves nothing. */
static void test_cgroup_user_manager_uid(void **state)
{
        static const struct {
                const char *cgroup;
                int r;
                uint32_t uid;
        } cases[] = {
                {"/user.slice/user-1000.slice/user@1000.service/app.slice/ollama.service", 0, 1000},
                {"/user.slice/user-0.slice/user@0.service/init.scope", 0, 0},
                {"/user.slice/user-7.slice/user@4294967294.service/a.service", 0, 4294967294u},
                {"/user.slice/user-7.slice/user@4294967295.service/a.service", -ENXIO, 0},
                {"/user.slice/user-7.slice/user@99999999999.service/a.service", -ENXIO, 0},
                {"/user.slice/user-7.slice/user@.service/a.service", -ENXIO, 0},
                {"/user.slice/user-7.slice/user@1x.service/a.service", -ENXIO, 0},
                {"/user.slice/user-7.slice/user@-1.service/a.service", -ENXIO, 0},
                {"/user.slice/user-1000.slice/session-3.scope", -ENXIO, 0},
                {"/system.slice/ollama.service/user@1000.service", -ENXIO, 0},
                {"/", -ENXIO, 0},
                {NULL, -ENXIO, 0},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint32_t uid = 12345;

                if (gh_cgroup_user_manager_uid(cases[i].cgroup, &uid) != cases[i].r)
                        fail_msg("'%s' is not %d", strempty(cases[i].cgroup), cases[i].r);
                assert_int_equal(uid, cases[i].r == 0 ? cases[i].uid : 12345);
        }
}

static void assert_vm(const char *cgroup, const char *want)
{
        _cleanup_free_ char *n = NULL;
        int r = gh_cgroup_machine_name(cgroup, &n);

        if (!want) {
                assert_int_equal(r, -ENXIO);
                return;
        }
        assert_int_equal(r, 0);
        assert_string_equal(n, want);
}

static void test_cgroup_unit(void **state)
{
        assert_unit("/system.slice/libvirtd.service", "libvirtd.service");
        assert_unit("/system.slice/system-getty.slice/getty@tty1.service", "getty@tty1.service");
        assert_unit(VM_SCOPE "/libvirt/emulator", "machine-qemu\\x2d1\\x2dother.scope");
        assert_unit(SESSION, "session-3.scope");
        assert_unit(USER_MGR "/app.slice/foo.service", "user@1000.service");
        assert_unit("/init.scope", "init.scope");
        assert_unit("/", NULL);
        assert_unit("", NULL);
        assert_unit(NULL, NULL);
        assert_unit("/process_api/c91e0a16", NULL);

        assert_user_unit(USER_MGR "/app.slice/app-gnome.slice/foo.scope", "foo.scope");
        assert_user_unit(USER_MGR "/init.scope", "init.scope");
        assert_user_unit(SESSION, NULL);
        assert_user_unit("/system.slice/libvirtd.service", NULL);
}

static void test_cgroup_machine(void **state)
{
        assert_vm(VM_SCOPE "/libvirt/emulator", "other");
        assert_vm("machine.slice/machine-qemu\\x2d3\\x2dwin10.scope", "win10");
        assert_vm("/machine.slice/machine-qemu\\x2d12\\x2dmy\\x2dvm\\x2e2.scope/libvirt/vcpu0", "my-vm.2");
        /* libvirt before its domain ids were in the name, and libvirt without systemd. */
        assert_vm("/machine.slice/machine-qemu\\x2dold.scope", "old");
        assert_vm("/machine/qemu-2-alpine.libvirt-qemu/emulator", "alpine");
        assert_vm("/machine.slice/machine-qemu\\x2d4\\x2d7.scope", "7");
        assert_vm("/machine.slice/systemd-nspawn@box.service", NULL);
        assert_true(gh_cgroup_is_machine("/machine.slice/systemd-nspawn@box.service"));
        assert_vm(SESSION, NULL);
        assert_false(gh_cgroup_is_machine(SESSION));
        /* Below user@.service the user names cgroups as they like. */
        assert_false(
                gh_cgroup_is_machine(USER_MGR "/app.slice/machine.slice/machine-qemu\\x2d1\\x2dx.scope"));
        assert_vm(USER_MGR "/app.slice/machine.slice/machine-qemu\\x2d1\\x2dx.scope", NULL);
        assert_false(gh_cgroup_is_machine(NULL));
}

static gh_guard guard(const char *comm, const char *cgroup, const char *exe)
{
        gh_holder h = {.pid = 5000000, .comm = (char *)comm, .cgroup = (char *)cgroup, .exe = (char *)exe};

        return gh_holder_guard(&h, 4000000, 4000001);
}

static void test_guard(void **state)
{
        gh_holder h = {.pid = 1, .comm = (char *)"bash", .cgroup = (char *)SESSION};

        assert_int_equal(gh_holder_guard(&h, 4000000, 4000001), GH_GUARD_INIT);
        h.pid = 0;
        assert_int_equal(gh_holder_guard(&h, 4000000, 4000001), GH_GUARD_INIT);
        h.pid = 4000000;
        assert_int_equal(gh_holder_guard(&h, 4000000, 4000001), GH_GUARD_SELF);
        h.pid = 4000001;
        assert_int_equal(gh_holder_guard(&h, 4000000, 4000001), GH_GUARD_SELF);

        /* The comm proves nothing either way. */
        assert_int_equal(guard("systemd-x", SESSION, "/home/u/bin/x"), GH_GUARD_NONE);
        assert_int_equal(guard("systemd", SESSION, "/usr/bin/sleep"), GH_GUARD_NONE);
        assert_int_equal(guard("virtqemud", SESSION, "/home/u/virtqemud"), GH_GUARD_NONE);
        assert_int_equal(guard("bash", VM_SCOPE "/libvirt/emulator", "/usr/bin/bash"), GH_GUARD_VM);
        assert_int_equal(guard("qemu-system-x86", VM_SCOPE, "/usr/bin/qemu-system-x86_64"), GH_GUARD_VM);
        assert_int_equal(guard("gh-x", "/system.slice/libvirtd.service", "/usr/bin/python3"),
                         GH_GUARD_LIBVIRT);
        assert_int_equal(guard("rpc-worker", "/system.slice/virtqemud.service", NULL), GH_GUARD_LIBVIRT);
        assert_int_equal(guard("x", "/system.slice/virtlogd.service", NULL), GH_GUARD_LIBVIRT);
        /* A session daemon (qemu:///session) by its exe, also after an upgrade replaced it. */
        assert_int_equal(guard("x", SESSION, "/usr/sbin/virtqemud"), GH_GUARD_LIBVIRT);
        assert_int_equal(guard("x", SESSION, "/usr/sbin/virtqemud (deleted)"), GH_GUARD_LIBVIRT);
        assert_int_equal(guard("x", SESSION, "/tmp/usr/sbin/virtqemud"), GH_GUARD_NONE);
        /* A user's own units are the user's to name. */
        assert_int_equal(guard("virtqemud", USER_MGR "/app.slice/virtqemud.service", "/home/u/v"),
                         GH_GUARD_NONE);
        assert_int_equal(guard("x", "/system.slice/systemd-logind.service", "/usr/bin/x"), GH_GUARD_SYSTEMD);
        assert_int_equal(guard("x", "/system.slice/systemd-udevd.service/udev", NULL), GH_GUARD_SYSTEMD);
        assert_int_equal(guard("x", "/init.scope", NULL), GH_GUARD_SYSTEMD);
        assert_int_equal(guard("x", SESSION, "/usr/lib/systemd/systemd-logind"), GH_GUARD_SYSTEMD);
        assert_int_equal(guard("systemd", USER_MGR "/init.scope", "/usr/lib/systemd/systemd"),
                         GH_GUARD_SYSTEMD);
        assert_int_equal(guard("systemd", USER_MGR "/init.scope", "/home/u/bin/x"), GH_GUARD_NONE);
        assert_int_equal(guard("x", USER_MGR "/app.slice/init.scope", "/home/u/bin/x"), GH_GUARD_NONE);
        assert_int_equal(guard("gnome-shell", USER_MGR "/session.slice/org.gnome.Shell@wayland.service",
                               "/usr/bin/gnome-shell"),
                         GH_GUARD_NONE);
        assert_int_equal(guard("Xorg", "/system.slice/gdm.service", "/usr/lib/xorg/Xorg"), GH_GUARD_NONE);
        assert_int_equal(guard("x", NULL, NULL), GH_GUARD_NONE);
}

static void assert_describe(const char *cgroup, const char *exe, const char *want)
{
        gh_holder h = {.pid = 5000000, .comm = (char *)"x", .cgroup = (char *)cgroup, .exe = (char *)exe};
        _cleanup_free_ char *s = NULL;

        assert_int_equal(gh_holder_guard_describe(&h, gh_holder_guard(&h, 0, 0), &s), 0);
        assert_non_null(s);
        assert_string_equal(s, want);
}

static void test_guard_describe(void **state)
{
        gh_holder h = {.pid = 5000000, .cgroup = (char *)SESSION};
        char *s = (char *)"unset";

        assert_describe(VM_SCOPE "/libvirt/emulator", NULL,
                        "VM 'other', unit machine-qemu\\x2d1\\x2dother.scope");
        assert_describe("/system.slice/virtqemud.service", NULL, "libvirt's daemon, unit virtqemud.service");
        assert_describe("/", "/usr/sbin/libvirtd", "libvirt's daemon, exe /usr/sbin/libvirtd");
        assert_describe(USER_MGR "/init.scope", "/usr/lib/systemd/systemd",
                        "systemd, unit user@1000.service/init.scope");
        assert_int_equal(gh_holder_guard_describe(&h, GH_GUARD_NONE, &s), 0);
        assert_null(s);
        assert_string_equal(gh_guard_to_string(GH_GUARD_VM), "vm");
        assert_null(gh_guard_to_string(_GH_GUARD_MAX));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cgroup_unit),    cmocka_unit_test(test_cgroup_user_manager_uid),
                cmocka_unit_test(test_cgroup_machine), cmocka_unit_test(test_guard),
                cmocka_unit_test(test_guard_describe),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
