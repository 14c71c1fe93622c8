// Every setting of the engine that is not the network itself, in one struct that the command line
// and library callers pass down (ncnn's Option). Nothing read from the environment changes these:
// only OpenMP's and oneDNN's own variables (OMP_*, ONEDNN_*) act, as those libraries define.
#pragma once
#include <string>

namespace googlenet {

// How an activation is laid out in memory. Blocked is oneDNN's nChw16c (AVX-512) or nChw8c
// (AVX2): channels in groups of the vector width, the layout its direct convolutions run on.
enum class Layout { nchw, nhwc, blocked };

// How a Net spreads its work over the threads.
//  ops:   every op runs on all threads.
//  batch: a batch of at least Net::kSplitMinImages per thread is cut into one share per thread,
//         and each thread runs its own copy of the network on its share (not for networks with
//         batch norm, whose statistics would be the shares'); in evaluation, smaller batches run
//         the Inception paths side by side, one thread each.
enum class Parallel { ops, batch };

// The arithmetic of the network.
//  fp32:      float throughout: PyTorch's numerics, results that do not depend on the CPU's bf16 units.
//  bf16:      mixed precision, in training and evaluation, as PyTorch's CPU autocast: convolutions
//             read bfloat16 inputs and weights and sum in float on oneDNN's AMX or avx512_bf16
//             kernels (forward and both backward passes), and the values between them, max pools,
//             concatenations, batch norms and ReLUs, and their gradients, are stored in bf16
//             (src/passes/precision.h);
//             the weights in the arena (the master copy SGD updates) and their gradients, the
//             image, the logits, the loss and the other ops stay float.
//  automatic: bf16 where the CPU runs it natively, else fp32 (resolve_precision).
//  int8:      inference only, with the activations' ranges the Net was given (Net::set_quantization,
//             from calibrate() in quantize.h): convolutions read u8 (or s8) activations and s8
//             weights, one scale per output channel, sum in int32 on oneDNN's VNNI or AMX kernels,
//             and write u8 codes; max pools and concatenations copy codes (one scale across each);
//             the image, the global pool, the classifier and the logits stay f32.
enum class Precision { fp32, bf16, automatic, int8 };
// In bf16, the fewest input channels a convolution needs to run bf16 (the auxiliary heads' never
// do), by what oneDNN's kernels on this CPU make worth it (docs/performance.md): with AMX, every
// convolution in evaluation, and in training those with 3 or more (the 1-channel stem's AMX
// backward-weights is slower than fp32's); without AMX, kBf16MinChannels (the stems' bf16
// kernels on avx512_core_bf16 are slower than fp32's).
constexpr int kBf16MinChannels = 16;
int bf16_min_channels(bool training);
// In int8, the fewest input channels a convolution needs to run int8: oneDNN 3.2's int8 kernels
// for the 1- and 3-channel stems are slower than its bf16 ones on AMX and its f32 ones
// (docs/performance.md), so a stem runs bf16 where bf16_min_channels(false) allows, else f32.
constexpr int kInt8MinChannels = 4;

struct Options {
    int threads = 0;  // OpenMP threads; 0: OpenMP's own count (resolve_threads says which)
    Parallel parallel = Parallel::ops;
    Layout layout = Layout::blocked;  // of the activations (the input image stays NCHW)
    // The largest Winograd tile m of F(m x m, r x r) convolutions may use (2, 3, 4 or 6); 0: the
    // direct convolutions only. Below 6 the cost model picks among the smaller tiles.
    int winograd_max_tile = 6;
    Precision precision = Precision::fp32;
    // In evaluation, each batch norm that reads only a convolution's output is folded into that
    // convolution's weights and bias (as ONNX Runtime and OpenVINO do): one op and one pass over
    // memory fewer, logits within float rounding of the unfolded pair's. Off: batch norm runs on
    // its own, as in PyTorch, and backward also works in evaluation.
    bool fold_batch_norm = true;
};

inline bool operator==(const Options& a, const Options& b) {
    return a.threads == b.threads && a.parallel == b.parallel && a.layout == b.layout &&
           a.winograd_max_tile == b.winograd_max_tile && a.precision == b.precision &&
           a.fold_batch_norm == b.fold_batch_norm;
}
inline bool operator!=(const Options& a, const Options& b) { return !(a == b); }

// The names the command line and config.json use ("ops", "batch"; "nchw", "nhwc", "blocked";
// "fp32", "bf16", "auto", "int8").
std::string to_string(Parallel p);
std::string to_string(Layout l);
std::string to_string(Precision p);
// Throw googlenet::Error naming `what` (e.g. "--parallel") and the accepted values.
Parallel parse_parallel(const std::string& name, const std::string& what = "--parallel");
Layout parse_layout(const std::string& name, const std::string& what = "--layout");
Precision parse_precision(const std::string& name, const std::string& what = "--precision");
// Throws googlenet::Error for a value out of range (a tile oneDNN's transforms do not have).
void validate(const Options& o);

// The threads a run with `threads` (Options::threads) gets: OMP_NUM_THREADS where set (read as
// OpenMP reads it), else every core; at most OMP_THREAD_LIMIT.
int resolve_threads(int threads);
// `o` with its thread count resolved so.
Options resolved(Options o);

// Whether oneDNN has kernels that compute in bf16 natively on this CPU (avx512_bf16 or AMX);
// asks oneDNN (src/core/precision.cpp, in the engine's library).
bool native_bf16();
// Precision::automatic as this CPU resolves it (bf16 where native_bf16(), else fp32); the others as
// they are. Throws Error for bf16 on a CPU without AVX-512, where oneDNN 3.2 has no bf16 convolution.
Precision resolve_precision(Precision p);

}  // namespace googlenet
