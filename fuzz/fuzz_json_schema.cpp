// libFuzzer target: JSON schemas (a server's response_format and tool parameters come from any client) into
// grammars, and the matcher over them. Input: the schema, a NUL byte, then text. A schema the compiler cannot
// enforce must raise rwkv::Error; one it takes must give a grammar whose matcher, fed the text byte by byte (the
// "bytes" vocabulary: token = byte) while a byte is allowed, agrees with mask() at every step and with
// grammar_accepts() on what it read.
#include <cmath>
#include <cstring>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "rwkv/grammar.h"
#include "rwkv/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const char* begin = reinterpret_cast<const char*>(data);
    const char* nul = static_cast<const char*>(std::memchr(begin, 0, size));
    const std::string_view schema(begin, nul ? static_cast<size_t>(nul - begin) : size);
    const std::string_view text = nul ? std::string_view(nul + 1, size - schema.size() - 1) : std::string_view();
    static const std::unique_ptr<rwkv::Tokenizer> bytes = rwkv::load_tokenizer("bytes");
    static const auto trie = std::make_shared<const rwkv::TokenTrie>(*bytes);
    rwkv::fuzz::expect_rwkv_error([&] {
        const auto grammar = rwkv::json_schema_grammar(schema);
        rwkv::GrammarMatcher m(grammar, trie, bytes->eos_id());
        std::vector<float> logits(bytes->vocab_size());
        std::string read;
        for (char c : text.substr(0, 256)) {
            std::fill(logits.begin(), logits.end(), 0.0f);
            m.mask(logits.data(), logits.size());
            const auto t = static_cast<int32_t>(static_cast<uint8_t>(c));
            rwkv::fuzz::require(std::isinf(logits[static_cast<size_t>(t)]) != m.allows(t) || t == bytes->eos_id(),
                                "mask() and allows() disagree");
            if (t == bytes->eos_id() || !m.allows(t)) break;
            m.accept(t);
            read += c;
        }
        rwkv::fuzz::require(m.can_end() == rwkv::grammar_accepts(*grammar, read), "can_end() and grammar_accepts() disagree");
    });
    return 0;
}
