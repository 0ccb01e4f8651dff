"""Helpers shared by the heap and collector tests (tests/test_heap_*.py).

The target programs are tests/programs/heap_*.c (on heap_common.h).  They
print facts as rtlib does ("KEY rest" lines), and memory statistics
snapshots as "MS tag field=value ..." lines; the gctrace lines come on
stderr.
"""
import ctypes
import functools
import mmap
import os
import re

import pytest

from rtlib import COMPILERS, run_rt

# GOMAXPROCS 1 and 2 (the machine has 2 CPUs).
HEAP_PROCS = (1, 2)

# The two ways a cycle marks (runtime/mgc.c), forced with GORT_DEBUG: with
# the world stopped throughout, or concurrently (where the kernel can track
# writes: otherwise the runtime falls back to the first, and
# concurrent_marking_available() says so).
COLLECTORS = {"stw": "gcstoptheworld=1", "concurrent": "gcconcurrent=1"}

HEAP_MATRIX = [pytest.param(c, p, k, id=f"{c}-procs{p}-{k}")
               for c in COMPILERS for p in HEAP_PROCS for k in COLLECTORS]



@functools.lru_cache(maxsize=None)
def concurrent_marking_available():
    """Whether this kernel lets a process record which of its pages were
    written: a userfaultfd in asynchronous write-protect mode (Linux 6.7)
    and the PAGEMAP_SCAN ioctl on /proc/self/pagemap.  Asked of the kernel
    here, not of the runtime: where this is true, gcconcurrent=1 must mark
    concurrently; where false, the runtime must fall back to stopping the
    world."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    libc.ioctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p)
    SYS_userfaultfd, UFFD_USER_MODE_ONLY = 323, 1
    fd = libc.syscall(SYS_userfaultfd, os.O_CLOEXEC | UFFD_USER_MODE_ONLY)
    if fd < 0:
        fd = libc.syscall(SYS_userfaultfd, os.O_CLOEXEC)
    if fd < 0:
        return False
    try:
        # struct uffdio_api {api, features, ioctls}; UFFDIO_API is
        # _IOWR(0xAA, 0x3F, 24 bytes); features WP_ASYNC | WP_UNPOPULATED
        api = (ctypes.c_uint64 * 3)(0xAA, (1 << 15) | (1 << 13), 0)
        if libc.ioctl(fd, 0xC018AA3F, ctypes.addressof(api)) != 0:
            return False
    finally:
        os.close(fd)
    # PAGEMAP_SCAN (_IOWR('f', 16, 96 bytes)) over one page of ours, for
    # its written pages: an older kernel says ENOTTY
    page = mmap.mmap(-1, mmap.PAGESIZE)
    start = ctypes.addressof(ctypes.c_char.from_buffer(page))
    vec = (ctypes.c_uint64 * 3)()
    arg = (ctypes.c_uint64 * 12)(96, 0, start, start + mmap.PAGESIZE, 0,
                                 ctypes.addressof(vec), 1, 0, 0, 0, 2, 2)
    pm = os.open("/proc/self/pagemap", os.O_RDONLY)
    try:
        return libc.ioctl(pm, 0xC0606610, ctypes.addressof(arg)) >= 0
    finally:
        os.close(pm)


MIB = 1 << 20
MIN_HEAP_GOAL = 4 * MIB
NUM_SIZE_CLASSES = 68

RING_FIELDS = ("pause_ns", "pause_end")


def run_heap(program, src, mode, compiler="gcc", procs=None, env=None, timeout=60,
             collector=None, **kw):
    """run_rt for the heap programs (a longer default timeout); collector: a
    key of COLLECTORS, or None for the runtime's own choice."""
    env = dict(env or {})
    if collector:
        debug = [d for d in (env.get("GORT_DEBUG"), COLLECTORS[collector]) if d]
        env["GORT_DEBUG"] = ",".join(debug)
    return run_rt(program, src, mode, compiler, procs, env=env, timeout=timeout, **kw)


def parse_memstats(line_rest):
    """One "MS" line's rest -> (tag, {field: int | float | list}).

    pause_ns and pause_end are lists of 256 ints; by_size is a list of
    (size, mallocs, frees)."""
    tag, *fields = line_rest.split()
    ms = {}
    for f in fields:
        k, _, v = f.partition("=")
        if k in RING_FIELDS:
            ms[k] = [int(x) for x in v.split(",")]
        elif k == "by_size":
            ms[k] = [tuple(int(y) for y in x.split(":")) for x in v.split(",")]
        elif k == "gc_cpu_fraction":
            ms[k] = float(v)
        else:
            ms[k] = int(v)
    return tag, ms


def memstats(stdout):
    """Every "MS" snapshot in stdout, in order, as (tag, stats)."""
    return [parse_memstats(line[3:]) for line in stdout.splitlines() if line.startswith("MS ")]


def memstats_by_tag(stdout):
    """{tag: stats} (the last snapshot of each tag)."""
    return dict(memstats(stdout))


def check_identities(ms, t_start=None, t_end=None, what=""):
    """The identities every snapshot satisfies (docs/metadata.md, "Attributing
    the heap", and Go's MemStats).  t_start/t_end: the run's wall-clock
    interval in ns since 1970, if known.  Returns a list of violations."""
    bad = []

    def need(cond, text):
        if not cond:
            bad.append(f"{what}: {text}")

    need(ms["heap_sys"] == ms["heap_inuse"] + ms["heap_idle"],
         f"heap_sys {ms['heap_sys']} != heap_inuse {ms['heap_inuse']} + heap_idle "
         f"{ms['heap_idle']}")
    need(ms["heap_released"] <= ms["heap_idle"],
         f"heap_released {ms['heap_released']} > heap_idle {ms['heap_idle']}")
    need(ms["heap_objects"] == ms["mallocs"] - ms["frees"],
         f"heap_objects {ms['heap_objects']} != mallocs {ms['mallocs']} - frees {ms['frees']}")
    need(ms["frees"] <= ms["mallocs"], f"frees {ms['frees']} > mallocs {ms['mallocs']}")
    need(ms["alloc"] == ms["heap_alloc"], f"alloc {ms['alloc']} != heap_alloc {ms['heap_alloc']}")
    need(ms["heap_alloc"] <= ms["heap_inuse"],
         f"heap_alloc {ms['heap_alloc']} > heap_inuse {ms['heap_inuse']}")
    need(ms["total_alloc"] >= ms["heap_alloc"],
         f"total_alloc {ms['total_alloc']} < heap_alloc {ms['heap_alloc']}")
    need(ms["stack_sys"] == ms["stack_inuse"],
         f"stack_sys {ms['stack_sys']} != stack_inuse {ms['stack_inuse']}")
    need(ms["sys"] >= ms["heap_sys"] + ms["stack_inuse"],
         f"sys {ms['sys']} < heap_sys {ms['heap_sys']} + stack_inuse {ms['stack_inuse']}")
    for field in ("heap_sys", "heap_inuse", "heap_idle", "heap_released", "stack_inuse"):
        need(ms[field] % 8192 == 0, f"{field} {ms[field]} is not a whole number of pages")

    by_size = ms["by_size"]
    need(len(by_size) == NUM_SIZE_CLASSES, f"{len(by_size)} size classes")
    sizes = [s for s, _, _ in by_size]
    need(sizes[1:] == sorted(set(sizes[1:])), f"class sizes not increasing: {sizes}")
    need(sum(m for _, m, _ in by_size) <= ms["mallocs"],
         f"sum of by_size mallocs {sum(m for _, m, _ in by_size)} > mallocs {ms['mallocs']}")
    need(sum(f for _, _, f in by_size) <= ms["frees"],
         f"sum of by_size frees {sum(f for _, _, f in by_size)} > frees {ms['frees']}")
    for size, m, f in by_size:
        need(f <= m, f"class {size}: frees {f} > mallocs {m}")
    small = sum((m - f) * size for size, m, f in by_size)
    need(small <= ms["heap_alloc"],
         f"live small objects by class {small} bytes > heap_alloc {ms['heap_alloc']}")

    # Collections and the pause ring.
    n = ms["num_gc"]
    need(ms["num_forced_gc"] <= n, f"num_forced_gc {ms['num_forced_gc']} > num_gc {n}")
    need(0.0 <= ms["gc_cpu_fraction"] <= 1.0, f"gc_cpu_fraction {ms['gc_cpu_fraction']}")
    pauses, ends = ms["pause_ns"], ms["pause_end"]
    recorded = [(i - 1) % 256 for i in range(max(1, n - 255), n + 1)] if n else []
    need(all(pauses[i] > 0 for i in recorded),
         f"a recorded pause is 0 (num_gc {n}): {[pauses[i] for i in recorded][-8:]}")
    need(all(ends[i] > 0 for i in recorded),
         f"a recorded pause end is 0 (num_gc {n}): {[ends[i] for i in recorded][-8:]}")
    if n < 256:
        need(all(p == 0 for p in pauses[n:]) and all(e == 0 for e in ends[n:]),
             f"ring entries beyond num_gc {n} are set")
    need(ms["pause_total_ns"] >= sum(pauses[i] for i in recorded),
         f"pause_total_ns {ms['pause_total_ns']} < sum of recorded pauses "
         f"{sum(pauses[i] for i in recorded)}")
    need([ends[i] for i in recorded] == sorted(ends[i] for i in recorded),
         "pause ends are not in cycle order")
    if n:
        latest = (n + 255) % 256
        need(ms["last_gc"] == ends[latest],
             f"last_gc {ms['last_gc']} != pause_end of the latest cycle {ends[latest]}")
        if t_start is not None:
            need(t_start <= ms["last_gc"] <= t_end,
                 f"last_gc {ms['last_gc']} outside the run [{t_start}, {t_end}]")
            need(all(t_start <= ends[i] <= t_end for i in recorded),
                 "a pause end lies outside the run")
    else:
        need(ms["last_gc"] == 0 and ms["pause_total_ns"] == 0,
             f"no collection yet but last_gc {ms['last_gc']} pause_total_ns "
             f"{ms['pause_total_ns']}")
    need(ms["next_gc"] >= MIN_HEAP_GOAL, f"next_gc {ms['next_gc']} below 4 MiB")
    return bad


def assert_identities(snapshots, t_start=None, t_end=None):
    """check_identities on every (tag, stats); one assertion listing them all."""
    bad = []
    for i, (tag, ms) in enumerate(snapshots):
        bad += check_identities(ms, t_start, t_end, what=f"snapshot {i} ({tag})")
    assert not bad, f"{len(bad)} violations:\n" + "\n".join(bad[:40])


def size_class_of(by_size, size):
    """Index of the smallest class whose size holds SIZE (class 0 is large)."""
    for i, (s, _, _) in enumerate(by_size):
        if i and s >= size:
            return i
    raise AssertionError(f"no size class for {size}")


# ---- gctrace --------------------------------------------------------------------

GCTRACE = re.compile(
    r"^gc (\d+) @(\d+\.\d{3})s (\d+)%: (\d+\.\d{3})\+(\d+\.\d{3})\+(\d+\.\d{3}) ms clock, "
    r"(\d+)->(\d+)->(\d+) MB, (\d+) MB goal, (\d+) P( \(stw\))?( \(forced\))?$")


def gctrace_lines(stderr):
    """Parsed gctrace lines: dicts with n, at (s), pct, stw1/mark/stw2 (ms),
    before/after/live/goal (MB), procs, stw (the whole cycle stopped the
    world), forced.  Fails on a line that starts like one but does not match
    the format.  The pause is stw1 + stw2, and also mark for an stw cycle."""
    out = []
    for line in stderr.splitlines():
        if not line.startswith("gc "):
            continue
        m = GCTRACE.match(line)
        assert m, f"malformed gctrace line: {line!r}"
        g = m.groups()
        d = {"n": int(g[0]), "at": float(g[1]), "pct": int(g[2]),
             "stw1": float(g[3]), "mark": float(g[4]), "stw2": float(g[5]),
             "before": int(g[6]), "after": int(g[7]), "live": int(g[8]),
             "goal": int(g[9]), "procs": int(g[10]), "stw": bool(g[11]),
             "forced": bool(g[12]), "line": line}
        d["pause"] = d["stw1"] + d["stw2"] + (d["mark"] if d["stw"] else 0)
        out.append(d)
    return out


# ---- /proc ----------------------------------------------------------------------

def rss_kib(pid):
    """VmRSS of process PID in KiB, from /proc/PID/status."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")
