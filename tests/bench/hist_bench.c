/* SPDX-License-Identifier: MIT */
/* History benchmark: write N RTT samples (default 10 million) through the store, as a recorder
 * would, then time the history queries on that file. Not part of make check.
 *
 *   make src/libwsmon.a
 *   cc -O2 -I. -Isrc tests/bench/hist_bench.c src/libwsmon.a -lsqlite3 -lpthread -lm \
 *      -o hist_bench
 *   ./hist_bench [/tmp/hist-bench.db [samples [endpoints]]]
 *
 * Each endpoint holds one connection, open the whole time and pinged once a second, with a
 * reconnect every 6 hours (a close and a 30 s outage of three 502s), so that every view has
 * rows. The store's sink is called with synthetic events (the same path as wsmon record) far
 * faster than real time: the store is ticked every 10000 samples (a recorder ticks every 250 ms,
 * which at 10000 connections pinged every 5 s is 500 samples a tick), and the bench waits for
 * the writer whenever more than 100000 rows wait, so that the queue cap drops nothing. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "evt.h"
#include "hist.h"
#include "model.h"
#include "store.h"

#define SEC INT64_C(1000000)
#define T0  INT64_C(1795651200000000) /* 2026-11-26T00:00:00Z */

static int64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct evt ev(uint32_t ep, uint32_t att, enum evt_kind k, int64_t t)
{
    struct evt e;

    memset(&e, 0, sizeof(e));
    e.kind = k;
    e.ep = ep;
    e.attempt = att;
    e.t_mono_us = t;
    e.t_wall_us = t;
    return e;
}

static void put(struct store *s, struct model *m, struct evt *e, int64_t *sink_us)
{
    int64_t t0;

    if (model_apply(m, e) != 0)
        return;
    t0 = mono_us();
    store_sink(s, e, m);
    *sink_us += mono_us() - t0;
}

static void open_at(struct store *s, struct model *m, uint32_t ep, uint32_t att, int64_t t,
                    int64_t *sink_us)
{
    struct evt e = ev(ep, att, EVT_ATTEMPT, t - 3000);

    put(s, m, &e, sink_us);
    e = ev(ep, att, EVT_TCP, t - 2000);
    snprintf(e.u.tcp.remote, sizeof(e.u.tcp.remote), "127.0.0.1:8080");
    put(s, m, &e, sink_us);
    e = ev(ep, att, EVT_REQUEST, t - 1900);
    put(s, m, &e, sink_us);
    e = ev(ep, att, EVT_RESPONSE, t - 100);
    e.u.http.status = 101;
    e.u.http.accept_ok = 1;
    put(s, m, &e, sink_us);
    e = ev(ep, att, EVT_OPEN, t);
    put(s, m, &e, sink_us);
}

static void fail_at(struct store *s, struct model *m, uint32_t ep, uint32_t att, int64_t t,
                    int64_t *sink_us)
{
    struct evt e = ev(ep, att, EVT_ATTEMPT, t);

    put(s, m, &e, sink_us);
    e = ev(ep, att, EVT_TCP, t + 1000);
    put(s, m, &e, sink_us);
    e = ev(ep, att, EVT_REQUEST, t + 1100);
    put(s, m, &e, sink_us);
    e = ev(ep, att, EVT_RESPONSE, t + 3000);
    e.u.http.status = 502;
    e.u.http.accept_ok = -1;
    put(s, m, &e, sink_us);
    e = ev(ep, att, EVT_CLOSED, t + 4000);
    e.u.closed.cause = EVT_CAUSE_HTTP_STATUS;
    e.u.closed.code = 1006;
    put(s, m, &e, sink_us);
}

static int count_summary(void *ud, const struct hist_summary *r)
{
    (void)r;
    (*(long *)ud)++;
    return 0;
}

static int count_outage(void *ud, const struct hist_outage *r)
{
    (void)r;
    (*(long *)ud)++;
    return 0;
}

static int count_attempt(void *ud, const struct hist_attempt *r)
{
    (void)r;
    (*(long *)ud)++;
    return 0;
}

static void timed(const char *what, struct hist *h, const struct hist_filter *f, int view)
{
    long rows = 0;
    int64_t t0 = mono_us();
    int rc;

    if (view == 0)
        rc = hist_summary(h, f, count_summary, &rows);
    else if (view == 1)
        rc = hist_outages(h, f, count_outage, &rows);
    else
        rc = hist_attempts(h, f, count_attempt, &rows);
    printf("  %-44s %9.1f ms  (%ld rows%s)\n", what, (double)(mono_us() - t0) / 1e3, rows,
           rc ? ", FAILED" : "");
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/tmp/hist-bench.db";
    long n = argc > 2 ? atol(argv[2]) : 10000000L;
    int eps = argc > 3 ? atoi(argv[3]) : 10;
    int64_t per_ep = n / eps, sink_us = 0, t_write, t_end, since_tick = 0;
    struct store_stats st;
    struct hist_filter f;
    struct model *m;
    struct store *s;
    struct hist *h;
    struct stat sb;
    uint32_t *seq;
    char err[512], name[32], wal[600];

    if (eps < 1 || n < eps) {
        fprintf(stderr, "usage: hist_bench [PATH [SAMPLES [ENDPOINTS]]]\n");
        return 2;
    }
    unlink(path);
    snprintf(wal, sizeof(wal), "%s-wal", path);
    unlink(wal);
    s = store_open(path, 0, err, sizeof(err));
    if (!s) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    m = model_new((size_t)eps, NULL);
    seq = calloc((size_t)eps, sizeof(*seq));
    for (int e = 0; e < eps; e++) {
        snprintf(name, sizeof(name), "ep%02d", e);
        store_set_endpoint(s, (uint32_t)e, name, "ws://127.0.0.1:8080/bench", NULL, NULL);
        open_at(s, m, (uint32_t)e, seq[e] = 1, T0, &sink_us);
    }

    printf("writing %ld RTT samples for %d endpoints (%" PRId64 " s of history each)\n", n, eps,
           per_ep);
    t_write = mono_us();
    for (int64_t i = 1; i <= per_ep; i++) {
        int64_t t = T0 + i * SEC;

        for (int e = 0; e < eps; e++) {
            struct evt p = ev((uint32_t)e, seq[e], EVT_PING, t - 900);
            put(s, m, &p, &sink_us);
            p = ev((uint32_t)e, seq[e], EVT_PONG, t);
            p.u.pong.rtt_us = 500 + (uint32_t)((i * 7919 + e * 104729) % 2000);
            put(s, m, &p, &sink_us);
        }
        if (i % (6 * 3600) == 0) { /* every 6 h: a drop, three 502s, a reopen */
            for (int e = 0; e < eps; e++) {
                struct evt c = ev((uint32_t)e, seq[e], EVT_CLOSED, t + 100000);
                c.u.closed.code = 1006;
                c.u.closed.by = EVT_BY_NETWORK;
                c.u.closed.cause = EVT_CAUSE_EOF;
                put(s, m, &c, &sink_us);
                for (int k = 0; k < 3; k++)
                    fail_at(s, m, (uint32_t)e, ++seq[e], t + (k * 10 + 1) * SEC, &sink_us);
                open_at(s, m, (uint32_t)e, ++seq[e], t + 30 * SEC, &sink_us);
            }
        }
        since_tick += eps;
        if (since_tick >= 10000) {
            store_tick(s);
            since_tick = 0;
            store_get_stats(s, &st);
            if (st.rows_waiting > 100000)
                store_flush(s);
        }
    }
    store_flush(s);
    store_get_stats(s, &st);
    t_end = mono_us();
    store_close(s);
    stat(path, &sb);
    printf("  %" PRIu64 " rows in %.1f s = %.0f rows/s, %" PRIu64
           " transactions, longest %.1f ms, %" PRIu64
           " rows dropped; store_sink %.3f us per event; file %.0f MB\n",
           st.rows_written, (double)(t_end - t_write) / 1e6,
           (double)st.rows_written / ((double)(t_end - t_write) / 1e6), st.transactions,
           (double)st.max_txn_us / 1e3, st.rows_dropped, (double)sink_us / (double)(n * 2),
           (double)sb.st_size / 1e6);

    /* the recorder's run covers the synthetic time */
    {
        char cmd[1024];
        snprintf(cmd, sizeof(cmd),
                 "sqlite3 '%s' 'UPDATE runs SET started_us = %" PRId64 ", last_us = %" PRId64
                 ", ended_us = %" PRId64 "'",
                 path, T0 - SEC, T0 + (per_ep + 60) * SEC, T0 + (per_ep + 60) * SEC);
        if (system(cmd) != 0)
            fprintf(stderr, "sqlite3 CLI missing: the run does not cover the samples\n");
    }

    h = hist_open(path, err, sizeof(err));
    if (!h) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    printf("queries (warm cache):\n");
    f = (struct hist_filter){T0 + (per_ep / 2) * SEC, T0 + (per_ep / 2 + 3600) * SEC, NULL, NULL};
    timed("summary, one hour, all endpoints", h, &f, 0);
    timed("summary, one hour, all endpoints (again)", h, &f, 0);
    f.endpoint = "ep00";
    timed("summary, one hour, one endpoint", h, &f, 0);
    f.endpoint = NULL;
    f.until_us = f.since_us + 86400 * SEC;
    timed("summary, one day, all endpoints", h, &f, 0);
    timed("outages, one day, all endpoints", h, &f, 1);
    timed("attempts, one day, all endpoints", h, &f, 2);
    f = (struct hist_filter){HIST_ALL_BEFORE, HIST_ALL_AFTER, NULL, NULL};
    timed("summary, everything", h, &f, 0);
    timed("outages, everything", h, &f, 1);
    hist_close(h);
    model_free(m);
    free(seq);
    return 0;
}
