/* SPDX-License-Identifier: MIT */
/* Probe results as text and as the JSON contract of DESIGN section 3.1. */
#ifndef WSMON_UI_REPORT_H
#define WSMON_UI_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct model_attempt;
struct diag_verdict;
struct json;

/* One connection's result, everything borrowed. */
struct report {
    const char *endpoint; /* endpoint name, NULL for a URL from the command line */
    const char *url;      /* as shown (secrets already masked) */
    int conn;             /* connection index (0-based) */
    int n_conns;          /* connections of this endpoint */
    const struct model_attempt *a;
    const struct diag_verdict *v;
    int64_t now_wall_s; /* for tls.days_left */
};

/* Append the DESIGN 3.1 object for r to j (no newline). */
void report_json(struct json *j, const struct report *r);

/* Print the human report (phase waterfall, certificate, upgrade, RTT, messages, close,
 * verdict and hint) in at most 80 columns. Colour (ANSI) only when color is true. Every
 * string from the network goes through san_term(). */
void report_text(FILE *f, const struct report *r, bool color);

#endif
