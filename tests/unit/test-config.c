/* Config text to policy: every key and value, defaults, overriding, errors with file:line, round trip. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/config.h"
#include "shared/fileio.h"
#include "shared/strv.h"

#define CONFIG_SOURCE_DIR GH_FIXTURES "/../../config"

static void assert_strv_equal(char *const *a, const char *const *b)
{
        size_t n = 0;

        while (b && b[n])
                n++;
        assert_int_equal(strv_length(a), n);
        for (size_t i = 0; i < n; i++)
                assert_string_equal(a[i], b[i]);
}

static void assert_policy_equal(const gh_policy *a, const gh_policy *b)
{
        assert_int_equal(a->devices_auto, b->devices_auto);
        assert_int_equal(a->n_devices, b->n_devices);
        for (size_t i = 0; i < a->n_devices; i++)
                assert_true(gh_pci_addr_eq(&a->devices[i], &b->devices[i]));
        assert_int_equal(a->display_manager, b->display_manager);
        assert_int_equal(a->restart_display_manager, b->restart_display_manager);
        assert_int_equal(a->unload_auto, b->unload_auto);
        assert_strv_equal(a->unload_modules, (const char *const *)b->unload_modules);
        assert_strv_equal(a->stop_units, (const char *const *)b->stop_units);
        assert_int_equal(a->holders, b->holders);
        assert_int_equal(a->holders_grace_sec, b->holders_grace_sec);
        assert_int_equal(a->timeout_sec, b->timeout_sec);
        assert_int_equal(a->audio_release_sec, b->audio_release_sec);
        assert_int_equal(a->interface_hostdevs, b->interface_hostdevs);
        assert_int_equal(a->claim_at_boot, b->claim_at_boot);
        assert_int_equal(a->keep_session, b->keep_session);
}

static void assert_devices(const gh_policy *p, const char *const *addrs, size_t n)
{
        assert_false(p->devices_auto);
        assert_int_equal(p->n_devices, n);
        for (size_t i = 0; i < n; i++)
                assert_string_equal(GH_PCI_ADDR_STR(&p->devices[i]), addrs[i]);
}

/* Parses text over fresh defaults (p must be zeroed or initialized) and expects success. */
static void parse_ok(gh_policy *p, const char *text)
{
        gh_error err = {};

        gh_policy_done(p);
        gh_policy_init(p);
        assert_int_equal(gh_config_parse(p, text, "test.conf", &err), 0);
        assert_false(gh_error_isset(&err));
}

/* Expects the parse to fail with exactly msg and to leave the policy as it was. */
static void parse_fails(const char *text, const char *msg)
{
        _cleanup_(gh_policy_done) gh_policy p = {}, before = {};
        gh_error err = {};

        gh_policy_init(&p);
        gh_policy_init(&before);
        assert_int_equal(gh_config_parse(&p, text, "/etc/gpu-handover/domains/w.conf", &err), -EINVAL);
        assert_int_equal(err.code, -EINVAL);
        assert_string_equal(err.msg, msg);
        assert_policy_equal(&p, &before);
}

static void test_defaults(void **state)
{
        _cleanup_(gh_policy_done) gh_policy p = {};

        gh_policy_init(&p);
        assert_true(p.devices_auto);
        assert_null(p.devices);
        assert_int_equal(p.n_devices, 0);
        assert_int_equal(p.display_manager, GH_DM_AUTO);
        assert_int_equal(p.restart_display_manager, GH_DM_RESTART_AUTO);
        assert_true(p.unload_auto);
        assert_null(p.unload_modules);
        assert_null(p.stop_units);
        assert_int_equal(p.holders, GH_HOLDERS_TERMINATE);
        assert_int_equal(p.holders_grace_sec, 5);
        assert_int_equal(p.audio_release_sec, 5);
        assert_int_equal(p.timeout_sec, 60);
        assert_false(p.interface_hostdevs);
        assert_false(p.claim_at_boot);
        assert_int_equal(p.keep_session, GH_KEEP_SESSION_AUTO);
        /* Nothing but comments and blank lines changes nothing. */
        _cleanup_(gh_policy_done) gh_policy q = {};
        parse_ok(&q, "\n# only a comment\n   \n\t# indented comment\n");
        assert_policy_equal(&p, &q);
        gh_policy_done(NULL);
}

static void test_every_key(void **state)
{
        static const char *const devs[] = {"0000:01:00.0", "0000:01:00.1", "0001:0a:1f.7"};
        _cleanup_(gh_policy_done) gh_policy p = {};

        parse_ok(&p, "devices = 0000:01:00.0 01:00.1,0001:0A:1f.7\n"
                     "display_manager = stop\n"
                     "restart_display_manager = after-release\n"
                     "unload_modules = nvidia_drm nvidia-modeset, nvidia\n"
                     "stop_units = nvidia-persistenced.service, getty@tty1.service\n"
                     "holders = fail\n"
                     "holders_grace = 0\n"
                     "timeout = 3600\n"
                     "interface_hostdevs = yes\n"
                     "claim_at_boot = true\n"
                     "keep_session = no\n");
        assert_devices(&p, devs, ELEMENTSOF(devs));
        assert_int_equal(p.display_manager, GH_DM_STOP);
        assert_int_equal(p.restart_display_manager, GH_DM_RESTART_AFTER_RELEASE);
        assert_false(p.unload_auto);
        assert_strv_equal(p.unload_modules,
                          (const char *[]){"nvidia_drm", "nvidia-modeset", "nvidia", NULL});
        assert_strv_equal(p.stop_units,
                          (const char *[]){"nvidia-persistenced.service", "getty@tty1.service", NULL});
        assert_int_equal(p.holders, GH_HOLDERS_FAIL);
        assert_int_equal(p.holders_grace_sec, 0);
        assert_int_equal(p.timeout_sec, 3600);
        assert_true(p.interface_hostdevs);
        assert_true(p.claim_at_boot);
        assert_int_equal(p.keep_session, GH_KEEP_SESSION_NO);
}

static void test_enum_values(void **state)
{
        _cleanup_(gh_policy_done) gh_policy p = {};

        parse_ok(&p, "display_manager = keep\nrestart_display_manager = after-bind\nholders = terminate\n");
        assert_int_equal(p.display_manager, GH_DM_KEEP);
        assert_int_equal(p.restart_display_manager, GH_DM_RESTART_AFTER_BIND);
        assert_int_equal(p.holders, GH_HOLDERS_TERMINATE);
        gh_policy_done(&p);
        parse_ok(&p, "display_manager = stop\ndisplay_manager = auto\nrestart_display_manager = auto\n");
        assert_int_equal(p.display_manager, GH_DM_AUTO);
        assert_int_equal(p.restart_display_manager, GH_DM_RESTART_AUTO);
}

static void test_enum_strings(void **state)
{
        for (int i = 0; i < _GH_DM_MODE_MAX; i++)
                assert_int_equal(gh_dm_mode_from_string(gh_dm_mode_to_string(i)), i);
        for (int i = 0; i < _GH_DM_RESTART_MAX; i++)
                assert_int_equal(gh_dm_restart_from_string(gh_dm_restart_to_string(i)), i);
        for (int i = 0; i < _GH_HOLDERS_MODE_MAX; i++)
                assert_int_equal(gh_holders_mode_from_string(gh_holders_mode_to_string(i)), i);
        assert_string_equal(gh_dm_mode_to_string(GH_DM_STOP), "stop");
        assert_string_equal(gh_dm_restart_to_string(GH_DM_RESTART_AFTER_BIND), "after-bind");
        assert_string_equal(gh_holders_mode_to_string(GH_HOLDERS_FAIL), "fail");
        assert_null(gh_dm_mode_to_string(_GH_DM_MODE_MAX));
        assert_null(gh_dm_mode_to_string(_GH_DM_MODE_INVALID));
        assert_null(gh_dm_restart_to_string(_GH_DM_RESTART_MAX));
        assert_null(gh_holders_mode_to_string(_GH_HOLDERS_MODE_MAX));
        assert_int_equal(gh_dm_mode_from_string("Stop"), _GH_DM_MODE_INVALID);
        assert_int_equal(gh_dm_mode_from_string(NULL), _GH_DM_MODE_INVALID);
        assert_int_equal(gh_dm_restart_from_string("after_bind"), _GH_DM_RESTART_INVALID);
        assert_int_equal(gh_holders_mode_from_string("kill"), _GH_HOLDERS_MODE_INVALID);
}

static void test_booleans(void **state)
{
        static const char *const yes[] = {"yes", "true", "1", "YES", "True"};
        static const char *const no[] = {"no", "false", "0", "No", "FALSE"};

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                _cleanup_(gh_policy_done) gh_policy p = {};
                _cleanup_free_ char *text = NULL;

                assert_true(asprintf(&text, "interface_hostdevs = %s\nclaim_at_boot = %s\n", yes[i],
                                     yes[i]) > 0);
                parse_ok(&p, text);
                assert_true(p.interface_hostdevs);
                assert_true(p.claim_at_boot);
                free(text);
                assert_true(asprintf(&text, "interface_hostdevs = %s\nclaim_at_boot=%s", no[i], no[i]) > 0);
                parse_ok(&p, text);
                assert_false(p.interface_hostdevs);
                assert_false(p.claim_at_boot);
        }
}

static void test_numbers(void **state)
{
        _cleanup_(gh_policy_done) gh_policy p = {};

        parse_ok(&p, "holders_grace = 600\ntimeout = 1\n");
        assert_int_equal(p.holders_grace_sec, 600);
        assert_int_equal(p.timeout_sec, 1);
        gh_policy_done(&p);
        parse_ok(&p, "holders_grace = 010\ntimeout = 0090\n");
        assert_int_equal(p.holders_grace_sec, 10);
        assert_int_equal(p.timeout_sec, 90);
        assert_int_equal(p.audio_release_sec, GH_POLICY_AUDIO_RELEASE_DEFAULT);
        gh_policy_done(&p);
        parse_ok(&p, "audio_release_timeout = 0\n");
        assert_int_equal(p.audio_release_sec, 0);
        gh_policy_done(&p);
        parse_ok(&p, "audio_release_timeout = 600\n");
        assert_int_equal(p.audio_release_sec, 600);
}

typedef struct fail_case {
        const char *text;
        const char *msg;
} fail_case;

#define W "/etc/gpu-handover/domains/w.conf"

static void test_bad_values(void **state)
{
        static const fail_case cases[] = {
                {"holders_grace = 601",
                 W ":1: bad value '601' for 'holders_grace' (expected seconds, 0..600)"},
                {"holders_grace = -1",
                 W ":1: bad value '-1' for 'holders_grace' (expected seconds, 0..600)"},
                {"holders_grace = 5s",
                 W ":1: bad value '5s' for 'holders_grace' (expected seconds, 0..600)"},
                {"holders_grace =", W ":1: bad value '' for 'holders_grace' (expected seconds, 0..600)"},
                {"audio_release_timeout = 601",
                 W ":1: bad value '601' for 'audio_release_timeout' (expected seconds, 0..600)"},
                {"audio_release_timeout = -1",
                 W ":1: bad value '-1' for 'audio_release_timeout' (expected seconds, 0..600)"},
                {"audio_release_timeout = 5s",
                 W ":1: bad value '5s' for 'audio_release_timeout' (expected seconds, 0..600)"},
                {"timeout = 0", W ":1: bad value '0' for 'timeout' (expected seconds, 1..3600)"},
                {"timeout = 3601", W ":1: bad value '3601' for 'timeout' (expected seconds, 1..3600)"},
                {"timeout = +5", W ":1: bad value '+5' for 'timeout' (expected seconds, 1..3600)"},
                {"timeout = 0x10", W ":1: bad value '0x10' for 'timeout' (expected seconds, 1..3600)"},
                {"timeout = 99999999999999999999",
                 W ":1: bad value '99999999999999999999' for 'timeout' (expected seconds, 1..3600)"},
                {"timeout = 4294967356",
                 W ":1: bad value '4294967356' for 'timeout' (expected seconds, 1..3600)"},
                {"display_manager = restart",
                 W ":1: bad value 'restart' for 'display_manager' (expected auto, stop or keep)"},
                {"display_manager = STOP",
                 W ":1: bad value 'STOP' for 'display_manager' (expected auto, stop or keep)"},
                {"restart_display_manager = never", W ":1: bad value 'never' for 'restart_display_manager' "
                                                      "(expected auto, after-bind or after-release)"},
                {"holders = kill", W ":1: bad value 'kill' for 'holders' (expected terminate or fail)"},
                {"interface_hostdevs = maybe",
                 W ":1: bad value 'maybe' for 'interface_hostdevs' (expected yes or no)"},
                {"claim_at_boot = on", W ":1: bad value 'on' for 'claim_at_boot' (expected yes or no)"},
                {"claim_at_boot =", W ":1: bad value '' for 'claim_at_boot' (expected yes or no)"},
                {"keep_session = true",
                 W ":1: bad value 'true' for 'keep_session' (expected auto, yes or no)"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                parse_fails(cases[i].text, cases[i].msg);
}

static void test_devices(void **state)
{
        static const char *const two[] = {"0000:03:00.0", "0000:03:00.1"};
        _cleanup_(gh_policy_done) gh_policy p = {};

        parse_ok(&p, "devices = ,03:00.0,,\t0000:03:00.1 ,");
        assert_devices(&p, two, 2);
        gh_policy_done(&p);
        /* An empty list is an empty allowlist, not auto. */
        parse_ok(&p, "devices =");
        assert_devices(&p, NULL, 0);
        assert_null(p.devices);
        gh_policy_done(&p);
        parse_ok(&p, "devices = 03:00.0\ndevices = auto");
        assert_true(p.devices_auto);
        assert_null(p.devices);
        assert_int_equal(p.n_devices, 0);
}

static void test_bad_devices(void **state)
{
        static const fail_case cases[] = {
                {"devices = 01:00.0 01:00", W ":1: bad PCI address '01:00' in 'devices'"},
                {"devices = 0000:01:20.0", W ":1: bad PCI address '0000:01:20.0' in 'devices'"},
                {"devices = 01:00.8", W ":1: bad PCI address '01:00.8' in 'devices'"},
                {"devices = auto 01:00.0", W ":1: bad PCI address 'auto' in 'devices'"},
                {"devices = 01:00.0;01:00.1", W ":1: bad PCI address '01:00.0;01:00.1' in 'devices'"},
                {"devices = 01:00.0, 01:00.1, 0000:01:00.0",
                 W ":1: duplicate PCI address '0000:01:00.0' in 'devices'"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                parse_fails(cases[i].text, cases[i].msg);
}

static void test_unload_modules(void **state)
{
        _cleanup_(gh_policy_done) gh_policy p = {};
        _cleanup_free_ char *ok = NULL, *bad = NULL, *msg = NULL;
        char long_name[56];

        parse_ok(&p, "unload_modules = amdgpu");
        assert_false(p.unload_auto);
        assert_strv_equal(p.unload_modules, (const char *[]){"amdgpu", NULL});
        gh_policy_done(&p);
        /* Empty: unload nothing, which is not auto. */
        parse_ok(&p, "unload_modules =   ");
        assert_false(p.unload_auto);
        assert_null(p.unload_modules);
        gh_policy_done(&p);
        parse_ok(&p, "unload_modules = nouveau\nunload_modules = auto");
        assert_true(p.unload_auto);
        assert_null(p.unload_modules);
        gh_policy_done(&p);
        memset(long_name, 'm', 55);
        long_name[55] = 0;
        /* 55 characters is the longest module name the kernel has. */
        assert_true(asprintf(&ok, "unload_modules = %s", long_name) > 0);
        parse_ok(&p, ok);
        assert_string_equal(p.unload_modules[0], long_name);
        assert_true(asprintf(&bad, "unload_modules = %sm", long_name) > 0);
        assert_true(asprintf(&msg, W ":1: bad module name '%sm' in 'unload_modules'", long_name) > 0);
        parse_fails(bad, msg);
}

static void test_bad_unload_modules(void **state)
{
        static const fail_case cases[] = {
                {"unload_modules = nvidia.ko", W ":1: bad module name 'nvidia.ko' in 'unload_modules'"},
                {"unload_modules = ../nvidia", W ":1: bad module name '../nvidia' in 'unload_modules'"},
                {"unload_modules = auto nvidia", W ":1: bad module name 'auto' in 'unload_modules'"},
                {"unload_modules = nvidia_drm nvidia nvidia_drm",
                 W ":1: duplicate module name 'nvidia_drm' in 'unload_modules'"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                parse_fails(cases[i].text, cases[i].msg);
}

static void test_stop_units(void **state)
{
        _cleanup_(gh_policy_done) gh_policy p = {};

        parse_ok(&p, "stop_units = a.service b.socket c.target session-3.scope d.timer e.path "
                     "getty@tty1.service system-getty\\x2dx.slice.service x:y.service");
        assert_strv_equal(p.stop_units,
                          (const char *[]){"a.service", "b.socket", "c.target", "session-3.scope", "d.timer",
                                           "e.path", "getty@tty1.service",
                                           "system-getty\\x2dx.slice.service", "x:y.service", NULL});
        gh_policy_done(&p);
        parse_ok(&p, "stop_units = a.service\nstop_units =");
        assert_null(p.stop_units);
}

static void test_bad_stop_units(void **state)
{
        static const char *const bad[] = {
                "nvidia-persistenced", "dev-sda.device", "foo.swap",       "-.mount",
                "-x.service",          ".service",       "getty@.service", "@tty1.service",
                "a@b@c.service",       "a/b.service",    "a$b.service",    "a.service@x",
                "ä.service",           "foo.Service",    "a#b.service"};

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *text = NULL, *msg = NULL;

                assert_true(asprintf(&text, "stop_units = ok.service %s", bad[i]) > 0);
                assert_true(asprintf(&msg, W ":1: bad unit name '%s' in 'stop_units'", bad[i]) > 0);
                parse_fails(text, msg);
        }
        parse_fails("stop_units = a.service,a.service",
                    W ":1: duplicate unit name 'a.service' in 'stop_units'");
}

/* 255 characters is the longest unit name systemd takes. */
static void test_long_unit_name(void **state)
{
        char name[257];
        _cleanup_free_ char *text = NULL, *msg = NULL;
        _cleanup_(gh_policy_done) gh_policy p = {};

        memset(name, 'u', 255);
        strcpy(name + 255 - strlen(".service"), ".service");
        assert_true(asprintf(&text, "stop_units = %s", name) > 0);
        parse_ok(&p, text);
        assert_string_equal(p.stop_units[0], name);
        free(text);
        memmove(name + 1, name, 256);
        assert_true(asprintf(&text, "stop_units = %s", name) > 0);
        assert_true(asprintf(&msg, W ":1: bad unit name '%s' in 'stop_units'", name) > 0);
        parse_fails(text, msg);
}

static void test_syntax_errors(void **state)
{
        static const fail_case cases[] = {
                {"timeout = 5\nfoo = bar\n", W ":2: unknown key 'foo'"},
                {"# c\n\nTimeout = 5\n", W ":3: unknown key 'Timeout'"},
                {"\n\n\ntimeout 5\n", W ":4: missing '=' in 'timeout 5'"},
                {"timeout = 5\n  = 5", W ":2: empty key before '= 5'"},
                {"=", W ":1: empty key before '= '"},
                {"display manager = stop", W ":1: unknown key 'display manager'"},
                {"timeout = 5\r\nholders = x\r\n",
                 W ":2: bad value 'x' for 'holders' (expected terminate or fail)"},
                {"timeout = 5\n\n# ok\nholders = terminate\ntimeout = 30 # fine\ntimeout = 30# not a "
                 "comment\n",
                 W ":6: bad value '30# not a comment' for 'timeout' (expected seconds, 1..3600)"},
                {"timeout = \"30\"", W ":1: bad value '\"30\"' for 'timeout' (expected seconds, 1..3600)"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                parse_fails(cases[i].text, cases[i].msg);
}

static void test_comments(void **state)
{
        _cleanup_(gh_policy_done) gh_policy p = {};

        parse_ok(&p, "# full line\n"
                     "   # indented\n"
                     "timeout = 30 # trailing\n"
                     "holders_grace = 7\t# after a tab\n"
                     "devices = 01:00.0 # 02:00.0\n"
                     "stop_units = a.service #b.service\n"
                     "#claim_at_boot = yes\n"
                     "\t\n");
        assert_int_equal(p.timeout_sec, 30);
        assert_int_equal(p.holders_grace_sec, 7);
        assert_devices(&p, (const char *[]){"0000:01:00.0"}, 1);
        assert_strv_equal(p.stop_units, (const char *[]){"a.service", NULL});
        assert_false(p.claim_at_boot);
        gh_policy_done(&p);
        /* Around '=' and at both ends, whitespace is not part of key or value. */
        parse_ok(&p, "  \tdisplay_manager\t=\tkeep  \r\n");
        assert_int_equal(p.display_manager, GH_DM_KEEP);
}

/* The global file, then the domain's: later keys win one by one, lists are replaced. */
static void test_override_order(void **state)
{
        _cleanup_(gh_policy_done) gh_policy p = {};
        gh_error err = {};

        gh_policy_init(&p);
        assert_int_equal(gh_config_parse(&p,
                                         "devices = 01:00.0 01:00.1\n"
                                         "unload_modules = nvidia_drm nvidia\n"
                                         "stop_units = a.service b.service\n"
                                         "timeout = 90\n"
                                         "holders = fail\n",
                                         "global.conf", &err),
                         0);
        assert_int_equal(gh_config_parse(&p,
                                         "devices = 02:00.0\n"
                                         "stop_units = c.service\n"
                                         "timeout = 30\n"
                                         "timeout = 45\n"
                                         "claim_at_boot = yes\n",
                                         "domain.conf", &err),
                         0);
        assert_devices(&p, (const char *[]){"0000:02:00.0"}, 1);
        assert_strv_equal(p.unload_modules, (const char *[]){"nvidia_drm", "nvidia", NULL});
        assert_strv_equal(p.stop_units, (const char *[]){"c.service", NULL});
        assert_int_equal(p.timeout_sec, 45);
        assert_int_equal(p.holders, GH_HOLDERS_FAIL);
        assert_true(p.claim_at_boot);
        assert_int_equal(p.display_manager, GH_DM_AUTO);

        /* A failing third file changes nothing, not even the keys before its bad line. */
        assert_int_equal(
                gh_config_parse(&p, "timeout = 10\ndevices = 03:00.0\nholders = x\n", "bad.conf", &err),
                -EINVAL);
        assert_string_equal(err.msg, "bad.conf:3: bad value 'x' for 'holders' (expected terminate or fail)");
        assert_int_equal(p.timeout_sec, 45);
        assert_devices(&p, (const char *[]){"0000:02:00.0"}, 1);
}

static void assert_round_trip(const gh_policy *p)
{
        _cleanup_free_ char *text = NULL, *again = NULL;
        _cleanup_(gh_policy_done) gh_policy q = {};

        assert_int_equal(gh_policy_format(p, &text), 0);
        parse_ok(&q, text);
        assert_policy_equal(p, &q);
        assert_int_equal(gh_policy_format(&q, &again), 0);
        assert_string_equal(text, again);
}

static void test_format_defaults(void **state)
{
        _cleanup_(gh_policy_done) gh_policy p = {};
        _cleanup_free_ char *text = NULL;

        gh_policy_init(&p);
        assert_int_equal(gh_policy_format(&p, &text), 0);
        assert_string_equal(text, "devices = auto\n"
                                  "display_manager = auto\n"
                                  "restart_display_manager = auto\n"
                                  "unload_modules = auto\n"
                                  "stop_units =\n"
                                  "holders = terminate\n"
                                  "holders_grace = 5\n"
                                  "timeout = 60\n"
                                  "audio_release_timeout = 5\n"
                                  "interface_hostdevs = no\n"
                                  "claim_at_boot = no\n"
                                  "keep_session = auto\n");
        assert_round_trip(&p);
}

static void test_format_round_trip(void **state)
{
        _cleanup_(gh_policy_done) gh_policy p = {}, empty = {};
        _cleanup_free_ char *text = NULL;

        parse_ok(&p, "devices = 01:00.0, 0002:0b:1f.7\n"
                     "display_manager = keep\n"
                     "restart_display_manager = after-bind\n"
                     "unload_modules = amdgpu\n"
                     "stop_units = a.service getty@tty2.service\n"
                     "holders = fail\n"
                     "holders_grace = 600\n"
                     "timeout = 1\n"
                     "audio_release_timeout = 0\n"
                     "interface_hostdevs = 1\n"
                     "claim_at_boot = TRUE\n"
                     "keep_session = yes\n");
        assert_int_equal(gh_policy_format(&p, &text), 0);
        assert_string_equal(text, "devices = 0000:01:00.0 0002:0b:1f.7\n"
                                  "display_manager = keep\n"
                                  "restart_display_manager = after-bind\n"
                                  "unload_modules = amdgpu\n"
                                  "stop_units = a.service getty@tty2.service\n"
                                  "holders = fail\n"
                                  "holders_grace = 600\n"
                                  "timeout = 1\n"
                                  "audio_release_timeout = 0\n"
                                  "interface_hostdevs = yes\n"
                                  "claim_at_boot = yes\n"
                                  "keep_session = yes\n");
        assert_round_trip(&p);
        /* Empty lists, which are not auto, survive the trip too. */
        parse_ok(&empty, "devices =\nunload_modules =\n");
        assert_round_trip(&empty);
}

static void test_format_refuses_invalid(void **state)
{
        gh_policy p;
        char *text = NULL;

        gh_policy_init(&p);
        p.display_manager = _GH_DM_MODE_MAX;
        assert_int_equal(gh_policy_format(&p, &text), -EINVAL);
        gh_policy_init(&p);
        p.holders = _GH_HOLDERS_MODE_INVALID;
        assert_int_equal(gh_policy_format(&p, &text), -EINVAL);
        gh_policy_init(&p);
        p.timeout_sec = 0;
        assert_int_equal(gh_policy_format(&p, &text), -EINVAL);
        gh_policy_init(&p);
        p.holders_grace_sec = 601;
        assert_int_equal(gh_policy_format(&p, &text), -EINVAL);
        gh_policy_init(&p);
        p.audio_release_sec = 601;
        assert_int_equal(gh_policy_format(&p, &text), -EINVAL);
        assert_null(text);
}

/* The shipped global example shows every key commented out with its default: uncommented, those
 * lines must parse, cover every key, and give exactly the defaults. */
static void test_example_global(void **state)
{
        _cleanup_free_ char *text = NULL, *defaults = NULL, *uncommented = calloc(1, 64 * 1024);
        _cleanup_(gh_policy_done) gh_policy p = {}, q = {}, d = {};
        size_t n_keys = 0;
        char *o;

        assert_int_equal(read_full_file(CONFIG_SOURCE_DIR "/gpu-handover.conf", 64 * 1024, &text, NULL), 0);
        parse_ok(&p, text);
        gh_policy_init(&d);
        assert_policy_equal(&p, &d);
        o = uncommented;
        for (const char *l = text; *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] == '\n')) {
                size_t n = strcspn(l, "\n");

                if (l[0] != '#' || !(l[1] >= 'a' && l[1] <= 'z'))
                        continue;
                memcpy(o, l + 1, n - 1);
                o += n - 1;
                *o++ = '\n';
                n_keys++;
        }
        assert_int_equal(n_keys, 12);
        parse_ok(&q, uncommented);
        assert_policy_equal(&q, &d);
        assert_int_equal(gh_policy_format(&d, &defaults), 0);
        assert_string_equal(uncommented, defaults);
}

static void test_example_domain(void **state)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_(gh_policy_done) gh_policy p = {};

        assert_int_equal(
                read_full_file(CONFIG_SOURCE_DIR "/domains/win11.conf.example", 64 * 1024, &text, NULL), 0);
        parse_ok(&p, text);
        assert_devices(&p, (const char *[]){"0000:01:00.0", "0000:01:00.1"}, 2);
        assert_int_equal(p.display_manager, GH_DM_STOP);
        assert_int_equal(p.restart_display_manager, GH_DM_RESTART_AFTER_RELEASE);
        assert_strv_equal(p.unload_modules,
                          (const char *[]){"nvidia_drm", "nvidia_modeset", "nvidia_uvm", "nvidia", NULL});
        assert_strv_equal(p.stop_units, (const char *[]){"nvidia-persistenced.service", NULL});
        assert_int_equal(p.holders_grace_sec, 10);
        assert_int_equal(p.timeout_sec, 120);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),           cmocka_unit_test(test_every_key),
                cmocka_unit_test(test_enum_values),        cmocka_unit_test(test_enum_strings),
                cmocka_unit_test(test_booleans),           cmocka_unit_test(test_numbers),
                cmocka_unit_test(test_bad_values),         cmocka_unit_test(test_devices),
                cmocka_unit_test(test_bad_devices),        cmocka_unit_test(test_unload_modules),
                cmocka_unit_test(test_bad_unload_modules), cmocka_unit_test(test_stop_units),
                cmocka_unit_test(test_bad_stop_units),     cmocka_unit_test(test_long_unit_name),
                cmocka_unit_test(test_syntax_errors),      cmocka_unit_test(test_comments),
                cmocka_unit_test(test_override_order),     cmocka_unit_test(test_format_defaults),
                cmocka_unit_test(test_format_round_trip),  cmocka_unit_test(test_format_refuses_invalid),
                cmocka_unit_test(test_example_global),     cmocka_unit_test(test_example_domain),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
