#!/bin/sh
# bench/gdb/run.sh BUILD_DIR — `info goroutines` in gdb over 100,000 parked
# goroutines: the goinspect extension (gdb/gortgdb) on a libgort program
# (bench/goroutines/goroutines.c), attached and on a core file the kernel
# wrote of it, against Go's own runtime-gdb.py on the same shape in Go
# (bench/goroutines/goroutines.go), attached, in one run.
#
# Each figure is gdb's whole run, end to end (`gdb -nx -batch -p PID -ex
# 'source ...' -ex 'info goroutines'`: start, attach, load, list, detach):
# wall time, CPU time (user + sys: steadier on a shared machine) and peak
# RSS (/usr/bin/time).  The extension's runs are the median of RUNS runs
# (default 5); runtime-gdb.py takes about 10 s and runs once.  Also checks
# that each listed every goroutine, and tries `goroutine 2 bt` on a core of
# each program (runtime-gdb.py writes $pc, which a core does not allow).
# N=... changes the goroutine count.  Needs golang-go, gdb and time
# (mk/deps.sh bench); no network.
set -eu
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
src=$root/bench/goroutines
# shellcheck source=bench/wait_ready.sh
. "$root/bench/wait_ready.sh"
runs=${RUNS:-5}
n=${N:-100000}
out=$build/bench/gdb
mkdir -p "$out"
tm=/usr/bin/time
ext=$root/gdb/gort-gdb.py

"$build/bin/gortcc" -O2 -g -Wall -Wextra -Werror -o "$out/goroutines-gort" "$src/goroutines.c"
export GOCACHE="$out/go-cache" GOPATH="$out/go-path" GOFLAGS="" GOPROXY=off GO111MODULE=off
go=${GO:-/usr/bin/go}
(cd "$src" && "$go" build -o "$out/goroutines-go" goroutines.go)
gdbpy=""
for f in "$("$go" env GOROOT)/src/runtime/runtime-gdb.py" /usr/lib/go/src/runtime/runtime-gdb.py; do
    [ -f "$f" ] && gdbpy=$f && break
done
[ -n "$gdbpy" ] || { echo "bench/gdb: no runtime-gdb.py in $("$go" env GOROOT)" >&2; exit 1; }

pids=""
cleanup() {
    for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -f "$out"/run-*/core*        # gigabytes of address space each
}
trap cleanup EXIT INT TERM

# start PROGRAM [N]: runs it with N goroutines (default $n) in
# $out/run-NAME-N (where a core lands) and waits for READY; its pid is in
# $pid, that directory in $dir.  A Go program dumps core on SIGABRT
# (GOTRACEBACK=crash).
start() {
    name=$(basename "$1")
    count=${2:-$n}
    dir=$out/run-$name-$count
    rm -rf "$dir" && mkdir -p "$dir"
    (cd "$dir" && ulimit -c unlimited && GOTRACEBACK=crash exec "$1" "$count") >"$dir/out" 2>&1 &
    pid=$!
    pids="$pids $pid"
    wait_ready "$dir/out" "$1" 120
}

# measure LABEL CMD...: one run; appends "LABEL wall_s kilobytes cpu_s" to $out/raw
measure() {
    label=$1
    shift
    "$tm" -f "%e %M %U %S" -o "$out/time.tmp" "$@" >"$out/last.out" 2>"$out/last.err" || {
        echo "$label failed:" >&2
        tail -5 "$out/last.err" >&2
        exit 1
    }
    grep -q "Traceback" "$out/last.out" "$out/last.err" && {
        echo "$label printed a Python traceback" >&2
        exit 1
    }
    echo "$label $(tail -1 "$out/time.tmp" | awk '{print $1, $2, $3 + $4}')" >>"$out/raw"
}

# kernel_core PID DIR: a core of PID written by the kernel (SIGABRT) into DIR
kernel_core() {
    pattern=$(cat /proc/sys/kernel/core_pattern)
    case $pattern in
    \|* | */*) echo ""; return ;;
    esac
    kill -ABRT "$1"
    i=0
    while kill -0 "$1" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 1200 ] && break
        sleep 0.1
    done
    ls "$2"/core* 2>/dev/null | head -1
}

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
count() { grep -c "$1" "$out/last.out" || true; }

: >"$out/raw"
start "$out/goroutines-gort"
gpid=$pid
gdir=$dir
for i in $(seq "$runs"); do
    measure "gortgdb attached" gdb -nx -batch -p "$gpid" -ex "source $ext" -ex "info goroutines"
done
glines=$(count " waiting  chan receive ")
[ "$glines" -ge "$n" ] || { echo "the extension listed $glines goroutines, not $n" >&2; exit 1; }
gcore=$(kernel_core "$gpid" "$gdir")
if [ -n "$gcore" ]; then
    for i in $(seq "$runs"); do
        measure "gortgdb on a core" gdb -nx -batch "$out/goroutines-gort" "$gcore" \
            -ex "source $ext" -ex "info goroutines"
    done
    clines=$(count " waiting  chan receive ")
    [ "$clines" -ge "$n" ] || { echo "the extension listed $clines on the core, not $n" >&2; exit 1; }
    gdb -nx -batch "$out/goroutines-gort" "$gcore" -ex "source $ext" -ex "goroutine 2 bt" \
        >"$out/gort-core-bt.out" 2>&1 || true
fi

start "$out/goroutines-go"
dpid=$pid
measure "runtime-gdb.py attached" gdb -nx -batch -p "$dpid" -ex "source $gdbpy" \
    -ex "info goroutines"
dlines=$(count "runtime.gopark")
kill -9 "$dpid"
# Go's script on a core: a small one does (GOTRACEBACK=crash prints every
# goroutine before the core, which takes minutes for 100,000)
start "$out/goroutines-go" 10
dcore=$(kernel_core "$pid" "$dir")
if [ -n "$dcore" ]; then
    gdb -nx -batch "$out/goroutines-go" "$dcore" -ex "source $gdbpy" -ex "goroutine 2 bt" \
        >"$out/go-core-bt.out" 2>&1 || true
fi

echo "gdb $(gdb --version | sed -n '1s/.* //p') on $n parked goroutines: the goinspect extension" \
     "on libgort, runtime-gdb.py of $("$go" version | cut -d' ' -f3) on Go, $(nproc) CPUs;" \
     "the extension: median of $runs runs"
echo "(listed: the extension $glines attached${clines:+, $clines on the core}; runtime-gdb.py $dlines)"
printf '%-26s %8s %8s %8s %14s\n' run wall_s cpu_s rss_MB "wall: x ours"
base=$(grep "^gortgdb attached " "$out/raw" | awk '{print $3}' | median)
for label in "gortgdb attached" "gortgdb on a core" "runtime-gdb.py attached"; do
    rows=$(grep -F "$label " "$out/raw" | awk -v l="$label" '{ x = $0; sub(l " ", "", x); print x }' || true)
    [ -n "$rows" ] || continue
    t=$(echo "$rows" | awk '{print $1}' | median)
    m=$(echo "$rows" | awk '{print $2}' | median)
    c=$(echo "$rows" | awk '{print $3}' | median)
    awk -v l="$label" -v t="$t" -v m="$m" -v c="$c" -v b="$base" 'BEGIN {
        printf "%-26s %8.2f %8.2f %8.1f %13.1fx\n", l, t, c, m / 1024, t / b }'
done
if [ -n "${gcore:-}" ]; then
    echo "goroutine 2 bt on a core, the extension:  $(grep -c '^#' "$out/gort-core-bt.out") frames," \
         "$(grep '^#' "$out/gort-core-bt.out" | sed -n '$s/^#[0-9]* *\(0x[0-9a-f]* in \)\{0,1\}\([^ ]*\).*/\2/p') outermost"
fi
if [ -n "${dcore:-}" ]; then
    echo "goroutine 2 bt on a core, runtime-gdb.py: $(grep -v '^\[' "$out/go-core-bt.out" |
         grep -i 'error\|cannot\|exception' | head -1)"
fi
