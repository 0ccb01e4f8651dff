"""descriptor — the runtime descriptor (docs/metadata.md), decoded.

The runtime describes its own structures: for each type ("g", "m", "p",
"span", ...) its size and every field's offset and size by name; the
names of its enumerations; the addresses of its roots.  Everything the
extension reads from the runtime goes through this, so a runtime that
moves or adds fields keeps working.  The header offsets and the table
entries' layouts are the contract's; every count read from the target is
bounded, as goinspect's reader (inspector/rtdesc.c) bounds them.
"""
import operator
import struct

import gdb

from .errors import GortError

SYMBOL = "gort_runtime_descriptor"

# Header offsets, fixed by the contract for every version.
HDR_MAGIC, HDR_VERSION, HDR_SIZE, HDR_PTR_SIZE = 0, 8, 12, 16
HDR_NTYPES, HDR_NENUMS, HDR_NROOTS = 20, 24, 28
HDR_TYPES, HDR_ENUMS, HDR_ROOTS, HDR_RUNTIME_VERSION, HDR_GENERATION = 32, 40, 48, 56, 64
HDR_MIN, HDR_MAX = 72, 4096
FIELD_ENTRY, TYPE_ENTRY, ENUM_ENTRY, ROOT_ENTRY = 16, 24, 24, 24
MAX_TYPES, MAX_FIELDS, MAX_ENUMS, MAX_VALUES, MAX_ROOTS = 64, 1024, 64, 4096, 512
VERSIONS = (1, 2, 3, 4)     # 2 adds the heap, 3 the allocation profile, 4 the goroutine state table

_INT_CODES = {1: "B", 2: "H", 4: "I", 8: "Q"}


class Type:
    """A runtime structure: its size and {field name: (offset, size)}."""

    def __init__(self, name, size, fields):
        self.name, self.size, self.fields = name, size, fields

    def field(self, name):
        """(offset, size) of an integer field that fits in the structure,
        or None: a field this runtime does not have."""
        f = self.fields.get(name)
        if f is None or f[1] not in _INT_CODES or f[0] + f[1] > self.size:
            return None
        return f

    def raw_field(self, name):
        """(offset, size) of any field inside the structure, or None."""
        f = self.fields.get(name)
        return f if f is not None and f[0] + f[1] <= self.size else None

    def decoder(self, names):
        return Decoder(self, names)


class Decoder:
    """Decodes the named integer fields of one structure from its bytes in
    one struct.unpack_from; a field the runtime does not have reads 0.

        dec = desc.type("g").decoder(["goid", "status"])
        goid, status = dec(buf, offset)
    """

    def __init__(self, ty, names):
        self.names = list(names)
        self.present = {n for n in self.names if ty.field(n)}
        fields = sorted((ty.field(n)[0], ty.field(n)[1], n) for n in self.present)
        fmt, pos, order = "<", 0, []
        for off, size, n in fields:
            if off < pos:               # overlapping fields: decoded one by one
                fmt = None
                break
            fmt += f"{off - pos}x" if off > pos else ""
            fmt += _INT_CODES[size]
            pos = off + size
            order.append(n)
        self.size = ty.size
        if fmt is None:
            self._singles = [(ty.field(n), n) for n in self.names]
            self._struct = None
            return
        self._struct = struct.Struct(fmt)
        self._whole = struct.Struct(fmt + (f"{ty.size - pos}x" if ty.size > pos else ""))
        index = {n: i for i, n in enumerate(order)}
        missing = len(order)
        perm = [index.get(n, missing) for n in self.names]
        self._pad = (0,) if missing in perm else ()
        if len(perm) > 1:
            self._pick = operator.itemgetter(*perm)
        else:
            self._pick = lambda v: tuple(v[i] for i in perm)

    def has(self, name):
        return name in self.present

    def __call__(self, buf, off=0):
        if self._struct is None:
            return tuple(int.from_bytes(buf[off + f[0]:off + f[0] + f[1]], "little") if f else 0
                         for f, _n in self._singles)
        v = self._struct.unpack_from(buf, off)
        return self._pick(v + self._pad if self._pad else v)

    def many(self, data, start, addrs):
        """The decoded values of the structures at addrs (sorted), all in
        data, which was read at start: structures laid end to end (a slab)
        are decoded in one pass."""
        size, out, n, k = self.size, [], len(addrs), 0
        pick, pad = self._pick, self._pad
        while k < n:
            j = k + 1
            while j < n and addrs[j] == addrs[j - 1] + size:
                j += 1
            off = addrs[k] - start
            if j - k > 1 and self._struct is not None:
                rows = self._whole.iter_unpack(data[off:off + (j - k) * size])
                out.extend(map(pick, (v + pad for v in rows)) if pad else map(pick, rows))
            else:
                out.extend(self(data, a - start) for a in addrs[k:j])
            k = j
        return out


class Descriptor:
    """The descriptor at addr, read through mem (a memory.Memory)."""

    def __init__(self, mem, addr):
        self.mem, self.addr = mem, addr
        hdr = mem.try_read(addr, HDR_MIN)
        if hdr is None:
            raise GortError("the runtime descriptor", f"{addr:#x} cannot be read")
        if hdr[HDR_MAGIC:HDR_MAGIC + 8] != b"GORTDESC":
            raise GortError("the runtime descriptor", f"bad magic number at {addr:#x}")
        u32 = lambda off: struct.unpack_from("<I", hdr, off)[0]     # noqa: E731
        u64 = lambda off: struct.unpack_from("<Q", hdr, off)[0]     # noqa: E731
        self.version = u32(HDR_VERSION)
        self.size = u32(HDR_SIZE)
        self.ptr_size = u32(HDR_PTR_SIZE)
        if self.version not in VERSIONS:
            raise GortError("the runtime descriptor",
                            f"version {self.version} is not one this extension reads "
                            f"({VERSIONS[0]} to {VERSIONS[-1]})")
        if self.size < HDR_MIN or self.size > HDR_MAX or self.ptr_size != 8:
            raise GortError("the runtime descriptor", f"implausible header (size {self.size}, "
                            f"pointer size {self.ptr_size})")
        ntypes, nenums, nroots = u32(HDR_NTYPES), u32(HDR_NENUMS), u32(HDR_NROOTS)
        if ntypes > MAX_TYPES or nenums > MAX_ENUMS or nroots > MAX_ROOTS:
            raise GortError("the runtime descriptor", f"implausible counts ({ntypes} types, "
                            f"{nenums} enums, {nroots} roots)")
        self.generation_addr = addr + HDR_GENERATION
        self.runtime_version = mem.cstring(u64(HDR_RUNTIME_VERSION), "the runtime descriptor")
        self.types = self._read_types(u64(HDR_TYPES), ntypes)
        self.enums = self._read_enums(u64(HDR_ENUMS), nenums)
        self.roots = self._read_roots(u64(HDR_ROOTS), nroots)

    def _table(self, addr, n, entry, what):
        data = self.mem.try_read(addr, n * entry)
        if data is None:
            raise GortError("the runtime descriptor", f"its {what} table at {addr:#x} cannot "
                            "be read")
        return data

    def _string(self, addr, what):
        return self.mem.cstring(addr, f"the runtime descriptor: {what}")

    def _read_types(self, addr, n):
        types = {}
        tab = self._table(addr, n, TYPE_ENTRY, "type")
        for i in range(n):
            name_p, size, nfields, fields_p = struct.unpack_from("<QIIQ", tab, i * TYPE_ENTRY)
            name = self._string(name_p, "a type name")
            if nfields > MAX_FIELDS:
                raise GortError("the runtime descriptor", f"type {name} claims {nfields} fields")
            ft = self._table(fields_p, nfields, FIELD_ENTRY, "field")
            fields = {}
            for k in range(nfields):
                fname_p, off, fsize = struct.unpack_from("<QII", ft, k * FIELD_ENTRY)
                fname = self._string(fname_p, "a field name")
                if off + fsize > size:
                    raise GortError("the runtime descriptor", f"field {name}.{fname} lies "
                                    f"outside its {size}-byte structure")
                fields[fname] = (off, fsize)
            types[name] = Type(name, size, fields)
        return types

    def _read_enums(self, addr, n):
        enums = {}
        tab = self._table(addr, n, ENUM_ENTRY, "enum")
        for i in range(n):
            name_p, nvalues, _reserved, values_p = struct.unpack_from("<QIIQ", tab,
                                                                      i * ENUM_ENTRY)
            name = self._string(name_p, "an enum name")
            if nvalues > MAX_VALUES:
                raise GortError("the runtime descriptor", f"enum {name} claims {nvalues} values")
            vt = self._table(values_p, nvalues, 8, "enum value")
            ptrs = struct.unpack(f"<{nvalues}Q", vt)
            # an unnamed value is a hole in the enum
            enums[name] = [self._string(p, "an enum value") if p else "" for p in ptrs]
        return enums

    def _read_roots(self, addr, n):
        roots = {}
        tab = self._table(addr, n, ROOT_ENTRY, "root")
        for i in range(n):
            name_p, raddr, rsize = struct.unpack_from("<QQQ", tab, i * ROOT_ENTRY)
            roots[self._string(name_p, "a root name")] = (raddr, rsize)
        return roots

    # ---- lookups -------------------------------------------------------

    def type(self, name):
        t = self.types.get(name)
        if t is None:
            raise GortError("the runtime descriptor", f"it describes no type {name}")
        return t

    def has_type(self, name):
        return name in self.types

    def root(self, name):
        r = self.roots.get(name)
        if r is None:
            raise GortError("the runtime descriptor", f"it has no root {name}")
        return r

    def has_root(self, name):
        return name in self.roots

    def root_int(self, name, signed=False):
        addr, size = self.root(name)
        if size not in (1, 2, 4, 8):
            raise GortError("the runtime descriptor", f"root {name} has size {size}")
        return self.mem.uint(addr, size, f"the runtime's {name}", signed=signed)

    def root_ptr(self, name):
        return self.mem.u64(self.root(name)[0], f"the runtime's {name}")

    def enum(self, name):
        return self.enums.get(name, [])

    def enum_name(self, enum, value, unknown=None):
        names = self.enums.get(enum, [])
        if 0 <= value < len(names):
            return names[value]
        return unknown if unknown is not None else f"?{value}"

    def enum_value(self, enum, name):
        names = self.enums.get(enum, [])
        return names.index(name) if name in names else -1

    def generation(self):
        return self.mem.u64(self.generation_addr, "the runtime descriptor's generation")


def _no_runtime(why):
    prog = gdb.current_progspace().filename or "the program"
    return GortError(f"{prog} does not link libgort", why)


def find(mem):
    """The descriptor of the selected inferior's program."""
    inf = mem.inferior
    if not inf.pid and not inf.threads():
        raise GortError("no process", "run the program, attach to one or load a core file")
    try:
        v = gdb.parse_and_eval(f"&{SYMBOL}")
        addr = int(v.cast(gdb.lookup_type("unsigned long")))
    except gdb.error:
        raise _no_runtime(f"no symbol {SYMBOL}") from None
    return Descriptor(mem, addr)
