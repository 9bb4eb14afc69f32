#include "tokenizer/added_tokens.h"

#include <utf8proc.h>

#include "tokenizer/utf8_internal.h"

namespace rwkv::tok {

namespace {

// Rust regex's \w: letters, marks, decimal digits, connector punctuation.
bool is_word_char(int32_t cp) {
    if (cp < 0) return false;
    if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') || cp == '_';
    switch (utf8proc_category(cp)) {
        case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
        case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
        case UTF8PROC_CATEGORY_PC:
            return true;
        default:
            return false;
    }
}

// Start of the character that ends at byte `end` (exclusive), stepping over continuation bytes.
size_t char_start_before(std::string_view s, size_t end) {
    size_t p = end - 1;
    while (p > 0 && end - p < 4 && (static_cast<unsigned char>(s[p]) & 0xC0) == 0x80) --p;
    return p;
}

int32_t char_before(std::string_view s, size_t end) {
    if (end == 0) return -1;
    int32_t cp;
    const size_t p = char_start_before(s, end);
    return utf8_next(s, p, cp) == end - p ? cp : -1;
}

int32_t char_at(std::string_view s, size_t i) {
    if (i >= s.size()) return -1;
    int32_t cp;
    utf8_next(s, i, cp);
    return cp;
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
    std::vector<std::pair<std::string, int32_t>> entries;
    for (size_t i = 0; i < tokens_.size(); ++i) entries.emplace_back(tokens_[i].content, static_cast<int32_t>(i));
    trie_ = ByteTrie(std::move(entries));
}

void AddedTokenMatcher::split(std::string_view text, std::vector<Piece>& out) const {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    size_t done = 0;  // text before this is already in `out`
    for (size_t i = 0; i < text.size();) {
        int32_t index = -1;
        const size_t len = tokens_.empty() ? 0 : trie_.longest_prefix(p + i, text.size() - i, &index);
        if (len == 0) {
            ++i;
            continue;
        }
        const AddedToken& tok = tokens_[index];
        size_t start = i, stop = i + len;
        i = stop;
        if (tok.single_word && (is_word_char(char_before(text, start)) || is_word_char(char_at(text, stop))))
            continue;
        if (tok.lstrip) {
            while (start > done) {
                const size_t prev = char_start_before(text, start);
                if (!is_unicode_space(char_before(text, start))) break;
                start = prev;
            }
        }
        if (tok.rstrip) {
            while (stop < text.size()) {
                int32_t cp;
                const size_t clen = utf8_next(text, stop, cp);
                if (!is_unicode_space(cp)) break;
                stop += clen;
            }
            i = stop;
        }
        if (done < start) out.push_back({text.substr(done, start - done), -1});
        out.push_back({text.substr(start, stop - start), tok.id});
        done = stop;
    }
    if (done < text.size()) out.push_back({text.substr(done), -1});
}

}  // namespace rwkv::tok
