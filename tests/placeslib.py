"""Helpers for the tests of threads in odd places (test_attach_vdso.py,
test_attach_signal_frames.py, test_attach_symbols.py...): the
thread_places.c target and gdb's backtraces of its threads, frame for frame
(signal frames included)."""
import os
import re

from attachlib import run, start

GDB_THREAD = re.compile(r'^Thread \d+ \(.*?LWP (\d+)\)')
# "#3  <signal handler called>", "#0  0x... in write () from ...", "#1  f (a=1) at x.c:3"
GDB_FRAME = re.compile(r'^#(\d+)\s+(?:0x[0-9a-f]+ in )?(<signal handler called>|\S+)')


def start_places(targets, program, *args, exe=None):
    """thread_places ARGS, once READY; returns (Target, {kind: tid})."""
    t = start(targets, program, "thread_places.c", *args, exe=exe)
    tids = {}
    for line in t.lines:
        if line == "READY":
            break
        if line.startswith("TID "):
            _, kind, tid = line.split()
            tids.setdefault(kind, int(tid))
    return t, tids


def gdb_frames(pid, gdb_opts=()):
    """{tid: [function, ...]} from gdb's `thread apply all bt`, with gdb's
    own names: "??" for an unnamed frame, "<signal handler called>"."""
    r = run(["gdb", "-q", "-nx", "-batch", *gdb_opts, "-p", str(pid),
             "-ex", "thread apply all bt"], timeout=90)
    bts, cur = {}, None
    for line in r.stdout.splitlines():
        m = GDB_THREAD.match(line)
        if m:
            cur = bts.setdefault(int(m.group(1)), [])
            continue
        m = GDB_FRAME.match(line)
        if m and cur is not None:
            cur.append(m.group(2))
    assert bts, f"no backtrace from gdb:\n{r.stdout}\n{r.stderr}"
    return bts


def thread_of(doc, tid):
    (th,) = [th for th in doc["threads"] if th["tid"] == tid]
    return th


def names(th):
    return [f["function"] or "??" for f in th["frames"]]


def not_stopped(pid):
    """Every task of PID runs or sleeps, and none is traced."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0].decode()
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            tracer = re.search(r"^TracerPid:\s*(\d+)", f.read(), re.M).group(1)
        if state in ("t", "T") or tracer != "0":
            return False
    return True

