/* Facts gathering of the modules a hand-over may unload (their files for the running kernel, both
 * srcversions, their parameters), from fakesys trees with module files indexed by depmod; and the
 * refusals the planner and `check` make of them, before anything changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/utsname.h>
#include <cmocka.h>

#include "core/check.h"
#include "core/plan.h"
#include "facts-build.h"
#include "fake-modfile.h"
#include "fakesys.h"
#include "host/gather.h"
#include "proc-fake.h"
#include "shared/strv.h"

typedef struct world {
        fakesys *fs;
        gh_policy p;
        gh_domain dom;
        gh_facts f;
        gh_plan plan;
        gh_error err;
} world;

static const char *const nvidia_stack[] = {"nvidia", "nvidia_modeset", "nvidia_drm", "nvidia_uvm"};

/* Two NVIDIA GPUs on nvidia, with its stack loaded and each module's file for the running kernel, of the
 * same build as the loaded one. The domain takes the first. */
static int setup(void **state)
{
        world *w = calloc(1, sizeof(world));
        fakesys *fs = fakesys_new();

        w->fs = fs;
        fakesys_add_dev(fs, "0000:01:00.0", 0x030000, 0x10de, 0x2684, 12);
        fakesys_add_dev(fs, "0000:07:00.0", 0x030000, 0x10de, 0x2684, 13);
        fakesys_add_driver(fs, "nvidia", "nvidia");
        fakesys_bind(fs, "0000:01:00.0", "nvidia");
        fakesys_bind(fs, "0000:07:00.0", "nvidia");
        fakesys_add_module_holder(fs, "nvidia", "nvidia_modeset");
        fakesys_add_module_holder(fs, "nvidia", "nvidia_uvm");
        fakesys_add_module_holder(fs, "nvidia_modeset", "nvidia_drm");
        for (size_t i = 0; i < ELEMENTSOF(nvidia_stack); i++) {
                fake_module_set_srcversion(fs, nvidia_stack[i], "A1B2C3D4E5F60718293A4B5");
                fake_modfile_add(fs, nvidia_stack[i], "A1B2C3D4E5F60718293A4B5");
        }
        fake_module_set_param(fs, "nvidia_drm", "modeset", "N");
        gh_policy_init(&w->p);
        tf_domain(&w->dom, "0000:01:00.0");
        *state = w;
        return 0;
}

static int teardown(void **state)
{
        world *w = *state;

        fakesys_free(w->fs);
        gh_policy_done(&w->p);
        gh_domain_done(&w->dom);
        gh_facts_done(&w->f);
        gh_plan_done(&w->plan);
        free(w);
        return 0;
}

/* Gathers afresh, then plans. */
static int gather_plan(world *w)
{
        gh_facts_done(&w->f);
        gh_plan_done(&w->plan);
        w->err = (gh_error){};
        assert_int_equal(gh_facts_gather(fakesys_root(w->fs), "win11", &w->p, &w->dom, NULL, &w->f, &w->err),
                         0);
        return gh_plan_build("win11", &w->p, &w->dom, &w->f, &w->plan, &w->err);
}

static void take_both(world *w)
{
        tf_domain_add(&w->dom, "0000:07:00.0", GH_HOSTDEV_PCI);
}

static void test_module_facts(void **state)
{
        world *w = *state;
        _cleanup_free_ char *want = fake_modfile_path("nvidia");
        const gh_module *m, *drm;
        struct utsname u;

        assert_int_equal(uname(&u), 0);
        fake_module_set_param(w->fs, "nvidia_drm", "fbdev", "Y");
        assert_int_equal(gather_plan(w), 0);
        assert_string_equal(w->f.kernel_release, u.release);
        m = gh_facts_find_module(&w->f, "nvidia");
        assert_non_null(m);
        assert_non_null(m->path);
        assert_non_null(strstr(m->path, want));
        assert_string_equal(m->file_srcversion, "A1B2C3D4E5F60718293A4B5");
        assert_string_equal(m->loaded_srcversion, "A1B2C3D4E5F60718293A4B5");
        drm = gh_facts_find_module(&w->f, "nvidia_drm");
        assert_non_null(drm);
        assert_string_equal(gh_module_param(drm, "modeset"), "N");
        assert_string_equal(gh_module_param(drm, "fbdev"), "Y");
        assert_null(gh_module_param(drm, "mode"));
}

static bool unloads(const gh_plan *plan, const char *module)
{
        for (size_t i = 0; i < plan->n_steps; i++)
                if (plan->steps[i].kind == GH_STEP_UNLOAD_MODULE && streq(plan->steps[i].name, module))
                        return true;
        return false;
}

/* Every GPU of nvidia taken: its stack is unloaded, and can come back. */
static void test_stack_reloadable(void **state)
{
        world *w = *state;

        take_both(w);
        assert_int_equal(gather_plan(w), 0);
        assert_true(unloads(&w->plan, "nvidia"));
        assert_true(unloads(&w->plan, "nvidia_drm"));
}

/* A kernel upgrade removed the running kernel's nvidia.ko (the index still lists it). */
static void test_file_removed(void **state)
{
        world *w = *state;
        _cleanup_free_ char *want = NULL;
        struct utsname u;

        assert_int_equal(uname(&u), 0);
        take_both(w);
        fake_modfile_remove(w->fs, "nvidia_modeset");
        assert_int_equal(gather_plan(w), -ENOENT);
        assert_true(asprintf(&want,
                             "domain 'win11': module 'nvidia_modeset' cannot be loaded again after the "
                             "hand-over: no file for the running kernel %s (removed by a kernel upgrade?)",
                             u.release) > 0);
        assert_string_equal(w->err.msg, want);
        assert_int_equal(w->plan.n_steps, 0);
}

/* ... or its whole modules directory. */
static void test_modules_dir_removed(void **state)
{
        world *w = *state;
        _cleanup_free_ char *dir = fake_modfile_path("nvidia");

        take_both(w);
        *strstr(dir, "/kernel/") = 0;
        pf_remove(fakesys_root(w->fs), dir);
        assert_int_equal(gather_plan(w), -ENOENT);
        assert_non_null(strstr(w->err.msg, "module 'nvidia_drm' cannot be loaded again"));
}

/* DKMS built another nvidia for the running kernel since it was loaded. */
static void test_file_rebuilt(void **state)
{
        world *w = *state;
        _cleanup_free_ char *path = fake_modfile_path("nvidia"), *want = NULL;

        take_both(w);
        fake_modfile_add(w->fs, "nvidia", "FFEEDDCCBBAA998877665544");
        assert_int_equal(gather_plan(w), -ESTALE);
        assert_true(asprintf(&want,
                             "domain 'win11': module 'nvidia' cannot be loaded again after the hand-over: "
                             "%s%s has srcversion FFEEDDCCBBAA998877665544, the loaded module "
                             "A1B2C3D4E5F60718293A4B5 (was it rebuilt by DKMS?)",
                             fakesys_root(w->fs), path) > 0);
        assert_string_equal(w->err.msg, want);
        /* A file without srcversion is another build too. */
        fake_modfile_add(w->fs, "nvidia", NULL);
        assert_int_equal(gather_plan(w), -ESTALE);
        assert_non_null(
                strstr(w->err.msg, "has srcversion none, the loaded module A1B2C3D4E5F60718293A4B5"));
}

/* The shipped example's unload_modules, with the second GPU staying on the host; `check` says the same. */
static void test_listed_stack_refused(void **state)
{
        world *w = *state;
        _cleanup_(gh_checks_done) gh_checks c = {};
        gh_check_domain cd = {.name = "win11", .policy = &w->p, .dom = &w->dom, .facts = &w->f};
        int r;

        w->p.unload_auto = false;
        assert_int_equal(
                strv_split("nvidia_drm nvidia_modeset nvidia_uvm nvidia", " ", &w->p.unload_modules), 0);
        r = gather_plan(w);
        assert_int_equal(r, -EBUSY);
        assert_string_equal(w->err.msg, "domain 'win11': unload_modules lists 'nvidia_drm', which sits on "
                                        "'nvidia', still driving 0000:07:00.0 that stays on the host");
        assert_int_equal(gh_check_plan(&c, &cd, r, &w->err), 0);
        assert_int_equal(c.items[c.n - 1].level, GH_CHECK_FAIL);
        assert_non_null(strstr(c.items[c.n - 1].detail,
                               "the hook would refuse to start the VM: domain 'win11': "
                               "unload_modules lists 'nvidia_drm'"));
}

/* nvidia_drm with modeset=Y uses both GPUs: unbinding one alone from nvidia would never return. */
static void test_unbind_hang_refused(void **state)
{
        world *w = *state;
        _cleanup_(gh_checks_done) gh_checks c = {};
        gh_check_domain cd = {.name = "win11", .policy = &w->p, .dom = &w->dom, .facts = &w->f};
        int r;

        fake_module_set_param(w->fs, "nvidia_drm", "modeset", "Y");
        r = gather_plan(w);
        assert_int_equal(r, -EDEADLK);
        assert_non_null(strstr(w->err.msg,
                               "domain 'win11': unbinding 0000:01:00.0 alone from 'nvidia' would "
                               "never finish"));
        assert_non_null(strstr(w->err.msg, "'nvidia_drm' (modeset=Y)"));
        assert_non_null(strstr(w->err.msg, "(0000:07:00.0 too)"));
        assert_int_equal(gh_check_plan(&c, &cd, r, &w->err), 0);
        assert_int_equal(c.items[c.n - 1].level, GH_CHECK_FAIL);
        assert_non_null(strstr(c.items[c.n - 1].detail, "unbinding 0000:01:00.0 alone from 'nvidia'"));
        /* Both GPUs taken: the stack is unloaded instead, nothing is unbound alone. */
        take_both(w);
        assert_int_equal(gather_plan(w), 0);
        assert_true(unloads(&w->plan, "nvidia"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_module_facts, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stack_reloadable, setup, teardown),
                cmocka_unit_test_setup_teardown(test_file_removed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_modules_dir_removed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_file_rebuilt, setup, teardown),
                cmocka_unit_test_setup_teardown(test_listed_stack_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unbind_hang_refused, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
