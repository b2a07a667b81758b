/* Reads the expected outputs under tests/fixtures and fills in their @KEY@s. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "fixture.h"
#include "shared/fileio.h"

/* text with every key replaced by value, newly allocated. */
static char *replace_all(const char *text, const char *key, const char *value)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        const char *p;

        assert_non_null(f);
        while ((p = strstr(text, key))) {
                fwrite(text, 1, (size_t)(p - text), f);
                fputs(value, f);
                text = p + strlen(key);
        }
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
        return buf;
}

/* The first @KEY@ (capitals and '_' between two '@') left in text, or NULL. */
static const char *key_left(const char *text)
{
        for (const char *p = strchr(text, '@'); p; p = strchr(p + 1, '@')) {
                size_t n = strspn(p + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_");

                if (n > 0 && p[n + 1] == '@')
                        return p;
        }
        return NULL;
}

char *fixture_text(const char *rel, ...)
{
        _cleanup_free_ char *path = path_join(GH_FIXTURES, rel);
        char *text = NULL;
        const char *key, *left;
        va_list ap;

        assert_non_null(path);
        if (read_full_file(path, 1 << 20, &text, NULL) < 0)
                fail_msg("cannot read the fixture '%s'", path);
        va_start(ap, rel);
        while ((key = va_arg(ap, const char *))) {
                char *next = replace_all(text, key, va_arg(ap, const char *));

                free(text);
                text = next;
        }
        va_end(ap);
        if ((left = key_left(text)))
                fail_msg("the fixture '%s' still has %.*s", rel, (int)(strcspn(left + 1, "@") + 2), left);
        return text;
}
