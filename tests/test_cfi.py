"""The CFI engine (dwarf/cfi.c) and libgidwarf's unwinder step.

- Unwinding against gdb: unwind_target stops in probe() from a call chain,
  a signal handler, a thread, functions without CFI and a function started
  on a stack of its own; probe() walks its own stack with cfi.c through
  .eh_frame_hdr (the runtime's way) and with libgidwarf on the mapped
  files, and gdb's backtrace at the same stop must give the same frames.
- The CFA-program interpreter against readelf --debug-dump=frames-interp,
  row by row, over the test programs, libc and the dynamic loader.
- cfi.c stays freestanding.
"""
import os
import re
import subprocess

import pytest

from conftest import ROOT, run
from sym_helpers import LIBGIDWARF, Builds, cc, need, need_tool, sym_src

DWARF = os.path.join(ROOT, "dwarf")
SCENARIOS = ["chain", "signal", "thread", "nocfi", "start"]

GDB_SCRIPT = r'''
import gdb
class DumpChain(gdb.Command):
    def __init__(self):
        super().__init__("dumpchain", gdb.COMMAND_USER)
    def invoke(self, arg, tty):
        f = gdb.newest_frame().older()
        pcs = []
        while f is not None:
            if f.type() not in (gdb.INLINE_FRAME, gdb.TAILCALL_FRAME):
                pcs.append("%#x" % f.pc())
            f = f.older()
        print("GDB " + " ".join(pcs))
DumpChain()
'''


@pytest.fixture(scope="session")
def builds(tmp_path_factory):
    return Builds(str(tmp_path_factory.mktemp("cfi")))


def build_target(builds, compiler, opt):
    need(LIBGIDWARF)
    need_tool(compiler)

    def build(out):
        nocfi = cc(compiler, [opt, "-g", "-c", "-fno-asynchronous-unwind-tables",
                              "-fno-unwind-tables", "-fno-omit-frame-pointer",
                              sym_src("unwind_nocfi.c")], out + "-nocfi.o")
        return cc(compiler, [opt, "-g", "-Wall", "-Wextra", "-Werror", "-I", DWARF,
                             sym_src("unwind_target.c"), sym_src("unwind_probe.c"),
                             sym_src("unwind_asm.S"), nocfi, LIBGIDWARF, "-lelf", "-ldwarf",
                             "-pthread"], out)
    return builds.get(f"unwind-{compiler}{opt}", build)


def gdb_and_ours(exe, tmp_path, scenario):
    script = tmp_path / "chain.py"
    script.write_text(GDB_SCRIPT)
    cmd = ["gdb", "-batch", "-nx", "-ex", "set debuginfod enabled off",
           "-ex", "set backtrace past-main on", "-ex", "set backtrace past-entry on",
           "-ex", "handle SIGUSR1 nostop noprint pass", "-ex", f"source {script}",
           "-ex", "break probe", "-ex", "run", "-ex", "dumpchain", "-ex", "continue",
           "--args", exe, scenario]
    r = run(cmd, timeout=120)
    gdb_lines = [l.split()[1:] for l in r.stdout.splitlines() if l.startswith("GDB")]
    ours = {}
    for line in r.stdout.splitlines():
        if line.startswith("CHAIN "):
            f = line.split()
            ours[f[2]] = f[3:]
    assert len(gdb_lines) == 1, r.stdout + r.stderr
    assert set(ours) == {"hdr", "lib"}, r.stdout + r.stderr
    return gdb_lines[0], ours


@pytest.mark.parametrize("compiler,opt", [("gcc", "-O2"), ("gcc", "-O0"), ("clang", "-O2")])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_unwind_matches_gdb(builds, tmp_path, compiler, opt, scenario):
    need_tool("gdb")
    exe = build_target(builds, compiler, opt)
    gdb_pcs, ours = gdb_and_ours(exe, tmp_path, scenario)
    assert len(gdb_pcs) >= 3
    for mode, chain in ours.items():
        assert chain[-1] == "END", f"{mode}: the walk must end cleanly: {chain}"
        assert chain[:-1] == gdb_pcs, f"{mode}: ours {chain} gdb {gdb_pcs}"


def test_signal_frame_is_crossed(builds, tmp_path):
    """The signal chain runs through the kernel's frame (glibc's __restore_rt,
    an 'S' CIE with expression rules) into the interrupted function."""
    need_tool("gdb")
    exe = build_target(builds, "gcc", "-O2")
    gdb_pcs, ours = gdb_and_ours(exe, tmp_path, "signal")
    r = run(["gdb", "-batch", "-nx", "-ex", "set debuginfod enabled off",
             "-ex", "handle SIGUSR1 nostop noprint pass", "-ex", "break probe", "-ex", "run",
             "-ex", "bt", "--args", exe, "signal"], timeout=120)
    assert "<signal handler called>" in r.stdout
    assert ours["hdr"][:-1] == gdb_pcs


# ---- The interpreter against readelf's rows --------------------------------------

ROW_RE = re.compile(r"^([0-9a-f]{16}) (\S+)\s*(.*)$")


def readelf_rows(path):
    """{section: {(pc_begin, pc_end): [(loc, cfa, {reg: rule})]}} from
    readelf -wF (.eh_frame and .debug_frame)."""
    out = run(["readelf", "--debug-dump=frames-interp", path], timeout=120).stdout
    sections = {}
    fdes = {}
    cur = None
    cols = []
    for line in out.splitlines():
        m = re.match(r"Contents of the (\S+) section", line)
        if m:
            fdes = sections.setdefault(m.group(1), {})
            cur = None
            continue
        m = re.search(r"FDE cie=\S+ pc=([0-9a-f]+)\.\.([0-9a-f]+)", line)
        if m:
            cur = fdes.setdefault((int(m.group(1), 16), int(m.group(2), 16)), [])
            continue
        if " CIE " in line or not line.strip():
            if " CIE " in line:
                cur = None
            continue
        if line.strip().startswith("LOC"):
            cols = line.split()[2:]
            continue
        m = ROW_RE.match(line)
        if m and cur is not None:
            # a register rule prints as "r1 (rdx)": keep the name
            vals = re.sub(r"\br\d+ \((\w+)\)", r"\1", m.group(3)).split()
            rules = {c: v for c, v in zip(cols, vals) if v != "u"}
            cur.append((int(m.group(1), 16), m.group(2), rules))
    return sections


def our_rows(tool, path, section):
    out = run([tool, path, section], timeout=120).stdout
    fdes = {}
    cur = None
    for line in out.splitlines():
        f = line.split()
        if f[0] == "FDE":
            cur = fdes.setdefault((int(f[1], 16), int(f[2], 16)), [])
        elif f[0] in ("ERROR", "ROWERROR"):
            raise AssertionError(f"{path}: {line}")
        else:
            cfa = f[1][4:]
            rules = dict(x.split("=", 1) for x in f[2:])
            rules = {k: v for k, v in rules.items() if v != "u"}
            cur.append((int(f[0], 16), cfa, rules))
    return fdes


def state_at(rows, pc):
    best = None
    for loc, cfa, rules in rows:
        if loc <= pc:
            best = (cfa, rules)
    return best


@pytest.mark.parametrize("which", ["sym-gcc-O2", "sym-clang-O2", "unwind-gcc-O0", "libc",
                                   "ld.so"])
def test_cfa_rows_match_readelf(builds, which):
    tool = builds.get("cfidump", lambda out: cc("gcc", [
        "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-I", DWARF,
        os.path.join(ROOT, "tests", "tools", "cfidump.c"), os.path.join(DWARF, "cfi.c"),
        "-lelf"], out))
    if which == "libc":
        path = "/lib/x86_64-linux-gnu/libc.so.6"
    elif which == "ld.so":
        path = "/lib64/ld-linux-x86-64.so.2"
    elif which.startswith("unwind"):
        path = build_target(builds, "gcc", "-O0")
    else:
        compiler = which.split("-")[1]
        need_tool(compiler)
        path = builds.get(which, lambda out: cc(compiler, [
            "-O2", "-g", sym_src("sym_main.c"), sym_src("sym_other.c")], out))
    path = os.path.realpath(path)
    checked = 0
    for section, theirs in readelf_rows(path).items():
        checked += compare_rows(path, theirs, our_rows(tool, path, section))
    assert checked > 10


def compare_rows(path, theirs, ours):
    checked = 0
    assert len(ours) >= len(theirs) > 0
    for key, rows in theirs.items():
        assert key in ours, f"FDE {key[0]:#x}..{key[1]:#x} missing"
        mine = ours[key]
        if not rows:
            continue
        locs = sorted({loc for loc, _, _ in rows} | {loc for loc, _, _ in mine})
        for loc in locs:
            if not key[0] <= loc < key[1]:
                continue
            t, o = state_at(rows, loc), state_at(mine, loc)
            if t is None:
                continue
            assert o is not None and o[0] == t[0] and o[1] == t[1], \
                f"{path} FDE {key[0]:#x} at {loc:#x}: ours {o} readelf {t}"
            checked += 1
    return checked


# ---- Freestanding ------------------------------------------------------------------

@pytest.mark.parametrize("compiler", ["gcc", "clang"])
def test_cfi_c_is_freestanding(tmp_path, compiler):
    need_tool(compiler)
    obj = str(tmp_path / "cfi.o")
    r = run([compiler, "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-O2",
             "-fPIC", "-c", os.path.join(DWARF, "cfi.c"), "-o", obj])
    assert r.returncode == 0, r.stderr
    undef = [l.split()[-1] for l in run(["nm", "-u", obj]).stdout.splitlines()]
    assert set(undef) <= {"memcpy", "memset"}, undef
    defined = [l.split()[-1] for l in run(["nm", "-g", "--defined-only", obj]).stdout.splitlines()]
    assert defined and all(s.startswith("cfi_") for s in defined), defined
    src = open(os.path.join(DWARF, "cfi.c")).read() + open(os.path.join(DWARF, "cfi.h")).read()
    includes = set(re.findall(r"#include [<\"]([^>\"]+)[>\"]", src))
    assert includes <= {"cfi.h", "stdint.h", "stddef.h", "stdbool.h", "string.h"}, includes
    assert not re.search(r"\b(malloc|calloc|realloc|free)\s*\(", src)
