"""Go-format tracebacks as libgort prints them: a parser, and a check of every
frame against the symbolizers (addr2line -f -i, llvm-symbolizer where
binutils is known to be wrong) through the symbol table (readelf).

A dump is the message, then per goroutine

    goroutine N [STATE]:
    FUNCTION(...)
    \tFILE:LINE                  an inlined call: no offset
    FUNCTION(...)
    \tFILE:LINE +0xOFFSET        the out-of-line function holding the pc
    created by FUNCTION in goroutine M
    \tFILE:LINE +0xOFFSET

Go prints only the offset of a pc from its function's entry; the pc is that
function's symbol value plus the offset (the candidate symbols are those of
the printed name, or a compiler clone of it, name.constprop.0 and the like,
whose extent holds pc - 1).  Without the pc-line table a frame's second line
is the executable or library holding it instead of FILE:LINE.
"""
import collections
import functools
import os
import re

from attachlib import addr2line, llvm_symbolizer, symbolizer_oracle
from conftest import run

GOROUTINE = re.compile(r"^goroutine (\d+) \[([^\]]*)\]:$")
# a thread that runs no goroutine, in a signal's report: id "thread TID"
THREAD = re.compile(r"^thread (\d+) \((.*)\) \[(not a goroutine)\]:$")
FUNCTION = re.compile(r"^(\S+|\?)\(\.\.\.\)$")
CREATED_BY = re.compile(r"^created by (\S+) in goroutine (\d+)$")
LOCATION = re.compile(r"^\t(.+?)(?: \+0x([0-9a-f]+))?(?: pc=0x[0-9a-f]+)?$")
ELIDED = "...additional frames elided..."
FILE_LINE = re.compile(r"^(.*):(\d+|\?)$")

MODULE_ADDRESS = re.compile(r"^(.*)\+0x([0-9a-f]+)$")

# file and line are None on a frame named by its symbol only (module then
# holds the executable or library printed instead); a frame no symbol names
# is function "?" with the address of its pc in that module
Frame = collections.namedtuple("Frame", "function file line offset module address")
# notes: lines in place of frames ("goroutine running on other thread; ...")
Goroutine = collections.namedtuple("Goroutine", "id state frames created_by parent elided notes")


def parse_location(text, function):
    m = LOCATION.match(text)
    assert m, f"not a location line: {text!r}"
    loc, off = m.group(1), m.group(2)
    offset = int(off, 16) if off is not None else None
    fl = FILE_LINE.match(loc)
    if fl:
        line = int(fl.group(2)) if fl.group(2).isdigit() else 0
        return Frame(function, fl.group(1), line, offset, None, None)
    ma = MODULE_ADDRESS.match(loc)
    if function == "?" and ma:
        return Frame(function, None, None, None, ma.group(1), int(ma.group(2), 16))
    return Frame(function, None, None, offset, loc, None)


def parse(text):
    """(message lines, [Goroutine]) of a dump; every frame has its location."""
    lines = text.rstrip("\n").split("\n")
    message, gs = [], []
    i = 0
    while i < len(lines) and not (GOROUTINE.match(lines[i]) or THREAD.match(lines[i])):
        message.append(lines[i])
        i += 1
    cur = None
    while i < len(lines):
        line = lines[i]
        i += 1
        if line == "":
            continue
        m = GOROUTINE.match(line)
        t = THREAD.match(line)
        if m or t:
            cur = {"id": int(m.group(1)) if m else f"thread {t.group(1)}",
                   "state": m.group(2) if m else t.group(3), "frames": [], "created_by": None,
                   "parent": None, "elided": False, "notes": []}
            gs.append(cur)
            continue
        assert cur is not None, f"line outside a goroutine: {line!r}"
        if line == ELIDED:
            cur["elided"] = True
            continue
        if line.startswith("\t"):          # a note in place of frames
            cur["notes"].append(line[1:])
            continue
        assert i < len(lines) and lines[i].startswith("\t"), (
            f"no location line after {line!r}:\n{text}")
        c = CREATED_BY.match(line)
        f = FUNCTION.match(line)
        if c:
            cur["created_by"] = parse_location(lines[i], c.group(1))
            cur["parent"] = int(c.group(2))
        elif f:
            cur["frames"].append(parse_location(lines[i], f.group(1)))
        else:
            raise AssertionError(f"not a frame line: {line!r}:\n{text}")
        i += 1
    return message, [Goroutine(**g) for g in gs]


# ---- Symbols --------------------------------------------------------------------

def function_symbols(exe):
    """[(name, value, size)] of the FUNC symbols of EXE (readelf -sW), .symtab
    or else .dynsym."""
    out = run(["readelf", "-sW", exe]).stdout
    tables, cur = {}, None
    for line in out.splitlines():
        m = re.match(r"^Symbol table '(\.\w+)'", line)
        if m:
            cur = tables.setdefault(m.group(1), [])
            continue
        f = line.split()
        if cur is not None and len(f) >= 8 and f[0].endswith(":") and f[3] == "FUNC" \
                and f[6] != "UND":
            cur.append((f[7].split("@")[0], int(f[1], 16), int(f[2], 0)))
    return tables.get(".symtab") or tables.get(".dynsym") or []


def source_name(symbol):
    """A symbol's name without the suffix of a compiler clone (f.constprop.0)."""
    dot = symbol.find(".")
    return symbol[:dot] if dot > 0 else symbol


def pcs_of(symbols, function, offset, exact=False):
    """The pcs FUNCTION + OFFSET may be: one per symbol of that (source) name
    whose extent holds pc - 1 (EXACT: pc itself, the instruction a signal
    interrupted)."""
    return [value + offset for name, value, size in symbols
            if source_name(name) == function and
            (0 <= offset < size if exact else 0 < offset <= size)]


def groups(frames):
    """The frames of each pc: inlined calls (no offset) up to the out-of-line
    function (with one).  A last group without an offset is a goroutine that
    never ran, at its function's entry."""
    out, cur = [], []
    for f in frames:
        if f.file is None and cur:      # a frame named by its symbol stands alone
            out.append(cur)
            cur = []
        cur.append(f)
        if f.offset is not None or f.file is None:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


# ---- Checks ----------------------------------------------------------------------

def chains_at(exe, addr):
    """The frames of ADDR by addr2line and by llvm-symbolizer (addr2line drops
    clang's inlined calls whose ranges use DW_FORM_rnglistx: attachlib's
    symbolizer_oracle)."""
    return [addr2line(exe, addr), llvm_symbolizer(exe, addr)]

@functools.lru_cache(maxsize=None)
def _oracle(exe, addr, got):
    """symbolizer_oracle, once per address (a dump of many goroutines repeats
    its pcs)."""
    return symbolizer_oracle(exe, addr, list(got))


def _oracle_at(exe, symbols, last, offset, got, what, exact=False):
    """The symbolizers' frames at the pc LAST + OFFSET denotes that equal GOT,
    asserting there is one; every candidate pc is tried (at pc - 1 for a
    return address, at pc itself when EXACT)."""
    pcs = pcs_of(symbols, last, offset, exact)
    assert pcs, f"{what}: no function symbol {last} with an extent past +{offset:#x}"
    wants = [_oracle(exe, pc if exact else pc - 1, tuple(got)) for pc in pcs]
    assert got in wants, f"{what}: printed {got}, the symbolizers say {wants}"
    return pcs


def check_library_frame(exe, f, what):
    """A frame of a shared library (not EXE): named by a symbol of the
    library (its .dynsym: the runtime reads no debug file) whose extent
    holds its pc - 1, or ? where none does."""
    assert f.module and os.path.realpath(f.module) != os.path.realpath(exe), (
        f"{what}: a frame of the executable without FILE:LINE: {f}")
    symbols = function_symbols(f.module)
    if f.function == "?":
        a = f.address - 1
        holders = [n for n, v, size in symbols if v <= a < v + size]
        assert not holders, f"{what}: {f}: {holders} hold it"
    else:
        assert pcs_of(symbols, f.function, f.offset), (
            f"{what}: {f}: no symbol {f.function} of {f.module} holds +{f.offset:#x}")


def check_frames(exe, goroutines, exact=()):
    """Every frame and created-by line of a dump printed from the pc-line table
    equals the symbolizers on EXE at its pc - 1; frames of shared libraries
    are checked against their symbol tables.  The first pc of the goroutines
    (or threads) whose ids are in EXACT is the instruction a signal
    interrupted: looked up as is.  Returns the number of pcs checked."""
    symbols = function_symbols(exe)
    checked = 0
    for g in goroutines:
        what = f"goroutine {g.id}"
        for k, grp in enumerate(groups(g.frames)):
            got = [(f.function, f.file, f.line) for f in grp]
            if grp[0].file is None:
                check_library_frame(exe, grp[0], what)
            elif grp[-1].offset is None:      # never ran: at its entry
                starts = [v for n, v, _ in symbols if source_name(n) == grp[-1].function]
                assert any(symbolizer_oracle(exe, v, got) == got for v in starts), (what, got)
            else:
                _oracle_at(exe, symbols, grp[-1].function, grp[-1].offset, got, what,
                           exact=k == 0 and g.id in exact)
            checked += 1
        cb = g.created_by
        if cb is not None:
            assert cb.file is not None and cb.offset is not None, f"{what}: {cb}"
            pcs = pcs_of(symbols, cb.function, cb.offset)
            assert pcs, f"{what}: created by {cb.function} +{cb.offset:#x}: no such symbol"
            chains = [c for pc in pcs for c in chains_at(exe, pc - 1)]
            assert any(c and c[-1][0] == cb.function and c[0][1:] == (cb.file, cb.line)
                       for c in chains), f"{what}: created by {cb}: the symbolizers say {chains}"
            checked += 1
    return checked


def check_symbol_frames(exe, goroutines, exact=()):
    """Every frame of a dump printed without a pc-line table is named by the
    symbol whose extent holds its pc - 1 (the first frame of the goroutines
    in EXACT: its pc), with the file it is in: the symbolizers' out-of-line
    function there is the same, and no frame says ?:0.  Returns the number
    of frames checked."""
    symbols = function_symbols(exe)
    real = os.path.realpath(exe)
    checked = 0
    for g in goroutines:
        for k, f in enumerate(g.frames + ([g.created_by] if g.created_by else [])):
            ex = k == 0 and g.id in exact
            assert f.file is None and f.offset is not None, f"goroutine {g.id}: {f}"
            assert os.path.realpath(f.module) == real, f"goroutine {g.id}: {f}"
            pcs = pcs_of(symbols, f.function, f.offset, ex)
            assert pcs, f"goroutine {g.id}: no symbol {f.function} holds +{f.offset:#x}"
            outer = [c[-1][0] for pc in pcs for c in chains_at(exe, pc if ex else pc - 1) if c]
            assert f.function in outer, f"goroutine {g.id}: {f}: the symbolizers say {outer}"
            checked += 1
    return checked
