/* SPDX-License-Identifier: MIT */
/* The command line: commands, shared options, help and version. */
#include "config.h"

#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "san.h"

enum {
    OPT_ORIGIN = 256,
    OPT_PROTOCOL,
    OPT_RESOLVE,
    OPT_CACERT,
    OPT_INSECURE,
    OPT_PING,
    OPT_EXPECT,
    OPT_EXPECT_WITHIN,
    OPT_SEND,
    OPT_CONNECTIONS,
    OPT_HEALTH,
    OPT_TIMEOUT,
    OPT_PROXY,
    OPT_BACKEND_HEADER,
    OPT_JSON,
    OPT_PINGS,
    OPT_HOLD,
    OPT_DB,
    OPT_NO_DB,
    OPT_SHOW_SECRETS,
    OPT_COLOR,
    OPT_NO_COLOR,
    OPT_RETAIN,
    OPT_BACKOFF_MIN,
    OPT_BACKOFF_MAX,
    OPT_STATS,
    OPT_QUIET,
    OPT_REPLAY,
    OPT_SINCE,
    OPT_UNTIL,
};

static const struct option long_opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"header", required_argument, NULL, 'H'},
    {"origin", required_argument, NULL, OPT_ORIGIN},
    {"protocol", required_argument, NULL, OPT_PROTOCOL},
    {"resolve", required_argument, NULL, OPT_RESOLVE},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"ping", required_argument, NULL, OPT_PING},
    {"expect-message", required_argument, NULL, OPT_EXPECT},
    {"expect-within", required_argument, NULL, OPT_EXPECT_WITHIN},
    {"send", required_argument, NULL, OPT_SEND},
    {"connections", required_argument, NULL, OPT_CONNECTIONS},
    {"health", required_argument, NULL, OPT_HEALTH},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"proxy", required_argument, NULL, OPT_PROXY},
    {"backend-header", required_argument, NULL, OPT_BACKEND_HEADER},
    {"json", no_argument, NULL, OPT_JSON},
    {"pings", required_argument, NULL, OPT_PINGS},
    {"hold", required_argument, NULL, OPT_HOLD},
    {"db", required_argument, NULL, OPT_DB},
    {"no-db", no_argument, NULL, OPT_NO_DB},
    {"show-secrets", no_argument, NULL, OPT_SHOW_SECRETS},
    {"color", no_argument, NULL, OPT_COLOR},
    {"no-color", no_argument, NULL, OPT_NO_COLOR},
    {"retain", required_argument, NULL, OPT_RETAIN},
    {"backoff-min", required_argument, NULL, OPT_BACKOFF_MIN},
    {"backoff-max", required_argument, NULL, OPT_BACKOFF_MAX},
    {"stats", no_argument, NULL, OPT_STATS},
    {"replay", no_argument, NULL, OPT_REPLAY},
    {"since", required_argument, NULL, OPT_SINCE},
    {"until", required_argument, NULL, OPT_UNTIL},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static const char short_opts[] = "c:H:qvhV";

static const struct {
    const char *name;
    enum cli_cmd cmd;
} commands[] = {
    {"watch", CLI_WATCH},     {"probe", CLI_PROBE}, {"record", CLI_RECORD},
    {"history", CLI_HISTORY}, {"serve", CLI_SERVE}, {"demo", CLI_DEMO},
};

/* The cfg key an option sets, or NULL. */
static const char *opt_key(int opt)
{
    switch (opt) {
    case 'H':
        return "header";
    case OPT_ORIGIN:
        return "origin";
    case OPT_PROTOCOL:
        return "protocol";
    case OPT_RESOLVE:
        return "resolve";
    case OPT_CACERT:
        return "cacert";
    case OPT_INSECURE:
        return "insecure";
    case OPT_PING:
        return "ping";
    case OPT_EXPECT:
        return "expect_message";
    case OPT_EXPECT_WITHIN:
        return "expect_within";
    case OPT_SEND:
        return "send";
    case OPT_CONNECTIONS:
        return "connections";
    case OPT_HEALTH:
        return "health";
    case OPT_TIMEOUT:
        return "timeout";
    case OPT_PROXY:
        return "proxy";
    case OPT_BACKEND_HEADER:
        return "backend_header";
    default:
        return NULL;
    }
}

/* The endpoint options, shared by probe, watch and record. */
static void usage_endpoint(FILE *f, bool monitor)
{
    fputs("Endpoint options (also settable per endpoint in the config file):\n"
          "  -c, --config FILE          endpoints and defaults (INI)\n"
          "  -H, --header 'Name: value' extra upgrade request header (repeatable)\n"
          "      --origin URL           Origin header, sent as given\n"
          "      --protocol NAME        Sec-WebSocket-Protocol (repeatable)\n"
          "      --resolve HOST:PORT:ADDR  connect to ADDR, keep HOST for Host, SNI and\n"
          "                             the certificate check (as curl)\n"
          "      --cacert FILE          trust these CA certificates (PEM)\n"
          "      --insecure             do not enforce certificate checks (still reported)\n"
          "      --timeout DUR          DNS+TCP+TLS+upgrade budget (default 10s)\n",
          f);
    fputs(monitor ? "      --ping DUR             ping interval (default 5s; 0 = never ping)\n"
                  : "      --ping DUR             ping interval while holding (default 5s; 0 = "
                    "never)\n",
          f);
    fputs("      --expect-message TEXT  the server must send a message containing TEXT\n"
          "      --expect-within DUR    ... within DUR of open (default 10s)\n"
          "      --send TEXT            send this text message once after open\n"
          "      --connections N        N parallel connections per endpoint (default 1)\n",
          f);
    if (monitor)
        fputs("      --health URL           also poll this HTTP(S) URL every 10 s\n", f);
    fputs("      --proxy HOST:PORT      connect through this HTTP proxy\n"
          "      --backend-header NAME  response header that names the backend\n",
          f);
}

static void usage_probe(FILE *f)
{
    fputs("Usage: wsmon probe [OPTIONS] URL...\n"
          "One-shot check of WebSocket endpoints: connects, measures every phase, pings,\n"
          "closes, and names the layer that failed. Several URLs are probed at once.\n"
          "\n",
          f);
    usage_endpoint(f, false);
    fputs("\n"
          "Probe options:\n"
          "      --json                 one JSON object per connection per line\n"
          "      --pings N              pings to send after open (default 3)\n"
          "      --hold DUR             stay open DUR, pinging every --ping, then close\n"
          "      --show-secrets         do not mask credentials in URLs and headers\n"
          "      --color, --no-color    force colours on or off (NO_COLOR is honoured)\n"
          "  -v, --verbose              more diagnostics on stderr (repeat for lws debug)\n"
          "  -h, --help                 this help\n"
          "  -V, --version              version\n"
          "\n"
          "Durations: 500ms, 5s, 2m, 1h, or bare seconds.\n"
          "Exit status: 0 every endpoint healthy, 1 an endpoint failed, 2 usage or\n"
          "configuration error. Results go to stdout, diagnostics to stderr.\n",
          f);
}

static void usage_monitor(FILE *f, const char *cmd)
{
    fprintf(f,
            "Usage: wsmon %s [OPTIONS] [URL...]\n"
            "%s",
            cmd,
            !strcmp(cmd, "record")
                ? "Headless recorder: holds a WebSocket to each endpoint, reconnects, pings,\n"
                  "records every attempt to SQLite and logs state changes to stderr.\n"
                  "SIGTERM or SIGINT closes the connections, flushes and exits 0.\n"
                : "Live dashboard: holds a WebSocket to each endpoint, reconnects, pings,\n"
                  "shows readyState, timings, RTT, close codes and the failing layer.\n");
    fputs("\n", f);
    usage_endpoint(f, true);
    fputs("\n"
          "Monitoring options:\n"
          "      --backoff-min DUR      first reconnect delay (default 1s)\n"
          "      --backoff-max DUR      longest reconnect delay (default 60s)\n"
          "      --db PATH              history database (default\n"
          "                             $XDG_STATE_HOME/wsmon/history.db)\n"
          "      --no-db                do not record\n"
          "      --retain DUR           prune history older than DUR (e.g. 30d)\n"
          "      --replay               watch: replay the history database (--db) through\n"
          "                             the dashboard instead of connecting\n"
          "      --since T, --until T   the window to replay (ISO 8601 UTC, or 2h, 30m,\n"
          "                             yesterday; default: the last hour)\n"
          "      --stats                record: at exit, print one JSON line of counters\n"
          "                             (pings, pongs, RTT p50/p99, longest loop stall) up\n"
          "                             to SIGTERM; after a SIGUSR2 also a \"steady\" object\n"
          "                             counted from the (last) SIGUSR2\n"
          "  -q, --quiet                record: no state-change log on stderr\n"
          "      --show-secrets         do not mask credentials in URLs and headers\n"
          "      --color, --no-color    force colours on or off (NO_COLOR is honoured)\n"
          "  -v, --verbose              more diagnostics on stderr\n"
          "  -h, --help                 this help\n"
          "  -V, --version              version\n"
          "\n"
          "Durations: 500ms, 5s, 2m, 1h, 30d, or bare seconds.\n",
          f);
}

static void usage_main(FILE *f)
{
    fputs("Usage: wsmon [COMMAND] [OPTIONS] [URL...]\n"
          "Watch WebSocket endpoints and name the layer that fails.\n"
          "\n"
          "Commands:\n"
          "  probe    one-shot check for scripts and deploy gates\n"
          "  watch    live dashboard (the default command)\n"
          "  record   headless: monitor and record, no terminal UI\n"
          "  history  query recorded history: table, CSV or JSON\n"
          "  mark     add a marker note to the history (\"deploy started\")\n"
          "  serve    diagnostic WebSocket server with fault paths\n"
          "  demo     serve on loopback and watch its fault paths\n"
          "\n"
          "'wsmon COMMAND --help' shows a command's options; 'man wsmon' has the details.\n",
          f);
}

static void version(FILE *f)
{
    fprintf(f, "wsmon %s\n", PACKAGE_VERSION);
}

bool cli_use_color(const struct cli *c, FILE *f)
{
    const char *term = getenv("TERM");

    if (c->color >= 0)
        return c->color == 1;
    if (getenv("NO_COLOR") && *getenv("NO_COLOR"))
        return false;
    if (!term || !strcmp(term, "dumb"))
        return false;
    return isatty(fileno(f));
}

static int parse_count(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -EINVAL;
    *out = v;
    return 0;
}

/* Show an argument in a message without letting control characters reach the terminal. */
static const char *safe(const char *s, char *buf, size_t len)
{
    san_term(s, strlen(s), buf, len);
    return buf;
}

int cli_parse(struct cli *c, int argc, char **argv, FILE *out, FILE *err)
{
    char msg[CFG_ERR_MAX], sb[256];
    int opt, i, first = 1;
    size_t k;
    const char *cmd_name = "wsmon";

    memset(c, 0, sizeof(*c));
    c->argc = argc;
    c->argv = argv;
    cfg_init(&c->cfg);
    c->cmd = CLI_WATCH;
    c->pings = 3;
    c->hold_ms = -1;
    c->color = -1;
    c->backoff_min_ms = 1000;
    c->backoff_max_ms = 60000;

    if (argc > 1) {
        for (k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
            if (!strcmp(argv[1], commands[k].name)) {
                c->cmd = commands[k].cmd;
                cmd_name = commands[k].name;
                first = 2;
                break;
            }
        }
    }

    /* pass 1: help, version and the config file, which the other options override */
    opterr = 0;
    optind = 0;
    while ((opt = getopt_long(argc - first + 1, argv + first - 1, short_opts, long_opts, NULL)) !=
           -1) {
        if (opt == 'h') {
            if (c->cmd == CLI_PROBE)
                usage_probe(out);
            else if ((c->cmd == CLI_WATCH && first == 2) || c->cmd == CLI_RECORD)
                usage_monitor(out, cmd_name);
            else if (c->cmd == CLI_DEMO)
                fputs(
                    "Usage: wsmon demo [--no-color] [--color]\n"
                    "Starts 'wsmon serve' in-process on a free loopback port and watches a set\n"
                    "of its paths that show every state within a minute: healthy (with a\n"
                    "health check), a stream, a connection dropped every 20 s, an idle timeout\n"
                    "of 15 s, a 502 rejection, a close with 1011, and a via=lb / via=direct pair\n"
                    "in one group where only the load balancer path fails. No network and no\n"
                    "configuration needed; nothing is recorded. Keys as in 'wsmon watch'.\n",
                    out);
            else
                usage_main(out);
            return CLI_EXIT_OK;
        }
        if (opt == 'V') {
            version(out);
            return CLI_EXIT_OK;
        }
        if (opt == 'c')
            c->config_path = optarg;
    }

    if (c->cmd == CLI_HISTORY || c->cmd == CLI_SERVE) {
        fprintf(err,
                "wsmon: '%s' is not available in this version yet; 'wsmon probe URL...' is.\n"
                "Try 'wsmon --help'.\n",
                c->cmd == CLI_WATCH && first == 1 ? "watch" : cmd_name);
        return CLI_EXIT_USAGE;
    }

    if (c->config_path && cfg_load_file(&c->cfg, c->config_path, msg, sizeof(msg)) < 0) {
        fprintf(err, "wsmon: %s\n", msg);
        return CLI_EXIT_USAGE;
    }

    /* pass 2: everything else */
    opterr = 1;
    optind = 0;
    while ((opt = getopt_long(argc - first + 1, argv + first - 1, short_opts, long_opts, NULL)) !=
           -1) {
        const char *key = opt_key(opt);
        long v;
        int64_t ms;

        if (key) {
            int rc = cfg_ep_set(&c->cfg.defaults, key, opt == OPT_INSECURE ? "true" : optarg, msg,
                                sizeof(msg));
            if (rc < 0) {
                const struct option *lo = long_opts;
                while (lo->name && lo->val != opt)
                    lo++;
                fprintf(err, "wsmon %s: --%s: %s\n", cmd_name, lo->name ? lo->name : key, msg);
                return CLI_EXIT_USAGE;
            }
            continue;
        }
        switch (opt) {
        case 'c':
            break;
        case 'v':
            c->verbose++;
            break;
        case OPT_JSON:
            c->json = true;
            break;
        case OPT_PINGS:
            if (parse_count(optarg, 0, 1000000, &v) < 0) {
                fprintf(err, "wsmon %s: --pings wants a whole number from 0, not '%s'\n", cmd_name,
                        safe(optarg, sb, sizeof(sb)));
                return CLI_EXIT_USAGE;
            }
            c->pings = (int)v;
            break;
        case OPT_HOLD:
            if (cfg_parse_duration_ms(optarg, &ms) < 0) {
                fprintf(err, "wsmon %s: --hold wants a duration (500ms, 5s, 2m), not '%s'\n",
                        cmd_name, safe(optarg, sb, sizeof(sb)));
                return CLI_EXIT_USAGE;
            }
            c->hold_ms = ms;
            break;
        case OPT_DB:
            c->db_path = optarg;
            break;
        case OPT_NO_DB:
            c->no_db = true;
            break;
        case OPT_RETAIN:
        case OPT_BACKOFF_MIN:
        case OPT_BACKOFF_MAX:
            if (cfg_parse_duration_ms(optarg, &ms) < 0 || (opt != OPT_RETAIN && ms <= 0)) {
                fprintf(err, "wsmon %s: --%s wants a duration (500ms, 5s, 2m, 30d), not '%s'\n",
                        cmd_name,
                        opt == OPT_RETAIN        ? "retain"
                        : opt == OPT_BACKOFF_MIN ? "backoff-min"
                                                 : "backoff-max",
                        safe(optarg, sb, sizeof(sb)));
                return CLI_EXIT_USAGE;
            }
            if (opt == OPT_RETAIN)
                c->retain_s = ms / 1000;
            else if (opt == OPT_BACKOFF_MIN)
                c->backoff_min_ms = ms;
            else
                c->backoff_max_ms = ms;
            break;
        case OPT_STATS:
            c->stats = true;
            break;
        case OPT_REPLAY:
            c->replay = true;
            break;
        case OPT_SINCE:
            c->since = optarg;
            break;
        case OPT_UNTIL:
            c->until = optarg;
            break;
        case 'q':
            c->quiet = true;
            break;
        case OPT_SHOW_SECRETS:
            c->show_secrets = true;
            break;
        case OPT_COLOR:
            c->color = 1;
            break;
        case OPT_NO_COLOR:
            c->color = 0;
            break;
        default: /* getopt printed the problem */
            fprintf(err, "Try 'wsmon %s --help'.\n", cmd_name);
            return CLI_EXIT_USAGE;
        }
    }
    log_set_level(c->verbose >= 2 ? LOG_DEBUG : c->verbose ? LOG_INFO : LOG_WARN);
    if (c->cmd != CLI_PROBE && (c->json || c->pings != 3 || c->hold_ms >= 0)) {
        fprintf(err, "wsmon %s: --json, --pings and --hold are probe options\n", cmd_name);
        return CLI_EXIT_USAGE;
    }
    if ((c->replay || c->since || c->until) && c->cmd != CLI_WATCH) {
        fprintf(err, "wsmon %s: --replay, --since and --until are watch options\n", cmd_name);
        return CLI_EXIT_USAGE;
    }
    if ((c->since || c->until) && !c->replay) {
        fprintf(err, "wsmon %s: --since and --until go with --replay\n", cmd_name);
        return CLI_EXIT_USAGE;
    }
    if (c->replay) {
        if (c->cfg.n_eps) {
            fprintf(err,
                    "wsmon %s: --replay shows what the history database holds; give no "
                    "URL (use --db PATH)\n",
                    cmd_name);
            return CLI_EXIT_USAGE;
        }
        return -1; /* the endpoints come from the database */
    }
    if (c->backoff_min_ms > c->backoff_max_ms) {
        fprintf(err, "wsmon %s: --backoff-min is longer than --backoff-max\n", cmd_name);
        return CLI_EXIT_USAGE;
    }

    for (i = optind + first - 1; i < argc; i++) {
        if (cfg_add_url(&c->cfg, argv[i], msg, sizeof(msg)) < 0) {
            fprintf(err, "wsmon %s: %s\n", cmd_name, msg);
            return CLI_EXIT_USAGE;
        }
    }
    if (c->cmd == CLI_DEMO) {
        if (c->cfg.n_eps || c->config_path) {
            fprintf(err,
                    "wsmon demo: the demo brings its own endpoints; use 'wsmon watch URL...'\n");
            return CLI_EXIT_USAGE;
        }
        return -1;
    }
    if (c->cfg.n_eps == 0) {
        fprintf(err,
                "wsmon %s: no endpoint: give a URL or a config file with endpoints\n"
                "Try 'wsmon %s --help', or 'wsmon demo' for a tour.\n",
                cmd_name, cmd_name);
        return CLI_EXIT_USAGE;
    }
    for (k = 0; k < c->cfg.n_eps; k++) {
        if (cfg_ep_finish(&c->cfg.eps[k], &c->cfg.defaults, msg, sizeof(msg)) < 0) {
            fprintf(err, "wsmon %s: %s\n", cmd_name, msg);
            return CLI_EXIT_USAGE;
        }
    }
    return -1;
}

void cli_fini(struct cli *c)
{
    cfg_fini(&c->cfg);
}
