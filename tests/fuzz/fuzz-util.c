/* The helpers of fuzz.h, linked into every target. */
#include <string.h>

#include "fuzz.h"

void fuzz_fail(const char *what, const char *file, int line)
{
        fprintf(stderr, "%s:%d: property broken: %s\n", file, line, what);
        abort();
}

char *fuzz_strndup(const uint8_t *data, size_t size)
{
        char *s = strndup((const char *)data, size);

        if (!s)
                fuzz_fail("out of memory", __FILE__, __LINE__);
        return s;
}

bool fuzz_strv_equal(char *const *a, char *const *b)
{
        if (!a || !b)
                return a == b;
        for (; *a && *b; a++, b++)
                if (!streq(*a, *b))
                        return false;
        return !*a && !*b;
}
