#!/usr/bin/env bash
# Installs what is missing (test extras included), builds in Release, and runs the whole test suite.
#   scripts/test.sh [CTEST_ARGS...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh" --test
cd "${BUILD_DIR:-$root/build}"
ctest --output-on-failure -j "${JOBS:-$(nproc)}" "$@"
