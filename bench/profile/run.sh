#!/bin/sh
# bench/profile/run.sh BUILD_DIR — the runtime's profiles against Go's, one
# part a script: alloc.sh (allocation sampling's cost), cpu.sh (the CPU
# profiler's overhead), goroutine.sh (the debug endpoint's goroutine
# profile).  PARTS="alloc cpu" runs some of them.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
for part in ${PARTS:-alloc cpu goroutine}; do
    sh "$here/$part.sh" "${1:-build}"
    echo
done
