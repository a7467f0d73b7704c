#!/usr/bin/env python3
"""wsmon serve (the diagnostic server) behaves as `wsmon serve --help` documents.

Driven by `wsmon probe --json` (every JSON line through check-json.py probe) and, where probe
cannot see it, by a raw-socket WebSocket client and http.client. Expected values come from
`wsmon serve --help`, README and DESIGN 3.1/5, never from wsmon's own output. Everything
listens on 127.0.0.1 or ::1 on a port the kernel picks (--listen ...:0).

serve answers an unknown query parameter with 400, so its URLs carry no ?id= tags.
"""

import http.client
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import SkipTest, Suite  # noqa: E402
import peers  # noqa: E402
from peers import OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT  # noqa: E402

suite = Suite()
S = {}  # the shared server, made in setup()

LISTEN_RE = re.compile(r"^wsmon serve: listening on (wss?)://(\[[0-9a-fA-F:.]+\]|[0-9.]+):(\d+)$")


# -- wsmon serve as a subprocess ---------------------------------------------------------------

_procs = []


def _kill_leftovers():
    for p in _procs:
        if p.poll() is None:
            p.kill()
            p.wait(5)


class Serve:
    """`wsmon serve ARGS`, stdout/stderr read by threads. start() waits (with a deadline) for
    the first stdout line and reads the port from it."""

    def __init__(self, args, ck=None):
        self.cmd = [harness.WSMON, "serve"] + list(args)
        self.res = harness.Result(self.cmd)
        if ck is not None:
            ck.results.append(self.res)
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=harness._env(),
                                  cwd=harness.tmpdir())
        _procs.append(self.p)
        self.out = []
        self.err = []
        self.cond = threading.Condition()
        self.threads = [threading.Thread(target=self._read, args=(f, d), daemon=True)
                        for f, d in ((self.p.stdout, self.out), (self.p.stderr, self.err))]
        for t in self.threads:
            t.start()
        self.scheme = self.host = self.port = None
        self.first = None
        self.t_exit = None

    def _read(self, f, dest):
        for line in iter(f.readline, b""):
            with self.cond:
                dest.append(line)
                self.cond.notify_all()
        with self.cond:
            dest.append(None)  # EOF
            self.cond.notify_all()

    def wait_out(self, pred, timeout):
        """Wait until pred(stdout lines) is true or stdout ends; at most timeout s."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                lines = self.out_lines()
                if pred(lines):
                    return True
                left = deadline - time.monotonic()
                if left <= 0 or (self.out and self.out[-1] is None):
                    return bool(pred(lines))
                self.cond.wait(min(left, 0.5))

    def out_lines(self):
        with self.cond:
            return [l.decode("utf-8", "replace").rstrip("\n") for l in self.out if l is not None]

    def out_bytes(self):
        with self.cond:
            return b"".join(l for l in self.out if l is not None)

    def start(self, timeout=5.0):
        """True once the listening line came; sets scheme, host, port."""
        self.wait_out(lambda ls: len(ls) >= 1, timeout)
        lines = self.out_lines()
        if not lines:
            return False
        self.first = lines[0]
        m = LISTEN_RE.match(lines[0])
        if not m:
            return False
        self.scheme, self.host, self.port = m.group(1), m.group(2), int(m.group(3))
        return True

    def url(self, path, host=None):
        return "%s://%s:%d%s" % (self.scheme, host or self.host, self.port, path)

    def stop(self, sig=signal.SIGTERM, limit=5.0):
        """Signal, wait for the exit (kill after limit s). Seconds from the signal to the exit,
        None when it had to be killed."""
        t = time.monotonic()
        if self.p.poll() is None:
            self.p.send_signal(sig)
        return self.wait_exit(limit, t)

    def wait_exit(self, limit, t_from=None):
        t_from = t_from if t_from is not None else time.monotonic()
        took = None
        try:
            self.p.wait(max(0.5, min(limit, harness.time_left())))
            took = time.monotonic() - t_from
        except subprocess.TimeoutExpired:
            self.res.timed_out = True
            self.p.kill()
            self.p.wait(5)
        self.collect()
        return took

    def collect(self):
        for t in self.threads:
            t.join(5)
        r = self.res
        r.rc = self.p.returncode
        r.elapsed = time.monotonic() - self.t0
        with self.cond:
            r.stdout_b = b"".join(l for l in self.out if l is not None)
            r.stderr = b"".join(l for l in self.err if l is not None).decode("utf-8", "replace")
        r.stdout = r.stdout_b.decode("utf-8", "replace")


def serve_or_fail(ck, args):
    s = Serve(args, ck)
    if not s.start():
        s.stop()
        ck.fail("wsmon serve %s: no 'wsmon serve: listening on ws://ADDR:PORT' line first"
                % " ".join(args))
        return None
    return s


def setup():
    suite.at_end(_kill_leftovers)
    s = Serve(["--listen", "127.0.0.1:0"])
    S["srv"] = s
    suite.at_end(lambda: s.stop())
    if not s.start():
        s.stop()
        raise RuntimeError("wsmon serve --listen 127.0.0.1:0 did not print its listening line: "
                           "stdout %r stderr %r" % (s.res.stdout, s.res.stderr))


def url(path):
    return S["srv"].url(path)


def shared_dump(ck):
    """On failure, show what the shared server printed so far."""
    s = S["srv"]
    r = harness.Result(s.cmd)
    r.stdout_b = s.out_bytes()
    r.rc = s.p.poll()
    with s.cond:
        r.stderr = b"".join(l for l in s.err if l is not None).decode("utf-8", "replace")
    ck.results.append(r)


def ipv6_loopback():
    try:
        t = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        t.bind(("::1", 0))
        t.close()
        return True
    except OSError:
        return False


# -- a raw WebSocket client --------------------------------------------------------------------

class WSClient:
    """RFC 6455 client on a raw socket: sends the upgrade (or a plain GET when upgrade is
    False), reads the response head (and a body by Content-Length for non-101 answers)."""

    def __init__(self, host, port, target, upgrade=True, timeout=5.0, tls_ctx=None,
                 server_hostname=None):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        if tls_ctx is not None:
            self.sock = tls_ctx.wrap_socket(self.sock, server_hostname=server_hostname)
        self.key = peers.base64.b64encode(os.urandom(16)).decode()
        hosthdr = "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)
        req = "GET %s HTTP/1.1\r\nHost: %s\r\n" % (target, hosthdr)
        if upgrade:
            req += ("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                    "Sec-WebSocket-Version: 13\r\n" % self.key)
        req += "\r\n"
        self.sock.sendall(req.encode())
        buf = bytearray()
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in buf:
            if time.monotonic() > deadline:
                raise TimeoutError("no response head")
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("EOF before the response head: %r" % bytes(buf))
            buf += d
        head, _, rest = bytes(buf).partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        self.status = int(parts[1])
        self.headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self.buf = bytearray(rest)
        self.body = b""
        if self.status != 101:
            n = int(self.headers.get("content-length", "0") or 0)
            while len(self.buf) < n and time.monotonic() < deadline:
                d = self.sock.recv(65536)
                if not d:
                    break
                self.buf += d
            self.body = bytes(self.buf[:n]) if n else bytes(self.buf)

    def accept_ok(self):
        return self.headers.get("sec-websocket-accept") == peers.accept_value(self.key)

    def send(self, op, payload=b""):
        self.sock.sendall(peers.build_frame(op, payload, mask=os.urandom(4)))

    def recv(self, timeout=3.0):
        """Next whole message or control frame: (opcode, payload). ("timeout", None) when
        nothing came; ("eof", None) on a FIN, ("reset", None) on an RST."""
        deadline = time.monotonic() + timeout
        frag_op, frag = None, bytearray()
        while True:
            fr = peers.parse_frame(self.buf)
            if fr is not None:
                fin, _rsv, op, _masked, payload = fr
                if op == OP_CONT:
                    frag += payload
                    if fin:
                        return frag_op, bytes(frag)
                    continue
                if op in (OP_TEXT, OP_BINARY) and not fin:
                    frag_op, frag = op, bytearray(payload)
                    continue
                return op, payload
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout", None
            self.sock.settimeout(left)
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                return "timeout", None
            except ConnectionResetError:
                return "reset", None
            except ssl.SSLError:
                return "reset", None
            if not d:
                return "eof", None
            self.buf += d

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def ws(path, s=None, **kw):
    s = s or S["srv"]
    host = s.host.strip("[]")
    return WSClient(host, s.port, path, **kw)


def http_get(path, s=None, timeout=5.0):
    s = s or S["srv"]
    c = http.client.HTTPConnection(s.host.strip("[]"), s.port, timeout=timeout)
    try:
        c.request("GET", path)
        resp = c.getresponse()
        return resp.status, resp.read()
    finally:
        c.close()


def no_control_bytes(ck, data, what):
    bad = sorted({b for b in data if (b < 0x20 and b != 0x0A) or b == 0x7F})
    if bad:
        ck.fail("%s holds control bytes %s" % (what, ", ".join("0x%02x" % b for b in bad)))
    if re.search(rb"\xc2[\x80-\x9f]", data):
        ck.fail("%s holds a C1 control character" % what)


def closed_by_server(ck, r, code, reason=None, i=0):
    ck.eq(r, "ok", False, i)
    ck.eq(r, "class", "closed-by-server", i)
    ck.eq(r, "cause", "close-frame", i)
    ck.eq(r, "failed_in", "open", i)
    ck.eq(r, "reached", "open", i)
    ck.eq(r, "close.code", code, i)
    ck.eq(r, "close.by", "server", i)
    ck.eq(r, "close.frame", True, i)
    if reason is not None:
        ck.eq(r, "close.reason", reason, i)


def abnormal(ck, r, transport, i=0):
    ck.eq(r, "ok", False, i)
    ck.eq(r, "class", "abnormal-close", i)
    ck.eq(r, "cause", transport, i)
    ck.eq(r, "failed_in", "open", i)
    ck.eq(r, "reached", "open", i)
    ck.eq(r, "close.code", 1006, i)
    ck.eq(r, "close.by", "network", i)
    ck.eq(r, "close.frame", False, i)
    ck.eq(r, "close.transport", transport, i)


def http_status(ck, r, status, klass="http-status", cause="http-status", i=0):
    ck.eq(r, "ok", False, i)
    ck.eq(r, "class", klass, i)
    ck.eq(r, "cause", cause, i)
    ck.eq(r, "failed_in", "upgrade", i)
    ck.eq(r, "http.status", status, i)


# 1 /echo -------------------------------------------------------------------------------------

@suite.test("1 /echo: healthy, first message \"test\", closed by us with 1000")
def t_echo(ck):
    r = ck.probe([url("/echo")], timeout=10)
    ck.rc(r, 0)
    if not ck.nobjs(r, 1):
        return
    ck.eq(r, "ok", True)
    ck.eq(r, "class", "healthy")
    ck.eq(r, "cause", None)
    ck.eq(r, "reached", "open")
    ck.eq(r, "http.status", 101)
    ck.eq(r, "http.accept_ok", True)
    ck.eq(r, "messages.first", "test")
    ck.eq(r, "rtt_ms.samples", 3)
    ck.eq(r, "close.code", 1000)
    ck.eq(r, "close.by", "client")
    ck.eq(r, "remote", "127.0.0.1:%d" % S["srv"].port)


@suite.test("2 /echo --send: the message comes back (messages.in >= 2)")
def t_echo_send(ck):
    r = ck.probe(["--send", "hello wsmon", "--hold", "500ms", url("/echo")], timeout=10)
    ck.rc(r, 0)
    if not ck.nobjs(r, 1):
        return
    ck.eq(r, "class", "healthy")
    ck.eq(r, "messages.first", "test")
    ck.cmp(r, "messages.in", ">=", 2)
    ck.cmp(r, "messages.out", ">=", 1)
    ck.cmp(r, "messages.bytes_in", ">=", len("test") + len("hello wsmon"))


@suite.test("3 /echo on a raw client: \"test\" first, text as text, binary as binary, pong, "
            "close echoed")
def t_echo_raw(ck):
    c = ws("/echo")
    try:
        ck.ok(c.status == 101, "upgrade: want 101, got %d" % c.status)
        ck.ok(c.accept_ok(), "Sec-WebSocket-Accept is wrong: %r" % c.headers)
        op, p = c.recv()
        ck.ok((op, p) == (OP_TEXT, b"test"), "first message: want text 'test', got %r %r"
              % (op, p))
        txt = "h\u00e9llo \u2603".encode("utf-8")
        c.send(OP_TEXT, txt)
        op, p = c.recv()
        ck.ok((op, p) == (OP_TEXT, txt), "text echo: want text %r, got %r %r" % (txt, op, p))
        binp = bytes(range(256)) * 3
        c.send(OP_BINARY, binp)
        op, p = c.recv()
        ck.ok((op, p) == (OP_BINARY, binp), "binary echo: want the same 768 bytes as binary, "
              "got opcode %r, %r bytes" % (op, len(p) if p else p))
        c.send(OP_PING, b"abc")
        op, p = c.recv()
        ck.ok((op, p) == (OP_PONG, b"abc"), "ping: want a pong 'abc', got %r %r" % (op, p))
        c.send(OP_CLOSE, struct.pack("!H", 1000))
        op, p = c.recv()
        ck.ok(op == OP_CLOSE and p[:2] == struct.pack("!H", 1000),
              "close: want the close 1000 echoed, got %r %r" % (op, p))
    finally:
        c.close()


@suite.test("4 /echo: a message over 1 MiB gets close 1009")
def t_echo_big(ck):
    c = ws("/echo")
    try:
        if not ck.ok(c.status == 101, "upgrade: want 101, got %d" % c.status):
            return
        c.recv()  # "test"
        try:
            c.send(OP_BINARY, b"\x00" * (1024 * 1024 + 1))
        except OSError as e:
            ck.note("sending the big message ended with %r" % e)
        got = []
        while True:
            op, p = c.recv(5.0)
            got.append(op)
            if op not in (OP_TEXT, OP_BINARY, OP_PONG):
                break
        ck.ok(op == OP_CLOSE and p is not None and p[:2] == struct.pack("!H", 1009),
              "want a close frame 1009 (serve --help: over 1 MiB: close 1009), got %r %r"
              % (got, p[:40] if p else p))
    finally:
        c.close()


# 5-7 /close ----------------------------------------------------------------------------------

@suite.test("5 /close/1011?after=200&reason=boom: closed-by-server 1011 'boom' after >= 150 ms")
def t_close_1011(ck):
    r = ck.probe(["--hold", "2s", url("/close/1011?after=200&reason=boom")], timeout=10)
    ck.rc(r, 1)
    if not ck.nobjs(r, 1):
        return
    closed_by_server(ck, r, 1011, "boom")
    ck.cmp(r, "close.open_for_ms", ">=", 150)
    ck.cmp(r, "close.open_for_ms", "<", 1500)


@suite.test("6 /close/1001: closed-by-server 1001 at once (after defaults to 0)")
def t_close_1001(ck):
    r = ck.probe(["--hold", "1s", url("/close/1001")], timeout=10)
    ck.rc(r, 1)
    if not ck.nobjs(r, 1):
        return
    closed_by_server(ck, r, 1001)
    ck.cmp(r, "close.open_for_ms", "<", 500)


@suite.test("7 /close reason: URL-decoded UTF-8 with escapes kept, cut to 123 bytes; the serve "
            "log stays free of control bytes")
def t_close_reason(ck):
    hostile = "/close/4000?reason=%1B%5B2J%1B%5D0%3Bpwned%07caf%C3%A9"
    long_ = "/close/4001?reason=" + "a" * 200
    r = ck.probe(["--hold", "1s", url(hostile), url(long_)], timeout=10)
    ck.rc(r, 1)
    if not ck.nobjs(r, 2):
        return
    closed_by_server(ck, r, 4000, "\x1b[2J\x1b]0;pwned\x07caf\u00e9", 0)
    closed_by_server(ck, r, 4001, "a" * 123, 1)
    s = S["srv"]
    s.wait_out(lambda ls: any("4000" in l for l in ls) and any("4001" in l for l in ls), 3.0)
    no_control_bytes(ck, s.out_bytes(), "wsmon serve's stdout")
    if ck.problems:
        shared_dump(ck)


# 8-9 /drop -----------------------------------------------------------------------------------

@suite.test("8 /drop?after=200: abnormal-close, transport eof, after >= 150 ms")
def t_drop(ck):
    r = ck.probe(["--hold", "1s", url("/drop?after=200")], timeout=10)
    ck.rc(r, 1)
    if not ck.nobjs(r, 1):
        return
    abnormal(ck, r, "eof")
    ck.cmp(r, "close.open_for_ms", ">=", 150)
    ck.cmp(r, "close.open_for_ms", "<", 1000)


@suite.test("9 /drop?after=200&rst=1: abnormal-close, transport reset")
def t_drop_rst(ck):
    r = ck.probe(["--hold", "1s", url("/drop?after=200&rst=1")], timeout=10)
    ck.rc(r, 1)
    if not ck.nobjs(r, 1):
        return
    abnormal(ck, r, "reset")
    ck.cmp(r, "close.open_for_ms", ">=", 150)
    ck.cmp(r, "close.open_for_ms", "<", 1000)


# 10-12 HTTP answers --------------------------------------------------------------------------

@suite.test("10 /reject/502 -> http-status 502; /reject/200 -> upgrade-missing; unknown path "
            "-> 404")
def t_reject(ck):
    r = ck.probe([url("/reject/502"), url("/reject/200"), url("/no/such/path")], timeout=10)
    ck.rc(r, 1)
    if not ck.nobjs(r, 3):
        return
    http_status(ck, r, 502, i=0)
    ck.eq(r, "reached", "tcp", 0)
    http_status(ck, r, 200, klass="upgrade-missing", cause="http-status", i=1)
    http_status(ck, r, 404, i=2)


@suite.test("11 bad numbers and unknown query parameters -> HTTP 400 with the reason, before "
            "any upgrade")
def t_bad_query(ck):
    bad = ["/close/1011?after=x", "/close/999", "/close/5000", "/close/1000?bogus=1",
           "/echo?id=1", "/drop?after=-5", "/reject/101", "/reject/600", "/idle/0",
           "/idle/86401", "/stream?size=65537", "/stream?every=0"]
    r = ck.probe([url(p) for p in bad], timeout=10)
    ck.rc(r, 1)
    if not ck.nobjs(r, len(bad)):
        return
    for i, p in enumerate(bad):
        if r.f("http.status", i) != 400:
            ck.fail("%s: http.status want 400, got %r" % (p, r.f("http.status", i)))
        if r.f("class", i) != "http-status":
            ck.fail("%s: class want http-status, got %r" % (p, r.f("class", i)))
    c = ws("/close/1011?after=x")
    try:
        ck.ok(c.status == 400, "raw upgrade to /close/1011?after=x: want 400, got %d"
              % c.status)
        ck.ok(c.body.strip() != b"", "the 400 has no body giving the reason")
        ck.note("400 body: %r" % c.body[:200])
    finally:
        c.close()


@suite.test("12 HTTP: /health 200 \"ok\"; a WebSocket path without upgrade 426; unknown 404")
def t_http(ck):
    st, body = http_get("/health")
    ck.ok(st == 200, "/health: want 200, got %d" % st)
    ck.ok(body.rstrip(b"\r\n") == b"ok", "/health: want body \"ok\", got %r" % body[:100])
    for p in ("/echo", "/close/1000", "/stream"):
        st, body = http_get(p)
        ck.ok(st == 426, "plain GET %s: want 426 (a WebSocket path asked for without an "
              "upgrade), got %d" % (p, st))
    st, body = http_get("/nothing-here")
    ck.ok(st == 404, "plain GET /nothing-here: want 404, got %d" % st)


# 13-14 /idle ---------------------------------------------------------------------------------

@suite.test("13 /idle/1 with --ping 0: closed without a close frame after about 1 s")
def t_idle(ck):
    r = ck.probe(["--hold", "3s", "--ping", "0", url("/idle/1")], timeout=10)
    ck.rc(r, 1)
    if not ck.nobjs(r, 1):
        return
    ck.eq(r, "class", "abnormal-close")
    ck.eq(r, "close.code", 1006)
    ck.eq(r, "close.by", "network")
    ck.eq(r, "close.frame", False)
    ck.cmp(r, "close.open_for_ms", ">=", 900)
    ck.cmp(r, "close.open_for_ms", "<=", 2000)


@suite.test("14 /idle/1 with --ping 300ms: pings do not count, still closed after about 1 s")
def t_idle_ping(ck):
    r = ck.probe(["--hold", "2500ms", "--ping", "300ms", url("/idle/1")], timeout=10)
    ck.rc(r, 1)
    if not ck.nobjs(r, 1):
        return
    ck.eq(r, "class", "abnormal-close")
    ck.eq(r, "close.code", 1006)
    ck.eq(r, "close.by", "network")
    ck.eq(r, "close.frame", False)
    ck.cmp(r, "close.open_for_ms", ">=", 900)
    ck.cmp(r, "close.open_for_ms", "<=", 2000)
    ck.cmp(r, "rtt_ms.samples", ">=", 1)


@suite.test("15 /idle/1 on a raw client: data messages every 400 ms keep it open, then 1 s of "
            "silence closes TCP without a close frame")
def t_idle_data(ck):
    c = ws("/idle/1")
    try:
        if not ck.ok(c.status == 101, "upgrade: want 101, got %d" % c.status):
            return
        t_end = time.monotonic() + 2.0
        while time.monotonic() < t_end:
            c.send(OP_TEXT, b"keepalive")
            op, p = c.recv(0.4)
            if op != "timeout":
                ck.fail("while sending a message every 400 ms: got %r %r (want nothing)"
                        % (op, p))
                return
        t_quiet = time.monotonic()
        op, p = c.recv(3.0)
        quiet = time.monotonic() - t_quiet
        ck.ok(op in ("eof", "reset"), "after the messages stopped: want TCP closed with no "
              "close frame, got %r %r" % (op, p))
        ck.ok(0.5 <= quiet <= 2.0, "closed %.2f s after the last message, want about 1 s "
              "(0.5..2.0; the last message was sent up to 0.4 s before)" % quiet)
    finally:
        c.close()


# 16 /stream ----------------------------------------------------------------------------------

@suite.test("16 /stream?every=20&size=100 for 1 s: 35..60 messages of 100 bytes")
def t_stream(ck):
    r = ck.probe(["--hold", "1s", url("/stream?every=20&size=100")], timeout=10)
    ck.rc(r, 0)
    if not ck.nobjs(r, 1):
        return
    ck.eq(r, "class", "healthy")
    n = r.f("messages.in")
    if ck.cmp(r, "messages.in", ">=", 35) and ck.cmp(r, "messages.in", "<=", 60):
        ck.eq(r, "messages.bytes_in", n * 100)


@suite.test("16b messages larger than wsmon's 128-byte receive buffer: each counted once, "
            "whole; --expect-message found past the first piece")
def t_stream_big(ck):
    r = ck.probe(["--hold", "1s", url("/stream?every=20&size=5000")], timeout=10)
    ck.rc(r, 0)
    if ck.nobjs(r, 1):
        n = r.f("messages.in")
        if ck.cmp(r, "messages.in", ">=", 35) and ck.cmp(r, "messages.in", "<=", 60):
            ck.eq(r, "messages.bytes_in", n * 5000)
    # /echo sends "test" first, then echoes ours: 1000 bytes, then the text looked for
    text = "x" * 1000 + "MARKER"
    for want, cls in (("MARKER", "healthy"), ("MARKEX", "no-first-message")):
        r = ck.probe(["--hold", "1s", "--send", text, "--expect-message", want,
                      "--expect-within", "1s", url("/echo")], timeout=10)
        if ck.nobjs(r, 1):
            ck.eq(r, "class", cls)
            ck.eq(r, "messages.in", 2)
            ck.eq(r, "messages.bytes_in", len("test") + len(text))


@suite.test("17 /stream on a raw client: binary frames of the size asked for, a big-endian "
            "64-bit counter that counts up; default size 320")
def t_stream_raw(ck):
    for path, size in (("/stream?every=5&size=64", 64), ("/stream", 320)):
        c = ws(path)
        try:
            if not ck.ok(c.status == 101, "%s: upgrade: want 101, got %d" % (path, c.status)):
                continue
            counters = []
            for _ in range(6):
                op, p = c.recv(2.0)
                if not ck.ok(op == OP_BINARY, "%s: want a binary message, got %r" % (path, op)):
                    break
                ck.ok(len(p) == size, "%s: message of %d bytes, want %d" % (path, len(p), size))
                if len(p) >= 8:
                    counters.append(struct.unpack("!Q", p[:8])[0])
            if len(counters) >= 2:
                steps = {b - a for a, b in zip(counters, counters[1:])}
                ck.ok(steps == {1}, "%s: counters %r do not count up by 1" % (path, counters))
        finally:
            c.close()


# 18 the connection log -----------------------------------------------------------------------

@suite.test("18 the connection log: open and close lines (path, code, reason), HTTP answers")
def t_log(ck):
    r = ck.probe(["--hold", "1s", url("/close/4321?reason=logme")], timeout=10)
    ck.rc(r, 1)
    st, _ = http_get("/reject/418")
    ck.ok(st == 418, "/reject/418: want 418, got %d" % st)
    s = S["srv"]
    s.wait_out(lambda ls: any("4321" in l and "logme" in l for l in ls)
               and any("418" in l for l in ls), 3.0)
    lines = s.out_lines()
    ck.ok(any("/close/4321" in l for l in lines), "no line names the path /close/4321")
    ck.ok(any("4321" in l and "logme" in l for l in lines),
          "no close line with the code 4321 and the reason 'logme'")
    ck.ok(any("418" in l and "/reject/418" in l for l in lines),
          "no line for the HTTP answer 418 to /reject/418")
    if ck.problems:
        shared_dump(ck)


# 19-21 --listen ------------------------------------------------------------------------------

@suite.test("19 --listen on a busy port: exit 1 with a message")
def t_busy(ck):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        ls.bind(("127.0.0.1", 0))
        ls.listen(1)
        port = ls.getsockname()[1]
        r = harness.run_wsmon(["serve", "--listen", "127.0.0.1:%d" % port], timeout=5.0)
        ck.results.append(r)
        ck.ok(not r.timed_out, "wsmon serve still running after 5 s on a busy port")
        ck.rc(r, 1)
        ck.ok(r.stderr.strip() != "", "no message on stderr")
        ck.ok(str(port) in r.stderr or "use" in r.stderr.lower(),
              "the message names neither the port nor the address in use: %r" % r.stderr)
    finally:
        ls.close()


@suite.test("20 bad --listen values and TLS options: exit 2")
def t_bad_listen(ck):
    cases = [["--listen", "nonsense"], ["--listen", "127.0.0.1"],
             ["--listen", "127.0.0.1:65536"], ["--listen", "127.0.0.1:http"],
             ["--listen", "localhost:0"], ["--listen", "127.0.0.1:-1"],
             ["--listen", "::1:0"], ["--listen", "[::1:0"],
             ["--listen", "127.0.0.1:0", "--tls-cert", "/nonexistent/cert.pem"],
             ["--listen", "127.0.0.1:0", "--tls-cert", "/nonexistent/cert.pem",
              "--tls-key", "/nonexistent/key.pem"],
             ["--listen", "127.0.0.1:0", "extra-argument"],
             ["--listen", "127.0.0.1:0", "--no-such-option"]]
    for args in cases:
        r = harness.run_wsmon(["serve"] + args, timeout=3.0)
        ck.results.append(r)
        if r.timed_out:
            ck.fail("serve %s: still running after 3 s (want exit 2)" % " ".join(args))
        elif r.rc != 2:
            ck.fail("serve %s: exit %r, want 2" % (" ".join(args), r.rc))
        elif not r.stderr.strip():
            ck.fail("serve %s: no message on stderr" % " ".join(args))


@suite.test("21 binds only 127.0.0.1: ::1 on the same port is refused")
def t_only_v4(ck):
    if not ipv6_loopback():
        raise SkipTest("no ::1 on this machine")
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s6.settimeout(3)
    try:
        err = s6.connect_ex(("::1", S["srv"].port))
    finally:
        s6.close()
    ck.ok(err != 0, "connect to [::1]:%d succeeded: wsmon serve --listen 127.0.0.1:0 listens on "
          "more than 127.0.0.1" % S["srv"].port)


@suite.test("22 --listen [::1]:0: ws://[::1]:PORT/echo is healthy")
def t_v6(ck):
    if not ipv6_loopback():
        raise SkipTest("no ::1 on this machine")
    s = serve_or_fail(ck, ["--listen", "[::1]:0"])
    if s is None:
        return
    try:
        ck.ok(s.host == "[::1]", "listening line %r: want ws://[::1]:PORT" % s.first)
        r = ck.probe([s.url("/echo")], timeout=10)
        ck.rc(r, 0)
        if ck.nobjs(r, 1):
            ck.eq(r, "class", "healthy")
            ck.eq(r, "messages.first", "test")
        s4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s4.settimeout(3)
        try:
            if s4.connect_ex(("127.0.0.1", s.port)) == 0:
                # another program may hold that port on IPv4: only a note
                ck.note("127.0.0.1:%d accepted a connection (another listener?)" % s.port)
        finally:
            s4.close()
    finally:
        took = s.stop()
        ck.ok(took is not None, "did not exit after SIGTERM")


# 23-25 signals -------------------------------------------------------------------------------

@suite.test("23 SIGTERM with no connection: exit 0 promptly")
def t_sigterm_idle(ck):
    s = serve_or_fail(ck, ["--listen", "127.0.0.1:0"])
    if s is None:
        return
    # the server is running its loop once it has answered a request
    st, _ = http_get("/health", s)
    ck.ok(st == 200, "/health: want 200, got %d" % st)
    took = s.stop()
    ck.rc(s.res, 0)
    ck.ok(took is not None and took < 1.0, "exit %s s after SIGTERM, want < 1 s"
          % ("%.2f" % took if took is not None else "never"))
    ck.note("exit %.3f s after SIGTERM" % (took or -1))


@suite.test("23b SIGTERM as soon as the listening line is read: exit 0 (10 tries)")
def t_sigterm_early(ck):
    # --help: "Exit status: 0 after SIGINT/SIGTERM"; a script may signal as soon as it has read
    # the listening line, as this test does (a plain readline on the pipe, no reader thread)
    rcs = []
    for _ in range(10):
        r = harness.Result([harness.WSMON, "serve", "--listen", "127.0.0.1:0"])
        p = subprocess.Popen(r.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=harness._env(), cwd=harness.tmpdir())
        _procs.append(p)
        # bounded: wsmon prints the line or exits (EOF); the file's budget kills it otherwise
        line = p.stdout.readline()
        if LISTEN_RE.match(line.decode("utf-8", "replace").rstrip("\n")):
            p.send_signal(signal.SIGTERM)
        try:
            so, se = p.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            so, se = p.communicate()
            r.timed_out = True
        r.rc = p.returncode
        r.stdout_b = line + so
        r.stdout = r.stdout_b.decode("utf-8", "replace")
        r.stderr = se.decode("utf-8", "replace")
        rcs.append(r.rc)
        if r.rc != 0 and len(ck.results) < 2:
            ck.results.append(r)
    bad = [rc for rc in rcs if rc != 0]
    ck.ok(not bad, "exit statuses %r: want 0 every time (--help: 0 after SIGINT/SIGTERM; -15 "
          "is death by SIGTERM, which came before serve handled the signal)" % (rcs,))


@suite.test("24 SIGTERM/SIGINT with open connections: 1001 to each, exit 0 once they answer")
def t_sigterm_open(ck):
    for sig in (signal.SIGTERM, signal.SIGINT):
        s = serve_or_fail(ck, ["--listen", "127.0.0.1:0"])
        if s is None:
            return
        cs = []
        try:
            cs = [ws("/echo", s), ws("/stream?every=50", s)]
            for c in cs:
                ck.ok(c.status == 101, "upgrade: want 101, got %d" % c.status)
            t = time.monotonic()
            s.p.send_signal(sig)
            for c in cs:
                while True:
                    op, p = c.recv(3.0)
                    if op in (OP_TEXT, OP_BINARY, OP_PING, OP_PONG):
                        continue
                    break
                if ck.ok(op == OP_CLOSE and p[:2] == struct.pack("!H", 1001),
                         "%s: want a close frame 1001, got %r %r" % (sig.name, op, p)):
                    c.send(OP_CLOSE, p[:2])
            took = s.wait_exit(3.0, t)
            ck.rc(s.res, 0)
            ck.ok(took is not None and took < 1.0, "%s: exit %s s after the signal with every "
                  "client answering, want < 1 s" % (sig.name, "%.2f" % took if took else "never"))
        finally:
            for c in cs:
                c.close()
            if s.p.poll() is None:
                s.stop(signal.SIGKILL)


@suite.test("25 SIGTERM with a silent client: exit after at most ~1 s; a second signal exits "
            "at once")
def t_sigterm_grace(ck):
    # one client that never answers the 1001: serve waits up to a second, then exits
    s = serve_or_fail(ck, ["--listen", "127.0.0.1:0"])
    if s is None:
        return
    c = ws("/echo", s)
    try:
        t = time.monotonic()
        s.p.send_signal(signal.SIGTERM)
        took = s.wait_exit(4.0, t)
        ck.rc(s.res, 0)
        ck.ok(took is not None and 0.7 <= took <= 1.8, "exit %s s after SIGTERM with a client "
              "that never answers, want about 1 s (0.7..1.8)"
              % ("%.2f" % took if took is not None else "never"))
        ck.note("silent client: exit %.3f s after SIGTERM" % (took or -1))
    finally:
        c.close()
    # again, with a second SIGTERM once the 1001 came
    s = serve_or_fail(ck, ["--listen", "127.0.0.1:0"])
    if s is None:
        return
    c = ws("/echo", s)
    try:
        s.p.send_signal(signal.SIGTERM)
        while True:
            op, p = c.recv(3.0)
            if op in (OP_TEXT, OP_BINARY, OP_PONG):
                continue
            break
        ck.ok(op == OP_CLOSE, "want the 1001 close frame first, got %r %r" % (op, p))
        t = time.monotonic()
        s.p.send_signal(signal.SIGTERM)
        took = s.wait_exit(4.0, t)
        ck.ok(s.res.rc == 0, "second signal: exit status %r, want 0 (--help: 0 after "
              "SIGINT/SIGTERM)" % s.res.rc)
        ck.ok(took is not None and took < 0.5, "second SIGTERM: exit %s s later, want at once "
              "(< 0.5 s)" % ("%.2f" % took if took is not None else "never"))
    finally:
        c.close()


# 26 TLS --------------------------------------------------------------------------------------

@suite.test("26 TLS: --tls-cert/--tls-key serve wss://, verified with --cacert and --resolve")
def t_tls(ck):
    d = os.path.join(harness.tmpdir(), "certs")
    os.makedirs(d, exist_ok=True)
    certs = peers.make_certs(d)
    s = serve_or_fail(ck, ["--listen", "127.0.0.1:0", "--tls-cert", certs["valid"],
                           "--tls-key", certs["key"]])
    if s is None:
        return
    try:
        ck.ok(s.scheme == "wss", "listening line %r: want wss://" % s.first)
        u = "wss://wsmon.test:%d/echo" % s.port
        r = ck.probe(["--cacert", certs["ca"], "--resolve", "wsmon.test:%d:127.0.0.1" % s.port,
                      u], timeout=10)
        ck.rc(r, 0)
        if ck.nobjs(r, 1):
            ck.eq(r, "class", "healthy")
            ck.eq(r, "tls.verify", "ok")
            ck.eq(r, "tls.insecure", False)
            ck.eq(r, "messages.first", "test")
            ck.num(r, "timings_ms.tls")
            subj = r.f("tls.subject")
            ck.ok(isinstance(subj, str) and "wsmon.test" in subj,
                  "tls.subject: want it to name wsmon.test, got %r" % (subj,))
        # /health over TLS with Python's own verification
        ctx = ssl.create_default_context(cafile=certs["ca"])
        hc = http.client.HTTPSConnection("127.0.0.1", s.port, timeout=5, context=ctx)
        try:
            hc.request("GET", "/health", headers={"Host": "wsmon.test"})
            resp = hc.getresponse()
            body = resp.read()
            ck.ok(resp.status == 200 and body.rstrip(b"\r\n") == b"ok",
                  "https /health: want 200 \"ok\", got %d %r" % (resp.status, body[:80]))
        finally:
            hc.close()
    finally:
        took = s.stop()
        ck.rc(s.res, 0)
        ck.ok(took is not None, "did not exit after SIGTERM")


if __name__ == "__main__":
    suite.run(setup)
