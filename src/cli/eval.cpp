// googlenet eval: test loss and accuracy, per-class accuracy and the confusion matrix (printed, or
// one JSON document, and written as PNG, SVG and CSV).
#include <fmt/format.h>

#include <memory>

#include "cli/cli.h"
#include "googlenet/image_folder.h"
#include "googlenet/io.h"
#include "googlenet/models.h"
#include "googlenet/plot.h"
#include "googlenet/trainer.h"

namespace googlenet::cli {
namespace {

struct EvalOptions {
    std::string weights, model, data_dir = kFashionMnistDir, val_folder, out_dir;
    int resize = 0, batch_size = 128, test_limit = 0, data_threads = 2;
    Options engine = {0, Parallel::batch};
    bool json = false, dump_config = false;
};

nlohmann::ordered_json settings(const EvalOptions& o) {
    nlohmann::ordered_json j{{"weights", o.weights},       {"model", o.model},         {"data_dir", o.data_dir},
                             {"val_folder", o.val_folder}, {"out", o.out_dir},         {"resize", o.resize},
                             {"batch_size", o.batch_size}, {"test_limit", o.test_limit}};
    add_engine_settings(j, o.engine);
    j["data_threads"] = o.data_threads;
    return j;
}

std::string folder_of(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
}

int run_eval(EvalOptions o) {  // a copy: the engine settled for this CPU
    if (o.dump_config) {
        std::printf("%s\n", settings(o).dump(2).c_str());
        return kSuccess;
    }
    note_thread_limit(o.engine.threads);
    settle_precision(o.engine);
    const Output out{o.json};
    const bool folder = !o.val_folder.empty();  // an image folder instead of Fashion-MNIST's test set
    const ModelSpec own = model_for_weights(o.weights, o.model);
    const ModelSpec spec = folder ? own : model_for_fashion_mnist(own);
    const int size = o.resize > 0 ? o.resize : spec.input_size;
    Net net = build_net(spec, size);
    net.set_options(resolved(o.engine));
    load_weights(o.weights, net);
    EvalResult r;
    std::vector<std::string> classes;
    if (folder) {
        const ImageFolder val = scan_image_folder(o.val_folder);
        if (int(val.classes.size()) != spec.classes)
            throw Error(fmt::format("{} has {} classes but model '{}' has {}", o.val_folder, val.classes.size(), spec.name,
                                    spec.classes));
        ImageTransform t;
        t.channels = spec.in_channels;
        t.size = size;
        t.train = false;
        FolderLoader loader(val, o.batch_size, t, false, 0, o.data_threads, true);
        r = evaluate(net, loader);
        classes = val.classes;
    } else {
        const ImageSet test_set = load_fashion_mnist(o.data_dir, "test", o.test_limit);
        r = evaluate(net, test_set, o.batch_size, size);
        classes.assign(kFashionMnistClasses, kFashionMnistClasses + 10);
    }
    const int k = net.classes();
    auto at = [&](int t, int p) { return r.confusion[size_t(t * k + p)]; };
    std::FILE* f = out.text();
    std::fprintf(f, "test loss %.4f, test acc %.4f (%d images)\n", r.loss, r.accuracy, r.count);
    std::fprintf(f, "\n%-12s %8s %8s %9s\n", "class", "correct", "images", "accuracy");
    nlohmann::ordered_json per_class = nlohmann::ordered_json::array(), matrix = nlohmann::ordered_json::array();
    for (int t = 0; t < k; ++t) {
        long total = 0;
        for (int p = 0; p < k; ++p) total += at(t, p);
        std::fprintf(f, "%-12s %8ld %8ld %9s\n", classes[size_t(t)].c_str(), at(t, t), total,
                     total ? fmt::format("{:.4f}", double(at(t, t)) / double(total)).c_str() : "-");
        per_class.push_back({{"class", classes[size_t(t)]}, {"correct", at(t, t)}, {"images", total},
                             {"accuracy", total ? nlohmann::ordered_json(double(at(t, t)) / double(total)) : nullptr}});
    }
    std::fprintf(f, "\nconfusion matrix (rows: true class, columns: predicted class)\n%-14s", "");
    for (int p = 0; p < k; ++p) std::fprintf(f, " %5d", p);
    std::fprintf(f, "\n");
    std::string csv = "true\\predicted";
    for (const auto& name : classes) csv += "," + name;
    csv += "\n";
    for (int t = 0; t < k; ++t) {
        std::fprintf(f, "%d %-12s", t, classes[size_t(t)].c_str());
        csv += classes[size_t(t)];
        matrix.push_back(nlohmann::ordered_json::array());
        for (int p = 0; p < k; ++p) {
            std::fprintf(f, " %5ld", at(t, p));
            csv += "," + std::to_string(at(t, p));
            matrix.back().push_back(at(t, p));
        }
        std::fprintf(f, "\n");
        csv += "\n";
    }

    const std::string stem = (o.out_dir.empty() ? folder_of(o.weights) : o.out_dir) + "/confusion";
    draw_confusion_matrix(r.confusion, classes,
                          fmt::format("{}: test acc {:.4f} ({} images)", o.weights.substr(o.weights.find_last_of('/') + 1),
                                      r.accuracy, r.count),
                          stem);
    write_file_atomic(stem + ".csv", [&](std::FILE* file) { std::fwrite(csv.data(), 1, csv.size(), file); });
    std::fprintf(f, "\nwritten: %s.png, %s.svg, %s.csv\n", stem.c_str(), stem.c_str(), stem.c_str());
    if (o.json)
        out.emit({{"googlenet", about_json()},
                  {"model", spec.name},
                  {"weights", o.weights},
                  {"precision", to_string(o.engine.precision)},
                  {"data", folder ? o.val_folder : o.data_dir},
                  {"images", r.count},
                  {"test_loss", r.loss},
                  {"test_acc", r.accuracy},
                  {"classes", per_class},
                  {"confusion", matrix},
                  {"files", {stem + ".png", stem + ".svg", stem + ".csv"}}});
    return kSuccess;
}

}  // namespace

Command add_eval(CLI::App& app) {
    auto o = std::make_shared<EvalOptions>();
    CLI::App* cmd =
        app.add_subcommand("eval", "Test loss, accuracy, per-class accuracy and the confusion matrix of a weights file");
    cmd->add_option("-w,--weights", o->weights, "Weights file (safetensors, PyTorch state_dict names)")
        ->required()
        ->check(CLI::ExistingFile);
    add_model_option(cmd, o->model, "the model kept in the weights file, else d2l");
    cmd->add_option("--data-dir", o->data_dir, "Folder with Fashion-MNIST's IDX files (*-idx?-ubyte.gz)")->capture_default_str();
    cmd->add_option("--val-folder", o->val_folder,
                    "Evaluate on this image folder (one sub-folder per class) instead of Fashion-MNIST's test set")
        ->check(CLI::ExistingDirectory);
    cmd->add_option("-o,--out", o->out_dir, "Folder for confusion.png, .svg and .csv (default: the weights file's folder)")
        ->check(CLI::ExistingDirectory);
    cmd->add_option("--resize", o->resize, "Resize the 28x28 images to this size (PIL bilinear; 0: the model's input size)")
        ->capture_default_str()
        ->check(CLI::Range(0, 4096));
    cmd->add_option("-b,--batch-size", o->batch_size, "Images per batch")->capture_default_str()->check(CLI::Range(1, 1 << 20));
    cmd->add_option("--test-limit", o->test_limit, "Use only the first N test images (0: all)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    add_engine_options(cmd, o->engine);
    cmd->add_option("-j,--data-threads", o->data_threads, "Threads decoding image-folder images ahead of compute")
        ->capture_default_str()
        ->check(CLI::Range(1, 256));
    add_json_flag(cmd, o->json, "One JSON document", "loss, accuracy, per-class accuracy, the confusion matrix");
    add_config_options(cmd, o->dump_config);
    return {cmd, [o] { return run_eval(*o); }};
}

}  // namespace googlenet::cli
