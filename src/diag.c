/* SPDX-License-Identifier: MIT */
/* Diagnosis: from one attempt record to a class, a one-line verdict and a hint (pure). */
#include "config.h"

#include "diag.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
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

/* The phase that was under way when an attempt stopped before open. */
static enum evt_phase phase_after(const struct model_attempt *a)
{
    switch (a->reached) {
    case EVT_PH_NONE:
    case EVT_PH_DNS:
        return EVT_PH_TCP;
    case EVT_PH_TCP:
        return a->tls ? EVT_PH_TLS : EVT_PH_UPGRADE;
    case EVT_PH_TLS:
        return EVT_PH_UPGRADE;
    default:
        return EVT_PH_OPEN;
    }
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
    const struct evt_tls *t = &a->tls_info;
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
    const struct evt_http *h = &a->http;
    int st = a->have_http ? h->status : 0;
    const struct status_text *s = NULL;

    if (a->cause == EVT_CAUSE_REDIRECT) {
        /* DESIGN 5: a 3xx without Upgrade is upgrade-missing; the cause says why */
        set(out, DIAG_UPGRADE_MISSING, a->cause, EVT_PH_UPGRADE);
        cat(out->verdict, "redirected with %d to %s (not followed)", st,
            h->location[0] ? h->location : "no location");
        cat(out->hint, "point wsmon at the new location");
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
    else if (a->have_http)
        cat(out->verdict, "after the %d response, before open", a->http.status);
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
static const char *insecure_finding(const struct evt_tls *t)
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
    if (a->have_tls && a->tls_info.insecure)
        cat(out->verdict, " (TLS NOT verified: --insecure; %s)", insecure_finding(&a->tls_info));
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
