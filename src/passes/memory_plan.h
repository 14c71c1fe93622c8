// Offsets in one arena for buffers whose lifetimes are known in advance (ggml-alloc's idea):
// buffers that are never alive at the same time share memory.
#pragma once
#include <cstddef>
#include <vector>

namespace googlenet {

struct Lifetime {
    int first, last;  // alive from step `first` to step `last`, both included
    size_t size;      // floats
    size_t offset = 0;  // set by plan_arena
};

// Places each buffer, largest first, at the lowest offset clear of every placed buffer whose
// lifetime overlaps its own; returns the arena's size in floats. Sizes are rounded up to whole
// 64-byte lines so that every offset stays aligned.
size_t plan_arena(std::vector<Lifetime>& lives);

}  // namespace googlenet
