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

struct Options {
    int threads = 0;  // OpenMP threads; 0: OpenMP's own count (resolve_threads says which)
    Parallel parallel = Parallel::ops;
    Layout layout = Layout::blocked;  // of the activations (the input image stays NCHW)
    // The largest Winograd tile m of F(m x m, r x r) convolutions may use (2, 3, 4 or 6); 0: the
    // direct convolutions only. Below 6 the cost model picks among the smaller tiles.
    int winograd_max_tile = 6;
};

inline bool operator==(const Options& a, const Options& b) {
    return a.threads == b.threads && a.parallel == b.parallel && a.layout == b.layout &&
           a.winograd_max_tile == b.winograd_max_tile;
}
inline bool operator!=(const Options& a, const Options& b) { return !(a == b); }

// The names the command line and config.json use ("ops", "batch"; "nchw", "nhwc", "blocked").
std::string to_string(Parallel p);
std::string to_string(Layout l);
// Throw googlenet::Error naming `what` (e.g. "--parallel") and the accepted values.
Parallel parse_parallel(const std::string& name, const std::string& what = "--parallel");
Layout parse_layout(const std::string& name, const std::string& what = "--layout");
// Throws googlenet::Error for a value out of range (a tile oneDNN's transforms do not have).
void validate(const Options& o);

// The threads a run with `threads` (Options::threads) gets: OMP_NUM_THREADS where set (read as
// OpenMP reads it), else every core; at most OMP_THREAD_LIMIT.
int resolve_threads(int threads);
// `o` with its thread count resolved so.
Options resolved(Options o);

}  // namespace googlenet
