// SPDX-License-Identifier: MIT
// node_client.js: what a team would write instead of wsmon record, for the benchmark. Debian's
// node-ws (NODE_PATH=/usr/share/nodejs), default options, N connections per URL, one ping per
// second each with an 8-byte timestamp payload (process.hrtime.bigint(), nanoseconds), RTT
// from the pong. The pings are spread over the interval by one 10 ms timer, as in floor.c.
//
//   node node_client.js [-n N] [-i PING_MS] ws://127.0.0.1:PORT/PATH...
//
// SIGTERM/SIGINT closes every connection with 1001 (waiting up to 2 s) and prints one JSON
// line with the fields of `wsmon record --stats`; SIGUSR2 marks the start of the steady state
// (the "steady" object counts from there). loop_stall_max_us is the largest event-loop delay
// that perf_hooks.monitorEventLoopDelay saw (a 10 ms timer's lateness), since the loop's busy
// time per iteration is not visible from JavaScript.
'use strict';

const WebSocket = require('ws');
const { monitorEventLoopDelay } = require('perf_hooks');

const HIST_US = 200000;
const TICK_MS = 10;
const RETRY_MS = 1000;
const GRACE_MS = 2000;

let perUrl = 1;
let pingMs = 1000;
const urls = [];
for (let i = 2; i < process.argv.length; i++) {
    const a = process.argv[i];
    if (a === '-n') perUrl = parseInt(process.argv[++i], 10);
    else if (a === '-i') pingMs = parseInt(process.argv[++i], 10);
    else if (a.startsWith('ws://')) urls.push(a);
    else {
        process.stderr.write('usage: node_client.js [-n N] [-i PING_MS] ws://HOST:PORT/PATH...\n');
        process.exit(2);
    }
}
if (!urls.length || !(perUrl > 0) || !(pingMs > 0)) {
    process.stderr.write('usage: node_client.js [-n N] [-i PING_MS] ws://HOST:PORT/PATH...\n');
    process.exit(2);
}

const nowUs = () => Number(process.hrtime.bigint() / 1000n);

function newStats() {
    return { t0: nowUs(), pings: 0, pongs: 0, opens: 0, closes: 0, errors: 0,
             hist: new Uint32Array(HIST_US + 1), max: 0 };
}
function addRtt(s, us) {
    if (us < 0) us = 0;
    s.hist[us < HIST_US ? us : HIST_US]++;
    if (us > s.max) s.max = us;
    s.pongs++;
}
function pct(s, p) {
    if (!s.pongs) return -1;
    let want = Math.max(1, Math.floor(s.pongs * p / 100 + 0.5)), seen = 0;
    for (let b = 0; b <= HIST_US; b++) {
        seen += s.hist[b];
        if (seen >= want) return b < HIST_US ? b : s.max;
    }
    return s.max;
}

let tot = newStats(), st = newStats();
let eld = monitorEventLoopDelay({ resolution: 10 });
let eldSteady = monitorEventLoopDelay({ resolution: 10 });
eld.enable();
eldSteady.enable();

const n = perUrl * urls.length;
const conns = new Array(n);
let active = 0, stopping = false, tStop = 0;

function connect(i) {
    const c = conns[i] || (conns[i] = { ws: null, open: false, outstanding: false, sent: 0n });
    c.open = false;
    c.outstanding = false;
    const ws = new WebSocket(urls[i % urls.length]);
    c.ws = ws;
    active++;
    let ended = false;
    const end = (err) => {
        if (ended) return;
        ended = true;
        active--;
        if (err) { tot.errors++; st.errors++; } else { tot.closes++; st.closes++; }
        c.open = false;
        c.ws = null;
        if (!stopping) setTimeout(() => connect(i), RETRY_MS);
        else if (active === 0) finish();
    };
    ws.on('open', () => { c.open = true; tot.opens++; st.opens++; });
    ws.on('pong', (data) => {
        if (data.length !== 8 || !c.outstanding) return;
        const t = data.readBigUInt64LE(0);
        if (t !== c.sent) return; // stale
        c.outstanding = false;
        const us = Number((process.hrtime.bigint() - t) / 1000n);
        addRtt(tot, us);
        addRtt(st, us);
    });
    ws.on('error', () => { if (!c.open) end(true); });
    ws.on('close', () => end(false));
}

for (let i = 0; i < n; i++) connect(i);

// connection i is pinged at t0 + (k + i/n) * interval
const t0 = nowUs();
let issued = 0;
const tick = setInterval(() => {
    const now = nowUs();
    const owed = Math.floor((now - t0) * n / (pingMs * 1000));
    if (owed > issued + n) issued = owed - n;
    while (issued < owed) {
        const c = conns[issued++ % n];
        if (!c || !c.open || !c.ws) continue;
        if (c.outstanding && now - Number(c.sent / 1000n) < 10 * pingMs * 1000) continue;
        const t = process.hrtime.bigint();
        const buf = Buffer.allocUnsafe(8);
        buf.writeBigUInt64LE(t, 0);
        c.sent = t;
        c.outstanding = true;
        c.ws.ping(buf);
        tot.pings++;
        st.pings++;
    }
}, TICK_MS);

function statsJson(s, h, end) {
    return `"duration_s":${((end - s.t0) / 1e6).toFixed(3)},"opens":${s.opens},` +
        `"closes":${s.closes},"errors":${s.errors},"pings":${s.pings},"pongs":${s.pongs},` +
        `"rtt_us":{"p50":${pct(s, 50).toFixed(1)},"p99":${pct(s, 99).toFixed(1)},` +
        `"max":${(s.pongs ? s.max : -1).toFixed(1)}},` +
        `"loop_stall_max_us":${Math.round(h.max / 1000)}`;
}

let finished = false;
let frozen = null;
function finish() {
    if (finished) return;
    finished = true;
    process.stdout.write(frozen + '\n', () => process.exit(0));
}

function stop() {
    if (stopping) { finish(); return; }
    stopping = true;
    tStop = nowUs();
    clearInterval(tick);
    eld.disable();
    eldSteady.disable();
    frozen = `{${statsJson(tot, eld, tStop)},"connections":${n},"steady":{${statsJson(st, eldSteady, tStop)}}}`;
    for (const c of conns) {
        if (c && c.ws) {
            try { c.ws.close(1001, 'node stopping'); } catch (e) { /* not open yet */ c.ws.terminate(); }
        }
    }
    if (active === 0) finish();
    setTimeout(finish, GRACE_MS).unref();
}

process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('SIGUSR2', () => {
    st = newStats();
    eldSteady.disable();
    eldSteady = monitorEventLoopDelay({ resolution: 10 });
    eldSteady.enable();
});
