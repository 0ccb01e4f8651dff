#!/bin/sh
# demo.sh BUILD_DIR — start BUILD_DIR/examples/demo in the background, show
# what its runtime descriptor says about it, and leave it running.
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
demo=$build/examples/demo
log=$build/demo.log

if [ ! -x "$demo" ]; then
    echo "demo.sh: $demo not built (run make)" >&2
    exit 1
fi

"$demo" >"$log" 2>&1 &
pid=$!
# Give the demo time to start its goroutines and let them block.
sleep 1
if ! kill -0 "$pid" 2>/dev/null; then
    echo "demo.sh: the demo exited at once; its output:" >&2
    cat "$log" >&2
    exit 1
fi

echo "=== the demo says ($log)"
cat "$log"
echo
echo "=== what its runtime descriptor says (tests/gortdesc.py $pid)"
/usr/bin/python3 "$root/tests/gortdesc.py" "$pid" || true
if [ -x "$build/bin/goinspect" ]; then
    for cmd in summary goroutines; do
        echo
        echo "=== goinspect attach $pid $cmd"
        "$build/bin/goinspect" attach "$pid" $cmd </dev/null || true
    done
fi
echo
echo "The demo is still running as PID $pid (output in $log)."
echo "Look again with:  /usr/bin/python3 tests/gortdesc.py $pid"
[ -x "$build/bin/goinspect" ] && echo "             or:  $build/bin/goinspect attach $pid"
echo "Stop it with:     kill $pid"
