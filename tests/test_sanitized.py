"""goinspect built with AddressSanitizer and UndefinedBehaviorSanitizer
(`make sanitize`: build/asan/bin/goinspect, every report fatal) on bad
input: the fuzz seeds, corrupt runtime tables, odd binaries and processes,
and the bad-input tests of the other files run again with that binary
(through GOINSPECT_BIN).  Any sanitizer report fails: the sanitizers exit
with codes of their own, write their reports to files that are checked, and
the output is searched for "runtime error:" and the sanitizers' names.

LeakSanitizer is on too: goinspect traces its target, which LeakSanitizer
does not mind; it only fails in a goinspect that is itself traced (it stops
goinspect's threads with ptrace to scan them), as in the faults tests that
run goinspect under gdb, which are left out for another reason too: ASan's
own ptrace wrapper is where gdb's breakpoint on ptrace lands.
"""
import glob
import os
import re
import subprocess
import sys

import pytest

from attachlib import start
from conftest import ROOT, TIMEOUT, run, wait_for_line
from sym_helpers import SYM

SAN = os.path.join(ROOT, "build", "asan", "bin", "goinspect")
ASAN_EXIT, UBSAN_EXIT = 86, 87
REPORT = re.compile(r"runtime error:|AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer")


def sanitized():
    if not os.path.exists(SAN):
        pytest.skip(f"{SAN} not built (run make sanitize)")
    return SAN


def san_env(logdir=None):
    common = "halt_on_error=1:abort_on_error=0:print_stacktrace=1"
    asan = f"{common}:exitcode={ASAN_EXIT}:detect_leaks=1"
    ubsan = f"{common}:exitcode={UBSAN_EXIT}"
    if logdir:
        asan += f":log_path={logdir}/asan"
        ubsan += f":log_path={logdir}/ubsan"
    return {"ASAN_OPTIONS": asan, "UBSAN_OPTIONS": ubsan}


def assert_clean(r, what):
    assert r.returncode not in (ASAN_EXIT, UBSAN_EXIT) and not REPORT.search(r.stderr), (
        f"{what}: a sanitizer report (exit {r.returncode}):\n{r.stderr[-4000:]}")


def san(*args, timeout=TIMEOUT):
    """The sanitized goinspect with ARGS; fails the test on any report."""
    r = run([sanitized(), *args], env=san_env(), timeout=timeout)
    assert_clean(r, " ".join(args))
    return r


def test_the_binary_is_instrumented():
    """Every object calls the sanitizers, and (-fno-sanitize-recover=all)
    only the UBSan handlers that abort."""
    sanitized()
    objs = glob.glob(os.path.join(ROOT, "build", "asan", "obj", "*", "*.o"))
    assert len(objs) > 20
    undef = run(["nm", "-u", *objs]).stdout
    ubsan = set(re.findall(r"__ubsan_handle_\w+", undef))
    assert "__asan_report_load8" in undef and ubsan, undef[:2000]
    defined = set(re.findall(r" T (__ubsan_handle_\w+)", run(["nm", SAN]).stdout))
    recovering = sorted(h for h in ubsan if h + "_abort" in defined)
    assert not recovering, recovering


# ---- The bad-input tests of the other files, under the sanitizers ---------------

RERUN = {
    # without the faults tests that run goinspect under gdb (see above)
    "attach-faults": ("test_attach_faults.py", "not exits_during_the_snapshot and not "
                      "signal_mid_attach and not created_during_the_attach"),
    "heap-corruption": ("test_attach_heap.py", "corrupt"),
    # without the tests under gdb and the one that preloads a library
    # (ASan's runtime must come first)
    "gcore": ("test_gcore.py", "kernels_core or readelf or sparse or one_moment or no_such or "
              "usage_errors or existing or cannot_be_written or full_disk or collecting"),
    "symbolize-bad-input": ("test_symbolize.py", "missing_file or not_an_elf or truncated_elf "
                            "or corrupt_dwarf or random_corruption or usage_errors or "
                            "odd_address"),
    "record": ("test_record.py", "bad_arguments or not_a_libgort or unwritable or "
               "truncated or signal_ends or folded_sums or svg_is_xml or idle"),
    "heap-profile": ("test_heapprof.py", "damaged or without_the_table or not_libgort or "
                     "bad_arguments or rate_zero"),
}


@pytest.mark.parametrize("group", sorted(RERUN))
def test_bad_input_tests_under_sanitizers(tmp_path, group):
    file, select = RERUN[group]
    logs = tmp_path / "reports"
    logs.mkdir()
    env = dict(san_env(str(logs)), GOINSPECT_BIN=sanitized())
    r = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             f"--basetemp={tmp_path / 'pytest'}", os.path.join(ROOT, "tests", file),
             "-k", select], env=env, timeout=600, cwd=ROOT)
    reports = {p: open(p, errors="replace").read() for p in glob.glob(str(logs / "*"))}
    assert not reports, "sanitizer reports:\n" + "\n".join(f"{p}:\n{t}" for p, t in reports.items())
    assert_clean(r, group)
    assert r.returncode == 0, f"{file} -k '{select}' under the sanitizers:\n{r.stdout[-4000:]}"
    assert " passed" in r.stdout and " deselected" in r.stdout, r.stdout[-2000:]


# ---- The fuzz seeds --------------------------------------------------------------

def seed_addresses(path):
    """Addresses to look up in a seed: its defined symbols (those nm can
    read) and a spread of small addresses."""
    out = run(["nm", "--defined-only", path]).stdout
    syms = [f"{int(l.split()[0], 16):#x}" for l in out.splitlines()
            if re.match(r"^[0-9a-f]+ [tTwW] ", l)]
    return syms[:60] + [f"{a:#x}" for a in range(0, 0x4000, 0x3f0)]


def test_fuzz_seeds():
    seeds = sorted(glob.glob(os.path.join(ROOT, "tests", "fuzz-seeds", "*")))
    assert len(seeds) >= 8
    for seed in seeds:
        r = san("symbolize", "-afi", "-e", seed, *seed_addresses(seed))
        assert r.returncode in (0, 1), f"{seed}: exit {r.returncode}\n{r.stderr[-2000:]}"
        if r.returncode == 1:
            assert r.stderr.startswith("goinspect: "), r.stderr


# ---- The exact cases UndefinedBehaviorSanitizer reported -------------------------

def test_empty_line_table(tmp_path):
    """A binary whose .debug_line is empty (every unit's line program is
    missing): the functions and no lines, as addr2line says."""
    exe = str(tmp_path / "prog")
    r = run(["gcc", "-O2", "-g", "-o", exe, os.path.join(SYM, "sym_main.c"),
             os.path.join(SYM, "sym_other.c")])
    assert r.returncode == 0, r.stderr
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    bad = str(tmp_path / "noline")
    r = run(["objcopy", f"--update-section=.debug_line={empty}", exe, bad])
    assert r.returncode == 0, r.stderr
    sec = [l for l in run(["readelf", "-SW", bad]).stdout.splitlines() if " .debug_line " in l]
    assert sec and int(sec[0].split("]")[1].split()[4], 16) == 0, sec
    addrs = [f"{int(l.split()[0], 16):#x}" for l in run(["nm", bad]).stdout.splitlines()
             if re.match(r"^[0-9a-f]+ [tT] ", l)]
    r = san("symbolize", "-afi", "-e", bad, *addrs)
    assert r.returncode == 0, r.stderr
    # no line comes from the empty table: addr2line's innermost frames and
    # ours have none ("FILE:?"); the inline chains (from .debug_info) differ
    # between symbolizers here
    for tool in (r.stdout, run(["addr2line", "-afi", "-e", bad, *addrs]).stdout):
        answers = tool.split("0x0000")[1:]
        assert len(answers) == len(addrs), tool
        for a in answers:
            lines = a.splitlines()
            assert lines[2].endswith(":?"), tool


NO_FILE = r"has no file mapped, not even its executable \(it may be between two programs in " \
          r"execve, or exiting\)$"


def test_process_without_a_file_mapped(tmp_path, targets):
    """A process with no file mapped at all (tests/programs/unmap_self.c
    unmaps its executable and libraries), as one is for a moment between
    two images in execve: a clear error, never a sanitizer report."""
    exe = str(tmp_path / "unmap_self")
    r = run(["gcc", "-O2", "-o", exe, os.path.join(ROOT, "tests", "programs", "unmap_self.c")])
    assert r.returncode == 0, r.stderr
    p = targets.start([exe])
    wait_for_line(p, lambda l: l == "READY")
    with open(f"/proc/{p.pid}/maps") as f:
        assert not [l for l in f if " /" in l], "a file is still mapped"
    for args in (["summary"], ["goroutines", "--json"]):
        r = san("attach", str(p.pid), *args)
        assert r.returncode == 1, r.stderr
        assert re.match(rf"^goinspect: PID {p.pid} \(unmap_self\) " + NO_FILE, r.stderr, re.M), \
            r.stderr
    assert p.poll() is None, "the target died"


def test_process_between_two_images(tmp_path, targets):
    """A process that calls execve again and again, attached until one
    attach finds it in the middle of an execve: a clear error, never a
    sanitizer report."""
    exe = str(tmp_path / "exec_loop")
    r = run(["gcc", "-O2", "-o", exe, os.path.join(ROOT, "tests", "programs", "exec_loop.c")])
    assert r.returncode == 0, r.stderr
    p = targets.start([exe])
    during = re.compile(rf"^goinspect: PID {p.pid} \(.*\) (" + NO_FILE +
                        r"|called execve during the snapshot; attach again)", re.M)
    for attempt in range(1, 2001):
        r = san("attach", str(p.pid), "summary")
        assert r.returncode == 1 and r.stderr.startswith("goinspect: "), r.stderr
        assert p.poll() is None, "the target died"
        if during.search(r.stderr):
            break
    else:
        pytest.fail("no attach in 2000 found the process in the middle of an execve")


def test_corrupt_table_and_no_goroutine_selected(targets, program):
    """Goroutines grouped when the filter selects none (no goroutine of
    insp_corrupt waits in a select), on a table with a bad entry."""
    t = start(targets, program, "insp_corrupt.c", "badstatus")
    r = san("attach", str(t.pid), "goroutines", "-g", "-s", "select")
    assert r.returncode == 0, r.stderr
    assert "[0 goroutines matched" in r.stdout, r.stdout
    r = san("attach", "--json", str(t.pid), "goroutines", "-g", "-s", "select")
    assert r.returncode == 0 and '"matched":0' in r.stdout, r.stdout
    t.assert_progress()


def test_a_descriptor_without_type_g(targets, program):
    """The descriptor describes no type g: a clear error, and nothing the
    snapshot allocated left behind (LeakSanitizer)."""
    t = start(targets, program, "insp_corrupt.c", "nogtype")
    for cmd in ("goroutines", "summary"):
        r = san("attach", str(t.pid), cmd)
        assert r.returncode == 1, r.stderr
        assert r.stderr == "goinspect: the runtime descriptor describes no type g\n", r.stderr
    t.assert_progress()


def test_corrupt_table_and_no_arena(targets, program):
    """The descriptor's heap root is unreadable, so no arena is read: every
    command that copies the heap."""
    t = start(targets, program, "insp_corrupt.c", "badmheap")
    for args in (["maps"], ["summary"], ["ptr", hex(t.one("bystander").local)]):
        r = san("attach", str(t.pid), *args)
        assert r.returncode == 0, r.stderr
    for cmd in ("heap", "spans", "memstats"):
        r = san("attach", str(t.pid), cmd)
        assert r.returncode == 1 and "its heap cannot be read" in r.stderr, r.stderr
    t.assert_progress()
