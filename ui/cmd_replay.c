/* SPDX-License-Identifier: MIT */
/* wsmon watch --replay: the history database's events through the model and the dashboard, on a
 * replay clock the user drives. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "cfg.h"
#include "cli.h"
#include "cmd.h"
#include "evt.h"
#include "hist.h"
#include "log.h"
#include "mon.h"
#include "store.h"
#include "tui.h"
#include "xmem.h"

#define SEC       INT64_C(1000000)
#define TICK_MS   100
#define FEED_MAX  200000 /* events per loop turn: a long seek keeps the screen alive */
#define GRAVE_MAX 16
#define SPEED_DEF 5 /* x60 */

static const int speeds[] = {1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};
#define SPEEDS_N ((int)(sizeof(speeds) / sizeof(speeds[0])))

struct replay {
    uv_loop_t loop;
    struct hist_replay *rp;
    struct cfg cfg;
    struct mon *mn;
    struct tui *tui;
    uv_timer_t tick;
    bool tick_init;
    int64_t since, until;
    int64_t first;  /* the first event (an attempt running at since began before it) */
    int64_t at;     /* the replay clock: UTC us; the state shown is every event before it */
    int64_t target; /* where the clock goes (a seek still feeding, or play) */
    bool playing, quitting;
    int speed;
    uint64_t real_ms; /* uv_now at the last tick */
    char status[96];
    /* monitors replaced by a seek back: freed once the loop closed their handles */
    struct {
        struct mon *mn;
        uint64_t turn;
    } grave[GRAVE_MAX];
    int n_grave;
    uint64_t turns;
};

static void now_wall(int64_t *out)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    *out = (int64_t)ts.tv_sec * SEC + ts.tv_nsec / 1000;
}

static void clock_of(void *ud, int64_t *mono_us, int64_t *wall_us)
{
    struct replay *r = ud;

    *mono_us = *wall_us = r->at;
}

static const char *status_of(void *ud)
{
    struct replay *r = ud;

    if (r->at < r->target && !r->playing)
        snprintf(r->status, sizeof(r->status), "REPLAY seeking...");
    else
        snprintf(r->status, sizeof(r->status), "REPLAY x%d %s", speeds[r->speed],
                 r->playing          ? "playing"
                 : r->at >= r->until ? "end"
                 : r->at <= r->since ? "start"
                                     : "paused");
    return r->status;
}

/* Apply the events up to target, at most FEED_MAX of them. true when caught up. */
static bool feed(struct replay *r)
{
    struct evt e;
    long n = 0;

    while (n < FEED_MAX) {
        int64_t t = hist_replay_peek(r->rp);

        if (t == INT64_MAX || t >= r->target) {
            r->at = r->target;
            return true;
        }
        if (!hist_replay_next(r->rp, &e))
            break;
        if (mon_inject(r->mn, &e) < 0)
            log_debug("replay: the model refused %s (ep %u conn %u attempt %u)",
                      evt_kind_name(e.kind), e.ep, e.conn, e.attempt);
        if (e.t_wall_us > r->at)
            r->at = e.t_wall_us;
        n++;
    }
    if (n < FEED_MAX)
        r->at = r->target;
    return n < FEED_MAX;
}

static void bury(struct replay *r, struct mon *mn)
{
    mon_shutdown(mn);
    if (r->n_grave == GRAVE_MAX) {
        /* full: the oldest was shut down many turns ago */
        mon_free(r->grave[0].mn);
        memmove(&r->grave[0], &r->grave[1], (GRAVE_MAX - 1) * sizeof(r->grave[0]));
        r->n_grave--;
    }
    r->grave[r->n_grave].mn = mn;
    r->grave[r->n_grave++].turn = r->turns;
}

/* A new, empty model: a seek back starts from the first event again. */
static int restart(struct replay *r)
{
    struct mon_opts o = {.no_connect = true};
    char err[256];
    struct mon *mn = mon_new(&r->loop, &r->cfg, &o, err, sizeof(err));

    if (!mn) {
        tui_message(r->tui, err);
        return -1;
    }
    tui_set_mon(r->tui, mn);
    bury(r, r->mn);
    r->mn = mn;
    hist_replay_rewind(r->rp);
    r->at = r->first;
    return 0;
}

static void on_tick(uv_timer_t *h);

static void seek(struct replay *r, int64_t t)
{
    if (t < r->since)
        t = r->since;
    if (t > r->until)
        t = r->until;
    if (t < r->at && restart(r) < 0)
        return;
    r->target = t;
    if (!feed(r))
        uv_timer_start(&r->tick, on_tick, 0, TICK_MS); /* go on at once */
    tui_dirty(r->tui);
}

static void on_tick(uv_timer_t *h)
{
    struct replay *r = h->data;
    uint64_t now = uv_now(&r->loop);
    int k = 0;

    r->turns++;
    /* handles of buried monitors closed in an earlier turn of the loop */
    for (int i = 0; i < r->n_grave; i++) {
        if (r->grave[i].turn < r->turns - 1)
            mon_free(r->grave[i].mn);
        else
            r->grave[k++] = r->grave[i];
    }
    r->n_grave = k;
    if (r->playing) {
        int64_t dt = (int64_t)(now - r->real_ms) * 1000 * speeds[r->speed];

        r->target = r->target + dt < r->until ? r->target + dt : r->until;
        if (r->target >= r->until)
            r->playing = false;
    }
    r->real_ms = now;
    if (r->at < r->target) {
        if (!feed(r))
            uv_timer_start(&r->tick, on_tick, 0, TICK_MS);
        tui_dirty(r->tui);
    } else if (r->playing) {
        r->at = r->target;
        tui_dirty(r->tui);
    }
}

static bool on_key(void *ud, int ch)
{
    struct replay *r = ud;
    char msg[96];

    switch (ch) {
    case ' ':
        if (!r->playing && r->at >= r->until)
            seek(r, r->since); /* from the start again */
        r->playing = !r->playing;
        r->real_ms = uv_now(&r->loop);
        r->target = r->at;
        break;
    case '+':
    case '=':
    case '-':
    case '_':
        r->speed += ch == '+' || ch == '=' ? 1 : -1;
        if (r->speed < 0)
            r->speed = 0;
        if (r->speed >= SPEEDS_N)
            r->speed = SPEEDS_N - 1;
        snprintf(msg, sizeof(msg), "replay speed x%d", speeds[r->speed]);
        tui_message(r->tui, msg);
        break;
    case '[':
    case ']':
    case '{':
    case '}': {
        int64_t d = (ch == '[' || ch == ']' ? 60 : 600) * SEC;

        r->playing = false;
        seek(r, r->at + (ch == '[' || ch == '{' ? -d : d));
        break;
    }
    case '^':
    case '0':
        r->playing = false;
        seek(r, r->since);
        break;
    case '$':
        r->playing = false;
        seek(r, r->until);
        break;
    case 'r':
    case 'p':
    case 'm':
    case 'M':
        tui_message(r->tui, "a replay is read-only: r, p and m work in a live watch");
        break;
    default:
        return false;
    }
    tui_dirty(r->tui);
    return true;
}

static void on_quit(void *ud)
{
    struct replay *r = ud;

    if (r->quitting)
        return;
    r->quitting = true;
    if (r->tick_init)
        uv_close((uv_handle_t *)&r->tick, NULL);
    mon_shutdown(r->mn);
}

static void fmt_utc(int64_t us, char *buf, size_t len)
{
    time_t s = (time_t)(us / SEC);
    struct tm tm;

    gmtime_r(&s, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int cmd_replay(struct cli *c)
{
    struct replay r;
    struct hist *h;
    struct hist_replay_stats st;
    struct mon_opts mo = {.no_connect = true};
    char path[4096], err[512], a[32], z[32];
    int64_t now;
    int rc = CLI_EXIT_OK;

    memset(&r, 0, sizeof(r));
    now_wall(&now);
    r.until = now;
    if (c->until && hist_parse_time(c->until, now, &r.until) < 0) {
        fprintf(stderr, "wsmon watch: bad --until '%s' (ISO 8601 UTC, or 2h, 30m, today)\n",
                c->until);
        return CLI_EXIT_USAGE;
    }
    r.since = r.until - 3600 * SEC;
    if (c->since && hist_parse_time(c->since, now, &r.since) < 0) {
        fprintf(stderr, "wsmon watch: bad --since '%s' (ISO 8601 UTC, or 2h, 30m, today)\n",
                c->since);
        return CLI_EXIT_USAGE;
    }
    if (r.since >= r.until) {
        fprintf(stderr, "wsmon watch: --since is not before --until\n");
        return CLI_EXIT_USAGE;
    }
    if (c->db_path) {
        xstrlcpy(path, c->db_path, sizeof(path));
    } else if (store_default_path(path, sizeof(path)) < 0) {
        fprintf(stderr, "wsmon watch: no --db and neither XDG_STATE_HOME nor HOME is set\n");
        return CLI_EXIT_USAGE;
    }

    /* everything the replay needs is read now, before the loop: nothing waits on the disk later */
    h = hist_open(path, err, sizeof(err));
    if (!h) {
        fprintf(stderr, "wsmon watch: %s\n", err);
        return CLI_EXIT_FAIL;
    }
    if (err[0])
        fprintf(stderr, "wsmon watch: warning: %s\n", err);
    r.rp = hist_replay_load(h, r.since, r.until, err, sizeof(err));
    hist_close(h);
    if (!r.rp) {
        fprintf(stderr, "wsmon watch: %s\n", err);
        return CLI_EXIT_FAIL;
    }
    hist_replay_get_stats(r.rp, &st);
    if (st.endpoints == 0) {
        fmt_utc(r.since, a, sizeof(a));
        fmt_utc(r.until, z, sizeof(z));
        fprintf(stderr, "wsmon watch: %s holds nothing between %s and %s (see wsmon history)\n",
                path, a, z);
        hist_replay_free(r.rp);
        return CLI_EXIT_FAIL;
    }
    if (hist_replay_cfg(r.rp, &r.cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "wsmon watch: %s\n", err);
        hist_replay_free(r.rp);
        return CLI_EXIT_FAIL;
    }
    if (uv_loop_init(&r.loop) < 0) {
        fprintf(stderr, "wsmon: cannot start the event loop\n");
        hist_replay_free(r.rp);
        cfg_fini(&r.cfg);
        return CLI_EXIT_FAIL;
    }
    signal(SIGPIPE, SIG_IGN);
    r.mn = mon_new(&r.loop, &r.cfg, &mo, err, sizeof(err));
    if (!r.mn) {
        fprintf(stderr, "wsmon watch: %s\n", err);
        rc = CLI_EXIT_FAIL;
        goto out;
    }
    r.speed = SPEED_DEF;
    r.first = st.first_us < r.since ? st.first_us : r.since;
    r.at = r.first;
    {
        struct tui_opts to = {.color = c->color,
                              .ascii = -1,
                              .utc = false,
                              .show_secrets = c->show_secrets,
                              .history = true,
                              .history_db = path,
                              .clock = clock_of,
                              .on_key = on_key,
                              .status = status_of,
                              .on_quit = on_quit,
                              .ud = &r};

        r.tui = tui_new(&r.loop, r.mn, &to, err, sizeof(err));
    }
    if (!r.tui) {
        fprintf(stderr, "wsmon watch: %s\n", err);
        mon_shutdown(r.mn);
        uv_run(&r.loop, UV_RUN_DEFAULT);
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    if (st.rtt_dropped || st.msgs_capped) {
        snprintf(err, sizeof(err), "replay: %llu RTT samples left out, %llu attempts' messages cut",
                 (unsigned long long)st.rtt_dropped, (unsigned long long)st.msgs_capped);
        tui_message(r.tui, err);
    }
    uv_timer_init(&r.loop, &r.tick);
    r.tick.data = &r;
    r.tick_init = true;
    r.real_ms = uv_now(&r.loop);
    /* what the dashboard showed at --until; space plays from the start */
    r.target = r.until;
    uv_timer_start(&r.tick, on_tick, 0, TICK_MS);
    uv_run(&r.loop, UV_RUN_DEFAULT);

out:
    tui_free(r.tui);
    uv_run(&r.loop, UV_RUN_NOWAIT); /* the tui's last handles */
    for (int i = 0; i < r.n_grave; i++)
        mon_free(r.grave[i].mn);
    mon_free(r.mn);
    hist_replay_free(r.rp);
    cfg_fini(&r.cfg);
    if (uv_loop_close(&r.loop) != 0)
        log_debug("event loop closed with handles still open");
    return rc;
}
