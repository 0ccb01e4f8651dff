"""Helpers of the core file tests (tests/test_core*.py): targets that may
dump core (RLIMIT_CORE unlimited, a working directory of their own), cores
from the kernel and from gdb's gcore, `goinspect core`, and the parts of
goinspect's JSON that must be the same from a live process and its core."""
import glob
import json
import os
import resource
import signal

import pytest

from attachlib import Target, goinspect, task_states
from conftest import PROGRAMS, run, wait_until


def unlimited_core():
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def start_dumpable(targets, program, src, *args, cwd, env=None, compiler="gcc", extra=(),
                   exe=None):
    """An insp_* target (exe: a copy of its build) that writes a core into
    cwd when a signal kills it."""
    exe = exe or program(src, compiler, extra)
    proc = targets.start([exe, *args], env=env, cwd=cwd, preexec_fn=unlimited_core)
    return Target(proc, exe, os.path.join(PROGRAMS, src)).wait_ready()


def kernel_cores_here():
    """Whether the kernel writes a core as a file in the dumping process's
    working directory (core_pattern names a file, not a pipe)."""
    with open("/proc/sys/kernel/core_pattern") as f:
        pattern = f.read().strip()
    return not pattern.startswith("|") and "/" not in pattern


def kernel_core(t, sig, cwd):
    """Kills target t with sig (continuing it if it was stopped) and returns
    the core the kernel wrote in cwd."""
    if not kernel_cores_here():
        pytest.skip("the kernel's core_pattern does not write a file in the working directory")
    os.kill(t.pid, sig)
    os.kill(t.pid, signal.SIGCONT)
    t.proc.wait(timeout=30)
    assert t.proc.returncode == -sig, f"target ended with {t.proc.returncode}, not by {sig}"
    cores = []
    wait_until(lambda: cores.extend(glob.glob(os.path.join(cwd, "core*"))) or cores, timeout=20,
               what="the kernel's core file")
    (path,) = cores
    # the kernel writes it before the exit status is reported; wait until it
    # is complete all the same (a core_pattern helper could still be busy)
    wait_until(lambda: os.path.getsize(path) > 0, timeout=20, what="a non-empty core")
    return path


def gdb_core(pid, path):
    """gdb's gcore of process pid (which stays as it was: gdb detaches)."""
    r = run(["gdb", "-q", "-nx", "-batch", "-p", str(pid), "-ex", f"gcore {path}"], timeout=120)
    assert os.path.exists(path), r.stdout + r.stderr
    return path


def core(path, *args, opts=(), pre=(), timeout=60, **kw):
    """goinspect [PRE] core PATH [OPTS] ARGS."""
    return run([goinspect(), *pre, "core", path, *opts, *args], timeout=timeout, **kw)


def core_json(path, *args, opts=(), timeout=60):
    r = core(path, *args, opts=opts, pre=("--json",), timeout=timeout)
    assert r.returncode == 0, f"goinspect core failed ({r.returncode}):\n{r.stderr}"
    return json.loads(r.stdout)


def frames_key(frames):
    return [(f["function"], f["file"], f["line"], f["inlined"]) for f in frames]


def goroutine_facts(doc, ids=None):
    """What must not differ between a stopped process and its core: per
    goroutine, its status, wait reason, creator and every frame (the wait
    durations do: they are measured to the moment of reading)."""
    out = {}
    for g in doc["goroutines"]:
        if ids is not None and g["id"] not in ids:
            continue
        cr = g["created_by"]
        out[g["id"]] = (g["status"], g["wait_reason"], g["error"], g["stack_error"],
                        (cr["function"], cr["line"], cr["goroutine"]) if cr else None,
                        frames_key(g.get("frames", [])))
    return out


def stopped(t):
    """Stops target t (SIGSTOP) and waits until every thread is (the group
    stop reaches the threads one by one)."""
    os.kill(t.pid, signal.SIGSTOP)
    wait_until(lambda: all(s == "T" for s in task_states(t.pid)), timeout=10,
               what="every thread of the target to stop")

