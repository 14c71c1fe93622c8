#!/usr/bin/env bash
# Builds two versions of googlenet on this machine and checks that they compute the same bits:
# the weights after a fixed short training run (batch split, and every op on all threads), and
# the logits of inference at batch 1 (Inception paths side by side), batch 1 with every op on all
# threads, and batch 64 (batch split). Stored hashes would not do: results differ from one CPU
# to the next (oneDNN dispatches other kernels), so both builds run here, now.
#   tools/compare_builds.sh [--bench] OLD [NEW]
#     OLD, NEW  commits (NEW defaults to the working tree, built in build/ by scripts/setup.sh)
#     --bench   also times `googlenet bench` (training step and inference) in 5 interleaved pairs
#               of old and new binaries and prints the ratio (new / old) of the medians of each
#               run's mean time (the mean: 97f0529's bench reports no median)
# Environment: WORK (default: /tmp/googlenet-compare), THREADS (default: 2).
# Exit status: 0 when every comparison is bit-identical, 1 otherwise.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bench=0
if [ "${1:-}" = --bench ]; then bench=1; shift; fi
if [ $# -lt 1 ] || [ $# -gt 2 ]; then sed -n '6,10p' "$0" >&2; exit 2; fi
work=${WORK:-/tmp/googlenet-compare}
threads=${THREADS:-2}
mkdir -p "$work"
onednn_prefix=$(ls -d "$root"/.deps/onednn-* | head -1)
data=/usr/share/datasets/fashion-mnist

# Builds commit $1 in $work/<commit>/ (a detached worktree) and prints its binary.
build_commit() {
  local sha src bld
  sha=$(git -C "$root" rev-parse --verify "$1^{commit}")
  src=$work/$sha/src bld=$work/$sha/build
  if [ ! -x "$bld/googlenet" ]; then
    rm -rf "$work/$sha" && git -C "$root" worktree prune
    git -C "$root" worktree add --detach -f "$src" "$sha" >/dev/null 2>&1
    cmake -S "$src" -B "$bld" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$onednn_prefix" -DGOOGLENET_MPI=OFF >/dev/null
    cmake --build "$bld" --target googlenet_cli -j "$(nproc)" >/dev/null
  fi
  echo "$bld/googlenet"
}

echo "compare_builds: building $1" >&2
old=$(build_commit "$1")
if [ $# -eq 2 ]; then
  echo "compare_builds: building $2" >&2
  new=$(build_commit "$2")
else
  new=$root/build/googlenet
  [ -x "$new" ] || { echo "compare_builds: no $new: run scripts/setup.sh first" >&2; exit 1; }
fi

# 64 test images as one input tensor, the same for both builds.
/usr/bin/python3 - "$data" "$work/input.safetensors" <<'EOF'
import gzip, json, struct, sys
import numpy as np
raw = gzip.open(sys.argv[1] + "/t10k-images-idx3-ubyte.gz").read()
images = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 1, 28, 28)[:64]
x = np.ascontiguousarray((images.astype(np.float32) / 255).repeat(4, 2).repeat(4, 3)[:, :, :96, :96])
head = json.dumps({"input": {"dtype": "F32", "shape": list(x.shape), "data_offsets": [0, x.nbytes]}}).encode()
head += b" " * (-len(head) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(head)) + head + x.tobytes())
EOF

# Runs one build's cases into $work/out-$2 (long flags only: older builds lack some short ones).
run_cases() {
  local bin=$1 out=$work/out-$2
  rm -rf "$out" && mkdir -p "$out"
  run() {  # run OUTPUT ARGS...: stdout to OUTPUT; on failure, says which command and its stderr
    local output=$1; shift
    "$bin" "$@" >"$output" 2>"$out/stderr" || { echo "compare_builds: failed: $bin $*" >&2; tail -5 "$out/stderr" >&2; exit 1; }
  }
  for parallel in batch ops; do
    run /dev/null train --train-limit 1280 --test-limit 256 --epochs 1 --threads "$threads" --seed 3 \
      --parallel "$parallel" --data-dir "$data" --quiet --out "$out/train-$parallel"
  done
  local predict=(predict --weights "$out/train-batch/model.safetensors" --tensor "$work/input.safetensors" --threads "$threads"
                 --json --logits)
  run "$out/logits-b1-paths.json" "${predict[@]}" --batch-size 1 --parallel batch
  run "$out/logits-b1-ops.json" "${predict[@]}" --batch-size 1 --parallel ops
  run "$out/logits-b64-split.json" "${predict[@]}" --batch-size 64 --parallel batch
}
echo "compare_builds: running the old build" >&2
run_cases "$old" old
echo "compare_builds: running the new build" >&2
run_cases "$new" new

status=0
/usr/bin/python3 - "$work/out-old" "$work/out-new" <<'EOF' || status=1
import json, struct, sys
old, new = sys.argv[1], sys.argv[2]

def tensors(path):
    blob = open(path, "rb").read()
    n = struct.unpack("<Q", blob[:8])[0]
    head = json.loads(blob[8:8 + n])
    head.pop("__metadata__", None)
    return {k: blob[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in head.items()}

def logits(path):
    # One document with "predictions" (0.2 on), or one object per line (before).
    text = open(path).read()
    try:
        rows = json.loads(text)["predictions"]
    except (ValueError, KeyError, TypeError):
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [r.get("logits") for r in rows]

failed = 0
for case in ["train-batch/model.safetensors", "train-ops/model.safetensors"]:
    a, b = tensors(f"{old}/{case}"), tensors(f"{new}/{case}")
    differing = sorted(k for k in a if a[k] != b.get(k)) + sorted(set(b) - set(a))
    print(f"{case}: {len(a)} tensors, " + ("bit-identical" if not differing else f"{len(differing)} differ, e.g. {differing[0]}"))
    failed |= bool(differing)
for case in ["logits-b1-paths.json", "logits-b1-ops.json", "logits-b64-split.json"]:
    a, b = logits(f"{old}/{case}"), logits(f"{new}/{case}")
    same = a == b and len(a) > 0 and all(l is not None for l in a)
    print(f"{case}: {len(a)} images, " + ("bit-identical" if same else "DIFFERENT"))
    failed |= not same
sys.exit(failed)
EOF

if [ "$bench" = 1 ]; then
  echo "compare_builds: 5 interleaved pairs of bench runs (median ms)" >&2
  for mode in "--mode train --batch-size 128" "--mode infer --batch-size 128" "--mode infer --batch-size 1"; do
    for i in 1 2 3 4 5; do
      for side in old new; do
        bin=$old; [ $side = new ] && bin=$new
        # shellcheck disable=SC2086  # $mode is a list of flags
        "$bin" bench $mode --threads "$threads" --iters 10 --json 2>/dev/null |
          /usr/bin/python3 -c "import json,sys; print('$side', json.loads(sys.stdin.read().strip().splitlines()[-1])['ms_mean'])"  # 97f0529's bench: no median, text before the JSON
      done
    done >"$work/bench.txt"
    /usr/bin/python3 - "$work/bench.txt" "$mode" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = {s: statistics.median(float(v) for side, v in rows if side == s) for s in ("old", "new")}
print(f"bench {sys.argv[2]}: old {med['old']:.2f} ms, new {med['new']:.2f} ms, new/old {med['new'] / med['old']:.3f}")
EOF
  done
fi
exit $status
