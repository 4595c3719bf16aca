#!/usr/bin/env bash
# Install what the project needs, build the host side under ASan + UBSan and
# the Cortex-M4 cross build, and run every test with ctest.
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

./deploy/install-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)

echo "== cortex-m4: configure, build, test"
cmake --preset cortex-m4 >/dev/null
cmake --build --preset cortex-m4 -j "$jobs"
ctest --preset cortex-m4

echo "== asan: configure, build, test"
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$jobs"
ctest --preset asan
