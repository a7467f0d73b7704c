/* SPDX-License-Identifier: MIT */
/* wsmon history and wsmon mark: query the recorded history, add an operator marker. */
#ifndef WSMON_UI_CMD_HISTORY_H
#define WSMON_UI_CMD_HISTORY_H

/* wsmon history [summary|outages|attempts|events|markers] [--db PATH] [--since T] [--until T]
 * [--endpoint NAME] [--class CLASS] [--format table|csv|json]. argv[0] is "history"; parses
 * its own options. Rows on stdout, errors on stderr. Returns the exit status: 0, 1 (the
 * database cannot be read) or 2 (usage). */
int cmd_history(int argc, char **argv);

/* wsmon mark [--db PATH] [--endpoint NAME] TEXT...: insert a marker into the database now,
 * beside a recorder that may be writing to it. argv[0] is "mark". 0, 1 or 2 as above. */
int cmd_mark(int argc, char **argv);

#endif
