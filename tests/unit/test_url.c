/* SPDX-License-Identifier: MIT */
/* Unit tests for url.c: parsing, the Host header text and masking of secrets. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include "url.h"

static char err[512];

static void parse_ok(const char *s, bool http_ok, struct url *u)
{
    err[0] = '\0';
    if (url_parse(s, http_ok, u, err, sizeof err) != 0)
        fail_msg("url_parse(\"%s\") failed: %s", s, err);
}

/* Parse must fail with exactly the message want. */
static void parse_bad(const char *s, bool http_ok, const char *want)
{
    struct url u;

    err[0] = '\0';
    assert_int_equal(url_parse(s, http_ok, &u, err, sizeof err), -EINVAL);
    assert_string_equal(err, want);
}

/* The error message must never carry a byte a terminal could interpret. */
static void assert_safe_text(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p >= 0x7f)
            fail_msg("unsafe byte 0x%02x in \"%s\"", *p, s);
}

static void test_ws_defaults(void **state)
{
    struct url u;
    (void)state;

    parse_ok("ws://example.com/chat", false, &u);
    assert_false(u.tls);
    assert_true(u.websocket);
    assert_string_equal(u.host, "example.com");
    assert_false(u.host_is_ip);
    assert_int_equal(u.port, 80);
    assert_false(u.port_explicit);
    assert_string_equal(u.path, "/chat");
}

static void test_wss_default_port_and_path(void **state)
{
    struct url u;
    (void)state;

    parse_ok("wss://ws.example.com", false, &u);
    assert_true(u.tls);
    assert_true(u.websocket);
    assert_int_equal(u.port, 443);
    assert_string_equal(u.path, "/");
}

static void test_explicit_port_lowercase_query(void **state)
{
    struct url u;
    (void)state;

    parse_ok("WSS://WS.Example.COM:8443/a/B?x=1&Y=2", false, &u);
    assert_true(u.tls);
    assert_string_equal(u.host, "ws.example.com");
    assert_int_equal(u.port, 8443);
    assert_true(u.port_explicit);
    assert_string_equal(u.path, "/a/B?x=1&Y=2");
}

static void test_query_without_path(void **state)
{
    struct url u;
    (void)state;

    parse_ok("ws://example.com?room=1", false, &u);
    assert_string_equal(u.host, "example.com");
    assert_string_equal(u.path, "/?room=1");
    parse_ok("ws://example.com:81?room=1", false, &u);
    assert_int_equal(u.port, 81);
    assert_string_equal(u.path, "/?room=1");
}

static void test_port_bounds(void **state)
{
    struct url u;
    (void)state;

    parse_ok("ws://example.com:1/", false, &u);
    assert_int_equal(u.port, 1);
    parse_ok("ws://example.com:65535/", false, &u);
    assert_int_equal(u.port, 65535);
}

static void test_ipv6_literal(void **state)
{
    struct url u;
    (void)state;

    parse_ok("ws://[::1]:8080/x", false, &u);
    assert_string_equal(u.host, "::1");
    assert_true(u.host_is_ip);
    assert_true(u.host_is_ipv6);
    assert_int_equal(u.port, 8080);
    assert_string_equal(u.path, "/x");

    parse_ok("wss://[2001:DB8::1]", false, &u);
    assert_string_equal(u.host, "2001:db8::1");
    assert_int_equal(u.port, 443);
    assert_string_equal(u.path, "/");
}

static void test_ipv4_literal(void **state)
{
    struct url u;
    (void)state;

    parse_ok("ws://203.0.113.7:3000/demo", false, &u);
    assert_string_equal(u.host, "203.0.113.7");
    assert_true(u.host_is_ip);
    assert_false(u.host_is_ipv6);
    assert_int_equal(u.port, 3000);

    parse_ok("ws://203.0.113.example.com/", false, &u);
    assert_false(u.host_is_ip);
}

static void test_http_when_allowed(void **state)
{
    struct url u;
    (void)state;

    parse_ok("https://example.com/health", true, &u);
    assert_true(u.tls);
    assert_false(u.websocket);
    assert_int_equal(u.port, 443);
    assert_string_equal(u.path, "/health");

    parse_ok("http://example.com:8080/h?x=1", true, &u);
    assert_false(u.tls);
    assert_false(u.websocket);
    assert_int_equal(u.port, 8080);

    parse_ok("wss://example.com/", true, &u);
    assert_true(u.websocket);
}

static void test_bad_scheme(void **state)
{
    (void)state;

    parse_bad("ws//x", false, "bad URL 'ws//x': expected ws:// or wss://");
    parse_bad("example.com/chat", false, "bad URL 'example.com/chat': expected ws:// or wss://");
    parse_bad("://example.com/", false, "bad URL '://example.com/': expected ws:// or wss://");
    parse_bad("http://example.com/", false,
              "bad URL 'http://example.com/': expected ws:// or wss://");
    parse_bad("ftp://example.com/", false,
              "bad URL 'ftp://example.com/': unsupported scheme 'ftp': expected ws:// or wss://");
    parse_bad("ftp://example.com/", true,
              "bad URL 'ftp://example.com/': unsupported scheme 'ftp': "
              "expected ws://, wss://, http:// or https://");
    parse_bad("", false, "bad URL '': empty URL");
}

static void test_userinfo_fragment(void **state)
{
    (void)state;

    parse_bad("wss://user:pw@example.com/", false,
              "bad URL 'wss://user:pw@example.com/': user info (user:password@) is not "
              "allowed; send credentials in a header");
    parse_bad("wss://user@example.com/", false,
              "bad URL 'wss://user@example.com/': user info (user:password@) is not "
              "allowed; send credentials in a header");
    parse_bad("ws://example.com/#frag", false,
              "bad URL 'ws://example.com/#frag': fragments (#...) are not allowed");
    parse_bad("ws://example.com#x", false,
              "bad URL 'ws://example.com#x': fragments (#...) are not allowed");
}

static void test_empty_host(void **state)
{
    (void)state;

    parse_bad("ws:///x", false, "bad URL 'ws:///x': empty host");
    parse_bad("ws://:80/", false, "bad URL 'ws://:80/': empty host");
    parse_bad("ws://", false, "bad URL 'ws://': empty host");
    parse_bad("ws://[]/", false, "bad URL 'ws://[]/': empty host");
    parse_bad("ws://a..b/", false, "bad URL 'ws://a..b/': empty label in host name");
}

static void test_control_chars_escaped(void **state)
{
    (void)state;

    parse_bad("ws://exa\x01mple.com/", false,
              "bad URL 'ws://exa\\x01mple.com/': control character \\x01");
    parse_bad("ws://example.com/\x1b[31mred", false,
              "bad URL 'ws://example.com/\\x1b[31mred': control character \\x1b");
    parse_bad("ws://example.com/a\r\nHost: evil", false,
              "bad URL 'ws://example.com/a\\x0d\\x0aHost: evil': control character \\x0d");
    parse_bad("ws://example.com/\x7f", false,
              "bad URL 'ws://example.com/\\x7f': control character \\x7f");
    parse_bad("ws://example.com/a b", false,
              "bad URL 'ws://example.com/a b': spaces are not allowed (write %20)");
}

static void test_non_ascii_host(void **state)
{
    struct url u;
    (void)state;

    parse_bad("ws://ex\xc3\xa4mple.com/", false,
              "bad URL 'ws://ex\\xc3\\xa4mple.com/': non-ASCII host name: write its xn-- "
              "(punycode) form");
    /* a C1 CSI byte must not reach the terminal raw */
    parse_bad("ws://\x9b"
              "31m/",
              false,
              "bad URL 'ws://\\x9b31m/': non-ASCII host name: write its xn-- (punycode) form");
    parse_ok("ws://xn--exmple-cua.com/", false, &u);
    parse_bad("ws://exa$mple.com/", false,
              "bad URL 'ws://exa$mple.com/': bad character '$' in host");
}

static void test_bad_ports(void **state)
{
    static const char *const bad[] = {
        "ws://example.com:0/",     "ws://example.com:65536/", "ws://example.com:99999999/",
        "ws://example.com:abc/",   "ws://example.com:-1/",    "ws://example.com:+80/",
        "ws://example.com:8080x/", "ws://[::1]:0/",           "ws://example.com:1e3/",
    };
    char want[256];
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(want, sizeof want, "bad URL '%s': port must be a number from 1 to 65535", bad[i]);
        parse_bad(bad[i], false, want);
    }
    parse_bad("ws://example.com:/", false,
              "bad URL 'ws://example.com:/': missing port number after ':'");
}

static void test_bad_ip_literals(void **state)
{
    (void)state;

    parse_bad("ws://::1/", false,
              "bad URL 'ws://::1/': IPv6 addresses go in brackets: ws://[::1]:8080/");
    parse_bad("ws://[::g]/", false, "bad URL 'ws://[::g]/': bad IPv6 address");
    parse_bad("ws://[::1/", false, "bad URL 'ws://[::1/': missing ']' after the IPv6 address");
    parse_bad("ws://[::1]x/", false, "bad URL 'ws://[::1]x/': unexpected text after ']'");
    parse_bad("ws://[fe80::1%25eth0]/", false,
              "bad URL 'ws://[fe80::1%25eth0]/': bad IPv6 address");
    parse_bad("ws://1.2.3/", false, "bad URL 'ws://1.2.3/': bad IPv4 address");
    parse_bad("ws://127.0.0.256/", false, "bad URL 'ws://127.0.0.256/': bad IPv4 address");
}

static void test_overlong(void **state)
{
    struct url u;
    char *s = malloc(12000);
    (void)state;

    /* host of 300 characters in labels of 50 */
    strcpy(s, "ws://");
    for (int i = 0; i < 6; i++)
        strcat(s, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.");
    strcat(s, "com/");
    assert_int_equal(url_parse(s, false, &u, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "': host name longer than 255 characters"));

    /* a label of 64; 63 is fine */
    strcpy(s, "ws://");
    memset(s + 5, 'a', 64);
    strcpy(s + 5 + 64, ".com/");
    assert_int_equal(url_parse(s, false, &u, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "aaaa.com/': host name label longer than 63 characters"));
    memmove(s + 5, s + 6, strlen(s + 6) + 1);
    parse_ok(s, false, &u);

    /* a 10 KB path: the message quotes the start of the URL, cut, on one line */
    strcpy(s, "ws://example.com/");
    memset(s + strlen(s), 'p', 10000);
    s[17 + 10000] = '\0';
    assert_int_equal(url_parse(s, false, &u, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "...': path longer than 2046 characters"));
    assert_true(strlen(err) < 200);
    assert_safe_text(err);

    /* the longest path that fits */
    strcpy(s, "ws://example.com/");
    memset(s + 16, 'p', URL_PATH_MAX - 2);
    s[16 + URL_PATH_MAX - 2] = '\0';
    s[16] = '/';
    parse_ok(s, false, &u);
    assert_int_equal(strlen(u.path), URL_PATH_MAX - 2);
    free(s);
}

static void test_hostile_junk(void **state)
{
    struct url u;
    char junk[2048];
    unsigned x = 12345;
    (void)state;

    /* pseudo-random bytes after a valid prefix: always rejected with a terminal-safe message */
    for (int round = 0; round < 200; round++) {
        size_t n = 5 + (size_t)(round * 7 % 300);
        memcpy(junk, "ws://", 5);
        for (size_t i = 5; i < n; i++) {
            x = x * 1103515245u + 12345u;
            junk[i] = (char)(1 + (x >> 16) % 255);
        }
        junk[n] = '\0';
        err[0] = '\0';
        if (url_parse(junk, true, &u, err, sizeof err) != 0) {
            assert_safe_text(err);
            assert_null(strchr(err, '\n'));
        }
    }
    /* no error buffer: still refused, nothing written */
    assert_int_equal(url_parse("ws//x", false, &u, NULL, 0), -EINVAL);
    assert_int_equal(url_parse(NULL, false, &u, err, sizeof err), -EINVAL);
    /* a short error buffer is cut, never overrun */
    {
        char small[8];
        assert_int_equal(url_parse("ws//x", false, &u, small, sizeof small), -EINVAL);
        assert_string_equal(small, "bad URL");
    }
}

static void test_host_header(void **state)
{
    struct url u;
    char buf[300];
    (void)state;

    parse_ok("wss://ws.example.com/demo", false, &u);
    assert_int_equal(url_host_header(&u, buf, sizeof buf), 14);
    assert_string_equal(buf, "ws.example.com");

    parse_ok("wss://ws.example.com:443/demo", false, &u);
    assert_int_equal(url_host_header(&u, buf, sizeof buf), 14);
    assert_string_equal(buf, "ws.example.com");

    parse_ok("ws://ws.example.com:443/demo", false, &u);
    url_host_header(&u, buf, sizeof buf);
    assert_string_equal(buf, "ws.example.com:443");

    parse_ok("wss://ws.example.com:3000/demo", false, &u);
    url_host_header(&u, buf, sizeof buf);
    assert_string_equal(buf, "ws.example.com:3000");

    parse_ok("ws://[::1]:8080/x", false, &u);
    url_host_header(&u, buf, sizeof buf);
    assert_string_equal(buf, "[::1]:8080");

    parse_ok("ws://[2001:db8::1]/x", false, &u);
    url_host_header(&u, buf, sizeof buf);
    assert_string_equal(buf, "[2001:db8::1]");

    parse_ok("http://example.com:80/", true, &u);
    url_host_header(&u, buf, sizeof buf);
    assert_string_equal(buf, "example.com");

    /* no room: -ENOSPC and an empty string */
    parse_ok("ws://example.com:8080/", false, &u);
    assert_int_equal(url_host_header(&u, buf, 17), 16);
    assert_string_equal(buf, "example.com:8080");
    assert_int_equal(url_host_header(&u, buf, 16), -ENOSPC);
    assert_string_equal(buf, "");
}

static void mask_eq(const char *in, const char *want)
{
    char buf[512];
    assert_ptr_equal(url_mask_secrets(in, buf, sizeof buf), buf);
    assert_string_equal(buf, want);
}

static void test_mask_secrets(void **state)
{
    (void)state;

    mask_eq("wss://example.com/demo", "wss://example.com/demo");
    mask_eq("wss://example.com/demo?room=1&user=bob", "wss://example.com/demo?room=1&user=bob");
    mask_eq("wss://example.com/?token=abc", "wss://example.com/?token=***");
    mask_eq("wss://example.com/?access_token=abc&room=2",
            "wss://example.com/?access_token=***&room=2");
    mask_eq("wss://example.com/?room=2&api_key=k1&apikey=k2",
            "wss://example.com/?room=2&api_key=***&apikey=***");
    mask_eq("https://b.example.com/o?X-Amz-Credential=AK%2F1&X-Amz-Date=20240101T000000Z"
            "&X-Amz-Signature=deadbeef",
            "https://b.example.com/o?X-Amz-Credential=***&X-Amz-Date=20240101T000000Z"
            "&X-Amz-Signature=***");
    mask_eq("ws://example.com/?PASSWORD=x&passwd=y&pwd=z&Secret=s&auth=a&sig=g&jwt=j"
            "&session_id=q",
            "ws://example.com/?PASSWORD=***&passwd=***&pwd=***&Secret=***&auth=***&sig=***"
            "&jwt=***&session_id=***");
    mask_eq("ws://example.com/?oauth_signature=x&client_secret=y",
            "ws://example.com/?oauth_signature=***&client_secret=***");
    /* percent-encoded names are seen through */
    mask_eq("ws://example.com/?access%5Ftoken=abc", "ws://example.com/?access%5Ftoken=***");
    /* a value holding '=' or '?' is masked whole */
    mask_eq("ws://example.com/?token=a=b?c&x=1", "ws://example.com/?token=***&x=1");
    /* empty values and names without a value are left alone */
    mask_eq("ws://example.com/?token=&flag&key", "ws://example.com/?token=&flag&key");
    /* the path is not a parameter */
    mask_eq("ws://example.com/token/abc?x=1", "ws://example.com/token/abc?x=1");
    /* fragment parameters (OAuth implicit flow) and user info passwords */
    mask_eq("https://example.com/cb#access_token=abc&state=s",
            "https://example.com/cb#access_token=***&state=s");
    mask_eq("https://bob:hunter2@example.com/?q=1", "https://bob:***@example.com/?q=1");
    mask_eq("https://bob@example.com/", "https://bob@example.com/");
    mask_eq("", "");
}

static void test_mask_truncation(void **state)
{
    char buf[32];
    (void)state;

    /* cut, NUL-terminated, and a secret never appears even partly */
    url_mask_secrets("wss://example.com/?token=supersecretvalue", buf, 30);
    assert_string_equal(buf, "wss://example.com/?token=***");
    url_mask_secrets("wss://example.com/?tok=supersecretvalue", buf, 30);
    assert_string_equal(buf, "wss://example.com/?tok=supers");
    url_mask_secrets("wss://example.com/?x=1&token=supersecretvalue", buf, 26);
    assert_string_equal(buf, "wss://example.com/?x=1&to");
    url_mask_secrets("wss://example.com/?token=abc", buf, 1);
    assert_string_equal(buf, "");
    assert_null(url_mask_secrets("x", NULL, 0));
    buf[0] = 'z';
    url_mask_secrets(NULL, buf, sizeof buf);
    assert_string_equal(buf, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ws_defaults),
        cmocka_unit_test(test_wss_default_port_and_path),
        cmocka_unit_test(test_explicit_port_lowercase_query),
        cmocka_unit_test(test_query_without_path),
        cmocka_unit_test(test_port_bounds),
        cmocka_unit_test(test_ipv6_literal),
        cmocka_unit_test(test_ipv4_literal),
        cmocka_unit_test(test_http_when_allowed),
        cmocka_unit_test(test_bad_scheme),
        cmocka_unit_test(test_userinfo_fragment),
        cmocka_unit_test(test_empty_host),
        cmocka_unit_test(test_control_chars_escaped),
        cmocka_unit_test(test_non_ascii_host),
        cmocka_unit_test(test_bad_ports),
        cmocka_unit_test(test_bad_ip_literals),
        cmocka_unit_test(test_overlong),
        cmocka_unit_test(test_hostile_junk),
        cmocka_unit_test(test_host_header),
        cmocka_unit_test(test_mask_secrets),
        cmocka_unit_test(test_mask_truncation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
