"""cfi — call-frame information (.eh_frame, .debug_frame) of one ELF file,
and the unwinding step it describes, for walking many goroutine stacks
quickly.

gdb's own unwinder walks a stack one gdb.Frame at a time, which costs far
too much for `info goroutines` over 100,000 goroutines.  This module
computes the unwinding row of each distinct pc once (CFA rule and register
rules, DWARF 5 section 6.4) and steps a stack with a few dictionary
lookups.  Anything it does not handle raises Unsupported, and the caller
walks that stack with gdb's unwinder instead: the answer is never a guess.
"""
import bisect
import struct

from .elf import Elf

# DWARF register numbers of x86-64 (System V psABI, figure 3.36).
RAX, RDX, RCX, RBX, RSI, RDI, RBP, RSP = 0, 1, 2, 3, 4, 5, 6, 7
R12, R13, R14, R15, RA = 12, 13, 14, 15, 16
CALLEE_SAVED = (RBX, RBP, R12, R13, R14, R15)
NAMES = {RBX: "rbx", RBP: "rbp", RSP: "rsp", R12: "r12", R13: "r13", R14: "r14", R15: "r15",
         RA: "rip"}
MAX_EXPR_STEPS = 4096


class Unsupported(Exception):
    """This pc's unwinding is not something this module does."""


class End(Exception):
    """The outermost frame: its return address is undefined."""


# ---- encodings -------------------------------------------------------------

def uleb(data, off):
    v = shift = 0
    while True:
        b = data[off]
        off += 1
        v |= (b & 0x7f) << shift
        shift += 7
        if b < 0x80:
            return v, off


def sleb(data, off):
    v = shift = 0
    while True:
        b = data[off]
        off += 1
        v |= (b & 0x7f) << shift
        shift += 7
        if b < 0x80:
            if b & 0x40:
                v -= 1 << shift
            return v, off


_FIXED = {0x02: "<H", 0x03: "<I", 0x04: "<Q", 0x0a: "<h", 0x0b: "<i", 0x0c: "<q"}


def read_encoded(data, off, enc, field_addr, ignore_app=False):
    """A pointer encoded with DW_EH_PE enc at data[off]; returns (value, off)."""
    if enc == 0xff:
        return 0, off
    fmt = enc & 0x0f
    if fmt == 0x00:
        v, off = struct.unpack_from("<Q", data, off)[0], off + 8
    elif fmt == 0x01:
        v, off = uleb(data, off)
    elif fmt == 0x09:
        v, off = sleb(data, off)
    elif fmt in _FIXED:
        size = struct.calcsize(_FIXED[fmt])
        v, off = struct.unpack_from(_FIXED[fmt], data, off)[0], off + size
    else:
        raise Unsupported(f"pointer encoding {enc:#x}")
    app = enc & 0x70
    if not ignore_app:
        if app == 0x10:
            v += field_addr
        elif app not in (0x00,):
            raise Unsupported(f"pointer application {app:#x}")
        if enc & 0x80:
            raise Unsupported("indirect pointer encoding")
    return v & 0xffffffffffffffff, off


# ---- CIEs and FDEs ---------------------------------------------------------

class Cie:
    __slots__ = ("code_align", "data_align", "ra_reg", "fde_enc", "has_aug", "signal",
                 "insns")


class Fde:
    __slots__ = ("start", "end", "cie", "insns")


class Table:
    """The FDEs of one CFI section, sorted by start address."""

    def __init__(self, data, sec_addr, eh):
        self.data, self.sec_addr, self.eh = data, sec_addr, eh
        self.cies = {}
        fdes = []
        off = 0
        while off + 4 <= len(data):
            length = struct.unpack_from("<I", data, off)[0]
            hdr = off + 4
            if length == 0:
                if eh:
                    break           # the terminator
                off = hdr
                continue
            if length == 0xffffffff:
                length = struct.unpack_from("<Q", data, hdr)[0]
                hdr += 8
                idsize = 8
            else:
                idsize = 4
            end = hdr + length
            if end > len(data):
                break
            cie_id = int.from_bytes(data[hdr:hdr + idsize], "little")
            is_cie = cie_id == 0 if eh else cie_id in (0xffffffff, 0xffffffffffffffff)
            if not is_cie:
                cie_off = hdr - cie_id if eh else cie_id
                try:
                    fdes.append(self._fde(hdr + idsize, end, cie_off))
                except (Unsupported, IndexError, struct.error):
                    pass
            off = end
        fdes.sort(key=lambda f: f.start)
        self.fdes = fdes
        self.starts = [f.start for f in fdes]

    def _cie(self, off):
        c = self.cies.get(off)
        if c is not None:
            return c
        data = self.data
        length = struct.unpack_from("<I", data, off)[0]
        hdr = off + 4
        idsize = 4
        if length == 0xffffffff:
            length = struct.unpack_from("<Q", data, hdr)[0]
            hdr += 8
            idsize = 8
        end = hdr + length
        p = hdr + idsize
        version = data[p]
        p += 1
        aug_end = data.index(b"\0", p)
        aug = data[p:aug_end].decode("ascii", "replace")
        p = aug_end + 1
        if not self.eh and version >= 4:
            p += 2                  # address_size, segment_selector_size
        c = Cie()
        c.code_align, p = uleb(data, p)
        c.data_align, p = sleb(data, p)
        if version == 1:
            c.ra_reg, p = data[p], p + 1
        else:
            c.ra_reg, p = uleb(data, p)
        c.fde_enc = 0x00
        c.has_aug = aug.startswith("z")
        c.signal = "S" in aug
        if c.has_aug:
            alen, p = uleb(data, p)
            q = p
            for ch in aug[1:]:
                if ch == "R":
                    c.fde_enc, q = data[q], q + 1
                elif ch == "L":
                    q += 1
                elif ch == "P":
                    enc = data[q]
                    _v, q = read_encoded(data, q + 1, enc, self.sec_addr + q + 1,
                                         ignore_app=True)
                elif ch in "SB":
                    pass
                else:
                    raise Unsupported(f"CIE augmentation {aug!r}")
            p += alen
        elif aug not in ("",):
            raise Unsupported(f"CIE augmentation {aug!r}")
        c.insns = data[p:end]
        self.cies[off] = c
        return c

    def _fde(self, p, end, cie_off):
        c = self._cie(cie_off)
        data = self.data
        f = Fde()
        f.cie = c
        f.start, p = read_encoded(data, p, c.fde_enc, self.sec_addr + p)
        size, p = read_encoded(data, p, c.fde_enc & 0x0f, 0, ignore_app=True)
        f.end = f.start + size
        if c.has_aug:
            alen, p = uleb(data, p)
            p += alen
        f.insns = data[p:end]
        return f

    def find(self, pc):
        i = bisect.bisect_right(self.starts, pc) - 1
        if i >= 0 and self.fdes[i].start <= pc < self.fdes[i].end:
            return self.fdes[i]
        return None


# ---- rows ------------------------------------------------------------------

class Row:
    """How to find the caller's registers at one pc."""

    __slots__ = ("cfa", "rules", "signal", "fast")

    def __init__(self):
        self.cfa = None             # ("reg", reg, offset) or ("expr", bytes)
        self.rules = {}             # reg -> ("off", n) | ("val_off", n) | ("reg", r) |
        #                                    ("same",) | ("undef",) | ("expr", b) | ("val_expr", b)
        self.signal = False
        self.fast = None


def _execute(insns, cie, row, loc, pc, initial=None):
    """Runs CFA instructions from loc until the row for pc; returns the row."""
    data = insns
    p = 0
    stack = []
    ca, da = cie.code_align, cie.data_align
    while p < len(data):
        op = data[p]
        p += 1
        hi, lo = op & 0xc0, op & 0x3f
        if hi == 0x40:
            loc += lo * ca
            if loc > pc:
                return row
            continue
        if hi == 0x80:
            off, p = uleb(data, p)
            row.rules[lo] = ("off", off * da)
            continue
        if hi == 0xc0:
            _restore(row, lo, initial)
            continue
        if op == 0x00:
            continue
        if op == 0x01:
            raise Unsupported("DW_CFA_set_loc")
        if op in (0x02, 0x03, 0x04):
            size = {0x02: 1, 0x03: 2, 0x04: 4}[op]
            delta = int.from_bytes(data[p:p + size], "little")
            p += size
            loc += delta * ca
            if loc > pc:
                return row
        elif op == 0x05:
            reg, p = uleb(data, p)
            off, p = uleb(data, p)
            row.rules[reg] = ("off", off * da)
        elif op == 0x06:
            reg, p = uleb(data, p)
            _restore(row, reg, initial)
        elif op == 0x07:
            reg, p = uleb(data, p)
            row.rules[reg] = ("undef",)
        elif op == 0x08:
            reg, p = uleb(data, p)
            row.rules[reg] = ("same",)
        elif op == 0x09:
            reg, p = uleb(data, p)
            reg2, p = uleb(data, p)
            row.rules[reg] = ("reg", reg2)
        elif op == 0x0a:
            stack.append((row.cfa, dict(row.rules)))
        elif op == 0x0b:
            if not stack:
                raise Unsupported("DW_CFA_restore_state without a saved state")
            row.cfa, row.rules = stack.pop()
        elif op == 0x0c:
            reg, p = uleb(data, p)
            off, p = uleb(data, p)
            row.cfa = ("reg", reg, off)
        elif op == 0x0d:
            reg, p = uleb(data, p)
            if not row.cfa or row.cfa[0] != "reg":
                raise Unsupported("DW_CFA_def_cfa_register without a register rule")
            row.cfa = ("reg", reg, row.cfa[2])
        elif op == 0x0e:
            off, p = uleb(data, p)
            if not row.cfa or row.cfa[0] != "reg":
                raise Unsupported("DW_CFA_def_cfa_offset without a register rule")
            row.cfa = ("reg", row.cfa[1], off)
        elif op == 0x0f:
            n, p = uleb(data, p)
            row.cfa = ("expr", data[p:p + n])
            p += n
        elif op in (0x10, 0x16):
            reg, p = uleb(data, p)
            n, p = uleb(data, p)
            row.rules[reg] = ("expr" if op == 0x10 else "val_expr", data[p:p + n])
            p += n
        elif op == 0x11:
            reg, p = uleb(data, p)
            off, p = sleb(data, p)
            row.rules[reg] = ("off", off * da)
        elif op == 0x12:
            reg, p = uleb(data, p)
            off, p = sleb(data, p)
            row.cfa = ("reg", reg, off * da)
        elif op == 0x13:
            off, p = sleb(data, p)
            if not row.cfa or row.cfa[0] != "reg":
                raise Unsupported("DW_CFA_def_cfa_offset_sf without a register rule")
            row.cfa = ("reg", row.cfa[1], off * da)
        elif op in (0x14, 0x15):
            reg, p = uleb(data, p)
            off, p = (uleb if op == 0x14 else sleb)(data, p)
            row.rules[reg] = ("val_off", off * da)
        elif op == 0x2e:
            _n, p = uleb(data, p)
        elif op == 0x2f:
            reg, p = uleb(data, p)
            off, p = uleb(data, p)
            row.rules[reg] = ("off", -off * da)
        else:
            raise Unsupported(f"CFA instruction {op:#x}")
    return row


def _restore(row, reg, initial):
    if initial is not None and reg in initial.rules:
        row.rules[reg] = initial.rules[reg]
    else:
        row.rules.pop(reg, None)


def row_at(fde, pc):
    cie = fde.cie
    init = _execute(cie.insns, cie, Row(), fde.start, 1 << 64)
    row = Row()
    row.cfa, row.rules = init.cfa, dict(init.rules)
    _execute(fde.insns, cie, row, fde.start, pc, initial=init)
    row.signal = cie.signal
    if row.cfa is None:
        raise Unsupported("no CFA rule")
    ra = row.rules.get(cie.ra_reg)
    if cie.ra_reg != RA:
        raise Unsupported(f"return address in register {cie.ra_reg}")
    row.fast = _fast(row, ra)
    return row


def _fast(row, ra):
    """(cfa_reg, cfa_off, ((reg, off)...), ra_undefined) when the row has
    the common shape (CFA = register + offset, registers saved at CFA +
    offset or unchanged), else None."""
    if row.cfa[0] != "reg" or row.signal:
        return None
    loads = []
    undefined_ra = False
    for reg, rule in row.rules.items():
        if rule[0] == "off" and reg != RSP:
            loads.append((reg, rule[1]))
        elif rule[0] == "undef" and reg == RA:
            undefined_ra = True
        elif rule[0] == "same" and reg != RSP:
            continue
        else:
            return None
    if ra is None and not undefined_ra:
        return None
    return row.cfa[1], row.cfa[2], tuple(loads), undefined_ra


# ---- DWARF expressions (the few a CFI rule uses) ---------------------------

def evaluate(expr, regs, read_u64, initial=()):
    stack = list(initial)
    p = 0
    steps = 0
    mask = 0xffffffffffffffff
    while p < len(expr):
        steps += 1
        if steps > MAX_EXPR_STEPS:
            raise Unsupported("DWARF expression too long")
        op = expr[p]
        p += 1
        if 0x30 <= op <= 0x4f:                      # DW_OP_lit0..31
            stack.append(op - 0x30)
        elif 0x70 <= op <= 0x8f:                    # DW_OP_breg0..31
            off, p = sleb(expr, p)
            reg = op - 0x70
            if reg not in regs:
                raise Unsupported(f"register {reg} unknown")
            stack.append((regs[reg] + off) & mask)
        elif op == 0x92:                            # DW_OP_bregx
            reg, p = uleb(expr, p)
            off, p = sleb(expr, p)
            if reg not in regs:
                raise Unsupported(f"register {reg} unknown")
            stack.append((regs[reg] + off) & mask)
        elif op in (0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f):
            fmt = {0x08: "<B", 0x09: "<b", 0x0a: "<H", 0x0b: "<h", 0x0c: "<I", 0x0d: "<i",
                   0x0e: "<Q", 0x0f: "<q"}[op]
            stack.append(struct.unpack_from(fmt, expr, p)[0] & mask)
            p += struct.calcsize(fmt)
        elif op == 0x10:
            v, p = uleb(expr, p)
            stack.append(v & mask)
        elif op == 0x11:
            v, p = sleb(expr, p)
            stack.append(v & mask)
        elif op == 0x12:
            stack.append(stack[-1])
        elif op == 0x13:
            stack.pop()
        elif op == 0x14:
            stack.append(stack[-2])
        elif op == 0x16:
            stack[-1], stack[-2] = stack[-2], stack[-1]
        elif op == 0x06:
            stack.append(read_u64(stack.pop()))
        elif op == 0x23:
            v, p = uleb(expr, p)
            stack.append((stack.pop() + v) & mask)
        elif op in (0x1a, 0x1c, 0x1e, 0x21, 0x22, 0x24, 0x25, 0x27, 0x29, 0x2a, 0x2b, 0x2c,
                    0x2d, 0x2e):
            b, a = stack.pop(), stack.pop()
            sa = a - (1 << 64) if a >> 63 else a
            sb = b - (1 << 64) if b >> 63 else b
            r = {0x1a: lambda: a & b, 0x1c: lambda: a - b, 0x1e: lambda: a * b,
                 0x21: lambda: a | b, 0x22: lambda: a + b, 0x24: lambda: a << (b & 63),
                 0x25: lambda: a >> (b & 63), 0x27: lambda: a ^ b,
                 0x29: lambda: int(a == b), 0x2a: lambda: int(sa >= sb),
                 0x2b: lambda: int(sa > sb), 0x2c: lambda: int(sa <= sb),
                 0x2d: lambda: int(sa < sb), 0x2e: lambda: int(a != b)}[op]()
            stack.append(r & mask)
        else:
            raise Unsupported(f"DWARF operation {op:#x}")
    if not stack:
        raise Unsupported("empty DWARF expression")
    return stack[-1]


# ---- one module's unwinding ------------------------------------------------

class Module:
    """The CFI of one ELF file loaded at bias; steps frames whose pc it holds."""

    def __init__(self, path, bias):
        self.path, self.bias = path, bias
        elf = Elf(path)
        try:
            self.ranges = [(s.vaddr + bias, s.vaddr + s.memsz + bias) for s in elf.segments
                           if s.type == 1 and s.flags & 1]
            self.tables = []
            for name, eh in ((".eh_frame", True), (".debug_frame", False)):
                sec = elf.section(name)
                if sec and sec.size:
                    self.tables.append(Table(elf.section_data(sec), sec.addr, eh))
        finally:
            elf.close()
        self.rows = {}

    def holds(self, pc):
        return any(lo <= pc < hi for lo, hi in self.ranges)

    def row(self, lpc):
        """The row for lookup pc lpc (a runtime address), cached."""
        r = self.rows.get(lpc)
        if r is None:
            r = self._row(lpc - self.bias)
            self.rows[lpc] = r
        if isinstance(r, Exception):
            raise r
        return r

    def _row(self, link):
        for t in self.tables:
            fde = t.find(link)
            if fde is not None:
                try:
                    return row_at(fde, link)
                except (Unsupported, IndexError, struct.error, ValueError) as e:
                    return Unsupported(str(e))
        return Unsupported(f"no CFI for {link:#x} in {self.path}")


def step(row, regs, read_u64):
    """The caller's registers (a new dict) from regs at a frame of row.
    Raises End at the outermost frame, Unsupported when the row needs
    what is not known."""
    f = row.fast
    if f is not None:
        cfa_reg, cfa_off, loads, ra_undefined = f
        base = regs.get(cfa_reg)
        if base is None:
            raise Unsupported("the CFA register is not known")
        cfa = (base + cfa_off) & 0xffffffffffffffff
        out = {r: regs[r] for r in CALLEE_SAVED if r in regs}
        for reg, off in loads:
            out[reg] = read_u64(cfa + off)
        if ra_undefined:
            raise End()
        out[RSP] = cfa
        if RA not in out:
            raise Unsupported("no return address")
        return out
    return _step_general(row, regs, read_u64)


def _step_general(row, regs, read_u64):
    if row.cfa[0] == "reg":
        if row.cfa[1] not in regs:
            raise Unsupported("the CFA register is not known")
        cfa = (regs[row.cfa[1]] + row.cfa[2]) & 0xffffffffffffffff
    else:
        cfa = evaluate(row.cfa[1], regs, read_u64)
    out = {r: regs[r] for r in CALLEE_SAVED if r in regs}
    out.pop(RSP, None)
    for reg, rule in row.rules.items():
        kind = rule[0]
        if kind == "off":
            out[reg] = read_u64(cfa + rule[1])
        elif kind == "val_off":
            out[reg] = (cfa + rule[1]) & 0xffffffffffffffff
        elif kind == "reg":
            if rule[1] not in regs:
                raise Unsupported(f"register {rule[1]} unknown")
            out[reg] = regs[rule[1]]
        elif kind == "same":
            if reg in regs:
                out[reg] = regs[reg]
        elif kind == "undef":
            if reg == RA:
                raise End()
            out.pop(reg, None)
        elif kind == "expr":
            out[reg] = read_u64(evaluate(rule[1], regs, read_u64, (cfa,)))
        elif kind == "val_expr":
            out[reg] = evaluate(rule[1], regs, read_u64, (cfa,))
    out[RSP] = cfa
    if RA not in out:
        raise Unsupported("no return address")
    return out
