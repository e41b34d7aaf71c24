#!/usr/bin/env bash
# The whole recoup test suite, from a fresh clone: installs what it needs
# (Debian packages), builds twice (normal, and with ASan/UBSan), and runs
# every test through ctest against real PostgreSQL and real CURVE sockets.
# Works as root and as a normal user.
set -euo pipefail
cd "$(dirname "$0")/.."
. deploy/deps.sh
recoup_install_deps $RECOUP_TEST_PACKAGES

jobs=$(nproc 2>/dev/null || echo 2)
run_suite () {                  # run_suite BUILD_DIR [cmake options...]
    local dir=$1; shift
    echo "== build $dir $*"
    cmake -S . -B "$dir" "$@" >/dev/null
    cmake --build "$dir" -j "$jobs"
    echo "== test $dir"
    (cd "$dir" && ctest --output-on-failure -j 2 --timeout 600)
}
run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo
run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DRECOUP_SANITIZE=ON
echo "== all tests passed (normal and ASan/UBSan builds)"
