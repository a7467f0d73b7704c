# SPDX-License-Identifier: MIT
"""loopgap.py: the longest time a process's event loop went without polling, from a
`perf record -e syscalls:sys_{enter,exit}_epoll_{wait,pwait,pwait2}` trace.

    perf script -i TRACE | python3 loopgap.py PID

Reads `perf script` lines of the loop thread (tid == PID) and measures each gap between
the return of one epoll call and the start of the next: the time the loop spent running
callbacks without looking for I/O or timers. libuv polls once per iteration (twice with
UV_METRICS_IDLE_TIME: a zero-timeout poll first) and again at once when 1024 events came,
so a gap is at most one iteration's busy time. The same tracer and the same definition for
every client, so wsmon, the floor client and Node are compared alike. Prints one JSON line.

When the trace also has syscalls:sys_{enter,exit}_{fsync,fdatasync} (item 4, the history
database), the fsyncs of the other threads mark the store's checkpoints (in WAL mode with
synchronous=NORMAL SQLite syncs only when it checkpoints): it counts them and reports the
longest loop gap that overlapped one.
"""
import json
import re
import sys

LINE = re.compile(r"^\s*\S.*?\s(\d+)\s+\[\d+\]\s+([\d.]+):\s+syscalls:sys_(enter|exit)_(\w+):")


def main():
    pid = sys.argv[1]
    last_exit = None
    gaps = []          # (start, end, us)
    polls = 0
    t_first = t_last = None
    syncs, sync_open = [], {}
    for line in sys.stdin:
        m = LINE.match(line)
        if not m:
            continue
        tid, t, what, call = m.group(1), float(m.group(2)), m.group(3), m.group(4)
        if call in ("fsync", "fdatasync"):
            if tid == pid:
                continue
            if what == "enter":
                sync_open[tid] = t
            elif tid in sync_open:
                syncs.append((sync_open.pop(tid), t))
            continue
        if tid != pid or not call.startswith("epoll"):
            continue
        if t_first is None:
            t_first = t
        t_last = t
        if m.group(3) == "exit":
            last_exit = t
            polls += 1
        elif last_exit is not None:
            gaps.append((last_exit, t, (t - last_exit) * 1e6))
            last_exit = None
    us = sorted(g[2] for g in gaps)
    out = {"polls": polls, "window_s": round((t_last - t_first), 3) if t_first else 0}
    if us:
        out["gap_max_us"] = round(us[-1])
        out["gap_p999_us"] = round(us[min(len(us) - 1, int(len(us) * 0.999))])
        out["gaps_over_10ms"] = sum(1 for g in us if g > 10000)
        out["busy_s"] = round(sum(us) / 1e6, 3)
    if syncs:
        # fsyncs less than 100 ms apart belong to one checkpoint (the WAL's, then the file's)
        ckpts = []
        for a, b in sorted(syncs):
            if ckpts and a - ckpts[-1][1] < 0.1:
                ckpts[-1][1] = max(ckpts[-1][1], b)
            else:
                ckpts.append([a, b])
        out["checkpoints"] = len(ckpts)
        out["checkpoint_max_ms"] = round(max(b - a for a, b in ckpts) * 1e3, 1)
        during = [g[2] for g in gaps if any(g[0] < b and g[1] > a for a, b in ckpts)]
        out["gap_max_during_checkpoint_us"] = round(max(during)) if during else 0
    print(json.dumps(out))


if __name__ == "__main__":
    main()
