#!/usr/bin/env python3
"""The history database under a real recorder (wsmon record) against a loopback peer.

What DESIGN 8 and issue 4 promise, checked from outside the process: a kill -9 loses at most
the last tick (rows are compared with the pongs the peer sent), a SIGTERM flushes everything
(rows equal the pongs counted by --stats; the per-minute RTT histograms count them all, and
tests/bench/history_db.py computes the same histogram rows from them), the default path is created with its folder and
mode 0600, secrets never reach the file, and `wsmon history` / `wsmon mark` work while the
recorder writes (WAL). The database is read with Python's sqlite3, read-only. Nothing
synchronises by sleeping a fixed time: every wait polls for a condition with a deadline.
"""

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Suite, SkipTest  # noqa: E402
import peers  # noqa: E402

suite = Suite()
S = {}

TICK_S = 0.25      # STORE_TICK_MS
PING = "100ms"     # 2-3 pongs a tick


def setup():
    S["ws"] = peers.WSServer("127.0.0.1").start()
    suite.at_end(S["ws"].stop)
    suite.at_end(_kill_leftovers)


_procs = []


def _kill_leftovers():
    for p in _procs:
        if p.poll() is None:
            p.kill()
            p.wait(5)


class Rec:
    """`wsmon record ARGS` in the background, output to files."""

    def __init__(self, ck, args, env_extra=None):
        self.ck = ck
        self.cmd = [harness.WSMON, "record"] + list(args)
        self.res = harness.Result(self.cmd)
        ck.results.append(self.res)
        d = harness.tmpdir()
        n = len(_procs)
        self.out_path = os.path.join(d, "rec%d.out" % n)
        self.err_path = os.path.join(d, "rec%d.err" % n)
        self.t0 = time.monotonic()
        with open(self.out_path, "wb") as so, open(self.err_path, "wb") as se:
            self.p = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=so, stderr=se,
                                      env=harness._env(env_extra), cwd=d)
        _procs.append(self.p)

    def stop(self, sig, limit=8.0):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            self.p.wait(max(0.5, min(limit, harness.time_left())))
        except subprocess.TimeoutExpired:
            self.res.timed_out = True
            self.ck.fail("wsmon record did not exit within %.1f s after signal %d (killed)"
                         % (limit, sig))
            self.p.kill()
            self.p.wait(5)
        r = self.res
        r.rc = self.p.returncode
        r.elapsed = time.monotonic() - self.t0
        with open(self.out_path, "rb") as f:
            r.stdout_b = f.read()
        with open(self.err_path, "rb") as f:
            r.stderr = f.read().decode("utf-8", "replace")
        r.stdout = r.stdout_b.decode("utf-8", "replace")
        return r


def db_path(name):
    return os.path.join(harness.tmpdir(), name)


def query(path, sql, args=()):
    """Rows of sql on a read-only connection (WAL: never blocks the recorder); None when the
    file or its tables are not there yet."""
    if not os.path.exists(path):
        return None
    try:
        con = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return None


def count(path, sql, args=()):
    rows = query(path, sql, args)
    return rows[0][0] if rows else None


def wait_until(pred, timeout):
    deadline = time.monotonic() + min(timeout, max(1.0, harness.time_left() - 2))
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            return v
        time.sleep(0.05)


def peer_pongs(target):
    return sum(c.pongs_sent for c in S["ws"].snapshot() if c.target == target)


def history_wired():
    r = harness.run_wsmon(["history", "--help"], timeout=10)
    return r.rc == 0 and "wsmon history" in r.stdout


def mark_wired():
    r = harness.run_wsmon(["mark", "--help"], timeout=10)
    return r.rc == 0 and "wsmon mark" in r.stdout


def check_view(ck, view, lines):
    cj = harness.find_check_json()
    if cj is None:
        ck.fail("shared/contracts/check-json.py not found (set WSMON_SHARED)")
        return
    text = "".join(l + "\n" for l in lines)
    r = subprocess.run([sys.executable, cj, view], input=text.encode(), capture_output=True,
                       timeout=30)
    if r.returncode != 0:
        ck.fail("check-json.py %s rejects the output:\n  %s" % (
            view, (r.stdout + r.stderr).decode("utf-8", "replace").strip().replace("\n", "\n  ")))


@suite.test("kill -9: every committed tick survives, at most the last tick is lost")
def kill9(ck):
    db = db_path("kill9.db")
    target = "/echo?id=kill9"
    rec = Rec(ck, ["--db", db, "--ping", PING, "-q", S["ws"].url(target)])
    n = wait_until(lambda: (count(db, "SELECT count(*) FROM rtt") or 0) >= 20, 15)
    if not n:
        rec.stop(signal.SIGKILL)
        ck.fail("no 20 RTT rows in the database within 15 s")
        return
    r = rec.stop(signal.SIGKILL)
    ck.ok(r.rc == -signal.SIGKILL, "want death by SIGKILL, got exit %r" % r.rc)
    sent = peer_pongs(target)
    rows = count(db, "SELECT count(*) FROM rtt")
    # the rows of the tick in memory and of at most one write in flight, a pong on the wire
    per_tick = int(TICK_S / 0.1) + 1
    lost = sent - (rows or 0)
    ck.note("peer sent %d pongs, %d RTT rows survived (lost %d, allowed %d)"
            % (sent, rows or 0, lost, 2 * per_tick + 2))
    ck.ok(rows is not None and 0 <= lost <= 2 * per_tick + 2,
          "peer sent %d pongs, the file holds %r RTT rows" % (sent, rows))
    ck.ok(query(db, "PRAGMA integrity_check") == [("ok",)], "integrity_check is not ok")
    att = query(db, "SELECT opened_us IS NOT NULL, ended_us IS NULL, rtt_samples FROM attempts")
    ck.ok(att and att[0][0] == 1 and att[0][1] == 1,
          "want the open attempt's row (opened, not ended), got %r" % (att,))
    # the attempt row is refreshed every tick while open: its sample count is recent
    if att and rows:
        ck.ok(att[0][2] >= rows - per_tick - 1,
              "the attempt row says %d samples, the rtt table %d" % (att[0][2], rows))
    ck.ok(count(db, "SELECT count(*) FROM runs WHERE ended_us IS NULL") == 1,
          "want the killed run without an end")


@suite.test("SIGTERM: everything is written, the attempt and the run are closed")
def sigterm(ck):
    db = db_path("term.db")
    target = "/echo?id=term"
    rec = Rec(ck, ["--db", db, "--ping", PING, "--stats", "-q", S["ws"].url(target)])
    wait_until(lambda: (count(db, "SELECT count(*) FROM rtt") or 0) >= 10, 15)
    r = rec.stop(signal.SIGTERM)
    ck.rc(r, 0)
    try:
        st = json.loads([l for l in r.stdout.split("\n") if l.strip()][-1])
    except (ValueError, IndexError):
        ck.fail("--stats: no JSON line on stdout")
        return
    rows = count(db, "SELECT count(*) FROM rtt")
    ck.ok(rows == st.get("pongs"), "--stats counted %r pongs, the file holds %r RTT rows"
          % (st.get("pongs"), rows))
    att = query(db, "SELECT ended_us IS NOT NULL, close_by, rtt_samples FROM attempts")
    ck.ok(att and att[-1][0] == 1, "want the attempt ended in the file, got %r" % (att,))
    ck.ok(att and att[-1][1] == "client", "want close_by client (we closed), got %r" % (att,))
    ck.ok(count(db, "SELECT count(*) FROM runs WHERE ended_us IS NOT NULL") == 1,
          "want the run ended")
    ck.ok(count(db, "SELECT count(*) FROM events WHERE kind = 'open'") == 1, "want one open event")
    ck.ok(count(db, "SELECT count(*) FROM events WHERE kind = 'closed'") == 1,
          "want one closed event")
    # every sample counted once in the per-minute histograms, and the same rows as
    # tests/bench/history_db.py writes for its synthetic database (its copy of the bucket
    # function, over the real samples the store wrote)
    ck.ok(count(db, "SELECT sum(n) FROM rtt_hist") == rows,
          "rtt_hist counts %r samples, rtt holds %r"
          % (count(db, "SELECT sum(n) FROM rtt_hist"), rows))
    ck.ok(count(db, "SELECT count(*) FROM runs WHERE rtt_hist = 1") == 1,
          "want the run marked as writing rtt_hist")
    v = subprocess.run([sys.executable, os.path.join(harness.SRCDIR, "tests", "bench",
                                                     "history_db.py"), "--verify", db],
                       capture_output=True, text=True, timeout=60)
    ck.ok(v.returncode == 0, "history_db.py --verify: %s %s" % (v.stdout.strip(),
                                                                v.stderr.strip()[-300:]))
    v = subprocess.run([sys.executable, os.path.join(harness.SRCDIR, "tests", "bench",
                                                     "history_db.py"), "--self-test"],
                       capture_output=True, text=True, timeout=60)
    ck.ok(v.returncode == 0, "history_db.py --self-test: %s" % v.stdout.strip())
    mode = stat.S_IMODE(os.stat(db).st_mode)
    ck.ok(mode == 0o600, "database mode %o, want 600" % mode)


@suite.test("default path: $XDG_STATE_HOME/wsmon/history.db, made with its folder, mode 0600")
def default_path(ck):
    state = os.path.join(harness.tmpdir(), "xdg-state")
    db = os.path.join(state, "wsmon", "history.db")
    rec = Rec(ck, ["--ping", PING, "-q", S["ws"].url("/echo?id=default")],
              env_extra={"XDG_STATE_HOME": state})
    wait_until(lambda: (count(db, "SELECT count(*) FROM attempts") or 0) >= 1, 15)
    r = rec.stop(signal.SIGTERM)
    ck.rc(r, 0)
    if not ck.ok(os.path.exists(db), "%s was not created" % db):
        return
    ck.ok(stat.S_IMODE(os.stat(db).st_mode) == 0o600, "database mode %o, want 600"
          % stat.S_IMODE(os.stat(db).st_mode))
    ck.ok(stat.S_IMODE(os.stat(os.path.dirname(db)).st_mode) == 0o700, "folder mode %o, want 700"
          % stat.S_IMODE(os.stat(os.path.dirname(db)).st_mode))
    ck.ok(count(db, "PRAGMA user_version") == 2, "want schema version 2")
    ck.ok(query(db, "PRAGMA journal_mode") == [("wal",)], "want WAL")


@suite.test("secrets in the URL never reach the file")
def secrets(ck):
    db = db_path("secret.db")
    rec = Rec(ck, ["--db", db, "--ping", PING, "-q",
                   S["ws"].url("/echo?id=secret&token=s3cr3tT0ken&x=1")])
    wait_until(lambda: (count(db, "SELECT count(*) FROM attempts WHERE opened_us IS NOT NULL")
                        or 0) >= 1, 15)
    r = rec.stop(signal.SIGTERM)
    ck.rc(r, 0)
    urls = query(db, "SELECT url, name FROM endpoints") or []
    ck.ok(urls and all("token=***" in (u or "") for u, _ in urls),
          "want token=*** in the stored URL, got %r" % (urls,))
    for suffix in ("", "-wal"):
        p = db + suffix
        if os.path.exists(p):
            with open(p, "rb") as f:
                ck.ok(b"s3cr3tT0ken" not in f.read(), "the secret is in %s" % p)


@suite.test("wsmon history and wsmon mark while a recorder writes")
def live(ck):
    if not history_wired() or not mark_wired():
        raise SkipTest("wsmon history / wsmon mark are not wired into ui/main.c yet "
                       "(cmd_history and cmd_mark in ui/cmd_history.h)")
    db = db_path("live.db")
    good = S["ws"].url("/echo?id=live")
    drop = S["ws"].url("/drop?id=livedrop&after=300")
    rec = Rec(ck, ["--db", db, "--ping", PING, "--backoff-min", "200ms", "--backoff-max",
                   "400ms", "-q", good, drop])
    wait_until(lambda: (count(db, "SELECT count(*) FROM attempts WHERE ended_us IS NOT NULL")
                        or 0) >= 3, 15)
    m = harness.run_wsmon(["mark", "--db", db, "deploy", "started"], timeout=10)
    ck.results.append(m)
    ck.rc(m, 0)
    wait_until(lambda: (count(db, "SELECT count(*) FROM attempts WHERE ended_us IS NOT NULL")
                        or 0) >= 6, 15)
    for view in ("summary", "outages", "attempts", "events", "markers"):
        h = harness.run_wsmon(["history", view, "--db", db, "--format", "json"], timeout=15)
        ck.results.append(h)
        ck.rc(h, 0)
        lines = [l for l in h.stdout.split("\n") if l.strip()]
        if not ck.ok(lines, "history %s: no rows while the recorder writes" % view):
            continue
        check_view(ck, view, lines)
        objs = [json.loads(l) for l in lines]
        if view == "summary":
            ck.ok(len(objs) == 2, "want 2 endpoints in the summary, got %d" % len(objs))
        if view == "outages":
            ck.ok(any(o.get("class") == "abnormal-close" and o.get("close_code") == 1006
                      for o in objs), "want an abnormal-close outage (1006) of /drop")
        if view == "markers":
            ck.ok(any(o.get("text") == "deploy started" for o in objs),
                  "want the marker from wsmon mark")
    t = harness.run_wsmon(["history", "summary", "--db", db], timeout=15)
    ck.results.append(t)
    ck.rc(t, 0)
    ck.ok(all(len(l) <= 79 for l in t.stdout.split("\n")), "a table line is over 79 columns")
    r = rec.stop(signal.SIGTERM)
    ck.rc(r, 0)


if __name__ == "__main__":
    suite.run(setup)
