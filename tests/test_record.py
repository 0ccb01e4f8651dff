"""`goinspect record PID`: the sampling profiler.

The target, tests/programs/rec_hot.c, spins in spin_a, spin_b (inlined into
worker_b) and spin_c for 60, 30 and 10 % of the time and prints the CPU
time each really took.  Oracles: that printed truth, `perf record
--call-graph dwarf` + `perf report`, `go tool pprof` reading the file,
addr2line -i for the inlined frames, xml.etree for the SVG, /proc for the
target's state.  Recordings are short (1 to 2 s); shares are compared with
a tolerance, never a time.
"""
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

from attachlib import Target, goinspect, marker_line, prompt, read_until, run, src_path
from conftest import reaped, wait_until
from placeslib import not_stopped

SRC = "rec_hot.c"
HOT = ("spin_a", "spin_b", "spin_c")
SUMMARY = re.compile(r"goinspect: record: (\d+) samples.* mode (\w+);")


def start_hot(targets, program, *args):
    exe = program(SRC)
    proc = targets.start([exe, *args])
    t = Target(proc, exe, src_path(SRC))
    end = t.wait_line(lambda l: l == "READY")
    t.goids = {}
    for line in t.lines[:end]:
        if line.startswith("GO "):
            _, kind, goid = line.split()
            t.goids["spin_" + kind] = int(goid)
    return t


def cpu_truth(t, start):
    """The next CPU line of T from line START on: (index, [a, b, c] ns)."""
    i = t.wait_line(lambda l: l.startswith("CPU "), start=start)
    return i, [int(x) for x in t.lines[i].split()[1:]]


def record(pid, *args, timeout=60, env=None):
    return run([goinspect(), "record", str(pid), *args], timeout=timeout, env=env)


def summary(r):
    m = SUMMARY.search(r.stderr)
    assert m, f"no summary line:\n{r.stderr}"
    return int(m.group(1)), m.group(2)


def record_json(tmp_path, pid, *args, env=None):
    out = tmp_path / "rec.json"
    r = record(pid, "-f", "json", "-o", str(out), *args, env=env)
    assert r.returncode == 0, r.stderr
    with open(out) as f:
        return json.load(f), r


def functions(stack):
    return [f["function"] for f in stack["frames"]]


def inclusive_shares(doc, names, key=functions):
    """Each name's share of the samples whose stack holds any of NAMES."""
    count = dict.fromkeys(names, 0)
    for st in doc["stacks"]:
        fs = key(st)
        for n in names:
            if n in fs:
                count[n] += st["samples"]
    total = sum(count.values())
    assert total > 0, f"no sample in {names}: {doc['stacks'][:5]}"
    return {n: 100.0 * c / total for n, c in count.items()}


def truth_shares(before, after):
    d = [b - a for a, b in zip(before, after)]
    return {n: 100.0 * x / sum(d) for n, x in zip(HOT, d)}


def assert_close(got, want, points, what):
    for n in want:
        assert abs(got[n] - want[n]) <= points, \
            f"{what}: {n} has {got[n]:.1f} % of the samples, the truth is {want[n]:.1f} %" \
            f" (all: {got} against {want})"


def measured_record(t, tmp_path, *args):
    """A JSON recording of T with the program's truth over the same time."""
    i, before = cpu_truth(t, len(t.lines))
    doc, r = record_json(tmp_path, t.pid, *args)
    _, after = cpu_truth(t, len(t.lines))
    return doc, r, truth_shares(before, after)


# ---- What it measures ---------------------------------------------------------------

def test_shares_match_the_programs_truth(targets, program, tmp_path):
    t = start_hot(targets, program)
    # 1000 Hz: enough samples that a share's spread is about a point
    doc, r, truth = measured_record(t, tmp_path, "-d", "2", "-r", "1000")
    assert doc["mode"] == "perf"
    assert_close(inclusive_shares(doc, HOT), truth, 5, "perf mode")
    assert summary(r)[0] == doc["samples"]


def test_each_sample_belongs_to_its_goroutine(targets, program, tmp_path):
    t = start_hot(targets, program)
    doc, _ = record_json(tmp_path, t.pid, "-d", "1")
    src = src_path(SRC)
    for st in doc["stacks"]:
        hot = [n for n in HOT if n in functions(st)]
        if not hot:
            continue
        o = st["owner"]
        assert o["kind"] == "goroutine" and o["goroutine"] == t.goids[hot[0]], st
        assert o["status"] == "running" and o["tid"] in map(int, os.listdir(
            f"/proc/{t.pid}/task")), st
        line = marker_line(src, "LINE:go_" + hot[0][-1])
        assert o["created_by"] == f"prog {src}:{line}", st


def test_inlined_frames_are_their_own_functions_at_their_lines(targets, program, tmp_path):
    t = start_hot(targets, program)
    doc, _ = record_json(tmp_path, t.pid, "-d", "1")
    src = src_path(SRC)
    body, call = marker_line(src, "LINE:spin_b_body"), marker_line(src, "LINE:spin_b_call")
    seen = 0
    for st in doc["stacks"]:
        fr = st["frames"]
        for k, f in enumerate(fr):
            if f["function"] != "spin_b" or fr[0]["function"] != "spin_b":
                continue
            assert f["inlined"] and f["line"] == body, fr
            assert fr[k + 1]["function"] == "worker_b" and fr[k + 1]["line"] == call, fr
            assert fr[k + 1]["pc"] == f["pc"], "an inlined call shares its caller's pc"
            seen += st["samples"]
            # addr2line -i on the same pc names the same chain
            assert f["module"] == t.exe and f["exact"] == (k == 0)
            base = min(int(l.split("-")[0], 16) for l in open(f"/proc/{t.pid}/maps")
                       if l.rstrip().endswith(os.path.realpath(t.exe)))
            assert f["offset"] == f["pc"] - base
            r = run(["addr2line", "-f", "-i", "-e", t.exe, hex(f["offset"])])
            lines = r.stdout.split()
            assert lines[0] == "spin_b" and lines[1] == f"{src}:{body}", r.stdout
            assert lines[2] == "worker_b" and lines[3].startswith(f"{src}:{call}"), r.stdout
    assert seen > 0, "no sample in spin_b"


def test_agrees_with_perf_record(targets, program, tmp_path):
    if not shutil.which("perf"):
        pytest.skip("perf (linux-perf) not installed")
    t = start_hot(targets, program)
    data = tmp_path / "perf.data"
    # both over the same 2 s, both every 1 ms of each thread's CPU time
    perf = subprocess.Popen(["perf", "record", "-q", "--call-graph", "dwarf", "-e", "task-clock",
                             "-c", "1000000", "-p", str(t.pid), "-o", str(data), "--",
                             "sleep", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    with reaped(perf):
        doc, _ = record_json(tmp_path, t.pid, "-d", "2", "-r", "1000")
        _, err = perf.communicate(timeout=60)
    assert perf.returncode == 0, err
    r = run(["perf", "report", "-i", str(data), "--stdio", "--no-children", "--sort",
             "symbol", "-g", "none"], timeout=120)
    assert r.returncode == 0, r.stderr
    # perf names ELF symbols: spin_b's code is worker_b's
    syms = ("spin_a", "worker_b", "spin_c")
    shares = dict.fromkeys(syms, 0.0)
    for line in r.stdout.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+\[\.\]\s+(\S+)", line)
        if m and m.group(2) in shares:
            shares[m.group(2)] += float(m.group(1))
    total = sum(shares.values())
    assert total > 0, r.stdout
    shares = {k: 100 * v / total for k, v in shares.items()}

    def elf_symbol(st):
        """The function whose code the innermost pc is in: its first frame
        that is not inlined."""
        return [next(f["function"] for f in st["frames"] if not f["inlined"])]
    ours = inclusive_shares(doc, syms, key=elf_symbol)
    assert_close(ours, shares, 5, "against perf")


# ---- The formats ------------------------------------------------------------------

def go_pprof(*args):
    if not shutil.which("go"):
        pytest.skip("go (golang-go) not installed")
    r = run(["go", "tool", "pprof", *args], timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def raw_samples(raw):
    """The samples of `go tool pprof -raw` output ("COUNT NS: LOCATIONS" lines)."""
    return sum(int(m.group(1)) for m in re.finditer(r"^\s+(\d+)\s+\d+:[\d ]*$", raw, re.M))


def test_go_tool_pprof_reads_the_profile(targets, program, tmp_path):
    t = start_hot(targets, program)
    out = tmp_path / "p.pb.gz"
    r = record(t.pid, "-d", "2", "-o", str(out))
    assert r.returncode == 0, r.stderr
    n, _ = summary(r)
    with gzip.open(out) as f:
        f.read()                                    # gzip, whole
    top = go_pprof("-top", str(out))
    rows = [l.split() for l in top.splitlines() if re.match(r"\s*\d", l)]
    assert [row[5] for row in rows[:3]] == list(HOT), top     # by flat time
    assert "spin_b (inline)" in top, "pprof sees spin_b as inlined:\n" + top
    raw = go_pprof("-raw", str(out))
    assert "samples/count cpu/nanoseconds" in raw, raw[:2000]
    assert raw_samples(raw) == n, f"pprof reads {raw_samples(raw)} samples, goinspect took {n}"
    assert re.search(r"goroutine:\[\d+\]", raw) and "status:[running]" in raw, raw[:3000]


def test_folded_sums_to_the_sample_count(targets, program, tmp_path):
    t = start_hot(targets, program)
    for extra in ((), ("--threads",)):
        out = tmp_path / "p.folded"
        r = record(t.pid, "-d", "1", "-f", "folded", "-o", str(out), *extra)
        assert r.returncode == 0, r.stderr
        lines = out.read_text().splitlines()
        total = 0
        for line in lines:
            stack, count = line.rsplit(" ", 1)
            total += int(count)
            if extra:
                assert re.match(r"(goroutine \d+|thread \d+ \(.*\));", stack), line
        assert total == summary(r)[0]
        assert any(l.endswith(f";spin_a {l.rsplit(' ', 1)[1]}") for l in lines), lines


def test_svg_is_xml_and_names_the_hot_functions(targets, program, tmp_path):
    t = start_hot(targets, program)
    out = tmp_path / "p.svg"
    r = record(t.pid, "-d", "1", "-f", "svg", "-o", str(out))
    assert r.returncode == 0, r.stderr
    root = ET.parse(out).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == ns + "svg"
    titles = [e.text for e in root.iter(ns + "title")]
    for fn in HOT:
        assert any(x.startswith(fn + " (") for x in titles), \
            (fn, [x for x in titles if x.startswith(("spin_", "worker_", "all "))], r.stderr)
    n = summary(r)[0]
    assert f"all ({n} samples, 100.00%)" in titles


def test_progress_on_a_terminal(targets, program, tmp_path):
    t = start_hot(targets, program)
    argv = ["record", str(t.pid), "-d", "1.5", "-o", str(tmp_path / "p.pb.gz")]
    with prompt(argv) as (p, master):
        text = read_until(master, "wrote ", timeout=60)
        p.wait(timeout=30)
    # the line kept up to date ends in the summary
    assert re.search(rf"\rgoinspect: record: PID {t.pid} \(rec_hot\S*\): \d+ samples, \d+/s, "
                     r"\d+ lost", text), text
    assert p.returncode == 0


def test_default_file_name_carries_pid_and_format(targets, program, tmp_path):
    t = start_hot(targets, program)
    for fmt, ext in (("pprof", "pb.gz"), ("folded", "folded")):
        r = run([goinspect(), "record", str(t.pid), "-d", "0.3", "-f", fmt], cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert (tmp_path / f"record-{t.pid}.{ext}").exists(), os.listdir(tmp_path)


def test_idle_samples_parked_goroutines(targets, program, tmp_path):
    t = start_hot(targets, program)
    doc, _ = record_json(tmp_path, t.pid, "-d", "1", "--idle")
    main = [st for st in doc["stacks"] if st["owner"].get("goroutine") == 1]
    assert main, "the main goroutine, always parked in gort_sleep, has no sample"
    line = marker_line(src_path(SRC), "LINE:main_sleep")
    asleep = 0
    for st in main:
        o = st["owner"]
        assert o["status"] in ("waiting", "runnable") and o["tid"] is None, st
        if o["status"] == "waiting":
            assert o["wait_reason"] == "sleep", st
            asleep += st["samples"]
        assert [f["line"] for f in st["frames"] if f["function"] == "prog"] == [line], st
    assert asleep > sum(st["samples"] for st in main) / 2
    assert doc["samples"] > doc["cpu_samples"]


def test_new_threads_are_followed(targets, program, tmp_path):
    t = start_hot(targets, program, "0", "spawn")
    doc, _ = record_json(tmp_path, t.pid, "-d", "1.5")
    i = t.wait_line(lambda l: l.startswith("THREAD "))
    tid = int(t.lines[i].split()[1])
    mine = [st for st in doc["stacks"] if "spin_thread" in functions(st)]
    assert mine, "the thread started during the recording has no sample"
    for st in mine:
        assert st["owner"] == {"kind": "thread", "tid": tid, "thread": "hot-thread"}, st


def test_names_that_are_no_utf8(targets, program, tmp_path):
    """A thread name of bytes that are no UTF-8: the JSON has them as every
    goinspect document has (docs/json.md, Strings), the SVG is still XML."""
    t = start_hot(targets, program, "0", "spawn-odd")
    t.wait_line(lambda l: l.startswith("THREAD "))
    doc, _ = record_json(tmp_path, t.pid, "-d", "1")
    names = {st["owner"]["thread"] for st in doc["stacks"] if "spin_thread" in functions(st)}
    assert names == {"hot-\udcff\udcfe"}, names
    out = tmp_path / "p.svg"
    r = record(t.pid, "-d", "1", "-f", "svg", "--threads", "-o", str(out))
    assert r.returncode == 0, r.stderr
    titles = [e.text for e in ET.parse(out).getroot().iter("{http://www.w3.org/2000/svg}title")]
    assert any(x.startswith("thread ") and "(hot-\\xff\\xfe)" in x for x in titles), titles


# ---- The fallbacks ------------------------------------------------------------------

def test_ptrace_fallback(targets, program, tmp_path):
    t = start_hot(targets, program)
    doc, r, truth = measured_record(t, tmp_path, "-d", "2", "-r", "250", "--mode", "ptrace")
    assert doc["mode"] == "ptrace" and summary(r)[1] == "ptrace"
    # sampling by the threads' state: a wider margin than perf's, for the
    # runnable time a busy machine adds (docs/commands.md)
    assert_close(inclusive_shares(doc, HOT), truth, 10, "ptrace mode")
    assert not_stopped(t.pid)


def test_fallback_is_automatic_and_said(targets, program, tmp_path):
    t = start_hot(targets, program)
    doc, r = record_json(tmp_path, t.pid, "-d", "0.5", env={"GOINSPECT_RECORD_NO_PERF": "1"})
    assert doc["mode"] == "ptrace"
    assert "sampling with a ptrace stop per sample instead" in r.stderr
    r = record(t.pid, "-d", "0.5", "--mode", "perf", "-o", str(tmp_path / "x"),
               env={"GOINSPECT_RECORD_NO_PERF": "1"})
    assert r.returncode == 1 and "goinspect: record: perf_event_open" in r.stderr


def test_nonstop_never_stops_and_shows_entry_functions(targets, program, tmp_path):
    t = start_hot(targets, program)
    _, before = cpu_truth(t, len(t.lines))
    out = tmp_path / "p.json"
    p = subprocess.Popen([goinspect(), "record", str(t.pid), "-d", "2", "-r", "250",
                          "--nonstop", "-f", "json", "-o", str(out)], stderr=subprocess.PIPE,
                         text=True)
    with reaped(p):
        while p.poll() is None:     # never traced, never stopped, all along
            assert not_stopped(t.pid)
            time.sleep(0.005)
        _, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    _, after = cpu_truth(t, len(t.lines))
    truth = truth_shares(before, after)
    doc = json.loads(out.read_text())
    assert doc["mode"] == "nonstop"
    entry = {"spin_a": "worker_a", "spin_b": "worker_b", "spin_c": "worker_c"}
    shares = inclusive_shares(doc, list(entry.values()))
    assert_close({k: shares[v] for k, v in entry.items()}, truth, 10, "nonstop mode")
    for st in doc["stacks"]:
        assert len(st["frames"]) <= 1, st


# ---- The target is never left stopped ------------------------------------------------

def assert_runs_on(t):
    assert not_stopped(t.pid)
    _, a = cpu_truth(t, len(t.lines))
    _, b = cpu_truth(t, len(t.lines))
    assert b[0] > a[0], "the target makes no progress"


@pytest.mark.parametrize("mode", ["perf", "ptrace", "nonstop"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_ends_the_recording_and_writes_the_file(targets, program, tmp_path, mode,
                                                        sig):
    t = start_hot(targets, program)
    out = tmp_path / "p.folded"
    p = subprocess.Popen([goinspect(), "record", str(t.pid), "--mode", mode, "-f", "folded",
                          "-o", str(out)], stderr=subprocess.PIPE, text=True)
    with reaped(p):
        time.sleep(1)
        p.send_signal(sig)
        _, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert "stopped by" in err
    n = int(SUMMARY.search(err).group(1))
    assert n > 0 and sum(int(l.rsplit(" ", 1)[1]) for l in out.read_text().splitlines()) == n
    assert_runs_on(t)


@pytest.mark.parametrize("mode", ["perf", "ptrace"])
def test_sigkill_leaves_the_target_running(targets, program, tmp_path, mode):
    t = start_hot(targets, program)
    for delay in (0.3, 0.77, 1.1):
        p = subprocess.Popen([goinspect(), "record", str(t.pid), "--mode", mode, "-r", "1000",
                              "-o", str(tmp_path / "p.pb.gz")],
                             stderr=subprocess.DEVNULL)
        time.sleep(delay)
        p.kill()
        p.wait(timeout=30)
        assert_runs_on(t)
        # perf events die with goinspect: nothing samples the target any more
        for tid in os.listdir(f"/proc/{t.pid}/task"):
            with open(f"/proc/{t.pid}/task/{tid}/status") as f:
                assert re.search(r"^TracerPid:\s*0$", f.read(), re.M)


@pytest.mark.parametrize("mode", ["perf", "ptrace", "nonstop"])
def test_target_exit_gives_a_truncated_profile(targets, program, tmp_path, mode):
    t = start_hot(targets, program, "800")
    out = tmp_path / "p.pb.gz"
    r = record(t.pid, "-d", "30", "--mode", mode, "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert re.search(rf"PID {t.pid} \(rec_hot\S*\) exited.* after [\d.]+ s: the profile is "
                     r"truncated there", r.stderr), r.stderr
    n = summary(r)[0]
    assert n > 0
    raw = go_pprof("-raw", str(out))
    assert raw_samples(raw) == n


# ---- Bad input ----------------------------------------------------------------------

@pytest.mark.parametrize("args,code,message", [
    ([], 2, "record: which process?"),
    (["12x"], 2, "record: '12x' is not a process id"),
    (["1", "2"], 2, "record: unexpected argument '2'"),
    (["1", "-r", "0"], 2, "record: -r wants a number from 1 to 10000, not '0'"),
    (["1", "-d"], 2, "record: -d wants a number"),
    (["1", "-d", "-1"], 2, "record: -d wants a number"),
    (["1", "-f", "xml"], 2, "record: -f wants pprof, folded, svg or json, not 'xml'"),
    (["1", "--mode", "dtrace"], 2, "record: --mode wants perf, ptrace or nonstop"),
    (["1", "--frobnicate"], 2, "record: unknown option '--frobnicate'"),
    (["999999999"], 1, "record: PID 999999999: no such process"),
])
def test_bad_arguments(args, code, message, tmp_path):
    r = run([goinspect(), "record", *args], cwd=tmp_path)
    assert r.returncode == code, r.stderr
    assert r.stderr.startswith("goinspect: ") and message in r.stderr, r.stderr
    assert not os.listdir(tmp_path)


def test_not_a_libgort_program(targets, tmp_path):
    p = targets.start(["sleep", "60"])
    wait_until(lambda: os.path.realpath(f"/proc/{p.pid}/exe").endswith("/sleep") and
               open(f"/proc/{p.pid}/maps").read(), what="sleep to start")
    for mode in ("perf", "ptrace", "nonstop"):
        r = run([goinspect(), "record", str(p.pid), "--mode", mode, "-d", "1"], cwd=tmp_path)
        assert r.returncode == 1
        assert f"goinspect: record: PID {p.pid} (sleep) does not link libgort" in r.stderr
        assert not os.listdir(tmp_path)
    assert p.poll() is None


def test_few_file_descriptors(targets, program, tmp_path):
    """An event per thread and CPU: with too few descriptors some threads
    go unsampled, which is said, and the file is written all the same."""
    import resource
    t = start_hot(targets, program)
    out = tmp_path / "p.folded"
    r = subprocess.run([goinspect(), "record", str(t.pid), "-d", "0.5", "-f", "folded", "-o",
                        str(out)], capture_output=True, text=True, timeout=60,
                       preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (20, 20)))
    assert r.returncode == 0, r.stderr
    threads = len(os.listdir(f"/proc/{t.pid}/task"))
    if threads * os.cpu_count() > 20 // 4:          # events it may open
        assert re.search(r"warning: \d+ threads of PID \d+ .* were not sampled: out of file "
                         r"descriptors", r.stderr), r.stderr
    assert out.exists() and summary(r)[1] == "perf"
    assert_runs_on(t)


def test_unwritable_output(targets, program, tmp_path):
    t = start_hot(targets, program)
    r = record(t.pid, "-d", "0.2", "-o", str(tmp_path / "no" / "such" / "dir" / "p.pb.gz"))
    assert r.returncode == 1 and "goinspect: record: " in r.stderr, r.stderr
    assert_runs_on(t)
