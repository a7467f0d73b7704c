/* SPDX-License-Identifier: MIT */
/* The history database: the sink fills in-memory batches, one writer thread commits them. */
#include "config.h"

#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "diag.h"
#include "evt.h"
#include "log.h"
#include "model.h"
#include "rtt_hist.h"
#include "url.h"
#include "xmem.h"

/* Threads. The loop thread owns the current batch, the queue of batches waiting after a
 * failure, the endpoint registry and the per-connection slots; it never touches SQLite. The
 * writer thread owns the connection and every prepared statement. They meet under `mu`, which
 * neither holds while doing anything slow: the writer takes a job (a chain of batches) and
 * gives back a result; the loop hands a job only when the writer is idle, so at most one write
 * is in flight and the loop never waits. store_open, store_mark and store_close run on the
 * caller's thread and take `dbmu` to use the connection. */

#define STORE_BUSY_MS         1000  /* busy timeout: how long the writer waits for a lock */
#define STORE_RETRY_MS        1000  /* after a failed write, wait this long before trying again */
#define STORE_HEARTBEAT_MS    5000  /* refresh the run's last_us at least this often */
#define STORE_PRUNE_EVERY_MS  10000 /* a retention step this often, every tick while behind */
#define STORE_QUICK_CHECK_MAX (32 << 20) /* run PRAGMA quick_check on files up to this size */
#define STORE_CLOSE_TRIES     3          /* store_close: attempts to write what is left */
#define STORE_TEXT_MAX        256
#define STORE_FULL_MARGIN     (1 << 20) /* free bytes below which a write error means "full" */

/* ---- batches ----------------------------------------------------------------------------- */

struct att_item {
    uint32_t ep, conn;
    struct model_attempt a;
};

struct rtt_item {
    uint32_t ep, conn;
    int64_t t_us;
    uint32_t rtt_us;
};

enum ev_kind { EV_OPEN, EV_CLOSED, EV_HEALTH, EV_MARK };

struct ev_item {
    enum ev_kind kind;
    uint32_t ep, conn;
    int64_t t_us;
    int32_t att; /* EV_OPEN, EV_CLOSED: the attempt's snapshot in the same batch */
    int status;  /* EV_HEALTH */
    uint32_t latency_us;
    char text[EVT_MARK_MAX]; /* EV_MARK: the text; EV_HEALTH: the error */
};

struct batch {
    uint64_t gen;
    struct att_item *att;
    size_t n_att, cap_att;
    struct rtt_item *rtt;
    size_t n_rtt, cap_rtt;
    struct ev_item *ev;
    size_t n_ev, cap_ev;
    struct batch *next;
};

static size_t batch_rows(const struct batch *b)
{
    return b->n_att + b->n_rtt + b->n_ev;
}

static void batch_free(struct batch *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n_att; i++)
        model_attempt_drop(&b->att[i].a);
    free(b->att);
    free(b->rtt);
    free(b->ev);
    free(b);
}

static void chain_free(struct batch *b)
{
    while (b) {
        struct batch *next = b->next;
        batch_free(b);
        b = next;
    }
}

static size_t chain_rows(const struct batch *b)
{
    size_t n = 0;

    for (; b; b = b->next)
        n += batch_rows(b);
    return n;
}

/* Grow an item array of a batch by one, returning the new slot. */
#define GROW(arr, n, cap)                                                                          \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            (cap) = (cap) ? (cap)*2 : 16;                                                          \
            (arr) = xrealloc((arr), (cap) * sizeof(*(arr)));                                       \
        }                                                                                          \
    } while (0)

/* ---- the store --------------------------------------------------------------------------- */

/* An endpoint as the loop registered it. Immutable once published, except by
 * store_set_endpoint/store_set_policy, which bump gen under mu. */
struct ep_info {
    bool set;
    uint32_t gen;
    char *name, *url, *group, *via;
    char host[URL_HOST_MAX];
    int port;
    char *expect;
    int64_t expect_within_us;
    bool want_pings;
};

/* The writer's copy of an endpoint: its row id in this file and its diagnosis policy. */
struct w_ep {
    int64_t db_id; /* 0 = not resolved in this connection/run */
    uint32_t gen;
    char host[URL_HOST_MAX];
    int port;
    char *expect;
    int64_t expect_within_us;
    bool want_pings;
};

/* Where the last snapshot of a connection's attempt went. */
struct slot {
    uint64_t gen; /* batch generation holding it (0: none) */
    uint32_t idx;
    uint32_t seq;
    bool dirty; /* changed since that snapshot (messages, pongs...) */
};

struct dirty_ref {
    uint32_t ep, conn;
};

/* One sample inserted in the current transaction: its row of rtt_hist. */
struct hist_key {
    int64_t ep_id, minute_us;
    uint32_t bucket;
};

enum stmt_id {
    ST_ATT_UPSERT,
    ST_EP_UPSERT,
    ST_RUN_INSERT,
    ST_RUN_BEAT,
    ST_RUN_END,
    ST_RTT,
    ST_RTT_HIST,
    ST_EVENT,
    ST_MARKER,
    ST_EP_BY_NAME,
    ST_EP_IDS,
    ST_PRUNE_RTT_CUT,
    ST_PRUNE_RTT,
    ST_PRUNE_RTT_HIST,
    ST_PRUNE_ATT,
    ST_PRUNE_EVENTS,
    ST_PRUNE_MARKERS,
    ST_PRUNE_RUNS,
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_COUNT
};

struct store {
    char *path;
    int64_t started_us; /* wall clock at open: the run's start */

    /* loop thread */
    const struct model *model;
    struct batch *cur;
    uint64_t next_gen;
    struct batch *queue; /* oldest first, waiting for the writer */
    struct slot **slots; /* [ep][conn] */
    size_t *n_slots;
    size_t n_slot_eps;
    struct dirty_ref *dirty;
    size_t n_dirty, cap_dirty;
    int *health; /* last health status per ep, -1 = none */
    size_t n_health;
    enum store_state logged; /* the state last logged by store_tick */
    int64_t retry_at_ms;     /* monotonic: no new job before this after a failure */
    int64_t last_job_ms;
    int64_t last_prune_ms; /* 0: prune at the next tick */

    /* shared, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* the writer waits for a job */
    pthread_cond_t done_cv; /* store_flush waits for a result */
    pthread_t thread;
    bool thread_started;
    bool stop;
    struct batch *job;    /* handed to the writer */
    bool job_end_run;     /* this job ends the run (store_close) */
    bool job_prune;       /* this job runs a retention step */
    bool busy;            /* the writer is writing */
    struct batch *failed; /* a job the writer gave back */
    int last_rc;          /* the last job: 0 or -errno */
    bool prune_more;      /* retention has more to delete */
    int64_t retain_us;
    struct ep_info **eps;
    size_t n_eps;
    enum store_state state;
    char state_detail[STORE_TEXT_MAX];
    struct store_stats stats;

    /* writer thread (and the caller's thread before it starts / under dbmu) */
    pthread_mutex_t dbmu;
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    int64_t run_id;
    struct w_ep *w_eps;
    size_t n_w_eps;
    size_t prune_ep;     /* round-robin position over endpoints for the rtt prune */
    struct hist_key *hk; /* the samples of the transaction being written, for rtt_hist */
    size_t n_hk, cap_hk;
};

static int64_t now_wall_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t now_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

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

/* ---- schema and migrations ------------------------------------------------------------- */

/* The next "-- version N" line at or after p: its number in *n, the start of its body in
 * *body; NULL when there is none. */
static const char *next_section(const char *p, int *n, const char **body)
{
    static const char tag[] = "-- version ";

    while (p && *p) {
        const char *eol = strchr(p, '\n');
        const char *end = eol ? eol : p + strlen(p);

        if (!strncmp(p, tag, sizeof(tag) - 1)) {
            const char *q = p + sizeof(tag) - 1;
            int v = 0;
            bool digits = false;

            while (q < end && *q >= '0' && *q <= '9' && v < 100000) {
                v = v * 10 + (*q++ - '0');
                digits = true;
            }
            while (q < end && (*q == ' ' || *q == '\t' || *q == '\r'))
                q++;
            if (digits && q == end) {
                *n = v;
                *body = eol ? eol + 1 : end;
                return p;
            }
        }
        p = eol ? eol + 1 : NULL;
    }
    return NULL;
}

int store_schema_version_of(const char *schema_sql)
{
    const char *p = schema_sql, *body;
    int n, max = 0;

    while ((p = next_section(p, &n, &body)) != NULL) {
        if (n > max)
            max = n;
        p = body;
    }
    return max;
}

int store_schema_version(void)
{
    return store_schema_version_of(store_schema_sql);
}

static int errno_of(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return 0;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return -EROFS;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return -EILSEQ;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_CANTOPEN:
        return -ENOENT;
    default:
        return -EIO;
    }
}

/* Run every statement of sql (text between two section markers), each prepared. */
static int exec_prepared(sqlite3 *db, const char *sql, size_t len, char *err, size_t errlen)
{
    const char *p = sql, *end = sql + len;

    while (p < end) {
        sqlite3_stmt *st = NULL;
        const char *tail = NULL;
        int rc = sqlite3_prepare_v2(db, p, (int)(end - p), &st, &tail);

        if (rc != SQLITE_OK) {
            set_err(err, errlen, "schema: %s", sqlite3_errmsg(db));
            return rc;
        }
        if (st) {
            while ((rc = sqlite3_step(st)) == SQLITE_ROW)
                ;
            sqlite3_finalize(st);
            if (rc != SQLITE_DONE) {
                set_err(err, errlen, "schema: %s", sqlite3_errmsg(db));
                return rc;
            }
        }
        if (!tail || tail <= p)
            break;
        p = tail;
    }
    return SQLITE_OK;
}

/* One statement without parameters, stepped to the end. */
static int exec1(sqlite3 *db, const char *sql)
{
    return exec_prepared(db, sql, strlen(sql), NULL, 0);
}

static int read_user_version(sqlite3 *db, int *v)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);

    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *v = sqlite3_column_int(st, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

/* Migrate; the SQLite result code (0 = SQLITE_OK) in *sqlite_rc for the caller's mapping. */
static int migrate(sqlite3 *db, const char *schema_sql, int *sqlite_rc, char *err, size_t errlen)
{
    const char *p = schema_sql, *start, *body;
    int have, want = store_schema_version_of(schema_sql), n, rc;

    *sqlite_rc = SQLITE_OK;
    rc = read_user_version(db, &have);
    if (rc != SQLITE_OK) {
        set_err(err, errlen, "cannot read the schema version: %s", sqlite3_errmsg(db));
        *sqlite_rc = rc;
        return errno_of(rc);
    }
    if (have > want) {
        set_err(err, errlen,
                "schema version %d is newer than this wsmon knows (%d): not writing to it "
                "(upgrade wsmon, or use --db with another file)",
                have, want);
        return -EROFS;
    }
    while ((start = next_section(p, &n, &body)) != NULL) {
        const char *next_body, *next = next_section(body, &(int){0}, &next_body);
        size_t len = next ? (size_t)(next - body) : strlen(body);
        char pragma[48], why[256] = "";

        p = next ? next : body + len;
        if (n <= have)
            continue;
        rc = exec1(db, "BEGIN IMMEDIATE");
        if (rc == SQLITE_OK) {
            /* the version number is ours (compiled-in schema text), not a value from outside:
             * PRAGMA takes no parameters */
            snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", n);
            rc = exec_prepared(db, body, len, why, sizeof(why));
            if (rc == SQLITE_OK)
                rc = exec1(db, pragma);
            if (rc == SQLITE_OK)
                rc = exec1(db, "COMMIT");
            if (rc != SQLITE_OK)
                exec1(db, "ROLLBACK");
        }
        if (rc != SQLITE_OK) {
            set_err(err, errlen, "migration to version %d: %s", n,
                    why[0] ? why : sqlite3_errmsg(db));
            *sqlite_rc = rc;
            return errno_of(rc) ? errno_of(rc) : -EIO;
        }
        have = n;
    }
    return 0;
}

int store_migrate(struct sqlite3 *db, const char *schema_sql, char *err, size_t errlen)
{
    int rc;

    if (!db || !schema_sql)
        return -EINVAL;
    if (err && errlen)
        err[0] = '\0';
    return migrate(db, schema_sql, &rc, err, errlen);
}

/* ---- the connection -------------------------------------------------------------------- */

/* One X() per column of the attempts table, in its order. */
/* clang-format off */
#define ATT_COLS(X)                                                                                \
    X(run_id) X(endpoint_id) X(conn) X(seq) X(started_us) X(opened_us) X(ended_us) X(is_tls)      \
    X(reached) X(ready_state) X(dns_us) X(tcp_us) X(tls_us) X(upgrade_us) X(open_us)             \
    X(first_message_us) X(total_us) X(dns_addr) X(remote) X(local) X(have_tls) X(tls_version)    \
    X(tls_cipher) X(tls_alpn) X(tls_subject) X(tls_issuer) X(tls_sans) X(tls_not_after_s)        \
    X(tls_verify) X(tls_verify_code) X(tls_insecure) X(have_http) X(http_status) X(http_server)  \
    X(http_upgrade) X(http_connection) X(http_accept_ok) X(http_location) X(http_backend)        \
    X(http_sticky) X(http_cookies) X(close_code) X(close_reason) X(close_by) X(close_frame)      \
    X(close_transport) X(open_for_us) X(sys_errno) X(detail) X(pings) X(pongs) X(rtt_samples)    \
    X(rtt_min_us) X(rtt_median_us) X(rtt_max_us) X(msgs_in) X(msgs_out) X(bytes_in)              \
    X(bytes_out) X(first_msg) X(first_binary) X(expect_seen) X(class) X(cause) X(failed_in)      \
    X(ok) X(verdict) X(hint)
/* clang-format on */

enum att_col {
#define X(name) AC_##name,
    ATT_COLS(X)
#undef X
        AC_COUNT
};

static const char *const att_col_names[AC_COUNT] = {
#define X(name) #name,
    ATT_COLS(X)
#undef X
};

/* The attempt upsert, built from the column list (names only: every value is a parameter). */
static char *att_upsert_sql(void)
{
    size_t cap = 8192, len = 0;
    char *sql = xmalloc(cap);

#define APPEND(...) len += (size_t)snprintf(sql + len, cap - len, __VA_ARGS__)
    APPEND("INSERT INTO attempts(");
    for (int i = 0; i < AC_COUNT; i++)
        APPEND("%s%s", i ? "," : "", att_col_names[i]);
    APPEND(") VALUES(");
    for (int i = 0; i < AC_COUNT; i++)
        APPEND("%s?%d", i ? "," : "", i + 1);
    APPEND(") ON CONFLICT(run_id, endpoint_id, conn, seq) DO UPDATE SET ");
    for (int i = AC_seq + 1; i < AC_COUNT; i++)
        APPEND("%s%s=excluded.%s", i > AC_seq + 1 ? "," : "", att_col_names[i], att_col_names[i]);
#undef APPEND
    return sql;
}

static const char *const stmt_sql[ST_COUNT] = {
    [ST_ATT_UPSERT] = NULL, /* att_upsert_sql() */
    [ST_EP_UPSERT] = "INSERT INTO endpoints(name, url, grp, via, first_us, last_us) "
                     "VALUES(?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT(name) DO UPDATE SET "
                     "url = excluded.url, grp = excluded.grp, via = excluded.via, "
                     "last_us = excluded.last_us RETURNING id",
    [ST_RUN_INSERT] = "INSERT INTO runs(started_us, last_us, pid, version, rtt_hist) "
                      "VALUES(?1, ?2, ?3, ?4, 1)",
    [ST_RUN_BEAT] = "UPDATE runs SET last_us = ?2 WHERE id = ?1",
    [ST_RUN_END] = "UPDATE runs SET last_us = ?2, ended_us = ?2 WHERE id = ?1",
    /* a sample already there (the same endpoint, microsecond and connection: written twice)
     * stays as it is, and is counted in rtt_hist once */
    [ST_RTT] = "INSERT OR IGNORE INTO rtt(endpoint_id, t_us, conn, rtt_us) VALUES(?1, ?2, ?3, ?4)",
    [ST_RTT_HIST] =
        "INSERT INTO rtt_hist(endpoint_id, minute_us, bucket, n) VALUES(?1, ?2, ?3, ?4) "
        "ON CONFLICT(endpoint_id, minute_us, bucket) DO UPDATE SET n = n + excluded.n",
    [ST_EVENT] = "INSERT INTO events(t_us, endpoint_id, conn, kind, class, code, text) "
                 "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_MARKER] = "INSERT INTO markers(t_us, endpoint_id, text, source) VALUES(?1, ?2, ?3, ?4)",
    [ST_EP_BY_NAME] = "SELECT id FROM endpoints WHERE name = ?1",
    [ST_EP_IDS] = "SELECT id FROM endpoints WHERE id > ?1 ORDER BY id LIMIT 1",
    [ST_PRUNE_RTT_CUT] = "SELECT t_us FROM rtt WHERE endpoint_id = ?1 AND t_us < ?2 "
                         "ORDER BY t_us LIMIT 1 OFFSET ?3",
    [ST_PRUNE_RTT] = "DELETE FROM rtt WHERE endpoint_id = ?1 AND t_us < ?2",
    [ST_PRUNE_RTT_HIST] = "DELETE FROM rtt_hist WHERE endpoint_id = ?1 AND minute_us < ?2",
    [ST_PRUNE_ATT] = "DELETE FROM attempts WHERE id IN (SELECT id FROM attempts "
                     "WHERE endpoint_id = ?1 AND started_us < ?2 AND (ended_us < ?2 OR "
                     "(ended_us IS NULL AND run_id <> ?3)) LIMIT ?4)",
    [ST_PRUNE_EVENTS] = "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE t_us < ?1 "
                        "ORDER BY t_us LIMIT ?2)",
    [ST_PRUNE_MARKERS] = "DELETE FROM markers WHERE id IN (SELECT id FROM markers "
                         "WHERE t_us < ?1 ORDER BY t_us LIMIT ?2)",
    [ST_PRUNE_RUNS] = "DELETE FROM runs WHERE id <> ?2 AND coalesce(ended_us, last_us) < ?1 "
                      "AND NOT EXISTS (SELECT 1 FROM attempts WHERE attempts.run_id = runs.id)",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
};

static void db_disconnect(struct store *s)
{
    for (int i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(s->st[i]);
        s->st[i] = NULL;
    }
    if (s->db)
        sqlite3_close_v2(s->db);
    s->db = NULL;
    /* endpoint ids are resolved again on the next connection */
    for (size_t i = 0; i < s->n_w_eps; i++)
        s->w_eps[i].db_id = 0;
}

/* Is the file an SQLite database (or empty)? Reads the header only, never writes: its size, and
 * the schema version (user_version, bytes 60-63 big-endian; 0 for an empty file). */
static int check_header(const char *path, off_t *size, int *version, char *err, size_t errlen)
{
    static const char magic[16] = "SQLite format 3";
    unsigned char h[100];
    struct stat sb;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

    if (fd < 0) {
        set_err(err, errlen, "%s: %s", path, strerror(errno));
        return -errno;
    }
    if (fstat(fd, &sb) < 0) {
        rc = -errno;
        set_err(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    *size = sb.st_size;
    *version = 0;
    if (!S_ISREG(sb.st_mode)) {
        set_err(err, errlen, "%s: not a regular file", path);
        rc = -EINVAL;
        goto out;
    }
    if (sb.st_size == 0)
        goto out;
    n = read(fd, h, sizeof(h));
    if (n != (ssize_t)sizeof(h) || memcmp(h, magic, sizeof(magic)) != 0) {
        set_err(err, errlen, "%s: not an SQLite database (corrupt or another file): left as it is",
                path);
        rc = -EILSEQ;
        goto out;
    }
    *version = (int)((uint32_t)h[60] << 24 | (uint32_t)h[61] << 16 | (uint32_t)h[62] << 8 | h[63]);
out:
    close(fd);
    return rc;
}

/* -wal and -shm files of ours whose mode is not the database's (made while it was read-only):
 * given the database's mode, or SQLite opens them, and with them the database, read-only. */
static void fix_sidecars(const char *path)
{
    static const char *const sfx[] = {"-wal", "-shm"};
    struct stat db, sb;
    char side[4096];

    if (stat(path, &db) < 0)
        return;
    for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
        snprintf(side, sizeof(side), "%s%s", path, sfx[i]);
        if (stat(side, &sb) == 0 && sb.st_uid == geteuid() &&
            (sb.st_mode & 0777) != (db.st_mode & 0777))
            chmod(side, db.st_mode & 0777);
    }
}

/* Open, check, migrate and prepare. 0; a fatal -EILSEQ (corrupt) or -EROFS with `fatal` set
 * (a newer schema); or a transient -errno (-EBUSY, -EROFS, -ENOSPC, -EIO) with the state in
 * *state. The reason in err. */
static int db_connect(struct store *s, enum store_state *state, bool *fatal, char *err,
                      size_t errlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    off_t size = 0;
    int rc, srk = SQLITE_OK, v = 0;
    char *upsert = NULL;

    *fatal = false;
    *state = STORE_OK;
    rc = check_header(s->path, &size, &v, err, errlen);
    if (rc == -EILSEQ) {
        *fatal = true;
        *state = STORE_CORRUPT;
        return rc;
    }
    if (rc < 0) {
        *fatal = rc != -EACCES;
        *state = STORE_READONLY;
        return rc;
    }
    if (v > store_schema_version()) {
        set_err(err, errlen,
                "%s: schema version %d is newer than this wsmon knows (%d): not writing to it "
                "(upgrade wsmon, or use --db with another file)",
                s->path, v, store_schema_version());
        *fatal = true;
        *state = STORE_CORRUPT;
        return -EROFS;
    }
    /* Not writable (mode, read-only mount): paused, and SQLite is not even opened. A read-only
     * connection would make the -wal and -shm files with the database's read-only mode, and
     * they would keep the file read-only after write access comes back. */
    if (faccessat(AT_FDCWD, s->path, W_OK, AT_EACCESS) < 0) {
        set_err(err, errlen, "%s: read-only (%s)", s->path, strerror(errno));
        *state = STORE_READONLY;
        return -EROFS;
    }
    fix_sidecars(s->path);
    /* no SQLITE_OPEN_CREATE: the file exists (store_open made it with mode 0600) */
    srk = sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (srk != SQLITE_OK) {
        set_err(err, errlen, "%s: %s", s->path, db ? sqlite3_errmsg(db) : sqlite3_errstr(srk));
        goto fail;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, STORE_BUSY_MS);
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);

    /* Reading first: a corrupt or foreign file fails here, before anything is written. */
    srk = read_user_version(db, &v);
    if (srk == SQLITE_OK)
        srk = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema", -1, &st, NULL);
    if (srk == SQLITE_OK) {
        srk = sqlite3_step(st);
        srk = srk == SQLITE_ROW ? SQLITE_OK : srk;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (srk == SQLITE_OK && size > 0 && size <= STORE_QUICK_CHECK_MAX) {
        srk = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL);
        if (srk == SQLITE_OK && (srk = sqlite3_step(st)) == SQLITE_ROW) {
            const char *r = (const char *)sqlite3_column_text(st, 0);
            srk = r && !strcmp(r, "ok") ? SQLITE_OK : SQLITE_CORRUPT;
        }
        sqlite3_finalize(st);
        st = NULL;
    }
    if (srk != SQLITE_OK) {
        set_err(err, errlen, "%s: %s%s", s->path, sqlite3_errstr(srk),
                (srk & 0xff) == SQLITE_CORRUPT || (srk & 0xff) == SQLITE_NOTADB ? ": left as it is"
                                                                                : "");
        goto fail;
    }
    if (v > store_schema_version()) {
        set_err(err, errlen,
                "%s: schema version %d is newer than this wsmon knows (%d): not writing to it "
                "(upgrade wsmon, or use --db with another file)",
                s->path, v, store_schema_version());
        *fatal = true;
        *state = STORE_CORRUPT;
        rc = -EROFS;
        goto out;
    }
    if (sqlite3_db_readonly(db, "main") == 1) {
        srk = SQLITE_READONLY;
        set_err(err, errlen, "%s: read-only", s->path);
        goto fail;
    }
    /* WAL: readers (wsmon history, wsmon mark) never block the writer nor it them. NORMAL
     * syncs at checkpoints only: a committed tick survives a crash of the process. */
    srk = exec1(db, "PRAGMA journal_mode = WAL");
    if (srk == SQLITE_OK)
        srk = exec1(db, "PRAGMA synchronous = NORMAL");
    if (srk != SQLITE_OK) {
        set_err(err, errlen, "%s: %s", s->path, sqlite3_errmsg(db));
        goto fail;
    }
    rc = migrate(db, store_schema_sql, &srk, err, errlen);
    if (rc == -EROFS && srk == SQLITE_OK) { /* newer (raced with another writer) */
        *fatal = true;
        *state = STORE_CORRUPT;
        goto out;
    }
    if (srk != SQLITE_OK)
        goto fail;

    upsert = att_upsert_sql();
    for (int i = 0; i < ST_COUNT; i++) {
        const char *sql = i == ST_ATT_UPSERT ? upsert : stmt_sql[i];
        srk = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
        if (srk != SQLITE_OK) {
            set_err(err, errlen, "%s: %s", s->path, sqlite3_errmsg(db));
            for (int k = 0; k < i; k++) {
                sqlite3_finalize(s->st[k]);
                s->st[k] = NULL;
            }
            goto fail;
        }
    }
    free(upsert);
    s->db = db;
    return 0;

fail:
    free(upsert);
    rc = errno_of(srk);
    switch (srk & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        *fatal = true;
        *state = STORE_CORRUPT;
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        *state = STORE_LOCKED;
        break;
    case SQLITE_FULL:
        *state = STORE_FULL;
        break;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        *state = STORE_READONLY;
        break;
    case SQLITE_CANTOPEN:
        *state = STORE_READONLY;
        break;
    default:
        *state = db && sqlite3_system_errno(db) == ENOSPC ? STORE_FULL : STORE_IOERR;
        break;
    }
    if (!rc)
        rc = -EIO;
out:
    if (db)
        sqlite3_close_v2(db);
    return rc;
}

/* ---- files and folders ------------------------------------------------------------------ */

int store_default_path(char *buf, size_t len)
{
    const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    int n;

    /* the spec ignores relative XDG values */
    if (state && state[0] == '/')
        n = snprintf(buf, len, "%s/wsmon/history.db", state);
    else if (home && home[0])
        n = snprintf(buf, len, "%s/.local/state/wsmon/history.db", home);
    else
        return -ENOENT;
    return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

/* mkdir -p for the folder of path, new folders 0700. */
static int make_parent(const char *path, char *err, size_t errlen)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    int rc = 0;

    if (!slash || slash == dir)
        goto out;
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
                rc = -errno;
                set_err(err, errlen, "cannot create %s: %s", dir, strerror(errno));
                goto out;
            }
            *p = c;
            if (c == '\0')
                break;
        }
    }
out:
    free(dir);
    return rc;
}

/* Create the file 0600 if it is missing, whatever the umask (the -wal and -shm files SQLite
 * makes take the database file's mode). */
static int make_file(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

    if (fd >= 0) {
        int rc = fchmod(fd, 0600) < 0 ? -errno : 0;
        close(fd);
        return rc;
    }
    if (errno == EEXIST)
        return 0;
    set_err(err, errlen, "cannot create %s: %s", path, strerror(errno));
    return -errno;
}

/* ---- the state ------------------------------------------------------------------------- */

/* Under mu. */
static void set_state(struct store *s, enum store_state st, const char *detail)
{
    s->state = st;
    snprintf(s->state_detail, sizeof(s->state_detail), "%s", detail ? detail : "");
}

/* errno of the last failed step on this thread: sqlite3_reset and ROLLBACK overwrite the
 * connection's own copy before the caller can read it */
static _Thread_local int step_sys_errno;

/* An I/O error on write that is really a full disk or a file size limit (RLIMIT_FSIZE): SQLite
 * reports EFBIG as a plain write error and does not always keep the errno. */
static bool looks_full(const char *path)
{
    char *dir = xstrdup(path), *slash = strrchr(dir, '/'), wal[4096];
    struct statvfs vs;
    struct rlimit rl;
    struct stat sb;
    bool full = false;

    if (slash)
        *slash = '\0';
    if (statvfs(slash ? (*dir ? dir : "/") : ".", &vs) == 0 &&
        (uint64_t)vs.f_bavail * vs.f_frsize < STORE_FULL_MARGIN)
        full = true;
    free(dir);
    if (!full && getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        snprintf(wal, sizeof(wal), "%s-wal", path);
        if ((stat(path, &sb) == 0 && (uint64_t)sb.st_size + STORE_FULL_MARGIN > rl.rlim_cur) ||
            (stat(wal, &sb) == 0 && (uint64_t)sb.st_size + STORE_FULL_MARGIN > rl.rlim_cur))
            full = true;
    }
    return full;
}

static enum store_state state_of_rc(sqlite3 *db, int rc)
{
    int sys = step_sys_errno ? step_sys_errno : db ? sqlite3_system_errno(db) : 0;

    switch (rc & 0xff) {
    case SQLITE_FULL:
        return STORE_FULL;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return STORE_READONLY;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return STORE_LOCKED;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return STORE_CORRUPT;
    default:
        if (sys == ENOSPC || sys == EFBIG || sys == EDQUOT)
            return STORE_FULL;
        if (sys == EROFS || sys == EACCES || sys == EPERM)
            return STORE_READONLY;
        if (db && (rc & 0xff) == SQLITE_IOERR && looks_full(sqlite3_db_filename(db, "main")))
            return STORE_FULL;
        return STORE_IOERR;
    }
}

enum store_state store_status(struct store *s, char *buf, size_t len)
{
    enum store_state st;
    uint64_t waiting, written, dropped;
    char drop[64] = "";

    if (!s) {
        set_err(buf, len, "history: off");
        return STORE_OK;
    }
    pthread_mutex_lock(&s->mu);
    st = s->state;
    waiting = s->stats.rows_waiting;
    written = s->stats.rows_written;
    dropped = s->stats.rows_dropped;
    if (dropped)
        snprintf(drop, sizeof(drop), ", %llu rows dropped", (unsigned long long)dropped);
    switch (st) {
    case STORE_OK:
        set_err(buf, len, "history: ok, %llu rows written%s", (unsigned long long)written, drop);
        break;
    case STORE_FULL:
        set_err(buf, len, "history database full: writing paused, %llu rows waiting%s",
                (unsigned long long)waiting, drop);
        break;
    case STORE_READONLY:
        set_err(buf, len, "history database read-only: writing paused, %llu rows waiting%s",
                (unsigned long long)waiting, drop);
        break;
    case STORE_LOCKED:
        set_err(buf, len, "history database locked by another process: %llu rows waiting%s",
                (unsigned long long)waiting, drop);
        break;
    case STORE_IOERR:
        set_err(buf, len, "history database write error (%s): writing paused, %llu rows waiting%s",
                s->state_detail[0] ? s->state_detail : "I/O error", (unsigned long long)waiting,
                drop);
        break;
    case STORE_CORRUPT:
        set_err(buf, len, "history database unusable (%s): not writing, %llu rows dropped",
                s->state_detail[0] ? s->state_detail : "corrupt", (unsigned long long)dropped);
        break;
    }
    pthread_mutex_unlock(&s->mu);
    return st;
}

void store_get_stats(struct store *s, struct store_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    *out = s->stats;
    pthread_mutex_unlock(&s->mu);
}

/* ---- writing (writer thread) ----------------------------------------------------------- */

/* Bind helpers: a negative duration/time ("not reached") is NULL. */
static void bind_i64(sqlite3_stmt *st, int col, int64_t v)
{
    sqlite3_bind_int64(st, col + 1, v);
}

static void bind_opt(sqlite3_stmt *st, int col, int64_t v, bool present)
{
    if (present)
        sqlite3_bind_int64(st, col + 1, v);
    else
        sqlite3_bind_null(st, col + 1);
}

/* A string from a fixed buffer; "" is NULL unless keep_empty. */
static void bind_fixed(sqlite3_stmt *st, int col, const char *s, size_t size, bool keep_empty)
{
    size_t n = s ? strnlen(s, size) : 0;

    if (!s || (n == 0 && !keep_empty))
        sqlite3_bind_null(st, col + 1);
    else
        sqlite3_bind_text(st, col + 1, s, (int)n, SQLITE_TRANSIENT);
}

/* A terminated string of a shared record; NULL for "" (as bind_fixed without keep_empty). */
static void bind_text(sqlite3_stmt *st, int col, const char *s)
{
    bind_fixed(st, col, s, s ? strlen(s) : 0, false);
}

static void bind_str(sqlite3_stmt *st, int col, const char *s)
{
    if (s)
        sqlite3_bind_text(st, col + 1, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, col + 1);
}

static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        step_sys_errno = sqlite3_system_errno(sqlite3_db_handle(st));
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* The writer's view of endpoint ep: its row (inserted or updated on first use in a run) and
 * its policy. 0 with *id set, or an SQLite error. */
static int resolve_ep(struct store *s, uint32_t ep, int64_t *id)
{
    struct w_ep *w;
    char *name = NULL, *url = NULL, *group = NULL, *via = NULL;
    sqlite3_stmt *st = s->st[ST_EP_UPSERT];
    uint32_t gen = 0;
    int rc;

    if (ep >= s->n_w_eps) {
        size_t n = ep + 1;
        s->w_eps = xrealloc(s->w_eps, n * sizeof(*s->w_eps));
        memset(s->w_eps + s->n_w_eps, 0, (n - s->n_w_eps) * sizeof(*s->w_eps));
        s->n_w_eps = n;
    }
    w = &s->w_eps[ep];

    pthread_mutex_lock(&s->mu);
    if (ep < s->n_eps && s->eps[ep] && s->eps[ep]->set) {
        const struct ep_info *e = s->eps[ep];
        gen = e->gen;
        if (w->db_id == 0 || w->gen != gen) {
            name = xstrdup(e->name);
            url = xstrdup(e->url);
            group = xstrdup(e->group);
            via = xstrdup(e->via);
            memcpy(w->host, e->host, sizeof(w->host));
            w->port = e->port;
            free(w->expect);
            w->expect = xstrdup(e->expect);
            w->expect_within_us = e->expect_within_us;
            w->want_pings = e->want_pings;
        }
    }
    pthread_mutex_unlock(&s->mu);

    if (w->db_id != 0 && w->gen == gen) {
        *id = w->db_id;
        return SQLITE_OK;
    }
    if (!name) { /* never described: a name that says so */
        char tmp[32];
        snprintf(tmp, sizeof(tmp), "endpoint-%u", ep);
        name = xstrdup(tmp);
        w->host[0] = '\0';
        w->port = 0;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    bind_str(st, 1, url);
    bind_str(st, 2, group);
    bind_str(st, 3, via);
    sqlite3_bind_int64(st, 5, now_wall_us());
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        w->db_id = sqlite3_column_int64(st, 0);
        w->gen = gen;
        rc = SQLITE_OK;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    free(name);
    free(url);
    free(group);
    free(via);
    *id = w->db_id;
    return rc == SQLITE_DONE ? SQLITE_ERROR : rc;
}

static void fill_policy(const struct w_ep *w, const struct model_attempt *a, struct diag_policy *p)
{
    memset(p, 0, sizeof(*p));
    if (w) {
        p->host = w->host;
        p->port = w->port;
        p->expect_message = w->expect;
        p->expect_within_us = w->expect_within_us;
        p->want_pings = w->want_pings;
    }
    /* days_left and "expired N days ago" as of the attempt, not of the write */
    p->now_wall_s = a->wall_start_us / 1000000;
}

static int write_attempt(struct store *s, struct att_item *it, int64_t ep_id,
                         struct diag_verdict *v)
{
    sqlite3_stmt *st = s->st[ST_ATT_UPSERT];
    struct model_attempt *a = &it->a;
    const struct model_http *shared = a->http;
    struct model_http masked_http;
    struct diag_policy pol;
    char masked[EVT_HDR_MAX * 2], cookies[EVT_COOKIES_MAX * (EVT_COOKIE_NAME_MAX + 1)] = "";
    bool opened = a->open_us >= 0, ended = a->ended;
    int64_t median = model_rtt_median_us(a);
    int rc;

    /* secrets out before anything (the verdict of a redirect quotes the Location); the
     * record is shared with the model, so the masked one is a private copy for this write */
    if (shared && shared->location[0]) {
        url_mask_secrets(shared->location, masked, sizeof(masked));
        masked_http = *shared;
        masked_http.location = masked;
        a->http = &masked_http;
    }
    fill_policy(it->ep < s->n_w_eps ? &s->w_eps[it->ep] : NULL, a, &pol);
    diag_attempt(a, &pol, v);

    bind_i64(st, AC_run_id, s->run_id);
    bind_i64(st, AC_endpoint_id, ep_id);
    bind_i64(st, AC_conn, it->conn);
    bind_i64(st, AC_seq, a->seq);
    bind_i64(st, AC_started_us, a->wall_start_us);
    bind_opt(st, AC_opened_us, a->wall_start_us + a->open_us, opened);
    bind_opt(st, AC_ended_us, a->wall_start_us + a->total_us, ended && a->total_us >= 0);
    bind_i64(st, AC_is_tls, a->tls);
    bind_str(st, AC_reached, evt_phase_name(a->reached));
    bind_i64(st, AC_ready_state, a->ready_state);
    bind_opt(st, AC_dns_us, a->dns_us, a->dns_us >= 0);
    bind_opt(st, AC_tcp_us, a->tcp_us, a->tcp_us >= 0);
    bind_opt(st, AC_tls_us, a->tls_us, a->tls_us >= 0);
    bind_opt(st, AC_upgrade_us, a->upgrade_us, a->upgrade_us >= 0);
    bind_opt(st, AC_open_us, a->open_us, a->open_us >= 0);
    bind_opt(st, AC_first_message_us, a->first_message_us, a->first_message_us >= 0);
    bind_opt(st, AC_total_us, a->total_us, a->total_us >= 0);
    bind_text(st, AC_dns_addr, a->dns_addr);
    bind_text(st, AC_remote, a->remote);
    bind_text(st, AC_local, a->local);

    bind_i64(st, AC_have_tls, a->tls_info != NULL);
    if (a->tls_info) {
        const struct model_tls *t = a->tls_info;
        bind_text(st, AC_tls_version, t->version);
        bind_text(st, AC_tls_cipher, t->cipher);
        bind_text(st, AC_tls_alpn, t->alpn);
        bind_text(st, AC_tls_subject, t->subject);
        bind_text(st, AC_tls_issuer, t->issuer);
        bind_text(st, AC_tls_sans, t->sans);
        bind_opt(st, AC_tls_not_after_s, t->not_after_s, t->not_after_s != 0);
        bind_str(st, AC_tls_verify, evt_verify_name(t->verify));
        bind_i64(st, AC_tls_verify_code, t->verify_code);
        bind_i64(st, AC_tls_insecure, t->insecure);
    }

    bind_i64(st, AC_have_http, a->http != NULL);
    if (a->http) {
        const struct model_http *h = a->http;
        int n = h->n_cookies < EVT_COOKIES_MAX ? h->n_cookies : EVT_COOKIES_MAX;
        bind_opt(st, AC_http_status, h->status, h->status != 0);
        bind_text(st, AC_http_server, h->server);
        bind_text(st, AC_http_upgrade, h->upgrade);
        bind_text(st, AC_http_connection, h->connection);
        bind_opt(st, AC_http_accept_ok, h->accept_ok != 0, h->accept_ok >= 0);
        bind_text(st, AC_http_location, h->location);
        bind_text(st, AC_http_backend, h->backend);
        bind_text(st, AC_http_sticky, h->sticky);
        for (int i = 0; i < n; i++) {
            size_t len = strlen(cookies);
            snprintf(cookies + len, sizeof(cookies) - len, "%s%.*s", i ? ";" : "",
                     (int)strnlen(h->cookies[i], EVT_COOKIE_NAME_MAX), h->cookies[i]);
        }
        bind_str(st, AC_http_cookies, cookies);
    }

    if (ended) {
        bind_opt(st, AC_close_code, a->close_code, a->close_code != 0);
        bind_fixed(st, AC_close_reason, a->close_reason, strlen(a->close_reason), true);
        bind_str(st, AC_close_by, evt_by_name(a->by));
        bind_opt(st, AC_close_frame, a->close_frame, !a->close_frame_unknown);
        bind_str(st, AC_close_transport, evt_transport_name(a->transport));
        bind_opt(st, AC_open_for_us, a->open_for_us, a->open_for_us >= 0);
        bind_opt(st, AC_sys_errno, a->sys_errno, a->sys_errno != 0);
        bind_text(st, AC_detail, a->detail);
    }

    bind_i64(st, AC_pings, a->pings_sent);
    bind_i64(st, AC_pongs, a->pongs);
    bind_i64(st, AC_rtt_samples, a->rtt_n);
    bind_opt(st, AC_rtt_min_us, a->rtt_min_us, a->rtt_n > 0);
    bind_opt(st, AC_rtt_median_us, median, median >= 0);
    bind_opt(st, AC_rtt_max_us, a->rtt_max_us, a->rtt_n > 0);
    bind_i64(st, AC_msgs_in, (int64_t)a->msgs_in);
    bind_i64(st, AC_msgs_out, (int64_t)a->msgs_out);
    bind_i64(st, AC_bytes_in, (int64_t)a->bytes_in);
    bind_i64(st, AC_bytes_out, (int64_t)a->bytes_out);
    if (a->msgs_in > 0) {
        uint32_t n = a->first_len < EVT_FIRST_MAX ? a->first_len : EVT_FIRST_MAX;
        sqlite3_bind_blob(st, AC_first_msg + 1, a->first, (int)n, SQLITE_TRANSIENT);
        bind_i64(st, AC_first_binary, a->first_binary);
    }
    bind_opt(st, AC_expect_seen, a->expect_seen, pol.expect_message != NULL);

    bind_str(st, AC_class, diag_class_name(v->cls));
    bind_str(st, AC_cause, evt_cause_name(v->cause));
    bind_str(st, AC_failed_in, v->failed_in == EVT_PH_NONE ? NULL : evt_phase_name(v->failed_in));
    bind_i64(st, AC_ok, v->ok);
    bind_fixed(st, AC_verdict, v->verdict, sizeof(v->verdict), true);
    bind_fixed(st, AC_hint, v->hint, sizeof(v->hint), false);
    rc = step_done(st);
    a->http = shared;
    return rc;
}

static void fmt_ms(char *buf, size_t len, int64_t us)
{
    snprintf(buf, len, "%.3f ms", (double)us / 1000.0);
}

static int write_event(struct store *s, const struct batch *b, const struct ev_item *ev,
                       const struct diag_verdict *verdicts, int64_t ep_id)
{
    sqlite3_stmt *st = s->st[ST_EVENT];
    const struct att_item *it =
        ev->att >= 0 && (size_t)ev->att < b->n_att ? &b->att[ev->att] : NULL;
    const struct diag_verdict *v = it ? &verdicts[ev->att] : NULL;
    char text[DIAG_TEXT_MAX + 128], ms[32], conn[24] = "";
    const char *kind = "?", *cls = NULL;
    int code = 0;
    bool has_code = false;
    int rc;

    if (ev->conn > 0)
        snprintf(conn, sizeof(conn), "[conn %u] ", ev->conn + 1);
    text[0] = '\0';
    switch (ev->kind) {
    case EV_OPEN:
        kind = "open";
        cls = v ? diag_class_name(v->cls) : NULL;
        if (it) {
            fmt_ms(ms, sizeof(ms), it->a.open_us);
            snprintf(text, sizeof(text), "%sopen in %s%s%.*s", conn, ms,
                     it->a.remote[0] ? ", remote " : "", (int)strlen(it->a.remote), it->a.remote);
        }
        break;
    case EV_CLOSED:
        kind = "closed";
        if (it && v) {
            cls = diag_class_name(v->cls);
            code = it->a.close_code;
            has_code = code != 0;
            snprintf(text, sizeof(text), "%s%s", conn, v->verdict);
        }
        break;
    case EV_HEALTH:
        kind = "health";
        code = ev->status;
        has_code = true;
        fmt_ms(ms, sizeof(ms), ev->latency_us);
        if (ev->status > 0)
            snprintf(text, sizeof(text), "health check: HTTP %d in %s", ev->status, ms);
        else
            snprintf(text, sizeof(text), "health check failed: %.*s",
                     (int)strnlen(ev->text, sizeof(ev->text)), ev->text);
        break;
    case EV_MARK:
        kind = "mark";
        snprintf(text, sizeof(text), "%.*s", (int)strnlen(ev->text, sizeof(ev->text)), ev->text);
        break;
    }
    sqlite3_bind_int64(st, 1, ev->t_us);
    if (ep_id)
        sqlite3_bind_int64(st, 2, ep_id);
    else
        sqlite3_bind_null(st, 2);
    if (ev->kind == EV_MARK || ev->kind == EV_HEALTH)
        sqlite3_bind_null(st, 3);
    else
        sqlite3_bind_int64(st, 3, ev->conn);
    sqlite3_bind_text(st, 4, kind, -1, SQLITE_STATIC);
    bind_str(st, 4, cls);
    if (has_code)
        sqlite3_bind_int64(st, 6, code);
    else
        sqlite3_bind_null(st, 6);
    sqlite3_bind_text(st, 7, text, -1, SQLITE_TRANSIENT);
    rc = step_done(st);
    if (rc != SQLITE_OK || ev->kind != EV_MARK)
        return rc;

    st = s->st[ST_MARKER];
    sqlite3_bind_int64(st, 1, ev->t_us);
    if (ep_id)
        sqlite3_bind_int64(st, 2, ep_id);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_text(st, 3, text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, "key", -1, SQLITE_STATIC);
    return step_done(st);
}

static int write_batch(struct store *s, struct batch *b, uint64_t *rows)
{
    struct diag_verdict *verdicts = b->n_att ? xcalloc(b->n_att, sizeof(*verdicts)) : NULL;
    int64_t ep_id;
    int rc = SQLITE_OK;

    for (size_t i = 0; i < b->n_att && rc == SQLITE_OK; i++) {
        rc = resolve_ep(s, b->att[i].ep, &ep_id);
        if (rc == SQLITE_OK)
            rc = write_attempt(s, &b->att[i], ep_id, &verdicts[i]);
    }
    for (size_t i = 0; i < b->n_rtt && rc == SQLITE_OK; i++) {
        const struct rtt_item *r = &b->rtt[i];
        sqlite3_stmt *st = s->st[ST_RTT];
        rc = resolve_ep(s, r->ep, &ep_id);
        if (rc != SQLITE_OK)
            break;
        sqlite3_bind_int64(st, 1, ep_id);
        sqlite3_bind_int64(st, 2, r->t_us);
        sqlite3_bind_int64(st, 3, r->conn);
        sqlite3_bind_int64(st, 4, r->rtt_us);
        rc = step_done(st);
        if (rc == SQLITE_OK && sqlite3_changes(s->db) == 1) {
            if (s->n_hk == s->cap_hk) {
                s->cap_hk = s->cap_hk ? s->cap_hk * 2 : 1024;
                s->hk = xrealloc(s->hk, s->cap_hk * sizeof(*s->hk));
            }
            s->hk[s->n_hk++] =
                (struct hist_key){ep_id, rtt_hist_minute(r->t_us), rtt_hist_bucket(r->rtt_us)};
        }
    }
    for (size_t i = 0; i < b->n_ev && rc == SQLITE_OK; i++) {
        const struct ev_item *ev = &b->ev[i];
        ep_id = 0;
        if (ev->ep != EVT_EP_NONE)
            rc = resolve_ep(s, ev->ep, &ep_id);
        if (rc == SQLITE_OK)
            rc = write_event(s, b, ev, verdicts, ep_id);
    }
    free(verdicts);
    if (rc == SQLITE_OK)
        *rows += batch_rows(b);
    return rc;
}

static int cmp_hist_key(const void *x, const void *y)
{
    const struct hist_key *a = x, *b = y;

    if (a->ep_id != b->ep_id)
        return a->ep_id < b->ep_id ? -1 : 1;
    if (a->minute_us != b->minute_us)
        return a->minute_us < b->minute_us ? -1 : 1;
    return (a->bucket > b->bucket) - (a->bucket < b->bucket);
}

/* Add the samples of this transaction to rtt_hist: one upsert per (endpoint, minute, bucket). */
static int write_hist(struct store *s, uint64_t *rows)
{
    sqlite3_stmt *st = s->st[ST_RTT_HIST];
    int rc = SQLITE_OK;

    if (s->n_hk > 1)
        qsort(s->hk, s->n_hk, sizeof(*s->hk), cmp_hist_key);
    for (size_t i = 0, j; i < s->n_hk && rc == SQLITE_OK; i = j) {
        for (j = i + 1; j < s->n_hk && cmp_hist_key(&s->hk[i], &s->hk[j]) == 0; j++)
            ;
        sqlite3_bind_int64(st, 1, s->hk[i].ep_id);
        sqlite3_bind_int64(st, 2, s->hk[i].minute_us);
        sqlite3_bind_int64(st, 3, s->hk[i].bucket);
        sqlite3_bind_int64(st, 4, (int64_t)(j - i));
        rc = step_done(st);
        ++*rows;
    }
    s->n_hk = 0;
    return rc;
}

/* Delete up to `budget` rows of one statement; the count deleted. */
static int prune_step(struct store *s, sqlite3_stmt *st, int64_t *budget)
{
    int rc = step_done(st);

    if (rc == SQLITE_OK)
        *budget -= sqlite3_changes(s->db);
    return rc;
}

/* One step of retention inside the current transaction: at most STORE_PRUNE_STEP rows of
 * each table, endpoint by endpoint (round-robin from where the last step stopped) for the
 * per-endpoint tables. Every delete is an index range. *more: a budget ran out. */
static int prune(struct store *s, int64_t retain_us, uint64_t *pruned, bool *more)
{
    int64_t cutoff = now_wall_us() - retain_us;
    int64_t b_rtt = STORE_PRUNE_STEP, b_att = STORE_PRUNE_STEP, b_ev = STORE_PRUNE_STEP;
    int64_t b_mk = STORE_PRUNE_STEP, first = -1;
    uint64_t hist_pruned = 0;
    sqlite3_stmt *st;
    int rc = SQLITE_OK;

    while (b_rtt > 0 || b_att > 0) {
        int64_t ep;

        st = s->st[ST_EP_IDS];
        sqlite3_bind_int64(st, 1, (int64_t)s->prune_ep);
        rc = sqlite3_step(st);
        ep = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_reset(st);
        if (rc == SQLITE_DONE && s->prune_ep != 0) { /* the end of the list: wrap */
            s->prune_ep = 0;
            continue;
        }
        if (rc != SQLITE_ROW) {
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
            break;
        }
        if (ep == first) { /* a whole round */
            rc = SQLITE_OK;
            break;
        }
        if (first < 0)
            first = ep;
        s->prune_ep = (size_t)ep;
        rc = SQLITE_OK;

        if (b_rtt > 0) {
            int64_t cut = cutoff;
            st = s->st[ST_PRUNE_RTT_CUT];
            sqlite3_bind_int64(st, 1, ep);
            sqlite3_bind_int64(st, 2, cutoff);
            sqlite3_bind_int64(st, 3, b_rtt);
            if (sqlite3_step(st) == SQLITE_ROW)
                cut = sqlite3_column_int64(st, 0);
            sqlite3_reset(st);
            st = s->st[ST_PRUNE_RTT];
            sqlite3_bind_int64(st, 1, ep);
            sqlite3_bind_int64(st, 2, cut);
            if ((rc = prune_step(s, st, &b_rtt)) != SQLITE_OK)
                return rc;
            /* the histogram minutes wholly before what is left of rtt (outside the budget:
             * at most a bucket per sample deleted, or a few minutes' buckets) */
            st = s->st[ST_PRUNE_RTT_HIST];
            sqlite3_bind_int64(st, 1, ep);
            sqlite3_bind_int64(st, 2, rtt_hist_minute(cut));
            if ((rc = step_done(st)) != SQLITE_OK)
                return rc;
            hist_pruned += (uint64_t)sqlite3_changes(s->db);
        }
        if (b_att > 0) {
            st = s->st[ST_PRUNE_ATT];
            sqlite3_bind_int64(st, 1, ep);
            sqlite3_bind_int64(st, 2, cutoff);
            sqlite3_bind_int64(st, 3, s->run_id);
            sqlite3_bind_int64(st, 4, b_att);
            if ((rc = prune_step(s, st, &b_att)) != SQLITE_OK)
                return rc;
        }
    }
    sqlite3_clear_bindings(s->st[ST_EP_IDS]);
    if (rc != SQLITE_OK)
        return rc;

    st = s->st[ST_PRUNE_EVENTS];
    sqlite3_bind_int64(st, 1, cutoff);
    sqlite3_bind_int64(st, 2, b_ev);
    if ((rc = prune_step(s, st, &b_ev)) != SQLITE_OK)
        return rc;
    st = s->st[ST_PRUNE_MARKERS];
    sqlite3_bind_int64(st, 1, cutoff);
    sqlite3_bind_int64(st, 2, b_mk);
    if ((rc = prune_step(s, st, &b_mk)) != SQLITE_OK)
        return rc;
    st = s->st[ST_PRUNE_RUNS];
    sqlite3_bind_int64(st, 1, cutoff);
    sqlite3_bind_int64(st, 2, s->run_id);
    rc = step_done(st);
    *pruned += (uint64_t)(4 * STORE_PRUNE_STEP - b_rtt - b_att - b_ev - b_mk) + hist_pruned;
    *more = b_rtt <= 0 || b_att <= 0 || b_ev <= 0 || b_mk <= 0;
    return rc;
}

struct job_result {
    int rc; /* SQLite result */
    enum store_state state;
    char detail[STORE_TEXT_MAX];
    uint64_t rows;
    uint64_t pruned;
    bool prune_more;
    int64_t txn_us;
};

/* Write a job (a chain of batches) in one transaction. Runs on the writer thread. */
static void write_job(struct store *s, struct batch *job, bool end_run, int64_t retain_us,
                      bool do_prune, struct job_result *r)
{
    int64_t t0 = now_mono_us(), now = now_wall_us();
    bool new_run = false;
    int rc;

    memset(r, 0, sizeof(*r));
    step_sys_errno = 0;
    if (!s->db) {
        bool fatal;
        int e = db_connect(s, &r->state, &fatal, r->detail, sizeof(r->detail));
        if (e < 0) {
            r->rc = fatal ? SQLITE_CORRUPT : SQLITE_CANTOPEN;
            if (r->state == STORE_OK)
                r->state = STORE_IOERR;
            return;
        }
    }
    if (!job && !end_run && !do_prune && s->run_id == 0)
        return; /* nothing to do yet: a heartbeat before the first row */

    rc = step_done(s->st[ST_BEGIN]);
    if (rc != SQLITE_OK)
        goto fail;
    if (s->run_id == 0) {
        sqlite3_stmt *st = s->st[ST_RUN_INSERT];
        sqlite3_bind_int64(st, 1, s->started_us);
        sqlite3_bind_int64(st, 2, now);
        sqlite3_bind_int64(st, 3, (int64_t)getpid());
        sqlite3_bind_text(st, 4, PACKAGE_VERSION, -1, SQLITE_STATIC);
        if ((rc = step_done(st)) != SQLITE_OK)
            goto rollback;
        s->run_id = sqlite3_last_insert_rowid(s->db);
        new_run = true;
    }
    s->n_hk = 0;
    for (struct batch *b = job; b; b = b->next) {
        if ((rc = write_batch(s, b, &r->rows)) != SQLITE_OK)
            goto rollback;
    }
    if ((rc = write_hist(s, &r->rows)) != SQLITE_OK)
        goto rollback;
    {
        sqlite3_stmt *st = s->st[end_run ? ST_RUN_END : ST_RUN_BEAT];
        sqlite3_bind_int64(st, 1, s->run_id);
        sqlite3_bind_int64(st, 2, now);
        if ((rc = step_done(st)) != SQLITE_OK)
            goto rollback;
    }
    if (do_prune && retain_us > 0 &&
        (rc = prune(s, retain_us, &r->pruned, &r->prune_more)) != SQLITE_OK)
        goto rollback;
    rc = step_done(s->st[ST_COMMIT]);
    if (rc != SQLITE_OK)
        goto rollback;
    r->txn_us = now_mono_us() - t0;
    return;

rollback:
    /* what failed, before the rollback resets the error */
    r->state = state_of_rc(s->db, rc);
    step_done(s->st[ST_ROLLBACK]);
    goto failed;
fail:
    r->state = state_of_rc(s->db, rc);
failed:
    r->rc = rc;
    r->rows = 0;
    r->pruned = 0;
    snprintf(r->detail, sizeof(r->detail), "%s", sqlite3_errstr(rc));
    if (new_run)
        s->run_id = 0;
    /* the rolled-back transaction may have made endpoint rows: resolve them again */
    for (size_t i = 0; i < s->n_w_eps; i++)
        s->w_eps[i].db_id = 0;
    /* anything but a lock may have left the connection unusable (a read-only file, an I/O
     * error): open it afresh on the next try */
    if (r->state != STORE_LOCKED)
        db_disconnect(s);
}

static void *writer_main(void *arg)
{
    struct store *s = arg;

    pthread_mutex_lock(&s->mu);
    for (;;) {
        struct batch *job;
        bool end_run, do_prune, corrupt;
        int64_t retain_us;
        struct job_result r;

        while (!s->busy && !s->stop)
            pthread_cond_wait(&s->cv, &s->mu);
        if (!s->busy)
            break;
        job = s->job;
        end_run = s->job_end_run;
        do_prune = s->job_prune;
        retain_us = s->retain_us;
        corrupt = s->state == STORE_CORRUPT;
        pthread_mutex_unlock(&s->mu);

        pthread_mutex_lock(&s->dbmu);
        if (corrupt) {
            memset(&r, 0, sizeof(r));
            r.rc = SQLITE_CORRUPT;
            r.state = STORE_CORRUPT;
        } else {
            write_job(s, job, end_run, retain_us, do_prune, &r);
        }
        pthread_mutex_unlock(&s->dbmu);

        pthread_mutex_lock(&s->mu);
        s->job = NULL;
        s->job_end_run = false;
        s->job_prune = false;
        s->busy = false;
        s->last_rc = 0;
        if (r.rc == SQLITE_OK) {
            s->stats.rows_written += r.rows;
            s->stats.rows_pruned += r.pruned;
            s->stats.rows_waiting -=
                r.rows <= s->stats.rows_waiting ? r.rows : s->stats.rows_waiting;
            if (job || end_run || r.pruned) {
                s->stats.transactions++;
                s->stats.last_txn_us = r.txn_us;
                if (r.txn_us > s->stats.max_txn_us)
                    s->stats.max_txn_us = r.txn_us;
            }
            s->prune_more = r.prune_more;
            if (s->state != STORE_CORRUPT)
                set_state(s, STORE_OK, NULL);
            pthread_mutex_unlock(&s->mu);
            chain_free(job); /* free() outside the lock */
            pthread_mutex_lock(&s->mu);
        } else {
            s->failed = job;
            s->last_rc = errno_of(r.rc) ? errno_of(r.rc) : -EIO;
            set_state(s, r.state == STORE_OK ? STORE_IOERR : r.state, r.detail);
        }
        pthread_cond_broadcast(&s->done_cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- open and close -------------------------------------------------------------------- */

struct store *store_open(const char *path, int flags, char *err, size_t errlen)
{
    struct store *s;
    enum store_state st;
    bool fatal;
    int rc;

    if (err && errlen)
        err[0] = '\0';
    if (!path || !*path) {
        set_err(err, errlen, "no database path");
        return NULL;
    }
    if (!(flags & STORE_NO_CREATE)) {
        if (make_parent(path, err, errlen) < 0 || make_file(path, err, errlen) < 0)
            return NULL;
    } else if (access(path, F_OK) < 0) {
        set_err(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }

    s = xcalloc(1, sizeof(*s));
    s->path = xstrdup(path);
    s->started_us = now_wall_us();
    s->next_gen = 1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->dbmu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_cond_init(&s->done_cv, NULL);

    rc = db_connect(s, &st, &fatal, err, errlen);
    if (rc < 0 && fatal) {
        pthread_mutex_destroy(&s->mu);
        pthread_mutex_destroy(&s->dbmu);
        pthread_cond_destroy(&s->cv);
        pthread_cond_destroy(&s->done_cv);
        free(s->path);
        free(s);
        return NULL;
    }
    if (rc < 0) /* read-only, locked, full: open paused, the writer retries */
        set_state(s, st, err);
    if (pthread_create(&s->thread, NULL, writer_main, s) != 0) {
        set_err(err, errlen, "cannot start the history writer thread");
        db_disconnect(s);
        free(s->path);
        free(s);
        return NULL;
    }
    s->thread_started = true;
    return s;
}

static struct batch *cur_batch(struct store *s)
{
    if (!s->cur) {
        s->cur = xcalloc(1, sizeof(*s->cur));
        s->cur->gen = s->next_gen++;
    }
    return s->cur;
}

static void free_registry(struct store *s)
{
    for (size_t i = 0; i < s->n_eps; i++) {
        struct ep_info *e = s->eps[i];
        if (!e)
            continue;
        free(e->name);
        free(e->url);
        free(e->group);
        free(e->via);
        free(e->expect);
        free(e);
    }
    free(s->eps);
    for (size_t i = 0; i < s->n_w_eps; i++)
        free(s->w_eps[i].expect);
    free(s->w_eps);
    free(s->hk);
    for (size_t i = 0; i < s->n_slot_eps; i++)
        free(s->slots[i]);
    free(s->slots);
    free(s->n_slots);
    free(s->dirty);
    free(s->health);
}

static void snapshot_dirty(struct store *s);
static void hand_over(struct store *s, bool force);

/* Wait for the writer to be idle (mu held). */
static void wait_idle(struct store *s)
{
    while (s->busy)
        pthread_cond_wait(&s->done_cv, &s->mu);
}

int store_close(struct store *s)
{
    uint64_t lost;
    int rc = 0;

    if (!s)
        return 0;
    snapshot_dirty(s);
    for (int tries = 0; tries < STORE_CLOSE_TRIES; tries++) {
        bool left, corrupt;

        pthread_mutex_lock(&s->mu);
        wait_idle(s);
        if (s->failed) { /* the oldest: back at the head of the queue */
            struct batch *t = s->failed;
            while (t->next)
                t = t->next;
            t->next = s->queue;
            s->queue = s->failed;
            s->failed = NULL;
        }
        pthread_mutex_unlock(&s->mu);
        hand_over(s, true);
        pthread_mutex_lock(&s->mu);
        /* the run's end goes with the last job, or alone */
        wait_idle(s);
        left = s->failed || s->queue || s->cur;
        if (!left && s->run_id != 0 && s->state != STORE_CORRUPT) {
            s->job = NULL;
            s->job_end_run = true;
            s->busy = true;
            pthread_cond_signal(&s->cv);
            wait_idle(s);
            if (s->last_rc == 0) {
                pthread_mutex_unlock(&s->mu);
                break;
            }
        } else if (!left) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        corrupt = s->state == STORE_CORRUPT;
        pthread_mutex_unlock(&s->mu);
        if (corrupt)
            break;
        usleep(STORE_RETRY_MS * 1000 / 4);
    }

    pthread_mutex_lock(&s->mu);
    wait_idle(s);
    s->stop = true;
    pthread_cond_signal(&s->cv);
    lost = chain_rows(s->failed) + chain_rows(s->queue) + (s->cur ? batch_rows(s->cur) : 0);
    s->stats.rows_dropped += lost;
    pthread_mutex_unlock(&s->mu);
    if (s->thread_started)
        pthread_join(s->thread, NULL);
    if (lost) {
        char st[STORE_TEXT_MAX];
        store_status(s, st, sizeof(st));
        log_warn("%s: %llu rows not written (%s)", s->path, (unsigned long long)lost, st);
        rc = -EIO;
    }
    chain_free(s->failed);
    chain_free(s->queue);
    batch_free(s->cur);
    db_disconnect(s);
    free_registry(s);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->dbmu);
    pthread_cond_destroy(&s->cv);
    pthread_cond_destroy(&s->done_cv);
    free(s->path);
    free(s);
    return rc;
}

/* ---- the loop side ---------------------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
    return s && *s ? xstrdup(s) : NULL;
}

int store_set_endpoint(struct store *s, uint32_t ep, const char *name, const char *url,
                       const char *group, const char *via)
{
    struct ep_info *e;
    char masked[URL_PATH_MAX + URL_HOST_MAX + 32], why[128];
    struct url u;

    if (!s || ep == EVT_EP_NONE || ep > (1u << 24) || (!name && !url))
        return -EINVAL;
    if (url)
        url_mask_secrets(url, masked, sizeof(masked));
    pthread_mutex_lock(&s->mu);
    if (ep >= s->n_eps) {
        size_t n = (size_t)ep + 1;
        s->eps = xrealloc(s->eps, n * sizeof(*s->eps));
        memset(s->eps + s->n_eps, 0, (n - s->n_eps) * sizeof(*s->eps));
        s->n_eps = n;
    }
    if (!s->eps[ep])
        s->eps[ep] = xcalloc(1, sizeof(*s->eps[ep]));
    e = s->eps[ep];
    free(e->name);
    free(e->url);
    free(e->group);
    free(e->via);
    e->name = xstrdup(name && *name ? name : masked);
    e->url = url ? xstrdup(masked) : NULL;
    e->group = dup_or_null(group);
    e->via = dup_or_null(via);
    e->host[0] = '\0';
    e->port = 0;
    if (url && url_parse(url, true, &u, why, sizeof(why)) == 0) {
        snprintf(e->host, sizeof(e->host), "%s", u.host);
        e->port = u.port;
    }
    e->set = true;
    e->gen++;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int store_set_policy(struct store *s, uint32_t ep, const char *expect_message,
                     int64_t expect_within_ms, bool want_pings)
{
    struct ep_info *e;

    if (!s)
        return -EINVAL;
    pthread_mutex_lock(&s->mu);
    if (ep >= s->n_eps || !s->eps[ep]) {
        pthread_mutex_unlock(&s->mu);
        return -EINVAL;
    }
    e = s->eps[ep];
    free(e->expect);
    e->expect = dup_or_null(expect_message);
    e->expect_within_us = expect_within_ms * 1000;
    e->want_pings = want_pings;
    e->gen++;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

void store_set_retention(struct store *s, int64_t seconds)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->retain_us = seconds > 0 ? seconds * 1000000 : 0;
    s->last_prune_ms = 0;
    pthread_mutex_unlock(&s->mu);
}

/* The slot of (ep, conn), made on first use from the model's shape. */
static struct slot *slot_get(struct store *s, const struct model *m, uint32_t ep, uint32_t conn)
{
    if (ep >= s->n_slot_eps) {
        size_t n = m->n_eps > ep ? m->n_eps : (size_t)ep + 1;
        s->slots = xrealloc(s->slots, n * sizeof(*s->slots));
        s->n_slots = xrealloc(s->n_slots, n * sizeof(*s->n_slots));
        for (size_t i = s->n_slot_eps; i < n; i++) {
            s->slots[i] = NULL;
            s->n_slots[i] = 0;
        }
        s->n_slot_eps = n;
    }
    if (!s->slots[ep]) {
        size_t n = m->eps[ep].n_conns;
        s->slots[ep] = xcalloc(n, sizeof(**s->slots));
        s->n_slots[ep] = n;
    }
    return conn < s->n_slots[ep] ? &s->slots[ep][conn] : NULL;
}

/* Copy the attempt into the current batch, over its earlier copy there if any. The index. */
static uint32_t snap(struct store *s, uint32_t ep, uint32_t conn, struct slot *sl,
                     const struct model_attempt *a)
{
    struct batch *b = cur_batch(s);
    struct att_item *it;

    if (sl->gen == b->gen && sl->seq == a->seq && sl->idx < b->n_att) {
        it = &b->att[sl->idx];
        model_attempt_drop(&it->a);
    } else {
        GROW(b->att, b->n_att, b->cap_att);
        sl->idx = (uint32_t)b->n_att++;
        sl->gen = b->gen;
        sl->seq = a->seq;
        it = &b->att[sl->idx];
        it->ep = ep;
        it->conn = conn;
    }
    it->a = *a;
    model_attempt_hold(&it->a);
    sl->dirty = false;
    return sl->idx;
}

static void mark_dirty(struct store *s, struct slot *sl, uint32_t ep, uint32_t conn)
{
    if (sl->dirty)
        return;
    sl->dirty = true;
    GROW(s->dirty, s->n_dirty, s->cap_dirty);
    s->dirty[s->n_dirty++] = (struct dirty_ref){ep, conn};
}

/* Open attempts that changed since their last copy (messages, pongs): copied once a tick,
 * so that a crash loses at most the last tick of them too. */
static void snapshot_dirty(struct store *s)
{
    for (size_t i = 0; i < s->n_dirty; i++) {
        const struct dirty_ref *d = &s->dirty[i];
        struct slot *sl = &s->slots[d->ep][d->conn];
        const struct model_attempt *a;

        if (!sl->dirty)
            continue;
        sl->dirty = false;
        a = model_attempt_get(s->model, d->ep, d->conn);
        if (a && a->seq == sl->seq && !a->ended)
            snap(s, d->ep, d->conn, sl, a);
    }
    s->n_dirty = 0;
}

static struct ev_item *add_ev(struct store *s, enum ev_kind kind, const struct evt *e, int32_t att)
{
    struct batch *b = cur_batch(s);
    struct ev_item *ev;

    GROW(b->ev, b->n_ev, b->cap_ev);
    ev = &b->ev[b->n_ev++];
    ev->kind = kind;
    ev->ep = e->ep;
    ev->conn = e->conn;
    ev->t_us = e->t_wall_us;
    ev->att = att;
    ev->status = 0;
    ev->latency_us = 0;
    ev->text[0] = '\0';
    return ev;
}

static void sink_health(struct store *s, const struct evt *e)
{
    struct ev_item *ev;

    if (e->ep >= s->n_health) {
        size_t n = (size_t)e->ep + 1;
        s->health = xrealloc(s->health, n * sizeof(*s->health));
        for (size_t i = s->n_health; i < n; i++)
            s->health[i] = -1;
        s->n_health = n;
    }
    /* a change of status only, as the model logs it: polls come every few seconds */
    if (s->health[e->ep] == e->u.health.status)
        return;
    s->health[e->ep] = e->u.health.status;
    ev = add_ev(s, EV_HEALTH, e, -1);
    ev->status = e->u.health.status;
    ev->latency_us = e->u.health.latency_us;
    snprintf(ev->text, sizeof(ev->text), "%.*s",
             (int)strnlen(e->u.health.error, sizeof(e->u.health.error)), e->u.health.error);
}

void store_sink(void *ud, const struct evt *e, const struct model *m)
{
    struct store *s = ud;
    const struct model_attempt *a;
    struct slot *sl;
    struct batch *b;
    uint32_t idx;

    if (!s || !e || !m)
        return;
    s->model = m;
    if (e->kind == EVT_MARK) {
        struct ev_item *ev = add_ev(s, EV_MARK, e, -1);
        snprintf(ev->text, sizeof(ev->text), "%.*s",
                 (int)strnlen(e->u.mark.text, sizeof(e->u.mark.text)), e->u.mark.text);
        return;
    }
    if (e->ep >= m->n_eps)
        return;
    if (e->kind == EVT_HEALTH) {
        sink_health(s, e);
        return;
    }
    a = model_attempt_get(m, e->ep, e->conn);
    /* an event the model refused (not the current attempt) changes nothing */
    if (!a || a->seq == 0 || a->seq != e->attempt || !(sl = slot_get(s, m, e->ep, e->conn)))
        return;

    switch (e->kind) {
    case EVT_ATTEMPT:
    case EVT_DNS:
    case EVT_TCP:
    case EVT_TLS:
    case EVT_RESPONSE:
        snap(s, e->ep, e->conn, sl, a);
        break;
    case EVT_OPEN:
        idx = snap(s, e->ep, e->conn, sl, a);
        add_ev(s, EV_OPEN, e, (int32_t)idx);
        break;
    case EVT_CLOSED:
        idx = snap(s, e->ep, e->conn, sl, a);
        add_ev(s, EV_CLOSED, e, (int32_t)idx);
        break;
    case EVT_PONG:
        b = cur_batch(s);
        GROW(b->rtt, b->n_rtt, b->cap_rtt);
        b->rtt[b->n_rtt++] = (struct rtt_item){e->ep, e->conn, e->t_wall_us, e->u.pong.rtt_us};
        mark_dirty(s, sl, e->ep, e->conn);
        break;
    default: /* messages, pings, closing: counters of an open attempt */
        mark_dirty(s, sl, e->ep, e->conn);
        break;
    }
}

/* Move the current batch to the queue, apply the cap, and give the queue to the writer if it
 * is idle (and not waiting out a retry delay, unless force). Never waits on the writer. */
static void hand_over(struct store *s, bool force)
{
    struct batch *b = s->cur, *drop = NULL, **dt = &drop;
    int64_t now = now_mono_us() / 1000;
    bool heartbeat, prune;

    s->cur = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->failed) { /* the oldest rows: back at the head */
        struct batch *t = s->failed;
        while (t->next)
            t = t->next;
        t->next = s->queue;
        s->queue = s->failed;
        s->failed = NULL;
        s->retry_at_ms = now + STORE_RETRY_MS;
    }
    if (b && batch_rows(b) > 0) {
        struct batch **tail = &s->queue;
        while (*tail)
            tail = &(*tail)->next;
        *tail = b;
        s->stats.rows_waiting += batch_rows(b);
        b = NULL;
    }
    /* a corrupt file is never written again; otherwise keep the newest rows */
    while (s->queue && (s->state == STORE_CORRUPT ||
                        (s->queue->next && s->stats.rows_waiting > STORE_QUEUE_MAX_ROWS))) {
        struct batch *old = s->queue;
        size_t n = batch_rows(old);
        s->queue = old->next;
        old->next = NULL;
        *dt = old;
        dt = &old->next;
        s->stats.rows_waiting -= n <= s->stats.rows_waiting ? n : s->stats.rows_waiting;
        s->stats.rows_dropped += n;
    }
    prune = s->retain_us > 0 && (s->prune_more || s->last_prune_ms == 0 ||
                                 now - s->last_prune_ms >= STORE_PRUNE_EVERY_MS);
    heartbeat = now - s->last_job_ms >= STORE_HEARTBEAT_MS;
    if (!s->busy && s->state != STORE_CORRUPT && (force || now >= s->retry_at_ms) &&
        (s->queue || heartbeat || prune)) {
        s->job = s->queue;
        s->queue = NULL;
        s->job_prune = prune;
        s->busy = true;
        s->last_job_ms = now;
        if (prune)
            s->last_prune_ms = now;
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    chain_free(drop);
    batch_free(b);
}

void store_tick(struct store *s)
{
    char msg[STORE_TEXT_MAX];
    enum store_state st;

    if (!s)
        return;
    snapshot_dirty(s);
    hand_over(s, false);
    st = store_status(s, msg, sizeof(msg));
    if (st != s->logged) {
        /* once per change, from the loop thread (the dashboard's log sink is not
         * thread-safe) */
        if (st != STORE_OK)
            log_warn("%s: %s", s->path, msg);
        else
            log_info("%s: writing again", s->path);
        s->logged = st;
    }
}

int store_flush(struct store *s)
{
    int rc = 0;

    if (!s)
        return 0;
    snapshot_dirty(s);
    for (;;) {
        hand_over(s, true);
        pthread_mutex_lock(&s->mu);
        wait_idle(s);
        if (s->last_rc) {
            rc = s->last_rc;
        } else if (s->state == STORE_CORRUPT) {
            rc = -EILSEQ;
        } else if (s->queue) {
            pthread_mutex_unlock(&s->mu);
            continue;
        }
        pthread_mutex_unlock(&s->mu);
        return rc;
    }
}

int store_mark(struct store *s, const char *endpoint, const char *text, int64_t t_wall_us,
               char *err, size_t errlen)
{
    int64_t ep_id = 0;
    sqlite3_stmt *st;
    int rc = SQLITE_OK, ret = 0;

    if (err && errlen)
        err[0] = '\0';
    if (!s || !text)
        return -EINVAL;
    if (t_wall_us == 0)
        t_wall_us = now_wall_us();
    pthread_mutex_lock(&s->dbmu);
    if (!s->db) {
        enum store_state state;
        bool fatal;
        ret = db_connect(s, &state, &fatal, err, errlen);
        if (ret < 0)
            goto out;
    }
    if ((rc = step_done(s->st[ST_BEGIN])) != SQLITE_OK)
        goto fail;
    if (endpoint) {
        st = s->st[ST_EP_BY_NAME];
        sqlite3_bind_text(st, 1, endpoint, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            ep_id = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            goto rollback;
        if (ep_id == 0) {
            step_done(s->st[ST_ROLLBACK]);
            set_err(err, errlen, "%s: no endpoint named '%s' in the history", s->path, endpoint);
            ret = -ENOENT;
            goto out;
        }
    }
    st = s->st[ST_MARKER];
    sqlite3_bind_int64(st, 1, t_wall_us);
    if (ep_id)
        sqlite3_bind_int64(st, 2, ep_id);
    sqlite3_bind_text(st, 3, text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, "cli", -1, SQLITE_STATIC);
    if ((rc = step_done(st)) != SQLITE_OK)
        goto rollback;
    st = s->st[ST_EVENT];
    sqlite3_bind_int64(st, 1, t_wall_us);
    if (ep_id)
        sqlite3_bind_int64(st, 2, ep_id);
    sqlite3_bind_text(st, 4, "mark", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, text, -1, SQLITE_TRANSIENT);
    if ((rc = step_done(st)) != SQLITE_OK)
        goto rollback;
    if ((rc = step_done(s->st[ST_COMMIT])) == SQLITE_OK)
        goto out;
rollback:
    step_done(s->st[ST_ROLLBACK]);
fail:
    set_err(err, errlen, "%s: %s", s->path, sqlite3_errstr(rc));
    ret = errno_of(rc) ? errno_of(rc) : -EIO;
    if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
        db_disconnect(s);
out:
    pthread_mutex_unlock(&s->dbmu);
    return ret;
}
