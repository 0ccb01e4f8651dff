"""cmd_heap — the heap inside gdb, with goinspect's facts and words
(docs/commands.md: heap, spans, memstats, ptr):

    info gort-heap           the span table tallied by size class, the totals
                             beside the runtime's own statistics
    info gort-spans [CLASS]  one line per span, by address
    info gort-memstats       gort_memstats as gort_read_memstats computes it
    gort-ptr ADDR            what an address is: span, object, stack frame, G
"""
import time

import gdb

from . import cmd_maps, model, stacks
from .errors import GortError, guard, warn
from .heap import Heap, HeapTally, MemStats, fmt_size

RECENT_PAUSES = 8
TOTALS = ("heap_alloc", "heap_objects", "heap_inuse", "stack_inuse", "heap_idle",
          "heap_released")


def live():
    """A live process (not a core file): its clocks are the host's."""
    conn = getattr(gdb.selected_inferior(), "connection", None)
    return conn is not None and conn.type == "native"


def current_heap(bitmaps=True):
    rt = model.current()
    h = Heap(rt, bitmaps)
    if live() and rt.desc.has_root("runtime_start"):
        start = rt.desc.root_int("runtime_start", signed=True)
        now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        if 0 < start < now:
            h.uptime_ns = now - start
    for w in rt.warnings + h.warnings:
        warn(f"warning: {w}")
    return rt, h


def fmt_duration(ns):
    """goinspect's durations, two units: 850ms, 12s, 5m12s, 2h3m, 4d2h."""
    ns = max(ns, 0)
    s = ns // 1000000000
    if s < 1:
        return f"{ns // 1000000}ms"
    if s < 60:
        return f"{s}s"
    unit, name = (60, 3600, 86400), ("s", "m", "h", "d")
    k = 0 if s < 3600 else 1 if s < 86400 else 2
    return f"{s // unit[k]}{name[k + 1]}{(s % unit[k]) // (unit[k - 1] if k else 1)}{name[k]}"


def fmt_pause(ns):
    return f"{ns // 1000}us" if ns < 1000000 else f"{ns / 1e6:.2f}ms"


def span_what(h, sp):
    """What a span holds, in goinspect's words (inspector/hview.c)."""
    if h.large(sp):
        return f"a large object ({fmt_size(h.span_bytes(sp))})"
    if h.is_state(sp, "inuse"):
        return (f"size class {sp.sizeclass} ({sp.elemsize} bytes): {sp.alloccount} of "
                f"{sp.nelems} objects")
    if h.is_state(sp, "stack"):
        return f"the stack of goroutine {sp.owner}" if sp.owner else \
            "a goroutine stack, unused (cached for reuse)"
    if h.is_state(sp, "free"):
        now = time.clock_gettime_ns(time.CLOCK_MONOTONIC) if live() else 0
        if sp.freed_at > 0 and now > sp.freed_at:
            return f"free for {fmt_duration(now - sp.freed_at)}"
        return "free"
    if h.is_state(sp, "released"):
        return "released to the OS"
    return f"state {h.state_name(sp)}"


def span_flags(h, sp):
    if not h.is_state(sp, "inuse"):
        return ""
    out = []
    if sp.noscan:
        out.append("noscan")
    if sp.needzero:
        out.append("needzero")
    if sp.cached_by is not None:
        out.append(f"cached-by-P{sp.cached_by}")
    sw = h.sweep_state(sp)
    if sw != 1:
        out.append("being-swept" if sw else "unswept")
    n = h.bits_set(sp)
    if n is not None and n != sp.alloccount:
        out.append(f"bitmap-has-{n}")
    return " ".join(out)


def print_errors(h):
    for e in h.errors:
        gdb.write(f"error: {e}\n")


# ---- info gort-heap ----------------------------------------------------------

def _row(h, label, size, t, objects):
    sb = fmt_size(t.pages * h.page_size)
    if objects:
        return (f"{label:<7} {size:>7} {t.spans:7} {t.pages:7} {t.objects:10} "
                f"{t.slots - t.objects:10} {fmt_size(t.bytes):>9} {sb:>9} "
                f"{100 * t.waste(h):6.1f}%\n")
    return f"{label:<7} {size:>7} {t.spans:7} {t.pages:7} {'':>10} {'':>10} {'':>9} {sb:>9}\n"


def heap_totals(h, t, ms):
    ps = h.page_size
    spans = (t.inuse.bytes, t.inuse.objects, t.inuse.pages * ps,
             (t.stacks.pages + t.cached_stacks.pages) * ps,
             (t.free.pages + t.released.pages) * ps, t.released.pages * ps)
    stats = tuple(getattr(ms, n) for n in TOTALS)
    return spans, stats


class InfoGortHeap(gdb.Command):
    """The heap by size class, with totals beside the runtime's statistics.

Usage: info gort-heap

For each size class with spans: its object size, spans and pages, allocated
objects and free slots, the bytes of the objects and of the spans, and the
share of the spans' bytes holding no object; then large objects, all spans of
objects, goroutine stacks, free and released spans.  The totals are set beside
the runtime's own statistics (equal on a program stopped between allocations);
each bad span record gets an error line and is left out."""

    def __init__(self):
        super().__init__("info gort-heap", gdb.COMMAND_DATA)

    @guard("info gort-heap")
    def invoke(self, arg, from_tty):
        if arg.strip():
            raise GortError("info gort-heap", f"unknown argument '{arg.strip()}' (usage: "
                            "info gort-heap)")
        rt, h = current_heap()
        t = HeapTally(h)
        ms = MemStats(h)
        n = len(h.arenas)
        out = [f"{n} arena{'' if n == 1 else 's'} of {fmt_size(h.arena_bytes)}, "
               f"{len(h.spans)} spans, {h.page_size}-byte pages\n\n",
               f"{'CLASS':<7} {'SIZE':>7} {'SPANS':>7} {'PAGES':>7} {'OBJECTS':>10} "
               f"{'FREE':>10} {'BYTES':>9} {'IN SPANS':>9} {'WASTE':>7}\n"]
        for c in range(1, len(t.classes)):
            if t.classes[c].spans:
                out.append(_row(h, str(c), str(h.class_size[c]), t.classes[c], True))
        if t.classes[0].spans:
            out.append(_row(h, "large", "", t.classes[0], True))
        out.append(_row(h, "objects", "", t.inuse, True))
        out.append(_row(h, "stacks", "", t.stacks, False))
        if t.cached_stacks.spans:
            out.append(_row(h, "cached", "", t.cached_stacks, False))
        out.append(_row(h, "free", "", t.free, False))
        out.append(_row(h, "released", "", t.released, False))
        if t.other.spans:
            out.append(_row(h, "other", "", t.other, False))
        spans, stats = heap_totals(h, t, ms)
        agree = spans == stats
        out.append(f"\n{'totals equal' if agree else 'totals differ from'} the runtime's "
                   "statistics:\n")
        for name, a, b in zip(TOTALS, spans, stats):
            out.append(f"  {name:<14} {a:14}" + (f"   statistics: {b}" if a != b else "") + "\n")
        if not agree:
            out.append("(they differ while objects are being allocated or swept, or when "
                       "spans are left out)\n")
        gdb.write("".join(out))
        if h.errors:
            gdb.write(f"\n{t.bad} span{'' if t.bad == 1 else 's'} left out:\n")
            print_errors(h)


# ---- info gort-spans -----------------------------------------------------------

class InfoGortSpans(gdb.Command):
    """Every span of the heap, one line each, by address.

Usage: info gort-spans [CLASS]

Its range and size, its state (inuse, stack, free, released), what it holds
and its flags (noscan, needzero, cached-by-PN, unswept, being-swept,
bitmap-has-N).  With CLASS, only the spans of objects of that size class (0:
large objects).  A span record that makes no sense gets an error line."""

    def __init__(self):
        super().__init__("info gort-spans", gdb.COMMAND_DATA)

    @guard("info gort-spans")
    def invoke(self, arg, from_tty):
        argv = gdb.string_to_argv(arg)
        if len(argv) > 1:
            raise GortError("info gort-spans", "usage: info gort-spans [CLASS]")
        sizeclass = None
        if argv:
            try:
                sizeclass = int(argv[0], 0)
            except ValueError:
                sizeclass = -1
            if sizeclass < 0:
                raise GortError("info gort-spans", f"'{argv[0]}' is not a size class")
        rt, h = current_heap()
        if sizeclass is not None and sizeclass >= h.nclasses:
            raise GortError("info gort-spans", f"this runtime's size classes are 0 (large "
                            f"objects) to {max(h.nclasses - 1, 0)}")
        out = [f"{'SPAN':<25} {'SIZE':>6}  {'STATE':<9} {'HOLDS':<46} FLAGS\n"]
        n = 0
        for sp in h.valid:
            if sizeclass is not None and not (h.is_state(sp, "inuse") and
                                              sp.sizeclass == sizeclass):
                continue
            n += 1
            flags = span_flags(h, sp)
            what = span_what(h, sp)
            out.append(f"{sp.base:012x}-{sp.base + h.span_bytes(sp):012x} "
                       f"{fmt_size(h.span_bytes(sp)):>6}  {h.state_name(sp):<9} "
                       + (f"{what:<46} {flags}" if flags else what) + "\n")
        gdb.write("".join(out))
        print_errors(h)
        s = "" if n == 1 else "s"
        tail = f" matched of {len(h.valid)}" if sizeclass is not None else ""
        bad = f"; {len(h.errors)} bad" if h.errors else ""
        gdb.write(f"[{n} span{s}{tail}{bad}]\n")


# ---- info gort-memstats ----------------------------------------------------------

class InfoGortMemstats(gdb.Command):
    """The runtime's memory statistics, read from its memory.

Usage: info gort-memstats

gort_memstats's fields (Go's runtime.MemStats) as gort_read_memstats computes
them from the runtime's counters, every P's unflushed counts included; the
recent stop-the-world pauses, the collector's state, and allocations by size
class."""

    def __init__(self):
        super().__init__("info gort-memstats", gdb.COMMAND_DATA)

    @guard("info gort-memstats")
    def invoke(self, arg, from_tty):
        if arg.strip():
            raise GortError("info gort-memstats", f"unknown argument '{arg.strip()}' (usage: "
                            "info gort-memstats)")
        rt, h = current_heap(bitmaps=False)
        ms = MemStats(h)
        out = []

        def line(name, v, nbytes, what):
            out.append(f"{name:<16} {v:20} {fmt_size(v) if nbytes else '':>7}  {what}\n")

        line("alloc", ms.alloc, True, "bytes of allocated heap objects")
        line("total_alloc", ms.total_alloc, True, "bytes allocated, cumulative")
        line("sys", ms.sys, True, "bytes from the OS: heap_sys + stack_sys + gc_sys")
        line("mallocs", ms.mallocs, False, "objects allocated, cumulative")
        line("frees", ms.frees, False, "objects freed, cumulative")
        line("heap_alloc", ms.heap_alloc, True, "bytes of allocated heap objects")
        line("heap_sys", ms.heap_sys, True, "heap_inuse + heap_idle")
        line("heap_idle", ms.heap_idle, True, "bytes in free and released spans")
        line("heap_inuse", ms.heap_inuse, True, "bytes in spans of objects")
        line("heap_released", ms.heap_released, True, "bytes returned to the OS")
        line("heap_objects", ms.heap_objects, False, "allocated objects")
        line("stack_inuse", ms.stack_inuse, True, "bytes in goroutine stack spans")
        line("stack_sys", ms.stack_sys, True, "= stack_inuse")
        line("gc_sys", ms.gc_sys, True, "bytes of heap metadata")
        line("next_gc", ms.next_gc, True, "heap goal of the next collection")
        ago = "never" if not ms.last_gc else (
            f"{fmt_duration(max(time.time_ns() - ms.last_gc, 0))} ago" if live() else "")
        out.append(f"{'last_gc':<16} {ms.last_gc:20} {'':>7}  end of the last collection, ns "
                   f"since 1970" + (f" ({ago})" if ago else "") + "\n")
        line("pause_total_ns", ms.pause_total_ns, False, "stop-the-world time, cumulative")
        line("num_gc", ms.num_gc, False, "collections")
        if ms.num_forced_gc is not None:
            line("num_forced_gc", ms.num_forced_gc, False, "of which by gort_gc")
        else:
            out.append(f"{'num_forced_gc':<16} {'-':>20} {'':>7}  not in the process's "
                       "memory\n")
        if ms.gc_cpu_fraction is not None:
            out.append(f"{'gc_cpu_fraction':<16} {ms.gc_cpu_fraction:20.6f} {'':>7}  share of "
                       "wall time spent collecting since start\n")
        else:
            why = ("not in the process's memory" if not h.has_total_ns else
                   "the runtime has not started" if live() else
                   "the runtime's uptime is not known (a core file)")
            out.append(f"{'gc_cpu_fraction':<16} {'-':>20} {'':>7}  {why}\n")
        pauses = []
        n = len(h.pause_ns)
        for k in range(min(RECENT_PAUSES, ms.num_gc, n)):
            pauses.append(fmt_pause(h.pause_ns[(ms.num_gc - 1 - k) % n]))
        out.append("\nrecent pauses    " + " ".join(pauses) +
                   (" (latest first)" if ms.num_gc else "none") + "\n")
        off = "off " if h.gc_percent < 0 else ""
        out.append(f"collector        heap_live {h.heap_live}, heap_marked {h.heap_marked}, "
                   f"GORT_GC {off}{h.gc_percent}, "
                   f"{'collecting' if h.gc_running else 'not collecting'}, sweep generation "
                   f"{h.sweepgen}\n")
        out.append(f"unflushed        {ms.unflushed_mallocs} objects, {ms.unflushed_bytes} bytes "
                   "counted in P caches (included above)\n")
        out.append(f"\nby_size  {'CLASS':>5} {'SIZE':>7} {'MALLOCS':>12} {'FREES':>12} "
                   f"{'LIVE':>12}\n")
        for c in range(1, h.nclasses):
            m, f = ms.class_mallocs(h, c), h.nsmallfree[c]
            if m or f:
                out.append(f"         {c:5} {h.class_size[c]:7} {m:12} {f:12} {m - f:12}\n")
        gdb.write("".join(out))


# ---- gort-ptr ADDR -------------------------------------------------------------

def parse_address(arg):
    arg = arg.strip()
    if not arg:
        raise GortError("gort-ptr", "which address? (usage: gort-ptr ADDR)")
    try:
        v = gdb.parse_and_eval(arg)
        if v.type.strip_typedefs().code == gdb.TYPE_CODE_ARRAY:
            v = v.address
        return int(v.cast(gdb.lookup_type("unsigned long"))) & 0xffffffffffffffff
    except gdb.error as e:
        raise GortError("gort-ptr", f"'{arg}' is not an address ({e})") from None


def heap_lines(h, addr):
    a = h.arena(addr)
    r = h.run(addr) if a else None
    if a is None or r is None:
        return []
    sp = r.span
    if sp is None:
        return [f"  span      error: {h.run_problem(r)}"]
    flags = span_flags(h, sp)
    out = [f"  span      {sp.base:012x}-{sp.base + h.span_bytes(sp):012x} "
           f"({fmt_size(h.span_bytes(sp))}) {span_what(h, sp)}" +
           (f" [{flags}]" if flags else "")]
    if not h.is_state(sp, "inuse") or not sp.elemsize:
        return out
    off = addr - sp.base
    i = off // sp.elemsize
    if i >= sp.nelems:
        out.append(f"  object    none: past the span's last slot ({sp.nelems} slots of "
                   f"{sp.elemsize} bytes end at {sp.base + sp.nelems * sp.elemsize:#x})")
        return out
    base = sp.base + i * sp.elemsize
    alloc = {None: "allocation unknown (no bitmap)", False: "free",
             True: "allocated"}[h.allocated(sp, i)]
    if h.large(sp):
        out.append(f"  object    {base:#x} + {addr - base:#x} (a large object of "
                   f"{sp.elemsize} bytes): {alloc}")
    else:
        out.append(f"  object    {base:#x} + {addr - base:#x} (slot {i} of {sp.nelems}, "
                   f"{sp.elemsize} bytes): {alloc}")
    return out


def stack_lines(rt, walker, addr):
    """The goroutine whose stack holds addr, and which of its frames."""
    out = []
    g = next((g for g in rt.goroutines() if g.readable and not g.error and
              g.stacklo <= addr < g.stackhi), None)
    if g is None:
        return out
    frame = walker.frame_holding(g, addr)
    if frame is None:
        out.append(f"  stack     of goroutine {g.goid} (its frames cannot be walked)")
    elif frame[0] < 0:
        out.append(f"  stack     of goroutine {g.goid}, below its stack pointer "
                   f"{frame[2]:#x}")
    else:
        idx, text, sp, cfa = frame
        out.append(f"  stack     of goroutine {g.goid}, frame {idx}: {text} (frame "
                   f"[{sp:#x}, {cfa:#x}), offset {addr - sp:#x})")
    return out


def g_lines(rt, addr):
    gt = rt.desc.type("g")
    for g in rt.goroutines():
        if g.readable and g.addr <= addr < g.addr + gt.size:
            return [f"  g         the G of goroutine {g.goid} + {addr - g.addr:#x}"]
    return []


def symbol_lines(addr):
    out = []
    try:
        sym = gdb.execute(f"info symbol {addr:#x}", to_string=True).strip()
    except gdb.error:
        sym = ""
    if sym and not sym.startswith("No symbol"):
        out.append(f"  symbol    {sym}")
        sal = gdb.find_pc_line(addr)
        try:
            block = gdb.block_for_pc(addr)
        except RuntimeError:
            block = None
        while block is not None and block.function is None and not block.is_static:
            block = block.superblock
        if sal.symtab is not None and sal.line and block is not None and block.function:
            out.append(f"  code      {block.function.print_name} {sal.symtab.filename}:"
                       f"{sal.line}")
    return out


class GortPtr(gdb.Command):
    """What an address is.

Usage: gort-ptr ADDR

In the heap: its span and, in a span of objects, the object slot holding it
(size class, object base and offset, allocated or free); on a goroutine's
stack, whose and in which frame (numbered as goroutine ID bt numbers them);
inside a G, which goroutine's; in a binary, the symbol and the source line.
ADDR is any expression (0x7f3a12345678, &x, p)."""

    def __init__(self):
        super().__init__("gort-ptr", gdb.COMMAND_DATA)

    @guard("gort-ptr")
    def invoke(self, arg, from_tty):
        addr = parse_address(arg)
        rt = model.current()
        out = [f"{addr:#x}:"]
        try:
            h = Heap(rt)
        except GortError as e:
            warn(f"warning: {e}")
            h = None
        try:
            region = cmd_maps.Memmap(rt, h).find(addr)
        except GortError as e:
            warn(f"warning: {e}")
            region = False
        if region:
            mp = region.map
            out.append(f"  mapping   {mp.start:012x}-{mp.end:012x} {mp.perms}  {region.desc} "
                       f"(offset {addr - mp.start:#x})")
        elif region is None:
            out.append("  not mapped")
        if h is not None:
            out += heap_lines(h, addr)
        walker = stacks.Walker(rt)
        out += stack_lines(rt, walker, addr)
        out += g_lines(rt, addr)
        out += symbol_lines(addr)
        gdb.write("\n".join(out) + "\n")


def install():
    cmd_maps.InfoGortMaps()
    InfoGortHeap()
    InfoGortSpans()
    InfoGortMemstats()
    GortPtr()
