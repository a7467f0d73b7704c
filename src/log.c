/* SPDX-License-Identifier: MIT */
/* Diagnostics to stderr or a sink. */
#include "config.h"

#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static enum log_level level = LOG_WARN;
static void (*sink)(enum log_level, const char *, void *);
static void *sink_ud;

void log_set_level(enum log_level lvl)
{
    level = lvl;
}

enum log_level log_get_level(void)
{
    return level;
}

void log_set_sink(void (*fn)(enum log_level lvl, const char *msg, void *ud), void *ud)
{
    sink = fn;
    sink_ud = ud;
}

static void vlog(enum log_level lvl, const char *fmt, va_list ap)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    char msg[1024];

    if (lvl > level)
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (sink) {
        sink(lvl, msg, sink_ud);
        return;
    }
    fprintf(stderr, "wsmon: %s: %s\n", names[lvl], msg);
}

#define LOG_FN(name, lvl)                                                                          \
    void name(const char *fmt, ...)                                                                \
    {                                                                                              \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        vlog(lvl, fmt, ap);                                                                        \
        va_end(ap);                                                                                \
    }

LOG_FN(log_err, LOG_ERR)
LOG_FN(log_warn, LOG_WARN)
LOG_FN(log_info, LOG_INFO)
LOG_FN(log_debug, LOG_DEBUG)
