// The googlenet command: each subcommand in a file of its own (train.cpp, eval.cpp, bench.cpp,
// use_model.cpp), binding its flags to the library's options and calling the library; this header
// holds what they share: exit statuses, where output goes, and the flags several commands take.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "googlenet/options.h"
#include "googlenet/tensor.h"

namespace googlenet::cli {

// Exit statuses, as argparse-based tools use them; --help and docs/usage.md list them.
enum ExitStatus : int {
    kSuccess = 0,
    kRuntimeError = 1,    // a bad file, missing data, a loss that is not finite, ...
    kUsageError = 2,      // a bad flag, value or combination of flags
    kInternalError = 3,   // a bug: the message says what broke
    kSignalled = 128,     // + the signal: 130 after SIGINT (Ctrl-C), 143 after SIGTERM
};
extern const char* const kExitStatusHelp;

// An error in the command line itself, found after parsing (flags that exclude each other, say).
struct UsageError : Error {
    using Error::Error;
};

// With --json, stdout holds JSON alone and everything for people goes to stderr.
struct Output {
    bool json = false;
    std::FILE* text() const { return json ? stderr : stdout; }
    // One JSON document (or one line of a JSON Lines stream) on stdout.
    void emit(const nlohmann::ordered_json& j) const;
};

// The "googlenet" object of every --json document: version, commit, oneDNN and its ISA, CPU, MPI.
nlohmann::ordered_json about_json();

// A subcommand: its flags (bound to options it owns) and what runs when it was chosen.
struct Command {
    CLI::App* app;
    std::function<int()> run;
};

Command add_train(CLI::App& app);
Command add_eval(CLI::App& app);
Command add_bench(CLI::App& app);
Command add_plot(CLI::App& app);
Command add_predict(CLI::App& app);
Command add_export(CLI::App& app);
Command add_import(CLI::App& app);
Command add_summary(CLI::App& app);

// Flags several commands share, with one wording.
CLI::Option* add_model_option(CLI::App* cmd, std::string& model, const std::string& default_note);
// --precision, --threads, --parallel, --layout and --winograd-max-tile, into `engine`;
// add_engine_settings writes them into a settings object under config.json's names.
// with_int8: --precision also takes int8 (bench, which calibrates on its own random images).
void add_engine_options(CLI::App* cmd, Options& engine, bool with_int8 = false);
void add_engine_settings(nlohmann::ordered_json& j, const Options& engine);
// "--json": `what` ("One JSON document") on stdout, holding `contents`.
CLI::Option* add_json_flag(CLI::App* cmd, bool& json, const std::string& what, const std::string& contents);
// --config FILE (TOML or JSON, docs/usage.md) and --dump-config, which prints the settings the
// command would run with as JSON, in the form --config reads, and exits.
void add_config_options(CLI::App* cmd, bool& dump);
// The command line with the settings of the chosen command's --config file placed before the
// command's own flags (which therefore win); unchanged without --config. Throws CLI::ParseError.
std::vector<std::string> with_config_file(const CLI::App& app, const std::vector<std::string>& args);

// While training runs, the first SIGINT or SIGTERM asks it to stop after its current step (main.cpp
// takes the signals); otherwise the first one ends the process.
void training_takes_stop_signals(bool);
// The signal that stopped training (SIGINT or SIGTERM): its exit status is 128 + it.
int stop_signal();

// OMP_THREAD_LIMIT below --threads: the run takes the threads it is allowed, and says so on stderr.
void note_thread_limit(int threads);
// --precision auto resolved for this CPU (resolve_precision). Says on stderr what runs where that
// is not the fp32 asked for, and warns when bf16 is asked of a CPU without it.
void settle_precision(Options& engine);

}  // namespace googlenet::cli
