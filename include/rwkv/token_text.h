#pragma once
// Sampled tokens to the text a reader may be shown: a token can end in the middle of a UTF-8 character, and
// text that may be the start of a stop string is held back until it is known to be one or not. Shared by the
// command line's generation loop and the server's.
#include <cstdint>
#include <string>
#include <vector>

#include "rwkv/stop.h"
#include "rwkv/tokenizer.h"

namespace rwkv {

class TokenText {
public:
    TokenText(const Tokenizer& tokenizer, std::vector<std::string> stop);

    // The text that became safe to show with this token (complete characters, stop strings removed); "" once
    // stopped().
    std::string push(int32_t token);
    // Whether a stop string has completed.
    bool stopped() const { return stops_.stopped(); }
    // At the end without a stop: the text held back (a partial character becomes U+FFFD).
    std::string flush();

private:
    const Tokenizer& tokenizer_;
    StopMatcher stops_;
    std::string pending_;  // bytes of a character split across tokens
};

}  // namespace rwkv
