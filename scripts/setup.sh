#!/usr/bin/env bash
# Installs what googlenet needs on Debian 12 (only what is missing), then builds it in Release.
#   scripts/setup.sh [--test] [--bench] [--fuzz] [--no-build]
#     --test      also installs what the test suite needs (PyTorch, torchvision and PIL for fixtures)
#     --bench     also installs the peers bench/compare.py measures against: Debian's PyTorch 1.13 and
#                 OpenCV, and PyPI's PyTorch 2, ONNX Runtime and OpenVINO in a venv, .deps/peers
#                 (bench/peers-requirements.txt; a few GB)
#     --fuzz      also installs clang and its libFuzzer runtime (scripts/fuzz.sh)
#     --no-build  installs only
# Environment: BUILD_DIR (default: build), DEPS_DIR (default: .deps), JOBS (default: nproc),
# CMAKE_ARGS (more cmake options, e.g. -DGOOGLENET_SANITIZE=ON).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}
deps_dir=${DEPS_DIR:-$root/.deps}
with_tests=0
with_bench=0
with_fuzz=0
build=1
for a in "$@"; do
  case "$a" in
    --test) with_tests=1 ;;
    --bench) with_bench=1 ;;
    --fuzz) with_fuzz=1 ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$a'" >&2; exit 2 ;;
  esac
done

# oneDNN comes from PyPI (API v3, see docs/onednn.md); everything else from Debian.
ONEDNN_VERSION=2023.2.0
pkgs=(build-essential cmake zlib1g-dev libpng-dev libjpeg62-turbo-dev libcli11-dev nlohmann-json3-dev libfmt-dev
      libgtest-dev libcairo2-dev fonts-dejavu-core pkg-config openmpi-bin libopenmpi-dev dataset-fashion-mnist
      libonnx-dev libprotobuf-dev help2man python3 python3-pip)
[ "$with_tests" = 1 ] && pkgs+=(python3-torch python3-torchvision python3-pil python3-opencv python3-onnx man-db)
[ "$with_bench" = 1 ] && pkgs+=(python3-torch python3-opencv python3-numpy libopenblas0-pthread python3-venv)
[ "$with_fuzz" = 1 ] && pkgs+=(clang libclang-rt-14-dev libomp-14-dev)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

onednn_prefix=$deps_dir/onednn-$ONEDNN_VERSION
if [ ! -f "$onednn_prefix/lib/cmake/dnnl/dnnl-config.cmake" ]; then
  echo "setup: fetching oneDNN $ONEDNN_VERSION (PyPI: onednn-cpu-gomp, onednn-devel-cpu-gomp)"
  requirements=$root/scripts/onednn-requirements.txt
  if [ "$(grep -c "==$ONEDNN_VERSION --hash=sha256:" "$requirements")" != 2 ]; then
    echo "setup.sh: $requirements does not pin both oneDNN wheels at $ONEDNN_VERSION with their hashes" >&2
    exit 1
  fi
  wheels=$(mktemp -d)
  trap 'rm -rf "$wheels"' EXIT
  /usr/bin/python3 -m pip download -q --no-deps --require-hashes -r "$requirements" -d "$wheels"
  # What an interrupted set-up left half-unpacked is thrown away, not unpacked into.
  rm -rf "$onednn_prefix.tmp"
  /usr/bin/python3 "$root/tools/unpack_wheel_data.py" "$onednn_prefix.tmp" "$wheels"/*.whl
  rm -rf "$onednn_prefix" && mv "$onednn_prefix.tmp" "$onednn_prefix"
fi

# The modern peers' venv, made again whenever the pinned list changes; the list is copied in last,
# so a set-up that was interrupted is redone.
if [ "$with_bench" = 1 ]; then
  peers=$deps_dir/peers
  if ! cmp -s "$root/bench/peers-requirements.txt" "$peers/requirements.txt"; then
    echo "setup: installing the modern peers into $peers (PyPI: bench/peers-requirements.txt)"
    rm -rf "$peers"
    /usr/bin/python3 -m venv "$peers"
    "$peers/bin/python" -m pip install -q --disable-pip-version-check -r "$root/bench/peers-requirements.txt"
    cp "$root/bench/peers-requirements.txt" "$peers/requirements.txt"
  fi
fi

[ "$build" = 1 ] || exit 0
# shellcheck disable=SC2086  # CMAKE_ARGS is a list of options
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$onednn_prefix" -DGOOGLENET_MPI=ON \
  ${CMAKE_ARGS:-} >/dev/null
cmake --build "$build_dir" -j "${JOBS:-$(nproc)}"
