// The library's error type, apart from the engine so that data, plotting and file code can use it
// without the engine's headers.
#pragma once
#include <stdexcept>

namespace googlenet {

// Every failure the library reports to a user: the message names the file, tensor, flag or step.
struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

}  // namespace googlenet
