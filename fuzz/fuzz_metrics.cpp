// metrics.jsonl, as `googlenet plot` and a resumed run read it back, and the chart drawn from it.
#include "fuzz_input.h"
#include "googlenet/plot.h"
#include "googlenet/tensor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = googlenet_fuzz::write_input(data, size, "metrics.jsonl");
    try {
        googlenet::draw_line_chart(googlenet::training_curves(path), path + ".curves", 160, 120);
    } catch (const googlenet::Error&) {
    }
    return 0;
}
