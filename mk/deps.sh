#!/bin/sh
# Install the Debian packages the project needs; idempotent: when everything
# is present it only asks dpkg and returns at once.
#
#   mk/deps.sh          what building, testing and the demo need (the tests
#                       read profiles with perf and go tool pprof)
#   mk/deps.sh bench    the reference tools the benchmarks compare against
#                       (never needed by the tests), and python3.11-dbg,
#                       whose libpython3.11d.so (-Og, DWARF in the file) and
#                       debug file of /usr/bin/python3.11 (-O3, LTO), and
#                       libc6-dbg, whose debug file of libc.so.6 (-O2), are
#                       bench/symbolize's binaries built by others
set -eu

case "${1:-build}" in
build) PKGS="gcc make clang libclang-rt-14-dev libelf-dev libdwarf-dev libreadline-dev llvm \
gdb python3 python3-pytest elfutils binutils procps valgrind debuginfod libdebuginfod-dev dwz strace \
zlib1g-dev linux-perf golang-go chromium" ;;
bench) PKGS="golang-go delve llvm hyperfine time python3.11-dbg libc6-dbg" ;;
*) echo "usage: mk/deps.sh [build|bench]" >&2; exit 2 ;;
esac

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = installed ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
