#!/usr/bin/env python3
"""wsmon record (the headless monitor) against real peers on loopback.

Expected values come from README ("wsmon record": backoff, reconnect after the minimum, one
stderr line per state change in the documented format, SIGTERM closes with 1001 and exits 0)
and from `wsmon record --help` (--stats counters, -q, --backoff-min/--backoff-max defaults),
never from wsmon's own output. The --stats line is not a probe object, so check-json.py has no
view for it: its shape (duration_s, opens, closes, pings, pongs, rtt_us{p50,p99,max},
loop_stall_max_us) is checked here. Each scenario tags its URL with ?id=... so that the peer's
record of those very connections can be checked. Periods are measured (the peer's open time,
pipe arrival times); nothing synchronises by sleeping a fixed time.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Suite  # noqa: E402
import peers  # noqa: E402

suite = Suite()
S = {}  # the peers, made in setup()

# README: "2026-11-26T17:03:57.558Z alb CLOSED 1006 by network after 2.0 s: abnormal-close:
# TCP closed (FIN) without a close frame after 2.0 s open: the browser's 1006"
TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
CLOSED_RE = re.compile(r"^(" + TS + r") (\S+) CLOSED (\d+) by (server|client|network|timeout) "
                       r"after ([0-9.]+) ?(ms|s): ([a-z-]+): (.+)$")
OPEN_RE = re.compile(r"^(" + TS + r") (\S+) OPEN\b")
HEALTH_RE = re.compile(r"^(" + TS + r") (\S+) HEALTH (\d{3})\b")

# record --help: "--stats  record: at exit, print one JSON line of counters (pings, pongs,
# RTT p50/p99, longest loop stall)"; the fields as the brief names them.
STATS_INT = ("opens", "closes", "pings", "pongs", "loop_stall_max_us")


def setup():
    S["ws"] = peers.WSServer("127.0.0.1").start()
    suite.at_end(S["ws"].stop)
    suite.at_end(_kill_leftovers)


# -- running wsmon record in the background ----------------------------------------------------

_procs = []


def _kill_leftovers():
    for p in _procs:
        if p.poll() is None:
            p.kill()
            p.wait(5)


class Rec:
    """`wsmon record ARGS` in the background; stdout and stderr read by threads, each line
    with the monotonic time it arrived."""

    def __init__(self, ck, args):
        self.ck = ck
        self.cmd = [harness.WSMON, "record"] + list(args)
        self.res = harness.Result(self.cmd)
        ck.results.append(self.res)
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=harness._env(),
                                  cwd=harness.tmpdir())
        _procs.append(self.p)
        self.out = []  # [(t, bytes)]
        self.err = []
        self.cond = threading.Condition()
        self.threads = [threading.Thread(target=self._read, args=(self.p.stdout, self.out),
                                         daemon=True),
                        threading.Thread(target=self._read, args=(self.p.stderr, self.err),
                                         daemon=True)]
        for t in self.threads:
            t.start()
        self.t_signal = None
        self.t_exit = None

    def _read(self, f, dest):
        for line in iter(f.readline, b""):
            with self.cond:
                dest.append((time.monotonic(), line))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def err_lines(self):
        with self.cond:
            return [(t, l.decode("utf-8", "replace").rstrip("\n")) for t, l in self.err]

    def wait_err(self, pred, timeout):
        """Wait until pred(list of stderr lines) is true; at most timeout seconds."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                lines = [l.decode("utf-8", "replace").rstrip("\n") for _, l in self.err]
                if pred(lines):
                    return True
                left = deadline - time.monotonic()
                if left <= 0 or self.p.poll() is not None and not self._readers_alive():
                    return bool(pred(lines))
                self.cond.wait(min(left, 0.2))

    def _readers_alive(self):
        return any(t.is_alive() for t in self.threads)

    def stop(self, sig=signal.SIGTERM, limit=6.0):
        """Send sig, wait for the exit (at most limit s, then kill). Returns the seconds from
        the signal to the exit."""
        self.t_signal = time.monotonic()
        if self.p.poll() is None:
            self.p.send_signal(sig)
        return self.finish(limit)

    def finish(self, limit):
        try:
            self.p.wait(max(0.5, min(limit, harness.time_left())))
        except subprocess.TimeoutExpired:
            self.res.timed_out = True
            self.ck.fail("wsmon record did not exit within %.1f s (killed)" % limit)
            self.p.kill()
            self.p.wait(5)
        self.t_exit = time.monotonic()
        for t in self.threads:
            t.join(5)
        r = self.res
        r.rc = self.p.returncode
        r.elapsed = self.t_exit - self.t0
        with self.cond:
            r.stdout_b = b"".join(l for _, l in self.out)
            err_b = b"".join(l for _, l in self.err)
        self.err_b = err_b
        try:
            r.stdout = r.stdout_b.decode("utf-8")
        except UnicodeDecodeError as e:
            self.ck.fail("stdout is not valid UTF-8: %s" % e)
            r.stdout = r.stdout_b.decode("utf-8", "replace")
        r.stderr = err_b.decode("utf-8", "replace")
        return self.t_exit - (self.t_signal or self.t_exit)

    def stats(self):
        """The one JSON line --stats prints at exit, checked for shape; None if unusable."""
        ck = self.ck
        lines = [l for l in self.res.stdout.split("\n") if l.strip()]
        if len(lines) != 1:
            ck.fail("--stats: want exactly one line on stdout, got %d" % len(lines))
            if not lines:
                return None
        try:
            st = json.loads(lines[-1])
        except ValueError as e:
            ck.fail("--stats: the stdout line is not JSON: %s" % e)
            return None
        if not isinstance(st, dict):
            ck.fail("--stats: want a JSON object, got %r" % (st,))
            return None
        good = True
        for k in STATS_INT:
            v = st.get(k)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                good = ck.fail("--stats: %s: want an integer >= 0, got %r" % (k, v))
        d = st.get("duration_s")
        if isinstance(d, bool) or not isinstance(d, (int, float)) or d < 0:
            good = ck.fail("--stats: duration_s: want a number >= 0, got %r" % (d,))
        rtt = st.get("rtt_us")
        if not isinstance(rtt, dict):
            good = ck.fail("--stats: rtt_us: want an object {p50, p99, max}, got %r" % (rtt,))
        else:
            # a percentile of no sample is null; with pongs it is a number
            for k in ("p50", "p99", "max"):
                v = rtt.get(k)
                if st.get("pongs") == 0 and v is None:
                    continue
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    good = ck.fail("--stats: rtt_us.%s: want a number (null only without pongs), "
                                   "got %r" % (k, v))
        return st if good else None


def rec(ck, args):
    return Rec(ck, args)


def url(target):
    return S["ws"].url(target)


def conns(target):
    return [c for c in S["ws"].snapshot() if c.target == target]


def wait_opens(target, n, timeout):
    srv = S["ws"]
    srv.wait_for(lambda: sum(1 for c in srv.conns if c.target == target and c.upgraded) >= n,
                 timeout)
    return [c for c in conns(target) if c.upgraded]


def sleep_until(t):
    """Sleep until time.monotonic() reaches t (at once if it has)."""
    left = t - time.monotonic()
    if left > 0:
        time.sleep(left)


def wait_finished(target, timeout=3.0):
    srv = S["ws"]
    srv.wait_for(lambda: all(c.finished for c in srv.conns if c.target == target), timeout)
    return conns(target)


def no_control_bytes(ck, data, what):
    """No C0 byte but newline, no DEL, no C1 (raw 0x80-0x9f is not UTF-8 anyway; encoded in
    UTF-8 as \\xc2\\x80-\\xc2\\x9f)."""
    bad = sorted({b for b in data if (b < 0x20 and b != 0x0A) or b == 0x7F})
    if bad:
        ck.fail("%s holds control bytes %s" % (what, ", ".join("0x%02x" % b for b in bad)))
    if re.search(rb"\xc2[\x80-\x9f]", data):
        ck.fail("%s holds a C1 control character" % what)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        ck.fail("%s is not valid UTF-8 (a raw C1 byte?): %s" % (what, e))


def dur_s(value, unit):
    return float(value) / 1000.0 if unit == "ms" else float(value)


# 1 -------------------------------------------------------------------------------------------

@suite.test("1 ping cadence: --ping 200ms for 2 s on /echo: 7-12 pings, all answered, "
            "the peer saw each one")
def t_cadence(ck):
    target = "/echo?id=r1"
    r = rec(ck, ["--no-db", "-q", "--stats", "--ping", "200ms", url(target)])
    opened = wait_opens(target, 1, 5.0)
    if not ck.ok(opened, "the peer saw no WebSocket open within 5 s"):
        r.stop()
        return
    # let a measured ~2 s pass from the open the peer saw; 2.1 s, half-way between two pings,
    # so that no ping is in flight at the signal (pongs == pings)
    sleep_until(opened[0].t_open + 2.1)
    r.stop()
    ck.rc(r.res, 0)
    st = r.stats()
    cs = wait_finished(target)
    if st is None:
        return
    ck.ok(7 <= st["pings"] <= 12, "--stats pings: want 7..12 in 2 s at --ping 200ms, got %r"
          % st["pings"])
    ck.ok(st["pongs"] == st["pings"], "--stats pongs: want == pings (%r) on a peer that answers "
          "every ping, got %r" % (st["pings"], st["pongs"]))
    ck.ok(st["opens"] == 1, "--stats opens: want 1, got %r" % st["opens"])
    ck.ok(1.8 <= st["duration_s"] <= 4.0, "--stats duration_s: want about 2 (1.8..4), got %r"
          % st["duration_s"])
    ck.ok(len(cs) == 1, "peer: want 1 connection, got %d: %r" % (len(cs), cs))
    if cs:
        ck.ok(len(cs[0].pings) == st["pings"], "peer: saw %d pings, --stats says %r"
              % (len(cs[0].pings), st["pings"]))
        ck.ok(cs[0].unmasked == 0, "peer: %d client frames were not masked" % cs[0].unmasked)
    rtt = st["rtt_us"]
    ck.ok(0 < rtt["p50"] <= rtt["p99"] <= rtt["max"] < 100000,
          "--stats rtt_us: want 0 < p50 <= p99 <= max < 100 ms on loopback, got %r" % (rtt,))
    ck.ok(r.res.stderr == "", "-q: want nothing on stderr, got %r" % r.res.stderr[:300])


@suite.test("1b --stats and SIGUSR2: a \"steady\" object counts from the signal; both stop at "
            "SIGTERM, before the connections are closed")
def t_stats_steady(ck):
    target = "/echo?id=r1b"
    r = rec(ck, ["--no-db", "-q", "--stats", "--ping", "200ms", url(target)])
    opened = wait_opens(target, 1, 5.0)
    if not ck.ok(opened, "the peer saw no WebSocket open within 5 s"):
        r.stop()
        return
    # pings at open + 0.2 s, 0.4 s, ...; the signal half-way between two (open + 1.1 s), the
    # stop too (open + 2.1 s): the steady window holds the 5 pings of 1.2 .. 2.0 s
    sleep_until(opened[0].t_open + 1.1)
    r.p.send_signal(signal.SIGUSR2)
    sleep_until(opened[0].t_open + 2.1)
    r.stop()
    ck.rc(r.res, 0)
    st = r.stats()
    cs = wait_finished(target)
    if st is None:
        return
    sd = st.get("steady")
    if not ck.ok(isinstance(sd, dict), "--stats after SIGUSR2: want a \"steady\" object, got %r"
                 % (sd,)):
        return
    ck.ok(9 <= st["pings"] <= 12, "whole run: want 9..12 pings in 2.1 s, got %r" % st["pings"])
    ck.ok(4 <= sd["pings"] <= 6, "steady: want 4..6 pings in the last 1.0 s, got %r"
          % sd["pings"])
    ck.ok(sd["pongs"] == sd["pings"], "steady: want pongs == pings, got %r / %r"
          % (sd["pongs"], sd["pings"]))
    ck.ok(st["opens"] == 1 and sd["opens"] == 0, "opens: want 1 over the run and 0 in the "
          "steady window, got %r and %r" % (st["opens"], sd["opens"]))
    # the 1001 close at exit comes after the figures stop (the peer still sees it)
    ck.ok(st["closes"] == 0 and sd["closes"] == 0, "closes: want 0 (counted up to SIGTERM), got "
          "%r and %r" % (st["closes"], sd["closes"]))
    ck.ok(0.9 <= sd["duration_s"] <= 1.6, "steady duration_s: want about 1.0 (0.9..1.6), got %r"
          % sd["duration_s"])
    ck.ok(sd["duration_s"] < st["duration_s"], "steady duration_s %r: want less than the run's %r"
          % (sd["duration_s"], st["duration_s"]))
    rtt = sd["rtt_us"]
    ck.ok(isinstance(rtt, dict) and rtt.get("p50") is not None and
          0 < rtt["p50"] <= rtt["p99"] <= rtt["max"] < 100000,
          "steady rtt_us: want 0 < p50 <= p99 <= max < 100 ms, got %r" % (rtt,))
    ck.ok(isinstance(sd.get("loop_stall_max_us"), int) and
          0 <= sd["loop_stall_max_us"] <= st["loop_stall_max_us"],
          "loop_stall_max_us: want steady (%r) <= whole run (%r)"
          % (sd.get("loop_stall_max_us"), st["loop_stall_max_us"]))
    ck.ok(len(cs) == 1, "peer: want 1 connection, got %d: %r" % (len(cs), cs))
    if cs:
        ck.ok(len(cs[0].pings) == st["pings"], "peer: saw %d pings, --stats says %r"
              % (len(cs[0].pings), st["pings"]))
        ck.ok(cs[0].close_received is not None and cs[0].close_received[0] == 1001,
              "peer: want the 1001 close at exit, got %r" % (cs[0].close_received,))


# 2 -------------------------------------------------------------------------------------------

@suite.test("2 --connections 5: five connections at the peer, about 5x the pings")
def t_connections(ck):
    target = "/echo?id=r2"
    r = rec(ck, ["--no-db", "-q", "--stats", "--ping", "200ms", "--connections", "5",
                 url(target)])
    opened = wait_opens(target, 5, 5.0)
    if not ck.ok(len(opened) >= 5, "the peer saw %d WebSocket opens within 5 s, want 5"
                 % len(opened)):
        r.stop()
        return
    left = min(c.t_open for c in opened) + 2.1 - time.monotonic()  # as in 1
    if left > 0:
        time.sleep(left)
    r.stop()
    ck.rc(r.res, 0)
    st = r.stats()
    cs = wait_finished(target)
    ck.ok(len(cs) == 5, "peer: want exactly 5 connections, got %d" % len(cs))
    peer_pings = sum(len(c.pings) for c in cs)
    for c in cs:
        ck.ok(7 <= len(c.pings) <= 13, "peer: connection %d saw %d pings, want about 10 (7..13)"
              % (c.id, len(c.pings)))
    if st is None:
        return
    ck.ok(st["opens"] == 5, "--stats opens: want 5, got %r" % st["opens"])
    ck.ok(35 <= st["pings"] <= 65, "--stats pings: want about 5 x 10 (35..65), got %r"
          % st["pings"])
    ck.ok(st["pongs"] == st["pings"], "--stats pongs: want == pings (%r), got %r"
          % (st["pings"], st["pongs"]))
    ck.ok(peer_pings == st["pings"], "peer: saw %d pings in all, --stats says %r"
          % (peer_pings, st["pings"]))


# 3 -------------------------------------------------------------------------------------------

def _signal_test(ck, sig, target):
    r = rec(ck, ["--no-db", "-q", "--stats", "--ping", "200ms", "--connections", "3",
                 url(target)])
    opened = wait_opens(target, 3, 5.0)
    if not ck.ok(len(opened) >= 3, "the peer saw %d WebSocket opens within 5 s, want 3"
                 % len(opened)):
        r.stop()
        return
    took = r.stop(sig)
    ck.rc(r.res, 0)
    ck.ok(took < 3.0, "exit %.2f s after the signal, want < 3 s" % took)
    ck.note("exit %.3f s after %s" % (took, signal.Signals(sig).name))
    r.stats()
    cs = wait_finished(target)
    ck.ok(len(cs) == 3, "peer: want 3 connections, got %d" % len(cs))
    for c in cs:
        ck.ok(c.close_received is not None and c.close_received[0] == 1001,
              "peer: connection %d: want a close frame with 1001 (README: SIGTERM or SIGINT "
              "closes the connections with 1001), got %r" % (c.id, c.close_received))


@suite.test("3 SIGTERM: exit 0 within 3 s, a close frame 1001 on every connection")
def t_sigterm(ck):
    _signal_test(ck, signal.SIGTERM, "/echo?id=r3")


@suite.test("3b SIGINT: the same as SIGTERM")
def t_sigint(ck):
    _signal_test(ck, signal.SIGINT, "/echo?id=r3b")


@suite.test("3c SIGTERM while the upgrade is pending (/hang): exit 0 with the --stats line")
def t_sigterm_connecting(ck):
    # README: "SIGTERM or SIGINT closes the connections with 1001 (waiting up to 2 s) and exits
    # 0"; record --help: "SIGTERM or SIGINT closes the connections, flushes and exits 0". An
    # attempt still waiting for its 101 is one of the connections.
    target = "/hang?id=r3c"
    r = rec(ck, ["--no-db", "-q", "--stats", url(target)])
    srv = S["ws"]
    seen = srv.wait_for(lambda: any(c.target == target and c.request_done for c in srv.conns),
                        5.0)
    if not ck.ok(seen, "the peer saw no upgrade request within 5 s"):
        r.stop()
        return
    took = r.stop()
    ck.note("exit %.3f s after SIGTERM, status %r" % (took, r.res.rc))
    ck.rc(r.res, 0)
    ck.ok(took < 3.0, "exit %.2f s after SIGTERM, want < 3 s" % took)
    st = r.stats()
    if st is not None:
        ck.ok(st["opens"] == 0, "--stats opens: want 0 (never opened), got %r" % st["opens"])


# 4 -------------------------------------------------------------------------------------------

def _reconnect(ck, target, extra, period, lo, hi, gap_lo, gap_hi):
    """Count opens at the peer for period s from the first open; each reopen must come
    gap_lo..gap_hi s after the server's close of the previous connection."""
    r = rec(ck, ["--no-db", "-q", "--stats", "--ping", "200ms"] + extra + [url(target)])
    first = wait_opens(target, 1, 5.0)
    if not ck.ok(first, "the peer saw no WebSocket open within 5 s"):
        r.stop()
        return
    t_first = first[0].t_open
    left = t_first + period - time.monotonic()
    if left > 0:
        time.sleep(left)
    opens = [c.t_open for c in conns(target) if c.upgraded and c.t_open <= t_first + period]
    r.stop()
    ck.rc(r.res, 0)
    st = r.stats()
    n = len(opens)
    ck.note("opens within %.1f s: %d at +%s s" % (period, n, ", +".join(
        "%.2f" % (t - t_first) for t in opens)))
    ck.ok(lo <= n <= hi, "peer: want %d..%d opens within %.1f s of the first, got %d"
          % (lo, hi, period, n))
    # the server closes 0.1 s after each open; the next open follows after the backoff
    for a, b in zip(opens, opens[1:]):
        gap = b - (a + 0.1)
        ck.ok(gap_lo <= gap <= gap_hi, "reconnect %.3f s after the server's close, want "
              "%.2f..%.2f s" % (gap, gap_lo, gap_hi))
    if st is not None:
        ck.ok(st["opens"] >= n, "--stats opens: want >= %d (the peer's count), got %r"
              % (n, st["opens"]))


@suite.test("4 reconnect after a server close: default --backoff-min 1s -> 3..4 opens in 3.5 s")
def t_reconnect_default(ck):
    # README: "a connection that had opened is retried after the minimum" (default 1 s),
    # jitter +-20%
    _reconnect(ck, "/close/1000?after=100&id=r4", [], 3.5, 3, 4, 0.75, 1.5)


@suite.test("4b reconnect with --backoff-min 200ms: 6..9 opens in 2 s")
def t_reconnect_fast(ck):
    _reconnect(ck, "/close/1000?after=100&id=r4b", ["--backoff-min", "200ms"], 2.0, 6, 9,
               0.14, 0.5)


# 5 -------------------------------------------------------------------------------------------

@suite.test("5 backoff on a refused port: 200ms doubling to the 800ms cap (jitter +-20%)")
def t_backoff(ck):
    port = peers.refused_port()
    u = "ws://127.0.0.1:%d/echo" % port
    r = rec(ck, ["--no-db", "--stats", "--backoff-min", "200ms", "--backoff-max", "800ms", u])
    try:
        r.p.wait(4.0)  # a measured period of 4 s (wsmon must not exit by itself)
        ck.fail("wsmon record exited by itself within 4 s")
    except subprocess.TimeoutExpired:
        pass
    took = r.stop()
    ck.note("exit %.3f s after SIGTERM (in backoff, no connection open)" % took)
    ck.rc(r.res, 0)
    ck.ok(took < 3.0, "exit %.2f s after SIGTERM, want < 3 s" % took)
    closed = [(t, CLOSED_RE.match(l)) for t, l in r.err_lines() if " CLOSED " in l]
    for t, m in closed:
        if not ck.ok(m is not None, "a CLOSED line not in README's format"):
            return
    ck.ok(all(m.group(7) == "tcp-refused" for _, m in closed),
          "want class tcp-refused on every CLOSED line, got %r"
          % sorted({m.group(7) for _, m in closed}))
    ck.ok(all(m.group(3) == "1006" and m.group(4) == "network" for _, m in closed),
          "want 'CLOSED 1006 by network' on every refused attempt")
    times = [t for t, _ in closed]
    gaps = [b - a for a, b in zip(times, times[1:])]
    ck.note("CLOSED gaps (s): " + " ".join("%.3f" % g for g in gaps))
    # 0, .2, .6, 1.4, 2.2, 3.0, 3.8: about 7 attempts in 4 s
    if not ck.ok(5 <= len(times) <= 9, "want 5..9 attempts (CLOSED lines) in 4 s, got %d"
                 % len(times)):
        return
    ck.ok(0.12 <= gaps[0] <= 0.35, "1st retry after %.3f s, want about 0.2 (0.12..0.35)"
          % gaps[0])
    ck.ok(0.25 <= gaps[1] <= 0.6, "2nd retry after %.3f s, want about 0.4 (0.25..0.6)"
          % gaps[1])
    ck.ok(gaps[1] > gaps[0], "the backoff does not grow: %.3f then %.3f s" % tuple(gaps[:2]))
    capped = gaps[2:]
    ck.ok(len(capped) >= 2, "want at least 2 gaps at the cap, got %d" % len(capped))
    for g in capped:
        ck.ok(0.6 <= g <= 1.05, "gap %.3f s at the cap, want 800 ms +-20%% (0.6..1.05 with "
              "slack)" % g)


# 6 -------------------------------------------------------------------------------------------

@suite.test("6 state log: OPEN, then 'CLOSED 1011 by server after ~300 ms: closed-by-server'")
def t_log(ck):
    target = "/close/1011?after=300&reason=x&id=r6"
    r = rec(ck, ["--no-db", "--ping", "200ms", url(target)])
    r.wait_err(lambda ls: any(" CLOSED " in l for l in ls), 5.0)
    r.stop()
    ck.rc(r.res, 0)
    lines = [l for _, l in r.err_lines()]
    opens = [(i, OPEN_RE.match(l)) for i, l in enumerate(lines) if OPEN_RE.match(l)]
    closes = [(i, CLOSED_RE.match(l)) for i, l in enumerate(lines) if " CLOSED " in l]
    if not ck.ok(opens, "no OPEN line on stderr") or \
            not ck.ok(closes, "no CLOSED line on stderr"):
        return
    i_open, mo = opens[0]
    i_close, mc = closes[0]
    if not ck.ok(mc is not None, "the CLOSED line is not in README's format "
                 "'TIME NAME CLOSED CODE by BY after DUR: CLASS: VERDICT': %r" % lines[i_close]):
        return
    ck.ok(i_open < i_close, "the OPEN line does not come before the CLOSED line")
    ck.ok(mo.group(2) == mc.group(2), "OPEN and CLOSED name the endpoint differently: %r, %r"
          % (mo.group(2), mc.group(2)))
    ck.ok(mc.group(3) == "1011", "CLOSED code: want 1011, got %s" % mc.group(3))
    ck.ok(mc.group(4) == "server", "CLOSED by: want server, got %s" % mc.group(4))
    ck.ok("CLOSED 1011 by server" in lines[i_close], "want 'CLOSED 1011 by server' in %r"
          % lines[i_close])
    d = dur_s(mc.group(5), mc.group(6))
    ck.ok(0.25 <= d <= 0.8, "CLOSED after %.3f s, want about 0.3 (0.25..0.8)" % d)
    ck.ok(mc.group(7) == "closed-by-server", "class: want closed-by-server, got %s"
          % mc.group(7))
    ck.ok(mc.group(8).strip() != "", "no verdict after the class")


# 7 -------------------------------------------------------------------------------------------

@suite.test("7 --health: a 'HEALTH 200' line for /status/200, 'HEALTH 503' for /status/503")
def t_health(ck):
    srv = S["ws"]
    runs = []
    for code in (200, 503):
        hurl = "http://127.0.0.1:%d/status/%d?id=r7" % (srv.port, code)
        runs.append((code, rec(ck, ["--no-db", "--ping", "1s", "--health", hurl,
                                    url("/echo?id=r7-%d" % code)])))
    for code, r in runs:
        want = " HEALTH %d" % code
        r.wait_err(lambda ls, want=want: any(want in l for l in ls), 5.0)
    for code, r in runs:
        r.stop()
        ck.rc(r.res, 0)
        hl = [HEALTH_RE.match(l) for _, l in r.err_lines() if " HEALTH " in l]
        ck.ok(any(m and m.group(3) == str(code) for m in hl),
              "--health /status/%d: want a line 'TIME NAME HEALTH %d ...', got %r"
              % (code, code, [m.group(0) if m else None for m in hl]))
        ck.ok(not any(m and m.group(3) != str(code) for m in hl),
              "--health /status/%d: a HEALTH line with another status" % code)
        got = [c for c in srv.requests("/status/%d" % code) if c.query.get("id") == "r7"]
        if ck.ok(got, "peer: no request for /status/%d" % code):
            ck.ok(got[0].method == "GET", "peer: health request method %r, want GET"
                  % got[0].method)


# 8 -------------------------------------------------------------------------------------------

@suite.test("8 usage errors: exit 2, a message on stderr, nothing on stdout, no connection")
def t_usage(ck):
    u = url("/echo?id=r8")
    cases = [
        (["--json", u], "--json is a probe-only option"),
        ([], "no URL and no config file"),
        (["--no-db", "--backoff-min", "5s", "--backoff-max", "1s", u],
         "--backoff-min above --backoff-max"),
        (["--no-db", "--ping", "soon", u], "a bad duration"),
        (["--no-db", "--bogus-option", u], "an unknown option"),
    ]
    for args, why in cases:
        r = harness.run_wsmon(["record"] + args, timeout=5.0)
        ck.results.append(r)
        if r.timed_out:
            ck.fail("record %s (%s): still running after 5 s" % (" ".join(args), why))
            continue
        if r.rc != 2:
            ck.fail("record %s (%s): exit %r, want 2" % (" ".join(args), why, r.rc))
        if not r.stderr.strip():
            ck.fail("record %s (%s): no message on stderr" % (" ".join(args), why))
        if r.stdout.strip():
            ck.fail("record %s (%s): want nothing on stdout, got %r" % (" ".join(args), why,
                                                                        r.stdout[:200]))
    S["ws"].sync()
    ck.ok(not conns("/echo?id=r8"), "peer: a usage error still connected to the URL")


# 9 -------------------------------------------------------------------------------------------

@suite.test("9 a hostile close reason (/evilclose) is escaped on stderr")
def t_evil(ck):
    r = rec(ck, ["--no-db", "--ping", "1s", "--backoff-min", "1s", url("/evilclose?id=r9")])
    r.wait_err(lambda ls: any(" CLOSED " in l for l in ls), 5.0)
    r.stop()
    ck.rc(r.res, 0)
    lines = [l for _, l in r.err_lines()]
    closed = [l for l in lines if " CLOSED 1008 " in l]
    ck.ok(closed, "no 'CLOSED 1008' line on stderr")
    no_control_bytes(ck, r.err_b, "stderr")
    if closed:
        ck.ok("policy" in closed[0] and "red" in closed[0],
              "the CLOSED line does not show the (escaped) reason %r" % peers.EVIL_REASON)


if __name__ == "__main__":
    suite.run(setup)
