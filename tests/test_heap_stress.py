"""The collector under load: goroutines allocating random sizes while
collections run, steady churn (RSS stays bounded, freed memory goes back to
the OS), 100,000 parked goroutines, an allocating goroutine sharing one P.
Program: tests/programs/heap_stress.c."""
import subprocess

import pytest

from conftest import TIMEOUT
from heaplib import (HEAP_MATRIX, HEAP_PROCS, MIB, assert_identities, concurrent_marking_available,
                     gctrace_lines, memstats_by_tag, rss_kib, run_heap)
from rtlib import COMPILERS, LiveLines, facts, rt_env, words

SRC = "heap_stress.c"
KIB_PER_MIB = 1024


@pytest.mark.parametrize("compiler,procs,collector", HEAP_MATRIX)
def test_random_allocations_keep_every_checksum_while_collections_run(program, compiler, procs, collector):
    # 4 goroutines x 60,000 replacements in tables of 2,048 objects (8 B to
    # 130 KB, scan and noscan, half of them held through another object,
    # all through interior pointers), each checked before it is replaced
    # and all checked at the end; a fifth goroutine collects every 30 ms
    # (room for the heap to reach its trigger in between).
    out = run_heap(program, SRC, "stress", compiler, procs, collector=collector).stdout
    f = words(facts(out)["stress"])
    assert f["bad"] == "0", out
    assert int(f["checks"]) >= 4 * 60000
    assert int(f["gcs"]) > int(f["forced"]) >= 1, "no collection was triggered by allocation"
    assert_identities(list(memstats_by_tag(out).items()))


@pytest.mark.parametrize("compiler,procs,collector", HEAP_MATRIX)
def test_pointers_on_the_move_during_marking_are_not_lost(program, compiler, procs, collector):
    # 4 goroutines move 1,024 nodes each between their tables, under one
    # another, back, through a relay goroutine (an unbuffered channel each
    # way: in flight a node is only on the two stacks) and replace them,
    # 150,000 moves each, while a fifth goroutine collects back to back.
    # A node freed while reachable is found broken or finalized.
    r = run_heap(program, SRC, "shuffle", compiler, procs, collector=collector,
                 env={"GORT_DEBUG": "gctrace=1"})
    f = words(facts(r.stdout)["shuffle"])
    assert f["bad"] == "0", r.stdout
    assert int(f["checks"]) >= 4 * 150000
    assert int(f["cycles"]) >= 2
    for move in ("swaps", "hangs", "takes", "relays", "replaces"):
        assert int(f[move]) > 1000, (move, f)
    # the cycles marked as asked: with the world stopped throughout, or
    # concurrently wherever the kernel can record writes (else stopped)
    cycles = gctrace_lines(r.stderr)
    assert len(cycles) >= int(f["cycles"])
    stopped = collector == "stw" or not concurrent_marking_available()
    assert [c["n"] for c in cycles if c["stw"] != stopped] == [], r.stderr[-3000:]


def read_phases(proc, names):
    """Step the program through its phases; returns {phase: VmRSS KiB}."""
    lines = LiveLines(proc)
    rss = {}
    for name in names:
        lines.until(lambda line: line.startswith("PHASE "), timeout=TIMEOUT)
        got = lines.lines[-1].split()[1]
        assert got == name, lines.text()
        rss[name] = rss_kib(proc.pid)
        proc.stdin.write("\n")
        proc.stdin.flush()
    assert proc.wait(timeout=TIMEOUT) == 0, proc.stderr.read()
    return rss, lines.text()


@pytest.mark.parametrize("procs", HEAP_PROCS)
@pytest.mark.parametrize("compiler", COMPILERS)
def test_steady_churn_keeps_rss_bounded_and_memory_goes_back_to_the_os(
        program, targets, compiler, procs):
    # An 8 MiB live set churned by 128 MiB of allocation (warm), then by
    # 1 GiB more (steady); then a 256 MiB transient live set (peak),
    # dropped and collected (released).
    exe = program(SRC, compiler)
    proc = targets.start([exe, "rss"], env=rt_env(procs), stdin=subprocess.PIPE)
    rss, out = read_phases(proc, ["warm", "steady", "peak", "released"])
    s = memstats_by_tag(out)
    assert_identities(list(s.items()))
    # steady churn: eight times the warm-up's allocation, and the process
    # did not grow with it (a leak of 1 GiB would show as ~1 GiB)
    assert rss["steady"] <= rss["warm"] + 64 * KIB_PER_MIB, rss
    assert s["steady"]["heap_sys"] <= s["warm"]["heap_sys"] + 64 * MIB
    assert s["steady"]["num_gc"] > s["warm"]["num_gc"]
    # the transient 256 MiB was resident, and went back to the OS
    assert rss["peak"] >= rss["warm"] + 200 * KIB_PER_MIB, rss
    assert rss["released"] <= rss["peak"] - 200 * KIB_PER_MIB, rss
    assert s["released"]["heap_released"] >= 256 * MIB
    assert s["released"]["heap_inuse"] <= s["steady"]["heap_inuse"] + 16 * MIB


@pytest.mark.parametrize("compiler,procs,collector", HEAP_MATRIX)
def test_collection_with_100k_parked_goroutines(program, compiler, procs, collector):
    # each goroutine holds a 64-byte object on its stack only, parked on a
    # channel, through 3 rounds of garbage + gort_gc; then each checks it
    out = run_heap(program, SRC, "parked", compiler, procs, collector=collector, timeout=120).stdout
    f = facts(out)
    assert f["parked"] == "100000 numgoroutine 100001"
    assert int(words(f["collections"])["while_parked"]) >= 3
    # the objects were not freed while their goroutines were parked...
    assert memstats_by_tag(out)["parked"]["heap_objects"] >= 100000
    # ...and each was whole when its goroutine woke up
    assert f["released"] == "bad 0"


@pytest.mark.parametrize("compiler", COMPILERS)
def test_an_allocating_goroutine_does_not_starve_the_others(program, compiler):
    # GOMAXPROCS=1: one goroutine allocates without pause (and so triggers
    # a collection every few milliseconds); goroutine 1 yields to it five
    # times and must get its turn back each time.
    r = run_heap(program, SRC, "starve", compiler, 1, timeout=15)
    assert facts(r.stdout)["turn"] == "5"
