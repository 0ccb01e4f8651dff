#!/bin/sh
# bench/traceback/run.sh BUILD_DIR — the time a crash report of every
# goroutine takes: N goroutines (default 10,000) parked three calls deep,
# then a divide by zero, with GORT_TRACEBACK=all (tbcrash.c) and Go's
# GOTRACEBACK=all (tbcrash.go), RUNS times each (default 5), alternating;
# timecrash.c times from the failing moment to the reaped process.  Then
# the pc-line table's figures: size.sh and firstlookup.sh.  Needs golang-go
# (mk/deps.sh bench); uses no network.
set -eu
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
runs=${RUNS:-5}
n=${N:-10000}
out=$build/bench/traceback
mkdir -p "$out"

"$build/bin/gortcc" -O2 -Wall -Wextra -Werror -o "$out/tbcrash-gort" "$here/tbcrash.c"
cc -O2 -Wall -Wextra -Werror -o "$out/timecrash" "$here/timecrash.c"
export GOCACHE="$out/go-cache" GOPATH="$out/go-path" GOFLAGS="" GOPROXY=off GO111MODULE=off
go=${GO:-/usr/bin/go}
(cd "$here" && "$go" build -o "$out/tbcrash-go" tbcrash.go)

echo "crash report of $n goroutines: libgort (GORT_TRACEBACK=all) against" \
     "$("$go" version | cut -d' ' -f3) (GOTRACEBACK=all), $(nproc) CPUs, $runs runs of each," \
     "load average $(cut -d' ' -f1 /proc/loadavg)"
: >"$out/go.times"
: >"$out/gort.times"
i=0
while [ $i -lt "$runs" ]; do
    GOTRACEBACK=all "$out/timecrash" "$out/tbcrash-go" "$n" >>"$out/go.times"
    GORT_TRACEBACK=all "$out/timecrash" "$out/tbcrash-gort" "$n" >>"$out/gort.times"
    i=$((i + 1))
done
# median and best seconds, the report's size, how it ended
stats() {
    sort -g "$1" | awk '{t[NR]=$1; b=$2; l=$3; h=$4}
        END {printf "%.3f %.3f %d %d %s\n", t[int((NR+1)/2)], t[1], b, l, h}'
}
printf '%-10s %10s %10s %12s %10s  %s\n' "" "median s" "best s" "bytes" "lines" "ended by"
read -r gm gb gbytes glines ghow <<EOT
$(stats "$out/go.times")
EOT
read -r cm cb cbytes clines chow <<EOT
$(stats "$out/gort.times")
EOT
printf '%-10s %10s %10s %12s %10s  %s\n' Go "$gm" "$gb" "$gbytes" "$glines" "$ghow"
printf '%-10s %10s %10s %12s %10s  %s\n' libgort "$cm" "$cb" "$cbytes" "$clines" "$chow"
awk -v g="$gm" -v c="$cm" 'BEGIN {printf "Go / libgort (median): %.2f (above 1: libgort is faster); goal: libgort under 1 s: %s\n", g / c, (c < 1 ? "met" : "NOT met")}'

echo
sh "$here/size.sh" "$build"
echo
sh "$here/firstlookup.sh" "$build"
