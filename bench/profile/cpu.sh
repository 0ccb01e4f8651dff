#!/bin/sh
# bench/profile/cpu.sh BUILD_DIR — the CPU profiler's overhead at 100 Hz:
# the same CPU work (cpubench.c, two goroutines) with the profile on and
# off, beside Go's pprof.StartCPUProfile doing the same for cpubench.go,
# in one run.  The figure is the CPU time of the work (the process's CPU
# clock, which the profiler's signal handlers are part of), median of RUNS
# runs (default 5) alternating on and off; overhead = on / off - 1.
#
# Needs golang-go; uses no network.
set -eu
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
runs=${RUNS:-5}
rounds=${CPU_ROUNDS:-1500000}
out=$build/bench/profile
mkdir -p "$out"
"$build/bin/gortcc" -O2 -Wall -Wextra -Werror -o "$out/cpubench-gort" "$here/cpubench.c"
export GOCACHE="$out/go-cache" GOPATH="$out/go-path" GOFLAGS="" GOPROXY=off GO111MODULE=off
go=${GO:-/usr/bin/go}
(cd "$here" && "$go" build -o "$out/cpubench-go" cpubench.go)

median() {
    sort -g "$1" | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
}

echo "CPU profiler overhead at 100 Hz: $rounds rounds of work in 2 goroutines," \
     "$(nproc) CPUs, median of $runs runs"
printf '%-8s %12s %12s %10s\n' runtime off on overhead
for t in gort go; do
    : >"$out/cpu-off.$t"
    : >"$out/cpu-on.$t"
done
i=0
while [ $i -lt "$runs" ]; do
    for t in gort go; do
        for mode in off on; do
            "$out/cpubench-$t" "$rounds" $mode | awk '$1 == "cpu" {print $2}' >>"$out/cpu-$mode.$t"
        done
    done
    i=$((i + 1))
done
for t in gort go; do
    off=$(median "$out/cpu-off.$t")
    on=$(median "$out/cpu-on.$t")
    name=libgort
    [ $t = go ] && name=$("$go" version | cut -d' ' -f3)
    awk -v n="$name" -v a="$off" -v b="$on" 'BEGIN {
        printf "%-8s %9.1f ms %9.1f ms %+9.2f%%\n", n, a / 1e6, b / 1e6, (b / a - 1) * 100 }'
done
