#!/bin/sh
# bench/threads/run.sh BUILD_DIR — a target with many OS threads: goinspect's
# `maps`, `ptr` and `threads` against gdb attaching to the same process and
# listing its threads and mappings (`info threads`, `info proc mappings`),
# and against `cat /proc/PID/maps`, in one run.
#
# The target is tests/programs/insp_threads.c: K plain pthreads and K Ms
# (goroutines blocked in system calls), for K in SIZES (default "750 1500":
# 1,500 and 3,000 threads and more).  For each tool: wall time, CPU time
# (user + sys: steadier than wall time on a shared machine) and peak RSS
# (/usr/bin/time); goinspect's are the median of RUNS runs (default 3), gdb's
# take seconds and run once.  The last column is each figure against
# goinspect `maps` on the same target (n/a when that rounds to 0).
# Needs gdb and time (mk/deps.sh, mk/deps.sh bench); no network.
set -eu
build=$(cd "${1:-build}" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/wait_ready.sh
. "$root/bench/wait_ready.sh"
runs=${RUNS:-3}
sizes=${SIZES:-750 1500}
out=$build/bench/threads
mkdir -p "$out"
gi=$build/bin/goinspect
tm=/usr/bin/time

"$build/bin/gortcc" -O2 -Wall -Wextra -Werror -o "$out/insp_threads" \
    "$root/tests/programs/insp_threads.c"

pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# start K: the target with K pthreads and K Ms, ready; its pid is in $pid
start() {
    rm -f "$out/target.out"
    "$out/insp_threads" many "$1" "$1" >"$out/target.out" 2>&1 &
    pid=$!
    wait_ready "$out/target.out" "the target" 120
}

# measure LABEL CMD...: one run; appends "LABEL|wall_s kilobytes cpu_s" to $out/raw
measure() {
    label=$1
    shift
    if ! "$tm" -f "%e %M %U %S" -o "$out/time.tmp" "$@" >"$out/last.out" 2>"$out/last.err"; then
        echo "$label failed:" >&2
        tail -5 "$out/last.err" >&2
        exit 1
    fi
    echo "$label|$(tail -1 "$out/time.tmp" | awk '{print $1, $2, $3 + $4}')" >>"$out/raw"
}

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

echo "goinspect ($gi) against gdb $(gdb --version | sed -n '1s/.* //p') and cat," \
     "$(nproc) CPUs; goinspect: median of $runs runs"
for k in $sizes; do
    start "$k"
    threads=$(ls "/proc/$pid/task" | wc -l)
    mappings=$(wc -l <"/proc/$pid/maps")
    addr=$(sed -n 's/^G 1 main local=\([^ ]*\).*/\1/p' "$out/target.out")
    : >"$out/raw"
    for _ in $(seq "$runs"); do
        measure "goinspect maps" "$gi" attach "$pid" maps
        stacks=$(grep -c "thread stack of" "$out/last.out" || true)
        measure "goinspect ptr" "$gi" attach "$pid" ptr "$addr"
        measure "goinspect threads" "$gi" attach "$pid" threads
        measure "cat /proc/PID/maps" cat "/proc/$pid/maps"
    done
    [ "$stacks" -ge "$((2 * k))" ] ||
        { echo "goinspect maps shows $stacks thread stacks, not $((2 * k))" >&2; exit 1; }
    measure "gdb info threads+mappings" gdb -q -nx -batch -p "$pid" -ex "info threads" \
        -ex "info proc mappings"
    gthreads=$(grep -c "^[ *] *[0-9]\+ \+Thread " "$out/last.out" || true)
    echo
    echo "$threads threads, $mappings mappings (gdb listed $gthreads threads)"
    printf '%-28s %8s %8s %8s %11s %10s\n' tool wall_s cpu_s rss_MB "wall x maps" "cpu x maps"
    bt=$(grep "^goinspect maps|" "$out/raw" | cut -d'|' -f2 | awk '{print $1}' | median)
    bc=$(grep "^goinspect maps|" "$out/raw" | cut -d'|' -f2 | awk '{print $3}' | median)
    for label in "goinspect maps" "goinspect ptr" "goinspect threads" "cat /proc/PID/maps" \
                 "gdb info threads+mappings"; do
        rows=$(grep -F "$label|" "$out/raw" | cut -d'|' -f2)
        t=$(echo "$rows" | awk '{print $1}' | median)
        m=$(echo "$rows" | awk '{print $2}' | median)
        c=$(echo "$rows" | awk '{print $3}' | median)
        awk -v l="$label" -v t="$t" -v m="$m" -v c="$c" -v bt="$bt" -v bc="$bc" 'BEGIN {
            rt = bt > 0 ? sprintf("%.1fx", t / bt) : "n/a"
            rc = bc > 0 ? sprintf("%.1fx", c / bc) : "n/a"
            printf "%-28s %8.2f %8.2f %8.1f %11s %10s\n", l, t, c, m / 1024, rt, rc }'
    done
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
done
