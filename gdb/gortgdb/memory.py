"""memory — reading the inferior's memory in bulk.

One Inferior.read_memory call per run of nearby objects, not one per
object or per field: the Gs of the all-G table are carved in slabs, so
100,000 of them are a few thousand reads.  A read that fails (an unmapped
page in the run) is retried object by object, so one bad pointer costs
only its own object.
"""
import struct

import gdb

from .errors import GortError

GAP = 4096              # objects closer than this are read in one run
MAX_RUN = 1 << 20       # bytes per read
MAX_STRING = 256

_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")


class Memory:
    """The selected inferior's memory (a live process or a core file)."""

    def __init__(self, inferior=None):
        self.inferior = inferior or gdb.selected_inferior()
        self.reads = 0          # statistics: read_memory calls
        self.bytes = 0

    def try_read(self, addr, size):
        """size bytes at addr, or None when they cannot all be read."""
        if size <= 0:
            return b""
        if addr < 0 or addr + size > 1 << 64:
            return None
        self.reads += 1
        try:
            data = self.inferior.read_memory(addr, size).tobytes()
        except (gdb.MemoryError, gdb.error, OverflowError, ValueError):
            return None
        self.bytes += len(data)
        return data if len(data) == size else None

    def read(self, addr, size, what="memory"):
        data = self.try_read(addr, size)
        if data is None:
            raise GortError(what, f"{size} bytes at {addr:#x} cannot be read")
        return data

    def u64(self, addr, what="memory"):
        return _U64.unpack(self.read(addr, 8, what))[0]

    def u32(self, addr, what="memory"):
        return _U32.unpack(self.read(addr, 4, what))[0]

    def uint(self, addr, size, what="memory", signed=False):
        return int.from_bytes(self.read(addr, size, what), "little", signed=signed)

    def cstring(self, addr, what="a string"):
        """The NUL-terminated string at addr (at most MAX_STRING bytes)."""
        if not addr:
            raise GortError(what, "NULL pointer")
        data = self.try_read(addr, MAX_STRING)
        if data is None:
            # it may end before an unreadable page
            data = self.try_read(addr, min(MAX_STRING, 4096 - (addr & 4095))) or b""
        end = data.find(b"\0")
        if end < 0:
            raise GortError(what, f"no readable string at {addr:#x}")
        return data[:end].decode("utf-8", "surrogateescape")

    def words(self, addr, n, what="table"):
        """n 64-bit words at addr: as many as can be read (a tuple)."""
        if n <= 0:
            return ()
        data = self.try_read(addr, 8 * n)
        if data is not None:
            return struct.unpack(f"<{n}Q", data)
        # the readable prefix, found by halving
        lo, hi = 0, n
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.try_read(addr, 8 * mid) is not None:
                lo = mid
            else:
                hi = mid
        if lo == 0:
            raise GortError(what, f"{8 * n} bytes at {addr:#x} cannot be read")
        return struct.unpack(f"<{lo}Q", self.read(addr, 8 * lo, what))

    def read_runs(self, addrs, size):
        """The objects of size bytes at addrs, read in runs (GAP, MAX_RUN):
        yields (sorted addresses of a run, its bytes, their first address),
        or for an object that cannot be read ([address], None, address)."""
        order = sorted(set(addrs))
        i = 0
        while i < len(order):
            start = order[i]
            j = i + 1
            while (j < len(order) and order[j] - (order[j - 1] + size) < GAP and
                   order[j] + size - start <= MAX_RUN):
                j += 1
            data = self.try_read(start, order[j - 1] + size - start)
            if data is not None:
                yield order[i:j], data, start
            else:
                for a in order[i:j]:
                    one = self.try_read(a, size)
                    yield [a], one, a
            i = j

    def read_objects(self, addrs, size):
        """For each address in addrs, where the size bytes there were read:
        {address: (buffer, offset in it)}, or None for an address whose
        bytes cannot be read.  Addresses are sorted and read in runs (GAP,
        MAX_RUN)."""
        out = {}
        order = sorted(set(addrs))
        i = 0
        while i < len(order):
            start = order[i]
            j = i + 1
            while (j < len(order) and order[j] - (order[j - 1] + size) < GAP and
                   order[j] + size - start <= MAX_RUN):
                j += 1
            end = order[j - 1] + size
            data = self.try_read(start, end - start)
            for a in order[i:j]:
                if data is not None:
                    out[a] = (data, a - start)
                else:
                    one = self.try_read(a, size)
                    out[a] = (one, 0) if one is not None else None
            i = j
        return out
