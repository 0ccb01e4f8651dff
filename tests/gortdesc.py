"""gortdesc — a live libgort program's goroutines, read through its runtime
descriptor and nothing else.

Finds `gort_runtime_descriptor` in the executable's ELF symbol table
(.symtab, or .dynsym when stripped), reads /proc/PID/mem, and decodes every
runtime structure by the field names, offsets and sizes the descriptor gives
(docs/metadata.md).  The only layouts written here are the descriptor's own
header and table entries, as documented.  Standard library only.

    python3 tests/gortdesc.py PID     print what the descriptor says
"""
import bisect
import os
import struct
import sys
import time

DESCRIPTOR_SYMBOL = "gort_runtime_descriptor"
MAX_COUNT = 1 << 16        # bound on any count read from the target
MAX_STRING = 256


class DescError(Exception):
    pass


# ---- ELF ------------------------------------------------------------------

SHT_SYMTAB, SHT_DYNSYM = 2, 11
STT_FUNC = 2
ET_EXEC = 2
PT_LOAD = 1


class Elf:
    """The parts of a 64-bit little-endian ELF file this reader needs: its
    type, its PT_LOAD segments and its symbol tables."""

    def __init__(self, path):
        with open(path, "rb") as f:
            data = f.read()
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            raise DescError(f"{path}: not a 64-bit little-endian ELF file")
        (self.type, _machine, _version, _entry, phoff, shoff, _flags, _ehsize, phentsize,
         phnum, shentsize, shnum, shstrndx) = struct.unpack_from("<HHIQQQIHHHHHH", data, 16)
        self.loads = []
        for i in range(phnum):
            p_type, _pf, p_offset, p_vaddr, _pa, _filesz, p_memsz, _align = struct.unpack_from(
                "<IIQQQQQQ", data, phoff + i * phentsize)
            if p_type == PT_LOAD:
                self.loads.append((p_vaddr, p_memsz, p_offset))
        secs = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
                for i in range(shnum)]
        shstr = secs[shstrndx] if shnum else None

        def cstr(off):
            end = data.index(b"\0", off)
            return data[off:end].decode(errors="replace")

        self.sections = {}
        self.symtabs = {}    # ".symtab"/".dynsym" -> {name: (value, size, type)}
        for (name, stype, _fl, addr, offset, size, link, _info, _al, entsize) in secs:
            sname = cstr(shstr[4] + name) if shstr else ""
            self.sections[sname] = (addr, offset, size)
            if stype not in (SHT_SYMTAB, SHT_DYNSYM):
                continue
            strtab_off = secs[link][4]
            syms = {}
            for j in range(size // (entsize or 24)):
                st_name, st_info, _other, st_shndx, st_value, st_size = struct.unpack_from(
                    "<IBBHQQ", data, offset + j * (entsize or 24))
                if st_name and st_shndx:
                    syms.setdefault(cstr(strtab_off + st_name), (st_value, st_size, st_info & 0xf))
            self.symtabs[sname] = syms
        funcs = sorted({(v, s, n) for tab in self.symtabs.values()
                        for n, (v, s, t) in tab.items() if t == STT_FUNC and v})
        self._func_addrs = [f[0] for f in funcs]
        self._funcs = funcs

    def lookup(self, name):
        """(value, table name) of symbol NAME, from .symtab first, else .dynsym."""
        for table in (".symtab", ".dynsym"):
            sym = self.symtabs.get(table, {}).get(name)
            if sym:
                return sym[0], table
        raise DescError(f"symbol {name} not found in .symtab or .dynsym")

    def func_at(self, addr):
        """Name of the function symbol whose [value, value+size) holds ADDR."""
        i = bisect.bisect_right(self._func_addrs, addr) - 1
        if i >= 0:
            value, size, name = self._funcs[i]
            if addr < value + max(size, 1):
                return name
        return None


def load_bias(pid, elf):
    """Where the executable of PID is loaded relative to its link addresses."""
    if elf.type == ET_EXEC:
        return 0
    st = os.stat(f"/proc/{pid}/exe")
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and int(parts[4]) == st.st_ino and int(parts[2], 16) == 0:
                start = int(parts[0].split("-")[0], 16)
                return start - (min(v for v, _, _ in elf.loads) & ~0xfff)
    raise DescError(f"process {pid}: executable not found in /proc/{pid}/maps")


# ---- target memory -------------------------------------------------------

class ProcMem:
    def __init__(self, pid):
        self.pid = pid
        self.fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY)

    def close(self):
        os.close(self.fd)

    def read(self, addr, n):
        try:
            data = os.pread(self.fd, n, addr)
        except OSError as e:
            raise DescError(f"read of {n} bytes at {addr:#x}: {e.strerror}") from None
        if len(data) != n:
            raise DescError(f"short read of {n} bytes at {addr:#x}")
        return data

    def u32(self, addr):
        return struct.unpack("<I", self.read(addr, 4))[0]

    def u64(self, addr):
        return struct.unpack("<Q", self.read(addr, 8))[0]

    def cstring(self, addr):
        if not addr:
            return None
        out = b""
        while len(out) < MAX_STRING:
            chunk = self.read(addr + len(out), 16)
            if b"\0" in chunk:
                return (out + chunk[:chunk.index(b"\0")]).decode(errors="replace")
            out += chunk
        raise DescError(f"unterminated string at {addr:#x}")


# ---- the descriptor -------------------------------------------------------

# Header offsets, as docs/metadata.md fixes them.
HDR_MAGIC, HDR_VERSION, HDR_SIZE, HDR_PTR_SIZE = 0, 8, 12, 16
HDR_NTYPES, HDR_NENUMS, HDR_NROOTS = 20, 24, 28
HDR_TYPES, HDR_ENUMS, HDR_ROOTS, HDR_RUNTIME_VERSION, HDR_GENERATION = 32, 40, 48, 56, 64
HDR_MIN_SIZE = 72
# Table entries: gort_desc_field 16 bytes, gort_desc_type / _enum / _root 24.
FIELD_ENTRY, TYPE_ENTRY, ENUM_ENTRY, ROOT_ENTRY = 16, 24, 24, 24
KNOWN_VERSIONS = (1, 2, 3, 4)   # 2 adds the heap, 3 the allocation profile, 4 the goroutine state table


def _bounded(n, what):
    if n > MAX_COUNT:
        raise DescError(f"descriptor: implausible {what} {n}")
    return n


class Type:
    """A runtime structure: its size and {field name: (offset, size)}."""

    def __init__(self, name, size, fields):
        self.name, self.size, self.fields = name, size, fields

    def has(self, field):
        return field in self.fields

    def decode(self, raw, addr):
        """A Record of every field of one instance read as RAW at ADDR."""
        rec = Record(self.name, addr)
        for fname, (off, size) in self.fields.items():
            b = raw[off:off + size]
            rec[fname] = int.from_bytes(b, "little") if size in (1, 2, 4, 8) else b
        return rec


class Record(dict):
    """Field values of one runtime structure (integers little-endian,
    unsigned; other sizes as bytes)."""

    def __init__(self, type_name, addr):
        super().__init__()
        self.type_name, self.addr = type_name, addr

    def signed(self, field):
        v = self[field]
        return v - (1 << 64) if v >= 1 << 63 else v


class Descriptor:
    def __init__(self, mem, addr):
        self.mem, self.addr = mem, addr
        hdr = mem.read(addr, HDR_MIN_SIZE)
        if hdr[HDR_MAGIC:HDR_MAGIC + 8] != b"GORTDESC":
            raise DescError(f"no runtime descriptor at {addr:#x} (bad magic)")
        u32 = lambda off: struct.unpack_from("<I", hdr, off)[0]   # noqa: E731
        u64 = lambda off: struct.unpack_from("<Q", hdr, off)[0]   # noqa: E731
        self.version = u32(HDR_VERSION)
        if self.version not in KNOWN_VERSIONS:
            raise DescError(f"descriptor version {self.version} unknown to this reader")
        self.size = u32(HDR_SIZE)
        self.ptr_size = u32(HDR_PTR_SIZE)
        if self.size < HDR_MIN_SIZE or self.ptr_size != 8:
            raise DescError(f"descriptor size {self.size} / ptr_size {self.ptr_size} unsupported")
        self.runtime_version = mem.cstring(u64(HDR_RUNTIME_VERSION))

        self.types = {}
        base = u64(HDR_TYPES)
        for i in range(_bounded(u32(HDR_NTYPES), "ntypes")):
            name_p, size, nfields, fields_p = struct.unpack(
                "<QIIQ", mem.read(base + i * TYPE_ENTRY, TYPE_ENTRY))
            raw = mem.read(fields_p, _bounded(nfields, "nfields") * FIELD_ENTRY)
            fields = {}
            for j in range(nfields):
                fname_p, off, fsize = struct.unpack_from("<QII", raw, j * FIELD_ENTRY)
                if off + fsize > size:
                    raise DescError(f"field {j} of type {i} lies outside it")
                fields[mem.cstring(fname_p)] = (off, fsize)
            name = mem.cstring(name_p)
            self.types[name] = Type(name, size, fields)

        self.enums = {}
        base = u64(HDR_ENUMS)
        for i in range(_bounded(u32(HDR_NENUMS), "nenums")):
            name_p, nvalues, _reserved, values_p = struct.unpack(
                "<QIIQ", mem.read(base + i * ENUM_ENTRY, ENUM_ENTRY))
            ptrs = struct.unpack(f"<{nvalues}Q",
                                 mem.read(values_p, _bounded(nvalues, "nvalues") * 8))
            self.enums[mem.cstring(name_p)] = [mem.cstring(p) or "" for p in ptrs]

        self.roots = {}
        base = u64(HDR_ROOTS)
        for i in range(_bounded(u32(HDR_NROOTS), "nroots")):
            name_p, raddr, rsize = struct.unpack("<QQQ", mem.read(base + i * ROOT_ENTRY,
                                                                 ROOT_ENTRY))
            self.roots[mem.cstring(name_p)] = (raddr, rsize)

    def generation(self):
        return self.mem.u64(self.addr + HDR_GENERATION)

    def root(self, name):
        if name not in self.roots:
            raise DescError(f"descriptor has no root {name!r}")
        return self.roots[name]

    def read_root_int(self, name, signed=False):
        addr, size = self.root(name)
        return int.from_bytes(self.mem.read(addr, size), "little", signed=signed)

    def text_range(self):
        """[lo, hi) of the runtime's code (roots text_start, text_end)."""
        return self.root("text_start")[0], self.root("text_end")[0]

    def read(self, type_name, addr):
        t = self.types[type_name]
        return t.decode(self.mem.read(addr, t.size), addr)

    def enum_name(self, enum, value):
        names = self.enums.get(enum, [])
        return names[value] if value < len(names) else f"?{value}"


# ---- the runtime's state ---------------------------------------------------

class Runtime:
    """The runtime of a live process, read without stopping it."""

    def __init__(self, pid, exe=None):
        self.pid = pid
        self.exe = exe or f"/proc/{pid}/exe"
        self.elf = Elf(self.exe)
        self.symaddr, self.symtable = self.elf.lookup(DESCRIPTOR_SYMBOL)
        self.bias = load_bias(pid, self.elf)
        self.mem = ProcMem(pid)
        self.desc = Descriptor(self.mem, self.symaddr + self.bias)

    def close(self):
        self.mem.close()

    def func_at(self, addr):
        """Function symbol holding the runtime address ADDR, or None."""
        return self.elf.func_at(addr - self.bias) if addr else None

    def goroutines(self, include_free=False, include_system=False, tries=100):
        """The goroutines in the all-G table, decoded, with "status_name" and
        "reason_name" added: live ones (not dead or idle) unless include_free,
        the program's own (not the runtime's, flagged by field "system" where
        the runtime has it) unless include_system.  Retries while the table
        changes under the read."""
        d = self.desc
        for _ in range(tries):
            gen = d.generation()
            if gen & 1:
                time.sleep(0.001)
                continue
            allgs = d.mem.u64(d.root("allgs")[0])
            n = _bounded(d.mem.u64(d.root("allglen")[0]), "allglen")
            ptrs = struct.unpack(f"<{n}Q", d.mem.read(allgs, 8 * n)) if n else ()
            gs = [d.read("g", p) for p in ptrs]
            if d.generation() == gen:
                break
        else:
            raise DescError("all-G table kept changing under the read")
        out = []
        for g in gs:
            g["status_name"] = d.enum_name("gstatus", g["status"])
            g["reason_name"] = (d.enum_name("waitreason", g["waitreason"])
                                if g["status_name"] == "waiting" else "")
            if not include_free and g["status_name"] in ("dead", "idle"):
                continue
            if not include_system and g.get("system"):
                continue
            out.append(g)
        return out

    def ms(self):
        """Every m, following allm and alllink."""
        out, seen = [], set()
        addr = self.mem.u64(self.desc.root("allm")[0])
        while addr and addr not in seen and len(out) < MAX_COUNT:
            seen.add(addr)
            m = self.desc.read("m", addr)
            out.append(m)
            addr = m["alllink"]
        return out

    def ps(self):
        n = self.desc.read_root_int("gomaxprocs", signed=True)
        allp = self.mem.u64(self.desc.root("allp")[0])
        ptrs = struct.unpack(f"<{n}Q", self.mem.read(allp, 8 * _bounded(n, "gomaxprocs")))
        out = []
        for p in ptrs:
            rec = self.desc.read("p", p)
            rec["status_name"] = self.desc.enum_name("pstatus", rec["status"])
            out.append(rec)
        return out

    def sched(self):
        return self.desc.read("sched", self.desc.root("sched")[0])

    def runq(self, p):
        """g addresses queued on P's local ring, oldest first (runnext not included)."""
        ring = p["runq"]
        length = len(ring) // 8
        head, tail = p["runqhead"], p["runqtail"]
        n = (tail - head) & 0xffffffff
        if n > length:
            raise DescError(f"p {p['id']}: run queue of {n} entries in a ring of {length}")
        return [struct.unpack_from("<Q", ring, 8 * ((head + i) % length))[0] for i in range(n)]

    def global_runq(self):
        out, seen = [], set()
        g = self.sched()["runq.head"]
        while g and g not in seen and len(out) < MAX_COUNT:
            seen.add(g)
            out.append(g)
            g = self.desc.read("g", g)["schedlink"]
        return out


# ---- the report `make demo` shows ----------------------------------------

def _thread_name(pid, tid):
    try:
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def report(pid, out=sys.stdout):
    rt = Runtime(pid)
    d = rt.desc
    w = out.write
    now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    gs = rt.goroutines()
    ms = rt.ms()
    ps = rt.ps()
    by_addr = {g.addr: g for g in rt.goroutines(include_free=True, include_system=True)}
    nsystem = len(rt.goroutines(include_system=True)) - len(gs)
    p_ids = {p.addr: p["id"] for p in ps}

    w(f"process {pid}: {os.readlink(f'/proc/{pid}/exe')}\n")
    w(f"  descriptor   {DESCRIPTOR_SYMBOL} at {d.addr:#x} (from {rt.symtable}), "
      f"version {d.version}, generation {d.generation()}\n")
    w(f"  runtime      {d.runtime_version}\n")
    w(f"  GOMAXPROCS   {d.read_root_int('gomaxprocs', signed=True)}\n")
    w(f"  stack size   {d.read_root_int('stack_size') // 1024} KiB per goroutine\n")
    w(f"  threads (M)  {len(ms)}\n")
    for m in ms:
        g = by_addr.get(m["curg"])
        what = f"goroutine {g['goid']} ({g['status_name']})" if g else "idle"
        p = f"p{p_ids[m['p']]}" if m["p"] in p_ids else "no p"
        lk = by_addr.get(m["lockedg"])
        locked = f", locked to goroutine {lk['goid']}" if lk else ""
        w(f"    m{m['id']:<3} tid {m['procid']:<8} {_thread_name(pid, m['procid']):<14} "
          f"{p:<5} {what}{locked}\n")
    counts = {}
    reasons = {}
    for g in gs:
        counts[g["status_name"]] = counts.get(g["status_name"], 0) + 1
        if g["reason_name"]:
            reasons[g["reason_name"]] = reasons.get(g["reason_name"], 0) + 1
    w(f"  goroutines   {len(gs)}: " +
      ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) +
      (f" (and {nsystem} of the runtime's own, not listed)" if nsystem else "") + "\n")
    for r, n in sorted(reasons.items()):
        w(f"    {r + ':':<24} {n}\n")
    w("\n")
    w(f"  {'GOID':>5}  {'STATUS':<9} {'WAIT REASON':<24} {'FOR':>7}  "
      f"{'START FUNCTION':<24} CREATED BY\n")
    for g in sorted(gs, key=lambda g: g["goid"]):
        waited = ""
        if g["status_name"] == "waiting":
            waited = f"{(now - g.signed('waitsince')) / 1e9:.1f}s"
        start = rt.func_at(g["startpc"]) or f"{g['startpc']:#x}"
        if g["goid"] == 1:
            created = "-"
        else:
            creator = rt.func_at(g["gopc"] - 1) or f"{g['gopc']:#x}"
            created = f"{creator} in goroutine {g['parentgoid']}"
        w(f"  {g['goid']:>5}  {g['status_name']:<9} {g['reason_name']:<24} {waited:>7}  "
          f"{start:<24} {created}\n")
    rt.close()


def main(argv):
    if len(argv) != 2 or not argv[1].isdigit():
        sys.stderr.write("usage: gortdesc.py PID\n")
        return 2
    try:
        report(int(argv[1]))
    except (DescError, OSError) as e:
        sys.stderr.write(f"gortdesc: process {argv[1]}: {e}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
