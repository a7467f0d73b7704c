# SPDX-License-Identifier: MIT
"""report.py: the benchmark's tables (markdown) from run.sh's records.

    python3 report.py results.jsonl machine.json GIT_HEAD DIRTY_FILES
"""
import json
import math
import statistics
import sys

TARGET_CPU_PCT = 20.0
TARGET_P99_US = 5000
TARGET_STALL_US = 10000
TARGET_MEM_RATIO = 5.0
TARGET_ERR_US = 50

NAMES = {"wsmon": "wsmon record", "floor": "floor (lws, libuv)",
         "floor-rx128": "floor, 128-byte rx buffer", "node": "Node ws"}
ORDER = ["wsmon", "floor", "floor-rx128", "node"]


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def fmt(v, nd=1, unit=""):
    if v is None:
        return "—"
    if isinstance(v, float) and math.isnan(v):
        return "—"
    return f"{v:.{nd}f}{unit}"


def ms(us, nd=2):
    if us is None or us < 0:
        return "—"
    return f"{us / 1000:.{nd}f}"


def get(d, *path):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def wsmon_bucket_us(v):
    """Width of the `wsmon record --stats` histogram bucket holding v us (256 per octave)."""
    if v is None or v < 512:
        return 1
    return 2 ** (int(math.log2(v)) - 8)


def scale_rows(recs):
    """One row per (n, client): medians over repeated runs."""
    groups = {}
    for r in recs:
        groups.setdefault((r["n"], r["client"]), []).append(r)
    rows = []
    for (n, client) in sorted(groups, key=lambda k: (k[0], ORDER.index(k[1]) if k[1] in ORDER else 9)):
        rs = groups[(n, client)]
        j = [r.get("json") or {} for r in rs]
        row = {
            "n": n, "client": client, "runs": len(rs),
            "crashed": [r["exit_status"] for r in rs if r["exit_status"] not in (0,)],
            "t_open": med([r.get("t_all_open_s") for r in rs]),
            "opened_all": all(r.get("t_all_open_s") is not None for r in rs),
            "open_at_end": med([r.get("open_at_end") for r in rs]),
            "warm_max": med([r.get("warm_max_s") for r in rs]),
            # wsmon's --stats counts closes up to SIGTERM only: every one is a failed
            # handshake or a dropped connection
            "failed": med([x.get("closes", 0) if client == "wsmon" and x
                           else x.get("errors") for x in j]),
            "cpu": med([r.get("cpu_pct") for r in rs]),
            "cpu_all": [r.get("cpu_pct") for r in rs],
            "loop_cpu": med([r.get("loop_cpu_pct") for r in rs]),
            "srv_cpu": med([r.get("server_cpu_pct") for r in rs]),
            "others": max([r.get("others_cpu_pct") or 0 for r in rs]),
            "rss_kb": med([r.get("rss_kb") for r in rs]),
            "srv_rss_kb": med([r.get("server_rss_kb") for r in rs]),
            "pings_s": med([r.get("server_pings_per_s") for r in rs]),
            "pongs_s": med([r.get("server_pongs_per_s") for r in rs]),
            "pings": med([x.get("pings") for x in j]),
            "pongs": med([x.get("pongs") for x in j]),
            "unanswered": med([(x.get("pings") - x.get("pongs")) if x.get("pings") is not None else None for x in j]),
            "p50": med([get(x, "rtt_us", "p50") for x in j]),
            "p99": med([get(x, "rtt_us", "p99") for x in j]),
            "max": med([get(x, "rtt_us", "max") for x in j]),
            "sp50": med([get(x, "steady", "rtt_us", "p50") for x in j]),
            "sp99": med([get(x, "steady", "rtt_us", "p99") for x in j]),
            "stall": med([x.get("loop_stall_max_us") for x in j]),
            "gap": med([get(r, "gap", "gap_max_us") for r in rs]),
            "gap_over": med([get(r, "gap", "gaps_over_10ms") for r in rs]),
            "no_json": sum(1 for x in j if not x),
            "stderr": [t for r in rs for t in r.get("stderr_tail", [])][-2:],
        }
        rows.append(row)
    return rows


def main():
    res, machine, head, dirty = sys.argv[1:5]
    recs = [json.loads(l) for l in open(res) if l.strip()]
    m = json.load(open(machine))
    scale = [r for r in recs if r.get("item") == "scale" and r.get("client") != "wsmon-db"]
    rec_db = [r for r in recs if r.get("item") == "scale" and r.get("client") == "wsmon-db"]
    acc = [r for r in recs if r.get("item") == "accuracy"]
    dash = sorted((r for r in recs if r.get("item") == "dashboard"), key=lambda r: r["endpoints"])
    histo = [r for r in recs if r.get("item") == "history"]
    out = []
    w = out.append

    w("## Machine\n")
    w(f"- {m['nproc']} CPUs ({m['cpu']}), {m['mem_gib']} GiB, Linux {m['kernel']}, "
      f"`ulimit -n` {m['nofile']}; run at {m['date']}")
    pk = ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
    w(f"- {m['wsmon_version']} (git {head}, {dirty} modified tracked files under src/ ui/); "
      f"node {m.get('node') or 'absent'}; {pk}")
    w(f"- loop gaps traced with perf: {'yes' if m.get('perf') else 'no (perf unusable)'}\n")

    rows = scale_rows(scale)
    if rows:
        secs = med([r.get("window_s") for r in scale])
        w(f"## 1. Scale: N connections, one ping per second each ({fmt(secs, 0)} s steady state)\n")
        w("| N | client | runs | all open after s | failed handshakes | CPU % of a core | "
          "server CPU % | RSS MiB | RSS/conn kB | pings/s (server) | pongs/s | unanswered | "
          "RTT p50 / p99 ms (run) | RTT p50 / p99 ms (steady) | stall since start ms | "
          "loop gap max ms (steady) | others' CPU % |")
        w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            cpu = fmt(r["cpu"])
            if r["runs"] > 1:
                vals = [v for v in r["cpu_all"] if v is not None]
                if vals:
                    cpu += f" ({min(vals):.1f}–{max(vals):.1f})"
            opened = (fmt(r["t_open"]) if r["opened_all"] else
                      f"not within {fmt(r['warm_max'], 0)} s ({fmt(r['open_at_end'], 0)} at the end)")
            rss_conn = r["rss_kb"] / r["n"] if r["rss_kb"] else None
            name = NAMES.get(r["client"], r["client"])
            if r["crashed"]:
                name += f" (exit {r['crashed'][0]})"
            w(f"| {r['n']} | {name} | {r['runs']} | {opened} | {fmt(r['failed'], 0)} | {cpu} | "
              f"{fmt(r['srv_cpu'])} | "
              f"{fmt(r['rss_kb'] / 1024 if r['rss_kb'] else None)} | {fmt(rss_conn, 2)} | "
              f"{fmt(r['pings_s'], 0)} | {fmt(r['pongs_s'], 0)} | "
              f"{fmt(r['unanswered'], 0)} of {fmt(r['pings'], 0)} | "
              f"{ms(r['p50'])} / {ms(r['p99'])} | {ms(r['sp50'])} / {ms(r['sp99'])} | "
              f"{ms(r['stall'], 1)} | {ms(r['gap'], 1)} | {fmt(r['others'])} |")
        w("")
        w("Medians over the runs (CPU: median and range). *CPU* from utime+stime over the steady "
          "window; *RSS* at its end; *pings/s* and *pongs/s*: data segments the server's sockets "
          "received and sent per second over the window (kernel counters, same for every "
          "client); *unanswered*: pings − pongs in the client's own JSON (whole run, in-flight "
          "pings at SIGTERM included). *RTT (run)*: the client's whole run (wsmon's "
          "histogram has 256 buckets per octave); *RTT (steady)*: every client from SIGUSR2 on "
          "(sent at the start of the steady window). *Stall since start*: the "
          "client's own figure: wsmon's longest busy loop iteration from start to exit "
          "(connect burst and shutdown included), the floor's from start to SIGTERM (connect "
          "burst included), Node's largest event-loop delay (perf_hooks). *Loop gap*: longest "
          "time between two epoll calls of the loop thread over a separate traced window after "
          "the steady window (loopgap.py), the same for all three. *Others' CPU*: what the rest of "
          "the machine used during the window (the largest over the runs): other people's jobs "
          "share this machine.\n")

        # ratios and per-connection memory
        byc = {}
        for r in rows:
            byc.setdefault(r["client"], {})[r["n"]] = r
        ns = sorted({r["n"] for r in rows})
        w("### Ratios in the same run (wsmon ÷ peer)\n")
        w("| N | CPU wsmon ÷ floor | CPU wsmon ÷ Node | RSS wsmon ÷ floor | RSS wsmon ÷ Node |")
        w("|---|---|---|---|---|")

        def ratio(a, b, k):
            if not a or not b or not a.get(k) or not b.get(k):
                return "—"
            return f"{a[k] / b[k]:.2f}"
        for n in ns:
            ws, fl, nd = (byc.get(c, {}).get(n) for c in ("wsmon", "floor", "node"))
            w(f"| {n} | {ratio(ws, fl, 'cpu')} | {ratio(ws, nd, 'cpu')} | "
              f"{ratio(ws, fl, 'rss_kb')} | {ratio(ws, nd, 'rss_kb')} |")
        w("")
        marg = {}
        if len(ns) >= 2:
            lo, hi = ns[0], ns[-1]
            w(f"### Memory per connection (RSS growth from N={lo} to N={hi})\n")
            w("| client | kB per connection |")
            w("|---|---|")
            for c in ORDER:
                a = byc.get(c, {}).get(lo) or (byc.get("floor", {}).get(lo) if c == "floor-rx128" else None)
                b = byc.get(c, {}).get(hi)
                if a and b and a.get("rss_kb") and b.get("rss_kb") and (b.get("open_at_end") or 0) >= hi:
                    marg[c] = (b["rss_kb"] - a["rss_kb"]) / (hi - lo)
                    w(f"| {NAMES[c]} | {marg[c]:.2f} |")
            w("")

        # targets at the largest N: wsmon judged, the peers for reference
        hi = ns[-1]
        cols = [c for c in ("wsmon", "floor", "node") if hi in byc.get(c, {})]
        w(f"### Targets at N={hi} (judged for wsmon; the peers for reference)\n")
        w("| target | " + " | ".join(NAMES[c] for c in cols) + " |")
        w("|---|" + "---|" * len(cols))

        def ok(b, c):
            if c != "wsmon":
                return ""
            return " **met**" if b else " **missed**"

        def cell(c, f):
            r = byc[c][hi]
            return f(r, c)
        nd_m = marg.get("node")
        checks = [
            ("CPU under 20% of one core (steady window)",
             lambda r, c: f"{fmt(r['cpu'])}%" + ok(r["cpu"] is not None and r["cpu"] < TARGET_CPU_PCT and r["opened_all"], c)),
            ("all N open, every ping answered (N pongs/s)",
             lambda r, c: (f"{'all open' if r['opened_all'] else 'not all open'}, "
                           f"{fmt(r['pongs_s'], 0)} pongs/s, {fmt(r['unanswered'], 0)} unanswered") +
             ok(r["opened_all"] and r["pings"] and r["unanswered"] is not None and
                r["unanswered"] <= max(1, 0.001 * r["pings"]) and (r["pongs_s"] or 0) >= 0.98 * r["n"], c)),
            ("RTT p99 under 5 ms, steady window (from SIGUSR2)",
             lambda r, c: f"{ms(r['sp99'])} ms" + ok(r["sp99"] is not None and 0 <= r["sp99"] < TARGET_P99_US, c)),
            ("RTT p99 under 5 ms, whole run (connect burst included)",
             lambda r, c: f"{ms(r['p99'])} ms" + ok(r["p99"] is not None and 0 <= r["p99"] < TARGET_P99_US, c)),
            ("no loop stall over 10 ms, steady state (perf)",
             lambda r, c: f"{ms(r['gap'], 1)} ms" + ok(r["gap"] is not None and r["gap"] <= TARGET_STALL_US and r["opened_all"], c)),
            ("no loop stall over 10 ms, from start (own figure)",
             lambda r, c: f"{ms(r['stall'], 1)} ms" + ok(r["stall"] is not None and r["stall"] <= TARGET_STALL_US, c)),
            ("memory per connection ≤ Node's ÷ 5",
             lambda r, c: (f"{marg[c]:.2f} kB" + (ok(marg[c] * TARGET_MEM_RATIO <= nd_m, c) if nd_m else ""))
             if c in marg else "—"),
        ]
        for name, f in checks:
            w(f"| {name} | " + " | ".join(cell(c, f) for c in cols) + " |")
        w("")

    if acc:
        w("## 2. RTT accuracy (same server, a ping every 100 ms)\n")
        by = {(r["target"], r["client"]): r for r in acc}
        targets = []
        for r in acc:
            if r["target"] not in targets:
                targets.append(r["target"])
        delay = acc[0].get("delay_us", 0)

        def p50(t, c):
            r = by.get((t, c))
            if not r or not r.get("json"):
                return None
            if c == "probe":
                v = get(r["json"], "rtt_ms", "median")
                return v * 1000 if v is not None else None
            return get(r["json"], "rtt_us", "p50")

        def diff(a, b):
            return f"{a - b:+.0f}" if a is not None and b is not None else "—"
        w("| path | floor, 10 conns: p50 µs | wsmon record --stats, 10 conns: p50 µs (bucket) | "
          "record − floor | floor, 1 conn: p50 µs | wsmon probe --json, 1 conn: median µs | "
          "probe − floor |")
        w("|---|---|---|---|---|---|---|")
        for t in targets:
            f, rw, f1, pr = p50(t, "floor"), p50(t, "wsmon"), p50(t, "floor1"), p50(t, "probe")
            w(f"| {t} | {fmt(f, 0)} | {fmt(rw, 1)} ({wsmon_bucket_us(rw)}) | {diff(rw, f)} | "
              f"{fmt(f1, 0)} | {fmt(pr, 0)} | {diff(pr, f1)} |")
        w("")
        dt = f"proxy{delay}"
        if dt in targets and "proxy0" in targets:
            w(f"Known delay: {delay} µs each way, {2 * delay} µs per round trip. *Residual* = p50 "
              f"through the delaying proxy − p50 through the same proxy without delay − "
              f"{2 * delay} µs; the floor's residual is the proxy's own timer latency, so a "
              f"client's *error* is its residual minus the floor's (same number of "
              f"connections).\n")
            w("| client | residual µs | error µs |")
            w("|---|---|---|")
            res = {}
            for c in ("floor", "wsmon", "floor1", "probe"):
                a, b = p50(dt, c), p50("proxy0", c)
                res[c] = a - b - 2 * delay if a is not None and b is not None else None
            names = {"floor": "floor, 10 conns", "wsmon": "wsmon record --stats, 10 conns",
                     "floor1": "floor, 1 conn", "probe": "wsmon probe --json, 1 conn"}
            ref = {"wsmon": "floor", "probe": "floor1"}
            for c in ("floor", "wsmon", "floor1", "probe"):
                e = diff(res[c], res[ref[c]]) if c in ref and res[c] is not None else "—"
                w(f"| {names[c]} | {fmt(res[c], 0)} | {e} |")
            w("")
        f, rw = p50("direct", "floor"), p50("direct", "wsmon")
        f1, pr = p50("direct", "floor1"), p50("direct", "probe")
        if f is not None and rw is not None:
            e = abs(rw - f)
            w(f"Target: wsmon's median RTT within 50 µs of the floor client's on the same server: "
              f"record --stats {e:.0f} µs, {'**met**' if e < TARGET_ERR_US else '**missed**'}"
              + (f"; probe (exact median) {abs(pr - f1):.0f} µs, "
                 f"{'**met**' if abs(pr - f1) < TARGET_ERR_US else '**missed**'}" if f1 is not None and pr is not None else "")
              + ".\n")
    # ---- item 3: dashboard
    if dash:
        w("## 3. Dashboard: `wsmon watch` on a pseudo-terminal (200×50)\n")
        w("| endpoints | all open after s | CPU % (while pressing keys) | frame p50 / p99 / max ms (frames) | "
          "key `?` → help p50 / p95 / max ms | key → table p50 / p95 / max ms | keys unanswered in 3 s |")
        w("|---|---|---|---|---|---|---|")
        for r in dash:
            f = r.get("frames") or {}
            kh, kb = r.get("key_help") or {}, r.get("key_back") or {}

            def k(x):
                return f"{fmt(x.get('p50_ms'), 1)} / {fmt(x.get('p95_ms'), 1)} / {fmt(x.get('max_ms'), 1)}"
            w(f"| {r['endpoints']} | {fmt(r.get('t_all_open_s'))} | {fmt(r.get('cpu_pct'))} | "
              f"{ms(f.get('p50_us'))} / {ms(f.get('p99_us'))} / {ms(f.get('max_us'))} ({f.get('n', 0)}) | "
              f"{k(kh)} | {k(kb)} | {r.get('key_missed')} |")
        w("")
        big = max(dash, key=lambda r: r["endpoints"])
        f = big.get("frames") or {}
        kh, kb = big.get("key_help") or {}, big.get("key_back") or {}
        p95 = [x.get("p95_ms") for x in (kh, kb) if x.get("p95_ms") is not None]
        if f.get("p50_us") is not None:
            w(f"Targets at {big['endpoints']} endpoints: frame under 2 ms: p50 {ms(f['p50_us'])} ms, "
              f"p99 {ms(f['p99_us'])} ms, {'**met**' if f['p99_us'] < 2000 else '**missed**'} "
              f"(judged on p99); keypress to screen under 50 ms: p95 "
              f"{fmt(max(p95) if p95 else None, 1)} ms, "
              f"{'**met**' if p95 and max(p95) < 50 and not big.get('key_missed') else '**missed**'} "
              f"(judged on p95, keys unanswered in 3 s count as missed).\n")

    # ---- item 4: recording
    if rec_db:
        w("## 4. Recording: `wsmon record --db` against `--no-db` at the same N\n")
        d = rec_db[-1]
        base = [r for r in scale if r["client"] == "wsmon" and r["n"] == d["n"]]
        b = base[-1] if base else None

        def col(r):
            if not r:
                return ["—"] * 12
            g = r.get("gap") or {}
            j = r.get("json") or {}
            other = (r["cpu_pct"] - r["loop_cpu_pct"]) if r.get("cpu_pct") is not None and r.get("loop_cpu_pct") is not None else None
            dbi = r.get("db") or {}
            return [fmt(r.get("t_all_open_s")) if r.get("t_all_open_s") is not None else "not all",
                    fmt(r.get("cpu_pct")), fmt(r.get("loop_cpu_pct")), fmt(other),
                    fmt(r["rss_kb"] / 1024 if r.get("rss_kb") else None),
                    fmt(r.get("server_pongs_per_s"), 0),
                    ms(get(j, "rtt_us", "p99")),
                    fmt(dbi.get("rtt_rows_per_s"), 0) if dbi else "—",
                    fmt(dbi.get("event_rows_per_s"), 0) if dbi else "—",
                    f"{g.get('checkpoints', 0)} in {fmt(g.get('window_s'), 0)} s, longest {fmt(g.get('checkpoint_max_ms'))} ms" if "checkpoints" in g else ("none traced" if r is d else "—"),
                    ms(g.get("gap_max_during_checkpoint_us"), 2) if "checkpoints" in g else "—",
                    ms(g.get("gap_max_us"), 1)]
        names = ["all open after s", "CPU % (process)", "CPU % (loop thread)",
                 "CPU % (other threads: the store's writer)", "RSS MiB", "pongs/s (server)",
                 "RTT p99 ms (run)", "RTT rows/s into SQLite (steady window)",
                 "event rows/s", "checkpoints (fsync) traced", "longest loop gap during a checkpoint ms",
                 "longest loop gap ms (traced window)"]
        cb, cd = col(b), col(d)
        w(f"N = {d['n']}.\n")
        w("| | --no-db | --db |")
        w("|---|---|---|")
        for i, nm in enumerate(names):
            w(f"| {nm} | {cb[i]} | {cd[i]} |")
        w("")
        if b and b.get("loop_cpu_pct") and d.get("loop_cpu_pct") is not None:
            cost = (d["loop_cpu_pct"] - b["loop_cpu_pct"]) / b["loop_cpu_pct"] * 100
            w(f"Recording's cost on the loop thread: {d['loop_cpu_pct']:.1f}% vs "
              f"{b['loop_cpu_pct']:.1f}% of a core, {cost:+.0f}% (target under 10%: "
              f"{'**met**' if cost < 10 else '**missed**'}; runs minutes apart, so a few "
              f"percent either way is noise). The writer thread adds "
              f"{col(d)[3]}% of a core off the loop.\n")

    # ---- item 5: history
    if histo:
        h = histo[-1]
        w("## 5. History queries on 10 M samples\n")
        w(f"Database: {h['rtt_rows']:,} RTT samples, {h['attempt_rows']:,} attempts, "
          f"{h['event_rows']:,} events, {h['db_mib']} MiB ({h['endpoints']} endpoints × "
          f"{h['conns']} connections × {h['seconds']} s at one ping a second, "
          f"{h['outages_per_endpoint']} outages of 30 s per endpoint; built in {h['build_s']} s). "
          f"Warm page cache.\n")
        w("| query | runs (ms) | median ms | rows | target < 100 ms |")
        w("|---|---|---|---|---|")
        for v in ("summary", "outages"):
            q = h[v]
            w(f"| `wsmon history {v} --db DB --since 1h --format json` | {', '.join(str(x) for x in q['ms'])} | "
              f"{q['median_ms']} | {q['rows']} | {'**met**' if q['median_ms'] < 100 and q['exit'] == 0 else '**missed**'} |")
        w("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
