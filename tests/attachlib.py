"""Helpers for the `goinspect attach` tests (tests/test_attach_*.py).

Target programs are tests/programs/insp_*.c (see insp_common.h): each prints
its own truth ("G ID KIND local=0xADDR tid=T", "MAXPROCS N", ...), then
READY, then a "TICK N SUM" line every 20 ms where SUM = 1^2 + ... + N^2 is
computed by a worker goroutine.  Oracles besides the program's own truth:
binutils' addr2line, gdb's backtraces, /proc.
"""
import collections
import contextlib
import fcntl
import json
import os
import pty
import re
import select
import shutil
import subprocess
import tempfile
import termios
import threading
import time

import pytest

from conftest import PROGRAMS, ROOT, run

GOINSPECT = os.environ.get("GOINSPECT_BIN") or os.path.join(ROOT, "build", "bin", "goinspect")
TIMEOUT = 60


def goinspect():
    if not os.path.exists(GOINSPECT):
        pytest.skip(f"{GOINSPECT} not built (run make)")
    return GOINSPECT


def attach(pid, *args, opts=(), pre=(), timeout=TIMEOUT, env=None, **kw):
    """goinspect [PRE] attach [OPTS] PID ARGS; returns the CompletedProcess."""
    return run([goinspect(), *pre, "attach", *opts, str(pid), *args], env=env, timeout=timeout,
               **kw)


def attach_json(pid, *args, opts=(), pre=(), timeout=TIMEOUT):
    r = attach(pid, *args, opts=("--json", *opts), pre=pre, timeout=timeout)
    assert r.returncode == 0, f"goinspect failed ({r.returncode}):\n{r.stderr}"
    try:
        return json.loads(r.stdout)
    except ValueError as e:
        raise AssertionError(f"goinspect's JSON does not parse ({e}):\n{r.stdout[:2000]}")


@contextlib.contextmanager
def prompt(argv):
    """goinspect's interactive prompt (ARGV, a goinspect command line) on a
    pty: yields (process, the pty's master side); killed if still running
    at the end."""
    master, slave = pty.openpty()
    # a session of its own with the pty as its controlling terminal (Ctrl-C)
    p = subprocess.Popen([goinspect(), *argv], stdin=slave, stdout=slave, stderr=slave,
                         start_new_session=True,
                         preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    os.close(slave)
    try:
        yield p, master
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)


def read_until(fd, text, timeout=20):
    """Read a pty (the interactive prompt's) until TEXT appears; returns all
    that was read."""
    out = b""
    deadline = time.monotonic() + timeout
    while text.encode() not in out:
        left = deadline - time.monotonic()
        assert left > 0, f"no {text!r} in {out.decode(errors='replace')!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            assert chunk, f"prompt closed; output so far {out!r}"
            out += chunk
    return out.decode(errors="replace")


def under_gdb(break_on, actions, pid, *args, timeout=60, tid=None, opts=()):
    """Runs `goinspect attach --json OPTS PID ARGS` under gdb, stopped at its first
    ptrace(BREAK_ON, ...) call (on thread TID, if given); then runs ACTIONS
    (gdb commands).  Returns gdb's output (goinspect's own output is in it)."""
    cond = f"$rdi == {break_on}" + (f" && $rsi == {tid}" if tid else "")
    argv = ["gdb", "-q", "-nx", "-batch",
            "-ex", "set breakpoint pending on", "-ex", "set confirm off",
            "-ex", "handle SIGINT SIGTERM nostop noprint pass",
            "-ex", f"break ptrace if {cond}", "-ex", "run"]
    for a in actions:
        argv += ["-ex", a]
    argv += ["--args", goinspect(), "attach", "--json", *opts, str(pid), *args]
    r = run(argv, timeout=timeout, stdin=subprocess.DEVNULL)
    assert "Breakpoint 1, " in r.stdout, f"goinspect never reached the breakpoint:\n{r.stdout}\n{r.stderr}"
    return r.stdout + r.stderr


# ---- Users ----------------------------------------------------------------

# Runs the rest of an argv as the unprivileged user nobody (from root).
AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]


@contextlib.contextmanager
def world_copies(*paths):
    """Copies of PATHS that any user can run (the test's own directories are
    private), in a directory removed afterwards; yields their paths."""
    d = tempfile.mkdtemp(prefix="goinspect-perm-", dir="/tmp")
    try:
        os.chmod(d, 0o755)
        copies = []
        for p in paths:
            c = os.path.join(d, os.path.basename(p))
            shutil.copy(p, c)
            os.chmod(c, 0o755)
            copies.append(c)
        yield copies
    finally:
        shutil.rmtree(d)


# ---- Targets --------------------------------------------------------------

Who = collections.namedtuple("Who", "id kind local tid")


class Target:
    """A running insp_* program: its truth, and its output read by a thread."""

    def __init__(self, proc, exe, src):
        self.proc = proc
        self.pid = proc.pid
        self.exe = exe
        self.src = src
        self.lines = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.who = []           # Who, in the order printed
        self.facts = {}

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)     # EOF
            self.cond.notify_all()

    def wait_line(self, pred, start=0, timeout=20):
        """Index of the first line from START on satisfying PRED."""
        deadline = time.monotonic() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(self.lines):
                    line = self.lines[i]
                    if line is None:
                        err = self.proc.stderr.read() if self.proc.poll() is not None else ""
                        raise AssertionError(f"target exited ({self.proc.poll()}); output "
                                             f"{self.lines[-20:]!r}; stderr {err!r}")
                    if line.startswith("FAIL"):
                        raise AssertionError(f"target reported: {line}")
                    if pred(line):
                        return i
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting; last lines {self.lines[-10:]!r}")
                self.cond.wait(left)

    def wait_ready(self):
        end = self.wait_line(lambda l: l == "READY")
        for line in self.lines[:end]:
            if line.startswith("G "):
                f = line.split()
                kv = dict(w.split("=", 1) for w in f[3:])
                self.who.append(Who(int(f[1]), f[2], int(kv["local"], 16), int(kv["tid"])))
            elif not line.startswith("TICK"):
                key, _, rest = line.partition(" ")
                self.facts[key] = rest
        return self

    def ids(self, kind):
        return [w.id for w in self.who if w.kind == kind]

    def one(self, kind):
        (w,) = [w for w in self.who if w.kind == kind]
        return w

    def state(self):
        # bytes: the name in parentheses may be anything (tests/test_json_utf8.py)
        with open(f"/proc/{self.pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0].decode()

    def assert_progress(self, ticks=2):
        """The target runs on: it is not stopped, and makes TICK lines with
        right sums after this call."""
        assert self.state() not in ("t", "T"), f"target left stopped ({self.state()})"
        with self.cond:
            start = len(self.lines)
        seen = 0
        i = start
        while seen < ticks:
            i = self.wait_line(lambda l: l.startswith("TICK "), start=i) + 1
            _, n, s = self.lines[i - 1].split()
            n = int(n)
            assert int(s) == n * (n + 1) * (2 * n + 1) // 6, f"wrong checksum: {self.lines[i - 1]}"
            seen += 1
        assert self.state() not in ("t", "T")


def start(targets, program, src, *args, env=None, compiler="gcc", extra=(), exe=None):
    exe = exe or program(src, compiler, extra)
    proc = targets.start([exe, *args], env=env)
    return Target(proc, exe, os.path.join(PROGRAMS, src)).wait_ready()


# ---- tests/programs/insp_anon.c ---------------------------------------------

def anon_truth(t):
    """insp_anon's account of itself: {goroutine id: "PLAIN" or "ANON"} and
    the return address in its anonymous page."""
    kinds = {int(l.split()[1]): l.split()[0] for l in t.lines
             if l.startswith(("PLAIN ", "ANON "))}
    ret = int(next(l for l in t.lines if l.startswith("RETURN ")).split()[1], 16)
    return kinds, ret


def check_anon_goroutines(doc, truth):
    """Each of insp_anon's goroutines in DOC (goroutines -t) waits where
    the program says; the stack of each ANON one ends at the return address
    in the page, a pc in no module."""
    kinds, ret = truth
    src = os.path.join(PROGRAMS, "insp_anon.c")
    plain = ("plain_wait", marker_line(src, "WAIT:plain"))
    anon = ("anon_wait", marker_line(src, "WAIT:anon"))
    gs = {g["id"]: g for g in doc["goroutines"]}
    for i, kind in kinds.items():
        g = gs[i]
        where = (g["user"]["function"], g["user"]["line"])
        if kind == "PLAIN":
            assert where == plain and g["stack_error"] is None, g
            continue
        assert where == anon, g
        fr = g["frames"]
        assert [f["function"] for f in fr[-2:]] == ["anon_wait", None], fr
        assert fr[-1]["pc"] == ret and g["stack_error"] == "pc is in no mapped file", g


# ---- Sources --------------------------------------------------------------

def marker_line(src, marker):
    """The line of SRC (a path) holding the comment /* MARKER */."""
    with open(src) as f:
        hits = [i + 1 for i, line in enumerate(f) if f"/* {marker} */" in line]
    assert len(hits) == 1, f"marker {marker} found {len(hits)} times in {src}"
    return hits[0]


def src_path(name):
    return os.path.join(PROGRAMS, name)


# ---- Oracles --------------------------------------------------------------

def elf_type(path):
    with open(path, "rb") as f:
        head = f.read(18)
    return int.from_bytes(head[16:18], "little")


def load_base(pid, path):
    """Where PATH is loaded in PID, relative to its link-time addresses
    (0 for a fixed-address executable)."""
    if elf_type(path) == 2:     # ET_EXEC
        return 0
    real = os.path.realpath(path)
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and os.path.realpath(parts[5]) == real and int(parts[2], 16) == 0:
                return int(parts[0].split("-")[0], 16)
    raise AssertionError(f"{path} is not mapped in {pid}")


def _frames(argv):
    r = run(argv, timeout=30)
    assert r.returncode == 0, r.stderr
    out = [line for line in r.stdout.splitlines() if line]
    frames = []
    for fn, loc in zip(out[0::2], out[1::2]):
        file, _, line = loc.split(" ")[0].rpartition(":")
        if file.count(":") and line.isdigit() and file.rpartition(":")[2].isdigit():
            file, _, line = file.rpartition(":")      # llvm's file:line:column
        frames.append((fn, file, int(line) if line.isdigit() else 0))
    return frames


def addr2line(module, addr):
    """[(function, file, line)] for ADDR in MODULE, innermost first, from
    binutils addr2line -f -i."""
    return _frames(["addr2line", "-f", "-i", "-e", module, hex(addr)])


def llvm_symbolizer(module, addr, args=()):
    """The same from llvm-symbolizer, the second oracle."""
    return _frames(["llvm-symbolizer", "-f", "-i", *args, f"--obj={module}", hex(addr)])


# ---- Debug info -------------------------------------------------------------

DebugInfo = collections.namedtuple("DebugInfo", "name goinspect gdb llvm")
# goinspect, gdb and llvm-symbolizer all without the system's debug files
# (a machine without libc6-dbg), or all with them
NO_DEBUG_INFO = DebugInfo("none", ("--debug-file-directory", ""),
                          ("-iex", "set debug-file-directory /nonexistent"),
                          ("--debug-file-directory=/nonexistent",))
SYSTEM_DEBUG_INFO = DebugInfo("system", (), (), ())


def libc_path(pid):
    """The libc PID has mapped."""
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and os.path.basename(parts[5]).startswith("libc.so"):
                return parts[5]
    raise AssertionError(f"no libc mapped in {pid}")


def system_debug_file(path):
    """The system's separate debug file of PATH by its build-id, as gdb finds
    it in /usr/lib/debug, or None."""
    note = run(["readelf", "-n", path]).stdout
    if "Build ID:" not in note:
        return None
    bid = note.split("Build ID:")[1].split()[0]
    debug = f"/usr/lib/debug/.build-id/{bid[:2]}/{bid[2:]}.debug"
    return debug if os.path.exists(debug) else None


def debug_info_for(name, pid):
    """The DebugInfo named "none" or "system" for a test on PID; the system
    half is skipped where the system has no debug file for PID's libc."""
    if name == "none":
        return NO_DEBUG_INFO
    if not system_debug_file(libc_path(pid)):
        pytest.skip("no debug file for libc in /usr/lib/debug (libc6-dbg is not installed)")
    return SYSTEM_DEBUG_INFO


def symbolizer_oracle(module, addr, got, norm=lambda frames: frames, debug=SYSTEM_DEBUG_INFO):
    """The frames a symbolizer nobody here wrote gives for ADDR: addr2line's;
    where they differ from GOT (compared through NORM), llvm-symbolizer's.
    addr2line drops inlined frames whose ranges use DW_FORM_rnglistx
    (clang's DWARF 5), a binutils bug docs/symbolize.md describes;
    llvm-symbolizer reads them.  With DEBUG's debug directories: addr2line
    has no option for them, so where it differs, llvm-symbolizer is asked
    with them."""
    want = norm(addr2line(module, addr))
    if want != got:
        want = norm(llvm_symbolizer(module, addr, debug.llvm))
    return want


BT_THREAD = re.compile(r'^Thread \d+ \(.*?LWP (\d+)\)')
BT_FRAME = re.compile(r'^#(\d+)\s+(?:0x[0-9a-f]+ in )?(\S+) \(')


def gdb_backtraces(pid, debug=None):
    """{tid: [function, ...]} from gdb's `thread apply all bt` (with the
    debug info of DEBUG, a DebugInfo)."""
    r = run(["gdb", "-q", "-nx", "-batch", *(debug.gdb if debug else ()), "-p", str(pid),
             "-ex", "thread apply all bt"], timeout=60)
    bts, cur = {}, None
    for line in r.stdout.splitlines():
        m = BT_THREAD.match(line)
        if m:
            cur = bts.setdefault(int(m.group(1)), [])
            continue
        m = BT_FRAME.match(line)
        if m and cur is not None:
            cur.append(m.group(2))
    assert bts, f"no backtrace from gdb:\n{r.stdout}\n{r.stderr}"
    return bts


def same_function(a, b):
    """goinspect's name of a frame is the one gdb prints, exactly."""
    return a == b


def line_id(line):
    """The goroutine id of a `goroutines` text line ("  Goroutine 7 - ...",
    "* Goroutine 7 - ..." for a running one)."""
    m = re.match(r"^[* ] Goroutine (\S+) - ", line)
    assert m, f"not a goroutine line: {line!r}"
    return m.group(1)


def stat_state(pid):
    """The kernel state letter of PID (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def task_states(pid):
    """The kernel state letters of PID's threads (a thread that ends
    meanwhile is left out)."""
    states = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", "rb") as f:
                states.append(f.read().rsplit(b")", 1)[1].split()[0].decode())
        except (FileNotFoundError, ProcessLookupError):
            pass
    return states


def tracer_of(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^TracerPid:\s*(\d+)", f.read(), re.M).group(1))


def comm_name(exe):
    return os.path.basename(exe)[:15]


def proc_tids(pid):
    return sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))


def attach_json_quiet(pid, *args, tries=10):
    """attach_json while no thread comes or goes: /proc/PID/task holds the
    same threads before and after the attach (the runtime starts an M
    whenever it needs one), so what goinspect saw can be compared with
    /proc.  Returns (doc, tids)."""
    seen = []
    for _ in range(tries):
        before = proc_tids(pid)
        doc = attach_json(pid, *args)
        after = proc_tids(pid)
        if before == after:
            return doc, after
        seen.append((before, after))
    raise AssertionError(f"threads came or went during every attach: {seen}")


def comm(pid, tid):
    with open(f"/proc/{pid}/task/{tid}/comm") as f:
        return f.read().strip()
