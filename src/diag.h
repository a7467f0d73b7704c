/* SPDX-License-Identifier: MIT */
/* Diagnosis: pure functions from attempt records to a class, a verdict and a hint. */
#ifndef WSMON_SRC_DIAG_H
#define WSMON_SRC_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "evt.h"

struct model_attempt;
struct model_conn;

/* DESIGN section 5 classes. */
enum diag_class {
    DIAG_HEALTHY = 0,
    DIAG_DNS_FAILED,
    DIAG_TCP_REFUSED,
    DIAG_TCP_TIMEOUT,
    DIAG_TLS_EXPIRED,
    DIAG_TLS_HOSTNAME,
    DIAG_TLS_UNTRUSTED,
    DIAG_TLS_FAILED,
    DIAG_HTTP_STATUS,
    DIAG_UPGRADE_MISSING,
    DIAG_BAD_ACCEPT,
    DIAG_CLOSED_BEFORE_OPEN,
    DIAG_HANDSHAKE_TIMEOUT,
    DIAG_NO_FIRST_MESSAGE,
    DIAG_PING_TIMEOUT,
    DIAG_CLOSED_BY_SERVER,
    DIAG_ABNORMAL_CLOSE,
    DIAG_IDLE_TIMEOUT,
    DIAG_CLASS_COUNT
};

/* What the diagnosis needs to know of the configuration. */
struct diag_policy {
    const char *host;           /* host name of the URL, for hints */
    const char *expect_message; /* NULL: no message expected */
    int64_t expect_within_us;
    bool want_pings;    /* pings were configured */
    int64_t now_wall_s; /* for days_left (UTC seconds); passed in, never read */
    int port;           /* URL port, for "host:port" in verdicts; 0 = unknown */
    const char *proxy;  /* --proxy HOST:PORT, NULL: none */
};

#define DIAG_TEXT_MAX 256

struct diag_verdict {
    enum diag_class cls;
    enum evt_cause cause;     /* EVT_CAUSE_NONE when healthy */
    enum evt_phase failed_in; /* EVT_PH_NONE when healthy ("null") */
    bool ok;
    char verdict[DIAG_TEXT_MAX]; /* one line, plain English; may quote network text
                                    unsanitised: the printer escapes it */
    char hint[DIAG_TEXT_MAX];    /* "" = no hint (null) */
};

/* The policy of an endpoint's settings (borrowed: p points into ep), at now_wall_s. ep may
 * be NULL (an empty policy). */
void diag_policy_of(const struct cfg_ep *ep, int64_t now_wall_s, struct diag_policy *p);

/* Diagnose one attempt (finished or not). Pure: reads only its arguments. */
void diag_attempt(const struct model_attempt *a, const struct diag_policy *p,
                  struct diag_verdict *out);

/* DESIGN 5 spelling of a class ("dns-failed"...). */
const char *diag_class_name(enum diag_class c);

/* Days from now_s until not_after_s, rounded down (negative once expired). */
int64_t diag_days_left(int64_t not_after_s, int64_t now_s);

/* ---- verdicts over several attempts (DESIGN 5, last row and last paragraph) ----------
 *
 * These read the ended-attempt rings (model_conn.hist) of one endpoint's connections, passed
 * as an array of n borrowed pointers (NULL entries are skipped). They are pure like
 * diag_attempt: no allocation, clock, logging or globals; at most DIAG_SAMPLES_MAX ended
 * attempts are looked at: the newest of every connection, then the next newest, and so on
 * (model_end_get rank by rank). Each fills a caller's diag_verdict (out may be NULL where
 * noted): ok false with a class, cause and failed_in when it found something; otherwise cls
 * DIAG_HEALTHY, ok true and a verdict saying what was looked at ("this check found nothing": other
 * verdicts may still fail). Verdict strings may quote network text (backend names) unsanitised, as
 * diag_attempt's. */

#define DIAG_SAMPLES_MAX 256 /* ended attempts looked at per call */

/* Idle timeout: closes by the network or the server (not by us) of connections that opened
 * and carried nothing (model_end.quiet: no message, no ping), at least DIAG_IDLE_MIN_CLOSES
 * of them open for durations within max(DIAG_IDLE_TOL_US, DIAG_IDLE_TOL_PCT % of their
 * median) of that median, the median at least DIAG_IDLE_MIN_US (a close right after open is
 * no idle timeout). Of several such clusters the largest wins (then the tightest). */
#define DIAG_IDLE_MIN_CLOSES 3
#define DIAG_IDLE_TOL_US     1000000
#define DIAG_IDLE_TOL_PCT    10
#define DIAG_IDLE_MIN_US     2000000

/* The idle-timeout cutoff over one endpoint's connections: the median open duration of the
 * cluster in seconds (history's idle_timeout_s), or -1.0 when there is none. out (may be
 * NULL): DIAG_IDLE_TIMEOUT, failed_in open, the cluster's most common cause, and
 * "3 idle connections closed after 60.0 s: a load balancer idle timeout (1006 by network)"
 * with a hint naming the idle timeout and pings. */
double diag_idle_timeout(const struct model_conn *const *conns, size_t n, struct diag_verdict *out);

/* Flapping: at least DIAG_FLAP_MIN attempts that opened, stayed open less than
 * DIAG_FLAP_OPEN_MAX_US and ended in a failure (not a clean close of ours), all opened within
 * DIAG_FLAP_WINDOW_US before the newest end of any attempt of these connections. */
#define DIAG_FLAP_MIN         4
#define DIAG_FLAP_OPEN_MAX_US (30 * INT64_C(1000000))
#define DIAG_FLAP_WINDOW_US   (300 * INT64_C(1000000))

/* true when one endpoint's connections flap. out (may be NULL): the most common class and
 * cause of those attempts, failed_in open, and "flapping: 5 connections opened and dropped
 * within 2 min (median 4.1 s open)"; the span is rounded up to whole seconds under a minute,
 * else to whole minutes. */
bool diag_flapping(const struct model_conn *const *conns, size_t n, struct diag_verdict *out);

#define DIAG_BACKENDS_MAX     16 /* a suggested size for the caller's breakdown array */
#define DIAG_BACKEND_NAME_MAX 64 /* = MODEL_BACKEND_MAX */

/* One backend in a per-backend breakdown. */
struct diag_backend {
    char backend[DIAG_BACKEND_NAME_MAX]; /* backend-id header, sticky cookie or remote
                                            address, as the model attributed it */
    uint32_t attempts;                   /* attempts it served: ended ones, and a live one
                                            that is open */
    uint32_t failures;                   /* of those, ended in anything but healthy */
    enum evt_cause last_cause;           /* the newest failure's cause (inferred as diag_attempt
                                            does when the engine gave none); NONE without */
    enum diag_class last_class;          /* its class; DIAG_HEALTHY without failures */
    enum evt_phase last_failed_in;       /* its phase; EVT_PH_NONE without failures */
    int64_t last_fail_us;                /* monotonic end of the newest failure, -1 without */
    bool mixed;                          /* the failures are of more than one class */
};

/* Per-backend breakdown of one endpoint's connections (--connections N): up to max_b distinct
 * backends into b[] (attempts on further backends are not counted), in the order met: the
 * open live attempts of the connections in array order, then the ended ones as above.
 * Attempts that never reached TCP are nobody's and not counted. Returns how many
 * entries of b[] were filled. out (may be NULL): ok true with DIAG_HEALTHY when no backend
 * fails; else the class, cause and phase of the newest failure among the failing backends
 * (of the bad one when there is one) and, when exactly one of several fails,
 * "1 of 3 backends fails: 203.0.113.7:443 (5/5 attempts closed-before-open)"; when some of
 * several fail, each failing one; when all of several fail, that it is not one target. */
size_t diag_backends(const struct model_conn *const *conns, size_t n, struct diag_backend *b,
                     size_t max_b, struct diag_verdict *out);

/* One endpoint of a group, with its current verdict (borrowed: diag_attempt's output). */
struct diag_group_member {
    const char *name;             /* endpoint name for the verdict; NULL = unnamed */
    enum cfg_via via;             /* CFG_VIA_NONE: not compared */
    const struct diag_verdict *v; /* NULL: no result yet, not compared */
    int http_status;              /* of its current attempt's response, 0 = none */
};

/* Compare the via = lb and via = direct endpoints of one group (DESIGN 5): a member fails when
 * its verdict is not ok and not DIAG_HEALTHY; one still connecting (DIAG_HEALTHY, not ok) is
 * left out. A path fails when any of its members fails, and is healthy when none fails and
 * one is ok. Into out (not NULL):
 * - lb fails, direct healthy: "the load balancer path (alb) fails in upgrade
 *   (http-status 502) while the direct path is healthy", hint "look at the load balancer
 *   (target group health, listener rules, idle timeout)"; the first failing lb member's
 *   class, cause and phase.
 * - direct fails, lb healthy: the direct route (address, port, security group).
 * - both fail in tcp: "both paths fail in tcp: the network path or the server".
 * - both fail in one other phase: the shared cause, the direct member's verdict and hint; in
 *   different phases: both faults. The direct member's class, cause and phase.
 * - both healthy: ok, DIAG_HEALTHY. A side without result: what the other side shows. */
void diag_group(const struct diag_group_member *members, size_t n, struct diag_verdict *out);

#endif
