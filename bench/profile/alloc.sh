#!/bin/sh
# bench/profile/alloc.sh BUILD_DIR — the cost of allocation sampling.
#
#   alloc  the small-object allocation loop (allocbench.c, as bench/heap's:
#          N objects of SIZE bytes, each replacing one of 1,024 live ones)
#          with allocation sampling at the default rate (GORT_MEMPROFILERATE
#          unset: 1 sample per 512 KiB) against off (GORT_MEMPROFILERATE=0);
#          beside it Go's (allocbench.go) with runtime.MemProfileRate at its
#          default against 0.  CPU ns per allocation (every thread's: the
#          collector's work counts, and a busy machine's preemptions do not),
#          median of RUNS runs (default 5) alternating the four, and the wall
#          ns beside; cost = on / off - 1 in CPU time (goal for libgort: at
#          most 3 %).  On a shared machine the difference of two medians is
#          noisy at this size, so the cost is also derived from libgort's
#          cost per sample, measured at GORT_MEMPROFILERATE=4096 (about 100
#          times more samples): per-sample ns x samples at the default rate
#          / the loop's CPU time with sampling off.
#
# Needs golang-go (mk/deps.sh bench); uses no network.
set -eu
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
runs=${RUNS:-5}
n_alloc=${ALLOC_N:-50000000}
out=$build/bench/profile
mkdir -p "$out"

"$build/bin/gortcc" -O2 -Wall -Wextra -Werror -o "$out/allocbench-gort" "$here/allocbench.c"
export GOCACHE="$out/go-cache" GOPATH="$out/go-path" GOFLAGS="" GOPROXY=off GO111MODULE=off
go=${GO:-/usr/bin/go}
(cd "$here" && "$go" build -o "$out/allocbench-go" allocbench.go)

median() {
    sort -g "$1" | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
}

echo "libgort ($build/bin/gortcc -O2), $("$go" version | cut -d' ' -f3); $(nproc) CPUs;" \
     "median of $runs runs"
echo
echo "allocation sampling: small-object allocation loop, $n_alloc objects"
echo "CPU ns per allocation (wall ns in parentheses)"
printf '%-7s %9s %9s %7s %7s %9s %9s %7s %7s\n' size gort-on gort-off cost samples \
       go-on go-off cost samples
for size in 32 128; do
    for t in gon goff oon ooff ghi; do
        : >"$out/alloc$size.$t"
        : >"$out/cpu$size.$t"
        : >"$out/samples$size.$t"
    done
    i=0
    while [ $i -lt "$runs" ]; do
        env -u GORT_MEMPROFILERATE "$out/allocbench-gort" alloc "$n_alloc" $size >"$out/r.gon"
        GORT_MEMPROFILERATE=0 "$out/allocbench-gort" alloc "$n_alloc" $size >"$out/r.goff"
        "$out/allocbench-go" alloc "$n_alloc" $size default >"$out/r.oon"
        "$out/allocbench-go" alloc "$n_alloc" $size 0 >"$out/r.ooff"
        GORT_MEMPROFILERATE=4096 "$out/allocbench-gort" alloc "$n_alloc" $size >"$out/r.ghi"
        for t in gon goff oon ooff ghi; do
            awk '{print $2}' "$out/r.$t" >>"$out/alloc$size.$t"
            awk '{print $4}' "$out/r.$t" >>"$out/samples$size.$t"
            awk '{print $5}' "$out/r.$t" >>"$out/cpu$size.$t"
        done
        i=$((i + 1))
    done
    m() { median "$out/$1$size.$2"; }
    awk -v s="$size B" -v a="$(m cpu gon)" -v b="$(m cpu goff)" -v sa="$(m samples gon)" \
        -v c="$(m cpu oon)" -v d="$(m cpu ooff)" -v sc="$(m samples oon)" \
        -v wa="$(m alloc gon)" -v wb="$(m alloc goff)" -v wc="$(m alloc oon)" \
        -v wd="$(m alloc ooff)" 'BEGIN {
        printf "%-7s %9.2f %9.2f %+6.1f%% %7d %9.2f %9.2f %+6.1f%% %7d\n",
               s, a, b, 100 * (a / b - 1), sa, c, d, 100 * (c / d - 1), sc
        printf "%-7s %9s %9s %+6.1f%% %7s %9s %9s %+6.1f%%\n", "", "(" wa ")", "(" wb ")",
               100 * (wa / wb - 1), "", "(" wc ")", "(" wd ")", 100 * (wc / wd - 1) }'
    awk -v s="$size B" -v n="$n_alloc" -v hi="$(m cpu ghi)" -v shi="$(m samples ghi)" \
        -v off="$(m cpu goff)" -v son="$(m samples gon)" 'BEGIN {
        per = (hi - off) * n / shi
        printf "%-7s libgort: %.2f us per sample (rate 4096: %d samples, %.2f ns per allocation);" \
               " at the default rate %d samples cost %+.2f%%\n", s, per / 1000, shi, hi, son,
               100 * per * son / (off * n) }'
done
