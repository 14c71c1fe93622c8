// --config files (TOML or JSON), as `googlenet bench --config FILE` reads them: the file's settings
// turned into flags, then parsed with the command's own checks. A file may only give a parse error.
#include "cli/cli.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = googlenet_fuzz::write_input(data, size, "config");
    // A command with each kind of flag bench has: a choice, numbers with ranges, exclusive ones, flags.
    CLI::App app{"fuzz"};
    CLI::App* cmd = app.add_subcommand("bench");
    std::string mode = "train", model = "d2l";
    int batch = 1, iters = 1;
    double seconds = 0;
    bool profile = false, json = false, dump = false;
    cmd->add_option("--mode", mode)->check(CLI::IsMember({"train", "infer"}));
    cmd->add_option("-m,--model", model);
    cmd->add_option("-b,--batch-size", batch)->check(CLI::Range(1, 1 << 20));
    CLI::Option* n = cmd->add_option("--iters", iters)->check(CLI::Range(1, 1000000));
    cmd->add_option("--time", seconds)->check(CLI::Range(0.001, 1e6))->excludes(n);
    cmd->add_flag("--profile", profile);
    googlenet::cli::add_json_flag(cmd, json, "it", "all");
    googlenet::cli::add_config_options(cmd, dump);
    try {
        const std::vector<std::string> args = googlenet::cli::with_config_file(app, {"googlenet", "bench", "--config", path});
        std::vector<char*> pointers;
        for (const std::string& a : args) pointers.push_back(const_cast<char*>(a.c_str()));
        app.parse(int(pointers.size()), pointers.data());
    } catch (const CLI::ParseError&) {
    }
    return 0;
}
