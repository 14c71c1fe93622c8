#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, with ASan and UBSan) and runs each for a while, starting
# from the crafted files in tests/corpus. A crash, a leak, undefined behaviour or an exception
# other than googlenet::Error fails the run and leaves the input in build-fuzz/artifacts/.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     (default 60)
# Environment: FUZZ_BUILD_DIR (default: build-fuzz), FUZZ_TARGETS (default: all, e.g. "idx image"),
# FUZZ_SEED (libFuzzer's -seed; default 1, so that a run can be repeated: the log names it), JOBS
# (default: nproc).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${1:-60}
seed=${FUZZ_SEED:-1}
"$root/scripts/setup.sh" --fuzz --no-build
onednn_prefix=$(ls -d "${DEPS_DIR:-$root/.deps}"/onednn-* | head -n 1)
CXX=clang++ cmake -S "$root" -B "$build" -DGOOGLENET_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DCMAKE_PREFIX_PATH="$onednn_prefix" >/dev/null
cmake --build "$build" -j "${JOBS:-$(nproc)}"

mkdir -p "$build/artifacts"
export LSAN_OPTIONS="suppressions=$root/fuzz/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
status=0
# target:seed folders under tests/corpus (or fuzz/seeds, for inputs that are no library parser's)
for spec in idx:idx safetensors:safetensors checkpoint:checkpoint,safetensors image:image metrics:metrics model:model onnx:onnx \
            config:config; do
  target=${spec%%:*}
  [ -z "${FUZZ_TARGETS:-}" ] || [[ " $FUZZ_TARGETS " == *" $target "* ]] || continue
  work=$(mktemp -d)
  IFS=, read -ra seed_dirs <<<"${spec#*:}"
  for d in "${seed_dirs[@]}"; do
    dir=$root/tests/corpus/$d
    [ -d "$dir" ] || dir=$root/fuzz/seeds/$d
    for f in "$dir"/*; do cp "$f" "$work/$d-${f##*/}"; done
  done
  echo "fuzz_$target: ${seconds}s from $(ls "$work" | wc -l) corpus files, -seed=$seed"
  if ! "$build/fuzz/fuzz_$target" -seed="$seed" -max_total_time="$seconds" -max_len=65536 -timeout=20 -rss_limit_mb=3072 \
      -print_final_stats=1 -artifact_prefix="$build/artifacts/$target-" "$work" >"$build/fuzz_$target.log" 2>&1; then
    echo "fuzz_$target FAILED; the input is in $build/artifacts/ and the log follows:"
    tail -n 60 "$build/fuzz_$target.log"
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$build/fuzz_$target.log" | tr '\n' ' '; echo
  fi
  rm -rf "$work"
done
exit $status
