#include "tokenizer/unicode_norm.h"

#include <cstdlib>
#include <utf8proc.h>

#include "tokenizer/utf8_internal.h"

namespace rwkv::tok {

namespace {

int utf8proc_options(NormForm form) {
    switch (form) {
        case NormForm::NFC: return UTF8PROC_STABLE | UTF8PROC_COMPOSE;
        case NormForm::NFD: return UTF8PROC_STABLE | UTF8PROC_DECOMPOSE;
        case NormForm::NFKC: return UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
        case NormForm::NFKD: return UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
        case NormForm::None: break;
    }
    return 0;
}

// Normalizes one stretch of valid UTF-8; ASCII is already in every form.
void append_normalized(std::string& out, std::string_view run, int options, bool ascii) {
    if (ascii || run.empty()) {
        out += run;
        return;
    }
    utf8proc_uint8_t* result = nullptr;
    const utf8proc_ssize_t len = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(run.data()),
                                              static_cast<utf8proc_ssize_t>(run.size()), &result,
                                              static_cast<utf8proc_option_t>(options));
    if (len >= 0 && result)
        out.append(reinterpret_cast<const char*>(result), static_cast<size_t>(len));
    else
        out += run;  // cannot happen for valid UTF-8; keeping the text beats losing it
    std::free(result);
}

}  // namespace

std::string normalize(std::string_view text, NormForm form) {
    if (form == NormForm::None) return std::string(text);
    const int options = utf8proc_options(form);
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
