# shellcheck shell=sh
# bench/wait_ready.sh — sourced by the benchmarks that start a target
# program which prints READY once it is set up.
#
# wait_ready FILE WHAT [SECONDS]: waits until FILE (the target's output)
# holds READY; after SECONDS (default 60) says "WHAT did not get ready",
# shows FILE and exits 1.
wait_ready() {
    _tries=$(( ${3:-60} * 10 ))
    _i=0
    until grep -q READY "$1" 2>/dev/null; do
        _i=$((_i + 1))
        if [ "$_i" -gt "$_tries" ]; then
            echo "$2 did not get ready" >&2
            cat "$1" >&2 2>/dev/null || true
            exit 1
        fi
        sleep 0.1
    done
}
