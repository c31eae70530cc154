#!/usr/bin/env bash
# `npm run test:musl`: the musl prebuilds have no Node to run under here (the
# npm registry has no musl build of Node), so this loads each one with musl's
# own dynamic linker, from Debian's musl packages:
#   linux-x64 musl    /lib/ld-musl-x86_64.so.1 --list (musl's ldd): the file
#                     maps, its libc.so resolves to musl, and every relocation
#                     binds; then a small musl program (musl-gcc) that stands
#                     in for node's Node-API functions dlopen()s it with
#                     RTLD_NOW, which runs its C++ static initialisers, finds
#                     both entry points and calls node_api_module_get_api_version_v1.
#   linux-arm64 musl  ld-musl-aarch64.so.1 --list under qemu-aarch64-static
#                     (Debian's musl:arm64, unpacked under build-toolchains/).
# The only symbols allowed to stay unbound are Node-API functions, which node
# provides; each of those must be one the binary imports. Nothing here runs
# the addon's Node-API code: .github/workflows/native.yml does, on Alpine.
# Installs musl, musl-tools and qemu-user-static when missing; fetching
# musl:arm64 needs arm64 in dpkg's architectures (added when missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
x64=prebuilds/linux-x64/threadmap.musl.node
arm64=prebuilds/linux-arm64/threadmap.musl.node
for f in $x64 $arm64; do
  [ -f "$f" ] || { echo "test:musl: $f is missing: run npm run prebuild first" >&2; exit 1; }
done

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO="sudo -n"; fi
export DEBIAN_FRONTEND=noninteractive
missing=()
[ -x /lib/ld-musl-x86_64.so.1 ] || missing+=(musl)
command -v musl-gcc >/dev/null || missing+=(musl-tools)
command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "test:musl: installing ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
fi
musl_arm64="$root/build-toolchains/musl-arm64"
ldso_arm64="$musl_arm64/lib/ld-musl-aarch64.so.1"
if [ ! -x "$ldso_arm64" ]; then
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    echo "test:musl: dpkg --add-architecture arm64 (to fetch musl:arm64)"
    $SUDO dpkg --add-architecture arm64
    $SUDO apt-get update -qq
  fi
  mkdir -p "$musl_arm64/deb"
  # apt-get download writes to the current folder; the _apt user may not
  # reach it, which apt only warns about.
  (cd "$musl_arm64/deb" && apt-get download -qq musl:arm64 2>&1 | grep -v 'unsandboxed' || true)
  deb=$(ls "$musl_arm64"/deb/musl_*_arm64.deb)
  dpkg-deb -x "$deb" "$musl_arm64"
  echo "test:musl: unpacked $(basename "$deb")"
fi

nm=$(command -v llvm-nm-14 || command -v llvm-nm)

# ldd FILE LDSO [RUNNER...]: musl's --list mode; prints what it resolved and
# fails unless every unbound symbol is a Node-API function the file imports.
ldd_check() {
  local file=$1 label=$2
  shift 2
  local out rc=0
  out=$("$@" --list "$file" 2>&1) || rc=$?
  printf '%s\n' "$out" | grep -v '^Error relocating' | sed 's/^/   | /'
  local unbound other napi_imports
  unbound=$(printf '%s\n' "$out" | sed -n 's/^Error relocating [^:]*: \([^:]*\): symbol not found$/\1/p' | sort -u)
  other=$(printf '%s\n' "$out" | grep -E '^Error' | grep -v ': symbol not found$' || true)
  napi_imports=$("$nm" -D --undefined-only "$file" | awk '{print $NF}' | grep -E '^(napi|node_api)_' | sort -u)
  local bad
  bad=$(comm -23 <(printf '%s\n' "$unbound") <(printf '%s\n' "$napi_imports") | grep . || true)
  if [ -n "$other" ] || [ -n "$bad" ]; then
    echo "test:musl: $label: musl's loader could not load it:" >&2
    [ -z "$other" ] || printf '  %s\n' "$other" >&2
    [ -z "$bad" ] || printf '  unbound, not Node-API: %s\n' $bad >&2
    exit 1
  fi
  if [ -z "$unbound" ] && [ "$rc" != 0 ]; then
    echo "test:musl: $label: musl's loader exited with $rc and said why nowhere:" >&2
    printf '%s\n' "$out" >&2
    exit 1
  fi
  local imports
  imports=$("$nm" -D --undefined-only "$file" | awk '{print $NF}' | grep -cvE '^(napi|node_api)_' || true)
  echo "   $label: every one of its $imports libc imports bound in musl; unbound only $(printf '%s\n' "$unbound" | grep -c .) Node-API functions (node provides them)"
}

echo "== test:musl: linux-x64 musl prebuild, musl $(dpkg-query -W -f '${Version}' musl)"
ldd_check "$x64" linux-x64-musl /lib/ld-musl-x86_64.so.1

# The stand-ins for node's Node-API functions: dlopen with RTLD_NOW binds
# every import at once, so each must exist; none is ever called.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{
  echo '#include <stdlib.h>'
  "$nm" -D --undefined-only "$x64" | awk '{print $NF}' | grep -E '^(napi|node_api)_' | sort -u |
    sed 's/.*/void &(void) { abort(); }/'
  cat <<'EOF'
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
  void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!h) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 1; }
  void *reg = dlsym(h, "napi_register_module_v1");
  int (*version)(void) = (int (*)(void))dlsym(h, "node_api_module_get_api_version_v1");
  if (!reg || !version) { fprintf(stderr, "an entry point is missing\n"); return 1; }
  printf("%d\n", version());
  return dlclose(h);
}
EOF
} >"$work/load.c"
musl-gcc -O1 -rdynamic -o "$work/load" "$work/load.c"
version=$("$work/load" "$root/$x64")
if [ "$version" != 8 ]; then
  echo "test:musl: linux-x64-musl: node_api_module_get_api_version_v1() returned '$version', expected 8" >&2
  exit 1
fi
echo "   linux-x64-musl: dlopen(RTLD_NOW) in a musl process ran its initialisers; both entry points found; Node-API version $version"

echo "== test:musl: linux-arm64 musl prebuild under $(qemu-aarch64-static --version | head -1)"
ldd_check "$arm64" linux-arm64-musl qemu-aarch64-static "$ldso_arm64"
echo "test:musl: passed (both musl prebuilds load with musl's loader; not run under Node: no musl Node here)"
