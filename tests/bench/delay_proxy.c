/* SPDX-License-Identifier: MIT */
/* delay_proxy: a TCP proxy on loopback that delivers every byte a fixed delay after it
 * arrived, in each direction, without reordering. For the benchmark's RTT accuracy check.
 *
 *   delay_proxy LISTEN_ADDR:PORT UPSTREAM_ADDR:PORT DELAY_US [LIFETIME_S]
 *
 * Loopback only: both addresses must be in 127.0.0.0/8. Port 0 picks a free port; the
 * first line on stdout is "listening ADDR:PORT". Exits after LIFETIME_S (default 600).
 *
 * The delay is the same for every chunk, so the chunks' deadlines are in arrival order:
 * one global FIFO holds every chunk in flight and one timerfd (absolute CLOCK_MONOTONIC,
 * timer slack 1 ns) is armed for its head. A chunk that cannot be written at once waits in
 * its direction's backlog, and later chunks of that direction queue behind it. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define BUF_MAX 65536

struct pair;

struct chunk {
    struct chunk *next; /* global FIFO, then the direction's backlog */
    struct pair *p;
    int dir;  /* 0: client -> upstream, 1: upstream -> client */
    bool eof; /* deliver a FIN (shutdown SHUT_WR) */
    uint64_t due_ns;
    size_t len, off;
    unsigned char data[];
};

struct pair {
    int fd[2];       /* [0] client side, [1] upstream side */
    bool connected;  /* upstream connect finished */
    bool rd_eof[2];  /* EOF read from fd[i] */
    bool wr_shut[2]; /* FIN sent on fd[i] */
    bool dead;
    bool watched[2]; /* fd[i] is in the epoll set */
    int refs;        /* chunks that point here, plus one while open */
    struct pair *killed_next;
    struct chunk *backlog_head[2], *backlog_tail[2]; /* waiting to be written to fd[dir^1] */
};

static int ep;
static int tfd;
static uint64_t delay_ns;
static struct chunk *q_head, *q_tail;
static struct sockaddr_in upstream;
static struct pair *killed; /* killed in this batch: their open reference goes after it */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int parse_addr(const char *s, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(s, ':');

    if (!colon || (size_t)(colon - s) >= sizeof(host))
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return -1;
    /* loopback only */
    if ((ntohl(sa->sin_addr.s_addr) >> 24) != 127)
        return -1;
    return 0;
}

static void arm_timer(void)
{
    struct itimerspec its;

    memset(&its, 0, sizeof(its));
    if (q_head) {
        its.it_value.tv_sec = (time_t)(q_head->due_ns / 1000000000u);
        its.it_value.tv_nsec = (long)(q_head->due_ns % 1000000000u);
        if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
            its.it_value.tv_nsec = 1;
    }
    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void pair_unref(struct pair *p)
{
    if (--p->refs == 0)
        free(p);
}

static void pair_kill(struct pair *p)
{
    if (p->dead)
        return;
    p->dead = true;
    for (int i = 0; i < 2; i++) {
        struct chunk *c = p->backlog_head[i], *n;
        for (; c; c = n) {
            n = c->next;
            free(c);
            p->refs--;
        }
        p->backlog_head[i] = p->backlog_tail[i] = NULL;
        if (p->fd[i] >= 0) {
            if (p->watched[i])
                epoll_ctl(ep, EPOLL_CTL_DEL, p->fd[i], NULL);
            close(p->fd[i]);
            p->fd[i] = -1;
        }
    }
    /* events of this batch may still name it: drop the open reference after the batch */
    p->killed_next = killed;
    killed = p;
}

static void update_events(struct pair *p)
{
    for (int i = 0; i < 2; i++) {
        struct epoll_event ev;
        if (p->fd[i] < 0)
            continue;
        if (p->rd_eof[i] && p->wr_shut[i]) {
            /* nothing more to read or write here; it would only report EPOLLHUP */
            if (p->watched[i])
                epoll_ctl(ep, EPOLL_CTL_DEL, p->fd[i], NULL);
            p->watched[i] = false;
            continue;
        }
        /* data.u64: pair pointer with the side in the low bit (pairs are 8-aligned) */
        memset(&ev, 0, sizeof(ev));
        ev.data.u64 = (uint64_t)(uintptr_t)p | (uint64_t)i;
        if (p->connected && !p->rd_eof[i])
            ev.events |= EPOLLIN;
        if (i == 1 && !p->connected)
            ev.events |= EPOLLOUT;
        if (p->backlog_head[i ^ 1]) /* data for fd[i] waiting */
            ev.events |= EPOLLOUT;
        epoll_ctl(ep, p->watched[i] ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, p->fd[i], &ev);
        p->watched[i] = true;
    }
}

static void maybe_finish(struct pair *p)
{
    if (!p->dead && p->wr_shut[0] && p->wr_shut[1])
        pair_kill(p);
}

/* Write the backlog of direction dir (to fd[dir ^ 1]). */
static void flush(struct pair *p, int dir)
{
    int out = dir ^ 1;
    struct chunk *c;

    while (!p->dead && (c = p->backlog_head[dir])) {
        if (c->eof) {
            shutdown(p->fd[out], SHUT_WR);
            p->wr_shut[out] = true;
        } else {
            while (c->off < c->len) {
                ssize_t n = send(p->fd[out], c->data + c->off, c->len - c->off, MSG_NOSIGNAL);
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                    return; /* EPOLLOUT will call again */
                if (n < 0) {
                    pair_kill(p);
                    return;
                }
                c->off += (size_t)n;
            }
        }
        p->backlog_head[dir] = c->next;
        if (!c->next)
            p->backlog_tail[dir] = NULL;
        free(c);
        p->refs--;
    }
    if (!p->dead)
        maybe_finish(p);
}

static void deliver_due(void)
{
    uint64_t now = mono_ns();
    struct chunk *c;

    while ((c = q_head) && c->due_ns <= now) {
        struct pair *p = c->p;
        q_head = c->next;
        if (!q_head)
            q_tail = NULL;
        c->next = NULL;
        if (p->dead) {
            free(c);
            pair_unref(p);
            continue;
        }
        if (p->backlog_tail[c->dir])
            p->backlog_tail[c->dir]->next = c;
        else
            p->backlog_head[c->dir] = c;
        p->backlog_tail[c->dir] = c;
        flush(p, c->dir);
        if (!p->dead)
            update_events(p);
    }
    arm_timer();
}

static void enqueue(struct pair *p, int dir, const unsigned char *data, size_t len, bool eof)
{
    struct chunk *c = malloc(sizeof(*c) + len);

    if (!c)
        abort();
    c->next = NULL;
    c->p = p;
    c->dir = dir;
    c->eof = eof;
    c->due_ns = mono_ns() + delay_ns;
    c->len = len;
    c->off = 0;
    if (len)
        memcpy(c->data, data, len);
    p->refs++;
    if (q_tail)
        q_tail->next = c;
    else
        q_head = c;
    q_tail = c;
    if (q_head == c)
        arm_timer();
}

static void on_readable(struct pair *p, int side)
{
    unsigned char buf[BUF_MAX];

    for (;;) {
        ssize_t n = recv(p->fd[side], buf, sizeof(buf), 0);
        if (n > 0) {
            enqueue(p, side, buf, (size_t)n, false);
            continue;
        }
        if (n == 0) {
            p->rd_eof[side] = true;
            enqueue(p, side, NULL, 0, true);
            update_events(p);
            return;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        pair_kill(p); /* reset: drop everything, like a dead path */
        return;
    }
}

static void on_accept(int lfd)
{
    for (;;) {
        int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), ufd, one = 1;
        struct pair *p;
        struct epoll_event ev;

        if (cfd < 0)
            return;
        ufd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (ufd < 0) {
            close(cfd);
            continue;
        }
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        setsockopt(ufd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(ufd, (struct sockaddr *)&upstream, sizeof(upstream)) < 0 &&
            errno != EINPROGRESS) {
            close(cfd);
            close(ufd);
            continue;
        }
        p = aligned_alloc(8, (sizeof(*p) + 7) & ~(size_t)7);
        if (!p)
            abort();
        memset(p, 0, sizeof(*p));
        p->fd[0] = cfd;
        p->fd[1] = ufd;
        p->refs = 1;
        (void)ev;
        update_events(p);
    }
}

int main(int argc, char **argv)
{
    struct sockaddr_in la;
    socklen_t sl = sizeof(la);
    int lfd, one = 1;
    struct epoll_event ev;
    uint64_t deadline;
    char addr[32];

    if (argc < 4 || parse_addr(argv[1], &la) < 0 || parse_addr(argv[2], &upstream) < 0) {
        fprintf(stderr, "usage: delay_proxy LISTEN_ADDR:PORT UPSTREAM_ADDR:PORT DELAY_US "
                        "[LIFETIME_S] (127.0.0.0/8 only)\n");
        return 2;
    }
    delay_ns = (uint64_t)strtoull(argv[3], NULL, 10) * 1000u;
    deadline = mono_ns() + (uint64_t)(argc > 4 ? atoi(argv[4]) : 600) * 1000000000u;
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* wake at the deadline, not 50 us later */
    signal(SIGPIPE, SIG_IGN);

    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&la, sizeof(la)) < 0 || listen(lfd, 4096) < 0) {
        perror("delay_proxy: listen");
        return 1;
    }
    getsockname(lfd, (struct sockaddr *)&la, &sl);
    inet_ntop(AF_INET, &la.sin_addr, addr, sizeof(addr));
    printf("listening %s:%d\n", addr, ntohs(la.sin_port));
    fflush(stdout);

    ep = epoll_create1(EPOLL_CLOEXEC);
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    ev.events = EPOLLIN;
    ev.data.u64 = 1; /* listener (odd values below 8 are not pairs) */
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    ev.data.u64 = 3; /* timer */
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);

    while (mono_ns() < deadline) {
        struct epoll_event evs[256];
        int n = epoll_wait(ep, evs, 256, 1000);

        for (int i = 0; i < n; i++) {
            uint64_t d = evs[i].data.u64;
            if (d == 1) {
                on_accept(lfd);
            } else if (d == 3) {
                uint64_t x;
                if (read(tfd, &x, sizeof(x)) < 0) {
                    /* spurious: deliver_due re-arms */
                }
                deliver_due();
            }
        }
        /* pairs after the fixed handles, so a pair killed above is not touched again
         * through a stale event of this batch (refs keep it allocated until then) */
        for (int i = 0; i < n; i++) {
            uint64_t d = evs[i].data.u64;
            struct pair *p;
            int side;

            if (d == 1 || d == 3)
                continue;
            p = (struct pair *)(uintptr_t)(d & ~(uint64_t)1);
            side = (int)(d & 1);
            if (p->dead)
                continue;
            if (!p->connected && side == 0 && (evs[i].events & (EPOLLERR | EPOLLHUP))) {
                pair_kill(p); /* the client went away before the upstream answered */
                continue;
            }
            if (side == 1 && !p->connected && (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
                int err = 0;
                socklen_t el = sizeof(err);
                getsockopt(p->fd[1], SOL_SOCKET, SO_ERROR, &err, &el);
                if (err) {
                    pair_kill(p);
                    continue;
                }
                p->connected = true;
                update_events(p);
            }
            if (p->connected && (evs[i].events & EPOLLERR)) {
                pair_kill(p); /* reset: drop everything, like a dead path */
                continue;
            }
            if (evs[i].events & EPOLLOUT)
                flush(p, side ^ 1);
            if (!p->dead && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && p->connected &&
                !p->rd_eof[side])
                on_readable(p, side);
            if (!p->dead)
                update_events(p);
        }
        deliver_due();
        while (killed) {
            struct pair *p = killed;
            killed = p->killed_next;
            pair_unref(p);
        }
    }
    return 0;
}
