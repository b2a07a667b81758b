/* `gpu-handover check DOMAIN [--xml FILE|-] [--connect URI]`: is this host ready to hand the domain its GPU?
 * One PASS, WARN or FAIL line per check, a hint under each WARN and FAIL. Reads only; the one command
 * that asks libvirt (read-only) for the domain's XML. */
#include <errno.h>
#include <getopt.h>

#include "core/check.h"
#include "front.h"
#include "host/conffile.h"
#include "host/gather.h"
#include "host/hostcheck.h"
#include "host/libvirt-dl.h"
#include "shared/fileio.h"

/* The local qemu driver; the test build also opens libvirt's test driver, which reads the node from any
 * file its URI names. */
#ifdef GH_TEST_BUILD
#define CHECK_URIS GH_LIBVIRT_TEST_DRIVER
#else
#define CHECK_URIS GH_LIBVIRT_QEMU_ONLY
#endif

typedef struct check_args {
        const char *domain;
        const char *xml_path; /* NULL: ask libvirt */
        const char *uri;
} check_args;

/* What the domain's checks are built from; each part is valid only when its _ok is set. */
typedef struct domain_state {
        gh_policy policy;
        gh_domain dom;
        gh_facts facts;
        gh_plan plan;
        gh_desktop_gpu *away; /* what the installed desktop rules keep away */
        size_t n_away;
        bool policy_ok, dom_ok, facts_ok, plan_ok;
} domain_state;

static void domain_state_done(domain_state *s)
{
        gh_desktop_gpus_free(s->away, s->n_away);
        gh_policy_done(&s->policy);
        gh_domain_done(&s->dom);
        gh_facts_done(&s->facts);
        gh_plan_done(&s->plan);
}

/* 0 to go on, or GH_ARGS_HELP / GH_ARGS_BAD (reported here). */
static int parse_args(const gh_command *self, int argc, char *argv[], check_args *a)
{
        static const struct option opts[] = {
                {"xml", required_argument, NULL, 'x'},
                {"connect", required_argument, NULL, 'c'},
                GH_OPTION_HELP,
                {},
        };
        gh_opts o = {.cmd = self, .longopts = opts};
        int r;

        while ((r = gh_opts_next(&o, argc, argv)) != GH_ARGS_END) {
                if (r < 0)
                        return r;
                if (r == 'x')
                        a->xml_path = optarg;
                else if (gh_libvirt_uri_allowed(optarg, CHECK_URIS))
                        a->uri = optarg;
                else {
                        fprintf(stderr,
                                "gpu-handover: check: --connect '%s': only a local qemu:/// URI without "
                                "parameters, such as " GH_LIBVIRT_URI "\n",
                                optarg);
                        return GH_ARGS_BAD;
                }
        }
        if ((r = gh_args_positional(self, argc, argv, 1, 1)) < 0 ||
            (r = gh_args_domain(self, argv[optind])) < 0)
                return r;
        a->domain = argv[optind];
        return 0;
}

/* Where the XML comes from, as the XML line names it. */
static int xml_source(const check_args *a, char **ret)
{
        char *s;

        if (!a->xml_path) {
                if (asprintf(&s, "libvirt at '%s'", a->uri) < 0)
                        s = NULL;
        } else if (streq(a->xml_path, "-"))
                s = strdup("stdin");
        else if (asprintf(&s, "'%s'", a->xml_path) < 0)
                s = NULL;
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* From --xml FILE, stdin, or libvirt. */
static int read_xml(const check_args *a, const char *source, char **ret, size_t *ret_len, gh_error *err)
{
        int r;

        if (!a->xml_path) {
                r = gh_libvirt_domain_xml(a->uri, CHECK_URIS, a->domain, ret, err);
                if (r >= 0)
                        *ret_len = strlen(*ret);
        } else if (streq(a->xml_path, "-"))
                r = read_full_fd(STDIN_FILENO, GH_DOMXML_MAX, ret, ret_len);
        else
                r = read_regular_file(a->xml_path, GH_DOMXML_MAX, ret, ret_len);
        if (r >= 0 && *ret_len > GH_DOMXML_MAX)
                r = -EFBIG;
        if (r < 0)
                gh_error_set(err, r, "cannot read the domain XML from %s: %s", source,
                             gh_domxml_read_error(r));
        return r;
}

static int check_xml(const check_args *a, domain_state *s, gh_checks *c)
{
        _cleanup_free_ char *xml = NULL, *source = NULL;
        gh_error err = {};
        size_t len = 0;
        int r;

        if (xml_source(a, &source) < 0)
                return -ENOMEM;
        r = read_xml(a, source, &xml, &len, &err);
        if (r >= 0 && (r = gh_domxml_parse(xml, len, &s->dom, &err)) < 0)
                gh_error_replace(&err, r, "bad domain XML from %s: %s", source, err.msg);
        s->dom_ok = r >= 0;
        return gh_check_xml(c, source, !a->xml_path, r, &err, s->dom_ok ? &s->dom : NULL);
}

/* Facts as the hook gathers them; without a loaded config, with the defaults. */
static int gather(const char *root, const char *domain, domain_state *s, gh_error *err)
{
        gh_units *units = NULL;
        int r;

        if (gh_units_open(root, &units) < 0)
                units = NULL;
        r = gh_facts_gather(root, domain, &s->policy, &s->dom, units, &s->facts, err);
        gh_units_free(units);
        s->facts_ok = r >= 0;
        return r;
}

static int check_domain(const char *root, const check_args *a, gh_checks *c)
{
        _cleanup_(domain_state_done) domain_state s = {};
        _cleanup_free_ char *path = NULL;
        gh_check_domain d = {.name = a->domain};
        gh_error err = {};
        int r;

        gh_policy_init(&s.policy);
        if (asprintf(&path, GH_CONF_DOMAINS "/%s.conf", a->domain) < 0)
                return -ENOMEM;
        r = gh_config_load(root, a->domain, 0, &s.policy, &err);
        s.policy_ok = r >= 0;
        if ((r = gh_check_config(c, a->domain, path, r, &err)) < 0 || (r = check_xml(a, &s, c)) < 0)
                return r;
        err = (gh_error){};
        r = s.dom_ok ? gather(root, a->domain, &s, &err) : 0;
        if (s.policy_ok && s.facts_ok)
                s.plan_ok = (r = gh_plan_build(a->domain, &s.policy, &s.dom, &s.facts, &s.plan, &err)) >= 0;
        d.policy = s.policy_ok ? &s.policy : NULL;
        d.dom = s.dom_ok ? &s.dom : NULL;
        d.facts = s.facts_ok ? &s.facts : NULL;
        d.plan = s.plan_ok ? &s.plan : NULL;
        d.desktop_error = gh_desktop_rules_read(root, &s.away, &s.n_away, &(gh_error){});
        d.desktop_away = s.away;
        d.n_desktop_away = s.n_away;
        if (d.desktop_error == -ENOMEM)
                return -ENOMEM;
        if (r == -ENOMEM || gh_check_devices(c, &d) < 0)
                return -ENOMEM;
        return gh_check_plan(c, &d, r, &err);
}

static void print_checks(const char *domain, const gh_checks *c)
{
        unsigned count[_GH_CHECK_LEVEL_MAX] = {};

        printf("Checking the host for domain '%s':\n", domain);
        for (size_t i = 0; i < c->n; i++) {
                const gh_check *k = &c->items[i];

                count[k->level]++;
                printf("%s  %s: %s\n", gh_check_level_to_string(k->level), k->title, k->detail);
                if (k->hint && k->level != GH_CHECK_PASS)
                        printf("      hint: %s\n", k->hint);
        }
        printf("%u PASS, %u WARN, %u FAIL\n", count[GH_CHECK_PASS], count[GH_CHECK_WARN],
               count[GH_CHECK_FAIL]);
}

static int run_checks(const char *root, const check_args *a, gh_checks *c)
{
        _cleanup_(gh_host_check_done) gh_host_check h = {};
        int r;

        if ((r = gh_hostcheck_gather(root, &h)) < 0 || (r = gh_check_host(c, &h)) < 0 ||
            (r = check_domain(root, a, c)) < 0)
                return r;
        return gh_check_hook(c, &h);
}

static int cmd_check(gh_context *ctx, const gh_command *self, int argc, char *argv[])
{
        _cleanup_(gh_checks_done) gh_checks c = {};
        check_args a = {.uri = GH_LIBVIRT_URI};
        int r;

        r = parse_args(self, argc, argv, &a);
        if (r < 0)
                return gh_args_exit(r);
        r = run_checks(ctx->root, &a, &c);
        if (r < 0) {
                fprintf(stderr, "gpu-handover: check: %s\n", strerror(-r));
                return GH_EXIT_FAILURE;
        }
        print_checks(a.domain, &c);
        return gh_checks_worst(&c) == GH_CHECK_FAIL ? GH_EXIT_FAILURE : GH_EXIT_OK;
}

const gh_command gh_command_check = {
        .name = "check",
        .run = cmd_check,
        .args = "DOMAIN [--xml FILE|-] [--connect URI]",
        .summary = "is the host ready for DOMAIN's hand-over? PASS/WARN/FAIL lines",
        .details =
                "Checks the host for a hand-over of DOMAIN's GPU: CPU, IOMMU, vfio, the config, each "
                "device\n"
                "and its IOMMU group, the plan, the libvirt hook. Changes nothing. Exits 1 when a line "
                "says\n"
                "FAIL.\n\n"
                "  --xml FILE|-     the domain's XML from FILE, a regular file (- for stdin), instead of\n"
                "                   from libvirt\n"
                "  --connect URI    libvirt to ask, read-only (default " GH_LIBVIRT_URI "); a local\n"
                "                   qemu:/// URI without parameters alone\n",
};
