"""Memory statistics, pacing and gctrace.  The oracle is the program's own
gort_read_memstats (snapshots printed as "MS" lines) and its own count of
what it allocated and dropped; the identities are those of Go's MemStats
and of docs/metadata.md ("Attributing the heap").
Program: tests/programs/heap_stats.c."""
import time

import pytest

from heaplib import (HEAP_MATRIX, MIB, MIN_HEAP_GOAL, assert_identities, gctrace_lines,
                     memstats, memstats_by_tag, run_heap, size_class_of)
from rtlib import COMPILERS, all_facts, facts, words

SRC = "heap_stats.c"


def timed_run(program, mode, compiler, procs, env=None, collector=None):
    """Run MODE; returns (result, wall-clock interval in ns since 1970)."""
    t0 = time.time_ns()
    r = run_heap(program, SRC, mode, compiler, procs, collector=collector, env=env)
    return r, t0, time.time_ns()


def growth(a, b, field):
    return b[field] - a[field]


@pytest.mark.parametrize("compiler,procs,collector", HEAP_MATRIX)
def test_memstats_identities_at_several_points(program, compiler, procs, collector):
    # start, after small and large allocations, after collections, with
    # goroutines allocating, after idle memory went back to the OS
    r, t0, t1 = timed_run(program, "points", compiler, procs, collector=collector)
    snaps = memstats(r.stdout)
    assert [tag for tag, _ in snaps] == ["start", "before-small", "after-small", "after-large",
                                         "after-gc", "after-gc2", "busy", "busy", "busy",
                                         "busy", "busy", "quiet", "idle"]
    assert_identities(snaps, t0, t1)
    s = dict(snaps)
    # the counters only grow
    for field in ("mallocs", "frees", "total_alloc", "num_gc", "pause_total_ns"):
        values = [ms[field] for _, ms in snaps]
        assert values == sorted(values), f"{field} went down: {values}"
    assert s["start"]["num_gc"] == 0
    assert s["quiet"]["num_forced_gc"] == 4
    assert s["quiet"]["num_gc"] >= 4
    # idle: at least half of the idle heap went back to the OS
    idle = s["idle"]
    assert idle["heap_released"] > 0 and 2 * idle["heap_released"] >= idle["heap_idle"]


@pytest.mark.parametrize("compiler,procs,collector", HEAP_MATRIX)
def test_mallocs_count_the_programs_own_allocations(program, compiler, procs, collector):
    r, _, _ = timed_run(program, "points", compiler, procs, collector=collector)
    s = memstats_by_tag(r.stdout)
    counts = {rest.split()[0]: {k: int(v) for k, v in words(rest).items() if k != "_"}
              for rest in all_facts(r.stdout, "COUNT")}
    for tag, before, after in (("small", "before-small", "after-small"),
                               ("large", "after-small", "after-large")):
        c, a, b = counts[tag], s[before], s[after]
        n = c["objects"] + c["other"]
        assert growth(a, b, "mallocs") == n, (
            f"{tag}: the program allocated {n} objects, mallocs grew by "
            f"{growth(a, b, 'mallocs')}")
        assert growth(a, b, "heap_objects") == n
        assert growth(a, b, "total_alloc") >= c["bytes_at_least"]
        assert growth(a, b, "heap_alloc") >= c["bytes_at_least"]
        assert growth(a, b, "frees") == 0          # nothing collected in between
    # the 10,000 48-byte objects show in their size class
    a, b = s["before-small"]["by_size"], s["after-small"]["by_size"]
    k = size_class_of(a, counts["small"]["size"])
    assert counts["small"]["objects"] <= b[k][1] - a[k][1] <= counts["small"]["objects"] + 2
    # the 20 large objects (100,000 bytes) are in no size class: the small
    # classes grew only by the noscan array and the channel
    a, b = s["after-small"]["by_size"], s["after-large"]["by_size"]
    assert sum(m for _, m, _ in b) - sum(m for _, m, _ in a) == counts["large"]["other"]


@pytest.mark.parametrize("compiler,procs,collector", HEAP_MATRIX)
def test_dropped_objects_show_in_frees_right_after_gort_gc(program, compiler, procs, collector):
    # gort_gc is runtime.GC: it returns once the collection is complete, and
    # Go's runtime.GC finishes sweeping before it returns, so what the
    # program dropped shows in frees at once.
    r, _, _ = timed_run(program, "points", compiler, procs, collector=collector)
    s = memstats_by_tag(r.stdout)
    drop = words(facts(r.stdout)["DROP"])
    n, nbytes = int(drop["n"]), int(drop["bytes_at_least"])
    before, after, later = s["after-large"], s["after-gc"], s["after-gc2"]
    # after a second collection they are all counted...
    assert growth(before, later, "frees") >= n
    # ...and already right after the first
    assert growth(before, after, "frees") >= n, (
        f"{n} objects dropped before gort_gc; frees grew by {growth(before, after, 'frees')} "
        f"right after it (by {growth(before, later, 'frees')} after a second gort_gc)")
    assert before["heap_alloc"] - after["heap_alloc"] >= nbytes


@pytest.mark.parametrize("compiler,procs,collector", HEAP_MATRIX)
def test_memstats_identities_while_goroutines_allocate_and_collect(program, compiler, procs, collector):
    # 300 snapshots or more (until 10 collections have finished) taken while
    # two goroutines allocate and a third calls gort_gc in a loop:
    # gort_read_memstats stops the world, so each one is consistent.
    r, t0, t1 = timed_run(program, "concurrent", compiler, procs, collector=collector)
    snaps = memstats(r.stdout)
    assert len(snaps) >= 301
    assert_identities(snaps, t0, t1)
    assert snaps[-1][1]["num_gc"] >= 10


def check_gctrace(lines, final, procs):
    """gctrace lines against the final snapshot: one line per cycle,
    numbered from 1, ' (forced)' exactly for gort_gc's, the P count, each
    line's pause equal to the recorded one, and the live heap no more than
    the heap when marking ended."""
    assert [g["n"] for g in lines] == list(range(1, final["num_gc"] + 1))
    assert sum(g["forced"] for g in lines) == final["num_forced_gc"]
    assert all(g["procs"] == procs for g in lines)
    ats = [g["at"] for g in lines]
    assert ats == sorted(ats)
    for g in lines[-256:]:
        recorded = final["pause_ns"][(g["n"] - 1) % 256]
        printed = g["pause"] * 1e6
        # two or three numbers rounded to the microsecond
        assert abs(printed - recorded) <= 2000, (g["line"], recorded)
        assert g["live"] <= g["after"] + 1
        assert 0 <= g["pct"] <= 100


@pytest.mark.parametrize("live_mb", [1, 24])
@pytest.mark.parametrize("percent", [50, 100, 200])
@pytest.mark.parametrize("compiler", COMPILERS)
def test_gc_percent_sets_the_heap_goal(program, compiler, percent, live_mb):
    procs = 2
    env = {"GORT_GC": str(percent), "GORT_DEBUG": "gctrace=1", "LIVE_MB": str(live_mb)}
    r, t0, t1 = timed_run(program, "pacing", compiler, procs, env)
    snaps = memstats(r.stdout)
    assert_identities(snaps, t0, t1)
    s = dict(snaps)
    f = facts(r.stdout)
    live = words(f["LIVE"])
    # what the collection marks: the objects and the array holding them
    # (whole pages), plus a few small runtime objects
    marked = int(live["bytes"]) + -(-int(live["array"]) // 8192) * 8192

    lines = gctrace_lines(r.stderr)

    def goal_ok(next_gc, pct, floating=0):
        lo = max(MIN_HEAP_GOAL, marked * (100 + pct) // 100)
        hi = max(MIN_HEAP_GOAL, (marked + floating + 256 * 1024) * (100 + pct) // 100)
        return lo <= next_gc <= hi, (next_gc, lo, hi)

    def floating(snapshot):
        """What the cycle before a snapshot may have counted live besides the
        live set: a concurrent cycle marks what is allocated while it marks
        (the heap's growth during the cycle, in MB as printed)."""
        g = lines[snapshot["num_gc"] - 1]
        return 0 if g["stw"] else (g["after"] - g["before"] + 1) * MIB

    ok, why = goal_ok(s["goal"]["next_gc"], percent)
    assert ok, f"GORT_GC={percent}: next_gc after gort_gc (got, min, max): {why}"
    # garbage past the goal triggers collections by itself
    assert s["triggered"]["num_gc"] - s["goal"]["num_gc"] >= 2
    # gort_set_gc_percent returns the previous value and moves the goal
    sets = [rest for rest in all_facts(r.stdout, "SETPERCENT")]
    assert sets == [f"300 prev={percent}", "-1 prev=300", "100 prev=-1"]
    ok, why = goal_ok(s["percent300"]["next_gc"], 300, floating(s["percent300"]))
    assert ok, f"next_gc after gort_set_gc_percent(300): {why}"
    # off: 128 MiB of garbage and no collection (gort_set_gc_percent(-1)
    # returns once a cycle under way has finished)
    assert s["off"]["num_gc"] == s["disabled"]["num_gc"]
    assert not any(g["n"] > s["disabled"]["num_gc"] and not g["forced"] for g in lines)
    ok, why = goal_ok(s["percent100"]["next_gc"], 100)
    assert ok, f"next_gc after gort_set_gc_percent(100) and gort_gc: {why}"

    check_gctrace(lines, s["percent100"], procs)
    assert lines[-1]["goal"] == s["percent100"]["next_gc"] // MIB
    # collections triggered by allocation start at the trigger the previous
    # cycle set, not long before nor long after it (in MB, as printed): the
    # goal for a stop-the-world cycle, 7/8 of the way from the live heap to
    # the goal for a concurrent one
    for prev, g in zip(lines, lines[1:]):
        if not g["forced"] and g["n"] <= s["triggered"]["num_gc"]:
            if g["stw"]:
                trigger = prev["goal"]
            else:
                trigger = prev["live"] + (prev["goal"] - prev["live"]) * 7 / 8
            assert trigger - 1 <= g["before"] <= trigger + 2, (prev["line"], g["line"])


@pytest.mark.parametrize("compiler", COMPILERS)
def test_gc_off_disables_automatic_collection_only(program, compiler):
    env = {"GORT_GC": "off", "GORT_DEBUG": "gctrace=1"}
    r, t0, t1 = timed_run(program, "off", compiler, 2, env)
    snaps = memstats(r.stdout)
    assert_identities(snaps, t0, t1)
    s = dict(snaps)
    # 96 MiB of garbage, no collection; gort_gc still collects
    assert s["no-auto"]["num_gc"] == 0
    assert s["forced"]["num_gc"] == 1 and s["forced"]["num_forced_gc"] == 1
    assert facts(r.stdout)["SETPERCENT"] == "-1 prev=-1"
    lines = gctrace_lines(r.stderr)
    check_gctrace(lines, s["forced"], 2)
    assert len(lines) == 1 and lines[0]["forced"]
