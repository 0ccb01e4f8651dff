"""goinspect attach PID summary, --nonstop, the interactive prompt, and
programs that are not the plain case: a goroutine inside a shared object of
the program's own, a stripped executable."""
import os
import signal
import shutil
import subprocess

from attachlib import (addr2line, attach, attach_json, attach_json_quiet, load_base,
                       marker_line, prompt, read_until, src_path, start)
from conftest import ROOT, run


def test_summary(targets, program):
    t = start(targets, program, "insp_park.c", "park")
    doc, tids = attach_json_quiet(t.pid, "summary")
    assert doc["pid"] == t.pid
    assert doc["executable"] == os.path.realpath(t.exe)
    assert doc["runtime_version"].startswith("gort ")
    assert doc["gomaxprocs"] == int(t.facts["MAXPROCS"])
    gs = doc["goroutines"]
    assert gs["total"] == len(t.who)
    assert sum(gs["by_status"].values()) == gs["total"]
    assert gs["by_status"]["syscall"] == 1
    # everything but the ticker and the worker waits for good
    assert gs["by_status"]["waiting"] >= len(t.who) - 3
    assert gs["by_wait_reason"]["chan send"] == 2
    assert gs["by_wait_reason"]["chan receive"] >= 5
    assert doc["pause_ns"] > 0 and doc["stop_rounds"] >= 1
    assert doc["threads"]["total"] == len(tids)
    top = doc["groups"][0]
    assert top["count"] == 3 and top["user"]["function"] == "recv_waiter"
    # summary is the default command
    r = attach(t.pid, stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and r.stdout.startswith(f"PID {t.pid} (")
    assert "goroutines   15 (1 syscall, 14 waiting)" in r.stdout or "goroutines   15" in r.stdout
    t.assert_progress()


def test_nonstop_reads_without_stopping(targets, program):
    t = start(targets, program, "insp_park.c", "park")
    doc = attach_json(t.pid, "goroutines", opts=("--nonstop",))
    assert doc["nonstop"] is True and doc["pause_ns"] == 0
    gs = {g["id"]: g for g in doc["goroutines"]}
    assert sorted(gs) == sorted(w.id for w in t.who)
    recv = gs[t.ids("recv_waiter")[0]]
    assert recv["user"]["function"] == "recv_waiter"
    r = attach(t.pid, "goroutines", opts=("--nonstop",))
    assert r.returncode == 0 and "--nonstop" in r.stderr
    t.assert_progress()


def test_interactive_prompt(targets, program):
    t = start(targets, program, "insp_park.c", "park")
    with prompt(["attach", str(t.pid)]) as (p, master):
        banner = read_until(master, "goinspect> ")
        assert f"attached to PID {t.pid}" in banner and f"{len(t.who)} goroutines" in banner
        t.assert_progress()         # it runs while the prompt waits
        os.write(master, b"goroutines -s 'chan send'\n")
        out = read_until(master, "goinspect> ")
        assert out.count("User: send_waiter ") == 2, out
        os.write(master, b"summ\t\n")       # completion of the command name
        out = read_until(master, "goinspect> ")
        assert "GOMAXPROCS" in out, out
        os.write(master, b"heap\n")          # the prompt's snapshot holds the heap too
        out = read_until(master, "goinspect> ")
        assert "CLASS" in out and "the runtime's statistics" in out, out
        os.write(master, b"refresh\n")
        assert "new snapshot:" in read_until(master, "goinspect> ")
        os.write(master, b"help\n")
        assert "refresh" in read_until(master, "goinspect> ")
        os.write(master, b"goroutin\x03")          # Ctrl-C drops the line
        read_until(master, "goinspect> ")
        assert p.poll() is None
        os.write(master, b"bogus\n")
        read_until(master, "unknown command 'bogus'")
        os.write(master, b"quit\n")
        assert p.wait(timeout=20) == 0
    t.assert_progress()


def test_goroutine_inside_a_shared_object(targets, program, tmp_path_factory):
    d = str(tmp_path_factory.mktemp("lib"))
    so = os.path.join(d, "libinsp_lib_wait.so")
    r = run(["gcc", "-shared", "-fPIC", "-O2", "-g", "-Wall", "-Werror",
             "-I", os.path.join(ROOT, "runtime", "include"),
             "-o", so, src_path("insp_lib_wait.c")])
    assert r.returncode == 0, r.stderr
    t = start(targets, program, "insp_lib_main.c", "run", extra=(so, f"-Wl,-rpath,{d}"))
    w = t.one("lib_waiter")
    doc = attach_json(t.pid, "goroutine", str(w.id))
    g = doc["goroutine"]
    frames = g["frames"]
    names = [f["function"] for f in frames]
    i = names.index("lib_wait")
    assert names[i:i + 3] == ["lib_wait", "lib_outer", "lib_waiter"], names
    lib = src_path("insp_lib_wait.c")
    assert frames[i]["module"] == so and frames[i + 1]["module"] == so
    assert frames[i]["line"] == marker_line(lib, "WAIT:lib")
    assert frames[i + 1]["line"] == marker_line(lib, "CALL:lib")
    assert frames[i + 2]["line"] == marker_line(src_path("insp_lib_main.c"), "CALL:lib_outer")
    assert g["user"]["function"] == "lib_wait"
    base = load_base(t.pid, so)
    for f in frames[i:i + 2]:
        fn, file, line = addr2line(so, f["pc"] - 1 - base)[0]
        assert (fn, line) == (f["function"], f["line"])
    t.assert_progress()


def test_stripped_executable(targets, program, tmp_path):
    exe = str(tmp_path / "insp_park-stripped")
    shutil.copy(program("insp_park.c"), exe)
    r = run(["strip", "--strip-all", exe])
    assert r.returncode == 0, r.stderr
    t = start(targets, program, "insp_park.c", "park", exe=exe)
    doc = attach_json(t.pid, "goroutines")
    gs = {g["id"]: g for g in doc["goroutines"]}
    assert sorted(gs) == sorted(w.id for w in t.who)
    for kind, want in (("send_waiter", "chan send"), ("syscall_waiter", "syscall")):
        for i in t.ids(kind):
            assert want in (gs[i]["wait_reason"], gs[i]["status"])
    t.assert_progress()


def test_prompt_refresh_after_goroutines_changed(targets, program, tmp_path):
    """The prompt keeps its snapshot's stacks (no unwind in the pre-copy);
    after the program moved, ended and started goroutines (it says which:
    tests/programs/insp_rewait.c), `refresh` shows each where it now is."""
    rewait = src_path("insp_rewait.c")
    done = tmp_path / "changed"
    t = start(targets, program, "insp_rewait.c", "3000", "200", str(done), "1")
    with prompt(["attach", str(t.pid)]) as (p, master):
        read_until(master, "goinspect> ")
        os.write(master, b"goroutines --with first_wait\n")
        out = read_until(master, "goinspect> ", timeout=60)
        assert out.count("User: first_wait ") == 3000, out[-2000:]
        mark = len(t.lines)
        os.kill(t.pid, signal.SIGHUP)
        i = t.wait_line(lambda l: l.startswith("CHANGED "), start=mark)
        ch = {k: [int(x) for x in v.split(",") if x]
              for k, v in (w.split("=", 1) for w in t.lines[i].split()[1:])}
        os.write(master, b"refresh\n")
        assert "new snapshot:" in read_until(master, "goinspect> ", timeout=60)
        for name, ids in (("second_wait", ch["moved"]), ("third_wait", ch["new"])):
            os.write(master, f"goroutines --with {name}\n".encode())
            out = read_until(master, "goinspect> ", timeout=60)
            listed = {int(l.split()[1]) for l in out.splitlines()
                      if l.strip().startswith("Goroutine ") and f"User: {name} " in l}
            assert listed == set(ids), (name, out[-2000:])
        os.write(master, f"goroutine {ch['moved'][0]}\n".encode())
        out = read_until(master, "goinspect> ")
        assert f"insp_rewait.c:{marker_line(rewait, 'WAIT:second')}" in out, out
        os.write(master, b"goroutines --with first_wait\n")
        out = read_until(master, "goinspect> ", timeout=60)
        assert out.count("User: first_wait ") == 3000 - 400, out[-2000:]
        os.write(master, b"quit\n")
        assert p.wait(timeout=20) == 0
