/* SPDX-License-Identifier: MIT */
/* Typed events from the engine: the only way measurements reach the model. */
#ifndef WSMON_SRC_EVT_H
#define WSMON_SRC_EVT_H

#include <stdbool.h>
#include <stdint.h>

/* Capped string sizes (bytes, including the NUL). Copies longer than the cap are
 * truncated and flagged; nothing here is sanitised: that happens on output. */
#define EVT_ADDR_MAX        64
#define EVT_HDR_MAX         256
#define EVT_NAME_MAX        256
#define EVT_HEAD_MAX        1024
#define EVT_FIRST_MAX       128
#define EVT_REASON_MAX      128
#define EVT_COOKIES_MAX     4
#define EVT_COOKIE_NAME_MAX 32
#define EVT_STICKY_MAX      48
#define EVT_MARK_MAX        128
#define EVT_EP_NONE         UINT32_MAX /* an event about no endpoint in particular (markers) */

/* Phases of an attempt, in order. */
enum evt_phase {
    EVT_PH_NONE = 0,
    EVT_PH_DNS,
    EVT_PH_TCP,
    EVT_PH_TLS,
    EVT_PH_UPGRADE,
    EVT_PH_OPEN,
};

/* Precise failure reasons (DESIGN 3.1 "cause"). EVT_CAUSE_NONE = healthy/none. */
enum evt_cause {
    EVT_CAUSE_NONE = 0,
    EVT_CAUSE_NXDOMAIN,
    EVT_CAUSE_DNS_SERVFAIL,
    EVT_CAUSE_DNS_TIMEOUT,
    EVT_CAUSE_REFUSED,
    EVT_CAUSE_CONNECT_TIMEOUT,
    EVT_CAUSE_UNREACHABLE,
    EVT_CAUSE_TLS_EXPIRED,
    EVT_CAUSE_TLS_NOT_YET_VALID,
    EVT_CAUSE_TLS_HOSTNAME,
    EVT_CAUSE_TLS_SELF_SIGNED,
    EVT_CAUSE_TLS_UNTRUSTED,
    EVT_CAUSE_TLS_PROTOCOL,
    EVT_CAUSE_HTTP_STATUS,
    EVT_CAUSE_REDIRECT,
    EVT_CAUSE_BAD_ACCEPT,
    EVT_CAUSE_RESET,
    EVT_CAUSE_EOF,
    EVT_CAUSE_HANDSHAKE_TIMEOUT,
    EVT_CAUSE_NO_FIRST_MESSAGE,
    EVT_CAUSE_PING_TIMEOUT,
    EVT_CAUSE_CLOSE_FRAME,
    EVT_CAUSE_COUNT
};

/* TLS verification result (DESIGN 3.1 tls.verify). */
enum evt_verify {
    EVT_VERIFY_NONE = 0, /* plain ws:// or not known */
    EVT_VERIFY_OK,
    EVT_VERIFY_EXPIRED,
    EVT_VERIFY_NOT_YET_VALID,
    EVT_VERIFY_HOSTNAME,
    EVT_VERIFY_SELF_SIGNED,
    EVT_VERIFY_UNTRUSTED,
    EVT_VERIFY_OTHER,
};

/* Who ended the connection (DESIGN 3.1 close.by). */
enum evt_by {
    EVT_BY_NONE = 0,
    EVT_BY_SERVER,  /* close frame received */
    EVT_BY_CLIENT,  /* we closed (end of --hold, end of probe) */
    EVT_BY_NETWORK, /* TCP gone without a close frame */
    EVT_BY_TIMEOUT, /* our handshake, first-message or ping timeout */
};

/* How the TCP connection ended, when it ended without a close frame. */
enum evt_transport {
    EVT_TR_NONE = 0,
    EVT_TR_EOF,
    EVT_TR_RESET,
};

enum evt_kind {
    EVT_ATTEMPT,  /* an attempt starts; u.attempt */
    EVT_DNS,      /* the name resolved; u.dns */
    EVT_TCP,      /* TCP connected; u.tcp */
    EVT_TLS,      /* TLS handshake done (also sent on a failed verification); u.tls */
    EVT_REQUEST,  /* upgrade request written */
    EVT_RESPONSE, /* upgrade response head read; u.http */
    EVT_OPEN,     /* WebSocket open */
    EVT_MSG,      /* a message in or out; u.msg */
    EVT_PING,     /* one of our pings sent */
    EVT_PONG,     /* one of our pings answered; u.pong */
    EVT_CLOSING,  /* a close frame was sent or received: readyState 2 */
    EVT_CLOSED,   /* the attempt ended: exactly one per EVT_ATTEMPT; u.closed */
    EVT_HEALTH,   /* a --health poll finished (conn 0, attempt 0); u.health */
    EVT_MARK,     /* an operator's marker (ep may be EVT_EP_NONE, attempt 0); u.mark */
    EVT_KIND_COUNT
};

struct evt_tls {
    char version[16];
    char cipher[64];
    char alpn[16];
    char subject[EVT_NAME_MAX];
    char issuer[EVT_NAME_MAX];
    char sans[EVT_NAME_MAX]; /* comma separated */
    int64_t not_after_s;     /* UTC seconds since the epoch; 0 = unknown */
    enum evt_verify verify;
    int verify_code; /* OpenSSL X509_V_ERR_*, 0 = ok */
    bool insecure;   /* --insecure: failures reported, not enforced */
};

struct evt_http {
    int status;
    char server[EVT_HDR_MAX];
    char upgrade[EVT_HDR_MAX];
    char connection[EVT_HDR_MAX];
    char location[EVT_HDR_MAX];
    char backend[EVT_HDR_MAX]; /* value of the configured backend-id header */
    int accept_ok;             /* 1, 0, or -1 when not a 101 / no header */
    int n_cookies;
    char cookies[EVT_COOKIES_MAX][EVT_COOKIE_NAME_MAX]; /* Set-Cookie names, not values */
    char sticky[EVT_STICKY_MAX]; /* "AWSALB#1a2b3c4d": a sticky cookie's name and a hash of
                                    its value (never the value), naming the backend */
    char head[EVT_HEAD_MAX];     /* raw response head, capped (failed upgrades only) */
    bool head_truncated;
};

struct evt {
    enum evt_kind kind;
    uint32_t ep;       /* endpoint id, never a pointer */
    uint32_t conn;     /* connection index within the endpoint */
    uint32_t attempt;  /* attempt sequence number within the connection, from 1 */
    int64_t t_mono_us; /* stamped by the engine (CLOCK_MONOTONIC) */
    int64_t t_wall_us; /* UTC microseconds since the epoch, for display and storage */
    union {
        struct {
            bool tls; /* wss:// */
        } attempt;
        struct {
            char addr[EVT_ADDR_MAX]; /* first address chosen */
            int n_addrs;
        } dns;
        struct {
            char remote[EVT_ADDR_MAX]; /* "ip:port" or "[ip6]:port" */
            char local[EVT_ADDR_MAX];
        } tcp;
        struct evt_tls tls;
        struct evt_http http;
        struct {
            bool out; /* sent by us */
            bool binary;
            bool matched; /* contains the --expect-message text */
            uint64_t len;
            char first[EVT_FIRST_MAX]; /* first bytes of the message */
            uint32_t first_len;
        } msg;
        struct {
            uint32_t rtt_us;
        } pong;
        struct {
            bool by_us; /* the close frame was ours */
        } closing;
        struct {
            int status;          /* HTTP status, 0 when the request failed */
            uint32_t latency_us; /* request to response head */
            char error[64];      /* why it failed ("" when a status came) */
        } health;
        struct {
            char text[EVT_MARK_MAX];
        } mark;
        struct {
            enum evt_cause cause; /* EVT_CAUSE_NONE: a clean end we asked for */
            enum evt_by by;
            enum evt_transport transport;
            int code;           /* what a browser's onclose shows: 1006 without a close frame */
            bool frame;         /* a close frame arrived from the server */
            bool frame_unknown; /* we closed and lws does not tell whether the server's
                                   close frame (the ack) came: frame is then null */
            char reason[EVT_REASON_MAX];
            int sys_errno;             /* errno seen at the failure, 0 if none */
            char detail[EVT_NAME_MAX]; /* resolver or library message, for the verdict */
        } closed;
    } u;
};

const char *evt_kind_name(enum evt_kind k);
const char *evt_phase_name(enum evt_phase p);
/* The DESIGN 3.1 spelling of a cause, or NULL for EVT_CAUSE_NONE. */
const char *evt_cause_name(enum evt_cause c);
/* DESIGN 3.1 spelling of tls.verify, or NULL for EVT_VERIFY_NONE. */
const char *evt_verify_name(enum evt_verify v);
/* DESIGN 3.1 spelling of close.by, or NULL for EVT_BY_NONE. */
const char *evt_by_name(enum evt_by b);
const char *evt_transport_name(enum evt_transport t);

#endif
