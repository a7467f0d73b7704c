/* SPDX-License-Identifier: MIT */
/* floor: the least a libwebsockets 4.1 client on a libuv loop needs to hold N WebSockets and
 * ping each once a second; the benchmark's floor for `wsmon record`. Not part of wsmon.
 *
 *   floor [-n N] [-i PING_MS] [-r RX_BUFFER] [-b BATCH] [-q] ws://A.B.C.D:PORT/PATH...
 *
 * Holds N connections to each URL (numeric IPv4 only: no DNS in the measurement), walks
 * them with one 10 ms timer so the pings spread evenly over the interval, sends a 12-byte
 * tagged ping ("WSM1" + 8-byte monotonic microseconds, as NOTES-lws-4.1 section 4) and
 * times the pong. SIGTERM/SIGINT closes every connection with 1001 and prints one JSON line
 * on stdout with the same fields as `wsmon record --stats`; SIGUSR2 marks the start of the
 * steady state (the "steady" object counts from there). RTT percentiles are exact to 1 us
 * below 200 ms. The loop stall is measured as wsmon measures it: the busy time of one loop
 * iteration (wall time between two check callbacks minus the time idle in poll). */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <libwebsockets.h>
#include <uv.h>

#define PING_TAG "WSM1"
#define PING_LEN 12
#define TICK_MS  10
#define HIST_US  200000 /* exact buckets below 200 ms, then one overflow bucket */
#define RETRY_MS 1000
#define GRACE_MS 2000
#define URLS_MAX 64

struct url {
    char addr[64];
    char host[72];
    char path[256];
    int port;
};

struct fconn {
    struct lws *wsi;
    uint32_t url;
    bool open, connecting, want_ping, outstanding;
    int64_t sent_us;
    int64_t retry_at_us;
    struct fconn *retry_next;
};

struct stats {
    int64_t t0_us;
    uint64_t pings, pongs, opens, closes, errors;
    uint32_t *hist;
    int64_t rtt_max_us;
    int64_t stall_max_us;
};

static struct {
    uv_loop_t loop;
    struct lws_context *cx;
    struct url urls[URLS_MAX];
    int n_urls;
    struct fconn *conns;
    size_t n;
    size_t next_connect;
    int64_t ping_ms;
    int rx_buffer;
    size_t batch; /* connections started per loop iteration (0: all at once) */
    bool quiet;

    uv_timer_t tick, starter, grace;
    uv_signal_t sigint, sigterm, sigusr2;
    uv_prepare_t prep;
    uv_check_t check;
    uint64_t last_check_ns, last_idle_ns;

    int64_t t0_us;   /* ping schedule origin */
    uint64_t issued; /* ping slots walked so far */
    struct fconn *retry_head;
    size_t active; /* connections with an lws wsi */
    bool stopping, torn_down;
    int64_t t_stop_us;
    struct stats tot, st;                 /* since start; since SIGUSR2 */
    struct stats tot_at_stop, st_at_stop; /* frozen at SIGTERM: shutdown is not measured */
} g;

static int64_t now_us(void)
{
    return (int64_t)(uv_hrtime() / 1000);
}

/* ---- statistics ------------------------------------------------------------------------- */

static void stats_init(struct stats *s)
{
    uint32_t *h = s->hist;

    memset(s, 0, sizeof(*s));
    s->hist = h ? h : malloc((HIST_US + 1) * sizeof(*s->hist));
    if (!s->hist)
        abort();
    /* touches every page at start-up, so a reset at SIGUSR2 takes no page faults */
    memset(s->hist, 0, (HIST_US + 1) * sizeof(*s->hist));
    s->t0_us = now_us();
}

static void stats_rtt(struct stats *s, int64_t rtt_us)
{
    if (rtt_us < 0)
        rtt_us = 0;
    s->hist[rtt_us < HIST_US ? rtt_us : HIST_US]++;
    if (rtt_us > s->rtt_max_us)
        s->rtt_max_us = rtt_us;
    s->pongs++;
}

static double stats_pct(const struct stats *s, double pct)
{
    uint64_t want = (uint64_t)((double)s->pongs * pct / 100.0 + 0.5), seen = 0;

    if (!s->pongs)
        return -1;
    if (want < 1)
        want = 1;
    for (int64_t b = 0; b <= HIST_US; b++) {
        seen += s->hist[b];
        if (seen >= want)
            return b < HIST_US ? (double)b : (double)s->rtt_max_us;
    }
    return (double)s->rtt_max_us;
}

static void stats_json(const struct stats *s, int64_t end_us)
{
    printf("\"duration_s\":%.3f,\"opens\":%llu,\"closes\":%llu,\"errors\":%llu,\"pings\":%llu,"
           "\"pongs\":%llu,\"rtt_us\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f},"
           "\"loop_stall_max_us\":%lld",
           (double)(end_us - s->t0_us) / 1e6, (unsigned long long)s->opens,
           (unsigned long long)s->closes, (unsigned long long)s->errors,
           (unsigned long long)s->pings, (unsigned long long)s->pongs, stats_pct(s, 50),
           stats_pct(s, 99), s->pongs ? (double)s->rtt_max_us : -1.0, (long long)s->stall_max_us);
}

/* ---- loop stall -------------------------------------------------------------------------- */

static void on_prepare(uv_prepare_t *p)
{
    (void)p;
}

static void on_check(uv_check_t *h)
{
    uint64_t now = uv_hrtime(), idle = uv_metrics_idle_time(&g.loop);

    (void)h;
    if (g.last_check_ns) {
        uint64_t wall = now - g.last_check_ns, idled = idle - g.last_idle_ns;
        int64_t busy_us = (int64_t)((wall > idled ? wall - idled : 0) / 1000);
        if (busy_us > g.tot.stall_max_us)
            g.tot.stall_max_us = busy_us;
        if (busy_us > g.st.stall_max_us)
            g.st.stall_max_us = busy_us;
    }
    g.last_check_ns = now;
    g.last_idle_ns = idle;
}

/* ---- connections ------------------------------------------------------------------------ */

static const lws_retry_bo_t no_keepalive; /* all zero: lws's validity pings off */

static void on_grace(uv_timer_t *t);

static void conn_retry(struct fconn *c)
{
    c->wsi = NULL;
    c->open = c->connecting = c->want_ping = c->outstanding = false;
    if (g.stopping)
        return;
    c->retry_at_us = now_us() + RETRY_MS * 1000;
    c->retry_next = g.retry_head;
    g.retry_head = c;
}

static void conn_start(struct fconn *c)
{
    struct lws_client_connect_info ci;
    const struct url *u = &g.urls[c->url];

    memset(&ci, 0, sizeof(ci));
    ci.context = g.cx;
    ci.address = u->addr;
    ci.port = u->port;
    ci.path = u->path;
    ci.host = u->host;
    ci.origin = u->host;
    ci.ietf_version_or_minus_one = -1;
    ci.local_protocol_name = "floor";
    ci.userdata = c;
    ci.retry_and_idle_policy = &no_keepalive;
    ci.pwsi = &c->wsi;
    c->connecting = true;
    g.active++;
    if (!lws_client_connect_via_info(&ci)) {
        /* failed at once: no callback follows */
        g.active--;
        g.tot.errors++;
        g.st.errors++;
        conn_retry(c);
    }
}

static void conn_gone(struct fconn *c, bool error)
{
    if (!c->connecting && !c->open)
        return;
    g.active--;
    if (error) {
        g.tot.errors++;
        g.st.errors++;
    } else {
        g.tot.closes++;
        g.st.closes++;
    }
    conn_retry(c);
    if (g.stopping && g.active == 0 && !g.torn_down)
        uv_timer_start(&g.grace, on_grace, 0, 0); /* all closed: tear down now */
}

static int cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct fconn *c = user;

    if (!c)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->wsi = wsi;
        c->open = true;
        c->connecting = false;
        g.tot.opens++;
        g.st.opens++;
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (c->want_ping && !g.stopping) {
            uint8_t b[LWS_PRE + PING_LEN];
            int64_t t = now_us();

            c->want_ping = false;
            memcpy(b + LWS_PRE, PING_TAG, 4);
            memcpy(b + LWS_PRE + 4, &t, 8);
            if (lws_write(wsi, b + LWS_PRE, PING_LEN, LWS_WRITE_PING) >= PING_LEN) {
                c->sent_us = t;
                c->outstanding = true;
                g.tot.pings++;
                g.st.pings++;
            }
        }
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
        if (len == PING_LEN && !memcmp(in, PING_TAG, 4) && c->outstanding) {
            int64_t t, rtt = now_us();

            memcpy(&t, (const char *)in + 4, 8);
            if (t != c->sent_us)
                break; /* stale */
            rtt -= t;
            c->outstanding = false;
            stats_rtt(&g.tot, rtt);
            stats_rtt(&g.st, rtt);
        }
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (!g.quiet)
            fprintf(stderr, "floor: connection error: %s\n", in ? (const char *)in : "");
        conn_gone(c, true);
        break;
    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
        conn_gone(c, true);
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        conn_gone(c, false);
        break;
    default:
        break;
    }
    return 0;
}

static struct lws_protocols protocols[] = {
    {"floor", cb, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- timers ------------------------------------------------------------------------------ */

/* Start connections in batches (-b, default 64 a millisecond) so one iteration never opens
 * thousands at once: lws 4.1 keeps every pending handshake timeout in one sorted list, and
 * each insertion walks it, so N handshakes in flight at once cost O(N^2). */
static void on_starter(uv_timer_t *t)
{
    size_t end = g.batch ? g.next_connect + g.batch : g.n;

    if (end > g.n)
        end = g.n;
    while (g.next_connect < end && !g.stopping)
        conn_start(&g.conns[g.next_connect++]);
    if (g.next_connect >= g.n || g.stopping)
        uv_timer_stop(t);
}

/* Walk the ping slots owed since the last tick: connection i is pinged at
 * t0 + (k + i/n) * interval, so the pings spread evenly over each interval. */
static void on_tick(uv_timer_t *t)
{
    int64_t now = now_us();
    uint64_t owed = (uint64_t)((double)(now - g.t0_us) * (double)g.n / (double)(g.ping_ms * 1000));

    (void)t;
    if (owed > g.issued + g.n)
        g.issued = owed - g.n; /* at most one round of catch-up */
    while (g.issued < owed) {
        struct fconn *c = &g.conns[g.issued++ % g.n];
        if (c->open && c->wsi && (!c->outstanding || now - c->sent_us > 10 * g.ping_ms * 1000)) {
            c->want_ping = true;
            lws_callback_on_writable(c->wsi);
        }
    }
    while (g.retry_head && !g.stopping) {
        struct fconn **pp = &g.retry_head, *c;
        bool any = false;
        while ((c = *pp)) {
            if (c->retry_at_us <= now) {
                *pp = c->retry_next;
                conn_start(c);
                any = true;
            } else {
                pp = &c->retry_next;
            }
        }
        if (!any)
            break;
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    (void)h;
}

static void teardown(void)
{
    if (g.torn_down)
        return;
    g.torn_down = true;
    lws_context_destroy(g.cx); /* starts closing lws's own uv handles */
    uv_close((uv_handle_t *)&g.tick, on_handle_closed);
    uv_close((uv_handle_t *)&g.starter, on_handle_closed);
    uv_close((uv_handle_t *)&g.grace, on_handle_closed);
    uv_close((uv_handle_t *)&g.sigint, on_handle_closed);
    uv_close((uv_handle_t *)&g.sigterm, on_handle_closed);
    uv_close((uv_handle_t *)&g.sigusr2, on_handle_closed);
    uv_close((uv_handle_t *)&g.prep, on_handle_closed);
    uv_close((uv_handle_t *)&g.check, on_handle_closed);
}

static void on_grace(uv_timer_t *t)
{
    (void)t;
    teardown();
}

static void stop(void)
{
    g.stopping = true;
    g.t_stop_us = now_us();
    g.tot_at_stop = g.tot;
    g.st_at_stop = g.st;
    g.tot_at_stop.hist = malloc((HIST_US + 1) * sizeof(uint32_t));
    g.st_at_stop.hist = malloc((HIST_US + 1) * sizeof(uint32_t));
    if (!g.tot_at_stop.hist || !g.st_at_stop.hist)
        abort();
    memcpy(g.tot_at_stop.hist, g.tot.hist, (HIST_US + 1) * sizeof(uint32_t));
    memcpy(g.st_at_stop.hist, g.st.hist, (HIST_US + 1) * sizeof(uint32_t));
    uv_timer_stop(&g.tick);
    uv_timer_stop(&g.starter);
    g.retry_head = NULL;
    for (size_t i = 0; i < g.n; i++) {
        struct fconn *c = &g.conns[i];
        if (c->open && c->wsi) {
            lws_close_reason(c->wsi, LWS_CLOSE_STATUS_GOINGAWAY, (unsigned char *)"floor stopping",
                             14);
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
        }
    }
    uv_timer_start(&g.grace, on_grace, g.active ? GRACE_MS : 0, 0);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)s;
    if (signum == SIGUSR2) {
        stats_init(&g.st); /* the steady state starts now */
        return;
    }
    if (g.stopping)
        teardown();
    else
        stop();
}

/* ---- main -------------------------------------------------------------------------------- */

static int parse_url(const char *s, struct url *u)
{
    const char *p, *slash;
    char hostport[64];
    size_t hl;

    if (strncmp(s, "ws://", 5))
        return -1;
    p = s + 5;
    slash = strchr(p, '/');
    hl = slash ? (size_t)(slash - p) : strlen(p);
    if (hl == 0 || hl >= sizeof(hostport))
        return -1;
    memcpy(hostport, p, hl);
    hostport[hl] = '\0';
    snprintf(u->path, sizeof(u->path), "%s", slash ? slash : "/");
    snprintf(u->host, sizeof(u->host), "%s", hostport);
    {
        char *colon = strrchr(hostport, ':');
        if (!colon)
            return -1;
        *colon = '\0';
        u->port = atoi(colon + 1);
        snprintf(u->addr, sizeof(u->addr), "%s", hostport);
    }
    return u->port > 0 && u->port < 65536 ? 0 : -1;
}

static void usage(void)
{
    fprintf(stderr, "usage: floor [-n N] [-i PING_MS] [-r RX_BUFFER] [-b BATCH] [-q] "
                    "ws://A.B.C.D:PORT/PATH...\n");
    exit(2);
}

int main(int argc, char **argv)
{
    struct lws_context_creation_info info;
    void *loops[1];
    size_t per_url = 1;
    int opt;
    struct rlimit rl;

    g.ping_ms = 1000;
    g.batch = 64;
    while ((opt = getopt(argc, argv, "n:i:r:b:q")) != -1) {
        switch (opt) {
        case 'n':
            per_url = strtoul(optarg, NULL, 10);
            break;
        case 'i':
            g.ping_ms = strtol(optarg, NULL, 10);
            break;
        case 'r':
            g.rx_buffer = atoi(optarg);
            break;
        case 'b':
            g.batch = strtoul(optarg, NULL, 10);
            break;
        case 'q':
            g.quiet = true;
            break;
        default:
            usage();
        }
    }
    if (optind >= argc || per_url < 1 || g.ping_ms < 1)
        usage();
    for (; optind < argc; optind++) {
        if (g.n_urls == URLS_MAX || parse_url(argv[optind], &g.urls[g.n_urls]) < 0)
            usage();
        g.n_urls++;
    }
    /* every fd we may need, within the hard limit */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);

    g.n = per_url * (size_t)g.n_urls;
    g.conns = calloc(g.n, sizeof(*g.conns));
    if (!g.conns)
        return 1;
    for (size_t i = 0; i < g.n; i++)
        g.conns[i].url = (uint32_t)(i % (size_t)g.n_urls); /* interleave the URLs */
    protocols[0].rx_buffer_size = (size_t)g.rx_buffer;

    uv_loop_init(&g.loop);
    uv_loop_configure(&g.loop, UV_METRICS_IDLE_TIME);
    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
    memset(&info, 0, sizeof(info));
    loops[0] = &g.loop;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_LIBUV;
    info.foreign_loops = loops;
    info.pcontext = &g.cx;
    g.cx = lws_create_context(&info);
    if (!g.cx) {
        fprintf(stderr, "floor: lws_create_context failed (libwebsockets-evlib-uv?)\n");
        return 1;
    }
    stats_init(&g.tot);
    stats_init(&g.st);
    uv_prepare_init(&g.loop, &g.prep);
    uv_prepare_start(&g.prep, on_prepare);
    uv_check_init(&g.loop, &g.check);
    uv_check_start(&g.check, on_check);
    uv_signal_init(&g.loop, &g.sigint);
    uv_signal_init(&g.loop, &g.sigterm);
    uv_signal_init(&g.loop, &g.sigusr2);
    uv_signal_start(&g.sigint, on_signal, SIGINT);
    uv_signal_start(&g.sigterm, on_signal, SIGTERM);
    uv_signal_start(&g.sigusr2, on_signal, SIGUSR2);
    uv_timer_init(&g.loop, &g.grace);
    uv_timer_init(&g.loop, &g.starter);
    uv_timer_init(&g.loop, &g.tick);
    g.t0_us = now_us();
    uv_timer_start(&g.starter, on_starter, 0, 1);
    uv_timer_start(&g.tick, on_tick, TICK_MS, TICK_MS);

    uv_run(&g.loop, UV_RUN_DEFAULT);
    if (g.cx)
        lws_context_destroy(g.cx); /* the second call frees it */
    if (uv_loop_close(&g.loop) != 0 && !g.quiet)
        fprintf(stderr, "floor: loop closed with handles open\n");

    /* opens/closes count to the end; the rest as it was when the signal came */
    g.tot_at_stop.closes = g.tot.closes;
    g.st_at_stop.closes = g.st.closes;
    printf("{");
    stats_json(&g.tot_at_stop, g.t_stop_us);
    printf(",\"connections\":%zu,\"steady\":{", g.n);
    stats_json(&g.st_at_stop, g.t_stop_us);
    printf("}}\n");
    free(g.tot.hist);
    free(g.st.hist);
    free(g.tot_at_stop.hist);
    free(g.st_at_stop.hist);
    free(g.conns);
    return 0;
}
