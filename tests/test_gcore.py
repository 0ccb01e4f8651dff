"""goinspect gcore PID: a core file of a live process.

Oracles: the kernel's own core of the same stopped process (its layout,
its memory, its notes), gdb and eu-stack on the live process and on the
core, readelf and eu-readelf, /proc, the targets' own truth
(tests/programs/gcore_shapes.c, gcore_churn.c, the insp_* and heap_*
programs), and `goinspect attach` on the stopped process just before."""
import json
import os
import re
import signal
import struct
import subprocess
import time

import pytest

from attachlib import (AS_NOBODY, attach, gdb_backtraces, goinspect, same_function, start,
                       stat_state, world_copies)
from conftest import need_private_mount_namespace, run, wait_until
from corelib import (core, core_json, kernel_cores_here, start_dumpable, stopped,
                     unlimited_core)
from gcorelib import (Core, allocated, assert_released, build_c, build_preload, gcore, gcore_json,
                      NO_RSEQ, pattern, rss_bytes, start_plain)
from heaplib import COLLECTORS, concurrent_marking_available
from rtlib import facts, words
from test_core import check_same_as_live, live_views

MIB = 1 << 20
PAGE = 4096


@pytest.fixture(scope="session")
def shapes(tmp_path_factory):
    d = tmp_path_factory.mktemp("gcore-programs")
    return build_c("gcore_shapes.c", str(d / "gcore_shapes"))


@pytest.fixture(scope="session")
def churn(tmp_path_factory):
    d = tmp_path_factory.mktemp("gcore-churn")
    return build_c("gcore_churn.c", str(d / "gcore_churn"))


@pytest.fixture(scope="session")
def oldsystem(tmp_path_factory):
    return build_preload("oldsystem", str(tmp_path_factory.mktemp("gcore-preload") / "old.so"))


@pytest.fixture(scope="session")
def fake_softdirty(tmp_path_factory):
    return build_preload("softdirty", str(tmp_path_factory.mktemp("gcore-preload") / "sd.so"))


def no_files_but(d, keep):
    return sorted(set(os.listdir(d)) - set(keep))


# ---- What the core holds: the kernel's core of the same process ------------

def kernel_and_ours(targets, shapes, tmp_path, filter_=None, mib=4, opts=()):
    """gcore_shapes (stopped), our core of it, then the kernel's."""
    plain = start_plain(targets, shapes, mib, cwd=str(tmp_path), preexec_fn=unlimited_core,
                        env=NO_RSEQ)
    if filter_ is not None:
        with open(f"/proc/{plain.pid}/coredump_filter", "w") as f:
            f.write(f"{filter_:#x}")
    plain.stop()
    ours = str(tmp_path / "ours.core")
    doc = gcore_json(plain.pid, ours, *opts)
    assert_released(plain.pid)
    return plain, doc, ours


def kill_for_core(plain, tmp_path):
    """The kernel's core of plain (killed by SIGABRT)."""
    os.kill(plain.pid, signal.SIGABRT)
    os.kill(plain.pid, signal.SIGCONT)
    plain.proc.wait(timeout=60)
    assert plain.proc.returncode == -signal.SIGABRT
    path = str(tmp_path / "core")
    wait_until(lambda: os.path.exists(path) and os.path.getsize(path) > 0, timeout=30,
               what="the kernel's core")
    return path


@pytest.mark.parametrize("filter_", [None, 0x0, 0x1, 0x2, 0x4, 0x8, 0x10, 0x7f],
                         ids=lambda v: "default" if v is None else f"{v:#x}")
def test_same_segments_and_memory_as_the_kernels_core(targets, shapes, tmp_path, filter_):
    if not kernel_cores_here():
        pytest.skip("the kernel's core_pattern does not write a file in the working directory")
    plain, doc, ours = kernel_and_ours(targets, shapes, tmp_path, filter_)
    kernel = Core(kill_for_core(plain, tmp_path))
    mine = Core(ours)
    # one PT_LOAD per mapping, with the kernel's sizes: what coredump_filter
    # leaves out has p_filesz 0 (or one page: an ELF file's headers)
    assert mine.layout() == kernel.layout()
    for a, b in zip(mine.segs, kernel.segs):
        assert mine.dumped(a) == kernel.dumped(b), f"segment at {a[0]:#x}"
    # the kernel's core fills pages written with zeros; ours leaves them as holes
    assert allocated(ours) <= allocated(kernel.path) + 64 * 1024


@pytest.mark.parametrize("sig", ["SIGUSR1", "SIGUSR2"])
def test_mappings_that_change_between_the_plan_and_the_stop(targets, shapes, tmp_path, sig):
    """goinspect is held under gdb after its plan of the mappings, before
    the stop, while the target writes to a file mapping it had not written
    (SIGUSR1: now the kernel dumps it whole), or unmaps one mapping and maps
    and fills another (SIGUSR2): the core is still the kernel's."""
    if not kernel_cores_here():
        pytest.skip("the kernel's core_pattern does not write a file in the working directory")
    plain = start_plain(targets, shapes, 1, cwd=str(tmp_path), preexec_fn=unlimited_core,
                        env=NO_RSEQ)
    ours = str(tmp_path / "ours.core")
    hold_and_change([goinspect(), "gcore", "-o", ours, str(plain.pid)], sig, plain.pid, tmp_path)
    assert_released(plain.pid)
    kernel, mine = Core(kill_for_core(plain, tmp_path)), Core(ours)
    assert mine.layout() == kernel.layout()
    for a, b in zip(mine.segs, kernel.segs):
        assert mine.dumped(a) == kernel.dumped(b), f"segment at {a[0]:#x}"
    if sig == "SIGUSR2":
        assert mine.segment(plain.maps["zeros"][0]) is None


def hold_and_change(exe_argv, sig, pid, tmp_path, env=()):
    """Runs goinspect under gdb, held at stage_size (its plan made, and its
    pre-copy done if any, before the stop), while the target changes on
    signal sig, goes back to its waits (pause, futex, read of a signalfd:
    system calls 34, 202, 0) and is stopped (SIGSTOP: nothing changes any more, and
    nothing runs when the kernel continues it to dump); returns gdb's
    output."""
    wait = tmp_path / "change.sh"
    waits = "34 202 0"
    wait.write_text(f"kill -{sig[3:]} {pid}\n"
                    f"until test -s {tmp_path}/changed; do sleep 0.01; done\n"
                    "blocked() {\n"
                    f"  for s in /proc/{pid}/task/*/syscall; do\n"
                    f"    case \" {waits} \" in *\" $(cut -d' ' -f1 $s) \"*) ;; *) return 1;; esac\n"
                    "  done\n}\n"
                    "until blocked; do sleep 0.01; done\n"
                    f"kill -STOP {pid}\n"
                    f"until test -z \"$(grep -L '^State:.T' /proc/{pid}/task/*/status)\"\n"
                    "do sleep 0.01; done\n")
    sets = [a for k, v in env for a in ("-ex", f"set environment {k} {v}")]
    r = run(["gdb", "-q", "-nx", "-batch", *sets, "-ex", "break stage_size", "-ex", "run",
             "-ex", f"shell timeout 20 sh {wait}", "-ex", "continue", "--args", *exe_argv],
            timeout=120, stdin=subprocess.DEVNULL)
    assert "Breakpoint 1, " in r.stdout and "exited normally" in r.stdout, r.stdout + r.stderr
    return r.stdout


def test_precopy_keeps_the_pages_not_written_since(targets, shapes, tmp_path, fake_softdirty):
    """The pre-copy with soft-dirty bits: this kernel keeps none, so a
    preloaded library (tests/tools/softdirty.c) reports every page written
    since the pre-copy but those of the 1 GiB mapping, where the target
    writes one page meanwhile, and that one; it also drops a block of that
    mapping (zeros again).  The stop copies those pages and not the 4 MiB
    pre-copied, and the core is still the kernel's."""
    if not kernel_cores_here():
        pytest.skip("the kernel's core_pattern does not write a file in the working directory")
    plain = start_plain(targets, shapes, 4, cwd=str(tmp_path), preexec_fn=unlimited_core,
                        env=NO_RSEQ)
    big = plain.maps["big"][0]
    ours = str(tmp_path / "ours.core")
    out = hold_and_change([goinspect(), "--json", "gcore", "-o", ours, str(plain.pid)], "SIGHUP",
                          plain.pid, tmp_path,
                          env=[("LD_PRELOAD", fake_softdirty),
                               ("SOFTDIRTY_CLEAN", f"{big + PAGE:x}-{big + plain.maps['big'][1]:x}")])
    doc = json.loads(re.search(r"^\{.*\}$", out, re.M).group(0))
    assert doc["precopy"] is True and doc["precopied_bytes"] >= 4 * MIB
    assert doc["stop_copied_bytes"] < 2 * MIB, doc
    assert_released(plain.pid)
    kernel, mine = Core(kill_for_core(plain, tmp_path)), Core(ours)
    assert mine.layout() == kernel.layout()
    for a, b in zip(mine.segs, kernel.segs):
        assert mine.dumped(a) == kernel.dumped(b), f"segment at {a[0]:#x}"
    assert mine.read(big, 16) == pattern(big, 16, 0x5eed)
    assert mine.read(big + 16 * MIB, MIB) == bytes(MIB)


def test_every_readable_mapping_with_all(targets, shapes, tmp_path):
    plain, doc, ours = kernel_and_ours(targets, shapes, tmp_path, opts=("--all",))
    c = Core(ours)
    with open(f"/proc/{plain.pid}/maps") as f:
        maps = [l.split() for l in f]
    assert len(c.segs) == len(maps)
    for (vaddr, memsz, filesz, flags, _), m in zip(c.segs, maps):
        lo, hi = (int(x, 16) for x in m[0].split("-"))
        assert (vaddr, memsz) == (lo, hi - lo)
        special = len(m) > 5 and m[5] in ("[vdso]", "[vvar]", "[vvar_vclock]", "[vsyscall]")
        assert filesz == (memsz if m[1][0] == "r" or special else 0), m
    # memory marked MADV_DONTDUMP too
    lo, n = plain.maps["dontdump"]
    assert c.read(lo, n) == pattern(lo, n, 0xdd)


def test_memory_is_the_processs_and_the_file_is_sparse(targets, shapes, tmp_path):
    plain = start_plain(targets, shapes, 64, cwd=str(tmp_path))
    plain.stop()
    rss = rss_bytes(plain.pid)
    path = str(tmp_path / "core.x")
    doc = gcore_json(plain.pid, path)
    c = Core(path)
    # every range the program wrote, word for word
    for addr, n, salt in plain.fills:
        if not (plain.maps["dontdump"][0] <= addr < sum(plain.maps["dontdump"])):
            assert c.read(addr, n) == pattern(addr, n, salt), f"FILL {addr:#x}"
    # never touched: zeros (a hole); MADV_DONTDUMP: not in the core
    big, size = plain.maps["big"]
    assert c.read(big + 8 * MIB + 5 * PAGE, PAGE) == bytes(PAGE)
    assert c.read(big + size - PAGE, PAGE) == bytes(PAGE)
    assert c.read(plain.maps["dontdump"][0], 8) is None
    # a private file mapping written to is dumped whole: its unwritten page
    # is the file's; pages past the end of a file are zeros
    fp = plain.maps["fileprivate"][0]
    assert c.read(fp, PAGE) == b"F" * PAGE
    pe = plain.maps["pasteof"][0]
    assert c.read(pe + PAGE, 3 * PAGE) == bytes(3 * PAGE)
    # sizes: the apparent one spans the 1 GiB mapping; what is allocated is
    # about what the process has resident
    st = os.stat(path)
    # (the file system may add blocks of its own later, as it writes the file out)
    assert doc["size"] == st.st_size and abs(doc["allocated"] - allocated(path)) <= MIB
    assert st.st_size > size
    assert 64 * MIB <= allocated(path) <= 1.2 * rss, (allocated(path), rss)
    # gdb reads the same words from it
    addr, n, salt = plain.fills[7]
    r = run(["gdb", "-q", "-nx", "-batch", "-ex", f"core-file {path}",
             "-ex", f"x/2gx {addr + 4096}"], timeout=60)
    want = [(addr + 4096) ^ salt, (addr + 4104) ^ salt]
    got = [int(x, 16) for x in re.findall(r"0x[0-9a-f]{16}", r.stdout.split(":", 1)[-1])]
    assert got[-2:] == want, r.stdout + r.stderr


def test_readelf_lists_the_notes_and_segments(targets, shapes, tmp_path):
    plain = start_plain(targets, shapes, 1, cwd=str(tmp_path))
    plain.stop()
    tids = sorted(int(t) for t in os.listdir(f"/proc/{plain.pid}/task"))
    path = str(tmp_path / "core.x")
    before = (time.monotonic_ns(), time.time_ns())
    gcore_json(plain.pid, path)
    after = (time.monotonic_ns(), time.time_ns())
    notes = run(["readelf", "-nW", path]).stdout
    kinds = re.findall(r"^\s+(\S+)\s+0x[0-9a-f]+\s+(.*?)\s*$", notes, re.M)
    count = lambda owner, what: sum(1 for o, d in kinds if o == owner and d.startswith(what))
    assert count("CORE", "NT_PRSTATUS") == len(tids)
    assert count("CORE", "NT_FPREGSET") == len(tids)
    assert count("LINUX", "NT_X86_XSTATE") == len(tids)
    for what in ("NT_PRPSINFO", "NT_SIGINFO", "NT_AUXV", "NT_FILE"):
        assert count("CORE", what) == 1, what
    assert count("GOINSPECT", "Unknown note type: (0x47490001)") == len(tids)
    assert count("GOINSPECT", "Unknown note type: (0x47490002)") == 1
    # goinspect's: the moment of the dump, on both clocks; each thread's
    # state and name as /proc showed them (stopped: T)
    own = [(t, d) for o, t, d in Core(path).notes() if o == "GOINSPECT"]
    (when,) = [struct.unpack("<qq", d) for t, d in own if t == 0x47490002]
    assert before[0] <= when[0] <= after[0] and before[1] <= when[1] <= after[1]
    names = []
    for tid in tids:
        with open(f"/proc/{plain.pid}/task/{tid}/comm", "rb") as f:
            names.append(b"T" + f.read().strip().ljust(16, b"\0"))
    assert sorted(d for t, d in own if t == 0x47490001) == sorted(names)
    # the auxiliary vector is /proc's
    with open(f"/proc/{plain.pid}/auxv", "rb") as f:
        assert [d for o, t, d in Core(path).notes() if (o, t) == ("CORE", 6)] == [f.read()]
    # each thread's pr_pid, no signal (alive), and the main thread first
    eu = run(["eu-readelf", "-n", path]).stdout
    assert [int(p) for p in re.findall(r"^\s+pid: (\d+), ppid", eu, re.M)] == \
        [plain.pid] + [t for t in tids if t != plain.pid]
    assert set(re.findall(r"cursig: (\d+)", eu)) == {"0"}
    assert re.search(r"^\s+si_signo: 0, si_errno: 0, si_code: 0$", eu, re.M)
    # NT_FILE: every file mapping of /proc/PID/maps
    with open(f"/proc/{plain.pid}/maps") as f:
        maps = [l.split(maxsplit=5) for l in f]
    files = [(int(m[0].split("-")[0], 16), int(m[0].split("-")[1], 16), int(m[2], 16),
              m[5].strip()) for m in maps if len(m) == 6 and m[5].startswith("/")]
    got = [(int(a, 16), int(b, 16), int(o, 16), p.strip()) for a, b, o, p in
           re.findall(r"^\s+([0-9a-f]+)-([0-9a-f]+) ([0-9a-f]+) \d+\s+(.*)$", eu, re.M)]
    assert got == files
    # the segments: one per mapping
    load = re.findall(r"^\s+LOAD\s+0x[0-9a-f]+ (0x[0-9a-f]+) 0x[0-9a-f]+ 0x[0-9a-f]+ "
                      r"(0x[0-9a-f]+) (.{3})", run(["readelf", "-lW", path]).stdout, re.M)
    assert len(load) == len(maps)
    for (va, memsz, flg), m in zip(load, maps):
        lo, hi = (int(x, 16) for x in m[0].split("-"))
        assert (int(va, 16), int(memsz, 16)) == (lo, hi - lo)
        perms = m[1]
        assert flg == ("R" if perms[0] == "r" else " ") + ("W" if perms[1] == "w" else " ") + \
            ("E" if perms[2] == "x" else " "), (flg, perms)


def eu_notes(path):
    """{type: text} of the CORE notes, as eu-readelf -n reads them (the
    first of each type)."""
    out, cur = {}, None
    for line in run(["eu-readelf", "-n", path]).stdout.splitlines():
        m = re.match(r"^  ([A-Z]\S*)\s+\d+\s+(.+)$", line)
        if m:
            cur = m.group(2) if m.group(1) == "CORE" and m.group(2) not in out else None
            if cur:
                out[cur] = ""
        elif cur:
            out[cur] += line + "\n"
    return out


def test_notes_are_the_kernels(targets, shapes, tmp_path):
    """The process's notes (eu-readelf's reading) are those of the kernel's
    core of the same process; only the state differs (stopped for ours,
    running for the kernel's: it dumps as it dies)."""
    if not kernel_cores_here():
        pytest.skip("the kernel's core_pattern does not write a file in the working directory")
    plain, doc, ours = kernel_and_ours(targets, shapes, tmp_path)
    kernel = kill_for_core(plain, tmp_path)

    def process_notes(path):
        notes = eu_notes(path)
        ps = [line for line in notes["PRPSINFO"].splitlines() if "sname:" not in line]
        return notes["AUXV"], notes["FILE"], ps

    assert process_notes(ours) == process_notes(kernel)


# ---- gdb, eu-stack and goinspect read it --------------------------------------

EU_THREAD = re.compile(r"^TID (\d+):")
EU_FRAME = re.compile(r"^#\d+\s+0x[0-9a-f]+\s+(\S+)")


def eu_stacks(argv):
    r = run(argv, timeout=60)
    out, cur = {}, None
    for line in r.stdout.splitlines():
        m = EU_THREAD.match(line)
        if m:
            cur = out.setdefault(int(m.group(1)), [])
        elif cur is not None and EU_FRAME.match(line):
            cur.append(EU_FRAME.match(line).group(1))
    assert out, r.stdout + r.stderr
    return out


def gdb_core_backtraces(exe, path):
    """{tid: [function, ...]} of gdb's `thread apply all bt` on a core."""
    r = run(["gdb", "-q", "-nx", "-batch", exe, path, "-ex", "thread apply all bt"], timeout=60)
    # every note is what gdb takes it for (BFD reads a note of any owner by
    # its type: a type 2 would be one more NT_FPREGSET, "too small")
    assert "in core file too small" not in r.stdout + r.stderr, r.stderr
    bts, cur = {}, None
    for line in r.stdout.splitlines():
        m = re.match(r"^Thread \d+ \(.*?LWP (\d+)\)", line)
        if m:
            cur = bts.setdefault(int(m.group(1)), [])
            continue
        m = re.match(r"^#(\d+)\s+(?:0x[0-9a-f]+ in )?(\S+) \(", line)
        if m and cur is not None:
            cur.append(m.group(2))
    assert bts, r.stdout + r.stderr
    return bts


@pytest.fixture
def park(targets, program, tmp_path):
    t = start_dumpable(targets, program, "insp_park.c", "park", cwd=str(tmp_path))
    stopped(t)
    return t


def test_gdb_and_eu_stack_show_the_threads_and_frames_of_the_live_process(park, tmp_path):
    live = gdb_backtraces(park.pid)
    live_eu = eu_stacks(["eu-stack", "-p", str(park.pid)])
    path = str(tmp_path / "park.core")
    doc = gcore_json(park.pid, path)
    assert doc["threads"] == len(live)
    ours = gdb_core_backtraces(park.exe, path)
    assert sorted(ours) == sorted(live)
    for tid in live:
        assert len(ours[tid]) == len(live[tid]) and \
            all(map(same_function, ours[tid], live[tid])), (tid, ours[tid], live[tid])
    assert eu_stacks(["eu-stack", "--core", path, "-e", park.exe]) == live_eu


def test_goinspect_core_shows_what_attach_showed(park, tmp_path):
    live = live_views(park)
    path = str(tmp_path / "park.core")
    gcore_json(park.pid, path)
    check_same_as_live(live, path, park)
    s = core_json(path, "summary")
    assert s["ended"]["alive"] is True and s["ended"]["signal"] is None
    # the threads' names and states come from goinspect's own notes
    threads = core_json(path, "threads")["threads"]
    for th in threads:
        with open(f"/proc/{park.pid}/task/{th['tid']}/comm") as f:
            assert th["name"] == f.read().strip()
        assert th["state"] == "T"


def test_output_text(park, tmp_path):
    r = gcore(park.pid, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    path = tmp_path / f"core.{park.pid}"
    assert re.fullmatch(rf"wrote core\.{park.pid} \(\S+, \S+ allocated\) of PID {park.pid} "
                        rf"\(insp_park-gcc\): {len(os.listdir(f'/proc/{park.pid}/task'))} threads, "
                        r"paused \S+\n", r.stdout), r.stdout
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert no_files_but(tmp_path, {f"core.{park.pid}"}) == []


# ---- One moment ---------------------------------------------------------------

def generations(c, addr, n):
    return [int.from_bytes(c.read(addr + i * PAGE, 8), "little") for i in range(n)]


@pytest.mark.parametrize("opts", [(), ("--no-precopy",)], ids=["default", "no-precopy"])
def test_memory_is_of_one_moment(targets, churn, tmp_path, opts):
    """Memory that a thread rewrites without pause: the core holds
    generation g in a prefix of the pages and g - 1 after, as at any one
    moment; a copy made while it ran would not."""
    plain = start_plain(targets, churn)
    addr, n = int(plain.facts["CHURN"][0], 16), int(plain.facts["CHURN"][1])
    for i in range(3):
        path = str(tmp_path / f"churn.{i}")
        gcore_json(plain.pid, path, *opts)
        assert_released(plain.pid)
        g = generations(Core(path), addr, n)
        top = g[0]
        assert top >= 1 and all(v in (top, top - 1) for v in g), sorted(set(g))
        assert g == sorted(g, reverse=True), "an older generation before a newer one"


# ---- A program that allocates and collects ------------------------------------

@pytest.mark.parametrize("mode,iters", [("stress", "STRESS_ITERS=400000"),
                                        ("shuffle", "SHUFFLE_ITERS=3000000")])
def test_dumps_of_a_program_collecting_concurrently(targets, program, tmp_path, mode, iters):
    """gcore again and again on a program that allocates and collects with
    concurrent marking (heap_stress): it is released after every dump, its
    own checks stay right, and every core can be read.  A run that ends
    before three dumps (a fast machine, a slow dump) is followed by another,
    until three dumps are taken."""
    key, _, value = iters.partition("=")
    exe = program("heap_stress.c")
    dumps = runs = 0
    while dumps < 3:
        assert runs < 6, f"only {dumps} dumps in {runs} runs"
        runs += 1
        proc = targets.start([exe, mode], env={"GORT_DEBUG": COLLECTORS["concurrent"],
                                                key: value, "GORT_MAXPROCS": "2"})
        # once it runs its own program, and the runtime has started
        wait_until(lambda: attach(proc.pid, "summary").returncode == 0, timeout=30,
                   what="the runtime to start")
        while proc.poll() is None and dumps < 12:
            path = str(tmp_path / f"c.{dumps}")
            r = gcore(proc.pid, "-o", path)
            if proc.poll() is not None:
                break                       # it finished meanwhile
            assert r.returncode == 0, r.stderr
            assert_released(proc.pid)
            assert stat_state(proc.pid) not in ("t", "T")
            s = core(path, "summary")
            assert s.returncode == 0, s.stderr
            os.unlink(path)
            dumps += 1
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert words(facts(out)[mode])["bad"] == "0", out
    if concurrent_marking_available():
        assert int(words(facts(out)[mode]).get("cycles", words(facts(out)[mode]).get("gcs"))) > 0


# ---- Interrupted ----------------------------------------------------------------

# Where goinspect is stopped (a function of gcore.c) to be sent the signal:
# before the stop, in it (the target's threads held), after it (writing).
PHASES = {"before": "stage_size", "in": "procnotes_threads", "after": "write_headers"}


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("phase", list(PHASES))
@pytest.mark.parametrize("system", ["this", "old"])
def test_a_signal_during_the_dump(targets, program, tmp_path, oldsystem, sig, phase, system):
    """goinspect, stopped under gdb at a point of the dump, is sent SIGINT
    or SIGTERM: the target runs on, untraced, and no file is left (also
    where the file is written under a partial name: no O_TMPFILE)."""
    t = start(targets, program, "insp_park.c", "park")
    out = tmp_path / "out"
    out.mkdir()
    env = ["-ex", f"set environment LD_PRELOAD {oldsystem}"] if system == "old" else []
    argv = ["gdb", "-q", "-nx", "-batch", "-ex", "set breakpoint pending on",
            "-ex", "set confirm off", *env, "-ex", f"break {PHASES[phase]}", "-ex", "run",
            "-ex", f"shell echo files: $(ls {out})", "-ex", f"signal {sig}",
            "--args", goinspect(), "gcore", "-o", str(out / "core"), str(t.pid)]
    r = run(argv, timeout=120, stdin=subprocess.DEVNULL)
    text = r.stdout + r.stderr
    assert "Breakpoint 1, " in text, text
    # meanwhile the file had no name, or its partial one
    files = re.search(r"^files:(.*)$", text, re.M).group(1).split()
    assert files == ([] if system == "this" else [f"core.partial.{inferior_pid(text)}"]), text
    assert "exited with code 01" in text, text
    assert f"interrupted by {sig}" in text, text
    assert os.listdir(out) == [], "a file was left"
    assert_released(t.pid)
    t.assert_progress()


@pytest.mark.parametrize("phase", ["before", "in"])
def test_the_target_killed_during_the_dump(targets, shapes, tmp_path, phase):
    """The target dies (SIGKILL) while goinspect is held under gdb before
    the stop, or in it: a clear error, and no file."""
    plain = start_plain(targets, shapes, 4, cwd=str(tmp_path))
    out = tmp_path / "out"
    out.mkdir()
    r = run(["gdb", "-q", "-nx", "-batch", "-ex", f"break {PHASES[phase]}", "-ex", "run",
             "-ex", f"shell kill -KILL {plain.pid}", "-ex", "continue",
             "--args", goinspect(), "gcore", "-o", str(out / "core"), str(plain.pid)],
            timeout=120, stdin=subprocess.DEVNULL)
    text = r.stdout + r.stderr
    assert "Breakpoint 1, " in text and "exited with code 01" in text, text
    assert re.search(rf"^goinspect: PID {plain.pid} \(gcore_shapes\) exited (during the snapshot|"
                     r"during the dump)$", text, re.M), text
    assert os.listdir(out) == []


def inferior_pid(gdb_output):
    return int(re.search(r"\[Inferior 1 \(process (\d+)\) exited", gdb_output).group(1))


def test_signals_at_any_moment_of_a_big_dump(targets, shapes, tmp_path):
    """A dump of 64 MiB, sent SIGTERM at moments spread over its length:
    whatever it was doing, the target is left running and untraced, and
    there is a complete core or none."""
    plain = start_plain(targets, shapes, 64, cwd=str(tmp_path))
    out = tmp_path / "out"
    out.mkdir()
    t0 = time.monotonic()
    gcore_json(plain.pid, str(out / "first"))
    took = time.monotonic() - t0
    os.unlink(out / "first")
    for i in range(10):
        path = out / f"core.{i}"
        p = subprocess.Popen([goinspect(), "gcore", "-o", str(path), str(plain.pid)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(took * i / 10)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
        assert_released(plain.pid)
        assert stat_state(plain.pid) in ("S", "R")
        if os.path.exists(path):
            # complete: the signal came once it had its name (then goinspect
            # ends by it after printing, or exits 0)
            assert p.returncode in (0, -signal.SIGTERM), (p.returncode, err)
            assert Core(str(path)).read(*plain.fills[0][:2]) == pattern(*plain.fills[0])
            os.unlink(path)
        else:
            # killed before its handlers were set, or by them
            assert p.returncode == -signal.SIGTERM or \
                (p.returncode == 1 and "interrupted by SIGTERM" in err), (p.returncode, err)
        assert os.listdir(out) == [], os.listdir(out)


# ---- Without PAGEMAP_SCAN and O_TMPFILE -------------------------------------------

def test_an_older_system_writes_the_same_core(targets, shapes, tmp_path, oldsystem):
    """Pagemap read entry by entry, the file written under a partial name:
    the same core."""
    plain = start_plain(targets, shapes, 8, cwd=str(tmp_path))
    plain.stop()
    out = tmp_path / "out"
    out.mkdir()
    gcore_json(plain.pid, str(out / "a"))
    trace = str(tmp_path / "strace")
    r = run(["strace", "-f", "-e", "trace=ioctl,openat", "-o", trace, goinspect(), "gcore", "-o",
             str(out / "b"), str(plain.pid)], env={"LD_PRELOAD": oldsystem}, timeout=120)
    assert r.returncode == 0, r.stderr
    # the kernel never saw a PAGEMAP_SCAN (_IOWR('f', 16, 96 bytes)) nor an O_TMPFILE
    with open(trace) as f:
        calls = f.read()
    assert "0xc0606610" not in calls and "O_TMPFILE" not in calls, calls[-3000:]
    assert f"{out}/b.partial." in calls
    a, b = Core(str(out / "a")), Core(str(out / "b"))
    assert a.layout() == b.layout()
    for x, y in zip(a.segs, b.segs):
        assert a.dumped(x) == b.dumped(y)
    assert sorted(os.listdir(out)) == ["a", "b"]
    assert allocated(str(out / "b")) <= allocated(str(out / "a")) + 64 * 1024


# ---- Bad input ------------------------------------------------------------------

def test_no_such_process(tmp_path):
    p = subprocess.Popen(["true"])
    p.wait()
    r = gcore(p.pid, cwd=str(tmp_path))
    assert r.returncode == 1 and r.stderr == f"goinspect: PID {p.pid}: no such process\n"
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("args,msg", [
    (["x"], "gcore: 'x' is not a process id"),
    ([], "gcore: which process?"),
    (["-o"], "gcore: -o needs a file name"),
    (["--bogus", "1"], "gcore: unknown option '--bogus'"),
    (["1", "2"], "gcore: one process at a time"),
])
def test_usage_errors(args, msg):
    r = run([goinspect(), "gcore", *args])
    assert r.returncode == 2 and r.stderr.startswith(f"goinspect: {msg}"), r.stderr


def test_an_existing_file_is_replaced_only_with_force(targets, shapes, tmp_path):
    plain = start_plain(targets, shapes, 1, cwd=str(tmp_path))
    path = tmp_path / "keep"
    path.write_text("precious\n")
    r = gcore(plain.pid, "-o", str(path))
    assert r.returncode == 1 and r.stderr == (
        f"goinspect: {path}: the file exists (goinspect gcore replaces a file only with "
        "--force)\n"), r.stderr
    assert path.read_text() == "precious\n"
    r = gcore(plain.pid, "-o", str(tmp_path))
    assert r.returncode == 1 and r.stderr == f"goinspect: {tmp_path}: is a directory\n"
    gcore_json(plain.pid, str(path), "--force")
    assert Core(str(path)).read(*plain.fills[0][:2]) == pattern(*plain.fills[0])
    assert_released(plain.pid)


def test_a_directory_that_cannot_be_written(targets, shapes, tmp_path):
    plain = start_plain(targets, shapes, 1, cwd=str(tmp_path))
    r = gcore(plain.pid, "-o", str(tmp_path / "none" / "core"))
    assert r.returncode == 1 and r.stderr == (
        f"goinspect: {tmp_path / 'none' / 'core'}: No such file or directory\n"), r.stderr
    assert_released(plain.pid)
    # a user who may trace the process but not write there
    with world_copies(shapes) as (exe,):
        t = subprocess.Popen(AS_NOBODY + [exe, "1"], cwd="/tmp", stdout=subprocess.PIPE,
                             text=True, start_new_session=True)
        targets.procs.append(t)
        wait_until(lambda: t.stdout.readline().strip() == "READY", timeout=30)
        r = run(AS_NOBODY + [goinspect(), "gcore", "-o", "/core.nobody", str(t.pid)])
        assert r.returncode == 1 and r.stderr == "goinspect: /core.nobody: Permission denied\n", \
            r.stderr
        assert not os.path.exists("/core.nobody")
        assert_released(t.pid)


def test_a_full_disk(targets, shapes, tmp_path):
    """ENOSPC while the memory is written: a clear error, and the partial
    file is gone (a private mount namespace with a 2 MiB tmpfs)."""
    need_private_mount_namespace()
    plain = start_plain(targets, shapes, 8, cwd=str(tmp_path))
    disk = tmp_path / "disk"
    disk.mkdir()
    script = (f"mount -t tmpfs -o size=2m none {disk} && "
              f"{goinspect()} gcore -o {disk}/core {plain.pid}; echo rc=$?; ls -A {disk}")
    r = run(["unshare", "-m", "sh", "-c", script])
    assert r.stdout.strip() == "rc=1", r.stdout + r.stderr
    assert re.fullmatch(rf"goinspect: {disk}/core: No space left on device\n", r.stderr), r.stderr
    assert_released(plain.pid)
