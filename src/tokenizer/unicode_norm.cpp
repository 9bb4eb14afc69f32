#include "tokenizer/unicode_norm.h"

#include <cstdint>
#include <utf8proc.h>
#include <vector>

#include "tokenizer/utf8_internal.h"

namespace rwkv::tok {

namespace {

utf8proc_option_t utf8proc_options(NormForm form) {
    int o = 0;
    switch (form) {
        case NormForm::NFC: o = UTF8PROC_STABLE | UTF8PROC_COMPOSE; break;
        case NormForm::NFD: o = UTF8PROC_STABLE | UTF8PROC_DECOMPOSE; break;
        case NormForm::NFKC: o = UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
        case NormForm::NFKD: o = UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
        case NormForm::None: break;
    }
    return static_cast<utf8proc_option_t>(o);
}

int combining_class(int32_t cp) { return utf8proc_get_property(cp)->combining_class; }

// Canonical ordering: each run of non-starters sorted by combining class, stably, by counting. utf8proc's
// own ordering (inside utf8proc_decompose) is a bubble sort, quadratic in a run's length, and a hostile
// text can be one run of a million combining marks.
void canonical_order(std::vector<int32_t>& cps) {
    std::vector<int32_t> sorted;
    std::vector<uint32_t> start(257);
    for (size_t i = 0; i < cps.size();) {
        if (combining_class(cps[i]) == 0) {
            ++i;
            continue;
        }
        size_t end = i;
        std::fill(start.begin(), start.end(), 0u);
        for (; end < cps.size(); ++end) {
            const int c = combining_class(cps[end]);
            if (c == 0) break;
            ++start[static_cast<size_t>(c) + 1];
        }
        for (size_t c = 1; c < start.size(); ++c) start[c] += start[c - 1];
        sorted.resize(end - i);
        for (size_t j = i; j < end; ++j) sorted[start[static_cast<size_t>(combining_class(cps[j]))]++] = cps[j];
        std::copy(sorted.begin(), sorted.end(), cps.begin() + static_cast<std::ptrdiff_t>(i));
        i = end;
    }
}

// Normalizes one stretch of valid UTF-8 as utf8proc_map would, in time linear in its length: each code
// point decomposed on its own, the marks put in canonical order here, then utf8proc's composition (linear).
void append_normalized(std::string& out, std::string_view run, utf8proc_option_t options, bool ascii) {
    if (ascii || run.empty()) {  // ASCII is already in every form
        out += run;
        return;
    }
    std::vector<int32_t> cps;
    cps.reserve(run.size());
    constexpr utf8proc_ssize_t kRoom = 32;  // longer than any decomposition (18 code points at most)
    for (size_t i = 0; i < run.size();) {
        int32_t cp;
        i += utf8_next(run, i, cp);
        const size_t at = cps.size();
        cps.resize(at + kRoom);
        int boundclass = 0;
        const utf8proc_ssize_t n = utf8proc_decompose_char(cp, cps.data() + at, kRoom, options, &boundclass);
        cps.resize(n >= 0 && n <= kRoom ? at + static_cast<size_t>(n) : at);
        if (n < 0 || n > kRoom) cps.push_back(cp);  // cannot happen for a valid code point; keep it as it is
    }
    canonical_order(cps);
    const utf8proc_ssize_t n = utf8proc_normalize_utf32(cps.data(), static_cast<utf8proc_ssize_t>(cps.size()), options);
    const size_t len = n >= 0 ? static_cast<size_t>(n) : cps.size();
    for (size_t i = 0; i < len; ++i) utf8_append(out, static_cast<uint32_t>(cps[i]));
}

}  // namespace

std::string normalize(std::string_view text, NormForm form) {
    if (form == NormForm::None) return std::string(text);
    const utf8proc_option_t options = utf8proc_options(form);
    std::string out;
    out.reserve(text.size());
    size_t run_start = 0;
    bool ascii = true;
    for (size_t i = 0; i < text.size();) {
        int32_t cp;
        const size_t len = utf8_next(text, i, cp);
        if (cp < 0) {
            append_normalized(out, text.substr(run_start, i - run_start), options, ascii);
            out.append(text.data() + i, len);
            run_start = i + len;
            ascii = true;
        } else if (cp >= 0x80) {
            ascii = false;
        }
        i += len;
    }
    append_normalized(out, text.substr(run_start), options, ascii);
    return out;
}

}  // namespace rwkv::tok
