/* Journal text: any bytes give steps or one error, strict and lenient reads agree, and every step read
 * survives the round trip through its line form and can be described. The journal written back from the
 * steps read (header, then gh_step_to_line() of each) reads back as the same steps. No file is touched. */
#include <errno.h>

#include "core/journal-text.h"
#include "fuzz.h"
#include "shared/strv.h"

#define DOMAIN "win11"
#define PATH "fuzz.journal"

static bool step_equal(const gh_step *a, const gh_step *b)
{
        return a->kind == b->kind && streq(a->addr, b->addr) && streq_ptr(a->name, b->name) &&
               streq_ptr(a->driver, b->driver) && streq_ptr(a->old_override, b->old_override) &&
               a->group == b->group && fuzz_strv_equal(a->nodes, b->nodes) &&
               a->holders_mode == b->holders_mode && a->grace_sec == b->grace_sec &&
               a->has_uid == b->has_uid && a->uid == b->uid;
}

static bool steps_equal(const gh_step *a, size_t n, const gh_step *b, size_t m)
{
        if (n != m)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!step_equal(&a[i], &b[i]))
                        return false;
        return true;
}

/* to_line, from_line, to_line: the same step, the same line. And `plan` and `status` can describe it. */
static void check_step_round_trip(const gh_step *s, FILE *journal)
{
        _cleanup_free_ char *line = NULL, *again = NULL, *described = NULL;
        _cleanup_(gh_step_done) gh_step t = {};

        fuzz_check(gh_step_check(s, NULL) == 0);
        fuzz_check(gh_step_to_line(s, &line) == 0);
        fuzz_check(!strchr(line, '\n'));
        fuzz_check(gh_step_from_line(line, &t, NULL) == 0);
        fuzz_check(step_equal(s, &t));
        fuzz_check(gh_step_to_line(&t, &again) == 0);
        fuzz_check(streq(line, again));
        fuzz_check(gh_step_describe(s, &described) == 0 && described);
        fprintf(journal, "%s\n", line);
}

static void check_journal_round_trip(const gh_step *steps, size_t n)
{
        _cleanup_free_ char *text = NULL;
        gh_step *back = NULL;
        size_t len = 0, m = 0;
        FILE *f = open_memstream(&text, &len);

        fuzz_check(f);
        fprintf(f, GH_JOURNAL_MAGIC " domain=" DOMAIN "\n");
        for (size_t i = 0; i < n; i++)
                check_step_round_trip(&steps[i], f);
        fuzz_check(fclose(f) == 0);
        fuzz_check(gh_journal_parse(text, len, PATH, DOMAIN, &back, &m, NULL, NULL, NULL, NULL) == 0);
        fuzz_check(steps_equal(steps, n, back, m));
        gh_steps_free(back, m);
}

/* The stuck records of a journal that reads whole: each written back is the line it came from. */
static void check_stuck_round_trip(const gh_stuck *v, size_t n, const char *text, size_t size)
{
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *line = NULL;

                fuzz_check(gh_journal_stuck_line(&v[i], &line) == 0);
                fuzz_check(memmem(text, size, line, strlen(line)));
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *text = (const char *)data;
        _cleanup_strv_free_ char **skipped = NULL;
        _cleanup_free_ gh_stuck *stuck = NULL, *stuck_lenient = NULL;
        gh_step *strict = NULL, *lenient = NULL;
        size_t n_strict = 0, n_lenient = 0, n_stuck = 0, n_stuck_lenient = 0;
        gh_error err = {}, err_lenient = {};
        int r, r_lenient;

        r = gh_journal_parse(text, size, PATH, DOMAIN, &strict, &n_strict, &stuck, &n_stuck, NULL, &err);
        r_lenient = gh_journal_parse(text, size, PATH, DOMAIN, &lenient, &n_lenient, &stuck_lenient,
                                     &n_stuck_lenient, &skipped, &err_lenient);
        fuzz_check(r == 0 || r == -EBADMSG || r == -ENOMEM);
        fuzz_check(r == 0 || (gh_error_isset(&err) && !strchr(err.msg, '\n')));
        /* Lenient reads only skip bad step lines: it fails where strict fails for anything else. */
        if (r == 0) {
                fuzz_check(r_lenient == 0 && !skipped);
                fuzz_check(steps_equal(strict, n_strict, lenient, n_lenient));
                fuzz_check(n_stuck == n_stuck_lenient);
        } else if (r_lenient == 0) {
                fuzz_check(skipped && streq(skipped[0], err.msg));
        } else
                fuzz_check(streq(err.msg, err_lenient.msg));
        STRV_FOREACH(s, skipped)
        fuzz_check(startswith(*s, PATH ":") && !strchr(*s, '\n'));
        if (r == 0) {
                check_journal_round_trip(strict, n_strict);
                check_stuck_round_trip(stuck, n_stuck, text, size);
        }
        if (r_lenient == 0)
                check_journal_round_trip(lenient, n_lenient);
        gh_steps_free(strict, n_strict);
        gh_steps_free(lenient, n_lenient);
        return 0;
}
