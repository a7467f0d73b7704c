# SPDX-License-Identifier: MIT
"""history_db.py: fill a wsmon history database with a synthetic hour, for item 5 of the
benchmark (history queries on 10 M samples), then time `wsmon history` on it.

    python3 history_db.py WSMON DB [--endpoints 10] [--conns 1000] [--seconds 1070]
                          [--outages 2] [--repeat 5]
    python3 history_db.py --verify DB    # rtt_hist of DB == its rtt rows counted here
    python3 history_db.py --self-test    # the bucket function against the C unit test's table

DB must already exist with wsmon's schema (run.sh makes it with `wsmon probe --db DB`, so the
schema and its version are the binary's own). The history: ENDPOINTS endpoints with CONNS
connections each, pinged once a second for SECONDS seconds ending a minute ago (10 x 1000 x
1010 s outside the outages = 10.1 M RTT samples, all inside the last hour), and OUTAGES
outages per endpoint: every
connection closes abnormally (1006), retries are refused every 5 s for 30 s, then all reopen.
Rows are what the store writes: one attempts row per attempt, open/closed events, the rtt
samples, and (schema version 2 and later) the per-minute RTT histograms of rtt_hist, counted
with the store's bucket function (src/rtt_hist.c, mirrored in rtt_bucket() below) as the
store counts them. Prints one JSON line: the database's size and counts, and for `summary`
and `outages` over `--since 1h` the wall time of each of REPEAT runs (ms) and their median.

--verify DB recomputes rtt_hist from the rtt rows of DB (one the store wrote, e.g. by
`wsmon record`) with rtt_bucket() and exits 1 if any row differs: the proof that the
histograms this script writes are the store's.
"""
import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import time

US = 1_000_000
MINUTE_US = 60 * US

# src/rtt_hist.c: 128 sub-buckets per octave, values below 256 us exact, 3328 buckets
SUB_BITS = 7
EXACT_US = 256
BUCKETS = 3328
# value -> bucket: the same table as tests/unit/test_rtt_hist.c
KNOWN_BUCKETS = [(0, 0), (1, 1), (255, 255), (256, 256), (257, 256), (258, 257), (511, 383),
                 (512, 384), (515, 384), (516, 385), (1000, 506), (1023, 511), (1024, 512),
                 (65535, 1279), (65536, 1280), (1000000, 1780), (2147483647, 3199),
                 (2147483648, 3200), (4294967295, 3327)]


def rtt_bucket(v):
    """rtt_hist_bucket() of src/rtt_hist.c, for 0 <= v <= 2**32 - 1."""
    if v < EXACT_US:
        return v
    shift = v.bit_length() - 1 - SUB_BITS
    return (shift << SUB_BITS) + (v >> shift)


def self_test():
    bad = [(v, b, rtt_bucket(v)) for (v, b) in KNOWN_BUCKETS if rtt_bucket(v) != b]
    prev = 0
    for v in list(range(0, 70000)) + [2**k + d for k in range(17, 32) for d in (-1, 0, 1)]:
        b = rtt_bucket(v)
        if b < prev or b >= BUCKETS:
            bad.append((v, "not monotonic or out of range", b))
        prev = b
    return bad


def verify(db):
    """Rows of rtt_hist that differ from the rtt rows counted here (both ways)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    want = {}
    for ep, t, v in con.execute("SELECT endpoint_id, t_us, rtt_us FROM rtt"):
        if not isinstance(v, int) or v < 0 or v > 0xFFFFFFFF:
            continue
        k = (ep, t - t % MINUTE_US, rtt_bucket(v))
        want[k] = want.get(k, 0) + 1
    have = {(ep, m, b): n for ep, m, b, n in
            con.execute("SELECT endpoint_id, minute_us, bucket, n FROM rtt_hist")}
    con.close()
    diff = [(k, want.get(k), have.get(k)) for k in set(want) | set(have)
            if want.get(k) != have.get(k)]
    return len(want), sum(want.values()), diff


def build(db, eps, conns, seconds, outages):
    now = int(time.time() * US)
    end = now - 60 * US
    start = end - seconds * US
    con = sqlite3.connect(db)
    # schema 2 and later: the store keeps per-minute histograms and marks its runs
    with_hist = (con.execute("PRAGMA user_version").fetchone()[0] >= 2 and
                 con.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'rtt_hist'")
                 .fetchone()[0] == 1)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = OFF")
    con.execute("PRAGMA cache_size = -262144")
    cur = con.cursor()
    cur.execute("INSERT INTO runs (started_us, ended_us, last_us, pid, version"
                + (", rtt_hist) VALUES (?, ?, ?, ?, ?, 1)" if with_hist else
                   ") VALUES (?, ?, ?, ?, ?)"),
                (start - 5 * US, end + 5 * US, end + 5 * US, 1, "bench"))
    run_id = cur.lastrowid
    ep_ids = []
    for e in range(eps):
        cur.execute("INSERT INTO endpoints (name, url, first_us, last_us) VALUES (?, ?, ?, ?)",
                    (f"bench{e:02d}", f"ws://127.0.0.1:8080/echo?bench={e}", start, end))
        ep_ids.append(cur.lastrowid)

    # outage windows, the same fractions for every endpoint, shifted a little per endpoint
    out_len = 30 * US
    windows = []
    for e in range(eps):
        w = []
        for k in range(outages):
            t0 = start + int(seconds * US * (k + 1) / (outages + 1)) + e * 7 * US
            w.append((t0, t0 + out_len))
        windows.append(w)

    att_cols = ("run_id, endpoint_id, conn, seq, started_us, opened_us, ended_us, is_tls, "
                "reached, ready_state, tcp_us, upgrade_us, open_us, total_us, remote, local, "
                "have_tls, have_http, http_status, http_upgrade, http_connection, "
                "http_accept_ok, close_code, close_by, close_frame, close_transport, "
                "open_for_us, pings, pongs, rtt_samples, rtt_min_us, rtt_median_us, "
                "rtt_max_us, msgs_in, bytes_in, class, cause, failed_in, ok, verdict")
    att_sql = f"INSERT INTO attempts ({att_cols}) VALUES ({', '.join('?' * len(att_cols.split(',')))})"
    ev_sql = ("INSERT INTO events (t_us, endpoint_id, conn, kind, class, code, text) "
              "VALUES (?, ?, ?, ?, ?, ?, ?)")
    atts, evs = [], []
    for e, ep in enumerate(ep_ids):
        for c in range(conns):
            seq = 0
            t = start + c * 900  # connections open spread over the first second
            spans = windows[e] + [(end, None)]
            for (o0, o1) in spans:
                # an open attempt from t to o0
                seq += 1
                opened = t + 600
                n = max(0, (o0 - opened) // US)
                last = o1 is None
                close_code = 1001 if last else 1006
                atts.append((run_id, ep, c, seq, t, opened, o0, 0, "open", 3, 200, 300, 600,
                             o0 - t, "127.0.0.1:8080", f"127.0.0.1:{30000 + c}", 0, 1, 101,
                             "websocket", "Upgrade", 1, close_code,
                             "client" if last else "network", 1 if last else 0,
                             None if last else "eof", o0 - opened, n, n, n, 150, 300, 2000, 1,
                             4, "healthy" if last else "abnormal-close",
                             None if last else "eof", None, 1 if last else 0,
                             "open, pings answered" if last else
                             "abnormal-close: TCP closed (FIN) without a close frame"))
                evs.append((opened, ep, c, "open", None, None, "open"))
                evs.append((o0, ep, c, "closed", "healthy" if last else "abnormal-close",
                            close_code, "closed"))
                if last:
                    break
                # refused retries every 5 s until the outage ends
                r = o0 + US + c * 900
                while r < o1:
                    seq += 1
                    atts.append((run_id, ep, c, seq, r, None, r + 300, 0, "none", 3, None, None,
                                 None, 300, None, None, 0, 0, None, None, None, None, 1006,
                                 "network", 0, None, None, 0, 0, 0, None, None, None, 0, 0,
                                 "tcp-refused", "refused", "tcp", 0,
                                 "tcp-refused: connection refused"))
                    evs.append((r + 300, ep, c, "closed", "tcp-refused", 1006, "refused"))
                    r += 5 * US
                t = o1 + c * 900
    cur.executemany(att_sql, atts)
    cur.executemany(ev_sql, evs)
    con.commit()

    rnd = random.Random(5)
    pool = [max(40, int(rnd.lognormvariate(5.7, 0.35))) for _ in range(65536)]
    pool_bucket = [rtt_bucket(v) for v in pool]
    hist = {}  # (minute_us, bucket) -> n, of one endpoint: what the store upserts

    def samples(e, ep):
        i = 0
        for s in range(seconds):
            base = start + s * US
            down = any(o0 <= base < o1 for (o0, o1) in windows[e])
            if down:
                continue
            for c in range(conns):
                i += 1
                t = base + 1000 + c * 900
                if with_hist:
                    k = (t - t % MINUTE_US, pool_bucket[i & 65535])
                    hist[k] = hist.get(k, 0) + 1
                yield (ep, t, c, pool[i & 65535])
    n = 0
    for e, ep in enumerate(ep_ids):
        hist.clear()
        cur.executemany("INSERT INTO rtt (endpoint_id, t_us, conn, rtt_us) VALUES (?, ?, ?, ?)",
                        samples(e, ep))
        if with_hist:
            cur.executemany("INSERT INTO rtt_hist (endpoint_id, minute_us, bucket, n) "
                            "VALUES (?, ?, ?, ?) ON CONFLICT (endpoint_id, minute_us, bucket) "
                            "DO UPDATE SET n = n + excluded.n",
                            ((ep, m, b, k) for (m, b), k in sorted(hist.items())))
        con.commit()
    n = con.execute("SELECT count(*) FROM rtt").fetchone()[0]
    nh = con.execute("SELECT count(*) FROM rtt_hist").fetchone()[0] if with_hist else None
    na = con.execute("SELECT count(*) FROM attempts").fetchone()[0]
    ne = con.execute("SELECT count(*) FROM events").fetchone()[0]
    version = con.execute("PRAGMA user_version").fetchone()[0]
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("ANALYZE")
    con.close()
    return {"rtt_rows": n, "attempt_rows": na, "event_rows": ne, "rtt_hist_rows": nh,
            "schema_version": version}


def timed(cmd, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        times.append(round((time.perf_counter() - t0) * 1000, 1))
        out = p
    lines = [l for l in out.stdout.splitlines() if l.strip()]
    return {"cmd": " ".join(cmd), "exit": out.returncode, "ms": times,
            "median_ms": statistics.median(times), "rows": len(lines),
            "first_row": lines[0][:300] if lines else None,
            "stderr": out.stderr.strip()[-300:]}


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--self-test":
        bad = self_test()
        print(json.dumps({"self_test": "fail" if bad else "ok", "bad": bad[:20]}))
        return 1 if bad else 0
    if len(sys.argv) == 3 and sys.argv[1] == "--verify":
        rows, samples, diff = verify(sys.argv[2])
        print(json.dumps({"verify": "fail" if diff else "ok", "rtt_hist_rows": rows,
                          "samples": samples, "diff": [list(d) for d in diff[:20]]}))
        return 1 if diff else 0
    ap = argparse.ArgumentParser()
    ap.add_argument("wsmon")
    ap.add_argument("db")
    ap.add_argument("--endpoints", type=int, default=10)
    ap.add_argument("--conns", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=1070)
    ap.add_argument("--outages", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    t0 = time.perf_counter()
    counts = build(a.db, a.endpoints, a.conns, a.seconds, a.outages)
    res = {"item": "history", "build_s": round(time.perf_counter() - t0, 1), **counts,
           "db_mib": round(os.path.getsize(a.db) / 1048576, 1),
           "endpoints": a.endpoints, "conns": a.conns, "seconds": a.seconds,
           "outages_per_endpoint": a.outages}
    for view in ("summary", "outages"):
        res[view] = timed([a.wsmon, "history", view, "--db", a.db, "--since", "1h",
                           "--format", "json"], a.repeat)
    print(json.dumps(res))


if __name__ == "__main__":
    sys.exit(main())
