"""libgidwarf's API against readelf, nm, gdb and the target's own output,
and the fuzz seed corpus through an AddressSanitizer build of the loader."""
import glob
import os
import re

import pytest

from conftest import ROOT, run
from fuzzlib import run_fuzz_seeds
from sym_helpers import Builds, cc, gdb_ptype, need_tool, probe_out, sym_src


@pytest.fixture(scope="session")
def builds(tmp_path_factory):
    return Builds(str(tmp_path_factory.mktemp("gidwarf")))


@pytest.fixture(scope="session")
def probe(builds):
    return builds.tool("gidwarf_probe")


def exe_variants(builds):
    return {
        "pie": builds.get("pie", lambda o: cc("gcc", ["-O2", "-g", sym_src("sym_main.c"),
                                                      sym_src("sym_other.c")], o)),
        "nopie": builds.get("nopie", lambda o: cc("gcc", ["-O2", "-g", "-no-pie",
                                                          sym_src("sym_main.c"),
                                                          sym_src("sym_other.c")], o)),
        "shared": builds.get("lib.so", lambda o: cc("gcc", ["-O2", "-g", "-shared", "-fPIC",
                                                            sym_src("sym_lib.c")], o)),
    }


@pytest.mark.parametrize("kind", ["pie", "nopie", "shared"])
def test_elf_facts_match_readelf(builds, probe, kind):
    path = exe_variants(builds)[kind]
    info = dict(l.split(" ", 1) for l in probe_out(probe, "info", path).splitlines()
                if not l.startswith("LOAD"))
    header = run(["readelf", "-hW", path]).stdout
    etype = re.search(r"Type:\s+(\w+)", header).group(1)
    assert int(info["type"]) == {"EXEC": 2, "DYN": 3}[etype]
    assert int(info["pie"]) == (kind == "pie")
    assert int(info["entry"], 16) == int(re.search(r"Entry point address:\s+(0x[0-9a-f]+)",
                                                   header).group(1), 16)
    bid = re.search(r"Build ID: ([0-9a-f]+)", run(["readelf", "-n", path]).stdout).group(1)
    assert info["build_id"] == bid
    assert int(info["has_dwarf"]) == 1 and int(info["units"]) >= 1
    assert int(info["functions"]) > 0 and int(info["rows"]) > 0
    ours = [tuple(int(x, 16) for x in l.split()[1:5])
            for l in probe_out(probe, "info", path).splitlines() if l.startswith("LOAD")]
    theirs = []
    for line in run(["readelf", "-lW", path]).stdout.splitlines():
        f = line.split()
        if f and f[0] == "LOAD":
            theirs.append((int(f[1], 16), int(f[2], 16), int(f[4], 16), int(f[5], 16)))
    assert ours == theirs


def test_symbols_match_nm(builds, probe):
    path = exe_variants(builds)["pie"]
    seen = 0
    names = {}
    for line in run(["nm", "-S", "--defined-only", path]).stdout.splitlines():
        f = line.split()
        if len(f) == 4 and f[2] in "TtDdBbRr":
            names.setdefault(f[3], []).append((int(f[0], 16), int(f[1], 16)))
    for name, vals in sorted(names.items()):
        if len(vals) != 1:
            continue                    # two static helpers: either may come first
        val, size = probe_out(probe, "sym", path, name).split()
        assert (int(val, 16), int(size)) == vals[0], name
        seen += 1
    assert seen > 10
    assert run([probe, "sym", path, "no_such_symbol"]).returncode == 1


def test_struct_layout_matches_gdb_and_the_program(builds, probe):
    need_tool("gdb")
    exe = builds.get("types", lambda o: cc("gcc", ["-O0", "-g", sym_src("types.c")], o))
    out = probe_out(probe, "struct", exe, "outer")
    size = int(out.splitlines()[0].split()[1])
    members = {f[1]: (int(f[2]), int(f[3]), int(f[4])) for f in
               (l.split() for l in out.splitlines()[1:])}
    gdb_rows, gdb_size = gdb_ptype(exe, "struct outer")
    assert size == gdb_size
    top = [r for r in gdb_rows if r[0] in members]
    assert len(top) >= 6
    for name, off, sz in top:
        if members[name][2]:
            continue                    # bit-fields: gdb shows bit offsets
        assert members[name][:2] == (off, sz), name
    # the program's own sizeof/offsetof
    truth = run([exe]).stdout.split()
    t = dict(zip(truth[0::2], map(int, truth[1::2])))
    assert size == t["outer"]
    for m in ("id", "in", "name", "next", "arr", "u", "c"):
        assert members[m][0] == t[m], m
    assert members["flag"][2] == 1 and members["level"][2] == 5
    assert members["arr"][1] == 24 and members["name"][1] == 13
    # typedef names resolve to the struct
    assert probe_out(probe, "struct", exe, "outer_t").splitlines()[0] == f"size {size}"


def test_enum_values_match_gdb(builds, probe):
    need_tool("gdb")
    exe = builds.get("types", lambda o: cc("gcc", ["-O0", "-g", sym_src("types.c")], o))
    out = probe_out(probe, "enum", exe, "color").splitlines()
    values = {f[1]: int(f[2]) for f in (l.split() for l in out[1:])}
    assert set(values) == {"RED", "GREEN", "BLUE", "NEGATIVE", "BIG"}
    for name, v in values.items():
        r = run(["gdb", "-batch", "-nx", "-ex", f"print (long){name}", exe])
        assert r.stdout.strip().endswith(f"= {v}"), (name, r.stdout)
    mode = probe_out(probe, "enum", exe, "mode_t_alias").splitlines()
    assert "value MODE_B 2" in mode
    r = run([probe, "enum", exe, "no_such_enum"])
    assert r.returncode == 1 and "not found" in r.stderr


def test_load_bias_of_a_running_pie_and_shared_object(builds, probe, targets):
    lib = exe_variants(builds)["shared"]
    exe = builds.get("bias", lambda o: cc("gcc", ["-O2", "-g", sym_src("bias_target.c"), lib,
                                                  f"-Wl,-rpath,{os.path.dirname(lib)}"], o))
    import subprocess
    p = targets.start([exe], stdin=subprocess.PIPE)
    line = p.stdout.readline().split()
    printed = {line[0]: int(line[1], 16), line[2]: int(line[3], 16)}
    maps = open(f"/proc/{p.pid}/maps").read().splitlines()
    for path, sym in ((exe, "main"), (lib, "lib_entry")):
        real = os.path.realpath(path)
        first = [l.split() for l in maps if l.endswith(real)][0]
        start = int(first[0].split("-")[0], 16)
        off = int(first[2], 16)
        bias = int(probe_out(probe, "bias", path, hex(start), hex(off)), 16)
        value = int(probe_out(probe, "sym", path, sym).split()[0], 16)
        assert bias + value == printed[sym], sym
    p.stdin.close()
    p.wait(timeout=10)


def test_fuzz_seeds_under_asan(tmp_path):
    """The seed corpus through the libFuzzer target built with ASan: every
    seed is loaded, looked up and unwound without a sanitizer report."""
    seeds = sorted(glob.glob(os.path.join(ROOT, "tests", "fuzz-seeds", "*")))
    assert len(seeds) >= 8
    dwarf = os.path.join(ROOT, "dwarf")
    r = run_fuzz_seeds(str(tmp_path / "fuzz_loader"), "address",
                       ["-I", dwarf, "-I/usr/include/libdwarf",
                        os.path.join(ROOT, "bench", "fuzz", "fuzz_loader.c"),
                        *sorted(glob.glob(os.path.join(dwarf, "*.c"))), "-lelf", "-ldwarf"], seeds)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "ERROR: AddressSanitizer" not in r.stderr
    assert r.stderr.count("Executed ") == len(seeds)
