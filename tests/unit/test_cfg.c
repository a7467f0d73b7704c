/* SPDX-License-Identifier: MIT */
/* Unit tests for cfg.c: value parsers, keys, inheritance, and the INI file with its errors. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cfg.h"

static char err[CFG_ERR_MAX];

/* ---- helpers ------------------------------------------------------------------------- */

/* Write n bytes to a new file under /tmp; the caller unlinks path. */
static void write_tmp(char *path, size_t path_len, const char *data, size_t n)
{
    int fd;

    snprintf(path, path_len, "/tmp/wsmon-test-cfg-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    while (n > 0) {
        ssize_t w = write(fd, data, n);
        assert_true(w > 0);
        data += w;
        n -= (size_t)w;
    }
    assert_int_equal(close(fd), 0);
}

/* Load text as a file into c (already initialised). Returns cfg_load_file's result. */
static int load_text(struct cfg *c, const char *text, size_t n, char *path, size_t path_len)
{
    int rc;

    write_tmp(path, path_len, text, n);
    err[0] = '\0';
    rc = cfg_load_file(c, path, err, sizeof err);
    unlink(path);
    return rc;
}

static void load_ok(struct cfg *c, const char *text)
{
    char path[64];

    cfg_init(c);
    if (load_text(c, text, strlen(text), path, sizeof path) != 0)
        fail_msg("load failed: %s", err);
}

/* Loading text must fail with -EINVAL and the message "PATH" + suffix, leaving c empty. */
static void load_bad_n(const char *text, size_t n, const char *suffix)
{
    char path[64], want[CFG_ERR_MAX + 64];
    struct cfg c;

    cfg_init(&c);
    assert_int_equal(load_text(&c, text, n, path, sizeof path), -EINVAL);
    snprintf(want, sizeof want, "%s%s", path, suffix);
    assert_string_equal(err, want);
    assert_int_equal(c.n_eps, 0);
    cfg_fini(&c);
}

static void load_bad(const char *text, const char *suffix)
{
    load_bad_n(text, strlen(text), suffix);
}

/* Text safe for a terminal: well-formed UTF-8 without C0, DEL or C1 controls. */
static void assert_safe_text(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        unsigned long cp;
        size_t n;
        if (*p < 0x80) {
            cp = *p;
            n = 1;
        } else if ((*p & 0xe0) == 0xc0 && (p[1] & 0xc0) == 0x80) {
            cp = ((*p & 0x1ful) << 6) | (p[1] & 0x3f);
            n = 2;
        } else if ((*p & 0xf0) == 0xe0 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80) {
            cp = 0x800;
            n = 3;
        } else if ((*p & 0xf8) == 0xf0 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 &&
                   (p[3] & 0xc0) == 0x80) {
            cp = 0x10000;
            n = 4;
        } else {
            fail_msg("malformed UTF-8 at byte 0x%02x in \"%s\"", *p, s);
            return;
        }
        if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0))
            fail_msg("control character U+%04lX in \"%s\"", cp, s);
        p += n;
    }
}

static void set_ok(struct cfg_ep *e, const char *key, const char *value)
{
    err[0] = '\0';
    if (cfg_ep_set(e, key, value, err, sizeof err) != 0)
        fail_msg("cfg_ep_set(%s, \"%s\") failed: %s", key, value, err);
}

/* ---- value parsers ------------------------------------------------------------------- */

static void test_init_defaults(void **state)
{
    struct cfg c;
    (void)state;

    cfg_init(&c);
    assert_int_equal(c.defaults.ping_ms, CFG_DEFAULT_PING_MS);
    assert_int_equal(c.defaults.timeout_ms, CFG_DEFAULT_TIMEOUT_MS);
    assert_int_equal(c.defaults.expect_within_ms, CFG_DEFAULT_EXPECT_WITHIN_MS);
    assert_int_equal(c.defaults.connections, 1);
    assert_int_equal(c.defaults.set, 0);
    assert_null(c.defaults.url);
    assert_int_equal(c.n_eps, 0);
    cfg_fini(&c);
    cfg_fini(&c); /* twice is harmless */
}

static void test_duration_good(void **state)
{
    static const struct {
        const char *s;
        int64_t ms;
    } cases[] = {
        {"500ms", 500},
        {"5s", 5000},
        {"2m", 120000},
        {"1h", 3600000},
        {"1.5s", 1500},
        {"5", 5000},
        {"0", 0},
        {"0ms", 0},
        {"0.25", 250},
        {"1.5ms", 1},
        {"0.001s", 1},
        {"720h", 2592000000LL},
        {"2592000000ms", 2592000000LL},
        {"007s", 7000},
        {"1.25m", 75000},
    };
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = -1;
        if (cfg_parse_duration_ms(cases[i].s, &ms) != 0)
            fail_msg("\"%s\" refused", cases[i].s);
        if (ms != cases[i].ms)
            fail_msg("\"%s\" gave %lld, want %lld", cases[i].s, (long long)ms,
                     (long long)cases[i].ms);
    }
}

static void test_duration_bad(void **state)
{
    static const char *const bad[] = {
        "",
        "-5s",
        "5 s",
        "5x",
        "s",
        "ms",
        "1.s",
        ".5s",
        "5sec",
        "721h",
        "5S",
        " 5s",
        "5s ",
        "0x10",
        "+5s",
        "1..5s",
        "5ms5",
        "1e3",
        "2592000001ms",
        "99999999999999999999",
        "18446744073709551617",
        "\xe2\x88\x9e",
        "5\n",
        "5\x1b",
    };
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 42;
        if (cfg_parse_duration_ms(bad[i], &ms) != -EINVAL)
            fail_msg("\"%s\" accepted", bad[i]);
        assert_int_equal(ms, 42);
    }
    assert_int_equal(cfg_parse_duration_ms(NULL, &(int64_t){0}), -EINVAL);
}

static void test_header_good(void **state)
{
    static const struct {
        const char *s, *name, *value;
    } cases[] = {
        {"X-Token: abc", "X-Token", "abc"},
        {"A:b", "A", "b"},
        {"Name:\t v", "Name", "v"},
        {"X-Empty:", "X-Empty", ""},
        {"Authorization: Bearer a.b.c", "Authorization", "Bearer a.b.c"},
        {"X-Tab: a\tb", "X-Tab", "a\tb"},
        {"X-Utf8: caf\xc3\xa9", "X-Utf8", "caf\xc3\xa9"},
        {"!#$%&'*+-.^_`|~09az: ok", "!#$%&'*+-.^_`|~09az", "ok"},
        {"Cookie: a=1; b=2", "Cookie", "a=1; b=2"},
    };
    char name[65];
    const char *value;
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        value = NULL;
        if (cfg_parse_header(cases[i].s, name, sizeof name, &value) != 0)
            fail_msg("\"%s\" refused", cases[i].s);
        assert_string_equal(name, cases[i].name);
        assert_string_equal(value, cases[i].value);
    }
    /* 64 characters of name is the limit */
    {
        char s[80];
        memset(s, 'N', 64);
        strcpy(s + 64, ": v");
        assert_int_equal(cfg_parse_header(s, name, sizeof name, &value), 0);
        assert_int_equal(strlen(name), 64);
        memset(s, 'N', 65);
        strcpy(s + 65, ": v");
        assert_int_equal(cfg_parse_header(s, name, sizeof name, &value), -EINVAL);
    }
}

static void test_header_bad(void **state)
{
    static const char *const bad[] = {
        ": v",
        "X Y: v",
        "X-A : v",
        "X-A v",
        "X-A",
        "",
        "X-A: b\r\nEvil: 1",
        "X-A: b\n",
        "X-A: b\r",
        "X-A: \x01",
        "X-A: \x7f",
        "X-(A): v",
        "\xc3\x9cnicode: v",
        "X-A:\x1b[2J",
        "\tX-A: v",
    };
    char name[65];
    const char *value;
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (cfg_parse_header(bad[i], name, sizeof name, &value) != -EINVAL)
            fail_msg("\"%s\" accepted", bad[i]);
    /* a name that does not fit the caller's buffer */
    assert_int_equal(cfg_parse_header("Authorization: x", name, 5, &value), -EINVAL);
}

static void test_resolve_good(void **state)
{
    static const struct {
        const char *s, *host;
        int port;
        const char *addr;
    } cases[] = {
        {"ws.example.com:443:203.0.113.7", "ws.example.com", 443, "203.0.113.7"},
        {"example.com:3000:::1", "example.com", 3000, "::1"},
        {"example.com:3000:[2001:db8::1]", "example.com", 3000, "2001:db8::1"},
        {"[::1]:8080:127.0.0.1", "::1", 8080, "127.0.0.1"},
        {"EXAMPLE.com:1:203.0.113.9", "example.com", 1, "203.0.113.9"},
        {"h:65535:::ffff:203.0.113.1", "h", 65535, "::ffff:203.0.113.1"},
    };
    char host[256], addr[64];
    int port;
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cfg_parse_resolve(cases[i].s, host, sizeof host, &port, addr, sizeof addr) != 0)
            fail_msg("\"%s\" refused", cases[i].s);
        assert_string_equal(host, cases[i].host);
        assert_int_equal(port, cases[i].port);
        assert_string_equal(addr, cases[i].addr);
    }
}

static void test_resolve_bad(void **state)
{
    static const char *const bad[] = {
        "example.com:443",
        "example.com:0:203.0.113.7",
        "example.com:65536:203.0.113.7",
        ":443:203.0.113.7",
        "example.com:443:not-an-ip",
        "example.com:443:[::1",
        "example.com:x:203.0.113.7",
        "example.com:443:203.0.113.7:5",
        "example.com:443:[203.0.113.7]",
        "example.com:443:",
        "",
        "exa mple.com:443:203.0.113.7",
        "[::1:443:127.0.0.1",
        "[::g]:443:127.0.0.1",
        "example.com:443:203.0.113.7,203.0.113.8",
        "*:443:203.0.113.7",
        "example.com::203.0.113.7",
        "example.com:443:203.0.113.7\r\nX: y",
    };
    char host[256], addr[64];
    int port;
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (cfg_parse_resolve(bad[i], host, sizeof host, &port, addr, sizeof addr) != -EINVAL)
            fail_msg("\"%s\" accepted", bad[i]);
    /* buffers too small for the parts */
    assert_int_equal(
        cfg_parse_resolve("example.com:443:203.0.113.7", host, 5, &port, addr, sizeof addr),
        -EINVAL);
    assert_int_equal(
        cfg_parse_resolve("example.com:443:203.0.113.7", host, sizeof host, &port, addr, 5),
        -EINVAL);
}

/* ---- keys ---------------------------------------------------------------------------- */

static void test_set_every_key(void **state)
{
    struct cfg_ep e;
    (void)state;

    cfg_ep_init(&e);
    set_ok(&e, "url", "wss://WS.example.com:8443/demo?room=1");
    set_ok(&e, "header", "X-Team:   core  ");
    set_ok(&e, "header", "Authorization: Bearer abc");
    set_ok(&e, "origin", "https://example.com");
    set_ok(&e, "protocol", "chat.v1");
    set_ok(&e, "protocol", "json");
    set_ok(&e, "resolve", "ws.example.com:8443:203.0.113.7");
    set_ok(&e, "cacert", "/etc/ssl/certs/ca.pem");
    set_ok(&e, "insecure", "YES");
    set_ok(&e, "ping", "0");
    set_ok(&e, "expect_message", "hello");
    set_ok(&e, "expect_within", "2.5s");
    set_ok(&e, "send", "h\xc3\xa9llo\tw\xc3\xb6rld; a=b");
    set_ok(&e, "connections", "10000");
    set_ok(&e, "health", "https://ws.example.com/health");
    set_ok(&e, "timeout", "500ms");
    set_ok(&e, "group", "demo");
    set_ok(&e, "via", "Direct");
    set_ok(&e, "backend_header", "X-Backend-Id");
    set_ok(&e, "proxy", "proxy.example.com:3128");

    assert_string_equal(e.url, "wss://WS.example.com:8443/demo?room=1");
    assert_string_equal(e.u.host, "ws.example.com");
    assert_int_equal(e.u.port, 8443);
    assert_int_equal(e.n_headers, 2);
    assert_string_equal(e.headers[0], "X-Team: core");
    assert_string_equal(e.headers[1], "Authorization: Bearer abc");
    assert_string_equal(e.origin, "https://example.com");
    assert_int_equal(e.n_protocols, 2);
    assert_string_equal(e.protocols[1], "json");
    assert_string_equal(e.resolve, "ws.example.com:8443:203.0.113.7");
    assert_string_equal(e.cacert, "/etc/ssl/certs/ca.pem");
    assert_true(e.insecure);
    assert_int_equal(e.ping_ms, 0);
    assert_string_equal(e.expect_message, "hello");
    assert_int_equal(e.expect_within_ms, 2500);
    assert_string_equal(e.send, "h\xc3\xa9llo\tw\xc3\xb6rld; a=b");
    assert_int_equal(e.connections, 10000);
    assert_string_equal(e.health, "https://ws.example.com/health");
    assert_int_equal(e.timeout_ms, 500);
    assert_string_equal(e.group, "demo");
    assert_int_equal(e.via, CFG_VIA_DIRECT);
    assert_string_equal(e.backend_header, "X-Backend-Id");
    assert_string_equal(e.proxy, "proxy.example.com:3128");
    assert_int_equal(e.set, CFG_SET_HEADERS | CFG_SET_ORIGIN | CFG_SET_PROTOCOLS | CFG_SET_RESOLVE |
                                CFG_SET_CACERT | CFG_SET_INSECURE | CFG_SET_PING | CFG_SET_EXPECT |
                                CFG_SET_EXPECT_WITHIN | CFG_SET_SEND | CFG_SET_CONNECTIONS |
                                CFG_SET_HEALTH | CFG_SET_TIMEOUT | CFG_SET_GROUP | CFG_SET_VIA |
                                CFG_SET_BACKEND_HEADER | CFG_SET_PROXY);

    /* a single-valued key set again is replaced (the command line's last one wins) */
    set_ok(&e, "group", "other");
    set_ok(&e, "insecure", "0");
    set_ok(&e, "via", "lb");
    set_ok(&e, "url", "ws://[::1]:9000/");
    assert_string_equal(e.group, "other");
    assert_false(e.insecure);
    assert_int_equal(e.via, CFG_VIA_LB);
    assert_true(e.u.host_is_ipv6);

    /* a failed url leaves the previous one in place */
    assert_int_equal(cfg_ep_set(&e, "url", "ws//x", err, sizeof err), -EINVAL);
    assert_string_equal(e.url, "ws://[::1]:9000/");
    assert_string_equal(e.u.host, "::1");
    cfg_ep_fini(&e);
    cfg_ep_fini(&e);
}

static void test_set_errors(void **state)
{
    static const struct {
        const char *key, *value;
        int rc;
        const char *want;
    } cases[] = {
        {"nope", "1", -ENOENT, "unknown key"},
        {"URL", "ws://example.com/", -ENOENT, "unknown key"},
        {"ping", "", -EINVAL, "empty value"},
        {"ping", "-5s", -EINVAL, "bad duration '-5s': must not be negative"},
        {"ping", "5 s", -EINVAL,
         "bad duration '5 s': expected a number and a unit: 500ms, 5s, 2m, 1h"},
        {"ping", "721h", -EINVAL, "bad duration '721h': longer than 30 days"},
        {"timeout", "0", -EINVAL, "bad duration '0': must be greater than 0"},
        {"expect_within", "0ms", -EINVAL, "bad duration '0ms': must be greater than 0"},
        {"insecure", "on", -EINVAL, "bad boolean 'on': expected true, false, yes, no, 1 or 0"},
        {"via", "proxy", -EINVAL, "bad value 'proxy': expected lb or direct"},
        {"connections", "0", -EINVAL, "bad number '0': expected 1 to 10000"},
        {"connections", "10001", -EINVAL, "bad number '10001': expected 1 to 10000"},
        {"connections", "1x", -EINVAL, "bad number '1x': expected 1 to 10000"},
        {"connections", "-1", -EINVAL, "bad number '-1': expected 1 to 10000"},
        {"connections", "99999999999999999999", -EINVAL,
         "bad number '99999999999999999999': expected 1 to 10000"},
        {"resolve", "ws.example.com:443", -EINVAL,
         "bad resolve 'ws.example.com:443': expected ':' and an address after the port "
         "(HOST:PORT:ADDR)"},
        {"resolve", "ws.example.com:443:nope", -EINVAL,
         "bad resolve 'ws.example.com:443:nope': ADDR is not an IPv4 or IPv6 address "
         "(HOST:PORT:ADDR)"},
        {"resolve", "ws.example.com:0:203.0.113.7", -EINVAL,
         "bad resolve 'ws.example.com:0:203.0.113.7': port must be a number from 1 to 65535 "
         "(HOST:PORT:ADDR)"},
        {"protocol", "a b", -EINVAL,
         "bad protocol 'a b': letters, digits and !#$%&'*+-.^_`|~ only"},
        {"header", "X-A: b\r\nEvil: 1", -EINVAL,
         "bad header 'X-A: b\\x0d\\x0aEvil: 1': CR or LF in value"},
        {"header", "X-A: b\x1b]0;pwned\x07", -EINVAL,
         "bad header 'X-A: b\\x1b]0;pwned\\x07': control character in value"},
        {"header", "X-A: \xff", -EINVAL, "bad header 'X-A: \\xff': not valid UTF-8"},
        {"header", "X-A", -EINVAL, "bad header 'X-A': expected 'Name: value'"},
        {"header", "X-A : b", -EINVAL, "bad header 'X-A : b': no space allowed before ':'"},
        {"header", "Host: evil.example.com", -EINVAL,
         "header 'Host' is set from the URL (use resolve to connect to another address)"},
        {"header", "origin: https://example.com", -EINVAL,
         "header 'origin' is set with the origin key"},
        {"header", "Sec-WebSocket-Protocol: chat", -EINVAL,
         "header 'Sec-WebSocket-Protocol' is set with the protocol key"},
        {"header", "UPGRADE: h2c", -EINVAL, "header 'UPGRADE' is part of the handshake"},
        {"health", "wss://example.com/", -EINVAL,
         "bad URL 'wss://example.com/': expected http:// or https://"},
        {"health", "ftp://example.com/", -EINVAL,
         "bad URL 'ftp://example.com/': unsupported scheme 'ftp': "
         "expected ws://, wss://, http:// or https://"},
        {"url", "http://example.com/", -EINVAL,
         "bad URL 'http://example.com/': expected ws:// or wss://"},
        {"group", "12345678901234567890123456789012345678901234567890123456789012345", -EINVAL,
         "group name longer than 64 bytes"},
        {"send", "a\x1b[2Jb", -EINVAL, "control character \\x1b in value"},
        {"send",
         "\xc2\x9b"
         "31m",
         -EINVAL, "control character U+009B in value"},
        {"send", "\xff", -EINVAL, "not valid UTF-8"},
        {"send", "\xed\xa0\x80", -EINVAL, "not valid UTF-8"},
        {"send", "\xc0\xaf", -EINVAL, "not valid UTF-8"},
        {"expect_message", "a\nb", -EINVAL, "control character \\x0a in value"},
        {"cacert", "/tmp/x\r.pem", -EINVAL, "control character \\x0d in value"},
        {"origin", "https://example.com\r\nX: y", -EINVAL, "control character \\x0d in value"},
        {"backend_header", "X Backend", -EINVAL, "bad header name 'X Backend'"},
        {"proxy", "proxy.example.com", -EINVAL,
         "bad proxy 'proxy.example.com': expected ':' and a port after the host (HOST:PORT)"},
        {"proxy", "proxy.example.com:3128x", -EINVAL,
         "bad proxy 'proxy.example.com:3128x': unexpected text after the port (HOST:PORT)"},
    };
    struct cfg_ep e;
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cfg_ep_init(&e);
        err[0] = '\0';
        if (cfg_ep_set(&e, cases[i].key, cases[i].value, err, sizeof err) != cases[i].rc)
            fail_msg("%s = \"%s\": wrong result (%s)", cases[i].key, cases[i].value, err);
        assert_string_equal(err, cases[i].want);
        assert_int_equal(e.set, 0);
        cfg_ep_fini(&e);
    }
    /* no err buffer: the result alone */
    cfg_ep_init(&e);
    assert_int_equal(cfg_ep_set(&e, "ping", "x", NULL, 0), -EINVAL);
    assert_int_equal(cfg_ep_set(&e, NULL, "x", NULL, 0), -ENOENT);
    assert_int_equal(cfg_ep_set(&e, "ping", NULL, err, sizeof err), -EINVAL);
    cfg_ep_fini(&e);
}

static void test_set_limits(void **state)
{
    struct cfg_ep e;
    char line[64], *big;
    (void)state;

    cfg_ep_init(&e);
    for (int i = 0; i < CFG_MAX_HEADERS; i++) {
        snprintf(line, sizeof line, "X-H%d: %d", i, i);
        set_ok(&e, "header", line);
    }
    assert_int_equal(cfg_ep_set(&e, "header", "X-One-More: 1", err, sizeof err), -EINVAL);
    assert_string_equal(err, "too many headers (at most 32)");
    for (int i = 0; i < CFG_MAX_PROTOCOLS; i++)
        set_ok(&e, "protocol", "p");
    assert_int_equal(cfg_ep_set(&e, "protocol", "q", err, sizeof err), -EINVAL);
    assert_string_equal(err, "too many protocols (at most 8)");

    /* a 10 KB header is refused; a 10 KB message to send is fine */
    big = malloc(10050);
    strcpy(big, "X-Big: ");
    memset(big + 7, 'A', 10000);
    big[10007] = '\0';
    assert_int_equal(cfg_ep_set(&e, "header", big, err, sizeof err), -EINVAL);
    assert_string_equal(err, "value too long (10007 bytes, at most 4096)");
    set_ok(&e, "send", big);
    assert_int_equal(strlen(e.send), 10007);
    free(big);
    cfg_ep_fini(&e);
}

static void test_add_url(void **state)
{
    struct cfg c;
    (void)state;

    cfg_init(&c);
    assert_int_equal(cfg_add_url(&c, "wss://ws.example.com/demo", err, sizeof err), 0);
    assert_int_equal(cfg_add_url(&c, "ws://203.0.113.7:3000/", err, sizeof err), 0);
    assert_int_equal(c.n_eps, 2);
    assert_null(c.eps[0].name);
    assert_string_equal(c.eps[0].url, "wss://ws.example.com/demo");
    assert_true(c.eps[0].u.tls);
    assert_true(c.eps[1].u.host_is_ip);
    assert_int_equal(c.eps[1].set, 0);

    assert_int_equal(cfg_add_url(&c, "https://ws.example.com/", err, sizeof err), -EINVAL);
    assert_string_equal(err, "bad URL 'https://ws.example.com/': expected ws:// or wss://");
    assert_int_equal(cfg_add_url(&c, "wss://u:p@ws.example.com/", err, sizeof err), -EINVAL);
    assert_int_equal(c.n_eps, 2);

    assert_int_equal(cfg_ep_finish(&c.eps[0], &c.defaults, err, sizeof err), 0);
    assert_int_equal(c.eps[0].ping_ms, CFG_DEFAULT_PING_MS);
    cfg_fini(&c);
}

/* ---- cfg_ep_finish ------------------------------------------------------------------- */

static void test_finish_from_defaults(void **state)
{
    struct cfg c;
    struct cfg_ep e;
    (void)state;

    cfg_init(&c);
    set_ok(&c.defaults, "header", "X-Team: core");
    set_ok(&c.defaults, "header", "X-Env: prod");
    set_ok(&c.defaults, "ping", "2s");
    set_ok(&c.defaults, "origin", "https://example.com");
    set_ok(&c.defaults, "insecure", "true");

    /* own header list, own ping 0: both kept; the rest inherited; built-ins fill the gaps */
    cfg_ep_init(&e);
    set_ok(&e, "url", "wss://ws.example.com/a");
    set_ok(&e, "header", "X-Only: me");
    set_ok(&e, "ping", "0");
    assert_int_equal(cfg_ep_finish(&e, &c.defaults, err, sizeof err), 0);
    assert_int_equal(e.n_headers, 1);
    assert_string_equal(e.headers[0], "X-Only: me");
    assert_int_equal(e.ping_ms, 0);
    assert_string_equal(e.origin, "https://example.com");
    assert_ptr_not_equal(e.origin, c.defaults.origin);
    assert_true(e.insecure);
    assert_int_equal(e.timeout_ms, CFG_DEFAULT_TIMEOUT_MS);
    assert_int_equal(e.expect_within_ms, CFG_DEFAULT_EXPECT_WITHIN_MS);
    assert_int_equal(e.connections, 1);
    assert_true(e.set & CFG_SET_ORIGIN);
    assert_false(e.set & CFG_SET_TIMEOUT); /* a built-in is not "given" */
    cfg_ep_fini(&e);

    /* no headers of its own: the whole list is copied, deeply */
    cfg_ep_init(&e);
    set_ok(&e, "url", "wss://ws.example.com/b");
    assert_int_equal(cfg_ep_finish(&e, &c.defaults, err, sizeof err), 0);
    assert_int_equal(e.n_headers, 2);
    assert_ptr_not_equal(e.headers[0], c.defaults.headers[0]);
    assert_int_equal(e.ping_ms, 2000);
    cfg_fini(&c); /* the endpoint must not depend on the defaults any more */
    assert_string_equal(e.headers[1], "X-Env: prod");
    assert_string_equal(e.origin, "https://example.com");
    /* finishing twice is harmless */
    cfg_init(&c);
    assert_int_equal(cfg_ep_finish(&e, &c.defaults, err, sizeof err), 0);
    assert_int_equal(e.n_headers, 2);
    assert_int_equal(e.ping_ms, 2000);
    cfg_fini(&c);
    cfg_ep_fini(&e);

    /* from == NULL means the built-in defaults */
    cfg_ep_init(&e);
    set_ok(&e, "url", "ws://example.com/");
    assert_int_equal(cfg_ep_finish(&e, NULL, err, sizeof err), 0);
    assert_int_equal(e.ping_ms, CFG_DEFAULT_PING_MS);
    assert_int_equal(e.timeout_ms, CFG_DEFAULT_TIMEOUT_MS);
    assert_int_equal(e.connections, 1);
    cfg_ep_fini(&e);
}

static void test_finish_from_endpoint(void **state)
{
    struct cfg_ep from, e;
    (void)state;

    cfg_ep_init(&from);
    set_ok(&from, "url", "wss://other.example.com/");
    set_ok(&from, "protocol", "chat");
    set_ok(&from, "protocol", "json");
    set_ok(&from, "send", "hello");
    set_ok(&from, "expect_message", "welcome");
    set_ok(&from, "expect_within", "2s");
    set_ok(&from, "connections", "3");
    set_ok(&from, "timeout", "4s");
    set_ok(&from, "ping", "1s");
    set_ok(&from, "via", "lb");
    set_ok(&from, "group", "g");
    set_ok(&from, "cacert", "/etc/ca.pem");
    set_ok(&from, "backend_header", "X-Backend");
    set_ok(&from, "proxy", "proxy.example.com:3128");
    set_ok(&from, "health", "http://ws.example.com/health");
    set_ok(&from, "resolve", "ws.example.com:443:203.0.113.7");

    cfg_ep_init(&e);
    e.name = strdup("alb");
    set_ok(&e, "url", "wss://ws.example.com/");
    set_ok(&e, "protocol", "own");
    set_ok(&e, "via", "direct");
    assert_int_equal(cfg_ep_finish(&e, &from, err, sizeof err), 0);
    cfg_ep_fini(&from);

    assert_string_equal(e.url, "wss://ws.example.com/"); /* never inherited */
    assert_string_equal(e.name, "alb");
    assert_int_equal(e.n_protocols, 1);
    assert_string_equal(e.protocols[0], "own");
    assert_int_equal(e.via, CFG_VIA_DIRECT);
    assert_string_equal(e.send, "hello");
    assert_string_equal(e.expect_message, "welcome");
    assert_int_equal(e.expect_within_ms, 2000);
    assert_int_equal(e.connections, 3);
    assert_int_equal(e.timeout_ms, 4000);
    assert_int_equal(e.ping_ms, 1000);
    assert_string_equal(e.group, "g");
    assert_string_equal(e.cacert, "/etc/ca.pem");
    assert_string_equal(e.backend_header, "X-Backend");
    assert_string_equal(e.proxy, "proxy.example.com:3128");
    assert_string_equal(e.health, "http://ws.example.com/health");
    assert_string_equal(e.resolve, "ws.example.com:443:203.0.113.7");
    assert_true(e.set & CFG_SET_CONNECTIONS);
    cfg_ep_fini(&e);
}

static void finish_bad(struct cfg_ep *e, const struct cfg_ep *from, const char *want)
{
    err[0] = '\0';
    assert_int_equal(cfg_ep_finish(e, from, err, sizeof err), -EINVAL);
    assert_string_equal(err, want);
}

static void test_finish_errors(void **state)
{
    struct cfg c;
    struct cfg_ep e, zero;
    (void)state;

    cfg_init(&c);
    cfg_ep_init(&e);
    finish_bad(&e, &c.defaults, "endpoint: no url");
    e.name = strdup("alb");
    finish_bad(&e, &c.defaults, "endpoint 'alb': no url");

    /* a resolve inherited from the defaults that names another host or port */
    set_ok(&c.defaults, "resolve", "other.example.com:443:203.0.113.7");
    set_ok(&e, "url", "wss://ws.example.com/");
    finish_bad(&e, &c.defaults,
               "endpoint 'alb': resolve 'other.example.com:443:203.0.113.7' does not match the "
               "URL's host and port (ws.example.com:443)");
    cfg_ep_fini(&e);

    cfg_ep_init(&e);
    set_ok(&e, "url", "wss://ws.example.com/?access_token=hunter2");
    set_ok(&e, "resolve", "ws.example.com:80:203.0.113.7");
    finish_bad(&e, &c.defaults,
               "endpoint 'wss://ws.example.com/?access_token=***': resolve "
               "'ws.example.com:80:203.0.113.7' does not match the URL's host and port "
               "(ws.example.com:443)");
    cfg_ep_fini(&e);

    /* host compared without regard to case; IPv6 literals match without brackets */
    cfg_ep_init(&e);
    set_ok(&e, "url", "wss://ws.example.com/");
    set_ok(&e, "resolve", "WS.Example.COM:443:203.0.113.7");
    assert_int_equal(cfg_ep_finish(&e, &c.defaults, err, sizeof err), 0);
    cfg_ep_fini(&e);
    cfg_ep_init(&e);
    set_ok(&e, "url", "ws://[::1]:8080/");
    set_ok(&e, "resolve", "[::1]:8080:127.0.0.1");
    assert_int_equal(cfg_ep_finish(&e, &c.defaults, err, sizeof err), 0);
    cfg_ep_fini(&e);

    /* values put into the struct by hand are checked too */
    cfg_ep_init(&e);
    e.name = strdup("h");
    set_ok(&e, "url", "ws://example.com/");
    e.health = strdup("ws://example.com/health");
    e.set |= CFG_SET_HEALTH;
    finish_bad(&e, NULL, "endpoint 'h': health must be an http:// or https:// URL");
    cfg_ep_fini(&e);

    /* an all-zero `from` has no connection count and no timeout */
    cfg_ep_init(&zero);
    cfg_ep_init(&e);
    e.name = strdup("z");
    set_ok(&e, "url", "ws://example.com/");
    finish_bad(&e, &zero, "endpoint 'z': connections must be 1 to 10000");
    set_ok(&e, "connections", "2");
    finish_bad(&e, &zero, "endpoint 'z': timeout must be greater than 0");
    cfg_ep_fini(&e);
    cfg_ep_fini(&zero);
    cfg_fini(&c);
}

/* ---- the INI file -------------------------------------------------------------------- */

static const char design_example[] = "[defaults]\n"
                                     "ping = 5s\n"
                                     "\n"
                                     "[alb]\n"
                                     "url = wss://ws.example.com/demo\n"
                                     "group = demo\n"
                                     "via = lb\n"
                                     "expect_message = test\n"
                                     "\n"
                                     "[ec2-direct]\n"
                                     "url = wss://ws.example.com:3000/demo\n"
                                     "resolve = ws.example.com:3000:203.0.113.7\n"
                                     "group = demo\n"
                                     "via = direct\n"
                                     "health = https://ws.example.com:3000/health\n";

static void test_load_design_example(void **state)
{
    struct cfg c;
    (void)state;

    load_ok(&c, design_example);
    assert_int_equal(c.defaults.ping_ms, 5000);
    assert_int_equal(c.defaults.set, CFG_SET_PING);
    assert_int_equal(c.n_eps, 2);

    assert_string_equal(c.eps[0].name, "alb");
    assert_string_equal(c.eps[0].url, "wss://ws.example.com/demo");
    assert_int_equal(c.eps[0].u.port, 443);
    assert_string_equal(c.eps[0].group, "demo");
    assert_int_equal(c.eps[0].via, CFG_VIA_LB);
    assert_string_equal(c.eps[0].expect_message, "test");
    assert_false(c.eps[0].set & CFG_SET_PING);

    assert_string_equal(c.eps[1].name, "ec2-direct");
    assert_int_equal(c.eps[1].u.port, 3000);
    assert_string_equal(c.eps[1].resolve, "ws.example.com:3000:203.0.113.7");
    assert_int_equal(c.eps[1].via, CFG_VIA_DIRECT);
    assert_string_equal(c.eps[1].health, "https://ws.example.com:3000/health");

    for (size_t i = 0; i < c.n_eps; i++) {
        if (cfg_ep_finish(&c.eps[i], &c.defaults, err, sizeof err) != 0)
            fail_msg("finish: %s", err);
        assert_int_equal(c.eps[i].ping_ms, 5000);
        assert_int_equal(c.eps[i].timeout_ms, CFG_DEFAULT_TIMEOUT_MS);
        assert_int_equal(c.eps[i].connections, 1);
    }
    cfg_fini(&c);
}

static void test_load_inheritance(void **state)
{
    struct cfg c;
    (void)state;

    load_ok(&c, "[defaults]\n"
                "ping = 2s\n"
                "header = X-Team: core\n"
                "header = Authorization: Bearer abc\n"
                "timeout = 3s\n"
                "insecure = yes\n"
                "group = g1\n"
                "\n"
                "[own-headers]\n"
                "url = ws://example.com/a\n"
                "header = X-Only: me\n"
                "ping = 0\n"
                "\n"
                "[inherits]\n"
                "url = ws://example.com/b\n"
                "connections = 4\n");
    assert_int_equal(c.n_eps, 2);
    for (size_t i = 0; i < c.n_eps; i++)
        assert_int_equal(cfg_ep_finish(&c.eps[i], &c.defaults, err, sizeof err), 0);

    assert_int_equal(c.eps[0].n_headers, 1);
    assert_string_equal(c.eps[0].headers[0], "X-Only: me");
    assert_int_equal(c.eps[0].ping_ms, 0);
    assert_int_equal(c.eps[0].timeout_ms, 3000);
    assert_true(c.eps[0].insecure);
    assert_string_equal(c.eps[0].group, "g1");
    assert_int_equal(c.eps[0].connections, 1);

    assert_int_equal(c.eps[1].n_headers, 2);
    assert_string_equal(c.eps[1].headers[0], "X-Team: core");
    assert_string_equal(c.eps[1].headers[1], "Authorization: Bearer abc");
    assert_int_equal(c.eps[1].ping_ms, 2000);
    assert_int_equal(c.eps[1].connections, 4);
    assert_int_equal(c.eps[1].expect_within_ms, CFG_DEFAULT_EXPECT_WITHIN_MS);
    cfg_fini(&c);
}

static void test_load_syntax_variants(void **state)
{
    struct cfg c;
    (void)state;

    /* BOM, CRLF, comments, indentation, blank lines, '=' and ';' inside values, no final
     * newline, a 64-character name, [DEFAULTS] in capitals */
    load_ok(&c, "\xef\xbb\xbf; comment\r\n"
                "# another\r\n"
                "  [ DEFAULTS ]  \r\n"
                "\tping=1s\r\n"
                "\r\n"
                "[a.b_c-1]\r\n"
                "   url   =   ws://example.com/?a=b   \r\n"
                "send = x=1; y=2 # not a comment\r\n"
                "header = Cookie: a=1; b=2\r\n"
                "[aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n"
                "url = ws://example.com/");
    assert_int_equal(c.defaults.ping_ms, 1000);
    assert_int_equal(c.n_eps, 2);
    assert_string_equal(c.eps[0].name, "a.b_c-1");
    assert_string_equal(c.eps[0].url, "ws://example.com/?a=b");
    assert_string_equal(c.eps[0].send, "x=1; y=2 # not a comment");
    assert_string_equal(c.eps[0].headers[0], "Cookie: a=1; b=2");
    assert_int_equal(strlen(c.eps[1].name), 64);
    cfg_fini(&c);

    /* an empty file, and one of comments only */
    load_ok(&c, "");
    assert_int_equal(c.n_eps, 0);
    cfg_fini(&c);
    load_ok(&c, "; nothing\n\n# here\n");
    assert_int_equal(c.n_eps, 0);
    assert_int_equal(c.defaults.set, 0);
    cfg_fini(&c);
}

static void test_load_errors(void **state)
{
    static const struct {
        const char *text, *suffix;
    } cases[] = {
        {"[defaults]\nping = 5s\n[alb]\nurl = wss://ws.example.com/\npong = 1\n",
         ":5: key 'pong': unknown key"},
        {"[defaults]\nURL = ws://example.com/\n", ":2: key 'URL': unknown key"},
        {"ping = 5s\n", ":1: key 'ping': outside any section (put it under [defaults] or [NAME])"},
        {"[a]\nurl = ws://example.com/\n\n[b]\nurl = ws://example.com/\n[a]\nurl = ws://e.com/\n",
         ":6: duplicate section [a] (first on line 1)"},
        {"[a]\nurl = ws://example.com/\n[A]\nurl = ws://example.com/\n",
         ":3: duplicate section [A] (first on line 1)"},
        {"[defaults]\n[defaults]\n", ":2: duplicate section [defaults] (first on line 1)"},
        {"[alb]\ngroup = demo\n[b]\nurl = ws://example.com/\n", ":1: endpoint [alb] has no url"},
        {"[b]\nurl = ws://example.com/\n\n[alb]\n", ":4: endpoint [alb] has no url"},
        {"[defaults]\nurl = ws://example.com/\n", ":2: key 'url': not allowed in [defaults]"},
        {"[a]\nurl = ws://example.com/\nping = 5s\nping = 6s\n",
         ":4: key 'ping': already set on line 3"},
        {"[a]\nurl = ws://example.com/\nurl = ws://example.com/x\n",
         ":3: key 'url': already set on line 2"},
        {"[a]\nurl = ws://example.com/\nping = 5x\n",
         ":3: key 'ping': bad duration '5x': expected a number and a unit: 500ms, 5s, 2m, 1h"},
        {"[a]\nurl = ws//x\n", ":2: key 'url': bad URL 'ws//x': expected ws:// or wss://"},
        {"[a]\nurl = ws://example.com/\nconnections = 0\n",
         ":3: key 'connections': bad number '0': expected 1 to 10000"},
        {"[a]\nurl = ws://example.com/\ntimeout = 0\n",
         ":3: key 'timeout': bad duration '0': must be greater than 0"},
        {"[a]\nurl = ws://example.com/\ninsecure = maybe\n",
         ":3: key 'insecure': bad boolean 'maybe': expected true, false, yes, no, 1 or 0"},
        {"[a]\nurl = ws://example.com/\nvia = both\n",
         ":3: key 'via': bad value 'both': expected lb or direct"},
        {"[a]\nurl = ws://example.com/\nheader =\n", ":3: key 'header': empty value"},
        {"[a]\nurl = ws://example.com/\nheader = Upgrade: h2c\n",
         ":3: key 'header': header 'Upgrade' is part of the handshake"},
        {"[a]\nurl = ws://example.com/\nsend = a\x01z\n",
         ":3: key 'send': control character \\x01 in value"},
        {"[a]\nurl = ws://example.com/\nsend = \xff\xfe\n", ":3: key 'send': not valid UTF-8"},
        {"[a]\nurl = ws://example.com/\nhealth = wss://example.com/h\n",
         ":3: key 'health': bad URL 'wss://example.com/h': expected http:// or https://"},
        {"[a]\nresolve = other.example.com:443:203.0.113.7\nurl = wss://ws.example.com/\n",
         ":2: key 'resolve': 'other.example.com:443:203.0.113.7' does not match the URL's host "
         "and port (ws.example.com:443)"},
        {"[a]\nurl = wss://ws.example.com/\nresolve = ws.example.com:80:203.0.113.7\n[b]\n",
         ":3: key 'resolve': 'ws.example.com:80:203.0.113.7' does not match the URL's host and "
         "port (ws.example.com:443)"},
        {"[a b]\n", ":1: bad section name [a b]: use 1 to 64 of A-Z a-z 0-9 . _ -"},
        {"[]\n", ":1: bad section name []: use 1 to 64 of A-Z a-z 0-9 . _ -"},
        {"[caf\xc3\xa9]\n", ":1: bad section name [caf\xc3\xa9]: use 1 to 64 of A-Z a-z 0-9 . _ -"},
        {"[abc\n", ":1: expected ']' at the end of the section line"},
        {"[abc] trailing\n", ":1: expected ']' at the end of the section line"},
        {"[a]\nurl = ws://example.com/\njust some words\n",
         ":3: expected '[section]' or 'key = value'"},
        {"[a]\nurl: ws://example.com/\n", ":2: expected '[section]' or 'key = value'"},
        {"[a]\n= value\n", ":2: expected a key before '='"},
        {"[a]\nk\x01y = 1\n", ":2: control character \\x01 (not a text file?)"},
        {"[a\x1b]\n", ":1: control character \\x1b (not a text file?)"},
        {"[a]\nurl = ws://example.com/\n\x1b[2J\n",
         ":3: control character \\x1b (not a text file?)"},
        {"[a]\n\xc0\xaf = 1\n", ":2: not valid UTF-8 (not a text file?)"},
        {"[a]\nurl = ws://example.com/\r\rping = 1s\n",
         ":2: key 'url': bad URL 'ws://example.com/\\x0d\\x0dping = 1s': control character "
         "\\x0d"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        print_message("# case %zu\n", i);
        load_bad(cases[i].text, cases[i].suffix);
    }
}

static void test_load_crlf_injection(void **state)
{
    (void)state;

    /* a lone CR inside a header value must not split it into two headers */
    load_bad("[a]\nurl = ws://example.com/\nheader = X-A: b\rEvil: 1\n",
             ":3: key 'header': bad header 'X-A: b\\x0dEvil: 1': CR or LF in value");
    load_bad("[a]\nurl = ws://example.com/\nheader = X-A: b\r\rHost: evil.example.com\r\n",
             ":3: key 'header': bad header 'X-A: b\\x0d\\x0dHost: evil.example.com': CR or LF "
             "in value");
    /* an indented line is not a continuation of the previous value */
    load_bad("[a]\nurl = ws://example.com/\nheader = X-A: b\n  Evil: 1\n",
             ":4: expected '[section]' or 'key = value'");
}

static void test_load_long_lines(void **state)
{
    size_t n = 10240;
    char *text = malloc(n + 200), want[CFG_ERR_MAX], path[64];
    struct cfg c;
    int len;
    (void)state;

    /* a 10 KB header line */
    len = snprintf(text, n + 200, "[a]\nurl = ws://example.com/\nheader = X-Big: ");
    memset(text + len, 'A', 10000);
    strcpy(text + len + 10000, "\n");
    load_bad(text, ":3: key 'header': value too long (10007 bytes, at most 4096)");

    /* a 10 KB line of nothing in particular */
    len = snprintf(text, n + 200, "[a]\n");
    memset(text + len, 'k', n);
    strcpy(text + len + n, "\nurl = ws://example.com/\n");
    load_bad(text, ":2: expected '[section]' or 'key = value'");

    /* a 10 KB key: the message quotes only its start */
    len = snprintf(text, n + 200, "[a]\n");
    memset(text + len, 'k', n);
    strcpy(text + len + n, " = 1\n");
    snprintf(want, sizeof want, ":2: key '%.64s...': unknown key", text + len);
    load_bad(text, want);

    /* a 10 KB section name */
    text[0] = '[';
    memset(text + 1, 's', n);
    strcpy(text + 1 + n, "]\n");
    snprintf(want, sizeof want, ":1: bad section name [%.64s...]: use 1 to 64 of A-Z a-z 0-9 . _ -",
             text + 1);
    load_bad(text, want);

    /* a 10 KB URL */
    len = snprintf(text, n + 200, "[a]\nurl = ws://example.com/");
    memset(text + len, 'p', n);
    strcpy(text + len + n, "\n");
    cfg_init(&c);
    assert_int_equal(load_text(&c, text, strlen(text), path, sizeof path), -EINVAL);
    assert_non_null(strstr(err, ":2: key 'url': bad URL 'ws://example.com/ppp"));
    assert_non_null(strstr(err, "...': path longer than 2046 characters"));
    cfg_fini(&c);

    /* a 10 KB message to send is allowed */
    len = snprintf(text, n + 200, "[a]\nurl = ws://example.com/\nsend = ");
    memset(text + len, 'm', n);
    strcpy(text + len + n, "\n");
    load_ok(&c, text);
    assert_int_equal(strlen(c.eps[0].send), n);
    cfg_fini(&c);
    free(text);
}

static void test_load_binary_junk(void **state)
{
    char junk[8192], path[64];
    unsigned x = 2024;
    struct cfg c;
    (void)state;

    for (int round = 0; round < 64; round++) {
        size_t n = 64 + (size_t)round * 97;
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            junk[i] = (char)(1 + (x >> 16) % 255); /* no NUL bytes */
            if (round % 2 && (x >> 8) % 23 == 0)
                junk[i] = "\n=[]"[(x >> 4) % 4]; /* some INI-ish structure */
        }
        if (round % 4 == 0)
            memcpy(junk, "[a]\n", 4);
        cfg_init(&c);
        if (load_text(&c, junk, n, path, sizeof path) == 0)
            fail_msg("round %d: junk accepted", round);
        if (strncmp(err, path, strlen(path)) != 0 || err[strlen(path)] != ':')
            fail_msg("round %d: \"%s\" does not name the file", round, err);
        assert_safe_text(err);
        assert_int_equal(c.n_eps, 0);
        cfg_fini(&c);
    }

    /* the first junk line is reported with its number */
    load_bad("[a]\nurl = ws://example.com/\n\x89PNG\x0d\x0a\x1a\x0a",
             ":3: not valid UTF-8 (not a text file?)");
}

static void test_load_nul_byte(void **state)
{
    static const char text[] = "[a]\nurl = ws://example.com/\0\nping = 1s\n";
    (void)state;

    load_bad_n(text, sizeof text - 1, ":2: NUL byte (not a text file)");
    load_bad_n("\0", 1, ":1: NUL byte (not a text file)");
}

static void test_load_file_size(void **state)
{
    size_t max = 1024 * 1024;
    char *text = malloc(max + 2), path[64], want[CFG_ERR_MAX];
    struct cfg c;
    (void)state;

    /* exactly 1 MiB of comments is read; one byte more is refused */
    memset(text, '#', max);
    for (size_t i = 99; i < max; i += 100)
        text[i] = '\n';
    cfg_init(&c);
    assert_int_equal(load_text(&c, text, max, path, sizeof path), 0);
    cfg_fini(&c);

    text[max] = '\n';
    cfg_init(&c);
    assert_int_equal(load_text(&c, text, max + 1, path, sizeof path), -EFBIG);
    snprintf(want, sizeof want, "%s: larger than 1 MiB", path);
    assert_string_equal(err, want);
    cfg_fini(&c);
    free(text);
}

static void test_load_unreadable(void **state)
{
    struct cfg c;
    (void)state;

    cfg_init(&c);
    assert_int_equal(cfg_load_file(&c, "/tmp/wsmon-test-cfg-does-not-exist/x.ini", err, sizeof err),
                     -ENOENT);
    assert_string_equal(err, "/tmp/wsmon-test-cfg-does-not-exist/x.ini: No such file or "
                             "directory");
    assert_int_equal(cfg_load_file(&c, "/tmp", err, sizeof err), -EISDIR);
    assert_string_equal(err, "/tmp: Is a directory");
    /* a hostile file name is shown escaped */
    assert_int_equal(cfg_load_file(&c, "/tmp/wsmon-nope-\x1b[31m\n.ini", err, sizeof err), -ENOENT);
    assert_string_equal(err, "/tmp/wsmon-nope-\\x1b[31m\\x0a.ini: No such file or directory");
    assert_int_equal(cfg_load_file(&c, NULL, err, sizeof err), -EINVAL);
    assert_int_equal(c.n_eps, 0);
    cfg_fini(&c);
}

static void test_load_atomic(void **state)
{
    struct cfg c;
    char path[64];
    static const char text[] = "[defaults]\nping = 1s\n"
                               "[a]\nurl = ws://example.com/a\n"
                               "[b]\nurl = ws://example.com/b\nvia = sideways\n";
    (void)state;

    cfg_init(&c);
    assert_int_equal(cfg_add_url(&c, "ws://example.com/cli", err, sizeof err), 0);
    assert_int_equal(load_text(&c, text, strlen(text), path, sizeof path), -EINVAL);
    assert_int_equal(c.n_eps, 1);
    assert_string_equal(c.eps[0].url, "ws://example.com/cli");
    assert_int_equal(c.defaults.ping_ms, CFG_DEFAULT_PING_MS);
    assert_int_equal(c.defaults.set, 0);
    cfg_fini(&c);
}

static void test_load_defaults_precedence(void **state)
{
    struct cfg c;
    char path[64];
    static const char text[] = "[defaults]\nping = 5s\ntimeout = 3s\nheader = X-File: 1\n"
                               "[a]\nurl = ws://example.com/a\n";
    (void)state;

    /* keys already given (by the command line) win over the file's [defaults] */
    cfg_init(&c);
    set_ok(&c.defaults, "ping", "9s");
    set_ok(&c.defaults, "header", "X-Cli: 1");
    assert_int_equal(cfg_add_url(&c, "ws://example.com/cli", err, sizeof err), 0);
    assert_int_equal(load_text(&c, text, strlen(text), path, sizeof path), 0);
    assert_int_equal(c.defaults.ping_ms, 9000);
    assert_int_equal(c.defaults.timeout_ms, 3000);
    assert_true(c.defaults.set & CFG_SET_TIMEOUT);
    assert_int_equal(c.defaults.n_headers, 1);
    assert_string_equal(c.defaults.headers[0], "X-Cli: 1");
    assert_int_equal(c.n_eps, 2);
    assert_string_equal(c.eps[0].url, "ws://example.com/cli");
    assert_string_equal(c.eps[1].name, "a");
    for (size_t i = 0; i < c.n_eps; i++) {
        assert_int_equal(cfg_ep_finish(&c.eps[i], &c.defaults, err, sizeof err), 0);
        assert_int_equal(c.eps[i].timeout_ms, 3000);
    }
    cfg_fini(&c);
}

static void test_load_too_many_endpoints(void **state)
{
    size_t cap = 40 * 10001 + 64, len = 0;
    char *text = malloc(cap);
    (void)state;

    for (int i = 0; i <= 10000; i++)
        len += (size_t)snprintf(text + len, cap - len, "[e%d]\nurl = ws://example.com/\n", i);
    load_bad(text, ":20001: too many endpoints (at most 10000)");
    free(text);
}

static void test_load_example_ini(void **state)
{
    const char *srcdir = getenv("WSMON_SRCDIR");
    char path[4096];
    struct cfg c;
    int rc;
    (void)state;

    if (!srcdir)
        srcdir = getenv("srcdir");
    snprintf(path, sizeof path, "%s/data/example.ini", srcdir ? srcdir : ".");
    if (access(path, R_OK) != 0)
        skip();
    cfg_init(&c);
    rc = cfg_load_file(&c, path, err, sizeof err);
    if (rc != 0)
        fail_msg("%s", err);
    assert_true(c.n_eps >= 2);
    for (size_t i = 0; i < c.n_eps; i++)
        if (cfg_ep_finish(&c.eps[i], &c.defaults, err, sizeof err) != 0)
            fail_msg("%s", err);
    cfg_fini(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_defaults),
        cmocka_unit_test(test_duration_good),
        cmocka_unit_test(test_duration_bad),
        cmocka_unit_test(test_header_good),
        cmocka_unit_test(test_header_bad),
        cmocka_unit_test(test_resolve_good),
        cmocka_unit_test(test_resolve_bad),
        cmocka_unit_test(test_set_every_key),
        cmocka_unit_test(test_set_errors),
        cmocka_unit_test(test_set_limits),
        cmocka_unit_test(test_add_url),
        cmocka_unit_test(test_finish_from_defaults),
        cmocka_unit_test(test_finish_from_endpoint),
        cmocka_unit_test(test_finish_errors),
        cmocka_unit_test(test_load_design_example),
        cmocka_unit_test(test_load_inheritance),
        cmocka_unit_test(test_load_syntax_variants),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_load_crlf_injection),
        cmocka_unit_test(test_load_long_lines),
        cmocka_unit_test(test_load_binary_junk),
        cmocka_unit_test(test_load_nul_byte),
        cmocka_unit_test(test_load_file_size),
        cmocka_unit_test(test_load_unreadable),
        cmocka_unit_test(test_load_atomic),
        cmocka_unit_test(test_load_defaults_precedence),
        cmocka_unit_test(test_load_too_many_endpoints),
        cmocka_unit_test(test_load_example_ini),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
