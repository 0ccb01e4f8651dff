"""printers — pretty printers for the runtime's structures, so `print *ch`
in user code is readable:

    struct g         goroutine 7 [chan receive], starts in recv_waiter
    gort_chan        chan of 8-byte elements: len 0, cap 0, open,
                     3 receivers waiting (goroutines 2, 3, 4), no sender
    struct span      span 7f..000-7f..000 (8K) inuse: size class 8 (96 bytes): 2 of 85 objects
    gort_mutex       locked, 1 waiter
    gort_waitgroup   counter 1, 2 waiters

A goroutine and a span are decoded through the runtime descriptor (the
same bytes goinspect reads); the channel, the mutex and the waitgroup,
which the descriptor does not describe, through their DWARF types (that is
what DWARF is for here: printing).  `print/r` shows the raw structure.
"""
import gdb

from . import model
from .errors import GortError

MAX_WAITERS = 100000        # a longer wait queue is a corrupt one
SHOWN_WAITERS = 8


def _addr(val):
    a = val.address
    if a is None:
        raise GortError("the value", "it is not in memory")
    return int(a)


def _runtime():
    return model.current()


def _goid_at(rt, g_addr):
    """The id of the goroutine whose G is at g_addr, read through the
    descriptor, or None."""
    gt = rt.desc.type("g")
    off = gt.field("goid")
    raw = rt.mem.try_read(g_addr + off[0], off[1]) if off and g_addr else None
    return int.from_bytes(raw, "little") if raw else None


class GPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        try:
            rt = _runtime()
            addr = _addr(self.val)
            g = next((x for x in rt.goroutines() if x.readable and x.addr == addr), None)
            if g is None:
                gt = rt.desc.type("g")
                raw = rt.mem.read(addr, gt.size, "the G")
                v = gt.decoder(model.G_FIELDS)(raw)
                state = rt.desc.enum_name("gstatus", v[1])
                return f"goroutine {v[0]} [{state}] (a free G)" if state in ("dead", "idle") \
                    else f"goroutine {v[0]} [{state}]"
            text = f"goroutine {g.goid} [{rt.state_text(g)}]"
            if g.error:
                return f"{text} (error: {g.error})"
            start = gdb.execute(f"info symbol {g.startpc:#x}", to_string=True).split(" in ")[0]
            return f"{text}, starts in {start.split(' + ')[0]}" if g.startpc else text
        except (GortError, gdb.error) as e:
            return f"<struct g: {e}>"


class ChanPrinter:
    def __init__(self, val):
        self.val = val

    def _waiters(self, q):
        """The goroutine ids on a wait queue (sudogs linked by next)."""
        ids, seen = [], set()
        sg = q["first"]
        rt = None
        while int(sg) and int(sg) not in seen and len(seen) < MAX_WAITERS:
            seen.add(int(sg))
            if len(ids) < SHOWN_WAITERS:
                rt = rt or _runtime()
                ids.append(_goid_at(rt, int(sg.dereference()["g"])))
            sg = sg.dereference()["next"]
        return len(seen), ids

    def _queue(self, q, who):
        n, ids = self._waiters(q)
        if n == 0:
            return f"no {who}"
        shown = ", ".join("?" if i is None else str(i) for i in ids) + \
            (", ..." if n > len(ids) else "")
        s = "" if n == 1 else "s"
        return f"{n} {who}{s} waiting (goroutine{s} {shown})"

    def to_string(self):
        try:
            v = self.val
            size, qcount, cap = int(v["elemsize"]), int(v["qcount"]), int(v["dataqsiz"])
            closed = "closed" if int(v["closed"]) else "open"
            recv = self._queue(v["recvq"], "receiver")
            send = self._queue(v["sendq"], "sender")
            return (f"chan of {size}-byte elements: len {qcount}, cap {cap}, {closed}, "
                    f"{recv}, {send}")
        except (GortError, gdb.error) as e:
            return f"<gort_chan: {e}>"


class SpanPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        try:
            from .cmd_heap import span_what
            from .heap import Heap, fmt_size
            rt = _runtime()
            h = Heap(rt)
            addr = _addr(self.val)
            sp = next((s for s in h.spans if s.addr == addr), None)
            if sp is None:
                return f"span record at {addr:#x} (not in the span table: unused or dead)"
            if sp.error:
                return f"span: error: {sp.error}"
            return (f"span {sp.base:012x}-{sp.base + h.span_bytes(sp):012x} "
                    f"({fmt_size(h.span_bytes(sp))}) {h.state_name(sp)}: {span_what(h, sp)}")
        except (GortError, gdb.error) as e:
            return f"<struct span: {e}>"


class MutexPrinter:
    LOCKED, WOKEN, STARVING, WAITER_SHIFT = 1, 2, 4, 3

    def __init__(self, val):
        self.val = val

    def to_string(self):
        try:
            st = int(self.val["state"]) & 0xffffffff
            words = ["locked" if st & self.LOCKED else "unlocked"]
            n = st >> self.WAITER_SHIFT
            words.append(f"{n} waiter{'' if n == 1 else 's'}" if n else "no waiter")
            if st & self.WOKEN:
                words.append("a woken waiter running")
            if st & self.STARVING:
                words.append("starving (ownership handed to the first waiter)")
            return ", ".join(words)
        except gdb.error as e:
            return f"<gort_mutex: {e}>"


class WaitGroupPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        try:
            st = int(self.val["state"]) & 0xffffffffffffffff
            counter = st >> 32
            if counter >> 31:
                counter -= 1 << 32
            waiters = st & 0xffffffff
            return f"counter {counter}, {waiters} waiter{'' if waiters == 1 else 's'}"
        except gdb.error as e:
            return f"<gort_waitgroup: {e}>"


# struct tag or typedef name -> (fields it must have, printer): a program's
# own "struct g" without the runtime's fields is left alone
PRINTERS = {
    "g": (("goid", "ctx", "stacklo"), GPrinter),
    "gort_chan": (("elemsize", "qcount", "recvq", "sendq"), ChanPrinter),
    "span": (("base", "npages", "allocbits"), SpanPrinter),
    "gort_mutex": (("state", "sema"), MutexPrinter),
    "gort_waitgroup": (("state", "sema"), WaitGroupPrinter),
}


def lookup(val):
    t = val.type
    try:
        if t.code == gdb.TYPE_CODE_TYPEDEF and t.name in PRINTERS:
            name = t.name
        else:
            t = t.strip_typedefs()
            name = t.tag or t.name
        entry = PRINTERS.get(name)
        if entry is None:
            return None
        st = t.strip_typedefs()
        if st.code != gdb.TYPE_CODE_STRUCT:
            return None
        fields = {f.name for f in st.fields()}
        if not all(f in fields for f in entry[0]):
            return None
        return entry[1](val)
    except (gdb.error, RuntimeError):
        return None


lookup.name = "gort"
lookup.enabled = True


def install(objfile):
    """The printers for objfile's values (all values when None)."""
    target = objfile.pretty_printers if objfile is not None else gdb.pretty_printers
    if not any(getattr(p, "name", None) == "gort" for p in target):
        target.append(lookup)
