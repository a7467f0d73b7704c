/* SPDX-License-Identifier: MIT */
/* Endpoint configuration: options, the INI file of DESIGN section 6, value parsers. */
#ifndef WSMON_SRC_CFG_H
#define WSMON_SRC_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "url.h"

#define CFG_ERR_MAX         512
#define CFG_MAX_HEADERS     32
#define CFG_MAX_PROTOCOLS   8
#define CFG_MAX_CONNECTIONS 10000

enum cfg_via { CFG_VIA_NONE = 0, CFG_VIA_LB, CFG_VIA_DIRECT };

/* One endpoint's settings. Strings are heap-owned by the struct (cfg_ep_fini frees them);
 * NULL means unset. The `set_*` bits say which keys were given, so that defaults only fill
 * what an endpoint left unset. */
struct cfg_ep {
    char *name;   /* section name; NULL for URLs from the command line */
    char *url;    /* as given */
    struct url u; /* parsed url (valid once url is set and parsed) */

    char *headers[CFG_MAX_HEADERS]; /* "Name: value", validated */
    size_t n_headers;
    char *origin;
    char *protocols[CFG_MAX_PROTOCOLS];
    size_t n_protocols;
    char *resolve; /* "HOST:PORT:ADDR" as given */
    char *cacert;
    bool insecure;
    int64_t ping_ms; /* 0 = never */
    char *expect_message;
    int64_t expect_within_ms;
    char *send;
    int connections;
    char *health;
    int64_t timeout_ms;
    char *group;
    enum cfg_via via;
    char *backend_header;
    char *proxy; /* "host:port" */

    unsigned set; /* CFG_SET_* bits */
};

enum {
    CFG_SET_HEADERS = 1u << 0,
    CFG_SET_ORIGIN = 1u << 1,
    CFG_SET_PROTOCOLS = 1u << 2,
    CFG_SET_RESOLVE = 1u << 3,
    CFG_SET_CACERT = 1u << 4,
    CFG_SET_INSECURE = 1u << 5,
    CFG_SET_PING = 1u << 6,
    CFG_SET_EXPECT = 1u << 7,
    CFG_SET_EXPECT_WITHIN = 1u << 8,
    CFG_SET_SEND = 1u << 9,
    CFG_SET_CONNECTIONS = 1u << 10,
    CFG_SET_HEALTH = 1u << 11,
    CFG_SET_TIMEOUT = 1u << 12,
    CFG_SET_GROUP = 1u << 13,
    CFG_SET_VIA = 1u << 14,
    CFG_SET_BACKEND_HEADER = 1u << 15,
    CFG_SET_PROXY = 1u << 16,
};

#define CFG_DEFAULT_PING_MS          5000
#define CFG_DEFAULT_TIMEOUT_MS       10000
#define CFG_DEFAULT_EXPECT_WITHIN_MS 10000

struct cfg {
    struct cfg_ep defaults;
    struct cfg_ep *eps;
    size_t n_eps;
};

void cfg_init(struct cfg *c); /* empty, built-in defaults in c->defaults */
void cfg_fini(struct cfg *c);
void cfg_ep_init(struct cfg_ep *e);
void cfg_ep_fini(struct cfg_ep *e);

/* Load an INI file (DESIGN section 6) into c: [defaults] and one section per endpoint.
 * 0, or -EINVAL / -errno with "FILE:LINE: key 'K': reason" (or "FILE: reason") in err. */
int cfg_load_file(struct cfg *c, const char *path, char *err, size_t errlen);

/* Set one key (the INI names: url, header, origin, protocol, resolve, cacert, insecure,
 * ping, expect_message, expect_within, send, connections, health, timeout, group, via,
 * backend_header, proxy) from its text value. Used by the INI loader and the command line.
 * 0, or -EINVAL with a reason in err ("bad duration '5x': ..."), -ENOENT for an unknown key. */
int cfg_ep_set(struct cfg_ep *e, const char *key, const char *value, char *err, size_t errlen);

/* Append an endpoint for a URL (command line). 0 or -EINVAL with a reason. */
int cfg_add_url(struct cfg *c, const char *url, char *err, size_t errlen);

/* Fill every key an endpoint left unset from `from` (which wins only where ep is unset).
 * Then check the endpoint as a whole (a url is set, --resolve matches its host and port).
 * 0 or -EINVAL with a reason naming the endpoint. */
int cfg_ep_finish(struct cfg_ep *ep, const struct cfg_ep *from, char *err, size_t errlen);

/* "500ms", "5s", "2m", "1h", "1.5s", a bare number = seconds. 0 or -EINVAL. Accepts 0. */
int cfg_parse_duration_ms(const char *s, int64_t *out_ms);
/* "Name: value": token name, no CR/LF/NUL in value. 0 or -EINVAL. */
int cfg_parse_header(const char *s, char *name, size_t name_len, const char **value);
/* "HOST:PORT:ADDR" (ADDR may be [v6] or a bare v6). 0 or -EINVAL. */
int cfg_parse_resolve(const char *s, char *host, size_t host_len, int *port, char *addr,
                      size_t addr_len);

#endif
