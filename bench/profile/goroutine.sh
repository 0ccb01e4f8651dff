#!/bin/sh
# bench/profile/goroutine.sh BUILD_DIR — the debug endpoint serving
# /debug/pprof/goroutine?debug=1 for N goroutines (default 100,000, all
# parked in a channel receive: goroutines.c) beside Go's net/http/pprof
# serving the same for as many goroutines (goroutines.go, built here with
# go build), in one run.  Seconds per request as curl measures it (request
# sent to last byte), median of RUNS requests (default 5) alternating the
# two; the ratio above 1: libgort faster.  Goal: under 0.5 s.
#
# Needs golang-go and curl; uses no network beyond loopback.
set -eu
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../wait_ready.sh"
runs=${RUNS:-5}
n=${GOROUTINES:-100000}
out=$build/bench/profile
mkdir -p "$out"

"$build/bin/gortcc" -O2 -Wall -Wextra -Werror -o "$out/goroutines-gort" "$here/goroutines.c"
export GOCACHE="$out/go-cache" GOPATH="$out/go-path" GOFLAGS="" GOPROXY=off GO111MODULE=off
go=${GO:-/usr/bin/go}
(cd "$here" && "$go" build -o "$out/goroutines-go" goroutines.go)

# start T: the target with its stdin a fifo this script holds open
start() {
    rm -f "$out/in.$1"
    mkfifo "$out/in.$1"
    "$out/goroutines-$1" "$n" <"$out/in.$1" >"$out/ready.$1" 4>&- 5>&- &
    eval "pid_$1=\$!"
    exec 3>"$out/in.$1"
    eval "exec $2>&3"
    exec 3>&-
    wait_ready "$out/ready.$1" "goroutines-$1" 120
    eval "port_$1=$(awk '$1 == "PORT" {print $2}' "$out/ready.$1")"
}
stop() {
    eval "exec $2>&-"
    eval "wait \$pid_$1" || true
    rm -f "$out/in.$1"
}
start gort 4
start go 5
trap 'kill $pid_gort $pid_go 2>/dev/null || true' EXIT

for t in gort go; do : >"$out/time.$t"; done
i=0
while [ $i -lt "$runs" ]; do
    for t in gort go; do
        eval "port=\$port_$t"
        curl -s -o "$out/body.$t" -w '%{time_total}\n' \
            "http://127.0.0.1:$port/debug/pprof/goroutine?debug=1" >>"$out/time.$t"
    done
    i=$((i + 1))
done
stop gort 4
stop go 5
trap - EXIT

median() {
    sort -g "$1" | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
}
g=$(median "$out/time.gort")
o=$(median "$out/time.go")
tg=$(awk 'NR == 1 {print $NF}' "$out/body.gort")
to=$(awk 'NR == 1 {print $NF}' "$out/body.go")
echo "goroutine?debug=1 with $n parked goroutines; $("$go" version | cut -d' ' -f3);" \
     "$(nproc) CPUs; median of $runs requests"
printf '%-10s %12s %12s %10s\n' "" libgort Go Go/libgort
awk -v g="$g" -v o="$o" 'BEGIN { printf "%-10s %10.3f s %10.3f s %9.2fx\n", "debug=1", g, o, o / g }'
echo "goroutines in the profiles: libgort $tg, Go $to"
