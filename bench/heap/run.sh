#!/bin/sh
# bench/heap/run.sh BUILD_DIR — libgort's heap against glibc malloc and Go,
# in one run (heapbench.c, heapbench.go):
#
#   alloc  N small objects, each replacing one of 1,024 live ones: libgort
#          (gort_alloc, collected), glibc (malloc, and free of the replaced
#          one), Go (escaping new).  ns per allocation, median of RUNS runs
#          (default 3) alternating the three; ratios above 1: libgort faster.
#   pause  a binary tree of 10,000,000 96-byte nodes (about 1 GiB live),
#          then forced collections: the time the world was stopped that
#          each runtime records (gort_memstats.pause_ns, Go's MemStats.PauseNs;
#          both collect concurrently, so that is their two stops) and the
#          wall time of the collection call (gort_gc, runtime.GC); each run
#          reports the median of 3 collections, the table the median of
#          RUNS runs alternating the two.
#
# Needs golang-go (mk/deps.sh bench); uses no network.
set -eu
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
runs=${RUNS:-3}
n_alloc=${ALLOC_N:-20000000}
n_tree=${TREE_N:-10000000}
out=$build/bench/heap
mkdir -p "$out"

"$build/bin/gortcc" -O2 -Wall -Wextra -Werror -o "$out/heapbench-gort" "$here/heapbench.c"
gcc -O2 -Wall -Wextra -Werror -DUSE_MALLOC -o "$out/heapbench-malloc" "$here/heapbench.c"
export GOCACHE="$out/go-cache" GOPATH="$out/go-path" GOFLAGS="" GOPROXY=off GO111MODULE=off
go=${GO:-/usr/bin/go}
(cd "$here" && "$go" build -o "$out/heapbench-go" heapbench.go)

median() {
    sort -g "$1" | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
}

echo "libgort ($build/bin/gortcc -O2), glibc $(ldd --version | head -1 | awk '{print $NF}') (gcc -O2)," \
     "$("$go" version | cut -d' ' -f3); $(nproc) CPUs; median of $runs runs"
echo
echo "small-object allocation, $n_alloc objects"
printf '%-10s %12s %12s %12s %14s %10s\n' size libgort glibc Go glibc/libgort Go/libgort
for size in 32 128; do
    for t in gort malloc go; do : >"$out/alloc$size.$t"; done
    i=0
    while [ $i -lt "$runs" ]; do
        for t in gort malloc go; do
            "$out/heapbench-$t" alloc "$n_alloc" $size | awk '{print $2}' >>"$out/alloc$size.$t"
        done
        i=$((i + 1))
    done
    g=$(median "$out/alloc$size.gort")
    m=$(median "$out/alloc$size.malloc")
    o=$(median "$out/alloc$size.go")
    awk -v s="$size B" -v g="$g" -v m="$m" -v o="$o" 'BEGIN {
        printf "%-10s %9.2f ns %9.2f ns %9.2f ns %13.2fx %9.2fx\n", s, g, m, o, m / g, o / g }'
done

echo
echo "collector pause, binary tree of $n_tree 96-byte nodes"
for t in gort go; do for k in pause gc heap build; do : >"$out/$k.$t"; done; done
: >"$out/stw.gort"
i=0
while [ $i -lt "$runs" ]; do
    GORT_DEBUG=gctrace=1 "$out/heapbench-gort" pause "$n_tree" >"$out/pause-run.gort" \
        2>"$out/gctrace.gort"
    # the 3 measured collections: "first-stop mark second-stop" (ms), and
    # whether the cycle marked with the world stopped
    grep '(forced)' "$out/gctrace.gort" | tail -3 |
        sed 's/.*: \([0-9.]*\)+\([0-9.]*\)+\([0-9.]*\) ms clock.*/\1 \2 \3 &/' |
        awk '{print $1, $2, $3, (/\(stw\)/ ? "stw" : "concurrent")}' >>"$out/stw.gort"
    "$out/heapbench-go" pause "$n_tree" >"$out/pause-run.go"
    for t in gort go; do
        for k in pause gc heap build; do
            awk -v k=$k '$1 == k {print $2}' "$out/pause-run.$t" >>"$out/$k.$t"
        done
    done
    i=$((i + 1))
done
range() {
    sort -g "$1" | awk '{v[NR]=$1} END {printf "%s-%s", v[1], v[NR]}'
}
gp=$(median "$out/pause.gort"); op=$(median "$out/pause.go")
gw=$(median "$out/gc.gort"); ow=$(median "$out/gc.go")
printf '%-34s %12s %12s %12s\n' "" libgort Go libgort/Go
awk -v g="$gp" -v o="$op" 'BEGIN { printf "%-34s %9.2f ms %9.3f ms %11.1fx\n", "pause (world stopped)", g, o, g / o }'
awk -v g="$gw" -v o="$ow" 'BEGIN { printf "%-34s %9.2f ms %9.2f ms %11.2fx\n", "whole forced collection (wall)", g, o, g / o }'
printf '%-34s %9s MB %9s MB\n' "live heap" "$(median "$out/heap.gort")" "$(median "$out/heap.go")"
printf '%-34s %10s s %10s s\n' "building the tree" "$(median "$out/build.gort")" "$(median "$out/build.go")"
printf '%-34s %12s %12s\n' "pause range over the runs (ms)" "$(range "$out/pause.gort")" \
    "$(range "$out/pause.go")"
echo
echo "libgort's collections, from gctrace (median of the measured collections):"
for f in 1 2 3; do
    awk -v f=$f '{print $f}' "$out/stw.gort" >"$out/stw$f.gort"
done
printf '  first stop %s ms, marking %s ms, second stop %s ms; %s of %s marked concurrently\n' \
    "$(median "$out/stw1.gort")" "$(median "$out/stw2.gort")" "$(median "$out/stw3.gort")" \
    "$(grep -c ' concurrent$' "$out/stw.gort" || true)" "$(wc -l <"$out/stw.gort")"
