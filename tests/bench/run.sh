#!/bin/sh
# Builds (if needed) and runs the command benchmark: note_post from 1, 4
# and 16 closed-loop clients against a fresh recoupd, compared with
# single-row commits on the same database. Prints a table and a last line
# of JSON; exits 1 if any call failed, 2 if it could not run (a missed
# target is only reported, machines are noisy).
#
#   tests/bench/run.sh [BUILD-DIR] [bench_commands options...]
#
# BUILD-DIR defaults to ./build at the top of the source tree. Options go
# to bench_commands (--seconds S, --clients 1,4,16, --keep, --help, ...).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$src/build
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    build=$1
    shift
fi
mkdir -p "$build"
build=$(cd "$build" && pwd)

# Configure when there is no cache yet, or when the cache predates
# tests/bench (the build re-runs cmake by itself only when a CMakeLists.txt
# it already knows has changed).
if [ ! -f "$build/CMakeCache.txt" ] || [ ! -d "$build/tests/bench" ]; then
    cmake -S "$src" -B "$build" >/dev/null
fi
if ! cmake --build "$build" --target bench_commands --parallel 2 \
        >"$build/bench-build.log" 2>&1; then
    cat "$build/bench-build.log" >&2
    if ! grep -q 'add_subdirectory *(bench)' "$src/tests/CMakeLists.txt"; then
        echo "run.sh: tests/CMakeLists.txt has no add_subdirectory (bench)" >&2
    fi
    echo "run.sh: build failed (log: $build/bench-build.log)" >&2
    exit 2
fi

exec "$build/tests/bench/bench_commands" --recoupd "$build/recoupd" "$@"
