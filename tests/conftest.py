"""Shared fixtures for the goinspect test suite.

Run with /usr/bin/python3 -m pytest (the Python that gdb embeds).  `make check`
builds everything first; these fixtures never build the project itself, they
only build small target programs with gortcc into a per-session directory.
"""
import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAMS = os.path.join(ROOT, "tests", "programs")

# Compiler name -> build directory holding lib/libgort.a and bin/gortcc.
# `make check` builds both; a missing clang build skips the clang variants.
BUILDS = {
    "gcc": os.path.join(ROOT, "build"),
    "clang": os.path.join(ROOT, "build", "clang"),
}
COMPILER_CC = {"gcc": "gcc", "clang": "clang"}

# Every subprocess a test runs gets a timeout; this is the default.
TIMEOUT = 60

# goinspect (like gdb and elfutils) downloads debug info it cannot find
# locally from the debuginfod servers of $DEBUGINFOD_URLS, which Debian's
# libdebuginfod-common sets in login shells.  The tests of that
# (test_debuginfo.py) set it themselves; every other test runs without it,
# whatever the machine's settings.
os.environ.pop("DEBUGINFOD_URLS", None)


def gortcc_path(compiler="gcc"):
    return os.path.join(BUILDS[compiler], "bin", "gortcc")


def build_program(src, out, compiler="gcc", extra=()):
    """Build tests/programs/SRC (or an absolute path) with gortcc into OUT."""
    if not os.path.isabs(src):
        src = os.path.join(PROGRAMS, src)
    gortcc = gortcc_path(compiler)
    if not os.path.exists(gortcc):
        pytest.skip(f"{gortcc} not built (run make check)")
    env = dict(os.environ, CC=COMPILER_CC[compiler])
    cmd = [gortcc, "-O2", "-Wall", "-Werror", "-o", out, src, *extra]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    if r.returncode != 0:
        raise AssertionError(f"build failed: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return out


class ProgramCache:
    """Builds each (source, compiler, extra flags) once per test session."""

    def __init__(self, tmpdir):
        self.dir = tmpdir
        self.built = {}

    def __call__(self, src, compiler="gcc", extra=()):
        key = (src, compiler, tuple(extra))
        if key not in self.built:
            name = os.path.splitext(os.path.basename(src))[0]
            tag = "-".join([name, compiler] + [e.strip("-").replace("=", "_").replace("/", "_")
                                              for e in extra])
            out = os.path.join(self.dir, tag)
            self.built[key] = build_program(src, out, compiler, extra)
        return self.built[key]


@pytest.fixture(scope="session")
def program(tmp_path_factory):
    """program(src, compiler='gcc', extra=()) -> path of the built binary."""
    return ProgramCache(str(tmp_path_factory.mktemp("programs")))


class Targets:
    """Starts target processes and kills every one of them at teardown."""

    def __init__(self):
        self.procs = []

    def start(self, argv, env=None, **kw):
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        p = subprocess.Popen(argv, env=full_env, text=True, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def kill_all(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass


@pytest.fixture
def targets():
    t = Targets()
    yield t
    t.kill_all()


def run(argv, env=None, timeout=TIMEOUT, **kw):
    """Run a command to completion with a timeout; returns CompletedProcess."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run(argv, env=full_env, capture_output=True, text=True,
                          timeout=timeout, **kw)


class LiveLines:
    """Reads a live target's stdout line by line with a deadline.

    Reads the pipe's file descriptor directly, so no line can sit unseen in
    a Python buffer while select() waits for more."""

    def __init__(self, proc):
        self.proc = proc
        self.fd = proc.stdout.fileno()
        self.buf = b""
        self.lines = []

    def until(self, predicate, timeout=20):
        """Read until a line satisfies predicate; returns every line read so
        far.  Fails the test on timeout or when the target exits first."""
        sel = selectors.DefaultSelector()
        sel.register(self.fd, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        try:
            while True:
                while b"\n" in self.buf:
                    line, self.buf = self.buf.split(b"\n", 1)
                    line = line.decode(errors="replace")
                    self.lines.append(line)
                    if predicate(line):
                        return self.lines
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for output; got {self.lines!r}")
                if not sel.select(left):
                    continue
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    err = self.proc.stderr.read() if self.proc.stderr else ""
                    raise AssertionError(
                        f"target exited ({self.proc.poll()}) before expected output; "
                        f"got {self.lines!r}; stderr {err!r}")
                self.buf += chunk
        finally:
            sel.close()

    def text(self):
        return "\n".join(self.lines) + "\n"


@contextlib.contextmanager
def reaped(p):
    """Yields the subprocess p; kills and reaps it at the end if it still
    runs (a test that failed midway)."""
    try:
        yield p
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def need_private_mount_namespace():
    """Skips the test unless it may make a mount namespace of its own with
    private mounts (root, unshare, and a root that is a mount point: a
    chroot or some containers refuse, "cannot change root filesystem
    propagation")."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare for a private mount namespace")
    probe = run(["unshare", "-m", "--propagation", "private", "true"])
    if probe.returncode != 0:
        pytest.skip(f"no private mount namespace here: {probe.stderr.strip()}")


def wait_until(pred, timeout=20, what="condition"):
    """Poll pred until it holds; fail the test after timeout seconds.  what
    names the awaited state in the failure (a callable: asked then, so it
    can say what was seen last)."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")
        time.sleep(0.02)


def wait_for_line(proc, predicate, timeout=20):
    """Read proc's stdout until predicate(line) holds; returns the lines read."""
    return LiveLines(proc).until(predicate, timeout)
