#!/usr/bin/env python3
"""wsmon probe against real TLS peers on loopback (DESIGN 3.1 tls, 5 tls-* classes, 9).

Certificates are made at test time with the openssl CLI: a test CA, and server certificates
valid, expired, not yet valid, for another host, self-signed, and signed by a CA the client
is not given. URLs name wsmon.test and reach 127.0.0.1 through --resolve.
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Suite  # noqa: E402
import peers  # noqa: E402

suite = Suite()
S = {}
CERTS = ("valid", "expired", "notyet", "wronghost", "selfsigned", "unknownca")


def setup():
    S["certs"] = peers.make_certs(os.path.join(harness.tmpdir(), "certs"))
    for name in CERTS:
        srv = peers.WSServer("127.0.0.1", certfile=S["certs"][name],
                             keyfile=S["certs"]["key"]).start()
        suite.at_end(srv.stop)
        S[name] = srv
    S["plain"] = peers.WSServer("127.0.0.1").start()
    suite.at_end(S["plain"].stop)


def args_for(name, target, extra=()):
    """Arguments to probe server `name` as wss://wsmon.test:PORT/target."""
    srv = S[name]
    u = srv.url(target, host="wsmon.test")
    return ["--cacert", S["certs"]["ca"], "--resolve", "wsmon.test:%d:127.0.0.1" % srv.port] + \
        list(extra) + [u], u


def conn(name, target, timeout=3.0):
    """The peer's finished record of the connection that asked for exactly target."""
    srv = S[name]

    def find():
        for c in srv.conns:
            if c.target == target and c.finished:
                return c
        return None
    srv.wait_for(lambda: find() is not None, timeout)
    with srv.cond:
        return find()


def days_left(path):
    """Whole days from now to the certificate's notAfter, as openssl reads it."""
    return (peers.cert_not_after_epoch(path) - time.time()) / 86400.0


def common_tls(ck, r, name):
    ck.eq(r, "url", r.cmd[-1])
    ck.eq(r, "timings_ms.dns", None)  # a --resolve match has no DNS phase
    ck.eq(r, "remote", "127.0.0.1:%d" % S[name].port)
    ck.eq(r, "tls.not_after", peers.cert_not_after(S["certs"][name]))
    ck.ok(isinstance(r.f("tls.issuer"), str) and r.f("tls.issuer"),
          "tls.issuer: want the issuer, got %r" % (r.f("tls.issuer"),))


def refused_before_upgrade(ck, name):
    """wsmon must not have sent an upgrade request over a connection it did not trust."""
    srv = S[name]
    ck.ok(srv.sync(), "the peer did not settle (sync)")
    reqs = srv.requests()
    ck.ok(not reqs, "wsmon sent an upgrade request through an untrusted TLS connection: %r"
          % reqs)


def tls_failure(ck, name, klass, cause, verify):
    args, u = args_for(name, "/echo?id=" + name)
    r = ck.probe(args, timeout=10)
    ck.rc(r, 1)
    ck.faster(r, 3.0)
    if ck.nobjs(r, 1):
        ck.eq(r, "ok", False)
        ck.eq(r, "class", klass)
        ck.eq(r, "cause", cause)
        ck.eq(r, "failed_in", "tls")
        ck.eq(r, "reached", "tcp")
        ck.eq(r, "ready_state", 3)
        ck.eq(r, "close.code", 1006)
        ck.eq(r, "tls.verify", verify)
        ck.eq(r, "tls.insecure", False)
        ck.eq(r, "timings_ms.open", None)
        common_tls(ck, r, name)
    refused_before_upgrade(ck, name)
    return r


@suite.test("1 valid certificate via --cacert and --resolve: healthy, TLS facts")
def t_valid(ck):
    args, u = args_for("valid", "/echo?id=t1")
    r = ck.probe(args, timeout=10)
    ck.rc(r, 0)
    if ck.nobjs(r, 1):
        for k, v in (("ok", True), ("class", "healthy"), ("cause", None), ("failed_in", None),
                     ("reached", "open"), ("ready_state", 3), ("http.status", 101),
                     ("tls.verify", "ok"), ("tls.insecure", False), ("close.code", 1000),
                     ("close.by", "client")):
            ck.eq(r, k, v)
        ver = r.f("tls.version")
        ck.ok(isinstance(ver, str) and ver.startswith("TLSv1."),
              "tls.version: want TLSv1.x, got %r" % (ver,))
        ck.ok(isinstance(r.f("tls.cipher"), str) and r.f("tls.cipher"),
              "tls.cipher: want a name, got %r" % (r.f("tls.cipher"),))
        subj = r.f("tls.subject")
        ck.ok(isinstance(subj, str) and "wsmon.test" in subj,
              "tls.subject: want it to name wsmon.test, got %r" % (subj,))
        iss = r.f("tls.issuer")
        ck.ok(isinstance(iss, str) and "wsmon test CA" in iss,
              "tls.issuer: want it to name 'wsmon test CA', got %r" % (iss,))
        want = days_left(S["certs"]["valid"])
        dl = r.f("tls.days_left")
        ck.ok(isinstance(dl, int) and not isinstance(dl, bool) and 0 < dl and
              abs(dl - want) <= 1.0,
              "tls.days_left: want about %.1f (> 0), got %r" % (want, dl))
        ck.num(r, "timings_ms.tls")
        ck.num(r, "timings_ms.tcp")
        ck.num(r, "timings_ms.open")
        common_tls(ck, r, "valid")
    c = conn("valid", "/echo?id=t1")
    if ck.ok(c is not None, "the peer never saw the upgrade request"):
        ck.ok(c.sni == "wsmon.test", "peer: SNI want 'wsmon.test', got %r" % (c.sni,))
        host = c.header("Host") or ""
        ck.ok(host in ("wsmon.test:%d" % S["valid"].port,),
              "peer: Host want 'wsmon.test:%d', got %r" % (S["valid"].port, host))


@suite.test("2 wss://127.0.0.1 (IP in the certificate's SANs): healthy")
def t_ip(ck):
    u = S["valid"].url("/echo?id=t2")
    r = ck.probe(["--cacert", S["certs"]["ca"], u], timeout=10)
    ck.rc(r, 0)
    if ck.nobjs(r, 1):
        ck.eq(r, "class", "healthy")
        ck.eq(r, "tls.verify", "ok")
        ck.eq(r, "timings_ms.dns", None)


@suite.test("3 expired certificate: tls-expired, days_left < 0")
def t_expired(ck):
    r = tls_failure(ck, "expired", "tls-expired", "tls-expired", "expired")
    dl = r.f("tls.days_left")
    want = days_left(S["certs"]["expired"])
    ck.ok(isinstance(dl, int) and not isinstance(dl, bool) and dl < 0 and abs(dl - want) <= 1.0,
          "tls.days_left: want about %.1f (< 0), got %r" % (want, dl))


@suite.test("4 certificate not yet valid (2099): tls-expired, cause tls-not-yet-valid")
def t_notyet(ck):
    tls_failure(ck, "notyet", "tls-expired", "tls-not-yet-valid", "not-yet-valid")


@suite.test("5 certificate for other.test: tls-hostname")
def t_wronghost(ck):
    r = tls_failure(ck, "wronghost", "tls-hostname", "tls-hostname", "hostname")
    subj = r.f("tls.subject")
    ck.ok(isinstance(subj, str) and "other.test" in subj,
          "tls.subject: want it to name other.test, got %r" % (subj,))


@suite.test("6 self-signed certificate: tls-untrusted, cause tls-self-signed")
def t_selfsigned(ck):
    tls_failure(ck, "selfsigned", "tls-untrusted", "tls-self-signed", "self-signed")


@suite.test("7 certificate from a CA not given: tls-untrusted")
def t_unknownca(ck):
    r = tls_failure(ck, "unknownca", "tls-untrusted", "tls-untrusted", "untrusted")
    iss = r.f("tls.issuer")
    ck.ok(isinstance(iss, str) and "wsmon unknown CA" in iss,
          "tls.issuer: want it to name 'wsmon unknown CA', got %r" % (iss,))


@suite.test("8 --insecure with the expired certificate: healthy, but reported")
def t_insecure(ck):
    args, u = args_for("expired", "/echo?id=t8", extra=["--insecure"])
    r = ck.probe(args, timeout=10)
    ck.rc(r, 0)
    if ck.nobjs(r, 1):
        ck.eq(r, "ok", True)
        ck.eq(r, "class", "healthy")
        ck.eq(r, "reached", "open")
        ck.eq(r, "tls.insecure", True)
        ck.eq(r, "tls.verify", "expired")
        common_tls(ck, r, "expired")
        v = r.f("verdict")
        ck.ok(isinstance(v, str) and re.search(r"insecure|not verified", v, re.I),
              "verdict: want it to say verification was skipped, got %r" % (v,))
    ck.ok(conn("expired", "/echo?id=t8") is not None,
          "the peer never saw the upgrade request")


@suite.test("9 wss:// to a plain ws:// port: tls-failed, cause tls-protocol")
def t_plain(ck):
    srv = S["plain"]
    u = srv.url("/echo?id=t9", host="wsmon.test").replace("ws://", "wss://", 1)
    r = ck.probe(["--cacert", S["certs"]["ca"], "--resolve",
                  "wsmon.test:%d:127.0.0.1" % srv.port, u], timeout=10)
    ck.rc(r, 1)
    ck.faster(r, 3.0)
    if ck.nobjs(r, 1):
        ck.eq(r, "ok", False)
        ck.eq(r, "class", "tls-failed")
        ck.eq(r, "cause", "tls-protocol")
        ck.eq(r, "failed_in", "tls")
        ck.eq(r, "reached", "tcp")
        ck.eq(r, "close.code", 1006)


@suite.test("10 text output, expired: names the class and the date, 80 columns, no ANSI")
def t_text_expired(ck):
    args, u = args_for("expired", "/echo?id=t10")
    r = ck.text(args, timeout=10)
    ck.rc(r, 1)
    ck.ok(re.search(r"tls[- ]expired", r.stdout, re.I), "the text does not name tls-expired")
    ck.ok(re.search(r"expired", r.stdout.replace("tls-expired", ""), re.I),
          "the text does not say 'expired' beyond the class name")
    ck.ok("2021" in r.stdout, "the text does not give the expiry date (2021-01-01)")
    for n, line in enumerate(r.stdout.split("\n"), 1):
        ck.ok(len(line) <= 80, "text line %d is %d characters long (> 80)" % (n, len(line)))
    ck.ok(b"\x1b" not in r.stdout_b, "ANSI escape in the text output (stdout is not a tty)")


if __name__ == "__main__":
    suite.run(setup)
