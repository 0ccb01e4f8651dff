#!/bin/sh
# bench/profile/run.sh BUILD_DIR — the runtime's profiles against Go's, one
# part a script: goroutine.sh (the debug endpoint's goroutine profile).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
for part in goroutine; do
    sh "$here/$part.sh" "${1:-build}"
done
