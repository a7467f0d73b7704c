/* SPDX-License-Identifier: MIT */
/* The live dashboard: terminal, keys, signals and redraw timer on the monitor's loop. */
#include "config.h"

#include "tui.h"

#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "cfg.h"
#include "draw.h"
#include "evt.h"
#include "hist.h"
#include "model.h"
#include "mon.h"
#include "review.h"
#include "store.h"
#include "vm.h"
#include "wcurses.h"
#include "xmem.h"

#define TICK_MS          100 /* the redraw timer: at most 10 frames a second */
#define FRAME_MIN_US     (TICK_MS * 1000)
#define MSG_US           2500000 /* how long a footer message stays */
#define DOUBLE_CLICK_US  400000
#define IDLE_WAKEUPS_MAX 20 /* readable with nothing to read this often in a row: hung up */

enum prompt { P_NONE, P_MARK_ALL, P_MARK_EP, P_FILTER };

struct tui {
    uv_loop_t *loop;
    struct mon *mn;
    struct tui_opts o;
    struct vm *vm;
    struct draw *dr;
    SCREEN *scr;
    const char **names;
    size_t n_names;

    uv_poll_t input;
    uv_signal_t sig_winch, sig_int, sig_term, sig_tstp;
    uv_timer_t tick;
    int open_handles;
    bool handles_closing;

    bool curses_on;
    bool quitting, quit_called, free_asked;
    int saved_fl; /* stdin's file status flags before libuv made it non-blocking */

    bool dirty;
    int64_t last_draw_us;
    int64_t last_sec;
    int64_t msg_until_us;
    int idle_wakeups;

    enum prompt prompt;
    enum vm_pane prompt_pane;
    uint32_t prompt_ep;
    char prompt_label[96];
    char input_text[VM_INPUT_MAX];
    char filter_before[VM_INPUT_MAX];

    int64_t click_us;
    uint32_t click_ep;
    int click_conn;

    char banner[256];

    /* the history review screen; its queries run on a worker thread, one at a time, with a
     * read-only connection only the worker touches */
    struct review *rv;
    bool in_review;
    char hist_path[4096]; /* "" when there is no database to review */
    char hist_why[256];   /* why not */
    struct hist *hist;
    uv_work_t work;
    bool work_busy;
    int work_want; /* enum review_action bits waiting for the worker */
    int64_t last_query_us;
    struct {
        int kind; /* RA_QUERY or RA_ATTEMPTS */
        int64_t since, until;
        char *endpoint;
        struct review_data *d;
        struct review_atts *a;
        char err[512];
    } job;
};

/* The screen that is up, for the atexit safety net: whatever way the process ends through
 * exit(), the terminal is given back sane. One dashboard per process. */
static struct tui *active;

static void atexit_endwin(void)
{
    if (active && active->curses_on) {
        endwin();
        fcntl(0, F_SETFL, active->saved_fl);
    }
}

static int64_t mono_us(void)
{
    return (int64_t)(uv_hrtime() / 1000);
}

static int64_t wall_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The clocks the screen shows: the real ones, or the owner's (a replay). */
static void now(const struct tui *t, int64_t *mono, int64_t *wall)
{
    if (t->o.clock) {
        t->o.clock(t->o.ud, mono, wall);
        return;
    }
    *mono = mono_us();
    *wall = wall_us();
}

static int64_t retry_in(const void *ud, uint32_t ep, uint32_t conn)
{
    const struct tui *t = ud;

    return mon_retry_in_us(t->mn, ep, conn);
}

static void fill_in(struct tui *t, struct vm_in *in)
{
    memset(in, 0, sizeof(*in));
    in->m = mon_model(t->mn);
    in->cfg = mon_cfg(t->mn);
    in->names = t->names;
    now(t, &in->now_mono_us, &in->now_wall_us);
    in->ui_mono_us = mono_us();
    in->paused = mon_paused(t->mn);
    in->banner = t->banner[0] ? t->banner : NULL;
    in->retry_in_us = retry_in;
    in->ud = t;
    in->replay = t->o.status ? t->o.status(t->o.ud) : NULL;
}

/* ---- the screen ------------------------------------------------------------------------- */

static void redraw(struct tui *t)
{
    struct vm_in in;
    const struct vm_screen *s;

    if (!t->curses_on)
        return;
    fill_in(t, &in);
    if (t->in_review) {
        s = review_build(t->rv, in.now_wall_us, COLS, LINES);
    } else {
        vm_update(t->vm, &in);
        s = vm_build(t->vm, &in, COLS, LINES);
    }
    draw_screen(t->dr, s);
    t->dirty = false;
    t->last_draw_us = mono_us();
    t->last_sec = in.now_wall_us / 1000000;
}

static void message(struct tui *t, const char *text)
{
    t->msg_until_us = mono_us() + MSG_US;
    vm_message(t->vm, text, t->msg_until_us);
}

static void resize(struct tui *t)
{
    struct winsize ws;

    if (!t->curses_on)
        return;
    /* curses re-reads the size when it comes back from endwin() */
    endwin();
    refresh();
    if (ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0 &&
        (ws.ws_row != LINES || ws.ws_col != COLS))
        resize_term(ws.ws_row, ws.ws_col);
    draw_invalidate(t->dr);
    redraw(t);
}

static void screen_end(struct tui *t)
{
    if (!t->curses_on)
        return;
    t->curses_on = false;
    curs_set(1);
    endwin();
    fflush(stdout);
    fcntl(0, F_SETFL, t->saved_fl);
}

/* ---- handles ---------------------------------------------------------------------------- */

static void job_clear(struct tui *t)
{
    free(t->job.endpoint);
    review_data_free(t->job.d);
    review_atts_free(t->job.a);
    memset(&t->job, 0, sizeof(t->job));
}

static void free_all(struct tui *t)
{
    if (active == t)
        active = NULL;
    job_clear(t);
    review_free(t->rv);
    hist_close(t->hist); /* after the loop: the connection only reads */
    vm_free(t->vm);
    draw_free(t->dr);
    if (t->scr)
        delscreen(t->scr);
    free(t->names);
    free(t);
}

static void on_close(uv_handle_t *h)
{
    struct tui *t = h->data;

    if (--t->open_handles == 0 && t->free_asked && !t->work_busy)
        free_all(t);
}

static void close_one(struct tui *t, uv_handle_t *h)
{
    if (h->loop && !uv_is_closing(h)) {
        h->data = t;
        uv_close(h, on_close);
    }
}

static void close_handles(struct tui *t)
{
    if (t->handles_closing)
        return;
    t->handles_closing = true;
    close_one(t, (uv_handle_t *)&t->input);
    close_one(t, (uv_handle_t *)&t->tick);
    close_one(t, (uv_handle_t *)&t->sig_winch);
    close_one(t, (uv_handle_t *)&t->sig_int);
    close_one(t, (uv_handle_t *)&t->sig_term);
    close_one(t, (uv_handle_t *)&t->sig_tstp);
}

void tui_quit(struct tui *t)
{
    if (!t || t->quitting)
        return;
    t->quitting = true;
    screen_end(t);
    close_handles(t);
    if (!t->quit_called) {
        t->quit_called = true;
        if (t->o.on_quit)
            t->o.on_quit(t->o.ud);
    }
}

void tui_banner(struct tui *t, const char *text)
{
    snprintf(t->banner, sizeof(t->banner), "%s", text ? text : "");
    t->dirty = true;
}

void tui_free(struct tui *t)
{
    if (!t)
        return;
    screen_end(t);
    close_handles(t);
    t->free_asked = true;
    if (t->open_handles == 0 && !t->work_busy)
        free_all(t);
}

void tui_message(struct tui *t, const char *text)
{
    if (!t)
        return;
    t->msg_until_us = mono_us() + MSG_US;
    vm_message(t->vm, text, t->msg_until_us);
    t->dirty = true;
}

void tui_dirty(struct tui *t)
{
    if (t)
        t->dirty = true;
}

static void on_event(void *ud, const struct evt *e, const struct model *m);

void tui_set_mon(struct tui *t, struct mon *mn)
{
    const struct model *m = mon_model(mn);

    t->mn = mn;
    free(t->names);
    t->n_names = m ? m->n_eps : 0;
    t->names = xcalloc(t->n_names + 1, sizeof(*t->names));
    for (size_t i = 0; i < t->n_names; i++)
        t->names[i] = mon_ep_name(mn, (uint32_t)i);
    mon_add_sink(mn, on_event, t);
    t->dirty = true;
}

/* ---- events from the monitor and the loop ---------------------------------------------- */

static void on_event(void *ud, const struct evt *e, const struct model *m)
{
    struct tui *t = ud;

    (void)m;
    vm_note(t->vm, e); /* the next frame reads only the endpoints that changed */
    t->dirty = true;
}

static void review_request(struct tui *t, int what);

static void on_tick(uv_timer_t *h)
{
    struct tui *t = h->data;
    int64_t real = mono_us(), mono, wall;

    if (!t->curses_on)
        return;
    if (t->msg_until_us && real >= t->msg_until_us) {
        t->msg_until_us = 0;
        t->dirty = true;
    }
    /* a review window that ends now is read again now and then */
    if (t->in_review && !t->work_busy && review_following(t->rv) &&
        real - t->last_query_us >= REVIEW_REFRESH_US)
        review_request(t, RA_QUERY);
    /* the clock and the time-in-state columns tick once a second */
    now(t, &mono, &wall);
    if (t->dirty || wall / 1000000 != t->last_sec)
        redraw(t);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct tui *t = h->data;

    switch (signum) {
    case SIGWINCH:
        resize(t);
        break;
    case SIGTSTP:
        /* give the terminal back, stop, and take it again once continued */
        if (!t->curses_on)
            break;
        endwin();
        fflush(stdout);
        fcntl(0, F_SETFL, t->saved_fl);
        kill(getpid(), SIGSTOP);
        refresh();
        resize(t);
        break;
    default:
        tui_quit(t);
        break;
    }
}

/* ---- keys --------------------------------------------------------------------------------- */

static const char *sel_name(struct tui *t, uint32_t *ep_out)
{
    uint32_t ep;

    if (!vm_selected(t->vm, &ep, NULL))
        return NULL;
    if (ep_out)
        *ep_out = ep;
    return mon_ep_name(t->mn, ep);
}

static void prompt_open(struct tui *t, enum prompt p)
{
    char *label = t->prompt_label;
    size_t label_size = sizeof(t->prompt_label);
    uint32_t ep = EVT_EP_NONE;
    const char *name = NULL;

    if (p == P_MARK_EP && !(name = sel_name(t, &ep)))
        p = P_MARK_ALL;
    t->prompt = p;
    t->prompt_ep = ep;
    t->input_text[0] = '\0';
    switch (p) {
    case P_FILTER:
        t->prompt_pane = vm_view(t->vm) == VM_VIEW_MAIN ? vm_pane(t->vm) : VM_PANE_TABLE;
        snprintf(t->filter_before, sizeof(t->filter_before), "%s",
                 vm_filter(t->vm, t->prompt_pane));
        snprintf(t->input_text, sizeof(t->input_text), "%s", t->filter_before);
        snprintf(label, label_size, "%s",
                 t->prompt_pane == VM_PANE_LOG ? "filter events:" : "filter endpoints:");
        break;
    case P_MARK_EP:
        /* the view model sanitises the label */
        snprintf(label, label_size, "marker for %.40s:", name);
        break;
    default:
        snprintf(label, label_size, "marker (all endpoints):");
        break;
    }
    vm_prompt(t->vm, label, t->input_text);
}

static void prompt_close(struct tui *t)
{
    t->prompt = P_NONE;
    vm_prompt(t->vm, NULL, NULL);
}

static void prompt_done(struct tui *t, bool accept)
{
    char msg[VM_INPUT_MAX + 64];

    switch (t->prompt) {
    case P_FILTER:
        if (!accept)
            vm_set_filter(t->vm, t->prompt_pane, t->filter_before);
        break;
    case P_MARK_ALL:
    case P_MARK_EP:
        if (accept && t->input_text[0]) {
            int r = mon_mark(t->mn, t->prompt_ep, t->input_text);

            snprintf(msg, sizeof(msg),
                     r < 0 ? "the marker could not be added (%s)" : "marker added%s",
                     r < 0 ? strerror(-r) : "");
            message(t, msg);
        }
        break;
    default:
        break;
    }
    prompt_close(t);
}

/* Remove the last UTF-8 character of the input. */
static void input_backspace(char *s)
{
    size_t n = strlen(s);

    while (n > 0 && ((unsigned char)s[n - 1] & 0xC0) == 0x80)
        n--;
    if (n > 0)
        n--;
    s[n] = '\0';
}

static void input_add(char *s, size_t size, wint_t ch)
{
    char mb[MB_LEN_MAX];
    mbstate_t ps;
    size_t n, len = strlen(s);

    memset(&ps, 0, sizeof(ps));
    n = wcrtomb(mb, (wchar_t)ch, &ps);
    if (n == (size_t)-1 || len + n + 1 > size)
        return;
    memcpy(s + len, mb, n);
    s[len + n] = '\0';
}

static void prompt_key(struct tui *t, int r, wint_t ch)
{
    if (r == KEY_CODE_YES) {
        switch (ch) {
        case KEY_ENTER:
            prompt_done(t, true);
            return;
        case KEY_BACKSPACE:
        case KEY_DC:
            input_backspace(t->input_text);
            break;
        case KEY_RESIZE:
            resize(t);
            return;
        default:
            return;
        }
    } else {
        switch (ch) {
        case L'\n':
        case L'\r':
            prompt_done(t, true);
            return;
        case 27: /* Esc */
        case 7:  /* Ctrl-G */
            prompt_done(t, false);
            return;
        case 8:
        case 127:
            input_backspace(t->input_text);
            break;
        case 21: /* Ctrl-U */
            t->input_text[0] = '\0';
            break;
        default:
            if (ch < 0x20 || ch == 0x7f || (ch >= 0x80 && ch < 0xa0))
                return;
            input_add(t->input_text, sizeof(t->input_text), ch);
            break;
        }
    }
    if (t->prompt == P_FILTER)
        vm_set_filter(t->vm, t->prompt_pane, t->input_text); /* live */
    vm_prompt(t->vm, t->prompt_label, t->input_text);
}

static void reconnect(struct tui *t)
{
    uint32_t ep;
    const char *name = sel_name(t, &ep);
    char msg[160];
    int r;

    if (!name)
        return;
    r = mon_reconnect(t->mn, ep);
    if (r < 0)
        snprintf(msg, sizeof(msg), "cannot reconnect: %s", strerror(-r));
    else
        snprintf(msg, sizeof(msg), "reconnecting %.100s", name);
    message(t, msg);
}

static void toggle_pause(struct tui *t)
{
    bool p = !mon_paused(t->mn);

    mon_pause(t->mn, p);
    message(t, p ? "paused: no new attempts, no pings (p resumes)" : "resumed");
}

static void cycle_sort(struct tui *t)
{
    char msg[64];
    enum vm_sort s = (enum vm_sort)((vm_sort(t->vm) + 1) % VM_SORT_COUNT);

    vm_set_sort(t->vm, s);
    snprintf(msg, sizeof(msg), "sort by %s", vm_sort_name(s));
    message(t, msg);
}

/* ---- the history review ------------------------------------------------------------------ */

/* Worker thread: the query of t->job, on the worker's own connection. Touches nothing else. */
static void work_run(uv_work_t *w)
{
    struct tui *t = w->data;

    if (!t->hist) {
        t->hist = hist_open(t->hist_path, t->job.err, sizeof(t->job.err));
        if (!t->hist)
            return;
        t->job.err[0] = '\0'; /* a newer schema is read anyway */
    }
    if (t->job.kind == RA_QUERY)
        t->job.d = review_load(t->hist, t->job.since, t->job.until);
    else
        t->job.a = review_load_attempts(t->hist, t->job.endpoint, t->job.since, t->job.until);
}

static void work_done(uv_work_t *w, int status)
{
    struct tui *t = w->data;
    int want;

    t->work_busy = false;
    if (t->free_asked) {
        if (t->open_handles == 0)
            free_all(t);
        return;
    }
    if (status == 0 && t->job.kind == RA_QUERY) {
        struct review_data *d = t->job.d;

        if (!d) {
            d = xcalloc(1, sizeof(*d));
            d->since_us = t->job.since;
            d->until_us = t->job.until;
            snprintf(d->err, sizeof(d->err), "%s", t->job.err);
        }
        t->job.d = NULL;
        review_take(t->rv, d);
    } else if (status == 0) {
        struct review_atts *a = t->job.a;

        if (!a) {
            a = xcalloc(1, sizeof(*a));
            snprintf(a->err, sizeof(a->err), "%s", t->job.err);
        }
        t->job.a = NULL;
        review_take_attempts(t->rv, a);
    }
    job_clear(t);
    review_set_busy(t->rv, false);
    want = t->work_want;
    t->work_want = 0;
    if (!t->quitting && t->in_review)
        review_request(t, want);
    t->dirty = true;
}

/* Start what (RA_QUERY and/or RA_ATTEMPTS) on the worker, or queue it behind the running one. */
static void review_request(struct tui *t, int what)
{
    int kind;
    int64_t mono, wall;
    int r;

    what &= RA_QUERY | RA_ATTEMPTS;
    if (!what)
        return;
    if (t->work_busy) {
        t->work_want |= what;
        return;
    }
    kind = what & RA_QUERY ? RA_QUERY : RA_ATTEMPTS;
    t->work_want = what & ~kind;
    job_clear(t);
    t->job.kind = kind;
    now(t, &mono, &wall);
    if (kind == RA_QUERY) {
        review_window(t->rv, wall, &t->job.since, &t->job.until);
        t->last_query_us = mono_us();
    } else {
        const char *ep;

        if (!review_attempts_wanted(t->rv, &ep, &t->job.since, &t->job.until)) {
            int rest = t->work_want;

            t->work_want = 0;
            review_request(t, rest);
            return;
        }
        t->job.endpoint = xstrdup(ep);
    }
    t->work.data = t;
    r = uv_queue_work(t->loop, &t->work, work_run, work_done);
    if (r < 0) {
        char msg[128];

        snprintf(msg, sizeof(msg), "cannot read the history: %s", uv_strerror(r));
        message(t, msg);
        job_clear(t);
        return;
    }
    t->work_busy = true;
    review_set_busy(t->rv, true);
}

static void history(struct tui *t)
{
    uint32_t ep = EVT_EP_NONE;
    int64_t mono, wall;
    bool sel = vm_selected(t->vm, &ep, NULL);

    if (t->o.history && t->hist_path[0]) {
        now(t, &mono, &wall);
        review_open(t->rv, wall, sel ? mon_ep_name(t->mn, ep) : NULL);
        t->in_review = true;
        review_request(t, RA_QUERY);
        draw_invalidate(t->dr);
        return;
    }
    if (t->o.history) {
        message(t, t->hist_why);
        return;
    }
    if (t->o.on_history)
        t->o.on_history(t->o.ud, ep);
    else
        message(t, "no history here (--no-db): see wsmon history");
}

static void review_keypress(struct tui *t, bool fkey, wint_t ch)
{
    enum review_key k;
    int64_t mono, wall;
    int a;

    if (fkey) {
        switch (ch) {
        case KEY_LEFT:
            k = RK_LEFT;
            break;
        case KEY_RIGHT:
            k = RK_RIGHT;
            break;
        case KEY_UP:
            k = RK_UP;
            break;
        case KEY_DOWN:
            k = RK_DOWN;
            break;
        case KEY_PPAGE:
            k = RK_PGUP;
            break;
        case KEY_NPAGE:
            k = RK_PGDN;
            break;
        case KEY_HOME:
            k = RK_HOME;
            break;
        case KEY_END:
            k = RK_END;
            break;
        case KEY_ENTER:
            k = RK_ENTER;
            break;
        case KEY_BACKSPACE:
            k = RK_BACK;
            break;
        default:
            return;
        }
    } else {
        switch (ch) {
        case L'+':
        case L'=':
            k = RK_ZOOM_IN;
            break;
        case L'-':
        case L'_':
            k = RK_ZOOM_OUT;
            break;
        case L'k':
            k = RK_UP;
            break;
        case L'j':
            k = RK_DOWN;
            break;
        case L'g':
            k = RK_HOME;
            break;
        case L'G':
            k = RK_END;
            break;
        case L'n':
            k = RK_NOW;
            break;
        case L'\n':
        case L'\r':
            k = RK_ENTER;
            break;
        case 27: /* Esc */
        case 8:
        case 127:
            k = RK_BACK;
            break;
        case L'h': /* h again: straight back to the dashboard */
            t->in_review = false;
            draw_invalidate(t->dr);
            return;
        default:
            return;
        }
    }
    now(t, &mono, &wall);
    a = review_key(t->rv, k, wall);
    if (a & RA_CLOSE) {
        t->in_review = false;
        draw_invalidate(t->dr);
        return;
    }
    review_request(t, a);
}

/* In the detail view: the previous or next endpoint's detail. */
static void detail_step(struct tui *t, int delta)
{
    enum vm_pane pane = vm_pane(t->vm);

    vm_set_view(t->vm, VM_VIEW_MAIN);
    vm_set_pane(t->vm, VM_PANE_TABLE);
    vm_move(t->vm, delta);
    vm_set_pane(t->vm, pane);
    vm_set_view(t->vm, VM_VIEW_DETAIL);
}

static void mouse(struct tui *t)
{
    MEVENT ev;

    if (getmouse(&ev) != OK)
        return;
    if (vm_view(t->vm) == VM_VIEW_HELP) {
        if (ev.bstate & BUTTON1_PRESSED)
            vm_set_view(t->vm, VM_VIEW_MAIN);
        return;
    }
#ifdef BUTTON5_PRESSED
    if (ev.bstate & (BUTTON4_PRESSED | BUTTON5_PRESSED)) {
        int d = ev.bstate & BUTTON4_PRESSED ? -3 : 3;

        if (vm_view(t->vm) == VM_VIEW_MAIN)
            vm_scroll_at(t->vm, ev.y, d);
        else
            vm_move(t->vm, d);
        return;
    }
#endif
    if (!(ev.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED)))
        return;
    if (vm_click(t->vm, ev.y) == 1) {
        uint32_t ep;
        int conn;
        int64_t now = mono_us();

        vm_selected(t->vm, &ep, &conn);
        if (now - t->click_us < DOUBLE_CLICK_US && ep == t->click_ep && conn == t->click_conn) {
            vm_set_view(t->vm, VM_VIEW_DETAIL);
            t->click_us = 0;
        } else {
            t->click_us = now;
            t->click_ep = ep;
            t->click_conn = conn;
        }
    }
}

static void expand(struct tui *t, int how)
{
    uint32_t ep;

    if (vm_selected(t->vm, &ep, NULL))
        vm_expand(t->vm, ep, how);
}

static void key(struct tui *t, int r, wint_t ch)
{
    enum vm_view view = vm_view(t->vm);
    bool fkey = r == KEY_CODE_YES;

    if (t->prompt != P_NONE) {
        prompt_key(t, r, ch);
        return;
    }
    if (fkey && ch == KEY_RESIZE) {
        resize(t);
        return;
    }
    if (fkey && ch == KEY_MOUSE) {
        if (t->in_review) {
            MEVENT ev;
            getmouse(&ev); /* not used there */
        } else {
            mouse(t);
        }
        return;
    }
    if (!fkey && (ch == L'q' || ch == L'Q')) {
        tui_quit(t);
        return;
    }
    if (!fkey && ch == 12) { /* Ctrl-L */
        draw_invalidate(t->dr);
        return;
    }
    if (t->in_review) {
        review_keypress(t, fkey, ch);
        return;
    }
    if (view != VM_VIEW_HELP && !fkey && t->o.on_key && t->o.on_key(t->o.ud, (int)ch))
        return;
    if (view == VM_VIEW_HELP) {
        /* any other key goes back */
        vm_set_view(t->vm, VM_VIEW_MAIN);
        return;
    }
    if (fkey) {
        switch (ch) {
        case KEY_UP:
            vm_move(t->vm, -1);
            break;
        case KEY_DOWN:
            vm_move(t->vm, 1);
            break;
        case KEY_PPAGE:
            vm_page(t->vm, -1);
            break;
        case KEY_NPAGE:
            vm_page(t->vm, 1);
            break;
        case KEY_HOME:
            vm_move(t->vm, INT_MIN);
            break;
        case KEY_END:
            vm_move(t->vm, INT_MAX);
            break;
        case KEY_ENTER:
            vm_set_view(t->vm, view == VM_VIEW_DETAIL ? VM_VIEW_MAIN : VM_VIEW_DETAIL);
            break;
        case KEY_BACKSPACE:
            vm_set_view(t->vm, VM_VIEW_MAIN);
            break;
        case KEY_LEFT:
            if (view == VM_VIEW_DETAIL)
                detail_step(t, -1);
            else
                expand(t, 0);
            break;
        case KEY_RIGHT:
            if (view == VM_VIEW_DETAIL)
                detail_step(t, 1);
            else
                expand(t, 1);
            break;
        case KEY_BTAB:
            vm_set_pane(t->vm, vm_pane(t->vm) == VM_PANE_LOG ? VM_PANE_TABLE : VM_PANE_LOG);
            break;
        default:
            break;
        }
        return;
    }
    switch (ch) {
    case L'k':
        vm_move(t->vm, -1);
        break;
    case L'j':
        vm_move(t->vm, 1);
        break;
    case L'g':
        vm_move(t->vm, INT_MIN);
        break;
    case L'G':
        vm_move(t->vm, INT_MAX);
        break;
    case L' ':
        vm_page(t->vm, 1);
        break;
    case L'\n':
    case L'\r':
        vm_set_view(t->vm, view == VM_VIEW_DETAIL ? VM_VIEW_MAIN : VM_VIEW_DETAIL);
        break;
    case 27: /* Esc: back, then clear the filter */
        if (view == VM_VIEW_DETAIL)
            vm_set_view(t->vm, VM_VIEW_MAIN);
        else if (vm_filter(t->vm, vm_pane(t->vm))[0])
            vm_set_filter(t->vm, vm_pane(t->vm), "");
        break;
    case 8:
    case 127:
        vm_set_view(t->vm, VM_VIEW_MAIN);
        break;
    case L'\t':
        if (view == VM_VIEW_MAIN)
            vm_set_pane(t->vm, vm_pane(t->vm) == VM_PANE_LOG ? VM_PANE_TABLE : VM_PANE_LOG);
        break;
    case L'<':
    case L',':
        if (view == VM_VIEW_DETAIL)
            detail_step(t, -1);
        break;
    case L'>':
    case L'.':
        if (view == VM_VIEW_DETAIL)
            detail_step(t, 1);
        break;
    case L'e':
        expand(t, -1);
        break;
    case L'+':
        expand(t, 1);
        break;
    case L'-':
        expand(t, 0);
        break;
    case L'r':
        reconnect(t);
        break;
    case L'p':
        toggle_pause(t);
        break;
    case L'm':
        prompt_open(t, P_MARK_ALL);
        break;
    case L'M':
        prompt_open(t, P_MARK_EP);
        break;
    case L'/':
        if (view == VM_VIEW_MAIN)
            prompt_open(t, P_FILTER);
        break;
    case L's':
        cycle_sort(t);
        break;
    case L'?':
        vm_set_view(t->vm, VM_VIEW_HELP);
        break;
    case L'h':
        history(t);
        break;
    default:
        break;
    }
}

static void on_input(uv_poll_t *h, int status, int events)
{
    struct tui *t = h->data;
    wint_t ch;
    int r, n = 0;

    if (!t->curses_on)
        return;
    if (status < 0 || (events & UV_DISCONNECT)) {
        tui_quit(t); /* the terminal went away */
        return;
    }
    while (!t->quitting && (r = get_wch(&ch)) != ERR) {
        key(t, r, ch);
        n++;
    }
    if (t->quitting)
        return;
    if (n == 0) {
        /* readable, yet nothing to read: a hung-up terminal keeps saying so */
        if (++t->idle_wakeups >= IDLE_WAKEUPS_MAX)
            tui_quit(t);
        return;
    }
    t->idle_wakeups = 0;
    /* a person typed: answer at once (the 10 Hz cap is for redraws caused by events) */
    redraw(t);
}

/* ---- setup -------------------------------------------------------------------------------- */

static int start_signal(struct tui *t, uv_signal_t *s, int signum)
{
    int r = uv_signal_init(t->loop, s);

    if (r < 0)
        return r;
    s->data = t;
    t->open_handles++;
    return uv_signal_start(s, on_signal, signum);
}

struct tui *tui_new(uv_loop_t *loop, struct mon *mn, const struct tui_opts *o, char *err,
                    size_t errlen)
{
    struct tui *t;
    struct vm_opts vo;
    const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");
    const struct model *m = mon_model(mn);
    bool utf8, color;
    int r;

    if (!isatty(0) || !isatty(1)) {
        snprintf(err, errlen, "wsmon watch needs a terminal; use wsmon record");
        return NULL;
    }
    if (active) {
        snprintf(err, errlen, "a dashboard is already running");
        return NULL;
    }
    t = xcalloc(1, sizeof(*t));
    t->loop = loop;
    t->mn = mn;
    if (o)
        t->o = *o;
    else {
        t->o.color = -1;
        t->o.ascii = -1;
    }
    setlocale(LC_ALL, "");
    utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
    memset(&vo, 0, sizeof(vo));
    vo.ascii = t->o.ascii < 0 ? !utf8 : t->o.ascii == 1;
    vo.utc = t->o.utc;
    vo.show_secrets = t->o.show_secrets;
    t->vm = vm_new(&vo);
    {
        struct review_opts ro = {.ascii = vo.ascii, .utc = vo.utc};
        t->rv = review_new(&ro);
    }
    if (t->o.history) {
        if (t->o.history_db)
            snprintf(t->hist_path, sizeof(t->hist_path), "%s", t->o.history_db);
        else if (store_default_path(t->hist_path, sizeof(t->hist_path)) < 0) {
            t->hist_path[0] = '\0';
            snprintf(t->hist_why, sizeof(t->hist_why),
                     "no history: neither XDG_STATE_HOME nor HOME is set (use --db)");
        }
    }
    t->n_names = m ? m->n_eps : 0;
    t->names = xcalloc(t->n_names + 1, sizeof(*t->names));
    for (size_t i = 0; i < t->n_names; i++)
        t->names[i] = mon_ep_name(mn, (uint32_t)i);

    t->saved_fl = fcntl(0, F_GETFL);
    t->scr = newterm(NULL, stdout, stdin);
    if (!t->scr) {
        snprintf(err, errlen, "cannot use the terminal (TERM=%.60s)", term ? term : "unset");
        review_free(t->rv);
        vm_free(t->vm);
        free(t->names);
        free(t);
        return NULL;
    }
    t->curses_on = true;
    active = t;
    {
        static bool registered;

        if (!registered && atexit(atexit_endwin) == 0)
            registered = true;
    }
    /* after newterm: ours replace the handlers curses installed for these (libuv's handlers only
     * note the signal; the callbacks run on the loop) */
    if ((r = start_signal(t, &t->sig_winch, SIGWINCH)) < 0 ||
        (r = start_signal(t, &t->sig_tstp, SIGTSTP)) < 0 ||
        (!t->o.no_signals && ((r = start_signal(t, &t->sig_int, SIGINT)) < 0 ||
                              (r = start_signal(t, &t->sig_term, SIGTERM)) < 0))) {
        snprintf(err, errlen, "cannot watch signals: %s", uv_strerror(r));
        goto fail;
    }
    cbreak();
    noecho();
    nonl();
    intrflush(stdscr, FALSE);
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25); /* a lone Esc waits this long for the rest of a sequence */
    curs_set(0);
    if (!t->o.no_mouse) {
        mmask_t mask = BUTTON1_PRESSED;

#ifdef BUTTON5_PRESSED
        mask |= BUTTON4_PRESSED | BUTTON5_PRESSED;
#endif
        /* no click resolution: it would wait in getch() */
        mouseinterval(0);
        mousemask(mask, NULL);
    }
    color = t->o.color < 0 ? has_colors() && !(nc && *nc) : t->o.color == 1 && has_colors();
    if (color) {
        start_color();
        use_default_colors();
    }
    t->dr = draw_new(color);

    /* stdin: libuv makes the tty non-blocking, and stdout shares that flag: undo it */
    r = uv_poll_init(loop, &t->input, 0);
    if (t->saved_fl >= 0)
        fcntl(0, F_SETFL, t->saved_fl);
    if (r < 0) {
        snprintf(err, errlen, "cannot watch the terminal: %s", uv_strerror(r));
        goto fail;
    }
    t->input.data = t;
    t->open_handles++;
    uv_poll_start(&t->input, UV_READABLE | UV_DISCONNECT, on_input);

    uv_timer_init(loop, &t->tick);
    t->tick.data = t;
    t->open_handles++;
    uv_timer_start(&t->tick, on_tick, TICK_MS, TICK_MS);

    if (mon_add_sink(mn, on_event, t) < 0)
        /* no sink left: the timer still draws once a second */
        message(t, "too many sinks: the screen updates once a second");
    /* ncurses 6.4 flushes its output at every cursor movement until the first endwin(): a
     * frame went out as one write(2) per run of changed cells, dozens for a whole screen (a key
     * that changes the view), each waking the terminal. Suspended once before the first frame,
     * it buffers a frame into one write; the first doupdate() resumes, as after SIGWINCH. */
    endwin();
    redraw(t);
    return t;

fail:
    tui_free(t);
    return NULL;
}
