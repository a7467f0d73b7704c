/* SPDX-License-Identifier: MIT */
/* Allocation that aborts on out-of-memory: the only implicit fatal error. */
#ifndef WSMON_SRC_XMEM_H
#define WSMON_SRC_XMEM_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s); /* NULL in, NULL out */
char *xstrndup(const char *s, size_t n);
/* Copy src into dst of size n, always NUL-terminated; returns true if it was cut. */
int xstrlcpy(char *dst, const char *src, size_t n);

#endif
