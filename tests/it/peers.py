"""Real peers for wsmon's integration tests (Python 3 standard library only).

Everything listens on loopback (127.0.0.0/8 or ::1) on a port the kernel picks:

- WSServer: a WebSocket server on raw sockets (RFC 6455), plain or TLS, whose behaviour is
  chosen by the request path (see WSServer's docstring). It records every connection: the
  request, the frames received, pings, the client's close frame.
- refused_port(): a port nothing listens on.
- Blackhole: a listener whose accept queue is full, so that a connect() never completes.
- make_certs(): a test CA and server certificates (valid, expired, not yet valid, wrong host,
  self-signed, signed by an unknown CA), made with the openssl CLI.
- DNSResponder: a UDP DNS responder for the test names (needs root for port 53).
- ConnectProxy: an HTTP CONNECT proxy that tunnels raw bytes to loopback targets only and
  records each CONNECT (target, headers, bytes both ways), or refuses every CONNECT.

Servers run in background threads and are stopped with stop() (or a with block).
"""

import base64
import errno
import hashlib
import ipaddress
import os
import random
import select
import socket
import ssl
import struct
import subprocess
import threading
import time
import urllib.parse

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

# One binary message with terminal escapes: clear screen, set title, a C1 CSI, colour, CR LF.
EVIL_PAYLOAD = b"\x1b[2J\x1b]0;pwned\x07\x9b31m\x1b[31mRED\r\nX"
# A close reason (valid UTF-8) with escapes and a bell.
EVIL_REASON = "policy \x1b[31mred\x1b[0m\x07"

REASONS = {200: "OK", 301: "Moved Permanently", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 426: "Upgrade Required",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
           504: "Gateway Timeout"}

CONN_MAX_LIFETIME = 60.0  # no peer connection outlives this, whatever the client does


def sticky_value(n):
    """The AWSALB cookie value /sticky sends to its n-th backend (1, 2, 3): it carries n
    and is distinctive enough that finding it in wsmon's output means it leaked."""
    return "bk%d-Qv9sZt" % n


def accept_value(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 section 4.2.2)."""
    if isinstance(key, str):
        key = key.encode("ascii")
    return base64.b64encode(hashlib.sha1(key.strip() + WS_GUID).digest()).decode("ascii")


def build_frame(opcode, payload=b"", fin=True, mask=None):
    """One frame; server frames are unmasked (mask=None), client frames pass a 4-byte mask."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    mbit = 0x80 if mask is not None else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if mask is not None:
        head += mask
        payload = apply_mask(payload, mask)
    return head + payload


def apply_mask(data, key):
    if not data:
        return b""
    n = len(data)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def parse_frame(buf):
    """Take one frame off the front of bytearray buf: (fin, rsv, opcode, masked, payload),
    or None when buf does not hold a whole frame yet."""
    if len(buf) < 2:
        return None
    b0, b1 = buf[0], buf[1]
    n = b1 & 0x7F
    i = 2
    if n == 126:
        if len(buf) < 4:
            return None
        n = struct.unpack("!H", bytes(buf[2:4]))[0]
        i = 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n = struct.unpack("!Q", bytes(buf[2:10]))[0]
        i = 10
    masked = bool(b1 & 0x80)
    key = None
    if masked:
        if len(buf) < i + 4:
            return None
        key = bytes(buf[i:i + 4])
        i += 4
    if len(buf) < i + n:
        return None
    payload = bytes(buf[i:i + n])
    del buf[:i + n]
    if masked:
        payload = apply_mask(payload, key)
    return bool(b0 & 0x80), b0 & 0x70, b0 & 0x0F, masked, payload


def close_payload(code, reason=""):
    if code is None:
        return b""
    return struct.pack("!H", code) + reason.encode("utf-8")


def parse_close_payload(payload):
    if len(payload) >= 2:
        return struct.unpack("!H", payload[:2])[0], payload[2:].decode("utf-8", "replace")
    return None, ""


class PeerConn:
    """What the server saw on one connection."""

    def __init__(self, cid, addr):
        self.id = cid
        self.addr = addr
        self.t_accept = time.monotonic()
        self.tls_error = None       # the TLS handshake failed (client rejected us, or not TLS)
        self.sni = None             # server name the TLS client asked for
        self.request_line = None
        self.method = None
        self.target = None          # "/path?query" as sent
        self.path = None            # "/path"
        self.query = {}             # first value of each query parameter
        self.headers = []           # [(name, value)] in order
        self.request_done = False   # the request was read (or the connection ended before)
        self.upgraded = False       # 101 sent (a WebSocket path)
        self.t_open = None
        self.messages = []          # [(opcode, bytes)] whole messages from the client
        self.pings = []             # payloads of pings received
        self.pongs_sent = 0
        self.unmasked = 0           # client frames that were not masked (a protocol error)
        self.close_received = None  # (code, reason) of the client's close frame
        self.close_sent = None      # (code, reason) of ours
        self.ended = None           # how it ended: "fin", "rst", "peer-eof", "error", ...
        self.finished = False
        self.set_cookie = None      # the Set-Cookie value sent with the 101 (/sticky)
        self.protocol_sent = None   # the Sec-WebSocket-Protocol answered with the 101

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def texts(self):
        return [p.decode("utf-8", "replace") for op, p in self.messages if op == OP_TEXT]

    def __repr__(self):
        return ("PeerConn(id=%d target=%r tls_error=%r upgraded=%r msgs=%r pings=%d "
                "close_received=%r close_sent=%r ended=%r)" % (
                    self.id, self.target, self.tls_error, self.upgraded, self.messages[:4],
                    len(self.pings), self.close_received, self.close_sent, self.ended))


class WSServer:
    """A WebSocket server on raw sockets; behaviour by request path.

    /echo                  sends text "hello" right after open, then echoes every message
    /silent                opens, sends nothing (answers pings)
    /late?ms=N             sends "hello" N ms after open
    /close/CODE?reason=T&after=MS
                           sends a close frame (CODE, T) MS ms after open (default 0), then
                           closes TCP after the client's close frame, or after 2 s
    /drop?after=MS         closes TCP (FIN) without a close frame MS ms after open
    /rst?after=MS          the same with an RST (SO_LINGER {1, 0})
    /nopong                opens, reads, never answers pings
    /evil                  sends one binary message full of terminal escapes (EVIL_PAYLOAD)
    /evilclose             closes with 1008 and a reason full of escapes (EVIL_REASON)
    /status/NNN            answers "HTTP/1.1 NNN ..." with a small body and closes
    /ok200                 answers 200 with Server: fake-lb, Set-Cookie: AWSALB=..., no Upgrade
    /redirect              answers 301 with Location: ws://HOST:PORT/echo
    /badaccept             answers 101 with a wrong Sec-WebSocket-Accept
    /reset                 reads the request, then an RST before any response
    /eof                   reads the request, then a FIN before any response
    /hang                  reads the request and never answers
    /proto?answer=NAME     opens answering Sec-WebSocket-Protocol: NAME (default chat), then
                           like /silent
    /proto-bad             opens answering Sec-WebSocket-Protocol: nope (a protocol no test
                           offers), then like /silent
    /sticky                opens with Set-Cookie: AWSALB=sticky_value(n), n = 1, 2, 3, 1, ...
                           per /sticky connection to this server, then like /silent
    /__sync                internal: see sync()
    Anything that is not an HTTP request (a TLS ClientHello on a plain port) gets a 400.
    """

    def __init__(self, host="127.0.0.1", ssl_context=None, certfile=None, keyfile=None):
        self.host = host
        self.ctx = ssl_context
        if self.ctx is None and certfile:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(certfile, keyfile)
            self.ctx.sni_callback = self._on_sni
        self.tls = self.ctx is not None
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.lsock = socket.socket(fam, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((host, 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.conns = []
        self.cond = threading.Condition()
        self._stop = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._threads = []
        self._socks = set()
        self._accepted = 0
        self._sticky_n = 0
        self._thread = None

    # -- public ------------------------------------------------------------------------------

    @property
    def hostport(self):
        return "[%s]:%d" % (self.host, self.port) if ":" in self.host else "%s:%d" % (
            self.host, self.port)

    def url(self, path="/echo", host=None):
        scheme = "wss" if self.tls else "ws"
        if host is not None:
            return "%s://%s:%d%s" % (scheme, host, self.port, path)
        return "%s://%s%s" % (scheme, self.hostport, path)

    def start(self):
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        with self.cond:
            self._stop = True
            socks = list(self._socks)
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread:
            self._thread.join(5)
        for t in list(self._threads):
            t.join(5)
        for s in (self.lsock, self._wake_r, self._wake_w):
            try:
                s.close()
            except OSError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def snapshot(self):
        with self.cond:
            return [c for c in self.conns if c.path != "/__sync"]

    def requests(self, path=None):
        """Connections whose request was read, optionally only those for path."""
        return [c for c in self.snapshot() if c.path is not None and
                (path is None or c.path == path)]

    def wait_for(self, pred, timeout=5.0):
        """Wait until pred() is true (re-checked on every change), at most timeout seconds."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                if pred():
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return bool(pred())
                self.cond.wait(left)

    def wait_conn(self, path, timeout=5.0, finished=False):
        """The first connection for path (finished, if asked), or None."""
        def find():
            for c in self.conns:
                if c.path == path and (c.finished or not finished):
                    return c
            return None
        self.wait_for(lambda: find() is not None, timeout)
        with self.cond:
            return find()

    def sync(self, timeout=3.0):
        """Barrier: once this returns True, every connection made to the server before the
        call has been accepted and its request read (or it ended). Accept is FIFO, so a
        request of ours that the server has seen comes after all earlier connections."""
        fam = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect((self.host, self.port))
            if self.tls:
                cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                cctx.check_hostname = False
                cctx.verify_mode = ssl.CERT_NONE
                s = cctx.wrap_socket(s)
            s.sendall(b"GET /__sync HTTP/1.1\r\nHost: sync\r\n\r\n")

            def done():
                mine = [c for c in self.conns if c.path == "/__sync"]
                if not mine:
                    return False
                upto = mine[-1].id
                return all(c.request_done or c.finished for c in self.conns if c.id < upto)
            return self.wait_for(done, timeout)
        except OSError:
            return False
        finally:
            s.close()

    # -- internals ---------------------------------------------------------------------------

    def _notify(self):
        with self.cond:
            self.cond.notify_all()

    @staticmethod
    def _on_sni(sslsock, server_name, _ctx):
        # runs during the handshake, in the connection's thread: keep the name on the socket
        try:
            sslsock.wsmon_sni = server_name
        except AttributeError:
            pass
        return None

    def _accept_loop(self):
        while True:
            try:
                r, _, _ = select.select([self.lsock, self._wake_r], [], [])
            except (OSError, ValueError):
                return
            if self._stop or self._wake_r in r:
                return
            try:
                sock, addr = self.lsock.accept()
            except OSError:
                continue
            with self.cond:
                self._accepted += 1
                c = PeerConn(self._accepted, addr)
                self.conns.append(c)
                self._socks.add(sock)
                self.cond.notify_all()
            t = threading.Thread(target=self._serve, args=(sock, c), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, sock, c):
        c._socks = [sock]
        try:
            self._serve_inner(sock, c)
        except Exception as e:  # a peer must never crash the test: record and move on
            if c.ended is None:
                c.ended = "error: %r" % (e,)
        finally:
            for s in c._socks:
                try:
                    s.close()
                except OSError:
                    pass
            with self.cond:
                for s in c._socks:
                    self._socks.discard(s)
                c.request_done = True
                c.finished = True
                self.cond.notify_all()

    def _serve_inner(self, raw, c):
        raw.settimeout(10)
        # as real servers do: no Nagle delay on small writes (101, frames, pongs)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock = raw
        if self.ctx is not None:
            try:
                sock = self.ctx.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
            except (ssl.SSLError, OSError) as e:
                c.tls_error = str(e)
                c.ended = "tls-error"
                return
            with self.cond:
                self._socks.add(sock)
                c._socks.append(sock)
            try:
                sock.settimeout(5)
                sock.do_handshake()
            except (ssl.SSLError, OSError) as e:
                c.tls_error = str(e)
                c.ended = "tls-error"
                return
            finally:
                c.sni = getattr(sock, "wsmon_sni", None)
        buf = bytearray()
        deadline = time.monotonic() + 10
        while b"\r\n\r\n" not in buf:
            if buf and not (65 <= buf[0] <= 90):
                # not an HTTP request line: answer as a web server would, then close
                self._send(sock, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                 b"Connection: close\r\n\r\n")
                c.ended = "not-http"
                self._fin_close(sock, c)
                return
            if len(buf) > 65536 or time.monotonic() > deadline:
                c.ended = "bad-request"
                return
            try:
                data = sock.recv(65536)
            except (OSError, ssl.SSLError):
                c.ended = "error-before-request"
                return
            if not data:
                c.ended = "eof-before-request"
                return
            buf += data
        head, _, rest = bytes(buf).partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        c.request_line = lines[0]
        parts = lines[0].split(" ")
        c.method = parts[0]
        c.target = parts[1] if len(parts) > 1 else "/"
        u = urllib.parse.urlsplit(c.target)
        q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        with self.cond:
            c.path = u.path
            c.query = {k: v[0] for k, v in q.items()}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                c.headers.append((k.strip(), v.strip()))
            c.request_done = True
            self.cond.notify_all()
        self._dispatch(sock, c, bytearray(rest))

    def _dispatch(self, sock, c, rest):
        p = c.path
        if p == "/__sync":
            self._send(sock, b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
            c.ended = "sync"
            return
        if p.startswith("/status/"):
            try:
                code = int(p[len("/status/"):])
            except ValueError:
                code = 500
            body = ("status %d from the test peer\n" % code).encode()
            self._send(sock, ("HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
                              "Content-Length: %d\r\nConnection: close\r\n\r\n" % (
                                  code, REASONS.get(code, "Something"), len(body))).encode()
                       + body)
            c.ended = "fin"
            self._fin_close(sock, c)
            return
        if p == "/ok200":
            body = b"<html><body>fake load balancer</body></html>\n"
            self._send(sock, b"HTTP/1.1 200 OK\r\nServer: fake-lb\r\n"
                             b"Set-Cookie: AWSALB=abc; Path=/\r\nContent-Type: text/html\r\n"
                             b"Content-Length: %d\r\nConnection: keep-alive\r\n\r\n" % len(body)
                       + body)
            c.ended = "keep-alive"
            self._linger_until_eof(sock, 3.0)
            return
        if p == "/redirect":
            loc = self.url("/echo")
            self._send(sock, ("HTTP/1.1 301 Moved Permanently\r\nLocation: %s\r\n"
                              "Content-Length: 0\r\nConnection: close\r\n\r\n" % loc).encode())
            c.ended = "fin"
            self._fin_close(sock, c)
            return
        if p == "/reset":
            c.ended = "rst"
            self._rst_close(sock)
            return
        if p == "/eof":
            c.ended = "fin"
            self._fin_close(sock, c)
            return
        if p == "/hang":
            c.ended = "hang"
            self._linger_until_eof(sock, 30.0)
            return
        ws_paths = ("/echo", "/silent", "/late", "/drop", "/rst", "/nopong", "/evil",
                    "/evilclose", "/badaccept", "/proto", "/proto-bad", "/sticky")
        if not (p in ws_paths or p.startswith("/close/")):
            body = b"no such path\n"
            self._send(sock, b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n"
                             b"Connection: close\r\n\r\n" % len(body) + body)
            c.ended = "fin"
            self._fin_close(sock, c)
            return
        key = c.header("Sec-WebSocket-Key")
        upg = (c.header("Upgrade") or "").lower()
        conn_hdr = (c.header("Connection") or "").lower()
        if not key or upg != "websocket" or "upgrade" not in conn_hdr:
            self._send(sock, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                             b"Connection: close\r\n\r\n")
            c.ended = "fin"
            self._fin_close(sock, c)
            return
        accept = accept_value(key)
        if p == "/badaccept":
            accept = base64.b64encode(hashlib.sha1(b"not the right key").digest()).decode()
        resp = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n" % accept)
        proto = c.header("Sec-WebSocket-Protocol")
        if p == "/proto":
            c.protocol_sent = c.query.get("answer", "chat")
        elif p == "/proto-bad":
            c.protocol_sent = "nope"
        elif proto:
            c.protocol_sent = proto.split(",")[0].strip()
        if c.protocol_sent is not None:
            resp += "Sec-WebSocket-Protocol: %s\r\n" % c.protocol_sent
        if p == "/sticky":
            with self.cond:
                self._sticky_n += 1
                c.set_cookie = sticky_value((self._sticky_n - 1) % 3 + 1)
            resp += "Set-Cookie: AWSALB=%s; Path=/\r\n" % c.set_cookie
        resp += "\r\n"
        self._send(sock, resp.encode())
        with self.cond:
            c.upgraded = True
            c.t_open = time.monotonic()
            self.cond.notify_all()
        if p == "/badaccept":
            c.ended = "badaccept"
            self._linger_until_eof(sock, 3.0)
            return
        self._ws_loop(sock, c, rest)

    # -- WebSocket after open ----------------------------------------------------------------

    def _ws_loop(self, sock, c, buf):
        p = c.path
        q = c.query
        t0 = c.t_open
        timers = []  # [(due, action)]

        def ms(name, default=0):
            try:
                return int(q.get(name, default))
            except ValueError:
                return default

        answer_pings = p != "/nopong"
        if p == "/echo":
            self._send(sock, build_frame(OP_TEXT, b"hello"))
        elif p == "/late":
            timers.append((t0 + ms("ms") / 1000.0, "hello"))
        elif p.startswith("/close/"):
            try:
                code = int(p[len("/close/"):])
            except ValueError:
                code = 1000
            timers.append((t0 + ms("after") / 1000.0, ("close", code, q.get("reason", ""))))
        elif p == "/evilclose":
            timers.append((t0, ("close", 1008, EVIL_REASON)))
        elif p == "/drop":
            timers.append((t0 + ms("after") / 1000.0, "drop"))
        elif p == "/rst":
            timers.append((t0 + ms("after") / 1000.0, "rst"))
        elif p == "/evil":
            self._send(sock, build_frame(OP_BINARY, EVIL_PAYLOAD))

        frag_op, frag = None, bytearray()
        hard_end = t0 + CONN_MAX_LIFETIME
        close_deadline = None
        while True:
            now = time.monotonic()
            # due timers
            for due, action in sorted(timers, key=lambda x: x[0]):
                if due > now:
                    break
                timers.remove((due, action))
                if action == "hello":
                    self._send(sock, build_frame(OP_TEXT, b"hello"))
                elif action == "drop":
                    c.ended = "fin"
                    self._fin_close(sock, c)
                    return
                elif action == "rst":
                    c.ended = "rst"
                    self._rst_close(sock)
                    return
                elif action[0] == "close":
                    _, code, reason = action
                    self._send(sock, build_frame(OP_CLOSE, close_payload(code, reason)))
                    with self.cond:
                        c.close_sent = (code, reason)
                        self.cond.notify_all()
                    close_deadline = time.monotonic() + 2.0
            if close_deadline is not None and now >= close_deadline:
                c.ended = "fin-after-close-timeout"
                self._fin_close(sock, c)
                return
            if now >= hard_end or self._stop:
                c.ended = "stopped"
                return
            wait = min([d for d, _ in timers] + [hard_end] +
                       ([close_deadline] if close_deadline else [])) - now
            if not (self.tls and sock.pending()):
                try:
                    r, _, _ = select.select([sock], [], [], max(0.0, min(wait, 1.0)))
                except (OSError, ValueError):
                    c.ended = "error"
                    return
                if not r:
                    continue
            try:
                data = sock.recv(65536)
            except ssl.SSLWantReadError:
                continue
            except (OSError, ssl.SSLError) as e:
                c.ended = "peer-reset" if getattr(e, "errno", None) == errno.ECONNRESET \
                    else "error: %s" % e
                return
            if not data:
                c.ended = "peer-eof"
                return
            buf += data
            while True:
                fr = parse_frame(buf)
                if fr is None:
                    break
                fin, _rsv, op, masked, payload = fr
                if not masked:
                    c.unmasked += 1
                if op == OP_PING:
                    with self.cond:
                        c.pings.append(payload)
                        self.cond.notify_all()
                    if answer_pings and c.close_sent is None:
                        self._send(sock, build_frame(OP_PONG, payload))
                        c.pongs_sent += 1
                elif op == OP_PONG:
                    pass
                elif op == OP_CLOSE:
                    code, reason = parse_close_payload(payload)
                    with self.cond:
                        c.close_received = (code, reason)
                        self.cond.notify_all()
                    if c.close_sent is None:
                        # echo the close (RFC 6455 5.5.1), then the server closes TCP first
                        self._send(sock, build_frame(OP_CLOSE, close_payload(code) if code
                                                     else b""))
                        c.close_sent = (code, "")
                    c.ended = "close-handshake"
                    self._fin_close(sock, c)
                    return
                elif op in (OP_TEXT, OP_BINARY):
                    if fin:
                        self._on_message(sock, c, op, payload)
                    else:
                        frag_op, frag = op, bytearray(payload)
                elif op == OP_CONT:
                    frag += payload
                    if fin and frag_op is not None:
                        self._on_message(sock, c, frag_op, bytes(frag))
                        frag_op, frag = None, bytearray()

    def _on_message(self, sock, c, op, payload):
        with self.cond:
            c.messages.append((op, payload))
            self.cond.notify_all()
        if c.path == "/echo" and c.close_sent is None:
            self._send(sock, build_frame(op, payload))

    # -- socket helpers ----------------------------------------------------------------------

    @staticmethod
    def _send(sock, data):
        try:
            sock.sendall(data)
            return True
        except (OSError, ssl.SSLError):
            return False

    @staticmethod
    def _raw_fd_shutdown_wr(sock):
        # shutdown(SHUT_WR) sends a FIN at once, whatever is still unread; a close() with
        # unread data would send an RST instead. For TLS this skips close_notify.
        try:
            sock.shutdown(socket.SHUT_WR)
        except (OSError, ValueError):
            pass

    def _fin_close(self, sock, c, drain=2.0):
        """Close with a FIN: shut down our side, read until the client closes (or drain
        seconds), then close the descriptor."""
        self._raw_fd_shutdown_wr(sock)
        self._linger_until_eof(sock, drain)

    def _linger_until_eof(self, sock, limit):
        end = time.monotonic() + limit
        while not self._stop:
            left = end - time.monotonic()
            if left <= 0:
                return
            try:
                r, _, _ = select.select([sock], [], [], min(left, 1.0))
                if r and not sock.recv(65536):
                    return
            except (OSError, ValueError, ssl.SSLError):
                return

    @staticmethod
    def _rst_close(sock):
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            if isinstance(sock, ssl.SSLSocket):
                # close the descriptor directly: no close_notify, just the RST
                fd = sock.detach()
                os.close(fd)
            else:
                sock.close()
        except OSError:
            pass


class ProxyConn:
    """What the proxy saw on one client connection."""

    def __init__(self, cid, addr):
        self.id = cid
        self.addr = addr            # the client's (address, port)
        self.request_line = None
        self.method = None
        self.target = None          # "host:port" of a CONNECT, as sent
        self.host = None            # the target's host (brackets of an IPv6 literal removed)
        self.port = None
        self.headers = []           # [(name, value)] in order
        self.request_done = False
        self.status = None          # the status we answered (200, 403, 502, ...)
        self.connected_to = None    # (address, port) the tunnel reached
        self.upstream_local = None  # (address, port) of our side of the tunnel's connection
        self.up = 0                 # bytes tunnelled client -> target
        self.down = 0               # bytes tunnelled target -> client
        self.ended = None
        self.finished = False

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def __repr__(self):
        return ("ProxyConn(id=%d request=%r status=%r connected_to=%r up=%d down=%d "
                "ended=%r)" % (self.id, self.request_line, self.status, self.connected_to,
                               self.up, self.down, self.ended))


class ConnectProxy:
    """An HTTP CONNECT proxy (RFC 9110 9.3.6) on loopback, in a thread.

    CONNECT HOST:PORT is answered "200 Connection established" and raw bytes are tunnelled
    both ways (counted in ProxyConn.up/.down) until both sides closed. The proxy resolves
    HOST itself, from `hosts` (name -> address; default wsmon.test and localhost ->
    127.0.0.1) or as an IP literal, and only ever connects to a loopback address: any other
    target gets a 502 and no connection. refuse=STATUS answers every CONNECT with STATUS
    (e.g. 403) and a small body, then closes. A request that is not CONNECT gets a 405.
    Every client connection is recorded (conns, connects()), in accept order.
    """

    def __init__(self, host="127.0.0.1", hosts=None, refuse=None):
        self.host = host
        self.hosts = dict(hosts or {"wsmon.test": "127.0.0.1", "localhost": "127.0.0.1"})
        self.refuse = refuse
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.lsock = socket.socket(fam, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((host, 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.conns = []
        self.cond = threading.Condition()
        self._stop = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._threads = []
        self._socks = set()
        self._accepted = 0
        self._thread = None

    @property
    def hostport(self):
        return "[%s]:%d" % (self.host, self.port) if ":" in self.host else "%s:%d" % (
            self.host, self.port)

    def start(self):
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        with self.cond:
            self._stop = True
            socks = list(self._socks)
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread:
            self._thread.join(5)
        for t in list(self._threads):
            t.join(5)
        for s in (self.lsock, self._wake_r, self._wake_w):
            try:
                s.close()
            except OSError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def snapshot(self):
        with self.cond:
            return [c for c in self.conns if c.target != "__sync:0"]

    def connects(self):
        """The CONNECT requests received (sync connections left out)."""
        return [c for c in self.snapshot() if c.method == "CONNECT"]

    def wait_for(self, pred, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                if pred():
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return bool(pred())
                self.cond.wait(left)

    def wait_finished(self, n, timeout=5.0):
        """Wait until at least n recorded connections have finished."""
        return self.wait_for(lambda: len([c for c in self.conns if c.finished and
                                          c.target != "__sync:0"]) >= n, timeout)

    def sync(self, timeout=3.0):
        """Barrier: once this returns True, every connection made to the proxy before the
        call has been accepted and its request read (or it ended); accept is FIFO."""
        fam = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect((self.host, self.port))
            s.sendall(b"CONNECT __sync:0 HTTP/1.1\r\nHost: __sync:0\r\n\r\n")

            def done():
                mine = [c for c in self.conns if c.target == "__sync:0"]
                if not mine:
                    return False
                upto = mine[-1].id
                return all(c.request_done or c.finished for c in self.conns if c.id < upto)
            return self.wait_for(done, timeout)
        except OSError:
            return False
        finally:
            s.close()

    # -- internals ---------------------------------------------------------------------------

    def _accept_loop(self):
        while True:
            try:
                r, _, _ = select.select([self.lsock, self._wake_r], [], [])
            except (OSError, ValueError):
                return
            if self._stop or self._wake_r in r:
                return
            try:
                sock, addr = self.lsock.accept()
            except OSError:
                continue
            with self.cond:
                self._accepted += 1
                c = ProxyConn(self._accepted, addr)
                self.conns.append(c)
                self._socks.add(sock)
                self.cond.notify_all()
            t = threading.Thread(target=self._serve, args=(sock, c), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, sock, c):
        socks = [sock]
        try:
            self._serve_inner(sock, c, socks)
        except Exception as e:  # never crash the test: record and move on
            if c.ended is None:
                c.ended = "error: %r" % (e,)
        finally:
            for s in socks:
                try:
                    s.close()
                except OSError:
                    pass
            with self.cond:
                for s in socks:
                    self._socks.discard(s)
                c.request_done = True
                c.finished = True
                self.cond.notify_all()

    def _answer(self, sock, c, status, reason, body=b""):
        c.status = status
        head = "HTTP/1.1 %d %s\r\n" % (status, reason)
        if status != 200:
            head += "Content-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n" \
                % len(body)
        try:
            sock.sendall(head.encode("latin-1") + b"\r\n" + body)
        except OSError:
            pass

    def _resolve(self, host):
        """The loopback address to tunnel to, or None."""
        addr = self.hosts.get(host.lower(), host)
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return None
        return str(ip) if ip.is_loopback else None

    def _serve_inner(self, sock, c, socks):
        sock.settimeout(10)
        buf = bytearray()
        deadline = time.monotonic() + 10
        while b"\r\n\r\n" not in buf:
            if len(buf) > 65536 or time.monotonic() > deadline:
                c.ended = "bad-request"
                return
            try:
                data = sock.recv(65536)
            except OSError:
                c.ended = "error-before-request"
                return
            if not data:
                c.ended = "eof-before-request"
                return
            buf += data
        head, _, rest = bytes(buf).partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        with self.cond:
            c.request_line = lines[0]
            c.method = parts[0]
            c.target = parts[1] if len(parts) > 1 else ""
            for line in lines[1:]:
                k, _, v = line.partition(":")
                c.headers.append((k.strip(), v.strip()))
            h, _, p = c.target.rpartition(":")
            c.host = h[1:-1] if h.startswith("[") and h.endswith("]") else h
            try:
                c.port = int(p)
            except ValueError:
                c.port = None
            c.request_done = True
            self.cond.notify_all()
        if c.target == "__sync:0":
            self._answer(sock, c, 204, "No Content")
            c.ended = "sync"
            return
        if c.method != "CONNECT":
            self._answer(sock, c, 405, "Method Not Allowed", b"CONNECT only\n")
            c.ended = "not-connect"
            return
        if self.refuse:
            body = ("CONNECT %s refused by the test proxy\n" % c.target).encode("latin-1")
            self._answer(sock, c, self.refuse, REASONS.get(self.refuse, "Refused"), body)
            c.ended = "refused"
            _fin(sock)
            return
        addr = self._resolve(c.host or "")
        if addr is None or not c.port:
            self._answer(sock, c, 502, "Bad Gateway", b"not a loopback target\n")
            c.ended = "not-loopback"
            return
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        up = socket.socket(fam, socket.SOCK_STREAM)
        socks.append(up)
        with self.cond:
            self._socks.add(up)
        up.settimeout(5)
        try:
            up.connect((addr, c.port))
        except OSError as e:
            self._answer(sock, c, 502, "Bad Gateway", ("connect: %s\n" % e).encode())
            c.ended = "connect-failed"
            return
        up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.cond:
            c.connected_to = up.getpeername()[:2]
            c.upstream_local = up.getsockname()[:2]
        self._answer(sock, c, 200, "Connection established")
        if rest:
            up.sendall(rest)
            c.up += len(rest)
        self._relay(sock, up, c)

    def _relay(self, client, up, c):
        open_r = {client: up, up: client}  # read side -> where its bytes go
        end = time.monotonic() + CONN_MAX_LIFETIME
        while open_r and not self._stop:
            left = end - time.monotonic()
            if left <= 0:
                c.ended = "lifetime"
                return
            try:
                r, _, _ = select.select(list(open_r), [], [], min(left, 1.0))
            except (OSError, ValueError):
                c.ended = "error"
                return
            for s in r:
                dst = open_r.get(s)
                if dst is None:
                    continue
                try:
                    data = s.recv(65536)
                except OSError as e:
                    c.ended = "reset" if getattr(e, "errno", None) == errno.ECONNRESET \
                        else "error: %s" % e
                    return
                if not data:
                    del open_r[s]
                    _fin(dst)
                    continue
                try:
                    dst.sendall(data)
                except OSError:
                    c.ended = "send-failed"
                    return
                with self.cond:
                    if s is client:
                        c.up += len(data)
                    else:
                        c.down += len(data)
                    self.cond.notify_all()
        c.ended = c.ended or "closed"


def _fin(sock):
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def refused_port(host="127.0.0.1"):
    """A port on host that nothing listens on (bound, read back, closed)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Blackhole:
    """A listener that never accepts, with its accept queue filled by our own connections:
    later SYNs are dropped and a client's connect() hangs. works tells whether a test
    connect really hung on this kernel."""

    def __init__(self, host="127.0.0.1", fillers=8):
        self.host = host
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind((host, 0))
        self.lsock.listen(0)
        self.port = self.lsock.getsockname()[1]
        self.fillers = []
        self.works = False
        self.note = ""
        for _ in range(fillers):
            if not self._connect_completes(0.3):
                break
        self.works = not self._connect_completes(0.7)
        if not self.works:
            self.note = "a connect to a full listener still completed on this kernel"

    def _connect_completes(self, wait):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        self.fillers.append(s)
        err = s.connect_ex((self.host, self.port))
        if err == 0:
            return True
        if err not in (errno.EINPROGRESS, errno.EAGAIN):
            return True  # refused or the like: not a blackhole either
        _, w, _ = select.select([], [s], [], wait)
        return bool(w)

    def stop(self):
        for s in self.fillers + [self.lsock]:
            try:
                s.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# -- certificates ------------------------------------------------------------------------------

CA_CNF = """\
[ca]
default_ca = CA_default

[CA_default]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
certificate = $dir/ca.pem
private_key = $dir/ca.key
serial = $dir/serial
default_md = sha256
default_days = 365
policy = policy_any
email_in_dn = no
unique_subject = no
copy_extensions = none

[policy_any]
commonName = supplied

[req]
distinguished_name = req_dn
[req_dn]

[leaf_wsmon]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:wsmon.test, IP:127.0.0.1, IP:::1

[leaf_other]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:other.test
"""


def _openssl(*args, cwd=None):
    r = subprocess.run(("openssl",) + args, cwd=cwd, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args),
                                                      r.stderr.decode(errors="replace")))
    return r.stdout.decode(errors="replace")


def _make_ca(cadir, cn):
    os.makedirs(os.path.join(cadir, "newcerts"))
    with open(os.path.join(cadir, "index.txt"), "w"):
        pass
    with open(os.path.join(cadir, "serial"), "w") as f:
        f.write("%016X\n" % random.getrandbits(63))
    cnf = os.path.join(cadir, "ca.cnf")
    with open(cnf, "w") as f:
        f.write(CA_CNF.format(dir=cadir))
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", os.path.join(cadir, "ca.key"),
             "-out", os.path.join(cadir, "ca.pem"), "-days", "3650", "-subj", "/CN=" + cn,
             "-config", cnf,
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return cnf


def _sign(cnf, csr, out, section, dates):
    args = ["ca", "-batch", "-notext", "-config", cnf, "-in", csr, "-out", out,
            "-extensions", section]
    if dates:
        args += ["-startdate", dates[0], "-enddate", dates[1]]
    else:
        args += ["-days", "365"]
    _openssl(*args)


def make_certs(d):
    """Make certificates under directory d. Returns a dict of paths:
    ca, ca2 (the unknown CA), key (every server certificate's key), and the server certs
    valid, expired, notyet, wronghost, selfsigned, unknownca."""
    d = os.path.abspath(d)
    ca1 = os.path.join(d, "ca1")
    ca2 = os.path.join(d, "ca2")
    cnf1 = _make_ca(ca1, "wsmon test CA")
    cnf2 = _make_ca(ca2, "wsmon unknown CA")
    key = os.path.join(d, "server.key")
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-out", key)
    csr = os.path.join(d, "wsmon.csr")
    _openssl("req", "-new", "-key", key, "-subj", "/CN=wsmon.test", "-out", csr,
             "-config", cnf1)
    csr_other = os.path.join(d, "other.csr")
    _openssl("req", "-new", "-key", key, "-subj", "/CN=other.test", "-out", csr_other,
             "-config", cnf1)
    out = {"ca": os.path.join(ca1, "ca.pem"), "ca2": os.path.join(ca2, "ca.pem"), "key": key}
    for name, c, cs, sect, dates in (
            ("valid", cnf1, csr, "leaf_wsmon", None),
            ("expired", cnf1, csr, "leaf_wsmon", ("20200101000000Z", "20210101000000Z")),
            ("notyet", cnf1, csr, "leaf_wsmon", ("20990101000000Z", "20991231000000Z")),
            ("wronghost", cnf1, csr_other, "leaf_other", None),
            ("unknownca", cnf2, csr, "leaf_wsmon", None)):
        path = os.path.join(d, name + ".pem")
        _sign(c, cs, path, sect, dates)
        out[name] = path
    ss = os.path.join(d, "selfsigned.pem")
    _openssl("req", "-x509", "-key", key, "-subj", "/CN=wsmon.test", "-days", "365",
             "-out", ss, "-config", cnf1,
             "-addext", "subjectAltName=DNS:wsmon.test,IP:127.0.0.1,IP:::1",
             "-addext", "basicConstraints=critical,CA:FALSE")
    out["selfsigned"] = ss
    return out


def cert_not_after(path):
    """notAfter of a certificate as ISO 8601 UTC ("2021-01-01T00:00:00Z"), read by openssl."""
    txt = _openssl("x509", "-in", path, "-noout", "-enddate").strip()
    val = txt.split("=", 1)[1]  # e.g. "Jan  1 00:00:00 2021 GMT"
    t = time.strptime(val.replace("  ", " "), "%b %d %H:%M:%S %Y GMT")
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", t)


def cert_not_after_epoch(path):
    import calendar
    iso = cert_not_after(path)
    return calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ"))


# -- DNS -------------------------------------------------------------------------------------

QTYPE_A, QTYPE_AAAA = 1, 28


def _encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        b = label.encode("ascii")
        out += bytes([len(b)]) + b
    return out + b"\x00"


def _decode_name(pkt, i):
    labels = []
    jumps = 0
    end = None
    while True:
        n = pkt[i]
        if n & 0xC0 == 0xC0:
            if end is None:
                end = i + 2
            i = ((n & 0x3F) << 8) | pkt[i + 1]
            jumps += 1
            if jumps > 16:
                raise ValueError("pointer loop")
            continue
        i += 1
        if n == 0:
            break
        labels.append(pkt[i:i + n].decode("ascii", "replace"))
        i += n
    return ".".join(labels), (end if end is not None else i)


class DNSResponder:
    """UDP DNS responder on a random 127.x.y.z, port 53 (needs root).

    ok.wsmon.test       A 127.0.0.1; AAAA: NOERROR with no answer
    servfail.wsmon.test SERVFAIL
    slow.wsmon.test     never answered
    anything else       NXDOMAIN
    queries holds (name, qtype) of everything received."""

    def __init__(self, addr=None, a_records=None, port=53):
        self.a_records = a_records or {"ok.wsmon.test": "127.0.0.1"}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _ in range(50):
            a = addr or "127.%d.%d.%d" % (random.randint(1, 254), random.randint(0, 255),
                                          random.randint(2, 254))
            try:
                self.sock.bind((a, port))
                self.addr = a
                break
            except OSError as e:
                if addr or e.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
                    self.sock.close()
                    raise
        else:
            raise OSError("no free 127.x.y.z:53")
        self.port = port
        self.queries = []
        self.cond = threading.Condition()
        self._wake_r, self._wake_w = socket.socketpair()
        self._stop = False
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        if self._thread:
            self._thread.join(5)
        for s in (self.sock, self._wake_r, self._wake_w):
            s.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def names(self):
        with self.cond:
            return [n for n, _ in self.queries]

    def wait_for(self, pred, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0:
                    return bool(pred())
                self.cond.wait(left)
            return True

    def _loop(self):
        while not self._stop:
            try:
                r, _, _ = select.select([self.sock, self._wake_r], [], [])
            except (OSError, ValueError):
                return
            if self._stop or self._wake_r in r:
                return
            try:
                pkt, peer = self.sock.recvfrom(4096)
            except OSError:
                continue
            try:
                resp = self._answer(pkt)
            except (ValueError, IndexError, struct.error):
                continue
            if resp is not None:
                try:
                    self.sock.sendto(resp, peer)
                except OSError:
                    pass

    def _answer(self, pkt):
        qid, flags, qd, _an, _ns, _ar = struct.unpack("!HHHHHH", pkt[:12])
        if flags & 0x8000 or qd < 1:
            return None
        name, i = _decode_name(pkt, 12)
        qtype, qclass = struct.unpack("!HH", pkt[i:i + 4])
        question = pkt[12:i + 4]
        lname = name.lower().rstrip(".")
        with self.cond:
            self.queries.append((lname, qtype))
            self.cond.notify_all()
        if lname == "slow.wsmon.test":
            return None
        rd = flags & 0x0100
        opcode = flags & 0x7800
        answers = []
        if lname == "servfail.wsmon.test":
            rcode = 2
        elif lname in self.a_records:
            rcode = 0
            if qtype == QTYPE_A and qclass == 1:
                answers.append(b"\xc0\x0c" + struct.pack("!HHIH", QTYPE_A, 1, 30, 4) +
                               socket.inet_aton(self.a_records[lname]))
        else:
            rcode = 3
        rflags = 0x8000 | opcode | 0x0400 | rd | 0x0080 | rcode
        return struct.pack("!HHHHHH", qid, rflags, 1, len(answers), 0, 0) + question + \
            b"".join(answers)


def dns_query(server, name, qtype=QTYPE_A, timeout=1.0):
    """Ask server (addr, port) one question; (rcode, [addresses]) or None on timeout."""
    qid = random.getrandbits(16)
    pkt = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + _encode_name(name) + \
        struct.pack("!HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(pkt, server)
        data, _ = s.recvfrom(4096)
    except socket.timeout:
        return None
    finally:
        s.close()
    _, flags, qd, an, _, _ = struct.unpack("!HHHHHH", data[:12])
    i = 12
    for _ in range(qd):
        _, i = _decode_name(data, i)
        i += 4
    addrs = []
    for _ in range(an):
        _, i = _decode_name(data, i)
        t, _c, _ttl, rdlen = struct.unpack("!HHIH", data[i:i + 10])
        i += 10
        if t == QTYPE_A:
            addrs.append(socket.inet_ntoa(data[i:i + rdlen]))
        i += rdlen
    return flags & 0xF, addrs
