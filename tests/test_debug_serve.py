"""gort_debug_serve: Go's net/http/pprof layout served by the runtime.

The target is tests/programs/debug_serve.c: N goroutines parked in each of
wait_chan, wait_select, wait_mutex and wait_sleep, a heartbeat checking a
channel round trip, and commands on stdin (count, beat, memstats) that print
the program's own truth.  The readers are tools nobody here wrote where one
exists: `go tool pprof -raw` for profile.proto, headless chromium for the
index, goinspect (ptrace, from outside) for the goroutines' states and
stacks.
"""
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from attachlib import attach_json
from conftest import ROOT, LiveLines, run, wait_until

N = 3
WAITERS = {"wait_chan": "chan receive", "wait_select": "select",
           "wait_mutex": "sync.Mutex.Lock", "wait_sleep": "sleep"}


class Target:
    def __init__(self, targets, program, compiler="gcc", procs=None, mode="park", n=N):
        exe = program("debug_serve.c", compiler)
        env = {"GORT_MAXPROCS": str(procs)} if procs else None
        self.proc = targets.start([exe, mode, str(n)], stdin=subprocess.PIPE, env=env)
        self.out = LiveLines(self.proc)
        lines = self.out.until(lambda l: l.startswith("READY"), timeout=60)
        facts = dict(l.split(" ", 1) for l in lines if " " in l)
        self.port = int(facts["PORT"])
        self.pid = int(facts["PID"])
        self.url = f"http://127.0.0.1:{self.port}"

    def ask(self, cmd, key):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        line = self.out.until(lambda l: l.startswith(key + " "), timeout=60)[-1]
        return line.split(" ", 1)[1]

    def count(self):
        return int(self.ask("count", "COUNT"))

    def beat(self):
        m = re.fullmatch(r"(\d+) bad=(\d+)", self.ask("beat", "BEAT"))
        return int(m.group(1)), int(m.group(2))


@pytest.fixture(params=[pytest.param(("gcc", None), id="gcc"),
                        pytest.param(("clang", None), id="clang"),
                        pytest.param(("gcc", 1), id="gcc-procs1")])
def target(targets, program, request):
    """The program built by each compiler, and with one P: the server must
    never take the only P from the program's goroutines."""
    compiler, procs = request.param
    return Target(targets, program, compiler, procs)


def get(url, timeout=60):
    """(status, body bytes) of a GET, errors included."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def go():
    g = shutil.which("go")
    assert g, "go (Debian's golang-go) is missing: run make deps"
    return g


def pprof_raw(url):
    """go tool pprof -raw URL: {sample stacks (function names, innermost
    first) as tuples: count}."""
    home = os.environ.get("TMPDIR", "/tmp")
    r = run([go(), "tool", "pprof", "-raw", url], timeout=120,
            env={"PPROF_TMPDIR": home, "HOME": home})
    assert r.returncode == 0, f"go tool pprof failed:\n{r.stderr}"
    text = r.stdout
    samples_part = text.split("Samples:", 1)[1].split("Locations", 1)[0]
    locs_part = text.split("Locations", 1)[1].split("Mappings", 1)[0]
    locs, cur = {}, None
    for line in locs_part.splitlines():
        m = re.match(r"\s+(\d+): (0x[0-9a-f]+) (?:M=\d+ )?(\S+)", line)
        if m:
            cur = int(m.group(1))
            locs[cur] = [m.group(3)]
        elif cur is not None and line.strip():
            locs[cur].append(line.split()[0])
    stacks = {}
    for line in samples_part.splitlines():
        m = re.match(r"\s+(\d+): ([\d ]+)$", line)
        if m:
            funcs = tuple(f for i in m.group(2).split() for f in locs[int(i)])
            stacks[funcs] = stacks.get(funcs, 0) + int(m.group(1))
    return stacks


def test_goroutine_proto_read_by_pprof(target):
    """go tool pprof fetches the profile by itself; its counts are the
    program's: N goroutines at each waiting place, the total gort_numgoroutine."""
    total = target.count()      # before any request: no request's goroutine in it
    stacks = pprof_raw(f"{target.url}/debug/pprof/goroutine")
    # and the goroutine serving the request itself, as in Go's
    assert sum(stacks.values()) == total + 1
    assert sum(c for s, c in stacks.items() if "goroutine_handler" in s) == 1, stacks
    for fn in WAITERS:
        assert sum(c for s, c in stacks.items() if fn in s) == N, (fn, stacks)
    # innermost first: the function that parks comes before the waiter, and
    # the waiter before the goroutine's start
    chan = [s for s in stacks if "wait_chan" in s][0]
    assert chan.index("gort_chan_recv") < chan.index("wait_chan") < chan.index("goroutine_main")


def parked_in_goinspect(pid):
    """goinspect's view: {id: goroutine object} with its frames, but a
    goroutine that served a request (created by the server): the one of the
    request just answered may not have ended yet when goinspect looks."""
    d = attach_json(pid, "goroutines", "-t", "100", "-n", "100000", opts=("--json",))
    return {g["id"]: g for g in d["goroutines"] if not g.get("system") and
            (g.get("created_by") or {}).get("function") not in ("httpd_serve", "conn_respond")}


def test_debug1_matches_goinspect(target):
    status, body = get(f"{target.url}/debug/pprof/goroutine?debug=1")
    assert status == 200
    text = body.decode()
    gi = parked_in_goinspect(target.pid)
    m = re.match(r"goroutine profile: total (\d+)\n", text)
    # and the goroutine serving the request
    assert m and int(m.group(1)) == len(gi) + 1
    assert text.count("\tgoroutine_handler+") == 1, text
    groups = text.split("\n\n")[:-1]
    groups[0] = groups[0].split("\n", 1)[1]
    seen = set()
    for fn, reason in WAITERS.items():
        members = [g for g in gi.values() if g["user"] and g["user"]["function"] == fn]
        assert len(members) == N and all(g["wait_reason"] == reason for g in members)
        want_pcs = []
        for f in members[0]["frames"]:     # inlined frames share their pc
            if not want_pcs or want_pcs[-1] != f["pc"]:
                want_pcs.append(f["pc"])
        want_funcs = [f["function"] for f in members[0]["frames"]]
        want_lines = [f"{f['file']}:{f['line']}" for f in members[0]["frames"]]
        for g in members:
            assert [f["pc"] for f in g["frames"]] == [f["pc"] for f in members[0]["frames"]]
        mine = [gr for gr in groups if f"\t{fn}+" in gr]
        assert len(mine) == 1, (fn, text)
        head, *frames = mine[0].splitlines()
        hm = re.fullmatch(r"(\d+) @((?: 0x[0-9a-f]+)+)", head)
        assert hm and int(hm.group(1)) == N
        assert [int(x, 16) for x in hm.group(2).split()] == want_pcs
        fm = [re.fullmatch(r"#\t0x[0-9a-f]+\t(\S+)\+0x[0-9a-f]+\t(\S+)", f) for f in frames]
        assert all(fm), frames
        assert [x.group(1) for x in fm] == want_funcs
        assert [x.group(2) for x in fm] == want_lines
        seen.add(fn)
    assert seen == set(WAITERS)


def runtime_frame(f):
    return f["file"].startswith(os.path.join(ROOT, "runtime") + "/")


def test_debug2_matches_goinspect(target):
    status, body = get(f"{target.url}/debug/pprof/goroutine?debug=2")
    assert status == 200
    dumps = {}
    blocks = body.decode().strip("\n").split("\n\n")
    for block in blocks:
        head, *rest = block.splitlines()
        m = re.fullmatch(r"goroutine (\d+) \[([^\],]+)(?:, [^\]]*)?\]:", head)
        assert m, head
        dumps[int(m.group(1))] = (m.group(2), rest)
    # the first is the goroutine serving the request (Go's order): running,
    # created by the server; it and any other request's goroutine are left
    # out of the comparison, as parked_in_goinspect leaves them out
    first = blocks[0].splitlines()
    assert re.fullmatch(r"goroutine \d+ \[running\]:", first[0]) and \
        re.match(r"created by (conn_respond|httpd_serve) ", first[-2]), blocks[0]
    for gid, (_, rest) in list(dumps.items()):
        if any(re.match(r"created by (conn_respond|httpd_serve) ", l) for l in rest):
            del dumps[gid]
    gi = parked_in_goinspect(target.pid)
    assert set(dumps) == set(gi)
    checked = 0
    for gid, g in gi.items():
        if not g["user"] or g["user"]["function"] not in WAITERS:
            continue
        state, lines = dumps[gid]
        assert state == g["wait_reason"]
        # user frames: "F(...)" then "\tFILE:LINE[ +0xOFF]"; then created by
        user = [f for f in g["frames"] if not runtime_frame(f)]
        got = []
        it = iter(lines)
        for line in it:
            if line.startswith("created by "):
                cm = re.fullmatch(r"created by (\S+) in goroutine (\d+)", line)
                assert cm and cm.group(1) == g["created_by"]["function"]
                assert int(cm.group(2)) == g["created_by"]["goroutine"]
                where = next(it).strip().split(" ")[0]
                assert where == f"{g['created_by']['file']}:{g['created_by']['line']}"
                continue
            fn = re.fullmatch(r"(\S+)\(\.\.\.\)", line)
            assert fn, line
            where = next(it).strip().split(" ")[0]
            got.append((fn.group(1), where))
        want = [(f["function"], f"{f['file']}:{f['line']}") for f in user]
        assert got and got == want, (gid, got, want)
        checked += 1
    assert checked == N * len(WAITERS)


def test_vars_match_memstats(target):
    """At a quiet point (nothing allocates), /debug/vars says what
    gort_read_memstats says in the program."""
    # a request first: each request is served on a goroutine of its own,
    # whose G and stack the first one allocates, later ones reuse
    assert get(f"{target.url}/debug/vars")[0] == 200
    mine = dict(kv.split("=") for kv in target.ask("memstats", "MEMSTATS").split())
    status, body = get(f"{target.url}/debug/vars")
    assert status == 200
    d = json.loads(body)
    assert d["cmdline"][1:] == ["park", str(N)]
    ms = d["memstats"]
    for k, v in mine.items():
        assert ms[k] == int(v), (k, ms[k], v)
    assert len(ms["PauseNs"]) == 256 and len(ms["BySize"]) > 0
    assert sum(c["Mallocs"] for c in ms["BySize"]) <= ms["Mallocs"]


def chromium():
    c = shutil.which("chromium")
    assert c, "chromium is missing: run make deps (mk/deps.sh installs it)"
    return c


def test_index_in_chromium(target, tmp_path):
    url = f"{target.url}/debug/pprof/"
    base = target.count()       # before any request: no request's goroutine in it
    r = run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
             f"--user-data-dir={tmp_path}", "--dump-dom", url], timeout=120)
    assert r.returncode == 0, r.stderr
    dom = r.stdout
    assert "<table>" in dom and "goroutine" in dom
    m = re.search(r"<tr><td>(\d+)</td><td><a href=\"goroutine\?debug=1\">goroutine</a>", dom)
    assert m, dom
    assert int(m.group(1)) == base + 1     # with the request's own goroutine
    links = re.findall(r'href="([^"]+)"', dom)
    assert len(links) >= 3, dom
    assert {"allocs?debug=1", "block?debug=1", "goroutine?debug=1", "heap?debug=1",
            "profile?debug=1", "goroutine?debug=2"} <= set(links), links
    for href in links:
        link = urllib.parse.urljoin(url, href.replace("&amp;", "&"))
        if href.startswith("profile?"):
            link += "&seconds=1"        # a CPU profile: 1 s, not the default 30
        status, _ = get(link)
        assert status == 200, href


def raw(port, data, timeout=60):
    """Send data, read until the server closes; the reply's bytes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        got = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            got += chunk
        return got
    finally:
        s.close()


def status_of(reply):
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", reply)
    return int(m.group(1)) if m else None


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def test_bad_requests(target):
    baseline = target.count()
    beats0, _ = target.beat()
    rss0 = rss_kib(target.pid)
    port = target.port
    assert status_of(raw(port, b"garbage\r\n\r\n")) == 400
    assert status_of(raw(port, b"GET /debug/vars\r\n\r\n")) == 400
    assert status_of(raw(port, b"GET /debug/vars HTTP/1.1\r\nno colon\r\n\r\n")) == 400
    assert status_of(raw(port, b"GET /" + b"a" * (1 << 20) + b" HTTP/1.1\r\n\r\n")) == 414
    assert status_of(raw(port, b"GET /debug/vars HTTP/1.1\r\nX: " + b"b" * 9000 + b"\r\n\r\n")) == 431
    assert status_of(raw(port, b"GET /etc/passwd HTTP/1.1\r\n\r\n")) == 404
    assert status_of(raw(port, b"GET /debug/pprof/nothing HTTP/1.1\r\n\r\n")) == 404
    assert status_of(raw(port, b"DELETE /debug/vars HTTP/1.1\r\n\r\n")) == 405
    assert status_of(raw(port, b"GET /debug/%zz HTTP/1.1\r\n\r\n")) == 400
    moved = raw(port, b"GET /debug/pprof HTTP/1.1\r\n\r\n")
    assert status_of(moved) == 301 and b"\r\nLocation: /debug/pprof/\r\n" in moved
    head = raw(port, b"HEAD /debug/vars HTTP/1.1\r\n\r\n")
    assert status_of(head) == 200 and head.endswith(b"\r\n\r\n")
    # a header that never ends: the server closes the connection by itself
    s = socket.create_connection(("127.0.0.1", port), timeout=120)
    s.sendall(b"GET /debug/vars HTTP/1.1\r\nX-Slow: ")
    t0 = time.monotonic()
    closed = False
    while time.monotonic() - t0 < 100:
        try:
            s.sendall(b"x")
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        s.settimeout(0.5)
        try:
            if s.recv(4096) == b"":
                closed = True
                break
        except socket.timeout:
            pass
        except ConnectionResetError:
            closed = True
            break
    s.close()
    assert closed, "a request that never ends kept its connection"
    check_recovered(target, baseline, beats0, rss0)


def check_recovered(target, baseline, beats0, rss0):
    # the program's own goroutines still run right, and none leaked
    wait_until(lambda: target.beat()[0] > beats0 + 5, timeout=120, what="heartbeats")
    assert target.beat()[1] == 0
    wait_until(lambda: target.count() == baseline, timeout=120,
               what=lambda: f"goroutine count {target.count()} back to {baseline}")
    wait_until(lambda: get(f"{target.url}/debug/vars")[0] == 200, timeout=120,
               what="the endpoint serving again")
    assert rss_kib(target.pid) - rss0 < 32 * 1024


def test_many_idle_connections(target):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    baseline = target.count()
    beats0, _ = target.beat()
    rss0 = rss_kib(target.pid)
    socks = []
    try:
        for _ in range(1000):
            s = socket.socket()
            s.settimeout(120)
            s.connect(("127.0.0.1", target.port))
            socks.append(s)
        # every idle connection is dropped: at once beyond the limit, after
        # the request timeout within it
        pending = list(socks)
        deadline = time.monotonic() + 120
        while pending and time.monotonic() < deadline:
            left = []
            for s in pending:
                s.settimeout(0.01)
                try:
                    data = s.recv(4096)
                    if data:
                        assert status_of(data) == 503
                        continue    # the close follows
                except socket.timeout:
                    left.append(s)
                except ConnectionResetError:
                    pass
            pending = left
        assert not pending, f"{len(pending)} idle connections still open"
        assert rss_kib(target.pid) - rss0 < 32 * 1024
    finally:
        for s in socks:
            s.close()
    check_recovered(target, baseline, beats0, rss0)


def test_mangled_requests(target):
    """Valid requests with bytes flipped, cut, doubled or inserted (a fixed
    seed): every one gets a status line the server is allowed to give, or
    a close, and the program goes on."""
    import random
    rng = random.Random(14)
    baseline = target.count()
    beats0, _ = target.beat()
    rss0 = rss_kib(target.pid)
    seeds = [b"GET /debug/vars HTTP/1.1\r\nHost: x\r\n\r\n",
             b"GET /debug/pprof/goroutine?debug=1 HTTP/1.0\r\n\r\n",
             b"HEAD /debug/pprof/ HTTP/1.1\r\nAccept: */*\r\nX: y\r\n\r\n"]
    allowed = {200, 301, 400, 404, 405, 414, 431}
    for i in range(300):
        req = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            op, at = rng.randrange(4), rng.randrange(len(req))
            if op == 0:
                req[at] = rng.randrange(256)
            elif op == 1:
                del req[at:at + rng.randint(1, 8)]
            elif op == 2:
                req[at:at] = req[at:at + rng.randint(1, 16)] * rng.randint(1, 4)
            else:
                req[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        # a request cut before its end waits for the rest: end it (the
        # server then answers or closes on the timeout)
        reply = raw(target.port, bytes(req) + b"\r\n\r\n")
        if reply:
            assert status_of(reply) in allowed, (bytes(req), reply[:200])
    check_recovered(target, baseline, beats0, rss0)
