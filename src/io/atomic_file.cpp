#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "googlenet/io.h"

namespace googlenet {

void write_file_atomic(const std::string& path, const std::function<void(std::FILE*)>& write) {
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) throw Error("cannot write " + path + ": " + std::strerror(errno));
    auto fail = [&](int err) {
        std::fclose(f);
        std::remove(tmp.c_str());
        throw Error("cannot write " + path + ": " + std::strerror(err));
    };
    try {
        write(f);
    } catch (...) {
        std::fclose(f);
        std::remove(tmp.c_str());
        throw;
    }
    if (std::ferror(f) || std::fflush(f) != 0) fail(errno ? errno : EIO);
    if (::fsync(::fileno(f)) != 0) fail(errno);
    if (std::fclose(f) != 0) {
        const int err = errno;
        std::remove(tmp.c_str());
        throw Error("cannot write " + path + ": " + std::strerror(err));
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        std::remove(tmp.c_str());
        throw Error("cannot write " + path + ": " + std::strerror(err));
    }
}

}  // namespace googlenet
