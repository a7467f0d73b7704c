/* SPDX-License-Identifier: MIT */
/* Asynchronous name resolution with c-ares, driven by the libuv loop. */
#include "config.h"

#include "dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <ares.h>

#include "log.h"
#include "xmem.h"

/* One watched resolver socket. The poll handle comes first so that a uv_handle_t pointer
 * is also a struct dns_sock pointer. */
struct dns_sock {
    uv_poll_t poll;
    struct dns *d;
    ares_socket_t fd;
    struct dns_sock *next;
};

struct dns {
    uv_loop_t *loop;
    ares_channel ch;
    bool ch_ok;
    uv_timer_t timer;
    struct dns_sock *socks;
    int handles_open; /* timer + polls not yet closed */
    bool closing;
};

struct dns_query {
    struct dns *d;
    dns_cb cb;
    void *ud;
    uint64_t token;
};

static int lib_refs;

static void dns_reschedule(struct dns *d);

static void handle_closed(uv_handle_t *h)
{
    struct dns *d;

    if (h->type == UV_POLL) {
        struct dns_sock *s = (struct dns_sock *)h;
        d = s->d;
        free(s);
    } else {
        d = h->data;
    }
    if (--d->handles_open == 0 && d->closing)
        free(d);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct dns_sock *s = (struct dns_sock *)p;
    struct dns *d = s->d;
    ares_socket_t rfd = ARES_SOCKET_BAD, wfd = ARES_SOCKET_BAD;

    /* on an error, let c-ares read the socket and see the error itself */
    if (status < 0 || (events & UV_READABLE))
        rfd = s->fd;
    if (status >= 0 && (events & UV_WRITABLE))
        wfd = s->fd;
    ares_process_fd(d->ch, rfd, wfd);
    dns_reschedule(d);
}

static void on_timer(uv_timer_t *t)
{
    struct dns *d = t->data;

    ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    dns_reschedule(d);
}

static void dns_reschedule(struct dns *d)
{
    struct timeval tv, *tvp;

    if (d->closing)
        return;
    tvp = ares_timeout(d->ch, NULL, &tv);
    if (!tvp) {
        uv_timer_stop(&d->timer);
        return;
    }
    uv_timer_start(&d->timer, on_timer, (uint64_t)tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000,
                   0);
}

/* c-ares tells which sockets to watch for what. */
static void sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
    struct dns *d = data;
    struct dns_sock **pp, *s;
    int events = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);

    for (pp = &d->socks; *pp && (*pp)->fd != fd; pp = &(*pp)->next)
        ;
    s = *pp;
    if (!events) {
        if (s) {
            *pp = s->next;
            uv_poll_stop(&s->poll);
            uv_close((uv_handle_t *)&s->poll, handle_closed);
        }
        return;
    }
    if (!s) {
        s = xcalloc(1, sizeof(*s));
        s->d = d;
        s->fd = fd;
        if (uv_poll_init_socket(d->loop, &s->poll, fd) < 0) {
            log_warn("%s: cannot watch resolver socket %d", __func__, (int)fd);
            free(s);
            return;
        }
        s->poll.data = d;
        d->handles_open++;
        s->next = d->socks;
        d->socks = s;
    }
    uv_poll_start(&s->poll, events, on_poll);
}

/* c-ares 1.18 reads "retrans:" and "retry:" from resolv.conf but not glibc's "timeout:" and
 * "attempts:", which operators set: read those here so wsmon gives up when getaddrinfo
 * would. glibc's defaults (5 s, 2 attempts) otherwise. */
static void glibc_options(int *timeout_ms, int *tries)
{
    char line[1024];
    const char *env = getenv("RES_OPTIONS");
    FILE *f = fopen("/etc/resolv.conf", "r");

    *timeout_ms = 5000;
    *tries = 2;
    for (;;) {
        char *p, *save = NULL;
        if (f) {
            if (!fgets(line, sizeof(line), f)) {
                fclose(f);
                f = NULL;
                if (!env)
                    break;
                snprintf(line, sizeof(line), "options %s", env);
                env = NULL;
            }
        } else if (env) {
            snprintf(line, sizeof(line), "options %s", env);
            env = NULL;
        } else {
            break;
        }
        p = strtok_r(line, " \t\r\n", &save);
        if (!p || strcmp(p, "options") != 0)
            continue;
        while ((p = strtok_r(NULL, " \t\r\n", &save))) {
            long v;
            if (!strncmp(p, "timeout:", 8)) {
                v = strtol(p + 8, NULL, 10);
                if (v >= 1)
                    *timeout_ms = (int)(v > 30 ? 30 : v) * 1000;
            } else if (!strncmp(p, "attempts:", 9)) {
                v = strtol(p + 9, NULL, 10);
                if (v >= 1)
                    *tries = (int)(v > 5 ? 5 : v);
            }
        }
    }
}

struct dns *dns_new(uv_loop_t *loop, char *err, size_t errlen)
{
    struct dns *d;
    struct ares_options opts;
    int rc;

    if (lib_refs++ == 0) {
        rc = ares_library_init(ARES_LIB_INIT_ALL);
        if (rc != ARES_SUCCESS) {
            lib_refs--;
            snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
            return NULL;
        }
    }
    d = xcalloc(1, sizeof(*d));
    d->loop = loop;
    memset(&opts, 0, sizeof(opts));
    opts.sock_state_cb = sock_state_cb;
    opts.sock_state_cb_data = d;
    glibc_options(&opts.timeout, &opts.tries);
    rc = ares_init_options(&d->ch, &opts,
                           ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares: cannot read the resolver configuration: %s",
                 ares_strerror(rc));
        free(d);
        if (--lib_refs == 0)
            ares_library_cleanup();
        return NULL;
    }
    d->ch_ok = true;
    uv_timer_init(loop, &d->timer);
    d->timer.data = d;
    d->handles_open = 1;
    return d;
}

void dns_free(struct dns *d)
{
    struct dns_sock *s, *next;

    if (!d)
        return;
    d->closing = true;
    /* pending queries get ARES_EDESTRUCTION, which frees them without a user callback */
    ares_destroy(d->ch);
    if (--lib_refs == 0)
        ares_library_cleanup();
    for (s = d->socks; s; s = next) {
        next = s->next;
        uv_poll_stop(&s->poll);
        uv_close((uv_handle_t *)&s->poll, handle_closed);
    }
    d->socks = NULL;
    uv_timer_stop(&d->timer);
    uv_close((uv_handle_t *)&d->timer, handle_closed);
}

static void addrinfo_cb(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    struct dns_query *q = arg;
    struct dns_result r;
    struct ares_addrinfo_node *n, *pick = NULL;

    (void)timeouts;
    memset(&r, 0, sizeof(r));
    if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED)
        goto out;

    if (status == ARES_SUCCESS && res) {
        for (n = res->nodes; n; n = n->ai_next) {
            r.n_addrs++;
            if (!pick || (pick->ai_family != AF_INET && n->ai_family == AF_INET))
                pick = n;
        }
    }
    if (pick) {
        const void *src;
        if (pick->ai_family == AF_INET)
            src = &((const struct sockaddr_in *)(const void *)pick->ai_addr)->sin_addr;
        else
            src = &((const struct sockaddr_in6 *)(const void *)pick->ai_addr)->sin6_addr;
        r.family = pick->ai_family;
        inet_ntop(pick->ai_family, src, r.addr, sizeof(r.addr));
        r.cause = EVT_CAUSE_NONE;
    } else {
        switch (status) {
        case ARES_SUCCESS:
        case ARES_ENOTFOUND:
        case ARES_ENODATA:
            r.cause = EVT_CAUSE_NXDOMAIN;
            break;
        case ARES_ETIMEOUT:
            r.cause = EVT_CAUSE_DNS_TIMEOUT;
            break;
        default: /* SERVFAIL, REFUSED, bad responses: the resolver failed us */
            r.cause = EVT_CAUSE_DNS_SERVFAIL;
            break;
        }
        snprintf(r.detail, sizeof(r.detail), "%s",
                 status == ARES_SUCCESS ? "no addresses" : ares_strerror(status));
    }
    q->cb(q->ud, q->token, &r);
out:
    if (res)
        ares_freeaddrinfo(res);
    free(q);
}

int dns_lookup(struct dns *d, const char *host, dns_cb cb, void *ud, uint64_t token)
{
    struct dns_query *q;
    struct ares_addrinfo_hints hints;

    if (!d || d->closing)
        return -ESHUTDOWN;
    q = xcalloc(1, sizeof(*q));
    q->d = d;
    q->cb = cb;
    q->ud = ud;
    q->token = token;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = ARES_AI_NOSORT;
    ares_getaddrinfo(d->ch, host, NULL, &hints, addrinfo_cb, q);
    dns_reschedule(d);
    return 0;
}
