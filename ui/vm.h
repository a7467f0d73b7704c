/* SPDX-License-Identifier: MIT */
/* The dashboard's view model: every line the screen shows, built from the model without curses. */
#ifndef WSMON_UI_VM_H
#define WSMON_UI_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cfg;
struct evt;
struct model;
struct vm;

/* Semantic styles; draw maps them to colour pairs, or to bold/underline/dim without colours. */
enum vm_style {
    VM_NORMAL = 0,
    VM_OK,    /* open, healthy */
    VM_WARN,  /* connecting, closing, a close worth a look */
    VM_BAD,   /* failed, closed abnormally */
    VM_DIM,   /* secondary text */
    VM_TITLE, /* the status line at the top */
    VM_HEAD,  /* column titles, section titles */
    VM_KEY,   /* key names in the footer and help */
    VM_SEL,   /* a selected item inside a line (reverse video) */
    VM_STYLE_COUNT
};

/* Table columns, in their left-to-right order. */
enum vm_col {
    VM_COL_NAME,
    VM_COL_STATE,  /* readyState: "OPEN 1" */
    VM_COL_CLASS,  /* diagnosis class */
    VM_COL_TIME,   /* time in state */
    VM_COL_RTT,    /* last/median, ms */
    VM_COL_SPARK,  /* RTT sparkline */
    VM_COL_MSGS,   /* messages in/out */
    VM_COL_RATE,   /* messages per second in/out */
    VM_COL_CODE,   /* last close code */
    VM_COL_REASON, /* last close reason, else the cause */
    VM_COL_RECON,  /* reconnects */
    VM_COL_HEALTH, /* --health status */
    VM_COL_COUNT
};

enum vm_sort { VM_SORT_NAME, VM_SORT_STATE, VM_SORT_RTT, VM_SORT_RECON, VM_SORT_COUNT };
enum vm_view { VM_VIEW_MAIN, VM_VIEW_DETAIL, VM_VIEW_HELP };
enum vm_pane { VM_PANE_TABLE, VM_PANE_LOG };

#define VM_MIN_W     60 /* smaller terminals get a message instead of the dashboard */
#define VM_MIN_H     15
#define VM_MAX_W     400 /* wider terminals are drawn in their first VM_MAX_W columns */
#define VM_MAX_H     300
#define VM_CELL_MAX  256  /* bytes of a cell, NUL included */
#define VM_LINE_MAX  1700 /* bytes of a screen line (VM_MAX_W columns of UTF-8), NUL included */
#define VM_SPANS     64
#define VM_INPUT_MAX 128 /* bytes of a prompt's text (= EVT_MARK_MAX) */

/* What the view model reads, all borrowed; the clocks are passed in, never read. */
struct vm_in {
    const struct model *m;
    const struct cfg *cfg;    /* cfg->eps[i] is endpoint i (URL, group, via, ping...); may be
                                 NULL */
    const char *const *names; /* display name of endpoint i, raw (sanitised here); NULL, or a
                                 NULL entry: the config section name, else the URL's host */
    int64_t now_mono_us;      /* the clock of evt.t_mono_us (uv_hrtime() / 1000) */
    int64_t now_wall_us;      /* UTC microseconds since the epoch */
    bool paused;              /* mon_paused() */
    const char *banner;       /* shown in the footer (a failing database...); NULL = none */
    /* optional: monotonic us until (ep, conn) tries again, -1 when not waiting (mon_retry_in_us) */
    int64_t (*retry_in_us)(const void *ud, uint32_t ep, uint32_t conn);
    const void *ud;
    /* wsmon watch --replay: the replay's state for the header ("REPLAY x60 14:02:10"); the
     * footer and the help then show the replay's keys. NULL: live. */
    const char *replay;
    /* the real monotonic clock (us) for footer messages when now_mono_us is a replay clock;
     * 0 = now_mono_us */
    int64_t ui_mono_us;
};

struct vm_opts {
    bool ascii;        /* not a UTF-8 locale: ASCII sparkline and bars, no box drawing, other
                          characters shown as '?' */
    bool utc;          /* times of day in UTC (else local time) */
    bool show_secrets; /* URLs as given (else credential-looking query values masked) */
};

/* One cell: sanitised, fitted to its column's width (in terminal columns). */
struct vm_cell {
    char text[VM_CELL_MAX];
    enum vm_style style;
};

/* One table row: an endpoint (conn -1: all its connections) or one connection of it. */
struct vm_row {
    uint32_t ep;
    int conn;
    bool selected;
    struct vm_cell cell[VM_COL_COUNT]; /* columns not in the layout are empty */
};

/* Which columns a width shows, where, and how wide. */
struct vm_layout {
    int width;
    int n;
    struct {
        enum vm_col col;
        int x, w;
        bool right; /* right-aligned (numbers) */
    } c[VM_COL_COUNT];
};

/* A screen line: spans of text placed at columns. text holds the spans' bytes one after the
 * other (no padding); span i is text[off, off + len) drawn at column x, w columns wide.
 * x + w <= the screen width for every span. */
struct vm_span {
    uint16_t off, len;
    uint16_t x, w;
    enum vm_style style;
};

struct vm_line {
    char text[VM_LINE_MAX];
    size_t used; /* bytes of text in use */
    int n;       /* spans */
    struct vm_span span[VM_SPANS];
    bool reverse; /* the selected row: drawn reversed over the whole width */
};

/* A whole screen, as vm_build() leaves it. */
struct vm_screen {
    int w, h;
    struct vm_line *line;   /* h lines */
    int cursor_x, cursor_y; /* the prompt's cursor; -1 = hidden */
};

struct vm *vm_new(const struct vm_opts *o);
void vm_free(struct vm *v);

/* ---- state (keys land here) ------------------------------------------------------------ */

/* Recompute the filtered, sorted list of rows and the message rates from the model. Call once
 * per frame before vm_rows()/vm_build(), and after the model changed shape. */
void vm_update(struct vm *v, const struct vm_in *in);
/* The model just applied e. A caller that says so for every event applied to its model (a
 * sink) lets vm_update() read again only the endpoints those events name, instead of every
 * endpoint each frame; one that never calls it gets the full reading. A new model (another
 * vm_in.m) is read whole once. Endpoint names are taken as fixed for one model. */
void vm_note(struct vm *v, const struct evt *e);

void vm_set_sort(struct vm *v, enum vm_sort s);
enum vm_sort vm_sort(const struct vm *v);
const char *vm_sort_name(enum vm_sort s);
/* The filter of the table (rows whose endpoint name contains it, ignoring ASCII case) or of the
 * log (lines that contain it). "" or NULL = none. Applied at the next vm_update(). */
void vm_set_filter(struct vm *v, enum vm_pane p, const char *text);
const char *vm_filter(const struct vm *v, enum vm_pane p);

void vm_set_view(struct vm *v, enum vm_view view);
enum vm_view vm_view(const struct vm *v);
void vm_set_pane(struct vm *v, enum vm_pane p);
enum vm_pane vm_pane(const struct vm *v);

/* Move by delta lines in what has the focus: the table's selection, the log's scroll, the
 * detail or help text. INT_MIN/INT_MAX go to the start/end. */
void vm_move(struct vm *v, int delta);
/* Move by pages (the height of the focused area at the last vm_build()). */
void vm_page(struct vm *v, int pages);
/* Select a row; false when it is not shown (filtered out, collapsed). */
bool vm_select(struct vm *v, uint32_t ep, int conn);
/* The selected row; false when the table is empty. */
bool vm_selected(const struct vm *v, uint32_t *ep, int *conn);
/* Number of table rows after filtering and expansion. */
size_t vm_nrows(const struct vm *v);
/* Show an endpoint's connections as rows of their own: 1 expand, 0 collapse, -1 toggle. */
void vm_expand(struct vm *v, uint32_t ep, int how);
/* A click at screen line y of the last vm_build(): selects that table row or focuses the log.
 * Returns 1 when a row was selected, 2 for the log, 0 otherwise. */
int vm_click(struct vm *v, int y);
/* Scroll what is under screen line y (wheel): the table or the log. */
void vm_scroll_at(struct vm *v, int y, int delta);

/* A one-line prompt in the footer (label, then text with the cursor at its end); NULL label
 * hides it. */
void vm_prompt(struct vm *v, const char *label, const char *text);
/* A transient message in the footer until the monotonic time until_us; NULL clears it. */
void vm_message(struct vm *v, const char *text, int64_t until_us);

/* ---- building (nothing here reads a clock or touches the terminal) --------------------- */

/* Which columns fit in width, most important first (name, state, class, time in state, RTT,
 * close code, reconnects; then sparkline, messages, rates, health, reason). */
void vm_layout(int width, struct vm_layout *out);
/* The visible window of at most height rows around the selection, formatted for layout l,
 * into out[height]. Only these rows are formatted. Returns how many. */
size_t vm_rows(struct vm *v, const struct vm_in *in, const struct vm_layout *l, int height,
               struct vm_row *out);
/* Lines of the detail view of the selected row (its endpoint; its connection when a
 * connection row is selected, else the first one), for width; at most max into out. Returns
 * how many there are (may exceed max: the rest are not formatted). */
size_t vm_detail(struct vm *v, const struct vm_in *in, int width, struct vm_line *out, size_t max);
/* The event log's lines that pass the log filter, newest last, ending at the log's scroll
 * position: at most max into out, oldest first. Returns how many were written. */
size_t vm_log(struct vm *v, const struct vm_in *in, int width, struct vm_line *out, size_t max);
/* The help view's lines. Returns how many there are. */
size_t vm_help(const struct vm *v, int width, struct vm_line *out, size_t max);
/* The whole screen for the current view at w x h (the too-small message below VM_MIN_W x
 * VM_MIN_H). Borrowed, valid until the next vm_build() or vm_free(). */
const struct vm_screen *vm_build(struct vm *v, const struct vm_in *in, int w, int h);

/* ---- formatting, exported for the tests ------------------------------------------------ */

/* "0.4 ms", "83 ms", "4.1 s", "60.0 s", "12m03s", "3h05m", "4d07h"; "-" when us < 0. */
char *vm_fmt_dur(int64_t us, char *buf, size_t len);
/* Milliseconds without the unit: "0.23", "2.3", "83", "1250"; "-" when us < 0. */
char *vm_fmt_ms(int64_t us, char *buf, size_t len);
/* "CONNECTING 0", "OPEN 1", "CLOSING 2", "CLOSED 3". */
const char *vm_state_name(int ready_state);
/* The last width samples as a sparkline: UTF-8 "▁▂▃▄▅▆▇█" or ASCII "_.-=^", scaled from the
 * smallest to the largest sample shown (all equal: the lowest level). Returns the columns
 * written (min(n, width)). */
int vm_spark(const uint32_t *samples, size_t n, int width, bool ascii, char *out, size_t len);
/* Terminal columns of UTF-8 text (wcwidth; a character it does not know counts 1). */
int vm_text_width(const char *s);
/* A line as plain text: spans placed at their columns with spaces between. Returns buf. */
char *vm_line_plain(const struct vm_line *l, char *buf, size_t len);

/* ---- building lines (for other screens: the history review) ----------------------------- */

/* An empty line. */
void vm_line_clear(struct vm_line *l);
/* Place text at column x of a line width columns wide, in at most max_w columns (cut with an
 * ellipsis). s must already be safe for a terminal (san_term); characters ascii cannot show
 * become '?'. Returns the columns used (0 when no span is left: VM_SPANS). */
int vm_line_put(struct vm_line *l, int width, int x, int max_w, enum vm_style st, const char *s,
                bool ascii);

/* A cursor that fills a vm_line left to right, cutting at its width (shared by the
 * dashboard's and the history review's view models). */
struct vm_lb {
    struct vm_line *l;
    int w, x;
    bool ascii;
};
void vm_lb_init(struct vm_lb *b, struct vm_line *l, int width, bool ascii);
void vm_lb_add(struct vm_lb *b, enum vm_style st, const char *s);
void vm_lb_addf(struct vm_lb *b, enum vm_style st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
