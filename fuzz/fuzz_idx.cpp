// IDX files (Fashion-MNIST's format), gzip-compressed or not, as images (rank 3) and labels (rank 1).
#include "fuzz_input.h"
#include "googlenet/data.h"
#include "googlenet/tensor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = googlenet_fuzz::write_input(data, size, "idx.gz");
    for (int rank : {1, 3}) {
        try {
            const googlenet::IdxArray a = googlenet::read_idx(path, rank);
            size_t count = 1;
            for (int d : a.dims) count *= size_t(d);
            if (count != a.data.size()) std::abort();  // the dimensions must describe the data exactly
        } catch (const googlenet::Error&) {
        }
    }
    return 0;
}
