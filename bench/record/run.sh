#!/bin/sh
# bench/record/run.sh BUILD_DIR — what `goinspect record` costs the target:
# its own work rate with and without the recorder, at 100 Hz and 1000 Hz,
# against `perf record --call-graph dwarf` and against a stop-per-sample
# loop (goinspect record --mode ptrace, py-spy's way), in one run; the
# samples achieved; the recorder's CPU per sample; the profile's shares of
# the hot functions against perf's (bench.py says how each is measured).
# RATES="100 1000" and SECONDS_EACH=5 change the rates and the run length.
# Needs perf (linux-perf, mk/deps.sh); run as root or with perf_event_open
# allowed; no network.
set -eu
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$build/bench/record
mkdir -p "$out"
"$build/bin/gortcc" -O2 -Wall -Wextra -Werror -o "$out/rec_hot" "$root/tests/programs/rec_hot.c"
exec /usr/bin/python3 "$here/bench.py" "$build/bin/goinspect" "$out/rec_hot" "$out"
