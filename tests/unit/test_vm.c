/* SPDX-License-Identifier: MIT */
/* View model: rows, cells, widths, sparklines, durations, detail and log lines, from models
 * filled with hand-made events (no curses, no monitor). */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cfg.h"
#include "evt.h"
#include "model.h"
#include "vm.h"

/* 2026-11-26 12:00:00 UTC at monotonic 0 */
#define WALL0 INT64_C(1795694400000000)
#define S     INT64_C(1000000)
#define MS    INT64_C(1000)

/* ---- a world: config, names, model ------------------------------------------------------ */

struct world {
    struct cfg cfg;
    struct model *m;
    const char **names;
    size_t n;
    struct vm_in in;
    struct vm *fed; /* told of every event (vm_note), as the dashboard's vm is; NULL: none */
};

/* n endpoints named by names[i] (NULL: from the URL), URLs ws://host-i.example/ (or urls[i]). */
static void world_init(struct world *w, size_t n, const char *const *names, const char *const *urls,
                       const int *conns)
{
    char err[256];

    memset(w, 0, sizeof(*w));
    cfg_init(&w->cfg);
    w->names = calloc(n, sizeof(*w->names));
    assert_non_null(w->names);
    for (size_t i = 0; i < n; i++) {
        char url[128];

        if (urls && urls[i])
            snprintf(url, sizeof(url), "%s", urls[i]);
        else
            snprintf(url, sizeof(url), "ws://host-%zu.example/", i);
        assert_int_equal(cfg_add_url(&w->cfg, url, err, sizeof(err)), 0);
        if (conns && conns[i] > 1) {
            char c[16];

            snprintf(c, sizeof(c), "%d", conns[i]);
            assert_int_equal(cfg_ep_set(&w->cfg.eps[i], "connections", c, err, sizeof(err)), 0);
        }
        assert_int_equal(cfg_ep_finish(&w->cfg.eps[i], &w->cfg.defaults, err, sizeof(err)), 0);
        w->names[i] = names ? names[i] : NULL;
    }
    w->n = n;
    w->m = model_new(n, conns);
    w->in.m = w->m;
    w->in.cfg = &w->cfg;
    w->in.names = w->names;
    w->in.now_mono_us = 1 * S;
    w->in.now_wall_us = WALL0 + w->in.now_mono_us;
}

static void world_fini(struct world *w)
{
    model_free(w->m);
    cfg_fini(&w->cfg);
    free(w->names);
}

static void world_now(struct world *w, int64_t t)
{
    w->in.now_mono_us = t;
    w->in.now_wall_us = WALL0 + t;
}

/* ---- events ---------------------------------------------------------------------------- */

static struct evt mk(enum evt_kind k, uint32_t ep, uint32_t conn, uint32_t attempt, int64_t t)
{
    struct evt e;

    memset(&e, 0, sizeof(e));
    e.kind = k;
    e.ep = ep;
    e.conn = conn;
    e.attempt = attempt;
    e.t_mono_us = t;
    e.t_wall_us = WALL0 + t;
    return e;
}

static void put(struct world *w, const struct evt *e)
{
    assert_int_equal(model_apply(w->m, e), 0);
    if (w->fed)
        vm_note(w->fed, e);
}

static void ev(struct world *w, enum evt_kind k, uint32_t ep, uint32_t conn, uint32_t att,
               int64_t t)
{
    struct evt e = mk(k, ep, conn, att, t);

    put(w, &e);
}

static void ev_attempt(struct world *w, uint32_t ep, uint32_t conn, uint32_t att, int64_t t,
                       bool tls)
{
    struct evt e = mk(EVT_ATTEMPT, ep, conn, att, t);

    e.u.attempt.tls = tls;
    put(w, &e);
}

static void ev_dns(struct world *w, uint32_t ep, uint32_t conn, uint32_t att, int64_t t)
{
    struct evt e = mk(EVT_DNS, ep, conn, att, t);

    snprintf(e.u.dns.addr, sizeof(e.u.dns.addr), "203.0.113.7");
    e.u.dns.n_addrs = 1;
    put(w, &e);
}

static void ev_tcp_to(struct world *w, uint32_t ep, uint32_t conn, uint32_t att, int64_t t,
                      const char *remote)
{
    struct evt e = mk(EVT_TCP, ep, conn, att, t);

    snprintf(e.u.tcp.remote, sizeof(e.u.tcp.remote), "%s", remote);
    snprintf(e.u.tcp.local, sizeof(e.u.tcp.local), "192.0.2.5:53422");
    put(w, &e);
}

static void ev_tcp(struct world *w, uint32_t ep, uint32_t conn, uint32_t att, int64_t t)
{
    struct evt e = mk(EVT_TCP, ep, conn, att, t);

    snprintf(e.u.tcp.remote, sizeof(e.u.tcp.remote), "203.0.113.7:443");
    snprintf(e.u.tcp.local, sizeof(e.u.tcp.local), "192.0.2.5:53422");
    put(w, &e);
}

static void ev_tls(struct world *w, uint32_t ep, uint32_t att, int64_t t, enum evt_verify vf,
                   int64_t not_after_s)
{
    struct evt e = mk(EVT_TLS, ep, 0, att, t);

    snprintf(e.u.tls.version, sizeof(e.u.tls.version), "TLSv1.3");
    snprintf(e.u.tls.cipher, sizeof(e.u.tls.cipher), "TLS_AES_128_GCM_SHA256");
    snprintf(e.u.tls.subject, sizeof(e.u.tls.subject), "CN=ws.example.com");
    snprintf(e.u.tls.issuer, sizeof(e.u.tls.issuer), "CN=Amazon RSA 2048 M02");
    snprintf(e.u.tls.sans, sizeof(e.u.tls.sans), "DNS:ws.example.com");
    e.u.tls.not_after_s = not_after_s;
    e.u.tls.verify = vf;
    e.u.tls.verify_code = vf == EVT_VERIFY_OK ? 0 : 10;
    put(w, &e);
}

static void ev_response(struct world *w, uint32_t ep, uint32_t conn, uint32_t att, int64_t t,
                        int status, const char *server)
{
    struct evt e = mk(EVT_RESPONSE, ep, conn, att, t);

    e.u.http.status = status;
    if (status == 101) {
        snprintf(e.u.http.upgrade, sizeof(e.u.http.upgrade), "websocket");
        snprintf(e.u.http.connection, sizeof(e.u.http.connection), "Upgrade");
    }
    snprintf(e.u.http.server, sizeof(e.u.http.server), "%s", server);
    e.u.http.accept_ok = status == 101 ? 1 : -1;
    e.u.http.n_cookies = 1;
    snprintf(e.u.http.cookies[0], sizeof(e.u.http.cookies[0]), "AWSALB");
    if (status != 101)
        snprintf(e.u.http.head, sizeof(e.u.http.head),
                 "HTTP/1.1 %d Bad\r\nServer: %s\r\nContent-Length: 0\r\n\r\n", status, server);
    put(w, &e);
}

static void ev_pong(struct world *w, uint32_t ep, uint32_t conn, uint32_t att, int64_t t,
                    uint32_t rtt_us)
{
    struct evt e = mk(EVT_PING, ep, conn, att, t - rtt_us);

    put(w, &e);
    e = mk(EVT_PONG, ep, conn, att, t);
    e.u.pong.rtt_us = rtt_us;
    put(w, &e);
}

static void ev_msg(struct world *w, uint32_t ep, uint32_t conn, uint32_t att, int64_t t, bool out)
{
    struct evt e = mk(EVT_MSG, ep, conn, att, t);

    e.u.msg.out = out;
    e.u.msg.len = 5;
    e.u.msg.first_len = (uint32_t)snprintf(e.u.msg.first, sizeof(e.u.msg.first), "hello");
    put(w, &e);
}

static void ev_closed(struct world *w, uint32_t ep, uint32_t conn, uint32_t att, int64_t t,
                      enum evt_cause cause, enum evt_by by, int code, const char *reason)
{
    struct evt e = mk(EVT_CLOSED, ep, conn, att, t);

    e.u.closed.cause = cause;
    e.u.closed.by = by;
    e.u.closed.code = code;
    e.u.closed.frame = cause == EVT_CAUSE_CLOSE_FRAME;
    e.u.closed.transport = cause == EVT_CAUSE_EOF ? EVT_TR_EOF : EVT_TR_NONE;
    snprintf(e.u.closed.reason, sizeof(e.u.closed.reason), "%s", reason ? reason : "");
    put(w, &e);
}

/* An attempt that opens (plain ws unless tls): start t0, open 83 ms later, ready state 1. */
static void open_at(struct world *w, uint32_t ep, uint32_t conn, uint32_t att, int64_t t0, bool tls)
{
    ev_attempt(w, ep, conn, att, t0, tls);
    ev_dns(w, ep, conn, att, t0 + 1200);
    ev_tcp(w, ep, conn, att, t0 + 2100);
    if (tls)
        ev_tls(w, ep, att, t0 + 9600, EVT_VERIFY_OK, 1800000000);
    ev(w, EVT_REQUEST, ep, conn, att, t0 + 10000);
    ev_response(w, ep, conn, att, t0 + 82000, 101, "awselb/2.0");
    ev(w, EVT_OPEN, ep, conn, att, t0 + 83 * MS);
}

/* ---- screen helpers --------------------------------------------------------------------- */

static char *plain(const struct vm_line *l)
{
    static char buf[VM_LINE_MAX * 2];

    return vm_line_plain(l, buf, sizeof(buf));
}

/* Every span fits the width, is as wide as it says, and holds no control byte. */
static void check_line(const struct vm_line *l, int width, const char *what)
{
    for (int i = 0; i < l->n; i++) {
        const struct vm_span *sp = &l->span[i];
        char t[VM_LINE_MAX];

        memcpy(t, l->text + sp->off, sp->len);
        t[sp->len] = '\0';
        if (sp->x + sp->w > width || vm_text_width(t) != sp->w)
            fail_msg("%s: span %d '%s' at %d, %d columns (text %d) past width %d", what, i, t,
                     sp->x, sp->w, vm_text_width(t), width);
        if (i > 0 && sp->x < l->span[i - 1].x + l->span[i - 1].w)
            fail_msg("%s: span %d '%s' overlaps the one before", what, i, t);
        for (size_t k = 0; k < sp->len; k++) {
            unsigned char c = (unsigned char)t[k];

            if (c < 0x20 || c == 0x7f)
                fail_msg("%s: control byte 0x%02x in '%s'", what, c, t);
            if (c == 0xc2 && k + 1 < sp->len && (unsigned char)t[k + 1] >= 0x80 &&
                (unsigned char)t[k + 1] <= 0x9f)
                fail_msg("%s: C1 control in '%s'", what, t);
        }
    }
    if (vm_text_width(plain(l)) > width)
        fail_msg("%s: line '%s' is %d columns, wider than %d", what, plain(l),
                 vm_text_width(plain(l)), width);
}

static void check_screen(const struct vm_screen *s, int width, bool ascii)
{
    assert_int_equal(s->w, width > VM_MAX_W ? VM_MAX_W : width);
    for (int y = 0; y < s->h; y++) {
        char what[32];

        snprintf(what, sizeof(what), "line %d", y);
        check_line(&s->line[y], width, what);
        if (ascii)
            for (size_t k = 0; k < s->line[y].used; k++)
                if ((unsigned char)s->line[y].text[k] >= 0x80)
                    fail_msg("line %d: non-ASCII byte in ASCII mode: '%s'", y, plain(&s->line[y]));
    }
}

static bool screen_has(const struct vm_screen *s, const char *needle)
{
    for (int y = 0; y < s->h; y++)
        if (strstr(plain(&s->line[y]), needle))
            return true;
    return false;
}

static void dump_screen(const struct vm_screen *s)
{
    if (!getenv("TEST_VM_DUMP"))
        return;
    for (int y = 0; y < s->h; y++)
        printf("# |%s\n", plain(&s->line[y]));
}

/* The rows of the first height rows after vm_update. */
static size_t rows_at(struct vm *v, struct world *w, int width, int height, struct vm_row *out)
{
    struct vm_layout l;

    vm_update(v, &w->in);
    vm_layout(width, &l);
    return vm_rows(v, &w->in, &l, height, out);
}

#define ORDER_MAX 600

struct key_pair {
    uint32_t ep;
    int conn;
};

static const struct vm_row *row_of(const struct vm_row *rows, size_t n, uint32_t ep)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].ep == ep && rows[i].conn < 0)
            return &rows[i];
    fail_msg("no row for endpoint %u", ep);
    return NULL;
}

/* ---- formatting ------------------------------------------------------------------------ */

static void t_durations(void **st)
{
    char b[32];

    (void)st;
    assert_string_equal(vm_fmt_dur(83 * MS, b, sizeof(b)), "83 ms");
    assert_string_equal(vm_fmt_dur(4100 * MS, b, sizeof(b)), "4.1 s");
    assert_string_equal(vm_fmt_dur(723 * S, b, sizeof(b)), "12m03s");
    assert_string_equal(vm_fmt_dur((3 * 3600 + 5 * 60 + 40) * S, b, sizeof(b)), "3h05m");
    assert_string_equal(vm_fmt_dur(60 * S + 12 * MS, b, sizeof(b)), "60.0 s");
    assert_string_equal(vm_fmt_dur(400, b, sizeof(b)), "0.4 ms");
    assert_string_equal(vm_fmt_dur(9 * MS, b, sizeof(b)), "9.0 ms");
    assert_string_equal(vm_fmt_dur(999600, b, sizeof(b)), "1.0 s");
    assert_string_equal(vm_fmt_dur(100 * S, b, sizeof(b)), "1m40s");
    assert_string_equal(vm_fmt_dur((4 * 86400 + 7 * 3600) * S + 5, b, sizeof(b)), "4d07h");
    assert_string_equal(vm_fmt_dur(0, b, sizeof(b)), "0.0 ms");
    assert_string_equal(vm_fmt_dur(-1, b, sizeof(b)), "-");

    assert_string_equal(vm_fmt_ms(230, b, sizeof(b)), "0.23");
    assert_string_equal(vm_fmt_ms(2300, b, sizeof(b)), "2.3");
    assert_string_equal(vm_fmt_ms(83 * MS, b, sizeof(b)), "83");
    assert_string_equal(vm_fmt_ms(1250 * MS, b, sizeof(b)), "1250");
    assert_string_equal(vm_fmt_ms(-1, b, sizeof(b)), "-");

    assert_string_equal(vm_state_name(0), "CONNECTING 0");
    assert_string_equal(vm_state_name(1), "OPEN 1");
    assert_string_equal(vm_state_name(2), "CLOSING 2");
    assert_string_equal(vm_state_name(3), "CLOSED 3");
}

static void t_sparkline(void **st)
{
    const uint32_t eight[] = {1, 2, 3, 4, 5, 6, 7, 8};
    const uint32_t five[] = {0, 1, 2, 3, 4};
    const uint32_t flat[] = {700, 700, 700};
    const uint32_t rtt[] = {2100, 2300, 9000, 2200};
    char b[256];

    (void)st;
    assert_int_equal(vm_spark(eight, 8, 20, false, b, sizeof(b)), 8);
    assert_string_equal(b, "▁▂▃▄▅▆▇█");
    assert_int_equal(vm_spark(eight, 8, 20, true, b, sizeof(b)), 8);
    assert_string_equal(b, "_..--==^");
    assert_int_equal(vm_spark(five, 5, 20, true, b, sizeof(b)), 5);
    assert_string_equal(b, "_.-=^");
    assert_int_equal(vm_spark(five, 5, 20, false, b, sizeof(b)), 5);
    assert_string_equal(b, "▁▃▅▆█");
    /* only the last width samples, scaled among themselves */
    assert_int_equal(vm_spark(five, 5, 3, false, b, sizeof(b)), 3);
    assert_string_equal(b, "▁▅█");
    assert_int_equal(vm_spark(flat, 3, 10, false, b, sizeof(b)), 3);
    assert_string_equal(b, "▁▁▁");
    assert_int_equal(vm_spark(rtt, 4, 10, true, b, sizeof(b)), 4);
    assert_string_equal(b, "__^_");
    assert_int_equal(vm_spark(rtt, 0, 10, false, b, sizeof(b)), 0);
    assert_string_equal(b, "");
    assert_int_equal(vm_text_width("▁▂▃▄▅▆▇█"), 8);
    assert_int_equal(vm_text_width("日本"), 4);
}

/* ---- rows ------------------------------------------------------------------------------- */

/* One endpoint per readyState and per class. */
enum {
    E_CONNECTING,
    E_OPEN,
    E_CLOSING,
    E_REFUSED,
    E_DNS,
    E_TLS,
    E_502,
    E_200,
    E_1011,
    E_1006,
    E_RETRY,
    E_COUNT
};

static void fill_states(struct world *w)
{
    int64_t t = 10 * S;

    ev_attempt(w, E_CONNECTING, 0, 1, t, false);
    ev_dns(w, E_CONNECTING, 0, 1, t + 1000);

    open_at(w, E_OPEN, 0, 1, t, false);
    ev_pong(w, E_OPEN, 0, 1, t + 2 * S, 2300);
    ev_pong(w, E_OPEN, 0, 1, t + 3 * S, 2100);

    open_at(w, E_CLOSING, 0, 1, t, false);
    ev(w, EVT_CLOSING, E_CLOSING, 0, 1, t + S);

    ev_attempt(w, E_REFUSED, 0, 1, t, false);
    ev_dns(w, E_REFUSED, 0, 1, t + 1000);
    ev_closed(w, E_REFUSED, 0, 1, t + 1500, EVT_CAUSE_REFUSED, EVT_BY_NETWORK, 1006, NULL);

    ev_attempt(w, E_DNS, 0, 1, t, false);
    ev_closed(w, E_DNS, 0, 1, t + 30 * MS, EVT_CAUSE_NXDOMAIN, EVT_BY_NETWORK, 1006, NULL);

    ev_attempt(w, E_TLS, 0, 1, t, true);
    ev_dns(w, E_TLS, 0, 1, t + 1000);
    ev_tcp(w, E_TLS, 0, 1, t + 2000);
    ev_tls(w, E_TLS, 1, t + 9000, EVT_VERIFY_EXPIRED, 1790000000);
    ev_closed(w, E_TLS, 0, 1, t + 9100, EVT_CAUSE_TLS_EXPIRED, EVT_BY_NETWORK, 1006, NULL);

    ev_attempt(w, E_502, 0, 1, t, false);
    ev_dns(w, E_502, 0, 1, t + 1000);
    ev_tcp(w, E_502, 0, 1, t + 2000);
    ev(w, EVT_REQUEST, E_502, 0, 1, t + 2100);
    ev_response(w, E_502, 0, 1, t + 5000, 502, "awselb/2.0");
    ev_closed(w, E_502, 0, 1, t + 5100, EVT_CAUSE_HTTP_STATUS, EVT_BY_SERVER, 1006, NULL);

    ev_attempt(w, E_200, 0, 1, t, false);
    ev_dns(w, E_200, 0, 1, t + 1000);
    ev_tcp(w, E_200, 0, 1, t + 2000);
    ev(w, EVT_REQUEST, E_200, 0, 1, t + 2100);
    ev_response(w, E_200, 0, 1, t + 5000, 200, "fake-lb");
    ev_closed(w, E_200, 0, 1, t + 5100, EVT_CAUSE_HTTP_STATUS, EVT_BY_SERVER, 1006, NULL);

    open_at(w, E_1011, 0, 1, t, false);
    ev_closed(w, E_1011, 0, 1, t + 500 * MS, EVT_CAUSE_CLOSE_FRAME, EVT_BY_SERVER, 1011,
              "server error");

    open_at(w, E_1006, 0, 1, t, false);
    ev_closed(w, E_1006, 0, 1, t + 83 * MS + 60 * S, EVT_CAUSE_EOF, EVT_BY_NETWORK, 1006, NULL);

    /* failed, then a new attempt under way: the failure's class stays shown */
    ev_attempt(w, E_RETRY, 0, 1, t, false);
    ev_closed(w, E_RETRY, 0, 1, t + 1500, EVT_CAUSE_REFUSED, EVT_BY_NETWORK, 1006, NULL);
    ev_attempt(w, E_RETRY, 0, 2, t + 2 * S, false);
}

static void t_rows_states(void **st)
{
    static const char *const names[E_COUNT] = {"connecting", "open", "closing", "refused",
                                               "dns",        "tls",  "lb502",   "lb200",
                                               "srv1011",    "idle", "retry"};
    static struct vm_row rows[E_COUNT];
    struct vm_opts o = {.utc = true};
    struct world w;
    struct vm *v;
    size_t n;
    const struct vm_row *r;
    struct {
        int ep;
        const char *state, *cls;
        enum vm_style sst, cst;
        const char *code;
    } want[] = {
        {E_CONNECTING, "CONNECTING 0", "connecting", VM_WARN, VM_DIM, ""},
        {E_OPEN, "OPEN 1", "healthy", VM_OK, VM_OK, ""},
        {E_CLOSING, "CLOSING 2", "closing", VM_WARN, VM_WARN, ""},
        {E_REFUSED, "CLOSED 3", "tcp-refused", VM_BAD, VM_BAD, "1006"},
        {E_DNS, "CLOSED 3", "dns-failed", VM_BAD, VM_BAD, "1006"},
        {E_TLS, "CLOSED 3", "tls-expired", VM_BAD, VM_BAD, "1006"},
        {E_502, "CLOSED 3", "http-status", VM_BAD, VM_BAD, "1006"},
        {E_200, "CLOSED 3", "upgrade-missing", VM_BAD, VM_BAD, "1006"},
        {E_1011, "CLOSED 3", "closed-by-server", VM_BAD, VM_BAD, "1011"},
        {E_1006, "CLOSED 3", "abnormal-close", VM_BAD, VM_BAD, "1006"},
        {E_RETRY, "CONNECTING 0", "tcp-refused", VM_WARN, VM_WARN, "1006"},
    };

    (void)st;
    world_init(&w, E_COUNT, names, NULL, NULL);
    fill_states(&w);
    world_now(&w, 200 * S);
    v = vm_new(&o);
    n = rows_at(v, &w, 200, E_COUNT, rows);
    assert_int_equal(n, E_COUNT);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        r = row_of(rows, n, (uint32_t)want[i].ep);
        assert_string_equal(r->cell[VM_COL_NAME].text, names[want[i].ep]);
        assert_string_equal(r->cell[VM_COL_STATE].text, want[i].state);
        assert_int_equal(r->cell[VM_COL_STATE].style, want[i].sst);
        assert_string_equal(r->cell[VM_COL_CLASS].text, want[i].cls);
        assert_int_equal(r->cell[VM_COL_CLASS].style, want[i].cst);
        assert_string_equal(r->cell[VM_COL_CODE].text, want[i].code);
    }
    r = row_of(rows, n, E_OPEN);
    assert_string_equal(r->cell[VM_COL_RTT].text, "2.1/2.2");
    assert_string_equal(r->cell[VM_COL_SPARK].text, "█▁");
    r = row_of(rows, n, E_1011);
    assert_string_equal(r->cell[VM_COL_REASON].text, "server error");
    r = row_of(rows, n, E_REFUSED);
    assert_string_equal(r->cell[VM_COL_REASON].text, "refused");
    assert_int_equal(r->cell[VM_COL_REASON].style, VM_DIM);
    assert_string_equal(r->cell[VM_COL_RECON].text, "0");
    r = row_of(rows, n, E_RETRY);
    assert_string_equal(r->cell[VM_COL_RECON].text, "1");
    vm_free(v);
    world_fini(&w);
}

static void t_time_in_state(void **st)
{
    static const char *const names[] = {"alb"};
    static struct vm_row rows[1];
    struct world w;
    struct vm *v = vm_new(NULL);

    (void)st;
    world_init(&w, 1, names, NULL, NULL);
    open_at(&w, 0, 0, 1, 1 * S, false);
    world_now(&w, 1 * S + 83 * MS + 723 * S);
    assert_int_equal(rows_at(v, &w, 80, 5, rows), 1);
    assert_string_equal(rows[0].cell[VM_COL_TIME].text, "12m03s");
    world_now(&w, 1 * S + 83 * MS + 4100 * MS);
    rows_at(v, &w, 80, 5, rows);
    assert_string_equal(rows[0].cell[VM_COL_TIME].text, "4.1 s");
    ev(&w, EVT_CLOSING, 0, 0, 1, 20 * S);
    world_now(&w, 20 * S + 83 * MS);
    rows_at(v, &w, 80, 5, rows);
    assert_string_equal(rows[0].cell[VM_COL_STATE].text, "CLOSING 2");
    assert_string_equal(rows[0].cell[VM_COL_TIME].text, "83 ms");
    ev_closed(&w, 0, 0, 1, 21 * S, EVT_CAUSE_CLOSE_FRAME, EVT_BY_SERVER, 1001, "bye");
    world_now(&w, 21 * S + (3 * 3600 + 5 * 60) * S);
    rows_at(v, &w, 80, 5, rows);
    assert_string_equal(rows[0].cell[VM_COL_TIME].text, "3h05m");
    assert_string_equal(rows[0].cell[VM_COL_CODE].text, "1001");
    assert_int_equal(rows[0].cell[VM_COL_CODE].style, VM_WARN);
    vm_free(v);
    world_fini(&w);
}

static void t_rates_and_counts(void **st)
{
    static const char *const names[] = {"feed"};
    static struct vm_row rows[1];
    struct world w;
    struct vm *v = vm_new(NULL);

    (void)st;
    world_init(&w, 1, names, NULL, NULL);
    open_at(&w, 0, 0, 1, 1 * S, false);
    world_now(&w, 2 * S);
    rows_at(v, &w, 200, 5, rows); /* first snapshot */
    for (int i = 0; i < 30; i++)
        ev_msg(&w, 0, 0, 1, 2 * S + i * 10 * MS, false);
    for (int i = 0; i < 3; i++)
        ev_msg(&w, 0, 0, 1, 2 * S + i * 10 * MS, true);
    world_now(&w, 4 * S); /* 30 in, 3 out over 2 s */
    rows_at(v, &w, 200, 5, rows);
    assert_string_equal(rows[0].cell[VM_COL_MSGS].text, "30/3");
    assert_string_equal(rows[0].cell[VM_COL_RATE].text, "15.0/1.5");
    world_now(&w, 4 * S + 500 * MS); /* under a second: the rates stand */
    rows_at(v, &w, 200, 5, rows);
    assert_string_equal(rows[0].cell[VM_COL_RATE].text, "15.0/1.5");
    world_now(&w, 6 * S);
    rows_at(v, &w, 200, 5, rows);
    assert_string_equal(rows[0].cell[VM_COL_RATE].text, "0/0");
    vm_free(v);
    world_fini(&w);
}

static void t_sort_filter(void **st)
{
    static const char *const names[] = {"delta", "alpha", "Charlie", "bravo"};
    static struct vm_row rows[4];
    struct world w;
    struct vm *v = vm_new(NULL);
    size_t n;
    uint32_t ep;
    int conn;

    (void)st;
    world_init(&w, 4, names, NULL, NULL);
    /* delta: open, rtt 9 ms; alpha: closed; Charlie: open, rtt 2 ms, 3 reconnects; bravo:
     * connecting */
    open_at(&w, 0, 0, 1, 1 * S, false);
    ev_pong(&w, 0, 0, 1, 2 * S, 9000);
    ev_attempt(&w, 1, 0, 1, 1 * S, false);
    ev_closed(&w, 1, 0, 1, 1 * S + 500, EVT_CAUSE_REFUSED, EVT_BY_NETWORK, 1006, NULL);
    for (uint32_t a = 1; a <= 3; a++) {
        ev_attempt(&w, 2, 0, a, a * S, false);
        ev_closed(&w, 2, 0, a, a * S + 500, EVT_CAUSE_REFUSED, EVT_BY_NETWORK, 1006, NULL);
    }
    open_at(&w, 2, 0, 4, 5 * S, false);
    ev_pong(&w, 2, 0, 4, 6 * S, 2000);
    ev_attempt(&w, 3, 0, 1, 1 * S, false);
    world_now(&w, 10 * S);

    n = rows_at(v, &w, 80, 10, rows);
    assert_int_equal(n, 4);
    assert_string_equal(rows[0].cell[VM_COL_NAME].text, "alpha");
    assert_string_equal(rows[1].cell[VM_COL_NAME].text, "bravo");
    assert_string_equal(rows[2].cell[VM_COL_NAME].text, "Charlie");
    assert_string_equal(rows[3].cell[VM_COL_NAME].text, "delta");

    vm_set_sort(v, VM_SORT_STATE); /* CLOSED, CONNECTING, CLOSING, OPEN; then by name */
    n = rows_at(v, &w, 80, 10, rows);
    assert_string_equal(rows[0].cell[VM_COL_NAME].text, "alpha");
    assert_string_equal(rows[1].cell[VM_COL_NAME].text, "bravo");
    assert_string_equal(rows[2].cell[VM_COL_NAME].text, "Charlie");
    assert_string_equal(rows[3].cell[VM_COL_NAME].text, "delta");

    vm_set_sort(v, VM_SORT_RTT); /* slowest first, none last */
    n = rows_at(v, &w, 80, 10, rows);
    assert_string_equal(rows[0].cell[VM_COL_NAME].text, "delta");
    assert_string_equal(rows[1].cell[VM_COL_NAME].text, "Charlie");
    assert_string_equal(rows[2].cell[VM_COL_NAME].text, "alpha");
    assert_string_equal(rows[3].cell[VM_COL_NAME].text, "bravo");

    vm_set_sort(v, VM_SORT_RECON);
    n = rows_at(v, &w, 80, 10, rows);
    assert_string_equal(rows[0].cell[VM_COL_NAME].text, "Charlie");
    assert_string_equal(rows[0].cell[VM_COL_RECON].text, "3");
    assert_string_equal(rows[1].cell[VM_COL_NAME].text, "alpha");

    /* the selection follows its endpoint through a re-sort */
    assert_true(vm_select(v, 0, -1));
    vm_set_sort(v, VM_SORT_NAME);
    n = rows_at(v, &w, 80, 10, rows);
    assert_true(vm_selected(v, &ep, &conn));
    assert_int_equal(ep, 0);
    assert_int_equal(conn, -1);
    assert_true(rows[3].selected);

    /* filter: name contains, ignoring case */
    vm_set_filter(v, VM_PANE_TABLE, "AL");
    n = rows_at(v, &w, 80, 10, rows);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].cell[VM_COL_NAME].text, "alpha");
    assert_true(rows[0].selected); /* delta is gone: the selection moves */
    vm_set_filter(v, VM_PANE_TABLE, "a");
    n = rows_at(v, &w, 80, 10, rows);
    assert_int_equal(n, 4);
    vm_set_filter(v, VM_PANE_TABLE, "zzz");
    n = rows_at(v, &w, 80, 10, rows);
    assert_int_equal(n, 0);
    assert_false(vm_selected(v, NULL, NULL));
    vm_set_filter(v, VM_PANE_TABLE, "");
    assert_int_equal(rows_at(v, &w, 80, 10, rows), 4);
    vm_free(v);
    world_fini(&w);
}

static void t_expand(void **st)
{
    static const char *const names[] = {"alb", "solo"};
    static const int conns[] = {3, 1};
    static struct vm_row rows[8];
    struct world w;
    struct vm *v = vm_new(NULL);
    size_t n;

    (void)st;
    world_init(&w, 2, names, NULL, conns);
    open_at(&w, 0, 0, 1, 1 * S, false);
    open_at(&w, 0, 1, 1, 1 * S, false);
    ev_attempt(&w, 0, 2, 1, 1 * S, false);
    open_at(&w, 1, 0, 1, 1 * S, false);
    world_now(&w, 3 * S);
    n = rows_at(v, &w, 200, 8, rows);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].cell[VM_COL_NAME].text, "alb 2/3+");
    /* the worst connection stands for the endpoint */
    assert_string_equal(rows[0].cell[VM_COL_STATE].text, "CONNECTING 0");
    vm_expand(v, 0, -1);
    n = rows_at(v, &w, 200, 8, rows);
    assert_int_equal(n, 5);
    assert_int_equal(rows[1].conn, 0);
    assert_string_equal(rows[1].cell[VM_COL_NAME].text, "  #1 203.0.113.7:443");
    assert_string_equal(rows[1].cell[VM_COL_STATE].text, "OPEN 1");
    assert_string_equal(rows[3].cell[VM_COL_STATE].text, "CONNECTING 0");
    assert_true(vm_select(v, 0, 2));
    vm_expand(v, 0, 0);
    n = rows_at(v, &w, 80, 8, rows);
    assert_int_equal(n, 2);
    assert_true(rows[0].selected);
    vm_expand(v, 1, 1); /* one connection: nothing to show */
    assert_int_equal(rows_at(v, &w, 80, 8, rows), 2);
    vm_free(v);
    world_fini(&w);
}

static void t_window_1000(void **st)
{
    enum { N = 1000, H = 20 };
    static struct vm_row rows[H];
    static char namebuf[N][16];
    const char **names = calloc(N, sizeof(*names));
    struct world w;
    struct vm *v = vm_new(NULL);
    struct vm_layout l;
    struct timespec t0, t1;
    size_t n;
    uint32_t ep;
    const struct vm_screen *s;
    double us;

    (void)st;
    for (int i = 0; i < N; i++) {
        snprintf(namebuf[i], sizeof(namebuf[i]), "ep%04d", i);
        names[i] = namebuf[i];
    }
    world_init(&w, N, names, NULL, NULL);
    for (uint32_t i = 0; i < N; i++) {
        open_at(&w, i, 0, 1, 1 * S, false);
        for (int k = 0; k < 48; k++)
            ev_pong(&w, i, 0, 1, 2 * S + k * S, 1000 + (uint32_t)(i * 7 + k * 13) % 5000);
    }
    world_now(&w, 60 * S);
    vm_layout(200, &l);
    vm_update(v, &w.in);
    assert_int_equal(vm_nrows(v), N);
    assert_true(vm_select(v, 500, -1));
    n = vm_rows(v, &w.in, &l, H, rows);
    assert_int_equal(n, H);
    assert_int_equal(rows[H - 1].ep, 500);
    assert_true(rows[H - 1].selected);
    vm_move(v, 3);
    n = vm_rows(v, &w.in, &l, H, rows);
    assert_int_equal(rows[H - 1].ep, 503);
    vm_move(v, INT_MAX);
    n = vm_rows(v, &w.in, &l, H, rows);
    assert_int_equal(rows[H - 1].ep, N - 1);
    vm_move(v, INT_MIN);
    n = vm_rows(v, &w.in, &l, H, rows);
    assert_int_equal(rows[0].ep, 0);
    vm_page(v, 1);
    assert_true(vm_selected(v, &ep, NULL));
    assert_true(ep > 0);

    /* a whole frame, sorted by RTT (the dearest order), timed */
    vm_set_sort(v, VM_SORT_RTT);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 10; i++) {
        vm_update(v, &w.in);
        s = vm_build(v, &w.in, 200, 50);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    us = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 1e3 / 10;
    printf("# 1000 endpoints, sort by rtt, 200x50: vm_update + vm_build %.0f us per frame\n", us);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 10; i++)
        vm_rows(v, &w.in, &l, H, rows);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    us = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 1e3 / 10;
    printf("# 1000 endpoints: the %d visible rows built in %.0f us\n", H, us);
    check_screen(s, 200, false);
    vm_free(v);
    world_fini(&w);
    free(names);
}

/* ---- the order kept between frames (repaired, not sorted again) ----------------------- */

/* The table's rows, in order, as (ep, conn) pairs; at most max. */
static size_t order_of(struct vm *v, struct world *w, struct key_pair *out, size_t max)
{
    static struct vm_row rows[ORDER_MAX];
    struct vm_layout l;
    size_t n;

    vm_update(v, &w->in);
    vm_layout(80, &l);
    assert_true(vm_nrows(v) <= ORDER_MAX);
    n = vm_rows(v, &w->in, &l, ORDER_MAX, rows);
    assert_int_equal(n, vm_nrows(v));
    for (size_t i = 0; i < n && i < max; i++) {
        out[i].ep = rows[i].ep;
        out[i].conn = rows[i].conn;
    }
    return n;
}

/* The names of the first n rows, space-separated. */
static const char *names_of(struct vm *v, struct world *w, size_t n)
{
    static struct vm_row rows[16];
    static char buf[512];
    size_t k, o = 0;

    assert_true(n <= 16);
    k = rows_at(v, w, 120, (int)n, rows);
    buf[0] = '\0';
    for (size_t i = 0; i < k; i++)
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", i ? " " : "",
                              rows[i].cell[VM_COL_NAME].text);
    return buf;
}

static void t_order_state_change(void **st)
{
    static const char *const names[] = {"delta", "alpha", "charlie", "bravo", "echo"};
    struct world w;
    struct vm *v = vm_new(NULL);
    uint32_t ep;
    int conn;

    (void)st;
    world_init(&w, 5, names, NULL, NULL);
    w.fed = v; /* this vm hears every event, as the dashboard's does */
    for (uint32_t i = 0; i < 5; i++)
        open_at(&w, i, 0, 1, 1 * S, false);
    world_now(&w, 2 * S);
    vm_set_sort(v, VM_SORT_STATE);
    assert_string_equal(names_of(v, &w, 5), "alpha bravo charlie delta echo");
    assert_true(vm_select(v, 2, -1)); /* charlie */

    /* charlie: OPEN -> CLOSED goes first (CLOSED, CONNECTING, CLOSING, OPEN) */
    ev_closed(&w, 2, 0, 1, 3 * S, EVT_CAUSE_EOF, EVT_BY_NETWORK, 1006, NULL);
    world_now(&w, 3 * S);
    assert_string_equal(names_of(v, &w, 5), "charlie alpha bravo delta echo");
    assert_true(vm_selected(v, &ep, &conn)); /* the selection moved with its endpoint */
    assert_int_equal(ep, 2);
    assert_int_equal(conn, -1);
    {
        static struct vm_row rows[5];

        rows_at(v, &w, 120, 5, rows);
        assert_true(rows[0].selected);
        assert_string_equal(rows[0].cell[VM_COL_STATE].text, "CLOSED 3");
    }
    /* echo: OPEN -> CLOSING, between the CLOSED and the OPEN ones */
    {
        struct evt e = mk(EVT_CLOSING, 4, 0, 1, 3 * S + 10);

        put(&w, &e);
    }
    assert_string_equal(names_of(v, &w, 5), "charlie echo alpha bravo delta");
    /* charlie tries again (CONNECTING), then opens: back to its place by name */
    ev_attempt(&w, 2, 0, 2, 4 * S, false);
    world_now(&w, 4 * S);
    assert_string_equal(names_of(v, &w, 5), "charlie echo alpha bravo delta");
    ev_closed(&w, 4, 0, 1, 4 * S + 5, EVT_CAUSE_CLOSE_FRAME, EVT_BY_SERVER, 1001, "bye");
    assert_string_equal(names_of(v, &w, 5), "echo charlie alpha bravo delta");
    open_at(&w, 2, 0, 3, 5 * S, false);
    world_now(&w, 6 * S);
    assert_string_equal(names_of(v, &w, 5), "echo alpha bravo charlie delta");
    assert_true(vm_selected(v, &ep, NULL));
    assert_int_equal(ep, 2);
    /* the header counts every endpoint */
    assert_true(screen_has(vm_build(v, &w.in, 200, 20), "5 endpoints: 4 open 1 closed"));
    vm_free(v);
    world_fini(&w);
}

static void t_order_rtt_change(void **st)
{
    static const char *const names[] = {"a", "b", "c", "d"};
    static const int conns[] = {1, 2, 1, 1};
    struct world w;
    struct vm *v = vm_new(NULL);

    (void)st;
    world_init(&w, 4, names, NULL, conns);
    w.fed = v;
    open_at(&w, 0, 0, 1, 1 * S, false);
    open_at(&w, 1, 0, 1, 1 * S, false);
    open_at(&w, 1, 1, 1, 1 * S, false);
    open_at(&w, 2, 0, 1, 1 * S, false);
    open_at(&w, 3, 0, 1, 1 * S, false);
    ev_pong(&w, 0, 0, 1, 2 * S, 3000);
    ev_pong(&w, 1, 0, 1, 2 * S, 1000);
    ev_pong(&w, 1, 1, 1, 2 * S, 2000);
    ev_pong(&w, 2, 0, 1, 2 * S, 5000);
    world_now(&w, 2 * S);
    vm_set_sort(v, VM_SORT_RTT); /* slowest first (an endpoint: its slowest connection) */
    assert_string_equal(names_of(v, &w, 4), "c a b 2/2+ d");
    assert_true(vm_select(v, 3, -1));

    /* medians move: a's median goes from 3 to 4 ms (3, 4, 5), b's second connection 9 ms */
    ev_pong(&w, 0, 0, 1, 3 * S, 4000);
    ev_pong(&w, 0, 0, 1, 3 * S + 1, 5000);
    ev_pong(&w, 1, 1, 1, 3 * S, 16000);
    world_now(&w, 3 * S);
    assert_string_equal(names_of(v, &w, 4), "b 2/2+ c a d");
    /* d gets its first sample: no longer last */
    ev_pong(&w, 3, 0, 1, 4 * S, 4500);
    world_now(&w, 4 * S);
    assert_string_equal(names_of(v, &w, 4), "b 2/2+ c d a");
    /* equal medians: by name */
    ev_pong(&w, 2, 0, 1, 5 * S, 4000);
    ev_pong(&w, 2, 0, 1, 5 * S + 1, 4000);
    ev_pong(&w, 3, 0, 1, 5 * S + 2, 4000);
    ev_pong(&w, 3, 0, 1, 5 * S + 3, 4000);
    world_now(&w, 5 * S);
    assert_string_equal(names_of(v, &w, 4), "b 2/2+ a c d");
    {
        uint32_t ep;

        assert_true(vm_selected(v, &ep, NULL));
        assert_int_equal(ep, 3);
    }
    /* a sort that changes later still sees every sample (they were not read under the name sort) */
    vm_set_sort(v, VM_SORT_NAME);
    assert_string_equal(names_of(v, &w, 4), "a b 2/2+ c d");
    ev_pong(&w, 2, 0, 1, 6 * S, 90000);
    ev_pong(&w, 2, 0, 1, 6 * S + 1, 90000);
    ev_pong(&w, 2, 0, 1, 6 * S + 2, 90000);
    world_now(&w, 6 * S);
    assert_string_equal(names_of(v, &w, 4), "a b 2/2+ c d");
    vm_set_sort(v, VM_SORT_RTT);
    assert_string_equal(names_of(v, &w, 4), "c b 2/2+ a d");
    vm_free(v);
    world_fini(&w);
}

static void t_order_filter(void **st)
{
    static const char *const names[] = {"web-1", "api-1", "web-2", "api-2", "web-3"};
    struct world w;
    struct vm *v = vm_new(NULL);
    uint32_t ep;

    (void)st;
    world_init(&w, 5, names, NULL, NULL);
    w.fed = v;
    for (uint32_t i = 0; i < 5; i++)
        open_at(&w, i, 0, 1, 1 * S, false);
    world_now(&w, 2 * S);
    vm_set_sort(v, VM_SORT_STATE);
    vm_set_filter(v, VM_PANE_TABLE, "WEB");
    assert_string_equal(names_of(v, &w, 5), "web-1 web-2 web-3");
    assert_true(vm_select(v, 4, -1)); /* web-3 */
    /* a change outside the filter: the rows stay */
    ev_closed(&w, 1, 0, 1, 3 * S, EVT_CAUSE_EOF, EVT_BY_NETWORK, 1006, NULL);
    world_now(&w, 3 * S);
    assert_string_equal(names_of(v, &w, 5), "web-1 web-2 web-3");
    /* inside: web-3 goes first, still selected */
    ev_closed(&w, 4, 0, 1, 3 * S, EVT_CAUSE_EOF, EVT_BY_NETWORK, 1006, NULL);
    assert_string_equal(names_of(v, &w, 5), "web-3 web-1 web-2");
    assert_true(vm_selected(v, &ep, NULL));
    assert_int_equal(ep, 4);
    /* the filter changes: api-1 (closed) first among the api ones; the changes made under
     * the other filter count */
    vm_set_filter(v, VM_PANE_TABLE, "api");
    assert_string_equal(names_of(v, &w, 5), "api-1 api-2");
    vm_set_filter(v, VM_PANE_TABLE, "");
    assert_string_equal(names_of(v, &w, 5), "api-1 web-3 api-2 web-1 web-2");
    assert_true(vm_selected(v, &ep, NULL)); /* web-3 was filtered out meanwhile: not kept */
    vm_free(v);
    world_fini(&w);
}

/* Random events, sorts, filters, expansions and selections; after each round the table of a
 * vm that lives through all of it (fed by vm_note, and one that is not) is the one a new vm
 * builds from scratch, and the two live ones draw the same screen. */
static void t_order_oracle(void **st)
{
    enum { N = 150, ROUNDS = 400 };
    static char namebuf[N][16];
    static const char *names[N];
    static int conns[N];
    static uint32_t att[N][3];
    static int state[N][3]; /* 0 none/closed, 1 connecting, 2 open, 3 closing */
    static bool expanded[N];
    static struct key_pair a[ORDER_MAX], b[ORDER_MAX], c[ORDER_MAX];
    static const char *const filters[] = {"", "1", "EP0", "x", "dup"};
    struct world w;
    struct vm *vf = vm_new(NULL), *vu = vm_new(NULL);
    unsigned seed = 12345;
    int64_t t = 1 * S;
    enum vm_sort sort = VM_SORT_NAME;
    const char *filter = "";

    (void)st;
    for (int i = 0; i < N; i++) {
        /* duplicates and names that differ only in case, and some from the URL */
        if (i % 11 == 0)
            snprintf(namebuf[i], sizeof(namebuf[i]), "dup");
        else
            snprintf(namebuf[i], sizeof(namebuf[i]), i % 3 ? "ep%03d" : "EP%03d", i % 40);
        names[i] = i % 17 == 5 ? NULL : namebuf[i];
        conns[i] = i % 7 == 0 ? 3 : 1;
    }
    world_init(&w, N, names, NULL, conns);
    w.fed = vf;
#define RND() (seed = seed * 1103515245u + 12345u, (seed >> 16) & 0x7fff)
    for (int r = 0; r < ROUNDS; r++) {
        int nev = (int)(RND() % (r < 5 ? 200 : 12));
        uint32_t sel_ep = 0;
        int sel_conn = 0;
        bool had_sel;
        size_t na, nb, nc;
        struct vm *fresh;

        for (int k = 0; k < nev; k++) {
            uint32_t ep = (uint32_t)(RND() % N), cn = (uint32_t)(RND() % (unsigned)conns[ep]);
            int *s = &state[ep][cn];

            t += 1000;
            switch (*s) {
            case 0:
                ev_attempt(&w, ep, cn, ++att[ep][cn], t, false);
                *s = 1;
                break;
            case 1:
                if (RND() % 3) {
                    ev_tcp(&w, ep, cn, att[ep][cn], t);
                    ev(&w, EVT_OPEN, ep, cn, att[ep][cn], t + 1);
                    *s = 2;
                } else {
                    ev_closed(&w, ep, cn, att[ep][cn], t, EVT_CAUSE_REFUSED, EVT_BY_NETWORK, 1006,
                              NULL);
                    *s = 0;
                }
                break;
            case 2:
                switch (RND() % 6) {
                case 0:
                    ev_closed(&w, ep, cn, att[ep][cn], t, EVT_CAUSE_EOF, EVT_BY_NETWORK, 1006,
                              NULL);
                    *s = 0;
                    break;
                case 1: {
                    struct evt e = mk(EVT_CLOSING, ep, cn, att[ep][cn], t);

                    put(&w, &e);
                    *s = 3;
                    break;
                }
                case 2:
                    ev_msg(&w, ep, cn, att[ep][cn], t, RND() % 2);
                    break;
                default:
                    ev_pong(&w, ep, cn, att[ep][cn], t, 500 + (uint32_t)(RND() % 20) * 250);
                    break;
                }
                break;
            default:
                ev_closed(&w, ep, cn, att[ep][cn], t, EVT_CAUSE_CLOSE_FRAME, EVT_BY_SERVER, 1000,
                          "");
                *s = 0;
                break;
            }
        }
        t += 150 * MS;
        world_now(&w, t);
        switch (RND() % 16) {
        case 0:
            sort = (enum vm_sort)(RND() % VM_SORT_COUNT);
            break;
        case 1:
            filter = filters[RND() % (sizeof(filters) / sizeof(filters[0]))];
            break;
        case 2: {
            uint32_t ep = (uint32_t)(RND() % N);

            expanded[ep] = !expanded[ep];
            vm_expand(vf, ep, expanded[ep]);
            vm_expand(vu, ep, expanded[ep]);
            break;
        }
        case 3:
            vm_move(vf, (int)(RND() % 40) - 20);
            if (vm_selected(vf, &sel_ep, &sel_conn)) {
                assert_true(vm_select(vu, sel_ep, sel_conn) || vm_select(vu, sel_ep, -1));
            }
            break;
        default:
            break;
        }
        vm_set_sort(vf, sort);
        vm_set_sort(vu, sort);
        vm_set_filter(vf, VM_PANE_TABLE, filter);
        vm_set_filter(vu, VM_PANE_TABLE, filter);
        had_sel = vm_selected(vf, &sel_ep, &sel_conn);

        na = order_of(vf, &w, a, ORDER_MAX);
        nb = order_of(vu, &w, b, ORDER_MAX);
        fresh = vm_new(NULL);
        vm_set_sort(fresh, sort);
        vm_set_filter(fresh, VM_PANE_TABLE, filter);
        vm_update(fresh, &w.in);
        for (uint32_t ep = 0; ep < N; ep++)
            if (expanded[ep])
                vm_expand(fresh, ep, 1);
        nc = order_of(fresh, &w, c, ORDER_MAX);
        vm_free(fresh);
        if (na != nc || nb != nc)
            fail_msg("round %d (sort %s, filter '%s'): %zu, %zu rows, a new vm %zu", r,
                     vm_sort_name(sort), filter, na, nb, nc);
        for (size_t i = 0; i < nc; i++)
            if (a[i].ep != c[i].ep || a[i].conn != c[i].conn || b[i].ep != c[i].ep ||
                b[i].conn != c[i].conn)
                fail_msg("round %d (sort %s, filter '%s'), row %zu: fed %u/%d, unfed %u/%d, "
                         "a new vm %u/%d",
                         r, vm_sort_name(sort), filter, i, a[i].ep, a[i].conn, b[i].ep, b[i].conn,
                         c[i].ep, c[i].conn);
        /* the selection stays on its row while that is shown */
        if (had_sel) {
            uint32_t e2;
            int c2;
            bool shown = false;

            for (size_t i = 0; i < na; i++)
                shown = shown || (a[i].ep == sel_ep && a[i].conn == sel_conn);
            assert_true(vm_selected(vf, &e2, &c2));
            if (shown && (e2 != sel_ep || c2 != sel_conn))
                fail_msg("round %d: selection %u/%d became %u/%d", r, sel_ep, sel_conn, e2, c2);
        }
        /* fed or not, the same screen: the header's counts, the rates, the rows */
        if (r % 10 == 0 || r == ROUNDS - 1) {
            static char la[VM_LINE_MAX * 2];
            const struct vm_screen *sa, *sb;

            sa = vm_build(vf, &w.in, 200, 40);
            for (int y = 0; y < sa->h; y++) {
                snprintf(la, sizeof(la), "%s", plain(&sa->line[y]));
                sb = vm_build(vu, &w.in, 200, 40);
                if (strcmp(la, plain(&sb->line[y])))
                    fail_msg("round %d, line %d: fed '%s', unfed '%s'", r, y, la,
                             plain(&sb->line[y]));
                sa = vm_build(vf, &w.in, 200, 40);
            }
        }
    }
#undef RND
    vm_free(vf);
    vm_free(vu);
    world_fini(&w);
}

/* 10,000 endpoints: the window around the selection, a move by state, the header. */
static void t_window_10000(void **st)
{
    enum { N = 10000, H = 30 };
    static struct vm_row rows[H];
    static char namebuf[N][16];
    const char **names = calloc(N, sizeof(*names));
    struct world w;
    struct vm *v = vm_new(NULL);
    struct vm_layout l;
    struct timespec t0, t1;
    const struct vm_screen *s;
    size_t n;
    uint32_t ep;
    double us;

    (void)st;
    for (int i = 0; i < N; i++) {
        snprintf(namebuf[i], sizeof(namebuf[i]), "bench%05d", (i * 7919) % N);
        names[i] = namebuf[i];
    }
    world_init(&w, N, names, NULL, NULL);
    w.fed = v;
    for (uint32_t i = 0; i < N; i++) {
        open_at(&w, i, 0, 1, 1 * S, false);
        ev_pong(&w, i, 0, 1, 2 * S, 1000 + i % 977);
    }
    world_now(&w, 3 * S);
    vm_layout(200, &l);
    vm_update(v, &w.in);
    assert_int_equal(vm_nrows(v), N);
    /* bench05000 is endpoint k with k * 7919 % N == 5000 */
    for (ep = 0; ep < N && (ep * 7919) % N != 5000; ep++)
        ;
    assert_true(vm_select(v, ep, -1));
    n = vm_rows(v, &w.in, &l, H, rows);
    assert_int_equal(n, H);
    assert_string_equal(rows[H - 1].cell[VM_COL_NAME].text, "bench05000");
    assert_true(rows[H - 1].selected);
    assert_string_equal(rows[0].cell[VM_COL_NAME].text, "bench04971");

    /* state sort: all open, so by name; then one closes and goes first, the window follows
     * the selection there */
    vm_set_sort(v, VM_SORT_STATE);
    vm_update(v, &w.in);
    ev_closed(&w, ep, 0, 1, 4 * S, EVT_CAUSE_EOF, EVT_BY_NETWORK, 1006, NULL);
    world_now(&w, 4 * S);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    vm_update(v, &w.in);
    s = vm_build(v, &w.in, 200, 50);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    us = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 1e3;
    printf("# 10000 endpoints, one moved under the state sort: a frame in %.0f us\n", us);
    n = vm_rows(v, &w.in, &l, H, rows);
    assert_string_equal(rows[0].cell[VM_COL_NAME].text, "bench05000");
    assert_true(rows[0].selected);
    assert_string_equal(rows[1].cell[VM_COL_NAME].text, "bench00000");
    assert_true(screen_has(s, "10000 endpoints: 9999 open 1 closed"));
    vm_move(v, INT_MAX);
    n = vm_rows(v, &w.in, &l, H, rows);
    assert_string_equal(rows[H - 1].cell[VM_COL_NAME].text, "bench09999");
    /* RTT sort over all of them: slowest first */
    vm_set_sort(v, VM_SORT_RTT);
    vm_update(v, &w.in);
    vm_move(v, INT_MIN);
    n = vm_rows(v, &w.in, &l, H, rows);
    {
        char ms[32], want[80];

        vm_fmt_ms(1976, ms, sizeof(ms)); /* the slowest: 1000 + 976 us */
        snprintf(want, sizeof(want), "%s/%s", ms, ms);
        assert_string_equal(rows[0].cell[VM_COL_RTT].text, want);
        assert_true(rows[0].ep % 977 == 976);
    }
    /* a frame with nothing changed */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    vm_update(v, &w.in);
    s = vm_build(v, &w.in, 200, 50);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    us = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 1e3;
    printf("# 10000 endpoints, sort by rtt, nothing changed: a frame in %.0f us\n", us);
    check_screen(s, 200, false);
    vm_free(v);
    world_fini(&w);
    free(names);
}

/* ---- hostile text ----------------------------------------------------------------------- */

static void t_hostile(void **st)
{
    static const char *const names[] = {"evil\x1b]0;pwned\x07\x1b[2J\x9b"};
    static struct vm_row rows[1];
    struct vm_opts o = {.utc = true};
    struct world w;
    struct vm *v = vm_new(&o);
    const struct vm_screen *s;
    struct evt e;
    static struct vm_line lines[160];
    size_t n;

    (void)st;
    world_init(&w, 1, names, NULL, NULL);
    ev_attempt(&w, 0, 0, 1, 1 * S, false);
    ev_dns(&w, 0, 0, 1, 1 * S + 100);
    ev_tcp(&w, 0, 0, 1, 1 * S + 200);
    ev(&w, EVT_REQUEST, 0, 0, 1, 1 * S + 300);
    e = mk(EVT_RESPONSE, 0, 0, 1, 1 * S + 400);
    e.u.http.status = 101;
    snprintf(e.u.http.upgrade, sizeof(e.u.http.upgrade), "websocket");
    snprintf(e.u.http.server, sizeof(e.u.http.server), "nginx\x1b[31mRED\x1b[0m\r\nX-Evil: 1");
    put(&w, &e);
    ev(&w, EVT_OPEN, 0, 0, 1, 1 * S + 500);
    e = mk(EVT_MSG, 0, 0, 1, 1 * S + 600);
    e.u.msg.first_len =
        (uint32_t)snprintf(e.u.msg.first, sizeof(e.u.msg.first), "\x1b[2J\x1b]0;pwned\x07");
    e.u.msg.len = e.u.msg.first_len;
    put(&w, &e);
    ev_closed(&w, 0, 0, 1, 2 * S, EVT_CAUSE_CLOSE_FRAME, EVT_BY_SERVER, 1008,
              "policy \x1b[31mred\x1b[0m\x07");
    e = mk(EVT_MARK, EVT_EP_NONE, 0, 0, 3 * S);
    snprintf(e.u.mark.text, sizeof(e.u.mark.text), "mark \x1b[5mblink\x1b[0m");
    put(&w, &e);
    world_now(&w, 4 * S);

    assert_int_equal(rows_at(v, &w, 200, 1, rows), 1);
    assert_string_equal(rows[0].cell[VM_COL_NAME].text, "evil\\e]0;pwned\\x07\\e[2J\\x9b");
    assert_string_equal(rows[0].cell[VM_COL_REASON].text, "policy \\e[31mred\\e[0m\\x07");
    s = vm_build(v, &w.in, 200, 40);
    dump_screen(s);
    check_screen(s, 200, false);
    assert_true(screen_has(s, "CLOSED 1008 by server after 1.0 s 'policy \\e[31mred\\e[0m\\x07'"));
    assert_true(screen_has(s, "- MARK mark \\e[5mblink\\e[0m"));
    n = vm_detail(v, &w.in, 120, lines, 160);
    assert_true(n > 10);
    {
        bool server = false, first = false;

        for (size_t i = 0; i < n; i++) {
            check_line(&lines[i], 120, "detail");
            if (strstr(plain(&lines[i]), "nginx\\e[31mRED\\e[0m\\r\\nX-Evil: 1"))
                server = true;
            if (strstr(plain(&lines[i]), "\"\\e[2J\\e]0;pwned\\x07\""))
                first = true;
        }
        assert_true(server);
        assert_true(first);
    }
    vm_set_view(v, VM_VIEW_DETAIL);
    s = vm_build(v, &w.in, 80, 24);
    dump_screen(s);
    check_screen(s, 80, false);
    vm_free(v);
    world_fini(&w);
}

/* ---- widths ------------------------------------------------------------------------------ */

static void check_layout(int width)
{
    struct vm_layout l;
    int end = 0;

    vm_layout(width, &l);
    assert_true(l.n > 0);
    for (int i = 0; i < l.n; i++) {
        assert_true(l.c[i].x >= end);
        assert_true(l.c[i].w > 0);
        end = l.c[i].x + l.c[i].w;
        assert_true(end <= width);
        if (i)
            assert_true(l.c[i].col > l.c[i - 1].col);
    }
}

static bool has_col(int width, enum vm_col c)
{
    struct vm_layout l;

    vm_layout(width, &l);
    for (int i = 0; i < l.n; i++)
        if (l.c[i].col == c)
            return true;
    return false;
}

static void t_widths(void **st)
{
    static const char *const names[E_COUNT] = {
        "connecting-with-a-very-long-endpoint-name-that-cannot-fit",
        "日本語のエンドポイント名前",
        "closing",
        "refused",
        "dns",
        "tls",
        "lb502",
        "lb200",
        "srv1011",
        "idle",
        "retry"};
    static struct vm_row rows[E_COUNT];
    static const int widths[] = {60, 80, 81, 100, 120, 160, 200, 400, 500};
    struct world w;

    (void)st;
    world_init(&w, E_COUNT, names, NULL, NULL);
    fill_states(&w);
    world_now(&w, 200 * S);

    /* 80 columns: the core, most important first; 200: everything */
    for (enum vm_col c = VM_COL_NAME; c < VM_COL_COUNT; c++) {
        bool core = c == VM_COL_NAME || c == VM_COL_STATE || c == VM_COL_CLASS ||
                    c == VM_COL_TIME || c == VM_COL_RTT || c == VM_COL_CODE || c == VM_COL_RECON;

        assert_int_equal(has_col(80, c), core);
        assert_true(has_col(200, c));
    }
    assert_false(has_col(60, VM_COL_RECON));
    assert_true(has_col(60, VM_COL_CODE));

    for (int a = 0; a < 2; a++) {
        struct vm_opts o = {.ascii = a == 1, .utc = true};

        for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
            int wd = widths[i];
            struct vm *v = vm_new(&o);
            struct vm_layout l;
            size_t n;
            const struct vm_screen *s;

            check_layout(wd > VM_MAX_W ? VM_MAX_W : wd);
            n = rows_at(v, &w, wd, E_COUNT, rows);
            vm_layout(wd, &l);
            assert_int_equal(n, E_COUNT);
            for (size_t r = 0; r < n; r++)
                for (int c = 0; c < l.n; c++)
                    if (vm_text_width(rows[r].cell[l.c[c].col].text) > l.c[c].w)
                        fail_msg("width %d: row %zu column %d '%s' wider than %d", wd, r,
                                 l.c[c].col, rows[r].cell[l.c[c].col].text, l.c[c].w);
            for (int h = 15; h <= 50; h += 35) {
                s = vm_build(v, &w.in, wd, h);
                if (wd == 80 && h == 15 && !a)
                    dump_screen(s);
                check_screen(s, wd, o.ascii);
                assert_true(screen_has(s, "wsmon"));
                vm_set_view(v, VM_VIEW_DETAIL);
                s = vm_build(v, &w.in, wd, h);
                check_screen(s, wd, o.ascii);
                vm_set_view(v, VM_VIEW_HELP);
                s = vm_build(v, &w.in, wd, h);
                check_screen(s, wd, o.ascii);
                vm_set_view(v, VM_VIEW_MAIN);
            }
            vm_free(v);
        }
    }
    world_fini(&w);
}

static void t_too_small(void **st)
{
    static const char *const names[] = {"alb"};
    struct world w;
    struct vm *v = vm_new(NULL);
    const struct vm_screen *s;

    (void)st;
    world_init(&w, 1, names, NULL, NULL);
    vm_update(v, &w.in);
    s = vm_build(v, &w.in, 59, 24);
    assert_true(screen_has(s, "terminal too small: 59x24, wsmon needs 60x15"));
    s = vm_build(v, &w.in, 80, 14);
    assert_true(screen_has(s, "too small"));
    s = vm_build(v, &w.in, 10, 3);
    check_screen(s, 10, false);
    s = vm_build(v, &w.in, 1, 1);
    check_screen(s, 1, false);
    s = vm_build(v, &w.in, 60, 15);
    assert_false(screen_has(s, "too small"));
    check_screen(s, 60, false);
    vm_free(v);
    world_fini(&w);
}

/* ---- detail ------------------------------------------------------------------------------ */

static bool lines_have(const struct vm_line *l, size_t n, const char *needle)
{
    for (size_t i = 0; i < n; i++)
        if (strstr(plain(&l[i]), needle))
            return true;
    return false;
}

static void dump_lines(const struct vm_line *l, size_t n)
{
    if (!getenv("TEST_VM_DUMP"))
        return;
    for (size_t i = 0; i < n; i++)
        printf("# |%s\n", plain(&l[i]));
}

static void t_detail_tls_failed(void **st)
{
    static const char *const names[] = {"alb"};
    static const char *const urls[] = {"wss://ws.example.com/demo?token=s3cret"};
    static struct vm_line lines[160];
    struct vm_opts o = {.utc = true};
    struct world w;
    struct vm *v = vm_new(&o);
    size_t n;

    (void)st;
    world_init(&w, 1, names, urls, NULL);
    ev_attempt(&w, 0, 0, 1, 10 * S, true);
    ev_dns(&w, 0, 0, 1, 10 * S + 1200);
    ev_tcp(&w, 0, 0, 1, 10 * S + 2100);
    /* expired 2026-09-21: 66 days before "now" */
    ev_tls(&w, 0, 1, 10 * S + 9600, EVT_VERIFY_EXPIRED, 1790000000);
    ev_closed(&w, 0, 0, 1, 10 * S + 9700, EVT_CAUSE_TLS_EXPIRED, EVT_BY_NETWORK, 1006, NULL);
    world_now(&w, 20 * S);
    vm_update(v, &w.in);
    n = vm_detail(v, &w.in, 80, lines, 160);
    dump_lines(lines, n);
    assert_true(n > 10);
    assert_true(n < 160);
    for (size_t i = 0; i < n; i++)
        check_line(&lines[i], 80, "detail");
    assert_true(lines_have(lines, n, "alb  wss://ws.example.com/demo?token=***"));
    assert_false(lines_have(lines, n, "s3cret"));
    assert_true(lines_have(lines, n, "State      CLOSED 3 for 10.0 s, attempt #1"));
    assert_true(lines_have(lines, n, "Verdict    tls-expired"));
    assert_true(lines_have(lines, n,
                           "           the certificate of ws.example.com expired on "
                           "2026-09-21 14:13:20 UTC"));
    assert_true(lines_have(lines, n, "           (65 days ago)"));
    assert_true(lines_have(lines, n, "Hint       renew the certificate"));
    assert_true(lines_have(lines, n, "Last attempt #1, started 12:00:10.000"));
    assert_true(lines_have(lines, n, "  dns         1.2 ms ██··"));
    assert_true(lines_have(lines, n, "  tcp         0.9 ms ··██··"));
    assert_true(lines_have(lines, n, "203.0.113.7:443 from 192.0.2.5:53422"));
    assert_true(lines_have(lines, n, "  tls         FAILED ····███"));
    assert_true(lines_have(lines, n, "█ after 7.6 ms tls-expired"));
    assert_true(lines_have(lines, n, "  ended       9.7 ms before open: a browser shows 1006"));
    assert_true(lines_have(lines, n, "TLS certificate"));
    assert_true(lines_have(lines, n, "  subject  CN=ws.example.com"));
    assert_true(lines_have(lines, n, "  issuer   CN=Amazon RSA 2048 M02"));
    assert_true(lines_have(lines, n, "  expires  2026-09-21 14:13 UTC, expired 65 days ago"));
    assert_true(lines_have(lines, n, "  verify   expired (X509 error 10)"));
    assert_true(lines_have(lines, n, "Close codes"));
    assert_true(lines_have(lines, n, "  1006  abnormal"));
    assert_true(lines_have(lines, n, "  ends     tls-expired 1"));
    assert_false(lines_have(lines, n, "Upgrade response"));
    vm_free(v);
    world_fini(&w);
}

static void t_detail_healthy(void **st)
{
    static const char *const names[] = {"alb", "ec2-direct"};
    static const char *const urls[] = {"wss://ws.example.com/demo",
                                       "wss://ws.example.com:3000/demo"};
    static struct vm_line lines[160];
    struct vm_opts o = {.utc = true};
    struct world w;
    struct vm *v = vm_new(&o);
    char err[256];
    size_t n;

    (void)st;
    world_init(&w, 2, names, urls, NULL);
    assert_int_equal(cfg_ep_set(&w.cfg.eps[0], "group", "demo", err, sizeof(err)), 0);
    assert_int_equal(cfg_ep_set(&w.cfg.eps[0], "via", "lb", err, sizeof(err)), 0);
    assert_int_equal(cfg_ep_set(&w.cfg.eps[1], "group", "demo", err, sizeof(err)), 0);
    assert_int_equal(cfg_ep_set(&w.cfg.eps[1], "via", "direct", err, sizeof(err)), 0);
    /* alb: one abnormal close at 60 s, then open again */
    open_at(&w, 0, 0, 1, 1 * S, true);
    ev_closed(&w, 0, 0, 1, 1 * S + 83 * MS + 60 * S, EVT_CAUSE_EOF, EVT_BY_NETWORK, 1006, NULL);
    open_at(&w, 0, 0, 2, 70 * S, true);
    ev_msg(&w, 0, 0, 2, 70 * S + 90 * MS, false);
    for (int k = 0; k < 5; k++)
        ev_pong(&w, 0, 0, 2, 71 * S + k * S, 2000 + (uint32_t)k * 100);
    /* ec2-direct: refused */
    ev_attempt(&w, 1, 0, 1, 1 * S, true);
    ev_closed(&w, 1, 0, 1, 1 * S + 1000, EVT_CAUSE_REFUSED, EVT_BY_NETWORK, 1006, NULL);
    world_now(&w, 70 * S + 83 * MS + 723 * S);
    vm_update(v, &w.in);
    assert_true(vm_select(v, 0, -1));
    n = vm_detail(v, &w.in, 80, lines, 160);
    dump_lines(lines, n);
    for (size_t i = 0; i < n; i++)
        check_line(&lines[i], 80, "detail");
    assert_true(lines_have(lines, n, "  group demo, via lb, ping 5.0 s, timeout 10.0 s"));
    assert_true(lines_have(lines, n, "State      OPEN 1 for 12m03s, attempt #2 (1 reconnects)"));
    assert_true(lines_have(lines, n, "Verdict    healthy"));
    assert_true(lines_have(lines, n,
                           "           open in 83.0 ms, 5/5 pings answered, median RTT "
                           "2.2 ms"));
    assert_true(lines_have(lines, n, "RTT ms     last 2.4  median 2.2  min 2.0 max 2.4  ▁▃▅▆█"));
    assert_true(lines_have(lines, n, "Last attempt #2, started 12:01:10.000, open"));
    assert_true(lines_have(lines, n, "  dns         1.2 ms █"));
    assert_true(lines_have(lines, n, "  tls         7.5 ms ██"));
    assert_true(lines_have(lines, n, "TLSv1.3 TLS_AES_128_GCM_SHA256"));
    assert_true(lines_have(lines, n, "  upgrade      72 ms ··███"));
    assert_true(lines_have(lines, n, "HTTP 101"));
    assert_true(lines_have(lines, n, "  open         83 ms from the start"));
    assert_true(lines_have(lines, n, "  1st msg      90 ms \"hello\""));
    assert_true(lines_have(lines, n, "  open for    12m03s"));
    assert_true(lines_have(lines, n, "  expires  2027-01-15 08:00 UTC, 49 days left"));
    assert_true(lines_have(lines, n, "  verify   ok"));
    assert_true(lines_have(lines, n, "Upgrade response"));
    assert_true(lines_have(lines, n,
                           "  status   101  Upgrade: websocket  Connection: Upgrade  "
                           "Accept: valid"));
    assert_true(lines_have(lines, n, "  server   awselb/2.0"));
    assert_true(lines_have(lines, n, "  cookies  AWSALB"));
    assert_true(lines_have(lines, n, "  attempts 2 started, 2 opened, 1 ended"));
    assert_true(lines_have(lines, n, "  open for min 60.0 s, avg 60.0 s, max 60.0 s (1 closed)"));
    assert_true(lines_have(lines, n, "  messages in 1 (5 B), out 0 (0 B)"));
    assert_true(lines_have(lines, n, "Backends (recent attempts)"));
    assert_true(lines_have(lines, n, "  203.0.113.7:443"));
    assert_true(lines_have(lines, n, "Group demo"));
    assert_true(lines_have(lines, n, "> alb"));
    assert_true(lines_have(lines, n, "  ec2-direct"));
    assert_true(lines_have(lines, n, "via direct"));
    vm_free(v);
    world_fini(&w);
}

/* ---- verdicts over several attempts --------------------------------------------------------- */

static void t_multi_verdicts(void **st)
{
    static const char *const names[] = {"idle", "flappy", "alb", "ec2-direct", "pool"};
    static const int conns[] = {1, 1, 1, 1, 3};
    static struct vm_line lines[160];
    static struct vm_row rows[8];
    struct vm_opts o = {.utc = true};
    struct world w;
    struct vm *v = vm_new(&o);
    char err[256];
    size_t n;
    int64_t t;

    (void)st;
    world_init(&w, 5, names, NULL, conns);
    assert_int_equal(cfg_ep_set(&w.cfg.eps[2], "group", "demo", err, sizeof(err)), 0);
    assert_int_equal(cfg_ep_set(&w.cfg.eps[2], "via", "lb", err, sizeof(err)), 0);
    assert_int_equal(cfg_ep_set(&w.cfg.eps[3], "group", "demo", err, sizeof(err)), 0);
    assert_int_equal(cfg_ep_set(&w.cfg.eps[3], "via", "direct", err, sizeof(err)), 0);

    /* idle: three quiet connections cut by the network after 60 s */
    t = 1 * S;
    for (uint32_t a = 1; a <= 3; a++) {
        open_at(&w, 0, 0, a, t, false);
        ev_closed(&w, 0, 0, a, t + 83 * MS + 60 * S + a * 100 * MS, EVT_CAUSE_EOF, EVT_BY_NETWORK,
                  1006, NULL);
        t += 62 * S;
    }
    /* flappy: five connections that open, talk, and drop after 1.5 s */
    for (uint32_t a = 1; a <= 5; a++) {
        int64_t t0 = (int64_t)a * 3 * S;

        open_at(&w, 1, 0, a, t0, false);
        ev_msg(&w, 1, 0, a, t0 + 100 * MS, false);
        ev_closed(&w, 1, 0, a, t0 + 1500 * MS, EVT_CAUSE_EOF, EVT_BY_NETWORK, 1006, NULL);
    }
    /* alb (via lb) answers 502; ec2-direct (via direct) is healthy */
    ev_attempt(&w, 2, 0, 1, 1 * S, false);
    ev_dns(&w, 2, 0, 1, 1 * S + 1000);
    ev_tcp(&w, 2, 0, 1, 1 * S + 2000);
    ev(&w, EVT_REQUEST, 2, 0, 1, 1 * S + 2100);
    ev_response(&w, 2, 0, 1, 1 * S + 5000, 502, "awselb/2.0");
    ev_closed(&w, 2, 0, 1, 1 * S + 5100, EVT_CAUSE_HTTP_STATUS, EVT_BY_SERVER, 1006, NULL);
    open_at(&w, 3, 0, 1, 1 * S, false);
    /* pool: three connections, three backends; the third one fails every time */
    for (uint32_t c = 0; c < 2; c++) {
        char remote[32];

        snprintf(remote, sizeof(remote), "192.0.2.%u:443", c + 1);
        ev_attempt(&w, 4, c, 1, 1 * S, false);
        ev_tcp_to(&w, 4, c, 1, 1 * S + 1000, remote);
        ev(&w, EVT_REQUEST, 4, c, 1, 1 * S + 1100);
        ev_response(&w, 4, c, 1, 1 * S + 2000, 101, "nginx");
        ev(&w, EVT_OPEN, 4, c, 1, 1 * S + 2100);
    }
    for (uint32_t a = 1; a <= 4; a++) {
        int64_t t0 = (int64_t)a * S;

        ev_attempt(&w, 4, 2, a, t0, false);
        ev_tcp_to(&w, 4, 2, a, t0 + 1000, "192.0.2.3:443");
        ev(&w, EVT_REQUEST, 4, 2, a, t0 + 1100);
        ev_closed(&w, 4, 2, a, t0 + 1500, EVT_CAUSE_EOF, EVT_BY_NETWORK, 1006, NULL);
    }
    world_now(&w, 200 * S);
    vm_update(v, &w.in);

    /* the table names the idle timeout */
    n = rows_at(v, &w, 80, 8, rows);
    assert_string_equal(row_of(rows, n, 0)->cell[VM_COL_CLASS].text, "idle-timeout");
    assert_string_equal(row_of(rows, n, 1)->cell[VM_COL_CLASS].text, "abnormal-close");

    assert_true(vm_select(v, 0, -1));
    n = vm_detail(v, &w.in, 100, lines, 160);
    dump_lines(lines, n);
    assert_true(lines_have(lines, n, "Pattern    idle-timeout"));
    assert_true(lines_have(lines, n, "3 idle connections closed after 60."));

    assert_true(vm_select(v, 1, -1));
    n = vm_detail(v, &w.in, 100, lines, 160);
    dump_lines(lines, n);
    assert_true(lines_have(lines, n, "Pattern    flapping (abnormal-close)"));
    assert_true(lines_have(lines, n, "flapping: 5 connections opened and dropped"));

    assert_true(vm_select(v, 2, -1));
    n = vm_detail(v, &w.in, 100, lines, 160);
    dump_lines(lines, n);
    assert_true(lines_have(lines, n, "Pattern    group (http-status)"));
    assert_true(lines_have(lines, n, "the load balancer path (alb) fails in upgrade"));
    assert_true(lines_have(lines, n, "Group demo"));
    assert_true(lines_have(lines, n, "  compare  the load balancer path (alb) fails"));

    assert_true(vm_select(v, 4, -1));
    n = vm_detail(v, &w.in, 100, lines, 160);
    dump_lines(lines, n);
    assert_true(lines_have(lines, n, "Pattern    backends (closed-before-open)"));
    assert_true(lines_have(lines, n, "1 of 3 backends fails: 192.0.2.3:443"));
    assert_true(lines_have(lines, n, "  192.0.2.3:443"));
    assert_true(lines_have(lines, n, "4 failed (last closed-before-open)"));

    /* scrolled to its end, the detail view shows its last line */
    {
        const struct vm_screen *sc;

        assert_true(vm_select(v, 2, -1));
        vm_set_view(v, VM_VIEW_DETAIL);
        vm_move(v, INT_MAX);
        sc = vm_build(v, &w.in, 80, 24);
        dump_screen(sc);
        n = vm_detail(v, &w.in, 80, lines, 160);
        assert_string_equal(plain(&sc->line[22]), plain(&lines[n - 1]));
        /* the text grows by a line (a new close code): the end stays in view */
        ev_attempt(&w, 2, 0, 2, 201 * S, false);
        ev_closed(&w, 2, 0, 2, 201 * S + 500, EVT_CAUSE_REFUSED, EVT_BY_NETWORK, 1015, NULL);
        vm_update(v, &w.in);
        sc = vm_build(v, &w.in, 80, 24);
        n = vm_detail(v, &w.in, 80, lines, 160);
        assert_string_equal(plain(&sc->line[22]), plain(&lines[n - 1]));
        /* one line up leaves the end */
        vm_move(v, -1);
        sc = vm_build(v, &w.in, 80, 24);
        assert_string_equal(plain(&sc->line[22]), plain(&lines[n - 2]));
        vm_set_view(v, VM_VIEW_MAIN);
    }

    /* the log: a single 60 s close is a guess, the third of a cluster is not */
    {
        struct vm_line log[64];
        bool guess = false, sure = false;

        vm_set_filter(v, VM_PANE_LOG, "idle CLOSED");
        n = vm_log(v, &w.in, 120, log, 64);
        assert_int_equal(n, 3);
        for (size_t i = 0; i < n; i++) {
            if (strstr(plain(&log[i]), "(idle-timeout?)"))
                guess = true;
            if (strstr(plain(&log[i]), "(idle-timeout)"))
                sure = true;
        }
        assert_false(guess); /* the cluster is known now: every one of them belongs */
        assert_true(sure);
    }
    vm_free(v);
    world_fini(&w);
}

/* ---- the event log ------------------------------------------------------------------------ */

static void t_log_lines(void **st)
{
    static const char *const names[] = {"alb"};
    static struct vm_line lines[8];
    struct vm_opts o = {.utc = true};
    struct world w;
    struct vm *v = vm_new(&o);
    struct evt e;
    int64_t t_open = 184512 * MS; /* 12:03:04.512 */
    size_t n;

    (void)st;
    world_init(&w, 1, names, NULL, NULL);
    open_at(&w, 0, 0, 1, t_open - 83 * MS, false);
    ev_closed(&w, 0, 0, 1, t_open + 60 * S + 20 * MS, EVT_CAUSE_EOF, EVT_BY_NETWORK, 1006, NULL);
    e = mk(EVT_HEALTH, 0, 0, 0, t_open + 61 * S);
    e.u.health.status = 200;
    e.u.health.latency_us = 12 * MS;
    put(&w, &e);
    e = mk(EVT_MARK, EVT_EP_NONE, 0, 0, t_open + 62 * S);
    snprintf(e.u.mark.text, sizeof(e.u.mark.text), "deploy started");
    put(&w, &e);
    e = mk(EVT_MARK, 0, 0, 0, t_open + 63 * S);
    snprintf(e.u.mark.text, sizeof(e.u.mark.text), "alb drained");
    put(&w, &e);
    e = mk(EVT_HEALTH, 0, 0, 0, t_open + 64 * S);
    e.u.health.status = 0;
    e.u.health.latency_us = 5 * S;
    snprintf(e.u.health.error, sizeof(e.u.health.error), "connection refused");
    put(&w, &e);
    ev_attempt(&w, 0, 0, 2, t_open + 65 * S, false);
    ev_closed(&w, 0, 0, 2, t_open + 65 * S + 1500, EVT_CAUSE_REFUSED, EVT_BY_NETWORK, 1006, NULL);
    world_now(&w, t_open + 70 * S);
    vm_update(v, &w.in);
    n = vm_log(v, &w.in, 80, lines, 8);
    assert_int_equal(n, 7);
    assert_string_equal(plain(&lines[0]), "12:03:04.512 alb OPEN after 83 ms");
    assert_string_equal(plain(&lines[1]),
                        "12:04:04.532 alb CLOSED 1006 by network after 60.0 s (idle-timeout?)");
    assert_string_equal(plain(&lines[2]), "12:04:05.512 alb HEALTH 200 in 12 ms");
    assert_string_equal(plain(&lines[3]), "12:04:06.512 - MARK deploy started");
    assert_string_equal(plain(&lines[4]), "12:04:07.512 alb MARK alb drained");
    assert_string_equal(plain(&lines[5]), "12:04:08.512 alb HEALTH failed: connection refused");
    assert_string_equal(plain(&lines[6]),
                        "12:04:09.513 alb CLOSED 1006 by network after 1.5 ms (tcp-refused)");
    assert_int_equal(lines[0].span[3].style, VM_OK);

    /* a window of 3 ends with the newest */
    n = vm_log(v, &w.in, 80, lines, 3);
    assert_int_equal(n, 3);
    assert_string_equal(plain(&lines[2]),
                        "12:04:09.513 alb CLOSED 1006 by network after 1.5 ms (tcp-refused)");
    /* scrolled up by 2, it stays put while new entries arrive */
    vm_set_pane(v, VM_PANE_LOG);
    vm_move(v, -2);
    n = vm_log(v, &w.in, 80, lines, 3);
    assert_string_equal(plain(&lines[2]), "12:04:07.512 alb MARK alb drained");
    e = mk(EVT_MARK, EVT_EP_NONE, 0, 0, t_open + 66 * S);
    snprintf(e.u.mark.text, sizeof(e.u.mark.text), "later");
    put(&w, &e);
    n = vm_log(v, &w.in, 80, lines, 3);
    assert_string_equal(plain(&lines[2]), "12:04:07.512 alb MARK alb drained");
    vm_move(v, INT_MAX);
    n = vm_log(v, &w.in, 80, lines, 3);
    assert_string_equal(plain(&lines[2]), "12:04:10.512 - MARK later");
    vm_move(v, INT_MIN);
    n = vm_log(v, &w.in, 80, lines, 3);
    assert_string_equal(plain(&lines[0]), "12:03:04.512 alb OPEN after 83 ms");

    /* filtered: lines that contain the text, ignoring case */
    vm_set_filter(v, VM_PANE_LOG, "mark");
    n = vm_log(v, &w.in, 80, lines, 8);
    assert_int_equal(n, 3);
    assert_string_equal(plain(&lines[0]), "12:04:06.512 - MARK deploy started");
    assert_string_equal(plain(&lines[2]), "12:04:10.512 - MARK later");
    vm_move(v, -1);
    n = vm_log(v, &w.in, 80, lines, 1);
    assert_string_equal(plain(&lines[0]), "12:04:07.512 alb MARK alb drained");
    vm_set_filter(v, VM_PANE_LOG, "");
    n = vm_log(v, &w.in, 80, lines, 8);
    assert_int_equal(n, 8);
    vm_free(v);
    world_fini(&w);
}

/* ---- the screen --------------------------------------------------------------------------- */

static void t_screen(void **st)
{
    static const char *const names[E_COUNT] = {"connecting", "open", "closing", "refused",
                                               "dns",        "tls",  "lb502",   "lb200",
                                               "srv1011",    "idle", "retry"};
    struct vm_opts o = {.utc = true};
    struct world w;
    struct vm *v = vm_new(&o);
    const struct vm_screen *s;
    uint32_t ep;

    (void)st;
    world_init(&w, E_COUNT, names, NULL, NULL);
    fill_states(&w);
    world_now(&w, 200 * S);
    w.in.paused = true;
    vm_update(v, &w.in);
    s = vm_build(v, &w.in, 80, 24);
    dump_screen(s);
    check_screen(s, 80, false);
    assert_true(strstr(plain(&s->line[0]), "wsmon  PAUSED  11 endpoints: 1 open 2 connecting "
                                           "1 closing 7 closed") == plain(&s->line[0]));
    assert_true(strstr(plain(&s->line[0]), "  12:03:20"));
    vm_set_filter(v, VM_PANE_TABLE, "");
    w.in.paused = false;
    s = vm_build(v, &w.in, 100, 24);
    assert_true(strstr(plain(&s->line[0]), "12:03:20 UTC"));
    w.in.paused = true;
    s = vm_build(v, &w.in, 80, 24);
    assert_true(strstr(plain(&s->line[1]), "ENDPOINT"));
    assert_true(strstr(plain(&s->line[1]), "RECON"));
    assert_true(s->line[2].reverse);
    assert_true(screen_has(s, "Events"));
    assert_true(screen_has(s, "? help"));
    assert_true(screen_has(s, "q quit"));
    assert_true(screen_has(s, "p resume"));
    assert_int_equal(s->cursor_y, -1);

    /* a click on the third row selects it */
    assert_int_equal(vm_click(v, 4), 1);
    assert_true(vm_selected(v, &ep, NULL));
    assert_string_equal(names[ep], "dns");

    /* the prompt shows its text and the cursor after it */
    vm_prompt(v, "filter:", "lb");
    s = vm_build(v, &w.in, 80, 24);
    assert_string_equal(plain(&s->line[23]), "filter: lb");
    assert_int_equal(s->cursor_y, 23);
    assert_int_equal(s->cursor_x, 10);
    vm_prompt(v, NULL, NULL);
    vm_message(v, "reconnecting dns", w.in.now_mono_us + S);
    s = vm_build(v, &w.in, 80, 24);
    assert_string_equal(plain(&s->line[23]), "reconnecting dns");
    world_now(&w, 202 * S);
    s = vm_build(v, &w.in, 80, 24);
    assert_false(screen_has(s, "reconnecting dns"));

    /* help and detail */
    vm_set_view(v, VM_VIEW_HELP);
    s = vm_build(v, &w.in, 80, 24);
    dump_screen(s);
    assert_true(screen_has(s, "reconnect the selected endpoint now"));
    vm_set_view(v, VM_VIEW_DETAIL);
    s = vm_build(v, &w.in, 80, 24);
    dump_screen(s);
    assert_true(screen_has(s, "wsmon › dns"));
    assert_true(screen_has(s, "Verdict    dns-failed"));

    /* ASCII: no UTF-8 at all */
    {
        struct vm_opts oa = {.ascii = true, .utc = true};
        struct vm *va = vm_new(&oa);

        vm_update(va, &w.in);
        s = vm_build(va, &w.in, 200, 30);
        dump_screen(s);
        check_screen(s, 200, true);
        assert_true(screen_has(s, "-- Events ---"));
        vm_set_view(va, VM_VIEW_DETAIL);
        s = vm_build(va, &w.in, 80, 24);
        check_screen(s, 80, true);
        vm_free(va);
    }
    vm_free(v);
    world_fini(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_durations),
        cmocka_unit_test(t_sparkline),
        cmocka_unit_test(t_rows_states),
        cmocka_unit_test(t_time_in_state),
        cmocka_unit_test(t_rates_and_counts),
        cmocka_unit_test(t_sort_filter),
        cmocka_unit_test(t_expand),
        cmocka_unit_test(t_window_1000),
        cmocka_unit_test(t_hostile),
        cmocka_unit_test(t_widths),
        cmocka_unit_test(t_too_small),
        cmocka_unit_test(t_detail_tls_failed),
        cmocka_unit_test(t_detail_healthy),
        cmocka_unit_test(t_log_lines),
        cmocka_unit_test(t_screen),
        cmocka_unit_test(t_multi_verdicts),
        cmocka_unit_test(t_order_state_change),
        cmocka_unit_test(t_order_rtt_change),
        cmocka_unit_test(t_order_filter),
        cmocka_unit_test(t_order_oracle),
        cmocka_unit_test(t_window_10000),
    };

    /* the view model measures text with wcwidth: a UTF-8 locale, as the dashboard has */
    if (!setlocale(LC_ALL, "C.UTF-8") && !setlocale(LC_ALL, "en_US.UTF-8")) {
        printf("1..0 # SKIP no UTF-8 locale\n");
        return 77;
    }
    setenv("TZ", "UTC", 1);
    tzset();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
