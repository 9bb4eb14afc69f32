#include "rwkv/chat_format.h"

#include <algorithm>

#include "rwkv/error.h"

namespace rwkv {

namespace {

constexpr std::string_view kOpen = "<think>", kClose = "</think>";

// Length of the longest suffix of `s` that is a proper prefix of `tag`: text that may yet become the tag.
size_t partial_tag(std::string_view s, std::string_view tag) {
    for (size_t n = std::min(s.size(), tag.size() - 1); n > 0; --n)
        if (s.substr(s.size() - n) == tag.substr(0, n)) return n;
    return 0;
}

bool blank(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

std::string_view role_name(const std::string& role) {
    if (role == "system" || role == "developer") return "System";
    if (role == "user") return "User";
    if (role == "assistant") return "Assistant";
    if (role == "tool") return "Tool";
    throw Error("unknown chat role '" + role + "' (expected system, user, assistant or tool)");
}

}  // namespace

std::string chat_clean(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '\r') continue;
        if (c == '\n' && !out.empty() && out.back() == '\n') continue;
        out += c;
    }
    size_t begin = 0, end = out.size();
    while (begin < end && blank(out[begin])) ++begin;
    while (end > begin && blank(out[end - 1])) --end;
    return out.substr(begin, end - begin);
}

std::string chat_turn(const ChatMessage& m) {
    return std::string(role_name(m.role)) + ": " + chat_clean(m.content) + "\n\n";
}

std::string chat_opening(ThinkMode mode) {
    switch (mode) {
        case ThinkMode::Plain: return "Assistant:";
        case ThinkMode::Think: return "Assistant: <think";
        case ThinkMode::NoThink: return "Assistant: <think>\n</think";
    }
    return "Assistant:";
}

std::string chat_prompt(const std::vector<ChatMessage>& messages, ThinkMode mode) {
    std::string prompt;
    for (const ChatMessage& m : messages) prompt += chat_turn(m);
    return prompt + chat_opening(mode);
}

std::vector<std::string> chat_stops() { return {"\n\n", "\nUser:"}; }

ReplySplitter::ReplySplitter(ThinkMode mode)
    : phase_(mode == ThinkMode::Plain ? Phase::Opening : mode == ThinkMode::Think ? Phase::Reasoning : Phase::Answer) {
    closing_bracket_ = mode != ThinkMode::Plain;
}

ReplySplitter::Parts ReplySplitter::push(std::string_view piece) {
    pending_ += piece;
    return take(false);
}

ReplySplitter::Parts ReplySplitter::flush() { return take(true); }

ReplySplitter::Parts ReplySplitter::take(bool final) {
    Parts out;
    for (;;) {
        if (closing_bracket_) {  // the ">" that ends the prompt's "<think" or "</think"
            if (pending_.empty()) return out;
            if (pending_[0] == '>') pending_.erase(0, 1);
            closing_bracket_ = false;
        }
        if (phase_ == Phase::Opening) {
            size_t i = 0;
            while (i < pending_.size() && blank(pending_[i])) ++i;
            const std::string_view rest = std::string_view(pending_).substr(i);
            if (rest.starts_with(kOpen)) {
                pending_.erase(0, i + kOpen.size());
                phase_ = Phase::Reasoning;
                continue;
            }
            if (!final && (rest.empty() || kOpen.starts_with(rest))) return out;  // may still open a think block
            phase_ = Phase::Answer;
            continue;
        }
        if (phase_ == Phase::Reasoning) {
            if (!reasoning_started_) {
                size_t i = 0;
                while (i < pending_.size() && blank(pending_[i])) ++i;
                pending_.erase(0, i);
                if (pending_.empty()) return out;
                reasoning_started_ = true;
            }
            const size_t close = pending_.find(kClose);
            if (close != std::string::npos) {
                size_t end = close;
                while (end > 0 && blank(pending_[end - 1])) --end;
                out.reasoning += pending_.substr(0, end);
                pending_.erase(0, close + kClose.size());
                phase_ = Phase::Answer;
                continue;
            }
            // Hold back what may begin the closing tag, and trailing blanks that may precede it.
            size_t keep = final ? 0 : partial_tag(pending_, kClose);
            size_t end = pending_.size() - keep;
            if (!final)
                while (end > 0 && blank(pending_[end - 1])) --end;
            out.reasoning += pending_.substr(0, end);
            pending_.erase(0, end);
            if (final) pending_.clear();
            return out;
        }
        // Answer
        if (!answer_started_) {
            size_t i = 0;
            while (i < pending_.size() && blank(pending_[i])) ++i;
            pending_.erase(0, i);
            if (pending_.empty()) return out;
            answer_started_ = true;
        }
        out.content += pending_;
        pending_.clear();
        return out;
    }
}

}  // namespace rwkv
