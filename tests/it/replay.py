#!/usr/bin/env python3
"""wsmon watch --replay and the history review screen (h), in tmux at 80x24.

A real recorder (`wsmon record --db FILE`) watches three loopback endpoints of the Python peer: a
healthy /echo, /close/1011 (the server closes 300 ms after open, again and again) and a port
nothing listens on (refused). It is stopped with SIGTERM. The replay must then show what the live
run had: the same endpoints, close code 1011, and reconnect counts equal to what the recorder
logged and to what `wsmon history attempts --format json` says (never compared with the replay's
own output). Then the review screen opens with h in a live `wsmon watch --db FILE URL...` and
shows the refused endpoint's outage and its attempts. Every wait polls the screen with a
deadline: no fixed sleeps.
"""

import datetime
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Suite  # noqa: E402
import peers  # noqa: E402
from watch_tmux import Tmux, rows, has  # noqa: E402

suite = Suite()
S = {}

PROMPT = "WSMON-IT$ "
EXIT_MARK = "WSMON-EXIT="
EXITED = re.compile(EXIT_MARK + r"(\d+)")
POLL_S = 0.05
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z (\S+) (OPEN|CLOSED)(?: (\d+))?",
                      re.M)


def free_port():
    """A loopback port nothing listens on (bound, then closed)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def parse_ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f").replace(
        tzinfo=datetime.timezone.utc)


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def wait_screen(ck, target, pred, what, timeout=8.0, live=True):
    deadline = time.monotonic() + min(timeout, max(1.0, harness.time_left() - 1.0))
    text = ""
    while True:
        text = S["tmux"].capture(target)
        try:
            if pred(text):
                return text
        except Exception:
            pass
        if live and EXITED.search(text):
            ck.fail("%s: wsmon exited instead; the screen:\n%s\nstderr:\n%s" % (
                what, harness.esc(text), harness.esc(read(S.get("err", "")))))
            return None
        if time.monotonic() >= deadline:
            ck.fail("%s: not on the screen within %.1f s; the screen:\n%s" % (
                what, timeout, harness.esc(text)))
            return None
        time.sleep(POLL_S)


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def run_in(target, args, err_name):
    S["err"] = os.path.join(harness.tmpdir(), err_name)
    cmd = " ".join(shlex.quote(a) for a in [harness.WSMON] + args)
    S["tmux"].type(target, "clear; %s 2>%s; echo %s$?" % (cmd, shlex.quote(S["err"]), EXIT_MARK))


def quit_and_check(ck, target):
    S["tmux"].keys(target, "q")
    text = wait_screen(ck, target, lambda s: EXITED.search(s), "wsmon's exit after q", 8,
                       live=False)
    if text is None:
        return
    ck.ok(EXITED.search(text).group(1) == "0", "exit status after q: %s" %
          EXITED.search(text).group(1))
    S["tmux"].type(target, "clear; stty -a | tr ' ;' '\\n\\n' | grep -x -e echo -e icanon "
                           "-e -echo -e -icanon | sort | tr '\\n' ' '; echo STTY-DONE")
    # wait for the output line, not the typed command (which holds STTY-DONE and echo too)
    stty_line = re.compile(r"^((?:-?(?:echo|icanon) )*)STTY-DONE$", re.M)
    text = wait_screen(ck, target, lambda s: stty_line.search(s), "stty -a", 5, live=False)
    if text is not None:
        words = stty_line.search(text)
        ck.ok(words and sorted(words.group(1).split()) == ["echo", "icanon"],
              "the terminal is not sane after q: %r" % (words.group(1) if words else text))
    err = read(S["err"])
    ck.ok("\x1b" not in err, "stderr holds terminal escapes: %r" % err[:300])


def row_of(text, name):
    """The table row of endpoint name (host:port/path...), even when the name is cut."""
    host, _, rest = name.partition("/")
    port = int(host.rsplit(":", 1)[1])
    r = rows(text, port, rest)
    return r[0] if r else None


def at(text, where):
    """The replay's status in the status line: start, end, paused, playing."""
    return re.search(r"REPLAY x\d+ %s\b" % where, text.split("\n")[0]) is not None


def review_row(text, name):
    """The review's timeline row of endpoint name (its name may be cut in the middle)."""
    for line in text.split("\n")[3:]:
        if not line.strip() or line.startswith(("\u2500", "--")):
            break
        shown = line.split(" ", 1)[0]
        head, cut, tail = shown.partition("\u2026" if "\u2026" in shown else "~")
        if (cut and name.startswith(head) and name.endswith(tail)) or shown == name:
            return line
    return None


def setup():
    S["ws"] = peers.WSServer("127.0.0.1").start()
    suite.at_end(S["ws"].stop)
    S["tmux"] = Tmux()
    suite.at_end(S["tmux"].kill)
    S["main"] = S["tmux"].new_session("main", 80, 24, {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
                                                       "TZ": "UTC"})
    port, refused = S["ws"].port, free_port()
    S["urls"] = ["ws://127.0.0.1:%d/echo" % port,
                 "ws://127.0.0.1:%d/close/1011?after=300&reason=boom" % port,
                 "ws://127.0.0.1:%d/" % refused]
    S["names"] = {"echo": "127.0.0.1:%d/echo" % port,
                  "crash": "127.0.0.1:%d/close/1011?after=300&reason=boom" % port,
                  "refused": "127.0.0.1:%d/" % refused}
    S["db"] = os.path.join(harness.tmpdir(), "rec.db")


# 1 -------------------------------------------------------------------------------------------

@suite.test("1 wsmon record --db: three endpoints for a few seconds, stopped with SIGTERM")
def t_record(ck):
    err_path = os.path.join(harness.tmpdir(), "record.err")
    args = [harness.WSMON, "record", "--db", S["db"], "--ping", "200ms", "--backoff-min",
            "500ms", "--backoff-max", "1s"] + S["urls"]
    with open(err_path, "wb") as se:
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=se, env=harness._env(), cwd=harness.tmpdir())
    suite.at_end(lambda: p.poll() is None and (p.kill(), p.wait(5)))
    crash, refused = S["names"]["crash"], S["names"]["refused"]

    def enough():
        log = read(err_path)
        return (len(re.findall(re.escape(crash) + r" CLOSED 1011", log)) >= 3 and
                len(re.findall(re.escape(refused) + r" CLOSED", log)) >= 3)

    deadline = time.monotonic() + min(20, harness.time_left() - 5)
    while not enough() and time.monotonic() < deadline and p.poll() is None:
        time.sleep(POLL_S)
    ck.ok(enough(), "the recorder did not log 3 closes with 1011 and 3 refused attempts:\n" +
          read(err_path)[-2000:])
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(8)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait(5)
        ck.fail("wsmon record did not exit within 8 s of SIGTERM")
    ck.ok(rc == 0, "wsmon record exited %s after SIGTERM" % rc)
    log = read(err_path)
    S["log"] = [(parse_ts(m.group(1)), m.group(2), m.group(3), m.group(4))
                for m in LOG_LINE.finditer(log)]
    ck.ok(S["log"], "no state changes in the recorder's log:\n" + log[-2000:])
    # the replay's end: just after the last close with 1011 (its next attempt comes >= 400 ms
    # later, after the backoff): the 1011 endpoint is CLOSED with that code there
    closes = [e for e in S["log"] if e[1] == crash and e[2] == "CLOSED" and e[3] == "1011"]
    if closes:
        S["t_end"] = closes[-1][0] + datetime.timedelta(milliseconds=1)
        S["t_start"] = S["log"][0][0] - datetime.timedelta(seconds=5)
    ck.ok(os.path.exists(S["db"]), "no database at " + S["db"])


def expected_at(ck, t_end):
    """Per endpoint: attempts started before t_end, from the recorder's log (closes) and from
    wsmon history attempts --format json."""
    r = subprocess.run([harness.WSMON, "history", "attempts", "--db", S["db"], "--since",
                        iso(S["t_start"]), "--until", iso(t_end), "--format", "json"],
                       capture_output=True, timeout=15, env=harness._env())
    ck.ok(r.returncode == 0, "wsmon history attempts exited %d: %s" % (
        r.returncode, r.stderr.decode("utf-8", "replace")))
    hist = {}
    for line in r.stdout.decode("utf-8", "replace").splitlines():
        if line.strip():
            o = json.loads(line)
            hist[o["endpoint"]] = hist.get(o["endpoint"], 0) + 1
    logged = {}
    for t, name, what, code in S["log"]:
        if what == "CLOSED" and t < t_end:
            logged[name] = logged.get(name, 0) + 1
    return hist, logged


# 2 -------------------------------------------------------------------------------------------

@suite.test("2 the replay at --until shows what the live run had: endpoints, 1011, reconnects")
def t_replay_end(ck):
    if "t_end" not in S:
        ck.fail("no recording to replay (test 1 failed)")
        return
    t = S["main"]
    hist, logged = expected_at(ck, S["t_end"])
    names = S["names"]
    # the 1011 endpoint had just closed: every attempt of it before t_end is logged as closed
    ck.ok(hist.get(names["crash"]) == logged.get(names["crash"]),
          "history and the recorder's log disagree on the 1011 attempts: %r %r" % (hist, logged))
    run_in(t, ["watch", "--replay", "--db", S["db"], "--since", iso(S["t_start"]), "--until",
               iso(S["t_end"])], "replay.err")
    text = wait_screen(ck, t, lambda s: at(s, "end") and row_of(s, names["refused"]),
                       "the replay at the end of its window", 10)
    if text is None:
        return
    S["replay_end"] = text
    for line in text.split("\n"):
        ck.ok(len(line) <= 80, "a line is wider than 80 columns: %r" % line)
    for key, name in names.items():
        ck.ok(row_of(text, name) is not None, "no row for %s (%s):\n%s" % (key, name, text))
    crash, echo, refused = (row_of(text, names[k]) for k in ("crash", "echo", "refused"))
    if not (crash and echo and refused):
        return
    c, e, r = crash.split(), echo.split(), refused.split()
    ck.ok("CLOSED 3" in crash and c[-2] == "1011",
          "the 1011 row is not CLOSED 3 with close code 1011: %r" % crash)
    ck.ok(int(c[-1]) == logged.get(names["crash"], 0) - 1,
          "1011 row: %s reconnects, the recorder logged %d closes: %r" % (
              c[-1], logged.get(names["crash"], 0), crash))
    ck.ok(int(c[-1]) == hist.get(names["crash"], 0) - 1,
          "1011 row: %s reconnects, wsmon history has %d attempts" % (
              c[-1], hist.get(names["crash"], 0)))
    ck.ok("OPEN 1" in echo and e[-1] == "0", "the /echo row is not OPEN 1 without reconnects: %r"
          % echo)
    ck.ok("tcp-refused" in refused and r[-2] == "1006",
          "the refused row is not tcp-refused with 1006: %r" % refused)
    ck.ok(int(r[-1]) == hist.get(names["refused"], 0) - 1,
          "refused row: %s reconnects, wsmon history has %d attempts" % (
              r[-1], hist.get(names["refused"], 0)))
    # an attempt may have been under way at t_end: then the log has one close fewer
    n_log = logged.get(names["refused"], 0)
    ck.ok(n_log - 1 <= int(r[-1]) <= n_log,
          "refused row: %s reconnects, the recorder logged %d closes" % (r[-1], n_log))
    # time in state on the replay's clock: the 1011 close was under a millisecond before it
    ck.ok(re.search(r"closed-by-server\s+\d+(\.\d+)? ms", crash),
          "the 1011 row's time in state is not on the replay clock (< 1 s): %r" % crash)
    # the clock in the status line is the replay's, not the wall clock
    ck.ok(S["t_end"].strftime("%H:%M:%S") in text.split("\n")[0] or
          (S["t_end"] - datetime.timedelta(seconds=1)).strftime("%H:%M:%S") in
          text.split("\n")[0], "the status line does not show the replay's time: %r" %
          text.split("\n")[0])
    ck.ok(re.search(r"CLOSED 1011 by s", text), "the event log has no close with 1011:\n" +
          text)


@suite.test("3 the replay clock: ^ goes to the start, space plays to the end again")
def t_replay_play(ck):
    t = S["main"]
    if "replay_end" not in S:
        ck.fail("no replay running (test 2 failed)")
        return
    names = S["names"]
    S["tmux"].keys(t, "^")
    text = wait_screen(ck, t, lambda s: at(s, "start"), "the replay at its start", 5)
    if text is not None:
        ck.ok(not has(text, r"\b1011\b.*\d+\s*$") or "CONNECTING" in text,
              "at the start the table already shows the end:\n" + text)
    S["tmux"].keys(t, "space")
    text = wait_screen(ck, t, lambda s: at(s, "end"), "the replay played to its end", 15)
    if text is None:
        return
    # the same state as when it opened at the end
    for k in ("crash", "echo", "refused"):
        a, b = row_of(text, names[k]), row_of(S["replay_end"], names[k])
        ck.ok(a and b and a.split()[-2:] == b.split()[-2:],
              "%s: after playing %r, at the end %r" % (k, a, b))
    S["tmux"].keys(t, "r")
    wait_screen(ck, t, lambda s: "read-only" in s.split("\n")[-1] or "read-only" in s,
                "r refused in a replay", 3)


@suite.test("4 h in the replay opens the review at the replay's time; q quits cleanly")
def t_replay_review(ck):
    t = S["main"]
    if "replay_end" not in S:
        ck.fail("no replay running (test 2 failed)")
        return
    S["tmux"].keys(t, "h")
    text = wait_screen(ck, t, lambda s: s.startswith("wsmon history") and "Outages of" in s,
                       "the review screen", 8)
    if text is not None:
        ck.ok(S["t_end"].strftime("%H:%M") in text.split("\n")[0],
              "the review window does not end at the replay's time: %r" % text.split("\n")[0])
    quit_and_check(ck, t)


# 5 -------------------------------------------------------------------------------------------

@suite.test("5 h in wsmon watch --db: a timeline with the refused endpoint's outage, its attempts")
def t_watch_review(ck):
    t, names = S["main"], S["names"]
    refused = names["refused"]
    run_in(t, ["watch", "--db", S["db"]] + S["urls"], "watch.err")
    text = wait_screen(ck, t, lambda s: row_of(s, names["echo"]) and
                       "OPEN 1" in row_of(s, names["echo"]), "the live dashboard", 10)
    if text is None:
        return
    S["tmux"].keys(t, "h")
    text = wait_screen(ck, t, lambda s: s.startswith("wsmon history") and "Outages of" in s and
                       "ENDPOINT" in s, "the review screen", 8)
    if text is None:
        return
    for line in text.split("\n"):
        ck.ok(len(line) <= 80, "a line is wider than 80 columns: %r" % line)
    lines = text.split("\n")
    ck.ok(re.search(r"\d\d:\d\d", lines[1]), "no time ruler: %r" % lines[1])
    ck.ok(lines[2].startswith("markers"), "no markers row: %r" % lines[2])
    # select the refused endpoint (rows are by name): its outages show below
    for _ in range(4):
        if "Outages of " + refused in text:
            break
        title = re.search(r"Outages of (\S+)", text).group(1)
        S["tmux"].keys(t, "Down")
        text = wait_screen(ck, t, lambda s: re.search(r"Outages of (\S+)", s) and
                           re.search(r"Outages of (\S+)", s).group(1) != title,
                           "the next endpoint's outages", 3)
        if text is None:
            return
    ck.ok("Outages of " + refused in text, "cannot select %s:\n%s" % (refused, text))
    row = review_row(text, refused)
    ck.ok(row and "x" in row[19:73], "the refused endpoint's timeline has no outage "
          "cell 'x':\n%s" % text)
    ck.ok(re.search(r"^\d\d:\d\d:\d\d .{8} tcp-refused\s+refused", text, re.M),
          "no tcp-refused outage in the list:\n" + text)
    row = review_row(text, names["echo"])
    ck.ok(row and "#" in row[19:73], "no open ('#') cells for the healthy endpoint:\n" + text)
    S["review"] = text
    S["tmux"].keys(t, "Enter")
    wait_screen(ck, t, lambda s: re.search(r"^\d\d:\d\d:\d\d .{8} tcp-refused", s, re.M)
                is not None, "the outage list focused", 3)
    S["tmux"].keys(t, "Enter")
    text = wait_screen(ck, t, lambda s: "Attempts of " + refused in s and
                       re.search(r"^\d\d:\d\d:\d\d tcp-refused\s+refused\s+- 1006", s, re.M),
                       "the outage's attempts with their phases", 8)
    if text is not None:
        ck.ok(re.search(r"dns\s+tcp\s+tls\s+upg\s+total", text), "no phase columns:\n" + text)
        S["attempts"] = text
    # back: outages, endpoints, the dashboard
    S["tmux"].keys(t, "Escape")
    S["tmux"].keys(t, "Escape")
    S["tmux"].keys(t, "Escape")
    wait_screen(ck, t, lambda s: "ENDPOINT" in s and "STATE" in s and "RECON" in s,
                "the dashboard again after Esc", 4)
    quit_and_check(ck, t)
    ck.note("the review screen at 80x24:\n" + S["review"])


@suite.test("6 TERM=vt100 LANG=C: the review screen in ASCII, no colours")
def t_vt100(ck):
    t = S["tmux"].new_session("vt100", 80, 24, {"TERM": "vt100", "LANG": "C", "LC_ALL": "C",
                                                 "TZ": "UTC"})
    if "t_end" not in S:
        ck.fail("no recording (test 1 failed)")
        return
    run_in(t, ["watch", "--replay", "--db", S["db"], "--since", iso(S["t_start"]), "--until",
               iso(S["t_end"])], "vt100.err")
    if wait_screen(ck, t, lambda s: at(s, "end"), "the replay", 10) is None:
        return
    S["tmux"].keys(t, "h")
    text = wait_screen(ck, t, lambda s: s.startswith("wsmon history") and "Outages of" in s,
                       "the review screen", 8)
    if text is not None:
        esc = S["tmux"].capture(t, escapes=True)
        ck.ok(all(ord(ch) < 128 for ch in esc), "non-ASCII in a C locale: %r" %
              sorted({ch for ch in esc if ord(ch) >= 128}))
        ck.ok(not re.search(r"\x1b\[[0-9;]*(3[0-7]|38;|4[0-7]|48;)[0-9;]*m", esc),
              "colour escapes on a vt100")
        ck.ok("-- Outages of" in text and "Left/Right" in text,
              "no ASCII rule or keys:\n" + text)
    quit_and_check(ck, t)


if __name__ == "__main__":
    if not harness.wsmon_usable():
        harness.skip_all("wsmon not built")
    if not shutil.which("tmux"):
        harness.skip_all("tmux not found")
    suite.run(setup)
