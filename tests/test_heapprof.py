"""The runtime's allocation profile (runtime/memprof.c) read by `goinspect
attach PID heap-profile`, `goinspect core CORE heap-profile` and `heap
--by-site`.

The target (tests/programs/heapprof.c) keeps 64 MiB allocated by a() and
16 MiB by b(), always inlined into c(), drops 32 MiB allocated by garbage()
before two collections, and prints what it allocated where, and the sums of
its own gort_memprofile_foreach.  Oracles: that truth, `go tool pprof` as
the reader of the profile (-raw, -top), binutils' addr2line -i for the
inlined frame, the kernel's core file.

At the default rate (1 sample per 512 KiB) the program's 80 MiB in use are
about 160 samples, b's 16 MiB about 32: a share's standard deviation is
about 3 points, so shares are checked within 10 points of the truth (3
standard deviations), amounts within 35 % (more than 3).
"""
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import urllib.request

import pytest

import gortdesc
from attachlib import Target, attach, goinspect
from conftest import PROGRAMS, run
from corelib import core, kernel_core, start_dumpable
from rtlib import COMPILERS

SRC = "heapprof.c"
SHARE_TOLERANCE = 0.10
AMOUNT_TOLERANCE = 0.35


def go():
    exe = shutil.which("go")
    if not exe:
        pytest.skip("go (golang-go) is not installed: run make deps")
    return exe


def pprof(path, *args):
    r = run([go(), "tool", "pprof", *args, path], timeout=120,
            env={"HOME": os.environ.get("HOME", "/tmp"), "PPROF_TMPDIR": "/tmp"})
    assert r.returncode == 0, f"go tool pprof {' '.join(args)} failed:\n{r.stderr}"
    return r.stdout


def parse_raw(text):
    """go tool pprof -raw's text: (sample types, [(values, [location ids])],
    {location id: (address, [(function, file, line)])}, {mapping id: (start, offset, file)})."""
    types, samples, locs, maps = [], [], {}, {}
    section, cur = None, None
    for line in text.splitlines():
        if line in ("Samples:", "Locations", "Mappings"):
            section = line
            continue
        if section == "Samples:":
            if not types:
                types = [t.split("/")[0].replace("[dflt]", "") for t in line.split()]
                continue
            m = re.match(r"\s*([\d\s]+):\s*([\d\s]*)$", line)
            if m:
                samples.append(([int(v) for v in m.group(1).split()],
                                [int(v) for v in m.group(2).split()]))
        elif section == "Locations":
            m = re.match(r"\s*(\d+): (0x[0-9a-f]+) M=\d+ (\S+) (\S+):(\d+) s=\d+", line)
            if m:
                cur = int(m.group(1))
                locs[cur] = (int(m.group(2), 16), [(m.group(3), m.group(4), int(m.group(5)))])
                continue
            m = re.match(r"\s+(\S+) (\S+):(\d+) s=\d+", line)
            if m and cur is not None:
                locs[cur][1].append((m.group(1), m.group(2), int(m.group(3))))
        elif section == "Mappings":
            m = re.match(r"(\d+): (0x[0-9a-f]+)/(0x[0-9a-f]+)/(0x[0-9a-f]+) (\S+)", line)
            if m:
                maps[int(m.group(1))] = (int(m.group(2), 16), int(m.group(4), 16), m.group(5))
    return types, samples, locs, maps


def by_site(raw):
    """{innermost function of the first location: {sample type: value summed}}."""
    types, samples, locs, _ = raw
    out = {}
    for values, ids in samples:
        fn = locs[ids[0]][1][0][0] if ids else "?"
        acc = out.setdefault(fn, dict.fromkeys(types, 0))
        for t, v in zip(types, values):
            acc[t] += v
    return out


def truth(t):
    sites = {}
    for line in t.lines:
        if line and line.startswith("SITE "):
            f = line.split()
            kv = dict(w.split("=", 1) for w in f[2:])
            sites[f[1]] = {k: int(v) for k, v in kv.items()}
    inproc = dict(w.split("=") for w in t.facts["INPROC"].split())
    inline = dict(w.split("=") for w in t.facts["INLINE"].split()[1:])
    return sites, {k: int(v) for k, v in inproc.items()}, int(inline["call_line"])


def start(targets, program, tmp_path, compiler, env=None):
    return start_dumpable(targets, program, SRC, cwd=str(tmp_path), env=env, compiler=compiler)


def heap_profile(tmp_path, how, what, name="heap.pb.gz"):
    out = str(tmp_path / name)
    r = (attach(what, "heap-profile", "-o", out) if how == "attach"
         else core(what, "heap-profile", "-o", out))
    assert r.returncode == 0, f"heap-profile failed ({r.returncode}):\n{r.stderr}"
    assert os.path.getsize(out) > 0
    return out


def check_profile(path, t, exe):
    sites, inproc, call_line = truth(t)
    raw = parse_raw(pprof(path, "-raw"))
    types, samples, locs, maps = raw
    assert types == ["alloc_objects", "alloc_space", "inuse_objects", "inuse_space"], types
    got = by_site(raw)
    assert {"a", "b", "garbage"} <= set(got), f"sites in the profile: {sorted(got)}"

    # In-use shares: a's, b's (inlined into c), against the program's truth.
    true_inuse = sites["a"]["bytes"] + sites["b"]["bytes"] + sites["app"]["bytes"]
    total = sum(v["inuse_space"] for v in got.values())
    for fn in ("a", "b"):
        share, want = got[fn]["inuse_space"] / total, sites[fn]["bytes"] / true_inuse
        assert abs(share - want) <= SHARE_TOLERANCE, (fn, share, want, got)
        est = got[fn]["inuse_space"]
        assert abs(est - sites[fn]["bytes"]) <= AMOUNT_TOLERANCE * sites[fn]["bytes"], (fn, est)
        objs = got[fn]["inuse_objects"]
        assert abs(objs - sites[fn]["objects"]) <= AMOUNT_TOLERANCE * sites[fn]["objects"]

    # The garbage: in the allocations, not in use (the sweeper counted its frees).
    g = got["garbage"]
    assert abs(g["alloc_space"] - sites["garbage"]["bytes"]) <= \
        AMOUNT_TOLERANCE * sites["garbage"]["bytes"], g
    assert g["alloc_objects"] > 0 and g["inuse_objects"] <= 0.05 * g["alloc_objects"], g
    assert g["inuse_space"] <= 0.05 * g["alloc_space"], g

    # b is an inlined frame under c, at b's allocation line, c at its call.
    src = os.path.join(PROGRAMS, SRC)
    (b_loc,) = {ids[0] for _, ids in samples if ids and locs[ids[0]][1][0][0] == "b"}
    addr, lines = locs[b_loc]
    assert [(fn, os.path.basename(f), ln) for fn, f, ln in lines[:2]] == [
        ("b", SRC, sites["b"]["line"]), ("c", SRC, call_line)], lines
    assert os.path.realpath(lines[0][1]) == os.path.realpath(src)
    # addr2line -i says the same of the return address's call (pc - 1)
    start_, offset, _f = max(m for m in maps.values() if m[0] <= addr)
    a2l = run(["addr2line", "-i", "-f", "-e", exe, hex(addr - 1 - start_ + offset)])
    out = [l.split(" (discriminator")[0] for l in a2l.stdout.splitlines()]
    assert out[0] == "b" and out[1].endswith(f"{SRC}:{sites['b']['line']}"), out
    assert out[2] == "c" and out[3].endswith(f"{SRC}:{call_line}"), out

    # -top, the other reader: a first, then b, by in-use bytes.
    top = pprof(path, "-top", "-sample_index=inuse_space")
    flat = [l.split()[-1] if not l.endswith("(inline)") else l.split()[-2]
            for l in top.splitlines() if re.match(r"\s*[\d.]+[kKMG]?B\s", l)]
    assert flat[:2] == ["a", "b"], top
    return got, inproc


@pytest.mark.parametrize("compiler", COMPILERS)
def test_heap_profile_from_attach_and_core_matches_the_truth(program, targets, tmp_path,
                                                              compiler):
    t = start(targets, program, tmp_path, compiler)
    live = heap_profile(tmp_path, "attach", t.pid, "live.pb.gz")
    assert open(f"/proc/{t.pid}/stat").read().split()[2] in "SR", "target left stopped"
    got, inproc = check_profile(live, t, t.exe)

    # The raw samples goinspect read are the program's own, exactly.
    r = attach(t.pid, "heap", "--by-site", opts=("--json",))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["samples"] == inproc["alloc_objects"], (doc["samples"], inproc)
    assert doc["stacks"] == inproc["buckets"]
    assert doc["rate"] == 524288
    sites = [s["function"] for s in doc["sites"]]
    assert sites[:2] == ["a", "b"], doc["sites"]
    assert doc["sites"][1]["inlined_into"] == "c"
    assert sum(s["inuse_bytes"] for s in doc["sites"]) > 0

    path = kernel_core(t, signal.SIGQUIT, str(tmp_path))
    from_core = heap_profile(tmp_path, "core", path, "core.pb.gz")
    got_core, _ = check_profile(from_core, t, t.exe)
    assert got_core == got, "the core's profile differs from the live process's"


def test_heap_by_site_text(program, targets, tmp_path):
    t = start(targets, program, tmp_path, "gcc")
    r = attach(t.pid, "heap", "--by-site")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["INUSE", "SHARE", "INUSE_OBJS", "ALLOC", "ALLOC_OBJS", "SITE"]
    sites, _, _ = truth(t)
    assert re.search(rf" a \S*{SRC}:{sites['a']['line']}$", lines[1]), lines[1]
    assert re.search(rf" b \(inlined into c\) \S*{SRC}:{sites['b']['line']}$", lines[2]), lines[2]
    assert "samples (1 per 524288 bytes allocated)" in lines[-1], lines[-1]


def test_rate_zero_gives_an_empty_profile(program, targets, tmp_path):
    t = start(targets, program, tmp_path, "gcc", env={"GORT_MEMPROFILERATE": "0"})
    _, inproc, _ = truth(t)
    assert inproc["alloc_objects"] == 0 and t.facts["RATE"] == "0"
    path = heap_profile(tmp_path, "attach", t.pid)
    types, samples, _, _ = parse_raw(pprof(path, "-raw"))
    assert samples == [], samples
    r = attach(t.pid, "heap", "--by-site")
    assert r.returncode == 0 and "sampling is off" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize("how", ["env", "api"])
def test_rate_one_samples_every_allocation(program, targets, tmp_path, how):
    """GORT_MEMPROFILERATE=1, or gort_set_memprofile_rate(1) with sampling
    off until then (one P: the call restarts its own countdown)."""
    exe = program(SRC, "gcc")
    if how == "env":
        t = start_dumpable(targets, program, SRC, cwd=str(tmp_path),
                           env={"GORT_MEMPROFILERATE": "1"})
    else:
        proc = targets.start([exe, "rate", "1"], env={"GORT_MEMPROFILERATE": "0",
                                                        "GORT_MAXPROCS": "1"})
        t = Target(proc, exe, os.path.join(PROGRAMS, SRC)).wait_ready()
    assert t.facts["RATE"] == "1"
    sites, inproc, _ = truth(t)
    got = by_site(parse_raw(pprof(heap_profile(tmp_path, "attach", t.pid), "-raw")))
    for fn in ("a", "b"):
        assert got[fn]["inuse_objects"] == sites[fn]["objects"], (fn, got[fn])
        assert got[fn]["inuse_space"] == sites[fn]["bytes"], (fn, got[fn])
    # every garbage object was swept (a stale copy of a pointer may keep one)
    assert got["garbage"]["alloc_objects"] == sites["garbage"]["objects"]
    assert got["garbage"]["inuse_objects"] <= 2, got["garbage"]


def test_not_libgort_is_an_error(tmp_path):
    p = subprocess.Popen(["sleep", "60"])
    try:
        r = attach(p.pid, "heap-profile", "-o", str(tmp_path / "x.pb.gz"))
        assert r.returncode == 1 and "does not link libgort" in r.stderr, r.stderr
        assert not os.path.exists(tmp_path / "x.pb.gz")
        assert open(f"/proc/{p.pid}/stat").read().split()[2] in "SR"
    finally:
        p.kill()
        p.wait()


def no_table_copy(exe, tmp_path):
    """A copy of exe whose runtime descriptor names no "memprof" root or type
    (the names changed in the binary): a runtime without the table."""
    data = open(exe, "rb").read()
    assert b"\0memprof\0" in data
    out = tmp_path / "no-table"
    out.write_bytes(data.replace(b"\0memprof\0", b"\0memprox\0"))
    out.chmod(0o755)
    return str(out)


def test_runtime_without_the_table_is_an_error(program, targets, tmp_path):
    exe = no_table_copy(program(SRC, "gcc"), tmp_path)
    t = start_dumpable(targets, program, SRC, cwd=str(tmp_path), exe=exe)
    for args in (("heap-profile", "-o", str(tmp_path / "x.pb.gz")), ("heap", "--by-site")):
        r = attach(t.pid, *args)
        assert r.returncode == 1, (args, r.returncode, r.stderr)
        assert "describes no allocation profile" in r.stderr, r.stderr
    assert not os.path.exists(tmp_path / "x.pb.gz")
    path = kernel_core(t, signal.SIGQUIT, str(tmp_path))
    r = core(path, "heap-profile", "-o", str(tmp_path / "x.pb.gz"))
    assert r.returncode == 1 and "describes no allocation profile" in r.stderr, r.stderr


@pytest.mark.parametrize("args,msg", [
    (("heap-profile", "-o"), "-o wants a file name"),
    (("heap-profile", "extra"), "unexpected argument 'extra'"),
    (("heap", "--by-sites"), "unknown argument '--by-sites'"),
])
def test_bad_arguments(args, msg):
    goinspect()
    r = attach(os.getpid(), *args)
    assert r.returncode == 2 and msg in r.stderr, r.stderr


def test_concurrent_sampling_counts_every_allocation(program, targets, tmp_path):
    """Four goroutines on four Ps allocate at once with every allocation
    sampled: the table has each one, in the bucket of its site, and the
    sweeper's frees, exactly (docs/metadata.md's reader, tests/gortdesc.py,
    walks the same list without goinspect)."""
    exe = program(SRC, "gcc")
    proc = targets.start([exe, "parallel"], env={"GORT_MAXPROCS": "4",
                                                   "GORT_MEMPROFILERATE": "1"})
    t = Target(proc, exe, os.path.join(PROGRAMS, SRC)).wait_ready()
    par = dict(w.split("=") for w in t.facts["PAR"].split())
    workers, n, size = int(par["workers"]), int(par["n"]), int(par["size"])
    inproc = {k: int(v) for k, v in (w.split("=") for w in t.facts["INPROC"].split())}

    rt = gortdesc.Runtime(t.pid)
    try:
        hdr, buckets = memprof_buckets(rt)
        lo, hi = rt.desc.text_range()
        for b, pcs in buckets:
            assert pcs and not lo <= pcs[0] - 1 < hi, "a runtime frame at the top of a stack"
    finally:
        rt.close()
    assert hdr["rate"] == 1 and hdr["nbuckets"] == len(buckets) == inproc["buckets"]
    for k in ("alloc_objects", "alloc_bytes", "free_objects", "free_bytes"):
        assert sum(b[k] for b, _ in buckets) == inproc[k], k
    assert hdr["nsamples"] == inproc["alloc_objects"]

    r = attach(t.pid, "heap", "--by-site", opts=("--json", "--nonstop"))
    assert r.returncode == 0, r.stderr
    sites = {(s["function"], s["line"]): s for s in json.loads(r.stdout)["sites"]}
    keep, drop = sites[("keep", int(par["keep_line"]))], sites[("drop", int(par["drop_line"]))]
    assert keep["alloc_objects"] == keep["inuse_objects"] == workers * n, keep
    assert keep["inuse_bytes"] == workers * n * size
    assert drop["alloc_objects"] == workers * n, drop
    assert drop["inuse_objects"] <= workers, drop     # a stale copy of a pointer may keep one


def memprof_buckets(rt):
    """The allocation profile's header and [(bucket, pcs)], read as
    docs/metadata.md says."""
    d = rt.desc
    hdr = d.read("memprof", d.root("memprof")[0])
    stk_off = d.types["memprof_bucket"].fields["stk"][0]
    out, addr = [], hdr["buckets"]
    while addr:
        assert len(out) < 100000, "a loop in the bucket list"
        b = d.read("memprof_bucket", addr)
        raw = d.mem.read(addr + stk_off, 8 * b["nstk"])
        out.append((b, struct.unpack(f"<{b['nstk']}Q", raw)))
        addr = b["next"]
    return hdr, out


@pytest.mark.parametrize("mode,warning", [
    ("loop", "bucket list loops or is longer than the"),
    ("badptr", "an allocation profile bucket at 0x10 cannot be read"),
])
def test_damaged_bucket_list(program, targets, tmp_path, mode, warning):
    """The newest bucket's next pointer damaged (pointing to itself, or to
    unmapped memory): the buckets before the damage, a warning, exit 0; the
    target is released."""
    exe = program(SRC, "gcc")
    proc = targets.start([exe, mode])
    t = Target(proc, exe, os.path.join(PROGRAMS, SRC)).wait_ready()
    assert "DAMAGED" in t.facts, t.lines
    out = str(tmp_path / "d.pb.gz")
    r = attach(t.pid, "heap-profile", "-o", out)
    assert r.returncode == 0 and warning in r.stderr, r.stderr
    types, samples, locs, _ = parse_raw(pprof(out, "-raw"))
    assert len(samples) == 1 and locs[samples[0][1][0]][1][0][0] == "b", (samples, locs)
    r = attach(t.pid, "heap", "--by-site", opts=("--json",))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert warning in doc["error"] and [s["function"] for s in doc["sites"]] == ["b"], doc
    assert open(f"/proc/{t.pid}/stat").read().split()[2] in "SR", "target left stopped"


def test_truncated_core(program, targets, tmp_path):
    """A core cut short anywhere: heap-profile writes what it can read or
    says why not (exit 0 or 1), never crashes."""
    t = start(targets, program, tmp_path, "gcc")
    path = kernel_core(t, signal.SIGQUIT, str(tmp_path))
    size = os.path.getsize(path)
    cut = str(tmp_path / "cut")
    for frac in (0.05, 0.3, 0.6, 0.9, 0.999):
        with open(path, "rb") as src, open(cut, "wb") as dst:
            dst.write(src.read(int(size * frac)))
        out = str(tmp_path / "cut.pb.gz")
        r = core(cut, "heap-profile", "-o", out, timeout=60)
        assert r.returncode in (0, 1), (frac, r.returncode, r.stderr)
        assert r.stderr.startswith("goinspect: "), (frac, r.stderr)
        if r.returncode == 0:
            pprof(out, "-raw")      # a profile go tool pprof reads


# ---- The runtime's own endpoint: /debug/pprof/heap and /allocs -----------------------

@pytest.mark.parametrize("compiler", COMPILERS)
def test_heap_profile_from_the_endpoint_matches_the_truth_and_attach(program, targets, tmp_path,
                                                                     compiler):
    t = start_dumpable(targets, program, SRC, "serve", cwd=str(tmp_path), compiler=compiler)
    base = f"http://127.0.0.1:{t.facts['PORT']}/debug/pprof"
    got, _ = check_profile(f"{base}/heap", t, t.exe)       # go tool pprof fetches it itself
    got_attach, _ = check_profile(heap_profile(tmp_path, "attach", t.pid), t, t.exe)
    # the same samples, scaled the same way (to the unit: the runtime's
    # exponential is its own, without libm)
    assert set(got) == set(got_attach)
    for site, v in got.items():
        for k, n in v.items():
            assert abs(n - got_attach[site][k]) <= 1, (site, k, n, got_attach[site][k])
    # /allocs: the same profile, shown by default as allocated space
    top = pprof(f"{base}/allocs", "-top")
    assert "Type: alloc_space" in top, top
    # debug=1: Go's legacy text, its totals the sums of its records
    with urllib.request.urlopen(f"{base}/heap?debug=1", timeout=60) as r:
        assert r.status == 200
        text = r.read().decode()
    head = re.match(r"heap profile: (\d+): (\d+) \[(\d+): (\d+)\] @ heap/(\d+)\n", text)
    assert head and int(head.group(5)) == 2 * 524288, text[:300]
    recs = re.findall(r"^(\d+): (\d+) \[(\d+): (\d+)\] @((?: 0x[0-9a-f]+)+)$", text, re.M)
    assert recs and [sum(int(r[i]) for r in recs) for i in range(4)] == \
        [int(head.group(i)) for i in range(1, 5)], text[:2000]
    sites, _, _ = truth(t)
    assert re.search(rf"^#\t0x[0-9a-f]+\ta\+0x[0-9a-f]+\t\S+{SRC}:{sites['a']['line']}$",
                     text, re.M), text[:3000]
    assert "# runtime.MemStats\n# Alloc = " in text
