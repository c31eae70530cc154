#!/usr/bin/env bash
# npm run bench:native [-- flags]: builds bench/native (cmake -DTHREADMAP_BENCH=ON
# in build-native/bench, Release, at most 2 compile jobs) and runs threadmap-bench.
#
#   --install-peers   first apt-get install the peer maps (libtbb-dev,
#                     libcuckoo-dev; needs root or sudo), then build with them
#   --boost=DIR       build with boost::concurrent_flat_map from DIR, which
#                     holds boost/unordered/concurrent_flat_map.hpp and the
#                     Boost headers it includes, from Boost 1.83 or later.
#                     Debian 12 ships 1.81 (libboost1.81-dev), which lacks it:
#                     unpack a Boost release (DIR=boost_1_87_0), or copy the
#                     include/ trees of the boostorg repositories unordered,
#                     core, config, container_hash, describe, mp11, predef,
#                     static_assert, throw_exception, type_traits and assert
#                     into one tree: for each r in a clone of boostorg/r,
#                       git -C r archive HEAD include | tar -x -C ROOT
#                     then DIR=ROOT/include
#   --parlayhash=DIR  build with ParlayHash from DIR, the include/ directory of
#                     github.com/cmuparlay/parlayhash (header-only)
#   --build-only      build, do not run
# Both directories are remembered in the build's CMake cache; pass the flag
# again to change one.
# Every other flag goes to threadmap-bench (--help lists them). Without flags
# it runs the default suite and writes bench/results/native-<date>.json.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-native/bench"
install_peers=0
build_only=0
args=()
peer_dirs=()
for a in "$@"; do
  case "$a" in
    --install-peers) install_peers=1 ;;
    --build-only) build_only=1 ;;
    --boost=*) peer_dirs+=("-DTHREADMAP_BOOST_INCLUDE=${a#--boost=}") ;;
    --parlayhash=*) peer_dirs+=("-DTHREADMAP_PARLAYHASH_INCLUDE=${a#--parlayhash=}") ;;
    *) args+=("$a") ;;
  esac
done

if [[ $install_peers == 1 ]]; then
  sudo=""
  [[ $(id -u) != 0 ]] && sudo="sudo"
  echo "bench-native: installing the peer maps (libtbb-dev, libcuckoo-dev) with apt-get"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libtbb-dev libcuckoo-dev
fi

gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
mkdir -p "$build"
if [[ -f "$build/CMakeCache.txt" ]]; then
  # re-configure: peers installed since are found
  cmake "${peer_dirs[@]+"${peer_dirs[@]}"}" "$build" >"$build/configure.log"
else
  cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DTHREADMAP_BENCH=ON \
    "${peer_dirs[@]+"${peer_dirs[@]}"}" >"$build/configure.log"
fi
grep 'threadmap-bench: peer' "$build/configure.log" >&2 || true
cmake --build "$build" --target threadmap-bench -j 2
[[ $build_only == 1 ]] && exit 0

has_json=0
for a in "${args[@]+"${args[@]}"}"; do [[ $a == --json=* || $a == --help || $a == -h ]] && has_json=1; done
if [[ $has_json == 0 ]]; then
  mkdir -p "$root/bench/results"
  args+=("--json=$root/bench/results/native-$(date -u +%Y%m%dT%H%M%SZ).json")
fi
exec "$build/bench/native/threadmap-bench" "${args[@]}"
