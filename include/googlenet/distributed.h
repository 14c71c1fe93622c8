// Data-parallel training over MPI. Every rank holds the whole model and computes on its own shard
// of each global batch; the gradients are summed with allreduce bucket by bucket while backward is
// still running (as PyTorch's DistributedDataParallel does), so every rank applies the same update
// and the weights stay identical.
//
// MPI is initialised only when the process was started by mpirun (or another PMIx launcher): a
// plain `googlenet train` never touches it, and a build without MPI has one rank and no-ops.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace googlenet {

class Op;
class ParamStore;

class Communicator {
public:
    // The process's place in the job; the first call initialises MPI when launched by mpirun.
    static Communicator& world();
    static bool available();  // built with MPI
    // The MPI library built in, its first line ("Open MPI v4.1.4, ..."); empty without MPI.
    static std::string library_version();

    int rank() const { return rank_; }
    int size() const { return size_; }
    bool root() const { return rank_ == 0; }
    bool distributed() const { return size_ > 1; }

    void allreduce_sum(double* data, int count);       // blocking
    void broadcast(float* data, size_t count);         // from rank 0, blocking
    bool same_on_all_ranks(uint64_t value);             // e.g. a checksum of the weights
    // Ends every rank of the job (MPI_Abort) after printing `message`; a plain process just exits.
    [[noreturn]] void abort(const std::string& message, int status = 1);

    // A collective that makes no progress for this long means another rank died or hangs: the
    // process then prints why and exits, which makes mpirun end the whole job. 0 disables it.
    void set_timeout(double seconds);
    void collective_started();
    void collective_finished();

    ~Communicator();
    Communicator(const Communicator&) = delete;
    Communicator& operator=(const Communicator&) = delete;

private:
    Communicator();
    void watch();

    int rank_ = 0, size_ = 1;
    bool initialised_ = false;
    std::atomic<double> timeout_{0};
    std::atomic<int64_t> busy_since_ns_{0};  // 0: no collective in flight
    std::atomic<bool> stop_watch_{false};
    std::thread watchdog_;
};

// Sums the gradient arena over the ranks as backward produces it. Parameters are grouped, in the
// order backward finishes them (the last layer first), into buckets of about `bucket_floats`; a
// bucket's allreduce starts as soon as the last of its parameters has its gradient, and runs
// while backward continues with earlier layers.
class GradientSync {
public:
    GradientSync(Communicator& comm, ParamStore& params, size_t bucket_floats = size_t(1) << 20);
    ~GradientSync();

    // `share`: this rank's images / the global batch's, so that the sum over ranks is the
    // gradient of the global batch's mean loss.
    void begin_step(double share);
    void on_op_done(const Op& op);  // Net::backward's hook
    void finish();                  // waits for every bucket; a rank with no images calls only this

    int buckets() const { return int(buckets_.size()); }
    double wait_seconds() const { return wait_seconds_; }  // blocked in finish(): not overlapped
    double allreduce_seconds() const;                      // one blocking allreduce of every gradient

private:
    struct Bucket {
        size_t begin = 0, end = 0;  // floats of the gradient arena
        int pending = 0, params = 0;
        bool started = false;
    };
    void start(Bucket& b);

    Communicator& comm_;
    ParamStore& params_;
    std::vector<Bucket> buckets_;
    std::vector<int> bucket_of_param_;
    struct Requests;  // MPI_Request per bucket (its type differs between MPI implementations)
    std::unique_ptr<Requests> requests_;
    double share_ = 1, wait_seconds_ = 0;
    mutable double allreduce_seconds_ = -1;
};

}  // namespace googlenet
