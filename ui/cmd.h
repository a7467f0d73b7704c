/* SPDX-License-Identifier: MIT */
/* Command entry points: each returns the process exit status. */
#ifndef WSMON_UI_CMD_H
#define WSMON_UI_CMD_H

#include <stdbool.h>
#include <stdint.h>

struct cli;

int cmd_probe(struct cli *c);
int cmd_record(struct cli *c);
int cmd_watch(struct cli *c);
int cmd_demo(struct cli *c);
/* wsmon watch --replay [--db PATH] [--since T] [--until T]: stored history through the
 * model and the dashboard (ui/cmd_replay.c). */
int cmd_replay(struct cli *c);

struct store;
struct cfg;
/* The history database of a monitoring command (--db, --no-db, --retain): NULL when not
 * recording, with a warning on stderr when it cannot be used. by_default: record without
 * --db (watch, record) or only with it (probe). */
struct store *cmd_store_open(const struct cli *c, bool by_default);
/* store_set_endpoint/store_set_policy for every endpoint, named by name(ctx, ep). */
void cmd_store_describe(struct store *st, const struct cfg *cfg,
                        const char *(*name)(const void *ctx, uint32_t ep), const void *ctx);
/* wsmon serve: parses its own options from argv (argv[0] is "serve"). */
int cmd_serve(int argc, char **argv);

#endif
