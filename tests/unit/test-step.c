/* Steps in the journal's line form: every kind round-trips, odd values are escaped, bad lines refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/step.h"
#include "shared/strv.h"

static void round_trip(const char *line)
{
        _cleanup_(gh_step_done) gh_step s = {};
        _cleanup_free_ char *again = NULL;

        assert_int_equal(gh_step_from_line(line, &s), 0);
        assert_int_equal(gh_step_to_line(&s, &again), 0);
        assert_string_equal(again, line);
}

static void test_every_kind_round_trips(void **state)
{
        round_trip("stop-unit name=gdm.service");
        round_trip("start-unit name=display-manager.service");
        round_trip("end-holders nodes=/dev/dri/card0,/dev/nvidia0 mode=fail grace=0");
        round_trip("set-override addr=0000:01:00.0 driver=nvidia old=pci-stub");
        round_trip("set-override addr=0000:01:00.0");
        round_trip("unload-module name=nvidia_drm");
        round_trip("unbind addr=0000:01:00.1 driver=snd_hda_intel");
        round_trip("load-module name=vfio-pci");
        round_trip("bind-vfio addr=0000:01:00.0 group=12");
}

static void test_fields_parsed(void **state)
{
        _cleanup_(gh_step_done) gh_step s = {};

        assert_int_equal(gh_step_from_line("end-holders nodes=/dev/a,/dev/b%2Cc mode=terminate grace=7", &s), 0);
        assert_int_equal(s.kind, GH_STEP_END_HOLDERS);
        assert_int_equal(strv_length(s.nodes), 2);
        assert_string_equal(s.nodes[1], "/dev/b,c");
        assert_int_equal(s.holders_mode, GH_HOLDERS_TERMINATE);
        assert_int_equal(s.grace_sec, 7);
}

static void test_short_address_normalised(void **state)
{
        _cleanup_(gh_step_done) gh_step s = {};

        assert_int_equal(gh_step_from_line("bind-vfio addr=01:00.0 group=3", &s), 0);
        assert_string_equal(s.addr, "0000:01:00.0");
}

static void test_odd_values_escaped(void **state)
{
        _cleanup_(gh_step_done) gh_step s = {.kind = GH_STEP_STOP_UNIT, .group = -1};
        _cleanup_(gh_step_done) gh_step back = {};
        _cleanup_free_ char *line = NULL;

        s.name = strdup("a b=c%d\ne.service");
        assert_int_equal(gh_step_to_line(&s, &line), 0);
        assert_null(strchr(line + strlen("stop-unit "), ' '));
        assert_null(strchr(line, '\n'));
        assert_int_equal(gh_step_from_line(line, &back), 0);
        assert_string_equal(back.name, s.name);
}

static void test_bad_lines_refused(void **state)
{
        static const char *const bad[] = {
                "",
                "frobnicate name=x",
                "stop-unit",                               /* no unit */
                "stop-unit name=",                         /* hm: empty is a value, but see below */
                "stop-unit name=a name=b",                 /* key twice */
                "stop-unit name=a extra=1",                /* unknown key */
                "stop-unit name=a ",                       /* trailing space */
                "stop-unit  name=a",                       /* empty field */
                "stop-unit =a",
                "stop-unit name=%zz",
                "stop-unit name=%00",
                "stop-unit name=%4",
                "stop-unit name=a\"b",
                "bind-vfio addr=0000:01:00.0",             /* no group */
                "bind-vfio addr=0000:01:00.8 group=1",     /* bad function */
                "bind-vfio addr=0000:01:00.0 group=-1",
                "unbind addr=0000:01:00.0",                /* no driver */
                "end-holders mode=terminate grace=5",      /* no nodes */
                "end-holders nodes=/dev/a mode=maybe grace=5",
                "end-holders nodes=/dev/a mode=fail grace=99999",
                "set-override addr=0000:01:00.0 name=gdm.service",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                gh_step s = {};
                int r = gh_step_from_line(bad[i], &s);

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

static void test_describe_names_things(void **state)
{
        _cleanup_(gh_step_done) gh_step s = {};
        _cleanup_free_ char *d = NULL;

        assert_int_equal(gh_step_from_line("set-override addr=0000:01:00.0 driver=nvidia", &s), 0);
        assert_int_equal(gh_step_describe(&s, &d), 0);
        assert_non_null(strstr(d, "0000:01:00.0"));
        assert_non_null(strstr(d, "nvidia"));
}

/* A device with no host driver on record (claimed at boot) is probed on undo: no driver named "none". */
static void test_describe_override_without_driver(void **state)
{
        static const char want[] = "set driver_override of 0000:00:05.0 to vfio-pci (undo: restore '', "
                                   "probe for a host driver)";
        _cleanup_(gh_step_done) gh_step s = {};
        _cleanup_free_ char *d = NULL;

        assert_int_equal(gh_step_from_line("set-override addr=0000:00:05.0", &s), 0);
        assert_int_equal(gh_step_describe(&s, &d), 0);
        assert_string_equal(d, want);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_kind_round_trips), cmocka_unit_test(test_fields_parsed),
                cmocka_unit_test(test_short_address_normalised), cmocka_unit_test(test_odd_values_escaped),
                cmocka_unit_test(test_bad_lines_refused),       cmocka_unit_test(test_describe_names_things),
                cmocka_unit_test(test_describe_override_without_driver),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
