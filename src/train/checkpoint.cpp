#include "train/checkpoint.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <type_traits>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "googlenet/io.h"

namespace googlenet {

using json = nlohmann::json;

namespace {

// One list of the settings serves writing and reading, so none can be saved and not restored.
template <class Config, class Visit>
void config_fields(Config& c, Visit&& f) {
    f("model", c.model);
    f("epochs", c.epochs);
    f("batch_size", c.batch_size);
    f("lr", c.lr);
    f("momentum", c.momentum);
    f("weight_decay", c.weight_decay);
    f("nesterov", c.nesterov);
    f("lr_schedule", c.lr_schedule);
    f("lr_step_epochs", c.lr_step_epochs);
    f("lr_gamma", c.lr_gamma);
    f("warmup_epochs", c.warmup_epochs);
    f("resize", c.resize);
    f("threads", c.engine.threads);
    f("seed", c.seed);
    f("data_dir", c.data_dir);
    f("train_limit", c.train_limit);
    f("test_limit", c.test_limit);
    f("init", c.init_weights);
    f("shuffle", c.shuffle);
    f("out_dir", c.out_dir);
    f("log_every", c.log_every);
    f("checkpoint_every", c.checkpoint_every);
    // Added after the first release: read when present, so older checkpoints still resume.
    f.optional("train_folder", c.train_folder);
    f.optional("val_folder", c.val_folder);
    f.optional("data_threads", c.data_threads);
    f.optional("skip_bad_images", c.skip_bad_images);
    f.optional("parallel", c.engine.parallel);
    f.optional("layout", c.engine.layout);
    f.optional("winograd_max_tile", c.engine.winograd_max_tile);
    f.optional("precision", c.engine.precision);
    f.optional("fold_batch_norm", c.engine.fold_batch_norm);
}

template <class Stats, class Visit>
void epoch_fields(Stats& s, Visit&& f) {
    f("epoch", s.epoch);
    f("step", s.step);
    f("loss", s.loss);
    f("train_acc", s.train_acc);
    f("test_loss", s.test_loss);
    f("test_acc", s.test_acc);
    f("lr", s.lr);
    f("img_per_sec", s.images_per_sec);
    f("wall_time", s.seconds);
}

template <class State, class Visit>
void state_fields(State& st, Visit&& f) {
    f("epoch", st.epoch);
    f("batch", st.batch);
    f("step", st.step);
    f("loss_sum", st.loss_sum);
    f("hits", st.hits);
    f("seen", st.seen);
    f("epoch_seconds", st.epoch_seconds);
    f("run_seconds", st.run_seconds);
    f("metrics_bytes", st.metrics_bytes);
    f("sgd_started", st.sgd_started);
}

struct Writer {
    json& out;
    // A float as the shortest decimal that reads back as the same float (0.1, not 0.10000000149).
    void operator()(const char* key, float v) const { out[key] = std::stod(fmt::format("{}", v)); }
    void operator()(const char* key, Parallel v) const { out[key] = to_string(v); }
    void operator()(const char* key, Layout v) const { out[key] = to_string(v); }
    void operator()(const char* key, Precision v) const { out[key] = to_string(v); }
    template <class T>
    void operator()(const char* key, const T& v) const { out[key] = v; }
    template <class T>
    void optional(const char* key, const T& v) const { (*this)(key, v); }
};

// Reads a field only if its JSON type and range fit the C++ one: a checkpoint is outside bytes,
// and converting an out-of-range number would be undefined behaviour.
struct Reader {
    const json& in;
    template <class T>
    void optional(const char* key, T& out) const {
        if (in.is_object() && in.contains(key)) (*this)(key, out);
    }
    template <class T>
    void operator()(const char* key, T& out) const {
        if (!in.is_object() || !in.contains(key)) throw Error(std::string("'") + key + "' is missing");
        const json& v = in[key];
        auto bad = [&] { return Error(std::string("'") + key + "' has an unusable value " + v.dump()); };
        if constexpr (std::is_same_v<T, bool>) {
            if (!v.is_boolean()) throw bad();
            out = v.get<bool>();
        } else if constexpr (std::is_integral_v<T>) {
            if (v.is_number_unsigned()) {
                if (v.get<uint64_t>() > uint64_t(std::numeric_limits<T>::max())) throw bad();
                out = T(v.get<uint64_t>());
            } else if (v.is_number_integer()) {
                const int64_t i = v.get<int64_t>();
                if (i < int64_t(std::numeric_limits<T>::min())) throw bad();  // only negatives reach here
                out = T(i);
            } else {
                throw bad();
            }
        } else if constexpr (std::is_floating_point_v<T>) {
            if (!v.is_number() || std::abs(v.get<double>()) > double(std::numeric_limits<T>::max())) throw bad();
            out = T(v.get<double>());
        } else if constexpr (std::is_same_v<T, Parallel> || std::is_same_v<T, Layout> || std::is_same_v<T, Precision>) {
            if (!v.is_string()) throw bad();
            const std::string what = std::string("'") + key + "'";
            if constexpr (std::is_same_v<T, Parallel>)
                out = parse_parallel(v.get<std::string>(), what);
            else if constexpr (std::is_same_v<T, Layout>)
                out = parse_layout(v.get<std::string>(), what);
            else
                out = parse_precision(v.get<std::string>(), what);
        } else {
            if (!v.is_string()) throw bad();
            out = v.get<std::string>();
        }
    }
};

json to_json(const TrainConfig& c) {
    json j = json::object();
    config_fields(c, Writer{j});
    return j;
}

}  // namespace

std::string config_json(const TrainConfig& config) { return to_json(config).dump(2) + "\n"; }

TrainConfig read_config_json(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
    TrainConfig c;
    try {
        config_fields(c, Reader{json::parse(in)});
    } catch (const json::exception& e) {
        throw Error(path + ": malformed settings (" + e.what() + ")");
    } catch (const Error& e) {
        throw Error(path + ": malformed settings (" + e.what() + ")");
    }
    return c;
}

std::vector<SettingDifference> differing_settings(const TrainConfig& given, const TrainConfig& run,
                                                  const std::vector<std::string>& keys) {
    const json a = to_json(given), b = to_json(run);
    // Folders and files are the same when they name the same place ("runs/x" and "./runs/x/").
    auto same_place = [](const json& x, const json& y) {
        std::error_code ea, eb;
        const auto px = std::filesystem::weakly_canonical(x.get<std::string>(), ea);
        const auto py = std::filesystem::weakly_canonical(y.get<std::string>(), eb);
        return !ea && !eb && px == py;
    };
    std::vector<SettingDifference> out;
    for (const std::string& key : keys) {
        if (!a.contains(key) || !b.contains(key)) throw Error("internal: no setting '" + key + "'");
        const json &x = a[key], &y = b[key];
        if (x == y || (x.is_string() && y.is_string() && same_place(x, y))) continue;
        out.push_back({key, x.dump(), y.dump()});
    }
    return out;
}

void save_checkpoint(const std::string& path, const ParamStore& params, Sgd& sgd, const TrainConfig& config,
                     const RunState& st) {
    std::vector<NamedTensor> tensors = named_tensors(params);
    if (sgd.momentum_buffer().size())
        tensors.push_back({"optimizer.momentum_buffer", {int64_t(sgd.momentum_buffer().size())}, sgd.momentum_buffer().data()});
    json history = json::array();
    for (const auto& e : st.history) {
        history.push_back(json::object());
        epoch_fields(e, Writer{history.back()});
    }
    // Doubles go through JSON losslessly (nlohmann prints the shortest exact form).
    RunState saved = st;
    saved.sgd_started = sgd.started();
    json state = json::object();
    state_fields(saved, Writer{state});
    state["history"] = history;
    write_safetensors(path, tensors,
                      {{"format", "pt"}, {"googlenet.format_version", std::to_string(kFileFormatVersion)},
                       {"googlenet.config", to_json(config).dump()}, {"googlenet.state", state.dump()},
                       {"googlenet.model", st.model_text}});
}

void read_checkpoint(const std::string& path, TrainConfig& config, RunState& st, TensorMap& tensors) {
    std::map<std::string, std::string> meta;
    tensors = read_safetensors(path, &meta);
    check_format_version(path, meta);
    if (!meta.count("googlenet.config") || !meta.count("googlenet.state"))
        throw Error(path + ": not a googlenet checkpoint (no googlenet.config/googlenet.state metadata)");
    try {
        const json c = json::parse(meta["googlenet.config"]);
        const json s = json::parse(meta["googlenet.state"]);
        config = TrainConfig{};
        config_fields(config, Reader{c});
        state_fields(st, Reader{s});
        if (!s.contains("history") || !s["history"].is_array()) throw Error("'history' is missing or not a list");
        st.model_text = meta.count("googlenet.model") ? meta["googlenet.model"] : "";
        st.history.clear();
        for (const json& e : s["history"]) {
            st.history.emplace_back();
            epoch_fields(st.history.back(), Reader{e});
        }
    } catch (const json::exception& e) {
        throw Error(path + ": malformed checkpoint metadata (" + e.what() + ")");
    } catch (const Error& e) {
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
