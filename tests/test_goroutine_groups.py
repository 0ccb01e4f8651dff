"""goinspect goroutines -g KIND on a live process and on its core: 3000
goroutines of tests/programs/insp_groups.c parked at one line of user code
(WAIT:hold), half of the workers through the runtime's direct hand-off
(park_direct) and the rest through the scheduler, started at three go
statements with two start functions and reaching hold() from three call
sites.  The groups expected of every kind come from the program's own
truth (which goroutine it started where, printed as "G ID KIND") and the
lines marked in its source, never from goinspect."""
import os
import re

import pytest

from attachlib import Target, attach, attach_json, marker_line, src_path
from conftest import BUILDS, wait_until
from corelib import core, core_json, gdb_core
from gdblib import gdb

SRC = src_path("insp_groups.c")
N_EACH = 1000
KINDS = ("stack", "user", "go", "start", "full")


def compilers():
    out = ["gcc"]
    if os.path.exists(os.path.join(BUILDS["clang"], "bin", "gortcc")):
        out.append("clang")
    return out


def line(marker):
    return marker_line(SRC, marker)


class Groups:
    """The program's truth: the ids of each kind of goroutine."""

    def __init__(self, t):
        self.t = t
        end = t.wait_line(lambda l: l == "READY")
        self.ids = {"x": set(), "y": set(), "s_odd": set(), "s_even": set()}
        for text in t.lines[:end]:
            f = text.split()
            if f[0] == "G":
                self.ids[f[2]].add(int(f[1]))
            elif f[0] == "MAIN":
                self.main = int(f[1])
        self.x, self.y = frozenset(self.ids["x"]), frozenset(self.ids["y"])
        self.so, self.se = frozenset(self.ids["s_odd"]), frozenset(self.ids["s_even"])
        self.all = self.x | self.y | self.so | self.se
        assert len(self.x) == len(self.y) == N_EACH and len(self.so | self.se) == N_EACH
        assert len(self.all) == 3 * N_EACH and self.main not in self.all
        # where each set of goroutines is grouped, by kind: (function, marker)
        workers, sleepers = self.x | self.y, self.so | self.se
        self.want = {
            "stack": {workers: [("hold", "WAIT:hold"), ("worker", "CALL:worker")],
                      self.so: [("hold", "WAIT:hold"), ("sleeper", "CALL:sleep_odd")],
                      self.se: [("hold", "WAIT:hold"), ("sleeper", "CALL:sleep_even")]},
            "user": {self.all: ("hold", "WAIT:hold")},
            "go": {self.x: ("main_fn", "GO:x"), self.y: ("main_fn", "GO:y"),
                   sleepers: ("main_fn", "GO:s")},
            "start": {workers: ("worker", "START:worker"), sleepers: ("sleeper", "START:sleeper")},
        }


@pytest.fixture(params=compilers())
def groups(request, targets, program):
    exe = program("insp_groups.c", request.param)
    proc = targets.start([exe, str(N_EACH)], env={"GORT_MAXPROCS": "1"})
    g = Groups(Target(proc, exe, SRC))

    # each records its id just before it parks: wait until all have
    def parked():
        doc = attach_json(g.t.pid, "goroutines", "-s", "chan receive")
        return g.all <= {x["id"] for x in doc["goroutines"]}
    wait_until(parked, timeout=30, what="the program's goroutines to park")
    return g


def ours(g, doc):
    """The groups of doc holding the program's goroutines, by their ids; no
    group mixes them with others (goroutine 1, the runtime's)."""
    out = {}
    for gr in doc["groups"]:
        ids = frozenset(gr["ids"])
        assert len(ids) == gr["count"], gr
        if ids & g.all:
            assert ids <= g.all, f"group of {gr['count']} mixes in {sorted(ids - g.all)}"
            assert (gr["status"], gr["wait_reason"]) == ("waiting", "chan receive"), gr
            out[ids] = gr
    assert frozenset().union(*out) == g.all
    counts = [gr["count"] for gr in doc["groups"]]
    assert counts == sorted(counts, reverse=True)
    return out


def where(f):
    return f["function"], os.path.basename(f["file"]), f["line"]


def at(fn, marker):
    return fn, os.path.basename(SRC), line(marker)


def check_kind(g, kind, doc):
    assert doc["kind"] == kind
    got = ours(g, doc)
    if kind == "full":
        check_full(g, got)
        return
    want = g.want[kind]
    assert set(got) == set(want), {len(k) for k in got}
    for ids, gr in got.items():
        if kind == "stack":
            assert [where(f) for f in gr["frames"]] == [at(*w) for w in want[ids]]
            assert gr["location"] is None
        else:
            assert where(gr["location"]) == at(*want[ids])
            assert "frames" not in gr


def check_full(g, got):
    """Every frame, the runtime's too: each group lies within one group of
    the default kind, and the workers parked by both runtime paths split."""
    stack = g.want["stack"]
    runtime = {"park_direct": set(), "switch_to_g0": set()}
    for ids, gr in got.items():
        (within,) = [s for s in stack if ids <= s]
        names = [f["function"] for f in gr["frames"]]
        user = [(f["function"], f["line"]) for f in gr["frames"]
                if f["file"] == SRC or os.path.basename(f["file"]) == os.path.basename(SRC)]
        assert user == [(fn, line(m)) for fn, m in stack[within]], names
        assert names[-1] == "gort_gostart" and len(names) > len(user), names
        for path in runtime:
            if path in names:
                runtime[path] |= ids
    workers = g.x | g.y
    assert runtime["park_direct"] & workers and runtime["switch_to_g0"] & workers, \
        "the workers did not park by both paths: the test shows nothing"
    # CALL:worker is two calls at one line: the default kind groups by line
    pcs = {f["pc"] for ids, gr in got.items() if ids <= workers
           for f in gr["frames"] if f["function"] == "worker"}
    assert len(pcs) == 2, pcs
    assert len([ids for ids in got if ids <= workers]) >= 2


TEXT_GROUP = re.compile(r"^(\d+) goroutines? \[([^]]*)\]: goroutines? ([\d ]+?)( \.\.\.)?$")


def text_groups(g, out):
    """The text's groups holding the program's goroutines: (count, state,
    the ids shown, the lines under the header)."""
    got = []
    for block in out.split("\n\n"):
        lines = block.strip("\n").split("\n")
        # what gdb says when it attaches comes before the first group
        first = next((i for i, l in enumerate(lines) if TEXT_GROUP.match(l)), 0)
        head, *rest = lines[first:]
        m = TEXT_GROUP.match(head)
        if m and {int(i) for i in m.group(3).split()} & g.all:
            got.append((int(m.group(1)), m.group(2), [int(i) for i in m.group(3).split()], rest))
    return got


LABEL = {"user": "User", "go": "Created by", "start": "Start"}


def goinspect_frames(rest):
    """(function, file:line) of the frames of a goinspect group, by pairs
    of lines ("    0  0x... in hold", "            at /path/file.c:39")."""
    names = [re.fullmatch(r" +\d+  0x[0-9a-f]{16} in (\S+)( \(inlined\))?", r).group(1) for r in rest[0::2]]
    return list(zip(names, [r.strip().rpartition("/")[2] for r in rest[1::2]]))


def gdb_frames(rest):
    """The same of a group of gdb's info goroutines -g ("        hold /path/file.c:39")."""
    return [(r.split()[0], r.rpartition("/")[2]) for r in rest]


def check_text(g, kind, out, frames=goinspect_frames, start_line=True):
    """A text listing of groups (goinspect's, or gdb's with frames=gdb_frames;
    gdb places a function's start at another line of the same pc)."""
    got = text_groups(g, out)
    assert sum(c for c, _, _, _ in got) == len(g.all)
    if kind == "full":
        names = {fn for _, _, _, rest in got for fn, _ in frames(rest)}
        assert {"park_direct", "switch_to_g0", "hold"} <= names, names
        assert len(got) > len(g.want["stack"])
        return
    want = g.want[kind]
    assert len(got) == len(want)
    base = os.path.basename(SRC)
    for count, state, shown, rest in got:
        assert state == "chan receive"
        (ids,) = [s for s in want if len(s) == count and set(shown) <= s]
        assert shown == sorted(ids)[:8]
        if kind == "stack":
            assert frames(rest) == [(fn, f"{base}:{line(m)}") for fn, m in want[ids]], rest
        else:
            fn, marker = want[ids]
            (one,) = rest
            assert one.startswith(f"        {LABEL[kind]}: {fn} /"), one
            if start_line or kind != "start":
                assert one.endswith(f"/{base}:{line(marker)}"), one


def check_views(g, view, view_json):
    """Every kind, the default, the summary, in text and JSON, from one
    reader of the target (attach or core)."""
    default = view_json("goroutines", "-g")
    assert default["kind"] == "stack"
    check_kind(g, "stack", default)
    for kind in KINDS:
        check_kind(g, kind, view_json("goroutines", "-g", kind))
        r = view("goroutines", "-g", kind)
        assert r.returncode == 0, r.stderr
        check_text(g, kind, r.stdout)
    # an option after -g: the default kind
    doc = view_json("goroutines", "-g", "-n", "2")
    assert doc["kind"] == "stack" and [gr["count"] for gr in doc["groups"]] == [2 * N_EACH, 500]
    s = view_json("summary")
    assert s["group_kind"] == "stack"
    assert [gr["count"] for gr in s["groups"][:3]] == [2 * N_EACH, 500, 500]
    for gr in s["groups"][:3]:
        assert where(gr["user"]) == at("hold", "WAIT:hold")
    r = view("summary")
    assert r.returncode == 0, r.stderr
    heading = "largest groups (goroutines with the same state and stack outside the runtime):\n"
    assert heading in r.stdout
    top = r.stdout.split(heading)[1].split("\n")[0].split()
    assert top[0] == str(2 * N_EACH) and top[-1].endswith(f"{os.path.basename(SRC)}:"
                                                          f"{line('WAIT:hold')}"), top


def test_kinds_on_attach(groups):
    g = groups
    check_views(g, lambda *a: attach(g.t.pid, *a), lambda *a: attach_json(g.t.pid, *a))
    assert g.t.state() not in ("t", "T")


def test_kinds_on_a_core(groups, tmp_path):
    g = groups
    path = gdb_core(g.t.pid, str(tmp_path / "groups.core"))
    check_views(g, lambda *a: core(path, *a), lambda *a: core_json(path, *a))


def test_an_unknown_kind_is_a_usage_error(groups):
    r = attach(groups.t.pid, "goroutines", "-g", "lines")
    assert r.returncode == 2 and r.stdout == ""
    assert "unknown kind 'lines'" in r.stderr and "stack, user, go, start, full" in r.stderr
    assert groups.t.state() not in ("t", "T")


def test_kinds_in_gdb(groups):
    """info goroutines -g KIND in gdb groups as goinspect does."""
    g = groups
    out, err = gdb(["-p", str(g.t.pid)], [f"info goroutines -g {k}" for k in KINDS] +
                   ["echo <default>\\n", "info goroutines -g", "info goroutines -g lines"])
    parts = out.split("[3001 goroutines]\n")
    assert len(parts) == 7, out[-2000:]
    for kind, text in zip(KINDS, parts):
        check_text(g, kind, text, frames=gdb_frames, start_line=False)
    check_text(g, "stack", parts[5].split("<default>\n")[1], frames=gdb_frames)
    assert "info goroutines: -g: unknown kind 'lines' (kinds: stack, user, go, start, full)" \
        in err, err
    assert g.t.state() not in ("t", "T")
