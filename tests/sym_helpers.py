"""Helpers of the symbolize / CFI / libgidwarf tests: building the plain C
targets of tests/programs/sym with gcc or clang, the test tools of
tests/tools against build/lib/libgidwarf.a, and parsing the outputs of the
oracles (addr2line, eu-addr2line, llvm-symbolizer, readelf, gdb)."""
import bisect
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import ROOT, run

SYM = os.path.join(ROOT, "tests", "programs", "sym")
TOOLS = os.path.join(ROOT, "tests", "tools")
BUILD = os.path.join(ROOT, "build")
GOINSPECT = os.environ.get("GOINSPECT_BIN") or os.path.join(BUILD, "bin", "goinspect")
LIBGIDWARF = os.path.join(BUILD, "lib", "libgidwarf.a")

MAIN_SRCS = ["sym_main.c", "sym_other.c"]


def need(path):
    if not os.path.exists(path):
        pytest.skip(f"{path} not built (run make)")
    return path


def need_tool(name):
    if not shutil.which(name):
        pytest.skip(f"{name} not installed")


def cc(compiler, args, out, cwd=None, timeout=180):
    r = subprocess.run([compiler, *args, "-o", out], cwd=cwd, capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode != 0:
        raise AssertionError(f"build failed: {compiler} {' '.join(args)}\n{r.stderr}")
    return out


def sym_src(name):
    return os.path.join(SYM, name)


class Builds:
    """Builds each named target once per session into a temporary directory."""

    def __init__(self, tmp):
        self.dir = tmp
        self.done = {}

    def get(self, key, fn):
        if key not in self.done:
            self.done[key] = fn(os.path.join(self.dir, key))
        return self.done[key]

    def tool(self, name, extra=()):
        """tests/tools/NAME.c linked with libgidwarf."""
        need(LIBGIDWARF)

        def build(out):
            return cc("gcc", ["-O1", "-g", "-Wall", "-Wextra", "-Werror", "-I", os.path.join(ROOT, "dwarf"),
                              os.path.join(TOOLS, name + ".c"), *extra, LIBGIDWARF,
                              "-lelf", "-ldwarf"], out)
        return self.get("tool-" + name, build)


def probe_out(probe, *args, env=None):
    """The output of a test tool (tests/tools), which must succeed."""
    r = run([probe, *args], env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout


# ---- addr2line-style output ------------------------------------------------

ADDR_RE = re.compile(r"^0x[0-9a-f]{16}$")


def split_blocks(text):
    """Output of `-a` runs, split per address: {addr: [lines]}, in order."""
    blocks = []
    for line in text.splitlines():
        if ADDR_RE.match(line):
            blocks.append([line])
        elif blocks:
            blocks[-1].append(line)
        else:
            raise AssertionError(f"output does not start with an address: {line!r}")
    return blocks


DISC_RE = re.compile(r" \(discriminator \d+\)$")


def frames_of(block):
    """[(function, file, line)] of an `-a -f -i` block (line '?' -> 0)."""
    out = []
    lines = block[1:]
    for i in range(0, len(lines) - 1, 2):
        name = lines[i]
        loc = DISC_RE.sub("", lines[i + 1])
        file, _, line = loc.rpartition(":")
        out.append((name, file, 0 if line in ("?", "") else int(line)))
    return out


def exec_ranges(exe):
    """(name, addr, size) of every SHF_EXECINSTR section, from readelf."""
    out = run(["readelf", "-SW", exe]).stdout
    res = []
    for line in out.splitlines():
        m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\S+\s+(\S+)",
                     line)
        if m and "X" in m.group(4) and "A" in m.group(4):
            res.append((m.group(1), int(m.group(2), 16), int(m.group(3), 16)))
    return res


def _symbol_table(exe):
    """readelf's code symbols of EXE as {section index: [(value, size)]}:
    from .symtab, or .dynsym when there is none (as both symbolizers
    read them)."""
    out = run(["readelf", "-Ws", exe]).stdout
    tables, cur = {}, None
    for line in out.splitlines():
        m = re.match(r"Symbol table '(\S+)'", line)
        if m:
            cur = tables.setdefault(m.group(1), {})
            continue
        f = line.split()
        if cur is None or len(f) < 7 or not f[0].endswith(":") or not f[6].isdigit():
            continue
        if f[3] in ("FUNC", "IFUNC", "NOTYPE"):
            cur.setdefault(int(f[6]), []).append((int(f[1], 16), int(f[2], 0)))
    return tables.get(".symtab") or tables.get(".dynsym") or {}


def unallocated_symbols(exe):
    """Names of EXE's symbols (readelf) defined in sections that are not
    allocated (gcc's LTO puts local labels in .debug_info, at values of
    .text)."""
    alloc = {int(m.group(1)) for m in re.finditer(
        r"^\s*\[\s*(\d+)\]\s+\S+\s+\S+\s+[0-9a-f]+\s+[0-9a-f]+\s+[0-9a-f]+\s+[0-9a-f]+\s+(\S*)",
        run(["readelf", "-SW", exe]).stdout, re.M) if "A" in m.group(2)}
    names = set()
    for line in run(["readelf", "-Ws", exe]).stdout.splitlines():
        f = line.split()
        if len(f) >= 8 and f[0].endswith(":") and f[6].isdigit() and int(f[6]) not in alloc:
            names.add(f[7])
    return names


def unnamed_addresses(exe, addrs):
    """The addresses of ADDRS that no symbol names, by readelf's symbol
    table: past the end of every sized symbol at the last address at or
    before them in their section, with no zero-size symbol there (padding
    after a function, or code of a stripped library's static functions).
    gdb, eu-addr2line and llvm-symbolizer call them ??; binutils'
    addr2line still names them after the preceding symbol."""
    out = run(["readelf", "-SW", exe]).stdout
    secs = []
    for line in out.splitlines():
        m = re.match(r"\s*\[\s*(\d+)\]\s+\S+\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", line)
        if m:
            secs.append((int(m.group(1)), int(m.group(2), 16), int(m.group(3), 16)))
    table = {i: sorted(syms) for i, syms in _symbol_table(exe).items()}
    res = set()
    for a in addrs:
        idx = [i for i, lo, size in secs if lo <= a < lo + size and lo]
        syms = table.get(idx[0], []) if idx else []
        k = bisect.bisect_right(syms, (a, float("inf")))
        if k == 0:
            res.add(a)
            continue
        start = syms[k - 1][0]
        last = [size for v, size in syms[bisect.bisect_left(syms, (start, -1)):k]]
        if not any(size == 0 or a < start + size for size in last):
            res.add(a)
    return res


def text_addresses(exe, stride):
    addrs = []
    for _, a, s in exec_ranges(exe):
        addrs.extend(range(a, a + s, stride))
    return addrs


def symbolize(exe, args, stdin, timeout=120):
    r = run([need(GOINSPECT), "symbolize", *args, "-e", exe], timeout=timeout, input=stdin)
    assert r.returncode == 0, r.stderr
    return r


def llvm_frames(exe, addrs):
    """llvm-symbolizer's frames for addrs, as frames_of gives them."""
    inp = "".join(f"{a:#x}\n" for a in addrs)
    r = run(["llvm-symbolizer", "--output-style=GNU", "-a", "-f", "-i", f"--obj={exe}"],
            input=inp, timeout=120)
    res = {}
    cur = None
    for line in r.stdout.splitlines():
        if re.match(r"^0x[0-9a-f]+$", line):
            cur = int(line, 16)
            res[cur] = []
            pending = None
        elif cur is not None:
            if pending is None:
                pending = line
            else:
                loc = DISC_RE.sub("", line)
                file, _, ln = loc.rpartition(":")
                res[cur].append((pending, file, int(ln) if ln.isdigit() else 0))
                pending = None
    return res


def eu_frames(exe, addr):
    """eu-addr2line -f -i frames: [(function, file, line)]."""
    return eu_frames_many(exe, [addr])[addr]


def eu_frames_many(exe, addrs, timeout=300):
    """eu-addr2line -a -f -i frames of many addresses in one run:
    {addr: [(function, file, line)]}, as eu_frames gives them."""
    inp = "".join(f"{a:#x}\n" for a in addrs)
    r = run(["eu-addr2line", "-a", "-f", "-i", "-e", exe], input=inp, timeout=timeout)
    res = {}
    for block in split_blocks(r.stdout):
        lines = block[1:]
        frames = []
        for i in range(0, len(lines) - 1, 2):
            parts = lines[i + 1].split(":")
            line = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
            frames.append((lines[i].split(" inlined at ")[0], parts[0], line))
        res[int(block[0], 16)] = frames
    return res


def gdb_ptype(exe, what):
    """gdb's ptype /o of what: [(member, offset, size)] (nested members
    too) and the total size."""
    r = run(["gdb", "-batch", "-nx", "-ex", f"ptype /o {what}", exe])
    rows = []
    for line in r.stdout.splitlines():
        m = re.match(r"/\*\s+(\d+)(?::\s*\d+)?\s*\|\s*(\d+)\s*\*/\s+(.*?)(\w+)(\[[\d\]\[]*\])?(\s*:\s*\d+)?;",
                     line)
        if m and "{" not in line:
            rows.append((m.group(4), int(m.group(1)), int(m.group(2))))
    totals = re.findall(r"total size \(bytes\):\s+(\d+)", r.stdout)
    return rows, int(totals[-1]) if totals else None


def gdb_info_symbol(exe, addrs, gdb_opts=(), timeout=300):
    """gdb's `info symbol` of each address of EXE (the file, no process):
    "NAME" or "NAME + OFFSET" as gdb prints them, "??" for "No symbol
    matches".  GDB_OPTS go before the file (-iex ... for its debug
    directory)."""
    with tempfile.NamedTemporaryFile("w", suffix=".gdb") as cmds:
        cmds.write("".join(f"info symbol {a:#x}\n" for a in addrs))
        cmds.flush()
        r = run(["gdb", "-q", "-nx", "-batch", *gdb_opts, "-x", cmds.name, exe], timeout=timeout)
    lines = [l for l in r.stdout.splitlines() if l.startswith("No symbol") or " in section " in l]
    assert len(lines) == len(addrs), r.stdout[-2000:] + r.stderr[-2000:]
    return ["??" if l.startswith("No symbol") else l.split(" in section ")[0] for l in lines]
