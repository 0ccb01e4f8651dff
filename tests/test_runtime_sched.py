"""The scheduler: GOMAXPROCS, goroutine ids, 100,000 parked goroutines,
LockOSThread, system-call hand-off, thread names, schedtrace, and an idle
program's CPU use.  Programs: tests/programs/rt_sched.c, rt_park.c,
rt_lockos.c, rt_syscall.c, rt_states.c."""
import os
import re
import subprocess
import time

import pytest

from conftest import TIMEOUT
from rtlib import (MATRIX, PROCS, COMPILERS, cpu_seconds, facts, ints, run_rt, start_rt,
                   thread_names)

M_NAME = re.compile(r"^gort-m(\d+)$")


@pytest.mark.parametrize("compiler,procs", MATRIX)
def test_maxprocs_from_environment_and_at_run_time(program, compiler, procs):
    f = facts(run_rt(program, "rt_sched.c", "info", compiler, procs).stdout)
    assert f["maxprocs"].split()[0] == str(procs)
    # gort_maxprocs(3) returns the old value and takes effect: three
    # goroutines that never yield all run at once
    assert f["setprocs"] == f"prev {procs} now 3 rendezvous 3"
    assert f["restored"] == f"{procs} from 3"


@pytest.mark.parametrize("compiler", COMPILERS)
def test_maxprocs_defaults_to_the_cpus_available(program, compiler):
    exe = program("rt_sched.c", compiler)
    env = {k: v for k, v in os.environ.items() if k != "GORT_MAXPROCS"}

    def info(*prefix):
        r = subprocess.run([*prefix, exe, "info"], env=env, capture_output=True, text=True,
                           timeout=TIMEOUT)
        assert r.returncode == 0, r.stderr
        return facts(r.stdout)["maxprocs"]
    n = len(os.sched_getaffinity(0))
    assert info() == f"{n} cpus {n}"
    # confined to one CPU, the default is 1
    assert info("taskset", "-c", "0") == "1 cpus 1"


@pytest.mark.parametrize("compiler,procs", MATRIX)
def test_goroutine_ids_and_counts(program, compiler, procs):
    f = facts(run_rt(program, "rt_sched.c", "info", compiler, procs).stdout)
    assert f["g1"] == "1 numgoroutine 1"
    spawned, self_ids = ints(f["spawned"]), ints(f["self"])
    # gort_go returns the id the goroutine itself sees; ids are unique
    assert len(set(spawned)) == 20 and sorted(spawned) == sorted(self_ids)
    assert 1 not in spawned
    assert f["blocked"] == "numgoroutine 21"
    assert f["exited"] == "numgoroutine 1"


@pytest.mark.parametrize("compiler", COMPILERS)
def test_gort_main_returns_fns_value(program, compiler):
    run_rt(program, "rt_sched.c", "exit7", compiler, expect_rc=7)


@pytest.mark.parametrize("mode", ["send", "close"])
@pytest.mark.parametrize("compiler,procs", MATRIX)
def test_100k_goroutines_parked_on_one_channel_then_released(program, compiler, procs, mode):
    f = facts(run_rt(program, "rt_park.c", mode, compiler, procs, timeout=60).stdout)
    n = 100000
    assert f["parked"] == f"{n} numgoroutine {n + 1}"
    if mode == "send":
        assert f["released"] == f"sum {n * (n + 1) // 2} closed 0"
    else:
        assert f["released"] == f"sum 0 closed {n}"
    assert f["after"] == "numgoroutine 1"


@pytest.mark.parametrize("compiler,procs", MATRIX)
def test_lock_os_thread_pins_the_goroutine(program, compiler, procs):
    f = facts(run_rt(program, "rt_lockos.c", "pin", compiler, procs).stdout)
    pid = int(f["pid"])
    for who in ("locked", "main"):        # a goroutine of its own, then goroutine 1
        t = int(f[f"{who}_tid"])
        assert ints(f[f"{who}_seen"]) == [t], f"{who}: ran on several threads"
        assert M_NAME.match(f[f"{who}_comm"]), f[f"{who}_comm"]
        assert t != pid
        # no other goroutine ran on the thread while it was locked
        assert t not in ints(f[f"{who}_others"])


@pytest.mark.parametrize("mode", ["handoff", "many"])
@pytest.mark.parametrize("compiler,procs", MATRIX)
def test_blocked_syscall_does_not_stop_other_goroutines(program, compiler, procs, mode):
    r = run_rt(program, "rt_syscall.c", mode, compiler, procs, timeout=30)
    f = facts(r.stdout)
    n = 1 if mode == "handoff" else 4
    assert f["readers"] == f"{n} blocked"
    ticks = [line for line in r.stdout.splitlines() if line.startswith("tick ")]
    assert ticks == [f"tick {k} returned 0" for k in range(1, 6)]
    assert f["pingpong"] == "1000 returned 0"
    assert f["done"] == f"returned {n} got " + " ".join("abcd"[:n])


@pytest.mark.parametrize("compiler,procs", MATRIX)
def test_goroutines_run_on_named_threads(program, targets, compiler, procs):
    exe = program("rt_sched.c", compiler)
    proc, out = start_rt(targets, exe, "threads", procs)
    f = facts(out)
    names = thread_names(proc.pid)
    ran_on = ints(f["ran_on"])
    # GOMAXPROCS goroutines ran at once, on as many threads, all gort-mN
    assert len(set(ran_on)) == procs
    for t in ran_on + [int(f["g1_tid"])]:
        assert M_NAME.match(names.get(t, "")), (t, names)
    # the main thread keeps the program's name; a sysmon thread exists
    assert names[proc.pid] == os.path.basename(exe)[:15]
    assert proc.pid not in ran_on
    assert "gort-sysmon" in names.values(), names
    ids = sorted(int(M_NAME.match(n).group(1)) for n in names.values() if M_NAME.match(n))
    assert len(ids) == len(set(ids)) and ids[0] == 0, names


@pytest.mark.parametrize("compiler,procs", MATRIX)
def test_schedtrace(program, compiler, procs):
    r = run_rt(program, "rt_sched.c", "nap", compiler, procs,
               env={"GORT_DEBUG": "schedtrace=50"})
    assert "done" in r.stdout
    pat = re.compile(r"^SCHED (\d+)ms: gomaxprocs=(\d+) idleprocs=(\d+) threads=(\d+) "
                     r"spinningthreads=(\d+) idlethreads=(\d+) runqueue=(\d+) \[([\d ]*)\]$")
    lines = [line for line in r.stderr.splitlines() if line.startswith("SCHED")]
    assert len(lines) >= 3, r.stderr
    last_ms = -1
    for line in lines:
        m = pat.match(line)
        assert m, line
        ms, gomaxprocs, idle = int(m.group(1)), int(m.group(2)), int(m.group(3))
        assert gomaxprocs == procs and 0 <= idle <= procs
        assert len(m.group(8).split()) == procs, line
        assert ms > last_ms
        last_ms = ms
    # without GORT_DEBUG, nothing of the kind
    r = run_rt(program, "rt_sched.c", "nap", compiler, procs)
    assert "SCHED" not in r.stderr


@pytest.mark.parametrize("procs", PROCS)
@pytest.mark.parametrize("compiler", COMPILERS)
def test_idle_program_uses_no_cpu(program, targets, compiler, procs):
    exe = program("rt_states.c", compiler)
    proc, _ = start_rt(targets, exe, "idle", procs)
    time.sleep(0.3)
    c0, t0 = cpu_seconds(proc.pid), time.monotonic()
    time.sleep(2.0)
    c1, t1 = cpu_seconds(proc.pid), time.monotonic()
    share = (c1 - c0) / (t1 - t0)
    assert share < 0.03, f"idle program used {share:.1%} of a CPU"
    assert proc.poll() is None
