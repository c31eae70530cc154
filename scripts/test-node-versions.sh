#!/usr/bin/env bash
# `npm run test:node-versions`: the whole vitest suite on every Node line
# `engines` allows, against the linux-x64 glibc prebuild that ships
# (PREBUILDS_ONLY=1: node-gyp-build skips build/Release), so the shipped
# binary, not the developer build, is what these runs test:
#   system   this machine's own Node (20 here; `npm test` also runs the
#            suite on it, against build/Release)
#   node22, node24, node26  the official linux-x64 binaries from the npm
#            registry (pinned in scripts/toolchains.mjs)
# Each line's own behaviour is asserted where Nodes differ (map.io.test.ts:
# Node 20 copies an untransferable buffer, 22 and later refuse it).
#
#   THREADMAP_NODE_LINES="system node22 node24 node26" (default) picks the lines.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! ls prebuilds/linux-x64/threadmap.glibc.node >/dev/null 2>&1; then
  echo "test:node-versions: no prebuilds/linux-x64/threadmap.glibc.node: run npm run prebuild first" >&2
  exit 1
fi
[ -f dist/index.js ] || npm run build:ts

failed=()
failed_logs=()
# Each line's output is also kept, so that a failure's own summary (vitest
# prints it at the end of its run, which the next line's run would bury) is
# printed again last, where CI's tail shows it.
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
lines=${THREADMAP_NODE_LINES:-system node22 node24 node26}
passed=()
for line in $lines; do
  if [ "$line" = system ]; then
    node_bin=$(command -v node)
  else
    node_bin=$(node scripts/toolchains.mjs "$line")
  fi
  echo
  echo "== test:node-versions: vitest on Node $("$node_bin" --version), PREBUILDS_ONLY=1"
  start=$SECONDS
  log="$logs/$line.log"
  if PATH="$(dirname "$node_bin"):$PATH" PREBUILDS_ONLY=1 "$node_bin" node_modules/vitest/vitest.mjs run 2>&1 | tee "$log"; then
    echo "== Node $("$node_bin" --version): passed in $((SECONDS - start)) s"
    passed+=("$("$node_bin" --version)")
  else
    failed+=("$("$node_bin" --version)")
    failed_logs+=("$log")
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  for log in "${failed_logs[@]}"; do
    echo
    echo "== what failed in $(basename "$log" .log) (the FAIL lines, then vitest's failure summary):"
    grep -a -E 'FAIL|Error|Unhandled' "$log" | head -40 || true
    sed -n '/Failed Tests\|Unhandled Errors/,$p' "$log" | head -150
  done
  echo "test:node-versions: FAILED on ${failed[*]}" >&2
  exit 1
fi
echo "test:node-versions: the vitest suite passed on ${passed[*]} (the linux-x64 glibc prebuild)"
