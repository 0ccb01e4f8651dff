#!/bin/sh
# bench/runtime/run.sh BUILD_DIR — libgort against Go on the same three
# scheduler workloads (rtbench.c, rtbench.go), in one run.  Each workload
# runs RUNS times (default 5) in fresh processes, alternating the two; the
# median and the best time of each are reported, with the ratios Go time /
# libgort time (above 1: libgort is faster).  Needs golang-go (mk/deps.sh bench); uses no network.
set -eu
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
runs=${RUNS:-5}
out=$build/bench/runtime
mkdir -p "$out"

"$build/bin/gortcc" -O2 -Wall -Wextra -Werror -o "$out/rtbench-gort" "$here/rtbench.c"

export GOCACHE="$out/go-cache" GOPATH="$out/go-path" GOFLAGS="" GOPROXY=off GO111MODULE=off
go=${GO:-/usr/bin/go}
(cd "$here" && "$go" build -o "$out/rtbench-go" rtbench.go)

echo "libgort ($build/bin/gortcc -O2) against $("$go" version | cut -d' ' -f3)," \
     "$(nproc) CPUs, $runs runs of each, load average $(cut -d' ' -f1 /proc/loadavg)"
printf '%-36s %21s %21s %15s\n' "" "Go" "libgort" "Go/libgort"
printf '%-36s %10s %10s %10s %10s %7s %7s\n' workload median best median best median best
for w in spawn pingpong park; do
    : >"$out/$w.go"
    : >"$out/$w.gort"
    i=0
    while [ $i -lt "$runs" ]; do
        "$out/rtbench-go" $w | awk '{print $2}' >>"$out/$w.go"
        "$out/rtbench-gort" $w | awk '{print $2}' >>"$out/$w.gort"
        i=$((i + 1))
    done
    case $w in
    spawn) label="spawn 1,000,000 + WaitGroup (s)" ;;
    pingpong) label="unbuffered ping-pong round trip (ns)" ;;
    park) label="park 100,000 on a channel (s)" ;;
    esac
    # median and best of each, then the ratios Go / libgort
    stats() { sort -g "$1" | awk '{v[NR]=$1} END {print v[int((NR+1)/2)], v[1]}'; }
    # shellcheck disable=SC2046
    set -- $(stats "$out/$w.go") $(stats "$out/$w.gort")
    awk -v l="$label" -v gm="$1" -v gb="$2" -v cm="$3" -v cb="$4" 'BEGIN {
        printf "%-36s %10s %10s %10s %10s %6.2fx %6.2fx\n", l, gm, gb, cm, cb, gm / cm, gb / cb }'
done
