#!/usr/bin/python3
"""Mutation check: one-line bugs in the places that matter, each of which the suite must catch.

Usage: tools/mutants.py [--list] [--only NAME[,NAME...]] [--full] [--build-dir DIR] [--timeout SECONDS]

For each mutant in MUTANTS: checks that its line is in the source exactly once (else the tool has
failed: the code moved and the list must follow), applies it, rebuilds (a mutant that does not
compile is a failure of the tool, not a kill), runs the tests named beside it (with --full: the
whole CTest suite), and restores the file. A mutant is killed when a test fails or times out; each
test the list names must pass on the unmutated tree first.
The exit status is 0 only when every mutant applied, compiled and was killed.

It builds in build-mutants/ (a Release build like scripts/setup.sh's), so build/ is not touched;
the first build takes a few minutes, each mutant then an incremental rebuild of what its tests run. It is run by hand,
not in CI (docs/testing.md has the list and the last results). The source tree must be clean
where the mutants apply: the tool restores each file from its own copy.

Tests are named as `ctest:NAME` (a CTest test, by exact name), `cli:Class.test_method` (one
case of tests/cli_test.py) or `conventions:Class.test_method` (tests/conventions_test.py); a
mutant lists the tests that kill it today.
"""
import argparse, glob, os, subprocess, sys, time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

# (name, file, line as it is, line as the bug makes it, tests that kill it)
MUTANTS = [
    # The comparison every tensor test uses.
    ("nan-blind-maximum", "tests/testing.h",
     "        if (!std::isfinite(a) || !std::isfinite(e)) return HUGE_VAL;\n        diff = std::max(diff, std::fabs(a - e));\n",
     "        diff = std::max(diff, std::fabs(a - e));\n",
     ["ctest:model"]),
    # Winograd: the backward-weights tile that real training runs (F(6x6) at batch 128), a 5x5 table
    # entry, backward-data's weight flip, the forward's output transform.
    ("winograd-f6-backward-weights-x1.01", "src/ops/winograd.cpp",
     "                for (int i = 0; i < r2; ++i) diff_weights[(size_t(kb * L + l) * C + size_t(c)) * r2 + size_t(i)] = g[i * L + l];\n",
     "                for (int i = 0; i < r2; ++i) diff_weights[(size_t(kb * L + l) * C + size_t(c)) * r2 + size_t(i)] = (m_ == 6 ? 1.01f : 1.f) * g[i * L + l];\n",
     ["ctest:conv_paths"]),
    ("winograd-backward-weights-thread-sum", "src/ops/winograd.cpp",
     "                for (int t = 1; t < threads_; ++t)\n",
     "                for (int t = 1; t < threads_ - 1; ++t)\n",
     ["ctest:conv_paths"]),
    ("winograd-5x5-table-entry", "src/ops/winograd_transforms.h",
     "                                      {1.f / 90, 1.f / 45, 2.f / 45, 4.f / 45, 8.f / 45},\n",
     "                                      {1.f / 90, 1.f / 45, 2.f / 45, 4.f / 45, 8.f / 44},\n",
     ["ctest:conv_paths", "ctest:ops_reference"]),
    # Gradients: a value read by two ops gets the sum; the batch split's copies' sum.
    ("grad-commit-overwrites", "src/execution/backward_step.cpp",
     "        for (long k = 0; k < n; ++k) g[k] += later[k];\n",
     "        for (long k = 0; k < n; ++k) g[k] = later[k];\n",
     ["ctest:ops_reference"]),
    # The batch split's shared work: only where every copy asks alike.
    ("shared-work-keys-ignored", "src/execution/split_share.cpp",
     "    const bool alike = key != 0 && std::all_of(keys.begin(), keys.end(), [&](uint64_t k) { return k == key; });\n",
     "    const bool alike = key != 0;\n",
     ["ctest:batch_split"]),
    # The executor's two rules: a value given twice to one op, and the owned ReLU masks.
    ("value-given-twice-overwrites", "src/execution/backward_step.cpp",
     "        for (size_t j = 0; j < i; ++j) written = written || op.inputs[j] == &v;  // a value given twice\n",
     "\n",
     ["ctest:ops_reference"]),
    ("relu-mask-not-applied", "src/execution/backward_step.cpp",
     "    if (masks_.at(index)) masks_[index]->apply(rt, *op.output);\n",
     "    (void)masks_.at(index);\n",
     ["ctest:ops_reference"]),
    ("batch-split-gradient-sum", "src/core/batch_split.cpp",
     "        for (const float* o : others) sum += o[i];\n", "\n",
     ["ctest:batch_split"]),
    ("batch-split-loss-weighting", "src/core/batch_split.cpp",
     "        const float share = float(copy->batch()) / float(first_.back());\n",
     "        const float share = 0.5f;\n",
     ["ctest:batch_split"]),
    # SGD as torch.optim.SGD.
    ("sgd-nesterov-ignored", "src/train/sgd.cpp",
     "            d = nesterov ? d + mu * buf[i] : buf[i];\n", "            d = buf[i];\n",
     ["ctest:sgd"]),
    ("sgd-weight-decay-dropped", "src/train/sgd.cpp",
     "        float d = g[i] + wd * p[i];\n", "        float d = g[i];\n",
     ["ctest:sgd"]),
    ("sgd-momentum-dropped", "src/train/sgd.cpp",
     "            buf[i] = first ? d : mu * buf[i] + d;\n", "            buf[i] = d;\n",
     ["ctest:sgd"]),
    # The loss's gradient.
    ("loss-gradient-not-averaged", "src/ops/loss.cpp",
     "                d[j] = float((std::exp(double(z[j]) - log_sum) - (j == y ? 1.0 : 0.0)) / n);\n",
     "                d[j] = float((std::exp(double(z[j]) - log_sum) - (j == y ? 1.0 : 0.0)));\n",
     ["ctest:ops_pytorch"]),
    # Dropout's key: the batch split's copies read the whole net's RunState (its seed and step);
    # drawn from the run's step, which a checkpoint restores, not from something a new process
    # starts again (a counter).
    ("copies-keep-their-own-run-state", "src/core/batch_split.cpp",
     "        copy->state_ = whole.state_;\n", "\n",
     ["ctest:batch_split"]),
    ("dropout-key-from-a-process-counter", "src/ops/dropout.cpp",
     "        const uint64_t key = splitmix64(splitmix64(rt.state.seed) ^ splitmix64(rt.state.step) ^ splitmix64(~salt_));\n",
     "        const uint64_t key = splitmix64(splitmix64(rt.state.seed) ^ splitmix64([] { static uint64_t calls = 0; return calls++ / 2; }()) ^ splitmix64(~salt_));\n",
     ["cli:Cli.test_resume_of_a_net_with_dropout_gives_the_same_weights"]),
    # Resume's random state for an image folder: the epoch a resumed epoch's transforms are drawn by.
    ("augmentation-epoch-off-on-resume", "src/data/image_folder.cpp",
     "    epoch_ = epoch;\n", "    epoch_ = epoch - (first_batch > 0);\n",
     ["cli:Cli.test_resume_on_an_image_folder_with_augmentation_gives_the_same_weights"]),
    # ReLU masks handed on through concatenation and pooling; the memory plan's overlap test.
    ("relu-mask-hand-on", "src/passes/fusion.cpp",
     "        for (ValueId in : op.inputs) producer[size_t(in)]->relu_mask = ReluMask::handed_on;\n",
     "        for (ValueId in : op.inputs) producer[size_t(in)]->relu_mask = ReluMask::none;\n",
     ["ctest:passes", "ctest:ops_reference"]),
    ("memory-plan-lifetimes-that-meet", "src/passes/memory_plan.cpp",
     "            if (p->first <= l->last && l->first <= p->last) taken.emplace_back(p->offset, p->offset + p->size);\n",
     "            if (p->first < l->last && l->first < p->last) taken.emplace_back(p->offset, p->offset + p->size);\n",
     ["ctest:passes"]),
    # Fault paths: a NaN right after resume, batch norm's statistics after a NaN, fewer OpenMP
    # threads than planned, the loader's thread, a layer too large for an int.
    ("nan-after-resume-saves-zeros", "src/train/trainer.cpp",
     "                if (!have_last_good)\n", "                if (false)\n",
     ["cli:Cli.test_nan_right_after_resume_leaves_the_weights_file_intact"]),
    ("nan-keeps-bad-batch-norm-statistics", "src/train/trainer.cpp",
     "                if (buffers_before.size() > 0)\n                    std::memcpy(net.params().buffers().data(), buffers_before.data(), buffers_before.size() * sizeof(float));\n",
     "\n",
     ["cli:Cli.test_nan_restores_batch_norm_statistics_of_the_last_good_step"]),
    ("engine-ignores-the-thread-limit", "src/core/net.cpp",
     "    keep_threads_within_the_limit();  // before any primitive is made\n", "\n",
     ["ctest:batch_split_thread_limit"]),
    ("resolve-threads-ignores-the-limit", "src/core/options.cpp",
     "    return std::min(threads, omp_get_thread_limit());\n", "    return threads;\n",
     ["cli:Cli.test_fewer_openmp_threads_than_asked_run_on_those_granted"]),
    ("threads-ignore-omp-num-threads", "src/core/options.cpp",
     "        threads = valid ? int(n) : omp_get_num_procs();\n", "        threads = omp_get_num_procs();\n",
     ["conventions:Conventions.test_short_flags_and_threads_from_openmp"]),
    ("loader-thread-exception-escapes", "src/data/batch_loader.cpp",
     "} catch (...) {\n    std::exception_ptr error = std::current_exception();\n",
     "} catch (const Error&) {\n    std::exception_ptr error = std::current_exception();\n",
     ["ctest:data"]),
    ("param-size-unchecked", "src/core/params.cpp",
     "        if (d < 0 || (d > 0 && int64_t(p.size) > kMaxParamSize / d))\n",
     "        if (d < 0)\n",
     ["ctest:model_file"]),
    # The linear layer reading a blocked map (torchvision's heads) through an NCHW copy, not oneDNN's
    # reference kernel.
    ("linear-reads-the-blocked-map-itself", "src/ops/linear.cpp",
     "            src_ = desc_of(s, Layout::nchw);\n",
     "            src_ = desc_of(*inputs[0]);\n",
     ["cli:Cli.test_bench_profile_warns_about_slow_ops"]),
    # The command line's conventions (issue 24): weights that know their model, file versions,
    # config files, exit statuses, where progress goes, bench statistics.
    ("weights-model-mismatch-unchecked", "src/models/model_file.cpp",
     "    if (network_of(given.text, given.source) != network_of(own.text, own.source))\n", "    if (false)\n",
     ["ctest:io", "conventions:Conventions.test_weights_know_their_model"]),
    ("later-format-version-accepted", "src/io/safetensors.cpp",
     "    if (std::stoi(v) > kFileFormatVersion)\n", "    if (std::stoi(v) > kFileFormatVersion + 1)\n",
     ["ctest:io"]),
    ("config-file-wins-over-flags", "src/cli/config_file.cpp",
     "    out.insert(out.end(), flags.begin(), flags.end());\n    out.insert(out.end(), command + 1, args.end());\n",
     "    out.insert(out.end(), command + 1, args.end());\n    out.insert(out.end(), flags.begin(), flags.end());\n",
     ["conventions:Conventions.test_a_config_file_repeats_a_run"]),
    ("config-shuffle-not-negated", "src/cli/config_file.cpp",
     '            s.value = s.value == "true" ? "false" : "true";\n', '            s.value = s.value == "true" ? "true" : "false";\n',
     ["conventions:Conventions.test_a_config_file_repeats_a_run"]),
    ("usage-errors-keep-cli11-codes", "src/cli/main.cpp",
     "        return app.exit(e) == 0 ? kSuccess : kUsageError;\n", "        return app.exit(e);\n",
     ["conventions:Conventions.test_exit_statuses"]),
    ("plain-progress-on-stdout", "src/cli/train.cpp",
     '            std::fprintf(stderr, "epoch %d/%d batch %d/%d: loss %.4f, train acc %.4f, lr %.4g, %.1f img/s, %.1f s\\n",\n',
     '            std::fprintf(stdout, "epoch %d/%d batch %d/%d: loss %.4f, train acc %.4f, lr %.4g, %.1f img/s, %.1f s\\n",\n',
     ["conventions:Conventions.test_progress_goes_to_stderr_as_asked"]),
    ("bench-p90-one-rank-high", "src/train/bench.cpp",
     "    r.ms_p90 = ms[size_t(std::ceil(0.9 * double(ms.size()))) - 1];\n",
     "    r.ms_p90 = ms[std::min(ms.size() - 1, size_t(std::ceil(0.9 * double(ms.size()))))];\n",
     ["conventions:Conventions.test_bench_statistics_and_time_bound"]),
    # The core redesign (issue 19): one shape rule, engine options instead of the environment.
    ("ceil-mode-window-may-start-in-padding", "include/googlenet/shape_rules.h",
     "    if (ceil_mode && (out - 1) * stride >= in + pad_begin) --out;\n", "\n",
     ["ctest:model"]),
    ("winograd-max-tile-ignored", "src/ops/winograd.cpp",
     "    const int largest = std::min(max_tile, kLargestTile);\n", "    const int largest = kLargestTile;\n",
     ["ctest:model"]),
    ("layout-option-ignored", "src/core/net_plan.cpp",
     "    std::vector<Layout> layouts = googlenet::choose_layouts(graph_, fused_, options_.layout, channel_block());\n",
     "    std::vector<Layout> layouts = googlenet::choose_layouts(graph_, fused_, Layout::blocked, channel_block());\n",
     ["ctest:model"]),
    ("engine-options-not-kept-with-the-run", "src/train/checkpoint.cpp",
     "    f.optional(\"winograd_max_tile\", c.engine.winograd_max_tile);\n", "\n",
     ["conventions:Conventions.test_engine_options_are_flags_kept_with_the_run"]),
    # The graph as data: shapes from the graph alone, and each node's flags carried to its op.
    ("graph-ceil-mode-dropped", "src/graph/graph.cpp",
     "                         window_positions(x.h, a.kernel_h, a.stride, a.pad, a.ceil_mode),\n",
     "                         window_positions(x.h, a.kernel_h, a.stride, a.pad),\n",
     ["ctest:model"]),
    ("node-auxiliary-flag-lost", "src/core/net.cpp",
     "        op->auxiliary = nodes[i].auxiliary;\n", "\n",
     ["ctest:paper_pytorch"]),
    # A model file of a later format version.
    ("later-model-format-accepted", "src/models/model_file.cpp",
     "        if (version > kModelFormatVersion)\n", "        if (version > kModelFormatVersion + 1)\n",
     ["ctest:model_file"]),
    # The passes: fusion of a ReLU whose input is read elsewhere, and an activation a backward
    # step reads (its op saved it) freed when forward is done with it.
    ("layout-chain-not-unified", "src/passes/layout.cpp",
     "            if (!keeps_layout || in == out) continue;\n", "            if (true) continue;\n",
     ["ctest:passes", "ctest:ops_reference"]),
    ("fusion-ignores-other-readers", "src/passes/fusion.cpp",
     "            if (producer && readers[size_t(v)] == 1 && v != g.output() && !producer->fused_relu &&\n",
     "            if (producer && v != g.output() && !producer->fused_relu &&\n",
     ["ctest:passes"]),
    ("lifetimes-forget-saved-values", "src/passes/lifetimes.cpp",
     "        for (ValueId v : op.saved) lives[index.at(v)].last = std::max(lives[index.at(v)].last, end - 1 - i);\n",
     "\n",
     ["ctest:passes"]),
    # bf16: the fused ReLU, the input's conversion, one type per pool and concatenation, and the
    # stem left in fp32; in training, the sum of a bf16 gradient's readers and its rounding, the
    # input gradient's reorder out of NHWC, the plan made again between training and evaluation;
    # the global pool kept channels-last.
    ("bf16-conv-drops-its-relu", "src/ops/conv.cpp",
     "            dnnl::algorithm::convolution_direct, src_, wei_any, bias_md_, dst_, strides, pad, pad, relu_attr());\n",
     "            dnnl::algorithm::convolution_direct, src_, wei_any, bias_md_, dst_, strides, pad, pad);\n",
     ["ctest:googlenet_pytorch"]),
    ("bf16-input-not-converted", "src/ops/conv.cpp",
     "        to_bf16_ = Plain(rt, in_md_, src_, 0);\n", "        to_bf16_ = Plain();\n",
     ["ctest:bf16"]),
    # int8: the weights' per-channel scale, the output's scale, the fused ReLU, one scale across a
    # concatenation, calibration's range, an f32 input's conversion to codes.
    ("int8-weight-scale-per-tensor", "src/ops/conv_int8.cpp",
     "        const float s = weight_scale(w, per_channel, limit);\n",
     "        const float s = weight_scale(weights, per_channel, limit);\n",
     ["ctest:int8"]),
    ("int8-output-scale-dropped", "src/ops/conv_int8.cpp",
     "    if (int8_dst_) args[DNNL_ARG_ATTR_SCALES | DNNL_ARG_DST] = rt.mem(scalar, &dst_scale_);\n", "",
     ["ctest:int8"]),
    ("int8-relu-dropped", "src/ops/conv_int8.cpp",
     "    if (relu) {\n", "    if (false) {\n",
     ["ctest:int8"]),
    ("int8-concat-scales-not-shared", "src/passes/precision.cpp",
     "            if (types[size_t(in)] == DataType::u8) group[root(size_t(in))] = root(size_t(op.output));\n",
     "            (void)in;\n",
     ["ctest:int8"]),
    ("int8-calibration-first-batch-only", "src/quant/calibrate.cpp",
     "    for (int first = 0; first < n; first += batch) {\n",
     "    for (int first = 0; first < std::min(n, batch); first += batch) {\n",
     ["ctest:int8"]),
    ("int8-calibration-observes-before-the-op-runs", "src/execution/sequential.cpp",
     "            op.forward(rt);\n            rt.stream.wait();\n            observe(*op.output);\n",
     "            observe(*op.output);\n            op.forward(rt);\n            rt.stream.wait();\n",
     ["ctest:int8"]),
    ("int8-weight-range-not-reduced-without-vnni", "src/core/precision.cpp",
     "    return vnni ? 127 : 63;\n", "    return vnni || isa != cpu_isa::isa_default ? 127 : 63;\n",
     ["ctest:int8_without_vnni"]),
    ("int8-signed-input-without-zero-point", "src/ops/conv_int8.cpp",
     "    if (zero_point_) attr.set_zero_points_mask(DNNL_ARG_SRC, 0);\n", "",
     ["ctest:int8"]),
    ("int8-input-codes-unscaled", "src/ops/conv_int8.cpp",
     "        attr.set_scales_mask(DNNL_ARG_DST, 0);\n        if (zero_point_)", "        if (zero_point_)",
     ["ctest:int8"]),
    # The plan hands each op the arithmetic the precision pass chose: dropped, no convolution runs bf16.
    ("op-compute-not-handed-on", "src/core/net_plan.cpp",
     "    for (size_t i = 0; i < fused_.size(); ++i) program_->ops[i]->compute = fused_[i].compute;\n", "",
     ["ctest:bf16", "ctest:googlenet_pytorch"]),
    ("bf16-pool-and-concat-types-mixed", "src/passes/precision.cpp",
     "            if (same) continue;\n", "            continue;\n",
     ["ctest:bf16"]),
    ("bf16-one-channel-stem-in-training", "src/core/precision.cpp",
     "    return training ? 3 : 1;\n", "    return 1;\n",
     ["ctest:bf16"]),
    ("auxiliaries-planned-in-evaluation", "src/core/net_plan.cpp",
     "    if (!state_->training) drop_auxiliaries(graph_, fused);\n", "\n",
     ["ctest:bf16"]),
    ("auxiliaries-dropped-in-training", "src/core/net_plan.cpp",
     "    if (!state_->training) drop_auxiliaries(graph_, fused);\n", "    drop_auxiliaries(graph_, fused);\n",
     ["ctest:torchvision_pytorch"]),
    ("bf16-gradient-sum-drops-the-later", "src/execution/backward_step.cpp",
     "    for (long k = 0; k < n; ++k) g[k] = to_bf16(from_bf16(g[k]) + from_bf16(l[k]));\n",
     "    for (long k = 0; k < n; ++k) g[k] = to_bf16(from_bf16(g[k]));\n",
     ["ctest:googlenet_pytorch"]),
    ("bf16-rounds-toward-zero", "src/core/bf16.h",
     "    bits += 0x7FFFu + ((bits >> 16) & 1u);\n", "\n",
     ["ctest:bf16"]),
    ("bf16-input-gradient-left-nhwc", "src/ops/conv.cpp",
     "            from_nhwc_ = grad_src_ != diff_src_nhwc_\n", "            from_nhwc_ = false\n",
     ["ctest:bf16"]),
    ("bf16-no-new-plan-after-evaluation", "src/core/net.cpp",
     "           (!plans_by_mode() || planned_training_ == state_->training) &&\n", "           (!plans_by_mode() || true) &&\n",
     ["ctest:bf16"]),
    ("bf16-paths-one-after-another", "src/core/net.cpp",
     "    return options_.parallel == Parallel::batch && !state_->training && threads > 1 && n < kSplitMinImages * threads;\n",
     "    return options_.parallel == Parallel::batch && !state_->training && threads > 1 && n < kSplitMinImages * threads &&\n"
     "           options_.precision != Precision::bf16;\n",
     ["ctest:paths"]),
    ("pool-inference-primitive-in-training", "src/ops/pool.cpp",
     "        if (!rt.state.training) return fwd_inference_.execute(rt.stream, args);\n",
     "        if (true) return fwd_inference_.execute(rt.stream, args);\n",
     ["ctest:googlenet_pytorch"]),
    ("bf16-batch-norm-stays-f32", "src/passes/precision.cpp",
     "               (k == OpAttributes::max_pool || k == OpAttributes::concat || k == OpAttributes::batch_norm ||\n",
     "               (k == OpAttributes::max_pool || k == OpAttributes::concat ||\n",
     ["ctest:bf16"]),
    ("bf16-batch-norm-on-partial-blocks", "src/passes/precision.cpp",
     "        const bool norm_kernel = k != OpAttributes::batch_norm || g.shape(op.output).c % 16 == 0;\n",
     "        const bool norm_kernel = true;\n",
     ["ctest:bf16"]),
    ("bf16-global-pool-back-to-blocked", "src/passes/precision.cpp",
     "        if (k == OpAttributes::conv || k == OpAttributes::max_pool || k == OpAttributes::avg_pool ||\n",
     "        if (k == OpAttributes::conv || k == OpAttributes::max_pool ||\n",
     ["ctest:bf16"]),
    ("bf16-fp32-conv-from-nhwc-to-blocked", "src/passes/precision.cpp",
     "        if (k == OpAttributes::conv || k == OpAttributes::max_pool || k == OpAttributes::avg_pool ||\n",
     "        if (k == OpAttributes::max_pool || k == OpAttributes::avg_pool ||\n",
     ["ctest:bf16"]),
    # Batch norm folded for evaluation: the fold's arithmetic, folding again for new weights, each
    # part's own channels, nothing folded in training, the fusion pass's record of the fold.
    ("fold-forgets-the-mean", "src/ops/conv.cpp",
     "            folded_b_[size_t(o)] = float((b - double(mean[o])) * s + double(shift[o]));\n",
     "            folded_b_[size_t(o)] = float(b * s + double(shift[o]));\n",
     ["ctest:fold"]),
    ("fold-drops-eps", "src/ops/conv.cpp",
     "            const double s = double(scale[o]) / std::sqrt(double(var[o]) + double(norm_.eps));\n",
     "            const double s = double(scale[o]) / std::sqrt(double(var[o]));\n",
     ["ctest:fold"]),
    ("fold-kept-for-new-weights", "src/ops/conv.cpp",
     "        if (!folded_ready_ || folded_epoch_ != rt.state.weights_epoch) {\n",
     "        if (!folded_ready_) {\n",
     ["ctest:fold"]),
    ("fold-part-channels-from-zero", "src/ops/conv.cpp",
     "            fold(rt, q.first, q.first + q.channels);\n",
     "            fold(rt, 0, q.channels);\n",
     ["ctest:fold"]),
    ("fold-in-training-too", "src/core/net_plan.cpp",
     "    std::vector<FusedOp> fused = fuse_ops(graph_, !state_->training && options_.fold_batch_norm);\n",
     "    std::vector<FusedOp> fused = fuse_ops(graph_, options_.fold_batch_norm);\n",
     ["ctest:fold"]),
    ("fold-not-recorded", "src/passes/fusion.cpp",
     "                    producer->folded_norm = int(op.node);\n",
     "\n",
     ["ctest:passes", "ctest:fold"]),
    ("batch-norm-relu-not-applied", "src/ops/batchnorm.cpp",
     "        const auto train_flags = flags::use_scale | flags::use_shift | (relu_ ? flags::fuse_norm_relu : flags::none);\n",
     "        const auto train_flags = flags::use_scale | flags::use_shift;\n",
     ["ctest:ops_reference"]),
    ("export-of-a-folded-plan", "src/onnx/export.cpp",
     "                if (a.folded_norm)\n", "                if (false)\n",
     ["ctest:fold"]),
    ("batch-norm-net-no-new-plan-after-evaluation", "src/core/net.cpp",
     "    return options_.precision == Precision::bf16 || options_.precision == Precision::int8 || has_batch_norm() ||\n",
     "    return options_.precision == Precision::bf16 || options_.precision == Precision::int8 ||\n",
     ["ctest:fold"]),
    ("auxiliary-net-no-new-plan-after-evaluation", "src/core/net.cpp",
     "           !graph_.auxiliaries().empty();\n",
     "           false;\n",
     ["ctest:paper_pytorch"]),
]


def sh(cmd, cwd=ROOT, timeout=None, env=None):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def targets_for(tests):
    """The build targets a mutant's tests need: a C++ test's executable, or the command for the rest."""
    out = set()
    for t in tests:
        kind, what = t.split(":", 1)
        out.add(f"test_{TEST_EXECUTABLES.get(what, what)}" if kind == "ctest" and what not in PYTHON_TESTS else "googlenet_cli")
    return sorted(out)


# CTest tests that are scripts run against the command, not C++ test executables.
PYTHON_TESTS = {"cli", "conventions", "onnx", "mpi", "winograd_tables", "pytorch_fixtures"}
# CTest tests that run another test's executable (a case of it, in another environment).
TEST_EXECUTABLES = {"batch_split_thread_limit": "batch_split", "int8_without_vnni": "int8"}


def build(build_dir, targets=None):
    prefix = sorted(glob.glob(os.path.join(ROOT, ".deps", "onednn-*")))
    if not prefix:
        sys.exit("mutants.py: no .deps/onednn-*: run scripts/setup.sh first")
    if not os.path.exists(os.path.join(build_dir, "CMakeCache.txt")):
        p = sh(["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release", f"-DCMAKE_PREFIX_PATH={prefix[-1]}",
                "-DGOOGLENET_MPI=ON"])
        if p.returncode:
            sys.exit(p.stdout + p.stderr)
    return sh(["cmake", "--build", build_dir, "-j", str(os.cpu_count()), *(["--target", *targets] if targets else [])])


def run_test(test, build_dir, timeout, log):
    """Runs one test against the mutated build; its output goes to `log`."""
    kind, what = test.split(":", 1)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    try:
        if kind == "ctest":
            p = sh(["ctest", "-R", f"^{what}$", "--output-on-failure", "--timeout", str(timeout)], cwd=build_dir,
                   timeout=timeout + 120, env=env)
            ran = "No tests were found" not in p.stdout + p.stderr
        elif kind in ("cli", "conventions"):
            script = {"cli": "cli_test.py", "conventions": "conventions_test.py"}[kind]
            p = sh(["/usr/bin/python3", os.path.join(ROOT, "tests", script), os.path.join(build_dir, "googlenet"), what],
                   timeout=timeout, env=env)
            ran = "Ran 1 test" in p.stderr
        else:
            raise ValueError(f"unknown kind of test '{test}'")
    except subprocess.TimeoutExpired:
        return "killed (timed out)"
    with open(log, "a") as f:
        f.write(f"$ {test} (exit status {p.returncode})\n{p.stdout}\n{p.stderr}\n")
    if not ran:
        return "no such test"
    return "killed" if p.returncode != 0 else "survived"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--list", action="store_true", help="list the mutants and the tests that kill them")
    ap.add_argument("--only", help="comma-separated mutant names")
    ap.add_argument("--full", action="store_true", help="run the whole CTest suite for each mutant")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build-mutants"))
    ap.add_argument("--timeout", type=int, default=900, help="seconds per test run")
    a = ap.parse_args()
    mutants = list(MUTANTS)
    if a.only:
        wanted = a.only.split(",")
        unknown = set(wanted) - {m[0] for m in mutants}
        if unknown:
            sys.exit(f"mutants.py: no mutant {', '.join(sorted(unknown))}")
        mutants = [m for m in mutants if m[0] in wanted]
    if a.list:
        for name, path, old, new, tests in mutants:
            print(f"{name}\n  {path}: {old.strip()!r}\n    -> {new.strip()!r}\n  killed by: {', '.join(tests)}")
        return 0
    print("building the unmutated tree ...", flush=True)
    p = build(a.build_dir)
    if p.returncode:
        sys.exit("mutants.py: the unmutated tree does not build:\n" + p.stdout[-3000:] + p.stderr[-3000:])
    sh(["ctest", "-R", "^pytorch_fixtures$"], cwd=a.build_dir)  # the fixtures, once
    # A kill means something only if the test passes without the mutant.
    if not a.full:
        for test in sorted({t for m in mutants for t in m[4]}):
            r = run_test(test, a.build_dir, a.timeout, os.path.join(a.build_dir, "mutant-baseline.log"))
            if r != "survived":
                sys.exit(f"mutants.py: {test} does not pass on the unmutated tree ({r}); see {a.build_dir}/mutant-baseline.log")
        print("every test the list names passes on the unmutated tree", flush=True)
    results, failures = [], 0
    for name, path, old, new, tests in mutants:
        full = os.path.join(ROOT, path)
        original = open(full).read()
        t0 = time.time()
        if original.count(old) != 1:
            results.append((name, f"TOOL FAILURE: the line is in {path} {original.count(old)} times, not once", ""))
            failures += 1
            print(f"{name}: {results[-1][1]}", flush=True)
            continue
        log = os.path.join(a.build_dir, f"mutant-{name}.log")  # what the tests printed, to see why they failed
        if os.path.exists(log):
            os.remove(log)
        try:
            with open(full, "w") as f:
                f.write(original.replace(old, new))
            p = build(a.build_dir, None if a.full else targets_for(tests))
            if p.returncode:
                outcome, by = "TOOL FAILURE: does not compile", ""
            else:
                outcome, by = "survived", ""
                for test in (["ctest:.*"] if a.full else tests):
                    if test == "ctest:.*":
                        q = sh(["ctest", "-j", str(os.cpu_count()), "--timeout", str(a.timeout)], cwd=a.build_dir,
                               timeout=a.timeout * 4)
                        r = "killed" if q.returncode else "survived"
                    else:
                        r = run_test(test, a.build_dir, a.timeout, log)
                    if r == "no such test":
                        outcome, by = f"TOOL FAILURE: no test {test}", ""
                        break
                    if r.startswith("killed"):
                        outcome, by = r, test
                        break
        finally:
            with open(full, "w") as f:
                f.write(original)
        if outcome != "killed" and not outcome.startswith("killed"):
            failures += 1
        results.append((name, outcome, by))
        print(f"{name}: {outcome}{' by ' + by if by else ''} ({time.time() - t0:.0f} s)", flush=True)
    build(a.build_dir)  # leave the build as the tree is
    print(f"\n{sum(r[1].startswith('killed') for r in results)} of {len(results)} mutants killed; what each test printed "
          f"is in {a.build_dir}/mutant-NAME.log")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
