#!/usr/bin/env bash
# Builds and runs the native test suite (ctest) in one of three modes:
#   release  optimised build (part of `npm test`)
#   tsan     ThreadSanitizer          (`npm run test:tsan`)
#   asan     AddressSanitizer + UBSan (`npm run test:asan`)
set -euo pipefail
mode="${1:-release}"
root="$(cd "$(dirname "$0")/.." && pwd)"
case "$mode" in
  release) sanitize=""; build_type=Release ;;
  tsan) sanitize=thread; build_type=RelWithDebInfo ;;
  asan) sanitize=address; build_type=RelWithDebInfo ;;
  *) echo "usage: $0 release|tsan|asan" >&2; exit 2 ;;
esac
build="$root/build-native/$mode"
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE="$build_type" \
  -DTHREADMAP_TESTS=ON -DTHREADMAP_SANITIZE="$sanitize" >/dev/null
cmake --build "$build" -j "$(nproc)"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
export ASAN_OPTIONS="detect_leaks=1 abort_on_error=1 ${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1 halt_on_error=1 ${UBSAN_OPTIONS:-}"
if [ "$mode" != release ]; then
  export THREADMAP_STRESS_SCALE="${THREADMAP_STRESS_SCALE:-0.25}"
  export THREADMAP_GROWTH_SCALE="${THREADMAP_GROWTH_SCALE:-0.05}"
fi
cd "$build"
ctest --output-on-failure --timeout 900
