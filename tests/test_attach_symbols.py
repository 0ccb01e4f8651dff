"""Frames without debug info named as gdb names them: `attach PID threads
-t` against gdb's backtraces of the same threads."""
from attachlib import attach, attach_json, run
from advlib import gdb_frames, names, start_places, thread_of


SYMBOLS_ONLY_LIB = r"""
static volatile int counter;
static __attribute__((noinline)) void hidden_spin(void) { for (;;) counter++; }
void adv_sym_entry(void) { hidden_spin(); counter--; }
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
    t, tids = start_places(targets, program, "lib", lib, "adv_sym_entry")
    tid = tids["lib"]
    gdbs = gdb_frames(t.pid)[tid]
    assert gdbs[:2] == ["hidden_spin", "adv_sym_entry"], f"gdb: {gdbs}"
    r = attach(t.pid, "threads", "-t")
    assert r.returncode == 0 and "not used as the debug file" not in r.stderr, r.stderr
    ours = names(thread_of(attach_json(t.pid, "threads", "-t"), tid))
    assert ours[:3] == gdbs[:3], f"goinspect {ours}, gdb {gdbs}"
