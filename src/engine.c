/* SPDX-License-Identifier: MIT */
/* The WebSocket client engine: libwebsockets on a libuv loop, turned into typed events. */
#include "config.h"

#include "engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "cfg.h"
#include "dns.h"
#include "log.h"
#include "tls.h"
#include "xmem.h"

#define PING_TAG         "WSM1"
#define PING_LEN         12
#define EXPECT_BUF_MAX   (64 * 1024)
#define ENGINE_RX_BUF    128 /* lws's receive buffer per connection (a ping's payload fits) */
#define LWS_TIMEOUT_SECS 300 /* lws's own timeouts stay out of the way of ours */

struct conn;

/* One lws connection. It is the lws user data, so it lives as long as the wsi: an attempt
 * that ends early (our timeout) orphans it (conn = NULL) and lws frees it at WSI_DESTROY. */
enum att_kind { ATT_WS = 1, ATT_HEALTH };

struct att {
    enum att_kind kind; /* first: tells the verify callback which struct this is */
    struct conn *conn;  /* NULL once orphaned */
    struct lws *wsi;
    bool in_connect; /* inside lws_client_connect_via_info() */
    bool destroyed;  /* WSI_DESTROY seen while in_connect */
};

enum deadline { DL_NONE, DL_HANDSHAKE, DL_EXPECT };

struct ep;

struct conn {
    struct engine *en;
    struct ep *ep;
    uint32_t idx;
    uint32_t attempt;
    bool active;
    struct att *att;
    bool dns_pending;
    char addr[EVT_ADDR_MAX];

    enum evt_phase reached;
    bool tls_done, opened, response_seen;
    struct evt *held_response; /* a 101's head, sent once lws has checked the handshake */
    int http_status;
    enum evt_cause pending_cause; /* decided before the end (status, verify, redirect) */
    struct evt_tls *tls;          /* wss:// until the handshake is reported; NULL otherwise */
    int verify_err;               /* first X509 error seen, 0 none */
    bool peer_close;              /* a close frame came from the server */
    int peer_code;
    char *peer_reason; /* NULL, or the close frame's reason (to EVT_REASON_MAX - 1 bytes) */
    bool closing_by_us;
    int our_code;
    char *our_reason;      /* NULL, or the reason of our close */
    bool kill_after_close; /* our close is a timeout: by = timeout */
    enum evt_cause close_cause;

    /* one timer for the earliest of two deadlines (loop time, ms): the handshake's or the
     * expected message's (dl), and the outstanding ping's pong (pong_at_ms, 0 = none) */
    uv_timer_t deadline;
    enum deadline dl;
    uint64_t dl_at_ms, pong_at_ms;
    uint64_t armed_at_ms; /* when the timer fires (0: stopped); it may fire for nothing */
    bool timers_init;

    bool want_send, want_ping, want_close;
    bool ping_outstanding;
    int64_t ping_sent_us;

    uint64_t rx_len;
    bool rx_binary;
    char *rx_first; /* the first bytes of a message that comes in pieces (until its end) */
    uint32_t rx_first_len;
    char *expect_buf;
    size_t expect_len;
    bool expect_seen;
    bool work_queued;
    struct conn *work_next;
};

/* One --health poll, the lws user data of its wsi (orphaned like struct att). */
struct hpoll {
    enum att_kind kind;
    struct ep *ep; /* NULL once orphaned */
    struct lws *wsi;
    bool in_connect, destroyed;
};

struct ep {
    uint32_t id;
    struct engine *en;
    /* --health */
    struct url health;
    bool have_health;
    struct hpoll *hp; /* the poll running, if any */
    uint64_t health_seq;
    int64_t health_t0_us;
    uv_timer_t health_timer; /* the poll's deadline */
    bool health_timer_init;
    char health_addr[EVT_ADDR_MAX];
    char health_host[URL_HOST_MAX + 8];
    const struct cfg_ep *cfg;
    struct conn *conns;
    size_t n_conns;
    struct lws_vhost *vh;
    char host_hdr[URL_HOST_MAX + 8];
    char sni_host[URL_HOST_MAX];
    char origin[1024];
    char protocols[512];
    char resolve_addr[EVT_ADDR_MAX];
    char hdr_names[CFG_MAX_HEADERS][80]; /* "Name:" */
    const char *hdr_values[CFG_MAX_HEADERS];
    size_t n_hdrs;
    struct ep *next;
};

struct vhost {
    char *cacert;
    char *proxy;
    struct lws_vhost *vh;
    struct vhost *next;
};

struct engine {
    uv_loop_t *loop;
    struct lws_context *cx;
    struct dns *dns;
    engine_evt_fn fn;
    void *ud;
    struct ep *eps;
    struct ep **by_id; /* eps indexed by id (ids are small: the config's order) */
    uint32_t n_by_id;
    struct vhost *vhosts;
    int n_vhosts;
    size_t active;
    bool shutting_down;
    uv_timer_t work; /* runs deferred closes outside lws callbacks */
    struct conn *work_list;
    uv_prepare_t prep;
    uv_check_t check;
    uint64_t last_check_ns, last_idle_ns;
    int64_t stall_max_us;
    int open_handles;
};

static const lws_retry_bo_t no_keepalive;

static void release_response(struct conn *c, int accept_ok);
static int health_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len);
static struct ep *ep_find(struct engine *en, uint32_t id); /* all zero: lws's validity pings off */

static int64_t now_mono_us(void)
{
    return (int64_t)(uv_hrtime() / 1000);
}

static int64_t now_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void evt_init(struct evt *e, struct conn *c, enum evt_kind kind)
{
    memset(e, 0, offsetof(struct evt, u));
    e->kind = kind;
    e->ep = c->ep->id;
    e->conn = c->idx;
    e->attempt = c->attempt;
    e->t_mono_us = now_mono_us();
    e->t_wall_us = now_wall_us();
}

static void emit(struct conn *c, struct evt *e)
{
    c->en->fn(c->en->ud, e);
}

static void emit_simple(struct conn *c, enum evt_kind kind)
{
    struct evt e;
    evt_init(&e, c, kind);
    memset(&e.u, 0, sizeof(e.u));
    emit(c, &e);
}

static void sockaddr_str(const struct sockaddr_storage *ss, char *out, size_t len)
{
    char ip[INET6_ADDRSTRLEN];

    out[0] = '\0';
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const void *)ss;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
        snprintf(out, len, "%s:%u", ip, ntohs(s4->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const void *)ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
        snprintf(out, len, "[%s]:%u", ip, ntohs(s6->sin6_port));
    }
}

/* ---- ending an attempt ------------------------------------------------------------- */

static void on_deadline(uv_timer_t *t);

/* Arm the connection's timer for the earlier of its deadlines. Lazily: a timer already set
 * to fire no later is left alone (it fires, finds nothing due and re-arms), so a ping
 * answered in time costs no timer operation (10,000 pings a second: two heap updates each
 * otherwise). */
static void timer_arm(struct conn *c)
{
    uint64_t at = c->dl != DL_NONE ? c->dl_at_ms : 0, now;

    if (c->pong_at_ms && (!at || c->pong_at_ms < at))
        at = c->pong_at_ms;
    if (!at || (c->armed_at_ms && c->armed_at_ms <= at))
        return;
    now = uv_now(c->en->loop);
    c->armed_at_ms = at > now ? at : now;
    uv_timer_start(&c->deadline, on_deadline, at > now ? at - now : 0, 0);
}

static void deadline_set(struct conn *c, enum deadline dl, int64_t in_ms)
{
    c->dl = dl;
    c->dl_at_ms = uv_now(c->en->loop) + (uint64_t)(in_ms > 0 ? in_ms : 0);
    timer_arm(c);
}

static void deadline_clear(struct conn *c)
{
    c->dl = DL_NONE;
    timer_arm(c);
}

static void pong_deadline(struct conn *c, int64_t in_ms)
{
    c->pong_at_ms = in_ms > 0 ? uv_now(c->en->loop) + (uint64_t)in_ms : 0;
    timer_arm(c);
}

static void timers_stop(struct conn *c)
{
    if (!c->timers_init)
        return;
    uv_timer_stop(&c->deadline);
    c->armed_at_ms = 0;
    c->dl = DL_NONE;
    c->pong_at_ms = 0;
}

/* How did the TCP connection end? TCP_INFO tells a FIN received (CLOSE_WAIT and later)
 * from a reset (CLOSE); errno is the fallback. */
static enum evt_transport transport_of(struct lws *wsi, int err)
{
    int fd = wsi ? (int)lws_get_socket_fd(wsi) : -1;

    if (fd >= 0) {
        struct tcp_info ti;
        socklen_t tl = sizeof(ti);
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0) {
            switch (ti.tcpi_state) {
            case TCP_CLOSE_WAIT:
            case TCP_LAST_ACK:
            case TCP_CLOSING:
            case TCP_TIME_WAIT:
                return EVT_TR_EOF;
            case TCP_CLOSE:
                return EVT_TR_RESET;
            default:
                break;
            }
        }
    }
    if (err == ECONNRESET || err == EPIPE)
        return EVT_TR_RESET;
    return EVT_TR_EOF;
}

struct end_info {
    enum evt_cause cause;
    enum evt_by by;
    enum evt_transport transport;
    int code;
    bool frame;
    bool frame_unknown;
    const char *reason;
    int sys_errno;
    const char *detail;
};

/* The one place an attempt ends: emits TLS details not yet sent, then EVT_CLOSED. With
 * kill, a live wsi is torn down (its later callbacks find an orphaned att). */
/* Close reasons are kept only by connections that closed (most never do): allocated, at
 * most EVT_REASON_MAX - 1 bytes of s (up to its NUL or n), NULL s frees. */
static void set_reason(char **dst, const char *s, size_t n)
{
    free(*dst);
    *dst = NULL;
    if (!s)
        return;
    n = strnlen(s, n < EVT_REASON_MAX - 1 ? n : EVT_REASON_MAX - 1);
    *dst = xmalloc(n + 1);
    memcpy(*dst, s, n);
    (*dst)[n] = '\0';
}

static const char *reason_of(const char *r)
{
    return r ? r : "";
}

static void conn_end(struct conn *c, const struct end_info *ei, bool kill)
{
    struct engine *en = c->en;
    struct att *a = c->att;
    struct evt e;

    if (!c->active)
        return;
    release_response(c, -1);
    timers_stop(c);
    c->active = false;
    c->dns_pending = false;
    en->active--;
    c->att = NULL;
    free(c->expect_buf);
    c->expect_buf = NULL;
    free(c->rx_first);
    c->rx_first = NULL;

    if (c->tls && !c->tls_done && (c->verify_err || c->tls->subject[0])) {
        evt_init(&e, c, EVT_TLS);
        memset(&e.u, 0, sizeof(e.u));
        e.u.tls = *c->tls;
        emit(c, &e);
    }
    free(c->tls);
    c->tls = NULL;

    evt_init(&e, c, EVT_CLOSED);
    memset(&e.u, 0, sizeof(e.u));
    e.u.closed.cause = ei->cause;
    e.u.closed.by = ei->by;
    e.u.closed.transport = ei->transport;
    e.u.closed.code = ei->code;
    e.u.closed.frame = ei->frame;
    e.u.closed.frame_unknown = ei->frame_unknown;
    e.u.closed.sys_errno = ei->sys_errno;
    if (ei->reason)
        xstrlcpy(e.u.closed.reason, ei->reason, sizeof(e.u.closed.reason));
    if (ei->detail)
        xstrlcpy(e.u.closed.detail, ei->detail, sizeof(e.u.closed.detail));

    if (a) {
        struct lws *wsi = a->wsi;
        a->conn = NULL;
        if (kill && wsi && !a->in_connect) {
            /* a close frame only on an open WebSocket (lws asserts the role) */
            if (c->opened && (c->closing_by_us || c->kill_after_close))
                lws_close_reason(wsi, (enum lws_close_status)c->our_code,
                                 (unsigned char *)reason_of(c->our_reason),
                                 strlen(reason_of(c->our_reason)));
            lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
        }
    }
    emit(c, &e);
}

static void end_simple(struct conn *c, enum evt_cause cause, enum evt_by by, int code,
                       const char *detail, bool kill)
{
    struct end_info ei = {.cause = cause, .by = by, .code = code, .detail = detail};
    conn_end(c, &ei, kill);
}

/* ---- deferred work: closes run from a uv callback, never inside an lws callback ---- */

/* Closes per turn: lws 4.1 keeps pending close-ack timeouts in one sorted list, so closing
 * 10,000 connections in one turn is quadratic (a 2.6 s stall at exit); in slices the acks
 * come back and the list stays short. */
#define WORK_CLOSES_PER_TURN 256

static void work_cb(uv_timer_t *t)
{
    struct engine *en = t->data;
    struct conn *c;
    int n = 0;

    while ((c = en->work_list)) {
        if (n++ == WORK_CLOSES_PER_TURN) {
            uv_timer_start(&en->work, work_cb, 1, 0); /* the rest next millisecond */
            return;
        }
        en->work_list = c->work_next;
        c->work_next = NULL;
        c->work_queued = false;
        if (!c->active || !c->want_close)
            continue;
        if (!c->opened || !c->att || !c->att->wsi) {
            /* not open yet: abort the attempt */
            c->want_close = false;
            end_simple(c, EVT_CAUSE_NONE, EVT_BY_CLIENT, 1006, "aborted", true);
            continue;
        }
        {
            struct lws *wsi = c->att->wsi;
            c->want_close = false;
            lws_close_reason(wsi, (enum lws_close_status)c->our_code,
                             (unsigned char *)reason_of(c->our_reason),
                             strlen(reason_of(c->our_reason)));
            lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
        }
    }
}

static void work_queue(struct conn *c)
{
    if (c->work_queued)
        return;
    c->work_queued = true;
    c->work_next = c->en->work_list;
    c->en->work_list = c;
    uv_timer_start(&c->en->work, work_cb, 0, 0);
}

/* ---- timers --------------------------------------------------------------------------- */

static void on_deadline(uv_timer_t *t)
{
    struct conn *c = t->data;
    enum evt_cause cause;
    uint64_t now = uv_now(c->en->loop);
    bool pong_due = c->pong_at_ms && now >= c->pong_at_ms;
    bool dl_due = c->dl != DL_NONE && now >= c->dl_at_ms;

    c->armed_at_ms = 0;
    if (!c->active)
        return;
    if (pong_due && (!dl_due || c->pong_at_ms <= c->dl_at_ms)) {
        c->pong_at_ms = 0;
        end_simple(c, EVT_CAUSE_PING_TIMEOUT, EVT_BY_TIMEOUT, 1006, "no pong", true);
        return;
    }
    if (!dl_due) { /* nothing due (armed lazily for an earlier deadline since cleared) */
        timer_arm(c);
        return;
    }
    if (c->dl == DL_EXPECT) {
        /* open, but the expected message did not come: close politely, report by timeout */
        struct end_info ei = {.cause = EVT_CAUSE_NO_FIRST_MESSAGE,
                              .by = EVT_BY_TIMEOUT,
                              .code = 1000,
                              .frame = c->peer_close};
        c->kill_after_close = true;
        c->our_code = 1000;
        set_reason(&c->our_reason, "wsmon: expected message not received", SIZE_MAX);
        conn_end(c, &ei, true);
        return;
    }
    if (c->dns_pending)
        cause = EVT_CAUSE_DNS_TIMEOUT;
    else if (c->reached < EVT_PH_TCP)
        cause = EVT_CAUSE_CONNECT_TIMEOUT;
    else
        cause = EVT_CAUSE_HANDSHAKE_TIMEOUT;
    end_simple(c, cause, EVT_BY_TIMEOUT, 1006, "timed out", true);
}

/* ---- TLS ------------------------------------------------------------------------------ */

static void tls_done_cb(void *arg, void *ssl)
{
    struct att *a = arg;
    struct conn *c = a->conn;
    struct evt e;

    if (!c || !c->active || c->tls_done || !c->tls)
        return;
    c->tls_done = true;
    tls_fill_session(ssl, c->tls);
    if (c->tls->verify == EVT_VERIFY_NONE)
        c->tls->verify = EVT_VERIFY_OK;
    c->reached = EVT_PH_TLS;
    evt_init(&e, c, EVT_TLS);
    memset(&e.u, 0, sizeof(e.u));
    e.u.tls = *c->tls;
    free(c->tls); /* reported: the model keeps it */
    c->tls = NULL;
    emit(c, &e);
}

/* ---- the lws callback ----------------------------------------------------------------- */

static enum evt_cause cause_from_connect_error(struct conn *c, const char *msg, int err)
{
    if (c->pending_cause)
        return c->pending_cause;
    if (msg && strstr(msg, "Accept hash"))
        return EVT_CAUSE_BAD_ACCEPT;
    if (msg && !strncmp(msg, "proxy", 5)) /* the CONNECT tunnel failed */
        return strstr(msg, "not h1") ? EVT_CAUSE_HTTP_STATUS
               : err == ECONNRESET   ? EVT_CAUSE_RESET
                                     : EVT_CAUSE_EOF;
    if (c->response_seen && c->http_status == 101)
        return EVT_CAUSE_BAD_ACCEPT; /* a 101 whose Upgrade/Connection lws rejected */
    if (c->reached < EVT_PH_TCP) {
        switch (err) {
        case ENETUNREACH:
        case EHOSTUNREACH:
        case EADDRNOTAVAIL:
            return EVT_CAUSE_UNREACHABLE;
        case ETIMEDOUT:
            return EVT_CAUSE_CONNECT_TIMEOUT;
        default:
            return EVT_CAUSE_REFUSED;
        }
    }
    if (c->ep->cfg->u.tls && !c->tls_done) {
        if (c->verify_err)
            return tls_cause_from_verify(tls_verify_from_x509(c->verify_err));
        if (err == ECONNRESET || (msg && strstr(msg, " 104")))
            return EVT_CAUSE_RESET;
        if (msg && strstr(msg, "SYSCALL"))
            return EVT_CAUSE_EOF;
        return EVT_CAUSE_TLS_PROTOCOL;
    }
    if (c->response_seen && c->http_status != 101)
        return EVT_CAUSE_HTTP_STATUS;
    return EVT_CAUSE_NONE; /* decided from the transport by the caller */
}

/* Cookies that load balancers set to pin a client to a target. */
static bool sticky_cookie(const char *name)
{
    static const char *const names[] = {"AWSALB",      "AWSALBAPP", "AWSELB",
                                        "SERVERID",    "route",     "INGRESSCOOKIE",
                                        "BIGipServer", "GCLB",      "ARRAffinity"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strncmp(name, names[i], strlen(names[i])))
            return true;
    return false;
}

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static void copy_hdr(struct lws *wsi, enum lws_token_indexes tok, char *out, size_t len)
{
    int n = lws_hdr_copy(wsi, out, (int)len, tok);
    if (n < 0)
        out[0] = '\0';
}

static void on_response(struct conn *c, struct lws *wsi)
{
    struct evt e;
    struct evt_http *h = &e.u.http;
    char buf[EVT_HDR_MAX];
    int i, n;
    size_t used = 0;

    evt_init(&e, c, EVT_RESPONSE);
    memset(&e.u, 0, sizeof(e.u));
    c->response_seen = true;
    c->http_status = (int)lws_http_client_http_response(wsi);
    h->status = c->http_status;
    copy_hdr(wsi, WSI_TOKEN_HTTP_SERVER, h->server, sizeof(h->server));
    copy_hdr(wsi, WSI_TOKEN_UPGRADE, h->upgrade, sizeof(h->upgrade));
    copy_hdr(wsi, WSI_TOKEN_CONNECTION, h->connection, sizeof(h->connection));
    copy_hdr(wsi, WSI_TOKEN_HTTP_LOCATION, h->location, sizeof(h->location));
    h->accept_ok = -1;
    if (c->ep->cfg->backend_header) {
        char key[80];
        int kl = snprintf(key, sizeof(key), "%s:", c->ep->cfg->backend_header);
        for (i = 0; i < kl; i++)
            key[i] = (char)((key[i] >= 'A' && key[i] <= 'Z') ? key[i] + 32 : key[i]);
        if (lws_hdr_custom_copy(wsi, h->backend, sizeof(h->backend), key, kl) < 0)
            h->backend[0] = '\0';
    }
    /* Set-Cookie names (never values): one fragment per header. A load balancer's sticky
     * cookie names the target: keep its name and a hash of its value, never the value. */
    for (i = 0; h->n_cookies < EVT_COOKIES_MAX && i < 16; i++) {
        char *eq, *semi;
        n = lws_hdr_copy_fragment(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_SET_COOKIE, i);
        if (n <= 0)
            break;
        eq = strchr(buf, '=');
        if (!eq)
            continue;
        *eq = '\0';
        semi = strchr(eq + 1, ';');
        if (semi)
            *semi = '\0';
        xstrlcpy(h->cookies[h->n_cookies++], buf, EVT_COOKIE_NAME_MAX);
        if (!h->sticky[0] && sticky_cookie(buf))
            snprintf(h->sticky, sizeof(h->sticky), "%.*s#%08x", EVT_COOKIE_NAME_MAX - 1, buf,
                     fnv1a(eq + 1));
    }
    /* the head as lws parsed it: status and the headers it knows */
    if (c->http_status != 101) {
        int status_tok = -1;

        /* the status line first: lws keeps it as a token named "http/1.1 " */
        for (i = 0; i < (int)WSI_TOKEN_COUNT; i++) {
            const unsigned char *name = lws_token_to_string((enum lws_token_indexes)i);
            if (name && !strncmp((const char *)name, "http/1.", 7) &&
                lws_hdr_total_length(wsi, i) > 0 &&
                lws_hdr_copy(wsi, buf, sizeof(buf), (enum lws_token_indexes)i) >= 0) {
                status_tok = i;
                break;
            }
        }
        if (status_tok >= 0)
            used = (size_t)snprintf(h->head, sizeof(h->head), "HTTP/1.1 %s\r\n", buf);
        else
            used = (size_t)snprintf(h->head, sizeof(h->head), "HTTP/1.1 %d\r\n", c->http_status);
        for (i = 0; i < (int)WSI_TOKEN_COUNT && used < sizeof(h->head); i++) {
            const unsigned char *name = lws_token_to_string((enum lws_token_indexes)i);
            int w;
            if (i == status_tok || !name || !*name || name[0] == ':' ||
                lws_hdr_total_length(wsi, i) <= 0)
                continue;
            if (i == WSI_TOKEN_HTTP_SET_COOKIE) {
                /* names only: cookie values are credentials (DESIGN 9) */
                size_t bl = 0;
                buf[0] = '\0';
                for (int k = 0; k < h->n_cookies && bl < sizeof(buf); k++)
                    bl += (size_t)snprintf(buf + bl, sizeof(buf) - bl, "%s%s=***", k ? ", " : "",
                                           h->cookies[k]);
            } else if (i == WSI_TOKEN_HTTP_AUTHORIZATION || i == WSI_TOKEN_HTTP_COOKIE) {
                snprintf(buf, sizeof(buf), "***");
            } else if (lws_hdr_copy(wsi, buf, sizeof(buf), (enum lws_token_indexes)i) < 0) {
                continue;
            }
            w = snprintf(h->head + used, sizeof(h->head) - used, "%s %s\r\n", name, buf);
            if (w < 0 || (size_t)w >= sizeof(h->head) - used) {
                h->head_truncated = true;
                break;
            }
            used += (size_t)w;
        }
    }
    if (c->http_status == 101) {
        /* lws checks Upgrade, Connection and Sec-WebSocket-Accept next: hold the event
         * until it says (FILTER_PRE_ESTABLISH or CONNECTION_ERROR) so accept_ok is known */
        free(c->held_response);
        c->held_response = xmalloc(sizeof(e));
        memcpy(c->held_response, &e, sizeof(e));
        return;
    }
    c->pending_cause = (c->http_status >= 300 && c->http_status < 400 && h->location[0])
                           ? EVT_CAUSE_REDIRECT
                           : EVT_CAUSE_HTTP_STATUS;
    emit(c, &e);
}

/* Send the held 101 response with lws's verdict on the accept key (1 ok, 0 wrong, -1 the
 * handshake failed for another reason). */
static void release_response(struct conn *c, int accept_ok)
{
    struct evt *e = c->held_response;

    if (!e)
        return;
    c->held_response = NULL;
    e->u.http.accept_ok = accept_ok;
    emit(c, e);
    free(e);
}

static void on_receive(struct conn *c, struct lws *wsi, const void *in, size_t len)
{
    const struct cfg_ep *cfg = c->ep->cfg;
    bool first = lws_is_first_fragment(wsi), final = lws_is_final_fragment(wsi);
    const void *head;
    struct evt e;

    if (first) {
        c->rx_len = 0;
        c->rx_binary = lws_frame_is_binary(wsi);
        c->rx_first_len = (uint32_t)(len < EVT_FIRST_MAX ? len : EVT_FIRST_MAX);
        free(c->rx_first);
        c->rx_first = NULL;
        if (!final) { /* kept until the last piece; a whole message is read from `in` */
            c->rx_first = xmalloc(EVT_FIRST_MAX);
            memcpy(c->rx_first, in, c->rx_first_len);
        }
        c->expect_len = 0;
    }
    c->rx_len += len;
    if (cfg->expect_message && !c->expect_seen && c->expect_len < EXPECT_BUF_MAX) {
        size_t take = len < EXPECT_BUF_MAX - c->expect_len ? len : EXPECT_BUF_MAX - c->expect_len;
        if (!c->expect_buf)
            c->expect_buf = xmalloc(EXPECT_BUF_MAX);
        memcpy(c->expect_buf + c->expect_len, in, take);
        c->expect_len += take;
    }
    if (!final)
        return;

    evt_init(&e, c, EVT_MSG);
    memset(&e.u, 0, sizeof(e.u));
    e.u.msg.out = false;
    e.u.msg.binary = c->rx_binary;
    e.u.msg.len = c->rx_len;
    /* the first bytes: kept from the first piece, or this piece if it is the whole message */
    head = c->rx_first ? (const void *)c->rx_first : first ? in : NULL;
    e.u.msg.first_len = head ? c->rx_first_len : 0;
    if (head)
        memcpy(e.u.msg.first, head, e.u.msg.first_len);
    free(c->rx_first);
    c->rx_first = NULL;
    if (cfg->expect_message && !c->expect_seen && c->expect_buf &&
        memmem(c->expect_buf, c->expect_len, cfg->expect_message, strlen(cfg->expect_message))) {
        e.u.msg.matched = true;
        c->expect_seen = true;
        free(c->expect_buf); /* 64 KiB: not needed once found */
        c->expect_buf = NULL;
        c->expect_len = 0;
        if (c->dl == DL_EXPECT)
            deadline_clear(c);
    }
    emit(c, &e);
}

static void on_writeable(struct conn *c, struct lws *wsi)
{
    const struct cfg_ep *cfg = c->ep->cfg;

    if (c->want_send && cfg->send) {
        size_t n = strlen(cfg->send);
        unsigned char *buf = xmalloc(LWS_PRE + n + 1);
        struct evt e;

        c->want_send = false;
        memcpy(buf + LWS_PRE, cfg->send, n);
        if (lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_TEXT) >= (int)n) {
            evt_init(&e, c, EVT_MSG);
            memset(&e.u, 0, sizeof(e.u));
            e.u.msg.out = true;
            e.u.msg.len = n;
            emit(c, &e);
        }
        free(buf);
        if (c->want_ping)
            lws_callback_on_writable(wsi);
        return;
    }
    if (c->want_ping) {
        unsigned char buf[LWS_PRE + PING_LEN];
        int64_t t = now_mono_us();

        c->want_ping = false;
        memcpy(buf + LWS_PRE, PING_TAG, 4);
        memcpy(buf + LWS_PRE + 4, &t, 8);
        if (lws_write(wsi, buf + LWS_PRE, PING_LEN, LWS_WRITE_PING) >= PING_LEN) {
            c->ping_sent_us = t;
            emit_simple(c, EVT_PING);
        }
    }
}

static int ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                 size_t len)
{
    struct att *a;
    struct conn *c;
    int err = errno;

    /* Only our own client connections carry our pointer, as their opaque user data: the
     * `user` argument of context and vhost callbacks (say OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_
     * CERTS at vhost creation) is not ours, and callback 58 passes an X509_STORE_CTX there. */
    (void)user;
    a = wsi ? lws_get_opaque_user_data(wsi) : NULL;
    if (reason == LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION) {
        if (a && a->kind == ATT_HEALTH) {
            /* a health poll: verify as configured, --insecure skips */
            struct hpoll *hp = (struct hpoll *)(void *)a;
            if (hp->ep && hp->ep->cfg->insecure)
                tls_verify_peek(user, NULL, 1);
            return 0;
        }
    }
    if (a && a->kind == ATT_HEALTH) /* a health poll's wsi bound to this protocol */
        return health_cb(wsi, reason, user, in, len);
    if (!a || a->kind != ATT_WS)
        return 0;
    if (reason == LWS_CALLBACK_WSI_DESTROY) {
        c = a->conn;
        if (c && c->active) {
            /* the wsi went away without an end callback: still one end per attempt */
            struct end_info ei = {.cause = EVT_CAUSE_EOF,
                                  .by = EVT_BY_NETWORK,
                                  .code = 1006,
                                  .detail = "connection destroyed"};
            a->wsi = NULL;
            conn_end(c, &ei, false);
        }
        if (a->in_connect) {
            a->destroyed = true;
        } else {
            free(a);
        }
        return 0;
    }
    c = a->conn;
    if (!c || !c->active)
        return 0;
    if (!a->wsi)
        a->wsi = wsi;

    switch (reason) {
    case LWS_CALLBACK_WSI_CREATE: {
        /* TCP is up */
        struct evt e;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = (int)lws_get_socket_fd(wsi);

        evt_init(&e, c, EVT_TCP);
        memset(&e.u, 0, sizeof(e.u));
        if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
            sockaddr_str(&ss, e.u.tcp.remote, sizeof(e.u.tcp.remote));
        sl = sizeof(ss);
        if (fd >= 0 && getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
            sockaddr_str(&ss, e.u.tcp.local, sizeof(e.u.tcp.local));
        c->reached = EVT_PH_TCP;
        emit(c, &e);
        break;
    }
    case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION: {
        /* user = X509_STORE_CTX, in = SSL, len = preverify_ok */
        int x;

        if (!c->tls) /* not ours to judge: only wss:// attempts carry a record */
            return 0;
        x = tls_verify_peek(user, c->tls, c->ep->cfg->insecure);
        tls_watch_handshake(in, tls_done_cb, a);
        if (x && !c->verify_err) {
            c->verify_err = x;
            c->tls->verify_code = x;
            c->tls->verify = tls_verify_from_x509(x);
        }
        c->tls->insecure = c->ep->cfg->insecure;
        return 0;
    }
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        unsigned char **p = in, *end = *p + len;
        struct ep *ep = c->ep;
        size_t i;

        if (ep->cfg->u.tls && !c->tls_done) {
            /* no handshake-done callback came (should not happen): time it here */
            void *ssl = lws_get_ssl(wsi);
            if (ssl)
                tls_done_cb(a, ssl);
        }
        for (i = 0; i < ep->n_hdrs; i++) {
            if (lws_add_http_header_by_name(wsi, (const unsigned char *)ep->hdr_names[i],
                                            (const unsigned char *)ep->hdr_values[i],
                                            (int)strlen(ep->hdr_values[i]), p, end))
                return -1;
        }
        emit_simple(c, EVT_REQUEST);
        break;
    }
    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
        on_response(c, wsi);
        break;
    case LWS_CALLBACK_CLIENT_HTTP_REDIRECT:
        /* reported, never followed */
        if (!c->response_seen)
            on_response(c, wsi);
        c->pending_cause = EVT_CAUSE_REDIRECT;
        return 1;
    case LWS_CALLBACK_CLIENT_FILTER_PRE_ESTABLISH:
        if (!c->response_seen)
            on_response(c, wsi);
        release_response(c, 1);
        break;
    case LWS_CALLBACK_CLIENT_ESTABLISHED: {
        const struct cfg_ep *cfg = c->ep->cfg;
        c->opened = true;
        c->reached = EVT_PH_OPEN;
        deadline_clear(c);
        emit_simple(c, EVT_OPEN);
        if (!c->active)
            break;
        if (cfg->expect_message && !c->expect_seen)
            deadline_set(c, DL_EXPECT, cfg->expect_within_ms);
        if (cfg->send) {
            c->want_send = true;
            lws_callback_on_writable(wsi);
        }
        break;
    }
    case LWS_CALLBACK_CLIENT_RECEIVE:
        on_receive(c, wsi, in, len);
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
        if (len == PING_LEN && !memcmp(in, PING_TAG, 4) && c->ping_outstanding) {
            int64_t t, now = now_mono_us();
            struct evt e;
            memcpy(&t, (const char *)in + 4, 8);
            if (t != c->ping_sent_us)
                break; /* a stale pong */
            c->ping_outstanding = false;
            pong_deadline(c, 0);
            evt_init(&e, c, EVT_PONG);
            memset(&e.u, 0, sizeof(e.u));
            e.u.pong.rtt_us = (uint32_t)(now - t);
            emit(c, &e);
        }
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        on_writeable(c, wsi);
        break;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: {
        const unsigned char *b = in;
        struct evt e;
        c->peer_close = true;
        c->peer_code = len >= 2 ? (b[0] << 8 | b[1]) : 1005;
        if (len > 2)
            set_reason(&c->peer_reason, (const char *)b + 2, len - 2);
        evt_init(&e, c, EVT_CLOSING);
        memset(&e.u, 0, sizeof(e.u));
        emit(c, &e);
        break;
    }
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
        const char *msg = in ? (const char *)in : "";
        struct end_info ei = {.by = EVT_BY_NETWORK, .code = 1006, .sys_errno = err};
        char detail[EVT_NAME_MAX];

        snprintf(detail, sizeof(detail), "%.*s", (int)(len && len < 200 ? len : 200), msg);
        if (!len)
            snprintf(detail, sizeof(detail), "%s", msg);
        ei.detail = detail;
        release_response(c, strstr(detail, "Accept hash") ? 0 : -1);
        ei.cause = cause_from_connect_error(c, detail, err);
        if (ei.cause == EVT_CAUSE_NONE) {
            ei.transport = transport_of(wsi, err);
            ei.cause = ei.transport == EVT_TR_RESET ? EVT_CAUSE_RESET : EVT_CAUSE_EOF;
        } else if (ei.cause == EVT_CAUSE_RESET) {
            ei.transport = EVT_TR_RESET;
        } else if (ei.cause == EVT_CAUSE_EOF) {
            ei.transport = EVT_TR_EOF;
        }
        if (ei.cause == EVT_CAUSE_BAD_ACCEPT)
            log_debug("bad accept on endpoint %u", c->ep->id);
        a->wsi = NULL;
        conn_end(c, &ei, false);
        break;
    }
    case LWS_CALLBACK_CLOSED_CLIENT_HTTP: {
        struct end_info ei = {.by = EVT_BY_NETWORK, .code = 1006, .sys_errno = err};
        ei.cause = c->pending_cause;
        if (!ei.cause) {
            ei.transport = transport_of(wsi, err);
            ei.cause = ei.transport == EVT_TR_RESET ? EVT_CAUSE_RESET : EVT_CAUSE_EOF;
        }
        a->wsi = NULL;
        conn_end(c, &ei, false);
        break;
    }
    case LWS_CALLBACK_CLIENT_CLOSED: {
        struct end_info ei = {.sys_errno = err};
        if (c->closing_by_us) {
            ei.cause = EVT_CAUSE_NONE;
            ei.by = EVT_BY_CLIENT;
            ei.code = c->our_code;
            ei.reason = reason_of(c->our_reason);
            ei.frame = c->peer_close;
            ei.frame_unknown = !c->peer_close;
        } else if (c->peer_close) {
            ei.cause = EVT_CAUSE_CLOSE_FRAME;
            ei.by = EVT_BY_SERVER;
            ei.code = c->peer_code;
            ei.reason = reason_of(c->peer_reason);
            ei.frame = true;
        } else {
            ei.by = EVT_BY_NETWORK;
            ei.code = 1006;
            ei.transport = transport_of(wsi, err);
            ei.cause = ei.transport == EVT_TR_RESET ? EVT_CAUSE_RESET : EVT_CAUSE_EOF;
        }
        a->wsi = NULL;
        conn_end(c, &ei, false);
        break;
    }
    default:
        break;
    }
    errno = 0;
    return 0;
}

/* ---- --health polls ------------------------------------------------------------------------ */

static void health_emit(struct ep *ep, int status, const char *error)
{
    struct engine *en = ep->en;
    struct evt e;
    int64_t now = now_mono_us();

    memset(&e, 0, sizeof(e));
    e.kind = EVT_HEALTH;
    e.ep = ep->id;
    e.t_mono_us = now;
    e.t_wall_us = now_wall_us();
    e.u.health.status = status;
    e.u.health.latency_us = (uint32_t)(now - ep->health_t0_us);
    if (error)
        xstrlcpy(e.u.health.error, error, sizeof(e.u.health.error));
    uv_timer_stop(&ep->health_timer);
    if (ep->hp) {
        ep->hp->ep = NULL; /* orphan: lws frees it at WSI_DESTROY */
        ep->hp = NULL;
    }
    en->fn(en->ud, &e);
}

static int health_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    struct hpoll *hp = wsi ? lws_get_opaque_user_data(wsi) : NULL; /* see ws_cb */
    struct ep *ep;

    (void)user;
    if (!hp || hp->kind != ATT_HEALTH)
        return 0;
    if (reason == LWS_CALLBACK_WSI_DESTROY) {
        if (hp->ep && hp->ep->hp == hp)
            health_emit(hp->ep, 0, "connection closed");
        if (hp->in_connect)
            hp->destroyed = true;
        else
            free(hp);
        return 0;
    }
    ep = hp->ep;
    if (!ep || ep->hp != hp)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
        /* the status line is all a health check needs: answer, then hang up */
        health_emit(ep, (int)lws_http_client_http_response(wsi), NULL);
        return -1;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
        char msg[64];
        snprintf(msg, sizeof(msg), "%.*s", (int)(len && len < 60 ? len : 60),
                 in ? (const char *)in : "connection failed");
        health_emit(ep, 0, msg);
        break;
    }
    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
        health_emit(ep, 0, "closed before a response");
        break;
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
        char buf[1024 + LWS_PRE], *p = buf + LWS_PRE;
        int n = sizeof(buf) - LWS_PRE;
        if (lws_http_client_read(wsi, &p, &n) < 0)
            return -1;
        break;
    }
    default:
        break;
    }
    return 0;
}

static void health_connect(struct ep *ep)
{
    struct lws_client_connect_info ci;
    struct hpoll *hp = xcalloc(1, sizeof(*hp));
    struct lws *wsi;

    hp->kind = ATT_HEALTH;
    hp->ep = ep;
    hp->in_connect = true;
    ep->hp = hp;
    memset(&ci, 0, sizeof(ci));
    ci.context = ep->en->cx;
    ci.vhost = ep->vh;
    ci.address = ep->health_addr;
    ci.port = ep->health.port;
    ci.path = ep->health.path;
    ci.host = ep->health_host;
    ci.origin = ep->health_host;
    ci.method = "GET";
    ci.ssl_connection = ep->health.tls ? LCCSCF_USE_SSL : 0;
    ci.alpn = "http/1.1";
    ci.userdata = hp;
    ci.opaque_user_data = hp;
    ci.pwsi = &hp->wsi;
    ci.retry_and_idle_policy = &no_keepalive;
    ci.local_protocol_name = "wsmon-health";
    ci.protocol = "wsmon-health";
    wsi = lws_client_connect_via_info(&ci);
    hp->in_connect = false;
    if (!wsi || hp->destroyed) {
        if (ep->hp == hp)
            health_emit(ep, 0, "connect failed");
        free(hp);
    }
}

static void on_health_dns(void *ud, uint64_t token, const struct dns_result *r)
{
    struct ep *ep = ud;

    if (token != ep->health_seq || ep->en->shutting_down)
        return;
    if (r->cause != EVT_CAUSE_NONE) {
        char msg[64];
        snprintf(msg, sizeof(msg), "DNS: %.58s", r->detail);
        health_emit(ep, 0, msg);
        return;
    }
    xstrlcpy(ep->health_addr, r->addr, sizeof(ep->health_addr));
    health_connect(ep);
}

static void on_health_timeout(uv_timer_t *t)
{
    struct ep *ep = t->data;
    struct hpoll *hp = ep->hp;

    ep->health_seq++; /* a late DNS answer is stale now */
    health_emit(ep, 0, "timed out");
    if (hp && hp->wsi && !hp->in_connect)
        lws_set_timeout(hp->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

int engine_health(struct engine *en, uint32_t id)
{
    struct ep *ep = ep_find(en, id);

    if (!ep || !ep->have_health)
        return -EINVAL;
    if (en->shutting_down)
        return -ESHUTDOWN;
    if (ep->hp || uv_is_active((uv_handle_t *)&ep->health_timer))
        return -EBUSY;
    uv_update_time(en->loop);
    ep->health_t0_us = now_mono_us();
    ep->health_seq++;
    uv_timer_start(&ep->health_timer, on_health_timeout, (uint64_t)ep->cfg->timeout_ms, 0);
    if (ep->health.host_is_ip) {
        xstrlcpy(ep->health_addr, ep->health.host, sizeof(ep->health_addr));
        health_connect(ep);
        return 0;
    }
    if (dns_lookup(en->dns, ep->health.host, on_health_dns, ep, ep->health_seq) < 0)
        health_emit(ep, 0, "resolver unavailable");
    return 0;
}

static const struct lws_protocols protocols[] = {
    /* a 128-byte receive buffer: bigger messages come in pieces (on_receive joins them);
     * lws allocates it per connection: 4 KiB was most of the memory at 10k connections
     * (NOTES 6); 1 KiB cost 0.9 kB more per connection than this */
    {"wsmon", ws_cb, 0, ENGINE_RX_BUF, 0, NULL, 0},
    {"wsmon-health", health_cb, 0, 1024, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- starting attempts ------------------------------------------------------------------ */

static void lws_connect(struct conn *c)
{
    struct ep *ep = c->ep;
    const struct cfg_ep *cfg = ep->cfg;
    struct lws_client_connect_info ci;
    struct att *a = xcalloc(1, sizeof(*a));
    struct lws *wsi;

    a->kind = ATT_WS;
    a->conn = c;
    a->in_connect = true;
    c->att = a;

    memset(&ci, 0, sizeof(ci));
    ci.context = c->en->cx;
    ci.vhost = ep->vh;
    ci.address = c->addr;
    ci.port = cfg->u.port;
    ci.path = cfg->u.path;
    ci.host = ep->host_hdr;
    ci.origin = ep->origin[0] ? ep->origin : NULL;
    ci.protocol = ep->protocols[0] ? ep->protocols : NULL;
    ci.ssl_connection = cfg->u.tls ? LCCSCF_USE_SSL : 0;
    ci.alpn = "http/1.1";
    ci.userdata = a;
    ci.opaque_user_data = a;
    ci.pwsi = &a->wsi;
    ci.retry_and_idle_policy = &no_keepalive;
    ci.local_protocol_name = "wsmon";

    errno = 0;
    wsi = lws_client_connect_via_info(&ci);
    a->in_connect = false;
    if (!wsi || a->destroyed) {
        int err = errno;
        a->wsi = NULL;
        if (c->active && c->att == a) {
            struct end_info ei = {
                .by = EVT_BY_NETWORK, .code = 1006, .sys_errno = err, .detail = "connect failed"};
            ei.cause = (err == ENETUNREACH || err == EHOSTUNREACH || err == EADDRNOTAVAIL)
                           ? EVT_CAUSE_UNREACHABLE
                           : EVT_CAUSE_REFUSED;
            conn_end(c, &ei, false);
        }
        free(a);
        return;
    }
}

static void on_dns(void *ud, uint64_t token, const struct dns_result *r)
{
    struct conn *c = ud;
    struct evt e;

    if (!c->active || !c->dns_pending || token != c->attempt)
        return;
    c->dns_pending = false;
    if (r->cause != EVT_CAUSE_NONE) {
        end_simple(c, r->cause, EVT_BY_NETWORK, 1006, r->detail, false);
        return;
    }
    xstrlcpy(c->addr, r->addr, sizeof(c->addr));
    c->reached = EVT_PH_DNS;
    evt_init(&e, c, EVT_DNS);
    memset(&e.u, 0, sizeof(e.u));
    xstrlcpy(e.u.dns.addr, r->addr, sizeof(e.u.dns.addr));
    e.u.dns.n_addrs = r->n_addrs;
    emit(c, &e);
    if (c->active)
        lws_connect(c);
}

static struct ep *ep_find(struct engine *en, uint32_t id)
{
    return id < en->n_by_id ? en->by_id[id] : NULL;
}

static struct conn *conn_find(struct engine *en, uint32_t id, uint32_t idx)
{
    struct ep *ep = ep_find(en, id);
    return ep && idx < ep->n_conns ? &ep->conns[idx] : NULL;
}

int engine_start(struct engine *en, uint32_t id, uint32_t idx)
{
    struct conn *c = conn_find(en, id, idx);
    const struct cfg_ep *cfg;
    struct evt e;

    if (!c)
        return -EINVAL;
    if (c->active)
        return -EBUSY;
    if (en->shutting_down)
        return -ESHUTDOWN;
    cfg = c->ep->cfg;

    uv_update_time(en->loop); /* timers count from now, not from the loop's cached time */
    c->attempt++;
    c->active = true;
    en->active++;
    c->att = NULL;
    c->dns_pending = false;
    c->reached = EVT_PH_NONE;
    c->tls_done = c->opened = c->response_seen = false;
    c->http_status = 0;
    c->pending_cause = EVT_CAUSE_NONE;
    free(c->tls);
    c->tls = NULL;
    if (cfg->u.tls) {
        c->tls = xcalloc(1, sizeof(*c->tls));
        c->tls->insecure = cfg->insecure;
    }
    c->verify_err = 0;
    c->peer_close = false;
    c->peer_code = 0;
    set_reason(&c->peer_reason, NULL, 0);
    c->closing_by_us = c->kill_after_close = false;
    c->our_code = 0;
    set_reason(&c->our_reason, NULL, 0);
    c->want_send = c->want_ping = c->want_close = false;
    c->ping_outstanding = false;
    c->expect_seen = false;
    c->expect_len = 0;

    evt_init(&e, c, EVT_ATTEMPT);
    memset(&e.u, 0, sizeof(e.u));
    e.u.attempt.tls = cfg->u.tls;
    emit(c, &e);
    if (!c->active)
        return 0;

    deadline_set(c, DL_HANDSHAKE, cfg->timeout_ms);

    /* through a proxy the proxy resolves the name (CONNECT host:port), as browsers do */
    if (c->ep->resolve_addr[0] || cfg->u.host_is_ip || cfg->proxy) {
        xstrlcpy(c->addr, c->ep->resolve_addr[0] ? c->ep->resolve_addr : cfg->u.host,
                 sizeof(c->addr));
        lws_connect(c);
        return 0;
    }
    c->dns_pending = true;
    if (dns_lookup(en->dns, cfg->u.host, on_dns, c, c->attempt) < 0)
        end_simple(c, EVT_CAUSE_DNS_SERVFAIL, EVT_BY_NETWORK, 1006, "resolver unavailable", false);
    return 0;
}

int engine_ping(struct engine *en, uint32_t id, uint32_t idx, int64_t pong_timeout_ms)
{
    struct conn *c = conn_find(en, id, idx);

    if (!c || !c->active || !c->opened || !c->att || !c->att->wsi || c->closing_by_us)
        return -ENOTCONN;
    c->want_ping = true;
    c->ping_outstanding = true;
    if (pong_timeout_ms > 0)
        pong_deadline(c, pong_timeout_ms);
    lws_callback_on_writable(c->att->wsi);
    return 0;
}

int engine_close(struct engine *en, uint32_t id, uint32_t idx, int code, const char *reason)
{
    struct conn *c = conn_find(en, id, idx);
    struct evt e;

    if (!c || !c->active)
        return -ENOTCONN;
    if (c->closing_by_us)
        return 0;
    c->closing_by_us = true;
    c->want_close = true;
    c->our_code = code;
    set_reason(&c->our_reason, reason, SIZE_MAX);
    c->pong_at_ms = 0;
    if (c->dl == DL_EXPECT)
        c->dl = DL_NONE;
    timer_arm(c);
    evt_init(&e, c, EVT_CLOSING);
    memset(&e.u, 0, sizeof(e.u));
    e.u.closing.by_us = true;
    emit(c, &e);
    work_queue(c);
    return 0;
}

size_t engine_active(const struct engine *en)
{
    return en->active;
}

/* ---- setup and teardown ------------------------------------------------------------------ */

static void lws_log_emit(int level, const char *line)
{
    char buf[512];
    size_t n = strlen(line);

    (void)level;
    if (n && line[n - 1] == '\n')
        n--;
    snprintf(buf, sizeof(buf), "%.*s", (int)(n < 500 ? n : 500), line);
    log_debug("lws: %s", buf);
}

static struct lws_vhost *vhost_for(struct engine *en, const struct cfg_ep *cfg, char *err,
                                   size_t errlen)
{
    struct vhost *v;
    struct lws_context_creation_info info;
    char name[32];
    const char *ca = cfg->cacert;
    const char *px = cfg->proxy;

    for (v = en->vhosts; v; v = v->next)
        if (!strcmp(v->cacert ? v->cacert : "", ca ? ca : "") &&
            !strcmp(v->proxy ? v->proxy : "", px ? px : ""))
            return v->vh;

    if (ca && access(ca, R_OK) != 0) {
        snprintf(err, errlen, "--cacert %s: %s", ca, strerror(errno));
        return NULL;
    }
    memset(&info, 0, sizeof(info));
    snprintf(name, sizeof(name), "wsmon%d", en->n_vhosts);
    info.vhost_name = name;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.client_ssl_ca_filepath = ca;
    info.connect_timeout_secs = LWS_TIMEOUT_SECS;
    info.timeout_secs = LWS_TIMEOUT_SECS;
    if (px)
        info.http_proxy_address = px;
    v = xcalloc(1, sizeof(*v));
    v->vh = lws_create_vhost(en->cx, &info);
    if (!v->vh) {
        snprintf(err, errlen, "cannot set up TLS%s%s (is it a PEM certificate file?)",
                 ca ? " with --cacert " : "", ca ? ca : "");
        free(v);
        return NULL;
    }
    v->cacert = xstrdup(ca);
    v->proxy = xstrdup(px);
    v->next = en->vhosts;
    en->vhosts = v;
    en->n_vhosts++;
    return v->vh;
}

int engine_add(struct engine *en, uint32_t id, const struct cfg_ep *cfg, char *err, size_t errlen)
{
    struct ep *ep;
    size_t i;
    int port;
    char rhost[URL_HOST_MAX];

    if (ep_find(en, id) || cfg->connections < 1) {
        snprintf(err, errlen, "bad endpoint %u", id);
        return -EINVAL;
    }
    ep = xcalloc(1, sizeof(*ep));
    ep->id = id;
    ep->en = en;
    ep->cfg = cfg;
    ep->vh = vhost_for(en, cfg, err, errlen);
    if (!ep->vh) {
        free(ep);
        return -EINVAL;
    }
    url_host_header(&cfg->u, ep->host_hdr, sizeof(ep->host_hdr));
    if (cfg->origin)
        xstrlcpy(ep->origin, cfg->origin, sizeof(ep->origin));
    for (i = 0; i < cfg->n_protocols; i++) {
        size_t used = strlen(ep->protocols);
        snprintf(ep->protocols + used, sizeof(ep->protocols) - used, "%s%s", i ? ", " : "",
                 cfg->protocols[i]);
    }
    for (i = 0; i < cfg->n_headers; i++) {
        char name[72];
        const char *value;
        /* cfg validated them and refuses Host, Origin and the handshake's own headers */
        if (cfg_parse_header(cfg->headers[i], name, 64, &value) < 0)
            continue;
        snprintf(ep->hdr_names[ep->n_hdrs], sizeof(ep->hdr_names[0]), "%s:", name);
        ep->hdr_values[ep->n_hdrs++] = value;
    }
    if (cfg->resolve && cfg_parse_resolve(cfg->resolve, rhost, sizeof(rhost), &port,
                                          ep->resolve_addr, sizeof(ep->resolve_addr)) < 0) {
        snprintf(err, errlen, "bad --resolve '%s'", cfg->resolve);
        free(ep);
        return -EINVAL;
    }
    if (cfg->health) {
        char uerr[256];
        if (url_parse(cfg->health, true, &ep->health, uerr, sizeof(uerr)) < 0) {
            snprintf(err, errlen, "--health: %s", uerr);
            free(ep);
            return -EINVAL;
        }
        ep->have_health = true;
        url_host_header(&ep->health, ep->health_host, sizeof(ep->health_host));
        uv_timer_init(en->loop, &ep->health_timer);
        ep->health_timer.data = ep;
        ep->health_timer_init = true;
    }
    ep->n_conns = (size_t)cfg->connections;
    ep->conns = xcalloc(ep->n_conns, sizeof(*ep->conns));
    for (i = 0; i < ep->n_conns; i++) {
        struct conn *c = &ep->conns[i];
        c->en = en;
        c->ep = ep;
        c->idx = (uint32_t)i;
        uv_timer_init(en->loop, &c->deadline);
        c->deadline.data = c;
        c->timers_init = true;
        en->open_handles += 1;
    }
    ep->next = en->eps;
    en->eps = ep;
    if (id >= en->n_by_id) {
        uint32_t n = id + 1 > 2 * en->n_by_id ? id + 1 : 2 * en->n_by_id;
        en->by_id = xrealloc(en->by_id, n * sizeof(*en->by_id));
        memset(en->by_id + en->n_by_id, 0, (n - en->n_by_id) * sizeof(*en->by_id));
        en->n_by_id = n;
    }
    en->by_id[id] = ep;
    return 0;
}

static void on_prepare(uv_prepare_t *p)
{
    (void)p;
}

/* Busy time of one loop iteration: wall time since the last check minus time idle in poll. */
static void on_check(uv_check_t *h)
{
    struct engine *en = h->data;
    uint64_t now = uv_hrtime();
    uint64_t idle = uv_metrics_idle_time(en->loop);

    if (en->last_check_ns) {
        uint64_t wall = now - en->last_check_ns;
        uint64_t idled = idle - en->last_idle_ns;
        int64_t busy_us = (int64_t)((wall > idled ? wall - idled : 0) / 1000);
        if (busy_us > en->stall_max_us)
            en->stall_max_us = busy_us;
    }
    en->last_check_ns = now;
    en->last_idle_ns = idle;
}

int64_t engine_loop_stall_us(const struct engine *en)
{
    return en->stall_max_us;
}

void engine_loop_stall_reset(struct engine *en)
{
    en->stall_max_us = 0;
}

struct engine *engine_new(uv_loop_t *loop, engine_evt_fn fn, void *ud, char *err, size_t errlen)
{
    struct engine *en = xcalloc(1, sizeof(*en));
    struct lws_context_creation_info info;
    void *loops[1] = {loop};

    en->loop = loop;
    uv_loop_configure(loop, UV_METRICS_IDLE_TIME);
    en->fn = fn;
    en->ud = ud;
    /* proxies only when asked for (--proxy): never through the environment's */
    unsetenv("http_proxy");
    unsetenv("https_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("HTTPS_PROXY");
    lws_set_log_level(LLL_ERR | LLL_WARN | (log_get_level() >= LOG_DEBUG ? LLL_NOTICE : 0),
                      lws_log_emit);

    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
                   LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_JUST_USE_RAW_ORIGIN;
    info.foreign_loops = loops;
    info.pcontext = &en->cx;
    info.timeout_secs = LWS_TIMEOUT_SECS;
    info.connect_timeout_secs = LWS_TIMEOUT_SECS;
    en->cx = lws_create_context(&info);
    if (!en->cx) {
        snprintf(err, errlen,
                 "libwebsockets could not start (is libwebsockets-evlib-uv "
                 "installed?)");
        free(en);
        return NULL;
    }
    en->dns = dns_new(loop, err, errlen);
    if (!en->dns) {
        lws_context_destroy(en->cx);
        free(en);
        return NULL;
    }
    uv_timer_init(loop, &en->work);
    en->work.data = en;
    uv_prepare_init(loop, &en->prep);
    uv_prepare_start(&en->prep, on_prepare);
    uv_check_init(loop, &en->check);
    en->check.data = en;
    uv_check_start(&en->check, on_check);
    en->open_handles = 3;
    return en;
}

static void handle_closed(uv_handle_t *h)
{
    (void)h;
}

void engine_shutdown(struct engine *en)
{
    struct ep *ep;
    size_t i;

    if (!en || en->shutting_down)
        return;
    en->shutting_down = true;
    /* no events after this: orphan every attempt without reporting it */
    for (ep = en->eps; ep; ep = ep->next) {
        if (ep->hp) {
            ep->hp->ep = NULL;
            ep->hp = NULL;
        }
        if (ep->health_timer_init)
            uv_close((uv_handle_t *)&ep->health_timer, handle_closed);
        for (i = 0; i < ep->n_conns; i++) {
            struct conn *c = &ep->conns[i];
            if (c->att)
                c->att->conn = NULL;
            c->att = NULL;
            c->active = false;
            free(c->expect_buf);
            c->expect_buf = NULL;
            free(c->held_response);
            c->held_response = NULL;
            free(c->tls);
            c->tls = NULL;
            free(c->rx_first);
            c->rx_first = NULL;
            set_reason(&c->peer_reason, NULL, 0);
            set_reason(&c->our_reason, NULL, 0);
            uv_close((uv_handle_t *)&c->deadline, handle_closed);
        }
    }
    en->active = 0;
    dns_free(en->dns);
    en->dns = NULL;
    uv_close((uv_handle_t *)&en->work, handle_closed);
    uv_close((uv_handle_t *)&en->prep, handle_closed);
    uv_close((uv_handle_t *)&en->check, handle_closed);
    /* only starts closing lws's own handles; engine_free() finishes (NOTES 9, rule 7) */
    lws_context_destroy(en->cx);
}

void engine_free(struct engine *en)
{
    struct ep *ep, *nep;
    struct vhost *v, *nv;

    if (!en)
        return;
    if (!en->shutting_down)
        engine_shutdown(en);
    if (en->cx)
        lws_context_destroy(en->cx);
    for (ep = en->eps; ep; ep = nep) {
        nep = ep->next;
        free(ep->conns);
        free(ep);
    }
    for (v = en->vhosts; v; v = nv) {
        nv = v->next;
        free(v->cacert);
        free(v->proxy);
        free(v);
    }
    free(en->by_id);
    free(en);
}
