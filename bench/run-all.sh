#!/bin/sh
# Run every benchmark: bench/NAME/run.sh BUILD_DIR, in name order.  Each one
# runs the reference tool and ours on the same input and prints the ratios.
set -eu
build=${1:-build}
cd "$(dirname "$0")/.."
for b in bench/*/run.sh; do
    echo "=== $(basename "$(dirname "$b")")"
    sh "$b" "$build"
done
