/* SPDX-License-Identifier: MIT */
/* WebSocket URL parsing (ws:// and wss://, also http(s):// for --health). */
#ifndef WSMON_SRC_URL_H
#define WSMON_SRC_URL_H

#include <stdbool.h>
#include <stddef.h>

#define URL_HOST_MAX 256
#define URL_PATH_MAX 2048

struct url {
    bool tls;                /* wss:// or https:// */
    bool websocket;          /* ws:// or wss:// (else http:// or https://) */
    char host[URL_HOST_MAX]; /* without brackets for IPv6 literals, lower-cased */
    bool host_is_ip;         /* an IPv4 or IPv6 literal */
    bool host_is_ipv6;
    int port; /* explicit or the scheme's default */
    bool port_explicit;
    char path[URL_PATH_MAX]; /* path and query, at least "/" */
};

/* Parse s. 0, or -EINVAL with a one-line reason in err (no trailing newline). Rejects
 * userinfo, fragments, control characters and spaces, empty hosts and bad ports. With
 * http_ok, http:// and https:// are accepted too. */
int url_parse(const char *s, bool http_ok, struct url *u, char *err, size_t errlen);

/* Write "host:port" as lws wants it in the Host header (IPv6 in brackets, port omitted when
 * it is the scheme's default). Returns the length, or -ENOSPC. */
int url_host_header(const struct url *u, char *buf, size_t len);

/* Copy s into buf with credential-looking query parameter values (token, key, password,
 * secret, auth, signature, sig, access_token, api_key, apikey, jwt, session...) replaced by
 * "***". Returns buf. */
char *url_mask_secrets(const char *s, char *buf, size_t len);

#endif
