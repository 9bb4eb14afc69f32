#include "rwkv/token_text.h"

#include <utility>

namespace rwkv {

TokenText::TokenText(const Tokenizer& tokenizer, std::vector<std::string> stop)
    : tokenizer_(tokenizer), stops_(std::move(stop)) {}

std::string TokenText::push(int32_t token) {
    if (stops_.stopped()) return {};
    pending_ += tokenizer_.decode_bytes({token});
    const size_t complete = utf8_complete_prefix(pending_);
    const std::string piece = utf8_sanitize(std::string_view(pending_).substr(0, complete));
    pending_.erase(0, complete);
    return stops_.push(piece);
}

std::string TokenText::flush() {
    if (stops_.stopped()) return {};
    std::string rest = stops_.flush();
    if (!pending_.empty()) rest += utf8_sanitize(pending_);
    pending_.clear();
    return rest;
}

}  // namespace rwkv
