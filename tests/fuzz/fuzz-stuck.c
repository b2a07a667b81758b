/* The stuck list's lines (/run/gpu-handover/stuck): any bytes give an entry or -EINVAL, never a crash;
 * every entry read writes back as a line that reads back as the same entry, and as the same line. */
#include <errno.h>

#include "core/stuck.h"
#include "fuzz.h"

static bool stuck_equal(const gh_stuck *a, const gh_stuck *b)
{
        return streq(a->addr, b->addr) && a->op == b->op && a->since == b->since && a->waiter == b->waiter &&
               a->waiter_start == b->waiter_start && streq(a->driver, b->driver);
}

static void check_line(const char *line)
{
        _cleanup_free_ char *out = NULL, *again = NULL, *described = NULL;
        gh_stuck s = {}, t = {};
        int r = gh_stuck_parse(line, &s);

        fuzz_check(r == 0 || r == -EINVAL);
        if (r < 0)
                return;
        fuzz_check(gh_stuck_format(&s, &out) == 0);
        fuzz_check(!strchr(out, '\n'));
        /* The list is ours: what it reads is exactly what it wrote. */
        fuzz_check(streq(out, line));
        fuzz_check(gh_stuck_parse(out, &t) == 0 && stuck_equal(&s, &t));
        fuzz_check(gh_stuck_format(&t, &again) == 0 && streq(again, out));
        fuzz_check(gh_stuck_describe(&s, &described) == 0 && !strchr(described, '\n'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *text = fuzz_strndup(data, size);
        char *save = NULL;

        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                check_line(line);
        return 0;
}
