"""cmd_maps — `info gort-maps`: the inferior's mappings, each said what it is
to the runtime, as goinspect's `maps` says it (inspector/memmap.c): the
executable and libraries, the malloc heap (and the Gs and all-G table in
it), the main thread's and each M's thread stack, guard pages, the heap's
arenas broken into runs of spans of one kind (objects of a size class,
large objects, goroutine stacks with their ids, free and released pages),
and the heap's metadata.

The mappings come from /proc/PID/maps for a live process, and from the core
file's segments and its NT_FILE note for a core.
"""
import bisect
import os
import re

import gdb

from . import model
from .elf import PF_R, PF_W, PF_X, PT_LOAD, Elf
from .errors import GortError, guard, warn
from .heap import Heap, fmt_size


class Mapping:
    __slots__ = ("start", "end", "perms", "offset", "path")

    def __init__(self, start, end, perms, offset, path):
        self.start, self.end, self.perms, self.offset, self.path = start, end, perms, offset, path


class Region:
    __slots__ = ("map", "kind", "desc", "runs", "thread")

    def __init__(self, mp):
        self.map, self.kind, self.desc, self.runs, self.thread = mp, "anonymous", "anonymous", \
            [], None


class RunOf:
    """Consecutive spans of one kind in an arena (goinspect's region_run)."""

    __slots__ = ("start", "end", "kind", "ids", "nspans", "sizeclass", "noscan", "state",
                 "objects", "bytes", "pages")

    def __init__(self, start, end, kind):
        self.start, self.end, self.kind = start, end, kind
        self.ids, self.nspans, self.sizeclass, self.noscan, self.state = [], 0, 0, False, 0
        self.objects = self.bytes = 0
        self.pages = None


# ---- where the mappings come from ------------------------------------------------

def core_path():
    """The core file gdb has loaded, or None."""
    out = gdb.execute("info target", to_string=True)
    m = re.search(r"core dump file:\s*`(.*)', file type", out)
    return m.group(1) if m else None


def mappings():
    inf = gdb.selected_inferior()
    conn = getattr(inf, "connection", None)
    kind = conn.type if conn is not None else None
    if kind == "native":
        return proc_maps(inf.pid)
    if kind == "core":
        path = core_path()
        if path is None:
            raise GortError("the mappings", "gdb names no core file")
        return core_maps(path)
    raise GortError("the mappings", f"not known for a {kind or 'missing'} target")


def proc_maps(pid):
    out = []
    try:
        with open(f"/proc/{pid}/maps", "rb") as f:
            for raw in f:
                parts = raw.decode("utf-8", "surrogateescape").rstrip("\n").split(None, 5)
                lo, hi = parts[0].split("-")
                path = parts[5] if len(parts) > 5 else ""
                out.append(Mapping(int(lo, 16), int(hi, 16), parts[1], int(parts[2], 16), path))
    except OSError as e:
        raise GortError(f"/proc/{pid}/maps", e.strerror or str(e)) from None
    return out


def core_maps(path):
    elf = Elf(path)
    try:
        files = elf.file_mappings()
        out = []
        for s in elf.segments:
            if s.type != PT_LOAD or not s.memsz:
                continue
            perms = ("r" if s.flags & PF_R else "-") + ("w" if s.flags & PF_W else "-") + \
                ("x" if s.flags & PF_X else "-") + "p"
            fpath, off = "", 0
            for start, end, foff, fp in files:
                if start <= s.vaddr < end:
                    fpath, off = fp, foff + (s.vaddr - start)
                    break
            out.append(Mapping(s.vaddr, s.vaddr + s.memsz, perms, off, fpath))
    finally:
        elf.close()
    out.sort(key=lambda m: m.start)
    return out


# ---- what each one is ----------------------------------------------------------------

def page_kind(h, r):
    sp = r.span
    if sp is None:
        return "invalid", None
    if h.is_state(sp, "inuse"):
        return ("small_objects" if sp.sizeclass else "large_objects"), sp
    if h.is_state(sp, "stack"):
        return ("goroutine_stacks" if sp.owner else "cached_stacks"), sp
    if h.is_state(sp, "free"):
        return "free", sp
    if h.is_state(sp, "released"):
        return "released", sp
    return "spans", sp


def arena_runs(h, mp):
    out = []
    cur = mp.start
    run = None
    last = None
    i = bisect.bisect_right([r.end for r in h.runs], mp.start)
    while i < len(h.runs) and h.runs[i].start < mp.end:
        pr = h.runs[i]
        i += 1
        lo, hi = max(pr.start, mp.start), min(pr.end, mp.end)
        kind, sp = page_kind(h, pr)
        same = (run is not None and run.kind == kind and run.end == lo and
                (kind != "small_objects" or (run.sizeclass == sp.sizeclass and
                                             run.noscan == bool(sp.noscan))) and
                (kind != "spans" or run.state == sp.state))
        if not same:
            if run is not None:
                out.append(run)
            if lo > cur:
                out.append(RunOf(cur, lo, "other"))
            run = RunOf(lo, hi, kind)
            run.pages = pr
            if sp is not None:
                run.sizeclass, run.noscan, run.state = sp.sizeclass, bool(sp.noscan), sp.state
            last = None
        run.end = hi
        if sp is not None and sp is not last:
            last = sp
            run.nspans += 1
            if h.is_state(sp, "inuse"):
                run.objects += sp.alloccount
                run.bytes += sp.alloccount * sp.elemsize
            if kind == "goroutine_stacks":
                run.ids.append(sp.owner)
        cur = hi
    if run is not None:
        out.append(run)
    if cur < mp.end:
        out.append(RunOf(cur, mp.end, "other"))
    return out


def arena_desc(h, mp, runs):
    inside = [a for a in h.arenas if a.error is None and a.base < mp.end and a.end > mp.start]
    part = any(a.base < mp.start or a.end > mp.end for a in inside)
    guard = "guard page (no access), " if mp.perms == "---p" else ""
    sz = fmt_size(h.arena_bytes)
    if len(inside) == 1:
        desc = f"{guard}{'part of ' if part else ''}heap arena {inside[0].base:012x} ({sz})"
    else:
        desc = f"{guard}heap arenas: {len(inside)} of {sz} from " + \
            (f"{inside[0].base:012x}" if inside else "?")
    nbytes = {}
    for r in runs:
        nbytes[r.kind] = nbytes.get(r.kind, 0) + r.end - r.start
    stacks = sum(len(r.ids) for r in runs)
    objects = nbytes.get("small_objects", 0) + nbytes.get("large_objects", 0)
    bad = sum(r.kind == "invalid" for r in runs)
    parts = []
    if stacks:
        parts.append(f"{stacks} goroutine stack{'' if stacks == 1 else 's'}")
    for b, what in ((objects, "of objects"), (nbytes.get("cached_stacks", 0), "of cached stacks"),
                    (nbytes.get("free", 0), "free"), (nbytes.get("released", 0), "released"),
                    (nbytes.get("other", 0), "not heap")):
        if b:
            parts.append(f"{fmt_size(b)} {what}")
    if bad:
        parts.append(f"{bad} run{'' if bad == 1 else 's'} of bad spans")
    return desc + (": " + ", ".join(parts) if parts else "")


def format_ids(ids, most=12):
    v = sorted(ids)
    items, i = [], 0
    while i < len(v):
        j = i
        while j + 1 < len(v) and v[j + 1] == v[j] + 1:
            j += 1
        if len(items) == most:
            items.append("...")
            break
        items.append(f"{v[i]}-{v[j]}" if j > i else str(v[i]))
        i = j + 1
    return ", ".join(items)


def run_text(h, region, r):
    s = "" if r.nspans == 1 else "s"
    if r.kind == "goroutine_stacks":
        return f"{len(r.ids)} goroutine stack{'' if len(r.ids) == 1 else 's'}: " + \
            format_ids(r.ids)
    if r.kind == "cached_stacks":
        return f"{r.nspans} unused goroutine stack{s} (cached for reuse)"
    if r.kind == "small_objects":
        o = "" if r.objects == 1 else "s"
        return (f"size class {r.sizeclass} ({h.class_size[r.sizeclass]} bytes"
                f"{', noscan' if r.noscan else ''}): {r.nspans} span{s}, {r.objects} object{o} "
                f"({fmt_size(r.bytes)})")
    if r.kind == "large_objects":
        return f"{r.nspans} large object{s}{' (noscan)' if r.noscan else ''}"
    if r.kind == "free":
        return f"free ({r.nspans} span{s})"
    if r.kind == "released":
        return f"released to the OS ({r.nspans} span{s})"
    if r.kind == "spans":
        return f"{r.nspans} span{s} in state {h.states[r.state] if r.state < len(h.states) else '?'}"
    if r.kind == "invalid":
        return f"error: {h.run_problem(r.pages)}"
    return "not heap" if region.kind == "arena" else "no goroutine stack"


class Memmap:
    """The mappings of the selected inferior, each a Region."""

    def __init__(self, rt, h):
        self.rt, self.h = rt, h
        self.regions = [Region(mp) for mp in mappings()]
        self.starts = [r.map.start for r in self.regions]
        self._elves = {}
        self._describe()

    def find(self, addr):
        i = bisect.bisect_right(self.starts, addr) - 1
        if i >= 0 and addr < self.regions[i].map.end:
            return self.regions[i]
        return None

    def _sections(self, path, start, end):
        """": .text .data ..." — the file's sections that overlap [start,
        end), placed where its first mapping (offset 0) says it is loaded."""
        if path not in self._elves:
            first = next((r.map for r in self.regions if r.map.path == path and
                          r.map.offset == 0), None)
            try:
                elf = Elf(path)
                elf.close()
                bias = first.start - elf.lowest_load() if first is not None else None
            except GortError:
                elf, bias = None, None
            self._elves[path] = (elf, bias)
        elf, bias = self._elves[path]
        if elf is None or bias is None:
            return ""
        names = [sec.name for sec in elf.sections if sec.flags & 2 and sec.size and
                 sec.addr + bias < end and sec.addr + bias + sec.size > start]
        return ": " + " ".join(names) if names else ""

    def _threads(self):
        """{mapping index: (gdb thread, M or None)} of the mapping holding each
        thread's stack pointer, and each M's stack."""
        rt = self.rt
        out = {}
        by_tid = rt.threads_by_tid()
        ms = {m.procid: m for m in rt.ms()}
        gstacks = [(g.stacklo, g.stackhi) for g in rt.goroutines()
                   if g.readable and not g.error and g.stacklo]
        for tid, th in sorted(by_tid.items()):
            regs = rt.thread_regs(th)
            m = ms.get(tid)
            spots = []
            if regs and not any(lo <= regs[1] < hi for lo, hi in gstacks):
                spots.append(regs[1])
            if m is not None and m.stacklo:
                spots.append(m.stacklo)
            for a in spots:
                i = bisect.bisect_right(self.starts, a) - 1
                if i >= 0 and a < self.regions[i].map.end and i not in out:
                    out[i] = (th, m, tid)
        return out

    def _describe(self):
        rt, h = self.rt, self.h
        exe = os.path.realpath(gdb.current_progspace().filename or "")
        solibs = {os.path.realpath(o.filename) for o in gdb.objfiles() if o.filename}
        gaddrs = sorted(g.addr for g in rt.goroutines() if g.readable)
        gstacks = sorted((g.stacklo, g.stackhi, g.goid) for g in rt.goroutines()
                         if g.readable and not g.error and g.stacklo and g.stackhi > g.stacklo)
        try:
            allgs = rt.desc.root_ptr("allgs")
        except GortError:
            allgs = 0
        threads = self._threads()
        pid = gdb.selected_inferior().pid
        records = sorted([s.addr for s in h.spans] + list(h.dead)) if h else []
        for i, r in enumerate(self.regions):
            mp = r.map
            path = mp.path
            holds_arena = h is not None and any(a.error is None and a.base < mp.end and
                                                a.end > mp.start for a in h.arenas)
            if path == "[heap]":
                r.kind, r.desc = "heap", "malloc heap"
            elif path == "[stack]":
                r.kind, r.desc, r.thread = "stack", f"stack of the main thread (tid {pid})", pid
            elif path == "[vdso]":
                r.kind, r.desc = "vdso", "vdso (the kernel's user-space functions)"
            elif path == "[vvar]":
                r.kind, r.desc = "vvar", "vvar (the vdso's data)"
            elif path == "[vsyscall]":
                r.kind, r.desc = "vsyscall", "vsyscall page"
            elif path.startswith("/"):
                real = os.path.realpath(path)
                if real == exe or real in solibs:
                    r.kind = "executable" if real == exe else "library"
                    r.desc = f"{r.kind} {os.path.basename(path)}" + \
                        self._sections(path, mp.start, mp.end)
                else:
                    r.kind, r.desc = "file", f"file {path}"
            elif holds_arena:
                r.kind = "arena"
                r.runs = arena_runs(h, mp)
                r.desc = arena_desc(h, mp, r.runs)
            elif any(mp.start <= lo < mp.end for lo, _hi, _id in gstacks):
                r.kind = "goroutine_stacks"
                n = sum(mp.start <= lo < mp.end for lo, _hi, _id in gstacks)
                r.desc = f"goroutine stacks: {n}"
            elif mp.perms == "---p":
                r.kind = "guard"
                up = i + 1 < len(self.regions) and self.regions[i + 1].map.start == mp.end
                r.desc = "guard page or reserved space below the mapping above" if up else \
                    "no access (guard or reserved)"
            elif i in threads:
                th, m, tid = threads[i]
                r.kind, r.thread = "thread_stack", tid
                name = th.name or ""
                r.desc = (f"thread stack of M{m.id} (tid {tid}, {name})" if m is not None
                          else f"thread stack of tid {tid} ({name})")
            if r.kind == "stack":
                th = rt.threads_by_tid().get(pid)
                r.desc = f"stack of the main thread (tid {pid}, {th.name if th else '?'})"
            if r.kind == "anonymous" and i > 0 and self.regions[i - 1].map.end == mp.start \
                    and self.regions[i - 1].kind in ("executable", "library"):
                # the binary's .bss often continues past its file mapping
                prev = self.regions[i - 1]
                secs = self._sections(prev.map.path, mp.start, mp.end)
                if secs:
                    r.kind = prev.kind
                    r.desc = f"{os.path.basename(prev.map.path)} ({prev.kind})" + secs
            if r.kind in ("anonymous", "heap"):
                lo, hi = bisect.bisect_left(gaddrs, mp.start), bisect.bisect_left(gaddrs, mp.end)
                if hi > lo:
                    r.desc += f", holds {hi - lo} G{'' if hi - lo == 1 else 's'}"
                if mp.start <= allgs < mp.end:
                    r.desc += ", holds the all-G table"
                nspan = bisect.bisect_left(records, mp.end) - bisect.bisect_left(records, mp.start)
                narena = sum(mp.start <= a.addr < mp.end for a in h.arenas) if h else 0
                if nspan or narena:
                    what = "heap metadata: " + ", ".join(
                        x for x in (f"{nspan} span record{'' if nspan == 1 else 's'}" if nspan
                                    else "", f"{narena} arena page table"
                                    f"{'' if narena == 1 else 's'}" if narena else "") if x)
                    r.desc = what if r.desc == "anonymous" else f"{r.desc}, {what}"


class InfoGortMaps(gdb.Command):
    """The inferior's mappings, each with what it is to the runtime.

Usage: info gort-maps

Each mapping: its range, permissions, offset, size and what it is (the
executable, a library, the malloc heap and the Gs in it, a thread's stack, a
guard page, a heap arena); each heap arena broken into runs of consecutive
spans of one kind (objects of a size class, large objects, goroutine stacks
with their ids, free and released pages).  From /proc/PID/maps, or from a
core file's segments."""

    def __init__(self):
        super().__init__("info gort-maps", gdb.COMMAND_DATA)

    @guard("info gort-maps")
    def invoke(self, arg, from_tty):
        if arg.strip():
            raise GortError("info gort-maps", f"unknown argument '{arg.strip()}' (usage: "
                            "info gort-maps)")
        rt = model.current()
        try:
            h = Heap(rt)
        except GortError as e:
            warn(f"warning: {e}")
            h = None
        for w in rt.warnings + (h.warnings if h else []):
            warn(f"warning: {w}")
        mm = Memmap(rt, h)
        out = []
        for r in mm.regions:
            mp = r.map
            path = f"  {mp.path}" if mp.path.startswith("/") else ""
            out.append(f"{mp.start:012x}-{mp.end:012x} {mp.perms} {mp.offset:08x} "
                       f"{fmt_size(mp.end - mp.start):>6}  {r.desc}{path}\n")
            for run in r.runs:
                out.append(f"    {run.start:012x}-{run.end:012x} "
                           f"{fmt_size(run.end - run.start):>6}  {run_text(h, r, run)}\n")
        gdb.write("".join(out))
