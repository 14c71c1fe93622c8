#include "googlenet/options.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>

#include "googlenet/error.h"

namespace googlenet {

std::string to_string(Parallel p) { return p == Parallel::batch ? "batch" : "ops"; }

std::string to_string(Layout l) {
    switch (l) {
        case Layout::nchw: return "nchw";
        case Layout::nhwc: return "nhwc";
        case Layout::blocked: return "blocked";
    }
    return "?";
}

std::string to_string(Precision p) {
    switch (p) {
        case Precision::fp32: return "fp32";
        case Precision::bf16: return "bf16";
        case Precision::automatic: return "auto";
        case Precision::int8: return "int8";
    }
    return "?";
}

Precision parse_precision(const std::string& name, const std::string& what) {
    for (Precision p : {Precision::fp32, Precision::bf16, Precision::automatic, Precision::int8})
        if (name == to_string(p)) return p;
    throw Error(what + " must be fp32, bf16, auto or int8, not '" + name + "'");
}

Parallel parse_parallel(const std::string& name, const std::string& what) {
    if (name == "batch") return Parallel::batch;
    if (name == "ops") return Parallel::ops;
    throw Error(what + " must be batch or ops, not '" + name + "'");
}

Layout parse_layout(const std::string& name, const std::string& what) {
    for (Layout l : {Layout::nchw, Layout::nhwc, Layout::blocked})
        if (name == to_string(l)) return l;
    throw Error(what + " must be nchw, nhwc or blocked, not '" + name + "'");
}

void validate(const Options& o) {
    if (o.threads < 0) throw Error("--threads must be at least 0, not " + std::to_string(o.threads));
    const int m = o.winograd_max_tile;
    if (m != 0 && m != 2 && m != 3 && m != 4 && m != 6)
        throw Error("--winograd-max-tile must be 0 (off), 2, 3, 4 or 6, not " + std::to_string(m));
}

int resolve_threads(int threads) {
    if (threads <= 0) {
        // OpenMP's own variable, read as OpenMP reads it: the first number of the list (the outer
        // level's); a value that is no count is ignored here as OpenMP ignores it.
        const char* env = std::getenv("OMP_NUM_THREADS");
        char* end = nullptr;
        const long n = env ? std::strtol(env, &end, 10) : 0;
        const bool valid = env && end != env && (*end == '\0' || *end == ',' || *end == ' ') && n > 0 && n < 1 << 20;
        threads = valid ? int(n) : omp_get_num_procs();
    }
    return std::min(threads, omp_get_thread_limit());
}

Options resolved(Options o) {
    o.threads = resolve_threads(o.threads);
    return o;
}

}  // namespace googlenet
