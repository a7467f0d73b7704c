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
    assert_int_equal(ev_tcp(s, t0 + 2000, "203.0.113.7:443", "10.0.0.1:50000"), 0);
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

    assert_int_equal(ev_tcp(s, 4500, "203.0.113.7:443", "10.0.0.1:50000"), 0);
    assert_int_equal(a->tcp_us, 1500);
    assert_int_equal(a->reached, EVT_PH_TCP);
    assert_string_equal(a->remote, "203.0.113.7:443");
    assert_string_equal(a->local, "10.0.0.1:50000");

    assert_int_equal(ev_tls(s, 10000, EVT_VERIFY_OK, false), 0);
    assert_int_equal(a->t_tls_us, 10000);
    assert_int_equal(a->tls_us, 5500);
    assert_int_equal(a->reached, EVT_PH_TLS);
    assert_true(a->have_tls);
    assert_string_equal(a->tls_info.version, "TLSv1.3");
    assert_string_equal(a->tls_info.issuer, "CN=Test CA");
    assert_int_equal(a->tls_info.not_after_s, 1800000000);

    assert_int_equal(ev_plain(s, EVT_REQUEST, 10100), 0);
    assert_int_equal(a->t_request_us, 10100);
    assert_int_equal(ev_response(s, 12100, 101, "websocket"), 0);
    assert_int_equal(a->t_response_us, 12100);
    assert_int_equal(a->upgrade_us, 2000);
    assert_true(a->have_http);
    assert_int_equal(a->http.status, 101);
    assert_string_equal(a->http.upgrade, "websocket");
    assert_string_equal(a->http.cookies[0], "AWSALB");
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
    assert_false(a->have_tls);
    assert_int_equal(a->tls_us, -1);
}

static void test_tls_failed_verification(void **state)
{
    struct seq *s = *state;
    const struct model_attempt *a;

    assert_int_equal(ev_attempt(s, 1, 0, true), 0);
    assert_int_equal(ev_tcp(s, 100, "203.0.113.7:443", "10.0.0.1:1"), 0);
    assert_int_equal(ev_tls(s, 900, EVT_VERIFY_EXPIRED, false), 0);
    a = cur(s);
    /* recorded, but the phase is not complete: the handshake is about to fail */
    assert_true(a->have_tls);
    assert_int_equal(a->tls_info.verify, EVT_VERIFY_EXPIRED);
    assert_int_equal(a->tls_us, 800);
    assert_int_equal(a->reached, EVT_PH_TCP);
    assert_int_equal(ev_closed(s, 1000, EVT_CAUSE_TLS_EXPIRED, EVT_BY_NONE, 1006, ""), 0);
    assert_int_equal(a->reached, EVT_PH_TCP);
    assert_int_equal(a->open_for_us, -1);
    assert_int_equal(a->total_us, 1000);

    /* with --insecure the same certificate completes the phase */
    assert_int_equal(ev_attempt(s, 2, 2000, true), 0);
    assert_int_equal(ev_tcp(s, 2100, "203.0.113.7:443", "10.0.0.1:2"), 0);
    assert_int_equal(ev_tls(s, 2900, EVT_VERIFY_EXPIRED, true), 0);
    assert_int_equal(a->reached, EVT_PH_TLS);
    assert_true(a->tls_info.insecure);
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
    assert_false(a->have_http);
    assert_int_equal(a->upgrade_us, -1);
}

static void test_response_without_request(void **state)
{
    struct seq *s = *state;
    const struct model_attempt *a;

    assert_int_equal(ev_attempt(s, 1, 0, false), 0);
    assert_int_equal(ev_response(s, 500, 502, ""), 0);
    a = cur(s);
    assert_true(a->have_http);
    assert_int_equal(a->http.status, 502);
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
    assert_false(a->have_tls);
    assert_false(a->have_http);
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
    assert_int_equal(ev_dns(s, 10, "1.2.3.4"), -EINVAL);
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
    assert_int_equal(ev_dns(s, 200, "1.2.3.4"), -EINVAL);
    s->attempt = 4;
    assert_int_equal(ev_tcp(s, 200, "1.2.3.4:443", "x"), -EINVAL);
    assert_int_equal(a->reached, EVT_PH_NONE);
    assert_int_equal(a->t_dns_us, -1);
    s->attempt = 3;

    /* traffic before open */
    assert_int_equal(ev_msg(s, 300, false, "early", true), -EINVAL);
    assert_int_equal(ev_plain(s, EVT_PING, 300), -EINVAL);
    assert_int_equal(ev_pong(s, 300, 5), -EINVAL);
    assert_int_equal(a->msgs_in, 0);
    assert_false(a->expect_seen);

    assert_int_equal(ev_tcp(s, 400, "1.2.3.4:443", "x"), 0);
    assert_int_equal(ev_tls(s, 500, EVT_VERIFY_OK, false), 0);
    assert_int_equal(ev_plain(s, EVT_OPEN, 600), 0);
    /* handshake phases after open, and a second open */
    assert_int_equal(ev_plain(s, EVT_OPEN, 650), -EINVAL);
    assert_int_equal(ev_dns(s, 650, "1.2.3.4"), -EINVAL);
    assert_int_equal(ev_response(s, 650, 200, ""), -EINVAL);
    assert_int_equal(s->m->eps[0].conns[0].opened, 1);
    assert_int_equal(a->t_open_us, 600);
    assert_false(a->have_http);

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
    /* kept 10 .. 265: the middle two are 137 and 138 */
    assert_int_equal(model_rtt_median_us(a), 137);

    /* one more: kept 11 .. 266, middle two 138 and 139 */
    assert_int_equal(ev_pong(s, 20000, n), 0);
    assert_int_equal(model_rtt_median_us(a), 138);
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
        cmocka_unit_test_setup_teardown(test_expect_only_incoming, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
