/* SPDX-License-Identifier: MIT */
#ifndef WSMON_SRC_SERVE_H
#define WSMON_SRC_SERVE_H
#endif
