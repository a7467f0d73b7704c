#!/usr/bin/env python3
"""wsmon probe against real plain-WebSocket peers on loopback (DESIGN 3, 3.1, 4, 5).

Expected values come from DESIGN, never from wsmon's own output. Each scenario tags its
request with ?id=... so that the peer's record of that very connection can be checked.
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import SkipTest, Suite  # noqa: E402
import peers  # noqa: E402

suite = Suite()
S = {}  # the peers, made in setup()


def setup():
    S["ws"] = peers.WSServer("127.0.0.1").start()
    suite.at_end(S["ws"].stop)
    try:
        S["ws6"] = peers.WSServer("::1").start()
        suite.at_end(S["ws6"].stop)
    except OSError as e:
        S["ws6_error"] = str(e)
    S["bh"] = peers.Blackhole("127.0.0.1")
    suite.at_end(S["bh"].stop)


def url(target):
    return S["ws"].url(target)


def conn(target, finished=True, timeout=3.0, srv=None):
    """The peer's record of the connection that asked for exactly target."""
    srv = srv or S["ws"]

    def find():
        for c in srv.conns:
            if c.target == target and (c.finished or not finished):
                return c
        return None
    srv.wait_for(lambda: find() is not None, timeout)
    with srv.cond:
        return find()


def healthy_fields(ck, r, i=0):
    ck.eq(r, "ok", True, i)
    ck.eq(r, "class", "healthy", i)
    ck.eq(r, "cause", None, i)
    ck.eq(r, "failed_in", None, i)
    ck.eq(r, "reached", "open", i)
    ck.eq(r, "ready_state", 3, i)


def failed_fields(ck, r, klass, cause, failed_in, i=0):
    ck.eq(r, "ok", False, i)
    ck.eq(r, "class", klass, i)
    ck.eq(r, "cause", cause, i)
    ck.eq(r, "failed_in", failed_in, i)
    ck.eq(r, "ready_state", 3, i)


CTRL_OK = {0x0A}


def no_control_bytes(ck, data, what):
    """No C0 byte but newline, no DEL, no C1 encoded in UTF-8 (\\xc2\\x80-\\xc2\\x9f)."""
    bad = sorted({b for b in data if (b < 0x20 and b not in CTRL_OK) or b == 0x7F})
    if bad:
        ck.fail("%s holds control bytes %s" % (what, ", ".join("0x%02x" % b for b in bad)))
    if re.search(rb"\xc2[\x80-\x9f]", data):
        ck.fail("%s holds a C1 control character" % what)


def fits_80(ck, r):
    for n, line in enumerate(r.stdout.split("\n"), 1):
        if len(line) > 80:
            ck.fail("text line %d is %d characters long (> 80)" % (n, len(line)))
    if b"\x1b" in r.stdout_b:
        ck.fail("text output holds an escape (ANSI) while stdout is not a terminal")


def mentions(ck, text, pattern, what):
    if not re.search(pattern, text, re.I):
        ck.fail("the text output does not mention %s (/%s/)" % (what, pattern))


# 1 -------------------------------------------------------------------------------------------

@suite.test("1 /echo: healthy, phases, RTT, first message, closed by us with 1000")
def t_echo(ck):
    target = "/echo?id=t1"
    r = ck.probe([url(target)], timeout=10)
    ck.rc(r, 0)
    if not ck.nobjs(r, 1):
        return
    healthy_fields(ck, r)
    ck.eq(r, "url", url(target))
    ck.eq(r, "remote", "127.0.0.1:%d" % S["ws"].port)
    ck.eq(r, "http.status", 101)
    ck.eq(r, "http.accept_ok", True)
    up = r.f("http.upgrade")
    ck.ok(isinstance(up, str) and up.lower() == "websocket",
          "http.upgrade: want 'websocket', got %r" % (up,))
    ck.ok(r.f("tls") is None or r.f("tls.verify") is None,
          "tls: plain ws:// wants tls null or tls.verify null, got %r" % (r.f("tls"),))
    ck.eq(r, "rtt_ms.samples", 3)
    if all(ck.num(r, "rtt_ms." + k) for k in ("min", "median", "max")):
        mn, md, mx = (r.f("rtt_ms." + k) for k in ("min", "median", "max"))
        ck.ok(0 < mn <= md <= mx < 50,
              "rtt_ms: want 0 < min <= median <= max < 50, got %r/%r/%r" % (mn, md, mx))
    ck.cmp(r, "messages.in", ">=", 1)
    ck.cmp(r, "messages.bytes_in", ">=", 5)
    ck.eq(r, "messages.first", "hello")
    ck.eq(r, "timings_ms.dns", None)
    ck.eq(r, "timings_ms.tls", None)
    for k in ("tcp", "upgrade", "open", "total"):
        ck.num(r, "timings_ms." + k)
    if ck.num(r, "timings_ms.open") and ck.num(r, "timings_ms.total"):
        ck.cmp(r, "timings_ms.total", ">=", r.f("timings_ms.open"))
    ck.eq(r, "close.code", 1000)
    ck.eq(r, "close.by", "client")
    ck.ok(isinstance(r.f("verdict"), str) and r.f("verdict"), "verdict: want a sentence")
    c = conn(target)
    if ck.ok(c is not None, "the peer never saw the connection"):
        ck.ok(len(c.pings) >= 3, "peer: want >= 3 pings, got %d" % len(c.pings))
        ck.ok(c.close_received is not None and c.close_received[0] == 1000,
              "peer: want a close frame with 1000 from wsmon, got %r" % (c.close_received,))
        ck.ok(c.unmasked == 0, "peer: %d client frames were not masked" % c.unmasked)
        ck.ok((c.header("Sec-WebSocket-Version") or "") == "13",
              "peer: Sec-WebSocket-Version want 13, got %r" % c.header("Sec-WebSocket-Version"))


# 2-5 expected message ------------------------------------------------------------------------

@suite.test("2 --expect-message hello on /echo: healthy")
def t_expect_ok(ck):
    r = ck.probe(["--expect-message", "hello", url("/echo?id=t2")], timeout=10)
    ck.rc(r, 0)
    if ck.nobjs(r, 1):
        healthy_fields(ck, r)
        ck.num(r, "timings_ms.first_message")
        ck.eq(r, "messages.first", "hello")


@suite.test("3 --expect-message nope --expect-within 1s: no-first-message")
def t_expect_nope(ck):
    r = ck.probe(["--expect-message", "nope", "--expect-within", "1s", url("/echo?id=t3")],
                 timeout=10)
    ck.rc(r, 1)
    ck.faster(r, 4.0)
    ck.ok(r.elapsed >= 0.9, "ended after %.2f s, before --expect-within 1s ran out" % r.elapsed)
    if ck.nobjs(r, 1):
        failed_fields(ck, r, "no-first-message", "no-first-message", "open")
        ck.eq(r, "reached", "open")
        ck.eq(r, "close.by", "timeout")
        ck.eq(r, "messages.first", "hello")


@suite.test("4 /late?ms=3000 --expect-message hello --expect-within 1s: no-first-message")
def t_late_too_late(ck):
    r = ck.probe(["--expect-message", "hello", "--expect-within", "1s",
                  url("/late?ms=3000&id=t4")], timeout=10)
    ck.rc(r, 1)
    ck.faster(r, 2.8)
    if ck.nobjs(r, 1):
        failed_fields(ck, r, "no-first-message", "no-first-message", "open")
        ck.eq(r, "reached", "open")
        ck.eq(r, "messages.in", 0)
        ck.eq(r, "timings_ms.first_message", None)


@suite.test("5 /late?ms=300 --expect-message hello --expect-within 3s: healthy, first >= 300 ms")
def t_late_in_time(ck):
    r = ck.probe(["--expect-message", "hello", "--expect-within", "3s",
                  url("/late?ms=300&id=t5")], timeout=10)
    ck.rc(r, 0)
    if ck.nobjs(r, 1):
        healthy_fields(ck, r)
        ck.cmp(r, "timings_ms.first_message", ">=", 300)
        ck.cmp(r, "timings_ms.first_message", "<", 3000)
        ck.eq(r, "messages.first", "hello")


# 6-10 before open ----------------------------------------------------------------------------

@suite.test("6 refused port: tcp-refused")
def t_refused(ck):
    port = peers.refused_port()
    u = "ws://127.0.0.1:%d/echo" % port
    r = ck.probe([u], timeout=10)
    ck.rc(r, 1)
    ck.faster(r, 3.0)
    if ck.nobjs(r, 1):
        failed_fields(ck, r, "tcp-refused", "refused", "tcp")
        ck.eq(r, "reached", "none")
        ck.eq(r, "close.code", 1006)
        ck.eq(r, "timings_ms.dns", None)
        ck.eq(r, "url", u)
        ck.ok(r.f("http") is None or r.f("http.status") is None,
              "http.status: nothing answered, got %r" % (r.f("http.status"),))


@suite.test("7 blackhole --timeout 1s: tcp-timeout within ~3 s")
def t_blackhole(ck):
    bh = S["bh"]
    if not bh.works:
        raise SkipTest("a full accept queue does not drop SYNs on this kernel: " + bh.note)
    r = ck.probe(["--timeout", "1s", "ws://127.0.0.1:%d/echo" % bh.port], timeout=10)
    ck.rc(r, 1)
    ck.faster(r, 3.0)
    ck.ok(r.elapsed >= 0.9, "ended after %.2f s, before --timeout 1s ran out" % r.elapsed)
    if ck.nobjs(r, 1):
        failed_fields(ck, r, "tcp-timeout", "connect-timeout", "tcp")
        ck.eq(r, "reached", "none")
        ck.eq(r, "close.code", 1006)
        ck.eq(r, "close.by", "timeout")


@suite.test("8 /hang --timeout 1s: handshake-timeout")
def t_hang(ck):
    target = "/hang?id=t8"
    r = ck.probe(["--timeout", "1s", url(target)], timeout=10)
    ck.rc(r, 1)
    ck.faster(r, 3.0)
    if ck.nobjs(r, 1):
        failed_fields(ck, r, "handshake-timeout", "handshake-timeout", "upgrade")
        ck.eq(r, "reached", "tcp")
        ck.eq(r, "close.by", "timeout")
        ck.eq(r, "close.code", 1006)
    ck.ok(conn(target, finished=False) is not None, "the peer never got the upgrade request")


def before_open(ck, path, cause, transport):
    target = path + "?id=" + cause
    r = ck.probe([url(target)], timeout=10)
    ck.rc(r, 1)
    ck.faster(r, 3.0)
    if ck.nobjs(r, 1):
        failed_fields(ck, r, "closed-before-open", cause, "upgrade")
        ck.eq(r, "reached", "tcp")
        ck.eq(r, "close.code", 1006)
        ck.eq(r, "close.by", "network")
        ck.eq(r, "close.transport", transport)
        ck.eq(r, "close.frame", False)
        ck.ok(r.f("http") is None or r.f("http.status") is None,
              "http.status: no response was sent, got %r" % (r.f("http.status"),))
    c = conn(target)
    ck.ok(c is not None and c.ended == transport.replace("reset", "rst").replace("eof", "fin"),
          "the peer did not end the connection as planned: %r" % (c,))


@suite.test("9 /reset (RST before any response): closed-before-open, reset")
def t_reset(ck):
    before_open(ck, "/reset", "reset", "reset")


@suite.test("10 /eof (FIN before any response): closed-before-open, eof")
def t_eof(ck):
    before_open(ck, "/eof", "eof", "eof")


# 11-16 HTTP answers --------------------------------------------------------------------------

def status_case(ck, code, hint_words=None):
    r = ck.probe([url("/status/%d?id=t" % code)], timeout=10)
    ck.rc(r, 1)
    if ck.nobjs(r, 1):
        failed_fields(ck, r, "http-status", "http-status", "upgrade")
        ck.eq(r, "http.status", code)
        ck.eq(r, "reached", "tcp")
        hint = r.f("hint")
        if ck.ok(isinstance(hint, str) and hint.strip(), "hint: want a sentence, got %r" % (hint,)):
            if hint_words:
                ck.ok(re.search(hint_words, hint, re.I),
                      "hint %r does not name /%s/" % (hint, hint_words))
        ck.ok(isinstance(r.f("verdict"), str) and r.f("verdict"), "verdict: want a sentence")
    return r


@suite.test("11 /status/403: http-status 403")
def t_403(ck):
    status_case(ck, 403)


@suite.test("12 /status/404: http-status 404")
def t_404(ck):
    status_case(ck, 404)


@suite.test("13 /status/502: http-status 502, hint names the target")
def t_502(ck):
    status_case(ck, 502, r"target|unhealthy|backend")


@suite.test("14 /ok200: upgrade-missing, server and sticky cookie reported")
def t_ok200(ck):
    r = ck.probe([url("/ok200?id=t14")], timeout=10)
    ck.rc(r, 1)
    ck.faster(r, 3.0)
    if ck.nobjs(r, 1):
        failed_fields(ck, r, "upgrade-missing", "http-status", "upgrade")
        ck.eq(r, "http.status", 200)
        ck.eq(r, "http.server", "fake-lb")
        ck.eq(r, "http.upgrade", None)
        ck.eq(r, "http.connection", "keep-alive")
        sc = r.f("http.sticky_cookies")
        ck.ok(isinstance(sc, list) and "AWSALB" in sc,
              "http.sticky_cookies: want it to hold 'AWSALB', got %r" % (sc,))
        ck.ok("abc" not in r.stdout, "the cookie's value was printed")


@suite.test("15 /badaccept: bad-accept")
def t_badaccept(ck):
    r = ck.probe([url("/badaccept?id=t15")], timeout=10)
    ck.rc(r, 1)
    ck.faster(r, 3.0)
    if ck.nobjs(r, 1):
        failed_fields(ck, r, "bad-accept", "bad-accept", "upgrade")
        ck.eq(r, "http.status", 101)
        ck.eq(r, "http.accept_ok", False)


@suite.test("16 /redirect: cause redirect, Location reported, not followed")
def t_redirect(ck):
    srv = S["ws"]
    before = len(srv.requests("/echo"))
    r = ck.probe([url("/redirect?id=t16")], timeout=10)
    ck.rc(r, 1)
    if ck.nobjs(r, 1):
        # DESIGN 5: a 2xx/3xx answer without Upgrade is upgrade-missing
        failed_fields(ck, r, "upgrade-missing", "redirect", "upgrade")
        ck.eq(r, "http.status", 301)
        ck.eq(r, "http.location", srv.url("/echo"))
    ck.ok(srv.sync(), "the peer did not settle (sync)")
    after = len(srv.requests("/echo"))
    ck.ok(after == before, "wsmon followed the redirect: /echo was requested %d time(s)"
          % (after - before))


# 17-23 after open ----------------------------------------------------------------------------

def close_case(ck, code, reason):
    q = "after=200&id=t%d" % code
    if reason:
        q = "reason=%s&%s" % (reason, q)
    target = "/close/%d?%s" % (code, q)
    r = ck.probe(["--hold", "5s", url(target)], timeout=12)
    ck.rc(r, 1)
    ck.faster(r, 4.5)  # ends when the server closes, not at the end of --hold
    if ck.nobjs(r, 1):
        failed_fields(ck, r, "closed-by-server", "close-frame", "open")
        ck.eq(r, "reached", "open")
        ck.eq(r, "close.code", code)
        if reason:
            ck.eq(r, "close.reason", reason)
        else:
            ck.isin(r, "close.reason", ("", None))
        ck.eq(r, "close.by", "server")
        ck.eq(r, "close.frame", True)
        ck.cmp(r, "close.open_for_ms", ">=", 150)
    c = conn(target)
    ck.ok(c is not None and c.close_received is not None,
          "peer: wsmon did not answer the close frame with its own (RFC 6455 5.5.1): %r" % (c,))


@suite.test("17 /close/1000 after 200 ms: closed-by-server 1000")
def t_close_1000(ck):
    close_case(ck, 1000, "")


@suite.test("18 /close/1001?reason=deploy after 200 ms: closed-by-server 1001 deploy")
def t_close_1001(ck):
    close_case(ck, 1001, "deploy")


@suite.test("19 /close/1011?reason=boom after 200 ms: closed-by-server 1011 boom")
def t_close_1011(ck):
    close_case(ck, 1011, "boom")


def drop_case(ck, path, transport):
    target = "%s?after=200&id=t-%s" % (path, transport)
    r = ck.probe(["--hold", "5s", url(target)], timeout=12)
    ck.rc(r, 1)
    ck.faster(r, 4.5)
    if ck.nobjs(r, 1):
        failed_fields(ck, r, "abnormal-close", transport, "open")
        ck.eq(r, "reached", "open")
        ck.eq(r, "close.code", 1006)
        ck.eq(r, "close.by", "network")
        ck.eq(r, "close.frame", False)
        ck.eq(r, "close.transport", transport)
        ck.cmp(r, "close.open_for_ms", ">=", 150)


@suite.test("20 /drop?after=200 (FIN, no close frame): abnormal-close, eof")
def t_drop(ck):
    drop_case(ck, "/drop", "eof")


@suite.test("21 /rst?after=200 (RST): abnormal-close, reset")
def t_rst(ck):
    drop_case(ck, "/rst", "reset")


@suite.test("22 /nopong --pings 1 --timeout 2s: ping-timeout")
def t_nopong(ck):
    target = "/nopong?id=t22"
    r = ck.probe(["--pings", "1", "--timeout", "2s", url(target)], timeout=15)
    ck.rc(r, 1)
    ck.faster(r, 8.0)
    if ck.nobjs(r, 1):
        failed_fields(ck, r, "ping-timeout", "ping-timeout", "open")
        ck.eq(r, "reached", "open")
        ck.eq(r, "close.by", "timeout")
        ck.eq(r, "rtt_ms.samples", 0)
    c = conn(target)
    ck.ok(c is not None and len(c.pings) >= 1, "peer: want a ping from wsmon, got %r" % (c,))


@suite.test("23 --hold 2s --ping 500ms on /echo: healthy, open >= 1.9 s, RTT samples")
def t_hold(ck):
    target = "/echo?id=t23"
    r = ck.probe(["--hold", "2s", "--ping", "500ms", url(target)], timeout=12)
    ck.rc(r, 0)
    ck.faster(r, 5.0)
    if ck.nobjs(r, 1):
        healthy_fields(ck, r)
        ck.cmp(r, "rtt_ms.samples", ">=", 3)
        ck.cmp(r, "close.open_for_ms", ">=", 1900)
        ck.cmp(r, "timings_ms.total", ">=", 2000)
        ck.eq(r, "close.code", 1000)
        ck.eq(r, "close.by", "client")
    c = conn(target)
    ck.ok(c is not None and c.close_received and c.close_received[0] == 1000,
          "peer: want a 1000 close frame at the end of --hold, got %r" % (c,))


# 24 terminal safety --------------------------------------------------------------------------

@suite.test("24a /evil: escapes in messages.first are JSON-escaped")
def t_evil_json(ck):
    r = ck.probe([url("/evil?id=t24a")], timeout=10)
    if ck.nobjs(r, 1):
        first = r.f("messages.first")
        ck.ok(isinstance(first, str) and "\x1b" in first,
              "messages.first: want the ESC kept (as \\u001b in JSON), got %r" % (first,))
        ck.ok(re.search(rb"\\u001[bB]", r.stdout_b),
              "the JSON text does not hold the escape as \\u001b")
    ck.ok(b"\x1b" not in r.stdout_b, "raw ESC (0x1b) in the JSON output")
    ck.ok(b"\x07" not in r.stdout_b, "raw BEL (0x07) in the JSON output")
    no_control_bytes(ck, r.stdout_b, "the JSON output")


@suite.test("24b /evil: the human output holds no control characters")
def t_evil_text(ck):
    r = ck.text([url("/evil?id=t24b")], timeout=10)
    ck.ok(r.stdout_b.strip(), "no text output at all")
    no_control_bytes(ck, r.stdout_b, "the text output")
    fits_80(ck, r)


@suite.test("24c /evilclose: escapes in close.reason, JSON and text")
def t_evilclose(ck):
    r = ck.probe(["--hold", "3s", url("/evilclose?id=t24c")], timeout=10)
    ck.rc(r, 1)
    if ck.nobjs(r, 1):
        failed_fields(ck, r, "closed-by-server", "close-frame", "open")
        ck.eq(r, "close.code", 1008)
        ck.eq(r, "close.reason", peers.EVIL_REASON)
        ck.ok(re.search(rb"\\u001[bB]", r.stdout_b),
              "the JSON text does not hold the escape as \\u001b")
    ck.ok(b"\x1b" not in r.stdout_b, "raw ESC (0x1b) in the JSON output")
    ck.ok(b"\x07" not in r.stdout_b, "raw BEL (0x07) in the JSON output")
    no_control_bytes(ck, r.stdout_b, "the JSON output")
    t = ck.text(["--hold", "3s", url("/evilclose?id=t24c-text")], timeout=10)
    ck.ok(t.rc == 1, "text run: exit status want 1, got %r" % t.rc)
    mentions(ck, t.stdout, r"1008", "the close code 1008")
    no_control_bytes(ck, t.stdout_b, "the text output")
    fits_80(ck, t)


# 25-27 several connections -------------------------------------------------------------------

@suite.test("25a healthy + refused in one call: two objects in order, exit 1")
def t_two(ck):
    u1 = url("/echo?id=t25a")
    u2 = "ws://127.0.0.1:%d/echo" % peers.refused_port()
    r = ck.probe([u1, u2], timeout=10)
    ck.rc(r, 1)
    if ck.nobjs(r, 2):
        ck.eq(r, "url", u1, 0)
        ck.eq(r, "class", "healthy", 0)
        ck.eq(r, "ok", True, 0)
        ck.eq(r, "url", u2, 1)
        ck.eq(r, "class", "tcp-refused", 1)
        ck.eq(r, "ok", False, 1)


@suite.test("25b two /late?ms=1500 with --expect-message: run concurrently (< 2.8 s)")
def t_concurrent(ck):
    us = [url("/late?ms=1500&id=t25b-1"), url("/late?ms=1500&id=t25b-2")]
    r = ck.probe(["--expect-message", "hello"] + us, timeout=10)
    ck.rc(r, 0)
    ck.faster(r, 2.8)
    if ck.nobjs(r, 2):
        for i in range(2):
            ck.eq(r, "url", us[i], i)
            healthy_fields(ck, r, i)


@suite.test("26 --connections 3 on /echo: three healthy objects, three connections")
def t_connections(ck):
    target = "/echo?id=t26"
    r = ck.probe(["--connections", "3", url(target)], timeout=10)
    ck.rc(r, 0)
    if ck.nobjs(r, 3):
        for i in range(3):
            healthy_fields(ck, r, i)
            ck.eq(r, "url", url(target), i)
    srv = S["ws"]
    srv.wait_for(lambda: len([c for c in srv.conns if c.target == target and c.finished]) >= 3,
                 3.0)
    n = len([c for c in srv.snapshot() if c.target == target])
    ck.ok(n == 3, "the peer saw %d connections, want 3" % n)


@suite.test("27 ws://[::1]:PORT/echo: healthy over IPv6")
def t_ipv6(ck):
    if "ws6" not in S:
        raise SkipTest("no IPv6 loopback here: " + S.get("ws6_error", "?"))
    srv = S["ws6"]
    u = srv.url("/echo?id=t27")
    r = ck.probe([u], timeout=10)
    ck.rc(r, 0)
    if ck.nobjs(r, 1):
        healthy_fields(ck, r)
        rem = r.f("remote")
        ck.ok(isinstance(rem, str) and rem.startswith("[::1]:"),
              "remote: want '[::1]:PORT', got %r" % (rem,))
        ck.eq(r, "remote", "[::1]:%d" % srv.port)
        ck.eq(r, "timings_ms.dns", None)


# 28 usage errors -----------------------------------------------------------------------------

def usage_case(ck, args, must_say=()):
    r = ck.probe(args, timeout=10, expect_json=False)
    ck.rc(r, 2)
    ck.ok(r.stderr.strip(), "no message on stderr")
    ck.ok(not r.stdout_b, "stdout should be empty on a usage error")
    for s in must_say:
        ck.ok(s in r.stderr, "stderr does not say %r" % s)
    return r


def dead_url():
    return "ws://127.0.0.1:%d/echo" % peers.refused_port()


@suite.test("28a usage: no URL -> exit 2")
def t_usage_nourl(ck):
    usage_case(ck, [])


@suite.test("28b usage: bad URL http//x -> exit 2")
def t_usage_badurl(ck):
    usage_case(ck, ["http//x"])


@suite.test("28c usage: --pings -1 -> exit 2")
def t_usage_pings(ck):
    usage_case(ck, ["--pings", "-1", dead_url()])


@suite.test("28d usage: --timeout 5x -> exit 2")
def t_usage_timeout(ck):
    usage_case(ck, ["--timeout", "5x", dead_url()])


@suite.test("28e usage: unknown option -> exit 2")
def t_usage_option(ck):
    usage_case(ck, ["--no-such-option", dead_url()])


@suite.test("28f config file with an unknown key -> exit 2 naming file, line and key")
def t_usage_config(ck):
    path = os.path.join(harness.tmpdir(), "bad-key.ini")
    with open(path, "w") as f:
        f.write("[defaults]\n"            # 1
                "ping = 5s\n"             # 2
                "\n"                      # 3
                "[local]\n"               # 4
                "url = %s\n"              # 5
                "colour = blue\n"         # 6
                % dead_url())
    r = usage_case(ck, ["-c", path])
    ck.ok(os.path.basename(path) in r.stderr, "stderr does not name the file")
    ck.ok(":6:" in r.stderr, "stderr does not give the line as ':6:'")
    ck.ok("colour" in r.stderr, "stderr does not name the key")


# 29-30 what wsmon sends ----------------------------------------------------------------------

@suite.test("29 --send hi on /echo: counted out, received by the peer")
def t_send(ck):
    target = "/echo?id=t29"
    r = ck.probe(["--send", "hi", url(target)], timeout=10)
    ck.rc(r, 0)
    if ck.nobjs(r, 1):
        healthy_fields(ck, r)
        ck.cmp(r, "messages.out", ">=", 1)
        ck.cmp(r, "messages.bytes_out", ">=", 2)
    c = conn(target)
    ck.ok(c is not None and "hi" in c.texts(),
          "peer: want a text message 'hi', got %r" % (c.messages if c else None,))


@suite.test("30 -H 'X-Test: 1' --origin http://example.test: sent as given")
def t_headers(ck):
    target = "/echo?id=t30"
    r = ck.probe(["-H", "X-Test: 1", "--origin", "http://example.test", url(target)],
                 timeout=10)
    ck.rc(r, 0)
    if ck.nobjs(r, 1):
        healthy_fields(ck, r)
    c = conn(target)
    if ck.ok(c is not None, "the peer never saw the connection"):
        ck.ok(c.header("X-Test") == "1", "peer: X-Test want '1', got %r" % c.header("X-Test"))
        ck.ok(c.header("Origin") == "http://example.test",
              "peer: Origin want 'http://example.test', got %r" % c.header("Origin"))
        host = c.header("Host")
        ck.ok(host == "127.0.0.1:%d" % S["ws"].port, "peer: Host want 127.0.0.1:PORT, got %r"
              % host)


# text output ---------------------------------------------------------------------------------

@suite.test("31 text output, healthy: names the class, 80 columns, no ANSI")
def t_text_healthy(ck):
    r = ck.text([url("/echo?id=t31")], timeout=10)
    ck.rc(r, 0)
    mentions(ck, r.stdout, r"healthy", "the class healthy")
    fits_80(ck, r)
    no_control_bytes(ck, r.stdout_b, "the text output")


@suite.test("32 text output, 502: names the class and the status, 80 columns, no ANSI")
def t_text_502(ck):
    r = ck.text([url("/status/502?id=t32")], timeout=10)
    ck.rc(r, 1)
    mentions(ck, r.stdout, r"http[- ]status", "the class http-status")
    mentions(ck, r.stdout, r"\b502\b", "the status 502")
    fits_80(ck, r)
    no_control_bytes(ck, r.stdout_b, "the text output")


if __name__ == "__main__":
    suite.run(setup)
