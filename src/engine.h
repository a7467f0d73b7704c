/* SPDX-License-Identifier: MIT */
/* The WebSocket client engine: libwebsockets on the caller's libuv loop, emitting events. */
#ifndef WSMON_SRC_ENGINE_H
#define WSMON_SRC_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "evt.h"

struct cfg_ep;
struct engine;

/* Receives every event, synchronously, on the loop thread. The event is borrowed. The
 * callback may call engine_ping() and engine_close() but not engine_free(). */
typedef void (*engine_evt_fn)(void *ud, const struct evt *e);

/* Create the engine on loop. NULL with a reason in err when lws cannot start. */
struct engine *engine_new(uv_loop_t *loop, engine_evt_fn fn, void *ud, char *err, size_t errlen);

/* Register endpoint id with its settings (borrowed: must outlive the engine) and
 * ep->connections connection slots. 0, -EINVAL (bad settings, reason in err). */
int engine_add(struct engine *en, uint32_t id, const struct cfg_ep *ep, char *err, size_t errlen);

/* Start a new attempt on a connection slot that has none running. It emits EVT_ATTEMPT at
 * once and, later, exactly one EVT_CLOSED. Handshake timeout (ep->timeout_ms), expected
 * message (ep->expect_within_ms after open) and pong deadlines are the engine's. 0, -EBUSY
 * while an attempt runs, -EINVAL for an unknown slot. */
int engine_start(struct engine *en, uint32_t id, uint32_t conn);

/* Send one tagged ping now; its pong comes back as EVT_PONG. A pong that does not arrive
 * within pong_timeout_ms ends the attempt with cause ping-timeout. 0, -ENOTCONN. */
int engine_ping(struct engine *en, uint32_t id, uint32_t conn, int64_t pong_timeout_ms);

/* Close an open connection with a close frame (code, reason), or abort one not yet open.
 * The attempt still ends with its single EVT_CLOSED (by = client). 0, -ENOTCONN. */
int engine_close(struct engine *en, uint32_t id, uint32_t conn, int code, const char *reason);

/* Poll the endpoint's --health URL once: GET, status line and latency, as an EVT_HEALTH
 * (status 0 and an error when it fails; ep->timeout_ms bounds it). 0, -EBUSY while a poll
 * runs, -EINVAL without --health. */
int engine_health(struct engine *en, uint32_t id);

/* Number of attempts running. */
size_t engine_active(const struct engine *en);

/* Begin shutting down: aborts every attempt (no events after this call), starts closing lws's
 * handles. The caller then lets uv_run() finish and calls engine_free(). */
void engine_shutdown(struct engine *en);
void engine_free(struct engine *en);

/* The longest gap between two loop iterations seen so far, in microseconds. */
int64_t engine_loop_stall_us(const struct engine *en);
/* Start measuring the longest loop iteration afresh. */
void engine_loop_stall_reset(struct engine *en);

#endif
