// The googlenet command: a thin layer over the library. Each subcommand lives in its own file
// (cli.h); this one parses, dispatches, and turns what went wrong into an exit status.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "cli/cli.h"
#include "googlenet/about.h"
#include "googlenet/distributed.h"
#include "googlenet/trainer.h"

using namespace googlenet;

namespace {

// SIGINT and SIGTERM ask training to stop after its current step (a second one ends the process).
// They are blocked in every thread and taken by sigwait on a thread of their own, never by an
// asynchronous handler: oneDNN's JIT GEMM kernels (up to 3.11, uxlfoundation/oneDNN#4845) point
// rsp into the heap while they run, so a handler executing on a compute thread corrupts the heap.
// Must be called before any other thread (OpenMP's included) exists, so that all inherit the mask.
std::atomic<bool> g_training{false};  // outside training, the first signal ends the process
std::atomic<int> g_stop_signal{SIGINT};  // the signal that asked training to stop

void take_stop_signals_on_their_own_thread() {
    static sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::thread([] {
        int count = 0, sig = 0;
        while (sigwait(&set, &sig) == 0) {
            if (++count > 1 || !g_training) std::_Exit(128 + sig);
            g_stop_signal = sig;
            request_stop();
        }
    }).detach();
}

// Under mpirun the other ranks may be waiting for this one: an error ends the whole job.
int fail(const char* kind, const std::exception& e, int status) {
    if (Communicator::world().distributed()) Communicator::world().abort(std::string(kind) + ": " + e.what(), status);
    std::fflush(stdout);
    std::fprintf(stderr, "googlenet: %s: %s\n", kind, e.what());
    return status;
}

}  // namespace

void googlenet::cli::training_takes_stop_signals(bool on) { g_training = on; }
int googlenet::cli::stop_signal() { return g_stop_signal; }

int main(int argc, char** argv) {
    using namespace googlenet::cli;
    take_stop_signals_on_their_own_thread();
    Communicator::world();  // joins the MPI job when started by mpirun; before any compute thread exists
    CLI::App app{"GoogLeNet (Inception v1) on oneDNN: train, evaluate and run D2L's, the paper's and torchvision's "
                 "networks, or your own model files, on Fashion-MNIST or image folders"};
    app.set_version_flag("--version", [] {
        std::string text = about_text(about());
        return text.substr(0, text.size() - 1);  // CLI11 ends the line itself
    });
    app.require_subcommand(1);
    app.footer(kExitStatusHelp);
    // A flag given twice takes its last value, as argparse does: a script's default followed by
    // the user's own (scripts/quickstart.sh --out DIR) is no error.
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    const std::vector<Command> commands = {add_train(app),  add_eval(app),   add_predict(app), add_bench(app),
                                           add_summary(app), add_export(app), add_import(app),  add_plot(app)};
    for (const Command& c : commands) c.app->footer(kExitStatusHelp);

    try {
        const std::vector<std::string> args = with_config_file(app, std::vector<std::string>(argv, argv + argc));
        std::vector<char*> pointers;
        for (const std::string& a : args) pointers.push_back(const_cast<char*>(a.c_str()));
        app.parse(int(pointers.size()), pointers.data());
    } catch (const CLI::ParseError& e) {
        // --help and --version end here with status 0; every other parse error is a usage error.
        return app.exit(e) == 0 ? kSuccess : kUsageError;
    }
    try {
        for (const Command& c : commands)
            if (c.app->parsed()) return c.run();
    } catch (const UsageError& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "googlenet: usage error: %s\nRun with --help for more information.\n", e.what());
        return kUsageError;
    } catch (const Error& e) {
        return fail("error", e, kRuntimeError);
    } catch (const std::exception& e) {
        return fail("internal error", e, kInternalError);
    }
    return kInternalError;  // require_subcommand(1) leaves no way here
}
