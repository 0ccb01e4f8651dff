"""cmd_goroutine — `goroutine ID|all COMMAND`: any gdb command in the
context of a goroutine.

A goroutine on a thread is shown on that thread.  A parked one is shown on
the selected thread through the goroutine unwinder (unwinder.py): no
register is written, so it works on core files; the thread's own frames
are hidden from `backtrace`, and the goroutine's frames are numbered from
1 (`goroutine 7 frame 2` selects the frame `goroutine 7 bt` numbers #2).
The command runs with the goroutine's innermost frame selected; the
selected thread and frame are given back afterwards.
"""
import gdb

from . import model, unwinder
from .errors import GortError, guard, line, warn
from .stacks import Walker

USAGE = "usage: goroutine ID|all COMMAND"


def run_in(rt, walker, g, command, from_tty):
    kind, th = rt.regs_from(g)
    what = f"goroutine {g.goid}"
    if kind == model.REGS_START:
        raise GortError(what, f"it has not run yet: it will start in {start_name(walker, g)}")
    if kind == model.REGS_NONE:
        if g.error:
            raise GortError(what, g.error)
        raise GortError(what, f"it has no stack ({rt.status_name(g)})")
    ctx = unwinder.thread_frames(th) if kind == model.REGS_THREAD else \
        unwinder.context_frames(g.goid, g.regs)
    with ctx:
        gdb.execute(command, from_tty)


def start_name(walker, g):
    return walker.frames(g.startpc, True)[0].text()


def parse(arg):
    arg = arg.strip()
    if not arg:
        raise GortError("goroutine", USAGE)
    first, _, rest = arg.partition(" ")
    rest = rest.strip()
    if not rest:
        raise GortError("goroutine", f"no command given ({USAGE})")
    if first == "all":
        return None, rest
    try:
        goid = int(first, 0)
    except ValueError:
        raise GortError("goroutine", f"'{first}' is not a goroutine id ({USAGE})") from None
    if goid <= 0:
        raise GortError("goroutine", f"'{first}' is not a goroutine id ({USAGE})")
    return goid, rest


class GoroutineCommand(gdb.Command):
    """Run a gdb command in the context of a goroutine.

Usage: goroutine ID COMMAND
       goroutine all COMMAND

Examples: goroutine 7 bt, goroutine all bt, goroutine 7 frame 2,
goroutine 7 info locals, goroutine 7 print x.

A goroutine running on a thread is shown on that thread; a parked one on
the selected thread, with the registers of its saved context (nothing is
written to the thread, so this works on core files too).  Its frames are
numbered from 1: frame 0 is the thread's own, hidden from backtraces."""

    def __init__(self):
        super().__init__("goroutine", gdb.COMMAND_STACK)

    @guard("goroutine")
    def invoke(self, arg, from_tty):
        goid, command = parse(arg)
        rt = model.current()
        walker = Walker(rt)
        if goid is not None:
            g = rt.goroutine(goid)
            if g is None:
                raise GortError(f"goroutine {goid}", "no such goroutine")
            try:
                run_in(rt, walker, g, command, from_tty)
            except gdb.error as e:
                if str(e).startswith("gort: "):        # a command of ours said it
                    raise gdb.GdbError(str(e)) from None
                raise GortError(f"goroutine {goid}", str(e)) from None
            return
        for w in rt.warnings:
            warn(f"warning: {w}")
        for g in rt.goroutines():
            if not g.readable:
                gdb.write(f"\nGoroutine ? [error]: {g.error}\n")
                continue
            gdb.write(f"\nGoroutine {g.goid} [{rt.state_text(g)}]:\n")
            if rt.regs_from(g)[0] == model.REGS_START:
                gdb.write(f"(not run yet: it will start in {start_name(walker, g)})\n")
                continue
            try:
                run_in(rt, walker, g, command, from_tty)
            except (GortError, gdb.error) as e:
                text = str(e) if str(e).startswith("gort: ") else line(f"goroutine {g.goid}", e)
                gdb.write(text + "\n", gdb.STDERR)
