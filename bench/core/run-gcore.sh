#!/bin/sh
# bench/core/run-gcore.sh BUILD_DIR — writing a core of a live program:
# goinspect gcore against gdb's gcore on the same running libgort program
# with N parked goroutines (bench/goroutines/goroutines.c, N=100000 by
# default), in one run.
#
# For each tool: wall time and CPU time (user + sys) and peak RSS
# (/usr/bin/time), the core's apparent and allocated size (st_size,
# st_blocks), and the target's pause.  goinspect measures its own pause
# (--json pause_ns); gdb stops the program from its attach to its detach,
# which a poller sees as the target's tracing stop ('t' in /proc/PID/stat,
# polled every 5 ms).  goinspect: median of RUNS runs (default 5); gdb takes
# 15-20 s and runs once.  Needs gdb and time (mk/deps.sh bench); the cores
# go to $build/bench/core (gdb's takes about 7 GB of disk for a moment).
set -eu
build=$(cd "${1:-build}" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/wait_ready.sh
. "$root/bench/wait_ready.sh"
runs=${RUNS:-5}
n=${N:-100000}
out=$build/bench/core
mkdir -p "$out"
gi=$build/bin/goinspect
tm=/usr/bin/time

"$build/bin/gortcc" -O2 -Wall -Wextra -Werror -o "$out/goroutines" "$root/bench/goroutines/goroutines.c"

pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    rm -f "$out/gdb.core" "$out/gi.core"
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

rm -f "$out/target.out"
"$out/goroutines" "$n" >"$out/target.out" 2>&1 &
pid=$!
wait_ready "$out/target.out" "the target" 120
rss=$(awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$pid/status")

# pause_of CMD...: runs CMD while polling the target's state; prints
# "wall_s rss_kb cpu_s paused_s" (paused: first to last tracing stop seen)
pause_of() {
    /usr/bin/python3 - "$pid" "$tm" "$out" "$@" <<'EOF'
import subprocess, sys, time
pid, tm, out, argv = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
p = subprocess.Popen([tm, "-f", "%e %M %U %S", "-o", f"{out}/time.tmp", *argv],
                     stdout=open(f"{out}/last.out", "w"), stderr=open(f"{out}/last.err", "w"))
first = last = None
while p.poll() is None:
    with open(f"/proc/{pid}/stat") as f:
        state = f.read().rsplit(")", 1)[1].split()[0]
    now = time.monotonic()
    if state == "t":
        first = first or now
        last = now
    time.sleep(0.005)
if p.returncode:
    sys.exit(f"{' '.join(argv)} failed:\n" + open(f"{out}/last.err").read()[-2000:])
w, m, u, s = open(f"{out}/time.tmp").read().split()[-4:]
print(w, m, float(u) + float(s), (last - first) if first else 0)
EOF
}

sizes() { stat -c '%s %b' "$1" | awk '{print $1, $2 * 512}'; }
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

: >"$out/raw"
for _ in $(seq "$runs"); do
    rm -f "$out/gi.core"
    "$tm" -f "%e %M %U %S" -o "$out/time.tmp" "$gi" --json gcore -o "$out/gi.core" "$pid" \
        >"$out/last.out" 2>"$out/last.err" || { cat "$out/last.err" >&2; exit 1; }
    pause=$(sed -n 's/.*"pause_ns":\([0-9]*\).*/\1/p' "$out/last.out")
    precopy=$(sed -n 's/.*"precopy":\([a-z]*\).*/\1/p' "$out/last.out")
    echo "$(tail -1 "$out/time.tmp" | awk '{print $1, $2, $3 + $4}') $pause $(sizes "$out/gi.core")" \
        >>"$out/raw"
done
rm -f "$out/gi.core"
gdbline=$(pause_of gdb -q -nx -batch -p "$pid" -ex "gcore $out/gdb.core")
gdbsizes=$(sizes "$out/gdb.core")
rm -f "$out/gdb.core"

col() { awk -v c="$1" '{print $c}' "$out/raw" | median; }
gw=$(col 1) gm=$(col 2) gc=$(col 3) gp=$(col 4) gs=$(col 5) ga=$(col 6)
echo "goinspect gcore ($gi) against gdb $(gdb --version | sed -n '1s/.* //p') gcore on a libgort" \
     "program with $n parked goroutines ($(awk -v r="$rss" 'BEGIN {printf "%.0f", r / 1048576}') MB" \
     "resident), $(nproc) CPUs; goinspect: median of $runs runs (pre-copy with soft-dirty bits:" \
     "$precopy)"
printf '%-16s %8s %8s %8s %10s %10s %12s %10s\n' tool wall_s cpu_s rss_MB pause_ms file_MB \
    allocated_MB "alloc/RSS"
echo "$gw $gc $gm $gp $gs $ga" | awk -v r="$rss" '{
    printf "%-16s %8.2f %8.2f %8.1f %10.1f %10.0f %12.0f %10.2f\n", "goinspect gcore", $1, $2,
        $3 / 1024, $4 / 1e6, $5 / 1048576, $6 / 1048576, $6 / r }'
echo "$gdbline $gdbsizes" | awk -v r="$rss" '{
    printf "%-16s %8.2f %8.2f %8.1f %10.1f %10.0f %12.0f %10.2f\n", "gdb gcore", $1, $3,
        $2 / 1024, $4 * 1000, $5 / 1048576, $6 / 1048576, $6 / r }'
echo "$gw $gp $ga $gdbline $gdbsizes" | awk '{
    printf "gdb / goinspect: wall %.1fx, pause %.0fx, allocated %.1fx\n", $4 / $1, $7 * 1e9 / $2,
        $9 / $3 }'
