"""The runtime descriptor is enough.

A program (tests/programs/rt_states.c) holds goroutines in known states and
prints them.  From outside, with only the ELF symbol table and the
descriptor's own names, offsets and sizes (tests/gortdesc.py reads
/proc/PID/mem; it hard-codes nothing but the descriptor header that
docs/metadata.md fixes), the tests find every goroutine with its status,
wait reason, stack, creator and thread, and check them against what the
program printed, /proc and readelf.
"""
import os
import re
import time

import pytest

import gortdesc
from conftest import ROOT, run, wait_until
from rtlib import COMPILERS, PROCS, LiveLines, facts, goroutines, start_rt, thread_names

# The fields and roots docs/metadata.md promises for version 1, with sizes.
DOC_FIELDS = {
    "g": {"goid": 8, "status": 4, "waitreason": 4, "waitsince": 8, "startpc": 8, "gopc": 8,
          "parentgoid": 8, "ctx.rsp": 8, "ctx.rip": 8, "ctx.rbp": 8, "ctx.rbx": 8,
          "ctx.r12": 8, "ctx.r13": 8, "ctx.r14": 8, "ctx.r15": 8, "stacklo": 8,
          "stackhi": 8, "m": 8, "lockedm": 8, "lockcount": 4, "schedlink": 8},
    "m": {"id": 8, "procid": 8, "curg": 8, "p": 8, "lockedg": 8, "spinning": 4,
          "blocked": 4, "alllink": 8, "stacklo": 8, "stackhi": 8},
    "p": {"id": 4, "status": 4, "m": 8, "runqhead": 4, "runqtail": 4, "runnext": 8,
          "schedtick": 4, "syscalltick": 4},
    "sched": {"goidgen": 8, "mnext": 8, "nmidle": 4, "nmidlelocked": 4, "nmspinning": 4,
              "npidle": 4, "runqsize": 4, "runq.head": 8},
}
DOC_ROOTS = {"allgs": 8, "allglen": 8, "allm": 8, "allp": 8, "gomaxprocs": 4,
             "runtime_start": 8, "stack_size": 8}
GSTATUS = ["idle", "runnable", "running", "syscall", "waiting", "dead"]
PSTATUS = ["idle", "running", "syscall", "gcstop", "dead"]
WAITREASONS = ["chan receive", "chan send", "chan receive (nil chan)", "chan send (nil chan)",
               "select", "select (no cases)", "sleep", "sync.Mutex.Lock",
               "sync.WaitGroup.Wait", "sync.Once.Do"]


def stripped_copy(exe, tmp_path):
    out = str(tmp_path / (os.path.basename(exe) + "-stripped"))
    r = run(["strip", "--strip-all", "-o", out, exe])
    assert r.returncode == 0, r.stderr
    return out


def start_states(program, targets, tmp_path, compiler, procs, stripped=False, env=None):
    exe = program("rt_states.c", compiler)
    if stripped:
        exe = stripped_copy(exe, tmp_path)
    proc, out = start_rt(targets, exe, "states", procs, env)
    rt = gortdesc.Runtime(proc.pid)
    return proc, out, rt


@pytest.fixture
def states(program, targets, tmp_path):
    opened = []

    def start(*args, **kw):
        proc, out, rt = start_states(program, targets, tmp_path, *args, **kw)
        opened.append(rt)
        return proc, out, rt
    yield start
    for rt in opened:
        rt.close()


@pytest.mark.parametrize("compiler", COMPILERS)
def test_descriptor_names_what_the_contract_promises(states, compiler):
    proc, out, rt = states(compiler, 2)
    d = rt.desc
    assert rt.symtable == ".symtab"
    assert d.version in gortdesc.KNOWN_VERSIONS and d.ptr_size == 8
    assert d.size >= gortdesc.HDR_MIN_SIZE
    assert d.runtime_version.startswith("gort ")
    assert d.generation() % 2 == 0
    for tname, fields in DOC_FIELDS.items():
        t = d.types[tname]
        for fname, size in fields.items():
            assert t.fields.get(fname, (None, None))[1] == size, (tname, fname)
    runq = d.types["p"].fields["runq"][1]
    assert runq and runq % 8 == 0
    assert d.enums["gstatus"] == GSTATUS
    assert d.enums["pstatus"] == PSTATUS
    assert d.enums["waitreason"][0] == ""
    assert set(WAITREASONS) <= set(d.enums["waitreason"])
    for name, size in DOC_ROOTS.items():
        assert d.root(name)[1] == size, name
    assert d.root("sched")[1] == d.types["sched"].size
    assert rt.func_at(d.root("gostart")[0]) == "gort_gostart"
    # runtime_start is a CLOCK_MONOTONIC time in the past
    start = d.read_root_int("runtime_start", signed=True)
    assert 0 < start <= time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    assert d.read_root_int("stack_size") == 64 * 1024


def check_goroutines(rt, out, check_symbols):
    """Every goroutine the program printed is in the all-G table with the
    state, stack, creator and thread it printed, and there are no others."""
    truth = goroutines(out)
    f = facts(out)
    gs = {g["goid"]: g for g in rt.goroutines()}
    assert sorted(gs) == sorted(truth)
    assert int(f["X"]) not in gs               # the goroutine that exited
    assert int(f["numgoroutine"].split()[0]) == len(gs)

    d = rt.desc
    stack_size = d.read_root_int("stack_size")
    start = d.read_root_int("runtime_start", signed=True)
    now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    for gid, t in truth.items():
        g = gs[gid]
        what = f"goroutine {gid} ({t['fn']}): {dict(g)}"
        assert g["status_name"] == t["status"], what
        assert g["reason_name"] == t["reason"], what
        assert g["parentgoid"] == (t["parent"] if gid != 1 else 0), what
        if t["local"]:
            assert g["stacklo"] <= t["local"] < g["stackhi"], what
            assert g["stackhi"] - g["stacklo"] == stack_size, what
        else:                                   # never ran: no stack yet
            assert g["stacklo"] == 0 and g["stackhi"] == 0, what
        if check_symbols and gid != 1:
            assert rt.func_at(g["startpc"]) == t["fn"], what
            assert rt.func_at(g["gopc"] - 1) == t["creator"], what
        if t["status"] == "waiting":
            assert start <= g.signed("waitsince") <= now, what
        if t["status"] in ("waiting", "syscall"):
            # the saved stack pointer is on its own stack
            assert g["stacklo"] <= g["ctx.rsp"] < g["stackhi"], what
        if t["status"] == "syscall" and check_symbols:
            # saved on entering gort_syscall_enter: rip is in its caller
            assert rt.func_at(g["ctx.rip"]) == t["fn"], what
        if t["status"] == "running":
            m = d.read("m", g["m"])
            assert m["procid"] == t["tid"] and m["curg"] == g.addr, what
        if t["locked"]:
            m = d.read("m", g["lockedm"])
            assert m["procid"] == t["tid"] and m["lockedg"] == g.addr, what
            assert g["lockcount"] >= 1, what
        else:
            assert g["lockedm"] == 0, what
    return truth, gs


@pytest.mark.parametrize("compiler", COMPILERS)
def test_descriptor_text_root_holds_the_runtime_code(states, compiler):
    """Roots `text_start`, `text_end`: [text_start, text_end) is the runtime's
    code (the gort_text section): it holds gort_gostart and the saved rip of every waiting
    goroutine (parked inside a runtime function), and no user function."""
    proc, out, rt = states(compiler, 2)
    d = rt.desc
    assert d.root("text_start")[1] == d.root("text_end")[1] == 0
    lo, hi = d.text_range()
    assert lo < hi
    assert lo <= d.root("gostart")[0] < hi
    for name in ("gort_chan_recv", "gort_go", "gort_main"):
        assert lo <= rt.elf.lookup(name)[0] + rt.bias < hi, name
    truth = goroutines(out)
    for g in rt.goroutines():
        t = truth[g["goid"]]
        if t["status"] == "waiting":
            assert lo <= g["ctx.rip"] < hi, (t, dict(g))
        if g["goid"] != 1:       # start functions are the program's own
            assert not lo <= g["startpc"] < hi, (t, dict(g))


@pytest.mark.parametrize("stripped", [False, True], ids=["symtab", "stripped"])
@pytest.mark.parametrize("procs", PROCS)
@pytest.mark.parametrize("compiler", COMPILERS)
def test_descriptor_finds_every_goroutine(states, compiler, procs, stripped):
    proc, out, rt = states(compiler, procs, stripped=stripped)
    assert rt.symtable == (".dynsym" if stripped else ".symtab")
    truth, _ = check_goroutines(rt, out, check_symbols=not stripped)
    reasons = {t["reason"] for t in truth.values()}
    assert set(WAITREASONS) <= reasons
    assert {"running", "runnable", "syscall", "waiting"} == {t["status"] for t in truth.values()}


@pytest.mark.parametrize("procs", PROCS)
@pytest.mark.parametrize("compiler", COMPILERS)
def test_descriptor_threads_and_processors(states, compiler, procs):
    proc, out, rt = states(compiler, procs)
    truth, gs = check_goroutines(rt, out, check_symbols=True)
    d = rt.desc
    by_addr = {g.addr: g for g in gs.values()}

    # Ms: each one a thread of the process named gort-m<id>
    names = thread_names(proc.pid)
    ms = rt.ms()
    assert len(ms) == rt.sched()["mnext"]
    assert sorted(m["id"] for m in ms) == list(range(len(ms)))
    for m in ms:
        assert names.get(m["procid"]) == f"gort-m{m['id']}", (dict(m), names)
        assert m["stacklo"] < m["stackhi"]
    assert {t for t, n in names.items() if n.startswith("gort-m")} == {m["procid"] for m in ms}

    # Ps: GOMAXPROCS of them, every one held by an M running one of the
    # goroutines that keep their P (raw read()s and goroutine 1)
    assert d.read_root_int("gomaxprocs", signed=True) == procs
    ps = rt.ps()
    assert [p["id"] for p in ps] == list(range(procs))
    running = {g.addr for g in gs.values() if g["status_name"] == "running"}
    assert len(running) == procs
    ms_by_addr = {m.addr: m for m in ms}
    for p in ps:
        assert p["status_name"] == "running", dict(p)
        m = ms_by_addr[p["m"]]
        assert m["p"] == p.addr and m["curg"] in running

    # the goroutine that never ran waits in exactly one run queue
    (pending,) = [g for g in gs.values() if g["status_name"] == "runnable"]
    queued = rt.global_runq()
    for p in ps:
        queued += rt.runq(p) + ([p["runnext"]] if p["runnext"] else [])
    assert queued.count(pending.addr) == 1
    assert all(a in by_addr for a in queued)
    assert rt.sched()["goidgen"] >= max(gs)
    assert d.generation() % 2 == 0


@pytest.mark.parametrize("compiler", COMPILERS)
def test_stack_size_from_environment(states, compiler):
    proc, out, rt = states(compiler, 1, env={"GORT_STACK_KB": "128"})
    assert rt.desc.read_root_int("stack_size") == 128 * 1024
    check_goroutines(rt, out, check_symbols=True)


@pytest.mark.parametrize("compiler", COMPILERS)
def test_stripped_binary_keeps_the_descriptor_in_dynsym(program, tmp_path, compiler):
    exe = stripped_copy(program("rt_states.c", compiler), tmp_path)
    sections = run(["readelf", "-SW", exe]).stdout
    assert ".symtab" not in sections
    dyn = run(["readelf", "--dyn-syms", "-W", exe]).stdout
    rows = [line.split() for line in dyn.splitlines() if line.endswith(" gort_runtime_descriptor")]
    assert len(rows) == 1 and rows[0][3] == "OBJECT" and rows[0][4] == "GLOBAL", dyn
    elf = gortdesc.Elf(exe)
    assert elf.lookup("gort_runtime_descriptor") == (int(rows[0][1], 16), ".dynsym")


@pytest.mark.parametrize("compiler", COMPILERS)
def test_gortdesc_report(program, targets, compiler):
    """The report `make demo` prints lists every goroutine."""
    exe = program("rt_states.c", compiler)
    proc, out = start_rt(targets, exe, "states", 2)
    r = run(["/usr/bin/python3", os.path.join(os.path.dirname(__file__), "gortdesc.py"),
             str(proc.pid)])
    assert r.returncode == 0, r.stderr
    assert "  GOMAXPROCS   2\n" in r.stdout
    rows = {int(line.split()[0]): line for line in r.stdout.splitlines()
            if line.strip() and line.split()[0].isdigit()}
    truth = goroutines(out)
    assert sorted(rows) == sorted(truth)
    for gid, t in truth.items():
        assert rows[gid].split()[1] == t["status"], rows[gid]
        if t["reason"]:
            assert f" {t['reason']} " in rows[gid], rows[gid]
        if gid != 1:
            assert f"{t['creator']} in goroutine {t['parent']}" in rows[gid], rows[gid]
    bad = run(["/usr/bin/python3", os.path.join(os.path.dirname(__file__), "gortdesc.py"),
               str(os.getpid())])
    assert bad.returncode == 1 and "gortdesc: process" in bad.stderr


def test_gortdesc_needs_no_third_party_module():
    src = open(os.path.join(os.path.dirname(__file__), "gortdesc.py")).read()
    imports = {line.split()[1].split(".")[0] for line in src.splitlines()
               if line.startswith(("import ", "from "))}
    assert imports <= {"bisect", "os", "struct", "sys", "time"}


@pytest.mark.parametrize("compiler", COMPILERS)
def test_demo_goroutines_wait_for_what_it_says(program, targets, compiler):
    """examples/demo.c names, for each goroutine it leaves waiting, the wait
    reason (or "syscall") in brackets; the descriptor agrees."""
    exe = program(os.path.join(ROOT, "examples", "demo.c"), compiler)
    proc = targets.start([exe], env={"GORT_MAXPROCS": "2"})
    lines = LiveLines(proc)
    lines.until(lambda line: line.startswith("demo: goroutine 1 waits"))
    said = {}
    for line in lines.lines:
        m = re.match(r"^  goroutine (\d+) +.*\[([^\],]+)[^\]]*\]$", line)
        if m:
            said[int(m.group(1))] = m.group(2)
    said[1] = "chan receive"

    want = {gid: ("syscall", None) if what.startswith("syscall") else ("waiting", what)
            for gid, what in said.items()}

    def seen():
        rt = gortdesc.Runtime(proc.pid)
        try:
            gs = {g["goid"]: g for g in rt.goroutines()}
        finally:
            rt.close()
        return {gid: (gs[gid]["status_name"],
                      None if gs[gid]["status_name"] == "syscall" else gs[gid]["reason_name"])
                for gid in said}

    # the goroutines reach their waits in their own time
    wait_until(lambda: seen() == want, timeout=10,
               what=lambda: f"the waits the demo named: want {want}, seen {seen()}")
    assert set(WAITREASONS) <= set(said.values())
