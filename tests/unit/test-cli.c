/* The gpu-handover binary end to end against a fake sysfs that behaves like the kernel (the fake-kernel
 * preload): plan changes nothing, the hook hands over and gives back, refusals and a stuck unbind leave
 * the tree as it was, and restore recovers a hand-over killed half-way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "fake-modfile.h"
#include "fakesys.h"
#include "proc-fake.h"
#include "shared/fileio.h"
#include "shared/strv.h"
#include "shared/time-util.h"

/* The test build: it takes --root. */
#define TOOL GH_TOOL_TEST_BIN

static const char domain_xml[] =
        "<domain type='kvm'>\n"
        "  <name>win11</name>\n"
        "  <devices>\n"
        "    <hostdev mode='subsystem' type='pci' managed='no'>\n"
        "      <source><address domain='0x0000' bus='0x00' slot='0x05' function='0x0'/></source>\n"
        "      <address type='pci' domain='0x0000' bus='0x06' slot='0x00' function='0x0'/>\n"
        "    </hostdev>\n"
        "    <hostdev mode='subsystem' type='pci' managed='no'>\n"
        "      <source><address domain='0x0000' bus='0x00' slot='0x05' function='0x1'/></source>\n"
        "      <address type='pci' domain='0x0000' bus='0x07' slot='0x00' function='0x0'/>\n"
        "    </hostdev>\n"
        "  </devices>\n"
        "</domain>\n";

typedef struct run {
        int status;
        char *out, *err;
} run;

static void assert_status(const run *r, int want)
{
        if (r->status != want)
                fail_msg("exit %d, not %d; stderr: %s; stdout: %s", r->status, want, r->err, r->out);
}

static void run_done(run *r)
{
        free(r->out);
        free(r->err);
}

/* The desktop of the VM test, with built-in drivers so that no step asks the real kernel for a module. */
static int setup(void **state)
{
        fakesys *fs;

        if (geteuid() != 0) {
                print_message("skipped: config files must be root's, so this test runs as root\n");
                return -1;
        }
        fs = fakesys_new();
        fakesys_add_dev(fs, "0000:00:00.0", 0x060000, 0x8086, 0x29c0, 0);
        fakesys_add_dev(fs, "0000:00:05.0", 0x030000, 0x1234, 0x1111, 2);
        fakesys_set_boot_vga(fs, "0000:00:05.0", true);
        fakesys_add_dev(fs, "0000:00:05.1", 0x040300, 0x8086, 0x293e, 2);
        fakesys_add_driver(fs, "bochs-drm", NULL);
        fakesys_add_driver_id(fs, "bochs-drm", 0x1234, 0x1111);
        fakesys_add_driver(fs, "snd_hda_intel", NULL);
        fakesys_add_driver_id(fs, "snd_hda_intel", 0x8086, 0x293e);
        fakesys_add_driver(fs, "vfio-pci", "vfio_pci");
        fakesys_add_module(fs, "vfio_pci");
        fakesys_bind(fs, "0000:00:05.0", "bochs-drm");
        fakesys_bind(fs, "0000:00:05.1", "snd_hda_intel");
        fakesys_add_drm(fs, "0000:00:05.0", "card0");
        fakesys_add_sound(fs, "0000:00:05.1", 0, "controlC0", "pcmC0D0p", NULL);
        *state = fs;
        return 0;
}

static int teardown(void **state)
{
        fakesys_free(*state);
        return 0;
}

static void write_file(fakesys *fs, const char *rel, const char *text, mode_t mode)
{
        _cleanup_free_ char *p = fakesys_path(fs, rel);
        _cleanup_free_ char *dir = strdup(p);

        *strrchr(dir, '/') = 0;
        assert_int_equal(mkdir_p(dir, 0755), 0);
        FILE *f = fopen(p, "we");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        assert_int_equal(chmod(p, mode), 0);
}

static void opt_in(fakesys *fs, const char *conf)
{
        write_file(fs, "/etc/gpu-handover/domains/win11.conf", conf, 0644);
}

/* Opted in with conf, and the domain's XML in the tree for --xml: its path, the caller's to free. */
static char *opt_in_xml(fakesys *fs, const char *conf)
{
        opt_in(fs, conf);
        write_file(fs, "/win11.xml", domain_xml, 0644);
        return fakesys_path(fs, "/win11.xml");
}

static char *slurp(const char *path)
{
        char *s = NULL;

        if (read_full_file(path, 1 << 20, &s, NULL) < 0)
                return strdup("");
        return s;
}

typedef struct spawned {
        pid_t pid;
        char dir[32];
} spawned;

static void spawn_files(const spawned *sp, char **in, char **out, char **err)
{
        assert_true(asprintf(in, "%s/in", sp->dir) > 0 && asprintf(out, "%s/out", sp->dir) > 0 &&
                    asprintf(err, "%s/err", sp->dir) > 0);
}

/* Starts the tool with stdin from text; argv holds the arguments after --root. */
static spawned tool_spawn(fakesys *fs, const char *in, const char *const *args)
{
        _cleanup_free_ char *pin = NULL, *pout = NULL, *perr = NULL;
        char *argv[16] = {(char *)"gpu-handover", (char *)"--root", (char *)fakesys_root(fs)};
        spawned sp = {.dir = "/tmp/gh-cli-XXXXXX"};
        size_t n = 3;
        FILE *f;

        for (; *args && n < 15; args++)
                argv[n++] = (char *)*args;
        assert_non_null(mkdtemp(sp.dir));
        spawn_files(&sp, &pin, &pout, &perr);
        f = fopen(pin, "we");
        assert_non_null(f);
        fputs(in ? in : "", f);
        fclose(f);
        sp.pid = fork();
        assert_true(sp.pid >= 0);
        if (sp.pid == 0) {
                if (!freopen(pin, "r", stdin) || !freopen(pout, "w", stdout) || !freopen(perr, "w", stderr))
                        _exit(127);
                execv(TOOL, argv);
                _exit(127);
        }
        return sp;
}

/* Waits for the tool until deadline (0: for ever); a tool still running then is killed: the test fails. */
static run tool_wait_until(spawned *sp, usec_t deadline)
{
        _cleanup_free_ char *pin = NULL, *pout = NULL, *perr = NULL;
        run r = {};
        pid_t k;

        while (deadline && (k = waitpid(sp->pid, &r.status, WNOHANG)) == 0)
                if (!deadline_sleep(deadline, 20 * USEC_PER_MSEC)) {
                        kill(sp->pid, SIGKILL);
                        (void)waitpid(sp->pid, NULL, 0);
                        fail_msg("the tool still ran at the deadline: it hangs");
                }
        if (!deadline)
                k = waitpid(sp->pid, &r.status, 0);
        assert_int_equal(k, sp->pid);
        r.status = WIFEXITED(r.status) ? WEXITSTATUS(r.status) : 128 + WTERMSIG(r.status);
        spawn_files(sp, &pin, &pout, &perr);
        r.out = slurp(pout);
        r.err = slurp(perr);
        unlink(pin), unlink(pout), unlink(perr), rmdir(sp->dir);
        return r;
}

static run tool_wait(spawned *sp)
{
        return tool_wait_until(sp, 0);
}

#define tool(fs, in, ...)                                                                                    \
        ({                                                                                                   \
                spawned _sp = tool_spawn((fs), (in), (const char *[]){__VA_ARGS__});                               \
                tool_wait(&_sp);                                                                             \
        })

/* Every path under the root with its type, link target or content: two equal snapshots, an unchanged tree. */
static FILE *snap_out;
static size_t snap_skip;

static int snap_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
        char target[512] = "";
        _cleanup_free_ char *content = NULL;

        /* The fake kernel's own state, and the lock every hand-over takes before it looks at the host. */
        static const char *const lock_paths[] = {"/run", "/run/gpu-handover", "/run/gpu-handover/lock", NULL};

        if (strstr(p + snap_skip, "/fake-kernel") || strv_contains((char **)lock_paths, p + snap_skip))
                return 0;
        if (S_ISLNK(st->st_mode)) {
                ssize_t k = readlink(p, target, sizeof(target) - 1);
                target[k > 0 ? k : 0] = 0;
        } else if (S_ISREG(st->st_mode))
                (void)read_full_file(p, 1 << 16, &content, NULL);
        fprintf(snap_out, "%s %o %s %s\n", p + snap_skip, st->st_mode, target, strempty(content));
        return 0;
}

static char *snapshot(fakesys *fs)
{
        char *buf = NULL;
        size_t len = 0;

        snap_out = open_memstream(&buf, &len);
        snap_skip = strlen(fakesys_root(fs));
        assert_int_equal(nftw(fakesys_root(fs), snap_entry, 32, FTW_PHYS), 0);
        fclose(snap_out);
        return buf;
}

/* Equal snapshots, or a failure that shows the lines that changed. */
static void assert_same_tree(const char *before, const char *after)
{
        _cleanup_strv_free_ char **a = NULL, **b = NULL;

        if (streq(before, after))
                return;
        assert_int_equal(strv_split(before, "\n", &a), 0);
        assert_int_equal(strv_split(after, "\n", &b), 0);
        STRV_FOREACH (l, b)
                if (!strv_contains(a, *l))
                        print_error("changed or new: %s\n", *l);
        STRV_FOREACH (l, a)
                if (!strv_contains(b, *l))
                        print_error("was: %s\n", *l);
        fail_msg("the tree changed");
}

static void assert_driver(fakesys *fs, const char *addr, const char *want)
{
        _cleanup_free_ char *d = fakesys_driver(fs, addr);

        if (!streq_ptr(d, want))
                fail_msg("%s is on '%s', not '%s'", addr, strempty(d), strempty(want));
}

static void assert_host_as_before(fakesys *fs)
{
        assert_driver(fs, "0000:00:05.0", "bochs-drm");
        assert_driver(fs, "0000:00:05.1", "snd_hda_intel");
        assert_false(fakesys_exists(fs, "/run/gpu-handover/win11.journal"));
        assert_false(fakesys_exists(fs, "/dev/vfio/2"));
}

static void test_plan_lists_and_changes_nothing(void **state)
{
        fakesys *fs = *state;
        _cleanup_free_ char *before = NULL, *after = NULL, *xml = opt_in_xml(fs, "# all defaults\n");
        run r;

        before = snapshot(fs);
        r = tool(fs, NULL, "plan", "win11", "--xml", xml, NULL);
        assert_status(&r, 0);
        assert_non_null(strstr(r.out, "0000:00:05.0"));
        assert_non_null(strstr(r.out, "0000:00:05.1"));
        /* bochs-drm is built in here: the steps unbind rather than unload. */
        assert_non_null(strstr(r.out, "unbind 0000:00:05.0 from 'bochs-drm'"));
        assert_non_null(strstr(r.out, "bind 0000:00:05.1 to vfio-pci"));
        assert_true(strstr(r.out, "set driver_override of 0000:00:05.0") < strstr(r.out, "bind 0000:00:05.0 to"));
        assert_non_null(strstr(r.out, "nothing was changed"));
        after = snapshot(fs);
        assert_same_tree(before, after);
        run_done(&r);
}

/* bochs a loaded module whose file for the running kernel is gone: plan says why the hook would refuse. */
static void test_plan_refuses_module_not_reloadable(void **state)
{
        fakesys *fs = *state;
        _cleanup_free_ char *xml = NULL;
        run r;

        fakesys_add_driver(fs, "bochs-drm", "bochs");
        xml = opt_in_xml(fs, "");
        r = tool(fs, NULL, "plan", "win11", "--xml", xml, NULL);
        assert_status(&r, 1);
        assert_non_null(strstr(r.err,
                               "gpu-handover: domain 'win11': module 'bochs' cannot be loaded again after "
                               "the hand-over: no file for the running kernel "));
        assert_string_equal(r.out, "");
        run_done(&r);
}

/* `plan` names what is held and by whom, and who will be stopped as a unit or signalled. */
static void test_plan_names_pins(void **state)
{
        fakesys *fs = *state;
        const char *root = fakesys_root(fs);
        _cleanup_free_ char *xml = opt_in_xml(fs, "");
        const char *end;
        run r;

        fakesys_add_i2c(fs, "0000:00:05.0", NULL, 5);
        pf_proc_pid(root, 4242, "ddcutil", "/user.slice/user-1000.slice/session-3.scope", "/usr/bin/ddcutil",
                    100);
        pf_proc_hold(root, 4242, 3, "/dev/i2c-5");
        pf_proc_pid(root, 4343, "ollama", "/system.slice/ollama.service", "/usr/bin/ollama", 100);
        pf_proc_hold(root, 4343, 3, "/dev/dri/card0");
        pf_proc_pid(root, 4444, "llama",
                    "/user.slice/user-1000.slice/user@1000.service/app.slice/llama.service",
                    "/usr/bin/llama", 100);
        pf_proc_hold(root, 4444, 3, "/dev/dri/card0");
        pf_proc_pid(root, 4545, "tts", "/user.slice/user-1000.slice/user@1000.service/app.slice/tts.service",
                    "/usr/bin/tts", 100);
        pf_proc_hold(root, 4545, 3, "/dev/snd/pcmC0D0p");
        r = tool(fs, NULL, "plan", "win11", "--xml", xml, NULL);
        assert_status(&r, 0);
        assert_non_null(strstr(
                r.out, "pid 4242 (ddcutil) holds /dev/i2c-5 (DDC of 0000:00:05.0), unit session-3.scope\n"));
        assert_non_null(strstr(r.out,
                               "pid 4242 (ddcutil) holds /dev/i2c-5 (DDC of 0000:00:05.0), owned by a "
                               "session: signal pid 4242"));
        /* No system bus under a fake root: its unit cannot be stopped. */
        assert_non_null(strstr(r.out,
                               "pid 4343 (ollama) holds /dev/dri/card0, owned by system unit "
                               "'ollama.service': signal pid 4343: systemd could not be asked to stop its "
                               "unit"));
        /* A user's service is stopped through that user's manager, whose uid its cgroup names; one that
         * holds the DRM card is a compositor: the graphical session's case. */
        /* A holder of the audio function is left running: the unbind comes first, and the card's clients
         * close it on the disconnect. */
        assert_non_null(strstr(r.out,
                               "pid 4545 (tts) holds /dev/snd/pcmC0D0p, owned by user unit 'tts.service' "
                               "of user 1000: left running: it should close the card when 0000:00:05.1 is "
                               "unbound from 'snd_hda_intel'; signal pid 4545 only if it still holds it "
                               "after 5 s"));
        assert_non_null(strstr(r.out, "release audio 0000:00:05.1 from 'snd_hda_intel': unbind first, its "
                                      "clients close on disconnect; after 5 s, end who still holds "
                                      "/dev/snd/controlC0, /dev/snd/pcmC0D0p (SIGTERM, 5s grace, SIGKILL); "
                                      "the unbind then completes (undo: probe it back to 'snd_hda_intel')"));
        assert_null(strstr(r.out, "stop user unit 'tts.service'"));
        end = strstr(r.out, "end processes still holding ");
        assert_non_null(end);
        assert_null(memmem(end, strcspn(end, "\n"), "/dev/snd/", 9));
        assert_non_null(strstr(r.out,
                               "pid 4444 (llama) holds /dev/dri/card0, owned by user unit 'llama.service' "
                               "of user 1000: the graphical session: display_manager = auto decides: there "
                               "is no display manager, so it will be signalled"));
        assert_non_null(strstr(r.out, "end processes still holding /dev/dri/card0, /dev/i2c-5"));
        run_done(&r);
}

/* A compositor (a user unit) took card0 through logind: PID 1 (its fd store) and systemd-logind hold it
 * too. Through the real scan, `plan` calls neither protected, and plans the wait for them after the
 * holders' end and before the unbind. */
static void test_plan_logind_copies(void **state)
{
        fakesys *fs = *state;
        const char *root = fakesys_root(fs);
        _cleanup_free_ char *xml = fakesys_path(fs, "/win11.xml");
        const char *end, *wait, *unbind;
        run r;

        opt_in(fs, "");
        write_file(fs, "/win11.xml", domain_xml, 0644);
        pf_proc_pid(root, 1, "systemd", "/init.scope", "/usr/lib/systemd/systemd", 1);
        pf_proc_hold(root, 1, 40, "/dev/dri/card0");
        pf_proc_pid(root, 412, "systemd-logind", "/system.slice/systemd-logind.service",
                    "/usr/lib/systemd/systemd-logind", 50);
        pf_proc_hold(root, 412, 30, "/dev/dri/card0");
        pf_proc_pid(root, 1500, "gnome-shell",
                    "/user.slice/user-1000.slice/user@1000.service/session.slice/"
                    "org.gnome.Shell@wayland.service",
                    "/usr/bin/gnome-shell", 100);
        pf_proc_hold(root, 1500, 12, "/dev/dri/card0");
        r = tool(fs, NULL, "plan", "win11", "--xml", xml, NULL);
        assert_status(&r, 0);
        assert_null(strstr(r.out, "protected"));
        assert_non_null(strstr(r.out,
                               "logind keeps a copy of /dev/dri/card0 for pid 1500 (gnome-shell), which "
                               "took it, as does PID 1's fd store: not holders of their own; the "
                               "hand-over waits for them to release it once the session lets it go"));
        end = strstr(r.out, "end processes still holding /dev/dri/card0");
        wait = strstr(r.out, "wait until logind and PID 1's fd store let go of /dev/dri/card0");
        unbind = strstr(r.out, "unbind 0000:00:05.0 from 'bochs-drm'");
        assert_non_null(end);
        assert_non_null(wait);
        assert_non_null(unbind);
        assert_true(end < wait && wait < unbind);
        run_done(&r);
}

/* bochs-drm as a module: its unload makes the dma-bufs of bochs, and drm's (the GPU is the host's only
 * one), pins that `plan` names. */
static void test_plan_names_dmabuf_holders(void **state)
{
        fakesys *fs = *state;
        const char *root = fakesys_root(fs);
        _cleanup_free_ char *xml = opt_in_xml(fs, "");
        run r;

        fakesys_add_driver(fs, "bochs-drm", "bochs");
        fake_modfile_add(fs, "bochs", NULL);
        pf_proc_pid(root, 4242, "obs", "/user.slice/user-1000.slice/session-3.scope", "/usr/bin/obs", 100);
        pf_proc_dmabuf(root, 4242, 7, "", "drm");
        pf_proc_pid(root, 4343, "other", "/user.slice/user-1000.slice/session-3.scope", "/usr/bin/x", 100);
        pf_proc_dmabuf(root, 4343, 7, "", "system");
        r = tool(fs, NULL, "plan", "win11", "--xml", xml, NULL);
        assert_status(&r, 0);
        assert_non_null(strstr(r.out, "unload module 'bochs'"));
        assert_non_null(
                strstr(r.out, "pid 4242 (obs) holds a dma-buf exported by drm, unit session-3.scope\n"));
        assert_null(strstr(r.out, "pid 4343"));
        assert_non_null(strstr(r.out, "dma-bufs exported by bochs, dma-bufs exported by drm"));
        run_done(&r);
}

/* Opted in with conf, and handed over by the hook's prepare. */
static void handed_over(fakesys *fs, const char *conf)
{
        run r;

        opt_in(fs, conf);
        r = tool(fs, domain_xml, "hook", "qemu", "win11", "prepare", "begin", "-", NULL);
        assert_status(&r, 0);
        run_done(&r);
}

static void test_hook_hands_over_and_back(void **state)
{
        fakesys *fs = *state;
        _cleanup_free_ char *ovr = NULL, *journal = NULL;
        run r;

        opt_in(fs, "");
        r = tool(fs, domain_xml, "hook", "qemu", "win11", "prepare", "begin", "-", NULL);
        assert_status(&r, 0);
        assert_string_equal(r.out, "");
        assert_string_equal(r.err, "");
        assert_driver(fs, "0000:00:05.0", "vfio-pci");
        assert_driver(fs, "0000:00:05.1", "vfio-pci");
        assert_true(fakesys_exists(fs, "/dev/vfio/2"));
        ovr = fakesys_read(fs, "/sys/bus/pci/devices/0000:00:05.0/driver_override");
        assert_string_equal(ovr, "vfio-pci");
        journal = fakesys_read(fs, "/run/gpu-handover/win11.journal");
        assert_non_null(journal);
        run_done(&r);

        /* Other ops leave it alone. */
        r = tool(fs, domain_xml, "hook", "qemu", "win11", "started", "begin", "-", NULL);
        assert_status(&r, 0);
        assert_driver(fs, "0000:00:05.0", "vfio-pci");
        run_done(&r);

        r = tool(fs, domain_xml, "hook", "qemu", "win11", "release", "end", "-", NULL);
        assert_status(&r, 0);
        assert_string_equal(r.out, "");
        assert_host_as_before(fs);
        free(ovr);
        ovr = fakesys_read(fs, "/sys/bus/pci/devices/0000:00:05.0/driver_override");
        assert_string_equal(ovr, "(null)");
        run_done(&r);

        /* libvirt calls release again after a failed start: with no journal it does nothing. */
        r = tool(fs, domain_xml, "hook", "qemu", "win11", "release", "end", "-", NULL);
        assert_status(&r, 0);
        assert_host_as_before(fs);
        run_done(&r);
}

/* vfio_pci half-unloaded (its initstate 'going', as after an rmmod whose exit hangs) is not loaded: the
 * prepare fails, naming it, and rolls back, instead of taking the load for done. */
static void test_hook_fails_module_going(void **state)
{
        fakesys *fs = *state;
        run r;

        opt_in(fs, "");
        write_file(fs, "/sys/module/vfio_pci/initstate", "going\n", 0444);
        r = tool(fs, domain_xml, "hook", "qemu", "win11", "prepare", "begin", "-", NULL);
        assert_status(&r, 1);
        assert_non_null(strstr(r.err, "module 'vfio-pci' is being unloaded (its initstate is 'going')"));
        assert_host_as_before(fs);
        run_done(&r);
}

/* Another VM's process holds the GPU: nothing stopped on this host ends it, so the hook refuses before its
 * first step, naming it (a display manager stopped first would end the user's session for nothing). */
static void test_hook_refuses_vm_holder_before_any_step(void **state)
{
        fakesys *fs = *state;
        const char *root = fakesys_root(fs);
        run r;

        opt_in(fs, "");
        pf_proc_pid(root, 4242, "bash", "/machine.slice/machine-qemu\\x2d1\\x2dother.scope", "/usr/bin/bash",
                    100);
        pf_proc_hold(root, 4242, 3, "/dev/dri/card0");
        r = tool(fs, domain_xml, "hook", "qemu", "win11", "prepare", "begin", "-", NULL);
        assert_status(&r, 1);
        assert_non_null(strstr(r.err,
                               "domain 'win11': pid 4242 (bash) holds /dev/dri/card0 and is protected: VM "
                               "'other', unit machine-qemu\\x2d1\\x2dother.scope; nothing was changed"));
        assert_host_as_before(fs);
        assert_false(fakesys_exists(fs, "/run/gpu-handover/win11.journal"));
        run_done(&r);
}

/* The session is gone but logind and PID 1 never let its card go: the hook's wait-released step fails at
 * the budget naming the node and logind, and the start is rolled back with the host as it was. */
static void test_hook_logind_keeps_copy(void **state)
{
        fakesys *fs = *state;
        const char *root = fakesys_root(fs);
        run r;

        opt_in(fs, "timeout = 1\n");
        pf_proc_pid(root, 1, "systemd", "/init.scope", "/usr/lib/systemd/systemd", 1);
        pf_proc_hold(root, 1, 40, "/dev/dri/card0");
        pf_proc_pid(root, 412, "systemd-logind", "/system.slice/systemd-logind.service",
                    "/usr/lib/systemd/systemd-logind", 50);
        pf_proc_hold(root, 412, 30, "/dev/dri/card0");
        r = tool(fs, domain_xml, "hook", "qemu", "win11", "prepare", "begin", "-", NULL);
        assert_status(&r, 1);
        assert_non_null(strstr(r.err, "logind has not released its copies of the session's devices by the "
                                      "deadline: /dev/dri/card0: "));
        assert_non_null(strstr(r.err, "/dev/dri/card0: pid 1 (systemd) keeps it in its fd store"));
        assert_non_null(strstr(
                r.err, "/dev/dri/card0: pid 412 (systemd-logind) of systemd-logind.service holds it"));
        assert_null(strstr(r.err, "protected"));
        assert_host_as_before(fs);
        assert_false(fakesys_exists(fs, "/run/gpu-handover/win11.journal"));
        run_done(&r);
}

static void test_hook_not_opted_in(void **state)
{
        fakesys *fs = *state;
        _cleanup_free_ char *before = snapshot(fs), *after = NULL;
        run r = tool(fs, domain_xml, "hook", "qemu", "win11", "prepare", "begin", "-", NULL);

        assert_status(&r, 0);
        after = snapshot(fs);
        assert_same_tree(before, after);
        run_done(&r);
}

static void assert_refused(fakesys *fs, const char *conf, const char *xml, const char *why)
{
        _cleanup_free_ char *before = NULL, *after = NULL;
        run r;

        opt_in(fs, conf);
        before = snapshot(fs);
        r = tool(fs, xml, "hook", "qemu", "win11", "prepare", "begin", "-", NULL);
        assert_status(&r, 1);
        assert_string_equal(r.out, "");
        /* One line, naming the thing. */
        assert_non_null(strstr(r.err, why));
        assert_ptr_equal(strchr(r.err, '\n'), r.err + strlen(r.err) - 1);
        after = snapshot(fs);
        assert_same_tree(before, after);
        run_done(&r);
}

static void test_hook_bad_config(void **state)
{
        assert_refused(*state, "holders = terminate\ntimeout = soon\n", domain_xml, "win11.conf:2");
}

static void test_hook_unlisted_device(void **state)
{
        assert_refused(*state, "devices = 0000:00:05.0\n", domain_xml, "0000:00:05.1");
}

static void test_hook_bad_xml(void **state)
{
        assert_refused(*state, "", "<domain><devices><hostdev mode='subsystem' type='pci'>", "win11");
}

/* The XML is parsed before the hand-over lock is taken: while another domain's hand-over holds the lock,
 * an XML over budget is refused at once, not after the lock's 2 s timeout. */
static void test_hook_bad_xml_before_lock(void **state)
{
        fakesys *fs = *state;
        _cleanup_free_ char *dir = fakesys_path(fs, "/run/gpu-handover"), *lock = NULL;
        _cleanup_free_ char *xml = strdup("<domain><name>win11</name><metadata");
        _cleanup_close_ int fd = -1;

        for (unsigned i = 0; xml && i < 300; i++) {
                char *more = NULL;

                assert_true(asprintf(&more, "%s a%u='1'", xml, i) > 0);
                free(xml);
                xml = more;
        }
        assert_true(asprintf(&lock, "%s/lock", dir) > 0);
        assert_int_equal(mkdir_p(dir, 0700), 0);
        fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(flock(fd, LOCK_EX), 0);
        assert_refused(fs, "timeout = 2\n", xml, "element <metadata> has more than 256 attributes");
}

/* A driver stuck in unbind keeps the kernel's lock of its device: the rollback must not write that
 * device's files (the write would wait for the lock for ever), so it leaves it, keeps the journal, and
 * gives the other function back. */
static void test_hook_stuck_unbind_does_not_hang(void **state)
{
        fakesys *fs = *state;
        _cleanup_free_ char *override = NULL;
        spawned sp;
        run r;

        opt_in(fs, "timeout = 2\n");
        fakesys_block_unbind(fs, "0000:00:05.1");
        sp = tool_spawn(fs, domain_xml,
                        (const char *[]){"hook", "qemu", "win11", "prepare", "begin", "-", NULL});
        /* The budget bounds the wait: the tool did not hang on the stuck driver. */
        r = tool_wait_until(&sp, deadline_after(20 * USEC_PER_SEC));
        assert_status(&r, 1);
        assert_non_null(strstr(r.err, "0000:00:05.1 is stuck: its unbind (driver 'snd_hda_intel')"));
        assert_non_null(strstr(r.err, "the journal is kept"));
        assert_true(fakesys_exists(fs, "/run/gpu-handover/win11.journal"));
        assert_driver(fs, "0000:00:05.0", "bochs-drm");
        override = fakesys_read(fs, "/sys/bus/pci/devices/0000:00:05.0/driver_override");
        assert_string_equal(override, "(null)");
        run_done(&r);
}

/* A release waits for the lock longer than a prepare (any domain's) may hold it, not only its own
 * timeout: giving up would leave the devices with vfio-pci until 'restore'. */
static void test_release_waits_for_the_lock(void **state)
{
        fakesys *fs = *state;
        _cleanup_free_ char *lock = fakesys_path(fs, "/run/gpu-handover/lock");
        _cleanup_close_ int fd = -1;
        usec_t start;
        spawned sp;
        run r;

        handed_over(fs, "timeout = 1\n");
        fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(flock(fd, LOCK_EX), 0);
        start = now_usec();
        sp = tool_spawn(fs, NULL, (const char *[]){"hook", "qemu", "win11", "release", "end", "-", NULL});
        (void)deadline_sleep(deadline_after(2500 * USEC_PER_MSEC), 2500 * USEC_PER_MSEC);
        close(TAKE_FD(fd));
        r = tool_wait_until(&sp, deadline_after(20 * USEC_PER_SEC));
        assert_status(&r, 0);
        assert_true(now_usec() - start >= 2500 * USEC_PER_MSEC);
        assert_host_as_before(fs);
        run_done(&r);
}

/* The tool with args, killed at a deadline that no command here needs to come near: the test fails if it
 * still runs then, as it would asleep on a device's lock. */
static run tool_bounded(fakesys *fs, const char *in, const char *const *args)
{
        spawned sp = tool_spawn(fs, in, args);

        return tool_wait_until(&sp, deadline_after(20 * USEC_PER_SEC));
}

/* The kernel holds the device's lock while an unbind is stuck, and every read or write of the device's
 * driver_override waits for it. The prepare that saw it lists the function in /run/gpu-handover/stuck;
 * every process after it (libvirt's release, restore, status, plan, check, another domain's prepare)
 * reads the list first, leaves the function alone, and says so in one line naming it and its driver. */
static void test_stuck_unbind_later_commands_return(void **state)
{
        fakesys *fs = *state;
        _cleanup_free_ char *xml = opt_in_xml(fs, "timeout = 2\n");
        _cleanup_free_ char *list = NULL, *xml10 = strdup(domain_xml);
        _cleanup_free_ char *list_path = fakesys_path(fs, "/run/gpu-handover/stuck");
        struct stat st;
        static const char stuck_line[] = "0000:00:05.0 is stuck: its unbind (driver 'bochs-drm') has not finished since ";
        run r;

        write_file(fs, "/etc/gpu-handover/domains/win10.conf", "timeout = 2\n", 0644);
        fakesys_block_unbind(fs, "0000:00:05.0");
        r = tool_bounded(fs, domain_xml,
                         (const char *[]){"hook", "qemu", "win11", "prepare", "begin", "-", NULL});
        assert_status(&r, 1);
        assert_non_null(strstr(r.err, stuck_line));
        run_done(&r);
        /* Root's, 0600, in the run dir: one line for the function, naming the access and the driver. */
        list = fakesys_read(fs, "/run/gpu-handover/stuck");
        assert_true(startswith(list, "0000:00:05.0 unbind "));
        assert_true(endswith(list, " bochs-drm"));
        assert_int_equal(stat(list_path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        /* The journal kept for the rollback names it too: which hand-over left it stuck. */
        free(list);
        list = fakesys_read_all(fs, "/run/gpu-handover/win11.journal");
        assert_non_null(strstr(list, "\nstuck 0000:00:05.0 unbind "));

        r = tool_bounded(fs, domain_xml,
                         (const char *[]){"hook", "qemu", "win11", "release", "end", "-", NULL});
        assert_status(&r, 1);
        assert_non_null(strstr(r.err, stuck_line));
        assert_true(fakesys_exists(fs, "/run/gpu-handover/win11.journal"));
        assert_driver(fs, "0000:00:05.1", "snd_hda_intel");
        run_done(&r);

        r = tool_bounded(fs, NULL, (const char *[]){"restore", "win11", NULL});
        assert_status(&r, 1);
        assert_non_null(strstr(r.err, stuck_line));
        run_done(&r);

        /* Another domain with the same GPU: refused before anything changes. */
        memcpy(strstr(xml10, "win11"), "win10", 5);
        r = tool_bounded(fs, xml10,
                         (const char *[]){"hook", "qemu", "win10", "prepare", "begin", "-", NULL});
        assert_status(&r, 1);
        assert_non_null(strstr(r.err, stuck_line));
        assert_false(fakesys_exists(fs, "/run/gpu-handover/win10.journal"));
        run_done(&r);

        r = tool_bounded(fs, NULL, (const char *[]){"status", NULL});
        assert_status(&r, 0);
        assert_non_null(strstr(r.out,
                               "0000:00:05.0  1234:1111  driver bochs-drm  boot VGA\n"
                               "    driver_override: (unknown: the function is stuck, see below)\n"));
        assert_non_null(strstr(r.out, "  win11: "));
        assert_non_null(strstr(r.out, "\n    0000:00:05.0 got stuck during this hand-over: its unbind (driver "
                                      "'bochs-drm') did not finish (since "));
        assert_non_null(strstr(r.out, "\nStuck functions (/run/gpu-handover/stuck):\n  "));
        assert_non_null(strstr(r.out, stuck_line));
        run_done(&r);

        r = tool_bounded(fs, NULL, (const char *[]){"status", "--json", NULL});
        assert_status(&r, 0);
        assert_non_null(strstr(r.out, "\"driver_override_error\":\"the function is stuck, see below\""));
        assert_non_null(strstr(r.out, "\"domain\":\"win11\""));
        assert_non_null(strstr(r.out, "],\"stuck\":[{\"address\":\"0000:00:05.0\",\"access\":\"unbind\""));
        assert_non_null(strstr(r.out, "\"stuck\":[{\"address\":\"0000:00:05.0\",\"access\":\"unbind\","
                                      "\"driver\":\"bochs-drm\",\"since_usec\":"));
        run_done(&r);

        r = tool_bounded(fs, NULL, (const char *[]){"plan", "win11", "--xml", xml, NULL});
        assert_status(&r, 1);
        assert_non_null(strstr(r.err, stuck_line));
        run_done(&r);

        r = tool_bounded(fs, NULL, (const char *[]){"check", "win11", "--xml", xml, NULL});
        assert_status(&r, 1);
        assert_non_null(strstr(r.out, stuck_line));
        run_done(&r);
}

/* A function stuck in another domain's hand-over keeps its lock: this domain's plan and prepare read only
 * the overrides of the functions they involve, and do not wait for it. */
static void test_other_locked_function_ignored(void **state)
{
        fakesys *fs = *state;
        run r;

        fakesys_add_dev(fs, "0000:00:06.0", 0x030000, 0x1234, 0x1111, 3);
        fakesys_bind(fs, "0000:00:06.0", "bochs-drm");
        fakesys_lock_dev(fs, "0000:00:06.0");
        opt_in(fs, "");
        r = tool_bounded(fs, domain_xml,
                         (const char *[]){"hook", "qemu", "win11", "prepare", "begin", "-", NULL});
        assert_status(&r, 0);
        assert_driver(fs, "0000:00:05.0", "vfio-pci");
        assert_driver(fs, "0000:00:05.1", "vfio-pci");
        run_done(&r);
        r = tool_bounded(fs, domain_xml,
                         (const char *[]){"hook", "qemu", "win11", "release", "end", "-", NULL});
        assert_status(&r, 0);
        assert_host_as_before(fs);
        run_done(&r);
}

/* A QEMU stand-in in the fake /proc, holding the VFIO group node; gone when not running. */
static void fake_vm(fakesys *fs, bool running)
{
        const char *root = fakesys_root(fs);

        if (!running) {
                pf_remove(root, "/proc/4242");
                return;
        }
        pf_write(root, "/proc/4242/comm", "qemu-system-x86\n");
        pf_write(root, "/proc/4242/maps", "");
        pf_symlink(root, "/proc/4242/fd/12", "/dev/vfio/2");
}

/* Undoing under a running VM would unbind vfio-pci from devices in use, which blocks in the kernel:
 * refused, naming the VM's process, with nothing undone; once the VM is gone it goes through. */
static void test_release_refused_while_vm_runs(void **state)
{
        fakesys *fs = *state;
        const char *const restore[] = {"restore", "win11", NULL};
        const char *const release[] = {"hook", "qemu", "win11", "release", "end", "-", NULL};
        const char *const *cmds[] = {restore, release};
        run r;

        handed_over(fs, "");
        fake_vm(fs, true);
        for (size_t i = 0; i < ELEMENTSOF(cmds); i++) {
                spawned sp = tool_spawn(fs, NULL, cmds[i]);

                r = tool_wait_until(&sp, deadline_after(20 * USEC_PER_SEC));
                assert_status(&r, 1);
                assert_non_null(strstr(r.err, "pid 4242 (qemu-system-x86)"));
                assert_non_null(strstr(r.err, "/dev/vfio/2"));
                assert_true(fakesys_exists(fs, "/run/gpu-handover/win11.journal"));
                assert_driver(fs, "0000:00:05.0", "vfio-pci");
                assert_driver(fs, "0000:00:05.1", "vfio-pci");
                run_done(&r);
        }
        fake_vm(fs, false);
        r = tool(fs, NULL, "restore", "win11", NULL);
        assert_status(&r, 0);
        assert_host_as_before(fs);
        run_done(&r);
}

#define QEMU_EXE "/usr/bin/qemu-system-x86_64"
#define PID_FILE "/run/libvirt/qemu/win11.pid"
/* The start of QEMU's command line as libvirt 9.0 writes it, NUL-separated. */
#define QEMU_CMDLINE(dom) QEMU_EXE "\0-name\0guest=" dom ",debug-threads=on\0-S"

static void write_bytes(fakesys *fs, const char *rel, const char *bytes, size_t n)
{
        _cleanup_free_ char *p = fakesys_path(fs, rel);
        _cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, bytes, n), (ssize_t)n);
}

/* Hands the devices over, then gives 05.0 the cdev vfio0 that vfio-pci adds on kernels with VFIO cdevs
 * (the fake kernel makes only the group's node). */
static void handed_over_with_cdev(fakesys *fs)
{
        handed_over(fs, "");
        fakesys_add_vfio_cdev(fs, "0000:00:05.0", 0);
}

/* restore and release end are both refused with one line holding every part of want; nothing undone. */
static void assert_release_refused(fakesys *fs, const char *const *want)
{
        const char *const restore[] = {"restore", "win11", NULL};
        const char *const release[] = {"hook", "qemu", "win11", "release", "end", "-", NULL};
        const char *const *cmds[] = {restore, release};

        for (size_t i = 0; i < ELEMENTSOF(cmds); i++) {
                spawned sp = tool_spawn(fs, NULL, cmds[i]);
                run r = tool_wait_until(&sp, deadline_after(20 * USEC_PER_SEC));

                assert_status(&r, 1);
                for (const char *const *w = want; *w; w++)
                        if (!strstr(r.err, *w))
                                fail_msg("'%s' not in: %s", *w, r.err);
                assert_ptr_equal(strchr(r.err, '\n'), r.err + strlen(r.err) - 1);
                assert_true(fakesys_exists(fs, "/run/gpu-handover/win11.journal"));
                assert_driver(fs, "0000:00:05.0", "vfio-pci");
                assert_driver(fs, "0000:00:05.1", "vfio-pci");
                run_done(&r);
        }
}

static void assert_restores(fakesys *fs)
{
        run r = tool(fs, NULL, "restore", "win11", NULL);

        assert_status(&r, 0);
        assert_host_as_before(fs);
        run_done(&r);
}

/* A QEMU using iommufd opens the function's cdev and /dev/iommu, never the group's node: still in use. */
static void test_release_refused_while_cdev_held(void **state)
{
        static const char *const want[] = {"domain 'win11': pid 4242 (qemu-system-x86) still has "
                                           "/dev/vfio/devices/vfio0 open (and /dev/iommu)",
                                           "nothing was undone", NULL};
        fakesys *fs = *state;
        const char *root = fakesys_root(fs);

        handed_over_with_cdev(fs);
        pf_proc_pid(root, 4242, "qemu-system-x86", NULL, QEMU_EXE, 100);
        pf_proc_hold(root, 4242, 20, "/dev/iommu");
        pf_proc_hold(root, 4242, 21, "/dev/vfio/devices/vfio0");
        assert_release_refused(fs, want);
        pf_remove(root, "/proc/4242");
        assert_restores(fs);
}

/* Every iommufd user holds /dev/iommu: that alone says nothing about these devices. */
static void test_release_not_refused_for_iommu_alone(void **state)
{
        fakesys *fs = *state;

        handed_over_with_cdev(fs);
        pf_proc_pid(fakesys_root(fs), 4343, "qemu-system-x86", NULL, QEMU_EXE, 100);
        pf_proc_hold(fakesys_root(fs), 4343, 20, "/dev/iommu");
        assert_restores(fs);
}

/* libvirt's pid file names a running QEMU (whatever it holds): the VM runs. */
static void test_release_refused_while_pid_file_names_qemu(void **state)
{
        static const char *const want[] = {"domain 'win11': pid 4242 (qemu-system-x86), which " PID_FILE
                                           " names, still runs",
                                           "nothing was undone", NULL};
        fakesys *fs = *state;
        const char *root = fakesys_root(fs);

        handed_over_with_cdev(fs);
        pf_write(root, PID_FILE, "4242");
        pf_proc_pid(root, 4242, "qemu-system-x86", NULL, QEMU_EXE " (deleted)", 100);
        pf_write(root, "/proc/4242/maps", "");
        pf_mkdir(root, "/proc/4242/fd");
        assert_release_refused(fs, want);
        /* Its -name is this domain: still this VM. */
        write_bytes(fs, "/proc/4242/cmdline", QEMU_CMDLINE("win11"), sizeof(QEMU_CMDLINE("win11")));
        assert_release_refused(fs, want);
        pf_remove(root, "/proc/4242");
        assert_restores(fs);
}

/* A pid file left behind names a pid that exited, or that another program has now: not a VM. */
static void test_release_not_refused_for_stale_pid_file(void **state)
{
        fakesys *fs = *state;
        const char *root = fakesys_root(fs);

        handed_over_with_cdev(fs);
        pf_write(root, PID_FILE, "4242\n");
        pf_proc_pid(root, 4242, "qemu-system-x86", NULL, "/usr/bin/bash", 100);
        pf_write(root, "/proc/4242/maps", "");
        pf_mkdir(root, "/proc/4242/fd");
        assert_restores(fs);

        handed_over_with_cdev(fs);
        pf_remove(root, "/proc/4242");
        assert_restores(fs);

        /* The pid is another domain's QEMU by now: its -name says so. */
        handed_over_with_cdev(fs);
        pf_proc_pid(root, 4242, "qemu-system-x86", NULL, QEMU_EXE, 100);
        write_bytes(fs, "/proc/4242/cmdline", QEMU_CMDLINE("win10"), sizeof(QEMU_CMDLINE("win10")));
        pf_write(root, "/proc/4242/maps", "");
        pf_mkdir(root, "/proc/4242/fd");
        assert_restores(fs);
}

static int journal_steps(fakesys *fs)
{
        _cleanup_free_ char *p = fakesys_path(fs, "/run/gpu-handover/win11.journal"), *text = NULL;
        int n = 0;

        if (read_full_file(p, 1 << 20, &text, NULL) < 0)
                return -1;
        for (char *s = text; (s = strchr(s, '\n')); s++)
                n++;
        return n - 1;
}

static void test_restore_after_kill(void **state)
{
        fakesys *fs = *state;
        usec_t deadline = deadline_after(20 * USEC_PER_SEC);
        spawned sp;
        run r;

        opt_in(fs, "");
        setenv("GH_TEST_PAUSE_AFTER_STEP", "5", 1);
        sp = tool_spawn(fs, domain_xml, (const char *[]){"hook", "qemu", "win11", "prepare", "begin", "-", NULL});
        unsetenv("GH_TEST_PAUSE_AFTER_STEP");
        /* Steps: release-audio 05.1, end-holders, two overrides, unbind 05.0; then it pauses and dies, as
         * in a crash. */
        while (journal_steps(fs) < 5)
                assert_true(deadline_sleep(deadline, 20 * USEC_PER_MSEC));
        assert_true(deadline_sleep(deadline, 200 * USEC_PER_MSEC));
        assert_int_equal(kill(sp.pid, SIGKILL), 0);
        r = tool_wait(&sp);
        assert_int_equal(r.status, 128 + SIGKILL);
        run_done(&r);
        assert_driver(fs, "0000:00:05.0", NULL);

        r = tool(fs, NULL, "status", NULL);
        assert_status(&r, 0);
        assert_non_null(strstr(r.out, "win11: 5 step(s) done; nothing bound to vfio-pci yet"));
        run_done(&r);

        r = tool(fs, NULL, "restore", "win11", NULL);
        assert_status(&r, 0);
        assert_host_as_before(fs);
        run_done(&r);
}

/* Killed right after the audio function's release, before its override: restore, from the journal alone,
 * probes it back to its host driver (the card comes back to PipeWire). */
static void test_restore_after_audio_release(void **state)
{
        fakesys *fs = *state;
        usec_t deadline = deadline_after(20 * USEC_PER_SEC);
        _cleanup_free_ char *journal = NULL;
        spawned sp;
        run r;

        opt_in(fs, "");
        setenv("GH_TEST_PAUSE_AFTER_STEP", "1", 1);
        sp = tool_spawn(fs, domain_xml,
                        (const char *[]){"hook", "qemu", "win11", "prepare", "begin", "-", NULL});
        unsetenv("GH_TEST_PAUSE_AFTER_STEP");
        while (journal_steps(fs) < 1)
                assert_true(deadline_sleep(deadline, 20 * USEC_PER_MSEC));
        assert_true(deadline_sleep(deadline, 200 * USEC_PER_MSEC));
        assert_int_equal(kill(sp.pid, SIGKILL), 0);
        r = tool_wait(&sp);
        assert_int_equal(r.status, 128 + SIGKILL);
        run_done(&r);
        journal = fakesys_read_all(fs, "/run/gpu-handover/win11.journal");
        assert_non_null(strstr(journal, "release-audio addr=0000:00:05.1 driver=snd_hda_intel "
                                        "nodes=/dev/snd/controlC0,/dev/snd/pcmC0D0p mode=terminate grace=5 "
                                        "wait=5\n"));
        assert_driver(fs, "0000:00:05.1", NULL);
        assert_driver(fs, "0000:00:05.0", "bochs-drm");

        r = tool(fs, NULL, "restore", "win11", NULL);
        assert_status(&r, 0);
        assert_host_as_before(fs);
        run_done(&r);
}

/* Replaces the journal's load-module line (its undo is none) with one whose module name is bad; returns
 * its line number. */
static unsigned journal_spoil_load_line(fakesys *fs)
{
        _cleanup_free_ char *p = fakesys_path(fs, "/run/gpu-handover/win11.journal"), *text = NULL;
        unsigned lineno = 1;
        char *line, *name;
        FILE *f;

        assert_int_equal(read_full_file(p, 1 << 20, &text, NULL), 0);
        line = strstr(text, "\nload-module name=");
        assert_non_null(line);
        for (char *s = text; s <= line; s++)
                lineno += *s == '\n';
        name = line + strlen("\nload-module name=");
        name[strcspn(name, "\n")] = 0;
        /* The same length, so the rest of the file stays as it was. */
        memset(name, '.', 1);
        name[strlen(name)] = '\n';
        f = fopen(p, "we");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        return lineno;
}

/* One bad line refuses the journal, naming it and pointing at --best-effort, which undoes the rest, names
 * the line and exits 1. */
static void test_restore_best_effort_skips_bad_line(void **state)
{
        fakesys *fs = *state;
        _cleanup_free_ char *where = NULL, *skipped = NULL;
        unsigned lineno;
        run r;

        handed_over(fs, "");
        lineno = journal_spoil_load_line(fs);
        assert_true(asprintf(&where, "/run/gpu-handover/win11.journal:%u: bad module name '.", lineno) > 0);

        r = tool(fs, NULL, "restore", "win11", NULL);
        assert_status(&r, 1);
        assert_non_null(strstr(r.err, where));
        assert_non_null(strstr(r.err, "'gpu-handover restore --best-effort win11'"));
        assert_driver(fs, "0000:00:05.0", "vfio-pci");
        assert_true(fakesys_exists(fs, "/run/gpu-handover/win11.journal"));
        run_done(&r);

        r = tool(fs, NULL, "restore", "--best-effort", "win11", NULL);
        assert_status(&r, 1);
        assert_true(asprintf(&skipped, "%s", where) > 0);
        assert_non_null(strstr(r.err, skipped));
        assert_non_null(strstr(r.err, "skipped, undo it by hand"));
        assert_non_null(strstr(r.out, "line(s) of the journal skipped"));
        assert_host_as_before(fs);
        run_done(&r);
}

static void test_status_lists_gpus(void **state)
{
        fakesys *fs = *state;
        run r = tool(fs, NULL, "status", NULL);

        assert_status(&r, 0);
        assert_non_null(strstr(r.out, "0000:00:05.0  1234:1111  driver bochs-drm  boot VGA"));
        assert_non_null(strstr(r.out, "2: 0000:00:05.0 (bochs-drm) 0000:00:05.1 (snd_hda_intel)"));
        assert_null(strstr(r.out, "0000:00:05.1  8086"));
        run_done(&r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_plan_lists_and_changes_nothing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_plan_refuses_module_not_reloadable, setup, teardown),
                cmocka_unit_test_setup_teardown(test_plan_logind_copies, setup, teardown),
                cmocka_unit_test_setup_teardown(test_plan_names_pins, setup, teardown),
                cmocka_unit_test_setup_teardown(test_plan_names_dmabuf_holders, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hook_hands_over_and_back, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hook_fails_module_going, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hook_logind_keeps_copy, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hook_refuses_vm_holder_before_any_step, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_hook_not_opted_in, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hook_bad_config, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hook_unlisted_device, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hook_bad_xml, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hook_bad_xml_before_lock, setup, teardown),
                cmocka_unit_test_setup_teardown(test_release_waits_for_the_lock, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hook_stuck_unbind_does_not_hang, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stuck_unbind_later_commands_return, setup, teardown),
                cmocka_unit_test_setup_teardown(test_other_locked_function_ignored, setup, teardown),
                cmocka_unit_test_setup_teardown(test_release_refused_while_vm_runs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_release_refused_while_cdev_held, setup, teardown),
                cmocka_unit_test_setup_teardown(test_release_not_refused_for_iommu_alone, setup, teardown),
                cmocka_unit_test_setup_teardown(test_release_refused_while_pid_file_names_qemu, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_release_not_refused_for_stale_pid_file, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_restore_after_kill, setup, teardown),
                cmocka_unit_test_setup_teardown(test_restore_after_audio_release, setup, teardown),
                cmocka_unit_test_setup_teardown(test_restore_best_effort_skips_bad_line, setup, teardown),
                cmocka_unit_test_setup_teardown(test_status_lists_gpus, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
