"""WaitGroup, Mutex and Once (tests/programs/rt_sync.c), under each compiler
and GOMAXPROCS 1, 2 and 5."""
import pytest

from rtlib import MATRIX, facts, ints, run_rt


def sync(program, mode, compiler, procs):
    return facts(run_rt(program, "rt_sync.c", mode, compiler, procs).stdout)


@pytest.mark.parametrize("compiler,procs", MATRIX)
def test_waitgroup(program, compiler, procs):
    f = sync(program, "waitgroup", compiler, procs)
    assert f["zero_wait"] == "returned"
    assert f["after_wait"] == "200 of 200"
    # three waiters, each released only after all five Done calls
    assert f["waiters_saw"] == "5 5 5 of 5"
    assert f["reused"] == "2 of 2"


@pytest.mark.parametrize("compiler,procs", MATRIX)
def test_mutex_keeps_a_contended_counter_exact(program, compiler, procs):
    f = sync(program, "mutex", compiler, procs)
    counter, _, expected, _, max_inside = f["counter"].split()
    assert int(counter) == int(expected) == 8 * 20000
    assert max_inside == "1"
    # TryLock: unlocked -> true, locked -> false, unlocked again -> true
    assert ints(f["trylock"]) == [1, 0, 1]


@pytest.mark.parametrize("compiler,procs", MATRIX)
def test_once_runs_once_and_everyone_waits_for_it(program, compiler, procs):
    f = sync(program, "once", compiler, procs)
    assert f["once"] == "calls=1 callers=16 saw_finished=16"
