"""Impossible requests and running out of memory are fatal, with Go's
wording and the memory statistics.  Program: tests/programs/heap_oom.c."""
import re
import resource
import subprocess

import pytest

from conftest import run
from rtlib import COMPILERS, facts

SRC = "heap_oom.c"

# A fatal error takes milliseconds; a run still going after this is hung.
FATAL_TIMEOUT = 5
# Filling 512 MiB first takes a second or so.
FILL_TIMEOUT = 15

OOM_LINE = re.compile(
    r"^runtime: out of memory: cannot allocate (\d+)-byte block \((\d+) in use\)$")
STAT_LINE = re.compile(r"^  (\w+=\d+ ?)+$")


def check_oom(stderr, at_least):
    """Go's report: the OOM line, the statistics block, 'fatal error: out of
    memory'.  Returns (block size, bytes in use, {stat: value})."""
    lines = stderr.splitlines()
    first = [i for i, line in enumerate(lines) if OOM_LINE.match(line)]
    assert first, f"no 'runtime: out of memory' line:\n{stderr}"
    i = first[0]
    m = OOM_LINE.match(lines[i])
    size, inuse = int(m.group(1)), int(m.group(2))
    assert size >= at_least, lines[i]
    # then the statistics, then the fatal error
    rest = lines[i + 1:]
    assert "runtime: memory statistics:" in rest, stderr
    j = rest.index("runtime: memory statistics:")
    stats = {}
    k = j + 1
    while k < len(rest) and STAT_LINE.match(rest[k]):
        for w in rest[k].split():
            key, _, v = w.partition("=")
            stats[key] = int(v)
        k += 1
    for key in ("heap_alloc", "heap_sys", "heap_inuse", "heap_idle", "heap_released",
                "heap_objects", "mallocs", "frees", "total_alloc", "stack_inuse", "sys",
                "next_gc", "num_gc"):
        assert key in stats, f"no {key} in the statistics:\n{stderr}"
    assert "fatal error: out of memory" in rest[k:], stderr
    return size, inuse, stats


def run_fatal(argv, timeout, what, **kw):
    """Run a program expected to die of a fatal error; a hang fails the test
    with what it printed so far."""
    try:
        return run(argv, timeout=timeout, **kw)
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else e.stderr
        pytest.fail(f"{what} hung instead of failing (still running after {timeout} s); "
                    f"stderr so far:\n{err}")


SIZES = {
    "max": 2**64 - 1,
    "max-4095": 2**64 - 4096,          # rounding up to pages would wrap around
    "2^62": 2**62,
    "1TiB": 2**40,                     # within the address space, beyond the heap's limit
}
SIZE_CASES = [("max", False), ("max", True), ("max-4095", False), ("2^62", True), ("1TiB", False)]


@pytest.mark.parametrize("size,noscan", SIZE_CASES,
                         ids=[f"{s}-{'noscan' if n else 'scan'}" for s, n in SIZE_CASES])
@pytest.mark.parametrize("compiler", COMPILERS)
def test_an_impossible_size_is_fatal_out_of_memory(program, compiler, size, noscan):
    arg = "max" if size == "max" else str(SIZES[size])
    exe = program(SRC, compiler)
    r = run_fatal([exe, "size", arg] + (["noscan"] if noscan else []), FATAL_TIMEOUT,
                  f"gort_alloc({SIZES[size]})")
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert facts(r.stdout)["allocating"].startswith(str(SIZES[size]))
    check_oom(r.stderr, min(SIZES[size], 2**40))


def limit_address_space(mib):
    def pre():
        resource.setrlimit(resource.RLIMIT_AS, (mib << 20, mib << 20))
    return pre


@pytest.mark.parametrize("compiler,objsize", [("gcc", 64), ("gcc", 100000), ("clang", 64)])
def test_running_out_of_memory_is_fatal(program, compiler, objsize):
    # Every object stays reachable; the address space is limited to 512 MiB
    # (RLIMIT_AS, as `ulimit -v`), so the heap cannot grow past it.
    exe = program(SRC, compiler)
    r = run_fatal([exe, "fill", str(objsize)], FILL_TIMEOUT, "running out of memory",
                  preexec_fn=limit_address_space(512))
    assert r.returncode == 2, (r.returncode, r.stderr[-3000:])
    size, inuse, stats = check_oom(r.stderr, objsize)
    # the heap had grown to a good part of the limit before it failed
    assert inuse >= 128 << 20, r.stderr[:2000]
    assert stats["heap_alloc"] >= 128 << 20, stats
    assert stats["heap_objects"] * objsize <= stats["heap_alloc"]
