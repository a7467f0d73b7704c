/* SPDX-License-Identifier: MIT */
/* The history review screen's view model: cell math for hand-made intervals, zoom, markers,
 * keys and their actions, the screen at 80x24 (hostile names escaped), and its queries against a
 * database written through the store. No curses. */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "hist.h"
#include "model.h"
#include "review.h"
#include "store.h"
#include "vm.h"

#define SEC  INT64_C(1000000)
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)
/* 2026-11-26T14:00:00Z */
#define T0 INT64_C(1795701600000000)

/* ---- cells ---------------------------------------------------------------------------- */

static void t_cell_of(void **state)
{
    (void)state;
    /* 60 s in 6 cells of 10 s */
    assert_int_equal(review_cell_of(0, 60 * SEC, 6, 0), 0);
    assert_int_equal(review_cell_of(0, 60 * SEC, 6, 10 * SEC - 1), 0);
    assert_int_equal(review_cell_of(0, 60 * SEC, 6, 10 * SEC), 1);
    assert_int_equal(review_cell_of(0, 60 * SEC, 6, 60 * SEC - 1), 5);
    assert_int_equal(review_cell_of(0, 60 * SEC, 6, 60 * SEC), 6);
    assert_int_equal(review_cell_of(0, 60 * SEC, 6, -1), -1);
    /* 100 us in 3 cells: [0, 33) [33, 66) [66, 100) */
    assert_int_equal(review_cell_of(0, 100, 3, 32), 0);
    assert_int_equal(review_cell_of(0, 100, 3, 33), 1);
    assert_int_equal(review_cell_of(0, 100, 3, 65), 1);
    assert_int_equal(review_cell_of(0, 100, 3, 66), 2);
    assert_int_equal(review_cell_of(0, 100, 3, 99), 2);
    /* a window at a real time, 1 h in 54 cells: every cell boundary maps to its cell */
    for (int i = 0; i < 54; i++) {
        int64_t b = T0 + HOUR * i / 54;
        assert_int_equal(review_cell_of(T0, HOUR, 54, b), i);
        if (i)
            assert_int_equal(review_cell_of(T0, HOUR, 54, b - 1), i - 1);
    }
    assert_int_equal(review_cell_of(T0, HOUR, 0, T0), -1);
}

static void t_cells(void **state)
{
    const struct hist_span sp[] = {
        {0, 60 * SEC, HIST_SPAN_WATCHED},
        {0, 25 * SEC, HIST_SPAN_OPEN},
        {25 * SEC, 40 * SEC, HIST_SPAN_OUTAGE},
        {40 * SEC, 60 * SEC, HIST_SPAN_OPEN},
    };
    const struct hist_span partial[] = {
        {15 * SEC, 45 * SEC, HIST_SPAN_WATCHED}, /* watched from 15 s to 45 s */
        {20 * SEC, 20 * SEC, HIST_SPAN_OUTAGE},  /* empty: no cell */
        {-30 * SEC, 12 * SEC, HIST_SPAN_OPEN},   /* from before the window */
        {58 * SEC, 90 * SEC, HIST_SPAN_OUTAGE},  /* into the last cell and past the end */
    };
    int64_t marks[] = {35 * SEC, 70 * SEC /* outside */};
    char out[16];

    (void)state;
    review_cells(sp, 4, NULL, 0, 0, 60 * SEC, 6, out);
    /* an outage wins over an open connection in the same cell (20-30 s) */
    assert_string_equal(out, "##xx##");
    review_cells(sp, 4, marks, 2, 0, 60 * SEC, 6, out);
    assert_string_equal(out, "##x|##");
    review_cells(partial, 4, NULL, 0, 0, 60 * SEC, 6, out);
    assert_string_equal(out, "##---x");
    review_cells(NULL, 0, NULL, 0, 0, 60 * SEC, 6, out);
    assert_string_equal(out, "......");
    /* 12 cells of 5 s: the outage is 25-40 s, three cells */
    review_cells(sp, 4, NULL, 0, 0, 60 * SEC, 12, out);
    assert_string_equal(out, "#####xxx####");
    review_cells(sp, 4, NULL, 0, 0, 60 * SEC, 0, out);
    assert_string_equal(out, "");
}

static void t_zoom(void **state)
{
    (void)state;
    assert_int_equal(review_zoom(HOUR, 1), 30 * MIN);
    assert_int_equal(review_zoom(HOUR, -1), 3 * HOUR);
    assert_int_equal(review_zoom(5 * MIN, 1), MIN);
    assert_int_equal(review_zoom(MIN, 1), MIN);
    assert_int_equal(review_zoom(30 * 24 * HOUR, -1), 30 * 24 * HOUR);
    assert_int_equal(review_zoom(2 * HOUR, 1), HOUR); /* between two steps */
    assert_int_equal(review_zoom(2 * HOUR, -1), 3 * HOUR);
    assert_int_equal(review_zoom(HOUR, 0), HOUR);
    /* the whole ladder, in and out */
    {
        int64_t s = REVIEW_SPAN_MIN_US;
        int n = 0;
        while (review_zoom(s, -1) != s) {
            s = review_zoom(s, -1);
            n++;
        }
        assert_int_equal(s, REVIEW_SPAN_MAX_US);
        assert_int_equal(n, 11);
    }
}

/* ---- the screen ------------------------------------------------------------------------- */

static char *plain(const struct vm_screen *s, int y, char *buf, size_t len)
{
    return vm_line_plain(&s->line[y], buf, len);
}

/* Every line fits, and nothing a terminal would act on is in it. */
static void screen_ok(const struct vm_screen *s)
{
    char buf[VM_LINE_MAX];

    for (int y = 0; y < s->h; y++) {
        const struct vm_line *l = &s->line[y];

        for (int i = 0; i < l->n; i++)
            assert_true(l->span[i].x + l->span[i].w <= s->w);
        plain(s, y, buf, sizeof(buf));
        assert_true(vm_text_width(buf) <= s->w);
        for (const unsigned char *p = (const unsigned char *)buf; *p; p++)
            assert_false(*p < 0x20 || *p == 0x7f);
    }
}

static int find_line(const struct vm_screen *s, const char *needle)
{
    char buf[VM_LINE_MAX];

    for (int y = 0; y < s->h; y++)
        if (strstr(plain(s, y, buf, sizeof(buf)), needle))
            return y;
    return -1;
}

static void dump(const struct vm_screen *s)
{
    char buf[VM_LINE_MAX];

    for (int y = 0; y < s->h; y++)
        fprintf(stderr, "# |%s\n", plain(s, y, buf, sizeof(buf)));
}

/* Three endpoints over 14:00-15:00: api open all along, "evil\e[31m" (a hostile name) down
 * 14:20-14:30 (tcp-refused, 12 attempts) and again from 14:50 (not recovered), idle watched
 * from 14:30 only; a global marker at 14:19 and one of the evil endpoint at 14:45. */
static struct review_data *hand_data(void)
{
    struct review_data *d = calloc(1, sizeof(*d));
    struct review_ep *e;

    d->since_us = T0;
    d->until_us = T0 + HOUR;
    d->n_eps = 3;
    d->eps = calloc(3, sizeof(*d->eps));

    e = &d->eps[0];
    e->name = strdup("api");
    e->watched_us = e->up_us = HOUR;
    e->n_spans = 2;
    e->spans = calloc(2, sizeof(*e->spans));
    e->spans[0] = (struct hist_span){T0, T0 + HOUR, HIST_SPAN_WATCHED};
    e->spans[1] = (struct hist_span){T0, T0 + HOUR, HIST_SPAN_OPEN};

    e = &d->eps[1];
    e->name = strdup("evil\x1b[31m\x07name");
    e->watched_us = HOUR;
    e->up_us = HOUR - 20 * MIN;
    e->n_spans = 5;
    e->spans = calloc(5, sizeof(*e->spans));
    e->spans[0] = (struct hist_span){T0, T0 + HOUR, HIST_SPAN_WATCHED};
    e->spans[1] = (struct hist_span){T0, T0 + 20 * MIN, HIST_SPAN_OPEN};
    e->spans[2] = (struct hist_span){T0 + 20 * MIN, T0 + 30 * MIN, HIST_SPAN_OUTAGE};
    e->spans[3] = (struct hist_span){T0 + 30 * MIN, T0 + 50 * MIN, HIST_SPAN_OPEN};
    e->spans[4] = (struct hist_span){T0 + 50 * MIN, T0 + HOUR, HIST_SPAN_OUTAGE};
    e->n_out = 2;
    e->out = calloc(2, sizeof(*e->out));
    e->out[0] = (struct review_outage){T0 + 20 * MIN,
                                       T0 + 30 * MIN,
                                       10 * MIN,
                                       DIAG_TCP_REFUSED,
                                       EVT_CAUSE_REFUSED,
                                       0,
                                       0,
                                       12,
                                       strdup("deploy \x1b[2J")};
    e->out[1] = (struct review_outage){
        T0 + 50 * MIN, HIST_NULL, 10 * MIN, DIAG_HTTP_STATUS, EVT_CAUSE_HTTP_STATUS, 502,
        1006,          4,         NULL};
    e->n_marks = 1;
    e->marks = calloc(1, sizeof(*e->marks));
    e->marks[0] = T0 + 45 * MIN;

    e = &d->eps[2];
    e->name = strdup("idle");
    e->watched_us = 30 * MIN;
    e->up_us = 30 * MIN;
    e->n_spans = 2;
    e->spans = calloc(2, sizeof(*e->spans));
    e->spans[0] = (struct hist_span){T0 + 30 * MIN, T0 + HOUR, HIST_SPAN_WATCHED};
    e->spans[1] = (struct hist_span){T0 + 30 * MIN, T0 + HOUR, HIST_SPAN_OPEN};

    d->n_marks = 2;
    d->marks = calloc(2, sizeof(*d->marks));
    d->marks[0] = (struct review_mark){T0 + 19 * MIN, NULL, strdup("deploy")};
    d->marks[1] = (struct review_mark){T0 + 45 * MIN, strdup(d->eps[1].name), strdup("evil")};
    return d;
}

static void t_screen(void **state)
{
    struct review_opts o = {.ascii = true, .utc = true};
    struct review *rv = review_new(&o);
    const struct vm_screen *s;
    char buf[VM_LINE_MAX];
    int y, x0, n;
    int64_t since, until;
    const char *ep;
    int64_t a, b;

    (void)state;
    review_open(rv, T0 + HOUR, "evil\x1b[31m\x07name");
    review_window(rv, T0 + HOUR, &since, &until);
    assert_int_equal(since, T0);
    assert_int_equal(until, T0 + HOUR);
    assert_true(review_following(rv));
    s = review_build(rv, T0 + HOUR, 80, 24);
    assert_int_not_equal(find_line(s, "reading"), -1);
    review_take(rv, hand_data());
    s = review_build(rv, T0 + HOUR, 80, 24);
    screen_ok(s);
    assert_int_equal(s->w, 80);
    assert_int_equal(s->h, 24);
    assert_true(strstr(plain(s, 0, buf, sizeof(buf)), "wsmon history  14:00-15:00  1h") != NULL);
    assert_true(strstr(buf, "15:00:00 UTC") != NULL);
    /* the ruler: round times */
    assert_true(strstr(plain(s, 1, buf, sizeof(buf)), "14:10") != NULL);
    assert_true(strstr(buf, "14:50") != NULL);

    /* rows: names, cells, availability; the hostile name escaped */
    y = find_line(s, "evil");
    assert_int_equal(y, 4);
    plain(s, y, buf, sizeof(buf));
    assert_null(strchr(buf, '\x1b'));
    assert_non_null(strstr(buf, "\\e[31m"));
    /* name column of 18, the cells from 19 to 73, the availability after */
    x0 = 19;
    n = 80 - x0 - 7;
    assert_int_equal(review_cell_of(T0, HOUR, n, T0 + 20 * MIN), 18);
    assert_int_equal(buf[x0 + 17], REVIEW_OPEN);
    assert_int_equal(buf[x0 + 18], REVIEW_OUTAGE);
    assert_int_equal(buf[x0 + review_cell_of(T0, HOUR, n, T0 + 45 * MIN)], REVIEW_MARK);
    assert_int_equal(buf[x0 + n - 1], REVIEW_OUTAGE);
    assert_non_null(strstr(buf, "66.7%"));
    /* idle: no data before 14:30 */
    plain(s, find_line(s, "idle"), buf, sizeof(buf));
    assert_int_equal(buf[x0], REVIEW_NODATA);
    assert_int_equal(buf[x0 + n - 1], REVIEW_OPEN);
    /* markers row: 14:19 and 14:45 */
    y = find_line(s, "markers");
    assert_int_equal(y, 2);
    plain(s, y, buf, sizeof(buf));
    assert_int_equal(buf[x0 + review_cell_of(T0, HOUR, n, T0 + 19 * MIN)], REVIEW_MARK);
    assert_int_equal(buf[x0 + review_cell_of(T0, HOUR, n, T0 + 45 * MIN)], REVIEW_MARK);
    /* the selected endpoint's outages below, with escaped marker text */
    assert_int_not_equal(find_line(s, "Outages of evil"), -1);
    y = find_line(s, "tcp-refused");
    assert_int_not_equal(y, -1);
    plain(s, y, buf, sizeof(buf));
    assert_non_null(strstr(buf, "14:20:00"));
    assert_non_null(strstr(buf, "10m00s"));
    assert_non_null(strstr(buf, "refused"));
    assert_non_null(strstr(buf, " 12 "));
    assert_null(strchr(buf, '\x1b'));
    y = find_line(s, "http-status");
    plain(s, y, buf, sizeof(buf));
    assert_non_null(strstr(buf, "10m00s+")); /* not recovered */
    assert_non_null(strstr(buf, "502"));
    assert_non_null(strstr(buf, "1006"));
    if (find_line(s, "q quit") < 0)
        dump(s);
    assert_int_not_equal(find_line(s, "q quit"), -1);

    /* keys: into the outages, the second one, its attempts */
    assert_int_equal(review_key(rv, RK_ENTER, T0 + HOUR), RA_NONE);
    assert_int_equal(review_key(rv, RK_DOWN, T0 + HOUR), RA_NONE);
    s = review_build(rv, T0 + HOUR, 80, 24);
    assert_true(s->line[find_line(s, "http-status")].reverse);
    assert_false(s->line[find_line(s, "tcp-refused")].reverse);
    assert_false(review_attempts_wanted(rv, &ep, &a, &b));
    assert_int_equal(review_key(rv, RK_ENTER, T0 + HOUR), RA_ATTEMPTS);
    assert_true(review_attempts_wanted(rv, &ep, &a, &b));
    assert_string_equal(ep, "evil\x1b[31m\x07name");
    assert_int_equal(a, T0 + 50 * MIN);
    assert_int_equal(b, T0 + HOUR); /* not recovered: as far as it was recorded */
    s = review_build(rv, T0 + HOUR, 80, 24);
    assert_int_not_equal(find_line(s, "reading"), -1);
    {
        struct review_atts *at = calloc(1, sizeof(*at));

        at->endpoint = strdup(ep);
        at->n = 2;
        at->a = calloc(2, sizeof(*at->a));
        at->a[0] = (struct review_att){.started_us = T0 + 50 * MIN,
                                       .cls = DIAG_HTTP_STATUS,
                                       .cause = EVT_CAUSE_HTTP_STATUS,
                                       .http_status = 502,
                                       .close_code = 1006,
                                       .dns_us = HIST_NULL,
                                       .tcp_us = 1200,
                                       .tls_us = HIST_NULL,
                                       .upgrade_us = 3400,
                                       .open_us = HIST_NULL,
                                       .total_us = 4700,
                                       .verdict = strdup("HTTP 502 \x1b")};
        at->a[1] = (struct review_att){.started_us = T0 + 52 * MIN,
                                       .cls = DIAG_TCP_REFUSED,
                                       .cause = EVT_CAUSE_REFUSED,
                                       .http_status = HIST_NULL,
                                       .close_code = 1006,
                                       .dns_us = HIST_NULL,
                                       .tcp_us = HIST_NULL,
                                       .tls_us = HIST_NULL,
                                       .upgrade_us = HIST_NULL,
                                       .open_us = HIST_NULL,
                                       .total_us = 190};
        review_take_attempts(rv, at);
    }
    assert_false(review_attempts_wanted(rv, &ep, &a, &b));
    s = review_build(rv, T0 + HOUR, 80, 24);
    screen_ok(s);
    assert_int_not_equal(find_line(s, "Attempts of evil"), -1);
    y = find_line(s, "CLASS");
    plain(s, y, buf, sizeof(buf));
    assert_non_null(strstr(buf, "dns"));
    assert_non_null(strstr(buf, "upg"));
    assert_non_null(strstr(buf, "total"));
    plain(s, y + 1, buf, sizeof(buf));
    assert_non_null(strstr(buf, "14:50:00 http-status"));
    assert_non_null(strstr(buf, "502 1006"));
    assert_non_null(strstr(buf, " 1.2 "));
    assert_non_null(strstr(buf, " 3.4 "));
    assert_non_null(strstr(buf, " 4.7"));
    plain(s, y + 2, buf, sizeof(buf));
    assert_non_null(strstr(buf, "tcp-refused"));
    assert_non_null(strstr(buf, "0.19"));
    /* wide: the verdict too, escaped */
    s = review_build(rv, T0 + HOUR, 160, 40);
    screen_ok(s);
    assert_int_not_equal(find_line(s, "VERDICT"), -1);
    assert_int_not_equal(find_line(s, "HTTP 502 \\e"), -1);

    /* Esc: the outages, the endpoints, then leave */
    assert_int_equal(review_key(rv, RK_BACK, T0 + HOUR), RA_NONE);
    assert_int_equal(review_key(rv, RK_BACK, T0 + HOUR), RA_NONE);
    assert_int_equal(review_key(rv, RK_BACK, T0 + HOUR), RA_CLOSE);

    /* moving the window: a quarter back, no longer following; forward to now, following again */
    assert_int_equal(review_key(rv, RK_LEFT, T0 + HOUR), RA_QUERY);
    assert_false(review_following(rv));
    review_window(rv, T0 + 2 * HOUR, &since, &until); /* later: it stays where it was put */
    assert_int_equal(until, T0 + 45 * MIN);
    assert_int_equal(since, T0 - 15 * MIN);
    assert_int_equal(review_key(rv, RK_ZOOM_IN, T0 + HOUR), RA_QUERY); /* 30 m, same middle */
    review_window(rv, T0 + HOUR, &since, &until);
    assert_int_equal(since, T0);
    assert_int_equal(until, T0 + 30 * MIN);
    assert_int_equal(review_key(rv, RK_RIGHT, T0 + HOUR), RA_QUERY);
    review_window(rv, T0 + HOUR, &since, &until);
    assert_int_equal(until, T0 + 30 * MIN + 30 * MIN / 4);
    assert_int_equal(review_key(rv, RK_NOW, T0 + HOUR), RA_QUERY);
    assert_true(review_following(rv));
    assert_int_equal(review_key(rv, RK_RIGHT, T0 + HOUR), RA_NONE); /* already at now */
    assert_int_equal(review_key(rv, RK_ZOOM_OUT, T0 + HOUR), RA_QUERY);
    review_window(rv, T0 + HOUR, &since, &until);
    assert_int_equal(until - since, HOUR);
    assert_int_equal(until, T0 + HOUR);

    /* endpoints: down and up move the selection; an endpoint without outages says so */
    review_key(rv, RK_HOME, T0 + HOUR);
    assert_int_equal(review_key(rv, RK_ENTER, T0 + HOUR), RA_NONE); /* api: none */
    s = review_build(rv, T0 + HOUR, 80, 24);
    assert_int_not_equal(find_line(s, "no outage in this window"), -1);
    assert_int_not_equal(find_line(s, "Outages of api (0)"), -1);
    review_key(rv, RK_END, T0 + HOUR);
    s = review_build(rv, T0 + HOUR, 80, 24);
    assert_int_not_equal(find_line(s, "Outages of idle"), -1);

    /* too small, and an error */
    s = review_build(rv, T0 + HOUR, 40, 10);
    assert_int_not_equal(find_line(s, "too small"), -1);
    {
        struct review_data *d = calloc(1, sizeof(*d));
        snprintf(d->err, sizeof(d->err), "/x.db: not an SQLite database\x1b");
        review_take(rv, d);
    }
    s = review_build(rv, T0 + HOUR, 80, 24);
    screen_ok(s);
    assert_int_not_equal(find_line(s, "not an SQLite database\\e"), -1);
    review_free(rv);
}

/* A flapping endpoint at 80 columns needs more style runs than a line has spans: still every
 * cell is there, lettered. UTF-8 too. */
static void t_many_runs(void **state)
{
    struct review_opts o = {.ascii = false, .utc = true};
    struct review *rv = review_new(&o);
    struct review_data *d = calloc(1, sizeof(*d));
    struct review_ep *e;
    const struct vm_screen *s;
    char buf[VM_LINE_MAX];
    int y;

    (void)state;
    d->since_us = T0;
    d->until_us = T0 + HOUR;
    d->n_eps = 1;
    d->eps = calloc(1, sizeof(*d->eps));
    e = &d->eps[0];
    e->name = strdup("flappy-endpoint-with-a-long-name.example.com:8443/ws");
    e->watched_us = HOUR;
    /* one span a cell (54 cells at 80 columns), open and outage in turn */
    e->n_spans = 54;
    e->spans = calloc(54, sizeof(*e->spans));
    for (int i = 0; i < 54; i++)
        e->spans[i] = (struct hist_span){T0 + HOUR * i / 54, T0 + HOUR * (i + 1) / 54,
                                         i % 2 ? HIST_SPAN_OUTAGE : HIST_SPAN_OPEN};
    review_open(rv, T0 + HOUR, NULL);
    review_take(rv, d);
    s = review_build(rv, T0 + HOUR, 80, 24);
    screen_ok(s);
    y = find_line(s, "#");
    assert_int_not_equal(y, -1);
    plain(s, y, buf, sizeof(buf));
    /* the name cut in the middle: its start and its end */
    assert_non_null(strstr(buf, "flappy-e"));
    assert_non_null(strstr(buf, "8443/ws"));
    assert_non_null(strstr(buf, "\xe2\x80\xa6"));
    {
        char want[64];

        for (int i = 0; i < 54; i++)
            want[i] = i % 2 ? REVIEW_OUTAGE : REVIEW_OPEN;
        want[54] = '\0';
        assert_non_null(strstr(buf, want)); /* 54 cells, each its own letter */
    }
    review_free(rv);
}

/* ---- the queries, on a database written through the store -------------------------------- */

static char tmp_root[256];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb;
    (void)flag;
    (void)f;
    return remove(p);
}

struct feed {
    struct model *m;
    struct store *s;
};

static void put(struct feed *f, uint32_t ep, uint32_t att, enum evt_kind k, int64_t t,
                struct evt *tmpl)
{
    struct evt e;

    if (tmpl)
        e = *tmpl;
    else
        memset(&e, 0, sizeof(e));
    e.kind = k;
    e.ep = ep;
    e.conn = 0;
    e.attempt = att;
    e.t_mono_us = e.t_wall_us = t;
    assert_int_equal(model_apply(f->m, &e), 0);
    store_sink(f->s, &e, f->m);
}

static void t_load(void **state)
{
    char path[512], err[512];
    int conns[2] = {1, 1};
    struct feed f;
    struct hist *h;
    struct review_data *d;
    struct review_atts *at;
    struct evt e;

    (void)state;
    snprintf(tmp_root, sizeof(tmp_root), "/tmp/wsmon-review-XXXXXX");
    assert_non_null(mkdtemp(tmp_root));
    snprintf(path, sizeof(path), "%s/r.db", tmp_root);
    f.s = store_open(path, 0, err, sizeof(err));
    assert_non_null(f.s);
    f.m = model_new(2, conns);
    store_set_endpoint(f.s, 0, "ok", "ws://127.0.0.1:8080/echo", NULL, NULL);
    store_set_endpoint(f.s, 1, "crash", "ws://127.0.0.1:8080/close/1011", NULL, NULL);
    /* ok: open 14:00:00 - 14:59 */
    put(&f, 0, 1, EVT_ATTEMPT, T0, NULL);
    put(&f, 0, 1, EVT_OPEN, T0 + 1000, NULL);
    /* crash: open 14:00, closed 1011 at 14:10, refused 14:10:01 and 14:10:03, open 14:10:07 */
    put(&f, 1, 1, EVT_ATTEMPT, T0, NULL);
    put(&f, 1, 1, EVT_OPEN, T0 + 1000, NULL);
    memset(&e, 0, sizeof(e));
    e.u.closed.code = 1011;
    e.u.closed.by = EVT_BY_SERVER;
    e.u.closed.frame = true;
    e.u.closed.cause = EVT_CAUSE_CLOSE_FRAME;
    put(&f, 1, 1, EVT_CLOSED, T0 + 10 * MIN, &e);
    memset(&e, 0, sizeof(e));
    e.u.closed.code = 1006;
    e.u.closed.by = EVT_BY_NETWORK;
    e.u.closed.cause = EVT_CAUSE_REFUSED;
    put(&f, 1, 2, EVT_ATTEMPT, T0 + 10 * MIN + 1 * SEC, NULL);
    put(&f, 1, 2, EVT_CLOSED, T0 + 10 * MIN + 1 * SEC + 300, &e);
    put(&f, 1, 3, EVT_ATTEMPT, T0 + 10 * MIN + 3 * SEC, NULL);
    put(&f, 1, 3, EVT_CLOSED, T0 + 10 * MIN + 3 * SEC + 300, &e);
    put(&f, 1, 4, EVT_ATTEMPT, T0 + 10 * MIN + 7 * SEC, NULL);
    put(&f, 1, 4, EVT_OPEN, T0 + 10 * MIN + 7 * SEC + 800, NULL);
    memset(&e, 0, sizeof(e));
    snprintf(e.u.mark.text, sizeof(e.u.mark.text), "deploy");
    e.kind = EVT_MARK;
    e.ep = EVT_EP_NONE;
    e.t_mono_us = e.t_wall_us = T0 + 9 * MIN;
    assert_int_equal(model_apply(f.m, &e), 0);
    store_sink(f.s, &e, f.m);
    assert_int_equal(store_close(f.s), 0);
    model_free(f.m);
    {
        /* the run: 13:59 - 14:59 (store_open stamped the real clock) */
        sqlite3 *db;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db,
                                      "UPDATE runs SET started_us = 1795701540000000, "
                                      "last_us = 1795705140000000, ended_us = 1795705140000000",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);
    }

    h = hist_open(path, err, sizeof(err));
    assert_non_null(h);
    d = review_load(h, T0, T0 + HOUR);
    assert_string_equal(d->err, "");
    assert_int_equal(d->n_eps, 2);
    assert_string_equal(d->eps[0].name, "crash"); /* by name */
    assert_int_equal(d->eps[0].n_out, 1);
    assert_int_equal(d->eps[0].out[0].start_us, T0 + 10 * MIN);
    assert_int_equal(d->eps[0].out[0].end_us, T0 + 10 * MIN + 7 * SEC + 800);
    assert_int_equal(d->eps[0].out[0].close_code, 1011);
    assert_int_equal(d->eps[0].out[0].attempts, 2);
    assert_string_equal(d->eps[0].out[0].marker, "deploy");
    assert_int_equal(d->n_marks, 1);
    {
        /* its spans, lettered at one cell a minute: open, the outage's minute, open again */
        char cells[64];
        int64_t end = 0;

        for (size_t i = 0; i < d->eps[0].n_spans; i++)
            if (d->eps[0].spans[i].kind == HIST_SPAN_WATCHED && d->eps[0].spans[i].end_us > end)
                end = d->eps[0].spans[i].end_us;
        review_cells(d->eps[0].spans, d->eps[0].n_spans, NULL, 0, T0, 20 * MIN, 20, cells);
        assert_int_equal(cells[9], REVIEW_OPEN);
        assert_int_equal(cells[10], REVIEW_OUTAGE);
        /* open again after 14:10:07, as far as the recorder ran */
        assert_int_equal(cells[11], end >= T0 + 12 * MIN ? REVIEW_OPEN : REVIEW_NODATA);
        review_cells(d->eps[1].spans, d->eps[1].n_spans, NULL, 0, T0, 20 * MIN, 20, cells);
        assert_null(strchr(cells, REVIEW_OUTAGE));
    }
    /* the outage's attempts: the close that began it, both refusals, the one that opened */
    at = review_load_attempts(h, "crash", d->eps[0].out[0].start_us, d->eps[0].out[0].end_us);
    assert_string_equal(at->err, "");
    assert_int_equal(at->n, 4);
    assert_int_equal(at->a[0].close_code, 1011);
    assert_int_equal(at->a[0].cls, DIAG_CLOSED_BY_SERVER);
    assert_int_equal(at->a[1].cls, DIAG_TCP_REFUSED);
    assert_int_equal(at->a[1].cause, EVT_CAUSE_REFUSED);
    assert_int_equal(at->a[2].started_us, T0 + 10 * MIN + 3 * SEC);
    assert_true(at->a[3].ok);
    review_atts_free(at);
    at = review_load_attempts(h, "nope", T0, T0 + HOUR);
    assert_string_not_equal(at->err, "");
    review_atts_free(at);
    review_data_free(d);
    hist_close(h);
    d = review_load(NULL, T0, T0 + HOUR);
    assert_string_equal(d->err, "no history database");
    review_data_free(d);

    /* hostile rows: an endpoint named with escapes, failing; a marker with escapes; nonsense
     * times. The screen shows them escaped, within its width. */
    {
        sqlite3 *db;
        struct review_opts o = {.ascii = false, .utc = true};
        struct review *rv = review_new(&o);
        const struct vm_screen *sc;

        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(
            sqlite3_exec(db,
                         "INSERT INTO endpoints VALUES(9, char(27)||']0;pwned'||char(7)||"
                         "  x'c29b'||'31m', NULL, NULL, NULL, 0, 0);"
                         "INSERT INTO attempts(run_id, endpoint_id, conn, seq, started_us, "
                         "  opened_us, ended_us, is_tls, reached, ready_state, have_tls, "
                         "  have_http, class, ok, verdict, cause, total_us) VALUES"
                         "  (1, 9, 0, 1, 1795701900000000, NULL, 1795701900000100, 0, 'tcp', 3, "
                         "   0, 0, 'tcp-refused', 0, char(27)||'[2J', 'refused', -5),"
                         "  (1, 9, 0, 2, 1795701960000000, NULL, 9223372036854775807, 0, 'x', "
                         "   3, 0, 0, 'nonsense', 0, '', 'nonsense', 1);"
                         "INSERT INTO markers VALUES(9, 1795701930000000, 9, "
                         "  char(27)||'[31mred'||char(10), NULL);",
                         NULL, NULL, NULL),
            SQLITE_OK);
        sqlite3_close(db);
        h = hist_open(path, err, sizeof(err));
        d = review_load(h, T0, T0 + HOUR);
        assert_string_equal(d->err, "");
        assert_int_equal(d->n_eps, 3);
        review_open(rv, T0 + HOUR, d->eps[0].name);
        review_take(rv, d);
        sc = review_build(rv, T0 + HOUR, 80, 24);
        screen_ok(sc);
        assert_int_not_equal(find_line(sc, "\\e]0;pwned\\x07"), -1);
        assert_int_not_equal(find_line(sc, "tcp-refused"), -1);
        assert_int_equal(review_key(rv, RK_ENTER, T0 + HOUR), RA_NONE);
        assert_int_equal(review_key(rv, RK_ENTER, T0 + HOUR), RA_ATTEMPTS);
        {
            const char *ep;
            int64_t a, b;

            assert_true(review_attempts_wanted(rv, &ep, &a, &b));
            review_take_attempts(rv, review_load_attempts(h, ep, a, b));
        }
        sc = review_build(rv, T0 + HOUR, 80, 24);
        screen_ok(sc);
        assert_int_not_equal(find_line(sc, "Attempts of"), -1);
        sc = review_build(rv, T0 + HOUR, 200, 50);
        screen_ok(sc);
        hist_close(h);
        review_free(rv);
    }
    nftw(tmp_root, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_cell_of), cmocka_unit_test(t_cells),     cmocka_unit_test(t_zoom),
        cmocka_unit_test(t_screen),  cmocka_unit_test(t_many_runs), cmocka_unit_test(t_load),
    };

    setlocale(LC_ALL, "C.UTF-8");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
