#!/usr/bin/env python3
"""wsmon watch, the live dashboard, driven through tmux against real loopback peers.

Each scenario types keys into a tmux pane (its own tmux server on a private socket) and polls
capture-pane until the screen shows what the issue asks for, within a deadline: no fixed sleeps.
Expected text comes from the issue (readyState names, close codes, the detail's waterfall, the
too-small message, the ASCII fallback), never from a previous run of wsmon.
"""

import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Suite  # noqa: E402
import peers  # noqa: E402

suite = Suite()
S = {}  # peers, the tmux server, the main session

PROMPT = "WSMON-IT$ "
EXIT_MARK = "WSMON-EXIT="
EXITED = re.compile(EXIT_MARK + r"(\d+)")
POLL_S = 0.05


def watch_available():
    if not harness.wsmon_usable():
        return False
    try:
        r = subprocess.run([harness.WSMON, "watch", "--help"], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=10, env=harness._env())
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def watch_help():
    r = subprocess.run([harness.WSMON, "watch", "--help"], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=10, env=harness._env())
    return r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")


class Tmux:
    """One tmux server on a socket of its own; sessions run a bare bash with a known prompt."""

    def __init__(self):
        self.sock = "wsmon-it-%d-%s" % (os.getpid(), secrets.token_hex(4))
        self.env = harness._env()
        self.env.pop("TMUX", None)
        self.path = None  # the socket file, removed at the end

    def run(self, *args, timeout=10):
        return subprocess.run(["tmux", "-L", self.sock, "-f", "/dev/null"] + list(args),
                              capture_output=True, timeout=timeout, env=self.env)

    def new_session(self, name, w, h, env):
        """A session running bash with env added (TERM is tmux's unless env sets it)."""
        argv = ["env"] + ["%s=%s" % kv for kv in env.items()]
        argv += ["PS1=" + PROMPT, "PROMPT_COMMAND=", "HISTFILE=/dev/null",
                 "bash", "--norc", "--noprofile"]
        r = self.run("new-session", "-d", "-x", str(w), "-y", str(h), "-s", name, "--", *argv)
        if r.returncode != 0:
            raise RuntimeError("tmux new-session: " + r.stderr.decode("utf-8", "replace"))
        if not self.path:
            r = self.run("display-message", "-p", "-t", name, "#{socket_path}")
            self.path = r.stdout.decode("utf-8", "replace").strip()
        return name

    def type(self, target, text, enter=True):
        self.run("send-keys", "-t", target, "-l", text)
        if enter:
            self.run("send-keys", "-t", target, "Enter")

    def keys(self, target, *keys):
        self.run("send-keys", "-t", target, *keys)

    def capture(self, target, escapes=False):
        r = self.run("capture-pane", "-p", "-t", target, *(["-e"] if escapes else []))
        return r.stdout.decode("utf-8", "replace")

    def resize(self, target, w, h):
        self.run("resize-window", "-t", target, "-x", str(w), "-y", str(h))

    def kill(self):
        self.run("kill-server")
        if self.path and os.path.basename(self.path) == self.sock:
            try:
                os.unlink(self.path)
            except OSError:
                pass


def watch_err():
    try:
        with open(os.path.join(harness.tmpdir(), "watch.err"), "rb") as f:
            return f.read()
    except OSError:
        return b""


def wait_screen(ck, target, pred, what, timeout=6.0, escapes=False, live=True):
    """Poll the pane until pred(text) holds; on the deadline record a failure with the screen.
    Returns the screen (with its escape sequences when escapes), or None. live: wsmon must still
    run (its exit ends the wait at once, as a failure)."""
    deadline = time.monotonic() + min(timeout, max(1.0, harness.time_left() - 1.0))
    text = ""
    if live and S.get("dead", {}).get(target):
        ck.fail("%s: wsmon watch is no longer running (it exited in an earlier step)" % what)
        return None
    while True:
        text = S["tmux"].capture(target)
        try:
            if pred(text):
                return S["tmux"].capture(target, True) if escapes else text
        except Exception:
            pass
        if live and EXITED.search(text):
            S.setdefault("dead", {})[target] = True
            ck.fail("%s: wsmon watch exited instead; the screen:\n%s\nstderr:\n%s" % (
                what, harness.esc(text), harness.esc(watch_err())))
            return None
        if time.monotonic() >= deadline:
            ck.fail("%s: not on the screen within %.1f s; the screen:\n%s" % (
                what, timeout, harness.esc(text)))
            return None
        time.sleep(POLL_S)


def has(text, pattern):
    return re.search(pattern, text, re.M) is not None


def rows(text, port, path):
    """Table lines for the endpoint 127.0.0.1:port/path... (names may be cut with an ellipsis)."""
    name = "127.0.0.1:%d/" % port
    out = []
    for line in text.split("\n"):
        if not line.startswith(name):
            continue
        rest = line[len(name):]
        stem = re.split(r"\s", rest, 1)[0].rstrip("\u2026~")
        if path.startswith(stem) and (stem or not path):
            out.append(line)
    return out


STTY_LINE = re.compile(r"^((?:-?(?:echo|icanon) )*)STTY-DONE$", re.M)


def stty_sane(ck, target):
    """The shell prompt is back, and stty -a shows echo and icanon on."""
    S["tmux"].type(target, "clear; stty -a | tr ' ;' '\\n\\n' | grep -x -e echo -e icanon "
                           "-e -echo -e -icanon | sort | tr '\\n' ' '; echo STTY-DONE")
    text = wait_screen(ck, target, lambda t: STTY_LINE.search(t), "stty -a output", 5,
                       live=False)
    if text is None:
        return
    words = STTY_LINE.search(text).group(1).split()
    ck.ok(sorted(words) == ["echo", "icanon"],
          "after quitting, stty wants echo and icanon on; got: %r" % " ".join(words))
    ck.ok(PROMPT.strip() in text, "the shell prompt is not back:\n" + harness.esc(text))


def start_watch(ck, target, urls):
    args = ["watch"]
    if "--no-db" in S.get("help", ""):
        args.append("--no-db")
    cmd = " ".join(shlex.quote(a) for a in [harness.WSMON] + args + urls)
    S["tmux"].type(target, "clear; %s 2>%s; echo %s$?" % (
        cmd, shlex.quote(os.path.join(harness.tmpdir(), "watch.err")), EXIT_MARK))


def setup():
    S["help"] = watch_help()
    S["ws"] = peers.WSServer("127.0.0.1").start()
    suite.at_end(S["ws"].stop)
    S["tmux"] = Tmux()
    suite.at_end(S["tmux"].kill)
    utf8 = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    S["main"] = S["tmux"].new_session("main", 80, 24, utf8)
    port = S["ws"].port
    S["urls"] = ["ws://127.0.0.1:%d/echo" % port,
                 "ws://127.0.0.1:%d/close/1011?after=300&reason=boom" % port,
                 "ws://127.0.0.1:%d/evilclose" % port]


# 1 -------------------------------------------------------------------------------------------

@suite.test("1 a healthy endpoint shows OPEN 1 within a few seconds (80x24, UTF-8)")
def t_open(ck):
    t, port = S["main"], S["ws"].port
    start_watch(ck, t, S["urls"])
    text = wait_screen(ck, t, lambda s: any("OPEN 1" in r for r in rows(s, port, "echo")),
                       "the /echo row in OPEN 1", 8)
    if text is None:
        return
    ck.ok(has(text, r"^wsmon "), "no status line starting with 'wsmon'")
    ck.ok(has(text, r"\d\d:\d\d:\d\d"), "no clock in the status line")
    ck.ok("ENDPOINT" in text and "STATE" in text, "no column titles")
    ck.ok("q quit" in text and "? help" in text, "the footer does not show the keys")
    for line in text.split("\n"):
        ck.ok(len(line) <= 80, "a line is wider than 80 columns: %r" % line)


@suite.test("2 /close/1011 shows its close code; a hostile close reason is shown escaped")
def t_close_code(ck):
    t, port = S["main"], S["ws"].port
    wait_screen(ck, t, lambda s: any(re.search(r"\b1011\b", r)
                                     for r in rows(s, port, "close/1011")),
                "1011 in the /close/1011 row", 8)
    text = wait_screen(ck, t, lambda s: any(re.search(r"\b1008\b", r)
                                            for r in rows(s, port, "evilclose")),
                       "1008 in the /evilclose row", 8, escapes=True)
    if text is not None:
        ck.ok("\x1b[31mred" not in text and "\x07" not in text,
              "the close reason's escapes reached the terminal")


@suite.test("3 / filters the table by name")
def t_filter(ck):
    t, port = S["main"], S["ws"].port
    S["tmux"].keys(t, "/")
    wait_screen(ck, t, lambda s: "filter endpoints:" in s, "the filter prompt", 3)
    S["tmux"].type(t, "echo", enter=False)
    S["tmux"].keys(t, "Enter")
    text = wait_screen(ck, t, lambda s: rows(s, port, "echo") and
                       not rows(s, port, "close/1011") and not rows(s, port, "evilclose"),
                       "only the /echo row", 4)
    if text is not None:
        ck.ok("echo" in text.split("\n")[0], "the status line does not show the filter")


@suite.test("4 Enter shows the detail view with the phase waterfall; Esc goes back")
def t_detail(ck):
    t, port = S["main"], S["ws"].port
    S["tmux"].keys(t, "Enter")
    text = wait_screen(ck, t, lambda s: "Last attempt" in s and "upgrade" in s,
                       "the detail view", 4)
    if text is not None:
        for want, what in ((r"^\s+tcp\s+\d+(\.\d+)? ms ", "a tcp phase with its duration"),
                           (r"^\s+upgrade\s+\d+(\.\d+)? ms ", "an upgrade phase with its duration"),
                           (r"^\s+open\s+\d+(\.\d+)? ms", "the time to open"),
                           (r"HTTP 101", "the upgrade status"),
                           (r"^Verdict\s+healthy", "the verdict"),
                           (r"^State\s+OPEN 1", "the state")):
            ck.ok(has(text, want), "the detail view lacks %s (/%s/)" % (what, want))
    S["tmux"].keys(t, "Escape")
    wait_screen(ck, t, lambda s: "ENDPOINT" in s and rows(s, port, "echo"),
                "the table again after Esc", 3)


@suite.test("5 ? shows the help; any key goes back")
def t_help(ck):
    t = S["main"]
    S["tmux"].keys(t, "?")
    text = wait_screen(ck, t, lambda s: "reconnect" in s and "quit" in s and "filter" in s
                       and "ENDPOINT" not in s, "the help view", 3)
    if text is not None:
        for k in ("Enter", "Tab", "r ", "p ", "m ", "/ ", "s ", "q "):
            ck.ok(k in text, "the help does not mention %r" % k)
        ck.ok(re.search(r"^\s+h\s+history review", text, re.M),
              "the help does not mention h (history review)")
    S["tmux"].keys(t, "x")
    wait_screen(ck, t, lambda s: "ENDPOINT" in s, "the table after a key in the help", 3)


@suite.test("6 resize to 60x15, 200x50 and back to 80x24")
def t_resize(ck):
    t, port = S["main"], S["ws"].port
    S["tmux"].keys(t, "Escape")  # clear the filter: every row again
    wait_screen(ck, t, lambda s: rows(s, port, "evilclose"), "all rows after Esc", 3)
    S["tmux"].resize(t, 60, 15)
    text = wait_screen(ck, t, lambda s: len(s.rstrip("\n").split("\n")) <= 15 and
                       "ENDPOINT" in s and "RECON" not in s and "CLOSE" in s,
                       "the 60x15 layout (no RECON column)", 4)
    if text is not None:
        for line in text.split("\n"):
            ck.ok(len(line) <= 60, "a line is wider than 60 columns: %r" % line)
    S["tmux"].resize(t, 200, 50)
    text = wait_screen(ck, t, lambda s: "RTT trend" in s and "REASON" in s and "HEALTH" in s,
                       "the 200x50 layout (sparkline, reason, health)", 4)
    if text is not None:
        ck.ok("policy \\e[31mred" in text, "the escaped close reason is not shown at 200 "
                                          "columns")
    S["tmux"].resize(t, 80, 24)
    wait_screen(ck, t, lambda s: "RECON" in s and "RTT trend" not in s and
                max(len(x) for x in s.split("\n")) <= 80, "the 80x24 layout again", 4)


@suite.test("7 a terminal too small gets a message, then the dashboard comes back")
def t_too_small(ck):
    t = S["main"]
    S["tmux"].resize(t, 50, 12)
    wait_screen(ck, t, lambda s: "too small" in s, "the too-small message", 4)
    S["tmux"].resize(t, 80, 24)
    wait_screen(ck, t, lambda s: "ENDPOINT" in s, "the dashboard after growing again", 4)


@suite.test("8 m adds a marker to the event log; p pauses and resumes; s sorts; r reconnects; "
            "Tab; a mouse click selects")
def t_keys(ck):
    t, port = S["main"], S["ws"].port
    S["tmux"].keys(t, "m")
    wait_screen(ck, t, lambda s: "marker" in s.split("\n")[-1] or "marker (all" in s,
                "the marker prompt", 3)
    S["tmux"].type(t, "deploy started", enter=False)
    S["tmux"].keys(t, "Enter")
    wait_screen(ck, t, lambda s: re.search(r"^\d\d:\d\d:\d\d\.\d{3} - MARK deploy started", s,
                                           re.M), "the marker in the event log", 4)
    S["tmux"].keys(t, "p")
    wait_screen(ck, t, lambda s: "PAUSED" in s.split("\n")[0], "PAUSED in the status line", 3)
    S["tmux"].keys(t, "p")
    wait_screen(ck, t, lambda s: "PAUSED" not in s.split("\n")[0], "PAUSED gone after p", 3)
    S["tmux"].keys(t, "s")
    wait_screen(ck, t, lambda s: "sort state" in s.split("\n")[0], "sort state", 3)
    S["tmux"].keys(t, "s", "s", "s")
    wait_screen(ck, t, lambda s: "sort" not in s.split("\n")[0], "back to sort by name", 3)
    S["tmux"].keys(t, "g", "r")
    wait_screen(ck, t, lambda s: "reconnecting 127.0.0.1:%d/" % port in s,
                "the reconnect message", 3)
    # Tab: the keys now scroll the event log
    S["tmux"].keys(t, "Tab", "k", "k")
    wait_screen(ck, t, lambda s: "scrolled" in s, "the event log scrolled back after Tab k", 3)
    S["tmux"].keys(t, "G", "Tab")
    wait_screen(ck, t, lambda s: "scrolled" not in s, "the event log following again", 3)
    # a click (an xterm X10 mouse report: button 1 pressed, then released) on the third row
    # (screen line 4; rows are sorted by name: close/1011, echo, evilclose) selects it
    x, y = 3, 4
    S["tmux"].type(t, "\x1b[M" + chr(32) + chr(33 + x) + chr(33 + y) +
                   "\x1b[M" + chr(35) + chr(33 + x) + chr(33 + y), enter=False)
    S["tmux"].keys(t, "Enter")
    wait_screen(ck, t, lambda s: s.startswith("wsmon") and "/ev" in s.split("\n")[0] and
                "Last attempt" in s, "the detail of the clicked row (evilclose)", 3)
    S["tmux"].keys(t, "Escape")
    wait_screen(ck, t, lambda s: "ENDPOINT" in s, "the table again", 3)


@suite.test("9 q quits: the shell prompt is back, the terminal sane (echo, icanon)")
def t_quit(ck):
    t = S["main"]
    S["tmux"].keys(t, "q")
    text = wait_screen(ck, t, lambda s: EXITED.search(s), "wsmon's exit", 8, live=False)
    if text is None:
        return
    m = EXITED.search(text)
    ck.note("wsmon watch exit status after q: %s" % (m.group(1) if m else "?"))
    stty_sane(ck, t)
    err = watch_err()
    if err:
        ck.note("wsmon watch stderr: " + harness.esc(err))
    ck.ok(b"\x1b" not in err, "stderr holds terminal escapes")


@suite.test("10 TERM=vt100 LANG=C: ASCII fallback, no colours, q quits cleanly")
def t_vt100(ck):
    port = S["ws"].port
    t = S["tmux"].new_session("vt100", 80, 24, {"TERM": "vt100", "LANG": "C", "LC_ALL": "C"})
    start_watch(ck, t, S["urls"][:2])
    text = wait_screen(ck, t, lambda s: any("OPEN 1" in r for r in rows(s, port, "echo")),
                       "the /echo row in OPEN 1", 8, escapes=True)
    if text is not None:
        plain = S["tmux"].capture(t)
        ck.ok(all(ord(c) < 128 for c in text), "non-ASCII characters in a C locale: %r" %
              sorted({c for c in text if ord(c) >= 128}))
        ck.ok("-- Events --" in plain, "no ASCII rule above the event log")
        ck.ok(not re.search(r"\x1b\[[0-9;]*(3[0-7]|38;|4[0-7]|48;)[0-9;]*m", text),
              "colour escapes on a vt100")
    S["tmux"].keys(t, "Enter")
    text = wait_screen(ck, t, lambda s: "Last attempt" in s, "the detail view (ASCII)", 4)
    if text is not None:
        ck.ok(all(ord(c) < 128 for c in text), "non-ASCII characters in the ASCII detail")
    S["tmux"].keys(t, "q")
    if wait_screen(ck, t, lambda s: EXITED.search(s), "wsmon's exit", 8,
                   live=False) is not None:
        stty_sane(ck, t)


if __name__ == "__main__":
    if not harness.wsmon_usable():
        harness.skip_all("wsmon not built")
    if not shutil.which("tmux"):
        harness.skip_all("tmux not found")
    if not watch_available():
        harness.skip_all("wsmon watch not available")
    suite.run(setup)
