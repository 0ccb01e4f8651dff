"""goinspect attach PID threads, and goroutines unwound from a thread's
registers (running, or in a system call): checked against /proc and against
gdb's own backtraces of the same threads."""
import re

import pytest

from attachlib import (attach, attach_json, attach_json_quiet, comm, debug_info_for,
                       gdb_backtraces, same_function, start)


def test_threads_match_proc(targets, program):
    t = start(targets, program, "insp_park.c", "park")
    doc, tids = attach_json_quiet(t.pid, "threads")
    threads = {th["tid"]: th for th in doc["threads"]}
    assert sorted(threads) == tids
    ms = set()
    for tid, th in threads.items():
        assert th["name"] == comm(t.pid, tid)
        assert th["state"] in ("S", "R", "D"), th
        assert th["pc"] and th["frame"]["function"], th
        m = re.fullmatch(r"gort-m(\d+)", th["name"])
        assert (th["m"] == int(m.group(1))) if m else th["m"] is None, th
        if m:
            ms.add(th["m"])
    assert ms, "no M found"
    sc = t.one("syscall_waiter")
    assert threads[sc.tid]["goroutine"] == sc.id
    main = threads[t.pid]
    assert main["m"] is None and main["goroutine"] is None
    r = attach(t.pid, "threads")
    assert r.returncode == 0
    assert len([l for l in r.stdout.splitlines()[1:] if l.strip()]) == len(threads)
    t.assert_progress()


def frames_of(doc, gid):
    (g,) = [g for g in doc["goroutines"] if g["id"] == gid]
    return g


# without the system's debug files (--debug-file-directory '' and gdb's
# debug-file-directory elsewhere, as on a machine without libc6-dbg), and
# with them where the system has libc's
DEBUG_INFO = ["none", "system"]


@pytest.mark.parametrize("debug", DEBUG_INFO)
def test_running_and_syscall_goroutines_match_gdb(targets, program, debug):
    t = start(targets, program, "insp_park.c", "running", env={"GORT_MAXPROCS": "2"})
    debug = debug_info_for(debug, t.pid)
    spin, sc = t.one("spinner"), t.one("syscall_waiter")
    doc = attach_json(t.pid, "goroutines", "-t", pre=debug.goinspect)
    t.assert_progress()
    bts = gdb_backtraces(t.pid, debug)
    t.assert_progress()

    g = frames_of(doc, spin.id)
    assert g["status"] == "running" and g["thread"] == spin.tid
    assert g["current"]["function"] == "spin" and g["user"]["function"] == "spin"
    assert g["frames"][0]["exact"], "a running goroutine's pc is its thread's, not a return"
    ours = [f["function"] for f in g["frames"]]
    assert ours == bts[spin.tid], (ours, bts[spin.tid])

    g = frames_of(doc, sc.id)
    assert g["status"] == "syscall" and g["thread"] == sc.tid
    ours = [f["function"] for f in g["frames"]]
    gdbs = bts[sc.tid]
    assert len(ours) == len(gdbs) and all(map(same_function, ours, gdbs)), (ours, gdbs)
    assert g["user"]["function"] == "syscall_waiter"
    # the system call itself is in libc: named from libc's own symbols
    assert "libc" in g["frames"][0]["module"]


@pytest.mark.parametrize("debug", DEBUG_INFO)
def test_thread_stacks_match_gdb(targets, program, debug):
    t = start(targets, program, "insp_park.c", "park")
    debug = debug_info_for(debug, t.pid)
    # goinspect and gdb look at different moments: a thread that woke up in
    # between (the timer thread fires the ticker's sleeps) is compared again
    # on the next try; each thread must match gdb frame for frame at least once
    pending, unnamed = None, set()
    for _ in range(6):
        doc = attach_json(t.pid, "threads", "-t", pre=debug.goinspect)
        bts = gdb_backtraces(t.pid, debug)
        if pending is None:
            # a thread running a goroutine unwinds on its goroutine's stack
            # (compared with gdb above)
            pending = {th["tid"] for th in doc["threads"] if th["goroutine"] is None}
        for th in doc["threads"]:
            ours = [f["function"] or "??" for f in th["frames"]]      # gdb: "?? ()"
            gdbs = bts.get(th["tid"], [])
            if len(ours) == len(gdbs) and all(map(same_function, ours, gdbs)):
                pending.discard(th["tid"])
                unnamed |= {(f["module"], f["offset"]) for f in th["frames"] if not f["function"]}
        if not pending:
            break
    assert not pending, f"threads whose stacks never matched gdb's: {pending}"
    if debug.name == "none":
        # a thread's outermost frames lie in libc's static functions
        # (start_thread, clone3), which no dynamic symbol names
        assert any("/libc.so" in m for m, _ in unnamed), "no libc frame went unnamed"
    t.assert_progress()
