// Choosing and loading a tokenizer; behaviour common to every kind.
#include <unistd.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "core/file_util.h"
#include "rwkv/error.h"
#include "rwkv/tokenizer.h"
#include "tokenizer/tokenizers_internal.h"

namespace rwkv {

namespace {

// The files looked for beside a model, in order of preference. The one place that lists them.
constexpr std::array<const char*, 3> kTokenizerFilesBesideModel = {
    "rwkv_vocab_v20230424.txt",
    "tokenizer.json",
    "20B_tokenizer.json",
};

bool ends_with_json(const std::string& path) {
    const std::string ext = std::filesystem::path(path).extension().string();
    if (ext.size() != 5) return false;
    std::string lower;
    for (char c : ext) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    return lower == ".json";
}

bool is_gguf(const std::string& path) {
    size_t size = 0;
    const int fd = open_regular_file(path, size);
    char magic[4] = {};
    const bool gguf = size >= 4 && ::read(fd, magic, 4) == 4 && std::memcmp(magic, "GGUF", 4) == 0;
    ::close(fd);
    return gguf;
}

}  // namespace

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const { return utf8_sanitize(decode_bytes(ids)); }

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& spec) {
    if (spec.empty()) throw Error("tokenizer: empty spec; pass a World vocab .txt, a tokenizer.json or \"bytes\"");
    if (spec == "bytes") return tok::make_bytes_tokenizer();
    std::error_code ec;
    if (!std::filesystem::exists(spec, ec)) throw Error(spec + ": tokenizer file does not exist");
    if (std::filesystem::is_directory(spec, ec)) throw Error(spec + ": is a directory, not a tokenizer file");
    if (ends_with_json(spec)) return tok::load_neox_tokenizer(spec);
    return tok::load_world_tokenizer(spec);
}

void check_covers(const Tokenizer& tok, int64_t n_vocab) {
    if (n_vocab > static_cast<int64_t>(tok.vocab_size()))
        throw Error("the " + tok.kind() + " tokenizer has " + std::to_string(tok.vocab_size()) +
                    " ids but the model outputs " + std::to_string(n_vocab) +
                    ": a truncated vocabulary, or one made for another model (pass the model's own with --tokenizer)");
}

std::unique_ptr<Tokenizer> find_tokenizer(const std::string& model_path, const std::string& explicit_spec) {
    if (!explicit_spec.empty()) return load_tokenizer(explicit_spec);
    std::error_code ec;
    // A model given as its directory (a Hugging Face download) keeps its tokenizer inside.
    std::filesystem::path dir = std::filesystem::is_directory(model_path, ec) ? std::filesystem::path(model_path)
                                                                               : std::filesystem::path(model_path).parent_path();
    if (dir.empty()) dir = ".";
    for (const char* name : kTokenizerFilesBesideModel) {
        const std::filesystem::path candidate = dir / name;
        if (std::filesystem::is_regular_file(candidate, ec)) return load_tokenizer(candidate.string());
    }
    if (is_gguf(model_path))
        if (auto embedded = tok::load_gguf_tokenizer(model_path)) return embedded;
    throw Error(model_path +
                ": no tokenizer found beside the model; pass --tokenizer FILE (a World vocab .txt or a "
                "tokenizer.json) or --tokenizer bytes");
}

}  // namespace rwkv
