/* SPDX-License-Identifier: MIT */
/* A small JSON writer into a growing buffer: strings escaped, invalid UTF-8 replaced. */
#ifndef WSMON_SRC_JSON_H
#define WSMON_SRC_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json {
    char *buf; /* NUL-terminated */
    size_t len;
    size_t cap;
    int depth;
    bool need_comma[32];
};

void json_init(struct json *j);
void json_fini(struct json *j);
void json_reset(struct json *j);

void json_obj_begin(struct json *j);
void json_obj_end(struct json *j);
void json_arr_begin(struct json *j);
void json_arr_end(struct json *j);
void json_key(struct json *j, const char *key); /* inside an object, before a value */

/* Values. json_str escapes " \\ and every control character (U+0000-U+001F, U+007F as
 * \u007f, U+0080-U+009F), and replaces invalid UTF-8 bytes with U+FFFD. NULL writes null. */
void json_str(struct json *j, const char *s);
void json_strn(struct json *j, const char *s, size_t n);
void json_int(struct json *j, int64_t v);
void json_num(struct json *j, double v, int decimals); /* non-finite writes null */
void json_bool(struct json *j, bool v);
void json_null(struct json *j);
/* Append s as it is, with no comma or escaping: for separators between top-level values
 * (JSON Lines: json_raw(j, "\n")). No comma is ever written between top-level values. */
void json_raw(struct json *j, const char *s);

#endif
