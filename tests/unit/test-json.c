/* The JSON writer: structure and commas, string escaping, UTF-8 passthrough and repair, and misuse that
 * must be reported instead of written out as broken JSON. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "shared/json.h"

typedef struct out {
        char *buf;
        size_t len;
        FILE *f;
        gh_json j;
} out;

static void out_open(out *o)
{
        *o = (out){};
        o->f = open_memstream(&o->buf, &o->len);
        assert_non_null(o->f);
        gh_json_init(&o->j, o->f);
}

/* Finishes the document and returns gh_json_finish()'s verdict; o->buf then holds what was written. */
static int out_close(out *o)
{
        int r = gh_json_finish(&o->j);

        assert_int_equal(fclose(o->f), 0);
        return r;
}

static void out_done(out *o)
{
        free(o->buf);
}

/* The JSON text of s as one string value. */
static void assert_string_json(const char *s, const char *want)
{
        out o;

        out_open(&o);
        gh_json_string(&o.j, s);
        assert_int_equal(out_close(&o), 0);
        assert_string_equal(o.buf, want);
        out_done(&o);
}

static void test_structure(void **state)
{
        out o;

        out_open(&o);
        gh_json_object_begin(&o.j);
        gh_json_key(&o.j, "devices");
        gh_json_array_begin(&o.j);
        gh_json_object_begin(&o.j);
        gh_json_key(&o.j, "a");
        gh_json_int(&o.j, -1);
        gh_json_key(&o.j, "b");
        gh_json_bool(&o.j, true);
        gh_json_object_end(&o.j);
        gh_json_object_begin(&o.j);
        gh_json_object_end(&o.j);
        gh_json_array_begin(&o.j);
        gh_json_array_end(&o.j);
        gh_json_null(&o.j);
        gh_json_array_end(&o.j);
        gh_json_key(&o.j, "n");
        gh_json_uint(&o.j, 7);
        gh_json_key(&o.j, "s");
        gh_json_string(&o.j, NULL);
        gh_json_key(&o.j, "f");
        gh_json_bool(&o.j, false);
        gh_json_object_end(&o.j);
        assert_int_equal(out_close(&o), 0);
        assert_string_equal(
                o.buf, "{\"devices\":[{\"a\":-1,\"b\":true},{},[],null],\"n\":7,\"s\":null,\"f\":false}");
        out_done(&o);
}

static void test_scalar_document(void **state)
{
        out o;

        out_open(&o);
        gh_json_int(&o.j, INT64_MIN);
        assert_int_equal(out_close(&o), 0);
        assert_string_equal(o.buf, "-9223372036854775808");
        out_done(&o);

        out_open(&o);
        gh_json_uint(&o.j, UINT64_MAX);
        assert_int_equal(out_close(&o), 0);
        assert_string_equal(o.buf, "18446744073709551615");
        out_done(&o);
}

static void test_escapes(void **state)
{
        assert_string_json("", "\"\"");
        assert_string_json("plain /text/", "\"plain /text/\"");
        assert_string_json("say \"hi\"", "\"say \\\"hi\\\"\"");
        assert_string_json("C:\\dir\\", "\"C:\\\\dir\\\\\"");
        assert_string_json("a\nb\tc\rd\be\ff", "\"a\\nb\\tc\\rd\\be\\ff\"");
        assert_string_json("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
        assert_string_json("\x1b[31mred", "\"\\u001b[31mred\"");
}

static void test_keys_escaped(void **state)
{
        out o;

        out_open(&o);
        gh_json_object_begin(&o.j);
        gh_json_key(&o.j, "k\"\n");
        gh_json_string(&o.j, "v");
        gh_json_object_end(&o.j);
        assert_int_equal(out_close(&o), 0);
        assert_string_equal(o.buf, "{\"k\\\"\\n\":\"v\"}");
        out_done(&o);
}

static void test_utf8_passes_through(void **state)
{
        /* Two-, three- and four-byte sequences, and the highest code point. */
        assert_string_json("café", "\"café\"");
        assert_string_json("日本語", "\"日本語\"");
        assert_string_json("\xf0\x9f\x98\x80!", "\"\xf0\x9f\x98\x80!\"");
        assert_string_json("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"");
        /* U+2028 is valid JSON text as it is. */
        assert_string_json("\xe2\x80\xa8", "\"\xe2\x80\xa8\"");
}

static void test_invalid_utf8_replaced(void **state)
{
        assert_string_json("a\xff"
                           "b",
                           "\"a\\ufffdb\"");
        /* A sequence cut short by the end of the string, or by an ASCII byte. */
        assert_string_json("x\xc3", "\"x\\ufffd\"");
        assert_string_json("\xe6\x97z", "\"\\ufffd\\ufffdz\"");
        /* A lone continuation byte. */
        assert_string_json("\x80", "\"\\ufffd\"");
        /* Overlong forms of '/' and of U+0800-range characters. */
        assert_string_json("\xc0\xaf", "\"\\ufffd\\ufffd\"");
        assert_string_json("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"");
        assert_string_json("\xf0\x80\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
        /* A UTF-16 surrogate, and a code point past U+10FFFF. */
        assert_string_json("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
        assert_string_json("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
        /* A valid character right after a bad byte survives. */
        assert_string_json("\xfe\xc3\xa9", "\"\\ufffd\xc3\xa9\"");
}

static void test_value_without_key(void **state)
{
        out o;

        out_open(&o);
        gh_json_object_begin(&o.j);
        gh_json_int(&o.j, 1);
        gh_json_object_end(&o.j);
        assert_int_equal(out_close(&o), -EINVAL);
        out_done(&o);
}

static void test_key_outside_object(void **state)
{
        out o;

        out_open(&o);
        gh_json_array_begin(&o.j);
        gh_json_key(&o.j, "k");
        gh_json_array_end(&o.j);
        assert_int_equal(out_close(&o), -EINVAL);
        out_done(&o);

        out_open(&o);
        gh_json_key(&o.j, "k");
        assert_int_equal(out_close(&o), -EINVAL);
        out_done(&o);
}

static void test_key_without_value(void **state)
{
        out o;

        out_open(&o);
        gh_json_object_begin(&o.j);
        gh_json_key(&o.j, "a");
        gh_json_key(&o.j, "b");
        gh_json_int(&o.j, 1);
        gh_json_object_end(&o.j);
        assert_int_equal(out_close(&o), -EINVAL);
        out_done(&o);

        out_open(&o);
        gh_json_object_begin(&o.j);
        gh_json_key(&o.j, "a");
        gh_json_object_end(&o.j);
        assert_int_equal(out_close(&o), -EINVAL);
        out_done(&o);
}

static void test_unbalanced(void **state)
{
        out o;

        out_open(&o);
        gh_json_object_begin(&o.j);
        assert_int_equal(out_close(&o), -EINVAL);
        out_done(&o);

        out_open(&o);
        gh_json_array_begin(&o.j);
        gh_json_object_end(&o.j);
        assert_int_equal(out_close(&o), -EINVAL);
        out_done(&o);

        out_open(&o);
        gh_json_array_end(&o.j);
        assert_int_equal(out_close(&o), -EINVAL);
        out_done(&o);
}

static void test_one_document(void **state)
{
        out o;

        /* Nothing written is not a document. */
        out_open(&o);
        assert_int_equal(out_close(&o), -EINVAL);
        out_done(&o);

        out_open(&o);
        gh_json_int(&o.j, 1);
        gh_json_int(&o.j, 2);
        assert_int_equal(out_close(&o), -EINVAL);
        /* The second value was not written. */
        assert_string_equal(o.buf, "1");
        out_done(&o);
}

static void test_too_deep(void **state)
{
        out o;
        int depth = 0;

        out_open(&o);
        for (int i = 0; i < GH_JSON_DEPTH_MAX + 5; i++) {
                gh_json_array_begin(&o.j);
                if (!o.j.error)
                        depth++;
        }
        assert_true(depth < GH_JSON_DEPTH_MAX);
        assert_true(depth > 8);
        for (int i = 0; i < GH_JSON_DEPTH_MAX + 5; i++)
                gh_json_array_end(&o.j);
        assert_int_equal(out_close(&o), -E2BIG);
        out_done(&o);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_structure),
                cmocka_unit_test(test_scalar_document),
                cmocka_unit_test(test_escapes),
                cmocka_unit_test(test_keys_escaped),
                cmocka_unit_test(test_utf8_passes_through),
                cmocka_unit_test(test_invalid_utf8_replaced),
                cmocka_unit_test(test_value_without_key),
                cmocka_unit_test(test_key_outside_object),
                cmocka_unit_test(test_key_without_value),
                cmocka_unit_test(test_unbalanced),
                cmocka_unit_test(test_one_document),
                cmocka_unit_test(test_too_deep),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
