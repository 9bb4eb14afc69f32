#pragma once
// One exception type for every failure the engine reports to a user: a bad file, a bad argument,
// a mismatched state. The message names the file, the tensor or the field at fault.
#include <stdexcept>
#include <string>

namespace rwkv {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace rwkv
