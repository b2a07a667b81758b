/* Journal text to steps, from a buffer: the file's trust is the host adapter's concern, not this one's.
 * A crash mid-write leaves a torn last line: that step never began, so it is not read. */
#include <errno.h>

#include "journal-text.h"
#include "shared/strv.h"

typedef struct journal_text {
        const char *path;
        char **skipped; /* strv of "PATH:LINE: why" */
        bool lenient;
        gh_step *steps;
        size_t n;
        gh_stuck *stuck;
        size_t n_stuck;
} journal_text;

static bool has_control(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return true;
        return false;
}

/* A journal renamed or copied to another domain's name would undo that domain's hand-over. */
static int check_header(const char *line, const char *path, const char *domain, gh_error *err)
{
        static const char prefix[] = GH_JOURNAL_MAGIC " domain=";
        const char *d = line + strlen(prefix);

        if (!startswith(line, prefix))
                return gh_error_set(err, -EBADMSG, "%s:1: not a gpu-handover journal", path);
        if (streq(d, domain))
                return 0;
        if (has_control(d))
                return gh_error_set(err, -EBADMSG, "%s:1: the journal is for another domain, not '%s'", path,
                                    domain);
        return gh_error_set(err, -EBADMSG, "%s:1: the journal is for domain '%s', not '%s'", path, d,
                            domain);
}

/* A stuck record is read as strictly as a step, and kept apart from the steps. */
static int add_stuck(journal_text *t, const char *record, gh_error *why)
{
        gh_stuck st, *m;

        if (gh_stuck_parse(record, &st) < 0)
                return gh_error_set(why, -EINVAL, "bad stuck record");
        m = realloc(t->stuck, sizeof(gh_stuck) * (t->n_stuck + 1));
        if (!m)
                return -ENOMEM;
        t->stuck = m;
        t->stuck[t->n_stuck++] = st;
        return 1;
}

/* 0 for a step in ret, 1 for a stuck record (kept in t). */
static int read_line(journal_text *t, const char *line, gh_step *ret, gh_error *why)
{
        if (startswith(line, GH_JOURNAL_STUCK_PREFIX))
                return add_stuck(t, line + strlen(GH_JOURNAL_STUCK_PREFIX), why);
        return gh_step_from_line(line, ret, why);
}

static int add_step(journal_text *t, const char *line, unsigned lineno, gh_error *err)
{
        gh_step s, *m;
        gh_error why = {}, bad = {};
        char *skip;
        int r = read_line(t, line, &s, &why);

        if (r == -ENOMEM)
                return r;
        /* One wording, and one length, whether the line fails the read or is skipped and named. */
        if (r < 0)
                (void)gh_error_set(&bad, -EBADMSG, "%s:%u: %s", t->path, lineno, why.msg);
        if (r < 0 && !t->lenient)
                return gh_error_set(err, -EBADMSG, "%s", bad.msg);
        if (r < 0)
                return (skip = strdup(bad.msg)) ? strv_push(&t->skipped, skip) : -ENOMEM;
        if (r > 0)
                return 0;
        m = realloc(t->steps, sizeof(gh_step) * (t->n + 1));
        if (!m) {
                gh_step_done(&s);
                return -ENOMEM;
        }
        t->steps = m;
        t->steps[t->n++] = s;
        return 0;
}

static int parse_lines(journal_text *t, const char *text, size_t len, const char *domain, gh_error *err)
{
        const char *end = text + len, *nl;
        unsigned lineno = 0;
        int r = 0;

        for (const char *p = text; r >= 0 && (nl = memchr(p, '\n', (size_t)(end - p))); p = nl + 1) {
                _cleanup_free_ char *line = strndup(p, (size_t)(nl - p));

                if (!line)
                        return -ENOMEM;
                if (++lineno == 1)
                        r = check_header(line, t->path, domain, err);
                else
                        r = add_step(t, line, lineno, err);
        }
        return r;
}

int gh_journal_parse(const char *text, size_t len, const char *path, const char *domain, gh_step **ret,
                     size_t *ret_n, gh_stuck **ret_stuck, size_t *ret_n_stuck, char ***ret_skipped,
                     gh_error *err)
{
        journal_text t = {.path = path, .lenient = ret_skipped};
        int r;

        /* A NUL would end a line early, and could hide the steps after it as if they were a torn line. */
        if (memchr(text, 0, len))
                return gh_error_set(err, -EBADMSG, "'%s' contains a NUL byte", path);
        r = parse_lines(&t, text, len, domain, err);
        if (r < 0) {
                gh_steps_free(t.steps, t.n);
                free(t.stuck);
                strv_free(t.skipped);
                return r;
        }
        *ret = t.steps;
        *ret_n = t.n;
        if (ret_stuck) {
                *ret_stuck = t.stuck;
                *ret_n_stuck = t.n_stuck;
        } else
                free(t.stuck);
        if (ret_skipped)
                *ret_skipped = t.skipped;
        return 0;
}

int gh_journal_stuck_line(const gh_stuck *s, char **ret)
{
        _cleanup_free_ char *rec = NULL;
        int r = gh_stuck_format(s, &rec);

        if (r < 0)
                return r;
        return asprintf(ret, GH_JOURNAL_STUCK_PREFIX "%s", rec) < 0 ? -ENOMEM : 0;
}
