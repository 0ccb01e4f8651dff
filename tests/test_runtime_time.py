"""Sleep, After and Tick never fire early (tests/programs/rt_time.c), under
each compiler and GOMAXPROCS 1, 2 and 5.  Only lower bounds are asserted:
upper bounds depend on the machine's load."""
import pytest

from rtlib import MATRIX, MS, all_facts, facts, run_rt, words


def time_prog(program, mode, compiler, procs):
    return run_rt(program, "rt_time.c", mode, compiler, procs).stdout


@pytest.mark.parametrize("compiler,procs", MATRIX)
def test_sleep_lasts_at_least_as_asked(program, compiler, procs):
    slept = all_facts(time_prog(program, "sleep", compiler, procs), "slept")
    assert len(slept) == 15
    for rest in slept:
        w = words(rest)
        asked = max(int(w["_"][0]), 0)
        assert int(w["mono"]) >= asked, rest
        if "rt" in w:
            assert int(w["rt"]) >= asked, rest


@pytest.mark.parametrize("compiler,procs", MATRIX)
def test_after_fires_once_not_early(program, compiler, procs):
    out = time_prog(program, "after", compiler, procs)
    after = all_facts(out, "after")
    assert len(after) == 4
    for rest in after:
        w = words(rest)
        asked = int(w["_"][0])
        assert w["ok"] == "1"
        assert int(w["fired_at"]) >= asked, rest     # the value is when it fired
        assert int(w["now"]) >= int(w["fired_at"]), rest
        assert int(w["mono"]) >= asked, rest
    # exactly one value each: nothing left afterwards
    assert all_facts(out, "after_len") == ["0"] * 4


@pytest.mark.parametrize("compiler,procs", MATRIX)
def test_tick_fires_every_period_and_drops_missed_ticks(program, compiler, procs):
    out = time_prog(program, "tick", compiler, procs)
    ticks = all_facts(out, "tick")
    assert len(ticks) == 6
    last = 0
    for k, rest in enumerate(ticks, 1):
        w = words(rest)
        fired = int(w["fired_at"])
        assert fired >= k * 10 * MS, rest     # the k-th tick: k periods at least
        assert fired > last, rest
        assert int(w["now"]) >= fired, rest
        last = fired
    # 100 ms without receiving: at most one tick is waiting, not ten
    backlog, _, cap = facts(out)["tick_backlog"].split()
    assert int(backlog) <= 1 and int(backlog) <= max(int(cap), 1)
