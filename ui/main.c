/* SPDX-License-Identifier: MIT */
/* wsmon: the composition root. */
#include "config.h"
int main(void)
{
    return 0;
}
