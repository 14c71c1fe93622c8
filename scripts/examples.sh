#!/usr/bin/env bash
# Installs the build (scripts/setup.sh's) into a scratch prefix, builds examples/ against that
# installed package alone (find_package(googlenet CONFIG), not the source tree), and runs both
# examples: a few training steps that save weights, then the classification of a test image.
#   scripts/examples.sh
# Environment: BUILD_DIR (default: build), WORK (default: a temporary folder, removed after).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}
work=${WORK:-$(mktemp -d)}
[ -n "${WORK:-}" ] || trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
# The examples' build sees the installed prefix and the system, never the source tree's include/.
cmake -S "$root/examples" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" -j "${JOBS:-$(nproc)}" >/dev/null
if grep -rq -- "-I$root/include" "$work/build" 2>/dev/null; then
  echo "examples.sh: the examples' build reads the source tree's headers" >&2
  exit 1
fi
"$work/build/train_steps" "$work/weights.safetensors" 3
/usr/bin/python3 - "$work/image.png" <<'PY'
import gzip, sys
from PIL import Image
raw = gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").read()
Image.frombytes("L", (28, 28), raw[16:16 + 784]).save(sys.argv[1])  # test image 0, an ankle boot
PY
"$work/build/classify" "$work/weights.safetensors" "$work/image.png"
echo "examples.sh: built against $work/prefix and ran"
