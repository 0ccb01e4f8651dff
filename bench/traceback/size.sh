#!/bin/sh
# bench/traceback/size.sh BUILD_DIR [EXE...]
#
# The size the pc-line table (docs/pctab.md) adds to a binary, beside the
# size of the DWARF it is built from (every .debug_* section), both from
# readelf, for copies of each EXE with the table added by gortpctab
# (default: examples/demo, a test program, goinspect, and the symbolize
# benchmark's large program when bench/symbolize/run.sh has built it).
set -eu
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
case $build in /*) ;; *) build="$root/$build" ;; esac
[ $# -gt 0 ] && shift
work="$build/bench/traceback"
mkdir -p "$work"
if [ $# -eq 0 ]; then
    "$build/bin/gortcc" -O2 -o "$work/pctab_dump" "$root/tests/programs/pctab_dump.c"
    set -- "$build/examples/demo" "$work/pctab_dump" "$build/bin/goinspect"
    [ -x "$build/bench/symbolize/src/big" ] && set -- "$@" "$build/bench/symbolize/src/big"
fi
printf '%-28s %12s %12s %12s %7s %12s\n' binary file DWARF table table% .debug_line
for exe in "$@"; do
    copy="$work/$(basename "$exe").size"
    cp "$exe" "$copy"
    "$build/bin/gortpctab" "$copy"
    readelf -SW "$copy" | sed 's/\[ */[/' | awk -v name="$(basename "$exe")" \
        -v file="$(wc -c < "$copy")" '
        function hex(s,   i, c, v) { v = 0; s = tolower(s)
            for (i = 1; i <= length(s); i++) { c = index("0123456789abcdef", substr(s, i, 1)) - 1; v = v * 16 + c }
            return v }
        $2 ~ /^\.debug_/ { dwarf += hex($6); if ($2 == ".debug_line") line = hex($6) }
        $2 == ".gort_pctab" { table = hex($6) }
        END { printf "%-28s %12d %12d %12d %6.1f%% %12d\n", name, file, dwarf, table,
              dwarf ? 100 * table / dwarf : 0, line }'
done
