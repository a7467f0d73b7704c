/* SPDX-License-Identifier: MIT */
/* Asynchronous, timed name resolution on the libuv loop (c-ares). */
#ifndef WSMON_SRC_DNS_H
#define WSMON_SRC_DNS_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "evt.h"

struct dns;
struct dns_query;

/* Result of a lookup. On success cause is EVT_CAUSE_NONE and addr holds the first address
 * (numeric, no brackets) with family AF_INET or AF_INET6. Otherwise cause is
 * EVT_CAUSE_NXDOMAIN, EVT_CAUSE_DNS_SERVFAIL or EVT_CAUSE_DNS_TIMEOUT and detail says why. */
struct dns_result {
    enum evt_cause cause;
    int family;
    char addr[EVT_ADDR_MAX];
    int n_addrs;
    char detail[128];
};

typedef void (*dns_cb)(void *ud, const struct dns_result *r);

/* A resolver on loop, reading /etc/resolv.conf and /etc/hosts. NULL with err filled. */
struct dns *dns_new(uv_loop_t *loop, char *err, size_t errlen);
/* Cancel every pending query (their callbacks are not called) and free. */
void dns_free(struct dns *d);

/* Look up host (A and AAAA; IPv4 first). cb runs later on the loop, exactly once, unless
 * dns_cancel() is called first. timeout_ms bounds the whole lookup. Returns a handle, or
 * NULL when the query cannot start (cb is then not called). */
struct dns_query *dns_lookup(struct dns *d, const char *host, int64_t timeout_ms, dns_cb cb,
                             void *ud);
/* Forget a pending query: its callback will not run. */
void dns_cancel(struct dns_query *q);

#endif
