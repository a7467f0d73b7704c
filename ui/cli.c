/* SPDX-License-Identifier: MIT */
/* placeholder: being written */
#include "config.h"
extern int wsmon_placeholder_cli;
