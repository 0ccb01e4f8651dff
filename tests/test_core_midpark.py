"""A goroutine caught between park_direct's transition to waiting and the
save of its context (runtime/sched.c): tests/programs/insp_midpark.c run
under gdb, stopped there with the worker goroutine parking in pass_site(),
dumped with gcore.  gdb's backtrace of the stopped thread is the truth."""
import json
import os

import pytest

from attachlib import goinspect, marker_line, src_path
from conftest import run

MIDPARK = src_path("insp_midpark.c")
SCHED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "runtime",
                     "sched.c")


def line_of(path, text):
    with open(path) as f:
        return next(i for i, l in enumerate(f, 1) if l.strip() == text)


@pytest.mark.xfail(strict=True, reason="a goroutine marked waiting by park_direct before its "
                   "context is saved is unwound from the context of its previous park; its "
                   "state word (unsettled) says so, but goinspect does not use it")
def test_goroutine_stopped_in_the_middle_of_a_direct_park(program, tmp_path):
    exe = program("insp_midpark.c")
    core = str(tmp_path / "midpark.core")
    brk = f"sched.c:{line_of(SCHED, 'm->parked = gp;')}"
    r = run(["gdb", "-q", "-nx", "-batch", "-ex", "set breakpoint pending on",
             "-ex", "handle SIGUSR1 SIGUSR2 SIGURG nostop noprint pass",
             "-ex", f"break {brk} if in_pass == 1", "-ex", "run", "-ex", "bt",
             "-ex", "print worker_goid", "-ex", f"gcore {core}", "-ex", "kill", "--args", exe],
            env={"GORT_MAXPROCS": "1"}, timeout=120)
    bt = [l for l in r.stdout.splitlines() if l.startswith("#")]
    pass_line = marker_line(MIDPARK, "WAIT:pass")
    assert any(" pass_site () at " in l and l.endswith(f"insp_midpark.c:{pass_line}") for l in bt), \
        r.stdout
    goid = int(next(l for l in r.stdout.splitlines() if l.startswith("$1 = ")).split()[-1])
    assert os.path.exists(core), r.stdout + r.stderr
    out = run([goinspect(), "--json", "core", core, "goroutines", "-t"], timeout=120)
    assert out.returncode == 0, out.stderr
    gs = {g["id"]: g for g in json.loads(out.stdout)["goroutines"]}
    frames = [(f["function"], f["line"]) for f in gs[goid]["frames"]]
    assert ("pass_site", pass_line) in frames, gs[goid]
