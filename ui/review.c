/* SPDX-License-Identifier: MIT */
/* The history review screen: timelines, outages and attempts as lines, no curses; the queries
 * behind it (run off the loop thread by the owner). Everything from the file is untrusted and
 * sanitised here before it becomes a line. */
#include "config.h"

#include "review.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diag.h"
#include "evt.h"
#include "san.h"
#include "xmem.h"

#define SEC        INT64_C(1000000)
#define MIN        (60 * SEC)
#define HOUR       (60 * MIN)
#define DAY        (24 * HOUR)
#define NAME_MAX_W 24
#define NAME_MIN_W 8
#define AVAIL_W    7 /* " 99.9%" after the cells, on terminals wide enough */
#define HINT_MAX   160
#define TEXT_MAX   512

/* ---- cells ------------------------------------------------------------------------------- */

int review_cell_of(int64_t since_us, int64_t span_us, int n, int64_t t_us)
{
    int64_t d;

    if (n <= 0 || span_us <= 0 || t_us < since_us)
        return -1;
    d = t_us - since_us;
    if (d >= span_us)
        return n;
    /* the largest i with span * i / n <= d: i < (d + 1) * n / span */
    return (int)(((d + 1) * n + span_us - 1) / span_us - 1);
}

static int rank_of(char c)
{
    switch (c) {
    case REVIEW_OUTAGE:
        return 3;
    case REVIEW_OPEN:
        return 2;
    case REVIEW_WATCHED:
        return 1;
    default:
        return 0;
    }
}

void review_cells(const struct hist_span *spans, size_t n_spans, const int64_t *marks,
                  size_t n_marks, int64_t since_us, int64_t span_us, int n, char *out)
{
    int64_t until = since_us + span_us;

    if (n <= 0) {
        out[0] = '\0';
        return;
    }
    memset(out, REVIEW_NODATA, (size_t)n);
    out[n] = '\0';
    for (size_t i = 0; i < n_spans; i++) {
        const struct hist_span *s = &spans[i];
        char c = s->kind == HIST_SPAN_OUTAGE ? REVIEW_OUTAGE
                 : s->kind == HIST_SPAN_OPEN ? REVIEW_OPEN
                                             : REVIEW_WATCHED;
        int64_t a = s->start_us > since_us ? s->start_us : since_us;
        int64_t b = s->end_us < until ? s->end_us : until;
        int c0, c1;

        if (b <= a)
            continue;
        c0 = review_cell_of(since_us, span_us, n, a);
        c1 = review_cell_of(since_us, span_us, n, b - 1);
        for (int k = c0 < 0 ? 0 : c0; k <= c1 && k < n; k++)
            if (rank_of(c) > rank_of(out[k]))
                out[k] = c;
    }
    for (size_t i = 0; i < n_marks; i++) {
        int k = review_cell_of(since_us, span_us, n, marks[i]);

        if (k >= 0 && k < n)
            out[k] = REVIEW_MARK;
    }
}

static const int64_t zoom_ladder[] = {
    MIN,      5 * MIN,   15 * MIN, 30 * MIN, HOUR,    3 * HOUR,
    6 * HOUR, 12 * HOUR, DAY,      3 * DAY,  7 * DAY, 30 * DAY,
};
#define ZOOM_N (sizeof(zoom_ladder) / sizeof(zoom_ladder[0]))

int64_t review_zoom(int64_t span_us, int dir)
{
    if (dir > 0) {
        for (size_t i = ZOOM_N; i-- > 0;)
            if (zoom_ladder[i] < span_us)
                return zoom_ladder[i];
        return zoom_ladder[0];
    }
    if (dir < 0) {
        for (size_t i = 0; i < ZOOM_N; i++)
            if (zoom_ladder[i] > span_us)
                return zoom_ladder[i];
        return zoom_ladder[ZOOM_N - 1];
    }
    return span_us;
}

/* ---- queries ----------------------------------------------------------------------------- */

static char *dup_hs(struct hist_str s)
{
    if (!s.s)
        return NULL;
    return xstrndup(s.s, strnlen(s.s, s.n));
}

static int on_timeline(void *ud, const struct hist_timeline *r)
{
    struct review_data *d = ud;
    struct review_ep *e;

    d->eps = xrealloc(d->eps, (d->n_eps + 1) * sizeof(*d->eps));
    e = &d->eps[d->n_eps++];
    memset(e, 0, sizeof(*e));
    e->name = dup_hs(r->endpoint);
    if (!e->name)
        e->name = xstrdup("?");
    e->watched_us = r->watched_us;
    e->up_us = r->up_us;
    if (r->n_spans) {
        e->spans = xcalloc(r->n_spans, sizeof(*e->spans));
        memcpy(e->spans, r->spans, r->n_spans * sizeof(*e->spans));
        e->n_spans = r->n_spans;
    }
    if (r->n_outages) {
        e->out = xcalloc(r->n_outages, sizeof(*e->out));
        for (size_t i = 0; i < r->n_outages; i++) {
            const struct hist_outage *o = &r->outages[i];
            struct review_outage *x = &e->out[i];

            x->start_us = o->start_us;
            x->end_us = o->end_us;
            x->duration_us = o->duration_us;
            x->cls = o->cls;
            x->cause = o->cause;
            x->http_status = o->http_status;
            x->close_code = o->close_code;
            x->attempts = o->attempts;
            x->marker = dup_hs(o->marker);
        }
        e->n_out = r->n_outages;
    }
    return 0;
}

static int on_marker(void *ud, const struct hist_marker *m)
{
    struct review_data *d = ud;
    struct review_mark *x;

    if (d->n_marks % 32 == 0)
        d->marks = xrealloc(d->marks, (d->n_marks + 32) * sizeof(*d->marks));
    x = &d->marks[d->n_marks++];
    x->t_us = m->t_us;
    x->endpoint = dup_hs(m->endpoint);
    x->text = dup_hs(m->text);
    if (!x->text)
        x->text = xstrdup("");
    return 0;
}

struct review_data *review_load(struct hist *h, int64_t since_us, int64_t until_us)
{
    struct review_data *d = xcalloc(1, sizeof(*d));
    struct hist_filter f = {since_us, until_us, NULL, NULL};

    d->since_us = since_us;
    d->until_us = until_us;
    if (!h) {
        snprintf(d->err, sizeof(d->err), "no history database");
        return d;
    }
    if (hist_timeline(h, &f, on_timeline, d) < 0 || hist_markers(h, &f, on_marker, d) < 0) {
        snprintf(d->err, sizeof(d->err), "%s", hist_error(h));
        return d;
    }
    for (size_t i = 0; i < d->n_eps; i++) {
        struct review_ep *e = &d->eps[i];

        for (size_t k = 0; k < d->n_marks; k++) {
            if (!d->marks[k].endpoint || strcmp(d->marks[k].endpoint, e->name))
                continue;
            e->marks = xrealloc(e->marks, (e->n_marks + 1) * sizeof(*e->marks));
            e->marks[e->n_marks++] = d->marks[k].t_us;
        }
    }
    return d;
}

void review_data_free(struct review_data *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_eps; i++) {
        struct review_ep *e = &d->eps[i];

        free(e->name);
        free(e->spans);
        for (size_t k = 0; k < e->n_out; k++)
            free(e->out[k].marker);
        free(e->out);
        free(e->marks);
    }
    for (size_t k = 0; k < d->n_marks; k++) {
        free(d->marks[k].endpoint);
        free(d->marks[k].text);
    }
    free(d->eps);
    free(d->marks);
    free(d);
}

static int on_attempt(void *ud, const struct hist_attempt *r)
{
    struct review_atts *a = ud;
    struct review_att *x;

    if (a->n % 64 == 0)
        a->a = xrealloc(a->a, (a->n + 64) * sizeof(*a->a));
    x = &a->a[a->n++];
    memset(x, 0, sizeof(*x));
    x->started_us = r->started_us;
    x->conn = r->conn;
    x->ok = r->ok;
    x->cls = r->cls;
    x->cause = r->cause;
    x->http_status = r->http_status;
    x->close_code = r->close_code;
    x->dns_us = r->dns_us;
    x->tcp_us = r->tcp_us;
    x->tls_us = r->tls_us;
    x->upgrade_us = r->upgrade_us;
    x->open_us = r->open_us;
    x->total_us = r->total_us;
    x->remote = dup_hs(r->remote);
    x->verdict = dup_hs(r->verdict);
    return 0;
}

struct review_atts *review_load_attempts(struct hist *h, const char *endpoint, int64_t start_us,
                                         int64_t end_us)
{
    struct review_atts *a = xcalloc(1, sizeof(*a));

    a->endpoint = xstrdup(endpoint ? endpoint : "");
    a->start_us = start_us;
    a->end_us = end_us;
    if (!h) {
        snprintf(a->err, sizeof(a->err), "no history database");
        return a;
    }
    if (hist_outage_attempts(h, a->endpoint, start_us, end_us, on_attempt, a) < 0)
        snprintf(a->err, sizeof(a->err), "%s", hist_error(h));
    return a;
}

void review_atts_free(struct review_atts *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        free(a->a[i].remote);
        free(a->a[i].verdict);
    }
    free(a->a);
    free(a->endpoint);
    free(a);
}

/* ---- state ------------------------------------------------------------------------------- */

enum focus { F_EPS, F_OUT, F_ATT };

struct review {
    struct review_opts o;
    int64_t span_us, end_us; /* end_us when not following */
    bool follow;
    bool busy;
    struct review_data *d;
    struct review_atts *atts;
    bool atts_wanted;
    enum focus focus;
    size_t sel_ep, ep_top, sel_out, out_top, att_top;
    char sel_name[TEXT_MAX];
    int eps_h, list_h; /* rows shown at the last build: pages, scrolling */
    int cells;         /* cells of a timeline at the last build */
    char hint[HINT_MAX];
    struct vm_screen scr;
    int scr_cap;
};

struct review *review_new(const struct review_opts *o)
{
    struct review *rv = xcalloc(1, sizeof(*rv));

    if (o)
        rv->o = *o;
    rv->span_us = REVIEW_SPAN_DEF_US;
    rv->follow = true;
    rv->eps_h = rv->list_h = 1;
    return rv;
}

void review_free(struct review *rv)
{
    if (!rv)
        return;
    review_data_free(rv->d);
    review_atts_free(rv->atts);
    free(rv->scr.line);
    free(rv);
}

void review_open(struct review *rv, int64_t now_us, const char *select)
{
    (void)now_us;
    rv->span_us = REVIEW_SPAN_DEF_US;
    rv->follow = true;
    rv->focus = F_EPS;
    rv->sel_ep = rv->ep_top = rv->sel_out = rv->out_top = rv->att_top = 0;
    rv->hint[0] = '\0';
    snprintf(rv->sel_name, sizeof(rv->sel_name), "%s", select ? select : "");
    review_data_free(rv->d);
    rv->d = NULL;
    review_atts_free(rv->atts);
    rv->atts = NULL;
    rv->atts_wanted = false;
}

void review_window(const struct review *rv, int64_t now_us, int64_t *since_us, int64_t *until_us)
{
    int64_t end = rv->follow ? now_us : rv->end_us;

    *until_us = end;
    *since_us = end - rv->span_us;
}

bool review_following(const struct review *rv)
{
    return rv->follow;
}

void review_set_busy(struct review *rv, bool busy)
{
    rv->busy = busy;
}

static const struct review_ep *sel_ep(const struct review *rv)
{
    if (!rv->d || rv->sel_ep >= rv->d->n_eps)
        return NULL;
    return &rv->d->eps[rv->sel_ep];
}

static const struct review_outage *sel_outage(const struct review *rv)
{
    const struct review_ep *e = sel_ep(rv);

    if (!e || rv->sel_out >= e->n_out)
        return NULL;
    return &e->out[rv->sel_out];
}

/* The end of an outage for its attempts: its recovery, else as far as it was recorded. */
static int64_t outage_end(const struct review_outage *o)
{
    return o->end_us != HIST_NULL ? o->end_us : o->start_us + o->duration_us;
}

bool review_attempts_wanted(const struct review *rv, const char **endpoint, int64_t *start_us,
                            int64_t *end_us)
{
    const struct review_ep *e = sel_ep(rv);
    const struct review_outage *o = sel_outage(rv);

    if (!rv->atts_wanted || !e || !o)
        return false;
    *endpoint = e->name;
    *start_us = o->start_us;
    *end_us = outage_end(o);
    return true;
}

static void remember_sel(struct review *rv)
{
    const struct review_ep *e = sel_ep(rv);

    if (e)
        snprintf(rv->sel_name, sizeof(rv->sel_name), "%s", e->name);
}

void review_take(struct review *rv, struct review_data *d)
{
    review_data_free(rv->d);
    rv->d = d;
    if (!d)
        return;
    if (rv->sel_name[0]) {
        for (size_t i = 0; i < d->n_eps; i++) {
            if (!strcmp(d->eps[i].name, rv->sel_name)) {
                rv->sel_ep = i;
                break;
            }
        }
    }
    if (rv->sel_ep >= d->n_eps)
        rv->sel_ep = d->n_eps ? d->n_eps - 1 : 0;
    remember_sel(rv);
    {
        const struct review_ep *e = sel_ep(rv);
        size_t n = e ? e->n_out : 0;

        if (rv->sel_out >= n)
            rv->sel_out = n ? n - 1 : 0;
        if (n == 0 && rv->focus == F_OUT)
            rv->focus = F_EPS;
    }
}

void review_take_attempts(struct review *rv, struct review_atts *a)
{
    review_atts_free(rv->atts);
    rv->atts = a;
    rv->atts_wanted = false;
    rv->att_top = 0;
}

static void step(size_t *sel, size_t n, long delta)
{
    long v = (long)*sel + delta;

    if (n == 0) {
        *sel = 0;
        return;
    }
    if (v < 0)
        v = 0;
    if (v >= (long)n)
        v = (long)n - 1;
    *sel = (size_t)v;
}

/* Move the focused list by delta (LONG_MIN/LONG_MAX: to the ends). */
static void move(struct review *rv, long delta)
{
    const struct review_ep *e = sel_ep(rv);

    switch (rv->focus) {
    case F_EPS: {
        size_t before = rv->sel_ep;

        step(&rv->sel_ep, rv->d ? rv->d->n_eps : 0, delta);
        if (rv->sel_ep != before) {
            rv->sel_out = rv->out_top = 0;
            remember_sel(rv);
        }
        break;
    }
    case F_OUT:
        step(&rv->sel_out, e ? e->n_out : 0, delta);
        break;
    case F_ATT: {
        size_t n = rv->atts ? rv->atts->n : 0, page = rv->list_h > 1 ? (size_t)rv->list_h - 1 : 1;

        step(&rv->att_top, n > page ? n - page + 1 : 1, delta);
        break;
    }
    }
}

int review_key(struct review *rv, enum review_key k, int64_t now_us)
{
    int64_t since, until, quarter = rv->span_us / 4;

    rv->hint[0] = '\0';
    review_window(rv, now_us, &since, &until);
    switch (k) {
    case RK_LEFT:
        rv->follow = false;
        rv->end_us = until - quarter;
        return RA_QUERY;
    case RK_RIGHT:
        if (rv->follow)
            return RA_NONE;
        rv->end_us = until + quarter;
        if (rv->end_us >= now_us)
            rv->follow = true;
        return RA_QUERY;
    case RK_ZOOM_IN:
    case RK_ZOOM_OUT: {
        int64_t mid = until - rv->span_us / 2,
                span = review_zoom(rv->span_us, k == RK_ZOOM_IN ? 1 : -1);

        if (span == rv->span_us)
            return RA_NONE;
        rv->span_us = span;
        if (!rv->follow) {
            rv->end_us = mid + span / 2;
            if (rv->end_us >= now_us)
                rv->follow = true;
        }
        return RA_QUERY;
    }
    case RK_NOW:
        rv->follow = true;
        return RA_QUERY;
    case RK_UP:
        move(rv, -1);
        break;
    case RK_DOWN:
        move(rv, 1);
        break;
    case RK_PGUP:
        move(rv, -(long)(rv->focus == F_EPS ? rv->eps_h : rv->list_h));
        break;
    case RK_PGDN:
        move(rv, rv->focus == F_EPS ? rv->eps_h : rv->list_h);
        break;
    case RK_HOME:
        move(rv, -(long)INT32_MAX);
        break;
    case RK_END:
        move(rv, INT32_MAX);
        break;
    case RK_ENTER: {
        const struct review_ep *e = sel_ep(rv);

        if (rv->focus == F_EPS) {
            if (!e)
                break;
            if (e->n_out == 0) {
                snprintf(rv->hint, sizeof(rv->hint), "no outage in this window");
                break;
            }
            rv->focus = F_OUT;
        } else if (rv->focus == F_OUT && sel_outage(rv)) {
            rv->focus = F_ATT;
            review_atts_free(rv->atts);
            rv->atts = NULL;
            rv->atts_wanted = true;
            rv->att_top = 0;
            return RA_ATTEMPTS;
        }
        break;
    }
    case RK_BACK:
        if (rv->focus == F_ATT)
            rv->focus = F_OUT;
        else if (rv->focus == F_OUT)
            rv->focus = F_EPS;
        else
            return RA_CLOSE;
        break;
    }
    return RA_NONE;
}

/* ---- text -------------------------------------------------------------------------------- */

static const char *safe(const char *raw, char *buf, size_t len)
{
    san_term(raw ? raw : "", raw ? strlen(raw) : 0, buf, len);
    return buf;
}

/* Columns of the character at s (n bytes left) and its length; '?' for what cannot be read. */
static int char_at(const char *s, size_t n, size_t *len)
{
    uint32_t cp;
    char one[5];

    *len = san_utf8_decode(s, n, &cp);
    if (*len == 0) {
        *len = 1;
        return 1;
    }
    memcpy(one, s, *len);
    one[*len] = '\0';
    return vm_text_width(one);
}

/* An endpoint name (already safe) in at most cols columns, cut in the middle when longer: host
 * and port on the left, the end of the path on the right, both tell endpoints apart. */
static const char *fit_middle(const struct review *rv, const char *s, int cols, char *buf,
                              size_t len)
{
    const char *ell = rv->o.ascii ? "~" : "\xe2\x80\xa6";
    size_t n = strlen(s), head = 0, tail = n, el = strlen(ell);
    int hw = 0, tw = 0, room;

    if (vm_text_width(s) <= cols || cols < 3) {
        snprintf(buf, len, "%s", s);
        return buf;
    }
    room = cols - 1;
    while (head < n) {
        size_t l;
        int w = char_at(s + head, n - head, &l);

        if (hw + w > room - room / 2)
            break;
        hw += w;
        head += l;
    }
    while (tail > head) {
        size_t j = tail - 1, l;
        int w;

        while (j > head && ((unsigned char)s[j] & 0xc0) == 0x80)
            j--;
        w = char_at(s + j, tail - j, &l);
        if (hw + tw + w > room)
            break;
        tw += w;
        tail = j;
    }
    if (head + el + (n - tail) + 1 > len) {
        snprintf(buf, len, "%s", s);
        return buf;
    }
    memcpy(buf, s, head);
    memcpy(buf + head, ell, el);
    memcpy(buf + head + el, s + tail, n - tail);
    buf[head + el + n - tail] = '\0';
    return buf;
}

static void tm_of(const struct review *rv, int64_t t_us, struct tm *tm)
{
    time_t s = (time_t)(t_us >= 0 ? t_us / SEC : (t_us - SEC + 1) / SEC);

    if (rv->o.utc)
        gmtime_r(&s, tm);
    else
        localtime_r(&s, tm);
}

enum tfmt { T_HM, T_HMS, T_MD, T_MDHM, T_MDHMS, T_CLOCK_UTC, T_CLOCK };

static char *fmt_t(const struct review *rv, int64_t t_us, enum tfmt f, char *buf, size_t len)
{
    struct tm tm;
    size_t n = 0;

    tm_of(rv, t_us, &tm);
    switch (f) {
    case T_HM:
        n = strftime(buf, len, "%H:%M", &tm);
        break;
    case T_HMS:
        n = strftime(buf, len, "%H:%M:%S", &tm);
        break;
    case T_MD:
        n = strftime(buf, len, "%m-%d", &tm);
        break;
    case T_MDHM:
        n = strftime(buf, len, "%m-%d %H:%M", &tm);
        break;
    case T_MDHMS:
        n = strftime(buf, len, "%m-%d %H:%M:%S", &tm);
        break;
    case T_CLOCK_UTC:
        n = strftime(buf, len, "%H:%M:%S UTC", &tm);
        break;
    case T_CLOCK:
        n = strftime(buf, len, "%H:%M:%S %Z", &tm);
        break;
    }
    if (n == 0)
        snprintf(buf, len, "?");
    return buf;
}

/* "14:02:05", with the date when it is not the day of ref. */
static char *fmt_when(const struct review *rv, int64_t t_us, int64_t ref_us, bool secs, char *buf,
                      size_t len)
{
    struct tm a, b;

    tm_of(rv, t_us, &a);
    tm_of(rv, ref_us, &b);
    if (a.tm_year != b.tm_year || a.tm_yday != b.tm_yday)
        return fmt_t(rv, t_us, secs ? T_MDHMS : T_MDHM, buf, len);
    return fmt_t(rv, t_us, secs ? T_HMS : T_HM, buf, len);
}

static const char *span_name(int64_t us, char *buf, size_t len)
{
    if (us % DAY == 0)
        snprintf(buf, len, "%" PRId64 "d", us / DAY);
    else if (us % HOUR == 0)
        snprintf(buf, len, "%" PRId64 "h", us / HOUR);
    else if (us % MIN == 0)
        snprintf(buf, len, "%" PRId64 "m", us / MIN);
    else
        vm_fmt_dur(us, buf, len);
    return buf;
}

/* ---- building ------------------------------------------------------------------------------ */

/* Text at column x in at most w columns (right-aligned when right). */
static void put_col(struct vm_line *l, int width, int x, int w, bool right, enum vm_style st,
                    const char *s, bool ascii)
{
    if (right) {
        int tw = vm_text_width(s);
        if (tw < w)
            x += w - tw;
    }
    vm_line_put(l, width, x, w, st, s, ascii);
}

static void rule(struct review *rv, struct vm_line *l, int w, const char *title)
{
    const char *dash = rv->o.ascii ? "-" : "\xe2\x94\x80";
    char s[VM_LINE_MAX];
    size_t o = 0, dn = strlen(dash);
    struct vm_lb b;

    vm_lb_init(&b, l, w, rv->o.ascii);
    vm_lb_add(&b, VM_DIM, rv->o.ascii ? "-- " : "\xe2\x94\x80\xe2\x94\x80 ");
    vm_lb_add(&b, VM_HEAD, title);
    vm_lb_add(&b, VM_DIM, " ");
    for (int i = b.x; i < w && o + dn + 1 < sizeof(s); i++) {
        memcpy(s + o, dash, dn);
        o += dn;
    }
    s[o] = '\0';
    vm_lb_add(&b, VM_DIM, s);
}

static void build_header(struct review *rv, int64_t now_us, int w)
{
    char a[48], z[48], sp[24], cell[32], clock[48], s[VM_LINE_MAX];
    struct vm_lb b;
    int cw;

    fmt_t(rv, now_us, rv->o.utc ? T_CLOCK_UTC : T_CLOCK, clock, sizeof(clock));
    cw = vm_text_width(clock);
    vm_lb_init(&b, &rv->scr.line[0], w - cw - 1 > 0 ? w - cw - 1 : 0, rv->o.ascii);
    vm_lb_add(&b, VM_TITLE, "wsmon history");
    if (rv->d) {
        int64_t span = rv->d->until_us - rv->d->since_us;

        fmt_when(rv, rv->d->since_us, now_us, false, a, sizeof(a));
        fmt_when(rv, rv->d->until_us, rv->d->since_us, false, z, sizeof(z));
        vm_lb_addf(&b, VM_NORMAL, "  %s-%s", a, z);
        vm_lb_addf(&b, VM_NORMAL, "  %s", span_name(span, sp, sizeof(sp)));
        if (rv->cells > 0 && span > 0)
            vm_lb_addf(&b, VM_DIM, ", cell %s", vm_fmt_dur(span / rv->cells, cell, sizeof(cell)));
    }
    if (rv->follow)
        vm_lb_add(&b, VM_OK, "  now");
    if (rv->busy)
        vm_lb_add(&b, VM_WARN, "  reading...");
    snprintf(s, sizeof(s), "%s", clock);
    vm_line_put(&rv->scr.line[0], w, w - cw, cw, VM_TITLE, s, rv->o.ascii);
}

static void build_footer(struct review *rv, int w, int y)
{
    struct vm_lb b;
    const char *lr = rv->o.ascii ? "Left/Right" : "\xe2\x86\x90/\xe2\x86\x92";
    const char *ud = rv->o.ascii ? "Up/Down" : "\xe2\x86\x91/\xe2\x86\x93";
    const char *enter = rv->focus == F_EPS ? "outages" : rv->focus == F_OUT ? "attempts" : NULL;
    /* key, label, priority (lower is kept first) */
    const struct {
        const char *key, *label;
        int prio;
    } k[] = {
        {lr, "move", 1}, {"+/-", "zoom", 1}, {ud, "select", 2}, {"Enter", enter, 1},
        {"n", "now", 2}, {"Esc", "back", 0}, {"q", "quit", 0},
    };
    enum { N = sizeof(k) / sizeof(k[0]) };
    bool on[N] = {false};
    int used = 0;

    vm_lb_init(&b, &rv->scr.line[y], w, rv->o.ascii);
    if (rv->hint[0]) {
        vm_lb_add(&b, VM_WARN, rv->hint);
        return;
    }
    for (int prio = 0; prio < 3; prio++) {
        for (int i = 0; i < N; i++) {
            int need;

            if (k[i].prio != prio || !k[i].label)
                continue;
            need = (used ? 2 : 0) + vm_text_width(k[i].key) + 1 + (int)strlen(k[i].label);
            if (used + need <= w) {
                on[i] = true;
                used += need;
            }
        }
    }
    for (int i = 0; i < N; i++) {
        if (!on[i])
            continue;
        if (b.x)
            b.x += 2;
        vm_lb_add(&b, VM_KEY, k[i].key);
        vm_lb_addf(&b, VM_NORMAL, " %s", k[i].label);
    }
}

static enum vm_style cell_style(char c)
{
    switch (c) {
    case REVIEW_OPEN:
        return VM_OK;
    case REVIEW_OUTAGE:
        return VM_BAD;
    case REVIEW_MARK:
        return VM_KEY;
    case REVIEW_NODATA:
        return VM_DIM;
    default:
        return VM_NORMAL;
    }
}

/* The cells as spans, one per run of a style; too many runs for a line: one plain span. */
static void put_cells(struct vm_line *l, int width, int x0, const char *cells,
                      const enum vm_style *st, int n, bool ascii)
{
    int runs = 0;
    char buf[VM_MAX_W + 1];

    for (int i = 0; i < n; i++)
        runs += i == 0 || st[i] != st[i - 1];
    if (runs > VM_SPANS - l->n - 2) {
        vm_line_put(l, width, x0, n, VM_NORMAL, cells, ascii);
        return;
    }
    for (int i = 0; i < n;) {
        int j = i;

        while (j < n && st[j] == st[i])
            j++;
        memcpy(buf, cells + i, (size_t)(j - i));
        buf[j - i] = '\0';
        vm_line_put(l, width, x0 + i, j - i, st[i], buf, ascii);
        i = j;
    }
}

/* Tick labels over the cells: "14:10" on round times, far enough apart to read. */
static void build_ruler(struct review *rv, struct vm_line *l, int w, int x0, int n, int name_w)
{
    static const int64_t steps[] = {
        10 * SEC, 15 * SEC, 30 * SEC, MIN,      2 * MIN,   5 * MIN, 10 * MIN, 15 * MIN, 30 * MIN,
        HOUR,     2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY,     2 * DAY,  7 * DAY,  14 * DAY,
    };
    int64_t since = rv->d->since_us, span = rv->d->until_us - rv->d->since_us, stp = 0, off, t;
    bool days;
    int last_end = -1;
    struct tm tm;

    vm_line_clear(l);
    put_col(l, w, 0, name_w, false, VM_HEAD, "ENDPOINT", rv->o.ascii);
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        /* a label every 9 columns at least ("14:10"), 11 with seconds ("14:10:30") */
        if (steps[i] * n >= span * (steps[i] < MIN ? 11 : 9)) {
            stp = steps[i];
            break;
        }
    }
    if (!stp || n <= 0)
        return;
    days = stp >= DAY;
    tm_of(rv, since, &tm);
    off = rv->o.utc ? 0 : (int64_t)tm.tm_gmtoff * SEC;
    t = ((since + off) / stp + 1) * stp - off;
    if (t - stp >= since)
        t -= stp;
    for (; t < since + span; t += stp) {
        char lab[32];
        int c = review_cell_of(since, span, n, t), x = x0 + c, lw;

        if (c < 0 || c >= n)
            continue;
        fmt_t(rv, t, days ? T_MD : stp < MIN ? T_HMS : T_HM, lab, sizeof(lab));
        lw = (int)strlen(lab);
        if (x <= last_end || x + lw > x0 + n)
            continue;
        vm_line_put(l, w, x, lw, VM_DIM, lab, rv->o.ascii);
        last_end = x + lw;
    }
}

static void build_timelines(struct review *rv, int w, int y, int rows, int x0, int n, int name_w,
                            bool avail)
{
    const struct review_data *d = rv->d;
    int64_t since = d->since_us, span = d->until_us - d->since_us;
    char cells[VM_MAX_W + 1], name[TEXT_MAX], cut[TEXT_MAX];
    enum vm_style st[VM_MAX_W];
    struct vm_lb b;

    /* the markers row: every marker of the window */
    vm_lb_init(&b, &rv->scr.line[y], w, rv->o.ascii);
    vm_lb_add(&b, VM_DIM, "markers");
    memset(cells, ' ', (size_t)n);
    cells[n] = '\0';
    for (size_t i = 0; i < d->n_marks; i++) {
        int c = review_cell_of(since, span, n, d->marks[i].t_us);
        if (c >= 0 && c < n)
            cells[c] = REVIEW_MARK;
    }
    if (d->n_marks)
        vm_line_put(b.l, w, x0, n, VM_KEY, cells, rv->o.ascii);
    y++;

    if (rv->sel_ep < rv->ep_top)
        rv->ep_top = rv->sel_ep;
    if (rv->sel_ep >= rv->ep_top + (size_t)rows)
        rv->ep_top = rv->sel_ep - (size_t)rows + 1;
    if (d->n_eps <= (size_t)rows)
        rv->ep_top = 0;
    rv->eps_h = rows;
    for (int r = 0; r < rows && rv->ep_top + (size_t)r < d->n_eps; r++) {
        size_t i = rv->ep_top + (size_t)r;
        const struct review_ep *e = &d->eps[i];
        struct vm_line *l = &rv->scr.line[y + r];
        bool sel = i == rv->sel_ep;

        vm_line_clear(l);
        put_col(l, w, 0, name_w, false, sel ? (rv->focus == F_EPS ? VM_SEL : VM_HEAD) : VM_NORMAL,
                fit_middle(rv, safe(e->name, name, sizeof(name)), name_w, cut, sizeof(cut)),
                rv->o.ascii);
        review_cells(e->spans, e->n_spans, e->marks, e->n_marks, since, span, n, cells);
        for (int k = 0; k < n; k++)
            st[k] = cell_style(cells[k]);
        if (sel && rv->focus != F_EPS) {
            const struct review_outage *o = sel_outage(rv);

            if (o) {
                int c0 = review_cell_of(since, span, n, o->start_us);
                int c1 = review_cell_of(since, span, n, outage_end(o) - 1);

                for (int k = c0 < 0 ? 0 : c0; k <= c1 && k < n; k++)
                    st[k] = VM_SEL;
            }
        }
        put_cells(l, w, x0, cells, st, n, rv->o.ascii);
        if (avail) {
            char pct[16];
            enum vm_style ps = VM_DIM;

            if (e->watched_us > 0) {
                double p = 100.0 * (double)e->up_us / (double)e->watched_us;

                snprintf(pct, sizeof(pct), p >= 99.95 ? "%.0f%%" : "%.1f%%", p);
                ps = p >= 99.9 ? VM_OK : p >= 99.0 ? VM_WARN : VM_BAD;
            } else {
                snprintf(pct, sizeof(pct), "-");
            }
            put_col(l, w, x0 + n, AVAIL_W, true, ps, pct, rv->o.ascii);
        }
    }
}

/* The outages of the selected endpoint. */
static void build_outages(struct review *rv, int w, int y, int rows)
{
    const struct review_ep *e = sel_ep(rv);
    char name[TEXT_MAX], t[64], s[TEXT_MAX + 64];
    int x, cls_w, cause_w;
    bool ended_col = w >= 100;
    struct vm_line *l;

    snprintf(s, sizeof(s), "Outages of %s (%zu)", safe(e ? e->name : "", name, sizeof(name)),
             e ? e->n_out : 0);
    rule(rv, &rv->scr.line[y++], w, s);
    rows--;
    if (!e || rows <= 0)
        return;
    if (e->n_out == 0) {
        struct vm_lb b;

        vm_lb_init(&b, &rv->scr.line[y], w, rv->o.ascii);
        vm_lb_add(&b, VM_DIM, "  none in this window: ");
        vm_lb_add(&b, VM_DIM,
                  e->watched_us > 0 ? "a connection was open, or it closed cleanly"
                                    : "not watched");
        return;
    }
    /* START LASTED [ENDED] CLASS CAUSE HTTP CODE ATT MARKER */
    {
        int fixed = 9 + 9 + (ended_col ? 9 : 0) + 5 + 5 + 4;
        int rest = w - fixed;

        cls_w = rest * 2 / 5 > 18 ? 18 : rest * 2 / 5;
        cause_w = rest / 3 > 17 ? 17 : rest / 3;
    }
    l = &rv->scr.line[y++];
    rows--;
    vm_line_clear(l);
    x = 0;
    put_col(l, w, x, 8, false, VM_HEAD, "START", rv->o.ascii);
    x += 9;
    put_col(l, w, x, 8, true, VM_HEAD, "LASTED", rv->o.ascii);
    x += 9;
    if (ended_col) {
        put_col(l, w, x, 8, false, VM_HEAD, "ENDED", rv->o.ascii);
        x += 9;
    }
    put_col(l, w, x, cls_w, false, VM_HEAD, "CLASS", rv->o.ascii);
    x += cls_w + 1;
    put_col(l, w, x, cause_w, false, VM_HEAD, "CAUSE", rv->o.ascii);
    x += cause_w + 1;
    put_col(l, w, x, 4, true, VM_HEAD, "HTTP", rv->o.ascii);
    x += 5;
    put_col(l, w, x, 4, true, VM_HEAD, "CODE", rv->o.ascii);
    x += 5;
    put_col(l, w, x, 3, true, VM_HEAD, "ATT", rv->o.ascii);
    x += 4;
    if (w - x >= 6)
        put_col(l, w, x, w - x, false, VM_HEAD, "MARKER", rv->o.ascii);

    if (rows <= 0)
        return;
    rv->list_h = rows;
    if (rv->sel_out < rv->out_top)
        rv->out_top = rv->sel_out;
    if (rv->sel_out >= rv->out_top + (size_t)rows)
        rv->out_top = rv->sel_out - (size_t)rows + 1;
    for (int r = 0; r < rows && rv->out_top + (size_t)r < e->n_out; r++) {
        size_t i = rv->out_top + (size_t)r;
        const struct review_outage *o = &e->out[i];
        const char *cn = o->cls < DIAG_CLASS_COUNT ? diag_class_name(o->cls) : "?";
        const char *un = evt_cause_name(o->cause);

        l = &rv->scr.line[y + r];
        vm_line_clear(l);
        x = 0;
        put_col(l, w, x, 8, false, VM_NORMAL,
                fmt_when(rv, o->start_us, rv->d->until_us, true, t, sizeof(t)), rv->o.ascii);
        x += 9;
        vm_fmt_dur(o->duration_us, t, sizeof(t));
        if (o->end_us == HIST_NULL)
            strncat(t, "+", sizeof(t) - strlen(t) - 1);
        put_col(l, w, x, 8, true, o->end_us == HIST_NULL ? VM_BAD : VM_NORMAL, t, rv->o.ascii);
        x += 9;
        if (ended_col) {
            if (o->end_us == HIST_NULL)
                snprintf(t, sizeof(t), "ongoing");
            else
                fmt_when(rv, o->end_us, o->start_us, true, t, sizeof(t));
            put_col(l, w, x, 8, false, VM_NORMAL, t, rv->o.ascii);
            x += 9;
        }
        put_col(l, w, x, cls_w, false, VM_BAD, cn, rv->o.ascii);
        x += cls_w + 1;
        put_col(l, w, x, cause_w, false, VM_NORMAL, un ? un : "-", rv->o.ascii);
        x += cause_w + 1;
        snprintf(t, sizeof(t), o->http_status ? "%d" : "-", o->http_status);
        put_col(l, w, x, 4, true, VM_NORMAL, t, rv->o.ascii);
        x += 5;
        snprintf(t, sizeof(t), o->close_code ? "%d" : "-", o->close_code);
        put_col(l, w, x, 4, true, VM_NORMAL, t, rv->o.ascii);
        x += 5;
        snprintf(t, sizeof(t), "%" PRIu32, o->attempts);
        put_col(l, w, x, 3, true, VM_NORMAL, t, rv->o.ascii);
        x += 4;
        if (w - x >= 6 && o->marker)
            put_col(l, w, x, w - x, false, VM_DIM, safe(o->marker, s, sizeof(s)), rv->o.ascii);
        l->reverse = rv->focus == F_OUT && i == rv->sel_out;
    }
}

static void put_ms(struct vm_line *l, int w, int x, int64_t us, bool ascii)
{
    char t[32];

    vm_fmt_ms(us == HIST_NULL ? -1 : us, t, sizeof(t));
    put_col(l, w, x, 5, true, us == HIST_NULL ? VM_DIM : VM_NORMAL, t, ascii);
}

/* The attempts of the selected outage and their phases. */
static void build_attempts(struct review *rv, int w, int y, int rows)
{
    const struct review_atts *a = rv->atts;
    const struct review_outage *o = sel_outage(rv);
    const struct review_ep *e = sel_ep(rv);
    char name[TEXT_MAX], t[64], s[TEXT_MAX + 128];
    bool wide = w >= 100;
    int x, cls_w, cause_w, tw = wide ? 12 : 8, verdict_x;
    struct vm_line *l;

    snprintf(s, sizeof(s), "Attempts of %s from %s (%zu; phases in ms)",
             safe(e ? e->name : "", name, sizeof(name)),
             o ? fmt_when(rv, o->start_us, rv->d->until_us, true, t, sizeof(t)) : "?",
             a ? a->n : 0);
    rule(rv, &rv->scr.line[y++], w, s);
    rows--;
    if (rows <= 0)
        return;
    if (!a || a->err[0]) {
        struct vm_lb b;

        vm_lb_init(&b, &rv->scr.line[y], w, rv->o.ascii);
        vm_lb_add(&b, a ? VM_BAD : VM_DIM, a ? safe(a->err, s, sizeof(s)) : "  reading...");
        return;
    }
    {
        int fixed = tw + 1 + 5 + 5 + 6 * (wide ? 6 : 5);
        int rest = w - fixed - 2;

        cls_w = rest / 2 > 18 ? 18 : rest / 2;
        cause_w = rest - cls_w > 17 ? 17 : rest - cls_w;
        if (cause_w < 0)
            cause_w = 0;
    }
    l = &rv->scr.line[y++];
    rows--;
    vm_line_clear(l);
    x = 0;
    put_col(l, w, x, tw, false, VM_HEAD, "START", rv->o.ascii);
    x += tw + 1;
    put_col(l, w, x, cls_w, false, VM_HEAD, "CLASS", rv->o.ascii);
    x += cls_w + 1;
    put_col(l, w, x, cause_w, false, VM_HEAD, "CAUSE", rv->o.ascii);
    x += cause_w + 1;
    put_col(l, w, x, 4, true, VM_HEAD, "HTTP", rv->o.ascii);
    x += 5;
    put_col(l, w, x, 4, true, VM_HEAD, "CODE", rv->o.ascii);
    x += 5;
    {
        static const char *const ph[] = {"dns", "tcp", "tls", "upg", "open", "total"};

        for (int i = 0; i < 6; i++) {
            if (!wide && i == 4)
                continue;
            put_col(l, w, x, 5, true, VM_HEAD, ph[i], rv->o.ascii);
            x += 6;
        }
    }
    verdict_x = x;
    if (wide && w - x >= 10)
        put_col(l, w, x, w - x, false, VM_HEAD, "VERDICT", rv->o.ascii);
    if (rows <= 0)
        return;
    rv->list_h = rows;
    if (a->n == 0) {
        struct vm_lb b;

        vm_lb_init(&b, &rv->scr.line[y], w, rv->o.ascii);
        vm_lb_add(&b, VM_DIM, "  no attempt recorded in it");
        return;
    }
    if (rv->att_top + (size_t)rows > a->n)
        rv->att_top = a->n > (size_t)rows ? a->n - (size_t)rows : 0;
    for (int r = 0; r < rows && rv->att_top + (size_t)r < a->n; r++) {
        const struct review_att *x_ = &a->a[rv->att_top + (size_t)r];
        const char *cn = x_->cls < DIAG_CLASS_COUNT ? diag_class_name(x_->cls) : "?";
        const char *un = evt_cause_name(x_->cause);

        l = &rv->scr.line[y + r];
        vm_line_clear(l);
        x = 0;
        fmt_t(rv, x_->started_us, T_HMS, t, sizeof(t));
        if (wide) {
            size_t n = strlen(t);
            snprintf(t + n, sizeof(t) - n, ".%03d", (int)((x_->started_us / 1000) % 1000));
        }
        put_col(l, w, x, tw, false, VM_NORMAL, t, rv->o.ascii);
        x += tw + 1;
        put_col(l, w, x, cls_w, false, x_->ok ? VM_OK : VM_BAD, cn, rv->o.ascii);
        x += cls_w + 1;
        put_col(l, w, x, cause_w, false, VM_NORMAL, un ? un : "-", rv->o.ascii);
        x += cause_w + 1;
        snprintf(t, sizeof(t), x_->http_status != HIST_NULL ? "%" PRId64 : "-", x_->http_status);
        put_col(l, w, x, 4, true, VM_NORMAL, t, rv->o.ascii);
        x += 5;
        snprintf(t, sizeof(t), x_->close_code != HIST_NULL ? "%" PRId64 : "-", x_->close_code);
        put_col(l, w, x, 4, true, VM_NORMAL, t, rv->o.ascii);
        x += 5;
        put_ms(l, w, x, x_->dns_us, rv->o.ascii);
        x += 6;
        put_ms(l, w, x, x_->tcp_us, rv->o.ascii);
        x += 6;
        put_ms(l, w, x, x_->tls_us, rv->o.ascii);
        x += 6;
        put_ms(l, w, x, x_->upgrade_us, rv->o.ascii);
        x += 6;
        if (wide) {
            put_ms(l, w, x, x_->open_us, rv->o.ascii);
            x += 6;
        }
        put_ms(l, w, x, x_->total_us, rv->o.ascii);
        if (wide && w - verdict_x >= 10 && x_->verdict)
            put_col(l, w, verdict_x, w - verdict_x, false, VM_DIM, safe(x_->verdict, s, sizeof(s)),
                    rv->o.ascii);
    }
}

static void screen_alloc(struct review *rv, int w, int h)
{
    if (h > rv->scr_cap) {
        free(rv->scr.line);
        rv->scr.line = xcalloc((size_t)h, sizeof(*rv->scr.line));
        rv->scr_cap = h;
    }
    rv->scr.w = w;
    rv->scr.h = h;
    rv->scr.cursor_x = rv->scr.cursor_y = -1;
    for (int y = 0; y < h; y++)
        vm_line_clear(&rv->scr.line[y]);
}

static void body_text(struct review *rv, int w, int y, enum vm_style st, const char *text)
{
    struct vm_lb b;
    char s[TEXT_MAX];

    vm_lb_init(&b, &rv->scr.line[y], w, rv->o.ascii);
    vm_lb_add(&b, VM_NORMAL, "  ");
    vm_lb_add(&b, st, safe(text, s, sizeof(s)));
}

const struct vm_screen *review_build(struct review *rv, int64_t now_us, int w, int h)
{
    const struct review_data *d = rv->d;
    int name_w = NAME_MIN_W, x0, n, rows, y;
    bool avail;
    char s[TEXT_MAX];

    if (w > VM_MAX_W)
        w = VM_MAX_W;
    if (h > VM_MAX_H)
        h = VM_MAX_H;
    if (w < 1)
        w = 1;
    if (h < 1)
        h = 1;
    if (w < VM_MIN_W || h < VM_MIN_H) {
        struct vm_lb b;
        int yy = h / 2 > 0 ? h / 2 - 1 : 0;

        screen_alloc(rv, w, h);
        snprintf(s, sizeof(s), "terminal too small: %dx%d, wsmon needs %dx%d", w, h, VM_MIN_W,
                 VM_MIN_H);
        vm_lb_init(&b, &rv->scr.line[yy], w, rv->o.ascii);
        b.x = w > vm_text_width(s) ? (w - vm_text_width(s)) / 2 : 0;
        vm_lb_add(&b, VM_BAD, s);
        rv->scr.cursor_x = -1;
        return &rv->scr;
    }
    if (d) {
        for (size_t i = 0; i < d->n_eps; i++) {
            char nm[TEXT_MAX];
            int nw = vm_text_width(safe(d->eps[i].name, nm, sizeof(nm)));

            if (nw > name_w)
                name_w = nw;
        }
    }
    if (name_w > (w >= 100 ? NAME_MAX_W : 18))
        name_w = w >= 100 ? NAME_MAX_W : 18;
    avail = w >= 70;
    x0 = name_w + 1;
    n = w - x0 - (avail ? AVAIL_W : 0);
    screen_alloc(rv, w, h);
    rv->cells = d && !d->err[0] && d->n_eps ? n : 0;
    build_header(rv, now_us, w);
    build_footer(rv, w, h - 1);
    if (!d) {
        body_text(rv, w, 2, VM_DIM, "reading the history...");
        return &rv->scr;
    }
    if (d->err[0]) {
        body_text(rv, w, 2, VM_BAD, d->err);
        body_text(rv, w, 4, VM_DIM, "Esc goes back to the dashboard");
        return &rv->scr;
    }
    if (d->n_eps == 0) {
        char a[48], z[48];

        snprintf(s, sizeof(s), "nothing was recorded between %s and %s",
                 fmt_when(rv, d->since_us, now_us, true, a, sizeof(a)),
                 fmt_when(rv, d->until_us, now_us, true, z, sizeof(z)));
        body_text(rv, w, 2, VM_DIM, s);
        body_text(rv, w, 3, VM_DIM, "Left/Right move the window, - zooms out, n comes back to now");
        return &rv->scr;
    }
    build_ruler(rv, &rv->scr.line[1], w, x0, n, name_w);
    /* endpoints: at most half of what is left, at least 3 rows */
    rows = (h - 6) / 2;
    if (rows < 3)
        rows = 3;
    if ((size_t)rows > d->n_eps)
        rows = (int)d->n_eps;
    build_timelines(rv, w, 2, rows, x0, n, name_w, avail);
    y = 3 + rows;
    if (rv->focus == F_ATT)
        build_attempts(rv, w, y, h - 1 - y);
    else
        build_outages(rv, w, y, h - 1 - y);
    return &rv->scr;
}
