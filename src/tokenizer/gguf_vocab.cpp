// The World vocabulary as llama.cpp's converter embeds it in an RWKV GGUF file: tokenizer.ggml.model "rwkv",
// tokenizer.ggml.tokens holding each token as the body of its Python bytes repr (b'\xe4\xbd' -> "\xe4\xbd"),
// id 0 "<s>" (a control token: end-of-text) and "[PAD…]" entries (type unused) up to the embedding size.
#include <cstring>

#include "rwkv/error.h"
#include "rwkv/gguf.h"
#include "tokenizer/gguf_vocab.h"
#include "tokenizer/python_literal.h"
#include "tokenizer/tokenizers_internal.h"

namespace rwkv::tok {

namespace {

// gguf.TokenType values llama.cpp writes.
constexpr int32_t kTokenNormal = 1, kTokenControl = 3, kTokenUnused = 5;

// Undoes Python's bytes repr: the body is wrapped back in the quotes Python chose (it picks " only for bytes
// holding a ' and no ", so a body without " always parses inside b"...") and read as a bytes literal.
bool unescape_bytes_repr(std::string_view body, std::string& out, std::string& why) {
    const char quote = body.find('"') == std::string_view::npos ? '"' : '\'';
    std::string literal = "b";
    literal += quote;
    literal += body;
    literal += quote;
    return parse_python_literal(literal, out, why);
}

// Python's repr(bytes)[2:-1], as llama.cpp stores each token (it quotes with " when the token has a ' but
// no ", and then leaves the ' bare).
std::string bytes_repr_body(std::string_view b) {
    const bool dquote = b.find('\'') != std::string_view::npos && b.find('"') == std::string_view::npos;
    std::string out;
    for (const char ch : b) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\'' && !dquote) {
            out += "\\'";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c < 0x20 || c >= 0x7f) {
            static const char* digits = "0123456789abcdef";
            out += "\\x";
            out += digits[c >> 4];
            out += digits[c & 15];
        } else {
            out += ch;
        }
    }
    return out;
}

}  // namespace

std::vector<std::pair<std::string, GgufValue>> world_vocab_gguf_metadata(const Tokenizer& world) {
    if (world.kind() != "world") throw Error("only a World vocabulary can be embedded in GGUF, not " + world.kind());
    std::vector<std::string> tokens = {"<s>"};
    std::vector<int32_t> types = {kTokenControl};
    for (int32_t id = 1; id < static_cast<int32_t>(world.vocab_size()); ++id) {
        std::string bytes;
        try {
            bytes = world.decode_bytes({id});
        } catch (const Error&) {
            tokens.push_back("[PAD" + std::to_string(id) + "]");  // no token has this id
            types.push_back(kTokenUnused);
            continue;
        }
        tokens.push_back(bytes_repr_body(bytes));
        types.push_back(kTokenNormal);
    }
    return {{"tokenizer.ggml.model", GgufValue(std::string("rwkv"))},
            {"tokenizer.ggml.tokens", GgufValue::array(tokens)},
            {"tokenizer.ggml.token_type", GgufValue::array(types)}};
}

std::vector<std::pair<std::string, GgufValue>> tokenizer_gguf_metadata(const Tokenizer& tok) {
    if (tok.kind() == "world") return world_vocab_gguf_metadata(tok);
    if (tok.kind() == "bytes") return {{kBytesTokenizerKey, GgufValue(std::string("bytes"))}};
    throw Error("a " + tok.kind() + " tokenizer cannot be embedded in GGUF (World vocabularies and bytes can)");
}

std::unique_ptr<Tokenizer> load_gguf_tokenizer(const std::string& path) {
    const GgufFile f = open_gguf(path);
    if (const GgufValue* marker = f.find(kBytesTokenizerKey)) {
        const std::string kind = marker->to_string();
        if (kind != "bytes") throw Error(path + ": " + kBytesTokenizerKey + " is '" + kind + "'; only \"bytes\" is known");
        return load_tokenizer("bytes");
    }
    const GgufValue* model = f.find("tokenizer.ggml.model");
    if (!model) return nullptr;
    const std::string kind = model->to_string();
    if (kind != "rwkv")
        throw Error(path + ": embedded tokenizer of kind '" + kind +
                    "' is not supported (only llama.cpp's RWKV World vocabulary, \"rwkv\"); pass --tokenizer FILE");
    const GgufValue& tokens = f.value("tokenizer.ggml.tokens");
    if (!tokens.is_array() || tokens.array_type() != GgufType::String)
        throw Error(path + ": tokenizer.ggml.tokens is not an array of strings");
    std::vector<int32_t> types;
    if (f.has("tokenizer.ggml.token_type")) {
        types = f.get_array<int32_t>("tokenizer.ggml.token_type");
        if (types.size() != tokens.array_size())
            throw Error(path + ": tokenizer.ggml.token_type has " + std::to_string(types.size()) +
                        " entries for " + std::to_string(tokens.array_size()) + " tokens");
    }
    std::vector<std::pair<std::string, int32_t>> entries;
    entries.reserve(tokens.array_size());
    for (uint64_t id = 1; id < tokens.array_size(); ++id) {
        if (!types.empty() && types[id] != kTokenNormal) continue;  // padding rows of the embedding
        std::string bytes, why;
        if (!unescape_bytes_repr(tokens.string_at(id), bytes, why))
            throw Error(path + ": tokenizer.ggml.tokens[" + std::to_string(id) + "]: " + why);
        entries.emplace_back(std::move(bytes), static_cast<int32_t>(id));
    }
    std::vector<int32_t> ids;  // entries are moved into the tokenizer; errors still need their ids
    for (const auto& e : entries) ids.push_back(e.second);
    return make_world_tokenizer(path + " (embedded vocabulary)", std::move(entries), [&](size_t i) {
        return path + ": tokenizer.ggml.tokens[" + std::to_string(ids[i]) + "]";
    });
}

}  // namespace rwkv::tok
