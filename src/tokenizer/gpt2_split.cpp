#include "tokenizer/gpt2_split.h"

#include <cstdint>
#include <utf8proc.h>

#include "tokenizer/utf8_internal.h"

namespace rwkv::tok {

namespace {

enum class Cls : uint8_t { Letter, Number, Space, Other };

Cls classify(int32_t cp) {
    if (cp < 0) return Cls::Other;
    if (cp < 0x80) {
        if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) return Cls::Letter;
        if (cp >= '0' && cp <= '9') return Cls::Number;
        return is_unicode_space(cp) ? Cls::Space : Cls::Other;
    }
    if (is_unicode_space(cp)) return Cls::Space;
    switch (utf8proc_category(cp)) {
        case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
            return Cls::Letter;
        case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
            return Cls::Number;
        default:
            return Cls::Other;
    }
}

struct Char {
    uint32_t pos;  // byte offset in the text
    int32_t cp;    // -1 for an invalid byte sequence
    Cls cls;
};

// Length in characters of a contraction ('s 't 're 've 'm 'll 'd) starting at c[i], or 0.
size_t contraction_at(const std::vector<Char>& c, size_t i) {
    if (c[i].cp != '\'' || i + 1 >= c.size()) return 0;
    const int32_t a = c[i + 1].cp;
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (i + 2 >= c.size()) return 0;
    const int32_t b = c[i + 2].cp;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

}  // namespace

void gpt2_split(std::string_view text, std::vector<std::string_view>& pieces) {
    std::vector<Char> c;
    c.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        int32_t cp;
        const size_t len = utf8_next(text, i, cp);
        c.push_back({static_cast<uint32_t>(i), cp, classify(cp)});
        i += len;
    }
    const size_t n = c.size();
    const auto pos = [&](size_t k) { return k < n ? c[k].pos : text.size(); };
    const auto emit = [&](size_t from, size_t to) { pieces.push_back(text.substr(pos(from), pos(to) - pos(from))); };

    for (size_t i = 0; i < n;) {
        if (const size_t k = contraction_at(c, i)) {
            emit(i, i + k);
            i += k;
            continue;
        }
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional ASCII space, then a run of one
        // class. A space is itself Space, so the run's class is that of the next character.
        const size_t start = (c[i].cp == ' ' && i + 1 < n && c[i + 1].cls != Cls::Space) ? i + 1 : i;
        const Cls cls = c[start].cls;
        if (cls != Cls::Space) {
            size_t j = start + 1;
            while (j < n && c[j].cls == cls) ++j;
            emit(i, j);
            i = j;
            continue;
        }
        // `\s+(?!\S)` then `\s+`: a run of white space, less its last character when a
        // non-space follows (that one joins the next piece, e.g. " word"); a single white
        // space before a non-space stands alone.
        size_t j = i + 1;
        while (j < n && c[j].cls == Cls::Space) ++j;
        if (j < n && j - i >= 2) --j;
        emit(i, j);
        i = j;
    }
}

}  // namespace rwkv::tok
