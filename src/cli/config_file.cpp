// --config FILE: a command's settings from a file, TOML (CLI11's reader) or JSON (a run's
// config.json, or what --dump-config printed). Keys are the long flags' names, with '_' or '-'
// ("batch_size", "batch-size"); config.json's own names for the few that differ ("out_dir",
// "shuffle", "skip_bad_images") are read too, so a run's config.json repeats the run. Flags on the
// command line win over the file.
//
// CLI11 2.1 (Debian 12's) reads a config file for the top-level command only, and takes unknown
// keys in silence; so the file's settings become flags placed before the command's own, which the
// parser then takes as if typed (a flag given twice takes its last value), and every key is
// checked here against the command's flags.
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

#include "cli/cli.h"

namespace googlenet::cli {
namespace {

struct Setting {
    std::string key;
    std::string value;
};

std::vector<Setting> read_json(const std::string& path, const std::string& text) {
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) throw CLI::ConfigError(path + ": not a JSON object of settings");
    std::vector<Setting> out;
    for (const auto& [key, value] : j.items()) {
        if (value.is_string())
            out.push_back({key, value.get<std::string>()});
        else if (value.is_boolean())
            out.push_back({key, value.get<bool>() ? "true" : "false"});
        else if (value.is_number())
            out.push_back({key, value.dump()});
        else
            throw CLI::ConfigError(fmt::format("{}: '{}' is {}; a setting is a number, a string, true or false", path, key,
                                               value.dump()));
    }
    return out;
}

std::vector<Setting> read_toml(const std::string& path, const std::string& text) {
    std::istringstream in(text);
    std::vector<Setting> out;
    for (const CLI::ConfigItem& item : CLI::ConfigTOML().from_config(in)) {
        if (!item.parents.empty() || item.name == "++" || item.name == "--")
            throw CLI::ConfigError(path + ": sections are not read: write every setting at the top level");
        if (item.inputs.size() != 1)
            throw CLI::ConfigError(fmt::format("{}: '{}' must be one value", path, item.name));
        out.push_back({item.name, item.inputs[0]});
    }
    return out;
}

// The file's settings as flags of `cmd`, in the file's order.
std::vector<std::string> settings_as_flags(const CLI::App& cmd, const std::string& path) {
    std::ifstream in(path);
    if (!in) throw CLI::FileError::Missing(path);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    const size_t first = text.find_first_not_of(" \t\r\n");
    const bool json = first != std::string::npos && text[first] == '{';
    std::vector<std::string> flags;
    for (Setting s : json ? read_json(path, text) : read_toml(path, text)) {
        std::string name = s.key;
        std::replace(name.begin(), name.end(), '_', '-');
        if (name == "out-dir") name = "out";
        if (name == "shuffle") {  // config.json's "shuffle": true is the absence of --no-shuffle
            name = "no-shuffle";
            s.value = s.value == "true" ? "false" : "true";
        }
        if (name == "skip-bad-images") {
            name = "bad-images";
            s.value = s.value == "true" ? "skip" : "fail";
        }
        const CLI::Option* o = cmd.get_option_no_throw("--" + name);
        if (!o || !o->get_configurable())
            throw CLI::ConfigError(fmt::format("{}: '{}' is not a setting of googlenet {}", path, s.key, cmd.get_name()));
        if (o->get_expected_min() == 0) {  // a flag: there when true
            if (s.value != "true" && s.value != "false")
                throw CLI::ConfigError(fmt::format("{}: '{}' is {}; it takes true or false", path, s.key, s.value));
            if (s.value == "true") flags.push_back("--" + name);
        } else if (!s.value.empty()) {  // an empty path is the absence of one
            flags.push_back("--" + name);
            flags.push_back(s.value);
        }
    }
    return flags;
}

}  // namespace

void add_config_options(CLI::App* cmd, bool& dump) {
    // Read before parsing (with_config_file); bound to nothing, only listed and checked.
    const std::string help = "Read settings from this file (TOML or JSON; keys are the long flags' names; a run's "
                                "config.json repeats the run); flags given here win";
    cmd->add_option("--config", help)
        ->type_name("FILE")
        ->configurable(false);
    cmd->add_flag("--dump-config", dump, "Print the settings this command would run with (JSON, for --config) and exit")
        ->configurable(false);
}

std::vector<std::string> with_config_file(const CLI::App& app, const std::vector<std::string>& args) {
    // The command is the first word that is not a flag (the top level has only --help and --version).
    auto command = std::find_if(args.begin() + 1, args.end(), [](const std::string& a) { return a.empty() || a[0] != '-'; });
    if (command == args.end()) return args;
    const CLI::App* cmd = nullptr;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
        if (sub->get_name() == *command) cmd = sub;
    if (!cmd || !cmd->get_option_no_throw("--config")) return args;
    std::string path;
    for (auto a = command + 1; a != args.end(); ++a) {
        if (*a == "--") break;
        if (*a == "--config" && a + 1 != args.end()) path = *(a + 1);
        if (a->rfind("--config=", 0) == 0) path = a->substr(9);
    }
    if (path.empty()) return args;
    std::vector<std::string> out(args.begin(), command + 1);
    const std::vector<std::string> flags = settings_as_flags(*cmd, path);
    out.insert(out.end(), flags.begin(), flags.end());
    out.insert(out.end(), command + 1, args.end());
    return out;
}

}  // namespace googlenet::cli
