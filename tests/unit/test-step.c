/* Steps in the journal's line form: every kind round-trips, odd values are escaped, bad lines refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>

#include "core/step.h"
#include "shared/strv.h"

static void round_trip(const char *line)
{
        _cleanup_(gh_step_done) gh_step s = {};
        _cleanup_free_ char *again = NULL;

        assert_int_equal(gh_step_from_line(line, &s, NULL), 0);
        assert_int_equal(gh_step_to_line(&s, &again), 0);
        assert_string_equal(again, line);
}

static void test_every_kind_round_trips(void **state)
{
        round_trip("stop-unit name=gdm.service");
        round_trip("start-unit name=display-manager.service");
        round_trip("end-holders nodes=/dev/dri/card0,/dev/nvidia0 mode=fail grace=0");
        round_trip("end-holders nodes=/dev/i2c-5,dma-buf:drm,dma-buf:nv_dmabuf mode=terminate grace=5");
        round_trip("set-override addr=0000:01:00.0 driver=nvidia old=pci-stub");
        round_trip("set-override addr=0000:01:00.0");
        round_trip("unload-module name=nvidia_drm");
        round_trip("unbind addr=0000:01:00.1 driver=snd_hda_intel");
        round_trip("load-module name=vfio-pci");
        round_trip("bind-vfio addr=0000:01:00.0 group=12");
        round_trip("stop-user-unit uid=1000 name=ollama.service");
        round_trip("stop-user-unit uid=0 name=org.gnome.Shell@wayland.service");
        round_trip("wait-released nodes=/dev/dri/card1");
        round_trip("release-audio addr=0000:06:00.1 driver=snd_hda_intel nodes=/dev/snd/controlC1,"
                   "/dev/snd/pcmC1D3p mode=terminate grace=5 wait=5");
        round_trip(
                "release-audio addr=0000:06:00.1 driver=snd_hda_intel old=snd_hda_intel mode=fail grace=0 "
                "wait=0");
        round_trip("release-audio addr=0000:06:00.1 driver=snd_hda_intel nodes=/dev/snd/controlC1 "
                   "mode=terminate grace=600 wait=600");
}

/* A forged or damaged release-audio line is refused, saying why: the reader runs its undo as root. */
static void test_release_audio_forged_refused(void **state)
{
        static const char *const bad[] = {
                "release-audio addr=0000:06:00.1 driver=snd_hda_intel mode=fail grace=5 wait=601",
                "release-audio addr=0000:06:00.1 driver=snd_hda_intel mode=fail grace=5 wait=-1",
                "release-audio addr=0000:06:00.1 driver=snd_hda_intel mode=fail grace=5 wait=5s",
                "release-audio addr=0000:06:00.1 mode=fail grace=5 wait=5",    /* no driver */
                "release-audio driver=snd_hda_intel mode=fail grace=5 wait=5", /* no addr */
                "release-audio addr=0000:06:00.1 driver=.. mode=fail grace=5 wait=5",
                "release-audio addr=0000:06:00.1 driver=a%2Fb mode=fail grace=5 wait=5",
                "release-audio addr=0000:06:00.1 driver=snd_hda_intel old=.. mode=fail grace=5 wait=5",
                "release-audio addr=0000:06:00.1 driver=snd_hda_intel nodes=snd/controlC1 mode=fail grace=5",
                "release-audio addr=0000:06:00.1 driver=snd_hda_intel nodes= mode=fail grace=5",
                "release-audio addr=0000:06:00.1 driver=snd_hda_intel mode=kill grace=5 wait=5",
                "release-audio addr=0000:06:00.1 driver=snd_hda_intel group=3 mode=fail grace=5",
                "release-audio addr=0000:06:00.1 driver=snd_hda_intel name=x.service",
                "release-audio addr=06:00.1%0A driver=snd_hda_intel",
                "end-holders nodes=/dev/a mode=fail grace=5 wait=5",
                "stop-unit name=gdm.service wait=5",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                gh_step s = {};
                gh_error err = {};

                if (gh_step_from_line(bad[i], &s, &err) != -EINVAL) {
                        gh_step_done(&s);
                        fail_msg("'%s' was not refused", bad[i]);
                }
                assert_true(gh_error_isset(&err));
                assert_null(strchr(err.msg, '\n'));
        }
}

/* `plan` says the unbind comes first and what happens after the wait, by holders mode. */
static void test_describe_release_audio(void **state)
{
        _cleanup_(gh_step_done) gh_step s = {}, f = {}, none = {};
        _cleanup_free_ char *d = NULL, *df = NULL, *dn = NULL;

        assert_int_equal(
                gh_step_from_line("release-audio addr=0000:06:00.1 driver=snd_hda_intel "
                                  "nodes=/dev/snd/controlC1,/dev/snd/pcmC1D3p mode=terminate grace=5 "
                                  "wait=5",
                                  &s, NULL),
                0);
        assert_int_equal(gh_step_describe(&s, &d), 0);
        assert_string_equal(
                d, "release audio 0000:06:00.1 from 'snd_hda_intel': unbind first, its clients close "
                   "on disconnect; after 5 s, end who still holds /dev/snd/controlC1, "
                   "/dev/snd/pcmC1D3p (SIGTERM, 5s grace, SIGKILL); the unbind then completes "
                   "(undo: probe it back to 'snd_hda_intel')");
        assert_int_equal(gh_step_from_line("release-audio addr=0000:06:00.1 driver=snd_hda_intel "
                                           "nodes=/dev/snd/controlC1 mode=fail grace=5 wait=2",
                                           &f, NULL),
                         0);
        assert_int_equal(gh_step_describe(&f, &df), 0);
        assert_non_null(strstr(df, "; after 2 s, refuse if any process still holds /dev/snd/controlC1;"));
        assert_int_equal(gh_step_from_line("release-audio addr=0000:06:00.1 driver=snd_hda_intel mode=fail "
                                           "grace=5 wait=2",
                                           &none, NULL),
                         0);
        assert_int_equal(gh_step_describe(&none, &dn), 0);
        assert_non_null(strstr(dn, "; after 2 s, no node of it is on record to end holders of;"));
}

static void test_fields_parsed(void **state)
{
        _cleanup_(gh_step_done) gh_step s = {};

        assert_int_equal(
                gh_step_from_line("end-holders nodes=/dev/a,/dev/b%2Cc mode=terminate grace=7", &s, NULL),
                0);
        assert_int_equal(s.kind, GH_STEP_END_HOLDERS);
        assert_int_equal(strv_length(s.nodes), 2);
        assert_string_equal(s.nodes[1], "/dev/b,c");
        assert_int_equal(s.holders_mode, GH_HOLDERS_TERMINATE);
        assert_int_equal(s.grace_sec, 7);
}

static void test_short_address_normalised(void **state)
{
        _cleanup_(gh_step_done) gh_step s = {};

        assert_int_equal(gh_step_from_line("bind-vfio addr=01:00.0 group=3", &s, NULL), 0);
        assert_string_equal(s.addr, "0000:01:00.0");
}

/* A driver name and a device node may hold what the line form uses itself: escaped, and read back. */
static void test_odd_values_escaped(void **state)
{
        _cleanup_(gh_step_done)
                gh_step s = {.kind = GH_STEP_SET_OVERRIDE, .addr = "0000:01:00.0", .group = -1};
        _cleanup_(gh_step_done) gh_step h = {.kind = GH_STEP_END_HOLDERS, .group = -1};
        _cleanup_(gh_step_done) gh_step back = {}, hback = {};
        _cleanup_free_ char *line = NULL, *hline = NULL;

        s.driver = strdup("a b=c%d,e\"f");
        assert_int_equal(gh_step_to_line(&s, &line), 0);
        assert_null(strchr(line + strlen("set-override "), '"'));
        assert_int_equal(gh_step_from_line(line, &back, NULL), 0);
        assert_string_equal(back.driver, s.driver);
        assert_int_equal(strv_extend(&h.nodes, "/dev/a b=c%d\ne,f"), 0);
        assert_int_equal(gh_step_to_line(&h, &hline), 0);
        assert_null(strchr(hline, '\n'));
        assert_string_equal(hline, "end-holders nodes=/dev/a%20b%3Dc%25d%0Ae%2Cf mode=terminate grace=0");
        assert_int_equal(gh_step_from_line(hline, &hback, NULL), 0);
        assert_string_equal(hback.nodes[0], h.nodes[0]);
}

static void test_bad_lines_refused(void **state)
{
        static const char *const bad[] = {
                "",
                "frobnicate name=x",
                "stop-unit",                /* no unit */
                "stop-unit name=",          /* hm: empty is a value, but see below */
                "stop-unit name=a name=b",  /* key twice */
                "stop-unit name=a extra=1", /* unknown key */
                "stop-unit name=a ",        /* trailing space */
                "stop-unit  name=a",        /* empty field */
                "stop-unit =a",
                "stop-unit name=%zz",
                "stop-unit name=%00",
                "stop-unit name=%4",
                "stop-unit name=a\"b",
                "bind-vfio addr=0000:01:00.0",         /* no group */
                "bind-vfio addr=0000:01:00.8 group=1", /* bad function */
                "bind-vfio addr=0000:01:00.0 group=-1",
                "unbind addr=0000:01:00.0",           /* no driver */
                "end-holders mode=terminate grace=5", /* no nodes */
                "end-holders nodes=/dev/a mode=maybe grace=5",
                "end-holders nodes=/dev/a mode=fail grace=99999",
                "set-override addr=0000:01:00.0 name=gdm.service",
                "wait-released", /* no nodes */
                "wait-released nodes=/dev/dri/card1 mode=fail grace=5",
                "wait-released nodes=dri/card1",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                gh_step s = {};
                int r = gh_step_from_line(bad[i], &s, NULL);

                if (i == 3) {
                        /* An empty unit name is no unit: refused as well. */
                        if (r == 0) {
                                gh_step_done(&s);
                                fail_msg("accepted '%s'", bad[i]);
                        }
                        continue;
                }
                if (r != -EINVAL)
                        fail_msg("'%s' gave %d, not -EINVAL", bad[i], r);
        }
}

static void assert_steps_equal(const gh_step *a, const gh_step *b)
{
        assert_int_equal(a->kind, b->kind);
        assert_string_equal(a->addr, b->addr);
        assert_true(streq_ptr(a->name, b->name));
        assert_true(streq_ptr(a->driver, b->driver));
        assert_true(streq_ptr(a->old_override, b->old_override));
        assert_int_equal(a->group, b->group);
        assert_int_equal(strv_length(a->nodes), strv_length(b->nodes));
        for (size_t i = 0; i < strv_length(a->nodes); i++)
                assert_string_equal(a->nodes[i], b->nodes[i]);
        assert_true((a->nodes == NULL) == (b->nodes == NULL));
        assert_int_equal(a->holders_mode, b->holders_mode);
        assert_int_equal(a->grace_sec, b->grace_sec);
        assert_int_equal(a->has_uid, b->has_uid);
        assert_int_equal(a->uid, b->uid);
        assert_int_equal(a->wait_sec, b->wait_sec);
}

/* The property: a step the writer accepts reads back exactly; one it refuses, the reader refuses too. */
static void assert_writer_reader_agree(const gh_step *s)
{
        _cleanup_(gh_step_done) gh_step back = {};
        _cleanup_free_ char *line = NULL;
        gh_error err = {};
        int w = gh_step_check(s, NULL);

        if (w < 0) {
                assert_int_equal(gh_step_to_line(s, &line), -EINVAL);
                return;
        }
        assert_int_equal(gh_step_to_line(s, &line), 0);
        assert_null(strchr(line, '\n'));
        if (gh_step_from_line(line, &back, &err) < 0)
                fail_msg("wrote '%s' but read it back as: %s", line, err.msg);
        assert_steps_equal(s, &back);
}

static char *repeat(char c, size_t n, const char *suffix)
{
        char *s = malloc(n + strlen(suffix) + 1);

        assert_non_null(s);
        memset(s, c, n);
        strcpy(s + n, suffix);
        return s;
}

static gh_step named(gh_step_kind k, const char *name)
{
        return (gh_step){.kind = k, .group = -1, .name = strdup(name)};
}

static gh_step on_device(gh_step_kind k, const char *addr, const char *driver, const char *old, int group)
{
        gh_step s = {.kind = k, .group = group};

        strcpy(s.addr, addr);
        s.driver = driver ? strdup(driver) : NULL;
        s.old_override = old ? strdup(old) : NULL;
        return s;
}

static gh_step user_unit(uint32_t uid, const char *name)
{
        return (gh_step){.kind = GH_STEP_STOP_USER_UNIT,
                         .group = -1,
                         .name = strdup(name),
                         .has_uid = true,
                         .uid = uid};
}

static gh_step holders(char **nodes, gh_holders_mode mode, unsigned grace)
{
        return (gh_step){.kind = GH_STEP_END_HOLDERS,
                         .group = -1,
                         .nodes = strv_copy(nodes),
                         .holders_mode = mode,
                         .grace_sec = grace};
}

/* Every kind the planner makes, at the edges of what each field holds. */
static void test_every_step_round_trips_exactly(void **state)
{
        _cleanup_free_ char *unit_max = repeat('u', 255 - strlen(".service"), ".service");
        _cleanup_free_ char *module_max = repeat('m', 55, "");
        _cleanup_free_ char *driver_long = repeat('d', 255, "");
        char *one[] = {(char *)"/dev/dri/card0", NULL};
        char *several[] = {(char *)"/dev/dri/card0", (char *)"/dev/dri/renderD128", (char *)"/dev/nvidia0",
                           (char *)"/dev/a b,c%d=e\n\xff", NULL};
        const char *const addrs[] = {"0000:00:00.0", "ffff:ff:1f.7", "0000:01:00.1", "10de:0a:1b.3"};
        gh_step steps[] = {
                named(GH_STEP_STOP_UNIT, "gdm.service"),
                named(GH_STEP_STOP_UNIT, "getty@tty1.service"),
                named(GH_STEP_STOP_UNIT, "sys-devices-a\\x2db:c.path"),
                named(GH_STEP_STOP_UNIT, unit_max),
                named(GH_STEP_START_UNIT, "display-manager.service"),
                named(GH_STEP_START_UNIT, "x.timer"),
                user_unit(0, "ollama.service"),
                user_unit(1000, "org.gnome.Shell@wayland.service"),
                user_unit(GH_STEP_UID_MAX, unit_max),
                named(GH_STEP_UNLOAD_MODULE, "nvidia_drm"),
                named(GH_STEP_UNLOAD_MODULE, module_max),
                named(GH_STEP_UNLOAD_MODULE, "a"),
                named(GH_STEP_LOAD_MODULE, "vfio-pci"),
                holders(one, GH_HOLDERS_TERMINATE, 0),
                holders(several, GH_HOLDERS_FAIL, GH_POLICY_GRACE_MAX),
                holders(several, GH_HOLDERS_TERMINATE, 5),
        };
        gh_step devs[ELEMENTSOF(addrs) * 7];
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(addrs); i++) {
                devs[n++] = on_device(GH_STEP_SET_OVERRIDE, addrs[i], NULL, NULL, -1);
                devs[n++] = on_device(GH_STEP_SET_OVERRIDE, addrs[i], "nvidia", "pci-stub", -1);
                devs[n++] = on_device(GH_STEP_SET_OVERRIDE, addrs[i], driver_long, "a b,c%d=e\xff", -1);
                devs[n++] = on_device(GH_STEP_UNBIND, addrs[i], "snd_hda_intel", NULL, -1);
                devs[n++] = on_device(GH_STEP_UNBIND, addrs[i], "x", NULL, -1);
                devs[n++] = on_device(GH_STEP_BIND_VFIO, addrs[i], NULL, NULL, 0);
                devs[n++] = on_device(GH_STEP_BIND_VFIO, addrs[i], NULL, NULL, INT_MAX);
        }
        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                assert_int_equal(gh_step_check(&steps[i], NULL), 0);
                assert_writer_reader_agree(&steps[i]);
                gh_step_done(&steps[i]);
        }
        for (size_t i = 0; i < n; i++) {
                assert_int_equal(gh_step_check(&devs[i], NULL), 0);
                assert_writer_reader_agree(&devs[i]);
                gh_step_done(&devs[i]);
        }
}

/* What no kind allows (empty lists, empty strings, an empty list entry): the writer refuses it, so no
 * journal ever holds a line that makes the whole hand-over impossible to undo. */
static void test_writer_refuses_what_reader_refuses(void **state)
{
        char *none[] = {NULL}, *empty_entry[] = {(char *)"/dev/a", (char *)"", NULL};
        char *relative[] = {(char *)"dev/a", NULL};
        gh_step bad[] = {
                named(GH_STEP_STOP_UNIT, ""),
                named(GH_STEP_STOP_UNIT, "gdm"),
                named(GH_STEP_STOP_UNIT, "getty@.service"),
                named(GH_STEP_STOP_USER_UNIT, "ollama.service"), /* no uid */
                user_unit(1000, "ollama"),
                user_unit(1000, ""),
                user_unit(GH_STEP_UID_MAX + 1, "ollama.service"),
                {.kind = GH_STEP_STOP_USER_UNIT, .group = -1, .has_uid = true, .uid = 1000}, /* no name */
                {.kind = GH_STEP_STOP_UNIT,
                 .group = -1,
                 .name = strdup("x.service"),
                 .has_uid = true,
                 .uid = 5},
                named(GH_STEP_UNLOAD_MODULE, ""),
                named(GH_STEP_UNLOAD_MODULE, "auto"),
                named(GH_STEP_UNLOAD_MODULE, "a/b"),
                named(GH_STEP_LOAD_MODULE, "gdm.service"),
                holders(none, GH_HOLDERS_FAIL, 5),
                holders(empty_entry, GH_HOLDERS_FAIL, 5),
                holders(relative, GH_HOLDERS_FAIL, 5),
                holders(NULL, GH_HOLDERS_FAIL, 5),
                holders((char *[]){(char *)"/dev/a", NULL}, GH_HOLDERS_FAIL, GH_POLICY_GRACE_MAX + 1),
                on_device(GH_STEP_SET_OVERRIDE, "0000:01:00.0", "", NULL, -1),
                on_device(GH_STEP_SET_OVERRIDE, "0000:01:00.0", NULL, "", -1),
                on_device(GH_STEP_SET_OVERRIDE, "0000:01:00.0", "..", NULL, -1),
                on_device(GH_STEP_SET_OVERRIDE, "0000:01:00.0", "a/b", NULL, -1),
                on_device(GH_STEP_SET_OVERRIDE, "01:00.0", NULL, NULL, -1),
                on_device(GH_STEP_SET_OVERRIDE, "0000:01:00.0", NULL, NULL, 3),
                on_device(GH_STEP_UNBIND, "0000:01:00.0", NULL, NULL, -1),
                on_device(GH_STEP_BIND_VFIO, "0000:01:00.0", NULL, NULL, -1),
                on_device(GH_STEP_BIND_VFIO, "", NULL, NULL, 1),
                on_device(GH_STEP_BIND_VFIO, "0000:01:00.0", "vfio-pci", NULL, 1),
                {.kind = _GH_STEP_KIND_MAX, .group = -1},
        };

        bad[1].holders_mode = GH_HOLDERS_FAIL; /* a unit step with a holders field */
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *line = NULL;

                if (gh_step_check(&bad[i], NULL) == 0)
                        fail_msg("step %zu passes the check", i);
                assert_writer_reader_agree(&bad[i]);
                gh_step_done(&bad[i]);
        }
        /* A hand-written line with an empty nodes entry or an empty value is refused, saying why. */
        static const char *const lines[] = {
                "end-holders nodes=/dev/a,,/dev/b mode=fail grace=5",
                "end-holders nodes=/dev/a, mode=fail grace=5",
                "end-holders nodes= mode=fail grace=5",
                "end-holders nodes=dma-buf: mode=fail grace=5",
                "end-holders nodes=dma-buf:a/b mode=fail grace=5",
                "end-holders nodes=dev/a mode=fail grace=5",
                "set-override addr=0000:01:00.0 old=",
                "set-override addr=0000:01:00.0 driver=",
                "stop-unit name=",
                "stop-user-unit name=ollama.service",
                "stop-user-unit uid=1000",
                "stop-user-unit uid= name=ollama.service",
                "stop-user-unit uid=-1 name=ollama.service",
                "stop-user-unit uid=+1 name=ollama.service",
                "stop-user-unit uid=4294967295 name=ollama.service",
                "stop-user-unit uid=99999999999 name=ollama.service",
                "stop-user-unit uid=1000 uid=1000 name=ollama.service",
                "stop-user-unit uid=1000 name=ollama",
                "stop-unit uid=1000 name=ollama.service",
                "start-unit uid=1000 name=ollama.service",
        };
        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                gh_step s = {};
                gh_error err = {};

                if (gh_step_from_line(lines[i], &s, &err) != -EINVAL)
                        fail_msg("'%s' was not refused", lines[i]);
                assert_true(gh_error_isset(&err));
        }
}

/* Random steps, most of them almost right: the writer and the reader agree on every one. */
static char *random_value(unsigned *seed, bool unit, bool module)
{
        static const char alphabet[] = "abcXYZ019_-.@:\\/%=, \n\xff";
        size_t n = (size_t)(rand_r(seed) % 12);
        char *s = calloc(n + 16, 1);

        assert_non_null(s);
        for (size_t i = 0; i < n; i++) {
                int pick = rand_r(seed) % 4;
                s[i] = pick ? "abcdefgh_"[rand_r(seed) % 9]
                            : alphabet[rand_r(seed) % (sizeof(alphabet) - 1)];
        }
        if (unit && rand_r(seed) % 4)
                strcat(s, ".service");
        if (module && rand_r(seed) % 8 == 0)
                strcpy(s, "auto");
        return s;
}

static gh_step random_step(unsigned *seed)
{
        gh_step_kind k = (gh_step_kind)(rand_r(seed) % _GH_STEP_KIND_MAX);
        bool unit = k == GH_STEP_STOP_UNIT || k == GH_STEP_START_UNIT || k == GH_STEP_STOP_USER_UNIT;
        gh_step s = {.kind = k, .group = -1};
        /* Mostly the kind's own fields (addr 1, name 2, driver 4, old 8, group 16, nodes 32, holders 64,
         * uid 128, wait 256), sometimes one more or one less. */
        static const unsigned own[_GH_STEP_KIND_MAX] = {
                [GH_STEP_STOP_UNIT] = 2,      [GH_STEP_END_HOLDERS] = 96,    [GH_STEP_SET_OVERRIDE] = 13,
                [GH_STEP_UNLOAD_MODULE] = 2,  [GH_STEP_UNBIND] = 5,          [GH_STEP_LOAD_MODULE] = 2,
                [GH_STEP_BIND_VFIO] = 17,     [GH_STEP_START_UNIT] = 2,      [GH_STEP_STOP_USER_UNIT] = 130,
                [GH_STEP_WAIT_RELEASED] = 32, [GH_STEP_RELEASE_AUDIO] = 365,
        };
        unsigned fields = own[k] ^ (rand_r(seed) % 4 ? 0 : 1u << (rand_r(seed) % 9));

        if (fields & 1)
                snprintf(s.addr, sizeof(s.addr), rand_r(seed) % 4 ? "%04x:%02x:%02x.%x" : "%x:%x:%x.%x",
                         (unsigned)rand_r(seed) & 0xffff, (unsigned)rand_r(seed) & 0xff,
                         (unsigned)rand_r(seed) & 0x1f, (unsigned)rand_r(seed) & 7);
        if (fields & 2)
                s.name = random_value(seed, unit, !unit);
        if ((fields & 4) && (k != GH_STEP_SET_OVERRIDE || rand_r(seed) % 2))
                s.driver = random_value(seed, false, false);
        if ((fields & 8) && rand_r(seed) % 2)
                s.old_override = random_value(seed, false, false);
        if (fields & 16)
                s.group = rand_r(seed) % 3 ? rand_r(seed) % 64 : INT_MAX - rand_r(seed) % 2;
        for (int i = 0; (fields & 32) && i < rand_r(seed) % 4; i++) {
                _cleanup_free_ char *v = random_value(seed, false, false);
                _cleanup_free_ char *node = NULL;

                assert_true(asprintf(&node, "%s%s", rand_r(seed) % 8 ? "/dev/" : "", v) >= 0);
                assert_int_equal(strv_extend(&s.nodes, node), 0);
        }
        if ((fields & 32) && !s.nodes && rand_r(seed) % 2)
                s.nodes = calloc(1, sizeof(char *));
        if (fields & 64) {
                s.holders_mode = (gh_holders_mode)(rand_r(seed) % 2);
                s.grace_sec = (unsigned)(rand_r(seed) % (GH_POLICY_GRACE_MAX + 10));
        }
        if (fields & 256)
                s.wait_sec = (unsigned)(rand_r(seed) % (GH_POLICY_AUDIO_RELEASE_MAX + 10));
        if (fields & 128) {
                s.has_uid = true;
                s.uid = rand_r(seed) % 4 ? (uint32_t)rand_r(seed) % 70000
                                         : GH_STEP_UID_MAX + rand_r(seed) % 2;
        }
        return s;
}

static void test_random_steps_writer_reader_agree(void **state)
{
        unsigned seed = 8, good = 0;

        for (int i = 0; i < 100000; i++) {
                _cleanup_(gh_step_done) gh_step s = random_step(&seed);

                good += gh_step_check(&s, NULL) == 0;
                assert_writer_reader_agree(&s);
        }
        /* The generator must make good steps often enough to test the round trip, not just refusals. */
        assert_true(good > 20000);
}

static void test_describe_names_things(void **state)
{
        _cleanup_(gh_step_done) gh_step s = {};
        _cleanup_free_ char *d = NULL;

        assert_int_equal(gh_step_from_line("set-override addr=0000:01:00.0 driver=nvidia", &s, NULL), 0);
        assert_int_equal(gh_step_describe(&s, &d), 0);
        assert_non_null(strstr(d, "0000:01:00.0"));
        assert_non_null(strstr(d, "nvidia"));
}

static void test_describe_dmabufs(void **state)
{
        _cleanup_(gh_step_done) gh_step s = {};
        _cleanup_free_ char *d = NULL;

        assert_int_equal(
                gh_step_from_line("end-holders nodes=/dev/i2c-5,dma-buf:drm mode=fail grace=5", &s, NULL),
                0);
        assert_int_equal(gh_step_describe(&s, &d), 0);
        assert_string_equal(d, "refuse if any process still holds /dev/i2c-5, dma-bufs exported by drm");
}

/* A device with no host driver on record (claimed at boot) is probed on undo: no driver named "none". */
static void test_describe_override_without_driver(void **state)
{
        static const char want[] = "set driver_override of 0000:00:05.0 to vfio-pci (undo: restore '', "
                                   "probe for a host driver)";
        _cleanup_(gh_step_done) gh_step s = {};
        _cleanup_free_ char *d = NULL;

        assert_int_equal(gh_step_from_line("set-override addr=0000:00:05.0", &s, NULL), 0);
        assert_int_equal(gh_step_describe(&s, &d), 0);
        assert_string_equal(d, want);
}

/* `plan` names what is waited for, and whose. */
static void test_describe_wait_released(void **state)
{
        _cleanup_(gh_step_done) gh_step s = {};
        _cleanup_free_ char *d = NULL;

        assert_int_equal(gh_step_from_line("wait-released nodes=/dev/dri/card1", &s, NULL), 0);
        assert_int_equal(gh_step_describe(&s, &d), 0);
        assert_string_equal(d, "wait until logind and PID 1's fd store let go of /dev/dri/card1, which a "
                               "session took through logind");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_kind_round_trips),
                cmocka_unit_test(test_describe_wait_released),
                cmocka_unit_test(test_release_audio_forged_refused),
                cmocka_unit_test(test_describe_release_audio),
                cmocka_unit_test(test_fields_parsed),
                cmocka_unit_test(test_short_address_normalised),
                cmocka_unit_test(test_odd_values_escaped),
                cmocka_unit_test(test_bad_lines_refused),
                cmocka_unit_test(test_describe_names_things),
                cmocka_unit_test(test_describe_dmabufs),
                cmocka_unit_test(test_describe_override_without_driver),
                cmocka_unit_test(test_every_step_round_trips_exactly),
                cmocka_unit_test(test_writer_refuses_what_reader_refuses),
                cmocka_unit_test(test_random_steps_writer_reader_agree),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
