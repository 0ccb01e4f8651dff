"""Frames without debug info named as gdb names them: `attach PID threads
-t` against gdb's backtraces of the same threads, and libgidwarf's gdb rule
(GD_SYMBOLS_GDB, through tests/tools/gidwarf_probe) against gdb's `info
symbol` at every Nth code address of libc and libm, every byte of the PLT
sections of several links, and GCC's clones of static functions.  Without
the system's debug files (--debug-file-directory '' and gdb's
debug-file-directory elsewhere, as on a machine without libc6-dbg) and,
where the system has them, with them."""
import os
import re

import pytest

from attachlib import (NO_DEBUG_INFO, SYSTEM_DEBUG_INFO, attach, attach_json, run,
                       system_debug_file)
from placeslib import gdb_frames, names, start_places, thread_of
from sym_helpers import Builds, cc, exec_ranges, gdb_info_symbol, symbolize, text_addresses


@pytest.fixture(scope="session")
def builds(tmp_path_factory):
    return Builds(str(tmp_path_factory.mktemp("attach-symbols")))


@pytest.fixture(scope="session")
def probe(builds):
    return builds.tool("gidwarf_probe")


def probe_names(probe, path, addrs, rule, debug):
    """The probe's name for each address by RULE ("gdb" or "addr2line"),
    written as gdb's `info symbol` writes it."""
    env = {"GIDWARF_DEBUG_DIR": ""} if debug is NO_DEBUG_INFO else None
    r = run([probe, "names", path, rule], input="".join(f"{a:x}\n" for a in addrs), env=env,
            timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def mapped_library(name):
    """The path of library NAME as this process (python, which links libc
    and libm) has it mapped."""
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and os.path.basename(parts[5]).startswith(name):
                return parts[5]
    pytest.skip(f"{name} is not mapped here")


def debug_info(name, path):
    if name == "none":
        return NO_DEBUG_INFO
    if not system_debug_file(path):
        pytest.skip(f"no debug file for {path} in /usr/lib/debug")
    return SYSTEM_DEBUG_INFO


def differing(addrs, got, want):
    return [(hex(a), g, w) for a, g, w in zip(addrs, got, want) if g != w]


# ---- Threads of a live process against gdb's backtraces --------------------

@pytest.mark.parametrize("kind", ["write", "select"])
def test_blocked_libc_call_is_named_as_gdb_names_it(targets, program, kind):
    """Without libc's debug info a frame is named from .dynsym, where libc
    has several names at one address (write and __write, select and
    __select): gdb takes the last by name, binutils' addr2line the first
    in the table."""
    t, tids = start_places(targets, program, "aliases")
    tid = tids[kind]
    doc = attach_json(t.pid, "threads", "-t", pre=NO_DEBUG_INFO.goinspect)
    ours = names(thread_of(doc, tid))
    gdbs = gdb_frames(t.pid, NO_DEBUG_INFO.gdb)[tid]
    # the thread is blocked in the call: the same frames for both
    assert ours[0] == gdbs[0], f"goinspect {ours}, gdb {gdbs}"
    assert ours[:2] == gdbs[:2], f"goinspect {ours}, gdb {gdbs}"


def plt_offsets(exe):
    """(offset of getppid's GOT slot, offset of its PLT stub)."""
    rel = run(["readelf", "-rW", exe]).stdout
    (got,) = [int(l.split()[0], 16) for l in rel.splitlines()
              if "JUMP_SLOT" in l and re.search(r"\bgetppid@", l)]
    dis = run(["objdump", "-d", exe]).stdout
    (plt,) = [int(m.group(1), 16) for m in re.finditer(r"^([0-9a-f]+) <getppid@plt>:", dis, re.M)]
    return got, plt


def test_a_pc_in_a_plt_stub_is_named_as_gdb_names_it(targets, program):
    """gdb names a pc in a PLT stub after the function it jumps to
    (getppid@plt, BFD's synthetic symbols).  The target loops in the stub
    of getppid for good (its GOT slot points back at the stub), so gdb and
    goinspect see the same pc."""
    exe = program("thread_places.c")
    got, plt = plt_offsets(exe)
    t, tids = start_places(targets, program, "plt", hex(got), hex(plt), exe=exe)
    tid = tids["plt"]
    ours = names(thread_of(attach_json(t.pid, "threads", "-t"), tid))
    gdbs = gdb_frames(t.pid)[tid]
    assert gdbs[0] == "getppid@plt", f"gdb: {gdbs}"
    assert ours[:2] == gdbs[:2], f"goinspect {ours}, gdb {gdbs}"


SYMBOLS_ONLY_LIB = r"""
static volatile int counter;
static __attribute__((noinline)) void hidden_spin(void) { for (;;) counter++; }
void sym_entry(void) { hidden_spin(); counter--; }
"""


def symbols_only_library(d):
    """A library built without -g, stripped, whose separate debug file
    (objcopy --only-keep-debug, --add-gnu-debuglink) has its full .symtab,
    static functions included, and no DWARF."""
    with open(f"{d}/libsym.c", "w") as f:
        f.write(SYMBOLS_ONLY_LIB)
    for argv in (["gcc", "-O1", "-shared", "-fPIC", "-o", "libsym.so", "libsym.c"],
                 ["objcopy", "--only-keep-debug", "libsym.so", "libsym.so.debug"],
                 ["strip", "--strip-all", "libsym.so"],
                 ["objcopy", "--add-gnu-debuglink=libsym.so.debug", "libsym.so"]):
        r = run(argv, cwd=d)
        assert r.returncode == 0, f"{argv}: {r.stderr}"
    assert "hidden_spin" in run(["readelf", "-sW", f"{d}/libsym.so.debug"]).stdout
    assert "hidden_spin" not in run(["readelf", "-sW", f"{d}/libsym.so"]).stdout
    return f"{d}/libsym.so"


def test_static_functions_are_named_from_a_debug_file_without_dwarf(targets, program, tmp_path):
    """gdb (and eu-addr2line) read such a debug file's .symtab and name the
    library's static functions; only .dynsym is left in the library."""
    lib = symbols_only_library(str(tmp_path))
    t, tids = start_places(targets, program, "lib", lib, "sym_entry")
    tid = tids["lib"]
    gdbs = gdb_frames(t.pid)[tid]
    assert gdbs[:2] == ["hidden_spin", "sym_entry"], f"gdb: {gdbs}"
    r = attach(t.pid, "threads", "-t")
    assert r.returncode == 0 and "not used as the debug file" not in r.stderr, r.stderr
    ours = names(thread_of(attach_json(t.pid, "threads", "-t"), tid))
    assert ours[:3] == gdbs[:3], f"goinspect {ours}, gdb {gdbs}"


# ---- libgidwarf's gdb rule against gdb's `info symbol` ----------------------

@pytest.mark.parametrize("debug", ["none", "system"])
@pytest.mark.parametrize("lib", ["libc.so", "libm.so"])
def test_every_13th_code_address_of_a_system_library_as_gdb(probe, lib, debug):
    """Aliases (write and __write), sizes and extents, the PLT, and with the
    debug file its .symtab with the local functions and GCC's clones
    (fputwc.cold, printed fputwc[cold]): the name gdb's `info symbol` gives,
    offset included, at every 13th byte of every code section."""
    path = mapped_library(lib)
    debug = debug_info(debug, path)
    addrs = text_addresses(path, 13)
    want = gdb_info_symbol(path, addrs, debug.gdb)
    got = probe_names(probe, path, addrs, "gdb", debug)
    diff = differing(addrs, got, want)
    assert not diff, f"{len(diff)} of {len(addrs)} differ from gdb, e.g. {diff[:5]}"
    assert sum(w != "??" for w in want) > len(addrs) // 4
    # where binutils' addr2line would take another alias: the rules differ
    other = probe_names(probe, path, addrs, "addr2line", debug)
    assert any(o != g and o != "??" and g != "??" for o, g in zip(other, got))


PLT_PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int (*say)(const char *) = puts;    /* a canonical PLT address without -pie */

int main(int argc, char **argv)
{
    char *s = malloc(16);
    strcpy(s, argv[0]);
    printf("%d %zu\n", getpid(), strlen(s));
    free(s);
    return say(argv[argc - 1]) < 0;
}
"""

# lazy .plt, -z now (.plt.got too), IBT (.plt.sec), non-PIE, a library
PLT_LINKS = {
    "lazy": [],
    "now": ["-Wl,-z,now"],
    "ibt": ["-fcf-protection=full", "-Wl,-z,ibtplt"],
    "ibt-now": ["-fcf-protection=full", "-Wl,-z,ibtplt,-z,now"],
    "nopie": ["-no-pie"],
    "nopie-ibt": ["-no-pie", "-fcf-protection=full", "-Wl,-z,ibtplt"],
    "shared": ["-shared", "-fPIC"],
}


def plt_addresses(path):
    return [a for name, lo, size in exec_ranges(path) if name.startswith(".plt")
            for a in range(lo, lo + size)]


def check_plt_as_gdb(probe, path):
    addrs = plt_addresses(path)
    want = gdb_info_symbol(path, addrs, NO_DEBUG_INFO.gdb)
    got = probe_names(probe, path, addrs, "gdb", NO_DEBUG_INFO)
    diff = differing(addrs, got, want)
    assert not diff, f"{len(diff)} of {len(addrs)} differ from gdb, e.g. {diff[:5]}"
    # PLT0 has no name; each entry is SYM@plt, at every byte of it
    assert "??" in want and any(w.endswith("@plt + 4") for w in want)
    return addrs, want


@pytest.mark.parametrize("link", sorted(PLT_LINKS))
def test_every_plt_byte_of_a_program_as_gdb(builds, probe, link):
    src = os.path.join(builds.dir, "plt.c")
    with open(src, "w") as f:
        f.write(PLT_PROGRAM)
    path = builds.get(f"plt-{link}", lambda out: cc("gcc", ["-O1", *PLT_LINKS[link], src], out))
    addrs, want = check_plt_as_gdb(probe, path)
    assert any(w.startswith("malloc@plt") for w in want)
    # addr2line has no synthetic symbols: symbolize names no PLT entry
    inp = "".join(f"{a:x}\n" for a in addrs)
    assert symbolize(path, ["-f"], inp).stdout == run(["addr2line", "-f", "-e", path],
                                                      input=inp).stdout


def test_every_plt_byte_of_libc_and_the_test_program_as_gdb(program, probe):
    """libc's own stubs jump through IRELATIVE slots (*ABS*+0xADDR@plt) and
    GLOB_DAT ones (.plt.got)."""
    _, want = check_plt_as_gdb(probe, mapped_library("libc.so"))
    assert any(w.startswith("*ABS*+0x") for w in want)
    check_plt_as_gdb(probe, program("thread_places.c"))


CLONES = r"""
#include <stdio.h>

extern void report(const char *what, int v) __attribute__((cold));

void report(const char *what, int v)
{
    fprintf(stderr, "%s %d\n", what, v);
}

int sum(const int *v, int n)
{
    int s = 0;
    for (int i = 0; i < n; i++) {
        if (v[i] < 0) {             /* the calls of a cold function: sum.cold */
            report("negative", v[i]);
            report("at", i);
            s -= v[i];
        } else {
            s += v[i];
        }
    }
    return s;
}

static __attribute__((noinline)) int scaled(int x, int k)   /* scaled.constprop.0 */
{
    return x * k + 1;
}

int main(int argc, char **argv)
{
    int v[3] = {argc, -argc, 2};
    (void)argv;
    return sum(v, 3) + scaled(argc, 3);
}
"""


def test_clones_of_functions_are_printed_as_gdb_prints_them(builds, probe):
    """gdb prints a minimal symbol's name decoded as an Ada name when that
    changes it: sum.cold is sum[cold], scaled.constprop.0 scaled.constprop."""
    src = os.path.join(builds.dir, "clones.c")
    with open(src, "w") as f:
        f.write(CLONES)
    path = builds.get("clones", lambda out: cc("gcc", ["-O2", src], out))
    syms = run(["nm", path]).stdout
    assert " sum.cold" in syms and " scaled.constprop.0" in syms
    addrs = text_addresses(path, 1)
    want = gdb_info_symbol(path, addrs, NO_DEBUG_INFO.gdb)
    got = probe_names(probe, path, addrs, "gdb", NO_DEBUG_INFO)
    assert not differing(addrs, got, want)
    assert {"sum[cold]", "scaled.constprop"} <= {w.split(" + ")[0] for w in want}
