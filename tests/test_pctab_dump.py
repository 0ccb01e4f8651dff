"""The runtime's fatal dumps name every frame from the pc-line table gortcc
adds to the executable (docs/pctab.md): each frame's function and FILE:LINE,
inlined calls included, equal addr2line -f -i (llvm-symbolizer where binutils
is wrong) at its pc - 1, the pc found from the printed offset through the
symbol table.  Without a table, or with a damaged one, frames are named by
their symbols, never ?:0 (tests/programs/pctab_dump.c)."""
import os
import shutil
import subprocess

import pytest

from conftest import BUILDS, COMPILER_CC, PROGRAMS, ROOT, TIMEOUT, run
from tracebacklib import check_frames, check_symbol_frames, groups, parse

SRC = "pctab_dump.c"
DEADLOCK = "fatal error: all goroutines are asleep - deadlock!"
MISUSE = "panic: close of closed channel"
INNER = ["wait_innermost", "wait_middle", "wait_outer"]
COMPILERS = ["gcc", "clang"]
OPTS = ["-O0", "-O2"]


def dump(exe, mode, env=None):
    """Runs EXE MODE to its fatal error: (message, goroutines, stderr)."""
    r = run([exe, mode], env=dict(env or {}, GORT_MAXPROCS="2"), timeout=30)
    assert r.returncode == 2, f"exit {r.returncode}:\n{r.stdout}{r.stderr}"
    assert "READY" in r.stdout, r.stdout
    assert "?:0" not in r.stderr, r.stderr
    message, gs = parse(r.stderr)
    return message, {g.id: g for g in gs}, r.stderr


def names(group):
    return [f.function for f in group]


def check_shape(gs, stderr):
    """The goroutines pctab_dump.c makes, each blocked at the end of its
    inline chain; the child created by the parent, the parent by goroutine 1."""
    want = {1: "block_main", 2: "parent_body", 3: "child_body"}
    for gid, fn in want.items():
        assert gid in gs, f"no goroutine {gid}:\n{stderr}"
        assert [INNER + [fn]] == [names(g) for g in groups(gs[gid].frames) if fn in names(g)], stderr
    assert (gs[2].created_by.function, gs[2].parent) == ("block_main", 1), stderr
    assert (gs[3].created_by.function, gs[3].parent) == ("parent_body", 2), stderr


@pytest.mark.parametrize("traceback", ["single", "system"])
@pytest.mark.parametrize("opt", OPTS)
@pytest.mark.parametrize("compiler", COMPILERS)
def test_deadlock_dump_frames_equal_the_symbolizers(program, compiler, opt, traceback):
    exe = program(SRC, compiler, (opt,))
    message, gs, stderr = dump(exe, "deadlock", {"GORT_TRACEBACK": traceback})
    assert message == [DEADLOCK, ""], stderr
    check_shape(gs, stderr)
    # with GORT_TRACEBACK=system the runtime's own frames (inlined at -O2)
    # are checked too
    assert check_frames(exe, gs.values()) >= 6
    if traceback == "system":
        assert any("gort_chan_recv" in names(g) for g in groups(gs[1].frames)), stderr


@pytest.mark.parametrize("opt", OPTS)
@pytest.mark.parametrize("compiler", COMPILERS)
def test_misuse_dump_frames_equal_the_symbolizers(program, compiler, opt):
    exe = program(SRC, compiler, (opt,))
    message, gs, stderr = dump(exe, "misuse")
    assert message == [MISUSE, ""], stderr
    assert gs[1].state == "running", stderr
    first = groups(gs[1].frames)[0]
    assert names(first) == ["close_twice", "misuse_inline", "block_main"], stderr
    check_frames(exe, gs.values())


@pytest.mark.parametrize("compiler", COMPILERS)
def test_frames_in_a_shared_library_are_named_by_its_symbols(program, compiler):
    """Goroutine 1 blocks in the comparison function qsort calls: the frames
    of libc between it and block_main are named by libc's own symbols (or ?
    with their address in libc where none holds the pc), the rest from the
    table."""
    exe = program(SRC, compiler, ("-O2",))
    message, gs, stderr = dump(exe, "libc")
    g1 = groups(gs[1].frames)
    assert names(g1[0]) == INNER + ["compare_blocking"], stderr
    libc = [g[0] for g in g1 if g[0].module]
    assert libc and all("libc.so" in f.module for f in libc), stderr
    assert [g for g in g1 if names(g) == ["block_main"]], stderr
    check_frames(exe, gs.values())


def plain_cc_build(compiler, out):
    """pctab_dump.c built as `cc ... libgort.a` builds it, without gortcc's
    post-link step."""
    lib = os.path.join(BUILDS[compiler], "lib", "libgort.a")
    if not os.path.exists(lib):
        pytest.skip(f"{lib} not built (run make check)")
    cmd = [COMPILER_CC[compiler], "-g", "-O2", "-pthread", "-I",
           os.path.join(ROOT, "runtime", "include"), "-o", out, os.path.join(PROGRAMS, SRC),
           lib]
    r = run(cmd)
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.parametrize("compiler", COMPILERS)
def test_without_the_post_link_step_frames_are_named_by_their_symbols(tmp_path, compiler):
    exe = plain_cc_build(compiler, str(tmp_path / "plain"))
    assert ".gort_pctab" not in run(["readelf", "-SW", exe]).stdout
    message, gs, stderr = dump(exe, "deadlock")
    assert message == [DEADLOCK, ""], stderr
    assert check_symbol_frames(exe, gs.values()) >= 5
    assert {"block_main", "parent_body", "child_body"} <= {
        f.function for g in gs.values() for f in g.frames}, stderr


@pytest.mark.parametrize("compiler", COMPILERS)
def test_a_stripped_binary_keeps_its_table(program, tmp_path, compiler):
    exe = program(SRC, compiler, ("-O2",))
    stripped = str(tmp_path / "stripped")
    shutil.copy(exe, stripped)
    r = run(["strip", stripped])
    assert r.returncode == 0, r.stderr
    assert ".symtab" not in run(["readelf", "-SW", stripped]).stdout
    message, gs, stderr = dump(stripped, "deadlock")
    check_shape(gs, stderr)
    # the same addresses: the unstripped file is the oracle's
    check_frames(exe, gs.values())


def section(exe):
    """(file offset, size) of EXE's .gort_pctab."""
    for line in run(["readelf", "-SW", exe]).stdout.splitlines():
        f = line.replace("[ ", "[").split()
        if len(f) > 6 and f[1] == ".gort_pctab":
            return int(f[4], 16), int(f[5], 16)
    raise AssertionError(f"{exe} has no .gort_pctab")


def garble(exe, out):
    off, size = section(exe)
    shutil.copy(exe, out)
    with open(out, "r+b") as f:
        f.seek(off + size // 2)
        b = f.read(1)
        f.seek(off + size // 2)
        f.write(bytes([b[0] ^ 0x5a]))


def truncate(exe, out, tmp_path):
    off, size = section(exe)
    half = tmp_path / "half"
    with open(exe, "rb") as f:
        f.seek(off)
        half.write_bytes(f.read(size // 2))
    r = run(["objcopy", "--update-section", f".gort_pctab={half}", exe, out])
    assert r.returncode == 0, r.stderr


def zero_header(exe, out):
    off, _ = section(exe)
    shutil.copy(exe, out)
    with open(out, "r+b") as f:
        f.seek(off)
        f.write(bytes(80))


@pytest.mark.parametrize("damage", ["garbled", "truncated", "zeroed"])
def test_a_damaged_table_falls_back_to_symbol_names(program, tmp_path, damage):
    exe = program(SRC, "gcc", ("-O2",))
    bad = str(tmp_path / damage)
    if damage == "garbled":
        garble(exe, bad)
    elif damage == "truncated":
        truncate(exe, bad, tmp_path)
    else:
        zero_header(exe, bad)
    message, gs, stderr = dump(bad, "deadlock")
    assert message == [DEADLOCK, ""], stderr
    assert check_symbol_frames(bad, gs.values()) >= 5


# ---- The table itself, against the symbolizers, at every few bytes of code ------

def lookup_all(exe, stride):
    """{addr: [(function, file, line)]} of gortpctab -a at every STRIDE-th
    address of EXE's code sections (the table's reader, as the runtime runs it)."""
    from sym_helpers import text_addresses
    addrs = text_addresses(exe, stride)
    tool = os.path.join(BUILDS["gcc"], "bin", "gortpctab")
    r = run([tool, "-a", exe, *[f"{a:x}" for a in addrs]], timeout=120)
    assert r.returncode == 0, r.stderr
    res, cur = {}, None
    lines = r.stdout.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("0x"):
            cur = int(lines[i], 16)
            res[cur] = []
            i += 1
            continue
        file, _, line = lines[i + 1].rpartition(":")
        res[cur].append((lines[i], file, int(line) if line.isdigit() else 0))
        i += 2
    return res


@pytest.mark.parametrize("opt", OPTS)
@pytest.mark.parametrize("compiler", COMPILERS)
def test_table_lookups_equal_the_symbolizers(program, compiler, opt):
    from attachlib import symbolizer_oracle
    exe = program(SRC, compiler, (opt,))
    got = lookup_all(exe, 97)
    covered = {a: f for a, f in got.items() if f != [("??", "??", 0)]}
    assert len(covered) > len(got) // 2, "the table covers less than half the code"
    for a, frames in covered.items():
        # binutils names padding after a function by it, where libgidwarf
        # (whose answers the table holds) says ?? (docs/symbolize.md)
        want = symbolizer_oracle(exe, a, frames)
        if frames[0][0] == "??" and want[0][0] != "??":
            want = [("??",) + want[0][1:]] + want[1:]
        assert frames == want, f"{a:#x}"


# ---- gortpctab on bad input ------------------------------------------------------

def gortpctab(*args):
    return run([os.path.join(BUILDS["gcc"], "bin", "gortpctab"), *args])


def test_gortpctab_refuses_what_is_not_a_binary_with_dwarf(tmp_path, program):
    text = tmp_path / "text"
    text.write_text("not an ELF file\n")
    nodwarf = str(tmp_path / "nodwarf")
    shutil.copy(program(SRC, "gcc", ("-O2",)), nodwarf)
    assert run(["strip", "-g", "-R", ".gort_pctab", nodwarf]).returncode == 0
    cases = {str(tmp_path / "missing"): (1, ""), str(text): (1, ""), str(tmp_path): (1, ""),
             nodwarf: (3, "no DWARF")}
    for path, (status, why) in cases.items():
        r = gortpctab(path)
        assert r.returncode == status, (path, r.stdout, r.stderr)
        assert r.stderr.startswith(f"gortpctab: {path}: ") and why in r.stderr, r.stderr
        assert "\n" == r.stderr[-1] and r.stderr.count("\n") == 1, r.stderr
    assert gortpctab().returncode == 2
    assert gortpctab("-a", nodwarf, "zz").returncode == 1


def test_gortcc_strips_after_adding_the_table(program, tmp_path):
    """gortcc -s: the binary loses .symtab and its DWARF, not its table."""
    exe = program(SRC, "gcc", ("-O2", "-s"))
    sections = run(["readelf", "-SW", exe]).stdout
    assert ".symtab" not in sections and ".debug_info" not in sections, sections
    assert ".gort_pctab" in sections, sections
    message, gs, stderr = dump(exe, "deadlock")
    check_shape(gs, stderr)
    check_frames(program(SRC, "gcc", ("-O2",)), gs.values())


def test_frames_of_code_without_lines_are_named_by_their_symbols(program):
    """gortcc -g0: the table covers libgort (built with -g) but not the
    program's own code: those frames are named by their symbols, never ?:0."""
    exe = program(SRC, "gcc", ("-O2", "-g0"))
    assert ".gort_pctab" in run(["readelf", "-SW", exe]).stdout
    message, gs, stderr = dump(exe, "deadlock")
    assert message == [DEADLOCK, ""], stderr
    assert check_symbol_frames(exe, gs.values()) >= 5


def test_gortcc_compile_only_adds_no_table(tmp_path):
    gortcc = os.path.join(BUILDS["gcc"], "bin", "gortcc")
    obj = str(tmp_path / "x.o")
    r = subprocess.run([gortcc, "-c", "-o", obj, os.path.join(PROGRAMS, SRC)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert ".gort_pctab" not in run(["readelf", "-SW", obj]).stdout
