/* An in-memory host for executor tests: drivers, overrides, modules, units, holders, journal. */
#include <errno.h>
#include <inttypes.h>

#include "fake-host.h"
#include "shared/strv.h"

static const struct {
        const char *driver, *module;
} driver_modules[] = {
        {"bochs-drm", "bochs"},   {"snd_hda_intel", "snd_hda_intel"}, {"nvidia", "nvidia"},
        {"vfio-pci", "vfio_pci"}, {"amdgpu", "amdgpu"},
};

const char *fake_driver_module(const char *driver)
{
        for (size_t i = 0; i < ELEMENTSOF(driver_modules); i++)
                if (streq(driver_modules[i].driver, driver))
                        return driver_modules[i].module;
        return NULL;
}

static bool module_loaded(const fake_host *h, const char *module)
{
        STRV_FOREACH (m, h->modules)
                if (gh_module_name_eq(*m, module))
                        return true;
        return false;
}

static void strv_remove(char **l, const char *s)
{
        char **w = l;

        STRV_FOREACH (i, l) {
                if (streq(*i, s))
                        free(*i);
                else
                        *w++ = *i;
        }
        if (w)
                *w = NULL;
}

static void set_str(char **p, const char *v)
{
        free(*p);
        *p = v ? strdup(v) : NULL;
}

fake_dev *fake_host_dev(fake_host *h, const char *addr)
{
        for (size_t i = 0; i < h->n_devs; i++)
                if (streq(h->devs[i].addr, addr))
                        return &h->devs[i];
        return NULL;
}

void fake_host_add_dev(fake_host *h, const char *addr, const char *driver, const char *native)
{
        fake_dev *d = &h->devs[h->n_devs++];

        snprintf(d->addr, sizeof(d->addr), "%s", addr);
        d->driver = driver ? strdup(driver) : NULL;
        d->native = native;
}

/* Counts the call, logs it, and fails it when its number is up. */
static int call(fake_host *h, const char *op, const char *arg)
{
        char *c;

        h->n_calls++;
        if (asprintf(&c, "%s %s", op, arg) < 0)
                return -ENOMEM;
        strv_push(&h->calls, c);
        if (h->fail_call && h->n_calls == h->fail_call)
                return h->fail_error ? h->fail_error : -EIO;
        if (strv_contains(h->fail_ops, c))
                return h->fail_ops_error ? h->fail_ops_error : -EIO;
        return 0;
}

/* The kernel's probe: the override names the only driver allowed; else the native one. */
static void probe(fake_host *h, fake_dev *d)
{
        const char *want = d->override ? d->override : d->native;

        if (d->driver || !want || !module_loaded(h, fake_driver_module(want)))
                return;
        set_str(&d->driver, want);
}

/* As units.c does: no job without time left, and a job that never ends waits out the deadline. */
static int unit_job_wait(fake_host *h, const char *verb, const char *unit, usec_t deadline, gh_error *err)
{
        if (deadline_passed(deadline))
                return gh_error_set(err, -ETIMEDOUT, "no time left to %s unit '%s'", verb, unit);
        if (!strv_contains(h->hang_ops, h->calls[h->n_calls - 1]))
                return 0;
        while (deadline_sleep(deadline, 10 * USEC_PER_MSEC))
                ;
        return gh_error_set(err, -ETIMEDOUT, "unit '%s' did not %s before the deadline", unit, verb);
}

static int f_unit_stop(void *ctx, const char *unit, usec_t deadline, gh_error *err)
{
        fake_host *h = ctx;
        int r = call(h, "unit_stop", unit);

        if (r == 0)
                r = unit_job_wait(h, "stop", unit, deadline, err);
        if (r == 0)
                strv_remove(h->active_units, unit);
        return r;
}

static int f_unit_start(void *ctx, const char *unit, usec_t deadline, gh_error *err)
{
        fake_host *h = ctx;
        int r = call(h, "unit_start", unit);

        h->start_left = deadline_left(deadline);
        if (r == 0)
                r = unit_job_wait(h, "start", unit, deadline, err);
        return r < 0 ? r : strv_extend_unique(&h->active_units, unit);
}

/* A user unit is "UID/UNIT", in the calls and in active_units alike. */
static int f_user_unit_stop(void *ctx, uint32_t uid, const char *unit, usec_t deadline, gh_error *err)
{
        _cleanup_free_ char *name = NULL;

        if (asprintf(&name, "%" PRIu32 "/%s", uid, unit) < 0)
                return -ENOMEM;
        return f_unit_stop(ctx, name, deadline, err);
}

static int f_user_unit_start(void *ctx, uint32_t uid, const char *unit, usec_t deadline, gh_error *err)
{
        _cleanup_free_ char *name = NULL;

        if (asprintf(&name, "%" PRIu32 "/%s", uid, unit) < 0)
                return -ENOMEM;
        return f_unit_start(ctx, name, deadline, err);
}

static int f_holders_end(void *ctx, char *const *nodes, gh_holders_mode mode, usec_t grace, usec_t deadline,
                         gh_error *err)
{
        fake_host *h = ctx;
        int r = call(h, "holders_end", nodes[0]);

        if (r < 0)
                return r;
        STRV_FOREACH (n, nodes)
                if (strv_contains(h->held_nodes, *n) && mode == GH_HOLDERS_FAIL)
                        return gh_error_set(err, -EBUSY, "%s is held", *n);
        STRV_FOREACH (n, nodes)
                strv_remove(h->held_nodes, *n);
        return 0;
}

/* logind lets go as soon as it is waited for, unless it keeps the copies for good. */
static int f_logind_wait_released(void *ctx, char *const *nodes, usec_t deadline, gh_error *err)
{
        fake_host *h = ctx;
        int r = call(h, "logind_wait_released", nodes[0]);

        if (r < 0)
                return r;
        STRV_FOREACH(n, nodes)
        if (strv_contains(h->logind_nodes, *n) && h->logind_keeps)
                return gh_error_set(err, -ETIMEDOUT,
                                    "logind has not released its copies of the "
                                    "session's devices by the deadline: %s",
                                    *n);
        STRV_FOREACH(n, nodes)
        strv_remove(h->logind_nodes, *n);
        return 0;
}

static int f_override_set(void *ctx, const char *addr, const char *driver, usec_t deadline, gh_error *err)
{
        fake_host *h = ctx;
        fake_dev *d = fake_host_dev(h, addr);
        int r = call(h, "override_set", addr);

        if (r < 0)
                return r;
        if (!d)
                return -ENODEV;
        set_str(&d->override, driver);
        return 0;
}

static int f_module_unload(void *ctx, const char *module, usec_t deadline, gh_error *err)
{
        fake_host *h = ctx;
        int r = call(h, "module_unload", module);

        if (r < 0 || !module_loaded(h, module))
                return r;
        /* A held device keeps its module busy, as an open /dev/dri/card0 keeps a refcount. */
        for (size_t i = 0; i < h->n_devs; i++)
                if (h->devs[i].driver && gh_module_name_eq(fake_driver_module(h->devs[i].driver), module) &&
                    ((h->held_nodes && h->held_nodes[0]) || (h->logind_nodes && h->logind_nodes[0])))
                        return -EBUSY;
        for (size_t i = 0; i < h->n_devs; i++)
                if (h->devs[i].driver && gh_module_name_eq(fake_driver_module(h->devs[i].driver), module))
                        set_str(&h->devs[i].driver, NULL);
        strv_remove(h->modules, module);
        return 0;
}

static int f_module_load(void *ctx, const char *module, usec_t deadline, gh_error *err)
{
        fake_host *h = ctx;
        int r = call(h, "module_load", module);
        size_t probed = 0;

        if (r < 0 || module_loaded(h, module))
                return r;
        r = strv_extend(&h->modules, module);
        /* A driver registering probes the driverless devices that match it, and only it. */
        for (size_t i = 0; r >= 0 && i < h->n_devs; i++) {
                fake_dev *d = &h->devs[i];
                const char *want = d->override ? d->override : d->native;

                if (want && gh_module_name_eq(strempty(fake_driver_module(want)), module)) {
                        probe(h, d);
                        probed += streq_ptr(d->driver, want);
                }
        }
        /* nvidia.ko: "No NVIDIA devices probed", and the module is gone again. */
        if (r >= 0 && probed == 0 && strv_contains(h->need_device, module)) {
                strv_remove(h->modules, module);
                return gh_error_set(err, -ENODEV, "module '%s' probed no device", module);
        }
        return r;
}

static int f_dev_unbind(void *ctx, const char *addr, const char *driver, usec_t deadline, gh_error *err)
{
        fake_host *h = ctx;
        fake_dev *d = fake_host_dev(h, addr);
        int r = call(h, "dev_unbind", addr);

        if (r < 0)
                return r;
        if (d && streq_ptr(d->driver, driver))
                set_str(&d->driver, NULL);
        return 0;
}

/* ALSA's unbind: the clients in audio_clients close on the disconnect, unasked; a holder in held_nodes does
 * not, and is ended (or refuses, with holders = fail) once the wait is over, as "audio_holders_end". */
static int f_audio_release(void *ctx, const gh_step *s, usec_t deadline, gh_error *err)
{
        fake_host *h = ctx;
        fake_dev *d = fake_host_dev(h, s->addr);
        int r = call(h, "audio_release", s->addr);

        if (r < 0 || !d || !streq_ptr(d->driver, s->driver))
                return r;
        STRV_FOREACH(n, s->nodes)
        strv_remove(h->audio_clients, *n);
        STRV_FOREACH(n, s->nodes)
        {
                if (!strv_contains(h->held_nodes, *n))
                        continue;
                if ((r = call(h, "audio_holders_end", *n)) < 0)
                        return r;
                if (s->holders_mode == GH_HOLDERS_FAIL)
                        return gh_error_set(err, -EBUSY, "%s is held", *n);
                strv_remove(h->held_nodes, *n);
        }
        set_str(&d->driver, NULL);
        return 0;
}

static int f_dev_bind_vfio(void *ctx, const char *addr, int group, usec_t deadline, gh_error *err)
{
        fake_host *h = ctx;
        fake_dev *d = fake_host_dev(h, addr);
        int r = call(h, "dev_bind_vfio", addr);

        if (r < 0)
                return r;
        probe(h, d);
        return streq_ptr(d->driver, "vfio-pci") ? 0 : gh_error_set(err, -ENODEV, "%s not on vfio-pci", addr);
}

static int f_dev_give_back(void *ctx, const char *addr, const char *old, const char *driver, usec_t deadline,
                           gh_error *err)
{
        fake_host *h = ctx;
        fake_dev *d = fake_host_dev(h, addr);
        int r = call(h, "dev_give_back", addr);

        if (r < 0)
                return r;
        set_str(&d->override, old);
        if (streq_ptr(d->driver, "vfio-pci"))
                set_str(&d->driver, NULL);
        probe(h, d);
        if (driver && !streq_ptr(d->driver, driver))
                return gh_error_set(err, -ENODEV, "%s did not bind to %s", addr, driver);
        return 0;
}

static int f_dev_verify_nodes(void *ctx, const char *addr, char *const *nodes, usec_t deadline, gh_error *err)
{
        fake_host *h = ctx;
        int r = call(h, "dev_verify_nodes", addr);

        if (r < 0)
                return r;
        STRV_FOREACH (n, nodes)
                if (strv_contains(h->absent_nodes, *n))
                        return gh_error_set(err, -ENODEV, "%s did not come back", *n);
        return 0;
}

static int f_journal_append(void *ctx, const char *line, gh_error *err)
{
        fake_host *h = ctx;
        int r = call(h, "journal_append", line);

        return r < 0 ? r : strv_extend(&h->journal, line);
}

static int f_dev_stuck(void *ctx, const char *addr, gh_stuck *ret)
{
        fake_host *h = ctx;

        if (!strv_contains(h->stuck, addr))
                return 0;
        *ret = (gh_stuck){.op = GH_STUCK_REMOVE, .since = 1764633600000000};
        snprintf(ret->addr, sizeof(ret->addr), "%s", addr);
        return 1;
}

const gh_host_ops fake_host_ops = {
        .unit_stop = f_unit_stop,
        .unit_start = f_unit_start,
        .user_unit_stop = f_user_unit_stop,
        .user_unit_start = f_user_unit_start,
        .holders_end = f_holders_end,
        .logind_wait_released = f_logind_wait_released,
        .override_set = f_override_set,
        .module_unload = f_module_unload,
        .module_load = f_module_load,
        .dev_unbind = f_dev_unbind,
        .audio_release = f_audio_release,
        .dev_bind_vfio = f_dev_bind_vfio,
        .dev_give_back = f_dev_give_back,
        .dev_verify_nodes = f_dev_verify_nodes,
        .journal_append = f_journal_append,
        .dev_stuck = f_dev_stuck,
};

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void append_sorted(FILE *f, const char *label, char **l)
{
        _cleanup_strv_free_ char **c = strv_copy(l);

        qsort(c, strv_length(c), sizeof(char *), cmp_str);
        fprintf(f, "%s:", label);
        STRV_FOREACH (s, c)
                fprintf(f, " %s", *s);
        fprintf(f, "\n");
}

char *fake_host_state(const fake_host *h)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                return NULL;
        for (size_t i = 0; i < h->n_devs; i++)
                fprintf(f, "%s driver=%s override=%s\n", h->devs[i].addr, strempty(h->devs[i].driver),
                        strempty(h->devs[i].override));
        /* vfio-pci stays loaded on purpose (unloading it could take devices from other guests). */
        {
                _cleanup_strv_free_ char **m = strv_copy(h->modules);
                strv_remove(m, "vfio-pci");
                append_sorted(f, "modules", m);
        }
        append_sorted(f, "units", h->active_units);
        fclose(f);
        return buf;
}

void fake_host_done(fake_host *h)
{
        for (size_t i = 0; i < h->n_devs; i++) {
                free(h->devs[i].driver);
                free(h->devs[i].override);
        }
        strv_free(h->modules);
        strv_free(h->active_units);
        strv_free(h->held_nodes);
        strv_free(h->audio_clients);
        strv_free(h->logind_nodes);
        strv_free(h->journal);
        strv_free(h->calls);
        strv_free(h->fail_ops);
        strv_free(h->hang_ops);
        strv_free(h->stuck);
        strv_free(h->need_device);
        strv_free(h->absent_nodes);
        *h = (fake_host){};
}
