"""The gdb extension where things are not as they should be: bad commands,
a program without libgort, no process, a runtime not started yet or whose
gort_main has returned, a stripped binary, a corrupt goroutine table
(tests/programs/insp_corrupt.c), and threads stopped inside the context
switch routine.  Every problem is one line "gort: WHAT: WHY", never a
Python traceback (gdblib.gdb checks every run for one)."""
import os
import re

import pytest

from attachlib import marker_line, src_path, start
from conftest import run
from gdblib import backtrace, gdb, goinspect_json, listing, per_goroutine, resume, stop

PARK = src_path("insp_park.c")


def gort_lines(err):
    return [l for l in err.splitlines() if l.startswith("gort: ")]


def test_bad_commands_get_one_line_each(targets, program):
    t = start(targets, program, "insp_park.c", "park")
    sleeper = t.one("sleeper").id
    cases = [
        ("info goroutines -x", "gort: info goroutines: unknown argument '-x' (usage: "
                               "info goroutines [-g [KIND]] [-s STATUS] [--with TEXT])"),
        ("info goroutines -s", "gort: info goroutines: -s needs a value"),
        ("info goroutines --with", "gort: info goroutines: --with needs a value"),
        ("info goroutines -s nosuch", "gort: info goroutines: -s: 'nosuch' is neither a "
                                      "goroutine state nor a wait reason of this runtime"),
        ("info goroutines -s 'chan'", "gort: info goroutines: -s: 'chan' is neither"),
        ("goroutine", "gort: goroutine: usage: goroutine ID|all COMMAND"),
        (f"goroutine {sleeper}", "gort: goroutine: no command given"),
        ("goroutine abc bt", "gort: goroutine: 'abc' is not a goroutine id"),
        ("goroutine 0 bt", "gort: goroutine: '0' is not a goroutine id"),
        ("goroutine -3 bt", "gort: goroutine: '-3' is not a goroutine id"),
        ("goroutine 99999 bt", "gort: goroutine 99999: no such goroutine"),
        (f"goroutine {sleeper} print nosuchvar",
         f'gort: goroutine {sleeper}: No symbol "nosuchvar" in current context.'),
        (f"goroutine {sleeper} nosuchcommand",
         f'gort: goroutine {sleeper}: Undefined command: "nosuchcommand".'),
        ("print $gort_g(99999)", "gort: $gort_g: no goroutine 99999"),
        ("print $gort_g()", "gort: $gort_g: usage: $gort_g(ID)"),
        ('print $gort_g("x")', "gort: $gort_g: ID must be a goroutine id"),
        ("print $gort_goid(1)", "gort: $gort_goid: it takes no argument"),
    ]
    out, err = gdb(["-p", str(t.pid)], [c for c, _ in cases])
    lines = gort_lines(err)
    for cmd, want in cases:
        assert [l for l in lines if l.startswith(want)], (cmd, want, err)
    assert len(lines) == len(cases), err
    # one goroutine's problem does not stop `goroutine all`
    out, err = gdb(["-p", str(t.pid)], ["goroutine all print nosuchvar"])
    assert len(gort_lines(err)) == len(t.who), err
    assert len(re.findall(r"^Goroutine \d+ \[", out, re.M)) == len(t.who), out
    t.assert_progress()


def test_program_without_libgort(tmp_path):
    out, err = gdb(["--args", "/bin/sleep", "60"],
                   ["starti", "info goroutines", "goroutine 1 bt", "print $gort_goid()",
                    "kill"])
    msg = "does not link libgort: no symbol gort_runtime_descriptor"
    assert len(gort_lines(err)) == 3 and all(msg in l for l in gort_lines(err)), err


def test_no_process(program):
    exe = program("insp_park.c")
    out, err = gdb([exe], ["info goroutines", "goroutine 1 bt", "goroutine all bt"])
    assert gort_lines(err) == ["gort: no process: run the program, attach to one or load a "
                               "core file"] * 3, err


def test_before_the_runtime_starts(program):
    exe = program("insp_park.c")
    out, err = gdb(["--args", exe, "park"],
                   ["break main", "run", "info goroutines", "info goroutines -g",
                    "goroutine 1 bt", "info gort-heap", "info gort-spans", "info gort-memstats",
                    "info gort-maps", "print $gort_goid()", "kill"])
    assert out.count("No goroutines: the runtime has not started.") == 2, out
    assert gort_lines(err) == ["gort: goroutine 1: no such goroutine"], err
    assert "0 arenas of 64M, 0 spans" in out and "[0 spans]" in out, out
    assert re.search(r"^gc_cpu_fraction +- +the runtime has not started$", out, re.M), out
    assert re.search(r"^\$1 = 0$", out, re.M), out


def test_after_gort_main_returned(program):
    """gort_main has returned and main is about to exit: the goroutines it
    abandoned are still listed, parked where they were, and unwound."""
    exe = program("gdb_after_main.c")
    src = src_path("gdb_after_main.c")
    out, err = gdb(["--args", exe], ["break after_main", "run", "info goroutines",
                                     "goroutine all bt", "kill"])
    assert "RETURNING" in out and "after_main (rc=7)" in out, out
    ids = [int(m.group(1)) for m in re.finditer(r"^G (\d+) abandoned ", out, re.M)]
    assert len(ids) == 3, out
    rows = listing(out)
    # goroutine 1 woke gort_main up: it may not have exited yet
    assert set(int(k) for k in rows) - {1} == set(ids), out
    for gid in ids:
        row = rows[str(gid)]
        assert (row["status"], row["reason"], row["function"]) == \
            ("waiting", "chan receive", "parked"), row
        assert row["line"] == marker_line(src, "WAIT:abandoned"), row
        bt = backtrace(per_goroutine(out)[str(gid)])
        assert [f[1] for f in bt][-3:] == ["parked", "goroutine_main", "gort_gostart"], bt
    assert not gort_lines(err), err


def test_stripped_binary(targets, program, tmp_path):
    """No .symtab and no DWARF: the descriptor is found through .dynsym; the
    goroutines and their pcs are goinspect's; frames are ?? with the
    program's offsets."""
    # gortcc -s keeps the pc-line table (docs/pctab.md): removed, for a
    # binary with nothing that names its code
    exe = str(tmp_path / "insp_park")
    r = run(["objcopy", "--remove-section", ".gort_pctab",
             program("insp_park.c", extra=("-s",)), exe])
    assert r.returncode == 0, r.stderr
    assert ".symtab" not in run(["readelf", "-S", exe]).stdout
    t = start(targets, program, "insp_park.c", "park", exe=exe)
    stop(t)
    try:
        doc = goinspect_json("attach", str(t.pid), "goroutines", "-t")
        out, err = gdb(["-p", str(t.pid)], ["info goroutines", "goroutine all bt"])
    finally:
        resume(t)
    assert not gort_lines(err), err
    rows = listing(out)
    gs = {str(g["id"]): g for g in doc["goroutines"]}
    assert sorted(rows, key=int) == sorted(gs, key=int) == \
        sorted((str(w.id) for w in t.who), key=int)
    bts = per_goroutine(out)
    name = os.path.basename(exe)
    for gid, g in gs.items():
        row = rows[gid]
        assert (row["status"], row["reason"]) == (g["status"], g["wait_reason"]), (row, g)
        u = g["user"]
        if u["module"] == exe:
            assert row["frame"] == f"?? ({name}+{u['offset']:#x})", (row, u)
        # every frame at the pc goinspect found (no DWARF: no inlined frames)
        pcs = [int(m.group(1), 16) for m in
               re.finditer(r"^#\d+\s+0x([0-9a-f]+) in ", bts[gid], re.M)]
        want = [f["pc"] for f in g["frames"]]
        # a frame nothing names is ?? as gdb prints it without the extension
        assert " in  (" not in bts[gid] and " in ?? ()" in bts[gid], bts[gid]
        if g["thread"] is None:
            assert pcs == want, (gid, bts[gid], want)
        else:                   # on a thread: frame 0's pc is printed without 0x... in
            assert pcs == want[len(want) - len(pcs):], (gid, bts[gid], want)
    t.assert_progress()


@pytest.mark.parametrize("mode", ["badptr", "badstatus", "badstack", "badrsp", "badframe",
                                  "hugelen"])
def test_corrupt_goroutine_table(targets, program, mode):
    t = start(targets, program, "insp_corrupt.c", mode)
    victim = t.facts["VICTIM"]
    stop(t)
    try:
        doc = goinspect_json("attach", str(t.pid), "goroutines", "-t")
        out, err = gdb(["-p", str(t.pid)], ["info goroutines", f"goroutine {victim} bt"])
    finally:
        resume(t)
    rows = listing(out)
    for w in t.who:                 # every healthy goroutine is listed as usual
        row = rows[str(w.id)]
        assert row["function"] and not row["frame"].startswith("error:"), row
    errors = {str(g["id"]) if g["id"] is not None else "?0": g for g in doc["goroutines"]
              if g["error"] or g["stack_error"]}
    if mode == "hugelen":
        assert not errors and victim in rows
        assert "gort: warning: the goroutine table claims 1099511627776 entries" in err, err
    else:
        (key, g), = errors.items()
        row = rows[key]
        if g["error"]:
            assert row["frame"] == f"error: {g['error']}", (row, g)
            if g["id"] is not None:
                assert f"gort: goroutine {victim}: {g['error']}" in err, err
            else:
                assert f"gort: goroutine {victim}: no such goroutine" in err, err
        else:
            assert row["frame"].endswith(f"[stack walk stopped: {g['stack_error']}]"), (row, g)
    t.assert_progress()


def switch_offsets(exe):
    """Offsets in gort_switch: its entry, the first instruction on the
    other stack (after `lea -0x8(%rax),%rsp`) and its ret."""
    out, _ = gdb([exe], ["disassemble gort_switch"], source=False)
    insns = re.findall(r"<\+(\d+)>:\s+(\S+)\s*(.*)$", out, re.M)
    after = [int(insns[i + 1][0]) for i, (_o, op, args) in enumerate(insns)
             if op == "lea" and args.replace(" ", "") == "-0x8(%rax),%rsp"]
    rets = [int(o) for o, op, _a in insns if op == "ret"]
    assert len(after) == 1 and len(rets) == 1, out
    return [0, after[0], rets[0]]


@pytest.mark.parametrize("where", range(3), ids=["entry", "other-stack", "ret"])
def test_thread_stopped_in_the_context_switch(program, where):
    """A thread stopped anywhere in gort_switch (or in what gort_switch_call
    runs on the other stack): gdb's own backtraces and the extension's
    listing and goroutine backtraces, at several switches, without a
    broken unwind."""
    exe = program("insp_park.c")
    off = switch_offsets(exe)[where]
    round_ = ["thread apply all bt", "info goroutines", "goroutine all bt"]
    out, err = gdb(["--args", exe, "park"],
                   [f"break *gort_switch+{off}", "break unlock_chan", "run", *round_,
                    "continue 5", *round_, "continue 20", *round_, "kill"])
    text = out + err
    assert out.count("hit Breakpoint") == 3, out
    for bad in ("previous frame identical to this frame", "corrupt stack",
                "previous frame inner to this frame", "Backtrace stopped"):
        assert bad not in text, text
    assert not gort_lines(err), err
    assert len(re.findall(r"^\[\d+ goroutines?\]$", out, re.M)) == 3, out
    rows = listing(out)
    assert rows and not [k for k in rows if k.startswith("?")], out
