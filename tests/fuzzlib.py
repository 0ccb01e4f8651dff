"""A libFuzzer target built with clang and run over a seed corpus (each seed
once, as the test suite runs bench/fuzz's targets)."""
import pytest

from conftest import run
from sym_helpers import need_tool


def run_fuzz_seeds(exe, sanitizers, args, seeds):
    """Builds EXE with -fsanitize=fuzzer,SANITIZERS from ARGS (sources and
    flags), runs it over SEEDS and returns that run (its stderr holds the
    sanitizers' reports).  Skips where clang or its libFuzzer runtime is
    missing."""
    need_tool("clang")
    r = run(["clang", "-g", "-O1", f"-fsanitize=fuzzer,{sanitizers}", "-D_GNU_SOURCE", *args,
             "-o", exe], timeout=300)
    if r.returncode != 0 and "fuzzer" in r.stderr and "cannot find" in r.stderr:
        pytest.skip("libFuzzer runtime not installed")
    assert r.returncode == 0, r.stderr
    return run([exe, *seeds], timeout=300)
