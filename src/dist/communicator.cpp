// The MPI side of data-parallel training. Built without MPI (GOOGLENET_WITH_MPI undefined) every
// call degenerates to the one-rank case.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "googlenet/distributed.h"
#include "googlenet/params.h"
#include "googlenet/tensor.h"
#include "googlenet/net.h"

#ifdef GOOGLENET_WITH_MPI
#include <mpi.h>
#endif

namespace googlenet {
namespace {

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// Launched by mpirun (Open MPI sets OMPI_COMM_WORLD_SIZE; PMIx launchers set PMIX_RANK).
bool launched_by_mpi() { return std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMIX_RANK") || std::getenv("PMI_RANK"); }

}  // namespace

bool Communicator::available() {
#ifdef GOOGLENET_WITH_MPI
    return true;
#else
    return false;
#endif
}

std::string Communicator::library_version() {
#ifdef GOOGLENET_WITH_MPI
    // One of the few MPI calls allowed before MPI_Init.
    char text[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    if (MPI_Get_library_version(text, &length) != MPI_SUCCESS) return "unknown MPI";
    std::string s(text, size_t(length));
    s = s.substr(0, s.find_first_of("\n"));
    return s.substr(0, s.find(','));
#else
    return "";
#endif
}

Communicator& Communicator::world() {
    static Communicator instance;
    return instance;
}

Communicator::Communicator() {
#ifndef GOOGLENET_WITH_MPI
    // Several copies of a one-process build would each train alone and write the same files.
    const char* ranks = std::getenv("OMPI_COMM_WORLD_SIZE");
    if (launched_by_mpi() && (!ranks || std::atoi(ranks) > 1)) {
        std::fprintf(stderr, "googlenet: error: started by mpirun, but this build has no MPI (rebuild with Open MPI "
                             "installed, or -DGOOGLENET_MPI=ON)\n");
        std::_Exit(1);
    }
#else
    if (!launched_by_mpi()) return;
    int provided = 0;
    // Only the main thread calls MPI; the watchdog never does.
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    initialised_ = true;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    // An error inside MPI ends the job with MPI's message rather than returning codes nobody checks.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
    watchdog_ = std::thread([this] { watch(); });
#endif
}

Communicator::~Communicator() {
    stop_watch_ = true;
    if (watchdog_.joinable()) watchdog_.join();
#ifdef GOOGLENET_WITH_MPI
    if (initialised_) MPI_Finalize();
#endif
}

void Communicator::set_timeout(double seconds) { timeout_ = seconds; }

void Communicator::collective_started() {
    if (busy_since_ns_.load() == 0) busy_since_ns_ = now_ns();
}

void Communicator::collective_finished() { busy_since_ns_ = 0; }

// MPI has no timeout of its own: a rank that waits in a collective for a peer that hangs (or is
// stopped) would wait for ever. This thread notices and exits the process, which mpirun turns
// into the end of the whole job.
void Communicator::watch() {
    while (!stop_watch_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        const int64_t since = busy_since_ns_.load();
        const double limit = timeout_.load();
        if (since == 0 || limit <= 0) continue;
        const double waited = double(now_ns() - since) * 1e-9;
        if (waited > limit) {
            std::fprintf(stderr,
                         "googlenet: rank %d: error: no answer from the other ranks for %.0f s (--comm-timeout); "
                         "a rank has died or hangs. Ending the job; resume from the last checkpoint with "
                         "googlenet train --resume\n",
                         rank_, waited);
            std::fflush(stderr);
            std::_Exit(3);
        }
    }
}

void Communicator::allreduce_sum(double* data, int count) {
    if (!distributed()) return;
#ifdef GOOGLENET_WITH_MPI
    collective_started();
    MPI_Allreduce(MPI_IN_PLACE, data, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    collective_finished();
#else
    (void)data, (void)count;
#endif
}

void Communicator::broadcast(float* data, size_t count) {
    if (!distributed() || count == 0) return;
#ifdef GOOGLENET_WITH_MPI
    collective_started();
    for (size_t done = 0; done < count;) {  // MPI counts are int
        const int n = int(std::min<size_t>(count - done, size_t(1) << 30));
        MPI_Bcast(data + done, n, MPI_FLOAT, 0, MPI_COMM_WORLD);
        done += size_t(n);
    }
    collective_finished();
#else
    (void)data, (void)count;
#endif
}

bool Communicator::same_on_all_ranks(uint64_t value) {
    if (!distributed()) return true;
#ifdef GOOGLENET_WITH_MPI
    uint64_t lo = value, hi = value;
    collective_started();
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    collective_finished();
    return lo == hi;
#else
    (void)value;
    return true;
#endif
}

void Communicator::abort(const std::string& message, int status) {
    std::fflush(stdout);
    if (distributed())
        std::fprintf(stderr, "googlenet: rank %d: %s\n", rank_, message.c_str());
    else
        std::fprintf(stderr, "googlenet: %s\n", message.c_str());
    std::fflush(stderr);
#ifdef GOOGLENET_WITH_MPI
    if (distributed()) MPI_Abort(MPI_COMM_WORLD, status);
#endif
    std::_Exit(status);
}

// ---- GradientSync ----

struct GradientSync::Requests {
#ifdef GOOGLENET_WITH_MPI
    std::vector<MPI_Request> list;
#endif
};

GradientSync::GradientSync(Communicator& comm, ParamStore& params, size_t bucket_floats)
    : comm_(comm), params_(params), requests_(std::make_unique<Requests>()) {
    const int n = int(params.list().size());
    bucket_of_param_.assign(size_t(n), -1);
    // Backward finishes the parameters roughly from the last registered to the first, and each
    // bucket must be one contiguous range of the arena: walk them backwards.
    for (int i = n - 1; i >= 0; --i) {
        const Param& p = params.param(i);
        if (buckets_.empty() || buckets_.back().end - buckets_.back().begin >= bucket_floats) {
            Bucket b;
            b.begin = b.end = p.offset + p.size;
            buckets_.push_back(b);
        }
        Bucket& b = buckets_.back();
        b.begin = p.offset;
        ++b.params;
        bucket_of_param_[size_t(i)] = int(buckets_.size()) - 1;
    }
#ifdef GOOGLENET_WITH_MPI
    requests_->list.assign(buckets_.size(), MPI_REQUEST_NULL);
#endif
}

GradientSync::~GradientSync() = default;

void GradientSync::begin_step(double share) {
    share_ = share;
    for (Bucket& b : buckets_) {
        b.pending = b.params;
        b.started = false;
    }
}

void GradientSync::start(Bucket& b) {
    b.started = true;
    if (!comm_.distributed()) return;
    float* g = params_.grads().data();
    const float s = float(share_);
    for (size_t i = b.begin; i < b.end; ++i) g[i] *= s;
#ifdef GOOGLENET_WITH_MPI
    comm_.collective_started();
    MPI_Iallreduce(MPI_IN_PLACE, g + b.begin, int(b.end - b.begin), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                   &requests_->list[size_t(&b - buckets_.data())]);
#endif
}

void GradientSync::on_op_done(const Op& op) {
    for (int i : op.param_indices()) {
        Bucket& b = buckets_[size_t(bucket_of_param_[size_t(i)])];
        if (--b.pending == 0) start(b);
    }
#ifdef GOOGLENET_WITH_MPI
    // Open MPI moves non-blocking collectives forward only inside MPI calls: poke it after each
    // op so the buckets in flight progress while backward computes.
    if (comm_.distributed()) {
        int done = 0;
        MPI_Testall(int(requests_->list.size()), requests_->list.data(), &done, MPI_STATUSES_IGNORE);
    }
#endif
}

void GradientSync::finish() {
    for (Bucket& b : buckets_)
        if (!b.started) start(b);  // a rank without images this step still takes part, with zeros
    if (!comm_.distributed()) return;
#ifdef GOOGLENET_WITH_MPI
    const auto t0 = std::chrono::steady_clock::now();
    MPI_Waitall(int(requests_->list.size()), requests_->list.data(), MPI_STATUSES_IGNORE);
    wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    comm_.collective_finished();
#endif
}

double GradientSync::allreduce_seconds() const {
    if (allreduce_seconds_ >= 0 || !comm_.distributed()) return std::max(allreduce_seconds_, 0.0);
#ifdef GOOGLENET_WITH_MPI
    std::vector<float> scratch(params_.total(), 1.f);
    double best = 1e30;
    for (int i = 0; i < 3; ++i) {
        comm_.collective_started();
        MPI_Barrier(MPI_COMM_WORLD);
        const auto t0 = std::chrono::steady_clock::now();
        for (const Bucket& b : buckets_)
            MPI_Allreduce(MPI_IN_PLACE, scratch.data() + b.begin, int(b.end - b.begin), MPI_FLOAT, MPI_SUM,
                          MPI_COMM_WORLD);
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        comm_.collective_finished();
    }
    allreduce_seconds_ = best;
#endif
    return std::max(allreduce_seconds_, 0.0);
}

}  // namespace googlenet
