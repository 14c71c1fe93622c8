// Evaluation of small batches with the Inception paths side by side (Parallel::batch).
//
// Why: at batch 1 each op is too small to split well over two cores. With every op on both
// threads, each op ends at a barrier and the next one reads what the other core wrote; when the
// machine's two vCPUs sit far apart (a slow cross-core handoff) the latency grew by half
// (docs/performance.md). Here the threads meet about once per
// block: a block's paths are independent until the concatenation, so each runs on one thread,
// and the one path too long to balance (3x3) has its last convolution's output channels split.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <map>
#include <numeric>

#include <cstring>

#include "execution/paths.h"

namespace googlenet {

namespace {

// Before they are measured: at batch 1 the small ops cost about what 0.5 M multiply-adds do.
double estimated_cost(const Op& op) { return double(op.macs_per_image() + 500'000); }

// Longest first, each to the least loaded thread; each thread runs its tasks in the net's order,
// those that wait for another thread's last (by then that thread has usually made their input).
void assign(PathStage& stage, int threads) {
    std::vector<std::pair<double, size_t>> units;
    for (size_t u = 0; u < stage.units.size(); ++u) {
        double cost = 0;
        for (int k : stage.units[u]) cost += stage.tasks[size_t(k)].cost;
        units.emplace_back(cost, u);
    }
    std::stable_sort(units.begin(), units.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    const size_t lists = size_t(std::min(threads, int(units.size())));
    stage.lists.assign(lists, {});
    std::vector<double> load(lists, 0.0);
    for (const auto& [cost, u] : units) {
        const size_t t = size_t(std::min_element(load.begin(), load.end()) - load.begin());
        load[t] += cost;
        stage.lists[t].insert(stage.lists[t].end(), stage.units[u].begin(), stage.units[u].end());
    }
    for (auto& list : stage.lists)
        std::sort(list.begin(), list.end(), [&](int a, int b) {
            const PathTask &x = stage.tasks[size_t(a)], &y = stage.tasks[size_t(b)];
            return std::make_tuple(!x.after.empty(), x.order, x.part) < std::make_tuple(!y.after.empty(), y.order, y.part);
        });
}

void run_task(const PathTask& task, Runtime& rt) {
    if (task.part < 0)
        task.op->forward(rt);
    else
        task.op->forward_part(rt, task.part);
}

}  // namespace

// Cuts the forward pass at every op that all later ops depend on only through ops from it on
// (nothing made before it is read after it): the stem's ops, each pooling between blocks, each
// block's concatenation. Between two cuts, ops that read each other's outputs form a path; with
// two paths or more the stage spreads them over the threads, longest first (by multiply-adds).
// A path longer than the stage's share per thread whose last op is its dearest (the 3x3 path)
// has that op's output channels split over all threads; the other parts wait for its input. A
// convolution alone between two cuts (the stem's) is split the same way.
PathsExecutor::PathsExecutor(Program& program, SequentialExecutor& sequential, int threads)
    : p_(program), sequential_(sequential) {
    std::vector<Op*> run;  // the ops evaluation runs, in order
    for (auto& op : p_.ops)
        if (!op->auxiliary) run.push_back(op);
    const int count = int(run.size());
    std::map<const Value*, int> made_by;
    for (int i = 0; i < count; ++i) made_by[run[size_t(i)]->output] = i;
    std::vector<int> earliest(size_t(count), count);  // the earliest op whose output op j reads (-1: the image)
    for (int j = 0; j < count; ++j)
        for (const Value* in : run[size_t(j)]->inputs) {
            auto it = made_by.find(in);
            earliest[size_t(j)] = std::min(earliest[size_t(j)], it == made_by.end() ? -1 : it->second);
        }
    std::vector<int> later_reach(size_t(count) + 1, count);  // min of earliest over the ops after i
    for (int i = count - 1; i >= 0; --i) later_reach[size_t(i)] = std::min(later_reach[size_t(i) + 1], earliest[size_t(i)]);
    auto& stages = plan_.stages;
    std::map<const Op*, int> stage_of;
    auto single = [&](int i) {
        Op* op = run[size_t(i)];
        stage_of[op] = int(stages.size());
        if (op->attributes().kind != OpAttributes::conv || !op->can_split_forward()) {
            stages.push_back({{{op, -1, {}, i, 0.0}}, {{0}}, {{0}}});
            return;
        }
        // A convolution alone (the stem's): its output channels in one part per thread, which
        // need not meet inside the op as a convolution on all threads does.
        PathStage stage;
        plan_.split.emplace_back(op, threads);
        for (int p = 0; p < threads; ++p) {
            stage.units.push_back({p});
            stage.tasks.push_back({op, p, {}, i, estimated_cost(*op) / threads});
        }
        plan_.alone.insert(op);
        assign(stage, threads);
        stages.push_back(std::move(stage));
    };
    for (int i = 0; i < count;) {
        if (later_reach[size_t(i) + 1] >= i) {  // a cut
            single(i++);
            continue;
        }
        int end = i + 1;  // the segment [i, end) runs to the next cut
        while (end < count && later_reach[size_t(end) + 1] < end) ++end;
        std::vector<int> root(size_t(end - i));  // paths: union-find over "reads the output of"
        std::iota(root.begin(), root.end(), 0);
        auto find = [&](int a) {
            while (root[size_t(a)] != a) a = root[size_t(a)] = root[size_t(root[size_t(a)])];
            return a;
        };
        for (int j = i; j < end; ++j)
            for (const Value* in : run[size_t(j)]->inputs) {
                auto it = made_by.find(in);
                if (it != made_by.end() && it->second >= i) root[size_t(find(j - i))] = find(it->second - i);
            }
        std::map<int, std::vector<int>> paths;
        for (int j = i; j < end; ++j) paths[find(j - i)].push_back(j);
        if (paths.size() < 2) {
            for (int j = i; j < end; ++j) single(j);
            i = end;
            continue;
        }
        PathStage stage;
        std::vector<double> path_cost;
        for (const auto& [r, ops] : paths) {
            stage.units.emplace_back();
            path_cost.push_back(0);
            for (int j : ops) {
                stage.units.back().push_back(int(stage.tasks.size()));
                stage.tasks.push_back({run[size_t(j)], -1, {}, j, estimated_cost(*run[size_t(j)])});
                path_cost.back() += stage.tasks.back().cost;
            }
        }
        const double total = std::accumulate(path_cost.begin(), path_cost.end(), 0.0);
        const size_t longest = size_t(std::max_element(path_cost.begin(), path_cost.end()) - path_cost.begin());
        const std::vector<int> path = stage.units[longest];
        const int last = path.back();
        Op* op = stage.tasks[size_t(last)].op;
        const bool dearest = std::all_of(path.begin(), path.end(), [&](int k) { return stage.tasks[size_t(k)].cost <= stage.tasks[size_t(last)].cost; });
        if (path_cost[longest] * threads > total && dearest && op->can_split_forward()) {
            plan_.split.emplace_back(op, threads);
            std::vector<int> after;  // the task that makes the op's input (none: it comes from before the stage)
            for (size_t k = 0; k < stage.tasks.size(); ++k)
                if (stage.tasks[k].op->output == op->inputs[0]) after = {int(k)};
            stage.tasks[size_t(last)].part = 0;
            stage.tasks[size_t(last)].cost /= threads;
            const PathTask first = stage.tasks[size_t(last)];
            for (int p = 1; p < threads; ++p) {
                stage.units.push_back({int(stage.tasks.size())});
                stage.tasks.push_back({op, p, after, first.order, first.cost});
            }
        }
        // The concatenation that ends a block joins the stage: each thread copies the paths it
        // ran into their channels (no stage of its own, and no core reads what the other made).
        if (end < count && run[size_t(end)]->can_split_forward() && run[size_t(end)]->attributes().kind == OpAttributes::concat) {
            Op* concat = run[size_t(end)];
            std::vector<std::vector<int>> makers(concat->inputs.size());  // per input, the tasks that make it
            for (size_t k = 0; k < stage.tasks.size(); ++k)
                for (size_t in = 0; in < concat->inputs.size(); ++in)
                    if (stage.tasks[k].op->output == concat->inputs[in]) makers[in].push_back(int(k));
            if (std::all_of(makers.begin(), makers.end(), [](const auto& m) { return !m.empty(); })) {
                plan_.split.emplace_back(concat, int(concat->inputs.size()));
                for (size_t in = 0; in < makers.size(); ++in) {
                    const int own = makers[in][0];  // runs on the thread of the input's first maker
                    PathTask copy{concat, int(in), {makers[in].begin() + 1, makers[in].end()}, end, 0.0};
                    for (auto& unit : stage.units)
                        if (std::find(unit.begin(), unit.end(), own) != unit.end()) unit.push_back(int(stage.tasks.size()));
                    stage.tasks.push_back(std::move(copy));
                }
                ++end;
            }
        }
        assign(stage, threads);
        for (const PathTask& task : stage.tasks) {
            stage_of[task.op] = int(stages.size());
            plan_.alone.insert(task.op);
        }
        stages.push_back(std::move(stage));
        i = end;
    }
    // Auxiliary ops do not run in evaluation; they take the time of the stage they follow.
    stage_of_op_.assign(p_.ops.size(), 0);
    int time = 0;
    for (size_t i = 0; i < p_.ops.size(); ++i) {
        auto it = stage_of.find(p_.ops[i]);
        if (it != stage_of.end()) time = it->second;
        stage_of_op_[i] = time;
    }
    size_t tasks = 0;
    for (const PathStage& s : stages) tasks += s.tasks.size();
    plan_.done = std::make_unique<std::atomic<uint64_t>[]>(tasks);
    for (size_t k = 0; k < tasks; ++k) plan_.done[k] = 0;
    for (int t = 0; t < threads; ++t) plan_.rts.push_back(std::make_unique<Runtime>(p_.rt->params, p_.rt->state, p_.rt->engine));
}

// The split ops' parts, made for one thread each. First a check of the memory plan, cheap next
// to making primitives: the values that a stage's tasks read or write must not share memory,
// since those tasks may run at the same time.
void PathsExecutor::prepare() {
    for (const PathStage& stage : plan_.stages) {
        std::vector<const Value*> touched;
        for (const PathTask& task : stage.tasks) {
            touched.insert(touched.end(), task.op->inputs.begin(), task.op->inputs.end());
            touched.push_back(task.op->output);
        }
        std::sort(touched.begin(), touched.end());
        touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
        for (size_t a = 0; a < touched.size(); ++a)
            for (size_t b = a + 1; b < touched.size(); ++b) {
                const TensorView &x = touched[a]->data, &y = touched[b]->data;
                if (x.data() < y.data() + y.size() && y.data() < x.data() + x.size())
                    throw Error("internal: values " + touched[a]->name + " and " + touched[b]->name +
                                " share memory but may be used at the same time");
            }
    }
    OneThread alone;
    for (const auto& [op, parts] : plan_.split) op->prepare_parts(*p_.rt, parts);
}

// The estimates from multiply-adds were off by up to 2x (Winograd's 3x3 at 12x12 costs half
// what a 1x1 does per multiply-add, at 6x6 about the same): the first forward pass times every
// task on its own, on one thread (the best of three), and the stages are spread again by those
// times. Only which thread runs what changes, so the results do not depend on the timings.
void PathsExecutor::measure() {
    PathPlan& plan = plan_;
    for (PathStage& stage : plan.stages) {
        if (stage.lists.size() == 1) {
            for (int k : stage.lists[0]) stage.tasks[size_t(k)].op->forward(*p_.rt);
            continue;
        }
        std::vector<double> best(stage.tasks.size(), 1e30);
        {
            OneThread alone;
            for (int pass = 0; pass < 3; ++pass)
                for (const auto& unit : stage.units)  // each unit in order: a split op's parts after its input
                    for (int k : unit) {
                        const PathTask& task = stage.tasks[size_t(k)];
                        const auto start = std::chrono::steady_clock::now();
                        run_task(task, *plan.rts[0]);
                        best[size_t(k)] = std::min(best[size_t(k)], std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
                    }
        }
        for (size_t k = 0; k < best.size(); ++k) stage.tasks[k].cost = best[k];
        assign(stage, int(plan.rts.size()));
    }
    plan.measured = true;
}

const float* PathsExecutor::forward(const float* images) {
    p_.set_input(images);
    PathPlan& plan = plan_;
    for (auto& rt : plan.rts) rt->image_offset = p_.rt->image_offset, rt->algorithm_batch = p_.rt->algorithm_batch;
    if (!plan.measured) measure();
    const uint64_t run = ++plan.run;
    const bool profiling = sequential_.profiling();
    std::map<const Op*, size_t> index;  // while profiling: each op's place in the program
    if (profiling)
        for (size_t i = 0; i < p_.ops.size(); ++i) index[p_.ops[i]] = i;
    std::vector<double> task_ms;  // while profiling: each task's time on the thread that ran it
    size_t first = 0;  // the stage's first task in plan.done
    for (const PathStage& stage : plan.stages) {
        task_ms.assign(profiling ? stage.tasks.size() : 0, 0.0);
        if (stage.lists.size() == 1) {
            for (int k : stage.lists[0]) {
                const auto start = profiling ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
                stage.tasks[size_t(k)].op->forward(*p_.rt);
                if (profiling) task_ms[size_t(k)] = ms_since(start);
            }
            for (size_t k = 0; k < task_ms.size(); ++k) sequential_.time_of(index.at(stage.tasks[k].op)).forward_ms += task_ms[k];
            first += stage.tasks.size();
            continue;
        }
        std::exception_ptr error;
        std::atomic<bool> failed{false};
#pragma omp parallel num_threads(int(stage.lists.size()))
        {
            OneThread alone;
            const size_t t = size_t(omp_get_thread_num());
            const std::string missing = missing_threads(int(stage.lists.size()));
            if (!missing.empty()) {  // no thread waits for the tasks of threads that never came
#pragma omp critical(googlenet_path_error)
                if (!error) error = std::make_exception_ptr(Error("the paths side by side: " + missing));
                failed = true;
            } else {
                for (int k : stage.lists[t]) {
                    const PathTask& task = stage.tasks[size_t(k)];
                    for (int k : task.after)
                        while (plan.done[first + size_t(k)].load(std::memory_order_acquire) != run) _mm_pause();
                    // After an error the thread still marks its tasks done, so no other thread waits forever.
                    if (!failed.load(std::memory_order_relaxed)) try {
                            const bool timed = !task_ms.empty();
                            const auto start = timed ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
                            run_task(task, *plan.rts[t]);
                            if (timed) task_ms[size_t(k)] = ms_since(start);
                        } catch (...) {
#pragma omp critical(googlenet_path_error)
                            if (!error) error = std::current_exception();
                            failed = true;
                        }
                    plan.done[first + size_t(k)].store(run, std::memory_order_release);
                }
            }
        }
        if (error) std::rethrow_exception(error);
        for (size_t k = 0; k < task_ms.size(); ++k) sequential_.time_of(index.at(stage.tasks[k].op)).forward_ms += task_ms[k];
        first += stage.tasks.size();
    }
    return p_.value(p_.output).data.data();
}

}  // namespace googlenet
