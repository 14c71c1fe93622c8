#include "train/checkpoint.h"

#include <cstring>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "googlenet/io.h"

namespace googlenet {

using json = nlohmann::json;

namespace {

// A float as the shortest decimal that reads back as the same float (0.1, not 0.10000000149).
double shortest(float f) { return std::stod(fmt::format("{}", f)); }

json to_json(const TrainConfig& c) {
    return {{"model", "d2l"},
            {"epochs", c.epochs},
            {"batch_size", c.batch_size},
            {"lr", shortest(c.lr)},
            {"momentum", shortest(c.momentum)},
            {"weight_decay", shortest(c.weight_decay)},
            {"nesterov", c.nesterov},
            {"lr_schedule", c.lr_schedule},
            {"lr_step_epochs", c.lr_step_epochs},
            {"lr_gamma", c.lr_gamma},
            {"warmup_epochs", c.warmup_epochs},
            {"resize", c.resize},
            {"threads", c.threads},
            {"seed", c.seed},
            {"data_dir", c.data_dir},
            {"train_limit", c.train_limit},
            {"test_limit", c.test_limit},
            {"init", c.init_weights},
            {"shuffle", c.shuffle},
            {"out_dir", c.out_dir},
            {"log_every", c.log_every},
            {"checkpoint_every", c.checkpoint_every}};
}

TrainConfig config_from_json(const json& j) {
    TrainConfig c;
    c.epochs = j.at("epochs");
    c.batch_size = j.at("batch_size");
    c.lr = j.at("lr");
    c.momentum = j.at("momentum");
    c.weight_decay = j.at("weight_decay");
    c.nesterov = j.at("nesterov");
    c.lr_schedule = j.at("lr_schedule");
    c.lr_step_epochs = j.at("lr_step_epochs");
    c.lr_gamma = j.at("lr_gamma");
    c.warmup_epochs = j.at("warmup_epochs");
    c.resize = j.at("resize");
    c.threads = j.at("threads");
    c.seed = j.at("seed");
    c.data_dir = j.at("data_dir");
    c.train_limit = j.at("train_limit");
    c.test_limit = j.at("test_limit");
    c.init_weights = j.at("init");
    c.shuffle = j.at("shuffle");
    c.out_dir = j.at("out_dir");
    c.log_every = j.at("log_every");
    c.checkpoint_every = j.at("checkpoint_every");
    return c;
}

json epoch_json(const EpochStats& s) {
    return {{"epoch", s.epoch},     {"step", s.step},         {"loss", s.loss},
            {"train_acc", s.train_acc}, {"test_loss", s.test_loss}, {"test_acc", s.test_acc},
            {"lr", s.lr},           {"img_per_sec", s.images_per_sec}, {"wall_time", s.seconds}};
}

EpochStats epoch_from_json(const json& j) {
    EpochStats s;
    s.epoch = j.at("epoch");
    s.step = j.at("step");
    s.loss = j.at("loss");
    s.train_acc = j.at("train_acc");
    s.test_loss = j.at("test_loss");
    s.test_acc = j.at("test_acc");
    s.lr = j.at("lr");
    s.images_per_sec = j.at("img_per_sec");
    s.seconds = j.at("wall_time");
    return s;
}

}  // namespace

std::string config_json(const TrainConfig& config) { return to_json(config).dump(2) + "\n"; }

void save_checkpoint(const std::string& path, const ParamStore& params, Sgd& sgd, const TrainConfig& config,
                     const RunState& st) {
    std::vector<NamedTensor> tensors;
    for (int i = 0; i < int(params.list().size()); ++i)
        tensors.push_back({params.param(i).name, params.param(i).dims, params.value(i)});
    if (sgd.momentum_buffer().size())
        tensors.push_back({"optimizer.momentum_buffer", {int64_t(sgd.momentum_buffer().size())}, sgd.momentum_buffer().data()});
    json history = json::array();
    for (const auto& e : st.history) history.push_back(epoch_json(e));
    // Doubles go through JSON losslessly (nlohmann prints the shortest exact form).
    json state = {{"epoch", st.epoch},       {"batch", st.batch},           {"step", st.step},
                  {"loss_sum", st.loss_sum}, {"hits", st.hits},             {"seen", st.seen},
                  {"epoch_seconds", st.epoch_seconds}, {"run_seconds", st.run_seconds},
                  {"metrics_bytes", st.metrics_bytes}, {"sgd_started", sgd.started()}, {"history", history}};
    write_safetensors(path, tensors,
                      {{"format", "pt"}, {"googlenet.config", to_json(config).dump()}, {"googlenet.state", state.dump()}});
}

void read_checkpoint(const std::string& path, TrainConfig& config, RunState& st, TensorMap& tensors) {
    std::map<std::string, std::string> meta;
    tensors = read_safetensors(path, &meta);
    if (!meta.count("googlenet.config") || !meta.count("googlenet.state"))
        throw Error(path + ": not a googlenet checkpoint (no googlenet.config/googlenet.state metadata)");
    try {
        config = config_from_json(json::parse(meta["googlenet.config"]));
        const json s = json::parse(meta["googlenet.state"]);
        st.epoch = s.at("epoch");
        st.batch = s.at("batch");
        st.step = s.at("step");
        st.loss_sum = s.at("loss_sum");
        st.hits = s.at("hits");
        st.seen = s.at("seen");
        st.epoch_seconds = s.at("epoch_seconds");
        st.run_seconds = s.at("run_seconds");
        st.metrics_bytes = s.at("metrics_bytes");
        st.history.clear();
        for (const auto& e : s.at("history")) st.history.push_back(epoch_from_json(e));
        st.sgd_started = s.at("sgd_started");
    } catch (const json::exception& e) {
        throw Error(path + ": malformed checkpoint metadata (" + e.what() + ")");
    }
}

void load_checkpoint_tensors(const std::string& path, const TensorMap& tensors, ParamStore& params, Sgd& sgd,
                             bool sgd_started) {
    TensorMap weights;
    for (const auto& [name, t] : tensors)
        if (name.rfind("optimizer.", 0) != 0) weights.emplace(name, t);
    assign_params(params, weights, path);
    Buffer& m = sgd.momentum_buffer();
    auto it = tensors.find("optimizer.momentum_buffer");
    if (m.size()) {
        if (it == tensors.end() || it->second.data.size() != m.size())
            throw Error(path + ": tensor 'optimizer.momentum_buffer' is missing or has the wrong size");
        std::memcpy(m.data(), it->second.data.data(), m.size() * sizeof(float));
    }
    sgd.set_started(sgd_started);
}

}  // namespace googlenet
