"""TAP harness for wsmon's integration tests (Python 3 standard library only).

A test file registers its scenarios on a Suite and calls Suite.run(). Each scenario gets a
Check that collects every mismatch (so one `not ok` lists all of them), runs wsmon through
Check.probe()/Check.text(), and pipes every JSON line wsmon prints through the contract
checker (shared/contracts/check-json.py probe). On failure the diagnostics show the
command, its exit status, stdout and stderr, escaped so that nothing reaches the terminal.

Environment: WSMON (the built binary), WSMON_SRCDIR (the source tree), optional
WSMON_SHARED (the shared folder, or check-json.py itself), WSMON_IT_VERBOSE=1 (show every
command and its output, also for passing tests).
"""

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

WSMON = os.environ.get("WSMON", "")
SRCDIR = os.environ.get("WSMON_SRCDIR") or os.getcwd()

FILE_BUDGET_S = 50.0  # a test file never runs longer than this, whatever wsmon does

_t_begin = time.monotonic()
_tmpdir = None


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def diag(text):
    for line in str(text).split("\n"):
        out("# " + line)


def esc(s, limit=3000):
    """Text for a diagnostic line: control characters (C0, DEL, C1) and escapes shown as
    \\xNN, long text cut."""
    if isinstance(s, bytes):
        s = s.decode("utf-8", "backslashreplace")
    cut = len(s) > limit
    s = s[:limit]
    o = []
    for ch in s:
        c = ord(ch)
        if ch == "\n":
            o.append(ch)
        elif c < 0x20 or 0x7F <= c < 0xA0:
            o.append("\\x%02x" % c)
        else:
            o.append(ch)
    return "".join(o) + ("\n...(cut)" if cut else "")


def wsmon_usable():
    return bool(WSMON) and os.path.isfile(WSMON) and os.access(WSMON, os.X_OK)


def skip_all(reason):
    out("1..0 # SKIP " + reason)
    sys.exit(0)


def tmpdir():
    """This test file's temporary folder (removed at the end of Suite.run)."""
    global _tmpdir
    if _tmpdir is None:
        _tmpdir = tempfile.mkdtemp(prefix="wsmon-it-")
    return _tmpdir


def time_left():
    return FILE_BUDGET_S - (time.monotonic() - _t_begin)


# -- the contract checker ----------------------------------------------------------------------

_check_json = None


def find_check_json():
    """shared/contracts/check-json.py: from WSMON_SHARED, else walking up from WSMON_SRCDIR
    and from the current directory."""
    global _check_json
    if _check_json:
        return _check_json
    rel = os.path.join("shared", "contracts", "check-json.py")
    env = os.environ.get("WSMON_SHARED")
    cands = []
    if env:
        cands += [env, os.path.join(env, "contracts", "check-json.py"), os.path.join(env, rel)]
    for start in (SRCDIR, os.getcwd(), os.path.dirname(os.path.abspath(__file__))):
        d = os.path.abspath(start)
        while True:
            cands.append(os.path.join(d, rel))
            parent = os.path.dirname(d)
            if parent == d:
                break
            d = parent
    for c in cands:
        if os.path.isfile(c):
            _check_json = c
            return c
    return None


def check_contract(lines):
    """Pipe JSON lines through check-json.py probe. (ok, its output)."""
    if isinstance(lines, (list, tuple)):
        text = "".join(l if l.endswith("\n") else l + "\n" for l in lines)
    else:
        text = lines
    cj = find_check_json()
    if cj is None:
        return False, "shared/contracts/check-json.py not found (set WSMON_SHARED)"
    try:
        r = subprocess.run([sys.executable, cj, "probe"], input=text.encode("utf-8"),
                           capture_output=True, timeout=30)
    except subprocess.TimeoutExpired:
        return False, "check-json.py timed out"
    msg = (r.stdout + r.stderr).decode("utf-8", "replace").strip()
    return r.returncode == 0, msg


# -- running wsmon -----------------------------------------------------------------------------

class Missing:
    def __repr__(self):
        return "<missing>"


MISSING = Missing()


class Result:
    def __init__(self, cmd):
        self.cmd = cmd
        self.rc = None
        self.stdout_b = b""
        self.stdout = ""
        self.stderr = ""
        self.objs = []
        self.lines = []
        self.problems = []  # output that is not what any wsmon should print (bad UTF-8, JSON)
        self.elapsed = 0.0
        self.timed_out = False

    def f(self, path, i=0):
        """Field by dotted path in the i-th JSON object; None under a null parent,
        MISSING when absent."""
        if i >= len(self.objs):
            return MISSING
        cur = self.objs[i]
        for part in path.split("."):
            if cur is None:
                return None
            if not isinstance(cur, dict) or part not in cur:
                return MISSING
            cur = cur[part]
        return cur

    def dump(self):
        lines = ["command: " + " ".join(shlex.quote(c) for c in self.cmd),
                 "exit: %s%s, %.2f s" % (self.rc, " (killed: timed out)" if self.timed_out
                                         else "", self.elapsed)]
        lines.append("stdout:")
        lines += ["  " + l for l in esc(self.stdout_b).split("\n")] if self.stdout_b else \
            ["  (empty)"]
        lines.append("stderr:")
        lines += ["  " + l for l in esc(self.stderr).split("\n")] if self.stderr else \
            ["  (empty)"]
        return "\n".join(lines)


def _env(extra=None):
    env = dict(os.environ)
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
              "ALL_PROXY", "no_proxy", "NO_PROXY", "NO_COLOR"):
        env.pop(k, None)
    # keep wsmon's own files (history database, config) inside the test's folder
    env["XDG_STATE_HOME"] = os.path.join(tmpdir(), "state")
    env["XDG_CONFIG_HOME"] = os.path.join(tmpdir(), "config")
    # a colour-capable TERM: colours must still stay off when stdout is not a terminal
    env["TERM"] = "xterm-256color"
    if extra:
        env.update(extra)
    return env


def run_wsmon(argv, timeout=15.0, prefix=None, env_extra=None):
    """Run prefix + [WSMON] + argv, stdin from /dev/null; never longer than timeout (nor
    than what is left of the file's budget)."""
    cmd = list(prefix or []) + [WSMON] + list(argv)
    r = Result(cmd)
    timeout = max(1.0, min(timeout, time_left()))
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=_env(env_extra), cwd=tmpdir())
    try:
        so, se = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        so, se = p.communicate()
        r.timed_out = True
    r.elapsed = time.monotonic() - t0
    r.rc = p.returncode
    r.stdout_b = so
    try:
        r.stdout = so.decode("utf-8")
    except UnicodeDecodeError as e:
        r.problems.append("stdout is not valid UTF-8: %s" % e)
        r.stdout = so.decode("utf-8", "replace")
    r.stderr = se.decode("utf-8", "replace")
    return r


def run_probe(args, timeout=15.0, prefix=None, env_extra=None):
    """`wsmon probe --json ARGS`: Result with rc, objs (parsed JSON lines), stdout, stderr."""
    r = run_wsmon(["probe", "--json"] + list(args), timeout, prefix, env_extra)
    for n, line in enumerate(r.stdout.split("\n"), 1):
        if not line.strip():
            continue
        r.lines.append(line)
        try:
            r.objs.append(json.loads(line))
        except ValueError as e:
            r.problems.append("stdout line %d is not JSON: %s" % (n, e))
    return r


def run_text(args, timeout=15.0, prefix=None, env_extra=None):
    """`wsmon probe ARGS` (the human output)."""
    return run_wsmon(["probe"] + list(args), timeout, prefix, env_extra)


# -- checks ------------------------------------------------------------------------------------

class SkipTest(Exception):
    pass


class Check:
    """Collects the mismatches of one scenario."""

    def __init__(self, name):
        self.name = name
        self.problems = []
        self.results = []
        self.notes = []

    # running
    def probe(self, args, timeout=15.0, expect_json=True, **kw):
        r = run_probe(args, timeout, **kw)
        self.results.append(r)
        self._common(r)
        if expect_json:
            self.contract(r)
        elif r.lines:
            self.contract(r)
        return r

    def text(self, args, timeout=15.0, **kw):
        r = run_text(args, timeout, **kw)
        self.results.append(r)
        self._common(r)
        return r

    def _common(self, r):
        if r.timed_out:
            self.fail("wsmon did not finish within %.1f s (killed)" % r.elapsed)
        for p in r.problems:
            self.fail(p)

    def contract(self, r):
        ok, msg = check_contract(r.lines)
        if not ok:
            self.fail("check-json.py probe rejects the output:\n  " + msg.replace("\n", "\n  "))

    def note(self, text):
        self.notes.append(text)

    # asserting
    def fail(self, msg):
        self.problems.append(msg)
        return False

    def ok(self, cond, msg):
        if not cond:
            self.fail(msg)
        return bool(cond)

    def eq(self, r, path, want, i=0):
        got = r.f(path, i)
        if got != want or type(got) is bool and type(want) is not bool \
                or type(want) is bool and type(got) is not bool:
            return self.fail("%s%s: want %r, got %r" % (self._obj(r, i), path, want, got))
        return True

    def isin(self, r, path, wants, i=0):
        got = r.f(path, i)
        if got not in wants:
            return self.fail("%s%s: want one of %r, got %r" % (self._obj(r, i), path, wants, got))
        return True

    def num(self, r, path, i=0):
        got = r.f(path, i)
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return self.fail("%s%s: want a number, got %r" % (self._obj(r, i), path, got))
        return True

    def cmp(self, r, path, op, value, i=0):
        """op one of < <= > >= against value (a number)."""
        got = r.f(path, i)
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return self.fail("%s%s: want a number %s %r, got %r" % (self._obj(r, i), path, op,
                                                                    value, got))
        res = {"<": got < value, "<=": got <= value, ">": got > value,
               ">=": got >= value}[op]
        if not res:
            return self.fail("%s%s: want %s %r, got %r" % (self._obj(r, i), path, op, value, got))
        return True

    def rc(self, r, want):
        if r.rc != want:
            return self.fail("exit status: want %d, got %r" % (want, r.rc))
        return True

    def nobjs(self, r, n):
        if len(r.objs) != n:
            return self.fail("want %d JSON object(s) on stdout, got %d" % (n, len(r.objs)))
        return True

    def faster(self, r, limit):
        if r.elapsed >= limit:
            return self.fail("took %.2f s, want < %.1f s" % (r.elapsed, limit))
        return True

    @staticmethod
    def _obj(r, i):
        return "[%d] " % i if len(r.objs) > 1 else ""


# -- the TAP runner ----------------------------------------------------------------------------

class Suite:
    def __init__(self):
        self.tests = []
        self.cleanups = []

    def test(self, name):
        def reg(fn):
            self.tests.append((name.replace("#", "no."), fn))
            return fn
        return reg

    def at_end(self, fn):
        self.cleanups.append(fn)

    def run(self, setup=None):
        if not wsmon_usable():
            skip_all("wsmon not built")
        out("1..%d" % len(self.tests))
        setup_error = None
        if setup is not None:
            try:
                setup()
            except Exception:
                setup_error = traceback.format_exc()
        try:
            for n, (name, fn) in enumerate(self.tests, 1):
                self._one(n, name, fn, setup_error)
        finally:
            for fn in reversed(self.cleanups):
                try:
                    fn()
                except Exception:
                    diag("cleanup: " + traceback.format_exc())
            if _tmpdir:
                shutil.rmtree(_tmpdir, ignore_errors=True)
            diag("%s: %.1f s" % (os.path.basename(sys.argv[0]), time.monotonic() - _t_begin))
        sys.exit(0)

    @staticmethod
    def _one(n, name, fn, setup_error):
        ck = Check(name)
        t0 = time.monotonic()
        if setup_error:
            out("not ok %d - %s" % (n, name))
            diag("setup failed:\n" + setup_error)
            return
        if time_left() <= 1.0:
            out("not ok %d - %s" % (n, name))
            diag("the file's time budget (%.0f s) is used up" % FILE_BUDGET_S)
            return
        try:
            fn(ck)
        except SkipTest as e:
            out("ok %d - %s # SKIP %s" % (n, name, e))
            return
        except Exception:
            ck.fail("the test raised:\n" + traceback.format_exc())
        dt = time.monotonic() - t0
        if ck.problems:
            out("not ok %d - %s" % (n, name))
            for p in ck.problems:
                diag("  " + esc(p))
            for r in ck.results:
                diag(r.dump())
        else:
            out("ok %d - %s" % (n, name))
            if os.environ.get("WSMON_IT_VERBOSE"):
                for r in ck.results:
                    diag(r.dump())
        for note in ck.notes:
            diag(esc(note))
        diag("(%.2f s)" % dt)
