/* SPDX-License-Identifier: MIT */
/* A small JSON writer into a growing buffer: strings escaped, invalid UTF-8 replaced. */
#include "config.h"

#include "json.h"

#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "san.h"
#include "xmem.h"

#define JSON_DEPTH_MAX ((int)(sizeof(((struct json *)0)->need_comma) / sizeof(bool)))

static void reserve(struct json *j, size_t n)
{
    size_t want = j->len + n + 1;

    if (want <= j->cap && j->buf)
        return;
    if (j->cap < 64)
        j->cap = 64;
    while (j->cap < want)
        j->cap *= 2;
    j->buf = xrealloc(j->buf, j->cap);
}

static void put(struct json *j, const char *s, size_t n)
{
    reserve(j, n);
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = '\0';
}

static void put_char(struct json *j, char c)
{
    put(j, &c, 1);
}

/* The comma flag of the current level. Levels deeper than the array share its last slot;
 * that stays correct because closing a level sets its parent's flag again (the container
 * just written is a value there). */
static bool *comma_slot(struct json *j)
{
    int d = j->depth < 0 ? 0 : j->depth;
    return &j->need_comma[d < JSON_DEPTH_MAX ? d : JSON_DEPTH_MAX - 1];
}

/* Before any value: a comma if a sibling came before it. json_key clears the flag so that
 * the value after a key gets none. Top-level values are never separated by commas. */
static void value_begin(struct json *j)
{
    bool *c = comma_slot(j);

    if (*c && j->depth > 0)
        put_char(j, ',');
    *c = true;
}

void json_init(struct json *j)
{
    memset(j, 0, sizeof(*j));
    reserve(j, 0);
    j->buf[0] = '\0';
}

void json_fini(struct json *j)
{
    free(j->buf);
    memset(j, 0, sizeof(*j));
}

void json_reset(struct json *j)
{
    reserve(j, 0);
    j->len = 0;
    j->buf[0] = '\0';
    j->depth = 0;
    memset(j->need_comma, 0, sizeof(j->need_comma));
}

static void nest_open(struct json *j, char c)
{
    value_begin(j);
    put_char(j, c);
    j->depth++;
    *comma_slot(j) = false;
}

static void nest_close(struct json *j, char c)
{
    if (j->depth > 0)
        j->depth--;
    put_char(j, c);
    *comma_slot(j) = true;
}

void json_obj_begin(struct json *j)
{
    nest_open(j, '{');
}

void json_obj_end(struct json *j)
{
    nest_close(j, '}');
}

void json_arr_begin(struct json *j)
{
    nest_open(j, '[');
}

void json_arr_end(struct json *j)
{
    nest_close(j, ']');
}

static void put_escaped(struct json *j, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0;

    put_char(j, '"');
    while (i < n) {
        uint32_t cp;
        size_t len = san_utf8_decode(s + i, n - i, &cp);
        char esc[7];

        if (len == 0) {
            put(j, "\\ufffd", 6);
            i++;
            continue;
        }
        switch (cp) {
        case '"':
            put(j, "\\\"", 2);
            break;
        case '\\':
            put(j, "\\\\", 2);
            break;
        case '\n':
            put(j, "\\n", 2);
            break;
        case '\r':
            put(j, "\\r", 2);
            break;
        case '\t':
            put(j, "\\t", 2);
            break;
        case '\b':
            put(j, "\\b", 2);
            break;
        case '\f':
            put(j, "\\f", 2);
            break;
        default:
            if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029) {
                esc[0] = '\\';
                esc[1] = 'u';
                esc[2] = hex[(cp >> 12) & 0xf];
                esc[3] = hex[(cp >> 8) & 0xf];
                esc[4] = hex[(cp >> 4) & 0xf];
                esc[5] = hex[cp & 0xf];
                put(j, esc, 6);
            } else {
                put(j, s + i, len);
            }
            break;
        }
        i += len;
    }
    put_char(j, '"');
}

void json_key(struct json *j, const char *key)
{
    value_begin(j);
    put_escaped(j, key ? key : "", key ? strlen(key) : 0);
    put_char(j, ':');
    /* the value that follows takes no comma */
    *comma_slot(j) = false;
}

void json_str(struct json *j, const char *s)
{
    if (!s) {
        json_null(j);
        return;
    }
    json_strn(j, s, strlen(s));
}

void json_strn(struct json *j, const char *s, size_t n)
{
    if (!s) {
        json_null(j);
        return;
    }
    value_begin(j);
    put_escaped(j, s, n);
}

void json_int(struct json *j, int64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof(b), "%" PRId64, v);

    value_begin(j);
    put(j, b, (size_t)n);
}

void json_num(struct json *j, double v, int decimals)
{
    const char *dp;
    char *b, *at;
    int n;

    if (!isfinite(v)) {
        json_null(j);
        return;
    }
    if (decimals < 0)
        decimals = 0;
    if (decimals > 17)
        decimals = 17;
    n = snprintf(NULL, 0, "%.*f", decimals, v);
    b = xmalloc((size_t)n + 1);
    snprintf(b, (size_t)n + 1, "%.*f", decimals, v);
    /* %f follows LC_NUMERIC, which a program that called setlocale() may have changed */
    dp = localeconv()->decimal_point;
    if (dp && strcmp(dp, ".") != 0 && *dp && (at = strstr(b, dp)) != NULL) {
        size_t dl = strlen(dp);
        *at = '.';
        memmove(at + 1, at + dl, strlen(at + dl) + 1);
    }
    value_begin(j);
    put(j, b, strlen(b));
    free(b);
}

void json_bool(struct json *j, bool v)
{
    value_begin(j);
    if (v)
        put(j, "true", 4);
    else
        put(j, "false", 5);
}

void json_null(struct json *j)
{
    value_begin(j);
    put(j, "null", 4);
}

void json_raw(struct json *j, const char *s)
{
    if (s)
        put(j, s, strlen(s));
}
