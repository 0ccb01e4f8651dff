#!/bin/sh
# bench/core/run.sh BUILD_DIR — 100,000 goroutines read from a core file:
# goinspect on cores of a libgort program (bench/goroutines/goroutines.c)
# against Delve (`dlv core`) and gdb with Go's runtime-gdb.py on a core of the
# same shape in Go (bench/goroutines/goroutines.go), in one run.
#
# The cores of the libgort program:
# - the kernel's: the program runs in this bench's directory under
#   `ulimit -c unlimited` and is killed by SIGABRT once READY (SIGQUIT would
#   do, but a background job of a non-interactive shell ignores it); skipped
#   when /proc/sys/kernel/core_pattern pipes cores to a program;
# - gdb's `gcore` of the same process just before: it writes every readable
#   mapping (6-7 GB here, the 64 KiB stacks of 100,000 goroutines); skipped
#   when the disk has less than 4 times that free.
# The Go program's core is the kernel's (GOTRACEBACK=crash, SIGABRT), else
# gdb's gcore; Delve and gdb read both.  Every core is deleted at exit.
#
# For each tool: wall time, CPU time (user + sys) and peak RSS
# (/usr/bin/time), beside the core's size on disk (apparent and allocated:
# the kernel leaves untouched pages as holes).  goinspect's numbers are the
# median of RUNS runs (default 5); Delve and gdb take seconds and run once.
# N=... changes the goroutine count.  Each core is flushed to the disk
# (sync FILE) before it is read, so that its writeback does not run during
# the measurements; then it is read from the page cache, and once more
# "cold", after dropping its pages (dd iflag=nocache; one run).
# Needs golang-go, delve, gdb and time (mk/deps.sh bench); no network.
set -eu
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/../goroutines" && pwd)
runs=${RUNS:-5}
n=${N:-100000}
out=$build/bench/core
mkdir -p "$out"
gi=$build/bin/goinspect
tm=/usr/bin/time

# shellcheck source=bench/goroutines/programs.sh
. "$src/programs.sh"
# shellcheck source=bench/wait_ready.sh
. "$src/../wait_ready.sh"

pids=""
cores=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    # shellcheck disable=SC2086
    rm -f $cores "$out"/*.err
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Where the kernel writes a core: core_pattern with its %-specifiers as
# wildcards, under the process's working directory ($out) unless absolute.
kcore=""
pattern=$(cat /proc/sys/kernel/core_pattern 2>/dev/null || echo "|unknown")
case $pattern in
'|'*) kcore="core_pattern pipes cores to a program ($pattern)" ;;
/*) cglob=$(printf '%s' "$pattern" | sed 's/%./*/g') ;;
*) cglob=$out/$(printf '%s' "$pattern" | sed 's/%./*/g') ;;
esac
# shellcheck disable=SC3045 # ulimit -c and -H: in dash and bash, not in POSIX
(ulimit -c unlimited) 2>/dev/null || kcore="ulimit -c unlimited is refused (hard limit $(ulimit -Hc))"
[ -z "$kcore" ] || echo "kernel cores skipped: $kcore"

# start NAME PROGRAM [VAR=VALUE...]: runs PROGRAM N in $out with no core size
# limit and waits for READY; its pid is in $pid
start() {
    name=$1
    prog=$2
    shift 2
    rm -f "$out/$name.out"
    # shellcheck disable=SC3045
    (cd "$out" && { ulimit -c unlimited 2>/dev/null || true; } && exec env "$@" "$prog" "$n") \
        >"$out/$name.out" 2>"$out/$name.err" &
    pid=$!
    pids="$pids $pid"
    wait_ready "$out/$name.out" "$prog" 60
}

# readable PID: bytes in the process's readable mappings, what gdb's gcore writes
readable() {
    s=0
    while read -r range perm _; do
        case $perm in r*) s=$((s + 0x${range#*-} - 0x${range%-*})) ;; esac
    done <"/proc/$1/maps"
    echo "$s"
}

# gdb_gcore PID FILE: gdb's gcore of a live process when the disk has room
# for 4 times what it will write; FILE is left empty when skipped
gdb_gcore() {
    want=$(readable "$1")
    free=$(($(df -Pk "$out" | awk 'NR == 2 {print $4}') * 1024))
    if [ "$free" -lt $((4 * want)) ]; then
        echo "gdb gcore of $1 skipped: it writes about $((want >> 20)) MiB," \
             "and $out has $((free >> 20)) MiB free (less than 4 times that)"
        gcored=""
        return
    fi
    cores="$cores $2"
    gdb -q -nx -batch -p "$1" -ex "gcore $2" >"$out/gcore.log" 2>&1 ||
        { echo "gdb gcore of $1 failed:" >&2; tail -3 "$out/gcore.log" >&2; exit 1; }
    gcored=$2
}

# kernel_core PID SIGNAL FILE: kills the process with SIGNAL and moves the
# core the kernel wrote to FILE, then in $kcored ("" when it wrote none)
kernel_core() {
    : >"$out/kill.stamp"
    sleep 0.01                          # a core's mtime after the stamp's
    kill -s "$2" "$1"
    wait "$1" 2>/dev/null || true
    kcored=""
    # shellcheck disable=SC2086
    for f in $cglob $cglob.$1; do
        [ -f "$f" ] && [ -n "$(find "$f" -newer "$out/kill.stamp")" ] && kcored=$f
    done
    if [ -n "$kcored" ]; then
        cores="$cores $kcored $3"
        mv "$kcored" "$3"
        kcored=$3
    fi
    [ -n "$kcored" ] || echo "no kernel core of $1 appeared ($pattern): kernel core skipped"
}

# measure LABEL KIND CMD...: one run of CMD on the core KIND; appends
# "LABEL|KIND|wall_s kilobytes cpu_s" to $out/raw.  Only goinspect must exit 0.
measure() {
    label=$1
    kind=$2
    shift 2
    if ! "$tm" -f "%e %M %U %S" -o "$out/time.tmp" "$@" >"$out/last.out" 2>"$out/last.err"; then
        case $label in
        goinspect*)
            echo "$label failed:" >&2
            tail -5 "$out/last.err" >&2
            exit 1 ;;
        esac
    fi
    echo "$label|$kind|$(tail -1 "$out/time.tmp" | awk '{print $1, $2, $3 + $4}')" >>"$out/raw"
}

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# goinspect_round KIND CORE: goinspect's commands on CORE (none when CORE is
# ""), once each, checking that the listing has every goroutine
goinspect_round() {
    [ -n "$2" ] || return 0
    measure "goinspect goroutines" "$1" "$gi" core "$2" goroutines
    lines=$(grep -c "Goroutine " "$out/last.out" || true)
    [ "$lines" -ge "$n" ] || { echo "goinspect listed $lines goroutines of $2, not $n" >&2; exit 1; }
    measure "goinspect goroutines -g" "$1" "$gi" core "$2" goroutines -g
    measure "goinspect summary" "$1" "$gi" core "$2" summary
    sed -n 's/^read *\([^ ]*\) from the core$/\1/p' "$out/last.out" >"$out/read.$1"
}

# goinspect_cold KIND CORE: goroutines on CORE once, its pages dropped first
goinspect_cold() {
    [ -n "$2" ] || return 0
    dd if="$2" iflag=nocache count=0 status=none
    measure "goinspect goroutines (cold)" "$1" "$gi" core "$2" goroutines
}

# size KIND FILE: "KIND|apparent_bytes allocated_bytes" appended to $out/sizes
size() { stat -c "$1|%s %b %B" "$2" | awk -F'|' '{ split($2, v, " "); printf "%s|%.0f %.0f\n", $1, v[1], v[2] * v[3] }' >>"$out/sizes"; }
# size_of KIND FIELD: the core's apparent (1) or allocated (2) bytes
size_of() { awk -F'|' -v k="$1" -v f="$2" '$1 == k { split($2, v, " "); printf "%.0f\n", v[f] }' "$out/sizes"; }

: >"$out/raw"
: >"$out/sizes"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
rm -f "$out"/read.*
start gort "$out/goroutines-gort"
gpid=$pid
gdb_gcore "$gpid" "$out/gort-gdb.core"
gort_gdb=$gcored
kcored=""
if [ -z "$kcore" ]; then
    kernel_core "$gpid" ABRT "$out/gort-kernel.core"
else
    kill "$gpid"
fi
gort_kernel=$kcored

start go "$out/goroutines-go" GOTRACEBACK=crash
gopid=$pid
go_kind="Go kernel"
kcored=""
[ -z "$kcore" ] && kernel_core "$gopid" ABRT "$out/go-kernel.core"
go_core=$kcored
if [ -z "$go_core" ]; then
    go_kind="Go gdb gcore"
    start go "$out/goroutines-go"
    gopid=$pid
    gdb_gcore "$gopid" "$out/go-gdb.core"
    kill "$gopid"
    go_core=$gcored
fi
[ -n "$gort_kernel$gort_gdb" ] || { echo "no core of the libgort program: nothing to measure" >&2; exit 1; }

[ -z "$gort_kernel" ] || { sync "$gort_kernel"; size kernel "$gort_kernel"; }
[ -z "$gort_gdb" ] || { sync "$gort_gdb"; size gdb "$gort_gdb"; }
for _ in $(seq "$runs"); do         # the cores in turn: a burst of load falls on both
    goinspect_round kernel "$gort_kernel"
    goinspect_round gdb "$gort_gdb"
done
goinspect_cold kernel "$gort_kernel"
goinspect_cold gdb "$gort_gdb"
dlines=0
glines=0
if [ -n "$go_core" ]; then
    size "$go_kind" "$go_core"
    sync "$go_core"
    printf 'goroutines\nexit\n' >"$out/dlv-goroutines.init"
    measure "dlv core goroutines" "$go_kind" dlv core "$out/goroutines-go" "$go_core" \
        --init "$out/dlv-goroutines.init" --allow-non-terminal-interactive=true </dev/null
    dlines=$(grep -c "Goroutine " "$out/last.out" || true)
    if [ -n "$gdbpy" ]; then
        measure "gdb info goroutines" "$go_kind" gdb -q -nx -batch "$out/goroutines-go" "$go_core" \
            -ex "source $gdbpy" -ex "info goroutines"
        glines=$(grep -cE '^[* ] *[0-9]+ [a-z]' "$out/last.out" || true)
    fi
fi

echo "goinspect ($gi) on cores of $n goroutines of libgort, against Delve" \
     "$(dlv version 2>/dev/null | sed -n 's/^Version: //p') and gdb $(gdb --version |
     sed -n '1s/.* //p') + runtime-gdb.py on a core of $n of $("$go" version | cut -d' ' -f3)," \
     "$(nproc) CPUs, Linux $(uname -r); goinspect: median of $runs runs;" \
     "load average $load0 before, $(cut -d' ' -f1-3 /proc/loadavg) after"
echo "(Delve listed $dlines goroutines, gdb $glines, goinspect $lines)"
[ -z "$go_core" ] || [ "$dlines" -ge "$n" ] || echo "warning: Delve did not list every goroutine" >&2
[ -z "$go_core" ] || [ -z "$gdbpy" ] || [ "$glines" -ge "$n" ] ||
    echo "warning: gdb did not list every goroutine" >&2
printf '%-29s %-13s %8s %8s %7s %7s %7s %10s %9s %9s\n' tool core core_GB alloc_GB wall_s cpu_s \
    rss_MB "wall x gi" "CPU x gi" "RSS x gi"
base=kernel
[ -n "$gort_kernel" ] || base=gdb
# stat_of LABEL KIND FIELD: median of FIELD (1 wall s, 2 KB, 3 CPU s) over the runs
stat_of() {
    awk -F'|' -v l="$1" -v k="$2" -v f="$3" '$1 == l && $2 == k { split($3, v, " "); print v[f] }' \
        "$out/raw" | median
}
base_t=$(stat_of "goinspect goroutines" $base 1)
base_m=$(stat_of "goinspect goroutines" $base 2)
base_c=$(stat_of "goinspect goroutines" $base 3)
for row in "goinspect goroutines|kernel" "goinspect goroutines -g|kernel" "goinspect summary|kernel" \
           "goinspect goroutines (cold)|kernel" \
           "goinspect goroutines|gdb" "goinspect goroutines -g|gdb" "goinspect summary|gdb" \
           "goinspect goroutines (cold)|gdb" "dlv core goroutines|$go_kind" \
           "gdb info goroutines|$go_kind"; do
    l=${row%|*}
    k=${row#*|}
    grep -qF "$row|" "$out/raw" || continue
    awk -v l="$l" -v k="$k" -v ga="$(size_of "$k" 1)" -v gb="$(size_of "$k" 2)" \
        -v t="$(stat_of "$l" "$k" 1)" -v m="$(stat_of "$l" "$k" 2)" -v c="$(stat_of "$l" "$k" 3)" \
        -v bt="$base_t" -v bm="$base_m" -v bc="$base_c" '
        function x(a, b) { return b > 0 ? sprintf("%.1fx", a / b) : "n/a" }
        BEGIN { printf "%-29s %-13s %8.2f %8.2f %7.2f %7.2f %7.1f %10s %9s %9s\n",
                       l, k, ga / 1e9, gb / 1e9, t, c, m / 1024, x(t, bt), x(c, bc), x(m, bm) }'
done

# The goals: 100,000 goroutines from either core in at most 0.3 s end to end;
# goinspect's peak RSS at most 64 MB in every run, and no larger on a core
# with many times the bytes on disk.
goal() { if [ "$2" = 1 ]; then echo "goal met:     $1"; else echo "goal NOT met: $1"; fi; }
for k in kernel gdb; do
    grep -qF "goinspect goroutines|$k|" "$out/raw" || continue
    t=$(stat_of "goinspect goroutines" $k 1)
    goal "$n goroutines from the $k core in at most 0.3 s: $t s (median; CPU $(stat_of "goinspect goroutines" $k 3) s)" \
         "$(awk -v t="$t" 'BEGIN {print (t <= 0.3)}')"
done
m=$(awk -F'|' '$1 ~ /^goinspect/ { split($3, v, " "); print v[2] }' "$out/raw" | sort -g | tail -1)
goal "goinspect's peak RSS at most 64 MB: at most $(awk -v m="$m" 'BEGIN {printf "%.1f", m / 1024}') MB in every run" \
     "$(awk -v m="$m" 'BEGIN {print (m <= 64 * 1024)}')"
if [ -n "$gort_kernel" ] && [ -n "$gort_gdb" ]; then
    mk=$(stat_of "goinspect goroutines" kernel 2)
    mg=$(stat_of "goinspect goroutines" gdb 2)
    goal "peak RSS not proportional to the core's size: $(awk -v a="$mk" -v b="$mg" \
          -v x="$(size_of kernel 2)" -v y="$(size_of gdb 2)" 'BEGIN {
          printf "%.1f MB on %.2f GB allocated, %.1f MB on %.2f GB (%.1fx the bytes, %.2fx the RSS)",
                 a / 1024, x / 1e9, b / 1024, y / 1e9, y / x, b / a }'); read $(cat "$out/read.gdb") of it" \
         "$(awk -v a="$mk" -v b="$mg" 'BEGIN {print (b <= 1.1 * a)}')"
fi
