#!/usr/bin/env bash
# Formats the C++ sources with the repository's .clang-format, or with
# --check reports the files that differ (exit 1). Installs Debian's
# clang-format when it is missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if ! command -v clang-format >/dev/null; then
  echo "clang-format: installing Debian's clang-format"
  apt-get update -qq && apt-get install -y -qq clang-format </dev/null >/dev/null
fi
mapfile -t files < <(git ls-files 'native/*.cpp' 'native/*.hpp' 'test/native/*.cpp' \
  'test/native/*.hpp' 'test/support/*.hpp' 'test/fuzz/*.cpp' 'bench/native/*.cpp' 'bench/native/*.hpp')
if [ "${1:-}" = "--check" ]; then
  bad=()
  for f in "${files[@]}"; do
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then bad+=("$f"); fi
  done
  if [ "${#bad[@]}" -gt 0 ]; then
    printf 'not formatted (run npm run format):\n'
    printf '  %s\n' "${bad[@]}"
    exit 1
  fi
  echo "clang-format: ${#files[@]} files formatted"
else
  clang-format -i "${files[@]}"
fi
