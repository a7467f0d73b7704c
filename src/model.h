/* SPDX-License-Identifier: MIT */
/* Per-endpoint and per-connection state, changed only by model_apply(). */
#ifndef WSMON_SRC_MODEL_H
#define WSMON_SRC_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evt.h"

#define MODEL_RTT_RING 32 /* RTT samples kept per attempt for the median (the newest) */

struct model_text;

/* The upgrade response of an attempt, as compact as its strings: one allocation, immutable
 * once made and shared by reference count (the store's writer thread holds copies), so a
 * connection pays for the bytes its server sent, not for the limits of struct evt_http.
 * Every string is NUL-terminated and never NULL ("" when absent). */
struct model_http {
    int status;
    int accept_ok; /* 1, 0, or -1 when not a 101 / no header */
    int n_cookies;
    bool head_truncated;
    const char *server, *upgrade, *connection, *location, *backend, *sticky, *head;
    const char *cookies[EVT_COOKIES_MAX];
    int refs; /* private */
};

/* The TLS session and certificate of an attempt, the same way (wss:// only). */
struct model_tls {
    const char *version, *cipher, *alpn, *subject, *issuer, *sans;
    int64_t not_after_s; /* UTC seconds since the epoch; 0 = unknown */
    enum evt_verify verify;
    int verify_code; /* OpenSSL X509_V_ERR_*, 0 = ok */
    bool insecure;   /* --insecure: failures reported, not enforced */
    int refs;        /* private */
};

/* Records with every string "" and nothing known, for readers of an attempt without one. */
extern const struct model_http model_http_empty;
extern const struct model_tls model_tls_empty;

/* New records from event payloads (refs = 1; strings terminated within their arrays). */
const struct model_http *model_http_new(const struct evt_http *h);
const struct model_tls *model_tls_new(const struct evt_tls *t);
/* Take and give back a reference; thread-safe; NULL is ignored. The last drop frees it. */
void model_http_hold(const struct model_http *h);
void model_http_drop(const struct model_http *h);
void model_tls_hold(const struct model_tls *t);
void model_tls_drop(const struct model_tls *t);

/* Everything measured about one connection attempt (DESIGN section 4).
 * Durations are microseconds; -1 means "does not apply / not reached". */
struct model_attempt {
    uint32_t seq;          /* attempt number, from 1; 0 = no attempt yet */
    bool tls;              /* wss:// */
    int64_t t_start_us;    /* monotonic */
    int64_t wall_start_us; /* UTC us since the epoch */
    int64_t t_last_us;     /* monotonic time of the last event applied */

    /* phase ends (monotonic), -1 when not reached */
    int64_t t_dns_us, t_tcp_us, t_tls_us, t_request_us, t_response_us, t_open_us, t_first_msg_us,
        t_end_us;
    /* durations, derived on apply (DESIGN 3.1 timings) */
    int64_t dns_us, tcp_us, tls_us, upgrade_us, open_us, first_message_us, total_us;

    enum evt_phase reached; /* last phase completed */
    int ready_state;        /* 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED */
    bool ended;             /* EVT_CLOSED applied */

    /* The attempt's strings: never NULL ("" until known), each at most its event array's size
     * minus one, packed in one shared record (like http and tls) that is made anew when one
     * of them changes (a few times an attempt). `first` holds first_len bytes (binary). */
    const char *dns_addr, *remote, *local;

    /* shared, immutable; NULL until the response head / the TLS handshake came. Whoever copies
     * an attempt (the store's snapshots) takes references: model_attempt_hold/_drop. */
    const struct model_http *http;
    const struct model_tls *tls_info;

    /* the end */
    enum evt_cause cause;
    enum evt_by by;
    enum evt_transport transport;
    int close_code; /* 0 = not closed yet */
    bool close_frame;
    bool close_frame_unknown; /* shown as null */
    const char *close_reason;
    int sys_errno;
    const char *detail;
    int64_t open_for_us; /* -1 if never open */

    /* while open */
    uint32_t pings_sent, pongs;
    uint32_t rtt_min_us, rtt_max_us, rtt_last_us;
    uint32_t rtt_ring[MODEL_RTT_RING];
    uint32_t rtt_n; /* samples seen (ring holds the last MODEL_RTT_RING) */
    uint64_t msgs_in, msgs_out, bytes_in, bytes_out;
    bool expect_seen;
    int64_t t_expect_us; /* monotonic time the expected message arrived, -1 */
    const char *first;
    uint32_t first_len;
    bool first_binary;
    const struct model_text *text; /* private: the record holding the strings above */
};

#define MODEL_HIST        32   /* ended attempts remembered per connection */
#define MODEL_SPARK       48   /* RTT samples kept per connection for the sparkline */
#define MODEL_CODES       12   /* distinct close codes counted per connection */
#define MODEL_LOG         2048 /* event log entries kept (a ring) */
#define MODEL_BACKEND_MAX 64

/* One ended attempt, in brief: what multi-attempt verdicts (idle timeout, flapping,
 * per-backend breakdown) need. */
struct model_end {
    uint32_t seq;
    int64_t wall_start_us, wall_end_us;
    int64_t t_end_us;    /* monotonic */
    int64_t open_for_us; /* -1 never opened */
    enum evt_cause cause;
    enum evt_by by;
    enum evt_phase reached;
    int code;
    int http_status;
    bool quiet; /* opened, then no message and no ping either way */
    char backend[MODEL_BACKEND_MAX];
};

struct model_code_count {
    int code;
    uint32_t n;
};

struct model_ends;

struct model_conn {
    struct model_attempt cur; /* the current (or last) attempt */
    uint32_t attempts;        /* attempts started */
    uint32_t opened;          /* attempts that reached open */

    /* across attempts */
    int64_t t_state_us; /* monotonic time readyState (or the attempt) last changed */
    uint32_t n_ended;   /* attempts ended; hist is a ring of the last MODEL_HIST */
    /* What only ended attempts fill, allocated at the first end (most connections never end):
     * until then hist is NULL and the counts point at zeros. */
    struct model_end *hist;               /* MODEL_HIST entries */
    const uint32_t *cause_counts;         /* [EVT_CAUSE_COUNT] ended attempts per cause
                                             (NONE = clean) */
    const struct model_code_count *codes; /* [MODEL_CODES] close codes seen, most
                                             frequent kept */
    uint32_t n_codes;
    struct model_ends *ends;                         /* private: the allocation behind the three */
    uint64_t msgs_in, msgs_out, bytes_in, bytes_out; /* totals over all attempts */
    uint32_t spark[MODEL_SPARK];                     /* last RTT samples, oldest first once full */
    uint32_t n_spark;                                /* samples ever added */
    uint32_t life_n;                                 /* attempts that opened and ended */
    int64_t life_sum_us, life_min_us, life_max_us;
    char backend[MODEL_BACKEND_MAX]; /* who served the current/last attempt */
};

struct model_health {
    uint32_t polls, failures;
    int status; /* last status, 0 when the last poll failed */
    uint32_t latency_us;
    char error[64];
    int64_t wall_us; /* when the last poll ended */
};

struct model_ep {
    uint32_t id;
    size_t n_conns;
    struct model_conn *conns;
    struct model_health health;
};

/* An event log entry: state changes, health changes and markers. */
struct model_log {
    int64_t wall_us, mono_us;
    uint32_t ep, conn;  /* ep = EVT_EP_NONE for a global marker */
    enum evt_kind kind; /* EVT_OPEN, EVT_CLOSED, EVT_HEALTH or EVT_MARK */
    enum evt_cause cause;
    enum evt_by by;
    enum evt_phase reached;
    int code; /* close code; HTTP status for EVT_HEALTH */
    int http_status;
    int64_t dur_us;          /* OPEN: time to open; CLOSED: open for (or total if never open) */
    char text[EVT_MARK_MAX]; /* marker text, close reason, health error */
};

struct model {
    size_t n_eps;
    struct model_ep *eps;
    struct model_log *log; /* ring of MODEL_LOG */
    uint64_t n_log;        /* entries ever appended */
};

/* Allocate a model for n_eps endpoints with conns_per_ep[i] connections each. Never NULL. */
struct model *model_new(size_t n_eps, const int *conns_per_ep);
void model_free(struct model *m);

/* Apply one event. 0, or -EINVAL for an unknown endpoint/connection or an event out of
 * order (for example a phase for an attempt that is not current). No I/O, no clock. */
int model_apply(struct model *m, const struct evt *e);

/* The attempt's response / TLS record, or the empty one: never NULL. */
const struct model_http *model_http_of(const struct model_attempt *a);
const struct model_tls *model_tls_of(const struct model_attempt *a);

/* A blank attempt: nothing reached, durations -1, every string "" (for hand-built ones). */
void model_attempt_init(struct model_attempt *a);

/* References for a copy of an attempt (its records); drop clears them (strings ""). */
void model_attempt_hold(const struct model_attempt *a);
void model_attempt_drop(struct model_attempt *a);

/* A blank connection (no attempt, nothing ended), for hand-built ones; model_new makes its
 * own this way. */
void model_conn_init(struct model_conn *c);

/* A connection's ring of ended attempts: the next slot to fill (allocated on first use,
 * oldest overwritten), and everything a connection owns freed (the record stays valid). */
struct model_end *model_conn_push_end(struct model_conn *c);
void model_conn_release(struct model_conn *c);

/* The attempt record of endpoint ep, connection conn, or NULL. */
const struct model_attempt *model_attempt_get(const struct model *m, uint32_t ep, uint32_t conn);

/* Median of the RTT samples kept, in microseconds; -1 without samples. */
int64_t model_rtt_median_us(const struct model_attempt *a);

/* The i-th newest log entry (0 = newest), or NULL past the end of the ring. */
const struct model_log *model_log_get(const struct model *m, uint64_t i);
/* The i-th newest ended attempt of a connection (0 = newest), or NULL. */
const struct model_end *model_end_get(const struct model_conn *c, uint32_t i);
/* The sparkline samples of a connection, oldest first, into out (up to MODEL_SPARK);
 * returns how many. */
size_t model_spark(const struct model_conn *c, uint32_t *out);
/* Median of a connection's sparkline samples (us), -1 without. */
int64_t model_conn_rtt_median_us(const struct model_conn *c);

#endif
