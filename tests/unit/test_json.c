/* SPDX-License-Identifier: MIT */
/* JSON writer: escaping of hostile strings, UTF-8 repair, nesting and commas, numbers. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

/* The JSON text of one string value written with json_strn. */
static void expect_strn(const char *in, size_t n, const char *want)
{
    struct json j;

    json_init(&j);
    json_strn(&j, in, n);
    assert_string_equal(j.buf, want);
    assert_int_equal(j.len, strlen(want));
    json_fini(&j);
}

static void expect_str(const char *in, const char *want)
{
    expect_strn(in, strlen(in), want);
}

static void test_plain(void **state)
{
    (void)state;
    expect_str("", "\"\"");
    expect_str("hello, world", "\"hello, world\"");
    expect_str("a/b", "\"a/b\"");
    expect_str("say \"hi\"", "\"say \\\"hi\\\"\"");
    expect_str("C:\\dir", "\"C:\\\\dir\"");
}

/* Each byte alone, expected text built from the rules rather than from the writer. */
static void test_every_byte(void **state)
{
    (void)state;
    for (int b = 0; b < 256; b++) {
        char in = (char)b, want[16];

        switch (b) {
        case '\b':
            strcpy(want, "\"\\b\"");
            break;
        case '\t':
            strcpy(want, "\"\\t\"");
            break;
        case '\n':
            strcpy(want, "\"\\n\"");
            break;
        case '\f':
            strcpy(want, "\"\\f\"");
            break;
        case '\r':
            strcpy(want, "\"\\r\"");
            break;
        case '"':
            strcpy(want, "\"\\\"\"");
            break;
        case '\\':
            strcpy(want, "\"\\\\\"");
            break;
        default:
            if (b < 0x20 || b == 0x7f)
                snprintf(want, sizeof(want), "\"\\u%04x\"", b);
            else if (b < 0x80)
                snprintf(want, sizeof(want), "\"%c\"", b);
            else /* a lone byte >= 0x80 is never valid UTF-8 */
                strcpy(want, "\"\\ufffd\"");
            break;
        }
        expect_strn(&in, 1, want);
    }
}

static void test_controls(void **state)
{
    (void)state;
    expect_strn("a\0b", 3, "\"a\\u0000b\"");
    expect_str("\x1b[2J", "\"\\u001b[2J\"");
    expect_str("\x1b]0;owned\x07", "\"\\u001b]0;owned\\u0007\"");
    expect_str("x\x7fy", "\"x\\u007fy\"");
    expect_str("\x01\x1f", "\"\\u0001\\u001f\"");
    /* C1 controls, encoded as UTF-8 */
    expect_str("\xc2\x80", "\"\\u0080\"");
    expect_str("next\xc2\x85line", "\"next\\u0085line\"");
    expect_str("\xc2\x9b"
               "2J",
               "\"\\u009b2J\"");
    expect_str("\xc2\x9f", "\"\\u009f\"");
    expect_str("\xc2\xa0", "\"\xc2\xa0\""); /* U+00A0 is printable: kept */
    /* line and paragraph separators break JavaScript string literals */
    expect_str("a\xe2\x80\xa8"
               "b\xe2\x80\xa9",
               "\"a\\u2028b\\u2029\"");
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    /* overlong "/" */
    expect_str("\xc0\xaf", "\"\\ufffd\\ufffd\"");
    /* overlong 3 and 4 byte forms */
    expect_str("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"");
    expect_str("\xf0\x80\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
    /* UTF-16 surrogate U+D800 */
    expect_str("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
    /* above U+10FFFF */
    expect_str("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
    expect_str("\xf5\x80", "\"\\ufffd\\ufffd\"");
    /* truncated sequences, also at the very end */
    expect_str("\xe2\x82"
               "A",
               "\"\\ufffd\\ufffdA\"");
    expect_str("ok\xf0\x9f\x98", "\"ok\\ufffd\\ufffd\\ufffd\"");
    expect_strn("\xe2\x82\xac", 2, "\"\\ufffd\\ufffd\"");
    /* stray continuation byte */
    expect_str("a\x80z", "\"a\\ufffdz\"");
    /* a truncation then a valid character */
    expect_str("\xc3\xc3\xa9", "\"\\ufffd\xc3\xa9\"");
}

static void test_valid_utf8(void **state)
{
    (void)state;
    expect_str("caf\xc3\xa9", "\"caf\xc3\xa9\"");
    expect_str("\xe2\x82\xac 5", "\"\xe2\x82\xac 5\"");
    expect_str("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""); /* U+1F600 */
    expect_str("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""); /* U+10FFFF */
    expect_str("\xed\x9f\xbf", "\"\xed\x9f\xbf\"");         /* U+D7FF */
    expect_str("\xef\xbf\xbd", "\"\xef\xbf\xbd\"");         /* U+FFFD itself */
}

static void test_null_string(void **state)
{
    struct json j;

    (void)state;
    json_init(&j);
    json_str(&j, NULL);
    assert_string_equal(j.buf, "null");
    json_fini(&j);
}

static void test_nesting(void **state)
{
    struct json j;

    (void)state;
    json_init(&j);
    assert_string_equal(j.buf, "");
    json_obj_begin(&j);
    json_key(&j, "a");
    json_int(&j, 1);
    json_key(&j, "b");
    json_arr_begin(&j);
    json_int(&j, 1);
    json_str(&j, "x");
    json_obj_begin(&j);
    json_obj_end(&j);
    json_arr_begin(&j);
    json_arr_end(&j);
    json_null(&j);
    json_arr_end(&j);
    json_key(&j, "c");
    json_obj_begin(&j);
    json_key(&j, "d");
    json_bool(&j, true);
    json_key(&j, "e");
    json_bool(&j, false);
    json_obj_end(&j);
    json_key(&j, "f");
    json_str(&j, NULL);
    json_key(&j, "q\"k");
    json_arr_begin(&j);
    json_arr_end(&j);
    json_obj_end(&j);
    assert_string_equal(j.buf, "{\"a\":1,\"b\":[1,\"x\",{},[],null],\"c\":{\"d\":true,\"e\":false},"
                               "\"f\":null,\"q\\\"k\":[]}");
    assert_int_equal(j.depth, 0);
    json_fini(&j);
}

static void test_lines_and_reset(void **state)
{
    struct json j;

    (void)state;
    json_init(&j);
    json_obj_begin(&j);
    json_key(&j, "n");
    json_int(&j, 1);
    json_obj_end(&j);
    json_raw(&j, "\n");
    json_obj_begin(&j);
    json_key(&j, "n");
    json_int(&j, 2);
    json_obj_end(&j);
    json_raw(&j, "\n");
    assert_string_equal(j.buf, "{\"n\":1}\n{\"n\":2}\n");

    json_reset(&j);
    assert_string_equal(j.buf, "");
    assert_int_equal(j.len, 0);
    json_arr_begin(&j);
    json_int(&j, 3);
    json_arr_end(&j);
    assert_string_equal(j.buf, "[3]");
    json_fini(&j);
    assert_null(j.buf);
}

static void test_deep_nesting(void **state)
{
    struct json j;
    char want[256];
    size_t n = 0;

    (void)state;
    json_init(&j);
    for (int i = 0; i < 40; i++) {
        json_arr_begin(&j);
        json_int(&j, i);
        want[n++] = '[';
        n += (size_t)snprintf(want + n, sizeof(want) - n, "%d,", i);
    }
    for (int i = 0; i < 40; i++) {
        json_arr_end(&j);
        want[n++] = ']';
    }
    want[n] = '\0';
    /* the innermost "N," has nothing after it: drop that comma from the expectation */
    {
        char *last = strrchr(want, ',');
        memmove(last, last + 1, strlen(last + 1) + 1);
    }
    assert_string_equal(j.buf, want);
    json_fini(&j);
}

/* Past the comma array's depth: empty containers and siblings after a nested close. */
static void test_deep_siblings(void **state)
{
    struct json j;
    char want[512];
    size_t n = 0;

    (void)state;
    json_init(&j);
    for (int i = 0; i < 40; i++) {
        json_arr_begin(&j);
        want[n++] = '[';
    }
    /* at depth 40: [] , {"k":[]} , 1 */
    json_arr_begin(&j);
    json_arr_end(&j);
    json_obj_begin(&j);
    json_key(&j, "k");
    json_arr_begin(&j);
    json_arr_end(&j);
    json_obj_end(&j);
    json_int(&j, 1);
    n += (size_t)snprintf(want + n, sizeof(want) - n, "[],{\"k\":[]},1");
    for (int i = 0; i < 40; i++) {
        json_arr_end(&j);
        json_int(&j, i);
        n += (size_t)snprintf(want + n, sizeof(want) - n, "],%d", i);
    }
    /* the outermost "],39" is at the top level: no comma there */
    assert_string_equal(want + n - 4, "],39");
    memmove(want + n - 3, want + n - 2, 3);
    assert_string_equal(j.buf, want);
    json_fini(&j);
}

static void test_growth(void **state)
{
    struct json j;
    char big[5000];

    (void)state;
    memset(big, 'z', sizeof(big));
    json_init(&j);
    json_arr_begin(&j);
    for (int i = 0; i < 20; i++)
        json_strn(&j, big, sizeof(big));
    json_arr_end(&j);
    assert_int_equal(j.len, 2 + 20 * (sizeof(big) + 2) + 19);
    assert_int_equal(strlen(j.buf), j.len);
    assert_true(j.cap > j.len);
    json_fini(&j);
}

static void expect_num(double v, int decimals, const char *want)
{
    struct json j;

    json_init(&j);
    json_num(&j, v, decimals);
    assert_string_equal(j.buf, want);
    json_fini(&j);
}

static void test_numbers(void **state)
{
    struct json j;

    (void)state;
    expect_num(1.2, 3, "1.200");
    expect_num(11.8, 1, "11.8");
    expect_num(0.0005, 3, "0.001");
    expect_num(42, 0, "42");
    expect_num(-3.25, 2, "-3.25");
    expect_num(1234567.891, 3, "1234567.891");
    expect_num(NAN, 3, "null");
    expect_num(INFINITY, 3, "null");
    expect_num(-INFINITY, 3, "null");

    json_init(&j);
    json_arr_begin(&j);
    json_int(&j, 0);
    json_int(&j, -1);
    json_int(&j, INT64_MAX);
    json_int(&j, INT64_MIN);
    json_num(&j, NAN, 3);
    json_num(&j, 0.5, 1);
    json_arr_end(&j);
    assert_string_equal(j.buf, "[0,-1,9223372036854775807,-9223372036854775808,null,0.5]");
    json_fini(&j);
}

/* A program that called setlocale() for curses must still write a decimal point. Needs a
 * locale with a decimal comma; without one it only says so (a cmocka skip is "not ok" in TAP,
 * which the test driver counts as a failure). */
static void test_numbers_locale(void **state)
{
    (void)state;
    if (!setlocale(LC_NUMERIC, "de_DE.UTF-8") && !setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
        print_message("# no de_DE or fr_FR locale: decimal point check not run\n");
        return;
    }
    expect_num(1.5, 3, "1.500");
    setlocale(LC_NUMERIC, "C");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),          cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_controls),       cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_valid_utf8),     cmocka_unit_test(test_null_string),
        cmocka_unit_test(test_nesting),        cmocka_unit_test(test_lines_and_reset),
        cmocka_unit_test(test_deep_nesting),   cmocka_unit_test(test_deep_siblings),
        cmocka_unit_test(test_growth),         cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_numbers_locale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
