"""stacks — the pcs of each goroutine's stack, and their names.

A stack is a tuple of (pc, exact) from the innermost frame out: exact is
False for a return address (its line is that of the call, pc - 1).  For a
parked goroutine the walk starts from its saved context and steps with
the CFI of the program's file (cfi.py), reading the stack in one piece;
where that CFI does not apply (a frame in a shared library, a row it does
not handle) the goroutine is walked by gdb's own unwinder instead
(unwinder.py).  A goroutine on a thread is walked by gdb on that thread;
one that never ran is at its start function.

Names come from gdb (gdb.block_for_pc, gdb.find_pc_line), once per pc.
"""
import os
import struct

import gdb

from . import cfi, descriptor, model, unwinder
from .elf import Elf
from .errors import GortError

MAX_FRAMES = 1024
FIRST_READ = 512                # bytes of a stack read at first
_U64 = struct.Struct("<Q")
SYSTEM_DIRS = ("/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/", "/lib32/", "/usr/lib32/")

# Why a walk stopped early (goinspect's words, inspector/unwind.c).
STOP_NO_MODULE = "pc is in no mapped file"
STOP_MEMORY = "read outside the stack"
STOP_NOT_UP = "stack pointer did not move up"
STOP_LIMIT = "too many frames"
STOP_BAD_CFI = "unusable call-frame information"


class Stack:
    __slots__ = ("pcs", "stop")

    def __init__(self, pcs, stop=None):
        self.pcs = tuple(pcs)
        self.stop = stop


class Frame:
    """One named frame: function (None: gdb's ??), file (None), line (0),
    where (without a line: "from LIBRARY" or "(PROGRAM+OFFSET)"), inlined."""

    __slots__ = ("pc", "exact", "function", "file", "line", "where", "inlined")

    def __init__(self, pc, exact, function, file, line, where, inlined):
        self.pc, self.exact, self.function, self.file = pc, exact, function, file
        self.line, self.where, self.inlined = line, where, inlined

    def text(self):
        fn = self.function or "??"
        if self.file:
            return f"{fn} {self.file}:{self.line}"
        return f"{fn} {self.where}"


class _StackMem:
    """A goroutine's stack [sp, hi), read in one piece and extended as
    needed; reads outside [lo, hi) fail."""

    def __init__(self, mem, lo, sp, hi):
        self.mem, self.lo, self.hi = mem, lo, hi
        self.base = sp
        self.data = b""
        self._extend(min(hi, sp + FIRST_READ))

    def _extend(self, end):
        end = min(self.hi, max(end, self.base + 2 * len(self.data)))
        data = self.mem.try_read(self.base, end - self.base)
        if data is None:
            raise _Stop(STOP_MEMORY)
        self.data = data

    def u64(self, addr):
        if addr < self.lo or addr + 8 > self.hi:
            raise _Stop(STOP_MEMORY)
        if addr < self.base:
            more = self.mem.try_read(addr, self.base - addr)
            if more is None:
                raise _Stop(STOP_MEMORY)
            self.data = more + self.data
            self.base = addr
        off = addr - self.base
        if off + 8 > len(self.data):
            self._extend(addr + 8)
        return struct.unpack_from("<Q", self.data, off)[0]


class _Stop(Exception):
    pass


class _UseGdb(Exception):
    pass


def is_system(path):
    return bool(path) and path.startswith(SYSTEM_DIRS)


class Walker:
    """Stacks and names for one Runtime."""

    def __init__(self, rt):
        self.rt = rt
        self._module = None
        self._module_error = None
        self._names = {}
        self._libs = {}
        self._plans = {}
        self.texts = {}                 # a listing's text of each stack
        self._read_memory = rt.mem.inferior.read_memory
        try:
            self._display = gdb.parameter("filename-display")
        except (gdb.error, RuntimeError):
            self._display = "relative"

    def file_name(self, symtab):
        """A source file's name as gdb shows it (set filename-display)."""
        if symtab is None:
            return None
        if self._display == "absolute":
            return symtab.fullname()
        if self._display == "basename":
            return os.path.basename(symtab.filename)
        return symtab.filename

    # ---- the program's CFI ---------------------------------------------

    def module(self):
        """The cfi.Module of the file holding the runtime, or None."""
        if self._module is None and self._module_error is None:
            try:
                self._module = self._load_module()
            except (GortError, OSError, cfi.Unsupported, ValueError, struct.error) as e:
                self._module_error = str(e)
        return self._module

    def _load_module(self):
        d = self.rt.desc
        path = gdb.current_progspace().solib_name(d.addr) or gdb.current_progspace().filename
        if not path:
            raise GortError("the program", "its file is not known to gdb")
        elf = Elf(path)
        try:
            sym = elf.symbol(descriptor.SYMBOL)
        finally:
            elf.close()
        if sym is None:
            raise GortError(path, f"no symbol {descriptor.SYMBOL}")
        return cfi.Module(path, d.addr - sym[0])

    # ---- walking -------------------------------------------------------

    def stack(self, g, full=True):
        """The Stack of goroutine g.  With full False the walk may stop at
        its first frame outside the runtime and the system libraries (all
        that a one-line listing shows)."""
        kind, th = self.rt.regs_from(g)
        if kind == model.REGS_START:
            return Stack([(g.startpc, True)])
        if kind == model.REGS_THREAD:
            with unwinder.thread_frames(th) as f:
                return self._gdb_stack(f, True)
        if kind == model.REGS_CTX:
            try:
                st = self._fast_stack(g, full)
                return st if st is not None else self._cfi_stack(g, full)
            except _UseGdb:
                with unwinder.context_frames(g.goid, g.regs) as f:
                    return self._gdb_stack(f, False)
        return None

    # ---- the common case, fast ------------------------------------------
    #
    # Most frames have CFA = rsp + N or rbp + N, the return address and
    # maybe rbp saved at CFA + offsets: such a walk needs only rsp, rbp and
    # the words of the stack.  A plan per pc says how to step from it; a
    # pc whose row is anything else (or in no file of ours) makes the walk
    # give up (None), and the general walk (_cfi_stack) starts over.

    def _plan(self, pc):
        """(runtime, cfa_is_rsp, cfa_off, ra_off, rbp_off or None, end,
        lowest and highest+8 offset read) for a return address pc, or None."""
        mod = self.module()
        plan = None
        if mod is not None and mod.holds(pc):
            try:
                row = mod.row(pc - 1)
            except cfi.Unsupported:
                row = None
            f = row.fast if row is not None else None
            if f is not None and f[0] in (cfi.RSP, cfi.RBP):
                loads = dict(f[2])
                if f[3] or cfi.RA in loads:
                    ra_off, rbp_off = loads.get(cfi.RA, 0), loads.get(cfi.RBP)
                    offs = [ra_off] + ([rbp_off] if rbp_off is not None else [])
                    plan = (self.rt.in_runtime(pc - 1), f[0] == cfi.RSP, f[1], ra_off,
                            rbp_off, f[3], min(offs), max(offs) + 8)
        self._plans[pc] = plan
        return plan

    def _fast_stack(self, g, full):
        rsp, pc, rbp = g.ctx[0], g.ctx[1], g.ctx[2]
        lo, hi = g.stacklo, g.stackhi
        base = rsp
        try:
            data = self._read_memory(base, FIRST_READ if base + FIRST_READ <= hi
                                     else hi - base).tobytes()
        except (gdb.error, gdb.MemoryError, ValueError, OverflowError):
            return None
        end = base + len(data)
        plans = self._plans
        unpack = _U64.unpack_from
        pcs = []
        while True:
            if pc == 0:
                return Stack(pcs)
            if pc >= 1 << 63 or len(pcs) == MAX_FRAMES:
                return None
            plan = plans.get(pc, 0)
            if plan == 0:
                plan = self._plan(pc)
            if plan is None:
                if not full and self._user_pc(pc):
                    pcs.append((pc, False))
                    return Stack(pcs)
                return None
            pcs.append((pc, False))
            runtime, cfa_rsp, cfa_off, ra_off, rbp_off, last, lo_off, hi_off = plan
            if last or (not full and not runtime):
                return Stack(pcs)
            if cfa_rsp:
                cfa = rsp + cfa_off
            elif rbp is None:
                return None
            else:
                cfa = rbp + cfa_off
            top = cfa + hi_off
            low = cfa + lo_off
            if low < base or top > hi or low < lo:
                return None
            if top > end:
                more = self.rt.mem.try_read(base, min(hi, max(top, base + 2 * len(data))) - base)
                if more is None:
                    return None
                data = more
                end = base + len(data)
            ra = unpack(data, cfa + ra_off - base)[0]
            if rbp_off is not None:
                rbp = unpack(data, cfa + rbp_off - base)[0]
            if cfa <= rsp or cfa > hi:
                return Stack(pcs, STOP_NOT_UP)
            rsp, pc = cfa, ra

    def _user_pc(self, pc):
        """A return address outside the runtime, in a file that is not a
        system library: the frame a listing shows, wherever it is."""
        lib = self.library(pc)
        return lib is not None and not self.rt.in_runtime(pc - 1) and not is_system(lib)

    def _cfi_stack(self, g, full):
        mod = self.module()
        if mod is None:
            raise _UseGdb()
        regs = dict(zip((cfi.RSP, cfi.RA, cfi.RBP, cfi.RBX, cfi.R12, cfi.R13, cfi.R14,
                         cfi.R15), g.ctx))
        rt = self.rt
        pcs = []
        try:
            mem = _StackMem(rt.mem, g.stacklo, regs[cfi.RSP], g.stackhi)
        except _Stop as e:
            return Stack(pcs, str(e))
        while True:
            pc = regs[cfi.RA]
            if pc == 0:
                return Stack(pcs)
            if pc >= 1 << 63:                   # not a user-space address: garbage
                return Stack(pcs, STOP_NO_MODULE)
            if len(pcs) == MAX_FRAMES:
                return Stack(pcs, STOP_LIMIT)
            if not mod.holds(pc):
                if self.library(pc) is None:
                    pcs.append((pc, False))
                    return Stack(pcs, STOP_NO_MODULE)
                if not full and self._user_pc(pc):
                    pcs.append((pc, False))
                    return Stack(pcs)
                raise _UseGdb()
            pcs.append((pc, False))
            if not full and not rt.in_runtime(pc):
                return Stack(pcs)
            try:
                row = mod.row(pc - 1)
                caller = cfi.step(row, regs, mem.u64)
            except cfi.End:
                return Stack(pcs)
            except _Stop as e:
                return Stack(pcs, str(e))
            except cfi.Unsupported:
                raise _UseGdb() from None
            if caller[cfi.RSP] <= regs[cfi.RSP] or caller[cfi.RSP] > g.stackhi:
                return Stack(pcs, STOP_NOT_UP)
            regs = caller

    def _gdb_stack(self, first, exact):
        """The pcs of gdb's frames from first out (inlined ones are the same
        pc as the frame they are in)."""
        pcs = []
        stop = None
        f = first
        while f is not None:
            if f.type() != gdb.INLINE_FRAME:
                if f.pc() == 0:                  # no caller
                    break
                if f.pc() >= 1 << 63:            # not a user-space address: garbage
                    stop = STOP_NO_MODULE
                    break
                pcs.append((f.pc(), exact))
                exact = f.type() == gdb.SIGTRAMP_FRAME
            if len(pcs) == MAX_FRAMES:
                stop = STOP_LIMIT
                break
            try:
                older = f.older()
            except gdb.error as e:
                stop = str(e)
                break
            if older is None:
                reason = f.unwind_stop_reason()
                if reason not in (gdb.FRAME_UNWIND_NO_REASON, gdb.FRAME_UNWIND_OUTERMOST):
                    stop = gdb.frame_stop_reason_string(reason)
            f = older
        return Stack(pcs, stop)

    def frame_holding(self, g, addr):
        """The frame of goroutine g whose extent [sp, caller's sp) holds addr,
        numbered as `goroutine ID bt` numbers it (the outermost of an inline
        chain): (level, "function file:line", sp, cfa); (-1, None, sp, None)
        below its stack pointer; None when its frames cannot be walked."""
        kind, th = self.rt.regs_from(g)
        if kind == model.REGS_THREAD:
            ctx = unwinder.thread_frames(th)
        elif kind == model.REGS_CTX:
            ctx = unwinder.context_frames(g.goid, g.regs)
        else:
            return None
        with ctx as first:
            physical = []
            f = first
            while f is not None and len(physical) < MAX_FRAMES:
                if f.type() != gdb.INLINE_FRAME:
                    physical.append(f)
                try:
                    f = f.older()
                except gdb.error:
                    break
            if not physical:
                return None
            sps = [int(p.read_register("rsp")) for p in physical]
            if addr < sps[0]:
                return (-1, None, sps[0], None)
            for i, p in enumerate(physical):
                hi = sps[i + 1] if i + 1 < len(sps) else g.stackhi
                if sps[i] <= addr < hi:
                    sal = p.find_sal()
                    where = f" {self.file_name(sal.symtab)}:{sal.line}" \
                        if sal.symtab is not None and sal.line else ""
                    return (p.level(), f"{p.name() or '??'}{where}", sps[i], hi)
        return None

    # ---- names ---------------------------------------------------------

    def library(self, pc):
        """The shared object holding pc (its path), "" for the program, or
        None for a pc in no file gdb knows."""
        if pc in self._libs:
            return self._libs[pc]
        ps = gdb.current_progspace()
        lib = ps.solib_name(pc)
        if lib is None:
            mod = self.module()
            if (mod is not None and mod.holds(pc)) or ps.block_for_pc(pc) is not None:
                lib = ""
            else:
                try:
                    out = gdb.execute(f"info symbol {pc:#x}", to_string=True)
                    lib = "" if not out.startswith("No symbol") else None
                except gdb.error:
                    lib = None
        self._libs[pc] = lib
        return lib

    def frames(self, pc, exact):
        """The Frames at one pc, innermost (inlined) first."""
        key = (pc, exact)
        out = self._names.get(key)
        if out is None:
            out = self._name(pc, exact)
            self._names[key] = out
        return out

    def _name(self, pc, exact):
        lpc = pc if exact else max(pc - 1, 0)
        try:
            block = gdb.block_for_pc(lpc)
        except RuntimeError:
            block = None
        funcs = []
        while block is not None and not block.is_global and not block.is_static:
            if block.function is not None:
                funcs.append(block.function)
            block = block.superblock
        sal = gdb.find_pc_line(lpc)
        file = self.file_name(sal.symtab) if sal.line else None
        line = sal.line if file else 0
        where = self._where(pc)
        if not funcs:
            return [Frame(pc, exact, self._minimal_name(lpc), file, line, where, False)]
        out = []
        for i, fn in enumerate(funcs):
            if i == 0:
                out.append(Frame(pc, exact, fn.print_name, file, line, where, len(funcs) > 1))
            else:
                # gdb's Python has no call site line: the file of the caller only
                ffile = self.file_name(fn.symtab)
                out.append(Frame(pc, exact, fn.print_name, ffile, 0, where,
                                 i < len(funcs) - 1))
        return out

    def _where(self, pc):
        lib = self.library(pc)
        if lib:
            return f"from {lib}"
        mod = self.module()
        if mod is not None and mod.holds(pc):
            return f"({os.path.basename(mod.path)}+{pc - mod.bias:#x})"
        return f"({pc:#x})"

    def _minimal_name(self, lpc):
        try:
            out = gdb.execute(f"info symbol {lpc:#x}", to_string=True)
        except gdb.error:
            return None
        if out.startswith("No symbol"):
            return None
        return out.split(" + ")[0].split(" in section ")[0].strip() or None

    # ---- the frames a listing shows ------------------------------------

    def user_frame(self, stack):
        """The first frame outside the runtime and the system libraries;
        else the first outside the runtime; else the innermost (None:
        no frames)."""
        if stack is None or not stack.pcs:
            return None
        outside = None
        for pc, exact in stack.pcs:
            lpc = pc if exact else pc - 1
            if self.rt.in_runtime(lpc):
                continue
            if not is_system(self.library(pc)):
                return self.frames(pc, exact)[0]
            if outside is None:
                outside = (pc, exact)
        if outside is not None:
            return self.frames(*outside)[0]
        return self.frames(*stack.pcs[0])[0]

    def mentions(self, stack, text):
        """Some frame's function or file contains text."""
        if stack is None:
            return False
        for pc, exact in stack.pcs:
            for f in self.frames(pc, exact):
                if (f.function and text in f.function) or (f.file and text in f.file):
                    return True
        return False
