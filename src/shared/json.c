/* A streaming JSON writer. Misuse (a value without its key, an unclosed container) is recorded, not
 * written, and reported by gh_json_finish(), so callers check once at the end. */
#include <errno.h>
#include <inttypes.h>

#include "json.h"

#define BIT(d) ((uint64_t)1 << (d))

void gh_json_init(gh_json *j, FILE *f)
{
        *j = (gh_json){.f = f};
}

static void set_error(gh_json *j, int r)
{
        if (!j->error)
                j->error = r;
}

static bool in_object(const gh_json *j)
{
        return j->depth > 0 && (j->is_object & BIT(j->depth));
}

/* The comma before an element, and the checks that a value may go here. Depth 0 is the document, which
 * holds exactly one value. */
static bool value_begin(gh_json *j)
{
        if (j->error)
                return false;
        if (in_object(j) != j->after_key || (j->depth == 0 && (j->has_items & BIT(0)))) {
                set_error(j, -EINVAL);
                return false;
        }
        if (!j->after_key && (j->has_items & BIT(j->depth)))
                fputc(',', j->f);
        j->has_items |= BIT(j->depth);
        j->after_key = false;
        return true;
}

static void container_begin(gh_json *j, bool object)
{
        if (!value_begin(j))
                return;
        if (j->depth + 1 >= GH_JSON_DEPTH_MAX) {
                set_error(j, -E2BIG);
                return;
        }
        j->depth++;
        j->has_items &= ~BIT(j->depth);
        if (object)
                j->is_object |= BIT(j->depth);
        else
                j->is_object &= ~BIT(j->depth);
        fputc(object ? '{' : '[', j->f);
}

static void container_end(gh_json *j, bool object)
{
        if (j->error)
                return;
        if (j->depth == 0 || j->after_key || in_object(j) != object) {
                set_error(j, -EINVAL);
                return;
        }
        j->depth--;
        fputc(object ? '}' : ']', j->f);
}

void gh_json_object_begin(gh_json *j)
{
        container_begin(j, true);
}

void gh_json_object_end(gh_json *j)
{
        container_end(j, true);
}

void gh_json_array_begin(gh_json *j)
{
        container_begin(j, false);
}

void gh_json_array_end(gh_json *j)
{
        container_end(j, false);
}

void gh_json_key(gh_json *j, const char *key)
{
        if (j->error)
                return;
        if (!in_object(j) || j->after_key || !key) {
                set_error(j, -EINVAL);
                return;
        }
        if (j->has_items & BIT(j->depth))
                fputc(',', j->f);
        j->has_items |= BIT(j->depth);
        gh_json_write_string(j->f, key);
        fputc(':', j->f);
        j->after_key = true;
}

/* Length of the valid UTF-8 sequence at s, or 0 when s does not start one: overlong forms, surrogates
 * and code points past U+10FFFF are not valid. */
static size_t utf8_sequence_len(const unsigned char *s)
{
        uint32_t cp;
        size_t n;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                n = 2, cp = s[0] & 0x1f;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                n = 3, cp = s[0] & 0x0f;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                n = 4, cp = s[0] & 0x07;
        else
                return 0;
        /* A NUL fails the continuation test, so the loop never reads past the string. */
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3f);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return n;
}

static void write_escaped_char(FILE *f, unsigned char c)
{
        static const char short_escapes[] = {['"'] = '"',  ['\\'] = '\\', ['\b'] = 'b', ['\f'] = 'f',
                                             ['\n'] = 'n', ['\r'] = 'r',  ['\t'] = 't'};

        if (c < sizeof(short_escapes) && short_escapes[c])
                fprintf(f, "\\%c", short_escapes[c]);
        else if (c < 0x20 || c == 0x7f)
                /* DEL is valid JSON as it is, but escaped it cannot reach a terminal raw. */
                fprintf(f, "\\u%04x", c);
        else
                fputc(c, f);
}

void gh_json_write_string(FILE *f, const char *s)
{
        const unsigned char *p = (const unsigned char *)s;

        fputc('"', f);
        while (*p) {
                size_t n = utf8_sequence_len(p);

                if (n == 0) {
                        fputs("\\ufffd", f);
                        p++;
                } else if (n == 1)
                        write_escaped_char(f, *p++);
                else {
                        fwrite(p, 1, n, f);
                        p += n;
                }
        }
        fputc('"', f);
}

void gh_json_string(gh_json *j, const char *s)
{
        if (!s) {
                gh_json_null(j);
                return;
        }
        if (value_begin(j))
                gh_json_write_string(j->f, s);
}

void gh_json_int(gh_json *j, int64_t v)
{
        if (value_begin(j))
                fprintf(j->f, "%" PRId64, v);
}

void gh_json_uint(gh_json *j, uint64_t v)
{
        if (value_begin(j))
                fprintf(j->f, "%" PRIu64, v);
}

void gh_json_bool(gh_json *j, bool v)
{
        if (value_begin(j))
                fputs(v ? "true" : "false", j->f);
}

void gh_json_null(gh_json *j)
{
        if (value_begin(j))
                fputs("null", j->f);
}

int gh_json_finish(gh_json *j)
{
        if (j->error)
                return j->error;
        if (j->depth != 0 || j->after_key || !(j->has_items & BIT(0)))
                return -EINVAL;
        if (fflush(j->f) != 0)
                return -errno;
        return ferror(j->f) ? -EIO : 0;
}
