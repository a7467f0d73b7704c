/* SPDX-License-Identifier: MIT */
/* Asynchronous, timed name resolution on the libuv loop (c-ares). */
#ifndef WSMON_SRC_DNS_H
#define WSMON_SRC_DNS_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "evt.h"

struct dns;

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

/* token is the caller's, handed back unchanged: it tells a stale answer (for an attempt that
 * was given up) from a current one. */
typedef void (*dns_cb)(void *ud, uint64_t token, const struct dns_result *r);

/* A resolver on loop, reading /etc/resolv.conf and /etc/hosts. NULL with err filled. */
struct dns *dns_new(uv_loop_t *loop, char *err, size_t errlen);
/* Drop every pending query (their callbacks are not called), close the loop handles and
 * free once they are closed (the loop must run on). */
void dns_free(struct dns *d);

/* Look up host (A and AAAA; an IPv4 address is preferred). cb runs exactly once, possibly
 * before dns_lookup() returns (an /etc/hosts hit). The resolver's own timeout and attempts
 * come from resolv.conf; a caller with a shorter budget ignores the late answer by its
 * token. 0, or -ESHUTDOWN after dns_free() (cb is then not called). */
int dns_lookup(struct dns *d, const char *host, dns_cb cb, void *ud, uint64_t token);

#endif
