"""goinspect attach on bad input and under faults: each case gets a clear
"goinspect: WHAT: WHY" and a non-zero exit, never a crash or a hang, and
the target always runs on afterwards.  Faults in the middle of an attach
(the target dying, goinspect being interrupted, threads appearing) are made
deterministic by running goinspect under gdb, stopped at its ptrace calls."""
import json
import re
import os
import signal
import subprocess

import pytest

from attachlib import (AS_NOBODY, attach, attach_json, comm_name, goinspect, line_id, start,
                       stat_state, tracer_of, under_gdb, world_copies)
from conftest import run, wait_until

PTRACE_GETREGS = 12
PTRACE_INTERRUPT = 0x4207


def test_pid_that_is_not_a_number():
    r = run([goinspect(), "attach", "12x"])
    assert r.returncode == 2
    assert r.stderr == "goinspect: attach: '12x' is not a process id\n"
    r = run([goinspect(), "attach"])
    assert r.returncode == 2 and r.stderr.startswith("goinspect: attach: which process?")


def test_no_such_process():
    with open("/proc/sys/kernel/pid_max") as f:
        pid = int(f.read()) + 1
    r = attach(pid)
    assert r.returncode == 1
    assert r.stderr == f"goinspect: PID {pid}: no such process\n"


def kernel_threads():
    """PIDs whose /proc/PID/stat flags have PF_KTHREAD (the kernel says so)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[6]) & 0x00200000:
                out.append(int(d))
    return out


def test_kernel_thread():
    pids = kernel_threads()
    if not pids:
        pytest.skip("no kernel thread is visible in this PID namespace")
    r = attach(pids[0], "summary")
    assert r.returncode == 1
    assert re.fullmatch(rf"goinspect: PID {pids[0]} \(.*\) is a kernel thread: it has no program "
                        r"to inspect\n", r.stderr), r.stderr


def test_process_without_libgort(targets):
    p = targets.start(["sleep", "60"])
    # /proc/PID/exe names sleep as soon as execve switches images, before
    # sleep is mapped; asleep, it is the whole program
    wait_until(lambda: os.path.exists(f"/proc/{p.pid}/exe") and
               os.readlink(f"/proc/{p.pid}/exe").endswith("sleep") and
               stat_state(p.pid) == "S", what="sleep to start")
    r = attach(p.pid)
    assert r.returncode == 1
    assert r.stderr == f"goinspect: PID {p.pid} (sleep) does not link libgort: no runtime descriptor\n"
    assert p.poll() is None and stat_state(p.pid) in ("S", "R")


def test_bad_subcommand_is_refused_before_attaching(targets, program):
    t = start(targets, program, "insp_park.c", "park")
    r = attach(t.pid, "frobnicate")
    assert r.returncode == 2 and "unknown command 'frobnicate'" in r.stderr
    r = attach(t.pid, "goroutines", "-n", "many")
    assert r.returncode == 2 and "-n: 'many' is not a count" in r.stderr
    assert tracer_of(t.pid) == 0


def test_permission_denied_names_ptrace_permissions(targets, program, tmp_path):
    if os.geteuid() != 0:
        pid, name = 1, None            # a process of another user
    else:
        t = start(targets, program, "insp_park.c", "park")
        pid, name = t.pid, comm_name(t.exe)
    # a copy of goinspect that an unprivileged user can run
    with world_copies(goinspect()) as (exe,):
        argv = [exe, "attach", str(pid)]
        if os.geteuid() == 0:
            argv = AS_NOBODY + argv
        r = run(argv)
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith(f"goinspect: PID {pid}"), r.stderr
    assert "cannot" in r.stderr and "(ptrace permissions: " in r.stderr, r.stderr
    if name:
        assert f"({name})" in r.stderr
        t.assert_progress()


def test_process_traced_by_gdb(targets, program):
    t = start(targets, program, "insp_park.c", "park")
    gdb = targets.start(["gdb", "-q", "-nx", "-batch", "-p", str(t.pid), "-ex", "shell sleep 60"],
                        stdin=subprocess.DEVNULL)
    try:
        wait_until(lambda: tracer_of(t.pid) == gdb.pid, what="gdb to attach")
        r = attach(t.pid)
        assert r.returncode == 1
        assert r.stderr.startswith(f"goinspect: PID {t.pid} ({comm_name(t.exe)}) is already traced by "
                                   f"process {gdb.pid} (gdb)"), r.stderr
        # --nonstop never traces: it still reads the goroutines
        doc = attach_json(t.pid, "goroutines", opts=("--nonstop",))
        assert doc["nonstop"] and doc["pause_ns"] == 0
        assert sorted(g["id"] for g in doc["goroutines"]) == sorted(w.id for w in t.who)
        assert tracer_of(t.pid) == gdb.pid
    finally:
        os.killpg(gdb.pid, signal.SIGKILL)
        gdb.wait(timeout=10)


def test_zombie(targets, program):
    exe = program("insp_park.c")
    p = targets.start([exe, "exit"])
    wait_until(lambda: stat_state(p.pid) == "Z", what="the program to become a zombie")
    r = attach(p.pid)
    assert r.returncode == 1
    assert r.stderr.startswith(f"goinspect: PID {p.pid} ({comm_name(exe)}) is a zombie"), r.stderr


def test_target_exits_during_the_snapshot(targets, program):
    t = start(targets, program, "insp_park.c", "park")
    out = under_gdb(PTRACE_GETREGS, ["delete", f"shell kill -9 {t.pid}", "continue"], t.pid)
    assert f"goinspect: PID {t.pid} ({comm_name(t.exe)}) exited during the snapshot" in out, out
    assert "exited with code 01" in out, out


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_signal_mid_attach_detaches(targets, program, sig):
    t = start(targets, program, "insp_park.c", "park")
    out = under_gdb(PTRACE_GETREGS, ["delete", f"signal {sig}"], t.pid)
    # every thread was stopped when the signal came
    assert f"goinspect: interrupted by {sig}: detached from PID {t.pid}, which runs on" in out, out
    assert "exited with code 01" in out, out
    assert tracer_of(t.pid) == 0
    t.assert_progress()


def test_threads_created_during_the_attach(targets, program):
    t = start(targets, program, "insp_churn.c", "run")
    # stopped before its first interrupt: the program makes new threads
    # meanwhile, which the next rounds must find and stop
    out = under_gdb(PTRACE_INTERRUPT, ["delete", "shell sleep 0.3", "continue"], t.pid,
                    "summary")
    doc = None
    for line in out.splitlines():
        if line.startswith("{"):
            doc = json.loads(line)
    assert doc is not None, out
    assert doc["stop_rounds"] >= 2, doc
    assert tracer_of(t.pid) == 0
    t.assert_progress()
    # and attaching again and again while threads come and go
    for _ in range(8):
        doc = attach_json(t.pid, "threads")
        tids = [th["tid"] for th in doc["threads"]]
        assert t.pid in tids and len(tids) == len(set(tids))
        assert all(th["pc"] for th in doc["threads"]), "a thread without registers"
    t.assert_progress()


@pytest.mark.parametrize("mode", ["badptr", "badstatus", "badstack", "badrsp", "badframe",
                                  "hugelen"])
def test_corrupt_goroutine_table(targets, program, mode):
    t = start(targets, program, "insp_corrupt.c", mode)
    victim = int(t.facts["VICTIM"])
    r = attach(t.pid, "goroutines", timeout=60)
    assert r.returncode == 0, r.stderr
    lines = [l for l in r.stdout.splitlines() if "Goroutine " in l]
    others = [w.id for w in t.who]
    for gid in others:          # every healthy goroutine is still shown
        (line,) = [l for l in lines if line_id(l) == str(gid)]
        assert " - error:" not in line, line
    errors = [l for l in lines if " - error:" in l]
    expect = {
        "badptr": "(G at 0x10000) is not in readable memory",
        "badstatus": "status 77 is not a goroutine state",
        "badstack": "are invalid",
        "badrsp": "saved stack pointer 0x20 is outside its stack",
        "badframe": "stack walk stopped",
    }
    if mode == "hugelen":
        assert not errors and str(victim) in [line_id(l) for l in lines]
        assert "claims 1099511627776 entries" in r.stderr
    else:
        assert len(errors) == 1 and expect[mode] in errors[0], errors
        if mode != "badptr":
            assert line_id(errors[0]) == str(victim)
    doc = attach_json(t.pid, "goroutines", "-t")
    assert {w.id for w in t.who} <= {g["id"] for g in doc["goroutines"]}
    t.assert_progress()


def test_unreadable_heap_root(targets, program):
    """The descriptor gives the heap's root an unmapped address: the
    commands that show the heap say it cannot be read (and why), the
    others show the rest with a warning."""
    t = start(targets, program, "insp_corrupt.c", "badmheap")
    warning = "goinspect: warning: the runtime's mheap at 0x10000 cannot be read"
    for cmd in ("heap", "spans", "memstats"):
        r = attach(t.pid, cmd)
        assert r.returncode == 1, r.stderr
        assert warning in r.stderr, r.stderr
        assert (f"goinspect: {cmd}: PID {t.pid} ({comm_name(t.exe)}): its heap cannot be read"
                in r.stderr), r.stderr
    for args in (["maps"], ["summary"], ["ptr", hex(t.one("bystander").local)]):
        r = attach(t.pid, *args)
        assert r.returncode == 0 and warning in r.stderr, r.stderr
    doc = attach_json(t.pid, "goroutines")
    assert {w.id for w in t.who} <= {g["id"] for g in doc["goroutines"]}
    t.assert_progress()
