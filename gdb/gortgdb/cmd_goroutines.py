"""cmd_goroutines — `info goroutines [-g [KIND]] [-s STATUS] [--with TEXT]`.

One line per goroutine, by id: its id, status, wait reason, the gdb
thread running it, and its user frame (the first outside the runtime and
the system libraries, as goinspect chooses it).  `*` marks a goroutine on
a thread.  -s keeps the goroutines in a state or with a wait reason,
--with those whose stack has a function or file containing TEXT, and -g
groups goroutines with the same state and KIND, largest group first (the
kinds of goinspect's goroutines -g: the stack without the runtime's frames,
the user frame, the creation site, the start function, the whole stack).
"""
import gdb

from . import model, stacks, unwinder
from .errors import GortError, guard, warn

USAGE = "usage: info goroutines [-g [KIND]] [-s STATUS] [--with TEXT]"
KINDS = ("stack", "user", "go", "start", "full")
LABEL = {"user": "User", "go": "Created by", "start": "Start"}


class Options:
    def __init__(self, arg):
        self.group = False
        self.status = None
        self.with_text = None
        argv = gdb.string_to_argv(arg)
        i = 0
        while i < len(argv):
            a = argv[i]
            if a == "-g":
                self.group = "stack"    # the default kind; an option may follow
                if i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                    i += 1
                    if argv[i] not in KINDS:
                        raise GortError("info goroutines", f"-g: unknown kind '{argv[i]}' "
                                        f"(kinds: {', '.join(KINDS)})")
                    self.group = argv[i]
            elif a in ("-s", "--with"):
                if i + 1 >= len(argv):
                    raise GortError("info goroutines", f"{a} needs a value ({USAGE})")
                i += 1
                if a == "-s":
                    self.status = argv[i]
                else:
                    self.with_text = argv[i]
            else:
                raise GortError("info goroutines", f"unknown argument '{a}' ({USAGE})")
            i += 1


def status_matches(rt, g, want):
    if not g.readable:
        return False
    return rt.status_name(g) == want or (rt.is_status(g, "waiting") and g.reason == want)


def check_status(rt, want):
    d = rt.desc
    if d.enum_value("gstatus", want) < 0 and not (want and d.enum_value("waitreason", want) >= 0):
        raise GortError("info goroutines", f"-s: '{want}' is neither a goroutine state nor a "
                        "wait reason of this runtime")


def thread_text(rt, g):
    """The gdb thread number of a goroutine on a thread, or ""."""
    if not g.readable or not (rt.is_status(g, "running") or rt.is_status(g, "syscall")):
        return ""
    th = rt.thread_of(g)
    return str(th.num) if th is not None else ""


def frame_text(walker, g, stack):
    if g.error:
        return f"error: {g.error}"
    if stack is None:
        kind, _ = walker.rt.regs_from(g)
        return "? (no stack)" if kind == model.REGS_NONE else "?"
    key = (stack.pcs, stack.stop)
    text = walker.texts.get(key)
    if text is None:
        f = walker.user_frame(stack)
        text = f.text() if f else "? (no frames)"
        if stack.stop:
            text += f"  [stack walk stopped: {stack.stop}]"
        walker.texts[key] = text
    return text


def describe_stack(walker, g, fold=False):
    """The frames of g as gdb shows them, one "function file:line" each;
    without the runtime's when fold (all of them when all are)."""
    rt = walker.rt
    kind, th = rt.regs_from(g)
    if kind == model.REGS_START:
        return [walker.frames(g.startpc, True)[0].text() + "  (not started)"]
    if kind == model.REGS_NONE:
        return []
    out = []
    ctx = unwinder.thread_frames(th) if kind == model.REGS_THREAD else \
        unwinder.context_frames(g.goid, g.regs)
    kept = []
    with ctx as f:
        n = 0
        while f is not None and n < stacks.MAX_FRAMES:
            sal = f.find_sal()
            name = f.name() or "??"
            where = f"{walker.file_name(sal.symtab)}:{sal.line}" if sal.symtab and sal.line \
                else ""
            inl = " (inlined)" if f.type() == gdb.INLINE_FRAME else ""
            out.append(f"{name}{inl} {where}".rstrip())
            if not walker.rt.in_runtime(f.pc() - (1 if n else 0)):
                kept.append(out[-1])
            f = f.older()
            n += 1
    return kept if fold and kept else out


class InfoGoroutines(gdb.Command):
    """List the goroutines of a libgort program.

Usage: info goroutines [-g [KIND]] [-s STATUS] [--with TEXT]

One line per goroutine: its id, status, wait reason, the gdb thread that
runs it (a goroutine on a thread is marked with *), and its user frame (the
first frame outside the runtime and the system libraries).
  -s STATUS    only goroutines in that state (waiting, runnable, ...) or
               with that wait reason ("chan receive", sleep, ...)
  --with TEXT  only goroutines with a frame whose function or file has TEXT
  -g [KIND]    group goroutines with the same state and KIND, largest
               group first: stack (the default) the stack without the
               runtime's frames, user the user frame, go the creation
               site, start the start function, full every frame
Works on live processes and core files alike.  See also: goroutine ID CMD."""

    def __init__(self):
        super().__init__("info goroutines", gdb.COMMAND_STACK)

    @guard("info goroutines")
    def invoke(self, arg, from_tty):
        opts = Options(arg)
        rt = model.current()
        if opts.status is not None:
            check_status(rt, opts.status)
        gs = rt.goroutines()
        for w in rt.warnings:
            warn(f"warning: {w}")
        walker = stacks.Walker(rt)
        full = opts.group or opts.with_text is not None
        sel = []
        for g in gs:
            if opts.status is not None and not status_matches(rt, g, opts.status):
                continue
            st = walker.stack(g, full) if g.readable and not g.error else None
            if opts.with_text is not None and not walker.mentions(st, opts.with_text):
                continue
            sel.append((g, st))
        if not gs:
            gdb.write("No goroutines: the runtime has not started.\n" if not rt.started()
                      else "No goroutines.\n")
            return
        if not sel:
            gdb.write(f"No goroutine matched, of {len(gs)}.\n")
            return
        if opts.group:
            print_groups(walker, sel, opts.group)
        else:
            print_lines(walker, rt, sel)
        n = len(sel)
        what = f"{n} goroutine{'' if n == 1 else 's'}"
        if opts.status is not None or opts.with_text is not None:
            what += f" matched, of {len(gs)}"
        gdb.write(f"[{what}]\n")


def print_lines(walker, rt, sel):
    rows = []
    names = rt.status_names
    on_thread = {rt.st.get("running", -1), rt.st.get("syscall", -1)}
    for g, st in sel:
        if not g.readable:
            rows.append((" ", "?", "", "", "", frame_text(walker, g, st)))
            continue
        th = thread_text(rt, g) if g.status in on_thread else ""
        status = names[g.status] if g.status < len(names) else "?"
        rows.append(("*" if th else " ", str(g.goid), status, g.reason, th,
                     frame_text(walker, g, st)))
    widths = [max([least] + [len(r[k]) for r in rows])
              for k, least in ((1, 2), (2, 6), (3, 11), (4, 6))]
    fmt = "%%s %%-%ds  %%-%ds  %%-%ds  %%-%ds  %%s\n" % tuple(widths)
    gdb.write(fmt % (" ", "Id", "Status", "Wait reason", "Thread", "Frame"))
    for i in range(0, len(rows), 4096):
        gdb.write("".join([fmt % r for r in rows[i:i + 4096]]))


def location(walker, g, st, kind):
    """The text of the frame g is grouped at (kinds user, go, start)."""
    f = None
    if kind == "user":
        f = walker.user_frame(st)
    elif kind == "go" and g.parentgoid and g.gopc:
        f = walker.frames(g.gopc, False)[0]
    elif kind == "start" and g.startpc:
        f = walker.frames(g.startpc, True)[0]
    return f.text() if f else ("?" if kind == "user" else "-")


def group_key(walker, g, st, kind, folded):
    if not g.readable:
        return ("bad", g.addr)
    if kind == "stack" and st is not None and (st.pcs, st.stop) in folded:
        where = folded[(st.pcs, st.stop)]
    elif kind in LABEL:
        where = location(walker, g, st, kind)
    elif st is None:
        where = None
    elif kind == "stack":
        # by function and line, not pc: a compiler may copy a call into two places
        rt = walker.rt
        pcs = tuple(p for p in st.pcs if not rt.in_runtime(p[0] if p[1] else p[0] - 1))
        where = (tuple((f.text(), f.inlined) for p in pcs or st.pcs for f in walker.frames(*p)),
                 st.stop)
        folded[(st.pcs, st.stop)] = where
    else:
        where = (st.pcs, st.stop)
    return (where, g.status, g.reason, g.error if g.error else None)


def print_groups(walker, sel, kind):
    rt = walker.rt
    groups, folded = {}, {}
    for g, st in sel:
        groups.setdefault(group_key(walker, g, st, kind, folded), []).append((g, st))
    order = sorted(groups.values(), key=lambda m: (-len(m), m[0][0].goid))
    for members in order:
        g0, st0 = members[0]
        n = len(members)
        s = "" if n == 1 else "s"
        ids = " ".join(str(g.goid) if g.readable else "?" for g, _ in members[:8])
        more = " ..." if n > 8 else ""
        state = rt.state_text(g0) if g0.readable else "unreadable"
        gdb.write(f"{n} goroutine{s} [{state}]: goroutine{s} {ids}{more}\n")
        if g0.error:
            gdb.write(f"        error: {g0.error}\n")
        elif kind in LABEL:
            gdb.write(f"        {LABEL[kind]}: {location(walker, g0, st0, kind)}\n")
        else:
            lines = describe_stack(walker, g0, fold=kind == "stack")
            if not lines:
                gdb.write("        (no stack)\n")
            for text in lines:
                gdb.write(f"        {text}\n")
            if st0 is not None and st0.stop:
                gdb.write(f"        (stack walk stopped: {st0.stop})\n")
        gdb.write("\n")
