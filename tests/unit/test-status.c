/* `gpu-handover status --json` against a fake sysfs, /proc and journal: the output parses as JSON (python3's
 * strict parser reads it), and every field says what the fake host holds, escaping included. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "capture.h"
#include "fakesys.h"
#include "host/journal.h"
#include "proc-fake.h"
#include "shared/fileio.h"

/* The test build: it takes --root. */
#define TOOL GH_TOOL_TEST_BIN
#define PYTHON "/usr/bin/python3"

/* Prints the document one leaf per line, "path=value" with the value as JSON (non-ASCII escaped), so that
 * the test compares decoded values, whatever escaping the tool chose. Fails on anything that is not
 * strict JSON in UTF-8. */
static const char flatten_py[] = "import json, sys\n"
                                 "def walk(p, v):\n"
                                 "    if isinstance(v, dict):\n"
                                 "        if not v: print(p + '={}')\n"
                                 "        for k in sorted(v): walk(p + '.' + k if p else k, v[k])\n"
                                 "    elif isinstance(v, list):\n"
                                 "        if not v: print(p + '=[]')\n"
                                 "        for i, x in enumerate(v): walk('%s[%d]' % (p, i), x)\n"
                                 "    else: print(p + '=' + json.dumps(v))\n"
                                 "with open(sys.argv[1], encoding='utf-8', errors='strict') as f:\n"
                                 "    walk('', json.load(f))\n";

typedef struct fixture {
        fakesys *fs;
        char *work; /* outside the root: the tool's output and the checker's */
} fixture;

static int setup(void **state)
{
        fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        f->fs = fakesys_new();
        f->work = pf_root_new("status-out");
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        fixture *f = *state;

        fakesys_free(f->fs);
        pf_root_free(f->work);
        free(f);
        return 0;
}

/* `gpu-handover --root ROOT status ARG`, as a run. */
static void status(fixture *f, const char *arg, gh_run *r)
{
        const char *argv[] = {TOOL, "--root", fakesys_root(f->fs), "status", arg, NULL};

        gh_run_capture(argv, NULL, r);
}

/* `status --json`, checked to exit 0 with nothing on stderr, then flattened by the strict parser. */
static char *status_json_flat(fixture *f)
{
        _cleanup_free_ char *json = NULL;
        gh_run r = {};
        char *flat;

        /* Before anything is allocated: fail_msg() does not return, and the cleanups would not run. */
        if (access(PYTHON, X_OK) < 0)
                fail_msg("no %s for the JSON check (package python3, which scripts/test installs)", PYTHON);
        json = path_join(f->work, "status.json");
        const char *py[] = {PYTHON, "-c", flatten_py, json, NULL};

        status(f, "--json", &r);
        if (r.status != 0 || r.err[0])
                fail_msg("status --json: exit %d, stderr: %s", r.status, r.err);
        pf_write(f->work, "/status.json", r.out);
        gh_run_done(&r);
        gh_run_capture(py, NULL, &r);
        if (r.status != 0)
                fail_msg("not valid JSON: %s", r.err);
        flat = r.out;
        r.out = NULL;
        gh_run_done(&r);
        return flat;
}

/* The flat form, line for line, or a failure that shows both. */
static void assert_flat(const char *got, const char *want)
{
        if (!streq(got, want))
                fail_msg("status --json gave:\n%s\nexpected:\n%s", got, want);
}

/* A desktop: the boot GPU with its HDMI audio and a PCI bridge in IOMMU group 2, a second GPU on no
 * IOMMU group with no driver, a NIC in a group of its own, and a process holding the boot GPU. */
static void desktop(fakesys *fs)
{
        const char *root = fakesys_root(fs);

        fakesys_add_dev(fs, "0000:00:00.0", 0x060000, 0x8086, 0x29c0, 0);
        fakesys_add_dev(fs, "0000:00:05.0", 0x030000, 0x1234, 0x1111, 2);
        fakesys_set_boot_vga(fs, "0000:00:05.0", true);
        fakesys_add_dev(fs, "0000:00:05.1", 0x040300, 0x8086, 0x293e, 2);
        fakesys_add_dev(fs, "0000:00:1c.0", 0x060400, 0x8086, 0x2448, 2);
        fakesys_add_dev(fs, "0000:02:00.0", 0x030200, 0x10de, 0x1b80, -1);
        fakesys_add_dev(fs, "0000:03:00.0", 0x020000, 0x8086, 0x10d3, 5);
        fakesys_add_module(fs, "bochs");
        fakesys_add_driver(fs, "bochs-drm", "bochs");
        fakesys_add_driver(fs, "snd_hda_intel", NULL);
        fakesys_add_driver(fs, "e1000e", NULL);
        fakesys_bind(fs, "0000:00:05.0", "bochs-drm");
        fakesys_bind(fs, "0000:00:05.1", "snd_hda_intel");
        fakesys_bind(fs, "0000:03:00.0", "e1000e");
        fakesys_add_drm(fs, "0000:00:05.0", "card0");
        fakesys_add_sound(fs, "0000:00:05.1", 0, "controlC0", NULL);
        /* A name with everything JSON must escape, a character it must not, and a byte that is no UTF-8. */
        pf_symlink(root, "/proc/4242/fd/3", "/dev/dri/card0");
        pf_write(root, "/proc/4242/comm", "a\"b\\c\td\x01\xc3\xa9\xff\n");
        pf_write(root, "/proc/4242/maps", "");
        pf_symlink(root, "/proc/77/fd/0", "/dev/null");
        pf_write(root, "/proc/77/comm", "bash\n");
        pf_write(root, "/proc/77/maps", "");
}

static void journal(fakesys *fs, const char *domain, const gh_step *steps, size_t n)
{
        gh_journal *j = NULL;

        assert_int_equal(gh_journal_create(fakesys_root(fs), domain, getuid(), &j, NULL), 0);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *line = NULL;

                assert_int_equal(gh_step_to_line(&steps[i], &line), 0);
                assert_int_equal(gh_journal_append(j, line), 0);
        }
        gh_journal_close(j);
}

static void test_json_desktop(void **state)
{
        fixture *f = *state;
        _cleanup_free_ char *flat = NULL;

        desktop(f->fs);
        flat = status_json_flat(f);
        assert_flat(flat, "devices[0].address=\"0000:00:05.0\"\n"
                          "devices[0].boot_vga=true\n"
                          "devices[0].class=\"030000\"\n"
                          "devices[0].device=\"1111\"\n"
                          "devices[0].driver=\"bochs-drm\"\n"
                          "devices[0].driver_override=null\n"
                          "devices[0].driver_override_error=null\n"
                          "devices[0].holders[0].comm=\"a\\\"b\\\\c\\td\\u0001\\u00e9\\ufffd\"\n"
                          "devices[0].holders[0].node=\"/dev/dri/card0\"\n"
                          "devices[0].holders[0].pid=4242\n"
                          "devices[0].holders[0].session=null\n"
                          "devices[0].holders[0].unit=null\n"
                          "devices[0].iommu_group=2\n"
                          "devices[0].iommu_group_members[0].address=\"0000:00:05.0\"\n"
                          "devices[0].iommu_group_members[0].driver=\"bochs-drm\"\n"
                          "devices[0].iommu_group_members[1].address=\"0000:00:05.1\"\n"
                          "devices[0].iommu_group_members[1].driver=\"snd_hda_intel\"\n"
                          "devices[0].iommu_group_members[2].address=\"0000:00:1c.0\"\n"
                          "devices[0].iommu_group_members[2].driver=null\n"
                          "devices[0].module=\"bochs\"\n"
                          "devices[0].vendor=\"1234\"\n"
                          /* The HDMI audio goes with the GPU; the bridge in the group does not. */
                          "devices[1].address=\"0000:00:05.1\"\n"
                          "devices[1].boot_vga=false\n"
                          "devices[1].class=\"040300\"\n"
                          "devices[1].device=\"293e\"\n"
                          "devices[1].driver=\"snd_hda_intel\"\n"
                          "devices[1].driver_override=null\n"
                          "devices[1].driver_override_error=null\n"
                          "devices[1].holders=[]\n"
                          "devices[1].iommu_group=2\n"
                          "devices[1].iommu_group_members[0].address=\"0000:00:05.0\"\n"
                          "devices[1].iommu_group_members[0].driver=\"bochs-drm\"\n"
                          "devices[1].iommu_group_members[1].address=\"0000:00:05.1\"\n"
                          "devices[1].iommu_group_members[1].driver=\"snd_hda_intel\"\n"
                          "devices[1].iommu_group_members[2].address=\"0000:00:1c.0\"\n"
                          "devices[1].iommu_group_members[2].driver=null\n"
                          "devices[1].module=null\n"
                          "devices[1].vendor=\"8086\"\n"
                          /* No IOMMU group: no members to list, and no group number either. */
                          "devices[2].address=\"0000:02:00.0\"\n"
                          "devices[2].boot_vga=false\n"
                          "devices[2].class=\"030200\"\n"
                          "devices[2].device=\"1b80\"\n"
                          "devices[2].driver=null\n"
                          "devices[2].driver_override=null\n"
                          "devices[2].driver_override_error=null\n"
                          "devices[2].holders=[]\n"
                          "devices[2].iommu_group=null\n"
                          "devices[2].iommu_group_members=null\n"
                          "devices[2].module=null\n"
                          "devices[2].vendor=\"10de\"\n"
                          "handovers=[]\n"
                          "kept_from_desktop=[]\n"
                          "stuck=[]\n");
}

static void chmod_rel(fakesys *fs, const char *rel, mode_t mode)
{
        _cleanup_free_ char *p = fakesys_path(fs, rel);

        assert_int_equal(chmod(p, mode), 0);
}

static void test_json_handovers(void **state)
{
        fixture *f = *state;
        _cleanup_free_ char *flat = NULL, *want = NULL;
        char *const nodes[] = {(char *)"/dev/dri/card0", NULL};
        const gh_step steps[] = {
                {.kind = GH_STEP_STOP_UNIT, .name = (char *)"gdm.service", .group = -1},
                {.kind = GH_STEP_END_HOLDERS, .nodes = (char **)nodes, .grace_sec = 5, .group = -1},
                {.kind = GH_STEP_BIND_VFIO, .addr = "0000:00:05.0", .group = 2},
                {.kind = GH_STEP_BIND_VFIO, .addr = "0000:00:05.1", .group = 2},
        };

        /* status trusts only root's journals. */
        if (geteuid() != 0)
                skip();
        fakesys_add_dev(f->fs, "0000:03:00.0", 0x020000, 0x8086, 0x10d3, 5);
        journal(f->fs, "win11", steps, ELEMENTSOF(steps));
        journal(f->fs, "empty", NULL, 0);
        /* A journal that is not one: reported with its error, and the others still listed. */
        pf_write(fakesys_root(f->fs), "/run/gpu-handover/broken.journal", "not a journal\n");
        chmod_rel(f->fs, "/run/gpu-handover/broken.journal", 0600);
        flat = status_json_flat(f);
        /* Sorted by domain, whatever order the directory gives. */
        assert_true(asprintf(&want,
                             "devices=[]\n"
                             "handovers[0].devices=[]\n"
                             "handovers[0].domain=\"broken\"\n"
                             "handovers[0].error=\"%s/run/gpu-handover/broken.journal:1: not a gpu-handover "
                             "journal\"\n"
                             "handovers[0].steps=null\n"
                             "handovers[0].stuck=null\n"
                             "handovers[1].devices=[]\n"
                             "handovers[1].domain=\"empty\"\n"
                             "handovers[1].error=null\n"
                             "handovers[1].steps=0\n"
                             "handovers[1].stuck=[]\n"
                             "handovers[2].devices[0]=\"0000:00:05.0\"\n"
                             "handovers[2].devices[1]=\"0000:00:05.1\"\n"
                             "handovers[2].domain=\"win11\"\n"
                             "handovers[2].error=null\n"
                             "handovers[2].steps=4\n"
                             "handovers[2].stuck=[]\n"
                             "kept_from_desktop=[]\n"
                             "stuck=[]\n",
                             fakesys_root(f->fs)) > 0);
        assert_flat(flat, want);
}

/* Nothing to show is still one well-formed document. */
static void test_json_bare_host(void **state)
{
        fixture *f = *state;
        _cleanup_free_ char *flat = NULL;

        fakesys_add_dev(f->fs, "0000:03:00.0", 0x020000, 0x8086, 0x10d3, 5);
        flat = status_json_flat(f);
        assert_flat(flat, "devices=[]\nhandovers=[]\nkept_from_desktop=[]\nstuck=[]\n");
}

/* The stuck list, as every hand-over reads it: each function with the access that did not finish, its
 * driver, since when, and the process still waiting (null: none left, or gone). One bad line and the list
 * is not trusted: null in JSON, the reason in text. */
static void test_stuck_list(void **state)
{
        fixture *f = *state;
        _cleanup_free_ char *flat = NULL;
        gh_run r = {};

        fakesys_add_dev(f->fs, "0000:03:00.0", 0x020000, 0x8086, 0x10d3, 5);
        pf_write(fakesys_root(f->fs), "/run/gpu-handover/stuck",
                 "0000:01:00.1 override-write 1764633600000000 0 0 \n"
                 "0000:01:00.0 unbind 1764633600000000 0 0 nvidia\n");
        chmod_rel(f->fs, "/run/gpu-handover", 0700);
        chmod_rel(f->fs, "/run/gpu-handover/stuck", 0600);
        flat = status_json_flat(f);
        assert_flat(flat, "devices=[]\nhandovers=[]\nkept_from_desktop=[]\n"
                          "stuck[0].access=\"override-write\"\n"
                          "stuck[0].address=\"0000:01:00.1\"\n"
                          "stuck[0].driver=null\n"
                          "stuck[0].since_usec=1764633600000000\n"
                          "stuck[0].waiter_pid=null\n"
                          "stuck[1].access=\"unbind\"\n"
                          "stuck[1].address=\"0000:01:00.0\"\n"
                          "stuck[1].driver=\"nvidia\"\n"
                          "stuck[1].since_usec=1764633600000000\n"
                          "stuck[1].waiter_pid=null\n");
        status(f, NULL, &r);
        assert_int_equal(r.status, 0);
        assert_non_null(strstr(r.out, "\nStuck functions (/run/gpu-handover/stuck):\n"
                                      "  0000:01:00.1 is stuck: a write of its driver_override has not finished since "));
        assert_non_null(strstr(r.out, "\n  0000:01:00.0 is stuck: its unbind (driver 'nvidia') has not finished "
                                      "since "));
        gh_run_done(&r);

        pf_write(fakesys_root(f->fs), "/run/gpu-handover/stuck", "0000:01:00.0 unbind 1 0 0 nvidia\nrm -rf /\n");
        free(flat);
        flat = status_json_flat(f);
        assert_flat(flat, "devices=[]\nhandovers=[]\nkept_from_desktop=[]\nstuck=null\n");
        status(f, NULL, &r);
        assert_non_null(strstr(r.out, "/run/gpu-handover/stuck:2: not a stuck-function entry; refused)\n"));
        gh_run_done(&r);
}

/* The text form shows the same host, so both read it the same way. */
static void test_text_desktop(void **state)
{
        fixture *f = *state;
        gh_run r = {};

        desktop(f->fs);
        status(f, NULL, &r);
        assert_int_equal(r.status, 0);
        assert_non_null(strstr(r.out, "0000:00:05.0  1234:1111  driver bochs-drm  boot VGA\n"));
        assert_non_null(strstr(r.out, "    held by pid 4242 (a\"b\\c\td"));
        assert_non_null(strstr(r.out, "0000:02:00.0  10de:1b80  driver (none)\n"));
        assert_null(strstr(r.out, "0000:03:00.0"));
        gh_run_done(&r);
}

static void test_bad_usage(void **state)
{
        fixture *f = *state;
        gh_run r = {};

        desktop(f->fs);
        status(f, "--jsn", &r);
        assert_int_equal(r.status, 2);
        assert_string_equal(r.out, "");
        assert_non_null(strstr(r.err, "--jsn"));
        gh_run_done(&r);
        status(f, "extra", &r);
        assert_int_equal(r.status, 2);
        assert_string_equal(r.out, "");
        gh_run_done(&r);
}

/* No sysfs: a failure on stderr, and stdout without half a document for a script to choke on. */
static void test_json_no_sysfs(void **state)
{
        fixture *f = *state;
        const char *argv[] = {TOOL, "--root", f->work, "status", "--json", NULL};
        gh_run r = {};

        gh_run_capture(argv, NULL, &r);
        assert_int_equal(r.status, 1);
        assert_string_equal(r.out, "");
        assert_non_null(strstr(r.err, "PCI"));
        gh_run_done(&r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_json_desktop, setup, teardown),
                cmocka_unit_test_setup_teardown(test_json_handovers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stuck_list, setup, teardown),
                cmocka_unit_test_setup_teardown(test_json_bare_host, setup, teardown),
                cmocka_unit_test_setup_teardown(test_text_desktop, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_usage, setup, teardown),
                cmocka_unit_test_setup_teardown(test_json_no_sysfs, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
