/* SPDX-License-Identifier: MIT */
/* Terminal sanitiser: escapes, invalid UTF-8, truncation at character boundaries. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "san.h"

/* No byte that could act on a terminal; and the result is valid UTF-8 with no C1. */
static void assert_terminal_safe(const char *out, size_t len)
{
    size_t i = 0;

    assert_int_equal(strlen(out), len);
    while (i < len) {
        unsigned char b = (unsigned char)out[i];
        uint32_t cp;
        size_t n;

        assert_true(b >= 0x20 && b != 0x7f);
        n = san_utf8_decode(out + i, len - i, &cp);
        assert_true(n > 0);
        assert_false(cp >= 0x80 && cp <= 0x9f);
        i += n;
    }
}

static void expect_san(const char *in, size_t n, size_t outlen, const char *want)
{
    char out[1024];
    size_t len;

    assert_true(outlen <= sizeof(out));
    memset(out, 'Q', sizeof(out));
    len = san_term(in, n, out, outlen);
    assert_string_equal(out, want);
    assert_int_equal(len, strlen(want));
    assert_true(len < outlen);
    assert_terminal_safe(out, len);
    /* nothing written past outlen */
    if (outlen < sizeof(out))
        assert_int_equal(out[outlen], 'Q');
}

static void expect(const char *in, const char *want)
{
    expect_san(in, strlen(in), 1024, want);
}

static void test_plain(void **state)
{
    (void)state;
    expect("", "");
    expect("hello world", "hello world");
    expect("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
           "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    expect("\xc2\xa0nbsp", "\xc2\xa0nbsp");
    expect("a\\b", "a\\\\b");
    expect("\\x1b", "\\\\x1b"); /* a literal "\x1b" cannot pass for an escape */
}

static void test_escapes(void **state)
{
    (void)state;
    expect("\x1b[2J\x1b[H", "\\e[2J\\e[H");
    expect("\x1b]0;title\x07", "\\e]0;title\\x07");
    expect("a\nb\rc\td", "a\\nb\\rc\\td");
    expect("x\x7fy", "x\\x7fy");
    expect("\x01\x08\x0c\x1f", "\\x01\\x08\\x0c\\x1f");
    expect_san("a\0b", 3, 64, "a\\x00b");
}

static void test_c1(void **state)
{
    (void)state;
    expect("\xc2\x9b"
           "2J",
           "\\u{9b}2J"); /* CSI as U+009B */
    expect("\xc2\x85", "\\u{85}");
    expect("\xc2\x80\xc2\x9f", "\\u{80}\\u{9f}");
    /* a raw C1 byte is not UTF-8: each byte shown */
    expect("\x9b"
           "2J",
           "\\x9b2J");
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    expect("\xc0\xaf", "\\xc0\\xaf");                   /* overlong "/" */
    expect("\xe0\x80\xaf", "\\xe0\\x80\\xaf");          /* overlong, 3 bytes */
    expect("\xed\xa0\x80", "\\xed\\xa0\\x80");          /* surrogate */
    expect("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"); /* above U+10FFFF */
    expect("\xff\xfe", "\\xff\\xfe");
    expect("ab\xe2\x82", "ab\\xe2\\x82"); /* truncated at the end */
    expect("\xe2\x82z", "\\xe2\\x82z");
    expect("\xc3\xc3\xa9", "\\xc3\xc3\xa9");
}

static void test_every_byte(void **state)
{
    (void)state;
    for (int b = 0; b < 256; b++) {
        char in = (char)b, out[16];
        size_t len = san_term(&in, 1, out, sizeof(out));

        assert_terminal_safe(out, len);
        if (b >= 0x20 && b < 0x7f && b != '\\') {
            assert_int_equal(len, 1);
            assert_int_equal(out[0], b);
        } else {
            assert_int_equal(out[0], '\\');
        }
    }
}

/* Every two-byte string: whatever comes in, nothing unsafe comes out. */
static void test_every_pair(void **state)
{
    (void)state;
    for (int a = 0; a < 256; a++) {
        for (int b = 0; b < 256; b++) {
            char in[2] = {(char)a, (char)b}, out[32];
            size_t len = san_term(in, 2, out, sizeof(out));

            assert_terminal_safe(out, len);
        }
    }
}

static void test_truncation(void **state)
{
    (void)state;
    /* fits exactly: no dots */
    expect_san("abcdef", 6, 7, "abcdef");
    expect_san("abcdefg", 7, 7, "abc...");
    expect_san("abcdefg", 7, 6, "ab...");
    expect_san("abcdefg", 7, 4, "...");
    /* no room for "...": as many dots as fit */
    expect_san("abcdefg", 7, 3, "..");
    expect_san("abcdefg", 7, 2, ".");
    expect_san("ab", 2, 3, "ab");
    expect_san("abc", 3, 2, ".");
    expect_san("", 0, 1, "");
    expect_san("abc", 3, 1, "");
    /* escapes are never split */
    expect_san("abc\x1b"
               "def",
               7, 8, "abc...");
    expect_san("ab\x1b"
               "cdef",
               7, 8, "ab\\e...");
    expect_san("\xc2\x85xxxxxx", 8, 8, "...");
    expect_san("\xc2\x85xxxxxx", 8, 10, "\\u{85}...");
    expect_san("\xc2\x85xxxxxx", 8, 11, "\\u{85}x...");
}

static void test_truncation_utf8(void **state)
{
    const char *s = "ab\xf0\x9f\x98\x80"
                    "cd"; /* 8 bytes, 5 characters */

    (void)state;
    expect_san(s, 8, 9, s);
    expect_san(s, 8, 8, "ab...");
    expect_san(s, 8, 7, "ab...");
    expect_san(s, 8, 10, s);
    expect_san("\xf0\x9f\x98\x80\xf0\x9f\x98\x80x", 9, 9, "\xf0\x9f\x98\x80...");
    expect_san("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 9, 9, "\xe2\x82\xac...");
    expect_san("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 9, 8, "\xe2\x82\xac...");
    expect_san("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 9, 7, "\xe2\x82\xac...");
    expect_san("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 9, 6, "...");
}

static void test_outlen_zero(void **state)
{
    char out[4] = "XYZ";

    (void)state;
    assert_int_equal(san_term("abc", 3, out, 0), 0);
    assert_string_equal(out, "XYZ"); /* untouched */
    assert_int_equal(san_term(NULL, 5, out, sizeof(out)), 0);
    assert_string_equal(out, "");
}

/* Only n bytes are read, even with no NUL among them. */
static void test_length_bound(void **state)
{
    char in[3] = {'a', 'b', 'c'};

    (void)state;
    expect_san(in, 2, 16, "ab");
}

static void test_decode(void **state)
{
    uint32_t cp = 0;

    (void)state;
    assert_int_equal(san_utf8_decode("A", 1, &cp), 1);
    assert_int_equal(cp, 'A');
    assert_int_equal(san_utf8_decode("\xc3\xa9", 2, &cp), 2);
    assert_int_equal(cp, 0xe9);
    assert_int_equal(san_utf8_decode("\xe2\x82\xac", 3, &cp), 3);
    assert_int_equal(cp, 0x20ac);
    assert_int_equal(san_utf8_decode("\xf0\x9f\x98\x80", 4, &cp), 4);
    assert_int_equal(cp, 0x1f600);
    assert_int_equal(san_utf8_decode("\xf0\x9f\x98\x80", 3, &cp), 0);
    assert_int_equal(san_utf8_decode("\xc1\xbf", 2, &cp), 0);
    assert_int_equal(san_utf8_decode("\xed\xbf\xbf", 3, &cp), 0);
    assert_int_equal(san_utf8_decode("\xee\x80\x80", 3, &cp), 3);
    assert_int_equal(cp, 0xe000);
    assert_int_equal(san_utf8_decode("", 0, &cp), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),       cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_c1),          cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_every_byte),  cmocka_unit_test(test_every_pair),
        cmocka_unit_test(test_truncation),  cmocka_unit_test(test_truncation_utf8),
        cmocka_unit_test(test_outlen_zero), cmocka_unit_test(test_length_bound),
        cmocka_unit_test(test_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
