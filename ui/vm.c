/* SPDX-License-Identifier: MIT */
/* The dashboard's view model: rows, detail, log and help lines from the model, no curses. */
#include "config.h"

#include "vm.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <wchar.h>

#include "cfg.h"
#include "diag.h"
#include "evt.h"
#include "model.h"
#include "san.h"
#include "url.h"
#include "xmem.h"

#define FILTER_MAX     64
#define MSG_MAX        256
#define LOG_MIN_LINES  3       /* the event log keeps at least this many lines */
#define RATE_PERIOD_US 1000000 /* message rates are taken over at least this long */
#define REASON_SCAN    512     /* log entries searched for a connection's last close reason */
#define DETAIL_MAX     160     /* detail lines */
#define HELP_MAX       48

/* A table row before formatting: an endpoint (conn -1) or one of its connections. */
struct key {
    uint32_t ep;
    int32_t conn;
};

/* Per endpoint, what sorting needs. */
struct sortkey {
    uint32_t ep;
    int rank; /* worst state: 0 CLOSED, 1 CONNECTING, 2 CLOSING, 3 OPEN */
    const char *name;
    int64_t rtt_us; /* the slowest connection's median; -1 without (kept under the RTT sort) */
    uint64_t recon;
};

/* Per endpoint, as the last vm_update() found it: its sort keys, what the header counts, and
 * whether it passes the table's filter. */
struct epstate {
    struct sortkey k;
    int state;  /* readyState of the connection that stands for it (the worst) */
    bool pass;  /* its name contains the table filter */
    bool moved; /* a key of the order's sort changed since the order was made */
    bool dirty; /* named by vm_note() since the last vm_update() */
};

/* A connection's RTT median, taken again only when its sparkline changed. */
struct rttmemo {
    uint32_t n_spark, last; /* the sparkline it was taken from: samples ever added, newest */
    int64_t med_us;         /* -1 without samples */
};

/* Message counters at the last rate snapshot, and the rates then taken. */
struct rate {
    uint64_t in, out;
    double rin, rout;
    bool listed; /* in rate_todo */
};

struct vm {
    struct vm_opts o;
    enum vm_view view;
    enum vm_pane pane;
    enum vm_sort sort;
    char filter[2][FILTER_MAX];

    /* the model's shape */
    size_t n_eps, n_conns;
    size_t *conn_base; /* index of endpoint i's first connection in rates */
    uint8_t *expanded;

    /* every endpoint in the order of v->sort, filtered or not; repaired at each vm_update()
     * for the endpoints whose key changed, sorted again only when the sort or the shape did */
    struct epstate *es;    /* per endpoint */
    struct sortkey *order; /* n_eps entries, sorted */
    struct sortkey *moved; /* scratch for the endpoints that move */
    struct rttmemo *rtt;   /* per connection (conn_base) */
    uint32_t *dirty;       /* endpoints vm_note() named since the last vm_update() */
    size_t n_dirty;
    bool rows_ok;  /* rows are those of order, filter and expanded as they are */
    bool fed;      /* vm_note() is called for every event: read only those */
    bool read_all; /* read every endpoint at the next vm_update() */
    bool order_ok; /* order is sorted for order_sort with the keys in es */
    enum vm_sort order_sort;
    char order_filter[FILTER_MAX]; /* the filter es[].pass was taken for */
    bool filter_ok;
    const struct model *seen_m; /* the model of the last vm_update() */
    const struct cfg *seen_cfg; /* the configuration hdr_insecure was taken from */
    int64_t seen_mono_us;
    /* the header's figures, over all endpoints, as of the last vm_update() of seen_m */
    size_t hdr_counts[4];
    uint64_t hdr_recon;
    bool hdr_insecure;

    /* rows */
    struct key *rows;
    size_t n_rows, cap_rows;
    size_t sel, top;
    struct key sel_key;
    bool have_sel;

    /* rates */
    struct rate *rates;
    int64_t rate_t_us;
    bool rate_init;
    /* when fed (vm_note), the connections whose rates the next snapshot takes again: those
     * with messages since the last one, and those whose rate was not 0 */
    uint32_t *rate_todo;
    size_t n_rate_todo;

    /* log: the absolute index (entries ever appended) of its bottom line, or follow */
    bool log_follow;
    uint64_t log_bottom;
    int log_pending; /* lines to scroll at the next build (negative: older) */

    bool replay; /* vm_in.replay was set at the last vm_update() */
    int detail_top, help_top;
    bool detail_end, help_end; /* scrolled to the end: stay there as the text grows */

    /* the footer */
    bool prompt_on;
    char prompt_label[64];
    char prompt_text[VM_INPUT_MAX * 2];
    char msg[MSG_MAX];
    int64_t msg_until_us;

    /* the last screen, for clicks and pages */
    struct vm_screen scr;
    int scr_cap;
    int table_y, table_n, log_y, log_n, body_h;
    size_t table_top;
    double *idle_cut;      /* per endpoint: diag_idle_timeout's cutoff (s), this frame */
    uint32_t *idle_gen;    /* the frame it was taken in */
    uint32_t gen;          /* frames (vm_update calls) */
    struct vm_row *rowbuf; /* VM_MAX_H rows */
    struct vm_line *body;  /* DETAIL_MAX lines */
};

/* ---- text ---------------------------------------------------------------------------- */

/* Columns of one code point; -1 when it cannot be shown as is. */
static int cp_cols(uint32_t cp, bool ascii)
{
    int w;

    if (cp < 0x20 || cp == 0x7f)
        return -1;
    if (cp < 0x80)
        return 1;
    if (ascii)
        return -1;
    w = wcwidth((wchar_t)cp);
    return w < 0 ? -1 : w;
}

/* Copy sanitised UTF-8 src into dst (cap bytes, NUL-terminated) in at most max_w columns,
 * cut with an ellipsis when longer. Characters that cannot be shown (non-ASCII when ascii, or
 * unknown to wcwidth) become '?'. Returns the columns used. */
static int fit_text(char *dst, size_t cap, const char *src, int max_w, bool ascii)
{
    const char *ell = ascii ? "~" : "\xe2\x80\xa6";
    size_t ell_n = strlen(ell), len = strlen(src), i = 0, o = 0, cut_o = 0;
    int w = 0, cut_w = 0;
    bool cut = false;

    if (cap == 0)
        return 0;
    if (max_w <= 0 || cap < ell_n + 2) {
        dst[0] = '\0';
        return 0;
    }
    while (i < len) {
        uint32_t cp = 0;
        size_t n = san_utf8_decode(src + i, len - i, &cp);
        const char *p = src + i;
        size_t pn = n;
        int cw = n ? cp_cols(cp, ascii) : -1;

        if (n == 0)
            n = 1;
        if (cw < 0) {
            p = "?";
            pn = 1;
            cw = 1;
        }
        if (w + cw > max_w || o + pn + ell_n + 1 > cap) {
            cut = true;
            break;
        }
        memcpy(dst + o, p, pn);
        o += pn;
        w += cw;
        i += n;
        if (w <= max_w - 1) {
            cut_o = o;
            cut_w = w;
        }
    }
    if (cut) {
        o = cut_o;
        w = cut_w;
        memcpy(dst + o, ell, ell_n);
        o += ell_n;
        w++;
    }
    dst[o] = '\0';
    return w;
}

int vm_text_width(const char *s)
{
    size_t len = strlen(s), i = 0;
    int w = 0;

    while (i < len) {
        uint32_t cp = 0;
        size_t n = san_utf8_decode(s + i, len - i, &cp);
        int cw = n ? cp_cols(cp, false) : -1;

        w += cw < 0 ? 1 : cw;
        i += n ? n : 1;
    }
    return w;
}

/* Network (or any untrusted) text made safe for the terminal. */
static const char *san(const char *s, char *buf, size_t len)
{
    san_term(s ? s : "", s ? strlen(s) : 0, buf, len);
    return buf;
}

/* Fill a cell: text (already safe) fitted to w columns. */
static void cell_set(struct vm_cell *c, int w, enum vm_style st, const char *text, bool ascii)
{
    fit_text(c->text, sizeof(c->text), text, w, ascii);
    c->style = st;
}

__attribute__((format(printf, 5, 6))) static void
cell_fmt(struct vm_cell *c, int w, enum vm_style st, bool ascii, const char *fmt, ...)
{
    char buf[VM_CELL_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    cell_set(c, w, st, buf, ascii);
}

/* ---- lines ----------------------------------------------------------------------------- */

void vm_line_clear(struct vm_line *l)
{
    l->text[0] = '\0';
    l->used = 0;
    l->n = 0;
    l->reverse = false;
}

/* Place safe text at column x in at most max_w columns (and not past width). Returns the
 * columns used. */
int vm_line_put(struct vm_line *l, int width, int x, int max_w, enum vm_style st, const char *s,
                bool ascii)
{
    struct vm_span *sp;
    size_t len;
    int w;

    if (l->n >= VM_SPANS || x < 0 || x >= width || max_w <= 0 || !s || !*s)
        return 0;
    if (max_w > width - x)
        max_w = width - x;
    w = fit_text(l->text + l->used, VM_LINE_MAX - l->used, s, max_w, ascii);
    len = strlen(l->text + l->used);
    if (len == 0)
        return 0;
    sp = &l->span[l->n++];
    sp->off = (uint16_t)l->used;
    sp->len = (uint16_t)len;
    sp->x = (uint16_t)x;
    sp->w = (uint16_t)w;
    sp->style = st;
    l->used += len;
    return w;
}

void vm_lb_init(struct vm_lb *b, struct vm_line *l, int width, bool ascii)
{
    vm_line_clear(l);
    b->l = l;
    b->w = width;
    b->x = 0;
    b->ascii = ascii;
}

void vm_lb_add(struct vm_lb *b, enum vm_style st, const char *s)
{
    b->x += vm_line_put(b->l, b->w, b->x, b->w - b->x, st, s, b->ascii);
}

void vm_lb_addf(struct vm_lb *b, enum vm_style st, const char *fmt, ...)
{
    char buf[VM_LINE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    vm_lb_add(b, st, buf);
}

/* Safe text, only when all of it fits. */
static void lb_whole(struct vm_lb *b, enum vm_style st, const char *s)
{
    if (vm_text_width(s) <= b->w - b->x)
        vm_lb_add(b, st, s);
}

__attribute__((format(printf, 3, 4))) static void lb_wholef(struct vm_lb *b, enum vm_style st,
                                                            const char *fmt, ...)
{
    char buf[VM_LINE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    lb_whole(b, st, buf);
}

static void lb_at(struct vm_lb *b, int x)
{
    if (x > b->x)
        b->x = x < b->w ? x : b->w;
}

char *vm_line_plain(const struct vm_line *l, char *buf, size_t len)
{
    size_t o = 0;
    int col = 0;

    if (len == 0)
        return buf;
    for (int i = 0; i < l->n; i++) {
        const struct vm_span *sp = &l->span[i];

        while (col < sp->x && o + 1 < len) {
            buf[o++] = ' ';
            col++;
        }
        if (o + sp->len + 1 > len)
            break;
        memcpy(buf + o, l->text + sp->off, sp->len);
        o += sp->len;
        col += sp->w;
    }
    buf[o] = '\0';
    return buf;
}

/* ---- formatting ---------------------------------------------------------------------- */

char *vm_fmt_dur(int64_t us, char *buf, size_t len)
{
    int64_t s;

    if (us < 0) {
        snprintf(buf, len, "-");
    } else if (us < 9950) {
        snprintf(buf, len, "%.1f ms", (double)us / 1e3);
    } else if (us < 999500) {
        snprintf(buf, len, "%" PRId64 " ms", (us + 500) / 1000);
    } else if (us < 99950000) {
        int64_t tenths = (us + 50000) / 100000;

        snprintf(buf, len, "%" PRId64 ".%" PRId64 " s", tenths / 10, tenths % 10);
    } else if ((s = us / 1000000) < 3600) {
        snprintf(buf, len, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
    } else if (s < 100 * 3600) {
        snprintf(buf, len, "%" PRId64 "h%02" PRId64 "m", s / 3600, s % 3600 / 60);
    } else {
        snprintf(buf, len, "%" PRId64 "d%02" PRId64 "h", s / 86400, s % 86400 / 3600);
    }
    return buf;
}

char *vm_fmt_ms(int64_t us, char *buf, size_t len)
{
    double ms = (double)us / 1e3;

    if (us < 0)
        snprintf(buf, len, "-");
    else if (us < 995)
        snprintf(buf, len, "%.2f", ms);
    else if (us < 9950)
        snprintf(buf, len, "%.1f", ms);
    else
        snprintf(buf, len, "%.0f", ms);
    return buf;
}

/* A count in at most 5 characters: 999, 12.3k, 123k, 4.5M. */
static char *fmt_count(uint64_t n, char *buf, size_t len)
{
    if (n < 10000)
        snprintf(buf, len, "%" PRIu64, n);
    else if (n < 100000)
        snprintf(buf, len, "%.1fk", (double)n / 1e3);
    else if (n < 1000000)
        snprintf(buf, len, "%" PRIu64 "k", n / 1000);
    else if (n < 100000000)
        snprintf(buf, len, "%.1fM", (double)n / 1e6);
    else
        snprintf(buf, len, "%" PRIu64 "M", n / 1000000);
    return buf;
}

static char *fmt_rate(double r, char *buf, size_t len)
{
    if (r < 0.05)
        snprintf(buf, len, "0");
    else if (r < 100)
        snprintf(buf, len, "%.1f", r);
    else
        fmt_count((uint64_t)(r + 0.5), buf, len);
    return buf;
}

static char *fmt_bytes(uint64_t n, char *buf, size_t len)
{
    if (n < 1000)
        snprintf(buf, len, "%" PRIu64 " B", n);
    else if (n < 1000000)
        snprintf(buf, len, "%.1f kB", (double)n / 1e3);
    else if (n < 1000000000)
        snprintf(buf, len, "%.1f MB", (double)n / 1e6);
    else
        snprintf(buf, len, "%.1f GB", (double)n / 1e9);
    return buf;
}

/* Time of day of a wall clock reading: "12:03:04" or "12:03:04.512". */
static char *fmt_tod(const struct vm *v, int64_t wall_us, bool ms, char *buf, size_t len)
{
    time_t s = (time_t)(wall_us / 1000000);
    struct tm tm;

    if (wall_us <= 0 || !(v->o.utc ? gmtime_r(&s, &tm) : localtime_r(&s, &tm))) {
        snprintf(buf, len, ms ? "--:--:--.---" : "--:--:--");
        return buf;
    }
    if (ms)
        snprintf(buf, len, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(wall_us / 1000 % 1000));
    else
        snprintf(buf, len, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

static char *fmt_date(int64_t t_s, char *buf, size_t len)
{
    time_t t = (time_t)t_s;
    struct tm tm;

    if (t_s <= 0 || !gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm))
        snprintf(buf, len, "unknown");
    return buf;
}

const char *vm_state_name(int ready_state)
{
    switch (ready_state) {
    case 0:
        return "CONNECTING 0";
    case 1:
        return "OPEN 1";
    case 2:
        return "CLOSING 2";
    case 3:
        return "CLOSED 3";
    default:
        return "?";
    }
}

int vm_spark(const uint32_t *samples, size_t n, int width, bool ascii, char *out, size_t len)
{
    static const char *const blocks[8] = {
        "\xe2\x96\x81", "\xe2\x96\x82", "\xe2\x96\x83", "\xe2\x96\x84",
        "\xe2\x96\x85", "\xe2\x96\x86", "\xe2\x96\x87", "\xe2\x96\x88",
    };
    static const char levels_ascii[] = "_.-=^";
    int levels = ascii ? 5 : 8, cols = 0;
    size_t first, o = 0;
    uint32_t lo = UINT32_MAX, hi = 0;

    if (len == 0)
        return 0;
    out[0] = '\0';
    if (width <= 0 || n == 0)
        return 0;
    first = n > (size_t)width ? n - (size_t)width : 0;
    for (size_t i = first; i < n; i++) {
        if (samples[i] < lo)
            lo = samples[i];
        if (samples[i] > hi)
            hi = samples[i];
    }
    for (size_t i = first; i < n; i++) {
        uint64_t span = (uint64_t)hi - lo;
        int lv = span ? (int)(((uint64_t)(samples[i] - lo) * (uint64_t)(levels - 1) * 2 + span) /
                              (2 * span))
                      : 0;
        const char *g = ascii ? (char[]){levels_ascii[lv], '\0'} : blocks[lv];
        size_t gn = strlen(g);

        if (o + gn + 1 > len)
            break;
        memcpy(out + o, g, gn);
        o += gn;
        cols++;
    }
    out[o] = '\0';
    return cols;
}

/* ---- the model, read ------------------------------------------------------------------- */

static const char *ep_raw_name(const struct vm_in *in, uint32_t ep)
{
    if (in->names && in->names[ep])
        return in->names[ep];
    if (in->cfg && ep < in->cfg->n_eps) {
        const struct cfg_ep *c = &in->cfg->eps[ep];

        if (c->name)
            return c->name;
        if (c->u.host[0])
            return c->u.host;
        if (c->url)
            return c->url;
    }
    return NULL;
}

/* The endpoint's name, safe for the terminal. */
static const char *ep_name(const struct vm_in *in, uint32_t ep, char *buf, size_t len)
{
    const char *raw = ep_raw_name(in, ep);

    if (!raw) {
        snprintf(buf, len, "#%" PRIu32, ep);
        return buf;
    }
    return san(raw, buf, len);
}

static const struct cfg_ep *ep_cfg(const struct vm_in *in, uint32_t ep)
{
    return in->cfg && ep < in->cfg->n_eps ? &in->cfg->eps[ep] : NULL;
}

static void policy(const struct vm_in *in, uint32_t ep, struct diag_policy *p)
{
    diag_policy_of(ep_cfg(in, ep), in->now_wall_us / 1000000, p);
}

/* The class of an attempt known only in brief (an ended-attempt record or a log entry): the
 * same diagnosis, on what is remembered of it. */
static enum diag_class brief_class(uint32_t seq, enum evt_cause cause, enum evt_by by,
                                   enum evt_phase reached, int code, int http_status,
                                   int64_t open_for_us)
{
    struct model_attempt a;
    struct model_http http = model_http_empty;
    struct diag_verdict v;

    model_attempt_init(&a);
    a.seq = seq ? seq : 1;
    a.ended = true;
    a.ready_state = 3;
    a.cause = cause;
    a.by = by;
    a.reached = reached;
    a.close_code = code;
    a.close_frame = cause == EVT_CAUSE_CLOSE_FRAME;
    http.status = http_status;
    a.http = http_status > 0 ? &http : NULL;
    a.t_open_us = reached >= EVT_PH_OPEN ? 0 : -1;
    a.open_for_us = open_for_us;
    diag_attempt(&a, NULL, &v);
    return v.cls;
}

static enum diag_class end_class(const struct model_end *e)
{
    return brief_class(e->seq, e->cause, e->by, e->reached, e->code, e->http_status,
                       e->open_for_us);
}

/* A connection's last attempt that ended, as a class; -1 without. */
static int prev_class(const struct model_conn *c)
{
    const struct model_end *e = model_end_get(c, 0);

    return e ? (int)end_class(e) : -1;
}

/* A connection's state rank, worst first: 0 CLOSED, 1 CONNECTING, 2 CLOSING, 3 OPEN. */
static int conn_rank(const struct model_conn *c)
{
    if (c->cur.seq == 0)
        return 1;
    switch (c->cur.ready_state) {
    case 3:
        return 0;
    case 0:
        return 1;
    case 2:
        return 2;
    default:
        return 3;
    }
}

static int conn_state(const struct model_conn *c)
{
    return c->cur.seq == 0 ? 0 : c->cur.ready_state;
}

static uint64_t conn_recon(const struct model_conn *c)
{
    return c->attempts > 1 ? c->attempts - 1 : 0;
}

/* An endpoint in brief: its worst connection stands for it. */
struct epsum {
    uint32_t rep;    /* the representative connection */
    int rank;        /* its rank */
    uint32_t n_open; /* connections OPEN */
    uint64_t recon;
    uint64_t msgs_in, msgs_out;
};

static void ep_sum(const struct model_ep *e, struct epsum *s)
{
    memset(s, 0, sizeof(*s));
    s->rank = 4;
    for (size_t k = 0; k < e->n_conns; k++) {
        const struct model_conn *c = &e->conns[k];
        int r = conn_rank(c);

        if (r < s->rank) {
            s->rank = r;
            s->rep = (uint32_t)k;
        }
        if (r == 3)
            s->n_open++;
        s->recon += conn_recon(c);
        s->msgs_in += c->msgs_in;
        s->msgs_out += c->msgs_out;
    }
    if (s->rank == 4)
        s->rank = 1;
}

/* The connections of an endpoint, as the verdicts over several attempts take them. */
#define MULTI_CONNS 256

static size_t ep_conns(const struct model_ep *e, const struct model_conn **out)
{
    size_t n = e->n_conns < MULTI_CONNS ? e->n_conns : MULTI_CONNS;

    for (size_t i = 0; i < n; i++)
        out[i] = &e->conns[i];
    return n;
}

/* Whether an open duration belongs to the endpoint's idle-timeout cluster (diag_idle_timeout
 * found one, and this duration is within its tolerance); the cutoff is taken once a frame. */
static bool in_idle_cluster(struct vm *v, const struct vm_in *in, uint32_t ep, int64_t open_us)
{
    const struct model_conn *cs[MULTI_CONNS];
    double cut_s;
    int64_t cut, tol;

    if (open_us < 0 || ep >= in->m->n_eps)
        return false;
    if (ep < v->n_eps && v->idle_gen && v->gen && v->idle_gen[ep] == v->gen) {
        cut_s = v->idle_cut[ep];
    } else {
        cut_s = diag_idle_timeout(cs, ep_conns(&in->m->eps[ep], cs), NULL);
        if (ep < v->n_eps && v->idle_gen && v->gen) {
            v->idle_cut[ep] = cut_s;
            v->idle_gen[ep] = v->gen;
        }
    }

    if (cut_s < 0 || open_us < 0)
        return false;
    cut = (int64_t)(cut_s * 1e6);
    tol = cut * DIAG_IDLE_TOL_PCT / 100 > DIAG_IDLE_TOL_US ? cut * DIAG_IDLE_TOL_PCT / 100
                                                           : DIAG_IDLE_TOL_US;
    return open_us >= cut - tol && open_us <= cut + tol;
}

/* The verdict shown for a connection now. A new attempt that has not opened yet after a
 * failure keeps showing that failure's class (prev true). */
static void conn_verdict(struct vm *vm, const struct vm_in *in, uint32_t ep,
                         const struct model_conn *c, struct diag_verdict *v, bool *prev)
{
    struct diag_policy p;
    const struct model_attempt *a = &c->cur;

    *prev = false;
    policy(in, ep, &p);
    diag_attempt(a, &p, v);
    if (a->seq && !a->ended && a->reached < EVT_PH_OPEN && c->n_ended > 0) {
        int pc = prev_class(c);

        if (pc > DIAG_HEALTHY) {
            v->cls = (enum diag_class)pc;
            v->ok = false;
            *prev = true;
        }
    }
    /* a close that belongs to the endpoint's idle-timeout cluster is named so */
    if (v->cls == DIAG_ABNORMAL_CLOSE || v->cls == DIAG_CLOSED_BY_SERVER) {
        const struct model_end *e = model_end_get(c, 0);
        int64_t open_us = a->ended ? a->open_for_us : e ? e->open_for_us : -1;

        if (in_idle_cluster(vm, in, ep, open_us))
            v->cls = DIAG_IDLE_TIMEOUT;
    }
}

static enum vm_style state_style(int state, bool failed)
{
    switch (state) {
    case 1:
        return VM_OK;
    case 3:
        return failed ? VM_BAD : VM_DIM;
    default:
        return VM_WARN;
    }
}

static enum vm_style code_style(int code)
{
    if (code == 0)
        return VM_NORMAL;
    if (code == 1000)
        return VM_DIM;
    if (code == 1001 || code == 1012)
        return VM_WARN;
    return VM_BAD;
}

/* The last close code of a connection (its current attempt's, else the last ended one's). */
static int conn_last_code(const struct model_conn *c)
{
    const struct model_end *e;

    if (c->cur.ended)
        return c->cur.close_code;
    e = model_end_get(c, 0);
    return e ? e->code : 0;
}

/* The close reason of a connection's last ended attempt, raw; "" without. */
static const char *conn_last_reason(const struct vm_in *in, uint32_t ep, uint32_t conn,
                                    const struct model_conn *c)
{
    if (c->cur.ended)
        return c->cur.close_reason;
    for (uint64_t i = 0; i < REASON_SCAN; i++) {
        const struct model_log *l = model_log_get(in->m, i);

        if (!l)
            break;
        if (l->kind == EVT_CLOSED && l->ep == ep && l->conn == conn)
            return l->text;
    }
    return "";
}

static enum evt_cause conn_last_cause(const struct model_conn *c)
{
    const struct model_end *e;

    if (c->cur.ended)
        return c->cur.cause;
    e = model_end_get(c, 0);
    return e ? e->cause : EVT_CAUSE_NONE;
}

/* ---- state --------------------------------------------------------------------------- */

struct vm *vm_new(const struct vm_opts *o)
{
    struct vm *v = xcalloc(1, sizeof(*v));

    if (o)
        v->o = *o;
    v->log_follow = true;
    v->sort = VM_SORT_NAME;
    return v;
}

void vm_free(struct vm *v)
{
    if (!v)
        return;
    free(v->conn_base);
    free(v->expanded);
    free(v->rows);
    free(v->es);
    free(v->dirty);
    free(v->order);
    free(v->moved);
    free(v->rtt);
    free(v->rates);
    free(v->rate_todo);
    free(v->scr.line);
    free(v->rowbuf);
    free(v->body);
    free(v->idle_cut);
    free(v->idle_gen);
    free(v);
}

void vm_set_sort(struct vm *v, enum vm_sort s)
{
    if ((unsigned)s < VM_SORT_COUNT)
        v->sort = s;
}

enum vm_sort vm_sort(const struct vm *v)
{
    return v->sort;
}

const char *vm_sort_name(enum vm_sort s)
{
    static const char *const n[VM_SORT_COUNT] = {"name", "state", "rtt", "reconnects"};

    return (unsigned)s < VM_SORT_COUNT ? n[s] : "?";
}

void vm_set_filter(struct vm *v, enum vm_pane p, const char *text)
{
    snprintf(v->filter[p == VM_PANE_LOG], FILTER_MAX, "%s", text ? text : "");
    if (p == VM_PANE_LOG) {
        v->log_follow = true;
        v->log_pending = 0;
    }
}

const char *vm_filter(const struct vm *v, enum vm_pane p)
{
    return v->filter[p == VM_PANE_LOG];
}

void vm_set_view(struct vm *v, enum vm_view view)
{
    if (view == VM_VIEW_DETAIL && v->view != VM_VIEW_DETAIL) {
        v->detail_top = 0;
        v->detail_end = false;
    }
    if (view == VM_VIEW_HELP) {
        v->help_top = 0;
        v->help_end = false;
    }
    v->view = view;
}

enum vm_view vm_view(const struct vm *v)
{
    return v->view;
}

void vm_set_pane(struct vm *v, enum vm_pane p)
{
    v->pane = p;
}

enum vm_pane vm_pane(const struct vm *v)
{
    return v->pane;
}

static void select_index(struct vm *v, size_t i)
{
    if (v->n_rows == 0) {
        v->have_sel = false;
        v->sel = 0;
        return;
    }
    if (i >= v->n_rows)
        i = v->n_rows - 1;
    v->sel = i;
    v->sel_key = v->rows[i];
    v->have_sel = true;
}

/* a + d, kept within [0, INT_MAX / 2]; INT_MIN and INT_MAX mean the start and the end. */
static int add_clamped(int a, int d)
{
    long r = (long)a + d;

    if (d == INT_MIN || r < 0)
        return 0;
    if (d == INT_MAX || r > INT_MAX / 2)
        return INT_MAX / 2;
    return (int)r;
}

void vm_move(struct vm *v, int delta)
{
    switch (v->view) {
    case VM_VIEW_DETAIL:
        v->detail_top = add_clamped(v->detail_top, delta);
        if (delta < 0)
            v->detail_end = false;
        return;
    case VM_VIEW_HELP:
        v->help_top = add_clamped(v->help_top, delta);
        if (delta < 0)
            v->help_end = false;
        return;
    default:
        break;
    }
    if (v->pane == VM_PANE_LOG) {
        if (delta == INT_MAX) {
            v->log_follow = true;
            v->log_pending = 0;
        } else if (delta == INT_MIN) {
            v->log_pending = -MODEL_LOG;
        } else {
            v->log_pending += delta;
        }
        return;
    }
    if (v->n_rows == 0)
        return;
    if (delta == INT_MIN)
        select_index(v, 0);
    else if (delta == INT_MAX)
        select_index(v, v->n_rows - 1);
    else if (delta < 0 && (size_t) - (long)delta > v->sel)
        select_index(v, 0);
    else
        select_index(v, (size_t)((long)v->sel + delta));
}

void vm_page(struct vm *v, int pages)
{
    int h;

    if (v->view != VM_VIEW_MAIN)
        h = v->body_h;
    else
        h = v->pane == VM_PANE_LOG ? v->log_n : v->table_n;
    if (h < 2)
        h = 2;
    vm_move(v, pages * (h - 1));
}

bool vm_select(struct vm *v, uint32_t ep, int conn)
{
    for (size_t i = 0; i < v->n_rows; i++) {
        if (v->rows[i].ep == ep && v->rows[i].conn == conn) {
            select_index(v, i);
            return true;
        }
    }
    return false;
}

bool vm_selected(const struct vm *v, uint32_t *ep, int *conn)
{
    if (!v->have_sel || v->n_rows == 0)
        return false;
    if (ep)
        *ep = v->sel_key.ep;
    if (conn)
        *conn = v->sel_key.conn;
    return true;
}

size_t vm_nrows(const struct vm *v)
{
    return v->n_rows;
}

void vm_expand(struct vm *v, uint32_t ep, int how)
{
    if (ep >= v->n_eps)
        return;
    v->expanded[ep] = how < 0 ? !v->expanded[ep] : how > 0;
    v->rows_ok = false;
    if (!v->expanded[ep] && v->sel_key.ep == ep)
        v->sel_key.conn = -1;
}

int vm_click(struct vm *v, int y)
{
    if (v->view != VM_VIEW_MAIN)
        return 0;
    if (y >= v->table_y && y < v->table_y + v->table_n) {
        size_t i = v->table_top + (size_t)(y - v->table_y);

        if (i < v->n_rows) {
            select_index(v, i);
            v->pane = VM_PANE_TABLE;
            return 1;
        }
        return 0;
    }
    if (y >= v->log_y - 1 && y < v->log_y + v->log_n) {
        v->pane = VM_PANE_LOG;
        return 2;
    }
    return 0;
}

void vm_scroll_at(struct vm *v, int y, int delta)
{
    enum vm_pane keep = v->pane;

    if (v->view == VM_VIEW_MAIN)
        v->pane = y >= v->log_y - 1 && v->log_n > 0 ? VM_PANE_LOG : VM_PANE_TABLE;
    vm_move(v, delta);
    v->pane = keep;
}

void vm_prompt(struct vm *v, const char *label, const char *text)
{
    v->prompt_on = label != NULL;
    snprintf(v->prompt_label, sizeof(v->prompt_label), "%s", label ? label : "");
    snprintf(v->prompt_text, sizeof(v->prompt_text), "%s", text ? text : "");
}

void vm_message(struct vm *v, const char *text, int64_t until_us)
{
    snprintf(v->msg, sizeof(v->msg), "%s", text ? text : "");
    v->msg_until_us = text ? until_us : 0;
}

/* ---- vm_update: shape, rates, order ------------------------------------------------------ */

/* Nothing remembered of a connection's RTT median holds any more. */
static void rtt_forget(struct vm *v)
{
    for (size_t i = 0; i < v->n_conns; i++) {
        v->rtt[i].n_spark = UINT32_MAX;
        v->rtt[i].last = 0;
        v->rtt[i].med_us = -1;
    }
}

static void reshape(struct vm *v, const struct model *m)
{
    size_t total = 0;

    for (size_t i = 0; i < m->n_eps; i++)
        total += m->eps[i].n_conns;
    if (m->n_eps == v->n_eps && total == v->n_conns && (v->conn_base || !total))
        return;
    free(v->conn_base);
    free(v->expanded);
    free(v->es);
    free(v->dirty);
    free(v->order);
    free(v->moved);
    free(v->rtt);
    free(v->rates);
    free(v->idle_cut);
    free(v->idle_gen);
    v->idle_cut = xcalloc(m->n_eps + 1, sizeof(*v->idle_cut));
    v->idle_gen = xcalloc(m->n_eps + 1, sizeof(*v->idle_gen));
    v->n_eps = m->n_eps;
    v->n_conns = total;
    v->conn_base = xcalloc(m->n_eps + 1, sizeof(*v->conn_base));
    v->expanded = xcalloc(m->n_eps + 1, 1);
    v->es = xcalloc(m->n_eps + 1, sizeof(*v->es));
    v->dirty = xcalloc(m->n_eps + 1, sizeof(*v->dirty));
    v->n_dirty = 0;
    v->order = xcalloc(m->n_eps + 1, sizeof(*v->order));
    v->moved = xcalloc(m->n_eps + 1, sizeof(*v->moved));
    v->rtt = xcalloc(total + 1, sizeof(*v->rtt));
    v->rates = xcalloc(total + 1, sizeof(*v->rates));
    free(v->rate_todo);
    v->rate_todo = xcalloc(total + 1, sizeof(*v->rate_todo));
    v->n_rate_todo = 0;
    total = 0;
    for (size_t i = 0; i < m->n_eps; i++) {
        v->conn_base[i] = total;
        total += m->eps[i].n_conns;
        v->es[i].k.ep = (uint32_t)i;
        v->es[i].k.rtt_us = -1;
    }
    v->conn_base[m->n_eps] = total;
    rtt_forget(v);
    v->rate_init = false;
    v->order_ok = false;
    v->filter_ok = false;
    v->rows_ok = false;
    v->seen_cfg = NULL;
}

/* A connection's rate over dt us, and its counters for the next snapshot. */
static void take_rate(struct rate *r, const struct model_conn *c, int64_t dt, bool take)
{
    if (take) {
        r->rin = c->msgs_in >= r->in ? (double)(c->msgs_in - r->in) * 1e6 / (double)dt : 0;
        r->rout = c->msgs_out >= r->out ? (double)(c->msgs_out - r->out) * 1e6 / (double)dt : 0;
    }
    r->in = c->msgs_in;
    r->out = c->msgs_out;
}

/* The endpoint that holds connection idx (conn_base is ascending). */
static size_t conn_ep(const struct vm *v, size_t idx)
{
    size_t ep = 0, lo = 0, hi = v->n_eps;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (v->conn_base[mid] <= idx) {
            ep = mid;
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return ep;
}

static void update_rates(struct vm *v, const struct vm_in *in)
{
    const struct model *m = in->m;
    int64_t dt = in->now_mono_us - v->rate_t_us;
    bool take;

    if (dt < 0)
        v->rate_init = false; /* the clock went back: a replay started again */
    take = v->rate_init && dt >= RATE_PERIOD_US;

    if (v->rate_init && !take)
        return;
    if (take && v->fed) {
        /* only the counters of the connections listed can have moved (vm_note saw their
         * EVT_MSG), and only their rates can be other than 0 */
        size_t n = v->n_rate_todo;

        v->n_rate_todo = 0;
        for (size_t j = 0; j < n; j++) {
            uint32_t idx = v->rate_todo[j];
            struct rate *r = &v->rates[idx];
            size_t ep = conn_ep(v, idx);

            take_rate(r, &m->eps[ep].conns[idx - v->conn_base[ep]], dt, true);
            r->listed = r->rin != 0 || r->rout != 0;
            if (r->listed)
                v->rate_todo[v->n_rate_todo++] = idx;
        }
    } else {
        for (size_t i = 0; i < m->n_eps; i++) {
            for (size_t k = 0; k < m->eps[i].n_conns; k++) {
                struct rate *r = &v->rates[v->conn_base[i] + k];

                take_rate(r, &m->eps[i].conns[k], dt, take);
                r->listed = false;
            }
        }
        v->n_rate_todo = 0;
        for (size_t i = 0; v->fed && i < v->n_conns; i++) {
            if (v->rates[i].rin != 0 || v->rates[i].rout != 0) {
                v->rates[i].listed = true;
                v->rate_todo[v->n_rate_todo++] = (uint32_t)i;
            }
        }
    }
    v->rate_t_us = in->now_mono_us;
    v->rate_init = true;
}

static int cmp_name(const struct sortkey *a, const struct sortkey *b)
{
    int r;

    if (a->name && b->name) {
        r = strcasecmp(a->name, b->name);
        if (r == 0)
            r = strcmp(a->name, b->name);
        if (r)
            return r;
    } else if (a->name || b->name) {
        return a->name ? -1 : 1;
    }
    return a->ep < b->ep ? -1 : a->ep > b->ep;
}

static int cmp_sk_name(const void *x, const void *y)
{
    return cmp_name(x, y);
}

static int cmp_sk_state(const void *x, const void *y)
{
    const struct sortkey *a = x, *b = y;

    if (a->rank != b->rank)
        return a->rank < b->rank ? -1 : 1;
    return cmp_name(a, b);
}

static int cmp_sk_rtt(const void *x, const void *y)
{
    const struct sortkey *a = x, *b = y;

    if (a->rtt_us != b->rtt_us)
        return a->rtt_us > b->rtt_us ? -1 : 1; /* slowest first, none last */
    return cmp_name(a, b);
}

static int cmp_sk_recon(const void *x, const void *y)
{
    const struct sortkey *a = x, *b = y;

    if (a->recon != b->recon)
        return a->recon > b->recon ? -1 : 1;
    return cmp_name(a, b);
}

/* Each a total order (the endpoint's index decides last), so a repaired order is the one a
 * full sort gives. */
static int (*const sort_cmp[VM_SORT_COUNT])(const void *, const void *) = {
    [VM_SORT_NAME] = cmp_sk_name,
    [VM_SORT_STATE] = cmp_sk_state,
    [VM_SORT_RTT] = cmp_sk_rtt,
    [VM_SORT_RECON] = cmp_sk_recon,
};

/* The order from scratch: every endpoint with its keys now. */
static void order_sort(struct vm *v)
{
    for (size_t i = 0; i < v->n_eps; i++) {
        v->order[i] = v->es[i].k;
        v->es[i].moved = false;
    }
    qsort(v->order, v->n_eps, sizeof(*v->order), sort_cmp[v->sort]);
    v->order_ok = true;
    v->order_sort = v->sort;
}

/* The order again after n_moved endpoints' keys changed: take those out (the rest stay in
 * order), sort them, and merge the two runs. O(n + k log k) for k moved of n. */
static void order_repair(struct vm *v, size_t n_moved)
{
    int (*cmp)(const void *, const void *) = sort_cmp[v->sort];
    size_t kept = 0, k = 0, o = v->n_eps;

    if (n_moved > v->n_eps / 4) {
        order_sort(v);
        return;
    }
    for (size_t i = 0; i < v->n_eps; i++) {
        struct epstate *s = &v->es[v->order[i].ep];

        if (s->moved) {
            v->moved[k++] = s->k;
            s->moved = false;
        } else {
            v->order[kept++] = v->order[i];
        }
    }
    qsort(v->moved, k, sizeof(*v->moved), cmp);
    while (k > 0) {
        if (kept > 0 && cmp(&v->order[kept - 1], &v->moved[k - 1]) > 0)
            v->order[--o] = v->order[--kept];
        else
            v->order[--o] = v->moved[--k];
    }
}

/* A connection's RTT median (its sparkline's), taken again only when a sample came. */
static int64_t conn_rtt(struct vm *v, size_t idx, const struct model_conn *c)
{
    struct rttmemo *r = &v->rtt[idx];
    uint32_t last = c->n_spark ? c->spark[(c->n_spark - 1) % MODEL_SPARK] : 0;

    if (r->n_spark != c->n_spark || r->last != last) {
        r->n_spark = c->n_spark;
        r->last = last;
        r->med_us = model_conn_rtt_median_us(c);
    }
    return r->med_us;
}

/* Whether an endpoint's name contains the table filter f (not empty). */
static bool name_passes(const char *name, uint32_t ep, const char *f)
{
    char nb[32];

    if (!name) {
        snprintf(nb, sizeof(nb), "#%" PRIu32, ep);
        name = nb;
    }
    return strcasestr(name, f) != NULL;
}

static void push_row(struct vm *v, uint32_t ep, int32_t conn)
{
    if (v->n_rows == v->cap_rows) {
        v->cap_rows = v->cap_rows ? v->cap_rows * 2 : 64;
        v->rows = xrealloc(v->rows, v->cap_rows * sizeof(*v->rows));
    }
    v->rows[v->n_rows].ep = ep;
    v->rows[v->n_rows].conn = conn;
    v->n_rows++;
}

/* Endpoint i read again: its keys (marked moved when the order's key changed, unless the
 * whole order is sorted again anyway) and its part of the header's figures. Reads only the
 * few fields of each connection that these need. Returns whether it moved. */
static bool read_ep(struct vm *v, const struct vm_in *in, size_t i, bool resort)
{
    const struct model_ep *e = &in->m->eps[i];
    struct epstate *s = &v->es[i];
    const char *name = ep_raw_name(in, (uint32_t)i);
    int rank = 4, state = 0;
    uint64_t recon = 0;
    int64_t rtt_us = -1;
    bool rtt = v->sort == VM_SORT_RTT, moved = false;

    for (size_t k = 0; k < e->n_conns; k++) {
        const struct model_conn *c = &e->conns[k];
        int r = conn_rank(c);

        if (r < rank) {
            rank = r;
            state = conn_state(c);
        }
        recon += conn_recon(c);
        if (rtt) {
            int64_t med = conn_rtt(v, v->conn_base[i] + k, c);

            if (med > rtt_us)
                rtt_us = med;
        }
    }
    if (rank == 4)
        rank = 1; /* no connection: as ep_sum() has it */
    if (name != s->k.name) {
        s->k.name = name;
        s->pass = !v->filter[0][0] || name_passes(name, (uint32_t)i, v->filter[0]);
        moved = true;
    }
    switch (v->sort) {
    case VM_SORT_STATE:
        moved = moved || rank != s->k.rank;
        break;
    case VM_SORT_RTT:
        moved = moved || rtt_us != s->k.rtt_us;
        break;
    case VM_SORT_RECON:
        moved = moved || recon != s->k.recon;
        break;
    default:
        break;
    }
    v->hdr_counts[s->state & 3]--;
    v->hdr_recon -= s->k.recon;
    s->k.rank = rank;
    s->k.recon = recon;
    if (rtt)
        s->k.rtt_us = rtt_us;
    s->state = state;
    v->hdr_counts[state & 3]++;
    v->hdr_recon += recon;
    if (!moved || resort || s->moved)
        return false;
    s->moved = true;
    return true;
}

void vm_note(struct vm *v, const struct evt *e)
{
    v->fed = true;
    if (e->ep == EVT_EP_NONE)
        return; /* a global marker: no endpoint changed */
    if (e->ep >= v->n_eps || !v->es || e->conn >= v->conn_base[e->ep + 1] - v->conn_base[e->ep]) {
        /* a model vm_update() has not seen yet */
        v->read_all = true;
        v->rate_init = false;
        return;
    }
    switch (e->kind) {
    case EVT_MSG: {
        /* messages move the message counters, and nothing else read here */
        uint32_t idx = (uint32_t)(v->conn_base[e->ep] + e->conn);

        if (!v->rates[idx].listed) {
            v->rates[idx].listed = true;
            v->rate_todo[v->n_rate_todo++] = idx;
        }
        return;
    }
    case EVT_PING:
        return; /* a ping sent changes no state and no sort key */
    case EVT_PONG:
        if (v->sort != VM_SORT_RTT)
            return; /* an RTT sample: only the RTT sort reads it (a new sort reads all) */
        break;
    default:
        break;
    }
    if (!v->es[e->ep].dirty) {
        v->es[e->ep].dirty = true;
        v->dirty[v->n_dirty++] = e->ep;
    }
}

void vm_update(struct vm *v, const struct vm_in *in)
{
    const struct model *m = in->m;
    size_t n_moved = 0;
    bool resort;

    if (!m) {
        v->n_rows = 0;
        v->have_sel = false;
        v->seen_m = NULL;
        return;
    }
    if (m != v->seen_m || m->n_eps != v->n_eps || in->now_mono_us < v->seen_mono_us) {
        /* another model, or a replay that started again: what was remembered does not hold */
        reshape(v, m);
        rtt_forget(v);
        v->order_ok = false;
        v->read_all = true;
        v->rate_init = false;
        v->rows_ok = false;
    }
    v->seen_m = m;
    v->seen_mono_us = in->now_mono_us;
    if (in->cfg != v->seen_cfg) {
        v->seen_cfg = in->cfg;
        v->hdr_insecure = false;
        for (size_t i = 0; in->cfg && i < in->cfg->n_eps && i < m->n_eps; i++)
            v->hdr_insecure = v->hdr_insecure || in->cfg->eps[i].insecure;
    }
    update_rates(v, in);
    v->replay = in->replay != NULL;
    if (++v->gen == 0)
        v->gen = 1;

    /* the endpoints to read again: those vm_note() named, else all */
    resort = !v->order_ok || v->order_sort != v->sort;
    if (!v->fed || v->read_all || resort) {
        for (size_t i = 0; i < v->n_eps; i++)
            n_moved += read_ep(v, in, i, resort);
        /* the figures from scratch (read_ep's running ones assume they were right before) */
        memset(v->hdr_counts, 0, sizeof(v->hdr_counts));
        v->hdr_recon = 0;
        for (size_t i = 0; i < v->n_eps; i++) {
            v->hdr_counts[v->es[i].state & 3]++;
            v->hdr_recon += v->es[i].k.recon;
        }
        v->read_all = false;
    } else {
        for (size_t j = 0; j < v->n_dirty; j++)
            n_moved += read_ep(v, in, v->dirty[j], resort);
    }
    for (size_t j = 0; j < v->n_dirty; j++)
        v->es[v->dirty[j]].dirty = false;
    v->n_dirty = 0;
    /* a new filter: names only, no model */
    if (!v->filter_ok || strcmp(v->order_filter, v->filter[0]) != 0) {
        v->rows_ok = false;
        for (size_t i = 0; i < v->n_eps; i++)
            v->es[i].pass =
                !v->filter[0][0] || name_passes(v->es[i].k.name, (uint32_t)i, v->filter[0]);
        snprintf(v->order_filter, sizeof(v->order_filter), "%s", v->filter[0]);
        v->filter_ok = true;
    }
    if (resort)
        order_sort(v);
    else if (n_moved)
        order_repair(v, n_moved);

    if (resort || n_moved || !v->rows_ok) {
        v->n_rows = 0;
        for (size_t i = 0; i < v->n_eps; i++) {
            uint32_t ep = v->order[i].ep;

            if (!v->es[ep].pass)
                continue;
            push_row(v, ep, -1);
            if (v->expanded[ep] && m->eps[ep].n_conns > 1)
                for (size_t c = 0; c < m->eps[ep].n_conns; c++)
                    push_row(v, ep, (int32_t)c);
        }
        v->rows_ok = true;
    }

    /* the selection follows its row */
    if (v->n_rows == 0) {
        v->have_sel = false;
        return;
    }
    if (!v->have_sel) {
        select_index(v, 0);
        return;
    }
    if (v->sel < v->n_rows && v->rows[v->sel].ep == v->sel_key.ep &&
        v->rows[v->sel].conn == v->sel_key.conn)
        return;
    if (vm_select(v, v->sel_key.ep, v->sel_key.conn) || vm_select(v, v->sel_key.ep, -1))
        return;
    select_index(v, v->sel < v->n_rows ? v->sel : v->n_rows - 1);
}

/* ---- columns --------------------------------------------------------------------------- */

struct colspec {
    const char *title;
    int min, pref, max;
    bool right;
};

static const struct colspec colspecs[VM_COL_COUNT] = {
    [VM_COL_NAME] = {"ENDPOINT", 8, 16, 32, false},
    [VM_COL_STATE] = {"STATE", 12, 12, 12, false},
    [VM_COL_CLASS] = {"CLASS", 10, 16, 18, false},
    [VM_COL_TIME] = {"FOR", 6, 6, 6, true},
    [VM_COL_RTT] = {"RTT ms", 9, 11, 11, true},
    [VM_COL_SPARK] = {"RTT trend", 12, 16, 24, false},
    [VM_COL_MSGS] = {"MSGS in/out", 11, 11, 13, true},
    [VM_COL_RATE] = {"/s in/out", 11, 11, 13, true},
    [VM_COL_CODE] = {"CLOSE", 5, 5, 5, true},
    [VM_COL_REASON] = {"REASON", 10, 20, 200, false},
    [VM_COL_RECON] = {"RECON", 5, 5, 6, true},
    [VM_COL_HEALTH] = {"HEALTH", 9, 9, 12, false},
};

/* Most important first: the core that 80 columns show, then what wider terminals add. */
static const enum vm_col col_priority[VM_COL_COUNT] = {
    VM_COL_NAME,  VM_COL_STATE, VM_COL_CLASS, VM_COL_TIME, VM_COL_RTT,    VM_COL_CODE,
    VM_COL_RECON, VM_COL_SPARK, VM_COL_MSGS,  VM_COL_RATE, VM_COL_HEALTH, VM_COL_REASON,
};
#define CORE_COLS 7

void vm_layout(int width, struct vm_layout *out)
{
    int w[VM_COL_COUNT] = {0};
    bool on[VM_COL_COUNT] = {false};
    int used = 0, n = 0, x = 0, left;

    memset(out, 0, sizeof(*out));
    if (width > VM_MAX_W)
        width = VM_MAX_W;
    out->width = width;
    /* the core at its minimum widths, most important first, while it fits */
    for (int i = 0; i < CORE_COLS; i++) {
        enum vm_col c = col_priority[i];
        int need = colspecs[c].min + (n ? 1 : 0);

        if (used + need > width)
            break;
        on[c] = true;
        w[c] = colspecs[c].min;
        used += need;
        n++;
    }
    /* the core up to its preferred widths */
    for (int i = 0; i < CORE_COLS; i++) {
        enum vm_col c = col_priority[i];
        int grow = colspecs[c].pref - w[c];

        if (!on[c])
            continue;
        if (grow > width - used)
            grow = width - used;
        w[c] += grow;
        used += grow;
    }
    /* then whatever else fits, at preferred widths */
    for (int i = CORE_COLS; i < VM_COL_COUNT && n == CORE_COLS; i++) {
        enum vm_col c = col_priority[i];

        if (used + 1 + colspecs[c].pref > width)
            continue;
        on[c] = true;
        w[c] = colspecs[c].pref;
        used += 1 + w[c];
    }
    /* the rest of the width, by priority, up to each column's maximum */
    for (int i = 0; i < VM_COL_COUNT; i++) {
        enum vm_col c = col_priority[i];
        int grow;

        if (!on[c])
            continue;
        grow = colspecs[c].max - w[c];
        left = width - used;
        if (grow > left)
            grow = left;
        w[c] += grow;
        used += grow;
    }
    for (int c = 0; c < VM_COL_COUNT; c++) {
        if (!on[c])
            continue;
        out->c[out->n].col = (enum vm_col)c;
        out->c[out->n].x = x;
        out->c[out->n].w = w[c];
        out->c[out->n].right = colspecs[c].right;
        out->n++;
        x += w[c] + 1;
    }
}

/* ---- rows ---------------------------------------------------------------------------- */

static void build_row(struct vm *v, const struct vm_in *in, const struct vm_layout *l, struct key k,
                      struct vm_row *r)
{
    const struct model_ep *e = &in->m->eps[k.ep];
    struct epsum s;
    const struct model_conn *c;
    const struct model_attempt *a;
    struct diag_verdict dv;
    bool prev, ascii = v->o.ascii;
    char buf[VM_CELL_MAX], t1[32], t2[32];
    uint32_t conn;
    int state, w;
    uint64_t min, mout;
    double rin = 0, rout = 0;

    memset(r, 0, sizeof(*r));
    r->ep = k.ep;
    r->conn = k.conn;
    ep_sum(e, &s);
    conn = k.conn >= 0 ? (uint32_t)k.conn : s.rep;
    c = &e->conns[conn];
    a = &c->cur;
    state = conn_state(c);
    conn_verdict(v, in, k.ep, c, &dv, &prev);
    if (k.conn >= 0) {
        min = c->msgs_in;
        mout = c->msgs_out;
        rin = v->rates[v->conn_base[k.ep] + conn].rin;
        rout = v->rates[v->conn_base[k.ep] + conn].rout;
    } else {
        min = s.msgs_in;
        mout = s.msgs_out;
        for (size_t i = 0; i < e->n_conns; i++) {
            rin += v->rates[v->conn_base[k.ep] + i].rin;
            rout += v->rates[v->conn_base[k.ep] + i].rout;
        }
    }

    for (int i = 0; i < l->n; i++) {
        struct vm_cell *cell = &r->cell[l->c[i].col];

        w = l->c[i].w;
        switch (l->c[i].col) {
        case VM_COL_NAME:
            if (k.conn >= 0) {
                char be[MODEL_BACKEND_MAX * 4 + 8];

                cell_fmt(cell, w, VM_NORMAL, ascii, "  #%d %s", k.conn + 1,
                         san(c->backend, be, sizeof(be)));
            } else {
                ep_name(in, k.ep, buf, sizeof(buf));
                if (e->n_conns > 1) {
                    char nm[VM_CELL_MAX];
                    int suffix_w;

                    snprintf(t1, sizeof(t1), " %" PRIu32 "/%zu%s", s.n_open, e->n_conns,
                             v->expanded[k.ep] ? "" : "+");
                    suffix_w = (int)strlen(t1);
                    fit_text(nm, sizeof(nm), buf, w > suffix_w ? w - suffix_w : 1, ascii);
                    cell_fmt(cell, w, VM_NORMAL, ascii, "%s%s", nm, t1);
                } else {
                    cell_set(cell, w, VM_NORMAL, buf, ascii);
                }
            }
            break;
        case VM_COL_STATE:
            cell_set(cell, w, state_style(state, !dv.ok && dv.cls != DIAG_HEALTHY),
                     vm_state_name(state), ascii);
            break;
        case VM_COL_CLASS:
            if (a->seq == 0)
                cell_set(cell, w, VM_DIM, "starting", ascii);
            else if (!prev && !a->ended && a->reached < EVT_PH_OPEN)
                cell_set(cell, w, VM_DIM, "connecting", ascii);
            else if (state == 2)
                cell_set(cell, w, VM_WARN, "closing", ascii);
            else
                cell_set(cell, w,
                         dv.cls == DIAG_HEALTHY ? (prev ? VM_WARN : VM_OK)
                         : prev                 ? VM_WARN
                                                : VM_BAD,
                         diag_class_name(dv.cls), ascii);
            break;
        case VM_COL_TIME:
            cell_set(cell, w, VM_NORMAL,
                     a->seq ? vm_fmt_dur(in->now_mono_us - c->t_state_us, buf, sizeof(buf)) : "-",
                     ascii);
            break;
        case VM_COL_RTT: {
            int64_t med = model_conn_rtt_median_us(c);

            if (med < 0)
                cell_set(cell, w, VM_DIM, "-", ascii);
            else
                cell_fmt(cell, w, VM_NORMAL, ascii, "%s/%s",
                         vm_fmt_ms(a->rtt_n ? (int64_t)a->rtt_last_us : -1, t1, sizeof(t1)),
                         vm_fmt_ms(med, t2, sizeof(t2)));
            break;
        }
        case VM_COL_SPARK: {
            uint32_t sm[MODEL_SPARK];
            size_t n = model_spark(c, sm);

            vm_spark(sm, n, w, ascii, buf, sizeof(buf));
            cell_set(cell, w, VM_DIM, buf, ascii);
            break;
        }
        case VM_COL_MSGS:
            cell_fmt(cell, w, VM_NORMAL, ascii, "%s/%s", fmt_count(min, t1, sizeof(t1)),
                     fmt_count(mout, t2, sizeof(t2)));
            break;
        case VM_COL_RATE:
            cell_fmt(cell, w, VM_NORMAL, ascii, "%s/%s", fmt_rate(rin, t1, sizeof(t1)),
                     fmt_rate(rout, t2, sizeof(t2)));
            break;
        case VM_COL_CODE: {
            int code = conn_last_code(c);

            if (code)
                cell_fmt(cell, w, code_style(code), ascii, "%d", code);
            break;
        }
        case VM_COL_REASON: {
            const char *reason = conn_last_reason(in, k.ep, conn, c);
            enum evt_cause cause = conn_last_cause(c);

            if (reason[0])
                cell_set(cell, w, VM_NORMAL, san(reason, buf, sizeof(buf)), ascii);
            else if (cause != EVT_CAUSE_NONE)
                cell_set(cell, w, VM_DIM, evt_cause_name(cause), ascii);
            break;
        }
        case VM_COL_RECON: {
            uint64_t rc = k.conn >= 0 ? conn_recon(c) : s.recon;

            cell_set(cell, w, rc ? VM_WARN : VM_DIM, fmt_count(rc, buf, sizeof(buf)), ascii);
            break;
        }
        case VM_COL_HEALTH: {
            const struct cfg_ep *ce = ep_cfg(in, k.ep);
            const struct model_health *h = &e->health;

            if (k.conn >= 0 || !ce || !ce->health)
                break;
            if (h->polls == 0)
                cell_set(cell, w, VM_DIM, "...", ascii);
            else if (h->status >= 200 && h->status < 400)
                cell_fmt(cell, w, VM_OK, ascii, "%d %sms", h->status,
                         vm_fmt_ms(h->latency_us, t1, sizeof(t1)));
            else if (h->status > 0)
                cell_fmt(cell, w, VM_BAD, ascii, "%d", h->status);
            else
                cell_set(cell, w, VM_BAD, "failed", ascii);
            break;
        }
        default:
            break;
        }
    }
}

/* Keep the selection inside the window of height rows. */
static void scroll_to_sel(struct vm *v, int height)
{
    size_t h = height > 0 ? (size_t)height : 1;

    if (v->top > v->sel)
        v->top = v->sel;
    if (v->sel >= v->top + h)
        v->top = v->sel - h + 1;
    if (v->n_rows <= h)
        v->top = 0;
    else if (v->top > v->n_rows - h)
        v->top = v->n_rows - h;
}

size_t vm_rows(struct vm *v, const struct vm_in *in, const struct vm_layout *l, int height,
               struct vm_row *out)
{
    size_t n = 0;

    if (!in->m || height <= 0 || v->n_rows == 0)
        return 0;
    scroll_to_sel(v, height);
    for (size_t i = v->top; i < v->n_rows && n < (size_t)height; i++, n++) {
        build_row(v, in, l, v->rows[i], &out[n]);
        out[n].selected = v->have_sel && i == v->sel;
    }
    return n;
}

/* ---- the event log --------------------------------------------------------------------- */

/* Well-known idle timeouts of load balancers and proxies (seconds). */
static bool near_idle_timeout(int64_t us)
{
    static const int known_s[] = {30, 60, 75, 100, 120, 300, 350, 600, 900, 3600, 4000};

    for (size_t i = 0; i < sizeof(known_s) / sizeof(known_s[0]); i++) {
        int64_t k = (int64_t)known_s[i] * 1000000, tol = k / 50 > 1000000 ? k / 50 : 1000000;

        if (us >= k - tol && us <= k + tol)
            return true;
    }
    return false;
}

/* One log entry as a line: "12:03:04.512 alb OPEN after 83 ms". */
static void log_line(struct vm *v, const struct vm_in *in, const struct model_log *e, int width,
                     struct vm_line *out)
{
    struct vm_lb b;
    char t[32], d[32], name[VM_CELL_MAX], text[VM_LINE_MAX];
    const char *by;

    vm_lb_init(&b, out, width, v->o.ascii);
    vm_lb_add(&b, VM_DIM, fmt_tod(v, e->wall_us, true, t, sizeof(t)));
    vm_lb_add(&b, VM_NORMAL, " ");
    if (e->ep == EVT_EP_NONE || !in->m || e->ep >= in->m->n_eps)
        snprintf(name, sizeof(name), "-");
    else
        ep_name(in, e->ep, name, sizeof(name));
    if (e->ep != EVT_EP_NONE && in->m && e->ep < in->m->n_eps && in->m->eps[e->ep].n_conns > 1)
        vm_lb_addf(&b, VM_NORMAL, "%s#%" PRIu32 " ", name, e->conn + 1);
    else
        vm_lb_addf(&b, VM_NORMAL, "%s ", name);
    vm_fmt_dur(e->dur_us, d, sizeof(d));
    switch (e->kind) {
    case EVT_OPEN:
        vm_lb_addf(&b, VM_OK, "OPEN after %s", d);
        break;
    case EVT_CLOSED: {
        enum diag_class cls = brief_class(1, e->cause, e->by, e->reached, e->code, e->http_status,
                                          e->reached >= EVT_PH_OPEN ? e->dur_us : -1);
        const char *cn = diag_class_name(cls);
        bool opened = e->reached >= EVT_PH_OPEN;
        bool cluster = opened && (cls == DIAG_ABNORMAL_CLOSE || cls == DIAG_CLOSED_BY_SERVER) &&
                       in->m && in_idle_cluster(v, in, e->ep, e->dur_us);
        bool idle = !cluster && cls == DIAG_ABNORMAL_CLOSE && near_idle_timeout(e->dur_us);

        by = evt_by_name(e->by);
        vm_lb_addf(&b, cls == DIAG_HEALTHY ? VM_DIM : VM_BAD, "CLOSED %d", e->code);
        if (by)
            vm_lb_addf(&b, VM_NORMAL, " by %s", by);
        vm_lb_addf(&b, VM_NORMAL, " after %s", d);
        if (e->text[0])
            vm_lb_addf(&b, VM_NORMAL, " '%s'", san(e->text, text, sizeof(text)));
        if (cluster)
            vm_lb_add(&b, VM_WARN, " (idle-timeout)");
        else if (idle)
            vm_lb_add(&b, VM_WARN, " (idle-timeout?)");
        else if (cls != DIAG_HEALTHY)
            vm_lb_addf(&b, VM_WARN, " (%s)", cn);
        break;
    }
    case EVT_HEALTH:
        if (e->code >= 200 && e->code < 400)
            vm_lb_addf(&b, VM_OK, "HEALTH %d in %s", e->code, d);
        else if (e->code > 0)
            vm_lb_addf(&b, VM_BAD, "HEALTH %d in %s", e->code, d);
        else
            vm_lb_add(&b, VM_BAD, "HEALTH failed");
        if (e->text[0])
            vm_lb_addf(&b, VM_NORMAL, ": %s", san(e->text, text, sizeof(text)));
        break;
    case EVT_MARK:
        vm_lb_addf(&b, VM_HEAD, "MARK %s", san(e->text, text, sizeof(text)));
        break;
    default:
        vm_lb_add(&b, VM_DIM, evt_kind_name(e->kind));
        break;
    }
}

static bool log_match(struct vm *v, const struct vm_in *in, const struct model_log *e, int width)
{
    struct vm_line l;
    char plain[VM_LINE_MAX];

    if (!v->filter[1][0])
        return true;
    log_line(v, in, e, width, &l);
    return strcasestr(vm_line_plain(&l, plain, sizeof(plain)), v->filter[1]) != NULL;
}

/* The absolute index of the oldest entry still in the ring. */
static uint64_t log_oldest(const struct model *m)
{
    return m->n_log > MODEL_LOG ? m->n_log - MODEL_LOG : 0;
}

static const struct model_log *log_at(const struct model *m, uint64_t abs)
{
    return model_log_get(m, m->n_log - 1 - abs);
}

/* Apply pending scrolls to the log's bottom line. */
static void log_settle(struct vm *v, const struct vm_in *in, int width)
{
    const struct model *m = in->m;
    uint64_t lo = log_oldest(m), pos;
    int d = v->log_pending;

    v->log_pending = 0;
    if (m->n_log == 0) {
        v->log_follow = true;
        return;
    }
    if (v->log_follow && d >= 0)
        return;
    pos = v->log_follow ? m->n_log - 1 : v->log_bottom;
    if (pos < lo)
        pos = lo;
    if (pos >= m->n_log)
        pos = m->n_log - 1;
    if (v->log_follow) {
        /* start from the newest line that passes the filter */
        while (pos > lo && !log_match(v, in, log_at(m, pos), width))
            pos--;
    }
    while (d < 0 && pos > lo) {
        uint64_t p = pos;

        while (p > lo) {
            p--;
            if (log_match(v, in, log_at(m, p), width))
                break;
        }
        if (!log_match(v, in, log_at(m, p), width))
            break;
        pos = p;
        d++;
    }
    while (d > 0) {
        uint64_t p = pos;
        bool found = false;

        while (p + 1 < m->n_log) {
            p++;
            if (log_match(v, in, log_at(m, p), width)) {
                found = true;
                break;
            }
        }
        if (!found) {
            v->log_follow = true;
            return;
        }
        pos = p;
        d--;
    }
    /* at the newest matching line: follow again */
    {
        uint64_t p = pos;
        bool newer = false;

        while (p + 1 < m->n_log) {
            p++;
            if (log_match(v, in, log_at(m, p), width)) {
                newer = true;
                break;
            }
        }
        v->log_follow = !newer;
    }
    v->log_bottom = pos;
}

size_t vm_log(struct vm *v, const struct vm_in *in, int width, struct vm_line *out, size_t max)
{
    const struct model *m = in->m;
    uint64_t lo, pos;
    size_t n = 0;

    if (!m || max == 0 || m->n_log == 0)
        return 0;
    log_settle(v, in, width);
    lo = log_oldest(m);
    pos = v->log_follow ? m->n_log - 1 : v->log_bottom;
    if (pos < lo)
        pos = lo;
    /* newest first into the end of out, then moved to the front */
    for (uint64_t p = pos + 1; p > lo && n < max; p--) {
        const struct model_log *e = log_at(m, p - 1);

        if (!log_match(v, in, e, width))
            continue;
        log_line(v, in, e, width, &out[max - 1 - n]);
        n++;
    }
    if (n < max) {
        memmove(out, out + (max - n), n * sizeof(*out));
        for (size_t i = n; i < max; i++)
            vm_line_clear(&out[i]);
    }
    return n;
}

/* ---- detail ---------------------------------------------------------------------------- */

struct dl {
    struct vm_line *out;
    size_t max, n;
    int w;
    bool ascii;
    struct vm_line scratch;
};

/* The next line to fill (a scratch line past max: counted, not kept). */
static struct vm_line *dl_next(struct dl *d, struct vm_lb *b)
{
    struct vm_line *l = d->n < d->max ? &d->out[d->n] : &d->scratch;

    d->n++;
    vm_lb_init(b, l, d->w, d->ascii);
    return l;
}

#define LABEL_W 11

static void dl_label(struct dl *d, struct vm_lb *b, const char *label)
{
    dl_next(d, b);
    vm_lb_add(b, VM_DIM, label);
    lb_at(b, LABEL_W);
}

static void dl_title(struct dl *d, const char *title)
{
    struct vm_lb b;

    dl_next(d, &b);
    vm_lb_add(&b, VM_HEAD, title);
}

/* Safe text after a label, wrapped at spaces onto at most 4 lines indented to LABEL_W; a word
 * longer than a line, and what does not fit on the 4th line, are cut with an ellipsis. */
static void dl_wrap(struct dl *d, const char *label, enum vm_style lst, enum vm_style st,
                    const char *text)
{
    int room = d->w - LABEL_W > 20 ? d->w - LABEL_W : 20;
    const char *p = text;
    char line[VM_LINE_MAX];
    struct vm_lb b;

    for (int k = 0; k < 4 && (k == 0 || *p); k++) {
        size_t n = 0, first = strcspn(p, " ");
        const char *q = p;

        while (*q) {
            const char *e = q;
            size_t len;

            while (*e == ' ')
                e++;
            e += strcspn(e, " ");
            len = (size_t)(e - p);
            if (len >= sizeof(line))
                break;
            memcpy(line, p, len);
            line[len] = '\0';
            if (vm_text_width(line) > room)
                break;
            n = len;
            q = e;
        }
        if (n == 0)
            n = first;
        if (k == 3)
            n = strlen(p);
        if (n >= sizeof(line))
            n = sizeof(line) - 1;
        memcpy(line, p, n);
        line[n] = '\0';
        dl_next(d, &b);
        if (k == 0 && label)
            vm_lb_add(&b, lst, label);
        lb_at(&b, LABEL_W);
        vm_lb_add(&b, st, line);
        p += n;
        while (*p == ' ')
            p++;
    }
}

/* A bar of cols columns with [x0, x1) filled. */
static void bar(char *buf, size_t len, int cols, int x0, int x1, bool ascii)
{
    const char *fill = ascii ? "#" : "\xe2\x96\x88", *track = ascii ? "." : "\xc2\xb7";
    size_t o = 0;

    for (int i = 0; i < cols; i++) {
        const char *g = i >= x0 && i < x1 ? fill : track;
        size_t gn = strlen(g);

        if (o + gn + 1 > len)
            break;
        memcpy(buf + o, g, gn);
        o += gn;
    }
    buf[o] = '\0';
}

/* One waterfall row: name, duration, a bar from start to end (offsets from the attempt's
 * start, us) scaled to total, and a note. */
static void waterfall_row(struct dl *d, const char *name, int64_t from, int64_t to, int64_t total,
                          bool failed, const char *note)
{
    struct vm_lb b;
    char dur[32], g[VM_LINE_MAX];
    int cols = (d->w - LABEL_W - 12) / 3, x0, x1;

    if (cols < 10)
        cols = 10;
    if (cols > 40)
        cols = 40;
    if (total <= 0)
        total = 1;
    x0 = (int)((from < 0 ? 0 : from) * cols / total);
    x1 = (int)((to < 0 ? 0 : to) * cols / total);
    if (x0 >= cols)
        x0 = cols - 1;
    if (x1 <= x0)
        x1 = x0 + 1;
    dl_next(d, &b);
    vm_lb_addf(&b, failed ? VM_BAD : VM_NORMAL, "  %s", name);
    lb_at(&b, LABEL_W);
    vm_fmt_dur(to - from, dur, sizeof(dur));
    vm_lb_addf(&b, failed ? VM_BAD : VM_NORMAL, "%9s ", failed ? "FAILED" : dur);
    bar(g, sizeof(g), cols, x0, x1, d->ascii);
    vm_lb_add(&b, failed ? VM_BAD : VM_OK, g);
    if (failed)
        vm_lb_addf(&b, VM_BAD, " after %s", dur);
    if (note && *note) {
        vm_lb_add(&b, VM_NORMAL, " ");
        vm_lb_add(&b, VM_DIM, note);
    }
}

static void detail_waterfall(struct vm *v, struct dl *d, const struct vm_in *in,
                             const struct model_attempt *a, const struct diag_verdict *dv)
{
    char t[32], note[VM_LINE_MAX], s1[EVT_NAME_MAX * 2], s2[EVT_NAME_MAX * 2];
    int64_t st = a->t_start_us, total, prev = 0;
    struct vm_lb b;

    if (a->seq == 0) {
        dl_title(d, "Last attempt: none yet");
        return;
    }
    snprintf(note, sizeof(note), "Last attempt #%" PRIu32 ", started %s%s", a->seq,
             fmt_tod(v, a->wall_start_us, true, t, sizeof(t)),
             a->ended ? "" : (a->ready_state == 1 ? ", open" : ", in progress"));
    dl_title(d, note);
    if (a->t_open_us >= 0)
        total = a->t_open_us - st;
    else if (a->ended)
        total = a->t_end_us - st;
    else
        total = in->now_mono_us - st;
    if (total <= 0)
        total = 1;

    if (a->t_dns_us >= 0) {
        snprintf(note, sizeof(note), "%s", san(a->dns_addr, s1, sizeof(s1)));
        waterfall_row(d, "dns", 0, a->t_dns_us - st, total, false, note);
        prev = a->t_dns_us - st;
    } else if (dv->failed_in == EVT_PH_DNS) {
        waterfall_row(d, "dns", 0, a->t_end_us - st, total, true, "");
    } else if (a->t_tcp_us >= 0 || a->ended) {
        dl_next(d, &b);
        vm_lb_add(&b, VM_NORMAL, "  dns");
        lb_at(&b, LABEL_W);
        vm_lb_add(&b, VM_DIM, "        - (an address: no lookup)");
    }
    if (a->t_tcp_us >= 0) {
        snprintf(note, sizeof(note), "%s from %s", san(a->remote, s1, sizeof(s1)),
                 san(a->local, s2, sizeof(s2)));
        waterfall_row(d, "tcp", prev, a->t_tcp_us - st, total, false, note);
        prev = a->t_tcp_us - st;
    } else if (dv->failed_in == EVT_PH_TCP && a->ended) {
        waterfall_row(d, "tcp", prev, a->t_end_us - st, total, true, evt_cause_name(dv->cause));
        goto end;
    }
    if (a->tls) {
        if (a->t_tls_us >= 0 && a->reached >= EVT_PH_TLS) {
            const struct model_tls *ti = model_tls_of(a);

            snprintf(note, sizeof(note), "%s %s%s%s", san(ti->version, s1, sizeof(s1)),
                     san(ti->cipher, s2, sizeof(s2)), ti->alpn[0] ? " alpn " : "",
                     ti->alpn[0] ? ti->alpn : "");
            waterfall_row(d, "tls", prev, a->t_tls_us - st, total, false, note);
            prev = a->t_tls_us - st;
        } else if (dv->failed_in == EVT_PH_TLS && a->ended) {
            waterfall_row(d, "tls", prev, a->t_end_us - st, total, true, evt_cause_name(dv->cause));
            goto end;
        }
    }
    if (a->t_response_us >= 0) {
        int64_t from = a->t_request_us >= 0 ? a->t_request_us - st : prev;

        snprintf(note, sizeof(note), "HTTP %d", model_http_of(a)->status);
        waterfall_row(d, "upgrade", from, a->t_response_us - st, total,
                      dv->failed_in == EVT_PH_UPGRADE && a->ended, note);
        prev = a->t_response_us - st;
    } else if (dv->failed_in == EVT_PH_UPGRADE && a->ended) {
        waterfall_row(d, "upgrade", a->t_request_us >= 0 ? a->t_request_us - st : prev,
                      a->t_end_us - st, total, true, evt_cause_name(dv->cause));
        goto end;
    }
end:
    if (a->t_open_us >= 0) {
        dl_next(d, &b);
        vm_lb_add(&b, VM_OK, "  open");
        lb_at(&b, LABEL_W);
        vm_lb_addf(&b, VM_OK, "%9s ", vm_fmt_dur(a->open_us, s1, sizeof(s1)));
        vm_lb_add(&b, VM_DIM, "from the start");
        if (a->t_first_msg_us >= 0) {
            dl_next(d, &b);
            vm_lb_add(&b, VM_NORMAL, "  1st msg");
            lb_at(&b, LABEL_W);
            vm_lb_addf(&b, VM_NORMAL, "%9s ", vm_fmt_dur(a->first_message_us, s1, sizeof(s1)));
            if (a->first_binary) {
                vm_lb_add(&b, VM_DIM, "binary");
            } else {
                char raw[EVT_FIRST_MAX + 1];
                size_t n = a->first_len < EVT_FIRST_MAX ? a->first_len : EVT_FIRST_MAX;

                memcpy(raw, a->first, n);
                raw[n] = '\0';
                san_term(raw, n, s2, sizeof(s2));
                vm_lb_addf(&b, VM_DIM, "\"%s\"", s2);
            }
        }
        dl_next(d, &b);
        vm_lb_add(&b, VM_NORMAL, "  open for");
        lb_at(&b, LABEL_W);
        vm_lb_addf(
            &b, VM_NORMAL, "%9s",
            vm_fmt_dur(a->ended ? a->open_for_us : in->now_mono_us - a->t_open_us, s1, sizeof(s1)));
        if (a->ended)
            vm_lb_addf(&b, VM_NORMAL, ", then closed %d by %s", a->close_code,
                       evt_by_name(a->by) ? evt_by_name(a->by) : "-");
    } else if (a->ended) {
        dl_next(d, &b);
        vm_lb_add(&b, VM_BAD, "  ended");
        lb_at(&b, LABEL_W);
        vm_lb_addf(&b, VM_BAD, "%9s ", vm_fmt_dur(a->total_us, s1, sizeof(s1)));
        vm_lb_addf(&b, VM_NORMAL, "before open: a browser shows %d", a->close_code);
    } else {
        dl_next(d, &b);
        vm_lb_add(&b, VM_WARN, "  ...");
        lb_at(&b, LABEL_W);
        vm_lb_addf(&b, VM_WARN, "%9s ", vm_fmt_dur(in->now_mono_us - st, s1, sizeof(s1)));
        vm_lb_addf(&b, VM_NORMAL, "connecting (reached %s)", evt_phase_name(a->reached));
    }
}

static void detail_tls(struct dl *d, const struct vm_in *in, const struct model_attempt *a)
{
    const struct model_tls *t = model_tls_of(a);
    struct vm_lb b;
    char s[VM_LINE_MAX], date[64];
    const char *vn = evt_verify_name(t->verify);

    if (!a->tls)
        return;
    if (!a->tls_info) {
        dl_title(d, "TLS certificate: none seen on the last attempt");
        return;
    }
    dl_title(d, "TLS certificate");
    dl_label(d, &b, "  subject");
    vm_lb_add(&b, VM_NORMAL, san(t->subject, s, sizeof(s)));
    if (t->sans[0]) {
        dl_label(d, &b, "  names");
        vm_lb_add(&b, VM_NORMAL, san(t->sans, s, sizeof(s)));
    }
    dl_label(d, &b, "  issuer");
    vm_lb_add(&b, VM_NORMAL, san(t->issuer, s, sizeof(s)));
    dl_label(d, &b, "  expires");
    vm_lb_add(&b, VM_NORMAL, fmt_date(t->not_after_s, date, sizeof(date)));
    if (t->not_after_s > 0) {
        int64_t now_s = in->now_wall_us / 1000000;
        int64_t days = diag_days_left(t->not_after_s, now_s);

        if (now_s > t->not_after_s)
            vm_lb_addf(&b, VM_BAD, ", expired %" PRId64 " days ago",
                       (now_s - t->not_after_s) / 86400);
        else
            vm_lb_addf(&b, days < 14 ? VM_WARN : VM_OK, ", %" PRId64 " days left", days);
    }
    dl_label(d, &b, "  verify");
    vm_lb_add(&b, t->verify == EVT_VERIFY_OK ? VM_OK : VM_BAD, vn ? vn : "unknown");
    if (t->verify_code)
        vm_lb_addf(&b, VM_DIM, " (X509 error %d)", t->verify_code);
    if (t->insecure)
        vm_lb_add(&b, VM_BAD, "  NOT ENFORCED: --insecure");
}

static void detail_http(struct dl *d, const struct model_attempt *a)
{
    const struct model_http *h = model_http_of(a);
    struct vm_lb b;
    char s[VM_LINE_MAX];

    if (!a->http) {
        if (a->t_request_us >= 0)
            dl_title(d, "Upgrade: request sent, no response");
        return;
    }
    dl_title(d, "Upgrade response");
    dl_label(d, &b, "  status");
    vm_lb_addf(&b, h->status == 101 ? VM_OK : VM_BAD, "%d", h->status);
    vm_lb_add(&b, VM_DIM, "  Upgrade: ");
    vm_lb_add(&b, VM_NORMAL, h->upgrade[0] ? san(h->upgrade, s, sizeof(s)) : "(none)");
    vm_lb_add(&b, VM_DIM, "  Connection: ");
    vm_lb_add(&b, VM_NORMAL, h->connection[0] ? san(h->connection, s, sizeof(s)) : "(none)");
    if (h->accept_ok >= 0) {
        vm_lb_add(&b, VM_DIM, "  Accept: ");
        vm_lb_add(&b, h->accept_ok ? VM_OK : VM_BAD, h->accept_ok ? "valid" : "WRONG");
    }
    if (h->server[0]) {
        dl_label(d, &b, "  server");
        vm_lb_add(&b, VM_NORMAL, san(h->server, s, sizeof(s)));
    }
    if (h->location[0]) {
        dl_label(d, &b, "  location");
        vm_lb_add(&b, VM_NORMAL, san(h->location, s, sizeof(s)));
    }
    if (h->n_cookies > 0 || h->sticky[0]) {
        dl_label(d, &b, "  cookies");
        for (int i = 0; i < h->n_cookies && i < EVT_COOKIES_MAX; i++)
            vm_lb_addf(&b, VM_NORMAL, "%s%s", i ? ", " : "", san(h->cookies[i], s, sizeof(s)));
        if (h->sticky[0])
            vm_lb_addf(&b, VM_DIM, "  sticky %s", san(h->sticky, s, sizeof(s)));
    }
    if (h->backend[0]) {
        dl_label(d, &b, "  backend");
        vm_lb_add(&b, VM_NORMAL, san(h->backend, s, sizeof(s)));
    }
    if (h->head[0] && h->status != 101) {
        /* the response head of a failed upgrade, line by line */
        const char *p = h->head;
        int shown = 0;

        while (*p && shown < 8) {
            size_t n = strcspn(p, "\r\n");
            char one[EVT_HEAD_MAX];

            if (n > 0) {
                memcpy(one, p, n);
                one[n] = '\0';
                dl_label(d, &b, shown ? "" : "  head");
                san_term(one, n, s, sizeof(s));
                vm_lb_add(&b, VM_DIM, s);
                shown++;
            }
            p += n;
            while (*p == '\r' || *p == '\n')
                p++;
        }
        if (h->head_truncated) {
            dl_label(d, &b, "");
            vm_lb_add(&b, VM_DIM, "(cut)");
        }
    }
}

static const char *code_name(int code)
{
    switch (code) {
    case 1000:
        return "normal";
    case 1001:
        return "going away";
    case 1002:
        return "protocol error";
    case 1003:
        return "unsupported data";
    case 1005:
        return "no status";
    case 1006:
        return "abnormal";
    case 1007:
        return "invalid payload";
    case 1008:
        return "policy";
    case 1009:
        return "too big";
    case 1011:
        return "server error";
    case 1012:
        return "restart";
    case 1013:
        return "try again later";
    case 1015:
        return "TLS failure";
    default:
        return code >= 4000 && code <= 4999 ? "application" : "";
    }
}

static void detail_codes(struct dl *d, const struct model_ep *e, int conn)
{
    struct model_code_count all[MODEL_CODES * 4];
    size_t n = 0;
    uint32_t top = 0;
    struct vm_lb b;
    char g[VM_LINE_MAX];
    int cols = d->w - LABEL_W - 30;

    for (size_t k = 0; k < e->n_conns; k++) {
        const struct model_conn *c = &e->conns[k];

        if (conn >= 0 && (size_t)conn != k)
            continue;
        for (uint32_t i = 0; i < c->n_codes && i < MODEL_CODES; i++) {
            size_t j;

            for (j = 0; j < n; j++)
                if (all[j].code == c->codes[i].code)
                    break;
            if (j == n) {
                if (n == sizeof(all) / sizeof(all[0]))
                    continue;
                all[n].code = c->codes[i].code;
                all[n++].n = 0;
            }
            all[j].n += c->codes[i].n;
        }
    }
    if (n == 0) {
        dl_title(d, "Close codes: none yet");
        return;
    }
    /* most frequent first */
    for (size_t i = 1; i < n; i++) {
        struct model_code_count x = all[i];
        size_t j = i;

        for (; j > 0 && all[j - 1].n < x.n; j--)
            all[j] = all[j - 1];
        all[j] = x;
    }
    top = all[0].n ? all[0].n : 1;
    if (cols > 40)
        cols = 40;
    if (cols < 5)
        cols = 5;
    dl_title(d, "Close codes");
    for (size_t i = 0; i < n && i < 8; i++) {
        int len = (int)((uint64_t)all[i].n * (uint64_t)cols / top);

        dl_next(d, &b);
        vm_lb_addf(&b, code_style(all[i].code), "  %d", all[i].code);
        lb_at(&b, 8);
        vm_lb_add(&b, VM_DIM, code_name(all[i].code));
        lb_at(&b, 26);
        bar(g, sizeof(g), len < 1 ? 1 : len, 0, len < 1 ? 1 : len, d->ascii);
        vm_lb_add(&b, code_style(all[i].code), g);
        vm_lb_addf(&b, VM_NORMAL, " %" PRIu32, all[i].n);
    }
}

static void detail_lifetime(struct dl *d, const struct model_ep *e, int conn)
{
    uint64_t attempts = 0, opened = 0, ended = 0, life_n = 0, mi = 0, mo = 0, bi = 0, bo = 0;
    int64_t life_sum = 0, life_min = -1, life_max = -1;
    uint32_t causes[EVT_CAUSE_COUNT] = {0};
    struct vm_lb b;
    char s1[32], s2[32], s3[32];
    bool any = false;

    for (size_t k = 0; k < e->n_conns; k++) {
        const struct model_conn *c = &e->conns[k];

        if (conn >= 0 && (size_t)conn != k)
            continue;
        attempts += c->attempts;
        opened += c->opened;
        ended += c->n_ended;
        mi += c->msgs_in;
        mo += c->msgs_out;
        bi += c->bytes_in;
        bo += c->bytes_out;
        if (c->life_n) {
            if (life_min < 0 || c->life_min_us < life_min)
                life_min = c->life_min_us;
            if (c->life_max_us > life_max)
                life_max = c->life_max_us;
            life_sum += c->life_sum_us;
            life_n += c->life_n;
        }
        for (int i = 0; i < EVT_CAUSE_COUNT; i++)
            causes[i] += c->cause_counts[i];
    }
    dl_title(d, "Connection lifetime");
    dl_label(d, &b, "  attempts");
    vm_lb_addf(&b, VM_NORMAL, "%" PRIu64 " started, %" PRIu64 " opened, %" PRIu64 " ended",
               attempts, opened, ended);
    dl_label(d, &b, "  open for");
    if (life_n)
        vm_lb_addf(&b, VM_NORMAL, "min %s, avg %s, max %s (%" PRIu64 " closed)",
                   vm_fmt_dur(life_min, s1, sizeof(s1)),
                   vm_fmt_dur(life_sum / (int64_t)life_n, s2, sizeof(s2)),
                   vm_fmt_dur(life_max, s3, sizeof(s3)), life_n);
    else
        vm_lb_add(&b, VM_DIM, "no connection has opened and closed yet");
    dl_label(d, &b, "  ends");
    for (int i = 0; i < EVT_CAUSE_COUNT; i++) {
        if (!causes[i])
            continue;
        vm_lb_addf(&b, i ? VM_BAD : VM_NORMAL, "%s%s %" PRIu32, any ? ", " : "",
                   i ? evt_cause_name((enum evt_cause)i) : "clean", causes[i]);
        any = true;
    }
    if (!any)
        vm_lb_add(&b, VM_DIM, "none yet");
    dl_label(d, &b, "  messages");
    vm_lb_addf(&b, VM_NORMAL, "in %" PRIu64 " (%s), out %" PRIu64 " (%s)", mi,
               fmt_bytes(bi, s1, sizeof(s1)), mo, fmt_bytes(bo, s2, sizeof(s2)));
}

/* Per-backend breakdown (diag_backends), when more than one backend served. */
static void detail_backends(struct dl *d, const struct model_ep *e)
{
    const struct model_conn *cs[MULTI_CONNS];
    struct diag_backend bk[DIAG_BACKENDS_MAX];
    size_t n = diag_backends(cs, ep_conns(e, cs), bk, DIAG_BACKENDS_MAX, NULL);
    struct vm_lb b;
    char s[VM_LINE_MAX];

    if (n == 0)
        return;
    dl_title(d, "Backends (recent attempts)");
    for (size_t i = 0; i < n; i++) {
        dl_next(d, &b);
        vm_lb_add(&b, VM_NORMAL, "  ");
        vm_lb_add(&b, VM_NORMAL, san(bk[i].backend, s, sizeof(s)));
        lb_at(&b, 2 + 24);
        vm_lb_addf(&b, VM_NORMAL, " %" PRIu32 " attempt%s, ", bk[i].attempts,
                   bk[i].attempts == 1 ? "" : "s");
        vm_lb_addf(&b, bk[i].failures ? VM_BAD : VM_OK, "%" PRIu32 " failed", bk[i].failures);
        if (bk[i].failures)
            vm_lb_addf(&b, VM_DIM, " (last %s%s)", diag_class_name(bk[i].last_class),
                       bk[i].mixed ? ", mixed" : "");
    }
}

/* The members of ep's group with their verdicts now; returns how many (ep's group only). */
#define GROUP_MAX 16

static size_t group_members(struct vm *v, const struct vm_in *in, uint32_t ep,
                            struct diag_group_member *gm, struct diag_verdict *gv, uint32_t *ids)
{
    const struct cfg_ep *ce = ep_cfg(in, ep);
    size_t n = 0;

    if (!ce || !ce->group)
        return 0;
    for (size_t i = 0; i < in->cfg->n_eps && i < in->m->n_eps && n < GROUP_MAX; i++) {
        const struct cfg_ep *o = &in->cfg->eps[i];
        const struct model_ep *me = &in->m->eps[i];
        const struct model_conn *c;
        struct epsum sum;
        bool prev;

        if (!o->group || strcmp(o->group, ce->group))
            continue;
        ep_sum(me, &sum);
        c = &me->conns[sum.rep];
        conn_verdict(v, in, (uint32_t)i, c, &gv[n], &prev);
        gm[n].name = ep_raw_name(in, (uint32_t)i);
        gm[n].via = o->via;
        gm[n].v = c->cur.seq ? &gv[n] : NULL;
        gm[n].http_status = model_http_of(&c->cur)->status;
        ids[n++] = (uint32_t)i;
    }
    return n;
}

/* The group partners side by side (every endpoint of the same group), then diag_group's
 * comparison of the lb and direct paths. */
static void detail_group(struct vm *v, struct dl *d, const struct vm_in *in, uint32_t ep)
{
    const struct cfg_ep *ce = ep_cfg(in, ep);
    struct diag_group_member gm[GROUP_MAX];
    struct diag_verdict gv[GROUP_MAX], cmp;
    uint32_t ids[GROUP_MAX];
    size_t n = group_members(v, in, ep, gm, gv, ids);
    struct vm_lb b;
    char name[VM_CELL_MAX], s[VM_LINE_MAX];

    if (n == 0)
        return;
    snprintf(s, sizeof(s), "Group %s", ce->group);
    dl_title(d, san(s, name, sizeof(name)));
    for (size_t k = 0; k < n; k++) {
        uint32_t i = ids[k];
        const struct model_ep *me = &in->m->eps[i];
        struct epsum sum;
        int state;

        ep_sum(me, &sum);
        state = conn_state(&me->conns[sum.rep]);
        dl_next(d, &b);
        vm_lb_add(&b, i == ep ? VM_HEAD : VM_NORMAL, i == ep ? "> " : "  ");
        vm_lb_add(&b, i == ep ? VM_HEAD : VM_NORMAL, ep_name(in, i, name, sizeof(name)));
        lb_at(&b, 20);
        vm_lb_addf(&b, VM_DIM, " via %-7s",
                   gm[k].via == CFG_VIA_LB       ? "lb"
                   : gm[k].via == CFG_VIA_DIRECT ? "direct"
                                                 : "-");
        vm_lb_add(&b, state_style(state, !gv[k].ok && gv[k].cls != DIAG_HEALTHY),
                  vm_state_name(state));
        lb_at(&b, 44);
        vm_lb_add(&b, gv[k].ok ? VM_OK : VM_BAD, diag_class_name(gv[k].cls));
    }
    diag_group(gm, n, &cmp);
    if (cmp.verdict[0]) {
        dl_wrap(d, "  compare", VM_DIM, cmp.ok ? VM_OK : VM_BAD, san(cmp.verdict, s, sizeof(s)));
        if (!cmp.ok && cmp.hint[0])
            dl_wrap(d, "  hint", VM_DIM, VM_NORMAL, san(cmp.hint, s, sizeof(s)));
    }
}

static void multi_line(struct dl *d, const char *what, const char *cls,
                       const struct diag_verdict *v)
{
    struct vm_lb b;
    char s[VM_LINE_MAX];

    dl_label(d, &b, "Pattern");
    vm_lb_add(&b, VM_BAD, what);
    if (cls) {
        vm_lb_add(&b, VM_DIM, " (");
        vm_lb_add(&b, VM_DIM, cls);
        vm_lb_add(&b, VM_DIM, ")");
    }
    dl_wrap(d, NULL, VM_DIM, VM_NORMAL, san(v->verdict, s, sizeof(s)));
    if (v->hint[0])
        dl_wrap(d, "Hint", VM_DIM, VM_NORMAL, san(v->hint, s, sizeof(s)));
}

/* The verdicts over several attempts, each a "Pattern" line when it found something: idle
 * timeout, flapping, one bad backend among several, the lb/direct comparison of the group.
 * Returns the lines added. */
static size_t detail_multi_verdict(struct vm *vm, struct dl *d, const struct vm_in *in, uint32_t ep)
{
    const struct model_ep *e = &in->m->eps[ep];
    const struct model_conn *cs[MULTI_CONNS];
    size_t n = ep_conns(e, cs), before = d->n;
    struct diag_verdict v;

    if (diag_idle_timeout(cs, n, &v) >= 0 && !v.ok)
        multi_line(d, diag_class_name(v.cls), NULL, &v);
    if (diag_flapping(cs, n, &v))
        multi_line(d, "flapping", diag_class_name(v.cls), &v);
    {
        struct diag_backend bk[DIAG_BACKENDS_MAX];

        if (diag_backends(cs, n, bk, DIAG_BACKENDS_MAX, &v) > 1 && !v.ok)
            multi_line(d, "backends", diag_class_name(v.cls), &v);
    }
    {
        struct diag_group_member gm[GROUP_MAX];
        struct diag_verdict gv[GROUP_MAX];
        uint32_t ids[GROUP_MAX];
        size_t gn = group_members(vm, in, ep, gm, gv, ids);

        if (gn > 1) {
            diag_group(gm, gn, &v);
            if (!v.ok && v.cls != DIAG_HEALTHY)
                multi_line(d, "group", diag_class_name(v.cls), &v);
        }
    }
    return d->n - before;
}

size_t vm_detail(struct vm *v, const struct vm_in *in, int width, struct vm_line *out, size_t max)
{
    struct dl d;
    const struct model_ep *e;
    const struct model_conn *c;
    const struct model_attempt *a;
    const struct cfg_ep *ce;
    struct diag_verdict dv;
    struct diag_policy pol;
    struct epsum sum;
    struct vm_lb b;
    char name[VM_CELL_MAX], s[VM_LINE_MAX], s2[64];
    uint32_t ep, conn;
    int sel_conn;
    bool prev;

    if (!in->m || !vm_selected(v, &ep, &sel_conn) || ep >= in->m->n_eps)
        return 0;
    memset(&d, 0, sizeof(d));
    d.out = out;
    d.max = max;
    d.w = width > VM_MAX_W ? VM_MAX_W : width;
    d.ascii = v->o.ascii;
    e = &in->m->eps[ep];
    ep_sum(e, &sum);
    conn = sel_conn >= 0 ? (uint32_t)sel_conn : sum.rep;
    c = &e->conns[conn];
    a = &c->cur;
    ce = ep_cfg(in, ep);
    policy(in, ep, &pol);
    conn_verdict(v, in, ep, c, &dv, &prev);

    /* who */
    dl_next(&d, &b);
    vm_lb_add(&b, VM_HEAD, ep_name(in, ep, name, sizeof(name)));
    if (ce && ce->url) {
        char masked[URL_PATH_MAX + URL_HOST_MAX + 32];

        vm_lb_add(&b, VM_NORMAL, "  ");
        vm_lb_add(
            &b, VM_NORMAL,
            san(v->o.show_secrets ? ce->url : url_mask_secrets(ce->url, masked, sizeof(masked)), s,
                sizeof(s)));
    }
    if (ce) {
        dl_next(&d, &b);
        vm_lb_add(&b, VM_DIM, "  ");
        if (ce->group)
            vm_lb_addf(&b, VM_DIM, "group %s, ", san(ce->group, s, sizeof(s)));
        if (ce->via != CFG_VIA_NONE)
            vm_lb_addf(&b, VM_DIM, "via %s, ", ce->via == CFG_VIA_LB ? "lb" : "direct");
        vm_lb_addf(&b, VM_DIM, "ping %s, ",
                   ce->ping_ms > 0 ? vm_fmt_dur(ce->ping_ms * 1000, s2, sizeof(s2)) : "off");
        vm_lb_addf(&b, VM_DIM, "timeout %s", vm_fmt_dur(ce->timeout_ms * 1000, s2, sizeof(s2)));
        if (e->n_conns > 1)
            vm_lb_addf(&b, VM_DIM, ", connection %" PRIu32 " of %zu", conn + 1, e->n_conns);
        if (ce->resolve)
            vm_lb_addf(&b, VM_DIM, ", resolve %s", san(ce->resolve, s, sizeof(s)));
        if (ce->insecure)
            vm_lb_add(&b, VM_BAD, ", --insecure");
    }

    /* now */
    dl_label(&d, &b, "State");
    vm_lb_add(&b, state_style(conn_state(c), !dv.ok && dv.cls != DIAG_HEALTHY),
              vm_state_name(conn_state(c)));
    if (a->seq) {
        vm_lb_addf(&b, VM_NORMAL, " for %s, attempt #%" PRIu32,
                   vm_fmt_dur(in->now_mono_us - c->t_state_us, s2, sizeof(s2)), a->seq);
        if (conn_recon(c))
            vm_lb_addf(&b, VM_WARN, " (%" PRIu64 " reconnects)", conn_recon(c));
    }
    if (in->retry_in_us) {
        int64_t r = in->retry_in_us(in->ud, ep, conn);

        if (r >= 0)
            vm_lb_addf(&b, VM_WARN, ", retry in %s", vm_fmt_dur(r, s2, sizeof(s2)));
    }
    if (in->paused)
        vm_lb_add(&b, VM_WARN, ", PAUSED");
    dl_label(&d, &b, "Verdict");
    vm_lb_add(&b, dv.ok ? VM_OK : VM_BAD, diag_class_name(dv.cls));
    if (prev) {
        const struct model_end *pe = model_end_get(c, 0);

        snprintf(s, sizeof(s), "the last attempt ended with %d (%s); a new one is connecting",
                 pe ? pe->code : 0, pe ? evt_cause_name(pe->cause) : "?");
        dl_wrap(&d, NULL, VM_DIM, VM_NORMAL, s);
    } else {
        dl_wrap(&d, NULL, VM_DIM, VM_NORMAL, san(dv.verdict, s, sizeof(s)));
    }
    if (dv.hint[0])
        dl_wrap(&d, "Hint", VM_DIM, VM_NORMAL, san(dv.hint, s, sizeof(s)));
    detail_multi_verdict(v, &d, in, ep);
    {
        uint32_t sm[MODEL_SPARK];
        size_t n = model_spark(c, sm);

        if (n) {
            char t1[32], t2[32];
            uint32_t lo = sm[0], hi = sm[0];

            /* all from the same samples: the last MODEL_SPARK pongs, across attempts */
            for (size_t i = 1; i < n; i++) {
                lo = sm[i] < lo ? sm[i] : lo;
                hi = sm[i] > hi ? sm[i] : hi;
            }
            dl_label(&d, &b, "RTT ms");
            vm_lb_addf(&b, VM_NORMAL, "last %s  median %s  ", vm_fmt_ms(sm[n - 1], t1, sizeof(t1)),
                       vm_fmt_ms(model_conn_rtt_median_us(c), t2, sizeof(t2)));
            vm_lb_addf(&b, VM_DIM, "min %s max %s  ", vm_fmt_ms(lo, t1, sizeof(t1)),
                       vm_fmt_ms(hi, t2, sizeof(t2)));
            vm_spark(sm, n, MODEL_SPARK, d.ascii, s, sizeof(s));
            vm_lb_add(&b, VM_OK, s);
        }
    }
    if (ce && ce->health) {
        const struct model_health *h = &e->health;
        char masked[URL_PATH_MAX + URL_HOST_MAX + 32];

        dl_label(&d, &b, "Health");
        if (h->polls == 0)
            vm_lb_add(&b, VM_DIM, "not polled yet");
        else if (h->status > 0)
            vm_lb_addf(&b, h->status >= 200 && h->status < 400 ? VM_OK : VM_BAD, "%d in %s",
                       h->status, vm_fmt_dur(h->latency_us, s2, sizeof(s2)));
        else
            vm_lb_addf(&b, VM_BAD, "failed: %s", san(h->error, s, sizeof(s)));
        vm_lb_addf(&b, VM_DIM, " (%" PRIu32 " polls, %" PRIu32 " failed) ", h->polls, h->failures);
        vm_lb_add(&b, VM_DIM,
                  san(v->o.show_secrets ? ce->health
                                        : url_mask_secrets(ce->health, masked, sizeof(masked)),
                      s, sizeof(s)));
    }

    dl_next(&d, &b);
    detail_waterfall(v, &d, in, a, &dv);
    detail_tls(&d, in, a);
    detail_http(&d, a);
    detail_codes(&d, e, sel_conn);
    detail_lifetime(&d, e, sel_conn);
    detail_backends(&d, e);
    detail_group(v, &d, in, ep);
    return d.n;
}

/* ---- help ----------------------------------------------------------------------------- */

static const char *const help_keys[][2] = {
    {"Up/Down j/k", "select an endpoint (or scroll the focused pane)"},
    {"PgUp/PgDn Home/End", "a page, the first, the last"},
    {"Enter", "detail of the selected endpoint (Enter or Esc goes back)"},
    {"Left/Right", "in the detail: previous/next endpoint"},
    {"e  + -", "show/hide an endpoint's connections (--connections N)"},
    {"Tab", "switch between the table and the event log"},
    {"r", "reconnect the selected endpoint now"},
    {"p", "pause/resume: no new attempts, no pings"},
    {"m / M", "add a marker note for all endpoints / the selected one"},
    {"/", "filter the focused pane by text (Esc clears)"},
    {"s", "sort by name, state, rtt, reconnects"},
    {"h", "history review: timelines, outages, attempts"},
    {"Ctrl-L", "redraw the screen"},
    {"mouse", "click a row to select it, double-click for its detail"},
    {"?", "this help"},
    {"q", "quit"},
};

size_t vm_help(const struct vm *v, int width, struct vm_line *out, size_t max)
{
    static const char *const states[] = {
        "STATE: the browser's readyState: CONNECTING 0, OPEN 1, CLOSING 2, CLOSED 3",
        "CLASS: the diagnosis of the last attempt (wsmon(1) lists the classes)",
        "FOR: time in the state; RTT ms: last/median; CLOSE: the last close code",
    };
    static const char *const replay_keys[][2] = {
        {"space", "play/pause the replay (from the start when at the end)"},
        {"+ -", "replay faster/slower"},
        {"[ ]  { }", "back/forward 1 minute, 10 minutes"},
        {"^ $", "the start/end of the window"},
    };
    size_t n = 0;
    struct vm_lb b;

    if (n < max) {
        vm_lb_init(&b, &out[n], width, v->o.ascii);
        vm_lb_add(&b, VM_HEAD, v->replay ? "Keys (replay: r, p and m are off)" : "Keys");
    }
    n++;
    for (size_t i = 0; v->replay && i < sizeof(replay_keys) / sizeof(replay_keys[0]); i++, n++) {
        if (n >= max)
            continue;
        vm_lb_init(&b, &out[n], width, v->o.ascii);
        vm_lb_add(&b, VM_KEY, "  ");
        vm_lb_add(&b, VM_KEY, replay_keys[i][0]);
        lb_at(&b, 22);
        vm_lb_add(&b, VM_NORMAL, replay_keys[i][1]);
    }
    for (size_t i = 0; i < sizeof(help_keys) / sizeof(help_keys[0]); i++, n++) {
        const char *k = help_keys[i][0];

        if (v->replay &&
            (!strcmp(k, "r") || !strcmp(k, "p") || !strcmp(k, "m / M") || !strcmp(k, "e  + -"))) {
            n--;
            continue;
        }
        if (n >= max)
            continue;
        vm_lb_init(&b, &out[n], width, v->o.ascii);
        vm_lb_add(&b, VM_KEY, "  ");
        vm_lb_add(&b, VM_KEY, k);
        lb_at(&b, 22);
        vm_lb_add(&b, VM_NORMAL, help_keys[i][1]);
    }
    if (n < max)
        vm_line_clear(&out[n]);
    n++;
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++, n++) {
        if (n >= max)
            continue;
        vm_lb_init(&b, &out[n], width, v->o.ascii);
        vm_lb_add(&b, VM_DIM, states[i]);
    }
    return n;
}

/* ---- the screen ------------------------------------------------------------------------- */

static bool screen_alloc(struct vm *v, int w, int h)
{
    if (h > v->scr_cap) {
        free(v->scr.line);
        v->scr.line = xcalloc((size_t)h, sizeof(*v->scr.line));
        v->scr_cap = h;
    }
    v->scr.w = w;
    v->scr.h = h;
    v->scr.cursor_x = v->scr.cursor_y = -1;
    for (int y = 0; y < h; y++)
        vm_line_clear(&v->scr.line[y]);
    return true;
}

/* Footer items: key, label, priority (lower is kept first). */
struct fkey {
    const char *key, *label;
    int prio;
};

static void footer_keys(struct vm_lb *b, const struct fkey *k, size_t n)
{
    int used = 0;
    bool on[16] = {false};

    for (int prio = 0; prio < 10; prio++) {
        for (size_t i = 0; i < n && i < 16; i++) {
            int need = (int)(strlen(k[i].key) + 1 + strlen(k[i].label) + 2);

            if (k[i].prio != prio || on[i])
                continue;
            if (used + need <= b->w + 2) {
                on[i] = true;
                used += need;
            }
        }
    }
    for (size_t i = 0; i < n && i < 16; i++) {
        bool last = true;

        if (!on[i])
            continue;
        for (size_t j = i + 1; j < n && j < 16; j++)
            last = last && !on[j];
        vm_lb_add(b, VM_KEY, k[i].key);
        vm_lb_addf(b, VM_NORMAL, last ? " %s" : " %s  ", k[i].label);
    }
}

static void build_footer(struct vm *v, const struct vm_in *in, struct vm_line *l, int w, int y)
{
    struct vm_lb b;

    vm_lb_init(&b, l, w, v->o.ascii);
    if (v->prompt_on) {
        char s[VM_LINE_MAX];

        vm_lb_add(&b, VM_KEY, san(v->prompt_label, s, sizeof(s)));
        vm_lb_add(&b, VM_NORMAL, " ");
        /* the end of the text stays visible */
        {
            const char *t = san(v->prompt_text, s, sizeof(s));
            int room = w - b.x - 1, tw = vm_text_width(t);

            while (tw > room && *t) {
                uint32_t cp;
                size_t k = san_utf8_decode(t, strlen(t), &cp);

                t += k ? k : 1;
                tw = vm_text_width(t);
            }
            vm_lb_add(&b, VM_NORMAL, t);
        }
        v->scr.cursor_x = b.x < w ? b.x : w - 1;
        v->scr.cursor_y = y;
        return;
    }
    if (v->msg[0] && (in->ui_mono_us ? in->ui_mono_us : in->now_mono_us) < v->msg_until_us) {
        char s[VM_LINE_MAX];

        vm_lb_add(&b, VM_WARN, san(v->msg, s, sizeof(s)));
        return;
    }
    if (in->banner && in->banner[0]) {
        char s[VM_LINE_MAX];

        vm_lb_add(&b, VM_BAD, san(in->banner, s, sizeof(s)));
        vm_lb_add(&b, VM_NORMAL, "  ");
    }
    if (v->view == VM_VIEW_HELP) {
        vm_lb_add(&b, VM_KEY, "any key");
        vm_lb_add(&b, VM_NORMAL, " back  ");
        vm_lb_add(&b, VM_KEY, "q");
        vm_lb_add(&b, VM_NORMAL, " quit");
    } else if (v->view == VM_VIEW_DETAIL && in->replay) {
        const struct fkey k[] = {
            {"Esc", "back", 0},   {"j/k", "scroll", 1}, {"</>", "endpoint", 3},
            {"space", "play", 1}, {"?", "help", 0},     {"q", "quit", 0},
        };
        footer_keys(&b, k, sizeof(k) / sizeof(k[0]));
    } else if (v->view == VM_VIEW_DETAIL) {
        const struct fkey k[] = {
            {"Esc", "back", 0}, {"j/k", "scroll", 1}, {"</>", "endpoint", 3}, {"r", "reconnect", 2},
            {"m", "mark", 3},   {"?", "help", 0},     {"q", "quit", 0},
        };
        footer_keys(&b, k, sizeof(k) / sizeof(k[0]));
    } else if (in->replay) {
        const struct fkey k[] = {
            {"space", "play/pause", 0}, {"+/-", "speed", 1}, {"[ ]", "-/+1m", 2},
            {"^ $", "start/end", 3},    {"h", "history", 2}, {"Enter", "detail", 3},
            {"?", "help", 0},           {"q", "quit", 0},
        };
        footer_keys(&b, k, sizeof(k) / sizeof(k[0]));
    } else {
        const struct fkey k[] = {
            {"Enter", "detail", 1}, {"Tab", v->pane == VM_PANE_LOG ? "table" : "log", 4},
            {"r", "reconnect", 2},  {"p", in->paused ? "resume" : "pause", 2},
            {"m", "mark", 3},       {"/", "filter", 3},
            {"s", "sort", 3},       {"?", "help", 0},
            {"q", "quit", 0},
        };
        footer_keys(&b, k, sizeof(k) / sizeof(k[0]));
    }
}

/* The status line: title, counts and flags on the left, the time on the right. */
static void build_header(struct vm *v, const struct vm_in *in, struct vm_line *l, int w,
                         const char *what)
{
    struct vm_lb b;
    char t[48], tz[16], s[VM_LINE_MAX];
    size_t counts[4] = {0}, n = in->m ? in->m->n_eps : 0;
    uint64_t recon = 0;
    bool insecure = false;
    int tw;

    if (in->m && in->m == v->seen_m && in->cfg == v->seen_cfg && n == v->n_eps) {
        /* counted by the last vm_update(), in its pass over every endpoint */
        memcpy(counts, v->hdr_counts, sizeof(counts));
        recon = v->hdr_recon;
        insecure = v->hdr_insecure;
    } else {
        for (size_t i = 0; i < n; i++) {
            struct epsum sum;

            ep_sum(&in->m->eps[i], &sum);
            counts[conn_state(&in->m->eps[i].conns[sum.rep]) & 3]++;
            recon += sum.recon;
            if (in->cfg && i < in->cfg->n_eps && in->cfg->eps[i].insecure)
                insecure = true;
        }
    }
    fmt_tod(v, in->now_wall_us, false, t, sizeof(t));
    {
        time_t sec = (time_t)(in->now_wall_us / 1000000);
        struct tm tm;

        tz[0] = '\0';
        if (v->o.utc)
            snprintf(tz, sizeof(tz), " UTC");
        else if (localtime_r(&sec, &tm))
            strftime(tz, sizeof(tz), " %Z", &tm);
    }
    /* the left part may use the zone's room; the time itself always shows */
    tw = vm_text_width(t);
    vm_lb_init(&b, l, w - tw - 2 > 0 ? w - tw - 2 : 0, v->o.ascii);
    vm_lb_add(&b, VM_TITLE, "wsmon");
    if (what) {
        vm_lb_add(&b, VM_NORMAL, " ");
        vm_lb_add(&b, VM_TITLE, what);
    }
    if (in->replay) {
        char rs[VM_LINE_MAX];

        vm_lb_add(&b, VM_NORMAL, "  ");
        vm_lb_add(&b, VM_WARN, san(in->replay, rs, sizeof(rs)));
    }
    if (in->paused)
        lb_whole(&b, VM_WARN, "  PAUSED");
    if (insecure)
        lb_whole(&b, VM_BAD, "  INSECURE");
    if (!what) {
        lb_wholef(&b, VM_NORMAL, "  %zu endpoint%s:", n, n == 1 ? "" : "s");
        lb_wholef(&b, counts[1] ? VM_OK : VM_DIM, " %zu open", counts[1]);
        if (counts[0])
            lb_wholef(&b, VM_WARN, " %zu connecting", counts[0]);
        if (counts[2])
            lb_wholef(&b, VM_WARN, " %zu closing", counts[2]);
        if (counts[3])
            lb_wholef(&b, VM_BAD, " %zu closed", counts[3]);
        if (v->filter[0][0]) {
            char f[FILTER_MAX * 4];

            lb_wholef(&b, VM_KEY, "  filter '%s'", san(v->filter[0], f, sizeof(f)));
        }
        if (v->sort != VM_SORT_NAME)
            lb_wholef(&b, VM_DIM, "  sort %s", vm_sort_name(v->sort));
        if (recon)
            lb_wholef(&b, VM_NORMAL, "  %" PRIu64 " reconnects", recon);
    }
    snprintf(s, sizeof(s), "%s%s", t, tz);
    if (b.x + 2 + vm_text_width(s) <= w)
        tw = vm_text_width(s);
    else
        snprintf(s, sizeof(s), "%s", t);
    vm_line_put(l, w, w - tw, tw, VM_TITLE, s, v->o.ascii);
}

static void build_titles(struct vm *v, const struct vm_layout *lay, struct vm_line *l, int w)
{
    vm_line_clear(l);
    for (int i = 0; i < lay->n; i++) {
        const char *t = colspecs[lay->c[i].col].title;
        int tw = (int)strlen(t), x = lay->c[i].x;

        if (lay->c[i].right && tw < lay->c[i].w)
            x += lay->c[i].w - tw;
        vm_line_put(l, w, x, lay->c[i].w, VM_HEAD, t, v->o.ascii);
    }
}

static void place_row(struct vm *v, const struct vm_layout *lay, const struct vm_row *r,
                      struct vm_line *l, int w)
{
    vm_line_clear(l);
    for (int i = 0; i < lay->n; i++) {
        const struct vm_cell *c = &r->cell[lay->c[i].col];
        int x = lay->c[i].x;

        if (!c->text[0])
            continue;
        if (lay->c[i].right) {
            int cw = vm_text_width(c->text);

            if (cw < lay->c[i].w)
                x += lay->c[i].w - cw;
        }
        vm_line_put(l, w, x, lay->c[i].w, c->style, c->text, v->o.ascii);
    }
    l->reverse = r->selected;
}

static void build_rule(struct vm *v, struct vm_line *l, int w, const char *title, bool focus)
{
    struct vm_lb b;
    char s[VM_LINE_MAX];
    const char *dash = v->o.ascii ? "-" : "\xe2\x94\x80";
    size_t o = 0, dn = strlen(dash);

    vm_lb_init(&b, l, w, v->o.ascii);
    vm_lb_add(&b, VM_DIM, v->o.ascii ? "-- " : "\xe2\x94\x80\xe2\x94\x80 ");
    vm_lb_add(&b, focus ? VM_KEY : VM_HEAD, title);
    if (v->filter[1][0]) {
        vm_lb_add(&b, VM_DIM, " filter ");
        vm_lb_add(&b, VM_KEY, san(v->filter[1], s, sizeof(s)));
    }
    if (!v->log_follow)
        vm_lb_add(&b, VM_WARN, " (scrolled; End follows)");
    vm_lb_add(&b, VM_DIM, " ");
    for (int i = b.x; i < w && o + dn + 1 < sizeof(s); i++) {
        memcpy(s + o, dash, dn);
        o += dn;
    }
    s[o] = '\0';
    vm_lb_add(&b, VM_DIM, s);
}

static void build_main(struct vm *v, const struct vm_in *in, int w, int h)
{
    struct vm_layout lay;
    struct vm_row *rows;
    int avail = h - 4, tn, ln, nshow, y = 2;
    size_t n;

    if (!v->rowbuf)
        v->rowbuf = xcalloc(VM_MAX_H, sizeof(*v->rowbuf));
    rows = v->rowbuf;
    vm_layout(w, &lay);
    build_header(v, in, &v->scr.line[0], w, NULL);
    build_titles(v, &lay, &v->scr.line[1], w);
    nshow = v->n_rows ? (int)(v->n_rows < (size_t)avail ? v->n_rows : (size_t)avail) : 1;
    tn = avail - (avail / 3 > LOG_MIN_LINES ? avail / 3 : LOG_MIN_LINES);
    if (tn > nshow)
        tn = nshow;
    if (tn < 1)
        tn = 1;
    ln = avail - tn;
    n = vm_rows(v, in, &lay, tn, rows);
    v->table_y = 2;
    v->table_n = tn;
    v->table_top = v->top;
    if (n == 0) {
        struct vm_lb b;

        vm_lb_init(&b, &v->scr.line[y], w, v->o.ascii);
        if (v->filter[0][0]) {
            char f[FILTER_MAX * 4];

            vm_lb_addf(&b, VM_DIM, "  no endpoint name contains '%s' (/ then Enter clears)",
                       san(v->filter[0], f, sizeof(f)));
        } else
            vm_lb_add(&b, VM_DIM, "  no endpoints");
    }
    for (size_t i = 0; i < n; i++)
        place_row(v, &lay, &rows[i], &v->scr.line[y + (int)i], w);
    y += tn;
    build_rule(v, &v->scr.line[y], w, "Events", v->pane == VM_PANE_LOG);
    y++;
    v->log_y = y;
    v->log_n = ln;
    vm_log(v, in, w, &v->scr.line[y], (size_t)ln);
    build_footer(v, in, &v->scr.line[h - 1], w, h - 1);
}

/* A scrolled view of n lines (detail, help) between the header and the footer. */
static void build_scrolled(struct vm *v, int *top, bool *end, struct vm_line *lines, size_t n,
                           int h)
{
    int body = h - 2, maxtop = (int)n > body ? (int)n - body : 0;

    if (*end || *top >= maxtop) {
        *top = maxtop;
        *end = maxtop > 0;
    }
    if (*top < 0)
        *top = 0;
    v->body_h = body;
    for (int i = 0; i < body && *top + i < (int)n; i++)
        v->scr.line[1 + i] = lines[*top + i];
}

const struct vm_screen *vm_build(struct vm *v, const struct vm_in *in, int w, int h)
{
    struct vm_line *body;

    if (!v->body)
        v->body = xcalloc(DETAIL_MAX, sizeof(*v->body));
    body = v->body;
    if (w > VM_MAX_W)
        w = VM_MAX_W;
    if (h > VM_MAX_H)
        h = VM_MAX_H;
    if (w < 1)
        w = 1;
    if (h < 1)
        h = 1;
    screen_alloc(v, w, h);
    v->table_n = v->log_n = 0;
    if (w < VM_MIN_W || h < VM_MIN_H) {
        struct vm_lb b;
        char s[128];
        int y = h / 2 > 0 ? h / 2 - 1 : 0;

        snprintf(s, sizeof(s), "terminal too small: %dx%d, wsmon needs %dx%d", w, h, VM_MIN_W,
                 VM_MIN_H);
        vm_lb_init(&b, &v->scr.line[y], w, v->o.ascii);
        lb_at(&b, w > vm_text_width(s) ? (w - vm_text_width(s)) / 2 : 0);
        vm_lb_add(&b, VM_BAD, s);
        if (y + 1 < h) {
            const char *q = "enlarge it, or q to quit";

            vm_lb_init(&b, &v->scr.line[y + 1], w, v->o.ascii);
            lb_at(&b, w > (int)strlen(q) ? (w - (int)strlen(q)) / 2 : 0);
            vm_lb_add(&b, VM_DIM, q);
        }
        return &v->scr;
    }
    switch (v->view) {
    case VM_VIEW_DETAIL: {
        char name[VM_CELL_MAX], what[VM_CELL_MAX + 16];
        uint32_t ep;
        size_t n;

        if (!vm_selected(v, &ep, NULL)) {
            v->view = VM_VIEW_MAIN;
            build_main(v, in, w, h);
            break;
        }
        snprintf(what, sizeof(what), "%s %s", v->o.ascii ? ">" : "\xe2\x80\xba",
                 ep_name(in, ep, name, sizeof(name)));
        build_header(v, in, &v->scr.line[0], w, what);
        n = vm_detail(v, in, w, body, DETAIL_MAX);
        if (n > DETAIL_MAX)
            n = DETAIL_MAX;
        build_scrolled(v, &v->detail_top, &v->detail_end, body, n, h);
        build_footer(v, in, &v->scr.line[h - 1], w, h - 1);
        break;
    }
    case VM_VIEW_HELP: {
        size_t n = vm_help(v, w, body, DETAIL_MAX);

        if (n > DETAIL_MAX)
            n = DETAIL_MAX;
        build_header(v, in, &v->scr.line[0], w, "help");
        build_scrolled(v, &v->help_top, &v->help_end, body, n, h);
        build_footer(v, in, &v->scr.line[h - 1], w, h - 1);
        break;
    }
    default:
        build_main(v, in, w, h);
        break;
    }
    return &v->scr;
}
