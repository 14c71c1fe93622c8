#include "passes/memory_plan.h"

#include <algorithm>
#include <utility>

namespace googlenet {

size_t plan_arena(std::vector<Lifetime>& lives) {
    for (Lifetime& l : lives) l.size = (l.size + 15) / 16 * 16;
    std::vector<Lifetime*> order;
    for (Lifetime& l : lives) order.push_back(&l);
    std::stable_sort(order.begin(), order.end(), [](const Lifetime* a, const Lifetime* b) { return a->size > b->size; });
    std::vector<const Lifetime*> placed;
    size_t total = 0;
    for (Lifetime* l : order) {
        std::vector<std::pair<size_t, size_t>> taken;
        for (const Lifetime* p : placed)
            if (p->first <= l->last && l->first <= p->last) taken.emplace_back(p->offset, p->offset + p->size);
        std::sort(taken.begin(), taken.end());
        size_t offset = 0;
        for (const auto& [begin, end] : taken) {
            if (offset + l->size <= begin) break;
            offset = std::max(offset, end);
        }
        l->offset = offset;
        total = std::max(total, offset + l->size);
        placed.push_back(l);
    }
    return total;
}

}  // namespace googlenet
