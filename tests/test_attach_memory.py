"""goinspect attach PID maps / ptr ADDR: the address space as /proc/PID/maps
lists it, annotated for the runtime, and what single addresses are; checked
against /proc, the kernel's view of each thread's stack pointer, the
program's own addresses (globals, functions, variables on goroutine stacks)
and addr2line."""
import os

from attachlib import addr2line, attach, attach_json, load_base, start
from conftest import wait_until


def proc_maps(pid):
    out = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            p = line.split(None, 5)
            lo, hi = (int(x, 16) for x in p[0].split("-"))
            path = p[5].strip() if len(p) > 5 else ""
            out.append((lo, hi, p[1], path.replace(" (deleted)", "")))
    return out


def kernel_sp(pid, tid):
    """The user stack pointer of a thread, from /proc (the kernel).  The kernel
    gives it only while the thread is blocked ("running" otherwise): the
    runtime's own threads (sysmon, the collector, idle Ms) wake now and then,
    so ask until it is."""
    words = []

    def blocked():
        with open(f"/proc/{pid}/task/{tid}/syscall") as f:
            words[:] = f.read().split()
        return len(words) >= 3

    wait_until(blocked, timeout=10, what=lambda: f"thread {tid} to block: {words}")
    return int(words[-2], 16)


def region(doc, addr):
    hits = [m for m in doc["maps"] if m["start"] <= addr < m["end"]]
    assert len(hits) == 1, f"{addr:#x} in {len(hits)} mappings"
    return hits[0]


def test_maps_are_proc_maps_annotated(targets, program):
    t = start(targets, program, "insp_park.c", "park")
    # maps and threads come from two snapshots: take them while no thread
    # comes or goes (the runtime may start an M now and then)
    for _ in range(5):
        before = attach_json(t.pid, "threads")["threads"]
        doc = attach_json(t.pid, "maps")
        after = attach_json(t.pid, "threads")["threads"]
        if [th["tid"] for th in before] == [th["tid"] for th in after]:
            break
    proc = proc_maps(t.pid)
    ours = [(m["start"], m["end"], m["perms"], m["path"]) for m in doc["maps"]]
    # file mappings and the kernel's named ones do not move while it runs
    stable = lambda ms: [m for m in ms if m[3].startswith(("/", "[stack]", "[vdso]", "[vvar]"))]
    assert stable(ours) == stable(proc)
    kinds = {m["path"]: m["kind"] for m in doc["maps"] if m["path"]}
    assert kinds[os.path.realpath(t.exe)] == "executable"
    assert [k for p, k in kinds.items() if "/libc.so" in p] == ["library"]
    assert kinds["[stack]"] == "stack" and kinds["[vdso]"] == "vdso"
    exe_maps = [m for m in doc["maps"] if m["path"] == os.path.realpath(t.exe)]
    assert any(".text" in m["description"] for m in exe_maps)
    assert any(".data" in m["description"] for m in exe_maps)

    # every M's thread stack: where the kernel says its stack pointer is
    threads = {th["tid"]: th for th in after}
    for tid, th in threads.items():
        if th["goroutine"] is not None:
            continue        # on its goroutine's stack
        r = region(doc, kernel_sp(t.pid, tid))
        if tid == t.pid:
            assert r["kind"] == "stack"
        else:
            assert r["kind"] == "thread_stack" and r["thread"] == tid, (th, r)
            if th["m"] is not None:
                assert r["description"].startswith(f"thread stack of M{th['m']} (tid {tid}")

    # every goroutine's stack: in a heap arena, a run of stacks naming it holds its variable
    for w in t.who:
        r = region(doc, w.local)
        assert r["kind"] == "arena", (w, r)
        (run,) = [x for x in r["runs"] if x["start"] <= w.local < x["end"]]
        assert run["kind"] == "goroutine_stacks" and w.id in run["goroutines"], (w, run)

    rev = attach_json(t.pid, "maps", "--reverse")["maps"]
    assert [m["start"] for m in rev] == sorted((m["start"] for m in rev), reverse=True)
    text = attach(t.pid, "maps")
    assert text.returncode == 0
    for lo, hi, perms, path in stable(proc):
        assert f"{lo:012x}-{hi:012x} {perms}" in text.stdout
    t.assert_progress()


def test_ptr_on_a_goroutine_stack_names_the_frame(targets, program):
    t = start(targets, program, "insp_park.c", "park")
    for kind in ("recv_waiter", "mutex_waiter", "deep_waiter"):
        w = [w for w in t.who if w.kind == kind][0]
        doc = attach_json(t.pid, "ptr", hex(w.local))
        st = doc["stack"]
        assert st["goroutine"] == w.id, doc
        fn = "deep" if kind == "deep_waiter" else kind
        assert st["frame"]["function"] == fn, st
        assert st["frame"]["sp"] <= w.local < st["frame"]["cfa"]
        # numbered as `goroutine ID` lists the frames
        frames = attach_json(t.pid, "goroutine", str(w.id))["goroutine"]["frames"]
        assert frames[st["frame"]["index"]]["function"] == fn
        if kind == "deep_waiter":
            # the innermost call of deep() holds it: the deepest deep frame
            assert frames[st["frame"]["index"] - 1]["function"] != "deep"
        assert doc["mapping"]["kind"] == "arena"
        assert doc["heap"]["span"]["goroutine"] == w.id
    t.assert_progress()


def test_ptr_on_symbols_and_nothing(targets, program):
    t = start(targets, program, "insp_park.c", "park")
    glob, name = t.facts["GLOBAL"].split()
    doc = attach_json(t.pid, "ptr", glob)
    assert doc["symbol"]["name"] == name and doc["symbol"]["offset"] == 0
    assert doc["symbol"]["type"] == "object"
    doc = attach_json(t.pid, "ptr", hex(int(glob, 16) + 4))
    assert doc["symbol"]["name"] == name and doc["symbol"]["offset"] == 4

    func, fname = t.facts["FUNC"].split()
    addr = int(func, 16) + 8
    doc = attach_json(t.pid, "ptr", hex(addr))
    assert doc["symbol"]["name"] == fname and doc["symbol"]["type"] == "function"
    fn, file, line = addr2line(t.exe, addr - load_base(t.pid, t.exe))[0]
    assert (doc["code"]["function"], doc["code"]["line"]) == (fn, line)
    assert doc["mapping"]["kind"] == "executable"

    doc = attach_json(t.pid, "ptr", "0x10")
    assert doc["mapping"] is None and doc["symbol"] is None and doc["stack"] is None
    r = attach(t.pid, "ptr", "0x10")
    assert "not mapped" in r.stdout
    r = attach(t.pid, "ptr", "nowhere")
    assert r.returncode == 2 and "is not an address" in r.stderr
    t.assert_progress()
