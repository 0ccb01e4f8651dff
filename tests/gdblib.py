"""Helpers of the gdb extension tests (tests/test_gdb*.py): gdb in batch
mode on a live process, a program it starts or a core file, with the
extension sourced from the checkout (or auto-loaded), and parsers of what
gdb prints: the `info goroutines` table, backtraces, `info threads`.

gdb runs with `set filename-display absolute`, so its file names compare
with goinspect's, and with the system's separate debug files out of sight
(goinspect with --debug-file-directory ''), so libc frames are the same on
a machine with libc6-dbg and on one without (tests/attachlib.NO_DEBUG_INFO).
"""
import glob
import json
import os
import re
import resource
import signal
import subprocess

import pytest

from attachlib import NO_DEBUG_INFO, Target, goinspect
from conftest import PROGRAMS, ROOT, run, wait_until

EXTENSION = os.path.join(ROOT, "gdb", "gort-gdb.py")
TIMEOUT = 180
GDB_BASE = ["gdb", "-nx", "-batch", "-iex", "set filename-display absolute",
            "-iex", "set width 0", "-iex", "set height 0", *NO_DEBUG_INFO.gdb]


def gdb(target, commands, source=True, iex=(), timeout=TIMEOUT, env=None):
    """gdb -batch on TARGET (argv after the options: ["-p", PID], [EXE,
    CORE], ["--args", EXE, ...]) running COMMANDS; the extension sourced
    first unless source is False.  Returns (stdout, stderr).  No Python
    traceback may ever appear."""
    argv = list(GDB_BASE)
    for i in iex:
        argv += ["-iex", i]
    if source:
        argv += ["-ex", f"source {EXTENSION}"]
    for c in commands:
        argv += ["-ex", c]
    argv += list(target)
    r = run(argv, timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    out = r.stdout + r.stderr
    assert "Traceback" not in out and "Python Exception" not in out, out
    return r.stdout, r.stderr


def goinspect_json(*args, pre=()):
    """goinspect --json ARGS without the system's debug files."""
    r = run([goinspect(), "--json", *NO_DEBUG_INFO.goinspect, *pre, *args], timeout=120)
    assert r.returncode == 0, f"goinspect failed ({r.returncode}):\n{r.stderr}"
    return json.loads(r.stdout)


# ---- stopping, and cores ---------------------------------------------------

def stop(t):
    """SIGSTOP target t and wait until it is stopped: nothing moves until
    SIGCONT, so goinspect and gdb see the same process."""
    os.kill(t.pid, signal.SIGSTOP)
    wait_until(lambda: t.state() == "T", timeout=10, what="the target to stop")


def resume(t):
    os.kill(t.pid, signal.SIGCONT)
    wait_until(lambda: t.state() not in ("T", "t"), timeout=10, what="the target to resume")


def unlimited_core():
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def start_dumpable(targets, program, src, *args, cwd, compiler="gcc", extra=(), exe=None):
    """An insp_* target that writes a core into cwd when a signal kills it."""
    exe = exe or program(src, compiler, extra)
    proc = targets.start([exe, *args], cwd=cwd, preexec_fn=unlimited_core)
    return Target(proc, exe, os.path.join(PROGRAMS, src)).wait_ready()


def kernel_core(t, cwd, sig=signal.SIGABRT):
    """Kills t (stopped or not) with sig; the core the kernel wrote in cwd."""
    with open("/proc/sys/kernel/core_pattern") as f:
        pattern = f.read().strip()
    if pattern.startswith("|") or "/" in pattern:
        pytest.skip(f"the kernel's core_pattern ({pattern}) writes no file in the working "
                    "directory")
    os.kill(t.pid, sig)
    os.kill(t.pid, signal.SIGCONT)
    t.proc.wait(timeout=60)
    assert t.proc.returncode == -sig, f"target ended with {t.proc.returncode}, not by {sig}"
    cores = []
    wait_until(lambda: cores.extend(glob.glob(os.path.join(cwd, "core*"))) or cores,
               timeout=30, what="the kernel's core file")
    (path,) = cores
    wait_until(lambda: os.path.getsize(path) > 0, timeout=30, what="a non-empty core")
    return path


def gcore(pid, path):
    """gdb's gcore of process pid (left as it was: gdb detaches)."""
    r = run(["gdb", "-q", "-nx", "-batch", "-p", str(pid), "-ex", f"gcore {path}"],
            timeout=TIMEOUT)
    assert os.path.exists(path), r.stdout + r.stderr
    return path


# ---- what gdb prints ---------------------------------------------------------

Row = dict


def listing(text):
    """{id: row} from `info goroutines` output (id "?" rows are listed under
    keys "?0", "?1"...).  A row: mark, id, status, reason, thread, frame,
    function, file, line (the frame split when it is "FUNCTION FILE:LINE")."""
    rows = {}
    header = None
    bad = 0
    for line in text.splitlines():
        if line.startswith("  Id ") and "Wait reason" in line:
            header = [line.index(h) for h in ("Id", "Status", "Wait reason", "Thread", "Frame")]
            continue
        if header is None or not line or line.startswith("["):
            if line.startswith("["):
                header = None
            continue
        cols = [line[header[i]:header[i + 1]].strip() for i in range(4)] + \
            [line[header[4]:].strip()]
        row = Row(mark=line[0], id=cols[0], status=cols[1], reason=cols[2], thread=cols[3],
                  frame=cols[4], function=None, file=None, line=0)
        m = re.match(r"^(\S+) (/\S*):(\d+)(?:  \[.*\])?$", cols[4])
        if m:
            row.update(function=m.group(1), file=m.group(2), line=int(m.group(3)))
        key = cols[0]
        if key == "?":
            key = f"?{bad}"
            bad += 1
        rows[key] = row
    return rows


BT_LINE = re.compile(r"^#(\d+)\s+(?:0x([0-9a-f]+) in )?(\S+) \((.*)\)"
                     r"(?: at (\S+?)(?::(\d+))?)?(?: from (\S+))?\s*$")


def backtrace(text, pcs=False):
    """[(level, function, file, line)] of the backtrace lines in text (file
    None for a frame without a line: gdb names the library then); with pcs,
    each with the frame's pc at the end (None when gdb does not print it)."""
    out = []
    for line in text.splitlines():
        m = BT_LINE.match(line)
        if m:
            ln = int(m.group(6) or 0)
            f = (int(m.group(1)), m.group(3), m.group(5) if ln else None, ln)
            out.append(f + (int(m.group(2), 16) if m.group(2) else None,) if pcs else f)
    return out


def per_goroutine(text):
    """{id: text} of `goroutine all CMD` output, split at its headers."""
    out = {}
    cur = None
    for line in text.splitlines():
        m = re.match(r"^Goroutine (\d+|\?) \[(.*)\]:", line)
        if m:
            cur = m.group(1)
            out[cur] = ""
            continue
        if cur is not None:
            out[cur] += line + "\n"
    return out


def gdb_threads(text):
    """{gdb thread number: LWP} from `info threads`."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^[* ]\s*(\d+)\s+Thread 0x[0-9a-f]+ \(LWP (\d+)\)", line) or \
            re.match(r"^[* ]\s*(\d+)\s+LWP (\d+)", line)
        if m:
            out[int(m.group(1))] = int(m.group(2))
    return out


# Run in a goroutine (`goroutine all source FILE`): each of its frames with
# gdb's frame type, so that a comparison can tell gdb's tail-call frames
# (built from DW_TAG_call_site, which goinspect does not read) apart.
FRAME_TYPES_PY = """
import gdb
_names = {getattr(gdb, n): n for n in dir(gdb) if n.endswith("_FRAME")}
_f = gdb.selected_frame()
while _f is not None:
    print("FRAMETYPE %d %s" % (_f.level(), _names.get(_f.type(), "?")))
    _f = _f.older()
"""


def frame_types_script(tmp_path):
    path = os.path.join(str(tmp_path), "frame_types.py")
    with open(path, "w") as f:
        f.write(FRAME_TYPES_PY)
    return path


def tail_call_levels(text):
    """The levels of gdb's tail-call frames in FRAME_TYPES_PY output."""
    return {int(m.group(1)) for m in re.finditer(r"^FRAMETYPE (\d+) TAILCALL_FRAME$", text,
                                                  re.M)}


def frames_of(g):
    """goinspect's frames of a goroutine object: [(function, file, line)],
    or ("pc", PC) for a frame without a line (a library without debug info,
    whose functions have aliases that gdb and goinspect may choose apart:
    write and __write)."""
    return [(f["function"] or "??", norm(f["file"]), f["line"]) if f["file"] else
            ("pc", f["pc"]) for f in g.get("frames", [])]


def norm(path):
    return os.path.normpath(path) if path else None


def gdb_frames(bt, skip=()):
    """frames_of's form of backtrace(..., pcs=True) frames, but the levels in skip."""
    return [(fn, norm(file), line) if file else ("pc", pc)
            for lvl, fn, file, line, pc in bt if lvl not in skip]


# ---- agreement with goinspect ------------------------------------------------

def agreement_commands(tmp_path):
    return ["info threads", "info goroutines", "goroutine all bt", "echo <types>\\n",
            f"goroutine all source {frame_types_script(tmp_path)}"]


def agreement_parts(out):
    """(rows, backtraces, threads, frame types) from agreement_commands' output."""
    listed, _, types = out.partition("<types>\n")
    return listing(listed), per_goroutine(listed), gdb_threads(listed), per_goroutine(types)


def user_key(frame):
    """goinspect's user frame as `info goroutines` shows it."""
    if frame is None or not frame["file"]:
        return None
    return (frame["function"], norm(frame["file"]), frame["line"])


def check_agreement(rows, bts, doc, threads=None, types=None, ids=None):
    """gdb's listing and backtraces say what goinspect's JSON says: the same
    goroutines, statuses, wait reasons, user frames, and every frame of
    every stack (but gdb's tail-call frames, listed in types, the
    FRAME_TYPES_PY output of each goroutine); a goroutine on a thread is on
    the same thread.  With ids, the details only of those goroutines (the
    others may have moved since doc was taken)."""
    gs = {str(g["id"]): g for g in doc["goroutines"]}
    assert sorted(rows, key=int) == sorted(gs, key=int)
    for gid, g in gs.items():
        if ids is not None and int(gid) not in ids:
            continue
        row = rows[gid]
        assert (row["status"], row["reason"]) == (g["status"], g["wait_reason"]), (row, g)
        want = user_key(g["user"])
        if want is not None:
            assert (row["function"], norm(row["file"]), row["line"]) == want, (row, g["user"])
        on_thread = g["thread"] is not None
        assert (row["mark"] == "*") == on_thread, (row, g)
        if on_thread and threads is not None:
            assert threads[int(row["thread"])] == g["thread"], (row, g)
        tails = tail_call_levels(types[gid]) if types else set()
        assert gdb_frames(backtrace(bts[gid], pcs=True), tails) == frames_of(g), \
            (gid, bts[gid], g["frames"])
