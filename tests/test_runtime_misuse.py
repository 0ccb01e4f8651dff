"""Fatal misuse and deadlock detection (tests/programs/rt_misuse.c): Go's
message on stderr, a blank line, a dump of every goroutine with its state
and "created by" line, exit status 2."""
import subprocess
import time

import pytest

from rtlib import (COMPILERS, MATRIX, LiveLines, check_dump, facts, goroutines, header_state,
                   parse_dump, run_rt, words)

MISUSE = {
    "send_closed": "panic: send on closed channel",
    "close_closed": "panic: close of closed channel",
    "close_nil": "panic: close of nil channel",
    "unlock_unlocked": "fatal error: sync: unlock of unlocked mutex",
    "negative_wg": "panic: sync: negative WaitGroup counter",
}
DEADLOCK = "fatal error: all goroutines are asleep - deadlock!"


def expected(stdout):
    """The goroutines the program says exist: {id: {state, creator, parent, fn}},
    with the misusing goroutine (if any) running."""
    truth = {}
    for gid, g in goroutines(stdout).items():
        assert g["self"] == gid or not g["local"], g     # (0 if it never ran)
        truth[gid] = {"state": header_state(g), "creator": g["creator"],
                      "parent": g["parent"], "fn": g["fn"]}
    if "MISUSE" in facts(stdout):
        w = words(facts(stdout)["MISUSE"])
        truth[int(w["_"][0])] = {"state": "running", "creator": w["creator"], "parent": 1,
                                 "fn": None}
    return truth


def misuse(program, mode, compiler, procs):
    r = run_rt(program, "rt_misuse.c", mode, compiler, procs, expect_rc=2)
    return r, expected(r.stdout)


@pytest.mark.parametrize("mode", sorted(MISUSE))
@pytest.mark.parametrize("compiler,procs", MATRIX)
def test_misuse_is_fatal_with_gos_message_and_a_dump(program, compiler, procs, mode):
    r, truth = misuse(program, mode, compiler, procs)
    # 14 waiters, goroutine 1, the misusing one; under GOMAXPROCS=1 one that
    # never ran too
    assert len(truth) == 16 + (procs == 1)
    assert ("runnable" in [g["state"] for g in truth.values()]) == (procs == 1)
    check_dump(r.stderr, truth, MISUSE[mode])


@pytest.mark.parametrize("compiler,procs", MATRIX)
def test_deadlock_is_detected(program, compiler, procs):
    r, truth = misuse(program, "deadlock", compiler, procs)
    assert truth[1]["state"] == "chan receive" and len(truth) == 13
    check_dump(r.stderr, truth, DEADLOCK)


@pytest.mark.parametrize("compiler,procs", MATRIX)
def test_deadlock_of_goroutine_1_alone_on_a_nil_channel(program, compiler, procs):
    r, truth = misuse(program, "deadlock_nil", compiler, procs)
    blocks = check_dump(r.stderr, truth, DEADLOCK)
    assert list(blocks) == [1] and blocks[1]["state"] == "chan receive (nil chan)"


@pytest.mark.parametrize("compiler,procs", MATRIX)
def test_no_deadlock_while_a_goroutine_sleeps(program, compiler, procs):
    t0 = time.monotonic()
    r, truth = misuse(program, "deadlock_after_sleep", compiler, procs)
    # the sleeper exits after 300 ms: only then is everyone asleep
    assert time.monotonic() - t0 >= 0.3
    check_dump(r.stderr, truth, DEADLOCK)


@pytest.mark.parametrize("compiler,procs", MATRIX)
def test_no_deadlock_while_a_goroutine_is_in_a_syscall(program, targets, compiler, procs):
    exe = program("rt_misuse.c", compiler)
    proc = targets.start([exe, "no_deadlock"], env={"GORT_MAXPROCS": str(procs)},
                         stdin=subprocess.PIPE)
    lines = LiveLines(proc)
    lines.until(lambda line: line == "waiting")
    # the sleeper's value comes first, at 300 ms; from then on only the
    # reader is left, blocked in read(2): give a false deadlock time to show
    lines.until(lambda line: line == "got s")
    time.sleep(0.3)
    assert proc.poll() is None, proc.stderr.read()
    proc.stdin.write("x")
    proc.stdin.flush()
    lines.until(lambda line: line == "got x")
    assert proc.wait(timeout=20) == 0
    assert lines.lines == ["waiting", "got s", "got x"]
    assert proc.stderr.read() == ""


# Frame lines in the dump.  Early runtime builds may print headers and
# created-by lines only; this is the test that says frames are missing.
@pytest.mark.parametrize("mode", ["send_closed", "deadlock"])
@pytest.mark.parametrize("compiler", COMPILERS)
def test_dump_frames_name_the_function_each_goroutine_blocked_in(program, compiler, mode):
    r, truth = misuse(program, mode, compiler, 1)
    _, blocks = parse_dump(r.stderr)
    for gid, g in truth.items():
        if not g["fn"] or g["fn"] == "-":
            continue
        frames = [line for line in blocks[gid]["lines"] if not line.startswith("\t")]
        assert any(line.startswith(g["fn"] + "(") for line in frames), (
            f"goroutine {gid}: no frame of {g['fn']}:\n" + "\n".join(blocks[gid]["lines"]))
        # every frame line is followed by its "\tfile:line +0xoff" line
        lines = blocks[gid]["lines"]
        for i, line in enumerate(lines):
            if not line.startswith("\t") and not line.startswith("created by"):
                assert i + 1 < len(lines) and lines[i + 1].startswith("\t"), lines
