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
#include "googlenet/net.h"
#include "ops/ops.h"

namespace googlenet {

size_t Net::activation_arena_floats() const {
    size_t total = act_arena_.size();
    for (const auto& lane : lanes_) total += lane->activation_arena_floats();
    return total;
}

size_t Net::gradient_arena_floats() const {
    size_t total = grad_arena_.size();
    for (const auto& lane : lanes_) total += lane->gradient_arena_floats();
    return total;
}

bool Net::splittable() const {
    if (values_[0]->needs_grad) return false;  // the input's gradient is wanted whole
    for (const auto& op : ops_)
        if (op->attributes().kind == OpAttributes::batch_norm) return false;
    return true;
}

// Runs body(lane) on every copy at once, each on its own thread, which its ops do not share:
// oneDNN, asked for one thread, plans and runs each primitive on the calling thread. The first
// error wins; the copies waiting for the failed one at LaneShare::meet then stop too.
template <class Body>
static void each_lane(std::vector<std::unique_ptr<Net>>& lanes, LaneShare& share, const Body& body) {
    share.failed = false, share.arrived = 0;  // a meeting left half-way by an earlier error
    std::exception_ptr error;
#pragma omp parallel num_threads(int(lanes.size()))
    {
        OneThread alone;
        try {
            const std::string missing = missing_threads(int(lanes.size()));
            if (!missing.empty()) throw Error("the batch split: " + missing);
            body(*lanes[size_t(omp_get_thread_num())]);
        } catch (...) {
#pragma omp critical(googlenet_lane_error)
            {
                if (!error) error = std::current_exception();
                share.failed = true;
            }
        }
    }
    if (error) std::rethrow_exception(error);
}

void Net::set_lanes(int n, int threads) {
    if (int(lanes_.size()) != threads) {
        lanes_.clear();
        for (int i = 0; i < threads; ++i) {
            auto lane = std::make_unique<Net>(graph_);
            // The first copy writes the gradients straight into this net's; the others sum theirs in.
            lane->params_.share(params_, i == 0);
            // A copy runs on one thread of its own (each_lane), every op on it.
            lane->options_ = options_, lane->options_.parallel = Parallel::ops, lane->options_.threads = 0;
            lane->training_ = training_, lane->seed_ = seed_, lane->step_ = step_, lane->profiling_ = profiling_;
            lanes_.push_back(std::move(lane));
        }
        lane_share_ = std::make_unique<LaneShare>();
        lane_share_->lanes = threads;
        for (auto& kinds : lane_share_->u_kind) kinds.assign(size_t(threads), 0);
        // This net's own activations are not used while the batch runs split.
        act_arena_ = Buffer(), grad_arena_ = Buffer();
    }
    lane_first_.assign(size_t(threads) + 1, 0);
    for (int i = 0; i < threads; ++i) lane_first_[size_t(i) + 1] = lane_first_[size_t(i)] + n / threads + (i < n % threads);
    for (int i = 0; i < threads; ++i) {
        lanes_[size_t(i)]->image_offset_ = lane_first_[size_t(i)];
        lanes_[size_t(i)]->choice_batch_ = lane_first_[1];  // the first share is the largest
    }
    each_lane(lanes_, *lane_share_, [&](Net& lane) {
        const int i = omp_get_thread_num();
        if (lane.rt_) lane.rt_->image_offset = lane.image_offset_, lane.rt_->choice_batch = lane.choice_batch_;
        lane.set_batch(lane_first_[size_t(i) + 1] - lane_first_[size_t(i)]);
        lane.rt_->share = lane_share_.get();
        lane.rt_->lane = i;
    });
    logits_.assign(size_t(n) * size_t(classes()), 0.f);
}

const float* Net::forward_lanes(const float* images) {
    const size_t per_image = values_[0]->shape.per_image(), classes = size_t(this->classes());
    each_lane(lanes_, *lane_share_, [&](Net& lane) {
        const size_t first = size_t(lane.image_offset_);
        const float* logits = lane.forward(images + first * per_image);
        std::memcpy(logits_.data() + first * classes, logits, size_t(lane.batch()) * classes * sizeof(float));
    });
    return logits_.data();
}

// Each copy's loss is the mean over its share; the batch's is their mean weighted by share, and
// each copy's logit gradients take the same weight, so that the copies' weight gradients add up
// to the batch's.
float Net::loss_lanes(const int* labels) {
    double total = 0;
    for (auto& lane : lanes_) {
        const float share = float(lane->batch()) / float(batch_);
        total += double(share) * lane->loss(labels + lane->image_offset_);
        std::vector<ValueId> logits{lane->output_};
        if (training_)
            for (const Auxiliary& a : lane->auxiliaries()) logits.push_back(a.logits);
        for (ValueId id : logits) {
            TensorView& g = lane->value(id).grad;
            for (size_t i = 0; i < g.size(); ++i) g[i] *= share;
        }
    }
    return float(total);
}

void Net::backward_lanes(const float* dlogits, const std::function<void(const Op&)>& after_op) {
    const size_t classes = size_t(this->classes());
    each_lane(lanes_, *lane_share_, [&](Net& lane) {
        if (dlogits)
            lane.backward(dlogits + size_t(lane.image_offset_) * classes);
        else
            lane.backward();
    });
    float* g = params_.grad_base();
    std::vector<const float*> others;
    for (size_t l = 1; l < lanes_.size(); ++l) others.push_back(lanes_[l]->params_.grad_base());
    const long total = long(params_.total());
#pragma omp parallel for num_threads(int(lanes_.size()))
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
