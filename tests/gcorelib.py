"""Helpers of tests/test_gcore.py: running `goinspect gcore`, the plain C
targets tests/programs/gcore_*.c (built with gcc, no libgort), and reading
a core file's segments and memory (the ELF program headers: the bytes of
an address are at p_offset + (addr - p_vaddr) when that is below p_filesz)."""
import json
import os
import signal
import struct
import subprocess

import pytest

from attachlib import goinspect, stat_state, tracer_of
from conftest import PROGRAMS, ROOT, LiveLines, run, wait_until

TIMEOUT = 120
PT_LOAD = 1
PT_NOTE = 4


def gcore(pid, *args, pre=(), env=None, timeout=TIMEOUT, **kw):
    """goinspect [PRE] gcore ARGS PID."""
    return run([goinspect(), *pre, "gcore", *args, str(pid)], env=env, timeout=timeout, **kw)


def gcore_json(pid, path, *args, **kw):
    r = gcore(pid, "-o", path, *args, pre=("--json",), **kw)
    assert r.returncode == 0, f"goinspect gcore failed ({r.returncode}):\n{r.stderr}"
    return json.loads(r.stdout)


def build_c(src, out, extra=()):
    """tests/programs/SRC built with plain gcc (not gortcc) into OUT."""
    cmd = ["gcc", "-O2", "-g", "-Wall", "-Wextra", "-Werror", "-pthread", "-o", out,
           os.path.join(PROGRAMS, src), *extra]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return out


def build_preload(name, out):
    """tests/tools/NAME.c as a shared object to LD_PRELOAD."""
    src = os.path.join(ROOT, "tests", "tools", f"{name}.c")
    r = subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", "-o", out,
                        src, "-ldl"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return out


class Plain:
    """A running gcore_* program: its printed truth until READY."""

    def __init__(self, proc):
        self.proc = proc
        self.pid = proc.pid
        lines = LiveLines(proc).until(lambda l: l == "READY", timeout=60)
        self.maps, self.fills, self.facts = {}, [], {}
        for line in lines:
            f = line.split()
            if f[0] == "MAP":
                self.maps[f[1]] = (int(f[2], 16), int(f[3]))
            elif f[0] == "FILL":
                self.fills.append((int(f[1], 16), int(f[2]), int(f[3], 16)))
            elif f[0] != "READY":
                self.facts[f[0]] = f[1:]

    def stop(self):
        # every thread blocked for good first: a thread stopped on its way
        # there would go on a moment when continued (as the kernel dumps)
        wait_until(lambda: all_blocked(self.pid), timeout=10, what="every thread to block")
        os.kill(self.pid, signal.SIGSTOP)
        wait_until(lambda: all_stopped(self.pid), timeout=10, what="the target to stop")


def all_blocked(pid):
    """Every thread of pid waits in a system call."""
    def syscall(tid):
        with open(f"/proc/{pid}/task/{tid}/syscall") as f:
            return f.read().split()[0]
    return all(syscall(t).isdigit() for t in os.listdir(f"/proc/{pid}/task"))


def all_stopped(pid):
    """Every thread of pid in its group stop (until then one may still run
    and change memory)."""
    def state(tid):
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    return all(state(t) == "T" for t in os.listdir(f"/proc/{pid}/task"))


# The kernel writes each thread's rseq area (glibc registers one at the top
# of every thread's stack mapping) whenever the thread returns to user mode
# on another CPU: between the SIGCONT and the zap of the threads, the
# kernel's own core of a stopped process may then differ from a core taken
# while it was stopped.  Targets whose memory is compared byte for byte with
# the kernel's core run without rseq.
NO_RSEQ = {"GLIBC_TUNABLES": "glibc.pthread.rseq=0"}


def start_plain(targets, exe, *args, cwd=None, **kw):
    return Plain(targets.start([exe, *map(str, args)], cwd=cwd, **kw))


def assert_released(pid):
    """The target is neither in a tracing stop nor traced by anyone."""
    assert stat_state(pid) != "t", "target left in a tracing stop"
    assert tracer_of(pid) == 0, "target left traced"


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class Core:
    """A core file's PT_LOAD segments, and its memory read through them."""

    def __init__(self, path):
        self.path = path
        self.f = open(path, "rb")
        head = self.f.read(64)
        assert head[:4] == b"\x7fELF" and struct.unpack_from("<H", head, 16)[0] == 4, path
        phoff, = struct.unpack_from("<Q", head, 32)
        phnum, = struct.unpack_from("<H", head, 56)
        self.f.seek(phoff)
        self.segs, self.note_segs = [], []
        for _ in range(phnum):
            typ, flags, off, vaddr, _pa, filesz, memsz, _al = struct.unpack(
                "<IIQQQQQQ", self.f.read(56))
            if typ == PT_LOAD:
                self.segs.append((vaddr, memsz, filesz, flags, off))
            elif typ == PT_NOTE:
                self.note_segs.append((off, filesz))
        self.segs.sort()

    def close(self):
        self.f.close()

    def layout(self):
        """[(vaddr, memsz, filesz, flags)] by address."""
        return [s[:4] for s in self.segs]

    def segment(self, addr):
        for s in self.segs:
            if s[0] <= addr < s[0] + s[1]:
                return s
        return None

    def read(self, addr, n):
        """n bytes at addr, or None where the core does not hold them."""
        s = self.segment(addr)
        if s is None or addr + n > s[0] + s[2]:
            return None
        self.f.seek(s[4] + addr - s[0])
        return self.f.read(n)

    def notes(self):
        """[(owner, type, descriptor bytes)] in file order."""
        out = []
        for off, size in self.note_segs:
            self.f.seek(off)
            data, at = self.f.read(size), 0
            while at + 12 <= len(data):
                namesz, descsz, typ = struct.unpack_from("<III", data, at)
                name_at = at + 12
                desc_at = name_at + (namesz + 3) // 4 * 4
                out.append((data[name_at:name_at + namesz].rstrip(b"\0").decode(), typ,
                            data[desc_at:desc_at + descsz]))
                at = desc_at + (descsz + 3) // 4 * 4
        return out

    def dumped(self, s):
        """The bytes of segment s the file holds."""
        self.f.seek(s[4])
        return self.f.read(s[2])


def pattern(addr, n, salt):
    """What gcore_shapes wrote at [addr, addr + n): each word its address
    xor salt."""
    return b"".join(struct.pack("<Q", (addr + i) ^ salt) for i in range(0, n, 8))


def allocated(path):
    return os.stat(path).st_blocks * 512
