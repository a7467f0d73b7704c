/* SPDX-License-Identifier: MIT */
/* The history database (DESIGN section 8): events become rows, written off the loop thread. */
#ifndef WSMON_SRC_STORE_H
#define WSMON_SRC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evt;
struct model;
struct sqlite3;
struct store;

/* How often the owner should call store_tick() (a uv timer). */
#define STORE_TICK_MS 250
/* Rows kept in memory while the database cannot be written; beyond it the oldest batches are
 * dropped (and counted). */
#define STORE_QUEUE_MAX_ROWS 200000
/* Rows deleted per table and tick by retention. */
#define STORE_PRUNE_STEP 1000

enum store_flags {
    STORE_NO_CREATE = 1 << 0, /* fail if the file does not exist (no folder, no file made) */
};

/* What the store can do right now: anything but STORE_OK is a banner. */
enum store_state {
    STORE_OK = 0,
    STORE_FULL,     /* disk full or file size limit: writing paused, rows wait */
    STORE_READONLY, /* the file or its file system is read-only: writing paused */
    STORE_LOCKED,   /* another process holds the write lock longer than the busy timeout */
    STORE_IOERR,    /* another I/O error: writing paused */
    STORE_CORRUPT,  /* the file turned out corrupt: writing stopped, the file left as it is */
};

struct store_stats {
    uint64_t rows_written; /* rows inserted or updated */
    uint64_t transactions; /* committed write transactions */
    uint64_t rows_dropped; /* rows lost: queue overflow, or still waiting at close */
    uint64_t rows_waiting; /* rows in memory, not yet committed */
    uint64_t rows_pruned;  /* rows removed by retention */
    int64_t last_txn_us;   /* wall time spent in the last transaction (writer thread) */
    int64_t max_txn_us;
};

/* "$XDG_STATE_HOME/wsmon/history.db", else "$HOME/.local/state/wsmon/history.db", into buf.
 * 0, or -ENOENT when neither variable is set, -ENOSPC when buf is too small. */
int store_default_path(char *buf, size_t len);

/* Open (creating the folder 0700 and the file 0600 unless STORE_NO_CREATE) and bring the
 * schema up to date. Returns NULL with a one-line reason in err when the file cannot be used:
 * not a database or corrupt (the file is left untouched byte for byte), a schema version newer
 * than this program knows (never modified), or it cannot be created or opened. A file that is
 * read-only, locked or on a full disk still opens: the store starts paused (store_status says
 * why) and the writer retries. Blocks for at most about a second (the busy timeout); call it
 * before the loop runs. */
struct store *store_open(const char *path, int flags, char *err, size_t errlen);

/* Write everything still in memory (the current batch, the state of open attempts, batches
 * waiting after a failure), mark the run ended, stop the writer and close. Blocks. Rows that
 * cannot be written (the database is still failing) are counted in rows_dropped and logged.
 * 0, or -EIO when rows were lost. store_close(NULL) is a no-op. */
int store_close(struct store *s);

/* Describe endpoint ep (the monitor's index) before its first event. name is the display
 * name (mon_ep_name) and must be unique in this run; url is masked (url_mask_secrets) before
 * it is stored; group and via may be NULL. Strings are copied. 0 or -EINVAL. Loop thread. */
int store_set_endpoint(struct store *s, uint32_t ep, const char *name, const char *url,
                       const char *group, const char *via);
/* What the diagnosis of ep's attempts needs beyond the URL (struct diag_policy): the expected
 * message (NULL: none), its window, and whether pings are on. 0 or -EINVAL. */
int store_set_policy(struct store *s, uint32_t ep, const char *expect_message,
                     int64_t expect_within_ms, bool want_pings);

/* A mon_sink_fn: turns events into rows in an in-memory batch. Never touches the disk or
 * SQLite and never waits; the model is borrowed and must live until store_close (store_tick
 * reads it to refresh open attempts). Loop thread only. */
void store_sink(void *store, const struct evt *e, const struct model *m);

/* Close the current batch and hand it (with any batches waiting after a failure) to the writer
 * thread if it is idle; at most one write is in flight. Never waits on the writer or the disk.
 * Also collects the writer's last result, logs state changes once (log_warn) and schedules
 * retention. Call every STORE_TICK_MS from a uv timer. */
void store_tick(struct store *s);

/* Like store_tick, then wait until the writer has written everything handed to it or failed.
 * Blocks: for tests and shutdown, never on the loop. 0, or the -errno of the failure. */
int store_flush(struct store *s);

/* Keep rows for `seconds` (0 = forever, the default). Older rows are deleted a few thousand
 * per tick (STORE_PRUNE_STEP per table), by the writer, inside its transactions. */
void store_set_retention(struct store *s, int64_t seconds);

/* The state and a one-line description for a banner or stderr: "history: ok, 1234 rows
 * written", "history database full: writing paused, 5230 rows waiting", ... Thread-safe, never
 * blocks on the writer. */
enum store_state store_status(struct store *s, char *buf, size_t len);
void store_get_stats(struct store *s, struct store_stats *out);

/* Insert a marker now, synchronously (wsmon mark): endpoint is a name already in the database
 * or NULL for a global marker. t_wall_us 0 means now. Waits for the write lock for at most the
 * busy timeout. 0, -ENOENT (no such endpoint) or another -errno, with a reason in err. Not for
 * the loop thread: the dashboard's m key goes through mon_mark() and the sink. */
int store_mark(struct store *s, const char *endpoint, const char *text, int64_t t_wall_us,
               char *err, size_t errlen);

/* Bring db up to the newest version in schema_sql ("-- version N" sections, see
 * data/schema.sql): each missing section and its user_version in one transaction. 0; -EROFS
 * when the file's version is newer than schema_sql knows (nothing touched); -EIO, -EBUSY,
 * -ENOSPC or -EROFS from SQLite; a reason in err. Exposed for tests; store_open calls it. */
int store_migrate(struct sqlite3 *db, const char *schema_sql, char *err, size_t errlen);
/* The newest version in schema_sql (0 if it has no section). */
int store_schema_version_of(const char *schema_sql);
/* The compiled-in schema (data/schema.sql) and its newest version. */
extern const char store_schema_sql[];
int store_schema_version(void);

#endif
