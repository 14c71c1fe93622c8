#!/usr/bin/env bash
# Installs what is missing, builds in Release, and trains D2L's GoogLeNet on Fashion-MNIST with
# D2L's settings (10 epochs, batch 128, lr 0.1, 96x96). Extra arguments go to `googlenet train`.
#   scripts/quickstart.sh [--epochs N] [--out DIR] ...
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
exec "${BUILD_DIR:-$root/build}/googlenet" train --out "$root/runs/d2l" "$@"
