#pragma once
// One exception type for every failure the engine reports to a user: a bad file, a bad argument,
// a mismatched state. The message names the file, the tensor or the field at fault, and is always one
// printable line: names and text taken from a file may hold anything.
#include <stdexcept>
#include <string>
#include <string_view>

namespace rwkv {

// `text` as one printable line: control characters (newlines, escapes), C1 controls and bytes that are not
// UTF-8 become \xNN; a text longer than a few kilobytes keeps its start and end around " ... ".
std::string printable(std::string_view text);

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& what) : std::runtime_error(printable(what)) {}
    explicit Error(const char* what) : Error(std::string(what)) {}
};

}  // namespace rwkv
