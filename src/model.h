/* SPDX-License-Identifier: MIT */
/* Per-endpoint and per-connection state, changed only by model_apply(). */
#ifndef WSMON_SRC_MODEL_H
#define WSMON_SRC_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evt.h"

#define MODEL_RTT_RING 256 /* RTT samples kept per attempt for the median */

/* Everything measured about one connection attempt (DESIGN section 4).
 * Durations are microseconds; -1 means "does not apply / not reached". */
struct model_attempt {
    uint32_t seq;         /* attempt number, from 1; 0 = no attempt yet */
    bool tls;             /* wss:// */
    int64_t t_start_us;   /* monotonic */
    int64_t wall_start_us; /* UTC us since the epoch */
    int64_t t_last_us;    /* monotonic time of the last event applied */

    /* phase ends (monotonic), -1 when not reached */
    int64_t t_dns_us, t_tcp_us, t_tls_us, t_request_us, t_response_us, t_open_us, t_first_msg_us,
        t_end_us;
    /* durations, derived on apply (DESIGN 3.1 timings) */
    int64_t dns_us, tcp_us, tls_us, upgrade_us, open_us, first_message_us, total_us;

    enum evt_phase reached;   /* last phase completed */
    int ready_state;          /* 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED */
    bool ended;               /* EVT_CLOSED applied */

    char dns_addr[EVT_ADDR_MAX];
    char remote[EVT_ADDR_MAX];
    char local[EVT_ADDR_MAX];

    bool have_http;
    struct evt_http http;
    bool have_tls;
    struct evt_tls tls_info;

    /* the end */
    enum evt_cause cause;
    enum evt_by by;
    enum evt_transport transport;
    int close_code;       /* 0 = not closed yet */
    bool close_frame;
    bool close_frame_unknown; /* shown as null */
    char close_reason[EVT_REASON_MAX];
    int sys_errno;
    char detail[EVT_NAME_MAX];
    int64_t open_for_us; /* -1 if never open */

    /* while open */
    uint32_t pings_sent, pongs;
    uint32_t rtt_min_us, rtt_max_us, rtt_last_us;
    uint32_t rtt_ring[MODEL_RTT_RING];
    uint32_t rtt_n; /* samples seen (ring holds the last MODEL_RTT_RING) */
    uint64_t msgs_in, msgs_out, bytes_in, bytes_out;
    bool expect_seen;
    int64_t t_expect_us; /* monotonic time the expected message arrived, -1 */
    char first[EVT_FIRST_MAX];
    uint32_t first_len;
    bool first_binary;
};

struct model_conn {
    struct model_attempt cur; /* the current (or last) attempt */
    uint32_t attempts;        /* attempts started */
    uint32_t opened;          /* attempts that reached open */
};

struct model_ep {
    uint32_t id;
    size_t n_conns;
    struct model_conn *conns;
};

struct model {
    size_t n_eps;
    struct model_ep *eps;
};

/* Allocate a model for n_eps endpoints with conns_per_ep[i] connections each. Never NULL. */
struct model *model_new(size_t n_eps, const int *conns_per_ep);
void model_free(struct model *m);

/* Apply one event. 0, or -EINVAL for an unknown endpoint/connection or an event out of
 * order (for example a phase for an attempt that is not current). No I/O, no clock. */
int model_apply(struct model *m, const struct evt *e);

/* The attempt record of endpoint ep, connection conn, or NULL. */
const struct model_attempt *model_attempt_get(const struct model *m, uint32_t ep, uint32_t conn);

/* Median of the RTT samples kept, in microseconds; -1 without samples. */
int64_t model_rtt_median_us(const struct model_attempt *a);

#endif
