// A batch split over the threads (Parallel::batch): one copy of the network per thread, each
// on its share of the images, sharing the weights.
//
// Why: with every op spread over both cores, each op ends at a barrier and hands its output to
// the other core's cache; on a 2-core machine the step's time then swung widely with the
// machine's state, while two processes that shared nothing, each on half the batch, ran faster
// in both states (docs/performance.md). The copies here share the weights, the RunState and,
// in training, Winograd's transformed weights (the SharedWork of split_share.h, the only place
// they wait for each other); their gradients cost one sum per step.
#include "core/batch_split.h"

#include <omp.h>

#include <cstring>
#include <exception>

#include "execution/program.h"
#include "googlenet/net.h"

namespace googlenet {

// Runs body(copy) on every copy at once, each on its own thread, which its ops do not share:
// oneDNN, asked for one thread, plans and runs each primitive on the calling thread. The first
// error wins; the copies waiting for the failed one at a Meeting then stop too.
template <class Body>
static void each_copy(std::vector<std::unique_ptr<Net>>& copies, Meeting& meeting, const Body& body) {
    meeting.restart();
    std::exception_ptr error;
#pragma omp parallel num_threads(int(copies.size()))
    {
        OneThread alone;
        try {
            const std::string missing = missing_threads(int(copies.size()));
            if (!missing.empty()) throw Error("the batch split: " + missing);
            body(*copies[size_t(omp_get_thread_num())]);
        } catch (...) {
#pragma omp critical(googlenet_copy_error)
            {
                if (!error) error = std::current_exception();
                meeting.set_failed(true);
            }
        }
    }
    if (error) std::rethrow_exception(error);
}

BatchSplit::BatchSplit(Net& whole, int threads) : whole_(whole), share_(threads) {
    for (int i = 0; i < threads; ++i) {
        auto copy = std::make_unique<Net>(whole.graph_);
        // The first copy writes the gradients straight into the whole net's; the others sum theirs in.
        copy->params_.share(whole.params_, i == 0);
        copy->state_ = whole.state_;
        copy->profiling_ = whole.profiling_;
        copies_.push_back(std::move(copy));
    }
}

BatchSplit::~BatchSplit() = default;

void BatchSplit::set_batch(int n) {
    const int threads = copies();
    first_.assign(size_t(threads) + 1, 0);
    for (int i = 0; i < threads; ++i) first_[size_t(i) + 1] = first_[size_t(i)] + n / threads + (i < n % threads);
    for (int i = 0; i < threads; ++i) {
        Net& copy = *copies_[size_t(i)];
        // A copy runs on one thread of its own (each_copy), every op on it.
        copy.options_ = whole_.options_, copy.options_.parallel = Parallel::ops, copy.options_.threads = 0;
        if (copy.ranges_.hi != whole_.ranges_.hi || copy.ranges_.lo != whole_.ranges_.lo) copy.set_quantization(whole_.ranges_);
        copy.image_offset_ = first_[size_t(i)];
        copy.algorithm_batch_ = first_[1];  // the first share is the largest
    }
    each_copy(copies_, share_.meeting(), [&](Net& copy) {
        const int i = omp_get_thread_num();
        if (Runtime* rt = copy.program_->rt.get()) rt->image_offset = copy.image_offset_, rt->algorithm_batch = copy.algorithm_batch_;
        copy.set_batch(first_[size_t(i) + 1] - first_[size_t(i)]);
        copy.program_->rt->shared = &share_.of(i);
    });
    logits_.assign(size_t(n) * size_t(whole_.classes()), 0.f);
}

const float* BatchSplit::forward(const float* images) {
    const size_t per_image = whole_.input_shape().per_image(), classes = size_t(whole_.classes());
    each_copy(copies_, share_.meeting(), [&](Net& copy) {
        const size_t first = size_t(copy.image_offset_);
        const float* logits = copy.forward(images + first * per_image);
        std::memcpy(logits_.data() + first * classes, logits, size_t(copy.batch()) * classes * sizeof(float));
    });
    return logits_.data();
}

// Each copy's loss is the mean over its share; the batch's is their mean weighted by share, and
// each copy's logit gradients take the same weight, so that the copies' weight gradients add up
// to the batch's.
float BatchSplit::loss(const int* labels) {
    const bool training = whole_.state_->training;
    double total = 0;
    for (auto& copy : copies_) {
        const float share = float(copy->batch()) / float(first_.back());
        total += double(share) * copy->loss(labels + copy->image_offset_);
        std::vector<ValueId> logits{copy->output()};
        if (training)
            for (const Graph::Auxiliary& a : copy->auxiliaries()) logits.push_back(a.logits);
        for (ValueId id : logits) {
            TensorView& g = copy->value(id).grad;
            for (size_t i = 0; i < g.size(); ++i) g[i] *= share;
        }
    }
    return float(total);
}

void BatchSplit::backward(const float* dlogits, const AfterOp& after_op) {
    const size_t classes = size_t(whole_.classes());
    each_copy(copies_, share_.meeting(), [&](Net& copy) {
        if (dlogits)
            copy.backward(dlogits + size_t(copy.image_offset_) * classes);
        else
            copy.backward();
    });
    float* g = whole_.params_.grad_base();
    std::vector<const float*> others;
    for (size_t l = 1; l < copies_.size(); ++l) others.push_back(copies_[l]->params_.grad_base());
    const long total = long(whole_.params_.total());
#pragma omp parallel for num_threads(int(copies_.size()))
    for (long i = 0; i < total; ++i) {
        float sum = g[i];
        for (const float* o : others) sum += o[i];
        g[i] = sum;
    }
    // Every op's gradients are final only now: callers that overlap work with backward (the
    // data-parallel allreduce) get each op at once, last op first.
    if (!after_op) return;
    const bool training = whole_.state_->training;
    const auto& ops = whole_.ops();
    for (auto it = ops.rbegin(); it != ops.rend(); ++it)
        if (training || !(*it)->auxiliary) after_op(**it);
}

void BatchSplit::set_profiling(bool on) {
    for (auto& copy : copies_) copy->set_profiling(on);
}

std::vector<OpTime> BatchSplit::op_times() const {
    std::vector<OpTime> times = copies_[0]->op_times();
    const double copies = double(copies_.size());
    for (OpTime& t : times) t.forward_ms /= copies, t.backward_data_ms /= copies, t.backward_weights_ms /= copies;
    for (size_t l = 1; l < copies_.size(); ++l) {
        const std::vector<OpTime> other = copies_[l]->op_times();
        for (size_t i = 0; i < times.size(); ++i) {  // the copies are made from one graph: the same ops
            times[i].forward_ms += other[i].forward_ms / copies;
            times[i].backward_data_ms += other[i].backward_data_ms / copies;
            times[i].backward_weights_ms += other[i].backward_weights_ms / copies;
        }
    }
    return times;
}

void BatchSplit::describe(Execution& e) const {
    e.batch_split = true;
    e.gradient_copies = copies();
    for (const auto& copy : copies_) {
        const Execution c = copy->execution();
        e.activation_floats += c.activation_floats, e.gradient_floats += c.gradient_floats;
    }
}

}  // namespace googlenet
