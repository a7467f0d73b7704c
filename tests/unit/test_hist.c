/* SPDX-License-Identifier: MIT */
/* History: databases with answers computed by hand, every view in every format (JSON parsed
 * back and checked against the DESIGN 8.1 contract, CSV read back against the JSON), time
 * parsing, hostile files, and query time on a bigger file. */

/* The formatting lives in ui/ (wsmon history); unit tests link only libwsmon.a, so the command
 * is compiled in here, whole. */
#include "cmd_history.c"

#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "model.h"
#include "rtt_hist.h"

#define SEC         INT64_C(1000000)
#define MIN         (60 * SEC)
#define DAY0        INT64_C(1795651200000000) /* 2026-11-26T00:00:00Z */
#define AT(h, m, s) (DAY0 + (h)*3600 * SEC + (m)*MIN + (s)*SEC)

static char tmp_root[256];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb;
    (void)flag;
    (void)f;
    return remove(p);
}

static void tpath(char *buf, size_t len, const char *rel)
{
    snprintf(buf, len, "%s/%s", tmp_root, rel);
}

/* ---- a tiny JSON reader ---------------------------------------------------------------- */

enum jt { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
    enum jt t;
    bool b;
    double num;
    char raw[48]; /* a number as written */
    char *str;    /* J_STR */
    size_t n;     /* J_ARR, J_OBJ */
    char **keys;  /* J_OBJ */
    struct jv *kids;
};

static void jv_free(struct jv *v)
{
    free(v->str);
    for (size_t i = 0; i < v->n; i++) {
        if (v->keys)
            free(v->keys[i]);
        jv_free(&v->kids[i]);
    }
    free(v->keys);
    free(v->kids);
    memset(v, 0, sizeof(*v));
}

static void ws(const char **p)
{
    while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')
        (*p)++;
}

static int j_value(const char **p, struct jv *v);

static int j_string(const char **p, char **out)
{
    size_t cap = 64, n = 0;
    char *s = malloc(cap);

    if (**p != '"')
        goto bad;
    (*p)++;
    while (**p && **p != '"') {
        char c = **p;
        if ((unsigned char)c < 0x20)
            goto bad; /* raw control characters are not JSON */
        if (c == '\\') {
            (*p)++;
            switch (**p) {
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case 'r':
                c = '\r';
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case '/':
                c = '/';
                break;
            case '\\':
                c = '\\';
                break;
            case '"':
                c = '"';
                break;
            case 'u': {
                unsigned cp = 0;
                for (int i = 1; i <= 4; i++) {
                    char h = (*p)[i];
                    cp = cp * 16 + (unsigned)(h >= 'a'   ? h - 'a' + 10
                                              : h >= 'A' ? h - 'A' + 10
                                                         : h - '0');
                }
                *p += 4;
                if (n + 4 >= cap)
                    s = realloc(s, cap *= 2);
                if (cp < 0x80) {
                    s[n++] = (char)cp;
                } else if (cp < 0x800) {
                    s[n++] = (char)(0xc0 | cp >> 6);
                    s[n++] = (char)(0x80 | (cp & 0x3f));
                } else {
                    s[n++] = (char)(0xe0 | cp >> 12);
                    s[n++] = (char)(0x80 | (cp >> 6 & 0x3f));
                    s[n++] = (char)(0x80 | (cp & 0x3f));
                }
                (*p)++;
                continue;
            }
            default:
                goto bad;
            }
        }
        if (n + 2 >= cap)
            s = realloc(s, cap *= 2);
        s[n++] = c;
        (*p)++;
    }
    if (**p != '"')
        goto bad;
    (*p)++;
    s[n] = '\0';
    *out = s;
    return 0;
bad:
    free(s);
    return -1;
}

static int j_value(const char **p, struct jv *v)
{
    memset(v, 0, sizeof(*v));
    ws(p);
    if (**p == '{' || **p == '[') {
        bool obj = **p == '{';
        v->t = obj ? J_OBJ : J_ARR;
        (*p)++;
        ws(p);
        if (**p == (obj ? '}' : ']')) {
            (*p)++;
            return 0;
        }
        for (;;) {
            v->kids = realloc(v->kids, (v->n + 1) * sizeof(*v->kids));
            if (obj) {
                v->keys = realloc(v->keys, (v->n + 1) * sizeof(*v->keys));
                ws(p);
                if (j_string(p, &v->keys[v->n]) < 0)
                    return -1;
                ws(p);
                if (*(*p)++ != ':')
                    return -1;
            }
            if (j_value(p, &v->kids[v->n]) < 0)
                return -1;
            v->n++;
            ws(p);
            if (**p == ',') {
                (*p)++;
                continue;
            }
            if (*(*p)++ != (obj ? '}' : ']'))
                return -1;
            return 0;
        }
    }
    if (**p == '"') {
        v->t = J_STR;
        return j_string(p, &v->str);
    }
    if (!strncmp(*p, "null", 4)) {
        *p += 4;
        return 0;
    }
    if (!strncmp(*p, "true", 4) || !strncmp(*p, "false", 5)) {
        v->t = J_BOOL;
        v->b = **p == 't';
        *p += v->b ? 4 : 5;
        return 0;
    }
    {
        char *end;
        size_t len;
        v->t = J_NUM;
        v->num = strtod(*p, &end);
        if (end == *p)
            return -1;
        len = (size_t)(end - *p);
        snprintf(v->raw, sizeof(v->raw), "%.*s", (int)len, *p);
        *p = end;
        return 0;
    }
}

/* A field by dotted path; NULL when absent; *under_null set when a parent is null. */
static const struct jv *jget(const struct jv *v, const char *path, bool *under_null)
{
    char part[64];

    if (under_null)
        *under_null = false;
    while (*path) {
        size_t n = strcspn(path, ".");
        bool found = false;

        snprintf(part, sizeof(part), "%.*s", (int)n, path);
        if (v->t == J_NULL) {
            if (under_null)
                *under_null = true;
            return v;
        }
        if (v->t != J_OBJ)
            return NULL;
        for (size_t i = 0; i < v->n; i++) {
            if (!strcmp(v->keys[i], part)) {
                v = &v->kids[i];
                found = true;
                break;
            }
        }
        if (!found)
            return NULL;
        path += n;
        if (*path == '.')
            path++;
    }
    return v;
}

static double jnum(const struct jv *o, const char *path)
{
    const struct jv *v = jget(o, path, NULL);

    if (!v || v->t != J_NUM) {
        fprintf(stderr, "# %s: not a number\n", path);
        return NAN;
    }
    return v->num;
}

static const char *jstr(const struct jv *o, const char *path)
{
    const struct jv *v = jget(o, path, NULL);

    return v && v->t == J_STR ? v->str : NULL;
}

static bool jnull(const struct jv *o, const char *path)
{
    const struct jv *v = jget(o, path, NULL);

    return v && v->t == J_NULL;
}

/* Every line of out as a JSON object. */
static size_t parse_lines(const char *out, struct jv *objs, size_t max)
{
    size_t n = 0;
    const char *p = out;

    while (*p) {
        const char *eol = strchr(p, '\n');
        char *line;

        assert_non_null(eol); /* every object ends its line */
        line = strndup(p, (size_t)(eol - p));
        {
            const char *q = line;
            assert_true(n < max);
            assert_int_equal(j_value(&q, &objs[n]), 0);
            ws(&q);
            assert_int_equal(*q, '\0');
            assert_int_equal(objs[n].t, J_OBJ);
        }
        free(line);
        n++;
        p = eol + 1;
    }
    return n;
}

/* ---- CSV reader (RFC 4180) --------------------------------------------------------------- */

struct csv {
    char **cell; /* rows * cols */
    size_t rows, cols;
};

static void csv_parse(const char *s, struct csv *c)
{
    size_t cap = 0, n = 0, row_cells = 0;
    char buf[8192];

    memset(c, 0, sizeof(*c));
    while (*s) {
        size_t len = 0;
        if (*s == '"') {
            s++;
            for (;;) {
                assert_true(*s != '\0');
                if (*s == '"' && s[1] == '"') {
                    buf[len++] = '"';
                    s += 2;
                } else if (*s == '"') {
                    s++;
                    break;
                } else {
                    buf[len++] = *s++;
                }
            }
        } else {
            while (*s && *s != ',' && *s != '\r' && *s != '\n') {
                assert_true(*s != '"'); /* a quote only in a quoted field */
                buf[len++] = *s++;
            }
        }
        buf[len] = '\0';
        if (n == cap)
            c->cell = realloc(c->cell, (cap = cap ? cap * 2 : 64) * sizeof(*c->cell));
        c->cell[n++] = strdup(buf);
        row_cells++;
        if (*s == ',') {
            s++;
            continue;
        }
        assert_true(s[0] == '\r' && s[1] == '\n'); /* CRLF ends a record */
        s += 2;
        if (c->cols == 0)
            c->cols = row_cells;
        assert_int_equal(row_cells, c->cols);
        row_cells = 0;
        c->rows++;
    }
}

static void csv_free(struct csv *c)
{
    for (size_t i = 0; i < c->rows * c->cols; i++)
        free(c->cell[i]);
    free(c->cell);
}

static const char *csv_at(const struct csv *c, size_t row, const char *col)
{
    for (size_t k = 0; k < c->cols; k++)
        if (!strcmp(c->cell[k], col))
            return c->cell[row * c->cols + k];
    return NULL;
}

/* A JSON leaf as CSV writes it. */
static void leaf_text(const struct jv *v, char *buf, size_t len)
{
    buf[0] = '\0';
    switch (v->t) {
    case J_NULL:
        break;
    case J_BOOL:
        snprintf(buf, len, "%s", v->b ? "true" : "false");
        break;
    case J_NUM:
        snprintf(buf, len, "%s", v->raw);
        break;
    case J_STR:
        snprintf(buf, len, "%s", v->str);
        break;
    case J_ARR:
        for (size_t i = 0; i < v->n; i++) {
            size_t l = strlen(buf);
            snprintf(buf + l, len - l, "%s%s", i ? ";" : "", v->kids[i].str ? v->kids[i].str : "");
        }
        break;
    case J_OBJ:
        break;
    }
}

/* Every JSON leaf path appears as a CSV column (a null object as the prefix of its columns),
 * and every CSV cell equals its JSON value (empty for null, absent dictionary keys empty). */
static void leaves_in_csv(const struct jv *v, const char *prefix, const struct csv *c, size_t row)
{
    char path[256], want[8192];

    for (size_t i = 0; i < v->n; i++) {
        const struct jv *k = &v->kids[i];
        bool found = false;

        snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", v->keys[i]);
        if (k->t == J_OBJ && k->n > 0) {
            leaves_in_csv(k, path, c, row);
            continue;
        }
        for (size_t col = 0; col < c->cols; col++) {
            const char *name = c->cell[col];
            size_t pl = strlen(path);
            if (!strcmp(name, path) ||
                (k->t == J_NULL && !strncmp(name, path, pl) && name[pl] == '.'))
                found = true;
        }
        if (!found)
            fprintf(stderr, "# JSON key %s has no CSV column\n", path);
        assert_true(found);
        if (k->t != J_OBJ) {
            const char *got = csv_at(c, row, path);
            leaf_text(k, want, sizeof(want));
            if (got && strcmp(got, want))
                fprintf(stderr, "# %s: CSV '%s', JSON '%s'\n", path, got, want);
            if (got)
                assert_string_equal(got, want);
        }
    }
}

static void csv_matches_json(const char *csv_text, const char *json_text)
{
    struct jv objs[64];
    struct csv c;
    size_t n = parse_lines(json_text, objs, 64);

    csv_parse(csv_text, &c);
    assert_true(c.rows >= 1);
    assert_int_equal(c.rows - 1, n); /* header + one record per object */
    for (size_t r = 0; r < n; r++) {
        leaves_in_csv(&objs[r], "", &c, r + 1);
        /* and every column is a JSON path (a null parent, or a dictionary key absent from
         * this row but present in another, gives an empty cell) */
        for (size_t col = 0; col < c.cols; col++) {
            bool under_null;
            const struct jv *v = jget(&objs[r], c.cell[col], &under_null);
            const char *cell = c.cell[(r + 1) * c.cols + col];
            if (!v) {
                char parent[128];
                snprintf(parent, sizeof(parent), "%s", c.cell[col]);
                *strchr(parent, '.') = '\0';
                assert_non_null(jget(&objs[r], parent, NULL)); /* a dictionary */
                assert_string_equal(cell, "");
            } else if (under_null) {
                assert_string_equal(cell, "");
            }
        }
        jv_free(&objs[r]);
    }
    csv_free(&c);
}

/* ---- running wsmon history --------------------------------------------------------------- */

struct run {
    int rc;
    char *out, *err;
};

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 4096, n = 0, k;
    char *buf = malloc(cap);

    while (f && (k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (cap - n < 2)
            buf = realloc(buf, cap *= 2);
    }
    if (f)
        fclose(f);
    buf[n] = '\0';
    return buf;
}

/* Run `wsmon <cmd> args...` (cmd_history or cmd_mark) with stdout and stderr captured. */
static struct run run_cmd(int (*fn)(int, char **), const char *const *args)
{
    char out_path[512], err_path[512], *argv[32];
    int argc = 0, so, se, fo, fe;
    struct run r;

    for (; args[argc]; argc++)
        argv[argc] = (char *)args[argc];
    argv[argc] = NULL;
    tpath(out_path, sizeof(out_path), "stdout");
    tpath(err_path, sizeof(err_path), "stderr");
    fflush(stdout);
    fflush(stderr);
    so = dup(1);
    se = dup(2);
    fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fo, 1);
    dup2(fe, 2);
    r.rc = fn(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    close(fo);
    close(fe);
    r.out = read_all(out_path);
    r.err = read_all(err_path);
    return r;
}

static void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
}

/* ../shared/contracts/check-json.py, as tests/it/harness.py finds it. */
static const char *check_json_path(void)
{
    static char found[2048];
    const char *rel = "shared/contracts/check-json.py", *env = getenv("WSMON_SHARED");
    const char *starts[2] = {getenv("WSMON_SRCDIR"), "."};

    if (found[0])
        return found;
    if (env) {
        snprintf(found, sizeof(found), "%s", env);
        if (access(found, R_OK) == 0 && strstr(found, ".py"))
            return found;
        snprintf(found, sizeof(found), "%s/contracts/check-json.py", env);
        if (access(found, R_OK) == 0)
            return found;
    }
    for (int s = 0; s < 2; s++) {
        char dir[1024];
        if (!starts[s] || !realpath(starts[s], dir))
            continue;
        for (;;) {
            char *slash;
            snprintf(found, sizeof(found), "%s/%s", dir, rel);
            if (access(found, R_OK) == 0)
                return found;
            slash = strrchr(dir, '/');
            if (!slash || slash == dir)
                break;
            *slash = '\0';
        }
    }
    found[0] = '\0';
    return NULL;
}

/* Pipe JSON lines through check-json.py VIEW; 0 when they match. */
static int check_contract(const char *view, const char *json)
{
    const char *cj = check_json_path();
    char in[512], cmd[4096];
    FILE *f;
    int st;

    if (!cj) {
        fprintf(stderr, "# check-json.py not found (set WSMON_SHARED): contract not checked\n");
        return 0;
    }
    tpath(in, sizeof(in), "contract.jsonl");
    f = fopen(in, "w");
    fputs(json, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "python3 '%s' %s < '%s' 1>&2", cj, view, in);
    st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 99;
}

/* Output for a terminal: nothing that a terminal would act on. */
static void terminal_safe(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n')
            continue;
        if (*p < 0x20 || *p == 0x7f)
            fprintf(stderr, "# control byte 0x%02x at offset %td\n", *p, (const char *)p - s);
        assert_false(*p < 0x20 || *p == 0x7f);
        /* C1 controls (U+0080..U+009F) as UTF-8 */
        assert_false(*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f);
    }
}

/* Every line at most COLS columns (ASCII here, or counted as UTF-8 characters). */
static void fits_80(const char *s)
{
    size_t w = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n') {
            w = 0;
            continue;
        }
        if ((*p & 0xc0) != 0x80)
            w++;
        if (w > 79)
            fprintf(stderr, "# a line longer than 79 columns: %.100s\n", (const char *)p - 79);
        assert_true(w <= 79);
    }
}

/* ---- building databases through the store ----------------------------------------------- */

struct feed {
    struct model *m;
    struct store *s;
};

static struct evt ev(uint32_t ep, uint32_t conn, uint32_t att, enum evt_kind k, int64_t t)
{
    struct evt e;

    memset(&e, 0, sizeof(e));
    e.kind = k;
    e.ep = ep;
    e.conn = conn;
    e.attempt = att;
    e.t_mono_us = t;
    e.t_wall_us = t;
    return e;
}

static void put(struct feed *f, struct evt *e)
{
    assert_int_equal(model_apply(f->m, e), 0);
    store_sink(f->s, e, f->m);
}

/* A store on path and a model of one endpoint (one connection) named name. */
static void feed_open(struct feed *f, const char *path, const char *name)
{
    char err[512];

    f->s = store_open(path, 0, err, sizeof(err));
    assert_non_null(f->s);
    f->m = model_new(1, NULL);
    store_set_endpoint(f->s, 0, name, "ws://127.0.0.1:9/", NULL, NULL);
}

/* An attempt that opens exactly at t_open (it started 3.1 ms earlier). */
static void open_at(struct feed *f, uint32_t ep, uint32_t conn, uint32_t seq, int64_t t_open)
{
    int64_t t = t_open - 3100;
    struct evt e = ev(ep, conn, seq, EVT_ATTEMPT, t);

    e.u.attempt.tls = ep == 0; /* alb is wss:// */
    put(f, &e);
    e = ev(ep, conn, seq, EVT_DNS, t + 1000);
    put(f, &e);
    e = ev(ep, conn, seq, EVT_TCP, t + 2000);
    snprintf(e.u.tcp.remote, sizeof(e.u.tcp.remote), "127.0.0.1:8080");
    put(f, &e);
    e = ev(ep, conn, seq, EVT_REQUEST, t + 2100);
    put(f, &e);
    e = ev(ep, conn, seq, EVT_RESPONSE, t + 3000);
    e.u.http.status = 101;
    e.u.http.accept_ok = 1;
    snprintf(e.u.http.upgrade, sizeof(e.u.http.upgrade), "websocket");
    snprintf(e.u.http.server, sizeof(e.u.http.server), "wsmon-test");
    e.u.http.n_cookies = 1;
    snprintf(e.u.http.cookies[0], sizeof(e.u.http.cookies[0]), "AWSALB");
    put(f, &e);
    e = ev(ep, conn, seq, EVT_OPEN, t_open);
    put(f, &e);
}

static void close_at(struct feed *f, uint32_t ep, uint32_t conn, uint32_t seq, int64_t t, int code,
                     enum evt_by by, enum evt_cause cause)
{
    struct evt e = ev(ep, conn, seq, EVT_CLOSED, t);

    e.u.closed.code = code;
    e.u.closed.by = by;
    e.u.closed.cause = cause;
    e.u.closed.frame = by == EVT_BY_SERVER;
    e.u.closed.transport = by == EVT_BY_NETWORK ? EVT_TR_EOF : EVT_TR_NONE;
    if (by == EVT_BY_SERVER)
        snprintf(e.u.closed.reason, sizeof(e.u.closed.reason), "going away");
    put(f, &e);
}

/* An upgrade answered with status (502...): a failed attempt of 5 ms. */
static void fail_http(struct feed *f, uint32_t ep, uint32_t conn, uint32_t seq, int64_t t,
                      int status)
{
    struct evt e = ev(ep, conn, seq, EVT_ATTEMPT, t);

    e.u.attempt.tls = ep == 0; /* alb is wss:// */
    put(f, &e);
    e = ev(ep, conn, seq, EVT_TCP, t + 1000);
    snprintf(e.u.tcp.remote, sizeof(e.u.tcp.remote), "127.0.0.1:8080");
    put(f, &e);
    e = ev(ep, conn, seq, EVT_REQUEST, t + 1100);
    put(f, &e);
    e = ev(ep, conn, seq, EVT_RESPONSE, t + 4000);
    e.u.http.status = status;
    e.u.http.accept_ok = -1;
    snprintf(e.u.http.server, sizeof(e.u.http.server), "awselb/2.0");
    put(f, &e);
    e = ev(ep, conn, seq, EVT_CLOSED, t + 5000);
    e.u.closed.cause = EVT_CAUSE_HTTP_STATUS;
    e.u.closed.code = 1006;
    put(f, &e);
}

static void msg(struct feed *f, uint32_t ep, uint32_t conn, uint32_t seq, int64_t t, bool out)
{
    struct evt e = ev(ep, conn, seq, EVT_MSG, t);

    e.u.msg.out = out;
    e.u.msg.len = 5;
    memcpy(e.u.msg.first, "hello", 5);
    e.u.msg.first_len = 5;
    put(f, &e);
}

static void mark(struct feed *f, uint32_t ep, int64_t t, const char *text)
{
    struct evt e = ev(ep, 0, 0, EVT_MARK, t);

    snprintf(e.u.mark.text, sizeof(e.u.mark.text), "%s", text);
    put(f, &e);
}

/* The recorder's run: from..to (store_open stamps the real clock; these scenarios are dated). */
static void set_run(const char *path, int64_t id, int64_t from, int64_t to)
{
    sqlite3 *db;
    sqlite3_stmt *st;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "UPDATE runs SET started_us = ?1, last_us = ?2, "
                                        "ended_us = ?2 WHERE id = ?3",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    sqlite3_bind_int64(st, 3, id);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static char db_main[512];

/*
 * The main scenario, one recorder run 09:59-11:01 on 2026-11-26, window 10:00-11:00:
 *
 * alb (1 connection): open 10:00:00 to 10:20:00 (1006 by the network), then three upgrades
 *   answered 502 at 10:20:30, 10:22:00, 10:24:00, open again 10:25:00 to 11:00:30 (closed by
 *   us, 1000). 100 pongs of 1..100 ms on the first attempt, 10 messages in and 3 out.
 *   Availability 55/60 = 91.667 %, one outage 10:20:00-10:25:00 (300 s, http-status 502,
 *   close 1006, 3 attempts, after the marker "deploy started" of 10:19:00).
 * direct (2 connections): conn 0 open 10:00-10:30 (1000 by us), conn 1 open 10:10-10:40
 *   (1001 by the server), conn 0 again 10:45-11:00:30. Down only 10:40-10:45: 55/60 again, one
 *   outage (closed-by-server, close 1001, no failed attempt, no http status).
 * idle (1 connection, no traffic, no pings): four attempts each open 60 s then closed by the
 *   network (1006), reopening 1 s later from 10:00:00; after the fourth close nothing reopens:
 *   four outages, the last not recovered; idle timeout 60 s.
 */
static void build_main(void)
{
    char err[512];
    int conns[3] = {1, 2, 1};
    struct feed f;

    tpath(db_main, sizeof(db_main), "main.db");
    f.s = store_open(db_main, 0, err, sizeof(err));
    assert_non_null(f.s);
    f.m = model_new(3, conns);
    store_set_endpoint(f.s, 0, "alb", "wss://127.0.0.1:8443/demo?token=s3cr3t", "demo", "lb");
    store_set_endpoint(f.s, 1, "direct", "ws://127.0.0.1:8080/demo", "demo", "direct");
    store_set_endpoint(f.s, 2, "idle", "ws://127.0.0.1:8081/", NULL, NULL);

    /* alb */
    open_at(&f, 0, 0, 1, AT(10, 0, 0));
    for (int i = 1; i <= 100; i++) {
        struct evt e = ev(0, 0, 1, EVT_PING, AT(10, 0, 0) + i * 10 * SEC - 200000);
        put(&f, &e);
        e = ev(0, 0, 1, EVT_PONG, AT(10, 0, 0) + i * 10 * SEC);
        e.u.pong.rtt_us = (uint32_t)(101 - i) * 1000; /* 100 ms down to 1 ms */
        put(&f, &e);
    }
    for (int i = 0; i < 10; i++)
        msg(&f, 0, 0, 1, AT(10, 17, i), false);
    for (int i = 0; i < 3; i++)
        msg(&f, 0, 0, 1, AT(10, 18, i), true);
    mark(&f, EVT_EP_NONE, AT(10, 19, 0), "deploy started");
    close_at(&f, 0, 0, 1, AT(10, 20, 0), 1006, EVT_BY_NETWORK, EVT_CAUSE_EOF);
    mark(&f, 1, AT(10, 19, 30), "direct only");
    fail_http(&f, 0, 0, 2, AT(10, 20, 30), 502);
    mark(&f, EVT_EP_NONE, AT(10, 21, 0), "during");
    fail_http(&f, 0, 0, 3, AT(10, 22, 0), 502);
    fail_http(&f, 0, 0, 4, AT(10, 24, 0), 502);
    open_at(&f, 0, 0, 5, AT(10, 25, 0));

    /* direct */
    open_at(&f, 1, 0, 1, AT(10, 0, 0));
    open_at(&f, 1, 1, 1, AT(10, 10, 0));
    close_at(&f, 1, 0, 1, AT(10, 30, 0), 1000, EVT_BY_CLIENT, EVT_CAUSE_NONE);
    close_at(&f, 1, 1, 1, AT(10, 40, 0), 1001, EVT_BY_SERVER, EVT_CAUSE_CLOSE_FRAME);
    open_at(&f, 1, 0, 2, AT(10, 45, 0));

    /* idle */
    for (uint32_t k = 0; k < 4; k++) {
        int64_t t = AT(10, 0, 0) + (int64_t)k * 61 * SEC;
        open_at(&f, 2, 0, k + 1, t);
        close_at(&f, 2, 0, k + 1, t + 60 * SEC, 1006, EVT_BY_NETWORK, EVT_CAUSE_EOF);
    }

    close_at(&f, 0, 0, 5, AT(11, 0, 30), 1000, EVT_BY_CLIENT, EVT_CAUSE_NONE);
    close_at(&f, 1, 0, 2, AT(11, 0, 30), 1000, EVT_BY_CLIENT, EVT_CAUSE_NONE);
    assert_int_equal(store_close(f.s), 0);
    model_free(f.m);
    set_run(db_main, 1, AT(9, 59, 0), AT(11, 1, 0));
}

static int setup_all(void **state)
{
    (void)state;
    snprintf(tmp_root, sizeof(tmp_root), "/tmp/wsmon-hist-XXXXXX");
    assert_non_null(mkdtemp(tmp_root));
    build_main();
    return 0;
}

static int teardown_all(void **state)
{
    (void)state;
    if (getenv("WSMON_TEST_KEEP")) { /* for a look at the files */
        fprintf(stderr, "# kept %s\n", tmp_root);
        return 0;
    }
    nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static const char *WINDOW[] = {"--since", "2026-11-26T10:00:00Z", "--until",
                               "2026-11-26T11:00:00Z"};

/* wsmon history VIEW --db main.db <window> --format FMT [extra...] */
static struct run hist_run(const char *view, const char *fmt, const char *e1, const char *e2)
{
    const char *args[16] = {"history", view,       "--db", db_main, WINDOW[0], WINDOW[1], WINDOW[2],
                            WINDOW[3], "--format", fmt,    e1,      e2,        NULL};
    return run_cmd(cmd_history, args);
}

/* ---- time -------------------------------------------------------------------------------- */

static void test_parse_time(void **state)
{
    int64_t now = AT(14, 30, 15) + 250000, t;

    (void)state;
    assert_int_equal(hist_parse_time("2026-11-26T14:02:00Z", now, &t), 0);
    assert_int_equal(t, AT(14, 2, 0));
    assert_int_equal(hist_parse_time("2026-11-26T14:02:00", now, &t), 0); /* UTC too */
    assert_int_equal(t, AT(14, 2, 0));
    assert_int_equal(hist_parse_time("2026-11-26 14:02", now, &t), 0);
    assert_int_equal(t, AT(14, 2, 0));
    assert_int_equal(hist_parse_time("2026-11-26T14:02:00.5Z", now, &t), 0);
    assert_int_equal(t, AT(14, 2, 0) + 500000);
    assert_int_equal(hist_parse_time("2026-11-26T16:02:00+02:00", now, &t), 0);
    assert_int_equal(t, AT(14, 2, 0));
    assert_int_equal(hist_parse_time("2026-11-26", now, &t), 0);
    assert_int_equal(t, DAY0);
    assert_int_equal(hist_parse_time("now", now, &t), 0);
    assert_int_equal(t, now);
    assert_int_equal(hist_parse_time("2h", now, &t), 0);
    assert_int_equal(t, now - 2 * 3600 * SEC);
    assert_int_equal(hist_parse_time("30m", now, &t), 0);
    assert_int_equal(t, now - 30 * MIN);
    assert_int_equal(hist_parse_time("1d", now, &t), 0);
    assert_int_equal(t, now - 86400 * SEC);
    assert_int_equal(hist_parse_time("1h30m", now, &t), 0);
    assert_int_equal(t, now - 90 * MIN);
    assert_int_equal(hist_parse_time("1w", now, &t), 0);
    assert_int_equal(t, now - 7 * 86400 * SEC);
    assert_int_equal(hist_parse_time("today", now, &t), 0);
    assert_int_equal(t, DAY0);
    assert_int_equal(hist_parse_time("yesterday", now, &t), 0);
    assert_int_equal(t, DAY0 - 86400 * SEC);
    assert_int_equal(hist_parse_time("2026-02-30", now, &t), -EINVAL);
    assert_int_equal(hist_parse_time("2026-11-26T25:00:00Z", now, &t), -EINVAL);
    assert_int_equal(hist_parse_time("2026-11-26T14:02:00Q", now, &t), -EINVAL);
    assert_int_equal(hist_parse_time("2 hours", now, &t), -EINVAL);
    assert_int_equal(hist_parse_time("-2h", now, &t), -EINVAL);
    assert_int_equal(hist_parse_time("", now, &t), -EINVAL);
    assert_int_equal(hist_parse_time("h", now, &t), -EINVAL);
}

/* ---- summary ----------------------------------------------------------------------------- */

struct sums {
    struct hist_summary s[8];
    char names[8][32];
    struct hist_code_count codes[8][8];
    size_t n;
};

static int keep_summary(void *ud, const struct hist_summary *r)
{
    struct sums *k = ud;

    assert_true(k->n < 8);
    k->s[k->n] = *r;
    snprintf(k->names[k->n], 32, "%.*s", (int)r->endpoint.n, r->endpoint.s);
    if (r->n_codes)
        memcpy(k->codes[k->n], r->codes, r->n_codes * sizeof(*r->codes));
    k->s[k->n].codes = k->codes[k->n];
    k->s[k->n].endpoint.s = k->names[k->n];
    k->s[k->n].url.s = NULL;
    k->n++;
    return 0;
}

static void test_summary_by_hand(void **state)
{
    struct hist_filter flt = {AT(10, 0, 0), AT(11, 0, 0), NULL, NULL};
    char err[512];
    struct sums k = {0};
    struct hist *h;
    const struct hist_summary *alb, *direct, *idle;

    (void)state;
    h = hist_open(db_main, err, sizeof(err));
    assert_non_null(h);
    assert_int_equal(hist_summary(h, &flt, keep_summary, &k), 0);
    hist_close(h);
    assert_int_equal(k.n, 3);
    /* by name */
    assert_string_equal(k.names[0], "alb");
    assert_string_equal(k.names[1], "direct");
    assert_string_equal(k.names[2], "idle");
    alb = &k.s[0];
    direct = &k.s[1];
    idle = &k.s[2];

    /* alb: attempts started in the window: the three 502s and the reopen (the first one
     * started 3.1 ms before 10:00) */
    assert_int_equal(alb->attempts, 4);
    assert_int_equal(alb->opened, 1);
    assert_int_equal(alb->watched_us, 60 * MIN);
    assert_int_equal(alb->up_us, 55 * MIN);
    assert_float_equal(alb->availability_pct, 100.0 * 55 / 60, 1e-9);
    assert_int_equal(alb->outages, 1);
    assert_int_equal(alb->longest_outage_us, 5 * MIN);
    assert_int_equal(alb->recover_us, 5 * MIN);
    assert_int_equal(alb->classes[DIAG_HTTP_STATUS], 3);
    assert_int_equal(alb->classes[DIAG_HEALTHY], 1);
    assert_int_equal(alb->n_codes, 2);
    assert_int_equal(alb->codes[0].code, 1000);
    assert_int_equal(alb->codes[0].n, 1);
    assert_int_equal(alb->codes[1].code, 1006);
    assert_int_equal(alb->codes[1].n, 3);
    /* 100 samples of 1..100 ms: nearest rank 50, 95, 99 */
    assert_int_equal(alb->rtt_samples, 100);
    assert_int_equal(alb->rtt_p50_us, 50000);
    assert_int_equal(alb->rtt_p95_us, 95000);
    assert_int_equal(alb->rtt_p99_us, 99000);
    /* the messages were on the first attempt, which started before the window */
    assert_int_equal(alb->messages_in, 0);
    assert_true(alb->idle_timeout_s < 0);

    assert_int_equal(direct->attempts, 2); /* conn 1 at 10:10, conn 0 again at 10:45 */
    assert_int_equal(direct->up_us, 55 * MIN);
    assert_int_equal(direct->outages, 1);
    assert_int_equal(direct->longest_outage_us, 5 * MIN);
    assert_int_equal(direct->classes[DIAG_CLOSED_BY_SERVER], 1);

    assert_int_equal(idle->attempts, 3); /* 10:01:01, 10:02:02, 10:03:03 */
    assert_int_equal(idle->outages, 4);
    assert_int_equal(idle->up_us, 4 * 60 * SEC);
    assert_float_equal(idle->idle_timeout_s, 60.0, 0.001);
    assert_int_equal(idle->longest_outage_us, AT(11, 1, 0) - AT(10, 4, 3));

    /* the whole of the records: the first alb attempt counts now, with its messages */
    flt.since_us = HIST_ALL_BEFORE;
    flt.until_us = HIST_ALL_AFTER;
    flt.endpoint = "alb";
    memset(&k, 0, sizeof(k));
    h = hist_open(db_main, err, sizeof(err));
    assert_int_equal(hist_summary(h, &flt, keep_summary, &k), 0);
    assert_int_equal(k.n, 1);
    assert_int_equal(k.s[0].attempts, 5);
    assert_int_equal(k.s[0].messages_in, 10);
    assert_int_equal(k.s[0].messages_out, 3);
    assert_int_equal(k.s[0].watched_us, 62 * MIN);
    /* 09:59-10:00 connecting for 3.1 ms then open, 10:00-10:20, 10:25-11:00:30 */
    assert_int_equal(k.s[0].up_us, 20 * MIN + 35 * MIN + 30 * SEC);
    /* an unknown endpoint is an error, not an empty answer */
    flt.endpoint = "nope";
    assert_int_equal(hist_summary(h, &flt, keep_summary, &k), -ENOENT);
    assert_non_null(strstr(hist_error(h), "nope"));
    hist_close(h);
}

static void test_summary_formats(void **state)
{
    struct run j, c, t;
    struct jv objs[8];
    size_t n;

    (void)state;
    j = hist_run("summary", "json", NULL, NULL);
    assert_int_equal(j.rc, 0);
    assert_int_equal(check_contract("summary", j.out), 0);
    n = parse_lines(j.out, objs, 8);
    assert_int_equal(n, 3);
    assert_string_equal(jstr(&objs[0], "endpoint"), "alb");
    /* secrets never reach the file, let alone the output */
    assert_string_equal(jstr(&objs[0], "url"), "wss://127.0.0.1:8443/demo?token=***");
    assert_float_equal(jnum(&objs[0], "availability_pct"), 91.667, 1e-9);
    assert_float_equal(jnum(&objs[0], "attempts"), 4, 0);
    assert_float_equal(jnum(&objs[0], "outages"), 1, 0);
    assert_float_equal(jnum(&objs[0], "longest_outage_s"), 300, 0);
    assert_float_equal(jnum(&objs[0], "classes.http-status"), 3, 0);
    assert_float_equal(jnum(&objs[0], "close_codes.1006"), 3, 0);
    assert_float_equal(jnum(&objs[0], "rtt_ms.p50"), 50, 0);
    assert_float_equal(jnum(&objs[0], "rtt_ms.p99"), 99, 0);
    assert_true(jnull(&objs[0], "idle_timeout_s"));
    assert_float_equal(jnum(&objs[2], "idle_timeout_s"), 60.0, 0);
    assert_true(jnull(&objs[1], "rtt_ms.p50"));
    for (size_t i = 0; i < n; i++)
        jv_free(&objs[i]);

    c = hist_run("summary", "csv", NULL, NULL);
    assert_int_equal(c.rc, 0);
    csv_matches_json(c.out, j.out);
    assert_non_null(strstr(c.out, "classes.closed-by-server"));

    t = hist_run("summary", "table", NULL, NULL);
    assert_int_equal(t.rc, 0);
    terminal_safe(t.out);
    fits_80(t.out);
    assert_non_null(strstr(t.out, "alb "));
    assert_non_null(strstr(t.out, "91.667"));
    assert_non_null(strstr(t.out, "5m00s"));
    assert_non_null(strstr(t.out, "http-status 3"));
    assert_non_null(strstr(t.out, "idle timeout 60.0s"));
    fprintf(stderr, "# summary table:\n%s", t.out);
    run_free(&j);
    run_free(&c);
    run_free(&t);
}

/* ---- outages ----------------------------------------------------------------------------- */

static void test_outages(void **state)
{
    struct run j, c, t;
    struct jv o[16];
    size_t n;

    (void)state;
    j = hist_run("outages", "json", NULL, NULL);
    assert_int_equal(j.rc, 0);
    assert_int_equal(check_contract("outages", j.out), 0);
    n = parse_lines(j.out, o, 16);
    /* by start: idle 10:01:00, 10:02:01, 10:03:02, 10:04:03 (not recovered), alb 10:20,
     * direct 10:40 */
    assert_int_equal(n, 6);
    assert_string_equal(jstr(&o[0], "endpoint"), "idle");
    assert_string_equal(jstr(&o[0], "start"), "2026-11-26T10:01:00.000Z");
    assert_string_equal(jstr(&o[0], "end"), "2026-11-26T10:01:01.000Z");
    assert_float_equal(jnum(&o[0], "duration_s"), 1, 0);
    assert_string_equal(jstr(&o[0], "class"), "abnormal-close");
    assert_float_equal(jnum(&o[0], "close_code"), 1006, 0);
    assert_float_equal(jnum(&o[0], "attempts"), 0, 0);

    assert_string_equal(jstr(&o[3], "endpoint"), "idle");
    assert_string_equal(jstr(&o[3], "start"), "2026-11-26T10:04:03.000Z");
    assert_true(jnull(&o[3], "end")); /* nothing reopened before the recorder stopped */
    assert_float_equal(jnum(&o[3], "duration_s"), 56 * 60 + 57, 0);

    assert_string_equal(jstr(&o[4], "endpoint"), "alb");
    assert_string_equal(jstr(&o[4], "start"), "2026-11-26T10:20:00.000Z");
    assert_string_equal(jstr(&o[4], "end"), "2026-11-26T10:25:00.000Z");
    assert_float_equal(jnum(&o[4], "duration_s"), 300, 0);
    assert_string_equal(jstr(&o[4], "class"), "http-status");
    assert_string_equal(jstr(&o[4], "cause"), "http-status");
    assert_float_equal(jnum(&o[4], "http_status"), 502, 0);
    assert_float_equal(jnum(&o[4], "close_code"), 1006, 0);
    assert_float_equal(jnum(&o[4], "attempts"), 3, 0);
    /* the nearest before 10:20 of the global and alb's own markers ("direct only" is
     * direct's, "during" is after) */
    assert_string_equal(jstr(&o[4], "marker"), "deploy started");

    assert_string_equal(jstr(&o[5], "endpoint"), "direct");
    assert_string_equal(jstr(&o[5], "start"), "2026-11-26T10:40:00.000Z");
    assert_string_equal(jstr(&o[5], "class"), "closed-by-server");
    assert_float_equal(jnum(&o[5], "close_code"), 1001, 0);
    assert_true(jnull(&o[5], "http_status"));
    assert_float_equal(jnum(&o[5], "attempts"), 0, 0);
    assert_string_equal(jstr(&o[5], "marker"), "during");
    for (size_t i = 0; i < n; i++)
        jv_free(&o[i]);

    c = hist_run("outages", "csv", NULL, NULL);
    csv_matches_json(c.out, j.out);
    t = hist_run("outages", "table", NULL, NULL);
    terminal_safe(t.out);
    fits_80(t.out);
    assert_non_null(strstr(t.out, "2026-11-26 10:20:00"));
    assert_non_null(strstr(t.out, "http-status"));
    assert_non_null(strstr(t.out, "deploy started"));
    assert_non_null(strstr(t.out, "not recovered"));
    fprintf(stderr, "# outages table:\n%s", t.out);
    run_free(&j);
    run_free(&c);
    run_free(&t);

    /* --class and --endpoint */
    j = hist_run("outages", "json", "--class", "closed-by-server");
    n = parse_lines(j.out, o, 16);
    assert_int_equal(n, 1);
    assert_string_equal(jstr(&o[0], "endpoint"), "direct");
    jv_free(&o[0]);
    run_free(&j);
    j = hist_run("outages", "json", "--endpoint", "alb");
    n = parse_lines(j.out, o, 16);
    assert_int_equal(n, 1);
    jv_free(&o[0]);
    run_free(&j);
    /* a window inside the alb outage still shows it, whole */
    {
        const char *args[] = {"history",    "outages",
                              "--db",       db_main,
                              "--since",    "2026-11-26T10:21:00",
                              "--until",    "2026-11-26T10:22:00",
                              "--endpoint", "alb",
                              "--format",   "json",
                              NULL};
        j = run_cmd(cmd_history, args);
        n = parse_lines(j.out, o, 16);
        assert_int_equal(n, 1);
        assert_string_equal(jstr(&o[0], "start"), "2026-11-26T10:20:00.000Z");
        assert_string_equal(jstr(&o[0], "end"), "2026-11-26T10:25:00.000Z");
        assert_float_equal(jnum(&o[0], "attempts"), 3, 0);
        jv_free(&o[0]);
        run_free(&j);
    }
}

/* ---- attempts ---------------------------------------------------------------------------- */

static void test_attempts(void **state)
{
    struct run j, c, t;
    struct jv o[32];
    size_t n;

    (void)state;
    j = hist_run("attempts", "json", "--endpoint", "alb");
    assert_int_equal(j.rc, 0);
    assert_int_equal(check_contract("attempts", j.out), 0);
    /* each object is the probe contract (DESIGN 3.1) plus endpoint and started */
    assert_int_equal(check_contract("probe", j.out), 0);
    n = parse_lines(j.out, o, 32);
    assert_int_equal(n, 4);
    assert_string_equal(jstr(&o[0], "started"), "2026-11-26T10:20:30.000Z");
    assert_string_equal(jstr(&o[0], "endpoint"), "alb");
    assert_string_equal(jstr(&o[0], "class"), "http-status");
    assert_string_equal(jstr(&o[0], "failed_in"), "upgrade");
    assert_float_equal(jnum(&o[0], "http.status"), 502, 0);
    assert_string_equal(jstr(&o[0], "http.server"), "awselb/2.0");
    assert_true(jnull(&o[0], "http.accept_ok"));
    assert_float_equal(jnum(&o[0], "timings_ms.upgrade"), 2.9, 1e-9);
    assert_float_equal(jnum(&o[0], "timings_ms.total"), 5.0, 1e-9);
    assert_true(jnull(&o[0], "timings_ms.open"));
    assert_float_equal(jnum(&o[0], "close.code"), 1006, 0);
    /* wss:// that never reached TLS: the object with nulls, not null */
    assert_true(jnull(&o[0], "tls.version"));
    assert_false(jnull(&o[0], "tls"));
    /* the last one: open, then closed by us */
    assert_string_equal(jstr(&o[3], "class"), "healthy");
    assert_true(jget(&o[3], "ok", NULL)->b);
    assert_float_equal(jnum(&o[3], "timings_ms.open"), 3.1, 1e-9);
    assert_string_equal(jstr(&o[3], "close.by"), "client");
    assert_float_equal(jnum(&o[3], "close.open_for_ms"), 35.5 * 60 * 1000, 1e-6);
    assert_string_equal(jget(&o[3], "http.sticky_cookies", NULL)->kids[0].str, "AWSALB");
    for (size_t i = 0; i < n; i++)
        jv_free(&o[i]);

    c = hist_run("attempts", "csv", "--endpoint", "alb");
    csv_matches_json(c.out, j.out);
    assert_non_null(strstr(c.out, "timings_ms.dns,"));
    assert_non_null(strstr(c.out, "http.sticky_cookies"));
    run_free(&c);
    run_free(&j);

    /* all endpoints: http null for ws:// without a response, close null while open */
    j = hist_run("attempts", "json", NULL, NULL);
    assert_int_equal(check_contract("probe", j.out), 0);
    n = parse_lines(j.out, o, 32);
    assert_int_equal(n, 4 + 2 + 3);
    for (size_t i = 1; i < n; i++)
        assert_true(strcmp(jstr(&o[i - 1], "started"), jstr(&o[i], "started")) <= 0);
    for (size_t i = 0; i < n; i++)
        jv_free(&o[i]);
    c = hist_run("attempts", "csv", NULL, NULL);
    csv_matches_json(c.out, j.out);
    t = hist_run("attempts", "table", NULL, NULL);
    terminal_safe(t.out);
    fits_80(t.out);
    assert_non_null(strstr(t.out, "http-status"));
    fprintf(stderr, "# attempts table (first lines):\n%.600s...\n", t.out);
    run_free(&j);
    run_free(&c);
    run_free(&t);

    j = hist_run("attempts", "json", "--class", "closed-by-server");
    n = parse_lines(j.out, o, 32);
    assert_int_equal(n, 1);
    assert_string_equal(jstr(&o[0], "endpoint"), "direct");
    assert_string_equal(jstr(&o[0], "close.reason"), "going away");
    jv_free(&o[0]);
    run_free(&j);
}

/* ---- events and markers ---------------------------------------------------------------- */

static void test_events_and_markers(void **state)
{
    struct run j, c, t;
    struct jv o[64];
    size_t n, opens = 0, closes = 0, marks = 0;

    (void)state;
    j = hist_run("events", "json", NULL, NULL);
    assert_int_equal(j.rc, 0);
    assert_int_equal(check_contract("events", j.out), 0);
    n = parse_lines(j.out, o, 64);
    for (size_t i = 0; i < n; i++) {
        const char *k = jstr(&o[i], "kind");
        opens += !strcmp(k, "open");
        closes += !strcmp(k, "closed");
        marks += !strcmp(k, "mark");
        if (!strcmp(k, "closed") && !strcmp(jstr(&o[i], "endpoint"), "alb") &&
            !strcmp(jstr(&o[i], "t"), "2026-11-26T10:20:30.005Z"))
            assert_non_null(strstr(jstr(&o[i], "text"), "502"));
        if (i > 0)
            assert_true(strcmp(jstr(&o[i - 1], "t"), jstr(&o[i], "t")) <= 0);
    }
    /* in 10:00-11:00: opens alb 2 (10:00:00, 10:25), direct 3, idle 4; closes alb 4, direct
     * 2, idle 4; markers 3 */
    assert_int_equal(opens, 9);
    assert_int_equal(closes, 10);
    assert_int_equal(marks, 3);
    for (size_t i = 0; i < n; i++)
        jv_free(&o[i]);
    c = hist_run("events", "csv", NULL, NULL);
    csv_matches_json(c.out, j.out);
    t = hist_run("events", "table", NULL, NULL);
    terminal_safe(t.out);
    fits_80(t.out);
    run_free(&j);
    run_free(&c);
    run_free(&t);

    j = hist_run("markers", "json", NULL, NULL);
    assert_int_equal(check_contract("markers", j.out), 0);
    n = parse_lines(j.out, o, 64);
    assert_int_equal(n, 3);
    assert_string_equal(jstr(&o[0], "text"), "deploy started");
    assert_true(jnull(&o[0], "endpoint"));
    assert_string_equal(jstr(&o[1], "endpoint"), "direct");
    for (size_t i = 0; i < n; i++)
        jv_free(&o[i]);
    c = hist_run("markers", "csv", NULL, NULL);
    csv_matches_json(c.out, j.out);
    t = hist_run("markers", "table", NULL, NULL);
    terminal_safe(t.out);
    fits_80(t.out);
    assert_non_null(strstr(t.out, "deploy started"));
    run_free(&j);
    run_free(&c);
    run_free(&t);

    /* --endpoint alb: alb's markers and the global ones */
    j = hist_run("markers", "json", "--endpoint", "alb");
    n = parse_lines(j.out, o, 64);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++)
        jv_free(&o[i]);
    run_free(&j);
}

/* wsmon mark writes; wsmon history reads it back. */
static void test_mark_command(void **state)
{
    char path[512];
    struct run r;
    struct jv o[4];

    (void)state;
    tpath(path, sizeof(path), "marks/sub/history.db");
    {
        const char *args[] = {"mark", "--db", path, "rollback", "done", NULL};
        r = run_cmd(cmd_mark, args);
        assert_int_equal(r.rc, 0);
        assert_non_null(strstr(r.out, "rollback done"));
        run_free(&r);
    }
    {
        const char *args[] = {"mark", "--db", path, "--endpoint", "nope", "x", NULL};
        r = run_cmd(cmd_mark, args);
        assert_int_equal(r.rc, 1);
        assert_non_null(strstr(r.err, "nope"));
        run_free(&r);
    }
    {
        const char *args[] = {"mark", "--db", path, NULL};
        r = run_cmd(cmd_mark, args);
        assert_int_equal(r.rc, 2);
        run_free(&r);
    }
    {
        const char *args[] = {"history", "markers", "--db", path, "--format", "json", NULL};
        r = run_cmd(cmd_history, args);
        assert_int_equal(r.rc, 0);
        assert_int_equal(parse_lines(r.out, o, 4), 1);
        assert_string_equal(jstr(&o[0], "text"), "rollback done");
        jv_free(&o[0]);
        run_free(&r);
    }
}

/* ---- usage and unreadable files ---------------------------------------------------------- */

static void test_usage_and_errors(void **state)
{
    char path[512];
    struct run r;
    FILE *f;

    (void)state;
    {
        const char *a[] = {"history", "--help", NULL};
        r = run_cmd(cmd_history, a);
        assert_int_equal(r.rc, 0);
        assert_non_null(strstr(r.out, "Usage: wsmon history"));
        fits_80(r.out);
        run_free(&r);
    }
    {
        const char *bad[][6] = {
            {"history", "bogus", NULL},
            {"history", "--format", "xml", NULL},
            {"history", "--since", "last tuesday", NULL},
            {"history", "--class", "on-fire", NULL},
            {"history", "summary", "--class", "http-status", NULL},
            {"history", "--since", "1h", "--until", "2h", NULL},
            {"history", "--bogus", NULL},
            {"history", "summary", "outages", NULL},
            {"history", "--db", NULL},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            r = run_cmd(cmd_history, bad[i]);
            assert_int_equal(r.rc, 2);
            assert_string_equal(r.out, "");
            assert_non_null(strstr(r.err, "Try 'wsmon history --help'"));
            run_free(&r);
        }
    }
    /* missing, empty, garbage: exit 1, one line on stderr */
    tpath(path, sizeof(path), "missing.db");
    {
        const char *a[] = {"history", "--db", path, NULL};
        r = run_cmd(cmd_history, a);
        assert_int_equal(r.rc, 1);
        assert_non_null(strstr(r.err, "no history recorded"));
        run_free(&r);
    }
    tpath(path, sizeof(path), "garbage.db");
    f = fopen(path, "w");
    fputs("\x1b]0;pwned\x07 not a database at all, and long enough to have a header........"
          "...................................",
          f);
    fclose(f);
    {
        const char *a[] = {"history", "--db", path, NULL};
        r = run_cmd(cmd_history, a);
        assert_int_equal(r.rc, 1);
        assert_non_null(strstr(r.err, "not an SQLite database"));
        run_free(&r);
    }
    /* an SQLite file of someone else's */
    tpath(path, sizeof(path), "other.db");
    {
        sqlite3 *db;
        sqlite3_open(path, &db);
        sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL);
        sqlite3_close(db);
        const char *a[] = {"history", "--db", path, NULL};
        r = run_cmd(cmd_history, a);
        assert_int_equal(r.rc, 1);
        assert_non_null(strstr(r.err, "not a wsmon history database"));
        run_free(&r);
    }
    /* no rows: table says so, CSV is a header, JSON nothing */
    {
        const char *a[] = {"history", "outages",    "--db",     db_main, "--since", "2020-01-01",
                           "--until", "2020-01-02", "--format", "csv",   NULL};
        struct csv c;
        r = run_cmd(cmd_history, a);
        assert_int_equal(r.rc, 0);
        csv_parse(r.out, &c);
        assert_int_equal(c.rows, 1);
        assert_string_equal(c.cell[0], "endpoint");
        csv_free(&c);
        run_free(&r);
    }
}

/* ---- a hostile file ---------------------------------------------------------------------- */

/* A file with everything wrong in it: escapes in every text, times and numbers out of range,
 * names of enums that do not exist, rows of runs and endpoints that do not exist. */
static void build_hostile(const char *path)
{
    char err[512], sql[6144];
    struct store *s;
    sqlite3 *db;

    s = store_open(path, 0, err, sizeof(err));
    assert_non_null(s);
    store_close(s);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    snprintf(
        sql, sizeof(sql),
        "INSERT INTO runs(id, started_us, ended_us, last_us, pid, version, rtt_hist) "
        "  VALUES(1, 0, NULL, 9223372036854775807, 1, 'x', 1),"
        "  (2, -5, -9, -9, 1, NULL, 0), (3, -9223372036854775807, NULL, 5, 1, NULL, 'yes');"
        /* histograms: negative, zero and huge counts, buckets out of range, minutes anywhere,
         * text; counts that overflow 64 bits when added */
        "INSERT INTO rtt_hist VALUES(1, 0, 5, -3), (1, 0, 99999999999, 5), (1, 0, -1, 4),"
        "  (1, 240000000, 20, 9223372036854775807), (1, 300000000, 21, 9223372036854775807),"
        "  (1, 300000000, 3327, 1),"
        "  (1, 120000000, 7, 0), (1, 7, 'x', 'y'), (1, 180000000, 3328, 1), (1, 60000001, 1, 1),"
        "  (1, -9223372036854775807, 10, 1), (1, 9223372036854775807, 10, 9223372036854775807),"
        "  (2, 60000000, 200, 200000), (2, 120000000, 12.5, 3), (2, 180000000, 300, x'00');"
        "INSERT INTO endpoints VALUES(1, char(27)||'[31mevil'||char(27)||']0;title'||char(7), "
        "  char(27)||'[2J', NULL, NULL, 0, 0);"
        "INSERT INTO endpoints VALUES(2, 'blob'||char(10)||char(13)||x'c280c29f'||x'ff', NULL, "
        "  NULL, NULL, 0, 0);"
        "INSERT INTO attempts(run_id, endpoint_id, conn, seq, started_us, opened_us, "
        "  ended_us, is_tls, reached, ready_state, have_tls, have_http, class, ok, verdict, "
        "  http_status, close_code, remote, tls_not_after_s, tls_verify, close_by, "
        "  dns_us, total_us, first_msg, msgs_in, http_cookies, open_for_us) VALUES"
        "  (1, 1, 0, 1, 100, 50, -7, 1, 'sideways', 99, 1, 1, 'bogus', 1, "
        "   char(27)||'[5m'||char(155)||'x', 'abc', 999999, char(27)||'P', "
        "   9223372036854775807, 'maybe', 'aliens', -1, 'text', x'1b5b33316d00ff', 5, "
        "   ';;'||char(27)||';', -100),"
        "  (1, 1, 0, 2, -9223372036854775807, NULL, NULL, 0, 'open', 1, 0, 0, "
        "   'http-status', 0, '', 600, 1006, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, "
        "   NULL, NULL),"
        "  (2, 2, 3, 1, 1000, 2000, 3000, 0, 'open', 3, 0, 0, 'abnormal-close', 0, 'v', "
        "   NULL, 70000, NULL, NULL, NULL, 'network', NULL, NULL, NULL, 0, NULL, 1000),"
        "  (99, 2, 0, 1, 10, 20, 30, 0, 'open', 3, 0, 0, 'healthy', 1, 'no run', NULL, "
        "   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL);"
        "INSERT INTO rtt VALUES(1, 500, 0, -5), (1, 600, 0, 99999999999), (1, 700, 0, 'x');"
        "INSERT INTO events VALUES(1, 100, 1, 0, 'open'||char(27), NULL, NULL, "
        "  char(27)||'[31m'||char(10)||'red'||char(155)||'1m'),"
        "  (2, 200, 77, NULL, x'ff', 'bogus', 'x', 12345);"
        "INSERT INTO markers VALUES(1, 150, NULL, char(27)||']8;;http://x'||char(7)||'link', "
        "NULL), (2, 160, 5, x'c0afe080', NULL);"
        /* for the replay: counters beyond any cap, a seq of 0, a huge connection index, phases
         * longer than the attempt, pings never answered, an unended attempt of an ended run */
        "INSERT INTO attempts(run_id, endpoint_id, conn, seq, started_us, opened_us, "
        "  ended_us, is_tls, reached, ready_state, have_tls, have_http, class, ok, verdict, "
        "  msgs_in, msgs_out, bytes_in, bytes_out, pings, pongs, first_message_us, open_us, "
        "  upgrade_us, tcp_us, tls_us, dns_us, first_msg, http_cookies, close_code, close_by, "
        "  close_frame, cause) VALUES"
        "  (1, 2, 0, 0, 5000, 6000, 9000, 1, 'open', 3, 1, 1, 'healthy', 1, '', "
        "   1000000000000, 7, -1, 9223372036854775807, 999999, 3, 9223372036854775807, 1000, "
        "   9223372036854775000, 500, 400, 300, x'1b5d303b7469746c6507', "
        "   'a;b;c;d;e;f;g;'||char(27)||';;', 4000, 'server', 1, 'close-frame'),"
        "  (1, 2, 2147483647, 4294967297, 7000, 7100, NULL, 0, 'open', 1, 0, 1, 'healthy', 1, "
        "   '', 0, 0, 0, 0, 0, 0, NULL, 100, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
        "   NULL, NULL),"
        "  (2, 1, 0, 1, 8000, NULL, NULL, 0, 'tcp', 0, 0, 0, 'handshake-timeout', 0, '', 0, "
        "   0, 0, 0, 0, 0, NULL, NULL, NULL, 10, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
        "   'handshake-timeout');"
        "INSERT INTO rtt VALUES(2, 6500, 0, 1000), (2, 6600, 2147483647, 4294967295),"
        "  (2, -100, 0, 5), (2, 9223372036854775807, 0, 7);"
        "INSERT INTO events VALUES(3, 6000, 2, NULL, 'health', NULL, 99999, "
        "  'health check: HTTP 1e308 in nan ms'), (4, 6100, 2, NULL, 'health', NULL, 0, "
        "  'health check failed: '||char(27)||'[2J'), (5, 6200, 2, NULL, 'health', NULL, "
        "  200, 'health check: HTTP 200 in -5 ms');");
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void test_hostile_database(void **state)
{
    char path[512], err[512];
    static const char *const views[] = {"summary", "outages", "attempts", "events", "markers"};
    static const char *const fmts[] = {"table", "csv", "json"};
    struct store *s;
    sqlite3 *db;

    (void)state;
    tpath(path, sizeof(path), "hostile.db");
    build_hostile(path);

    for (size_t v = 0; v < 5; v++) {
        for (size_t k = 0; k < 3; k++) {
            const char *a[] = {"history",  views[v],     "--db",    path,
                               "--since",  "1970-01-01", "--until", "2100-01-01",
                               "--format", fmts[k],      NULL};
            struct run r = run_cmd(cmd_history, a);
            assert_true(r.rc == 0 || r.rc == 1);
            terminal_safe(r.err);
            if (k == 0) {
                terminal_safe(r.out);
                fits_80(r.out);
            } else if (k == 2 && r.rc == 0) {
                struct jv o[32];
                size_t n = parse_lines(r.out, o, 32); /* still valid JSON lines */
                for (size_t i = 0; i < n; i++)
                    jv_free(&o[i]);
            } else if (k == 1 && r.rc == 0) {
                struct csv c;
                csv_parse(r.out, &c);
                csv_free(&c);
                /* CSV keeps the data but nothing a terminal would act on */
                assert_null(strchr(r.out, 27));
            }
            run_free(&r);
        }
    }

    /* a schema whose tables are views (code in the file): refused */
    tpath(path, sizeof(path), "views.db");
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE runs(x); CREATE TABLE endpoints(x);"
                                  "CREATE TABLE rtt(x); CREATE TABLE events(x);"
                                  "CREATE TABLE markers(x); CREATE VIEW attempts AS SELECT "
                                  "randomblob(1000000000) AS x; PRAGMA user_version = 1;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_null(hist_open(path, err, sizeof(err)));
    assert_non_null(strstr(err, "not a wsmon history database"));

    /* a newer schema: read with a warning */
    tpath(path, sizeof(path), "newer.db");
    s = store_open(path, 0, err, sizeof(err));
    store_mark(s, NULL, "from the future", 0, err, sizeof(err));
    store_close(s);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_exec(db, "PRAGMA user_version = 7", NULL, NULL, NULL);
    sqlite3_close(db);
    {
        const char *a[] = {"history", "markers", "--db", path, "--format", "json", NULL};
        struct run r = run_cmd(cmd_history, a);
        assert_int_equal(r.rc, 0);
        assert_non_null(strstr(r.err, "newer"));
        assert_non_null(strstr(r.out, "from the future"));
        run_free(&r);
    }
}

/* ---- a recorder that stopped and started again, and one writing while we read ----------- */

static void test_second_run_and_live_reader(void **state)
{
    char path[512], err[512];
    struct hist_filter flt = {HIST_ALL_BEFORE, HIST_ALL_AFTER, NULL, NULL};
    struct feed f;
    struct sums k = {0};
    struct hist *h;

    (void)state;
    tpath(path, sizeof(path), "runs.db");
    /* run 1, 10:00-10:30: open all along, closed by us at the end */
    feed_open(&f, path, "ep");
    open_at(&f, 0, 0, 1, AT(10, 0, 0));
    close_at(&f, 0, 0, 1, AT(10, 30, 0), 1000, EVT_BY_CLIENT, EVT_CAUSE_NONE);
    store_close(f.s);
    model_free(f.m);
    set_run(path, 1, AT(10, 0, 0), AT(10, 30, 0));

    /* run 2, 12:00-12:10, still going (no end): every attempt fails with 503 */
    feed_open(&f, path, "ep");
    for (uint32_t i = 0; i < 10; i++)
        fail_http(&f, 0, 0, i + 1, AT(12, (int64_t)i, 0), 503);
    assert_int_equal(store_flush(f.s), 0);
    {
        sqlite3 *db;
        sqlite3_open(path, &db);
        sqlite3_exec(db,
                     "UPDATE runs SET started_us = 1795687200000000 + 7200000000, "
                     "last_us = 1795687200000000 + 7800000000 WHERE id = 2",
                     NULL, NULL, NULL);
        sqlite3_close(db);
    }

    /* read while the store is open and writing */
    h = hist_open(path, err, sizeof(err));
    assert_non_null(h);
    assert_int_equal(hist_summary(h, &flt, keep_summary, &k), 0);
    assert_int_equal(k.n, 1);
    /* watched 30 + 10 min; open 30 of them; the gap between the runs is not an outage */
    assert_int_equal(k.s[0].watched_us, 40 * MIN);
    assert_int_equal(k.s[0].up_us, 30 * MIN);
    assert_int_equal(k.s[0].outages, 1);
    assert_int_equal(k.s[0].attempts, 11);
    assert_int_equal(k.s[0].classes[DIAG_HTTP_STATUS], 10);
    {
        struct out o = {NULL, F_JSON, 0, NULL, 0};
        char buf[4096];
        FILE *mf = fmemopen(buf, sizeof(buf), "w");
        o.f = mf;
        assert_int_equal(hist_outages(h, &flt, on_outage, &o), 0);
        fclose(mf);
        /* from the first failed attempt of run 2, not recovered */
        assert_non_null(strstr(buf, "\"start\":\"2026-11-26T12:00:00.000Z\""));
        assert_non_null(strstr(buf, "\"end\":null"));
        assert_non_null(strstr(buf, "\"http_status\":503"));
        assert_non_null(strstr(buf, "\"attempts\":10"));
        assert_null(strstr(buf, "\"close_code\":1000"));
    }
    /* the recorder goes on writing; a new reading sees it */
    fail_http(&f, 0, 0, 11, AT(12, 10, 0), 503);
    assert_int_equal(store_flush(f.s), 0);
    memset(&k, 0, sizeof(k));
    assert_int_equal(hist_summary(h, &flt, keep_summary, &k), 0);
    assert_int_equal(k.s[0].attempts, 12);
    hist_close(h);
    store_close(f.s);
    model_free(f.m);
}

/* ---- replay: stored rows back through the model ------------------------------------------ */

/* A recorder's live model (everything), the same model as it was at MID, and the store. */
struct live {
    struct model *all, *mid;
    struct store *s;
    int64_t mid_t;
    struct evt *q; /* written per endpoint, applied in time order as an engine sends them */
    size_t n;
};

#define T0  AT(14, 0, 0)
#define MID (T0 + 30 * SEC + 500000)

static void lput(struct live *l, struct evt *e)
{
    l->q = realloc(l->q, (l->n + 1) * sizeof(*l->q));
    l->q[l->n] = *e;
    l->q[l->n].t_mono_us = (int64_t)l->n; /* the order of writing, for ties */
    l->n++;
}

static int cmp_evt_t(const void *x, const void *y)
{
    const struct evt *a = x, *b = y;

    if (a->t_wall_us != b->t_wall_us)
        return a->t_wall_us < b->t_wall_us ? -1 : 1;
    return (a->t_mono_us > b->t_mono_us) - (a->t_mono_us < b->t_mono_us);
}

static void lflush(struct live *l)
{
    qsort(l->q, l->n, sizeof(*l->q), cmp_evt_t);
    for (size_t i = 0; i < l->n; i++) {
        struct evt *e = &l->q[i];

        e->t_mono_us = e->t_wall_us;
        assert_int_equal(model_apply(l->all, e), 0);
        store_sink(l->s, e, l->all);
        if (e->t_wall_us < l->mid_t)
            assert_int_equal(model_apply(l->mid, e), 0);
    }
    free(l->q);
    l->q = NULL;
    l->n = 0;
}

static void lev(struct live *l, uint32_t ep, uint32_t conn, uint32_t att, enum evt_kind k,
                int64_t t)
{
    struct evt e = ev(ep, conn, att, k, t);
    lput(l, &e);
}

/* A handshake over TLS that opens at t + 7.5 ms. */
static void l_open_tls(struct live *l, uint32_t ep, uint32_t conn, uint32_t seq, int64_t t)
{
    struct evt e = ev(ep, conn, seq, EVT_ATTEMPT, t);

    e.u.attempt.tls = true;
    lput(l, &e);
    e = ev(ep, conn, seq, EVT_DNS, t + 1000);
    snprintf(e.u.dns.addr, sizeof(e.u.dns.addr), "127.0.0.1");
    e.u.dns.n_addrs = 1;
    lput(l, &e);
    e = ev(ep, conn, seq, EVT_TCP, t + 2000);
    snprintf(e.u.tcp.remote, sizeof(e.u.tcp.remote), "127.0.0.1:8443");
    snprintf(e.u.tcp.local, sizeof(e.u.tcp.local), "127.0.0.1:50000");
    lput(l, &e);
    e = ev(ep, conn, seq, EVT_TLS, t + 5000);
    snprintf(e.u.tls.version, sizeof(e.u.tls.version), "TLSv1.3");
    snprintf(e.u.tls.cipher, sizeof(e.u.tls.cipher), "TLS_AES_256_GCM_SHA384");
    snprintf(e.u.tls.subject, sizeof(e.u.tls.subject), "CN=api.example");
    snprintf(e.u.tls.issuer, sizeof(e.u.tls.issuer), "CN=test ca");
    snprintf(e.u.tls.sans, sizeof(e.u.tls.sans), "api.example,localhost");
    e.u.tls.not_after_s = 1900000000;
    e.u.tls.verify = EVT_VERIFY_OK;
    lput(l, &e);
    lev(l, ep, conn, seq, EVT_REQUEST, t + 5100);
    e = ev(ep, conn, seq, EVT_RESPONSE, t + 7000);
    e.u.http.status = 101;
    e.u.http.accept_ok = 1;
    snprintf(e.u.http.server, sizeof(e.u.http.server), "nginx");
    snprintf(e.u.http.upgrade, sizeof(e.u.http.upgrade), "websocket");
    snprintf(e.u.http.connection, sizeof(e.u.http.connection), "Upgrade");
    snprintf(e.u.http.sticky, sizeof(e.u.http.sticky), "AWSALB#1a2b3c4d");
    e.u.http.n_cookies = 2;
    snprintf(e.u.http.cookies[0], sizeof(e.u.http.cookies[0]), "AWSALB");
    snprintf(e.u.http.cookies[1], sizeof(e.u.http.cookies[1]), "sid");
    lput(l, &e);
    lev(l, ep, conn, seq, EVT_OPEN, t + 7500);
}

static void l_open_plain(struct live *l, uint32_t ep, uint32_t conn, uint32_t seq, int64_t t)
{
    struct evt e;

    lev(l, ep, conn, seq, EVT_ATTEMPT, t);
    e = ev(ep, conn, seq, EVT_TCP, t + 300);
    snprintf(e.u.tcp.remote, sizeof(e.u.tcp.remote), "127.0.0.1:8080");
    lput(l, &e);
    lev(l, ep, conn, seq, EVT_REQUEST, t + 350);
    e = ev(ep, conn, seq, EVT_RESPONSE, t + 900);
    e.u.http.status = 101;
    e.u.http.accept_ok = 1;
    lput(l, &e);
    lev(l, ep, conn, seq, EVT_OPEN, t + 1000);
}

static void l_closed(struct live *l, uint32_t ep, uint32_t conn, uint32_t seq, int64_t t, int code,
                     enum evt_by by, enum evt_cause cause, const char *reason)
{
    struct evt e = ev(ep, conn, seq, EVT_CLOSED, t);

    e.u.closed.code = code;
    e.u.closed.by = by;
    e.u.closed.cause = cause;
    e.u.closed.frame = by == EVT_BY_SERVER;
    e.u.closed.frame_unknown = by == EVT_BY_CLIENT;
    e.u.closed.transport = by == EVT_BY_NETWORK ? EVT_TR_EOF : EVT_TR_NONE;
    if (cause == EVT_CAUSE_REFUSED) {
        e.u.closed.sys_errno = ECONNREFUSED;
        snprintf(e.u.closed.detail, sizeof(e.u.closed.detail), "connection refused");
    }
    if (reason)
        snprintf(e.u.closed.reason, sizeof(e.u.closed.reason), "%s", reason);
    lput(l, &e);
}

static void l_health(struct live *l, uint32_t ep, int64_t t, int status, uint32_t lat)
{
    struct evt e = ev(ep, 0, 0, EVT_HEALTH, t);

    e.u.health.status = status;
    e.u.health.latency_us = lat;
    if (!status)
        snprintf(e.u.health.error, sizeof(e.u.health.error), "connection refused");
    lput(l, &e);
}

/*
 * One recorder run, 13:59:59-14:01:10: api (wss, 2 connections), crash (closed by the server
 * with 1011 every 3 s), refused (every attempt refused, every 2.5 s), markers and health.
 * Returns the path; live.all / live.mid are what the dashboard showed at the end and at MID.
 */
static void build_replay_db(char *path, size_t len, struct live *l)
{
    char err[512];
    int conns[3] = {2, 1, 1};

    tpath(path, len, "replay.db");
    l->s = store_open(path, 0, err, sizeof(err));
    assert_non_null(l->s);
    l->all = model_new(3, conns);
    l->mid = model_new(3, conns);
    l->mid_t = MID;
    l->q = NULL;
    l->n = 0;
    store_set_endpoint(l->s, 0, "api", "wss://api.example:8443/ws?token=s3cr3t", "prod", "lb");
    store_set_endpoint(l->s, 1, "crash", "ws://127.0.0.1:8080/close/1011", NULL, NULL);
    store_set_endpoint(l->s, 2, "refused", "ws://127.0.0.1:9/", NULL, NULL);

    /* api #1: a message each way, 12 pongs, then a ping that is never answered */
    l_health(l, 0, T0 - 500000, 200, 1500);
    l_open_tls(l, 0, 0, 1, T0);
    {
        struct evt e = ev(0, 0, 1, EVT_MSG, T0 + 8000);
        e.u.msg.len = 5;
        memcpy(e.u.msg.first, "hello", 5);
        e.u.msg.first_len = 5;
        lput(l, &e);
        e = ev(0, 0, 1, EVT_MSG, T0 + 9000);
        e.u.msg.out = true;
        e.u.msg.len = 3;
        lput(l, &e);
    }
    for (int i = 1; i <= 12; i++) {
        struct evt e;

        lev(l, 0, 0, 1, EVT_PING, T0 + i * 5 * SEC);
        e = ev(0, 0, 1, EVT_PONG, T0 + i * 5 * SEC + 1000 * i);
        e.u.pong.rtt_us = (uint32_t)(1000 * i);
        lput(l, &e);
    }
    l_open_tls(l, 0, 1, 1, T0 + SEC);
    /* crash: open 2 s, then 1011; back 1 s later */
    for (uint32_t k = 0; k < 20; k++) {
        int64_t t = T0 + (int64_t)k * 3 * SEC + 200000;

        if (t + 2 * SEC >= T0 + 60 * SEC)
            break;
        l_open_plain(l, 1, 0, k + 1, t);
        lev(l, 1, 0, k + 1, EVT_CLOSING, t + 2 * SEC);
        l_closed(l, 1, 0, k + 1, t + 2 * SEC + 1500, 1011, EVT_BY_SERVER, EVT_CAUSE_CLOSE_FRAME,
                 "boom");
    }
    /* refused */
    for (uint32_t k = 0; k < 24; k++) {
        int64_t t = T0 + (int64_t)k * 2500000 + 100000;

        lev(l, 2, 0, k + 1, EVT_ATTEMPT, t);
        l_closed(l, 2, 0, k + 1, t + 400, 1006, EVT_BY_NETWORK, EVT_CAUSE_REFUSED, NULL);
    }
    {
        struct evt e = ev(EVT_EP_NONE, 0, 0, EVT_MARK, T0 + 30 * SEC);
        snprintf(e.u.mark.text, sizeof(e.u.mark.text), "deploy started");
        lput(l, &e);
        e = ev(1, 0, 0, EVT_MARK, T0 + 31 * SEC);
        snprintf(e.u.mark.text, sizeof(e.u.mark.text), "crash only");
        lput(l, &e);
    }
    l_health(l, 0, T0 + 40 * SEC, 503, 2000);
    l_health(l, 0, T0 + 45 * SEC, 0, 0);
    l_health(l, 0, T0 + 50 * SEC, 200, 1200);
    /* api #1 dies of its unanswered ping; both api connections end with 1001 at the stop */
    lev(l, 0, 0, 1, EVT_PING, T0 + 62 * SEC);
    l_closed(l, 0, 0, 1, T0 + 65 * SEC, 1006, EVT_BY_TIMEOUT, EVT_CAUSE_PING_TIMEOUT, NULL);
    lev(l, 0, 1, 1, EVT_CLOSING, T0 + 70 * SEC);
    l_closed(l, 0, 1, 1, T0 + 70 * SEC + 800, 1001, EVT_BY_CLIENT, EVT_CAUSE_NONE,
             "wsmon stopping");
    lflush(l);
    assert_int_equal(store_close(l->s), 0);
    set_run(path, 1, T0 - SEC, T0 + 71 * SEC);
}

/* Feed a replay of [since, until) into a fresh model; returns it. */
static struct model *replay_into(const char *path, int64_t since, int64_t until,
                                 struct hist_replay_stats *st)
{
    char err[512];
    struct hist *h = hist_open(path, err, sizeof(err));
    struct hist_replay *r;
    struct model *m;
    struct cfg cfg;
    int *conns;
    struct evt e;
    int64_t last = INT64_MIN;

    assert_non_null(h);
    r = hist_replay_load(h, since, until, err, sizeof(err));
    assert_non_null(r);
    hist_close(h);
    assert_int_equal(hist_replay_cfg(r, &cfg, err, sizeof(err)), 0);
    conns = calloc(cfg.n_eps + 1, sizeof(*conns));
    for (size_t i = 0; i < cfg.n_eps; i++)
        conns[i] = cfg.eps[i].connections;
    m = model_new(cfg.n_eps, conns);
    free(conns);
    while (hist_replay_peek(r) != INT64_MAX) {
        int64_t t = hist_replay_peek(r);

        assert_true(hist_replay_next(r, &e));
        assert_true(e.t_wall_us < until);
        assert_int_equal(e.t_mono_us, e.t_wall_us);
        /* in time order, but a PING is stamped when it was sent (before its PONG) */
        if (e.kind != EVT_PING)
            assert_true(e.t_wall_us >= last);
        assert_true(t <= e.t_wall_us || e.kind == EVT_PING);
        if (e.kind != EVT_PING)
            last = e.t_wall_us;
        if (model_apply(m, &e) != 0)
            fail_msg("the model refused a replayed %s (ep %u conn %u attempt %u)",
                     evt_kind_name(e.kind), e.ep, e.conn, e.attempt);
    }
    assert_false(hist_replay_next(r, &e));
    hist_replay_get_stats(r, st);
    /* rewound, it gives the same again */
    hist_replay_rewind(r);
    {
        size_t n = 0;
        while (hist_replay_next(r, &e))
            n++;
        assert_true(n > 0);
    }
    hist_replay_free(r);
    cfg_fini(&cfg);
    return m;
}

/* What the dashboard shows of a connection, live and replayed. full: the counters too
 * (replayed exactly at the end of an attempt, spread evenly before it). */
static void same_conn(const struct model_conn *a, const struct model_conn *b, bool full)
{
    const struct model_attempt *x = &a->cur, *y = &b->cur;

    assert_int_equal(a->attempts, b->attempts);
    assert_int_equal(a->opened, b->opened);
    assert_int_equal(a->n_ended, b->n_ended);
    assert_int_equal(a->t_state_us, b->t_state_us);
    assert_memory_equal(a->cause_counts, b->cause_counts, sizeof(a->cause_counts));
    assert_int_equal(a->n_codes, b->n_codes);
    assert_memory_equal(a->codes, b->codes, a->n_codes * sizeof(a->codes[0]));
    assert_int_equal(a->n_spark, b->n_spark);
    assert_memory_equal(a->spark, b->spark, sizeof(a->spark));
    assert_int_equal(a->life_n, b->life_n);
    assert_int_equal(a->life_sum_us, b->life_sum_us);
    assert_string_equal(a->backend, b->backend);
    for (uint32_t i = 0; i < a->n_ended && i < MODEL_HIST; i++) {
        const struct model_end *p = model_end_get(a, i), *q = model_end_get(b, i);
        assert_int_equal(p->seq, q->seq);
        assert_int_equal(p->wall_start_us, q->wall_start_us);
        assert_int_equal(p->wall_end_us, q->wall_end_us);
        assert_int_equal(p->open_for_us, q->open_for_us);
        assert_int_equal(p->cause, q->cause);
        assert_int_equal(p->by, q->by);
        assert_int_equal(p->code, q->code);
        assert_int_equal(p->http_status, q->http_status);
        assert_int_equal(p->reached, q->reached);
    }
    assert_int_equal(x->seq, y->seq);
    assert_int_equal(x->tls, y->tls);
    assert_int_equal(x->ready_state, y->ready_state);
    assert_int_equal(x->ended, y->ended);
    assert_int_equal(x->reached, y->reached);
    assert_int_equal(x->t_start_us, y->t_start_us);
    assert_int_equal(x->dns_us, y->dns_us);
    assert_int_equal(x->tcp_us, y->tcp_us);
    assert_int_equal(x->tls_us, y->tls_us);
    assert_int_equal(x->upgrade_us, y->upgrade_us);
    assert_int_equal(x->open_us, y->open_us);
    assert_int_equal(x->total_us, y->total_us);
    assert_int_equal(x->open_for_us, y->open_for_us);
    assert_string_equal(x->dns_addr, y->dns_addr);
    assert_string_equal(x->remote, y->remote);
    assert_int_equal(x->http != NULL, y->http != NULL);
    assert_int_equal(model_http_of(x)->status, model_http_of(y)->status);
    assert_string_equal(model_http_of(x)->server, model_http_of(y)->server);
    assert_string_equal(model_http_of(x)->sticky, model_http_of(y)->sticky);
    assert_int_equal(model_http_of(x)->n_cookies, model_http_of(y)->n_cookies);
    assert_int_equal(x->tls_info != NULL, y->tls_info != NULL);
    assert_string_equal(model_tls_of(x)->version, model_tls_of(y)->version);
    assert_string_equal(model_tls_of(x)->subject, model_tls_of(y)->subject);
    assert_int_equal(model_tls_of(x)->verify, model_tls_of(y)->verify);
    assert_int_equal(x->close_code, y->close_code);
    assert_int_equal(x->cause, y->cause);
    assert_int_equal(x->by, y->by);
    assert_int_equal(x->close_frame, y->close_frame);
    assert_int_equal(x->close_frame_unknown, y->close_frame_unknown);
    assert_string_equal(x->close_reason, y->close_reason);
    assert_int_equal(x->sys_errno, y->sys_errno);
    assert_string_equal(x->detail, y->detail);
    assert_int_equal(x->pongs, y->pongs);
    assert_int_equal(x->rtt_n, y->rtt_n);
    assert_int_equal(x->rtt_min_us, y->rtt_min_us);
    assert_int_equal(x->rtt_max_us, y->rtt_max_us);
    assert_int_equal(x->rtt_last_us, y->rtt_last_us);
    if (!full)
        return;
    assert_int_equal(x->pings_sent, y->pings_sent);
    assert_int_equal(x->first_message_us, y->first_message_us);
    assert_int_equal(x->msgs_in, y->msgs_in);
    assert_int_equal(x->msgs_out, y->msgs_out);
    assert_int_equal(x->bytes_in, y->bytes_in);
    assert_int_equal(x->bytes_out, y->bytes_out);
    assert_int_equal(x->first_len, y->first_len);
    assert_memory_equal(x->first, y->first, x->first_len);
    assert_int_equal(a->msgs_in, b->msgs_in);
    assert_int_equal(a->msgs_out, b->msgs_out);
    assert_int_equal(a->bytes_in, b->bytes_in);
}

static void same_model(const struct model *a, const struct model *b, bool full)
{
    assert_int_equal(a->n_eps, b->n_eps);
    for (size_t i = 0; i < a->n_eps; i++) {
        assert_int_equal(a->eps[i].n_conns, b->eps[i].n_conns);
        for (size_t k = 0; k < a->eps[i].n_conns; k++)
            same_conn(&a->eps[i].conns[k], &b->eps[i].conns[k], full);
        /* the store keeps health changes, not every poll */
        assert_int_equal(a->eps[i].health.status, b->eps[i].health.status);
        assert_int_equal(a->eps[i].health.latency_us, b->eps[i].health.latency_us);
        assert_string_equal(a->eps[i].health.error, b->eps[i].health.error);
    }
    /* the event log: the same lines */
    assert_int_equal(a->n_log, b->n_log);
    for (uint64_t i = 0; i < a->n_log && i < MODEL_LOG; i++) {
        const struct model_log *p = model_log_get(a, i), *q = model_log_get(b, i);
        if (p->kind != q->kind || p->wall_us != q->wall_us)
            fprintf(stderr,
                    "# log %" PRIu64 ": live %s ep %u at %" PRId64 ", replay %s ep %u at %" PRId64
                    "\n",
                    i, evt_kind_name(p->kind), p->ep, p->wall_us - T0, evt_kind_name(q->kind),
                    q->ep, q->wall_us - T0);
        assert_int_equal(p->kind, q->kind);
        assert_int_equal(p->ep, q->ep);
        assert_int_equal(p->conn, q->conn);
        assert_int_equal(p->wall_us, q->wall_us);
        assert_int_equal(p->code, q->code);
        assert_int_equal(p->dur_us, q->dur_us);
        assert_int_equal(p->cause, q->cause);
        assert_string_equal(p->text, q->text);
    }
}

static void test_replay_equals_live(void **state)
{
    char path[512];
    struct live l;
    struct model *m;
    struct hist_replay_stats st;

    (void)state;
    build_replay_db(path, sizeof(path), &l);

    /* the whole run: what the dashboard showed at the end, counters and all */
    m = replay_into(path, T0 - 10 * SEC, T0 + 100 * SEC, &st);
    assert_int_equal(st.endpoints, 3);
    assert_int_equal(st.attempts, 2 + 20 + 24);
    assert_int_equal(st.rtt, 12);
    assert_int_equal(st.marks, 2);
    assert_int_equal(st.health, 4); /* 200, 503, failed, 200 */
    assert_int_equal(st.msgs, 2);
    same_model(l.all, m, true);
    model_free(m);

    /* up to MID: the state then (the counters of an attempt running at MID are its last
     * snapshot, spread: not compared) */
    m = replay_into(path, T0 - 10 * SEC, MID, &st);
    same_model(l.mid, m, false);
    assert_int_equal(m->eps[1].conns[0].attempts, 11); /* crash: 0.2 s, 3.2 s, ... 30.2 s */
    assert_int_equal(m->eps[2].conns[0].attempts, 13);
    model_free(m);
    model_free(l.all);
    model_free(l.mid);
}

/* A window that starts late: the attempts running at since come from their start; the ones
 * that ended before since are not part of it. */
/* A hostile file replays without a fault: events in order, times in range, counters capped. */
static void test_replay_hostile(void **state)
{
    char path[512], err[512];
    struct hist_replay_stats st;
    struct hist_replay *r;
    struct hist *h;
    struct cfg cfg;
    struct evt e;
    size_t n = 0;
    int64_t last = INT64_MIN;

    (void)state;
    tpath(path, sizeof(path), "hostile-replay.db");
    build_hostile(path);
    h = hist_open(path, err, sizeof(err));
    assert_non_null(h);
    r = hist_replay_load(h, HIST_ALL_BEFORE, HIST_ALL_AFTER, err, sizeof(err));
    assert_non_null(r);
    hist_replay_get_stats(r, &st);
    assert_true(st.endpoints >= 1);
    assert_true(st.msgs_capped >= 1);
    assert_int_equal(hist_replay_cfg(r, &cfg, err, sizeof(err)), 0);
    {
        int conns[8] = {0};
        struct model *m;

        assert_true(cfg.n_eps <= 8);
        for (size_t i = 0; i < cfg.n_eps; i++)
            conns[i] = cfg.eps[i].connections;
        m = model_new(cfg.n_eps, conns);
        while (hist_replay_next(r, &e)) {
            assert_true(e.t_wall_us >= 0 && e.t_wall_us <= (INT64_C(1) << 54));
            assert_true(e.ep < cfg.n_eps || e.ep == EVT_EP_NONE);
            if (e.kind != EVT_PING) {
                assert_true(e.t_wall_us >= last);
                last = e.t_wall_us;
            }
            assert_int_equal(model_apply(m, &e), 0);
            n++;
        }
        /* the capped counters: HIST_REPLAY_MSGS_MAX messages in, 7 out */
        assert_true(n > HIST_REPLAY_MSGS_MAX);
        model_free(m);
    }
    cfg_fini(&cfg);
    hist_replay_free(r);
    hist_close(h);
}

static void test_replay_window(void **state)
{
    char path[512], err[512];
    struct hist_replay_stats st;
    struct model *m;
    struct hist *h;
    struct hist_replay *r;
    struct cfg cfg;

    (void)state;
    tpath(path, sizeof(path), "replay.db"); /* built by test_replay_equals_live */
    m = replay_into(path, T0 + 20 * SEC, T0 + 25 * SEC, &st);
    /* api: both connections open across since, replayed from their start */
    assert_int_equal(m->eps[0].conns[0].attempts, 1);
    assert_int_equal(m->eps[0].conns[0].cur.ready_state, 1);
    assert_int_equal(m->eps[0].conns[0].cur.t_start_us, T0);
    assert_int_equal(m->eps[0].conns[1].cur.ready_state, 1);
    /* its RTT samples from the start of the attempt to the end of the window: 5 of 12 */
    assert_int_equal(m->eps[0].conns[0].cur.pongs, 4);
    /* crash: the attempts that started in [20 s, 25 s) (and none running at 20 s: 18.2-20.2
     * ended 20.2015, so it is) */
    assert_int_equal(m->eps[1].conns[0].attempts, 3);
    assert_true(st.first_us <= T0);
    model_free(m);

    /* the configuration the monitor is built with */
    h = hist_open(path, err, sizeof(err));
    r = hist_replay_load(h, T0 - 10 * SEC, T0 + 100 * SEC, err, sizeof(err));
    assert_non_null(r);
    assert_int_equal(hist_replay_cfg(r, &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg.n_eps, 3);
    assert_string_equal(cfg.eps[0].name, "api");
    assert_int_equal(cfg.eps[0].connections, 2);
    assert_string_equal(cfg.eps[0].group, "prod");
    assert_int_equal(cfg.eps[0].via, CFG_VIA_LB);
    assert_non_null(cfg.eps[0].health);
    assert_true(cfg.eps[0].ping_ms > 0);
    assert_null(strstr(cfg.eps[0].url, "s3cr3t")); /* masked in the file */
    assert_string_equal(cfg.eps[2].name, "refused");
    assert_int_equal(cfg.eps[2].ping_ms, 0); /* no pings recorded */
    assert_null(cfg.eps[2].health);
    cfg_fini(&cfg);
    hist_replay_free(r);

    /* an empty window, and one with nothing in it */
    assert_null(hist_replay_load(h, T0, T0, err, sizeof(err)));
    r = hist_replay_load(h, AT(3, 0, 0), AT(4, 0, 0), err, sizeof(err));
    assert_non_null(r);
    hist_replay_get_stats(r, &st);
    assert_int_equal(st.endpoints, 0);
    assert_int_equal(hist_replay_peek(r), INT64_MAX);
    hist_replay_free(r);
    hist_close(h);
}

/* ---- a bigger file --------------------------------------------------------------------- */

/* ---- percentiles from the per-minute histograms ----------------------------------------- */

struct sample {
    int64_t t;
    uint32_t v;
};

static int cmp_u32(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

    return (a > b) - (a < b);
}

/* Nearest rank p of the samples in [S, U), computed here the slow way; HIST_NULL without. */
static int64_t exact_rank(const struct sample *s, size_t n, int64_t S, int64_t U, int p,
                          uint64_t *count)
{
    uint32_t *v = malloc((n + 1) * sizeof(*v));
    size_t k = 0, rank;
    int64_t r = HIST_NULL;

    for (size_t i = 0; i < n; i++)
        if (s[i].t >= S && s[i].t < U)
            v[k++] = s[i].v;
    if (k > 0) {
        qsort(v, k, sizeof(*v), cmp_u32);
        rank = (k * (size_t)p + 99) / 100;
        r = v[(rank ? rank : 1) - 1];
    }
    free(v);
    if (count)
        *count = k;
    return r;
}

static struct hist_summary summary_of(const char *path, int64_t S, int64_t U)
{
    struct hist_filter flt = {S, U, NULL, NULL};
    char err[512];
    struct sums k = {0};
    struct hist *h = hist_open(path, err, sizeof(err));

    assert_non_null(h);
    assert_int_equal(hist_summary(h, &flt, keep_summary, &k), 0);
    hist_close(h);
    assert_int_equal(k.n, 1);
    return k.s[0];
}

/* got is the middle of the bucket of want (the documented bound: within 1/256, exact below
 * RTT_HIST_EXACT_US) */
static void assert_in_bucket(int64_t got, int64_t want)
{
    assert_true(want >= 0 && want <= UINT32_MAX);
    assert_int_equal(got, rtt_hist_mid(rtt_hist_bucket((uint32_t)want)));
    assert_true(llabs(got - want) * 256 <= want);
}

/* Each percentile of [S, U): exact (raw samples) or from the histograms. */
static void check_window(const char *path, const struct sample *s, size_t n, int64_t S, int64_t U,
                         bool exact)
{
    struct hist_summary r = summary_of(path, S, U);
    static const int ps[] = {50, 95, 99};
    const int64_t got[] = {r.rtt_p50_us, r.rtt_p95_us, r.rtt_p99_us};
    uint64_t count;

    for (int i = 0; i < 3; i++) {
        int64_t want = exact_rank(s, n, S, U, ps[i], &count);
        if (exact)
            assert_int_equal(got[i], want);
        else
            assert_in_bucket(got[i], want);
    }
    assert_int_equal(r.rtt_samples, count);
}

static uint32_t lcg(uint64_t *x)
{
    *x = *x * 6364136223846793005u + 1442695040888963407u;
    return (uint32_t)(*x >> 33);
}

/* One endpoint pinged every 4 ms for ten minutes by the store (150,000 samples, 40 us to
 * 160 ms, across octaves): windows of many samples come from the histograms, within a bucket
 * of the exact nearest rank; short windows and windows of at most 100,000 samples are exact.
 * Then the raw samples of the full minutes are deleted: the histogram answers do not change
 * (they never read them), the exact ones do. */
static void test_summary_histograms(void **state)
{
    char path[512];
    const size_t n = 150000;
    struct sample *smp = calloc(n, sizeof(*smp));
    uint64_t x = 42;
    struct feed f;

    (void)state;
    tpath(path, sizeof(path), "rtthist.db");
    feed_open(&f, path, "h");
    open_at(&f, 0, 0, 1, AT(9, 59, 59));
    for (size_t i = 0; i < n; i++) {
        uint32_t e = lcg(&x) % 12, base = 40u << e;
        struct evt ev1 = ev(0, 0, 1, EVT_PONG, AT(10, 0, 0) + 2000 + (int64_t)i * 4000);

        smp[i] = (struct sample){ev1.t_wall_us, base + lcg(&x) % base};
        ev1.u.pong.rtt_us = smp[i].v;
        put(&f, &ev1);
        if (i % 20000 == 19999)
            assert_int_equal(store_flush(f.s), 0);
    }
    close_at(&f, 0, 0, 1, AT(10, 10, 1), 1000, EVT_BY_CLIENT, EVT_CAUSE_NONE);
    assert_int_equal(store_close(f.s), 0);
    model_free(f.m);
    set_run(path, 1, AT(9, 59, 0), AT(10, 11, 0));

    /* ten full minutes: histograms only */
    check_window(path, smp, n, AT(10, 0, 0), AT(10, 10, 0), false);
    /* partial minutes at both edges: 8 full minutes (120,000 samples) and raw edges */
    check_window(path, smp, n, AT(10, 0, 30) + 500000, AT(10, 9, 10) + 250000, false);
    /* a start in the first half of its minute (its histogram row less the samples before it),
     * an end after the last sample (its minute's row: a live recorder's "until now") */
    check_window(path, smp, n, AT(10, 0, 10), AT(10, 9, 59) + 999000, false);
    check_window(path, smp, n, AT(10, 0, 10), AT(10, 9, 59) + 999000 - 4000, false);
    check_window(path, smp, n, HIST_ALL_BEFORE, HIST_ALL_AFTER, false);
    /* under five minutes, and 90,000 samples: exact */
    check_window(path, smp, n, AT(10, 0, 0), AT(10, 4, 0), true);
    check_window(path, smp, n, AT(10, 0, 0), AT(10, 6, 0), true);
    check_window(path, smp, n, AT(10, 3, 7) + 1, AT(10, 3, 8), true);

    /* the raw samples of 10:01-10:09 gone: the edges and the histograms still give the same */
    {
        struct hist_summary before = summary_of(path, AT(10, 0, 30), AT(10, 9, 10));
        struct hist_summary after, ex0 = summary_of(path, AT(10, 2, 0), AT(10, 4, 0)), ex1;
        sqlite3 *db;

        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db,
                                      "DELETE FROM rtt WHERE t_us >= 1795687260000000 AND "
                                      "t_us < 1795687740000000",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_changes(db), 8 * 15000);
        sqlite3_close(db);
        after = summary_of(path, AT(10, 0, 30), AT(10, 9, 10));
        assert_int_equal(after.rtt_samples, before.rtt_samples);
        assert_int_equal(after.rtt_p50_us, before.rtt_p50_us);
        assert_int_equal(after.rtt_p95_us, before.rtt_p95_us);
        assert_int_equal(after.rtt_p99_us, before.rtt_p99_us);
        ex1 = summary_of(path, AT(10, 2, 0), AT(10, 4, 0));
        assert_int_equal(ex0.rtt_samples, 30000);
        assert_int_equal(ex1.rtt_samples, 0);
        assert_int_equal(ex1.rtt_p50_us, HIST_NULL);
    }
    /* the edge minutes from their histogram rows: the raw samples inside the window of its
     * partial minutes (10:00:10-10:01, 10:09-10:10) are not read, so deleting them changes
     * nothing; those before the start (10:00:00-10:00:10) are, and are kept */
    {
        struct hist_summary before = summary_of(path, AT(10, 0, 10), AT(10, 9, 59) + 999000);
        struct hist_summary after;
        sqlite3 *db;

        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db,
                                      "DELETE FROM rtt WHERE (t_us >= 1795687210000000 AND "
                                      "t_us < 1795687260000000) OR (t_us >= 1795687740000000 "
                                      "AND t_us < 1795687800000000)",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_changes(db), 12500 + 15000);
        sqlite3_close(db);
        after = summary_of(path, AT(10, 0, 10), AT(10, 9, 59) + 999000);
        assert_int_equal(before.rtt_samples, 150000 - 2500);
        assert_int_equal(after.rtt_samples, before.rtt_samples);
        assert_int_equal(after.rtt_p50_us, before.rtt_p50_us);
        assert_int_equal(after.rtt_p95_us, before.rtt_p95_us);
        assert_int_equal(after.rtt_p99_us, before.rtt_p99_us);
    }
    free(smp);
}

static int64_t count_rows_in(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t v = -1;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* Histograms that do not compress (values over every bucket: about 3.6 samples a row) are not
 * worth reading: 120,000 samples in ten minutes are read one by one, exact. */
static void test_summary_sparse_histograms(void **state)
{
    char path[512];
    const size_t n = 120000;
    struct sample *smp = calloc(n, sizeof(*smp));
    uint64_t x = 7;
    struct feed f;

    (void)state;
    tpath(path, sizeof(path), "sparse.db");
    feed_open(&f, path, "s");
    open_at(&f, 0, 0, 1, AT(9, 59, 59));
    for (size_t i = 0; i < n; i++) {
        uint32_t b = lcg(&x) % RTT_HIST_BUCKETS, w = rtt_hist_width(b);
        struct evt ev1 = ev(0, 0, 1, EVT_PONG, AT(10, 0, 0) + 2000 + (int64_t)i * 5000);

        smp[i] = (struct sample){ev1.t_wall_us, rtt_hist_low(b) + lcg(&x) % w};
        ev1.u.pong.rtt_us = smp[i].v;
        put(&f, &ev1);
        if (i % 20000 == 19999)
            assert_int_equal(store_flush(f.s), 0);
    }
    close_at(&f, 0, 0, 1, AT(10, 10, 1), 1000, EVT_BY_CLIENT, EVT_CAUSE_NONE);
    assert_int_equal(store_close(f.s), 0);
    model_free(f.m);
    set_run(path, 1, AT(9, 59, 0), AT(10, 11, 0));
    assert_true(count_rows_in(path, "SELECT count(*) FROM rtt_hist") > 4 * 4096);
    check_window(path, smp, n, AT(10, 0, 0), AT(10, 10, 0), true);
    free(smp);
}

/* The compiled-in schema up to and including version v: what a wsmon of that version made. */
static char *schema_upto(int v)
{
    char tag[32];
    const char *end;
    char *out;

    snprintf(tag, sizeof(tag), "\n-- version %d\n", v + 1);
    end = strstr(store_schema_sql, tag);
    assert_non_null(end);
    out = strndup(store_schema_sql, (size_t)(end - store_schema_sql) + 1);
    assert_non_null(out);
    return out;
}

/* Raw samples as wsmon 1 wrote them (no histogram rows), every 4 ms from t, all of value v. */
static void old_samples(sqlite3 *db, int64_t t, size_t n, uint32_t v, struct sample *out)
{
    sqlite3_stmt *st;

    assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT OR REPLACE INTO rtt(endpoint_id, t_us, conn, "
                                        "rtt_us) VALUES(1, ?1, 7, ?2)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    for (size_t i = 0; i < n; i++) {
        out[i] = (struct sample){t + (int64_t)i * 4000, v};
        sqlite3_bind_int64(st, 1, out[i].t);
        sqlite3_bind_int64(st, 2, v);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
}

/* A file of version 1 (made with that schema, rows as wsmon 1 wrote them: 200,000 samples of
 * 10 ms in 09:00-09:13:20), upgraded by a recorder that writes 180,000 samples of 1 ms in
 * 09:20-09:32; meanwhile an older wsmon still writing to the file adds 20,000 samples of
 * 50 ms in 09:24-09:25:20 (its run not marked). Over the whole morning: p50 10 ms (an old
 * sample), p99 50 ms (the older writer's): right only if neither is missed. */
static void test_summary_histograms_old_file(void **state)
{
    char path[512], err[512], *v1 = schema_upto(1);
    const size_t n_old = 200000, n_new = 180000, n_late = 20000;
    struct sample *smp = calloc(n_old + n_new + n_late, sizeof(*smp));
    struct feed f;
    sqlite3 *db;

    (void)state;
    tpath(path, sizeof(path), "old.db");
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(store_migrate(db, v1, err, sizeof(err)), 0);
    free(v1);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO runs(started_us, last_us, ended_us, pid, version) "
                                  "VALUES(1795683540000000, 1795684440000000, 1795684440000000, "
                                  "1, '0.1.0');"
                                  "INSERT INTO endpoints(name, url) VALUES('h', 'ws://h/');",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(AT(8, 59, 0), INT64_C(1795683540000000));
    assert_int_equal(AT(9, 14, 0), INT64_C(1795684440000000));
    old_samples(db, AT(9, 0, 0), n_old, 10000, smp);
    /* a plain attempt so that the endpoint was watched in run 1 */
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO attempts(run_id, endpoint_id, conn, seq, "
                                  "started_us, opened_us, ended_us, is_tls, reached, "
                                  "ready_state, have_tls, have_http, class, ok, verdict) "
                                  "VALUES(1, 1, 7, 1, 1795683599000000, 1795683599500000, "
                                  "1795684401000000, 0, 'open', 3, 0, 1, 'healthy', 1, 'ok')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);

    f.s = store_open(path, 0, err, sizeof(err));
    assert_non_null(f.s);
    assert_int_equal(count_rows_in(path, "PRAGMA user_version"), store_schema_version());
    f.m = model_new(1, NULL);
    store_set_endpoint(f.s, 0, "h", "ws://h/", NULL, NULL);
    open_at(&f, 0, 0, 1, AT(9, 19, 59));
    for (size_t i = 0; i < n_new; i++) {
        struct evt e = ev(0, 0, 1, EVT_PONG, AT(9, 20, 0) + (int64_t)i * 4000);

        smp[n_old + i] = (struct sample){e.t_wall_us, 1000};
        e.u.pong.rtt_us = 1000;
        put(&f, &e);
        if (i % 20000 == 19999)
            assert_int_equal(store_flush(f.s), 0);
    }
    close_at(&f, 0, 0, 1, AT(9, 32, 1), 1000, EVT_BY_CLIENT, EVT_CAUSE_NONE);
    assert_int_equal(store_close(f.s), 0);
    model_free(f.m);
    set_run(path, 2, AT(9, 19, 0), AT(9, 33, 0));

    /* the older wsmon: its run (rtt_hist left at 0) and raw rows only */
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO runs(started_us, last_us, pid, version) "
                                  "VALUES(1795684980000000, 1795685115000000, 2, '0.1.0')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(AT(9, 23, 0), INT64_C(1795684980000000));
    old_samples(db, AT(9, 24, 0) + 1, n_late, 50000, smp + n_old + n_new);
    sqlite3_close(db);

    /* the histograms hold the new recorder's samples only */
    assert_int_equal(count_rows_in(path, "SELECT sum(n) FROM rtt_hist"), (int64_t)n_new);
    check_window(path, smp, n_old + n_new + n_late, AT(8, 0, 0), AT(10, 0, 0), false);
    {
        struct hist_summary r = summary_of(path, AT(8, 0, 0), AT(10, 0, 0));
        assert_int_equal(r.rtt_samples, n_old + n_new + n_late);
        assert_int_equal(r.rtt_p50_us, rtt_hist_mid(rtt_hist_bucket(10000)));
        assert_int_equal(r.rtt_p99_us, rtt_hist_mid(rtt_hist_bucket(50000)));
        /* the new minutes: 120,000 samples from the histograms, the older writer's minutes
         * (09:22-09:26 with a minute around its run) from rtt */
        r = summary_of(path, AT(9, 20, 0), AT(9, 32, 0));
        assert_int_equal(r.rtt_samples, 200000);
        assert_int_equal(r.rtt_p50_us, rtt_hist_mid(rtt_hist_bucket(1000)));
        assert_int_equal(r.rtt_p95_us, rtt_hist_mid(rtt_hist_bucket(50000)));
    }
    free(smp);
}

static int64_t mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int count_rows(void *ud, const struct hist_summary *r)
{
    (void)r;
    (*(int *)ud)++;
    return 0;
}

static void test_query_time_200k(void **state)
{
    char path[512], err[512];
    const int n = 200000, eps = 4;
    int conns[4] = {1, 1, 1, 1}, rows = 0;
    struct feed f;
    struct hist *h;
    int64_t t0, t_hour, t_all, t_build;
    struct hist_filter flt;

    (void)state;
    tpath(path, sizeof(path), "big.db");
    t_build = mono();
    f.s = store_open(path, 0, err, sizeof(err));
    f.m = model_new((size_t)eps, conns);
    for (int e = 0; e < eps; e++) {
        char name[16];
        snprintf(name, sizeof(name), "ep%d", e);
        store_set_endpoint(f.s, (uint32_t)e, name, "ws://127.0.0.1:9/", NULL, NULL);
        open_at(&f, (uint32_t)e, 0, 1, DAY0);
    }
    /* 200k samples over ~14 h: one per second per endpoint */
    for (int i = 0; i < n; i++) {
        struct evt e = ev((uint32_t)(i % eps), 0, 1, EVT_PONG, DAY0 + SEC + (i / eps) * SEC);
        e.u.pong.rtt_us = 1000 + (uint32_t)(i % 977);
        model_apply(f.m, &e);
        store_sink(f.s, &e, f.m);
        if (i % 20000 == 19999)
            store_tick(f.s);
    }
    assert_int_equal(store_close(f.s), 0);
    model_free(f.m);
    t_build = mono() - t_build;
    set_run(path, 1, DAY0, DAY0 + (n / eps + 10) * SEC);

    h = hist_open(path, err, sizeof(err));
    flt = (struct hist_filter){DAY0 + 5 * 3600 * SEC, DAY0 + 6 * 3600 * SEC, NULL, NULL};
    t0 = mono();
    assert_int_equal(hist_summary(h, &flt, count_rows, &rows), 0);
    t_hour = mono() - t0;
    assert_int_equal(rows, eps);
    flt = (struct hist_filter){HIST_ALL_BEFORE, HIST_ALL_AFTER, NULL, NULL};
    rows = 0;
    t0 = mono();
    assert_int_equal(hist_summary(h, &flt, count_rows, &rows), 0);
    t_all = mono() - t0;
    hist_close(h);
    fprintf(stderr,
            "# %d RTT samples (%d endpoints) written in %.2f s; summary of one hour %.1f ms, "
            "of everything %.1f ms\n",
            n, eps, (double)t_build / 1e6, (double)t_hour / 1e3, (double)t_all / 1e3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_summary_by_hand),
        cmocka_unit_test(test_summary_formats),
        cmocka_unit_test(test_outages),
        cmocka_unit_test(test_attempts),
        cmocka_unit_test(test_events_and_markers),
        cmocka_unit_test(test_mark_command),
        cmocka_unit_test(test_usage_and_errors),
        cmocka_unit_test(test_hostile_database),
        cmocka_unit_test(test_second_run_and_live_reader),
        cmocka_unit_test(test_summary_histograms),
        cmocka_unit_test(test_summary_histograms_old_file),
        cmocka_unit_test(test_summary_sparse_histograms),
        cmocka_unit_test(test_query_time_200k),
        cmocka_unit_test(test_replay_equals_live),
        cmocka_unit_test(test_replay_window),
        cmocka_unit_test(test_replay_hostile),
    };

    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
