"""unwinder — gdb's frames of a parked goroutine, from its saved context.

A parked goroutine has no thread: its registers are in its G (the context
gort_switch saved).  Writing them into a thread ($pc = ..., $sp = ...) is
impossible on a core file and dangerous on a live process, so instead a
frame unwinder (gdb.unwinder) takes the selected thread's innermost real
frame and says that its caller's registers are the goroutine's saved
ones.  gdb's own unwinders go on from there through the goroutine's
frames (the context switch routine has CFI), with inlined frames, source
lines, locals and arguments as usual.

The thread's own frame stays frame 0 (and any inlined frames on top of it):
a frame filter hides it from `backtrace`, so a goroutine's backtrace shows
its frames only, numbered from 1 (see docs/gdb.md).  Nothing is active
outside `with goroutine_context(...)`.
"""
import contextlib

import gdb
import gdb.unwinder
from gdb.FrameDecorator import FrameDecorator

from .errors import GortError

NAME = "gort-goroutines"


class FrameId:
    """The identity gdb gives the thread's frame while it stands for the
    goroutine's switch: sp is the goroutine's saved stack pointer (below
    every frame of the goroutine, so gdb sees a stack that grows up), pc
    the thread's pc."""

    def __init__(self, sp, pc):
        self.sp, self.pc = sp, pc


class Active:
    __slots__ = ("thread", "level", "regs", "goid")

    def __init__(self, thread, level, regs, goid):
        self.thread, self.level, self.regs, self.goid = thread, level, regs, goid


class GoroutineUnwinder(gdb.unwinder.Unwinder):
    def __init__(self):
        super().__init__(NAME)
        self.active = None
        self._ulong = None

    def __call__(self, pending):
        a = self.active
        if a is None:
            return None
        try:
            if pending.level() != a.level or gdb.selected_thread().num != a.thread:
                return None
            if self._ulong is None:
                self._ulong = gdb.lookup_type("unsigned long")
            ul = self._ulong
            sp = gdb.Value(a.regs["rsp"]).cast(ul)
            info = pending.create_unwind_info(FrameId(sp, pending.read_register("rip")))
            for name, v in a.regs.items():
                info.add_saved_register(name, gdb.Value(v).cast(ul))
            return info
        except gdb.error:
            return None


class HideThreadFrames:
    """Frame filter: while a goroutine is active, the frames of the thread
    it is shown on are not the goroutine's and are left out."""

    def __init__(self, unwinder):
        self.name = NAME
        self.priority = 1000
        self.unwinder = unwinder

    @property
    def enabled(self):
        # only while a goroutine is shown: gdb prints every other backtrace
        # as it does without the extension
        return self.unwinder.active is not None

    @enabled.setter
    def enabled(self, value):
        pass

    def filter(self, frames):
        a = self.unwinder.active
        if a is None:
            return frames
        return (Named(f) for f in frames if f.inferior_frame().level() > a.level)


class Named(FrameDecorator):
    """A frame named as gdb names it without a frame filter: a function
    without debug info by its ELF symbol, and "??" when nothing names it."""

    def function(self):
        f = self.inferior_frame()
        if f.function() is None and f.type() in (gdb.NORMAL_FRAME, gdb.INLINE_FRAME,
                                                 gdb.TAILCALL_FRAME):
            return f.name() or "??"
        return super().function()


_unwinder = GoroutineUnwinder()


def install():
    """Registers the unwinder and the frame filter once (globally)."""
    if not any(getattr(u, "name", None) == NAME for u in gdb.frame_unwinders):
        gdb.unwinder.register_unwinder(None, _unwinder, replace=True)
    gdb.frame_filters[NAME] = HideThreadFrames(_unwinder)


def active_goid():
    a = _unwinder.active
    return a.goid if a else None


def _first_real_frame():
    """The thread's innermost frame that is not an inlined call."""
    f = gdb.newest_frame()
    while f is not None and f.type() == gdb.INLINE_FRAME:
        f = f.older()
    return f


def _frame_at(level):
    f = gdb.newest_frame()
    while f is not None and f.level() < level:
        f = f.older()
    return f


@contextlib.contextmanager
def _kept_selection():
    """Gives back the selected thread and frame afterwards."""
    thread = gdb.selected_thread()
    try:
        frame = gdb.selected_frame() if thread is not None else None
    except gdb.error:
        frame = None
    try:
        yield
    finally:
        if thread is not None and thread.is_valid():
            thread.switch()
            if frame is not None and frame.is_valid():
                frame.select()


@contextlib.contextmanager
def context_frames(goid, regs):
    """Within: the selected thread's frames above its own innermost ones
    are those of the saved context regs ({"rip": ..., "rsp": ..., ...});
    yields that first frame, selected.  Nests: inside another goroutine's
    context (a command run by `goroutine ID CMD`), that one is back after."""
    prev = _unwinder.active
    if prev is not None and prev.goid == goid:
        first = _frame_at(prev.level + 1)
        if first is None:
            raise GortError(f"goroutine {goid}", "gdb cannot unwind its saved context")
        yield first
        return
    thread = gdb.selected_thread()
    if thread is None:
        raise GortError(f"goroutine {goid}", "no thread to show it on")
    if prev is not None and prev.thread != thread.num:
        raise GortError(f"goroutine {goid}", "another goroutine is being shown on another "
                        "thread")
    with _kept_selection():
        _unwinder.active = None
        gdb.invalidate_cached_frames()
        try:
            base = _first_real_frame()
            if base is None:
                raise GortError(f"goroutine {goid}", "the selected thread has no frame")
            level = base.level()
            _unwinder.active = Active(thread.num, level, regs, goid)
            gdb.invalidate_cached_frames()
            first = _frame_at(level + 1)
            if first is None:
                raise GortError(f"goroutine {goid}", "gdb cannot unwind its saved context")
            first.select()
            yield first
        finally:
            _unwinder.active = prev
            gdb.invalidate_cached_frames()


@contextlib.contextmanager
def thread_frames(thread):
    """Within: the given gdb thread is selected, at its innermost frame."""
    with _kept_selection():
        thread.switch()
        f = gdb.newest_frame()
        f.select()
        yield f
