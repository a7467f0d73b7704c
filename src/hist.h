/* SPDX-License-Identifier: MIT */
/* History queries over the database the store writes (DESIGN 8.1): summary, outages,
 * attempts, events and markers, each row handed to a callback. */
#ifndef WSMON_SRC_HIST_H
#define WSMON_SRC_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "evt.h"

struct hist;

#define HIST_NULL       INT64_MIN /* an integer field that does not apply */
#define HIST_ALL_BEFORE INT64_MIN
#define HIST_ALL_AFTER  INT64_MAX

/* A string read from the database: s NULL = null. Not NUL-safe as C text (may hold NUL
 * bytes and anything else: the file is untrusted); valid during the callback only. */
struct hist_str {
    const char *s;
    size_t n;
};

/* What to look at. since/until: UTC microseconds; [since, until). endpoint: a name, NULL = all.
 * cls: a DESIGN 5 class name, NULL = all (attempts, outages and events only). */
struct hist_filter {
    int64_t since_us;
    int64_t until_us;
    const char *endpoint;
    const char *cls;
};

struct hist_code_count {
    int code;
    uint32_t n;
};

/* One endpoint over the window. Per-attempt figures (attempts, opened, classes, close codes,
 * messages, the idle timeout) count the attempts that started in the window; availability
 * and outages come from the timeline of open connections. */
struct hist_summary {
    struct hist_str endpoint, url;
    uint64_t attempts, opened;
    double availability_pct;   /* time with a connection OPEN / time watched, in the window */
    int64_t watched_us;        /* time watched (recorder runs) in the window */
    int64_t up_us;             /* of which some connection was open */
    uint32_t outages;          /* outages overlapping the window */
    int64_t longest_outage_us; /* HIST_NULL without outages */
    int64_t recover_us;        /* mean duration of the outages that ended; HIST_NULL if none */
    uint32_t classes[DIAG_CLASS_COUNT];
    const struct hist_code_count *codes; /* by code */
    size_t n_codes;
    uint64_t rtt_samples;
    int64_t rtt_p50_us, rtt_p95_us, rtt_p99_us; /* exact, nearest rank; HIST_NULL without */
    uint64_t messages_in, messages_out;
    double idle_timeout_s; /* diag_idle_timeout over the window's attempts, < 0 without */
};

/* A maximal period in which an endpoint had no connection open, from the end of the last open
 * (or the first failed attempt) to the next open, that is a failure: a failed attempt in it,
 * or it began with a close that was not clean. */
struct hist_outage {
    struct hist_str endpoint;
    int64_t start_us;
    int64_t end_us;         /* HIST_NULL: not recovered within what was recorded (ongoing, or
                               the recorder stopped first) */
    int64_t duration_us;    /* to the end, or to the end of the recording */
    enum diag_class cls;    /* of its first failed attempt, else of the close that began it */
    enum evt_cause cause;   /* EVT_CAUSE_NONE = null */
    int http_status;        /* of its first failed attempt; 0 = null */
    int close_code;         /* of the close that began it; 0 = null */
    uint32_t attempts;      /* failed attempts during it */
    struct hist_str marker; /* the nearest marker before it (global or this endpoint's) */
};

/* One attempt: the columns of the attempts table (DESIGN 3.1 fields and more). Integers
 * HIST_NULL when they do not apply; enums as stored, checked: an unknown spelling is null. */
struct hist_attempt {
    struct hist_str endpoint, url;
    int64_t started_us, opened_us, ended_us;
    uint32_t conn, seq;
    bool ok;
    enum diag_class cls; /* DIAG_CLASS_COUNT = unknown */
    enum evt_cause cause;
    int failed_in; /* enum evt_phase, -1 = null */
    int reached;   /* enum evt_phase, -1 = unknown */
    int ready_state;
    int64_t dns_us, tcp_us, tls_us, upgrade_us, open_us, first_message_us, total_us;
    struct hist_str remote;
    bool is_tls, have_tls;
    struct hist_str tls_version, tls_cipher, tls_subject, tls_issuer;
    int64_t tls_not_after_s;
    int tls_verify; /* enum evt_verify, -1 = null */
    bool tls_insecure;
    bool have_http;
    int64_t http_status, http_accept_ok; /* accept_ok: 0, 1 or HIST_NULL */
    struct hist_str http_server, http_upgrade, http_connection, http_location, http_backend;
    struct hist_str http_cookies; /* ';' separated names */
    bool ended;
    int64_t close_code, close_frame, open_for_us; /* close_frame: 0, 1 or HIST_NULL */
    struct hist_str close_reason;
    int close_by;        /* enum evt_by, -1 = null */
    int close_transport; /* enum evt_transport, -1 = null */
    int64_t rtt_samples, rtt_min_us, rtt_median_us, rtt_max_us;
    int64_t msgs_in, msgs_out, bytes_in, bytes_out;
    struct hist_str first_msg;
    struct hist_str verdict, hint;
};

struct hist_event {
    int64_t t_us;
    struct hist_str endpoint; /* null for a global marker */
    struct hist_str kind;     /* open, closed, health, mark */
    struct hist_str text;
};

struct hist_marker {
    int64_t t_us;
    struct hist_str endpoint; /* null: global */
    struct hist_str text;
};

/* Callbacks return 0 to go on, anything else to stop (the query then returns it). */
typedef int (*hist_summary_fn)(void *ud, const struct hist_summary *r);
typedef int (*hist_outage_fn)(void *ud, const struct hist_outage *r);
typedef int (*hist_attempt_fn)(void *ud, const struct hist_attempt *r);
typedef int (*hist_event_fn)(void *ud, const struct hist_event *r);
typedef int (*hist_marker_fn)(void *ud, const struct hist_marker *r);

/* Open path read-only (never written, never created; works while a recorder writes: WAL and a
 * busy timeout). NULL with a one-line reason in err: missing, not a database, corrupt, or no
 * wsmon history in it. A schema newer than this program knows opens with a warning in err. */
struct hist *hist_open(const char *path, char *err, size_t errlen);
void hist_close(struct hist *h);
/* The file's schema version. */
int hist_version(const struct hist *h);

/* Each query reads one consistent snapshot. 0, a callback's non-zero return, or -EIO / -EINVAL
 * (an unknown class in the filter) with the reason from hist_error(). */
int hist_summary(struct hist *h, const struct hist_filter *f, hist_summary_fn fn, void *ud);
/* Outages overlapping the window, oldest first. */
int hist_outages(struct hist *h, const struct hist_filter *f, hist_outage_fn fn, void *ud);
/* Attempts started in the window, oldest first. */
int hist_attempts(struct hist *h, const struct hist_filter *f, hist_attempt_fn fn, void *ud);
int hist_events(struct hist *h, const struct hist_filter *f, hist_event_fn fn, void *ud);
int hist_markers(struct hist *h, const struct hist_filter *f, hist_marker_fn fn, void *ud);
const char *hist_error(const struct hist *h);

/* ---- the review screen's timeline ------------------------------------------------------- */

enum hist_span_kind {
    HIST_SPAN_WATCHED, /* a recorder watched the endpoint */
    HIST_SPAN_OPEN,    /* some connection of it was OPEN */
    HIST_SPAN_OUTAGE,  /* an outage (struct hist_outage) */
};

/* [start_us, end_us), clipped to the window; end_us > start_us. */
struct hist_span {
    int64_t start_us, end_us;
    enum hist_span_kind kind;
};

/* One endpoint over the window: what the summary and the outages views compute, as spans. */
struct hist_timeline {
    struct hist_str endpoint, url;
    int64_t watched_us, up_us;
    const struct hist_span *spans; /* every kind, in no particular order */
    size_t n_spans;
    const struct hist_outage *outages; /* overlapping the window, oldest first */
    size_t n_outages;
};

typedef int (*hist_timeline_fn)(void *ud, const struct hist_timeline *r);

/* The endpoints watched (or with attempts) in the window, by name, each with its spans and
 * outages: one consistent snapshot. f->cls is ignored. 0, a callback's return, -EIO, -ENOENT. */
int hist_timeline(struct hist *h, const struct hist_filter *f, hist_timeline_fn fn, void *ud);

/* The attempts of endpoint (a name) that overlap [start_us, end_us]: those started in it, and
 * the open one that ended in it (the close that began an outage), oldest first. */
int hist_outage_attempts(struct hist *h, const char *endpoint, int64_t start_us, int64_t end_us,
                         hist_attempt_fn fn, void *ud);

/* ---- replay: stored rows back into events ------------------------------------------------ */

struct cfg;
struct hist_replay;

#define HIST_REPLAY_MSGS_MAX 100000  /* messages made up per attempt and direction */
#define HIST_REPLAY_RTT_MAX  4000000 /* RTT samples loaded (the newest kept) */

struct hist_replay_stats {
    size_t endpoints, attempts;
    uint64_t rtt, rtt_dropped;  /* samples replayed; older ones left out over the cap */
    uint64_t msgs, msgs_capped; /* messages made up from the counters; attempts over the cap */
    uint64_t health, marks;
    int64_t first_us; /* the first event (before since when an attempt was already
                         running at since); INT64_MAX without events */
};

/* Read one window of the database into memory (nothing is read afterwards): the attempts that
 * overlap [since_us, until_us) with their phases and fields, the RTT samples, health changes and
 * markers. The endpoints with an attempt in it become the replay's endpoints 0..n-1, by name;
 * an attempt that was already running at since_us is replayed from its start. NULL with a reason in
 * err on a database error. Blocks on the disk: not for a loop. */
struct hist_replay *hist_replay_load(struct hist *h, int64_t since_us, int64_t until_us, char *err,
                                     size_t errlen);
void hist_replay_free(struct hist_replay *r);
void hist_replay_get_stats(const struct hist_replay *r, struct hist_replay_stats *out);

/* The replay's endpoints as a configuration (names, masked URLs, group, via, connections; ping
 * on when pings were recorded; health set when health changes were recorded), ready for
 * mon_new(no_connect). cfg is initialised here; cfg_fini it. 0 or -EINVAL with a reason. */
int hist_replay_cfg(const struct hist_replay *r, struct cfg *cfg, char *err, size_t errlen);

/* Events in time order (t_mono_us = t_wall_us = the stored UTC time): ATTEMPT, DNS, TCP, TLS,
 * REQUEST, RESPONSE, OPEN, MSG, PING, PONG, CLOSING, CLOSED, HEALTH and MARK, with the endpoint,
 * connection and attempt numbers of the replay, up to (not including) until_us. false at the
 * end. Pure memory: fine on a loop. */
bool hist_replay_next(struct hist_replay *r, struct evt *out);
/* The time of the next event, INT64_MAX at the end. */
int64_t hist_replay_peek(struct hist_replay *r);
/* Back to the first event (for a new model). */
void hist_replay_rewind(struct hist_replay *r);

/* Parse a --since/--until value into UTC microseconds: ISO 8601 in UTC
 * ("2026-11-26T14:02:00Z", also without the Z, with a space for the T, with fractions of a
 * second, or a date alone = its midnight), a duration back from now ("2h", "30m", "1d", "90s",
 * "1w", "1h30m"), "now", "today" or "yesterday" (their midnight, UTC). now_us is the current
 * time. 0 or -EINVAL. */
int hist_parse_time(const char *s, int64_t now_us, int64_t *out_us);

/* The DESIGN 5 class of a name, or DIAG_CLASS_COUNT when unknown. */
enum diag_class hist_class_of(const char *name, size_t n);

#endif
