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

// The version of the files googlenet writes (weights, checkpoints), kept in their metadata as
// "googlenet.format_version"; a file of a later version is refused, one without it is read as
// version 1 (googlenet 0.1 wrote none).
inline constexpr int kFileFormatVersion = 1;

// Reads every tensor (and, if asked, the string metadata); throws Error naming the file (and
// tensor) for anything malformed.
TensorMap read_safetensors(const std::string& path, std::map<std::string, std::string>* metadata = nullptr);
// Only the string metadata, from the header (the tensors are not read).
std::map<std::string, std::string> read_safetensors_metadata(const std::string& path);
// Throws Error naming `path` if its metadata says a format version later than kFileFormatVersion.
void check_format_version(const std::string& path, const std::map<std::string, std::string>& metadata);
void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Parameters and buffers (batch norm's running statistics), as PyTorch's state_dict holds them.
std::vector<NamedTensor> named_tensors(const ParamStore& params);
// The metadata holds the format version and, when given, the model's text (a model file's JSON)
// as "googlenet.model", so that the file says which network it fills; PyTorch ignores both.
void save_weights(const std::string& path, const ParamStore& params, const std::string& model_text = "");
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
