#!/bin/sh
# demo.sh BUILD_DIR — start BUILD_DIR/examples/demo in the background, inspect
# it with goinspect attach, and leave it running.
set -eu
build=${1:-build}
demo=$build/examples/demo
gi=$build/bin/goinspect
log=$build/demo.log

for f in "$demo" "$gi"; do
    if [ ! -x "$f" ]; then
        echo "demo.sh: $f not built (run make)" >&2
        exit 1
    fi
done

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
for cmd in summary "goroutines -g" threads heap; do
    echo
    echo "=== goinspect attach $pid $cmd"
    # shellcheck disable=SC2086
    "$gi" attach "$pid" $cmd </dev/null || true
done
echo
echo "The demo is still running as PID $pid (output in $log)."
echo "Explore it:   $gi attach $pid            (interactive; 'help' lists the commands)"
echo "              $gi attach $pid goroutine 1"
echo "              $gi --json attach $pid goroutines -t"
echo "Stop it with: kill $pid"
