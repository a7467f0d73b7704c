/* SPDX-License-Identifier: MIT */
/* wsmon probe: one attempt per connection, measured, diagnosed and printed. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "cli.h"
#include "cmd.h"
#include "diag.h"
#include "engine.h"
#include "json.h"
#include "log.h"
#include "model.h"
#include "report.h"
#include "store.h"
#include "url.h"
#include "xmem.h"

/* What the probe still waits for on one connection. */
struct pconn {
    struct probe *p;
    uint32_t ep, idx;
    bool done;
    bool holding;
    uv_timer_t hold; /* end of --hold */
    uv_timer_t tick; /* ping interval while holding */
};

struct probe {
    struct cli *cli;
    uv_loop_t loop;
    struct engine *en;
    struct model *m;
    struct pconn **pc; /* per endpoint, per connection */
    size_t remaining;
    uv_signal_t sigint, sigterm;
    uv_timer_t done;  /* shuts down from a uv callback, never inside lws or c-ares */
    struct store *st; /* --db */
    uv_timer_t store_timer;
    bool interrupted;
};

static const struct cfg_ep *ep_cfg(struct probe *p, uint32_t ep)
{
    return &p->cli->cfg.eps[ep];
}

static bool pings_wanted(struct probe *p, uint32_t ep)
{
    return p->cli->pings > 0 && ep_cfg(p, ep)->ping_ms > 0;
}

static void finish_all(uv_timer_t *t)
{
    struct probe *p = t->data;

    uv_close((uv_handle_t *)&p->done, NULL);
    if (p->st)
        uv_close((uv_handle_t *)&p->store_timer, NULL);
    engine_shutdown(p->en);
    uv_close((uv_handle_t *)&p->sigint, NULL);
    uv_close((uv_handle_t *)&p->sigterm, NULL);
    for (size_t i = 0; i < p->cli->cfg.n_eps; i++) {
        for (int k = 0; k < ep_cfg(p, (uint32_t)i)->connections; k++) {
            uv_close((uv_handle_t *)&p->pc[i][k].hold, NULL);
            uv_close((uv_handle_t *)&p->pc[i][k].tick, NULL);
        }
    }
}

/* Close once everything asked for has been seen (no --hold). */
static void maybe_done(struct probe *p, struct pconn *pc)
{
    const struct model_attempt *a = model_attempt_get(p->m, pc->ep, pc->idx);
    const struct cfg_ep *cfg = ep_cfg(p, pc->ep);

    if (!a || a->ended || pc->holding || a->ready_state != 1)
        return;
    if (pings_wanted(p, pc->ep) && a->pongs < (uint32_t)p->cli->pings)
        return;
    if (cfg->expect_message && !a->expect_seen)
        return;
    engine_close(p->en, pc->ep, pc->idx, 1000, "wsmon probe done");
}

static void on_hold_end(uv_timer_t *t)
{
    struct pconn *pc = t->data;

    uv_timer_stop(&pc->tick);
    pc->holding = false;
    engine_close(pc->p->en, pc->ep, pc->idx, 1000, "wsmon probe done");
}

static void on_tick(uv_timer_t *t)
{
    struct pconn *pc = t->data;
    const struct model_attempt *a = model_attempt_get(pc->p->m, pc->ep, pc->idx);

    /* one ping at a time: a ping still unanswered has its own deadline */
    if (a && a->pings_sent == a->pongs)
        engine_ping(pc->p->en, pc->ep, pc->idx, ep_cfg(pc->p, pc->ep)->timeout_ms);
}

static void on_evt(void *ud, const struct evt *e)
{
    struct probe *p = ud;
    struct pconn *pc;
    const struct cfg_ep *cfg;

    if (model_apply(p->m, e) < 0) {
        log_debug("event %s out of order (ep %u conn %u)", evt_kind_name(e->kind), e->ep, e->conn);
        return;
    }
    if (p->st)
        store_sink(p->st, e, p->m);
    pc = &p->pc[e->ep][e->conn];
    cfg = ep_cfg(p, e->ep);
    switch (e->kind) {
    case EVT_OPEN:
        if (p->cli->hold_ms >= 0) {
            pc->holding = true;
            uv_timer_start(&pc->hold, on_hold_end, (uint64_t)p->cli->hold_ms, 0);
            if (pings_wanted(p, e->ep)) {
                engine_ping(p->en, e->ep, e->conn, cfg->timeout_ms);
                uv_timer_start(&pc->tick, on_tick, (uint64_t)cfg->ping_ms, (uint64_t)cfg->ping_ms);
            }
            break;
        }
        if (pings_wanted(p, e->ep))
            engine_ping(p->en, e->ep, e->conn, cfg->timeout_ms);
        maybe_done(p, pc);
        break;
    case EVT_PONG: {
        const struct model_attempt *a = model_attempt_get(p->m, e->ep, e->conn);
        if (!pc->holding && a->pongs < (uint32_t)p->cli->pings)
            engine_ping(p->en, e->ep, e->conn, cfg->timeout_ms);
        maybe_done(p, pc);
        break;
    }
    case EVT_MSG:
        if (e->u.msg.matched)
            maybe_done(p, pc);
        break;
    case EVT_CLOSED:
        uv_timer_stop(&pc->hold);
        uv_timer_stop(&pc->tick);
        pc->holding = false;
        if (!pc->done) {
            pc->done = true;
            if (--p->remaining == 0)
                uv_timer_start(&p->done, finish_all, 0, 0);
        }
        break;
    default:
        break;
    }
}

static void on_store_tick(uv_timer_t *t)
{
    struct probe *p = t->data;

    store_tick(p->st);
}

/* Names in the history: the config section, else the URL with secrets masked. */
static const char *probe_ep_name(const void *ctx, uint32_t ep)
{
    const struct probe *p = ctx;
    const struct cfg_ep *cfg = &p->cli->cfg.eps[ep];
    static char buf[URL_PATH_MAX + URL_HOST_MAX + 32];

    if (cfg->name)
        return cfg->name;
    return url_mask_secrets(cfg->url, buf, sizeof(buf));
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct probe *p = s->data;

    (void)signum;
    if (p->interrupted) /* a second ^C: stop at once */
        exit(130);
    p->interrupted = true;
    fprintf(stderr, "wsmon: interrupted, closing\n");
    for (size_t i = 0; i < p->cli->cfg.n_eps; i++)
        for (int k = 0; k < ep_cfg(p, (uint32_t)i)->connections; k++)
            engine_close(p->en, (uint32_t)i, (uint32_t)k, 1001, "wsmon interrupted");
}

static int print_results(struct probe *p)
{
    struct cli *c = p->cli;
    bool color = !c->json && cli_use_color(c, stdout);
    int64_t now = (int64_t)time(NULL);
    struct json j;
    int status = CLI_EXIT_OK;

    json_init(&j);
    for (size_t i = 0; i < c->cfg.n_eps; i++) {
        const struct cfg_ep *cfg = &c->cfg.eps[i];
        char shown[URL_PATH_MAX + URL_HOST_MAX + 32];
        struct diag_policy pol;

        diag_policy_of(cfg, now, &pol);
        pol.want_pings = pings_wanted(p, (uint32_t)i); /* probe: --pings 0 means none too */
        if (c->show_secrets)
            snprintf(shown, sizeof(shown), "%s", cfg->url);
        else
            url_mask_secrets(cfg->url, shown, sizeof(shown));
        for (int k = 0; k < cfg->connections; k++) {
            const struct model_attempt *a = model_attempt_get(p->m, (uint32_t)i, (uint32_t)k);
            struct diag_verdict v;
            struct report r = {
                .endpoint = cfg->name,
                .url = shown,
                .conn = k,
                .n_conns = cfg->connections,
                .a = a,
                .v = &v,
                .now_wall_s = now,
            };

            diag_attempt(a, &pol, &v);
            if (!v.ok)
                status = CLI_EXIT_FAIL;
            if (c->json) {
                json_reset(&j);
                report_json(&j, &r);
                fputs(j.buf, stdout);
                fputc('\n', stdout);
            } else {
                report_text(stdout, &r, color);
            }
        }
    }
    json_fini(&j);
    fflush(stdout);
    return status;
}

int cmd_probe(struct cli *c)
{
    struct probe p;
    char err[256];
    int *conns;
    int status;
    size_t n = c->cfg.n_eps;

    memset(&p, 0, sizeof(p));
    p.cli = c;
    if (uv_loop_init(&p.loop) < 0) {
        fprintf(stderr, "wsmon: cannot start the event loop\n");
        return CLI_EXIT_FAIL;
    }
    signal(SIGPIPE, SIG_IGN);
    p.en = engine_new(&p.loop, on_evt, &p, err, sizeof(err));
    if (!p.en) {
        fprintf(stderr, "wsmon: %s\n", err);
        uv_loop_close(&p.loop);
        return CLI_EXIT_FAIL;
    }
    conns = xcalloc(n, sizeof(*conns));
    p.pc = xcalloc(n, sizeof(*p.pc));
    for (size_t i = 0; i < n; i++) {
        const struct cfg_ep *cfg = &c->cfg.eps[i];
        conns[i] = cfg->connections;
        if (engine_add(p.en, (uint32_t)i, cfg, err, sizeof(err)) < 0) {
            fprintf(stderr, "wsmon probe: %s: %s\n", cfg->name ? cfg->name : cfg->url, err);
            status = CLI_EXIT_USAGE;
            engine_shutdown(p.en);
            uv_run(&p.loop, UV_RUN_DEFAULT);
            engine_free(p.en);
            uv_loop_close(&p.loop);
            for (size_t k = 0; k < i; k++)
                free(p.pc[k]);
            free(p.pc);
            free(conns);
            return status;
        }
        p.pc[i] = xcalloc((size_t)cfg->connections, sizeof(**p.pc));
        for (int k = 0; k < cfg->connections; k++) {
            struct pconn *pc = &p.pc[i][k];
            pc->p = &p;
            pc->ep = (uint32_t)i;
            pc->idx = (uint32_t)k;
            uv_timer_init(&p.loop, &pc->hold);
            uv_timer_init(&p.loop, &pc->tick);
            pc->hold.data = pc;
            pc->tick.data = pc;
            p.remaining++;
        }
    }
    p.m = model_new(n, conns);
    free(conns);

    uv_timer_init(&p.loop, &p.done);
    p.done.data = &p;
    p.st = cmd_store_open(c, false);
    if (p.st) {
        cmd_store_describe(p.st, &c->cfg, probe_ep_name, &p);
        uv_timer_init(&p.loop, &p.store_timer);
        p.store_timer.data = &p;
        uv_timer_start(&p.store_timer, on_store_tick, STORE_TICK_MS, STORE_TICK_MS);
    }
    uv_signal_init(&p.loop, &p.sigint);
    uv_signal_init(&p.loop, &p.sigterm);
    p.sigint.data = p.sigterm.data = &p;
    uv_signal_start(&p.sigint, on_signal, SIGINT);
    uv_signal_start(&p.sigterm, on_signal, SIGTERM);

    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < c->cfg.eps[i].connections; k++)
            engine_start(p.en, (uint32_t)i, (uint32_t)k);

    uv_run(&p.loop, UV_RUN_DEFAULT);
    log_debug("longest loop stall %.3f ms", engine_loop_stall_us(p.en) / 1000.0);
    engine_free(p.en);
    if (uv_loop_close(&p.loop) != 0)
        log_debug("event loop closed with handles still open");

    status = print_results(&p);
    if (p.st && store_close(p.st) < 0)
        fprintf(stderr, "wsmon probe: warning: some history rows were not written\n");
    if (p.interrupted && status == CLI_EXIT_OK)
        status = CLI_EXIT_FAIL;
    model_free(p.m);
    for (size_t i = 0; i < n; i++)
        free(p.pc[i]);
    free(p.pc);
    return status;
}
