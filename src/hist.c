/* SPDX-License-Identifier: MIT */
/* History queries over the database the store writes (DESIGN 8.1). The file is untrusted: every
 * value is checked for type and range before it is used. */
#include "config.h"

#include "hist.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cfg.h"
#include "model.h"
#include "rtt_hist.h"
#include "store.h"
#include "url.h"
#include "xmem.h"

#define HIST_BUSY_MS   5000
#define HIST_VALUE_MAX (1 << 20) /* longest string or blob read from the file */
#define DAY_US         (86400 * INT64_C(1000000))
/* Summary percentiles: windows shorter than this, or with at most this many samples in their
 * full minutes, are read sample by sample (exact); others from the per-minute histograms. */
#define HIST_RAW_SPAN_US (5 * RTT_HIST_MINUTE_US)
#define HIST_RAW_MAX     100000
/* Histograms of sparse endpoints (a few samples a minute) hold about a row per sample: reading
 * them saves nothing over the samples, which are exact. After this many rows, fewer than
 * HIST_MIN_PER_ROW samples per row on average means: read the samples. */
#define HIST_PROBE_ROWS  4096
#define HIST_MIN_PER_ROW 4
/* A run written without histograms (before version 2, or by an older wsmon) makes its minutes
 * and this much around them raw: a recorder stamps its run's end every few seconds. */
#define HIST_OLD_RUN_PAD_US RTT_HIST_MINUTE_US

struct hist {
    sqlite3 *db;
    char *path;
    int version;
    bool have_hist; /* rtt_hist and runs.rtt_hist (version 2) */
    bool have_tl;   /* the timeline's indexes attempts_ep_tl and attempts_ep_openend_tl (2) */
    char err[512];
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

const char *hist_error(const struct hist *h)
{
    return h ? h->err : "";
}

int hist_version(const struct hist *h)
{
    return h ? h->version : 0;
}

/* ---- opening --------------------------------------------------------------------------- */

static int q_int(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

static bool prepares(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

    sqlite3_finalize(st);
    return rc == SQLITE_OK;
}

/* What the timeline reads of an attempt (tl_read), all in the index attempts_ep_tl: the outage
 * sweep needs TL_COLS_SWEEP, the summary's counts TL_COLS_MSGS, the idle-timeout detection
 * TL_COLS (of a few attempts). Each row costs by the column: read no more than needed. */
#define TL_COLS_SWEEP                                                                              \
    "run_id, started_us, opened_us, ended_us, ok, class, cause, http_status, close_code"
#define TL_COLS_MSGS TL_COLS_SWEEP ", msgs_in, msgs_out"
#define TL_COLS      TL_COLS_MSGS ", close_by, open_for_us, pings, is_tls, reached"

/* The opened attempts of endpoint ?1 that started before ?2 and ended at or after it
 * (ended_us >= ?2), or did not end (ended_us IS NULL): through an index of (endpoint_id,
 * ended_us[, started_us]). */
#define Q_SPAN                                                                                     \
    "SELECT %s FROM attempts INDEXED BY %s WHERE endpoint_id = ?1 AND "                            \
    "opened_us IS NOT NULL AND ended_us %s AND started_us < ?2"

struct hist *hist_open(const char *path, char *err, size_t errlen)
{
    static const char magic[16] = "SQLite format 3";
    char head[16];
    struct hist *h = NULL;
    sqlite3 *db = NULL;
    int64_t v = 0, tables = 0;
    struct stat sb;
    int fd, rc;
    ssize_t n;

    if (err && errlen)
        err[0] = '\0';
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            set_err(err, errlen,
                    "%s: no history recorded here (wsmon watch and wsmon record "
                    "write it; see --db)",
                    path);
        else
            set_err(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    n = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) ? read(fd, head, sizeof(head)) : -1;
    close(fd);
    if (n == 0) {
        set_err(err, errlen, "%s: empty: no history recorded yet", path);
        return NULL;
    }
    if (n != (ssize_t)sizeof(head) || memcmp(head, magic, sizeof(magic)) != 0) {
        set_err(err, errlen, "%s: not an SQLite database", path);
        return NULL;
    }
    /* one thread at a time uses a connection: no SQLite mutexes */
    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        set_err(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, HIST_BUSY_MS);
    /* the file may be hostile: no code in its schema runs with side effects, no huge values */
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, NULL);
    sqlite3_limit(db, SQLITE_LIMIT_LENGTH, HIST_VALUE_MAX);

    rc = q_int(db, "PRAGMA user_version", &v);
    if (rc == SQLITE_OK)
        rc = q_int(db,
                   "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN "
                   "('runs', 'endpoints', 'attempts', 'rtt', 'events', 'markers')",
                   &tables);
    if (rc != SQLITE_OK) {
        set_err(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
        goto fail;
    }
    if (v < 1 || tables != 6) {
        set_err(err, errlen, "%s: not a wsmon history database", path);
        goto fail;
    }
    h = xcalloc(1, sizeof(*h));
    h->db = db;
    h->path = xstrdup(path);
    h->version = (int)(v > INT_MAX ? INT_MAX : v);
    /* what version 2 added, if it is really there (the file may say anything) */
    h->have_hist = v >= 2 &&
                   prepares(db, "SELECT endpoint_id, minute_us, bucket, n FROM rtt_hist") &&
                   prepares(db, "SELECT rtt_hist FROM runs");
    h->have_tl = v >= 2 &&
                 prepares(db, "SELECT " TL_COLS " FROM attempts INDEXED BY attempts_ep_tl "
                              "WHERE endpoint_id = 1 AND started_us >= 0") &&
                 prepares(db, "SELECT 1 FROM attempts INDEXED BY attempts_ep_openend_tl WHERE "
                              "endpoint_id = 1 AND opened_us IS NOT NULL AND ended_us >= 0 AND "
                              "started_us < 0");
    if (v > store_schema_version())
        set_err(err, errlen,
                "%s: schema version %d is newer than this wsmon knows (%d): reading what it can",
                path, h->version, store_schema_version());
    return h;
fail:
    sqlite3_close_v2(db);
    return NULL;
}

void hist_close(struct hist *h)
{
    if (!h)
        return;
    sqlite3_close_v2(h->db);
    free(h->path);
    free(h);
}

/* ---- reading values -------------------------------------------------------------------- */

/* Columns are read through sqlite3_column_value: one call into the statement per column
 * instead of one per question (type, value, length), which counts when a timeline reads
 * 150,000 attempts. The value is unprotected: fine, a connection is used by one thread at a
 * time (SQLITE_OPEN_NOMUTEX). */
static struct hist_str col_str(sqlite3_stmt *st, int i)
{
    sqlite3_value *v = sqlite3_column_value(st, i);
    struct hist_str s = {NULL, 0};

    if (sqlite3_value_type(v) == SQLITE_NULL)
        return s;
    s.s = (const char *)sqlite3_value_text(v);
    s.n = s.s ? (size_t)sqlite3_value_bytes(v) : 0;
    if (!s.s)
        s.s = "";
    return s;
}

static int64_t col_i64(sqlite3_stmt *st, int i)
{
    sqlite3_value *v = sqlite3_column_value(st, i);

    if (sqlite3_value_type(v) == SQLITE_NULL)
        return HIST_NULL;
    return sqlite3_value_int64(v);
}

/* A small non-negative integer, or fallback. */
static int col_int(sqlite3_stmt *st, int i, int lo, int hi, int fallback)
{
    int64_t v = col_i64(st, i);

    return v == HIST_NULL || v < lo || v > hi ? fallback : (int)v;
}

static bool str_is(const char *name, size_t n, const char *want)
{
    if (!want)
        return false;
    if (n == 0)
        return want[0] == '\0';
    /* the first byte first: most names differ there, and this runs per column per row */
    return want[0] == name[0] && strlen(want) == n && memcmp(name, want, n) == 0;
}

enum diag_class hist_class_of(const char *name, size_t n)
{
    for (int c = 0; c < DIAG_CLASS_COUNT && name; c++)
        if (str_is(name, n, diag_class_name((enum diag_class)c)))
            return (enum diag_class)c;
    return DIAG_CLASS_COUNT;
}

static enum diag_class col_class(sqlite3_stmt *st, int i)
{
    struct hist_str s = col_str(st, i);

    return hist_class_of(s.s, s.n);
}

static enum evt_cause cause_of(struct hist_str s)
{
    for (int c = 1; c < EVT_CAUSE_COUNT && s.s; c++)
        if (str_is(s.s, s.n, evt_cause_name((enum evt_cause)c)))
            return (enum evt_cause)c;
    return EVT_CAUSE_NONE;
}

static enum evt_cause col_cause(sqlite3_stmt *st, int i)
{
    return cause_of(col_str(st, i));
}

/* The last name looked up in a column and what it was: consecutive attempts mostly share
 * their class and cause, and a timeline reads a hundred thousand of them. */
struct memo {
    char s[32];
    size_t n; /* 0: empty */
    int v;
};

static bool memo_get(const struct memo *m, struct hist_str s, int *v)
{
    if (!s.s || m->n == 0 || s.n != m->n || memcmp(s.s, m->s, s.n) != 0)
        return false;
    *v = m->v;
    return true;
}

static void memo_put(struct memo *m, struct hist_str s, int v)
{
    m->n = 0;
    if (s.s && s.n > 0 && s.n <= sizeof(m->s)) {
        memcpy(m->s, s.s, s.n);
        m->n = s.n;
        m->v = v;
    }
}

static int col_phase(sqlite3_stmt *st, int i)
{
    struct hist_str s = col_str(st, i);

    for (int p = EVT_PH_NONE; p <= EVT_PH_OPEN && s.s; p++)
        if (str_is(s.s, s.n, evt_phase_name((enum evt_phase)p)))
            return p;
    return -1;
}

static int col_enum(sqlite3_stmt *st, int i, const char *(*name)(int), int max)
{
    struct hist_str s = col_str(st, i);

    for (int v = 1; v <= max && s.s; v++)
        if (str_is(s.s, s.n, name(v)))
            return v;
    return -1;
}

static const char *verify_name(int v)
{
    return evt_verify_name((enum evt_verify)v);
}

static const char *by_name(int v)
{
    return evt_by_name((enum evt_by)v);
}

static const char *transport_name(int v)
{
    return evt_transport_name((enum evt_transport)v);
}

/* ---- statements and snapshots ---------------------------------------------------------- */

static int prep(struct hist *h, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(h->db, sql, -1, st, NULL);

    if (rc != SQLITE_OK)
        set_err(h->err, sizeof(h->err), "%s: %s", h->path, sqlite3_errmsg(h->db));
    return rc;
}

static int fail_rc(struct hist *h, int rc)
{
    if (rc != SQLITE_OK && !h->err[0])
        set_err(h->err, sizeof(h->err), "%s: %s", h->path, sqlite3_errmsg(h->db));
    return rc == SQLITE_OK ? 0 : -EIO;
}

/* One read transaction per query: one consistent view while a recorder commits. */
static int begin(struct hist *h)
{
    sqlite3_stmt *st = NULL;
    int rc;

    h->err[0] = '\0';
    rc = prep(h, "BEGIN", &st);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(h->db);
    sqlite3_finalize(st);
    return rc;
}

static void end(struct hist *h)
{
    sqlite3_stmt *st = NULL;

    if (prep(h, "COMMIT", &st) == SQLITE_OK)
        sqlite3_step(st);
    sqlite3_finalize(st);
}

/* ---- time ------------------------------------------------------------------------------ */

/* b - a for b >= a, saturating: times from the file may be anything */
static int64_t span(int64_t a, int64_t b)
{
    uint64_t d;

    if (b <= a)
        return 0;
    d = (uint64_t)b - (uint64_t)a;
    return d > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)d;
}

static int64_t sat_add(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static int64_t overlap(int64_t a, int64_t b, int64_t lo, int64_t hi)
{
    return span(a > lo ? a : lo, b < hi ? b : hi);
}

static bool digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static int parse_iso(const char *s, int64_t *out_us)
{
    struct tm tm = {0}, back;
    int y, mo, d, hh = 0, mi = 0, ss = 0, off = 0;
    int64_t frac_us = 0, t;
    time_t tt;
    const char *p = s;

    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d))
        return -EINVAL;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (!digits(&p, 2, &hh) || *p++ != ':' || !digits(&p, 2, &mi))
            return -EINVAL;
        if (*p == ':') {
            p++;
            if (!digits(&p, 2, &ss))
                return -EINVAL;
            if (*p == '.' || *p == ',') {
                int64_t scale = 100000;
                p++;
                if (*p < '0' || *p > '9')
                    return -EINVAL;
                for (; *p >= '0' && *p <= '9'; p++, scale /= 10)
                    frac_us += (*p - '0') * scale;
            }
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om, sign = *p == '-' ? -1 : 1;
            p++;
            if (!digits(&p, 2, &oh))
                return -EINVAL;
            if (*p == ':')
                p++;
            if (!digits(&p, 2, &om) || oh > 23 || om > 59)
                return -EINVAL;
            off = sign * (oh * 3600 + om * 60);
        }
    }
    if (*p)
        return -EINVAL;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = hh;
    tm.tm_min = mi;
    tm.tm_sec = ss;
    back = tm;
    tt = timegm(&tm);
    /* timegm normalises out-of-range fields: a round trip rejects 2026-02-30 and 25:00 */
    if (tm.tm_year != back.tm_year || tm.tm_mon != back.tm_mon || tm.tm_mday != back.tm_mday ||
        tm.tm_hour != back.tm_hour || tm.tm_min != back.tm_min || tm.tm_sec != back.tm_sec)
        return -EINVAL;
    t = (int64_t)tt - off;
    *out_us = t * 1000000 + frac_us;
    return 0;
}

int hist_parse_time(const char *s, int64_t now_us, int64_t *out_us)
{
    int64_t today = now_us - (now_us % DAY_US + DAY_US) % DAY_US, back = 0;
    const char *p = s;

    if (!s || !*s)
        return -EINVAL;
    if (!strcmp(s, "now")) {
        *out_us = now_us;
        return 0;
    }
    if (!strcmp(s, "today")) {
        *out_us = today;
        return 0;
    }
    if (!strcmp(s, "yesterday")) {
        *out_us = today - DAY_US;
        return 0;
    }
    if (strlen(s) >= 10 && s[4] == '-')
        return parse_iso(s, out_us);
    /* a duration back from now: number-unit pairs */
    while (*p) {
        char *endp;
        double v;
        int64_t unit;

        if (*p < '0' || *p > '9')
            return -EINVAL;
        v = strtod(p, &endp);
        p = endp;
        if (!strncmp(p, "ms", 2)) {
            unit = 1000;
            p += 2;
        } else {
            switch (*p) {
            case 's':
                unit = 1000000;
                break;
            case 'm':
                unit = 60 * INT64_C(1000000);
                break;
            case 'h':
                unit = 3600 * INT64_C(1000000);
                break;
            case 'd':
                unit = DAY_US;
                break;
            case 'w':
                unit = 7 * DAY_US;
                break;
            default:
                return -EINVAL;
            }
            p++;
        }
        if (!(v >= 0) || v * (double)unit > 1e17)
            return -EINVAL;
        back += (int64_t)(v * (double)unit);
    }
    *out_us = now_us - back;
    return 0;
}

/* ---- endpoints and runs ---------------------------------------------------------------- */

struct ep_row {
    int64_t id;
    char *name, *url; /* copies; url may be NULL */
    size_t name_n, url_n;
};

struct run_row {
    int64_t id, start, end;
    bool hist; /* its writer kept rtt_hist */
};

struct ctx {
    struct hist *h;
    struct ep_row *eps;
    size_t n_eps;
    struct run_row *runs;
    size_t n_runs;
};

static void ctx_free(struct ctx *c)
{
    for (size_t i = 0; i < c->n_eps; i++) {
        free(c->eps[i].name);
        free(c->eps[i].url);
    }
    free(c->eps);
    free(c->runs);
}

static char *dup_str(struct hist_str s, size_t *n)
{
    char *d;

    *n = 0;
    if (!s.s)
        return NULL;
    d = xmalloc(s.n + 1);
    memcpy(d, s.s, s.n);
    d[s.n] = '\0';
    *n = s.n;
    return d;
}

/* The endpoints (one by name when f->endpoint) and every run, ordered by start. */
static int ctx_load(struct ctx *c, struct hist *h, const struct hist_filter *f)
{
    sqlite3_stmt *st = NULL;
    int rc;

    memset(c, 0, sizeof(*c));
    c->h = h;
    if ((rc = prep(h, "SELECT id, name, url FROM endpoints ORDER BY name, id", &st)) != SQLITE_OK)
        return fail_rc(h, rc);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct hist_str name = col_str(st, 1);
        struct ep_row *e;

        if (!name.s || (f->endpoint && !str_is(name.s, name.n, f->endpoint)))
            continue;
        c->eps = xrealloc(c->eps, (c->n_eps + 1) * sizeof(*c->eps));
        e = &c->eps[c->n_eps++];
        e->id = sqlite3_column_int64(st, 0);
        e->name = dup_str(name, &e->name_n);
        e->url = dup_str(col_str(st, 2), &e->url_n);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return fail_rc(h, rc);
    if (f->endpoint && c->n_eps == 0) {
        set_err(h->err, sizeof(h->err), "%s: no endpoint named '%s' in the history", h->path,
                f->endpoint);
        return -ENOENT;
    }
    rc = prep(h,
              h->have_hist ? "SELECT id, started_us, coalesce(ended_us, last_us), rtt_hist = 1 "
                             "FROM runs ORDER BY started_us, id"
                           : "SELECT id, started_us, coalesce(ended_us, last_us), 0 FROM runs "
                             "ORDER BY started_us, id",
              &st);
    if (rc != SQLITE_OK)
        return fail_rc(h, rc);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct run_row *r;
        c->runs = xrealloc(c->runs, (c->n_runs + 1) * sizeof(*c->runs));
        r = &c->runs[c->n_runs++];
        r->id = sqlite3_column_int64(st, 0);
        r->start = sqlite3_column_int64(st, 1);
        r->end = col_i64(st, 2);
        if (r->end == HIST_NULL || r->end < r->start)
            r->end = r->start;
        r->hist = sqlite3_column_int(st, 3) == 1;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail_rc(h, rc);
}

static const struct run_row *run_by_id(const struct ctx *c, int64_t id)
{
    size_t lo = 0, hi = c->n_runs;

    /* runs are sorted by start, ids mostly follow: a linear fallback keeps this right */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->runs[mid].id == id)
            return &c->runs[mid];
        if (c->runs[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = 0; i < c->n_runs; i++)
        if (c->runs[i].id == id)
            return &c->runs[i];
    return NULL;
}

/* ---- the timeline of one endpoint ------------------------------------------------------ */

/* What the timeline needs of an attempt. */
struct tl_att {
    int64_t run_id, started, opened, ended; /* opened/ended HIST_NULL when not */
    int64_t eff_end;                        /* ended, else its run's end */
    bool ok, is_tls, quiet;
    enum diag_class cls;
    enum evt_cause cause;
    int http_status, close_code, close_by, reached;
    int64_t open_for_us, msgs_in, msgs_out;
};

enum tl_cols { TL_SWEEP, TL_MSGS, TL_ALL };

struct tl_memo {
    struct memo cls, cause;
};

/* An attempt from a row of TL_COLS_SWEEP, TL_COLS_MSGS or TL_COLS; what was not read is
 * null (0 messages, not quiet). */
static void tl_read(sqlite3_stmt *st, struct tl_att *a, enum tl_cols cols, struct tl_memo *mm)
{
    struct hist_str cls = col_str(st, 5), cause = col_str(st, 6);
    int64_t pings;
    int v;

    memset(a, 0, sizeof(*a));
    a->run_id = sqlite3_column_int64(st, 0);
    a->started = sqlite3_column_int64(st, 1);
    a->opened = col_i64(st, 2);
    a->ended = col_i64(st, 3);
    a->ok = sqlite3_column_int64(st, 4) != 0;
    if (memo_get(&mm->cls, cls, &v)) {
        a->cls = (enum diag_class)v;
    } else {
        a->cls = hist_class_of(cls.s, cls.n);
        memo_put(&mm->cls, cls, (int)a->cls);
    }
    if (memo_get(&mm->cause, cause, &v)) {
        a->cause = (enum evt_cause)v;
    } else {
        a->cause = cause_of(cause);
        memo_put(&mm->cause, cause, (int)a->cause);
    }
    a->http_status = col_int(st, 7, 100, 999, 0);
    a->close_code = col_int(st, 8, 1, 65535, 0);
    if (a->opened != HIST_NULL && a->opened < a->started)
        a->opened = a->started;
    if (a->ended != HIST_NULL && a->ended < a->started)
        a->ended = a->started;
    a->close_by = a->reached = -1;
    a->open_for_us = HIST_NULL;
    if (cols == TL_SWEEP)
        return;
    a->msgs_in = sqlite3_column_int64(st, 9); /* NOT NULL: 0 if the file says otherwise */
    a->msgs_out = sqlite3_column_int64(st, 10);
    if (cols == TL_MSGS)
        return;
    a->close_by = col_enum(st, 11, by_name, EVT_BY_TIMEOUT);
    a->open_for_us = col_i64(st, 12);
    pings = col_i64(st, 13);
    a->is_tls = sqlite3_column_int64(st, 14) != 0;
    a->reached = col_phase(st, 15);
    a->quiet = a->msgs_in == 0 && a->msgs_out == 0 && pings == 0;
}

struct outage {
    const struct ep_row *ep;
    int64_t start, end, duration;
    enum diag_class cls;
    enum evt_cause cause;
    int http_status, close_code;
    uint32_t attempts;
};

/* Everything the summary and outage views want of one endpoint over [S, U). */
struct tl {
    const struct ep_row *ep;
    struct tl_att *att;
    size_t n_att, cap_att;
    int64_t watched, up;
    struct outage *out;
    size_t n_out;
    bool want_spans; /* hist_timeline: keep the spans too */
    bool want_msgs;  /* hist_summary: TL_COLS_MSGS */
    struct hist_span *sp;
    size_t n_sp;
};

static void tl_free(struct tl *t)
{
    free(t->att);
    free(t->out);
    free(t->sp);
}

/* A span of kind k, clipped to [S, U); empty ones are left out. */
static void tl_span(struct tl *t, int64_t a, int64_t b, enum hist_span_kind k, int64_t S, int64_t U)
{
    if (!t->want_spans)
        return;
    if (a < S)
        a = S;
    if (b > U)
        b = U;
    if (b <= a)
        return;
    if (t->n_sp % 64 == 0)
        t->sp = xrealloc(t->sp, (t->n_sp + 64) * sizeof(*t->sp));
    t->sp[t->n_sp++] = (struct hist_span){a, b, k};
}

static int load_rows(sqlite3_stmt *st, struct tl *t)
{
    struct tl_memo mm = {0};
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (t->n_att == t->cap_att) {
            t->cap_att = t->cap_att ? t->cap_att * 2 : 256;
            t->att = xrealloc(t->att, t->cap_att * sizeof(*t->att));
        }
        tl_read(st, &t->att[t->n_att++], t->want_msgs ? TL_MSGS : TL_SWEEP, &mm);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int step_i64(sqlite3_stmt *st, int64_t *out)
{
    int rc = sqlite3_step(st);

    *out = HIST_NULL;
    if (rc == SQLITE_ROW) {
        *out = col_i64(st, 0);
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Did endpoint ep run in run r (has it an attempt there)? */
static int covered(sqlite3_stmt *st, int64_t run, int64_t ep, bool *yes)
{
    int64_t v;
    int rc;

    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, ep);
    rc = step_i64(st, &v);
    *yes = v != HIST_NULL;
    return rc;
}

enum tl_kind { TL_OPEN, TL_CLOSE, TL_FAIL };

struct tl_ev {
    int64_t t;
    enum tl_kind kind;
    const struct tl_att *a;
};

/* Event order: by time; at one instant opens first (no zero-length outage when one connection
 * takes over from another), then closes, then failed attempts. */
static bool ev_less(const struct tl_ev *a, const struct tl_ev *b)
{
    return a->t < b->t || (a->t == b->t && a->kind < b->kind);
}

/* Sort v[0..n) by ev_less, stable (events at one instant of one kind keep the attempts'
 * order, as the outage's closer depends on it): insertion sort of short runs, then merges.
 * A third of the time glibc's qsort took here, which calls the comparison through a pointer. */
static void ev_sort(struct tl_ev *v, size_t n)
{
    enum { RUN = 16 };
    struct tl_ev *tmp, *src = v, *dst;

    for (size_t lo = 0; lo < n; lo += RUN) {
        size_t hi = lo + RUN < n ? lo + RUN : n;
        for (size_t i = lo + 1; i < hi; i++) {
            struct tl_ev x = v[i];
            size_t j = i;
            for (; j > lo && ev_less(&x, &v[j - 1]); j--)
                v[j] = v[j - 1];
            v[j] = x;
        }
    }
    if (n <= RUN)
        return;
    tmp = xmalloc(n * sizeof(*tmp));
    dst = tmp;
    for (size_t w = RUN; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;

            while (i < mid && j < hi)
                dst[k++] = ev_less(&src[j], &src[i]) ? src[j++] : src[i++];
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        struct tl_ev *x = src;
        src = dst;
        dst = x;
    }
    if (src != v)
        memcpy(v, src, n * sizeof(*v));
    free(tmp);
}

struct down {
    bool active, by_close;
    int64_t start;
    const struct tl_att *closer, *first_fail;
    uint32_t fails;
};

static void down_end(struct tl *t, struct down *d, int64_t at, bool recovered, int64_t S, int64_t U)
{
    struct outage o;
    const struct tl_att *src;

    if (!d->active)
        return;
    d->active = false;
    if (!d->first_fail && !(d->by_close && d->closer && !d->closer->ok))
        return; /* a clean stop and a reconnect that worked, or still connecting */
    memset(&o, 0, sizeof(o));
    o.ep = t->ep;
    o.start = d->start;
    if (!d->by_close && d->first_fail && d->first_fail->started > o.start)
        o.start = d->first_fail->started;
    o.end = recovered ? at : HIST_NULL;
    o.duration = span(o.start, at);
    src = d->first_fail ? d->first_fail : d->closer;
    o.cls = src->cls;
    o.cause = src->cause;
    o.http_status = d->first_fail ? d->first_fail->http_status : 0;
    o.close_code = d->by_close && d->closer ? d->closer->close_code : 0;
    o.attempts = d->fails;
    /* outages overlapping the window */
    if (o.start >= U || at <= S)
        return;
    t->out = xrealloc(t->out, (t->n_out + 1) * sizeof(*t->out));
    t->out[t->n_out++] = o;
}

/* Sweep one run of the endpoint from t_begin to its end. */
static void sweep_run(struct tl *t, const struct run_row *r, int64_t t_begin, int64_t S, int64_t U)
{
    struct tl_ev *ev = NULL;
    size_t n = 0, cap = 0;
    struct down d = {0};
    int64_t last = t_begin, open_from = t_begin;
    int open = 0;

    for (size_t i = 0; i < t->n_att; i++) {
        const struct tl_att *a = &t->att[i];

        if (a->run_id != r->id)
            continue;
        if (n + 2 > cap) {
            cap = cap ? cap * 2 : 256;
            ev = xrealloc(ev, cap * sizeof(*ev));
        }
        if (a->opened != HIST_NULL && a->opened <= r->end && a->eff_end >= t_begin) {
            if (a->opened < t_begin)
                open++; /* open across the start */
            else
                ev[n++] = (struct tl_ev){a->opened, TL_OPEN, a};
            ev[n++] = (struct tl_ev){a->eff_end, TL_CLOSE, a};
        } else if (a->opened == HIST_NULL && a->ended != HIST_NULL && a->started >= t_begin &&
                   a->started <= r->end) {
            ev[n++] = (struct tl_ev){a->started, TL_FAIL, a};
        }
    }
    if (n > 1)
        ev_sort(ev, n);
    if (open == 0)
        d = (struct down){.active = true, .start = t_begin};
    for (size_t i = 0; i < n; i++) {
        int64_t at = ev[i].t > r->end ? r->end : ev[i].t;

        if (at < last)
            at = last;
        if (open > 0)
            t->up = sat_add(t->up, overlap(last, at, S, U));
        last = at;
        switch (ev[i].kind) {
        case TL_OPEN:
            if (open == 0) {
                down_end(t, &d, at, true, S, U);
                open_from = at;
            }
            open++;
            break;
        case TL_CLOSE:
            if (open > 0 && --open == 0) {
                d = (struct down){.active = true, .by_close = true, .start = at, .closer = ev[i].a};
                tl_span(t, open_from, at, HIST_SPAN_OPEN, S, U);
            }
            break;
        case TL_FAIL:
            if (open == 0 && d.active) {
                d.fails++;
                if (!d.first_fail)
                    d.first_fail = ev[i].a;
            }
            break;
        }
    }
    if (open > 0) {
        t->up = sat_add(t->up, overlap(last, r->end, S, U));
        tl_span(t, open_from, r->end, HIST_SPAN_OPEN, S, U);
    } else
        down_end(t, &d, r->end > last ? r->end : last, false, S, U);
    free(ev);
}

/* Build the timeline of endpoint e over [S, U). */
static int tl_build(struct ctx *c, const struct ep_row *e, int64_t S, int64_t U, struct tl *t)
{
    struct hist *h = c->h;
    sqlite3_stmt *q_l0 = NULL, *q_next = NULL, *q_cov = NULL, *q_range = NULL, *q_span = NULL,
                 *q_span_null = NULL;
    int64_t l0 = HIST_NULL, next_open = HIST_NULL, lp = S, u_load;
    bool want_spans = t->want_spans, want_msgs = t->want_msgs;
    const char *cols = want_msgs ? TL_COLS_MSGS : TL_COLS_SWEEP;
    char sql[512];
    int rc;

    memset(t, 0, sizeof(*t));
    t->ep = e;
    t->want_spans = want_spans;
    t->want_msgs = want_msgs;
    rc = prep(h,
              "SELECT ended_us FROM attempts INDEXED BY attempts_ep_openend "
              "WHERE endpoint_id = ?1 AND opened_us IS NOT NULL AND ended_us <= ?2 "
              "ORDER BY ended_us DESC LIMIT 1",
              &q_l0);
    if (rc == SQLITE_OK)
        rc = prep(h,
                  "SELECT opened_us FROM attempts INDEXED BY attempts_ep_open "
                  "WHERE endpoint_id = ?1 AND opened_us IS NOT NULL AND opened_us >= ?2 "
                  "ORDER BY opened_us LIMIT 1",
                  &q_next);
    if (rc == SQLITE_OK)
        rc = prep(h, "SELECT 1 FROM attempts WHERE run_id = ?1 AND endpoint_id = ?2 LIMIT 1",
                  &q_cov);
    if (rc == SQLITE_OK) {
        snprintf(sql, sizeof(sql),
                 "SELECT %s FROM attempts INDEXED BY %s WHERE endpoint_id = ?1 AND "
                 "started_us >= ?2 AND started_us <= ?3",
                 cols, h->have_tl ? "attempts_ep_tl" : "attempts_ep_time");
        rc = prep(h, sql, &q_range);
    }
    if (rc == SQLITE_OK) {
        snprintf(sql, sizeof(sql), Q_SPAN, cols,
                 h->have_tl ? "attempts_ep_openend_tl" : "attempts_ep_openend", ">= ?2");
        rc = prep(h, sql, &q_span);
    }
    if (rc == SQLITE_OK) {
        snprintf(sql, sizeof(sql), Q_SPAN, cols,
                 h->have_tl ? "attempts_ep_openend_tl" : "attempts_ep_openend", "IS NULL");
        rc = prep(h, sql, &q_span_null);
    }
    if (rc != SQLITE_OK)
        goto out;

    /* Look back to where the state at S began: the last open that ended before S, or the
     * start of the run S falls in. */
    sqlite3_bind_int64(q_l0, 1, e->id);
    sqlite3_bind_int64(q_l0, 2, S);
    if ((rc = step_i64(q_l0, &l0)) != SQLITE_OK)
        goto out;
    for (size_t i = 0; i < c->n_runs; i++) {
        const struct run_row *r = &c->runs[i];
        bool yes;

        if (r->start > S || r->end <= S)
            continue;
        if ((rc = covered(q_cov, r->id, e->id, &yes)) != SQLITE_OK)
            goto out;
        if (yes)
            lp = l0 != HIST_NULL && l0 > r->start ? l0 : r->start;
    }
    /* Look ahead to the first open after U: an outage going on at U ends there. */
    sqlite3_bind_int64(q_next, 1, e->id);
    sqlite3_bind_int64(q_next, 2, U);
    if ((rc = step_i64(q_next, &next_open)) != SQLITE_OK)
        goto out;
    u_load = next_open != HIST_NULL && next_open > U ? next_open : U;
    if (next_open == HIST_NULL)
        u_load = HIST_ALL_AFTER;

    sqlite3_bind_int64(q_range, 1, e->id);
    sqlite3_bind_int64(q_range, 2, lp);
    sqlite3_bind_int64(q_range, 3, u_load);
    if ((rc = load_rows(q_range, t)) != SQLITE_OK)
        goto out;
    sqlite3_bind_int64(q_span, 1, e->id);
    sqlite3_bind_int64(q_span, 2, lp);
    if ((rc = load_rows(q_span, t)) != SQLITE_OK)
        goto out;
    sqlite3_bind_int64(q_span_null, 1, e->id);
    sqlite3_bind_int64(q_span_null, 2, lp);
    if ((rc = load_rows(q_span_null, t)) != SQLITE_OK)
        goto out;

    for (size_t i = 0; i < t->n_att; i++) {
        struct tl_att *a = &t->att[i];
        const struct run_row *r = run_by_id(c, a->run_id);
        int64_t run_end = r ? r->end : a->started;

        a->eff_end = a->ended != HIST_NULL ? a->ended : run_end;
        if (a->eff_end > run_end && r)
            a->eff_end = run_end;
        if (a->opened != HIST_NULL && a->eff_end < a->opened)
            a->eff_end = a->opened;
    }

    for (size_t i = 0; i < c->n_runs; i++) {
        const struct run_row *r = &c->runs[i];
        bool yes;

        if (r->start >= U || r->end <= lp)
            continue;
        if ((rc = covered(q_cov, r->id, e->id, &yes)) != SQLITE_OK)
            goto out;
        if (!yes)
            continue;
        t->watched = sat_add(t->watched, overlap(r->start, r->end, S, U));
        tl_span(t, r->start, r->end, HIST_SPAN_WATCHED, S, U);
        sweep_run(t, r, r->start > lp ? r->start : lp, S, U);
    }
    for (size_t i = 0; i < t->n_out; i++)
        tl_span(t, t->out[i].start, sat_add(t->out[i].start, t->out[i].duration), HIST_SPAN_OUTAGE,
                S, U);
out:
    sqlite3_finalize(q_l0);
    sqlite3_finalize(q_next);
    sqlite3_finalize(q_cov);
    sqlite3_finalize(q_range);
    sqlite3_finalize(q_span);
    sqlite3_finalize(q_span_null);
    return rc == SQLITE_OK ? 0 : fail_rc(h, rc);
}

/* ---- summary --------------------------------------------------------------------------- */

static void swap_u32(uint32_t *a, uint32_t *b)
{
    uint32_t t = *a;
    *a = *b;
    *b = t;
}

/* The k-th smallest (0-based) of v[0..n), reordering v (quickselect, median of three). */
static uint32_t select_k(uint32_t *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;

    while (hi > lo) {
        size_t mid = lo + (hi - lo) / 2, i = lo, j = hi;
        uint32_t pivot;

        if (v[mid] < v[lo])
            swap_u32(&v[mid], &v[lo]);
        if (v[hi] < v[lo])
            swap_u32(&v[hi], &v[lo]);
        if (v[hi] < v[mid])
            swap_u32(&v[hi], &v[mid]);
        pivot = v[mid];
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                swap_u32(&v[i], &v[j]);
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return v[k];
    }
    return v[k];
}

/* Exact percentile by nearest rank: the smallest value with at least p % of the samples at or
 * below it (rank ceil(p/100 * n), 1-based). Computed in C, over the window's samples. */
static int64_t nearest_rank(uint32_t *v, size_t n, int p)
{
    size_t rank;

    if (n == 0)
        return HIST_NULL;
    rank = (size_t)(((uint64_t)n * (uint64_t)p + 99) / 100);
    if (rank < 1)
        rank = 1;
    return select_k(v, n, rank - 1);
}

/* ---- RTT percentiles ------------------------------------------------------------------- */

/* [a, b) */
struct range {
    int64_t a, b;
};

static int cmp_range(const void *x, const void *y)
{
    const struct range *p = x, *q = y;

    if (p->a != q->a)
        return p->a < q->a ? -1 : 1;
    return (p->b > q->b) - (p->b < q->b);
}

/* Sort v and merge ranges that overlap or touch; empty ones go. The count left. */
static size_t merge_ranges(struct range *v, size_t n)
{
    size_t k = 0;

    if (n > 1)
        qsort(v, n, sizeof(*v), cmp_range);
    for (size_t i = 0; i < n; i++) {
        if (v[i].b <= v[i].a)
            continue;
        if (k > 0 && v[i].a <= v[k - 1].b) {
            if (v[i].b > v[k - 1].b)
                v[k - 1].b = v[i].b;
        } else {
            v[k++] = v[i];
        }
    }
    return k;
}

static int64_t sat_sub(int64_t a, int64_t b)
{
    return a < INT64_MIN + b ? INT64_MIN : a - b;
}

/* t rounded up to a minute (saturating) */
static int64_t minute_ceil(int64_t t)
{
    int64_t m = rtt_hist_minute(t);

    if (m == t)
        return t;
    return m > INT64_MAX - RTT_HIST_MINUTE_US ? INT64_MAX : m + RTT_HIST_MINUTE_US;
}

/* The minutes of [A, B) whose samples are all counted in rtt_hist: the minutes a run that
 * wrote histograms overlaps, less those near a run that did not (recorded before version 2,
 * or by an older wsmon writing to the file since). Sorted, disjoint; the count, *out to free.
 * Samples of minutes no run covers are read from rtt. */
static size_t hist_minutes(const struct ctx *c, int64_t A, int64_t B, struct range **out)
{
    struct range *good = xcalloc(c->n_runs + 1, sizeof(*good));
    struct range *bad = xcalloc(c->n_runs + 1, sizeof(*bad));
    struct range *res = NULL;
    size_t ng = 0, nb = 0, n = 0, cap = 0, j = 0;

    for (size_t i = 0; i < c->n_runs; i++) {
        const struct run_row *r = &c->runs[i];

        if (r->hist)
            good[ng++] = (struct range){rtt_hist_minute(r->start), minute_ceil(sat_add(r->end, 1))};
        else
            bad[nb++] = (struct range){rtt_hist_minute(sat_sub(r->start, HIST_OLD_RUN_PAD_US)),
                                       minute_ceil(sat_add(r->end, HIST_OLD_RUN_PAD_US + 1))};
    }
    ng = merge_ranges(good, ng);
    nb = merge_ranges(bad, nb);
    for (size_t i = 0; i < ng; i++) {
        int64_t a = good[i].a > A ? good[i].a : A, b = good[i].b < B ? good[i].b : B, cur = a;

        if (a >= b)
            continue;
        while (j < nb && bad[j].b <= a)
            j++;
        for (size_t k = j; cur < b;) {
            struct range piece = {cur, b};

            if (k < nb && bad[k].a < b) {
                piece.b = bad[k].a;
                cur = bad[k].b > cur ? bad[k].b : cur;
                k++;
            } else {
                cur = b;
            }
            if (piece.b <= piece.a)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                res = xrealloc(res, cap * sizeof(*res));
            }
            res[n++] = piece;
        }
    }
    free(good);
    free(bad);
    *out = res;
    return n;
}

/* Counts per bucket (rtt_hist.h), saturating: the file may hold any number. */
struct rtt_counts {
    uint64_t *n; /* [RTT_HIST_BUCKETS] */
    uint64_t total;
    uint64_t rows; /* histogram rows read */
};

#define COUNT_MAX (UINT64_C(1) << 62)

static void counts_add(struct rtt_counts *k, uint32_t b, uint64_t n)
{
    k->n[b] = k->n[b] > COUNT_MAX - n ? COUNT_MAX : k->n[b] + n;
    k->total = k->total > COUNT_MAX - n ? COUNT_MAX : k->total + n;
}

/* The bucket holding the sample of nearest rank p: its middle (exact below
 * RTT_HIST_EXACT_US); HIST_NULL without samples. */
static int64_t counts_rank(const struct rtt_counts *k, int p)
{
    uint64_t rank, cum = 0;

    if (k->total == 0)
        return HIST_NULL;
    /* ceil(total * p / 100) without overflow */
    rank = k->total / 100 * (uint64_t)p + (k->total % 100 * (uint64_t)p + 99) / 100;
    if (rank < 1)
        rank = 1;
    for (uint32_t b = 0; b < RTT_HIST_BUCKETS; b++) {
        cum = cum > COUNT_MAX - k->n[b] ? COUNT_MAX : cum + k->n[b];
        if (cum >= rank)
            return rtt_hist_mid(b);
    }
    return rtt_hist_mid(RTT_HIST_BUCKETS - 1);
}

/* Every sample of [a, b) into k. */
static int counts_raw(sqlite3_stmt *st, int64_t ep, int64_t a, int64_t b, struct rtt_counts *k)
{
    int rc;

    sqlite3_bind_int64(st, 1, ep);
    sqlite3_bind_int64(st, 2, a);
    sqlite3_bind_int64(st, 3, b);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t x = sqlite3_column_int64(st, 0); /* as rtt_exact reads them */
        if (x < 0 || x > UINT32_MAX)
            continue;
        counts_add(k, rtt_hist_bucket((uint32_t)x), 1);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Every sample of [a, b) out of k (saturating at 0: a hostile file may not add up). */
static int counts_raw_sub(sqlite3_stmt *st, int64_t ep, int64_t a, int64_t b, struct rtt_counts *k)
{
    int rc;

    sqlite3_bind_int64(st, 1, ep);
    sqlite3_bind_int64(st, 2, a);
    sqlite3_bind_int64(st, 3, b);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t x = sqlite3_column_int64(st, 0);
        uint32_t bk;

        if (x < 0 || x > UINT32_MAX)
            continue;
        bk = rtt_hist_bucket((uint32_t)x);
        if (k->n[bk] > 0 && k->total > 0) {
            k->n[bk]--;
            k->total--;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The minute [m, m + 1 min) is wholly counted in rtt_hist (hist_minutes). */
static bool minute_in_hist(const struct ctx *c, int64_t m)
{
    struct range *r = NULL;
    size_t n = hist_minutes(c, m, m + RTT_HIST_MINUTE_US, &r);
    bool yes = n == 1 && r[0].a == m && r[0].b == m + RTT_HIST_MINUTE_US;

    free(r);
    return yes;
}

/* Whether endpoint ep has any sample in [a, b). */
static int any_sample(struct hist *h, int64_t ep, int64_t a, int64_t b, bool *yes)
{
    sqlite3_stmt *st = NULL;
    int rc = prep(
        h, "SELECT 1 FROM rtt WHERE endpoint_id = ?1 AND t_us >= ?2 AND t_us < ?3 LIMIT 1", &st);

    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_int64(st, 1, ep);
    sqlite3_bind_int64(st, 2, a);
    sqlite3_bind_int64(st, 3, b);
    rc = sqlite3_step(st);
    *yes = rc == SQLITE_ROW;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The histogram rows of the minutes [a, b) into k. *sparse: stopped early, the rows hold
 * too few samples to be worth it (HIST_MIN_PER_ROW). */
static int counts_hist(sqlite3_stmt *st, int64_t ep, int64_t a, int64_t b, struct rtt_counts *k,
                       bool *sparse)
{
    int rc;

    sqlite3_bind_int64(st, 1, ep);
    sqlite3_bind_int64(st, 2, a);
    sqlite3_bind_int64(st, 3, b);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        /* anything but an integer reads as 0 or its integer part: still a count in range */
        int64_t bucket = sqlite3_column_int64(st, 0), n = sqlite3_column_int64(st, 1);

        if (++k->rows >= HIST_PROBE_ROWS && k->total < HIST_MIN_PER_ROW * k->rows) {
            *sparse = true;
            break;
        }
        if (bucket < 0 || bucket >= RTT_HIST_BUCKETS || n <= 0)
            continue;
        counts_add(k, (uint32_t)bucket, (uint64_t)n);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The percentiles by nearest rank (nearest_rank) over every sample of [S, U): exact. */
static int rtt_exact(struct hist *h, const struct ep_row *e, int64_t S, int64_t U,
                     struct hist_summary *r)
{
    sqlite3_stmt *st = NULL;
    uint32_t *v = NULL;
    size_t n = 0, cap = 0;
    int rc =
        prep(h, "SELECT rtt_us FROM rtt WHERE endpoint_id = ?1 AND t_us >= ?2 AND t_us < ?3", &st);

    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_int64(st, 1, e->id);
    sqlite3_bind_int64(st, 2, S);
    sqlite3_bind_int64(st, 3, U);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t x = sqlite3_column_int64(st, 0);
        if (x < 0 || x > UINT32_MAX)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            v = xrealloc(v, cap * sizeof(*v));
        }
        v[n++] = (uint32_t)x;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
        r->rtt_samples = n;
        r->rtt_p50_us = nearest_rank(v, n, 50);
        r->rtt_p95_us = nearest_rank(v, n, 95);
        r->rtt_p99_us = nearest_rank(v, n, 99);
    }
    free(v);
    return rc;
}

/* p50, p95 and p99 of endpoint e over [S, U). Exact over a short window, few samples or sparse
 * histograms (HIST_MIN_PER_ROW); else
 * the full minutes come from rtt_hist and the rest (the partial minutes at the edges, minutes
 * recorded without histograms) from rtt, all counted in the same buckets: each percentile is
 * the middle of the bucket holding the exact nearest-rank sample, within 1/256 of it (exact
 * below RTT_HIST_EXACT_US). */
static int rtt_percentiles(struct ctx *c, const struct ep_row *e, int64_t S, int64_t U,
                           struct hist_summary *r)
{
    struct hist *h = c->h;
    sqlite3_stmt *q_hist = NULL, *q_raw = NULL;
    struct rtt_counts k = {0};
    struct range *hm = NULL;
    size_t n_hm = 0;
    int64_t A = minute_ceil(S), B = rtt_hist_minute(U), cur;
    bool sparse = false;
    int rc;

    r->rtt_samples = 0;
    r->rtt_p50_us = r->rtt_p95_us = r->rtt_p99_us = HIST_NULL;
    if (!h->have_hist || span(S, U) < HIST_RAW_SPAN_US || A >= B)
        return rtt_exact(h, e, S, U, r);
    n_hm = hist_minutes(c, A, B, &hm);
    if (n_hm == 0) {
        free(hm);
        return rtt_exact(h, e, S, U, r);
    }
    k.n = xcalloc(RTT_HIST_BUCKETS, sizeof(*k.n));
    rc = prep(h,
              "SELECT bucket, n FROM rtt_hist WHERE endpoint_id = ?1 AND minute_us >= ?2 "
              "AND minute_us < ?3",
              &q_hist);
    for (size_t i = 0; rc == SQLITE_OK && i < n_hm && !sparse; i++)
        rc = counts_hist(q_hist, e->id, hm[i].a, hm[i].b, &k, &sparse);
    if (rc == SQLITE_ROW)
        rc = SQLITE_OK; /* stopped early */
    if (rc == SQLITE_OK && (sparse || k.total <= HIST_RAW_MAX)) {
        /* few samples, or about as many rows of histogram: all the samples, exact */
        rc = rtt_exact(h, e, S, U, r);
        goto out;
    }
    if (rc == SQLITE_OK)
        rc = prep(h, "SELECT rtt_us FROM rtt WHERE endpoint_id = ?1 AND t_us >= ?2 AND t_us < ?3",
                  &q_raw);
    /* The rest of [S, U), between the histogram minutes. The partial minutes at the edges
     * can hold a minute of samples each on a live recorder (10 endpoints x 1,000
     * connections: 1.2 M rows): the last one, [B, U), is its histogram row when no sample
     * is at or after U (U is now, the usual case: exact); the first, [S, A), is its
     * minute's row less the samples before S when those are the smaller part. */
    cur = S;
    k.rows = 0; /* the sparse test is over: an edge minute's rows are read to the end */
    for (size_t i = 0; rc == SQLITE_OK && i <= n_hm; i++) {
        int64_t to = i < n_hm ? hm[i].a : U;
        bool done = false, later = true, unused = false;

        if (to > cur && i == 0 && to == A && S - (A - RTT_HIST_MINUTE_US) < A - S &&
            minute_in_hist(c, A - RTT_HIST_MINUTE_US)) {
            rc = counts_hist(q_hist, e->id, A - RTT_HIST_MINUTE_US, A, &k, &unused);
            if (rc == SQLITE_OK)
                rc = counts_raw_sub(q_raw, e->id, A - RTT_HIST_MINUTE_US, S, &k);
            done = true;
        } else if (to > cur && i == n_hm && cur == B && minute_in_hist(c, B)) {
            rc = any_sample(h, e->id, U, B + RTT_HIST_MINUTE_US, &later);
            if (rc == SQLITE_OK && !later) {
                rc = counts_hist(q_hist, e->id, B, B + RTT_HIST_MINUTE_US, &k, &unused);
                done = true;
            }
        }
        if (rc == SQLITE_OK && !done && to > cur)
            rc = counts_raw(q_raw, e->id, cur, to, &k);
        if (i < n_hm)
            cur = hm[i].b;
    }
    if (rc == SQLITE_OK) {
        r->rtt_samples = k.total;
        r->rtt_p50_us = counts_rank(&k, 50);
        r->rtt_p95_us = counts_rank(&k, 95);
        r->rtt_p99_us = counts_rank(&k, 99);
    }
out:
    sqlite3_finalize(q_hist);
    sqlite3_finalize(q_raw);
    free(k.n);
    free(hm);
    return rc;
}

/* The idle-timeout detection of the dashboard (diag_idle_timeout), fed with the newest ended
 * attempts started in the window as if they were connections' rings of ended attempts. *out < 0
 * without a cutoff. */
static int idle_timeout(struct hist *h, const struct ep_row *e, int64_t S, int64_t U, double *out)
{
    enum { PER = MODEL_HIST, CONNS = DIAG_SAMPLES_MAX / MODEL_HIST };
    struct model_conn *mc;
    const struct model_conn *ptr[CONNS];
    sqlite3_stmt *st = NULL;
    struct tl_memo mm = {0};
    char sql[512];
    size_t k = 0;
    int rc;

    *out = -1;
    snprintf(sql, sizeof(sql),
             "SELECT " TL_COLS " FROM attempts INDEXED BY %s WHERE endpoint_id = ?1 AND "
             "started_us >= ?2 AND started_us < ?3 AND ended_us IS NOT NULL "
             "ORDER BY started_us DESC LIMIT %d",
             h->have_tl ? "attempts_ep_tl" : "attempts_ep_time", CONNS * PER);
    if ((rc = prep(h, sql, &st)) != SQLITE_OK)
        return rc;
    sqlite3_bind_int64(st, 1, e->id);
    sqlite3_bind_int64(st, 2, S);
    sqlite3_bind_int64(st, 3, U);
    mc = xcalloc(CONNS, sizeof(*mc));
    for (size_t i = 0; i < CONNS; i++)
        model_conn_init(&mc[i]);
    while (k < (size_t)CONNS * PER && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct model_conn *c = &mc[k / PER];
        struct model_end *m;
        struct tl_att a;

        tl_read(st, &a, TL_ALL, &mm);
        m = model_conn_push_end(c);
        m->seq = (uint32_t)(k + 1);
        m->wall_start_us = a.started;
        m->wall_end_us = a.ended;
        m->open_for_us = a.opened != HIST_NULL ? span(a.opened, a.ended) : -1;
        m->cause = a.cause;
        m->by = a.close_by > 0 ? (enum evt_by)a.close_by : EVT_BY_NONE;
        m->reached = a.reached >= 0 ? (enum evt_phase)a.reached : EVT_PH_NONE;
        m->code = a.close_code;
        m->http_status = a.http_status;
        m->quiet = a.opened != HIST_NULL && a.quiet;
        c->cur.tls = a.is_tls;
        k++;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        rc = SQLITE_OK;
        for (size_t i = 0; i < CONNS; i++)
            ptr[i] = &mc[i];
        *out = diag_idle_timeout(ptr, (k + PER - 1) / PER, NULL);
    }
    for (size_t i = 0; i < CONNS; i++)
        model_conn_release(&mc[i]);
    free(mc);
    return rc;
}

static int cmp_code(const void *x, const void *y)
{
    const struct hist_code_count *a = x, *b = y;

    return (a->code > b->code) - (a->code < b->code);
}

int hist_summary(struct hist *h, const struct hist_filter *f, hist_summary_fn fn, void *ud)
{
    struct ctx c;
    int rc;

    if (!h || !f || !fn)
        return -EINVAL;
    if ((rc = begin(h)) != SQLITE_OK)
        return fail_rc(h, rc);
    rc = ctx_load(&c, h, f);
    for (size_t i = 0; rc == 0 && i < c.n_eps; i++) {
        const struct ep_row *e = &c.eps[i];
        struct hist_code_count codes[64];
        struct hist_summary r;
        struct tl t = {.want_msgs = true};
        int64_t longest = HIST_NULL, rec_sum = 0, rec_n = 0;

        memset(&r, 0, sizeof(r));
        if ((rc = tl_build(&c, e, f->since_us, f->until_us, &t)) != 0)
            break;
        for (size_t k = 0; k < t.n_att; k++) {
            const struct tl_att *a = &t.att[k];
            if (a->started < f->since_us || a->started >= f->until_us)
                continue;
            r.attempts++;
            r.opened += a->opened != HIST_NULL;
            if (a->cls < DIAG_CLASS_COUNT)
                r.classes[a->cls]++;
            if (a->close_code) {
                size_t j = 0;
                while (j < r.n_codes && codes[j].code != a->close_code)
                    j++;
                if (j == r.n_codes && j < sizeof(codes) / sizeof(codes[0]))
                    codes[r.n_codes++] = (struct hist_code_count){a->close_code, 0};
                if (j < r.n_codes)
                    codes[j].n++;
            }
            r.messages_in += a->msgs_in > 0 ? (uint64_t)a->msgs_in : 0;
            r.messages_out += a->msgs_out > 0 ? (uint64_t)a->msgs_out : 0;
        }
        if (r.attempts == 0 && t.watched == 0) {
            tl_free(&t);
            continue; /* not watched in the window */
        }
        if (r.n_codes > 1)
            qsort(codes, r.n_codes, sizeof(codes[0]), cmp_code);
        r.codes = codes;
        r.endpoint = (struct hist_str){e->name, e->name_n};
        r.url = (struct hist_str){e->url, e->url_n};
        r.watched_us = t.watched;
        r.up_us = t.up < t.watched ? t.up : t.watched;
        r.availability_pct = t.watched > 0 ? 100.0 * (double)r.up_us / (double)t.watched : 0.0;
        r.outages = (uint32_t)t.n_out;
        for (size_t k = 0; k < t.n_out; k++) {
            if (longest == HIST_NULL || t.out[k].duration > longest)
                longest = t.out[k].duration;
            if (t.out[k].end != HIST_NULL) {
                rec_sum = sat_add(rec_sum, t.out[k].duration);
                rec_n++;
            }
        }
        r.longest_outage_us = longest;
        r.recover_us = rec_n ? rec_sum / rec_n : HIST_NULL;
        rc = idle_timeout(h, e, f->since_us, f->until_us, &r.idle_timeout_s);
        if (rc == SQLITE_OK)
            rc = rtt_percentiles(&c, e, f->since_us, f->until_us, &r);
        rc = rc == SQLITE_OK ? 0 : fail_rc(h, rc);
        if (rc == 0)
            rc = fn(ud, &r);
        tl_free(&t);
    }
    ctx_free(&c);
    end(h);
    return rc;
}

/* ---- outages --------------------------------------------------------------------------- */

static int cmp_outage(const void *x, const void *y)
{
    const struct outage *a = x, *b = y;

    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    return strcmp(a->ep->name, b->ep->name);
}

static enum diag_class filter_class(struct hist *h, const struct hist_filter *f, int *rc)
{
    enum diag_class cls = DIAG_CLASS_COUNT;

    *rc = 0;
    if (f->cls) {
        cls = hist_class_of(f->cls, strlen(f->cls));
        if (cls == DIAG_CLASS_COUNT) {
            set_err(h->err, sizeof(h->err), "unknown class '%s'", f->cls);
            *rc = -EINVAL;
        }
    }
    return cls;
}

int hist_outages(struct hist *h, const struct hist_filter *f, hist_outage_fn fn, void *ud)
{
    struct outage *all = NULL;
    size_t n = 0;
    sqlite3_stmt *q_mark = NULL;
    enum diag_class cls;
    struct ctx c;
    int rc;

    if (!h || !f || !fn)
        return -EINVAL;
    cls = filter_class(h, f, &rc);
    if (rc)
        return rc;
    if ((rc = begin(h)) != SQLITE_OK)
        return fail_rc(h, rc);
    rc = ctx_load(&c, h, f);
    for (size_t i = 0; rc == 0 && i < c.n_eps; i++) {
        struct tl t = {0};
        if ((rc = tl_build(&c, &c.eps[i], f->since_us, f->until_us, &t)) != 0)
            break;
        for (size_t k = 0; k < t.n_out; k++) {
            if (f->cls && t.out[k].cls != cls)
                continue;
            all = xrealloc(all, (n + 1) * sizeof(*all));
            all[n++] = t.out[k];
        }
        tl_free(&t);
    }
    if (rc == 0 && n > 1)
        qsort(all, n, sizeof(*all), cmp_outage);
    if (rc == 0 && prep(h,
                        "SELECT text FROM markers WHERE t_us <= ?1 AND (endpoint_id IS NULL OR "
                        "endpoint_id = ?2) ORDER BY t_us DESC, id DESC LIMIT 1",
                        &q_mark) != SQLITE_OK)
        rc = -EIO;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct outage *o = &all[i];
        struct hist_outage r;
        int s;

        memset(&r, 0, sizeof(r));
        r.endpoint = (struct hist_str){o->ep->name, o->ep->name_n};
        r.start_us = o->start;
        r.end_us = o->end;
        r.duration_us = o->duration;
        r.cls = o->cls;
        r.cause = o->cause;
        r.http_status = o->http_status;
        r.close_code = o->close_code;
        r.attempts = o->attempts;
        sqlite3_bind_int64(q_mark, 1, o->start);
        sqlite3_bind_int64(q_mark, 2, o->ep->id);
        s = sqlite3_step(q_mark);
        if (s == SQLITE_ROW)
            r.marker = col_str(q_mark, 0);
        else if (s != SQLITE_DONE)
            rc = fail_rc(h, s);
        if (rc == 0)
            rc = fn(ud, &r);
        sqlite3_reset(q_mark);
    }
    sqlite3_finalize(q_mark);
    free(all);
    ctx_free(&c);
    end(h);
    return rc;
}

/* ---- the review screen's timeline ------------------------------------------------------ */

#define Q_NEAREST_MARK                                                                             \
    "SELECT text FROM markers WHERE t_us <= ?1 AND (endpoint_id IS NULL OR endpoint_id = ?2) "     \
    "ORDER BY t_us DESC, id DESC LIMIT 1"

int hist_timeline(struct hist *h, const struct hist_filter *f, hist_timeline_fn fn, void *ud)
{
    sqlite3_stmt *q_mark = NULL;
    struct ctx c;
    int rc;

    if (!h || !f || !fn)
        return -EINVAL;
    if ((rc = begin(h)) != SQLITE_OK)
        return fail_rc(h, rc);
    rc = ctx_load(&c, h, f);
    if (rc == 0 && prep(h, Q_NEAREST_MARK, &q_mark) != SQLITE_OK)
        rc = -EIO;
    for (size_t i = 0; rc == 0 && i < c.n_eps; i++) {
        const struct ep_row *e = &c.eps[i];
        struct tl t = {.want_spans = true};
        struct hist_outage *o;
        struct hist_timeline r;
        char **marks;
        size_t in_window = 0;

        if ((rc = tl_build(&c, e, f->since_us, f->until_us, &t)) != 0) {
            tl_free(&t);
            break;
        }
        for (size_t k = 0; k < t.n_att; k++)
            in_window += t.att[k].started >= f->since_us && t.att[k].started < f->until_us;
        if (in_window == 0 && t.watched == 0) {
            tl_free(&t);
            continue; /* not watched in the window */
        }
        if (t.n_out > 1)
            qsort(t.out, t.n_out, sizeof(*t.out), cmp_outage);
        o = xcalloc(t.n_out + 1, sizeof(*o));
        marks = xcalloc(t.n_out + 1, sizeof(*marks));
        for (size_t k = 0; rc == 0 && k < t.n_out; k++) {
            const struct outage *x = &t.out[k];
            int s;

            o[k].endpoint = (struct hist_str){e->name, e->name_n};
            o[k].start_us = x->start;
            o[k].end_us = x->end;
            o[k].duration_us = x->duration;
            o[k].cls = x->cls;
            o[k].cause = x->cause;
            o[k].http_status = x->http_status;
            o[k].close_code = x->close_code;
            o[k].attempts = x->attempts;
            sqlite3_bind_int64(q_mark, 1, x->start);
            sqlite3_bind_int64(q_mark, 2, e->id);
            s = sqlite3_step(q_mark);
            if (s == SQLITE_ROW) {
                struct hist_str m = col_str(q_mark, 0);
                size_t n;
                marks[k] = dup_str(m, &n);
                o[k].marker = (struct hist_str){marks[k], n};
            } else if (s != SQLITE_DONE) {
                rc = fail_rc(h, s);
            }
            sqlite3_reset(q_mark);
        }
        memset(&r, 0, sizeof(r));
        r.endpoint = (struct hist_str){e->name, e->name_n};
        r.url = (struct hist_str){e->url, e->url_n};
        r.watched_us = t.watched;
        r.up_us = t.up < t.watched ? t.up : t.watched;
        r.spans = t.sp;
        r.n_spans = t.n_sp;
        r.outages = o;
        r.n_outages = t.n_out;
        if (rc == 0)
            rc = fn(ud, &r);
        for (size_t k = 0; k < t.n_out; k++)
            free(marks[k]);
        free(marks);
        free(o);
        tl_free(&t);
    }
    sqlite3_finalize(q_mark);
    ctx_free(&c);
    end(h);
    return rc;
}

/* ---- attempts, events, markers ---------------------------------------------------------- */

#define ATT_VIEW_COLS                                                                              \
    "e.name, e.url, a.started_us, a.opened_us, a.ended_us, a.conn, a.seq, a.ok, a.class, "         \
    "a.cause, a.failed_in, a.reached, a.ready_state, a.dns_us, a.tcp_us, a.tls_us, "               \
    "a.upgrade_us, a.open_us, a.first_message_us, a.total_us, a.remote, a.is_tls, a.have_tls, "    \
    "a.tls_version, a.tls_cipher, a.tls_subject, a.tls_issuer, a.tls_not_after_s, a.tls_verify, "  \
    "a.tls_insecure, a.have_http, a.http_status, a.http_accept_ok, a.http_server, "                \
    "a.http_upgrade, a.http_connection, a.http_location, a.http_backend, a.http_cookies, "         \
    "a.close_code, a.close_frame, a.open_for_us, a.close_reason, a.close_by, "                     \
    "a.close_transport, a.rtt_samples, a.rtt_min_us, a.rtt_median_us, a.rtt_max_us, "              \
    "a.msgs_in, a.msgs_out, a.bytes_in, a.bytes_out, a.first_msg, a.verdict, a.hint"

static int64_t col_dur(sqlite3_stmt *st, int i)
{
    int64_t v = col_i64(st, i);

    return v != HIST_NULL && v < 0 ? HIST_NULL : v;
}

static void att_read(sqlite3_stmt *st, struct hist_attempt *a)
{
    int i = 0;
    int64_t v;

    memset(a, 0, sizeof(*a));
    a->endpoint = col_str(st, i++);
    a->url = col_str(st, i++);
    a->started_us = sqlite3_column_int64(st, i++);
    a->opened_us = col_i64(st, i++);
    a->ended_us = col_i64(st, i++);
    a->ended = a->ended_us != HIST_NULL;
    a->conn = (uint32_t)col_int(st, i++, 0, INT_MAX, 0);
    a->seq = (uint32_t)col_int(st, i++, 0, INT_MAX, 0);
    a->ok = sqlite3_column_int64(st, i++) != 0;
    a->cls = col_class(st, i++);
    a->cause = col_cause(st, i++);
    a->failed_in = col_phase(st, i++);
    if (a->failed_in == EVT_PH_NONE)
        a->failed_in = -1;
    a->reached = col_phase(st, i++);
    a->ready_state = col_int(st, i++, 0, 3, 3);
    a->dns_us = col_dur(st, i++);
    a->tcp_us = col_dur(st, i++);
    a->tls_us = col_dur(st, i++);
    a->upgrade_us = col_dur(st, i++);
    a->open_us = col_dur(st, i++);
    a->first_message_us = col_dur(st, i++);
    a->total_us = col_dur(st, i++);
    a->remote = col_str(st, i++);
    a->is_tls = sqlite3_column_int64(st, i++) != 0;
    a->have_tls = sqlite3_column_int64(st, i++) != 0;
    a->tls_version = col_str(st, i++);
    a->tls_cipher = col_str(st, i++);
    a->tls_subject = col_str(st, i++);
    a->tls_issuer = col_str(st, i++);
    a->tls_not_after_s = col_i64(st, i++);
    a->tls_verify = col_enum(st, i++, verify_name, EVT_VERIFY_OTHER);
    a->tls_insecure = sqlite3_column_int64(st, i++) != 0;
    a->have_http = sqlite3_column_int64(st, i++) != 0;
    v = col_i64(st, i++);
    a->http_status = v != HIST_NULL && (v < 0 || v > 999) ? HIST_NULL : v;
    v = col_i64(st, i++);
    a->http_accept_ok = v == HIST_NULL ? HIST_NULL : v != 0;
    a->http_server = col_str(st, i++);
    a->http_upgrade = col_str(st, i++);
    a->http_connection = col_str(st, i++);
    a->http_location = col_str(st, i++);
    a->http_backend = col_str(st, i++);
    a->http_cookies = col_str(st, i++);
    v = col_i64(st, i++);
    a->close_code = v != HIST_NULL && (v < 0 || v > 65535) ? HIST_NULL : v;
    v = col_i64(st, i++);
    a->close_frame = v == HIST_NULL ? HIST_NULL : v != 0;
    a->open_for_us = col_dur(st, i++);
    a->close_reason = col_str(st, i++);
    a->close_by = col_enum(st, i++, by_name, EVT_BY_TIMEOUT);
    a->close_transport = col_enum(st, i++, transport_name, EVT_TR_RESET);
    a->rtt_samples = col_dur(st, i++);
    if (a->rtt_samples == HIST_NULL)
        a->rtt_samples = 0;
    a->rtt_min_us = col_dur(st, i++);
    a->rtt_median_us = col_dur(st, i++);
    a->rtt_max_us = col_dur(st, i++);
    a->msgs_in = col_dur(st, i++);
    a->msgs_out = col_dur(st, i++);
    a->bytes_in = col_dur(st, i++);
    a->bytes_out = col_dur(st, i++);
    if (sqlite3_column_type(st, i) != SQLITE_NULL) {
        a->first_msg.s = sqlite3_column_blob(st, i);
        a->first_msg.n = (size_t)sqlite3_column_bytes(st, i);
        if (!a->first_msg.s)
            a->first_msg.s = "";
    }
    i++;
    a->verdict = col_str(st, i++);
    a->hint = col_str(st, i++);
    if (a->msgs_in == HIST_NULL)
        a->msgs_in = 0;
    if (a->msgs_out == HIST_NULL)
        a->msgs_out = 0;
    if (a->bytes_in == HIST_NULL)
        a->bytes_in = 0;
    if (a->bytes_out == HIST_NULL)
        a->bytes_out = 0;
}

int hist_attempts(struct hist *h, const struct hist_filter *f, hist_attempt_fn fn, void *ud)
{
    sqlite3_stmt *st = NULL;
    struct ctx c;
    int rc;

    if (!h || !f || !fn)
        return -EINVAL;
    filter_class(h, f, &rc);
    if (rc)
        return rc;
    if ((rc = begin(h)) != SQLITE_OK)
        return fail_rc(h, rc);
    rc = ctx_load(&c, h, f);
    if (rc == 0 && f->endpoint)
        rc = prep(h,
                  "SELECT " ATT_VIEW_COLS " FROM attempts a INDEXED BY attempts_ep_time "
                  "JOIN endpoints e ON e.id = a.endpoint_id WHERE a.endpoint_id = ?4 AND "
                  "a.started_us >= ?1 AND a.started_us < ?2 AND (?3 IS NULL OR a.class = ?3) "
                  "ORDER BY a.started_us, a.id",
                  &st) == SQLITE_OK
                 ? 0
                 : -EIO;
    else if (rc == 0)
        rc = prep(h,
                  "SELECT " ATT_VIEW_COLS " FROM attempts a INDEXED BY attempts_time "
                  "JOIN endpoints e ON e.id = a.endpoint_id WHERE "
                  "a.started_us >= ?1 AND a.started_us < ?2 AND (?3 IS NULL OR a.class = ?3) "
                  "ORDER BY a.started_us, a.id",
                  &st) == SQLITE_OK
                 ? 0
                 : -EIO;
    if (rc == 0) {
        int s;
        sqlite3_bind_int64(st, 1, f->since_us);
        sqlite3_bind_int64(st, 2, f->until_us);
        if (f->cls)
            sqlite3_bind_text(st, 3, f->cls, -1, SQLITE_STATIC);
        if (f->endpoint)
            sqlite3_bind_int64(st, 4, c.eps[0].id);
        while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) {
            struct hist_attempt a;
            att_read(st, &a);
            rc = fn(ud, &a);
        }
        if (rc == 0 && s != SQLITE_DONE)
            rc = fail_rc(h, s);
    }
    sqlite3_finalize(st);
    ctx_free(&c);
    end(h);
    return rc;
}

int hist_outage_attempts(struct hist *h, const char *endpoint, int64_t start_us, int64_t end_us,
                         hist_attempt_fn fn, void *ud)
{
    struct hist_filter f = {HIST_ALL_BEFORE, HIST_ALL_AFTER, endpoint, NULL};
    sqlite3_stmt *st = NULL;
    struct ctx c;
    int rc, s = SQLITE_DONE;

    if (!h || !endpoint || !fn)
        return -EINVAL;
    if ((rc = begin(h)) != SQLITE_OK)
        return fail_rc(h, rc);
    rc = ctx_load(&c, h, &f);
    if (rc == 0 &&
        prep(h,
             "SELECT " ATT_VIEW_COLS " FROM attempts a JOIN endpoints e ON e.id = a.endpoint_id "
             "WHERE a.id IN (SELECT id FROM attempts INDEXED BY attempts_ep_time "
             "WHERE endpoint_id = ?1 AND started_us >= ?2 AND started_us <= ?3 "
             "UNION ALL SELECT id FROM attempts INDEXED BY attempts_ep_openend "
             "WHERE endpoint_id = ?1 AND opened_us IS NOT NULL AND ended_us >= ?2 "
             "AND ended_us <= ?3 AND started_us < ?2) ORDER BY a.started_us, a.id",
             &st) != SQLITE_OK)
        rc = -EIO;
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, c.eps[0].id);
        sqlite3_bind_int64(st, 2, start_us);
        sqlite3_bind_int64(st, 3, end_us);
        while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) {
            struct hist_attempt a;
            att_read(st, &a);
            rc = fn(ud, &a);
        }
        if (rc == 0 && s != SQLITE_DONE)
            rc = fail_rc(h, s);
    }
    sqlite3_finalize(st);
    ctx_free(&c);
    end(h);
    return rc;
}

int hist_events(struct hist *h, const struct hist_filter *f, hist_event_fn fn, void *ud)
{
    sqlite3_stmt *st = NULL;
    struct ctx c;
    int rc, s;

    if (!h || !f || !fn)
        return -EINVAL;
    filter_class(h, f, &rc);
    if (rc)
        return rc;
    if ((rc = begin(h)) != SQLITE_OK)
        return fail_rc(h, rc);
    rc = ctx_load(&c, h, f);
    /* with --endpoint: its events and the global markers around them */
    if (rc == 0 &&
        prep(h,
             "SELECT v.t_us, e.name, v.kind, v.text FROM events v INDEXED BY events_time "
             "LEFT JOIN endpoints e ON e.id = v.endpoint_id WHERE v.t_us >= ?1 AND v.t_us < ?2 "
             "AND (?3 IS NULL OR v.endpoint_id = ?3 OR v.endpoint_id IS NULL) "
             "AND (?4 IS NULL OR v.class = ?4) ORDER BY v.t_us, v.id",
             &st) != SQLITE_OK)
        rc = -EIO;
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, f->since_us);
        sqlite3_bind_int64(st, 2, f->until_us);
        if (f->endpoint)
            sqlite3_bind_int64(st, 3, c.eps[0].id);
        if (f->cls)
            sqlite3_bind_text(st, 4, f->cls, -1, SQLITE_STATIC);
        while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) {
            struct hist_event ev;
            ev.t_us = sqlite3_column_int64(st, 0);
            ev.endpoint = col_str(st, 1);
            ev.kind = col_str(st, 2);
            ev.text = col_str(st, 3);
            if (!ev.kind.s)
                ev.kind = (struct hist_str){"?", 1};
            if (!ev.text.s)
                ev.text = (struct hist_str){"", 0};
            rc = fn(ud, &ev);
        }
        if (rc == 0 && s != SQLITE_DONE)
            rc = fail_rc(h, s);
    }
    sqlite3_finalize(st);
    ctx_free(&c);
    end(h);
    return rc;
}

int hist_markers(struct hist *h, const struct hist_filter *f, hist_marker_fn fn, void *ud)
{
    sqlite3_stmt *st = NULL;
    struct ctx c;
    int rc, s;

    if (!h || !f || !fn)
        return -EINVAL;
    if ((rc = begin(h)) != SQLITE_OK)
        return fail_rc(h, rc);
    rc = ctx_load(&c, h, f);
    if (rc == 0 &&
        prep(h,
             "SELECT m.t_us, e.name, m.text FROM markers m INDEXED BY markers_time "
             "LEFT JOIN endpoints e ON e.id = m.endpoint_id WHERE m.t_us >= ?1 AND m.t_us < ?2 "
             "AND (?3 IS NULL OR m.endpoint_id = ?3 OR m.endpoint_id IS NULL) "
             "ORDER BY m.t_us, m.id",
             &st) != SQLITE_OK)
        rc = -EIO;
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, f->since_us);
        sqlite3_bind_int64(st, 2, f->until_us);
        if (f->endpoint)
            sqlite3_bind_int64(st, 3, c.eps[0].id);
        while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) {
            struct hist_marker m;
            m.t_us = sqlite3_column_int64(st, 0);
            m.endpoint = col_str(st, 1);
            m.text = col_str(st, 2);
            if (!m.text.s)
                m.text = (struct hist_str){"", 0};
            rc = fn(ud, &m);
        }
        if (rc == 0 && s != SQLITE_DONE)
            rc = fail_rc(h, s);
    }
    sqlite3_finalize(st);
    ctx_free(&c);
    end(h);
    return rc;
}

/* ---- replay ------------------------------------------------------------------------------ */

/* The text fields of an attempt, copied from the file (capped to their event fields). */
enum rp_str {
    RS_DNS_ADDR,
    RS_REMOTE,
    RS_LOCAL,
    RS_TLS_VERSION,
    RS_TLS_CIPHER,
    RS_TLS_ALPN,
    RS_TLS_SUBJECT,
    RS_TLS_ISSUER,
    RS_TLS_SANS,
    RS_HTTP_SERVER,
    RS_HTTP_UPGRADE,
    RS_HTTP_CONNECTION,
    RS_HTTP_LOCATION,
    RS_HTTP_BACKEND,
    RS_HTTP_STICKY,
    RS_HTTP_COOKIES,
    RS_CLOSE_REASON,
    RS_DETAIL,
    RS_COUNT
};

#define RP_PRE_MAX    8 /* ATTEMPT DNS TCP TLS REQUEST RESPONSE OPEN */
#define RP_PINGS_MAX  8 /* unanswered pings replayed at the end of an attempt */
#define RP_POST_MAX   (RP_PINGS_MAX + 2)
#define RP_MARGIN_US  (600 * INT64_C(1000000))  /* a handshake running at since began after this */
#define RP_SPREAD_MAX (INT64_C(10000000000000)) /* ~115 days: spreads longer are cut */
#define RP_NO_TIME    INT64_MAX
/* Times from the file are brought into [0, 2^53] (1970 to year 287,000) and durations into
 * [0, 2^50]: the model and the dashboard subtract and add them without overflowing. */
#define RP_T_MAX (INT64_C(1) << 53)
#define RP_D_MAX (INT64_C(1) << 50)

struct rp_att {
    int64_t id, run_id;
    uint32_t ep, slot, conn_db, seq;
    int64_t started, opened, ended, run_start, run_end; /* HIST_NULL when not */
    int64_t dns_us, tcp_us, tls_us, upgrade_us, open_us, first_message_us;
    bool is_tls, have_tls, have_http, tls_insecure, first_binary, expect_seen;
    int64_t tls_not_after_s;
    int tls_verify, tls_verify_code, http_status, http_accept_ok;
    int close_code, close_by, close_transport, close_frame, sys_errno;
    enum evt_cause cause;
    int64_t pings, pongs, msgs_in, msgs_out, bytes_in, bytes_out;
    char *str[RS_COUNT];
    unsigned char first[EVT_FIRST_MAX];
    uint32_t first_len;
    bool has_first;

    /* the schedule */
    int64_t pre_t[RP_PRE_MAX];
    uint8_t pre_k[RP_PRE_MAX];
    uint8_t n_pre;
    int64_t t_open, t_first, t_last, t_end;
    uint32_t n_in, n_out;
    uint8_t post_k[RP_POST_MAX];
    uint8_t n_post;

    /* iteration */
    uint8_t ip, iq;
    uint32_t k_in, k_out;
};

struct rp_rtt {
    int64_t t;
    uint32_t ep, conn_db, rtt_us;
};

struct rp_misc {
    int64_t t;
    uint32_t ep; /* EVT_EP_NONE for a global marker */
    enum evt_kind kind;
    int status;
    uint32_t latency_us;
    size_t order;
    char text[EVT_MARK_MAX];
};

struct rp_ep {
    int64_t db_id;
    char *name, *url, *grp, *via;
    uint32_t n_slots, slot_base;
    bool pings, health;
};

struct rp_slot {
    int64_t att; /* the attempt running on it (index), -1 none */
    bool open;
};

struct hist_replay {
    int64_t since, until;
    struct rp_ep *eps;
    size_t n_eps;
    struct rp_att *att;
    size_t n_att;
    struct rp_rtt *rtt;
    size_t n_rtt;
    struct rp_misc *misc;
    size_t n_misc;
    struct hist_replay_stats st;

    /* iteration */
    uint32_t *heap; /* attempts with events left, by their next event */
    size_t n_heap;
    size_t ri, mi;
    struct rp_slot *slots;
    size_t n_slots;
    bool have_pending;
    struct evt pending; /* the PONG after the PING just returned */
};

static int64_t rp_t(int64_t t)
{
    if (t == HIST_NULL)
        return t;
    return t < 0 ? 0 : t > RP_T_MAX ? RP_T_MAX : t;
}

static int64_t rp_d(int64_t d)
{
    return d == HIST_NULL || d <= RP_D_MAX ? d : RP_D_MAX;
}

static int64_t rp_add(int64_t t, int64_t d)
{
    if (d == HIST_NULL)
        return t;
    return sat_add(t, d);
}

static char *rp_dup(sqlite3_stmt *st, int i, size_t cap)
{
    struct hist_str s = col_str(st, i);
    size_t n;

    if (!s.s)
        return NULL;
    n = strnlen(s.s, s.n);
    return xstrndup(s.s, n < cap ? n : cap - 1);
}

/* An enum column by name (1..max), or 0. */
static int rp_enum(sqlite3_stmt *st, int i, const char *(*name)(int), int max)
{
    int v = col_enum(st, i, name, max);

    return v < 0 ? 0 : v;
}

#define RP_COLS                                                                                    \
    "a.id, a.run_id, a.conn, a.seq, a.started_us, a.opened_us, a.ended_us, a.is_tls, a.dns_us, "   \
    "a.tcp_us, a.tls_us, a.upgrade_us, a.open_us, a.first_message_us, a.dns_addr, a.remote, "      \
    "a.local, a.have_tls, a.tls_version, a.tls_cipher, a.tls_alpn, a.tls_subject, a.tls_issuer, "  \
    "a.tls_sans, a.tls_not_after_s, a.tls_verify, a.tls_verify_code, a.tls_insecure, "             \
    "a.have_http, a.http_status, a.http_server, a.http_upgrade, a.http_connection, "               \
    "a.http_accept_ok, a.http_location, a.http_backend, a.http_sticky, a.http_cookies, "           \
    "a.close_code, a.close_reason, a.close_by, a.close_frame, a.close_transport, a.sys_errno, "    \
    "a.detail, a.cause, a.pings, a.pongs, a.msgs_in, a.msgs_out, a.bytes_in, a.bytes_out, "        \
    "a.first_msg, a.first_binary, a.expect_seen, r.started_us, coalesce(r.ended_us, r.last_us)"

static int64_t col_count(sqlite3_stmt *st, int i)
{
    int64_t v = col_i64(st, i);

    return v == HIST_NULL || v < 0 ? 0 : v;
}

static void rp_read(sqlite3_stmt *st, struct rp_att *a)
{
    int i = 0;
    int64_t v;

    memset(a, 0, sizeof(*a));
    a->id = sqlite3_column_int64(st, i++);
    a->run_id = sqlite3_column_int64(st, i++);
    a->conn_db = (uint32_t)col_int(st, i++, 0, INT_MAX, 0);
    v = col_i64(st, i++);
    a->seq = v == HIST_NULL || v < 1 || v > UINT32_MAX ? 1 : (uint32_t)v;
    a->started = sqlite3_column_int64(st, i++);
    a->opened = col_i64(st, i++);
    a->ended = col_i64(st, i++);
    a->is_tls = sqlite3_column_int64(st, i++) != 0;
    a->dns_us = col_dur(st, i++);
    a->tcp_us = col_dur(st, i++);
    a->tls_us = col_dur(st, i++);
    a->upgrade_us = col_dur(st, i++);
    a->open_us = col_dur(st, i++);
    a->first_message_us = col_dur(st, i++);
    a->str[RS_DNS_ADDR] = rp_dup(st, i++, EVT_ADDR_MAX);
    a->str[RS_REMOTE] = rp_dup(st, i++, EVT_ADDR_MAX);
    a->str[RS_LOCAL] = rp_dup(st, i++, EVT_ADDR_MAX);
    a->have_tls = sqlite3_column_int64(st, i++) != 0;
    a->str[RS_TLS_VERSION] = rp_dup(st, i++, 16);
    a->str[RS_TLS_CIPHER] = rp_dup(st, i++, 64);
    a->str[RS_TLS_ALPN] = rp_dup(st, i++, 16);
    a->str[RS_TLS_SUBJECT] = rp_dup(st, i++, EVT_NAME_MAX);
    a->str[RS_TLS_ISSUER] = rp_dup(st, i++, EVT_NAME_MAX);
    a->str[RS_TLS_SANS] = rp_dup(st, i++, EVT_NAME_MAX);
    a->tls_not_after_s = col_i64(st, i++);
    if (a->tls_not_after_s == HIST_NULL)
        a->tls_not_after_s = 0;
    a->tls_verify = rp_enum(st, i++, verify_name, EVT_VERIFY_OTHER);
    a->tls_verify_code = col_int(st, i++, INT_MIN, INT_MAX, 0);
    a->tls_insecure = sqlite3_column_int64(st, i++) != 0;
    a->have_http = sqlite3_column_int64(st, i++) != 0;
    a->http_status = col_int(st, i++, 0, 999, 0);
    a->str[RS_HTTP_SERVER] = rp_dup(st, i++, EVT_HDR_MAX);
    a->str[RS_HTTP_UPGRADE] = rp_dup(st, i++, EVT_HDR_MAX);
    a->str[RS_HTTP_CONNECTION] = rp_dup(st, i++, EVT_HDR_MAX);
    v = col_i64(st, i++);
    a->http_accept_ok = v == HIST_NULL ? -1 : v != 0;
    a->str[RS_HTTP_LOCATION] = rp_dup(st, i++, EVT_HDR_MAX);
    a->str[RS_HTTP_BACKEND] = rp_dup(st, i++, EVT_HDR_MAX);
    a->str[RS_HTTP_STICKY] = rp_dup(st, i++, EVT_STICKY_MAX);
    a->str[RS_HTTP_COOKIES] = rp_dup(st, i++, EVT_COOKIES_MAX * EVT_COOKIE_NAME_MAX);
    a->close_code = col_int(st, i++, 0, 65535, 0);
    a->str[RS_CLOSE_REASON] = rp_dup(st, i++, EVT_REASON_MAX);
    a->close_by = rp_enum(st, i++, by_name, EVT_BY_TIMEOUT);
    v = col_i64(st, i++);
    a->close_frame = v == HIST_NULL ? -1 : v != 0;
    a->close_transport = rp_enum(st, i++, transport_name, EVT_TR_RESET);
    a->sys_errno = col_int(st, i++, 0, INT_MAX, 0);
    a->str[RS_DETAIL] = rp_dup(st, i++, EVT_NAME_MAX);
    a->cause = col_cause(st, i++);
    a->pings = col_count(st, i++);
    a->pongs = col_count(st, i++);
    a->msgs_in = col_count(st, i++);
    a->msgs_out = col_count(st, i++);
    a->bytes_in = col_count(st, i++);
    a->bytes_out = col_count(st, i++);
    if (sqlite3_column_type(st, i) != SQLITE_NULL) {
        const void *b = sqlite3_column_blob(st, i);
        int n = sqlite3_column_bytes(st, i);

        a->first_len = n > 0 ? (uint32_t)(n < EVT_FIRST_MAX ? n : EVT_FIRST_MAX) : 0;
        if (b && a->first_len)
            memcpy(a->first, b, a->first_len);
        a->has_first = true;
    }
    i++;
    a->first_binary = sqlite3_column_int64(st, i++) != 0;
    a->expect_seen = sqlite3_column_int64(st, i++) != 0;
    a->run_start = col_i64(st, i++);
    a->run_end = col_i64(st, i++);
    /* times from the file may be anything: a range and an order that events can have */
    a->started = rp_t(a->started);
    a->opened = rp_t(a->opened);
    a->ended = rp_t(a->ended);
    a->run_start = rp_t(a->run_start);
    a->run_end = rp_t(a->run_end);
    a->dns_us = rp_d(a->dns_us);
    a->tcp_us = rp_d(a->tcp_us);
    a->tls_us = rp_d(a->tls_us);
    a->upgrade_us = rp_d(a->upgrade_us);
    a->open_us = rp_d(a->open_us);
    a->first_message_us = rp_d(a->first_message_us);
    if (a->opened != HIST_NULL && a->opened < a->started)
        a->opened = a->started;
    if (a->ended != HIST_NULL && a->ended < a->started)
        a->ended = a->started;
    if (a->ended != HIST_NULL && a->opened != HIST_NULL && a->ended < a->opened)
        a->ended = a->opened;
}

static void rp_att_free(struct rp_att *a)
{
    for (int i = 0; i < RS_COUNT; i++)
        free(a->str[i]);
}

static void rp_pre(struct rp_att *a, enum evt_kind k, int64_t t)
{
    if (a->n_pre >= RP_PRE_MAX)
        return;
    if (a->n_pre > 0 && t < a->pre_t[a->n_pre - 1])
        t = a->pre_t[a->n_pre - 1];
    a->pre_t[a->n_pre] = t;
    a->pre_k[a->n_pre++] = (uint8_t)k;
}

static uint32_t rp_cap(int64_t n, struct hist_replay_stats *st, bool *capped)
{
    if (n > HIST_REPLAY_MSGS_MAX) {
        *capped = true;
        return HIST_REPLAY_MSGS_MAX;
    }
    st->msgs += (uint64_t)n;
    return (uint32_t)n;
}

/* When each event of the attempt happens. The phases are placed from their stored durations,
 * so the model derives the same durations again; messages, known only as counters, are spread
 * evenly over the time the attempt was open. */
static void rp_plan(struct rp_att *a, struct hist_replay_stats *st)
{
    int64_t t0 = a->started, t_dns = HIST_NULL, t_tcp = HIST_NULL, t_tls = HIST_NULL, base;
    bool capped = false;

    a->t_open = a->t_end = HIST_NULL;
    rp_pre(a, EVT_ATTEMPT, t0);
    base = t0;
    if (a->dns_us != HIST_NULL) {
        t_dns = rp_add(t0, a->dns_us);
        rp_pre(a, EVT_DNS, t_dns);
        base = t_dns;
    }
    if (a->tcp_us != HIST_NULL) {
        t_tcp = rp_add(t_dns != HIST_NULL ? t_dns : t0, a->tcp_us);
        rp_pre(a, EVT_TCP, t_tcp);
        base = t_tcp;
    }
    if (a->have_tls) {
        t_tls = t_tcp != HIST_NULL ? rp_add(t_tcp, a->tls_us) : base;
        rp_pre(a, EVT_TLS, t_tls);
        base = t_tls;
    }
    if (a->opened != HIST_NULL)
        a->t_open = a->open_us != HIST_NULL ? rp_add(t0, a->open_us) : a->opened;
    if (a->have_http) {
        int64_t t_resp = a->upgrade_us != HIST_NULL ? rp_add(base, a->upgrade_us)
                         : a->t_open != HIST_NULL   ? a->t_open
                         : a->ended != HIST_NULL    ? a->ended
                                                    : base;
        rp_pre(a, EVT_REQUEST, base);
        rp_pre(a, EVT_RESPONSE, t_resp);
    } else if (a->cause == EVT_CAUSE_HANDSHAKE_TIMEOUT && t_tcp != HIST_NULL) {
        rp_pre(a, EVT_REQUEST, base); /* written, never answered */
    }
    if (a->t_open != HIST_NULL) {
        rp_pre(a, EVT_OPEN, a->t_open);
        a->t_open = a->pre_t[a->n_pre - 1];
        /* until the end, or while the recorder ran (the counters are its last snapshot) */
        a->t_last = a->ended != HIST_NULL     ? a->ended
                    : a->run_end != HIST_NULL ? a->run_end
                                              : a->t_open;
        if (a->t_last < a->t_open)
            a->t_last = a->t_open;
        if (a->t_last - a->t_open > RP_SPREAD_MAX)
            a->t_last = a->t_open + RP_SPREAD_MAX;
        a->t_first = a->first_message_us != HIST_NULL ? rp_add(t0, a->first_message_us) : a->t_open;
        if (a->t_first < a->t_open)
            a->t_first = a->t_open;
        if (a->t_first > a->t_last)
            a->t_first = a->t_last;
        a->n_in = rp_cap(a->msgs_in, st, &capped);
        a->n_out = rp_cap(a->msgs_out, st, &capped);
        st->msgs_capped += capped;
    }
    if (a->ended != HIST_NULL) {
        int64_t last = a->pre_t[a->n_pre - 1];

        a->t_end = a->ended < last ? last : a->ended;
        if (a->t_open != HIST_NULL && a->t_end < a->t_last)
            a->t_end = a->t_last;
        if (a->t_open != HIST_NULL) {
            int64_t lost = a->pings - a->pongs;

            for (int64_t k = 0; k < lost && k < RP_PINGS_MAX; k++)
                a->post_k[a->n_post++] = EVT_PING;
            if (a->close_frame == 1 || a->close_by == EVT_BY_CLIENT)
                a->post_k[a->n_post++] = EVT_CLOSING;
        }
        a->post_k[a->n_post++] = EVT_CLOSED;
    }
}

static int64_t rp_in_t(const struct rp_att *a, uint32_t k)
{
    if (k == 0)
        return a->t_first;
    return a->t_first + (a->t_last - a->t_first) * (int64_t)k / (int64_t)a->n_in;
}

static int64_t rp_out_t(const struct rp_att *a, uint32_t k)
{
    return a->t_open + (a->t_last - a->t_open) * (int64_t)k / (int64_t)a->n_out;
}

/* The next event of an attempt: its time and kind (and for a message, which); RP_NO_TIME
 * when it has none left. */
static int64_t rp_att_peek(const struct rp_att *a, enum evt_kind *k, bool *in)
{
    if (a->ip < a->n_pre) {
        *k = (enum evt_kind)a->pre_k[a->ip];
        return a->pre_t[a->ip];
    }
    if (a->k_in < a->n_in || a->k_out < a->n_out) {
        int64_t ti = a->k_in < a->n_in ? rp_in_t(a, a->k_in) : RP_NO_TIME;
        int64_t to = a->k_out < a->n_out ? rp_out_t(a, a->k_out) : RP_NO_TIME;

        *k = EVT_MSG;
        *in = ti <= to;
        return *in ? ti : to;
    }
    if (a->iq < a->n_post) {
        *k = (enum evt_kind)a->post_k[a->iq];
        return a->t_end;
    }
    return RP_NO_TIME;
}

/* Ordering of the candidates at one instant: an attempt's start and handshake first, then the
 * samples, then its end, then health and markers. */
static int rp_rank(enum evt_kind k)
{
    return k == EVT_CLOSED || k == EVT_CLOSING || k == EVT_PING ? 2 : 0;
}

static bool heap_less(const struct hist_replay *r, uint32_t x, uint32_t y)
{
    enum evt_kind kx = EVT_ATTEMPT, ky = EVT_ATTEMPT;
    bool in;
    int64_t tx = rp_att_peek(&r->att[x], &kx, &in), ty = rp_att_peek(&r->att[y], &ky, &in);

    if (tx != ty)
        return tx < ty;
    if (rp_rank(kx) != rp_rank(ky))
        return rp_rank(kx) < rp_rank(ky);
    return x < y;
}

static void heap_down(struct hist_replay *r, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        uint32_t t;

        if (l < r->n_heap && heap_less(r, r->heap[l], r->heap[m]))
            m = l;
        if (l + 1 < r->n_heap && heap_less(r, r->heap[l + 1], r->heap[m]))
            m = l + 1;
        if (m == i)
            return;
        t = r->heap[i];
        r->heap[i] = r->heap[m];
        r->heap[m] = t;
        i = m;
    }
}

void hist_replay_rewind(struct hist_replay *r)
{
    if (!r)
        return;
    r->n_heap = 0;
    for (size_t i = 0; i < r->n_att; i++) {
        struct rp_att *a = &r->att[i];

        a->ip = a->iq = 0;
        a->k_in = a->k_out = 0;
        r->heap[r->n_heap++] = (uint32_t)i;
    }
    for (size_t i = r->n_heap / 2; i-- > 0;)
        heap_down(r, i);
    for (size_t i = 0; i < r->n_slots; i++)
        r->slots[i] = (struct rp_slot){-1, false};
    r->ri = r->mi = 0;
    r->have_pending = false;
}

static void cp_str(char *dst, size_t cap, const char *src)
{
    xstrlcpy(dst, src ? src : "", cap);
}

/* The event of attempt a's next step; advances it. */
static void rp_att_event(struct hist_replay *r, struct rp_att *a, struct evt *e)
{
    enum evt_kind k = EVT_ATTEMPT;
    bool in = false;
    int64_t t = rp_att_peek(a, &k, &in);
    struct rp_slot *sl = &r->slots[r->eps[a->ep].slot_base + a->slot];

    memset(e, 0, sizeof(*e));
    e->kind = k;
    e->ep = a->ep;
    e->conn = a->slot;
    e->attempt = a->seq;
    e->t_mono_us = e->t_wall_us = t;
    if (a->ip < a->n_pre)
        a->ip++;
    else if (k == EVT_MSG && in)
        a->k_in++;
    else if (k == EVT_MSG)
        a->k_out++;
    else
        a->iq++;

    switch (k) {
    case EVT_ATTEMPT:
        e->u.attempt.tls = a->is_tls;
        sl->att = a - r->att;
        sl->open = false;
        break;
    case EVT_DNS:
        cp_str(e->u.dns.addr, sizeof(e->u.dns.addr), a->str[RS_DNS_ADDR]);
        e->u.dns.n_addrs = e->u.dns.addr[0] ? 1 : 0;
        break;
    case EVT_TCP:
        cp_str(e->u.tcp.remote, sizeof(e->u.tcp.remote), a->str[RS_REMOTE]);
        cp_str(e->u.tcp.local, sizeof(e->u.tcp.local), a->str[RS_LOCAL]);
        break;
    case EVT_TLS: {
        struct evt_tls *x = &e->u.tls;

        cp_str(x->version, sizeof(x->version), a->str[RS_TLS_VERSION]);
        cp_str(x->cipher, sizeof(x->cipher), a->str[RS_TLS_CIPHER]);
        cp_str(x->alpn, sizeof(x->alpn), a->str[RS_TLS_ALPN]);
        cp_str(x->subject, sizeof(x->subject), a->str[RS_TLS_SUBJECT]);
        cp_str(x->issuer, sizeof(x->issuer), a->str[RS_TLS_ISSUER]);
        cp_str(x->sans, sizeof(x->sans), a->str[RS_TLS_SANS]);
        x->not_after_s = a->tls_not_after_s;
        x->verify = (enum evt_verify)a->tls_verify;
        x->verify_code = a->tls_verify_code;
        x->insecure = a->tls_insecure;
        break;
    }
    case EVT_RESPONSE: {
        struct evt_http *x = &e->u.http;
        const char *c = a->str[RS_HTTP_COOKIES];

        x->status = a->http_status;
        x->accept_ok = a->http_accept_ok;
        cp_str(x->server, sizeof(x->server), a->str[RS_HTTP_SERVER]);
        cp_str(x->upgrade, sizeof(x->upgrade), a->str[RS_HTTP_UPGRADE]);
        cp_str(x->connection, sizeof(x->connection), a->str[RS_HTTP_CONNECTION]);
        cp_str(x->location, sizeof(x->location), a->str[RS_HTTP_LOCATION]);
        cp_str(x->backend, sizeof(x->backend), a->str[RS_HTTP_BACKEND]);
        cp_str(x->sticky, sizeof(x->sticky), a->str[RS_HTTP_STICKY]);
        /* "a;b;c": the Set-Cookie names */
        while (c && *c && x->n_cookies < EVT_COOKIES_MAX) {
            size_t n = strcspn(c, ";");

            if (n > 0) {
                size_t m = n < EVT_COOKIE_NAME_MAX ? n : EVT_COOKIE_NAME_MAX - 1;
                memcpy(x->cookies[x->n_cookies], c, m);
                x->cookies[x->n_cookies++][m] = '\0';
            }
            c += n;
            if (*c == ';')
                c++;
        }
        break;
    }
    case EVT_OPEN:
        sl->open = true;
        break;
    case EVT_MSG:
        e->u.msg.out = !in;
        if (in) {
            uint64_t n = a->n_in, each = (uint64_t)a->bytes_in / n;
            bool first = a->k_in == 1;

            e->u.msg.len = each + (first ? (uint64_t)a->bytes_in % n : 0);
            e->u.msg.binary = a->first_binary;
            if (first && a->has_first) {
                memcpy(e->u.msg.first, a->first, a->first_len);
                e->u.msg.first_len = a->first_len;
                e->u.msg.matched = a->expect_seen;
            }
        } else {
            uint64_t n = a->n_out, each = (uint64_t)a->bytes_out / n;

            e->u.msg.len = each + (a->k_out == 1 ? (uint64_t)a->bytes_out % n : 0);
        }
        break;
    case EVT_CLOSING:
        e->u.closing.by_us = a->close_by == EVT_BY_CLIENT;
        break;
    case EVT_CLOSED:
        e->u.closed.cause = a->cause;
        e->u.closed.by = (enum evt_by)a->close_by;
        e->u.closed.transport = (enum evt_transport)a->close_transport;
        e->u.closed.code = a->close_code;
        e->u.closed.frame = a->close_frame == 1;
        e->u.closed.frame_unknown = a->close_frame < 0 && a->close_code != 0;
        cp_str(e->u.closed.reason, sizeof(e->u.closed.reason), a->str[RS_CLOSE_REASON]);
        e->u.closed.sys_errno = a->sys_errno;
        cp_str(e->u.closed.detail, sizeof(e->u.closed.detail), a->str[RS_DETAIL]);
        sl->open = false;
        break;
    default:
        break;
    }
}

/* The slot whose running attempt holds stored connection conn of ep, open; NULL if none. */
static const struct rp_att *rp_rtt_owner(const struct hist_replay *r, const struct rp_rtt *x)
{
    const struct rp_ep *e = &r->eps[x->ep];

    for (uint32_t s = 0; s < e->n_slots; s++) {
        const struct rp_slot *sl = &r->slots[e->slot_base + s];

        if (sl->att >= 0 && sl->open && r->att[sl->att].conn_db == x->conn_db)
            return &r->att[sl->att];
    }
    return NULL;
}

/* Which source has the next event: 0 attempts, 1 samples, 2 health and markers, -1 none. Samples
 * no open attempt can take are dropped on the way. */
static int rp_pick(struct hist_replay *r, int64_t *t_out)
{
    int64_t ta = RP_NO_TIME, tr, tm;
    int rank = 0, best = -1;

    for (;;) {
        tr = r->ri < r->n_rtt ? r->rtt[r->ri].t : RP_NO_TIME;
        if (tr == RP_NO_TIME || rp_rtt_owner(r, &r->rtt[r->ri]))
            break;
        /* a sample whose attempt is not open (yet): it comes before the attempt's open, or
         * after a later one started; the model would refuse it */
        if (r->n_heap) {
            enum evt_kind k;
            bool in;
            int64_t t = rp_att_peek(&r->att[r->heap[0]], &k, &in);
            if (t < tr || (t == tr && rp_rank(k) == 0))
                break; /* attempts first: the sample may have an owner then */
        }
        r->ri++;
    }
    if (r->n_heap) {
        enum evt_kind k;
        bool in;

        ta = rp_att_peek(&r->att[r->heap[0]], &k, &in);
        rank = rp_rank(k);
        best = 0;
    }
    tm = r->mi < r->n_misc ? r->misc[r->mi].t : RP_NO_TIME;
    if (tr != RP_NO_TIME && (best < 0 || tr < ta || (tr == ta && rank > 0))) {
        best = 1;
        ta = tr;
    }
    if (tm != RP_NO_TIME && (best < 0 || tm < ta)) {
        best = 2;
        ta = tm;
    }
    *t_out = ta;
    return best;
}

int64_t hist_replay_peek(struct hist_replay *r)
{
    int64_t t;

    if (!r)
        return RP_NO_TIME;
    if (r->have_pending)
        return r->pending.t_mono_us;
    /* rp_pick drops the samples nobody can take on the way */
    if (rp_pick(r, &t) < 0 || t >= r->until)
        return RP_NO_TIME;
    return t;
}

bool hist_replay_next(struct hist_replay *r, struct evt *out)
{
    int64_t t;
    int src;

    if (!r)
        return false;
    if (r->have_pending) {
        *out = r->pending;
        r->have_pending = false;
        return true;
    }
    src = rp_pick(r, &t);
    if (src < 0 || t >= r->until)
        return false;
    if (src == 0) {
        struct rp_att *a = &r->att[r->heap[0]];

        enum evt_kind k;
        bool in;

        rp_att_event(r, a, out);
        if (rp_att_peek(a, &k, &in) == RP_NO_TIME)
            r->heap[0] = r->heap[--r->n_heap];
        heap_down(r, 0);
        return true;
    }
    if (src == 1) {
        const struct rp_rtt *x = &r->rtt[r->ri++];
        const struct rp_att *a = rp_rtt_owner(r, x);
        int64_t tp = x->t - x->rtt_us;

        memset(out, 0, sizeof(*out));
        out->kind = EVT_PING;
        out->ep = a->ep;
        out->conn = a->slot;
        out->attempt = a->seq;
        if (tp < a->t_open)
            tp = a->t_open;
        out->t_mono_us = out->t_wall_us = tp;
        r->pending = *out;
        r->pending.kind = EVT_PONG;
        r->pending.t_mono_us = r->pending.t_wall_us = x->t;
        r->pending.u.pong.rtt_us = x->rtt_us;
        r->have_pending = true;
        return true;
    }
    {
        const struct rp_misc *m = &r->misc[r->mi++];

        memset(out, 0, sizeof(*out));
        out->kind = m->kind;
        out->ep = m->ep;
        out->t_mono_us = out->t_wall_us = m->t;
        if (m->kind == EVT_MARK) {
            cp_str(out->u.mark.text, sizeof(out->u.mark.text), m->text);
        } else {
            out->u.health.status = m->status;
            out->u.health.latency_us = m->latency_us;
            cp_str(out->u.health.error, sizeof(out->u.health.error), m->text);
        }
        return true;
    }
}

/* ---- replay: loading --------------------------------------------------------------------- */

static int cmp_rp_att(const void *x, const void *y)
{
    const struct rp_att *a = x, *b = y;

    if (a->started != b->started)
        return a->started < b->started ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

static int cmp_rp_rtt(const void *x, const void *y)
{
    const struct rp_rtt *a = x, *b = y;

    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    if (a->ep != b->ep)
        return a->ep < b->ep ? -1 : 1;
    return (a->conn_db > b->conn_db) - (a->conn_db < b->conn_db);
}

static int cmp_rp_misc(const void *x, const void *y)
{
    const struct rp_misc *a = x, *b = y;

    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    return (a->order > b->order) - (a->order < b->order);
}

void hist_replay_free(struct hist_replay *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_eps; i++) {
        free(r->eps[i].name);
        free(r->eps[i].url);
        free(r->eps[i].grp);
        free(r->eps[i].via);
    }
    for (size_t i = 0; i < r->n_att; i++)
        rp_att_free(&r->att[i]);
    free(r->eps);
    free(r->att);
    free(r->rtt);
    free(r->misc);
    free(r->heap);
    free(r->slots);
    free(r);
}

void hist_replay_get_stats(const struct hist_replay *r, struct hist_replay_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (r)
        *out = r->st;
}

struct rp_group {
    int64_t run, start, end;
    uint32_t conn, slot;
};

static int cmp_rp_group(const void *x, const void *y)
{
    const struct rp_group *a = x, *b = y;

    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    if (a->run != b->run)
        return a->run < b->run ? -1 : 1;
    return (a->conn > b->conn) - (a->conn < b->conn);
}

/* The model's connections of endpoint ep: the attempts of one recorder run and stored
 * connection share one; a later run takes the same ones again, a run at the same time (two
 * recorders on one file) gets its own. */
static void rp_slots(struct hist_replay *r, uint32_t ep, size_t from, size_t to)
{
    struct rp_group *g = NULL;
    int64_t *slot_end = NULL;
    size_t n = 0;
    uint32_t n_slots = 0;

    for (size_t i = from; i < to; i++) {
        const struct rp_att *a = &r->att[i];
        int64_t end = a->ended != HIST_NULL ? a->ended : a->started;
        size_t k = 0;

        while (k < n && !(g[k].run == a->run_id && g[k].conn == a->conn_db))
            k++;
        if (k == n) {
            if (n % 16 == 0)
                g = xrealloc(g, (n + 16) * sizeof(*g));
            g[n++] = (struct rp_group){a->run_id, a->started, end, a->conn_db, 0};
        }
        if (a->run_start != HIST_NULL && a->run_start < g[k].start)
            g[k].start = a->run_start;
        if (a->started < g[k].start)
            g[k].start = a->started;
        if (a->run_end != HIST_NULL && a->run_end > g[k].end)
            g[k].end = a->run_end;
        if (end > g[k].end)
            g[k].end = end;
    }
    if (n > 1)
        qsort(g, n, sizeof(*g), cmp_rp_group);
    for (size_t k = 0; k < n; k++) {
        uint32_t s = n_slots;

        /* the same index as stored when it is free, else the first free one */
        if (g[k].conn < n_slots && slot_end[g[k].conn] <= g[k].start)
            s = g[k].conn;
        else
            for (uint32_t j = 0; j < n_slots && s == n_slots; j++)
                if (slot_end[j] <= g[k].start)
                    s = j;
        if (s == n_slots) {
            if (n_slots >= CFG_MAX_CONNECTIONS) {
                g[k].slot = UINT32_MAX; /* beyond what a configuration can hold */
                continue;
            }
            slot_end = xrealloc(slot_end, (n_slots + 1) * sizeof(*slot_end));
            slot_end[n_slots++] = INT64_MIN;
        }
        g[k].slot = s;
        if (g[k].end > slot_end[s])
            slot_end[s] = g[k].end;
    }
    for (size_t i = from; i < to; i++) {
        struct rp_att *a = &r->att[i];
        size_t k = 0;

        while (k < n && !(g[k].run == a->run_id && g[k].conn == a->conn_db))
            k++;
        a->slot = k < n ? g[k].slot : UINT32_MAX;
    }
    r->eps[ep].n_slots = n_slots ? n_slots : 1;
    free(g);
    free(slot_end);
}

/* "health check: HTTP 200 in 1.234 ms" / "health check failed: ERROR", as the store wrote it. */
static void rp_health_text(struct rp_misc *m, struct hist_str s)
{
    static const char failed[] = "health check failed: ";
    char buf[256];
    double ms;
    size_t n = s.s ? strnlen(s.s, s.n) : 0;

    if (n >= sizeof(buf))
        n = sizeof(buf) - 1;
    if (n)
        memcpy(buf, s.s, n);
    buf[n] = '\0';
    if (!strncmp(buf, failed, sizeof(failed) - 1)) {
        xstrlcpy(m->text, buf + sizeof(failed) - 1, sizeof(m->text));
        return;
    }
    if (sscanf(buf, "health check: HTTP %*d in %lf ms", &ms) == 1 && ms >= 0 && ms < 4e6)
        m->latency_us = (uint32_t)(ms * 1000.0 + 0.5);
}

static struct rp_misc *rp_misc_add(struct hist_replay *r)
{
    if (r->n_misc % 64 == 0)
        r->misc = xrealloc(r->misc, (r->n_misc + 64) * sizeof(*r->misc));
    memset(&r->misc[r->n_misc], 0, sizeof(r->misc[0]));
    r->misc[r->n_misc].order = r->n_misc;
    return &r->misc[r->n_misc++];
}

static int rp_ep_index(const struct hist_replay *r, int64_t db_id, uint32_t *out)
{
    for (size_t i = 0; i < r->n_eps; i++) {
        if (r->eps[i].db_id == db_id) {
            *out = (uint32_t)i;
            return 0;
        }
    }
    return -ENOENT;
}

/* The RTT samples of endpoint ep from `from` to until, at most cap of them (the newest). */
static int rp_load_rtt(struct hist *h, struct hist_replay *r, sqlite3_stmt *q, sqlite3_stmt *q_n,
                       uint32_t ep, int64_t from, size_t cap)
{
    size_t first = r->n_rtt, got = 0;
    int rc;

    sqlite3_bind_int64(q, 1, r->eps[ep].db_id);
    sqlite3_bind_int64(q, 2, from);
    sqlite3_bind_int64(q, 3, r->until);
    sqlite3_bind_int64(q, 4, (int64_t)cap + 1);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t rtt = col_i64(q, 2);

        if (++got > cap)
            break;
        if (rtt < 0 || rtt > UINT32_MAX)
            continue;
        if (r->n_rtt % 4096 == 0)
            r->rtt = xrealloc(r->rtt, (r->n_rtt + 4096) * sizeof(*r->rtt));
        r->rtt[r->n_rtt++] = (struct rp_rtt){rp_t(sqlite3_column_int64(q, 0)), ep,
                                             (uint32_t)col_int(q, 1, 0, INT_MAX, 0), (uint32_t)rtt};
    }
    sqlite3_reset(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail_rc(h, rc);
    if (got > cap) {
        int64_t all = 0;

        sqlite3_bind_int64(q_n, 1, r->eps[ep].db_id);
        sqlite3_bind_int64(q_n, 2, from);
        sqlite3_bind_int64(q_n, 3, r->until);
        if ((rc = step_i64(q_n, &all)) != SQLITE_OK)
            return fail_rc(h, rc);
        r->st.rtt_dropped += all > (int64_t)cap ? (uint64_t)(all - (int64_t)cap) : 0;
    }
    if (r->n_rtt > first)
        r->eps[ep].pings = true;
    return 0;
}

struct hist_replay *hist_replay_load(struct hist *h, int64_t since, int64_t until, char *err,
                                     size_t errlen)
{
    sqlite3_stmt *q_ep = NULL, *q_att = NULL, *q_rtt = NULL, *q_rtt_n = NULL, *q_mark = NULL,
                 *q_health = NULL;
    struct hist_replay *r;
    int64_t first = since;
    size_t n_slots = 0;
    int rc, s;

    if (err && errlen)
        err[0] = '\0';
    if (!h || until <= since) {
        set_err(err, errlen, "the replay window is empty");
        return NULL;
    }
    if ((rc = begin(h)) != SQLITE_OK) {
        fail_rc(h, rc);
        set_err(err, errlen, "%s", h->err);
        return NULL;
    }
    r = xcalloc(1, sizeof(*r));
    r->since = since;
    r->until = until;
    rc = prep(h, "SELECT id, name, url, grp, via FROM endpoints ORDER BY name, id", &q_ep);
    if (rc == SQLITE_OK)
        rc = prep(h,
                  "SELECT " RP_COLS " FROM attempts a LEFT JOIN runs r ON r.id = a.run_id "
                  "WHERE a.id IN (SELECT id FROM attempts INDEXED BY attempts_ep_time "
                  "WHERE endpoint_id = ?1 AND started_us >= ?2 AND started_us < ?3 "
                  "UNION ALL SELECT id FROM attempts INDEXED BY attempts_ep_openend "
                  "WHERE endpoint_id = ?1 AND opened_us IS NOT NULL AND ended_us >= ?2 "
                  "AND started_us < ?2 "
                  "UNION ALL SELECT id FROM attempts INDEXED BY attempts_ep_openend "
                  "WHERE endpoint_id = ?1 AND opened_us IS NOT NULL AND ended_us IS NULL "
                  "AND started_us < ?2 "
                  "UNION ALL SELECT id FROM attempts INDEXED BY attempts_ep_time "
                  "WHERE endpoint_id = ?1 AND started_us >= ?4 AND started_us < ?2 "
                  "AND opened_us IS NULL AND (ended_us IS NULL OR ended_us >= ?2)) "
                  "ORDER BY a.started_us, a.id",
                  &q_att);
    while (rc == SQLITE_OK && (s = sqlite3_step(q_ep)) == SQLITE_ROW) {
        struct hist_str name = col_str(q_ep, 1);
        size_t before = r->n_att, n;
        uint32_t ep = (uint32_t)r->n_eps;

        if (!name.s)
            continue;
        sqlite3_bind_int64(q_att, 1, sqlite3_column_int64(q_ep, 0));
        sqlite3_bind_int64(q_att, 2, since);
        sqlite3_bind_int64(q_att, 3, until);
        sqlite3_bind_int64(q_att, 4,
                           since > INT64_MIN + RP_MARGIN_US ? since - RP_MARGIN_US : since);
        while ((s = sqlite3_step(q_att)) == SQLITE_ROW) {
            struct rp_att *a;

            if (r->n_att % 256 == 0)
                r->att = xrealloc(r->att, (r->n_att + 256) * sizeof(*r->att));
            a = &r->att[r->n_att];
            rp_read(q_att, a);
            /* still running at since by its row, but its recorder had stopped before: a crash
             * left it unended; nothing is known of it in the window */
            if (a->ended == HIST_NULL && a->started < since && a->run_end != HIST_NULL &&
                a->run_end < since) {
                rp_att_free(a);
                continue;
            }
            a->ep = ep;
            r->n_att++;
        }
        sqlite3_reset(q_att);
        if (s != SQLITE_DONE) {
            rc = s;
            break;
        }
        if (r->n_att == before)
            continue;
        r->eps = xrealloc(r->eps, (r->n_eps + 1) * sizeof(*r->eps));
        memset(&r->eps[ep], 0, sizeof(r->eps[ep]));
        r->eps[ep].db_id = sqlite3_column_int64(q_ep, 0);
        r->eps[ep].name = dup_str(name, &n);
        r->eps[ep].url = rp_dup(q_ep, 2, URL_PATH_MAX + URL_HOST_MAX + 32);
        r->eps[ep].grp = rp_dup(q_ep, 3, 128);
        r->eps[ep].via = rp_dup(q_ep, 4, 16);
        r->n_eps++;
        rp_slots(r, ep, before, r->n_att);
    }
    if (rc == SQLITE_OK && s != SQLITE_DONE)
        rc = s;
    if (rc != SQLITE_OK)
        goto fail;

    /* attempts a configuration cannot hold (over CFG_MAX_CONNECTIONS slots) are left out */
    {
        size_t k = 0;

        for (size_t i = 0; i < r->n_att; i++) {
            if (r->att[i].slot == UINT32_MAX)
                rp_att_free(&r->att[i]);
            else
                r->att[k++] = r->att[i];
        }
        r->n_att = k;
    }
    if (r->n_att > 1)
        qsort(r->att, r->n_att, sizeof(*r->att), cmp_rp_att);
    for (size_t i = 0; i < r->n_eps; i++) {
        r->eps[i].slot_base = (uint32_t)n_slots;
        n_slots += r->eps[i].n_slots;
    }
    for (size_t i = 0; i < r->n_att; i++) {
        struct rp_att *a = &r->att[i];

        rp_plan(a, &r->st);
        if (a->started < first)
            first = a->started;
        if (a->pings > 0)
            r->eps[a->ep].pings = true;
    }

    /* RTT samples, from each endpoint's first attempt */
    rc = prep(h,
              "SELECT t_us, conn, rtt_us FROM rtt WHERE endpoint_id = ?1 AND t_us >= ?2 "
              "AND t_us < ?3 ORDER BY t_us DESC LIMIT ?4",
              &q_rtt);
    if (rc == SQLITE_OK)
        rc = prep(h, "SELECT count(*) FROM rtt WHERE endpoint_id = ?1 AND t_us >= ?2 AND t_us < ?3",
                  &q_rtt_n);
    if (rc != SQLITE_OK)
        goto fail;
    for (uint32_t ep = 0; ep < r->n_eps; ep++) {
        int64_t from = until;

        for (size_t i = 0; i < r->n_att; i++)
            if (r->att[i].ep == ep && r->att[i].started < from)
                from = r->att[i].started;
        if ((rc = rp_load_rtt(h, r, q_rtt, q_rtt_n, ep, from, HIST_REPLAY_RTT_MAX / r->n_eps)) != 0)
            goto fail_errno;
    }

    /* markers and health changes from the first attempt on */
    rc = prep(h,
              "SELECT t_us, endpoint_id, text FROM markers INDEXED BY markers_time "
              "WHERE t_us >= ?1 AND t_us < ?2 ORDER BY t_us, id",
              &q_mark);
    if (rc == SQLITE_OK)
        rc = prep(h,
                  "SELECT t_us, endpoint_id, code, text FROM events INDEXED BY events_time "
                  "WHERE t_us >= ?1 AND t_us < ?2 AND kind = 'health' ORDER BY t_us, id",
                  &q_health);
    if (rc != SQLITE_OK)
        goto fail;
    sqlite3_bind_int64(q_mark, 1, first);
    sqlite3_bind_int64(q_mark, 2, until);
    while ((s = sqlite3_step(q_mark)) == SQLITE_ROW) {
        uint32_t ep = EVT_EP_NONE;
        struct hist_str text = col_str(q_mark, 2);
        struct rp_misc *m;

        if (sqlite3_column_type(q_mark, 1) != SQLITE_NULL &&
            rp_ep_index(r, sqlite3_column_int64(q_mark, 1), &ep) < 0)
            continue; /* about an endpoint not replayed */
        m = rp_misc_add(r);
        m->t = rp_t(sqlite3_column_int64(q_mark, 0));
        m->ep = ep;
        m->kind = EVT_MARK;
        if (text.s) {
            size_t n = strnlen(text.s, text.n);
            memcpy(m->text, text.s, n < sizeof(m->text) ? n : sizeof(m->text) - 1);
        }
        r->st.marks++;
    }
    if (s != SQLITE_DONE) {
        rc = s;
        goto fail;
    }
    sqlite3_bind_int64(q_health, 1, first);
    sqlite3_bind_int64(q_health, 2, until);
    while ((s = sqlite3_step(q_health)) == SQLITE_ROW) {
        uint32_t ep;
        struct rp_misc *m;

        if (sqlite3_column_type(q_health, 1) == SQLITE_NULL ||
            rp_ep_index(r, sqlite3_column_int64(q_health, 1), &ep) < 0)
            continue;
        m = rp_misc_add(r);
        m->t = rp_t(sqlite3_column_int64(q_health, 0));
        m->ep = ep;
        m->kind = EVT_HEALTH;
        m->status = col_int(q_health, 2, 0, 999, 0);
        rp_health_text(m, col_str(q_health, 3));
        r->eps[ep].health = true;
        r->st.health++;
    }
    if (s != SQLITE_DONE) {
        rc = s;
        goto fail;
    }
    if (r->n_rtt > 1)
        qsort(r->rtt, r->n_rtt, sizeof(*r->rtt), cmp_rp_rtt);
    if (r->n_misc > 1)
        qsort(r->misc, r->n_misc, sizeof(*r->misc), cmp_rp_misc);

    r->heap = xcalloc(r->n_att + 1, sizeof(*r->heap));
    r->n_slots = n_slots;
    r->slots = xcalloc(n_slots + 1, sizeof(*r->slots));
    hist_replay_rewind(r);
    r->st.endpoints = r->n_eps;
    r->st.attempts = r->n_att;
    r->st.rtt = r->n_rtt;
    r->st.first_us = r->n_att || r->n_misc ? first : INT64_MAX;
    for (size_t i = 0; i < r->n_misc; i++)
        if (r->misc[i].t < r->st.first_us)
            r->st.first_us = r->misc[i].t;
    rc = SQLITE_OK;
    goto out;

fail:
    fail_rc(h, rc);
fail_errno:
    set_err(err, errlen, "%s", h->err);
    hist_replay_free(r);
    r = NULL;
out:
    sqlite3_finalize(q_ep);
    sqlite3_finalize(q_att);
    sqlite3_finalize(q_rtt);
    sqlite3_finalize(q_rtt_n);
    sqlite3_finalize(q_mark);
    sqlite3_finalize(q_health);
    end(h);
    return r;
}

int hist_replay_cfg(const struct hist_replay *r, struct cfg *cfg, char *err, size_t errlen)
{
    char e2[CFG_ERR_MAX], num[32];

    cfg_init(cfg);
    for (size_t i = 0; r && i < r->n_eps; i++) {
        const struct rp_ep *e = &r->eps[i];
        struct cfg_ep *ce;

        /* the URL as stored (masked); one that does not parse any more still has a name */
        if (!e->url || cfg_add_url(cfg, e->url, e2, sizeof(e2)) < 0) {
            if (cfg_add_url(cfg, "ws://unknown.invalid/", err, errlen) < 0)
                goto fail;
        }
        ce = &cfg->eps[cfg->n_eps - 1];
        ce->name = xstrdup(e->name);
        snprintf(num, sizeof(num), "%" PRIu32, e->n_slots);
        if (e->n_slots > 1 && cfg_ep_set(ce, "connections", num, err, errlen) < 0)
            goto fail;
        if (!e->pings && cfg_ep_set(ce, "ping", "0", err, errlen) < 0)
            goto fail;
        /* group and via are only shown and compared: a value the parser refuses is left out */
        if (e->grp && e->grp[0])
            cfg_ep_set(ce, "group", e->grp, e2, sizeof(e2));
        if (e->via && e->via[0])
            cfg_ep_set(ce, "via", e->via, e2, sizeof(e2));
        if (cfg_ep_finish(ce, &cfg->defaults, err, errlen) < 0)
            goto fail;
        if (e->health && !ce->health)
            ce->health = xstrdup("(recorded)");
    }
    return 0;
fail:
    cfg_fini(cfg);
    cfg_init(cfg);
    return -EINVAL;
}
