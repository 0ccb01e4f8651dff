"""Channels and select (tests/programs/rt_chan.c, rt_select.c), under each
compiler and GOMAXPROCS 1, 2 and 5."""
import pytest

from rtlib import MATRIX, MS, all_facts, facts, ints, run_rt, words


def chan(program, mode, compiler, procs):
    return facts(run_rt(program, "rt_chan.c", mode, compiler, procs).stdout)


def select(program, mode, compiler, procs):
    return facts(run_rt(program, "rt_select.c", mode, compiler, procs).stdout)


def waited(rest):
    """(waited_ns, v) from "N v=V"."""
    w = words(rest)
    return int(w["_"][0]), int(w["v"])


@pytest.mark.parametrize("compiler,procs", MATRIX)
def test_unbuffered_channel_blocks_and_keeps_order(program, compiler, procs):
    f = chan(program, "unbuffered", compiler, procs)
    assert f["len"] == "0 cap 0"
    # the sender stays blocked until goroutine 1 receives
    assert f["send_sent_before_recv"] == "0"
    assert f["send_sent_after_recv"] == "1"
    assert f["send_recv"] == "ok=1 v=42"
    # the receiver stays blocked until the sender comes, 50 ms later
    ns, v = waited(f["recv_waited_ns"])
    assert v == 7 and ns >= 50 * MS
    assert ints(f["order"]) == list(range(1000))


@pytest.mark.parametrize("compiler,procs", MATRIX)
def test_buffered_channel_blocks_when_full_and_keeps_order(program, compiler, procs):
    f = chan(program, "buffered", compiler, procs)
    assert f["len"] == "4 cap 4"          # four sends with no receiver completed
    assert f["full_sent_before_recv"] == "0"
    assert f["full_sent_after_recv"] == "1"
    assert f["full_recv"] == "ok=1 v=0"
    assert ints(f["order"]) == [0, 1, 2, 3, 4]
    assert f["len_after"] == "0"
    ns, v = waited(f["recv_waited_ns"])
    assert v == 9 and ns >= 50 * MS
    assert f["stream"] == "20000 first_out_of_order -1"


@pytest.mark.parametrize("compiler,procs", MATRIX)
def test_close_semantics(program, compiler, procs):
    f = chan(program, "close", compiler, procs)
    assert f["closed_len"] == "3 cap 3"
    # buffered values first, then (false, zeroed) every time
    assert f["closed_recv"].split() == ["1:1", "1:2", "1:3", "0:0", "0:0"]
    assert f["discard"] == "1 0"
    # close wakes all ten blocked receivers, each with ok false and a zero value
    assert f["results_before_close"] == "0"
    assert ints(f["woken"]) == [0] * 10
    assert f["range"] == "sum=10 after_close=0"


@pytest.mark.parametrize("compiler,procs", MATRIX)
def test_many_senders_lose_nothing_and_keep_each_senders_order(program, compiler, procs):
    f = chan(program, "senders", compiler, procs)
    for cap in (0, 8):
        got = ints(f[f"got_cap{cap}"])
        assert sorted(got) == sorted(s * 1000000 + i for s in range(1, 7) for i in range(500))
        for s in range(1, 7):
            seq = [v % 1000000 for v in got if v // 1000000 == s]
            assert seq == list(range(500)), f"sender {s} reordered (cap {cap})"


@pytest.mark.parametrize("compiler,procs", MATRIX)
def test_select_with_default(program, compiler, procs):
    f = select(program, "default", compiler, procs)
    assert f["empty_recv"] == "-1"
    assert f["nil_cases"] == "-1"
    assert f["no_cases"] == "-1"
    assert f["send_space"] == "0 len=1"
    assert f["send_full"] == "-1 len=1"
    assert f["recv_ready"] == "1 ok=1 v=5 len=0"
    assert f["send_to_waiting_receiver"] == "0 received=77"
    assert f["closed_recv"] == "1 ok=0 v=0"


@pytest.mark.parametrize("compiler,procs", MATRIX)
def test_select_blocks_until_a_case_is_ready(program, compiler, procs):
    f = select(program, "block", compiler, procs)
    w = words(f["recv_wakes"])
    assert w["_"] == ["1"] and w["ok"] == "1" and w["v"] == "31"
    assert int(w["waited_ns"]) >= 50 * MS
    w = words(f["send_wakes"])
    assert w["_"] == ["0"] and w["received"] == "55"
    assert int(w["waited_ns"]) >= 50 * MS
    assert f["close_wakes"] == "1 ok=0 v=0"
    w = words(f["timeout"])
    assert w["_"] == ["1"]
    assert int(w["fired_after_ns"]) >= 30 * MS and int(w["waited_ns"]) >= 30 * MS
    # the case not chosen is not consumed: its value arrives afterwards
    i, first, second = ints(f["both_delivered"])
    assert (i, first, second) in ((0, 1, 2), (1, 2, 1))


@pytest.mark.parametrize("compiler,procs", MATRIX)
def test_select_chooses_uniformly_among_ready_cases(program, compiler, procs):
    r = run_rt(program, "rt_select.c", "uniform", compiler, procs)
    (two,) = all_facts(r.stdout, "counts2")
    (three,) = all_facts(r.stdout, "counts3")
    a, b = ints(two)
    assert a + b == 10000 and 4000 <= a <= 6000, (a, b)
    c3 = ints(three)
    assert sum(c3) == 10000 and all(2500 <= c <= 4200 for c in c3), c3
