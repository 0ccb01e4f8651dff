#!/bin/sh
# bench/goroutines/scale.sh BUILD_DIR — the scale curve: `goroutines` over
# 1,000 to 1,000,000 parked goroutines (goroutines.c, goroutines.go: the
# shapes of run.sh), goinspect against Delve, in one run.
#
# For each count: goinspect's wall time, CPU time and peak RSS (median of
# RUNS runs, default 3) and the target's pause (--json pause_ns, median),
# then Delve's `goroutines` once, cut off after DLV_TIMEOUT seconds (default
# 300; "-" in the table).  COUNTS="1000 10000 100000 1000000" changes the
# counts.  Needs golang-go, delve and time (mk/deps.sh bench); no network.
set -eu
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")" && pwd)
runs=${RUNS:-3}
counts=${COUNTS:-1000 10000 100000 1000000}
dlv_timeout=${DLV_TIMEOUT:-300}
out=$build/bench/goroutines-scale
mkdir -p "$out"
gi=$build/bin/goinspect
tm=/usr/bin/time

# shellcheck source=bench/goroutines/programs.sh
. "$src/programs.sh"
# shellcheck source=bench/wait_ready.sh
. "$src/../wait_ready.sh"

pid=""
cleanup() {
    [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# start PROGRAM N: runs it and waits for READY; its pid is in $pid
start() {
    rm -f "$out/target.out"
    "$1" "$2" >"$out/target.out" 2>&1 &
    pid=$!
    wait_ready "$out/target.out" "$1" 600
}

stop() {
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
}

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

printf 'goroutines\nexit\n' >"$out/dlv-goroutines.init"
echo "goinspect ($gi) against Delve $(dlv version 2>/dev/null | sed -n 's/^Version: //p')," \
     "$(nproc) CPUs; goinspect: median of $runs runs; Delve cut off after $dlv_timeout s"
printf '%10s %10s %10s %10s %10s %10s %10s %9s\n' goroutines gi_wall_s gi_cpu_s gi_rss_MB \
       pause_ms dlv_wall_s dlv_rss_MB "dlv x gi"
for n in $counts; do
    start "$out/goroutines-gort" "$n"
    : >"$out/gi"
    : >"$out/pause"
    for _ in $(seq "$runs"); do
        "$tm" -f "%e %M %U %S" -o "$out/time.tmp" "$gi" attach "$pid" goroutines >"$out/gi.out"
        tail -1 "$out/time.tmp" | awk '{print $1, $2, $3 + $4}' >>"$out/gi"
        lines=$(grep -c "Goroutine " "$out/gi.out")
        [ "$lines" -ge "$n" ] || { echo "goinspect listed $lines goroutines, not $n" >&2; exit 1; }
        "$gi" --json attach "$pid" goroutines -n 0 |
            sed -n 's/.*"pause_ns":\([0-9]*\).*/\1/p' >>"$out/pause"
    done
    stop
    t=$(awk '{print $1}' "$out/gi" | median)
    m=$(awk '{print $2}' "$out/gi" | median)
    c=$(awk '{print $3}' "$out/gi" | median)
    p=$(median <"$out/pause")
    start "$out/goroutines-go" "$n"
    dt=- dm=-
    if timeout "$dlv_timeout" "$tm" -f "%e %M" -o "$out/dtime.tmp" dlv attach "$pid" \
           --init "$out/dlv-goroutines.init" --allow-non-terminal-interactive=true \
           </dev/null >"$out/dlv.out" 2>&1 || [ -s "$out/dtime.tmp" ]; then
        if grep -q "Goroutine " "$out/dlv.out" && [ -s "$out/dtime.tmp" ]; then
            dt=$(tail -1 "$out/dtime.tmp" | awk '{print $1}')
            dm=$(tail -1 "$out/dtime.tmp" | awk '{printf "%.1f", $2 / 1024}')
        fi
    fi
    rm -f "$out/dtime.tmp"
    stop
    awk -v n="$n" -v t="$t" -v c="$c" -v m="$m" -v p="$p" -v dt="$dt" -v dm="$dm" 'BEGIN {
        r = dt == "-" || t == 0 ? "-" : sprintf("%.1fx", dt / t)
        printf "%10d %10.2f %10.2f %10.1f %10.2f %10s %10s %9s\n", n, t, c, m / 1024, p / 1e6,
               dt, dm, r }'
done
