/* SPDX-License-Identifier: MIT */
/* wsmon serve: a diagnostic WebSocket server with fault paths (libwebsockets on a libuv loop). */
#include "config.h"

#include "serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "log.h"
#include "san.h"
#include "xmem.h"

#define HDR_MAX            4096 /* lws's header space per request: no query fragment is longer */
#define MS_MAX             86400000L /* after=, every=: one day */
#define IDLE_MAX_S         86400L    /* /idle/SECS */
#define STREAM_SIZE_DEF    320       /* 20 ms of 8 kHz 16-bit mono audio */
#define STREAM_SIZE_MAX    65536
#define STREAM_EVERY_DEF   20
#define STREAM_BACKLOG_MAX 50        /* frames owed to a slow reader before ticks are skipped */
#define REASON_MAX         123       /* a close frame's payload is at most 125 bytes */
#define ECHO_MSG_MAX       (1 << 20) /* a longer message is closed with 1009 */
#define ECHO_QUEUE_MAX     (4 << 20) /* stop reading while this much waits to be echoed */
#define HELLO              "test"
#define LOG_LINE_MAX       768

enum route_kind { R_ECHO, R_CLOSE, R_DROP, R_REJECT, R_IDLE, R_STREAM, R_HEALTH };

/* A request's path and query, checked. */
struct route {
    enum route_kind kind;
    int status;    /* /reject/STATUS */
    int code;      /* /close/CODE */
    long after_ms; /* /close, /drop */
    char reason[REASON_MAX + 1];
    size_t reason_len;
    bool rst;      /* /drop?rst=1 */
    long idle_s;   /* /idle/SECS */
    long every_ms; /* /stream */
    long size;
};

/* What the connection's timer does when it fires. */
enum act { ACT_NONE, ACT_CLOSE, ACT_DROP, ACT_STREAM };

/* One message waiting to be echoed; buf has LWS_PRE bytes of room before the payload. */
struct omsg {
    struct omsg *next;
    bool binary;
    size_t len;
    unsigned char buf[];
};

/* One open WebSocket. Heap-allocated (its uv timer outlives the wsi), linked in the server,
 * freed by the timer's close callback. */
struct conn {
    struct serve *s;
    struct lws *wsi; /* NULL once lws closed it or the server orphaned it */
    struct conn *prev, *next;
    uv_timer_t timer;
    enum act act;
    struct route r;
    uint32_t id;
    char what[160]; /* path and query, safe for a terminal */
    char peer[64];
    uint64_t t_open_ns;
    uint64_t in_msgs, in_bytes, out_msgs, out_bytes;
    /* the message being received */
    unsigned char *rx;
    size_t rx_len, rx_cap, rx_msg_bytes;
    bool rx_binary, rx_paused;
    /* echo queue */
    struct omsg *q_head, *q_tail;
    size_t q_bytes;
    /* stream */
    unsigned char *frame;
    uint64_t ticks, owed, skipped;
    /* how it ended */
    bool closing;    /* we started the end: no more writes */
    bool unanswered; /* our close frame got no answer before shutdown */
    int close_code;
    char close_reason[REASON_MAX * 4 + 8]; /* sanitised */
    const char *close_by;
};

struct serve {
    uv_loop_t *loop;
    struct lws_context *cx;
    struct lws_vhost *vh;
    serve_log_fn log;
    void *log_ud;
    int port;
    char url[80];
    uv_timer_t grace; /* the wait for answers to our 1001s */
    struct conn *conns;
    size_t n_conns;
    uint32_t next_id;
    bool draining; /* serve_shutdown() was called */
    bool finished; /* lws_context_destroy() was called once */
};

static const lws_retry_bo_t no_keepalive; /* all zero: lws's validity pings off */

/* lws reports through one global function; the last error line explains a failed setup */
static char lws_last_err[256];

static void lws_log_emit(int level, const char *line)
{
    size_t n = strlen(line);
    char buf[512];

    if (n && line[n - 1] == '\n')
        n--;
    san_term(line, n, buf, sizeof(buf));
    if (level & LLL_ERR)
        xstrlcpy(lws_last_err, buf, sizeof(lws_last_err));
    log_debug("lws: %s", buf);
}

static void slog(struct serve *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void slog(struct serve *s, const char *fmt, ...)
{
    char line[LOG_LINE_MAX];
    va_list ap;

    if (!s->log)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    s->log(s->log_ud, line);
}

static struct serve *serve_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

static void peer_name(struct lws *wsi, char *out, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char ip[INET6_ADDRSTRLEN];
    int fd = (int)lws_get_socket_fd(wsi);

    snprintf(out, len, "?");
    if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
        return;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        snprintf(out, len, "%s:%u", ip, ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        snprintf(out, len, "[%s]:%u", ip, ntohs(a->sin6_port));
    }
}

/* ---- requests ------------------------------------------------------------------------------ */

/* A whole number of digits only (no sign, space or suffix) in [lo, hi]. */
static int parse_num(const char *s, long lo, long hi, long *out)
{
    long v = 0, d;
    const char *p;

    if (!*s)
        return -EINVAL;
    for (p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return -EINVAL;
    for (p = s; *p; p++) {
        d = *p - '0';
        if (v > hi / 10 || (v == hi / 10 && d > hi % 10)) /* v * 10 + d > hi, no overflow */
            return -ERANGE;
        v = v * 10 + d;
    }
    if (v < lo)
        return -ERANGE;
    *out = v;
    return 0;
}

/* Show untrusted text inside a message: escaped, and short. */
static const char *quote(const char *s, char *buf, size_t len)
{
    san_term(s, strlen(s), buf, len);
    return buf;
}

static int num_arg(const char *name, const char *v, long lo, long hi, long *out, char *why,
                   size_t whylen)
{
    char q[48];
    int rc = parse_num(v, lo, hi, out);

    if (rc == -EINVAL)
        snprintf(why, whylen, "%s: '%s' is not a whole number", name, quote(v, q, sizeof(q)));
    else if (rc < 0)
        snprintf(why, whylen, "%s: '%s' is out of range %ld-%ld", name, quote(v, q, sizeof(q)), lo,
                 hi);
    return rc;
}

/* Whether s (n bytes) is well-formed UTF-8; *cut is the longest prefix of at most max bytes
 * that ends on a character boundary. */
static bool utf8_ok(const char *s, size_t n, size_t max, size_t *cut)
{
    size_t i = 0, k;
    uint32_t cp;

    *cut = 0;
    while (i < n) {
        k = san_utf8_decode(s + i, n - i, &cp);
        if (!k)
            return false;
        i += k;
        if (i <= max)
            *cut = i;
    }
    return true;
}

/* One query parameter of the route (already URL-decoded by lws: %XX, and + as a space). */
static int route_arg(struct route *r, const char *name, const char *v, unsigned *seen, char *why,
                     size_t whylen)
{
    static const char *const names[] = {"after", "reason", "rst", "every", "size"};
    char q[48];
    const char *known = NULL;
    unsigned bit = 0;
    size_t i;
    long n;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!strcmp(name, names[i])) {
            bit = 1u << i;
            known = names[i];
        }
    }
    if (!bit || (r->kind != R_CLOSE && (!strcmp(name, "reason"))) ||
        ((r->kind != R_CLOSE && r->kind != R_DROP) && !strcmp(name, "after")) ||
        (r->kind != R_DROP && !strcmp(name, "rst")) ||
        (r->kind != R_STREAM && (!strcmp(name, "every") || !strcmp(name, "size")))) {
        snprintf(why, whylen, "unknown query parameter '%s' for this path",
                 quote(name, q, sizeof(q)));
        return -EINVAL;
    }
    if (*seen & bit) {
        snprintf(why, whylen, "query parameter '%s' given twice", known);
        return -EINVAL;
    }
    *seen |= bit;
    if (!v) {
        snprintf(why, whylen, "%s: missing value (%s=...)", known, known);
        return -EINVAL;
    }
    if (!strcmp(name, "after"))
        return num_arg(name, v, 0, MS_MAX, &r->after_ms, why, whylen);
    if (!strcmp(name, "every"))
        return num_arg(name, v, 1, MS_MAX, &r->every_ms, why, whylen);
    if (!strcmp(name, "size"))
        return num_arg(name, v, 0, STREAM_SIZE_MAX, &r->size, why, whylen);
    if (!strcmp(name, "rst")) {
        if (num_arg(name, v, 0, 1, &n, why, whylen) < 0)
            return -EINVAL;
        r->rst = n == 1;
        return 0;
    }
    /* reason */
    if (!utf8_ok(v, strlen(v), REASON_MAX, &r->reason_len)) {
        snprintf(why, whylen, "reason: not valid UTF-8");
        return -EINVAL;
    }
    memcpy(r->reason, v, r->reason_len);
    r->reason[r->reason_len] = '\0';
    return 0;
}

/* Path after a prefix such as "/close/": a number in [lo, hi]. */
static int route_num(const char *tail, const char *what, long lo, long hi, long *out, char *why,
                     size_t whylen)
{
    if (!*tail) {
        snprintf(why, whylen, "missing %s in the path", what);
        return -EINVAL;
    }
    return num_arg(what, tail, lo, hi, out, why, whylen);
}

/* Work out what a request asks for. Returns 0, or the HTTP status to answer (400 or 404) with
 * the reason in why. what gets the path and query, safe for a terminal. */
static int route_parse(struct lws *wsi, struct route *r, char *what, size_t whatlen, char *why,
                       size_t whylen)
{
    char path[HDR_MAX + 1], arg[HDR_MAX + 1], shown[HDR_MAX + 2];
    char *uri = NULL;
    int uri_len = 0, i, n;
    unsigned seen = 0;
    size_t used;
    long v;

    memset(r, 0, sizeof(*r));
    r->every_ms = STREAM_EVERY_DEF;
    r->size = STREAM_SIZE_DEF;
    why[0] = '\0';
    if (lws_http_get_uri_and_method(wsi, &uri, &uri_len) < 0 || !uri || uri_len <= 0 ||
        (size_t)uri_len >= sizeof(path)) {
        snprintf(what, whatlen, "?");
        snprintf(why, whylen, "no request path");
        return 400;
    }
    memcpy(path, uri, (size_t)uri_len);
    path[uri_len] = '\0';

    /* what: path?query as decoded, for the log */
    used = (size_t)snprintf(shown, sizeof(shown), "%s", path);
    for (i = 0; (n = lws_hdr_copy_fragment(wsi, arg, sizeof(arg), WSI_TOKEN_HTTP_URI_ARGS, i)) >= 0;
         i++) {
        if (used < sizeof(shown) - 1)
            used +=
                (size_t)snprintf(shown + used, sizeof(shown) - used, "%c%s", i ? '&' : '?', arg);
    }
    san_term(shown, strlen(shown), what, whatlen);

    if (!strcmp(path, "/echo"))
        r->kind = R_ECHO;
    else if (!strcmp(path, "/drop"))
        r->kind = R_DROP;
    else if (!strcmp(path, "/stream"))
        r->kind = R_STREAM;
    else if (!strcmp(path, "/health")) {
        r->kind = R_HEALTH;
        return 0; /* any query is ignored: health checkers add their own */
    } else if (!strncmp(path, "/close/", 7) || !strcmp(path, "/close")) {
        r->kind = R_CLOSE;
        if (route_num(path[6] ? path + 7 : "", "close code", 1000, 4999, &v, why, whylen) < 0)
            return 400;
        r->code = (int)v;
    } else if (!strncmp(path, "/reject/", 8) || !strcmp(path, "/reject")) {
        r->kind = R_REJECT;
        if (route_num(path[7] ? path + 8 : "", "status", 100, 599, &v, why, whylen) < 0)
            return 400;
        if (v == 101) {
            snprintf(why, whylen, "status: 101 would be an upgrade; use 100-599 except 101");
            return 400;
        }
        r->status = (int)v;
    } else if (!strncmp(path, "/idle/", 6) || !strcmp(path, "/idle")) {
        r->kind = R_IDLE;
        if (route_num(path[5] ? path + 6 : "", "idle seconds", 1, IDLE_MAX_S, &r->idle_s, why,
                      whylen) < 0)
            return 400;
    } else {
        snprintf(why, whylen, "no such path; see 'wsmon serve --help'");
        return 404;
    }

    for (i = 0; (n = lws_hdr_copy_fragment(wsi, arg, sizeof(arg), WSI_TOKEN_HTTP_URI_ARGS, i)) >= 0;
         i++) {
        char *eq;
        if (!n)
            continue; /* "a=1&&b=2" */
        eq = strchr(arg, '=');
        if (eq)
            *eq++ = '\0';
        if (route_arg(r, arg, eq, &seen, why, whylen) < 0)
            return 400;
    }
    return 0;
}

static bool route_is_ws(const struct route *r)
{
    return r->kind != R_REJECT && r->kind != R_HEALTH;
}

static const char *status_text(int status)
{
    static const struct {
        int status;
        const char *text;
    } t[] = {
        {100, "Continue"},
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {204, "No Content"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {304, "Not Modified"},
        {307, "Temporary Redirect"},
        {308, "Permanent Redirect"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {410, "Gone"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {426, "Upgrade Required"},
        {429, "Too Many Requests"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
    };
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (t[i].status == status)
            return t[i].text;
    return "Status";
}

/* Answer a request without upgrading and close the connection: returns -1 for the callback to
 * return. The bytes are written raw (NOTES section 7), so any status works. */
static int http_reply(struct serve *s, struct lws *wsi, int status, const char *body,
                      const char *extra_hdrs, const char *what)
{
    unsigned char buf[LWS_PRE + 2048];
    char *p = (char *)buf + LWS_PRE, peer[64], len_hdr[40] = "";
    size_t cap = sizeof(buf) - LWS_PRE, blen = strlen(body);
    char *uri = NULL;
    int uri_len = 0, meth = lws_http_get_uri_and_method(wsi, &uri, &uri_len), n;
    bool no_body = status < 200 || status == 204 || status == 304 || meth == LWSHUMETH_HEAD;

    if (status >= 200 && status != 204 && status != 304)
        snprintf(len_hdr, sizeof(len_hdr), "Content-Length: %zu\r\n", blen);
    n = snprintf(p, cap,
                 "HTTP/1.1 %d %s\r\n"
                 "Server: wsmon/" PACKAGE_VERSION "\r\n"
                 "Content-Type: text/plain; charset=utf-8\r\n"
                 "Cache-Control: no-store\r\n"
                 "%s%s"
                 "Connection: close\r\n"
                 "\r\n"
                 "%s",
                 status, status_text(status), len_hdr, extra_hdrs ? extra_hdrs : "",
                 no_body ? "" : body);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    peer_name(wsi, peer, sizeof(peer));
    slog(s, "#%u http %d %s from %s", ++s->next_id, status, what, peer);
    /* a short write is buffered by lws and flushed before the close */
    if (lws_write(wsi, (unsigned char *)p, (size_t)n, LWS_WRITE_HTTP_HEADERS) < 0)
        log_debug("%s: write failed", __func__);
    return -1;
}

/* Answer what is not a WebSocket upgrade to go ahead with. upgrade: 1 a WebSocket upgrade
 * request (0 lets it proceed), 0 a plain HTTP request, -1 an upgrade to another protocol. */
static int http_answer(struct serve *s, struct lws *wsi, int upgrade)
{
    struct route r;
    char what[160], why[256], body[400];
    int st;

    st = route_parse(wsi, &r, what, sizeof(what), why, sizeof(why));
    if (s->draining)
        return http_reply(s, wsi, 503, "wsmon serve is shutting down\n", NULL, what);
    if (upgrade < 0)
        return http_reply(s, wsi, 400, "bad request: only WebSocket upgrades are served\n", NULL,
                          what);
    if (st) {
        snprintf(body, sizeof(body), "%s: %s\n", st == 404 ? "not found" : "bad request", why);
        return http_reply(s, wsi, st, body, NULL, what);
    }
    switch (r.kind) {
    case R_HEALTH:
        return http_reply(s, wsi, 200, "ok\n", NULL, what);
    case R_REJECT:
        snprintf(body, sizeof(body), "rejected with %d by wsmon serve /reject\n", r.status);
        return http_reply(s, wsi, r.status, body, NULL, what);
    default:
        if (upgrade)
            return 0;
        return http_reply(s, wsi, 426, "this path is a WebSocket: connect with ws:// or wss://\n",
                          "Upgrade: websocket\r\n", what);
    }
}

/* ---- connections --------------------------------------------------------------------------- */

static void conn_freed(uv_handle_t *h)
{
    struct conn *c = h->data;
    struct omsg *m, *nm;

    for (m = c->q_head; m; m = nm) {
        nm = m->next;
        free(m);
    }
    free(c->rx);
    free(c->frame);
    free(c);
}

static void grace_done(uv_timer_t *t);

/* The WebSocket is gone (or orphaned at shutdown): log it and let go of it. */
static void conn_end(struct conn *c)
{
    struct serve *s = c->s;
    double open_s = (double)(uv_hrtime() - c->t_open_ns) / 1e9;
    char extra[64] = "", rs[sizeof(c->close_reason) + 4] = "";

    if (!c->close_by) {
        c->close_code = 1006;
        c->close_by = "client, no close frame";
    }
    if (c->skipped)
        snprintf(extra, sizeof(extra), ", %llu frames skipped (slow reader)",
                 (unsigned long long)c->skipped);
    /* a reason only where a close frame carried one */
    if (c->close_code != 1005 && c->close_code != 1006)
        snprintf(rs, sizeof(rs), " \"%s\"", c->close_reason);
    slog(s, "#%u close %d%s by %s%s after %.3fs, in %llu msgs (%llu B), out %llu msgs (%llu B)%s",
         c->id, c->close_code, rs, c->close_by, c->unanswered ? " (unanswered)" : "", open_s,
         (unsigned long long)c->in_msgs, (unsigned long long)c->in_bytes,
         (unsigned long long)c->out_msgs, (unsigned long long)c->out_bytes, extra);

    if (c->wsi)
        lws_set_opaque_user_data(c->wsi, NULL);
    c->wsi = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->n_conns--;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, conn_freed);
    /* the last one out ends the wait, from a loop callback (never inside lws's) */
    if (s->draining && !s->finished && !s->conns)
        uv_timer_start(&s->grace, grace_done, 0, 0);
}

/* Close with a close frame. Only from a uv callback: NOTES section 9, rule 3. */
static void conn_close(struct conn *c, int code, const char *reason, size_t len, const char *by)
{
    struct lws *wsi = c->wsi;

    if (!wsi || c->closing)
        return;
    c->closing = true;
    c->close_code = code;
    san_term(reason, len, c->close_reason, sizeof(c->close_reason));
    c->close_by = by;
    lws_close_reason(wsi, (enum lws_close_status)code, (unsigned char *)reason, len);
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
    lws_cancel_service(c->s->cx); /* arms the close-ack timeout lws just set (rule 2) */
}

/* Close the TCP connection without a close frame; with rst, as an RST. From a uv callback. */
static void conn_drop(struct conn *c, bool rst, const char *by)
{
    struct lws *wsi = c->wsi;
    int fd;

    if (!wsi || c->closing)
        return;
    c->closing = true;
    c->close_code = 1006;
    c->close_by = by;
    fd = (int)lws_get_socket_fd(wsi);
    if (rst && fd >= 0) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        struct sockaddr sa = {.sa_family = AF_UNSPEC};
        if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
            log_warn("%s: SO_LINGER: %s", __func__, strerror(errno));
        /* lws shuts the write side down (a FIN) before close(): disconnecting first makes the
         * RST the only thing the peer sees (Linux: connect(AF_UNSPEC) aborts the connection) */
        if (connect(fd, &sa, sizeof(sa)) < 0)
            log_warn("%s: disconnect: %s", __func__, strerror(errno));
    }
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

static void conn_timer(uv_timer_t *t);

/* Owe the frames due by now (from open, every every_ms, so the rate does not drift), and come
 * back when the next one is due. */
static void stream_tick(struct conn *c)
{
    uint64_t period_ns = (uint64_t)c->r.every_ms * 1000000u;
    uint64_t now = uv_hrtime(), due = (now - c->t_open_ns) / period_ns + 1, next_ns;

    if (due > c->ticks) {
        c->owed += due - c->ticks;
        c->ticks = due;
        if (c->owed > STREAM_BACKLOG_MAX) {
            c->skipped += c->owed - STREAM_BACKLOG_MAX;
            c->owed = STREAM_BACKLOG_MAX;
        }
        lws_callback_on_writable(c->wsi);
    }
    next_ns = c->t_open_ns + c->ticks * period_ns;
    uv_timer_start(&c->timer, conn_timer, (next_ns - now + 999999u) / 1000000u, 0);
}

static void conn_timer(uv_timer_t *t)
{
    struct conn *c = t->data;

    if (!c->wsi || c->closing)
        return;
    switch (c->act) {
    case ACT_CLOSE:
        conn_close(c, c->r.code, c->r.reason, c->r.reason_len, "server");
        break;
    case ACT_DROP:
        conn_drop(c, c->r.rst,
                  c->r.kind == R_IDLE ? "server idle timeout (FIN), no close frame"
                  : c->r.rst          ? "server drop (RST), no close frame"
                                      : "server drop (FIN), no close frame");
        break;
    case ACT_STREAM:
        stream_tick(c);
        break;
    case ACT_NONE:
        break;
    }
}

/* ---- lws callbacks ------------------------------------------------------------------------- */

static void enqueue(struct conn *c, const void *data, size_t len, bool binary)
{
    struct omsg *m = xmalloc(sizeof(*m) + LWS_PRE + len + 1);

    m->next = NULL;
    m->binary = binary;
    m->len = len;
    if (len)
        memcpy(m->buf + LWS_PRE, data, len);
    if (c->q_tail)
        c->q_tail->next = m;
    else
        c->q_head = m;
    c->q_tail = m;
    c->q_bytes += len;
}

/* End a connection with a close frame from a loop callback: the timer, at once. */
static void conn_close_soon(struct conn *c, int code, const char *reason)
{
    c->act = ACT_CLOSE;
    c->r.code = code;
    c->r.reason_len = strlen(reason);
    memcpy(c->r.reason, reason, c->r.reason_len + 1);
    uv_timer_start(&c->timer, conn_timer, 0, 0);
}

static int on_established(struct serve *s, struct lws *wsi)
{
    struct conn *c = xcalloc(1, sizeof(*c));
    char why[256];

    /* the request was checked in HTTP_CONFIRM_UPGRADE; headers are still there */
    if (s->draining || route_parse(wsi, &c->r, c->what, sizeof(c->what), why, sizeof(why)) ||
        !route_is_ws(&c->r)) {
        free(c);
        return -1;
    }
    c->s = s;
    c->wsi = wsi;
    c->id = ++s->next_id;
    peer_name(wsi, c->peer, sizeof(c->peer));
    c->t_open_ns = uv_hrtime();
    uv_timer_init(s->loop, &c->timer);
    c->timer.data = c;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->n_conns++;
    lws_set_opaque_user_data(wsi, c);
    slog(s, "#%u open %s from %s", c->id, c->what, c->peer);

    switch (c->r.kind) {
    case R_ECHO:
        enqueue(c, HELLO, strlen(HELLO), false);
        lws_callback_on_writable(wsi);
        break;
    case R_CLOSE:
        c->act = ACT_CLOSE;
        uv_timer_start(&c->timer, conn_timer, (uint64_t)c->r.after_ms, 0);
        break;
    case R_DROP:
        c->act = ACT_DROP;
        uv_timer_start(&c->timer, conn_timer, (uint64_t)c->r.after_ms, 0);
        break;
    case R_IDLE:
        c->act = ACT_DROP;
        uv_timer_start(&c->timer, conn_timer, (uint64_t)c->r.idle_s * 1000u, 0);
        break;
    case R_STREAM:
        c->act = ACT_STREAM;
        c->frame = xcalloc(1, LWS_PRE + (size_t)c->r.size + 1);
        stream_tick(c);
        break;
    default:
        break;
    }
    return 0;
}

static void on_receive(struct conn *c, struct lws *wsi, const void *in, size_t len)
{
    bool echo = c->r.kind == R_ECHO && !c->closing;

    if (lws_is_first_fragment(wsi)) {
        c->rx_len = 0;
        c->rx_msg_bytes = 0;
        c->rx_binary = lws_frame_is_binary(wsi);
    }
    c->rx_msg_bytes += len;
    /* data re-arms the idle timer; pings never reach this callback, so they do not */
    if (c->r.kind == R_IDLE && !c->closing)
        uv_timer_start(&c->timer, conn_timer, (uint64_t)c->r.idle_s * 1000u, 0);
    if (echo && c->rx_msg_bytes > ECHO_MSG_MAX) {
        conn_close_soon(c, 1009, "message too big for /echo (1 MiB)");
        echo = false;
    }
    if (echo && len) {
        if (c->rx_len + len > c->rx_cap) {
            c->rx_cap = c->rx_len + len > c->rx_cap * 2 ? c->rx_len + len : c->rx_cap * 2;
            c->rx = xrealloc(c->rx, c->rx_cap);
        }
        memcpy(c->rx + c->rx_len, in, len);
        c->rx_len += len;
    }
    if (!lws_is_final_fragment(wsi))
        return;
    c->in_msgs++;
    c->in_bytes += c->rx_msg_bytes;
    if (echo && c->act != ACT_CLOSE) {
        enqueue(c, c->rx, c->rx_len, c->rx_binary);
        lws_callback_on_writable(wsi);
        if (c->q_bytes > ECHO_QUEUE_MAX && !c->rx_paused) {
            lws_rx_flow_control(wsi, 0);
            c->rx_paused = true;
        }
    }
    c->rx_len = 0;
}

static int on_writeable(struct conn *c, struct lws *wsi)
{
    if (c->closing)
        return 0;
    if (c->q_head) {
        struct omsg *m = c->q_head;
        int n;

        c->q_head = m->next;
        if (!c->q_head)
            c->q_tail = NULL;
        c->q_bytes -= m->len;
        n = lws_write(wsi, m->buf + LWS_PRE, m->len, m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
        if (n < (int)m->len) {
            free(m);
            return -1;
        }
        c->out_msgs++;
        c->out_bytes += m->len;
        free(m);
        if (c->rx_paused && c->q_bytes < ECHO_QUEUE_MAX / 4) {
            lws_rx_flow_control(wsi, 1);
            c->rx_paused = false;
        }
    } else if (c->owed) {
        unsigned char *p = c->frame + LWS_PRE;
        size_t size = (size_t)c->r.size, i;
        uint64_t seq = c->out_msgs;

        /* a big-endian frame counter first, so a reader can spot gaps */
        for (i = 0; i < 8 && i < size; i++)
            p[i] = (unsigned char)(seq >> (56 - 8 * i));
        if (lws_write(wsi, p, size, LWS_WRITE_BINARY) < (int)size)
            return -1;
        c->owed--;
        c->out_msgs++;
        c->out_bytes += size;
    }
    if (c->q_head || c->owed)
        lws_callback_on_writable(wsi);
    return 0;
}

static void on_peer_close(struct conn *c, const unsigned char *in, size_t len)
{
    c->closing = true; /* lws answers it; nothing more goes out */
    uv_timer_stop(&c->timer);
    if (c->close_by)
        return;
    c->close_by = "client";
    if (len >= 2) {
        c->close_code = (in[0] << 8) | in[1];
        san_term((const char *)in + 2, len - 2, c->close_reason, sizeof(c->close_reason));
    } else {
        c->close_code = 1005; /* a close frame without a code */
    }
}

static int serve_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct serve *s;
    struct conn *c;

    if (!wsi)
        return 0;
    s = serve_of(wsi);
    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return http_answer(s, wsi, in && !strcasecmp(in, "websocket") ? 1 : -1);
    case LWS_CALLBACK_HTTP:
        return http_answer(s, wsi, 0);
    case LWS_CALLBACK_ESTABLISHED:
        return on_established(s, wsi);
    case LWS_CALLBACK_RECEIVE:
        if ((c = lws_get_opaque_user_data(wsi)))
            on_receive(c, wsi, in, len);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if ((c = lws_get_opaque_user_data(wsi)))
            return on_writeable(c, wsi);
        return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if ((c = lws_get_opaque_user_data(wsi)))
            on_peer_close(c, in, len);
        return 0;
    case LWS_CALLBACK_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY:
        if ((c = lws_get_opaque_user_data(wsi)))
            conn_end(c);
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {"wsmon-serve", serve_cb, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- setup and teardown -------------------------------------------------------------------- */

static void serve_finish(struct serve *s)
{
    struct conn *c, *nc;

    if (s->finished)
        return;
    s->finished = true;
    for (c = s->conns; c; c = nc) {
        nc = c->next;
        if (!c->close_by) {
            c->close_code = 1006;
            c->close_by = "server shutdown, no close frame";
        } else {
            c->unanswered = true;
        }
        conn_end(c);
    }
    uv_close((uv_handle_t *)&s->grace, NULL);
    /* only starts closing lws's own handles; serve_free() finishes (NOTES 9, rule 7) */
    lws_context_destroy(s->cx);
}

static void grace_done(uv_timer_t *t)
{
    serve_finish(t->data);
}

void serve_shutdown(struct serve *s)
{
    static const char why[] = "server shutting down";
    struct conn *c, *nc;

    if (!s || s->finished)
        return;
    if (s->draining) {
        serve_finish(s); /* asked twice: stop waiting */
        return;
    }
    s->draining = true;
    for (c = s->conns; c; c = nc) {
        nc = c->next;
        uv_timer_stop(&c->timer);
        c->act = ACT_NONE;
        conn_close(c, 1001, why, sizeof(why) - 1, "server shutdown");
    }
    uv_timer_start(&s->grace, grace_done, s->conns ? SERVE_GRACE_MS : 0, 0);
}

/* Bind the address ourselves first: lws only logs why it could not, and a wrong address would
 * otherwise leave it waiting for an interface to appear. Returns 0 or the bind errno. */
static int bind_check(int fam, const void *addr, int port, const char *shown, char *err,
                      size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int fd, one = 1, e = 0;
    const char *hint = "";

    memset(&ss, 0, sizeof(ss));
    if (fam == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        memcpy(&a->sin_addr, addr, sizeof(a->sin_addr));
        sl = sizeof(*a);
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        memcpy(&a->sin6_addr, addr, sizeof(a->sin6_addr));
        sl = sizeof(*a);
    }
    fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        e = errno;
        snprintf(err, errlen, "cannot listen on %s: %s", shown, strerror(e));
        return e;
    }
    /* as lws does, so that TIME_WAIT leftovers do not count as in use */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fam == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
        e = errno;
    close(fd);
    if (!e)
        return 0;
    if (e == EADDRINUSE)
        hint = " (something else listens there: stop it or choose another port)";
    else if (e == EADDRNOTAVAIL)
        hint = " (no interface of this machine has that address)";
    else if (e == EACCES)
        hint = " (ports below 1024 need privileges)";
    snprintf(err, errlen, "cannot listen on %s: %s%s", shown, strerror(e), hint);
    return e;
}

/* Load the certificate and key in a throwaway lws context on lws's own poll loop, which frees
 * synchronously: a bad file is then a configuration error reported before anything listens. */
static int tls_check(const struct serve_opts *o, char *err, size_t errlen)
{
    struct lws_context_creation_info info;
    struct lws_context *cx;
    struct lws_vhost *vh;
    char q1[160], q2[160];

    if (access(o->tls_cert, R_OK) < 0) {
        snprintf(err, errlen, "TLS certificate '%s': %s", quote(o->tls_cert, q1, sizeof(q1)),
                 strerror(errno));
        return -EINVAL;
    }
    if (access(o->tls_key, R_OK) < 0) {
        snprintf(err, errlen, "TLS key '%s': %s", quote(o->tls_key, q1, sizeof(q1)),
                 strerror(errno));
        return -EINVAL;
    }
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS; /* TLS on the vhost only: see serve_new() */
    cx = lws_create_context(&info);
    if (!cx)
        return 0; /* cannot tell here; the real vhost will */
    memset(&info, 0, sizeof(info));
    info.vhost_name = "wsmon-serve-tls-check";
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.ssl_cert_filepath = o->tls_cert;
    info.ssl_private_key_filepath = o->tls_key;
    lws_last_err[0] = '\0';
    vh = lws_create_vhost(cx, &info);
    lws_context_destroy(cx);
    if (vh)
        return 0;
    snprintf(err, errlen,
             "cannot use TLS certificate '%s' with key '%s' (PEM files that belong "
             "together?)%s%s",
             quote(o->tls_cert, q1, sizeof(q1)), quote(o->tls_key, q2, sizeof(q2)),
             lws_last_err[0] ? ": lws: " : "", lws_last_err);
    return -EINVAL;
}

struct serve *serve_new(uv_loop_t *loop, const struct serve_opts *o, char *err, size_t errlen)
{
    struct lws_context_creation_info info;
    void *loops[1] = {loop};
    const char *addr = o->addr ? o->addr : "127.0.0.1";
    unsigned char abuf[sizeof(struct in6_addr)];
    char canon[INET6_ADDRSTRLEN], shown[INET6_ADDRSTRLEN + 16], q[64];
    bool tls = o->tls_cert || o->tls_key;
    struct serve *s;
    int fam, e;

    if (inet_pton(AF_INET, addr, abuf) == 1) {
        fam = AF_INET;
    } else if (inet_pton(AF_INET6, addr, abuf) == 1) {
        fam = AF_INET6;
    } else {
        snprintf(err, errlen, "listen address '%s' is not a numeric IPv4 or IPv6 address",
                 quote(addr, q, sizeof(q)));
        errno = EINVAL;
        return NULL;
    }
    if (o->port < 0 || o->port > 65535) {
        snprintf(err, errlen, "listen port %d is out of range 0-65535", o->port);
        errno = EINVAL;
        return NULL;
    }
    if (!o->tls_cert != !o->tls_key) {
        snprintf(err, errlen, "TLS needs both a certificate and a key file");
        errno = EINVAL;
        return NULL;
    }
    lws_set_log_level(LLL_ERR | LLL_WARN | (log_get_level() >= LOG_DEBUG ? LLL_NOTICE : 0),
                      lws_log_emit);
    if (tls && tls_check(o, err, errlen) < 0) {
        errno = EINVAL;
        return NULL;
    }
    inet_ntop(fam, abuf, canon, sizeof(canon));
    snprintf(shown, sizeof(shown), fam == AF_INET6 ? "[%s]:%d" : "%s:%d", canon, o->port);
    if ((e = bind_check(fam, abuf, o->port, shown, err, errlen))) {
        errno = e;
        return NULL;
    }

    s = xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->log = o->log;
    s->log_ud = o->log_ud;

    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    /* No LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT on the context: in lws 4.1.6 it re-allocates
     * the process-wide OpenSSL ex_data indexes, and any lws context made earlier on this loop
     * (the client engine) then cannot find, so leaks, its client SSL_CTX. The TLS vhost gets
     * the option; OpenSSL 3 initialises itself. */
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
                   LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.foreign_loops = loops;
    info.pcontext = &s->cx;
    info.user = s;
    info.max_http_header_data = HDR_MAX;
    s->cx = lws_create_context(&info);
    if (!s->cx) {
        snprintf(err, errlen,
                 "libwebsockets could not start (is libwebsockets-evlib-uv "
                 "installed?)");
        free(s);
        errno = EIO;
        return NULL;
    }

    memset(&info, 0, sizeof(info));
    info.vhost_name = "wsmon-serve";
    info.port = o->port;
    info.iface = canon;
    info.protocols = protocols;
    /* an IPv4 address binds only that address with IPv6 off (NOTES section 7); an IPv6 one
     * binds only IPv6 */
    info.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND | LWS_SERVER_OPTION_VALIDATE_UTF8 |
                   (tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0) |
                   (fam == AF_INET ? LWS_SERVER_OPTION_DISABLE_IPV6
                                   : LWS_SERVER_OPTION_IPV6_V6ONLY_MODIFY |
                                         LWS_SERVER_OPTION_IPV6_V6ONLY_VALUE);
    info.ssl_cert_filepath = o->tls_cert;
    info.ssl_private_key_filepath = o->tls_key;
    info.alpn = "http/1.1"; /* no h2: the raw HTTP/1 replies must stay HTTP/1 */
    info.retry_and_idle_policy = &no_keepalive;
    info.keepalive_timeout = 5;
    info.timeout_secs = 10;
    lws_last_err[0] = '\0';
    s->vh = lws_create_vhost(s->cx, &info);
    s->port = s->vh ? lws_get_vhost_listen_port(s->vh) : -1;
    if (!s->vh || s->port <= 0) {
        snprintf(err, errlen, "cannot listen on %s%s%s%s", shown,
                 lws_last_err[0] ? " (libwebsockets: " : "", lws_last_err,
                 lws_last_err[0] ? ")" : "");
        /* Only reachable when the address was taken between bind_check() and here. lws
         * 4.1.6 then leaves its uv handles unclosed and a second lws_context_destroy() frees
         * them under the loop (valgrind: use after free), so the context shell (~330 kB) is
         * left behind; the loop still empties. */
        lws_context_destroy(s->cx);
        free(s);
        errno = EIO;
        return NULL;
    }
    snprintf(s->url, sizeof(s->url), fam == AF_INET6 ? "%s://[%s]:%d" : "%s://%s:%d",
             tls ? "wss" : "ws", canon, s->port);
    uv_timer_init(loop, &s->grace);
    s->grace.data = s;
    return s;
}

int serve_port(const struct serve *s)
{
    return s->port;
}

const char *serve_url(const struct serve *s)
{
    return s->url;
}

size_t serve_active(const struct serve *s)
{
    return s->n_conns;
}

void serve_free(struct serve *s)
{
    if (!s)
        return;
    if (!s->finished) {
        s->draining = true;
        serve_finish(s);
    }
    if (s->cx)
        lws_context_destroy(s->cx);
    free(s);
}
