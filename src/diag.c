/* SPDX-License-Identifier: MIT */
/* Diagnosis: from attempt records to a class, a one-line verdict and a hint (pure). */
#include "config.h"

#include "diag.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "model.h"

const char *diag_class_name(enum diag_class c)
{
    static const char *const n[DIAG_CLASS_COUNT] = {
        "healthy",           "dns-failed",       "tcp-refused",   "tcp-timeout",
        "tls-expired",       "tls-hostname",     "tls-untrusted", "tls-failed",
        "http-status",       "upgrade-missing",  "bad-accept",    "closed-before-open",
        "handshake-timeout", "no-first-message", "ping-timeout",  "closed-by-server",
        "abnormal-close",    "idle-timeout",
    };
    return (unsigned)c < DIAG_CLASS_COUNT ? n[c] : "?";
}

int64_t diag_days_left(int64_t not_after_s, int64_t now_s)
{
    int64_t diff, d;

    if (__builtin_sub_overflow(not_after_s, now_s, &diff))
        return not_after_s > now_s ? INT64_MAX / 86400 : INT64_MIN / 86400;
    d = diff / 86400;
    if (diff % 86400 != 0 && diff < 0)
        d--; /* C division truncates toward zero; we want the floor */
    return d;
}

/* ---- text helpers ------------------------------------------------------- */

/* Append to a DIAG_TEXT_MAX buffer; output past the end is cut. */
__attribute__((format(printf, 2, 3))) static void cat(char *buf, const char *fmt, ...)
{
    size_t len = strnlen(buf, DIAG_TEXT_MAX);
    va_list ap;

    if (len >= DIAG_TEXT_MAX - 1)
        return;
    va_start(ap, fmt);
    vsnprintf(buf + len, DIAG_TEXT_MAX - len, fmt, ap);
    va_end(ap);
}

/* After a cut, drop a trailing partial UTF-8 sequence so the text stays valid. */
static void utf8_trim(char *s)
{
    size_t len = strnlen(s, DIAG_TEXT_MAX);
    size_t i = len, need;
    unsigned char lead;

    if (len < DIAG_TEXT_MAX - 1)
        return; /* not cut */
    while (i > 0 && len - i < 3 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
        i--;
    if (i == 0)
        return;
    lead = (unsigned char)s[i - 1];
    if (lead < 0x80)
        return;
    need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (len - (i - 1) < need)
        s[i - 1] = '\0';
}

/* A duration for people: "12.3 ms", "4.5 s", "60 s". */
static const char *fmt_dur(char *buf, size_t size, int64_t us)
{
    if (us < 0)
        snprintf(buf, size, "?");
    else if (us < 1000000)
        snprintf(buf, size, "%.1f ms", (double)us / 1e3);
    else if (us < 60000000)
        snprintf(buf, size, "%.1f s", (double)us / 1e6);
    else
        snprintf(buf, size, "%.0f s", (double)us / 1e6);
    return buf;
}

static const char *fmt_date(char *buf, size_t size, int64_t t_s)
{
    time_t t = (time_t)t_s;
    struct tm tm;

    if (t_s <= 0 || !gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(buf, size, "an unknown date");
    return buf;
}

static const char *host_of(const struct diag_policy *p)
{
    return p && p->host && *p->host ? p->host : "the host";
}

/* Where a connection went: the remote address if TCP got that far, else host[:port]. */
static const char *target(char *buf, size_t size, const struct model_attempt *a,
                          const struct diag_policy *p)
{
    if (a->remote[0])
        snprintf(buf, size, "%s", a->remote);
    else if (p && p->port > 0 && strchr(host_of(p), ':') && host_of(p)[0] != '[')
        snprintf(buf, size, "[%s]:%d", host_of(p), p->port); /* an IPv6 literal */
    else if (p && p->port > 0)
        snprintf(buf, size, "%s:%d", host_of(p), p->port);
    else
        snprintf(buf, size, "%s", host_of(p));
    return buf;
}

static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);

    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return false;
}

/* The phase that was under way when an attempt that got to `reached` stopped before open. */
static enum evt_phase phase_after_reached(enum evt_phase reached, bool tls)
{
    switch (reached) {
    case EVT_PH_NONE:
    case EVT_PH_DNS:
        return EVT_PH_TCP;
    case EVT_PH_TCP:
        return tls ? EVT_PH_TLS : EVT_PH_UPGRADE;
    case EVT_PH_TLS:
        return EVT_PH_UPGRADE;
    default:
        return EVT_PH_OPEN;
    }
}

static enum evt_phase phase_after(const struct model_attempt *a)
{
    return phase_after_reached(a->reached, a->tls);
}

static void set(struct diag_verdict *out, enum diag_class cls, enum evt_cause cause,
                enum evt_phase failed_in)
{
    out->cls = cls;
    out->cause = cause;
    out->failed_in = failed_in;
    out->ok = false;
}

/* ---- per layer ----------------------------------------------------------- */

static void diag_dns(const struct model_attempt *a, const struct diag_policy *p,
                     struct diag_verdict *out)
{
    const char *err;

    set(out, DIAG_DNS_FAILED, a->cause, EVT_PH_DNS);
    switch (a->cause) {
    case EVT_CAUSE_NXDOMAIN:
        err = "no such name (NXDOMAIN)";
        cat(out->hint, "check the name and the resolver (/etc/resolv.conf); "
                       "--resolve HOST:PORT:ADDR tests a known address");
        break;
    case EVT_CAUSE_DNS_SERVFAIL:
        err = "the resolver failed (SERVFAIL)";
        cat(out->hint, "check the resolver and the zone's name servers; "
                       "--resolve HOST:PORT:ADDR bypasses DNS");
        break;
    default:
        err = "the resolver did not answer";
        cat(out->hint, "the resolver did not answer in time: check /etc/resolv.conf and "
                       "that it is reachable on port 53");
        break;
    }
    cat(out->verdict, "the name %s did not resolve: %s", host_of(p),
        a->detail[0] ? a->detail : err);
}

static void diag_tcp(const struct model_attempt *a, const struct diag_policy *p,
                     struct diag_verdict *out)
{
    char where[EVT_NAME_MAX + 16];

    target(where, sizeof(where), a, p);
    if (a->cause == EVT_CAUSE_REFUSED) {
        set(out, DIAG_TCP_REFUSED, a->cause, EVT_PH_TCP);
        cat(out->verdict, "connection refused: nothing listens on %s", where);
        cat(out->hint, "the port is closed, the service is down, or a security group or "
                       "firewall rejects the connection");
        return;
    }
    set(out, DIAG_TCP_TIMEOUT, a->cause, EVT_PH_TCP);
    if (a->cause == EVT_CAUSE_UNREACHABLE)
        cat(out->verdict, "%s is unreachable", where);
    else
        cat(out->verdict, "no answer to the TCP connect to %s", where);
    if (a->detail[0])
        cat(out->verdict, " (%s)", a->detail);
    cat(out->hint, "a security group or firewall is dropping the packets, or there is no route "
                   "to the host");
}

static void diag_tls(const struct model_attempt *a, const struct diag_policy *p,
                     struct diag_verdict *out)
{
    const struct model_tls *t = model_tls_of(a);
    const char *issuer = t->issuer[0] ? t->issuer : "an unknown issuer";
    char date[48];

    switch (a->cause) {
    case EVT_CAUSE_TLS_EXPIRED:
        set(out, DIAG_TLS_EXPIRED, a->cause, EVT_PH_TLS);
        cat(out->verdict, "the certificate of %s expired on %s", host_of(p),
            fmt_date(date, sizeof(date), t->not_after_s));
        if (p && p->now_wall_s > 0 && t->not_after_s > 0 &&
            p->now_wall_s - t->not_after_s >= 86400) {
            int64_t ago = (p->now_wall_s - t->not_after_s) / 86400;

            cat(out->verdict, " (%" PRId64 " day%s ago)", ago, ago == 1 ? "" : "s");
        }
        cat(out->hint, "renew the certificate (and check this machine's clock)");
        break;
    case EVT_CAUSE_TLS_NOT_YET_VALID:
        set(out, DIAG_TLS_EXPIRED, a->cause, EVT_PH_TLS);
        cat(out->verdict, "the certificate of %s is not valid yet (notAfter %s)", host_of(p),
            fmt_date(date, sizeof(date), t->not_after_s));
        cat(out->hint, "check this machine's clock and the certificate's notBefore date");
        break;
    case EVT_CAUSE_TLS_HOSTNAME:
        set(out, DIAG_TLS_HOSTNAME, a->cause, EVT_PH_TLS);
        cat(out->verdict, "the certificate does not name %s: it is for %s", host_of(p),
            t->sans[0]      ? t->sans
            : t->subject[0] ? t->subject
                            : "no readable name");
        cat(out->hint, "connect with a name the certificate covers (--resolve keeps it while "
                       "connecting elsewhere), or add the name to its subjectAltName");
        break;
    case EVT_CAUSE_TLS_SELF_SIGNED:
        set(out, DIAG_TLS_UNTRUSTED, a->cause, EVT_PH_TLS);
        cat(out->verdict, "the certificate of %s is self-signed (issuer %s)", host_of(p), issuer);
        cat(out->hint, "pass the issuing CA with --cacert, or install a certificate from a "
                       "trusted CA with its full chain");
        break;
    case EVT_CAUSE_TLS_UNTRUSTED:
        set(out, DIAG_TLS_UNTRUSTED, a->cause, EVT_PH_TLS);
        cat(out->verdict, "the certificate of %s is issued by %s, which is not trusted", host_of(p),
            issuer);
        cat(out->hint, "pass the issuing CA with --cacert, or install the full certificate chain "
                       "on the server");
        break;
    default:
        set(out, DIAG_TLS_FAILED, a->cause, EVT_PH_TLS);
        cat(out->verdict, "the TLS handshake with %s failed", host_of(p));
        if (a->detail[0])
            cat(out->verdict, ": %s", a->detail);
        cat(out->hint, "the port may not speak TLS (try ws://), or client and server share no "
                       "TLS version or cipher");
        break;
    }
}

struct status_text {
    int status;
    const char *name;
    const char *hint;
};

static const struct status_text status_texts[] = {
    {400, "Bad Request",
     "bad request: the WebSocket headers were missing or invalid when they reached the server "
     "(a proxy may rewrite them)"},
    {401, "Unauthorized",
     "authentication or origin policy refused the upgrade: check -H 'Authorization: ...' and "
     "--origin"},
    {403, "Forbidden",
     "authentication or origin policy refused the upgrade: check -H 'Authorization: ...' and "
     "--origin"},
    {404, "Not Found", "wrong path: check the URL's path and the proxy's routing rules"},
    {426, "Upgrade Required",
     "upgrade required: a proxy dropped the Upgrade header; make it forward the Upgrade and "
     "Connection headers"},
    {429, "Too Many Requests", "rate limited: too many connections; reconnect with backoff"},
    {500, "Internal Server Error", "the server failed on the upgrade: check the server logs"},
    {502, "Bad Gateway",
     "the load balancer could not reach a healthy target: check the targets, their port and "
     "their health"},
    {503, "Service Unavailable",
     "no healthy targets, or the service is overloaded: check target health and capacity"},
    {504, "Gateway Timeout",
     "the target did not answer in time: check that the backend is up and reachable from the "
     "load balancer"},
};

static void diag_http(const struct model_attempt *a, struct diag_verdict *out)
{
    const struct model_http *h = model_http_of(a);
    int st = h->status;
    const struct status_text *s = NULL;

    if (a->cause == EVT_CAUSE_REDIRECT) {
        /* DESIGN 5: a 3xx without Upgrade is upgrade-missing; the cause says why */
        set(out, DIAG_UPGRADE_MISSING, a->cause, EVT_PH_UPGRADE);
        cat(out->verdict, "redirected with %d to %s (not followed)", st,
            h->location[0] ? h->location : "no location");
        cat(out->hint, "point wsmon at the new location");
        return;
    }
    if (a->cause == EVT_CAUSE_BAD_ACCEPT && h->accept_ok != 0 && a->detail[0]) {
        /* a 101 that lws rejected for another reason than the accept key */
        const char *why = strstr(a->detail, "rotocol") || strstr(a->detail, "PROTOCOL")
                              ? "the server chose a subprotocol that was not offered"
                          : strstr(a->detail, "UPGRADE") || strstr(a->detail, "Upgrade")
                              ? "its Upgrade header is missing or not websocket"
                          : strstr(a->detail, "ACCEPT") ? "it has no Sec-WebSocket-Accept"
                          : strstr(a->detail, "EXT")    ? "its extensions cannot be accepted"
                                                        : "it breaks the handshake";
        set(out, DIAG_BAD_ACCEPT, a->cause, EVT_PH_UPGRADE);
        cat(out->verdict, "101 rejected: %s (%s)", why, a->detail);
        if (h->server[0])
            cat(out->verdict, " (Server: %s)", h->server);
        cat(out->hint, "a broken proxy or server: compare with the server directly, and check "
                       "the --protocol values it accepts");
        return;
    }
    if (a->cause == EVT_CAUSE_BAD_ACCEPT) {
        set(out, DIAG_BAD_ACCEPT, a->cause, EVT_PH_UPGRADE);
        cat(out->verdict, "101 with a wrong Sec-WebSocket-Accept: a broken proxy or server");
        if (h->server[0])
            cat(out->verdict, " (Server: %s)", h->server);
        cat(out->hint, "a proxy rewrote the handshake or the server computes the accept key "
                       "wrongly: try the server directly");
        return;
    }
    if (st >= 200 && st < 400 && st != 101 && !contains_ci(h->upgrade, "websocket")) {
        set(out, DIAG_UPGRADE_MISSING, a->cause, EVT_PH_UPGRADE);
        cat(out->verdict, "the server answered %d without upgrading", st);
        if (h->server[0])
            cat(out->verdict, " (Server: %s)", h->server);
        cat(out->hint, "make the proxy forward the Upgrade and Connection headers");
        return;
    }
    set(out, DIAG_HTTP_STATUS, a->cause, EVT_PH_UPGRADE);
    for (size_t i = 0; i < sizeof(status_texts) / sizeof(status_texts[0]); i++)
        if (status_texts[i].status == st)
            s = &status_texts[i];
    if (st == 101)
        cat(out->verdict, "the server answered 101 but the upgrade did not complete");
    else if (st > 0)
        cat(out->verdict, "the upgrade was answered with %d%s%s instead of 101", st, s ? " " : "",
            s ? s->name : "");
    else
        cat(out->verdict, "the upgrade was answered with an unexpected status");
    if (h->server[0])
        cat(out->verdict, " (Server: %s)", h->server);
    if (s)
        cat(out->hint, "%s", s->hint);
    else if (st >= 400 && st < 500)
        cat(out->hint, "the server rejected the upgrade request: check the URL, headers and "
                       "credentials");
    else if (st >= 500)
        cat(out->hint, "a server-side error: check the server and proxy logs");
    else if (st > 0 && st != 101)
        cat(out->hint, "the server did not switch protocols: check that the URL is its WebSocket "
                       "endpoint");
}

/* TCP gone (RST or FIN) without a close frame. */
static void diag_transport(const struct model_attempt *a, enum evt_cause cause,
                           struct diag_verdict *out)
{
    bool rst = cause == EVT_CAUSE_RESET;
    char d[32];

    if (a->reached >= EVT_PH_OPEN) {
        set(out, DIAG_ABNORMAL_CLOSE, cause, EVT_PH_OPEN);
        cat(out->verdict, "TCP %s without a close frame after %s open: the browser's 1006",
            rst ? "reset (RST)" : "closed (FIN)", fmt_dur(d, sizeof(d), a->open_for_us));
        cat(out->hint, "an idle timeout on a load balancer or proxy (keep pings on, compare the "
                       "open durations), or the server crashed or restarted");
        return;
    }
    set(out, DIAG_CLOSED_BEFORE_OPEN, cause, phase_after(a));
    cat(out->verdict, "the server closed the connection (TCP %s) ", rst ? "RST" : "FIN");
    if (out->failed_in == EVT_PH_TCP)
        cat(out->verdict, "while connecting");
    else if (out->failed_in == EVT_PH_TLS)
        cat(out->verdict, "during the TLS handshake");
    else if (a->http)
        cat(out->verdict, "after the %d response, before open", a->http->status);
    else if (a->t_request_us >= 0)
        cat(out->verdict, "after the upgrade request, before any response");
    else
        cat(out->verdict, "before the upgrade request was sent");
    cat(out->verdict, ": a browser sees 1006 before onopen");
    if (out->failed_in == EVT_PH_TCP)
        cat(out->hint, "the connection was dropped while being set up: a firewall, a load "
                       "balancer or the server rejects connections");
    else if (out->failed_in == EVT_PH_TLS)
        cat(out->hint, "the server dropped the TLS handshake: check that the port speaks TLS and "
                       "serves this name (SNI)");
    else
        cat(out->hint, "the backend or a proxy dropped the connection on upgrade: check the "
                       "server logs for a crash or a rejected upgrade, and that every proxy "
                       "speaks WebSocket");
}

static void diag_handshake_timeout(const struct model_attempt *a, enum evt_cause cause,
                                   struct diag_verdict *out)
{
    char d[32];

    set(out, DIAG_HANDSHAKE_TIMEOUT, cause, phase_after(a));
    fmt_dur(d, sizeof(d), a->total_us);
    switch (out->failed_in) {
    case EVT_PH_TCP:
        cat(out->verdict, "handshake timeout: the TCP connect did not complete within %s", d);
        cat(out->hint, "a security group or firewall may be dropping the packets");
        break;
    case EVT_PH_TLS:
        cat(out->verdict, "handshake timeout: the TLS handshake did not complete within %s", d);
        cat(out->hint, "the port may not speak TLS, or a middlebox holds the handshake");
        break;
    default:
        cat(out->verdict, "handshake timeout: the upgrade request got no response within %s", d);
        cat(out->hint, "the server or load balancer took the connection but never answered: a "
                       "busy backend, or a proxy waiting on an unreachable target");
        break;
    }
    cat(out->verdict, " (reached %s)", evt_phase_name(a->reached));
}

static void diag_no_first_message(const struct model_attempt *a, const struct diag_policy *p,
                                  struct diag_verdict *out)
{
    char d[32];

    set(out, DIAG_NO_FIRST_MESSAGE, EVT_CAUSE_NO_FIRST_MESSAGE, EVT_PH_OPEN);
    if (p && p->expect_message)
        cat(out->verdict, "open, but no message containing '%s' arrived within %s",
            p->expect_message, fmt_dur(d, sizeof(d), p->expect_within_us));
    else
        cat(out->verdict, "open, but the expected message did not arrive in time");
    if (a->msgs_in > 0)
        cat(out->verdict, " (%" PRIu64 " other message%s)", a->msgs_in, a->msgs_in == 1 ? "" : "s");
    cat(out->hint, "the server did not send its first message: check that it sends on connect "
                   "(subscription, authentication, its own backend)");
}

static void diag_ping_timeout(const struct model_attempt *a, struct diag_verdict *out)
{
    char d[32];

    set(out, DIAG_PING_TIMEOUT, EVT_CAUSE_PING_TIMEOUT, EVT_PH_OPEN);
    cat(out->verdict, "pongs stopped: half-open connection (%" PRIu32 "/%" PRIu32 " pings answered",
        a->pongs, a->pings_sent);
    if (a->open_for_us >= 0)
        cat(out->verdict, ", open %s", fmt_dur(d, sizeof(d), a->open_for_us));
    cat(out->verdict, ")");
    cat(out->hint, "a NAT or load balancer lost the connection without closing it, or the server "
                   "hangs: check the path and the server");
}

static const char *close_code_name(int code)
{
    switch (code) {
    case 1000:
        return "normal closure";
    case 1001:
        return "going away";
    case 1002:
        return "protocol error";
    case 1003:
        return "unsupported data";
    case 1005:
        return "no status";
    case 1006:
        return "abnormal closure";
    case 1007:
        return "invalid payload";
    case 1008:
        return "policy violation";
    case 1009:
        return "message too big";
    case 1010:
        return "mandatory extension";
    case 1011:
        return "internal error";
    case 1012:
        return "service restart";
    case 1013:
        return "try again later";
    case 1014:
        return "bad gateway";
    case 1015:
        return "TLS handshake failure";
    default:
        if (code >= 3000 && code <= 3999)
            return "registered code";
        if (code >= 4000 && code <= 4999)
            return "application code";
        return "unknown code";
    }
}

static const char *close_code_hint(int code)
{
    switch (code) {
    case 1000:
        return "a normal close: the server ended the session on purpose";
    case 1001:
        return "going away: the server is shutting down or restarting (a deploy or restart); "
               "reconnects should land on a new instance";
    case 1002:
        return "protocol error (libwebsockets reports 1012-1014 as 1002): check the server logs "
               "for the real code";
    case 1003:
        return "the server does not accept this kind of data (text or binary)";
    case 1007:
        return "the server found invalid payload data (for example text that is not UTF-8)";
    case 1008:
        return "policy violation: authentication, origin or rate policy; check -H "
               "Authorization and --origin";
    case 1009:
        return "a message was too big for the server: check its size limits";
    case 1011:
        return "server error: check the server logs";
    case 1012:
        return "the service is restarting: reconnect after a short delay";
    case 1013:
        return "the server is overloaded: try again later, with backoff";
    default:
        if (code >= 4000 && code <= 4999)
            return "an application-defined code: see the application's documentation";
        if (code >= 3000 && code <= 3999)
            return "a code registered by a library or framework: see its documentation";
        return "";
    }
}

static void diag_close_frame(const struct model_attempt *a, struct diag_verdict *out)
{
    char d[32];

    set(out, DIAG_CLOSED_BY_SERVER, EVT_CAUSE_CLOSE_FRAME, EVT_PH_OPEN);
    cat(out->verdict, "the server closed with %d %s", a->close_code,
        close_code_name(a->close_code));
    if (a->close_reason[0])
        cat(out->verdict, " '%s'", a->close_reason);
    if (a->open_for_us >= 0)
        cat(out->verdict, " after %s open", fmt_dur(d, sizeof(d), a->open_for_us));
    cat(out->hint, "%s", close_code_hint(a->close_code));
}

/* What --insecure let through, for the verdict of an attempt that went on regardless. */
static const char *insecure_finding(const struct model_tls *t)
{
    switch (t->verify) {
    case EVT_VERIFY_OK:
        return "the certificate is valid";
    case EVT_VERIFY_EXPIRED:
        return "certificate expired";
    case EVT_VERIFY_NOT_YET_VALID:
        return "certificate not yet valid";
    case EVT_VERIFY_HOSTNAME:
        return "certificate for another name";
    case EVT_VERIFY_SELF_SIGNED:
        return "self-signed certificate";
    case EVT_VERIFY_UNTRUSTED:
        return "untrusted issuer";
    case EVT_VERIFY_OTHER:
        return "verification failed";
    default:
        return "verification result unknown";
    }
}

static void diag_healthy(const struct model_attempt *a, const struct diag_policy *p,
                         struct diag_verdict *out)
{
    char d[32];
    int64_t med = model_rtt_median_us(a);

    set(out, DIAG_HEALTHY, EVT_CAUSE_NONE, EVT_PH_NONE);
    out->ok = true;
    cat(out->verdict, "open in %s", fmt_dur(d, sizeof(d), a->open_us));
    if (a->tls_info && a->tls_info->insecure)
        cat(out->verdict, " (TLS NOT verified: --insecure; %s)", insecure_finding(a->tls_info));
    if (a->pings_sent > 0)
        cat(out->verdict, ", %" PRIu32 "/%" PRIu32 " pings answered", a->pongs, a->pings_sent);
    if (med >= 0)
        cat(out->verdict, ", median RTT %s", fmt_dur(d, sizeof(d), med));
    if (p && p->expect_message) {
        if (a->expect_seen)
            cat(out->verdict, ", expected message after %s",
                fmt_dur(d, sizeof(d), a->t_expect_us - a->t_start_us));
        else
            cat(out->verdict, ", waiting for '%s'", p->expect_message);
    }
    if (a->ended)
        cat(out->verdict, ", closed by us after %s open", fmt_dur(d, sizeof(d), a->open_for_us));
}

/* No cause from the engine: an attempt in progress, or one we ended ourselves. */
static void diag_no_cause(const struct model_attempt *a, const struct diag_policy *p,
                          struct diag_verdict *out)
{
    bool expect_missing = p && p->expect_message && !a->expect_seen;

    if (a->reached < EVT_PH_OPEN) {
        set(out, DIAG_HEALTHY, EVT_CAUSE_NONE, EVT_PH_NONE);
        if (a->ended)
            cat(out->verdict, "stopped by us while connecting (reached %s)",
                evt_phase_name(a->reached));
        else
            cat(out->verdict, "connecting (reached %s)", evt_phase_name(a->reached));
        return;
    }
    if (!a->ended) {
        /* live: only late once an event shows the window has passed */
        if (expect_missing && p->expect_within_us > 0 &&
            a->t_last_us - a->t_open_us > p->expect_within_us)
            diag_no_first_message(a, p, out);
        else
            diag_healthy(a, p, out);
        return;
    }
    if (expect_missing)
        diag_no_first_message(a, p, out);
    else if ((p && p->want_pings && a->pings_sent > a->pongs) || a->by == EVT_BY_TIMEOUT)
        diag_ping_timeout(a, out);
    else
        diag_healthy(a, p, out);
}

void diag_policy_of(const struct cfg_ep *ep, int64_t now_wall_s, struct diag_policy *p)
{
    memset(p, 0, sizeof(*p));
    p->now_wall_s = now_wall_s;
    if (!ep)
        return;
    p->host = ep->u.host;
    p->port = ep->u.port;
    p->proxy = ep->proxy;
    p->expect_message = ep->expect_message;
    p->expect_within_us = ep->expect_within_ms * 1000;
    p->want_pings = ep->ping_ms > 0;
}

void diag_attempt(const struct model_attempt *a, const struct diag_policy *p,
                  struct diag_verdict *out)
{
    enum evt_cause cause;

    memset(out, 0, sizeof(*out));
    if (!a || a->seq == 0) {
        set(out, DIAG_HEALTHY, EVT_CAUSE_NONE, EVT_PH_NONE);
        cat(out->verdict, "not started");
        return;
    }
    cause = a->cause;
    if (cause == EVT_CAUSE_NONE && a->ended) {
        /* the engine names a cause for every failure; infer one if it did not */
        if (a->by == EVT_BY_SERVER && a->close_frame)
            cause = EVT_CAUSE_CLOSE_FRAME;
        else if (a->by == EVT_BY_SERVER || a->by == EVT_BY_NETWORK)
            cause = a->transport == EVT_TR_RESET ? EVT_CAUSE_RESET : EVT_CAUSE_EOF;
        else if (a->by == EVT_BY_TIMEOUT && a->reached < EVT_PH_OPEN)
            cause = EVT_CAUSE_HANDSHAKE_TIMEOUT;
    }

    /* through --proxy, lws reports the CONNECT tunnel's failures as "proxy ..." */
    if (p && p->proxy && !a->http && !strncmp(a->detail, "proxy", 5) &&
        (cause == EVT_CAUSE_HTTP_STATUS || cause == EVT_CAUSE_EOF || cause == EVT_CAUSE_RESET)) {
        if (cause == EVT_CAUSE_HTTP_STATUS) {
            set(out, DIAG_HTTP_STATUS, cause, EVT_PH_TCP);
            cat(out->verdict,
                "the proxy %s refused the tunnel to %s:%d (its answer to CONNECT "
                "was not 200)",
                p->proxy, p->host ? p->host : "?", p->port);
            cat(out->hint, "check the proxy's access rules for this host and port, and its "
                           "credentials");
        } else {
            set(out, DIAG_CLOSED_BEFORE_OPEN, cause, EVT_PH_TCP);
            cat(out->verdict,
                "the proxy %s closed the connection while the tunnel was set up "
                "(%s)",
                p->proxy, a->detail);
            cat(out->hint, "check that %s is an HTTP proxy that allows CONNECT", p->proxy);
        }
        return;
    }

    switch (cause) {
    case EVT_CAUSE_NONE:
        diag_no_cause(a, p, out);
        break;
    case EVT_CAUSE_NXDOMAIN:
    case EVT_CAUSE_DNS_SERVFAIL:
    case EVT_CAUSE_DNS_TIMEOUT:
        diag_dns(a, p, out);
        break;
    case EVT_CAUSE_REFUSED:
    case EVT_CAUSE_CONNECT_TIMEOUT:
    case EVT_CAUSE_UNREACHABLE:
        diag_tcp(a, p, out);
        break;
    case EVT_CAUSE_TLS_EXPIRED:
    case EVT_CAUSE_TLS_NOT_YET_VALID:
    case EVT_CAUSE_TLS_HOSTNAME:
    case EVT_CAUSE_TLS_SELF_SIGNED:
    case EVT_CAUSE_TLS_UNTRUSTED:
    case EVT_CAUSE_TLS_PROTOCOL:
        diag_tls(a, p, out);
        break;
    case EVT_CAUSE_HTTP_STATUS:
    case EVT_CAUSE_REDIRECT:
    case EVT_CAUSE_BAD_ACCEPT:
        diag_http(a, out);
        break;
    case EVT_CAUSE_HANDSHAKE_TIMEOUT:
        diag_handshake_timeout(a, cause, out);
        break;
    case EVT_CAUSE_NO_FIRST_MESSAGE:
        diag_no_first_message(a, p, out);
        break;
    case EVT_CAUSE_PING_TIMEOUT:
        diag_ping_timeout(a, out);
        break;
    case EVT_CAUSE_CLOSE_FRAME:
        diag_close_frame(a, out);
        break;
    case EVT_CAUSE_RESET:
    case EVT_CAUSE_EOF:
    default:
        diag_transport(a, cause, out);
        break;
    }
    utf8_trim(out->verdict);
    utf8_trim(out->hint);
}

/* ---- verdicts over several attempts --------------------------------------------- */

_Static_assert(DIAG_BACKEND_NAME_MAX == MODEL_BACKEND_MAX, "backend names are copied whole");

/* "60.0": seconds, rounded to tenths (us >= 0). */
static const char *fmt_tenths(char *buf, size_t size, int64_t us)
{
    int64_t t = (us + 50000) / 100000;

    snprintf(buf, size, "%" PRId64 ".%" PRId64, t / 10, t % 10);
    return buf;
}

/* The same without a trailing ".0", for hints: "60", "4.5". */
static const char *fmt_tenths_short(char *buf, size_t size, int64_t us)
{
    int64_t t = (us + 50000) / 100000;

    if (t % 10 == 0)
        snprintf(buf, size, "%" PRId64, t / 10);
    else
        snprintf(buf, size, "%" PRId64 ".%" PRId64, t / 10, t % 10);
    return buf;
}

/* The verdict of a check that found nothing: healthy as far as it goes. */
static void found_nothing(struct diag_verdict *out)
{
    set(out, DIAG_HEALTHY, EVT_CAUSE_NONE, EVT_PH_NONE);
    out->ok = true;
}

/* Class, cause and failing phase of an ended attempt from its brief record: what
 * diag_attempt decides from the full one (upgrade-missing is told by the status alone).
 * tls: the connection's URL is wss://. */
static enum diag_class end_class(const struct model_end *h, bool tls, enum evt_cause *cause_out,
                                 enum evt_phase *phase_out)
{
    bool open = h->open_for_us >= 0;
    enum evt_cause cause = h->cause;
    enum diag_class cls;
    enum evt_phase ph;

    if (cause == EVT_CAUSE_NONE) {
        /* as diag_attempt infers it; "server" means a close frame came */
        if (h->by == EVT_BY_SERVER && open)
            cause = EVT_CAUSE_CLOSE_FRAME;
        else if (h->by == EVT_BY_SERVER || h->by == EVT_BY_NETWORK)
            cause = EVT_CAUSE_EOF;
        else if (h->by == EVT_BY_TIMEOUT)
            cause = open ? EVT_CAUSE_PING_TIMEOUT : EVT_CAUSE_HANDSHAKE_TIMEOUT;
    }
    switch (cause) {
    case EVT_CAUSE_NONE:
        cls = DIAG_HEALTHY;
        ph = EVT_PH_NONE;
        break;
    case EVT_CAUSE_NXDOMAIN:
    case EVT_CAUSE_DNS_SERVFAIL:
    case EVT_CAUSE_DNS_TIMEOUT:
        cls = DIAG_DNS_FAILED;
        ph = EVT_PH_DNS;
        break;
    case EVT_CAUSE_REFUSED:
        cls = DIAG_TCP_REFUSED;
        ph = EVT_PH_TCP;
        break;
    case EVT_CAUSE_CONNECT_TIMEOUT:
    case EVT_CAUSE_UNREACHABLE:
        cls = DIAG_TCP_TIMEOUT;
        ph = EVT_PH_TCP;
        break;
    case EVT_CAUSE_TLS_EXPIRED:
    case EVT_CAUSE_TLS_NOT_YET_VALID:
        cls = DIAG_TLS_EXPIRED;
        ph = EVT_PH_TLS;
        break;
    case EVT_CAUSE_TLS_HOSTNAME:
        cls = DIAG_TLS_HOSTNAME;
        ph = EVT_PH_TLS;
        break;
    case EVT_CAUSE_TLS_SELF_SIGNED:
    case EVT_CAUSE_TLS_UNTRUSTED:
        cls = DIAG_TLS_UNTRUSTED;
        ph = EVT_PH_TLS;
        break;
    case EVT_CAUSE_TLS_PROTOCOL:
        cls = DIAG_TLS_FAILED;
        ph = EVT_PH_TLS;
        break;
    case EVT_CAUSE_HTTP_STATUS:
        cls =
            h->http_status >= 200 && h->http_status < 400 ? DIAG_UPGRADE_MISSING : DIAG_HTTP_STATUS;
        ph = EVT_PH_UPGRADE;
        break;
    case EVT_CAUSE_REDIRECT:
        cls = DIAG_UPGRADE_MISSING;
        ph = EVT_PH_UPGRADE;
        break;
    case EVT_CAUSE_BAD_ACCEPT:
        cls = DIAG_BAD_ACCEPT;
        ph = EVT_PH_UPGRADE;
        break;
    case EVT_CAUSE_HANDSHAKE_TIMEOUT:
        cls = DIAG_HANDSHAKE_TIMEOUT;
        ph = phase_after_reached(h->reached, tls);
        break;
    case EVT_CAUSE_NO_FIRST_MESSAGE:
        cls = DIAG_NO_FIRST_MESSAGE;
        ph = EVT_PH_OPEN;
        break;
    case EVT_CAUSE_PING_TIMEOUT:
        cls = DIAG_PING_TIMEOUT;
        ph = EVT_PH_OPEN;
        break;
    case EVT_CAUSE_CLOSE_FRAME:
        cls = DIAG_CLOSED_BY_SERVER;
        ph = EVT_PH_OPEN;
        break;
    case EVT_CAUSE_RESET:
    case EVT_CAUSE_EOF:
    default:
        cls = open ? DIAG_ABNORMAL_CLOSE : DIAG_CLOSED_BEFORE_OPEN;
        ph = open ? EVT_PH_OPEN : phase_after_reached(h->reached, tls);
        break;
    }
    *cause_out = cause;
    *phase_out = ph;
    return cls;
}

/* The ended attempts of several connections, newest first across them: rank 0 (the newest)
 * of every connection, then rank 1, and so on; DIAG_SAMPLES_MAX at most. */
struct end_iter {
    const struct model_conn *const *conns;
    size_t n, next;
    uint32_t rank;
    bool rank_found; /* the current rank had an attempt on some connection */
    size_t seen;
};

static void end_iter_init(struct end_iter *it, const struct model_conn *const *conns, size_t n)
{
    memset(it, 0, sizeof(*it));
    it->conns = conns;
    it->n = conns ? n : 0;
}

static const struct model_end *end_next(struct end_iter *it, const struct model_conn **conn)
{
    while (it->rank < MODEL_HIST && it->seen < DIAG_SAMPLES_MAX) {
        while (it->next < it->n) {
            const struct model_conn *c = it->conns[it->next++];
            const struct model_end *h = c ? model_end_get(c, it->rank) : NULL;

            if (h) {
                it->rank_found = true;
                it->seen++;
                *conn = c;
                return h;
            }
        }
        if (!it->rank_found)
            break; /* no connection has this many */
        it->rank_found = false;
        it->next = 0;
        it->rank++;
    }
    return NULL;
}

struct sample {
    int64_t dur_us; /* open for */
    int64_t t_open_us, t_end_us;
    int code;
    enum evt_by by;
    enum evt_cause cause;
    enum diag_class cls;
};

static int cmp_dur(const void *x, const void *y)
{
    int64_t a = ((const struct sample *)x)->dur_us, b = ((const struct sample *)y)->dur_us;

    return (a > b) - (a < b);
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

    return (a > b) - (a < b);
}

/* Median of the sorted durations s[i..j]; the mean of the middle two when even. */
static int64_t median_dur(const struct sample *s, size_t i, size_t j)
{
    size_t cnt = j - i + 1, mid = i + cnt / 2;

    if (cnt % 2)
        return s[mid].dur_us;
    return s[mid - 1].dur_us + (s[mid].dur_us - s[mid - 1].dur_us) / 2;
}

static int64_t idle_tol_us(int64_t median_us)
{
    int64_t pct = median_us / 100 * DIAG_IDLE_TOL_PCT + median_us % 100 * DIAG_IDLE_TOL_PCT / 100;

    return pct > DIAG_IDLE_TOL_US ? pct : DIAG_IDLE_TOL_US;
}

/* The most common (code, by) of s[i..j]; the first met wins a tie. */
static const struct sample *common_end(const struct sample *s, size_t i, size_t j)
{
    const struct sample *best = &s[i];
    size_t best_n = 0;

    for (size_t x = i; x <= j; x++) {
        size_t cnt = 0;

        for (size_t y = i; y <= j; y++)
            cnt += s[y].code == s[x].code && s[y].by == s[x].by;
        if (cnt > best_n) {
            best_n = cnt;
            best = &s[x];
        }
    }
    return best;
}

/* The most common cause (classes too: with_cls) of s[i..j]; the first met wins a tie. */
static const struct sample *common_cause(const struct sample *s, size_t i, size_t j, bool with_cls)
{
    uint32_t by_cause[EVT_CAUSE_COUNT] = {0}, by_cls[DIAG_CLASS_COUNT] = {0};
    const struct sample *best = &s[i];
    uint32_t best_n = 0;

    for (size_t x = i; x <= j; x++) {
        if ((unsigned)s[x].cause < EVT_CAUSE_COUNT)
            by_cause[s[x].cause]++;
        if ((unsigned)s[x].cls < DIAG_CLASS_COUNT)
            by_cls[s[x].cls]++;
    }
    for (size_t x = i; x <= j; x++) {
        uint32_t cnt = with_cls
                           ? ((unsigned)s[x].cls < DIAG_CLASS_COUNT ? by_cls[s[x].cls] : 0)
                           : ((unsigned)s[x].cause < EVT_CAUSE_COUNT ? by_cause[s[x].cause] : 0);

        if (cnt > best_n) {
            best_n = cnt;
            best = &s[x];
        }
    }
    return best;
}

double diag_idle_timeout(const struct model_conn *const *conns, size_t n, struct diag_verdict *out)
{
    struct sample s[DIAG_SAMPLES_MAX];
    const struct model_conn *c;
    const struct model_end *h;
    const struct sample *common;
    struct end_iter it;
    size_t k = 0, best_i = 0, best_n = 0;
    int64_t best_spread = 0, med;
    char d[32], ds[32];

    if (out)
        memset(out, 0, sizeof(*out));
    end_iter_init(&it, conns, n);
    while ((h = end_next(&it, &c))) {
        enum evt_phase ph;

        if (!h->quiet || h->open_for_us < 0 || (h->by != EVT_BY_NETWORK && h->by != EVT_BY_SERVER))
            continue;
        memset(&s[k], 0, sizeof(s[k]));
        s[k].dur_us = h->open_for_us;
        s[k].code = h->code;
        s[k].by = h->by;
        s[k].cls = end_class(h, c->cur.tls, &s[k].cause, &ph);
        k++;
    }
    if (k > 1)
        qsort(s, k, sizeof(s[0]), cmp_dur);

    /* the largest window of the sorted durations within tolerance of its median (then the
     * tightest); k <= DIAG_SAMPLES_MAX keeps this quadratic search cheap */
    for (size_t i = 0; i + DIAG_IDLE_MIN_CLOSES <= k; i++) {
        for (size_t j = i + DIAG_IDLE_MIN_CLOSES - 1; j < k; j++) {
            int64_t m = median_dur(s, i, j), tol = idle_tol_us(m);
            size_t cnt = j - i + 1;

            if (m < DIAG_IDLE_MIN_US || s[i].dur_us < m - tol || s[j].dur_us > m + tol)
                continue;
            if (cnt > best_n || (cnt == best_n && s[j].dur_us - s[i].dur_us < best_spread)) {
                best_n = cnt;
                best_i = i;
                best_spread = s[j].dur_us - s[i].dur_us;
            }
        }
    }

    if (best_n == 0) {
        if (!out)
            return -1.0;
        found_nothing(out);
        if (k == 0)
            cat(out->verdict, "no idle timeout seen: no idle connection was closed");
        else if (k < DIAG_IDLE_MIN_CLOSES)
            cat(out->verdict, "no idle timeout seen: %zu idle connection%s closed, %d needed", k,
                k == 1 ? "" : "s", DIAG_IDLE_MIN_CLOSES);
        else
            cat(out->verdict,
                "no idle timeout seen: %zu idle connections closed at scattered "
                "durations",
                k);
        return -1.0;
    }

    med = median_dur(s, best_i, best_i + best_n - 1);
    if (!out)
        return (double)med / 1e6;
    common = common_end(s, best_i, best_i + best_n - 1);
    set(out, DIAG_IDLE_TIMEOUT, common_cause(s, best_i, best_i + best_n - 1, false)->cause,
        EVT_PH_OPEN);
    fmt_tenths(d, sizeof(d), med);
    fmt_tenths_short(ds, sizeof(ds), med);
    cat(out->verdict, "%zu idle connections closed after %s s: %s (%d by %s)", best_n, d,
        common->by == EVT_BY_SERVER ? "an idle timeout in the server or a proxy"
                                    : "a load balancer idle timeout",
        common->code, evt_by_name(common->by));
    if (common->by == EVT_BY_SERVER)
        cat(out->hint,
            "the server or a proxy closes connections idle for about %s s: keep "
            "--ping below %s s, or raise the idle timeout",
            ds, ds);
    else
        cat(out->hint,
            "a load balancer or proxy idle timeout of about %s s cuts connections "
            "that carry no traffic: keep --ping below %s s, or raise the idle timeout",
            ds, ds);
    return (double)med / 1e6;
}

/* "2 min" or "45 s", rounded up. */
static const char *fmt_span(char *buf, size_t size, int64_t us)
{
    int64_t sec = (us + 999999) / 1000000;

    if (sec < 1)
        sec = 1;
    if (sec < 60)
        snprintf(buf, size, "%" PRId64 " s", sec);
    else
        snprintf(buf, size, "%" PRId64 " min", (sec + 59) / 60);
    return buf;
}

bool diag_flapping(const struct model_conn *const *conns, size_t n, struct diag_verdict *out)
{
    struct sample s[DIAG_SAMPLES_MAX];
    int64_t dur[DIAG_SAMPLES_MAX];
    const struct model_conn *c;
    const struct model_end *h;
    const struct sample *common;
    struct end_iter it;
    int64_t newest = INT64_MIN, first_open = INT64_MAX, last_end = INT64_MIN, med;
    size_t k = 0;
    char d[32], span[32];

    if (out)
        memset(out, 0, sizeof(*out));
    end_iter_init(&it, conns, n);
    while ((h = end_next(&it, &c)))
        if (h->t_end_us > newest)
            newest = h->t_end_us;

    end_iter_init(&it, conns, n);
    while ((h = end_next(&it, &c))) {
        enum evt_phase ph;
        struct sample *x = &s[k];

        if (h->open_for_us < 0 || h->open_for_us >= DIAG_FLAP_OPEN_MAX_US ||
            h->t_end_us - h->open_for_us < newest - DIAG_FLAP_WINDOW_US)
            continue;
        memset(x, 0, sizeof(*x));
        x->cls = end_class(h, c->cur.tls, &x->cause, &ph);
        if (x->cls == DIAG_HEALTHY)
            continue; /* a clean close of ours is no drop */
        x->dur_us = h->open_for_us;
        x->t_open_us = h->t_end_us - h->open_for_us;
        x->t_end_us = h->t_end_us;
        x->code = h->code;
        x->by = h->by;
        dur[k] = x->dur_us;
        if (x->t_open_us < first_open)
            first_open = x->t_open_us;
        if (x->t_end_us > last_end)
            last_end = x->t_end_us;
        k++;
    }

    if (k < DIAG_FLAP_MIN) {
        if (out) {
            found_nothing(out);
            cat(out->verdict,
                "not flapping: %zu connection%s dropped within %s s of opening in "
                "the last %d min",
                k, k == 1 ? "" : "s", fmt_tenths_short(d, sizeof(d), DIAG_FLAP_OPEN_MAX_US),
                (int)(DIAG_FLAP_WINDOW_US / 60000000));
        }
        return false;
    }
    if (!out)
        return true;

    qsort(dur, k, sizeof(dur[0]), cmp_i64);
    med = k % 2 ? dur[k / 2] : dur[k / 2 - 1] + (dur[k / 2] - dur[k / 2 - 1]) / 2;
    common = common_cause(s, 0, k - 1, true);
    set(out, common->cls, common_cause(s, 0, k - 1, false)->cause, EVT_PH_OPEN);
    cat(out->verdict, "flapping: %zu connections opened and dropped within %s (median %s s open)",
        k, fmt_span(span, sizeof(span), last_end - first_open), fmt_tenths(d, sizeof(d), med));
    common = common_end(s, 0, k - 1);
    cat(out->hint,
        "connections drop soon after opening (mostly %d by %s): check the server logs "
        "at these times for crashes, restarts or rejected sessions, and the load balancer's "
        "target health",
        common->code, evt_by_name(common->by) ? evt_by_name(common->by) : "?");
    return true;
}

/* The entry for a backend name, added when new; NULL when b[] is full. */
static struct diag_backend *backend_slot(struct diag_backend *b, size_t *nb, size_t max_b,
                                         const char *name)
{
    size_t len = strnlen(name, DIAG_BACKEND_NAME_MAX - 1);
    struct diag_backend *e;

    for (size_t i = 0; i < *nb; i++)
        if (strncmp(b[i].backend, name, len) == 0 && b[i].backend[len] == '\0')
            return &b[i];
    if (*nb >= max_b)
        return NULL;
    e = &b[(*nb)++];
    memset(e, 0, sizeof(*e));
    memcpy(e->backend, name, len);
    e->backend[len] = '\0';
    e->last_cause = EVT_CAUSE_NONE;
    e->last_class = DIAG_HEALTHY;
    e->last_failed_in = EVT_PH_NONE;
    e->last_fail_us = -1;
    return e;
}

/* "203.0.113.7:443 (5/5 attempts closed-before-open)" */
static void cat_backend(char *buf, const struct diag_backend *e)
{
    cat(buf, "%s (%" PRIu32 "/%" PRIu32 " attempts ", e->backend, e->failures, e->attempts);
    if (e->mixed)
        cat(buf, "failed, last %s)", diag_class_name(e->last_class));
    else
        cat(buf, "%s)", diag_class_name(e->last_class));
}

size_t diag_backends(const struct model_conn *const *conns, size_t n, struct diag_backend *b,
                     size_t max_b, struct diag_verdict *out)
{
    const struct model_conn *c;
    const struct model_end *h;
    const struct diag_backend *worst = NULL;
    struct end_iter it;
    size_t nb = 0, n_fail = 0;
    uint32_t attempts = 0, failures = 0;

    if (out)
        memset(out, 0, sizeof(*out));
    if (!b)
        max_b = 0;
    /* live attempts that are open: a backend serving now */
    for (size_t i = 0; conns && i < n; i++) {
        struct diag_backend *e;

        c = conns[i];
        if (!c || c->cur.seq == 0 || c->cur.ended || c->cur.reached != EVT_PH_OPEN ||
            !c->backend[0])
            continue;
        e = backend_slot(b, &nb, max_b, c->backend);
        if (e)
            e->attempts++;
    }
    end_iter_init(&it, conns, n);
    while ((h = end_next(&it, &c))) {
        struct diag_backend *e;
        enum diag_class cls;
        enum evt_cause cause;
        enum evt_phase ph;

        if (h->reached < EVT_PH_TCP || !h->backend[0])
            continue; /* no backend served it */
        e = backend_slot(b, &nb, max_b, h->backend);
        if (!e)
            continue;
        e->attempts++;
        cls = end_class(h, c->cur.tls, &cause, &ph);
        if (cls == DIAG_HEALTHY)
            continue;
        e->failures++;
        if (e->failures > 1 && cls != e->last_class)
            e->mixed = true;
        if (h->t_end_us >= e->last_fail_us) {
            e->last_fail_us = h->t_end_us;
            e->last_cause = cause;
            e->last_class = cls;
            e->last_failed_in = ph;
        }
    }
    if (!out)
        return nb;

    for (size_t i = 0; i < nb; i++) {
        attempts += b[i].attempts;
        failures += b[i].failures;
        if (b[i].failures == 0)
            continue;
        n_fail++;
        if (!worst || b[i].last_fail_us > worst->last_fail_us)
            worst = &b[i];
    }
    if (!worst) {
        found_nothing(out);
        if (nb == 0)
            cat(out->verdict, "no backend identified yet");
        else
            cat(out->verdict, "%zu backend%s, none failing (%" PRIu32 " attempt%s)", nb,
                nb == 1 ? "" : "s", attempts, attempts == 1 ? "" : "s");
        return nb;
    }

    set(out, worst->last_class, worst->last_cause, worst->last_failed_in);
    if (nb == 1) {
        cat(out->verdict, "the only backend seen fails: ");
        cat_backend(out->verdict, worst);
        cat(out->hint, "one backend seen: nothing to compare it with (--connections N may reach "
                       "others)");
    } else if (n_fail == 1) {
        cat(out->verdict, "1 of %zu backends fails: ", nb);
        cat_backend(out->verdict, worst);
        cat(out->hint,
            "one target is bad while the others are healthy: check %s (its health, "
            "logs and version), or take it out of the load balancer's pool",
            worst->backend);
    } else if (n_fail == nb) {
        cat(out->verdict,
            "all %zu backends fail (%" PRIu32 "/%" PRIu32 " attempts): not a single "
            "bad target",
            nb, failures, attempts);
        cat(out->hint, "every target fails: look at what they share: the load balancer, the "
                       "network path, the service's own dependencies");
    } else {
        const char *sep = ": ";

        cat(out->verdict, "%zu of %zu backends fail", n_fail, nb);
        for (size_t i = 0; i < nb; i++) {
            if (b[i].failures == 0)
                continue;
            cat(out->verdict, "%s", sep);
            cat_backend(out->verdict, &b[i]);
            sep = ", ";
        }
        cat(out->hint, "some targets fail while others are healthy: compare the failing ones "
                       "with the healthy ones (health, version, configuration)");
    }
    utf8_trim(out->verdict);
    utf8_trim(out->hint);
    return nb;
}

/* ---- groups: via = lb against via = direct ----------------------------------------- */

enum path_state { PATH_NONE, PATH_OK, PATH_FAIL };

struct path {
    enum path_state st;
    const struct diag_group_member *fail; /* the first failing member */
};

static struct path path_of(const struct diag_group_member *m, size_t n, enum cfg_via via)
{
    struct path p = {PATH_NONE, NULL};

    for (size_t i = 0; m && i < n; i++) {
        const struct diag_verdict *v = m[i].v;

        if (m[i].via != via || !v)
            continue;
        if (!v->ok && v->cls != DIAG_HEALTHY) {
            if (!p.fail)
                p.fail = &m[i];
            p.st = PATH_FAIL;
        } else if (v->ok && p.st == PATH_NONE) {
            p.st = PATH_OK;
        }
    }
    return p;
}

/* "(http-status 502)": the cause (else the class) and the HTTP status when there is one. */
static void cat_evidence(char *buf, const struct diag_group_member *m)
{
    const char *what = evt_cause_name(m->v->cause);

    cat(buf, "(%s", what ? what : diag_class_name(m->v->cls));
    if (m->http_status >= 200)
        cat(buf, " %d", m->http_status);
    cat(buf, ")");
}

/* "the load balancer path (alb) fails in upgrade (http-status 502)" */
static void cat_path_fails(char *buf, const char *path, const struct diag_group_member *m)
{
    cat(buf, "the %s path", path);
    if (m->name && m->name[0])
        cat(buf, " (%s)", m->name);
    cat(buf, " fails in %s ", evt_phase_name(m->v->failed_in));
    cat_evidence(buf, m);
}

static void take(struct diag_verdict *out, const struct diag_group_member *m)
{
    set(out, m->v->cls, m->v->cause, m->v->failed_in);
}

static const char *lb_hint(enum evt_phase failed_in)
{
    switch (failed_in) {
    case EVT_PH_DNS:
        return "look at the load balancer's DNS name (its record and alias target)";
    case EVT_PH_TCP:
        return "look at the load balancer (listener port, security group, subnets)";
    case EVT_PH_TLS:
        return "look at the load balancer's TLS listener and its certificate";
    default:
        return "look at the load balancer (target group health, listener rules, idle timeout)";
    }
}

void diag_group(const struct diag_group_member *members, size_t n, struct diag_verdict *out)
{
    struct path lb = path_of(members, n, CFG_VIA_LB);
    struct path direct = path_of(members, n, CFG_VIA_DIRECT);

    memset(out, 0, sizeof(*out));
    if (lb.st == PATH_FAIL && direct.st == PATH_FAIL) {
        const struct diag_verdict *lv = lb.fail->v, *dv = direct.fail->v;

        take(out, direct.fail);
        if (lv->failed_in == EVT_PH_TCP && dv->failed_in == EVT_PH_TCP) {
            cat(out->verdict, "both paths fail in tcp: the network path or the server");
            cat(out->hint, "neither the load balancer nor the server takes the connection: check "
                           "that the server is up and listening, and the security groups, "
                           "firewalls and routes on the way");
        } else if (lv->failed_in == dv->failed_in) {
            cat(out->verdict, "both paths fail in %s: %s", evt_phase_name(dv->failed_in),
                dv->verdict);
            cat(out->hint, "%s",
                dv->hint[0] ? dv->hint : "the fault is behind both paths: in the server");
        } else {
            cat(out->verdict, "both paths fail, differently: the load balancer path in %s ",
                evt_phase_name(lv->failed_in));
            cat_evidence(out->verdict, lb.fail);
            cat(out->verdict, ", the direct path in %s ", evt_phase_name(dv->failed_in));
            cat_evidence(out->verdict, direct.fail);
            cat(out->hint, "two faults: fix the server first (what the direct path shows), then "
                           "look at the load balancer");
        }
    } else if (lb.st == PATH_FAIL && direct.st == PATH_OK) {
        take(out, lb.fail);
        cat_path_fails(out->verdict, "load balancer", lb.fail);
        cat(out->verdict, " while the direct path is healthy");
        cat(out->hint, "%s", lb_hint(lb.fail->v->failed_in));
    } else if (direct.st == PATH_FAIL && lb.st == PATH_OK) {
        take(out, direct.fail);
        cat_path_fails(out->verdict, "direct", direct.fail);
        cat(out->verdict, " while the load balancer path is healthy");
        cat(out->hint, "the service answers through the load balancer: check the direct address "
                       "and port, and that its security group admits this host");
    } else if (lb.st == PATH_FAIL || direct.st == PATH_FAIL) {
        const struct diag_group_member *m = lb.st == PATH_FAIL ? lb.fail : direct.fail;

        take(out, m);
        cat_path_fails(out->verdict, m == lb.fail ? "load balancer" : "direct", m);
        cat(out->verdict, "; no %s path to compare", m == lb.fail ? "direct" : "load balancer");
        cat(out->hint, "%s", m->v->hint);
    } else if (lb.st == PATH_OK && direct.st == PATH_OK) {
        found_nothing(out);
        cat(out->verdict, "the load balancer path and the direct path are both healthy");
    } else {
        found_nothing(out);
        cat(out->verdict, "nothing to compare yet: the group needs a via = lb and a via = direct "
                          "endpoint with a result");
    }
    utf8_trim(out->verdict);
    utf8_trim(out->hint);
}
