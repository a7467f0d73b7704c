/* SPDX-License-Identifier: MIT */
/* The monitor: holds every endpoint's connections open, reconnects with backoff, pings,
 * polls health, and feeds each event to the model and then to the sinks. */
#ifndef WSMON_SRC_MON_H
#define WSMON_SRC_MON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "evt.h"

struct cfg;
struct model;
struct mon;

struct mon_opts {
    int64_t backoff_min_ms; /* first reconnect delay (default 1000) */
    int64_t backoff_max_ms; /* cap (default 60000); each failure doubles, with +-20% jitter */
    bool no_connect;        /* replay: no engine, events come from mon_inject() */
};

/* A sink sees every event after the model applied it (model is borrowed, read-only). It
 * must not block; it may call mon_* functions except mon_free. */
typedef void (*mon_sink_fn)(void *ud, const struct evt *e, const struct model *m);

/* cfg is borrowed and must outlive the monitor; its endpoints must be finished
 * (cfg_ep_finish). NULL with a reason in err. */
struct mon *mon_new(uv_loop_t *loop, const struct cfg *cfg, const struct mon_opts *o, char *err,
                    size_t errlen);
/* Register a sink (at most 8). 0 or -ENOSPC. */
int mon_add_sink(struct mon *mn, mon_sink_fn fn, void *ud);
/* Start every connection. */
void mon_start(struct mon *mn);

const struct model *mon_model(const struct mon *mn);
const struct cfg *mon_cfg(const struct mon *mn);
/* A short display name for endpoint ep: its config section name, else host[:port]/path
 * (secrets masked). Borrowed, lives as long as the monitor. */
const char *mon_ep_name(const struct mon *mn, uint32_t ep);

/* Reconnect every connection of ep now (closing open ones with 1000), resetting backoff. */
int mon_reconnect(struct mon *mn, uint32_t ep);
/* Pause: no new attempts and no pings (open connections stay open); resume restarts. */
void mon_pause(struct mon *mn, bool paused);
bool mon_paused(const struct mon *mn);
/* Add an operator marker (ep may be EVT_EP_NONE): an EVT_MARK through model and sinks. */
int mon_mark(struct mon *mn, uint32_t ep, const char *text);
/* Feed an event as if the engine had sent it (replay, tests). 0 or the model's error. */
int mon_inject(struct mon *mn, const struct evt *e);
/* Monotonic microseconds until connection (ep, conn) tries again; -1 if not waiting. */
int64_t mon_retry_in_us(const struct mon *mn, uint32_t ep, uint32_t conn);
/* The longest loop iteration seen (us), for debug output. */
int64_t mon_loop_stall_us(const struct mon *mn);
void mon_loop_stall_reset(struct mon *mn);

/* Connections with an attempt running. */
size_t mon_active(const struct mon *mn);
/* Stop reconnecting and close every connection politely (code, reason); their EVT_CLOSED
 * events still flow. Returns how many closes were started. Follow with mon_shutdown() once
 * mon_active() is 0 or a grace period has passed. */
int mon_close_all(struct mon *mn, int code, const char *reason);

/* Stop everything (no events after this); the loop then ends once handles are closed. */
void mon_shutdown(struct mon *mn);
void mon_free(struct mon *mn);

#endif
