#!/bin/sh
# rt-text.sh IN OUT — copy object IN to OUT with every code section (.text,
# .text.unlikely, .text.unlikely., .text.startup, ...) renamed `gort_text`,
# so the runtime's code forms one contiguous range in the linked program.
set -eu
in=$1 out=$2
args=""
for s in $(readelf -SW "$in" | sed -n 's/^ *\[ *[0-9]*\] \(\.text[^ ]*\) .*/\1/p'); do
    args="$args --rename-section $s=gort_text,alloc,load,readonly,code,contents"
done
# shellcheck disable=SC2086
objcopy $args "$in" "$out"
