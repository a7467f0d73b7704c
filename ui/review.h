/* SPDX-License-Identifier: MIT */
/* The history review screen (h in the dashboard): a timeline per endpoint over a window, its
 * outages and their attempts. The view model, without curses, and the queries behind it. */
#ifndef WSMON_UI_REVIEW_H
#define WSMON_UI_REVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"
#include "vm.h"

struct review;

/* ---- timeline cells (exported for the tests) --------------------------------------------- */

/* What a cell shows, strongest first. */
#define REVIEW_MARK    '|' /* a marker (the endpoint's own, or any on the markers row) */
#define REVIEW_OUTAGE  'x' /* an outage (no connection open, a failure) */
#define REVIEW_OPEN    '#' /* a connection OPEN */
#define REVIEW_WATCHED '-' /* watched, nothing open, no failure (connecting, closed cleanly) */
#define REVIEW_NODATA  '.' /* not watched: nothing is known */

#define REVIEW_SPAN_MIN_US (60 * INT64_C(1000000))         /* the zoom's shortest window */
#define REVIEW_SPAN_MAX_US (30 * 86400 * INT64_C(1000000)) /* and its longest */
#define REVIEW_SPAN_DEF_US (3600 * INT64_C(1000000))       /* the window h opens on */
#define REVIEW_REFRESH_US  (5 * INT64_C(1000000)) /* a window that follows now is read again */

/* The window [since, since + span) cut into n cells: cell i covers
 * [since + span * i / n, since + span * (i + 1) / n) (integer division). The cell of t: -1
 * before the window, n after it. */
int review_cell_of(int64_t since_us, int64_t span_us, int n, int64_t t_us);
/* The n cells of a timeline into out (n + 1 bytes, NUL-terminated): each cell is the strongest
 * kind of the spans that overlap it, then marks (times) as REVIEW_MARK over them. */
void review_cells(const struct hist_span *spans, size_t n_spans, const int64_t *marks,
                  size_t n_marks, int64_t since_us, int64_t span_us, int n, char *out);
/* The window length one zoom step in (dir > 0) or out (dir < 0) from span_us, on the ladder
 * 1m 5m 15m 30m 1h 3h 6h 12h 1d 3d 7d 30d (a length between two steps goes to the next one). */
int64_t review_zoom(int64_t span_us, int dir);

/* ---- data: a query's answer, plain memory ------------------------------------------------ */

struct review_outage {
    int64_t start_us, end_us; /* end HIST_NULL: not recovered */
    int64_t duration_us;
    enum diag_class cls;
    enum evt_cause cause;
    int http_status, close_code;
    uint32_t attempts;
    char *marker; /* raw text from the file, NULL without */
};

struct review_ep {
    char *name; /* raw */
    int64_t watched_us, up_us;
    struct hist_span *spans;
    size_t n_spans;
    struct review_outage *out; /* oldest first */
    size_t n_out;
    int64_t *marks; /* its own markers' times */
    size_t n_marks;
};

struct review_mark {
    int64_t t_us;
    char *endpoint; /* NULL: global */
    char *text;
};

struct review_data {
    int64_t since_us, until_us;
    struct review_ep *eps; /* by name */
    size_t n_eps;
    struct review_mark *marks;
    size_t n_marks;
    char err[512]; /* "" or why there is nothing */
};

struct review_att {
    int64_t started_us;
    uint32_t conn;
    bool ok;
    enum diag_class cls; /* DIAG_CLASS_COUNT: unknown */
    enum evt_cause cause;
    int64_t http_status, close_code;                               /* HIST_NULL: none */
    int64_t dns_us, tcp_us, tls_us, upgrade_us, open_us, total_us; /* HIST_NULL: not reached */
    char *remote, *verdict;                                        /* raw */
};

struct review_atts {
    char *endpoint;
    int64_t start_us, end_us;
    struct review_att *a;
    size_t n;
    char err[512];
};

/* The queries. They block on the disk: run them off the loop thread. Never NULL; on failure
 * err says why. */
struct review_data *review_load(struct hist *h, int64_t since_us, int64_t until_us);
void review_data_free(struct review_data *d);
struct review_atts *review_load_attempts(struct hist *h, const char *endpoint, int64_t start_us,
                                         int64_t end_us);
void review_atts_free(struct review_atts *a);

/* ---- the screen ---------------------------------------------------------------------------- */

struct review_opts {
    bool ascii; /* no UTF-8: ASCII rules */
    bool utc;   /* times in UTC (else local time) */
};

enum review_key {
    RK_LEFT,     /* the window a quarter back */
    RK_RIGHT,    /* a quarter forward (up to now, which it then follows) */
    RK_ZOOM_IN,  /* a shorter window (1 minute at the shortest) */
    RK_ZOOM_OUT, /* a longer one */
    RK_NOW,      /* the window ends now and follows it */
    RK_UP,
    RK_DOWN,
    RK_PGUP,
    RK_PGDN,
    RK_HOME,
    RK_END,
    RK_ENTER, /* endpoint -> its outages -> an outage's attempts */
    RK_BACK,  /* one level up; from the endpoints: leave */
};

/* What the owner does after a key (bits). */
enum review_action {
    RA_NONE = 0,
    RA_QUERY = 1,    /* review_load() for review_window() */
    RA_ATTEMPTS = 2, /* review_load_attempts() for review_attempts_wanted() */
    RA_CLOSE = 4,    /* back to the dashboard */
};

struct review *review_new(const struct review_opts *o);
void review_free(struct review *rv);

/* Start over on the last hour up to now_us (following now), with the endpoint named select
 * (raw; NULL: the first) selected. The owner then queries (RA_QUERY). */
void review_open(struct review *rv, int64_t now_us, const char *select);
/* A key at wall time now_us; returns enum review_action bits. */
int review_key(struct review *rv, enum review_key k, int64_t now_us);

/* The window to read now: [since, until). */
void review_window(const struct review *rv, int64_t now_us, int64_t *since_us, int64_t *until_us);
/* Whether the window ends now (and should be read again every REVIEW_REFRESH_US). */
bool review_following(const struct review *rv);
/* The outage whose attempts are wanted (endpoint borrowed, raw). false without one. */
bool review_attempts_wanted(const struct review *rv, const char **endpoint, int64_t *start_us,
                            int64_t *end_us);
/* A query is running (the header says so). */
void review_set_busy(struct review *rv, bool busy);

/* Take a query's answer (owned from now on; the previous one is freed). The selection follows
 * its endpoint by name. */
void review_take(struct review *rv, struct review_data *d);
void review_take_attempts(struct review *rv, struct review_atts *a);

/* The screen at w x h; now_us is the header's clock. Borrowed until the next call. */
const struct vm_screen *review_build(struct review *rv, int64_t now_us, int w, int h);

#endif
