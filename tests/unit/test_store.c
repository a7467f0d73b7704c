/* SPDX-License-Identifier: MIT */
/* Store: schema and migrations on real files, batching, faults (full, read-only, locked,
 * corrupt, killed), masking, retention, markers, and what the sink costs the loop. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "evt.h"
#include "model.h"
#include "rtt_hist.h"
#include "store.h"

#define T0  1764151200000000LL /* 2025-11-26T10:00:00Z */
#define SEC 1000000LL

/* ---- temp folders and files ------------------------------------------------------------ */

static char tmp_root[256];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb;
    (void)flag;
    (void)f;
    return remove(p);
}

static int setup_tmp(void **state)
{
    (void)state;
    snprintf(tmp_root, sizeof(tmp_root), "/tmp/wsmon-store-XXXXXX");
    assert_non_null(mkdtemp(tmp_root));
    return 0;
}

static int teardown_tmp(void **state)
{
    (void)state;
    nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static void tpath(char *buf, size_t len, const char *rel)
{
    snprintf(buf, len, "%s/%s", tmp_root, rel);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

static int64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- a second connection, as wsmon history or a test would hold ------------------------ */

static sqlite3 *reader(const char *path)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static int64_t q1(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "# %s: %s\n", sql, sqlite3_errmsg(db));
        return -2;
    }
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -3 : sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static char *qs(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    char *v = NULL;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        v = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return v;
}

static int64_t count_in(const char *path, const char *sql)
{
    sqlite3 *db = reader(path);
    int64_t n = q1(db, sql);

    sqlite3_close(db);
    return n;
}

/* ---- synthetic events through the model into the sink ---------------------------------- */

struct feed {
    struct model *m;
    struct store *s;
};

static struct evt mk(uint32_t ep, uint32_t conn, uint32_t att, enum evt_kind k, int64_t t)
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

/* An attempt from its start to open (ws://, no DNS for brevity but a TCP remote). */
static void att_open(struct feed *f, uint32_t ep, uint32_t conn, uint32_t seq, int64_t t)
{
    struct evt e = mk(ep, conn, seq, EVT_ATTEMPT, t);

    put(f, &e);
    e = mk(ep, conn, seq, EVT_DNS, t + 1000);
    snprintf(e.u.dns.addr, sizeof(e.u.dns.addr), "127.0.0.1");
    put(f, &e);
    e = mk(ep, conn, seq, EVT_TCP, t + 2000);
    snprintf(e.u.tcp.remote, sizeof(e.u.tcp.remote), "127.0.0.1:8080");
    put(f, &e);
    e = mk(ep, conn, seq, EVT_REQUEST, t + 2100);
    put(f, &e);
    e = mk(ep, conn, seq, EVT_RESPONSE, t + 3000);
    e.u.http.status = 101;
    e.u.http.accept_ok = 1;
    snprintf(e.u.http.upgrade, sizeof(e.u.http.upgrade), "websocket");
    put(f, &e);
    e = mk(ep, conn, seq, EVT_OPEN, t + 3100);
    put(f, &e);
}

static void att_close(struct feed *f, uint32_t ep, uint32_t conn, uint32_t seq, int64_t t, int code,
                      enum evt_by by, enum evt_cause cause)
{
    struct evt e = mk(ep, conn, seq, EVT_CLOSED, t);

    e.u.closed.code = code;
    e.u.closed.by = by;
    e.u.closed.cause = cause;
    e.u.closed.frame = by == EVT_BY_SERVER;
    e.u.closed.transport = by == EVT_BY_NETWORK ? EVT_TR_EOF : EVT_TR_NONE;
    put(f, &e);
}

static void pong(struct feed *f, uint32_t ep, uint32_t conn, uint32_t seq, int64_t t, uint32_t rtt)
{
    struct evt e = mk(ep, conn, seq, EVT_PING, t - rtt);

    put(f, &e);
    e = mk(ep, conn, seq, EVT_PONG, t);
    e.u.pong.rtt_us = rtt;
    put(f, &e);
}

static struct model *model1(size_t n_eps)
{
    return model_new(n_eps, NULL);
}

/* ---- schema and migrations --------------------------------------------------------------- */

static void test_schema_version(void **state)
{
    (void)state;
    assert_int_equal(store_schema_version(), 2);
    assert_int_equal(store_schema_version_of("-- version 1\nX;\n-- version 2\nY;\n"), 2);
    assert_int_equal(store_schema_version_of("no sections"), 0);
    /* "-- version N" only counts alone on its line */
    assert_int_equal(store_schema_version_of("-- version 3 of something\n-- version 1\n"), 1);
}

static void test_fresh_file_folder_and_modes(void **state)
{
    char path[512], dir[512], wal[560], err[512];
    struct store *s;
    struct stat sb;
    sqlite3 *db;
    char *mode;
    mode_t old = umask(022);

    (void)state;
    tpath(dir, sizeof(dir), "state/wsmon");
    tpath(path, sizeof(path), "state/wsmon/history.db");
    s = store_open(path, 0, err, sizeof(err));
    umask(old);
    assert_non_null(s);
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    db = reader(path);
    assert_int_equal(q1(db, "PRAGMA user_version"), 2);
    mode = qs(db, "PRAGMA journal_mode");
    assert_string_equal(mode, "wal");
    free(mode);
    assert_int_equal(q1(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN "
                            "('runs','endpoints','attempts','rtt','events','markers','rtt_hist')"),
                     7);
    assert_int_equal(q1(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name IN "
                            "('attempts_ep_time','attempts_ep_openend','attempts_ep_open',"
                            "'events_time','markers_time','attempts_ep_tl')"),
                     6);
    sqlite3_close(db);
    snprintf(wal, sizeof(wal), "%s-wal", path);
    assert_int_equal(stat(wal, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(store_close(s), 0);

    /* STORE_NO_CREATE on a missing file: NULL, nothing made */
    tpath(path, sizeof(path), "nowhere/history.db");
    assert_null(store_open(path, STORE_NO_CREATE, err, sizeof(err)));
    tpath(dir, sizeof(dir), "nowhere");
    assert_int_equal(stat(dir, &sb), -1);
}

static void test_migrate_from_version0(void **state)
{
    char path[512], err[512];
    struct store *s;
    sqlite3 *db;

    (void)state;
    /* "version 0": an SQLite file someone made, with a table of its own, user_version 0 */
    tpath(path, sizeof(path), "v0.db");
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE notes(x); INSERT INTO notes VALUES('keep');",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);

    s = store_open(path, 0, err, sizeof(err));
    assert_non_null(s);
    assert_int_equal(store_close(s), 0);
    db = reader(path);
    assert_int_equal(q1(db, "PRAGMA user_version"), store_schema_version());
    assert_int_equal(q1(db, "SELECT count(*) FROM notes"), 1);
    assert_int_equal(q1(db, "SELECT count(*) FROM attempts"), 0);
    sqlite3_close(db);

    /* opening again at the newest version changes nothing */
    s = store_open(path, 0, err, sizeof(err));
    assert_non_null(s);
    assert_int_equal(store_close(s), 0);
}

/* The real schema plus a future version, applied to a file at the newest version with rows. */
static void test_migrate_forward(void **state)
{
    char path[512], err[512], *schema2, v2[256];
    const int next = store_schema_version() + 1;
    struct store *s;
    sqlite3 *db;
    size_t n;

    (void)state;
    snprintf(v2, sizeof(v2),
             "-- version %d\nALTER TABLE markers ADD COLUMN color TEXT;\n"
             "CREATE INDEX markers_color ON markers(color);\n"
             "UPDATE markers SET color = 'red';\n",
             next);
    tpath(path, sizeof(path), "fwd.db");
    s = store_open(path, 0, err, sizeof(err));
    assert_non_null(s);
    assert_int_equal(store_mark(s, NULL, "before v2", 0, err, sizeof(err)), 0);
    assert_int_equal(store_close(s), 0);

    n = strlen(store_schema_sql) + strlen(v2) + 1;
    schema2 = malloc(n);
    snprintf(schema2, n, "%s%s", store_schema_sql, v2);
    assert_int_equal(store_schema_version_of(schema2), next);

    db = reader(path);
    assert_int_equal(store_migrate(db, schema2, err, sizeof(err)), 0);
    assert_int_equal(q1(db, "PRAGMA user_version"), next);
    assert_int_equal(q1(db, "SELECT count(*) FROM markers WHERE color = 'red'"), 1);
    sqlite3_close(db);

    /* this wsmon does not know that version: the file is refused and left as it is */
    {
        size_t la, lb;
        char *before = slurp(path, &la), *after;
        assert_null(store_open(path, 0, err, sizeof(err)));
        assert_non_null(strstr(err, "newer"));
        after = slurp(path, &lb);
        assert_int_equal(la, lb);
        assert_memory_equal(before, after, la);
        free(before);
        free(after);
    }
    free(schema2);
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
    assert_int_equal(store_schema_version_of(out), v);
    return out;
}

/* SQL: the bucket of rtt_us, the one function the store uses (for comparisons in SQL). */
static void sql_bucket(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    sqlite3_int64 v = sqlite3_value_int64(argv[0]);

    (void)argc;
    if (v < 0 || v > UINT32_MAX)
        sqlite3_result_null(ctx);
    else
        sqlite3_result_int64(ctx, rtt_hist_bucket((uint32_t)v));
}

/* Rows of rtt_hist that disagree with the rtt rows (counted again here), both ways. */
static int64_t hist_mismatches(const char *path)
{
    sqlite3 *db = reader(path);
    int64_t a, b;

    assert_int_equal(sqlite3_create_function(db, "bucket", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                             NULL, sql_bucket, NULL, NULL),
                     SQLITE_OK);
#define RAW_HIST                                                                                   \
    "SELECT endpoint_id, t_us - t_us % 60000000, bucket(rtt_us), count(*) FROM rtt GROUP BY 1, "   \
    "2, 3"
    a = q1(db, "SELECT count(*) FROM (" RAW_HIST
               " EXCEPT SELECT endpoint_id, minute_us, bucket, n FROM rtt_hist)");
    b = q1(db, "SELECT count(*) FROM (SELECT endpoint_id, minute_us, bucket, n FROM rtt_hist "
               "EXCEPT " RAW_HIST ")");
#undef RAW_HIST
    sqlite3_close(db);
    assert_true(a >= 0 && b >= 0);
    return a + b;
}

/* The store counts every sample it writes in rtt_hist, in the same transaction: samples over
 * several minutes, two endpoints, values across bucket edges, spread over several
 * transactions (the counts add up), and a sample written twice counted once. */
static void test_rtt_hist_rows(void **state)
{
    static const uint32_t vals[] = {0,   1,    255,   256,     257,         258,        511,
                                    512, 1000, 65535, 1000000, 2147483648u, 4000000000u};
    char path[512], err[512];
    struct feed f;
    int64_t t0 = T0 + 59 * SEC; /* a second before a minute starts */
    int64_t n = 0;

    (void)state;
    tpath(path, sizeof(path), "rtthist.db");
    f.s = store_open(path, 0, err, sizeof(err));
    assert_non_null(f.s);
    f.m = model1(2);
    store_set_endpoint(f.s, 0, "a", "ws://127.0.0.1:9/", NULL, NULL);
    store_set_endpoint(f.s, 1, "b", "ws://127.0.0.1:9/b", NULL, NULL);
    att_open(&f, 0, 0, 1, t0 - SEC);
    att_open(&f, 1, 0, 1, t0 - SEC);
    for (int i = 0; i < 400; i++) {
        int64_t t = t0 + (int64_t)i * 500000; /* every half second: 3 minutes and more */
        pong(&f, (uint32_t)(i % 2), 0, 1, t, vals[i % 13] + (uint32_t)(i / 13 % 3));
        n++;
        if (i % 37 == 0) /* a transaction now and then */
            assert_int_equal(store_flush(f.s), 0);
    }
    assert_int_equal(store_flush(f.s), 0);
    /* the same sample again (endpoint, microsecond, connection): not counted twice */
    {
        struct evt e = mk(0, 0, 1, EVT_PONG, t0);
        e.u.pong.rtt_us = 77;
        put(&f, &e);
    }
    assert_int_equal(store_close(f.s), 0);
    model_free(f.m);

    assert_int_equal(count_in(path, "SELECT count(*) FROM rtt"), n);
    assert_int_equal(count_in(path, "SELECT sum(n) FROM rtt_hist"), n);
    assert_int_equal(count_in(path, "SELECT count(DISTINCT minute_us) FROM rtt_hist"), 5);
    assert_int_equal(count_in(path, "SELECT count(*) FROM rtt_hist WHERE minute_us % 60000000"), 0);
    assert_int_equal(hist_mismatches(path), 0);
    assert_int_equal(count_in(path, "SELECT rtt_hist FROM runs"), 1);
}

/* A file made by the previous version (1), with an old recorder's run and samples, upgraded
 * by store_open: the old run is marked as written without histograms, its samples stay, and
 * what is written from then on is counted. */
static void test_migrate_v1_file(void **state)
{
    char path[512], err[512], *v1 = schema_upto(1);
    struct feed f;
    sqlite3 *db;

    (void)state;
    tpath(path, sizeof(path), "v1.db");
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(store_migrate(db, v1, err, sizeof(err)), 0);
    assert_int_equal(q1(db, "PRAGMA user_version"), 1);
    /* what wsmon 1 wrote: its statements, as they were */
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO runs(started_us, last_us, pid, version) "
                                  "VALUES(1764151200000000, 1764151500000000, 1, 'old');"
                                  "INSERT INTO endpoints(name, url) VALUES('ep', 'ws://h/');"
                                  "INSERT OR REPLACE INTO rtt(endpoint_id, t_us, conn, rtt_us) "
                                  "VALUES(1, 1764151201000000, 0, 300), "
                                  "(1, 1764151262000000, 0, 400);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    free(v1);

    f.s = store_open(path, 0, err, sizeof(err));
    assert_non_null(f.s);
    f.m = model1(1);
    store_set_endpoint(f.s, 0, "ep", "ws://h/", NULL, NULL);
    att_open(&f, 0, 0, 1, T0 + 600 * SEC);
    pong(&f, 0, 0, 1, T0 + 601 * SEC, 500);
    assert_int_equal(store_close(f.s), 0);
    model_free(f.m);

    assert_int_equal(count_in(path, "PRAGMA user_version"), 2);
    assert_int_equal(count_in(path, "SELECT count(*) FROM runs WHERE rtt_hist = 0"), 1);
    assert_int_equal(count_in(path, "SELECT count(*) FROM runs WHERE rtt_hist = 1"), 1);
    assert_int_equal(count_in(path, "SELECT count(*) FROM rtt"), 3);
    /* only the new sample is in the histograms: the old minutes are read from rtt */
    assert_int_equal(count_in(path, "SELECT sum(n) FROM rtt_hist"), 1);
    assert_int_equal(count_in(path, "SELECT bucket FROM rtt_hist"), rtt_hist_bucket(500));
}

/* Each step in its own transaction: a failing step leaves the file at the step before. */
static void test_migrate_steps_atomic(void **state)
{
    char path[512], err[512];
    sqlite3 *db;
    const char *good = "-- version 1\nCREATE TABLE a(x);\nINSERT INTO a VALUES(1);\n"
                       "-- version 2\nALTER TABLE a ADD COLUMN y;\nUPDATE a SET y = 2;\n";
    const char *bad = "-- version 1\nCREATE TABLE a(x);\nINSERT INTO a VALUES(1);\n"
                      "-- version 2\nALTER TABLE a ADD COLUMN y;\nUPDATE a SET y = 2;\n"
                      "-- version 3\nCREATE TABLE b(z);\nTHIS IS NOT SQL;\n";

    (void)state;
    tpath(path, sizeof(path), "steps.db");
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    /* from empty (0) to 2 */
    assert_int_equal(store_migrate(db, good, err, sizeof(err)), 0);
    assert_int_equal(q1(db, "PRAGMA user_version"), 2);
    assert_int_equal(q1(db, "SELECT y FROM a"), 2);
    /* 2 to 3 fails: still 2, no table b */
    assert_true(store_migrate(db, bad, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "version 3"));
    assert_int_equal(q1(db, "PRAGMA user_version"), 2);
    assert_int_equal(q1(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'b'"), 0);
    /* from a hand-made version 1 file: only step 2 runs (step 1 would fail: a exists) */
    sqlite3_close(db);
    tpath(path, sizeof(path), "steps1.db");
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE a(x); INSERT INTO a VALUES(7); "
                                  "PRAGMA user_version = 1;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(store_migrate(db, good, err, sizeof(err)), 0);
    assert_int_equal(q1(db, "SELECT x * 10 + y FROM a"), 72);
    /* newer than known: -EROFS, untouched */
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 9", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(store_migrate(db, good, err, sizeof(err)), -EROFS);
    assert_non_null(strstr(err, "newer"));
    assert_int_equal(q1(db, "PRAGMA user_version"), 9);
    sqlite3_close(db);
}

static void test_corrupt_refused_untouched(void **state)
{
    char path[512], err[512], wal[560];
    unsigned char junk[8192];
    size_t la, lb;
    char *before, *after;
    struct stat sb;
    FILE *f;

    (void)state;
    /* garbage bytes */
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (unsigned char)(i * 7 + 13);
    tpath(path, sizeof(path), "junk.db");
    f = fopen(path, "wb");
    fwrite(junk, 1, sizeof(junk), f);
    fclose(f);
    before = slurp(path, &la);
    assert_null(store_open(path, 0, err, sizeof(err)));
    assert_non_null(strstr(err, "not an SQLite database"));
    after = slurp(path, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(before, after, la);
    free(before);
    free(after);
    snprintf(wal, sizeof(wal), "%s-wal", path);
    assert_int_equal(stat(wal, &sb), -1);

    /* a real header, then garbage pages: found by the schema read or quick_check */
    tpath(path, sizeof(path), "torn.db");
    {
        struct store *s = store_open(path, 0, err, sizeof(err));
        assert_non_null(s);
        assert_int_equal(store_mark(s, NULL, "x", 0, err, sizeof(err)), 0);
        assert_int_equal(store_close(s), 0);
    }
    f = fopen(path, "r+b");
    fseek(f, 100, SEEK_SET);
    fwrite(junk, 1, 4000, f);
    fclose(f);
    before = slurp(path, &la);
    assert_null(store_open(path, 0, err, sizeof(err)));
    after = slurp(path, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(before, after, la);
    free(before);
    free(after);
}

/* ---- batching -------------------------------------------------------------------------- */

static void test_batching_one_txn_per_tick(void **state)
{
    char path[512], err[512];
    struct store_stats st;
    struct feed f;
    sqlite3 *db;

    (void)state;
    tpath(path, sizeof(path), "batch.db");
    f.s = store_open(path, 0, err, sizeof(err));
    assert_non_null(f.s);
    f.m = model1(2);
    assert_int_equal(store_set_endpoint(f.s, 0, "alb", "ws://127.0.0.1:8080/demo", "demo", "lb"),
                     0);
    assert_int_equal(store_set_endpoint(f.s, 1, "direct", "ws://127.0.0.1:8081/", NULL, NULL), 0);

    att_open(&f, 0, 0, 1, T0);
    for (int i = 1; i <= 10; i++)
        pong(&f, 0, 0, 1, T0 + i * SEC, 1000 + (uint32_t)i);
    att_open(&f, 1, 0, 1, T0);

    db = reader(path);
    /* nothing reaches the file before a tick */
    store_get_stats(f.s, &st);
    assert_int_equal(st.transactions, 0);
    assert_int_equal(q1(db, "SELECT count(*) FROM attempts"), 0);
    assert_int_equal(q1(db, "SELECT count(*) FROM rtt"), 0);

    store_tick(f.s);
    assert_int_equal(store_flush(f.s), 0); /* waits for the writer; nothing more to hand */
    store_get_stats(f.s, &st);
    assert_int_equal(st.transactions, 1);
    assert_int_equal(q1(db, "SELECT count(*) FROM attempts"), 2);
    assert_int_equal(q1(db, "SELECT count(*) FROM rtt"), 10);
    assert_int_equal(q1(db, "SELECT count(*) FROM events WHERE kind = 'open'"), 2);
    assert_int_equal(q1(db, "SELECT count(*) FROM endpoints"), 2);
    assert_int_equal(q1(db, "SELECT count(*) FROM runs"), 1);
    assert_int_equal(q1(db, "SELECT rtt_samples FROM attempts a JOIN endpoints e ON "
                            "e.id = a.endpoint_id WHERE e.name = 'alb'"),
                     10);

    /* two more ticks: two more transactions */
    att_close(&f, 0, 0, 1, T0 + 20 * SEC, 1006, EVT_BY_NETWORK, EVT_CAUSE_EOF);
    store_tick(f.s);
    assert_int_equal(store_flush(f.s), 0);
    att_open(&f, 0, 0, 2, T0 + 21 * SEC);
    store_tick(f.s);
    assert_int_equal(store_flush(f.s), 0);
    store_get_stats(f.s, &st);
    assert_int_equal(st.transactions, 3);
    assert_int_equal(q1(db, "SELECT count(*) FROM attempts"), 3);
    assert_int_equal(q1(db, "SELECT count(*) FROM events WHERE kind = 'closed'"), 1);
    {
        char *cls = qs(db, "SELECT class FROM events WHERE kind = 'closed'");
        assert_string_equal(cls, "abnormal-close");
        free(cls);
    }
    sqlite3_close(db);
    assert_int_equal(store_close(f.s), 0);
    model_free(f.m);
}

/* The attempt row follows the attempt: written at its start, rewritten as phases complete,
 * while open (counters), and at its end with the diagnosis. */
static void test_attempt_row_updated(void **state)
{
    char path[512], err[512], *s;
    struct feed f;
    struct evt e;
    sqlite3 *db;

    (void)state;
    tpath(path, sizeof(path), "upd.db");
    f.s = store_open(path, 0, err, sizeof(err));
    assert_non_null(f.s);
    f.m = model1(1);
    store_set_endpoint(f.s, 0, "ep", "ws://127.0.0.1:9/x", NULL, NULL);
    db = reader(path);

    e = mk(0, 0, 1, EVT_ATTEMPT, T0);
    put(&f, &e);
    e = mk(0, 0, 1, EVT_DNS, T0 + 1500);
    put(&f, &e);
    store_tick(f.s);
    store_flush(f.s);
    s = qs(db, "SELECT reached FROM attempts");
    assert_string_equal(s, "dns");
    free(s);
    assert_int_equal(q1(db, "SELECT dns_us FROM attempts"), 1500);
    assert_int_equal(q1(db, "SELECT ended_us IS NULL AND opened_us IS NULL FROM attempts"), 1);

    e = mk(0, 0, 1, EVT_TCP, T0 + 2500);
    snprintf(e.u.tcp.remote, sizeof(e.u.tcp.remote), "127.0.0.1:9");
    put(&f, &e);
    e = mk(0, 0, 1, EVT_REQUEST, T0 + 2600);
    put(&f, &e);
    e = mk(0, 0, 1, EVT_RESPONSE, T0 + 4600);
    e.u.http.status = 101;
    e.u.http.accept_ok = 1;
    put(&f, &e);
    e = mk(0, 0, 1, EVT_OPEN, T0 + 4700);
    put(&f, &e);
    store_tick(f.s);
    store_flush(f.s);
    assert_int_equal(q1(db, "SELECT opened_us FROM attempts"), T0 + 4700);
    assert_int_equal(q1(db, "SELECT upgrade_us FROM attempts"), 2000);
    assert_int_equal(q1(db, "SELECT ready_state FROM attempts"), 1);

    /* messages while open: the row catches up at the next tick (dirty snapshot) */
    e = mk(0, 0, 1, EVT_MSG, T0 + 5 * SEC);
    e.u.msg.len = 4;
    memcpy(e.u.msg.first, "ping", 4);
    e.u.msg.first_len = 4;
    put(&f, &e);
    store_tick(f.s);
    store_flush(f.s);
    assert_int_equal(q1(db, "SELECT msgs_in * 100 + bytes_in FROM attempts"), 104);
    s = qs(db, "SELECT CAST(first_msg AS TEXT) FROM attempts");
    assert_string_equal(s, "ping");
    free(s);

    att_close(&f, 0, 0, 1, T0 + 60 * SEC, 1001, EVT_BY_SERVER, EVT_CAUSE_CLOSE_FRAME);
    store_tick(f.s);
    store_flush(f.s);
    assert_int_equal(q1(db, "SELECT ended_us FROM attempts"), T0 + 60 * SEC);
    assert_int_equal(q1(db, "SELECT close_code FROM attempts"), 1001);
    assert_int_equal(q1(db, "SELECT open_for_us FROM attempts"), 60 * SEC - 4700);
    s = qs(db, "SELECT class || ' ' || cause || ' ' || close_by FROM attempts");
    assert_string_equal(s, "closed-by-server close-frame server");
    free(s);
    assert_int_equal(q1(db, "SELECT ok FROM attempts"), 0);
    assert_int_equal(q1(db, "SELECT length(verdict) > 0 FROM attempts"), 1);
    assert_int_equal(q1(db, "SELECT count(*) FROM attempts"), 1);
    sqlite3_close(db);
    assert_int_equal(store_close(f.s), 0);
    model_free(f.m);
}

static void test_secrets_masked(void **state)
{
    char path[512], err[512], *s;
    struct feed f;
    struct evt e;
    sqlite3 *db;

    (void)state;
    tpath(path, sizeof(path), "mask.db");
    f.s = store_open(path, 0, err, sizeof(err));
    assert_non_null(f.s);
    f.m = model1(1);
    store_set_endpoint(f.s, 0, NULL, "wss://127.0.0.1:8443/ws?token=s3cr3t&room=1&api_key=k3y",
                       NULL, NULL);
    e = mk(0, 0, 1, EVT_ATTEMPT, T0);
    e.u.attempt.tls = true;
    put(&f, &e);
    e = mk(0, 0, 1, EVT_TCP, T0 + 100);
    put(&f, &e);
    e = mk(0, 0, 1, EVT_REQUEST, T0 + 200);
    put(&f, &e);
    e = mk(0, 0, 1, EVT_RESPONSE, T0 + 300);
    e.u.http.status = 302;
    e.u.http.accept_ok = -1;
    snprintf(e.u.http.location, sizeof(e.u.http.location),
             "https://127.0.0.1/login?session=abcdef&next=/");
    put(&f, &e);
    e = mk(0, 0, 1, EVT_CLOSED, T0 + 400);
    e.u.closed.cause = EVT_CAUSE_REDIRECT;
    e.u.closed.code = 1006;
    put(&f, &e);
    assert_int_equal(store_close(f.s), 0);
    model_free(f.m);

    db = reader(path);
    s = qs(db, "SELECT url FROM endpoints");
    assert_non_null(s);
    assert_null(strstr(s, "s3cr3t"));
    assert_null(strstr(s, "k3y"));
    assert_non_null(strstr(s, "token=***"));
    assert_non_null(strstr(s, "room=1"));
    free(s);
    /* nowhere in the file: every text column of every table */
    assert_int_equal(q1(db, "SELECT count(*) FROM attempts WHERE http_location LIKE '%abcdef%' "
                            "OR verdict LIKE '%abcdef%' OR hint LIKE '%abcdef%'"),
                     0);
    assert_int_equal(q1(db, "SELECT count(*) FROM events WHERE text LIKE '%abcdef%'"), 0);
    s = qs(db, "SELECT http_location FROM attempts");
    assert_string_equal(s, "https://127.0.0.1/login?session=***&next=/");
    free(s);
    sqlite3_close(db);
    {
        size_t n;
        char *all = slurp(path, &n);
        assert_null(memmem(all, n, "s3cr3t", 6));
        assert_null(memmem(all, n, "abcdef", 6));
        free(all);
    }
}

/* A SIGTERM'd recorder closes the store: what was never ticked is written too, the run ends. */
static void test_close_flushes(void **state)
{
    char path[512], err[512];
    struct feed f;
    sqlite3 *db;

    (void)state;
    tpath(path, sizeof(path), "close.db");
    f.s = store_open(path, 0, err, sizeof(err));
    f.m = model1(1);
    store_set_endpoint(f.s, 0, "ep", "ws://127.0.0.1:9/", NULL, NULL);
    att_open(&f, 0, 0, 1, T0);
    for (int i = 0; i < 100; i++)
        pong(&f, 0, 0, 1, T0 + (i + 1) * SEC, 500);
    {
        struct evt e = mk(0, 0, 1, EVT_MSG, T0 + 200 * SEC);
        e.u.msg.out = true;
        e.u.msg.len = 3;
        put(&f, &e);
    }
    assert_int_equal(store_close(f.s), 0);
    db = reader(path);
    assert_int_equal(q1(db, "SELECT count(*) FROM rtt"), 100);
    assert_int_equal(q1(db, "SELECT msgs_out FROM attempts"), 1);
    assert_int_equal(q1(db, "SELECT ended_us IS NOT NULL FROM runs"), 1);
    sqlite3_close(db);
    model_free(f.m);
}

/* kill -9: committed ticks survive, the tick in memory is lost, the file is sound. */
static void test_kill9_loses_last_tick_only(void **state)
{
    char path[512], err[512];
    pid_t pid;
    int status;
    sqlite3 *db;

    (void)state;
    tpath(path, sizeof(path), "kill9.db");
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct feed f;
        f.s = store_open(path, 0, err, sizeof(err));
        if (!f.s)
            _exit(3);
        f.m = model1(1);
        store_set_endpoint(f.s, 0, "ep", "ws://127.0.0.1:9/", NULL, NULL);
        for (int tick = 0; tick < 5; tick++) {
            if (tick == 0)
                att_open(&f, 0, 0, 1, T0);
            for (int i = 0; i < 100; i++)
                pong(&f, 0, 0, 1, T0 + (tick * 100 + i + 1) * 1000, 500);
            if (tick < 4) {
                store_tick(f.s);
                if (store_flush(f.s) != 0)
                    _exit(4);
            }
        }
        raise(SIGKILL); /* the fifth tick's 100 samples are in memory only */
        _exit(5);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    db = reader(path);
    assert_int_equal(q1(db, "SELECT count(*) FROM rtt"), 400);
    assert_int_equal(q1(db, "SELECT count(*) FROM attempts WHERE opened_us IS NOT NULL"), 1);
    assert_int_equal(q1(db, "SELECT ended_us IS NULL FROM runs"), 1);
    {
        char *ok = qs(db, "PRAGMA integrity_check");
        assert_string_equal(ok, "ok");
        free(ok);
    }
    sqlite3_close(db);
}

/* ---- faults ---------------------------------------------------------------------------- */

/* Child processes report through their exit status: 0 pass, 77 skip, else the failed step. */
#define CHILD_CHECK(cond, code)                                                                    \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "# child check failed (%d): %s\n", (code), #cond);                     \
            _exit(code);                                                                           \
        }                                                                                          \
    } while (0)

static int run_child(void (*fn)(const char *dir), const char *dir)
{
    pid_t pid = fork();
    int status;

    assert_true(pid >= 0);
    if (pid == 0) {
        fn(dir);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* Fill the store with n samples and return after one forced write attempt. */
static int push_samples(struct feed *f, int n, int64_t t)
{
    for (int i = 0; i < n; i++) {
        struct evt e = mk(0, 0, 1, EVT_PONG, t + i);
        e.u.pong.rtt_us = 700;
        model_apply(f->m, &e);
        store_sink(f->s, &e, f->m);
    }
    store_tick(f->s);
    return store_flush(f->s);
}

static void full_child(const char *dir, bool tmpfs)
{
    char path[512], err[512], msg[256];
    struct rlimit rl;
    struct feed f;
    enum store_state st;
    int rc;

    snprintf(path, sizeof(path), "%s/full.db", dir);
    f.s = store_open(path, 0, err, sizeof(err));
    CHILD_CHECK(f.s != NULL, 10);
    f.m = model1(1);
    store_set_endpoint(f.s, 0, "ep", "ws://127.0.0.1:9/", NULL, NULL);
    att_open(&f, 0, 0, 1, T0);
    CHILD_CHECK(push_samples(&f, 10, T0 + SEC) == 0, 11);

    if (!tmpfs) {
        signal(SIGXFSZ, SIG_IGN);
        getrlimit(RLIMIT_FSIZE, &rl);
        rl.rlim_cur = 256 * 1024;
        CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0, 12);
    }
    /* far more than 256 KiB of WAL */
    rc = push_samples(&f, 60000, T0 + 100 * SEC);
    CHILD_CHECK(rc < 0, 13);
    st = store_status(f.s, msg, sizeof(msg));
    fprintf(stderr, "# %s: status: %s\n", tmpfs ? "tmpfs" : "RLIMIT_FSIZE", msg);
    CHILD_CHECK(st == STORE_FULL, 14);
    CHILD_CHECK(strstr(msg, "full") && strstr(msg, "rows waiting"), 15);
    /* monitoring goes on: the sink keeps taking events, the rows wait in memory */
    CHILD_CHECK(push_samples(&f, 100, T0 + 200 * SEC) < 0, 16);

    /* room again: everything waiting is written */
    if (tmpfs) {
        CHILD_CHECK(mount("wsmon-test", dir, "tmpfs", MS_REMOUNT, "size=64m,mode=0700") == 0, 17);
    } else {
        rl.rlim_cur = rl.rlim_max;
        CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0, 18);
    }
    CHILD_CHECK(store_flush(f.s) == 0, 19);
    st = store_status(f.s, msg, sizeof(msg));
    CHILD_CHECK(st == STORE_OK, 20);
    CHILD_CHECK(count_in(path, "SELECT count(*) FROM rtt") == 60110, 21);
    CHILD_CHECK(store_close(f.s) == 0, 22);
    model_free(f.m);
}

static void full_rlimit_child(const char *dir)
{
    full_child(dir, false);
}

static void full_tmpfs_child(const char *dir)
{
    if (getuid() != 0 || unshare(CLONE_NEWNS) < 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("wsmon-test", dir, "tmpfs", 0, "size=512k,mode=0700") < 0)
        _exit(77);
    full_child(dir, true);
}

static void test_full_disk(void **state)
{
    char dir[512];
    int rc;

    (void)state;
    tpath(dir, sizeof(dir), "full-rlimit");
    mkdir(dir, 0700);
    assert_int_equal(run_child(full_rlimit_child, dir), 0);

    tpath(dir, sizeof(dir), "full-tmpfs");
    mkdir(dir, 0700);
    rc = run_child(full_tmpfs_child, dir);
    if (rc == 77)
        fprintf(stderr, "# tmpfs case skipped: needs root and a mount namespace\n");
    else
        assert_int_equal(rc, 0);
}

static void readonly_child(const char *dir)
{
    char path[512], err[512], msg[256];
    struct feed f;
    bool root = getuid() == 0;

    snprintf(path, sizeof(path), "%s/ro.db", dir);
    f.s = store_open(path, 0, err, sizeof(err)); /* make it, then close it */
    CHILD_CHECK(f.s && store_close(f.s) == 0, 30);
    if (root) {
        /* chmod does not stop root: a read-only bind mount in a private namespace does */
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount(dir, dir, NULL, MS_BIND, NULL) < 0 ||
            mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
            _exit(77);
    } else {
        CHILD_CHECK(chmod(path, 0400) == 0, 31);
    }
    f.s = store_open(path, 0, err, sizeof(err));
    CHILD_CHECK(f.s != NULL, 32); /* opens paused, not refused */
    CHILD_CHECK(store_status(f.s, msg, sizeof(msg)) == STORE_READONLY, 33);
    fprintf(stderr, "# read-only: status: %s\n", msg);
    f.m = model1(1);
    store_set_endpoint(f.s, 0, "ep", "ws://127.0.0.1:9/", NULL, NULL);
    att_open(&f, 0, 0, 1, T0);
    CHILD_CHECK(push_samples(&f, 50, T0 + SEC) < 0, 34);
    CHILD_CHECK(store_status(f.s, msg, sizeof(msg)) == STORE_READONLY, 35);
    CHILD_CHECK(strstr(msg, "read-only") && strstr(msg, "rows waiting"), 36);

    if (root)
        CHILD_CHECK(mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND, NULL) == 0, 37);
    else
        CHILD_CHECK(chmod(path, 0600) == 0, 38);
    if (store_flush(f.s) != 0) {
        store_status(f.s, msg, sizeof(msg));
        fprintf(stderr, "# read-only, after write access came back: %s\n", msg);
        _exit(39);
    }
    CHILD_CHECK(store_status(f.s, msg, sizeof(msg)) == STORE_OK, 40);
    CHILD_CHECK(count_in(path, "SELECT count(*) FROM rtt") == 50, 41);
    CHILD_CHECK(store_close(f.s) == 0, 42);
    model_free(f.m);
}

static void test_readonly(void **state)
{
    char dir[512];
    int rc;

    (void)state;
    tpath(dir, sizeof(dir), "ro");
    mkdir(dir, 0700);
    rc = run_child(readonly_child, dir);
    if (rc == 77) {
        skip();
        return;
    }
    assert_int_equal(rc, 0);
}

/* Another connection holds the write lock: the writer waits (its thread, not the loop's),
 * reports "locked", and writes everything once the lock goes. */
static void test_locked(void **state)
{
    char path[512], err[512], msg[256];
    struct feed f;
    sqlite3 *other;
    int64_t t, worst = 0;

    (void)state;
    tpath(path, sizeof(path), "locked.db");
    f.s = store_open(path, 0, err, sizeof(err));
    assert_non_null(f.s);
    f.m = model1(1);
    store_set_endpoint(f.s, 0, "ep", "ws://127.0.0.1:9/", NULL, NULL);
    att_open(&f, 0, 0, 1, T0);
    assert_int_equal(store_flush(f.s), 0);

    other = reader(path);
    assert_int_equal(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    for (int i = 0; i < 20; i++) {
        pong(&f, 0, 0, 1, T0 + (i + 1) * SEC, 900);
        t = mono_us();
        store_tick(f.s); /* the writer is stuck on the lock: the tick must not wait */
        t = mono_us() - t;
        worst = t > worst ? t : worst;
        usleep(100 * 1000);
    }
    fprintf(stderr, "# locked: longest store_tick while the writer waited: %lld us\n",
            (long long)worst);
    assert_true(worst < 20000);
    assert_int_equal(store_flush(f.s), -EBUSY);
    assert_int_equal(store_status(f.s, msg, sizeof(msg)), STORE_LOCKED);
    assert_non_null(strstr(msg, "locked"));
    fprintf(stderr, "# locked: status: %s\n", msg);

    assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(store_flush(f.s), 0);
    assert_int_equal(store_status(f.s, msg, sizeof(msg)), STORE_OK);
    assert_int_equal(q1(other, "SELECT count(*) FROM rtt"), 20);
    sqlite3_close(other);
    assert_int_equal(store_close(f.s), 0);
    model_free(f.m);
}

/* While the database fails, batches wait in memory up to a cap; then the oldest go. */
static void test_queue_cap_drops_oldest(void **state)
{
    char path[512], err[512], msg[256];
    struct store_stats st;
    struct feed f;
    sqlite3 *other;

    (void)state;
    tpath(path, sizeof(path), "cap.db");
    f.s = store_open(path, 0, err, sizeof(err));
    f.m = model1(1);
    store_set_endpoint(f.s, 0, "ep", "ws://127.0.0.1:9/", NULL, NULL);
    att_open(&f, 0, 0, 1, T0);
    assert_int_equal(store_flush(f.s), 0);
    other = reader(path);
    assert_int_equal(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    /* 5 ticks of STORE_QUEUE_MAX_ROWS / 2 samples each */
    for (int k = 0; k < 5; k++) {
        for (int i = 0; i < STORE_QUEUE_MAX_ROWS / 2; i++) {
            struct evt e = mk(0, 0, 1, EVT_PONG, T0 + SEC + k * 10 * SEC + i);
            e.u.pong.rtt_us = 100;
            model_apply(f.m, &e);
            store_sink(f.s, &e, f.m);
        }
        store_tick(f.s);
    }
    store_get_stats(f.s, &st);
    assert_true(st.rows_dropped >= STORE_QUEUE_MAX_ROWS / 2);
    assert_true(st.rows_waiting <= STORE_QUEUE_MAX_ROWS + STORE_QUEUE_MAX_ROWS / 2);
    store_status(f.s, msg, sizeof(msg));
    assert_non_null(strstr(msg, "rows dropped"));
    fprintf(stderr, "# cap: %s\n", msg);
    assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(store_flush(f.s), 0);
    store_get_stats(f.s, &st);
    /* the newest survived: the last tick's samples are all there */
    assert_int_equal(q1(other, "SELECT count(*) FROM rtt WHERE t_us >= 1764151241000000"),
                     STORE_QUEUE_MAX_ROWS / 2);
    /* every sample is either in the file or counted as dropped (the count also holds the
     * attempt's snapshots, one per tick) */
    assert_in_range((uint64_t)q1(other, "SELECT count(*) FROM rtt") + st.rows_dropped,
                    5 * (STORE_QUEUE_MAX_ROWS / 2), 5 * (STORE_QUEUE_MAX_ROWS / 2) + 5);
    sqlite3_close(other);
    assert_int_equal(store_close(f.s), 0);
    model_free(f.m);
}

/* wsmon history reads while the recorder commits: never blocked, always a consistent view. */
struct reader_arg {
    const char *path;
    volatile int stop;
    int reads, errors;
};

static void *reader_main(void *p)
{
    struct reader_arg *r = p;
    sqlite3 *db = NULL;

    sqlite3_open_v2(r->path, &db, SQLITE_OPEN_READONLY, NULL);
    while (!r->stop) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, "SELECT count(*) FROM rtt", -1, &st, NULL) != SQLITE_OK ||
            sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int64(st, 0) % 1000 != 0)
            r->errors++; /* each commit adds 1000 samples: a torn view shows up here */
        sqlite3_finalize(st);
        r->reads++;
    }
    sqlite3_close(db);
    return NULL;
}

static void test_reader_while_writing(void **state)
{
    char path[512], err[512];
    struct reader_arg r = {0};
    pthread_t th;
    struct feed f;

    (void)state;
    tpath(path, sizeof(path), "rw.db");
    f.s = store_open(path, 0, err, sizeof(err));
    f.m = model1(1);
    store_set_endpoint(f.s, 0, "ep", "ws://127.0.0.1:9/", NULL, NULL);
    assert_int_equal(store_flush(f.s), 0);
    r.path = path;
    pthread_create(&th, NULL, reader_main, &r);
    att_open(&f, 0, 0, 1, T0);
    store_tick(f.s);
    assert_int_equal(store_flush(f.s), 0);
    for (int k = 0; k < 50; k++)
        assert_int_equal(push_samples(&f, 1000, T0 + SEC + k * 1000000LL), 0);
    r.stop = 1;
    pthread_join(th, NULL);
    fprintf(stderr, "# reader: %d reads during 50 commits, %d errors\n", r.reads, r.errors);
    assert_int_equal(r.errors, 0);
    assert_true(r.reads > 0);
    assert_int_equal(count_in(path, "SELECT count(*) FROM rtt"), 50000);
    assert_int_equal(store_close(f.s), 0);
    model_free(f.m);
}

/* ---- markers and retention ---------------------------------------------------------------- */

static void test_markers(void **state)
{
    char path[512], err[512], *s;
    struct feed f;
    struct evt e;
    sqlite3 *db;

    (void)state;
    tpath(path, sizeof(path), "mark.db");
    f.s = store_open(path, 0, err, sizeof(err));
    f.m = model1(1);
    store_set_endpoint(f.s, 0, "alb", "ws://127.0.0.1:9/", NULL, NULL);
    /* the m key: through the sink */
    e = mk(EVT_EP_NONE, 0, 0, EVT_MARK, T0);
    snprintf(e.u.mark.text, sizeof(e.u.mark.text), "deploy started");
    put(&f, &e);
    e = mk(0, 0, 0, EVT_MARK, T0 + SEC);
    snprintf(e.u.mark.text, sizeof(e.u.mark.text), "alb only");
    put(&f, &e);
    assert_int_equal(store_flush(f.s), 0);

    /* wsmon mark: a second store on the same file, while the first one runs */
    {
        struct store *s2 = store_open(path, STORE_NO_CREATE, err, sizeof(err));
        assert_non_null(s2);
        assert_int_equal(store_mark(s2, "alb", "from the cli", T0 + 2 * SEC, err, sizeof(err)), 0);
        assert_int_equal(store_mark(s2, "nope", "x", 0, err, sizeof(err)), -ENOENT);
        assert_non_null(strstr(err, "nope"));
        assert_int_equal(store_close(s2), 0);
    }
    assert_int_equal(store_close(f.s), 0);
    model_free(f.m);

    db = reader(path);
    assert_int_equal(q1(db, "SELECT count(*) FROM markers"), 3);
    assert_int_equal(q1(db, "SELECT count(*) FROM markers WHERE endpoint_id IS NULL"), 1);
    assert_int_equal(q1(db, "SELECT count(*) FROM events WHERE kind = 'mark'"), 3);
    s = qs(db, "SELECT group_concat(source || ':' || text, '|') FROM "
               "(SELECT * FROM markers ORDER BY t_us)");
    assert_string_equal(s, "key:deploy started|key:alb only|cli:from the cli");
    free(s);
    sqlite3_close(db);
}

static void test_retention_in_steps(void **state)
{
    char path[512], err[512];
    struct store_stats st;
    struct feed f;
    int64_t now = (int64_t)time(NULL) * SEC, old = now - 10 * 86400 * SEC;
    uint64_t txn0;
    int jobs = 0;

    (void)state;
    tpath(path, sizeof(path), "retain.db");
    f.s = store_open(path, 0, err, sizeof(err));
    f.m = model1(1);
    store_set_endpoint(f.s, 0, "ep", "ws://127.0.0.1:9/", NULL, NULL);
    att_open(&f, 0, 0, 1, old);
    for (int i = 0; i < 2500; i++)
        pong(&f, 0, 0, 1, old + (i + 1) * 1000, 100);
    att_close(&f, 0, 0, 1, old + 10 * SEC, 1006, EVT_BY_NETWORK, EVT_CAUSE_EOF);
    att_open(&f, 0, 0, 2, now - SEC);
    for (int i = 0; i < 10; i++)
        pong(&f, 0, 0, 2, now - SEC + (i + 1) * 1000, 100);
    assert_int_equal(store_flush(f.s), 0);
    assert_int_equal(count_in(path, "SELECT count(*) FROM rtt"), 2510);
    assert_int_equal(count_in(path, "SELECT sum(n) FROM rtt_hist"), 2510);

    store_get_stats(f.s, &st);
    txn0 = st.transactions;
    store_set_retention(f.s, 86400);
    /* each write deletes at most STORE_PRUNE_STEP rows per table: 2500 old samples take at
     * least three transactions */
    do {
        store_tick(f.s);
        assert_int_equal(store_flush(f.s), 0);
        jobs++;
    } while (count_in(path, "SELECT count(*) FROM rtt") > 10 && jobs < 20);
    store_get_stats(f.s, &st);
    fprintf(stderr, "# retention: %llu rows pruned in %llu transactions\n",
            (unsigned long long)st.rows_pruned, (unsigned long long)(st.transactions - txn0));
    assert_true(st.transactions - txn0 >= 3);
    assert_int_equal(count_in(path, "SELECT count(*) FROM rtt"), 10);
    /* the histogram minutes of the pruned samples went with them */
    assert_int_equal(count_in(path, "SELECT sum(n) FROM rtt_hist"), 10);
    assert_int_equal(hist_mismatches(path), 0);
    store_tick(f.s);
    store_flush(f.s);
    assert_int_equal(count_in(path, "SELECT count(*) FROM attempts"), 1);
    assert_int_equal(count_in(path, "SELECT count(*) FROM events WHERE t_us < "
                                    "(SELECT max(t_us) FROM events) - 86400000000"),
                     0);
    assert_int_equal(store_close(f.s), 0);
    model_free(f.m);
}

/* ---- cost on the loop ------------------------------------------------------------------- */

static void test_sink_cost_and_write_rate(void **state)
{
    char path[512], err[512];
    struct store_stats st;
    struct feed f;
    const int conns = 100, n = 200000;
    int conns_per[1] = {100};
    int64_t t, sink_us = 0, tick_worst = 0, w0;
    uint64_t rows0;

    (void)state;
    tpath(path, sizeof(path), "cost.db");
    f.s = store_open(path, 0, err, sizeof(err));
    f.m = model_new(1, conns_per);
    store_set_endpoint(f.s, 0, "ep", "ws://127.0.0.1:9/", NULL, NULL);
    for (int c = 0; c < conns; c++)
        att_open(&f, 0, (uint32_t)c, 1, T0);
    assert_int_equal(store_flush(f.s), 0);
    store_get_stats(f.s, &st);
    rows0 = st.rows_written;

    /* pongs and messages, as 100 connections produce them, ticking every 10000 events */
    w0 = mono_us();
    for (int i = 0; i < n; i++) {
        struct evt e =
            mk(0, (uint32_t)(i % conns), 1, (i & 1) ? EVT_PONG : EVT_MSG, T0 + SEC + i * 10);
        if (e.kind == EVT_MSG)
            e.u.msg.len = 20;
        else
            e.u.pong.rtt_us = 800;
        model_apply(f.m, &e);
        t = mono_us();
        store_sink(f.s, &e, f.m);
        sink_us += mono_us() - t;
        if (i % 10000 == 9999) {
            t = mono_us();
            store_tick(f.s);
            t = mono_us() - t;
            tick_worst = t > tick_worst ? t : tick_worst;
        }
    }
    assert_int_equal(store_flush(f.s), 0);
    w0 = mono_us() - w0;
    store_get_stats(f.s, &st);
    fprintf(stderr,
            "# loop cost: store_sink %.3f us/event (%d events), longest store_tick %lld us\n",
            (double)sink_us / n, n, (long long)tick_worst);
    fprintf(stderr, "# writer: %llu rows in %.3f s = %.0f rows/s, longest transaction %lld us\n",
            (unsigned long long)(st.rows_written - rows0), (double)w0 / 1e6,
            (double)(st.rows_written - rows0) / ((double)w0 / 1e6), (long long)st.max_txn_us);
    assert_int_equal(count_in(path, "SELECT count(*) FROM rtt"), n / 2);
    assert_int_equal(store_close(f.s), 0);
    model_free(f.m);
}

static void test_default_path(void **state)
{
    char buf[512];
    char *old_state = getenv("XDG_STATE_HOME") ? strdup(getenv("XDG_STATE_HOME")) : NULL;

    (void)state;
    setenv("XDG_STATE_HOME", "/x/state", 1);
    assert_int_equal(store_default_path(buf, sizeof(buf)), 0);
    assert_string_equal(buf, "/x/state/wsmon/history.db");
    setenv("XDG_STATE_HOME", "relative", 1);
    setenv("HOME", "/home/u", 1);
    assert_int_equal(store_default_path(buf, sizeof(buf)), 0);
    assert_string_equal(buf, "/home/u/.local/state/wsmon/history.db");
    assert_int_equal(store_default_path(buf, 8), -ENOSPC);
    if (old_state)
        setenv("XDG_STATE_HOME", old_state, 1);
    else
        unsetenv("XDG_STATE_HOME");
    free(old_state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_version),
        cmocka_unit_test(test_default_path),
        cmocka_unit_test(test_fresh_file_folder_and_modes),
        cmocka_unit_test(test_migrate_from_version0),
        cmocka_unit_test(test_migrate_forward),
        cmocka_unit_test(test_migrate_steps_atomic),
        cmocka_unit_test(test_migrate_v1_file),
        cmocka_unit_test(test_rtt_hist_rows),
        cmocka_unit_test(test_corrupt_refused_untouched),
        cmocka_unit_test(test_batching_one_txn_per_tick),
        cmocka_unit_test(test_attempt_row_updated),
        cmocka_unit_test(test_secrets_masked),
        cmocka_unit_test(test_close_flushes),
        cmocka_unit_test(test_kill9_loses_last_tick_only),
        cmocka_unit_test(test_full_disk),
        cmocka_unit_test(test_readonly),
        cmocka_unit_test(test_locked),
        cmocka_unit_test(test_queue_cap_drops_oldest),
        cmocka_unit_test(test_reader_while_writing),
        cmocka_unit_test(test_markers),
        cmocka_unit_test(test_retention_in_steps),
        cmocka_unit_test(test_sink_cost_and_write_rate),
    };

    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
