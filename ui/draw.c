/* SPDX-License-Identifier: MIT */
/* Paints the view model's screens with curses, only the lines that changed. */
#include "config.h"

#include "draw.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vm.h"
#include "wcurses.h"
#include "xmem.h"

struct draw {
    bool color;
    attr_t attr[VM_STYLE_COUNT];
    uint64_t *hash; /* of each line as last painted; 0 = unknown */
    int w, h;
    int cursor; /* last curs_set() value, -1 unknown */
};

enum { PAIR_OK = 1, PAIR_WARN, PAIR_BAD, PAIR_DIM, PAIR_KEY, PAIR_TITLE };

struct draw *draw_new(bool color)
{
    struct draw *d = xcalloc(1, sizeof(*d));

    d->color = color;
    d->cursor = -1;
    if (color) {
        /* on the terminal's own background (use_default_colors() was called) */
        init_pair(PAIR_OK, COLOR_GREEN, -1);
        init_pair(PAIR_WARN, COLOR_YELLOW, -1);
        init_pair(PAIR_BAD, COLOR_RED, -1);
        init_pair(PAIR_DIM, COLORS >= 16 ? 8 : COLOR_BLUE, -1);
        init_pair(PAIR_KEY, COLOR_CYAN, -1);
        init_pair(PAIR_TITLE, COLOR_CYAN, -1);
        d->attr[VM_NORMAL] = A_NORMAL;
        d->attr[VM_OK] = COLOR_PAIR(PAIR_OK);
        d->attr[VM_WARN] = COLOR_PAIR(PAIR_WARN);
        d->attr[VM_BAD] = COLOR_PAIR(PAIR_BAD) | A_BOLD;
        d->attr[VM_DIM] = COLORS >= 16 ? COLOR_PAIR(PAIR_DIM) : A_DIM;
        d->attr[VM_TITLE] = COLOR_PAIR(PAIR_TITLE) | A_BOLD;
        d->attr[VM_HEAD] = A_BOLD;
        d->attr[VM_KEY] = COLOR_PAIR(PAIR_KEY) | A_BOLD;
        d->attr[VM_SEL] = A_REVERSE;
    } else {
        d->attr[VM_NORMAL] = A_NORMAL;
        d->attr[VM_OK] = A_NORMAL;
        d->attr[VM_WARN] = A_UNDERLINE;
        d->attr[VM_BAD] = A_BOLD;
        d->attr[VM_DIM] = A_DIM;
        d->attr[VM_TITLE] = A_BOLD;
        d->attr[VM_HEAD] = A_UNDERLINE;
        d->attr[VM_KEY] = A_BOLD;
        d->attr[VM_SEL] = A_REVERSE;
    }
    return d;
}

void draw_free(struct draw *d)
{
    if (!d)
        return;
    free(d->hash);
    free(d);
}

void draw_invalidate(struct draw *d)
{
    if (d->hash)
        memset(d->hash, 0, (size_t)d->h * sizeof(*d->hash));
    clearok(curscr, TRUE);
}

/* FNV-1a over what a line shows; never 0. */
static uint64_t line_hash(const struct vm_line *l)
{
    uint64_t h = 1469598103934665603ULL;
    const unsigned char *p = (const unsigned char *)l->text;

    for (size_t i = 0; i < l->used; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    for (int i = 0; i < l->n; i++) {
        const struct vm_span *s = &l->span[i];
        uint64_t k = (uint64_t)s->x << 32 | (uint64_t)s->len << 16 | (uint64_t)s->style;

        h = (h ^ k) * 1099511628211ULL;
    }
    h = (h ^ (l->reverse ? 0x5a : 0xa5)) * 1099511628211ULL;
    return h ? h : 1;
}

static void paint_line(const struct draw *d, int y, int w, const struct vm_line *l)
{
    attr_t base = l->reverse ? A_REVERSE : A_NORMAL;

    attrset(base);
    if (l->reverse)
        mvhline(y, 0, ' ' | A_REVERSE, w);
    else {
        move(y, 0);
        clrtoeol();
    }
    for (int i = 0; i < l->n; i++) {
        const struct vm_span *s = &l->span[i];
        attr_t a = d->attr[s->style];

        /* on the selection bar, colours would fight the reverse video: keep bold only */
        if (l->reverse)
            a &= A_BOLD | A_REVERSE;
        attrset(base | a);
        mvaddnstr(y, s->x, l->text + s->off, s->len);
    }
    attrset(A_NORMAL);
}

void draw_screen(struct draw *d, const struct vm_screen *s)
{
    int want;

    if (s->w != d->w || s->h != d->h) {
        free(d->hash);
        d->hash = xcalloc((size_t)(s->h > 0 ? s->h : 1), sizeof(*d->hash));
        d->w = s->w;
        d->h = s->h;
        clearok(curscr, TRUE);
    }
    for (int y = 0; y < s->h; y++) {
        uint64_t h = line_hash(&s->line[y]);

        if (h == d->hash[y])
            continue;
        paint_line(d, y, s->w, &s->line[y]);
        d->hash[y] = h;
    }
    want = s->cursor_y >= 0 ? 1 : 0;
    if (want != d->cursor) {
        curs_set(want);
        d->cursor = want;
    }
    leaveok(stdscr, want ? FALSE : TRUE);
    if (want)
        move(s->cursor_y, s->cursor_x);
    wnoutrefresh(stdscr);
    doupdate();
}
