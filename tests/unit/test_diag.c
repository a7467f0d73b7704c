/* SPDX-License-Identifier: MIT */
/* Diagnosis: every class and every cause, from attempts built by applying synthetic events. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "diag.h"
#include "evt.h"
#include "model.h"

#define T_2021_01_01 1609459200 /* 2021-01-01 00:00:00 UTC */
#define T_2100_01_01 4102444800 /* 2100-01-01 00:00:00 UTC */
#define DAY_S        86400

/* ---- event builders ------------------------------------------------------ */

struct seq {
    struct model *m;
    uint32_t attempt;
};

static struct evt mk(const struct seq *s, enum evt_kind k, int64_t t_us)
{
    struct evt e;

    memset(&e, 0, sizeof(e));
    e.kind = k;
    e.attempt = s->attempt;
    e.t_mono_us = t_us;
    e.t_wall_us = 1700000000000000 + t_us;
    return e;
}

static void put(struct seq *s, const struct evt *e)
{
    assert_int_equal(model_apply(s->m, e), 0);
}

static void ev_attempt(struct seq *s, int64_t t, bool tls)
{
    struct evt e;

    s->attempt++;
    e = mk(s, EVT_ATTEMPT, t);
    e.u.attempt.tls = tls;
    put(s, &e);
}

static void ev_dns(struct seq *s, int64_t t)
{
    struct evt e = mk(s, EVT_DNS, t);

    snprintf(e.u.dns.addr, sizeof(e.u.dns.addr), "203.0.113.7");
    e.u.dns.n_addrs = 1;
    put(s, &e);
}

static void ev_tcp(struct seq *s, int64_t t)
{
    struct evt e = mk(s, EVT_TCP, t);

    snprintf(e.u.tcp.remote, sizeof(e.u.tcp.remote), "203.0.113.7:443");
    snprintf(e.u.tcp.local, sizeof(e.u.tcp.local), "10.0.0.1:50000");
    put(s, &e);
}

static void ev_tls(struct seq *s, int64_t t, enum evt_verify verify, bool insecure,
                   const char *subject, const char *issuer, const char *sans, int64_t not_after_s)
{
    struct evt e = mk(s, EVT_TLS, t);

    snprintf(e.u.tls.version, sizeof(e.u.tls.version), "TLSv1.3");
    snprintf(e.u.tls.cipher, sizeof(e.u.tls.cipher), "TLS_AES_128_GCM_SHA256");
    snprintf(e.u.tls.subject, sizeof(e.u.tls.subject), "%s", subject);
    snprintf(e.u.tls.issuer, sizeof(e.u.tls.issuer), "%s", issuer);
    snprintf(e.u.tls.sans, sizeof(e.u.tls.sans), "%s", sans);
    e.u.tls.not_after_s = not_after_s;
    e.u.tls.verify = verify;
    e.u.tls.insecure = insecure;
    put(s, &e);
}

static void ev_tls_ok(struct seq *s, int64_t t)
{
    ev_tls(s, t, EVT_VERIFY_OK, false, "CN=ws.example.com", "CN=Test CA", "DNS:ws.example.com",
           T_2100_01_01);
}

static void ev_plain(struct seq *s, enum evt_kind k, int64_t t)
{
    struct evt e = mk(s, k, t);

    put(s, &e);
}

static void ev_response(struct seq *s, int64_t t, int status, const char *upgrade,
                        const char *location, int accept_ok)
{
    struct evt e = mk(s, EVT_RESPONSE, t);

    e.u.http.status = status;
    snprintf(e.u.http.upgrade, sizeof(e.u.http.upgrade), "%s", upgrade);
    snprintf(e.u.http.location, sizeof(e.u.http.location), "%s", location);
    snprintf(e.u.http.server, sizeof(e.u.http.server), "awselb/2.0");
    snprintf(e.u.http.connection, sizeof(e.u.http.connection), "keep-alive");
    e.u.http.accept_ok = accept_ok;
    put(s, &e);
}

static void ev_msg(struct seq *s, int64_t t, const char *text, bool matched)
{
    struct evt e = mk(s, EVT_MSG, t);

    e.u.msg.len = strlen(text);
    e.u.msg.matched = matched;
    e.u.msg.first_len = (uint32_t)snprintf(e.u.msg.first, sizeof(e.u.msg.first), "%s", text);
    put(s, &e);
}

static void ev_pong(struct seq *s, int64_t t, uint32_t rtt_us)
{
    struct evt e = mk(s, EVT_PONG, t);

    e.u.pong.rtt_us = rtt_us;
    put(s, &e);
}

static void ev_closed(struct seq *s, int64_t t, enum evt_cause cause, enum evt_by by,
                      enum evt_transport tr, int code, const char *reason, const char *detail)
{
    struct evt e = mk(s, EVT_CLOSED, t);

    e.u.closed.cause = cause;
    e.u.closed.by = by;
    e.u.closed.transport = tr;
    e.u.closed.code = code;
    e.u.closed.frame = by == EVT_BY_SERVER;
    snprintf(e.u.closed.reason, sizeof(e.u.closed.reason), "%s", reason);
    snprintf(e.u.closed.detail, sizeof(e.u.closed.detail), "%s", detail);
    put(s, &e);
}

/* A failure before open, the browser's 1006. */
static void ev_failed(struct seq *s, int64_t t, enum evt_cause cause, enum evt_by by,
                      const char *detail)
{
    ev_closed(s, t, cause, by, EVT_TR_NONE, 1006, "", detail);
}

/* A new attempt that completes the phases up to `reached` (NONE ... TLS), 1 ms apart;
 * request: the upgrade request was written. */
static void run_to(struct seq *s, enum evt_phase reached, bool tls, bool request)
{
    ev_attempt(s, 0, tls);
    if (reached >= EVT_PH_DNS)
        ev_dns(s, 1000);
    if (reached >= EVT_PH_TCP)
        ev_tcp(s, 2000);
    if (reached >= EVT_PH_TLS)
        ev_tls_ok(s, 3000);
    if (request)
        ev_plain(s, EVT_REQUEST, 4000);
    assert_int_equal(model_attempt_get(s->m, 0, 0)->reached, reached);
}

/* A wss:// attempt opened at 6 ms after its start. */
static void run_open(struct seq *s)
{
    run_to(s, EVT_PH_TLS, true, true);
    ev_response(s, 5000, 101, "websocket", "", 1);
    ev_plain(s, EVT_OPEN, 6000);
}

static struct diag_policy policy(void)
{
    struct diag_policy p;

    memset(&p, 0, sizeof(p));
    p.host = "ws.example.com";
    p.port = 443;
    p.now_wall_s = T_2021_01_01 + 15 * DAY_S;
    return p;
}

/* Diagnose the current attempt; check what holds for every verdict. */
static void diag(const struct seq *s, const struct diag_policy *p, struct diag_verdict *v)
{
    memset(v, 0x5A, sizeof(*v));
    diag_attempt(model_attempt_get(s->m, 0, 0), p, v);
    assert_true(strnlen(v->verdict, DIAG_TEXT_MAX) < DIAG_TEXT_MAX);
    assert_true(strnlen(v->hint, DIAG_TEXT_MAX) < DIAG_TEXT_MAX);
    assert_true(v->verdict[0] != '\0');
    assert_null(strchr(v->verdict, '\n'));
    assert_null(strchr(v->hint, '\n'));
}

#define assert_has(hay, needle)                                                                    \
    do {                                                                                           \
        if (!strstr((hay), (needle)))                                                              \
            fail_msg("\"%s\" lacks \"%s\"", (hay), (needle));                                      \
    } while (0)

#define assert_diag(v, cls_, cause_, failed_in_, ok_)                                              \
    do {                                                                                           \
        assert_string_equal(diag_class_name((v)->cls), diag_class_name(cls_));                     \
        assert_int_equal((v)->cause, (cause_));                                                    \
        assert_string_equal(evt_phase_name((v)->failed_in), evt_phase_name(failed_in_));           \
        assert_int_equal((v)->ok, (ok_));                                                          \
    } while (0)

static int setup(void **state)
{
    static struct seq s;

    s.attempt = 0;
    s.m = model_new(1, NULL);
    *state = &s;
    return 0;
}

static int teardown(void **state)
{
    struct seq *s = *state;

    model_free(s->m);
    return 0;
}

/* ---- DNS and TCP ----------------------------------------------------------- */

static void test_dns_failed(void **state)
{
    static const struct {
        enum evt_cause cause;
        const char *detail;
        const char *hint_word;
    } cases[] = {
        {EVT_CAUSE_NXDOMAIN, "Domain name not found", "resolver"},
        {EVT_CAUSE_DNS_SERVFAIL, "Server failure", "resolver"},
        {EVT_CAUSE_DNS_TIMEOUT, "Timeout while contacting DNS servers", "did not answer"},
    };
    struct seq *s = *state;
    struct diag_policy p = policy();
    struct diag_verdict v;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ev_attempt(s, 0, true);
        ev_failed(s, 5000, cases[i].cause, EVT_BY_NONE, cases[i].detail);
        diag(s, &p, &v);
        assert_diag(&v, DIAG_DNS_FAILED, cases[i].cause, EVT_PH_DNS, false);
        assert_has(v.verdict, "ws.example.com");
        assert_has(v.verdict, cases[i].detail);
        assert_has(v.hint, cases[i].hint_word);
    }
}

static void test_tcp_refused(void **state)
{
    struct seq *s = *state;
    struct diag_policy p = policy();
    struct diag_verdict v;

    run_to(s, EVT_PH_DNS, true, false);
    ev_failed(s, 3000, EVT_CAUSE_REFUSED, EVT_BY_NONE, "Connection refused");
    diag(s, &p, &v);
    assert_diag(&v, DIAG_TCP_REFUSED, EVT_CAUSE_REFUSED, EVT_PH_TCP, false);
    assert_has(v.verdict, "nothing listens on");
    assert_has(v.verdict, "ws.example.com:443");
    assert_has(v.hint, "port");
    assert_has(v.hint, "security group");

    /* an IP literal: no DNS phase, reached none, still a TCP failure */
    p.host = "127.0.0.1";
    p.port = 9;
    run_to(s, EVT_PH_NONE, false, false);
    ev_failed(s, 300, EVT_CAUSE_REFUSED, EVT_BY_NONE, "Connection refused");
    diag(s, &p, &v);
    assert_diag(&v, DIAG_TCP_REFUSED, EVT_CAUSE_REFUSED, EVT_PH_TCP, false);
    assert_has(v.verdict, "127.0.0.1:9");

    /* an IPv6 literal keeps its port apart */
    p.host = "::1";
    run_to(s, EVT_PH_NONE, false, false);
    ev_failed(s, 300, EVT_CAUSE_REFUSED, EVT_BY_NONE, "Connection refused");
    diag(s, &p, &v);
    assert_has(v.verdict, "[::1]:9");
}

static void test_tcp_timeout(void **state)
{
    static const enum evt_cause causes[] = {EVT_CAUSE_CONNECT_TIMEOUT, EVT_CAUSE_UNREACHABLE};
    struct seq *s = *state;
    struct diag_policy p = policy();
    struct diag_verdict v;

    for (size_t i = 0; i < 2; i++) {
        run_to(s, EVT_PH_DNS, true, false);
        ev_failed(s, 10000000, causes[i], EVT_BY_TIMEOUT, "No route to host");
        diag(s, &p, &v);
        assert_diag(&v, DIAG_TCP_TIMEOUT, causes[i], EVT_PH_TCP, false);
        assert_has(v.verdict, "ws.example.com:443");
        assert_has(v.hint, "security group");
        assert_has(v.hint, "firewall");
    }
}

/* ---- TLS ------------------------------------------------------------------- */

static void test_tls_expired(void **state)
{
    struct seq *s = *state;
    struct diag_policy p = policy();
    struct diag_verdict v;

    run_to(s, EVT_PH_TCP, true, false);
    ev_tls(s, 3000, EVT_VERIFY_EXPIRED, false, "CN=ws.example.com", "CN=Test CA",
           "DNS:ws.example.com", T_2021_01_01);
    ev_failed(s, 3100, EVT_CAUSE_TLS_EXPIRED, EVT_BY_NONE, "certificate has expired");
    /* the failed verification did not complete the TLS phase */
    assert_int_equal(model_attempt_get(s->m, 0, 0)->reached, EVT_PH_TCP);
    diag(s, &p, &v);
    assert_diag(&v, DIAG_TLS_EXPIRED, EVT_CAUSE_TLS_EXPIRED, EVT_PH_TLS, false);
    assert_has(v.verdict, "2021-01-01");
    assert_has(v.verdict, "UTC");
    assert_has(v.verdict, "expired");
    assert_true(v.hint[0] != '\0');

    run_to(s, EVT_PH_TCP, true, false);
    ev_tls(s, 3000, EVT_VERIFY_NOT_YET_VALID, false, "CN=ws.example.com", "CN=Test CA",
           "DNS:ws.example.com", T_2100_01_01);
    ev_failed(s, 3100, EVT_CAUSE_TLS_NOT_YET_VALID, EVT_BY_NONE, "certificate is not yet valid");
    diag(s, &p, &v);
    assert_diag(&v, DIAG_TLS_EXPIRED, EVT_CAUSE_TLS_NOT_YET_VALID, EVT_PH_TLS, false);
    assert_has(v.verdict, "2100-01-01");
    assert_has(v.verdict, "UTC");
}

static void test_tls_hostname(void **state)
{
    struct seq *s = *state;
    struct diag_policy p = policy();
    struct diag_verdict v;

    run_to(s, EVT_PH_TCP, true, false);
    ev_tls(s, 3000, EVT_VERIFY_HOSTNAME, false, "CN=other.example.net", "CN=Test CA",
           "DNS:other.example.net,DNS:www.other.example.net", T_2100_01_01);
    ev_failed(s, 3100, EVT_CAUSE_TLS_HOSTNAME, EVT_BY_NONE, "hostname mismatch");
    diag(s, &p, &v);
    assert_diag(&v, DIAG_TLS_HOSTNAME, EVT_CAUSE_TLS_HOSTNAME, EVT_PH_TLS, false);
    assert_has(v.verdict, "ws.example.com");
    assert_has(v.verdict, "www.other.example.net");

    /* no SANs: the subject names the certificate */
    run_to(s, EVT_PH_TCP, true, false);
    ev_tls(s, 3000, EVT_VERIFY_HOSTNAME, false, "CN=legacy.example.org", "CN=Test CA", "",
           T_2100_01_01);
    ev_failed(s, 3100, EVT_CAUSE_TLS_HOSTNAME, EVT_BY_NONE, "hostname mismatch");
    diag(s, &p, &v);
    assert_diag(&v, DIAG_TLS_HOSTNAME, EVT_CAUSE_TLS_HOSTNAME, EVT_PH_TLS, false);
    assert_has(v.verdict, "legacy.example.org");
}

static void test_tls_untrusted(void **state)
{
    static const struct {
        enum evt_cause cause;
        enum evt_verify verify;
    } cases[] = {
        {EVT_CAUSE_TLS_SELF_SIGNED, EVT_VERIFY_SELF_SIGNED},
        {EVT_CAUSE_TLS_UNTRUSTED, EVT_VERIFY_UNTRUSTED},
    };
    struct seq *s = *state;
    struct diag_policy p = policy();
    struct diag_verdict v;

    for (size_t i = 0; i < 2; i++) {
        run_to(s, EVT_PH_TCP, true, false);
        ev_tls(s, 3000, cases[i].verify, false, "CN=ws.example.com", "CN=wsmon private CA",
               "DNS:ws.example.com", T_2100_01_01);
        ev_failed(s, 3100, cases[i].cause, EVT_BY_NONE, "unable to get local issuer");
        diag(s, &p, &v);
        assert_diag(&v, DIAG_TLS_UNTRUSTED, cases[i].cause, EVT_PH_TLS, false);
        assert_has(v.verdict, "CN=wsmon private CA");
        assert_has(v.hint, "--cacert");
        assert_has(v.hint, "chain");
    }
}

static void test_tls_protocol(void **state)
{
    struct seq *s = *state;
    struct diag_policy p = policy();
    struct diag_verdict v;

    /* TLS to a plain port: no EVT_TLS at all */
    run_to(s, EVT_PH_TCP, true, false);
    ev_failed(s, 3100, EVT_CAUSE_TLS_PROTOCOL, EVT_BY_NONE, "wrong version number");
    diag(s, &p, &v);
    assert_diag(&v, DIAG_TLS_FAILED, EVT_CAUSE_TLS_PROTOCOL, EVT_PH_TLS, false);
    assert_has(v.verdict, "TLS");
    assert_true(v.hint[0] != '\0');
}

/* ---- upgrade ---------------------------------------------------------------- */

static void test_upgrade_missing(void **state)
{
    static const int statuses[] = {200, 204, 302};
    struct seq *s = *state;
    struct diag_policy p = policy();
    struct diag_verdict v;
    char code[16];

    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        run_to(s, EVT_PH_TLS, true, true);
        ev_response(s, 5000, statuses[i], "", "", -1);
        ev_failed(s, 5100, EVT_CAUSE_HTTP_STATUS, EVT_BY_NONE, "");
        diag(s, &p, &v);
        assert_diag(&v, DIAG_UPGRADE_MISSING, EVT_CAUSE_HTTP_STATUS, EVT_PH_UPGRADE, false);
        snprintf(code, sizeof(code), "%d", statuses[i]);
        assert_has(v.verdict, code);
        assert_has(v.verdict, "without upgrading");
        assert_has(v.hint, "Upgrade");
        assert_has(v.hint, "Connection");
    }

    /* 2xx with Upgrade: websocket is not the proxy case */
    run_to(s, EVT_PH_TLS, true, true);
    ev_response(s, 5000, 200, "WebSocket", "", -1);
    ev_failed(s, 5100, EVT_CAUSE_HTTP_STATUS, EVT_BY_NONE, "");
    diag(s, &p, &v);
    assert_diag(&v, DIAG_HTTP_STATUS, EVT_CAUSE_HTTP_STATUS, EVT_PH_UPGRADE, false);
    assert_has(v.verdict, "200");

    /* 101 is not a 2xx answer without an upgrade */
    run_to(s, EVT_PH_TLS, true, true);
    ev_response(s, 5000, 101, "", "", -1);
    ev_failed(s, 5100, EVT_CAUSE_HTTP_STATUS, EVT_BY_NONE, "");
    diag(s, &p, &v);
    assert_diag(&v, DIAG_HTTP_STATUS, EVT_CAUSE_HTTP_STATUS, EVT_PH_UPGRADE, false);
    assert_has(v.verdict, "101");
}

static void test_http_status(void **state)
{
    static const struct {
        int status;
        const char *hint1, *hint2;
    } cases[] = {
        {400, "WebSocket headers", NULL},
        {401, "Authorization", "--origin"},
        {403, "Authorization", "--origin"},
        {404, "path", NULL},
        {426, "Upgrade", NULL},
        {429, NULL, NULL},
        {500, NULL, NULL},
        {502, "could not reach a healthy target", NULL},
        {503, "healthy targets", "overloaded"},
        {504, "did not answer in time", NULL},
        {418, NULL, NULL},
    };
    struct seq *s = *state;
    struct diag_policy p = policy();
    struct diag_verdict v;
    char code[16];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_to(s, EVT_PH_TCP, false, true);
        ev_response(s, 5000, cases[i].status, "", "", -1);
        ev_failed(s, 5100, EVT_CAUSE_HTTP_STATUS, EVT_BY_NONE, "");
        diag(s, &p, &v);
        assert_diag(&v, DIAG_HTTP_STATUS, EVT_CAUSE_HTTP_STATUS, EVT_PH_UPGRADE, false);
        snprintf(code, sizeof(code), "%d", cases[i].status);
        assert_has(v.verdict, code);
        assert_true(v.hint[0] != '\0');
        if (cases[i].hint1)
            assert_has(v.hint, cases[i].hint1);
        if (cases[i].hint2)
            assert_has(v.hint, cases[i].hint2);
    }
}

static void test_redirect(void **state)
{
    struct seq *s = *state;
    struct diag_policy p = policy();
    struct diag_verdict v;

    run_to(s, EVT_PH_TLS, true, true);
    ev_response(s, 5000, 301, "", "wss://new.example.com/ws", -1);
    ev_failed(s, 5100, EVT_CAUSE_REDIRECT, EVT_BY_NONE, "");
    diag(s, &p, &v);
    assert_diag(&v, DIAG_UPGRADE_MISSING, EVT_CAUSE_REDIRECT, EVT_PH_UPGRADE, false);
    assert_has(v.verdict, "redirected with 301 to wss://new.example.com/ws");
    assert_has(v.verdict, "not followed");
    assert_has(v.hint, "new location");
}

static void test_bad_accept(void **state)
{
    struct seq *s = *state;
    struct diag_policy p = policy();
    struct diag_verdict v;

    run_to(s, EVT_PH_TLS, true, true);
    ev_response(s, 5000, 101, "websocket", "", 0);
    ev_failed(s, 5100, EVT_CAUSE_BAD_ACCEPT, EVT_BY_NONE, "");
    diag(s, &p, &v);
    assert_diag(&v, DIAG_BAD_ACCEPT, EVT_CAUSE_BAD_ACCEPT, EVT_PH_UPGRADE, false);
    assert_has(v.verdict, "101");
    assert_has(v.verdict, "Sec-WebSocket-Accept");
    assert_true(v.hint[0] != '\0');
}

/* ---- ends before open --------------------------------------------------------- */

static void test_closed_before_open(void **state)
{
    static const struct {
        enum evt_phase reached;
        bool tls, request;
        enum evt_cause cause;
        enum evt_phase failed_in;
        const char *word;
    } cases[] = {
        {EVT_PH_TLS, true, true, EVT_CAUSE_RESET, EVT_PH_UPGRADE, "RST"},
        {EVT_PH_TCP, false, true, EVT_CAUSE_EOF, EVT_PH_UPGRADE, "FIN"},
        {EVT_PH_TCP, true, false, EVT_CAUSE_RESET, EVT_PH_TLS, "RST"},
        {EVT_PH_DNS, true, false, EVT_CAUSE_EOF, EVT_PH_TCP, "FIN"},
        {EVT_PH_NONE, false, false, EVT_CAUSE_RESET, EVT_PH_TCP, "RST"},
    };
    struct seq *s = *state;
    struct diag_policy p = policy();
    struct diag_verdict v;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_to(s, cases[i].reached, cases[i].tls, cases[i].request);
        ev_closed(s, 5000, cases[i].cause, EVT_BY_NETWORK,
                  cases[i].cause == EVT_CAUSE_RESET ? EVT_TR_RESET : EVT_TR_EOF, 1006, "", "");
        diag(s, &p, &v);
        assert_diag(&v, DIAG_CLOSED_BEFORE_OPEN, cases[i].cause, cases[i].failed_in, false);
        assert_has(v.verdict, cases[i].word);
        assert_has(v.verdict, "1006");
        assert_has(v.verdict, "before onopen");
        if (cases[i].request)
            assert_has(v.verdict, "after the upgrade request");
    }
}

static void test_handshake_timeout(void **state)
{
    static const struct {
        enum evt_phase reached;
        bool tls, request;
        enum evt_phase failed_in;
    } cases[] = {
        {EVT_PH_TLS, true, true, EVT_PH_UPGRADE}, {EVT_PH_TCP, false, true, EVT_PH_UPGRADE},
        {EVT_PH_TCP, true, false, EVT_PH_TLS},    {EVT_PH_DNS, true, false, EVT_PH_TCP},
        {EVT_PH_NONE, false, false, EVT_PH_TCP},
    };
    struct seq *s = *state;
    struct diag_policy p = policy();
    struct diag_verdict v;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_to(s, cases[i].reached, cases[i].tls, cases[i].request);
        ev_failed(s, 10000000, EVT_CAUSE_HANDSHAKE_TIMEOUT, EVT_BY_TIMEOUT, "");
        diag(s, &p, &v);
        assert_diag(&v, DIAG_HANDSHAKE_TIMEOUT, EVT_CAUSE_HANDSHAKE_TIMEOUT, cases[i].failed_in,
                    false);
        assert_has(v.verdict, "timeout");
    }
}

/* ---- after open ------------------------------------------------------------------ */

static void test_no_first_message(void **state)
{
    struct seq *s = *state;
    struct diag_policy p = policy();
    struct diag_verdict v;

    p.expect_message = "ready";
    p.expect_within_us = 2500000;
    run_open(s);
    ev_msg(s, 7000, "hello", false);
    ev_closed(s, 2506000, EVT_CAUSE_NO_FIRST_MESSAGE, EVT_BY_TIMEOUT, EVT_TR_NONE, 1006, "", "");
    diag(s, &p, &v);
    assert_diag(&v, DIAG_NO_FIRST_MESSAGE, EVT_CAUSE_NO_FIRST_MESSAGE, EVT_PH_OPEN, false);
    assert_has(v.verdict, "ready");
    assert_has(v.verdict, "2.5");
}

static void test_ping_timeout(void **state)
{
    struct seq *s = *state;
    struct diag_policy p = policy();
    struct diag_verdict v;

    p.want_pings = true;
    run_open(s);
    ev_plain(s, EVT_PING, 5006000);
    ev_pong(s, 5006300, 300);
    ev_plain(s, EVT_PING, 10006000);
    ev_plain(s, EVT_PING, 15006000);
    ev_closed(s, 20006000, EVT_CAUSE_PING_TIMEOUT, EVT_BY_TIMEOUT, EVT_TR_NONE, 1006, "", "");
    diag(s, &p, &v);
    assert_diag(&v, DIAG_PING_TIMEOUT, EVT_CAUSE_PING_TIMEOUT, EVT_PH_OPEN, false);
    assert_has(v.verdict, "pongs stopped");
    assert_has(v.verdict, "half-open");
}

static void test_closed_by_server(void **state)
{
    static const struct {
        int code;
        const char *name; /* RFC 6455 / IANA registry name, or a word of it */
        const char *hint1, *hint2;
    } cases[] = {
        {1000, "normal", "normal", NULL},
        {1001, "going away", "deploy", "restart"},
        {1002, "protocol error", "1012", NULL},
        {1003, "unsupported", NULL, NULL},
        {1007, "invalid", NULL, NULL},
        {1008, "policy violation", "policy", NULL},
        {1009, "too big", "too big", NULL},
        {1011, "error", "server logs", NULL},
        {1012, "restart", "restart", NULL},
        {1013, "try again later", "later", NULL},
        {4001, "application", "application", NULL},
    };
    struct seq *s = *state;
    struct diag_policy p = policy();
    struct diag_verdict v;
    char want[64];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_open(s);
        ev_plain(s, EVT_CLOSING, 30006000);
        ev_closed(s, 30007000, EVT_CAUSE_CLOSE_FRAME, EVT_BY_SERVER, EVT_TR_NONE, cases[i].code,
                  "bye now", "");
        diag(s, &p, &v);
        assert_diag(&v, DIAG_CLOSED_BY_SERVER, EVT_CAUSE_CLOSE_FRAME, EVT_PH_OPEN, false);
        snprintf(want, sizeof(want), "the server closed with %d", cases[i].code);
        assert_has(v.verdict, want);
        assert_has(v.verdict, cases[i].name);
        assert_has(v.verdict, "'bye now'");
        assert_true(v.hint[0] != '\0');
        if (cases[i].hint1)
            assert_has(v.hint, cases[i].hint1);
        if (cases[i].hint2)
            assert_has(v.hint, cases[i].hint2);
    }
}

static void test_abnormal_close(void **state)
{
    static const struct {
        enum evt_cause cause;
        enum evt_transport tr;
    } cases[] = {
        {EVT_CAUSE_EOF, EVT_TR_EOF},
        {EVT_CAUSE_RESET, EVT_TR_RESET},
    };
    struct seq *s = *state;
    struct diag_policy p = policy();
    struct diag_verdict v;

    for (size_t i = 0; i < 2; i++) {
        run_open(s);
        /* open at 6 ms, gone 60 s later */
        ev_closed(s, 60006000, cases[i].cause, EVT_BY_NETWORK, cases[i].tr, 1006, "", "");
        diag(s, &p, &v);
        assert_diag(&v, DIAG_ABNORMAL_CLOSE, cases[i].cause, EVT_PH_OPEN, false);
        assert_has(v.verdict, "without a close frame");
        assert_has(v.verdict, "60");
        assert_has(v.verdict, "1006");
        assert_has(v.hint, "idle");
        assert_has(v.hint, "crash");
    }
}

/* ---- no cause: healthy, in progress, or a late judgement ------------------------ */

static void test_healthy(void **state)
{
    struct seq *s = *state;
    struct diag_policy p = policy();
    struct diag_verdict v;

    p.want_pings = true;
    p.expect_message = "ready";
    p.expect_within_us = 5000000;
    run_open(s);
    ev_msg(s, 8000, "ready: 1", true);
    ev_plain(s, EVT_PING, 1006000);
    ev_pong(s, 1006200, 200);
    ev_plain(s, EVT_PING, 2006000);
    ev_pong(s, 2006400, 400);
    ev_plain(s, EVT_PING, 3006000);
    ev_pong(s, 3006300, 300);

    /* live */
    diag(s, &p, &v);
    assert_diag(&v, DIAG_HEALTHY, EVT_CAUSE_NONE, EVT_PH_NONE, true);
    assert_string_equal(v.hint, "");

    /* ended by us */
    ev_plain(s, EVT_CLOSING, 3100000);
    ev_closed(s, 3101000, EVT_CAUSE_NONE, EVT_BY_CLIENT, EVT_TR_NONE, 1000, "", "");
    diag(s, &p, &v);
    assert_diag(&v, DIAG_HEALTHY, EVT_CAUSE_NONE, EVT_PH_NONE, true);
    assert_has(v.verdict, "open in 6.0 ms");
    assert_has(v.verdict, "3/3 pings answered");
    assert_has(v.verdict, "median RTT 0.3 ms");
    assert_string_equal(v.hint, "");
}

static void test_healthy_live_ping_outstanding(void **state)
{
    struct seq *s = *state;
    struct diag_policy p = policy();
    struct diag_verdict v;

    /* an unanswered ping is only a failure at the end */
    p.want_pings = true;
    run_open(s);
    ev_plain(s, EVT_PING, 1006000);
    diag(s, &p, &v);
    assert_diag(&v, DIAG_HEALTHY, EVT_CAUSE_NONE, EVT_PH_NONE, true);
}

static void test_ended_without_expected_message(void **state)
{
    struct seq *s = *state;
    struct diag_policy p = policy();
    struct diag_verdict v;

    p.expect_message = "ready";
    p.expect_within_us = 1000000;
    run_open(s);
    ev_msg(s, 8000, "something else", false);
    ev_closed(s, 3000000, EVT_CAUSE_NONE, EVT_BY_CLIENT, EVT_TR_NONE, 1000, "", "");
    diag(s, &p, &v);
    assert_diag(&v, DIAG_NO_FIRST_MESSAGE, EVT_CAUSE_NO_FIRST_MESSAGE, EVT_PH_OPEN, false);
    assert_has(v.verdict, "ready");
}

static void test_ended_with_pings_unanswered(void **state)
{
    struct seq *s = *state;
    struct diag_policy p = policy();
    struct diag_verdict v;

    p.want_pings = true;
    run_open(s);
    ev_plain(s, EVT_PING, 1006000);
    ev_pong(s, 1006200, 200);
    ev_plain(s, EVT_PING, 2006000);
    ev_closed(s, 3000000, EVT_CAUSE_NONE, EVT_BY_CLIENT, EVT_TR_NONE, 1000, "", "");
    diag(s, &p, &v);
    assert_diag(&v, DIAG_PING_TIMEOUT, EVT_CAUSE_PING_TIMEOUT, EVT_PH_OPEN, false);

    /* the same attempt without pings configured is healthy */
    p.want_pings = false;
    diag(s, &p, &v);
    assert_diag(&v, DIAG_HEALTHY, EVT_CAUSE_NONE, EVT_PH_NONE, true);
}

static void test_connecting(void **state)
{
    struct seq *s = *state;
    struct diag_policy p = policy();
    struct diag_verdict v;

    run_to(s, EVT_PH_DNS, true, false);
    diag(s, &p, &v);
    assert_diag(&v, DIAG_HEALTHY, EVT_CAUSE_NONE, EVT_PH_NONE, false);
    assert_has(v.verdict, "connecting");
    assert_has(v.verdict, "dns");

    run_to(s, EVT_PH_NONE, true, false);
    diag(s, &p, &v);
    assert_diag(&v, DIAG_HEALTHY, EVT_CAUSE_NONE, EVT_PH_NONE, false);
    assert_has(v.verdict, "connecting");
    assert_has(v.verdict, "none");
}

static void test_insecure_is_reported(void **state)
{
    struct seq *s = *state;
    struct diag_policy p = policy();
    struct diag_verdict v;

    run_to(s, EVT_PH_TCP, true, false);
    ev_tls(s, 3000, EVT_VERIFY_EXPIRED, true, "CN=ws.example.com", "CN=Test CA",
           "DNS:ws.example.com", T_2021_01_01);
    ev_plain(s, EVT_REQUEST, 4000);
    ev_response(s, 5000, 101, "websocket", "", 1);
    ev_plain(s, EVT_OPEN, 6000);
    diag(s, &p, &v);
    assert_diag(&v, DIAG_HEALTHY, EVT_CAUSE_NONE, EVT_PH_NONE, true);
    assert_has(v.verdict, "NOT verified");
    assert_has(v.verdict, "--insecure");
    assert_has(v.verdict, "expired");
}

static void test_cause_inferred_from_the_end(void **state)
{
    struct seq *s = *state;
    struct diag_policy p = policy();
    struct diag_verdict v;

    /* the engine always names a cause; without one, who ended it tells */
    run_open(s);
    ev_closed(s, 9000000, EVT_CAUSE_NONE, EVT_BY_NETWORK, EVT_TR_RESET, 1006, "", "");
    diag(s, &p, &v);
    assert_diag(&v, DIAG_ABNORMAL_CLOSE, EVT_CAUSE_RESET, EVT_PH_OPEN, false);

    run_open(s);
    ev_closed(s, 9000000, EVT_CAUSE_NONE, EVT_BY_SERVER, EVT_TR_NONE, 1001, "", "");
    diag(s, &p, &v);
    assert_diag(&v, DIAG_CLOSED_BY_SERVER, EVT_CAUSE_CLOSE_FRAME, EVT_PH_OPEN, false);
}

/* ---- odds and ends ----------------------------------------------------------------- */

static void test_not_started_and_no_policy(void **state)
{
    struct seq *s = *state;
    struct diag_verdict v;

    diag(s, NULL, &v);
    assert_diag(&v, DIAG_HEALTHY, EVT_CAUSE_NONE, EVT_PH_NONE, false);

    run_to(s, EVT_PH_DNS, true, false);
    ev_failed(s, 3000, EVT_CAUSE_REFUSED, EVT_BY_NONE, "");
    diag(s, NULL, &v);
    assert_diag(&v, DIAG_TCP_REFUSED, EVT_CAUSE_REFUSED, EVT_PH_TCP, false);

    run_open(s);
    ev_closed(s, 9000000, EVT_CAUSE_NONE, EVT_BY_CLIENT, EVT_TR_NONE, 1000, "", "");
    diag(s, NULL, &v);
    assert_diag(&v, DIAG_HEALTHY, EVT_CAUSE_NONE, EVT_PH_NONE, true);
}

static bool valid_utf8(const char *p)
{
    const unsigned char *s = (const unsigned char *)p;

    while (*s) {
        size_t n = *s < 0x80             ? 1
                   : (*s & 0xE0) == 0xC0 ? 2
                   : (*s & 0xF0) == 0xE0 ? 3
                   : (*s & 0xF8) == 0xF0 ? 4
                                         : 0;
        if (n == 0)
            return false;
        for (size_t i = 1; i < n; i++)
            if ((s[i] & 0xC0) != 0x80)
                return false;
        s += n;
    }
    return true;
}

static void test_long_text_is_cut_safely(void **state)
{
    static const char *const chars[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
    struct seq *s = *state;
    struct diag_policy p = policy();
    struct diag_verdict v;
    char host[400];

    for (size_t c = 0; c < 3; c++) {
        for (size_t pad = 0; pad < 4; pad++) {
            size_t len = 0;

            memset(host, 0, sizeof(host));
            for (size_t i = 0; i < pad; i++)
                host[len++] = 'a';
            while (len + strlen(chars[c]) < sizeof(host))
                len += (size_t)snprintf(host + len, sizeof(host) - len, "%s", chars[c]);
            p.host = host;
            ev_attempt(s, 0, true);
            ev_failed(s, 5000, EVT_CAUSE_NXDOMAIN, EVT_BY_NONE, "Domain name not found");
            diag(s, &p, &v);
            assert_diag(&v, DIAG_DNS_FAILED, EVT_CAUSE_NXDOMAIN, EVT_PH_DNS, false);
            assert_true(strlen(v.verdict) > DIAG_TEXT_MAX - 5);
            assert_true(valid_utf8(v.verdict));
        }
    }
}

static void test_class_names(void **state)
{
    static const char *const want[DIAG_CLASS_COUNT] = {
        "healthy",           "dns-failed",       "tcp-refused",   "tcp-timeout",
        "tls-expired",       "tls-hostname",     "tls-untrusted", "tls-failed",
        "http-status",       "upgrade-missing",  "bad-accept",    "closed-before-open",
        "handshake-timeout", "no-first-message", "ping-timeout",  "closed-by-server",
        "abnormal-close",    "idle-timeout",
    };
    (void)state;
    assert_string_equal(diag_class_name(DIAG_HEALTHY), "healthy");
    assert_string_equal(diag_class_name(DIAG_IDLE_TIMEOUT), "idle-timeout");
    for (int c = 0; c < DIAG_CLASS_COUNT; c++)
        assert_string_equal(diag_class_name((enum diag_class)c), want[c]);
    assert_non_null(diag_class_name(DIAG_CLASS_COUNT));
}

static void test_days_left(void **state)
{
    const int64_t now = T_2021_01_01;

    (void)state;
    assert_int_equal(diag_days_left(now, now), 0);
    assert_int_equal(diag_days_left(now + 10 * DAY_S, now), 10);
    assert_int_equal(diag_days_left(now + 10 * DAY_S - 1, now), 9);
    assert_int_equal(diag_days_left(now + 1, now), 0);
    assert_int_equal(diag_days_left(now - 1, now), -1);
    assert_int_equal(diag_days_left(now - DAY_S, now), -1);
    assert_int_equal(diag_days_left(now - DAY_S - 1, now), -2);
    assert_int_equal(diag_days_left(now - 95 * DAY_S, now), -95);
    assert_true(diag_days_left(INT64_MAX, INT64_MIN) > 0);
    assert_true(diag_days_left(INT64_MIN, INT64_MAX) < 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_dns_failed),
        T(test_tcp_refused),
        T(test_tcp_timeout),
        T(test_tls_expired),
        T(test_tls_hostname),
        T(test_tls_untrusted),
        T(test_tls_protocol),
        T(test_upgrade_missing),
        T(test_http_status),
        T(test_redirect),
        T(test_bad_accept),
        T(test_closed_before_open),
        T(test_handshake_timeout),
        T(test_no_first_message),
        T(test_ping_timeout),
        T(test_closed_by_server),
        T(test_abnormal_close),
        T(test_healthy),
        T(test_healthy_live_ping_outstanding),
        T(test_ended_without_expected_message),
        T(test_ended_with_pings_unanswered),
        T(test_connecting),
        T(test_insecure_is_reported),
        T(test_cause_inferred_from_the_end),
        T(test_not_started_and_no_policy),
        T(test_long_text_is_cut_safely),
        T(test_class_names),
        T(test_days_left),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
