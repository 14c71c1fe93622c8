// predict, export, import and summary: a trained network used here, carried to and from other
// runtimes, or described.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>

#include <memory>

#include "cli/cli.h"
#include "googlenet/summary.h"
#include "googlenet/data.h"
#include "googlenet/image.h"
#include "googlenet/image_folder.h"
#include "googlenet/io.h"
#include "googlenet/models.h"
#include "googlenet/onnx.h"
#include "googlenet/trainer.h"

namespace googlenet::cli {
namespace {

struct PredictOptions {
    std::string weights;
    std::vector<std::string> images;
    std::string model, labels;
    std::string tensor;  // instead of images: a safetensors file with "input", N x C x H x W, prepared
    Options engine = {0, Parallel::batch};
    int top = 3, resize = 0, batch_size = 64;
    bool json = false, logits = false;
};

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

// Top-k classes of each image (or row of --tensor); unreadable images are reported and the others
// still answered. Returns the exit status.
int run_predict(PredictOptions o) {  // a copy: the engine settled for this CPU
    if (o.images.empty() == o.tensor.empty()) throw UsageError("predict takes images or --tensor FILE (one of the two)");
    if (o.logits && !o.json) throw UsageError("--logits needs --json");
    note_thread_limit(o.engine.threads);
    settle_precision(o.engine);
    const ModelSpec spec = model_for_weights(o.weights, o.model);
    const int size = o.resize > 0 ? o.resize : spec.input_size;
    const int k = spec.classes;
    const std::vector<std::string> names = class_names(o.labels, spec);
    Net net = build_net(spec, size);
    net.set_training(false);  // dropout off, batch norm on its running statistics
    net.set_options(resolved(o.engine));
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
    nlohmann::ordered_json predictions = nlohmann::ordered_json::array();
    for (size_t i = 0; i < sources.size(); ++i) {
        if (!errors[i].empty()) {
            ++failed;
            std::fprintf(stderr, "googlenet: error: %s\n", errors[i].c_str());
            predictions.push_back({{"path", sources[i]}, {"error", errors[i]}});
            continue;
        }
        std::vector<int> order(size_t(k), 0);
        std::iota(order.begin(), order.end(), 0);
        const auto& p = probabilities[i];
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return p[size_t(a)] > p[size_t(b)]; });
        nlohmann::ordered_json top = nlohmann::ordered_json::array();
        std::string line = sources[i] + ":";
        for (int t = 0; t < std::min(o.top, k); ++t) {
            const int c = order[size_t(t)];
            top.push_back({{"class", names[size_t(c)]}, {"index", c}, {"probability", p[size_t(c)]}});
            line += fmt::format("{} {} {:.4f}", t ? "," : "", names[size_t(c)], p[size_t(c)]);
        }
        nlohmann::ordered_json record{{"path", sources[i]}, {"top", top}};
        if (o.logits) record["logits"] = all_logits[i];
        predictions.push_back(record);
        if (!o.json) std::printf("%s\n", line.c_str());
    }
    if (o.json)
        Output{true}.emit({{"googlenet", about_json()}, {"model", spec.name}, {"weights", o.weights},
                           {"precision", to_string(o.engine.precision)}, {"predictions", predictions}, {"failed", failed}});
    return failed ? kRuntimeError : kSuccess;
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
    save_weights(out, net.params(), imported.model_text);
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
    const ModelSpec spec = model_for_weights(weights, model);
    Net net = build_net(spec, size);
    load_weights(weights, net);
    export_onnx(net, spec.name + (spec.description.empty() ? "" : ": " + spec.description), out);
    const Shape in = net.input_shape();
    std::printf("written: %s (model '%s', input N x %d x %d x %d, output N x %d logits)\n", out.c_str(), spec.name.c_str(),
                in.c, in.h, in.w, net.classes());
    return 0;
}

int run_summary(const std::string& model, int size, bool json) {
    const ModelSpec spec = load_model(model);
    const Net net = build_net(spec, size);
    if (!json) {
        std::printf("%s (%s)%s%s\n", spec.name.c_str(), spec.source.c_str(), spec.description.empty() ? "" : ": ",
                    spec.description.c_str());
        std::fputs(summary(net).c_str(), stdout);
        return kSuccess;
    }
    auto shape = [](const Shape& s) { return nlohmann::ordered_json{s.c, s.h, s.w}; };
    nlohmann::ordered_json layers = nlohmann::ordered_json::array();
    int64_t parameters = 0, macs = 0, aux_parameters = 0, aux_macs = 0;
    for (const LayerSummary& l : googlenet::layers(net)) {
        (l.auxiliary ? aux_parameters : parameters) += l.parameters;
        (l.auxiliary ? aux_macs : macs) += l.macs;
        nlohmann::ordered_json j{{"layer", l.label}, {"output", shape(l.output)}, {"parameters", l.parameters},
                                 {"macs", l.macs}, {"auxiliary", l.auxiliary}};
        if (!l.block.empty()) j["block"] = l.block;
        layers.push_back(j);
    }
    Output{true}.emit({{"googlenet", about_json()},
                       {"model", spec.name},
                       {"source", spec.source},
                       {"description", spec.description},
                       {"input", shape(net.input_shape())},
                       {"classes", net.classes()},
                       {"parameters", parameters},
                       {"macs_per_image", macs},
                       {"auxiliary_parameters", aux_parameters},
                       {"auxiliary_macs", aux_macs},
                       {"layers", layers}});
    return kSuccess;
}

}  // namespace

Command add_predict(CLI::App& app) {
    auto o = std::make_shared<PredictOptions>();
    CLI::App* cmd = app.add_subcommand("predict", "Top classes of PNG or JPEG images");
    cmd->add_option("-w,--weights", o->weights, "Weights file (safetensors)")->required()->check(CLI::ExistingFile);
    cmd->add_option("images", o->images,
                    "PNG or JPEG files, prepared as in training (grey models: as Fashion-MNIST; RGB models: resize, centre "
                    "crop, ImageNet normalisation)");
    cmd->add_option("--tensor", o->tensor, "Instead of images: a safetensors file holding \"input\", N x C x H x W, already prepared")
        ->check(CLI::ExistingFile);
    cmd->add_option("--top", o->top, "How many classes to list per image")->capture_default_str()->check(CLI::Range(1, 1000000));
    cmd->add_option("--labels", o->labels, "Class names, one per line (default: Fashion-MNIST's for a grey 10-class model)")
        ->check(CLI::ExistingFile);
    add_model_option(cmd, o->model, "the model kept in the weights file, else d2l");
    cmd->add_option("--resize", o->resize, "The input size, as in training (0: the model's)")
        ->capture_default_str()
        ->check(CLI::Range(0, 4096));
    cmd->add_option("-b,--batch-size", o->batch_size, "Images per forward pass")->capture_default_str()->check(CLI::Range(1, 4096));
    add_engine_options(cmd, o->engine);
    add_json_flag(cmd, o->json, "One JSON document", "each image's path and top classes, or its error");
    cmd->add_flag("--logits", o->logits, "With --json: every class's logit too");
    return {cmd, [o] { return run_predict(*o); }};
}

Command add_export(CLI::App& app) {
    struct Options {
        std::string weights, model, out;
        int size = 0;
    };
    auto o = std::make_shared<Options>();
    CLI::App* cmd = app.add_subcommand("export", "Write a trained network as an ONNX model, for other runtimes");
    cmd->add_option("-w,--weights", o->weights, "Weights file (safetensors)")->required()->check(CLI::ExistingFile);
    add_model_option(cmd, o->model, "the model kept in the weights file, else d2l");
    cmd->add_option("--size", o->size, "Input height and width the graph takes (0: the model's)")
        ->capture_default_str()
        ->check(CLI::Range(0, 4096));
    cmd->add_option("--onnx", o->out, "The ONNX file to write (opset 13, any batch size)")->required();
    return {cmd, [o] { return run_export(o->weights, o->model, o->size, o->out); }};
}

Command add_import(CLI::App& app) {
    struct Options {
        std::string in, out, model_out, name;
        int size = 0;
    };
    auto o = std::make_shared<Options>();
    CLI::App* cmd = app.add_subcommand("import", "Turn an ONNX GoogLeNet-family graph into a model file and a weights file");
    cmd->add_option("--onnx", o->in, "The ONNX file to read")->required()->check(CLI::ExistingFile);
    cmd->add_option("-o,--out", o->out, "The weights file to write (safetensors; it keeps the model too)")->required();
    cmd->add_option("--model-out", o->model_out, "The model file to write (default: --out with .json for .safetensors)");
    cmd->add_option("--name", o->name, "The model's name (default: the ONNX file's name without .onnx)");
    cmd->add_option("--size", o->size, "Input height and width, where the graph's is not fixed (0: the graph's)")
        ->capture_default_str()
        ->check(CLI::Range(0, 4096));
    return {cmd, [o] { return run_import(o->in, o->out, o->model_out, o->name, o->size); }};
}

Command add_summary(CLI::App& app) {
    struct Options {
        std::string model = "d2l";
        int size = 0;
        bool json = false;
    };
    auto o = std::make_shared<Options>();
    CLI::App* cmd = app.add_subcommand("summary", "Each layer's output shape, parameters and multiply-adds");
    add_model_option(cmd, o->model, "d2l")->capture_default_str();
    cmd->add_option("--size", o->size, "Input height and width (0: the model's)")->capture_default_str()->check(CLI::Range(0, 4096));
    add_json_flag(cmd, o->json, "One JSON document", "the layers, their shapes, parameters and multiply-adds, the totals");
    return {cmd, [o] { return run_summary(o->model, o->size, o->json); }};
}

}  // namespace googlenet::cli
