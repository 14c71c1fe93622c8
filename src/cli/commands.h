// The commands that use a trained network: predict, export and import (src/cli/use_model.cpp).
#pragma once
#include <string>
#include <vector>

namespace googlenet::cli {

struct PredictOptions {
    std::string weights;
    std::vector<std::string> images;
    std::string model = "d2l", labels;
    std::string tensor;  // instead of images: a safetensors file with "input", N x C x H x W, prepared
    std::string parallel = "batch";  // as Net::set_batch_split: "batch" (on) or "ops"
    int top = 3, resize = 0, threads = 0, batch_size = 64;
    bool json = false, logits = false;
};

// Top-k classes of each image (or row of --tensor); unreadable images are reported and the others
// still answered. Returns the exit status.
int run_predict(const PredictOptions& o);
int run_export(const std::string& weights, const std::string& model, int size, const std::string& out);
int run_import(const std::string& in, const std::string& out, std::string model_out, std::string name, int size);

}  // namespace googlenet::cli
