// Checkpoints: safetensors whose metadata holds the run's settings and state as JSON.
#include "fuzz_input.h"
#include "train/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = googlenet_fuzz::write_input(data, size, "checkpoint.safetensors");
    try {
        googlenet::TrainConfig config;
        googlenet::RunState state;
        googlenet::TensorMap tensors;
        googlenet::read_checkpoint(path, config, state, tensors);
    } catch (const googlenet::Error&) {
    }
    return 0;
}
