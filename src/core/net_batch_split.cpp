// A batch split over the threads (Parallel::batch): one copy of the network per thread, each
// on its share of the images, sharing the weights.
//
// Why: with every op spread over both cores, each op ends at a barrier and hands its output to
// the other core's cache; on a 2-core machine the step's time then swung widely with the
// machine's state, while two processes that shared nothing, each on half the batch, ran faster
// in both states (docs/performance.md). The copies here share the weights
// and, in training, Winograd's transformed weights (WinogradConv::set_weights, the only place
// they wait for each other); their gradients cost one sum per step.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <exception>

#include "core/runtime.h"
#include "execution/split_share.h"
#include "googlenet/net.h"
#include "ops/ops.h"

namespace googlenet {

Net::Execution Net::execution() const {
    Execution e;
    e.batch_split = !copies_.empty();
    e.paths_side_by_side = branches_ != nullptr;
    e.gradient_copies = copies_.empty() ? 1 : int(copies_.size());
    e.activation_floats = act_arena_.size(), e.gradient_floats = grad_arena_.size();
    for (const auto& copy : copies_) {
        const Execution c = copy->execution();
        e.activation_floats += c.activation_floats, e.gradient_floats += c.gradient_floats;
    }
    return e;
}

bool Net::splittable() const {
    if (values_[0]->needs_grad) return false;  // the input's gradient is wanted whole
    for (const auto& op : ops_)
        if (op->attributes().kind == OpAttributes::batch_norm) return false;
    return true;
}

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

void Net::set_copies(int n, int threads) {
    if (int(copies_.size()) != threads) {
        copies_.clear();
        for (int i = 0; i < threads; ++i) {
            auto copy = std::make_unique<Net>(graph_);
            // The first copy writes the gradients straight into this net's; the others sum theirs in.
            copy->params_.share(params_, i == 0);
            // A copy runs on one thread of its own (each_copy), every op on it.
            copy->options_ = options_, copy->options_.parallel = Parallel::ops, copy->options_.threads = 0;
            copy->training_ = training_, copy->seed_ = seed_, copy->step_ = step_, copy->profiling_ = profiling_;
            copies_.push_back(std::move(copy));
        }
        split_share_ = std::make_unique<SplitShare>(threads);
        // This net's own activations are not used while the batch runs split.
        act_arena_ = Buffer(), grad_arena_ = Buffer();
    }
    copy_first_.assign(size_t(threads) + 1, 0);
    for (int i = 0; i < threads; ++i) copy_first_[size_t(i) + 1] = copy_first_[size_t(i)] + n / threads + (i < n % threads);
    for (int i = 0; i < threads; ++i) {
        copies_[size_t(i)]->image_offset_ = copy_first_[size_t(i)];
        copies_[size_t(i)]->algorithm_batch_ = copy_first_[1];  // the first share is the largest
    }
    each_copy(copies_, split_share_->meeting(), [&](Net& copy) {
        const int i = omp_get_thread_num();
        if (copy.rt_) copy.rt_->image_offset = copy.image_offset_, copy.rt_->algorithm_batch = copy.algorithm_batch_;
        copy.set_batch(copy_first_[size_t(i) + 1] - copy_first_[size_t(i)]);
        copy.rt_->shared = &split_share_->of(i);
    });
    logits_.assign(size_t(n) * size_t(classes()), 0.f);
}

const float* Net::forward_copies(const float* images) {
    const size_t per_image = values_[0]->shape.per_image(), classes = size_t(this->classes());
    each_copy(copies_, split_share_->meeting(), [&](Net& copy) {
        const size_t first = size_t(copy.image_offset_);
        const float* logits = copy.forward(images + first * per_image);
        std::memcpy(logits_.data() + first * classes, logits, size_t(copy.batch()) * classes * sizeof(float));
    });
    return logits_.data();
}

// Each copy's loss is the mean over its share; the batch's is their mean weighted by share, and
// each copy's logit gradients take the same weight, so that the copies' weight gradients add up
// to the batch's.
float Net::loss_copies(const int* labels) {
    double total = 0;
    for (auto& copy : copies_) {
        const float share = float(copy->batch()) / float(batch_);
        total += double(share) * copy->loss(labels + copy->image_offset_);
        std::vector<ValueId> logits{copy->output_};
        if (training_)
            for (const Auxiliary& a : copy->auxiliaries()) logits.push_back(a.logits);
        for (ValueId id : logits) {
            TensorView& g = copy->value(id).grad;
            for (size_t i = 0; i < g.size(); ++i) g[i] *= share;
        }
    }
    return float(total);
}

void Net::backward_copies(const float* dlogits, const std::function<void(const Op&)>& after_op) {
    const size_t classes = size_t(this->classes());
    each_copy(copies_, split_share_->meeting(), [&](Net& copy) {
        if (dlogits)
            copy.backward(dlogits + size_t(copy.image_offset_) * classes);
        else
            copy.backward();
    });
    float* g = params_.grad_base();
    std::vector<const float*> others;
    for (size_t l = 1; l < copies_.size(); ++l) others.push_back(copies_[l]->params_.grad_base());
    const long total = long(params_.total());
#pragma omp parallel for num_threads(int(copies_.size()))
    for (long i = 0; i < total; ++i) {
        float sum = g[i];
        for (const float* o : others) sum += o[i];
        g[i] = sum;
    }
    // Every op's gradients are final only now: callers that overlap work with backward (the
    // data-parallel allreduce) get each op at once, last op first.
    if (after_op)
        for (auto it = ops_.rbegin(); it != ops_.rend(); ++it)
            if (training_ || !(*it)->auxiliary) after_op(**it);
}

}  // namespace googlenet
