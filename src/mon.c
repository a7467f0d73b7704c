/* SPDX-License-Identifier: MIT */
/* The monitor: persistent connections with backoff, pings on a timing wheel, sinks. */
#include "config.h"

#include "mon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfg.h"
#include "engine.h"
#include "log.h"
#include "model.h"
#include "url.h"
#include "xmem.h"

#define MON_SINKS_MAX   8
#define WHEEL_SLOTS     1024 /* 10 ms each: one turn is 10.24 s */
#define WHEEL_TICK_MS   10
#define NAME_MAX_LEN    96
#define HEALTH_EVERY_MS 10000 /* --health poll interval */
/* Starting thousands of handshakes in one loop turn is quadratic in lws 4.1 (its pending
 * timeouts are one sorted list): 10,000 at once took 36 s and 20,000 failed handshakes.
 * So attempts start from a queue, at most START_PER_TICK per 10 ms tick and with at most
 * START_IN_FLIGHT handshakes under way. */
#define START_PER_TICK  640
#define START_IN_FLIGHT 256

/* Per connection: reconnect state and its place on the wheel, which times both its pings
 * (while open) and its reconnect (while waiting): no timer of its own. */
struct mconn {
    struct mon *mn;
    uint32_t ep, idx;
    bool waiting;      /* a reconnect is scheduled (on the wheel, due at due_us) */
    uint32_t failures; /* consecutive attempts that never opened */
    bool open;
    bool restart_after_close; /* mon_reconnect: start again as soon as it ends */
    bool queued;              /* in the start queue */
    bool handshaking;         /* started, not yet open or ended */
    struct mconn *qnext;
    /* the wheel (intrusive list) */
    struct mconn *wnext, *wprev;
    int slot;       /* -1 when not on the wheel */
    int64_t due_us; /* monotonic: the next ping (open) or the reconnect (waiting) */
};

struct mep {
    struct mon *mn;
    uint32_t id;
    uv_timer_t health;
    bool has_health;
    struct mconn *conns;
    size_t n;
    char name[NAME_MAX_LEN];
};

struct mon {
    uv_loop_t *loop;
    const struct cfg *cfg;
    struct mon_opts o;
    struct engine *en;
    struct model *m;
    struct mep *eps;
    size_t n_eps;
    struct {
        mon_sink_fn fn;
        void *ud;
    } sinks[MON_SINKS_MAX];
    int n_sinks;
    bool paused;
    bool stopping;
    uv_timer_t wheel_timer;
    struct mconn *wheel[WHEEL_SLOTS];
    uint64_t wheel_pos; /* ticks since start */
    int64_t wheel_t0_us;
    uint32_t seq_mark;
    struct mconn *q_head, *q_tail; /* connections waiting to start */
    uint32_t in_flight;            /* handshakes under way */
};

static int64_t now_us(void)
{
    return (int64_t)(uv_hrtime() / 1000);
}

static void start_queued(struct mon *mn);
static void start_conn(struct mconn *c);

/* ---- the ping wheel --------------------------------------------------------------------- */

static void wheel_remove(struct mon *mn, struct mconn *c)
{
    if (c->slot < 0)
        return;
    if (c->wprev)
        c->wprev->wnext = c->wnext;
    else
        mn->wheel[c->slot] = c->wnext;
    if (c->wnext)
        c->wnext->wprev = c->wprev;
    c->wnext = c->wprev = NULL;
    c->slot = -1;
}

static void wheel_insert(struct mon *mn, struct mconn *c, int64_t at_us)
{
    int64_t ticks;

    wheel_remove(mn, c);
    c->due_us = at_us;
    ticks = (at_us - mn->wheel_t0_us) / (WHEEL_TICK_MS * 1000);
    if (ticks <= (int64_t)mn->wheel_pos)
        ticks = (int64_t)mn->wheel_pos + 1;
    c->slot = (int)(ticks % WHEEL_SLOTS);
    c->wprev = NULL;
    c->wnext = mn->wheel[c->slot];
    if (c->wnext)
        c->wnext->wprev = c;
    mn->wheel[c->slot] = c;
}

static void on_wheel(uv_timer_t *t)
{
    struct mon *mn = t->data;
    int64_t now;

    start_queued(mn);
    now = now_us();
    uint64_t target = (uint64_t)((now - mn->wheel_t0_us) / (WHEEL_TICK_MS * 1000));

    /* catch up on every slot passed since the last tick, at most one turn */
    if (target > mn->wheel_pos + WHEEL_SLOTS)
        mn->wheel_pos = target - WHEEL_SLOTS;
    while (mn->wheel_pos < target) {
        struct mconn *c, *next;
        int slot;

        int64_t slot_end_us;

        mn->wheel_pos++;
        slot = (int)(mn->wheel_pos % WHEEL_SLOTS);
        slot_end_us = mn->wheel_t0_us + (int64_t)(mn->wheel_pos + 1) * WHEEL_TICK_MS * 1000;
        for (c = mn->wheel[slot]; c; c = next) {
            const struct cfg_ep *cfg = &mn->cfg->eps[c->ep];
            next = c->wnext;
            if (c->due_us >= slot_end_us)
                continue; /* due on a later turn of the wheel */
            wheel_remove(mn, c);
            if (c->waiting) {
                start_conn(c);
                continue;
            }
            if (!c->open || cfg->ping_ms <= 0)
                continue;
            if (!mn->paused) {
                const struct model_attempt *a = model_attempt_get(mn->m, c->ep, c->idx);
                /* one ping at a time; an unanswered one has its own deadline */
                if (a && a->pings_sent == a->pongs)
                    engine_ping(mn->en, c->ep, c->idx, cfg->timeout_ms);
            }
            wheel_insert(mn, c, c->due_us + cfg->ping_ms * 1000);
        }
    }
}

/* ---- reconnecting ------------------------------------------------------------------------ */

/* Start what the queue holds, within the pacing limits. */
static void start_queued(struct mon *mn)
{
    uint32_t n = 0;
    struct mconn *c;

    while ((c = mn->q_head) && n < START_PER_TICK && mn->in_flight < START_IN_FLIGHT) {
        mn->q_head = c->qnext;
        if (!mn->q_head)
            mn->q_tail = NULL;
        c->qnext = NULL;
        c->queued = false;
        if (mn->paused || mn->stopping)
            continue;
        c->handshaking = true;
        mn->in_flight++;
        n++;
        if (engine_start(mn->en, c->ep, c->idx) < 0 && c->handshaking) {
            c->handshaking = false;
            mn->in_flight--;
        }
    }
}

static void start_conn(struct mconn *c)
{
    struct mon *mn = c->mn;

    c->waiting = false;
    if (mn->paused || mn->stopping || c->queued)
        return;
    c->queued = true;
    c->qnext = NULL;
    if (mn->q_tail)
        mn->q_tail->qnext = c;
    else
        mn->q_head = c;
    mn->q_tail = c;
    start_queued(mn);
}

static void on_health(uv_timer_t *t)
{
    struct mep *me = t->data;

    if (!me->mn->paused && !me->mn->stopping)
        engine_health(me->mn->en, me->id);
}

/* Exponential backoff with +-20% jitter after a failure; the minimum after a connection
 * that had opened. */
static int64_t backoff_ms(const struct mon *mn, uint32_t failures)
{
    int64_t d = mn->o.backoff_min_ms;
    double j;

    for (uint32_t i = 1; i < failures && d < mn->o.backoff_max_ms; i++)
        d *= 2;
    if (d > mn->o.backoff_max_ms)
        d = mn->o.backoff_max_ms;
    j = 0.8 + 0.4 * ((double)rand() / RAND_MAX);
    return (int64_t)((double)d * j);
}

static void schedule_retry(struct mconn *c, int64_t delay_ms)
{
    if (c->mn->stopping)
        return;
    c->waiting = true;
    /* the next tick at the earliest (10 ms) */
    wheel_insert(c->mn, c, now_us() + (delay_ms > 0 ? delay_ms : 0) * 1000);
}

/* ---- events ------------------------------------------------------------------------------ */

/* Model first, then every sink. 0, or the model's error (the event is then dropped). */
static int dispatch(struct mon *mn, const struct evt *e)
{
    int i, rc = model_apply(mn->m, e);

    if (rc < 0) {
        log_debug("mon: event %s out of order (ep %u conn %u attempt %u)", evt_kind_name(e->kind),
                  e->ep, e->conn, e->attempt);
        return rc;
    }
    for (i = 0; i < mn->n_sinks; i++)
        mn->sinks[i].fn(mn->sinks[i].ud, e, mn->m);
    return 0;
}

static void on_engine_evt(void *ud, const struct evt *e)
{
    struct mon *mn = ud;
    struct mconn *c;
    const struct cfg_ep *cfg;

    dispatch(mn, e);
    if (e->ep >= mn->n_eps || e->conn >= mn->eps[e->ep].n)
        return;
    c = &mn->eps[e->ep].conns[e->conn];
    cfg = &mn->cfg->eps[e->ep];
    switch (e->kind) {
    case EVT_OPEN:
        c->open = true;
        c->failures = 0;
        if (c->handshaking) {
            c->handshaking = false;
            mn->in_flight--;
        }
        if (cfg->ping_ms > 0) {
            /* a phase of its own, so that connections opened together do not ping in
             * lockstep: the golden-ratio sequence spreads them evenly over the interval */
            double frac = (double)(e->ep * 7919u + e->conn) * 0.6180339887498949;
            frac -= (double)(uint64_t)frac;
            wheel_insert(mn, c,
                         e->t_mono_us + (int64_t)((double)cfg->ping_ms * 1000 * (1.0 + frac)));
        }
        break;
    case EVT_CLOSED:
        if (c->handshaking) {
            c->handshaking = false;
            mn->in_flight--;
        }
        wheel_remove(mn, c);
        if (c->restart_after_close) {
            c->restart_after_close = false;
            c->open = false;
            c->failures = 0;
            schedule_retry(c, 0);
            break;
        }
        if (c->open)
            c->failures = 0;
        else
            c->failures++;
        c->open = false;
        schedule_retry(c, backoff_ms(mn, c->failures ? c->failures : 1));
        break;
    default:
        break;
    }
}

/* ---- public ------------------------------------------------------------------------------ */

static void ep_name(const struct cfg_ep *cfg, char *out, size_t len)
{
    char masked[URL_PATH_MAX + URL_HOST_MAX + 32];

    if (cfg->name) {
        snprintf(out, len, "%s", cfg->name);
        return;
    }
    url_mask_secrets(cfg->url, masked, sizeof(masked));
    /* drop the scheme: the name column is narrow */
    {
        const char *p = strstr(masked, "://");
        xstrlcpy(out, p ? p + 3 : masked, len);
    }
}

struct mon *mon_new(uv_loop_t *loop, const struct cfg *cfg, const struct mon_opts *o, char *err,
                    size_t errlen)
{
    struct mon *mn = xcalloc(1, sizeof(*mn));
    int *conns;

    mn->loop = loop;
    mn->cfg = cfg;
    if (o)
        mn->o = *o;
    if (mn->o.backoff_min_ms <= 0)
        mn->o.backoff_min_ms = 1000;
    if (mn->o.backoff_max_ms < mn->o.backoff_min_ms)
        mn->o.backoff_max_ms = mn->o.backoff_min_ms > 60000 ? mn->o.backoff_min_ms : 60000;
    mn->n_eps = cfg->n_eps;
    srand((unsigned)uv_hrtime());

    if (!mn->o.no_connect) {
        mn->en = engine_new(loop, on_engine_evt, mn, err, errlen);
        if (!mn->en) {
            free(mn);
            return NULL;
        }
    }
    conns = xcalloc(mn->n_eps ? mn->n_eps : 1, sizeof(*conns));
    mn->eps = xcalloc(mn->n_eps ? mn->n_eps : 1, sizeof(*mn->eps));
    for (size_t i = 0; i < mn->n_eps; i++) {
        const struct cfg_ep *ce = &cfg->eps[i];
        struct mep *me = &mn->eps[i];

        conns[i] = ce->connections;
        ep_name(ce, me->name, sizeof(me->name));
        if (mn->en && engine_add(mn->en, (uint32_t)i, ce, err, errlen) < 0) {
            char why[256];
            snprintf(why, sizeof(why), "%s", err);
            snprintf(err, errlen, "%s: %s", me->name, why);
            mn->n_eps = i; /* free only what was set up */
            free(conns);
            mon_shutdown(mn);
            uv_run(loop, UV_RUN_DEFAULT);
            mon_free(mn);
            return NULL;
        }
        me->mn = mn;
        me->id = (uint32_t)i;
        if (ce->health && mn->en) {
            uv_timer_init(loop, &me->health);
            me->health.data = me;
            me->has_health = true;
        }
        me->n = (size_t)ce->connections;
        me->conns = xcalloc(me->n, sizeof(*me->conns));
        for (size_t k = 0; k < me->n; k++) {
            struct mconn *c = &me->conns[k];
            c->mn = mn;
            c->ep = (uint32_t)i;
            c->idx = (uint32_t)k;
            c->slot = -1;
        }
    }
    mn->m = model_new(mn->n_eps, conns);
    free(conns);
    uv_timer_init(loop, &mn->wheel_timer);
    mn->wheel_timer.data = mn;
    return mn;
}

int mon_add_sink(struct mon *mn, mon_sink_fn fn, void *ud)
{
    if (mn->n_sinks >= MON_SINKS_MAX)
        return -ENOSPC;
    mn->sinks[mn->n_sinks].fn = fn;
    mn->sinks[mn->n_sinks++].ud = ud;
    return 0;
}

void mon_start(struct mon *mn)
{
    if (!mn->en)
        return;
    uv_update_time(mn->loop);
    mn->wheel_t0_us = now_us();
    mn->wheel_pos = 0;
    uv_timer_start(&mn->wheel_timer, on_wheel, WHEEL_TICK_MS, WHEEL_TICK_MS);
    for (size_t i = 0; i < mn->n_eps; i++) {
        if (mn->eps[i].has_health)
            uv_timer_start(&mn->eps[i].health, on_health, 0, HEALTH_EVERY_MS);
        for (size_t k = 0; k < mn->eps[i].n; k++)
            start_conn(&mn->eps[i].conns[k]);
    }
}

const struct model *mon_model(const struct mon *mn)
{
    return mn->m;
}

const struct cfg *mon_cfg(const struct mon *mn)
{
    return mn->cfg;
}

const char *mon_ep_name(const struct mon *mn, uint32_t ep)
{
    return ep < mn->n_eps ? mn->eps[ep].name : "?";
}

int mon_reconnect(struct mon *mn, uint32_t ep)
{
    if (ep >= mn->n_eps || !mn->en)
        return -EINVAL;
    for (size_t k = 0; k < mn->eps[ep].n; k++) {
        struct mconn *c = &mn->eps[ep].conns[k];
        c->failures = 0;
        if (c->waiting) {
            wheel_remove(mn, c);
            c->waiting = false;
            engine_start(mn->en, c->ep, c->idx);
        } else if (engine_close(mn->en, c->ep, c->idx, 1000, "wsmon reconnect") == 0) {
            c->restart_after_close = true;
        } else {
            engine_start(mn->en, c->ep, c->idx);
        }
    }
    return 0;
}

void mon_pause(struct mon *mn, bool paused)
{
    if (mn->paused == paused)
        return;
    mn->paused = paused;
    if (paused || !mn->en)
        return;
    /* resume: whatever was waiting starts now */
    for (size_t i = 0; i < mn->n_eps; i++) {
        for (size_t k = 0; k < mn->eps[i].n; k++) {
            struct mconn *c = &mn->eps[i].conns[k];
            const struct model_attempt *a = model_attempt_get(mn->m, c->ep, c->idx);
            if (c->waiting || !a || a->seq == 0 || a->ended) {
                if (c->waiting)
                    wheel_remove(mn, c);
                start_conn(c);
            }
        }
    }
}

bool mon_paused(const struct mon *mn)
{
    return mn->paused;
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int mon_mark(struct mon *mn, uint32_t ep, const char *text)
{
    struct evt e;

    if (ep != EVT_EP_NONE && ep >= mn->n_eps)
        return -EINVAL;
    memset(&e, 0, sizeof(e));
    e.kind = EVT_MARK;
    e.ep = ep;
    e.t_mono_us = now_us();
    e.t_wall_us = wall_us();
    snprintf(e.u.mark.text, sizeof(e.u.mark.text), "%s", text ? text : "");
    dispatch(mn, &e);
    return 0;
}

int mon_inject(struct mon *mn, const struct evt *e)
{
    return dispatch(mn, e);
}

int64_t mon_retry_in_us(const struct mon *mn, uint32_t ep, uint32_t conn)
{
    const struct mconn *c;
    int64_t d;

    if (ep >= mn->n_eps || conn >= mn->eps[ep].n)
        return -1;
    c = &mn->eps[ep].conns[conn];
    if (!c->waiting)
        return -1;
    d = c->due_us - now_us();
    return d > 0 ? d : 0;
}

int64_t mon_loop_stall_us(const struct mon *mn)
{
    return mn->en ? engine_loop_stall_us(mn->en) : 0;
}

void mon_loop_stall_reset(struct mon *mn)
{
    if (mn->en)
        engine_loop_stall_reset(mn->en);
}

size_t mon_active(const struct mon *mn)
{
    return mn->en ? engine_active(mn->en) : 0;
}

int mon_close_all(struct mon *mn, int code, const char *reason)
{
    size_t n = 0;

    mn->stopping = true;
    if (!mn->en)
        return 0;
    for (size_t i = 0; i < mn->n_eps; i++) {
        for (size_t k = 0; k < mn->eps[i].n; k++) {
            struct mconn *c = &mn->eps[i].conns[k];
            if (c->waiting)
                wheel_remove(mn, c);
            c->waiting = false;
            if (engine_close(mn->en, c->ep, c->idx, code, reason) == 0)
                n++;
        }
    }
    return (int)n;
}

void mon_shutdown(struct mon *mn)
{
    if (!mn)
        return;
    mn->stopping = true;
    if (mn->en)
        engine_shutdown(mn->en);
    for (size_t i = 0; i < mn->n_eps; i++) {
        if (mn->eps[i].has_health && !uv_is_closing((uv_handle_t *)&mn->eps[i].health))
            uv_close((uv_handle_t *)&mn->eps[i].health, NULL);
    }
    if (mn->wheel_timer.loop && !uv_is_closing((uv_handle_t *)&mn->wheel_timer))
        uv_close((uv_handle_t *)&mn->wheel_timer, NULL);
}

void mon_free(struct mon *mn)
{
    if (!mn)
        return;
    engine_free(mn->en);
    for (size_t i = 0; i < mn->n_eps; i++)
        free(mn->eps[i].conns);
    free(mn->eps);
    model_free(mn->m);
    free(mn);
}
