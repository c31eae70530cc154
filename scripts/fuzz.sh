#!/usr/bin/env bash
# Builds the libFuzzer targets in test/fuzz with clang (Debian's clang-14 and
# libclang-rt-14-dev; installed here when missing) under AddressSanitizer +
# UBSan, and runs each for FUZZ_SECONDS (default 60) on its corpus in
# test/fuzz/corpus/<target>. New inputs go to fuzz-out/ (git-ignored), so the
# committed corpus changes only when someone copies an input worth keeping.
#   npm run fuzz                 every target
#   npm run fuzz -- ops          one target
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${FUZZ_SECONDS:-60}"
cxx="${FUZZ_CXX:-clang++-14}"
if ! command -v "$cxx" >/dev/null || ! ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  echo "fuzz: installing clang-14 and libclang-rt-14-dev"
  apt-get update -qq && apt-get install -y -qq clang-14 libclang-rt-14-dev </dev/null >/dev/null
fi
out="$root/build-native/fuzz"
mkdir -p "$out"
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  for f in "$root"/test/fuzz/*.fuzz.cpp; do targets+=("$(basename "$f" .fuzz.cpp)"); done
fi
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I"$root/native/core/include")
for t in "${targets[@]}"; do
  echo "== fuzz target '$t': building"
  "$cxx" "${flags[@]}" "$root/test/fuzz/$t.fuzz.cpp" "$root"/native/core/src/*.cpp -o "$out/$t"
  corpus="$root/test/fuzz/corpus/$t"
  new="$root/fuzz-out/$t"
  mkdir -p "$corpus" "$new"
  echo "== fuzz target '$t': running ${seconds}s"
  "$out/$t" -max_total_time="$seconds" -max_len=1024 -print_final_stats=1 -artifact_prefix="$new/" \
    "$new" "$corpus"
done
echo "fuzz: every target ran ${seconds}s with no crash"
