"""Pretty printers and convenience functions of the gdb extension, against
the program's own truth (tests/programs/insp_park.c: who waits on which
channel, mutex and waitgroup) and the runtime's structures read raw
(print/r), on a live process and on a core."""
import re

import pytest

from attachlib import start
from gdblib import gcore, gdb, gdb_threads, listing, resume, stop


def values(out):
    """{n: text} of gdb's "$N = TEXT" lines."""
    return {int(m.group(1)): m.group(2) for m in re.finditer(r"^\$(\d+) = (.*)$", out, re.M)}


def expect_prints(t):
    ids = lambda kind: ", ".join(str(i) for i in sorted(t.ids(kind)))   # noqa: E731
    receivers = sorted(t.ids("recv_waiter") + t.ids("inline_waiter") + t.ids("deep_waiter"))
    return [
        ("print *recv_chan", f"chan of 8-byte elements: len 0, cap 0, open, {len(receivers)} "
                             f"receivers waiting (goroutines {', '.join(map(str, receivers))}), "
                             "no sender"),
        ("print *send_chan", "chan of 8-byte elements: len 0, cap 0, open, no receiver, "
                             f"2 senders waiting (goroutines {ids('send_waiter')})"),
        ("print held", "locked, 1 waiter"),
        ("print never_done", "counter 1, 1 waiter"),
    ]


@pytest.fixture
def park(targets, program):
    return start(targets, program, "insp_park.c", "park")


def run_prints(target, t):
    cases = expect_prints(t)
    sleeper, deep = t.one("sleeper").id, t.one("deep_waiter").id
    cmds = [c for c, _ in cases] + [
        f"print $gort_g({sleeper})", f"print $gort_g({deep})", f"print $gort_g({deep}).goid",
        f"print *$gort_g({deep}).stackspan", f"goroutine {deep} print $gort_goid()",
        "print/r held"]
    out, err = gdb(target, cmds)
    v = values(out)
    assert len(v) == len(cmds), out + err
    for k, (_cmd, want) in enumerate(cases, 1):
        assert v[k] == want, (cmds[k - 1], v[k], want)
    n = len(cases)
    assert v[n + 1] == f"goroutine {sleeper} [sleep], starts in sleeper", v[n + 1]
    assert v[n + 2] == f"goroutine {deep} [chan receive], starts in deep_waiter", v[n + 2]
    assert v[n + 3] == str(deep)
    assert re.match(rf"^span [0-9a-f]+-[0-9a-f]+ \(64K\) stack: the stack of goroutine {deep}$",
                    v[n + 4]), v[n + 4]
    assert v[n + 5] == str(deep)
    # the raw structure: locked (bit 0) with one waiter (from bit 3)
    assert v[n + 6] == "{state = 9, sema = 0}", v[n + 6]


def test_printers_and_functions_live(park):
    run_prints(["-p", str(park.pid)], park)
    park.assert_progress()


def test_printers_and_functions_on_a_core(park, tmp_path):
    stop(park)
    path = gcore(park.pid, str(tmp_path / "park.core"))
    resume(park)
    run_prints([park.exe, path], park)


def test_goid_of_a_thread(targets, program):
    """$gort_goid() on the thread running a goroutine is its id, 0 on a
    thread that runs none."""
    t = start(targets, program, "insp_park.c", "running")
    spin = t.one("spinner")
    stop(t)
    try:
        out, _ = gdb(["-p", str(t.pid)], ["info threads", "info goroutines"])
        threads = gdb_threads(out)
        (num,) = [n for n, lwp in threads.items() if lwp == spin.tid]
        main = [n for n, lwp in threads.items() if lwp == t.pid][0]
        out, err = gdb(["-p", str(t.pid)], [f"thread {num}", "print $gort_goid()",
                                            f"thread {main}", "print $gort_goid()"])
    finally:
        resume(t)
    assert list(values(out).values()) == [str(spin.id), "0"], out + err
    assert listing(gdb(["-p", str(t.pid)], ["info goroutines"])[0])[str(spin.id)]["mark"] == "*"
    t.assert_progress()
