"""goinspect attach PID heap / spans / memstats, and the heap parts of maps,
ptr and summary, on tests/programs/insp_heap.c: a heap of known objects
that holds still once the program is READY.

Oracles: the program's own gort_read_memstats (printed when it settled,
and again on request, after goinspect looked: "MS probe"), the addresses
and sizes of the objects it allocated and which of them it dropped,
the goroutine ids and stack addresses it prints, and /proc/PID/maps."""
import collections
import re
import subprocess

import pytest

from attachlib import Target, attach, attach_json, goinspect, src_path
from conftest import run
from heaplib import parse_memstats

Obj = collections.namedtuple("Obj", "addr size kept noscan")



class Heap(Target):
    """An insp_heap program: its objects, statistics and goroutines."""

    def parse(self):
        self.objs, self.extra, self.victim = [], None, None
        for line in self.lines:
            if line == "READY":
                break
            f = line.split()
            if f[0] == "OBJ":
                self.objs.append(Obj(int(f[1], 16), int(f[2]), f[3] == "kept", f[4] == "noscan"))
            elif f[0] == "MS" and f[1] == "settled":
                self.settled = parse_memstats(line[3:])[1]
            elif f[0] == "EXTRA":
                self.extra = (int(f[1]), int(f[2]))
            elif f[0] == "VICTIM":
                self.victim = tuple(int(x, 16) for x in f[1:])
        return self

    def probe(self):
        """The program's own gort_read_memstats, now."""
        with self.cond:
            start = len(self.lines)
        self.proc.stdin.write("memstats\n")
        self.proc.stdin.flush()
        i = self.wait_line(lambda l: l.startswith("MS probe "), start=start)
        return parse_memstats(self.lines[i][3:])[1]

    def class_of(self, size):
        """(size class, its object size) of an object of SIZE bytes; class 0
        and whole pages for a large one."""
        for c, (s, _, _) in enumerate(self.settled["by_size"]):
            if c and s >= size:
                return c, s
        return 0, -(-size // 8192) * 8192


def start_heap(targets, program, mode="heap"):
    exe = program("insp_heap.c")
    proc = targets.start([exe, mode], stdin=subprocess.PIPE)
    return Heap(proc, exe, src_path("insp_heap.c")).wait_ready().parse()


def assert_same_memstats(ours, theirs):
    for k, v in theirs.items():
        if k == "gc_cpu_fraction":
            # time spent collecting / time since start, each at its own
            # moment: the same numerator over uptimes a moment apart
            assert abs(ours[k] - v) <= 0.5 * max(ours[k], v) + 1e-6, (k, ours[k], v)
        elif k == "by_size":
            assert [(b["size"], b["mallocs"], b["frees"]) for b in ours[k]] == v
        else:
            assert ours[k] == v, f"{k}: goinspect {ours[k]}, the program {v}"


def test_memstats_are_the_programs_own(targets, program):
    t = start_heap(targets, program)
    doc = attach_json(t.pid, "memstats")
    ms = doc["memstats"]
    # what the program allocated after its last gort_read_memstats is still
    # counted in its P's cache: goinspect adds it as the runtime would
    n, nbytes = t.extra
    assert doc["unflushed"] == {"mallocs": n, "bytes": nbytes}
    s = t.settled
    assert ms["mallocs"] == s["mallocs"] + n and ms["heap_objects"] == s["heap_objects"] + n
    assert ms["total_alloc"] == s["total_alloc"] + nbytes
    assert ms["heap_alloc"] == s["heap_alloc"] + nbytes
    assert ms["num_gc"] == s["num_gc"] >= 1
    # and the runtime's own statistics, asked for after goinspect looked
    probe = t.probe()
    assert_same_memstats(ms, probe)
    again = attach_json(t.pid, "memstats")
    assert again["unflushed"] == {"mallocs": 0, "bytes": 0}
    assert_same_memstats(again["memstats"], probe)

    summary = attach_json(t.pid, "summary")["heap"]
    for k in ("heap_alloc", "heap_objects", "next_gc", "heap_inuse", "stack_inuse", "heap_idle",
              "heap_released", "sys", "num_gc", "last_gc", "pause_total_ns"):
        assert summary[k] == probe[k], k
    assert summary["last_pause_ns"] == probe["pause_ns"][(probe["num_gc"] + 255) % 256]
    text = attach(t.pid, "memstats")
    assert text.returncode == 0
    values = {l.split()[0]: l.split()[1] for l in text.stdout.splitlines() if l.strip()}
    for k in ("heap_alloc", "mallocs", "heap_released", "sys", "num_gc"):
        assert values[k] == str(probe[k]), k
    r = attach(t.pid, "summary")
    assert r.returncode == 0 and f"in {probe['heap_objects']} objects" in r.stdout
    assert f"collections  {probe['num_gc']}, the last " in r.stdout
    t.assert_progress()


def test_heap_totals_equal_the_statistics(targets, program):
    t = start_heap(targets, program)
    doc = attach_json(t.pid, "heap")
    probe = t.probe()
    assert doc["errors"] == [] and doc["bad_spans"] == 0 and doc["agree"] is True
    for k in ("heap_alloc", "heap_objects", "heap_inuse", "stack_inuse", "heap_idle",
              "heap_released"):
        assert doc["totals"][k] == probe[k] == doc["memstats"][k], k
    ps = doc["page_size"]
    mh = doc["mheap"]
    assert (mh["pages_inuse"] * ps, mh["pages_stack"] * ps) == (probe["heap_inuse"],
                                                               probe["stack_inuse"])
    assert (mh["pages_free"] + mh["pages_released"]) * ps == probe["heap_idle"]
    # every class: live objects = the runtime's mallocs - frees of the class
    classes = {c["class"]: c for c in doc["classes"]}
    for c, (size, mallocs, frees) in enumerate(probe["by_size"]):
        if c == 0:
            continue
        live = classes[c]["objects"] if c in classes else 0
        assert live == mallocs - frees, f"class {c} ({size} bytes)"
        if c in classes:
            assert classes[c]["size"] == size
            assert classes[c]["bytes"] == live * size
            assert classes[c]["span_bytes"] == classes[c]["pages"] * ps
    # the program's own objects, class by class
    kept = collections.Counter(t.class_of(o.size)[0] for o in t.objs if o.kept)
    for c, k in kept.items():
        if c:
            assert classes[c]["objects"] == k, c
    c1400 = t.class_of(1400)[0]
    assert classes[c1400]["noscan_spans"] == classes[c1400]["spans"] >= 1
    large = [o for o in t.objs if o.kept and o.size > 32768]
    assert doc["large"]["objects"] == len(large) + 1          # and the program's extra one
    assert doc["large"]["bytes"] == sum(t.class_of(o.size)[1] for o in large) + \
        t.class_of(50000)[1]
    assert doc["objects"]["pages"] * ps == probe["heap_inuse"]
    r = attach(t.pid, "heap")
    assert r.returncode == 0 and "totals equal the runtime's statistics" in r.stdout
    assert f"{probe['heap_alloc']}" in r.stdout
    t.assert_progress()


def stack_owner(spans, addr):
    (sp,) = [s for s in spans if s["base"] <= addr < s["end"]]
    return sp


def test_spans_tile_the_arenas(targets, program):
    t = start_heap(targets, program)
    doc = attach_json(t.pid, "spans")
    heap = attach_json(t.pid, "heap")
    spans = doc["spans"]
    assert doc["errors"] == [] and doc["matched"] == doc["total"] == len(spans)
    # by address, every page of every arena in exactly one span
    def union(ranges):
        out = []
        for lo, hi in ranges:
            assert not out or lo >= out[-1][1], "ranges overlap"
            if out and lo == out[-1][1]:
                out[-1] = (out[-1][0], hi)
            else:
                out.append((lo, hi))
        return out

    arenas = sorted((a["base"], a["end"]) for a in heap["arenas"])
    assert arenas and union([(s["base"], s["end"]) for s in spans]) == union(arenas)
    pages = collections.Counter()
    for s in spans:
        assert s["end"] - s["base"] == s["npages"] * heap["page_size"]
        pages[s["state"]] += s["npages"]
    mh = heap["mheap"]
    assert pages["inuse"] == mh["pages_inuse"] and pages["stack"] == mh["pages_stack"]
    assert pages["free"] == mh["pages_free"] and pages["released"] == mh["pages_released"]
    # each goroutine's stack is a stack span that names it
    for w in t.who:
        sp = stack_owner(spans, w.local)
        assert sp["state"] == "stack" and sp["goroutine"] == w.id, (w, sp)
    # filters
    c208 = t.class_of(200)[0]
    only = attach_json(t.pid, "spans", "--class", str(c208))["spans"]
    assert only and all(s["sizeclass"] == c208 and s["elemsize"] == 208 for s in only)
    assert sum(s["alloccount"] for s in only) == sum(1 for o in t.objs if o.kept and o.size == 200)
    stacks = attach_json(t.pid, "spans", "--state", "stack")["spans"]
    assert {s["goroutine"] for s in stacks} >= {w.id for w in t.who}
    assert all(s["state"] == "stack" for s in stacks)
    r = attach(t.pid, "spans")
    assert r.returncode == 0
    assert len([l for l in r.stdout.splitlines()
                if re.match(r"[0-9a-f]{12}-[0-9a-f]{12} ", l)]) == len(spans)
    r = attach(t.pid, "spans", "--state", "bogus")
    assert r.returncode == 2 and "not a span state" in r.stderr
    r = run([goinspect(), "attach", str(t.pid), "spans", "--class", "x"])
    assert r.returncode == 2 and "not a size class" in r.stderr
    t.assert_progress()


def proc_maps(pid):
    with open(f"/proc/{pid}/maps") as f:
        return [tuple(int(x, 16) for x in line.split()[0].split("-")) for line in f]


def test_maps_break_arenas_into_runs_of_spans(targets, program):
    t = start_heap(targets, program)
    doc = attach_json(t.pid, "maps")
    heap = attach_json(t.pid, "heap")
    proc = proc_maps(t.pid)
    arenas = [(a["base"], a["end"]) for a in heap["arenas"]]
    regions = [m for m in doc["maps"] if m["kind"] == "arena"]
    assert regions
    kinds = collections.Counter()
    for m in regions:
        assert (m["start"], m["end"]) in proc, m        # a mapping of /proc/PID/maps
        runs = m["runs"]
        assert runs[0]["start"] == m["start"] and runs[-1]["end"] == m["end"]
        for a, b in zip(runs, runs[1:]):
            assert a["end"] == b["start"], (a, b)       # no gap, no overlap
        for r in runs:
            inside = any(lo <= r["start"] and r["end"] <= hi for lo, hi in arenas)
            assert inside == (r["kind"] != "other"), r
            assert r["kind"] != "invalid" and r["error"] is None, r
            kinds[r["kind"]] += (r["end"] - r["start"]) // heap["page_size"]
    mh = heap["mheap"]
    assert kinds["small_objects"] + kinds["large_objects"] == mh["pages_inuse"]
    assert kinds["goroutine_stacks"] + kinds["cached_stacks"] == mh["pages_stack"]
    assert kinds["free"] == mh["pages_free"] and kinds["released"] == mh["pages_released"]

    def run_of(addr):
        (m,) = [m for m in regions if m["start"] <= addr < m["end"]]
        (r,) = [r for r in m["runs"] if r["start"] <= addr < r["end"]]
        return r

    for w in t.who:
        r = run_of(w.local)
        assert r["kind"] == "goroutine_stacks" and w.id in r["goroutines"], (w, r)
    for o in t.objs:
        if o.kept:
            r = run_of(o.addr)
            c, size = t.class_of(o.size)
            if c:
                assert r["kind"] == "small_objects" and r["class"] == c and r["size"] == size
                assert r["noscan"] == o.noscan
            else:
                assert r["kind"] == "large_objects"
    rev = attach_json(t.pid, "maps", "--reverse")["maps"]
    (m,) = [x for x in rev if x["kind"] == "arena" and x["start"] == regions[0]["start"]]
    assert [r["start"] for r in m["runs"]] == sorted((r["start"] for r in m["runs"]),
                                                     reverse=True)
    text = attach(t.pid, "maps")
    assert text.returncode == 0
    assert f"{regions[0]['start']:012x}-{regions[0]['end']:012x} rw-p" in text.stdout
    assert "heap arena" in text.stdout and "goroutine stack" in text.stdout
    t.assert_progress()


def test_ptr_names_heap_objects(targets, program):
    t = start_heap(targets, program)
    small = [o for o in t.objs if o.size <= 32768]
    sample = [o for o in small if o.kept][::7] + [o for o in small if not o.kept][::5]
    sample += [o for o in t.objs if o.size > 32768]
    for o in sample:
        c, size = t.class_of(o.size)
        off = min(o.size - 1, 17)
        doc = attach_json(t.pid, "ptr", hex(o.addr + off))
        h = doc["heap"]
        assert doc["mapping"]["kind"] == "arena" and h["error"] is None, doc
        sp, obj = h["span"], h["object"]
        if not o.kept and (c == 0 or sp["state"] != "inuse"):
            # a freed large object, or the last object of its span: its pages
            # went back to the heap
            assert sp["state"] in ("free", "released") or not (
                obj and obj["base"] == o.addr and obj["allocated"]), h
            continue
        assert sp["state"] == "inuse" and sp["sizeclass"] == c and sp["large"] == (c == 0)
        assert sp["noscan"] == o.noscan
        assert (obj["base"], obj["offset"], obj["size"]) == (o.addr, off, size), (o, obj)
        assert obj["allocated"] is o.kept, (o, obj)
    kept = next(o for o in small if o.kept)
    freed = next(o for o in small if not o.kept)
    r = attach(t.pid, "ptr", hex(kept.addr))
    assert r.returncode == 0 and f"  object    {kept.addr:#x} + 0x0" in r.stdout
    assert r.stdout.rstrip().endswith("allocated")
    assert attach(t.pid, "ptr", hex(freed.addr)).stdout.rstrip().endswith(": free")
    # a goroutine's stack is a stack span of that goroutine
    w = t.one("prober")
    doc = attach_json(t.pid, "ptr", hex(w.local))
    assert doc["heap"]["span"]["state"] == "stack"
    assert doc["heap"]["span"]["goroutine"] == doc["stack"]["goroutine"] == w.id
    assert doc["heap"]["object"] is None
    t.assert_progress()


def test_nonstop_reads_a_still_heap(targets, program):
    t = start_heap(targets, program)
    doc = attach_json(t.pid, "heap", opts=("--nonstop",))
    assert doc["nonstop"] and doc["pause_ns"] == 0 and doc["heap_inconsistent"] is False
    assert doc["agree"] is True
    ms = attach_json(t.pid, "memstats", opts=("--nonstop",))["memstats"]
    assert_same_memstats(ms, t.probe())
    t.assert_progress()


EXPECT = {
    "garbage": "is not a span state",
    "badbits": "its allocation bitmap at 0x10 is not in readable memory",
    "badcount": "1000 objects of 6528 bytes do not fit in its 32768 bytes",
}


@pytest.mark.parametrize("mode", sorted(EXPECT))
def test_corrupt_span_record(targets, program, mode):
    t = start_heap(targets, program, mode)
    obj, base, record = t.victim
    want = f"(span at {record:#x}): "

    r = attach(t.pid, "spans")
    assert r.returncode == 0, r.stderr
    errors = [l for l in r.stdout.splitlines() if l.startswith("error: ")]
    assert len(errors) == 1 and want in errors[0] and EXPECT[mode] in errors[0], errors
    doc = attach_json(t.pid, "spans")
    assert len(doc["errors"]) == 1 and all(s["record"] != record for s in doc["spans"])
    # the rest is still shown
    for w in t.who:
        assert stack_owner(doc["spans"], w.local)["goroutine"] == w.id
    c208 = t.class_of(200)[0]
    heap = attach_json(t.pid, "heap")
    assert heap["bad_spans"] == 1 and EXPECT[mode] in heap["errors"][0]
    classes = {c["class"]: c for c in heap["classes"]}
    assert classes[c208]["objects"] == sum(1 for o in t.objs if o.kept and o.size == 200)
    assert heap["agree"] is False       # the bad span's objects are left out
    r = attach(t.pid, "heap")
    assert "1 span left out:" in r.stdout and EXPECT[mode] in r.stdout

    maps = attach_json(t.pid, "maps")
    bad = [r for m in maps["maps"] for r in m["runs"] if r["kind"] == "invalid"]
    assert len(bad) == 1 and bad[0]["start"] == base and EXPECT[mode] in bad[0]["error"]
    assert bad[0]["end"] - bad[0]["start"] == 32768
    doc = attach_json(t.pid, "ptr", hex(obj))
    assert doc["heap"]["span"] is None and EXPECT[mode] in doc["heap"]["error"]
    for o in t.objs:
        if o.kept and o.size == 200:
            assert attach_json(t.pid, "ptr", hex(o.addr))["heap"]["object"]["allocated"]
            break
    t.assert_progress()
