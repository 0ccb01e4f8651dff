"""goinspect symbolize against binutils addr2line on a binary built by
others: Debian's libpython3.11d.so (python3.11-dbg, gcc 12 -Og, DWARF 5 in
the file), on a fixed sample of addresses of its .text.

Every answer must be addr2line's byte for byte, except the two documented
cases (docs/symbolize.md): binutils' DWARF 5 initial-file bug, where only
the file of the innermost frame differs and llvm-symbolizer and
eu-addr2line give ours; and padding past the end of a function, which we,
llvm-symbolizer and eu-addr2line name by no symbol.

The package is one of the benchmark dependencies (sh mk/deps.sh bench),
which make check does not install: without it the tests are skipped."""
import os
import random

import pytest

from conftest import run
from sym_helpers import eu_frames_many, exec_ranges, frames_of, llvm_frames, need_tool, \
    symbolize, unnamed_addresses
from test_symbolize import check_divergences, compare_with_addr2line

LIB = "/usr/lib/x86_64-linux-gnu/libpython3.11d.so.1.0"
N = 20000

pytestmark = pytest.mark.skipif(
    not os.path.isfile(LIB),
    reason=f"{LIB} absent: python3.11-dbg is a benchmark dependency (sh mk/deps.sh bench), "
           "not installed by make check")


def sample(flags_seed=20240601, n=N):
    (_, addr, size), = [r for r in exec_ranges(LIB) if r[0] == ".text"]
    rng = random.Random(flags_seed)
    return [addr + rng.randrange(size) for _ in range(n)]


def documented(ours, theirs, addr, unnamed):
    """Whether the difference of our block from addr2line's is one of the
    documented cases: the file of the innermost frame alone (the DWARF 5
    initial-file bug), or an address no symbol names (padding)."""
    if addr in unnamed:
        return True
    mine, bin_ = frames_of(ours), frames_of(theirs)
    return (len(mine) == len(bin_) and mine[1:] == bin_[1:] and
            mine[0][0] == bin_[0][0] and mine[0][2] == bin_[0][2] and mine[0][1] != bin_[0][1]
            and ours[2].endswith(theirs[2][theirs[2].rfind(":"):]))


def test_sample_matches_addr2line_but_for_documented_bugs():
    need_tool("addr2line")
    addrs = sample()
    ours, theirs, diff = compare_with_addr2line(LIB, addrs)
    # about 0.2% on this library; most of the sample must be identical
    assert len(diff) < len(addrs) // 100, f"{len(diff)} of {len(addrs)} differ"
    unnamed = unnamed_addresses(LIB, [addrs[i] for i in diff])
    odd = [f"{addrs[i]:#x}: ours {ours[i]} addr2line {theirs[i]}" for i in diff
           if not documented(ours[i], theirs[i], addrs[i], unnamed)]
    assert odd == []
    # llvm-symbolizer agrees with us on every one, eu-addr2line on a sample
    check_divergences(LIB, addrs, ours, diff, "gcc")


def test_documented_bugs_occur_in_the_sample():
    """The comparison above can fail: the sample holds both kinds of
    difference, and there llvm-symbolizer and eu-addr2line give our files."""
    need_tool("llvm-symbolizer")
    need_tool("eu-addr2line")
    addrs = sample()
    ours, theirs, diff = compare_with_addr2line(LIB, addrs)
    unnamed = unnamed_addresses(LIB, [addrs[i] for i in diff])
    files = [i for i in diff if addrs[i] not in unnamed]
    assert files and len(files) < len(diff), "the sample no longer holds both kinds"
    some = [addrs[i] for i in files[:: max(1, len(files) // 10)][:10]]
    llvm = llvm_frames(LIB, some)
    eu = eu_frames_many(LIB, some)
    for i in files[:: max(1, len(files) // 10)][:10]:
        a = addrs[i]
        mine = frames_of(ours[i])
        assert frames_of(theirs[i])[0][1] != mine[0][1]
        assert llvm[a][0][1:] == mine[0][1:], f"{a:#x}: {mine} llvm {llvm[a]}"
        assert eu[a][0][1:] == mine[0][1:], f"{a:#x}: {mine} eu-addr2line {eu[a]}"
    for i in diff:
        if addrs[i] in unnamed:
            assert frames_of(ours[i]) == llvm_frames(LIB, [addrs[i]])[addrs[i]] == \
                [("??", "??", 0)]
            assert frames_of(theirs[i])[0][0] != "??"


@pytest.mark.parametrize("flags", ["-fips", "-afp", "-f", "-ai"])
def test_other_flags_are_byte_identical_elsewhere(flags):
    """The other output formats, on the addresses where -afi is identical."""
    addrs = sample(7, 5000)
    _, _, diff = compare_with_addr2line(LIB, addrs)
    skip = {addrs[i] for i in diff}
    inp = "".join(f"{a:x}\n" for a in addrs if a not in skip)
    theirs = run(["addr2line", flags, "-e", LIB], input=inp, timeout=300).stdout
    ours = symbolize(LIB, [flags], inp).stdout
    assert ours == theirs
