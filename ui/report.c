/* SPDX-License-Identifier: MIT */
/* Probe results as text and as the JSON contract of DESIGN section 3.1. */
#include "config.h"

#include "report.h"

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "diag.h"
#include "evt.h"
#include "json.h"
#include "model.h"
#include "san.h"

/* A fixed-size char array from an event, never read past its end even without a NUL. */
/* The size of a char array; a pointer does not compile (its sizeof would cut strings short). */
#define ARRAY_BYTES(a)                                                                             \
    (sizeof(a) +                                                                                   \
     0 * sizeof(char[1 - 2 * __builtin_types_compatible_p(__typeof__(a), __typeof__(&(a)[0]))]))
#define FIXED(field) (field), strnlen((field), ARRAY_BYTES(field))
#define STR(s)       (s), strlen(s)

/* ---- JSON ------------------------------------------------------------------------------ */

/* key: the string in a fixed buffer; "" is null when empty_null. */
static void put_fixed(struct json *j, const char *key, const char *s, size_t size, bool empty_null)
{
    size_t n = strnlen(s, size);

    json_key(j, key);
    if (n == 0 && empty_null)
        json_null(j);
    else
        json_strn(j, s, n);
}

/* key: microseconds as milliseconds with 3 decimals; negative ("not reached") is null. */
static void put_ms(struct json *j, const char *key, int64_t us)
{
    json_key(j, key);
    if (us < 0)
        json_null(j);
    else
        json_num(j, (double)us / 1000.0, 3);
}

/* ISO 8601 UTC "YYYY-MM-DDTHH:MM:SSZ"; false when it cannot be represented. */
static bool iso_utc(int64_t s, char *out, size_t outlen)
{
    time_t t = (time_t)s;
    struct tm tm;

    if ((int64_t)t != s || !gmtime_r(&t, &tm))
        return false;
    return strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0;
}

static void json_timings(struct json *j, const struct model_attempt *a)
{
    json_key(j, "timings_ms");
    json_obj_begin(j);
    put_ms(j, "dns", a->dns_us);
    put_ms(j, "tcp", a->tcp_us);
    put_ms(j, "tls", a->tls_us);
    put_ms(j, "upgrade", a->upgrade_us);
    put_ms(j, "open", a->open_us);
    put_ms(j, "first_message", a->first_message_us);
    put_ms(j, "total", a->total_us);
    json_obj_end(j);
}

static void json_http(struct json *j, const struct model_attempt *a)
{
    const struct model_http *h = model_http_of(a);
    int n = h->n_cookies;

    json_key(j, "http");
    if (!a->http) {
        json_null(j);
        return;
    }
    json_obj_begin(j);
    json_key(j, "status");
    if (h->status == 0)
        json_null(j);
    else
        json_int(j, h->status);
    put_fixed(j, "server", STR(h->server), true);
    put_fixed(j, "upgrade", STR(h->upgrade), true);
    put_fixed(j, "connection", STR(h->connection), true);
    json_key(j, "accept_ok");
    if (h->accept_ok < 0)
        json_null(j);
    else
        json_bool(j, h->accept_ok != 0);
    put_fixed(j, "location", STR(h->location), true);
    json_key(j, "sticky_cookies");
    json_arr_begin(j);
    if (n > EVT_COOKIES_MAX)
        n = EVT_COOKIES_MAX;
    for (int i = 0; i < n; i++)
        json_strn(j, STR(h->cookies[i]));
    json_arr_end(j);
    put_fixed(j, "backend", STR(h->backend), true);
    json_obj_end(j);
}

static void json_tls(struct json *j, const struct model_attempt *a, int64_t now_wall_s)
{
    const struct model_tls *t = model_tls_of(a);
    char when[32];

    json_key(j, "tls");
    if (!a->tls) {
        json_null(j);
        return;
    }
    json_obj_begin(j);
    if (!a->tls_info) {
        /* wss:// that failed before the handshake: the shape, no values */
        static const char *const keys[] = {"version", "cipher",    "verify",   "subject",
                                           "issuer",  "not_after", "days_left"};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            json_key(j, keys[i]);
            json_null(j);
        }
        json_key(j, "insecure");
        json_bool(j, false);
        json_obj_end(j);
        return;
    }
    put_fixed(j, "version", STR(t->version), true);
    put_fixed(j, "cipher", STR(t->cipher), true);
    json_key(j, "verify");
    json_str(j, evt_verify_name(t->verify));
    put_fixed(j, "subject", STR(t->subject), true);
    put_fixed(j, "issuer", STR(t->issuer), true);
    json_key(j, "not_after");
    if (t->not_after_s != 0 && iso_utc(t->not_after_s, when, sizeof(when)))
        json_str(j, when);
    else
        json_null(j);
    json_key(j, "days_left");
    if (t->not_after_s != 0)
        json_int(j, diag_days_left(t->not_after_s, now_wall_s));
    else
        json_null(j);
    json_key(j, "insecure");
    json_bool(j, t->insecure);
    json_obj_end(j);
}

static void json_close(struct json *j, const struct model_attempt *a)
{
    json_key(j, "close");
    if (!a->ended) {
        json_null(j);
        return;
    }
    json_obj_begin(j);
    json_key(j, "code");
    if (a->close_code == 0)
        json_null(j);
    else
        json_int(j, a->close_code);
    put_fixed(j, "reason", STR(a->close_reason), false);
    json_key(j, "by");
    json_str(j, evt_by_name(a->by));
    json_key(j, "frame");
    if (a->close_frame_unknown)
        json_null(j);
    else
        json_bool(j, a->close_frame);
    json_key(j, "transport");
    json_str(j, evt_transport_name(a->transport));
    put_ms(j, "open_for_ms", a->open_for_us);
    json_obj_end(j);
}

static void json_rtt(struct json *j, const struct model_attempt *a)
{
    bool have = a->rtt_n > 0;

    json_key(j, "rtt_ms");
    json_obj_begin(j);
    json_key(j, "samples");
    json_int(j, a->rtt_n);
    put_ms(j, "min", have ? (int64_t)a->rtt_min_us : -1);
    put_ms(j, "median", have ? model_rtt_median_us(a) : -1);
    put_ms(j, "max", have ? (int64_t)a->rtt_max_us : -1);
    json_obj_end(j);
}

static void json_messages(struct json *j, const struct model_attempt *a)
{
    uint32_t n = a->first_len;

    if (n > EVT_FIRST_MAX)
        n = EVT_FIRST_MAX;
    json_key(j, "messages");
    json_obj_begin(j);
    json_key(j, "in");
    json_int(j, (int64_t)a->msgs_in);
    json_key(j, "out");
    json_int(j, (int64_t)a->msgs_out);
    json_key(j, "bytes_in");
    json_int(j, (int64_t)a->bytes_in);
    json_key(j, "bytes_out");
    json_int(j, (int64_t)a->bytes_out);
    json_key(j, "first");
    if (a->msgs_in > 0)
        json_strn(j, a->first, n);
    else
        json_null(j);
    json_obj_end(j);
}

void report_json(struct json *j, const struct report *r)
{
    const struct model_attempt *a = r->a;
    const struct diag_verdict *v = r->v;

    json_obj_begin(j);
    json_key(j, "endpoint");
    json_str(j, r->endpoint);
    json_key(j, "url");
    json_str(j, r->url ? r->url : "");
    json_key(j, "ok");
    json_bool(j, v->ok);
    json_key(j, "class");
    json_str(j, diag_class_name(v->cls));
    json_key(j, "cause");
    json_str(j, evt_cause_name(v->cause));
    json_key(j, "failed_in");
    if (v->failed_in == EVT_PH_NONE)
        json_null(j);
    else
        json_str(j, evt_phase_name(v->failed_in));
    json_key(j, "reached");
    json_str(j, evt_phase_name(a->reached));
    json_key(j, "ready_state");
    json_int(j, a->ready_state);
    json_timings(j, a);
    put_fixed(j, "remote", STR(a->remote), true);
    json_http(j, a);
    json_tls(j, a, r->now_wall_s);
    json_close(j, a);
    json_rtt(j, a);
    json_messages(j, a);
    put_fixed(j, "verdict", FIXED(v->verdict), false);
    put_fixed(j, "hint", FIXED(v->hint), true);
    json_obj_end(j);
}

/* ---- text ------------------------------------------------------------------------------ */

/* Widest line, in columns. One short of 80 so that no terminal wraps on the last column. */
#define REPORT_COLS      79
#define REPORT_LABEL     "  %-10s " /* 13 columns */
#define REPORT_INDENT    13
#define REPORT_BAR       28
#define REPORT_VALUE_MAX 40 /* one header value, before it is cut */
#define REPORT_NAMES_MIN 40 /* certificate subject and issuer together */
#define REPORT_INSECURE  "NOT VERIFIED (--insecure)"

#define SGR_RESET "0"
#define SGR_DIM   "2"
#define SGR_OK    "1;32"
#define SGR_FAIL  "1;31"
#define SGR_WARN  "31"

/* One output line. Its text is counted in bytes, which is never fewer than the columns it
 * takes: escapes are ASCII, and UTF-8 characters two columns wide take three bytes or more. */
struct line {
    FILE *f;
    bool color;
    bool styled; /* an SGR sequence is in effect */
    size_t cols;
    size_t len;
    char buf[1024];
};

static void ln_start(struct line *l, FILE *f, bool color)
{
    l->f = f;
    l->color = color;
    l->styled = false;
    l->cols = 0;
    l->len = 0;
    l->buf[0] = '\0';
}

static size_t ln_room(const struct line *l)
{
    return l->cols < REPORT_COLS ? REPORT_COLS - l->cols : 0;
}

static void ln_put(struct line *l, const char *s, size_t n, bool visible)
{
    if (l->len + n >= sizeof(l->buf))
        return;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    l->buf[l->len] = '\0';
    if (visible)
        l->cols += n;
}

static void ln_sgr(struct line *l, const char *code)
{
    if (!l->color)
        return;
    ln_put(l, "\033[", 2, false);
    ln_put(l, code, strlen(code), false);
    ln_put(l, "m", 1, false);
    l->styled = strcmp(code, SGR_RESET) != 0;
}

/* Our own ASCII text, cut at the right edge. */
static void ln_lit(struct line *l, const char *s)
{
    size_t n = strlen(s), room = ln_room(l);

    ln_put(l, s, n < room ? n : room, true);
}

__attribute__((format(printf, 2, 3))) static void ln_fmt(struct line *l, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    ln_lit(l, tmp);
}

/* Text from the network (or anyone else): sanitised, at most max columns, cut with "...". */
static void ln_net(struct line *l, const char *s, size_t n, size_t max)
{
    char tmp[REPORT_COLS + 1];
    size_t room = ln_room(l), len;

    if (max > room)
        max = room;
    if (max == 0)
        return;
    len = san_term(s, n, tmp, max + 1);
    ln_put(l, tmp, len, true);
}

/* s in the SGR style code; NULL code: plain. */
static void ln_styled(struct line *l, const char *code, const char *s)
{
    if (code)
        ln_sgr(l, code);
    ln_lit(l, s);
    if (code)
        ln_sgr(l, SGR_RESET);
}

static void ln_label(struct line *l, const char *label)
{
    char tmp[32];

    snprintf(tmp, sizeof(tmp), REPORT_LABEL, label);
    ln_styled(l, SGR_DIM, tmp);
}

static void ln_end(struct line *l)
{
    if (l->styled)
        ln_sgr(l, SGR_RESET);
    /* trailing blanks are noise in a copied report */
    while (l->len > 0 && l->buf[l->len - 1] == ' ')
        l->len--;
    l->buf[l->len] = '\0';
    fputs(l->buf, l->f);
    fputc('\n', l->f);
    ln_start(l, l->f, l->color);
}

/* A continuation line: blank under the label. */
static void ln_indent(struct line *l)
{
    for (int i = 0; i < REPORT_INDENT; i++)
        ln_lit(l, " ");
}

/* Sanitised length of s, to share a line's room between several values. */
static size_t san_len(const char *s, size_t n)
{
    char tmp[REPORT_COLS * 2 + 1];

    return san_term(s, n, tmp, sizeof(tmp));
}

/* A value laid out in flowing "Name value" items, wrapping to a new indented line. */
struct item_flow {
    struct line *l;
    int items; /* on the current line */
};

static void flow_item(struct item_flow *fl, const char *name, const char *val, size_t n)
{
    struct line *l = fl->l;
    char tmp[REPORT_VALUE_MAX + 1];
    size_t vlen = san_term(val, n, tmp, sizeof(tmp));
    size_t need = (fl->items ? 2 : 0) + strlen(name) + (*name ? 1 : 0) + vlen;

    if (fl->items && need > ln_room(l)) {
        ln_end(l);
        ln_indent(l);
        fl->items = 0;
    }
    if (fl->items)
        ln_lit(l, "  ");
    if (*name) {
        ln_styled(l, SGR_DIM, name);
        ln_lit(l, " ");
    }
    ln_put(l, tmp, vlen < ln_room(l) ? vlen : ln_room(l), true);
    fl->items++;
}

static void fmt_ms(char *out, size_t outlen, int64_t us)
{
    if (us < 0)
        snprintf(out, outlen, "-");
    else
        snprintf(out, outlen, "%.3f ms", (double)us / 1000.0);
}

/* a + b for non-negative durations, saturating instead of overflowing on absurd input */
static int64_t add_us(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static size_t bar_col(int64_t t_us, int64_t span_us)
{
    if (t_us <= 0 || span_us <= 0)
        return 0;
    if (t_us >= span_us)
        return REPORT_BAR;
    /* in double: t_us * REPORT_BAR may not fit in 64 bits */
    return (size_t)((double)t_us * REPORT_BAR / (double)span_us + 0.5);
}

/* One waterfall row: value, then '#' from start to end on a REPORT_BAR-column time axis. */
static void text_phase(struct line *l, const char *name, int64_t start_us, int64_t dur_us,
                       int64_t span_us, const char *absent, bool failed)
{
    char val[32], bar[REPORT_BAR + 1];
    size_t from, to;

    ln_label(l, name);
    if (dur_us < 0) {
        ln_fmt(l, "%12s", absent);
    } else {
        fmt_ms(val, sizeof(val), dur_us);
        ln_fmt(l, "%12s", val);
        from = bar_col(start_us, span_us);
        to = bar_col(add_us(start_us, dur_us), span_us);
        if (to <= from && dur_us > 0)
            to = from + 1;
        if (to > REPORT_BAR) {
            to = REPORT_BAR;
            from = from < to ? from : to - 1;
        }
        memset(bar, ' ', from);
        memset(bar + from, '#', to - from);
        if (to > 0 && add_us(start_us, dur_us) > span_us)
            bar[to - 1] = '>';
        bar[to] = '\0';
        ln_lit(l, "  ");
        ln_lit(l, bar);
    }
    if (failed) {
        ln_lit(l, "  ");
        ln_styled(l, SGR_FAIL, "FAILED");
    }
    ln_end(l);
}

static void text_header(struct line *l, const struct report *r)
{
    const struct diag_verdict *v = r->v;
    const char *cls = diag_class_name(v->cls);
    char conn[32] = "";

    ln_styled(l, v->ok ? SGR_OK : SGR_FAIL, v->ok ? "OK" : "FAIL");
    ln_lit(l, " ");
    ln_lit(l, cls ? cls : "?");
    ln_lit(l, "  ");
    if (r->n_conns > 1)
        snprintf(conn, sizeof(conn), "  [conn %d/%d]", r->conn + 1, r->n_conns);
    if (r->endpoint) {
        ln_net(l, r->endpoint, strlen(r->endpoint), 24);
        ln_lit(l, " ");
    }
    if (r->url) {
        size_t room = ln_room(l);
        ln_net(l, r->url, strlen(r->url), room > strlen(conn) ? room - strlen(conn) : 0);
    }
    ln_lit(l, conn);
    ln_end(l);
}

static void text_waterfall(struct line *l, const struct report *r)
{
    static const char *const state[] = {"CONNECTING", "OPEN", "CLOSING", "CLOSED"};
    const struct model_attempt *a = r->a;
    const struct diag_verdict *v = r->v;
    const char *cause = evt_cause_name(v->cause);
    int64_t d[4] = {a->dns_us, a->tcp_us, a->tls_us, a->upgrade_us};
    int64_t start[4], t = 0, span;
    static const char *const names[4] = {"dns", "tcp", "tls", "upgrade"};

    for (int i = 0; i < 4; i++) {
        start[i] = t;
        if (d[i] > 0)
            t = add_us(t, d[i]);
    }
    /* the axis spans the setup; a long hold in "total" runs off the end as '>' */
    span = t;
    if (a->open_us > span)
        span = a->open_us;
    if (a->first_message_us > span)
        span = a->first_message_us;
    if (span == 0 || a->open_us < 0)
        span = a->total_us > span ? a->total_us : span;

    for (int i = 0; i < 4; i++) {
        const char *absent = "-";
        if (i == 0 && a->reached >= EVT_PH_TCP)
            absent = "n/a"; /* IP literal or --resolve: no lookup */
        if (i == 2 && !a->tls)
            absent = "n/a"; /* ws:// */
        text_phase(l, names[i], start[i], d[i], span, absent,
                   v->failed_in == (enum evt_phase)(EVT_PH_DNS + i));
    }
    text_phase(l, "open", 0, a->open_us, span, "-", v->failed_in == EVT_PH_OPEN);
    text_phase(l, "first msg", 0, a->first_message_us, span, "-", false);
    text_phase(l, "total", 0, a->total_us, span, "-", false);

    ln_label(l, "state");
    ln_fmt(l, "reached %s, readyState %d", evt_phase_name(a->reached), a->ready_state);
    if (a->ready_state >= 0 && a->ready_state <= 3)
        ln_fmt(l, " %s", state[a->ready_state]);
    if (cause)
        ln_fmt(l, ", cause %s", cause);
    ln_end(l);
}

/* sep and text if they fit on the line, else text alone on a new indented line. */
static void ln_piece(struct line *l, const char *sep, const char *code, const char *text)
{
    if (strlen(sep) + strlen(text) > ln_room(l)) {
        ln_end(l);
        ln_indent(l);
    } else {
        ln_lit(l, sep);
    }
    ln_styled(l, code, text);
}

static void text_tls(struct line *l, const struct report *r)
{
    const struct model_attempt *a = r->a;
    const struct model_tls *t = model_tls_of(a);
    const char *verify = evt_verify_name(t->verify);
    char days[48] = "", check[48];
    size_t ls, li, room, tail;
    bool expired = false;

    ln_label(l, "tls");
    if (!a->tls) {
        ln_lit(l, "none (ws://)");
        ln_end(l);
        return;
    }
    if (!a->tls_info) {
        ln_lit(l, "no handshake");
        ln_end(l);
        return;
    }
    ln_net(l, STR(t->version), 16);
    ln_lit(l, " ");
    ln_net(l, STR(t->cipher), 40);
    if (t->alpn[0]) {
        ln_lit(l, " alpn ");
        ln_net(l, STR(t->alpn), 16);
    }
    ln_end(l);

    /* The certificate on one line when it fits. The names share what the other parts leave
     * but keep REPORT_NAMES_MIN columns: the parts after them wrap instead. */
    if (t->not_after_s != 0) {
        int64_t left = diag_days_left(t->not_after_s, r->now_wall_s);
        expired = left < 0;
        if (expired)
            snprintf(days, sizeof(days), "EXPIRED %" PRId64 "d ago", -left);
        else
            snprintf(days, sizeof(days), "%" PRId64 "d left", left);
    }
    snprintf(check, sizeof(check), "verify %s", verify ? verify : "-");
    ln_label(l, "cert");
    tail = (days[0] ? 2 + strlen(days) : 0) + 2 + strlen(check) +
           (t->insecure ? 2 + strlen(REPORT_INSECURE) : 0);
    room = ln_room(l) - strlen(" by ");
    room = room > tail + REPORT_NAMES_MIN ? room - tail : REPORT_NAMES_MIN;
    ls = san_len(STR(t->subject));
    li = san_len(STR(t->issuer));
    if (ls + li > room) {
        size_t half = room / 2;
        if (ls <= half) {
            li = room - ls;
        } else if (li <= half) {
            ls = room - li;
        } else {
            ls = half;
            li = room - half;
        }
    }
    if (ls)
        ln_net(l, STR(t->subject), ls);
    else
        ln_lit(l, "-");
    ln_styled(l, SGR_DIM, " by ");
    if (li)
        ln_net(l, STR(t->issuer), li);
    else
        ln_lit(l, "-");
    if (days[0])
        ln_piece(l, ", ", expired ? SGR_FAIL : NULL, days);
    ln_piece(l, ", ", t->verify == EVT_VERIFY_OK ? NULL : SGR_WARN, check);
    if (t->insecure)
        ln_piece(l, "  ", SGR_FAIL, REPORT_INSECURE);
    ln_end(l);
}

/* A header value in a fixed buffer, "-" when absent. */
/* A header value, "-" when empty. */
static void flow_field(struct item_flow *fl, const char *name, const char *val)
{
    size_t n = strlen(val);

    if (n == 0)
        flow_item(fl, name, "-", 1);
    else
        flow_item(fl, name, val, n);
}

static void text_http(struct line *l, const struct model_attempt *a)
{
    const struct model_http *h = model_http_of(a);
    struct item_flow fl = {l, 0};
    char status[16], cookies[EVT_COOKIES_MAX * (EVT_COOKIE_NAME_MAX + 1)] = "";
    const char *accept = h->accept_ok < 0 ? "-" : h->accept_ok > 0 ? "ok" : "BAD";
    int n = h->n_cookies < EVT_COOKIES_MAX ? h->n_cookies : EVT_COOKIES_MAX;

    ln_label(l, "http");
    if (!a->http) {
        ln_lit(l, a->reached >= EVT_PH_TCP ? "no response" : "-");
        ln_end(l);
        return;
    }
    snprintf(status, sizeof(status), "%d", h->status);
    flow_item(&fl, "HTTP", status, strlen(status));
    flow_field(&fl, "Upgrade", h->upgrade);
    flow_field(&fl, "Connection", h->connection);
    flow_item(&fl, "accept", accept, strlen(accept));
    flow_field(&fl, "Server", h->server);
    if (h->location[0])
        flow_item(&fl, "Location", STR(h->location));
    for (int i = 0; i < n; i++) {
        size_t len = strlen(cookies);
        snprintf(cookies + len, sizeof(cookies) - len, "%s%.*s", i ? "," : "",
                 (int)strlen(h->cookies[i]), h->cookies[i]);
    }
    if (n > 0)
        flow_item(&fl, "cookies", cookies, strlen(cookies));
    if (h->backend[0])
        flow_item(&fl, "backend", STR(h->backend));
    ln_end(l);

    /* a failed upgrade: the response head as parsed, a line each (at most 8) */
    if (h->status != 101 && h->head[0]) {
        const char *p = h->head, *end = h->head + strlen(h->head);
        int lines = 0;

        while (p < end && lines < 8) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

            if (len && p[len - 1] == '\r')
                len--;
            if (len) {
                ln_label(l, lines ? "" : "head");
                ln_net(l, p, len, ln_room(l));
                ln_end(l);
                lines++;
            }
            p += (nl ? (size_t)(nl - p) + 1 : len);
        }
        if (p < end || h->head_truncated) {
            ln_label(l, "");
            ln_lit(l, "...");
            ln_end(l);
        }
    }
}

static void text_traffic(struct line *l, const struct model_attempt *a)
{
    char mn[24], md[24], mx[24];

    ln_label(l, "rtt");
    if (a->rtt_n == 0 && a->open_us < 0) {
        ln_lit(l, "-");
    } else if (a->rtt_n == 0) {
        ln_fmt(l, "no samples (%" PRIu32 " pings sent)", a->pings_sent);
    } else {
        fmt_ms(mn, sizeof(mn), a->rtt_min_us);
        fmt_ms(md, sizeof(md), model_rtt_median_us(a));
        fmt_ms(mx, sizeof(mx), a->rtt_max_us);
        ln_fmt(l, "min %s  median %s  max %s  (%" PRIu32 " samples)", mn, md, mx, a->rtt_n);
    }
    ln_end(l);

    ln_label(l, "messages");
    ln_fmt(l, "in %" PRIu64 " (%" PRIu64 " bytes)  out %" PRIu64 " (%" PRIu64 " bytes)", a->msgs_in,
           a->bytes_in, a->msgs_out, a->bytes_out);
    ln_end(l);

    if (a->msgs_in > 0) {
        uint32_t n = a->first_len < EVT_FIRST_MAX ? a->first_len : EVT_FIRST_MAX;
        const char *tag = a->first_binary ? " (binary)" : "";
        size_t room;

        ln_label(l, "first");
        room = ln_room(l);
        ln_lit(l, "\"");
        ln_net(l, a->first, n, room > 2 + strlen(tag) ? room - 2 - strlen(tag) : 0);
        ln_lit(l, "\"");
        ln_lit(l, tag);
        ln_end(l);
    }
}

static void text_close(struct line *l, const struct model_attempt *a)
{
    const char *by = evt_by_name(a->by), *tr = evt_transport_name(a->transport);
    char open_for[32];

    ln_label(l, "close");
    if (!a->ended) {
        ln_lit(l, "-");
        ln_end(l);
        return;
    }
    if (a->close_code)
        ln_fmt(l, "%d", a->close_code);
    else
        ln_lit(l, "-");
    if (by)
        ln_fmt(l, " by %s", by);
    if (!a->close_frame_unknown)
        ln_lit(l, a->close_frame ? ", close frame" : ", no close frame");
    if (tr)
        ln_fmt(l, " (%s)", tr);
    fmt_ms(open_for, sizeof(open_for), a->open_for_us);
    ln_fmt(l, ", open for %s", open_for);
    ln_end(l);
    if (a->close_reason[0]) {
        ln_label(l, "reason");
        ln_lit(l, "\"");
        ln_net(l, STR(a->close_reason), ln_room(l) > 1 ? ln_room(l) - 1 : 0);
        ln_lit(l, "\"");
        ln_end(l);
    }
}

/* "name: text" wrapped at spaces to the width, continuation lines indented under the text. */
static void text_wrapped(struct line *l, const char *name, const char *s, size_t n)
{
    char text[4 * DIAG_TEXT_MAX + 1];
    size_t len = san_term(s, n, text, sizeof(text)), pos = 0;
    size_t indent = strlen(name) + 2;

    ln_styled(l, SGR_DIM, name);
    ln_lit(l, ":");
    do {
        size_t width = REPORT_COLS - indent, take = len - pos;

        if (take > width) {
            take = width;
            while (take > 0 && text[pos + take] != ' ')
                take--;
            if (take == 0) {
                /* one long word: cut it, but not inside a UTF-8 character */
                take = width;
                while (take > 0 && ((unsigned char)text[pos + take] & 0xc0) == 0x80)
                    take--;
            }
        }
        if (pos > 0) {
            for (size_t i = 0; i < indent - 1; i++)
                ln_lit(l, " ");
        }
        ln_lit(l, " ");
        ln_put(l, text + pos, take, true);
        ln_end(l);
        pos += take;
        while (pos < len && text[pos] == ' ')
            pos++;
    } while (pos < len);
}

void report_text(FILE *f, const struct report *r, bool color)
{
    const struct model_attempt *a = r->a;
    const struct diag_verdict *v = r->v;
    struct line l;

    ln_start(&l, f, color);
    text_header(&l, r);
    text_waterfall(&l, r);

    ln_label(&l, "remote");
    if (a->remote[0])
        ln_net(&l, STR(a->remote), EVT_ADDR_MAX);
    else
        ln_lit(&l, "-");
    ln_end(&l);

    text_tls(&l, r);
    text_http(&l, a);
    text_traffic(&l, a);
    text_close(&l, a);
    text_wrapped(&l, "verdict", FIXED(v->verdict));
    if (v->hint[0])
        text_wrapped(&l, "hint", FIXED(v->hint));
}
