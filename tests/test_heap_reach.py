"""What the collector keeps: objects reachable only from a goroutine stack,
only from global data, only from other heap objects, only by interior
pointers, only from a goroutine that never calls the runtime; a
1,000,000-node list.  And what it does not see: references from noscan
objects and from malloc'd memory; nor an object that merely lies right
above a goroutine's stack.  Program: tests/programs/heap_reach.c.

Each run also drops unreferenced twin objects (the controls) and checks
their finalizers run: a test that could not fail would prove nothing."""
import pytest

from heaplib import COLLECTORS, HEAP_MATRIX, run_heap
from rtlib import COMPILERS, all_facts, facts, words

SRC = "heap_reach.c"
NHELD = 18           # 9 sizes (32 B .. 200 KB), scan and noscan
NCONTROLS = 16
ROUNDS = 12


def check_rounds(f):
    assert f["controls"] == f"{NCONTROLS} finalized {NCONTROLS}", (
        "unreferenced control objects were not all finalized: the test cannot tell "
        "kept from leaked")
    assert f["rounds"] == str(ROUNDS)
    # a forced collection per round, and the garbage triggers more
    assert int(f["gcs"]) >= ROUNDS


@pytest.mark.parametrize("mode", ["stack", "global", "heap", "interior"])
@pytest.mark.parametrize("compiler,procs,collector", HEAP_MATRIX)
def test_objects_reachable_from_one_root_survive_intact(program, compiler, procs, collector, mode):
    # The program checks every held object's contents after each round of
    # garbage + gort_gc (a wrongly freed object gets reused and overwritten)
    # and fails on the first broken one; held objects carry finalizers that
    # must never run.
    f = facts(run_heap(program, SRC, mode, compiler, procs, collector=collector).stdout)
    assert f["held"] == str(NHELD)
    check_rounds(f)


@pytest.mark.parametrize("collector", COLLECTORS)
@pytest.mark.parametrize("compiler", COMPILERS)
def test_registers_and_stack_of_a_goroutine_that_never_calls_the_runtime(program, compiler,
                                                                         collector):
    # The object's address exists only in a spinning goroutine's registers
    # (and maybe its frame): each collection stops that thread with a signal
    # and scans what the signal saved.
    f = facts(run_heap(program, SRC, "registers", compiler, 2, collector=collector).stdout)
    check_rounds(f)
    assert f["spinner"] == "checks>0 1 bad 0"
    # once the goroutine is gone the object is garbage: it was held by the
    # goroutine, not by anything else
    assert f["exited"] == "spinner object finalized 1"


@pytest.mark.parametrize("compiler,procs,collector", HEAP_MATRIX)
def test_references_from_noscan_and_malloc_memory_are_not_seen(program, compiler, procs, collector):
    out = run_heap(program, SRC, "unseen", compiler, procs, collector=collector).stdout
    lines = [line for line in out.splitlines() if line.startswith("unseen ")]
    assert lines == ["unseen 0 noscan finalized 1", "unseen 1 noscan finalized 1",
                     "unseen 2 malloc finalized 1", "unseen 3 malloc finalized 1"], out
    assert facts(out)["noscan"] == "holder intact 1"


@pytest.mark.parametrize("compiler,procs,collector", HEAP_MATRIX)
def test_a_million_node_list_survives_collections(program, compiler, procs, collector):
    out = run_heap(program, SRC, "list", compiler, procs, collector=collector).stdout
    # "list built|intact|dropped k=v ..."
    lines = {rest.split()[0]: words(rest) for rest in all_facts(out, "list")}
    # built while collections ran (its own allocations trigger them)
    assert int(lines["built"]["n"]) == 1000000
    assert int(lines["built"]["gcs_while_building"]) >= 1
    # the program walked and checked all 1,000,000 nodes after each of 4
    # more rounds of garbage + gort_gc
    assert int(lines["intact"]["n"]) == 1000000
    assert int(lines["intact"]["gcs"]) >= 5
    assert int(lines["intact"]["heap_objects"]) >= 1000000
    # dropped, the list is freed
    assert int(lines["dropped"]["heap_objects"]) < 1000


@pytest.mark.parametrize("compiler,procs,collector", HEAP_MATRIX)
def test_an_object_right_above_a_goroutine_stack_is_freed(program, compiler, procs, collector):
    # Goroutine stacks are heap spans: an object allocated just before a
    # goroutine first runs lies right above its stack.  Nothing refers to
    # it; a word in the stack equal to the stack's end address would look
    # like a pointer to it.
    out = run_heap(program, SRC, "stacktop", compiler, procs, collector=collector).stdout
    above = all_facts(out, "above")
    if above[0] != "parker stack 1":
        pytest.skip("this heap does not place the object right above the stack")
    assert above[1] == "finalized 1", (
        "an unreferenced object right above a parked goroutine's stack was kept alive")
