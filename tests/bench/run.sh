#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run.sh: wsmon's benchmarks (`make bench`, issue 5). Loopback only (127.0.0.1), every wait
# bounded. Items (BENCH_ITEMS, default all: "scale accuracy recording dashboard history"):
#
#  scale      For each N (BENCH_N), one `wsmon serve`, then each client in turn holds N
#             connections to it and pings each once a second: `wsmon record`, the floor client
#             (floor.c, lws 4.1 on libuv) and Node's ws (node_client.js). Warm-up until the
#             server sees all N open (at most BENCH_WARM_MAX s, BENCH_WARM_MAX_BIG at N >=
#             5000) + BENCH_SETTLE s; BENCH_SECS s of steady state: CPU of client and server
#             from /proc/PID/stat (utime+stime; the client's loop thread too), RSS at the end,
#             pings/pongs per second from the server's TCP counters; then BENCH_STALL_SECS s
#             of epoll tracing (perf) for the longest gap between two polls of the loop
#             thread (loopgap.py); then SIGTERM and the client's JSON line.
#  accuracy   RTT of the floor client and of wsmon on one server, directly and through
#             delay_proxy.c (0 and BENCH_DELAY_US each way).
#  recording  `wsmon record --db` at the largest N: the same measurements, the loop thread's
#             CPU against the --no-db run, rows per second into SQLite, and the loop gaps
#             while the store's checkpoints run (fsyncs traced for BENCH_CKPT_SECS s).
#  dashboard  `wsmon watch` on a pseudo-terminal with 10 and BENCH_DASH_N endpoints
#             (dash_bench.py): frame time (uprobes on vm_update and draw_screen) and
#             keypress-to-screen time.
#  history    `wsmon history summary` and `outages` over the last hour of a database with
#             10 M RTT samples (history_db.py).
#
# Other settings: WSMON (the binary, default ./wsmon; copied first, so a rebuild of the tree
# during the run changes nothing), BENCH_REPS (3 runs at N = BENCH_REPS_AT, 1000),
# BENCH_CLIENTS ("wsmon floor node"), BENCH_FLOOR_RX128 (1: at N >= 5000 also the floor with
# a 128-byte receive buffer), BENCH_OUT (results folder; default a new /tmp/wsmon-bench.*).
# The tables go to stdout and $BENCH_OUT/results.md, the raw records to results.jsonl.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WSMON_BIN=${WSMON:-$PWD/wsmon}
N_LIST=${BENCH_N:-"100 1000 10000"}
SECS=${BENCH_SECS:-30}
REPS=${BENCH_REPS:-3}
REPS_AT=${BENCH_REPS_AT:-1000}
WARM_MAX=${BENCH_WARM_MAX:-30}
WARM_MAX_BIG=${BENCH_WARM_MAX_BIG:-90} # N >= 5000
SETTLE=${BENCH_SETTLE:-1}
STALL_SECS=${BENCH_STALL_SECS:-3}
CKPT_SECS=${BENCH_CKPT_SECS:-20}
ITEMS=${BENCH_ITEMS:-"scale accuracy recording dashboard history"}
DASH_N=${BENCH_DASH_N:-10000}
CLIENTS=${BENCH_CLIENTS:-"wsmon floor node"}
FLOOR_RX128=${BENCH_FLOOR_RX128:-1}
ACC_SECS=${BENCH_ACC_SECS:-8}
ACC_CONNS=${BENCH_ACC_CONNS:-10}
DELAY_US=${BENCH_DELAY_US:-20000}
OUT=${BENCH_OUT:-$(mktemp -d /tmp/wsmon-bench.XXXXXX)}
CC=${CC:-cc}
NODE_PATH=${NODE_PATH:-/usr/share/nodejs}
export NODE_PATH

mkdir -p "$OUT" || exit 99
W=$OUT/bin
mkdir -p "$W"
RES=$OUT/results.jsonl
: >"$RES"

# ---- processes we started (killed by pid at exit, never by name) --------------------------
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null
    done
    sleep 0.2
    for p in "${PIDS[@]}"; do
        kill -KILL "$p" 2>/dev/null
    done
}
PROBES=0
cleanup_all() {
    cleanup
    [ "$PROBES" = 1 ] && perf probe -q -d 'wsmonbench:*' >/dev/null 2>&1
}
trap cleanup_all EXIT
trap 'exit 130' INT TERM

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# utime + stime of a process, in clock ticks (the fields after the ")" of the comm)
ticks() { [ -r "/proc/$1/stat" ] && sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
# busy ticks of the whole machine (user nice system irq softirq steal), for what others used
sys_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
# the loop thread (its tid is the pid) alone
loop_ticks() { [ -r "/proc/$1/task/$1/stat" ] && sed 's/.*) //' "/proc/$1/task/$1/stat" | awk '{print $12 + $13}'; }
has_item() { [[ " $ITEMS " == *" $1 "* ]]; }
HZ=$(getconf CLK_TCK)

# wait (at most $2 s) for process $1 to end; its status in WAIT_STATUS
wait_pid() {
    local p=$1 deadline=$((SECONDS + $2))
    while kill -0 "$p" 2>/dev/null && [ $SECONDS -lt "$deadline" ]; do
        sleep 0.1
    done
    if kill -0 "$p" 2>/dev/null; then
        kill -KILL "$p" 2>/dev/null
    fi
    wait "$p" 2>/dev/null
    WAIT_STATUS=$?
}

# ---- build and snapshot -------------------------------------------------------------------
if [ ! -x "$WSMON_BIN" ]; then
    echo "run.sh: no wsmon binary at $WSMON_BIN (set WSMON)" >&2
    exit 99
fi
cp "$WSMON_BIN" "$W/wsmon" || exit 99 # a snapshot: others may rebuild the tree meanwhile
if ! $CC -O2 -g -Wall -o "$W/floor" "$HERE/floor.c" \
    $(pkg-config --cflags --libs libwebsockets libuv); then
    echo "run.sh: cannot build floor.c (libwebsockets-dev, libuv1-dev?)" >&2
    exit 99
fi
$CC -O2 -g -Wall -o "$W/delay_proxy" "$HERE/delay_proxy.c" || exit 99
HAVE_NODE=0
if command -v node >/dev/null && node -e "require('ws')" 2>/dev/null; then
    HAVE_NODE=1
fi
HAVE_PERF=0
PERF_EVENTS=syscalls:sys_enter_epoll_wait,syscalls:sys_exit_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_exit_epoll_pwait
if command -v perf >/dev/null &&
    perf record -q -o "$OUT/probe.perf" -e "$PERF_EVENTS" -- true >/dev/null 2>&1; then
    HAVE_PERF=1
fi
rm -f "$OUT/probe.perf"
SYNC_EVENTS=syscalls:sys_enter_fsync,syscalls:sys_exit_fsync,syscalls:sys_enter_fdatasync,syscalls:sys_exit_fdatasync

HARD=$(ulimit -Hn)
ulimit -n "$HARD" 2>/dev/null
for n in $N_LIST; do
    if [ $((n + 200)) -gt "$(ulimit -n)" ]; then
        log "warning: ulimit -n is $(ulimit -n): N=$n will run out of descriptors"
    fi
done

# ---- machine ------------------------------------------------------------------------------
python3 - "$W/wsmon" "$HAVE_NODE" "$HAVE_PERF" "$(ulimit -n)" >"$OUT/machine.json" <<'EOF'
import json, os, platform, subprocess, sys
def sh(*a):
    try:
        return subprocess.run(a, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        return ""
cpu = ""
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
mem = open("/proc/meminfo").readline().split()[1]
pk = {}
for p in ("libwebsockets17", "libuv1", "nodejs", "node-ws", "libsqlite3-0", "linux-perf"):
    pk[p] = sh("dpkg-query", "-W", "-f=${Version}", p)
print(json.dumps({"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
                  "mem_gib": round(int(mem) / 1048576, 1), "packages": pk,
                  "wsmon_version": sh(sys.argv[1], "--version"),
                  "node": sh("node", "--version") if sys.argv[2] == "1" else None,
                  "perf": sys.argv[3] == "1", "nofile": int(sys.argv[4]),
                  "date": sh("date", "-u", "+%Y-%m-%dT%H:%M:%SZ")}))
EOF
if git -C "$HERE" rev-parse --short HEAD >/dev/null 2>&1; then
    GIT_HEAD=$(git -C "$HERE" rev-parse --short HEAD)
    GIT_DIRTY=$(git -C "$HERE/../.." status --porcelain --untracked-files=no -- src ui | wc -l)
else
    GIT_HEAD=unknown
    GIT_DIRTY=0
fi
WSMON_SHA=$(sha256sum "$W/wsmon" | cut -c1-12)
log "results in $OUT (tree at $GIT_HEAD, $GIT_DIRTY modified files under src/ ui/; wsmon binary sha256 $WSMON_SHA, built $(date -r "$WSMON_BIN" +%H:%M:%S))"

# ---- the server -----------------------------------------------------------------------------
SERVER_PID=
SERVER_LOG=
PORT=
start_server() {
    local i
    SERVER_LOG=$OUT/server-$1.log
    "$W/wsmon" serve --listen 127.0.0.1:0 >"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    PORT=
    for i in $(seq 1 50); do
        PORT=$(sed -n 's/.*listening on ws:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$SERVER_LOG" | head -1)
        [ -n "$PORT" ] && return 0
        sleep 0.1
    done
    echo "run.sh: wsmon serve did not start" >&2
    exit 99
}
stop_server() {
    kill -TERM "$SERVER_PID" 2>/dev/null
    wait_pid "$SERVER_PID" 10
}
# data segments the server received and sent on its established sockets: pings and pongs
# (one segment each at this rate), counted by the kernel, the same way for every client
segs() {
    ss -Htin state established "( sport = :$PORT )" 2>/dev/null | awk '
        { for (i = 1; i <= NF; i++) {
            if ($i ~ /^data_segs_in:/) { split($i, a, ":"); si += a[2] }
            if ($i ~ /^data_segs_out:/) { split($i, a, ":"); so += a[2] } } }
        END { print si + 0, so + 0 }'
}
# WebSockets open on the server now (its log has one line per open and per close)
open_count() { awk '/ #[0-9]+ open /{o++} / #[0-9]+ close /{c++} END{print o-c}' "$SERVER_LOG"; }

# ---- one client run -------------------------------------------------------------------------
# measure CLIENT N REP: start it, warm up, measure, stop, append one record to results.jsonl.
# wsmon-db is `wsmon record --db`: its perf window is CKPT_SECS long and traces fsyncs too.
measure() {
    local client=$1 n=$2 rep=$3 url="ws://127.0.0.1:$PORT/echo"
    local tag="$client-$n-$rep" cmd usr=0 pid t_start t_open="" c0 c1 s0 s1 l0 l1 t0 t1 rss srss
    local open_end k gapf="$OUT/$tag.gap.json" g0 g1 t_term warm=$WARM_MAX db=""
    local stall=$STALL_SECS events=$PERF_EVENTS y0 y1
    [ "$n" -ge 5000 ] && warm=$WARM_MAX_BIG
    case $client in
    wsmon)
        cmd=("$W/wsmon" record --no-db -q --stats --ping 1s --connections "$n" "$url")
        usr=1
        ;;
    wsmon-db)
        db=$OUT/record.db
        rm -f "$db" "$db-wal" "$db-shm"
        cmd=("$W/wsmon" record --db "$db" -q --stats --ping 1s --connections "$n" "$url")
        stall=$CKPT_SECS
        events=$events,$SYNC_EVENTS
        usr=1
        ;;
    floor)
        cmd=("$W/floor" -q -n "$n" "$url")
        usr=1
        ;;
    floor-rx128)
        cmd=("$W/floor" -q -n "$n" -r 128 "$url")
        usr=1
        ;;
    node)
        cmd=(node "$HERE/node_client.js" -n "$n" "$url")
        usr=1
        ;;
    esac
    log "N=$n $client run $rep: ${cmd[*]}"
    t_start=$EPOCHREALTIME
    "${cmd[@]}" >"$OUT/$tag.out" 2>"$OUT/$tag.err" &
    pid=$!
    PIDS+=("$pid")
    # warm-up: until the server has all N open, or the limit
    while kill -0 "$pid" 2>/dev/null; do
        k=$(open_count)
        if [ "$k" -ge "$n" ]; then
            t_open=$(awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b - a}')
            break
        fi
        if awk -v a="$t_start" -v b="$EPOCHREALTIME" -v m="$warm" 'BEGIN{exit !(b - a > m)}'; then
            log "  only $k of $n open after ${warm}s: measuring anyway"
            break
        fi
        sleep 0.2
    done
    sleep "$SETTLE"
    [ "$usr" = 1 ] && kill -USR2 "$pid" 2>/dev/null # every client: the steady state starts
    g0=$(segs)
    c0=$(ticks "$pid")
    l0=$(loop_ticks "$pid")
    s0=$(ticks "$SERVER_PID")
    y0=$(sys_ticks)
    t0=$EPOCHREALTIME
    sleep "$SECS"
    c1=$(ticks "$pid")
    l1=$(loop_ticks "$pid")
    s1=$(ticks "$SERVER_PID")
    y1=$(sys_ticks)
    t1=$EPOCHREALTIME
    g1=$(segs)
    rss=$(rss_kb "$pid")
    srss=$(rss_kb "$SERVER_PID")
    open_end=$(open_count)
    echo '{}' >"$gapf"
    if [ "$HAVE_PERF" = 1 ] && kill -0 "$pid" 2>/dev/null; then
        perf record -q -o "$OUT/$tag.perf" -e "$events" -p "$pid" -- sleep "$stall" \
            >/dev/null 2>&1
        perf script -i "$OUT/$tag.perf" 2>/dev/null | python3 "$HERE/loopgap.py" "$pid" >"$gapf"
        rm -f "$OUT/$tag.perf"
    fi
    t_term=$(awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b - a}')
    kill -TERM "$pid" 2>/dev/null
    wait_pid "$pid" 40
    # the server drains before the next client (bounded)
    for k in $(seq 1 100); do
        [ "$(open_count)" -le 0 ] && break
        sleep 0.2
    done
    python3 - "$RES" "$OUT/$tag.out" "$OUT/$tag.err" "$gapf" "$db" <<EOF
import json, sqlite3, sys
res, out, err, gapf, db = sys.argv[1:6]
try:
    j = json.loads(open(out).read().strip().splitlines()[-1])
except Exception:
    j = None
try:
    gap = json.load(open(gapf))
except Exception:
    gap = {}
tail = open(err, errors="replace").read().strip().splitlines()[-3:]
def pct(a, b, secs):
    try:
        return round((int(b) - int(a)) / $HZ / secs * 100, 2)
    except Exception:
        return None
secs = float("$t1") - float("$t0")
g0, g1 = "$g0".split(), "$g1".split()
rec = {"item": "scale", "client": "$client", "n": $n, "rep": $rep, "cmd": """${cmd[*]}""",
       "t_all_open_s": float("$t_open") if "$t_open" else None, "warm_max_s": $warm,
       "open_at_end": int("${open_end:-0}"),
       "window_s": round(secs, 2), "cpu_pct": pct("$c0", "$c1", secs),
       "loop_cpu_pct": pct("$l0", "$l1", secs), "server_cpu_pct": pct("$s0", "$s1", secs),
       # everything else the machine ran meanwhile (other users' jobs, this script, ss)
       "others_cpu_pct": pct(int("$y0") + int("$c1") - int("$c0") + int("$s1") - int("$s0"), "$y1", secs),
       "rss_kb": int("${rss:-0}" or 0), "server_rss_kb": int("${srss:-0}" or 0),
       "server_pings_per_s": round((int(g1[0]) - int(g0[0])) / secs, 1),
       "server_pongs_per_s": round((int(g1[1]) - int(g0[1])) / secs, 1),
       "t_term_s": float("$t_term"), "settle_s": $SETTLE,
       "exit_status": $WAIT_STATUS, "json": j, "gap": gap, "stderr_tail": tail}
if db:
    # rows the store committed during the steady window (wall-clock microseconds)
    a, b = int(float("$t0") * 1e6), int(float("$t1") * 1e6)
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        q = lambda sql: c.execute(sql, (a, b)).fetchone()[0]
        rtt = q("SELECT count(*) FROM rtt WHERE t_us >= ? AND t_us < ?")
        ev = q("SELECT count(*) FROM events WHERE t_us >= ? AND t_us < ?")
        att = q("SELECT count(*) FROM attempts WHERE started_us >= ? AND started_us < ?")
        rec["db"] = {"rtt_rows_per_s": round(rtt / secs, 1), "event_rows_per_s": round(ev / secs, 1),
                     "attempt_rows_per_s": round(att / secs, 1),
                     "rtt_rows_total": c.execute("SELECT count(*) FROM rtt").fetchone()[0]}
        c.close()
    except Exception as e:
        rec["db"] = {"error": str(e)}
open(res, "a").write(json.dumps(rec) + "\n")
EOF
}

# ---- item 1: scale --------------------------------------------------------------------------
if has_item scale; then
    for n in $N_LIST; do
        start_server "$n"
        reps=1
        [ "$n" = "$REPS_AT" ] && reps=$REPS
        for rep in $(seq 1 "$reps"); do
            for client in $CLIENTS; do
                [ "$client" = node ] && [ "$HAVE_NODE" = 0 ] && continue
                measure "$client" "$n" "$rep"
            done
        done
        # the floor with lws's receive buffer cut from 4096 to 128 bytes (NOTES section 6)
        if [ "$n" -ge 5000 ] && [ "$FLOOR_RX128" = 1 ] && [[ " $CLIENTS " == *" floor "* ]]; then
            measure floor-rx128 "$n" 1
        fi
        stop_server
    done
fi

# ---- item 4: recording (the history database) -----------------------------------------------
if has_item recording; then
    n=0
    for x in $N_LIST; do [ "$x" -gt "$n" ] && n=$x; done
    start_server record
    measure wsmon-db "$n" 1
    stop_server
fi

# ---- item 2: accuracy -----------------------------------------------------------------------
# acc_run TARGET CLIENT URL: ACC_CONNS connections (floor1 and probe: one), a ping every
# 100 ms, ACC_SECS s
acc_run() {
    local target=$1 client=$2 url=$3 tag="acc-$1-$2" cmd pid
    case $client in
    floor) cmd=("$W/floor" -q -n "$ACC_CONNS" -i 100 "$url") ;;
    floor1) cmd=("$W/floor" -q -n 1 -i 100 "$url") ;;
    wsmon) cmd=("$W/wsmon" record --no-db -q --stats --ping 100ms --connections "$ACC_CONNS" "$url") ;;
    probe) cmd=("$W/wsmon" probe --json --hold "$ACC_SECS"s --ping 100ms "$url") ;;
    esac
    log "accuracy $target $client: ${cmd[*]}"
    "${cmd[@]}" >"$OUT/$tag.out" 2>"$OUT/$tag.err" &
    pid=$!
    PIDS+=("$pid")
    if [ "$client" = probe ]; then
        wait_pid "$pid" $((ACC_SECS + 20))
    else
        sleep "$ACC_SECS"
        kill -TERM "$pid" 2>/dev/null
        wait_pid "$pid" 20
    fi
    python3 - "$RES" "$OUT/$tag.out" <<EOF
import json, sys
try:
    j = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
except Exception:
    j = None
rec = {"item": "accuracy", "target": "$target", "client": "$client", "cmd": """${cmd[*]}""",
       "delay_us": $DELAY_US, "exit_status": $WAIT_STATUS, "json": j}
open(sys.argv[1], "a").write(json.dumps(rec) + "\n")
EOF
}

if has_item accuracy; then
    start_server acc
    P0=$OUT/proxy0.out
    PD=$OUT/proxyd.out
    "$W/delay_proxy" 127.0.0.1:0 "127.0.0.1:$PORT" 0 600 >"$P0" 2>&1 &
    PROXY0_PID=$!
    PIDS+=("$PROXY0_PID")
    "$W/delay_proxy" 127.0.0.1:0 "127.0.0.1:$PORT" "$DELAY_US" 600 >"$PD" 2>&1 &
    PROXYD_PID=$!
    PIDS+=("$PROXYD_PID")
    for i in $(seq 1 50); do
        [ -s "$P0" ] && [ -s "$PD" ] && break
        sleep 0.1
    done
    Q0=$(sed -n 's/^listening 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$P0")
    QD=$(sed -n 's/^listening 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$PD")
    for t in "direct:$PORT" "proxy0:$Q0" "proxy$DELAY_US:$QD"; do
        for client in floor wsmon floor1 probe; do
            acc_run "${t%%:*}" "$client" "ws://127.0.0.1:${t##*:}/echo"
        done
    done
    kill -TERM "$PROXY0_PID" "$PROXYD_PID" 2>/dev/null
    stop_server
fi

# ---- item 3: dashboard ----------------------------------------------------------------------
if has_item dashboard; then
    PEV=""
    if [ "$HAVE_PERF" = 1 ] &&
        perf probe -q -x "$W/wsmon" -a 'wsmonbench:vmu=vm_update' \
            -a 'wsmonbench:drawret=draw_screen%return' >/dev/null 2>&1; then
        PROBES=1
        PEV='wsmonbench:*'
    fi
    for e in 10 $DASH_N; do
        start_server "dash$e"
        python3 -c "
for i in range($e):
    print(f'[bench{i:05d}]\nurl = ws://127.0.0.1:$PORT/echo\n')" >"$OUT/dash$e.ini"
        log "dashboard: wsmon watch with $e endpoints"
        python3 "$HERE/dash_bench.py" --wsmon "$W/wsmon" --config "$OUT/dash$e.ini" \
            --endpoints "$e" --server-log "$SERVER_LOG" --warm-max "$WARM_MAX_BIG" --keys 10 \
            --perf-events "$PEV" >>"$RES" 2>"$OUT/dash$e.err"
        stop_server
    done
    if [ "$PROBES" = 1 ]; then
        perf probe -q -d 'wsmonbench:*' >/dev/null 2>&1
        PROBES=0
    fi
fi

# ---- item 5: history ------------------------------------------------------------------------
if has_item history; then
    start_server history
    rm -f "$OUT/history.db"*
    # the schema and its version are the binary's own: let it make the file
    "$W/wsmon" probe --db "$OUT/history.db" "ws://127.0.0.1:$PORT/echo" >/dev/null 2>&1
    stop_server
    log "history: 10 M samples into $OUT/history.db, then wsmon history summary/outages --since 1h"
    python3 "$HERE/history_db.py" "$W/wsmon" "$OUT/history.db" >>"$RES" 2>"$OUT/history.err"
    rm -f "$OUT/history.db"*
fi

# ---- report ---------------------------------------------------------------------------------
python3 "$HERE/report.py" "$RES" "$OUT/machine.json" "$GIT_HEAD, binary sha256 $WSMON_SHA" "$GIT_DIRTY" | tee "$OUT/results.md"
log "raw records: $RES"
