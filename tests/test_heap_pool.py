"""gort_pool (sync.Pool): pooled objects come back, survive one collection
in the victim cache, are dropped (and finalized) by the second; concurrent
use hands no object to two holders.  Program: tests/programs/heap_pool.c."""
import pytest

from heaplib import HEAP_MATRIX, run_heap
from rtlib import facts, words

SRC = "heap_pool.c"
K = 64


def pool_facts(program, mode, compiler, procs, collector):
    f = facts(run_heap(program, SRC, mode, compiler, procs, collector=collector).stdout)
    return {k: {kk: int(v) for kk, v in words(rest).items() if kk != "_"}
            for k, rest in f.items()}


@pytest.mark.parametrize("compiler,procs,collector", HEAP_MATRIX)
def test_pool_returns_the_objects_put(program, compiler, procs, collector):
    f = pool_facts(program, "reuse", compiler, procs, collector)
    # 64 objects put, 64 gets: all are ours, whole, distinct; no constructor
    assert f["got"] == {"ours": K, "fresh": 0}
    assert f["again"] == {"ours": K, "fresh": 0}
    # everything is out: the next get calls the constructor
    assert f["empty"] == {"fresh": 1}


@pytest.mark.parametrize("compiler,procs,collector", HEAP_MATRIX)
def test_pooled_objects_survive_one_collection_and_are_dropped_by_the_second(
        program, compiler, procs, collector):
    f = pool_facts(program, "victim", compiler, procs, collector)
    assert f["gc1"] == {"ours": K, "fresh": 0}
    assert f["gc2"] == {"ours": 0, "fresh": K}
    # the dropped objects are garbage: each one's finalizer runs once
    d = f["dropped"]
    assert (d["finalized"], d["once"], d["bad"]) == (K, K, 0)


@pytest.mark.parametrize("compiler,procs,collector", HEAP_MATRIX)
def test_pool_under_concurrent_use_and_collections(program, compiler, procs, collector):
    f = pool_facts(program, "concurrent", compiler, procs, collector)["concurrent"]
    assert f["gets"] == 4 * 100000 * 2
    # never one object to two goroutines at once, never one broken while
    # pooled
    assert f["errors"] == 0
    assert f["gcs"] >= 1
    # the pool did its job: 8 objects are out at a time, and a collection
    # can cost the pool at most those it holds (victims are dropped by the
    # next one), so the constructor ran at most 8 times per collection
    assert f["made"] <= 8 * (f["gcs"] + 2), f
