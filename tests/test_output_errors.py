"""A write error on standard output, for every command: standard output on
/dev/full (ENOSPC) or closed (EBADF).  goinspect must say so on stderr,
naming the stream ("goinspect: write error on standard output: WHY"), exit
1, and release the target first (it runs on)."""
import os
import pty
import subprocess

import pytest

from attachlib import goinspect, start
from conftest import TIMEOUT
from sym_helpers import cc, sym_src

ENOSPC = "goinspect: write error on standard output: " + os.strerror(28)
EBADF = "goinspect: write error on standard output: " + os.strerror(9)

SUBCOMMANDS = ["summary", "goroutines", "goroutines -g", "goroutines -t", "goroutine 1",
               "threads", "threads -t", "maps", "ptr 0x1000", "heap", "heap --by-site", "spans",
               "memstats"]


def to_full(argv, **kw):
    """argv with standard output on /dev/full."""
    with open("/dev/full", "w") as full:
        return subprocess.run(argv, stdout=full, stderr=subprocess.PIPE, text=True,
                              timeout=TIMEOUT, **kw)


def to_closed(argv):
    """argv with standard output closed (the shell's >&-)."""
    script = 'exec "$@" >&-'
    return subprocess.run(["sh", "-c", script, "sh", *argv], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=TIMEOUT)


def check_reported(r, message):
    assert r.returncode == 1, f"exit {r.returncode}, stderr {r.stderr!r}"
    assert r.stderr.splitlines()[-1:] == [message], r.stderr


def both_ways(argv):
    check_reported(to_full(argv), ENOSPC)
    check_reported(to_closed(argv), EBADF)


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["help"], ["help", "attach"],
                                  ["help", "symbolize"], ["attach", "--help"],
                                  ["symbolize", "--help"], ["symbolize", "--version"]])
def test_help_and_version(args):
    both_ways([goinspect(), *args])


@pytest.mark.parametrize("json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_attach_subcommands(targets, program, sub, json):
    t = start(targets, program, "insp_park.c", "park")
    opts = ["--json"] if json else []
    both_ways([goinspect(), *opts, "attach", str(t.pid), *sub.split()])
    t.assert_progress()


def test_attach_nonstop(targets, program):
    t = start(targets, program, "insp_park.c", "park")
    both_ways([goinspect(), "attach", "--nonstop", str(t.pid), "goroutines"])
    t.assert_progress()


def test_interactive_prompt(targets, program):
    """stdin a terminal, standard output /dev/full: the banner fails, the
    prompt ends at once with the error."""
    t = start(targets, program, "insp_park.c", "park")
    master, slave = pty.openpty()
    try:
        r = to_full([goinspect(), "attach", str(t.pid)], stdin=slave)
    finally:
        os.close(slave)
        os.close(master)
    check_reported(r, ENOSPC)
    t.assert_progress()


@pytest.fixture(scope="module")
def sym_exe(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("outerr") / "sym")
    return cc("gcc", ["-O2", "-g", sym_src("sym_main.c"), sym_src("sym_other.c")], out)


@pytest.mark.parametrize("json", [False, True], ids=["text", "json"])
def test_symbolize(sym_exe, json):
    opts = ["--json"] if json else []
    both_ways([goinspect(), "symbolize", *opts, "-afi", "-e", sym_exe, "0x1000", "0x1100"])
    # addresses from stdin
    for way, message in ((to_full, ENOSPC), (to_closed, EBADF)):
        script = 'printf "0x1000\\n0x1100\\n" | exec "$@"'
        argv = ["sh", "-c", script, "sh", goinspect(), "symbolize", *opts, "-e", sym_exe]
        check_reported(way(argv), message)


def test_large_output():
    """More than the output buffer holds: the error is found while writing,
    not at the end."""
    out = to_full([goinspect(), "symbolize", "-e", "/proc/self/exe", *["0"] * 20000])
    check_reported(out, ENOSPC)
