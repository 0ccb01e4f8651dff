"""The gdb extension on core files, where Go's runtime-gdb.py cannot switch
goroutines (it writes $pc and $sp): cores of tests/programs/insp_park.c
written by gdb's gcore and by the kernel (SIGABRT), against goinspect's JSON
of the same stopped process taken just before the core, and against
`goinspect core` on the same core once goinspect has it."""
import signal

import pytest

from attachlib import marker_line, src_path
from conftest import run
from gdblib import (agreement_commands, agreement_parts, backtrace, check_agreement, gcore, gdb,
                    goinspect, goinspect_json,
                    kernel_core, start_dumpable, stop)

PARK = src_path("insp_park.c")


@pytest.fixture
def park(targets, program, tmp_path):
    """insp_park in park mode, able to dump core, stopped: nothing moves."""
    t = start_dumpable(targets, program, "insp_park.c", "park", cwd=str(tmp_path))
    stop(t)
    return t


def on_core(t, path, tmp_path, extra=()):
    out, err = gdb([t.exe, path], [*agreement_commands(tmp_path), *extra])
    return out, err


def test_gcore_agrees_with_the_live_process(park, tmp_path):
    doc = goinspect_json("attach", str(park.pid), "goroutines", "-t")
    path = gcore(park.pid, str(tmp_path / "gdb.core"))
    out, err = on_core(park, path, tmp_path)
    rows, bts, threads, types = agreement_parts(out)
    check_agreement(rows, bts, doc, threads, types)
    check_agreement(rows, bts, goinspect_json("core", path, "goroutines", "-t"), threads, types)


def test_kernel_core_agrees_with_the_live_process(park, tmp_path):
    doc = goinspect_json("attach", str(park.pid), "goroutines", "-t")
    path = kernel_core(park, str(tmp_path), signal.SIGABRT)
    out, err = on_core(park, path, tmp_path)
    rows, bts, threads, types = agreement_parts(out)
    # the kernel writes the core after SIGCONT let the process run a moment:
    # the ticker, its worker and goroutine 1 may have moved; the others wait
    # for good
    moving = {w.id for w in park.who if w.kind in ("ticker", "worker", "main")}
    check_agreement(rows, bts, doc, threads, types,
                    ids={w.id for w in park.who} - moving)
    check_agreement(rows, bts, goinspect_json("core", path, "goroutines", "-t"), threads, types)


def test_goinspect_gcore_agrees_with_the_live_process(park, tmp_path):
    doc = goinspect_json("attach", str(park.pid), "goroutines", "-t")
    path = str(tmp_path / "goinspect.core")
    r = run([goinspect(), "gcore", "-o", path, str(park.pid)], timeout=120)
    assert r.returncode == 0, r.stderr
    out, err = on_core(park, path, tmp_path)
    rows, bts, threads, types = agreement_parts(out)
    check_agreement(rows, bts, doc, threads, types)


def test_goroutine_frames_on_a_core(park, tmp_path):
    """frame, frame apply and print in a parked goroutine's frames, which
    need registers gdb cannot write on a core."""
    path = gcore(park.pid, str(tmp_path / "gdb.core"))
    deep = park.one("deep_waiter")
    out, _ = gdb([park.exe, path], [f"goroutine {deep.id} bt"])
    levels = [lvl for lvl, fn, _f, _l in backtrace(out) if fn == "deep"]
    assert len(levels) == 21, out
    out, _ = gdb([park.exe, path],
                 [f"goroutine {deep.id} frame {levels[0]}",
                  f"goroutine {deep.id} frame apply level {levels[7]} -q print v"])
    (frame,) = [f for f in backtrace(out) if f[0] == levels[0]]
    assert frame[1] == "deep" and frame[3] == marker_line(PARK, "WAIT:deep"), out
    assert " = 7\n" in out, out
    assert "Cannot access memory" not in out and "not available" not in out, out
