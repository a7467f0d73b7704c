/* SPDX-License-Identifier: MIT */
/* The one place that includes curses: ncursesw's wide-character API. */
#ifndef WSMON_UI_WCURSES_H
#define WSMON_UI_WCURSES_H

#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#include <curses.h>

#endif
