"""Signal frames: a thread blocked inside a signal handler.  Between the
handler and the function the signal interrupted lies libc's sigreturn
trampoline (__restore_rt, whose CIE has the 'S' augmentation); gdb shows it
as `<signal handler called>`, with and without libc's debug info, names it
at its pc (the handler returns to its first byte: pc - 1 is the byte
before it) and names the interrupted frame at its pc too (where the signal
came, not a return address).  goinspect must show the same frames.

When the handler runs on an alternate signal stack (sigaltstack and
SA_ONSTACK, as crash handlers and libgort's own SIGURG handler run), the
handler's frames are on that stack and the interrupted function's on the
thread's own: the walk goes from one to the other across the signal frame,
as gdb's does, instead of stopping with "stack pointer did not move up"."""
import re

import pytest

from attachlib import attach, attach_json, debug_info_for, run, start
from placeslib import GDB_THREAD, gdb_frames, names, start_places, thread_of

SIGNAL_FRAME = "<signal handler called>"
# "#4  0x... in __libc_pause () at ../sysdeps/unix/sysv/linux/pause.c:29"
GDB_LINE = re.compile(r'^#\d+\s.*\sat (\S+):(\d+)$')


def gdb_lines(pid, tid, gdb_opts=()):
    """The line of each frame of thread TID in gdb's bt (None where gdb shows
    none)."""
    r = run(["gdb", "-q", "-nx", "-batch", *gdb_opts, "-p", str(pid),
             "-ex", "thread apply all bt"], timeout=90)
    lines, cur = [], None
    for line in r.stdout.splitlines():
        m = GDB_THREAD.match(line)
        if m:
            cur = int(m.group(1))
        elif cur == tid and line.startswith("#"):
            m = GDB_LINE.match(line)
            lines.append(int(m.group(2)) if m else None)
    return lines


@pytest.mark.parametrize("debug", ["none", "system"])
def test_the_signal_frame_is_shown_as_gdb_shows_it(targets, program, debug):
    t, tids = start_places(targets, program, "sigframe")
    debug = debug_info_for(debug, t.pid)
    tid = tids["sigframe"]
    gdbs = gdb_frames(t.pid, debug.gdb)[tid]
    assert SIGNAL_FRAME in gdbs, f"gdb: {gdbs}"
    k = gdbs.index(SIGNAL_FRAME)
    th = thread_of(attach_json(t.pid, "threads", "-t", pre=debug.goinspect), tid)
    ours = names(th)
    # the same frames on both sides of the signal frame
    assert ours[k - 1] == gdbs[k - 1] == "wait_in_handler", f"goinspect {ours}, gdb {gdbs}"
    assert ours[k + 1:k + 3] == gdbs[k + 1:k + 3], f"goinspect {ours}, gdb {gdbs}"
    # and the signal frame itself is named, not ??
    assert th["frames"][k]["function"] is not None, f"goinspect {th['frames'][k]}, gdb {gdbs}"
    text = attach(t.pid, "threads", "-t", pre=debug.goinspect).stdout
    assert SIGNAL_FRAME in text, f"goinspect:\n{text}\ngdb: {gdbs}"
    # the whole stack as gdb has it; in JSON, the one signal frame says so
    assert ours == gdbs, f"goinspect {ours}, gdb {gdbs}"
    assert [f["signal"] for f in th["frames"]] == [i == k for i in range(len(gdbs))], th
    # looked up at their pcs: the trampoline's first byte, where the signal came
    assert th["frames"][k]["exact"] and th["frames"][k + 1]["exact"], th["frames"][k:k + 2]


def test_frames_around_the_signal_frame_have_gdb_s_lines(targets, program):
    t, tids = start_places(targets, program, "sigframe")
    debug = debug_info_for("system", t.pid)
    tid = tids["sigframe"]
    want = gdb_lines(t.pid, tid, debug.gdb)
    th = thread_of(attach_json(t.pid, "threads", "-t", pre=debug.goinspect), tid)
    got = [f["line"] or None for f in th["frames"]]
    assert len(want) == len(got) and SIGNAL_FRAME in names(th), f"goinspect {th}, gdb {want}"
    assert [g for g, w in zip(got, want) if w] == [w for w in want if w], \
        f"goinspect {got} {names(th)}, gdb {want}"


def test_unwinding_goes_from_the_alternate_stack_to_the_thread_stack(targets, program):
    t, tids = start_places(targets, program, "altstack")
    tid = tids["sigframe"]
    gdbs = gdb_frames(t.pid)[tid]
    assert SIGNAL_FRAME in gdbs and "altstack_pause_forever" in gdbs, f"gdb: {gdbs}"
    th = thread_of(attach_json(t.pid, "threads", "-t"), tid)
    ours = names(th)
    k = gdbs.index(SIGNAL_FRAME)
    assert ours[:k] == gdbs[:k], f"goinspect {ours}, gdb {gdbs}"
    # past the signal frame, the thread's own stack, frame for frame
    assert ours[k + 1:] == gdbs[k + 1:], \
        f"goinspect {ours} ({th['stack_error']}), gdb {gdbs}"


def test_a_thread_the_collector_suspended_is_unwound_into_its_goroutine(targets, program):
    # libgort's SIGURG handler, on the M's alternate stack, keeps the thread
    # while the collection's stop of the world lasts (here: for good)
    t = start(targets, program, "gc_suspended.c")
    (tid,) = [int(l.split()[2]) for l in t.lines if l.startswith("TID suspended ")]
    gdbs = gdb_frames(t.pid)[tid]
    assert "on_sigurg" in gdbs and SIGNAL_FRAME in gdbs and "spinner" in gdbs, f"gdb: {gdbs}"
    th = thread_of(attach_json(t.pid, "threads", "-t"), tid)
    assert names(th) == gdbs, f"goinspect {names(th)} ({th['stack_error']}), gdb {gdbs}"
    assert th["stack_error"] is None, th


def test_a_forged_signal_frame_that_loops_ends_the_walk(targets, program):
    # the frame after the signal frame is the first frame again: gdb stops
    # ("previous frame identical to this frame"), and so must goinspect,
    # however much a signal frame may move the stack pointer
    t = start(targets, program, "forged_sigframe.c")
    (tid,) = [int(l.split()[2]) for l in t.lines if l.startswith("TID forged ")]
    gdbs = gdb_frames(t.pid)[tid]
    assert gdbs == ["forged_spin", SIGNAL_FRAME], f"gdb: {gdbs}"
    th = thread_of(attach_json(t.pid, "threads", "-t"), tid)
    assert names(th) == gdbs, f"goinspect {names(th)} ({th['stack_error']}), gdb {gdbs}"
    assert th["stack_error"] == "stack pointer did not move up", th
