/* The command line as a user meets it: every command answers --help and -h, `help [COMMAND]` agrees with
 * them, bad usage is one line and exit 2, an option is never taken for a domain, plan gives check's hints,
 * and --help, the man page, the README and the bash completion list the same commands. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <ctype.h>

#include "capture.h"
#include "core/check.h"
#include "proc-fake.h"
#include "shared/fileio.h"
#include "shared/strv.h"

#define SOURCE_DIR GH_FIXTURES "/../.."

static gh_run vrun(const char *bin, const char *first, va_list ap)
{
        const char *argv[16] = {bin};
        size_t n = 1;
        gh_run r = {};

        for (const char *a = first; a && n < ELEMENTSOF(argv) - 1; a = va_arg(ap, const char *))
                argv[n++] = a;
        gh_run_capture(argv, NULL, &r);
        return r;
}

/* The installed tool with its arguments (NULL-terminated), stdin from /dev/null. */
static gh_run tool(const char *first, ...)
{
        va_list ap;
        gh_run r;

        va_start(ap, first);
        r = vrun(GH_TOOL_BIN, first, ap);
        va_end(ap);
        return r;
}

/* The same from the test build, which also takes --root DIR. */
static gh_run test_tool(const char *first, ...)
{
        va_list ap;
        gh_run r;

        va_start(ap, first);
        r = vrun(GH_TOOL_TEST_BIN, first, ap);
        va_end(ap);
        return r;
}

static void assert_exit(const gh_run *r, int want)
{
        if (r->status != want)
                fail_msg("exit %d, not %d; stdout: %s; stderr: %s", r->status, want, r->out, r->err);
}

static char *slurp(const char *path)
{
        char *s = NULL;
        int r = read_full_file(path, 1 << 22, &s, NULL);

        if (r < 0)
                fail_msg("cannot read '%s': %s", path, strerror(-r));
        return s;
}

/* The names under "Commands:" in `gpu-handover --help`, in order. */
static char **help_commands(void)
{
        gh_run r = tool("--help", NULL);
        _cleanup_strv_free_ char **lines = NULL;
        char **names = NULL;
        bool in = false;

        assert_exit(&r, 0);
        assert_int_equal(strv_split(r.out, "\n", &lines), 0);
        STRV_FOREACH(l, lines)
        {
                if (streq(*l, "Commands:"))
                        in = true;
                else if (in && strncmp(*l, "  ", 2) == 0)
                        assert_int_equal(strv_push(&names, strndup(*l + 2, strcspn(*l + 2, " "))), 0);
                else if (in)
                        break;
        }
        gh_run_done(&r);
        if (strv_length(names) < 9 || !strv_contains(names, "help"))
                fail_msg("--help lists too few commands");
        return names;
}

/* What `gpu-handover NAME --help` gives as NAME's synopsis, "NAME ARGS". */
static char *synopsis(const char *name)
{
        static const char prefix[] = "Usage: gpu-handover ";
        gh_run r = tool(name, "--help", NULL);
        char *s;

        assert_exit(&r, 0);
        if (strncmp(r.out, prefix, strlen(prefix)) != 0)
                fail_msg("'%s --help' does not start with its usage: %s", name, r.out);
        s = strndup(r.out + strlen(prefix), strcspn(r.out + strlen(prefix), "\n"));
        gh_run_done(&r);
        return s;
}

static void test_every_command_answers_help(void **state)
{
        _cleanup_strv_free_ char **names = help_commands();

        STRV_FOREACH(n, names)
        {
                gh_run a = tool(*n, "--help", NULL), b = tool(*n, "-h", NULL), c = tool("help", *n, NULL);
                _cleanup_free_ char *syn = synopsis(*n);

                assert_exit(&a, 0);
                assert_exit(&b, 0);
                assert_exit(&c, 0);
                assert_string_equal(a.err, "");
                assert_string_equal(b.out, a.out);
                assert_string_equal(c.out, a.out);
                /* The synopsis names the command, and there is more than the synopsis. */
                assert_true(strncmp(syn, *n, strlen(*n)) == 0);
                assert_true(strlen(a.out) > strlen(syn) + 60);
                gh_run_done(&a);
                gh_run_done(&b);
                gh_run_done(&c);
        }
}

static void test_top_level_help_and_version(void **state)
{
        gh_run a = tool("--help", NULL), b = tool("-h", NULL), c = tool("help", NULL),
               v = tool("--version", NULL);
        gh_run none = tool(NULL), unknown = tool("frobnicate", NULL),
               bad_help = tool("help", "frobnicate", NULL);

        assert_exit(&a, 0);
        assert_string_equal(b.out, a.out);
        assert_string_equal(c.out, a.out);
        assert_non_null(strstr(a.out, "--version"));
        assert_exit(&v, 0);
        assert_true(strncmp(v.out, "gpu-handover ", 13) == 0 && isdigit((unsigned char)v.out[13]));
        /* No command: the usage goes to stderr, and it is bad usage. */
        assert_exit(&none, 2);
        assert_string_equal(none.out, "");
        assert_string_equal(none.err, a.out);
        assert_exit(&unknown, 2);
        assert_string_equal(unknown.err,
                            "gpu-handover: unknown command 'frobnicate' (see 'gpu-handover --help')\n");
        assert_exit(&bad_help, 2);
        assert_non_null(strstr(bad_help.err, "'frobnicate'"));
        gh_run_done(&a);
        gh_run_done(&b);
        gh_run_done(&c);
        gh_run_done(&v);
        gh_run_done(&none);
        gh_run_done(&unknown);
        gh_run_done(&bad_help);
}

/* One line on stderr, naming the command and the option, nothing on stdout, exit 2. */
static void test_bad_option_is_one_line(void **state)
{
        _cleanup_strv_free_ char **names = help_commands();

        STRV_FOREACH(n, names)
        {
                _cleanup_free_ char *want = NULL;
                gh_run r = tool(*n, "--no-such-option", NULL);

                assert_true(
                        asprintf(&want,
                                 "gpu-handover: %s: unknown option '--no-such-option' (see 'gpu-handover %s "
                                 "--help')\n",
                                 *n, *n) > 0);
                assert_exit(&r, 2);
                assert_string_equal(r.out, "");
                assert_string_equal(r.err, want);
                gh_run_done(&r);
        }
}

/* `restore --help` once took "--help" for a domain name. An empty root: nothing real is looked at. */
static void test_option_is_never_a_domain(void **state)
{
        static const char *const takes_domain[] = {"plan", "check", "restore"};
        _cleanup_pf_root_ char *root = pf_root_new("help-root");

        for (size_t i = 0; i < ELEMENTSOF(takes_domain); i++) {
                const char *n = takes_domain[i];
                gh_run h = test_tool("--root", root, n, "--help", NULL);
                gh_run d = test_tool("--root", root, n, "--", "--help", NULL);
                gh_run x = test_tool("--root", root, n, "--", "-x", NULL);

                assert_exit(&h, 0);
                assert_true(strncmp(h.out, "Usage: ", 7) == 0);
                assert_null(strstr(h.out, "No hand-over"));
                assert_exit(&d, 2);
                assert_string_equal(d.out, "");
                assert_non_null(strstr(d.err, "a domain name cannot start with '-': '--help'"));
                assert_exit(&x, 2);
                assert_non_null(strstr(x.err, "'-x'"));
                gh_run_done(&h);
                gh_run_done(&d);
                gh_run_done(&x);
        }
}

static void test_plan_hints_like_check(void **state)
{
        _cleanup_pf_root_ char *root = pf_root_new("help-plan");
        _cleanup_free_ char *def = pf_path(root, "/etc/libvirt/qemu/vm1.xml"), *want = NULL;
        gh_run r = test_tool("--root", root, "plan", "vm1", NULL);
        gh_run g = test_tool("--root", root, "plan", "vm1", "--xml", "/nonexistent/vm1.xml", NULL);

        assert_true(
                asprintf(&want,
                         "gpu-handover: plan: domain 'vm1': cannot read its XML from '%s': No such file or "
                         "directory\n      hint: " GH_HINT_XML_DEFINITION "\n",
                         def) > 0);
        assert_exit(&r, 1);
        assert_string_equal(r.err, want);
        assert_exit(&g, 1);
        assert_non_null(strstr(g.err, "hint: " GH_HINT_XML_GIVEN "\n"));
        gh_run_done(&r);
        gh_run_done(&g);
}

/* Whether the file at path contains s. */
static bool file_has(const char *path, const char *s)
{
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = read_full_file(path, 1 << 26, &buf, &len);

        if (r < 0)
                fail_msg("cannot read '%s': %s", path, strerror(-r));
        return memmem(buf, len, s, strlen(s)) != NULL;
}

/* The installed tool acts on this host alone: no --root (a root's modprobe.d 'install' commands would
 * run as root) and no test pause; the test build has both. Only install and uninstall take a --root of
 * their own, to place links for dpkg. */
static void test_test_switches_only_in_test_build(void **state)
{
        gh_run p = tool("--root", "/tmp", "status", NULL), t = test_tool("--help", NULL), h = tool("--help", NULL);

        assert_exit(&p, 2);
        assert_string_equal(p.err, "gpu-handover: unknown option '--root' (see 'gpu-handover --help')\n");
        assert_null(strstr(h.out, "--root"));
        assert_non_null(strstr(t.out, "--root DIR"));
        assert_false(file_has(GH_TOOL_BIN, "GH_TEST_PAUSE_AFTER_STEP"));
        assert_true(file_has(GH_TOOL_TEST_BIN, "GH_TEST_PAUSE_AFTER_STEP"));
        gh_run_done(&p);
        gh_run_done(&t);
        gh_run_done(&h);
}

/* ---- the documents list the same commands ---- */

/* A man(7) line as text: font escapes dropped, \- as -, quotes gone. */
static char *man_text(const char *line)
{
        char *s = calloc(1, strlen(line) + 1), *o = s;

        assert_non_null(s);
        for (const char *p = line; *p; p++) {
                if (p[0] == '\\' && p[1] == 'f' && p[2]) {
                        p += 2;
                        continue;
                }
                if (p[0] == '\\' && p[1] == '-') {
                        *o++ = '-';
                        p++;
                        continue;
                }
                if (*p != '"')
                        *o++ = *p;
        }
        return s;
}

/* The first word of a macro line's arguments (".B hook qemu" -> "hook"). */
static char *man_first_word(const char *line)
{
        _cleanup_free_ char *t = man_text(line + strcspn(line, " "));
        const char *w = t + strspn(t, " ");

        return strndup(w, strcspn(w, " "));
}

static char *section(const char *text, const char *from, const char *to)
{
        const char *a = strstr(text, from), *b = a ? strstr(a, to) : NULL;

        if (!a || !b)
                fail_msg("no section from '%s' to '%s'", from, to);
        return strndup(a, (size_t)(b - a));
}

/* Each command's header line in the man page's COMMANDS (the line after a top-level .TP), as text. */
static char **man_command_headers(const char *man)
{
        _cleanup_free_ char *sec = section(man, "\n.SH COMMANDS\n", "\n.SH OPTIONS\n");
        _cleanup_strv_free_ char **lines = NULL;
        char **heads = NULL;
        int depth = 0;

        assert_int_equal(strv_split(sec, "\n", &lines), 0);
        for (size_t i = 0; lines[i]; i++) {
                depth += startswith(lines[i], ".RS") - startswith(lines[i], ".RE");
                if (depth == 0 && streq(lines[i], ".TP") && lines[i + 1]) {
                        const char *args = lines[i + 1] + strcspn(lines[i + 1], " ");

                        assert_int_equal(strv_push(&heads, man_text(args + strspn(args, " "))), 0);
                }
        }
        return heads;
}

/* The names the man page's SYNOPSIS gives after "gpu-handover" (the ".B NAME" lines). */
static char **man_synopsis_names(const char *man)
{
        _cleanup_free_ char *sec = section(man, "\n.SH SYNOPSIS\n", "\n.SH DESCRIPTION\n");
        _cleanup_strv_free_ char **lines = NULL;
        char **names = NULL;

        assert_int_equal(strv_split(sec, "\n", &lines), 0);
        STRV_FOREACH(l, lines)
        {
                char *w;

                if (!startswith(*l, ".B "))
                        continue;
                w = man_first_word(*l);
                if (w[0] == '-')
                        free(w);
                else
                        assert_int_equal(strv_push(&names, w), 0);
        }
        return names;
}

/* The long options a text names ("--xml", "--connect"), sorted, as one string. */
static char *options_of(const char *text)
{
        _cleanup_strv_free_ char **opts = NULL;
        _cleanup_free_ char *joined = NULL;

        for (const char *p = strstr(text, "--"); p; p = strstr(p + 2, "--")) {
                _cleanup_free_ char *o = strndup(p, 2 + strspn(p + 2, "abcdefghijklmnopqrstuvwxyz-"));

                if (strlen(o) > 2)
                        assert_int_equal(strv_extend_unique(&opts, o), 0);
        }
        for (size_t i = 0; opts && opts[i]; i++)
                for (size_t j = i + 1; opts[j]; j++)
                        if (strcmp(opts[j], opts[i]) < 0) {
                                char *t = opts[i];
                                opts[i] = opts[j];
                                opts[j] = t;
                        }
        joined = strdup("");
        STRV_FOREACH(o, opts)
        {
                char *n = NULL;

                assert_true(asprintf(&n, "%s %s", joined, *o) > 0);
                free(joined);
                joined = n;
        }
        return TAKE_PTR(joined);
}

static void assert_same_list(char **want, char **got, const char *where)
{
        size_t n = strv_length(want);

        for (size_t i = 0; i < n || (got && got[i]); i++)
                if (i >= n || !got || !got[i] || !streq(want[i], got[i]))
                        fail_msg("%s: command %zu is '%s', --help says '%s'", where, i + 1,
                                 got && i < strv_length(got) ? got[i] : "(none)",
                                 i < n ? want[i] : "(none)");
}

static void test_man_page_lists_the_commands(void **state)
{
        _cleanup_strv_free_ char **names = help_commands(), **syn = NULL, **heads = NULL,
                                 **head_names = NULL;
        _cleanup_free_ char *man = slurp(SOURCE_DIR "/config/man/gpu-handover.8");

        syn = man_synopsis_names(man);
        assert_same_list(names, syn, "man page SYNOPSIS");
        heads = man_command_headers(man);
        STRV_FOREACH(h, heads)
        assert_int_equal(strv_push(&head_names, strndup(*h, strcspn(*h, " "))), 0);
        assert_same_list(names, head_names, "man page COMMANDS");
        /* Each command's entry names the options its --help names. */
        for (size_t i = 0; names[i]; i++) {
                _cleanup_free_ char *s = synopsis(names[i]), *want = options_of(s),
                                    *got = options_of(heads[i]);

                if (!streq(want, got))
                        fail_msg("man page COMMANDS: '%s' names options '%s', --help '%s'", names[i], got,
                                 want);
        }
}

/* The README's command table: rows "| `gpu-handover NAME ARGS` | ... |", each the --help synopsis. */
static void test_readme_lists_the_commands(void **state)
{
        _cleanup_strv_free_ char **names = help_commands(), **lines = NULL, **rows = NULL,
                                 **row_names = NULL;
        _cleanup_free_ char *readme = slurp(SOURCE_DIR "/README.md");

        assert_int_equal(strv_split(readme, "\n", &lines), 0);
        STRV_FOREACH(l, lines)
        {
                static const char lead[] = "| `gpu-handover ";
                _cleanup_free_ char *cell = NULL;
                const char *s;
                char *o;

                if (!startswith(*l, lead))
                        continue;
                s = *l + strlen(lead);
                cell = strndup(s, strcspn(s, "`"));
                /* Markdown escapes the '|' of a table cell. */
                o = cell;
                for (const char *p = cell; *p; p++)
                        if (!(p[0] == '\\' && p[1] == '|'))
                                *o++ = *p;
                *o = 0;
                assert_int_equal(strv_push(&rows, TAKE_PTR(cell)), 0);
        }
        STRV_FOREACH(r, rows)
        assert_int_equal(strv_push(&row_names, strndup(*r, strcspn(*r, " "))), 0);
        assert_same_list(names, row_names, "README's command table");
        for (size_t i = 0; names[i]; i++) {
                _cleanup_free_ char *s = synopsis(names[i]);

                assert_string_equal(rows[i], s);
        }
}

static void test_completion_lists_the_commands(void **state)
{
        static const char lead[] = "local commands=\"";
        _cleanup_strv_free_ char **names = help_commands(), **words = NULL;
        _cleanup_free_ char *bash = slurp(SOURCE_DIR "/config/completion/gpu-handover.bash"), *list = NULL;
        const char *at = strstr(bash, lead);

        assert_non_null(at);
        list = strndup(at + strlen(lead), strcspn(at + strlen(lead), "\""));
        assert_int_equal(strv_split(list, " ", &words), 0);
        assert_same_list(names, words, "bash completion");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_command_answers_help),
                cmocka_unit_test(test_top_level_help_and_version),
                cmocka_unit_test(test_bad_option_is_one_line),
                cmocka_unit_test(test_option_is_never_a_domain),
                cmocka_unit_test(test_plan_hints_like_check),
                cmocka_unit_test(test_test_switches_only_in_test_build),
                cmocka_unit_test(test_man_page_lists_the_commands),
                cmocka_unit_test(test_readme_lists_the_commands),
                cmocka_unit_test(test_completion_lists_the_commands),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
