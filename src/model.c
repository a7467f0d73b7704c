/* SPDX-License-Identifier: MIT */
/* Per-endpoint and per-connection state, changed only by applying events (no I/O, no clock). */
#include "config.h"

#include "model.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xmem.h"

struct model *model_new(size_t n_eps, const int *conns_per_ep)
{
    struct model *m = xcalloc(1, sizeof(*m));

    m->n_eps = n_eps;
    m->eps = xcalloc(n_eps, sizeof(*m->eps));
    for (size_t i = 0; i < n_eps; i++) {
        /* every configured endpoint holds at least one connection */
        int n = conns_per_ep && conns_per_ep[i] > 0 ? conns_per_ep[i] : 1;

        m->eps[i].id = (uint32_t)i;
        m->eps[i].n_conns = (size_t)n;
        m->eps[i].conns = xcalloc((size_t)n, sizeof(*m->eps[i].conns));
    }
    return m;
}

void model_free(struct model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_eps; i++)
        free(m->eps[i].conns);
    free(m->eps);
    free(m);
}

/* Copy a fixed-size event string that may lack its NUL into dst, always terminated. */
static void copy_str(char *dst, size_t dst_size, const char *src, size_t src_size)
{
    size_t n = strnlen(src, src_size);

    if (n >= dst_size)
        n = dst_size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

#define COPY_STR(dst, src) copy_str((dst), sizeof(dst), (src), sizeof(src))

/* Terminate every string of a copied record, so printers can trust them. */
static void terminate_http(struct evt_http *h)
{
    h->server[sizeof(h->server) - 1] = '\0';
    h->upgrade[sizeof(h->upgrade) - 1] = '\0';
    h->connection[sizeof(h->connection) - 1] = '\0';
    h->location[sizeof(h->location) - 1] = '\0';
    h->backend[sizeof(h->backend) - 1] = '\0';
    h->head[sizeof(h->head) - 1] = '\0';
    if (h->n_cookies < 0)
        h->n_cookies = 0;
    if (h->n_cookies > EVT_COOKIES_MAX)
        h->n_cookies = EVT_COOKIES_MAX;
    for (int i = 0; i < EVT_COOKIES_MAX; i++)
        h->cookies[i][EVT_COOKIE_NAME_MAX - 1] = '\0';
}

static void terminate_tls(struct evt_tls *t)
{
    t->version[sizeof(t->version) - 1] = '\0';
    t->cipher[sizeof(t->cipher) - 1] = '\0';
    t->alpn[sizeof(t->alpn) - 1] = '\0';
    t->subject[sizeof(t->subject) - 1] = '\0';
    t->issuer[sizeof(t->issuer) - 1] = '\0';
    t->sans[sizeof(t->sans) - 1] = '\0';
}

static void advance(struct model_attempt *a, enum evt_phase ph)
{
    if (ph > a->reached)
        a->reached = ph;
}

static void start_attempt(struct model_conn *c, const struct evt *e)
{
    struct model_attempt *a = &c->cur;

    memset(a, 0, sizeof(*a));
    a->seq = e->attempt;
    a->tls = e->u.attempt.tls;
    a->t_start_us = e->t_mono_us;
    a->wall_start_us = e->t_wall_us;
    a->t_dns_us = a->t_tcp_us = a->t_tls_us = a->t_request_us = a->t_response_us = -1;
    a->t_open_us = a->t_first_msg_us = a->t_end_us = -1;
    a->dns_us = a->tcp_us = a->tls_us = a->upgrade_us = a->open_us = -1;
    a->first_message_us = a->total_us = -1;
    a->open_for_us = -1;
    a->t_expect_us = -1;
    a->reached = EVT_PH_NONE;
    a->ready_state = 0;
    c->attempts++;
}

static void apply_msg(struct model_attempt *a, const struct evt *e)
{
    int64_t t = e->t_mono_us;

    if (e->u.msg.out) {
        a->msgs_out++;
        a->bytes_out += e->u.msg.len;
        return;
    }
    a->msgs_in++;
    a->bytes_in += e->u.msg.len;
    if (a->t_first_msg_us < 0) {
        /* all of the first bytes; terminated too when there is room (printers use first_len) */
        uint32_t n = e->u.msg.first_len;

        if (n > EVT_FIRST_MAX)
            n = EVT_FIRST_MAX;
        a->t_first_msg_us = t;
        a->first_message_us = t - a->t_start_us;
        memcpy(a->first, e->u.msg.first, n);
        if (n < EVT_FIRST_MAX)
            a->first[n] = '\0';
        a->first_len = n;
        a->first_binary = e->u.msg.binary;
    }
    if (e->u.msg.matched && !a->expect_seen) {
        a->expect_seen = true;
        a->t_expect_us = t;
    }
}

static void apply_pong(struct model_attempt *a, uint32_t rtt_us)
{
    if (a->rtt_n == 0 || rtt_us < a->rtt_min_us)
        a->rtt_min_us = rtt_us;
    if (a->rtt_n == 0 || rtt_us > a->rtt_max_us)
        a->rtt_max_us = rtt_us;
    a->rtt_last_us = rtt_us;
    a->rtt_ring[a->rtt_n % MODEL_RTT_RING] = rtt_us;
    a->rtt_n++;
    a->pongs++;
}

static void apply_closed(struct model_attempt *a, const struct evt *e)
{
    int64_t t = e->t_mono_us;

    a->ended = true;
    a->ready_state = 3;
    a->t_end_us = t;
    a->total_us = t - a->t_start_us;
    a->cause = e->u.closed.cause;
    a->by = e->u.closed.by;
    a->transport = e->u.closed.transport;
    a->close_code = e->u.closed.code;
    a->close_frame = e->u.closed.frame;
    a->close_frame_unknown = e->u.closed.frame_unknown;
    COPY_STR(a->close_reason, e->u.closed.reason);
    a->sys_errno = e->u.closed.sys_errno;
    COPY_STR(a->detail, e->u.closed.detail);
    a->open_for_us = a->t_open_us >= 0 ? t - a->t_open_us : -1;
}

/* Rules beyond "current attempt, not ended": handshake phases cannot follow open, the
 * open itself happens once, and traffic (messages, pings, pongs) needs an open socket. */
static bool in_order(const struct model_attempt *a, enum evt_kind k)
{
    bool open = a->t_open_us >= 0;

    switch (k) {
    case EVT_DNS:
    case EVT_TCP:
    case EVT_TLS:
    case EVT_REQUEST:
    case EVT_RESPONSE:
    case EVT_OPEN:
        return !open;
    case EVT_MSG:
    case EVT_PING:
    case EVT_PONG:
        return open;
    default:
        return true;
    }
}

int model_apply(struct model *m, const struct evt *e)
{
    struct model_conn *c;
    struct model_attempt *a;
    int64_t t;

    if (!m || !e || e->ep >= m->n_eps || e->conn >= m->eps[e->ep].n_conns ||
        (unsigned)e->kind >= EVT_KIND_COUNT)
        return -EINVAL;
    c = &m->eps[e->ep].conns[e->conn];
    a = &c->cur;
    t = e->t_mono_us;

    if (e->kind == EVT_ATTEMPT) {
        if (e->attempt == 0) /* 0 means "no attempt yet" */
            return -EINVAL;
        start_attempt(c, e);
        a->t_last_us = t;
        return 0;
    }
    if (a->seq == 0 || e->attempt != a->seq || a->ended || !in_order(a, e->kind))
        return -EINVAL;

    switch (e->kind) {
    case EVT_DNS:
        a->t_dns_us = t;
        a->dns_us = t - a->t_start_us;
        COPY_STR(a->dns_addr, e->u.dns.addr);
        advance(a, EVT_PH_DNS);
        break;
    case EVT_TCP:
        a->t_tcp_us = t;
        a->tcp_us = t - (a->t_dns_us >= 0 ? a->t_dns_us : a->t_start_us);
        COPY_STR(a->remote, e->u.tcp.remote);
        COPY_STR(a->local, e->u.tcp.local);
        advance(a, EVT_PH_TCP);
        break;
    case EVT_TLS:
        a->t_tls_us = t;
        a->tls_us = a->t_tcp_us >= 0 ? t - a->t_tcp_us : -1;
        a->tls_info = e->u.tls;
        terminate_tls(&a->tls_info);
        a->have_tls = true;
        /* a failed verification that is enforced: the handshake is about to fail */
        if (e->u.tls.verify == EVT_VERIFY_OK || e->u.tls.insecure)
            advance(a, EVT_PH_TLS);
        break;
    case EVT_REQUEST:
        a->t_request_us = t;
        break;
    case EVT_RESPONSE:
        a->t_response_us = t;
        a->upgrade_us = a->t_request_us >= 0 ? t - a->t_request_us : -1;
        a->http = e->u.http;
        terminate_http(&a->http);
        a->have_http = true;
        break;
    case EVT_OPEN:
        a->t_open_us = t;
        a->open_us = t - a->t_start_us;
        a->reached = EVT_PH_OPEN;
        a->ready_state = 1;
        c->opened++;
        break;
    case EVT_MSG:
        apply_msg(a, e);
        break;
    case EVT_PING:
        a->pings_sent++;
        break;
    case EVT_PONG:
        apply_pong(a, e->u.pong.rtt_us);
        break;
    case EVT_CLOSING:
        if (a->ready_state == 1)
            a->ready_state = 2;
        break;
    case EVT_CLOSED:
        apply_closed(a, e);
        break;
    default:
        return -EINVAL;
    }
    a->t_last_us = t;
    return 0;
}

const struct model_attempt *model_attempt_get(const struct model *m, uint32_t ep, uint32_t conn)
{
    if (!m || ep >= m->n_eps || conn >= m->eps[ep].n_conns)
        return NULL;
    return &m->eps[ep].conns[conn].cur;
}

int64_t model_rtt_median_us(const struct model_attempt *a)
{
    uint32_t v[MODEL_RTT_RING];
    size_t n;

    if (!a || a->rtt_n == 0)
        return -1;
    n = a->rtt_n < MODEL_RTT_RING ? a->rtt_n : MODEL_RTT_RING;
    memcpy(v, a->rtt_ring, n * sizeof(v[0]));
    for (size_t i = 1; i < n; i++) {
        uint32_t x = v[i];
        size_t j = i;

        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
    if (n % 2)
        return v[n / 2];
    return ((int64_t)v[n / 2 - 1] + (int64_t)v[n / 2]) / 2;
}
