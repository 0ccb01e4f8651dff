#!/bin/sh
# bench/fuzz/run.sh [BUILD_DIR] [SECONDS]
#
# Builds the libFuzzer target for libgidwarf's loader with clang
# (-fsanitize=fuzzer,address) into BUILD_DIR/fuzz and runs it for SECONDS
# (default 60) on a copy of the seed corpus tests/fuzz-seeds.  Crashing
# inputs are left in BUILD_DIR/fuzz/ as crash-*.
set -eu
build=${1:-build}
secs=${2:-${FUZZ_SECONDS:-60}}
root=$(cd "$(dirname "$0")/../.." && pwd)
case $build in /*) ;; *) build="$root/$build" ;; esac
out="$build/fuzz"
mkdir -p "$out/corpus"
cp "$root"/tests/fuzz-seeds/* "$out/corpus/"
clang -g -O1 -fsanitize=fuzzer,address -fno-omit-frame-pointer -D_GNU_SOURCE \
    -I"$root/dwarf" -I/usr/include/libdwarf \
    "$root/bench/fuzz/fuzz_loader.c" "$root"/dwarf/*.c -lelf -ldwarf -o "$out/fuzz_loader"
cd "$out"
echo "fuzzing libgidwarf's loader for ${secs}s (corpus: $out/corpus)"
./fuzz_loader -max_total_time="$secs" -max_len=262144 -rss_limit_mb=2048 -print_final_stats=1 corpus
