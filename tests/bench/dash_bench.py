# SPDX-License-Identifier: MIT
"""dash_bench.py: item 3 of the benchmark, the dashboard on a pseudo-terminal.

    python3 dash_bench.py --wsmon BIN --config INI --endpoints N --server-log LOG
                          [--size 200x50] [--warm-max 90] [--keys 20] [--perf-events E]

Starts `wsmon watch --no-db --ping 1s -c INI` on a new pseudo-terminal (the size given, TERM
xterm-256color) and drains its output. Once the server's log shows N WebSockets open (or after
--warm-max s) and 2 s more, it presses keys and times the screen: `?` until the help's
"this help" arrives on the terminal, then a space until the table's "ENDPOINT" header is back;
KEYS pairs with 150-350 ms between presses. Meanwhile, when --perf-events names uprobes on
vm_update (entry) and draw_screen (return), `perf record` on the process gives the time to
build and paint each frame (vm_update + vm_build + draw_screen, the terminal write included).
Prints one JSON line.
"""
import argparse
import fcntl
import json
import os
import pty
import random
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import termios
import threading
import time


class Term:
    """The master side of the pty: a reader thread keeps every chunk with its arrival time."""

    def __init__(self, fd):
        self.fd = fd
        self.buf = bytearray()
        self.marks = []  # (offset after the chunk, arrival time)
        self.cv = threading.Condition()
        self.done = False
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                r, _, _ = select.select([self.fd], [], [], 0.5)
                if not r:
                    continue
                b = os.read(self.fd, 65536)
            except OSError:
                b = b""
            t = time.perf_counter()
            with self.cv:
                if not b:
                    self.done = True
                    self.cv.notify_all()
                    return
                self.buf += b
                self.marks.append((len(self.buf), t))
                self.cv.notify_all()

    def wait_for(self, needle, start, timeout):
        """Arrival time of the chunk that completed `needle` after offset start, or None."""
        deadline = time.perf_counter() + timeout
        with self.cv:
            while True:
                i = self.buf.find(needle, start)
                if i >= 0:
                    end = i + len(needle)
                    for off, t in self.marks:
                        if off >= end:
                            return t
                if self.done:
                    return None
                left = deadline - time.perf_counter()
                if left <= 0:
                    return None
                self.cv.wait(left)

    def size(self):
        with self.cv:
            return len(self.buf)


def open_count(log):
    o = c = 0
    try:
        with open(log, errors="replace") as f:
            for line in f:
                if re.search(r" #\d+ open ", line):
                    o += 1
                elif re.search(r" #\d+ close ", line):
                    c += 1
    except OSError:
        pass
    return o - c


def ticks(pid):
    try:
        s = open(f"/proc/{pid}/stat").read()
        f = s[s.rindex(")") + 2:].split()
        return int(f[11]) + int(f[12])
    except (OSError, ValueError):
        return None


def pct(v, p):
    if not v:
        return None
    v = sorted(v)
    return v[min(len(v) - 1, max(0, int(round(p / 100 * len(v) + 0.5)) - 1))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wsmon", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--endpoints", type=int, required=True)
    ap.add_argument("--server-log", required=True)
    ap.add_argument("--size", default="200x50")
    ap.add_argument("--warm-max", type=float, default=90)
    ap.add_argument("--keys", type=int, default=20)
    ap.add_argument("--perf-events", default="")
    a = ap.parse_args()
    cols, rows = (int(x) for x in a.size.split("x"))
    base = open_count(a.server_log)

    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = dict(os.environ, TERM="xterm-256color", LANG="C.UTF-8", LC_ALL="C.UTF-8")
        os.execve(a.wsmon, [a.wsmon, "watch", "--no-db", "--ping", "1s", "-c", a.config], env)
    term = Term(fd)
    t_start = time.perf_counter()
    res = {"item": "dashboard", "endpoints": a.endpoints, "size": a.size}

    # warm-up: every endpoint open on the server, then 2 s
    t_open = None
    while time.perf_counter() - t_start < a.warm_max:
        if open_count(a.server_log) - base >= a.endpoints:
            t_open = time.perf_counter() - t_start
            break
        time.sleep(0.25)
    res["t_all_open_s"] = round(t_open, 2) if t_open is not None else None
    res["open_at_keys"] = open_count(a.server_log) - base
    time.sleep(2)

    perf = None
    perf_file = f"/tmp/dash_bench.{os.getpid()}.perf"
    key_secs = a.keys * 2 * 0.5 + 5
    if a.perf_events:
        perf = subprocess.Popen(["perf", "record", "-q", "-o", perf_file, "-e", a.perf_events,
                                 "-p", str(pid), "--", "sleep", str(key_secs)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
    c0, w0 = ticks(pid), time.perf_counter()

    rnd = random.Random(3)
    lat_help, lat_back, missed = [], [], 0
    for _ in range(a.keys):
        for key, needle, out in ((b"?", b"this help", lat_help), (b" ", b"ENDPOINT", lat_back)):
            time.sleep(rnd.uniform(0.15, 0.35))
            mark = term.size()
            t0 = time.perf_counter()
            os.write(fd, key)
            t1 = term.wait_for(needle, mark, 3.0)
            if t1 is None:
                missed += 1
            else:
                out.append((t1 - t0) * 1e3)
    c1, w1 = ticks(pid), time.perf_counter()
    if c0 is not None and c1 is not None:
        res["cpu_pct"] = round((c1 - c0) / os.sysconf("SC_CLK_TCK") / (w1 - w0) * 100, 1)

    def stats(v):
        return {"n": len(v), "p50_ms": round(statistics.median(v), 2) if v else None,
                "p95_ms": round(pct(v, 95), 2) if v else None,
                "max_ms": round(max(v), 2) if v else None}
    res["key_help"] = stats(lat_help)
    res["key_back"] = stats(lat_back)
    res["key_missed"] = missed

    if perf:
        perf.wait(timeout=key_secs + 30)
        frames = []
        try:
            out = subprocess.run(["perf", "script", "-i", perf_file], capture_output=True,
                                 text=True, timeout=120).stdout
            start = None
            for line in out.splitlines():
                m = re.search(r"\s([\d.]+):\s+(\S+):", line)
                if not m:
                    continue
                t, ev = float(m.group(1)), m.group(2)
                if ev.endswith("__return") or "ret" in ev.split(":")[-1]:
                    if start is not None:
                        frames.append((t - start) * 1e6)
                        start = None
                else:
                    start = t
        except (OSError, subprocess.SubprocessError):
            pass
        try:
            os.unlink(perf_file)
        except OSError:
            pass
        res["frames"] = {"n": len(frames), "p50_us": round(statistics.median(frames)) if frames else None,
                         "p99_us": round(pct(frames, 99)) if frames else None,
                         "max_us": round(max(frames)) if frames else None}

    # quit with q; then make sure
    os.write(fd, b"q")
    deadline = time.time() + 15
    status = None
    while time.time() < deadline:
        p, st = os.waitpid(pid, os.WNOHANG)
        if p:
            status = st
            break
        time.sleep(0.1)
    if status is None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        res["quit"] = "killed"
    else:
        res["quit"] = os.waitstatus_to_exitcode(status)
    print(json.dumps(res))


if __name__ == "__main__":
    sys.exit(main())
