#!/usr/bin/env python3
"""wsmon probe options against real loopback peers: --proxy, --protocol, -c FILE,
--connections with a sticky cookie, and secrets masking (DESIGN 3, 3.1, 6, 9; README).

Expected values come from DESIGN, README, `wsmon probe --help` and RFC 6455, never from
wsmon's own output. Every peer listens on 127.0.0.1 (the proxy only tunnels to loopback).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Suite  # noqa: E402
import peers  # noqa: E402

suite = Suite()
S = {}  # the peers, made in setup()

PROXY_VARS = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
              "ALL_PROXY")


def setup():
    S["certs"] = peers.make_certs(os.path.join(harness.tmpdir(), "certs"))
    S["ws"] = peers.WSServer("127.0.0.1").start()
    suite.at_end(S["ws"].stop)
    S["wss"] = peers.WSServer("127.0.0.1", certfile=S["certs"]["valid"],
                              keyfile=S["certs"]["key"]).start()
    suite.at_end(S["wss"].stop)


def url(target):
    return S["ws"].url(target)


def tls_args(target):
    """Arguments and URL for wss://wsmon.test:PORT/target on the TLS peer (--resolve to
    127.0.0.1, the test CA)."""
    srv = S["wss"]
    u = srv.url(target, host="wsmon.test")
    return ["--cacert", S["certs"]["ca"], "--resolve", "wsmon.test:%d:127.0.0.1" % srv.port], u


def proxy(**kw):
    px = peers.ConnectProxy("127.0.0.1", **kw).start()
    suite.at_end(px.stop)
    return px


def conns(srv, target, n, timeout=3.0):
    """The peer's finished records of the connections that asked for exactly target,
    once there are n of them (or timeout)."""
    srv.wait_for(lambda: len([c for c in srv.conns if c.target == target and c.finished])
                 >= n, timeout)
    with srv.cond:
        return [c for c in srv.conns if c.target == target]


def healthy_fields(ck, r, i=0):
    ck.eq(r, "ok", True, i)
    ck.eq(r, "class", "healthy", i)
    ck.eq(r, "cause", None, i)
    ck.eq(r, "failed_in", None, i)
    ck.eq(r, "reached", "open", i)
    ck.eq(r, "ready_state", 3, i)


def not_in_output(ck, r, secret, what):
    """secret appears neither on stdout nor on stderr (DESIGN 9: masked in the output)."""
    if secret in r.stdout:
        ck.fail("%s %r appears on stdout" % (what, secret))
    if secret in r.stderr:
        ck.fail("%s %r appears on stderr" % (what, secret))


def summary(r, i=0):
    return "class=%r cause=%r failed_in=%r reached=%r verdict=%r hint=%r" % (
        r.f("class", i), r.f("cause", i), r.f("failed_in", i), r.f("reached", i),
        r.f("verdict", i), r.f("hint", i))


def write(name, text):
    path = os.path.join(harness.tmpdir(), name)
    with open(path, "w") as f:
        f.write(text)
    return path


# 1 --proxy ----------------------------------------------------------------------------------

def check_tunnels(ck, px, srv, target, n, want_host, min_bytes):
    """px saw exactly n CONNECTs, each for want_host:srv.port, answered 200, with bytes
    both ways; srv saw the n connections for target, each coming out of a tunnel."""
    px.wait_finished(n, 3.0)
    ck.ok(px.sync(), "the proxy did not settle (sync)")
    seen = px.snapshot()
    ck.ok(len(seen) == n, "the proxy saw %d connection(s), want %d (one CONNECT per "
          "connection): %r" % (len(seen), n, seen))
    want_target = "%s:%d" % (want_host, srv.port)
    for p in seen:
        ck.ok(p.method == "CONNECT", "proxy: want a CONNECT, got %r" % p.request_line)
        ck.ok(p.target == want_target, "proxy: CONNECT target want %r, got %r"
              % (want_target, p.target))
        ck.ok(p.port == srv.port, "proxy: CONNECT port want %d (the URL's), got %r"
              % (srv.port, p.port))
        ck.ok(p.status == 200 and p.connected_to is not None,
              "proxy: the tunnel was not set up: %r" % p)
        ck.ok(p.up >= min_bytes and p.down >= min_bytes,
              "proxy: want >= %d bytes tunnelled each way, got up %d down %d"
              % (min_bytes, p.up, p.down))
    cs = conns(srv, target, n)
    ck.ok(len(cs) == n, "the peer saw %d connection(s) for %s, want %d" % (len(cs), target, n))
    outs = {tuple(p.upstream_local) for p in seen if p.upstream_local}
    for c in cs:
        ck.ok(tuple(c.addr[:2]) in outs, "peer: connection from %r did not come through the "
              "proxy's tunnels %r" % (c.addr, sorted(outs)))
    return seen, cs


@suite.test("1a --proxy: ws:// --connections 2 through a CONNECT proxy: healthy, one CONNECT "
            "per connection, traffic tunnelled")
def t_proxy_ws(ck):
    px = proxy()
    srv = S["ws"]
    target = "/echo?id=p1a"
    r = ck.probe(["--proxy", px.hostport, "--connections", "2", url(target)], timeout=10)
    ck.rc(r, 0)
    if ck.nobjs(r, 2):
        for i in range(2):
            healthy_fields(ck, r, i)
            ck.eq(r, "url", url(target), i)
            ck.eq(r, "messages.first", "hello", i)  # came back through the tunnel
    seen, cs = check_tunnels(ck, px, srv, target, 2, "127.0.0.1", 100)
    for c in cs:
        ck.ok(c.header("Host") == "127.0.0.1:%d" % srv.port,
              "peer: Host want the URL's 127.0.0.1:%d, got %r" % (srv.port, c.header("Host")))
        ck.ok(c.request_line and c.request_line.startswith("GET /echo?id=p1a "),
              "peer: want an origin-form GET, got %r" % (c.request_line,))
    for p in seen:
        ck.note("proxy saw: %r, headers %r, %d bytes up, %d down"
                % (p.request_line, p.headers, p.up, p.down))
    if r.objs:
        ck.note("remote with a proxy: %r" % (r.f("remote"),))


@suite.test("1b --proxy: wss://wsmon.test with --resolve: CONNECT to ADDR:PORT, Host, SNI "
            "and certificate keep wsmon.test (DESIGN 3)")
def t_proxy_wss(ck):
    px = proxy()
    srv = S["wss"]
    target = "/echo?id=p1b"
    args, u = tls_args(target)
    r = ck.probe(["--proxy", px.hostport] + args + [u], timeout=10)
    ck.rc(r, 0)
    if ck.nobjs(r, 1):
        healthy_fields(ck, r)
        ck.eq(r, "url", u)
        ck.eq(r, "tls.verify", "ok")
        ck.eq(r, "tls.insecure", False)
        subj = r.f("tls.subject")
        ck.ok(isinstance(subj, str) and "wsmon.test" in subj,
              "tls.subject: want it to name wsmon.test, got %r" % (subj,))
        ck.eq(r, "messages.first", "hello")
    # DESIGN 3: --resolve means "connect to ADDR but keep HOST for Host, SNI and certificate
    # checks". Through a proxy the tunnel is what connects, so the CONNECT names ADDR:PORT.
    # (curl sends CONNECT HOST:PORT and leaves the name to the proxy, which ignores
    # --resolve: curl/curl#2346, closed as not-a-bug.)
    seen, cs = check_tunnels(ck, px, srv, target, 1, "127.0.0.1", 200)
    for c in cs:
        ck.ok(c.sni == "wsmon.test", "peer: SNI want 'wsmon.test', got %r" % (c.sni,))
        ck.ok(c.header("Host") == "wsmon.test:%d" % srv.port,
              "peer: Host want 'wsmon.test:%d', got %r" % (srv.port, c.header("Host")))
    for p in seen:
        ck.note("proxy saw: %r, headers %r, %d bytes up, %d down"
                % (p.request_line, p.headers, p.up, p.down))


@suite.test("1c http_proxy and friends in the environment, no --proxy: not used (README)")
def t_proxy_env(ck):
    px = proxy()
    pv = "http://" + px.hostport
    env = {k: pv for k in PROXY_VARS}
    args, u_tls = tls_args("/echo?id=p1c-tls")
    u = url("/echo?id=p1c")
    for argv, want in (([u], u), (args + [u_tls], u_tls)):
        r = ck.probe(argv, timeout=10, env_extra=env)
        ck.rc(r, 0)
        if ck.nobjs(r, 1):
            healthy_fields(ck, r)
            ck.eq(r, "url", want)
    ck.ok(px.sync(), "the proxy did not settle (sync)")
    seen = px.snapshot()
    ck.ok(not seen, "the proxy from the environment was used: %r" % (seen,))
    ck.ok(len(conns(S["ws"], "/echo?id=p1c", 1)) == 1, "the ws peer did not see the probe")
    ck.ok(len(conns(S["wss"], "/echo?id=p1c-tls", 1)) == 1, "the wss peer did not see the probe")


@suite.test("1d --proxy that answers 403 to CONNECT: not ok, exit 1")
def t_proxy_refused(ck):
    px = proxy(refuse=403)
    srv = S["ws"]
    target = "/echo?id=p1d"
    r = ck.probe(["--proxy", px.hostport, url(target)], timeout=10)
    ck.rc(r, 1)
    ck.faster(r, 5.0)
    if ck.nobjs(r, 1):
        ck.eq(r, "ok", False)
        ck.ok(r.f("class") != "healthy", "class: want a failure, got 'healthy'")
        ck.isin(r, "failed_in", ("dns", "tcp", "tls", "upgrade"))  # it never opened
        ck.eq(r, "ready_state", 3)
        ck.eq(r, "close.code", 1006)  # DESIGN 4: a failure before open shows as 1006
        ck.eq(r, "timings_ms.open", None)
        ck.note("403 from the proxy, JSON: " + summary(r))
        ck.note("JSON: http=%r remote=%r; the 403 in the output: %s; the proxy's address "
                "in the output: %s" % (r.f("http"), r.f("remote"), "403" in r.stdout,
                                       px.hostport in r.stdout))
        # DESIGN 5: the layer that failed is named: here the proxy's tunnel, not the server
        ck.eq(r, "class", "http-status")
        ck.eq(r, "failed_in", "tcp")
        v = r.f("verdict") or ""
        ck.ok("proxy" in v and px.hostport in v,
              "verdict: want it to name the proxy %s, got %r" % (px.hostport, v))
    t = ck.text(["--proxy", px.hostport, url(target + "-text")], timeout=10)
    ck.rc(t, 1)
    ck.ok(px.hostport in t.stdout, "text output: want the proxy %s named" % px.hostport)
    ck.note("text: the 403 in the output: %s; the proxy's address in the output: %s; "
            "stderr: %r" % ("403" in t.stdout, px.hostport in t.stdout, t.stderr))
    px.wait_finished(2, 3.0)
    ck.ok(px.sync(), "the proxy did not settle (sync)")
    seen = px.snapshot()
    ck.ok(len(seen) == 2 and all(p.method == "CONNECT" and p.status == 403 for p in seen),
          "proxy: want two CONNECTs answered 403, got %r" % (seen,))
    ck.ok(srv.sync(), "the peer did not settle (sync)")
    leaked = [c for c in srv.requests("/echo") if c.target.startswith(target)]
    ck.ok(not leaked, "the peer got the upgrade request although the proxy refused the "
          "tunnel: %r" % (leaked,))


# 2 --protocol -------------------------------------------------------------------------------

@suite.test("2a --protocol chat --protocol superchat, server picks chat: healthy, header sent")
def t_proto(ck):
    target = "/proto?id=t2a"
    r = ck.probe(["--protocol", "chat", "--protocol", "superchat", url(target)], timeout=10)
    ck.rc(r, 0)
    if ck.nobjs(r, 1):
        healthy_fields(ck, r)
        ck.eq(r, "http.status", 101)
    cs = conns(S["ws"], target, 1)
    if ck.ok(len(cs) == 1, "the peer saw %d connection(s), want 1" % len(cs)):
        h = cs[0].header("Sec-WebSocket-Protocol")
        toks = [x.strip() for x in (h or "").split(",")]
        ck.ok(toks == ["chat", "superchat"],
              "peer: Sec-WebSocket-Protocol want 'chat, superchat' (in order), got %r" % (h,))
        ck.note("Sec-WebSocket-Protocol sent: %r" % (h,))


@suite.test("2b server answers a protocol not offered (nope): the client fails the connection "
            "(RFC 6455 4.1)")
def t_proto_bad(ck):
    target = "/proto-bad?id=t2b"
    r = ck.probe(["--protocol", "chat", "--protocol", "superchat", url(target)], timeout=10)
    ck.rc(r, 1)
    ck.faster(r, 5.0)
    if ck.nobjs(r, 1):
        ck.eq(r, "ok", False)
        ck.ok(r.f("class") != "healthy", "class: want a failure, got 'healthy'")
        ck.eq(r, "failed_in", "upgrade")
        ck.eq(r, "http.status", 101)
        ck.eq(r, "ready_state", 3)
        ck.eq(r, "close.code", 1006)
        ck.eq(r, "timings_ms.open", None)
        ck.note("protocol 'nope' not offered: " + summary(r) +
                " http.accept_ok=%r" % (r.f("http.accept_ok"),))
        # the accept key was right: the verdict must not blame it, and must name the protocol
        ck.ok(r.f("http.accept_ok") is not False, "http.accept_ok: the key was right, got False")
        v = r.f("verdict") or ""
        ck.ok("protocol" in v and "Accept" not in v,
              "verdict: want the subprotocol named, not the accept key: %r" % (v,))
    cs = conns(S["ws"], target, 1)
    if ck.ok(len(cs) == 1, "the peer saw %d connection(s), want 1" % len(cs)):
        c = cs[0]
        ck.ok(c.protocol_sent == "nope", "peer: did not answer 'nope': %r" % (c,))
        ck.ok(not c.messages and not c.pings,
              "peer: the client used a connection it must have failed: %r" % (c,))


# 3 -c FILE ----------------------------------------------------------------------------------

@suite.test("3a -c FILE: [defaults] + good/bad/late, in file order, named by section, exit 1")
def t_config(ck):
    urls = {"good": url("/echo?id=t3a-good"), "bad": url("/status/502?id=t3a-bad"),
            "late": url("/late?ms=1500&id=t3a-late")}
    path = write("three.ini",
                 "[defaults]\n"
                 "ping = 200ms\n"
                 "timeout = 2s\n"
                 "\n"
                 "[good]\n"
                 "url = %(good)s\n"
                 "expect_message = hello\n"
                 "\n"
                 "[bad]\n"
                 "url = %(bad)s\n"
                 "\n"
                 "[late]\n"
                 "url = %(late)s\n"
                 "expect_message = hello\n"
                 "expect_within = 500ms\n" % urls)
    r = ck.probe(["-c", path], timeout=10)
    ck.rc(r, 1)
    ck.faster(r, 1.4)  # late's expect_within 500ms, not the default 10s nor its 1.5 s
    want = (("good", "healthy"), ("bad", "http-status"), ("late", "no-first-message"))
    if ck.nobjs(r, 3):
        for i, (name, klass) in enumerate(want):
            ck.eq(r, "endpoint", name, i)
            ck.eq(r, "url", urls[name], i)
            ck.eq(r, "class", klass, i)
            ck.eq(r, "ok", klass == "healthy", i)
        ck.eq(r, "messages.first", "hello", 0)
        ck.eq(r, "http.status", 502, 1)
        ck.eq(r, "failed_in", "upgrade", 1)
        ck.eq(r, "cause", "no-first-message", 2)
        ck.eq(r, "failed_in", "open", 2)
        ck.eq(r, "timings_ms.first_message", None, 2)
        ck.cmp(r, "timings_ms.total", ">=", 450, 2)
        ck.cmp(r, "timings_ms.total", "<", 1400, 2)


@suite.test("3b command line overrides [defaults] (--timeout 1s vs 2s), not an endpoint's own "
            "timeout (2500ms)")
def t_config_override(ck):
    urls = {"d": url("/hang?id=t3b-def"), "o": url("/hang?id=t3b-own")}
    path = write("override.ini",
                 "[defaults]\n"
                 "timeout = 2s\n"
                 "\n"
                 "[hang-def]\n"
                 "url = %(d)s\n"
                 "\n"
                 "[hang-own]\n"
                 "url = %(o)s\n"
                 "timeout = 2500ms\n" % urls)
    r = ck.probe(["--timeout", "1s", "-c", path], timeout=10)
    ck.rc(r, 1)
    ck.faster(r, 4.0)
    if ck.nobjs(r, 2):
        for i, name in enumerate(("hang-def", "hang-own")):
            ck.eq(r, "endpoint", name, i)
            ck.eq(r, "class", "handshake-timeout", i)
            ck.eq(r, "cause", "handshake-timeout", i)
            ck.eq(r, "close.by", "timeout", i)
        # hang-def: the command line's 1s, not [defaults]' 2s
        ck.cmp(r, "timings_ms.total", ">=", 900, 0)
        ck.cmp(r, "timings_ms.total", "<", 1600, 0)
        # hang-own: its own 2500ms, neither 1s nor 2s
        ck.cmp(r, "timings_ms.total", ">=", 2400, 1)
        ck.cmp(r, "timings_ms.total", "<", 3200, 1)


@suite.test("3c config error (bad duration on line 4): exit 2, FILE:4: and the key, empty stdout")
def t_config_error(ck):
    write("bad-dur.ini",
          "[defaults]\n"              # 1
          "ping = 200ms\n"            # 2
          "[x]\n"                     # 3
          "timeout = 5parsecs\n"      # 4
          "url = %s\n" % url("/echo?id=t3c"))
    # wsmon runs in the test's folder: the file is named as the user typed it
    r = ck.probe(["-c", "bad-dur.ini"], timeout=10, expect_json=False)
    ck.rc(r, 2)
    ck.ok(not r.stdout_b, "stdout should be empty on a configuration error")
    ck.ok("bad-dur.ini:4:" in r.stderr, "stderr does not say 'bad-dur.ini:4:'")
    ck.ok("timeout" in r.stderr, "stderr does not name the key 'timeout'")
    ck.ok(S["ws"].sync(), "the peer did not settle (sync)")
    ck.ok(not S["ws"].requests("/echo") or
          not [c for c in S["ws"].requests("/echo") if c.target == "/echo?id=t3c"],
          "wsmon connected although its configuration was bad")


@suite.test("3d URLs beside -c are probed after the file's endpoints")
def t_config_plus_url(ck):
    urls = {"a": url("/echo?id=t3d-first"), "b": url("/echo?id=t3d-second")}
    path = write("two.ini",
                 "[first]\n"
                 "url = %(a)s\n"
                 "\n"
                 "[second]\n"
                 "url = %(b)s\n" % urls)
    u = url("/echo?id=t3d-cmdline")
    r = ck.probe(["-c", path, u], timeout=10)
    ck.rc(r, 0)
    if ck.nobjs(r, 3):
        for i, (name, want) in enumerate((("first", urls["a"]), ("second", urls["b"]))):
            ck.eq(r, "endpoint", name, i)
            ck.eq(r, "url", want, i)
            healthy_fields(ck, r, i)
        ck.eq(r, "url", u, 2)
        healthy_fields(ck, r, 2)
        ck.ok(r.f("endpoint", 2) not in ("first", "second"),
              "[2] endpoint: the command-line URL got a file section's name %r"
              % (r.f("endpoint", 2),))
        ck.note("endpoint of a command-line URL: %r" % (r.f("endpoint", 2),))


# 4 --connections 3 and a sticky cookie --------------------------------------------------------

@suite.test("4 --connections 3 on /sticky: three healthy, sticky_cookies name AWSALB, its values "
            "never printed (DESIGN 9)")
def t_sticky(ck):
    srv = S["ws"]
    target = "/sticky?id=t4"
    r = ck.probe(["--connections", "3", url(target)], timeout=10)
    ck.rc(r, 0)
    if ck.nobjs(r, 3):
        for i in range(3):
            healthy_fields(ck, r, i)
            ck.eq(r, "url", url(target), i)
            sc = r.f("http.sticky_cookies", i)
            ck.ok(isinstance(sc, list) and "AWSALB" in sc,
                  "[%d] http.sticky_cookies: want it to hold 'AWSALB', got %r" % (i, sc))
        ck.note("http.backend: %r" % ([r.f("http.backend", i) for i in range(3)],))
    cs = conns(srv, target, 3)
    sent = sorted(c.set_cookie for c in cs if c.set_cookie)
    ck.ok(len(set(sent)) == 3, "peer: want three different cookie values sent, got %r" % sent)
    t = ck.text(["--connections", "3", url(target + "-text")], timeout=10)
    ck.rc(t, 0)
    ck.note("text output names AWSALB: %s" % ("AWSALB" in t.stdout))
    for n in (1, 2, 3):
        v = peers.sticky_value(n)
        not_in_output(ck, r, v, "JSON run: the cookie value")
        not_in_output(ck, t, v, "text run: the cookie value")


# 5 secrets ----------------------------------------------------------------------------------

@suite.test("5a ?token=s3cr3t&x=1: masked in JSON and text, shown with --show-secrets, sent "
            "as is")
def t_token(ck):
    srv = S["ws"]
    target = "/echo?id=t5a&token=s3cr3t&x=1"
    masked = url("/echo?id=t5a&token=***&x=1")
    r = ck.probe([url(target)], timeout=10)
    ck.rc(r, 0)
    if ck.nobjs(r, 1):
        healthy_fields(ck, r)
        ck.eq(r, "url", masked)
    not_in_output(ck, r, "s3cr3t", "JSON run: the token")
    t = ck.text([url(target)], timeout=10)
    ck.rc(t, 0)
    ck.ok("token=***" in t.stdout and "x=1" in t.stdout,
          "text run: want the URL with token=*** and x=1")
    not_in_output(ck, t, "s3cr3t", "text run: the token")
    s = ck.probe(["--show-secrets", url(target)], timeout=10)
    ck.rc(s, 0)
    if ck.nobjs(s, 1):
        healthy_fields(ck, s)
        ck.eq(s, "url", url(target))
    cs = conns(srv, target, 3)
    ck.ok(len(cs) == 3 and all(c.query.get("token") == "s3cr3t" and c.query.get("x") == "1"
                               for c in cs),
          "peer: want token=s3cr3t&x=1 received by all three probes, got %r"
          % ([c.target for c in cs],))


@suite.test("5b -H 'Authorization: Bearer abc': sent to the peer, never printed (DESIGN 9)")
def t_authorization(ck):
    srv = S["ws"]
    target = "/echo?id=t5b"
    hdr = ["-H", "Authorization: Bearer abc"]
    r = ck.probe(hdr + [url(target)], timeout=10)
    ck.rc(r, 0)
    if ck.nobjs(r, 1):
        healthy_fields(ck, r)
    not_in_output(ck, r, "abc", "JSON run: the Authorization value")
    t = ck.text(["-v"] + hdr + [url(target)], timeout=10)
    ck.rc(t, 0)
    not_in_output(ck, t, "abc", "text run (-v): the Authorization value")
    cs = conns(srv, target, 2)
    ck.ok(len(cs) == 2 and all(c.header("Authorization") == "Bearer abc" for c in cs),
          "peer: want 'Authorization: Bearer abc' on both connections, got %r"
          % ([c.header("Authorization") for c in cs],))


if __name__ == "__main__":
    suite.run(setup)
