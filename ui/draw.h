/* SPDX-License-Identifier: MIT */
/* Paints the view model's screens with curses, only the lines that changed. */
#ifndef WSMON_UI_DRAW_H
#define WSMON_UI_DRAW_H

#include <stdbool.h>

struct draw;
struct vm_screen;

/* After the curses screen exists. color: use colour pairs (the caller decided: the terminal has
 * colours and NO_COLOR is unset); otherwise bold, underline, dim and reverse. Never NULL. */
struct draw *draw_new(bool color);
void draw_free(struct draw *d);
/* Forget what the terminal shows: the next draw_screen() repaints it all (resize, Ctrl-L). */
void draw_invalidate(struct draw *d);
/* Paint the lines of s that changed since the last call, place or hide the cursor, and send it
 * to the terminal (doupdate). */
void draw_screen(struct draw *d, const struct vm_screen *s);

#endif
