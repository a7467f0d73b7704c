/* SPDX-License-Identifier: MIT */
/* wsmon history (DESIGN 8.1: table, CSV and JSON views of the recorded history) and wsmon mark. */
#include "config.h"

#include "cmd_history.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diag.h"
#include "evt.h"
#include "hist.h"
#include "json.h"
#include "san.h"
#include "store.h"
#include "xmem.h"

#define EXIT_OK    0
#define EXIT_FAIL  1
#define EXIT_USAGE 2

#define COLS      79   /* widest table line: one short of 80, no terminal wraps */
#define MARK_MAX  1024 /* bytes of marker text */
#define ROW_CELLS 80
#define TIME_LEN  32

enum view { V_SUMMARY, V_OUTAGES, V_ATTEMPTS, V_EVENTS, V_MARKERS };
enum format { F_TABLE, F_CSV, F_JSON };

static const char *const view_names[] = {"summary", "outages", "attempts", "events", "markers"};

/* ---- cells: one row of a view, named as in the JSON contract (dots for nesting) ---------- */

enum cell_kind {
    CK_NULL,
    CK_INT,
    CK_NUM,
    CK_STR,
    CK_BOOL,
    CK_LIST,   /* strings separated by ';' (cookie names): a JSON array */
    CK_DICT,   /* name -> count: a JSON object; CSV columns name.key */
    CK_ABSENT, /* inside a group that is null as a whole (http, tls, close) */
};

struct dict_ent {
    char key[40];
    uint64_t n;
};

struct cell {
    const char *name;
    enum cell_kind k;
    int64_t i;
    double d;
    int dec;
    const char *s;
    size_t n;
    const struct dict_ent *dict;
    size_t n_dict;
};

struct row {
    struct cell c[ROW_CELLS];
    size_t n;
    char times[4][TIME_LEN];
    size_t n_times;
};

static struct cell *add(struct row *r, const char *name, enum cell_kind k)
{
    struct cell *c = &r->c[r->n < ROW_CELLS ? r->n++ : ROW_CELLS - 1];

    memset(c, 0, sizeof(*c));
    c->name = name;
    c->k = k;
    return c;
}

static void c_int(struct row *r, const char *name, int64_t v)
{
    if (v == HIST_NULL)
        add(r, name, CK_NULL);
    else
        add(r, name, CK_INT)->i = v;
}

static void c_num(struct row *r, const char *name, double v, int dec)
{
    struct cell *c = add(r, name, CK_NUM);

    c->d = v;
    c->dec = dec;
}

/* microseconds as milliseconds (3 decimals) or seconds (3 decimals); HIST_NULL is null */
static void c_ms(struct row *r, const char *name, int64_t us)
{
    if (us == HIST_NULL)
        add(r, name, CK_NULL);
    else
        c_num(r, name, (double)us / 1000.0, 3);
}

static void c_s(struct row *r, const char *name, int64_t us)
{
    if (us == HIST_NULL)
        add(r, name, CK_NULL);
    else
        c_num(r, name, (double)us / 1e6, 3);
}

static void c_str(struct row *r, const char *name, struct hist_str s)
{
    struct cell *c = add(r, name, s.s ? CK_STR : CK_NULL);

    c->s = s.s;
    c->n = s.n;
}

static void c_cstr(struct row *r, const char *name, const char *s)
{
    c_str(r, name, (struct hist_str){s, s ? strlen(s) : 0});
}

static void c_bool(struct row *r, const char *name, bool v)
{
    add(r, name, CK_BOOL)->i = v;
}

static void c_opt_bool(struct row *r, const char *name, int64_t v)
{
    if (v == HIST_NULL)
        add(r, name, CK_NULL);
    else
        c_bool(r, name, v != 0);
}

/* "2026-11-26T10:20:00.000Z"; false when it cannot be shown */
static bool iso_ms(int64_t us, char *out, size_t len)
{
    int64_t s = us / 1000000 - (us % 1000000 < 0); /* floor */
    int ms = (int)((us % 1000000 + 1000000) % 1000000 / 1000);
    time_t t = (time_t)s;
    struct tm tm;
    char base[24];

    if ((int64_t)t != s || !gmtime_r(&t, &tm) || tm.tm_year > 8099 || tm.tm_year < -1899 ||
        !strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm))
        return false;
    snprintf(out, len, "%s.%03dZ", base, ms);
    return true;
}

static void c_time(struct row *r, const char *name, int64_t us)
{
    char *buf = r->times[r->n_times < 4 ? r->n_times++ : 3];

    if (us == HIST_NULL || !iso_ms(us, buf, TIME_LEN))
        add(r, name, CK_NULL);
    else
        c_cstr(r, name, buf);
}

/* Every cell of group `prefix` ("http.") is CK_ABSENT from index i on. */
static bool group_absent(const struct row *r, size_t i, const char *prefix, size_t plen)
{
    bool any = false;

    for (; i < r->n && !strncmp(r->c[i].name, prefix, plen); i++) {
        if (r->c[i].k != CK_ABSENT)
            return false;
        any = true;
    }
    return any;
}

static void json_value(struct json *j, const struct cell *c)
{
    switch (c->k) {
    case CK_NULL:
    case CK_ABSENT:
        json_null(j);
        break;
    case CK_INT:
        json_int(j, c->i);
        break;
    case CK_NUM:
        json_num(j, c->d, c->dec);
        break;
    case CK_STR:
        json_strn(j, c->s, c->n);
        break;
    case CK_BOOL:
        json_bool(j, c->i != 0);
        break;
    case CK_LIST: {
        size_t p = 0;
        json_arr_begin(j);
        while (c->s && p < c->n) {
            const char *semi = memchr(c->s + p, ';', c->n - p);
            size_t len = semi ? (size_t)(semi - (c->s + p)) : c->n - p;
            if (len)
                json_strn(j, c->s + p, len);
            p += len + 1;
        }
        json_arr_end(j);
        break;
    }
    case CK_DICT:
        json_obj_begin(j);
        for (size_t k = 0; k < c->n_dict; k++) {
            json_key(j, c->dict[k].key);
            json_int(j, (int64_t)c->dict[k].n);
        }
        json_obj_end(j);
        break;
    }
}

/* One JSON object per row: dotted names become nested objects; a group whose cells are all
 * CK_ABSENT is null. */
static void json_row(FILE *f, const struct row *r)
{
    struct json j;
    size_t open[8]; /* prefix lengths of the open groups ("http." is 5) */
    int depth = 0;

    json_init(&j);
    json_obj_begin(&j);
    for (size_t i = 0; i < r->n;) {
        const char *name = r->c[i].name, *dot, *path = name;
        size_t plen;
        bool skipped = false;

        /* close the groups this name is not in (a group's cells are contiguous) */
        while (depth > 0 && (i == 0 || strncmp(name, r->c[i - 1].name, open[depth - 1]) != 0)) {
            json_obj_end(&j);
            depth--;
        }
        plen = depth ? open[depth - 1] : 0;
        /* open the groups it is in */
        while (!skipped && depth < 8 && (dot = strchr(name + plen, '.')) != NULL) {
            size_t glen = (size_t)(dot - name) + 1;
            char group[64];

            snprintf(group, sizeof(group), "%.*s", (int)(glen - plen - 1), name + plen);
            json_key(&j, group);
            if (group_absent(r, i, path, glen)) {
                json_null(&j);
                while (i < r->n && !strncmp(r->c[i].name, path, glen))
                    i++;
                skipped = true;
                break;
            }
            json_obj_begin(&j);
            open[depth++] = glen;
            plen = glen;
        }
        if (skipped)
            continue;
        json_key(&j, name + plen);
        json_value(&j, &r->c[i]);
        i++;
    }
    while (depth-- > 0)
        json_obj_end(&j);
    json_obj_end(&j);
    json_raw(&j, "\n");
    fputs(j.buf, f);
    json_fini(&j);
}

/* CSV (RFC 4180): a field is quoted when it holds a comma, a quote, CR or LF, or begins or
 * ends with a space; quotes are doubled. Invalid UTF-8 and control characters other than
 * tab, CR and LF become U+FFFD: a CSV file shown on a terminal acts on nothing. */
static void csv_text(FILE *f, const char *s, size_t n)
{
    bool quote = n > 0 && (s[0] == ' ' || s[n - 1] == ' ');

    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (quote)
        fputc('"', f);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = san_utf8_decode(s + i, n - i, &cp);

        if (len == 0 || (cp < 0x20 && cp != '\t' && cp != '\r' && cp != '\n') ||
            (cp >= 0x7f && cp < 0xa0)) {
            fputs("\xef\xbf\xbd", f);
            i += len ? len : 1;
            continue;
        }
        if (cp == '"')
            fputc('"', f);
        fwrite(s + i, 1, len, f);
        i += len;
    }
    if (quote)
        fputc('"', f);
}

static void csv_value(FILE *f, const struct cell *c)
{
    switch (c->k) {
    case CK_NULL:
    case CK_ABSENT:
    case CK_DICT:
        break;
    case CK_INT:
        fprintf(f, "%" PRId64, c->i);
        break;
    case CK_NUM: {
        /* as JSON writes it (json_num: C locale digits) */
        struct json j;
        json_init(&j);
        json_num(&j, c->d, c->dec);
        fputs(j.buf, f);
        json_fini(&j);
        break;
    }
    case CK_STR:
    case CK_LIST:
        csv_text(f, c->s, c->n);
        break;
    case CK_BOOL:
        fputs(c->i ? "true" : "false", f);
        break;
    }
}

/* Dictionary keys over all rows of a column, for CSV's header: name.key columns. */
struct dict_cols {
    const char *name;
    char (*keys)[40];
    size_t n;
};

static void csv_header(FILE *f, const struct row *r, const struct dict_cols *dc, size_t n_dc)
{
    bool first = true;

    for (size_t i = 0; i < r->n; i++) {
        const struct cell *c = &r->c[i];
        char name[128];

        if (c->k == CK_DICT) {
            for (size_t d = 0; d < n_dc; d++) {
                if (strcmp(dc[d].name, c->name))
                    continue;
                for (size_t k = 0; k < dc[d].n; k++) {
                    snprintf(name, sizeof(name), "%s.%s", c->name, dc[d].keys[k]);
                    fputs(first ? "" : ",", f);
                    csv_text(f, name, strlen(name));
                    first = false;
                }
            }
            continue;
        }
        fputs(first ? "" : ",", f);
        csv_text(f, c->name, strlen(c->name));
        first = false;
    }
    fputs("\r\n", f);
}

static void csv_row(FILE *f, const struct row *r, const struct dict_cols *dc, size_t n_dc)
{
    bool first = true;

    for (size_t i = 0; i < r->n; i++) {
        const struct cell *c = &r->c[i];

        if (c->k == CK_DICT) {
            for (size_t d = 0; d < n_dc; d++) {
                if (strcmp(dc[d].name, c->name))
                    continue;
                for (size_t k = 0; k < dc[d].n; k++) {
                    fputs(first ? "" : ",", f);
                    first = false;
                    for (size_t e = 0; e < c->n_dict; e++)
                        if (!strcmp(c->dict[e].key, dc[d].keys[k]))
                            fprintf(f, "%" PRIu64, c->dict[e].n);
                }
            }
            continue;
        }
        fputs(first ? "" : ",", f);
        csv_value(f, c);
        first = false;
    }
    fputs("\r\n", f);
}

/* ---- table helpers ----------------------------------------------------------------------- */

/* Columns a code point takes: 0 for combining marks, 2 for wide (CJK, emoji), else 1. */
static int cp_width(uint32_t cp)
{
    if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || cp == 0xfeff)
        return 0;
    if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
        (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
        (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
        (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1faff) ||
        (cp >= 0x20000 && cp <= 0x3fffd))
        return 2;
    return 1;
}

/* Text from the database, sanitised (san_term), in at most cols columns. Longer text is cut
 * with "...": at the end, or in the middle when middle (endpoint names: host and port on the
 * left, the path on the right, both tell endpoints apart). Padded with blanks to cols when
 * pad. */
static void put_fit(FILE *f, const char *s, size_t n, size_t cols, bool pad, bool middle)
{
    char buf[4096];
    size_t len = san_term(s ? s : "", s ? n : 0, buf, sizeof(buf)), w = 0, total = 0;
    size_t head = 0, head_w = 0, tail = len, tail_w = 0, room;

    /* widths of the whole, and of the longest head that leaves room for "..." */
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t l = san_utf8_decode(buf + i, len - i, &cp);
        if (l == 0)
            l = 1, cp = '?';
        total += (size_t)cp_width(cp);
        i += l;
    }
    if (total <= cols) {
        fwrite(buf, 1, len, f);
        w = total;
        goto padding;
    }
    if (cols < 3) {
        w = 0;
        goto padding;
    }
    room = cols - 3;
    if (middle)
        room = room - room / 2; /* the head's share; the tail gets the rest */
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t l = san_utf8_decode(buf + i, len - i, &cp);
        if (l == 0)
            l = 1, cp = '?';
        if (head_w + (size_t)cp_width(cp) > room)
            break;
        head_w += (size_t)cp_width(cp);
        i += l;
        head = i;
    }
    if (middle) {
        /* the longest tail in the columns left, starting on a character boundary */
        size_t tail_room = cols - 3 - head_w;
        for (size_t i = len; i > head;) {
            size_t j = i - 1;
            uint32_t cp;
            size_t l;
            while (j > head && ((unsigned char)buf[j] & 0xc0) == 0x80)
                j--;
            l = san_utf8_decode(buf + j, i - j, &cp);
            if (l == 0)
                cp = '?';
            if (tail_w + (size_t)cp_width(cp) > tail_room)
                break;
            tail_w += (size_t)cp_width(cp);
            tail = j;
            i = j;
        }
    }
    fwrite(buf, 1, head, f);
    fputs("...", f);
    if (middle)
        fwrite(buf + tail, 1, len - tail, f);
    w = head_w + 3 + (middle ? tail_w : 0);
padding:
    while (pad && w++ < cols)
        fputc(' ', f);
}

/* An endpoint name (cut in the middle) or another string; null shows as "-". */
static void put_fit_str(FILE *f, struct hist_str s, size_t cols, bool pad)
{
    put_fit(f, s.s ? s.s : "-", s.s ? s.n : 1, cols, pad, false);
}

static void put_name(FILE *f, struct hist_str s, size_t cols)
{
    put_fit(f, s.s ? s.s : "*", s.s ? s.n : 1, cols, true, true);
}

/* Words of text wrapped at width columns, continuation lines indented by indent blanks. The
 * first line starts where the cursor is (already indented). */
static void put_wrapped(FILE *f, const char *s, size_t n, size_t indent, size_t width)
{
    char buf[4096];
    size_t len = san_term(s, n, buf, sizeof(buf)), pos = 0;
    bool first = true;

    while (pos < len || first) {
        size_t take = len - pos, w = 0, i = pos, last_space = 0;

        /* as many characters as fit in width columns, preferring a break at a space */
        while (i < len) {
            uint32_t cp;
            size_t l = san_utf8_decode(buf + i, len - i, &cp);
            if (l == 0)
                l = 1, cp = '?';
            if (w + (size_t)cp_width(cp) > width)
                break;
            w += (size_t)cp_width(cp);
            if (cp == ' ')
                last_space = i;
            i += l;
        }
        take = i - pos;
        if (i < len && last_space > pos)
            take = last_space - pos;
        if (!first)
            fprintf(f, "%*s", (int)indent, "");
        fwrite(buf + pos, 1, take, f);
        fputc('\n', f);
        pos += take;
        while (pos < len && buf[pos] == ' ')
            pos++;
        first = false;
        if (take == 0 && pos < len)
            pos++; /* a character wider than the column: skip rather than loop */
    }
}

static void tbl_time(FILE *f, int64_t us)
{
    char buf[TIME_LEN];

    if (us != HIST_NULL && iso_ms(us, buf, sizeof(buf))) {
        buf[10] = ' ';
        buf[19] = '\0';
        fputs(buf, f);
    } else {
        fprintf(f, "%-19s", "?");
    }
}

/* A duration for people: 850ms, 12.3s, 5m00s, 1h02m, 3d04h. */
static void fmt_dur(char *buf, size_t len, int64_t us)
{
    int64_t s = us / 1000000;

    if (us == HIST_NULL || us < 0)
        snprintf(buf, len, "-");
    else if (us < 1000000)
        snprintf(buf, len, "%" PRId64 "ms", us / 1000);
    else if (us < 60 * INT64_C(1000000))
        snprintf(buf, len, "%.1fs", (double)us / 1e6);
    else if (s < 3600)
        snprintf(buf, len, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, len, "%" PRId64 "h%02" PRId64 "m", s / 3600, s % 3600 / 60);
    else
        snprintf(buf, len, "%" PRId64 "d%02" PRId64 "h", s / 86400, s % 86400 / 3600);
}

static void fmt_ms(char *buf, size_t len, int64_t us)
{
    if (us == HIST_NULL)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.1f", (double)us / 1000.0);
}

/* ---- the views --------------------------------------------------------------------------- */

struct out {
    FILE *f;
    enum format fmt;
    uint64_t rows;
    /* summary: rows kept until the end (CSV needs every dictionary key for its header) */
    struct sum_copy *sums;
    size_t n_sums;
};

/* A summary row that outlives its callback. */
struct sum_copy {
    char *endpoint, *url;
    size_t endpoint_n, url_n;
    struct hist_summary s;
    struct dict_ent classes[DIAG_CLASS_COUNT];
    size_t n_classes;
    struct dict_ent *codes;
    size_t n_codes;
};

static void row_summary(struct row *r, const struct sum_copy *c)
{
    const struct hist_summary *s = &c->s;
    struct cell *d;

    c_str(r, "endpoint", (struct hist_str){c->endpoint, c->endpoint_n});
    c_str(r, "url", (struct hist_str){c->url, c->url_n});
    c_int(r, "attempts", (int64_t)s->attempts);
    c_int(r, "opened", (int64_t)s->opened);
    c_num(r, "availability_pct", s->availability_pct, 3);
    c_s(r, "watched_s", s->watched_us);
    c_int(r, "outages", s->outages);
    c_s(r, "longest_outage_s", s->longest_outage_us);
    c_s(r, "mean_time_to_recover_s", s->recover_us);
    d = add(r, "classes", CK_DICT);
    d->dict = c->classes;
    d->n_dict = c->n_classes;
    d = add(r, "close_codes", CK_DICT);
    d->dict = c->codes;
    d->n_dict = c->n_codes;
    c_ms(r, "rtt_ms.p50", s->rtt_p50_us);
    c_ms(r, "rtt_ms.p95", s->rtt_p95_us);
    c_ms(r, "rtt_ms.p99", s->rtt_p99_us);
    c_int(r, "messages_in", (int64_t)s->messages_in);
    c_int(r, "messages_out", (int64_t)s->messages_out);
    if (s->idle_timeout_s < 0)
        add(r, "idle_timeout_s", CK_NULL);
    else
        c_num(r, "idle_timeout_s", s->idle_timeout_s, 1);
}

static int on_summary(void *ud, const struct hist_summary *s)
{
    struct out *o = ud;
    struct sum_copy *c;

    o->sums = xrealloc(o->sums, (o->n_sums + 1) * sizeof(*o->sums));
    c = &o->sums[o->n_sums++];
    memset(c, 0, sizeof(*c));
    c->s = *s;
    c->endpoint = xstrndup(s->endpoint.s ? s->endpoint.s : "", s->endpoint.n);
    c->endpoint_n = s->endpoint.n;
    if (s->url.s) {
        c->url = xstrndup(s->url.s, s->url.n);
        c->url_n = s->url.n;
    }
    for (int k = 0; k < DIAG_CLASS_COUNT; k++) {
        if (!s->classes[k])
            continue;
        snprintf(c->classes[c->n_classes].key, sizeof(c->classes[0].key), "%s",
                 diag_class_name((enum diag_class)k));
        c->classes[c->n_classes++].n = s->classes[k];
    }
    c->codes = s->n_codes ? xcalloc(s->n_codes, sizeof(*c->codes)) : NULL;
    for (size_t k = 0; k < s->n_codes; k++) {
        snprintf(c->codes[k].key, sizeof(c->codes[k].key), "%d", s->codes[k].code);
        c->codes[k].n = s->codes[k].n;
    }
    c->n_codes = s->n_codes;
    c->s.codes = NULL;
    c->s.endpoint = (struct hist_str){c->endpoint, c->endpoint_n};
    c->s.url = (struct hist_str){c->url, c->url_n};
    o->rows++;
    return 0;
}

/* Items after a label, separated by ", ", flowing over lines of at most COLS columns (the
 * continuation lines indented under the first item). Items are our own ASCII text. */
struct flow {
    FILE *f;
    size_t indent, col;
    int items;
};

static void flow_start(struct flow *fl, FILE *f, const char *label)
{
    fl->f = f;
    fl->indent = 2 + strlen(label) + (*label ? 1 : 0);
    fl->col = fl->indent;
    fl->items = 0;
    fprintf(f, "  %s%s", label, *label ? " " : "");
}

static void flow_item(struct flow *fl, const char *item)
{
    size_t len = strlen(item);

    if (fl->items > 0 && fl->col + 2 + len > COLS) {
        fprintf(fl->f, ",\n%*s", (int)fl->indent, "");
        fl->col = fl->indent;
    } else if (fl->items > 0) {
        fputs(", ", fl->f);
        fl->col += 2;
    }
    fputs(item, fl->f);
    fl->col += len;
    fl->items++;
}

static void flow_end(struct flow *fl)
{
    fputc('\n', fl->f);
}

/* "name n, name n" after a label; nothing without entries. */
static void table_counts(FILE *f, const char *label, const struct dict_ent *d, size_t n,
                         const char *sep)
{
    struct flow fl;
    char item[96];

    if (n == 0)
        return;
    flow_start(&fl, f, label);
    for (size_t i = 0; i < n; i++) {
        snprintf(item, sizeof(item), "%s%s%" PRIu64, d[i].key, sep, d[i].n);
        flow_item(&fl, item);
    }
    flow_end(&fl);
}

static void summary_table(FILE *f, const struct sum_copy *c, size_t n)
{
    fprintf(f, "%-20s %7s %8s %7s %8s  %s\n", "ENDPOINT", "AVAIL%", "ATTEMPTS", "OUTAGES",
            "LONGEST", "RTT p50/p95/p99 ms");
    for (size_t i = 0; i < n; i++) {
        const struct hist_summary *s = &c[i].s;
        char longest[24], p50[24], p95[24], p99[24], item[96], d[24];
        struct flow fl;

        fmt_dur(longest, sizeof(longest), s->longest_outage_us);
        fmt_ms(p50, sizeof(p50), s->rtt_p50_us);
        fmt_ms(p95, sizeof(p95), s->rtt_p95_us);
        fmt_ms(p99, sizeof(p99), s->rtt_p99_us);
        put_fit(f, c[i].endpoint, c[i].endpoint_n, 20, true, true);
        fprintf(f, " %7.3f %8" PRIu64 " %7" PRIu32 " %8s  %s/%s/%s\n", s->availability_pct,
                s->attempts, s->outages, longest, p50, p95, p99);
        flow_start(&fl, f, "");
        fmt_dur(d, sizeof(d), s->watched_us);
        snprintf(item, sizeof(item), "watched %s", d);
        flow_item(&fl, item);
        snprintf(item, sizeof(item), "opened %" PRIu64, s->opened);
        flow_item(&fl, item);
        snprintf(item, sizeof(item), "messages in %" PRIu64 " out %" PRIu64, s->messages_in,
                 s->messages_out);
        flow_item(&fl, item);
        if (s->recover_us != HIST_NULL) {
            fmt_dur(d, sizeof(d), s->recover_us);
            snprintf(item, sizeof(item), "mean recovery %s", d);
            flow_item(&fl, item);
        }
        if (s->idle_timeout_s >= 0) {
            snprintf(item, sizeof(item), "idle timeout %.1fs", s->idle_timeout_s);
            flow_item(&fl, item);
        }
        flow_end(&fl);
        table_counts(f, "classes:", c[i].classes, c[i].n_classes, " ");
        table_counts(f, "close codes:", c[i].codes, c[i].n_codes, " x");
    }
    if (n == 0)
        fputs("No endpoint was watched in this window.\n", f);
}

static void add_keys(struct dict_cols *dc, const struct dict_ent *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < dc->n && strcmp(dc->keys[k], d[i].key))
            k++;
        if (k < dc->n)
            continue;
        dc->keys = xrealloc(dc->keys, (dc->n + 1) * sizeof(*dc->keys));
        snprintf(dc->keys[dc->n++], sizeof(dc->keys[0]), "%s", d[i].key);
    }
}

static int cmp_key(const void *a, const void *b)
{
    const char *x = a, *y = b;
    char *ex, *ey;
    long nx = strtol(x, &ex, 10), ny = strtol(y, &ey, 10);

    if (!*ex && !*ey && ex != x && ey != y) /* close codes: numerically */
        return (nx > ny) - (nx < ny);
    return strcmp(x, y);
}

static void summary_flush(struct out *o)
{
    struct dict_cols dc[2] = {{"classes", NULL, 0}, {"close_codes", NULL, 0}};
    struct row r;

    if (o->fmt == F_TABLE) {
        summary_table(o->f, o->sums, o->n_sums);
    } else {
        for (size_t i = 0; i < o->n_sums; i++) {
            add_keys(&dc[0], o->sums[i].classes, o->sums[i].n_classes);
            add_keys(&dc[1], o->sums[i].codes, o->sums[i].n_codes);
        }
        for (int d = 0; d < 2; d++)
            if (dc[d].n > 1)
                qsort(dc[d].keys, dc[d].n, sizeof(*dc[d].keys), cmp_key);
        for (size_t i = 0; i < o->n_sums; i++) {
            memset(&r, 0, sizeof(r));
            row_summary(&r, &o->sums[i]);
            if (o->fmt == F_JSON) {
                json_row(o->f, &r);
            } else {
                if (i == 0)
                    csv_header(o->f, &r, dc, 2);
                csv_row(o->f, &r, dc, 2);
            }
        }
        if (o->fmt == F_CSV && o->n_sums == 0) {
            struct sum_copy empty;
            memset(&empty, 0, sizeof(empty));
            memset(&r, 0, sizeof(r));
            row_summary(&r, &empty);
            csv_header(o->f, &r, dc, 2);
        }
    }
    free(dc[0].keys);
    free(dc[1].keys);
}

static void summary_free(struct out *o)
{
    for (size_t i = 0; i < o->n_sums; i++) {
        free(o->sums[i].endpoint);
        free(o->sums[i].url);
        free(o->sums[i].codes);
    }
    free(o->sums);
}

static const char *class_or_null(enum diag_class c)
{
    return c < DIAG_CLASS_COUNT ? diag_class_name(c) : NULL;
}

static void row_outage(struct row *r, const struct hist_outage *o)
{
    c_str(r, "endpoint", o->endpoint);
    c_time(r, "start", o->start_us);
    c_time(r, "end", o->end_us);
    c_s(r, "duration_s", o->duration_us);
    c_cstr(r, "class", class_or_null(o->cls));
    c_cstr(r, "cause", evt_cause_name(o->cause));
    c_int(r, "http_status", o->http_status ? o->http_status : HIST_NULL);
    c_int(r, "close_code", o->close_code ? o->close_code : HIST_NULL);
    c_int(r, "attempts", o->attempts);
    c_str(r, "marker", o->marker);
}

static void emit(struct out *o, const struct row *r)
{
    if (o->fmt == F_JSON) {
        json_row(o->f, r);
    } else if (o->fmt == F_CSV) {
        if (o->rows == 0)
            csv_header(o->f, r, NULL, 0);
        csv_row(o->f, r, NULL, 0);
    }
    o->rows++;
}

static int on_outage(void *ud, const struct hist_outage *x)
{
    struct out *o = ud;
    struct row r;

    if (o->fmt != F_TABLE) {
        memset(&r, 0, sizeof(r));
        row_outage(&r, x);
        emit(o, &r);
        return 0;
    }
    if (o->rows++ == 0)
        fprintf(o->f, "%-19s %9s %-15s %-18s %4s %5s %3s\n", "START (UTC)", "DURATION", "ENDPOINT",
                "CLASS", "HTTP", "CLOSE", "ATT");
    {
        char dur[24], http[8] = "-", code[8] = "-";
        const char *cls = class_or_null(x->cls), *cause = evt_cause_name(x->cause);
        FILE *f = o->f;

        fmt_dur(dur, sizeof(dur), x->duration_us);
        if (x->end_us == HIST_NULL)
            strcat(dur, "+");
        if (x->http_status)
            snprintf(http, sizeof(http), "%d", x->http_status);
        if (x->close_code)
            snprintf(code, sizeof(code), "%d", x->close_code);
        tbl_time(f, x->start_us);
        fprintf(f, " %9s ", dur);
        put_name(f, x->endpoint, 15);
        fprintf(f, " %-18s %4s %5s %3" PRIu32 "\n", cls ? cls : "?", http, code, x->attempts);
        fputs("  ", f);
        if (x->end_us == HIST_NULL) {
            fputs("not recovered", f);
        } else {
            fputs("until ", f);
            tbl_time(f, x->end_us);
        }
        if (cause)
            fprintf(f, ", cause %s", cause);
        if (x->marker.s) {
            fputs(", after marker \"", f);
            put_fit(f, x->marker.s, x->marker.n, 30, false, false);
            fputc('"', f);
        }
        fputc('\n', f);
    }
    return 0;
}

static void row_attempt(struct row *r, const struct hist_attempt *a)
{
    c_str(r, "endpoint", a->endpoint);
    c_time(r, "started", a->started_us);
    c_int(r, "conn", a->conn);
    c_str(r, "url", a->url.s ? a->url : (struct hist_str){"", 0});
    c_bool(r, "ok", a->ok);
    c_cstr(r, "class", class_or_null(a->cls));
    c_cstr(r, "cause", evt_cause_name(a->cause));
    c_cstr(r, "failed_in", a->failed_in > 0 ? evt_phase_name((enum evt_phase)a->failed_in) : NULL);
    c_cstr(r, "reached", evt_phase_name(a->reached > 0 ? (enum evt_phase)a->reached : EVT_PH_NONE));
    c_int(r, "ready_state", a->ready_state);
    c_ms(r, "timings_ms.dns", a->dns_us);
    c_ms(r, "timings_ms.tcp", a->tcp_us);
    c_ms(r, "timings_ms.tls", a->tls_us);
    c_ms(r, "timings_ms.upgrade", a->upgrade_us);
    c_ms(r, "timings_ms.open", a->open_us);
    c_ms(r, "timings_ms.first_message", a->first_message_us);
    c_ms(r, "timings_ms.total", a->total_us);
    c_str(r, "remote", a->remote);

    if (a->have_http) {
        struct cell *l;
        c_int(r, "http.status", a->http_status);
        c_str(r, "http.server", a->http_server);
        c_str(r, "http.upgrade", a->http_upgrade);
        c_str(r, "http.connection", a->http_connection);
        c_opt_bool(r, "http.accept_ok", a->http_accept_ok);
        c_str(r, "http.location", a->http_location);
        l = add(r, "http.sticky_cookies", CK_LIST);
        l->s = a->http_cookies.s;
        l->n = a->http_cookies.n;
        c_str(r, "http.backend", a->http_backend);
    } else {
        static const char *const k[] = {"http.status",         "http.server",    "http.upgrade",
                                        "http.connection",     "http.accept_ok", "http.location",
                                        "http.sticky_cookies", "http.backend"};
        for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
            add(r, k[i], CK_ABSENT);
    }

    if (a->is_tls) {
        const char *verify = a->have_tls && a->tls_verify > 0
                                 ? evt_verify_name((enum evt_verify)a->tls_verify)
                                 : NULL;
        c_str(r, "tls.version", a->tls_version);
        c_str(r, "tls.cipher", a->tls_cipher);
        c_cstr(r, "tls.verify", verify);
        c_str(r, "tls.subject", a->tls_subject);
        c_str(r, "tls.issuer", a->tls_issuer);
        if (a->have_tls && a->tls_not_after_s != HIST_NULL && a->tls_not_after_s > 0 &&
            a->tls_not_after_s < INT64_MAX / 1000000) {
            c_time(r, "tls.not_after", a->tls_not_after_s * 1000000);
            c_int(r, "tls.days_left", diag_days_left(a->tls_not_after_s, a->started_us / 1000000));
        } else {
            add(r, "tls.not_after", CK_NULL);
            add(r, "tls.days_left", CK_NULL);
        }
        c_bool(r, "tls.insecure", a->have_tls && a->tls_insecure);
    } else {
        static const char *const k[] = {"tls.version",   "tls.cipher",  "tls.verify",
                                        "tls.subject",   "tls.issuer",  "tls.not_after",
                                        "tls.days_left", "tls.insecure"};
        for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
            add(r, k[i], CK_ABSENT);
    }

    if (a->ended) {
        c_int(r, "close.code", a->close_code);
        c_str(r, "close.reason", a->close_reason.s ? a->close_reason : (struct hist_str){"", 0});
        c_cstr(r, "close.by", a->close_by > 0 ? evt_by_name((enum evt_by)a->close_by) : NULL);
        c_opt_bool(r, "close.frame", a->close_frame);
        c_cstr(r, "close.transport",
               a->close_transport > 0 ? evt_transport_name((enum evt_transport)a->close_transport)
                                      : NULL);
        c_ms(r, "close.open_for_ms", a->open_for_us);
    } else {
        static const char *const k[] = {"close.code",  "close.reason",    "close.by",
                                        "close.frame", "close.transport", "close.open_for_ms"};
        for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
            add(r, k[i], CK_ABSENT);
    }

    c_int(r, "rtt_ms.samples", a->rtt_samples);
    c_ms(r, "rtt_ms.min", a->rtt_samples > 0 ? a->rtt_min_us : HIST_NULL);
    c_ms(r, "rtt_ms.median", a->rtt_samples > 0 ? a->rtt_median_us : HIST_NULL);
    c_ms(r, "rtt_ms.max", a->rtt_samples > 0 ? a->rtt_max_us : HIST_NULL);
    c_int(r, "messages.in", a->msgs_in);
    c_int(r, "messages.out", a->msgs_out);
    c_int(r, "messages.bytes_in", a->bytes_in);
    c_int(r, "messages.bytes_out", a->bytes_out);
    c_str(r, "messages.first", a->msgs_in > 0 ? a->first_msg : (struct hist_str){NULL, 0});
    c_str(r, "verdict", a->verdict.s ? a->verdict : (struct hist_str){"", 0});
    c_str(r, "hint", a->hint.s && a->hint.n ? a->hint : (struct hist_str){NULL, 0});
}

static int on_attempt(void *ud, const struct hist_attempt *a)
{
    struct out *o = ud;
    struct row r;
    char open[32], open_for[24], code[24] = "-";
    const char *cls = class_or_null(a->cls);
    FILE *f = o->f;

    if (o->fmt != F_TABLE) {
        memset(&r, 0, sizeof(r));
        row_attempt(&r, a);
        emit(o, &r);
        return 0;
    }
    if (o->rows++ == 0)
        fprintf(f, "%-19s %-14s %-18s %8s %9s %5s\n", "STARTED (UTC)", "ENDPOINT", "CLASS",
                "OPEN ms", "OPEN FOR", "CLOSE");
    fmt_ms(open, sizeof(open), a->open_us);
    fmt_dur(open_for, sizeof(open_for), a->open_for_us);
    if (!a->ended && a->opened_us != HIST_NULL)
        snprintf(open_for, sizeof(open_for), "open");
    if (a->close_code != HIST_NULL)
        snprintf(code, sizeof(code), "%" PRId64, a->close_code);
    tbl_time(f, a->started_us);
    fputc(' ', f);
    put_name(f, a->endpoint, 14);
    fprintf(f, " %-18s %8s %9s %5s\n", cls ? cls : "?", open, open_for, code);
    fputs("  ", f);
    put_fit_str(f, a->verdict, COLS - 2, false);
    fputc('\n', f);
    return 0;
}

static void row_event(struct row *r, const struct hist_event *e)
{
    c_time(r, "t", e->t_us);
    c_str(r, "endpoint", e->endpoint);
    c_str(r, "kind", e->kind);
    c_str(r, "text", e->text);
}

static int on_event(void *ud, const struct hist_event *e)
{
    struct out *o = ud;
    struct row r;

    if (o->fmt != F_TABLE) {
        memset(&r, 0, sizeof(r));
        row_event(&r, e);
        emit(o, &r);
        return 0;
    }
    if (o->rows++ == 0)
        fprintf(o->f, "%-19s %-14s %-7s %s\n", "TIME (UTC)", "ENDPOINT", "KIND", "TEXT");
    tbl_time(o->f, e->t_us);
    fputc(' ', o->f);
    put_name(o->f, e->endpoint, 14);
    fputc(' ', o->f);
    put_fit_str(o->f, e->kind, 7, true);
    fputc(' ', o->f);
    put_wrapped(o->f, e->text.s, e->text.n, 43, COLS - 43);
    return 0;
}

static void row_marker(struct row *r, const struct hist_marker *m)
{
    c_time(r, "t", m->t_us);
    c_str(r, "endpoint", m->endpoint);
    c_str(r, "text", m->text);
}

static int on_marker(void *ud, const struct hist_marker *m)
{
    struct out *o = ud;
    struct row r;

    if (o->fmt != F_TABLE) {
        memset(&r, 0, sizeof(r));
        row_marker(&r, m);
        emit(o, &r);
        return 0;
    }
    if (o->rows++ == 0)
        fprintf(o->f, "%-19s %-14s %s\n", "TIME (UTC)", "ENDPOINT", "TEXT");
    tbl_time(o->f, m->t_us);
    fputc(' ', o->f);
    put_name(o->f, m->endpoint, 14);
    fputc(' ', o->f);
    put_wrapped(o->f, m->text.s, m->text.n, 35, COLS - 35);
    return 0;
}

/* CSV with no rows still has its header: the names of an empty row of the view. */
static void csv_empty_header(struct out *o, enum view v)
{
    struct row r;

    memset(&r, 0, sizeof(r));
    switch (v) {
    case V_OUTAGES: {
        struct hist_outage x;
        memset(&x, 0, sizeof(x));
        row_outage(&r, &x);
        break;
    }
    case V_ATTEMPTS: {
        struct hist_attempt a;
        memset(&a, 0, sizeof(a));
        a.have_http = a.is_tls = a.ended = true;
        row_attempt(&r, &a);
        break;
    }
    case V_EVENTS: {
        struct hist_event e;
        memset(&e, 0, sizeof(e));
        row_event(&r, &e);
        break;
    }
    case V_MARKERS: {
        struct hist_marker m;
        memset(&m, 0, sizeof(m));
        row_marker(&r, &m);
        break;
    }
    case V_SUMMARY:
        return;
    }
    csv_header(o->f, &r, NULL, 0);
}

/* ---- wsmon history ------------------------------------------------------------------------ */

static void history_usage(FILE *f)
{
    fputs("Usage: wsmon history [VIEW] [OPTIONS]\n"
          "Query the history that wsmon watch, record and probe --db wrote.\n"
          "\n"
          "Views:\n"
          "  summary      per endpoint: attempts, availability (share of the watched time\n"
          "               with a connection open), outages, longest outage, mean recovery,\n"
          "               classes, close codes, RTT p50/p95/p99, messages, idle timeout\n"
          "               (the default view)\n"
          "  outages      periods with no connection open: start, end, duration, class,\n"
          "               cause, HTTP status, close code, failed attempts, the nearest\n"
          "               marker before\n"
          "  attempts     one row per connection attempt, every measured field\n"
          "  events       opens, closes with their verdicts, health changes, markers\n"
          "  markers      operator notes (the m key, wsmon mark)\n"
          "\n"
          "Options:\n"
          "      --db PATH        the database (default $XDG_STATE_HOME/wsmon/history.db)\n"
          "      --since T        from T (default: the beginning)\n"
          "      --until T        to T (default: now)\n"
          "      --endpoint NAME  one endpoint only\n"
          "      --class CLASS    attempts, outages or events of this class only\n"
          "      --format FMT     table (default), csv or json (one object per line)\n"
          "  -h, --help           this help\n"
          "\n"
          "T is ISO 8601 in UTC (2026-11-26T14:02:00Z; without the Z it is UTC too; a date\n"
          "alone is its midnight), a time back from now (30m, 2h, 1d, 1w, 1h30m), now,\n"
          "today or yesterday. Times shown are UTC.\n"
          "\n"
          "Exit status: 0 done (also with no rows), 1 the database cannot be read,\n"
          "2 usage.\n",
          f);
}

static void mark_usage(FILE *f)
{
    fputs("Usage: wsmon mark [OPTIONS] TEXT...\n"
          "Add an operator marker (\"deploy started\") to the history database now. A\n"
          "recorder writing to the same database may be running: the marker goes in beside\n"
          "its rows.\n"
          "\n"
          "Options:\n"
          "      --db PATH        the database (default $XDG_STATE_HOME/wsmon/history.db)\n"
          "      --endpoint NAME  the marker is about this endpoint (default: all)\n"
          "  -h, --help           this help\n"
          "\n"
          "Exit status: 0 marked, 1 the database cannot be written, 2 usage.\n",
          f);
}

/* An argument shown in an error message: sanitised and short. */
static const char *safe(const char *s, char *buf, size_t len)
{
    san_term(s ? s : "", s ? strlen(s) : 0, buf, len);
    return buf;
}

static int64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* An argument for an error message, sanitised (a few at a time). */
static const char *arg_shown(const char *s)
{
    static char buf[4][128];
    static int k;

    k = (k + 1) % 4;
    return safe(s, buf[k], sizeof(buf[k]));
}

static int bad_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "wsmon %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'wsmon %s --help'.\n", cmd);
    return EXIT_USAGE;
}

enum { OPT_DB = 256, OPT_SINCE, OPT_UNTIL, OPT_ENDPOINT, OPT_CLASS, OPT_FORMAT };

int cmd_history(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"since", required_argument, NULL, OPT_SINCE},
        {"until", required_argument, NULL, OPT_UNTIL},
        {"endpoint", required_argument, NULL, OPT_ENDPOINT},
        {"class", required_argument, NULL, OPT_CLASS},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct hist_filter flt = {HIST_ALL_BEFORE, HIST_ALL_AFTER, NULL, NULL};
    const char *db = NULL;
    char path[4096], err[640];
    enum view v = V_SUMMARY;
    struct out o = {stdout, F_TABLE, 0, NULL, 0};
    int64_t now = now_us();
    struct hist *h;
    bool until_set = false;
    int opt, rc;

    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (opt) {
        case OPT_DB:
            db = optarg;
            break;
        case OPT_SINCE:
            if (hist_parse_time(optarg, now, &flt.since_us) < 0)
                return bad_usage("history",
                                 "--since '%s': not a time (2026-11-26T14:02:00Z, "
                                 "2h, yesterday...)",
                                 arg_shown(optarg));
            break;
        case OPT_UNTIL:
            if (hist_parse_time(optarg, now, &flt.until_us) < 0)
                return bad_usage("history",
                                 "--until '%s': not a time (2026-11-26T14:02:00Z, "
                                 "2h, yesterday...)",
                                 arg_shown(optarg));
            until_set = true;
            break;
        case OPT_ENDPOINT:
            flt.endpoint = optarg;
            break;
        case OPT_CLASS:
            if (hist_class_of(optarg, strlen(optarg)) == DIAG_CLASS_COUNT)
                return bad_usage("history",
                                 "--class '%s': not a class (see DESIGN 5: "
                                 "http-status, abnormal-close...)",
                                 arg_shown(optarg));
            flt.cls = optarg;
            break;
        case OPT_FORMAT:
            if (!strcmp(optarg, "table"))
                o.fmt = F_TABLE;
            else if (!strcmp(optarg, "csv"))
                o.fmt = F_CSV;
            else if (!strcmp(optarg, "json"))
                o.fmt = F_JSON;
            else
                return bad_usage("history", "--format '%s': table, csv or json", arg_shown(optarg));
            break;
        case 'h':
            history_usage(stdout);
            return EXIT_OK;
        case ':':
            return bad_usage("history", "option '%s' needs a value", arg_shown(argv[optind - 1]));
        default:
            return bad_usage("history", "unknown option '%s'", arg_shown(argv[optind - 1]));
        }
    }
    if (optind < argc) {
        size_t k = 0;
        while (k < sizeof(view_names) / sizeof(view_names[0]) &&
               strcmp(argv[optind], view_names[k]))
            k++;
        if (k == sizeof(view_names) / sizeof(view_names[0]))
            return bad_usage("history",
                             "unknown view '%s' (summary, outages, attempts, events, markers)",
                             arg_shown(argv[optind]));
        v = (enum view)k;
        if (optind + 1 < argc)
            return bad_usage("history", "unexpected argument '%s'", arg_shown(argv[optind + 1]));
    }
    if (flt.cls && (v == V_SUMMARY || v == V_MARKERS))
        return bad_usage("history", "--class applies to attempts, outages and events, not %s",
                         view_names[v]);
    if (!until_set)
        flt.until_us = now;
    if (flt.since_us >= flt.until_us)
        return bad_usage("history", "--since is not before --until");
    if (!db) {
        if (store_default_path(path, sizeof(path)) < 0) {
            fprintf(stderr, "wsmon history: no --db and neither XDG_STATE_HOME nor HOME is set\n");
            return EXIT_USAGE;
        }
        db = path;
    }

    h = hist_open(db, err, sizeof(err));
    if (!h) {
        fprintf(stderr, "wsmon history: %s\n", err);
        return EXIT_FAIL;
    }
    if (err[0]) /* a newer schema: read what we can */
        fprintf(stderr, "wsmon history: warning: %s\n", err);

    switch (v) {
    case V_SUMMARY:
        rc = hist_summary(h, &flt, on_summary, &o);
        if (rc == 0)
            summary_flush(&o);
        summary_free(&o);
        break;
    case V_OUTAGES:
        rc = hist_outages(h, &flt, on_outage, &o);
        break;
    case V_ATTEMPTS:
        rc = hist_attempts(h, &flt, on_attempt, &o);
        break;
    case V_EVENTS:
        rc = hist_events(h, &flt, on_event, &o);
        break;
    case V_MARKERS:
    default:
        rc = hist_markers(h, &flt, on_marker, &o);
        break;
    }
    if (rc == 0 && o.rows == 0 && v != V_SUMMARY) {
        if (o.fmt == F_CSV)
            csv_empty_header(&o, v);
        else if (o.fmt == F_TABLE)
            printf("No %s in this window.\n", view_names[v]);
    }
    if (rc != 0) {
        fprintf(stderr, "wsmon history: %s\n", hist_error(h));
        hist_close(h);
        return EXIT_FAIL;
    }
    hist_close(h);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "wsmon history: cannot write the output: %s\n", strerror(errno));
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* ---- wsmon mark --------------------------------------------------------------------------- */

int cmd_mark(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"endpoint", required_argument, NULL, OPT_ENDPOINT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = NULL, *endpoint = NULL;
    char path[4096], err[640], text[MARK_MAX + 1], when[TIME_LEN], shown[256];
    size_t len = 0;
    struct store *s;
    int64_t t = now_us();
    int opt, rc;

    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (opt) {
        case OPT_DB:
            db = optarg;
            break;
        case OPT_ENDPOINT:
            endpoint = optarg;
            break;
        case 'h':
            mark_usage(stdout);
            return EXIT_OK;
        case ':':
            return bad_usage("mark", "option '%s' needs a value", arg_shown(argv[optind - 1]));
        default:
            return bad_usage("mark", "unknown option '%s'", arg_shown(argv[optind - 1]));
        }
    }
    if (optind >= argc)
        return bad_usage("mark", "no marker text");
    text[0] = '\0';
    for (int i = optind; i < argc; i++) {
        size_t n = strlen(argv[i]);
        if (len + n + (i > optind) > MARK_MAX)
            return bad_usage("mark", "the marker text is longer than %d bytes", MARK_MAX);
        if (i > optind)
            text[len++] = ' ';
        memcpy(text + len, argv[i], n);
        len += n;
        text[len] = '\0';
    }
    if (len == 0)
        return bad_usage("mark", "the marker text is empty");
    if (!db) {
        if (store_default_path(path, sizeof(path)) < 0) {
            fprintf(stderr, "wsmon mark: no --db and neither XDG_STATE_HOME nor HOME is set\n");
            return EXIT_USAGE;
        }
        db = path;
    }
    s = store_open(db, 0, err, sizeof(err));
    if (!s) {
        fprintf(stderr, "wsmon mark: %s\n", err);
        return EXIT_FAIL;
    }
    rc = store_mark(s, endpoint, text, t, err, sizeof(err));
    store_close(s);
    if (rc < 0) {
        fprintf(stderr, "wsmon mark: %s\n", err);
        return EXIT_FAIL;
    }
    if (!iso_ms(t, when, sizeof(when)))
        snprintf(when, sizeof(when), "now");
    printf("marked %s: %s\n", when, safe(text, shown, sizeof(shown)));
    return EXIT_OK;
}
