/* SPDX-License-Identifier: MIT */
/* Make text from the network safe to put on a terminal. */
#include "config.h"

#include "san.h"

#include <stdbool.h>
#include <string.h>

size_t san_utf8_decode(const char *s, size_t n, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned char lo = 0x80, hi = 0xbf; /* bounds of the second byte (Unicode table 3-7) */
    size_t len, i;
    uint32_t c;

    if (n == 0)
        return 0;
    if (u[0] < 0x80) {
        *cp = u[0];
        return 1;
    }
    if (u[0] >= 0xc2 && u[0] <= 0xdf) {
        len = 2;
        c = u[0] & 0x1f;
    } else if (u[0] >= 0xe0 && u[0] <= 0xef) {
        len = 3;
        c = u[0] & 0x0f;
        if (u[0] == 0xe0)
            lo = 0xa0; /* overlong */
        else if (u[0] == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
        len = 4;
        c = u[0] & 0x07;
        if (u[0] == 0xf0)
            lo = 0x90; /* overlong */
        else if (u[0] == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        return 0; /* continuation byte, C0/C1 overlong lead, F5-FF */
    }
    if (n < len || u[1] < lo || u[1] > hi)
        return 0;
    c = (c << 6) | (u[1] & 0x3f);
    for (i = 2; i < len; i++) {
        if (u[i] < 0x80 || u[i] > 0xbf)
            return 0;
        c = (c << 6) | (u[i] & 0x3f);
    }
    *cp = c;
    return len;
}

/* The output form of the character (or invalid byte) at s: into piece, returns its length and
 * the number of input bytes it consumes in *used. */
static size_t piece_of(const char *s, size_t n, char piece[8], size_t *used)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b = (unsigned char)s[0];
    uint32_t cp;
    size_t len = san_utf8_decode(s, n, &cp);

    *used = len ? len : 1;
    if (len == 0 || cp < 0x20 || cp == 0x7f) {
        const char *esc = NULL;
        if (len) {
            switch (cp) {
            case '\n':
                esc = "\\n";
                break;
            case '\r':
                esc = "\\r";
                break;
            case '\t':
                esc = "\\t";
                break;
            case 0x1b:
                esc = "\\e";
                break;
            default:
                break;
            }
        }
        if (esc) {
            memcpy(piece, esc, 2);
            return 2;
        }
        piece[0] = '\\';
        piece[1] = 'x';
        piece[2] = hex[b >> 4];
        piece[3] = hex[b & 0xf];
        return 4;
    }
    if (cp == '\\') {
        piece[0] = piece[1] = '\\';
        return 2;
    }
    if (cp >= 0x80 && cp <= 0x9f) {
        memcpy(piece, "\\u{", 3);
        piece[3] = hex[cp >> 4];
        piece[4] = hex[cp & 0xf];
        piece[5] = '}';
        return 6;
    }
    memcpy(piece, s, len);
    return len;
}

size_t san_term(const char *s, size_t n, char *out, size_t outlen)
{
    size_t room, pos = 0, safe = 0, i = 0;
    bool cut = false;

    if (outlen == 0)
        return 0;
    if (!s)
        n = 0;
    room = outlen - 1;
    while (i < n) {
        char piece[8];
        size_t used, plen = piece_of(s + i, n - i, piece, &used);

        if (pos + plen > room) {
            cut = true;
            break;
        }
        memcpy(out + pos, piece, plen);
        pos += plen;
        i += used;
        /* the last boundary that still leaves room for "..." */
        if (room >= 3 && pos <= room - 3)
            safe = pos;
    }
    if (cut) {
        /* whole characters only, then as much of "..." as there is room for */
        pos = safe;
        for (i = 0; i < 3 && pos < room; i++)
            out[pos++] = '.';
    }
    out[pos] = '\0';
    return pos;
}
