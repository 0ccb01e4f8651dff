"""heap — the runtime's heap (descriptor version 2, docs/metadata.md), read
as goinspect reads it (inspector/heapsnap.c, heapstats.c): the page heap's
counters, the collector, the allocation counters and every P's unflushed
ones, each arena's page table folded into runs of pages given to one span
record, every span record decoded, and their allocation bitmaps.

Every span record is checked (a state it has, whole pages inside the
arenas, the page tables giving its pages to it, a size class that matches,
objects that fit, a readable bitmap): a record that fails gets an error
("span table entry I (span at A): WHY", goinspect's words), is left out of
every total, and the rest of the heap is shown.
"""
import bisect
import struct

from .errors import GortError

MAX_ARENAS = 1 << 16
MAX_SPANS = 1 << 26
MAX_CLASSES = 256
MAX_RING = 4096
MAX_TYPE = 1 << 20

MHEAP_FIELDS = ("arenas", "narenas", "allspans", "nspans", "sweepgen", "generation",
                "pages_inuse", "pages_stack", "pages_free", "pages_released", "sys_bytes")
SPAN_FIELDS = ("base", "npages", "state", "spanclass", "sizeclass", "noscan", "needzero",
               "incache", "elemsize", "nelems", "alloccount", "freeindex", "sweepgen",
               "allocbits", "owner", "freed_at")
GC_FIELDS = ("heap_live", "heap_marked", "next_gc", "percent", "running", "num_gc",
             "pause_total_ns", "last_gc", "num_forced_gc", "total_ns", "marking")
SWEEP_NAMES = ("unswept", "swept", "being swept")


def _signed(v, bits=64):
    return v - (1 << bits) if v >> (bits - 1) else v


def _pow2(x):
    return x > 0 and not x & (x - 1)


class Span:
    __slots__ = ("addr", "index", "base", "npages", "state", "spanclass", "sizeclass", "noscan",
                 "needzero", "incache", "elemsize", "nelems", "alloccount", "freeindex",
                 "sweepgen", "allocbits", "owner", "freed_at", "error", "cached_by", "bits")

    def __init__(self, addr, index):
        self.addr, self.index = addr, index
        self.base = self.npages = self.state = self.spanclass = self.sizeclass = 0
        self.noscan = self.needzero = self.incache = self.elemsize = self.nelems = 0
        self.alloccount = self.freeindex = self.sweepgen = self.allocbits = self.owner = 0
        self.freed_at = 0
        self.error = None
        self.cached_by = None
        self.bits = None        # the allocation bitmap's bytes, when read


class Arena:
    __slots__ = ("addr", "base", "end", "runs", "error")

    def __init__(self, addr):
        self.addr, self.base, self.end, self.runs, self.error = addr, 0, 0, [], None


class Run:
    """Pages of an arena that its page table gives to one span record."""

    __slots__ = ("start", "end", "record", "span")

    def __init__(self, start, end, record):
        self.start, self.end, self.record, self.span = start, end, record, None


class Heap:
    """The heap of a model.Runtime, read now.  Raises GortError when the
    runtime does not describe a heap or its root cannot be read."""

    def __init__(self, rt, bitmaps=True):
        self.rt = rt
        self.mem = rt.mem
        self.desc = d = rt.desc
        self.warnings = []
        self.errors = []
        if not d.has_root("mheap") or not d.has_type("mheap") or not d.has_type("span"):
            raise GortError("the heap", "its runtime does not describe its heap (descriptor "
                            f"version {d.version})")
        self.states = d.enum("spanstate")
        self.st = {n: i for i, n in enumerate(self.states) if n}
        self._read_roots()
        self._read_caches()
        self._read_arenas()
        self._read_spans()
        if bitmaps:
            self._read_bitmaps()
        self._check()

    # ---- roots -----------------------------------------------------------

    def _root_bytes(self, name, size=None):
        d = self.desc
        if not d.has_root(name):
            return None
        addr, rsize = d.root(name)
        size = size if size is not None else rsize
        if not size or size > MAX_TYPE:
            return None
        data = self.mem.try_read(addr, size)
        if data is None:
            self.warnings.append(f"the runtime's {name} at {addr:#x} cannot be read")
        return data

    def _u64_root(self, name):
        b = self._root_bytes(name)
        return int.from_bytes(b[:8], "little") if b and len(b) >= 8 else 0

    def _read_roots(self):
        d = self.desc
        mt = d.type("mheap")
        mh = self._root_bytes("mheap", mt.size)
        if mh is None:
            raise GortError("the heap", f"the runtime's mheap at {d.root('mheap')[0]:#x} cannot "
                            "be read")
        self.page_size = self._u64_root("page_size")
        self.arena_bytes = self._u64_root("arena_bytes")
        for name in ("nlargealloc", "largealloc_bytes", "nlargefree", "largefree_bytes",
                     "persistent_bytes"):
            setattr(self, name, self._u64_root(name))
        ok = (_pow2(self.page_size) and 512 <= self.page_size <= 1 << 24 and
              _pow2(self.arena_bytes) and self.page_size <= self.arena_bytes <= 1 << 40)
        if not ok:
            self.warnings.append(f"the heap's page size {self.page_size} and arena size "
                                 f"{self.arena_bytes} are implausible")
        (self.arenas_addr, self.narenas_claimed, self.allspans, self.nspans_claimed,
         self.sweepgen, self.generation, self.pages_inuse, self.pages_stack, self.pages_free,
         self.pages_released, self.sys_bytes) = mt.decoder(MHEAP_FIELDS)(mh)
        self.changing = bool(self.generation & 1)
        # size classes: the number the tables agree on
        sizes = self._root_bytes("class_to_size") or b""
        npages = self._root_bytes("class_to_npages") or b""
        nsmall = self._root_bytes("nsmallalloc") or b""
        free_f = mt.raw_field("nsmallfree")
        nfree = mh[free_f[0]:free_f[0] + free_f[1]] if free_f else b""
        nc = len(sizes) // 2
        for n in (len(npages), len(nsmall) // 8, len(nfree) // 8):
            if n != nc:
                self.warnings.append(f"the runtime's size class tables differ in length ({nc} "
                                     f"and {n})")
            nc = min(nc, n)
        nc = min(nc, MAX_CLASSES)
        self.nclasses = nc
        self.class_size = list(struct.unpack_from(f"<{nc}H", sizes)) if nc else []
        self.class_npages = list(npages[:nc])
        self.nsmallalloc = list(struct.unpack_from(f"<{nc}Q", nsmall)) if nc else []
        self.nsmallfree = list(struct.unpack_from(f"<{nc}Q", nfree)) if nc else []
        self.unflushed = [0] * nc
        self.unflushed_nlarge = self.unflushed_large_bytes = 0
        # the collector
        self.heap_live = self.heap_marked = self.next_gc = self.num_gc = 0
        self.pause_total_ns = self.last_gc = self.gc_running = self.gc_total_ns = 0
        self.num_forced_gc = 0
        self.gc_percent = 0
        self.has_forced = self.has_total_ns = False
        self.pause_ns, self.pause_end = [], []
        if d.has_type("gcstate"):
            gt = d.type("gcstate")
            gb = self._root_bytes("gc", gt.size)
            if gb is not None:
                dec = gt.decoder(GC_FIELDS)
                (self.heap_live, self.heap_marked, self.next_gc, percent, self.gc_running,
                 self.num_gc, self.pause_total_ns, self.last_gc, self.num_forced_gc,
                 self.gc_total_ns, _marking) = dec(gb)
                pf = gt.field("percent")
                self.gc_percent = _signed(percent, 8 * pf[1]) if pf else 0
                self.has_forced = dec.has("num_forced_gc")
                self.has_total_ns = dec.has("total_ns")
                rings = [gt.raw_field("pause_ns"), gt.raw_field("pause_end")]
                if all(rings):
                    n = min(min(r[1] for r in rings) // 8, MAX_RING)
                    self.pause_ns = list(struct.unpack_from(f"<{n}Q", gb, rings[0][0]))
                    self.pause_end = list(struct.unpack_from(f"<{n}Q", gb, rings[1][0]))
        self.uptime_ns = 0

    # ---- P caches ----------------------------------------------------------

    def _read_caches(self):
        self.cached = {}            # span record -> P id
        d = self.desc
        if not d.has_type("mcache"):
            return
        ct = d.type("mcache")
        alloc = ct.raw_field("alloc")
        local = ct.raw_field("local_nsmallalloc")
        dec = ct.decoder(("local_nlargealloc", "local_largealloc"))
        for p in self.rt.ps():
            if not p.mcache:
                self.warnings.append(f"P {p.id} has no cache: its unflushed allocation counts "
                                     "are missing")
                continue
            b = self.mem.try_read(p.mcache, ct.size)
            if b is None:
                self.warnings.append(f"the cache of P {p.id} at {p.mcache:#x} is not in "
                                     "readable memory: its unflushed allocation counts are "
                                     "missing")
                continue
            if local:
                n = min(local[1] // 8, self.nclasses)
                for i, v in enumerate(struct.unpack_from(f"<{n}Q", b, local[0])):
                    self.unflushed[i] += v
            nl, lb = dec(b)
            self.unflushed_nlarge += nl
            self.unflushed_large_bytes += lb
            if alloc:
                for sp in struct.unpack_from(f"<{alloc[1] // 8}Q", b, alloc[0]):
                    if sp:
                        self.cached[sp] = p.id

    # ---- arenas --------------------------------------------------------------

    def _read_arenas(self):
        self.arenas = []
        d = self.desc
        if not d.has_type("arena") or not self.page_size or not self.arena_bytes:
            return
        at = d.type("arena")
        spans_f = at.raw_field("spans")
        base_f = at.field("base")
        if spans_f is None or base_f is None:
            return
        n = self.narenas_claimed
        if n > MAX_ARENAS:
            self.warnings.append(f"the heap's arena table claims {n} entries (corrupt?); "
                                 f"reading the first {MAX_ARENAS}")
            n = MAX_ARENAS
        ptrs = self.mem.words(self.arenas_addr, n, "the heap's arena table") if n else ()
        pages = self.arena_bytes // self.page_size
        seen = set()
        for i, p in enumerate(ptrs):
            if not p or p % 8:
                self.warnings.append(f"arena {i}: its record pointer {p:#x} is invalid")
                continue
            if p in seen:
                self.warnings.append(f"arena {i}: its record at {p:#x} is listed twice")
                continue
            seen.add(p)
            a = Arena(p)
            b = self.mem.try_read(p, at.size)
            if b is None:
                a.error = f"arena {i} at {p:#x} is not in readable memory"
            else:
                a.base = int.from_bytes(b[base_f[0]:base_f[0] + base_f[1]], "little")
                a.end = a.base + self.arena_bytes
                if a.base % self.arena_bytes:
                    a.error = (f"arena {i} at {p:#x}: its base {a.base:#x} is not aligned to "
                               "the arena size")
                elif spans_f[1] // 8 != pages:
                    a.error = (f"arena {i} at {p:#x}: its page table has {spans_f[1] // 8} "
                               f"entries for {pages} pages")
                else:
                    a.runs = self._fold(a.base, struct.unpack_from(f"<{pages}Q", b, spans_f[0]))
            self.arenas.append(a)
        self.arenas.sort(key=lambda a: a.base)
        prev = None
        for a in self.arenas:
            if a.error is None and prev is not None and a.base < prev.end:
                a.error = f"arena at {a.addr:#x}: its address space {a.base:#x} is another arena's"
            if a.error:
                self.warnings.append(a.error)
                a.runs = []
            else:
                prev = a
        self.runs = [r for a in self.arenas for r in a.runs]
        self.run_starts = [r.start for r in self.runs]
        self.arena_bases = [a.base for a in self.arenas]

    def _fold(self, base, table):
        ps = self.page_size
        runs = []
        prev = None
        for i, rec in enumerate(table):
            if runs and rec == prev:
                runs[-1].end += ps
                continue
            start = base + i * ps
            runs.append(Run(start, start + ps, rec))
            prev = rec
        return runs

    # ---- spans ---------------------------------------------------------------

    def _span_error(self, sp, why):
        if sp.error is None:
            sp.error = f"span table entry {sp.index} (span at {sp.addr:#x}): {why}"
            self.errors.append(sp.error)

    def _read_spans(self):
        self.spans = []
        self.dead = set()
        if not hasattr(self, "runs"):
            self.runs, self.run_starts, self.arena_bases = [], [], []
        st_ = self.desc.type("span")
        dec = st_.decoder(SPAN_FIELDS)
        n = self.nspans_claimed
        if n > MAX_SPANS:
            self.warnings.append(f"the span table claims {n} entries (corrupt?); reading the "
                                 f"first {MAX_SPANS}")
            n = MAX_SPANS
        ptrs = self.mem.words(self.allspans, n, "the span table") if n else ()
        index = {}
        for i, p in enumerate(ptrs):
            if not p or p % 8:
                sp = Span(p, i)
                self.spans.append(sp)
                self._span_error(sp, "the pointer is misaligned" if p else "the pointer is NULL")
            elif p in index:
                sp = Span(p, i)
                self.spans.append(sp)
                self._span_error(sp, f"the span table lists it again (entry {index[p]})")
            else:
                index[p] = i
        dead = self.st.get("dead", -1)
        ff = st_.field("freed_at")
        fbits = 8 * ff[1] if ff else 64
        for addrs, data, start in self.mem.read_runs(index, st_.size):
            if data is None:
                sp = Span(start, index[start])
                self.spans.append(sp)
                self._span_error(sp, "is not in readable memory")
                continue
            for p, v in zip(addrs, dec.many(data, start, addrs)):
                if v[2] == dead:
                    self.dead.add(p)
                    continue
                sp = Span(p, index[p])
                (sp.base, sp.npages, sp.state, sp.spanclass, sp.sizeclass, sp.noscan,
                 sp.needzero, sp.incache, sp.elemsize, sp.nelems, sp.alloccount, sp.freeindex,
                 sp.sweepgen, sp.allocbits, sp.owner, freed) = v
                sp.freed_at = _signed(freed, fbits)
                self.spans.append(sp)
        self.spans.sort(key=lambda s: s.index)

    def _read_bitmaps(self):
        inuse = self.st.get("inuse", -1)
        limit = self.arena_bytes // self.page_size * MAX_ARENAS if self.page_size else 0
        for sp in self.spans:
            if (sp.error or sp.state != inuse or not sp.allocbits or not sp.nelems or
                    sp.npages > limit or sp.nelems > sp.npages * self.page_size // 8 or
                    sp.allocbits % 8):
                continue
            n = (sp.nelems + 63) // 64 * 8
            sp.bits = self.mem.try_read(sp.allocbits, n)
            if sp.bits is None:
                self._span_error(sp, f"its allocation bitmap at {sp.allocbits:#x} is not in "
                                 "readable memory")
        self.bitmaps = True

    # ---- checks (heapsnap_check) ------------------------------------------------

    def arena(self, addr):
        i = bisect.bisect_right(self.arena_bases, addr)
        while i > 0:
            a = self.arenas[i - 1]
            if a.error is None:
                return a if addr < a.end else None
            i -= 1
        return None

    def run(self, addr):
        i = bisect.bisect_right(self.run_starts, addr)
        return self.runs[i - 1] if i > 0 and addr < self.runs[i - 1].end else None

    def _in_arenas(self, lo, hi):
        while lo < hi:
            a = self.arena(lo)
            if a is None:
                return False
            lo = a.end
        return True

    def _check_span(self, sp):
        ps = self.page_size
        nbytes = sp.npages * ps
        if sp.state >= len(self.states):
            return self._span_error(sp, f"state {sp.state} is not a span state")
        if sp.base % ps:
            return self._span_error(sp, f"its base {sp.base:#x} is not page-aligned")
        if sp.npages == 0 or sp.npages > max(len(self.arenas), 1) * (self.arena_bytes // ps) \
                or sp.base + nbytes >= 1 << 64:
            return self._span_error(sp, f"{sp.npages} pages is not a span length in this heap")
        if not self._in_arenas(sp.base, sp.base + nbytes):
            return self._span_error(sp, f"[{sp.base:#x}, {sp.base + nbytes:#x}) is outside the "
                                    "heap's arenas")
        if sp.state != self.st.get("inuse", -1):
            return None
        sc = sp.sizeclass
        if sc >= self.nclasses:
            return self._span_error(sp, f"size class {sc} is not one of the runtime's "
                                    f"{self.nclasses}")
        if sp.spanclass != ((sc << 1 | (sp.noscan & 1)) & 0xff) or sp.noscan > 1:
            return self._span_error(sp, f"its span class {sp.spanclass} does not match size "
                                    f"class {sc}, noscan {sp.noscan}")
        if sc == 0 and (sp.nelems != 1 or sp.elemsize != nbytes):
            return self._span_error(sp, f"a large object span of {nbytes} bytes with "
                                    f"{sp.nelems} objects of {sp.elemsize} bytes")
        if sc != 0 and sp.elemsize != self.class_size[sc]:
            return self._span_error(sp, f"its object size {sp.elemsize} is not size class "
                                    f"{sc}'s {self.class_size[sc]}")
        if sc != 0 and sp.npages != self.class_npages[sc]:
            return self._span_error(sp, f"{sp.npages} pages, not size class {sc}'s "
                                    f"{self.class_npages[sc]}")
        if sp.nelems == 0 or sp.nelems * sp.elemsize > nbytes:
            return self._span_error(sp, f"{sp.nelems} objects of {sp.elemsize} bytes do not "
                                    f"fit in its {nbytes} bytes")
        if sp.alloccount > sp.nelems or sp.freeindex > sp.nelems:
            return self._span_error(sp, f"{sp.alloccount} objects allocated (free index "
                                    f"{sp.freeindex}) of {sp.nelems} slots")
        if not sp.allocbits:
            return self._span_error(sp, "it has no allocation bitmap")
        if getattr(self, "bitmaps", False) and sp.bits is None:
            return self._span_error(sp, f"its allocation bitmap at {sp.allocbits:#x} was not "
                                    "copied")
        return None

    def _check_pages(self, sp):
        cur, hi = sp.base, sp.base + sp.npages * self.page_size
        i = bisect.bisect_right(self.run_starts, cur) - 1
        while cur < hi:
            if i < 0 or i >= len(self.runs) or self.runs[i].start > cur or \
                    self.runs[i].end <= cur:
                return self._span_error(sp, f"page {cur:#x} is in no arena's page table")
            if self.runs[i].record != sp.addr:
                return self._span_error(sp, f"the page table gives its page {cur:#x} to the "
                                        f"span at {self.runs[i].record:#x}")
            cur = self.runs[i].end
            i += 1
        return None

    def _check(self):
        self.by_record = {}
        for sp in self.spans:
            if sp.error is None:
                self.by_record.setdefault(sp.addr, sp)
        for rec, p in self.cached.items():
            sp = self.by_record.get(rec)
            if sp is not None:
                sp.cached_by = p
        for sp in self.spans:
            if sp.error is None:
                self._check_span(sp)
        for sp in self.spans:
            if sp.error is None:
                self._check_pages(sp)
        stack = self.st.get("stack", -1)
        for g in self.rt.goroutines():
            if not g.readable or g.error or not g.stackspan:
                continue
            sp = self.by_record.get(g.stackspan)
            if sp is not None and sp.error is None and sp.state == stack and \
                    sp.owner != g.goid:
                self._span_error(sp, f"goroutine {g.goid}'s stack, but its owner is goroutine "
                                 f"{sp.owner}")
        for r in self.runs:
            sp = self.by_record.get(r.record)
            if sp is not None and sp.error is None and r.start >= sp.base and \
                    r.end <= sp.base + sp.npages * self.page_size:
                r.span = sp
        self.valid = sorted((sp for sp in self.spans if sp.error is None),
                            key=lambda s: s.base)
        self.valid_bases = [sp.base for sp in self.valid]

    # ---- reading a span --------------------------------------------------------

    def state_name(self, sp):
        return self.states[sp.state] if sp.state < len(self.states) else "?"

    def is_state(self, sp, name):
        return sp.state == self.st.get(name, -1)

    def span_bytes(self, sp):
        return sp.npages * self.page_size

    def large(self, sp):
        return self.is_state(sp, "inuse") and sp.sizeclass == 0

    def allocated(self, sp, i):
        """Is slot i allocated: True, False, or None (no bitmap)."""
        if sp.bits is None or i >= sp.nelems:
            return None
        if i < sp.freeindex:
            return True
        return bool(sp.bits[i // 8] >> (i % 8) & 1)

    def bits_set(self, sp):
        """Slots allocated by the runtime's rule: freeindex, plus the bits set
        above it (None: no bitmap)."""
        if sp.bits is None:
            return None
        start = min(sp.freeindex, sp.nelems)
        word = int.from_bytes(sp.bits, "little")
        word >>= start
        word &= (1 << (sp.nelems - start)) - 1
        return start + bin(word).count("1")

    def sweep_state(self, sp):
        sg = self.sweepgen & 0xffffffff
        if sp.sweepgen == sg:
            return 1
        if sp.sweepgen == (sg - 1) & 0xffffffff:
            return 2
        return 0

    def run_problem(self, r):
        """Why pages have no valid span."""
        if not r.record:
            return "pages of no span (the page table's entries are NULL)"
        if r.record in self.dead:
            return (f"pages the page table gives to the span at {r.record:#x}, which is unused "
                    "(dead)")
        sp = next((s for s in self.spans if s.addr == r.record), None)
        if sp is None:
            return (f"pages the page table gives to {r.record:#x}, which is not in the span "
                    "table")
        if sp.error:
            return sp.error
        return (f"pages the page table gives to the span at {r.record:#x}, which covers "
                f"[{sp.base:#x}, {sp.base + self.span_bytes(sp):#x})")


# ---- what it adds up to (heapstats.c) --------------------------------------------

class MemStats:
    """gort_memstats as gort_read_memstats computes it, with every P's
    counters flushed."""

    NAMES = ("alloc", "total_alloc", "sys", "mallocs", "frees", "heap_alloc", "heap_sys",
             "heap_idle", "heap_inuse", "heap_released", "heap_objects", "stack_inuse",
             "stack_sys", "gc_sys", "next_gc", "last_gc", "pause_total_ns", "num_gc")

    def __init__(self, h):
        m = 1 << 64
        mallocs = frees = total = freed = unfl = unfl_bytes = 0
        for c in range(h.nclasses):
            a = h.nsmallalloc[c] + h.unflushed[c]
            f = h.nsmallfree[c]
            mallocs += a
            frees += f
            total += a * h.class_size[c]
            freed += f * h.class_size[c]
            unfl += h.unflushed[c]
            unfl_bytes += h.unflushed[c] * h.class_size[c]
        mallocs += h.nlargealloc + h.unflushed_nlarge
        frees += h.nlargefree
        total += h.largealloc_bytes + h.unflushed_large_bytes
        freed += h.largefree_bytes
        self.unflushed_mallocs = (unfl + h.unflushed_nlarge) % m
        self.unflushed_bytes = (unfl_bytes + h.unflushed_large_bytes) % m
        ps = h.page_size
        self.mallocs, self.frees, self.total_alloc = mallocs % m, frees % m, total % m
        self.heap_inuse = h.pages_inuse * ps
        self.stack_inuse = h.pages_stack * ps
        self.heap_released = h.pages_released * ps
        self.heap_idle = (h.pages_free + h.pages_released) * ps
        self.gc_sys = h.persistent_bytes + h.sys_bytes
        self.heap_objects = (mallocs - frees) % m
        self.heap_alloc = (total - freed) % m
        self.alloc = self.heap_alloc
        self.heap_sys = self.heap_inuse + self.heap_idle
        self.stack_sys = self.stack_inuse
        self.sys = self.heap_sys + self.stack_sys + self.gc_sys
        self.next_gc, self.last_gc = h.next_gc, h.last_gc
        self.pause_total_ns, self.num_gc = h.pause_total_ns, h.num_gc
        self.num_forced_gc = h.num_forced_gc if h.has_forced else None
        self.gc_cpu_fraction = (h.gc_total_ns / h.uptime_ns
                                if h.has_total_ns and h.uptime_ns > 0 else None)

    def class_mallocs(self, h, c):
        return h.nsmallalloc[c] + h.unflushed[c]


class Tally:
    """Spans of one kind and the objects in them."""

    __slots__ = ("spans", "pages", "noscan", "objects", "slots", "bytes")

    def __init__(self):
        self.spans = self.pages = self.noscan = self.objects = self.slots = self.bytes = 0

    def add(self, h, sp):
        self.spans += 1
        self.pages += sp.npages
        if h.is_state(sp, "inuse"):
            self.noscan += sp.noscan
            self.objects += sp.alloccount
            self.slots += sp.nelems
            self.bytes += sp.alloccount * sp.elemsize

    def waste(self, h):
        b = self.pages * h.page_size
        return (b - self.bytes) / b if b else 0.0


class HeapTally:
    def __init__(self, h):
        self.classes = [Tally() for _ in range(max(h.nclasses, 1))]
        self.inuse, self.stacks, self.cached_stacks = Tally(), Tally(), Tally()
        self.free, self.released, self.other = Tally(), Tally(), Tally()
        self.bad = 0
        for sp in h.spans:
            if sp.error:
                self.bad += 1
            elif h.is_state(sp, "inuse"):
                self.inuse.add(h, sp)
                if sp.sizeclass < len(self.classes):
                    self.classes[sp.sizeclass].add(h, sp)
            elif h.is_state(sp, "stack"):
                (self.stacks if sp.owner else self.cached_stacks).add(h, sp)
            elif h.is_state(sp, "free"):
                self.free.add(h, sp)
            elif h.is_state(sp, "released"):
                self.released.add(h, sp)
            else:
                self.other.add(h, sp)


def fmt_size(n):
    """goinspect's sizes: 512B, 8K, 1.5M."""
    if n < 1024:
        return f"{n}B"
    v = n / 1024
    u = 0
    while v >= 1024 and u < 4:
        v /= 1024
        u += 1
    unit = "KMGTP"[u]
    return f"{v:.1f}{unit}" if v < 10 and v != int(v) else f"{v:.0f}{unit}"
