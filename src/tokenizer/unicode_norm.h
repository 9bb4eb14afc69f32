#pragma once
// Unicode normalization for tokenizer.json "normalizer" settings.
#include <string>
#include <string_view>

namespace rwkv::tok {

enum class NormForm { None, NFC, NFD, NFKC, NFKD };

// `text` in the given form. Invalid UTF-8 bytes are kept as they are (they cut the text into
// stretches normalized on their own), so byte-level BPE can still encode them.
std::string normalize(std::string_view text, NormForm form);

}  // namespace rwkv::tok
