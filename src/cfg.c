/* SPDX-License-Identifier: MIT */
/* Endpoint configuration: the INI file of DESIGN section 6, per-key setters, value parsers. */
#include "config.h"

#include "cfg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "xmem.h"

/*
 * The INI file is parsed here by hand rather than with libinih. Debian's libinih 55 is built
 * without INI_HANDLER_LINENO, so its handler never learns the line number our errors must
 * name, and it has limits that turn hostile input into silent misreads: section names are cut
 * to 49 bytes, a line longer than 200 bytes is split and its tail parsed as a new
 * "key = value", an indented line becomes a second value of the previous key, and an empty
 * [section] never reaches the handler (so "endpoint without url" and duplicate sections
 * cannot be seen). The format accepted is the subset DESIGN section 6 uses: whole-line
 * comments starting with ';' or '#', [section] lines, key = value lines; no inline comments
 * (a ';' inside a value is part of the value) and no continuation lines.
 */

#define CFG_FILE_MAX        (1024 * 1024)
#define CFG_MAX_ENDPOINTS   10000
#define CFG_NAME_MAX        64 /* endpoint (section) and group names */
#define CFG_HEADER_NAME_MAX 64
#define CFG_VALUE_MAX       4096  /* most values: paths, header lines, origins */
#define CFG_TEXT_MAX        65536 /* send and expect_message */
#define CFG_ECHO_MAX        64    /* bytes of a value quoted in an error message */
#define CFG_PATH_ECHO_MAX   256
#define CFG_DURATION_MAX_MS (30LL * 24 * 3600 * 1000)

enum cfg_key {
    K_URL,
    K_HEADER,
    K_ORIGIN,
    K_PROTOCOL,
    K_RESOLVE,
    K_CACERT,
    K_INSECURE,
    K_PING,
    K_EXPECT,
    K_EXPECT_WITHIN,
    K_SEND,
    K_CONNECTIONS,
    K_HEALTH,
    K_TIMEOUT,
    K_GROUP,
    K_VIA,
    K_BACKEND_HEADER,
    K_PROXY,
    K_COUNT
};

static const struct {
    const char *name;
    unsigned flag;
    bool repeatable;
} cfg_keys[K_COUNT] = {
    [K_URL] = {"url", 0, false},
    [K_HEADER] = {"header", CFG_SET_HEADERS, true},
    [K_ORIGIN] = {"origin", CFG_SET_ORIGIN, false},
    [K_PROTOCOL] = {"protocol", CFG_SET_PROTOCOLS, true},
    [K_RESOLVE] = {"resolve", CFG_SET_RESOLVE, false},
    [K_CACERT] = {"cacert", CFG_SET_CACERT, false},
    [K_INSECURE] = {"insecure", CFG_SET_INSECURE, false},
    [K_PING] = {"ping", CFG_SET_PING, false},
    [K_EXPECT] = {"expect_message", CFG_SET_EXPECT, false},
    [K_EXPECT_WITHIN] = {"expect_within", CFG_SET_EXPECT_WITHIN, false},
    [K_SEND] = {"send", CFG_SET_SEND, false},
    [K_CONNECTIONS] = {"connections", CFG_SET_CONNECTIONS, false},
    [K_HEALTH] = {"health", CFG_SET_HEALTH, false},
    [K_TIMEOUT] = {"timeout", CFG_SET_TIMEOUT, false},
    [K_GROUP] = {"group", CFG_SET_GROUP, false},
    [K_VIA] = {"via", CFG_SET_VIA, false},
    [K_BACKEND_HEADER] = {"backend_header", CFG_SET_BACKEND_HEADER, false},
    [K_PROXY] = {"proxy", CFG_SET_PROXY, false},
};

/* Headers the WebSocket handshake owns; a configured copy would break or fake it. */
static const struct {
    const char *name;
    const char *why;
} reserved_headers[] = {
    {"Host", "is set from the URL (use resolve to connect to another address)"},
    {"Origin", "is set with the origin key"},
    {"Sec-WebSocket-Protocol", "is set with the protocol key"},
    {"Upgrade", "is part of the handshake"},
    {"Connection", "is part of the handshake"},
    {"Sec-WebSocket-Key", "is part of the handshake"},
    {"Sec-WebSocket-Version", "is part of the handshake"},
    {"Sec-WebSocket-Extensions", "is part of the handshake"},
    {"Sec-WebSocket-Accept", "is part of the handshake"},
    {"Content-Length", "is part of the handshake"},
    {"Transfer-Encoding", "is part of the handshake"},
};

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int to_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

/* RFC 7230 tchar */
static bool is_tchar(int c)
{
    return is_alnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_space(int c)
{
    return c == ' ' || c == '\t';
}

/* Length (1..4) of the well-formed UTF-8 sequence at s and its code point, 0 if malformed
 * (overlong forms, surrogates and values above U+10FFFF included). */
static size_t utf8_seq(const unsigned char *s, unsigned long *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        if ((s[1] & 0xc0) != 0x80)
            return 0;
        *cp = ((s[0] & 0x1ful) << 6) | (s[1] & 0x3ful);
        return 2;
    }
    if (s[0] >= 0xe0 && s[0] <= 0xef) {
        if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
            return 0;
        *cp = ((s[0] & 0x0ful) << 12) | ((s[1] & 0x3ful) << 6) | (s[2] & 0x3ful);
        if (*cp < 0x800 || (*cp >= 0xd800 && *cp <= 0xdfff))
            return 0;
        return 3;
    }
    if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
            return 0;
        *cp = ((s[0] & 0x07ul) << 18) | ((s[1] & 0x3ful) << 12) | ((s[2] & 0x3ful) << 6) |
              (s[3] & 0x3ful);
        if (*cp < 0x10000 || *cp > 0x10ffff)
            return 0;
        return 4;
    }
    return 0;
}

/* Copy up to max bytes of s into out for an error message: printable ASCII and well-formed
 * printable UTF-8 as they are, everything else (C0, DEL, C1, broken UTF-8) as \xNN; "..."
 * when cut. */
static const char *esc(const char *s, size_t max, char *out, size_t outlen)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0;

    while (p[i] && i < max) {
        unsigned long cp;
        size_t n = utf8_seq(p + i, &cp);
        if (o + 8 >= outlen)
            break;
        if (n == 1 && cp >= 0x20 && cp < 0x7f) {
            out[o++] = (char)cp;
        } else if (n > 1 && cp >= 0xa0 && i + n <= max) {
            memcpy(out + o, p + i, n);
            o += n;
        } else {
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", p[i]);
            n = 1;
        }
        i += n;
    }
    if (p[i] && o + 4 < outlen) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

static int seterr(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int seterr(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;

    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* NULL if s is well-formed UTF-8 without control characters (tab allowed), else why not. */
static const char *text_problem(const char *s, char *why, size_t whylen)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        unsigned long cp;
        size_t n = utf8_seq(p, &cp);
        if (n == 0) {
            snprintf(why, whylen, "not valid UTF-8");
            return why;
        }
        if ((cp < 0x20 && cp != '\t') || cp == 0x7f) {
            snprintf(why, whylen, "control character \\x%02lx in value", cp);
            return why;
        }
        if (cp >= 0x80 && cp < 0xa0) {
            snprintf(why, whylen, "control character U+%04lX in value", cp);
            return why;
        }
        p += n;
    }
    return NULL;
}

/* ---- value parsers ------------------------------------------------------------------- */

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

static const char *parse_duration(const char *s, int64_t *out_ms)
{
    static const char *const syntax = "expected a number and a unit: 500ms, 5s, 2m, 1h";
    uint64_t whole = 0, frac = 0, frac_div = 1, mult, total;
    const char *p = s;

    if (!s || !*s)
        return "empty duration";
    if (*p == '-')
        return "must not be negative";
    if (!is_digit(*p))
        return syntax;
    while (is_digit(*p)) {
        whole = whole * 10 + (uint64_t)(*p++ - '0');
        if (whole > (uint64_t)CFG_DURATION_MAX_MS)
            return "longer than 30 days";
    }
    if (*p == '.') {
        p++;
        if (!is_digit(*p))
            return syntax;
        for (; is_digit(*p); p++) {
            if (frac_div < 1000000000) { /* finer than a nanosecond of an hour is noise */
                frac = frac * 10 + (uint64_t)(*p - '0');
                frac_div *= 10;
            }
        }
    }
    if (strcmp(p, "ms") == 0)
        mult = 1;
    else if (*p == '\0' || strcmp(p, "s") == 0)
        mult = 1000;
    else if (strcmp(p, "m") == 0)
        mult = 60 * 1000;
    else if (strcmp(p, "h") == 0)
        mult = 3600 * 1000;
    else
        return syntax;
    total = whole * mult + frac * mult / frac_div;
    if (total > (uint64_t)CFG_DURATION_MAX_MS)
        return "longer than 30 days";
    *out_ms = (int64_t)total;
    return NULL;
}

int cfg_parse_duration_ms(const char *s, int64_t *out_ms)
{
    return parse_duration(s, out_ms) ? -EINVAL : 0;
}

static const char *parse_header(const char *s, char *name, size_t name_len, const char **value)
{
    const char *v;
    size_t n = 0;

    while (is_tchar((unsigned char)s[n]))
        n++;
    if (s[n] != ':') {
        if (n == 0)
            return "expected 'Name: value'";
        if (is_space((unsigned char)s[n]))
            return "no space allowed before ':'";
        return s[n] ? "header names are letters, digits and !#$%&'*+-.^_`|~"
                    : "expected 'Name: value'";
    }
    if (n == 0)
        return "empty header name";
    if (n > CFG_HEADER_NAME_MAX)
        return "header name longer than 64 characters";
    if (n >= name_len)
        return "header name too long";
    v = s + n + 1;
    while (is_space((unsigned char)*v))
        v++;
    for (const unsigned char *q = (const unsigned char *)v; *q; q++) {
        if (*q == '\r' || *q == '\n')
            return "CR or LF in value";
        if ((*q < 0x20 && *q != '\t') || *q == 0x7f)
            return "control character in value";
    }
    memcpy(name, s, n);
    name[n] = '\0';
    *value = v;
    return NULL;
}

int cfg_parse_header(const char *s, char *name, size_t name_len, const char **value)
{
    return parse_header(s, name, name_len, value) ? -EINVAL : 0;
}

/* HOST:PORT at s: a DNS name or IPv4 literal, or an IPv6 literal in brackets. The host goes
 * lower-cased and without brackets into host; *endp is set just past the port digits. */
static const char *parse_hostport(const char *s, char *host, size_t host_len, int *port,
                                  const char **endp)
{
    const char *h = s, *he, *p;
    unsigned char bin[16];
    size_t n;

    if (*s == '[') {
        h = s + 1;
        he = strchr(h, ']');
        if (!he)
            return "missing ']' after the IPv6 address";
        p = he + 1;
    } else {
        he = h + strcspn(h, ":");
        p = he;
    }
    n = (size_t)(he - h);
    if (n == 0)
        return "empty host";
    if (n >= host_len || n >= URL_HOST_MAX)
        return "host name too long";
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)h[i];
        if (!(is_alnum(c) || c == '.' || c == '-' || c == '_' || (*s == '[' && c == ':')))
            return "bad character in host name";
        host[i] = (char)to_lower(c);
    }
    host[n] = '\0';
    if (*s == '[' && inet_pton(AF_INET6, host, bin) != 1)
        return "bad IPv6 address in brackets";
    if (*p != ':')
        return "expected ':' and a port after the host";
    p++;
    n = strspn(p, "0123456789");
    *port = parse_port(p, n);
    if (*port < 0)
        return "port must be a number from 1 to 65535";
    *endp = p + n;
    return NULL;
}

static const char *parse_resolve(const char *s, char *host, size_t host_len, int *port, char *addr,
                                 size_t addr_len)
{
    unsigned char bin[16];
    const char *a, *why;
    bool bracketed = false;
    size_t n;

    why = parse_hostport(s, host, host_len, port, &a);
    if (why)
        return why;
    if (*a != ':')
        return "expected ':' and an address after the port";
    a++;
    n = strlen(a);
    if (n == 0)
        return "missing address after HOST:PORT:";
    if (a[0] == '[') {
        if (n < 3 || a[n - 1] != ']')
            return "missing ']' after the IPv6 address";
        a++;
        n -= 2;
        bracketed = true;
    }
    if (n >= addr_len || n >= INET6_ADDRSTRLEN)
        return "ADDR is not an IPv4 or IPv6 address";
    memcpy(addr, a, n);
    addr[n] = '\0';
    if (bracketed ? inet_pton(AF_INET6, addr, bin) != 1
                  : (inet_pton(AF_INET, addr, bin) != 1 && inet_pton(AF_INET6, addr, bin) != 1))
        return "ADDR is not an IPv4 or IPv6 address";
    return NULL;
}

int cfg_parse_resolve(const char *s, char *host, size_t host_len, int *port, char *addr,
                      size_t addr_len)
{
    return parse_resolve(s, host, host_len, port, addr, addr_len) ? -EINVAL : 0;
}

static bool is_section_name(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > CFG_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum((unsigned char)s[i]) && !strchr("._-", s[i]))
            return false;
    return true;
}

/* ---- endpoints ----------------------------------------------------------------------- */

void cfg_ep_init(struct cfg_ep *e)
{
    memset(e, 0, sizeof *e);
}

void cfg_ep_fini(struct cfg_ep *e)
{
    if (!e)
        return;
    free(e->name);
    free(e->url);
    for (size_t i = 0; i < e->n_headers; i++)
        free(e->headers[i]);
    free(e->origin);
    for (size_t i = 0; i < e->n_protocols; i++)
        free(e->protocols[i]);
    free(e->resolve);
    free(e->cacert);
    free(e->expect_message);
    free(e->send);
    free(e->health);
    free(e->group);
    free(e->backend_header);
    free(e->proxy);
    memset(e, 0, sizeof *e);
}

static void set_builtin_defaults(struct cfg_ep *e)
{
    e->ping_ms = CFG_DEFAULT_PING_MS;
    e->timeout_ms = CFG_DEFAULT_TIMEOUT_MS;
    e->expect_within_ms = CFG_DEFAULT_EXPECT_WITHIN_MS;
    e->connections = 1;
}

void cfg_init(struct cfg *c)
{
    memset(c, 0, sizeof *c);
    cfg_ep_init(&c->defaults);
    set_builtin_defaults(&c->defaults);
}

void cfg_fini(struct cfg *c)
{
    if (!c)
        return;
    cfg_ep_fini(&c->defaults);
    for (size_t i = 0; i < c->n_eps; i++)
        cfg_ep_fini(&c->eps[i]);
    free(c->eps);
    memset(c, 0, sizeof *c);
}

static void replace_str(char **dst, const char *src)
{
    char *copy = xstrdup(src);
    free(*dst);
    *dst = copy;
}

static int find_key(const char *key)
{
    for (int k = 0; k < K_COUNT; k++)
        if (strcmp(cfg_keys[k].name, key) == 0)
            return k;
    return -1;
}

static size_t value_max(int k)
{
    return (k == K_SEND || k == K_EXPECT) ? CFG_TEXT_MAX : CFG_VALUE_MAX;
}

static int set_duration(int64_t *dst, const char *value, bool zero_ok, char *err, size_t errlen)
{
    char shown[CFG_ECHO_MAX * 4 + 8];
    const char *why;
    int64_t ms;

    why = parse_duration(value, &ms);
    if (why)
        return seterr(err, errlen, -EINVAL, "bad duration '%s': %s",
                      esc(value, CFG_ECHO_MAX, shown, sizeof shown), why);
    if (!zero_ok && ms == 0)
        return seterr(err, errlen, -EINVAL, "bad duration '%s': must be greater than 0",
                      esc(value, CFG_ECHO_MAX, shown, sizeof shown));
    *dst = ms;
    return 0;
}

static int set_header(struct cfg_ep *e, const char *value, char *err, size_t errlen)
{
    char shown[CFG_ECHO_MAX * 4 + 8], why_buf[64];
    char name[CFG_HEADER_NAME_MAX + 1];
    const char *v, *why;
    size_t vlen, nlen;
    char *line;

    why = parse_header(value, name, sizeof name, &v);
    if (!why)
        why = text_problem(value, why_buf, sizeof why_buf);
    if (why)
        return seterr(err, errlen, -EINVAL, "bad header '%s': %s",
                      esc(value, CFG_ECHO_MAX, shown, sizeof shown), why);
    for (size_t i = 0; i < sizeof reserved_headers / sizeof reserved_headers[0]; i++)
        if (strcasecmp(name, reserved_headers[i].name) == 0)
            return seterr(err, errlen, -EINVAL, "header '%s' %s", name, reserved_headers[i].why);
    if (e->n_headers >= CFG_MAX_HEADERS)
        return seterr(err, errlen, -EINVAL, "too many headers (at most %d)", CFG_MAX_HEADERS);
    vlen = strlen(v);
    while (vlen > 0 && is_space((unsigned char)v[vlen - 1]))
        vlen--;
    nlen = strlen(name);
    line = xmalloc(nlen + 2 + vlen + 1);
    memcpy(line, name, nlen);
    memcpy(line + nlen, ": ", 2);
    memcpy(line + nlen + 2, v, vlen);
    line[nlen + 2 + vlen] = '\0';
    e->headers[e->n_headers++] = line;
    return 0;
}

static int set_url(struct cfg_ep *e, int k, const char *value, char *err, size_t errlen)
{
    char shown[CFG_ECHO_MAX * 4 + 8];
    struct url u;
    int rc;

    rc = url_parse(value, k == K_HEALTH, &u, err, errlen);
    if (rc < 0)
        return rc;
    if (k == K_HEALTH) {
        if (u.websocket)
            return seterr(err, errlen, -EINVAL, "bad URL '%s': expected http:// or https://",
                          esc(value, CFG_ECHO_MAX, shown, sizeof shown));
        replace_str(&e->health, value);
        return 0;
    }
    replace_str(&e->url, value);
    e->u = u;
    return 0;
}

int cfg_ep_set(struct cfg_ep *e, const char *key, const char *value, char *err, size_t errlen)
{
    char shown[CFG_ECHO_MAX * 4 + 8], why_buf[64];
    char host[URL_HOST_MAX], addr[INET6_ADDRSTRLEN];
    const char *why, *end;
    size_t len;
    int k, port, rc = 0;

    k = key ? find_key(key) : -1;
    if (k < 0)
        return seterr(err, errlen, -ENOENT, "unknown key");
    if (!value || !*value)
        return seterr(err, errlen, -EINVAL, "empty value");
    if (k == K_URL || k == K_HEALTH) {
        rc = set_url(e, k, value, err, errlen);
        goto out;
    }
    len = strlen(value);
    if (len > value_max(k))
        return seterr(err, errlen, -EINVAL, "value too long (%zu bytes, at most %zu)", len,
                      value_max(k));
    if (k == K_HEADER) {
        rc = set_header(e, value, err, errlen);
        goto out;
    }
    why = text_problem(value, why_buf, sizeof why_buf);
    if (why)
        return seterr(err, errlen, -EINVAL, "%s", why);
    esc(value, CFG_ECHO_MAX, shown, sizeof shown);

    switch (k) {
    case K_ORIGIN:
        replace_str(&e->origin, value);
        break;
    case K_PROTOCOL:
        for (size_t i = 0; i < len; i++)
            if (!is_tchar((unsigned char)value[i]))
                return seterr(err, errlen, -EINVAL,
                              "bad protocol '%s': letters, digits and !#$%%&'*+-.^_`|~ only",
                              shown);
        if (e->n_protocols >= CFG_MAX_PROTOCOLS)
            return seterr(err, errlen, -EINVAL, "too many protocols (at most %d)",
                          CFG_MAX_PROTOCOLS);
        e->protocols[e->n_protocols++] = xstrdup(value);
        break;
    case K_RESOLVE:
        why = parse_resolve(value, host, sizeof host, &port, addr, sizeof addr);
        if (why)
            return seterr(err, errlen, -EINVAL, "bad resolve '%s': %s (HOST:PORT:ADDR)", shown,
                          why);
        replace_str(&e->resolve, value);
        break;
    case K_CACERT:
        replace_str(&e->cacert, value);
        break;
    case K_INSECURE:
        if (!strcasecmp(value, "true") || !strcasecmp(value, "yes") || !strcmp(value, "1"))
            e->insecure = true;
        else if (!strcasecmp(value, "false") || !strcasecmp(value, "no") || !strcmp(value, "0"))
            e->insecure = false;
        else
            return seterr(err, errlen, -EINVAL,
                          "bad boolean '%s': expected true, false, yes, no, 1 or 0", shown);
        break;
    case K_PING:
        rc = set_duration(&e->ping_ms, value, true, err, errlen);
        break;
    case K_EXPECT:
        replace_str(&e->expect_message, value);
        break;
    case K_EXPECT_WITHIN:
        rc = set_duration(&e->expect_within_ms, value, false, err, errlen);
        break;
    case K_SEND:
        replace_str(&e->send, value);
        break;
    case K_CONNECTIONS: {
        long n = 0;
        bool ok = len <= 5 && strspn(value, "0123456789") == len;
        if (ok) {
            n = strtol(value, NULL, 10);
            ok = n >= 1 && n <= CFG_MAX_CONNECTIONS;
        }
        if (!ok)
            return seterr(err, errlen, -EINVAL, "bad number '%s': expected 1 to %d", shown,
                          CFG_MAX_CONNECTIONS);
        e->connections = (int)n;
        break;
    }
    case K_TIMEOUT:
        rc = set_duration(&e->timeout_ms, value, false, err, errlen);
        break;
    case K_GROUP:
        if (len > CFG_NAME_MAX)
            return seterr(err, errlen, -EINVAL, "group name longer than %d bytes", CFG_NAME_MAX);
        replace_str(&e->group, value);
        break;
    case K_VIA:
        if (!strcasecmp(value, "lb"))
            e->via = CFG_VIA_LB;
        else if (!strcasecmp(value, "direct"))
            e->via = CFG_VIA_DIRECT;
        else
            return seterr(err, errlen, -EINVAL, "bad value '%s': expected lb or direct", shown);
        break;
    case K_BACKEND_HEADER:
        for (size_t i = 0; i < len; i++)
            if (!is_tchar((unsigned char)value[i]))
                return seterr(err, errlen, -EINVAL, "bad header name '%s'", shown);
        if (len > CFG_HEADER_NAME_MAX)
            return seterr(err, errlen, -EINVAL, "header name longer than %d characters",
                          CFG_HEADER_NAME_MAX);
        replace_str(&e->backend_header, value);
        break;
    case K_PROXY:
        why = parse_hostport(value, host, sizeof host, &port, &end);
        if (!why && *end)
            why = "unexpected text after the port";
        if (why)
            return seterr(err, errlen, -EINVAL, "bad proxy '%s': %s (HOST:PORT)", shown, why);
        replace_str(&e->proxy, value);
        break;
    default:
        return seterr(err, errlen, -ENOENT, "unknown key");
    }
out:
    if (rc == 0 && cfg_keys[k].flag)
        e->set |= cfg_keys[k].flag;
    return rc;
}

/* Copy into dst the keys it has not set: all of them, or with only_given just those src set.
 * url and name are an endpoint's identity and never copied. */
static void ep_fill(struct cfg_ep *dst, const struct cfg_ep *src, bool only_given)
{
#define TAKE(flag) (!(dst->set & (flag)) && (!only_given || (src->set & (flag))))
    if (TAKE(CFG_SET_HEADERS)) {
        for (size_t i = 0; i < dst->n_headers; i++)
            free(dst->headers[i]);
        for (size_t i = 0; i < src->n_headers; i++)
            dst->headers[i] = xstrdup(src->headers[i]);
        dst->n_headers = src->n_headers;
    }
    if (TAKE(CFG_SET_PROTOCOLS)) {
        for (size_t i = 0; i < dst->n_protocols; i++)
            free(dst->protocols[i]);
        for (size_t i = 0; i < src->n_protocols; i++)
            dst->protocols[i] = xstrdup(src->protocols[i]);
        dst->n_protocols = src->n_protocols;
    }
    if (TAKE(CFG_SET_ORIGIN))
        replace_str(&dst->origin, src->origin);
    if (TAKE(CFG_SET_RESOLVE))
        replace_str(&dst->resolve, src->resolve);
    if (TAKE(CFG_SET_CACERT))
        replace_str(&dst->cacert, src->cacert);
    if (TAKE(CFG_SET_INSECURE))
        dst->insecure = src->insecure;
    if (TAKE(CFG_SET_PING))
        dst->ping_ms = src->ping_ms;
    if (TAKE(CFG_SET_EXPECT))
        replace_str(&dst->expect_message, src->expect_message);
    if (TAKE(CFG_SET_EXPECT_WITHIN))
        dst->expect_within_ms = src->expect_within_ms;
    if (TAKE(CFG_SET_SEND))
        replace_str(&dst->send, src->send);
    if (TAKE(CFG_SET_CONNECTIONS))
        dst->connections = src->connections;
    if (TAKE(CFG_SET_HEALTH))
        replace_str(&dst->health, src->health);
    if (TAKE(CFG_SET_TIMEOUT))
        dst->timeout_ms = src->timeout_ms;
    if (TAKE(CFG_SET_GROUP))
        replace_str(&dst->group, src->group);
    if (TAKE(CFG_SET_VIA))
        dst->via = src->via;
    if (TAKE(CFG_SET_BACKEND_HEADER))
        replace_str(&dst->backend_header, src->backend_header);
    if (TAKE(CFG_SET_PROXY))
        replace_str(&dst->proxy, src->proxy);
#undef TAKE
    dst->set |= src->set;
}

/* "host:port" of a parsed URL, IPv6 in brackets, the port always written. */
static void url_hostport(const struct url *u, char *buf, size_t len)
{
    if (u->host_is_ipv6)
        snprintf(buf, len, "[%s]:%d", u->host, u->port);
    else
        snprintf(buf, len, "%s:%d", u->host, u->port);
}

/* Whether a resolve value names the URL's host and port; NULL if so, else why not. */
static const char *resolve_mismatch(const char *resolve, const struct url *u)
{
    char host[URL_HOST_MAX], addr[INET6_ADDRSTRLEN];
    const char *why;
    int port;

    why = parse_resolve(resolve, host, sizeof host, &port, addr, sizeof addr);
    if (why)
        return why;
    if (strcasecmp(host, u->host) != 0 || port != u->port)
        return "does not match the URL's host and port";
    return NULL;
}

int cfg_ep_finish(struct cfg_ep *ep, const struct cfg_ep *from, char *err, size_t errlen)
{
    char label[CFG_ECHO_MAX * 4 + 32], shown[CFG_ECHO_MAX * 4 + 8], why[CFG_ERR_MAX];
    char hp[URL_HOST_MAX + 16];
    struct cfg_ep builtin;
    struct url h;

    if (!from) {
        cfg_ep_init(&builtin);
        set_builtin_defaults(&builtin);
        from = &builtin;
    }
    ep_fill(ep, from, false);

    if (ep->name) {
        snprintf(label, sizeof label, "endpoint '%s'",
                 esc(ep->name, CFG_ECHO_MAX, shown, sizeof shown));
    } else if (ep->url) {
        char masked[URL_HOST_MAX + URL_PATH_MAX + 16];
        url_mask_secrets(ep->url, masked, sizeof masked);
        snprintf(label, sizeof label, "endpoint '%s'",
                 esc(masked, CFG_ECHO_MAX, shown, sizeof shown));
    } else {
        snprintf(label, sizeof label, "endpoint");
    }

    if (!ep->url)
        return seterr(err, errlen, -EINVAL, "%s: no url", label);
    if (url_parse(ep->url, false, &ep->u, why, sizeof why) < 0)
        return seterr(err, errlen, -EINVAL, "%s: %s", label, why);
    if (ep->resolve) {
        const char *bad = resolve_mismatch(ep->resolve, &ep->u);
        if (bad) {
            url_hostport(&ep->u, hp, sizeof hp);
            return seterr(err, errlen, -EINVAL, "%s: resolve '%s' %s (%s)", label,
                          esc(ep->resolve, CFG_ECHO_MAX, shown, sizeof shown), bad, hp);
        }
    }
    if (ep->health && (url_parse(ep->health, true, &h, why, sizeof why) < 0 || h.websocket))
        return seterr(err, errlen, -EINVAL, "%s: health must be an http:// or https:// URL", label);
    if (ep->connections < 1 || ep->connections > CFG_MAX_CONNECTIONS)
        return seterr(err, errlen, -EINVAL, "%s: connections must be 1 to %d", label,
                      CFG_MAX_CONNECTIONS);
    if (ep->timeout_ms <= 0)
        return seterr(err, errlen, -EINVAL, "%s: timeout must be greater than 0", label);
    if (ep->expect_within_ms <= 0)
        return seterr(err, errlen, -EINVAL, "%s: expect_within must be greater than 0", label);
    return 0;
}

static void append_ep(struct cfg *c, struct cfg_ep *ep)
{
    c->eps = xrealloc(c->eps, (c->n_eps + 1) * sizeof *c->eps);
    c->eps[c->n_eps++] = *ep;
    cfg_ep_init(ep);
}

int cfg_add_url(struct cfg *c, const char *url, char *err, size_t errlen)
{
    struct cfg_ep ep;
    int rc;

    cfg_ep_init(&ep);
    rc = cfg_ep_set(&ep, "url", url, err, errlen);
    if (rc < 0) {
        cfg_ep_fini(&ep);
        return rc;
    }
    append_ep(c, &ep);
    return 0;
}

/* ---- the INI file -------------------------------------------------------------------- */

struct loader {
    struct cfg tmp;     /* filled, then merged into the caller's cfg on success */
    size_t cap;         /* allocated entries of tmp.eps */
    int *sec_line;      /* line of each endpoint's [section] */
    int defaults_line;  /* 0 until [defaults] is seen */
    struct cfg_ep *cur; /* section being read, NULL before the first */
    int cur_line;
    int key_line[K_COUNT]; /* where each key was set in the current section */
    const char *path;      /* escaped for messages */
    char *err;
    size_t errlen;
};

static int load_err(struct loader *ld, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int load_err(struct loader *ld, int line, const char *fmt, ...)
{
    char msg[CFG_ERR_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return seterr(ld->err, ld->errlen, -EINVAL, "%s:%d: %s", ld->path, line, msg);
}

/* Whole-section checks once its last line has been read. */
static int end_section(struct loader *ld)
{
    struct cfg_ep *e = ld->cur;
    char shown[CFG_ECHO_MAX * 4 + 8], hp[URL_HOST_MAX + 16];
    const char *bad;

    if (!e || e == &ld->tmp.defaults)
        return 0;
    if (!e->url)
        return load_err(ld, ld->cur_line, "endpoint [%s] has no url", e->name);
    if (e->resolve && (bad = resolve_mismatch(e->resolve, &e->u))) {
        url_hostport(&e->u, hp, sizeof hp);
        return load_err(ld, ld->key_line[K_RESOLVE], "key 'resolve': '%s' %s (%s)",
                        esc(e->resolve, CFG_ECHO_MAX, shown, sizeof shown), bad, hp);
    }
    return 0;
}

static int do_section(struct loader *ld, char *s, size_t n, int line)
{
    char shown[CFG_ECHO_MAX * 4 + 8];
    struct cfg *c = &ld->tmp;
    char *name;
    int rc;

    if (s[n - 1] != ']')
        return load_err(ld, line, "expected ']' at the end of the section line");
    s[n - 1] = '\0';
    name = s + 1;
    while (is_space((unsigned char)*name))
        name++;
    n = strlen(name);
    while (n > 0 && is_space((unsigned char)name[n - 1]))
        name[--n] = '\0';
    if (!is_section_name(name))
        return load_err(ld, line, "bad section name [%s]: use 1 to %d of A-Z a-z 0-9 . _ -",
                        esc(name, CFG_ECHO_MAX, shown, sizeof shown), CFG_NAME_MAX);

    rc = end_section(ld);
    if (rc < 0)
        return rc;
    memset(ld->key_line, 0, sizeof ld->key_line);
    ld->cur_line = line;

    if (strcasecmp(name, "defaults") == 0) {
        if (ld->defaults_line)
            return load_err(ld, line, "duplicate section [%s] (first on line %d)", name,
                            ld->defaults_line);
        ld->defaults_line = line;
        ld->cur = &c->defaults;
        return 0;
    }
    for (size_t i = 0; i < c->n_eps; i++)
        if (strcasecmp(c->eps[i].name, name) == 0)
            return load_err(ld, line, "duplicate section [%s] (first on line %d)", name,
                            ld->sec_line[i]);
    if (c->n_eps >= CFG_MAX_ENDPOINTS)
        return load_err(ld, line, "too many endpoints (at most %d)", CFG_MAX_ENDPOINTS);
    if (c->n_eps == ld->cap) {
        ld->cap = ld->cap ? ld->cap * 2 : 16;
        c->eps = xrealloc(c->eps, ld->cap * sizeof *c->eps);
        ld->sec_line = xrealloc(ld->sec_line, ld->cap * sizeof *ld->sec_line);
    }
    ld->cur = &c->eps[c->n_eps];
    cfg_ep_init(ld->cur);
    ld->cur->name = xstrdup(name);
    ld->sec_line[c->n_eps++] = line;
    return 0;
}

/* Report a line that holds control characters or broken UTF-8 outside any value. */
static int check_line_text(struct loader *ld, const char *s, int line)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        unsigned long cp;
        size_t n = utf8_seq(p, &cp);
        if (n == 0)
            return load_err(ld, line, "not valid UTF-8 (not a text file?)");
        if ((cp < 0x20 && cp != '\t') || cp == 0x7f || (cp >= 0x80 && cp < 0xa0))
            return load_err(ld, line, "control character \\x%02x (not a text file?)", *p);
        p += n;
    }
    return 0;
}

static int do_line(struct loader *ld, char *s, int line)
{
    char shown[CFG_ECHO_MAX * 4 + 8], why[CFG_ERR_MAX];
    char *eq, *key, *value;
    size_t n;
    int k, rc;

    while (is_space((unsigned char)*s))
        s++;
    n = strlen(s);
    while (n > 0 && is_space((unsigned char)s[n - 1]))
        s[--n] = '\0';
    if (n == 0 || s[0] == ';' || s[0] == '#')
        return 0;

    eq = strchr(s, '=');
    if (s[0] == '[' || !eq) {
        rc = check_line_text(ld, s, line);
        if (rc < 0)
            return rc;
        if (s[0] == '[')
            return do_section(ld, s, n, line);
        return load_err(ld, line, "expected '[section]' or 'key = value'");
    }

    *eq = '\0';
    key = s;
    value = eq + 1;
    n = strlen(key);
    while (n > 0 && is_space((unsigned char)key[n - 1]))
        key[--n] = '\0';
    while (is_space((unsigned char)*value))
        value++;
    rc = check_line_text(ld, key, line);
    if (rc < 0)
        return rc;
    if (n == 0)
        return load_err(ld, line, "expected a key before '='");
    esc(key, CFG_ECHO_MAX, shown, sizeof shown);
    k = find_key(key);
    if (!ld->cur)
        return load_err(ld, line,
                        "key '%s': outside any section (put it under [defaults] "
                        "or [NAME])",
                        shown);
    if (k < 0)
        return load_err(ld, line, "key '%s': unknown key", shown);
    if (k == K_URL && ld->cur == &ld->tmp.defaults)
        return load_err(ld, line, "key 'url': not allowed in [defaults]");
    if (!cfg_keys[k].repeatable && ld->key_line[k])
        return load_err(ld, line, "key '%s': already set on line %d", shown, ld->key_line[k]);
    rc = cfg_ep_set(ld->cur, key, value, why, sizeof why);
    if (rc < 0)
        return load_err(ld, line, "key '%s': %s", shown, why);
    ld->key_line[k] = line;
    return 0;
}

/* Read all of path (at most CFG_FILE_MAX bytes) into a NUL-terminated heap buffer. Pipes
 * such as <(...) work too, so the size is not taken from fstat. */
static int read_all(const char *path, const char *shown, char **out, size_t *out_len, char *err,
                    size_t errlen)
{
    size_t len = 0;
    char *buf = NULL;
    int fd, rc = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        rc = -errno;
        return seterr(err, errlen, rc, "%s: %s", shown, strerror(-rc));
    }
    buf = xmalloc(CFG_FILE_MAX + 2);
    for (;;) {
        ssize_t n = read(fd, buf + len, CFG_FILE_MAX + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            seterr(err, errlen, rc, "%s: %s", shown, strerror(-rc));
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > CFG_FILE_MAX) {
            rc = seterr(err, errlen, -EFBIG, "%s: larger than 1 MiB", shown);
            goto out;
        }
    }
    buf[len] = '\0';
out:
    close(fd);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

int cfg_load_file(struct cfg *c, const char *path, char *err, size_t errlen)
{
    char shown[CFG_PATH_ECHO_MAX * 4 + 8];
    struct loader ld;
    char *buf = NULL, *p, *end, *nul;
    size_t len = 0;
    int line = 0, rc;

    memset(&ld, 0, sizeof ld);
    cfg_init(&ld.tmp);
    ld.path = esc(path ? path : "", CFG_PATH_ECHO_MAX, shown, sizeof shown);
    ld.err = err;
    ld.errlen = errlen;
    if (!path) {
        rc = seterr(err, errlen, -EINVAL, "no configuration file given");
        goto out;
    }
    rc = read_all(path, shown, &buf, &len, err, errlen);
    if (rc < 0)
        goto out;

    nul = memchr(buf, '\0', len);
    if (nul) {
        int nl = 1;
        for (p = buf; p < nul; p++)
            nl += *p == '\n';
        rc = load_err(&ld, nl, "NUL byte (not a text file)");
        goto out;
    }

    p = buf;
    end = buf + len;
    if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
        p += 3;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        line++;
        if (le > p && le[-1] == '\r')
            le--;
        *le = '\0';
        rc = do_line(&ld, p, line);
        if (rc < 0)
            goto out;
        p = nl ? nl + 1 : end;
    }
    rc = end_section(&ld);
    if (rc < 0)
        goto out;

    /* Keys already given in c->defaults (the command line, say) win over the file's. */
    ep_fill(&c->defaults, &ld.tmp.defaults, true);
    if (ld.tmp.n_eps) {
        c->eps = xrealloc(c->eps, (c->n_eps + ld.tmp.n_eps) * sizeof *c->eps);
        memcpy(c->eps + c->n_eps, ld.tmp.eps, ld.tmp.n_eps * sizeof *c->eps);
        c->n_eps += ld.tmp.n_eps;
        ld.tmp.n_eps = 0;
    }
out:
    cfg_fini(&ld.tmp);
    free(ld.sec_line);
    free(buf);
    return rc;
}
