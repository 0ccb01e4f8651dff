"""Crash reports of libgort (docs/runtime.md, "Crash reports"): a fatal signal
or a gort_panic prints Go's report, every frame of which equals addr2line -f
-i (llvm-symbolizer where binutils is wrong) at its pc (a signal's
instruction as is, return addresses minus one), inlined calls included; the
process then ends as the report says: death by the signal (the wait status
shows it), exit status 2 after a panic, SIGABRT and a core with
GORT_TRACEBACK=crash (tests/programs/crash.c)."""
import glob
import os
import re
import signal
import subprocess

import pytest

from conftest import BUILDS, COMPILER_CC, PROGRAMS, ROOT, run, wait_until
from corelib import core_json, kernel_cores_here, unlimited_core
from tracebacklib import addr2line, check_frames, check_symbol_frames, groups, parse

SRC = "crash.c"
COMPILERS = ["gcc", "clang"]
OPTS = ["-O0", "-O2"]
DIVIDE = "panic: runtime error: integer divide by zero"
NIL = "panic: runtime error: invalid memory address or nil pointer dereference"
SIGNAL_LINE = re.compile(r"^\[signal (SIG\w+): ([a-z /-]+) code=(0x[0-9a-f]+) addr=(0x[0-9a-f]+) "
                         r"pc=(0x[0-9a-f]+)\]$")


def crash(exe, *args, env=None, sig=None, status=None, **kw):
    """Runs EXE ARGS to its end, which must be death by SIG or exit STATUS:
    (message lines, {id: goroutine}, stderr)."""
    r = run([exe, *args], env=dict(env or {}, GORT_MAXPROCS="2"), timeout=60, **kw)
    want = -sig if sig else status
    assert r.returncode == want, f"ended with {r.returncode}, not {want}:\n{r.stdout}{r.stderr}"
    assert "READY" in r.stdout, r.stdout + r.stderr
    assert "?:0" not in r.stderr, r.stderr
    message, gs = parse(r.stderr)
    return message, {g.id: g for g in gs}, r.stderr


def names(group):
    return [f.function for f in group]


def signal_line(message, sig, stderr):
    m = SIGNAL_LINE.match(message[1])
    assert m, f"no signal line:\n{stderr}"
    assert m.group(1) == sig, stderr
    return {"code": int(m.group(3), 16), "addr": int(m.group(4), 16), "pc": int(m.group(5), 16)}


def symbol_value(exe, name):
    out = run(["nm", exe]).stdout
    (v,) = [int(l.split()[0], 16) for l in out.splitlines()
            if len(l.split()) == 3 and l.split()[2] == name]
    return v


def check_pc_of_the_signal(exe, g, pc):
    """The kernel's pc (the signal line's) is the first frame's: through the
    out-of-line function's printed offset, the load bias comes out, and
    addr2line at pc less that bias gives the frames printed."""
    first = groups(g.frames)[0]
    entry = pc - first[-1].offset
    bias = entry - symbol_value(exe, first[-1].function)
    assert bias % 4096 == 0, f"pc {pc:#x} and +{first[-1].offset:#x} give a load bias {bias:#x}"
    assert [(f.function, f.file, f.line) for f in first] == addr2line(exe, pc - bias) or \
        [f.function for f in first] == [c[0] for c in addr2line(exe, pc - bias)]


@pytest.mark.parametrize("opt", OPTS)
@pytest.mark.parametrize("compiler", COMPILERS)
def test_divide_by_zero_in_an_inlined_function(program, compiler, opt):
    exe = program(SRC, compiler, (opt,))
    message, gs, stderr = crash(exe, "div", "1", sig=signal.SIGFPE)
    assert message[0] == DIVIDE and message[2:] == [""], stderr
    s = signal_line(message, "SIGFPE", stderr)
    assert s["code"] == 1 and s["addr"] == s["pc"], stderr      # FPE_INTDIV, at the idiv
    assert list(gs) == [1] and gs[1].state == "running", stderr
    # F at its own line, then realmain at the line of the call
    assert [names(g) for g in groups(gs[1].frames)][:1] == [["F", "realmain"]], stderr
    check_frames(exe, gs.values(), exact={1})
    check_pc_of_the_signal(exe, gs[1], s["pc"])


@pytest.mark.parametrize("opt", OPTS)
@pytest.mark.parametrize("compiler", COMPILERS)
def test_nil_store_at_the_end_of_an_inline_chain(program, compiler, opt):
    exe = program(SRC, compiler, (opt,))
    message, gs, stderr = crash(exe, "chain", sig=signal.SIGSEGV)
    assert message[0] == NIL, stderr
    s = signal_line(message, "SIGSEGV", stderr)
    assert (s["code"], s["addr"]) == (1, 0), stderr                # SEGV_MAPERR at NULL
    g = groups(gs[1].frames)
    assert names(g[0]) == ["chain_d", "chain_c", "chain_b", "chain_a", "run_chain"], stderr
    assert names(g[1]) == ["realmain"], stderr
    check_frames(exe, gs.values(), exact={1})
    check_pc_of_the_signal(exe, gs[1], s["pc"])


def test_nil_load(program):
    exe = program(SRC, "gcc", ("-O2",))
    message, gs, stderr = crash(exe, "nil", sig=signal.SIGSEGV)
    assert message[0] == NIL and signal_line(message, "SIGSEGV", stderr)["addr"] == 0, stderr
    assert names(groups(gs[1].frames)[0]) == ["load_nil"], stderr
    check_frames(exe, gs.values(), exact={1})


@pytest.mark.parametrize("compiler", COMPILERS)
def test_gort_panic_exits_with_status_2(program, compiler):
    exe = program(SRC, compiler, ("-O2",))
    message, gs, stderr = crash(exe, "panic", status=2)
    assert message == ["panic: boom 42", ""], stderr
    g = groups(gs[1].frames)
    assert names(g[0]) == ["panic_inline", "run_panic"] and names(g[1]) == ["realmain"], stderr
    check_frames(exe, gs.values())


@pytest.mark.parametrize("guard", ["0", "1"])
def test_stack_overflow(program, guard):
    """Unbounded recursion: with GORT_STACK_GUARD=1 it faults on the guard
    page below the stack, without it further down, past the stack's end; both
    are reported as an overflow, with the recursion's frames."""
    exe = program(SRC, "gcc", ("-O2",))
    message, gs, stderr = crash(exe, "overflow", env={"GORT_STACK_GUARD": guard},
                                sig=signal.SIGSEGV)
    assert re.match(r"^runtime: goroutine stack exceeds \d+-byte limit$", message[0]), stderr
    assert re.match(r"^runtime: sp=0x[0-9a-f]+ stack=\[0x[0-9a-f]+, 0x[0-9a-f]+\]$", message[1])
    assert message[2] == "fatal error: stack overflow", stderr
    signal_line(message[2:], "SIGSEGV", stderr)
    assert gs[1].elided, stderr
    frames = gs[1].frames
    assert len(frames) >= 50 and {f.function for f in frames} == {"recurse"}, stderr
    check_frames(exe, gs.values(), exact={1})


@pytest.mark.parametrize("opt", OPTS)
@pytest.mark.parametrize("compiler", COMPILERS)
def test_a_goroutine_created_by_a_goroutine(program, compiler, opt):
    exe = program(SRC, compiler, (opt,))
    message, gs, stderr = crash(exe, "nested", sig=signal.SIGSEGV)
    assert message[0] == NIL, stderr
    (gid,) = gs
    assert gid == 3 and names(groups(gs[3].frames)[0]) == ["grandchild"], stderr
    assert (gs[3].created_by.function, gs[3].parent) == ("child", 2), stderr
    check_frames(exe, gs.values(), exact={3})


def test_while_collections_run(program):
    """A goroutine collects a 25 MB heap back to back (gctrace says the cycles
    run) when goroutine 1 divides by zero: the report is whole."""
    exe = program(SRC, "gcc", ("-O2",))
    message, gs, stderr = crash(exe, "gc", "1", sig=signal.SIGFPE,
                                env={"GORT_TRACEBACK": "all", "GORT_DEBUG": "gctrace=1"})
    cycles = [l for l in message if re.match(r"^gc \d+ @", l)]
    assert cycles and DIVIDE in message, stderr
    assert names(groups(gs[1].frames)[0]) == ["F", "divide"], stderr
    # the collecting goroutine: running on the other thread (no stack to
    # show), or waiting, at its frames
    (collector,) = [g for g in gs.values() if g.created_by and g.created_by.function == "realmain"]
    assert collector.notes == ["goroutine running on other thread; stack unavailable"] or \
        "collector" in [f.function for f in collector.frames], stderr
    check_frames(exe, gs.values(), exact={1})


def test_traceback_all_prints_every_goroutine(program):
    n = 3000
    exe = program(SRC, "gcc", ("-O2",))
    message, gs, stderr = crash(exe, "all", str(n), env={"GORT_TRACEBACK": "all"},
                                sig=signal.SIGFPE)
    assert message[0] == DIVIDE, stderr
    parked = [g for g in gs.values() if g.id != 1]
    assert len(parked) == n, f"{len(parked)} goroutines of {n} + 1"
    want = {"parked_a": ["park_inner", "park_outer", "parked_a"],
            "parked_b": ["park_inner", "parked_b"], "parked_c": ["parked_c"]}
    seen = {}
    for g in parked:
        first = names(groups(g.frames)[0])
        assert first == want[first[-1]], (g.id, first)
        assert (g.created_by.function, g.parent, g.state) == ("realmain", 1, "chan receive")
        seen[first[-1]] = seen.get(first[-1], 0) + 1
    assert seen == {k: n // 3 for k in want}, seen
    check_frames(exe, gs.values(), exact={1})


@pytest.mark.parametrize("level", ["single", "none", "system"])
def test_traceback_levels(program, level):
    exe = program(SRC, "gcc", ("-O2",))
    message, gs, stderr = crash(exe, "all", "30", env={"GORT_TRACEBACK": level},
                                sig=signal.SIGFPE)
    assert message[0] == DIVIDE and SIGNAL_LINE.match(message[1]), stderr
    if level == "none":
        assert gs == {}, stderr
    elif level == "single":
        assert list(gs) == [1], stderr
    else:
        # every goroutine, with the runtime's frames: the channel receive
        assert len(gs) > 30, stderr
        assert any("gort_chan_recv" in names(grp) for g in gs.values() for grp in groups(g.frames))
        check_frames(exe, gs.values(), exact={1})


def test_a_thread_that_runs_no_goroutine(program):
    exe = program(SRC, "gcc", ("-O2",))
    message, gs, stderr = crash(exe, "thread", sig=signal.SIGSEGV)
    assert message[0] == NIL, stderr
    m = [re.match(r"^signal arrived on thread (\d+) \((.*)\), which runs no goroutine$", l)
         for l in message]
    (tid,) = [x.group(1) for x in m if x]
    (t,) = [g for g in gs.values() if g.id == f"thread {tid}"]
    assert names(groups(t.frames)[0]) == ["own_thread"], stderr
    check_frames(exe, [t], exact={t.id})


@pytest.mark.parametrize("mode,sig,name,code", [
    ("abort", signal.SIGABRT, "SIGABRT: abort", -6),       # SI_TKILL: raised by abort()
    ("trap", signal.SIGILL, "SIGILL: illegal instruction", 2),     # ILL_ILLOPN: ud2
])
def test_signals_that_are_not_panics(program, mode, sig, name, code):
    exe = program(SRC, "gcc", ("-O2",))
    message, gs, stderr = crash(exe, mode, sig=sig)
    assert message[0] == name, stderr
    assert re.match(rf"^PC=0x[0-9a-f]+ m=\d+ sigcode={code}$", message[1]), stderr
    fns = [f.function for f in gs[1].frames]
    assert "realmain" in fns and (mode != "abort" or "abort" in fns), stderr
    check_frames(exe, gs.values(), exact={1})


def test_a_stripped_binary(program, tmp_path):
    """gortcc -s: no symbol table, the pc-line table kept; the frames equal
    addr2line on the same build before it was stripped."""
    exe = program(SRC, "gcc", ("-O2",))
    stripped = program(SRC, "gcc", ("-O2", "-s"))
    assert ".symtab" not in run(["readelf", "-SW", stripped]).stdout
    m1, gs1, e1 = crash(exe, "chain", sig=signal.SIGSEGV)
    m2, gs2, e2 = crash(stripped, "chain", sig=signal.SIGSEGV)
    assert [[(f.function, f.file, f.line, f.offset) for f in g.frames] for g in gs1.values()] == \
        [[(f.function, f.file, f.line, f.offset) for f in g.frames] for g in gs2.values()], e2
    check_frames(exe, gs2.values(), exact={1})


def test_without_the_post_link_step_frames_are_named_by_their_symbols(tmp_path):
    lib = os.path.join(BUILDS["gcc"], "lib", "libgort.a")
    if not os.path.exists(lib):
        pytest.skip(f"{lib} not built (run make check)")
    exe = str(tmp_path / "plain")
    r = run([COMPILER_CC["gcc"], "-g", "-O2", "-pthread", "-I",
             os.path.join(ROOT, "runtime", "include"), "-o", exe, os.path.join(PROGRAMS, SRC), lib])
    assert r.returncode == 0, r.stderr
    message, gs, stderr = crash(exe, "nested", sig=signal.SIGSEGV)
    assert message[0] == NIL, stderr
    assert check_symbol_frames(exe, gs.values(), exact={3}) >= 2
    assert gs[3].frames[0].function == "grandchild", stderr


def test_a_goroutine_whose_stack_cannot_be_read(program):
    """The program unmaps a parked goroutine's stack: its dump ends with a
    line saying so, the report goes on with the next goroutine, and the
    process still dies of its own signal."""
    exe = program(SRC, "gcc", ("-O2",))
    message, gs, stderr = crash(exe, "unmapped", "1", env={"GORT_TRACEBACK": "all"},
                                sig=signal.SIGFPE)
    assert re.search(r"\n\t\[SIGSEGV: segmentation violation at 0x[0-9a-f]+: the rest of this "
                     r"goroutine cannot be read\]\n", stderr), stderr
    assert names(groups(gs[1].frames)[0]) == ["F", "divide"], stderr
    c = [g for g in gs.values() if g.frames and g.frames[-1].function == "parked_c"]
    assert c and c[0].created_by.function == "realmain", stderr


def run_for_core(exe, args, cwd, env):
    if not kernel_cores_here():
        pytest.skip("the kernel's core_pattern does not write a file in the working directory")
    r = subprocess.run([exe, *args], cwd=cwd, env=dict(os.environ, **env), capture_output=True,
                       text=True, timeout=60, preexec_fn=unlimited_core)
    cores = []
    wait_until(lambda: cores.extend(glob.glob(os.path.join(cwd, "core*"))) or cores, timeout=20,
               what="the kernel's core file")
    return r, cores[0]


@pytest.mark.parametrize("level,sig", [("single", signal.SIGSEGV), ("crash", signal.SIGABRT)])
def test_a_core_is_written(program, tmp_path, level, sig):
    """ulimit -c unlimited: the kernel writes a core, by the fault itself
    (returning to the faulting instruction with the default action: the core
    shows the thread where it failed) or by SIGABRT with GORT_TRACEBACK=crash;
    goinspect core reads it."""
    exe = program(SRC, "gcc", ("-O2",))
    r, path = run_for_core(exe, ["nil"], str(tmp_path), {"GORT_TRACEBACK": level})
    assert r.returncode == -sig, r.stderr
    assert NIL in r.stderr
    e = core_json(path, "summary")["ended"]
    assert e["signal"] == signal.Signals(sig).name and e["goroutine"] == 1, e
    if level == "single":
        assert e["addr"] == 0, e
        (g,) = [g for g in core_json(path, "goroutines", "-t")["goroutines"] if g["id"] == 1]
        assert g["frames"][0]["exact"] and g["frames"][0]["function"] == "load_nil", g


def test_crash_level_dies_by_sigabrt(program):
    """GORT_TRACEBACK=crash ends a fault with SIGABRT, core or no core."""
    exe = program(SRC, "gcc", ("-O2",))
    message, gs, stderr = crash(exe, "nil", env={"GORT_TRACEBACK": "crash"}, sig=signal.SIGABRT)
    assert message[0] == NIL and names(groups(gs[1].frames)[0]) == ["load_nil"], stderr


def test_a_fault_signal_queued_by_the_process_still_kills_it(program):
    """SIGSEGV with the kernel's code SEGV_MAPERR, queued by the process to
    itself: returning to the instruction does not fault again, and the
    process dies by the signal all the same (it must not run on with its
    scheduler frozen)."""
    exe = program(SRC, "gcc", ("-O2",))
    message, gs, stderr = crash(exe, "queued", sig=signal.SIGSEGV)
    assert message[0] == NIL, stderr


def test_a_call_through_a_null_function_pointer(program):
    """Frame 0 at pc 0, then the callers, as gdb's bt shows them: the call
    has just pushed its return address."""
    exe = program(SRC, "gcc", ("-O2",))
    message, gs, stderr = crash(exe, "nullcall", sig=signal.SIGSEGV)
    signal_line(message, "SIGSEGV", stderr)
    f0, rest = gs[1].frames[0], gs[1].frames[1:]
    assert (f0.function, f0.address) == ("?", 0), stderr
    assert [f.function for f in rest][:3] == ["call_nothing", "call_nothing_outer", "realmain"]
    check_frames(exe, [gs[1]._replace(frames=rest)])


def test_a_handler_of_the_program_on_the_alternate_stack(program):
    """A SIGUSR1 handler installed with SA_ONSTACK stores through NULL: the
    goroutine that raised the signal is the one reported, through the
    signal frame down to realmain."""
    exe = program(SRC, "gcc", ("-O2",))
    message, gs, stderr = crash(exe, "onstack", sig=signal.SIGSEGV)
    assert message[0] == NIL and "which runs no goroutine" not in stderr, stderr
    fns = [f.function for f in gs[1].frames]
    assert fns[0] == "on_usr1" and fns[-2:] == ["raise_usr1", "realmain"], stderr
    check_frames(exe, gs.values(), exact={1})


def all_threads_sleep(pid):
    states = []
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/stat") as f:
                states.append(f.read().rsplit(")", 1)[1].split()[0])
        except FileNotFoundError:
            pass
    return states and all(st == "S" for st in states)


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGABRT])
def test_a_signal_sent_from_outside_shows_every_goroutine(targets, program, sig):
    """kill -SEGV (or -ABRT) of a program whose goroutines all wait: Go's
    form of a signal that is no panic, every goroutine shown (none failed),
    death by that signal."""
    exe = program(SRC, "gcc", ("-O2",))
    p = targets.start([exe, "park"], env={"GORT_MAXPROCS": "2"})
    assert p.stdout.readline() == "READY\n"
    # goroutine 1 prints READY before it parks: wait until no thread runs
    wait_until(lambda: all_threads_sleep(p.pid), what="every thread asleep")
    p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    assert p.returncode == -sig, err
    message, gs = parse(err)
    assert message[0] == f"{signal.Signals(sig).name}: " + \
        {signal.SIGSEGV: "segmentation violation", signal.SIGABRT: "abort"}[sig], err
    assert re.match(r"^PC=0x[0-9a-f]+ m=-?\d+ sigcode=0$", message[1]), err    # SI_USER
    assert 1 in {g.id for g in gs} and "realmain" in [f.function for g in gs if g.id == 1
                                                     for f in g.frames], err


def test_output_of_other_threads_comes_between_lines(program):
    """Goroutine 2 writes CHATTY lines without end while goroutine 1's
    report is printed: they come between the report's lines, never inside
    one."""
    exe = program(SRC, "gcc", ("-O2",))
    r = run([exe, "noisy"], env={"GORT_MAXPROCS": "2", "GORT_TRACEBACK": "all"}, timeout=60)
    assert r.returncode == -signal.SIGSEGV, r.stderr[-2000:]
    mixed = [l for l in r.stderr.split("\n") if "CHATTY" in l and l != "CHATTY"]
    assert not mixed, mixed[:5]
    report = "\n".join(l for l in r.stderr.split("\n") if l != "CHATTY")
    message, gs = parse(report)
    assert message[0] == NIL, report
    assert names(groups({g.id: g for g in gs}[1].frames)[0])[-1] == "run_chain", report


def test_gort_panic_before_gort_main(program):
    exe = program(SRC, "gcc", ("-O2",))
    r = run([exe, "early"], timeout=60)
    assert r.returncode == 2, r.stderr
    message, gs = parse(r.stderr)
    assert message == ["panic: early 1", ""], r.stderr
    (t,) = gs
    assert t.state == "not a goroutine" and t.frames[0].function == "main", r.stderr
    check_frames(exe, [t._replace(frames=t.frames[:1])])   # below main: libc, and _start without lines
