/* SPDX-License-Identifier: MIT */
/* Diagnostics to stderr (never to the terminal screen while curses runs). */
#ifndef WSMON_SRC_LOG_H
#define WSMON_SRC_LOG_H

enum log_level { LOG_ERR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Messages above this level are dropped. Default LOG_WARN. */
void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
/* Send messages to fn instead of stderr (the dashboard shows them in its status line). */
void log_set_sink(void (*fn)(enum log_level lvl, const char *msg, void *ud), void *ud);

void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
