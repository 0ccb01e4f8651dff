"""The runtime's own CPU and block profiles (runtime/cpuprof.c, blockprof.c).

Oracles: `go tool pprof` reads every profile (the format), and the test
programs print their own truth: the CPU each hot function took, measured
with its thread's CPU clock (tests/programs/prof_cpu.c), and the time each
waiting call took (tests/programs/prof_block.c).
"""
import re
import shutil
import threading
import time
import urllib.error
import urllib.request

import pytest

from attachlib import marker_line, src_path
from conftest import LiveLines, run, wait_until
from rtlib import COMPILERS, all_facts, facts

HOT = ("spin_a", "spin_b", "spin_c")


def go_pprof(*args, tmp=None):
    assert shutil.which("go"), "go (golang-go, installed by make deps) is missing"
    env = {"PPROF_TMPDIR": str(tmp)} if tmp else None   # where it saves what it fetches
    r = run(["go", "tool", "pprof", *args], timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout


def top_flat(exe, path, *opts, tmp=None):
    """{function: flat value} from `go tool pprof -top` (in ns for times)."""
    out = go_pprof("-top", "-unit=ns", "-nodecount=1000", *opts, exe, str(path), tmp=tmp)
    flat = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\d+)(ns)?\s+[\d.]+%\s+[\d.]+%\s+\d+(?:ns)?\s+[\d.]+%\s+(\S+)", line)
        if m:
            flat[m.group(3)] = flat.get(m.group(3), 0) + int(m.group(1))
    return flat, out


def raw_locations(raw):
    """{location id: [(function, file, line), ...]} from `go tool pprof -raw`
    (innermost first), and the samples: [(count, [location ids], labels)]."""
    locs, samples = {}, []
    section = None
    cur = None
    for line in raw.splitlines():
        if line.startswith("Samples:"):
            section = "s"
            continue
        if line.startswith("Locations"):
            section = "l"
            continue
        if line.startswith("Mappings"):
            section = None
        if section == "s":
            m = re.match(r"\s+(\d+)\s+\d+: ([\d ]+)$", line)
            if m:
                samples.append([int(m.group(1)), [int(x) for x in m.group(2).split()], ""])
            elif samples and line.strip():
                samples[-1][2] += line.strip()
        elif section == "l":
            m = re.match(r"\s+(\d+): 0x[0-9a-f]+ M=\d+(?: (\S+) (\S+):(\d+))?", line)
            if m:
                # a location with no function (a pc in no symbol: the vDSO's
                # code, a stripped library) has no frames
                cur = int(m.group(1))
                locs[cur] = [(m.group(2), m.group(3), int(m.group(4)))] if m.group(2) else []
                continue
            m = re.match(r"\s+(\S+) (\S+):(\d+) s=", line)
            if m and cur is not None:
                locs[cur].append((m.group(1), m.group(2), int(m.group(3))))
    return locs, samples


# ---- CPU ---------------------------------------------------------------------------

@pytest.fixture(params=COMPILERS)
def cpu_run(request, program, tmp_path):
    exe = program("prof_cpu.c", request.param)
    path = tmp_path / "cpu.pb"
    r = run([exe, "self", str(path), "3000"], timeout=60)
    assert r.returncode == 0 and "DONE" in r.stdout, r.stdout + r.stderr
    return exe, path, facts(r.stdout), r.stdout


def assert_shares(flat, truth, out):
    got = [flat.get(h, 0) for h in HOT]
    assert max(flat, key=flat.get) == "spin_a", out
    for name, g, t in zip(HOT, got, truth):
        share_g, share_t = g / sum(got), t / sum(truth)
        assert abs(share_g - share_t) < 0.08, (
            f"{name}: {share_g:.1%} of the hot functions' samples, truth {share_t:.1%}\n{out}")
    # the total is the CPU the three took, within sampling error and the
    # few periods the program's other work takes
    assert 0.85 * sum(truth) < sum(got) < 1.15 * sum(truth), (got, truth, out)


def test_the_programs_own_profile_names_its_hot_functions(cpu_run):
    exe, path, f, _ = cpu_run
    flat, out = top_flat(exe, path)
    assert_shares(flat, [int(x) for x in f["CPU"].split()], out)


def test_inlined_frames_and_goroutine_labels(cpu_run):
    exe, path, f, _ = cpu_run
    raw = go_pprof("-raw", exe, str(path))
    assert "samples/count cpu/nanoseconds" in raw and "Period: 10000000" in raw, raw[:500]
    locs, samples = raw_locations(raw)
    src = src_path("prof_cpu.c")
    call = marker_line(src, "LINE:spin_b_call")
    body = marker_line(src, "LINE:spin_b_body")
    inl = [l for l in locs.values() if l and l[0][0] == "spin_b"]
    assert inl, raw
    assert all(len(l) >= 2 and l[1][0] == "worker" and l[1][2] == call for l in inl), inl
    assert any(l[0][2] == body for l in inl), (body, inl)
    # each goroutine's samples are its own function's
    ids = {}
    for line in all_facts(cpu_run[3], "GO"):
        k, v = line.split()
        ids[k] = int(v)
    by_goroutine = {}
    for count, stack, labels in samples:
        m = re.search(r"goroutine:\[(\d+)\]", labels)
        funcs = {fr[0] for loc in stack for fr in locs[loc]}
        for name, key in zip(HOT, "abc"):
            if name in funcs:
                assert m and int(m.group(1)) == ids[key], (name, labels, ids)
                by_goroutine[key] = by_goroutine.get(key, 0) + count
    assert set(by_goroutine) == set("abc"), by_goroutine


def test_one_profile_at_a_time(cpu_run):
    _, _, f, _ = cpu_run
    assert f["BUSY"] == "EBUSY"          # a second start while one runs
    assert f["STOPPED"] == "EINVAL"      # a stop when none runs


# ---- Block -------------------------------------------------------------------------

def block_run(program, tmp_path, compiler, *args):
    exe = program("prof_block.c", compiler)
    path = tmp_path / "block.pb"
    r = run([exe, str(path), *args], timeout=60)
    assert r.returncode == 0 and "DONE" in r.stdout, r.stdout + r.stderr
    sites = {}
    for line in all_facts(r.stdout, "SITE"):
        name, calls, ns = line.split()
        sites[name] = (int(calls), int(ns))
    return exe, path, sites


SITES = {"recv": "wait_recv", "lock": "wait_lock", "group": "wait_group"}


@pytest.mark.parametrize("compiler", COMPILERS)
def test_block_profile_charges_each_wait_to_its_call(program, tmp_path, compiler):
    exe, path, sites = block_run(program, tmp_path, compiler)
    delay, out = top_flat(exe, path, "-sample_index=delay")
    count, cout = top_flat(exe, path, "-sample_index=contentions")
    for site, fn in SITES.items():
        calls, ns = sites[site]
        assert abs(delay.get(fn, 0) - ns) <= 0.1 * ns, (site, delay.get(fn), ns, out)
        # each call waited once (a mutex waiter may be woken and lose the race)
        assert count.get(fn, 0) >= calls, (site, count.get(fn), calls, cout)
        if site != "lock":
            assert count.get(fn, 0) == calls, (site, count.get(fn), calls, cout)
    raw = go_pprof("-raw", exe, str(path))
    locs, _ = raw_locations(raw)
    src = src_path("prof_block.c")
    for site, fn in SITES.items():
        lines = {l[0][2] for l in locs.values() if l and l[0][0] == fn}
        assert lines == {marker_line(src, f"LINE:{site}")}, (site, lines, raw[-3000:])


def test_block_profile_off_records_nothing(program, tmp_path):
    exe, path, sites = block_run(program, tmp_path, "gcc", "0")
    assert sites["recv"][0] == 10
    raw = go_pprof("-raw", exe, str(path))
    assert "contentions/count delay/nanoseconds" in raw, raw
    _, samples = raw_locations(raw)
    assert samples == [], raw


# ---- The debug endpoint's /debug/pprof/profile and /block --------------------------

def serving(targets, program, src, compiler, *args):
    exe = program(src, compiler)
    proc = targets.start([exe, *args])
    lines = LiveLines(proc)
    port = int(lines.until(lambda l: l.startswith("PORT "))[-1].split()[1])
    return exe, lines, f"http://127.0.0.1:{port}"


def cpu_now(lines):
    """The CPU figures of the first line the program printed from now on
    (each line carries its CLOCK_MONOTONIC time, the clock of
    time.monotonic_ns)."""
    t = time.monotonic_ns()
    line = lines.until(lambda l: l.startswith("CPU ") and int(l.split()[4]) >= t)[-1]
    return [int(x) for x in line.split()[1:4]]


@pytest.mark.parametrize("compiler", COMPILERS)
def test_go_tool_pprof_fetches_the_cpu_profile_itself(targets, program, tmp_path, compiler):
    exe, lines, url = serving(targets, program, "prof_cpu.c", compiler, "serve")
    before = cpu_now(lines)
    flat, out = top_flat(exe, f"{url}/debug/pprof/profile?seconds=2", tmp=tmp_path)
    after = cpu_now(lines)
    assert "Type: cpu" in out, out
    assert_shares(flat, [a - b for a, b in zip(after, before)], out)


def test_one_cpu_profile_at_a_time_and_others_meanwhile(targets, program):
    _, lines, url = serving(targets, program, "prof_cpu.c", "gcc", "serve")
    got = {}

    def fetch_profile():
        with urllib.request.urlopen(f"{url}/debug/pprof/profile?seconds=4", timeout=60) as r:
            got["first"] = (r.status, r.read())

    t = threading.Thread(target=fetch_profile)
    t.start()
    try:
        # the first runs once its handler waits in the goroutine profile;
        # meanwhile the rest of the endpoint answers
        def running():
            with urllib.request.urlopen(f"{url}/debug/pprof/goroutine?debug=1",
                                        timeout=60) as r:
                return "\tdebug_cpu_profile+" in r.read().decode()
        wait_until(running, timeout=30, what="the first CPU profile running")
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"{url}/debug/pprof/profile?seconds=1", timeout=60)
        assert e.value.code == 500 and b"already in use" in e.value.read()
        with urllib.request.urlopen(f"{url}/debug/vars", timeout=60) as r:
            assert r.status == 200 and b"memstats" in r.read()
        assert t.is_alive(), "the profile ended before the other requests were answered"
    finally:
        t.join(90)
    assert got["first"][0] == 200 and len(got["first"][1]) > 0


@pytest.mark.parametrize("compiler", COMPILERS)
def test_block_profile_from_the_endpoint(targets, program, tmp_path, compiler):
    exe, lines, url = serving(targets, program, "prof_block.c", compiler, "serve")
    lines.until(lambda l: l == "DONE", timeout=60)
    sites = {}
    for line in lines.lines:
        if line.startswith("SITE "):
            _, name, calls, ns = line.split()
            sites[name] = (int(calls), int(ns))
    delay, out = top_flat(exe, f"{url}/debug/pprof/block", "-sample_index=delay", tmp=tmp_path)
    for site, fn in SITES.items():
        ns = sites[site][1]
        assert abs(delay.get(fn, 0) - ns) <= 0.1 * ns, (site, delay.get(fn), ns, out)
