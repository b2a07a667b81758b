/* The check core: host, hook, config, XML, device and plan facts built in code, and the PASS/WARN/FAIL
 * line (with its hint) each one must give. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/check.h"
#include "facts-build.h"
#include "shared/strv.h"

#define HOOK_BIN "/usr/libexec/gpu-handover/qemu-hook"
#define T0 ((usec_t)1700000000 * USEC_PER_SEC)

/* ---- finding lines ---- */

static void dump(const gh_checks *c)
{
        for (size_t i = 0; i < c->n; i++)
                print_message("  %s  %s: %s [hint: %s]\n", gh_check_level_to_string(c->items[i].level),
                              c->items[i].title, c->items[i].detail, strempty(c->items[i].hint));
}

static const gh_check *find(const gh_checks *c, const char *title, const char *needle)
{
        for (size_t i = 0; i < c->n; i++)
                if (streq(c->items[i].title, title) && (!needle || strstr(c->items[i].detail, needle)))
                        return &c->items[i];
        return NULL;
}

/* The line titled title whose detail holds needle: at level, with a hint exactly when not PASS. */
static const gh_check *assert_line(const gh_checks *c, gh_check_level level, const char *title,
                                   const char *needle)
{
        const gh_check *k = find(c, title, needle);

        if (!k) {
                dump(c);
                fail_msg("no line '%s' saying '%s'", title, strempty(needle));
                return NULL;
        }
        if (k->level != level) {
                dump(c);
                fail_msg("'%s: %s' is %s, not %s", title, k->detail, gh_check_level_to_string(k->level),
                         gh_check_level_to_string(level));
        }
        if ((level == GH_CHECK_PASS) != !k->hint)
                fail_msg("'%s: %s': hint '%s' on a %s line", title, k->detail, strempty(k->hint),
                         gh_check_level_to_string(level));
        return k;
}

static void assert_hint(const gh_check *k, const char *needle)
{
        if (!k->hint || !strstr(k->hint, needle))
                fail_msg("'%s: %s': hint '%s' lacks '%s'", k->title, k->detail, strempty(k->hint), needle);
}

static void assert_no_line(const gh_checks *c, const char *title)
{
        if (find(c, title, NULL)) {
                dump(c);
                fail_msg("unexpected line '%s'", title);
        }
}

/* ---- the host ---- */

static void entry(gh_hook_entry *e, const char *path, const char *target, bool ok, usec_t mtime)
{
        gh_hook_entry_done(e);
        *e = (gh_hook_entry){
                .path = strdup(path), .present = target != NULL || mtime, .target_ok = ok, .mtime = mtime};
        if (target)
                e->target = strdup(target);
}

static void add_daemon(gh_host_check *h, const char *name, pid_t pid, usec_t start)
{
        h->daemons = realloc(h->daemons, sizeof(gh_daemon) * (h->n_daemons + 1));
        assert_non_null(h->daemons);
        h->daemons[h->n_daemons++] = (gh_daemon){.name = strdup(name), .pid = pid, .start = start};
}

/* Intel with VT-d, vfio loaded, the hook linked at T0 and libvirtd started an hour later. */
static void good_host(gh_host_check *h)
{
        *h = (gh_host_check){.cpu_flag = strdup("vmx"),
                             .n_iommu_groups = 14,
                             .vfio = GH_MODULE_AVAIL_LOADED,
                             .vfio_pci = GH_MODULE_AVAIL_LOADED,
                             .modules_dir = strdup("/lib/modules/6.1.0-9")};
        assert_int_equal(strv_split("dmar0 dmar1", " ", &h->iommu_units), 0);
        entry(&h->hook, "/etc/libvirt/hooks/qemu", HOOK_BIN, true, T0);
        entry(&h->dropin, "/etc/libvirt/hooks/qemu.d/gpu-handover", NULL, false, 0);
        add_daemon(h, "libvirtd", 812, T0 + 3600 * USEC_PER_SEC);
}

static void host_lines(const gh_host_check *h, gh_checks *c)
{
        gh_checks_done(c);
        assert_int_equal(gh_check_host(c, h), 0);
        assert_int_equal(gh_check_hook(c, h), 0);
}

static void test_good_host_passes(void **state)
{
        _cleanup_(gh_host_check_done) gh_host_check h = {};
        _cleanup_(gh_checks_done) gh_checks c = {};

        good_host(&h);
        host_lines(&h, &c);
        assert_line(&c, GH_CHECK_PASS, "CPU virtualisation", "Intel VT-x");
        assert_line(&c, GH_CHECK_PASS, "IOMMU", "dmar0, dmar1; 14 IOMMU groups");
        assert_line(&c, GH_CHECK_PASS, "module vfio", "loaded");
        assert_line(&c, GH_CHECK_PASS, "module vfio-pci", "loaded");
        assert_line(&c, GH_CHECK_PASS, "libvirt hook", "'/etc/libvirt/hooks/qemu' -> '" HOOK_BIN "'");
        assert_line(&c, GH_CHECK_PASS, "libvirt daemon", "libvirtd (pid 812) started after");
        assert_int_equal(gh_checks_worst(&c), GH_CHECK_PASS);
}

static void test_cpu_levels(void **state)
{
        _cleanup_(gh_host_check_done) gh_host_check h = {};
        _cleanup_(gh_checks_done) gh_checks c = {};

        good_host(&h);
        free(h.cpu_flag);
        h.cpu_flag = strdup("svm");
        host_lines(&h, &c);
        assert_line(&c, GH_CHECK_PASS, "CPU virtualisation", "AMD-V ('svm' flag");
        free(h.cpu_flag);
        h.cpu_flag = NULL;
        host_lines(&h, &c);
        assert_hint(assert_line(&c, GH_CHECK_FAIL, "CPU virtualisation", "no vmx or svm flag"), "firmware");
        assert_int_equal(gh_checks_worst(&c), GH_CHECK_FAIL);
        h.cpuinfo_error = -EACCES;
        host_lines(&h, &c);
        assert_line(&c, GH_CHECK_FAIL, "CPU virtualisation", "cannot read /proc/cpuinfo: Permission denied");
}

static void test_iommu_levels(void **state)
{
        _cleanup_(gh_host_check_done) gh_host_check h = {};
        _cleanup_(gh_checks_done) gh_checks c = {};

        good_host(&h);
        h.n_iommu_groups = 0;
        host_lines(&h, &c);
        /* The hint names the parameter for this CPU's vendor. */
        assert_hint(assert_line(&c, GH_CHECK_FAIL, "IOMMU", "dmar0, dmar1, but no IOMMU group"),
                    "intel_iommu=on");
        strv_free(h.iommu_units);
        h.iommu_units = NULL;
        free(h.cpu_flag);
        h.cpu_flag = strdup("svm");
        host_lines(&h, &c);
        assert_hint(assert_line(&c, GH_CHECK_FAIL, "IOMMU", "no IOMMU: /sys/class/iommu is empty"),
                    "amd_iommu=on");
        h.n_iommu_groups = 3;
        host_lines(&h, &c);
        assert_line(&c, GH_CHECK_WARN, "IOMMU", "3 IOMMU groups but no entry in /sys/class/iommu");
        assert_int_equal(strv_extend(&h.iommu_units, "ivhd0"), 0);
        host_lines(&h, &c);
        assert_line(&c, GH_CHECK_PASS, "IOMMU", "AMD-Vi units ivhd0; 3 IOMMU groups");
}

static void test_module_levels(void **state)
{
        _cleanup_(gh_host_check_done) gh_host_check h = {};
        _cleanup_(gh_checks_done) gh_checks c = {};

        good_host(&h);
        h.vfio = GH_MODULE_AVAIL_BUILTIN;
        h.vfio_pci = GH_MODULE_AVAIL_LOADABLE;
        host_lines(&h, &c);
        assert_line(&c, GH_CHECK_PASS, "module vfio", "built into the kernel");
        assert_line(&c, GH_CHECK_PASS, "module vfio-pci", "the hand-over loads it");
        h.vfio_pci = GH_MODULE_AVAIL_MISSING;
        host_lines(&h, &c);
        assert_hint(assert_line(&c, GH_CHECK_FAIL, "module vfio-pci", "/lib/modules/6.1.0-9"),
                    "CONFIG_VFIO_PCI");
        assert_line(&c, GH_CHECK_PASS, "module vfio", NULL);
}

static void test_hook_levels(void **state)
{
        _cleanup_(gh_host_check_done) gh_host_check h = {};
        _cleanup_(gh_checks_done) gh_checks c = {};

        good_host(&h);
        entry(&h.hook, "/etc/libvirt/hooks/qemu", NULL, false, 0);
        host_lines(&h, &c);
        assert_hint(assert_line(&c, GH_CHECK_FAIL, "libvirt hook", "not installed"), "gpu-handover install");
        /* Another program's hook: ours goes in qemu.d. */
        entry(&h.hook, "/etc/libvirt/hooks/qemu", "/opt/other/hook", true, T0);
        host_lines(&h, &c);
        assert_hint(assert_line(&c, GH_CHECK_FAIL, "libvirt hook",
                                "another program's hook (a link to /opt/other/hook)"),
                    "--qemu-d");
        entry(&h.dropin, "/etc/libvirt/hooks/qemu.d/gpu-handover", "/usr/local" HOOK_BIN, true, T0);
        host_lines(&h, &c);
        assert_line(&c, GH_CHECK_PASS, "libvirt hook", "qemu.d/gpu-handover' -> '/usr/local" HOOK_BIN "'");
        entry(&h.hook, "/etc/libvirt/hooks/qemu", HOOK_BIN, true, T0);
        host_lines(&h, &c);
        assert_line(&c, GH_CHECK_WARN, "libvirt hook", "runs it twice");
        entry(&h.dropin, "/etc/libvirt/hooks/qemu.d/gpu-handover", NULL, false, 0);
        entry(&h.hook, "/etc/libvirt/hooks/qemu", HOOK_BIN, false, T0);
        host_lines(&h, &c);
        assert_line(&c, GH_CHECK_FAIL, "libvirt hook", "missing or not executable");
}

static void test_daemon_levels(void **state)
{
        _cleanup_(gh_host_check_done) gh_host_check h = {};
        _cleanup_(gh_checks_done) gh_checks c = {};
        const gh_check *k;

        good_host(&h);
        add_daemon(&h, "virtqemud", 900, T0 - 2 * 3600 * USEC_PER_SEC);
        host_lines(&h, &c);
        assert_line(&c, GH_CHECK_PASS, "libvirt daemon", "libvirtd (pid 812) started after");
        k = assert_line(&c, GH_CHECK_WARN, "libvirt daemon",
                        "virtqemud (pid 900) started 2 h 0 min before the hook");
        assert_hint(k, "restart libvirtd");
        assert_hint(k, "systemctl restart virtqemud");
        /* /proc/stat's btime has whole seconds: within one, the daemon counts as started after. */
        h.daemons[1].start = T0 - USEC_PER_SEC + 1;
        host_lines(&h, &c);
        assert_line(&c, GH_CHECK_PASS, "libvirt daemon", "virtqemud (pid 900) started after");
        h.daemons[1].start = T0 - 2 * USEC_PER_SEC;
        host_lines(&h, &c);
        assert_line(&c, GH_CHECK_WARN, "libvirt daemon", "virtqemud (pid 900) started 2 s before");
        h.proc_error = -EACCES;
        host_lines(&h, &c);
        assert_line(&c, GH_CHECK_WARN, "libvirt daemon", "cannot look for libvirtd or virtqemud");
        h.proc_error = 0;
        h.n_daemons = 0;
        host_lines(&h, &c);
        assert_line(&c, GH_CHECK_WARN, "libvirt daemon", "neither libvirtd nor virtqemud is running");
        h.n_daemons = 2;
}

/* ---- config and XML ---- */

static void test_config_levels(void **state)
{
        _cleanup_(gh_checks_done) gh_checks c = {};
        const char *path = "/etc/gpu-handover/domains/win11.conf";
        gh_error err = {};

        assert_int_equal(gh_check_config(&c, "win11", path, 0, &err), 0);
        assert_line(&c, GH_CHECK_PASS, "config", "'/etc/gpu-handover/domains/win11.conf' loads");
        gh_error_set(&err, -EPERM, "'%s' is writable by group or others (mode 0664)", path);
        assert_int_equal(gh_check_config(&c, "win11", path, -EPERM, &err), 0);
        assert_hint(assert_line(&c, GH_CHECK_FAIL, "config", "win11.conf' is writable by group"),
                    "chmod go-w");
        gh_error_replace(&err, -EINVAL, "%s:3: unknown key 'timout'", path);
        assert_int_equal(gh_check_config(&c, "win11", path, -EINVAL, &err), 0);
        assert_line(&c, GH_CHECK_FAIL, "config", "win11.conf:3: unknown key");
        gh_error_replace(&err, -ENOENT, "domain 'win11' has not opted in: '%s' does not exist", path);
        assert_int_equal(gh_check_config(&c, "win11", path, -ENOENT, &err), 0);
        assert_hint(assert_line(&c, GH_CHECK_FAIL, "config", "has not opted in"),
                    "create '/etc/gpu-handover");
}

static void test_xml_levels(void **state)
{
        _cleanup_(gh_checks_done) gh_checks c = {};
        _cleanup_(gh_domain_done) gh_domain dom = {};
        gh_error err = {};

        gh_error_set(&err, -ECONNREFUSED, "cannot connect to libvirt at 'qemu:///system': no socket");
        assert_int_equal(gh_check_xml(&c, "libvirt at 'qemu:///system'", true, -ECONNREFUSED, &err, NULL),
                         0);
        assert_hint(assert_line(&c, GH_CHECK_FAIL, "domain XML", "cannot connect to libvirt"), "--xml");
        gh_checks_done(&c);
        assert_int_equal(gh_check_xml(&c, "'/nope.xml'", false, -ENOENT, NULL, NULL), 0);
        assert_line(&c, GH_CHECK_FAIL, "domain XML", "No such file");
        assert_null(strstr(c.items[0].hint, "--xml"));
        dom = (gh_domain){.name = strdup("win11")};
        assert_int_equal(gh_check_xml(&c, "stdin", false, 0, NULL, &dom), 0);
        assert_line(&c, GH_CHECK_WARN, "domain XML", "passes no PCI device through");
        tf_domain_add(&dom, "01:00.0", GH_HOSTDEV_PCI);
        tf_domain_add(&dom, "03:00.0", GH_HOSTDEV_INTERFACE);
        assert_int_equal(gh_check_xml(&c, "stdin", false, 0, NULL, &dom), 0);
        assert_line(&c, GH_CHECK_PASS, "domain XML", "from stdin: 1 PCI hostdev(s), 1 hostdev interface(s)");
}

/* ---- devices and the plan ---- */

typedef struct world {
        gh_facts f;
        gh_policy p;
        gh_domain dom;
        gh_plan plan;
        gh_error err;
        gh_checks c;
        int plan_r;
        gh_desktop_gpu away[1]; /* the installed desktop rules, n_away of them */
        size_t n_away;
} world;

static int setup(void **state)
{
        world *w = calloc(1, sizeof(world));

        gh_policy_init(&w->p);
        *state = w;
        return 0;
}

static int teardown(void **state)
{
        world *w = *state;

        gh_facts_done(&w->f);
        gh_policy_done(&w->p);
        gh_domain_done(&w->dom);
        gh_plan_done(&w->plan);
        gh_checks_done(&w->c);
        free(w);
        return 0;
}

/* A desktop with the NVIDIA GPU to lend, its audio function, and an AMD GPU the host keeps as boot VGA. */
static void two_gpus(world *w)
{
        tf_add_dev(&w->f, "0000:00:01.0", 0x060400, "pcieport", NULL, 1, NULL);
        tf_add_dev(&w->f, "0000:01:00.0", 0x030000, "nvidia", "nvidia", 1, "/dev/dri/card1");
        tf_add_dev(&w->f, "0000:01:00.1", 0x040300, "snd_hda_intel", "snd_hda_intel", 1,
                   "/dev/snd/controlC1");
        tf_add_dev(&w->f, "0000:0c:00.0", 0x030000, "amdgpu", "amdgpu", 7, "/dev/dri/card0")->boot_vga =
                true;
        tf_add_dev(&w->f, "0000:0d:00.0", 0x0c0330, "xhci_hcd", "xhci_pci", 8, NULL);
        /* As lsmod shows them: nvidia_drm sits on nvidia_modeset, which with nvidia_uvm sits on nvidia. */
        tf_add_module(&w->f, "nvidia", "nvidia_modeset nvidia_uvm", false);
        tf_add_module(&w->f, "nvidia_drm", NULL, false);
        tf_add_module(&w->f, "nvidia_modeset", "nvidia_drm", false);
        tf_add_module(&w->f, "nvidia_uvm", NULL, false);
        tf_add_module(&w->f, "snd_hda_intel", NULL, false);
        w->f.dm_unit = strdup("gdm.service");
        w->f.dm_active = true;
        w->f.units_known = true;
        tf_add_holder(&w->f, 900, "Xorg", "/dev/dri/card1", "gdm.service", NULL, NULL);
        tf_domain(&w->dom, "0000:01:00.0 0000:01:00.1");
}

static void config(world *w, const char *text)
{
        assert_int_equal(gh_config_parse(&w->p, text, "win11.conf", &w->err), 0);
}

/* The domain's lines as `check` builds them, with the real planner's verdict. */
static void check(world *w, bool with_policy)
{
        gh_check_domain d = {.name = "win11",
                             .policy = with_policy ? &w->p : NULL,
                             .dom = &w->dom,
                             .facts = &w->f,
                             .desktop_away = w->away,
                             .n_desktop_away = w->n_away};

        gh_plan_done(&w->plan);
        gh_checks_done(&w->c);
        w->err = (gh_error){};
        w->plan_r = with_policy ? gh_plan_build("win11", &w->p, &w->dom, &w->f, &w->plan, &w->err) : 0;
        if (with_policy && w->plan_r >= 0)
                d.plan = &w->plan;
        assert_int_equal(gh_check_devices(&w->c, &d), 0);
        assert_int_equal(gh_check_plan(&w->c, &d, w->plan_r, &w->err), 0);
}

static void test_two_gpus_pass(void **state)
{
        world *w = *state;

        two_gpus(w);
        check(w, true);
        assert_line(&w->c, GH_CHECK_PASS, "device 0000:01:00.0",
                    "driver nvidia (module nvidia): taken (a display");
        assert_line(&w->c, GH_CHECK_PASS, "device 0000:01:00.1", "taken (another function of 0000:01:00.0");
        /* Members named with their drivers; the bridge may stay. */
        assert_line(&w->c, GH_CHECK_PASS, "IOMMU group 1",
                    "0000:00:01.0 (pcieport, bridge, stays), 0000:01:00.0 (nvidia, taken), 0000:01:00.1 "
                    "(snd_hda_intel, taken)");
        assert_line(&w->c, GH_CHECK_PASS, "host display", "keeps 0000:0c:00.0 (amdgpu)");
        assert_line(&w->c, GH_CHECK_PASS, "units to stop",
                    "'gdm.service' ('gdm.service' starts again right after");
        assert_line(&w->c, GH_CHECK_PASS, "modules to unload", "'nvidia_drm' 'nvidia_modeset' 'nvidia_uvm' 'nvidia'");
        assert_line(&w->c, GH_CHECK_PASS, "hand-over", "2 device(s)");
        /* Everything passes but the desktop: gdm's Xorg holds the GPU, so a start logs the user out;
         * the host keeps the AMD GPU, so the session-keeping mode would avoid it, but is not installed. */
        assert_hint(assert_line(&w->c, GH_CHECK_WARN, "graphical session",
                                "a start would log the user out: stopped: the display manager "
                                "'gdm.service' stops, and starts again right after the bind"),
                    "keep_session = yes");
        assert_hint(assert_line(&w->c, GH_CHECK_WARN, "session-keeping mode",
                                "not installed: 0000:01:00.0: kept away from the desktop (keep_session = "
                                "auto), but /etc/udev/rules.d/61-gpu-handover-desktop.rules does not list "
                                "0000:01:00.0"),
                    "desktop-rules --write");
        assert_int_equal(gh_checks_worst(&w->c), GH_CHECK_WARN);
}

/* The hook would refuse: a protected holder (another VM's QEMU, by its cgroup) fails the hand-over line. */
static void test_protected_holder_fails(void **state)
{
        world *w = *state;
        const gh_check *k;

        two_gpus(w);
        tf_add_holder(&w->f, 1300, "bash", "/dev/dri/card1", NULL, NULL, NULL);
        tf_holder_identity(&w->f, "/machine.slice/machine-qemu\\x2d1\\x2dother.scope",
                           "/usr/bin/qemu-system-x86_64");
        check(w, true);
        k = assert_line(&w->c, GH_CHECK_FAIL, "hand-over",
                        "the hook would refuse to start the VM: pid 1300 (bash) holds /dev/dri/card1 and is "
                        "protected: VM 'other', unit machine-qemu\\x2d1\\x2dother.scope");
        assert_hint(k, "never signals other VMs");
        assert_int_equal(gh_checks_worst(&w->c), GH_CHECK_FAIL);
}

static void test_group_member_with_host_driver_fails(void **state)
{
        world *w = *state;
        const gh_check *k;

        two_gpus(w);
        tf_add_dev(&w->f, "0000:01:00.2", 0x0c0330, "xhci_hcd", "xhci_pci", 1, NULL);
        check(w, true);
        k = assert_line(&w->c, GH_CHECK_FAIL, "IOMMU group 1",
                        "0000:01:00.2 (driver 'xhci_hcd') shares the group");
        assert_non_null(strstr(k->detail, "0000:01:00.2 (xhci_hcd, NOT in the domain)"));
        assert_hint(k, "vfio takes whole IOMMU groups");
        /* The planner refuses too, and its message is the line. */
        assert_true(w->plan_r < 0);
        assert_line(&w->c, GH_CHECK_FAIL, "hand-over",
                    "would refuse to start the VM: domain 'win11': IOMMU group 1");
        assert_no_line(&w->c, "units to stop");
        /* Without a driver it may stay. */
        free(w->f.devs[w->f.n_devs - 1].driver);
        w->f.devs[w->f.n_devs - 1].driver = NULL;
        check(w, true);
        assert_line(&w->c, GH_CHECK_PASS, "IOMMU group 1", "0000:01:00.2 (no driver, stays)");
}

static void test_group_of_libvirt_managed_hostdevs(void **state)
{
        world *w = *state;

        two_gpus(w);
        tf_domain_add(&w->dom, "0000:0d:00.0", GH_HOSTDEV_PCI);
        check(w, true);
        /* Not a GPU's: libvirt binds it (managed='yes'), and its group holds nothing else. */
        assert_line(&w->c, GH_CHECK_PASS, "device 0000:0d:00.0", "left to libvirt (managed='yes')");
        assert_line(&w->c, GH_CHECK_PASS, "IOMMU group 8", "0000:0d:00.0 (xhci_hcd, in the domain)");
        w->dom.hostdevs[2].managed = false;
        check(w, true);
        assert_hint(assert_line(&w->c, GH_CHECK_WARN, "device 0000:0d:00.0", "libvirt does not bind it"),
                    "managed='yes'");
}

static void test_missing_device_and_no_group(void **state)
{
        world *w = *state;

        two_gpus(w);
        tf_domain_add(&w->dom, "0000:42:00.0", GH_HOSTDEV_PCI);
        w->f.devs[1].iommu_group = -1;
        check(w, true);
        assert_hint(assert_line(&w->c, GH_CHECK_FAIL, "device 0000:42:00.0", "no such PCI device"), "lspci");
        assert_line(&w->c, GH_CHECK_FAIL, "IOMMU group", "0000:01:00.0 is in no IOMMU group");
}

static void test_allowlist(void **state)
{
        world *w = *state;
        const gh_check *k;

        two_gpus(w);
        config(w, "devices = 01:00.0\n");
        check(w, true);
        assert_line(&w->c, GH_CHECK_PASS, "device 0000:01:00.0", "on the config's devices list");
        k = assert_line(&w->c, GH_CHECK_FAIL, "device 0000:01:00.1", "not on the config's devices list");
        assert_hint(k, "add 0000:01:00.1 to devices =");
        assert_line(&w->c, GH_CHECK_FAIL, "hand-over", "0000:01:00.1 is not allowed by its config");
        /* The planner refuses at its selection, so it takes nothing: no group to give vfio and no host
         * display to lose, which a copy of the selection taking the listed GPU said all the same. */
        assert_line(&w->c, GH_CHECK_PASS, "IOMMU group 1", "0000:01:00.0 (nvidia, in the domain)");
        assert_no_line(&w->c, "host display");
}

/* Claimed at boot: both functions on vfio-pci already, so no module goes and nothing is unbound. */
static void test_claimed_gpu_nothing_to_unbind(void **state)
{
        world *w = *state;

        tf_add_dev(&w->f, "0000:01:00.0", 0x030000, "vfio-pci", "vfio_pci", 1, NULL);
        tf_add_dev(&w->f, "0000:01:00.1", 0x040300, "vfio-pci", "vfio_pci", 1, NULL);
        tf_add_dev(&w->f, "0000:0c:00.0", 0x030000, "amdgpu", "amdgpu", 7, "/dev/dri/card0")->boot_vga =
                true;
        tf_add_module(&w->f, "amdgpu", NULL, false);
        w->f.units_known = true;
        tf_domain(&w->dom, "0000:01:00.0 0000:01:00.1");
        check(w, true);
        assert_line(&w->c, GH_CHECK_PASS, "IOMMU group 1",
                    "0000:01:00.0 (vfio-pci, taken), 0000:01:00.1 (vfio-pci, taken)");
        assert_line(&w->c, GH_CHECK_PASS, "modules to unload", "none: no function is on a host driver");
        assert_line(&w->c, GH_CHECK_PASS, "hand-over", "2 device(s)");
        /* One of them still on its host driver: that one is unbound alone. */
        free(w->f.devs[1].driver);
        w->f.devs[1].driver = strdup("snd_hda_intel");
        free(w->f.devs[1].module);
        w->f.devs[1].module = strdup("snd_hda_intel");
        tf_add_module(&w->f, "snd_hda_intel", NULL, false);
        check(w, true);
        assert_line(&w->c, GH_CHECK_PASS, "modules to unload",
                    "none: the functions are unbound from their drivers alone");
}

static void test_without_config_no_allowed_verdict_and_no_plan(void **state)
{
        world *w = *state;

        two_gpus(w);
        check(w, false);
        assert_line(&w->c, GH_CHECK_PASS, "device 0000:01:00.0", "driver nvidia (module nvidia): present");
        assert_line(&w->c, GH_CHECK_PASS, "IOMMU group 1", "0000:01:00.0 (nvidia, taken)");
        assert_no_line(&w->c, "hand-over");
        assert_no_line(&w->c, "modules to unload");
}

static void test_single_gpu_mode(void **state)
{
        world *w = *state;
        const gh_check *k;

        two_gpus(w);
        free(w->f.devs[3].driver); /* the AMD GPU has no driver: nothing left for the host's screen */
        w->f.devs[3].driver = NULL;
        check(w, true);
        k = assert_line(&w->c, GH_CHECK_WARN, "host display",
                        "single-GPU mode: 0000:01:00.0 is the host's only GPU");
        assert_non_null(strstr(k->detail, "comes back only after the VM stops"));
        assert_hint(k, "ssh");
        assert_line(&w->c, GH_CHECK_PASS, "units to stop",
                    "'gdm.service' (started again when the VM stops)");
        config(w, "display_manager = keep\n");
        check(w, true);
        assert_line(&w->c, GH_CHECK_WARN, "host display", "display_manager = keep");
        assert_line(&w->c, GH_CHECK_PASS, "units to stop", "none");
}

/* `check` says what `plan` says of each holder, from the same planner: its owner and its fate; and the
 * user units the plan stops. */
static void test_holders_with_owners(void **state)
{
        world *w = *state;

        two_gpus(w);
        for (size_t i = 0; i < w->f.n_devs; i++)
                if (streq_ptr(w->f.devs[i].driver, "nvidia"))
                        assert_int_equal(strv_extend(&w->f.devs[i].nodes, "/dev/nvidia0"), 0);
        tf_add_holder(&w->f, 2000, "tts", "/dev/nvidia0", NULL, NULL, NULL);
        tf_holder_identity(&w->f, "/user.slice/user-1000.slice/user@1000.service/app.slice/tts.service",
                           NULL);
        tf_add_holder(&w->f, 2100, "gnome-shell", "/dev/dri/card1", NULL, NULL, NULL);
        tf_holder_identity(&w->f,
                           "/user.slice/user-1000.slice/user@1000.service/session.slice/"
                           "org.gnome.Shell@wayland.service",
                           NULL);
        check(w, true);
        assert_line(&w->c, GH_CHECK_PASS, "holder",
                    "pid 900 (Xorg) holds /dev/dri/card1, owned by system unit 'gdm.service': the graphical "
                    "session: display_manager = auto decides: stopping 'gdm.service'");
        assert_line(&w->c, GH_CHECK_PASS, "holder",
                    "pid 2000 (tts) holds /dev/nvidia0, owned by user unit 'tts.service' of user 1000: stop "
                    "user "
                    "unit 'tts.service' of user 1000, start it again after release");
        assert_line(
                &w->c, GH_CHECK_PASS, "holder",
                "pid 2100 (gnome-shell) holds /dev/dri/card1, owned by user unit "
                "'org.gnome.Shell@wayland.service' of user 1000: the graphical session: display_manager = "
                "auto decides: stopping 'gdm.service'");
        assert_line(
                &w->c, GH_CHECK_PASS, "user units to stop",
                "'tts.service' of user 1000 (through the user's systemd manager; started again when the VM "
                "stops)");
}

static void test_boot_vga_with_another_gpu(void **state)
{
        world *w = *state;

        two_gpus(w);
        w->f.devs[3].boot_vga = false;
        w->f.devs[1].boot_vga = true;
        check(w, true);
        assert_hint(
                assert_line(
                        &w->c, GH_CHECK_WARN, "host display",
                        "0000:01:00.0 is the boot VGA: the display manager is stopped when it holds the "
                        "GPU, and starts again right after the bind; the host keeps 0000:0c:00.0 (amdgpu)"),
                "primary");
        /* The planner agrees: its START_UNIT comes right after the bind. */
        assert_line(&w->c, GH_CHECK_PASS, "units to stop",
                    "'gdm.service' ('gdm.service' starts again right after");
}

static void test_plan_edge_levels(void **state)
{
        world *w = *state;
        gh_check_domain d = {.name = "win11", .policy = &w->p, .dom = &w->dom};
        gh_error err = {};

        two_gpus(w);
        /* Facts could not be gathered. */
        gh_error_set(&err, -EACCES, "cannot scan processes for device holders: Permission denied");
        assert_int_equal(gh_check_plan(&w->c, &d, -EACCES, &err), 0);
        assert_line(&w->c, GH_CHECK_FAIL, "host facts", "cannot scan processes");
        /* Nobody asked systemd: the unit list is the config's alone. */
        w->f.units_known = false;
        check(w, true);
        assert_line(&w->c, GH_CHECK_WARN, "units to stop", "systemd could not be asked");
        /* Only a USB controller: devices = auto takes nothing. */
        gh_domain_done(&w->dom);
        tf_domain(&w->dom, "0000:0d:00.0");
        check(w, true);
        assert_line(&w->c, GH_CHECK_WARN, "hand-over", "the hook does nothing");
        assert_no_line(&w->c, "host display");
}

/* ---- the graphical session ---- */

/* The rules `install` writes keep 01:00.0 away from the desktop. */
static void mode_installed(world *w)
{
        assert_int_equal(gh_pci_addr_parse("0000:01:00.0", &w->away[0].addr), 0);
        w->away[0].domain = (char *)"win11";
        w->n_away = 1;
}

/* With the mode installed, nothing graphical holds the lent GPU: the session is kept, nothing warns. */
static void test_session_kept_with_mode(void **state)
{
        world *w = *state;

        two_gpus(w);
        gh_holder_done(&w->f.holders[0]);
        w->f.n_holders = 0;
        mode_installed(w);
        check(w, true);
        assert_line(&w->c, GH_CHECK_PASS, "graphical session",
                    "kept (nothing graphical holds 0000:01:00.0, 0000:01:00.1)");
        assert_line(&w->c, GH_CHECK_PASS, "session-keeping mode",
                    "on: 0000:01:00.0: kept away from the desktop (keep_session = auto)");
        assert_int_equal(gh_checks_worst(&w->c), GH_CHECK_PASS);
        /* Turned off in the config: the mode's line says so, and how to turn it on. */
        config(w, "keep_session = no\n");
        check(w, true);
        assert_hint(assert_line(&w->c, GH_CHECK_WARN, "session-keeping mode",
                                "off: 0000:01:00.0: left to the desktop (keep_session = no)"),
                    "where the desktop runs on 0000:0c:00.0, keep_session = yes");
        /* The lent GPU is the boot VGA: auto leaves it to the desktop, which check says. */
        config(w, "keep_session = auto\n");
        w->f.devs[1].boot_vga = true;
        w->f.devs[3].boot_vga = false;
        check(w, true);
        assert_line(&w->c, GH_CHECK_WARN, "session-keeping mode", "its GPU is the boot VGA");
}

/* The display manager kept, the session's process holding the GPU: the start ends the session (a
 * logout), and with holders = fail it is refused instead, which is no logout. */
static void test_session_ended_or_refused(void **state)
{
        world *w = *state;
        const gh_check *k;

        two_gpus(w);
        mode_installed(w);
        config(w, "display_manager = keep\n");
        check(w, true);
        k = assert_line(&w->c, GH_CHECK_WARN, "graphical session",
                        "a start would log the user out: ended: pid 900 (Xorg) holds /dev/dri/card1, owned "
                        "by system unit 'gdm.service': it is signalled, and the graphical session ends with "
                        "it");
        assert_hint(k, "display_manager = keep with holders = fail refuses the start");
        config(w, "holders = fail\n");
        check(w, true);
        k = assert_line(&w->c, GH_CHECK_WARN, "graphical session",
                        "refused: pid 900 (Xorg) holds /dev/dri/card1, and holders = fail: the start is "
                        "refused, nothing is stopped");
        assert_null(strstr(k->detail, "log the user out"));
}

/* One GPU: the mode cannot help, and the hint says what can; no line on the mode. */
static void test_session_single_gpu_logout(void **state)
{
        world *w = *state;
        const gh_check *k;

        tf_add_dev(&w->f, "0000:01:00.0", 0x030000, "amdgpu", "amdgpu", 1, "/dev/dri/card0")->boot_vga =
                true;
        tf_add_module(&w->f, "amdgpu", NULL, false);
        w->f.dm_unit = strdup("sddm.service");
        w->f.dm_active = true;
        w->f.units_known = true;
        tf_add_holder(&w->f, 900, "kwin_wayland", "/dev/dri/card0", "session-3.scope", "wayland", "user");
        tf_domain(&w->dom, "0000:01:00.0");
        check(w, true);
        k = assert_line(&w->c, GH_CHECK_WARN, "graphical session",
                        "a start would log the user out: stopped: the display manager 'sddm.service' stops, "
                        "and starts again only after release, when the VM stops");
        assert_hint(k, "the host keeps no other GPU for the desktop to stay on: display_manager = keep with "
                       "holders = fail");
        assert_null(strstr(k->hint, "keep_session"));
        assert_no_line(&w->c, "session-keeping mode");
        /* display_manager = stop: that setting is what logs the user out, and the hint says so. */
        config(w, "display_manager = stop\n");
        check(w, true);
        assert_hint(assert_line(&w->c, GH_CHECK_WARN, "graphical session", "a start would log the user out"),
                    "display_manager = stop stops it whatever holds the GPU");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_good_host_passes),
                cmocka_unit_test(test_cpu_levels),
                cmocka_unit_test(test_iommu_levels),
                cmocka_unit_test(test_module_levels),
                cmocka_unit_test(test_hook_levels),
                cmocka_unit_test(test_daemon_levels),
                cmocka_unit_test(test_config_levels),
                cmocka_unit_test(test_xml_levels),
                cmocka_unit_test_setup_teardown(test_two_gpus_pass, setup, teardown),
                cmocka_unit_test_setup_teardown(test_protected_holder_fails, setup, teardown),
                cmocka_unit_test_setup_teardown(test_group_member_with_host_driver_fails, setup, teardown),
                cmocka_unit_test_setup_teardown(test_group_of_libvirt_managed_hostdevs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_device_and_no_group, setup, teardown),
                cmocka_unit_test_setup_teardown(test_allowlist, setup, teardown),
                cmocka_unit_test_setup_teardown(test_claimed_gpu_nothing_to_unbind, setup, teardown),
                cmocka_unit_test_setup_teardown(test_without_config_no_allowed_verdict_and_no_plan, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_single_gpu_mode, setup, teardown),
                cmocka_unit_test_setup_teardown(test_boot_vga_with_another_gpu, setup, teardown),
                cmocka_unit_test_setup_teardown(test_holders_with_owners, setup, teardown),
                cmocka_unit_test_setup_teardown(test_plan_edge_levels, setup, teardown),
                cmocka_unit_test_setup_teardown(test_session_kept_with_mode, setup, teardown),
                cmocka_unit_test_setup_teardown(test_session_ended_or_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_session_single_gpu_logout, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
