#!/usr/bin/env python3
"""wsmon probe name resolution against a real DNS responder (DESIGN 3.1 dns phase, causes
nxdomain, dns-servfail, dns-timeout; 5 dns-failed).

The responder listens on a random 127.x.y.z, port 53 (root). wsmon runs in a private mount
namespace where /etc/resolv.conf is a bind mount of a file that names only that responder,
with quick timeouts: the machine's resolver is never used.
"""

import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Suite  # noqa: E402
import peers  # noqa: E402

suite = Suite()
S = {}

WRAP = 'mount --bind "$0" /etc/resolv.conf && exec "$@"'


def prefix():
    return ["unshare", "-m", "--", "sh", "-c", WRAP, S["resolv"]]


def setup():
    S["dns"] = peers.DNSResponder().start()
    suite.at_end(S["dns"].stop)
    S["ws"] = peers.WSServer("127.0.0.1").start()
    suite.at_end(S["ws"].stop)
    path = os.path.join(harness.tmpdir(), "resolv.conf")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("nameserver %s\noptions timeout:1 attempts:1\n" % S["dns"].addr)
    os.replace(tmp, path)  # atomic: a reader never sees half a file
    S["resolv"] = path


def queried(ck, name):
    dns = S["dns"]
    ck.ok(dns.wait_for(lambda: any(n == name for n, _ in dns.queries), 2.0),
          "the test responder never got a query for %s (queries seen: %r)"
          % (name, dns.queries))


def dns_failure(ck, name, cause, args=(), limit=3.0):
    u = "ws://%s:%d/echo" % (name, S["ws"].port)
    r = ck.probe(list(args) + [u], timeout=10, prefix=prefix())
    ck.rc(r, 1)
    ck.faster(r, limit)
    if ck.nobjs(r, 1):
        ck.eq(r, "ok", False)
        ck.eq(r, "class", "dns-failed")
        ck.eq(r, "cause", cause)
        ck.eq(r, "failed_in", "dns")
        ck.eq(r, "reached", "none")
        ck.eq(r, "ready_state", 3)
        ck.eq(r, "close.code", 1006)
        ck.eq(r, "remote", None)
        ck.eq(r, "timings_ms.tcp", None)
        hint = r.f("hint")
        verdict = r.f("verdict")
        ck.ok(isinstance(verdict, str) and (name in verdict or name in (hint or "")),
              "neither verdict nor hint names %s: %r / %r" % (name, verdict, hint))
    queried(ck, name)
    return r


@suite.test("1 ok.wsmon.test resolved by the test responder: healthy, DNS timed")
def t_ok(ck):
    srv = S["ws"]
    u = "ws://ok.wsmon.test:%d/echo?id=t1" % srv.port
    r = ck.probe([u], timeout=10, prefix=prefix())
    ck.rc(r, 0)
    if ck.nobjs(r, 1):
        ck.eq(r, "ok", True)
        ck.eq(r, "class", "healthy")
        ck.eq(r, "reached", "open")
        ck.num(r, "timings_ms.dns")
        ck.eq(r, "remote", "127.0.0.1:%d" % srv.port)
    queried(ck, "ok.wsmon.test")
    ck.ok(srv.wait_for(lambda: any(c.target == "/echo?id=t1" for c in srv.conns), 2.0),
          "the peer never saw the connection")
    c = [c for c in srv.snapshot() if c.target == "/echo?id=t1"]
    if c:
        ck.ok(c[0].header("Host") == "ok.wsmon.test:%d" % srv.port,
              "peer: Host want 'ok.wsmon.test:%d', got %r" % (srv.port, c[0].header("Host")))


@suite.test("2 nxdomain.wsmon.test: dns-failed, nxdomain")
def t_nxdomain(ck):
    dns_failure(ck, "nxdomain.wsmon.test", "nxdomain")


@suite.test("3 servfail.wsmon.test: dns-failed, dns-servfail")
def t_servfail(ck):
    dns_failure(ck, "servfail.wsmon.test", "dns-servfail")


@suite.test("4 slow.wsmon.test (never answered) --timeout 5s: dns-timeout well before 5 s")
def t_slow(ck):
    r = dns_failure(ck, "slow.wsmon.test", "dns-timeout", ["--timeout", "5s"], limit=3.5)
    ck.ok(r.elapsed >= 0.9, "ended after %.2f s, before the resolver's 1 s timeout" % r.elapsed)


def main():
    if not harness.wsmon_usable():
        harness.skip_all("wsmon not built")
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        harness.skip_all("needs root for unshare -m and port 53")
    # the wrapper must work here (a container may forbid mounts): bind the file onto itself
    # in a private mount namespace, which changes nothing outside it
    try:
        r = subprocess.run(["unshare", "-m", "--", "sh", "-c", WRAP, "/etc/resolv.conf", "true"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
        works = r.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        works = False
    if not works:
        harness.skip_all("needs root for unshare -m and port 53 (mount namespaces refused here)")
    suite.run(setup)


if __name__ == "__main__":
    main()
