"""goinspect core on bad input: each a clear `goinspect: WHAT: WHY`, exit 1
(2 for a usage error), no crash, no hang.  And the core reader's fuzz
seeds through its libFuzzer target under AddressSanitizer."""
import glob
import os
import shutil
import signal
import struct
import subprocess

import pytest

from attachlib import goinspect
from conftest import ROOT, run
from corelib import core, gdb_core, kernel_core, start_dumpable, stopped
from fuzzlib import run_fuzz_seeds


def bad(path, *args, code=1):
    r = core(path, *args, timeout=30)
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.startswith("goinspect: ") and r.stderr.count("\n") == 1, r.stderr
    assert "Traceback" not in r.stderr and "AddressSanitizer" not in r.stderr
    return r.stderr.strip()


@pytest.fixture(scope="module")
def sample(tmp_path_factory, program):
    """A gdb core of a stopped insp_park (taken once for the module)."""
    d = tmp_path_factory.mktemp("core-sample")
    exe = program("insp_park.c")
    p = subprocess.Popen([exe, "park"], stdout=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        for line in p.stdout:
            if line.strip() == "READY":
                break
        os.kill(p.pid, signal.SIGSTOP)
        path = gdb_core(p.pid, str(d / "gdb.core"))
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=10)
    return path, exe


def test_not_a_core(tmp_path, sample):
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert bad(str(empty)) == f"goinspect: {empty}: an empty file, not a core file"
    assert bad(str(tmp_path)) == f"goinspect: {tmp_path}: is not an ordinary file"
    text = tmp_path / "text"
    text.write_text("hello, world\n" * 10)
    assert bad(str(text)) == f"goinspect: {text}: not an ELF file"
    assert "not a core file (ELF type 3, an executable or shared object: give the core as CORE " \
           "and this file as --exe)" in bad(sample[1])
    assert "No such file or directory" in bad(str(tmp_path / "nosuch"))
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    assert bad(fifo) == f"goinspect: {fifo}: is not an ordinary file"


def test_usage_errors(sample):
    r = run([goinspect(), "core"])
    assert r.returncode == 2 and "which core file?" in r.stderr
    r = run([goinspect(), "core", sample[0], "--exe"])
    assert r.returncode == 2 and "--exe needs a value" in r.stderr
    r = run([goinspect(), "core", sample[0], "nosuch"])
    assert r.returncode == 2 and "unknown command 'nosuch'" in r.stderr
    r = run([goinspect(), "core", sample[0], "--bogus"])
    assert r.returncode == 2 and "unknown option '--bogus'" in r.stderr


def test_truncated_anywhere(tmp_path, sample):
    """The core cut at many offsets: headers and notes missing are errors;
    memory missing (past the notes) gives what is left, or an error naming
    what could not be read, never a crash."""
    with open(sample[0], "rb") as f:
        data = f.read()
    phoff, = struct.unpack_from("<Q", data, 32)
    phnum, = struct.unpack_from("<H", data, 56)
    cuts = sorted({0, 10, 63, 64, phoff + 20, phoff + 56 * phnum - 1, 2000, 5000, 20000,
                   len(data) // 3, len(data) // 2, len(data) - 4096, len(data) - 1})
    cut = str(tmp_path / "cut")
    for n in cuts:
        with open(cut, "wb") as f:
            f.write(data[:n])
        r = core(cut, "goroutines", timeout=30)
        assert r.returncode in (0, 1), (n, r.returncode, r.stderr)
        if r.returncode:
            assert r.stderr.startswith("goinspect: ") and "Traceback" not in r.stderr, (n, r.stderr)


def test_notes_that_run_past_their_segment(tmp_path, sample):
    with open(sample[0], "rb") as f:
        data = bytearray(f.read())
    phoff, = struct.unpack_from("<Q", data, 32)
    phnum, = struct.unpack_from("<H", data, 56)
    for i in range(phnum):
        ptype, _, off, _, _, filesz = struct.unpack_from("<IIQQQQ", data, phoff + 56 * i)
        if ptype == 4:          # PT_NOTE: the first note's descriptor size, huge
            struct.pack_into("<I", data, off + 4, 0x7ffffff0)
            break
    path = tmp_path / "badnote"
    path.write_bytes(bytes(data))
    assert "runs past the end of its segment" in bad(str(path))


def test_core_of_a_program_without_libgort(tmp_path, targets):
    src = tmp_path / "plain.c"
    src.write_text("#include <unistd.h>\nint main(void) { for (;;) pause(); }\n")
    exe = str(tmp_path / "plain")
    assert run(["gcc", "-o", exe, str(src)]).returncode == 0
    p = targets.start([exe])
    path = gdb_core(p.pid, str(tmp_path / "plain.core"))
    assert bad(path) == (f"goinspect: core {path} (PID {p.pid}, plain) does not link libgort: "
                         f"no runtime descriptor")


def test_missing_executable(targets, program, tmp_path):
    """The executable the core names is gone: said so; --exe helps."""
    exe = str(tmp_path / "park")
    shutil.copy(program("insp_park.c"), exe)
    t = start_dumpable(targets, program, "insp_park.c", "park", cwd=str(tmp_path), exe=exe)
    stopped(t)
    path = gdb_core(t.pid, str(tmp_path / "c"))
    saved = str(tmp_path / "saved")
    os.rename(exe, saved)
    msg = bad(path)
    assert msg == (f"goinspect: core {path} (PID {t.pid}, park): {exe}: the mapped file cannot "
                   f"be opened"), msg
    r = core(path, "summary", opts=("--exe", saved))
    assert r.returncode == 0, r.stderr


def test_goroutine_table_outside_every_segment(targets, program, tmp_path):
    """insp_corrupt's badptr mode points an all-G entry at unmapped memory:
    the core shows what attach shows, that entry as an error, every other
    goroutine as usual."""
    t = start_dumpable(targets, program, "insp_corrupt.c", "badptr", cwd=str(tmp_path))
    stopped(t)
    path = gdb_core(t.pid, str(tmp_path / "corrupt.core"))
    for c in (path, kernel_core(t, signal.SIGABRT, str(tmp_path))):
        r = core(c, "goroutines")
        assert r.returncode == 0, r.stderr
        lines = [l for l in r.stdout.splitlines() if "Goroutine " in l]
        errors = [l for l in lines if " - error:" in l]
        assert len(errors) == 1 and "(G at 0x10000) is not in readable memory" in errors[0], errors
        assert len(lines) == len(t.who) + 1


def test_core_reader_fuzz_seeds_under_asan(tmp_path):
    """The core reader's seed corpus (tests/fuzz-seeds-core/) through its
    libFuzzer target built with ASan and UBSan: every seed is read without a
    sanitizer report."""
    seeds = sorted(glob.glob(os.path.join(ROOT, "tests", "fuzz-seeds-core", "*")))
    assert len(seeds) >= 4
    insp = os.path.join(ROOT, "inspector")
    r = run_fuzz_seeds(str(tmp_path / "fuzz_core"), "address,undefined",
                       ["-fno-sanitize-recover=all", "-I", insp,
                        os.path.join(ROOT, "bench", "fuzz", "fuzz_core.c"),
                        os.path.join(insp, "corefile.c"), os.path.join(insp, "signames.c"),
                        os.path.join(insp, "fail.c")], seeds)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "ERROR: AddressSanitizer" not in r.stderr and "runtime error:" not in r.stderr
    assert r.stderr.count("Executed ") == len(seeds)
