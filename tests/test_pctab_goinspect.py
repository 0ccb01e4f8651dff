"""goinspect reads a binary's pc-line table instead of building its DWARF
index (docs/pctab.md): what it prints is the same with the table and without
it.  One core of tests/programs/pctab_dump.c is read twice, through the
executable and through a copy with the section removed (same build-id, same
code), and attach reads the live process the same way."""
import os
import shutil

import pytest

from conftest import run
from corelib import core
from gcorelib import gcore
from rtlib import start_rt

SRC = "pctab_dump.c"


def without_table(exe, out):
    shutil.copy(exe, out)
    r = run(["objcopy", "--remove-section", ".gort_pctab", out])
    assert r.returncode == 0, r.stderr
    assert ".gort_pctab" not in run(["readelf", "-SW", out]).stdout
    return out


@pytest.mark.parametrize("opt", ["-O0", "-O2"])
@pytest.mark.parametrize("compiler", ["gcc", "clang"])
def test_goroutines_and_stacks_are_the_same_with_and_without_the_table(
        program, targets, tmp_path, compiler, opt):
    exe = program(SRC, compiler, (opt,))
    assert ".gort_pctab" in run(["readelf", "-SW", exe]).stdout
    plain = without_table(exe, str(tmp_path / "plain"))
    proc, _ = start_rt(targets, exe, "park", procs=2)
    path = str(tmp_path / "core")
    r = gcore(proc.pid, "-o", path)
    assert r.returncode == 0, r.stderr
    for cmd in (["goroutines", "-t"], ["threads", "-t"]):
        for pre in ((), ("--json",)):
            a = core(path, *cmd, opts=("--exe", exe), pre=pre)
            b = core(path, *cmd, opts=("--exe", plain), pre=pre)
            assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
            # the views name the executable they read: the only difference
            assert a.stdout == b.stdout.replace(plain, exe), (cmd, pre)
            assert "wait_innermost" in a.stdout or cmd[0] == "threads", a.stdout
