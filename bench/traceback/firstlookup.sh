#!/bin/sh
# bench/traceback/firstlookup.sh BUILD_DIR [EXE...]
#
# The time goinspect saves on its first lookup in a binary that carries the
# pc-line table (docs/pctab.md): gd_open + one gd_lookup with the DWARF
# index built, against the same with GD_OPEN_PCTAB, on copies of each EXE
# with the table added by gortpctab (default: examples/demo, goinspect, and
# the symbolize benchmark's large program when bench/symbolize/run.sh has
# built it).
set -eu
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
case $build in /*) ;; *) build="$root/$build" ;; esac
[ $# -gt 0 ] && shift
work="$build/bench/traceback"
mkdir -p "$work"
cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -I"$root/dwarf" -o "$work/firstlookup" \
    "$here/firstlookup.c" "$build/lib/libgidwarf.a" -lelf -ldwarf
if [ $# -eq 0 ]; then
    set -- "$build/examples/demo" "$build/bin/goinspect"
    [ -x "$build/bench/symbolize/src/big" ] && set -- "$@" "$build/bench/symbolize/src/big"
fi
for exe in "$@"; do
    copy="$work/$(basename "$exe").pctab"
    cp "$exe" "$copy"
    "$build/bin/gortpctab" "$copy"
    echo "--- $exe"
    "$work/firstlookup" "$copy" 7
done
