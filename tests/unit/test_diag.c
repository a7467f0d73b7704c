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

#include "cfg.h"
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
    snprintf(e.u.tcp.local, sizeof(e.u.tcp.local), "192.0.2.1:50000");
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

/* The policy comes from the endpoint's settings, --proxy included, and a tunnel the proxy
 * refused is blamed on the proxy, not on the server. */
static void test_policy_of_proxy(void **state)
{
    struct seq *s = *state;
    struct cfg c;
    struct diag_policy p;
    struct diag_verdict v;
    char err[CFG_ERR_MAX];

    cfg_init(&c);
    assert_int_equal(cfg_add_url(&c, "wss://ws.example.com:8443/x", err, sizeof(err)), 0);
    assert_int_equal(cfg_ep_set(&c.eps[0], "proxy", "192.0.2.9:3128", err, sizeof(err)), 0);
    assert_int_equal(cfg_ep_set(&c.eps[0], "expect_message", "hi", err, sizeof(err)), 0);
    assert_int_equal(cfg_ep_finish(&c.eps[0], &c.defaults, err, sizeof(err)), 0);
    diag_policy_of(&c.eps[0], 1234, &p);
    assert_string_equal(p.host, "ws.example.com");
    assert_int_equal(p.port, 8443);
    assert_string_equal(p.proxy, "192.0.2.9:3128");
    assert_string_equal(p.expect_message, "hi");
    assert_int_equal(p.expect_within_us, CFG_DEFAULT_EXPECT_WITHIN_MS * 1000);
    assert_true(p.want_pings); /* the default ping interval is not 0 */
    assert_int_equal(p.now_wall_s, 1234);

    run_to(s, EVT_PH_TCP, true, false);
    ev_failed(s, 3000, EVT_CAUSE_HTTP_STATUS, EVT_BY_NETWORK, "proxy not h1");
    diag(s, &p, &v);
    assert_diag(&v, DIAG_HTTP_STATUS, EVT_CAUSE_HTTP_STATUS, EVT_PH_TCP, false);
    assert_has(v.verdict, "proxy 192.0.2.9:3128 refused the tunnel to ws.example.com:8443");
    cfg_fini(&c);
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

/* ---- verdicts over several attempts ------------------------------------------------ */

#define S_US  1000000 /* one second */
#define NCONN 4       /* connections of endpoint 0 in these tests */

/* One attempt on connection `conn` of endpoint 0, wss://, phases 1 ms apart from t0:
 * ATTEMPT, DNS, then (remote set) TCP, TLS (tls_bad: a failed verification, and the end),
 * REQUEST, RESPONSE (status set), OPEN at t0 + 6 ms (open); msgs messages in and pings
 * pings while open; the end open_for_us after open, or at t0 + 7 ms. */
struct att {
    uint32_t conn;
    int64_t t0;
    const char *remote;
    bool tls_bad;
    bool request;
    int status;
    const char *backend; /* backend-id header */
    bool open;
    int64_t open_for_us;
    uint32_t msgs, pings;
    enum evt_cause cause;
    enum evt_by by;
    int code;
};

static struct evt mkc(const struct model *m, uint32_t conn, enum evt_kind k, int64_t t_us)
{
    struct evt e;

    memset(&e, 0, sizeof(e));
    e.kind = k;
    e.conn = conn;
    e.attempt = m->eps[0].conns[conn].cur.seq;
    e.t_mono_us = t_us;
    e.t_wall_us = 1700000000000000 + t_us;
    return e;
}

static void apply_ok(struct model *m, const struct evt *e)
{
    assert_int_equal(model_apply(m, e), 0);
}

static void run_att(struct model *m, const struct att *a)
{
    struct evt e;
    int64_t t0 = a->t0, t_end = t0 + 7000;

    memset(&e, 0, sizeof(e));
    e.kind = EVT_ATTEMPT;
    e.conn = a->conn;
    e.attempt = m->eps[0].conns[a->conn].attempts + 1;
    e.t_mono_us = t0;
    e.u.attempt.tls = true;
    apply_ok(m, &e);
    e = mkc(m, a->conn, EVT_DNS, t0 + 1000);
    snprintf(e.u.dns.addr, sizeof(e.u.dns.addr), "203.0.113.7");
    apply_ok(m, &e);
    if (a->remote) {
        e = mkc(m, a->conn, EVT_TCP, t0 + 2000);
        snprintf(e.u.tcp.remote, sizeof(e.u.tcp.remote), "%s", a->remote);
        apply_ok(m, &e);
        e = mkc(m, a->conn, EVT_TLS, t0 + 3000);
        e.u.tls.verify = a->tls_bad ? EVT_VERIFY_HOSTNAME : EVT_VERIFY_OK;
        apply_ok(m, &e);
    }
    if (a->request) {
        e = mkc(m, a->conn, EVT_REQUEST, t0 + 4000);
        apply_ok(m, &e);
    }
    if (a->status) {
        e = mkc(m, a->conn, EVT_RESPONSE, t0 + 5000);
        e.u.http.status = a->status;
        snprintf(e.u.http.backend, sizeof(e.u.http.backend), "%s", a->backend ? a->backend : "");
        apply_ok(m, &e);
    }
    if (a->open) {
        apply_ok(m, (e = mkc(m, a->conn, EVT_OPEN, t0 + 6000), &e));
        for (uint32_t i = 0; i < a->msgs; i++) {
            e = mkc(m, a->conn, EVT_MSG, t0 + 6001 + i);
            e.u.msg.len = 1;
            apply_ok(m, &e);
        }
        for (uint32_t i = 0; i < a->pings; i++)
            apply_ok(m, (e = mkc(m, a->conn, EVT_PING, t0 + 6500 + i), &e));
        t_end = t0 + 6000 + a->open_for_us;
    }
    if (a->cause == EVT_CAUSE_NONE && a->by == EVT_BY_NONE)
        return; /* still under way */
    e = mkc(m, a->conn, EVT_CLOSED, t_end);
    e.u.closed.cause = a->cause;
    e.u.closed.by = a->by;
    e.u.closed.code = a->code;
    e.u.closed.frame = a->by == EVT_BY_SERVER;
    apply_ok(m, &e);
}

/* An attempt that opens, carries nothing and is ended open_for_us later. */
static void quiet_close(struct model *m, uint32_t conn, int64_t t0, int64_t open_for_us,
                        enum evt_cause cause, enum evt_by by, int code)
{
    struct att a = {.conn = conn,
                    .t0 = t0,
                    .remote = "203.0.113.7:443",
                    .request = true,
                    .status = 101,
                    .open = true,
                    .open_for_us = open_for_us,
                    .cause = cause,
                    .by = by,
                    .code = code};

    run_att(m, &a);
}

static void idle_close(struct model *m, uint32_t conn, int64_t t0, int64_t open_for_us)
{
    quiet_close(m, conn, t0, open_for_us, EVT_CAUSE_EOF, EVT_BY_NETWORK, 1006);
}

static int setup_multi(void **state)
{
    static const int conns[] = {NCONN};
    static struct seq s;

    s.attempt = 0;
    s.m = model_new(1, conns);
    *state = &s;
    return 0;
}

/* The connections of endpoint 0, as the multi-attempt verdicts take them. */
static const struct model_conn *const *conns_of(const struct seq *s)
{
    static const struct model_conn *c[NCONN];

    for (size_t i = 0; i < NCONN; i++)
        c[i] = &s->m->eps[0].conns[i];
    return c;
}

/* What holds for every verdict: terminated, one line, not empty. */
static void check_text(const struct diag_verdict *v)
{
    assert_true(strnlen(v->verdict, DIAG_TEXT_MAX) < DIAG_TEXT_MAX);
    assert_true(strnlen(v->hint, DIAG_TEXT_MAX) < DIAG_TEXT_MAX);
    assert_true(v->verdict[0] != '\0');
    assert_null(strchr(v->verdict, '\n'));
    assert_null(strchr(v->hint, '\n'));
}

static double idle(const struct seq *s, struct diag_verdict *v)
{
    double sec, sec_only;

    memset(v, 0x5A, sizeof(*v));
    sec = diag_idle_timeout(conns_of(s), NCONN, v);
    sec_only = diag_idle_timeout(conns_of(s), NCONN, NULL);
    assert_true(sec == sec_only);
    check_text(v);
    return sec;
}

#define assert_near(x, want) assert_true((x) > (want)-1e-9 && (x) < (want) + 1e-9)

static void test_idle_timeout_found(void **state)
{
    struct seq *s = *state;
    struct diag_verdict v;
    struct att busy = {.conn = 3,
                       .t0 = 0,
                       .remote = "203.0.113.7:443",
                       .request = true,
                       .status = 101,
                       .open = true,
                       .open_for_us = 12 * S_US,
                       .msgs = 2,
                       .cause = EVT_CAUSE_EOF,
                       .by = EVT_BY_NETWORK,
                       .code = 1006};
    struct att refused = {
        .conn = 0, .t0 = 0, .cause = EVT_CAUSE_REFUSED, .by = EVT_BY_NETWORK, .code = 1006};

    /* three idle connections cut at 59.8, 60.2 and 60.0 s, on three connections; around
     * them a failure before open and a connection with traffic, neither counted */
    run_att(s->m, &refused);
    idle_close(s->m, 0, 100 * S_US, 59800000);
    idle_close(s->m, 1, 0, 60200000);
    idle_close(s->m, 2, 0, 60 * S_US);
    run_att(s->m, &busy);
    assert_near(idle(s, &v), 60.0);
    assert_diag(&v, DIAG_IDLE_TIMEOUT, EVT_CAUSE_EOF, EVT_PH_OPEN, false);
    assert_string_equal(v.verdict, "3 idle connections closed after 60.0 s: a load balancer "
                                   "idle timeout (1006 by network)");
    assert_has(v.hint, "idle timeout of about 60 s");
    assert_has(v.hint, "keep --ping below 60 s, or raise the idle timeout");

    /* a fourth at 61.5 s is within 6 s (10 % of 60): the median moves to (60.0 + 60.2) / 2 */
    idle_close(s->m, 3, 100 * S_US, 61500000);
    assert_near(idle(s, &v), 60.1);
    assert_has(v.verdict, "4 idle connections closed after 60.1 s");
}

static void test_idle_timeout_by_server(void **state)
{
    struct seq *s = *state;
    struct diag_verdict v;

    /* a server (or WebSocket-aware proxy) that says goodbye after 300 s of silence; the
     * engine gave no cause: inferred from the close frame */
    for (uint32_t i = 0; i < 3; i++)
        quiet_close(s->m, i, 0, 300 * S_US + i * 100000, EVT_CAUSE_NONE, EVT_BY_SERVER, 1001);
    assert_near(idle(s, &v), 300.1);
    assert_diag(&v, DIAG_IDLE_TIMEOUT, EVT_CAUSE_CLOSE_FRAME, EVT_PH_OPEN, false);
    assert_string_equal(v.verdict, "3 idle connections closed after 300.1 s: an idle timeout "
                                   "in the server or a proxy (1001 by server)");
    assert_has(v.hint, "keep --ping below 300.1 s, or raise the idle timeout");
}

static void test_idle_timeout_too_few(void **state)
{
    struct seq *s = *state;
    struct diag_verdict v;

    assert_near(idle(s, &v), -1.0);
    assert_diag(&v, DIAG_HEALTHY, EVT_CAUSE_NONE, EVT_PH_NONE, true);
    assert_string_equal(v.verdict, "no idle timeout seen: no idle connection was closed");
    assert_string_equal(v.hint, "");

    idle_close(s->m, 0, 0, 60 * S_US);
    idle_close(s->m, 1, 0, 60 * S_US);
    assert_near(idle(s, &v), -1.0);
    assert_diag(&v, DIAG_HEALTHY, EVT_CAUSE_NONE, EVT_PH_NONE, true);
    assert_string_equal(v.verdict, "no idle timeout seen: 2 idle connections closed, 3 needed");
    assert_near(diag_idle_timeout(NULL, 0, NULL), -1.0);
}

static void test_idle_timeout_scattered(void **state)
{
    struct seq *s = *state;
    struct diag_verdict v;

    /* 5, 20, 45, 90 s: no three within max(1 s, 10 %) of their median */
    idle_close(s->m, 0, 0, 5 * S_US);
    idle_close(s->m, 1, 0, 20 * S_US);
    idle_close(s->m, 2, 0, 45 * S_US);
    idle_close(s->m, 3, 0, 90 * S_US);
    assert_near(idle(s, &v), -1.0);
    assert_true(v.ok);
    assert_string_equal(v.verdict,
                        "no idle timeout seen: 4 idle connections closed at scattered durations");
}

static void test_idle_timeout_traffic(void **state)
{
    struct seq *s = *state;
    struct diag_verdict v;
    struct att a = {.t0 = 0,
                    .remote = "203.0.113.7:443",
                    .request = true,
                    .status = 101,
                    .open = true,
                    .open_for_us = 60 * S_US,
                    .cause = EVT_CAUSE_EOF,
                    .by = EVT_BY_NETWORK,
                    .code = 1006};

    /* cut at 60 s each, but each carried something: a message, a ping, both */
    a.conn = 0;
    a.msgs = 1;
    run_att(s->m, &a);
    a.conn = 1;
    a.msgs = 0;
    a.pings = 1;
    run_att(s->m, &a);
    a.conn = 2;
    a.msgs = 3;
    a.pings = 3;
    run_att(s->m, &a);
    /* idle, but ended by us (end of --hold) or by our own timeout: not the network's doing */
    quiet_close(s->m, 3, 0, 60 * S_US, EVT_CAUSE_NONE, EVT_BY_CLIENT, 1000);
    quiet_close(s->m, 3, 100 * S_US, 60 * S_US, EVT_CAUSE_NO_FIRST_MESSAGE, EVT_BY_TIMEOUT, 1006);
    assert_near(idle(s, &v), -1.0);
    assert_string_equal(v.verdict, "no idle timeout seen: no idle connection was closed");
}

static void test_idle_timeout_tolerance(void **state)
{
    struct seq *s = *state;
    struct diag_verdict v;

    /* median 60 s, tolerance 6 s: 54.0 is in, 53.9 is out */
    idle_close(s->m, 0, 0, 54 * S_US);
    idle_close(s->m, 0, 100 * S_US, 66 * S_US);
    idle_close(s->m, 0, 200 * S_US, 60 * S_US);
    assert_near(idle(s, &v), 60.0);
    teardown(state);
    setup_multi(state);
    s = *state;
    idle_close(s->m, 0, 0, 53900000);
    idle_close(s->m, 0, 100 * S_US, 66 * S_US);
    idle_close(s->m, 0, 200 * S_US, 60 * S_US);
    assert_near(idle(s, &v), -1.0);

    /* short durations: the tolerance is at least 1 s (4, 5, 6 around 5) */
    teardown(state);
    setup_multi(state);
    s = *state;
    idle_close(s->m, 0, 0, 4 * S_US);
    idle_close(s->m, 1, 0, 5 * S_US);
    idle_close(s->m, 2, 0, 6 * S_US);
    assert_near(idle(s, &v), 5.0);
    assert_has(v.verdict, "after 5.0 s");
    assert_has(v.hint, "keep --ping below 5 s");

    /* closes right after open (median under 2 s) are no idle timeout */
    teardown(state);
    setup_multi(state);
    s = *state;
    idle_close(s->m, 0, 0, 500000);
    idle_close(s->m, 1, 0, 1 * S_US);
    idle_close(s->m, 2, 0, 1500000);
    assert_near(idle(s, &v), -1.0);
}

static void test_idle_timeout_largest_cluster(void **state)
{
    struct seq *s = *state;
    struct diag_verdict v;

    /* 3 near 30 s, 4 at 60 s: the larger wins */
    for (uint32_t i = 0; i < 3; i++)
        idle_close(s->m, 0, i * 100 * S_US, 30 * S_US + i * S_US / 2);
    for (uint32_t i = 0; i < 4; i++)
        idle_close(s->m, 1, i * 100 * S_US, 60 * S_US);
    assert_near(idle(s, &v), 60.0);
    assert_has(v.verdict, "4 idle connections");

    /* 3 and 3: the tighter wins (29, 30, 31 against 45, 45, 45) */
    teardown(state);
    setup_multi(state);
    s = *state;
    for (uint32_t i = 0; i < 3; i++) {
        idle_close(s->m, 0, i * 100 * S_US, (29 + i) * S_US);
        idle_close(s->m, 1, i * 100 * S_US, 45 * S_US);
    }
    assert_near(idle(s, &v), 45.0);
}

static bool flapping(const struct seq *s, struct diag_verdict *v)
{
    bool yes;

    memset(v, 0x5A, sizeof(*v));
    yes = diag_flapping(conns_of(s), NCONN, v);
    assert_int_equal(diag_flapping(conns_of(s), NCONN, NULL), yes);
    check_text(v);
    return yes;
}

static void test_flapping_yes(void **state)
{
    struct seq *s = *state;
    struct diag_verdict v;
    struct att refused = {
        .conn = 2, .t0 = 60 * S_US, .cause = EVT_CAUSE_REFUSED, .by = EVT_BY_NETWORK, .code = 1006};

    /* five drops 25 s apart on two connections, open 3.9 .. 4.5 s (median 4.1 s); from the
     * first open (6 ms) to the last end (100 s + 6 ms + 4.0 s) is 104 s: "2 min" */
    idle_close(s->m, 0, 0, 3900000);
    quiet_close(s->m, 1, 25 * S_US, 4100000, EVT_CAUSE_CLOSE_FRAME, EVT_BY_SERVER, 1011);
    idle_close(s->m, 0, 50 * S_US, 4100000);
    quiet_close(s->m, 1, 75 * S_US, 4500000, EVT_CAUSE_CLOSE_FRAME, EVT_BY_SERVER, 1011);
    idle_close(s->m, 0, 100 * S_US, 4 * S_US);
    /* not drops: our own clean close, a failure before open */
    quiet_close(s->m, 2, 30 * S_US, 2 * S_US, EVT_CAUSE_NONE, EVT_BY_CLIENT, 1000);
    run_att(s->m, &refused);
    assert_true(flapping(s, &v));
    assert_diag(&v, DIAG_ABNORMAL_CLOSE, EVT_CAUSE_EOF, EVT_PH_OPEN, false);
    assert_string_equal(v.verdict, "flapping: 5 connections opened and dropped within 2 min "
                                   "(median 4.1 s open)");
    assert_has(v.hint, "mostly 1006 by network");
}

static void test_flapping_short_span(void **state)
{
    struct seq *s = *state;
    struct diag_verdict v;

    /* four drops 10 s apart, open 1 s each, by the server with 1011: 31 s in all */
    for (uint32_t i = 0; i < 4; i++)
        quiet_close(s->m, i, i * 10 * S_US, S_US, EVT_CAUSE_CLOSE_FRAME, EVT_BY_SERVER, 1011);
    assert_true(flapping(s, &v));
    assert_diag(&v, DIAG_CLOSED_BY_SERVER, EVT_CAUSE_CLOSE_FRAME, EVT_PH_OPEN, false);
    assert_string_equal(v.verdict, "flapping: 4 connections opened and dropped within 31 s "
                                   "(median 1.0 s open)");
    assert_has(v.hint, "mostly 1011 by server");
}

static void test_flapping_no(void **state)
{
    struct seq *s = *state;
    struct diag_verdict v;

    /* none */
    assert_false(flapping(s, &v));
    assert_diag(&v, DIAG_HEALTHY, EVT_CAUSE_NONE, EVT_PH_NONE, true);
    assert_false(diag_flapping(NULL, 0, NULL));

    /* three short drops: one too few */
    for (uint32_t i = 0; i < 3; i++)
        idle_close(s->m, 0, i * 10 * S_US, S_US);
    assert_false(flapping(s, &v));
    assert_true(v.ok);
    assert_string_equal(v.verdict, "not flapping: 3 connections dropped within 30 s of opening "
                                   "in the last 5 min");

    /* a fourth that stayed open 30 s: not short-lived */
    idle_close(s->m, 1, 40 * S_US, 30 * S_US);
    assert_false(flapping(s, &v));
    /* five short ones closed cleanly by us (a probe loop) are no drops */
    for (uint32_t i = 0; i < 5; i++)
        quiet_close(s->m, 2, i * 10 * S_US, S_US, EVT_CAUSE_NONE, EVT_BY_CLIENT, 1000);
    assert_false(flapping(s, &v));
    /* a fourth drop makes four */
    idle_close(s->m, 3, 50 * S_US, 29 * S_US);
    assert_true(flapping(s, &v));
}

static void test_flapping_window(void **state)
{
    struct seq *s = *state;
    struct diag_verdict v;
    struct att refused = {.conn = 3,
                          .t0 = 2000 * S_US,
                          .cause = EVT_CAUSE_REFUSED,
                          .by = EVT_BY_NETWORK,
                          .code = 1006};

    /* three drops long ago, two recent: the window reaches 300 s back from the newest end
     * (804.006 s), so only the two at 700 and 800 s count */
    idle_close(s->m, 0, 0, 4 * S_US);
    idle_close(s->m, 0, 100 * S_US, 4 * S_US);
    idle_close(s->m, 0, 200 * S_US, 4 * S_US);
    idle_close(s->m, 1, 700 * S_US, 4 * S_US);
    idle_close(s->m, 1, 800 * S_US, 4 * S_US);
    assert_false(flapping(s, &v));
    assert_has(v.verdict, "not flapping: 2 connections");

    /* two more within the window: 4 */
    idle_close(s->m, 2, 600 * S_US, 4 * S_US);
    idle_close(s->m, 2, 510 * S_US, 4 * S_US); /* opened at 510.006 s >= 504.006 s */
    assert_true(flapping(s, &v));
    assert_has(v.verdict, "flapping: 4 connections opened and dropped within 5 min");

    /* the newest end of any attempt moves the window: a failure long after */
    run_att(s->m, &refused);
    assert_false(flapping(s, &v));
    assert_has(v.verdict, "not flapping: 0 connections");
}

static size_t backends(const struct seq *s, struct diag_backend *b, size_t max_b,
                       struct diag_verdict *v)
{
    size_t nb;

    memset(v, 0x5A, sizeof(*v));
    memset(b, 0x5A, max_b * sizeof(*b));
    nb = diag_backends(conns_of(s), NCONN, b, max_b, v);
    check_text(v);
    return nb;
}

/* A connection that opened to remote and stays open. */
static void live_open(struct model *m, uint32_t conn, int64_t t0, const char *remote)
{
    struct att a = {
        .conn = conn, .t0 = t0, .remote = remote, .request = true, .status = 101, .open = true};

    run_att(m, &a);
}

/* An attempt to remote closed after the upgrade request, before any response. */
static void closed_before_open(struct model *m, uint32_t conn, int64_t t0, const char *remote)
{
    struct att a = {.conn = conn,
                    .t0 = t0,
                    .remote = remote,
                    .request = true,
                    .cause = EVT_CAUSE_EOF,
                    .by = EVT_BY_NETWORK,
                    .code = 1006};

    run_att(m, &a);
}

/* A session to remote that opened and was closed cleanly by us after 10 s. */
static void clean_session(struct model *m, uint32_t conn, int64_t t0, const char *remote)
{
    struct att a = {.conn = conn,
                    .t0 = t0,
                    .remote = remote,
                    .request = true,
                    .status = 101,
                    .open = true,
                    .open_for_us = 10 * S_US,
                    .by = EVT_BY_CLIENT,
                    .code = 1000};

    run_att(m, &a);
}

static void test_backends_one_bad(void **state)
{
    struct seq *s = *state;
    struct diag_backend b[DIAG_BACKENDS_MAX];
    struct diag_verdict v;
    struct att dns = {.conn = 2,
                      .t0 = 900 * S_US,
                      .cause = EVT_CAUSE_DNS_TIMEOUT,
                      .by = EVT_BY_NETWORK,
                      .code = 1006};

    /* conn 0: a clean session on .11, closed by us, then open again on .11;
     * conn 1: open on .12; conn 2: five closes before open on .7, then a DNS timeout that
     * no backend served */
    clean_session(s->m, 0, 0, "203.0.113.11:443");
    live_open(s->m, 0, 20 * S_US, "203.0.113.11:443");
    live_open(s->m, 1, 0, "203.0.113.12:443");
    for (uint32_t i = 0; i < 5; i++)
        closed_before_open(s->m, 2, i * 10 * S_US, "203.0.113.7:443");
    run_att(s->m, &dns);

    assert_int_equal(backends(s, b, DIAG_BACKENDS_MAX, &v), 3);
    /* in the order met: live attempts, then ended ones newest first across connections */
    assert_string_equal(b[0].backend, "203.0.113.11:443");
    assert_int_equal(b[0].attempts, 2);
    assert_int_equal(b[0].failures, 0);
    assert_string_equal(b[1].backend, "203.0.113.12:443");
    assert_int_equal(b[1].attempts, 1);
    assert_int_equal(b[1].failures, 0);
    assert_int_equal(b[1].last_class, DIAG_HEALTHY);
    assert_int_equal(b[1].last_cause, EVT_CAUSE_NONE);
    assert_int_equal(b[1].last_failed_in, EVT_PH_NONE);
    assert_int_equal(b[1].last_fail_us, -1);
    assert_string_equal(b[2].backend, "203.0.113.7:443");
    assert_int_equal(b[2].attempts, 5);
    assert_int_equal(b[2].failures, 5);
    assert_int_equal(b[2].last_cause, EVT_CAUSE_EOF);
    assert_int_equal(b[2].last_class, DIAG_CLOSED_BEFORE_OPEN);
    assert_int_equal(b[2].last_failed_in, EVT_PH_UPGRADE); /* after TLS, before a response */
    assert_int_equal(b[2].last_fail_us, 40 * S_US + 7000);
    assert_false(b[2].mixed);

    assert_diag(&v, DIAG_CLOSED_BEFORE_OPEN, EVT_CAUSE_EOF, EVT_PH_UPGRADE, false);
    assert_string_equal(v.verdict,
                        "1 of 3 backends fails: 203.0.113.7:443 (5/5 attempts closed-before-open)");
    assert_has(v.hint, "check 203.0.113.7:443");

    /* the breakdown alone */
    assert_int_equal(diag_backends(conns_of(s), NCONN, b, DIAG_BACKENDS_MAX, NULL), 3);
    assert_int_equal(b[2].failures, 5);
}

static void test_backends_by_header(void **state)
{
    struct seq *s = *state;
    struct diag_backend b[DIAG_BACKENDS_MAX];
    struct diag_verdict v;
    struct att a = {.t0 = 0,
                    .request = true,
                    .status = 502,
                    .cause = EVT_CAUSE_HTTP_STATUS,
                    .by = EVT_BY_SERVER,
                    .code = 1006};

    /* one load balancer address, three backends named by the backend-id header: i-0bad
     * answers 502 twice, then closes before open once (mixed); the others open */
    a.remote = "203.0.113.7:443";
    a.backend = "i-0bad";
    a.conn = 0;
    run_att(s->m, &a);
    a.t0 = 10 * S_US;
    run_att(s->m, &a);
    a.t0 = 20 * S_US;
    a.status = 0; /* closed before any response: the remote address names it, not i-0bad */
    a.cause = EVT_CAUSE_EOF;
    a.by = EVT_BY_NETWORK;
    run_att(s->m, &a);
    a.t0 = 30 * S_US;
    a.status = 101;
    a.open = true;
    a.open_for_us = 5 * S_US;
    a.backend = "i-0good1";
    a.conn = 1;
    a.cause = EVT_CAUSE_CLOSE_FRAME;
    a.by = EVT_BY_SERVER;
    a.code = 1000;
    run_att(s->m, &a); /* a close frame is a failure too (closed-by-server) */
    a.backend = "i-0good2";
    a.conn = 2;
    a.by = EVT_BY_NONE;
    a.cause = EVT_CAUSE_NONE;
    run_att(s->m, &a); /* live */

    assert_int_equal(backends(s, b, DIAG_BACKENDS_MAX, &v), 4);
    assert_string_equal(b[0].backend, "i-0good2");
    assert_int_equal(b[0].attempts, 1);
    assert_string_equal(b[1].backend, "203.0.113.7:443");
    assert_int_equal(b[1].failures, 1);
    assert_string_equal(b[2].backend, "i-0good1");
    assert_int_equal(b[2].failures, 1);
    assert_int_equal(b[2].last_class, DIAG_CLOSED_BY_SERVER);
    assert_string_equal(b[3].backend, "i-0bad");
    assert_int_equal(b[3].attempts, 2);
    assert_int_equal(b[3].failures, 2);
    assert_int_equal(b[3].last_class, DIAG_HTTP_STATUS);
    assert_int_equal(b[3].last_failed_in, EVT_PH_UPGRADE);

    /* three of four fail: each named, in the order met; the newest failure leads */
    assert_diag(&v, DIAG_CLOSED_BY_SERVER, EVT_CAUSE_CLOSE_FRAME, EVT_PH_OPEN, false);
    assert_string_equal(v.verdict,
                        "3 of 4 backends fail: 203.0.113.7:443 (1/1 attempts closed-before-open), "
                        "i-0good1 (1/1 attempts closed-by-server), i-0bad (2/2 attempts "
                        "http-status)");
}

static void test_backends_mixed_classes(void **state)
{
    struct seq *s = *state;
    struct diag_backend b[DIAG_BACKENDS_MAX];
    struct diag_verdict v;
    struct att a502 = {.conn = 1,
                       .t0 = 100 * S_US,
                       .remote = "203.0.113.7:443",
                       .request = true,
                       .status = 502,
                       .cause = EVT_CAUSE_HTTP_STATUS,
                       .by = EVT_BY_SERVER,
                       .code = 1006};

    closed_before_open(s->m, 0, 0, "203.0.113.7:443");
    closed_before_open(s->m, 0, 10 * S_US, "203.0.113.7:443");
    run_att(s->m, &a502);
    live_open(s->m, 2, 0, "203.0.113.8:443");
    assert_int_equal(backends(s, b, DIAG_BACKENDS_MAX, &v), 2);
    assert_true(b[1].mixed);
    assert_int_equal(b[1].last_class, DIAG_HTTP_STATUS);
    assert_int_equal(b[1].last_fail_us, 100 * S_US + 7000);
    assert_diag(&v, DIAG_HTTP_STATUS, EVT_CAUSE_HTTP_STATUS, EVT_PH_UPGRADE, false);
    assert_string_equal(v.verdict, "1 of 2 backends fails: 203.0.113.7:443 (3/3 attempts "
                                   "failed, last http-status)");
}

static void test_backends_all_bad(void **state)
{
    struct seq *s = *state;
    struct diag_backend b[DIAG_BACKENDS_MAX];
    struct diag_verdict v;

    closed_before_open(s->m, 0, 0, "203.0.113.7:443");
    closed_before_open(s->m, 0, 10 * S_US, "203.0.113.7:443");
    closed_before_open(s->m, 1, 0, "203.0.113.8:443");
    closed_before_open(s->m, 2, 20 * S_US, "203.0.113.9:443");
    clean_session(s->m, 2, 0, "203.0.113.9:443");
    assert_int_equal(backends(s, b, DIAG_BACKENDS_MAX, &v), 3);
    /* the newest failure: .9 at 20 s */
    assert_diag(&v, DIAG_CLOSED_BEFORE_OPEN, EVT_CAUSE_EOF, EVT_PH_UPGRADE, false);
    assert_string_equal(v.verdict, "all 3 backends fail (4/5 attempts): not a single bad target");
    assert_has(v.hint, "what they share");
}

static void test_backends_all_good(void **state)
{
    struct seq *s = *state;
    struct diag_backend b[DIAG_BACKENDS_MAX];
    struct diag_verdict v;
    struct att refused = {
        .conn = 3, .t0 = 0, .cause = EVT_CAUSE_REFUSED, .by = EVT_BY_NETWORK, .code = 1006};

    /* nothing yet */
    assert_int_equal(backends(s, b, DIAG_BACKENDS_MAX, &v), 0);
    assert_diag(&v, DIAG_HEALTHY, EVT_CAUSE_NONE, EVT_PH_NONE, true);
    assert_string_equal(v.verdict, "no backend identified yet");

    clean_session(s->m, 0, 0, "203.0.113.7:443");
    live_open(s->m, 0, 20 * S_US, "203.0.113.7:443");
    live_open(s->m, 1, 0, "203.0.113.8:443");
    live_open(s->m, 2, 0, "203.0.113.9:443");
    run_att(s->m, &refused); /* nobody's: refused before any backend */
    assert_int_equal(backends(s, b, DIAG_BACKENDS_MAX, &v), 3);
    assert_diag(&v, DIAG_HEALTHY, EVT_CAUSE_NONE, EVT_PH_NONE, true);
    assert_string_equal(v.verdict, "3 backends, none failing (4 attempts)");
    assert_string_equal(v.hint, "");
}

static void test_backends_only_one(void **state)
{
    struct seq *s = *state;
    struct diag_backend b[DIAG_BACKENDS_MAX];
    struct diag_verdict v;

    closed_before_open(s->m, 0, 0, "203.0.113.7:443");
    closed_before_open(s->m, 1, 0, "203.0.113.7:443");
    assert_int_equal(backends(s, b, DIAG_BACKENDS_MAX, &v), 1);
    assert_false(v.ok);
    assert_string_equal(v.verdict, "the only backend seen fails: 203.0.113.7:443 (2/2 attempts "
                                   "closed-before-open)");
}

static void test_backends_classes_and_cap(void **state)
{
    struct seq *s = *state;
    struct diag_backend b[DIAG_BACKENDS_MAX];
    struct diag_verdict v;
    struct att tls = {.conn = 0,
                      .t0 = 0,
                      .remote = "203.0.113.1:443",
                      .tls_bad = true,
                      .cause = EVT_CAUSE_TLS_HOSTNAME,
                      .by = EVT_BY_NETWORK,
                      .code = 1006};
    struct att hs = {.conn = 1,
                     .t0 = 0,
                     .remote = "203.0.113.2:443",
                     .request = true,
                     .by = EVT_BY_TIMEOUT,
                     .code = 1006}; /* no cause: inferred */
    struct att ok200 = {.conn = 2,
                        .t0 = 0,
                        .remote = "203.0.113.3:443",
                        .request = true,
                        .status = 200,
                        .cause = EVT_CAUSE_HTTP_STATUS,
                        .by = EVT_BY_SERVER,
                        .code = 1006};
    struct att ping = {.conn = 3,
                       .t0 = 0,
                       .remote = "203.0.113.4:443",
                       .request = true,
                       .status = 101,
                       .open = true,
                       .open_for_us = 20 * S_US,
                       .by = EVT_BY_TIMEOUT,
                       .code = 1006}; /* no cause: inferred */

    run_att(s->m, &tls);
    run_att(s->m, &hs);
    run_att(s->m, &ok200);
    run_att(s->m, &ping);
    assert_int_equal(backends(s, b, DIAG_BACKENDS_MAX, &v), 4);
    assert_int_equal(b[0].last_class, DIAG_TLS_HOSTNAME);
    assert_int_equal(b[0].last_failed_in, EVT_PH_TLS);
    assert_int_equal(b[1].last_class, DIAG_HANDSHAKE_TIMEOUT);
    assert_int_equal(b[1].last_cause, EVT_CAUSE_HANDSHAKE_TIMEOUT);
    assert_int_equal(b[1].last_failed_in, EVT_PH_UPGRADE);
    assert_int_equal(b[2].last_class, DIAG_UPGRADE_MISSING);
    assert_int_equal(b[2].last_failed_in, EVT_PH_UPGRADE);
    assert_int_equal(b[3].last_class, DIAG_PING_TIMEOUT);
    assert_int_equal(b[3].last_cause, EVT_CAUSE_PING_TIMEOUT);
    assert_int_equal(b[3].last_failed_in, EVT_PH_OPEN);
    assert_string_equal(v.verdict, "all 4 backends fail (4/4 attempts): not a single bad target");

    /* room for two: the rest is not counted */
    assert_int_equal(backends(s, b, 2, &v), 2);
    assert_string_equal(b[0].backend, "203.0.113.1:443");
    assert_string_equal(b[1].backend, "203.0.113.2:443");
    assert_string_equal(v.verdict, "all 2 backends fail (2/2 attempts): not a single bad target");
    assert_int_equal(diag_backends(conns_of(s), NCONN, NULL, 0, NULL), 0);
}

/* model_conn is a plain view: a hand-built one with a record that names a backend although
 * the attempt never reached TCP (as the model once recorded a DNS failure) */
static void test_backends_ignore_before_tcp(void **state)
{
    static struct model_conn c;
    static struct model_end ends[MODEL_HIST];
    const struct model_conn *conns[] = {&c, NULL};
    struct diag_backend b[DIAG_BACKENDS_MAX];
    struct diag_verdict v;

    (void)state;
    model_conn_init(&c);
    c.hist = ends;
    c.hist[0] = (struct model_end){.seq = 1,
                                   .t_end_us = 1000,
                                   .open_for_us = -1,
                                   .cause = EVT_CAUSE_NXDOMAIN,
                                   .by = EVT_BY_NETWORK,
                                   .reached = EVT_PH_NONE,
                                   .code = 1006};
    snprintf(c.hist[0].backend, sizeof(c.hist[0].backend), "203.0.113.7:443");
    c.hist[1] = c.hist[0];
    c.hist[1].seq = 2;
    c.hist[1].reached = EVT_PH_TCP;
    c.hist[1].cause = EVT_CAUSE_RESET;
    c.n_ended = 2;
    assert_int_equal(diag_backends(conns, 2, b, DIAG_BACKENDS_MAX, &v), 1);
    assert_int_equal(b[0].attempts, 1);
    assert_int_equal(b[0].last_cause, EVT_CAUSE_RESET);
    assert_int_equal(b[0].last_failed_in, EVT_PH_UPGRADE); /* ws:// (cur.tls false) */
    check_text(&v);
}

/* ---- groups ---------------------------------------------------------------------- */

static struct diag_verdict vd(enum diag_class cls, enum evt_cause cause, enum evt_phase failed_in,
                              bool ok, const char *verdict, const char *hint)
{
    struct diag_verdict v;

    memset(&v, 0, sizeof(v));
    v.cls = cls;
    v.cause = cause;
    v.failed_in = failed_in;
    v.ok = ok;
    snprintf(v.verdict, sizeof(v.verdict), "%s", verdict);
    snprintf(v.hint, sizeof(v.hint), "%s", hint);
    return v;
}

static void group(const struct diag_group_member *m, size_t n, struct diag_verdict *v)
{
    memset(v, 0x5A, sizeof(*v));
    diag_group(m, n, v);
    check_text(v);
}

static void test_group_lb_fails(void **state)
{
    struct diag_verdict ok =
        vd(DIAG_HEALTHY, EVT_CAUSE_NONE, EVT_PH_NONE, true, "open in 5 ms", "");
    struct diag_verdict bad =
        vd(DIAG_HTTP_STATUS, EVT_CAUSE_HTTP_STATUS, EVT_PH_UPGRADE, false,
           "the upgrade was answered with 502 Bad Gateway instead of 101", "502 hint");
    struct diag_verdict tls =
        vd(DIAG_TLS_EXPIRED, EVT_CAUSE_TLS_EXPIRED, EVT_PH_TLS, false, "expired", "renew");
    struct diag_verdict cut =
        vd(DIAG_ABNORMAL_CLOSE, EVT_CAUSE_EOF, EVT_PH_OPEN, false, "1006", "");
    struct diag_verdict connecting =
        vd(DIAG_HEALTHY, EVT_CAUSE_NONE, EVT_PH_NONE, false, "connecting (reached tcp)", "");
    struct diag_group_member m[] = {
        {"alb", CFG_VIA_LB, &bad, 502},
        {"ec2-direct", CFG_VIA_DIRECT, &ok, 101},
    };
    struct diag_verdict v;

    (void)state;
    group(m, 2, &v);
    assert_diag(&v, DIAG_HTTP_STATUS, EVT_CAUSE_HTTP_STATUS, EVT_PH_UPGRADE, false);
    assert_string_equal(v.verdict, "the load balancer path (alb) fails in upgrade "
                                   "(http-status 502) while the direct path is healthy");
    assert_string_equal(v.hint,
                        "look at the load balancer (target group health, listener rules, idle "
                        "timeout)");

    /* unnamed; the order of members does not matter */
    m[0] = (struct diag_group_member){"d", CFG_VIA_DIRECT, &ok, 101};
    m[1] = (struct diag_group_member){NULL, CFG_VIA_LB, &bad, 502};
    group(m, 2, &v);
    assert_string_equal(v.verdict, "the load balancer path fails in upgrade (http-status 502) "
                                   "while the direct path is healthy");

    /* in tls: the listener and its certificate */
    m[1] = (struct diag_group_member){"alb", CFG_VIA_LB, &tls, 0};
    group(m, 2, &v);
    assert_diag(&v, DIAG_TLS_EXPIRED, EVT_CAUSE_TLS_EXPIRED, EVT_PH_TLS, false);
    assert_string_equal(v.verdict, "the load balancer path (alb) fails in tls (tls-expired) "
                                   "while the direct path is healthy");
    assert_has(v.hint, "TLS listener and its certificate");

    /* cut after open (status 101 is not shown) */
    m[1] = (struct diag_group_member){"alb", CFG_VIA_LB, &cut, 101};
    group(m, 2, &v);
    assert_string_equal(v.verdict, "the load balancer path (alb) fails in open (eof) while the "
                                   "direct path is healthy");

    /* several members: one lb fails among healthy ones; a direct one still connecting
     * and a failing one not in the comparison are left out */
    {
        struct diag_group_member many[] = {
            {"alb-a", CFG_VIA_LB, &ok, 101},
            {"alb-b", CFG_VIA_LB, &bad, 502},
            {"direct-1", CFG_VIA_DIRECT, &connecting, 0},
            {"direct-2", CFG_VIA_DIRECT, &ok, 101},
            {"other", CFG_VIA_NONE, &tls, 0},
            {"nothing-yet", CFG_VIA_DIRECT, NULL, 0},
        };

        group(many, 6, &v);
        assert_string_equal(v.verdict, "the load balancer path (alb-b) fails in upgrade "
                                       "(http-status 502) while the direct path is healthy");
    }
}

static void test_group_direct_fails(void **state)
{
    struct diag_verdict ok = vd(DIAG_HEALTHY, EVT_CAUSE_NONE, EVT_PH_NONE, true, "open", "");
    struct diag_verdict refused = vd(DIAG_TCP_REFUSED, EVT_CAUSE_REFUSED, EVT_PH_TCP, false,
                                     "connection refused", "port closed");
    struct diag_group_member m[] = {
        {"alb", CFG_VIA_LB, &ok, 101},
        {"ec2-direct", CFG_VIA_DIRECT, &refused, 0},
    };
    struct diag_verdict v;

    (void)state;
    group(m, 2, &v);
    assert_diag(&v, DIAG_TCP_REFUSED, EVT_CAUSE_REFUSED, EVT_PH_TCP, false);
    assert_string_equal(v.verdict, "the direct path (ec2-direct) fails in tcp (refused) while "
                                   "the load balancer path is healthy");
    assert_has(v.hint, "security group");
}

static void test_group_both_fail(void **state)
{
    struct diag_verdict refused = vd(DIAG_TCP_REFUSED, EVT_CAUSE_REFUSED, EVT_PH_TCP, false,
                                     "connection refused", "port closed");
    struct diag_verdict tmo =
        vd(DIAG_TCP_TIMEOUT, EVT_CAUSE_CONNECT_TIMEOUT, EVT_PH_TCP, false, "no answer", "firewall");
    struct diag_verdict s500 =
        vd(DIAG_HTTP_STATUS, EVT_CAUSE_HTTP_STATUS, EVT_PH_UPGRADE, false,
           "the upgrade was answered with 500 Internal Server Error instead of 101",
           "the server failed on the upgrade: check the server logs");
    struct diag_verdict s502 =
        vd(DIAG_HTTP_STATUS, EVT_CAUSE_HTTP_STATUS, EVT_PH_UPGRADE, false, "502", "502 hint");
    struct diag_verdict expired =
        vd(DIAG_TLS_EXPIRED, EVT_CAUSE_TLS_EXPIRED, EVT_PH_TLS, false, "expired", "renew");
    struct diag_group_member m[2];
    struct diag_verdict v;

    (void)state;
    /* both in tcp, refused and timed out: the network path or the server */
    m[0] = (struct diag_group_member){"alb", CFG_VIA_LB, &refused, 0};
    m[1] = (struct diag_group_member){"direct", CFG_VIA_DIRECT, &tmo, 0};
    group(m, 2, &v);
    assert_diag(&v, DIAG_TCP_TIMEOUT, EVT_CAUSE_CONNECT_TIMEOUT, EVT_PH_TCP, false);
    assert_string_equal(v.verdict, "both paths fail in tcp: the network path or the server");
    assert_has(v.hint, "the server is up and listening");

    /* both in upgrade: the shared cause, as the direct path shows it */
    m[0] = (struct diag_group_member){"alb", CFG_VIA_LB, &s502, 502};
    m[1] = (struct diag_group_member){"direct", CFG_VIA_DIRECT, &s500, 500};
    group(m, 2, &v);
    assert_diag(&v, DIAG_HTTP_STATUS, EVT_CAUSE_HTTP_STATUS, EVT_PH_UPGRADE, false);
    assert_string_equal(v.verdict, "both paths fail in upgrade: the upgrade was answered with "
                                   "500 Internal Server Error instead of 101");
    assert_string_equal(v.hint, "the server failed on the upgrade: check the server logs");

    /* in different phases: both named */
    m[0] = (struct diag_group_member){"alb", CFG_VIA_LB, &expired, 0};
    group(m, 2, &v);
    assert_diag(&v, DIAG_HTTP_STATUS, EVT_CAUSE_HTTP_STATUS, EVT_PH_UPGRADE, false);
    assert_string_equal(v.verdict, "both paths fail, differently: the load balancer path in tls "
                                   "(tls-expired), the direct path in upgrade (http-status 500)");
    assert_has(v.hint, "two faults");

    /* lb in tcp, direct elsewhere: not "both in tcp" */
    m[0] = (struct diag_group_member){"alb", CFG_VIA_LB, &refused, 0};
    group(m, 2, &v);
    assert_has(v.verdict, "both paths fail, differently: the load balancer path in tcp (refused)");
}

static void test_group_healthy_and_incomplete(void **state)
{
    struct diag_verdict ok = vd(DIAG_HEALTHY, EVT_CAUSE_NONE, EVT_PH_NONE, true, "open", "");
    struct diag_verdict connecting =
        vd(DIAG_HEALTHY, EVT_CAUSE_NONE, EVT_PH_NONE, false, "connecting (reached tcp)", "");
    struct diag_verdict bad = vd(DIAG_HTTP_STATUS, EVT_CAUSE_HTTP_STATUS, EVT_PH_UPGRADE, false,
                                 "502", "the load balancer could not reach a healthy target");
    struct diag_group_member m[2];
    struct diag_verdict v;

    (void)state;
    m[0] = (struct diag_group_member){"alb", CFG_VIA_LB, &ok, 101};
    m[1] = (struct diag_group_member){"direct", CFG_VIA_DIRECT, &ok, 101};
    group(m, 2, &v);
    assert_diag(&v, DIAG_HEALTHY, EVT_CAUSE_NONE, EVT_PH_NONE, true);
    assert_string_equal(v.verdict, "the load balancer path and the direct path are both healthy");
    assert_string_equal(v.hint, "");

    /* the direct one still connecting: nothing to compare */
    m[1].v = &connecting;
    group(m, 2, &v);
    assert_diag(&v, DIAG_HEALTHY, EVT_CAUSE_NONE, EVT_PH_NONE, true);
    assert_string_equal(v.verdict, "nothing to compare yet: the group needs a via = lb and a "
                                   "via = direct endpoint with a result");
    group(NULL, 0, &v);
    assert_true(v.ok);
    assert_has(v.verdict, "nothing to compare yet");

    /* one side fails, the other has no result: what the failing side shows */
    m[0].v = &bad;
    m[0].http_status = 502;
    group(m, 2, &v);
    assert_diag(&v, DIAG_HTTP_STATUS, EVT_CAUSE_HTTP_STATUS, EVT_PH_UPGRADE, false);
    assert_string_equal(v.verdict, "the load balancer path (alb) fails in upgrade "
                                   "(http-status 502); no direct path to compare");
    assert_string_equal(v.hint, "the load balancer could not reach a healthy target");
    m[0] = (struct diag_group_member){"direct", CFG_VIA_DIRECT, &bad, 0};
    m[1] = (struct diag_group_member){"alb", CFG_VIA_NONE, &ok, 0};
    group(m, 2, &v);
    assert_string_equal(v.verdict, "the direct path (direct) fails in upgrade (http-status); "
                                   "no load balancer path to compare");
}

#define T(f)  cmocka_unit_test_setup_teardown(f, setup, teardown)
#define TM(f) cmocka_unit_test_setup_teardown(f, setup_multi, teardown)

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
        T(test_policy_of_proxy),
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
        TM(test_idle_timeout_found),
        TM(test_idle_timeout_by_server),
        TM(test_idle_timeout_too_few),
        TM(test_idle_timeout_scattered),
        TM(test_idle_timeout_traffic),
        TM(test_idle_timeout_tolerance),
        TM(test_idle_timeout_largest_cluster),
        TM(test_flapping_yes),
        TM(test_flapping_short_span),
        TM(test_flapping_no),
        TM(test_flapping_window),
        TM(test_backends_one_bad),
        TM(test_backends_by_header),
        TM(test_backends_mixed_classes),
        TM(test_backends_all_bad),
        TM(test_backends_all_good),
        TM(test_backends_only_one),
        TM(test_backends_classes_and_cap),
        TM(test_backends_ignore_before_tcp),
        TM(test_group_lb_fails),
        TM(test_group_direct_fails),
        TM(test_group_both_fail),
        TM(test_group_healthy_and_incomplete),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
