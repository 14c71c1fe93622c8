// What the subcommands share: exit statuses, JSON output, and the flags several of them take.
#include <omp.h>

#include "cli/cli.h"
#include "googlenet/about.h"
#include "googlenet/models.h"

namespace googlenet::cli {

const char* const kExitStatusHelp =
    "Exit status: 0 success; 1 runtime error (a bad or missing file, bad data, a loss that is not finite); "
    "2 usage error (a bad flag, value or combination of flags); 3 internal error; 130 interrupted by Ctrl-C "
    "(training writes a checkpoint first), 143 by SIGTERM.";

void Output::emit(const nlohmann::ordered_json& j) const {
    std::fflush(stderr);
    std::printf("%s\n", j.dump().c_str());
    std::fflush(stdout);
}

nlohmann::ordered_json about_json() {
    const About a = about();
    return {{"version", a.version},
            {"commit", a.commit},
            {"onednn_version", a.onednn_version},
            {"onednn_isa", a.onednn_isa},
            {"cpu", a.cpu},
            {"mpi", a.mpi.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(a.mpi)}};
}

CLI::Option* add_model_option(CLI::App* cmd, std::string& model, const std::string& default_note) {
    std::string names;
    for (const auto& n : builtin_models()) names += (names.empty() ? "" : ", ") + n;
    return cmd->add_option("-m,--model", model,
                           "A built-in model (" + names + ") or a model file (docs/models.md); default: " + default_note);
}

void add_engine_options(CLI::App* cmd, Options& engine, bool with_int8) {
    std::vector<std::string> precisions{"fp32", "bf16", "auto"};
    if (with_int8) precisions.push_back("int8");
    cmd->add_option_function<std::string>(
           "--precision", [&engine](const std::string& v) { engine.precision = parse_precision(v); },
           "The arithmetic: fp32; bf16 (mixed precision as PyTorch's autocast: convolutions read bfloat16 inputs "
           "and weights and sum in fp32 on the CPU's AMX or avx512_bf16 units, the values between them and their "
           "gradients kept in bf16; the weights, their gradients, the loss and the optimizer stay fp32); auto "
           "(bf16 where this CPU runs it natively, else fp32)" +
               std::string(with_int8 ? "; int8 (inference: convolutions on 8-bit codes, the activations' scales "
                                       "calibrated on the benchmark's own random images)"
                                     : "") +
               ". What runs is said on stderr")
        ->default_str(to_string(engine.precision))
        ->check(CLI::IsMember(precisions));
    cmd->add_option("--threads", engine.threads, "Compute threads (0: OMP_NUM_THREADS where set, else every core)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd->add_option_function<std::string>(
           "--parallel", [&engine](const std::string& v) { engine.parallel = parse_parallel(v); },
           "batch: each thread runs its own copy of the network on its share of the batch (not for batch-norm "
           "models; batches of 8+ images a thread); smaller batches in evaluation run the Inception paths side "
           "by side, one thread each; ops: every op on all threads")
        ->default_str(to_string(engine.parallel))
        ->check(CLI::IsMember({"batch", "ops"}));
    // For measuring the engine's alternatives; results stay within the tests' tolerances of the
    // defaults', not bit-identical.
    const std::string group = "Engine (for measuring alternatives)";
    cmd->add_option_function<std::string>(
           "--layout", [&engine](const std::string& v) { engine.layout = parse_layout(v); },
           "The activations' memory layout: blocked (oneDNN's nChw16c or nChw8c), nchw or nhwc")
        ->default_str(to_string(engine.layout))
        ->check(CLI::IsMember({"blocked", "nchw", "nhwc"}))
        ->group(group);
    cmd->add_option("--winograd-max-tile", engine.winograd_max_tile,
                    "The largest Winograd tile m of F(mxm) the 3x3 and 5x5 convolutions may use (2, 3, 4, 6; 0: "
                    "oneDNN's direct convolutions only)")
        ->capture_default_str()
        ->check(CLI::IsMember({0, 2, 3, 4, 6}))
        ->group(group);
    cmd->add_option("--fold-batch-norm", engine.fold_batch_norm,
                    "In evaluation, fold each batch norm into the convolution before it (false: run it on its own, "
                    "as PyTorch does)")
        ->type_name("true|false")
        ->default_str("true")
        ->group(group);
}

void add_engine_settings(nlohmann::ordered_json& j, const Options& engine) {
    j["threads"] = engine.threads;
    j["parallel"] = to_string(engine.parallel);
    j["layout"] = to_string(engine.layout);
    j["winograd_max_tile"] = engine.winograd_max_tile;
    j["precision"] = to_string(engine.precision);
    j["fold_batch_norm"] = engine.fold_batch_norm;
}

CLI::Option* add_json_flag(CLI::App* cmd, bool& json, const std::string& what, const std::string& contents) {
    return cmd->add_flag("--json", json, what + " on stdout (" + contents + "); the text for people goes to stderr");
}

void settle_precision(Options& engine) {
    const Precision asked = engine.precision;
    if (asked == Precision::fp32 || asked == Precision::int8) return;
    engine.precision = resolve_precision(asked);
    const std::string isa = about().onednn_isa;
    if (asked == Precision::automatic)
        std::fprintf(stderr, "googlenet: --precision auto: %s\n",
                     engine.precision == Precision::bf16
                         ? ("bf16, which this CPU computes natively (oneDNN's kernels up to " + isa + ")").c_str()
                         : ("fp32: this CPU has no native bf16 (oneDNN's kernels up to " + isa + ")").c_str());
    else if (!native_bf16())
        std::fprintf(stderr,
                     "googlenet: warning: --precision bf16, but this CPU has no native bf16 (oneDNN's kernels up to %s): "
                     "oneDNN runs its emulated or reference bf16 kernels, which are slow\n",
                     isa.c_str());
}

void note_thread_limit(int threads) {
    if (threads > omp_get_thread_limit())
        std::fprintf(stderr, "googlenet: note: --threads %d, but OpenMP allows %d (OMP_THREAD_LIMIT): running on %d\n",
                     threads, omp_get_thread_limit(), omp_get_thread_limit());
}

}  // namespace googlenet::cli
