/* SPDX-License-Identifier: MIT */
/* Names of event enumerations, as DESIGN section 3.1 spells them. */
#include "config.h"

#include "evt.h"

#include <stddef.h>

const char *evt_kind_name(enum evt_kind k)
{
    static const char *const n[EVT_KIND_COUNT] = {
        "attempt", "dns",  "tcp",  "tls",     "request", "response", "open",
        "msg",     "ping", "pong", "closing", "closed",  "health",   "mark",
    };
    return (unsigned)k < EVT_KIND_COUNT ? n[k] : "?";
}

const char *evt_phase_name(enum evt_phase p)
{
    static const char *const n[] = {"none", "dns", "tcp", "tls", "upgrade", "open"};
    return (unsigned)p <= EVT_PH_OPEN ? n[p] : "none";
}

const char *evt_cause_name(enum evt_cause c)
{
    static const char *const n[EVT_CAUSE_COUNT] = {
        NULL,
        "nxdomain",
        "dns-servfail",
        "dns-timeout",
        "refused",
        "connect-timeout",
        "unreachable",
        "tls-expired",
        "tls-not-yet-valid",
        "tls-hostname",
        "tls-self-signed",
        "tls-untrusted",
        "tls-protocol",
        "http-status",
        "redirect",
        "bad-accept",
        "reset",
        "eof",
        "handshake-timeout",
        "no-first-message",
        "ping-timeout",
        "close-frame",
    };
    return (unsigned)c < EVT_CAUSE_COUNT ? n[c] : NULL;
}

const char *evt_verify_name(enum evt_verify v)
{
    static const char *const n[] = {NULL,       "ok",          "expired",   "not-yet-valid",
                                    "hostname", "self-signed", "untrusted", "other"};
    return (unsigned)v <= EVT_VERIFY_OTHER ? n[v] : NULL;
}

const char *evt_by_name(enum evt_by b)
{
    static const char *const n[] = {NULL, "server", "client", "network", "timeout"};
    return (unsigned)b <= EVT_BY_TIMEOUT ? n[b] : NULL;
}

const char *evt_transport_name(enum evt_transport t)
{
    static const char *const n[] = {NULL, "eof", "reset"};
    return (unsigned)t <= EVT_TR_RESET ? n[t] : NULL;
}
