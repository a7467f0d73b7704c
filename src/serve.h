/* SPDX-License-Identifier: MIT */
/* wsmon serve: a diagnostic WebSocket server with fault paths, on the caller's libuv loop. */
#ifndef WSMON_SRC_SERVE_H
#define WSMON_SRC_SERVE_H

#include <stddef.h>

#include <uv.h>

struct serve;

/* Receives one line (no newline, already safe for a terminal) per connection event: a
 * WebSocket opened (path and peer) or closed (code, reason, who, message counts), or an HTTP
 * request answered without an upgrade (status, path, peer). Called on the loop thread. */
typedef void (*serve_log_fn)(void *ud, const char *line);

/* Longest time serve_shutdown() waits for clients to answer its 1001 close frames. */
#define SERVE_GRACE_MS 1000

struct serve_opts {
    const char *addr;     /* numeric IPv4 or IPv6 address, no brackets; NULL = 127.0.0.1 */
    int port;             /* 0-65535; 0 = a free port, see serve_port() */
    const char *tls_cert; /* PEM certificate (chain) and key file: both for wss://, or neither */
    const char *tls_key;
    serve_log_fn log; /* NULL = no connection log */
    void *log_ud;
};

/* Start listening on loop (borrowed; it must outlive the server). Options are only read during
 * the call. Returns NULL with a one-line reason in err and errno set: EINVAL for a bad address,
 * port or TLS file (a configuration error), the bind(2) error (EADDRINUSE, EADDRNOTAVAIL,
 * EACCES...) when the address cannot be listened on, EIO when libwebsockets fails otherwise.
 * Binds exactly the address given: 127.0.0.1 is not *, and an IPv6 address is IPv6-only.
 * Sets lws's process-wide log sink (lines go to log_debug()). With TLS, create the server
 * after any other lws context on the loop (such as the engine): the other order makes lws
 * 4.1.6 leak the server's client SSL_CTX (~700 kB) at exit; plain ws:// has no such rule. */
struct serve *serve_new(uv_loop_t *loop, const struct serve_opts *o, char *err, size_t errlen);

/* The port actually listened on (the kernel's choice when opts.port was 0). */
int serve_port(const struct serve *s);

/* The base URL, e.g. "ws://127.0.0.1:8080" or "wss://[::1]:8443" (borrowed, lives as long as
 * s). Append a path such as "/echo". */
const char *serve_url(const struct serve *s);

/* WebSocket connections open now. */
size_t serve_active(const struct serve *s);

/* Begin shutting down, from a loop callback (never from inside another libwebsockets
 * callback): stop accepting, send 1001 to every open WebSocket and give them up to
 * SERVE_GRACE_MS to answer, then close everything. A second call skips the rest of the wait.
 * The loop keeps running until the server's handles are closed; once uv_run() returns, call
 * serve_free(). */
void serve_shutdown(struct serve *s);

/* Free the server after serve_shutdown() and uv_run() returning. NULL is a no-op. */
void serve_free(struct serve *s);

#endif
