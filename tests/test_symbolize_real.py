"""goinspect symbolize against binutils addr2line on binaries built by
others: from Debian's python3.11-dbg, libpython3.11d.so (gcc 12 -Og, DWARF 5
in the file) and the separate debug file of /usr/bin/python3.11 (gcc 12 -O3
with LTO, deep inline chains); from libc6-dbg, the separate debug file of
libc.so.6 (-O2); on a fixed sample of addresses of their .text.

Every answer must be addr2line's byte for byte, except the two documented
cases (docs/symbolize.md): binutils' DWARF 5 initial-file bug, where only
the file of the innermost frame differs and llvm-symbolizer and
eu-addr2line give ours; and padding past the end of a function, which we,
llvm-symbolizer and eu-addr2line name by no symbol.

The packages are benchmark dependencies (sh mk/deps.sh bench), which make
check does not install: without them the tests are skipped."""
import os
import random
import re

import pytest

from conftest import run
from sym_helpers import eu_frames_many, exec_ranges, frames_of, llvm_frames, need_tool, \
    symbolize, unnamed_addresses
from test_symbolize import check_divergences, compare_with_addr2line

N = 20000


def debug_file(binary):
    """The separate debug file of BINARY in /usr/lib/debug, by its build ID
    (None when either is absent)."""
    if not os.path.isfile(binary):
        return None
    m = re.search(r"Build ID: ([0-9a-f]{3,})", run(["readelf", "-n", binary]).stdout)
    path = m and f"/usr/lib/debug/.build-id/{m.group(1)[:2]}/{m.group(1)[2:]}.debug"
    return path if path and os.path.isfile(path) else None


# each binary, and the share of its sample that may differ from addr2line
# (the documented cases: about 0.2% of libpython3.11d.so's, 2.2% of the
# LTO build's, whose link-time units start with inlined code, 7.6% of libc's)
BINARIES = {"libpython3.11d.so": ("/usr/lib/x86_64-linux-gnu/libpython3.11d.so.1.0", 100),
            "python3.11-O3-lto": (debug_file("/usr/bin/python3.11"), 33),
            "libc.so.6-O2": (debug_file("/lib/x86_64-linux-gnu/libc.so.6"), 10)}


@pytest.fixture(params=sorted(BINARIES))
def real_binary(request):
    path, share = BINARIES[request.param]
    if not path or not os.path.isfile(path):
        pytest.skip(f"{request.param} absent: python3.11-dbg and libc6-dbg are benchmark "
                    "dependencies (sh mk/deps.sh bench), not installed by make check")
    return path, share


def sample(lib, flags_seed=20240601, n=N):
    (_, addr, size), = [r for r in exec_ranges(lib) if r[0] == ".text"]
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


def test_sample_matches_addr2line_but_for_documented_bugs(real_binary):
    need_tool("addr2line")
    lib, share = real_binary
    addrs = sample(lib)
    ours, theirs, diff = compare_with_addr2line(lib, addrs)
    # most of the sample must be identical
    assert len(diff) < len(addrs) // share, f"{len(diff)} of {len(addrs)} differ"
    unnamed = unnamed_addresses(lib, [addrs[i] for i in diff])
    odd = [f"{addrs[i]:#x}: ours {ours[i]} addr2line {theirs[i]}" for i in diff
           if not documented(ours[i], theirs[i], addrs[i], unnamed)]
    assert odd == []
    # llvm-symbolizer agrees with us on every one, eu-addr2line on a sample
    check_divergences(lib, addrs, ours, diff, "gcc")


def test_documented_bugs_occur_in_the_sample(real_binary):
    """The comparison above can fail: the sample holds both kinds of
    difference, and there llvm-symbolizer and eu-addr2line give our files."""
    need_tool("llvm-symbolizer")
    need_tool("eu-addr2line")
    lib, _ = real_binary
    addrs = sample(lib)
    ours, theirs, diff = compare_with_addr2line(lib, addrs)
    unnamed = unnamed_addresses(lib, [addrs[i] for i in diff])
    files = [i for i in diff if addrs[i] not in unnamed]
    assert files and len(files) < len(diff), "the sample no longer holds both kinds"
    some = [addrs[i] for i in files[:: max(1, len(files) // 10)][:10]]
    llvm = llvm_frames(lib, some)
    eu = eu_frames_many(lib, some)
    for i in files[:: max(1, len(files) // 10)][:10]:
        a = addrs[i]
        mine = frames_of(ours[i])
        assert frames_of(theirs[i])[0][1] != mine[0][1]
        assert llvm[a][0][1:] == mine[0][1:], f"{a:#x}: {mine} llvm {llvm[a]}"
        assert eu[a][0][1:] == mine[0][1:], f"{a:#x}: {mine} eu-addr2line {eu[a]}"
    for i in diff:
        if addrs[i] in unnamed:
            # named by no function, where addr2line names the function
            # before; its line and llvm-symbolizer's and eu-addr2line's
            # answers are check_divergences' (test above)
            mine = frames_of(ours[i])
            assert len(mine) == 1 and mine[0][0] == "??"
            assert frames_of(theirs[i])[0][0] != "??"


@pytest.mark.parametrize("flags", ["-fips", "-afp", "-f", "-ai"])
def test_other_flags_are_byte_identical_elsewhere(real_binary, flags):
    """The other output formats, on the addresses where -afi is identical."""
    lib, _ = real_binary
    addrs = sample(lib, 7, 5000)
    _, _, diff = compare_with_addr2line(lib, addrs)
    skip = {addrs[i] for i in diff}
    inp = "".join(f"{a:x}\n" for a in addrs if a not in skip)
    theirs = run(["addr2line", flags, "-e", lib], input=inp, timeout=300).stdout
    ours = symbolize(lib, [flags], inp).stdout
    assert ours == theirs
