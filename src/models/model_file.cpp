// Model files (docs/models.md): a network as JSON, laid out as PyTorch's nn.Sequential would hold
// it, so that every parameter's state_dict name follows from its position.
#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "googlenet/io.h"
#include "googlenet/models.h"

namespace googlenet {

extern const std::vector<std::pair<std::string, std::string>> kBuiltinModels;  // generated from models/*.json

namespace {

using json = nlohmann::json;

// Where in the file a problem is, as a path of keys and indices: body[3].layers[0].inception.
struct Where {
    std::string source, path;
    Where at(const std::string& key) const { return {source, path.empty() ? key : path + "." + key}; }
    Where at(size_t i) const { return {source, path + "[" + std::to_string(i) + "]"}; }
    Error error(const std::string& what) const { return Error(source + ": " + (path.empty() ? "" : path + ": ") + what); }
};

// Every count and size in a model file: far above any real network, and low enough that no
// product of them overflows while the network is laid out.
constexpr int64_t kMaxNumber = 1 << 16;

int positive_int(const json& j, const Where& w) {
    if (!j.is_number_integer() || j.get<int64_t>() < 1 || j.get<int64_t>() > kMaxNumber)
        throw w.error("expected a positive whole number, not " + j.dump());
    return j.get<int>();
}

int int_field(const json& op, const char* key, int fallback, int minimum, const Where& w) {
    if (!op.contains(key)) {
        if (fallback < 0) throw w.error(std::string("'") + key + "' is missing");
        return fallback;
    }
    const json& v = op[key];
    if (!v.is_number_integer() || v.get<int64_t>() < minimum || v.get<int64_t>() > kMaxNumber)
        throw w.at(key).error(fmt::format("expected a whole number of at least {}, not {}", minimum, v.dump()));
    return v.get<int>();
}

float number_field(const json& op, const char* key, double fallback, const Where& w) {
    if (!op.contains(key)) {
        if (fallback < 0) throw w.error(std::string("'") + key + "' is missing");
        return float(fallback);
    }
    const json& v = op[key];
    if (!v.is_number() || !(std::abs(v.get<double>()) <= 1e30))
        throw w.at(key).error("expected a number, not " + v.dump());
    return v.get<float>();
}

void only_keys(const json& op, std::initializer_list<const char*> keys, const Where& w) {
    for (const auto& [key, value] : op.items()) {
        bool known = false;
        std::string list;
        for (const char* k : keys) {
            known = known || key == k;
            list += (list.empty() ? "" : ", ") + std::string(k);
        }
        if (!known) throw w.error("unknown key '" + key + "' (it takes " + list + ")");
    }
}

InceptionSpec inception_spec(const json& j, const Where& w) {
    const char* shape = "expected [c1, [c2_reduce, c2], [c3_reduce, c3], c4]";
    if (!j.is_array() || j.size() != 4 || !j[1].is_array() || j[1].size() != 2 || !j[2].is_array() ||
        j[2].size() != 2)
        throw w.error(std::string(shape) + ", not " + j.dump());
    return {positive_int(j[0], w.at(0)),      positive_int(j[1][0], w.at(1).at(0)), positive_int(j[1][1], w.at(1).at(1)),
            positive_int(j[2][0], w.at(2).at(0)), positive_int(j[2][1], w.at(2).at(1)), positive_int(j[3], w.at(3))};
}

// One layer: a bare name ("relu") or an object with one op key, and optionally "name" to give its
// parameters another prefix than its position.
ValueId add_layer(Graph& g, ValueId x, const json& layer, std::string name, int classes, const Where& w) {
    if (layer.is_string()) {
        const std::string op = layer;
        if (op == "relu") return g.relu(x);
        if (op == "global_avg_pool") return g.global_avg_pool(x);
        if (op == "flatten") return x;  // linear flattens its input; see ops/linear.cpp
        throw w.error("unknown layer \"" + op + "\" (bare layers: relu, global_avg_pool, flatten)");
    }
    if (!layer.is_object()) throw w.error("a layer is a name or an object, not " + layer.dump());
    if (layer.contains("name")) {
        if (!layer["name"].is_string() || layer["name"].get<std::string>().empty())
            throw w.at("name").error("expected the parameters' name prefix as a string");
        name = layer["name"];
    }
    std::string op;
    for (const auto& [key, value] : layer.items())
        if (key != "name") {
            if (!op.empty()) throw w.error("one op per layer, not '" + op + "' and '" + key + "'");
            op = key;
        }
    if (op.empty()) throw w.error("the layer names no op");
    const json& a = layer[op];
    const Where wa = w.at(op);
    try {
        if (op == "conv") {
            if (!a.is_object()) throw wa.error("expected {\"out\": N, \"kernel\": K, \"stride\": S, \"pad\": P}");
            only_keys(a, {"out", "kernel", "stride", "pad", "bias"}, wa);
            if (a.contains("bias") && !a["bias"].is_boolean()) throw wa.at("bias").error("expected true or false");
            return g.conv(x,
                            ConvSpec{int_field(a, "out", -1, 1, wa), int_field(a, "kernel", -1, 1, wa),
                                     int_field(a, "stride", 1, 1, wa), int_field(a, "pad", 0, 0, wa),
                                     !a.contains("bias") || a["bias"] == true},
                            name);
        }
        if (op == "batch_norm") {
            if (!a.is_object()) throw wa.error("expected {\"eps\": E, \"momentum\": M}");
            only_keys(a, {"eps", "momentum"}, wa);
            return g.batch_norm(x, number_field(a, "eps", 1e-5, wa), number_field(a, "momentum", 0.1, wa), name);
        }
        if (op == "normalize") {
            if (!a.is_object() || !a.contains("mean") || !a.contains("std"))
                throw wa.error("expected {\"mean\": [one per channel], \"std\": [one per channel]}");
            only_keys(a, {"mean", "std"}, wa);
            std::vector<float> per_channel[2];
            const char* keys[2] = {"mean", "std"};
            for (int k = 0; k < 2; ++k) {
                const json& list = a[keys[k]];
                if (!list.is_array() || int(list.size()) != g.shape(x).c)
                    throw wa.at(keys[k]).error(fmt::format("expected {} numbers, one per channel", g.shape(x).c));
                for (size_t c = 0; c < list.size(); ++c) {
                    if (!list[c].is_number() || !(std::abs(list[c].get<double>()) <= 1e30))
                        throw wa.at(keys[k]).at(c).error("expected a number, not " + list[c].dump());
                    per_channel[k].push_back(list[c].get<float>());
                }
            }
            return g.normalize(x, per_channel[0], per_channel[1]);
        }
        if (op == "branches") {
            // Parallel paths from x, concatenated on channels: an Inception block written out.
            if (!a.is_array() || a.size() < 2) throw wa.error("expected a list of two or more paths, each a list of layers");
            std::vector<ValueId> ends;
            for (size_t p = 0; p < a.size(); ++p) {
                if (!a[p].is_array() || a[p].empty()) throw wa.at(p).error("expected a path: a list of layers");
                ValueId y = x;
                for (size_t l = 0; l < a[p].size(); ++l)
                    y = add_layer(g, y, a[p][l], fmt::format("{}.{}.{}", name, p, l), classes, wa.at(p).at(l));
                ends.push_back(y);
            }
            for (size_t p = 1; p < ends.size(); ++p)
                if (g.shape(ends[p]).h != g.shape(ends[0]).h || g.shape(ends[p]).w != g.shape(ends[0]).w)
                    throw wa.at(p).error(fmt::format("this path ends with {}x{} maps, path 0 with {}x{}: they cannot be concatenated",
                                                     g.shape(ends[p]).h, g.shape(ends[p]).w,
                                                     g.shape(ends[0]).h, g.shape(ends[0]).w));
            return g.concat(ends);
        }
        if (op == "max_pool" || op == "avg_pool") {
            if (!a.is_object()) throw wa.error("expected {\"kernel\": K, \"stride\": S, \"pad\": P}");
            if (op == "max_pool")
                only_keys(a, {"kernel", "stride", "pad", "ceil"}, wa);
            else
                only_keys(a, {"kernel", "stride", "pad"}, wa);
            const int k = int_field(a, "kernel", -1, 1, wa);
            const int stride = int_field(a, "stride", k, 1, wa), pad = int_field(a, "pad", 0, 0, wa);
            if (2 * pad > k) throw wa.error(fmt::format("pad {} is more than half the kernel {}", pad, k));
            const bool ceil_mode = a.contains("ceil") && a["ceil"] == true;
            if (a.contains("ceil") && !a["ceil"].is_boolean()) throw wa.at("ceil").error("expected true or false");
            return op == "max_pool" ? g.max_pool(x, k, stride, pad, ceil_mode) : g.avg_pool(x, k, stride, pad);
        }
        if (op == "adaptive_avg_pool") {
            if (!a.is_object()) throw wa.error("expected {\"size\": S}");
            only_keys(a, {"size"}, wa);
            const int size = int_field(a, "size", -1, 1, wa);
            return g.adaptive_avg_pool(x, size, size);
        }
        if (op == "lrn") {
            if (!a.is_object()) throw wa.error("expected {\"size\": 5, \"alpha\": 1e-4, \"beta\": 0.75, \"k\": 1}");
            only_keys(a, {"size", "alpha", "beta", "k"}, wa);
            const int size = int_field(a, "size", -1, 1, wa);
            if (size % 2 == 0) throw wa.at("size").error(fmt::format("must be odd, not {}", size));
            return g.lrn(x, size, number_field(a, "alpha", 1e-4, wa), number_field(a, "beta", 0.75, wa),
                           number_field(a, "k", 1.0, wa));
        }
        if (op == "dropout") {
            if (!a.is_object()) throw wa.error("expected {\"p\": P}");
            only_keys(a, {"p"}, wa);
            const double p = number_field(a, "p", -1, wa);
            if (!(p >= 0 && p < 1)) throw wa.at("p").error(fmt::format("must be in [0, 1), not {}", p));
            return g.dropout(x, float(p));
        }
        if (op == "linear") {
            if (!a.is_object()) throw wa.error("expected {\"out\": N or \"classes\"}");
            only_keys(a, {"out"}, wa);
            const bool to_classes = a.contains("out") && a["out"] == "classes";
            return g.linear(x, to_classes ? classes : int_field(a, "out", -1, 1, wa), name);
        }
        if (op == "inception") return inception(g, x, inception_spec(a, wa), name);
        if (op == "aux") {
            // A side branch from here to its own logits; the main path goes on from x unchanged.
            if (!a.is_object() || !a.contains("layers") || !a["layers"].is_array() || a["layers"].empty())
                throw wa.error("expected {\"weight\": W, \"layers\": [...]}");
            only_keys(a, {"weight", "layers"}, wa);
            const size_t first = g.nodes().size();
            ValueId y = x;
            for (size_t l = 0; l < a["layers"].size(); ++l) {
                const json& layer = a["layers"][l];
                const std::string own = layer.is_object() && layer.contains("name") && layer["name"].is_string()
                                            ? name + "." + layer["name"].get<std::string>()
                                            : fmt::format("{}.{}", name, l);
                json renamed = layer;
                if (renamed.is_object()) renamed.erase("name");
                y = add_layer(g, y, renamed, own, classes, wa.at("layers").at(l));
            }
            const Shape& out = g.shape(y);
            if (out.c != classes || out.h != 1 || out.w != 1)
                throw wa.error(fmt::format("an auxiliary classifier must end with 'classes' = {} outputs, not [{}, {}, {}]",
                                           classes, out.c, out.h, out.w));
            g.add_auxiliary(first, y, number_field(a, "weight", 0.3, wa));
            return x;
        }
        if (op == "inception_bn") {
            if (!a.is_object() || !a.contains("channels"))
                throw wa.error("expected {\"channels\": [c1, [c2_reduce, c2], [c3_reduce, c3], c4], \"eps\": 1e-3}");
            only_keys(a, {"channels", "eps"}, wa);
            return inception_bn(g, x, inception_spec(a["channels"], wa.at("channels")), number_field(a, "eps", 1e-3, wa),
                                name);
        }
        if (op == "conv_bn") {
            if (!a.is_object()) throw wa.error("expected {\"out\": N, \"kernel\": K, \"stride\": S, \"pad\": P, \"eps\": E}");
            only_keys(a, {"out", "kernel", "stride", "pad", "eps"}, wa);
            return conv_bn_relu(g, x,
                                ConvSpec{int_field(a, "out", -1, 1, wa), int_field(a, "kernel", -1, 1, wa),
                                         int_field(a, "stride", 1, 1, wa), int_field(a, "pad", 0, 0, wa)},
                                number_field(a, "eps", 1e-3, wa), name);
        }
    } catch (const Error& e) {
        const std::string what = e.what();
        if (what.rfind(w.source, 0) == 0) throw;
        throw wa.error(what);  // from the builder: an input too small for this layer, say
    }
    throw w.error("unknown op '" + op +
                  "' (conv, conv_bn, batch_norm, normalize, max_pool, avg_pool, adaptive_avg_pool, lrn, dropout, linear, inception, inception_bn, branches, aux, relu, "
                  "global_avg_pool, flatten)");
}

Graph build(const json& j, const ModelSpec& spec, int size) {
    const Where root{spec.source, ""};
    Graph g(spec.in_channels, size, size);
    ValueId x = g.input();
    const json& body = j["body"];
    for (size_t i = 0; i < body.size(); ++i) {
        const Where w = root.at("body").at(i);
        const json& item = body[i];
        if (item.is_object() && item.contains("layers")) {
            only_keys(item, {"block", "layers"}, w);
            if (!item["layers"].is_array() || item["layers"].empty())
                throw w.at("layers").error("expected a list of layers");
            for (size_t l = 0; l < item["layers"].size(); ++l)
                x = add_layer(g, x, item["layers"][l], fmt::format("{}.{}", i, l), spec.classes, w.at("layers").at(l));
            if (item.contains("block")) {
                if (!item["block"].is_string()) throw w.at("block").error("expected the block's label as a string");
                g.name_block(x, item["block"]);
            }
        } else {
            x = add_layer(g, x, item, std::to_string(i), spec.classes, w);
        }
    }
    const Shape& out = g.shape(x);
    if (out.c != spec.classes || out.h != 1 || out.w != 1)
        throw root.at("body").error(fmt::format("the network ends with [{}, {}, {}] values per image; it must end with "
                                                "'classes' = {} (a linear layer with \"out\": \"classes\")",
                                                out.c, out.h, out.w, spec.classes));
    g.set_output(x);
    return g;
}

json parse_json(const std::string& text, const std::string& source) {
    try {
        return json::parse(text);
    } catch (const json::parse_error& e) {
        size_t line = 1, column = 1;
        for (size_t i = 0; i + 1 < e.byte && i < text.size(); ++i, ++column)
            if (text[i] == '\n') ++line, column = 0;
        // nlohmann's message repeats the position; keep only what it says is wrong.
        std::string what = e.what();
        const size_t at = what.find(", column ");
        const size_t colon = at == std::string::npos ? at : what.find(": ", at);
        throw Error(fmt::format("{}:{}:{}: not valid JSON ({})", source, line, column,
                                colon == std::string::npos ? what : what.substr(colon + 2)));
    } catch (const json::exception& e) {  // a number too large for any type, say
        throw Error(source + ": not usable JSON (" + e.what() + ")");
    }
}

}  // namespace

std::vector<std::string> builtin_models() {
    std::vector<std::string> names;
    for (const auto& [name, text] : kBuiltinModels) names.push_back(name);
    return names;
}

ModelSpec parse_model(const std::string& text, const std::string& source) {
    const json j = parse_json(text, source);
    const Where root{source, ""};
    if (!j.is_object()) throw root.error("a model file is a JSON object");
    only_keys(j, {"format_version", "name", "description", "input", "classes", "body"}, root);
    if (j.contains("format_version")) {
        const int version = positive_int(j["format_version"], root.at("format_version"));
        if (version > kModelFormatVersion)
            throw root.at("format_version").error(fmt::format(
                "{} is later than this googlenet reads ({}): it was written by a newer googlenet; upgrade to read it",
                version, kModelFormatVersion));
    }
    ModelSpec spec;
    spec.source = source;
    spec.text = text;
    if (!j.contains("name") || !j["name"].is_string()) throw root.at("name").error("missing, or not a string");
    spec.name = j["name"];
    if (j.contains("description")) {
        if (!j["description"].is_string()) throw root.at("description").error("not a string");
        spec.description = j["description"];
    }
    if (!j.contains("input") || !j["input"].is_object()) throw root.at("input").error("expected {\"channels\": C, \"size\": S}");
    only_keys(j["input"], {"channels", "size"}, root.at("input"));
    spec.in_channels = int_field(j["input"], "channels", -1, 1, root.at("input"));
    spec.input_size = int_field(j["input"], "size", -1, 1, root.at("input"));
    if (!j.contains("classes")) throw root.at("classes").error("missing");
    spec.classes = positive_int(j["classes"], root.at("classes"));
    if (!j.contains("body") || !j["body"].is_array() || j["body"].empty())
        throw root.at("body").error("expected a list of blocks and layers");
    build(j, spec, spec.input_size);  // every mistake shows now, not when training starts
    return spec;
}

ModelSpec load_model(const std::string& name_or_path) {
    for (const auto& [name, text] : kBuiltinModels)
        if (name == name_or_path) return parse_model(text, "built-in model " + name);
    std::ifstream in(name_or_path);
    if (!in) {
        std::string names;
        for (const auto& n : builtin_models()) names += (names.empty() ? "" : ", ") + n;
        throw Error("--model " + name_or_path + ": neither a built-in model (" + names + ") nor a readable file");
    }
    std::stringstream text;
    text << in.rdbuf();
    return parse_model(text.str(), name_or_path);
}

void load_weights(const std::string& path, Net& net) {
    ParamStore& ps = net.params();
    if (!ps.allocated()) ps.allocate();
    std::map<std::string, std::string> metadata;
    TensorMap tensors = read_safetensors(path, &metadata);
    check_format_version(path, metadata);
    // The auxiliary classifiers' tensors: their ops' parameters and buffers.
    std::vector<std::string> aux_names;
    for (const auto& op : net.ops())
        if (op->auxiliary) {
            for (int i : op->param_indices()) aux_names.push_back(ps.param(i).name);
            for (int i : op->buffer_indices()) aux_names.push_back(ps.buffer_list()[size_t(i)].name);
        }
    bool any = false;
    for (const auto& n : aux_names) any = any || tensors.count(n) > 0;
    if (!any)
        for (const auto& n : aux_names) {
            const int i = ps.find(n), bi = ps.find_buffer(n);
            const Param& p = i >= 0 ? ps.param(i) : ps.buffer_list()[size_t(bi)];
            const float* v = i >= 0 ? ps.value(i) : ps.buffer(bi);
            tensors[n] = LoadedTensor{p.dims, std::vector<float>(v, v + p.size)};
        }
    assign_params(ps, tensors, path);
    net.weights_changed();
}

namespace {

// The network a model file describes, without the names and words for people.
json network_of(const std::string& text, const std::string& source) {
    json j = parse_json(text, source);
    j.erase("format_version");
    j.erase("name");
    j.erase("description");
    return j;
}

}  // namespace

ModelSpec model_for_weights(const std::string& weights, const std::string& model) {
    std::map<std::string, std::string> metadata = read_safetensors_metadata(weights);
    check_format_version(weights, metadata);
    const auto kept = metadata.find("googlenet.model");
    if (kept == metadata.end()) return load_model(model.empty() ? "d2l" : model);
    const ModelSpec own = parse_model(kept->second, weights + " (the model kept in the file)");
    if (model.empty()) return own;
    ModelSpec given = load_model(model);
    if (network_of(given.text, given.source) != network_of(own.text, own.source))
        throw Error(fmt::format("--model {} does not match {}: the file was saved with model '{}' (kept in it), and '{}' "
                                "is another network; leave --model out to use the file's",
                                model, weights, own.name, given.name));
    return given;
}

Graph build_graph(const ModelSpec& spec, int size) {
    return build(parse_json(spec.text, spec.source), spec, size > 0 ? size : spec.input_size);
}

Net build_net(const ModelSpec& spec, int size) { return Net(build_graph(spec, size)); }

}  // namespace googlenet
