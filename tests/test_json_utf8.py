"""Every JSON document goinspect writes is valid UTF-8 JSON, whatever bytes
the names in it hold (docs/json.md, "Strings"): well-formed UTF-8 as it is,
control characters, '"' and '\\' escaped as JSON requires, and each byte of
no well-formed UTF-8 sequence as \\udcXX, which Python's own
bytes.decode("utf-8", "surrogateescape") (PEP 383) is the oracle for.

The target (tests/programs/insp_names.c) is built from a source path that
is not UTF-8 (so DWARF's file names carry those bytes), runs under an
executable name that is not UTF-8, names threads with such bytes, and has a
function whose name the test overwrites in the binary with such bytes.  The
bytes expected come from the kernel (/proc) and from binutils."""
import json
import os
import shutil
import subprocess

import pytest

from attachlib import goinspect, start
from conftest import PROGRAMS, TIMEOUT, build_program

# thread names (PR_SET_NAME keeps 15 bytes)
NOT_UTF8 = b"\xff\xfe\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82"  # bad bytes, overlong,
#           surrogate, above U+10FFFF, a truncated sequence at the end
SPECIAL = b'q"\\\x01\x1f\x7f\xc3\xa9'                              # JSON's specials, é
UTF8 = "é名前".encode()
THREAD_NAMES = [NOT_UTF8, SPECIAL, UTF8]

PLACEHOLDER = b"names_PLACEHOLDER_1234"
# the same length: bad bytes, a lead byte before ASCII, a truncated 3- and
# 4-byte sequence, é, a stray continuation byte, 名
PATCHED = b"names_\xff\xfe\xc3\x28\xe2\x28\xa1\xf0\x9f\x98\xc3\xa9\x80\xe5\x90\x8d"
UTF8_FUNC = "待つ_é"

SRC_DIR = b"src-\xff\xfe-\xc3\xa9-\xe9"        # and a Latin-1 é
EXE_NAME = b"names-\xff\xfe-\xe5\x90\x8d"


def decoded(raw):
    return raw.decode("utf-8", "surrogateescape")


def strict_json(argv):
    """argv's standard output, which must be UTF-8 and one JSON document
    (Python's json is strict about control characters)."""
    r = subprocess.run(argv, capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    text = r.stdout.decode("utf-8")             # raises on invalid UTF-8
    return r.stdout, [json.loads(line) for line in text.splitlines()]


@pytest.fixture(scope="module")
def names_exe(tmp_path_factory):
    """insp_names built from a source path that is not UTF-8, its function
    name overwritten, under an executable name that is not UTF-8."""
    base = os.fsencode(str(tmp_path_factory.mktemp("names")))
    src_dir = os.path.join(base, SRC_DIR)
    os.mkdir(src_dir)
    src = os.path.join(src_dir, b"insp_names.c")
    shutil.copy(os.path.join(os.fsencode(PROGRAMS), b"insp_names.c"), src)
    built = os.path.join(base, b"built")
    build_program(os.fsdecode(src), os.fsdecode(built), extra=("-I", PROGRAMS))
    data = open(built, "rb").read()
    assert data.count(PLACEHOLDER) >= 2         # .strtab and .debug_str
    assert len(PATCHED) == len(PLACEHOLDER)
    exe = os.path.join(base, EXE_NAME)
    with open(exe, "wb") as f:
        f.write(data.replace(PLACEHOLDER, PATCHED))
    os.chmod(exe, 0o755)
    return {"exe": exe, "src": src}


def symbol_addr(exe, name):
    out = subprocess.run(["nm", exe], capture_output=True, timeout=TIMEOUT).stdout
    (addr,) = [line.split()[0] for line in out.splitlines() if line.split()[-1:] == [name]]
    return int(addr, 16)


def addr2line_frames(exe, addr):
    """(function, file) bytes of each frame from addr2line -f -i."""
    out = subprocess.run(["addr2line", "-f", "-i", "-e", exe, hex(addr)], capture_output=True,
                         timeout=TIMEOUT).stdout.splitlines()
    return [(fn, loc.rsplit(b":", 1)[0]) for fn, loc in zip(out[0::2], out[1::2])]


def start_names(targets, program, names_exe):
    t = start(targets, program, "insp_names.c", *[n.hex() for n in THREAD_NAMES],
              exe=os.fsdecode(names_exe["exe"]))
    tids = {}
    for line in t.lines:
        if line and line.startswith("THREAD "):
            _, k, kv = line.split()
            tids[int(k)] = int(kv.split("=")[1])
    return t, tids


def comm(pid, tid):
    with open(f"/proc/{pid}/task/{tid}/comm", "rb") as f:
        return f.read().rstrip(b"\n")


def test_thread_names(targets, program, names_exe):
    t, tids = start_names(targets, program, names_exe)
    raw, (doc,) = strict_json([goinspect(), "--json", "attach", str(t.pid), "threads"])
    by_tid = {th["tid"]: th for th in doc["threads"]}
    for k, name in enumerate(THREAD_NAMES):
        assert comm(t.pid, tids[k]) == name                 # the kernel kept all 15 bytes
        assert by_tid[tids[k]]["name"] == decoded(name)
    # the main thread is named after the executable
    assert by_tid[t.pid]["name"] == decoded(comm(t.pid, t.pid))
    assert "\udcff" in by_tid[t.pid]["name"]
    # valid UTF-8 is written as it is, not escaped
    assert UTF8 in raw and b"q\\\"\\\\\\u0001\\u001f\x7f\xc3\xa9" in raw
    # the bytes come back
    assert by_tid[tids[0]]["name"].encode("utf-8", "surrogateescape") == NOT_UTF8
    t.assert_progress()


def test_executable_module_and_source_file(targets, program, names_exe):
    t, _ = start_names(targets, program, names_exe)
    exe = decoded(os.readlink(f"/proc/{t.pid}/exe".encode()))
    assert exe == decoded(names_exe["exe"])
    _, (summary,) = strict_json([goinspect(), "--json", "attach", str(t.pid), "summary"])
    assert summary["executable"] == exe
    _, (maps,) = strict_json([goinspect(), "--json", "attach", str(t.pid), "maps"])
    assert exe in [m["path"] for m in maps["maps"]]
    raw, (doc,) = strict_json([goinspect(), "--json", "attach", str(t.pid), "goroutines", "-t"])
    gs = {g["id"]: g for g in doc["goroutines"]}
    for kind, name in (("patched_waiter", decoded(PATCHED)), ("utf8_waiter", UTF8_FUNC)):
        user = gs[t.one(kind).id]["user"]
        assert user["function"] == name
        assert user["file"] == decoded(names_exe["src"])
        assert user["module"] == exe
    assert UTF8_FUNC.encode() in raw
    t.assert_progress()


def test_symbolize_json(names_exe):
    exe = names_exe["exe"]
    for name, want in ((PATCHED, decoded(PATCHED)), (UTF8_FUNC.encode(), UTF8_FUNC)):
        addr = symbol_addr(exe, name) + 4
        theirs = addr2line_frames(exe, addr)
        raw, (obj,) = strict_json([goinspect(), "symbolize", "--json", "-e", exe, hex(addr)])
        ours = [(f["function"], f["file"]) for f in obj["frames"]]
        assert ours == [(decoded(fn), decoded(file)) for fn, file in theirs]
        assert ours[-1] == (want, decoded(names_exe["src"]))
        if name == UTF8_FUNC.encode():
            assert name in raw
