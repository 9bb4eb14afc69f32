#pragma once
// Stop sequences on streamed text. Generated text arrives in pieces (one decoded token at a time)
// and a stop string can straddle pieces, so text that might be the start of a stop string is held
// back until it is known either to complete the stop string or not to.
//
// Matching is on bytes. Generation stops at the first position where any stop string ends; if
// several end there, the longest wins. The result therefore does not depend on how the text was
// cut into pieces.
#include <string>
#include <string_view>
#include <vector>

namespace rwkv {

class StopMatcher {
public:
    // Empty strings are ignored: they would match before any text at all.
    explicit StopMatcher(std::vector<std::string> stop_strings);

    // Appends a piece and returns the text that is safe to emit now. Once a stop string completes,
    // stopped() turns true, the returned text ends right before the stop string, and the stop
    // string and anything after it are dropped; later calls return "".
    std::string push(std::string_view piece);
    // At the end of generation without a stop: returns (and forgets) the text held back.
    std::string flush();
    bool stopped() const { return stopped_; }
    // The stop string that completed; empty while not stopped.
    const std::string& matched() const { return matched_; }
    // Ready for a new generation with the same stop strings.
    void reset();

private:
    size_t held_length() const;

    std::vector<std::string> stops_;
    std::string pending_;  // withheld text: a suffix that is a proper prefix of some stop string
    std::string matched_;
    bool stopped_ = false;
};

}  // namespace rwkv
