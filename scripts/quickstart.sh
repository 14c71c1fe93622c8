#!/usr/bin/env bash
# Installs what is missing, builds in Release, and trains D2L's GoogLeNet on Fashion-MNIST with
# D2L's settings (10 epochs, batch 128, lr 0.1, 96x96). Extra arguments go to `googlenet train`.
#   scripts/quickstart.sh [--epochs N] [--out DIR (default: runs/d2l)] ...
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
# runs/d2l unless the arguments name the folder themselves (--out DIR, -o DIR, or --resume DIR).
out=(--out "$root/runs/d2l")
for a in "$@"; do
  case "$a" in
    --out|--out=*|-o|-o?*|--resume|--resume=*) out=() ;;
  esac
done
exec "${BUILD_DIR:-$root/build}/googlenet" train "${out[@]}" "$@"
