"""The pre-copy of `goinspect attach`: goroutines that change between it and
the stop are read again in the stop, never shown as the pre-copy saw them.
goinspect is held under gdb at its first PTRACE_SEIZE (the pre-copy done,
the stop not begun) while tests/programs/insp_rewait.c moves goroutines to
another wait, ends some and starts new ones in their Gs; the goroutines
listed after the stop are checked against the program's own account of
the change."""
import json

import pytest

from attachlib import (anon_truth, attach_json, check_anon_goroutines, marker_line, src_path,
                       start, under_gdb)

REWAIT = src_path("insp_rewait.c")
PTRACE_SEIZE = 0x4206


def where(g):
    return (g["user"]["function"], g["user"]["line"])


def changed(t, start_at):
    i = t.wait_line(lambda l: l.startswith("CHANGED "), start=start_at)
    kv = dict(w.split("=", 1) for w in t.lines[i].split()[1:])
    return {k: [int(x) for x in v.split(",") if x] for k, v in kv.items()}


def first_ids(t):
    return [int(l.split()[1]) for l in t.lines if l and l.startswith("ID ")]


def check_changes_read_again(targets, program, tmp_path, n, k, opts, new, spread="0",
                             timeout=120):
    """insp_rewait.c with N goroutines, K moved and K ended (and K new with
    NEW "1") while goinspect is held between its pre-copy and its stop:
    the goroutines listed after the stop are where the program says."""
    done = tmp_path / "changed"
    t = start(targets, program, "insp_rewait.c", str(n), str(k), str(done), new, spread)
    ids = first_ids(t)
    assert len(ids) == n
    before = attach_json(t.pid, "goroutines", timeout=timeout)
    gs = {g["id"]: g for g in before["goroutines"]}
    first = ("first_wait", marker_line(REWAIT, "WAIT:first"))
    assert all(where(gs[i]) == first for i in ids)
    mark = len(t.lines)
    out = under_gdb(PTRACE_SEIZE, ["delete", f"shell kill -HUP {t.pid}",
                                   f"shell timeout 60 sh -c 'until test -e {done}; do sleep 0.01; done'",
                                   "continue"],
                    t.pid, "goroutines", timeout=timeout, opts=opts)
    ch = changed(t, mark)
    assert len(ch["moved"]) == k and len(ch["exited"]) == k
    doc = json.loads(out[out.index('{"'):out.rindex("}") + 1])
    gs = {g["id"]: g for g in doc["goroutines"]}
    for i in ch["moved"]:
        assert where(gs[i]) == ("second_wait", marker_line(REWAIT, "WAIT:second")), gs[i]
    for i in ch.get("new", []):
        assert where(gs[i]) == ("third_wait", marker_line(REWAIT, "WAIT:third")), gs[i]
    for i in ch["exited"]:
        assert i not in gs or where(gs[i]) != first, gs[i]
    rest = set(ids) - set(ch["moved"]) - set(ch["exited"])
    assert len(rest) == n - 2 * k
    for i in rest:
        assert where(gs[i]) == first, gs[i]


@pytest.mark.parametrize("new", ["0", "1"], ids=["same-table", "new-goroutines"])
@pytest.mark.parametrize("opts", [(), ("--no-precopy",)], ids=["precopy", "no-precopy"])
def test_goroutines_changed_during_the_precopy_are_read_again(targets, program, tmp_path, opts,
                                                              new):
    """Moved and ended goroutines (the table itself unchanged: the stop reads
    the Gs again and decodes those whose bytes changed), and new goroutines
    besides (the table may grow: the stop copies it whole)."""
    check_changes_read_again(targets, program, tmp_path, 3000, 200, opts, new)


@pytest.mark.parametrize("new", ["0", "1"], ids=["same-table", "new-goroutines"])
def test_changes_in_every_batch_of_a_large_table(targets, program, tmp_path, new):
    """40,000 goroutines: the pre-copy reads (and unwinds) the table in
    several batches, the registers of one batch reused by the next; the
    goroutines changed are spread over all of them."""
    check_changes_read_again(targets, program, tmp_path, 40000, 1000, (), new, spread="1",
                             timeout=300)


@pytest.mark.parametrize("opts", [(), ("--no-precopy",)], ids=["precopy", "no-precopy"])
def test_parked_stacks_through_a_pc_in_no_module(targets, program, opts):
    """20,000 parked goroutines, every 97th of them under a frame of code in
    an anonymous page (tests/programs/insp_anon.c): the pre-copy cannot
    finish their walk with the modules it has, keeps their stacks and has
    them unwound after the stop, the others' unwound at once."""
    t = start(targets, program, "insp_anon.c", "20000", "97")
    truth = anon_truth(t)
    assert len(truth[0]) == 20000 and sum(k == "ANON" for k in truth[0].values()) == 207
    check_anon_goroutines(attach_json(t.pid, "goroutines", "-t", opts=opts, timeout=300), truth)


def test_the_stop_reads_again_only_the_goroutines_that_changed(targets, program, tmp_path):
    """With the runtime's state table the stop reads again only the Gs whose
    state word changed since the pre-copy, or was not settled then: the 400
    goroutines the program moved to another wait or ended while goinspect
    was held between its pre-copy and its stop (and the few goroutines
    doing the moving), not the 3000 (summary's goroutines_reread)."""
    done = tmp_path / "changed"
    t = start(targets, program, "insp_rewait.c", "3000", "200", str(done), "0")
    assert len(first_ids(t)) == 3000
    quiet = attach_json(t.pid, "summary")
    assert quiet["goroutines"]["total"] >= 3000
    assert quiet["goroutines_reread"] <= 50, quiet["goroutines_reread"]
    mark = len(t.lines)
    out = under_gdb(PTRACE_SEIZE, ["delete", f"shell kill -HUP {t.pid}",
                                   f"shell timeout 60 sh -c 'until test -e {done}; do sleep 0.01; done'",
                                   "continue"],
                    t.pid, "summary", timeout=120)
    ch = changed(t, mark)
    doc = json.loads(out[out.index('{"'):out.rindex("}") + 1])
    n = len(ch["moved"]) + len(ch["exited"])
    assert n == 400, ch
    assert n <= doc["goroutines_reread"] <= n + 50, doc["goroutines_reread"]


@pytest.mark.parametrize("opts", [(), ("--no-precopy",)], ids=["precopy", "no-precopy"])
def test_parked_under_two_callers_of_the_same_frame_size(targets, program, opts):
    """2000 goroutines parked at one line, under via_a() or via_b() in turn
    (tests/programs/insp_twocallers.c): the same first pc, the same stack
    length, one return address apart.  Each is shown under the caller the
    program says it called, at that caller's line: the pre-copy reuses a
    walk only for a stack with the same return addresses."""
    src = src_path("insp_twocallers.c")
    t = start(targets, program, "insp_twocallers.c", "2000")
    truth = {int(l.split()[1]): l.split()[0] for l in t.lines if l.startswith(("A ", "B "))}
    assert len(truth) == 2000 and sum(v == "A" for v in truth.values()) == 1000
    doc = attach_json(t.pid, "goroutines", "-t", opts=opts, timeout=120)
    gs = {g["id"]: g for g in doc["goroutines"]}
    park = marker_line(src, "WAIT:park")
    for gid, via in truth.items():
        fr = [(f["function"], f["line"]) for f in gs[gid]["frames"]]
        i = fr.index(("park_here", park))
        want = ("via_a", marker_line(src, "CALL:a")) if via == "A" else \
               ("via_b", marker_line(src, "CALL:b"))
        assert fr[i + 1] == want, (gid, via, fr)


PARKPATHS = src_path("insp_parkpaths.c")
PARKPATHS_REASONS = {"final_chan": "chan receive", "final_select": "select",
                 "final_mutex": "sync.Mutex.Lock", "final_sleep": "sleep",
                 "final_wg": "sync.WaitGroup.Wait"}


@pytest.mark.parametrize("opts", [(), ("--no-precopy",)], ids=["precopy", "no-precopy"])
def test_goroutines_through_every_park_between_precopy_and_stop(targets, program, tmp_path,
                                                                opts):
    """1000 goroutines parked on a channel each; while goinspect is held
    between its pre-copy and its stop, each is woken and goes through every
    kind of park (tests/programs/insp_parkpaths.c: channel ping-pong, which
    parks by handing the thread straight to the partner; a contended mutex;
    sleep; a waitgroup; select), then parks for good in the wait the
    program names.  Each is listed there, waiting for what it waits for:
    none is left as the pre-copy saw it (its state word changed with every
    park)."""
    done = tmp_path / "changed"
    t = start(targets, program, "insp_parkpaths.c", "1000", str(done))
    ids = first_ids(t)
    assert len(ids) == 1000
    before = {g["id"]: g for g in attach_json(t.pid, "goroutines")["goroutines"]}
    assert all(where(before[i]) == ("first_wait", marker_line(PARKPATHS, "WAIT:first")) for i in ids)
    mark = len(t.lines)
    out = under_gdb(PTRACE_SEIZE, ["delete", f"shell kill -HUP {t.pid}",
                                   f"shell timeout 60 sh -c 'until test -e {done}; do sleep 0.01; done'",
                                   "continue"],
                    t.pid, "goroutines", timeout=120, opts=opts)
    t.wait_line(lambda l: l == "CHANGED", start=mark)
    at = {int(l.split()[1]): l.split()[2] for l in t.lines[mark:] if l.startswith("AT ")}
    assert sorted(at) == sorted(ids)
    doc = json.loads(out[out.index('{"'):out.rindex("}") + 1])
    gs = {g["id"]: g for g in doc["goroutines"]}
    for gid, site in at.items():
        g = gs[gid]
        assert where(g) == (site, marker_line(PARKPATHS, f"WAIT:{site}")), g
        assert g["status"] == "waiting" and g["wait_reason"] == PARKPATHS_REASONS[site], g


@pytest.mark.parametrize("opts", [(), ("--no-precopy",)], ids=["precopy", "no-precopy"])
def test_outermost_frame_with_its_cfa_at_the_frame_pointer(targets, program, opts):
    """200 goroutines parked under fp_outer() (tests/programs/insp_fpcfa.c),
    an outermost frame whose CFA is rbp + 16 with rbp saved there: the same
    first pc, stack length and return addresses for all, rbp in the stack
    for half ("IN") and the address of a global for the others ("OUT").
    The walk of an OUT one reads outside its stack and says so; an IN one
    ends at its start: the pre-copy reuses no walk whose end depends on
    rbp."""
    t = start(targets, program, "insp_fpcfa.c", "200")
    truth = {int(l.split()[1]): l.split()[0] for l in t.lines if l.startswith(("IN ", "OUT "))}
    assert len(truth) == 200 and sum(v == "OUT" for v in truth.values()) == 100
    doc = attach_json(t.pid, "goroutines", "-t", opts=opts, timeout=120)
    gs = {g["id"]: g for g in doc["goroutines"]}
    park = ("wait_here", marker_line(src_path("insp_fpcfa.c"), "WAIT:here"))
    for gid, kind in truth.items():
        g = gs[gid]
        fr = [(f["function"], f["line"]) for f in g["frames"]]
        assert park in fr and g["frames"][-1]["function"] == "fp_outer", g
        want = "read outside the stack" if kind == "OUT" else None
        assert g["stack_error"] == want, (kind, g)
