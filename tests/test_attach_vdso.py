"""The vdso: a thread calling clock_gettime() (or gettimeofday(), time())
spends its time in the kernel's [vdso], a mapping with no file.  gdb reads
the vdso's ELF image from memory, names the frame from its .dynsym
(`clock_gettime ()`) and unwinds through it with its .eh_frame to the
caller; goinspect must do the same (before, it printed `??` and stopped:
"pc is in no mapped file", and the thread's stack was lost at its first
frame).  The names are checked against readelf's reading of the image
copied from /proc/PID/mem."""
import os

import pytest

from attachlib import attach, attach_json, debug_info_for, run
from placeslib import gdb_frames, names, start_places, thread_of


def vdso_range(pid):
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            if line.rstrip().endswith("[vdso]"):
                lo, hi = line.split()[0].split("-")
                return int(lo, 16), int(hi, 16)
    raise AssertionError("no [vdso] mapping")


def vdso_names(pid, lo, hi, off, tmp_path):
    """The names of the vdso's dynamic symbols whose extent holds OFF (its
    image copied from the process, read by readelf)."""
    path = os.path.join(tmp_path, "vdso.so")
    with open(f"/proc/{pid}/mem", "rb") as mem, open(path, "wb") as out:
        mem.seek(lo)
        out.write(mem.read(hi - lo))
    syms = run(["readelf", "-sW", "--dyn-syms", path]).stdout
    found = set()
    for line in syms.splitlines():
        f = line.split()
        if len(f) >= 8 and f[3] == "FUNC":
            value, size = int(f[1], 16), int(f[2], 0)
            if value <= off < value + size:
                found.add(f[7].split("@")[0])
    assert found, f"no vdso symbol holds offset {off:#x}"
    return found


def test_frames_in_the_vdso_are_named_and_unwound(targets, program, tmp_path):
    t, tids = start_places(targets, program, "vdso")
    lo, hi = vdso_range(t.pid)
    for _ in range(50):
        doc = attach_json(t.pid, "threads", "-t")
        th = thread_of(doc, tids["vdso"])
        if lo <= th["frames"][0]["pc"] < hi:
            break
    else:
        raise AssertionError("the thread was never stopped inside the vdso")
    frames = th["frames"]
    want = vdso_names(t.pid, lo, hi, frames[0]["pc"] - lo, str(tmp_path))
    assert frames[0]["function"] in want, f"frame 0 {frames[0]}; the vdso names it {want}"
    # the walk goes on to the program's own function
    assert "vdso_spin" in [f["function"] for f in frames], frames
    # the module is named as /proc/PID/maps names the mapping, the offset
    # from its start (the vdso is linked at 0)
    assert frames[0]["module"] == "[vdso]", frames[0]
    assert frames[0]["offset"] == frames[0]["pc"] - lo, frames[0]


def test_text_names_the_vdso_module(targets, program):
    t, tids = start_places(targets, program, "vdso")
    lo, hi = vdso_range(t.pid)
    for _ in range(50):
        text = attach(t.pid, "threads").stdout
        (row,) = [l for l in text.splitlines() if l[2:].split()[:1] == [str(tids["vdso"])]]
        pc = int(row[2:].split()[6], 16)
        if lo <= pc < hi:
            break
    else:
        raise AssertionError("the thread was never stopped inside the vdso")
    assert row.endswith(f"([vdso]+{pc - lo:#x})"), row


@pytest.mark.parametrize("debug", ["none", "system"])
def test_a_thread_in_the_vdso_is_unwound_as_gdb_unwinds_it(targets, program, debug):
    t, tids = start_places(targets, program, "vdso")
    debug = debug_info_for(debug, t.pid)
    lo, hi = vdso_range(t.pid)
    tid = tids["vdso"]
    for _ in range(20):
        gdbs = gdb_frames(t.pid, debug.gdb)[tid]
        th = thread_of(attach_json(t.pid, "threads", "-t", pre=debug.goinspect), tid)
        # both caught the thread in the vdso: in clock_gettime, called by libc
        if lo <= th["frames"][0]["pc"] < hi and len(gdbs) > 2 and gdbs[2] == "vdso_spin":
            break
    else:
        raise AssertionError(f"goinspect and gdb never both saw the thread in the vdso: {gdbs}")
    assert names(th) == gdbs, f"goinspect {names(th)} ({th['stack_error']}), gdb {gdbs}"


def test_a_goroutine_in_the_vdso_is_named_and_unwound(targets, program):
    # gort_nanotime() is clock_gettime(): the runtime's own clock is in the vdso
    t, _ = start_places(targets, program, "nanotime")
    (gid,) = [int(l.split()[2]) for l in t.lines if l.startswith("GOID nanotime ")]
    lo, hi = vdso_range(t.pid)
    for _ in range(50):
        doc = attach_json(t.pid, "goroutine", str(gid))
        frames = doc["goroutine"]["frames"]
        if frames and lo <= frames[0]["pc"] < hi:
            break
    else:
        raise AssertionError("the goroutine was never stopped inside the vdso")
    assert frames[0]["function"] is not None, frames[0]
    assert "nanotime_spin" in [f["function"] for f in frames], doc
