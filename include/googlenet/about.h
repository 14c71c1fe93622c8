// What produced a result: this build of googlenet and the machine it runs on, for --version and
// every --json object, so that a reported figure says where it came from.
#pragma once
#include <string>

namespace googlenet {

struct About {
    std::string version;         // the project's version (CMakeLists.txt)
    std::string commit;          // git describe of the source built, "-dirty" with local changes; "unknown" outside git
    std::string onednn_version;  // the oneDNN loaded at run time, "3.2.0"
    // The most capable instruction set oneDNN's kernels may dispatch to on this CPU
    // ("avx512_core_amx"); which one an op's kernel uses is in bench --profile's kernel names.
    std::string onednn_isa;
    std::string cpu;             // /proc/cpuinfo's model name
    std::string mpi;             // the MPI library built in ("Open MPI v4.1.4"), empty without MPI
};

About about();

// About as text, one fact a line: what `googlenet --version` prints.
std::string about_text(const About& a);

}  // namespace googlenet
