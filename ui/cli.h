/* SPDX-License-Identifier: MIT */
/* The command line: commands, options, help. */
#ifndef WSMON_UI_CLI_H
#define WSMON_UI_CLI_H
#endif
