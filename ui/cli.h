/* SPDX-License-Identifier: MIT */
/* The command line: commands, shared options, help and version. */
#ifndef WSMON_UI_CLI_H
#define WSMON_UI_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cfg.h"

enum cli_cmd { CLI_WATCH, CLI_PROBE, CLI_RECORD, CLI_HISTORY, CLI_SERVE, CLI_DEMO };

struct cli {
    enum cli_cmd cmd;
    struct cfg cfg;  /* endpoints ready to run (cfg_ep_finish done) */
    bool json;       /* probe --json */
    int pings;       /* probe --pings, default 3 */
    int64_t hold_ms; /* probe --hold, -1 = none */
    bool show_secrets;
    int color; /* -1 auto, 0 never, 1 always */
    int verbose;
    const char *config_path;
    /* watch, record, demo */
    const char *db_path;    /* --db, NULL = default */
    bool no_db;             /* --no-db */
    int64_t retain_s;       /* --retain, 0 = keep everything */
    int64_t backoff_min_ms; /* --backoff-min (default 1s) */
    int64_t backoff_max_ms; /* --backoff-max (default 60s) */
    bool stats;             /* record --stats: one JSON line of counters at exit */
    bool quiet;             /* record --quiet: no state-change log */
    bool replay;            /* watch --replay: stored history instead of live connections */
    const char *since;      /* --since T (replay) */
    const char *until;      /* --until T (replay) */
    int argc;               /* as given to cli_parse (record re-reads them on SIGHUP) */
    char **argv;
};

/* Exit codes (DESIGN section 3). */
#define CLI_EXIT_OK    0
#define CLI_EXIT_FAIL  1
#define CLI_EXIT_USAGE 2

/* Parse argv. Returns -1 when the program should go on with c filled in, or an exit status:
 * 0 after --help or --version (printed to out), 2 after a usage or configuration error (a
 * message on err). */
int cli_parse(struct cli *c, int argc, char **argv, FILE *out, FILE *err);
void cli_fini(struct cli *c);

/* Should output to f be coloured? (--color, NO_COLOR, a terminal, TERM). */
bool cli_use_color(const struct cli *c, FILE *f);

#endif
