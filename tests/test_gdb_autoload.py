"""gdb loads the extension by itself, through the `.debug_gdb_scripts` entry
every libgort program carries, once its auto-load safe-path allows the
program with the line docs/gdb.md gives; `make install` puts the package
where that entry looks; the entry's paths follow PREFIX."""
import os
import re
import subprocess

from attachlib import start
from conftest import ROOT, need_private_mount_namespace, run
from gdblib import gdb, listing

DOCS = os.path.join(ROOT, "docs", "gdb.md")


def documented_safe_path_command():
    """The command docs/gdb.md tells a user to put in ~/.gdbinit, with its
    example directory: ("add-auto-load-safe-path", "/home/you/src")."""
    with open(DOCS) as f:
        text = f.read()
    lines = re.findall(r"^(add-auto-load-safe-path) (\S+)$", text, re.M)
    assert lines, "docs/gdb.md gives no add-auto-load-safe-path line"
    assert "set auto-load safe-path /" not in text      # never: it turns the protection off
    return lines[0]


def entry_paths(exe):
    """The directories the program's .debug_gdb_scripts entry searches."""
    r = run(["readelf", "-p", ".debug_gdb_scripts", exe])
    assert r.returncode == 0, r.stderr
    m = re.search(r"for _d in \('([^']*)', '([^']*)'\)", r.stdout)
    assert m, r.stdout
    return m.group(1), m.group(2)


def test_autoloaded_with_the_documented_line(targets, program):
    t = start(targets, program, "insp_park.c", "park")
    cmd, _example = documented_safe_path_command()
    allow = f"{cmd} {os.path.dirname(t.exe)}"
    out, err = gdb(["-p", str(t.pid)], ["info goroutines"], source=False, iex=[allow])
    assert "auto-loading has been declined" not in out + err, out + err
    assert sorted(listing(out), key=int) == sorted((str(w.id) for w in t.who), key=int), out
    # and without it gdb declines, and says how to allow it
    out, err = gdb(["-p", str(t.pid)], ["info goroutines"], source=False)
    assert "auto-loading has been declined" in out + err, out + err
    assert 'Undefined info command: "goroutines"' in err, err
    t.assert_progress()


def test_sourced_and_autoloaded_once(targets, program):
    """source gort-gdb.py after auto-load (or twice) installs nothing twice."""
    t = start(targets, program, "insp_park.c", "park")
    allow = f"add-auto-load-safe-path {os.path.dirname(t.exe)}"
    out, err = gdb(["-p", str(t.pid)],
                   [f"source {ROOT}/gdb/gort-gdb.py", "info goroutines", "info frame-filter",
                    "info unwinder"], iex=[allow])
    assert out.count("gort-goroutines") == 2, out       # one filter, one unwinder
    assert len(listing(out)) == len(t.who), out
    t.assert_progress()


def test_make_install_puts_the_package_where_the_entry_looks(program, tmp_path):
    exe = program("insp_park.c")
    checkout, installed = entry_paths(exe)
    assert checkout == os.path.join(ROOT, "gdb")
    dest = tmp_path / "dest"
    r = run(["make", "-C", ROOT, "--no-print-directory", "install", f"DESTDIR={dest}"],
            timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    pkg = f"{dest}{installed}/gortgdb"
    assert os.path.isfile(f"{pkg}/__init__.py"), r.stdout
    assert sorted(os.listdir(pkg)) == sorted(f for f in os.listdir(f"{ROOT}/gdb/gortgdb")
                                             if f.endswith(".py"))
    # gdb loads the installed copy by itself when the checkout's is not
    # there: in a mount namespace of its own (where the program runs too),
    # the checkout's gdb/ hidden and the installed tree where the entry looks
    need_private_mount_namespace()
    share = os.path.dirname(os.path.dirname(installed))       # .../share
    script = (f"mount -t tmpfs none {ROOT}/gdb && mount -t tmpfs none {share} && "
              f"mkdir -p {installed} && mount --bind {dest}{installed} {installed} && "
              f"exec gdb -nx -batch -iex 'add-auto-load-safe-path {os.path.dirname(exe)}' "
              f"-ex 'break mode_park' -ex run "
              f"-ex 'python import gortgdb; print(\"FROM\", gortgdb.__file__)' "
              f"-ex 'info goroutines' -ex kill --args {exe} park")
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True,
                       timeout=120, stdin=subprocess.DEVNULL)
    assert f"FROM {installed}/gortgdb/__init__.py" in r.stdout, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    rows = listing(r.stdout)
    assert rows["1"]["status"] == "running" and rows["1"]["function"] == "mode_park", r.stdout


def test_entry_follows_prefix(tmp_path):
    """A runtime built for one PREFIX and then installed for another is
    rebuilt: the installed entry looks where that install put the package."""
    build = tmp_path / "build"
    for prefix in ("/opt/first", "/opt/second"):
        r = run(["make", "-C", ROOT, "--no-print-directory", "-j2", f"BUILD={build}",
                 f"PREFIX={prefix}", "runtime"], timeout=900)
        assert r.returncode == 0, r.stdout + r.stderr
        strings = run(["strings", str(build / "lib" / "libgort.a")]).stdout
        assert f"'{prefix}/share/goinspect/gdb'" in strings, prefix
