#!/usr/bin/env bash
# `npm run test:cross`: run scripts/smoke.cjs on the prebuilds this x86-64
# Linux machine can execute through an emulator, each under the official
# Node binary for its platform from the npm registry (scripts/toolchains.mjs):
#   linux-arm64 (glibc)  qemu-aarch64-static, Debian's arm64 libc/libstdc++
#                        (Node's own dependencies) as its sysroot
#   win32-x64            wine64
# Installs the Debian packages (qemu-user-static, libc6-arm64-cross,
# libstdc++6-arm64-cross, wine64) when missing. The musl and macOS prebuilds
# cannot run here: scripts/check-prebuild.mjs reads their symbol tables, and
# .github/workflows/native.yml runs this smoke test on Alpine and macOS runners.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

for f in prebuilds/linux-arm64/threadmap.glibc.node prebuilds/win32-x64/threadmap.node; do
  [ -f "$f" ] || { echo "test:cross: $f is missing: run npm run prebuild first" >&2; exit 1; }
done
[ -f dist/index.js ] || npm run build:ts

WINE=$(command -v wine64 || true)
[ -n "$WINE" ] || [ ! -x /usr/lib/wine/wine64 ] || WINE=/usr/lib/wine/wine64
missing=()
command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
[ -f /usr/aarch64-linux-gnu/lib/libc.so.6 ] || missing+=(libc6-arm64-cross)
[ -f /usr/aarch64-linux-gnu/lib/libstdc++.so.6 ] || missing+=(libstdc++6-arm64-cross)
[ -n "$WINE" ] || missing+=(wine64)
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO="sudo -n"; fi
  echo "test:cross: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
  WINE=$(command -v wine64 || echo /usr/lib/wine/wine64)
fi

echo "== test:cross: linux-arm64 glibc prebuild under $(qemu-aarch64-static --version | head -1)"
node_arm64=$(node scripts/toolchains.mjs node22-arm64)
qemu-aarch64-static -L /usr/aarch64-linux-gnu "$node_arm64" scripts/smoke.cjs

echo "== test:cross: win32-x64 prebuild under wine64 ($("$WINE" --version))"
node_win=$(node scripts/toolchains.mjs node22-win)
export WINEPREFIX="$root/build-toolchains/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
# A new prefix says Windows 7, which Node 22 refuses to start on.
"$WINE" reg add 'HKCU\Software\Wine' /v Version /d win10 /f >/dev/null 2>&1
# Wine maps / to drive Z:. Node under wine cannot open a pipe as stdout or
# stderr (EBADF), so the output goes to a file.
out="$root/build-toolchains/wine-smoke.log"
rc=0
timeout 600 "$WINE" "$node_win" "Z:${root//\//\\}\\scripts\\smoke.cjs" >"$out" 2>&1 </dev/null || rc=$?
cat "$out"
[ "$rc" = 0 ] || { echo "test:cross: the win32-x64 smoke test failed (exit $rc)" >&2; exit 1; }
echo "test:cross: passed (linux-arm64 under qemu, win32-x64 under wine)"
