// libFuzzer harness support. The parsers take paths, as users give them, so each input is written
// to a file first; the read is then the same code path a user's file takes.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace googlenet_fuzz {

// The same file every time (one per process and suffix), in /dev/shm when there is one.
inline std::string write_input(const uint8_t* data, size_t size, const char* suffix) {
    static const std::string dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    const std::string path = dir + "/googlenet-fuzz-" + std::to_string(getpid()) + "." + suffix;
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f || (size && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
        std::perror(path.c_str());
        std::abort();
    }
    return path;
}

}  // namespace googlenet_fuzz
