"""Where goinspect finds a binary's separate debug info, for symbolize and
attach, checked against tools nobody here wrote: gdb says which of several
candidate files the search takes, binutils addr2line on the unstripped
original says what that file's lines are; debuginfod is a real
`debuginfod -F` on loopback.

The test library (tests/programs/insp_lib_wait.c) is built in variants whose
code is the same byte for byte but whose line tables differ (the source
moved down by blank lines), with one forced GNU build-id (variant c has
another).  Variant a is stripped with a .gnu_debuglink to its debug file.
The variants' debug files are placed where the search steps look, several at
once, so the lines printed tell which file was taken.
"""
import glob
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import urllib.error
import urllib.request

import pytest

from attachlib import addr2line, goinspect, load_base, marker_line, prompt, read_until, start
from conftest import ROOT, build_program, need_private_mount_namespace, run, wait_until

SRC = os.path.join(ROOT, "tests", "programs", "insp_lib_wait.c")
LIB = "libdi.so"
LINK = LIB + ".debug"           # the .gnu_debuglink name
BUILD_ID = "0123456789abcdef0123456789abcdef01234567"
OTHER_ID = "89abcdef0123456789abcdef0123456789abcdef"
# variant -> (blank lines added before the source, build-id)
VARIANTS = {"a": (0, BUILD_ID), "b": (10, BUILD_ID), "c": (20, OTHER_ID), "d": (30, BUILD_ID)}
FUNCS = ("lib_wait", "lib_outer")


def gi(*args, env=None, timeout=60):
    return run([goinspect(), *args], env=env, timeout=timeout)


def dir_opts(dirs):
    """--debug-file-directory for each of dirs (None: the option not given)."""
    return [a for d in (dirs or []) for a in ("--debug-file-directory", d)]


def section_bytes(path, name):
    out = path + name + ".bin"
    r = run(["objcopy", "-O", "binary", "-j", name, path, out])
    assert r.returncode == 0, r.stderr
    with open(out, "rb") as f:
        return f.read()


class Lib:
    """The variants: unstripped[v], debug[v], src[v]; stripped (variant a
    with its debuglink), nolink (variant a stripped without one: what
    nothing found looks like), addrs (every byte of lib_wait and
    lib_outer)."""

    def __init__(self, root):
        self.root = root
        self.unstripped, self.debug, self.src = {}, {}, {}
        for v, (shift, bid) in VARIANTS.items():
            d = os.path.join(root, "src_" + v)
            os.makedirs(d)
            src = os.path.join(d, "insp_lib_wait.c")
            with open(SRC) as f, open(src, "w") as out:
                out.write("\n" * shift + f.read())
            so = os.path.join(d, LIB)
            r = run(["gcc", "-shared", "-fPIC", "-O2", "-g", "-Wall", "-Werror",
                     "-I", os.path.join(ROOT, "runtime", "include"), f"-Wl,-soname,{LIB}",
                     f"-Wl,--build-id=0x{bid}", "-o", so, src])
            assert r.returncode == 0, r.stderr
            dbg = os.path.join(d, "debug")
            r = run(["objcopy", "--only-keep-debug", so, dbg])
            assert r.returncode == 0, r.stderr
            self.unstripped[v], self.debug[v], self.src[v] = so, dbg, src
        text = section_bytes(self.unstripped["a"], ".text")
        for v in VARIANTS:
            assert section_bytes(self.unstripped[v], ".text") == text, \
                "the variants must differ in their line tables only"
        named = os.path.join(root, LINK)
        shutil.copy(self.debug["a"], named)
        self.stripped = os.path.join(root, "stripped")
        self.nolink = os.path.join(root, "nolink")
        for out, link in ((self.stripped, [f"--add-gnu-debuglink={named}"]), (self.nolink, [])):
            r = run(["objcopy", "--strip-debug", *link, self.unstripped["a"], out])
            assert r.returncode == 0, r.stderr
        os.unlink(named)
        syms = {}
        for line in run(["nm", "-S", self.stripped]).stdout.splitlines():
            f = line.split()
            if len(f) == 4 and f[3] in FUNCS:
                syms[f[3]] = (int(f[0], 16), int(f[1], 16))
        assert sorted(syms) == sorted(FUNCS), syms
        self.addrs = [a for lo, size in syms.values() for a in range(lo, lo + size)]
        self.entries = [syms[f][0] for f in FUNCS]

    def oracle(self, variant):
        """The file goinspect must answer from: variant's unstripped
        library, or (None) the library with nothing found."""
        return self.unstripped[variant] if variant else self.nolink


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    assert not os.path.exists(f"/usr/lib/debug/.build-id/{BUILD_ID[:2]}/{BUILD_ID[2:]}.debug")
    return Lib(str(tmp_path_factory.mktemp("debuginfo")))


def place(lib, root, places):
    """Lays out ROOT/lib/libdi.so (stripped, with its debuglink) and the
    debug files of PLACES: ("next", v), (".debug", v), ("build-id", DIR, v)
    for ROOT/DIR/.build-id/xx/rest.debug, ("under", DIR, v) for
    ROOT/DIR/<the library's directory>/libdi.so.debug.  Returns the library's
    path and a function naming ROOT/DIR."""
    libdir = os.path.join(root, "lib")
    os.makedirs(libdir, exist_ok=True)
    path = os.path.join(libdir, LIB)
    shutil.copy(lib.stripped, path)
    at = lambda d: os.path.join(root, d) if d else d
    for p in places:
        kind, v = p[0], p[-1]
        if kind == "next":
            dst = os.path.join(libdir, LINK)
        elif kind == ".debug":
            dst = os.path.join(libdir, ".debug", LINK)
        elif kind == "build-id":
            dst = os.path.join(at(p[1]), ".build-id", BUILD_ID[:2], BUILD_ID[2:] + ".debug")
        else:
            dst = at(p[1]) + os.path.realpath(libdir) + "/" + LINK
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy(lib.debug[v], dst)
    return path, at


def gdb_lines(path, addrs, dirs):
    """gdb's `info line *ADDR` for each address, the debug directories set
    to dirs (None: gdb's default)."""
    setdir = [] if dirs is None else \
        ["-iex", "set debug-file-directory " + (":".join(d for d in dirs if d) or "/nonexistent")]
    r = run(["gdb", "-q", "-nx", "-batch", *setdir,
             *[a for x in addrs for a in ("-ex", f"info line *{x:#x}")], path])
    lines = [l for l in r.stdout.splitlines() if l.startswith(("Line ", "No line number"))]
    assert len(lines) == len(addrs), r.stdout + r.stderr
    return lines


# (what it shows, placed files, --debug-file-directory list, the variant
# whose lines come out (None: no debug file), files reported as not used)
CASES = [
    ("build-id before debuglink", [("build-id", "d1", "b"), ("next", "a")], ["d1"], "b", []),
    ("directories in order", [("build-id", "d1", "b"), ("build-id", "d2", "d"), ("next", "a")],
     ["d1", "d2"], "b", []),
    ("directories in order, reversed",
     [("build-id", "d1", "b"), ("build-id", "d2", "d"), ("next", "a")], ["d2", "d1"], "d", []),
    ("'' means no directory", [("build-id", "d1", "b"), ("next", "a")], [""], "a", []),
    ("'' means no directory, nothing else",
     [("build-id", "d1", "b"), ("under", "d1", "a")], [""], None, []),
    ("a build-id file must carry the build-id",
     [("build-id", "d1", "c"), ("build-id", "d2", "b")], ["d1", "d2"], "b", ["d1"]),
    ("a debuglink file must have the CRC", [("next", "b"), (".debug", "a")], [""], "a", ["next"]),
    ("a debuglink file must have the CRC, nothing else", [("next", "b")], [""], None, ["next"]),
    ("debug directory + the file's directory", [("next", "b"), ("under", "d3", "a")], ["d3"],
     "a", ["next"]),
    ("every build-id directory before any debuglink",
     [("under", "d1", "a"), ("build-id", "d2", "b")], ["d1", "d2"], "b", []),
    ("the default is /usr/lib/debug", [("next", "a")], None, "a", []),
]


@pytest.mark.parametrize("what,places,dirs,want,skipped", CASES, ids=[c[0] for c in CASES])
def test_symbolize_takes_the_file_gdb_takes(lib, tmp_path, what, places, dirs, want, skipped):
    path, at = place(lib, str(tmp_path), places)
    abs_dirs = None if dirs is None else [at(d) for d in dirs]
    addrs = "\n".join(f"{a:x}" for a in lib.addrs) + "\n"
    r = run([goinspect(), *dir_opts(abs_dirs), "symbolize", "-f", "-i", "-e", path], input=addrs)
    assert r.returncode == 0, r.stderr
    oracle = run(["addr2line", "-f", "-i", "-e", lib.oracle(want)], input=addrs)
    assert r.stdout == oracle.stdout
    assert (".c:" in r.stdout) == (want is not None)
    # gdb takes the same file
    assert gdb_lines(path, lib.entries, abs_dirs) == gdb_lines(lib.oracle(want), lib.entries, None)
    for s in skipped:
        bad = os.path.join(os.path.dirname(path), LINK) if s == "next" else \
            os.path.join(at(s), ".build-id", BUILD_ID[:2], BUILD_ID[2:] + ".debug")
        assert f"goinspect: warning: {bad}: not the debug file of {path}" in r.stderr, r.stderr


def build_id_of(path):
    out = run(["readelf", "-n", path]).stdout
    return out.split("Build ID:")[1].split()[0] if "Build ID:" in out else None


def test_empty_list_hides_the_system_debug_files():
    """--debug-file-directory '' leaves libc without the debug file of
    /usr/lib/debug (gdb with its directory set elsewhere agrees); without
    the option, the file is used when the system has it (libc6-dbg)."""
    libc = os.path.realpath(glob.glob("/usr/lib/*/libc.so.6")[0])
    addr = [l.split()[0] for l in run(["nm", "-D", libc]).stdout.splitlines()
            if l.split()[-1].startswith("malloc@@")][0]
    r = gi("--debug-file-directory", "", "symbolize", "-e", libc, addr)
    assert r.returncode == 0 and r.stdout == "??:?\n", r.stdout + r.stderr
    assert gdb_lines(libc, [int(addr, 16)], [""])[0].startswith("No line number information")
    bid = build_id_of(libc)
    if not os.path.exists(f"/usr/lib/debug/.build-id/{bid[:2]}/{bid[2:]}.debug"):
        pytest.skip("no debug file for libc in /usr/lib/debug (libc6-dbg)")
    r = gi("symbolize", "-e", libc, addr)
    eu = run(["eu-addr2line", "-e", libc, addr]).stdout
    assert r.stdout.rsplit(":", 1)[1] == eu.split(":")[-2] + "\n", (r.stdout, eu)


def test_symbolize_option_spellings(lib, tmp_path):
    """After the command: --debug-file-directory=DIR, --debug-file-directory
    DIR and the older --debug-dir=DIR; before it, the global option; all
    add to one list in order."""
    path, at = place(lib, str(tmp_path), [("build-id", "d1", "b"), ("build-id", "d2", "d")])
    addr = f"{lib.entries[0]:x}"
    line = lambda v: run(["addr2line", "-e", lib.unstripped[v], addr]).stdout
    d1, d2 = at("d1"), at("d2")
    for opts, want in [
        (["symbolize", f"--debug-file-directory={d2}", "--debug-file-directory", d1], "d"),
        (["symbolize", f"--debug-dir={d1}"], "b"),
        (["--debug-file-directory", d2, "symbolize", f"--debug-file-directory={d1}"], "d"),
        (["--debug-file-directory", "", "symbolize", f"--debug-dir={d2}"], "d"),
    ]:
        r = gi(*opts, "-e", path, addr)
        assert r.returncode == 0, r.stderr
        assert r.stdout == line(want), opts
    r = gi("--debug-file-directory")
    assert r.returncode == 2 and "needs a directory" in r.stderr
    r = gi("attach", "--debug-file-directory", d1, "1")
    assert r.returncode == 2 and "goes before the command" in r.stderr


# ---- attach -------------------------------------------------------------------

def lib_target(targets, program, lib, root, places, extra=(), strip_exe=False):
    """insp_lib_main linked with ROOT/lib/libdi.so laid out by place()
    (its own DWARF stripped with strip_exe)."""
    path, at = place(lib, root, places)
    libdir = os.path.dirname(path)
    exe = build_program("insp_lib_main.c", os.path.join(root, "insp_lib_main"),
                        extra=(*extra, path, f"-Wl,-rpath,{libdir}"))
    if strip_exe:
        # the pc-line table gortcc adds is debug info that --strip-debug
        # keeps (docs/pctab.md): removed too, for an executable with none
        r = run(["objcopy", "--strip-debug", "--remove-section", ".gort_pctab", exe])
        assert r.returncode == 0, r.stderr
    return start(targets, program, "insp_lib_main.c", "run", exe=exe), path, at


def json_doc(r):
    return json.loads(r.stdout)


def lib_frames(frames, path):
    got = [f for f in frames if f["module"] == path]
    assert [f["function"] for f in got] == list(FUNCS), frames
    return got


def check_frames(frames, t, lib, path, want):
    """The library's frames: files and lines of variant want (addr2line on
    its unstripped library), or none at all."""
    base = load_base(t.pid, path)
    for f in lib_frames(frames, path):
        if want:
            pc = f["pc"] - (0 if f["exact"] else 1) - base
            fn, file, line = addr2line(lib.unstripped[want], pc)[0]
            assert (f["function"], f["file"], f["line"]) == (fn, file, line)
        else:
            assert f["file"] is None and not f["line"], f


ATTACH_CASES = [
    ("build-id", [("build-id", "d1", "b"), ("next", "a")], ["d1"], "b"),
    ("next to the library", [("build-id", "d1", "b"), ("next", "a")], [""], "a"),
    ("none found", [("build-id", "d1", "b")], [""], None),
    ("wrong CRC", [("next", "b")], None, None),
]


@pytest.mark.parametrize("what,places,dirs,want", ATTACH_CASES, ids=[c[0] for c in ATTACH_CASES])
def test_attach_frames_have_lines_from_the_file_found(targets, program, lib, tmp_path, what,
                                                      places, dirs, want):
    t, path, at = lib_target(targets, program, lib, str(tmp_path), places)
    opts = dir_opts(None if dirs is None else [at(d) for d in dirs])
    w = t.one("lib_waiter")
    r = gi(*opts, "--json", "attach", str(t.pid), "goroutine", str(w.id))
    assert r.returncode == 0, r.stderr
    check_frames(json_doc(r)["goroutine"]["frames"], t, lib, path, want)
    r = gi(*opts, "--json", "attach", str(t.pid), "goroutines", "-t")
    assert r.returncode == 0, r.stderr
    (g,) = [g for g in json_doc(r)["goroutines"] if g["id"] == w.id]
    check_frames(g["frames"], t, lib, path, want)
    r = gi(*opts, "attach", str(t.pid), "goroutine", str(w.id))
    assert r.returncode == 0, r.stderr
    if want:
        src = lib.src[want]
        assert f"at {src}:{marker_line(src, 'WAIT:lib')}\n" in r.stdout, r.stdout
    else:
        assert "insp_lib_wait.c" not in r.stdout
    t.assert_progress()


def test_attach_prompt_uses_the_debug_directories(targets, program, lib, tmp_path):
    t, path, at = lib_target(targets, program, lib, str(tmp_path), [("build-id", "d1", "b")])
    w = t.one("lib_waiter")
    with prompt(["--debug-file-directory", at("d1"), "attach", str(t.pid)]) as (p, master):
        read_until(master, "goinspect> ")
        os.write(master, f"goroutine {w.id}\n".encode())
        out = read_until(master, "goinspect> ")
        src = lib.src["b"]
        assert f"at {src}:{marker_line(src, 'WAIT:lib')}" in out, out
        os.write(master, b"quit\n")
        assert p.wait(timeout=20) == 0
    t.assert_progress()


# ---- debuginfod ---------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError):
        return None


class Server:
    """`debuginfod -F DIR` on a free port; stopped by stop(), or killed by
    the targets fixture at teardown."""

    def __init__(self, targets, root, served):
        if not shutil.which("debuginfod"):
            pytest.skip("debuginfod not installed (make deps)")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = os.path.join(root, "debuginfod.log")
        with open(self.log, "w") as log:
            # debuginfod 0.188 has no option for the listen address: it
            # listens on every interface, on a port chosen free here
            self.proc = targets.start(["debuginfod", "-F", "-d", os.path.join(root, "db.sqlite"),
                                       "-p", str(self.port), "-t", "0", "-g", "0", served],
                                      stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._serves, timeout=60, what=self._state)

    def _serves(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"debuginfod exited ({self.proc.returncode}):\n{self._state()}")
        return http_status(f"{self.url}/buildid/{BUILD_ID}/debuginfo") == 200

    def _state(self):
        with open(self.log) as f:
            return "debuginfod to serve the library's debug file; its log:\n" + f.read()[-3000:]

    def stop(self):
        self.proc.kill()
        self.proc.wait(timeout=20)


def served_dir(lib, root):
    d = os.path.join(root, "served")
    os.makedirs(d)
    shutil.copy(lib.debug["a"], os.path.join(d, LINK))
    return d


def debuginfod_env(url, root):
    return {"DEBUGINFOD_URLS": url, "DEBUGINFOD_CACHE_PATH": os.path.join(root, "cache")}


def goroutine_frames(t, env):
    """The frames of the goroutine waiting in the library, with no debug
    directory (only debuginfod can then give the library's lines)."""
    r = gi("--debug-file-directory", "", "--json", "attach", str(t.pid), "goroutine",
           str(t.one("lib_waiter").id), env=env)
    assert r.returncode == 0, r.stderr
    return json_doc(r)["goroutine"]["frames"], r.stderr


def test_debuginfod_gives_the_frames_their_lines(targets, program, lib, tmp_path):
    root = str(tmp_path)
    server = Server(targets, root, served_dir(lib, root))
    t, path, _ = lib_target(targets, program, lib, root, [])
    env = debuginfod_env(server.url, root)
    check_frames(goroutine_frames(t, env)[0], t, lib, path, "a")
    addrs = [f"{a:x}" for a in lib.entries]
    r = gi("--debug-file-directory", "", "symbolize", "-f", "-e", path, *addrs, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == run(["addr2line", "-f", "-e", lib.unstripped["a"], *addrs]).stdout
    # libdebuginfod's cache answers once the server is gone
    server.stop()
    check_frames(goroutine_frames(t, env)[0], t, lib, path, "a")
    t.assert_progress()


def test_debuginfod_unreachable_warns_and_goes_on(targets, program, lib, tmp_path):
    root = str(tmp_path)
    server = Server(targets, root, served_dir(lib, root))
    server.stop()
    t, path, _ = lib_target(targets, program, lib, root, [])
    frames, err = goroutine_frames(t, debuginfod_env(server.url, root))
    check_frames(frames, t, lib, path, None)
    assert (f"goinspect: warning: no debug info for {LIB} from DEBUGINFOD_URLS ({server.url}): "
            "Connection refused\n") in err, err
    t.assert_progress()


def test_without_libdebuginfod_one_warning(targets, program, lib, tmp_path):
    """libdebuginfod.so.1 hidden (an empty file mounted over it in a mount
    namespace of goinspect's own): one warning however many modules lack
    debug info, and the frames without lines."""
    need_private_mount_namespace()   # to hide libdebuginfod.so.1
    t, path, _ = lib_target(targets, program, lib, str(tmp_path), [], strip_exe=True)
    w = t.one("lib_waiter")
    libs = {os.path.realpath(p) for p in glob.glob("/usr/lib/*/libdebuginfod.so.1") +
            glob.glob("/lib/*/libdebuginfod.so.1")}
    hide = "".join(f"mount --bind /dev/null {p} && " for p in libs)
    r = run(["unshare", "-m", "sh", "-c", hide + 'exec "$@"', "sh", goinspect(),
             "--debug-file-directory", "", "--json", "attach", str(t.pid), "goroutine", str(w.id)],
            env={"DEBUGINFOD_URLS": "http://127.0.0.1:9"})
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("libdebuginfod.so.1 cannot be loaded") == 1, r.stderr
    frames = json_doc(r)["goroutine"]["frames"]
    check_frames(frames, t, lib, path, None)
    # the executable (stripped here) was looked up too, without lines
    mine = [f for f in frames if f["module"] == t.exe]
    assert "lib_waiter" in [f["function"] for f in mine], frames
    assert all(f["file"] is None for f in mine), mine
    t.assert_progress()


class SlowServer:
    """A debuginfod stand-in (the protocol's GET /buildid/ID/debuginfo) that
    sends half of the library's debug file, then holds the rest until
    release() (or 60 s), so a download takes as long as the test needs;
    every path asked for is logged."""

    def __init__(self, body, hold):
        self.asked = []
        self.released = threading.Event()
        if not hold:
            self.released.set()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.asked.append(self.path)
                if self.path != f"/buildid/{BUILD_ID}/debuginfo":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                half = len(body) // 2
                self.wfile.write(body[:half])
                self.wfile.flush()
                server.released.wait(60)
                self.wfile.write(body[half:])

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def slow_server(lib):
    servers = []

    def make(hold):
        with open(lib.debug["a"], "rb") as f:
            servers.append(SlowServer(f.read(), hold))
        return servers[-1]
    yield make
    for s in servers:
        s.close()


def test_long_download_prints_one_progress_line(lib, tmp_path, slow_server):
    """Not a terminal: one line once the download has taken a second; the
    server finishes only after it has been printed."""
    server = slow_server(hold=True)
    path, _ = place(lib, str(tmp_path), [])
    addr = f"{lib.entries[0]:x}"
    env = dict(os.environ, **debuginfod_env(server.url, str(tmp_path)))
    p = subprocess.Popen([goinspect(), "--debug-file-directory", "", "symbolize", "-e", path, addr],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err = []
    progress = f"goinspect: downloading debug info for {LIB} (build-id {BUILD_ID[:12]}...) " \
               "from debuginfod"

    def read_err():
        for line in p.stderr:
            err.append(line)
            if line.startswith(progress):
                server.released.set()
    reader = threading.Thread(target=read_err, daemon=True)
    reader.start()
    try:
        p.wait(timeout=90)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    reader.join(10)
    out = p.stdout.read()
    assert p.returncode == 0, err
    assert [l for l in err if l.startswith(progress)] == [err[0]] and len(err) == 1, err
    assert out == run(["addr2line", "-e", lib.unstripped["a"], addr]).stdout


def test_only_modules_looked_up_ask_debuginfod(targets, program, lib, tmp_path, slow_server):
    """A library the program loads but no stack passes through is never
    opened, so debuginfod is never asked for it."""
    root = str(tmp_path)
    server = slow_server(hold=False)
    idle_src = os.path.join(root, "idle.c")
    with open(idle_src, "w") as f:
        f.write("int di_idle(int x) { return x + 1; }\n")
    idle = os.path.join(root, "libdi_idle.so")
    r = run(["gcc", "-shared", "-fPIC", "-O2", "-Wl,-soname,libdi_idle.so",
             f"-Wl,--build-id=0x{OTHER_ID}", "-o", idle, idle_src])
    assert r.returncode == 0, r.stderr
    t, path, _ = lib_target(targets, program, lib, root, [],
                            extra=("-Wl,--no-as-needed", idle, f"-Wl,-rpath,{root}"))
    with open(f"/proc/{t.pid}/maps") as f:
        assert idle in f.read(), "the idle library is loaded"
    check_frames(goroutine_frames(t, debuginfod_env(server.url, root))[0], t, lib, path, "a")
    assert f"/buildid/{BUILD_ID}/debuginfo" in server.asked
    assert not [a for a in server.asked if OTHER_ID in a], server.asked
    t.assert_progress()
