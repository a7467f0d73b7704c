/* SPDX-License-Identifier: MIT */
/* Make text from the network safe to put on a terminal. */
#ifndef WSMON_SRC_SAN_H
#define WSMON_SRC_SAN_H

#include <stddef.h>
#include <stdint.h>

/* Copy n bytes of s into out (size outlen, always NUL-terminated when outlen > 0), showing
 * control characters as escapes that cannot act on a terminal: \n \r \t \e and \xNN for the
 * other C0 bytes and DEL, \u{NN} for C1 controls (U+0080-U+009F), \xNN for each byte of
 * invalid UTF-8; a backslash becomes \\. Valid printable UTF-8 is kept. Output that does not
 * fit is cut at a character boundary and ends in "...". Returns strlen(out). */
size_t san_term(const char *s, size_t n, char *out, size_t outlen);

/* Length (1-4) of the well-formed UTF-8 sequence at the start of s (n > 0 bytes), storing its
 * code point in *cp; 0 when the first byte does not begin one (overlong, surrogate, above
 * U+10FFFF, truncated, stray continuation byte). Shared by the terminal and JSON writers. */
size_t san_utf8_decode(const char *s, size_t n, uint32_t *cp);

#endif
