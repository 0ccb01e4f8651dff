"""goinspect's work grows linearly with the target's threads.

`maps` and `ptr` annotate every mapping with the thread whose stack it is;
done as a search over every thread (and its M) per mapping, the work was
cubic in the number of threads.  The measure is exact and needs no clock:
the instructions goinspect executes, counted by valgrind's callgrind, on
targets with K, 2K and 4K threads (tests/programs/insp_threads.c: K plain
pthreads and K Ms, each blocked in a system call).  The fixed cost (loading
the binaries' symbols) cancels in the differences: the growth from 2K to 4K
divided by the growth from K to 2K is 2 for linear work, 4 for quadratic,
8 for cubic.
"""
import os
import re
import shutil

import pytest

from attachlib import goinspect, start
from conftest import run

SIZES = (100, 200, 400)     # plain pthreads, and as many Ms
LINEAR_BOUND = 3.0          # linear (and n log n) work stays well below; quadratic is 4


def instructions(args, tmp_path):
    """Instructions goinspect executes for `attach ARGS`, and its stdout."""
    assert shutil.which("valgrind"), "valgrind is missing (make deps installs it)"
    log = tmp_path / "callgrind.log"
    r = run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
             f"--log-file={log}", goinspect(), "attach", *args], timeout=600)
    assert r.returncode == 0, f"goinspect attach {' '.join(args)} failed:\n{r.stderr[-2000:]}"
    m = re.search(r"Collected : (\d+)", log.read_text())
    assert m, f"no instruction count from callgrind:\n{log.read_text()[-2000:]}"
    return int(m.group(1)), r.stdout


@pytest.mark.parametrize("command", ["maps", "ptr"])
def test_work_is_linear_in_threads(targets, program, tmp_path, command):
    counts = []
    for k in SIZES:
        t = start(targets, program, "insp_threads.c", "many", str(k), str(k))
        ntasks = len(os.listdir(f"/proc/{t.pid}/task"))
        assert ntasks >= 2 * k, f"the target has {ntasks} threads, not {2 * k}"
        args = [str(t.pid), "maps"] if command == "maps" else \
               [str(t.pid), "ptr", hex(t.one("main").local)]
        n, out = instructions(args, tmp_path)
        if command == "maps":
            stacks = out.count("thread stack of")
            assert stacks >= 2 * k, f"{stacks} thread stacks in maps, not {2 * k}:\n{out[:2000]}"
        else:
            assert "stack     of goroutine 1" in out, out
        counts.append(n)
        t.proc.kill()
        t.proc.wait(timeout=10)
    first, second = counts[1] - counts[0], counts[2] - counts[1]
    assert first > 0 and second > 0, f"instructions {counts}"
    growth = second / first
    assert growth < LINEAR_BOUND, (
        f"goinspect attach {command}: instructions {counts} for {SIZES} x 2 threads; from "
        f"{2 * SIZES[1]} to {2 * SIZES[2]} threads they grew {growth:.1f} times as much as from "
        f"{2 * SIZES[0]} to {2 * SIZES[1]} (linear work: 2, quadratic: 4, cubic: 8)")
