/* SPDX-License-Identifier: MIT */
/* Model: hand-built event sequences, derived durations, states, counters and ordering rules. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "evt.h"
#include "model.h"

/* ---- event builders ------------------------------------------------------ */

/* Where the next events go: one connection of one endpoint, one attempt. */
struct seq {
    struct model *m;
    uint32_t ep, conn, attempt;
};

static struct evt mk(const struct seq *s, enum evt_kind k, int64_t t_us)
{
    struct evt e;

    memset(&e, 0, sizeof(e));
    e.kind = k;
    e.ep = s->ep;
    e.conn = s->conn;
    e.attempt = s->attempt;
    e.t_mono_us = t_us;
    e.t_wall_us = 1700000000000000 + t_us;
    return e;
}

static int put(struct seq *s, const struct evt *e)
{
    return model_apply(s->m, e);
}

static int ev_attempt(struct seq *s, uint32_t attempt, int64_t t, bool tls)
{
    struct evt e;

    s->attempt = attempt;
    e = mk(s, EVT_ATTEMPT, t);
    e.u.attempt.tls = tls;
    return put(s, &e);
}

static int ev_dns(struct seq *s, int64_t t, const char *addr)
{
    struct evt e = mk(s, EVT_DNS, t);

    snprintf(e.u.dns.addr, sizeof(e.u.dns.addr), "%s", addr);
    e.u.dns.n_addrs = 1;
    return put(s, &e);
}

static int ev_tcp(struct seq *s, int64_t t, const char *remote, const char *local)
{
    struct evt e = mk(s, EVT_TCP, t);

    snprintf(e.u.tcp.remote, sizeof(e.u.tcp.remote), "%s", remote);
    snprintf(e.u.tcp.local, sizeof(e.u.tcp.local), "%s", local);
    return put(s, &e);
}

static int ev_tls(struct seq *s, int64_t t, enum evt_verify verify, bool insecure)
{
    struct evt e = mk(s, EVT_TLS, t);

    snprintf(e.u.tls.version, sizeof(e.u.tls.version), "TLSv1.3");
    snprintf(e.u.tls.cipher, sizeof(e.u.tls.cipher), "TLS_AES_128_GCM_SHA256");
    snprintf(e.u.tls.subject, sizeof(e.u.tls.subject), "CN=ws.example.com");
    snprintf(e.u.tls.issuer, sizeof(e.u.tls.issuer), "CN=Test CA");
    snprintf(e.u.tls.sans, sizeof(e.u.tls.sans), "DNS:ws.example.com");
    e.u.tls.not_after_s = 1800000000;
    e.u.tls.verify = verify;
    e.u.tls.verify_code = verify == EVT_VERIFY_OK ? 0 : 10;
    e.u.tls.insecure = insecure;
    return put(s, &e);
}

static int ev_plain(struct seq *s, enum evt_kind k, int64_t t)
{
    struct evt e = mk(s, k, t);

    return put(s, &e);
}

static int ev_response(struct seq *s, int64_t t, int status, const char *upgrade)
{
    struct evt e = mk(s, EVT_RESPONSE, t);

    e.u.http.status = status;
    snprintf(e.u.http.upgrade, sizeof(e.u.http.upgrade), "%s", upgrade);
    snprintf(e.u.http.server, sizeof(e.u.http.server), "test-server");
    e.u.http.accept_ok = status == 101 ? 1 : -1;
    e.u.http.n_cookies = 1;
    snprintf(e.u.http.cookies[0], sizeof(e.u.http.cookies[0]), "AWSALB");
    return put(s, &e);
}

static int ev_msg(struct seq *s, int64_t t, bool out, const char *text, bool matched)
{
    struct evt e = mk(s, EVT_MSG, t);

    e.u.msg.out = out;
    e.u.msg.len = strlen(text);
    e.u.msg.matched = matched;
    e.u.msg.first_len = (uint32_t)snprintf(e.u.msg.first, sizeof(e.u.msg.first), "%s", text);
    return put(s, &e);
}

static int ev_pong(struct seq *s, int64_t t, uint32_t rtt_us)
{
    struct evt e = mk(s, EVT_PONG, t);

    e.u.pong.rtt_us = rtt_us;
    return put(s, &e);
}

static int ev_closed(struct seq *s, int64_t t, enum evt_cause cause, enum evt_by by, int code,
                     const char *reason)
{
    struct evt e = mk(s, EVT_CLOSED, t);

    e.u.closed.cause = cause;
    e.u.closed.by = by;
    e.u.closed.transport = by == EVT_BY_NETWORK ? EVT_TR_EOF : EVT_TR_NONE;
    e.u.closed.code = code;
    e.u.closed.frame = by == EVT_BY_SERVER;
    snprintf(e.u.closed.reason, sizeof(e.u.closed.reason), "%s", reason);
    snprintf(e.u.closed.detail, sizeof(e.u.closed.detail), "detail text");
    e.u.closed.sys_errno = 104;
    return put(s, &e);
}

/* ATTEMPT at t0 and every phase up to open, 1 ms apart, on a wss:// URL. */
static void open_at(struct seq *s, uint32_t attempt, int64_t t0)
{
    assert_int_equal(ev_attempt(s, attempt, t0, true), 0);
    assert_int_equal(ev_dns(s, t0 + 1000, "203.0.113.7"), 0);
    assert_int_equal(ev_tcp(s, t0 + 2000, "203.0.113.7:443", "192.0.2.1:50000"), 0);
    assert_int_equal(ev_tls(s, t0 + 3000, EVT_VERIFY_OK, false), 0);
    assert_int_equal(ev_plain(s, EVT_REQUEST, t0 + 4000), 0);
    assert_int_equal(ev_response(s, t0 + 5000, 101, "websocket"), 0);
    assert_int_equal(ev_plain(s, EVT_OPEN, t0 + 6000), 0);
}

static const struct model_attempt *cur(const struct seq *s)
{
    const struct model_attempt *a = model_attempt_get(s->m, s->ep, s->conn);

    assert_non_null(a);
    return a;
}

static int setup(void **state)
{
    static const int conns[] = {1, 3};
    static struct seq s;

    memset(&s, 0, sizeof(s));
    s.m = model_new(2, conns);
    *state = &s;
    return s.m ? 0 : -1;
}

static int teardown(void **state)
{
    struct seq *s = *state;

    model_free(s->m);
    return 0;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_new_and_get(void **state)
{
    struct seq *s = *state;
    const struct model_attempt *a;
    struct model *m1;

    assert_int_equal(s->m->n_eps, 2);
    assert_int_equal(s->m->eps[0].id, 0);
    assert_int_equal(s->m->eps[1].id, 1);
    assert_int_equal(s->m->eps[0].n_conns, 1);
    assert_int_equal(s->m->eps[1].n_conns, 3);
    assert_non_null(model_attempt_get(s->m, 1, 2));
    assert_null(model_attempt_get(s->m, 1, 3));
    assert_null(model_attempt_get(s->m, 0, 1));
    assert_null(model_attempt_get(s->m, 2, 0));
    assert_null(model_attempt_get(NULL, 0, 0));
    a = model_attempt_get(s->m, 0, 0);
    assert_int_equal(a->seq, 0);
    assert_false(a->ended);
    assert_int_equal(s->m->eps[0].conns[0].attempts, 0);
    assert_int_equal(model_rtt_median_us(a), -1);

    /* no per-endpoint counts: one connection each */
    m1 = model_new(3, NULL);
    assert_int_equal(m1->eps[2].n_conns, 1);
    model_free(m1);
    model_free(NULL);
}

static void test_full_tls_attempt(void **state)
{
    struct seq *s = *state;
    const struct model_attempt *a;

    assert_int_equal(ev_attempt(s, 1, 1000, true), 0);
    a = cur(s);
    assert_int_equal(a->seq, 1);
    assert_true(a->tls);
    assert_int_equal(a->t_start_us, 1000);
    assert_int_equal(a->wall_start_us, 1700000000000000 + 1000);
    assert_int_equal(a->reached, EVT_PH_NONE);
    assert_int_equal(a->ready_state, 0);
    assert_int_equal(a->dns_us, -1);
    assert_int_equal(a->tcp_us, -1);
    assert_int_equal(a->tls_us, -1);
    assert_int_equal(a->upgrade_us, -1);
    assert_int_equal(a->open_us, -1);
    assert_int_equal(a->first_message_us, -1);
    assert_int_equal(a->total_us, -1);
    assert_int_equal(a->open_for_us, -1);
    assert_int_equal(a->t_expect_us, -1);
    assert_int_equal(a->t_open_us, -1);
    assert_int_equal(a->t_end_us, -1);
    assert_int_equal(s->m->eps[0].conns[0].attempts, 1);

    assert_int_equal(ev_dns(s, 3000, "203.0.113.7"), 0);
    assert_int_equal(a->t_dns_us, 3000);
    assert_int_equal(a->dns_us, 2000);
    assert_int_equal(a->reached, EVT_PH_DNS);
    assert_string_equal(a->dns_addr, "203.0.113.7");

    assert_int_equal(ev_tcp(s, 4500, "203.0.113.7:443", "192.0.2.1:50000"), 0);
    assert_int_equal(a->tcp_us, 1500);
    assert_int_equal(a->reached, EVT_PH_TCP);
    assert_string_equal(a->remote, "203.0.113.7:443");
    assert_string_equal(a->local, "192.0.2.1:50000");

    assert_int_equal(ev_tls(s, 10000, EVT_VERIFY_OK, false), 0);
    assert_int_equal(a->t_tls_us, 10000);
    assert_int_equal(a->tls_us, 5500);
    assert_int_equal(a->reached, EVT_PH_TLS);
    assert_non_null(a->tls_info);
    assert_string_equal(a->tls_info->version, "TLSv1.3");
    assert_string_equal(a->tls_info->issuer, "CN=Test CA");
    assert_int_equal(a->tls_info->not_after_s, 1800000000);

    assert_int_equal(ev_plain(s, EVT_REQUEST, 10100), 0);
    assert_int_equal(a->t_request_us, 10100);
    assert_int_equal(ev_response(s, 12100, 101, "websocket"), 0);
    assert_int_equal(a->t_response_us, 12100);
    assert_int_equal(a->upgrade_us, 2000);
    assert_non_null(a->http);
    assert_int_equal(a->http->status, 101);
    assert_string_equal(a->http->upgrade, "websocket");
    assert_string_equal(a->http->cookies[0], "AWSALB");
    /* a response is not yet open: reached moves on open only */
    assert_int_equal(a->reached, EVT_PH_TLS);
    assert_int_equal(a->ready_state, 0);

    assert_int_equal(ev_plain(s, EVT_OPEN, 12200), 0);
    assert_int_equal(a->t_open_us, 12200);
    assert_int_equal(a->open_us, 11200);
    assert_int_equal(a->reached, EVT_PH_OPEN);
    assert_int_equal(a->ready_state, 1);
    assert_int_equal(s->m->eps[0].conns[0].opened, 1);

    assert_int_equal(ev_msg(s, 13000, true, "subscribe", false), 0);
    assert_int_equal(a->msgs_out, 1);
    assert_int_equal(a->bytes_out, 9);
    assert_int_equal(a->t_first_msg_us, -1);
    assert_int_equal(ev_msg(s, 15000, false, "welcome", false), 0);
    assert_int_equal(a->msgs_in, 1);
    assert_int_equal(a->bytes_in, 7);
    assert_int_equal(a->t_first_msg_us, 15000);
    assert_int_equal(a->first_message_us, 14000);
    assert_int_equal(a->first_len, 7);
    assert_memory_equal(a->first, "welcome", 7);
    assert_false(a->expect_seen);
    assert_int_equal(ev_msg(s, 16000, false, "test 1", true), 0);
    assert_true(a->expect_seen);
    assert_int_equal(a->t_expect_us, 16000);
    assert_int_equal(ev_msg(s, 17000, false, "test 2", true), 0);
    assert_int_equal(a->t_expect_us, 16000); /* the first match stays */
    assert_int_equal(a->msgs_in, 3);
    assert_int_equal(a->bytes_in, 19);
    assert_int_equal(a->first_message_us, 14000);
    assert_memory_equal(a->first, "welcome", 7);

    assert_int_equal(ev_plain(s, EVT_PING, 20000), 0);
    assert_int_equal(ev_pong(s, 20300, 300), 0);
    assert_int_equal(ev_plain(s, EVT_PING, 21000), 0);
    assert_int_equal(a->pings_sent, 2);
    assert_int_equal(a->pongs, 1);
    assert_int_equal(a->rtt_last_us, 300);

    assert_int_equal(ev_plain(s, EVT_CLOSING, 30000), 0);
    assert_int_equal(a->ready_state, 2);
    assert_false(a->ended);

    assert_int_equal(ev_closed(s, 31000, EVT_CAUSE_CLOSE_FRAME, EVT_BY_SERVER, 1001, "bye"), 0);
    assert_true(a->ended);
    assert_int_equal(a->ready_state, 3);
    assert_int_equal(a->t_end_us, 31000);
    assert_int_equal(a->total_us, 30000);
    assert_int_equal(a->open_for_us, 31000 - 12200);
    assert_int_equal(a->cause, EVT_CAUSE_CLOSE_FRAME);
    assert_int_equal(a->by, EVT_BY_SERVER);
    assert_int_equal(a->close_code, 1001);
    assert_true(a->close_frame);
    assert_string_equal(a->close_reason, "bye");
    assert_string_equal(a->detail, "detail text");
    assert_int_equal(a->sys_errno, 104);
    assert_int_equal(a->t_last_us, 31000);
    /* the phase durations are unchanged by the end */
    assert_int_equal(a->dns_us, 2000);
    assert_int_equal(a->open_us, 11200);
}

static void test_no_dns_phase(void **state)
{
    struct seq *s = *state;
    const struct model_attempt *a;

    /* an IP literal: TCP is measured from the start */
    assert_int_equal(ev_attempt(s, 1, 500, false), 0);
    assert_int_equal(ev_tcp(s, 1700, "127.0.0.1:80", "127.0.0.1:40000"), 0);
    a = cur(s);
    assert_false(a->tls);
    assert_int_equal(a->dns_us, -1);
    assert_int_equal(a->t_dns_us, -1);
    assert_int_equal(a->tcp_us, 1200);
    assert_int_equal(a->reached, EVT_PH_TCP);
    assert_null(a->tls_info);
    assert_int_equal(a->tls_us, -1);
}

static void test_tls_failed_verification(void **state)
{
    struct seq *s = *state;
    const struct model_attempt *a;

    assert_int_equal(ev_attempt(s, 1, 0, true), 0);
    assert_int_equal(ev_tcp(s, 100, "203.0.113.7:443", "192.0.2.1:1"), 0);
    assert_int_equal(ev_tls(s, 900, EVT_VERIFY_EXPIRED, false), 0);
    a = cur(s);
    /* recorded, but the phase is not complete: the handshake is about to fail */
    assert_non_null(a->tls_info);
    assert_int_equal(a->tls_info->verify, EVT_VERIFY_EXPIRED);
    assert_int_equal(a->tls_us, 800);
    assert_int_equal(a->reached, EVT_PH_TCP);
    assert_int_equal(ev_closed(s, 1000, EVT_CAUSE_TLS_EXPIRED, EVT_BY_NONE, 1006, ""), 0);
    assert_int_equal(a->reached, EVT_PH_TCP);
    assert_int_equal(a->open_for_us, -1);
    assert_int_equal(a->total_us, 1000);

    /* with --insecure the same certificate completes the phase */
    assert_int_equal(ev_attempt(s, 2, 2000, true), 0);
    assert_int_equal(ev_tcp(s, 2100, "203.0.113.7:443", "192.0.2.1:2"), 0);
    assert_int_equal(ev_tls(s, 2900, EVT_VERIFY_EXPIRED, true), 0);
    assert_int_equal(a->reached, EVT_PH_TLS);
    assert_true(a->tls_info->insecure);
}

static void test_open_without_response(void **state)
{
    struct seq *s = *state;
    const struct model_attempt *a;

    assert_int_equal(ev_attempt(s, 1, 0, false), 0);
    assert_int_equal(ev_tcp(s, 100, "127.0.0.1:80", "127.0.0.1:3"), 0);
    assert_int_equal(ev_plain(s, EVT_OPEN, 700), 0);
    a = cur(s);
    assert_int_equal(a->reached, EVT_PH_OPEN);
    assert_int_equal(a->ready_state, 1);
    assert_int_equal(a->open_us, 700);
    assert_null(a->http);
    assert_int_equal(a->upgrade_us, -1);
}

static void test_response_without_request(void **state)
{
    struct seq *s = *state;
    const struct model_attempt *a;

    assert_int_equal(ev_attempt(s, 1, 0, false), 0);
    assert_int_equal(ev_response(s, 500, 502, ""), 0);
    a = cur(s);
    assert_non_null(a->http);
    assert_int_equal(a->http->status, 502);
    assert_int_equal(a->upgrade_us, -1);
    assert_int_equal(a->t_response_us, 500);
}

static void test_closing_and_closed_before_open(void **state)
{
    struct seq *s = *state;
    const struct model_attempt *a;

    assert_int_equal(ev_attempt(s, 1, 0, false), 0);
    assert_int_equal(ev_tcp(s, 100, "127.0.0.1:80", "127.0.0.1:3"), 0);
    assert_int_equal(ev_plain(s, EVT_CLOSING, 200), 0);
    a = cur(s);
    assert_int_equal(a->ready_state, 0); /* CLOSING only once open */
    assert_int_equal(ev_closed(s, 400, EVT_CAUSE_EOF, EVT_BY_NETWORK, 1006, ""), 0);
    assert_int_equal(a->ready_state, 3);
    assert_int_equal(a->open_for_us, -1);
    assert_int_equal(a->transport, EVT_TR_EOF);
    assert_int_equal(a->close_code, 1006);
    assert_false(a->close_frame);
    assert_int_equal(s->m->eps[0].conns[0].opened, 0);
}

static void test_next_attempt_resets(void **state)
{
    struct seq *s = *state;
    const struct model_attempt *a;

    open_at(s, 1, 0);
    assert_int_equal(ev_plain(s, EVT_PING, 7000), 0);
    assert_int_equal(ev_pong(s, 7100, 100), 0);
    assert_int_equal(ev_closed(s, 9000, EVT_CAUSE_EOF, EVT_BY_NETWORK, 1006, ""), 0);
    assert_int_equal(ev_attempt(s, 2, 10000, false), 0);
    a = cur(s);
    assert_int_equal(a->seq, 2);
    assert_false(a->tls);
    assert_false(a->ended);
    assert_null(a->tls_info);
    assert_null(a->http);
    assert_int_equal(a->reached, EVT_PH_NONE);
    assert_int_equal(a->ready_state, 0);
    assert_int_equal(a->pings_sent, 0);
    assert_int_equal(a->rtt_n, 0);
    assert_int_equal(a->close_code, 0);
    assert_int_equal(a->remote[0], '\0');
    assert_int_equal(a->open_us, -1);
    assert_int_equal(model_rtt_median_us(a), -1);
    assert_int_equal(s->m->eps[0].conns[0].attempts, 2);
    assert_int_equal(s->m->eps[0].conns[0].opened, 1);
}

static void test_rejects_out_of_order(void **state)
{
    struct seq *s = *state;
    const struct model_attempt *a;
    struct evt e;

    /* before any attempt */
    s->attempt = 1;
    assert_int_equal(ev_dns(s, 10, "198.51.100.4"), -EINVAL);
    assert_int_equal(ev_plain(s, EVT_OPEN, 10), -EINVAL);
    assert_int_equal(ev_closed(s, 10, EVT_CAUSE_EOF, EVT_BY_NETWORK, 1006, ""), -EINVAL);
    a = cur(s);
    assert_int_equal(a->seq, 0);
    assert_false(a->ended);

    /* attempt 0 is "no attempt" */
    assert_int_equal(ev_attempt(s, 0, 0, false), -EINVAL);
    assert_int_equal(s->m->eps[0].conns[0].attempts, 0);

    assert_int_equal(ev_attempt(s, 3, 100, true), 0);
    /* another attempt's events */
    s->attempt = 2;
    assert_int_equal(ev_dns(s, 200, "198.51.100.4"), -EINVAL);
    s->attempt = 4;
    assert_int_equal(ev_tcp(s, 200, "198.51.100.4:443", "x"), -EINVAL);
    assert_int_equal(a->reached, EVT_PH_NONE);
    assert_int_equal(a->t_dns_us, -1);
    s->attempt = 3;

    /* traffic before open */
    assert_int_equal(ev_msg(s, 300, false, "early", true), -EINVAL);
    assert_int_equal(ev_plain(s, EVT_PING, 300), -EINVAL);
    assert_int_equal(ev_pong(s, 300, 5), -EINVAL);
    assert_int_equal(a->msgs_in, 0);
    assert_false(a->expect_seen);

    assert_int_equal(ev_tcp(s, 400, "198.51.100.4:443", "x"), 0);
    assert_int_equal(ev_tls(s, 500, EVT_VERIFY_OK, false), 0);
    assert_int_equal(ev_plain(s, EVT_OPEN, 600), 0);
    /* handshake phases after open, and a second open */
    assert_int_equal(ev_plain(s, EVT_OPEN, 650), -EINVAL);
    assert_int_equal(ev_dns(s, 650, "198.51.100.4"), -EINVAL);
    assert_int_equal(ev_response(s, 650, 200, ""), -EINVAL);
    assert_int_equal(s->m->eps[0].conns[0].opened, 1);
    assert_int_equal(a->t_open_us, 600);
    assert_null(a->http);

    assert_int_equal(ev_closed(s, 700, EVT_CAUSE_NONE, EVT_BY_CLIENT, 1000, ""), 0);
    /* after the end */
    assert_int_equal(ev_msg(s, 800, false, "late", false), -EINVAL);
    assert_int_equal(ev_plain(s, EVT_CLOSING, 800), -EINVAL);
    assert_int_equal(ev_closed(s, 800, EVT_CAUSE_EOF, EVT_BY_NETWORK, 1006, ""), -EINVAL);
    assert_int_equal(a->msgs_in, 0);
    assert_int_equal(a->t_end_us, 700);
    assert_int_equal(a->cause, EVT_CAUSE_NONE);
    assert_int_equal(a->t_last_us, 700);

    /* unknown endpoint, connection, kind; no model or event */
    s->ep = 2;
    assert_int_equal(ev_attempt(s, 1, 0, false), -EINVAL);
    s->ep = 0;
    s->conn = 1;
    assert_int_equal(ev_attempt(s, 1, 0, false), -EINVAL);
    s->conn = 0;
    e = mk(s, EVT_KIND_COUNT, 900);
    assert_int_equal(model_apply(s->m, &e), -EINVAL);
    e = mk(s, EVT_ATTEMPT, 900);
    e.attempt = 9;
    assert_int_equal(model_apply(NULL, &e), -EINVAL);
    assert_int_equal(model_apply(s->m, NULL), -EINVAL);
}

static void test_connections_are_separate(void **state)
{
    struct seq *s = *state;
    struct seq other = *s;

    s->ep = 1;
    s->conn = 2;
    other.ep = 1;
    other.conn = 0;
    open_at(s, 1, 0);
    assert_int_equal(ev_attempt(&other, 1, 50, false), 0);
    assert_int_equal(cur(s)->reached, EVT_PH_OPEN);
    assert_int_equal(cur(&other)->reached, EVT_PH_NONE);
    assert_int_equal(s->m->eps[1].conns[2].opened, 1);
    assert_int_equal(s->m->eps[1].conns[0].opened, 0);
    assert_int_equal(s->m->eps[1].conns[1].attempts, 0);
    assert_int_equal(s->m->eps[0].conns[0].attempts, 0);
    s->ep = 0;
    s->conn = 0;
}

static void test_rtt_odd_even(void **state)
{
    struct seq *s = *state;
    const struct model_attempt *a;

    open_at(s, 1, 0);
    a = cur(s);
    assert_int_equal(model_rtt_median_us(a), -1);
    assert_int_equal(ev_pong(s, 10000, 300), 0);
    assert_int_equal(model_rtt_median_us(a), 300);
    assert_int_equal(ev_pong(s, 11000, 100), 0);
    /* even: the mean of the middle two */
    assert_int_equal(model_rtt_median_us(a), 200);
    assert_int_equal(ev_pong(s, 12000, 200), 0);
    /* odd: 100 200 300 */
    assert_int_equal(model_rtt_median_us(a), 200);
    assert_int_equal(ev_pong(s, 13000, 1000), 0);
    /* 100 200 300 1000: (200 + 300) / 2 */
    assert_int_equal(model_rtt_median_us(a), 250);
    assert_int_equal(a->rtt_min_us, 100);
    assert_int_equal(a->rtt_max_us, 1000);
    assert_int_equal(a->rtt_last_us, 1000);
    assert_int_equal(a->rtt_n, 4);
    assert_int_equal(a->pongs, 4);
}

static void test_rtt_even_rounds_down(void **state)
{
    struct seq *s = *state;

    open_at(s, 1, 0);
    assert_int_equal(ev_pong(s, 10000, 11), 0);
    assert_int_equal(ev_pong(s, 11000, 10), 0);
    assert_int_equal(model_rtt_median_us(cur(s)), 10); /* 10.5 */
    /* large samples do not overflow the mean */
    assert_int_equal(ev_attempt(s, 2, 20000, false), 0);
    assert_int_equal(ev_plain(s, EVT_OPEN, 20100), 0);
    assert_int_equal(ev_pong(s, 21000, UINT32_MAX), 0);
    assert_int_equal(ev_pong(s, 22000, UINT32_MAX - 1), 0);
    assert_int_equal(model_rtt_median_us(cur(s)), (int64_t)UINT32_MAX - 1);
}

static void test_rtt_over_ring(void **state)
{
    struct seq *s = *state;
    const struct model_attempt *a;
    uint32_t n = MODEL_RTT_RING + 10;

    open_at(s, 1, 0);
    /* samples 0, 1, ..., RING + 9: only the last RING (10 ... RING + 9) are kept */
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(ev_pong(s, 10000 + i, i), 0);
    a = cur(s);
    assert_int_equal(a->rtt_n, n);
    assert_int_equal(a->pongs, n);
    assert_int_equal(a->rtt_min_us, 0); /* over every sample, not only the kept ones */
    assert_int_equal(a->rtt_max_us, n - 1);
    assert_int_equal(a->rtt_last_us, n - 1);
    /* kept 10 .. RING + 9 (RING even): the middle two are RING/2 + 9 and RING/2 + 10, and
     * the median rounds their mean down (RING 32: 25 and 26, 25) */
    assert_true(MODEL_RTT_RING % 2 == 0);
    assert_int_equal(model_rtt_median_us(a), MODEL_RTT_RING / 2 + 9);

    /* one more: kept 11 .. RING + 10, middle two RING/2 + 10 and RING/2 + 11 */
    assert_int_equal(ev_pong(s, 20000, n), 0);
    assert_int_equal(model_rtt_median_us(a), MODEL_RTT_RING / 2 + 10);
}

static void test_first_message_capped(void **state)
{
    struct seq *s = *state;
    const struct model_attempt *a;
    struct evt e;

    open_at(s, 1, 0);
    e = mk(s, EVT_MSG, 9000);
    e.u.msg.binary = true;
    e.u.msg.len = 100000;
    memset(e.u.msg.first, 0xAB, sizeof(e.u.msg.first));
    e.u.msg.first_len = 100000; /* larger than what the event can hold */
    assert_int_equal(model_apply(s->m, &e), 0);
    a = cur(s);
    assert_true(a->first_binary);
    assert_int_equal(a->first_len, EVT_FIRST_MAX);
    assert_int_equal((unsigned char)a->first[0], 0xAB);
    assert_int_equal((unsigned char)a->first[EVT_FIRST_MAX - 1], 0xAB);
    assert_int_equal(a->bytes_in, 100000);
    assert_int_equal(a->first_message_us, 9000);
}

static void test_unterminated_strings(void **state)
{
    struct seq *s = *state;
    const struct model_attempt *a;
    struct evt e;

    open_at(s, 1, 0);
    e = mk(s, EVT_CLOSED, 9000);
    e.u.closed.cause = EVT_CAUSE_CLOSE_FRAME;
    e.u.closed.by = EVT_BY_SERVER;
    e.u.closed.code = 4000;
    e.u.closed.frame = true;
    memset(e.u.closed.reason, 'r', sizeof(e.u.closed.reason));
    memset(e.u.closed.detail, 'd', sizeof(e.u.closed.detail));
    assert_int_equal(model_apply(s->m, &e), 0);
    a = cur(s);
    assert_int_equal(strlen(a->close_reason), EVT_REASON_MAX - 1);
    assert_int_equal(strlen(a->detail), EVT_NAME_MAX - 1);
}

/* The response and TLS records are packed copies: every string whole and terminated even when
 * the event's arrays were full, and a copy held by someone else (the store's snapshot)
 * outlives the attempt that made it. ASan checks the frees. */
static void test_shared_records(void **state)
{
    struct seq *s = *state;
    const struct model_attempt *a;
    struct model_attempt copy;
    struct evt e;

    assert_int_equal(ev_attempt(s, 1, 0, true), 0);
    assert_string_equal(cur(s)->remote, ""); /* never NULL */
    assert_int_equal(ev_tcp(s, 500, "192.0.2.1:443", "192.0.2.9:50000"), 0);
    assert_int_equal(ev_tls(s, 1000, EVT_VERIFY_OK, false), 0);
    e = mk(s, EVT_RESPONSE, 2000);
    e.u.http.status = 101;
    e.u.http.accept_ok = 1;
    memset(e.u.http.server, 's', sizeof(e.u.http.server)); /* no NUL */
    snprintf(e.u.http.upgrade, sizeof(e.u.http.upgrade), "websocket");
    e.u.http.n_cookies = 99; /* hostile: clamped to what the array holds */
    for (int i = 0; i < EVT_COOKIES_MAX; i++)
        snprintf(e.u.http.cookies[i], sizeof(e.u.http.cookies[i]), "C%d", i);
    assert_int_equal(model_apply(s->m, &e), 0);
    a = cur(s);
    assert_non_null(a->http);
    assert_int_equal(strlen(a->http->server), EVT_HDR_MAX - 1);
    assert_string_equal(a->http->upgrade, "websocket");
    assert_string_equal(a->http->connection, "");
    assert_int_equal(a->http->n_cookies, EVT_COOKIES_MAX);
    assert_string_equal(a->http->cookies[EVT_COOKIES_MAX - 1], "C3");
    assert_non_null(a->tls_info);
    assert_string_equal(model_tls_of(a)->version, "TLSv1.3");

    copy = *a;
    model_attempt_hold(&copy);
    /* the next attempt drops the model's references; the copy's stay good */
    assert_int_equal(ev_closed(s, 3000, EVT_CAUSE_RESET, EVT_BY_NETWORK, 1006, ""), 0);
    assert_int_equal(ev_attempt(s, 2, 4000, true), 0);
    assert_null(cur(s)->http);
    assert_null(cur(s)->tls_info);
    assert_int_equal(model_http_of(cur(s))->status, 0);
    assert_string_equal(model_http_of(cur(s))->server, "");
    assert_string_equal(cur(s)->remote, "");
    assert_string_equal(cur(s)->close_reason, "");
    assert_int_equal(copy.http->status, 101);
    assert_string_equal(copy.tls_info->issuer, "CN=Test CA");
    assert_string_equal(copy.remote, "192.0.2.1:443");
    assert_string_equal(copy.local, "192.0.2.9:50000");
    model_attempt_drop(&copy);
    assert_null(copy.http);
    assert_string_equal(copy.remote, "");
}

static void test_expect_only_incoming(void **state)
{
    struct seq *s = *state;
    const struct model_attempt *a;

    open_at(s, 1, 0);
    assert_int_equal(ev_msg(s, 7000, true, "test", true), 0);
    a = cur(s);
    assert_false(a->expect_seen);
    assert_int_equal(a->t_expect_us, -1);
    assert_int_equal(a->t_first_msg_us, -1);
    assert_int_equal(ev_msg(s, 8000, false, "test", true), 0);
    assert_true(a->expect_seen);
    assert_int_equal(a->t_expect_us, 8000);
}

/* ---- history across attempts ------------------------------------------------ */

#define S_US 1000000 /* one second */

static const struct model_conn *conn_of(const struct seq *s)
{
    return &s->m->eps[s->ep].conns[s->conn];
}

static int ev_response_be(struct seq *s, int64_t t, const char *backend, const char *sticky)
{
    struct evt e = mk(s, EVT_RESPONSE, t);

    e.u.http.status = 101;
    snprintf(e.u.http.upgrade, sizeof(e.u.http.upgrade), "websocket");
    snprintf(e.u.http.backend, sizeof(e.u.http.backend), "%s", backend);
    snprintf(e.u.http.sticky, sizeof(e.u.http.sticky), "%s", sticky);
    e.u.http.accept_ok = 1;
    return put(s, &e);
}

static int ev_health(struct model *m, uint32_t ep, int64_t t, int status, uint32_t latency_us,
                     const char *error)
{
    struct evt e;

    memset(&e, 0, sizeof(e));
    e.kind = EVT_HEALTH;
    e.ep = ep;
    e.t_mono_us = t;
    e.t_wall_us = 1700000000000000 + t;
    e.u.health.status = status;
    e.u.health.latency_us = latency_us;
    snprintf(e.u.health.error, sizeof(e.u.health.error), "%s", error);
    return model_apply(m, &e);
}

static int ev_mark(struct model *m, uint32_t ep, int64_t t, const char *text)
{
    struct evt e;

    memset(&e, 0, sizeof(e));
    e.kind = EVT_MARK;
    e.ep = ep;
    e.t_mono_us = t;
    e.t_wall_us = 1700000000000000 + t;
    snprintf(e.u.mark.text, sizeof(e.u.mark.text), "%s", text);
    return model_apply(m, &e);
}

/* Attempt n from t0: opened at t0 + 6 ms and ended open_for_us later, or (open_for_us < 0)
 * resolved at t0 + 1 ms and failed at t0 + 3 ms. */
static void one_attempt(struct seq *s, uint32_t n, int64_t t0, int64_t open_for_us,
                        enum evt_cause cause, enum evt_by by, int code)
{
    if (open_for_us >= 0) {
        open_at(s, n, t0);
        assert_int_equal(ev_closed(s, t0 + 6000 + open_for_us, cause, by, code, ""), 0);
        return;
    }
    assert_int_equal(ev_attempt(s, n, t0, true), 0);
    assert_int_equal(ev_dns(s, t0 + 1000, "203.0.113.7"), 0);
    assert_int_equal(ev_closed(s, t0 + 3000, cause, by, code, ""), 0);
}

static void test_hist_ring_order_and_wrap(void **state)
{
    struct seq *s = *state;
    const struct model_conn *c = conn_of(s);
    const struct model_end *h;

    assert_null(model_end_get(c, 0));
    assert_null(model_end_get(NULL, 0));

    /* 1: refused before open; 2: open 5 s, 1006 by network; 3: open 2 s, 1001 by server */
    one_attempt(s, 1, 0, -1, EVT_CAUSE_REFUSED, EVT_BY_NETWORK, 1006);
    one_attempt(s, 2, 10 * S_US, 5 * S_US, EVT_CAUSE_EOF, EVT_BY_NETWORK, 1006);
    one_attempt(s, 3, 20 * S_US, 2 * S_US, EVT_CAUSE_CLOSE_FRAME, EVT_BY_SERVER, 1001);
    assert_int_equal(c->n_ended, 3);
    assert_int_equal(c->attempts, 3);
    assert_int_equal(c->opened, 2);

    h = model_end_get(c, 0); /* newest: attempt 3 */
    assert_non_null(h);
    assert_int_equal(h->seq, 3);
    assert_int_equal(h->wall_start_us, 1700000000000000 + 20 * S_US);
    assert_int_equal(h->t_end_us, 20 * S_US + 6000 + 2 * S_US);
    assert_int_equal(h->wall_end_us, 1700000000000000 + h->t_end_us);
    assert_int_equal(h->open_for_us, 2 * S_US);
    assert_int_equal(h->cause, EVT_CAUSE_CLOSE_FRAME);
    assert_int_equal(h->by, EVT_BY_SERVER);
    assert_int_equal(h->reached, EVT_PH_OPEN);
    assert_int_equal(h->code, 1001);
    assert_int_equal(h->http_status, 101);

    h = model_end_get(c, 2); /* oldest: attempt 1 */
    assert_non_null(h);
    assert_int_equal(h->seq, 1);
    assert_int_equal(h->open_for_us, -1);
    assert_int_equal(h->cause, EVT_CAUSE_REFUSED);
    assert_int_equal(h->reached, EVT_PH_DNS);
    assert_int_equal(h->code, 1006);
    assert_int_equal(h->http_status, 0); /* no response */
    assert_false(h->quiet);
    assert_int_equal(model_end_get(c, 1)->seq, 2);
    assert_null(model_end_get(c, 3));

    /* 4 .. MODEL_HIST + 8: the ring keeps the last MODEL_HIST, newest first */
    for (uint32_t n = 4; n <= MODEL_HIST + 8; n++)
        one_attempt(s, n, (int64_t)n * 10 * S_US, S_US, EVT_CAUSE_EOF, EVT_BY_NETWORK, 1006);
    assert_int_equal(c->n_ended, MODEL_HIST + 8);
    for (uint32_t i = 0; i < MODEL_HIST; i++) {
        h = model_end_get(c, i);
        assert_non_null(h);
        assert_int_equal(h->seq, MODEL_HIST + 8 - i);
    }
    assert_int_equal(model_end_get(c, MODEL_HIST - 1)->seq, 9);
    assert_null(model_end_get(c, MODEL_HIST));
    assert_null(model_end_get(c, MODEL_HIST + 7));

    /* an attempt under way adds nothing until it ends */
    assert_int_equal(ev_attempt(s, MODEL_HIST + 9, 1000 * S_US, true), 0);
    assert_int_equal(c->n_ended, MODEL_HIST + 8);
    assert_int_equal(model_end_get(c, 0)->seq, MODEL_HIST + 8);
}

static void test_cause_counts(void **state)
{
    struct seq *s = *state;
    const struct model_conn *c = conn_of(s);
    uint32_t total = 0;

    one_attempt(s, 1, 0, -1, EVT_CAUSE_NXDOMAIN, EVT_BY_NETWORK, 1006);
    one_attempt(s, 2, 1 * S_US, -1, EVT_CAUSE_REFUSED, EVT_BY_NETWORK, 1006);
    one_attempt(s, 3, 2 * S_US, -1, EVT_CAUSE_REFUSED, EVT_BY_NETWORK, 1006);
    one_attempt(s, 4, 3 * S_US, S_US, EVT_CAUSE_CLOSE_FRAME, EVT_BY_SERVER, 1011);
    one_attempt(s, 5, 5 * S_US, S_US, EVT_CAUSE_NONE, EVT_BY_CLIENT, 1000); /* ours, clean */
    one_attempt(s, 6, 7 * S_US, S_US, EVT_CAUSE_PING_TIMEOUT, EVT_BY_TIMEOUT, 1006);
    assert_int_equal(c->cause_counts[EVT_CAUSE_NXDOMAIN], 1);
    assert_int_equal(c->cause_counts[EVT_CAUSE_REFUSED], 2);
    assert_int_equal(c->cause_counts[EVT_CAUSE_CLOSE_FRAME], 1);
    assert_int_equal(c->cause_counts[EVT_CAUSE_NONE], 1);
    assert_int_equal(c->cause_counts[EVT_CAUSE_PING_TIMEOUT], 1);
    assert_int_equal(c->cause_counts[EVT_CAUSE_EOF], 0);
    for (int i = 0; i < EVT_CAUSE_COUNT; i++)
        total += c->cause_counts[i];
    assert_int_equal(total, 6);

    /* close codes, in order of first appearance: 1006 x4, 1011, 1000 */
    assert_int_equal(c->n_codes, 3);
    assert_int_equal(c->codes[0].code, 1006);
    assert_int_equal(c->codes[0].n, 4);
    assert_int_equal(c->codes[1].code, 1011);
    assert_int_equal(c->codes[1].n, 1);
    assert_int_equal(c->codes[2].code, 1000);
    assert_int_equal(c->codes[2].n, 1);
}

/* The count of code in a connection's table, 0 when it is not there. */
static uint32_t code_n(const struct model_conn *c, int code)
{
    for (uint32_t i = 0; i < c->n_codes; i++)
        if (c->codes[i].code == code)
            return c->codes[i].n;
    return 0;
}

static void test_close_code_eviction(void **state)
{
    struct seq *s = *state;
    const struct model_conn *c = conn_of(s);
    uint32_t n = 0;
    int64_t t = 0;

#define END_WITH(code_)                                                                            \
    do {                                                                                           \
        one_attempt(s, ++n, t, S_US, EVT_CAUSE_CLOSE_FRAME, EVT_BY_SERVER, (code_));               \
        t += 2 * S_US;                                                                             \
    } while (0)

    /* 1006 x3, 1001 x2, then 4000 .. 4009 once: 12 distinct codes fill the table */
    END_WITH(1006);
    END_WITH(1006);
    END_WITH(1006);
    END_WITH(1001);
    END_WITH(1001);
    for (int code = 4000; code < 4010; code++)
        END_WITH(code);
    assert_int_equal(MODEL_CODES, 12);
    assert_int_equal(c->n_codes, MODEL_CODES);
    assert_int_equal(c->codes[2].code, 4000);
    assert_int_equal(c->codes[11].code, 4009);

    /* a 13th code takes the slot of the rarest, the first of the ties: 4000 */
    END_WITH(4010);
    assert_int_equal(c->n_codes, MODEL_CODES);
    assert_int_equal(c->codes[2].code, 4010);
    assert_int_equal(c->codes[2].n, 1);
    assert_int_equal(code_n(c, 4000), 0);
    assert_int_equal(code_n(c, 1006), 3);
    assert_int_equal(code_n(c, 1001), 2);

    /* 4000 comes back: it starts again from 1, in the same slot (4010 is now the rarest
     * first) */
    END_WITH(4000);
    assert_int_equal(c->codes[2].code, 4000);
    assert_int_equal(c->codes[2].n, 1);
    assert_int_equal(code_n(c, 4010), 0);

    /* a known code only counts up (1006 to 4, 4001 to 2); the next new code takes the slot
     * of the first of the rarest, 4000 again */
    END_WITH(1006);
    END_WITH(4001);
    END_WITH(4011);
    assert_int_equal(code_n(c, 1006), 4);
    assert_int_equal(code_n(c, 4001), 2);
    assert_int_equal(c->codes[2].code, 4011);
    assert_int_equal(code_n(c, 4000), 0);
    assert_int_equal(code_n(c, 4002), 1);
    assert_int_equal(c->n_codes, MODEL_CODES);
#undef END_WITH

    /* an end without a code (our stop while connecting) counts no code */
    assert_int_equal(ev_attempt(s, ++n, t, true), 0);
    assert_int_equal(ev_closed(s, t + 1000, EVT_CAUSE_NONE, EVT_BY_CLIENT, 0, ""), 0);
    assert_int_equal(code_n(c, 0), 0);
    assert_int_equal(c->cause_counts[EVT_CAUSE_NONE], 1);
}

static void test_lifetimes_and_msg_totals(void **state)
{
    struct seq *s = *state;
    const struct model_conn *c = conn_of(s);

    assert_int_equal(c->life_n, 0);
    /* 1: open 10 s with 2 messages in (5 + 7 bytes) and 1 out (3 bytes) */
    open_at(s, 1, 0);
    assert_int_equal(ev_msg(s, 100000, false, "hello", false), 0);
    assert_int_equal(ev_msg(s, 200000, false, "goodbye", false), 0);
    assert_int_equal(ev_msg(s, 300000, true, "hey", false), 0);
    assert_int_equal(ev_closed(s, 6000 + 10 * S_US, EVT_CAUSE_EOF, EVT_BY_NETWORK, 1006, ""), 0);
    assert_int_equal(c->life_n, 1);
    assert_int_equal(c->life_min_us, 10 * S_US);
    assert_int_equal(c->life_max_us, 10 * S_US);
    assert_int_equal(c->life_sum_us, 10 * S_US);

    /* 2: never opened: no lifetime */
    one_attempt(s, 2, 20 * S_US, -1, EVT_CAUSE_REFUSED, EVT_BY_NETWORK, 1006);
    assert_int_equal(c->life_n, 1);

    /* 3: open 2 s with 1 message in (4 bytes) */
    open_at(s, 3, 30 * S_US);
    assert_int_equal(ev_msg(s, 30 * S_US + 10000, false, "data", false), 0);
    assert_int_equal(cur(s)->msgs_in, 1); /* per attempt: reset at each attempt */
    assert_int_equal(c->msgs_in, 3);      /* per connection: over every attempt */
    assert_int_equal(ev_closed(s, 30 * S_US + 6000 + 2 * S_US, EVT_CAUSE_CLOSE_FRAME, EVT_BY_SERVER,
                               1000, "bye"),
                     0);

    /* 4: open 30 s, no traffic */
    one_attempt(s, 4, 40 * S_US, 30 * S_US, EVT_CAUSE_EOF, EVT_BY_NETWORK, 1006);

    assert_int_equal(c->life_n, 3);
    assert_int_equal(c->life_min_us, 2 * S_US);
    assert_int_equal(c->life_max_us, 30 * S_US);
    assert_int_equal(c->life_sum_us, 42 * S_US);
    assert_int_equal(c->msgs_in, 3);
    assert_int_equal(c->msgs_out, 1);
    assert_int_equal(c->bytes_in, 5 + 7 + 4);
    assert_int_equal(c->bytes_out, 3);
    assert_int_equal(cur(s)->msgs_in, 0);
    assert_int_equal(cur(s)->bytes_in, 0);
}

static void test_spark_order_wrap_and_median(void **state)
{
    struct seq *s = *state;
    const struct model_conn *c = conn_of(s);
    uint32_t v[MODEL_SPARK];

    assert_int_equal(model_spark(c, v), 0);
    assert_int_equal(model_conn_rtt_median_us(c), -1);

    /* attempt 1: 100 300 200; attempt 2: 400. The sparkline spans attempts. */
    open_at(s, 1, 0);
    assert_int_equal(ev_pong(s, 10000, 100), 0);
    assert_int_equal(ev_pong(s, 11000, 300), 0);
    assert_int_equal(ev_pong(s, 12000, 200), 0);
    assert_int_equal(model_spark(c, v), 3);
    assert_int_equal(v[0], 100);
    assert_int_equal(v[1], 300);
    assert_int_equal(v[2], 200);
    assert_int_equal(model_conn_rtt_median_us(c), 200);
    assert_int_equal(ev_closed(s, 20000, EVT_CAUSE_EOF, EVT_BY_NETWORK, 1006, ""), 0);
    open_at(s, 2, S_US);
    assert_int_equal(ev_pong(s, S_US + 10000, 400), 0);
    assert_int_equal(model_spark(c, v), 4);
    assert_int_equal(v[3], 400);
    /* 100 200 300 400: (200 + 300) / 2 */
    assert_int_equal(model_conn_rtt_median_us(c), 250);
    assert_int_equal(model_rtt_median_us(cur(s)), 400); /* the attempt's own: 400 only */

    /* samples 4 .. 51 are 1004 .. 1051: exactly full at sample 47 (1047), then wraps */
    for (uint32_t i = 4; i < MODEL_SPARK; i++)
        assert_int_equal(ev_pong(s, S_US + 20000 + i, 1000 + i), 0);
    assert_int_equal(model_spark(c, v), MODEL_SPARK);
    assert_int_equal(v[0], 100);
    assert_int_equal(v[3], 400);
    assert_int_equal(v[MODEL_SPARK - 1], 1000 + MODEL_SPARK - 1);
    for (uint32_t i = MODEL_SPARK; i < 52; i++)
        assert_int_equal(ev_pong(s, S_US + 20000 + i, 1000 + i), 0);
    assert_int_equal(c->n_spark, 52);
    assert_int_equal(model_spark(c, v), MODEL_SPARK);
    /* the last 48 of 52: samples 4 .. 51, oldest first */
    for (uint32_t i = 0; i < MODEL_SPARK; i++)
        assert_int_equal(v[i], 1004 + i);
    /* 1004 .. 1051: the middle two are 1027 and 1028, rounded down */
    assert_int_equal(model_conn_rtt_median_us(c), 1027);
}

static void test_quiet(void **state)
{
    struct seq *s = *state;
    const struct model_conn *c = conn_of(s);

    /* 1: opened, nothing either way */
    one_attempt(s, 1, 0, 60 * S_US, EVT_CAUSE_EOF, EVT_BY_NETWORK, 1006);
    assert_true(model_end_get(c, 0)->quiet);
    /* 2: one ping sent, never answered */
    open_at(s, 2, 100 * S_US);
    assert_int_equal(ev_plain(s, EVT_PING, 101 * S_US), 0);
    assert_int_equal(ev_closed(s, 102 * S_US, EVT_CAUSE_EOF, EVT_BY_NETWORK, 1006, ""), 0);
    assert_false(model_end_get(c, 0)->quiet);
    /* 3: one message in */
    open_at(s, 3, 200 * S_US);
    assert_int_equal(ev_msg(s, 201 * S_US, false, "x", false), 0);
    assert_int_equal(ev_closed(s, 202 * S_US, EVT_CAUSE_EOF, EVT_BY_NETWORK, 1006, ""), 0);
    assert_false(model_end_get(c, 0)->quiet);
    /* 4: one message out */
    open_at(s, 4, 300 * S_US);
    assert_int_equal(ev_msg(s, 301 * S_US, true, "x", false), 0);
    assert_int_equal(ev_closed(s, 302 * S_US, EVT_CAUSE_EOF, EVT_BY_NETWORK, 1006, ""), 0);
    assert_false(model_end_get(c, 0)->quiet);
    /* 5: never opened: not quiet, whatever it carried */
    one_attempt(s, 5, 400 * S_US, -1, EVT_CAUSE_REFUSED, EVT_BY_NETWORK, 1006);
    assert_false(model_end_get(c, 0)->quiet);
    /* 6: quiet again, closed by the server */
    one_attempt(s, 6, 500 * S_US, 0, EVT_CAUSE_CLOSE_FRAME, EVT_BY_SERVER, 1001);
    assert_true(model_end_get(c, 0)->quiet);
    assert_true(model_end_get(c, 5)->quiet);
}

static void test_backend_attribution(void **state)
{
    struct seq *s = *state;
    const struct model_conn *c;

    s->ep = 1;
    s->conn = 1;
    c = conn_of(s);
    assert_string_equal(c->backend, "");

    /* 1: the remote address, then the backend-id header wins over the sticky cookie */
    assert_int_equal(ev_attempt(s, 1, 0, true), 0);
    assert_int_equal(ev_tcp(s, 2000, "203.0.113.7:443", "198.51.100.1:50000"), 0);
    assert_string_equal(c->backend, "203.0.113.7:443");
    assert_int_equal(ev_plain(s, EVT_REQUEST, 3000), 0);
    assert_int_equal(ev_response_be(s, 4000, "i-0abc", "AWSALB#1a2b3c4d"), 0);
    assert_string_equal(c->backend, "i-0abc");
    assert_int_equal(ev_plain(s, EVT_OPEN, 5000), 0);
    assert_int_equal(ev_closed(s, 9000, EVT_CAUSE_EOF, EVT_BY_NETWORK, 1006, ""), 0);
    assert_string_equal(model_end_get(c, 0)->backend, "i-0abc");

    /* 2: no header: the sticky cookie replaces the remote address */
    assert_int_equal(ev_attempt(s, 2, 10000, true), 0);
    assert_string_equal(c->backend, "i-0abc"); /* the last attempt's until TCP */
    assert_int_equal(ev_tcp(s, 12000, "203.0.113.8:443", "198.51.100.1:50001"), 0);
    assert_string_equal(c->backend, "203.0.113.8:443");
    assert_int_equal(ev_plain(s, EVT_REQUEST, 13000), 0);
    assert_int_equal(ev_response_be(s, 14000, "", "AWSALB#9f9f9f9f"), 0);
    assert_string_equal(c->backend, "AWSALB#9f9f9f9f");
    assert_int_equal(ev_closed(s, 15000, EVT_CAUSE_EOF, EVT_BY_NETWORK, 1006, ""), 0);
    assert_string_equal(model_end_get(c, 0)->backend, "AWSALB#9f9f9f9f");

    /* 3: neither: the remote address stays; closed before any response */
    assert_int_equal(ev_attempt(s, 3, 20000, true), 0);
    assert_int_equal(ev_tcp(s, 22000, "203.0.113.9:443", "198.51.100.1:50002"), 0);
    assert_int_equal(ev_plain(s, EVT_REQUEST, 23000), 0);
    assert_int_equal(ev_response_be(s, 24000, "", ""), 0);
    assert_string_equal(c->backend, "203.0.113.9:443");
    assert_int_equal(ev_closed(s, 25000, EVT_CAUSE_EOF, EVT_BY_NETWORK, 1006, ""), 0);
    assert_string_equal(model_end_get(c, 0)->backend, "203.0.113.9:443");
    assert_string_equal(model_end_get(c, 1)->backend, "AWSALB#9f9f9f9f");
    assert_string_equal(model_end_get(c, 2)->backend, "i-0abc");

    /* 4: failed in DNS, before any TCP connection: no backend served it, so its record
     * names none (the connection still shows the last one) */
    one_attempt(s, 4, 30000, -1, EVT_CAUSE_NXDOMAIN, EVT_BY_NETWORK, 1006);
    assert_string_equal(model_end_get(c, 0)->backend, "");
    assert_string_equal(c->backend, "203.0.113.9:443");

    /* other connections are untouched */
    assert_string_equal(s->m->eps[1].conns[0].backend, "");
    s->ep = 0;
    s->conn = 0;
}

static void test_health(void **state)
{
    struct seq *s = *state;
    const struct model_health *hl = &s->m->eps[0].health;
    const struct model_log *l;

    assert_int_equal(hl->polls, 0);
    /* first poll: a change from "unknown" */
    assert_int_equal(ev_health(s->m, 0, 1000, 200, 1500, ""), 0);
    assert_int_equal(hl->polls, 1);
    assert_int_equal(hl->failures, 0);
    assert_int_equal(hl->status, 200);
    assert_int_equal(hl->latency_us, 1500);
    assert_int_equal(hl->wall_us, 1700000000000000 + 1000);
    assert_int_equal(s->m->n_log, 1);
    l = model_log_get(s->m, 0);
    assert_int_equal(l->kind, EVT_HEALTH);
    assert_int_equal(l->ep, 0);
    assert_int_equal(l->code, 200);
    assert_int_equal(l->dur_us, 1500);
    assert_int_equal(l->mono_us, 1000);
    assert_string_equal(l->text, "");

    /* same status, other latency: counted, not logged */
    assert_int_equal(ev_health(s->m, 0, 2000, 200, 900, ""), 0);
    assert_int_equal(hl->polls, 2);
    assert_int_equal(hl->latency_us, 900);
    assert_int_equal(s->m->n_log, 1);

    /* 503: a failure and a change */
    assert_int_equal(ev_health(s->m, 0, 3000, 503, 700, ""), 0);
    assert_int_equal(hl->failures, 1);
    assert_int_equal(s->m->n_log, 2);
    assert_int_equal(model_log_get(s->m, 0)->code, 503);
    /* 503 again: a failure, no entry */
    assert_int_equal(ev_health(s->m, 0, 4000, 503, 700, ""), 0);
    assert_int_equal(hl->failures, 2);
    assert_int_equal(s->m->n_log, 2);

    /* no answer: status 0 with an error */
    assert_int_equal(ev_health(s->m, 0, 5000, 0, 0, "connect: timeout"), 0);
    assert_int_equal(hl->failures, 3);
    assert_int_equal(hl->status, 0);
    assert_string_equal(hl->error, "connect: timeout");
    assert_int_equal(s->m->n_log, 3);
    l = model_log_get(s->m, 0);
    assert_int_equal(l->code, 0);
    assert_string_equal(l->text, "connect: timeout");
    /* still no answer, another error text: the status did not change */
    assert_int_equal(ev_health(s->m, 0, 6000, 0, 0, "connect: refused"), 0);
    assert_int_equal(hl->failures, 4);
    assert_string_equal(hl->error, "connect: refused");
    assert_int_equal(s->m->n_log, 3);

    /* 204 then 200: both healthy, but each a different status */
    assert_int_equal(ev_health(s->m, 0, 7000, 204, 800, ""), 0);
    assert_int_equal(ev_health(s->m, 0, 8000, 200, 800, ""), 0);
    assert_int_equal(hl->polls, 8);
    assert_int_equal(hl->failures, 4);
    assert_int_equal(s->m->n_log, 5);
    assert_int_equal(model_log_get(s->m, 1)->code, 204);
    assert_int_equal(model_log_get(s->m, 0)->code, 200);

    /* a 4xx is a failure */
    assert_int_equal(ev_health(s->m, 0, 9000, 404, 800, ""), 0);
    assert_int_equal(hl->failures, 5);

    /* per endpoint; health is conn 0 of a known endpoint */
    assert_int_equal(s->m->eps[1].health.polls, 0);
    assert_int_equal(ev_health(s->m, 1, 9000, 200, 800, ""), 0);
    assert_int_equal(s->m->eps[1].health.polls, 1);
    assert_int_equal(model_log_get(s->m, 0)->ep, 1);
    assert_int_equal(ev_health(s->m, 2, 9000, 200, 800, ""), -EINVAL);
}

static void test_log_entries(void **state)
{
    struct seq *s = *state;
    const struct model_log *l;

    assert_null(model_log_get(s->m, 0));
    assert_null(model_log_get(NULL, 0));

    /* markers: global and per endpoint; an unknown endpoint is refused */
    assert_int_equal(ev_mark(s->m, EVT_EP_NONE, 500, "deploy started"), 0);
    assert_int_equal(ev_mark(s->m, 1, 600, "ep 1 note"), 0);
    assert_int_equal(ev_mark(s->m, 2, 700, "nobody"), -EINVAL);
    assert_int_equal(s->m->n_log, 2);
    l = model_log_get(s->m, 1);
    assert_int_equal(l->kind, EVT_MARK);
    assert_int_equal(l->ep, EVT_EP_NONE);
    assert_int_equal(l->mono_us, 500);
    assert_int_equal(l->wall_us, 1700000000000000 + 500);
    assert_string_equal(l->text, "deploy started");
    assert_int_equal(model_log_get(s->m, 0)->ep, 1);

    /* an attempt that opens and closes: two entries; phases, traffic and closing none */
    open_at(s, 1, 1000);
    assert_int_equal(s->m->n_log, 3);
    l = model_log_get(s->m, 0);
    assert_int_equal(l->kind, EVT_OPEN);
    assert_int_equal(l->reached, EVT_PH_OPEN);
    assert_int_equal(l->dur_us, 6000); /* time to open */
    assert_int_equal(l->mono_us, 7000);
    assert_int_equal(ev_plain(s, EVT_PING, 8000), 0);
    assert_int_equal(ev_pong(s, 8100, 100), 0);
    assert_int_equal(ev_msg(s, 8200, false, "m", false), 0);
    assert_int_equal(ev_plain(s, EVT_CLOSING, 8300), 0);
    assert_int_equal(s->m->n_log, 3);
    assert_int_equal(
        ev_closed(s, 7000 + 5 * S_US, EVT_CAUSE_CLOSE_FRAME, EVT_BY_SERVER, 1001, "restarting"), 0);
    assert_int_equal(s->m->n_log, 4);
    l = model_log_get(s->m, 0);
    assert_int_equal(l->kind, EVT_CLOSED);
    assert_int_equal(l->ep, 0);
    assert_int_equal(l->conn, 0);
    assert_int_equal(l->cause, EVT_CAUSE_CLOSE_FRAME);
    assert_int_equal(l->by, EVT_BY_SERVER);
    assert_int_equal(l->reached, EVT_PH_OPEN);
    assert_int_equal(l->code, 1001);
    assert_int_equal(l->http_status, 101);
    assert_int_equal(l->dur_us, 5 * S_US); /* open for */
    assert_string_equal(l->text, "restarting");

    /* a failure before open: one entry, its duration the attempt's total */
    one_attempt(s, 2, 10 * S_US, -1, EVT_CAUSE_REFUSED, EVT_BY_NETWORK, 1006);
    assert_int_equal(s->m->n_log, 5);
    l = model_log_get(s->m, 0);
    assert_int_equal(l->kind, EVT_CLOSED);
    assert_int_equal(l->reached, EVT_PH_DNS);
    assert_int_equal(l->dur_us, 3000);
    assert_int_equal(l->http_status, 0);
    assert_int_equal(model_log_get(s->m, 4)->kind, EVT_MARK);
    assert_null(model_log_get(s->m, 5));
}

static void test_log_wrap(void **state)
{
    struct seq *s = *state;
    const uint64_t n = MODEL_LOG + 10;
    char text[32];

    for (uint64_t i = 0; i < n; i++) {
        snprintf(text, sizeof(text), "m%llu", (unsigned long long)i);
        assert_int_equal(ev_mark(s->m, EVT_EP_NONE, (int64_t)i, text), 0);
    }
    assert_int_equal(s->m->n_log, n);
    /* newest first: m(n-1) ... m10; m0 .. m9 are gone */
    for (uint64_t i = 0; i < MODEL_LOG; i += 97) {
        snprintf(text, sizeof(text), "m%llu", (unsigned long long)(n - 1 - i));
        assert_string_equal(model_log_get(s->m, i)->text, text);
    }
    assert_string_equal(model_log_get(s->m, 0)->text, "m2057");
    assert_string_equal(model_log_get(s->m, MODEL_LOG - 1)->text, "m10");
    assert_int_equal(model_log_get(s->m, MODEL_LOG - 1)->mono_us, 10);
    assert_null(model_log_get(s->m, MODEL_LOG));
    assert_null(model_log_get(s->m, n - 1));

    /* a marker text at the cap stays terminated */
    {
        struct evt e;

        memset(&e, 0, sizeof(e));
        e.kind = EVT_MARK;
        e.ep = EVT_EP_NONE;
        memset(e.u.mark.text, 'x', sizeof(e.u.mark.text));
        assert_int_equal(model_apply(s->m, &e), 0);
        assert_int_equal(strlen(model_log_get(s->m, 0)->text), EVT_MARK_MAX - 1);
    }
}

static void test_t_state(void **state)
{
    struct seq *s = *state;
    const struct model_conn *c = conn_of(s);

    assert_int_equal(c->t_state_us, 0);
    assert_int_equal(ev_attempt(s, 1, 1000, true), 0);
    assert_int_equal(c->t_state_us, 1000);
    /* phases do not change readyState */
    assert_int_equal(ev_dns(s, 2000, "203.0.113.7"), 0);
    assert_int_equal(ev_tcp(s, 3000, "203.0.113.7:443", "198.51.100.1:50000"), 0);
    assert_int_equal(ev_plain(s, EVT_REQUEST, 4000), 0);
    assert_int_equal(c->t_state_us, 1000);
    /* a close frame before open: still CONNECTING */
    assert_int_equal(ev_plain(s, EVT_CLOSING, 4500), 0);
    assert_int_equal(c->t_state_us, 1000);
    assert_int_equal(ev_response(s, 5000, 101, "websocket"), 0);
    assert_int_equal(ev_plain(s, EVT_OPEN, 6000), 0);
    assert_int_equal(c->t_state_us, 6000);
    assert_int_equal(ev_plain(s, EVT_PING, 7000), 0);
    assert_int_equal(ev_pong(s, 7100, 100), 0);
    assert_int_equal(ev_msg(s, 7200, false, "m", false), 0);
    assert_int_equal(c->t_state_us, 6000);
    /* OPEN -> CLOSING once */
    assert_int_equal(ev_plain(s, EVT_CLOSING, 8000), 0);
    assert_int_equal(c->t_state_us, 8000);
    assert_int_equal(ev_plain(s, EVT_CLOSING, 8500), 0);
    assert_int_equal(c->t_state_us, 8000);
    assert_int_equal(ev_closed(s, 9000, EVT_CAUSE_CLOSE_FRAME, EVT_BY_SERVER, 1000, ""), 0);
    assert_int_equal(c->t_state_us, 9000);
    /* a refused event changes nothing */
    assert_int_equal(ev_plain(s, EVT_PING, 9500), -EINVAL);
    assert_int_equal(c->t_state_us, 9000);
    assert_int_equal(ev_attempt(s, 2, 10000, true), 0);
    assert_int_equal(c->t_state_us, 10000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_and_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_tls_attempt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_dns_phase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_failed_verification, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_without_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_response_without_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_closing_and_closed_before_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_next_attempt_resets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejects_out_of_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connections_are_separate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rtt_odd_even, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rtt_even_rounds_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rtt_over_ring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_message_capped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unterminated_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expect_only_incoming, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hist_ring_order_and_wrap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cause_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_code_eviction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lifetimes_and_msg_totals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spark_order_wrap_and_median, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quiet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backend_attribution, setup, teardown),
        cmocka_unit_test_setup_teardown(test_health, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_wrap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_t_state, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
