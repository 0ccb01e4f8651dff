# shellcheck shell=sh disable=SC2034,SC2154 # sets and reads the sourcing script's variables
# bench/goroutines/programs.sh — sourced by the benchmarks that run this
# directory's two target programs (bench/goroutines, bench/core).  With $src
# this directory, $build the build directory and $out the benchmark's own
# output directory: builds goroutines.c into $out/goroutines-gort (gortcc -O2)
# and goroutines.go into $out/goroutines-go (Go, its cache under $out, no
# network), and sets $go (the go command) and $gdbpy (Go's runtime-gdb.py, ""
# when it is not installed).
"$build/bin/gortcc" -O2 -Wall -Wextra -Werror -o "$out/goroutines-gort" "$src/goroutines.c"
export GOCACHE="$out/go-cache" GOPATH="$out/go-path" GOFLAGS="" GOPROXY=off GO111MODULE=off
go=${GO:-/usr/bin/go}
(cd "$src" && "$go" build -o "$out/goroutines-go" goroutines.go)
gdbpy=""
for f in /usr/lib/go-1.19/src/runtime/runtime-gdb.py /usr/share/go-1.19/src/runtime/runtime-gdb.py \
         "$("$go" env GOROOT)/src/runtime/runtime-gdb.py"; do
    [ -f "$f" ] && gdbpy=$f && break
done
