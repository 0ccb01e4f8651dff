"""goinspect core CORE: the views of attach from core files written by the
kernel and by gdb's gcore, against what attach showed of the same stopped
process just before (tests/programs/insp_park.c), and how the process
ended (tests/programs/insp_crash.c, which prints its own truth)."""
import os
import re
import signal

import pytest

from attachlib import (addr2line, anon_truth, attach_json, check_anon_goroutines, load_base,
                       prompt, read_until, src_path)
from conftest import ROOT, run
from corelib import (core, core_json, frames_key, gdb_core, goroutine_facts, kernel_core,
                     start_dumpable, stopped)


@pytest.fixture
def park(targets, program, tmp_path):
    """insp_park in park mode, stopped (SIGSTOP): nothing changes from now on
    until it is killed."""
    t = start_dumpable(targets, program, "insp_park.c", "park", cwd=str(tmp_path))
    stopped(t)
    return t


def live_views(t):
    """What attach shows of the stopped target."""
    return {"goroutines": attach_json(t.pid, "goroutines", "-t"),
            "memstats": attach_json(t.pid, "memstats"),
            "threads": attach_json(t.pid, "threads", "-t"),
            "summary": attach_json(t.pid, "summary")}


def memstats_facts(doc):
    m = dict(doc["memstats"])
    # measured to the moment of reading
    for k in ("gc_cpu_fraction",):
        m.pop(k, None)
    return m


def check_same_as_live(live, path, t, kernel=False):
    """The core at path shows what attach showed of t.  A kernel core is
    written after SIGCONT let t run a moment: its ticker and worker may have
    moved; every other goroutine waits for good."""
    doc = core_json(path, "goroutines", "-t")
    assert doc["target"] == "core" and doc["core"] == os.path.realpath(path)
    assert doc["pid"] == t.pid and doc["pause_ns"] == 0
    moving = {w.id for w in t.who if w.kind in ("ticker", "worker", "main")} if kernel else set()
    ids = {g["id"] for g in live["goroutines"]["goroutines"]} - moving
    assert goroutine_facts(doc, ids) == goroutine_facts(live["goroutines"], ids)
    assert {g["id"] for g in doc["goroutines"]} == {w.id for w in t.who}
    if not kernel:
        assert memstats_facts(core_json(path, "memstats")) == memstats_facts(live["memstats"])
        threads = core_json(path, "threads", "-t")["threads"]
        lt = {th["tid"]: th for th in live["threads"]["threads"]}
        assert sorted(th["tid"] for th in threads) == sorted(lt)
        for th in threads:
            want = lt[th["tid"]]
            assert (th["m"], th["p"], th["goroutine"], th["pc"], th["sp"]) == \
                   (want["m"], want["p"], want["goroutine"], want["pc"], want["sp"]), th
            assert [f["function"] for f in th["frames"]] == \
                   [f["function"] for f in want["frames"]], th["tid"]
    s = core_json(path, "summary")
    ls = live["summary"]
    assert s["executable"] == ls["executable"] and s["gomaxprocs"] == ls["gomaxprocs"]
    assert s["goroutines"]["total"] == ls["goroutines"]["total"]
    return doc


def test_gdb_gcore_shows_what_attach_showed(park, tmp_path):
    live = live_views(park)
    path = gdb_core(park.pid, str(tmp_path / "gdb.core"))
    check_same_as_live(live, path, park)
    s = core_json(path, "summary")
    assert s["ended"]["alive"] is True and s["ended"]["signal"] is None
    r = core(path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"core {path} (PID {park.pid}, ")
    assert "ended        not: dumped alive" in r.stdout


def test_kernel_core_shows_what_attach_showed(park, tmp_path):
    live = live_views(park)
    path = kernel_core(park, signal.SIGQUIT, str(tmp_path))
    check_same_as_live(live, path, park, kernel=True)
    s = core_json(path, "summary")["ended"]
    assert (s["alive"], s["signal"], s["code_name"]) == (False, "SIGQUIT", "SI_USER")
    # a signal sent to the process is taken by whichever thread can
    threads = {th["tid"] for th in live["threads"]["threads"]}
    assert s["sender"] == os.getpid() and s["thread"] in threads


@pytest.mark.parametrize("mode,sig,code", [("segv", "SIGSEGV", "SEGV_MAPERR"),
                                           ("fpe", "SIGFPE", "FPE_INTDIV")])
def test_summary_says_how_it_ended(targets, program, tmp_path, mode, sig, code):
    t = start_dumpable(targets, program, "insp_crash.c", mode, cwd=str(tmp_path))
    crasher = t.one("crasher")
    os.kill(t.pid, signal.SIGUSR1)          # the crasher goes
    line = t.lines[t.wait_line(lambda l: l.startswith("CRASH "))]
    facts = dict(w.split("=", 1) for w in line.split()[1:])
    t.proc.wait(timeout=30)
    assert t.proc.returncode == -getattr(signal, sig)
    (path,) = [os.path.join(tmp_path, f) for f in os.listdir(tmp_path) if f.startswith("core")]
    e = core_json(path, "summary")["ended"]
    assert (e["alive"], e["signal"], e["code_name"]) == (False, sig, code)
    assert e["thread"] == int(facts["tid"]) and e["goroutine"] == crasher.id
    if mode == "segv":
        assert e["addr"] == int(facts["addr"], 16)
    r = core(path)
    want = (f"ended        by {sig} ({code}, address {e['addr']:#x}) on thread {facts['tid']}, "
            f"running goroutine {crasher.id}")
    assert want in r.stdout, r.stdout
    # the goroutine that took the signal is unwound from its thread's registers
    g = [g for g in core_json(path, "goroutines", "-t")["goroutines"] if g["id"] == crasher.id][0]
    assert g["status"] == "running" and g["thread"] == int(facts["tid"])
    assert g["frames"][0]["exact"] and g["user"]["function"] == f"crash_{mode}"
    assert g["user"]["line"] == marker_line_of(f"CRASH:{mode}")


def marker_line_of(marker):
    path = src_path("insp_crash.c")
    with open(path) as f:
        (n,) = [i + 1 for i, l in enumerate(f) if f"/* {marker} */" in l]
    return n


def test_traceback_crash_ends_a_fatal_error_with_a_core(targets, program, tmp_path):
    """GORT_TRACEBACK=crash: a runtime fatal error (unlock of an unlocked
    mutex) prints its report, then dies by SIGABRT with a core."""
    t = start_dumpable(targets, program, "insp_crash.c", "fatal", cwd=str(tmp_path),
                       env={"GORT_TRACEBACK": "crash"})
    os.kill(t.pid, signal.SIGUSR1)
    t.proc.wait(timeout=30)
    err = t.proc.stderr.read()
    assert t.proc.returncode == -signal.SIGABRT, err
    assert "fatal error: sync: unlock of unlocked mutex" in err
    (path,) = [os.path.join(tmp_path, f) for f in os.listdir(tmp_path) if f.startswith("core")]
    e = core_json(path, "summary")["ended"]
    assert e["signal"] == "SIGABRT" and e["goroutine"] == t.one("crasher").id


def test_core_needs_the_same_executable(park, tmp_path, program):
    """The kernel's core keeps the first page of every file mapping (the
    default coredump_filter): the executable given must have the build-id
    it holds."""
    path = kernel_core(park, signal.SIGQUIT, str(tmp_path))
    # another build of another program has another build-id
    other = program("insp_crash.c")
    r = core(path, opts=("--exe", other))
    assert r.returncode == 1
    assert re.search(rf"^goinspect: core {path} \(PID {park.pid}, insp_park-gcc\): "
                     rf"{park.exe}: {other} has build-id [0-9a-f]{{40}}, but the process mapped a "
                     r"file with build-id [0-9a-f]{40}: not the same file$", r.stderr, re.M), r.stderr
    # the same file elsewhere is fine
    copy = str(tmp_path / "copy")
    with open(park.exe, "rb") as a, open(copy, "wb") as b:
        b.write(a.read())
    os.chmod(copy, 0o755)
    assert {g["id"] for g in core_json(path, "goroutines", opts=("--exe", copy))["goroutines"]} == \
        {w.id for w in park.who}


def test_sysroot_finds_the_files_of_a_core_from_elsewhere(park, tmp_path):
    """The executable moved away, as on another machine: found under
    --sysroot at the path the core names."""
    path = gdb_core(park.pid, str(tmp_path / "gdb.core"))
    root = tmp_path / "root"
    dest = str(root) + os.path.realpath(park.exe)
    os.makedirs(os.path.dirname(dest))
    os.rename(park.exe, dest)
    try:
        r = core(path)
        assert r.returncode == 1 and "cannot be opened" in r.stderr, r.stderr
        doc = core_json(path, "goroutines", opts=("--sysroot", str(root)))
        assert doc["total"] == len(park.who)
    finally:
        os.rename(dest, park.exe)


def test_a_goroutine_inside_a_shared_object_of_the_program(targets, program, tmp_path):
    """A PIE with a shared library of its own: frames in the library are
    symbolized from the library (oracle: addr2line on it), from the
    kernel's core as from the live process."""
    so = str(tmp_path / "libinsp_lib_wait.so")
    r = run(["gcc", "-shared", "-fPIC", "-O2", "-g", "-Wall", "-Werror",
             "-I", os.path.join(ROOT, "runtime", "include"), "-o", so,
             src_path("insp_lib_wait.c")])
    assert r.returncode == 0, r.stderr
    t = start_dumpable(targets, program, "insp_lib_main.c", "run", cwd=str(tmp_path),
                       extra=(so, f"-Wl,-rpath,{tmp_path}"))
    stopped(t)
    w = t.one("lib_waiter")
    live = attach_json(t.pid, "goroutine", str(w.id))["goroutine"]["frames"]
    base = load_base(t.pid, so)
    path = kernel_core(t, signal.SIGABRT, str(tmp_path))
    frames = core_json(path, "goroutine", str(w.id))["goroutine"]["frames"]
    assert frames_key(frames) == frames_key(live)
    lib = [f for f in frames if f["module"] == so]
    assert [f["function"] for f in lib] == ["lib_wait", "lib_outer"]
    for f in lib:
        fn, _, line = addr2line(so, f["pc"] - 1 - base)[0]
        assert (fn, line) == (f["function"], f["line"])
        assert f["offset"] == f["pc"] - base


def test_maps_of_a_core(park, tmp_path):
    """maps from a core: the mappings the core records, named by its NT_FILE
    note and annotated as attach annotates them; readelf's view of the core
    is the oracle for where each lies."""
    live = attach_json(park.pid, "maps")["maps"]
    path = gdb_core(park.pid, str(tmp_path / "gdb.core"))
    doc = core_json(path, "maps")
    assert doc["target"] == "core"
    ours = {m["start"]: m for m in doc["maps"]}
    files = [m for m in live if m["path"].startswith("/")]
    for m in files:         # every file mapping is in the core, same place and file
        assert m["start"] in ours and ours[m["start"]]["path"] == m["path"], m
        assert ours[m["start"]]["end"] == m["end"]
        assert ours[m["start"]]["kind"] == m["kind"], (m, ours[m["start"]])
    # the heap's arenas (with the goroutine stacks in them) and the mapping
    # of the all-G table are annotated from the core as from the process
    # (what the runtime's tables say of them; a core does not say which
    # anonymous mapping is the process's [heap])
    said = lambda m: (m["description"] if m["kind"] == "arena"
                      else m["description"].split(", ", 1)[1])
    heap = lambda ms: sorted((m["start"], said(m)) for m in ms
                             if m["kind"] == "arena" or "all-G table" in m["description"])
    assert heap(doc["maps"]) == heap(live) and len(heap(live)) >= 2
    assert any("goroutine stacks" in d for _, d in heap(live))


def test_the_prompt_on_a_core(park, tmp_path):
    path = gdb_core(park.pid, str(tmp_path / "gdb.core"))
    with prompt(["core", path]) as (p, master):
        banner = read_until(master, "goinspect> ")
        assert f"opened core {path} (PID {park.pid}, " in banner, banner
        assert f"{len(park.who)} goroutines" in banner and "read from the core" in banner
        os.write(master, b"goroutines\n")
        out = read_until(master, "goinspect> ")
        assert f"[{len(park.who)} goroutines; read from the core]" in out, out
        os.write(master, b"quit\n")
        assert p.wait(timeout=20) == 0


def test_a_core_of_parked_goroutines_shows_where_each_waits(targets, program, tmp_path):
    """A kernel core of 20,000 parked goroutines (tests/programs/insp_anon.c):
    `core` unwinds them in its pre-copy, several batches; each is where the
    program says it waits, and those under a frame of code in an anonymous
    page end there."""
    t = start_dumpable(targets, program, "insp_anon.c", "20000", "97", cwd=str(tmp_path))
    truth = anon_truth(t)
    assert len(truth[0]) == 20000
    path = kernel_core(t, signal.SIGQUIT, str(tmp_path))
    check_anon_goroutines(core_json(path, "goroutines", "-t", timeout=300), truth)
    # a core has no stop: every stack read from it is a copy, none "pre-copied"
    s = core_json(path, "summary", timeout=300)
    assert s["stacks_precopied"] == 0 and s["stacks_copied"] >= 20000, s
