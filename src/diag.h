/* SPDX-License-Identifier: MIT */
/* Diagnosis: a pure function from an attempt record to a class, a verdict and a hint. */
#ifndef WSMON_SRC_DIAG_H
#define WSMON_SRC_DIAG_H

#include <stdbool.h>
#include <stdint.h>

#include "evt.h"

struct model_attempt;

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
    bool want_pings;            /* pings were configured */
    int64_t now_wall_s;         /* for days_left (UTC seconds); passed in, never read */
    int port;                   /* URL port, for "host:port" in verdicts; 0 = unknown */
};

#define DIAG_TEXT_MAX 256

struct diag_verdict {
    enum diag_class cls;
    enum evt_cause cause;       /* EVT_CAUSE_NONE when healthy */
    enum evt_phase failed_in;   /* EVT_PH_NONE when healthy ("null") */
    bool ok;
    char verdict[DIAG_TEXT_MAX]; /* one line, plain English; may quote network text
                                    unsanitised: the printer escapes it */
    char hint[DIAG_TEXT_MAX];    /* "" = no hint (null) */
};

/* Diagnose one attempt (finished or not). Pure: reads only its arguments. */
void diag_attempt(const struct model_attempt *a, const struct diag_policy *p,
                  struct diag_verdict *out);

/* DESIGN 5 spelling of a class ("dns-failed"...). */
const char *diag_class_name(enum diag_class c);

/* Days from now_s until not_after_s, rounded down (negative once expired). */
int64_t diag_days_left(int64_t not_after_s, int64_t now_s);

#endif
