"""The heap inside gdb: info gort-heap, info gort-spans, info gort-memstats,
info gort-maps and gort-ptr on tests/programs/insp_heap.c (a heap of known
objects that holds still once READY; its damaged modes give one span record
garbage), against what goinspect says of the same stopped process (heap,
spans, memstats, maps, ptr: the same facts in the same words), against the
program's own gort_read_memstats and the objects it allocated and dropped,
and on a core file."""
import collections
import re
import subprocess

import pytest

from attachlib import Target, attach, src_path, start
from gdblib import gcore, gdb, resume, stop
from heaplib import parse_memstats

Obj = collections.namedtuple("Obj", "addr size kept noscan")


class HeapProgram(Target):
    def parse(self):
        self.objs, self.victim = [], None
        for line in self.lines:
            if line == "READY":
                break
            f = line.split()
            if f[0] == "OBJ":
                self.objs.append(Obj(int(f[1], 16), int(f[2]), f[3] == "kept", f[4] == "noscan"))
            elif f[0] == "VICTIM":
                self.victim = tuple(int(x, 16) for x in f[1:])
        return self

    def probe(self):
        """The program's own gort_read_memstats, now."""
        with self.cond:
            first = len(self.lines)
        self.proc.stdin.write("memstats\n")
        self.proc.stdin.flush()
        i = self.wait_line(lambda l: l.startswith("MS probe "), start=first)
        return parse_memstats(self.lines[i][3:])[1]


def start_heap(targets, program, mode="heap"):
    exe = program("insp_heap.c")
    proc = targets.start([exe, mode], stdin=subprocess.PIPE)
    return HeapProgram(proc, exe, src_path("insp_heap.c")).wait_ready().parse()


def goinspect_text(pid, *args):
    r = attach(pid, *args, pre=("--debug-file-directory", ""))
    assert r.returncode == 0, r.stderr
    return r.stdout


def section(out, start, end):
    """The lines of out from the one starting with start up to (without)
    the next one starting with end."""
    lines = out.splitlines()
    i = next(k for k, l in enumerate(lines) if l.startswith(start))
    j = next((k for k in range(i + 1, len(lines)) if lines[k].startswith(end)), len(lines))
    return lines[i:j]


# the lines that are measured to the moment of reading
TIMED = re.compile(r"^(gc_cpu_fraction|last_gc) ")


@pytest.mark.parametrize("mode", ["heap", "garbage", "badbits", "badcount"])
def test_heap_views_say_what_goinspect_says(targets, program, mode):
    t = start_heap(targets, program, mode)
    stop(t)
    try:
        theirs = {cmd: goinspect_text(t.pid, cmd) for cmd in ("heap", "spans", "memstats",
                                                               "maps")}
        out, err = gdb(["-p", str(t.pid)],
                       ["echo <heap>\\n", "info gort-heap", "echo <spans>\\n", "info gort-spans",
                        "echo <memstats>\\n", "info gort-memstats", "echo <maps>\\n",
                        "info gort-maps", "echo <end>\\n"])
    finally:
        resume(t)
    ours = {cmd: out.split(f"<{cmd}>\n")[1].split("<")[0] for cmd in ("heap", "spans",
                                                                       "memstats", "maps")}
    assert [l for l in ours["heap"].splitlines() if l] == \
        [l for l in theirs["heap"].splitlines() if l], (ours["heap"], theirs["heap"])
    # spans: every line but goinspect's last, which says how long it paused
    assert ours["spans"].splitlines()[:-1] == theirs["spans"].splitlines()[:-1]
    n = len(theirs["spans"].splitlines()) - 2 - (0 if mode == "heap" else 1)
    assert ours["spans"].splitlines()[-1].startswith(f"[{n} spans"), ours["spans"]
    assert [l for l in ours["memstats"].splitlines() if l and not TIMED.match(l)] == \
        [l for l in theirs["memstats"].splitlines() if l and not TIMED.match(l)]
    assert ours["maps"].splitlines() == theirs["maps"].splitlines()
    if mode != "heap":
        (error,) = [l for l in theirs["spans"].splitlines() if l.startswith("error: ")]
        assert error in ours["spans"].splitlines() and error in ours["heap"].splitlines()
    t.assert_progress()


def test_memstats_are_the_programs_own(targets, program):
    t = start_heap(targets, program)
    out, _ = gdb(["-p", str(t.pid)], ["info gort-memstats"])
    theirs = t.probe()
    ours = {}
    for line in out.splitlines():
        m = re.match(r"^(\w+)\s+(\d+)\s", line)
        if m and m.group(1) in theirs:
            ours[m.group(1)] = int(m.group(2))
    assert len(ours) >= 18, out
    for k, v in ours.items():
        assert theirs[k] == v, f"{k}: gdb {v}, the program {theirs[k]}"
    t.assert_progress()


def test_ptr_knows_every_object(targets, program):
    """Each object the program allocated is in a slot of the size the
    runtime gives it, allocated while the program keeps it, free once the
    collector freed it."""
    t = start_heap(targets, program)
    objs = t.objs[::7][:40]
    out, err = gdb(["-p", str(t.pid)], [f"gort-ptr {o.addr:#x}" for o in objs])
    answers = re.split(r"^(0x[0-9a-f]+):$", out, flags=re.M)
    got = {int(answers[i], 16): answers[i + 1] for i in range(1, len(answers), 2)}
    assert sorted(got) == sorted(o.addr for o in objs), out
    for o in objs:
        text = got[o.addr]
        m = re.search(r"^  object    (0x[0-9a-f]+) \+ (0x[0-9a-f]+) .*: (allocated|free)$", text,
                      re.M)
        assert m, text
        assert (int(m.group(1), 16), int(m.group(2), 16)) == (o.addr, 0), text
        assert m.group(3) == ("allocated" if o.kept else "free"), (o, text)
    t.assert_progress()


def test_ptr_on_a_goroutine_stack(targets, program):
    """An address on a parked goroutine's stack: the frame that holds it, as
    `goroutine ID bt` numbers it, and the rest as goinspect says it."""
    t = start(targets, program, "insp_park.c", "park")
    deep = t.one("deep_waiter")
    stop(t)
    try:
        theirs = goinspect_text(t.pid, "ptr", hex(deep.local))
        out, _ = gdb(["-p", str(t.pid)], [f"gort-ptr {deep.local:#x}",
                                          f"goroutine {deep.id} bt"])
    finally:
        resume(t)
    ours = section(out, f"{deep.local:#x}:", "#")
    want = theirs.splitlines()
    assert ours[:3] == want[:3], (ours, want)
    m = re.match(r"^  stack     of goroutine (\d+), frame (\d+): (\S+) (\S+) (\(frame .*\))$",
                 ours[3])
    w = re.match(r"^  stack     of goroutine (\d+), frame (\d+): (\S+) (\S+) (\(frame .*\))$",
                 want[3])
    assert m and w, (ours, want)
    assert m.group(1) == w.group(1) == str(deep.id)
    assert m.group(3) == w.group(3) == "deep" and m.group(5) == w.group(5)
    assert m.group(4).endswith(w.group(4).split("/")[-1])
    # gdb numbers a parked goroutine's frames from 1 (frame 0 is the thread's)
    frame = [l for l in out.splitlines() if l.startswith(f"#{m.group(2)} ")]
    assert frame and " deep (" in frame[0], out
    assert int(m.group(2)) == int(w.group(2)) + 1
    # and from inside the goroutine: the address of a local of that frame
    out, err = gdb(["-p", str(t.pid)],
                   [f"goroutine {deep.id} frame apply level {m.group(2)} -q gort-ptr &v"])
    assert f"{deep.local:#x}:" in out and \
        f"  stack     of goroutine {deep.id}, frame {m.group(2)}: deep " in out, out + err
    t.assert_progress()


def test_heap_on_a_core(targets, program, tmp_path):
    t = start_heap(targets, program)
    stop(t)
    theirs = {cmd: goinspect_text(t.pid, cmd) for cmd in ("heap", "spans")}
    path = gcore(t.pid, str(tmp_path / "heap.core"))
    resume(t)
    out, err = gdb([t.exe, path], ["echo <heap>\\n", "info gort-heap", "echo <spans>\\n",
                                   "info gort-spans", "echo <maps>\\n", "info gort-maps",
                                   "echo <end>\\n"])
    heap = out.split("<heap>\n")[1].split("<spans>")[0]
    spans = out.split("<spans>\n")[1].split("<maps>")[0]
    maps = out.split("<maps>\n")[1].split("<end>")[0]
    assert [l for l in heap.splitlines() if l] == [l for l in theirs["heap"].splitlines() if l]
    assert spans.splitlines()[:-1] == theirs["spans"].splitlines()[:-1]
    arenas = [l for l in maps.splitlines() if " heap arena " in l]
    assert arenas and all(l.split()[1] == "rw-p" for l in arenas), maps
    t.assert_progress()


def test_unreadable_heap_root(targets, program):
    """The descriptor gives the heap's root an unmapped address: the heap
    commands say so in one line; the goroutines are still listed."""
    t = start(targets, program, "insp_corrupt.c", "badmheap")
    out, err = gdb(["-p", str(t.pid)], ["info gort-heap", "info gort-spans",
                                        "info gort-memstats", "info goroutines"])
    lines = [l for l in err.splitlines() if l.startswith("gort: ")]
    assert lines == ["gort: the heap: the runtime's mheap at 0x10000 cannot be read"] * 3, err
    assert "[" in out and "goroutines]" in out, out
    t.assert_progress()


def test_bad_heap_commands(targets, program):
    t = start(targets, program, "insp_park.c", "park")
    cases = [("info gort-heap x", "gort: info gort-heap: unknown argument 'x'"),
             ("info gort-spans x", "gort: info gort-spans: 'x' is not a size class"),
             ("info gort-spans 1 2", "gort: info gort-spans: usage: info gort-spans [CLASS]"),
             ("info gort-spans 999", "gort: info gort-spans: this runtime's size classes are 0"),
             ("info gort-memstats x", "gort: info gort-memstats: unknown argument 'x'"),
             ("info gort-maps x", "gort: info gort-maps: unknown argument 'x'"),
             ("gort-ptr", "gort: gort-ptr: which address?"),
             ("gort-ptr nosuchsymbol", "gort: gort-ptr: 'nosuchsymbol' is not an address")]
    out, err = gdb(["-p", str(t.pid)], [c for c, _ in cases])
    lines = [l for l in err.splitlines() if l.startswith("gort: ")]
    assert len(lines) == len(cases), err
    for (cmd, want), line in zip(cases, lines):
        assert line.startswith(want), (cmd, line)
    t.assert_progress()
