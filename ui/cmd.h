/* SPDX-License-Identifier: MIT */
/* Command entry points: each returns the process exit status. */
#ifndef WSMON_UI_CMD_H
#define WSMON_UI_CMD_H

struct cli;

int cmd_probe(struct cli *c);
int cmd_record(struct cli *c);
/* wsmon serve: parses its own options from argv (argv[0] is "serve"). */
int cmd_serve(int argc, char **argv);

#endif
