"""Helpers shared by the runtime tests (tests/test_runtime_*.py, test_descriptor.py).

The target programs are tests/programs/rt_*.c.  Each takes a mode as argv[1]
and prints its own truth on stdout, one fact a line: "KEY rest...", with
"k=v" words inside the rest, and "G ..." lines describing goroutines
(tests/programs/rt_waiters.h).
"""
import os
import re
import shlex
import subprocess
import time

import pytest

from conftest import LiveLines, run

COMPILERS = ("gcc", "clang")
# GOMAXPROCS 1, 2, and more than this 2-CPU machine has.
PROCS = (1, 2, 5)
# Every semantics test runs under each (compiler, GOMAXPROCS).
MATRIX = [pytest.param(c, p, id=f"{c}-procs{p}") for c in COMPILERS for p in PROCS]

MS = 1_000_000  # nanoseconds


def rt_env(procs, env=None):
    e = {} if procs is None else {"GORT_MAXPROCS": str(procs)}
    e.update(env or {})
    return e


def run_rt(program, src, mode, compiler="gcc", procs=None, env=None, timeout=30,
           expect_rc=0, **kw):
    """Build tests/programs/SRC, run it with MODE under GORT_MAXPROCS=PROCS and
    return the CompletedProcess; checks the exit status unless expect_rc is None."""
    exe = program(src, compiler)
    what = f"{os.path.basename(exe)} {mode} (GORT_MAXPROCS={procs})"
    try:
        r = run([exe, mode], env=rt_env(procs, env), timeout=timeout, **kw)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else e.stdout
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else e.stderr
        raise AssertionError(f"{what} still running after {timeout} s (hung)\n"
                             f"stdout so far:\n{out}\nstderr so far:\n{err}") from None
    if expect_rc is not None:
        assert r.returncode == expect_rc, (
            f"{what} exited {r.returncode}, expected {expect_rc}\n"
            f"stdout:\n{r.stdout[-4000:]}\nstderr:\n{r.stderr[-4000:]}")
    assert "FAIL" not in r.stdout, f"{what} reported a failure:\n{r.stdout[-4000:]}"
    return r


def facts(stdout):
    """{KEY: rest} for each "KEY rest" line (the last line with a key wins)."""
    out = {}
    for line in stdout.splitlines():
        key, _, rest = line.partition(" ")
        out[key] = rest
    return out


def all_facts(stdout, key):
    """The rest of every line starting with KEY, in order."""
    return [line.partition(" ")[2] for line in stdout.splitlines()
            if line.partition(" ")[0] == key]


def words(rest):
    """{k: v} for the k=v words of a line, plus "_" for the words without '='."""
    out = {"_": []}
    for w in shlex.split(rest):
        k, eq, v = w.partition("=")
        if eq:
            out[k] = v
        else:
            out["_"].append(w)
    return out


def ints(rest):
    return [int(x) for x in rest.split()]


def goroutines(stdout):
    """The "G ID k=v ..." lines as {id: {k: v}} (see rt_waiters.h)."""
    gs = {}
    for rest in all_facts(stdout, "G"):
        w = words(rest)
        gid = int(w["_"][0])
        w["id"] = gid
        for k in ("parent", "self", "tid", "locked"):
            w[k] = int(w[k])
        w["local"] = int(w["local"], 16)
        gs[gid] = w
    return gs


def header_state(g):
    """What a dump header shows for goroutine truth g, as Go prints it: the
    wait reason when waiting, else the status; then ", locked to thread" for
    a goroutine wired to its thread."""
    state = g["reason"] if g["status"] == "waiting" else g["status"]
    return state + (", locked to thread" if g["locked"] else "")


# ---- live targets ---------------------------------------------------------

def start_rt(targets, exe, mode, procs=None, env=None, ready="READY", **kw):
    """Start EXE MODE as a target and read its stdout up to the READY line;
    returns (proc, stdout text so far)."""
    proc = targets.start([exe, mode], env=rt_env(procs, env), **kw)
    lines = LiveLines(proc)
    lines.until(lambda line: line == ready)
    out = lines.text()
    assert "FAIL" not in out, out
    return proc, out


# ---- /proc ------------------------------------------------------------------

def cpu_seconds(pid):
    """utime + stime of process PID from /proc/PID/stat, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_names(pid):
    """{tid: comm} for every thread of process PID."""
    names = {}
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/comm") as f:
                names[int(t)] = f.read().rstrip("\n")
        except FileNotFoundError:
            pass
    return names


# ---- fatal error dumps ------------------------------------------------------

HEADER = re.compile(r"^goroutine (\d+) \[([^\]]+)\]:$")
CREATED_BY = re.compile(r"^created by (\S+) in goroutine (\d+)$")


def parse_dump(stderr):
    """Split a fatal error's stderr into (first line, {goid: block}), where a
    block is {"state": text in brackets, "lines": [...], "created_by": [...]}.
    Checks the framing: message, blank line, then goroutine blocks separated
    by blank lines."""
    lines = stderr.rstrip("\n").split("\n")
    assert len(lines) >= 3, f"no dump in stderr:\n{stderr}"
    message = lines[0]
    assert lines[1] == "", f"no blank line after the message:\n{stderr}"
    blocks = {}
    cur = None
    for line in lines[2:]:
        if line == "":
            cur = None
            continue
        m = HEADER.match(line)
        if m:
            gid = int(m.group(1))
            assert gid not in blocks, f"goroutine {gid} dumped twice:\n{stderr}"
            cur = blocks[gid] = {"state": m.group(2), "lines": [], "created_by": []}
            continue
        assert cur is not None, f"line outside a goroutine block: {line!r}\n{stderr}"
        cur["lines"].append(line)
        c = CREATED_BY.match(line)
        if c:
            cur["created_by"].append((c.group(1), int(c.group(2))))
    return message, blocks


def check_dump(stderr, truth, message):
    """The dump announces MESSAGE and lists exactly the goroutines of TRUTH
    ({id: {state, creator, parent}}), each with its state and created-by line."""
    first, blocks = parse_dump(stderr)
    assert first == message, stderr
    got = {gid: b["state"] for gid, b in blocks.items()}
    want = {gid: g["state"] for gid, g in truth.items()}
    assert got == want, f"goroutine states in the dump differ:\n{stderr}"
    for gid, g in truth.items():
        cb = blocks[gid]["created_by"]
        if gid == 1:
            assert cb == [], f"goroutine 1 has a created-by line:\n{stderr}"
        else:
            assert cb == [(g["creator"], g["parent"])], (
                f"goroutine {gid}: want 'created by {g['creator']} in goroutine "
                f"{g['parent']}', got {cb}:\n{stderr}")
    return blocks
