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
        for (int j = 0; j < n; j++)
            model_conn_init(&m->eps[i].conns[j]);
    }
    m->log = xcalloc(MODEL_LOG, sizeof(*m->log));
    return m;
}

void model_free(struct model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_eps; i++) {
        for (size_t j = 0; j < m->eps[i].n_conns; j++)
            model_conn_release(&m->eps[i].conns[j]);
        free(m->eps[i].conns);
    }
    free(m->eps);
    free(m->log);
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

/* ---- shared records: one allocation each, strings packed after the struct --------------- */

const struct model_http model_http_empty = {
    .accept_ok = -1,
    .server = "",
    .upgrade = "",
    .connection = "",
    .location = "",
    .backend = "",
    .sticky = "",
    .head = "",
    .cookies = {"", "", "", ""},
    .refs = 1,
};

const struct model_tls model_tls_empty = {
    .version = "", .cipher = "", .alpn = "", .subject = "", .issuer = "", .sans = "", .refs = 1};

const struct model_http *model_http_of(const struct model_attempt *a)
{
    return a && a->http ? a->http : &model_http_empty;
}

const struct model_tls *model_tls_of(const struct model_attempt *a)
{
    return a && a->tls_info ? a->tls_info : &model_tls_empty;
}

struct packer {
    char *p;
};

/* Length of a fixed-size event string that may lack its NUL, cut to cap - 1 as if it had
 * one at the end: readers may count on a string fitting the event's array. */
static size_t fixed_len(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);

    return n < cap ? n : cap - 1;
}

static const char *pack(struct packer *k, const char *s, size_t cap)
{
    size_t n = fixed_len(s, cap);
    char *d = k->p;

    memcpy(d, s, n);
    d[n] = '\0';
    k->p += n + 1;
    return d;
}

#define FIXED_SIZE(f) (fixed_len((f), sizeof(f)) + 1)
#define PACK(k, f)    pack((k), (f), sizeof(f))

const struct model_http *model_http_new(const struct evt_http *h)
{
    int nc = h->n_cookies < 0 ? 0 : h->n_cookies > EVT_COOKIES_MAX ? EVT_COOKIES_MAX : h->n_cookies;
    size_t size = sizeof(struct model_http) + FIXED_SIZE(h->server) + FIXED_SIZE(h->upgrade) +
                  FIXED_SIZE(h->connection) + FIXED_SIZE(h->location) + FIXED_SIZE(h->backend) +
                  FIXED_SIZE(h->sticky) + FIXED_SIZE(h->head);
    struct model_http *r;
    struct packer k;

    for (int i = 0; i < nc; i++)
        size += FIXED_SIZE(h->cookies[i]);
    r = xcalloc(1, size);
    k.p = (char *)(r + 1);
    r->status = h->status;
    r->accept_ok = h->accept_ok;
    r->n_cookies = nc;
    r->head_truncated = h->head_truncated;
    r->server = PACK(&k, h->server);
    r->upgrade = PACK(&k, h->upgrade);
    r->connection = PACK(&k, h->connection);
    r->location = PACK(&k, h->location);
    r->backend = PACK(&k, h->backend);
    r->sticky = PACK(&k, h->sticky);
    r->head = PACK(&k, h->head);
    for (int i = 0; i < EVT_COOKIES_MAX; i++)
        r->cookies[i] = i < nc ? PACK(&k, h->cookies[i]) : "";
    r->refs = 1;
    return r;
}

const struct model_tls *model_tls_new(const struct evt_tls *t)
{
    size_t size = sizeof(struct model_tls) + FIXED_SIZE(t->version) + FIXED_SIZE(t->cipher) +
                  FIXED_SIZE(t->alpn) + FIXED_SIZE(t->subject) + FIXED_SIZE(t->issuer) +
                  FIXED_SIZE(t->sans);
    struct model_tls *r = xcalloc(1, size);
    struct packer k = {(char *)(r + 1)};

    r->version = PACK(&k, t->version);
    r->cipher = PACK(&k, t->cipher);
    r->alpn = PACK(&k, t->alpn);
    r->subject = PACK(&k, t->subject);
    r->issuer = PACK(&k, t->issuer);
    r->sans = PACK(&k, t->sans);
    r->not_after_s = t->not_after_s;
    r->verify = t->verify;
    r->verify_code = t->verify_code;
    r->insecure = t->insecure;
    r->refs = 1;
    return r;
}

/* ---- the attempt's strings ----------------------------------------------------------- */

enum { TX_DNS, TX_REMOTE, TX_LOCAL, TX_REASON, TX_DETAIL, TX_FIRST, TX_COUNT };

struct model_text {
    int refs;
    char data[];
};

static const char **text_field(struct model_attempt *a, int i)
{
    switch (i) {
    case TX_DNS:
        return &a->dns_addr;
    case TX_REMOTE:
        return &a->remote;
    case TX_LOCAL:
        return &a->local;
    case TX_REASON:
        return &a->close_reason;
    case TX_DETAIL:
        return &a->detail;
    default:
        return &a->first;
    }
}

static void text_drop(const struct model_text *t);

/* Set string i of the attempt to n bytes of s (terminated after them), repacking all of them
 * into a new record. */
static void text_set(struct model_attempt *a, int i, const char *s, size_t n)
{
    size_t len[TX_COUNT], size = sizeof(struct model_text);
    const char *src[TX_COUNT];
    struct model_text *t;
    char *p;

    for (int k = 0; k < TX_COUNT; k++) {
        src[k] = k == i ? s : *text_field(a, k);
        len[k] = k == i ? n : k == TX_FIRST ? a->first_len : strlen(src[k]);
        size += len[k] + 1;
    }
    t = xmalloc(size);
    t->refs = 1;
    p = t->data;
    for (int k = 0; k < TX_COUNT; k++) {
        memcpy(p, src[k], len[k]);
        p[len[k]] = '\0';
        *text_field(a, k) = p;
        p += len[k] + 1;
    }
    text_drop(a->text);
    a->text = t;
}

/* A fixed-size event string, cut at its NUL or its array's last byte. */
#define TEXT_SET(a, i, f) text_set((a), (i), (f), fixed_len((f), sizeof(f)))

static void text_blank(struct model_attempt *a)
{
    for (int k = 0; k < TX_COUNT; k++)
        *text_field(a, k) = "";
    a->first_len = 0;
    a->text = NULL;
}

/* The records are made writable (xcalloc); const is the promise to their readers. */
static void ref_add(const int *refs)
{
    __atomic_add_fetch((int *)refs, 1, __ATOMIC_RELAXED);
}

static bool ref_sub(const int *refs)
{
    return __atomic_sub_fetch((int *)refs, 1, __ATOMIC_ACQ_REL) == 0;
}

void model_http_hold(const struct model_http *h)
{
    if (h)
        ref_add(&h->refs);
}

void model_http_drop(const struct model_http *h)
{
    if (h && ref_sub(&h->refs))
        free((void *)h);
}

void model_tls_hold(const struct model_tls *t)
{
    if (t)
        ref_add(&t->refs);
}

void model_tls_drop(const struct model_tls *t)
{
    if (t && ref_sub(&t->refs))
        free((void *)t);
}

static void text_drop(const struct model_text *t)
{
    if (t && ref_sub(&t->refs))
        free((void *)t);
}

void model_attempt_hold(const struct model_attempt *a)
{
    model_http_hold(a->http);
    model_tls_hold(a->tls_info);
    if (a->text)
        ref_add(&a->text->refs);
}

void model_attempt_drop(struct model_attempt *a)
{
    model_http_drop(a->http);
    model_tls_drop(a->tls_info);
    text_drop(a->text);
    a->http = NULL;
    a->tls_info = NULL;
    text_blank(a);
}

void model_attempt_init(struct model_attempt *a)
{
    memset(a, 0, sizeof(*a));
    a->t_dns_us = a->t_tcp_us = a->t_tls_us = a->t_request_us = a->t_response_us = -1;
    a->t_open_us = a->t_first_msg_us = a->t_end_us = -1;
    a->dns_us = a->tcp_us = a->tls_us = a->upgrade_us = a->open_us = -1;
    a->first_message_us = a->total_us = -1;
    a->open_for_us = -1;
    a->t_expect_us = -1;
    a->reached = EVT_PH_NONE;
    text_blank(a);
}

struct model_ends {
    struct model_end ring[MODEL_HIST];
    uint32_t cause_counts[EVT_CAUSE_COUNT];
    struct model_code_count codes[MODEL_CODES];
};

static const uint32_t no_cause_counts[EVT_CAUSE_COUNT];
static const struct model_code_count no_codes[MODEL_CODES];

void model_conn_init(struct model_conn *c)
{
    memset(c, 0, sizeof(*c));
    model_attempt_init(&c->cur);
    c->cause_counts = no_cause_counts;
    c->codes = no_codes;
}

static struct model_ends *conn_ends(struct model_conn *c)
{
    if (!c->ends) {
        c->ends = xcalloc(1, sizeof(*c->ends));
        c->hist = c->ends->ring;
        c->cause_counts = c->ends->cause_counts;
        c->codes = c->ends->codes;
    }
    return c->ends;
}

struct model_end *model_conn_push_end(struct model_conn *c)
{
    struct model_end *h = &conn_ends(c)->ring[c->n_ended++ % MODEL_HIST];

    memset(h, 0, sizeof(*h));
    return h;
}

void model_conn_release(struct model_conn *c)
{
    model_attempt_drop(&c->cur);
    free(c->ends);
    c->ends = NULL;
    c->hist = NULL;
    c->cause_counts = no_cause_counts;
    c->codes = no_codes;
    c->n_ended = c->n_codes = 0;
}

static void advance(struct model_attempt *a, enum evt_phase ph)
{
    if (ph > a->reached)
        a->reached = ph;
}

static void start_attempt(struct model_conn *c, const struct evt *e)
{
    struct model_attempt *a = &c->cur;

    model_attempt_drop(a);
    model_attempt_init(a);
    a->seq = e->attempt;
    a->tls = e->u.attempt.tls;
    a->t_start_us = e->t_mono_us;
    a->wall_start_us = e->t_wall_us;
    c->attempts++;
    c->t_state_us = e->t_mono_us;
}

static struct model_log *log_add(struct model *m, const struct evt *e)
{
    struct model_log *l = &m->log[m->n_log++ % MODEL_LOG];

    memset(l, 0, sizeof(*l));
    l->wall_us = e->t_wall_us;
    l->mono_us = e->t_mono_us;
    l->ep = e->ep;
    l->conn = e->conn;
    l->kind = e->kind;
    return l;
}

static void count_code(struct model_conn *c, int code)
{
    struct model_code_count *codes = conn_ends(c)->codes;
    uint32_t i, least = 0;

    for (i = 0; i < c->n_codes; i++) {
        if (codes[i].code == code) {
            codes[i].n++;
            return;
        }
        if (codes[i].n < codes[least].n)
            least = i;
    }
    if (c->n_codes < MODEL_CODES) {
        codes[c->n_codes].code = code;
        codes[c->n_codes++].n = 1;
        return;
    }
    /* full: the rarest code makes room (its count is lost) */
    codes[least].code = code;
    codes[least].n = 1;
}

/* Everything an ended attempt adds to its connection and to the log. */
static void conn_ended(struct model *m, struct model_conn *c, const struct evt *e)
{
    const struct model_attempt *a = &c->cur;
    struct model_end *h = model_conn_push_end(c);
    struct model_log *l;

    h->seq = a->seq;
    h->wall_start_us = a->wall_start_us;
    h->wall_end_us = e->t_wall_us;
    h->t_end_us = e->t_mono_us;
    h->open_for_us = a->open_for_us;
    h->cause = a->cause;
    h->by = a->by;
    h->reached = a->reached;
    h->code = a->close_code;
    h->http_status = a->http ? a->http->status : 0;
    h->quiet = a->open_for_us >= 0 && a->msgs_in == 0 && a->msgs_out == 0 && a->pings_sent == 0;
    if (a->remote[0]) /* else no backend served it: c->backend is the last attempt's */
        memcpy(h->backend, c->backend, sizeof(h->backend));

    if ((unsigned)a->cause < EVT_CAUSE_COUNT)
        conn_ends(c)->cause_counts[a->cause]++;
    if (a->close_code)
        count_code(c, a->close_code);
    if (a->open_for_us >= 0) {
        if (c->life_n == 0 || a->open_for_us < c->life_min_us)
            c->life_min_us = a->open_for_us;
        if (c->life_n == 0 || a->open_for_us > c->life_max_us)
            c->life_max_us = a->open_for_us;
        c->life_n++;
        c->life_sum_us += a->open_for_us;
    }
    c->t_state_us = e->t_mono_us;

    l = log_add(m, e);
    l->cause = a->cause;
    l->by = a->by;
    l->reached = a->reached;
    l->code = a->close_code;
    l->http_status = h->http_status;
    l->dur_us = a->open_for_us >= 0 ? a->open_for_us : a->total_us;
    xstrlcpy(l->text, a->close_reason, sizeof(l->text));
}

static void apply_health(struct model *m, struct model_ep *ep, const struct evt *e)
{
    struct model_health *hl = &ep->health;
    bool was_ok = hl->polls > 0 && hl->status >= 200 && hl->status < 400;
    bool ok = e->u.health.status >= 200 && e->u.health.status < 400;
    bool changed = hl->polls == 0 || was_ok != ok || hl->status != e->u.health.status;

    hl->polls++;
    if (!ok)
        hl->failures++;
    hl->status = e->u.health.status;
    hl->latency_us = e->u.health.latency_us;
    COPY_STR(hl->error, e->u.health.error);
    hl->wall_us = e->t_wall_us;
    if (changed) {
        struct model_log *l = log_add(m, e);
        l->code = hl->status;
        l->dur_us = hl->latency_us;
        COPY_STR(l->text, e->u.health.error);
    }
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
        text_set(a, TX_FIRST, e->u.msg.first, n);
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
    TEXT_SET(a, TX_REASON, e->u.closed.reason);
    a->sys_errno = e->u.closed.sys_errno;
    TEXT_SET(a, TX_DETAIL, e->u.closed.detail);
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

    if (!m || !e || (unsigned)e->kind >= EVT_KIND_COUNT)
        return -EINVAL;
    if (e->kind == EVT_MARK) {
        struct model_log *l;
        if (e->ep != EVT_EP_NONE && e->ep >= m->n_eps)
            return -EINVAL;
        l = log_add(m, e);
        COPY_STR(l->text, e->u.mark.text);
        return 0;
    }
    if (e->ep >= m->n_eps || e->conn >= m->eps[e->ep].n_conns)
        return -EINVAL;
    if (e->kind == EVT_HEALTH) {
        apply_health(m, &m->eps[e->ep], e);
        return 0;
    }
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
        TEXT_SET(a, TX_DNS, e->u.dns.addr);
        advance(a, EVT_PH_DNS);
        break;
    case EVT_TCP:
        a->t_tcp_us = t;
        a->tcp_us = t - (a->t_dns_us >= 0 ? a->t_dns_us : a->t_start_us);
        TEXT_SET(a, TX_REMOTE, e->u.tcp.remote);
        TEXT_SET(a, TX_LOCAL, e->u.tcp.local);
        xstrlcpy(c->backend, a->remote, sizeof(c->backend)); /* until the response names it */
        advance(a, EVT_PH_TCP);
        break;
    case EVT_TLS:
        a->t_tls_us = t;
        a->tls_us = a->t_tcp_us >= 0 ? t - a->t_tcp_us : -1;
        model_tls_drop(a->tls_info);
        a->tls_info = model_tls_new(&e->u.tls);
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
        model_http_drop(a->http);
        a->http = model_http_new(&e->u.http);
        /* backend attribution: the configured header, else the sticky cookie */
        if (a->http->backend[0])
            xstrlcpy(c->backend, a->http->backend, sizeof(c->backend));
        else if (a->http->sticky[0])
            xstrlcpy(c->backend, a->http->sticky, sizeof(c->backend));
        break;
    case EVT_OPEN:
        a->t_open_us = t;
        a->open_us = t - a->t_start_us;
        a->reached = EVT_PH_OPEN;
        a->ready_state = 1;
        c->opened++;
        c->t_state_us = t;
        {
            struct model_log *l = log_add(m, e);
            l->reached = EVT_PH_OPEN;
            l->dur_us = a->open_us;
        }
        break;
    case EVT_MSG:
        apply_msg(a, e);
        if (e->u.msg.out) {
            c->msgs_out++;
            c->bytes_out += e->u.msg.len;
        } else {
            c->msgs_in++;
            c->bytes_in += e->u.msg.len;
        }
        break;
    case EVT_PING:
        a->pings_sent++;
        break;
    case EVT_PONG:
        apply_pong(a, e->u.pong.rtt_us);
        c->spark[c->n_spark++ % MODEL_SPARK] = e->u.pong.rtt_us;
        break;
    case EVT_CLOSING:
        if (a->ready_state == 1) {
            a->ready_state = 2;
            c->t_state_us = t;
        }
        break;
    case EVT_CLOSED:
        apply_closed(a, e);
        conn_ended(m, c, e);
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

const struct model_log *model_log_get(const struct model *m, uint64_t i)
{
    if (!m || i >= m->n_log || i >= MODEL_LOG)
        return NULL;
    return &m->log[(m->n_log - 1 - i) % MODEL_LOG];
}

const struct model_end *model_end_get(const struct model_conn *c, uint32_t i)
{
    if (!c || !c->hist || i >= c->n_ended || i >= MODEL_HIST)
        return NULL;
    return &c->hist[(c->n_ended - 1 - i) % MODEL_HIST];
}

size_t model_spark(const struct model_conn *c, uint32_t *out)
{
    size_t n = c->n_spark < MODEL_SPARK ? c->n_spark : MODEL_SPARK;
    size_t first = c->n_spark < MODEL_SPARK ? 0 : c->n_spark % MODEL_SPARK;

    for (size_t i = 0; i < n; i++)
        out[i] = c->spark[(first + i) % MODEL_SPARK];
    return n;
}

int64_t model_conn_rtt_median_us(const struct model_conn *c)
{
    uint32_t v[MODEL_SPARK];
    size_t n = model_spark(c, v);

    if (n == 0)
        return -1;
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
