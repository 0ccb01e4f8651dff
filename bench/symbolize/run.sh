#!/bin/sh
# bench/symbolize/run.sh BUILD_DIR [ADDRESSES]
#
# Builds a large -O2 -g program from gen.py (once, kept in
# BUILD_DIR/bench/symbolize), draws ADDRESSES (default 200000) random
# addresses inside its functions, and times goinspect symbolize -a -f -i,
# addr2line -a -f -i and llvm-symbolizer on the same input, checking that our
# output equals addr2line's (differences must be binutils bugs that
# llvm-symbolizer confirms).  Then the same comparison with addr2line on
# binaries built by others (REAL_N, default 500000, and 2*REAL_N addresses
# drawn from their .text), from Debian packages that mk/deps.sh bench
# installs: python3.11-dbg's libpython3.11d.so, -Og with its DWARF in the
# file, and its separate debug file of /usr/bin/python3.11 (by the binary's
# build ID), gcc -O3 with LTO and deep inline chains; libc6-dbg's debug file
# of libc.so.6, -O2.  REAL_ONLY=1 skips the generated program.
set -eu
build=${1:-build}
n=${2:-200000}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
case $build in /*) ;; *) build="$root/$build" ;; esac
work="$build/bench/symbolize"
mkdir -p "$work/src"
if [ "${REAL_ONLY:-0}" != 1 ]; then
    python3 "$here/gen.py" "$work/src"
    echo "building the benchmark program (first run: a few minutes on 2 cores)..."
    make -s -C "$work/src" -j"$(nproc)" big CC=gcc CFLAGS="-O2 -g"
    /usr/bin/python3 "$here/bench.py" "$build/bin/goinspect" "$work/src/big" "$n" "$work"
fi
# the separate debug file of a binary, named by its build ID
debug_file() {
    id=$(readelf -n "$1" 2>/dev/null | sed -n 's/.*Build ID: *\([0-9a-f]*\).*/\1/p')
    echo "/usr/lib/debug/.build-id/$(echo "$id" | cut -c1-2)/$(echo "$id" | cut -c3-).debug"
}
for real in /usr/lib/x86_64-linux-gnu/libpython3.11d.so.1.0 "$(debug_file /usr/bin/python3.11)" \
        "$(debug_file /lib/x86_64-linux-gnu/libc.so.6)"; do
    echo
    if [ -f "$real" ]; then
        /usr/bin/python3 "$here/bench.py" --real "$build/bin/goinspect" "$real" \
            "${REAL_N:-500000}" "$work/real"
    else
        echo "$real: absent, skipped (sh mk/deps.sh bench installs python3.11-dbg, libc6-dbg)"
    fi
done
