#include "rwkv/stop.h"

#include <algorithm>
#include <utility>

namespace rwkv {

StopMatcher::StopMatcher(std::vector<std::string> stop_strings) : stops_(std::move(stop_strings)) {
    std::erase_if(stops_, [](const std::string& s) { return s.empty(); });
}

std::string StopMatcher::push(std::string_view piece) {
    if (stopped_) return {};
    pending_.append(piece);

    // Everything emitted earlier was proven not to start a stop string, so a match can only lie
    // inside pending_. Pick the one that ends first (the one a token-by-token stream would have
    // hit first), the longest among those ending together.
    size_t best_end = std::string::npos;
    const std::string* best = nullptr;
    for (const std::string& s : stops_) {
        const size_t pos = pending_.find(s);
        if (pos == std::string::npos) continue;
        const size_t end = pos + s.size();
        if (end < best_end || (end == best_end && s.size() > best->size())) {
            best_end = end;
            best = &s;
        }
    }
    if (best != nullptr) {
        std::string out = pending_.substr(0, best_end - best->size());
        matched_ = *best;
        stopped_ = true;
        pending_.clear();
        return out;
    }

    const size_t keep = held_length();
    std::string out = pending_.substr(0, pending_.size() - keep);
    pending_.erase(0, pending_.size() - keep);
    return out;
}

size_t StopMatcher::held_length() const {
    // The longest suffix of pending_ that a later piece could still complete into a stop string.
    size_t best = 0;
    for (const std::string& s : stops_) {
        for (size_t len = std::min(s.size() - 1, pending_.size()); len > best; --len) {
            if (std::string_view(pending_).substr(pending_.size() - len) ==
                std::string_view(s).substr(0, len)) {
                best = len;
                break;
            }
        }
    }
    return best;
}

std::string StopMatcher::flush() {
    std::string out = std::move(pending_);
    pending_.clear();
    return out;
}

void StopMatcher::reset() {
    pending_.clear();
    matched_.clear();
    stopped_ = false;
}

}  // namespace rwkv
