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
# drawn from their .text): Debian's libpython3.11d.so (python3.11-dbg, which
# mk/deps.sh bench installs), -Og with its DWARF in the file.
set -eu
build=${1:-build}
n=${2:-200000}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
case $build in /*) ;; *) build="$root/$build" ;; esac
work="$build/bench/symbolize"
mkdir -p "$work/src"
python3 "$here/gen.py" "$work/src"
echo "building the benchmark program (first run: a few minutes on 2 cores)..."
make -s -C "$work/src" -j"$(nproc)" big CC=gcc CFLAGS="-O2 -g"
/usr/bin/python3 "$here/bench.py" "$build/bin/goinspect" "$work/src/big" "$n" "$work"
for real in /usr/lib/x86_64-linux-gnu/libpython3.11d.so.1.0; do
    echo
    if [ -f "$real" ]; then
        /usr/bin/python3 "$here/bench.py" --real "$build/bin/goinspect" "$real" \
            "${REAL_N:-500000}" "$work/real"
    else
        echo "$real: absent, skipped (sh mk/deps.sh bench installs python3.11-dbg)"
    fi
done
