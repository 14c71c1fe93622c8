// Weights on disk: safetensors (https://github.com/huggingface/safetensors), fp32, with the tensor
// names of PyTorch's state_dict, so the same file loads here and in PyTorch. Every write is atomic.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "googlenet/params.h"

namespace googlenet {

struct NamedTensor {
    std::string name;
    std::vector<int64_t> shape;
    const float* data;
};

struct LoadedTensor {
    std::vector<int64_t> shape;
    std::vector<float> data;
};

using TensorMap = std::map<std::string, LoadedTensor>;

// Reads every tensor (and, if asked, the string metadata); throws Error naming the file (and
// tensor) for anything malformed.
TensorMap read_safetensors(const std::string& path, std::map<std::string, std::string>* metadata = nullptr);
void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Parameters and buffers (batch norm's running statistics), as PyTorch's state_dict holds them.
std::vector<NamedTensor> named_tensors(const ParamStore& params);
void save_weights(const std::string& path, const ParamStore& params);
// Every parameter must be in the file with its exact shape, and the file must hold nothing else.
void load_weights(const std::string& path, ParamStore& params);
// The same from tensors already read from `path`; tensors whose names start with `other_prefix`
// (when not empty) may be present besides the parameters.
void assign_params(ParamStore& params, const TensorMap& tensors, const std::string& path,
                   const std::string& other_prefix = "");

// Writes through `write` to a temporary file next to `path`, syncs it, then renames it over
// `path`; on any failure `path` is left as it was and the error names it.
void write_file_atomic(const std::string& path, const std::function<void(std::FILE*)>& write);

}  // namespace googlenet
