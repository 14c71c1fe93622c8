// The one place that sets OpenMP's thread count. oneDNN shares a primitive's work out to
// omp_get_max_threads() threads when the primitive is made, so what runs on one thread beside
// others (a copy of a split batch, a path side by side) must be made and run inside a
// OneThread scope, and everything else with the Net's count.
#pragma once
#include <omp.h>

#include <algorithm>
#include <string>

namespace googlenet {

// The threads a parallel region gets: omp_get_max_threads() does not count OMP_THREAD_LIMIT,
// and the batch split and the paths side by side need every thread they plan for.
inline int usable_threads() { return std::max(1, std::min(omp_get_max_threads(), omp_get_thread_limit())); }

// The count later parallel regions and primitives get (Options::threads; 0 leaves OpenMP's own).
inline void set_thread_count(int threads) {
    if (threads > 0) omp_set_num_threads(threads);
}

// Lowers OpenMP's thread count to OMP_THREAD_LIMIT where it is above it. oneDNN shares a
// primitive's work out to omp_get_max_threads() threads when it is made; run on fewer, the
// missing threads' part is never computed. Only the count OpenMP would use anyway is set.
inline void keep_threads_within_the_limit() {
    if (omp_get_max_threads() > omp_get_thread_limit()) omp_set_num_threads(omp_get_thread_limit());
}

// Within the scope, the calling thread makes and runs primitives for itself alone; the count
// before it comes back at the end.
class OneThread {
public:
    OneThread(bool on = true) : on_(on), before_(omp_get_max_threads()) {  // NOLINT: OneThread alone(cond)
        if (on_) omp_set_num_threads(1);
    }
    ~OneThread() {
        if (on_) omp_set_num_threads(before_);
    }
    OneThread(const OneThread&) = delete;
    OneThread& operator=(const OneThread&) = delete;

private:
    bool on_;
    int before_;
};

// Whether the parallel region this is called in got the `wanted` threads its work was divided
// into; if not (OpenMP may give fewer, e.g. with OMP_DYNAMIC), the error to throw says so.
inline std::string missing_threads(int wanted) {
    const int got = omp_get_num_threads();
    if (got == wanted) return "";
    return "OpenMP ran " + std::to_string(got) + " of the " + std::to_string(wanted) +
           " threads this work was shared out to (OMP_THREAD_LIMIT, OMP_DYNAMIC?); ask for fewer with --threads";
}

}  // namespace googlenet
