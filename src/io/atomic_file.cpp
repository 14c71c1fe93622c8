#include <fcntl.h>
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
    // The rename is durable only once the folder's entry is on disk too.
    const size_t slash = path.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0 || ::fsync(fd) != 0) {
        const int err = errno;
        if (fd >= 0) ::close(fd);
        throw Error("cannot write " + path + ": syncing its folder " + dir + ": " + std::strerror(err));
    }
    ::close(fd);
}

}  // namespace googlenet
