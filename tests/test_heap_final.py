"""Finalizers: each runs exactly once, on the finalizer goroutine (wait
reason "finalizer wait"), with its object (and what the object references)
still whole; Go's order for chains; reference cycles are not finalized;
freed objects show in the statistics.  Program: tests/programs/heap_final.c."""
import re

import pytest

from heaplib import HEAP_MATRIX, run_heap
from rtlib import COMPILERS, all_facts, facts, words

SRC = "heap_final.c"


@pytest.mark.parametrize("compiler,procs,collector", HEAP_MATRIX)
def test_unreachable_objects_are_finalized_once_then_freed(program, compiler, procs, collector):
    f = facts(run_heap(program, SRC, "unreachable", compiler, procs, collector=collector).stdout)
    # 1,000 dropped objects (small and large, scan and noscan), one gort_gc:
    # every finalizer ran, exactly once, on a whole object, and three more
    # collections ran none of them again
    assert f["finalized"] == "total 1000 once 1000 more 0 bad 0"
    # the finalized objects are unreachable again: freed by the next cycles
    # (the program allocated 1,000 objects and one channel)
    w = words(f["freed"])
    assert int(w["mallocs_grew"]) == 1001
    assert int(w["frees_grew"]) >= 1000, (
        f"only {w['frees_grew']} of the 1,000 finalized objects were freed after 3 more "
        f"collections: {f['freed']}")


@pytest.mark.parametrize("compiler,procs,collector", HEAP_MATRIX)
def test_an_object_lives_until_its_finalizer_has_run(program, compiler, procs, collector):
    f = facts(run_heap(program, SRC, "resurrect", compiler, procs, collector=collector).stdout)
    # the finalizer saw its object, and the object it references (reachable
    # from nothing else), whole
    assert f["first"] == "finalizer ran 1 link intact 1"
    # stored by its finalizer, the object is reachable again: it survives
    # five more collections whole and is not finalized again
    assert f["resurrected"] == "intact, finalizer runs 1"
    # a finalizer set again after the first ran runs once the object is
    # dropped again (Go allows this)
    assert f["second"] == "finalizer runs 1, first 1"


@pytest.mark.parametrize("compiler,procs,collector", HEAP_MATRIX)
def test_finalizers_of_a_chain_run_one_cycle_at_a_time(program, compiler, procs, collector):
    # A -> B -> C, all finalizable and dropped together (two such chains:
    # small objects 1->2->3, large objects 4->5->6).  As in Go, only A's
    # finalizer runs in the first cycle; once A is freed, B's can run; then
    # C's: one per gort_gc, the finalizers having run in between.
    out = run_heap(program, SRC, "order", compiler, procs, collector=collector).stdout
    got = {int(rest.split()[1]): [int(x) for x in rest.split()[3:]]
           for rest in all_facts(out, "after")}
    want = {1: [1, 0, 0, 1, 0, 0], 2: [1, 1, 0, 1, 1, 0], 3: [1, 1, 1, 1, 1, 1],
            4: [1, 1, 1, 1, 1, 1]}
    assert facts(out)["bad"] == "0"
    # first cycle: exactly the heads, never more (B and C are reachable from A)
    assert got[1] == want[1], out
    assert got == want, f"finalizer runs of ids 1..6 after each cycle:\n{out}"


@pytest.mark.parametrize("compiler,procs,collector", HEAP_MATRIX)
def test_reference_cycles_with_a_finalizer_are_not_finalized(program, compiler, procs, collector):
    f = facts(run_heap(program, SRC, "cycle", compiler, procs, collector=collector).stdout)
    # a <-> b with a finalizable, s -> s finalizable: never finalized (as in
    # Go); the control next to them is
    assert f["finalized"] == "cycle 0 self 0 control 1"


FINALIZER_HEADER = re.compile(r"^goroutine (\d+) \[finalizer wait\]:$", re.M)


@pytest.mark.parametrize("compiler", COMPILERS)
def test_finalizer_goroutine_waits_with_reason_finalizer_wait(program, compiler):
    # A fatal error dumps the goroutines; the finalizer goroutine is a
    # runtime goroutine, shown with GORT_TRACEBACK=system only.
    r = run_heap(program, SRC, "fatal", compiler, 2, env={"GORT_TRACEBACK": "system"},
                 expect_rc=2)
    assert facts(r.stdout)["finalizer"] == "goroutine parked"
    m = FINALIZER_HEADER.search(r.stderr)
    assert m, f"no finalizer goroutine in the dump:\n{r.stderr}"
    assert m.group(1) != "1"
    assert "fatal error: out of memory" in r.stderr
    r = run_heap(program, SRC, "fatal", compiler, 2, expect_rc=2)
    assert "fatal error: out of memory" in r.stderr
    assert not FINALIZER_HEADER.search(r.stderr), (
        f"the finalizer goroutine is shown without GORT_TRACEBACK=system:\n{r.stderr}")
