"""The gdb extension on live processes: `info goroutines` and `goroutine ID
CMD` against the program's own truth (tests/programs/insp_park.c: ids,
where each goroutine waits, its thread) and against goinspect's JSON of the
same stopped process (SIGSTOP: nothing moves between the two), for every
goroutine and every frame."""
import os
import re

import pytest

from attachlib import marker_line, src_path, start
from conftest import BUILDS
from gdblib import (agreement_commands, agreement_parts, backtrace, check_agreement, gdb,
                    goinspect_json, listing, per_goroutine, resume, stop)

PARK = src_path("insp_park.c")

# kind -> (status, wait reason, user function, its marker)
EXPECT = {
    "recv_waiter": ("waiting", "chan receive", "recv_waiter", "WAIT:recv"),
    "send_waiter": ("waiting", "chan send", "send_waiter", "WAIT:send"),
    "select_waiter": ("waiting", "select", "select_waiter", "WAIT:select"),
    "mutex_waiter": ("waiting", "sync.Mutex.Lock", "mutex_waiter", "WAIT:mutex"),
    "wg_waiter": ("waiting", "sync.WaitGroup.Wait", "wg_waiter", "WAIT:wg"),
    "sleeper": ("waiting", "sleep", "sleeper", "WAIT:sleep"),
    "inline_waiter": ("waiting", "chan receive", "inlined_wait", "WAIT:inlined"),
    "syscall_waiter": ("syscall", "", "syscall_waiter", "WAIT:syscall"),
    "deep_waiter": ("waiting", "chan receive", "deep", "WAIT:deep"),
}


def compilers():
    out = ["gcc"]
    if os.path.exists(os.path.join(BUILDS["clang"], "bin", "gortcc")):
        out.append("clang")
    return out


@pytest.fixture(params=compilers())
def park(request, targets, program):
    return start(targets, program, "insp_park.c", "park", compiler=request.param)


def test_info_goroutines_is_the_programs_truth(park):
    out, err = gdb(["-p", str(park.pid)], ["info goroutines"])
    rows = listing(out)
    assert sorted(rows, key=int) == sorted((str(w.id) for w in park.who), key=int), out
    for w in park.who:
        if w.kind not in EXPECT:
            continue
        status, reason, fn, marker = EXPECT[w.kind]
        row = rows[str(w.id)]
        assert (row["status"], row["reason"], row["function"]) == (status, reason, fn), row
        assert row["file"] == PARK and row["line"] == marker_line(PARK, marker), row
    assert f"[{len(park.who)} goroutines]" in out
    park.assert_progress()


def test_live_process_agrees_with_goinspect(park, tmp_path):
    stop(park)
    try:
        doc = goinspect_json("attach", str(park.pid), "goroutines", "-t")
        out, err = gdb(["-p", str(park.pid)], agreement_commands(tmp_path))
    finally:
        resume(park)
    rows, bts, threads, types = agreement_parts(out)
    check_agreement(rows, bts, doc, threads, types)
    park.assert_progress()


def test_running_goroutine_is_shown_on_its_thread(targets, program, tmp_path):
    t = start(targets, program, "insp_park.c", "running")
    stop(t)
    try:
        doc = goinspect_json("attach", str(t.pid), "goroutines", "-t")
        out, err = gdb(["-p", str(t.pid)], agreement_commands(tmp_path))
    finally:
        resume(t)
    rows, bts, threads, types = agreement_parts(out)
    spin = t.one("spinner")
    row = rows[str(spin.id)]
    assert (row["mark"], row["status"], row["function"]) == ("*", "running", "spin"), row
    assert threads[int(row["thread"])] == spin.tid, (row, threads)
    # the loop's two lines: its test and its body
    assert row["line"] in (marker_line(PARK, "RUN:spin"), marker_line(PARK, "RUN:spin") + 1), row
    bt = backtrace(bts[str(spin.id)])
    assert bt[0][0] == 0 and bt[0][1] == "spin", bt    # the thread's own frame 0
    check_agreement(rows, bts, doc, threads, types)
    t.assert_progress()


def test_goroutine_commands_in_a_parked_goroutines_frames(park):
    """frame, frame apply, info locals and print in a parked goroutine's
    frames: the deep recursion's local v is the depth (insp_park.c), 0 in
    the innermost deep(), one more in each frame out."""
    deep = park.one("deep_waiter")
    out, _ = gdb(["-p", str(park.pid)], [f"goroutine {deep.id} bt"])
    levels = [lvl for lvl, fn, _f, _l in backtrace(out) if fn == "deep"]
    assert len(levels) == 21, out
    cmds = [f"goroutine {deep.id} frame {levels[3]}"]
    for k in (0, 5, 20):
        cmds += [f"echo <locals {k}>\\n",
                 f"goroutine {deep.id} frame apply level {levels[k]} -q info locals",
                 f"echo <print {k}>\\n",
                 f"goroutine {deep.id} frame apply level {levels[k]} -q print v"]
    out, _ = gdb(["-p", str(park.pid)], cmds)
    (frame,) = backtrace(out)
    assert frame[:2] == (levels[3], "deep") and frame[3] == marker_line(PARK, "CALL:deep"), out
    for k in (0, 5, 20):
        locals_ = out.split(f"<locals {k}>\n")[1].split("<print")[0]
        assert f"v = {k}" in locals_, out
        printed = out.split(f"<print {k}>\n")[1].splitlines()[0]
        assert printed.endswith(f" = {k}"), out
    # and the selected thread and frame are as they were
    out, _ = gdb(["-p", str(park.pid)], ["frame", f"goroutine {deep.id} frame 3", "frame"])
    first, _, last = out.partition(f"#{3}")
    assert backtrace(first)[-1][0] == 0 and backtrace(last)[-1][0] == 0, out
    park.assert_progress()


def test_started_under_gdb_at_a_breakpoint(program):
    """insp_park run by gdb and stopped in its worker goroutine's
    sum_squares at the tenth tick (after READY): the worker is running on
    the thread that hit the breakpoint, every other goroutine waits where
    the program says it does."""
    exe = program("insp_park.c")
    out, err = gdb(["--args", exe, "park"],
                   ["break sum_squares if n == 10", "run", "info threads", "info goroutines",
                    "goroutine all bt", "kill"])
    ready = out.index("\nREADY\n")
    truth = {}
    for m in re.finditer(r"^G (\d+) (\S+) ", out[:ready], re.M):
        truth[m.group(1)] = m.group(2)
    rows = listing(out[ready:])
    assert sorted(rows, key=int) == sorted(truth, key=int), out
    (worker,) = [i for i, k in truth.items() if k == "worker"]
    row = rows[worker]
    assert (row["mark"], row["status"], row["function"]) == ("*", "running", "sum_squares"), row
    hit = re.search(r'^Thread (\d+) "[^"]*" hit Breakpoint 1', out, re.M)
    assert hit and row["thread"] == hit.group(1), (row, out)
    for gid, kind in truth.items():
        if kind in EXPECT:
            status, reason, fn, marker = EXPECT[kind]
            assert (rows[gid]["status"], rows[gid]["reason"], rows[gid]["function"]) == \
                (status, reason, fn), rows[gid]
            assert rows[gid]["line"] == marker_line(PARK, marker), rows[gid]
    bts = per_goroutine(out)
    assert backtrace(bts[worker])[0][:2] == (0, "sum_squares"), bts[worker]
    assert [f[1] for f in backtrace(bts[worker])][-2:] == ["goroutine_main", "gort_gostart"]


def test_goroutine_inside_a_shared_object(targets, program, tmp_path_factory, tmp_path):
    """A goroutine parked in a shared object of the program's own
    (insp_lib_wait.c as a .so): its user frame there, and its whole stack
    through the library and back into the program, as goinspect has them."""
    from conftest import ROOT, run
    d = str(tmp_path_factory.mktemp("lib"))
    so = os.path.join(d, "libinsp_lib_wait.so")
    r = run(["gcc", "-shared", "-fPIC", "-O2", "-g", "-Wall", "-Werror",
             "-I", os.path.join(ROOT, "runtime", "include"), "-o", so,
             src_path("insp_lib_wait.c")])
    assert r.returncode == 0, r.stderr
    t = start(targets, program, "insp_lib_main.c", "run", extra=(so, f"-Wl,-rpath,{d}"))
    w = t.one("lib_waiter")
    stop(t)
    try:
        doc = goinspect_json("attach", str(t.pid), "goroutines", "-t")
        out, err = gdb(["-p", str(t.pid)], agreement_commands(tmp_path) +
                       ["info goroutines --with lib_outer", "info goroutines -g"])
    finally:
        resume(t)
    rows, bts, threads, types = agreement_parts(out)
    row = rows[str(w.id)]
    lib = src_path("insp_lib_wait.c")
    assert (row["function"], row["file"], row["line"]) == \
        ("lib_wait", lib, marker_line(lib, "WAIT:lib")), row
    check_agreement(rows, bts, doc, threads, types)
    matched = listing(out.split("<types>")[1].split("goroutines matched")[0])
    assert list(matched) == [str(w.id)], out
    t.assert_progress()
