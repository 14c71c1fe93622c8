#!/usr/bin/env bash
# Installs what is missing (test extras included), builds, and runs the whole test suite.
#   scripts/test.sh [--sanitize] [CTEST_ARGS...]
#     --sanitize  the same suite built with AddressSanitizer and UndefinedBehaviorSanitizer, in
#                 build-asan/; any report fails the test that caused it
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = --sanitize ]; then
  shift
  export BUILD_DIR=${BUILD_DIR:-$root/build-asan}
  export CMAKE_ARGS="${CMAKE_ARGS:-} -DGOOGLENET_SANITIZE=ON"
  # oneDNN's JIT code is not instrumented; its global caches live to the end of the process, so
  # they are not leaks. Everything else that ASan or UBSan reports is an error.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=0:allocator_may_return_null=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
fi
"$root/scripts/setup.sh" --test
cd "${BUILD_DIR:-$root/build}"
ctest --output-on-failure -j "${JOBS:-$(nproc)}" "$@"
