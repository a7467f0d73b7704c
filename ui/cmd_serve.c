/* SPDX-License-Identifier: MIT */
/* wsmon serve: run the diagnostic WebSocket server until SIGINT or SIGTERM. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "cmd.h"
#include "log.h"
#include "san.h"
#include "serve.h"

#define EXIT_USAGE     2
#define LISTEN_DEFAULT "127.0.0.1:8080"

struct srv {
    uv_loop_t loop;
    struct serve *s;
    uv_signal_t sigint, sigterm;
    int signals;
};

static void usage(FILE *f)
{
    fputs("Usage: wsmon serve [OPTIONS]\n"
          "A diagnostic WebSocket server: put it behind your load balancer or proxy\n"
          "to check it, or point wsmon at it. Each path behaves one way, good or bad.\n"
          "\n"
          "Options:\n"
          "      --listen ADDR:PORT  listen on this numeric address only (default\n"
          "                          " LISTEN_DEFAULT "; IPv6 as [::1]:8080; port 0 picks\n"
          "                          a free port)\n"
          "      --tls-cert FILE     PEM certificate (chain): serve wss://\n"
          "      --tls-key FILE      PEM private key of that certificate\n"
          "  -v, --verbose           libwebsockets' own diagnostics on stderr\n"
          "  -h, --help              this help\n"
          "  -V, --version           version\n"
          "\n"
          "Paths, WebSocket unless marked HTTP. A bad number or an unknown query\n"
          "parameter gets HTTP 400 and the reason, before any upgrade; MS at most\n"
          "86400000.\n"
          "  /echo          sends the text message \"test\" right after open, then\n"
          "                 echoes every message (text as text, binary as binary;\n"
          "                 over 1 MiB: close 1009)\n"
          "  /close/CODE?after=MS&reason=TEXT\n"
          "                 MS ms after open (default 0), closes with CODE\n"
          "                 (1000-4999) and TEXT (URL-encoded UTF-8, cut to 123\n"
          "                 bytes). 1004-1006, 1015 and 1016-2999 are sent as asked\n"
          "                 though not valid on the wire: strict clients fail them\n"
          "                 with 1002\n"
          "  /drop?after=MS&rst=1\n"
          "                 MS ms after open (default 0), closes the TCP connection\n"
          "                 with no close frame (the browser's 1006): a FIN, or with\n"
          "                 rst=1 an RST\n"
          "  /idle/SECS     closes the TCP connection with no close frame once SECS\n"
          "                 (1-86400) pass without a message from the client, like a\n"
          "                 load balancer's idle timeout. Only data messages count:\n"
          "                 the server is not told of pings, so pings do not keep it\n"
          "                 open (a real load balancer counts them)\n"
          "  /stream?every=MS&size=BYTES\n"
          "                 sends a binary message of BYTES (default 320, 0-65536)\n"
          "                 every MS ms (default 20, at least 1), like an audio\n"
          "                 stream; from 8 bytes on it starts with a big-endian\n"
          "                 64-bit counter. A reader 50 messages behind makes it\n"
          "                 skip ticks (counted in the close line)\n"
          "  /reject/STATUS HTTP: answers the upgrade with STATUS (100-599 except\n"
          "                 101) and a short text body (none for 1xx, 204, 304),\n"
          "                 then closes\n"
          "  /health        HTTP: 200 \"ok\" (any query is ignored)\n"
          "  anything else  HTTP: 404\n"
          "A WebSocket path asked for without an upgrade gets HTTP 426.\n"
          "\n"
          "Output: the line 'wsmon serve: listening on ws://ADDR:PORT' (wss:// with\n"
          "TLS), then one line per connection: when it opens (path, peer), when it\n"
          "closes (code, reason, who closed, messages in and out), and each HTTP\n"
          "answer. SIGINT or SIGTERM sends 1001 to open connections, waits up to a\n"
          "second for their answers, and exits; a second signal exits at once.\n"
          "Exit status: 0 after SIGINT/SIGTERM, 1 cannot listen, 2 usage or\n"
          "configuration error.\n",
          f);
}

/* Show an argument in a message without letting control characters reach the terminal. */
static const char *safe(const char *s, char *buf, size_t len)
{
    san_term(s, strlen(s), buf, len);
    return buf;
}

/* "ADDR:PORT" or "[ADDR6]:PORT" into addr (no brackets) and port. 0 or -EINVAL with the reason
 * in err. */
static int parse_listen(const char *arg, char *addr, size_t addrlen, int *port, char *err,
                        size_t errlen)
{
    const char *colon, *p;
    unsigned char buf[sizeof(struct in6_addr)];
    char sb[64];
    bool bracketed = arg[0] == '[';
    size_t n;
    long v = 0;

    if (bracketed) {
        const char *close = strchr(arg, ']');
        if (!close || close[1] != ':') {
            snprintf(err, errlen, "an IPv6 address goes in brackets: [::1]:8080");
            return -EINVAL;
        }
        n = (size_t)(close - arg - 1);
        colon = close + 1;
        arg++;
    } else {
        colon = strrchr(arg, ':');
        if (!colon) {
            snprintf(err, errlen, "expected ADDR:PORT, such as %s", LISTEN_DEFAULT);
            return -EINVAL;
        }
        if (memchr(arg, ':', (size_t)(colon - arg))) {
            snprintf(err, errlen, "an IPv6 address goes in brackets: [::1]:8080");
            return -EINVAL;
        }
        n = (size_t)(colon - arg);
    }
    if (n == 0) {
        snprintf(err, errlen, "the address is missing: expected ADDR:PORT, such as %s",
                 LISTEN_DEFAULT);
        return -EINVAL;
    }
    if (n >= addrlen) {
        snprintf(err, errlen, "the address is too long");
        return -EINVAL;
    }
    memcpy(addr, arg, n);
    addr[n] = '\0';
    if (inet_pton(bracketed ? AF_INET6 : AF_INET, addr, buf) != 1) {
        snprintf(err, errlen, "'%s' is not a numeric %s address (such as %s)",
                 safe(addr, sb, sizeof(sb)), bracketed ? "IPv6" : "IPv4",
                 bracketed ? "[::1]:8080" : LISTEN_DEFAULT);
        return -EINVAL;
    }
    p = colon + 1;
    if (!*p) {
        snprintf(err, errlen, "the port is missing: expected ADDR:PORT, such as %s",
                 LISTEN_DEFAULT);
        return -EINVAL;
    }
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || v > 65535) {
            snprintf(err, errlen, "the port must be a number from 0 to 65535");
            return -EINVAL;
        }
        v = v * 10 + (*p - '0');
    }
    if (v > 65535) {
        snprintf(err, errlen, "the port must be a number from 0 to 65535");
        return -EINVAL;
    }
    *port = (int)v;
    return 0;
}

static void on_line(void *ud, const char *line)
{
    struct timespec ts;
    struct tm tm;

    (void)ud;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    printf("%02d:%02d:%02d.%03ld %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
           line);
    fflush(stdout);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct srv *v = h->data;

    if (v->signals++ == 0) {
        fprintf(stderr, "wsmon serve: %s, shutting down\n",
                signum == SIGINT ? "SIGINT" : "SIGTERM");
        /* the signal handles stay, unreferenced, so a second signal can hurry the end without
         * keeping the loop alive */
        uv_unref((uv_handle_t *)&v->sigint);
        uv_unref((uv_handle_t *)&v->sigterm);
    }
    serve_shutdown(v->s);
}

int cmd_serve(int argc, char **argv)
{
    enum { OPT_LISTEN = 256, OPT_TLS_CERT, OPT_TLS_KEY };
    static const struct option opts[] = {
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
        {"tls-key", required_argument, NULL, OPT_TLS_KEY},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct serve_opts so;
    struct srv v;
    const char *listen = LISTEN_DEFAULT;
    char addr[128], err[512], sb[256];
    int opt, port = 0, verbose = 0, rc;

    memset(&so, 0, sizeof(so));
    memset(&v, 0, sizeof(v));
    opterr = 0; /* our own messages, named "wsmon serve" */
    optind = 0;
    while ((opt = getopt_long(argc, argv, "+:vhV", opts, NULL)) != -1) {
        switch (opt) {
        case OPT_LISTEN:
            listen = optarg;
            break;
        case OPT_TLS_CERT:
            so.tls_cert = optarg;
            break;
        case OPT_TLS_KEY:
            so.tls_key = optarg;
            break;
        case 'v':
            verbose++;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("wsmon %s\n", PACKAGE_VERSION);
            return 0;
        case ':':
            fprintf(stderr, "wsmon serve: option '%s' needs a value\nTry 'wsmon serve --help'.\n",
                    safe(argv[optind - 1], sb, sizeof(sb)));
            return EXIT_USAGE;
        default:
            if (optopt && optopt < 256)
                snprintf(addr, sizeof(addr), "-%c", optopt);
            else
                safe(argv[optind - 1], addr, sizeof(addr));
            fprintf(stderr, "wsmon serve: unknown option '%s'\nTry 'wsmon serve --help'.\n",
                    safe(addr, sb, sizeof(sb)));
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "wsmon serve: unexpected argument '%s'\nTry 'wsmon serve --help'.\n",
                safe(argv[optind], sb, sizeof(sb)));
        return EXIT_USAGE;
    }
    if (parse_listen(listen, addr, sizeof(addr), &port, err, sizeof(err)) < 0) {
        fprintf(stderr, "wsmon serve: --listen '%s': %s\nTry 'wsmon serve --help'.\n",
                safe(listen, sb, sizeof(sb)), err);
        return EXIT_USAGE;
    }
    if (!so.tls_cert != !so.tls_key) {
        fprintf(stderr, "wsmon serve: %s needs %s too\nTry 'wsmon serve --help'.\n",
                so.tls_cert ? "--tls-cert" : "--tls-key", so.tls_cert ? "--tls-key" : "--tls-cert");
        return EXIT_USAGE;
    }
    if ((so.tls_cert && !*so.tls_cert) || (so.tls_key && !*so.tls_key)) {
        fprintf(stderr, "wsmon serve: --tls-cert and --tls-key want file names\n");
        return EXIT_USAGE;
    }
    log_set_level(verbose ? LOG_DEBUG : LOG_WARN);
    so.addr = addr;
    so.port = port;
    so.log = on_line;

    rc = uv_loop_init(&v.loop);
    if (rc < 0) {
        fprintf(stderr, "wsmon serve: cannot start the event loop: %s\n", uv_strerror(rc));
        return 1;
    }
    v.s = serve_new(&v.loop, &so, err, sizeof(err));
    if (!v.s) {
        int usage_err = errno == EINVAL;
        fprintf(stderr, "wsmon serve: %s\n", err);
        uv_run(&v.loop, UV_RUN_DEFAULT); /* lets anything lws opened close */
        uv_loop_close(&v.loop);
        return usage_err ? EXIT_USAGE : 1;
    }
    /* the signals are ours before anyone can read the port and send one */
    uv_signal_init(&v.loop, &v.sigint);
    uv_signal_init(&v.loop, &v.sigterm);
    v.sigint.data = &v;
    v.sigterm.data = &v;
    uv_signal_start(&v.sigint, on_signal, SIGINT);
    uv_signal_start(&v.sigterm, on_signal, SIGTERM);
    printf("wsmon serve: listening on %s\n", serve_url(v.s));
    fflush(stdout);

    uv_run(&v.loop, UV_RUN_DEFAULT); /* until serve_shutdown() has closed everything */

    uv_close((uv_handle_t *)&v.sigint, NULL);
    uv_close((uv_handle_t *)&v.sigterm, NULL);
    uv_run(&v.loop, UV_RUN_DEFAULT);
    serve_free(v.s);
    rc = uv_loop_close(&v.loop);
    if (rc < 0)
        log_warn("wsmon serve: event loop not empty at exit: %s", uv_strerror(rc));
    return 0;
}
