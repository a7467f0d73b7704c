/* SPDX-License-Identifier: MIT */
/* wsmon: the composition root. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "cmd_history.h"

int main(int argc, char **argv)
{
    struct cli c;
    int rc;

    if (argc > 1 && !strcmp(argv[1], "serve"))
        return cmd_serve(argc - 1, argv + 1);
    if (argc > 1 && !strcmp(argv[1], "history"))
        return cmd_history(argc - 1, argv + 1);
    if (argc > 1 && !strcmp(argv[1], "mark"))
        return cmd_mark(argc - 1, argv + 1);
    rc = cli_parse(&c, argc, argv, stdout, stderr);

    if (rc < 0) {
        switch (c.cmd) {
        case CLI_PROBE:
            rc = cmd_probe(&c);
            break;
        case CLI_RECORD:
            rc = cmd_record(&c);
            break;
        case CLI_WATCH:
            rc = c.replay ? cmd_replay(&c) : cmd_watch(&c);
            break;
        case CLI_DEMO:
            rc = cmd_demo(&c);
            break;
        default:
            rc = CLI_EXIT_USAGE;
            break;
        }
    }
    cli_fini(&c);
    return rc;
}
