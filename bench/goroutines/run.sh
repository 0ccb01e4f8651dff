#!/bin/sh
# bench/goroutines/run.sh BUILD_DIR — listing 100,000 parked goroutines:
# goinspect on a libgort program (goroutines.c) against Delve and gdb with
# Go's runtime-gdb.py on the same shape in Go (goroutines.go), in one run.
#
# For each tool: wall time, CPU time (user + sys: steadier than wall time on
# a shared machine) and peak RSS (/usr/bin/time), and for goinspect
# the target's pause (its own measurement, --json pause_ns).  goinspect's
# numbers are the median of RUNS runs (default 5); Delve's and gdb's take
# 10-40 s each and run once.  N=... changes the goroutine count.
# Needs golang-go, delve, gdb and time (mk/deps.sh bench); no network.
set -eu
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")" && pwd)
runs=${RUNS:-5}
n=${N:-100000}
out=$build/bench/goroutines
mkdir -p "$out"
gi=$build/bin/goinspect
tm=/usr/bin/time

# shellcheck source=bench/goroutines/programs.sh
. "$src/programs.sh"
# shellcheck source=bench/wait_ready.sh
. "$src/../wait_ready.sh"

pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# start PROGRAM: runs it and waits for READY; its pid is in $pid
start() {
    rm -f "$out/$(basename "$1").out"      # not an old run's READY
    "$1" "$n" >"$out/$(basename "$1").out" 2>&1 &
    pid=$!
    pids="$pids $pid"
    wait_ready "$out/$(basename "$1").out" "$1" 60
}

# measure LABEL CMD...: one run; appends "LABEL wall_s kilobytes cpu_s" to $out/raw.
# Delve exits 1 when its closing question ("kill the process?") reads EOF,
# and leaves the process running, as wanted: only goinspect must exit 0.
measure() {
    label=$1
    shift
    if ! "$tm" -f "%e %M %U %S" -o "$out/time.tmp" "$@" >"$out/last.out" 2>"$out/last.err"; then
        case $label in
        goinspect*)
            echo "$label failed:" >&2
            tail -5 "$out/last.err" >&2
            exit 1 ;;
        esac
    fi
    echo "$label $(tail -1 "$out/time.tmp" | awk '{print $1, $2, $3 + $4}')" >>"$out/raw"
}

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

: >"$out/raw"
: >"$out/pause"
start "$out/goroutines-gort"
gpid=$pid
for _ in $(seq "$runs"); do
    measure "goinspect goroutines" "$gi" attach "$gpid" goroutines
    lines=$(grep -c "Goroutine " "$out/last.out")
    measure "goinspect goroutines -g" "$gi" attach "$gpid" goroutines -g
    measure "goinspect goroutines -t" "$gi" attach "$gpid" goroutines -t
    "$gi" --json attach "$gpid" goroutines -n 0 |
        sed -n 's/.*"pause_ns":\([0-9]*\).*/\1/p' >>"$out/pause"
done
[ "$lines" -ge "$n" ] || { echo "goinspect listed $lines goroutines, not $n" >&2; exit 1; }

start "$out/goroutines-go"
dpid=$pid
printf 'goroutines\nexit\n' >"$out/dlv-goroutines.init"
printf 'goroutines -t\nexit\n' >"$out/dlv-goroutines-t.init"
measure "dlv goroutines" dlv attach "$dpid" --init "$out/dlv-goroutines.init" \
    --allow-non-terminal-interactive=true </dev/null
dlines=$(grep -c "Goroutine " "$out/last.out" || true)
kill -0 "$dpid" || { echo "Delve killed the Go program" >&2; exit 1; }
measure "dlv goroutines -t" dlv attach "$dpid" --init "$out/dlv-goroutines-t.init" \
    --allow-non-terminal-interactive=true </dev/null
if [ -n "$gdbpy" ]; then
    measure "gdb info goroutines" gdb -q -nx -batch -p "$dpid" -ex "source $gdbpy" \
        -ex "info goroutines"
fi

echo "goinspect ($build/bin/goinspect) on $n goroutines of libgort, against Delve" \
     "$(dlv version 2>/dev/null | sed -n 's/^Version: //p') and gdb $(gdb --version |
     sed -n '1s/.* //p') + runtime-gdb.py on $n of $("$go" version | cut -d' ' -f3)," \
     "$(nproc) CPUs; goinspect: median of $runs runs"
echo "(Delve listed $dlines goroutines, goinspect $lines)"
[ "$dlines" -ge "$n" ] || echo "warning: Delve did not list every goroutine" >&2
printf '%-26s %8s %8s %8s %12s %9s\n' tool wall_s cpu_s rss_MB "wall x gi" "RSS x gi"
base_t=$(grep "^goinspect goroutines [0-9]" "$out/raw" | awk '{print $3}' | median)
base_m=$(grep "^goinspect goroutines [0-9]" "$out/raw" | awk '{print $4}' | median)
for label in "goinspect goroutines" "goinspect goroutines -g" "goinspect goroutines -t" \
             "dlv goroutines" "dlv goroutines -t" "gdb info goroutines"; do
    rows=$(grep -F "$label " "$out/raw" | awk -v l="$label" '{ x = $0; sub(l " ", "", x); print x }' |
           awk 'NF == 3' || true)
    [ -n "$rows" ] || continue
    t=$(echo "$rows" | awk '{print $1}' | median)
    m=$(echo "$rows" | awk '{print $2}' | median)
    c=$(echo "$rows" | awk '{print $3}' | median)
    awk -v l="$label" -v t="$t" -v m="$m" -v c="$c" -v bt="$base_t" -v bm="$base_m" 'BEGIN {
        printf "%-26s %8.2f %8.2f %8.1f %11.1fx %8.1fx\n", l, t, c, m / 1024, t / bt, m / bm }'
done
p=$(median <"$out/pause")
awk -v p="$p" 'BEGIN { printf "goinspect target pause (median): %.2f ms\n", p / 1e6 }'
