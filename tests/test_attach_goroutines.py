"""goinspect attach PID goroutines / goroutine ID: every goroutine of a live
program, checked against the program's own truth (ids, where each one waits,
where it was created: lines marked in tests/programs/insp_park.c) and
against binutils addr2line for every frame of every stack (and gdb's
`info symbol` for the names of frames without debug info)."""
import os

import pytest

from attachlib import (attach, attach_json, debug_info_for, line_id, load_base, marker_line,
                       same_function, src_path, start, symbolizer_oracle)
from conftest import BUILDS
from sym_helpers import gdb_info_symbol

PARK = src_path("insp_park.c")
COMMON = src_path("insp_common.h")

# kind -> (status, wait reason, user function, its marker, creator, its marker)
EXPECT = {
    "recv_waiter": ("waiting", "chan receive", "recv_waiter", "WAIT:recv", "GO:recv"),
    "send_waiter": ("waiting", "chan send", "send_waiter", "WAIT:send", "GO:send"),
    "select_waiter": ("waiting", "select", "select_waiter", "WAIT:select", "GO:start"),
    "mutex_waiter": ("waiting", "sync.Mutex.Lock", "mutex_waiter", "WAIT:mutex", "GO:start"),
    "wg_waiter": ("waiting", "sync.WaitGroup.Wait", "wg_waiter", "WAIT:wg", "GO:start"),
    "sleeper": ("waiting", "sleep", "sleeper", "WAIT:sleep", "GO:start"),
    "inline_waiter": ("waiting", "chan receive", "inlined_wait", "WAIT:inlined", "GO:start"),
    "syscall_waiter": ("syscall", "", "syscall_waiter", "WAIT:syscall", "GO:start"),
    "deep_waiter": ("waiting", "chan receive", "deep", "WAIT:deep", "GO:start"),
}


def compilers():
    out = ["gcc"]
    if os.path.exists(os.path.join(BUILDS["clang"], "bin", "gortcc")):
        out.append("clang")
    return out


@pytest.fixture(params=compilers())
def park(request, targets, program):
    return start(targets, program, "insp_park.c", "park", compiler=request.param)


def by_id(doc):
    return {g["id"]: g for g in doc["goroutines"]}


def test_every_goroutine_where_it_waits_and_where_it_was_created(park):
    doc = attach_json(park.pid, "goroutines")
    gs = by_id(doc)
    assert sorted(gs) == sorted(w.id for w in park.who), "goroutine ids differ from the program's"
    assert doc["total"] == len(park.who)
    assert doc["pause_ns"] > 0
    for w in park.who:
        if w.kind not in EXPECT:
            continue
        status, reason, fn, wait, go = EXPECT[w.kind]
        g = gs[w.id]
        assert (g["status"], g["wait_reason"]) == (status, reason), (w, g)
        assert g["user"]["function"] == fn, (w, g["user"])
        assert g["user"]["file"].endswith("insp_park.c"), g["user"]
        assert g["user"]["line"] == marker_line(PARK, wait), (w, g["user"])
        assert g["created_by"]["line"] == marker_line(PARK, go), (w, g["created_by"])
        assert g["created_by"]["goroutine"] == 1
        assert g["error"] is None and g["stack_error"] is None
    # goroutine 1 printed READY just before it parks: it may not be parked yet
    main = gs[park.one("main").id]
    assert main["created_by"] is None and main["id"] == 1
    park.assert_progress()


def test_text_lines_name_each_goroutine(park):
    r = attach(park.pid, "goroutines")
    assert r.returncode == 0, r.stderr
    lines = [l for l in r.stdout.splitlines() if "Goroutine " in l]
    assert len(lines) == len(park.who)
    for w in park.who:
        if w.kind not in EXPECT:
            continue
        status, reason, fn, wait, _ = EXPECT[w.kind]
        (line,) = [l for l in lines if line_id(l) == str(w.id)]
        assert f"User: {fn} {PARK}:{marker_line(PARK, wait)} " in line, line
        assert f"[{reason or status}" in line, line
    park.assert_progress()


@pytest.fixture(params=["none", "system"])
def debug_info(request, park):
    """Without the system's debug files (--debug-file-directory '', as on a
    machine without libc6-dbg), and with them where the system has libc's."""
    return debug_info_for(request.param, park.pid)


def same_frames(got, want):
    """Frame lists alike: the same files, lines and function names."""
    return len(got) == len(want) and all(
        (gf, gl) == (wf, wl) and same_function(gn, wn)
        for (gn, gf, gl), (wn, wf, wl) in zip(got, want))


def check_symbol_names(named, debug):
    """Frames named from a symbol table, [(module, addr, got, want)]: the
    name gdb's `info symbol` gives (of aliases at one address gdb's
    minimal symbols take another than binutils: read where addr2line says
    __read), the symbolizer's file and line."""
    by_module = {}
    for module, addr, got, want in named:
        by_module.setdefault(module, []).append((addr, got, want))
    for module, frames in by_module.items():
        names = gdb_info_symbol(module, [a for a, _, _ in frames], debug.gdb)
        for (addr, got, want), name in zip(frames, names):
            (_, wf, wl), = want
            assert got == [(name.split(" + ")[0], wf, wl)], f"{module}+{addr:#x}: {got} {name}"


def test_every_frame_matches_addr2line(park, debug_info):
    doc = attach_json(park.pid, "goroutines", "-t", pre=debug_info.goinspect)
    checked, named = 0, []
    for g in doc["goroutines"]:
        frames = g["frames"]
        assert frames, g
        assert frames[-1]["function"] == "gort_gostart", "walk does not reach the start frame"
        i = 0
        while i < len(frames):
            # the frames of one pc: an inline chain, innermost first, ending
            # with the function that holds it
            j = i
            while j < len(frames) - 1 and frames[j]["inlined"]:
                assert frames[j + 1]["pc"] == frames[j]["pc"]
                j += 1
            j += 1
            f = frames[i]
            module = f["module"]
            # offset: the pc in the module's own addresses (by /proc/PID/maps)
            assert f["offset"] == f["pc"] - load_base(park.pid, module)
            addr = f["offset"] - (0 if f["exact"] else 1)
            # a frame without a source file (a library without debug info)
            # is "??" to the symbolizers
            norm = lambda fr: [(fn or "??", os.path.normpath(fl) if fl else "??", ln)
                               for fn, fl, ln in fr]
            got = norm([(x["function"], x["file"], x["line"]) for x in frames[i:j]])
            want = symbolizer_oracle(module, addr, got, norm, debug_info)
            if want[0][0] != "??" and len(want) == 1 and want[0][1] == "??":
                named.append((module, addr, got, want))
                checked += 1
            elif want[0][0] != "??":
                assert same_frames(got, want), f"goroutine {g['id']} pc {f['pc']:#x}: {got} {want}"
                checked += 1
            elif debug_info.name == "none" and "/libc.so" in module:
                # nothing names it: neither do we
                assert got[0][0] == "??", f"goroutine {g['id']} pc {f['pc']:#x}: {got}"
            i = j
    check_symbol_names(named, debug_info)
    assert checked >= 3 * len(doc["goroutines"])
    park.assert_progress()


def test_inlined_call_is_a_frame_of_its_own(park):
    w = park.one("inline_waiter")
    doc = attach_json(park.pid, "goroutine", str(w.id))
    frames = doc["goroutine"]["frames"]
    names = [f["function"] for f in frames]
    k = names.index("inlined_wait")
    inl, caller = frames[k], frames[k + 1]
    assert inl["inlined"] and not caller["inlined"]
    assert caller["function"] == "inline_waiter"
    assert inl["pc"] == caller["pc"]
    assert inl["line"] == marker_line(PARK, "WAIT:inlined")
    assert caller["line"] == marker_line(PARK, "CALL:inlined")
    r = attach(park.pid, "goroutine", str(w.id))
    assert "in inlined_wait (inlined)" in r.stdout
    park.assert_progress()


def test_deep_stack_is_walked_to_its_start(park):
    w = park.one("deep_waiter")
    doc = attach_json(park.pid, "goroutine", str(w.id))
    names = [f["function"] for f in doc["goroutine"]["frames"]]
    deep = [f for f in doc["goroutine"]["frames"] if f["function"] == "deep"]
    assert len(deep) == 21, names
    assert deep[0]["line"] == marker_line(PARK, "WAIT:deep")
    assert {f["line"] for f in deep[1:]} == {marker_line(PARK, "CALL:deep")}
    assert names[names.index("deep") + 21] == "deep_waiter"
    assert names[-1] == "gort_gostart"


def test_groups_count_identical_stacks(park):
    doc = attach_json(park.pid, "goroutines", "-g")
    groups = doc["groups"]
    counts = [g["count"] for g in groups]
    assert counts == sorted(counts, reverse=True)
    assert sum(counts) == len(park.who)
    seen = sorted(i for g in groups for i in g["ids"])
    assert seen == sorted(w.id for w in park.who)
    for kind in ("recv_waiter", "send_waiter"):
        ids = sorted(park.ids(kind))
        (grp,) = [g for g in groups if g["ids"] == ids]
        assert grp["count"] == len(ids)
        assert grp["wait_reason"] == EXPECT[kind][1]
        assert kind in [f["function"] for f in grp["frames"]]
    r = attach(park.pid, "goroutines", "-g")
    assert r.stdout.startswith("3 goroutines [chan receive]: goroutines "), r.stdout[:200]


def test_filters_and_limit(park):
    def ids(*args):
        return sorted(g["id"] for g in attach_json(park.pid, "goroutines", *args)["goroutines"])

    assert ids("-s", "chan send") == sorted(park.ids("send_waiter"))
    assert ids("-s", "syscall") == park.ids("syscall_waiter")
    waiting = ids("-s", "waiting")
    for kind, e in EXPECT.items():
        for i in park.ids(kind):
            assert (i in waiting) == (e[0] == "waiting"), kind
    assert ids("--with", "recv_waiter") == sorted(park.ids("recv_waiter"))
    in_file = ids("--with", "insp_park.c")
    assert in_file == sorted(w.id for w in park.who if w.kind not in ("ticker", "worker"))
    doc = attach_json(park.pid, "goroutines", "-n", "3")
    assert len(doc["goroutines"]) == 3 and doc["matched"] == len(park.who)
    r = attach(park.pid, "goroutines", "-s", "no such state")
    assert r.returncode == 2 and "neither a goroutine state nor a wait reason" in r.stderr
    park.assert_progress()


def test_depth_limits_the_stack(park):
    w = park.one("deep_waiter")
    doc = attach_json(park.pid, "goroutines", "-t", "4")
    (g,) = [g for g in doc["goroutines"] if g["id"] == w.id]
    assert len(g["frames"]) == 4
    r = attach(park.pid, "goroutines", "-t", "4")
    assert "more frames)" in r.stdout


def test_goroutine_that_never_ran_is_at_its_start_function(targets, program):
    t = start(targets, program, "insp_park.c", "pending")
    pending = t.one("pending")
    doc = attach_json(t.pid, "goroutine", str(pending.id))
    g = doc["goroutine"]
    assert g["status"] == "runnable"
    assert g["current"]["function"] == "pending"
    assert [f["function"] for f in g["frames"]] == ["pending"]
    assert g["created_by"]["line"] == marker_line(PARK, "GO:pending")


def test_unknown_goroutine_id(park):
    r = attach(park.pid, "goroutine", "999999")
    assert r.returncode == 1
    assert r.stderr.startswith("goinspect: goroutine 999999: no such goroutine")
    park.assert_progress()
