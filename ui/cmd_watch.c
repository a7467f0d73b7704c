/* SPDX-License-Identifier: MIT */
/* wsmon record (headless), and the shared running of a monitor on a loop. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "cfg.h"
#include "cli.h"
#include "cmd.h"
#include "diag.h"
#include "log.h"
#include "model.h"
#include "mon.h"
#include "san.h"
#include "serve.h"
#include "store.h"
#include "tui.h"
#include "xmem.h"

#define GRACE_MS 2000 /* how long closing politely may take at exit */

/* --stats: counts and a log-linear RTT histogram (256 buckets per power of two, so a
 * percentile is within about 0.3% of the true value), printed as one JSON line at exit.
 * SIGUSR2 starts a second set, the "steady" object (a window after the connect burst); both
 * stop at SIGTERM/SIGINT, before the connections are closed. */
#define STATS_SUB     256
#define STATS_BUCKETS (32 * STATS_SUB)
struct stats {
    uint64_t pongs, pings, opens, closes;
    uint64_t hist[STATS_BUCKETS];
    int64_t t0_us;    /* the window's start */
    int64_t stall_us; /* the longest loop iteration: the whole run's frozen at the stop; the
                         steady window's until the loop measure is restarted for it */
};

static int stats_bucket(uint32_t us)
{
    int lg = 0;
    uint32_t v = us;

    if (us < STATS_SUB)
        return (int)us;
    while (v >= 2 * STATS_SUB) {
        v >>= 1;
        lg++;
    }
    return (lg + 1) * STATS_SUB + (int)(v - STATS_SUB);
}

/* lower bound of a bucket, in us */
static double stats_value(int b)
{
    int lg = b / STATS_SUB - 1, sub = b % STATS_SUB;

    if (b < STATS_SUB)
        return b;
    return (double)((STATS_SUB + sub) << lg) + ((1 << lg) - 1) / 2.0;
}

static double stats_pct(const struct stats *s, double pct)
{
    uint64_t want = (uint64_t)((double)s->pongs * pct / 100.0 + 0.5), seen = 0;

    if (!s->pongs)
        return -1;
    if (want < 1)
        want = 1;
    for (int b = 0; b < STATS_BUCKETS; b++) {
        seen += s->hist[b];
        if (seen >= want)
            return stats_value(b);
    }
    return -1;
}

struct run {
    struct cli *cli;
    struct stats stats, *steady; /* the whole run; from SIGUSR2 on (NULL before) */
    int64_t stats_t1_us;         /* the stop (0 while running) */
    int64_t stall_before_us;     /* longest loop iteration before SIGUSR2 */
    bool want_stats;
    uv_loop_t loop;
    struct mon *mn;
    struct store *st;
    uv_timer_t store_timer;
    struct tui *tui;
    bool banner_shown;
    struct serve *srv; /* demo */
    uv_signal_t sigint, sigterm, sighup, sigusr2;
    uv_timer_t grace;
    bool stopping;
    bool closed;
    bool reload; /* SIGHUP with a good configuration: start again once stopped */
    int status;
};

/* "2026-11-26T14:02:03.512Z" */
static void fmt_wall(int64_t wall_us, char *buf, size_t len)
{
    time_t s = (time_t)(wall_us / 1000000);
    struct tm tm;

    gmtime_r(&s, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(wall_us / 1000 % 1000));
}

static void fmt_dur(int64_t us, char *buf, size_t len)
{
    if (us < 0)
        snprintf(buf, len, "-");
    else if (us < 1000000)
        snprintf(buf, len, "%.0f ms", us / 1000.0);
    else
        snprintf(buf, len, "%.1f s", us / 1e6);
}

/* record's stderr log: one line per state change, marker and health change */
static void log_sink(void *ud, const struct evt *e, const struct model *m)
{
    struct run *r = ud;
    const struct model_log *l;
    char t[64], d[32], name[128], text[256];
    const char *raw;

    if (e->kind != EVT_OPEN && e->kind != EVT_CLOSED && e->kind != EVT_MARK &&
        e->kind != EVT_HEALTH)
        return;
    l = model_log_get(m, 0);
    if (!l || l->mono_us != e->t_mono_us || l->kind != e->kind)
        return; /* not logged by the model (e.g. an unchanged health status) */
    fmt_wall(l->wall_us, t, sizeof(t));
    raw = l->ep == EVT_EP_NONE ? "-" : mon_ep_name(r->mn, l->ep);
    san_term(raw, strlen(raw), name, sizeof(name));
    fmt_dur(l->dur_us, d, sizeof(d));
    switch (l->kind) {
    case EVT_OPEN:
        fprintf(stderr, "%s %s OPEN after %s\n", t, name, d);
        break;
    case EVT_CLOSED: {
        const struct cfg_ep *cfg = &mon_cfg(r->mn)->eps[l->ep];
        const struct model_attempt *a = model_attempt_get(m, l->ep, l->conn);
        struct diag_policy pol;
        struct diag_verdict v;

        diag_policy_of(cfg, l->wall_us / 1000000, &pol);
        diag_attempt(a, &pol, &v);
        san_term(v.verdict, strlen(v.verdict), text, sizeof(text));
        fprintf(stderr, "%s %s CLOSED %d by %s after %s: %s: %s\n", t, name, l->code,
                evt_by_name(l->by) ? evt_by_name(l->by) : "-", d, diag_class_name(v.cls), text);
        break;
    }
    case EVT_HEALTH:
        san_term(l->text, strlen(l->text), text, sizeof(text));
        fprintf(stderr, "%s %s HEALTH %d in %s%s%s\n", t, name, l->code, d, text[0] ? ": " : "",
                text);
        break;
    case EVT_MARK:
        san_term(l->text, strlen(l->text), text, sizeof(text));
        fprintf(stderr, "%s %s MARK %s\n", t, name, text);
        break;
    default:
        break;
    }
}

static void stats_add(struct stats *s, const struct evt *e)
{
    int b;

    switch (e->kind) {
    case EVT_PONG:
        b = stats_bucket(e->u.pong.rtt_us);
        s->hist[b < STATS_BUCKETS ? b : STATS_BUCKETS - 1]++;
        s->pongs++;
        break;
    case EVT_PING:
        s->pings++;
        break;
    case EVT_OPEN:
        s->opens++;
        break;
    case EVT_CLOSED:
        s->closes++;
        break;
    default:
        break;
    }
}

static void stats_sink(void *ud, const struct evt *e, const struct model *m)
{
    struct run *r = ud;

    (void)m;
    if (r->stats_t1_us) /* stopped: the closing at exit is not measured */
        return;
    stats_add(&r->stats, e);
    if (r->steady)
        stats_add(r->steady, e);
}

/* a percentile as JSON: null without samples */
static const char *pct_json(const struct stats *s, double pct, char *buf, size_t len)
{
    double v = stats_pct(s, pct);

    if (v < 0)
        return "null";
    snprintf(buf, len, "%.1f", v);
    return buf;
}

static int64_t now_us(void)
{
    return (int64_t)(uv_hrtime() / 1000);
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* The windows end at the stop, before the connections are closed. */
static void stats_freeze(struct run *r)
{
    int64_t stall;

    if (!r->want_stats || r->stats_t1_us)
        return;
    r->stats_t1_us = now_us();
    stall = mon_loop_stall_us(r->mn);
    r->stats.stall_us = max64(r->stall_before_us, stall);
    if (r->steady)
        r->steady->stall_us = stall;
}

/* SIGUSR2: a steady window starts (again), with the loop's longest iteration measured afresh */
static void stats_restart(struct run *r)
{
    if (!r->want_stats || r->stats_t1_us)
        return;
    if (!r->steady)
        r->steady = xmalloc(sizeof(*r->steady));
    memset(r->steady, 0, sizeof(*r->steady));
    r->steady->t0_us = now_us();
    r->stall_before_us = max64(r->stall_before_us, mon_loop_stall_us(r->mn));
    mon_loop_stall_reset(r->mn);
}

static void stats_fields(const struct stats *s, int64_t t1_us)
{
    char b50[32], b99[32], bmax[32];

    printf("\"duration_s\":%.3f,\"opens\":%llu,\"closes\":%llu,\"pings\":%llu,"
           "\"pongs\":%llu,\"rtt_us\":{\"p50\":%s,\"p99\":%s,\"max\":%s},"
           "\"loop_stall_max_us\":%lld",
           (double)(t1_us - s->t0_us) / 1e6, (unsigned long long)s->opens,
           (unsigned long long)s->closes, (unsigned long long)s->pings,
           (unsigned long long)s->pongs, pct_json(s, 50, b50, sizeof(b50)),
           pct_json(s, 99, b99, sizeof(b99)), pct_json(s, 100, bmax, sizeof(bmax)),
           (long long)s->stall_us);
}

static void stats_print(struct run *r)
{
    stats_freeze(r);
    printf("{");
    stats_fields(&r->stats, r->stats_t1_us);
    if (r->steady) {
        printf(",\"steady\":{");
        stats_fields(r->steady, r->stats_t1_us);
        printf("}");
    }
    printf("}\n");
    fflush(stdout);
    free(r->steady);
    r->steady = NULL;
}

static void close_handles(struct run *r)
{
    if (r->closed)
        return;
    r->closed = true;
    mon_shutdown(r->mn);
    if (r->srv)
        serve_shutdown(r->srv);
    if (r->st)
        uv_close((uv_handle_t *)&r->store_timer, NULL);
    uv_close((uv_handle_t *)&r->sigint, NULL);
    uv_close((uv_handle_t *)&r->sigterm, NULL);
    uv_close((uv_handle_t *)&r->sighup, NULL);
    uv_close((uv_handle_t *)&r->sigusr2, NULL);
    uv_close((uv_handle_t *)&r->grace, NULL);
}

static void on_grace(uv_timer_t *t)
{
    struct run *r = t->data;

    /* all closed, or the grace period is over */
    uv_timer_stop(t);
    close_handles(r);
}

static void stop(struct run *r)
{
    if (r->tui)
        tui_quit(r->tui); /* idempotent: the screen ends first */
    if (r->stopping)
        return;
    r->stopping = true;
    stats_freeze(r);
    mon_close_all(r->mn, 1001, "wsmon stopping");
    /* nothing open (all waiting to retry): no need to wait */
    uv_timer_start(&r->grace, on_grace, mon_active(r->mn) ? GRACE_MS : 0, 0);
}

static void on_closed_check(void *ud, const struct evt *e, const struct model *m)
{
    struct run *r = ud;

    (void)m;
    if (r->stopping && !r->closed && e->kind == EVT_CLOSED && mon_active(r->mn) == 0)
        uv_timer_start(&r->grace, on_grace, 0, 0);
}

static void on_store_tick(uv_timer_t *t)
{
    struct run *r = t->data;

    store_tick(r->st);
    if (r->tui) {
        /* a database that cannot be written is a banner for as long as it lasts */
        char text[256];
        enum store_state s = store_status(r->st, text, sizeof(text));
        if (s != STORE_OK)
            tui_banner(r->tui, text);
        else if (r->banner_shown)
            tui_banner(r->tui, NULL);
        r->banner_shown = s != STORE_OK;
    }
}

/* Open the history database unless --no-db; a database that cannot be used is a warning,
 * and monitoring goes on without it (DESIGN 8). */
struct store *cmd_store_open(const struct cli *c, bool by_default)
{
    char path[4096], err[512];
    struct store *st;

    if (c->no_db || (!by_default && !c->db_path))
        return NULL;
    if (c->db_path) {
        xstrlcpy(path, c->db_path, sizeof(path));
    } else if (store_default_path(path, sizeof(path)) < 0) {
        fprintf(stderr, "wsmon: warning: no history: neither XDG_STATE_HOME nor HOME is set "
                        "(use --db PATH or --no-db)\n");
        return NULL;
    }
    st = store_open(path, 0, err, sizeof(err));
    if (!st) {
        fprintf(stderr, "wsmon: warning: not recording history: %s\n", err);
        return NULL;
    }
    if (c->retain_s > 0)
        store_set_retention(st, c->retain_s);
    return st;
}

/* Describe every endpoint to the store. */
void cmd_store_describe(struct store *st, const struct cfg *cfg,
                        const char *(*name)(const void *ctx, uint32_t ep), const void *ctx)
{
    for (size_t i = 0; i < cfg->n_eps; i++) {
        const struct cfg_ep *e = &cfg->eps[i];
        store_set_endpoint(st, (uint32_t)i, name(ctx, (uint32_t)i), e->url, e->group,
                           e->via == CFG_VIA_LB       ? "lb"
                           : e->via == CFG_VIA_DIRECT ? "direct"
                                                      : NULL);
        store_set_policy(st, (uint32_t)i, e->expect_message, e->expect_within_ms, e->ping_ms > 0);
    }
}

static const char *mon_name_of(const void *ctx, uint32_t ep)
{
    return mon_ep_name(ctx, ep);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct run *r = s->data;

    if (signum == SIGUSR2) {
        stats_restart(r);
        return;
    }
    if (signum == SIGHUP && r->tui) {
        /* the dashboard's terminal hung up: quit */
        tui_quit(r->tui);
        return;
    }
    if (signum == SIGHUP) {
        /* check the configuration first: a bad one is reported and the old one kept */
        struct cli tmp;
        int rc = cli_parse(&tmp, r->cli->argc, r->cli->argv, stderr, stderr);

        cli_fini(&tmp);
        if (rc != -1 || r->stopping) {
            fprintf(stderr, "wsmon record: SIGHUP: the configuration has errors; keeping the "
                            "running one\n");
            return;
        }
        fprintf(stderr, "wsmon record: SIGHUP: reloading the configuration\n");
        r->reload = true;
        stop(r);
        return;
    }
    if (r->tui && !r->stopping) {
        tui_quit(r->tui); /* ends the screen, then on_quit stops */
        return;
    }
    if (r->stopping) /* a second signal: stop at once */
        close_handles(r);
    else
        stop(r);
}

/* ---- the dashboard (watch, demo) ------------------------------------------------------ */

static void on_tui_quit(void *ud)
{
    stop(ud);
}

/* warnings go to the footer while curses owns the terminal */
static void log_to_banner(enum log_level lvl, const char *msg, void *ud)
{
    struct run *r = ud;
    char line[300];

    (void)lvl;
    if (!r->tui)
        return;
    snprintf(line, sizeof(line), "%s", msg);
    tui_banner(r->tui, line);
}

static void on_serve_log(void *ud, const char *line)
{
    (void)ud;
    log_debug("serve: %s", line);
}

/* The demo's endpoints, on the in-process server: every state within a minute. */
static int demo_cfg(struct cfg *cfg, const char *base, char *err, size_t errlen)
{
    static const struct {
        const char *name, *path, *ping, *group, *via, *expect;
    } eps[] = {
        {"healthy", "/echo", "1s", NULL, NULL, "test"},
        {"stream", "/stream?every=50&size=320", "2s", NULL, NULL, NULL},
        {"drops-20s", "/drop?after=20000", "2s", NULL, NULL, NULL},
        {"idle-15s", "/idle/15", "0", NULL, NULL, NULL},
        {"reject-502", "/reject/502", "2s", NULL, NULL, NULL},
        {"crash-1011", "/close/1011?after=8000&reason=worker%20crashed", "2s", NULL, NULL, NULL},
        {"alb", "/reject/200", "2s", "demo", "lb", NULL},
        {"ec2-direct", "/echo", "2s", "demo", "direct", NULL},
    };
    char url[512];

    for (size_t i = 0; i < sizeof(eps) / sizeof(eps[0]); i++) {
        struct cfg_ep *e;

        snprintf(url, sizeof(url), "%s%s", base, eps[i].path);
        if (cfg_add_url(cfg, url, err, errlen) < 0)
            return -EINVAL;
        e = &cfg->eps[cfg->n_eps - 1];
        e->name = xstrdup(eps[i].name);
        if (cfg_ep_set(e, "ping", eps[i].ping, err, errlen) < 0 ||
            (eps[i].group && cfg_ep_set(e, "group", eps[i].group, err, errlen) < 0) ||
            (eps[i].via && cfg_ep_set(e, "via", eps[i].via, err, errlen) < 0) ||
            (eps[i].expect && cfg_ep_set(e, "expect_message", eps[i].expect, err, errlen) < 0))
            return -EINVAL;
        if (i == 0) {
            /* ws://ADDR:PORT -> http://ADDR:PORT/health */
            snprintf(url, sizeof(url), "http://%s/health", strstr(base, "://") + 3);
            if (cfg_ep_set(e, "health", url, err, errlen) < 0)
                return -EINVAL;
        }
    }
    for (size_t i = 0; i < cfg->n_eps; i++)
        if (cfg_ep_finish(&cfg->eps[i], &cfg->defaults, err, errlen) < 0)
            return -EINVAL;
    return 0;
}

enum mode { MODE_RECORD, MODE_WATCH, MODE_DEMO };

static int run_monitor(struct cli *c, enum mode mode)
{
    static const char *const names[] = {"record", "watch", "demo"};
    const char *name = names[mode];
    struct run r;
    struct mon_opts o = {.backoff_min_ms = c->backoff_min_ms, .backoff_max_ms = c->backoff_max_ms};
    char err[512];

    memset(&r, 0, sizeof(r));
    r.cli = c;
    if (uv_loop_init(&r.loop) < 0) {
        fprintf(stderr, "wsmon: cannot start the event loop\n");
        return CLI_EXIT_FAIL;
    }
    signal(SIGPIPE, SIG_IGN);
    if (mode == MODE_DEMO) {
        struct serve_opts so = {.addr = "127.0.0.1", .port = 0, .log = on_serve_log};
        r.srv = serve_new(&r.loop, &so, err, sizeof(err));
        if (!r.srv) {
            fprintf(stderr, "wsmon demo: cannot start the demo server: %s\n", err);
            uv_loop_close(&r.loop);
            return CLI_EXIT_FAIL;
        }
        if (demo_cfg(&c->cfg, serve_url(r.srv), err, sizeof(err)) < 0) {
            fprintf(stderr, "wsmon demo: %s\n", err);
            return CLI_EXIT_FAIL;
        }
    }
    r.mn = mon_new(&r.loop, &c->cfg, &o, err, sizeof(err));
    if (!r.mn) {
        fprintf(stderr, "wsmon %s: %s\n", name, err);
        if (r.srv) {
            serve_shutdown(r.srv);
            uv_run(&r.loop, UV_RUN_DEFAULT);
            serve_free(r.srv);
        }
        uv_loop_close(&r.loop);
        return CLI_EXIT_USAGE;
    }
    if (mode == MODE_RECORD && !c->quiet)
        mon_add_sink(r.mn, log_sink, &r);
    mon_add_sink(r.mn, on_closed_check, &r);
    if (mode != MODE_RECORD) {
        struct tui_opts to = {.color = c->color,
                              .ascii = -1,
                              .show_secrets = c->show_secrets,
                              .no_signals = true,
                              .history = mode == MODE_WATCH && !c->no_db,
                              .history_db = c->db_path,
                              .on_quit = on_tui_quit,
                              .ud = &r};
        r.tui = tui_new(&r.loop, r.mn, &to, err, sizeof(err));
        if (!r.tui) {
            fprintf(stderr, "wsmon %s: %s\n", name, err);
            mon_shutdown(r.mn);
            if (r.srv)
                serve_shutdown(r.srv);
            uv_run(&r.loop, UV_RUN_DEFAULT);
            mon_free(r.mn);
            serve_free(r.srv);
            uv_loop_close(&r.loop);
            return CLI_EXIT_USAGE;
        }
        log_set_sink(log_to_banner, &r);
    }
    r.st = mode == MODE_DEMO ? NULL : cmd_store_open(c, true);
    if (r.st) {
        cmd_store_describe(r.st, &c->cfg, mon_name_of, r.mn);
        mon_add_sink(r.mn, store_sink, r.st);
        uv_timer_init(&r.loop, &r.store_timer);
        r.store_timer.data = &r;
        uv_timer_start(&r.store_timer, on_store_tick, STORE_TICK_MS, STORE_TICK_MS);
    }
    if (c->stats) {
        r.want_stats = true;
        mon_add_sink(r.mn, stats_sink, &r);
        r.stats.t0_us = now_us();
    }
    uv_timer_init(&r.loop, &r.grace);
    r.grace.data = &r;
    uv_signal_init(&r.loop, &r.sigint);
    uv_signal_init(&r.loop, &r.sigterm);
    uv_signal_init(&r.loop, &r.sighup);
    uv_signal_init(&r.loop, &r.sigusr2);
    r.sigint.data = r.sigterm.data = r.sighup.data = r.sigusr2.data = &r;
    uv_signal_start(&r.sigint, on_signal, SIGINT);
    uv_signal_start(&r.sigterm, on_signal, SIGTERM);
    uv_signal_start(&r.sighup, on_signal, SIGHUP);
    if (c->stats)
        uv_signal_start(&r.sigusr2, on_signal, SIGUSR2);

    if (mode == MODE_RECORD && !c->quiet)
        fprintf(stderr, "wsmon record: monitoring %zu endpoint%s\n", c->cfg.n_eps,
                c->cfg.n_eps == 1 ? "" : "s");
    mon_start(r.mn);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    log_set_sink(NULL, NULL);
    log_debug("longest loop stall %.3f ms", mon_loop_stall_us(r.mn) / 1000.0);
    if (c->stats)
        stats_print(&r);
    if (r.st && store_close(r.st) < 0)
        r.status = CLI_EXIT_FAIL;
    tui_free(r.tui);
    mon_free(r.mn);
    serve_free(r.srv);
    if (r.reload) {
        /* everything is flushed and closed: run again with the same arguments, which read
         * the configuration file anew (same pid, so systemd's ExecReload works) */
        uv_loop_close(&r.loop);
        fflush(NULL);
        execv("/proc/self/exe", c->argv);
        fprintf(stderr, "wsmon %s: cannot restart: %s\n", name, strerror(errno));
        return CLI_EXIT_FAIL;
    }
    if (uv_loop_close(&r.loop) != 0)
        log_debug("event loop closed with handles still open");
    return r.status;
}

int cmd_record(struct cli *c)
{
    return run_monitor(c, MODE_RECORD);
}

int cmd_watch(struct cli *c)
{
    return run_monitor(c, MODE_WATCH);
}

int cmd_demo(struct cli *c)
{
    return run_monitor(c, MODE_DEMO);
}
