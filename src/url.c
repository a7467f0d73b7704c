/* SPDX-License-Identifier: MIT */
/* WebSocket URL parsing, the Host header text, and masking of secrets for display. */
#include "config.h"

#include "url.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Bytes of the URL quoted in an error message: enough to recognise it, short enough to keep
 * the reason on the same line of an 80-column terminal. */
#define URL_ECHO_MAX        80
#define URL_SCHEME_ECHO_MAX 16
#define URL_LABEL_MAX       63
#define URL_MASK_NAME_MAX   128

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int to_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

/* Copy at most URL_ECHO_MAX bytes of s into out, every byte that is not printable ASCII as
 * \xNN (C1 controls and broken UTF-8 are as dangerous on a terminal as C0 ones). */
static void escape(const char *s, char *out, size_t outlen)
{
    size_t o = 0, i;

    for (i = 0; s[i] && i < URL_ECHO_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (o + 5 >= outlen)
            break;
        if (c >= 0x20 && c < 0x7f)
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
    }
    if (s[i] && o + 4 < outlen) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

static int fail(const char *s, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(const char *s, char *err, size_t errlen, const char *fmt, ...)
{
    char shown[URL_ECHO_MAX * 4 + 8];
    char why[256];
    va_list ap;

    if (!err || errlen == 0)
        return -EINVAL;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    escape(s, shown, sizeof shown);
    snprintf(err, errlen, "bad URL '%s': %s", shown, why);
    return -EINVAL;
}

/* 1..65535 from exactly the n bytes at p, else -1. */
static int parse_port(const char *p, size_t n)
{
    int v = 0;

    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(p[i]))
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return (v >= 1 && v <= 65535) ? v : -1;
}

/* Check and copy a registered name (DNS name or IPv4 literal) of n bytes into u->host. */
static int parse_reg_name(const char *s, const char *h, size_t n, struct url *u, char *err,
                          size_t errlen)
{
    size_t label = 0;
    unsigned char in4[4];

    if (n == 0)
        return fail(s, err, errlen, "empty host");
    if (n >= URL_HOST_MAX)
        return fail(s, err, errlen, "host name longer than %d characters", URL_HOST_MAX - 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c >= 0x80)
            return fail(s, err, errlen, "non-ASCII host name: write its xn-- (punycode) form");
        if (c == '.') {
            if (label == 0)
                return fail(s, err, errlen, "empty label in host name");
            label = 0;
        } else if (is_alpha(c) || is_digit(c) || c == '-' || c == '_') {
            if (++label > URL_LABEL_MAX)
                return fail(s, err, errlen, "host name label longer than %d characters",
                            URL_LABEL_MAX);
        } else {
            return fail(s, err, errlen, "bad character '%c' in host", c);
        }
        u->host[i] = (char)to_lower(c);
    }
    u->host[n] = '\0';
    if (inet_pton(AF_INET, u->host, in4) == 1) {
        u->host_is_ip = true;
    } else if (strspn(u->host, "0123456789.") == n) {
        /* getaddrinfo would read "10.1" as 10.0.0.1: refuse to guess. */
        return fail(s, err, errlen, "bad IPv4 address");
    }
    return 0;
}

int url_parse(const char *s, bool http_ok, struct url *u, char *err, size_t errlen)
{
    const char *expect =
        http_ok ? "expected ws://, wss://, http:// or https://" : "expected ws:// or wss://";
    const char *p, *auth, *auth_end, *port_s = NULL, *rest;
    size_t n;
    int rc;

    memset(u, 0, sizeof *u);
    if (!s)
        s = "";
    for (p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f)
            return fail(s, err, errlen, "control character \\x%02x", c);
        if (c == ' ')
            return fail(s, err, errlen, "spaces are not allowed (write %%20)");
    }
    if (!*s)
        return fail(s, err, errlen, "empty URL");

    /* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), compared case-insensitively */
    n = 0;
    if (is_alpha((unsigned char)s[0]))
        while (is_alpha((unsigned char)s[n]) || is_digit((unsigned char)s[n]) || s[n] == '+' ||
               s[n] == '-' || s[n] == '.')
            n++;
    if (n == 0 || strncmp(s + n, "://", 3) != 0)
        return fail(s, err, errlen, "%s", expect);
    if (n == 2 && strncasecmp(s, "ws", 2) == 0) {
        u->websocket = true;
    } else if (n == 3 && strncasecmp(s, "wss", 3) == 0) {
        u->websocket = u->tls = true;
    } else if (n == 4 && strncasecmp(s, "http", 4) == 0 && http_ok) {
        u->websocket = false;
    } else if (n == 5 && strncasecmp(s, "https", 5) == 0 && http_ok) {
        u->tls = true;
    } else if ((n == 4 && strncasecmp(s, "http", 4) == 0) ||
               (n == 5 && strncasecmp(s, "https", 5) == 0)) {
        return fail(s, err, errlen, "%s", expect);
    } else {
        int shown = n > URL_SCHEME_ECHO_MAX ? URL_SCHEME_ECHO_MAX : (int)n;
        return fail(s, err, errlen, "unsupported scheme '%.*s': %s", shown, s, expect);
    }

    auth = s + n + 3;
    auth_end = auth + strcspn(auth, "/?#");
    if (strchr(s, '#'))
        return fail(s, err, errlen, "fragments (#...) are not allowed");
    if (memchr(auth, '@', (size_t)(auth_end - auth)))
        return fail(s, err, errlen,
                    "user info (user:password@) is not allowed; send credentials in a header");
    if (auth == auth_end)
        return fail(s, err, errlen, "empty host");

    if (*auth == '[') {
        const char *close = memchr(auth, ']', (size_t)(auth_end - auth));
        unsigned char in6[16];
        if (!close)
            return fail(s, err, errlen, "missing ']' after the IPv6 address");
        n = (size_t)(close - auth - 1);
        if (n == 0)
            return fail(s, err, errlen, "empty host");
        if (n >= INET6_ADDRSTRLEN)
            return fail(s, err, errlen, "bad IPv6 address");
        for (size_t i = 0; i < n; i++)
            u->host[i] = (char)to_lower((unsigned char)auth[1 + i]);
        u->host[n] = '\0';
        if (inet_pton(AF_INET6, u->host, in6) != 1)
            return fail(s, err, errlen, "bad IPv6 address");
        u->host_is_ip = u->host_is_ipv6 = true;
        if (close + 1 < auth_end) {
            if (close[1] != ':')
                return fail(s, err, errlen, "unexpected text after ']'");
            port_s = close + 2;
        }
    } else {
        const char *colon = memchr(auth, ':', (size_t)(auth_end - auth));
        if (colon && memchr(colon + 1, ':', (size_t)(auth_end - colon - 1)))
            return fail(s, err, errlen, "IPv6 addresses go in brackets: ws://[::1]:8080/");
        rc = parse_reg_name(s, auth, (size_t)((colon ? colon : auth_end) - auth), u, err, errlen);
        if (rc < 0)
            return rc;
        if (colon)
            port_s = colon + 1;
    }

    if (port_s) {
        if (port_s == auth_end)
            return fail(s, err, errlen, "missing port number after ':'");
        u->port = parse_port(port_s, (size_t)(auth_end - port_s));
        if (u->port < 0)
            return fail(s, err, errlen, "port must be a number from 1 to 65535");
        u->port_explicit = true;
    } else {
        u->port = u->tls ? 443 : 80;
    }

    rest = auth_end;
    n = strlen(rest);
    if (n + 1 >= URL_PATH_MAX)
        return fail(s, err, errlen, "path longer than %d characters", URL_PATH_MAX - 2);
    if (n == 0)
        strcpy(u->path, "/");
    else if (*rest == '?')
        snprintf(u->path, sizeof u->path, "/%s", rest);
    else
        memcpy(u->path, rest, n + 1);
    return 0;
}

int url_host_header(const struct url *u, char *buf, size_t len)
{
    bool dflt = u->port == (u->tls ? 443 : 80);
    const char *l = u->host_is_ipv6 ? "[" : "", *r = u->host_is_ipv6 ? "]" : "";
    int n;

    if (dflt)
        n = snprintf(buf, len, "%s%s%s", l, u->host, r);
    else
        n = snprintf(buf, len, "%s%s%s:%d", l, u->host, r, u->port);
    if (n < 0 || (size_t)n >= len) {
        if (len)
            buf[0] = '\0';
        return -ENOSPC;
    }
    return n;
}

/* Output that stops, NUL-terminated, when buf is full. */
struct mask_out {
    char *buf;
    size_t len;
    size_t pos;
};

static void put(struct mask_out *o, const char *s, size_t n)
{
    size_t room = o->len - 1 - o->pos;
    if (n > room)
        n = room;
    memcpy(o->buf + o->pos, s, n);
    o->pos += n;
    o->buf[o->pos] = '\0';
}

static int hexval(int c)
{
    if (is_digit(c))
        return c - '0';
    c = to_lower(c);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* Whether a query parameter name (percent-decoded, any case) looks like a credential. */
static bool secret_name(const char *name, size_t n)
{
    static const char *const words[] = {
        "token", "key",       "password", "passwd",  "pwd", "secret",
        "auth",  "signature", "sig",      "session", "jwt", "credential",
    };
    char low[URL_MASK_NAME_MAX + 1];
    size_t o = 0;

    for (size_t i = 0; i < n && o < URL_MASK_NAME_MAX; i++) {
        int c = (unsigned char)name[i];
        if (c == '%' && i + 2 < n && hexval((unsigned char)name[i + 1]) >= 0 &&
            hexval((unsigned char)name[i + 2]) >= 0) {
            c = hexval((unsigned char)name[i + 1]) * 16 + hexval((unsigned char)name[i + 2]);
            i += 2;
        }
        low[o++] = (char)to_lower(c);
    }
    low[o] = '\0';
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++)
        if (strstr(low, words[w]))
            return true;
    return false;
}

char *url_mask_secrets(const char *s, char *buf, size_t len)
{
    struct mask_out o = {buf, len, 0};
    const char *p, *scheme_end;
    size_t n;

    if (!buf || len == 0)
        return buf;
    buf[0] = '\0';
    if (!s)
        return buf;
    p = s;

    /* A password in user info (never accepted by url_parse, but a Location header or a
     * health URL shown back may carry one). */
    scheme_end = strstr(s, "://");
    if (scheme_end && strcspn(s, "/?#") > (size_t)(scheme_end - s)) {
        const char *auth = scheme_end + 3;
        const char *auth_end = auth + strcspn(auth, "/?#");
        const char *at = NULL, *colon;
        for (const char *q = auth; q < auth_end; q++)
            if (*q == '@')
                at = q;
        colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon) {
            put(&o, s, (size_t)(colon + 1 - s));
            put(&o, "***", 3);
            p = at;
        }
    }

    n = strcspn(p, "?#");
    put(&o, p, n);
    p += n;
    /* p is at '?', '#' or a parameter separator '&': name[=value] pairs follow. */
    while (*p) {
        const char *name, *val;
        put(&o, p, 1);
        p++;
        name = p;
        n = strcspn(p, "=&#");
        put(&o, p, n);
        p += n;
        if (*p != '=')
            continue;
        put(&o, "=", 1);
        val = ++p;
        n = strcspn(p, "&#");
        if (n > 0 && secret_name(name, (size_t)(val - 1 - name)))
            put(&o, "***", 3);
        else
            put(&o, val, n);
        p += n;
    }
    return buf;
}
