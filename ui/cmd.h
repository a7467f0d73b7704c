/* SPDX-License-Identifier: MIT */
/* Command entry points. */
#ifndef WSMON_UI_CMD_H
#define WSMON_UI_CMD_H
#endif
