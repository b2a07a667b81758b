/* JSON string escaping: any C string gives one valid JSON string (RFC 8259, valid UTF-8, no raw control
 * character or DEL), which a small independent decoder reads back as the input, each byte that is not
 * part of well-formed UTF-8 replaced by U+FFFD. Then the same bytes drive the streaming writer, one call
 * each: whenever gh_json_finish() says the document is complete, it is one valid JSON value. */
#include <ctype.h>
#include <errno.h>

#include "fuzz.h"
#include "shared/json.h"

#define REPLACEMENT "\xef\xbf\xbd"

typedef struct bytes {
        char *buf;
        size_t len;
        FILE *f;
} bytes;

/* The well-formed UTF-8 byte sequences of the Unicode standard's table, by lead byte: the ranges the
 * second byte may take, and how many bytes in all. */
static size_t utf8_wellformed(const unsigned char *s)
{
        unsigned char lo = 0x80, hi = 0xbf;
        size_t n;

        if (s[0] <= 0x7f)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                n = 2;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                n = 3, lo = s[0] == 0xe0 ? 0xa0 : lo, hi = s[0] == 0xed ? 0x9f : hi;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                n = 4, lo = s[0] == 0xf0 ? 0x90 : lo, hi = s[0] == 0xf4 ? 0x8f : hi;
        else
                return 0;
        if (s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < n; i++)
                if (s[i] < 0x80 || s[i] > 0xbf)
                        return 0;
        return n;
}

/* The input as the writer promises to show it. */
static void expected(const unsigned char *s, FILE *f)
{
        while (*s) {
                size_t n = utf8_wellformed(s);

                if (n == 0)
                        fputs(REPLACEMENT, f);
                fwrite(s, 1, n, f);
                s += n ? n : 1;
        }
}

static void put_code_point(unsigned long cp, FILE *f)
{
        if (cp < 0x80)
                fputc((int)cp, f);
        else if (cp < 0x800)
                fprintf(f, "%c%c", (int)(0xc0 | cp >> 6), (int)(0x80 | (cp & 0x3f)));
        else if (cp < 0x10000)
                fprintf(f, "%c%c%c", (int)(0xe0 | cp >> 12), (int)(0x80 | (cp >> 6 & 0x3f)),
                        (int)(0x80 | (cp & 0x3f)));
        else
                fprintf(f, "%c%c%c%c", (int)(0xf0 | cp >> 18), (int)(0x80 | (cp >> 12 & 0x3f)),
                        (int)(0x80 | (cp >> 6 & 0x3f)), (int)(0x80 | (cp & 0x3f)));
}

/* Four hex digits at *p, read one by one: the string's NUL stops the reading. */
static bool read_hex4(const unsigned char **p, unsigned long *ret)
{
        unsigned long v = 0;

        for (int i = 0; i < 4; i++, ++*p) {
                const char *d = **p ? strchr("0123456789abcdef", tolower(**p)) : NULL;

                if (!d)
                        return false;
                v = v * 16 + (unsigned long)(d - "0123456789abcdef");
        }
        *ret = v;
        return true;
}

/* \uXXXX at *p, after the backslash and 'u'; a surrogate pair takes the next one too. */
static bool decode_u(const unsigned char **p, FILE *f)
{
        unsigned long cp, lo;

        if (!read_hex4(p, &cp) || (cp >= 0xdc00 && cp <= 0xdfff))
                return false;
        if (cp >= 0xd800 && cp <= 0xdbff) {
                if ((*p)[0] != '\\' || (*p)[1] != 'u')
                        return false;
                *p += 2;
                if (!read_hex4(p, &lo) || lo < 0xdc00 || lo > 0xdfff)
                        return false;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        put_code_point(cp, f);
        return true;
}

static bool decode_escape(const unsigned char **p, FILE *f)
{
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *e = **p ? strchr(from, **p) : NULL;

        if (!e)
                return **p == 'u' && (++*p, decode_u(p, f));
        fputc(to[e - from], f);
        ++*p;
        return true;
}

/* A JSON string at *p, decoded into f; *p ends after its closing quote. */
static bool decode_string_at(const unsigned char **pp, FILE *f)
{
        const unsigned char *p = *pp;

        if (*p++ != '"')
                return false;
        while (*p != '"') {
                size_t n = utf8_wellformed(p);

                if (*p == '\\') {
                        p++;
                        if (!decode_escape(&p, f))
                                return false;
                        continue;
                }
                /* JSON allows DEL raw; the writer promises not to send it to a terminal so. */
                if (n == 0 || *p < 0x20 || *p == 0x7f)
                        return false;
                fwrite(p, 1, n, f);
                p += n;
        }
        *pp = p + 1;
        return true;
}

/* A whole JSON string, nothing before or after, decoded into f. */
static bool decode_string(const unsigned char *p, FILE *f)
{
        return decode_string_at(&p, f) && *p == '\0';
}

/* The writer writes integers only: -?(0|[1-9][0-9]*). */
static bool skip_number(const unsigned char **p)
{
        size_t n;

        *p += **p == '-';
        n = strspn((const char *)*p, "0123456789");
        if (n == 0 || (n > 1 && **p == '0'))
                return false;
        *p += n;
        return true;
}

static bool skip_literal(const unsigned char **p, const char *word)
{
        size_t n = strlen(word);

        if (strncmp((const char *)*p, word, n) != 0)
                return false;
        *p += n;
        return true;
}

static bool skip_value(const unsigned char **p, FILE *sink, unsigned depth);

/* Elements up to close, after the opening bracket; members when object. No whitespace: the writer is
 * compact. */
static bool skip_elements(const unsigned char **p, FILE *sink, unsigned depth, bool object)
{
        char close = object ? '}' : ']';

        if (**p == close) {
                ++*p;
                return true;
        }
        for (;;) {
                if (object && (!decode_string_at(p, sink) || *(*p)++ != ':'))
                        return false;
                if (!skip_value(p, sink, depth))
                        return false;
                if (**p == close) {
                        ++*p;
                        return true;
                }
                if (*(*p)++ != ',')
                        return false;
        }
}

static bool skip_value(const unsigned char **p, FILE *sink, unsigned depth)
{
        bool object;

        if (depth > GH_JSON_DEPTH_MAX)
                return false;
        switch (**p) {
        case '{':
        case '[':
                object = *(*p)++ == '{';
                return skip_elements(p, sink, depth + 1, object);
        case '"':
                return decode_string_at(p, sink);
        case 't':
                return skip_literal(p, "true");
        case 'f':
                return skip_literal(p, "false");
        case 'n':
                return skip_literal(p, "null");
        default:
                return skip_number(p);
        }
}

static void bytes_open(bytes *b)
{
        *b = (bytes){};
        b->f = open_memstream(&b->buf, &b->len);
        fuzz_check(b->f);
}

static void bytes_close(bytes *b)
{
        fuzz_check(fclose(b->f) == 0);
        b->f = NULL;
}

/* One writer call per input byte: the byte picks the call and its argument. */
static void write_call(gh_json *j, uint8_t b)
{
        static const char *const strings[] = {"", "k", "a\"b\\\n", "\xff\xc3\xa9"};
        const char *str = strings[(b >> 4) % ELEMENTSOF(strings)];

        switch (b % 11) {
        case 0:
                gh_json_object_begin(j);
                break;
        case 1:
                gh_json_object_end(j);
                break;
        case 2:
                gh_json_array_begin(j);
                break;
        case 3:
                gh_json_array_end(j);
                break;
        case 4:
                gh_json_key(j, b & 0x80 ? NULL : str);
                break;
        case 5:
                gh_json_string(j, b & 0x80 ? NULL : str);
                break;
        case 6:
                gh_json_int(j, b & 0x80 ? INT64_MIN : -(int64_t)b);
                break;
        case 7:
                gh_json_uint(j, b & 0x80 ? UINT64_MAX : b);
                break;
        case 8:
                gh_json_bool(j, b & 1);
                break;
        case 9:
                gh_json_null(j);
                break;
        default:
                (void)gh_json_finish(j);
                break;
        }
}

static void check_writer(const uint8_t *data, size_t size)
{
        const unsigned char *p;
        bytes out, sink;
        gh_json j;
        int r;

        bytes_open(&out);
        gh_json_init(&j, out.f);
        for (size_t i = 0; i < size; i++)
                write_call(&j, data[i]);
        r = gh_json_finish(&j);
        bytes_close(&out);
        fuzz_check(r == 0 || r == -EINVAL || r == -E2BIG);
        if (r == 0) {
                bytes_open(&sink);
                p = (const unsigned char *)out.buf;
                fuzz_check(strlen(out.buf) == out.len && skip_value(&p, sink.f, 0) && *p == '\0');
                bytes_close(&sink);
                free(sink.buf);
        }
        free(out.buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *s = fuzz_strndup(data, size);
        bytes out, want, got;
        bool ok;

        bytes_open(&out);
        gh_json_write_string(out.f, s);
        bytes_close(&out);
        bytes_open(&want);
        expected((const unsigned char *)s, want.f);
        bytes_close(&want);
        bytes_open(&got);
        ok = strlen(out.buf) == out.len && decode_string((const unsigned char *)out.buf, got.f);
        bytes_close(&got);
        if (!ok)
                fprintf(stderr, "not a valid JSON string: %s\n", out.buf);
        fuzz_check(ok);
        fuzz_check(got.len == want.len && memcmp(got.buf, want.buf, got.len) == 0);
        free(out.buf);
        free(want.buf);
        free(got.buf);
        check_writer(data, size);
        return 0;
}
