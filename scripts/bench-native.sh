#!/usr/bin/env bash
# npm run bench:native [-- flags]: builds bench/native (cmake -DTHREADMAP_BENCH=ON
# in build-native/bench, Release, at most 2 compile jobs) and runs threadmap-bench.
#
#   --install-peers   first apt-get install the peer maps (libtbb-dev,
#                     libcuckoo-dev; needs root or sudo), then build with them
#   --build-only      build, do not run
# Every other flag goes to threadmap-bench (--help lists them). Without flags
# it runs the default suite and writes bench/results/native-<date>.json.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-native/bench"
install_peers=0
build_only=0
args=()
for a in "$@"; do
  case "$a" in
    --install-peers) install_peers=1 ;;
    --build-only) build_only=1 ;;
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
if [[ -f "$build/CMakeCache.txt" ]]; then
  cmake "$build" >/dev/null   # re-configure: peers installed since are found
else
  cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DTHREADMAP_BENCH=ON >/dev/null
fi
cmake --build "$build" --target threadmap-bench -j 2
[[ $build_only == 1 ]] && exit 0

has_json=0
for a in "${args[@]+"${args[@]}"}"; do [[ $a == --json=* || $a == --help || $a == -h ]] && has_json=1; done
if [[ $has_json == 0 ]]; then
  mkdir -p "$root/bench/results"
  args+=("--json=$root/bench/results/native-$(date -u +%Y%m%dT%H%M%SZ).json")
fi
exec "$build/bench/native/threadmap-bench" "${args[@]}"
