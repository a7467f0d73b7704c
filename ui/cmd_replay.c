/* SPDX-License-Identifier: MIT */
/* wsmon watch --replay: being written. */
#include "config.h"

#include <stdio.h>

#include "cli.h"
#include "cmd.h"

int cmd_replay(struct cli *c)
{
    (void)c;
    fprintf(stderr, "wsmon watch: --replay is not available in this version yet\n");
    return CLI_EXIT_USAGE;
}
