"""Binaries processed by `dwz -m`: DWARF that several binaries share moved
into one supplementary file, which each names in .gnu_debugaltlink (strings
by DW_FORM_GNU_strp_alt, abstract origins and types by DW_FORM_GNU_ref_alt)
or, with `dwz -5`, in DWARF 5's .debug_sup (DW_FORM_strp_sup,
DW_FORM_ref_sup4); dwz also keeps what the units of one binary share in a
partial unit of that binary, imported by DW_TAG_imported_unit and reached by
DW_FORM_ref_addr.  Debian's -dbgsym packages are built this way.

Oracles: addr2line on the same binaries before dwz (dwz changes neither code
nor line programs: every answer must stay the same byte for byte, with
DW_AT_comp_dir in front of each relative file name); addr2line on the
processed binaries wherever binutils 2.40 reads them right, and
eu-addr2line with llvm-symbolizer where it does not; gdb's ptype and the
program's own sizeof/offsetof for the type queries.
"""
import os
import re
import shutil

import pytest

from conftest import run
from sym_helpers import (GOINSPECT, Builds, eu_frames_many, frames_of, gdb_ptype, llvm_frames,
                         need, need_tool, probe_out, split_blocks, sym_src, text_addresses)

DWZ_SRCS = ["dwz_a.c", "dwz_a_more.c", "dwz_b.c", "dwz_shared.h", "dwz_pair.h"]
PROGRAMS = {"a": ["dwz_a.c", "dwz_a_more.c"], "b": ["dwz_b.c"]}

# name -> (compiler, flags, dwz flags).  dwz 0.15 cannot read clang 14's
# DWARF 5 (.debug_addr), so clang is built with DWARF 4.
VARIANTS = {
    "gcc-O2": ("gcc", ["-O2", "-g"], []),
    "gcc-O2-dwarf4": ("gcc", ["-O2", "-g", "-gdwarf-4"], []),
    "clang-O2-dwarf4": ("clang", ["-O2", "-g", "-gdwarf-4"], []),
    "gcc-O2-dwarf5-sup": ("gcc", ["-O2", "-g"], ["-5"]),
    "gcc-O2-dwarf4-sup": ("gcc", ["-O2", "-g", "-gdwarf-4"], ["-5"]),
}
GNU_VARIANTS = [v for v in VARIANTS if "-sup" not in v]

# Where the supplementary file is, and so what -M writes into the binaries
# (all in a directory bin/ of their own):
#   here      -M common.debug, next to them (a relative name)
#   relative  -M ../dwz/common.debug
#   absolute  -M /abs/path/common.debug
#   build-id  a name that does not exist; the file is in DEBUG/.build-id/xx/
#   dwz-dir   -M /usr/lib/debug/.dwz/NAME; the file is in DEBUG/.dwz/NAME
LAYOUTS = ["here", "relative", "absolute", "build-id", "dwz-dir"]
MISSING_DIR = "/nonexistent-goinspect-dwz"
SYSTEM_DWZ_NAME = "/usr/lib/debug/.dwz/goinspect-test/common.debug"


@pytest.fixture(scope="session")
def builds(tmp_path_factory):
    need_tool("dwz")
    return Builds(str(tmp_path_factory.mktemp("dwz")))


def compile_programs(builds, variant):
    """The two programs, from a copy of their sources named relatively (so
    that file names need DW_AT_comp_dir); returns {name: path}."""
    compiler, flags, _ = VARIANTS[variant]
    need_tool(compiler)

    def build(out):
        src = out + "-src"
        os.makedirs(src, exist_ok=True)
        for f in DWZ_SRCS:
            shutil.copy(sym_src(f), src)
        os.makedirs(out, exist_ok=True)
        for prog, files in PROGRAMS.items():
            r = run([compiler, *flags, *files, "-o", os.path.join(out, prog)], cwd=src,
                    timeout=180)
            assert r.returncode == 0, r.stderr
        return out
    d = builds.get("compiled-" + variant, build)
    return {p: os.path.join(d, p) for p in PROGRAMS}


def build_id(path):
    m = re.search(r"Build ID: ([0-9a-f]+)", run(["readelf", "-n", path]).stdout)
    return m.group(1) if m else None


def recorded_id(exe):
    """The build-id exe's .gnu_debugaltlink records (after the name)."""
    out = exe + ".altlink"
    r = run(["objcopy", f"--dump-section=.gnu_debugaltlink={out}", exe, exe + ".copy"])
    assert r.returncode == 0, r.stderr
    data = open(out, "rb").read()
    os.unlink(out)
    os.unlink(exe + ".copy")
    return data[data.index(b"\0") + 1:].hex()


def sup_checksum(path):
    """The checksum of a file's .debug_sup, from readelf."""
    out = run(["readelf", "--debug-dump=links", path]).stdout
    m = re.search(r"Checksum:\s+((?:0x[0-9a-f]{1,2} ?)+)", out)
    return "".join(f"{int(x, 16):02x}" for x in m.group(1).split()) if m else None


class Dwz:
    """The programs of a variant after `dwz -m`, the alt file placed as the
    layout says; .orig holds copies from before dwz."""

    def __init__(self, root, variant, layout, orig):
        self.variant, self.layout = variant, layout
        self.bin = os.path.join(root, "bin")
        self.debug_dir = os.path.join(root, "debug")
        os.makedirs(self.bin)
        os.makedirs(self.debug_dir)
        self.exe = {p: os.path.join(self.bin, p) for p in PROGRAMS}
        self.orig = orig
        for p in PROGRAMS:
            shutil.copy(orig[p], self.exe[p])
        common = {"here": "common.debug", "relative": "../dwz/common.debug",
                  "absolute": os.path.join(root, "abs", "common.debug"),
                  "build-id": os.path.join(self.bin, "common.debug"),
                  "dwz-dir": os.path.join(self.bin, "common.debug")}[layout]
        name = {"build-id": MISSING_DIR + "/common.debug",
                "dwz-dir": SYSTEM_DWZ_NAME}.get(layout, common)
        os.makedirs(os.path.dirname(os.path.join(self.bin, common)), exist_ok=True)
        r = run(["dwz", *VARIANTS[variant][2], "-m", common, "-M", name, "a", "b"],
                cwd=self.bin, timeout=180)
        assert r.returncode == 0, r.stderr
        self.sup = os.path.normpath(os.path.join(self.bin, common))
        if layout == "build-id":
            bid = build_id(self.sup) or sup_checksum(self.sup)
            self.sup = self.move_sup(os.path.join(".build-id", bid[:2], bid[2:] + ".debug"))
        elif layout == "dwz-dir":
            self.sup = self.move_sup(SYSTEM_DWZ_NAME[len("/usr/lib/debug/"):])

    def move_sup(self, rel):
        dest = os.path.join(self.debug_dir, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.move(self.sup, dest)
        return dest

    def symbolize(self, prog, args, stdin, debug_dir=None):
        r = run([need(GOINSPECT), "symbolize", *args, "-e", self.exe[prog],
                 f"--debug-dir={debug_dir or self.debug_dir}"], input=stdin, timeout=120)
        assert r.returncode == 0, r.stderr
        return r


def dwz_build(builds, variant, layout="here"):
    orig = compile_programs(builds, variant)
    if layout == "dwz-dir" and os.path.exists(SYSTEM_DWZ_NAME):
        pytest.skip(f"{SYSTEM_DWZ_NAME} exists on this machine")
    return builds.get(f"dwz-{variant}-{layout}",
                      lambda out: Dwz(out, variant, layout, orig))


def in_functions(exe, addrs):
    """The addresses of addrs inside a sized function symbol of exe, by
    readelf: there a name comes from DWARF, or else from that symbol, alike
    for every symbolizer.  (Past a symbol's end, in the padding after a
    function, binutils names the function before it and gdb names none.)"""
    out = run(["readelf", "-Ws", exe]).stdout
    syms = []
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 8 and f[0].endswith(":") and f[3] in ("FUNC", "IFUNC") and f[2].isdigit() \
                and int(f[2]):
            syms.append((int(f[1], 16), int(f[1], 16) + int(f[2])))
    return [a for a in addrs if any(lo <= a < hi for lo, hi in syms)]


def addr_input(addrs):
    return "".join(f"{a:x}\n" for a in addrs)


def dwz_forms(exe):
    """The supplementary-file forms the abbreviations of exe use."""
    out = run(["readelf", "--debug-dump=abbrev", exe]).stdout
    return set(re.findall(r"DW_FORM_(GNU_strp_alt|GNU_ref_alt|strp_sup|ref_sup4|ref_sup8)", out))


def sup_used(stderr):
    """The supplementary file `symbolize --stats` says it used, as a real path."""
    m = re.search(r"^supplementary debug file: (.*)$", stderr, re.M)
    return os.path.realpath(m.group(1)) if m else None


def assert_uses_supplementary_file(d, prog):
    """dwz really moved names and references out (it leaves a file alone
    when that would not make it smaller)."""
    forms = dwz_forms(d.exe[prog])
    if "-sup" in d.variant:
        assert {"strp_sup", "ref_sup4"} <= forms, forms
    else:
        assert {"GNU_strp_alt", "GNU_ref_alt"} <= forms, forms


# ---- Every address as before dwz -------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("prog", sorted(PROGRAMS))
def test_every_text_address_as_before_dwz(builds, variant, layout, prog):
    d = dwz_build(builds, variant, layout)
    assert_uses_supplementary_file(d, prog)
    addrs = in_functions(d.exe[prog], text_addresses(d.exe[prog], 1))
    assert len(addrs) > 300
    inp = addr_input(addrs)
    before = run(["addr2line", "-afi", "-e", d.orig[prog]], input=inp, timeout=300).stdout
    r = d.symbolize(prog, ["-afi", "--stats"], inp)
    assert r.stdout == before
    assert "warning" not in r.stderr, r.stderr
    assert sup_used(r.stderr) == os.path.realpath(d.sup)
    blocks = split_blocks(r.stdout)
    files = {f for b in blocks for _, f, ln in frames_of(b) if ln}
    # DW_AT_comp_dir (in the supplementary file for DWARF 4) is in front
    assert files and all(f.startswith("/") for f in files), sorted(files)
    assert sum(len(frames_of(b)) > 2 for b in blocks) > 20, "inline chains"


def test_relative_name_is_read_from_the_real_directory(builds, tmp_path):
    """gdb resolves a relative .gnu_debugaltlink name from the real path of
    the binary: a symbolic link to it elsewhere finds the same file."""
    d = dwz_build(builds, "gcc-O2-dwarf4", "relative")
    link = tmp_path / "a"
    os.symlink(d.exe["a"], link)
    addrs = in_functions(d.exe["a"], text_addresses(d.exe["a"], 7))
    inp = addr_input(addrs)
    r = run([need(GOINSPECT), "symbolize", "-afi", "--stats", "-e", str(link)], input=inp)
    assert r.returncode == 0
    assert r.stdout == run(["addr2line", "-afi", "-e", d.orig["a"]], input=inp).stdout
    assert "warning" not in r.stderr, r.stderr
    assert sup_used(r.stderr) == os.path.realpath(d.sup)


# ---- Against addr2line, eu-addr2line and llvm-symbolizer on the processed files ---

def same_lines(frames, llvm):
    """Do frames and llvm-symbolizer's have the same files and lines?
    Without DW_AT_comp_dir (in the supplementary file with DWARF 4)
    llvm-symbolizer's names are relative."""
    return len(frames) == len(llvm) and all(
        ln == lm and (f == g or (not g.startswith("/") and f.endswith("/" + g)))
        for (_, f, ln), (_, g, lm) in zip(frames, llvm))


@pytest.mark.parametrize("variant", GNU_VARIANTS)
@pytest.mark.parametrize("prog", sorted(PROGRAMS))
def test_matches_addr2line_and_elfutils_on_the_processed_binary(builds, variant, prog):
    """Byte for byte with addr2line on the dwz'd binary where binutils reads
    it right.  binutils 2.40 misreads inline chains whose abstract origins
    are in a partial unit (dwz's own, or the supplementary file's): it names
    such frames after the ELF symbol of the enclosing function, and with
    DWARF 4 drops them (docs/symbolize.md).  At each such address
    llvm-symbolizer must agree with us on every file and line, and on the
    names of inlined calls it knows (it reads no supplementary file: the
    others are ??); for gcc, inside function symbols, eu-addr2line must
    agree with us on everything wherever it agrees with llvm-symbolizer on
    the files and lines (with DWARF 4 it too loses some frames reached
    through DW_FORM_ref_addr)."""
    need_tool("eu-addr2line")
    need_tool("llvm-symbolizer")
    d = dwz_build(builds, variant)
    exe = d.exe[prog]
    addrs = text_addresses(exe, 1)
    inp = addr_input(addrs)
    ours = split_blocks(d.symbolize(prog, ["-afi"], inp).stdout)
    theirs = split_blocks(run(["addr2line", "-afi", "-e", exe], input=inp, timeout=300).stdout)
    assert len(ours) == len(theirs) == len(addrs)
    diff = [addrs[i] for i in range(len(addrs)) if ours[i] != theirs[i]]
    assert len(diff) < len(addrs) // 2, f"{len(diff)} of {len(addrs)} differ"
    mine = {a: frames_of(b) for a, b in zip(addrs, ours)}
    llvm = llvm_frames(exe, diff)
    for a in diff:
        assert same_lines(mine[a], llvm[a]), f"{a:#x}: ours {mine[a]} llvm-symbolizer {llvm[a]}"
        # the outermost may be an ELF symbol name (.constprop clones) for it
        assert all(n == m for (n, _, _), (m, _, _) in zip(mine[a][:-1], llvm[a][:-1])
                   if m != "??"), f"{a:#x}: ours {mine[a]} llvm-symbolizer {llvm[a]}"
    if VARIANTS[variant][0] != "gcc":
        return              # eu-addr2line 0.188 cannot read clang's units
    named = in_functions(exe, diff)
    eu = eu_frames_many(exe, named)
    agreed = [a for a in named if same_lines(eu[a], llvm[a])]
    for a in agreed:
        assert mine[a] == eu[a], f"{a:#x}: ours {mine[a]} eu-addr2line {eu[a]}"
    assert len(agreed) > len(named) // 2


# ---- The type queries ---------------------------------------------------------------

@pytest.fixture(scope="session")
def probe(builds):
    return builds.tool("gidwarf_probe")


def probe_struct(probe, exe, name, env=None):
    out = probe_out(probe, "struct", exe, name, env=env).splitlines()
    members = {f[1]: (int(f[2]), int(f[3]), int(f[4])) for f in (l.split() for l in out[1:])}
    return int(out[0].split()[1]), members


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_types_in_the_supplementary_file(builds, probe, variant):
    """struct dwz_shape and enum dwz_color live in the supplementary file,
    struct dwz_grid in dwz_a's own partial unit with members whose types are
    in the supplementary file; dwz_shape_t is a typedef in dwz_b of a struct
    there.  gdb 13 reads only the GNU forms: for dwz -5 its answer on the
    binary before dwz is the oracle."""
    need_tool("gdb")
    d = dwz_build(builds, variant)
    a = d.exe["a"]
    gdb_exe = d.orig["a"] if "-sup" in variant else a
    truth = run([a]).stdout.splitlines()[0].split()
    t = dict(zip(truth[0::2], map(int, truth[1::2])))
    for name in ("dwz_shape", "dwz_grid", "dwz_point"):
        size, members = probe_struct(probe, a, name)
        rows, gdb_size = gdb_ptype(gdb_exe, f"struct {name}")
        assert size == gdb_size, name
        top = {m: (off, sz) for m, off, sz in rows if m in members}
        # gdb gives a union member's offset on the line that opens it
        assert set(members) - set(top) <= {"u"}, name
        for m, (off, sz, bits) in members.items():
            if not bits and m in top:
                assert (off, sz) == top[m], (name, m)
    shape = probe_struct(probe, a, "dwz_shape")
    assert shape[0] == t["dwz_shape"]
    assert [shape[1][m][0] for m in ("corners", "u", "color")] == \
        [t["corners"], t["u"], t["color"]]
    assert shape[1]["corners"][1] == 4 * t["dwz_point"]
    assert (shape[1]["n"][2], shape[1]["closed"][2]) == (3, 1)
    assert probe_out(probe, "struct", d.exe["b"], "dwz_shape_t").splitlines()[0] == \
        f"size {t['dwz_shape']}"
    values = {f[1]: int(f[2]) for f in (l.split() for l in
                                        probe_out(probe, "enum", a, "dwz_color").splitlines()[1:])}
    assert values == {"DWZ_RED": 0, "DWZ_GREEN": 4, "DWZ_BLUE": 5, "DWZ_DARK": -2}


# ---- Without the right supplementary file ---------------------------------------------

def without_sup(builds, variant, tmp_path, replacement=None):
    """The processed a and b copied to tmp_path with the supplementary file
    missing, or replaced by another one."""
    d = dwz_build(builds, variant)
    for p in PROGRAMS:
        shutil.copy(d.exe[p], tmp_path / p)
    if replacement:
        shutil.copy(replacement, tmp_path / "common.debug")
    return {p: str(tmp_path / p) for p in PROGRAMS}, d


def symbolize_alone(exe, inp):
    r = run([need(GOINSPECT), "symbolize", "-afi", "-e", exe, f"--debug-dir={MISSING_DIR}"],
            input=inp)
    assert r.returncode == 0, r.stderr
    return r


@pytest.mark.parametrize("variant", ["gcc-O2-dwarf4", "gcc-O2-dwarf4-sup"])
def test_missing_supplementary_file_is_a_warning(builds, tmp_path, variant):
    """Lines and call sites still come from the binary; what dwz moved out
    (names of inlined functions, the compilation directory) is unknown."""
    exe, d = without_sup(builds, variant, tmp_path)
    addrs = in_functions(exe["a"], text_addresses(exe["a"], 1))
    inp = addr_input(addrs)
    r = symbolize_alone(exe["a"], inp)
    warnings = [l for l in r.stderr.splitlines() if l.startswith("goinspect: warning: ")]
    assert len(warnings) == 1, r.stderr
    assert "supplementary debug file common.debug" in warnings[0]
    assert "not found" in warnings[0] and os.path.join(str(tmp_path), "common.debug") in warnings[0]
    want = ".debug_sup" if "-sup" in variant else ".gnu_debugaltlink"
    assert want in warnings[0]
    before = split_blocks(run(["addr2line", "-afi", "-e", d.orig["a"]], input=inp).stdout)
    ours = split_blocks(r.stdout)
    lost = 0
    for a, b, o in zip(addrs, before, ours):
        fb, fo = frames_of(b), frames_of(o)
        assert [ln for _, _, ln in fo] == [ln for _, _, ln in fb], f"{a:#x}: {fo} {fb}"
        assert [os.path.basename(f) for _, f, _ in fo] == \
            [os.path.basename(f) for _, f, _ in fb], f"{a:#x}: {fo} {fb}"
        for (no, _, _), (nb, _, _) in zip(fo, fb):
            assert no in (nb, "??"), f"{a:#x}: {fo} {fb}"
            lost += no != nb
    assert lost > 0
    # DWARF 4 keeps DW_AT_comp_dir there: the file names stay relative
    assert all(not f.startswith("/") for b in ours for _, f, ln in frames_of(b) if ln)


@pytest.mark.parametrize("variant", ["gcc-O2-dwarf4", "gcc-O2-dwarf4-sup"])
def test_supplementary_file_with_another_id_is_not_used(builds, tmp_path, variant):
    """A file at the recorded name whose build-id (or .debug_sup checksum)
    is not the recorded one — the supplementary file of another build — is
    not read: the answers are those without a supplementary file."""
    other = dwz_build(builds, "gcc-O2" + ("-dwarf5-sup" if "-sup" in variant else ""))
    exe, d = without_sup(builds, variant, tmp_path)
    addrs = text_addresses(exe["a"], 1)
    inp = addr_input(addrs)
    alone = symbolize_alone(exe["a"], inp).stdout
    shutil.copy(other.sup, tmp_path / "common.debug")
    r = symbolize_alone(exe["a"], inp)
    assert r.stdout == alone
    warnings = [l for l in r.stderr.splitlines() if l.startswith("goinspect: warning: ")]
    assert len(warnings) == 1, r.stderr
    sup = "-sup" in variant
    got = sup_checksum(other.sup) if sup else build_id(other.sup)
    want = sup_checksum(d.exe["a"]) if sup else recorded_id(d.exe["a"])
    assert got and want and got != want
    assert f"{tmp_path}/common.debug has {'checksum' if sup else 'build-id'} {got}, not the " \
        f"{want} that {'.debug_sup' if sup else '.gnu_debugaltlink'} records; not used" \
        in warnings[0]
    # a file that is not a supplementary file at all
    shutil.copy(exe["b"], tmp_path / "common.debug")
    r = symbolize_alone(exe["a"], inp)
    assert r.stdout == alone and "not used" in r.stderr


def test_corrupt_supplementary_file_never_crashes(builds, tmp_path):
    """Bytes flipped in the supplementary file's DWARF (its build-id intact,
    so it is used): answers or warnings, never a crash or a hang."""
    import random
    exe, d = without_sup(builds, "gcc-O2-dwarf4", tmp_path)
    data = open(d.sup, "rb").read()
    secs = []
    for line in run(["readelf", "-SW", d.sup]).stdout.splitlines():
        f = line.split("]")[1].split() if "]" in line else []
        if f and f[0] in (".debug_info", ".debug_abbrev", ".debug_str"):
            secs.append((int(f[3], 16), int(f[4], 16)))
    assert len(secs) == 3
    addrs = addr_input(text_addresses(exe["a"], 3))
    rng = random.Random(9)
    for k in range(40):
        buf = bytearray(data)
        off, size = rng.choice(secs)
        for _ in range(rng.randrange(1, 20)):
            buf[off + rng.randrange(size)] = rng.randrange(256)
        (tmp_path / "common.debug").write_bytes(bytes(buf))
        r = run([GOINSPECT, "symbolize", "-afi", "-e", exe["a"]], input=addrs, timeout=30,
                errors="replace")
        assert r.returncode == 0, f"mutant {k}: exit {r.returncode}\n{r.stderr}"


# ---- The system's libraries ------------------------------------------------------------

def libc_path():
    for line in run(["ldd", "/bin/true"]).stdout.splitlines():
        if "libc.so.6 =>" in line:
            return line.split("=>")[1].split()[0]
    pytest.skip("no libc.so.6 found")


def libc_debug_file(libc):
    bid = build_id(libc)
    dbg = f"/usr/lib/debug/.build-id/{bid[:2]}/{bid[2:]}.debug" if bid else None
    if not dbg or not os.path.exists(dbg):
        pytest.skip("libc's debug file is absent (libc6-dbg not installed)")
    return dbg


def compare_libc_with_eu(libc, stdout, addrs):
    """Our -afi answers for a sample of libc's addresses against
    eu-addr2line's and, where those differ, llvm-symbolizer's.
    eu-addr2line names some assembler entry points and code without lines
    differently and reports the outermost frame of a chain at another row,
    so compared are the frames, the names of inlined calls and the innermost
    file and line, wherever it has a line; and it cuts a few chains short or
    lengthens them (about one address in a thousand of libc, where addr2line
    and llvm-symbolizer agree with us): there llvm-symbolizer must agree
    with us on every file and line."""
    need_tool("eu-addr2line")
    need_tool("llvm-symbolizer")
    eu = eu_frames_many(libc, addrs)
    mine = {a: frames_of(b) for a, b in zip(addrs, split_blocks(stdout))}
    compared = [a for a in addrs if eu[a][0][1] != "??"]
    differ = []
    for a in compared:
        m, e = mine[a], eu[a]
        if len(m) != len(e):
            differ.append(a)
            continue
        assert [n for n, _, _ in m[:-1]] == [n for n, _, _ in e[:-1]], \
            f"{a:#x}: ours {m} eu-addr2line {e}"
        assert m[0][1:] == e[0][1:], f"{a:#x}: ours {m} eu-addr2line {e}"
    assert len(compared) > len(addrs) // 2 and len(differ) < len(compared) // 100, differ
    llvm = llvm_frames(libc, differ)
    for a in differ:
        assert same_lines(mine[a], llvm[a]), f"{a:#x}: ours {mine[a]} llvm-symbolizer {llvm[a]}"


def test_libc_debug_file_processed_by_dwz(builds, probe, tmp_path):
    """libc6-dbg's debug file, and a copy, through dwz -m as Debian's
    -dbgsym packages are (the common file named under /usr/lib/debug/.dwz/):
    found in a debug directory by build-id and the .dwz/ name, the answers
    for a sample of libc's addresses must be eu-addr2line's on the debug
    file as installed, and struct _IO_FILE gdb's."""
    libc = libc_path()
    dbg = libc_debug_file(libc)
    work = tmp_path / "work"
    work.mkdir()
    for name in ("libc.debug", "copy.debug"):
        r = run(["objcopy", "--decompress-debug-sections", dbg, str(work / name)])
        assert r.returncode == 0, r.stderr
    name = "/usr/lib/debug/.dwz/x86_64-linux-gnu/goinspect-test.debug"
    r = run(["dwz", "-m", "common.debug", "-M", name, "libc.debug", "copy.debug"], cwd=work,
            timeout=300)
    assert r.returncode == 0, r.stderr
    assert {"GNU_strp_alt", "GNU_ref_alt"} <= dwz_forms(str(work / "libc.debug"))
    debug = tmp_path / "debug"
    bid = build_id(libc)
    placed = {debug / ".build-id" / bid[:2] / (bid[2:] + ".debug"): work / "libc.debug",
              debug / name[len("/usr/lib/debug/"):]: work / "common.debug"}
    for dest, src in placed.items():
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(src), dest)
    addrs = text_addresses(libc, 1)[::211]
    r = run([need(GOINSPECT), "symbolize", "-afi", "--stats", f"--debug-dir={debug}", "-e", libc],
            input=addr_input(addrs), timeout=300)
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr
    compare_libc_with_eu(libc, r.stdout, addrs)
    assert sup_used(r.stderr) == os.path.realpath(debug / name[len("/usr/lib/debug/"):])
    need_tool("gdb")
    rows, gdb_size = gdb_ptype(libc, "struct _IO_FILE")
    size, members = probe_struct(probe, libc, "_IO_FILE", env={"GIDWARF_DEBUG_DIR": str(debug)})
    assert size == gdb_size and len(members) > 20
    top = {m: (off, sz) for m, off, sz in rows if m in members}
    assert set(top) == set(members)
    for m, (off, sz, bits) in members.items():
        if not bits:
            assert (off, sz) == top[m], m


def test_system_libc_with_dwz():
    """libc6-dbg's debug file as installed, when dwz processed it (Debian
    12's libc6-dbg is not; -dbgsym packages are): a sample of libc's
    addresses against eu-addr2line."""
    libc = libc_path()
    dbg = libc_debug_file(libc)
    if ".gnu_debugaltlink" not in run(["readelf", "-SW", dbg]).stdout:
        pytest.skip("libc's debug file was not processed by dwz (no .gnu_debugaltlink)")
    addrs = text_addresses(libc, 1)[::211]
    r = run([need(GOINSPECT), "symbolize", "-afi", "--stats", "-e", libc],
            input=addr_input(addrs), timeout=300)
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr
    compare_libc_with_eu(libc, r.stdout, addrs)
    assert sup_used(r.stderr)
