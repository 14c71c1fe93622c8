#include "passes/lifetimes.h"

#include <algorithm>
#include <map>

namespace googlenet {

namespace {

std::map<ValueId, size_t> index_of(const std::vector<Planned>& planned) {
    std::map<ValueId, size_t> index;
    for (size_t i = 0; i < planned.size(); ++i) index[planned[i].first] = i;
    return index;
}

}  // namespace

std::vector<Lifetime> activation_lifetimes(const std::vector<OpUse>& ops, const std::vector<Planned>& planned,
                                           const std::vector<ValueId>& read_at_end) {
    const int steps = int(ops.size()), end = 2 * steps;
    const std::map<ValueId, size_t> index = index_of(planned);
    std::vector<Lifetime> lives;
    for (const Planned& p : planned) lives.push_back(Lifetime{-1, -1, p.second});
    for (int i = 0; i < steps; ++i) {
        const OpUse& op = ops[size_t(i)];
        lives[index.at(op.output)].first = op.time;
        for (ValueId in : op.inputs) lives[index.at(in)].last = std::max(lives[index.at(in)].last, op.time);
        for (ValueId v : op.saved) lives[index.at(v)].last = std::max(lives[index.at(v)].last, end - 1 - i);
    }
    for (Lifetime& l : lives)
        if (l.last < l.first) l.last = end;  // nothing reads it
    for (ValueId v : read_at_end) lives[index.at(v)].last = end;
    return lives;
}

std::vector<Lifetime> gradient_lifetimes(const std::vector<OpUse>& ops, const std::vector<Planned>& planned,
                                         const std::vector<ValueId>& written_by_loss, std::vector<size_t>& unconsumed) {
    const int steps = int(ops.size());
    const std::map<ValueId, size_t> index = index_of(planned);
    std::vector<Lifetime> lives;
    for (const Planned& p : planned) lives.push_back(Lifetime{steps, -1, p.second});
    for (int i = 0; i < steps; ++i) {
        const int t = steps - 1 - i;  // the backward step of op i
        for (ValueId in : ops[size_t(i)].inputs)
            if (index.count(in)) lives[index.at(in)].first = std::min(lives[index.at(in)].first, t);
        if (index.count(ops[size_t(i)].output)) lives[index.at(ops[size_t(i)].output)].last = t;
    }
    for (ValueId v : written_by_loss)
        if (index.count(v)) lives[index.at(v)].first = -1;
    unconsumed.clear();
    for (size_t i = 0; i < lives.size(); ++i) {
        Lifetime& l = lives[i];
        if (l.last < 0) l.last = steps;  // no producer (the input): read after backward
        if (l.first == steps) {          // no reader: zeroed before each backward
            l.first = -1;
            unconsumed.push_back(i);
        }
    }
    return lives;
}

}  // namespace googlenet
