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
  if PATH="$(dirname "$node_bin"):$PATH" PREBUILDS_ONLY=1 "$node_bin" node_modules/vitest/vitest.mjs run; then
    echo "== Node $("$node_bin" --version): passed in $((SECONDS - start)) s"
    passed+=("$("$node_bin" --version)")
  else
    failed+=("$("$node_bin" --version)")
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "test:node-versions: FAILED on ${failed[*]}" >&2
  exit 1
fi
echo "test:node-versions: the vitest suite passed on ${passed[*]} (the linux-x64 glibc prebuild)"
