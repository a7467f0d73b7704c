/* SPDX-License-Identifier: MIT */
/* The live dashboard (wsmon watch): owns the terminal, reads keys, redraws from the monitor. */
#ifndef WSMON_UI_TUI_H
#define WSMON_UI_TUI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct mon;
struct tui;

struct tui_opts {
    int color;         /* -1 auto (has_colors() and NO_COLOR unset or empty), 0 never, 1 when
                          the terminal has colours */
    int ascii;         /* -1 auto (ASCII unless the locale's codeset is UTF-8), 0 UTF-8, 1 ASCII */
    bool utc;          /* times of day in UTC (default: local time) */
    bool show_secrets; /* URLs unmasked (--show-secrets) */
    bool no_mouse;     /* do not ask the terminal for mouse events */
    bool no_signals;   /* do not watch SIGINT and SIGTERM (the owner routes them to tui_quit) */
    /* Called once when the user quits (q), on SIGINT/SIGTERM (unless no_signals), when the
     * terminal goes away, or from tui_quit(); the screen is already ended. The owner stops the
     * monitor (mon_close_all, then mon_shutdown) so that the loop can end. */
    void (*on_quit)(void *ud);
    /* h: the history review screen (timelines, outages, attempts) on the database history_db
     * (NULL: store_default_path()), read through a read-only connection of its own, off the
     * loop thread. Without history: on_history if set, else a message. */
    bool history;
    const char *history_db;
    void (*on_history)(void *ud, uint32_t ep);
    /* A replay's clock instead of the real ones: the model's times are then wall-clock
     * microseconds, and mono_us = wall_us = the replay's time. NULL: the real clocks. */
    void (*clock)(void *ud, int64_t *mono_us, int64_t *wall_us);
    /* The owner's keys, before the dashboard's (not in the help, a prompt or the review
     * screen): ch is a character, not a KEY_ code. true when taken. */
    bool (*on_key)(void *ud, int ch);
    /* The replay's state for the header (vm_in.replay); NULL: live. */
    const char *(*status)(void *ud);
    void *ud;
};

/* Take over the terminal on stdin/stdout (which must both be one) for monitor mn, on loop:
 * curses screen, stdin as a uv_poll_t, SIGWINCH (and SIGINT, SIGTERM, SIGTSTP) as uv_signal_t, a
 * 100 ms redraw timer, and a sink on mn (mon_add_sink: call this before mon_start). NULL with
 * a reason in err (not a terminal: "wsmon watch needs a terminal; use wsmon record"; an unknown
 * TERM), the terminal untouched. */
struct tui *tui_new(uv_loop_t *loop, struct mon *mn, const struct tui_opts *o, char *err,
                    size_t errlen);

/* End the screen (endwin: the terminal is left as it was), close the tui's loop handles and call
 * on_quit once. Idempotent; safe from any loop callback (the owner's SIGINT handler...). */
void tui_quit(struct tui *t);

/* A line shown in the footer until cleared with NULL (a failing database...). Copied. */
void tui_banner(struct tui *t, const char *text);
/* A message in the footer for a few seconds. Copied. */
void tui_message(struct tui *t, const char *text);
/* Redraw at the next tick (the owner's state changed: a replay's clock). */
void tui_dirty(struct tui *t);
/* Show monitor mn from now on (a replay that started again on a new model): a sink is added to
 * it; the old monitor must send no more events and may be freed once the loop turned. */
void tui_set_mon(struct tui *t, struct mon *mn);

/* Free it. The monitor must send no more events (mon_shutdown or mon_free first). Call after
 * uv_run() returned, or run the loop once more: the handles close through the loop, and the
 * memory goes with the last of them. The screen is ended if it was not. NULL is a no-op. */
void tui_free(struct tui *t);

#endif
