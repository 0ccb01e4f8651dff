"""model — the runtime's goroutines, threads (M) and processors (P), read
through the descriptor from the inferior as it is now.

The all-G table is read as goinspect reads it (inspector/snapshot.c): the
array of G pointers in one read, the Gs in runs (memory.read_objects), each
decoded with one struct.unpack_from.  A table entry that cannot be read, or
a G whose state or stack makes no sense, is an entry with an error; the
rest are listed.  Where each goroutine's stack is unwound from (its saved
context, its thread, or nowhere: it has not run yet) is decided here too.

A Runtime is a snapshot: `current()` keeps one until the inferior runs,
stops, or changes (gdb's events), so a run of commands on a stopped
process or a core reads the tables once.
"""
import gdb

from . import descriptor
from .errors import GortError
from .memory import Memory

MAX_G = 1 << 24
MAX_M = 4096
MAX_P = 4096
MAX_BAD = 64                        # bad table entries kept one by one
MAX_STACK_BYTES = 1 << 30           # a larger stack is a corrupt G

CTX_REGS = ("rsp", "rip", "rbp", "rbx", "r12", "r13", "r14", "r15")
G_FIELDS = ("goid", "status", "waitreason", "waitsince", "startpc", "gopc", "parentgoid",
            "stacklo", "stackhi", "m", "lockedm", "lockcount", "system", "stackspan") + \
    tuple("ctx." + r for r in CTX_REGS)
M_FIELDS = ("id", "procid", "curg", "p", "lockedg", "spinning", "blocked", "alllink",
            "stacklo", "stackhi")
P_FIELDS = ("id", "status", "m", "runqhead", "runqtail", "runnext", "schedtick",
            "syscalltick", "mcache")

# Where a goroutine's registers come from.
REGS_NONE, REGS_CTX, REGS_THREAD, REGS_START = "none", "context", "thread", "start"


def _signed(v, size=8):
    return v - (1 << (8 * size)) if v >= 1 << (8 * size - 1) else v


class G:
    """A goroutine: a live entry of the all-G table, or an entry that is
    not a readable G (readable False, error set)."""

    __slots__ = ("index", "addr", "readable", "goid", "status", "reason", "waitsince",
                 "startpc", "gopc", "parentgoid", "stacklo", "stackhi", "m", "lockedm",
                 "lockcount", "system", "stackspan", "ctx", "error")

    def __init__(self, index, addr):
        self.index, self.addr = index, addr
        self.readable = False
        self.goid = self.status = self.waitsince = self.startpc = self.gopc = 0
        self.parentgoid = self.stacklo = self.stackhi = self.m = self.lockedm = 0
        self.lockcount = self.stackspan = 0
        self.system = False
        self.reason = ""
        self.ctx = (0,) * len(CTX_REGS)
        self.error = None

    @classmethod
    def decoded(cls, index, addr, v):
        """A readable G from the values of G_FIELDS (the wait reason still
        its number: see Runtime._checker)."""
        g = cls.__new__(cls)
        g.index, g.addr, g.readable, g.error = index, addr, True, None
        (g.goid, g.status, g.reason, g.waitsince, g.startpc, g.gopc, g.parentgoid, g.stacklo,
         g.stackhi, g.m, g.lockedm, g.lockcount, g.system, g.stackspan) = v[:14]
        g.ctx = v[14:]
        return g

    @property
    def regs(self):
        """The saved context as {register name: value}."""
        return dict(zip(CTX_REGS, self.ctx))


class M:
    __slots__ = ("addr", "id", "procid", "curg", "p", "lockedg", "spinning", "blocked",
                 "stacklo", "stackhi", "thread")


class P:
    __slots__ = ("addr", "id", "status", "m", "runqhead", "runqtail", "runnext", "schedtick",
                 "syscalltick", "mcache")


class Runtime:
    """The runtime's state as the inferior holds it now."""

    def __init__(self, mem=None):
        self.mem = mem or Memory()
        self.desc = descriptor.find(self.mem)
        d = self.desc
        self.status_names = d.enum("gstatus")
        self.st = {n: i for i, n in enumerate(self.status_names) if n}
        self._waiting = self.st.get("waiting", -1)
        self.warnings = []
        self.text = (d.root("text_start")[0], d.root("text_end")[0]) \
            if d.has_root("text_start") and d.has_root("text_end") else (0, 0)
        self.gostart = d.root("gostart")[0] if d.has_root("gostart") else 0
        self._gs = None
        self._ms = None
        self._ps = None
        self._by_goid = None
        self._threads = None
        self._thread_regs = {}
        self.allglen = 0

    # ---- names ---------------------------------------------------------

    def status_name(self, g):
        return self.desc.enum_name("gstatus", g.status, "?")

    def is_status(self, g, name):
        return self.st.get(name, -1) == g.status

    def state_text(self, g):
        """Its wait reason when waiting (and there is one), else its status."""
        if self.is_status(g, "waiting") and g.reason:
            return g.reason
        return self.status_name(g)

    def started(self):
        """gort_main has brought the runtime up."""
        d = self.desc
        if d.has_root("runtime_start"):
            return d.root_int("runtime_start") != 0
        return d.root_int("allglen") != 0

    def in_runtime(self, pc):
        return self.text[0] <= pc < self.text[1]

    # ---- the all-G table -----------------------------------------------

    def goroutines(self):
        """Live goroutines by id, then the entries that are not readable Gs."""
        if self._gs is None:
            self._gs = self._read_gtable()
            self._gs.sort(key=lambda g: (not g.readable, g.goid, g.addr))
        return self._gs

    def goroutine(self, goid):
        if self._by_goid is None:
            self._by_goid = {g.goid: g for g in self.goroutines() if g.readable}
        return self._by_goid.get(goid)

    def _read_gtable(self):
        d, mem = self.desc, self.mem
        gt = d.type("g")
        if gt.size == 0 or gt.size > 1 << 20:
            raise GortError("the runtime descriptor", f"it gives g an implausible size {gt.size}")
        dec = gt.decoder(G_FIELDS)
        if not dec.has("goid") or not dec.has("status"):
            raise GortError("the runtime descriptor", "it has no field g.goid or g.status")
        allgs = d.root_ptr("allgs")
        n = d.root_int("allglen")
        self.allglen = n
        if n == 0 or allgs == 0:
            return []
        want = n
        if n > MAX_G:
            self.warnings.append(f"the goroutine table claims {n} entries (corrupt?); "
                                 f"reading the first {MAX_G}")
            want = MAX_G
        ptrs = mem.words(allgs, want, "the goroutine table")
        if len(ptrs) < want:
            self.warnings.append(f"only {len(ptrs)} of the {n} entries of the goroutine table "
                                 f"at {allgs:#x} can be read")
        if n > MAX_G and 0 in ptrs:     # a corrupt length: the table ends at the first NULL
            ptrs = ptrs[:ptrs.index(0)]
            self.warnings.append(f"the table's readable entries end at entry {len(ptrs)}")
        out, bad = [], [0]

        def bad_entry(i, addr, why):
            bad[0] += 1
            if bad[0] <= MAX_BAD:
                g = G(i, addr)
                g.error = f"goroutine table entry {i} (G at {addr:#x}) {why}"
                out.append(g)

        index = {}
        if len(set(ptrs)) == len(ptrs) and 0 not in ptrs and not any(p & 7 for p in ptrs):
            index = {p: i for i, p in enumerate(ptrs)}
        else:
            for i, p in enumerate(ptrs):
                if p == 0 or p % 8:
                    bad_entry(i, p, "is misaligned" if p else "is NULL")
                elif p in index:
                    bad_entry(i, p, "appears twice in the table")
                else:
                    index[p] = i
        free = {self.st.get("dead", -1), self.st.get("idle", -1)} - {-1}
        check = self._checker()
        decoded = G.decoded
        for addrs, data, start in mem.read_runs(index, gt.size):
            if data is None:
                bad_entry(index[start], start, "is not in readable memory")
                continue
            for p, v in zip(addrs, dec.many(data, start, addrs)):
                if v[1] not in free:
                    out.append(check(decoded(index[p], p, v)))
        if bad[0] > MAX_BAD:
            self.warnings.append(f"{bad[0]} bad entries in the goroutine table; the first "
                                 f"{MAX_BAD} are shown")
        return out

    def _checker(self):
        """A function that completes a decoded G (its wait reason, signed
        wait start) and checks it as goinspect does (inspector/snapshot.c)."""
        nstatus = len(self.status_names)
        waiting = self.st.get("waiting", -1)
        running = self.st.get("running", -1)
        reasons = self.desc.enum("waitreason")
        wf = self.desc.type("g").field("waitsince")
        wbits = 8 * wf[1] if wf else 64

        def check(g):
            st = g.status
            if g.waitsince >> (wbits - 1):
                g.waitsince -= 1 << wbits
            if st == waiting:
                g.reason = reasons[g.reason] if g.reason < len(reasons) else ""
            else:
                g.reason = ""
            if st >= nstatus:
                g.error = (f"goroutine table entry {g.index} (G at {g.addr:#x}): status {st} "
                           "is not a goroutine state")
            elif g.stacklo or g.stackhi:
                lo, hi, rsp = g.stacklo, g.stackhi, g.ctx[0]
                if hi <= lo or hi - lo > MAX_STACK_BYTES:
                    g.error = f"its stack bounds [{lo:#x}, {hi:#x}) are invalid"
                elif st != running and not lo <= rsp <= hi:
                    g.error = (f"its saved stack pointer {rsp:#x} is outside its stack "
                               f"[{lo:#x}, {hi:#x})")
            return g
        return check

    # ---- Ms and Ps -----------------------------------------------------

    def ms(self):
        """Every M, following allm and alllink."""
        if self._ms is not None:
            return self._ms
        self._ms = []
        d = self.desc
        if not d.has_root("allm") or not d.has_type("m"):
            return self._ms
        mt = d.type("m")
        dec = mt.decoder(M_FIELDS)
        addr = d.root_ptr("allm")
        seen = set()
        tids = self.threads_by_tid()
        while addr:
            if addr in seen:
                self.warnings.append(f"the list of Ms loops back to the M at {addr:#x}")
                break
            if len(self._ms) == MAX_M:
                self.warnings.append(f"more than {MAX_M} Ms; the rest are not shown")
                break
            seen.add(addr)
            raw = self.mem.try_read(addr, mt.size)
            if raw is None:
                self.warnings.append(f"the M at {addr:#x} cannot be read; the Ms after it are "
                                     "not shown")
                break
            m = M()
            m.addr = addr
            (m.id, m.procid, m.curg, m.p, m.lockedg, m.spinning, m.blocked, nxt, m.stacklo,
             m.stackhi) = dec(raw)
            m.id, m.procid = _signed(m.id), _signed(m.procid)
            m.thread = tids.get(m.procid)
            self._ms.append(m)
            addr = nxt
        return self._ms

    def m_at(self, addr):
        for m in self.ms():
            if m.addr == addr:
                return m
        return None

    def ps(self):
        if self._ps is not None:
            return self._ps
        self._ps = []
        d = self.desc
        if not d.has_root("gomaxprocs") or not d.has_root("allp") or not d.has_type("p"):
            return self._ps
        n = d.root_int("gomaxprocs", signed=True)
        allp = d.root_ptr("allp")
        if not allp:
            return self._ps
        if n < 0 or n > MAX_P:
            self.warnings.append(f"GOMAXPROCS is {n} (corrupt?); no P is shown")
            return self._ps
        pt = d.type("p")
        dec = pt.decoder(P_FIELDS)
        ptrs = self.mem.words(allp, n, "the P array") if n else ()
        for i, addr in enumerate(ptrs):
            raw = self.mem.try_read(addr, pt.size) if addr else None
            if raw is None:
                self.warnings.append(f"P {i} at {addr:#x} cannot be read")
                continue
            p = P()
            p.addr = addr
            (p.id, p.status, p.m, p.runqhead, p.runqtail, p.runnext, p.schedtick,
             p.syscalltick, p.mcache) = dec(raw)
            p.id = _signed(p.id, 4)
            self._ps.append(p)
        return self._ps

    # ---- threads -------------------------------------------------------

    def threads_by_tid(self):
        """{tid: gdb.InferiorThread} of the inferior's threads."""
        if self._threads is None:
            self._threads = {}
            for th in self.mem.inferior.threads():
                tid = th.ptid[1] or th.ptid[2] or th.ptid[0]
                self._threads[tid] = th
        return self._threads

    def thread_of(self, g):
        """The gdb thread of the M running g (status running or syscall), or None."""
        if not g.m:
            return None
        m = self.m_at(g.m)
        return m.thread if m else None

    def thread_regs(self, th):
        """(pc, sp) of a gdb thread's innermost frame, or None."""
        if th.num in self._thread_regs:
            return self._thread_regs[th.num]
        regs = None
        old = gdb.selected_thread()
        try:
            th.switch()
            f = gdb.newest_frame()
            regs = (int(f.read_register("rip")), int(f.read_register("rsp")))
        except gdb.error:
            regs = None
        finally:
            if old is not None and old.is_valid():
                old.switch()
        self._thread_regs[th.num] = regs
        return regs

    def regs_from(self, g):
        """Where g's stack is unwound from: (REGS_*, gdb thread or None).

        As goinspect decides it: a goroutine on a thread whose stack pointer
        is on its stack is unwound from that thread; one that has a stack
        from its saved context; one that never ran is at its start
        function."""
        if g.status == self._waiting and g.stacklo and not g.error:
            return REGS_CTX, None               # the common case, first
        if not g.readable or g.error:
            return REGS_NONE, None
        st = self.st
        if g.stacklo == 0:
            if g.status in (st.get("runnable"), st.get("waiting")):
                return REGS_START, None
            return REGS_NONE, None
        if g.status in (st.get("running"), st.get("syscall")):
            th = self.thread_of(g)
            regs = self.thread_regs(th) if th is not None else None
            if regs and g.stacklo <= regs[1] < g.stackhi:
                return REGS_THREAD, th
        if g.status in (st.get("waiting"), st.get("runnable"), st.get("syscall"),
                        st.get("running")):
            return REGS_CTX, None
        return REGS_NONE, None


# ---- the snapshot kept between commands ----------------------------------

_current = [None]


def invalidate(*_args):
    _current[0] = None


def current():
    """The Runtime of the selected inferior, read once per stop."""
    inf = gdb.selected_inferior()
    rt = _current[0]
    if rt is not None and rt.mem.inferior == inf and inf.is_valid():
        return rt
    rt = Runtime(Memory(inf))
    _current[0] = rt
    return rt


def connect_events():
    ev = gdb.events
    for name in ("cont", "stop", "exited", "new_objfile", "clear_objfiles", "inferior_call",
                 "memory_changed", "register_changed", "new_inferior", "inferior_deleted",
                 "new_thread"):
        reg = getattr(ev, name, None)
        if reg is not None:
            reg.connect(invalidate)
