"""elf — the parts of a 64-bit little-endian ELF file the extension reads
itself: section headers (for .eh_frame and .debug_frame), program headers
and notes (for a core file's mappings), and symbols (for the runtime
descriptor's link address).  Sections are read on demand.
"""
import struct

from .errors import GortError

SHT_SYMTAB, SHT_NOBITS, SHT_DYNSYM = 2, 8, 11
PT_LOAD, PT_NOTE = 1, 4
ET_EXEC, ET_DYN, ET_CORE = 2, 3, 4
NT_FILE = 0x46494c45
PF_X, PF_W, PF_R = 1, 2, 4


class Section:
    __slots__ = ("name", "type", "flags", "addr", "offset", "size", "link", "entsize")

    def __init__(self, name, stype, flags, addr, offset, size, link, entsize):
        self.name, self.type, self.flags, self.addr = name, stype, flags, addr
        self.offset, self.size, self.link, self.entsize = offset, size, link, entsize


class Segment:
    __slots__ = ("type", "flags", "offset", "vaddr", "filesz", "memsz")

    def __init__(self, ptype, flags, offset, vaddr, filesz, memsz):
        self.type, self.flags, self.offset = ptype, flags, offset
        self.vaddr, self.filesz, self.memsz = vaddr, filesz, memsz


class Elf:
    def __init__(self, path):
        self.path = path
        try:
            self.f = open(path, "rb")
            head = self.f.read(64)
        except OSError as e:
            raise GortError(path, e.strerror or str(e)) from None
        if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            raise GortError(path, "not a 64-bit little-endian ELF file")
        (self.type, _machine, _version, _entry, phoff, shoff, _flags, _ehsize, phentsize,
         phnum, shentsize, shnum, shstrndx) = struct.unpack_from("<HHIQQQIHHHHHH", head, 16)
        self.segments = []
        if phnum and phentsize >= 56:
            raw = self._at(phoff, phnum * phentsize)
            for i in range(phnum):
                p_type, p_flags, off, vaddr, _pa, filesz, memsz, _al = struct.unpack_from(
                    "<IIQQQQQQ", raw, i * phentsize)
                self.segments.append(Segment(p_type, p_flags, off, vaddr, filesz, memsz))
        self.sections = []
        if shnum and shentsize >= 64:
            raw = self._at(shoff, shnum * shentsize)
            hdrs = [struct.unpack_from("<IIQQQQIIQQ", raw, i * shentsize) for i in range(shnum)]
            names = b""
            if shstrndx < shnum:
                names = self._at(hdrs[shstrndx][4], hdrs[shstrndx][5])
            for (name, stype, flags, addr, offset, size, link, _info, _al, entsize) in hdrs:
                end = names.find(b"\0", name)
                sname = names[name:end].decode(errors="replace") if end >= 0 else ""
                self.sections.append(Section(sname, stype, flags, addr, offset, size, link,
                                             entsize))
        self._symbols = None

    def close(self):
        self.f.close()

    def _at(self, offset, size):
        self.f.seek(offset)
        data = self.f.read(size)
        if len(data) != size:
            raise GortError(self.path, f"truncated: {size} bytes at offset {offset:#x}")
        return data

    def section(self, name):
        for s in self.sections:
            if s.name == name:
                return s
        return None

    def section_data(self, sec):
        if sec.type == SHT_NOBITS:
            return b""
        return self._at(sec.offset, sec.size)

    def lowest_load(self):
        loads = [s.vaddr for s in self.segments if s.type == PT_LOAD]
        return min(loads) & ~0xfff if loads else 0

    def symbol(self, name):
        """(value, size) of symbol name from .symtab, else .dynsym, or None."""
        if self._symbols is None:
            self._symbols = {}
            for table in (".dynsym", ".symtab"):      # .symtab wins
                sec = self.section(table)
                if sec and sec.link < len(self.sections):
                    self._read_symbols(sec, self.sections[sec.link])
        return self._symbols.get(name)

    def _read_symbols(self, sec, strsec):
        data = self.section_data(sec)
        strs = self.section_data(strsec)
        ent = sec.entsize or 24
        for j in range(len(data) // ent):
            st_name, _info, _other, shndx, value, size = struct.unpack_from("<IBBHQQ", data,
                                                                           j * ent)
            if st_name and shndx:
                end = strs.find(b"\0", st_name)
                self._symbols[strs[st_name:end].decode(errors="replace")] = (value, size)

    def notes(self):
        """(type, name, desc) of every note in the PT_NOTE segments."""
        out = []
        for seg in self.segments:
            if seg.type != PT_NOTE or not seg.filesz:
                continue
            data = self._at(seg.offset, seg.filesz)
            off = 0
            while off + 12 <= len(data):
                namesz, descsz, ntype = struct.unpack_from("<III", data, off)
                off += 12
                name = data[off:off + namesz].rstrip(b"\0")
                off += (namesz + 3) & ~3
                desc = data[off:off + descsz]
                off += (descsz + 3) & ~3
                out.append((ntype, name, desc))
        return out

    def file_mappings(self):
        """A core file's NT_FILE note: [(start, end, file offset, path)]."""
        for ntype, name, desc in self.notes():
            if ntype != NT_FILE or name != b"CORE" or len(desc) < 16:
                continue
            count, page = struct.unpack_from("<QQ", desc, 0)
            if count > 1 << 20 or 16 + 24 * count > len(desc):
                return []
            paths = desc[16 + 24 * count:].split(b"\0")
            out = []
            for i in range(count):
                start, end, pgoff = struct.unpack_from("<QQQ", desc, 16 + 24 * i)
                path = paths[i].decode("utf-8", "surrogateescape") if i < len(paths) else ""
                out.append((start, end, pgoff * page, path))
            return out
        return []
