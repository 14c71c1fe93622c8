#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "googlenet/io.h"

namespace googlenet {

using json = nlohmann::json;

namespace {

// The JSON header of a safetensors file, checked to be an object that fits the file; `in` is left
// at the first data byte.
json read_header(const std::string& path, std::ifstream& in, uint64_t& header_size, uint64_t& file_size) {
    if (!in) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
    in.seekg(0, std::ios::end);
    file_size = uint64_t(in.tellg());
    in.seekg(0);
    auto bad = [&](const std::string& what) { return Error(path + ": not a valid safetensors file: " + what); };
    uint8_t size_bytes[8];
    if (file_size < 8 || !in.read(reinterpret_cast<char*>(size_bytes), 8)) throw bad("shorter than 8 bytes");
    header_size = 0;
    for (int i = 7; i >= 0; --i) header_size = header_size << 8 | size_bytes[i];
    if (header_size > file_size - 8 || header_size > (100u << 20))
        throw bad("header size " + std::to_string(header_size) + " exceeds the file (" +
                  std::to_string(file_size) + " bytes)");
    std::string header(header_size, '\0');
    in.read(header.data(), std::streamsize(header_size));
    json h = json::parse(header, nullptr, false);
    if (h.is_discarded() || !h.is_object()) throw bad("header is not a JSON object");
    if (h.contains("__metadata__")) {
        const json& m = h["__metadata__"];
        if (!m.is_object()) throw bad("__metadata__ is not an object");
        for (auto& [key, value] : m.items())
            if (!value.is_string()) throw bad("__metadata__ value of '" + key + "' is not a string");
    }
    return h;
}

}  // namespace

std::map<std::string, std::string> read_safetensors_metadata(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    uint64_t header_size = 0, file_size = 0;
    const json h = read_header(path, in, header_size, file_size);
    std::map<std::string, std::string> out;
    if (h.contains("__metadata__"))
        for (auto& [key, value] : h["__metadata__"].items()) out[key] = value.get<std::string>();
    return out;
}

void check_format_version(const std::string& path, const std::map<std::string, std::string>& metadata) {
    auto it = metadata.find("googlenet.format_version");
    if (it == metadata.end()) return;  // written before versions (googlenet 0.1), or by PyTorch
    const std::string& v = it->second;
    if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos)
        throw Error(path + ": googlenet.format_version '" + v + "' is not a number");
    if (std::stoi(v) > kFileFormatVersion)
        throw Error(path + ": written in googlenet file format version " + v + ", newer than this googlenet reads (" +
                    std::to_string(kFileFormatVersion) + "); use a newer googlenet");
}

TensorMap read_safetensors(const std::string& path, std::map<std::string, std::string>* metadata) {
    std::ifstream in(path, std::ios::binary);
    uint64_t header_size = 0, file_size = 0;
    json h = read_header(path, in, header_size, file_size);
    const uint64_t data_size = file_size - 8 - header_size;

    TensorMap out;
    for (auto& [name, entry] : h.items()) {
        if (name == "__metadata__") {
            if (metadata)
                for (auto& [key, value] : entry.items()) (*metadata)[key] = value.get<std::string>();
            continue;
        }
        const std::string& tensor_name = name;  // C++17 lambdas cannot capture a structured binding
        auto tensor_bad = [&](const std::string& what) {
            return Error(path + ": tensor '" + tensor_name + "': " + what);
        };
        if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
            !entry.contains("data_offsets"))
            throw tensor_bad("entry needs dtype, shape and data_offsets");
        // F32 for everything trained; I64 also, for the step counters PyTorch keeps beside batch
        // norm's statistics (num_batches_tracked), which are read as floats.
        if (!entry["dtype"].is_string() || (entry["dtype"] != "F32" && entry["dtype"] != "I64"))
            throw tensor_bad("dtype " + entry["dtype"].dump() + " is not supported (only F32, and I64 counters)");
        const bool int64 = entry["dtype"] == "I64";
        const uint64_t item = int64 ? 8 : 4;
        LoadedTensor t;
        uint64_t count = 1;
        if (!entry["shape"].is_array()) throw tensor_bad("shape is not a list");
        for (auto& d : entry["shape"]) {
            if (!d.is_number_unsigned()) throw tensor_bad("shape " + entry["shape"].dump() + " is not a list of sizes");
            const uint64_t size = d.get<uint64_t>();
            // Checked before multiplying, which could overflow and wrap to a small count.
            if (size > data_size || (size && count > data_size / size))
                throw tensor_bad("shape " + entry["shape"].dump() + " exceeds the file");
            t.shape.push_back(int64_t(size));
            count *= size;
        }
        auto& off = entry["data_offsets"];
        if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
            throw tensor_bad("data_offsets is not [begin, end]");
        const uint64_t begin = off[0], end = off[1];
        if (begin > end || end > data_size)
            throw tensor_bad("data [" + std::to_string(begin) + ", " + std::to_string(end) +
                             ") lies outside the " + std::to_string(data_size) + " data bytes (truncated file?)");
        if (end - begin != count * item)
            throw tensor_bad("holds " + std::to_string(end - begin) + " bytes but shape " +
                             entry["shape"].dump() + " needs " + std::to_string(count * item));
        t.data.resize(count);
        in.seekg(std::streamoff(8 + header_size + begin));
        if (int64) {
            std::vector<int64_t> counters(count);
            if (!in.read(reinterpret_cast<char*>(counters.data()), std::streamsize(count * 8)))
                throw tensor_bad("cannot read its data");
            for (size_t i = 0; i < count; ++i) t.data[i] = float(counters[i]);
        } else if (!in.read(reinterpret_cast<char*>(t.data.data()), std::streamsize(count * 4))) {
            throw tensor_bad("cannot read its data");
        }
        out.emplace(name, std::move(t));
    }
    return out;
}

void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    json h = json::object();
    uint64_t offset = 0;
    for (const auto& t : tensors) {
        uint64_t count = 1;
        for (auto d : t.shape) count *= uint64_t(d);
        h[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + count * 4}}};
        offset += count * 4;
    }
    if (!metadata.empty()) h["__metadata__"] = metadata;
    std::string header = h.dump();
    header.append((8 - header.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
    write_file_atomic(path, [&](std::FILE* f) {
        uint8_t size_bytes[8];
        for (int i = 0; i < 8; ++i) size_bytes[i] = uint8_t(uint64_t(header.size()) >> (8 * i));
        std::fwrite(size_bytes, 1, 8, f);
        std::fwrite(header.data(), 1, header.size(), f);
        for (const auto& t : tensors) {
            uint64_t count = 1;
            for (auto d : t.shape) count *= uint64_t(d);
            std::fwrite(t.data, 4, count, f);
        }
    });
}

std::vector<NamedTensor> named_tensors(const ParamStore& params) {
    std::vector<NamedTensor> tensors;
    for (int i = 0; i < int(params.list().size()); ++i)
        tensors.push_back({params.param(i).name, params.param(i).dims, params.value(i)});
    for (int i = 0; i < int(params.buffer_list().size()); ++i)
        tensors.push_back({params.buffer_list()[size_t(i)].name, params.buffer_list()[size_t(i)].dims, params.buffer(i)});
    return tensors;
}

void save_weights(const std::string& path, const ParamStore& params, const std::string& model_text) {
    std::map<std::string, std::string> metadata{{"format", "pt"},
                                                {"googlenet.format_version", std::to_string(kFileFormatVersion)}};
    if (!model_text.empty()) metadata["googlenet.model"] = model_text;
    write_safetensors(path, named_tensors(params), metadata);
}

static std::string dims_str(const std::vector<int64_t>& dims) {
    std::string s = "[";
    for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
    return s + "]";
}

void load_weights(const std::string& path, ParamStore& params) {
    std::map<std::string, std::string> metadata;
    TensorMap tensors = read_safetensors(path, &metadata);
    check_format_version(path, metadata);
    assign_params(params, tensors, path);
}

void assign_params(ParamStore& params, const TensorMap& file, const std::string& path, const std::string& other_prefix) {
    if (!params.allocated()) params.allocate();
    auto check = [&](const Param& p) {
        auto it = file.find(p.name);
        if (it == file.end()) throw Error(path + ": tensor '" + p.name + "' is missing");
        if (it->second.shape != p.dims)
            throw Error(path + ": tensor '" + p.name + "' has shape " + dims_str(it->second.shape) +
                        ", the model needs " + dims_str(p.dims));
    };
    for (const Param& p : params.list()) check(p);
    for (const Param& b : params.buffer_list()) check(b);
    for (const auto& [name, t] : file) {
        const bool other = !other_prefix.empty() && name.compare(0, other_prefix.size(), other_prefix) == 0;
        if (!other && params.find(name) < 0 && params.find_buffer(name) < 0)
            throw Error(path + ": tensor '" + name + "' is not a parameter of this model");
    }
    for (int i = 0; i < int(params.list().size()); ++i) {
        const auto& t = file.at(params.param(i).name);
        std::copy(t.data.begin(), t.data.end(), params.value(i));
    }
    for (int i = 0; i < int(params.buffer_list().size()); ++i) {
        const auto& t = file.at(params.buffer_list()[size_t(i)].name);
        std::copy(t.data.begin(), t.data.end(), params.buffer(i));
    }
}

}  // namespace googlenet
