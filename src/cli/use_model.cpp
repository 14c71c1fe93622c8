// predict, export and import: a trained network used here, or carried to and from other runtimes.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "cli/commands.h"
#include "googlenet/data.h"
#include "googlenet/image.h"
#include "googlenet/image_folder.h"
#include "googlenet/io.h"
#include "googlenet/models.h"
#include "googlenet/onnx.h"
#include "googlenet/trainer.h"

namespace googlenet::cli {
namespace {

// Class names: one per line of `path` (as ImageNet's synset lists come), or Fashion-MNIST's for a
// 10-class grey model, or "class N".
std::vector<std::string> class_names(const std::string& path, const ModelSpec& spec) {
    std::vector<std::string> names;
    if (path.empty()) {
        for (int c = 0; c < spec.classes; ++c)
            names.push_back(spec.in_channels == 1 && spec.classes == 10 ? kFashionMnistClasses[c] : "class " + std::to_string(c));
        return names;
    }
    std::ifstream in(path);
    if (!in) throw Error("--labels " + path + ": cannot open (" + std::strerror(errno) + ")");
    for (std::string line; std::getline(in, line);) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (!line.empty()) names.push_back(line);
    }
    if (int(names.size()) != spec.classes)
        throw Error(fmt::format("--labels {}: {} names for model '{}', which has {} classes (one name per line)", path,
                                names.size(), spec.name, spec.classes));
    return names;
}

}  // namespace

int run_predict(const PredictOptions& o) {
    if (o.images.empty() == o.tensor.empty()) throw Error("predict takes images or --tensor FILE (one of the two)");
    const ModelSpec spec = load_model(o.model);
    const int size = o.resize > 0 ? o.resize : spec.input_size;
    const int k = spec.classes;
    const std::vector<std::string> names = class_names(o.labels, spec);
    Net net = build_net(spec, size);
    net.set_training(false);  // dropout off, batch norm on its running statistics
    net.set_threads(resolve_threads(o.threads));
    net.set_batch_split(o.parallel == "batch");
    load_weights(o.weights, net);
    // Prepared as in training: a grey model as Fashion-MNIST's pictures, an RGB one as image
    // folders' validation images (resize, centre crop, ImageNet normalisation).
    ImageTransform rgb;
    rgb.size = size;
    rgb.train = false;
    auto prepare_image = [&](const std::string& path) {
        if (spec.in_channels == 1) return prepare_fashion_mnist_input(read_image(path), size);
        if (spec.in_channels == 3) return transform_image(read_image_rgb(path), rgb, 0);
        throw Error(fmt::format("model '{}' takes {}-channel images; predict reads grey or RGB ones", spec.name,
                                spec.in_channels));
    };
    // Or rows of a tensor prepared elsewhere (to compare runtimes on the very same numbers).
    std::vector<std::string> sources = o.images;
    LoadedTensor rows;
    const size_t row_size = size_t(spec.in_channels) * size_t(size) * size_t(size);
    if (!o.tensor.empty()) {
        TensorMap t = read_safetensors(o.tensor);
        if (!t.count("input") || t.size() != 1)
            throw Error("--tensor " + o.tensor + ": expected one tensor, named \"input\"");
        rows = std::move(t["input"]);
        const std::vector<int64_t> want{spec.in_channels, size, size};
        if (rows.shape.size() != 4 || !std::equal(want.begin(), want.end(), rows.shape.begin() + 1))
            throw Error(fmt::format("--tensor {}: \"input\" is [{}], model '{}' at size {} takes [N, {}, {}, {}]", o.tensor,
                                    fmt::join(rows.shape, ", "), spec.name, size, spec.in_channels, size, size));
        for (int64_t i = 0; i < rows.shape[0]; ++i) sources.push_back(fmt::format("{}[{}]", o.tensor, i));
    }
    auto prepare = [&](size_t i) {
        if (o.tensor.empty()) return prepare_image(sources[i]);
        const float* row = rows.data.data() + i * row_size;
        return std::vector<float>(row, row + row_size);
    };
    std::vector<std::string> errors(sources.size());
    std::vector<std::vector<float>> probabilities(sources.size()), all_logits(sources.size());
    std::vector<size_t> batch;
    std::vector<float> inputs;
    auto flush = [&] {
        if (batch.empty()) return;
        net.set_batch(int(batch.size()));
        const float* logits = net.forward(inputs.data());
        for (size_t b = 0; b < batch.size(); ++b) {
            const float* z = logits + b * size_t(k);
            all_logits[batch[b]].assign(z, z + k);
            const float m = *std::max_element(z, z + k);
            double sum = 0;
            for (int c = 0; c < k; ++c) sum += std::exp(double(z[c] - m));
            for (int c = 0; c < k; ++c) probabilities[batch[b]].push_back(float(std::exp(double(z[c] - m)) / sum));
        }
        batch.clear();
        inputs.clear();
    };
    for (size_t i = 0; i < sources.size(); ++i) {
        try {
            const std::vector<float> x = prepare(i);
            inputs.insert(inputs.end(), x.begin(), x.end());
            batch.push_back(i);
        } catch (const Error& e) {
            errors[i] = e.what();
        }
        if (int(batch.size()) == o.batch_size) flush();
    }
    flush();
    int failed = 0;
    for (size_t i = 0; i < sources.size(); ++i) {
        if (!errors[i].empty()) {
            ++failed;
            std::fprintf(stderr, "googlenet: error: %s\n", errors[i].c_str());
            if (o.json) std::printf("%s\n", nlohmann::json{{"path", sources[i]}, {"error", errors[i]}}.dump().c_str());
            continue;
        }
        std::vector<int> order(size_t(k), 0);
        std::iota(order.begin(), order.end(), 0);
        const auto& p = probabilities[i];
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return p[size_t(a)] > p[size_t(b)]; });
        nlohmann::json top = nlohmann::json::array();
        std::string line = sources[i] + ":";
        for (int t = 0; t < std::min(o.top, k); ++t) {
            const int c = order[size_t(t)];
            top.push_back({{"class", names[size_t(c)]}, {"index", c}, {"probability", p[size_t(c)]}});
            line += fmt::format("{} {} {:.4f}", t ? "," : "", names[size_t(c)], p[size_t(c)]);
        }
        nlohmann::json record{{"path", sources[i]}, {"top", top}};
        if (o.logits) record["logits"] = all_logits[i];
        if (o.json)
            std::printf("%s\n", record.dump().c_str());
        else
            std::printf("%s\n", line.c_str());
    }
    return failed ? 1 : 0;
}

// The ONNX graph's model file and weights, each written atomically once import_onnx has read the
// model file back and loaded the weights into the network it describes.
int run_import(const std::string& in, const std::string& out, std::string model_out, std::string name, int size) {
    const auto stem = [](const std::string& path, const std::string& ext) {
        const size_t slash = path.rfind('/');
        std::string base = path;
        if (path.size() > ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0)
            base = path.substr(0, path.size() - ext.size());
        return std::pair{base, base.substr(slash == std::string::npos ? 0 : slash + 1)};
    };
    if (model_out.empty()) model_out = stem(out, ".safetensors").first + ".json";
    if (name.empty()) name = stem(in, ".onnx").second;
    const ImportedModel imported = import_onnx(in, name, size);
    const Net& net = imported.net;
    save_weights(out, net.params());
    write_file_atomic(model_out, [&](std::FILE* f) {
        if (std::fputs(imported.model_text.c_str(), f) < 0) throw Error(model_out + ": write failed");
    });
    for (const auto& note : imported.notes) std::printf("note: %s\n", note.c_str());
    const Shape s = net.input_shape();
    std::printf("written: %s (model '%s', input %d x %d x %d, %d classes) and %s\n", model_out.c_str(), imported.spec.name.c_str(), s.c,
                s.h, s.w, net.classes(), out.c_str());
    return 0;
}

int run_export(const std::string& weights, const std::string& model, int size, const std::string& out) {
    const ModelSpec spec = load_model(model);
    Net net = build_net(spec, size);
    load_weights(weights, net);
    export_onnx(net, spec.name + (spec.description.empty() ? "" : ": " + spec.description), out);
    const Shape in = net.input_shape();
    std::printf("written: %s (model '%s', input N x %d x %d x %d, output N x %d logits)\n", out.c_str(), spec.name.c_str(),
                in.c, in.h, in.w, net.classes());
    return 0;
}

}  // namespace googlenet::cli
