"""Where goinspect attach reads the file of a module from, and what it says
when it cannot: a library of another mount namespace whose path names, in
goinspect's own namespace, another file with the same inode number (on
another device), and a library replaced on disk while it is loaded, seen
by a user who cannot read /proc/PID/map_files.  The oracle is addr2line on
the library the target really runs, and /proc/PID/maps."""
import json
import os
import shutil

import pytest

from attachlib import AS_NOBODY, Target, goinspect, run, world_copies
from conftest import need_private_mount_namespace, wait_until

REAL = r"""
static volatile int counter;
static __attribute__((noinline)) void real_inner(void) { for (;;) counter++; }
void lib_spin(void) { real_inner(); counter--; }
"""
# other names at the same offsets
DECOY = r"""
static volatile int counter;
static __attribute__((noinline)) void decoy_inner(void) { for (;;) counter++; }
void lib_spin(void) { decoy_inner(); counter--; }
"""

DRIVER = r"""
set -e
dir=$1; decoy=$2; real=$3; exe=$4; out=$5; gi=$6
mount -t tmpfs none "$dir"
cp "$decoy" "$dir/libspin.so"
unshare -m --propagation private sh -c \
    "mount -t tmpfs none '$dir' && cp '$real' '$dir/libspin.so' && exec '$exe' lib '$dir/libspin.so' lib_spin" \
    > "$out.target" 2>&1 &
target=$!
trap 'kill -9 $target 2>/dev/null || true' EXIT
i=0
until grep -q READY "$out.target"; do
    i=$((i + 1)); [ $i -lt 200 ] || { echo "target not ready" >&2; cat "$out.target" >&2; exit 1; }
    sleep 0.05
done
stat -c '%d %i' "$dir/libspin.so" > "$out.ours"
stat -c '%d %i' "/proc/$target/root$dir/libspin.so" > "$out.theirs"
"$gi" --json attach "$target" threads -t > "$out.json"
"""


def test_a_library_of_another_mount_namespace_is_read_from_there(program, tmp_path):
    """Both tmpfs number their first file alike: the inode number is the
    same, the device is not.  gdb reads the target's own file (through its
    mount namespace); so must goinspect."""
    need_private_mount_namespace()
    t = str(tmp_path)
    libs = {}
    for name, src in (("real", REAL), ("decoy", DECOY)):
        with open(f"{t}/{name}.c", "w") as f:
            f.write(src)
        r = run(["gcc", "-g", "-O1", "-shared", "-fPIC", "-o", f"{t}/{name}.so", f"{t}/{name}.c"])
        assert r.returncode == 0, r.stderr
        libs[name] = f"{t}/{name}.so"
    exe = program("thread_places.c")
    os.makedirs(f"{t}/mnt")
    with open(f"{t}/driver.sh", "w") as f:
        f.write(DRIVER)
    out = f"{t}/out"
    r = run(["unshare", "-m", "--propagation", "private", "sh", f"{t}/driver.sh", f"{t}/mnt",
             libs["decoy"], libs["real"], exe, out, goinspect()], timeout=120)
    assert r.returncode == 0, r.stderr
    ours, theirs = open(out + ".ours").read().split(), open(out + ".theirs").read().split()
    assert ours[1] == theirs[1] and ours[0] != theirs[0], \
        f"the layout needs one inode number on two devices: {ours} {theirs}"
    doc = json.load(open(out + ".json"))
    (tid,) = [int(l.split()[2]) for l in open(out + ".target") if l.startswith("TID lib ")]
    (th,) = [th for th in doc["threads"] if th["tid"] == tid]
    frames = [f for f in th["frames"] if f["module"] and f["module"].endswith("/libspin.so")]
    assert frames, th["frames"]
    for f in frames:
        a2l = run(["addr2line", "-f", "-e", libs["real"], hex(f["offset"] - (1 - f["exact"]))])
        want = a2l.stdout.split("\n")[0]
        assert f["function"] == want, f"frame {f}: the target runs {libs['real']}, where it is {want}"


def test_a_replaced_library_is_reported_as_such(targets, program, tmp_path):
    """The mapped file is now "(deleted)", its path names another file and
    map_files needs privileges this user lacks: the walk ends saying the
    file cannot be read, not that the pc is in no mapped file."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run the target and goinspect as another user")
    src = tmp_path / "real.c"
    src.write_text(REAL)
    lib = str(tmp_path / "libspin.so")
    r = run(["gcc", "-g", "-O1", "-shared", "-fPIC", "-o", lib, str(src)])
    assert r.returncode == 0, r.stderr
    with world_copies(goinspect(), program("thread_places.c"), lib) as (gi, exe, libcopy):
        proc = targets.start(AS_NOBODY + [exe, "lib", libcopy, "lib_spin"])
        t = Target(proc, exe, exe)
        i = t.wait_line(lambda l: l == "READY")
        (tid,) = [int(l.split()[2]) for l in t.lines[:i] if l.startswith("TID lib ")]
        # the upgrade: a new file under the old name
        os.unlink(libcopy)
        shutil.copy("/bin/true", libcopy)
        os.chmod(libcopy, 0o755)
        with open(f"/proc/{t.pid}/maps") as f:
            mapped = [l for l in f if l.rstrip().endswith(libcopy + " (deleted)")]
        assert mapped, "the old library is not mapped as deleted"
        r = run(AS_NOBODY + [gi, "--json", "attach", str(t.pid), "threads", "-t"])
    assert r.returncode == 0, r.stderr
    (th,) = [th for th in json.loads(r.stdout)["threads"] if th["tid"] == tid]
    assert th["frames"][0]["module"] == libcopy, th
    assert th["frames"][0]["function"] in (None, "real_inner"), th
    assert "no mapped file" not in (th["stack_error"] or ""), \
        f"the pc is in {mapped[0].strip()}, but goinspect says: {th['stack_error']}"
    wait_until(lambda: t.state() not in ("t", "T"), what="the target to run")
